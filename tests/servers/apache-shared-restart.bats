#!/usr/bin/env bats
# apache2 -k restart, -k graceful and -k stop under suexec (prefork + mod_cgi,
# event + mod_cgid) and mpm-itk, while seed CGIs of the tenant are inside their
# truncate..write section: the outcome per form, and nothing left running past
# the grace. Each test starts its own server (a stop ends it).
#
# What the tests saw. restart: under prefork (suexec or itk) the master sends
# HUP to its process group, the tenant's CGIs included (root may signal them),
# and a CGI that handles only TERM dies of it; cgiguard's front gets that HUP
# and gives the CGI, in a group of its own, one TERM. Under event the CGI is
# the cgid daemon's, and the closed socket kills it at its next write. stop:
# prefork + suexec: TERM to the group, and no KILL can reach the tenant's CGI,
# so it finishes; event + suexec: the socket closed, SIGPIPE; itk: the child,
# running as the tenant, sends TERM and KILL ~3 s later. graceful: running
# requests finish everywhere.

load lib
load scenarios
load apache
load shared-hosting

setup_file() {
	export SERVER_NAME=apache-shared-restart
	need_server "$SERVER_NAME" apache2
	[[ -n $SERVER_SKIP ]] || need_reaper
	for SHARED in suexec itk; do need_shared; done
	[[ -n $SERVER_SKIP ]] || tenant_add || export SERVER_SKIP="could not create the tenant user $TENANT"
	export SERVER_PID=none
}
teardown_file() {
	[[ -z ${SERVER_SKIP:-} ]] || return 0
	tenant_remove
}
setup() {
	server_test_setup
	need_cgiguard
}
teardown() { apache_test_teardown; }

# under SETUP ACTION EXPECT_WITHOUT EXPECT_WITH: SETUP is suexec-prefork,
# suexec-event or itk; apache_seed_under (apache.bash) on the tenant's site
# (shared_start), the seed without cgiguard, through its #! line (the default
# line: no -s) and through the shell wrapper. Fails on a wrong outcome, a CGI
# that outlives the grace, or anything left running.
under() {
	SERVER_NAME=apache-$1
	case $1 in
	suexec-prefork) SHARED=suexec APACHE_MPM=prefork ;;
	suexec-event) SHARED=suexec APACHE_MPM=event ;;
	itk) SHARED=itk APACHE_MPM=prefork ;;
	esac
	apache_seed_under shared_start "$2" \
		"without /cgi-bin/seed.cgi $3" \
		"with /cgi-bin/seed.sb.cgi $4" \
		"with-wrapper /wrap-bin/seed.cgi $4"
	((SEED_UNDER_FAILED == 0)) || fail "apache2 -k $2"
}

@test "apache-suexec-prefork: -k restart (HUP to the group, the tenant's CGI included): without cgiguard corrupted; intact through the default #! line and the wrapper (the front turns HUP into TERM)" {
	under suexec-prefork restart corrupt intact
}
@test "apache-suexec-prefork: -k stop (TERM to the group; the workers' KILL fails: EPERM): intact with and without cgiguard, nothing left after" {
	under suexec-prefork stop intact intact
}
@test "apache-suexec-prefork: -k graceful: running requests finish, intact with and without cgiguard" {
	under suexec-prefork graceful intact intact
}

@test "apache-suexec-event: -k restart (the socket closed: SIGPIPE at the next write): without cgiguard corrupted; intact through #! and the wrapper" {
	under suexec-event restart corrupt intact
}
@test "apache-suexec-event: -k stop (the socket closed: SIGPIPE at the next write): without cgiguard corrupted; intact through #! and the wrapper, nothing left after" {
	under suexec-event stop corrupt intact
}
@test "apache-suexec-event: -k graceful: running requests finish, intact with and without cgiguard (CGIGUARD_TRIALS > 2 only)" {
	((TRIALS > 2)) || skip "the long run only (CGIGUARD_TRIALS > 2): graceful under suexec-prefork and itk are the quick run's"
	under suexec-event graceful intact intact
}

@test "apache-itk: -k restart (HUP to the group): without cgiguard corrupted; intact through the default #! line and the wrapper (the front turns HUP into TERM)" {
	under itk restart corrupt intact
}
@test "apache-itk: -k stop (TERM, KILL ~3 s later from the tenant's own child): without cgiguard corrupted; intact through #! and the wrapper, nothing left after" {
	under itk stop corrupt intact
}
@test "apache-itk: -k graceful: running requests finish, intact with and without cgiguard" {
	under itk graceful intact intact
}
