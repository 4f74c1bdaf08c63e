#!/usr/bin/env bats
# Option parsing: every form the spec accepts, every bad option, DURATION, SIZE, number and
# signal with the exact one-line message and exit status 125, nothing on stdout, and the
# program never started.

load helpers

setup() {
	common_setup
	MARK=$T/ran
	RUNS=(/bin/sh -c ": >\"$MARK\"")
	: >"$T/log"	# a log file is never created: it must be there
}

teardown() {
	common_teardown
}

# The checks below collect every mismatch of a test and report them all at its end (check).
ERRORS=()

# bad MESSAGE args...: cgiguard args must exit 125 with exactly MESSAGE on stderr, print
# nothing on stdout and not start the program.
function bad() {
	local msg=$1
	shift
	try "$@"
	[[ $ST -eq 125 && $ERR == "$msg" && -z $OUT && ! -e $MARK ]] ||
		mismatch "$@" "125, $msg"
}

# good args...: cgiguard args must run the program to its end and exit 0.
function good() {
	try "$@"
	[[ $ST -eq 0 && -e $MARK && -z $ERR ]] || mismatch "$@" "0, program run, no message"
}

# try args...: run cgiguard args; sets ST, OUT, ERR.
function try() {
	if [[ -e $MARK ]]; then rm -f "$MARK"; fi
	ST=0
	cg "$@" >"$T/out" 2>"$T/err" </dev/null || ST=$?
	OUT=$(<"$T/out")
	ERR=$(<"$T/err")
}

