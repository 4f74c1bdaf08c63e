#!/usr/bin/env bats
# lighttpd mod_cgi with cgi.assign = ( ".cgi" => cgiguard ) for every *.cgi
# beneath the document root, the policy file naming that root: the target
# checks apply to every request. lighttpd never turns query words into argv.
# The host direct.test runs the same files without cgiguard.

load lib
load scenarios
load lighttpd
load handler

setup_file() {
	export SERVER_NAME=lighttpd-handler LIGHTTPD_STREAM=2 LIGHTTPD_CONFIG=lighttpd_handler_config QUERY_ARGV=0
	need_server "$SERVER_NAME" lighttpd
	need_policy_bin
	[[ -z $SERVER_SKIP ]] || return 0
	server_setup_file handler_start lighttpd
}
handler_start() {
	install_handler
	make_handler_site
	handler_policy
	lighttpd_start
}
teardown_file() {
	local rc=0
	server_teardown_file lighttpd_stop || rc=1
	remove_policy
	return $rc
}
setup() {
	server_test_setup
	CGI_STDERR_LOG=$SITE/logs/start.log
}

@test "lighttpd-handler: a request runs the script as if direct: SCRIPT_NAME, PATH_INFO, PATH_TRANSLATED, cwd" {
	test_as_direct
}

@test "lighttpd-handler: query-string words are never argv, an option or the program" {
	test_query_words
}

@test "lighttpd-handler: an alias out of the root, symlinks out of it, writable scripts and directories, set-id are refused with a clear log line" {
	test_target_checks
}

@test "lighttpd-handler: HTTP_PROXY (a Proxy: header) never reaches the CGI" {
	test_no_http_proxy
}

@test "lighttpd-handler: seed through cgi.assign under the policy stays intact" {
	test_seed "handler with /cgi-bin/seed.cgi intact"
}
