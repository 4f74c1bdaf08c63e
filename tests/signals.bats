#!/usr/bin/env bats
# Abandonment: what the front does with the server's signals, and what the CGI receives.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# abandon_with SIG N [cgiguard options]: the server sends SIG to the front of a running
# probe. The front must exit N (an exit, not a death by signal) within 100 ms.
function abandon_with() {
	local sig=$1 want=$2 t0 ms
	shift 2
	start_front front -1 "$T/out" -2 "$T/err" -- "$CGIGUARD" "$@" "$PROBE" run=0.6
	wait_probe
	now_us
	t0=$REPLY
	kill -"$sig" "$FRONT_PID"
	wait_status front 2 || fail "front still running 2 s after $sig"
	ms=$(((END_US - t0) / 1000))
	expect_end "exit $want" "after $sig"
	((ms < 100)) || fail "front exited ${ms} ms after $sig (limit 100 ms)"
}

@test "TERM: the front exits 143 within 100 ms; the CGI gets exactly one TERM, then CONT, and finishes within grace" {
	abandon_with TERM 143 -g 5
	wait_file "$T/probe.done" 3 || fail "probe did not finish; signals: $(signals_of)"
	wait_gone "$CGI_PID" 2
	expect_signals "CONT TERM"
	grep -qx "probe $CGI_PID" "$T/out"
}

@test "HUP: the front exits 129 within 100 ms; the CGI gets TERM, the stop signal CGIs handle" {
	abandon_with HUP 129 -g 5
	wait_file "$T/probe.done" 3
	expect_signals "CONT TERM"
}

@test "INT: the front exits 130 within 100 ms; the CGI gets TERM, the stop signal CGIs handle" {
	abandon_with INT 130 -g 5
	wait_file "$T/probe.done" 3
	expect_signals "CONT TERM"
}

@test "QUIT: the front exits 131 within 100 ms; the CGI gets TERM, the stop signal CGIs handle" {
	abandon_with QUIT 131 -g 5
	wait_file "$T/probe.done" 3
	expect_signals "CONT TERM"
}

@test "--signal=USR1: on TERM the CGI gets one USR1 (then CONT) and no TERM" {
	abandon_with TERM 143 -g 5 --signal=USR1
	wait_file "$T/probe.done" 3
	expect_signals "CONT USR1"
}

@test "--signal=12 (a number): on HUP the CGI gets one USR2 (then CONT)" {
	abandon_with HUP 129 -g 5 --signal=12
	wait_file "$T/probe.done" 3
	expect_signals "CONT USR2"
}

@test "--signal=none: on TERM the CGI gets nothing and finishes within grace" {
	abandon_with TERM 143 -g 3 --signal=none
	wait_file "$T/probe.done" 3 || fail "probe did not finish within its grace"
	wait_gone "$CGI_PID" 2
	expect_signals ""
}

@test "USR1 and USR2 to the front are forwarded unchanged and the front keeps running" {
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 5 "$PROBE" run=1.5 exit=7
	wait_probe
	kill -USR1 "$FRONT_PID"
	wait_signal USR1 2 || fail "CGI never got USR1"
	alive "$FRONT_PID" || fail "front died after USR1"
	[[ ! -e $T/front.status ]]
	kill -USR2 "$FRONT_PID"
	wait_signal USR2 2 || fail "CGI never got USR2"
	alive "$FRONT_PID" || fail "front died after USR2"
	wait_status front 5
	expect_end "exit 7"
	expect_signals -o "USR1 USR2"
	grep -qx "done" "$T/out"
}

@test "the server's end of the output breaks: the front exits 141, the CGI gets one TERM (then CONT) and finishes" {
	fifo_reader "$T/pipe" "$T/out"
	start_front front -1 "$T/pipe" -- "$CGIGUARD" -g 5 "$PROBE" run=1.5 tick=0.05
	wait_probe
	poll 2 grep -q tick "$T/out"
	kill -KILL "$READER"
	wait_status front 2 || fail "front still running 2 s after its output broke"
	expect_end "exit 141"
	wait_file "$T/probe.done" 3 || fail "probe did not finish; signals: $(signals_of)"
	expect_signals "CONT TERM"
}

@test "the front is SIGKILLed directly: the CGI gets one TERM (then CONT) and finishes within grace" {
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 5 "$PROBE" run=1
	wait_probe
	kill -KILL "$FRONT_PID"
	wait_status front 1
	expect_end "signal 9"
	wait_signal TERM 2 || fail "CGI never got TERM after the front died"
	wait_file "$T/probe.done" 3
	wait_gone "$CGI_PID" 2
	expect_signals "CONT TERM"
}

@test "a normal end: the front exits with the CGI's status as soon as it ends, nothing signalled" {
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 5 "$PROBE" run=0.3 exit=3
	wait_probe
	wait_status front 3
	expect_end "exit 3"
	expect_signals ""
	[[ $(tail -n1 "$T/out") == "done" ]]
}

@test "a CGI stopped when its request is abandoned gets TERM, then CONT, and runs its handler" {
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 5 "$PROBE" run=1.5
	wait_probe
	kill -STOP "$CGI_PID"
	poll 2 eval '[[ $(pstate "$CGI_PID") == T ]]' || fail "the CGI did not stop"
	kill -TERM "$FRONT_PID"
	wait_status front 2 || fail "the front did not end"
	wait_signal TERM 2 || fail "the stopped CGI never ran its TERM handler"
	wait_file "$T/probe.done" 3 || fail "the CGI did not finish within its grace"
	expect_signals "CONT TERM"
}
