#!/usr/bin/env bats
# The response ends when the CGI's output ends: a CGI that closes stdout and stderr and keeps
# working has answered; the reader gets EOF at once and the work goes on, within --grace.

load helpers

setup() {
	common_setup
	make_sleep
	cat >"$T/late.cgi" <<'EOF'
#!/bin/sh
dir=${0%/*}
echo "Content-Type: text/plain"
echo
echo "accepted"
exec >&- 2>&-
echo $$ >"$dir/late.pid"
"$dir/sleep" 3
: >"$dir/work.done"
EOF
	chmod +x "$T/late.cgi"
}

teardown() {
	common_teardown
}

@test "late EOF: the reader gets EOF well before the CGI ends; the CGI's work completes" {
	local t0 pid
	now_us
	t0=$REPLY
	"$CGIGUARD" -g 10 "$T/late.cgi" 3>&- | cat >"$T/response"
	elapsed_ms "$t0"
	((REPLY < 1000)) || fail "the reader got EOF only after ${REPLY} ms (the CGI works 3 s after closing)"
	[[ $(cat "$T/response") == $'Content-Type: text/plain\n\naccepted' ]]
	wait_file "$T/late.pid" 1
	pid=$(<"$T/late.pid")
	track "$pid"
	alive "$pid" || fail "the CGI did not survive the end of its response"
	[[ ! -e $T/work.done ]]
	wait_file "$T/work.done" 5 || fail "the CGI's work never completed"
	wait_gone "$pid" 2
}

@test "late EOF through a fifo, as a server reads: EOF first, then the front is already reapable" {
	mkfifo "$T/pipe"
	start_front front -1 "$T/pipe" -2 =1 -- "$CGIGUARD" -g 10 "$T/late.cgi"
	local t0
	now_us
	t0=$REPLY
	cat "$T/pipe" >"$T/response"
	now_us
	((REPLY - t0 < 1000000)) || fail "EOF after $(((REPLY - t0) / 1000)) ms"
	# At EOF the front must already be a zombie or gone (mod_cgi's waitpid(WNOHANG) right after
	# EOF); which of the two is up to its reaper, a race the test cannot control.
	not_alive "$FRONT_PID" || fail "front still running at EOF: $(ps -o pid=,stat=,args= -p "$FRONT_PID")"
	wait_status front 1
	[[ $(cat "$T/response") == $'Content-Type: text/plain\n\naccepted' ]]
	wait_file "$T/work.done" 5 || fail "the CGI's work never completed"
}
