#!/usr/bin/env bats
# Nothing may block the keeper: a server that stops reading without closing (stderr a pipe,
# stdout a socket as under mod_cgid), a syslog that stops reading, and a CGI that floods
# stderr after the server is gone. The keeper's clock (--timeout, --grace) runs regardless.

load helpers

LOGDEV=${CGIGUARD_TESTLOG:-/run/cgiguard-test/log}
POLICY_BIN=${CGIGUARD_POLICY:-$BATS_TEST_DIRNAME/cgiguard-policy}

setup() {
	common_setup
	make_sleep
}

teardown() {
	common_teardown
	if [[ -n ${SYSLOGD:-} ]]; then kill_tracked KILL "$SYSLOGD"; fi
	rm -f "$LOGDEV"
}

# cgi_ids: the CGI's pid and its keeper's, from the ids file the test's CGIs write.
function read_ids() {
	wait_file "$T/ids" 5 || return 1
	read -r CGI_PID KEEPER_PID <"$T/ids"
	track "$CGI_PID" "$KEEPER_PID"
}

@test "stderr a pipe nobody reads: --timeout still fires (124) and the CGI's tree is gone after the grace" {
	mkfifo "$T/stalled"
	exec {held}<>"$T/stalled"	# open, never read: a server behind a stalled client
	start_front stall -2 "$T/stalled" -- "$CGIGUARD" -t 1 -g 1 -- \
		sh -c 'echo "$$ $PPID" >"$1/ids"; yes flood >&2; :' sh "$T"
	read_ids || fail "the CGI did not start"
	wait_status stall 4 || fail "the front did not end within 4 s: the keeper blocked"
	expect_end "exit 124"
	wait_gone "$CGI_PID" 4 || fail "the CGI outlived its grace"
	wait_gone "$KEEPER_PID" 4 || fail "the keeper did not end"
	exec {held}>&-
}

@test "stdout a socket nobody reads (mod_cgid's shape): --timeout fires, the keeper ends" {
	cat >"$T/sockserver" <<'EOF'
#!/usr/bin/perl
# sockserver STATUSFILE cmd...: run cmd with stdin and stdout one end of a socketpair that
# is never read; write "exit N" to STATUSFILE when cmd ends.
use strict; use warnings; use Socket; use POSIX ();
my $st = shift;
socketpair(my $ours, my $theirs, AF_UNIX, SOCK_STREAM, 0) or die "socketpair: $!\n";
my $pid = fork() // die "fork: $!\n";
if ($pid == 0) {
    close $ours;
    open STDIN, '<&', $theirs or die; open STDOUT, '>&', $theirs or die;
    exec { $ARGV[0] } @ARGV or POSIX::_exit(127);
}
close $theirs;
waitpid($pid, 0);
open my $f, '>', "$st.tmp" or die; print $f "exit " . ($? >> 8) . "\n"; close $f;
rename "$st.tmp", $st;
EOF
	perl "$T/sockserver" "$T/sock.status" "$CGIGUARD" -t 1 -g 1 -- \
		sh -c 'echo "$$ $PPID" >"$1/ids"; exec yes flood' sh "$T" 2>/dev/null 3>&- &
	track $!
	read_ids || fail "the CGI did not start"
	wait_file "$T/sock.status" 4 || fail "the front did not end within 4 s: the keeper blocked"
	[[ $(<"$T/sock.status") == "exit 124" ]] || fail "front: $(<"$T/sock.status"), not 124"
	wait_gone "$CGI_PID" 4 || fail "the CGI outlived its grace"
	wait_gone "$KEEPER_PID" 4 || fail "the keeper did not end"
}

