#!/usr/bin/env bats
# The admin commands: cgiguard --list (the requests shielded now, key=value lines) and
# cgiguard --drain[=DURATION] (wait until none is left in the caller's cgroup; 0, or 124).
# Other suites may shield requests on this machine at the same time: --list checks look only
# at the keepers a test started, and every --drain runs in a cgroup of its own.

load helpers

setup() {
	common_setup
	CGDIR=
}

teardown() {
	common_teardown
	if [[ -n ${CGDIR:-} ]]; then
		poll 5 rmdir "$CGDIR" || echo "teardown: cgroup $CGDIR not removed" >&2
	fi
}

# own_cgroup: a fresh cgroup v2 group for the test: CGDIR (its directory), CGROUP (its path
# as /proc/PID/cgroup shows it), and $T/incg CMD...: run CMD inside it.
function own_cgroup() {
	local mnt
	requires root
	mnt=$(findmnt -n -o TARGET -t cgroup2 2>/dev/null | head -n1)
	[[ -n $mnt && -w $mnt/cgroup.procs ]] || skip "no writable cgroup v2 hierarchy"
	CGROUP=/cgiguard-test-$$-$BATS_TEST_NUMBER
	mkdir "$mnt$CGROUP" || skip "cannot make a cgroup under $mnt"
	CGDIR=$mnt$CGROUP
	cat >"$T/incg" <<-EOF
		#!/bin/sh
		echo \$\$ >"$CGDIR/cgroup.procs" || exit 125
		exec "\$@"
	EOF
	chmod +x "$T/incg"
	[[ $("$T/incg" cat /proc/self/cgroup | sed -n 's/^0:://p') == "$CGROUP" ]] ||
		skip "the cgroup v2 paths here are not as the mount shows them"
}

# keeper_line PID: the --list line of the keeper PID (empty if none).
function keeper_line() {
	cg --list | grep "^pid=$1 " || true
}
function listed() { [[ -n $(keeper_line "$1") ]]; }

# The format of every field; a test fills in what it knows.
AGE='[0-9]+\.[0-9]{2}s'

