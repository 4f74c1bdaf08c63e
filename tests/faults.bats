#!/usr/bin/env bats
# Faults, in the style of coreutils' write-error suites: cgiguard started with fd 0, 1 or 2
# closed; with stdout or stderr on /dev/full; with few descriptors (RLIMIT_NOFILE 3..8); with no
# process to spare (RLIMIT_NPROC reached at the keeper's fork, then at the CGI's spawn); under a
# parent that blocks or ignores SIGCHLD, SIGTERM and SIGALRM; with a log it cannot open.
# Each case ends either in one `cgiguard: ...` line on stderr and a documented status, or in a
# working request; never with the CGI's output in the log, never with a process left behind.

load helpers

setup() {
	common_setup
	# The CGI's name is its comm: a zombie is found by it (15 bytes at most).
	NAME=flt$BASHPID
	BODY=body-$BASHPID
	CGI=$T/$NAME.cgi
	write_cgi "$CGI"
	IDS=$T/ids
}

teardown() {
	common_teardown
}

# write_cgi PATH: a CGI of shell builtins only (it must run with no process to spare):
# [DIR [fork]]: records "pid ppid" in DIR/ids when given DIR, prints its pid, umask,
# RLIMIT_NOFILE, nice, two variables and (with fork) whether it could fork, one line on
# stderr, and exits 3.
function write_cgi() {
	cat >"$1" <<EOF
#!/bin/sh
dir=\$1 try=\$2
if [ -n "\$dir" ]; then echo "\$\$ \$PPID" >"\$dir/ids"; fi
echo "Content-Type: text/plain"
echo
echo "$BODY pid=\$\$"
printf 'umask='; umask
printf 'nofile='; ulimit -n
read -r stat </proc/self/stat; set -- \$stat; echo "nice=\${19}"
echo "proxy=\${HTTP_PROXY-unset} mark=\${FAULTS_MARK-unset}"
# A failed fork ends the shell (status 2): tried only when asked.
if [ "\$try" = fork ]; then ( : ; exit 0 ); echo fork=ok; else echo fork=untried; fi
echo "$BODY end"
echo "cgi says this on stderr" >&2
exit 3
EOF
	chmod 0755 "$1"
}

