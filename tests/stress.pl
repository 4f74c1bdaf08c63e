#!/usr/bin/perl
# stress.pl - random-timing runs of cgiguard, as a server that gives up at any moment.
#
# usage: perl tests/stress.pl [-n RUNS] [-s SEED] [-r RUN] [-g GRACE] [-k] [-q] [CGIGUARD]
#   -n RUNS   how many runs (CGIGUARD_STRESS_RUNS; 10000)
#   -s SEED   the seed (CGIGUARD_STRESS_SEED; from the clock), printed first
#   -r RUN    replay run RUN of SEED alone, and say what it did
#   -g GRACE  cgiguard's --grace (2s)
#   -k        keep every run's directory, not only the failed ones'
#   -q        no progress lines
#   CGIGUARD  the binary (CGIGUARD; the cgiguard next to tests/)
#
# Each run is one of three kinds, drawn with its delays from (SEED, RUN), so a run replays:
#   quiet    never abandoned: the CGI prints its lines and exits with a code of 0..3;
#   abandon  TERM to the front 0-20 ms after the spawn, KILL 0-50 ms after the TERM (only to a
#            front that has not ended, as mod_cgi does); the CGI prints until its stop signal
#            comes (at most 1.5 s), then a few lines more, and exits;
#   race     the quiet CGI, with the abandon run's TERM and KILL: they land before cgiguard
#            runs, while it starts, while output flows, or after the CGI ended.
# After each run, within a bounded wait:
#   - nothing of the run is left: this script is the runs' subreaper, so every process of a run
#     that outlives its parent becomes its child; none may remain, alive or zombie;
#   - the CGI's stop signal: exactly one TERM (and no other signal) when the request was
#     abandoned while the CGI ran, none when it was not abandoned; a race run's CGI that ended
#     on its own before the keeper learnt of the TERM may have none;
#   - every CGI that started also finished (no run is killed half-way: the grace is long);
#   - a run not abandoned delivered its whole output and the front exited with the CGI's code;
#   - an abandoned front exited 143 (or died of the TERM before cgiguard caught it, or of the
#     KILL); no other status, no `cgiguard:` line, no CGI output in the log;
#   - the log (-v) has one event=finished for each CGI that ran, one event=abandoned for each
#     TERM the CGI got.
# The last line is "N passed, M failed"; the exit status is 0 when M is 0.

use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(rmtree);
use File::Temp qw(tempdir);
use Getopt::Std qw(getopts);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time);

my %o;
getopts('n:s:r:g:kq', \%o) or die "usage: $0 [-n RUNS] [-s SEED] [-r RUN] [-g GRACE] [-k] [-q] [CGIGUARD]\n";
my $runs = $o{n} // $ENV{CGIGUARD_STRESS_RUNS} // 10000;
my $seed = $o{s} // $ENV{CGIGUARD_STRESS_SEED} // (int(time * 1000) % 1000000000);
my $grace = $o{g} // '2s';
my $cgiguard = shift // $ENV{CGIGUARD} // dirname(__FILE__) . '/../cgiguard';
my $only = $o{r};
for ($runs, $seed, defined $only ? $only : ()) {
    /^\d+$/ or die "stress: not a number: $_\n";
}
-x $cgiguard or die "stress: no cgiguard binary at $cgiguard (run make)\n";
$cgiguard = Cwd::abs_path($cgiguard) if eval { require Cwd; 1 };

my $LINES_MAX = 400;
my $FRONT_WAIT = 10;		# s: the front must end within this
my $LEFT_WAIT = 4;		# s past the grace: the run's processes must be gone by then
my $grace_s = $grace =~ /^(\d+)ms$/ ? $1 / 1000 : $grace =~ /^(\d+)s?$/ ? $1 : 2;

# PR_SET_CHILD_SUBREAPER (36): every orphan of a run becomes our child.
my $SYS_prctl = eval { require 'syscall.ph'; &SYS_prctl() } //
    { x86_64 => 157, aarch64 => 167, i686 => 172, i386 => 172 }->{(POSIX::uname())[4]}
    // die "stress: no prctl system call number for this machine\n";