@test "--list: a running request: pid (the keeper), user, script, state, age, left to --timeout, pgid, cgroup" {
	start_front run -- "$CGIGUARD" -t 20 -g 5 "$PROBE" run=30
	wait_probe
	poll 5 listed "$CGI_PPID"
	local line re
	line=$(keeper_line "$CGI_PPID")
	# left= counts down from 20 s: 19.xx by now, or 20.00 within its first centisecond, a
	# timing the test cannot control.
	re="^pid=$CGI_PPID user=root script=$PROBE state=running age=$AGE left=(19|20)\.[0-9]{2}s pgid=$CGI_PGID cgroup=/.*$"
	[[ $line =~ $re ]] || fail "line: $line"
	[[ $CGI_PGID == "$CGI_PID" ]]
	[[ ${line##* cgroup=} == "$(sed -n 's/^0:://p' "/proc/$CGI_PPID/cgroup")" ]] || fail "line: $line"
}

@test "--list: no --timeout: left=none; a relative program is shown by its absolute path" {
	make_sleep
	(cd "$T" && start_front rel -- "$CGIGUARD" ./sleep 30)
	FRONT_PID=$(<"$T/rel.pid")
	track "$FRONT_PID"
	local k
	poll 5 eval 'cg --list | grep -qF " script=$T/./sleep "'
	k=$(cg --list | grep -F " script=$T/./sleep " | cut -d' ' -f1)
	k=${k#pid=}
	track "$k"
	[[ $(keeper_line "$k") =~ ^pid=$k\ user=root\ script=$T/\./sleep\ state=running\ age=$AGE\ left=none\  ]] ||
		fail "line: $(keeper_line "$k")"
}

@test "--list: an abandoned request: state=abandoned, left counts down the --grace" {
	start_front ab -- "$CGIGUARD" -g 20 "$PROBE" run=30
	wait_probe
	kill -TERM "$FRONT_PID"
	wait_status ab
	expect_end "exit 143"
	poll 5 eval '[[ $(keeper_line "$CGI_PPID") == *" state=abandoned "* ]]'
	local line re
	line=$(keeper_line "$CGI_PPID")
	re="^pid=$CGI_PPID user=root script=$PROBE state=abandoned age=$AGE left=1[0-9]\.[0-9]{2}s pgid=$CGI_PGID cgroup=/"
	[[ $line =~ $re ]] || fail "line: $line"
}

@test "--list: a response that ended with the CGI still at work: state=ended, left counts down the --grace" {
	make_sleep
	cat >"$T/closeout.cgi" <<-EOF
		#!/bin/sh
		printf 'Content-Type: text/plain\n\nbye\n'
		exec >&- 2>&-
		echo "\$\$ \$PPID" >"$T/closeout.id"
		exec "$T/sleep" 30
	EOF
	chmod +x "$T/closeout.cgi"
	start_front end -- "$CGIGUARD" -g 20 "$T/closeout.cgi"
	wait_status end
	expect_end "exit 0"
	local cgi k line re
	read -r cgi k <"$T/closeout.id"
	track "$cgi" "$k"
	line=$(keeper_line "$k")
	re="^pid=$k user=root script=$T/closeout.cgi state=ended age=$AGE left=1[0-9]\.[0-9]{2}s pgid=$cgi cgroup=/"
	[[ $line =~ $re ]] || fail "line: $line"
}

@test "--list: root sees every user's requests, a user only its own" {
	requires root
	cgi_user
	make_pubdir
	install -d -o "$CGI_USER" -m 0755 "$PUB/u"
	install -m 0755 "$PROBE" "$PUB/u/probe.cgi"
	start_front mine -- "$CGIGUARD" -g 5 "$PROBE" run=30
	wait_probe
	local root_k=$CGI_PPID
	start_front theirs -- "${AS_USER[@]}" "$CGIGUARD" -g 5 "$PUB/u/probe.cgi" run=30
	wait_file "$PUB/u/probe.id" 5
	read -r CGI_PID CGI_PPID CGI_PGID CGI_SID <"$PUB/u/probe.id"
	track "$CGI_PID" "$CGI_PPID"
	track_session "$CGI_SID"
	local user_k=$CGI_PPID
	poll 5 listed "$user_k"
	poll 5 listed "$root_k"
	[[ $(keeper_line "$user_k") == "pid=$user_k user=$CGI_USER script=$PUB/u/probe.cgi state=running "* ]] ||
		fail "root's view: $(keeper_line "$user_k")"
	run --separate-stderr as_user "$CGIGUARD" --list 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $output == *"pid=$user_k user=$CGI_USER "* ]] || fail "the user's view lacks its own: $output"
	[[ $output != *"pid=$root_k "* ]] || fail "the user sees root's request: $output"
	local line
	while IFS= read -r line; do
		[[ $line == *" user=$CGI_USER "* ]] || fail "the user sees another user's request: $line"
	done <<<"$output"
}

@test "--list: exit 0 and only well-formed lines; forged marks: a malformed one is skipped, a well-formed one is listed and never signalled" {
	make_sleep
	local good='cgiguard: keeper state=running start=0 deadline=0 pgid=1 script=/forged/good'
	local bad
	for bad in 'cgiguard: keeper state=bogus start=0 deadline=0 pgid=1 script=/forged/bad' \
		'cgiguard: keeper state=running start=-1 deadline=0 pgid=1 script=/forged/bad' \
		'cgiguard: keeper state=running start=0 deadline=0 pgid=0 script=/forged/bad' \
		'cgiguard: keeper state=running start=0 deadline=0 pgid=1 script=' \
		'cgiguard: keeper state=running start=0  deadline=0 pgid=1 script=/forged/bad'; do
		bash -c 'exec -a "$1" "$2" 30' forge "$bad" "$T/sleep" </dev/null >/dev/null 2>&1 3>&- &
		track $!
	done
	bash -c 'exec -a "$1" "$2" 30' forge "$good" "$T/sleep" </dev/null >/dev/null 2>&1 3>&- &
	local forger=$!
	track "$forger"
	poll 5 eval '[[ $(tr "\0" "\n" </proc/$forger/cmdline | head -n1) == "$good" ]]'
	run --separate-stderr "$CGIGUARD" --list 3>&-
	[[ $status -eq 0 && -z $stderr ]] || fail "status $status: $stderr"
	[[ $output != *"/forged/bad"* && $output != *"script= "* ]] || fail "a malformed mark was listed: $output"
	[[ $output == *"pid=$forger user=root script=/forged/good state=running "*" left=none pgid=1 cgroup="* ]] ||
		fail "the forged mark: $output"
	local line re="^pid=[0-9]+ user=[^ ]+ script=[^ ]+ state=(running|ended|abandoned|killed) age=$AGE left=($AGE|none) pgid=[0-9]+ cgroup=[^ ]+$"
	while IFS= read -r line; do
		[[ -z $line || $line =~ $re ]] || fail "malformed line: $line"
	done <<<"$output"
	[[ $(pstate "$forger") == S ]] || fail "the forger is in state $(pstate "$forger")"
}

@test "--drain: nothing shielded in its cgroup: exit 0 at once, though a request is shielded elsewhere" {
	own_cgroup
	start_front out -- "$CGIGUARD" -g 5 "$PROBE" run=30
	wait_probe
	poll 5 listed "$CGI_PPID"
	local t0
	now_us
	t0=$REPLY
	run --separate-stderr "$T/incg" "$CGIGUARD" --drain 3>&-
	elapsed_ms "$t0"
	[[ $status -eq 0 && -z $stderr ]] || fail "status $status: $stderr"
	((REPLY < 2000)) || fail "took $REPLY ms"
}

@test "--drain: waits until the abandoned CGI in its cgroup has finished, then exits 0" {
	own_cgroup
	start_front ab -- "$T/incg" "$CGIGUARD" -g 20 "$PROBE" run=2
	wait_probe
	kill -TERM "$FRONT_PID"
	wait_status ab
	expect_end "exit 143"
	[[ ! -e $T/probe.done ]] || fail "the probe finished before the drain started"
	run --separate-stderr "$T/incg" "$CGIGUARD" --drain=15s 3>&-
	[[ $status -eq 0 && -z $stderr ]] || fail "status $status: $stderr"
	[[ -e $T/probe.done ]] || fail "the drain ended before the CGI"
	# The keeper has ended; whether its reaper has reaped it yet is a race the test cannot control.
	not_alive "$CGI_PPID" || fail "the keeper is still there"
	expect_signals "CONT TERM"
}

# drain_timed DURATION: cgiguard --drain=DURATION in the test's cgroup, run by bats' run;
# REPLY is how long it took, in ms.
function drain_timed() {
	local t0
	now_us
	t0=$REPLY
	run --separate-stderr "$T/incg" "$CGIGUARD" --drain="$1" 3>&-
	elapsed_ms "$t0"
}

@test "--drain=1s: a CGI that needs longer: exit 124 at 1 s, naming it, and the CGI runs on" {
	own_cgroup
	start_front long -- "$T/incg" "$CGIGUARD" -g 30 "$PROBE" run=30
	wait_probe
	poll 5 listed "$CGI_PPID"
	drain_timed 1s
	[[ $status -eq 124 ]] || fail "status $status: $stderr"
	((REPLY >= 1000)) || fail "ended after $REPLY ms, before its DURATION"
	((REPLY < 3000)) || fail "ended after $REPLY ms"
	local re="^cgiguard: still shielded: pid=$CGI_PPID user=root script=$PROBE state=running age=$AGE left=none pgid=$CGI_PGID cgroup=$CGROUP$"
	[[ $stderr =~ $re ]] || fail "stderr: $stderr"
	[[ -z $output ]] || fail "stdout: $output"
	alive "$CGI_PID" || fail "the CGI was touched: it is in state '$(pstate "$CGI_PID")'"
	expect_signals ""
}

@test "--drain=500ms: a forged mark in its cgroup only makes it wait its DURATION; nothing is signalled" {
	own_cgroup
	make_sleep
	"$T/incg" bash -c 'exec -a "$1" "$2" 30' forge \
		"cgiguard: keeper state=abandoned start=0 deadline=1 pgid=$$ script=/forged" "$T/sleep" \
		</dev/null >/dev/null 2>&1 3>&- &
	local forger=$!
	track "$forger"
	poll 5 eval 'tr "\0" "\n" </proc/$forger/cmdline | grep -q "^cgiguard: keeper"'
	drain_timed 500ms
	[[ $status -eq 124 ]] || fail "status $status: $stderr"
	((REPLY >= 500 && REPLY < 2500)) || fail "ended after $REPLY ms"
	[[ $stderr == "cgiguard: still shielded: pid=$forger user=root script=/forged state=abandoned "* ]] ||
		fail "stderr: $stderr"
	[[ $(pstate "$forger") == S ]] || fail "the forger is in state $(pstate "$forger")"
}

@test "--list and --drain without /proc (a chroot, a container): 125 and one line, never an empty list" {
	requires proc-hiding
	local cmd
	for cmd in --list --drain=1s; do
		run --separate-stderr hide_proc "$CGIGUARD" "$cmd" 3>&-
		[[ $status -eq 125 && -z $output ]] || fail "$cmd: status $status: $stderr; stdout: $output"
		[[ $(own_stderr) == "cgiguard: no /proc here: no request can be seen" ]] ||
			fail "$cmd: stderr: $stderr"
	done
}

@test "--list and --drain take no program and no other option: 125 and one line" {
	local args want
	while IFS='|' read -r args want; do
		# shellcheck disable=SC2086
		run --separate-stderr "$CGIGUARD" $args 3>&-
		[[ $status -eq 125 ]] || fail "$args: status $status: $stderr"
		[[ $stderr == "$want" ]] || fail "$args: stderr: $stderr
want:   $want"
		[[ -z $output ]] || fail "$args: stdout: $output"
	done <<-'EOF'
		--list /bin/true|cgiguard: '--list' takes no program and no other option (see cgiguard --help)
		--drain --list|cgiguard: '--drain' takes no program and no other option (see cgiguard --help)
		--drain=1s /bin/true|cgiguard: '--drain=1s' takes no program and no other option (see cgiguard --help)
		--drain=soon|cgiguard: --drain: invalid duration 'soon'
		-g 1 --list|cgiguard: '--list' is an admin command: only alone on the command line, outside CGI context
		--verbose --drain=1s|cgiguard: '--drain' is an admin command: only alone on the command line, outside CGI context
		--list=1|cgiguard: '--list' is an admin command: only alone on the command line, outside CGI context
	EOF
}

@test "in CGI context --list and --drain are never honoured: not on the command line, not from a #! line" {
	cat >"$T/list.cgi" <<-EOF
		#!$CGIGUARD --list /bin/sh
		echo ran
	EOF
	chmod +x "$T/list.cgi"
	local want="cgiguard: '--list' is an admin command: only alone on the command line, outside CGI context"
	run --separate-stderr env GATEWAY_INTERFACE=CGI/1.1 "$CGIGUARD" --list 3>&-
	refused 125 "$want"
	run --separate-stderr env GATEWAY_INTERFACE=CGI/1.1 "$CGIGUARD" --drain=1s 3>&-
	[[ $status -eq 125 && $stderr == "${want//list/drain}" ]] || fail "status $status: $stderr"
	run --separate-stderr "$T/list.cgi" 3>&-
	[[ $status -eq 125 && $stderr == "$want" && $output != *ran* ]] || fail "status $status: $stderr; $output"
	run --separate-stderr env GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$T/list.cgi" "$T/list.cgi" 3>&-
	[[ $status -eq 125 && $stderr == "$want" && $output != *ran* ]] || fail "status $status: $stderr; $output"
}

# dropin_of UNIT: the drop-in the README shows for UNIT.
function dropin_of() {
	local f=/etc/systemd/system/$1.service.d/cgiguard.conf
	DROPIN=$(awk -v f="$f:" '$0 == f { on = 1; next } on && /^```ini$/ { inblock = 1; next }
		inblock && /^```$/ { exit } inblock { print }' "$BATS_TEST_DIRNAME/../README.md")
	[[ -n $DROPIN ]] || fail "no drop-in for $1 in README.md"
}

@test "the README's systemd drop-ins: the drain is the last stop command, with room to run; systemd-analyze verify accepts and reads them" {
	local unit stock out base
	for unit in apache2 lighttpd; do
		dropin_of "$unit"
		[[ $(grep '^ExecStop=.' <<<"$DROPIN" | tail -n1) == *" || exec /usr/local/bin/cgiguard --drain=35s'" ]] ||
			fail "$unit: the drain is not the last stop command: $DROPIN"
		[[ $DROPIN == *$'\n'TimeoutStopSec=4[0-9]s* ]] || fail "$unit: no room for the drain: $DROPIN"
	done
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze (apt-get install systemd)"
	for unit in apache2 lighttpd; do
		stock=/lib/systemd/system/$unit.service
		[[ -r $stock ]] || skip "no $stock to verify the drop-in against"
		dropin_of "$unit"
		mkdir -p "$T/units/$unit.service.d"
		cp "$stock" "$T/units/"
		base=$(SYSTEMD_UNIT_PATH=$T/units: systemd-analyze verify "$T/units/$unit.service" 2>&1) ||
			skip "systemd-analyze verify fails on the stock $unit.service here: $base"
		# The installed path, as verify checks that each command exists.
		echo "${DROPIN//\/usr\/local\/bin\/cgiguard/$CGIGUARD}" >"$T/units/$unit.service.d/cgiguard.conf"
		run --separate-stderr env SYSTEMD_UNIT_PATH="$T/units:" systemd-analyze verify "$T/units/$unit.service"
		[[ $status -eq 0 && "$output$stderr" == "$base" ]] || fail "$unit: status $status: $output $stderr"
		# ... and it does read the drop-in: a first stop command that does not exist is
		# reported (verify looks only at the first command of each kind).
		sed -e "0,/^ExecStop=\\//s|^ExecStop=/[^ ]*|ExecStop=$T/nonexistent|" <<<"$DROPIN" \
			>"$T/units/$unit.service.d/cgiguard.conf"
		run --separate-stderr env SYSTEMD_UNIT_PATH="$T/units:" systemd-analyze verify "$T/units/$unit.service"
		[[ $status -ne 0 && $stderr == *"$T/nonexistent"* ]] || fail "$unit: the drop-in was not read: $status $stderr"
	done
}
