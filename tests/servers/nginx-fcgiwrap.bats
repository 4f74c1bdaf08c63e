#!/usr/bin/env bats
# nginx + fcgiwrap (spawned by spawn-fcgi). nginx never signals a CGI and
# fcgiwrap keeps reading its output after the client is gone: the control
# stays intact, and cgiguard must change nothing.

load lib
load scenarios
load nginx-fcgiwrap

setup_file() {
	export SERVER_NAME=nginx-fcgiwrap
	server_setup_file nginx_start nginx spawn-fcgi fcgiwrap
}
teardown_file() { server_teardown_file nginx_stop; }
setup() { server_test_setup; }

@test "nginx-fcgiwrap: seed: without cgiguard stays intact (nothing is signalled); intact through #!" {
	test_seed \
		"direct without /cgi-bin/seed.cgi intact" \
		"shebang with /cgi-bin/seed.sb.cgi intact"
}

@test "nginx-fcgiwrap: normal responses are byte-identical through #!" {
	test_identical /cgi-bin/%s.sb.cgi
}

@test "nginx-fcgiwrap: a CGI that closes its output: response at once, work completes" {
	test_closeout /cgi-bin/closeout.sb.cgi:with /cgi-bin/closeout.cgi:without
}
