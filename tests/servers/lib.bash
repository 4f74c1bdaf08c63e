# tests/servers/lib.bash: helpers shared by the real-server tests.
#
# Sourced by every tests/servers/*.bats and by the per-server helpers
# (apache.bash, lighttpd.bash, nginx-fcgiwrap.bash, busybox.bash). Self-contained:
# no bats-assert. Every wait polls with a bound in count and in time; every
# process is started with only fds 0-2 (bats waits on the others) and stopped
# by its pid. Servers listen on 127.0.0.1 only. Run as root, under a reaper:
#   tini -s -- bats tests/servers
#
# Knobs (environment):
#   CGIGUARD                  binary under test (default: the repo's ./cgiguard)
#   CGIGUARD_TRIALS           seed trials per server and form (default 2; make check-servers: 20)
#   CGIGUARD_JOBS             trials of one form run at once (default: all, at most 5)
#   CGIGUARD_REQUIRE_SERVERS  1: a missing server fails instead of skipping
#   CGIGUARD_LARGE_MB         size of the large-body response (default 20; check-servers: 100)
#   CGIGUARD_RESULTS          summary file (default tests/servers/results.txt)
#   CGIGUARD_KEEP_TMP         1: keep the per-file site directory for inspection

SERVERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SERVERS_DIR/../.." && pwd)
CGIGUARD=${CGIGUARD:-$REPO/cgiguard}
CGI_USER=cgitest
TRIALS=${CGIGUARD_TRIALS:-2}
JOBS=${CGIGUARD_JOBS:-$((TRIALS < 5 ? TRIALS : 5))}
LARGE_MB=${CGIGUARD_LARGE_MB:-20}
RESULTS=${CGIGUARD_RESULTS:-$SERVERS_DIR/results.txt}
# The #! line of every guarded test script; RECIPES.md shows it without the -l.
SHEBANG_OPTS="-g 30"

fail() {
	printf '%s\n' "$*" >&2
	return 1
}

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# poll SECONDS CMD...: run CMD every 25 ms until it succeeds, for at most SECONDS.
poll() {
	local secs=$1 n=0 deadline
	shift
	deadline=$(($(now_ms) + secs * 1000))
	while ((n++ < secs * 40 + 1)); do
		"$@" && return 0
		(($(now_ms) < deadline)) || break
		sleep 0.025
	done
	"$@"
}

# --- prerequisites ---------------------------------------------------------

# need_server NAME CMD...: for setup_file, where bats 1.8 cannot skip: if
# a CMD is missing (or we are not root), the reason goes into SERVER_SKIP and
# every test's setup() skips with it (or fails, with CGIGUARD_REQUIRE_SERVERS=1).
need_server() {
	local name=$1 cmd
	shift
	if ((EUID != 0)); then
		export SERVER_SKIP="$name: the server tests need root (servers start as root, CGIs run as $CGI_USER)"
		return 0
	fi
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 && continue
		export SERVER_SKIP="$name not installed ($cmd not found)"
		return 0
	done
	export SERVER_SKIP=
}

# Call first in every test's setup().
server_test_setup() {
	if [[ -n ${SERVER_SKIP:-} ]]; then
		[[ ${CGIGUARD_REQUIRE_SERVERS:-0} != 1 ]] || fail "$SERVER_SKIP (CGIGUARD_REQUIRE_SERVERS=1)"
		skip "$SERVER_SKIP"
	fi
	[[ -n ${SERVER_PID:-} ]] || fail "server did not start; its logs:
${SERVER_START_LOG:-(none)}"
	ZOMBIES_BEFORE=$(zombies)
	ERRLOG_LINES=$({ wc -l <"$SITE/logs/error.log"; } 2>/dev/null || echo 0)
}

need_cgiguard() {
	[[ -x $CGIGUARD ]] || skip "cgiguard not built ($CGIGUARD missing: run make)"
}

# Orphans must be reaped by someone: PID 1 here does not. Demand a tini ancestor.
reaper_pid() {
	local pid=$$ comm
	while ((pid > 1)); do
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || break
		[[ $comm == tini ]] && { echo "$pid"; return 0; }
		pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")
	done
	return 1
}
need_reaper() {
	reaper_pid >/dev/null && return 0
	[[ ${CGIGUARD_NO_REAPER_CHECK:-0} == 1 ]] && return 0
	fail "run under a subreaper: tini -s -- bats tests/servers (PID 1 does not reap orphans)"
}

