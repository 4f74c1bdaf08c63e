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

# refused REASON: running $S must exit 126 with "cgiguard: #! line of $S: REASON" and not run it.
function refused() {
	run --separate-stderr "$S" 3>&-
	[[ $status -eq 126 && $stderr == "cgiguard: #! line of $S: $1" && -z $output ]] ||
		fail "#! line $(head -n1 "$S" | od -c | head -n3)
  status $status, want 126
  stderr: $stderr
  want:   cgiguard: #! line of $S: $1
  stdout: $output"
	[[ ! -e $T/ran ]] || fail "the script ran"
}

# refused_either REASON REASON2: as refused, where the spec leaves open whether the words in
# the message are shown raw (REASON) or with " and \ escaped as in log values (REASON2).
function refused_either() {
	run --separate-stderr "$S" 3>&-
	[[ $status -eq 126 && -z $output ]] || fail "status $status, want 126; stderr: $stderr"
	[[ $stderr == "cgiguard: #! line of $S: $1" || $stderr == "cgiguard: #! line of $S: $2" ]] ||
		fail "stderr: $stderr
want:   cgiguard: #! line of $S: $1
or:     cgiguard: #! line of $S: $2"
	[[ ! -e $T/ran ]] || fail "the script ran"
}

# refused_re REGEX: as refused, for a message the spec leaves partly open.
function refused_re() {
	run --separate-stderr "$S" 3>&-
	[[ $status -eq 126 && $stderr =~ $1 && -z $output ]] ||
		fail "status $status, want 126; stderr: $stderr; want /$1/"
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

# parent_is_keeper: the script's last line names its parent: cgiguard, or (once the CGI
# runs) the keeper's state line for this script.
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
	refused "line longer than 255 bytes (the kernel truncates it)"
	line_of 300 "-g 5 -t 60 -s TERM"
	script long300.cgi "$LINE"
	refused "line longer than 255 bytes (the kernel truncates it)"
}

@test "#! refusal: the line ends in CR" {
	script cr.cgi "#!$CGIGUARD -g 5 /bin/sh"$'\r'
	refused "line ends in CR (DOS line ends)"
}

@test "#! refusal: a relative interpreter" {
	script rel.cgi "#!$CGIGUARD -g 5 sh"
	refused "interpreter 'sh' is not an absolute path"
	rm -f "$S"
	script rel2.cgi "#!$CGIGUARD -g 5 bin/sh -e"
	refused "interpreter 'bin/sh' is not an absolute path"
}

@test "#! refusal: the interpreter is cgiguard itself (also without options, also via a symlink)" {
	script self.cgi "#!$CGIGUARD -g 5 $CGIGUARD"
	refused "interpreter is cgiguard itself"
	script self2.cgi "#!$CGIGUARD $CGIGUARD"
	refused "interpreter is cgiguard itself"
	ln -s "$CGIGUARD" "$T/cg-link"
	script self3.cgi "#!$CGIGUARD -g 5 $T/cg-link /bin/sh"
	refused "interpreter is cgiguard itself"
}

@test "#! refusal: quotes, backslash, \$ in the #! argument" {
	script q1.cgi "#!$CGIGUARD -g '5' /bin/sh"
	refused "invalid character in '-g '5' /bin/sh'"
	script q2.cgi "#!$CGIGUARD -g \"5\" /bin/sh"
	refused_either "invalid character in '-g \"5\" /bin/sh'" "invalid character in '-g \\x225\\x22 /bin/sh'"
	script q3.cgi "#!$CGIGUARD -g 5 /bin/sh -\\e"
	refused_either "invalid character in '-g 5 /bin/sh -\\e'" "invalid character in '-g 5 /bin/sh -\\x5ce'"
	script q4.cgi "#!$CGIGUARD -g \$G /bin/sh"
	refused "invalid character in '-g \$G /bin/sh'"
	script q5.cgi "#!$CGIGUARD -g 5 /bin/sh -\$x"
	refused "invalid character in '-g 5 /bin/sh -\$x'"
}

@test "#! refusal: a control byte in the #! argument" {
	script c1.cgi "#!$CGIGUARD -g 5 /bin/sh -e"$'\x01'
	refused_re "^cgiguard: #! line of $S: invalid character in '.*'$"
	script c2.cgi "#!$CGIGUARD -g"$'\x1b'"5 /bin/sh"
	refused_re "^cgiguard: #! line of $S: invalid character in '.*'$"
}

@test "#! refusal: missing interpreter" {
	script none.cgi "#!$CGIGUARD -g 5"
	refused "missing interpreter"
	script none2.cgi "#!$CGIGUARD -g 5 -t 60 -v"
	refused "missing interpreter"
}

@test "#! option missing its value does not swallow the script path" {
	script swallow.cgi "#!$CGIGUARD -t 1 -g"
	run --separate-stderr "$S" 3>&-
	[[ $status -eq 125 || $status -eq 126 ]] || fail "status $status: $stderr"
	[[ $stderr != *"invalid duration '$S'"* ]] || fail "the script path was taken as -g's value: $stderr"
	[[ $stderr =~ ^cgiguard:\ (option\ \'(-g|--grace)\'\ needs\ a\ value|\#!\ line\ of\ .*)$ ]] || fail "stderr: $stderr"
	[[ ! -e $T/ran ]]
}
