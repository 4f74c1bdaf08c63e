#!/usr/bin/env bats
# apache2 mpm_prefork + mod_cgi + suexec (apache2-suexec-pristine): the tenant's
# CGIs run as the tenant, Apache's worker as www-data. On client abort Apache's
# kill(TERM) fails (EPERM) and its worker blocks in wait4 until the CGI exits;
# the CGI inherits SIGPIPE ignored, writes on into EPIPE and finishes: its data
# file survives, but a CGI that never ends holds a worker for ever. Through
# cgiguard (#! or a shell wrapper) the pipe's breaking is the abandonment: the
# front exits at once, the worker is released, the CGI finishes in its grace.
# suexec runs only the tenant's own files: no Action handler (the admin's
# cgiguard) here, and refuse-own-files refuses everything.

load lib
load scenarios
load apache
load shared-hosting

setup_file() {
	export SERVER_NAME=apache-suexec SHARED=suexec APACHE_MPM=prefork SEED_RELEASE=1
	shared_setup_file
}
teardown_file() { shared_teardown_file; }
setup() { server_test_setup; }

@test "apache-suexec: seed: without cgiguard intact but the worker held until the CGI ends; through #! and the wrapper intact, the worker released at once" {
	test_seed \
		"direct without /cgi-bin/seed.cgi intact held" \
		"shebang with /cgi-bin/seed.sb.cgi intact released" \
		"wrapper with /wrap-bin/seed.cgi intact released" \
		"silent without /cgi-bin/silent.cgi intact held" \
		"silent-sb with /cgi-bin/silent.sb.cgi intact released" \
		"silent-wrap with /wrap-bin/silent.cgi intact released"
}

@test "apache-suexec: normal responses (GET, POST echo, HTTP/1.1 and 1.0) are byte-identical through #! and the wrapper, run as the tenant" {
	test_shared_identical
}

@test "apache-suexec: suexec refuses cgiguard as the Action handler (not the tenant's file)" {
	test_suexec_refuses_handler
}

@test "apache-suexec: refuse-own-files = yes refuses the tenant's #! scripts (suexec demands the tenant own them)" {
	test_refuse_own_files /cgi-bin/whoami.pol.cgi
}
