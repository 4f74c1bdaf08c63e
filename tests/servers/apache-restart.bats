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
teardown() {
	[[ -n ${SITE:-} ]] || return 0
	apache_stop || true
	poll 10 no_server_leftovers || true
	remove_site
}

# seed_under ACTION "LABEL PATH EXPECT"...: start the server, the seed through each
# PATH at once, then apache2 -k ACTION once every CGI is inside its section. EXPECT
# is intact, corrupt or any (recorded only). Fails on a wrong outcome or a leftover.
seed_under() {
	local action=$1 spec label path expect st t0 failed=0 result pids=() cgi mpm
	shift
	for mpm in prefork event; do
		[[ $mpm == prefork || $TRIALS -gt 2 ]] || continue
		SERVER_NAME=apache-restart-$mpm APACHE_MPM=$mpm
		make_site
		{ shebang_line -l "$SITE/logs/cgiguard.log" -s TERM; tail -n +2 "$SITE/htdocs/cgi-bin/seed.cgi"; } >"$SITE/htdocs/cgi-bin/seed-term.sb.cgi"
		chmod 755 "$SITE/htdocs/cgi-bin/seed-term.sb.cgi"
		apache_start || fail "apache did not start: $(tail -n 5 "$SITE"/logs/*)"
		ERRLOG_LINES=$(wc -l <"$SITE/logs/error.log")
		st=$SITE/state
		pids=()
		for spec in "$@"; do
			read -r label path expect <<<"$spec"
			install -o "$CGI_USER" -m 644 "$SITE/fixtures/seed.expected" "$st/$label.data"
			install -o "$CGI_USER" -m 644 /dev/null "$st/$label.log"
			spawn curl -sS -N --max-time 30 -o "$st/$label.out" "$BASE$path?t=$label" 2>/dev/null
			pids+=($!)
		done
		for spec in "$@"; do
			read -r label path expect <<<"$spec"
			poll 15 grep -q '^inside ' "$st/$label.log" || fail "$mpm $label never reached its section"
		done
		t0=$(now_ms)
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C "$APACHE_BIN" -f "$SITE/apache2.conf" -k "$action" </dev/null >>"$SITE/logs/start.log" 2>&1 3>&- ||
			fail "apache2 -k $action failed: $(tail -n 3 "$SITE/logs/start.log")"
		wait "${pids[@]}" || true
		for spec in "$@"; do
			read -r label path expect <<<"$spec"
			cgi=$(awk '$1 == "inside" {print $2}' "$st/$label.log")
			poll 40 gone "$cgi" || { echo "$mpm $label: the CGI outlived the grace" >&2; failed=1; }
			cmp -s "$st/$label.data" "$SITE/fixtures/seed.expected" && result=intact || result=corrupt
			echo "# $SERVER_NAME -k $action: $label $result (CGI noted: $(cut -d' ' -f1 "$st/$label.log" | tr '\n' ' ')), its end $(($(now_ms) - t0)) ms after the command" >&3
			[[ $expect == any || $expect == "$result" ]] || { echo "$mpm -k $action: $label $result, want $expect" >&2; failed=1; }
		done
		assert_clean 35
		no_cgiguard_errors
		[[ $action == stop ]] || { apache_stop || failed=1; }
		poll 10 no_server_leftovers || { echo "server processes left: $(server_leftovers)" >&2; failed=1; }
		remove_site
		SITE=
	done
	((failed == 0)) || fail "apache2 -k $action"
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
