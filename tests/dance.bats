#!/usr/bin/env bats
# The "SIGTERM, pause, SIGKILL dance" of Apache mod_cgi (Apache PR 8063) against a CGI that
# rewrites a data file in place. Without cgiguard the file is left truncated; with cgiguard the
# CGI finishes its write after the server has given up on it.

load helpers

setup() {
	common_setup
	write_seed
	DATA=$T/data
	seq -f 'old record %g' 100 >"$DATA"
	seq -f 'new record %g' 100 >"$T/expected"
}

teardown() {
	common_teardown
}

# seed.cgi DATA DIR: the CGI of the bug report. It opens DATA, flocks it, ftruncates it, then
# reports progress on stdout for 4 s while a slow disk holds the write back, then writes the
# full new content and exits. It traps TERM only to note it.
function write_seed() {
	cat >"$T/seed.cgi" <<'EOF'
#!/usr/bin/perl
use strict; use warnings;
use Fcntl qw(:flock O_RDWR O_CREAT);
use Time::HiRes qw(time);
my ($data, $dir) = @ARGV;
sub note {
    open my $f, '>>', "$dir/seed.$_[0]" or die;
    print $f $_[1];
    close $f;
}
$SIG{TERM} = sub { note('signals', "TERM\n") };
$| = 1;
print "Content-Type: text/plain\n\nsaving\n";
sysopen my $fh, $data, O_RDWR | O_CREAT or die "seed: $data: $!\n";
flock $fh, LOCK_EX or die "seed: flock: $!\n";
truncate $fh, 0 or die "seed: ftruncate: $!\n";
note('id', "$$\n");
my $end = time + 4;
for (my $i = 1; (my $left = $end - time) > 0; $i++) {
    print "progress $i\n";
    select undef, undef, undef, $left < 0.2 ? $left : 0.2;
}
syswrite $fh, join('', map { "new record $_\n" } 1 .. 100) or die "seed: write: $!\n";
close $fh;
note('done', "done\n");
exit 0;
EOF
	chmod +x "$T/seed.cgi"
}

# wait_truncated: the CGI has truncated the data file and holds it; sets SEED_PID.
function wait_truncated() {
	wait_file "$T/seed.id" 5 || fail "the seed CGI never truncated its file"
	SEED_PID=$(<"$T/seed.id")
	track "$SEED_PID"
	[[ ! -s $DATA ]] || fail "data file not truncated"
}

# apache_dance PID: what mod_cgi does when the client goes away: TERM to the pid and its
# output pipe closed at the same moment, a 3 s pause (here the fixed wait is the scenario),
# then KILL to the pid if that process is still there.
function apache_dance() {
	kill -TERM "$1"
	# (The reader may have seen EOF already: cgiguard drops the server's pipe once the front is gone.)
	kill -KILL "$READER" 2>/dev/null || true
	sleep 3
	kill_tracked KILL "$1"
}

@test "dance: without cgiguard, TERM + closed pipe, 3 s, KILL leaves the data file truncated (control)" {
	fifo_reader "$T/pipe" "$T/response"
	# Apache prefork hands CGIs SIGPIPE ignored: the KILL, not a SIGPIPE, ends the CGI.
	start_front cgi -i PIPE -1 "$T/pipe" -2 =1 -- "$T/seed.cgi" "$DATA" "$T"
	wait_truncated
	[[ $SEED_PID == "$FRONT_PID" ]]

	kill -TERM "$FRONT_PID"
	kill -KILL "$READER"
	sleep 3
	alive "$FRONT_PID" || fail "control is void: the CGI ended before the KILL"
	kill_tracked KILL "$FRONT_PID"

	wait_status cgi 5
	expect_end "signal 9" "the control CGI, run without cgiguard"
	[[ $(cat "$T/seed.signals") == TERM ]]
	[[ ! -e $T/seed.done ]]
	[[ ! -s $DATA ]] || fail "data file not truncated: $(wc -l <"$DATA") lines"
}

@test "dance: with cgiguard (SIGPIPE ignored, as under prefork) the data file is intact" {
	fifo_reader "$T/pipe" "$T/response"
	start_front front -i PIPE -1 "$T/pipe" -2 =1 -- "$CGIGUARD" -g 10 "$T/seed.cgi" "$DATA" "$T"
	wait_truncated
	[[ $SEED_PID != "$FRONT_PID" ]]

	apache_dance "$FRONT_PID"

	wait_status front 1
	expect_end "exit 143"
	wait_file "$T/seed.done" 5 || fail "the CGI never finished; data: $(wc -c <"$DATA") bytes"
	cmp "$T/expected" "$DATA"
	[[ $(cat "$T/seed.signals") == TERM ]]
	wait_gone "$SEED_PID" 2
	grep -qx saving "$T/response"
}

@test "dance: with cgiguard (SIGPIPE default, as under mod_cgid) the CGI gets no SIGPIPE and the file is intact" {
	fifo_reader "$T/pipe" "$T/response"
	start_front front -1 "$T/pipe" -2 =1 -- "$CGIGUARD" -g 10 "$T/seed.cgi" "$DATA" "$T"
	wait_truncated

	apache_dance "$FRONT_PID"

	wait_status front 1
	expect_end "exit 143"
	wait_file "$T/seed.done" 5 || fail "the CGI never finished; data: $(wc -c <"$DATA") bytes"
	cmp "$T/expected" "$DATA"
	[[ $(cat "$T/seed.signals") == TERM ]]
	wait_gone "$SEED_PID" 2
}
