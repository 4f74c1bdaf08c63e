# tests/servers/handler.bash: cgiguard as the server's handler for every CGI
# (Apache Action + AddHandler, lighttpd cgi.assign) under the admin's policy
# file (lib.bash: write_policy), and the client's attempts to steer it.
# Needs lib.bash, scenarios.bash, a running server ($BASE) and the site ($SITE).
#
# Beneath the document root ($SITE/htdocs, the policy's root), besides cgi-bin/:
#   private/env.cgi      under "Require all denied" (Apache)
#   bad/ww.cgi           writable by others
#   bad/suid.cgi         set-user-ID
#   bad/link.cgi         a symlink to $SITE/outside/env.cgi (out of the root)
#   bad/linkdir/         a symlink to $SITE/outside
#   ww/env.cgi           in a directory writable by others
# and $SITE/outside/env.cgi, out of the root.

# make_handler_site: add the files above to the site (after make_site).
make_handler_site() {
	local h=$SITE/htdocs env=$SITE/htdocs/cgi-bin/env.cgi
	install -d -m 0755 "$h/private" "$h/bad" "$SITE/outside"
	install -d -m 0777 "$h/ww"
	install -m 0755 "$env" "$h/private/env.cgi"
	install -m 0755 "$env" "$h/ww/env.cgi"
	install -m 0755 "$env" "$SITE/outside/env.cgi"
	install -m 0757 "$env" "$h/bad/ww.cgi"
	install -m 4755 "$env" "$h/bad/suid.cgi"
	ln -s "$SITE/outside/env.cgi" "$h/bad/link.cgi"
	ln -s "$SITE/outside" "$h/bad/linkdir"
}

# The handler's own log, and its options: the policy file is the only place they come from.
handler_policy() {
	write_policy "root = $SITE/htdocs" "log = $SITE/logs/cgiguard.log" "grace = 30s" "$@"
}

