# tests/servers/apache.bash: start/stop apache2 with a private config.
#
#   APACHE_MPM=prefork  mpm_prefork + mod_cgi   (CGI stdout: pipes)
#   APACHE_MPM=event    mpm_event + mod_cgid    (CGI stdout: an AF_UNIX socket)
#
# The server starts as root (-k start: it detaches into its own session, as under
# systemd), serves 127.0.0.1:$PORT, runs its children and CGIs as $CGI_USER,
# and keeps everything (pid, logs, mutexes, cgid socket) under $SITE. The
# sections between "recipe:" markers are copied into RECIPES.md.

APACHE_BIN=/usr/sbin/apache2
APACHE_MODULES=/usr/lib/apache2/modules

# apache_base_config: the server itself, modules, and a document root
# ($SITE/htdocs) that is readable but runs nothing.
apache_base_config() {
	local cgi_module=cgi_module cgi_so=mod_cgi.so cgid_sock=
	if [[ $APACHE_MPM == event ]]; then
		cgi_module=cgid_module cgi_so=mod_cgid.so
		cgid_sock="ScriptSock \"$SITE/run/cgid.sock\""
	fi
	cat <<-EOF
		# Private test config: apache2 mpm_$APACHE_MPM on 127.0.0.1 (tests/servers/apache.bash)
		ServerRoot "$SITE"
		ServerName 127.0.0.1
		Listen 127.0.0.1:$PORT
		PidFile "$SITE/run/apache2.pid"
		DefaultRuntimeDir "$SITE/run"
		Mutex file:$SITE/run default
		ErrorLog "$SITE/logs/error.log"
		LogLevel info
		User ${APACHE_USER:-$CGI_USER}
		Group ${APACHE_USER:-$CGI_USER}
		KeepAlive Off
		# Short, for the silent seed: Apache gives up on a CGI silent for 2 s.
		Timeout 2
		TypesConfig /etc/mime.types

		LoadModule mpm_${APACHE_MPM}_module $APACHE_MODULES/mod_mpm_$APACHE_MPM.so
		LoadModule authz_core_module $APACHE_MODULES/mod_authz_core.so
		LoadModule mime_module $APACHE_MODULES/mod_mime.so
		LoadModule alias_module $APACHE_MODULES/mod_alias.so
		LoadModule actions_module $APACHE_MODULES/mod_actions.so
		LoadModule $cgi_module $APACHE_MODULES/$cgi_so
		$cgid_sock

		DocumentRoot "$SITE/htdocs"
		<Directory />
		    AllowOverride None
		    Require all denied
		</Directory>
		<Directory "$SITE/htdocs">
		    Require all granted
		</Directory>
	EOF
}

# apache_config: the base, and the forms a script or an admin's wrapper opts in with.
apache_config() {
	apache_base_config
	cat <<-EOF

		# recipe:apache-cgi-bin
		# CGIs as usual; a script opts in with its #! line:
		#   #!$CGIGUARD $SHEBANG_OPTS /bin/sh
		$(apache_cgi_dir /cgi-bin/ "$SITE/htdocs/cgi-bin")
		# recipe:end

		# recipe:apache-wrapper
		# Unchanged scripts, each reached through a two-line shell wrapper:
		#   #!/bin/sh
		#   exec $CGIGUARD $SHEBANG_OPTS $SITE/htdocs/cgi-bin/NAME.cgi "\$@"
		$(apache_cgi_dir /wrap-bin/ "$SITE/wrap-bin")
		# recipe:end
	EOF
}

# apache_cgi_dir URL DIR: every file in DIR runs as a CGI at URL.
apache_cgi_dir() {
	cat <<-EOF
		ScriptAlias $1 "$2/"
		<Directory "$2">
		    Require all granted
		</Directory>
	EOF
}

# apache_action_dir DIR: every *.cgi beneath DIR runs through the handler,
# $HANDLER_DIR/cgiguard (Action + AddHandler); the handler's own directory is a
# ScriptAlias at /cgi-sys/.
apache_action_dir() {
	apache_cgi_dir /cgi-sys/ "$HANDLER_DIR"
	cat <<-EOF
		<Directory "$1">
		    Options -ExecCGI
		    AddHandler cgiguard-script .cgi
		    Action cgiguard-script /cgi-sys/cgiguard
		</Directory>
	EOF
}

# apache_launch CONF RUN: start Apache with CONF, its pid file and locks in RUN; sets
# SERVER_PID. The environment is what /etc/apache2/envvars would set; our configs name
# their paths themselves.
apache_launch() {
	local conf=$1 run=$2
	(
		close_fds
		exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
			APACHE_RUN_USER="$CGI_USER" APACHE_RUN_GROUP="$CGI_USER" \
			APACHE_PID_FILE="$run/apache2.pid" APACHE_RUN_DIR="$run" \
			APACHE_LOCK_DIR="$run" APACHE_LOG_DIR="$SITE/logs" \
			"$APACHE_BIN" -f "$conf" -k start
	) </dev/null >>"$SITE/logs/start.log" 2>&1 || return 1
	poll 10 test -s "$run/apache2.pid" || return 1
	SERVER_PID=$(cat "$run/apache2.pid")
}

