#!/usr/bin/env bats
# apache2 mpm_event + mod_cgid + suexec: the cgid daemon forks suexec, which runs
# the tenant's CGI as the tenant; its stdin and stdout are one AF_UNIX socket.
# On client abort the worker's kill(TERM) fails (EPERM, taken as "gone") and it
# closes the socket: the CGI dies of SIGPIPE at its next write, mid-rewrite.
# The silent seed is never told: it writes nothing until its data file is whole,
# then dies of SIGPIPE at that write. Through cgiguard (#! or a shell wrapper)
# the keeper owns the CGI's output: the CGI gets one TERM and finishes within
# its grace.

load lib
load scenarios
load apache
load shared-hosting

setup_file() {
	export SERVER_NAME=apache-suexec-event SHARED=suexec APACHE_MPM=event
	shared_setup_file
}
teardown_file() { shared_teardown_file; }
setup() { server_test_setup; }

@test "apache-suexec-event: seed: without cgiguard corrupted (TERM fails: EPERM; SIGPIPE at the next write), the silent one kept; intact through #! and the wrapper" {
	test_seed \
		"direct without /cgi-bin/seed.cgi corrupt" \
		"shebang with /cgi-bin/seed.sb.cgi intact" \
		"wrapper with /wrap-bin/seed.cgi intact" \
		"silent without /cgi-bin/silent.cgi intact" \
		"silent-sb with /cgi-bin/silent.sb.cgi intact" \
		"silent-wrap with /wrap-bin/silent.cgi intact"
}

@test "apache-suexec-event: normal responses (GET, POST echo, HTTP/1.1 and 1.0) are byte-identical through #! and the wrapper, run as the tenant" {
	test_shared_identical
}

@test "apache-suexec-event: suexec refuses cgiguard as the Action handler (not the tenant's file)" {
	test_suexec_refuses_handler
}