# body_ok FILE: FILE holds the CGI's whole response.
function body_ok() {
	local -a l
	mapfile -t l <"$1"
	[[ ${#l[@]} -eq 9 && ${l[0]} == "Content-Type: text/plain" && ${l[2]} == "$BODY pid="* &&
		${l[8]} == "$BODY end" ]]
}

# no_body FILE...: none of FILE holds the CGI's output (stderr and logs are not for it).
function no_body() {
	local f
	for f in "$@"; do
		[[ -e $f ]] || continue
		! grep -q -e "$BODY" -e '^Content-Type' "$f" || fail "the CGI's output is in $f:
$(cat "$f")"
	done
}

# errors FILE: the `cgiguard: ` lines of FILE.
function errors() {
	grep '^cgiguard: ' "$1" || true
}

# left_over: what this test left: processes whose arguments name its directories, the CGI and
# its parent as the CGI recorded them (unless the parent is this shell), zombies by the CGI's name.
function left_over() {
	local p f cgi parent
	for p in $(marker_pids "$T/" "${PUB:+$PUB/}"); do
		ps -o pid=,ppid=,stat=,args= -p "$p" || true
	done
	for f in "$IDS" ${PUB:+"$PUB/w/ids"}; do
		[[ -s $f ]] || continue
		read -r cgi parent <"$f"
		for p in $cgi $parent; do
			[[ $p == "$$" || $p == "$BASHPID" || $p == "$BATS_PID" ]] && continue
			[[ -e /proc/$p ]] && { ps -o pid=,ppid=,stat=,args= -p "$p" || true; }
		done
	done
	ps -eo pid=,ppid=,stat=,comm= | awk -v n="$NAME.cgi" '$3 ~ /^Z/ && $4 == n'
}
function nothing_left() { [[ -z $(left_over) ]]; }
function assert_nothing_left() {
	poll 5 nothing_left || fail "left behind after 5 s:
$(left_over)"
}

# ---------------------------------------------------------------- closed standard descriptors

@test "fd 0 closed: the request works" {
	local st=0
	cg -v -l stderr "$CGI" "$T" <&- >"$T/out" 2>"$T/err" || st=$?
	[[ $st -eq 3 ]] || fail "status $st, not the CGI's 3: $(cat "$T/err")"
	body_ok "$T/out" || fail "incomplete response: $(cat "$T/out")"
	[[ -z $(errors "$T/err") ]] || fail "cgiguard complained: $(cat "$T/err")"
	grep -q 'event=finished status=3' "$T/err" || fail "no finished record: $(cat "$T/err")"
	no_body "$T/err"
	assert_nothing_left
}

# ran_unseen STATUS RECORDS: the request ended with the CGI's 3, the CGI ran, RECORDS holds its
# finished record and none of its output, and nothing is left.
function ran_unseen() {
	[[ $1 -eq 3 ]] || fail "status $1, not the CGI's 3: $(cat "$2")"
	[[ -s $IDS ]] || fail "the CGI did not run: $(cat "$2")"
	grep -q 'event=finished status=3' "$2" || fail "no finished record: $(cat "$2")"
	no_body "$2"
	assert_nothing_left
}

@test "fd 1 closed: the request works, its output goes nowhere (not to stderr, not to the log)" {
	local st=0
	cg -v -l stderr "$CGI" "$T" >&- 2>"$T/err" || st=$?
	ran_unseen "$st" "$T/err"
}

@test "fd 2 closed: the request works; records never land on stdout" {
	local st=0
	cg -v -l stderr "$CGI" "$T" >"$T/out" 2>&- || st=$?
	[[ $st -eq 3 ]] || fail "status $st, not the CGI's 3"
	body_ok "$T/out" || fail "incomplete response: $(cat "$T/out")"
	! grep -q -e 'cgiguard' -e 'event=' -e 'cgi says' "$T/out" || fail "stdout holds more than the response: $(cat "$T/out")"
	st=0
	: >"$T/log"
	cg -v -l "$T/log" "$CGI" "$T" >"$T/out" 2>&- || st=$?
	[[ $st -eq 3 ]] || fail "with --log=FILE: status $st, not the CGI's 3"
	body_ok "$T/out" || fail "with --log=FILE: incomplete response: $(cat "$T/out")"
	grep -q 'event=finished status=3' "$T/log" || fail "no finished record in the log: $(cat "$T/log")"
	no_body "$T/log"
	assert_nothing_left
}

@test "fds 0, 1 and 2 all closed: the request works and logs to its file, without the CGI's output" {
	local st=0
	: >"$T/log"
	cg -v -l "$T/log" "$CGI" "$T" <&- >&- 2>&- || st=$?
	ran_unseen "$st" "$T/log"
}

# ---------------------------------------------------------------- /dev/full

@test "stdout on /dev/full: one cgiguard: line naming the write error, status 125" {
	: >"$T/log"
	start_front full -1 /dev/full -2 "$T/err" -- "$CGIGUARD" -g 2 -v -l "$T/log" "$CGI" "$T"
	wait_status full 5 || fail "the front did not end within 5 s"
	expect_end "exit 125" "$(cat "$T/err" "$T/log")"
	assert_nothing_left
	local e
	e=$(errors "$T/err")
	[[ $(grep -c . <<<"$e") -eq 1 && $e == *"No space left on device"* ]] ||
		fail "not one cgiguard: line naming the write error; stderr was:
$(cat "$T/err")"
	no_body "$T/err" "$T/log"
}

@test "stderr on /dev/full: the request works, with or without records to stderr" {
	local v
	for v in "-l stderr" "-l stderr -v" ""; do
		# shellcheck disable=SC2086 # the options are words
		start_front full -1 "$T/out" -2 /dev/full -- "$CGIGUARD" -g 2 $v "$CGI" "$T"
		wait_status full 5 || fail "($v) the front did not end within 5 s"
		expect_end "exit 3" "($v)"
		body_ok "$T/out" || fail "($v) incomplete response: $(cat "$T/out")"
		! grep -q -e 'cgiguard' -e 'event=' "$T/out" || fail "($v) records on stdout: $(cat "$T/out")"
		assert_nothing_left
	done
}

@test "stderr a pipe whose reader has gone: those bytes are lost, the request is not abandoned" {
	cat >"$T/errfirst.cgi" <<EOF
#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "$BODY head"
echo "to a reader that has gone" >&2
sleep 0.3
echo "$BODY end"
EOF
	chmod 0755 "$T/errfirst.cgi"
	# stderr: the write end of a pipe whose read end is closed
	run perl -e 'pipe(my $r, my $w) or die; close $r; open(STDERR, ">&", $w) or die;
		close $w; exec @ARGV or die' "$CGIGUARD" -g 2 "$T/errfirst.cgi" 3>&-
	[[ $status -eq 0 && $output == "Content-Type: text/plain"$'\n\n'"$BODY head"$'\n'"$BODY end" ]] ||
		fail "status $status: $output"
	assert_nothing_left
}

@test "stdout and stderr on /dev/full: the front ends with 125 and nothing is left" {
	start_front full -1 /dev/full -2 /dev/full -- "$CGIGUARD" -g 2 -v -l stderr "$CGI" "$T"
	wait_status full 5 || fail "the front did not end within 5 s"
	expect_end "exit 125"
	assert_nothing_left
}

# ---------------------------------------------------------------- RLIMIT_NOFILE

# closefds cmd...: cmd with no descriptor but 0, 1 and 2 (bats and spawn pass others on).
function write_closefds() {
	CLOSEFDS=$T/closefds
	cat >"$CLOSEFDS" <<'EOF'
#!/usr/bin/perl
use POSIX ();
POSIX::close($_) for 3 .. 1023;
exec { $ARGV[0] } @ARGV or die "closefds: $ARGV[0]: $!\n";
EOF
	chmod +x "$CLOSEFDS"
}

# A CGI that needs no descriptor of its own (a shell needs several): static, write(2) only.
function static_cgi() {
	local cc
	cat >"$T/tiny.c" <<'EOF'
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	static const char head[] = "Content-Type: text/plain\n\n";
	const char *b = argc > 1 ? argv[1] : "";
	if (write(1, head, sizeof(head) - 1) < 0 || write(1, b, strlen(b)) < 0 ||
	    write(1, " end\n", 5) < 0 || write(2, "cgi says this on stderr\n", 24) < 0)
		return 1;
	return 3;
}
EOF
	for cc in musl-gcc cc; do
		command -v "$cc" >/dev/null || continue
		"$cc" -static -O2 -o "$CGI" "$T/tiny.c" 2>/dev/null && return 0
	done
	skip "no compiler builds a static binary"
}