apache_start() {
	: "${APACHE_MPM:?set APACHE_MPM=prefork or event}"
	PORT=$(free_port) || return 1
	BASE=http://127.0.0.1:$PORT
	"${APACHE_CONFIG:-apache_config}" >"$SITE/apache2.conf"
	apache_launch "$SITE/apache2.conf" "$SITE/run" || return 1
	SERVER_COMMS=apache2
	wait_http "$BASE/ready.txt" "$SERVER_PID" 10
}

apache_stop() {
	[[ -n ${SERVER_PID:-} ]] || return 0
	stop_pid "$SERVER_PID" 15
}

# --- handler mode (Action) -----------------------------------------------------
#
# APACHE_CONFIG=apache_handler_config: every *.cgi beneath the document root runs
# through cgiguard as Apache's Action handler. The handler is the policy build
# (tests/cgiguard-policy, installed by install_handler as $HANDLER_DIR/cgiguard);
# its policy file names the document root as its root. A second name-based
# virtual host, direct.test, runs the same files as plain CGIs: the control.

apache_handler_config() {
	apache_base_config
	cat <<-EOF
		# recipe:apache-action
		# Handler mode: every *.cgi beneath $SITE/htdocs runs through cgiguard.
		#   install -d $HANDLER_DIR
		#   install -m 755 cgiguard $HANDLER_DIR/cgiguard
		# and in /etc/cgiguard.conf (owned by root, mode 0644):
		#   root = $SITE/htdocs
		$(apache_action_dir "$SITE/htdocs")
		# recipe:end

		# Test only: a directory nobody may reach, and an alias that leaves the root.
		<Directory "$SITE/htdocs/private">
		    Require all denied
		</Directory>
		Alias /escape/ "$SITE/htdocs/../outside/"
		<Directory "$SITE/outside">
		    Options -ExecCGI
		    Require all granted
		    AddHandler cgiguard-script .cgi
		    Action cgiguard-script /cgi-sys/cgiguard
		</Directory>

		# The control: the same files run directly (curl -H 'Host: direct.test').
		<VirtualHost 127.0.0.1:$PORT>
		    ServerName 127.0.0.1
		</VirtualHost>
		<VirtualHost 127.0.0.1:$PORT>
		    ServerName direct.test
		    <Directory "$SITE/htdocs">
		        Options +ExecCGI
		        SetHandler cgi-script
		    </Directory>
		</VirtualHost>
	EOF
}

# --- apache2 -k restart | graceful | stop (apache-restart.bats, apache-shared-restart.bats) ---
#
# Each test starts its own server on a site of its own; apache_seed_under needs
# scenarios.bash.

# apache_seed_under START ACTION "LABEL PATH EXPECT"...: START (a function that
# makes the site and starts the server on it), the seed through each PATH at
# once, then apache2 -k ACTION once every CGI is inside its section. EXPECT is
# intact, corrupt or any (recorded only). Fails at once when the server does not
# start, a seed never reaches its section or the command fails; a wrong outcome,
# a CGI that outlives the grace or anything left running sets SEED_UNDER_FAILED
# to 1 (else 0), for the caller to fail on. Removes the site after.
apache_seed_under() {
	local start=$1 action=$2 spec label path expect st t0 result cgi
	shift 2
	SEED_UNDER_FAILED=0
	"$start" || fail "apache did not start: $(tail -n 5 "$SITE"/logs/*)"
	ERRLOG_LINES=$(wc -l <"$SITE/logs/error.log")
	st=$SITE/state
	seeds_inside "$@"
	t0=$(now_ms)
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C "$APACHE_BIN" -f "$SITE/apache2.conf" -k "$action" </dev/null >>"$SITE/logs/start.log" 2>&1 3>&- ||
		fail "apache2 -k $action failed: $(tail -n 3 "$SITE/logs/start.log")"
	wait "${SEED_CLIENTS[@]}" || true
	for spec in "$@"; do
		read -r label path expect <<<"$spec"
		cgi=$(awk '$1 == "inside" {print $2}' "$st/$label.log")
		poll 40 gone "$cgi" || { echo "$SERVER_NAME $label: the CGI outlived the grace" >&2; SEED_UNDER_FAILED=1; }
		cmp -s "$st/$label.data" "$SITE/fixtures/seed.expected" && result=intact || result=corrupt
		echo "# $SERVER_NAME -k $action: $label $result (CGI noted: $(cut -d' ' -f1 "$st/$label.log" | tr '\n' ' ')), its end $(($(now_ms) - t0)) ms after the command" >&3
		[[ $expect == any || $expect == "$result" ]] || { echo "$SERVER_NAME -k $action: $label $result, want $expect" >&2; SEED_UNDER_FAILED=1; }
	done
	sed 's/^/  cgiguard.log: /' "$SITE/logs/cgiguard.log" >&2
	assert_clean 35
	no_cgiguard_errors
	[[ $action == stop ]] || { apache_stop || SEED_UNDER_FAILED=1; }
	poll 10 no_server_leftovers || { echo "server processes left: $(server_leftovers)" >&2; SEED_UNDER_FAILED=1; }
	remove_site
	SITE=
}

# apache_test_teardown: teardown() for those files: a test that ended early
# leaves its server and its site.
apache_test_teardown() {
	[[ -n ${SITE:-} ]] || return 0
	apache_stop || true
	poll 10 no_server_leftovers || true
	remove_site
}
