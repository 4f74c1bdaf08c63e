#!/usr/bin/env bats
# Exit statuses: the CGI's own, 128+N for a death by signal N, 125/126/127 for cgiguard's own
# failures, each with its exact message on stderr and nothing on stdout.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

@test "the CGI's exit status 0..255 passes through" {
	# A plain bash runs the loop: bats' DEBUG trap would slow each of its commands.
	run bash -c 'for i in {0..255}; do
		st=0
		"$1" /bin/sh -c "exit $i" || st=$?
		[[ $st -eq $i ]] || echo "CGI exited $i, cgiguard exited $st"
	done' - "$CGIGUARD" 3>&-
	[[ $status -eq 0 && -z $output ]] || fail "$output"
}

@test "a CGI killed by TERM, KILL or SEGV: the front exits 128+N (exits, not killed itself)" {
	local sig n
	for sig in TERM:15 KILL:9 SEGV:11 HUP:1 ABRT:6; do
		n=${sig#*:}
		reaped "$CGIGUARD" --core=0 /bin/sh -c "kill -${sig%:*} \$\$"
		expect_end "exit $((128 + n))" "the CGI died of ${sig%:*}"
	done
}

@test "stdout, stderr and stdin are the CGI's own" {
	run --separate-stderr cg /bin/sh -c 'echo out; echo err >&2; cat' <<<"in"
	[[ $status -eq 0 ]]
	[[ $output == $'out\nin' ]]
	[[ $stderr == err ]]
}

@test "127: program not found, absolute or by PATH search" {
	run -127 --separate-stderr cg /no/such
	[[ $stderr == "cgiguard: /no/such: No such file or directory" ]]
	[[ -z $output ]]

	run -127 --separate-stderr cg nosuchcmd
	[[ $stderr == "cgiguard: nosuchcmd: command not found" ]]
	[[ -z $output ]]

	run -127 --separate-stderr cg -- -x
	[[ $stderr == "cgiguard: -x: command not found" ]]
}

@test "PATH search finds a program" {
	run cg sh -c 'echo found; exit 4'
	[[ $status -eq 4 ]]
	[[ $output == found ]]
}

@test "126: program found but not runnable" {
	run -126 --separate-stderr cg /etc/passwd
	[[ $stderr == "cgiguard: /etc/passwd: Permission denied" ]]
	[[ -z $output ]]

	run -126 --separate-stderr cg /tmp
	[[ $stderr == "cgiguard: /tmp: Is a directory" ]]
	[[ -z $output ]]
}

@test "125: missing program" {
	run -125 --separate-stderr cg
	[[ $stderr == "cgiguard: missing program (see cgiguard --help)" ]]
	[[ -z $output ]]
	run -125 --separate-stderr cg -g 5
	[[ $stderr == "cgiguard: missing program (see cgiguard --help)" ]]
	run -125 --separate-stderr cg --
	[[ $stderr == "cgiguard: missing program (see cgiguard --help)" ]]
}

@test "--help and --version print to stdout and exit 0" {
	local o version
	# The version the source defines: #define VERSION "x.y.z".
	version=$(sed -n 's/^#define[[:space:]]\{1,\}VERSION[[:space:]]\{1,\}"\([^"]*\)".*/\1/p' \
		"$BATS_TEST_DIRNAME/../cgiguard.c")
	[[ -n $version ]] || fail "no VERSION define in cgiguard.c"
	for o in -h --help; do
		run --separate-stderr cg "$o"
		[[ $status -eq 0 ]] || fail "$o: status $status"
		[[ ${lines[0]} == "usage: cgiguard [options] [--] program [arg ...]" ]] ||
			fail "$o: first line '${lines[0]}'"
		[[ -z $stderr ]] || fail "$o: stderr $stderr"
	done
	for o in -V --version; do
		run --separate-stderr cg "$o"
		[[ $status -eq 0 ]] || fail "$o: status $status"
		[[ $output == "cgiguard $version" ]] || fail "$o: '$output', want 'cgiguard $version'"
		[[ -z $stderr ]] || fail "$o: stderr $stderr"
	done
}
