#!/usr/bin/env bats
# apache2 -k restart, -k graceful and -k stop while seed CGIs are inside their
# truncate..write section: the outcome per form, and nothing left running past
# the grace. Each test starts its own server (a stop ends it). prefork always;
# event too when CGIGUARD_TRIALS > 2 (make check-servers).
#
# What the tests saw: graceful lets running requests finish. stop: TERM, and
# KILL ~3 s later (prefork), or TERM and the socket closed (event). restart
# under prefork sends HUP to the process group, CGIs included: a CGI that
# handles only TERM dies of that HUP without cgiguard; through cgiguard every
# abandonment reaches the CGI as TERM. Under event, restart reaches a CGI as TERM.

load lib
load scenarios
load apache

setup_file() {
	export SERVER_NAME=apache-restart
	need_server "$SERVER_NAME" apache2
	[[ -n $SERVER_SKIP ]] || need_reaper
	export SERVER_PID=none
}
setup() {
	server_test_setup
	need_cgiguard
}
teardown() { apache_test_teardown; }

# seed_under ACTION "LABEL PATH EXPECT"...: apache_seed_under (apache.bash) under
# prefork, and event too when CGIGUARD_TRIALS > 2; fails after both on a wrong
# outcome or a leftover.
seed_under() {
	local action=$1 mpm failed=0
	shift
	for mpm in prefork event; do
		[[ $mpm == prefork || $TRIALS -gt 2 ]] || continue
		SERVER_NAME=apache-restart-$mpm APACHE_MPM=$mpm
		apache_seed_under start_with_term "$action" "$@"
		((SEED_UNDER_FAILED == 0)) || failed=1
	done
	((failed == 0)) || fail "apache2 -k $action"
}

# start_with_term: the site, seed-term.sb.cgi (the seed, its #! line adding
# -s TERM) in it, and the server.
start_with_term() {
	make_site || return 1
	{ shebang_line -l "$SITE/logs/cgiguard.log" -s TERM; tail -n +2 "$SITE/htdocs/cgi-bin/seed.cgi"; } >"$SITE/htdocs/cgi-bin/seed-term.sb.cgi" &&
		chmod 755 "$SITE/htdocs/cgi-bin/seed-term.sb.cgi" &&
		apache_start
}

@test "apache-restart: -k restart (HUP to the group): a TERM-only CGI dies of it without cgiguard; intact through the default #! line, the wrapper and -s TERM" {
	seed_under restart \
		"without /cgi-bin/seed.cgi corrupt" \
		"with /cgi-bin/seed.sb.cgi intact" \
		"with-wrapper /wrap-bin/seed.cgi intact" \
		"with-s-term /cgi-bin/seed-term.sb.cgi intact"
}

@test "apache-restart: -k graceful: running requests finish, intact with and without cgiguard" {
	seed_under graceful \
		"without /cgi-bin/seed.cgi intact" \
		"with /cgi-bin/seed.sb.cgi intact" \
		"with-wrapper /wrap-bin/seed.cgi intact"
}

@test "apache-restart: -k stop (TERM, KILL ~3 s later): without cgiguard corrupted; intact through #! and the wrapper, nothing left after" {
	seed_under stop \
		"without /cgi-bin/seed.cgi corrupt" \
		"with /cgi-bin/seed.sb.cgi intact" \
		"with-wrapper /wrap-bin/seed.cgi intact"
}
