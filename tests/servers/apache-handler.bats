#!/usr/bin/env bats
# apache2 mpm_prefork + mod_cgi with cgiguard as the Action handler for every
# *.cgi beneath the document root (apache.bash: apache_handler_config; the
# policy build reads /run/cgiguard-test/cgiguard.conf, which names the root).
# The client controls the URL, the query string and the headers: none of them
# may change an option, the program, or reach past the target checks.
# The virtual host direct.test runs the same files without cgiguard.

load lib
load scenarios
load apache
load handler

setup_file() {
	export SERVER_NAME=apache-handler APACHE_MPM=${APACHE_MPM:-prefork} APACHE_CONFIG=apache_handler_config QUERY_ARGV=1
	[[ $APACHE_MPM == prefork ]] || SERVER_NAME=apache-handler-$APACHE_MPM
	need_server "$SERVER_NAME" apache2
	need_policy_bin
	[[ -z $SERVER_SKIP ]] || return 0
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
	server_test_setup
	CGI_STDERR_LOG=$SITE/logs/error.log
}

@test "apache-handler: a request runs the script as if direct: SCRIPT_NAME, PATH_INFO, PATH_TRANSLATED, cwd, query words as argv" {
	test_as_direct
}

@test "apache-handler: query-string words never become an option or the program; the script gets them as its argv" {
	test_query_words
}

@test "apache-handler: a direct request to the handler URL is refused, also for a script under Require all denied" {
	test_handler_url_refused
}

@test "apache-handler: traversal, symlinks out of the root, writable scripts and directories, set-id are refused with a clear log line" {
	test_target_checks
}

@test "apache-handler: HTTP_PROXY (a Proxy: header) never reaches the CGI" {
	test_no_http_proxy
}

@test "apache-handler: seed and silent seed through Action + AddHandler stay intact" {
	test_seed \
		"action with /cgi-bin/seed.cgi intact" \
		"silent-action with /cgi-bin/silent.cgi intact"
}
