#!/usr/bin/env bats
# The #! form: #!/path/to/cgiguard [options] /absolute/interpreter [interp-arg]
# The kernel hands cgiguard everything after its path as ONE argument, then the script path,
# then the script's own arguments. cgiguard splits that argument on blanks and refuses the
# lines that cannot mean what they say.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# script NAME FIRSTLINE [BODY]: an executable $T/NAME whose first line is FIRSTLINE, given
# byte for byte. The default body reports how it was run and touches $T/ran.
function script() {
	local f=$T/$1
	{
		printf '%s\n' "$2"
		if [[ $# -ge 3 ]]; then
			printf '%s\n' "$3"
		else
			cat <<'EOF'
echo "ran $0"
for a in "$@"; do echo "arg <$a>"; done
case $- in *e*) echo errexit ;; esac
echo "parent $(tr '\0' '\n' </proc/$PPID/cmdline | head -n1)"
: >"${0%/*}/ran"
EOF
		fi
	} >"$f"
	chmod 755 "$f"
	S=$f
}

# line_refused REASON: running $S (outside CGI context) must exit 126 with exactly
# "cgiguard: #! line of $S: REASON" on stderr, nothing on stdout, and not run the script;
# the same again with /proc hidden where it can be (can_hide_proc).
function line_refused() {
	line_refused_once "$1"
	if can_hide_proc; then
		PROC_HIDDEN=1 line_refused_once "$1"
	fi
}

function line_refused_once() {
	run --separate-stderr ${PROC_HIDDEN:+hide_proc} "$S" 3>&-
	[[ $status -eq 126 && $(own_stderr) == "cgiguard: #! line of $S: $1" && -z $output ]] ||
		fail "#! line $(head -n1 "$S" | od -c | head -n3)${PROC_HIDDEN:+ (with /proc hidden)}
  status $status, want 126
  stderr: $stderr
  want:   cgiguard: #! line of $S: $1
  stdout: $output"
	[[ ! -e $T/ran ]] || fail "the script ran"
}

# line_of LENGTH [OPTIONS]: a #! line of exactly LENGTH bytes naming /bin/sh, padded with
# slashes inside the interpreter path (/bin///...//sh is still /bin/sh).
function line_of() {
	local head="#!$CGIGUARD ${2:--g 5} /bin" tail=sh pad
	pad=$(($1 - ${#head} - ${#tail}))
	((pad >= 1)) || fail "line_of: $1 bytes is too short"
	LINE=$head$(printf '/%.0s' $(seq "$pad"))$tail
	((${#LINE} == $1)) || fail "line_of: built ${#LINE} bytes, not $1"
}

# parent_is_keeper: the script's last line names its parent: cgiguard, or the keeper's state
# line for this script. Either can be seen: the keeper publishes it just after it spawned the
# CGI, a race the test cannot control.
function parent_is_keeper() {
	local last=${output##*$'\n'}
	[[ $last == "parent $CGIGUARD" || $last == "parent cgiguard: keeper state=running "*" script=$S" ]]
}

@test "#! with several options, an interpreter and its argument: runs the script with its arguments" {
	script opts.cgi "#!$CGIGUARD -g 5 -t 60 /bin/sh -e"
	run --separate-stderr "$S" 'a b' -g --foo 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ ${output%$'\n'parent *} == "ran $S
arg <a b>
arg <-g>
arg <--foo>
errexit" ]] || fail "output: $output"
	parent_is_keeper || fail "output: $output"
}

@test "#! with only an interpreter" {
	script plain.cgi "#!$CGIGUARD /bin/sh"
	run --separate-stderr "$S" x 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ ${output%$'\n'parent *} == "ran $S
arg <x>" ]] || fail "output: $output"
	parent_is_keeper || fail "output: $output"
}

@test "#! options take effect: -t 1 gives 124" {
	script slow.cgi "#!$CGIGUARD -t 1 -g 0 /bin/sh" 'sleep 5'
	run "$S" 3>&-
	[[ $status -eq 124 ]]
}

@test "#! line of exactly 255 bytes runs" {
	line_of 255
	script edge.cgi "$LINE"
	run --separate-stderr "$S" 3>&-
	[[ $status -eq 0 ]] || fail "255-byte #! line: status $status: $stderr"
	[[ -e $T/ran ]]
}

@test "#! refusal: a line of 256 bytes, or longer" {
	line_of 256
	script long256.cgi "$LINE"
	line_refused "line longer than 255 bytes (the kernel truncates it)"
	line_of 300 "-g 5 -t 60 -s TERM"
	script long300.cgi "$LINE"
	line_refused "line longer than 255 bytes (the kernel truncates it)"
}

@test "#! refusal: the line ends in CR" {
	script cr.cgi "#!$CGIGUARD -g 5 /bin/sh"$'\r'
	line_refused "line ends in CR (DOS line ends)"
}

@test "#! refusal: a relative interpreter" {
	script rel.cgi "#!$CGIGUARD -g 5 sh"
	line_refused "interpreter 'sh' is not an absolute path"
	rm -f "$S"
	script rel2.cgi "#!$CGIGUARD -g 5 bin/sh -e"
	line_refused "interpreter 'bin/sh' is not an absolute path"
}

@test "#! refusal: the interpreter is cgiguard itself (also without options, also via a symlink)" {
	script self.cgi "#!$CGIGUARD -g 5 $CGIGUARD"
	line_refused "interpreter is cgiguard itself"
	script self2.cgi "#!$CGIGUARD $CGIGUARD"
	line_refused "interpreter is cgiguard itself"
	ln -s "$CGIGUARD" "$T/cg-link"
	script self3.cgi "#!$CGIGUARD -g 5 $T/cg-link /bin/sh"
	line_refused "interpreter is cgiguard itself"
}

@test "#! refusal: quotes, backslash, \$ in the #! argument" {
	script q1.cgi "#!$CGIGUARD -g '5' /bin/sh"
	line_refused "invalid character in '-g '5' /bin/sh'"
	script q2.cgi "#!$CGIGUARD -g \"5\" /bin/sh"
	# The words are shown escaped as log values escape them: " and \ as \xHH.
	line_refused "invalid character in '-g \\x225\\x22 /bin/sh'"
	script q3.cgi "#!$CGIGUARD -g 5 /bin/sh -\\e"
	line_refused "invalid character in '-g 5 /bin/sh -\\x5ce'"
	script q4.cgi "#!$CGIGUARD -g \$G /bin/sh"
	line_refused "invalid character in '-g \$G /bin/sh'"
	script q5.cgi "#!$CGIGUARD -g 5 /bin/sh -\$x"
	line_refused "invalid character in '-g 5 /bin/sh -\$x'"
}

@test "#! refusal: a control byte in the #! argument" {
	script c1.cgi "#!$CGIGUARD -g 5 /bin/sh -e"$'\x01'
	line_refused "invalid character in '-g 5 /bin/sh -e\\x01'"
	script c2.cgi "#!$CGIGUARD -g"$'\x1b'"5 /bin/sh"
	line_refused "invalid character in '-g\\x1b5 /bin/sh'"
	# A CR inside the line is a control byte too (at its end: the DOS line test).
	script c3.cgi "#!$CGIGUARD -g"$'\r'"5 /bin/sh"
	line_refused "invalid character in '-g\\x0d5 /bin/sh'"
}

@test "#! refusal: missing interpreter" {
	script none.cgi "#!$CGIGUARD -g 5"
	line_refused "missing interpreter"
	script none2.cgi "#!$CGIGUARD -g 5 -t 60 -v"
	line_refused "missing interpreter"
}

@test "#! option missing its value does not swallow the script path" {
	script swallow.cgi "#!$CGIGUARD -t 1 -g"
	run --separate-stderr "$S" 3>&-
	[[ $status -eq 125 ]] || fail "status $status, want 125: $stderr"
	[[ $stderr != *"invalid duration '$S'"* ]] || fail "the script path was taken as -g's value: $stderr"
	[[ $stderr == "cgiguard: option '--grace' needs a value" ]] || fail "stderr: $stderr"
	[[ ! -e $T/ran ]]
}