syscall($SYS_prctl, 36, 1, 0, 0, 0) == 0 or die "stress: cannot become a subreaper: $!\n";
my $children_file = "/proc/$$/task/$$/children";
-r $children_file or die "stress: no $children_file\n";

my $work = tempdir('cgiguard-stress.XXXXXX', TMPDIR => 1);
my $cgi = "$work/stress.cgi";
write_cgi($cgi);

$| = 1;
print "stress: seed $seed, ", (defined $only ? "run $only only" : "$runs runs"),
    ", grace $grace, $cgiguard\n";

my (%reaped, $passed, $failed, %kinds, %outcomes);
$passed = $failed = 0;
my $t_start = time;
my @list = defined $only ? ($only) : (1 .. $runs);
for my $n (@list) {
    my ($ok, $r) = run_one($n);
    $kinds{$r->{kind}}++;
    $outcomes{$r->{outcome}}++;
    $outcomes{'cgi-got-term'}++ if grep { $_ eq 'TERM' } @{$r->{signals}};
    if ($ok) {
        $passed++;
        rmtree($r->{dir}) unless $o{k} || defined $only;
    } else {
        $failed++;
        print "FAIL run $n ($r->{kind}, TERM +$r->{term_ms} ms, KILL +$r->{kill_ms} ms; ",
            "replay: perl tests/stress.pl -s $seed -r $n): $r->{why}\n",
            "  files in $r->{dir}\n";
    }
    if (defined $only) {
        print "run $n: $r->{kind}, lines $r->{lines}, code $r->{code}, TERM at +$r->{term_ms} ms",
            " (", defined $r->{term_sent} ? sprintf('sent at +%.1f ms', $r->{term_sent}) : 'not sent',
            "), KILL $r->{kill_ms} ms later (", $r->{kill_sent} ? 'sent' : 'not sent',
            "); front: $r->{status}; CGI ", ($r->{started} ? 'started' : 'did not start'),
            ", signals: '", join(' ', @{$r->{signals}}), "'; outcome $r->{outcome}\n",
            "  files in $r->{dir}\n";
    }
    if (!$o{q} && !defined $only && $n % 500 == 0) {
        printf "# %d runs, %d failed, %.1f s\n", $n, $failed, time - $t_start;
    }
}
printf "# %.1f s; kinds: %s; outcomes: %s\n", time - $t_start,
    join(', ', map { "$_ $kinds{$_}" } sort keys %kinds),
    join(', ', map { "$_ $outcomes{$_}" } sort keys %outcomes);
if ($failed == 0 && !$o{k} && !defined $only) {
    rmtree($work);
} else {
    print "# work directory kept: $work\n";
}
print "$passed passed, $failed failed\n";
exit($failed == 0 ? 0 : 1);

# ---------------------------------------------------------------- one run

sub msleep { select(undef, undef, undef, $_[0]) }

# reap_all: collect every child that ended (fronts, and the orphans we inherit).
sub reap_all {
    while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
        $reaped{$pid} = $?;
    }
}

sub children {
    open my $f, '<', $children_file or return ();
    my $l = <$f> // '';
    return split ' ', $l;
}

sub describe {
    my @out;
    for my $p (@_) {
        my $stat = slurp("/proc/$p/stat") // next;
        my $args = slurp("/proc/$p/cmdline") // '';
        $args =~ s/\0/ /g;
        $stat =~ /\) (\S)/;
        push @out, "$p ($1) $args";
    }
    return join('; ', @out);
}

sub slurp {
    open my $f, '<', $_[0] or return undef;
    local $/;
    return scalar <$f>;
}

# wait_for PID UNTIL: wait until the child PID has been reaped, or time UNTIL; its status.
sub wait_for {
    my ($pid, $until) = @_;
    while (1) {
        reap_all();
        return delete $reaped{$pid} if exists $reaped{$pid};
        return undef if time >= $until;
        msleep(0.0005);
    }
}

sub status_text {
    my $w = shift;
    return 'none' unless defined $w;
    return 'signal ' . ($w & 127) if $w & 127;
    return 'exit ' . ($w >> 8);
}

