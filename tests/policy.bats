#!/usr/bin/env bats
# Shared hosting: the admin's policy file, Apache Action handler mode, target checks beneath
# a root, and the environment the CGI gets. These run the policy build of cgiguard, which
# reads its policy from $CGIGUARD_TESTCONF (make's TESTCONF, in a root-owned directory).

load helpers

POLICY_BIN=${CGIGUARD_POLICY:-$BATS_TEST_DIRNAME/cgiguard-policy}
CONF=${CGIGUARD_TESTCONF:-/run/cgiguard-test/cgiguard.conf}
CONFDIR=${CONF%/*}
ROOT=$CONFDIR/www

setup() {
	common_setup
	requires root
	[[ -x $POLICY_BIN ]] || fail "no policy build at $POLICY_BIN (make tests/cgiguard-policy)"
	cgi_user
	rm -rf "$CONFDIR"
	install -d -m 0755 "$CONFDIR" "$ROOT" "$ROOT/app"
	install -m 0755 "$POLICY_BIN" "$ROOT/cgiguard"
	G=$ROOT/cgiguard
	cat >"$ROOT/app/show.cgi" <<'CGI'
#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "argv=$*"
echo "nofile=$(ulimit -n)"
env | grep -E '^(SCRIPT_FILENAME|SCRIPT_NAME|PATH_INFO|PATH_TRANSLATED|HTTP_PROXY|LD_PRELOAD|BASH_ENV|IFS|GLIBC_TUNABLES|FOO)=' | sort
CGI
	chmod 0755 "$ROOT/app/show.cgi"
	policy "root = $ROOT"
}

teardown() {
	common_teardown
	rm -rf "$CONFDIR"
}

# policy LINE...: write the policy file, root-owned, mode 0644.
function policy() {
	printf '%s\n' "# test policy" "$@" >"$CONF"
	chmod 0644 "$CONF"
}

# action PATH_INFO [client words...]: run the handler as Apache's Action does, as the CGI
# user: SCRIPT_FILENAME is cgiguard itself, REDIRECT_STATUS=200, PATH_TRANSLATED below ROOT.
function action() {
	local pi=$1
	shift
	run --separate-stderr as_user env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 \
		SCRIPT_FILENAME="$G" SCRIPT_NAME=/cgi-sys/cgiguard PATH_INFO="$pi" \
		PATH_TRANSLATED="$ROOT$pi" DOCUMENT_ROOT="$ROOT" REDIRECT_STATUS=200 \
		REDIRECT_URL="$pi" HTTP_PROXY=http://proxy.invalid LD_PRELOAD=/nonexistent.so \
		BASH_ENV=/tmp/x IFS=x GLIBC_TUNABLES=glibc.malloc.check=3 FOO=kept \
		"$G" "$@" 3>&-
}

@test "handler mode runs the script Apache resolved, with its path info and the client's words after it" {
	action /app/show.cgi/extra/info -g0 /bin/sh
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $output == *"argv=-g0 /bin/sh"* ]] || fail "client words not passed as the script's argv: $output"
	[[ $output == *"SCRIPT_FILENAME=$ROOT/app/show.cgi"* ]] || fail "$output"
	[[ $output == *"SCRIPT_NAME=/app/show.cgi"* ]] || fail "$output"
	[[ $output == *"PATH_INFO=/extra/info"* ]] || fail "$output"
	[[ $output == *"PATH_TRANSLATED=$ROOT/extra/info"* ]] || fail "$output"
}

@test "client words that look like options never become options or the program" {
	# A log the CGI's user could write (cgiguard never creates one): as options, -v and
	# --log would put the request's event=finished record in it.
	local log=$CONFDIR/w/x
	install -d -o "$CGI_UID" -m 0755 "$CONFDIR/w"
	install -o "$CGI_UID" -m 0644 /dev/null "$log"
	action /app/show.cgi --timeout=999999 -g 0 -v --log="$log" /bin/sh
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $output == *"argv=--timeout=999999 -g 0 -v --log=$log /bin/sh"* ]] || fail "$output"
	[[ -f $log && ! -s $log ]] || fail "a client word opened a log file: $(cat "$log")"
}

@test "the environment never carries HTTP_PROXY or loader and shell variables" {
	action /app/show.cgi
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $output == *"FOO=kept"* ]] || fail "$output"
	for v in HTTP_PROXY LD_PRELOAD BASH_ENV IFS GLIBC_TUNABLES; do
		[[ $output != *"$v="* ]] || fail "$v reached the CGI: $output"
	done
}

# direct [client words...]: a request for the handler's own URL, as Apache runs it: no
# REDIRECT_STATUS, the query's words as argv (GET /cgi-sys/cgiguard?WORD+WORD).
function direct() {
	local query
	query=$(IFS=+ && echo "$*")
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$G" \
		SCRIPT_NAME=/cgi-sys/cgiguard QUERY_STRING="$query" PATH_INFO=/app/show.cgi \
		PATH_TRANSLATED="$ROOT/app/show.cgi" "$G" "$@" 3>&-
}

@test "a direct request to the handler is refused" {
	refused_both 126 "cgiguard: direct request to the handler refused" direct
}

@test "a direct request with query words runs none of them, with /proc or without" {
	make_pubdir
	install -d -o "$CGI_UID" -m 0755 "$PUB/w"
	refused_both 126 "cgiguard: direct request to the handler refused" \
		direct /usr/bin/touch "$PUB/w/touched"
	refused_both 126 "cgiguard: direct request to the handler refused" \
		direct /bin/sh -c "touch $PUB/w/touched"
	[[ ! -e $PUB/w/touched ]] || fail "a client's query words ran"
}

@test "handler mode runs with /proc hidden as with it" {
	requires proc-hiding
	PROC_HIDDEN=1 action /app/show.cgi/extra/info -g0 /bin/sh
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $output == *"argv=-g0 /bin/sh"* ]] || fail "client words not passed as the script's argv: $output"
	[[ $output == *"SCRIPT_FILENAME=$ROOT/app/show.cgi"* ]] || fail "$output"
}

@test "handler mode without a root in the policy is refused, as is no policy at all" {
	policy "grace = 5s"
	refused_both 126 "cgiguard: handler mode needs a root in $CONF" action /app/show.cgi
	rm -f "$CONF"
	refused_both 126 "cgiguard: handler mode needs a root in $CONF" action /app/show.cgi
}

@test "traversal out of the root is refused" {
	refused_both 126 "cgiguard: $ROOT/app/../../../../etc/passwd: leaves its root or passes a symlink" action /app/../../../../etc/passwd
}

@test "a symlink to a script outside the root is refused" {
	printf '#!/bin/sh\necho argv=outside\n' >/run/cgiguard-outside.cgi
	chmod 0755 /run/cgiguard-outside.cgi
	ln -s /run/cgiguard-outside.cgi "$ROOT/app/link.cgi"
	refused_both 126 "cgiguard: $ROOT/app/link.cgi: a symlink (not followed)" action /app/link.cgi
	rm -f /run/cgiguard-outside.cgi
}

@test "world-writable scripts and directories, and set-id scripts, are refused" {
	chmod 0757 "$ROOT/app/show.cgi"
	refused_both 126 "cgiguard: $ROOT/app/show.cgi: writable by group or others" action /app/show.cgi
	chmod 0755 "$ROOT/app/show.cgi"
	chmod 0775 "$ROOT/app"
	refused_both 126 "cgiguard: $ROOT/app/show.cgi: its directory is writable by group or others" action /app/show.cgi
	chmod 0755 "$ROOT/app"
	chmod 4755 "$ROOT/app/show.cgi"
	refused_both 126 "cgiguard: $ROOT/app/show.cgi: set-user-ID or set-group-ID" action /app/show.cgi
}

@test "refuse-own-files refuses a script owned by the user it would run as" {
	policy "root = $ROOT" "refuse-own-files = yes"
	chown "$CGI_UID" "$ROOT/app/show.cgi"
	refused_both 126 "cgiguard: $ROOT/app/show.cgi: owned by the user it would run as" action /app/show.cgi
}

@test "a policy file writable by others, or in a directory writable by others, is refused" {
	chmod 0666 "$CONF"
	refused_both 125 "cgiguard: $CONF: not a regular file that only root can change" action /app/show.cgi
	chmod 0644 "$CONF"
	chmod 0777 "$CONFDIR"
	refused_both 125 "cgiguard: $CONF: directory $CONFDIR is not owned by root or is writable by others" \
		action /app/show.cgi
	chmod 0755 "$CONFDIR"
}

@test "a policy file with an unknown setting or a bad value fails closed with its line" {
	policy "root = $ROOT" "gracee = 5s"
	refused_both 125 "cgiguard: $CONF:3: unknown setting 'gracee'" action /app/show.cgi
	policy "root = $ROOT" "grace = 5 years"
	refused_both 125 "cgiguard: $CONF:3: --grace: invalid duration '5 years'" action /app/show.cgi
}

@test "the policy's caps win over a #! line" {
	policy "root = $ROOT" "nofile = 64" "grace = 1s"
	cat >"$ROOT/app/greedy.cgi" <<EOF
#!$G --nofile=4096 -g 1h /bin/sh
echo "nofile=\$(ulimit -n)"
EOF
	chmod 0755 "$ROOT/app/greedy.cgi"
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 \
		SCRIPT_FILENAME="$ROOT/app/greedy.cgi" "$ROOT/app/greedy.cgi" 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $output == "nofile=64" ]] || fail "the #! line's --nofile beat the policy: $output"
}

@test "the policy's grace caps a #! line's: the CGI is killed after the policy's grace" {
	policy "root = $ROOT" "grace = 1s"
	cat >"$ROOT/app/slow.cgi" <<EOF
#!$G -g 1h -l $CONFDIR/log /bin/sh
trap '' TERM
echo \$\$ > $CONFDIR/slow.pid
while :; do sleep 0.1; done
EOF
	chmod 0755 "$ROOT/app/slow.cgi"
	install -m 0666 /dev/null "$CONFDIR/log"
	install -m 0777 -d "$CONFDIR/run"
	sed -i "s|$CONFDIR/slow.pid|$CONFDIR/run/slow.pid|" "$ROOT/app/slow.cgi"
	start_front slow -- "${AS_USER[@]}" env -i GATEWAY_INTERFACE=CGI/1.1 \
		SCRIPT_FILENAME="$ROOT/app/slow.cgi" "$ROOT/app/slow.cgi"
	wait_file "$CONFDIR/run/slow.pid" 5
	cgi=$(<"$CONFDIR/run/slow.pid")
	track "$cgi"
	kill -TERM "$FRONT_PID"
	wait_status slow 5
	expect_end "exit 143"
	wait_gone "$cgi" 4 || fail "the CGI outlived the policy's 1 s grace"
	poll 2 grep -q 'event=killed reason=grace' "$CONFDIR/log" || fail "$(cat "$CONFDIR/log")"
}

@test "root may run CGIs only where the policy allows it" {
	run --separate-stderr env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$ROOT/app/show.cgi" \
		"$G" "$ROOT/app/show.cgi" 3>&-
	refused 126 "cgiguard: refusing to run a CGI as root"
	policy "root = $ROOT" "allow-root = yes"
	run --separate-stderr env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$ROOT/app/show.cgi" \
		"$G" "$ROOT/app/show.cgi" 3>&-
	[[ $status -eq 0 && $output == *argv=* ]] || fail "status $status: $stderr"
}

@test "--clean-env passes only CGI variables, request headers and a safe PATH" {
	run --separate-stderr env -i PATH=/opt/evil:/usr/bin:/bin FOO=1 HTTP_HOST=h REQUEST_METHOD=GET \
		HTTP_PROXY=p "$CGIGUARD" --clean-env /usr/bin/env 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $(sort <<<"$output" | paste -sd' ') == "HTTP_HOST=h PATH=/usr/local/bin:/usr/bin:/bin REQUEST_METHOD=GET" ]] ||
		fail "environment: $output"
}

@test "--pass-env lets named server variables through --clean-env; -v logs the names dropped" {
	run --separate-stderr env -i PATH=/usr/bin:/bin GITWEB_CONFIG=/etc/gitweb.conf FOO=1 BAR=2 \
		HTTP_HOST=h "$CGIGUARD" -v -l stderr --clean-env --pass-env=GITWEB_CONFIG /usr/bin/env 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $(sort <<<"$output" | paste -sd' ') == "GITWEB_CONFIG=/etc/gitweb.conf HTTP_HOST=h PATH=/usr/local/bin:/usr/bin:/bin" ]] ||
		fail "environment: $output"
	[[ $stderr == "cgiguard["*"]: event=env dropped=FOO,BAR script=/usr/bin/env"$'\n'* ]] ||
		fail "no record of the dropped names: $stderr"
	run --separate-stderr env -i FOO=1 "$CGIGUARD" -l stderr --clean-env /usr/bin/env 3>&-
	[[ $status -eq 0 && -z $stderr ]] || fail "without -v: status $status: $stderr"
}

@test "--pass-env takes only names the server sets: never a request header or a dropped variable" {
	local v want
	while IFS='|' read -r v want; do
		run --separate-stderr "$CGIGUARD" --clean-env --pass-env="$v" /bin/true 3>&-
		[[ $status -eq 125 && $stderr == "cgiguard: --pass-env: $want" ]] ||
			fail "--pass-env=$v: status $status: $stderr"
	done <<-'EOF'
		HTTP_X_SECRET|'HTTP_X_SECRET' is a request header, which the client chooses
		HTTP_PROXY|'HTTP_PROXY' is a request header, which the client chooses
		LD_PRELOAD|'LD_PRELOAD' is never passed
		A,BASH_ENV|'BASH_ENV' is never passed
		A,,B|'' is not a variable name
		9LIVES|'9LIVES' is not a variable name
		A-B|'A-B' is not a variable name
	EOF
}

@test "pass-env in the policy: its names always pass; a #! line's pass only where the policy does not set clean-env" {
	cat >"$ROOT/app/env.cgi" <<EOF
#!$G --clean-env --pass-env=OWN /bin/sh
echo "Content-Type: text/plain"
echo
echo "env=\$(env | grep -E '^(OWN|ADMIN|FOO)=' | sort | paste -sd' ' -)"
EOF
	chmod 0755 "$ROOT/app/env.cgi"
	envcgi() {
		run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 OWN=1 ADMIN=2 FOO=3 \
			SCRIPT_FILENAME="$ROOT/app/env.cgi" "$ROOT/app/env.cgi" 3>&-
	}
	policy "root = $ROOT" "pass-env = ADMIN"
	envcgi
	[[ $status -eq 0 && ${output##*$'\n'} == "env=ADMIN=2 OWN=1" ]] || fail "policy without clean-env: $output"
	policy "root = $ROOT" "clean-env = yes" "pass-env = ADMIN"
	envcgi
	[[ $status -eq 0 && ${output##*$'\n'} == "env=ADMIN=2" ]] || fail "policy with clean-env: $output"
	policy "root = $ROOT" "clean-env = yes"
	envcgi
	[[ $status -eq 0 && ${output##*$'\n'} == "env=" ]] || fail "policy with clean-env, no pass-env: $output"
	policy "root = $ROOT" "pass-env = HTTP_X"
	envcgi
	refused 125 "cgiguard: $CONF:3: --pass-env: 'HTTP_X' is a request header, which the client chooses"
}

@test "pass-env: a #! line's 8 lists and the policy's 8 all pass; none is dropped" {
	cat >"$ROOT/app/env.cgi" <<EOF
#!$G --clean-env --pass-env=L1 --pass-env=L2 --pass-env=L3 --pass-env=L4 --pass-env=L5 --pass-env=L6 --pass-env=L7 --pass-env=L8 /bin/sh
echo "Content-Type: text/plain"
echo
echo "env=\$(env | grep -E '^[LP][0-9]=' | sort | paste -sd' ' -)"
EOF
	chmod 0755 "$ROOT/app/env.cgi"
	policy "root = $ROOT" "pass-env = P1" "pass-env = P2" "pass-env = P3" "pass-env = P4" \
		"pass-env = P5" "pass-env = P6" "pass-env = P7" "pass-env = P8"
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 \
		L1=1 L2=2 L3=3 L4=4 L5=5 L6=6 L7=7 L8=8 P1=1 P2=2 P3=3 P4=4 P5=5 P6=6 P7=7 P8=8 \
		SCRIPT_FILENAME="$ROOT/app/env.cgi" "$ROOT/app/env.cgi" 3>&-
	[[ $status -eq 0 && ${output##*$'\n'} == "env=L1=1 L2=2 L3=3 L4=4 L5=5 L6=6 L7=7 L8=8 P1=1 P2=2 P3=3 P4=4 P5=5 P6=6 P7=7 P8=8" ]] ||
		fail "status $status: $output"
}

# abort_many N: N requests to a slow CGI that ignores TERM, each abandoned once it runs;
# started 50 at a time, as a server under a wave of aborting clients would. Each CGI (its
# pid that of its `exec sleep 60`) is recorded, "pid starttime", in $T/slow.pids.
function abort_many() {
	local n=$1 done=0 b i pids
	: >"$T/slow.pids"
	install -m 0777 -d "$CONFDIR/run"
	install -m 0666 /dev/null "$CONFDIR/run/log"
	cat >"$ROOT/app/slow.cgi" <<EOF
#!$G -g 60 -l $CONFDIR/run/log /bin/sh
trap '' TERM
: > $CONFDIR/run/started.\$\$
exec sleep 60
EOF
	chmod 0755 "$ROOT/app/slow.cgi"
	while ((done < n)); do
		b=$((n - done < 50 ? n - done : 50))
		pids=()
		for ((i = 0; i < b; i++)); do
			"${AS_USER[@]}" env -i GATEWAY_INTERFACE=CGI/1.1 \
				SCRIPT_FILENAME="$ROOT/app/slow.cgi" "$ROOT/app/slow.cgi" \
				</dev/null >/dev/null 2>&1 3>&- &
			pids+=($!)
		done
		track "${pids[@]}"
		poll 20 started "$b" || fail "only $(started) of $b requests started"
		record_slow "$CONFDIR"/run/started.*
		kill -TERM "${pids[@]}"
		rm -f "$CONFDIR"/run/started.*
		done=$((done + b))
	done
}
function started() {
	local f=("$CONFDIR"/run/started.*)
	[[ -e ${f[0]} ]] || f=()
	[[ -z ${1:-} ]] && { echo "${#f[@]}"; return 0; }
	((${#f[@]} >= $1))
}

# record_slow FILE...: the CGIs of the started.PID files, in $T/slow.pids and tracked.
function record_slow() {
	local f p s
	for f in "$@"; do
		p=${f##*.}
		[[ $p =~ ^[0-9]+$ ]] || continue
		s=$(starttime "$p") || fail "CGI $p ended before it was abandoned"
		echo "$p $s" >>"$T/slow.pids"
		echo "$p $s" >>"$T/.pids"
	done
}

# survivors: how many of the slow CGIs ($T/slow.pids) still run (not zombies, and the pid not
# reused); at_most N: no more than N of them. Without forks: it is polled over 1,000 pids.
function survivors() {
	local p st s n=0
	local -a f
	while read -r p st; do
		{ read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
		s=${s##*) }
		read -ra f <<<"$s"
		[[ ${f[19]} == "$st" && ${f[0]} != [ZX] ]] && n=$((n + 1))
	done <"$T/slow.pids"
	echo "$n"
}

# kill_slow: SIGKILL, by pid, the slow CGIs still running.
function kill_slow() {
	local p st
	while read -r p st; do
		same_process "$p" "$st" && kill -KILL "$p" 2>/dev/null
	done <"$T/slow.pids"
	return 0
}
function at_most() {
	(($(survivors) <= $1))
}

@test "1,000 aborted requests to a slow CGI leave at most the capped survivors" {
	policy "root = $ROOT" "survivors-per-user = 3"
	abort_many 1000
	# the others get the server's usual 3 s; the capped ones their full grace
	poll 10 at_most 3 || fail "$(survivors) survivors, cap 3"
	n=$(survivors)
	kill_slow
	((n >= 1)) || fail "no survivor at all"
	grep -q 'event=no-slot cap=user grace=3.00s' "$CONFDIR/run/log" || fail "no no-slot record"
}

@test "survivors-per-script = 0: an abandoned CGI is treated as without cgiguard" {
	policy "root = $ROOT" "survivors-per-script = 0"
	abort_many 1
	poll 6 at_most 0 || fail "$(survivors) survivors with a cap of 0"
	grep -q 'event=no-slot cap=script' "$CONFDIR/run/log" || fail "$(cat "$CONFDIR/run/log")"
}

# busybox_form: run show.cgi as busybox httpd does, by its bare name in its directory.
function busybox_form() {
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 \
		SCRIPT_FILENAME="$ROOT/app/show.cgi" "$G" show.cgi 3>&-
}

@test "busybox's form with a root: the bare name is resolved through SCRIPT_FILENAME and checked" {
	cd "$ROOT/app"
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 \
		SCRIPT_FILENAME="$ROOT/app/show.cgi" "$G" show.cgi 3>&-
	[[ $status -eq 0 && $output == *argv=* ]] || fail "status $status: $stderr"
	chmod 0757 "$ROOT/app/show.cgi"
	refused_both 126 "cgiguard: $ROOT/app/show.cgi: writable by group or others" busybox_form
}

@test "handler mode runs the CGI in its own directory, as Apache would" {
	printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "cwd=$(pwd)"\n' >"$ROOT/app/cwd.cgi"
	chmod 0755 "$ROOT/app/cwd.cgi"
	action /app/cwd.cgi
	[[ $status -eq 0 && $output == *"cwd=$ROOT/app"* ]] || fail "status $status: $output $stderr"
}

# lighttpd PATH: run PATH as lighttpd's cgi.assign does, as the CGI user: [cgiguard, PATH].
function lighttpd_form() {
	run -${2:-0} --separate-stderr as_user env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 \
		SCRIPT_FILENAME="$1" REDIRECT_STATUS=200 "$G" "$1" 3>&-
}

@test "a root written with a trailing slash or doubled slashes is the same root" {
	local r
	for r in "$ROOT/" "$ROOT//" "${ROOT%/*}//www/"; do
		policy "root = $r"
		lighttpd_form "$ROOT/show.cgi.missing" 127
		[[ $status -eq 127 ]] || fail "root '$r', a missing script: status $status: $stderr"
		cp "$ROOT/app/show.cgi" "$ROOT/show.cgi"
		lighttpd_form "$ROOT/show.cgi"
		[[ $status -eq 0 && $output == *argv=* ]] || fail "root '$r': status $status: $stderr"
		lighttpd_form "$ROOT/app/show.cgi"
		[[ $status -eq 0 && $output == *argv=* ]] || fail "root '$r', a subdirectory: status $status: $stderr"
	done
	policy "root = /"
	lighttpd_form "$ROOT/app/show.cgi"
	[[ $status -eq 0 && $output == *argv=* ]] || fail "root '/': status $status: $stderr"
}

@test "a 9th root, and a relative log in the policy, are refused with the file and line" {
	policy "root = /a" "root = /b" "root = /c" "root = /d" "root = /e" "root = /f" "root = /g" \
		"root = /h" "root = /i"
	refused_both 125 "cgiguard: $CONF:10: root: more than 8 roots" action /app/show.cgi
	policy "root = $ROOT" "log = logs/cgiguard.log"
	refused_both 125 "cgiguard: $CONF:3: --log: 'logs/cgiguard.log' is not an absolute path" action /app/show.cgi
}

# umask_of_cgi SERVER_UMASK [#! options]: the umask a #! CGI gets under a server's umask.
function umask_of_cgi() {
	printf '#!%s %s/bin/sh\necho "Content-Type: text/plain"\necho\numask\n' "$G" "${2:+$2 }" \
		>"$ROOT/app/umask.cgi"
	chmod 0755 "$ROOT/app/umask.cgi"
	run --separate-stderr as_user sh -c 'umask "$1"; shift; exec "$@"' sh "$1" env -i \
		GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$ROOT/app/umask.cgi" "$ROOT/app/umask.cgi" 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	UMASK=${output##*$'\n'}
}

@test "the policy's umask only adds bits to the umask the CGI would have had" {
	policy "root = $ROOT" "umask = 022"
	umask_of_cgi 077
	[[ $UMASK == 0077 ]] || fail "server umask 077 under a policy of 022: the CGI got $UMASK"
	umask_of_cgi 002
	[[ $UMASK == 0022 ]] || fail "server umask 002 under a policy of 022: the CGI got $UMASK"
	umask_of_cgi 077 --umask=000
	[[ $UMASK == 0022 ]] || fail "#! --umask=000 under a policy of 022: the CGI got $UMASK"
}

@test "an empty PATH element is not searched (not the CGI's directory, not /)" {
	printf '#!/bin/sh\necho found\n' >"$T/prog"
	chmod 0755 "$T/prog"
	cd "$T"
	run -127 --separate-stderr env -i PATH=":/usr/bin:/bin" "$CGIGUARD" prog 3>&-
	[[ $status -eq 127 && $stderr == "cgiguard: prog: command not found" ]] ||
		fail "status $status: $output $stderr"
	run -127 --separate-stderr env -i PATH="/usr/bin:/bin:" "$CGIGUARD" prog 3>&-
	[[ $status -eq 127 ]] || fail "a trailing empty element: status $status: $output"
	local top=cgiguard-prog-$BASHPID
	cp "$T/prog" "/$top"
	run -127 --separate-stderr env -i PATH=":/usr/bin:/bin" "$CGIGUARD" "$top" 3>&-
	rm -f "/$top"
	[[ $status -eq 127 ]] || fail "the empty element was searched as /: status $status: $output"
	run --separate-stderr env -i PATH="/usr/bin::/bin" "$CGIGUARD" sh -c 'echo ran' 3>&-
	[[ $status -eq 0 && $output == ran ]] || fail "the other elements: status $status: $stderr"
}

# pub_cgi: run $PUB/t.cgi as a server runs a #! CGI, as the CGI user.
function pub_cgi() {
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$PUB/t.cgi" \
		"$PUB/t.cgi" 3>&-
}

@test "without a policy, a #! script that is world-writable, in a world-writable directory or set-id is refused" {
	rm -f "$CONF"
	make_pubdir
	printf '#!%s /bin/sh\necho "Content-Type: text/plain"\necho\necho ran\n' "$CGIGUARD" >"$PUB/t.cgi"
	chmod 0755 "$PUB/t.cgi"
	pub_cgi
	[[ $status -eq 0 && $output == *ran ]] || fail "a sound script: status $status: $stderr"
	if can_hide_proc; then
		PROC_HIDDEN=1 pub_cgi
		[[ $status -eq 0 && $output == *ran ]] || fail "a sound script, /proc hidden: status $status: $stderr"
	fi
	chmod 0757 "$PUB/t.cgi"
	refused_both 126 "cgiguard: $PUB/t.cgi: writable by group or others" pub_cgi
	chmod 0755 "$PUB/t.cgi"
	chmod 0777 "$PUB"
	refused_both 126 "cgiguard: $PUB/t.cgi: its directory is writable by group or others" pub_cgi
	chmod 0755 "$PUB"
	chmod 2755 "$PUB/t.cgi"
	run --separate-stderr env -i "$PUB/t.cgi" 3>&-
	[[ $status -eq 126 && $stderr == "cgiguard: $PUB/t.cgi: set-user-ID or set-group-ID" ]] ||
		fail "set-id, outside CGI context: status $status: $stderr"
}

@test "an execute-only #! script, which cgiguard cannot read, is refused, never run as a command" {
	rm -f "$CONF"
	make_pubdir
	printf '#!%s /bin/sh\necho "Content-Type: text/plain"\necho\necho ran\n' "$CGIGUARD" >"$PUB/t.cgi"
	chmod 0711 "$PUB/t.cgi"
	refused_both 126 "cgiguard: $PUB/t.cgi: Permission denied (the file the kernel ran: cgiguard cannot tell how it was started)" pub_cgi
}

# nofile: run $PUB/t.cgi as pub_cgi does, with no descriptor to spare (RLIMIT_NOFILE 3).
function nofile() {
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$PUB/t.cgi" \
		/bin/sh -c 'ulimit -n 3 && exec "$0"' "$PUB/t.cgi" 3>&-
}

@test "a #! script cgiguard cannot open for want of a descriptor is refused, never run as a command" {
	requires static
	rm -f "$CONF"
	make_pubdir
	printf '#!%s /bin/sh\necho "Content-Type: text/plain"\necho\necho ran\n' "$CGIGUARD" >"$PUB/t.cgi"
	chmod 0755 "$PUB/t.cgi"
	# EMFILE's text is the libc's ("Too many open files", "No file descriptors available").
	for PROC_HIDDEN in "" 1; do
		nofile
		[[ $status -eq 126 && $output == "$PAGE_500" &&
			$stderr == "cgiguard: $PUB/t.cgi: "*" (the file the kernel ran: cgiguard cannot tell how it was started)" ]] ||
			fail "${PROC_HIDDEN:+/proc hidden: }status $status: $stderr; stdout: $output"
	done
	PROC_HIDDEN=
}

@test "a #! line whose interpreter is a script that runs cgiguard is refused in CGI context" {
	rm -f "$CONF"
	make_pubdir
	printf '#!%s -g 5 /bin/sh\necho "$@"\n' "$CGIGUARD" >"$PUB/inner"
	printf '#!%s\necho "Content-Type: text/plain"\necho\necho ran\n' "$PUB/inner" >"$PUB/t.cgi"
	chmod 0755 "$PUB/inner" "$PUB/t.cgi"
	refused_both 126 "cgiguard: #! line of $PUB/t.cgi: does not name cgiguard" pub_cgi
}

@test "a symlink inside the root is refused even where it stays beneath the root" {
	ln -s app "$ROOT/alias"
	refused_both 126 "cgiguard: $ROOT/alias/show.cgi: leaves its root or passes a symlink" \
		action /alias/show.cgi
}

@test "the policy's log: another tenant's symlink or FIFO in its place is never written" {
	install -d -m 1777 "$CONFDIR/logs"	# a directory every tenant can write: the trap
	echo private >"$CONFDIR/private"
	chown "$CGI_UID" "$CONFDIR/private"
	ln -s "$CONFDIR/private" "$CONFDIR/logs/cgiguard.log"
	policy "root = $ROOT" "log = $CONFDIR/logs/cgiguard.log" "verbose = yes"
	action /app/show.cgi
	[[ $status -eq 0 && $output == *argv=* ]] || fail "status $status: $stderr"
	[[ $(<"$CONFDIR/private") == private ]] || fail "the symlink was followed: $(cat "$CONFDIR/private")"
	[[ $(own_stderr) == "cgiguard: --log: $CONFDIR/logs/cgiguard.log: a symlink (not followed); logging to stderr"* ]] ||
		fail "stderr: $stderr"
	rm "$CONFDIR/logs/cgiguard.log"
	mkfifo -m 0666 "$CONFDIR/logs/cgiguard.log"
	action /app/show.cgi
	[[ $status -eq 0 && $output == *argv=* ]] || fail "FIFO: status $status: $stderr"
	[[ $(own_stderr) == "cgiguard: --log: $CONFDIR/logs/cgiguard.log: not a regular file; logging to stderr"* ]] ||
		fail "FIFO: stderr: $stderr"
	rm "$CONFDIR/logs/cgiguard.log"
	action /app/show.cgi
	[[ $status -eq 0 && ! -e $CONFDIR/logs/cgiguard.log ]] || fail "the log was created: status $status"
}

@test "refusals reach the policy's log, as do those made before the script is known" {
	install -m 0666 /dev/null "$CONFDIR/log"
	policy "root = $ROOT" "log = $CONFDIR/log"
	direct /bin/true
	refused 126 "cgiguard: direct request to the handler refused"
	grep -q 'event=refused reason="direct request to the handler refused"' "$CONFDIR/log" ||
		fail "no refused record in the policy's log: $(cat "$CONFDIR/log")"
	chmod 0757 "$ROOT/app/show.cgi"
	action /app/show.cgi
	refused 126 "cgiguard: $ROOT/app/show.cgi: writable by group or others"
	grep -q "event=refused reason=\"$ROOT/app/show.cgi: writable by group or others\" script=$ROOT/app/show.cgi" \
		"$CONFDIR/log" || fail "no record of the target check: $(cat "$CONFDIR/log")"
}

@test "a refusal quoting a path with a newline or an escape byte is one escaped line on stderr" {
	local dir=$ROOT/$'evil\nline'$'\e[31m'
	install -d -m 0755 "$dir"
	cp -p "$ROOT/app/show.cgi" "$dir/show.cgi"
	chmod 0757 "$dir/show.cgi"
	action "/${dir##*/}/show.cgi"
	refused 126 "cgiguard: $ROOT/evil\\x0aline\\x1b[31m/show.cgi: writable by group or others"
}

