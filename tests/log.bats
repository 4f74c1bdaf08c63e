#!/usr/bin/env bats
# Log lines: `cgiguard[PID]: event=NAME key=value ...`, never on stdout; a FILE target
# prefixes an ISO-8601 UTC timestamp in whole seconds, ending in Z. Values escape bytes < 0x20,
# 0x7f, >= 0x80, " and \ as \xHH; a value with a space (or an empty one) is put in double
# quotes; a value stops at 200 bytes, the last three "...". Every record but event=stderr ends
# with script=PATH (event=abandoned's pgid= comes before it).

load helpers

setup() {
	common_setup
	make_sleep
	LOG=$T/log
	: >"$LOG"	# a log file is never created: it must be there
	TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
	ELAPSED='[0-9]+\.[0-9]{2}s'
}

teardown() {
	common_teardown
}

# re_quote STRING: STRING as an extended regex matching itself.
function re_quote() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

# logged REST: wait until $LOG has a line "TIMESTAMP cgiguard[PID]: REST" (REST an extended
# regex for the whole rest of the line): at most 3 s, and at most 0.5 s once a line of the same
# event is there.
function logged() {
	local re="^$TS cgiguard\[[0-9]+\]: $1\$" event=${1%% *} end seen=
	now_us
	end=$((REPLY + 3000000))
	until grep -Eq "$re" "$LOG" 2>/dev/null; do
		now_us
		if [[ -z $seen ]] && grep -q "$event" "$LOG" 2>/dev/null; then
			seen=1
			end=$((REPLY + 500000 < end ? REPLY + 500000 : end))
		fi
		((REPLY < end)) || fail "no log line /$re/ in:
$(cat "$LOG" 2>/dev/null)"
		msleep 0.02
	done
}

# escaped STRING: STRING escaped as the log escapes values (hex digits lower case), in
# double quotes when it holds a space.
function escaped() {
	perl -e 'my $v = shift; my $e = join "", map { my $o = ord; ($o < 0x20 || $o == 0x7f || $o >= 0x80 || $_ eq q(") || $_ eq q(\\))
		? sprintf("\\x%02x", $o) : $_ } split //, $v; print $v =~ / / ? qq("$e") : $e' "$1"
}

# lower_hex: lower-case the hex digits of every \xHH on stdin.
function lower_hex() {
	perl -pe 's/\\x([0-9A-Fa-f]{2})/\\x\L$1/g'
}

@test "abandoned by TERM: event=abandoned reason=signal received=TERM signal=TERM script pgid, then finished after=abandoned" {
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 5 --log="$LOG" "$PROBE" run=0.5
	wait_probe
	[[ $CGI_PGID == "$CGI_PID" ]] || fail "CGI pgid $CGI_PGID is not its pid $CGI_PID"
	kill -TERM "$FRONT_PID"
	logged "event=abandoned reason=signal received=TERM signal=TERM pgid=$CGI_PGID script=$(re_quote "$PROBE")"
	wait_file "$T/probe.done" 3
	poll 3 grep -q event=finished "$LOG" || fail "no event=finished: $(cat "$LOG")"
	wait_gone "$CGI_PID" 2
	[[ $(wc -l <"$LOG") -eq 2 ]] || fail "unexpected log lines: $(cat "$LOG")"
	! grep -q event= "$T/out" || fail "log on stdout"
	logged "event=finished status=0 elapsed=$ELAPSED after=abandoned script=$(re_quote "$PROBE")"
}

@test "abandoned by HUP with --signal=none: received=HUP signal=none" {
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 5 -s none --log="$LOG" "$PROBE" run=0.3
	wait_probe
	kill -HUP "$FRONT_PID"
	logged "event=abandoned reason=signal received=HUP signal=none pgid=$CGI_PGID script=$(re_quote "$PROBE")"
}

@test "abandoned because the front died: reason=front-died signal=TERM" {
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 5 --log="$LOG" "$PROBE" run=0.3
	wait_probe
	kill -KILL "$FRONT_PID"
	logged "event=abandoned reason=front-died signal=TERM pgid=$CGI_PGID script=$(re_quote "$PROBE")"
	logged "event=finished status=0 elapsed=$ELAPSED after=abandoned script=$(re_quote "$PROBE")"
}