ensure_cgi_user() {
	id -u "$CGI_USER" >/dev/null 2>&1 && return 0
	useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$CGI_USER"
}

# free_port: a TCP port no socket uses, below the kernel's ephemeral range, where
# no client connection (curl's, ab's, a server's own) can take it before the
# server binds it (the server's own bind is the real test).
free_port() {
	local port n lo=32768
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range || lo=32768
	((lo > 12000)) || fail "ephemeral ports start at $lo: no room below them"
	for ((n = 0; n < 50; n++)); do
		port=$((10000 + RANDOM % (lo - 10000)))
		[[ -z $(ss -Htan "sport = :$port") ]] && { echo "$port"; return 0; }
	done
	fail "no free port found"
}

# --- processes -------------------------------------------------------------

# close_fds: close every descriptor above 2. bats waits for EOF on descriptors
# it owns (3 and others), so a server or client must not inherit them.
close_fds() {
	local fd
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
	done
	return 0
}

# spawn CMD...: start CMD in the background with only fds 0-2; its pid is $!.
spawn() {
	(
		close_fds
		exec "$@"
	) &
}

alive() { [[ -e /proc/$1 ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
gone() { ! alive "$1"; }

# stop_pid PID [SECONDS]: TERM, wait until gone, then KILL; fail if it survives.
stop_pid() {
	local pid=$1 secs=${2:-10}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	poll "$secs" gone "$pid" && return 0
	kill -KILL "$pid" 2>/dev/null
	poll 5 gone "$pid" || fail "pid $pid survived SIGKILL"
	fail "pid $pid ignored SIGTERM for ${secs}s (killed)"
}

# wait_http URL PID SECONDS: poll until URL answers 200; fail early if PID died.
wait_http() {
	local url=$1 pid=$2 secs=$3 n=0 deadline
	deadline=$(($(now_ms) + secs * 1000))
	while ((n++ < secs * 20 + 1)); do
		curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
		alive "$pid" || fail "server pid $pid exited while starting"
		(($(now_ms) < deadline)) || break
		sleep 0.05
	done
	fail "no answer from $url within ${secs}s"
}

# The test's own processes: those of the CGI user whose environment names the
# site (every CGI gets DOCUMENT_ROOT or SCRIPT_FILENAME in it, and so do its
# children and cgiguard's), less the server's own (SERVER_COMMS). Other suites
# on this machine may run processes as the same user: those are not ours.
ours() {
	[[ -n ${SITE:-} ]] && grep -qzF "$SITE/" "/proc/$1/environ" 2>/dev/null
}
leftovers() {
	local pid uid stat comm args
	while read -r pid uid stat comm args; do
		[[ $uid == "$CGI_UID" && $stat != Z* ]] || continue
		[[ " ${SERVER_COMMS:-} " == *" $comm "* ]] && continue
		ours "$pid" && echo "$pid $stat $comm $args"
	done < <(ps -e -o pid=,uid=,stat=,comm=,args=)
	return 0
}
no_leftovers() { [[ -z $(leftovers) ]]; }

# Zombies whose parent is ours, a server process, or our reaper (tini).
zombies() {
	local pid ppid stat parents
	parents=" $(server_pids) $(reaper_pid) "
	while read -r pid ppid stat; do
		[[ $stat == Z* ]] || continue
		[[ $parents == *" $ppid "* ]] || ours "$ppid" || continue
		echo "$pid"
	done < <(ps -e -o pid=,ppid=,stat=)
	return 0
}
server_pids() {
	local c
	for c in ${SERVER_COMMS:-}; do pgrep -x "$c"; done | tr '\n' ' '
}
# Server processes of this site still running (after the server was stopped).
server_leftovers() {
	local pid
	for pid in $(server_pids); do
		grep -qzF "$SITE/" "/proc/$pid/cmdline" "/proc/$pid/environ" 2>/dev/null &&
			echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
	done
	return 0
}
no_server_leftovers() { [[ -z $(server_leftovers) ]]; }
new_zombies() { comm -13 <(echo "${ZOMBIES_BEFORE:-}" | sort) <(zombies | sort) | grep .; }
no_new_zombies() { ! new_zombies >/dev/null; }
# zombie_info PID...: each zombie with its parent, for the failure message.
zombie_info() {
	local pid
	for pid in "$@"; do
		echo "$(ps -o pid=,ppid=,stat=,comm= -p "$pid" 2>/dev/null || echo "$pid (gone)")" \
			"parent: $(ps -o pid=,comm=,args= -p "$(ps -o ppid= -p "$pid" 2>/dev/null)" 2>/dev/null)"
	done
}

# assert_clean [SECONDS]: after a scenario: no process of the test left, no new zombie.
assert_clean() {
	local secs=${1:-15}
	poll "$secs" no_leftovers || fail "processes left after the scenario:" "$(leftovers)"
	poll 5 no_new_zombies || fail "zombies left after the scenario:" "$(zombie_info $(new_zombies))"
}

# --- the site every server serves --------------------------------------------
#
# $SITE/htdocs/cgi-bin/NAME.cgi      plain CGI (#!/bin/sh): the control
# $SITE/htdocs/cgi-bin/NAME.sb.cgi   the same with #!$CGIGUARD $SHEBANG_OPTS -l LOG /bin/sh
# $SITE/htdocs/cgi-bin/NAME.gcgi     plain CGI for interpreter forms (busybox *.gcgi:cgiguard)
# $SITE/wrap-bin/NAME.cgi            shell wrapper: exec cgiguard -g 30 -l LOG .../NAME.cgi "$@"
# $SITE/state                        data files and notes the CGIs write (owned by the CGI user)
# $SITE/logs                         server logs; logs/cgiguard.log written by cgiguard
#
# The site is a new directory in $SITE_PARENT (default /tmp).

make_site() {
	ensure_cgi_user
	CGI_UID=$(id -u "$CGI_USER")
	SITE=$(mktemp -d "${SITE_PARENT:-/tmp}/cgiguard-servers.XXXXXX")
	chmod 755 "$SITE"
	mkdir -p "$SITE"/{htdocs/cgi-bin,wrap-bin,state,logs,run,fixtures}
	chmod 755 "$SITE"/*
	chown "$CGI_USER:" "$SITE/state"
	: >"$SITE/logs/cgiguard.log"
	chown "$CGI_USER:" "$SITE/logs/cgiguard.log"
	echo ok >"$SITE/htdocs/ready.txt"
	make_fixtures
	local src name
	for src in "$SERVERS_DIR"/cgi/*.cgi; do
		name=$(basename "$src" .cgi)
		install_cgi "$src" "$name"
	done
	export SITE CGI_UID
}

# shebang_line [OPTION...]: the first line of a guarded /bin/sh CGI.
shebang_line() {
	echo "#!$CGIGUARD $SHEBANG_OPTS${*:+ $*} /bin/sh"
}

# wrapper_script SCRIPT [OPTION...]: a shell wrapper that runs SCRIPT guarded.
wrapper_script() {
	local script=$1
	shift
	printf '#!/bin/sh\nexec %s %s%s %s "$@"\n' "$CGIGUARD" "$SHEBANG_OPTS" "${*:+ $*}" "$script"
}

install_cgi() {
	local src=$1 name=$2 bin=$SITE/htdocs/cgi-bin log=$SITE/logs/cgiguard.log
	sed -e "s|@STATE@|$SITE/state|g" -e "s|@FIXTURES@|$SITE/fixtures|g" "$src" >"$bin/$name.cgi"
	{
		shebang_line -l "$log"
		tail -n +2 "$bin/$name.cgi"
	} >"$bin/$name.sb.cgi"
	cp "$bin/$name.cgi" "$bin/$name.gcgi"
	wrapper_script "$bin/$name.cgi" -l "$log" >"$SITE/wrap-bin/$name.cgi"
	chmod 755 "$bin/$name.cgi" "$bin/$name.sb.cgi" "$bin/$name.gcgi" "$SITE/wrap-bin/$name.cgi"
}

# Deterministic test data: 1 MiB with every byte value (binary body, large body, POST).
make_fixtures() {
	local f=$SITE/fixtures
	python3 - "$f/binary.bin" <<-'EOF'
		import random, sys
		r = random.Random(8063)
		data = bytes(range(256)) * 16 + bytes(r.getrandbits(8) for _ in range(1048576 - 4096))
		open(sys.argv[1], "wb").write(data)
	EOF
	local i
	for ((i = 1; i <= 200; i++)); do
		printf 'record %03d: the data file is whole only if this file has 200 records\n' "$i"
	done >"$f/seed.expected"
	for ((i = 0; i < 5; i++)); do cat "$f/binary.bin"; done >"$f/post.bin"
	chmod 644 "$f"/*
}

remove_site() {
	[[ -n ${SITE:-} && -d $SITE ]] || return 0
	[[ ${CGIGUARD_KEEP_TMP:-0} == 1 ]] && { echo "kept $SITE" >&2; return 0; }
	rm -rf "$SITE"
}

# server_setup_file START_FN CMD...: for setup_file: unless a CMD is missing,
# make the site and start the server.
server_setup_file() {
	local start_fn=$1
	shift
	need_server "${SERVER_NAME:?}" "$@"
	[[ -z $SERVER_SKIP ]] || return 0
	need_reaper
	make_site
	SERVER_START_LOG=
	if ! "$start_fn" 2>"$SITE/logs/setup.err"; then
		# setup_file's output is not shown: each test's failure says it.
		SERVER_START_LOG=$(tail -n 20 "$SITE"/logs/* 2>&1)
		SERVER_PID=
	fi
	export SERVER_PID SERVER_COMMS PORT BASE SERVER_START_LOG
}

server_teardown_file() {
	local stop_fn=$1 rc=0
	[[ -n ${SITE:-} ]] || return 0
	"$stop_fn" || rc=1
	poll 10 no_leftovers || { fail "processes left after stopping the server:" "$(leftovers)"; rc=1; }
	poll 10 no_server_leftovers || { fail "server processes left:" "$(server_leftovers)"; rc=1; }
	((rc == 0)) && remove_site
	return $rc
}

# --- the admin's policy file (handler mode, target checks) -------------------------
#
# The policy build of cgiguard (make tests/cgiguard-policy) reads its policy from
# $POLICY_DIR/cgiguard.conf; the directory and the file must be root's and
# writable by no one else. Only one test file may use it at a time (bats runs
# files one after another; tests/policy.bats uses the same directory).

POLICY_BIN=${CGIGUARD_POLICY:-$REPO/tests/cgiguard-policy}
POLICY_DIR=$(dirname "${CGIGUARD_TESTCONF:-/run/cgiguard-test/cgiguard.conf}")
POLICY_CONF=$POLICY_DIR/cgiguard.conf

# need_policy_bin: for setup_file, after need_server: skip (through SERVER_SKIP) without the build.
need_policy_bin() {
	[[ -n ${SERVER_SKIP:-} || -x $POLICY_BIN ]] && return 0
	export SERVER_SKIP="no policy build at $POLICY_BIN (make tests/cgiguard-policy)"
}

# write_policy LINE...: the policy file, root-owned, mode 0644, in a 0755 directory.
write_policy() {
	install -d -o root -g root -m 0755 "$POLICY_DIR"
	printf '%s\n' "# cgiguard test policy (tests/servers)" "$@" >"$POLICY_CONF.new"
	chmod 0644 "$POLICY_CONF.new"
	mv -f "$POLICY_CONF.new" "$POLICY_CONF"
}

remove_policy() { rm -rf "$POLICY_DIR"; }

# install_handler: the policy build as $SITE/cgi-sys/cgiguard (HANDLER_DIR, root-owned, 0755).
install_handler() {
	HANDLER_DIR=$SITE/cgi-sys
	install -d -o root -g root -m 0755 "$HANDLER_DIR"
	install -o root -g root -m 0755 "$POLICY_BIN" "$HANDLER_DIR/cgiguard"
	# Not exported: ours() takes any process whose environment names "$SITE/" for the test's.
}

# errlog_since: the lines the server's error log gained during this test.
errlog_since() { tail -n +"$((ERRLOG_LINES + 1))" "$SITE/logs/error.log"; }
