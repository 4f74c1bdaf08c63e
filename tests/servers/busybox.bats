#!/usr/bin/env bats
# busybox httpd. It never signals a CGI: when the client leaves it closes the
# CGI's stdout, and the control dies of SIGPIPE at its next progress line.

load lib
load scenarios
load busybox

setup_file() {
	export SERVER_NAME=busybox
	server_setup_file busybox_start busybox
}
teardown_file() { server_teardown_file busybox_stop; }
setup() { server_test_setup; }

@test "busybox: seed: without cgiguard is corrupted (SIGPIPE at the next write); intact through #!, interpreter line" {
	test_seed \
		"direct without /cgi-bin/seed.cgi corrupt" \
		"shebang with /cgi-bin/seed.sb.cgi intact" \
		"interp with /cgi-bin/seed.gcgi intact"
}

@test "busybox: normal responses are byte-identical through #! and the interpreter line" {
	test_identical /cgi-bin/%s.sb.cgi
	test_identical /cgi-bin/%s.gcgi
}

@test "busybox: a CGI that closes its output: response at once, work completes" {
	test_closeout /cgi-bin/closeout.sb.cgi:with /cgi-bin/closeout.gcgi:with /cgi-bin/closeout.cgi:without
}
