# Shared helpers for the cgiguard bats suite. Self-contained: no bats-assert, no bats-support.
#
# Every test starts real processes. Each one a test starts (and each CGI, keeper, process
# group and session it learns about) is recorded under $BATS_TEST_TMPDIR and killed by pid in
# teardown; anything still running whose arguments name this test's directories is killed too.
# Waiting is done by polling with a bounded deadline (poll, poll_until, wait_gone, wait_file);
# every time is taken from one clock, now_us (EPOCHREALTIME; the spawn fixture's END_US is the
# same clock, gettimeofday).
#
# Run the suite under a subreaper, as PID 1 of the sandbox does not reap orphans:
#     tini -s -- bats tests

# shellcheck disable=SC2034 # the helpers set variables for the tests (ENDED, END_US, SPAWN...)
bats_require_minimum_version 1.5.0

CGIGUARD=${CGIGUARD:-$BATS_TEST_DIRNAME/../cgiguard}
# A #! line must name the binary by its absolute, real path.
CGIGUARD=$(realpath -m -- "$CGIGUARD")

# Variables a web server sets; a test that wants CGI context sets them itself.
CGI_VARS=(GATEWAY_INTERFACE SERVER_SOFTWARE SERVER_NAME SERVER_PROTOCOL SERVER_PORT
	REQUEST_METHOD REQUEST_URI QUERY_STRING SCRIPT_NAME SCRIPT_FILENAME PATH_INFO
	PATH_TRANSLATED DOCUMENT_ROOT REMOTE_ADDR REMOTE_PORT REMOTE_USER CONTENT_TYPE
	CONTENT_LENGTH REDIRECT_STATUS REDIRECT_URL REDIRECT_HANDLER HTTP_PROXY HTTP_HOST)

function fail() {
	[[ $# -eq 0 ]] || echo "$@" >&2
	exit 1
}

function common_setup() {
	export LC_ALL=C
	unset "${CGI_VARS[@]}"
	T=$BATS_TEST_TMPDIR
	PUB=
	# shellcheck disable=SC2016 # $0 is the inner shell's
	AS_USER=(/bin/sh -c 'echo "$0: no CGI user (cgi_user or use_user)" >&2; exit 125' AS_USER)
	: >"$T/.pids"
	: >"$T/.groups"
	: >"$T/.sessions"
	local stat
	stat=$(<"/proc/$$/stat")
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	OWN_PGID=$3
	OWN_SID=$4
	# msleep: a fifo opened read-write never has data, so `read -t` on it is a fork-free sleep.
	mkfifo "$T/.sleep"
	exec {SLEEP_FD}<>"$T/.sleep"
	# The fixtures are the same for every test of a file: written once.
	SPAWN=$BATS_FILE_TMPDIR/spawn
	PROBE=$T/probe.cgi
	[[ -e $SPAWN ]] || write_spawn
	[[ -e $BATS_FILE_TMPDIR/probe.cgi ]] || write_probe
	cp "$BATS_FILE_TMPDIR/probe.cgi" "$PROBE"
	[[ -x $CGIGUARD ]] || fail "no cgiguard binary at $CGIGUARD (run make)"
}

function common_teardown() {
	kill_everything
	if [[ -n ${SLEEP_FD:-} ]]; then exec {SLEEP_FD}>&-; fi
	if [[ -n ${PUB:-} && -d $PUB ]]; then rm -rf -- "$PUB"; fi
}

# requires FEATURE...: skip the test unless each feature is there.
function requires() {
	local f
	for f in "$@"; do
		case $f in
		root) [[ $EUID -eq 0 ]] || skip "needs root" ;;
		reaper) under_reaper || skip "run the suite under a subreaper: tini -s -- bats tests" ;;
		# The POSIX build (make check-posix) has no subreaper: escaped descendants are not ours.
		linux-extras) [[ -z ${CGIGUARD_POSIX:-} ]] || skip "needs the Linux extras (subreaper, /proc)" ;;
		posix-build) [[ -n ${CGIGUARD_POSIX:-} ]] || skip "a case of the POSIX build only (make check-posix)" ;;
		# A dynamic build's loader needs descriptors of its own before main runs.
		static) [[ -z ${CGIGUARD_DYNAMIC:-} ]] || skip "needs a static build (the loader opens files)" ;;
		proc-hiding) can_hide_proc || skip "hides /proc: needs root and a build whose runtime does without it (not the sanitizers')" ;;
		*) fail "requires: unknown feature $f" ;;
		esac
	done
}