sub run_one {
    my $n = shift;
    srand(($seed * 1000003 + $n) % 2147483647);
    my $k = int(rand(3));
    my %r = (
        kind => (qw(quiet abandon race))[$k],
        term_ms => int(rand(21)),
        kill_ms => int(rand(51)),
        code => int(rand(4)),
        lines => 1 + int(rand($LINES_MAX)),
        dir => "$work/$n",
        signals => [],
    );
    mkdir $r{dir} or die "stress: mkdir $r{dir}: $!\n";
    my $t0 = time;
    my $pid = fork() // die "stress: fork: $!\n";
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for keys %SIG;
        no warnings "exec";
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$r{dir}/out";
        open STDERR, '>', "$r{dir}/err";
        open my $log, '>', "$r{dir}/log";    # a log file must be there: never created
        close $log;
        exec { $cgiguard } $cgiguard, '-g', $grace, '-v', "--log=$r{dir}/log", $cgi,
            $r{dir}, $r{kind}, $r{lines}, $r{code};
        POSIX::_exit(127);
    }
    my $w;
    if ($r{kind} ne 'quiet') {
        $w = wait_for($pid, $t0 + $r{term_ms} / 1000);
        if (!defined $w) {
            $r{term_sent} = (time - $t0) * 1000;
            $r{term_time} = time;
            kill 'TERM', $pid;
            $w = wait_for($pid, time + $r{kill_ms} / 1000);
            if (!defined $w) {
                kill 'KILL', $pid;
                $r{kill_sent} = 1;
            }
        }
    }
    $w //= wait_for($pid, $t0 + $FRONT_WAIT);
    my @why;
    if (!defined $w) {
        push @why, "the front did not end within $FRONT_WAIT s: " . describe($pid);
        kill 'KILL', $pid;
        $w = wait_for($pid, time + 5);
    }
    $r{status} = status_text($w);

    # Nothing of the run may be left: no child of ours (orphans are ours), alive or zombie.
    my $until = time + $grace_s + $LEFT_WAIT;
    my @left;
    while (1) {
        reap_all();
        @left = children();
        last if !@left || time >= $until;
        msleep(0.001);
    }
    if (@left) {
        push @why, "left after " . ($grace_s + $LEFT_WAIT) . " s: " . describe(@left);
        for my $round (1 .. 50) {
            kill 'KILL', @left;
            msleep(0.02);
            reap_all();
            @left = children() or last;
        }
    }
    %reaped = ();

    check(\%r, \@why);
    $r{why} = join('; ', @why);
    return (!@why, \%r);
}

# ---------------------------------------------------------------- checks

