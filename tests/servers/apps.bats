#!/usr/bin/env bats
# Real applications: gitweb and cgit (Debian 12's packages, left where they
# are) behind apache2 mpm_prefork + mod_cgi and mpm_event + mod_cgid, directly
# and through cgiguard as #! line, shell wrapper and Action handler, on a
# repository the test makes (apps.bash). The CGIs run as the test user.

load lib
load apache
load handler
load scenarios
load apps

setup_file() {
	export SERVER_NAME=apps
	need_server "$SERVER_NAME" apache2 git python3
	[[ -n $SERVER_SKIP || -x $GITWEB_CGI ]] || export SERVER_SKIP="gitweb not installed ($GITWEB_CGI not found)"
	[[ -n $SERVER_SKIP || -x $CGIT_CGI ]] || export SERVER_SKIP="cgit not installed ($CGIT_CGI not found)"
	need_policy_bin
	[[ -z $SERVER_SKIP ]] || return 0
	server_setup_file apps_start apache2 git python3
}
teardown_file() {
	local rc=0
	server_teardown_file apps_stop || rc=1
	remove_policy
	return $rc
}
setup() {
	server_test_setup
	need_cgiguard
}

# finished_since N: event=finished records the log gained after its line N.
finished_since() { tail -n +"$(($1 + 1))" "$SITE/logs/cgiguard.log" | grep -c 'event=finished' || true; }

identity_test() {
	local mpm=$1 app before line
	IDENTITY_FAILS=
	before=$(wc -l <"$SITE/logs/cgiguard.log")
	for app in "${APPS[@]}"; do
		identity "$mpm" "$app" >"$SITE/state/identity.out"
		while read -r line; do
			echo "# $line identical to direct" >&3
		done <"$SITE/state/identity.out"
	done
	[[ -z $IDENTITY_FAILS ]] || fail "responses differ from the direct ones:" "$IDENTITY_FAILS"
	# Every guarded request went through cgiguard (-v: one event=finished each).
	local want=$(($(for app in "${APPS[@]}"; do app_urls "$app"; done | wc -l) * ${#APP_FORMS[@]}))
	poll 10 test "$(finished_since "$before")" -ge "$want" ||
		fail "cgiguard logged $(finished_since "$before") finished requests, want $want"
	assert_clean
	app_no_cgiguard_errors
}

@test "apps: prefork + mod_cgi: gitweb and cgit answer through #!, wrapper and handler exactly as directly (status, headers, body)" {
	identity_test prefork
}

@test "apps: event + mod_cgid: gitweb and cgit answer through #!, wrapper and handler exactly as directly (status, headers, body)" {
	identity_test event
}

abandon_test() {
	local mpm=$1 app form line before failed=0
	for app in "${APPS[@]}"; do
		for form in direct "${APP_FORMS[@]}"; do
			before=$(wc -l <"$SITE/logs/cgiguard.log")
			line=$(abandon_trial "$mpm" "$app" "$form") || return 1
			echo "# $line" >&3
			[[ $line != *ended_ms=-1 ]] || { echo "$line: still running: $(leftovers)" >&2; failed=1; }
			[[ $form == direct ]] && continue
			tail -n +"$((before + 1))" "$SITE/logs/cgiguard.log" | grep -q 'event=abandoned' ||
				{ echo "$line: no event=abandoned in the log" >&2; failed=1; }
		done
	done
	((failed == 0)) || fail "see above"
	assert_clean
	app_no_cgiguard_errors
}

@test "apps: prefork + mod_cgi: a client leaves a large snapshot: nothing of the request is left, through cgiguard the app's tree ends at abandonment" {
	abandon_test prefork
}

@test "apps: event + mod_cgid: a client leaves a large snapshot: nothing of the request is left, through cgiguard the app's tree ends at abandonment" {
	abandon_test event
}

# Parity, measured with the forms and the control interleaved: through the
# forms together at least as often as directly, less 15 points; and each form
# at least a third as often (a form that almost never sends one fails). A
# keeper that lets the server see the end a few wakeups after the last bytes
# gets almost none: 0-15 % against 30-62 % directly.
framing_test() {
	local mpm=$1 proto form c n dc dn gc gn failed= line
	for proto in --http1.1 --http1.0; do
		framing_counts "$mpm" "$proto" >"$SITE/state/framing"
		line=
		gc=0 gn=0
		while read -r form c n; do
			line+=" $form $c/$n"
			((n == FRAMING_N)) || failed+="$proto $form: $n responses of $FRAMING_N"$'\n'
			if [[ $form == direct ]]; then
				dc=$c dn=$n
				continue
			fi
			gc=$((gc + c)) gn=$((gn + n))
			((c * 3 * dn >= dc * n)) || failed+="$proto $form: $c/$n with Content-Length, direct $dc/$dn"$'\n'
		done <"$SITE/state/framing"
		echo "# $mpm $proto with Content-Length:$line" >&3
		((gn > 0 && dn > 0)) || { failed+="$proto: no responses"$'\n'; continue; }
		((gc * 100 * dn >= (dc * 100 - 15 * dn) * gn)) ||
			failed+="$proto: the forms $gc/$gn with Content-Length, direct $dc/$dn"$'\n'
	done
	[[ -z $failed ]] || fail "small responses lose their Content-Length through cgiguard:" "$failed"
	assert_clean
	app_no_cgiguard_errors
}

@test "apps: prefork + mod_cgi: small responses carry a Content-Length through cgiguard as often as directly (HTTP/1.1 and 1.0)" {
	framing_test prefork
}

@test "apps: event + mod_cgid: small responses carry a Content-Length through cgiguard as often as directly (HTTP/1.1 and 1.0)" {
	framing_test event
}

clean_case() {
	local line
	line=$(clean_env_case "$@") || failed=1
	echo "# $line" >&3
}

@test "apps: clean-env strips Apache's SetEnv GITWEB_CONFIG / CGIT_CONFIG (gitweb: 404 - No such project, cgit: No repositories found); pass-env lets them through" {
	"$CGIGUARD" --help 2>&1 | grep -q -- --pass-env || fail "cgiguard has no --pass-env (yet)"
	local before line failed=0 names=GITWEB_CONFIG,CGIT_CONFIG
	before=$(wc -l <"$SITE/logs/cgiguard.log")
	# The control: directly, both work.
	app_works prefork direct gitweb && app_works prefork direct cgit || fail "the apps do not work directly"
	local all="handler shebang-policy wrapper-policy" lines="shebang-policy wrapper-policy"
	clean_case broken "$all" "" "clean-env = yes"
	clean_case works "$all" "" "clean-env = yes" "pass-env = $names"
	# The policy sets clean-env: a #! line's or wrapper's names do not apply.
	clean_case broken "$lines" "--pass-env=$names" "clean-env = yes"
	clean_case works "$lines" "--clean-env --pass-env=$names"
	clean_case broken "$lines" "--clean-env"
	echo "# log: $(tail -n +"$((before + 1))" "$SITE/logs/cgiguard.log" | grep -m1 -o 'event=env dropped=[^ ]*')" >&3
	APP_SHEBANG_EXTRA= make_app_forms
	apps_policy
	((failed == 0)) || fail "see above"
	tail -n +"$((before + 1))" "$SITE/logs/cgiguard.log" | grep -q 'event=env dropped=[^ ]*GITWEB_CONFIG' ||
		fail "no event=env dropped=...GITWEB_CONFIG in the log (-v)"
	assert_clean
	app_no_cgiguard_errors
}