function mismatch() {
	local want=${*: -1} extra=
	[[ ! -e $MARK ]] || extra+=" (program ran)"
	[[ -z $OUT ]] || extra+=", stdout: $OUT"
	ERRORS+=("cgiguard $(printf '%q ' "${@:1:$#-1}")
    got:  $ST, $ERR$extra
    want: $want")
}

# check: fail with every mismatch collected.
function check() {
	((${#ERRORS[@]} == 0)) || fail "$(printf '%s\n' "${ERRORS[@]}")
${#ERRORS[@]} mismatches"
}

@test "unknown options" {
	bad "cgiguard: unknown option '--foo' (see cgiguard --help)" --foo "${RUNS[@]}"
	bad "cgiguard: unknown option '-x' (see cgiguard --help)" -x "${RUNS[@]}"
	bad "cgiguard: unknown option '---grace' (see cgiguard --help)" ---grace 5 "${RUNS[@]}"
	bad "cgiguard: unknown option '--GRACE' (see cgiguard --help)" --GRACE 5 "${RUNS[@]}"
	bad "cgiguard: unknown option '--Verbose' (see cgiguard --help)" --Verbose "${RUNS[@]}"
	check
}

@test "no abbreviations of long options" {
	bad "cgiguard: unknown option '--gr' (see cgiguard --help)" --gr 5 "${RUNS[@]}"
	bad "cgiguard: unknown option '--verb' (see cgiguard --help)" --verb "${RUNS[@]}"
	bad "cgiguard: unknown option '--time' (see cgiguard --help)" --time 5 "${RUNS[@]}"
	bad "cgiguard: unknown option '--sig' (see cgiguard --help)" --sig TERM "${RUNS[@]}"
	check
}

@test "an option that needs a value, given none" {
	local o
	for o in grace timeout signal log cpu mem nproc fsize nofile core nice umask; do
		bad "cgiguard: option '--$o' needs a value" "--$o"
	done
	# A short option is named by its long name.
	bad "cgiguard: option '--grace' needs a value" -g
	bad "cgiguard: option '--timeout' needs a value" -t
	bad "cgiguard: option '--signal' needs a value" -s
	bad "cgiguard: option '--log' needs a value" -l
	check
}

@test "an option that takes no value, given one" {
	bad "cgiguard: option '--verbose' takes no value" --verbose=1 "${RUNS[@]}"
	bad "cgiguard: option '--verbose' takes no value" --verbose= "${RUNS[@]}"
	bad "cgiguard: option '--help' takes no value" --help=1
	bad "cgiguard: option '--version' takes no value" --version=yes
	check
}

@test "option forms --opt=value, --opt value, -o value, -ovalue are all accepted" {
	good --grace=5 "${RUNS[@]}"
	good --grace 5 "${RUNS[@]}"
	good -g 5 "${RUNS[@]}"
	good -g5 "${RUNS[@]}"
	good -t60 -g 1 -s TERM -l "$T/log" -v "${RUNS[@]}"
	good --timeout 60 --signal none --log "$T/log" --verbose "${RUNS[@]}"
	good -- "${RUNS[@]}"
	check
}

@test "parsing stops at the first non-option and at --" {
	run --separate-stderr cg /bin/echo -g 5 --foo -- x
	[[ $status -eq 0 && $output == "-g 5 --foo -- x" ]]
	run --separate-stderr cg -g 1 -- /bin/echo --grace
	[[ $status -eq 0 && $output == "--grace" ]]
	# The token after an option that needs a value is that value, even if it looks like a program.
	bad "cgiguard: --grace: invalid duration '/bin/true'" --grace /bin/true
	check
}

@test "invalid durations" {
	local o v
	for o in --grace --timeout; do
		for v in 5x "" -1 +5 5s5 "5 " " 5" 1.2345 1e3 0x10 5d ms s . 1..2 nan inf 1,5 5sec; do
			bad "cgiguard: $o: invalid duration '$v'" "$o=$v" "${RUNS[@]}"
		done
	done
	bad "cgiguard: --grace: invalid duration '5x'" --grace 5x "${RUNS[@]}"
	bad "cgiguard: --grace: invalid duration '5x'" -g 5x "${RUNS[@]}"
	bad "cgiguard: --timeout: invalid duration 'abc'" -tabc "${RUNS[@]}"
	check
}

@test "durations out of range (max 7 days)" {
	local o v
	for o in --grace --timeout; do
		for v in 9999h 604801 604800.001 169h 10081m 604800001ms 99999999999999999999 99999999999999999999ms 18446744073709551617; do
			bad "cgiguard: $o: duration out of range '$v'" "$o=$v" "${RUNS[@]}"
		done
	done
	check
}

@test "valid durations" {
	local v
	for v in 0 0.5 1.25 1.250s 0.001 250ms 2m 1.5m 1h 168h 604800 10080m 604800000ms; do
		good --grace="$v" "${RUNS[@]}"
	done
	for v in 0 168h 604800 10080m 1h 60; do
		good --timeout="$v" "${RUNS[@]}"
	done
	check
}

@test "invalid sizes" {
	local o v
	for o in --mem --fsize --core; do
		for v in 1X "" -1 1.5k k 1kk "1 k" " 1" 0x10 1T 1b; do
			bad "cgiguard: $o: invalid size '$v'" "$o=$v" "${RUNS[@]}"
		done
		# well-formed, but more than a limit can hold (2^62 bytes)
		for v in 99999999999999999999 99999999999G 17179869184G; do
			bad "cgiguard: $o: size out of range '$v'" "$o=$v" "${RUNS[@]}"
		done
	done
	check
}

@test "valid sizes" {
	local v
	for v in 0 1 4096 10k 1M 1G 2G; do
		good --fsize="$v" "${RUNS[@]}"
		good --core="$v" "${RUNS[@]}"
	done
	good --mem=1G "${RUNS[@]}"
	good --mem 512M "${RUNS[@]}"
	check
}

@test "invalid numbers" {
	local o v
	for o in --nproc --nofile; do
		for v in abc "" 1.5 12x " 5"; do
			bad "cgiguard: $o: invalid number '$v'" "$o=$v" "${RUNS[@]}"
		done
		# well-formed numbers outside the option's range
		for v in -1 0 99999999999999999999; do
			bad "cgiguard: $o: number out of range '$v'" "$o=$v" "${RUNS[@]}"
		done
	done
	for v in abc "" 5x; do
		bad "cgiguard: --cpu: invalid number '$v'" "--cpu=$v" "${RUNS[@]}"
	done
	bad "cgiguard: --cpu: number out of range '-1'" "--cpu=-1" "${RUNS[@]}"
	for v in abc "" 1.5; do
		bad "cgiguard: --nice: invalid number '$v'" "--nice=$v" "${RUNS[@]}"
	done
	# Outside -20..19.
	for v in 20 -21 100; do
		bad "cgiguard: --nice: number out of range '$v'" "--nice=$v" "${RUNS[@]}"
	done
	# Not an octal mode in 0..0777.
	for v in abc "" 8 0800 01000 -1 u=rwx; do
		bad "cgiguard: --umask: invalid mode '$v'" "--umask=$v" "${RUNS[@]}"
	done
	check
}

@test "valid numbers, modes and nice values" {
	good --nproc=1000 --nofile=64 --cpu=100 "${RUNS[@]}"
	good --umask=0 --nice=0 "${RUNS[@]}"
	good --umask=777 --nice=19 "${RUNS[@]}"
	good --umask=0777 "${RUNS[@]}"
	good --umask=022 --nice=-20 "${RUNS[@]}"
	check
}

@test "unknown signals" {
	local v
	for v in FOO "" 0 65 -1 SIG SIGFOO TERM1 15x SIGSIGTERM " TERM" "TERM " 99999999999999999999 nonee; do
		bad "cgiguard: --signal: unknown signal '$v'" "--signal=$v" "${RUNS[@]}"
	done
	bad "cgiguard: --signal: unknown signal 'FOO'" -s FOO "${RUNS[@]}"
	check
}

@test "valid signals: names with or without SIG, any case, numbers 1..64, none" {
	local v
	for v in TERM SIGTERM term sigterm usr1 Usr2 SIGusr1 HUP KILL 1 9 15 64 none; do
		good --signal="$v" "${RUNS[@]}"
	done
	check
}

@test "--log: FILE must be an absolute path" {
	bad "cgiguard: --log: 'log/file' is not an absolute path" --log=log/file "${RUNS[@]}"
	bad "cgiguard: --log: 'file' is not an absolute path" --log file "${RUNS[@]}"
	good --log=stderr "${RUNS[@]}"
	good --log=syslog "${RUNS[@]}"
	good --log="$T/log" "${RUNS[@]}"
	check
}

@test "cgiguard as its own program, named by its path, is a program, not a #! line without interpreter" {
	run --separate-stderr "$CGIGUARD" "$CGIGUARD" --version 3>&-
	[[ $status -eq 0 && $output == "cgiguard "* && -z $stderr ]] ||
		fail "status $status, stdout '$output', stderr '$stderr'"
}
