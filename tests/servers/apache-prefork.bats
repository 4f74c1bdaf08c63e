#!/usr/bin/env bats
# apache2 mpm_prefork + mod_cgi. On client abort Apache sends TERM to the CGI's
# pid at its next write, then KILL ~3.0 s later. The control loses its data
# file to that KILL; every cgiguard form keeps it whole.

load lib
load scenarios
load apache

setup_file() {
	export SERVER_NAME=apache-prefork APACHE_MPM=prefork
	server_setup_file apache_start apache2
}
teardown_file() { server_teardown_file apache_stop; }
setup() { server_test_setup; }

@test "apache-prefork: seed: without cgiguard is corrupted (TERM, then KILL ~3 s later); intact through #!, shell wrapper" {
	test_seed \
		"direct without /cgi-bin/seed.cgi corrupt" \
		"shebang with /cgi-bin/seed.sb.cgi intact" \
		"wrapper with /wrap-bin/seed.cgi intact"
}

@test "apache-prefork: silent seed under Timeout 2: without cgiguard corrupted (TERM at 2 s, KILL ~3 s later); intact through #!, shell wrapper" {
	test_seed \
		"silent without /cgi-bin/silent.cgi corrupt" \
		"silent-sb with /cgi-bin/silent.sb.cgi intact" \
		"silent-wrap with /wrap-bin/silent.cgi intact"
}

@test "apache-prefork: normal responses are byte-identical through #! and the wrapper" {
	test_identical /cgi-bin/%s.sb.cgi
	test_identical /wrap-bin/%s.cgi
}

@test "apache-prefork: a CGI that closes its output: response at once, work completes" {
	test_closeout /cgi-bin/closeout.sb.cgi:with /wrap-bin/closeout.cgi:with /cgi-bin/closeout.cgi:without
}

@test "apache-prefork: an NPH script's response is byte-identical through #! and the wrapper" {
	test_nph /cgi-bin/%s.sb.cgi
	test_nph /wrap-bin/%s.cgi
}

@test "apache-prefork: a streaming CGI's lines arrive as written, with and without cgiguard" {
	test_stream /cgi-bin/stream.cgi /cgi-bin/stream.sb.cgi /wrap-bin/stream.cgi
}
