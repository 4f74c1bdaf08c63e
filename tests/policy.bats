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
	action /app/show.cgi --timeout=999999 -g 0 --log=/tmp/x /bin/sh
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $output == *"argv=--timeout=999999 -g 0 --log=/tmp/x /bin/sh"* ]] || fail "$output"
	[[ ! -e /tmp/x ]] || fail "a client word opened a log file"
}

@test "the environment never carries HTTP_PROXY or loader and shell variables" {
	action /app/show.cgi
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $output == *"FOO=kept"* ]] || fail "$output"
	for v in HTTP_PROXY LD_PRELOAD BASH_ENV IFS GLIBC_TUNABLES; do
		[[ $output != *"$v="* ]] || fail "$v reached the CGI: $output"
	done
}

@test "a direct request to the handler is refused" {
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$G" \
		PATH_INFO=/app/show.cgi PATH_TRANSLATED="$ROOT/app/show.cgi" "$G" 3>&-
	refused 126 "cgiguard: direct request to the handler refused"
}

@test "handler mode without a root in the policy is refused, as is no policy at all" {
	policy "grace = 5s"
	action /app/show.cgi
	refused 126 "cgiguard: handler mode needs a root in $CONF"
	rm -f "$CONF"
	action /app/show.cgi
	refused 126 "cgiguard: handler mode needs a root in $CONF"
}

@test "traversal out of the root is refused" {
	action /app/../../../../etc/passwd
	refused 126 "cgiguard: $ROOT/app/../../../../etc/passwd: leaves its root or passes a symlink"
}

@test "a symlink to a script outside the root is refused" {
	printf '#!/bin/sh\necho argv=outside\n' >/run/cgiguard-outside.cgi
	chmod 0755 /run/cgiguard-outside.cgi
	ln -s /run/cgiguard-outside.cgi "$ROOT/app/link.cgi"
	action /app/link.cgi
	rm -f /run/cgiguard-outside.cgi
	refused 126 "cgiguard: $ROOT/app/link.cgi: a symlink (not followed)"
}

@test "world-writable scripts and directories, and set-id scripts, are refused" {
	chmod 0757 "$ROOT/app/show.cgi"
	action /app/show.cgi
	refused 126 "cgiguard: $ROOT/app/show.cgi: writable by group or others"
	chmod 0755 "$ROOT/app/show.cgi"
	chmod 0775 "$ROOT/app"
	action /app/show.cgi
	refused 126 "cgiguard: $ROOT/app/show.cgi: its directory is writable by group or others"
	chmod 0755 "$ROOT/app"
	chmod 4755 "$ROOT/app/show.cgi"
	action /app/show.cgi
	refused 126 "cgiguard: $ROOT/app/show.cgi: set-user-ID or set-group-ID"
}

@test "refuse-own-files refuses a script owned by the user it would run as" {
	policy "root = $ROOT" "refuse-own-files = yes"
	chown "$CGI_UID" "$ROOT/app/show.cgi"
	action /app/show.cgi
	refused 126 "cgiguard: $ROOT/app/show.cgi: owned by the user it would run as"
}

@test "a policy file writable by others, or in a directory writable by others, is refused" {
	chmod 0666 "$CONF"
	action /app/show.cgi
	refused 125 "cgiguard: $CONF: not a regular file that only root can change"
	chmod 0644 "$CONF"
	chmod 0777 "$CONFDIR"
	action /app/show.cgi
	chmod 0755 "$CONFDIR"
	refused 125 "cgiguard: $CONF: directory $CONFDIR is not owned by root or is writable by others"
}