# under_reaper: is an ancestor of this shell tini (which, with -s, reaps our orphans)?
function under_reaper() {
	local pid=$$ comm
	while [[ $pid -gt 1 ]]; do
		comm=$(<"/proc/$pid/comm") || return 1
		[[ $comm == tini ]] && return 0
		pid=$(ps -o ppid= -p "$pid" | tr -d ' ')
		[[ -n $pid ]] || return 1
	done
	return 1
}

# ---------------------------------------------------------------- time and polling

# msleep SECONDS: sleep without forking (fractions allowed).
function msleep() {
	read -r -t "$1" -u "$SLEEP_FD" _ || true
}

# now_us: microseconds since the epoch, in $REPLY (no subshell).
function now_us() {
	local t=$EPOCHREALTIME
	REPLY=$((10#${t/[.,]/}))
}

# elapsed_ms T0_US: milliseconds since T0_US (from now_us), in REPLY.
function elapsed_ms() {
	local t0=$1
	now_us
	REPLY=$(((REPLY - t0) / 1000))
}

# poll SECONDS cmd...: run cmd every 20 ms until it succeeds; fail after SECONDS.
function poll() {
	local secs=$1
	shift
	now_us
	poll_until $((REPLY + $(to_us "$secs"))) "$@" && return 0
	echo "poll: '$*' did not succeed within ${secs}s" >&2
	return 1
}

# poll_until DEADLINE_US cmd...: run cmd every 20 ms until it succeeds; fail once the clock
# (now_us) is past DEADLINE_US, with REPLY the time of the last try.
function poll_until() {
	local deadline=$1
	shift
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		now_us
		((REPLY <= deadline)) || return 1
		msleep 0.02
	done
}

# to_us SECONDS: seconds (fractions allowed) to integer microseconds.
function to_us() {
	local s=$1 int frac
	int=${s%%.*}
	frac=
	[[ $s == *.* ]] && frac=${s#*.}
	frac=${frac}000000
	echo $((10#${int:-0} * 1000000 + 10#${frac:0:6}))
}

# wait_file FILE [SECONDS]: wait until FILE exists.
function wait_file() {
	poll "${2:-5}" test -e "$1" || {
		echo "wait_file: $1 did not appear within ${2:-5}s" >&2
		return 1
	}
}

# ---------------------------------------------------------------- processes

# starttime PID: the start time of PID (field 22 of /proc/PID/stat), to tell a recycled pid.
function starttime() {
	local s
	{ s=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo "${20}"
}

# pstate PID: the state letter of PID (R, S, Z...), or nothing if it does not exist.
function pstate() {
	local s
	{ s=$(<"/proc/$1/stat"); } 2>/dev/null || return 0
	s=${s##*) }
	echo "${s%% *}"
}

# alive PID: PID exists and is not a zombie.
function alive() {
	local st
	st=$(pstate "$1")
	[[ -n $st && $st != Z && $st != X ]]
}

# not_alive PID: PID has ended: a zombie not yet reaped, or gone.
function not_alive() { ! alive "$1"; }

# gone PID: PID no longer exists at all (not even as a zombie).
function gone() {
	[[ ! -e /proc/$1 ]]
}

# wait_gone PID [SECONDS]: wait until PID is dead and reaped (a zombie is not gone).
function wait_gone() {
	local pid=$1 secs=${2:-5}
	poll "$secs" gone "$pid" && return 0
	echo "wait_gone: pid $pid still there after ${secs}s: $(ps -o pid=,ppid=,stat=,args= -p "$pid")$(zombie_hint "$pid")" >&2
	return 1
}

# zombie_hint PID: a note when PID is a zombie and nothing here reaps orphans.
function zombie_hint() {
	if [[ $(pstate "$1") == Z ]] && ! under_reaper; then
		echo " (a zombie: run the suite under tini -s, PID 1 here does not reap orphans)"
	fi
	return 0
}

# wait_gone_by DEADLINE_US PID: wait until PID is gone, at the latest at DEADLINE_US (epoch us).
function wait_gone_by() {
	local deadline=$1 pid=$2
	poll_until "$deadline" gone "$pid" && return 0
	echo "wait_gone_by: pid $pid still there $(((REPLY - deadline) / 1000)) ms after the deadline: $(ps -o pid=,ppid=,stat=,args= -p "$pid")$(zombie_hint "$pid")" >&2
	return 1
}

# track PID...: record processes for teardown (with their start time, against pid reuse).
function track() {
	local p st
	for p in "$@"; do
		[[ $p =~ ^[0-9]+$ ]] || continue
		# Already gone: nothing to kill, and the pid may be someone else's by teardown.
		st=$(starttime "$p") || continue
		echo "$p $st" >>"$T/.pids"
	done
	return 0
}

# track_group PGID / track_session SID: teardown kills the whole group / session.
function track_group() {
	[[ $1 =~ ^[0-9]+$ && $1 != "$OWN_PGID" && $1 -gt 1 ]] && echo "$1" >>"$T/.groups"
	return 0
}
function track_session() {
	[[ $1 =~ ^[0-9]+$ && $1 != "$OWN_SID" && $1 -gt 1 ]] && echo "$1" >>"$T/.sessions"
	return 0
}

# same_process PID STARTTIME: PID is still the process that was tracked.
function same_process() {
	local now
	now=$(starttime "$1") || return 1
	[[ $now == "$2" ]]
}

# kill_tracked SIG PID: signal PID only if it is still the process tracked under that pid.
function kill_tracked() {
	local sig=$1 pid=$2 p st
	while read -r p st; do
		if [[ $p == "$pid" ]]; then
			same_process "$p" "$st" && kill -"$sig" "$p" 2>/dev/null
			return 0
		fi
	done <"$T/.pids"
	return 0
}

# marker_pids DIR...: processes (other than this shell) whose arguments contain one of DIR.
function marker_pids() {
	local d
	for d in "$@"; do
		[[ -n $d ]] || continue
		ps -eo pid=,args= | M=$d awk -v self=$$ -v me="$BASHPID" \
			'{ p = $1; $1 = ""; if (index($0, ENVIRON["M"]) && p != self && p != me) print p }'
	done
}

# kill_everything: teardown. Kill by pid every process recorded, every recorded process group
# and session (never our own), and every process whose arguments name this test's dirs.
function kill_everything() {
	local p st g s victims=()
	[[ -n ${T:-} && -f $T/.pids ]] || return 0
	while read -r p st; do
		if same_process "$p" "$st" && kill -KILL "$p" 2>/dev/null; then
			victims+=("$p")
		fi
	done <"$T/.pids"
	while read -r g; do
		[[ $g == "$OWN_PGID" ]] || kill -KILL -- "-$g" 2>/dev/null || true
	done <"$T/.groups"
	while read -r s; do
		[[ $s == "$OWN_SID" ]] && continue
		for p in $(ps -eo pid=,sid= | awk -v s="$s" '$2 == s { print $1 }'); do
			if kill -KILL "$p" 2>/dev/null; then victims+=("$p"); fi
		done
	done <"$T/.sessions"
	for p in $(marker_pids "$T/" "${PUB:+$PUB/}"); do
		if kill -KILL "$p" 2>/dev/null; then victims+=("$p"); fi
	done
	# Dead is enough here: reaping orphans is the subreaper's job.
	for p in "${victims[@]}"; do
		poll 5 not_alive "$p" || echo "teardown: pid $p survived SIGKILL" >&2
	done
	return 0
}

# ---------------------------------------------------------------- running things

# cg args...: run cgiguard with the bats fd 3 closed (a lingering keeper must not hold it).
function cg() {
	"$CGIGUARD" "$@" 3>&-
}

# start_front NAME [spawn options] -- cmd...: start cmd in the background as a web server
# would (via spawn; see write_spawn). Sets FRONT_PID. wait_status NAME reads how it ended.
function start_front() {
	local name=$1
	shift
	rm -f "$T/$name.pid" "$T/$name.status"
	"$SPAWN" -p "$T/$name.pid" -s "$T/$name.status" "$@" </dev/null >/dev/null 2>&1 3>&- &
	track $!
	wait_file "$T/$name.pid" 5 || fail "start_front: $name did not start"
	FRONT_PID=$(<"$T/$name.pid")
	track "$FRONT_PID"
}

# wait_status NAME [SECONDS]: wait for the front started as NAME to end. Sets ENDED to
# "exit N" or "signal N" (bats' own $status is run's), and END_US to when it ended (us since
# the epoch, the clock of now_us).
function wait_status() {
	wait_file "$T/$1.status" "${2:-5}" || return 1
	{
		read -r ENDED
		read -r END_US
	} <"$T/$1.status"
}

# reaped cmd...: run cmd to completion; sets ENDED to "exit N" or "signal N".
function reaped() {
	rm -f "$T/.reaped.pid" "$T/.reaped.status"
	"$SPAWN" -p "$T/.reaped.pid" -s "$T/.reaped.status" -- "$@" 3>&-
	read -r ENDED <"$T/.reaped.status"
}

# expect_end WANT [DETAIL]: the front (wait_status, reaped) ended as WANT ("exit 143",
# "signal 9"); else fail, with DETAIL (the front's stderr, say) after the two.
function expect_end() {
	[[ $ENDED == "$1" ]] || fail "the front ended with '$ENDED', want '$1'${2:+: $2}"
}

# fifo_reader FIFO OUT: the server's end of a CGI's output: FIFO (made if it is not there)
# read into OUT in the background, as a server reads, until EOF or a kill. Sets READER.
function fifo_reader() {
	[[ -p $1 ]] || mkfifo "$1"
	cat "$1" >"$2" 3>&- &
	READER=$!
	track "$READER"
}

# wait_probe [NAME] [SECONDS]: wait until the probe NAME runs with its handlers in place.
# Sets CGI_PID CGI_PPID CGI_PGID CGI_SID and tracks them (the parent only if it is a keeper).
function wait_probe() {
	local name=${1:-probe}
	wait_file "$T/$name.id" "${2:-5}" || return 1
	read -r CGI_PID CGI_PPID CGI_PGID CGI_SID <"$T/$name.id"
	track "$CGI_PID"
	if is_cgiguard "$CGI_PPID"; then
		track "$CGI_PPID"
	fi
	track_group "$CGI_PGID"
	track_session "$CGI_SID"
}

# is_cgiguard PID: PID runs cgiguard (its comm is the script's name in the #! form; a
# keeper shows its state line in place of its arguments once the CGI runs).
function is_cgiguard() {
	local argv0
	argv0=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n1) || return 1
	[[ $argv0 == "$CGIGUARD" || $argv0 == */cgiguard || $argv0 == "cgiguard: keeper "* ]]
}

# signals_of [NAME]: the signals the probe NAME received so far, space separated, in order.
function signals_of() {
	local f=$T/${1:-probe}.signals
	[[ -e $f ]] || return 0
	cut -d' ' -f1 "$f" | paste -sd' ' -
}

# signal_set [NAME]: the signals the probe NAME received, sorted (handlers of signals that
# arrive together may run nested, so the file's order is not the order of delivery).
function signal_set() {
	signals_of "$@" | tr ' ' '\n' | sort | paste -sd' ' -
}

# expect_signals [-o] WANT: the probe received exactly the signals WANT (space separated,
# "" for none), each as often as WANT names it. WANT is sorted, compared with signal_set;
# with -o it is the order the probe noted them in, for signals sent one after the other.
function expect_signals() {
	local got
	if [[ $1 == -o ]]; then
		got=$(signals_of probe)
		shift
	else
		got=$(signal_set probe)
	fi
	[[ $got == "$1" ]] || fail "the CGI got '$(signals_of)', want '$1'"
}

# wait_signal SIG [SECONDS]: wait until the probe has noted SIG (default 2 s).
function wait_signal() {
	poll "${2:-2}" grep -q "^$1 " "$T/probe.signals"
}

# ---------------------------------------------------------------- refusals

# The page cgiguard answers with in CGI context when it refuses to run the CGI.
PAGE_500=$'Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n'
PAGE_500+='The server could not run this script.'

# own_stderr: $stderr without what the runtime of a dynamic, sanitized build (make check-asan)
# adds: the loader's word on LD_PRELOAD, and ASan's warnings where /proc is hidden.
function own_stderr() {
	grep -v -e '^ERROR: ld.so: ' -e '^==[0-9]*==WARNING: ' <<<"$stderr" || true
}

# refused STATUS MESSAGE: after `run --separate-stderr` of a request in CGI context: cgiguard
# refused it with exit STATUS, exactly MESSAGE on stderr and the fixed 500 page, and nothing
# else, on stdout (so the CGI did not run).
# shellcheck disable=SC2154 # bats' run sets status, output and stderr
function refused() {
	local said where=${PROC_HIDDEN:+ (with /proc hidden)}
	[[ $status -eq $1 ]] || fail "status $status, want $1$where; stderr: $stderr; stdout: $output"
	said=$(own_stderr)
	[[ $said == "$2" ]] || fail "stderr$where: $stderr
want:   $2"
	[[ $output == "$PAGE_500" ]] || fail "stdout$where, not the 500 page: $output"
}

# ---------------------------------------------------------------- unprivileged user

# An unprivileged account for CGI-context tests: cgitest (created if missing), else nobody.
function cgi_user() {
	if ! id -u cgitest >/dev/null 2>&1; then
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin cgitest >/dev/null 2>&1 || true
	fi
	if id -u cgitest >/dev/null 2>&1; then
		use_user cgitest
	else
		use_user nobody
	fi
}

# use_user NAME: the CGI's user is NAME. Sets CGI_USER, CGI_UID, CGI_GID and AS_USER, the
# command that runs a program as that user (real and effective ids, its groups only):
# "${AS_USER[@]}" cmd... where a program is needed (start_front, a background job), as_user
# cmd... elsewhere. Until then AS_USER is a command that fails, saying so.
function use_user() {
	CGI_USER=$1
	CGI_UID=$(id -u "$CGI_USER")
	CGI_GID=$(id -g "$CGI_USER")
	AS_USER=(setpriv --reuid="$CGI_UID" --regid="$CGI_GID" --init-groups --)
}

# as_user cmd...: run cmd as the CGI's user ("${AS_USER[@]}"); with PROC_HIDDEN set, where
# /proc is hidden (hide_proc).
function as_user() {
	${PROC_HIDDEN:+hide_proc} "${AS_USER[@]}" "$@"
}

# ---------------------------------------------------------------- without /proc

# can_hide_proc: /proc can be hidden from the build under test: root can, and the sanitizers'
# runtime (make check-asan) cannot do without /proc.
function can_hide_proc() {
	[[ $EUID -eq 0 && -z ${CGIGUARD_DYNAMIC:-} ]]
}

# hide_proc cmd...: run cmd (a program) where /proc is an empty tmpfs, in a mount namespace of
# its own, as under a chroot or in a container without /proc. Needs root.
function hide_proc() {
	unshare --mount --propagation private -- /bin/sh -c \
		'mount -t tmpfs -o mode=0555 noproc /proc && exec "$@"' hide_proc "$@"
}

# refused_both STATUS MESSAGE cmd...: cmd, a function that runs one request with `run` (its
# user's part through as_user), is refused as `refused` checks: with /proc, then again with
# /proc hidden where it can be (can_hide_proc).
function refused_both() {
	local want=$1 msg=$2
	shift 2
	PROC_HIDDEN=
	"$@"
	refused "$want" "$msg"
	can_hide_proc || return 0
	PROC_HIDDEN=1
	"$@"
	refused "$want" "$msg"
	PROC_HIDDEN=
}

# make_pubdir: PUB, a directory the unprivileged user can read (bats' own tmpdir is 0700).
function make_pubdir() {
	PUB=$(mktemp -d /tmp/cgiguard-test.XXXXXX)
	chmod 0755 "$PUB"
}

# ---------------------------------------------------------------- fixtures

# spawn: a launcher that gives a command the signal state and stdio a web server would, and
# optionally reports how it ended. Written once per file to $SPAWN.
function write_spawn() {
	cat >"$SPAWN" <<'EOF'
#!/usr/bin/perl
# spawn [-i SIGS] [-b SIGS] [-0 IN] [-1 OUT] [-2 ERR|=1] [-p PIDFILE -s STATUSFILE] -- cmd [arg...]
# Every signal starts at its default disposition and unblocked; then the comma-separated SIGS
# of -i are ignored and those of -b blocked. -0/-1/-2 redirect stdin (default /dev/null),
# stdout and stderr (-2 =1: same as stdout). With -p and -s spawn forks: the command's pid goes
# to PIDFILE at once, and when it ends "exit N" or "signal N" and the end time (us since the
# epoch, gettimeofday: the clock of now_us) go to STATUSFILE. Without them spawn execs the
# command in place.
use strict; use warnings;
use Config; use POSIX (); use Time::HiRes ();
my %o = (i => '', b => '', 0 => '/dev/null');
while (@ARGV) {
    my $a = shift @ARGV;
    last if $a eq '--';
    ($a =~ /^-([ib012ps])$/ && @ARGV) or die "spawn: bad usage at '$a'\n";
    $o{$1} = shift @ARGV;
}
@ARGV or die "spawn: missing command\n";
my %signo;
@signo{split ' ', $Config{sig_name}} = split ' ', $Config{sig_num};
sub sigs {
    map { my $n = uc; $n =~ s/^SIG//; $signo{$n} // die "spawn: unknown signal $_\n" }
        grep { length } split /,/, shift;
}
sub write_atomic {
    my ($path, $text) = @_;
    open my $f, '>', "$path.tmp" or die "spawn: $path.tmp: $!\n";
    print $f $text;
    close $f;
    rename "$path.tmp", $path or die "spawn: rename $path: $!\n";
}
sub child {
    for my $n (1 .. 64) {
        POSIX::sigaction($n, POSIX::SigAction->new('DEFAULT')) unless $n == 9 || $n == 19;
    }
    POSIX::sigaction($_, POSIX::SigAction->new('IGNORE')) for sigs($o{i});
    POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new(sigs($o{b})))
        or die "spawn: sigprocmask: $!\n";
    open STDIN, '<', $o{0} or die "spawn: $o{0}: $!\n";
    if (defined $o{1}) { open STDOUT, '>', $o{1} or die "spawn: $o{1}: $!\n" }
    if (defined $o{2}) {
        if ($o{2} eq '=1') { open STDERR, '>&', \*STDOUT or die "spawn: dup: $!\n" }
        else { open STDERR, '>', $o{2} or die "spawn: $o{2}: $!\n" }
    }
    exec { $ARGV[0] } @ARGV;
    print STDERR "spawn: exec $ARGV[0]: $!\n";
    POSIX::_exit(127);
}
if (defined $o{p} && defined $o{s}) {
    my $pid = fork() // die "spawn: fork: $!\n";
    child() if $pid == 0;
    write_atomic($o{p}, "$pid\n");
    # Hold none of the command's stdio: a reader must see EOF when the command's side closes.
    open STDIN, '<', '/dev/null'; open STDOUT, '>', '/dev/null'; open STDERR, '>', '/dev/null';
    waitpid($pid, 0);
    my $w = $?;
    my ($s, $us) = Time::HiRes::gettimeofday();
    my $how = ($w & 127) ? 'signal ' . ($w & 127) : 'exit ' . ($w >> 8);
    write_atomic($o{s}, sprintf("%s\n%d%06d\n", $how, $s, $us));
    exit 0;
}
child();
EOF
	chmod +x "$SPAWN"
}

# probe: a CGI that records every signal it receives, one "NAME TIME" line in DIR/NAME.signals
# (never on stdout). Each test gets its own copy, $PROBE (its directory is the test's).
function write_probe() {
	cat >"$BATS_FILE_TMPDIR/probe.cgi" <<'EOF'
#!/usr/bin/perl
# probe.cgi [key=value...]: name=probe dir=(its own dir) run=1 exit=0 tick=0 ignore=SIG,SIG
# Catches (or, with ignore=, ignores) the common signals and appends "NAME TIME" to
# DIR/NAME.signals for each; once the handlers are in place writes "pid ppid pgid sid" to
# DIR/NAME.id; prints a short response; runs RUN seconds (a "tick" line every TICK seconds if
# set); writes DIR/NAME.done and exits EXIT.
use strict; use warnings;
use File::Basename qw(dirname);
use Time::HiRes qw(time);
my %o = (name => 'probe', dir => dirname($0), run => 1, exit => 0, tick => 0, ignore => '');
for (@ARGV) {
    my ($k, $v) = split /=/, $_, 2;
    exists $o{$k} or die "probe: unknown argument $_\n";
    $o{$k} = $v;
}
my $base = "$o{dir}/$o{name}";
sub note {
    open my $f, '>>', "$base.signals" or die "probe: $base.signals: $!\n";
    syswrite $f, shift;
    close $f;
}
sub write_atomic {
    my ($path, $text) = @_;
    open my $f, '>', "$path.tmp" or die "probe: $path.tmp: $!\n";
    print $f $text;
    close $f;
    rename "$path.tmp", $path or die "probe: rename $path: $!\n";
}
my %ign = map { (my $s = uc) =~ s/^SIG//; ($s => 1) } grep { length } split /,/, $o{ignore};
for my $s (qw(HUP INT QUIT USR1 USR2 PIPE ALRM TERM CONT WINCH URG XCPU XFSZ VTALRM PROF
              TSTP TTIN TTOU)) {
    $SIG{$s} = $ign{$s} ? 'IGNORE' : sub { note(sprintf "%s %.6f\n", $s, time) };
}
open my $st, '<', '/proc/self/stat' or die;
my $stat = do { local $/; <$st> };
close $st;
$stat =~ s/^.*\) //s;
my (undef, $ppid, $pgid, $sid) = split ' ', $stat;
write_atomic("$base.id", "$$ $ppid $pgid $sid\n");
$| = 1;
print "Content-Type: text/plain\n\nprobe $$\n";
my $end = time + $o{run};
while ((my $left = $end - time) > 0) {
    my $nap = ($o{tick} > 0 && $o{tick} < $left) ? $o{tick} : $left;
    select undef, undef, undef, $nap;
    print "tick\n" if $o{tick} > 0;
}
print "done\n";
write_atomic("$base.done", "exit $o{exit}\n");
exit $o{exit};
EOF
	chmod +x "$BATS_FILE_TMPDIR/probe.cgi"
}

# a copy of sleep(1) whose path names this test, so leftovers are found by their arguments.
function make_sleep() {
	ln -sf "$(command -v sleep)" "$T/sleep"
}
