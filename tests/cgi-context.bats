#!/usr/bin/env bats
# CGI context (GATEWAY_INTERFACE set): no CGI as root, no set-id cgiguard; an unprivileged
# #! CGI runs with its #! options.

load helpers

setup() {
	common_setup
	requires root
	cgi_user
	make_pubdir
	cat >"$PUB/hello.cgi" <<EOF
#!$CGIGUARD -g 5 /bin/sh
echo "Content-Type: text/plain"
echo
echo "hello \$(id -un) proxy=\${HTTP_PROXY-unset}"
EOF
	cat >"$PUB/slow.cgi" <<EOF
#!$CGIGUARD -t 1 -g 0 /bin/sh
echo "Content-Type: text/plain"
echo
sleep 5
EOF
	chmod 0755 "$PUB"/*.cgi
}

teardown() {
	common_teardown
}

# cgi_env SCRIPT: the environment a server gives a CGI (lighttpd and Apache alike).
function cgi_env() {
	CGIENV=(GATEWAY_INTERFACE=CGI/1.1 SERVER_SOFTWARE=test REQUEST_METHOD=GET
		SCRIPT_FILENAME="$1" SCRIPT_NAME="/${1##*/}" QUERY_STRING= REDIRECT_STATUS=200
		HTTP_PROXY=http://proxy.invalid:3128)
}

@test "as root in CGI context: refused with 126, the message, and a 500 response (#! form)" {
	cgi_env "$PUB/hello.cgi"
	run --separate-stderr env "${CGIENV[@]}" "$PUB/hello.cgi" 3>&-
	refused 126 "cgiguard: refusing to run a CGI as root"
	can_hide_proc || return 0
	PROC_HIDDEN=1
	run --separate-stderr hide_proc env "${CGIENV[@]}" "$PUB/hello.cgi" 3>&-
	refused 126 "cgiguard: refusing to run a CGI as root"
}

@test "as root in CGI context: refused with 126, the message, and a 500 response (command line)" {
	# Without AT_EXECFN this layout is also that of "#!cgiguard" alone: refused as such.
	requires linux-extras
	cgi_env "$PUB/hello.cgi"
	run --separate-stderr env "${CGIENV[@]}" "$CGIGUARD" "$PUB/hello.cgi" 3>&-
	refused 126 "cgiguard: refusing to run a CGI as root"
}

@test "as root outside CGI context: runs" {
	requires linux-extras	# a #! line outside CGI context is told by AT_EXECFN
	run --separate-stderr "$PUB/hello.cgi" 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ ${lines[-1]} == "hello root proxy=unset" ]]
}

@test "as an unprivileged user in CGI context: the #! CGI runs, without HTTP_PROXY" {
	cgi_env "$PUB/hello.cgi"
	run --separate-stderr as_user env "${CGIENV[@]}" "$PUB/hello.cgi" 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr; stdout: $output"
	[[ $output == $'Content-Type: text/plain\n\nhello '"$CGI_USER proxy=unset" ]] || fail "stdout: $output"
}

@test "as an unprivileged user in CGI context: the #! line's options are honoured (-t 1 gives 124)" {
	cgi_env "$PUB/slow.cgi"
	local t0
	now_us
	t0=$REPLY
	run --separate-stderr as_user env "${CGIENV[@]}" "$PUB/slow.cgi" 3>&-
	elapsed_ms "$t0"
	[[ $status -eq 124 ]] || fail "status $status: $stderr"
	((REPLY < 4000)) || fail "ended after $REPLY ms"
}

@test "with /proc hidden, the #! line's options are honoured all the same (-t 1 gives 124)" {
	requires proc-hiding
	cgi_env "$PUB/slow.cgi"
	local t0
	now_us
	t0=$REPLY
	PROC_HIDDEN=1
	run --separate-stderr as_user env "${CGIENV[@]}" "$PUB/slow.cgi" 3>&-
	elapsed_ms "$t0"
	[[ $status -eq 124 ]] || fail "status $status: $stderr"
	((REPLY < 4000)) || fail "ended after $REPLY ms"
}

@test "a set-uid or set-gid cgiguard refuses to run" {
	cp "$CGIGUARD" "$PUB/cgiguard-suid"
	chmod 4755 "$PUB/cgiguard-suid"
	run --separate-stderr as_user "$PUB/cgiguard-suid" /bin/echo ran 3>&-
	[[ $status -eq 126 ]] || fail "set-uid: status $status: $stderr; stdout: $output"
	[[ $stderr == "cgiguard: refusing to run set-id or with file capabilities" ]] || fail "stderr: $stderr"
	[[ $output != *ran* ]]

	chmod 2755 "$PUB/cgiguard-suid"
	run --separate-stderr as_user "$PUB/cgiguard-suid" /bin/echo ran 3>&-
	[[ $status -eq 126 ]] || fail "set-gid: status $status: $stderr; stdout: $output"
	[[ $stderr == "cgiguard: refusing to run set-id or with file capabilities" ]] || fail "stderr: $stderr"
}

@test "a set-uid cgiguard in CGI context also answers 500" {
	cp "$CGIGUARD" "$PUB/cgiguard-suid"
	chmod 4755 "$PUB/cgiguard-suid"
	cgi_env "$PUB/hello.cgi"
	run --separate-stderr as_user env "${CGIENV[@]}" "$PUB/cgiguard-suid" /bin/echo hello 3>&-
	refused 126 "cgiguard: refusing to run set-id or with file capabilities"
}

