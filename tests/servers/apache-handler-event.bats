#!/usr/bin/env bats
# apache2 mpm_event + mod_cgid with cgiguard as the Action handler: the same
# checks as apache-handler.bats (prefork), where the CGI is forked by the cgid
# daemon and its stdin and stdout are one socket. Only in the long run
# (CGIGUARD_TRIALS > 2, make check-servers), to keep the quick suite quick.

load lib
load scenarios
load apache
load handler

setup_file() {
	export SERVER_NAME=apache-handler-event APACHE_MPM=event APACHE_CONFIG=apache_handler_config QUERY_ARGV=1
	need_server "$SERVER_NAME" apache2
	need_policy_bin
	[[ -z $SERVER_SKIP ]] || return 0
	((TRIALS > 2)) || return 0
	server_setup_file handler_start apache2
}
handler_start() {
	install_handler
	make_handler_site
	handler_policy
	apache_start
}
teardown_file() {
	local rc=0
	server_teardown_file apache_stop || rc=1
	remove_policy
	return $rc
}
setup() {
	[[ -n $SERVER_SKIP ]] || ((TRIALS > 2)) || skip "the long run only (CGIGUARD_TRIALS > 2, make check-servers)"
	server_test_setup
	CGI_STDERR_LOG=$SITE/logs/error.log
}

@test "apache-handler-event: the script runs as if direct; query words are its argv, never an option or the program" {
	test_as_direct
	test_query_words
}

@test "apache-handler-event: a direct request to the handler URL and every target check is refused" {
	test_handler_url_refused
	test_target_checks
	test_no_http_proxy
}

@test "apache-handler-event: seed through Action + AddHandler stays intact" {
	test_seed "action with /cgi-bin/seed.cgi intact"
}
