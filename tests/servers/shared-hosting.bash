# tests/servers/shared-hosting.bash: Apache as shared hosts run it, each tenant's
# CGIs running as the tenant:
#
#   SHARED=suexec APACHE_MPM=prefork   mod_cgi + mod_suexec (SuexecUserGroup)
#   SHARED=suexec APACHE_MPM=event     mod_cgid + mod_suexec
#   SHARED=itk                         mpm_prefork + mpm_itk + mod_cgi (AssignUserID)
#
# suexec (Debian's apache2-suexec-pristine) runs only scripts beneath its docroot
# (/var/www), owned by the tenant, in a directory the tenant owns, and only for
# the user it was built for (www-data, Apache's User here). So the site is made
# in suexec's docroot, the CGI directories and scripts are chowned to the tenant,
# and the tenant user is created for the test file and removed after it.
# CGI_USER is the tenant: the CGIs run as that user, the leftovers checks look
# for its processes. Nothing here reads or changes /etc/apache2.
# The sections between "recipe:" markers are copied into RECIPES.md.

TENANT=cgitenant
CGI_USER=$TENANT
SUEXEC_BIN=/usr/lib/apache2/suexec
SUEXEC_LOG=/var/log/apache2/suexec.log
ITK_MODULE=$APACHE_MODULES/mpm_itk.so

# suexec_setting NAME: a value suexec was built with (suexec -V, as root).
suexec_setting() {
	"$SUEXEC_BIN" -V 2>&1 | sed -n "s/^ *-D $1=\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p"
}

# need_shared: for setup_file, after need_server: skip (through SERVER_SKIP)
# without suexec or mpm-itk, or when suexec's docroot is missing.
need_shared() {
	[[ -z ${SERVER_SKIP:-} ]] || return 0
	if [[ $SHARED == itk ]]; then
		[[ -f $ITK_MODULE ]] || export SERVER_SKIP="mpm-itk not installed ($ITK_MODULE missing: libapache2-mpm-itk)"
		return 0
	fi
	if [[ ! -u $SUEXEC_BIN ]]; then
		export SERVER_SKIP="suexec not installed ($SUEXEC_BIN not set-user-ID: apache2-suexec-pristine)"
		return 0
	fi
	SUEXEC_DOCROOT=$(suexec_setting AP_DOC_ROOT)
	SUEXEC_USER=$(suexec_setting AP_HTTPD_USER)
	if [[ ! -d $SUEXEC_DOCROOT ]] || ! id -u "$SUEXEC_USER" >/dev/null 2>&1; then
		export SERVER_SKIP="suexec's docroot '$SUEXEC_DOCROOT' or its user '$SUEXEC_USER' is missing"
		return 0
	fi
	export SUEXEC_DOCROOT SUEXEC_USER
}

# tenant_add: the tenant, a system user (suexec's minimum uid is 100) with its own group.
tenant_add() {
	id -u "$TENANT" >/dev/null 2>&1 ||
		useradd -r -U -M -d /nonexistent -s /usr/sbin/nologin "$TENANT"
}

# tenant_remove: after its processes are gone.
tenant_remove() {
	id -u "$TENANT" >/dev/null 2>&1 || return 0
	userdel "$TENANT" 2>/dev/null || {
		poll 10 no_tenant_processes
		userdel "$TENANT"
	}
}
no_tenant_processes() { [[ -z $(pgrep -u "$TENANT") ]]; }

# make_tenant_site: make_site (lib.bash) in suexec's docroot (itk: the same
# place), the CGI directories, scripts and state given to the tenant.
make_tenant_site() {
	SITE_PARENT=${SUEXEC_DOCROOT:-/var/www} make_site || return 1
	chown -R "$TENANT:$TENANT" "$SITE/htdocs/cgi-bin" "$SITE/wrap-bin" "$SITE/state"
	chown "$TENANT:$TENANT" "$SITE/logs/cgiguard.log"
}