@test "--timeout before the CGI wrote a byte: a 504 response and 124; after it wrote, nothing added" {
	cat >"$PUB/mute.cgi" <<EOF2
#!$CGIGUARD -t 1 -g 1 /bin/sh
sleep 5
EOF2
	chmod 0755 "$PUB/mute.cgi"
	cgi_env "$PUB/mute.cgi"
	run --separate-stderr as_user env -i "${CGIENV[@]}" "$PUB/mute.cgi" 3>&-
	[[ $status -eq 124 ]] || fail "status $status, want 124; stderr: $stderr"
	[[ ${lines[0]%$'\r'} == "Status: 504 Gateway Timeout" ]] || fail "stdout: $output"
	[[ ${lines[1]%$'\r'} == "Content-Type: text/plain" ]] || fail "stdout: $output"
	cgi_env "$PUB/slow.cgi"
	run --separate-stderr as_user env -i "${CGIENV[@]}" "$PUB/slow.cgi" 3>&-
	[[ $status -eq 124 ]] || fail "status $status, want 124; stderr: $stderr"
	[[ $output == "Content-Type: text/plain" ]] || fail "something was added to the CGI's response: $output"
	run --separate-stderr env -i "$CGIGUARD" -t 1 -g 1 /bin/sleep 5 3>&-
	[[ $status -eq 124 && -z $output ]] || fail "outside CGI context: status $status, stdout '$output'"
}

@test "log records in CGI context carry id, method, uri and remote, escaped; script= is absolute" {
	cat >"$PUB/logged.cgi" <<EOF2
#!$CGIGUARD -v -l stderr /bin/sh
echo "Content-Type: text/plain"
echo
echo hi
EOF2
	chmod 0755 "$PUB/logged.cgi"
	cgi_env "$PUB/logged.cgi"
	# As suexec does: the script by its bare name, from its directory.
	run --separate-stderr as_user sh -c 'cd "$1" && shift && exec "$@"' sh "$PUB" env -i \
		"${CGIENV[@]}" UNIQUE_ID=Zx9a-1 REQUEST_URI='/logged.cgi?a=b c"d' REMOTE_ADDR=127.0.0.1 \
		./logged.cgi 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $stderr == "cgiguard["*"]: event=finished status=0 elapsed="*" script=$PUB/logged.cgi id=Zx9a-1 method=GET uri=\"/logged.cgi?a=b c\\x22d\" remote=127.0.0.1" ]] ||
		fail "record: $stderr"
}

@test "a #! option without its value takes neither the script nor a client's word" {
	printf '#!%s -l\necho the script ran\n' "$CGIGUARD" >"$PUB/novalue.cgi"
	chmod 0755 "$PUB/novalue.cgi"
	cgi_env "$PUB/novalue.cgi"
	run --separate-stderr as_user env "${CGIENV[@]}" "$PUB/novalue.cgi" /bin/echo CLIENT-WORD 3>&-
	refused 125 "cgiguard: option '--log' needs a value"
}

@test "POSIX build: a #! line the kernel would split never lets a client's word be an option or the program" {
	requires posix-build
	# As a kernel that splits #! words would start "#!cgiguard -v -l" and others: the #! words,
	# the script, then the client's words.
	cgi_env "$PUB/hello.cgi"
	run --separate-stderr as_user env "${CGIENV[@]}" "$CGIGUARD" -v -l "$PUB/hello.cgi" --help 3>&-
	refused 125 "cgiguard: option '--log' needs a value"
	run --separate-stderr as_user env "${CGIENV[@]}" "$CGIGUARD" -v -g 5 "$PUB/hello.cgi" /bin/echo CLIENT-WORD 3>&-
	refused 126 "cgiguard: #! line of $PUB/hello.cgi: missing interpreter"
	# "#!cgiguard" alone: the script first, which would start cgiguard again.
	run --separate-stderr as_user env "${CGIENV[@]}" "$CGIGUARD" "$PUB/hello.cgi" 3>&-
	refused 126 "cgiguard: #! line of $PUB/hello.cgi: missing interpreter"
	# Where the script comes third, it is read as a #! script: its line must name these words.
	run --separate-stderr as_user env "${CGIENV[@]}" "$CGIGUARD" -l "$PUB/hello.cgi" /bin/echo CLIENT-WORD 3>&-
	refused 126 "cgiguard: #! line of $PUB/hello.cgi: does not match its arguments"
}

@test "a shell wrapper may pass the script the server names, when its #! line does not name cgiguard" {
	printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "plain $*"\n' >"$PUB/plain.cgi"
	chmod 0755 "$PUB/plain.cgi"
	cgi_env "$PUB/plain.cgi"
	run --separate-stderr as_user env "${CGIENV[@]}" "$CGIGUARD" -g 60 "$PUB/plain.cgi" word 3>&-
	[[ $status -eq 0 && $output == $'Content-Type: text/plain\n\nplain word' ]] || fail "status $status: $stderr; stdout: $output"
	run --separate-stderr as_user env "${CGIENV[@]}" "$CGIGUARD" -v /bin/sh "$PUB/plain.cgi" word 3>&-
	[[ $status -eq 0 && $output == $'Content-Type: text/plain\n\nplain word' ]] || fail "status $status: $stderr; stdout: $output"
}