@test "a policy file with an unknown setting or a bad value fails closed with its line" {
	policy "root = $ROOT" "gracee = 5s"
	action /app/show.cgi
	refused 125 "cgiguard: $CONF:3: unknown setting 'gracee'"
	policy "root = $ROOT" "grace = 5 years"
	action /app/show.cgi
	refused 125 "cgiguard: $CONF:3: --grace: invalid duration '5 years'"
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
	start_front slow -- setpriv --reuid="$CGI_UID" --regid="$CGI_GID" --init-groups \
		env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$ROOT/app/slow.cgi" \
		"$ROOT/app/slow.cgi"
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

# abort_many N: N requests to a slow CGI that ignores TERM, each abandoned once it runs;
# started 50 at a time, as a server under a wave of aborting clients would.
function abort_many() {
	local n=$1 done=0 b i pids
	install -m 0777 -d "$CONFDIR/run"
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
			setpriv --reuid="$CGI_UID" --regid="$CGI_GID" --init-groups env -i \
				GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$ROOT/app/slow.cgi" \
				"$ROOT/app/slow.cgi" </dev/null >/dev/null 2>&1 3>&- &
			pids+=($!)
		done
		track "${pids[@]}"
		poll 20 started "$b" || fail "only $(started) of $b requests started"
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

# survivors: the slow CGIs still running; at_most N: no more than N of them.
function survivors() {
	pgrep -u "$CGI_UID" -f '^sleep 60$' | wc -l
}
function at_most() {
	(($(survivors) <= $1))
}

@test "1,000 aborted requests to a slow CGI leave at most the capped survivors" {
	policy "root = $ROOT" "survivors-per-user = 3"
	pkill -KILL -u "$CGI_UID" -f '^sleep 60$' || true
	abort_many 1000
	# the others get the server's usual 3 s; the capped ones their full grace
	poll 10 at_most 3 || fail "$(survivors) survivors, cap 3"
	n=$(survivors)
	pkill -KILL -u "$CGI_UID" -f '^sleep 60$' || true
	((n >= 1)) || fail "no survivor at all"
	grep -q 'event=no-slot cap=user grace=3.00s' "$CONFDIR/run/log" || fail "no no-slot record"
}

@test "survivors-per-script = 0: an abandoned CGI is treated as without cgiguard" {
	policy "root = $ROOT" "survivors-per-script = 0"
	pkill -KILL -u "$CGI_UID" -f '^sleep 60$' || true
	abort_many 1
	poll 6 at_most 0 || fail "$(survivors) survivors with a cap of 0"
	grep -q 'event=no-slot cap=script' "$CONFDIR/run/log" || fail "$(cat "$CONFDIR/run/log")"
}

@test "busybox's form with a root: the bare name is resolved through SCRIPT_FILENAME and checked" {
	cd "$ROOT/app"
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 \
		SCRIPT_FILENAME="$ROOT/app/show.cgi" "$G" show.cgi 3>&-
	[[ $status -eq 0 && $output == *argv=* ]] || fail "status $status: $stderr"
	chmod 0757 "$ROOT/app/show.cgi"
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 \
		SCRIPT_FILENAME="$ROOT/app/show.cgi" "$G" show.cgi 3>&-
	refused 126 "cgiguard: $ROOT/app/show.cgi: writable by group or others"
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
	action /app/show.cgi
	refused 125 "cgiguard: $CONF:10: root: more than 8 roots"
	policy "root = $ROOT" "log = logs/cgiguard.log"
	action /app/show.cgi
	refused 125 "cgiguard: $CONF:3: --log: 'logs/cgiguard.log' is not an absolute path"
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

@test "without a policy, a #! script that is world-writable, in a world-writable directory or set-id is refused" {
	rm -f "$CONF"
	make_pubdir
	printf '#!%s /bin/sh\necho "Content-Type: text/plain"\necho\necho ran\n' "$CGIGUARD" >"$PUB/t.cgi"
	chmod 0755 "$PUB/t.cgi"
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$PUB/t.cgi" \
		"$PUB/t.cgi" 3>&-
	[[ $status -eq 0 && $output == *ran ]] || fail "a sound script: status $status: $stderr"
	chmod 0757 "$PUB/t.cgi"
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$PUB/t.cgi" \
		"$PUB/t.cgi" 3>&-
	refused 126 "cgiguard: $PUB/t.cgi: writable by group or others"
	chmod 0755 "$PUB/t.cgi"
	chmod 0777 "$PUB"
	run --separate-stderr as_user env -i GATEWAY_INTERFACE=CGI/1.1 SCRIPT_FILENAME="$PUB/t.cgi" \
		"$PUB/t.cgi" 3>&-
	refused 126 "cgiguard: $PUB/t.cgi: its directory is writable by group or others"
	chmod 0755 "$PUB"
	chmod 2755 "$PUB/t.cgi"
	run --separate-stderr env -i "$PUB/t.cgi" 3>&-
	[[ $status -eq 126 && $stderr == "cgiguard: $PUB/t.cgi: set-user-ID or set-group-ID" ]] ||
		fail "set-id, outside CGI context: status $status: $stderr"
}