@test "abandoned because the output broke: reason=pipe signal=TERM" {
	fifo_reader "$T/pipe" "$T/out"
	start_front front -1 "$T/pipe" -- "$CGIGUARD" -g 5 --log="$LOG" "$PROBE" run=1 tick=0.05
	wait_probe
	kill -KILL "$READER"
	logged "event=abandoned reason=pipe signal=TERM pgid=$CGI_PGID script=$(re_quote "$PROBE")"
}

@test "--timeout: reason=timeout signal=TERM; a CGI that outlives the grace: event=killed reason=grace" {
	start_front front -1 "$T/out" -- "$CGIGUARD" -t 0.5 -g 0.5 --log="$LOG" "$PROBE" run=30
	wait_probe
	logged "event=abandoned reason=timeout signal=TERM pgid=$CGI_PGID script=$(re_quote "$PROBE")"
	logged "event=killed reason=timeout elapsed=$ELAPSED processes=1 script=$(re_quote "$PROBE")"
}

function two_sleepers() {
	[[ $(marker_pids "$T/sleep 60" | wc -l) -eq 2 ]]
}

@test "grace expired after a TERM: event=killed reason=grace processes=N counts the tree" {
	requires linux-extras
	cat >"$T/tree.cgi" <<'EOF'
#!/bin/sh
trap '' TERM
echo $$ >"${0%/*}/tree.pid"
( setsid "${0%/*}/sleep" 60 </dev/null >/dev/null 2>&1 & )
exec "${0%/*}/sleep" 60
EOF
	chmod +x "$T/tree.cgi"
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 0.5 --log="$LOG" "$T/tree.cgi"
	wait_file "$T/tree.pid"
	track "$(<"$T/tree.pid")"
	poll 2 two_sleepers || fail "the CGI and its sleeper never both ran"
	kill -TERM "$FRONT_PID"
	logged "event=killed reason=grace elapsed=$ELAPSED processes=2 script=$(re_quote "$T/tree.cgi")"
}

function no_marked_processes() {
	[[ -z $(marker_pids "$T/") ]]
}

@test "-v: a normal request logs event=finished status=N; without -v nothing is logged" {
	printf '#!/bin/sh\necho out\nexit 3\n' >"$T/three.cgi"
	chmod +x "$T/three.cgi"
	run --separate-stderr cg --log="$LOG" "$T/three.cgi"
	[[ $status -eq 3 && $output == out ]]
	# The keeper (its arguments name the script) has finished: nothing more will be logged.
	poll 2 no_marked_processes || fail "cgiguard still running: $(marker_pids "$T/")"
	[[ ! -s $LOG ]] || fail "logged without -v: $(cat "$LOG")"

	run --separate-stderr cg -v --log="$LOG" "$T/three.cgi"
	[[ $status -eq 3 && $output == out ]]
	logged "event=finished status=3 elapsed=$ELAPSED script=$(re_quote "$T/three.cgi")"
}

@test "a FILE record's timestamp is the time it was logged, in UTC" {
	local before after line ts at
	before=$(date -u +%s)
	run --separate-stderr cg -v --log="$LOG" /bin/sh -c 'exit 3'
	[[ $status -eq 3 && -z $output && -z $stderr ]] || fail "status $status: $output $stderr"
	logged "event=finished status=3 elapsed=$ELAPSED script=/bin/sh"
	after=$(date -u +%s)
	line=$(grep event=finished "$LOG")
	ts=${line%% *}
	at=$(date -u -d "$ts" +%s) || fail "not a date: $ts"
	# Read back, the instant prints as the record did: no field out of range and normalised.
	[[ $(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ) == "$ts" ]] || fail "not a canonical UTC time: $ts"
	((before <= at && at <= after)) || fail "logged at $ts, not within" \
		"[$(date -u -d "@$before" +%FT%TZ), $(date -u -d "@$after" +%FT%TZ)]"
}

@test "--log=stderr: the line goes to stderr without timestamp, never to stdout" {
	cg -v --log=stderr /bin/sh -c 'echo out; exit 3' >"$T/out" 2>"$T/err" || true
	poll 2 grep -q event= "$T/err" || fail "nothing logged on stderr: $(cat "$T/err")"
	grep -Eqx "cgiguard\[[0-9]+\]: event=finished status=3 elapsed=$ELAPSED script=/bin/sh" "$T/err" || fail "stderr: $(cat "$T/err")"
	[[ $(cat "$T/out") == out ]] || fail "stdout: $(cat "$T/out")"
}