# get PATH [curl args...]: body of PATH; HTTP status in $CODE.
get() {
	local path=$1 out
	shift
	out=$(curl -sS --max-time 20 -w '\n%{http_code}' "$@" "$BASE$path") || return 1
	CODE=${out##*$'\n'}
	BODY=${out%$'\n'*}
}

# handler_refuses PATH MESSAGE [curl args...]: a 500 with cgiguard's fixed page,
# the script never ran, and MESSAGE in a "cgiguard: " line where the server puts
# a CGI's stderr ($CGI_STDERR_LOG: Apache's error log; lighttpd's own stderr).
handler_refuses() {
	local path=$1 msg=$2
	shift 2
	LOG_LINES=$(wc -l <"$CGI_STDERR_LOG")
	get "$path" "$@"
	[[ $CODE == 500 ]] || fail "$path: HTTP $CODE, want 500; body: $BODY"
	[[ $BODY != *script=env.cgi* ]] || fail "$path: the script ran: $BODY"
	[[ $BODY != *"$SITE"* ]] || fail "$path: the error page carries request data: $BODY"
	poll 5 handler_logged "$msg" || fail "$path: no 'cgiguard: ...$msg' in $CGI_STDERR_LOG:" "$(stderr_since)"
	echo "# $SERVER_NAME $path: $(stderr_since | grep -F -- "$msg" | tail -n 1 | sed 's/^.*\] //')" >&3
}
handler_logged() { stderr_since | grep 'cgiguard: ' | grep -qF -- "$1"; }
stderr_since() { tail -n +"$((LOG_LINES + 1))" "$CGI_STDERR_LOG"; }

# vars_of BODY: the env.cgi lines that must match the direct run's (argv, cwd, variables).
vars_of() { grep -E '^(script|arg|cwd|SCRIPT_FILENAME|SCRIPT_NAME|PATH_INFO|PATH_TRANSLATED|QUERY_STRING|REQUEST_URI|REQUEST_METHOD|DOCUMENT_ROOT|GATEWAY_INTERFACE)[=:]' <<<"$1"; }

# --- test bodies shared by the handler bats files ------------------------------------
# Each may share a @test with others: each counts the error log from its own start.

mark_errlog() { ERRLOG_LINES=$(wc -l <"$SITE/logs/error.log" 2>/dev/null || echo 0); }

# test_as_direct: through the handler the script sees what it sees when run directly
# (the control: Host direct.test): argv, cwd, SCRIPT_*, PATH_INFO, PATH_TRANSLATED.
test_as_direct() {
	mark_errlog
	local path direct handled
	for path in "/cgi-bin/env.cgi" "/cgi-bin/env.cgi/extra/info?x=1" "/cgi-bin/env.cgi/p%20q?a+b%20c" "/cgi-bin/env.cgi?"; do
		get "$path" -H 'Host: direct.test'
		[[ $CODE == 200 ]] || fail "direct $path: HTTP $CODE: $BODY"
		direct=$(vars_of "$BODY")
		get "$path"
		[[ $CODE == 200 ]] || fail "handler $path: HTTP $CODE: $BODY"
		handled=$(vars_of "$BODY")
		[[ $handled == "$direct" ]] || fail "$path differs through the handler:" "$(diff <(echo "$direct") <(echo "$handled"))"
	done
	# And the values themselves, for the last path info case.
	get "/cgi-bin/env.cgi/extra/info?a+b"
	[[ $BODY == *"SCRIPT_FILENAME=$SITE/htdocs/cgi-bin/env.cgi"* ]] || fail "$BODY"
	[[ $BODY == *"SCRIPT_NAME=/cgi-bin/env.cgi"$'\n'* ]] || fail "$BODY"
	[[ $BODY == *"PATH_INFO=/extra/info"$'\n'* ]] || fail "$BODY"
	[[ $BODY == *"PATH_TRANSLATED=$SITE/htdocs/extra/info"$'\n'* ]] || fail "$BODY"
	[[ $QUERY_ARGV == 0 || $BODY == *$'arg=[a]\narg=[b]'* ]] || fail "$BODY"
	assert_clean
	no_cgiguard_errors
}

# test_query_words: query words that look like options, a #! argument or a program
# reach the script as the same argv as a direct run gives it (Apache: as words;
# lighttpd: none; QUERY_ARGV=0), and change nothing in cgiguard.
test_query_words() {
	mark_errlog
	local q direct log=$SITE/logs/cgiguard.log evil=$SITE/state/evil.log
	local queries=(
		'-g%3d0+/bin/sh'
		'--timeout%3d999999'
		'-g+0+/bin/sh'
		'-v+--log%3d'"$evil"
		'--+/bin/sh+-c+id'
		'-g%200%20/bin/sh+'"$SITE"'/outside/env.cgi'
		'-t%201%20/bin/sh+/cgi-bin/env.cgi'
		"$SITE/outside/env.cgi"
		'/bin/sh+-c+echo%20owned'
	)
	local before
	before=$(wc -l <"$log")
	for q in "${queries[@]}"; do
		get "/cgi-bin/env.cgi?$q" -H 'Host: direct.test'
		direct=$(vars_of "$BODY")
		[[ $QUERY_ARGV == 0 || $direct == *'arg=['* ]] || fail "control: ?$q gave no argv words: $BODY"
		get "/cgi-bin/env.cgi?$q"
		[[ $CODE == 200 ]] || fail "?$q: HTTP $CODE: $BODY"
		[[ $BODY == script=env.cgi* ]] || fail "?$q: another program answered: $BODY"
		[[ $(vars_of "$BODY") == "$direct" ]] || fail "?$q: the script's argv differs from the direct run's:" "$(diff <(echo "$direct") <(vars_of "$BODY"))"
		echo "# $SERVER_NAME ?$q -> $(grep '^arg=' <<<"$BODY" | tr '\n' ' ')" >&3
	done
	[[ ! -e $evil ]] || fail "a query word opened a log file"
	# -v would log event=finished for every request; the policy does not ask for it.
	[[ $(tail -n +"$((before + 1))" "$log") != *event=finished* ]] || fail "a query word turned on -v: $(tail -n 5 "$log")"
	[[ $QUERY_ARGV == 1 ]] || { assert_clean; no_cgiguard_errors; return 0; }
	# Words that ask for a 1 s timeout and no grace, against a CGI that takes 1.5 s.
	get "/cgi-bin/env.cgi?-t+1+-g+0+slow" -H 'Host: direct.test'
	direct=$(vars_of "$BODY")
	get "/cgi-bin/env.cgi?-t+1+-g+0+slow"
	[[ $CODE == 200 && $BODY == *$'\nslept\n'* ]] || fail "?-t+1+-g+0+slow: HTTP $CODE: $BODY"
	[[ $(vars_of "$BODY") == "$direct" ]] || fail "?-t+1+-g+0+slow differs from the direct run"
	assert_clean
	no_cgiguard_errors
}

# test_handler_url_refused: Apache: a request for the handler's own URL is refused.
test_handler_url_refused() {
	mark_errlog
	get /private/env.cgi
	[[ $CODE == 403 ]] || fail "/private/env.cgi: HTTP $CODE, want 403 (Require all denied)"
	handler_refuses /cgi-sys/cgiguard/private/env.cgi "direct request to the handler refused"
	handler_refuses /cgi-sys/cgiguard/cgi-bin/env.cgi/x "direct request to the handler refused"
	handler_refuses "/cgi-sys/cgiguard/cgi-bin/env.cgi?-g+0+/bin/sh" "direct request to the handler refused"
	handler_refuses /cgi-sys/cgiguard "direct request to the handler refused"
	handler_refuses /cgi-sys/cgiguard/private/env.cgi "direct request to the handler refused" -H 'Host: direct.test'
	# A client's Redirect-Status header is HTTP_REDIRECT_STATUS, not REDIRECT_STATUS.
	handler_refuses /cgi-sys/cgiguard/private/env.cgi "direct request to the handler refused" \
		-H 'Redirect-Status: 200' -H 'Redirect-URL: /private/env.cgi'
	assert_clean
}

# test_target_checks: the target checks refuse, each with its own error-log line;
# the same files run directly.
test_target_checks() {
	mark_errlog
	# An alias out of the root (Apache resolves the ".." in its Alias before the handler runs).
	handler_refuses /escape/env.cgi "$SITE/outside/env.cgi: not beneath a root named in $POLICY_CONF"
	handler_refuses /bad/link.cgi "$SITE/htdocs/bad/link.cgi: a symlink (not followed)"
	handler_refuses /bad/linkdir/env.cgi "$SITE/htdocs/bad/linkdir/env.cgi: leaves its root or passes a symlink"
	handler_refuses /bad/ww.cgi "$SITE/htdocs/bad/ww.cgi: writable by group or others"
	handler_refuses /ww/env.cgi "$SITE/htdocs/ww/env.cgi: its directory is writable by group or others"
	handler_refuses /bad/suid.cgi "$SITE/htdocs/bad/suid.cgi: set-user-ID or set-group-ID"
	# The server itself stops a traversal in the URL before any handler runs.
	get /cgi-bin/../../outside/env.cgi --path-as-is
	[[ $CODE == 400 || $CODE == 404 || $CODE == 403 ]] || fail "URL traversal: HTTP $CODE: $BODY"
	get /cgi-bin/%2e%2e/%2e%2e/outside/env.cgi --path-as-is
	[[ $CODE == 400 || $CODE == 404 || $CODE == 403 ]] || fail "encoded URL traversal: HTTP $CODE: $BODY"
	# Each of these runs directly (the control), so it is cgiguard that refuses.
	get /bad/ww.cgi -H 'Host: direct.test'
	[[ $BODY == script=env.cgi* ]] || fail "control /bad/ww.cgi: HTTP $CODE: $BODY"
	assert_clean
}

# test_no_http_proxy: a Proxy: header never becomes HTTP_PROXY in the CGI.
test_no_http_proxy() {
	mark_errlog
	get /cgi-bin/env.cgi -H 'Proxy: http://proxy.invalid:3128' -H 'X-Test: seen'
	[[ $BODY == *HTTP_X_TEST=seen* ]] || fail "headers do not reach the CGI: $BODY"
	[[ $BODY != *HTTP_PROXY* ]] || fail "HTTP_PROXY reached the CGI: $BODY"
	get /cgi-bin/env.cgi -H 'Host: direct.test' -H 'Proxy: http://proxy.invalid:3128'
	echo "# $SERVER_NAME control (no cgiguard): HTTP_PROXY $([[ $BODY == *HTTP_PROXY* ]] && echo reaches || echo does not reach) the CGI" >&3
	assert_clean
	no_cgiguard_errors
}
