#!/usr/bin/env bats
# Random timing (tests/stress.pl, `make stress` for 10,000 runs): the server's TERM lands
# anywhere in a request's life, then a KILL; afterwards nothing may be left, the CGI got its
# stop signal once if it was abandoned while it ran and never otherwise, and every run that was
# not abandoned delivered its whole output with the CGI's status.
# And the racing forker: a descendant that forks without pause through the deadline.

load helpers

RUNS=${CGIGUARD_STRESS_RUNS:-500}

setup() {
	common_setup
	requires reaper
}

teardown() {
	common_teardown
}

@test "stress: $RUNS random-timing runs (CGIGUARD_STRESS_RUNS, CGIGUARD_STRESS_SEED): all pass" {
	run perl "$BATS_TEST_DIRNAME/stress.pl" -q -n "$RUNS" "$CGIGUARD" 3>&-
	echo "# ${lines[0]}" >&3
	echo "${lines[-2]}" >&3
	[[ ${lines[-1]} == "$RUNS passed, 0 failed" ]] || fail "$output"
	[[ $status -eq 0 ]] || fail "status $status: $output"
}

# ---------------------------------------------------------------- the racing forker

# The forker: a CGI that ignores TERM and starts a child in a session of its own (out of the
# CGI's process group); that child forks and exits at once, its child the same, and so on (a
# new pid every few hundred microseconds, each one an orphan for a moment), for at most 8 s.
# The CGI then either runs on (run) or ends its response at once (end).
function write_forker() {
	# comm is the script's name (15 bytes at most): zombies are found by it.
	NAME=fork$BASHPID
	FORKER=$T/$NAME.cgi
	cat >"$FORKER" <<'EOF'
#!/usr/bin/perl
use strict; use warnings;
use POSIX ();
use Time::HiRes qw(time);
my ($dir, $how) = @ARGV;
$SIG{TERM} = 'IGNORE';
my $pid = fork() // die "forker: fork: $!\n";
if ($pid == 0) {
    POSIX::setsid();
    open STDIN, '<', '/dev/null'; open STDOUT, '>', '/dev/null'; open STDERR, '>', '/dev/null';
    open my $f, '>', "$dir/sid.tmp" or POSIX::_exit(1);
    print $f getpgrp(), "\n";
    close $f;
    rename "$dir/sid.tmp", "$dir/sid";
    my $end = time + 8;
    while (time < $end) {
        my $c = fork();
        POSIX::_exit(0) if $c;		# the parent leaves, the child goes on
    }
    POSIX::_exit(0);
}
$| = 1;
print "Content-Type: text/plain\n\nforking\n";
if ($how eq 'end') {
    close STDOUT; close STDERR;
    exit 0;
}
select undef, undef, undef, 0.05 for 1 .. 600;
EOF
	chmod +x "$FORKER"
}

# forkers_left: the forker's processes still there, by its arguments and, for zombies, by name.
function forkers_left() {
	local p
	for p in $(marker_pids "$T/"); do
		ps -o pid=,ppid=,stat=,args= -p "$p" || true
	done
	ps -eo pid=,ppid=,stat=,comm= | awk -v n="$NAME.cgi" '$4 == n'
}
function no_forkers() { [[ -z $(forkers_left) ]]; }

# no_forkers_by DEADLINE_US: nothing of the forker is left, at the latest at DEADLINE_US.
function no_forkers_by() {
	poll_until "$1" no_forkers && return 0
	fail "left $(((REPLY - $1) / 1000)) ms after the deadline + 1 s:
$(forkers_left)"
}

@test "racing forker: a setsid'd descendant forking without pause through --timeout + --grace leaves nothing 1 s later" {
	write_forker
	now_us
	local start=$REPLY
	start_front fork -- "$CGIGUARD" -t 300ms -g 200ms "$FORKER" "$T" run
	wait_file "$T/sid" 5 || fail "the forker did not start"
	track_session "$(<"$T/sid")"
	! no_forkers || fail "the forker is not running"
	wait_status fork 5 || fail "the front did not end"
	expect_end "exit 124" "--timeout"
	# The deadline: 300 ms of timeout and 200 ms of grace after the start.
	no_forkers_by $((start + 500000 + 1000000))
}

@test "racing forker: after the response ended, a setsid'd descendant forking without pause through --grace leaves nothing 1 s later" {
	requires linux-extras
	write_forker
	start_front fork -- "$CGIGUARD" -g 300ms "$FORKER" "$T" end
	wait_file "$T/sid" 5 || fail "the forker did not start"
	track_session "$(<"$T/sid")"
	! no_forkers || fail "the forker is not running"
	wait_status fork 5 || fail "the front did not end"
	expect_end "exit 0"
	# The grace starts when the response ends, which the front's end follows.
	no_forkers_by $((END_US + 300000 + 1000000))
}
