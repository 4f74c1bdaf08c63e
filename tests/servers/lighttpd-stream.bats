#!/usr/bin/env bats
# lighttpd mod_cgi with server.stream-response-body = 2.
# The response streams to the client; when the client leaves, lighttpd sends TERM
# to the CGI's pid and closes its pipes ~1 ms later (never KILL): the control,
# which only notes the TERM, dies of SIGPIPE at its next progress line.

load lib
load scenarios
load lighttpd

setup_file() {
	export SERVER_NAME=lighttpd-stream LIGHTTPD_STREAM=2 LIGHTTPD_READ_TIMEOUT=2
	server_setup_file lighttpd_start lighttpd
}
teardown_file() { server_teardown_file lighttpd_stop; }
setup() { server_test_setup; }

@test "lighttpd-stream: seed: without cgiguard is corrupted (TERM, then SIGPIPE at the next write); intact through #!, cgi.assign" {
	test_seed \
		"direct without /cgi-bin/seed.cgi corrupt" \
		"shebang with /cgi-bin/seed.sb.cgi intact" \
		"assign with /guard-bin/seed.cgi intact"
}

@test "lighttpd-stream: normal responses are byte-identical through #! and cgi.assign" {
	test_identical /cgi-bin/%s.sb.cgi
	test_identical /guard-bin/%s.cgi
}

@test "lighttpd-stream: a CGI that closes its output: response at once, work completes" {
	test_closeout /cgi-bin/closeout.sb.cgi:with /guard-bin/closeout.cgi:with /cgi-bin/closeout.cgi:without
}

@test "lighttpd-stream: a streaming CGI's lines arrive as written, with and without cgiguard" {
	test_stream /cgi-bin/stream.cgi /cgi-bin/stream.sb.cgi /guard-bin/stream.cgi
}

@test "lighttpd-stream: silent seed under cgi.limits read-timeout 2: TERM at 2 s, never KILL; intact with and without cgiguard" {
	test_seed \
		"silent without /cgi-bin/silent.cgi intact" \
		"silent-sb with /cgi-bin/silent.sb.cgi intact" \
		"silent-assign with /guard-bin/silent.cgi intact"
}
