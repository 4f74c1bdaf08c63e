#!/usr/bin/env bats
# lighttpd mod_cgi with server.stream-response-body = 0.
# lighttpd's default buffers the whole response: a client that leaves is never
# noticed by the CGI, so the control stays intact too.

load lib
load scenarios
load lighttpd

setup_file() {
	export SERVER_NAME=lighttpd-default LIGHTTPD_STREAM=0
	server_setup_file lighttpd_start lighttpd
}
teardown_file() { server_teardown_file lighttpd_stop; }
setup() { server_test_setup; }

@test "lighttpd-default: seed: without cgiguard stays intact (the CGI is never told); intact through #!, cgi.assign" {
	test_seed \
		"direct without /cgi-bin/seed.cgi intact" \
		"shebang with /cgi-bin/seed.sb.cgi intact" \
		"assign with /guard-bin/seed.cgi intact"
}

@test "lighttpd-default: normal responses are byte-identical through #! and cgi.assign" {
	test_identical /cgi-bin/%s.sb.cgi
	test_identical /guard-bin/%s.cgi
}

@test "lighttpd-default: a CGI that closes its output: response at once, work completes" {
	test_closeout /cgi-bin/closeout.sb.cgi:with /guard-bin/closeout.cgi:with /cgi-bin/closeout.cgi:without
}