# syslogd DELAY: a datagram socket at LOGDEV that reads nothing for DELAY seconds, then
# copies every record to $T/syslog. Sets SYSLOGD.
function syslogd() {
	install -d -m 0755 "${LOGDEV%/*}"
	rm -f "$LOGDEV"
	cat >"$T/syslogd" <<'EOF'
use strict; use warnings; use Socket; use IO::Handle; use Time::HiRes qw(sleep);
my ($path, $delay, $out) = @ARGV;
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
bind($s, pack_sockaddr_un($path)) or die "bind: $!\n";
chmod 0666, $path;
open my $o, '>>', $out or die; $o->autoflush(1);
sleep $delay;
my $end = time + 30;
while (time < $end) { my $m; defined(recv($s, $m, 4096, 0)) or last; print $o "$m\n"; }
EOF
	perl "$T/syslogd" "$LOGDEV" "$1" "$T/syslog" 3>&- &
	SYSLOGD=$!
	track "$SYSLOGD"
	poll 5 test -S "$LOGDEV" || fail "the test's syslog socket did not appear"
}

@test "a syslog that stops reading: -v requests end at once, records are dropped and counted" {
	requires root
	[[ -x $POLICY_BIN ]] || fail "no policy build at $POLICY_BIN (make tests/cgiguard-policy)"
	syslogd 2
	# Abandoned at once; 40 lines of stderr go to the log while it reads nothing, a last
	# one once it reads again.
	cat >"$T/noisy.cgi" <<EOF
#!/bin/sh
echo "\$\$ \$PPID" >"$T/ids"
trap '' TERM
echo "Content-Type: text/plain"; echo
while [ ! -e "$T/go" ]; do $T/sleep 0.01; done
i=0; while [ \$i -lt 40 ]; do echo "line \$i" >&2; i=\$((i + 1)); done
while [ ! -e "$T/syslog.read" ]; do $T/sleep 0.05; done
echo last >&2
EOF
	chmod 0755 "$T/noisy.cgi"
	start_front noisy -- "$POLICY_BIN" -v -g 10 "$T/noisy.cgi"
	read_ids || fail "the CGI did not start"
	kill -TERM "$FRONT_PID"
	wait_status noisy 2 || fail "the front did not end at the TERM"
	expect_end "exit 143"
	: >"$T/go"
	poll 10 test -s "$T/syslog" || fail "nothing reached the test's syslog"
	: >"$T/syslog.read"
	wait_gone "$CGI_PID" 10 || fail "the CGI did not finish"
	wait_gone "$KEEPER_PID" 5 || fail "the keeper did not end: it blocked on syslog"
	grep -q '^<29>cgiguard\[[0-9]*\]: event=abandoned' "$T/syslog" ||
		fail "no abandoned record: $(cat "$T/syslog")"
	grep -q 'event=stderr text=last .*dropped=[1-9]' "$T/syslog" ||
		fail "the record after the stall does not count the dropped ones: $(cat "$T/syslog")"
}

@test "a CGI flooding stderr after abandonment: 100 lines logged, the bytes after them counted once" {
	cat >"$T/flood.cgi" <<EOF
#!/bin/sh
echo "\$\$ \$PPID" >"$T/ids"
trap '' TERM
while [ ! -e "$T/go" ]; do $T/sleep 0.01; done
i=0; while [ \$i -lt 250 ]; do echo "line \$i" >&2; i=\$((i + 1)); done
EOF
	chmod 0755 "$T/flood.cgi"
	: >"$T/log"
	start_front flood -- "$CGIGUARD" -g 10 -l "$T/log" "$T/flood.cgi"
	read_ids || fail "the CGI did not start"
	kill -TERM "$FRONT_PID"
	wait_status flood 2 || fail "the front did not end at the TERM"
	: >"$T/go"
	wait_gone "$KEEPER_PID" 10 || fail "the keeper did not end"
	[[ $(grep -c 'event=stderr ' "$T/log") -eq 100 ]] ||
		fail "$(grep -c 'event=stderr ' "$T/log") stderr records, not 100"
	grep -q 'event=stderr text="line 99"' "$T/log" || fail "line 99 not logged"
	[[ $(grep -c 'event=stderr-dropped bytes=1350 ' "$T/log") -eq 1 ]] ||
		fail "no single stderr-dropped bytes=1350 record: $(grep -v 'event=stderr ' "$T/log")"
}
