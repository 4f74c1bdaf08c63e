#!/usr/bin/env bats
# apache2 mpm_event + mod_cgid. The CGI is forked by the cgid daemon and its
# stdin and stdout are one AF_UNIX socket. On client abort the worker sends TERM
# to the pid and closes the socket (SIGPIPE at the next write), KILL ~3.2 s
# later. The control loses its data file; every cgiguard form keeps it whole.

load lib
load scenarios
load apache

setup_file() {
	export SERVER_NAME=apache-event APACHE_MPM=event
	server_setup_file apache_start apache2
}
teardown_file() { server_teardown_file apache_stop; }
setup() { server_test_setup; }

@test "apache-event: seed: without cgiguard is corrupted (TERM, socket closed: SIGPIPE at the next write); intact through #!, shell wrapper" {
	test_seed \
		"direct without /cgi-bin/seed.cgi corrupt" \
		"shebang with /cgi-bin/seed.sb.cgi intact" \
		"wrapper with /wrap-bin/seed.cgi intact"
}

@test "apache-event: silent seed under Timeout 2: without cgiguard corrupted (TERM at 2 s, KILL ~3.2 s later); intact through #!, shell wrapper" {
	test_seed \
		"silent without /cgi-bin/silent.cgi corrupt" \
		"silent-sb with /cgi-bin/silent.sb.cgi intact" \
		"silent-wrap with /wrap-bin/silent.cgi intact"
}

@test "apache-event: normal responses are byte-identical through #! and the wrapper" {
	test_identical /cgi-bin/%s.sb.cgi
	test_identical /wrap-bin/%s.cgi
}

@test "apache-event: a CGI that closes its output: response at once, work completes" {
	test_closeout /cgi-bin/closeout.sb.cgi:with /wrap-bin/closeout.cgi:with /cgi-bin/closeout.cgi:without
}

@test "apache-event: an NPH script's response is byte-identical through #! and the wrapper" {
	test_nph /cgi-bin/%s.sb.cgi
	test_nph /wrap-bin/%s.cgi
}

@test "apache-event: a streaming CGI's lines arrive as written, with and without cgiguard" {
	test_stream /cgi-bin/stream.cgi /cgi-bin/stream.sb.cgi /wrap-bin/stream.cgi
}
