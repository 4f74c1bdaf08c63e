#!/usr/bin/env bats
# lighttpd mod_cgi with server.stream-response-body = 2.
# The response streams to the client; when the client leaves, lighttpd sends TERM
# to the CGI's pid and closes its pipes ~1 ms later (never KILL): the control,
# which only notes the TERM, dies of SIGPIPE at its next progress line.

load lib
load scenarios
load lighttpd

setup_file() {
	export SERVER_NAME=lighttpd-stream LIGHTTPD_STREAM=2
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