@test "--check[=FILE]: every bad line as FILE:LINE, exit 1; a sound file: 'FILE: OK', exit 0" {
	local cand=$CONFDIR/cgiguard.conf.new
	printf '%s\n' "root = $ROOT" "timout = 5m" "grace = 5 years" "clean-env = maybe" "grace = 10s" >"$cand"
	chmod 0644 "$cand"
	run --separate-stderr "$G" --check="$cand" 3>&-
	[[ $status -eq 1 && -z $output ]] || fail "status $status, stdout: $output"
	[[ $stderr == "cgiguard: $cand:2: unknown setting 'timout'
cgiguard: $cand:3: --grace: invalid duration '5 years'
cgiguard: $cand:4: clean-env: expected yes or no, not 'maybe'" ]] || fail "stderr: $stderr"
	sed -i '2,4d' "$cand"
	run --separate-stderr "$G" --check="$cand" 3>&-
	[[ $status -eq 0 && $output == "$cand: OK" && -z $stderr ]] || fail "status $status: $output $stderr"
	run --separate-stderr "$G" --check 3>&-
	[[ $status -eq 0 && $output == "$CONF: OK" && -z $stderr ]] || fail "the installed file: status $status: $output $stderr"
	chmod 0666 "$cand"
	run --separate-stderr "$G" --check="$cand" 3>&-
	[[ $status -eq 1 && $stderr == "cgiguard: $cand: not a regular file that only root can change" ]] ||
		fail "a file others can write: status $status: $stderr"
	rm "$cand"
	run --separate-stderr "$G" --check="$cand" 3>&-
	[[ $status -eq 1 && $stderr == "cgiguard: $cand: No such file or directory" ]] ||
		fail "no file: status $status: $stderr"
}

@test "a policy of 65536 bytes is read whole; one byte more is refused, never read in part" {
	local cand=$CONFDIR/cgiguard.conf.new pad
	printf -v pad '%*s' 65535 ''
	printf '%s\n' "${pad// /#}" >"$cand"	# one comment line of 65536 bytes
	chmod 0644 "$cand"
	(($(stat -c %s "$cand") == 65536)) || fail "fixture is $(stat -c %s "$cand") bytes"
	run --separate-stderr "$G" --check="$cand" 3>&-
	[[ $status -eq 0 && $output == "$cand: OK" ]] || fail "65536 bytes: status $status: $output $stderr"
	printf '\n' >>"$cand"
	run --separate-stderr "$G" --check="$cand" 3>&-
	[[ $status -eq 1 && $stderr == "cgiguard: $cand: larger than 65536 bytes" ]] ||
		fail "65537 bytes: status $status: $stderr"
}

@test "--check FILE SCRIPT: the settings a request would run with, after the caps, for this user; or why it is refused" {
	policy "root = $ROOT" "grace = 10s" "nofile = 64" "clean-env = yes" "pass-env = GITWEB_CONFIG"
	printf '#!%s --nofile=4096 -g 1h -t 5m /bin/sh\necho hi >%s/ran\n' "$G" "$CONFDIR" >"$ROOT/app/greedy.cgi"
	chmod 0755 "$ROOT/app/greedy.cgi"
	run --separate-stderr as_user "$G" --check "$ROOT/app/greedy.cgi" 3>&-
	[[ $status -eq 0 && -z $stderr ]] || fail "status $status: $stderr"
	[[ $output == "script=$ROOT/app/greedy.cgi form=#! program=/bin/sh grace=10.00s timeout=300.00s signal=TERM log=syslog verbose=no nofile=64 clean-env=yes pass-env=GITWEB_CONFIG uid=$CGI_UID checks=passed" ]] ||
		fail "stdout: $output"
	run --separate-stderr as_user "$G" --check="$CONF" "$ROOT/app/show.cgi" 3>&-
	[[ $status -eq 0 && $output == "script=$ROOT/app/show.cgi form=handler program=$ROOT/app/show.cgi grace=10.00s"* ]] ||
		fail "handler form: status $status: $output $stderr"
	chmod 0757 "$ROOT/app/show.cgi"
	run --separate-stderr as_user "$G" --check "$ROOT/app/show.cgi" 3>&-
	[[ $status -eq 1 && -z $output && $stderr == "cgiguard: $ROOT/app/show.cgi: writable by group or others" ]] ||
		fail "a script the checks refuse: status $status: $output $stderr"
	run --separate-stderr "$G" --check "$ROOT/app/greedy.cgi" 3>&-
	[[ $status -eq 1 && $stderr == "cgiguard: refusing to run a CGI as root" ]] ||
		fail "as root: status $status: $stderr"
	[[ ! -e $CONFDIR/ran ]] || fail "a checked script ran"
}

@test "--check SCRIPT on a compiled program, which has no #! line: the handler form, checked" {
	policy "root = $ROOT" "grace = 10s"
	cp /bin/true "$ROOT/app/true.cgi"
	chmod 0755 "$ROOT/app/true.cgi"
	run --separate-stderr as_user "$G" --check "$ROOT/app/true.cgi" 3>&-
	[[ $status -eq 0 && -z $stderr ]] || fail "status $status: $stderr"
	[[ $output == "script=$ROOT/app/true.cgi form=handler program=$ROOT/app/true.cgi grace=10.00s "*" checks=passed" ]] ||
		fail "stdout: $output"
}

@test "--check: bad usage is 125; in CGI context it is never honoured" {
	run --separate-stderr "$G" --check=relative.conf 3>&-
	[[ $status -eq 125 && $stderr == "cgiguard: --check: 'relative.conf' is not an absolute path (see cgiguard --help)" ]] ||
		fail "relative: status $status: $stderr"
	run --separate-stderr "$G" --check "$CONF" a b 3>&-
	[[ $status -eq 125 && $stderr == "cgiguard: '--check' takes a policy file and a script, no more (see cgiguard --help)" ]] ||
		fail "too many: status $status: $stderr"
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 "$G" --check 3>&-
	refused 125 "cgiguard: '--check' is an admin command: only alone on the command line, outside CGI context"
}