# shared_config: the server, and the forms a tenant's script opts in with.
shared_config() {
	APACHE_USER=${SUEXEC_USER:-www-data} apache_base_config
	if [[ $SHARED == itk ]]; then
		cat <<-EOF

			# recipe:apache-itk
			# mpm-itk (libapache2-mpm-itk, on top of prefork): the Apache child
			# that serves a request switches to the vhost's user, and so runs its CGIs.
			LoadModule mpm_itk_module $ITK_MODULE
			AssignUserID $TENANT $TENANT
			# recipe:end
		EOF
	else
		cat <<-EOF

			# recipe:apache-suexec
			# suexec (apache2-suexec-pristine): Apache's User must be the one suexec
			# was built for (www-data); scripts lie beneath its docroot (/var/www),
			# owned by the tenant, in directories the tenant owns.
			LoadModule suexec_module $APACHE_MODULES/mod_suexec.so
			SuexecUserGroup $TENANT $TENANT
			# recipe:end
		EOF
	fi
	cat <<-EOF

		# recipe:apache-shared-scripts
		# The tenant's #! scripts:
		#   #!$CGIGUARD $SHEBANG_OPTS /bin/sh
		$(apache_cgi_dir /cgi-bin/ "$SITE/htdocs/cgi-bin")
		# or its unchanged scripts, each behind a shell wrapper the tenant owns:
		#   #!/bin/sh
		#   exec $CGIGUARD $SHEBANG_OPTS $SITE/htdocs/cgi-bin/NAME.cgi "\$@"
		$(apache_cgi_dir /wrap-bin/ "$SITE/wrap-bin")
		# recipe:end
	EOF
	[[ -n ${HANDLER_DIR:-} ]] || return 0
	if [[ $SHARED == itk ]]; then
		cat <<-EOF

			# recipe:apache-itk-action
			# Under itk the admin's handler runs as the tenant too: every *.cgi beneath
			# $SITE/htdocs/app runs through cgiguard, with /etc/cgiguard.conf naming
			#   root = $SITE/htdocs
			$(apache_action_dir "$SITE/htdocs/app")
			# recipe:end
		EOF
	else
		# Test only: what an admin would write, and suexec refuses.
		echo
		apache_action_dir "$SITE/htdocs/app"
	fi
}

# shared_start: the tenant's site, the handler's directory (root's) and the
# plain scripts it is to run ($SITE/htdocs/app, the tenant's), then Apache.
shared_start() {
	make_tenant_site || return 1
	if [[ -x $POLICY_BIN ]]; then
		install_handler
		install -d -o "$TENANT" -g "$TENANT" -m 0755 "$SITE/htdocs/app"
		install -o "$TENANT" -g "$TENANT" -m 0755 "$SITE"/htdocs/cgi-bin/{seed,silent,whoami}.cgi "$SITE/htdocs/app/"
		# A #! script naming the policy build, for refuse-own-files.
		{ echo "#!$POLICY_BIN $SHEBANG_OPTS /bin/sh"; tail -n +2 "$SITE/htdocs/cgi-bin/whoami.cgi"; } >"$SITE/htdocs/cgi-bin/whoami.pol.cgi"
		chown "$TENANT:$TENANT" "$SITE/htdocs/cgi-bin/whoami.pol.cgi"
		chmod 0755 "$SITE/htdocs/cgi-bin/whoami.pol.cgi"
	fi
	APACHE_CONFIG=shared_config apache_start
}

shared_stop() { apache_stop; }

# suexec_log_since LINES: what suexec logged after its log had LINES lines.
suexec_log_lines() { wc -l <"$SUEXEC_LOG" 2>/dev/null || echo 0; }
suexec_log_since() { tail -n +"$(($1 + 1))" "$SUEXEC_LOG" 2>/dev/null; }

# --- setup_file / teardown_file for the shared-hosting bats files -------------------

shared_setup_file() {
	need_server "$SERVER_NAME" apache2
	need_shared
	[[ -z $SERVER_SKIP ]] || return 0
	tenant_add || { export SERVER_SKIP="could not create the tenant user $TENANT"; return 0; }
	server_setup_file shared_start apache2
}

shared_teardown_file() {
	local rc=0
	[[ -z ${SERVER_SKIP:-} ]] || return 0
	server_teardown_file shared_stop || rc=1
	remove_policy
	tenant_remove || rc=1
	return $rc
}

# --- test bodies ---------------------------------------------------------------------