sub check {
    my ($r, $why) = @_;
    my $d = $r->{dir};
    my $st = $r->{status};
    my $code = $r->{code};
    $r->{started} = -e "$d/ids";
    my $done = -e "$d/done";
    my @sigs = map { (split ' ')[0] } split /\n/, slurp("$d/sig") // '';
    $r->{signals} = \@sigs;
    my $terms = grep { $_ eq 'TERM' } @sigs;
    my @other = grep { $_ ne 'TERM' } @sigs;
    my $completed = $st eq "exit $code";
    my $abandoned = $st eq 'exit 143' || $st eq 'signal 15' || $st eq 'signal 9';

    $r->{outcome} = $completed ? 'completed' : $st eq 'exit 143' ? 'exit-143'
        : $st eq 'signal 15' ? 'term-before-catch' : $st eq 'signal 9' ? 'killed' : 'other';
    push @$why, "the CGI got @other" if @other;
    push @$why, "the CGI got TERM $terms times" if $terms > 1;
    push @$why, "the CGI started but did not finish (killed half-way)" if $r->{started} && !$done;
    if ($r->{kind} eq 'quiet' && !$completed) {
        push @$why, "never abandoned, yet the front ended with $st, not exit $code";
    }
    if ($r->{kind} eq 'abandon' && $completed) {
        push @$why, "abandoned, yet the front ended with the CGI's code";
    }
    if (!$completed && !$abandoned) {
        push @$why, "the front ended with $st (not exit $code, 143, or killed by TERM/KILL)";
    }
    if ($st eq 'signal 9' && !$r->{kill_sent}) {
        push @$why, "the front died of KILL nobody sent";
    }
    if (($abandoned || $terms) && !defined $r->{term_sent}) {
        push @$why, "abandoned ($st, $terms TERM) with no TERM sent";
    }
    if ($completed) {
        push @$why, "completed, yet the CGI got TERM" if $terms;
        my @out = split /\n/, slurp("$d/out") // '', -1;
        my $want = $r->{kind} eq 'abandon' ? 0 : $r->{lines} + 3;
        if (@out < 3 || $out[0] ne 'Content-Type: text/plain' || $out[-2] ne 'end' ||
            ($want && @out - 1 != $want)) {
            push @$why, sprintf("completed with incomplete output: %d lines, last '%s'",
                scalar(@out) - 1, @out > 1 ? $out[-2] : '');
        }
    }
    if ($abandoned && $r->{started} && $r->{kind} eq 'abandon' && $terms != 1) {
        push @$why, "abandoned while the CGI ran, yet it got TERM $terms times";
    }
    if ($terms && defined $r->{term_time}) {
        my ($t) = (slurp("$d/sig") =~ /^TERM (\S+)/m);
        push @$why, "the CGI got TERM before the server sent one" if $t < $r->{term_time} - 0.001;
    }
    my $err = slurp("$d/err") // '';
    push @$why, "stderr: " . substr($err, 0, 300) if $err =~ /^cgiguard/m;
    my $log = slurp("$d/log") // '';
    push @$why, "CGI output in the log: " . substr($log, 0, 300)
        if $log =~ /Content-Type|\b(line|tick|after) \d+/;
    # -v: a keeper that ran the CGI logs its end once; a TERM it passed on, once.
    my $finished = () = $log =~ /event=finished /g;
    my $abandons = () = $log =~ /event=abandoned /g;
    push @$why, "the CGI ran, but the log has $finished event=finished records"
        if $r->{started} && $finished != 1;
    push @$why, "the CGI got TERM, but the log has $abandons event=abandoned records"
        if $terms && $abandons != 1;
}

# ---------------------------------------------------------------- the CGI

sub write_cgi {
    my $path = shift;
    open my $f, '>', $path or die "stress: $path: $!\n";
    print $f <<'CGI';
#!/usr/bin/perl
# stress.cgi DIR KIND LINES CODE: records the signals it gets in DIR/sig ("NAME TIME"), writes
# DIR/ids once they are caught, prints LINES lines (KIND abandon: until its TERM, at most
# 1.5 s, then 3 more), writes DIR/done and exits CODE.
use strict;
use warnings;
use Time::HiRes ();
our ($dir, $kind, $lines, $code, $got);
BEGIN {
    ($dir, $kind, $lines, $code) = @ARGV;
    $got = 0;
    for my $s (qw(HUP INT QUIT TERM USR1 USR2 ALRM PIPE)) {
        $SIG{$s} = sub {
            $got++ if $s eq 'TERM';
            open my $f, '>>', "$dir/sig" or return;
            printf $f "%s %.6f\n", $s, Time::HiRes::time();
            close $f;
        };
    }
}
sub put {
    my ($name, $text) = @_;
    open my $f, '>', "$dir/$name.tmp" or die "stress.cgi: $dir/$name.tmp: $!\n";
    print $f $text;
    close $f;
    rename "$dir/$name.tmp", "$dir/$name" or die "stress.cgi: rename: $!\n";
}
put('ids', "$$ " . getppid() . "\n");
$| = 1;
print "Content-Type: text/plain\n\n";
if ($kind eq 'abandon') {
    my $end = Time::HiRes::time() + 1.5;
    my $i = 0;
    while (!$got && Time::HiRes::time() < $end) {
        print "tick ", $i++, "\n";
        select undef, undef, undef, 0.002;
    }
    print "after $_\n" for 1 .. 3;
} else {
    print "line $_\n" for 1 .. $lines;
}
print "end\n";
close STDOUT;
put('done', "done\n");
exit $code;
CGI
    close $f;
    chmod 0755, $path;
}