@test "control bytes, blanks, quotes, backslashes and non-ASCII in the script path are escaped" {
	local dir=$T/$'we ird\n"q\\\t\x7f\xc3\xa9=x'
	mkdir "$dir"
	cp "$PROBE" "$dir/probe.cgi"
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 0 --log="$LOG" "$dir/probe.cgi" dir="$T" run=30
	wait_probe
	kill -TERM "$FRONT_PID"
	poll 3 grep -q event=abandoned "$LOG" || fail "nothing logged: $(cat "$LOG")"
	# With no grace the probe, which outlives its TERM, is killed at once: two records,
	# event=abandoned and event=killed, and nothing after them once the keeper is gone.
	poll 3 grep -q event=killed "$LOG" || fail "no event=killed: $(cat -A "$LOG")"
	poll 3 no_marked_processes || fail "cgiguard still running: $(marker_pids "$T/")"
	[[ $(wc -l <"$LOG") -eq 2 ]] || fail "not two records of one line each: $(cat -A "$LOG")"
	local line value want
	line=$(grep event=abandoned "$LOG")
	[[ $(grep -c event=abandoned "$LOG") -eq 1 ]] || fail "the event spans lines: $(cat -A "$LOG")"
	value=$(sed -n 's/.* pgid=[0-9]* script=\(".*"\)$/\1/p' <<<"$line" | lower_hex)
	want=$(escaped "$dir/probe.cgi")
	[[ $value == "$want" ]] || fail "log line: $line
want script=$want"
	! LC_ALL=C grep -q $'[\x01-\x1f\x7f\x80-\xff]' "$LOG" || fail "raw control or 8-bit bytes in the log: $(cat -A "$LOG")"
}

@test "a value longer than 200 bytes is cut at 200 bytes, the last three \"...\"" {
	local dir a120 b120
	printf -v a120 'a%.0s' {1..120}
	printf -v b120 'b%.0s' {1..120}
	dir=$T/$a120/$b120
	mkdir -p "$dir"
	cp "$PROBE" "$dir/probe.cgi"
	start_front front -1 "$T/out" -- "$CGIGUARD" -g 0 --log="$LOG" "$dir/probe.cgi" dir="$T" run=30
	wait_probe
	kill -TERM "$FRONT_PID"
	poll 3 grep -q event=abandoned "$LOG" || fail "nothing logged"
	local value
	value=$(sed -n 's/.* pgid=[0-9]* script=\([^ ]*\)$/\1/p' "$LOG")
	[[ -n $value ]] || fail "no pgid=N script=... in: $(cat "$LOG")"
	((${#value} == 200)) && [[ $value == *... ]] || fail "script=$value is not cut to 200 bytes ending in ..."
	[[ $value == "${dir:0:197}..." ]] || fail "script=$value is not the path's first 197 bytes and ..."
}

# stderr_after_abandon CMD: a CGI that, once abandoned (TERM to the front), runs the shell
# command CMD with its stderr going to the keeper; started and abandoned here.
function stderr_after_abandon() {
	{
		cat <<'EOF'
#!/bin/sh
dir=${0%/*}
gone=
trap 'gone=1' TERM
echo "Content-Type: text/plain"
echo
echo $$ >"$dir/err.pid"
while [ -z "$gone" ]; do "$dir/sleep" 0.05; done
EOF
		printf '%s >&2\n' "$1"
	} >"$T/err.cgi"
	chmod +x "$T/err.cgi"
	start_front front -1 "$T/out" -2 "$T/err" -- "$CGIGUARD" -g 5 --log="$LOG" "$T/err.cgi"
	wait_file "$T/err.pid"
	track "$(<"$T/err.pid")"
	kill -TERM "$FRONT_PID"
}

@test "CGI stderr after the server is gone: event=stderr text=... (escaped)" {
	stderr_after_abandon "echo 'disk full: /var/x \"q\"'"
	logged 'event=stderr text="disk full: /var/x \\x22q\\x22"'
	! grep -q 'disk full' "$T/err" || fail "stderr after abandonment went to the server"
}

@test "a NUL in the CGI's stderr is escaped, and the rest of its line is logged" {
	stderr_after_abandon "printf 'before\\000after\\n'"
	logged 'event=stderr text=before\\x00after'
}
