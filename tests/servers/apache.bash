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

apache_config() {
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
		User $CGI_USER
		Group $CGI_USER
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

		# recipe:apache-cgi-bin
		# CGIs as usual; a script opts in with its #! line:
		#   #!$CGIGUARD $SHEBANG_OPTS /bin/sh
		ScriptAlias /cgi-bin/ "$SITE/htdocs/cgi-bin/"
		<Directory "$SITE/htdocs/cgi-bin">
		    Require all granted
		</Directory>
		# recipe:end

		# recipe:apache-wrapper
		# Unchanged scripts, each reached through a two-line shell wrapper:
		#   #!/bin/sh
		#   exec $CGIGUARD $SHEBANG_OPTS $SITE/htdocs/cgi-bin/NAME.cgi "\$@"
		ScriptAlias /wrap-bin/ "$SITE/wrap-bin/"
		<Directory "$SITE/wrap-bin">
		    Require all granted
		</Directory>
		# recipe:end

		# recipe:apache-action
		# Handler mode (not implemented yet): every *.gcgi under /act/ runs through cgiguard.
		ScriptAlias /cgiguard-handler "$CGIGUARD"
		<Directory "${CGIGUARD%/*}">
		    <Files "${CGIGUARD##*/}">
		        Require all granted
		    </Files>
		</Directory>
		Alias /act/ "$SITE/htdocs/cgi-bin/"
		<Location /act/>
		    AddHandler cgiguard-script .gcgi
		    Action cgiguard-script /cgiguard-handler
		</Location>
		# recipe:end
	EOF
}

apache_start() {
	: "${APACHE_MPM:?set APACHE_MPM=prefork or event}"
	PORT=$(free_port) || return 1
	BASE=http://127.0.0.1:$PORT
	apache_config >"$SITE/apache2.conf"
	# What /etc/apache2/envvars would set; our config names its paths itself.
	(
		close_fds
		exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
			APACHE_RUN_USER="$CGI_USER" APACHE_RUN_GROUP="$CGI_USER" \
			APACHE_PID_FILE="$SITE/run/apache2.pid" APACHE_RUN_DIR="$SITE/run" \
			APACHE_LOCK_DIR="$SITE/run" APACHE_LOG_DIR="$SITE/logs" \
			"$APACHE_BIN" -f "$SITE/apache2.conf" -k start
	) </dev/null >"$SITE/logs/start.log" 2>&1 || return 1
	poll 10 test -s "$SITE/run/apache2.pid" || return 1
	SERVER_PID=$(cat "$SITE/run/apache2.pid")
	SERVER_COMMS=apache2
	wait_http "$BASE/ready.txt" "$SERVER_PID" 10
}

apache_stop() {
	[[ -n ${SERVER_PID:-} ]] || return 0
	stop_pid "$SERVER_PID" 15
}
