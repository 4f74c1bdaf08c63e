#!/usr/bin/env bats
# The CGI gets the signal mask and the ignored signals the server gave (tini's sigconf test),
# and no descriptor but 0, 1 and 2 (none of the wrapper's, none the server leaked).

load helpers

setup() {
	common_setup
	# Reports its open fds, without the one listing them. (Not for signals: perl ignores SIGFPE
	# at start-up; cat(1) changes no signal state, so it reports those.)
	FDS='opendir my $d, "/proc/self/fd" or die; my $own = fileno $d;
		print "fds: ", join(" ", sort { $a <=> $b } grep { /^\d+$/ && $_ != $own } readdir $d), "\n";'
}

teardown() {
	common_teardown
}

# mask SIG...: the /proc/PID/status hex mask with these signals set. A SigIgn line also
# carries signals 32 and 33 as this shell got them: glibc reserves them, so the perl spawn
# fixture cannot reset them, and every program it starts inherits them as they are.
function mask() {
	local m=0 s n reserved
	reserved=$(awk '/^SigIgn:/ { print $2 }' /proc/$$/status)
	for s in "$@"; do
		n=$(kill -l "$s")
		m=$((m | (1 << (n - 1))))
	done
	printf '%016x' "$m"
	RESERVED_IGN=$(printf '%016x' $((m | (0x$reserved & 0x180000000))))
}

# ign SIG...: the SigIgn line a spawned program shows when the spawn ignores SIG...
function ign() {
	mask "$@" >/dev/null
	echo "SigIgn:	$RESERVED_IGN"
}

# report IGNORED BLOCKED [cgiguard]: SigBlk, SigIgn and fds of a program started by a parent
# that ignores IGNORED and blocks BLOCKED, with fd 5 open and fd 3 closed.
function report() {
	"$SPAWN" -i "$1" -b "$2" -- ${3:+"$3"} /bin/cat /proc/self/status 5>/dev/null 3>&- | grep -E '^Sig(Blk|Ign):'
	"$SPAWN" -i "$1" -b "$2" -- ${3:+"$3"} /usr/bin/perl -e "$FDS" 5>/dev/null 3>&-
}

# compare IGNORED BLOCKED: run the reporter directly and through cgiguard from a parent
# that ignores IGNORED and blocks BLOCKED (comma lists), with fd 5 open and fd 3 closed.
function compare() {
	DIRECT=$(report "$1" "$2")
	GUARDED=$(report "$1" "$2" "$CGIGUARD")
	# The same lines, but for the descriptors.
	[[ $(grep ^Sig <<<"$GUARDED") == $(grep ^Sig <<<"$DIRECT") ]] ||
		fail "signal state differs
without cgiguard:
$DIRECT
through cgiguard:
$GUARDED"
}

@test "as under Apache prefork (INT, PIPE, XFSZ ignored; USR2, WINCH blocked): the CGI sees exactly that" {
	compare INT,PIPE,XFSZ USR2,WINCH
	# The parent really set up what we compare against.
	grep -qx "$(ign INT PIPE XFSZ)" <<<"$DIRECT" || fail "direct: $DIRECT"
	grep -qx "SigBlk:	$(mask USR2 WINCH)" <<<"$DIRECT" || fail "direct: $DIRECT"
	grep -qx "$(ign INT PIPE XFSZ)" <<<"$GUARDED"
	grep -qx "SigBlk:	$(mask USR2 WINCH)" <<<"$GUARDED"
}

@test "nothing ignored, nothing blocked: the CGI sees nothing ignored, nothing blocked" {
	compare "" ""
	grep -qx "$(ign)" <<<"$GUARDED" || fail "through cgiguard: $GUARDED"
	grep -qx "SigBlk:	$(mask)" <<<"$GUARDED" || fail "through cgiguard: $GUARDED"
}

@test "TERM, HUP and CHLD ignored, TERM and USR1 blocked: passed on as they are" {
	compare TERM,HUP,CHLD TERM,USR1,ALRM
	grep -qx "$(ign TERM HUP CHLD)" <<<"$GUARDED" || fail "through cgiguard: $GUARDED"
	grep -qx "SigBlk:	$(mask TERM USR1 ALRM)" <<<"$GUARDED" || fail "through cgiguard: $GUARDED"
}

@test "the CGI has only fds 0, 1 and 2, even when the server leaks more" {
	compare PIPE ""
	[[ $(grep ^fds <<<"$DIRECT") == *" 5"* ]] || fail "control: fd 5 not inherited directly: $DIRECT"
	[[ $(grep ^fds <<<"$GUARDED") == "fds: 0 1 2" ]] || fail "through cgiguard: $(grep ^fds <<<"$GUARDED")"
}