# nofile_run N: run the static CGI under RLIMIT_NOFILE N, logging to syslog (a log file
# would take a descriptor); sets ENDED.
function nofile_run() {
	[[ -n ${CLOSEFDS:-} ]] || write_closefds
	start_front nofile -1 "$T/out" -2 "$T/err" -- \
		"$CLOSEFDS" prlimit --nofile="$1" -- "$CGIGUARD" -g 2 "$CGI" "$BODY"
	wait_status nofile 5 || fail "RLIMIT_NOFILE $1: the front did not end within 5 s"
}

# The front makes its pipes to the keeper and the CGI (more than ten descriptors with 0, 1
# and 2) before it forks: under RLIMIT_NOFILE 3..8 the request always fails there, at once.

@test "RLIMIT_NOFILE 3: one cgiguard: line that names the lack of descriptors, not the policy file; 125" {
	requires static
	static_cgi
	nofile_run 3
	local e
	e=$(errors "$T/err")
	expect_end "exit 125" "$(cat "$T/err")"
	[[ $(grep -c . <<<"$e") -eq 1 ]] || fail "not one cgiguard: line: $(cat "$T/err")"
	[[ $e != *cgiguard.conf* ]] || fail "blames the policy file, which is not what failed: $e"
	# The words are the C library's strerror(EMFILE): musl's or glibc's, as the build had.
	[[ $e =~ descriptors|open\ files|NOFILE|nofile ]] || fail "does not say descriptors ran out: $e"
	[[ ! -s $T/out ]] || fail "125, yet output: $(cat "$T/out")"
	no_body "$T/err"
	assert_nothing_left
}

