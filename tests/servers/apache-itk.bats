#!/usr/bin/env bats
# apache2 mpm_prefork + mpm-itk (libapache2-mpm-itk) + mod_cgi: the Apache child
# that serves a request switches to the tenant (AssignUserID) and runs its CGIs
# as the tenant. That child signals its own CGI: on client abort TERM at the
# CGI's next write, KILL ~3 s later, as plain prefork does. Through cgiguard
# (#!, a shell wrapper, or the admin's Action handler, which itk lets run as
# the tenant) the data file survives and the child is released at once.

load lib
load scenarios
load apache
load shared-hosting

setup_file() {
	export SERVER_NAME=apache-itk SHARED=itk APACHE_MPM=prefork SEED_RELEASE=1
	shared_setup_file
}
teardown_file() { shared_teardown_file; }
setup() { server_test_setup; }
teardown() { remove_policy; }

@test "apache-itk: seed: without cgiguard corrupted (TERM, KILL ~3 s later); intact through #!, the wrapper and the Action handler, the child released at once" {
	local action=()
	if [[ -x $POLICY_BIN ]]; then
		tenant_policy
		action=("action with /app/seed.cgi intact released" "silent-action with /app/silent.cgi intact released")
	fi
	test_seed \
		"direct without /cgi-bin/seed.cgi corrupt" \
		"shebang with /cgi-bin/seed.sb.cgi intact released" \
		"wrapper with /wrap-bin/seed.cgi intact released" \
		"silent without /cgi-bin/silent.cgi corrupt" \
		"silent-sb with /cgi-bin/silent.sb.cgi intact released" \
		"silent-wrap with /wrap-bin/silent.cgi intact released" \
		"${action[@]}"
}

@test "apache-itk: normal responses (GET, POST echo, HTTP/1.1 and 1.0) are byte-identical through #! and the wrapper, run as the tenant" {
	test_shared_identical
}

@test "apache-itk: refuse-own-files = yes refuses the tenant's scripts, through #! and through the Action handler" {
	test_refuse_own_files /cgi-bin/whoami.pol.cgi /app/whoami.cgi
}