# test_shared_identical: GET (query words, DELETE, binary, a large body), a POST
# echoed back, and HTTP/1.0 next to curl's HTTP/1.1, byte-identical through the
# tenant's #! scripts and shell wrappers.
test_shared_identical() {
	test_identical /cgi-bin/%s.sb.cgi
	test_identical /wrap-bin/%s.cgi
	same_response "/cgi-bin/headers.cgi?x=1" "/cgi-bin/headers.sb.cgi?x=1" --http1.0
	same_response "/cgi-bin/headers.cgi?x=1" "/wrap-bin/headers.cgi?x=1" --http1.0
	fetch /cgi-bin/headers.sb.cgi | head -n 1 | grep -q '^HTTP/1\.1 202 ' || fail "not an HTTP/1.1 202: $(fetch /cgi-bin/headers.sb.cgi | head -n 1)"
	# The CGI ran as the tenant, through each form.
	local path body
	for path in /cgi-bin/whoami.cgi /cgi-bin/whoami.sb.cgi /wrap-bin/whoami.cgi; do
		body=$(curl -sS --max-time 20 "$BASE$path")
		[[ $body == "user=$TENANT group=$TENANT" ]] || fail "$path: $body"
	done
	assert_clean
	no_cgiguard_errors
}

# tenant_policy LINE...: the policy file for the handler and the policy build's
# #! scripts: the site as its root, cgiguard's log, and LINE...
tenant_policy() {
	write_policy "root = $SITE/htdocs" "log = $SITE/logs/cgiguard.log" "grace = 30s" "$@"
}

# test_refuse_own_files PATH...: through each PATH (the tenant's whoami.cgi
# reached through the policy build: its #! line, or the Action handler) the
# script runs as the tenant under a policy with a root; with refuse-own-files
# = yes added, every one is refused, for the tenant owns its scripts, as suexec
# demands and as shared hosts have it.
test_refuse_own_files() {
	local path body code
	[[ -x $POLICY_BIN ]] || skip "no policy build at $POLICY_BIN (make tests/cgiguard-policy)"
	tenant_policy
	for path in "$@"; do
		body=$(curl -sS --max-time 20 "$BASE$path")
		[[ $body == "user=$TENANT group=$TENANT" ]] || fail "$path without refuse-own-files: $body"
	done
	tenant_policy "refuse-own-files = yes"
	for path in "$@"; do
		ERRLOG_LINES=$(wc -l <"$SITE/logs/error.log")
		code=$(curl -sS --max-time 20 -o "$SITE/state/refused.out" -w '%{http_code}' "$BASE$path")
		[[ $code == 500 ]] || fail "$path with refuse-own-files = yes: HTTP $code: $(cat "$SITE/state/refused.out")"
		poll 5 refused_own || fail "$path: no 'owned by the user it would run as' in the error log:" "$(errlog_since)"
		echo "# $SERVER_NAME $path: $(errlog_since | grep -F 'owned by the user' | tail -n 1 | sed 's/^.*\] //')" >&3
	done
	remove_policy
	assert_clean
}
refused_own() { errlog_since | grep -q 'cgiguard: .*: owned by the user it would run as'; }

# test_suexec_refuses_handler: suexec will not run the admin's cgiguard as the
# Action handler (a root-owned file: suexec runs only the tenant's own files,
# beneath its docroot): a 500, and suexec's log says why. The control, the
# same script run directly, works.
test_suexec_refuses_handler() {
	local before logged code body
	[[ -x $POLICY_BIN ]] || skip "no policy build at $POLICY_BIN (make tests/cgiguard-policy)"
	tenant_policy
	before=$(suexec_log_lines) logged=$(wc -l <"$SITE/logs/cgiguard.log")
	code=$(curl -sS --max-time 20 -o "$SITE/state/handler.out" -w '%{http_code}' "$BASE/app/whoami.cgi")
	[[ $code == 500 ]] || fail "/app/whoami.cgi through the Action handler: HTTP $code: $(cat "$SITE/state/handler.out")"
	poll 5 suexec_refused "$before" || fail "suexec logged no refusal:" "$(suexec_log_since "$before")"
	echo "# $SERVER_NAME Action handler: suexec: $(suexec_log_since "$before" | grep -v ' cmd: ' | tail -n 1 | sed 's/^\[[^]]*\]: //')" >&3
	[[ $(wc -l <"$SITE/logs/cgiguard.log") == "$logged" ]] || fail "cgiguard ran: $(tail -n 3 "$SITE/logs/cgiguard.log")"
	body=$(curl -sS --max-time 20 "$BASE/cgi-bin/whoami.cgi")
	[[ $body == "user=$TENANT group=$TENANT" ]] || fail "the control: $body"
	remove_policy
	assert_clean
}
# suexec_refused LINES: suexec's log, since it had LINES lines, has the line
# after a "cmd: cgiguard" that is a refusal, not the next command.
suexec_refused() { suexec_log_since "$1" | awk 'after && !/ cmd: / {found = 1} {after = / cmd: cgiguard$/} END {exit !found}'; }