@test "RLIMIT_NOFILE 3..8: each fails with one cgiguard: line and 125, and no output" {
	requires static
	static_cgi
	local n e bad=()
	for n in 3 4 5 6 7 8; do
		nofile_run "$n"
		e=$(errors "$T/err")
		if [[ $ENDED == "exit 125" ]]; then
			[[ $(grep -c . <<<"$e") -eq 1 ]] || bad+=("$n: 125 without exactly one cgiguard: line: '$(cat "$T/err")'")
			[[ ! -s $T/out ]] || bad+=("$n: 125, yet output: '$(cat "$T/out")'")
		else
			bad+=("$n: $ENDED, not 125: '$(cat "$T/err")'; output '$(cat "$T/out")'")
		fi
		grep -q -e "$BODY" "$T/err" && bad+=("$n: the CGI's output on stderr")
		poll 5 nothing_left || bad+=("$n: left behind: $(left_over)")
	done
	((${#bad[@]} == 0)) || fail "$(printf 'RLIMIT_NOFILE %s\n' "${bad[@]}")"
}

# ---------------------------------------------------------------- RLIMIT_NPROC

# fault_user: an unprivileged account of its own (cgfault) whose processes are all ours, so
# they can be counted; cgi_user's account if it cannot be made.
function fault_user() {
	if ! id -u cgfault >/dev/null 2>&1; then
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin cgfault >/dev/null 2>&1 || true
	fi
	if id -u cgfault >/dev/null 2>&1; then
		use_user cgfault
	else
		cgi_user
	fi
}

# user_tasks: how many tasks (threads count for RLIMIT_NPROC) run under the user's real uid.
function user_tasks() {
	ps -eLo ruid= | awk -v u="$CGI_UID" '$1 == u { n++ } END { print n + 0 }'
}

function user_tasks_are() { [[ $(user_tasks) -eq $1 ]]; }

function nproc_setup() {
	requires root
	fault_user
	make_pubdir
	mkdir "$PUB/w"
	chown "$CGI_UID:$CGI_GID" "$PUB/w"
	CGI=$PUB/$NAME.cgi
	write_cgi "$CGI"
	BASE_NICE=$(nice)
}

# nproc_run N [fork]: the request as the user under RLIMIT_NPROC N, with limits, umask, nice and a
# variable to keep and one to drop. Sets ENDED and FRONT (the pid the server knows).
function nproc_run() {
	start_front nproc -1 "$T/out" -2 "$T/err" -- \
		env HTTP_PROXY=http://proxy.invalid:3128 FAULTS_MARK=kept \
		"${AS_USER[@]}" prlimit --nproc="$1" -- \
		"$CGIGUARD" -g 2 -v -l stderr --umask=027 --nofile=50 --nice=3 "$CGI" "$PUB/w" ${2:+"$2"}
	FRONT=$FRONT_PID
	wait_status nproc 5 || fail "RLIMIT_NPROC $1: the front did not end within 5 s"
}

# response_ok PID FORK: the whole response, from the CGI with pid PID (any when empty), with
# the limits, umask, nice and environment asked for, and fork=FORK.
function response_ok() {
	local -a l
	local nice=$((BASE_NICE + 3 > 19 ? 19 : BASE_NICE + 3))
	mapfile -t l <"$T/out"
	[[ ${#l[@]} -eq 9 ]] || fail "incomplete response: $(cat "$T/out")"
	[[ -z $1 || ${l[2]} == "$BODY pid=$1" ]] || fail "the CGI is not pid $1: ${l[2]}"
	[[ ${l[3]} == umask=0027 ]] || fail "${l[3]}, not umask=0027"
	[[ ${l[4]} == nofile=50 ]] || fail "${l[4]}, not nofile=50"
	[[ ${l[5]} == "nice=$nice" ]] || fail "${l[5]}, not nice=$nice"
	[[ ${l[6]} == "proxy=unset mark=kept" ]] || fail "environment: ${l[6]}"
	[[ ${l[7]} == "fork=$2" ]] || fail "${l[7]}, not fork=$2"
}

# unshielded_at ROOM FORK: with room for ROOM more processes of the user, the CGI runs
# unshielded in the front's place (its fork tried when FORK is "ok"): its whole response, one
# event=unshielded record, nothing left, and the user's processes back to where they were.
function unshielded_at() {
	local base
	nproc_setup
	base=$(user_tasks)
	if [[ $2 == ok ]]; then nproc_run $((base + $1)) fork; else nproc_run $((base + $1)); fi
	expect_end "exit 3" "$(cat "$T/err")"
	response_ok "$FRONT" "$2"
	[[ $(grep -c 'event=unshielded reason=[^ ]' "$T/err") -eq 1 ]] ||
		fail "not one event=unshielded record: $(cat "$T/err")"
	no_body "$T/err"
	assert_nothing_left
	poll 5 user_tasks_are "$base" || fail "the user has $(user_tasks) processes, not $base"
}

@test "RLIMIT_NPROC reached at the keeper's fork: the front execs the CGI unshielded, with its limits, and logs event=unshielded" {
	# The front is the user's base+1st process: the keeper's fork fails.
	unshielded_at 1 untried
}

@test "RLIMIT_NPROC reached at the CGI's spawn: the keeper exits, the front execs the CGI unshielded and logs event=unshielded" {
	# The front and the keeper fit, the CGI does not. Once the keeper is gone (and reaped) the
	# CGI, in the front's place, has room for one child: fork=ok proves the keeper is gone.
	unshielded_at 2 ok
}

@test "RLIMIT_NPROC with room for the front, the keeper and the CGI: shielded as usual" {
	nproc_setup
	local base
	base=$(user_tasks)
	nproc_run $((base + 3))
	expect_end "exit 3" "$(cat "$T/err")"
	response_ok "" untried
	[[ $(sed -n 3p "$T/out") != "$BODY pid=$FRONT" ]] || fail "the CGI ran in the front's place"
	! grep -q 'event=unshielded' "$T/err" || fail "unshielded with room to spare: $(cat "$T/err")"
	grep -q 'event=finished status=3' "$T/err" || fail "no finished record: $(cat "$T/err")"
	no_body "$T/err"
	assert_nothing_left
	poll 5 user_tasks_are "$base" || fail "the user has $(user_tasks) processes, not $base"
}

# ---------------------------------------------------------------- a log it cannot open

# log_fallback_ok PATH: the request worked; one cgiguard: line names PATH; records followed on
# stderr.
function log_fallback_ok() {
	expect_end "exit 3" "$(cat "$T/err")"
	body_ok "$T/out" || fail "incomplete response: $(cat "$T/out")"
	local e
	e=$(errors "$T/err")
	[[ $(grep -c . <<<"$e") -eq 1 && $e == *"$1"* ]] ||
		fail "not one cgiguard: line naming $1: $(cat "$T/err")"
	grep -q '^cgiguard\[[0-9]*\]: event=finished status=3' "$T/err" ||
		fail "the records did not go to stderr instead: $(cat "$T/err")"
	no_body "$T/err"
	assert_nothing_left
}

@test "--log=FILE in a directory that does not exist: the CGI runs, one cgiguard: line, records to stderr" {
	start_front log -1 "$T/out" -2 "$T/err" -- "$CGIGUARD" -g 2 -v --log="$T/no/such/dir/log" "$CGI" "$T"
	wait_status log 5 || fail "the front did not end within 5 s"
	log_fallback_ok "$T/no/such/dir/log"
}

@test "--log=FILE the user cannot write: the CGI runs, one cgiguard: line, records to stderr" {
	requires root
	cgi_user
	make_pubdir
	mkdir -m 0755 "$PUB/ro" "$PUB/w"
	chown "$CGI_UID:$CGI_GID" "$PUB/w"
	CGI=$PUB/$NAME.cgi
	write_cgi "$CGI"
	start_front log -1 "$T/out" -2 "$T/err" -- \
		"${AS_USER[@]}" "$CGIGUARD" -g 2 -v --log="$PUB/ro/log" "$CGI" "$PUB/w"
	wait_status log 5 || fail "the front did not end within 5 s"
	log_fallback_ok "$PUB/ro/log"
	[[ ! -e $PUB/ro/log ]] || fail "the log was created after all"
}

@test "--log=FILE that does not exist is not created: the CGI runs, one cgiguard: line, records to stderr" {
	start_front log -1 "$T/out" -2 "$T/err" -- "$CGIGUARD" -g 2 -v --log="$T/log" "$CGI" "$T"
	wait_status log 5 || fail "the front did not end within 5 s"
	log_fallback_ok "$T/log: No such file or directory; logging to stderr"
	[[ ! -e $T/log ]] || fail "the log was created"
}

@test "--log=FILE that is a symlink is not followed: its target stays untouched, records to stderr" {
	echo private >"$T/private"
	ln -s "$T/private" "$T/log"
	start_front log -1 "$T/out" -2 "$T/err" -- "$CGIGUARD" -g 2 -v --log="$T/log" "$CGI" "$T"
	wait_status log 5 || fail "the front did not end within 5 s"
	log_fallback_ok "$T/log: a symlink (not followed); logging to stderr"
	[[ $(<"$T/private") == private ]] || fail "the symlink's target was written: $(cat "$T/private")"
}

@test "--log=FILE that is a FIFO is never written, with or without a reader, and never waited on" {
	mkfifo "$T/log"
	start_front log -1 "$T/out" -2 "$T/err" -- "$CGIGUARD" -g 2 -v --log="$T/log" "$CGI" "$T"
	wait_status log 5 || fail "the front waited on a FIFO with no reader"
	log_fallback_ok "$T/log: not a regular file; logging to stderr"
	fifo_reader "$T/log" "$T/read"
	start_front log2 -1 "$T/out" -2 "$T/err" -- "$CGIGUARD" -g 2 -v --log="$T/log" "$CGI" "$T"
	wait_status log2 5 || fail "the front did not end within 5 s"
	log_fallback_ok "$T/log: not a regular file; logging to stderr"
	if alive "$READER"; then kill "$READER"; fi
	[[ ! -s $T/read ]] || fail "a reader of the FIFO got records: $(cat "$T/read")"
}

# ---------------------------------------------------------------- the parent's signal state

# A parent (server) that ignores (-i) or blocks (-b) SIGCHLD, SIGTERM and SIGALRM.
SIGS=CHLD,TERM,ALRM

# request_under MODE NAME: a whole request under a parent that ignores (-i) or blocks (-b) SIGS.
function request_under() {
	start_front "$2" "$1" "$SIGS" -1 "$T/out" -2 "$T/err" -- "$CGIGUARD" -g 2 -v -l stderr "$CGI" "$T"
	wait_status "$2" 5 || fail "the front did not end within 5 s"
	expect_end "exit 3" "$(cat "$T/err")"
	body_ok "$T/out" || fail "incomplete response: $(cat "$T/out")"
	[[ -z $(errors "$T/err") ]] || fail "cgiguard complained: $(cat "$T/err")"
	no_body "$T/err"
	assert_nothing_left
}

@test "parent ignores SIGCHLD, SIGTERM, SIGALRM: a request works" {
	request_under -i ign
}

@test "parent blocks SIGCHLD, SIGTERM, SIGALRM: a request works" {
	request_under -b blk
}

# abandoned_under MODE NAME: a probe under such a parent, TERM to the front: 143 at once,
# the CGI killed at the 1 s grace, the keeper gone. Sets SENT (when the TERM went).
function abandoned_under() {
	start_front "$2" "$1" "$SIGS" -2 "$T/err" -- "$CGIGUARD" -g 1 -l stderr "$PROBE" run=30
	wait_probe || fail "the probe did not start"
	now_us
	SENT=$REPLY
	kill -TERM "$FRONT_PID"
	wait_status "$2" 2 || fail "the front did not end within 2 s of TERM"
	expect_end "exit 143" "$(cat "$T/err")"
}

@test "parent ignores SIGCHLD, SIGTERM, SIGALRM: TERM to the front still abandons; the CGI gets TERM once, is killed at the grace" {
	abandoned_under -i ign
	wait_gone_by $((SENT + 3000000)) "$CGI_PID" || fail "the CGI outlived the 1 s grace by 2 s"
	wait_gone "$CGI_PPID" 2 || fail "the keeper is still there"
	expect_signals "CONT TERM"
	assert_nothing_left
}

# sig_pending PID SIG: SIG is pending (blocked) for PID, thread- or process-directed.
function sig_pending() {
	local bit=$((1 << ($2 - 1))) m
	for m in $(awk '/^(SigPnd|ShdPnd):/ { print $2 }' "/proc/$1/status" 2>/dev/null); do
		(((16#$m & bit) != 0)) && return 0
	done
	return 1
}

@test "parent blocks SIGCHLD, SIGTERM, SIGALRM: TERM to the front still abandons; the CGI's TERM waits in its mask, it is killed at the grace" {
	abandoned_under -b blk
	poll 1 sig_pending "$CGI_PID" 15 || fail "TERM is not pending for the CGI (the server's mask blocks it)"
	wait_gone_by $((SENT + 3000000)) "$CGI_PID" || fail "the CGI outlived the 1 s grace by 2 s"
	wait_gone "$CGI_PPID" 2 || fail "the keeper is still there"
	assert_nothing_left
}
