#!/usr/bin/env bats
# Deadlines: --grace after abandonment bounds the CGI and everything it left behind, also
# descendants that escaped into a session of their own; --timeout bounds the whole request.

load helpers

setup() {
	common_setup
	make_sleep
}

teardown() {
	common_teardown
}

# stubborn.cgi DIR: ignores TERM, leaves a double-forked sleeper in a new session (pid in
# DIR/sleeper.pid, its output not the CGI's), writes its own pid to DIR/cgi.pid, then sleeps.
# With "exit" as second argument it exits at once instead (a normal end that leaves an orphan).
function write_stubborn() {
	cat >"$T/stubborn.cgi" <<'EOF'
#!/bin/sh
dir=$1
trap '' TERM
echo "Content-Type: text/plain"
echo
( setsid "$dir/sleep" 60 </dev/null >/dev/null 2>&1 & echo $! >"$dir/sleeper.pid.tmp" )
mv "$dir/sleeper.pid.tmp" "$dir/sleeper.pid"
echo $$ >"$dir/cgi.pid.tmp"
mv "$dir/cgi.pid.tmp" "$dir/cgi.pid"
echo started
[ "$2" = exit ] && exit 0
exec "$dir/sleep" 60
EOF
	chmod +x "$T/stubborn.cgi"
}

# wait_stubborn: sets CGI and SLEEPER, checks the sleeper is in a session of its own.
function wait_stubborn() {
	wait_file "$T/cgi.pid" 5
	wait_file "$T/sleeper.pid" 5
	CGI=$(<"$T/cgi.pid")
	SLEEPER=$(<"$T/sleeper.pid")
	track "$CGI" "$SLEEPER"
	track_session "$SLEEPER"
	grep -q sleep "/proc/$SLEEPER/cmdline"
	[[ $(ps -o sid= -p "$SLEEPER" | tr -d ' ') == "$SLEEPER" ]] || fail "sleeper not in its own session"
	[[ $(ps -o sid= -p "$SLEEPER") != $(ps -o sid= -p "$CGI") ]]
}

# not_both_alive: CGI or SLEEPER (wait_stubborn) has ended.
function not_both_alive() {
	! alive "$CGI" || ! alive "$SLEEPER"
}

@test "-g 1: a CGI that ignores TERM and its setsid double-forked sleeper are both gone within 1 s after the grace deadline" {
	requires linux-extras
	write_stubborn
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 1 "$T/stubborn.cgi" "$T"
	wait_stubborn
	now_us
	local abandoned=$REPLY
	kill -TERM "$FRONT_PID"
	wait_status front 1
	expect_end "exit 143"
	# Shielded during the grace: the first of the two to end ends no sooner than 1 s after
	# abandonment. Seen ended at REPLY, it ended at or before REPLY: REPLY < abandoned + 1 s
	# proves an early kill (10 ms spared for cgiguard's whole-ms deadlines on another clock).
	poll_until $((abandoned + 2000000)) not_both_alive ||
		fail "CGI and sleeper both still running 2 s after abandonment"
	now_us
	(((REPLY - abandoned) >= 990000)) ||
		fail "CGI or sleeper killed $(((REPLY - abandoned) / 1000)) ms after abandonment, before the 1 s grace ended"
	# ...and gone (reaped, not zombies) by grace deadline + 1 s.
	wait_gone_by $((abandoned + 2000000)) "$CGI" || fail "CGI outlived grace + 1 s"
	wait_gone_by $((abandoned + 2000000)) "$SLEEPER" || fail "sleeper outlived grace + 1 s"
}

@test "-g 1: an orphan left by a CGI that ended normally is gone within 1 s after grace; the front does not wait for it" {
	requires linux-extras
	write_stubborn
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 1 "$T/stubborn.cgi" "$T" exit
	wait_stubborn
	wait_status front 1 || fail "the front waited for the CGI's orphan"
	expect_end "exit 0"
	# The response ended at the latest when the front ended (END_US, taken by its reaper).
	local ended=$END_US
	grep -qx started "$T/out"
	wait_gone_by $((ended + 2000000)) "$SLEEPER" || fail "orphan outlived grace + 1 s"
	now_us
	(((REPLY - ended) > 900000)) || fail "orphan killed $(((REPLY - ended) / 1000)) ms after the response ended, before its 1 s grace"
}

@test "--timeout=1: the front exits 124 after 1 s, the CGI gets TERM, and -g 1 bounds it" {
	start_front front -1 "$T/out" -- "$CGIGUARD" --timeout=1 -g 1 "$PROBE" run=30
	wait_probe
	wait_status front 3 || fail "front still running 3 s after start"
	expect_end "exit 124"
	expect_signals "CONT TERM"
	wait_gone "$CGI_PID" 2 || fail "CGI outlived timeout + grace + 1 s"
	[[ ! -e $T/probe.done ]]
}

@test "--timeout=1 fires 1 s after start, not before" {
	now_us
	local t0=$REPLY
	run cg -t 1 "$T/sleep" 5
	now_us
	[[ $status -eq 124 ]]
	local ms=$(((REPLY - t0) / 1000))
	((ms >= 950 && ms < 1600)) || fail "timeout fired after ${ms} ms"
}

@test "-g 0: the CGI is killed at once on abandonment" {
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 0 "$PROBE" run=30
	wait_probe
	kill -TERM "$FRONT_PID"
	wait_status front 1
	expect_end "exit 143"
	wait_gone "$CGI_PID" 0.5 || fail "CGI still running 0.5 s after abandonment with -g 0"
	[[ ! -e $T/probe.done ]]
}

@test "a CGI with 800 children, each in a group of its own: all are killed at the grace" {
	requires linux-extras
	cat >"$T/many.cgi" <<'EOF2'
#!/usr/bin/perl
# many.cgi DIR N: N children that each leave the CGI's process group and sleep; their pids
# in DIR/children, then the CGI ignores TERM and waits.
use strict; use warnings; use POSIX ();
my ($dir, $n) = @ARGV;
$SIG{TERM} = 'IGNORE';
my @kids;
for (1 .. $n) {
    my $pid = fork() // die "fork: $!\n";
    if ($pid == 0) { setpgrp(0, 0); exec "$dir/sleep", 60; POSIX::_exit(127) }
    push @kids, $pid;
}
open my $f, '>', "$dir/children.tmp" or die; print $f "$_\n" for @kids; close $f;
rename "$dir/children.tmp", "$dir/children";
sleep 60;
EOF2
	chmod +x "$T/many.cgi"
	start_front many -- "$CGIGUARD" -g 1 "$T/many.cgi" "$T" 800
	wait_file "$T/children" 20 || fail "the children did not start"
	local kids p left=()
	mapfile -t kids <"$T/children"
	track "${kids[@]}"
	((${#kids[@]} == 800)) || fail "${#kids[@]} children, not 800"
	kill -TERM "$FRONT_PID"
	wait_status many 5 || fail "the front did not end"
	for p in "${kids[@]}"; do
		wait_gone "$p" 10 >/dev/null 2>&1 || left+=("$p")
	done
	((${#left[@]} == 0)) || fail "${#left[@]} of 800 children outlived the grace: ${left[*]:0:10}"
}
