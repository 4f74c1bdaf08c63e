# tests/servers/lighttpd.bash: start/stop lighttpd with a private config.
#
#   LIGHTTPD_STREAM=2   server.stream-response-body = 2 (client abort: TERM to the CGI)
#   LIGHTTPD_STREAM=0   the default (the response is buffered; the CGI is never told)
#
# Started as root in the foreground (-D); it binds 127.0.0.1:$PORT, then drops
# to $CGI_USER for good (server.username), so the server and its CGIs share that
# user, as lighttpd always does. The sections between "recipe:" markers are
# copied into RECIPES.md.

LIGHTTPD_BIN=/usr/sbin/lighttpd

# lighttpd_server: what every test config starts with: the site, 127.0.0.1, the CGI user.
lighttpd_server() {
	cat <<-EOF
		server.document-root = "$SITE/htdocs"
		server.bind = "127.0.0.1"
		server.port = $PORT
		server.errorlog = "$SITE/logs/error.log"
		server.username = "$CGI_USER"
		server.groupname = "$CGI_USER"
		server.modules = ( "mod_alias", "mod_cgi" )
	EOF
}

lighttpd_config() {
	local limits=
	# LIGHTTPD_READ_TIMEOUT=N, for the silent seed: lighttpd gives up on a CGI silent for N s.
	[[ -z ${LIGHTTPD_READ_TIMEOUT:-} ]] || limits=$'\n'"cgi.limits = ( \"read-timeout\" => $LIGHTTPD_READ_TIMEOUT )"
	cat <<-EOF
		# Private test config: lighttpd on 127.0.0.1 (tests/servers/lighttpd.bash)
		$(lighttpd_server)
		server.stream-response-body = $LIGHTTPD_STREAM$limits

		# recipe:lighttpd-cgi-bin
		# CGIs as usual; a script opts in with its #! line:
		#   #!$CGIGUARD $SHEBANG_OPTS /bin/sh
		\$HTTP["url"] =~ "^/cgi-bin/" {
		    cgi.assign = ( ".cgi" => "" )
		}
		# recipe:end

		# recipe:lighttpd-assign
		# Every *.cgi under /guard-bin/ runs as: cgiguard /absolute/path/to/script.cgi
		alias.url = ( "/guard-bin/" => "$SITE/htdocs/cgi-bin/" )
		\$HTTP["url"] =~ "^/guard-bin/" {
		    cgi.assign = ( ".cgi" => "$CGIGUARD" )
		}
		# recipe:end
	EOF
}

# LIGHTTPD_CONFIG=lighttpd_handler_config: every *.cgi beneath the document root
# runs through cgiguard (the policy build, lib.bash: install_handler), whose
# policy file names the document root as its root. The host direct.test runs
# the same files as plain CGIs: the control.
lighttpd_handler_config() {
	cat <<-EOF
		# Private test config: lighttpd on 127.0.0.1, cgiguard as the handler (tests/servers/lighttpd.bash)
		$(lighttpd_server)
		server.stream-response-body = $LIGHTTPD_STREAM

		# recipe:lighttpd-handler
		# Every *.cgi beneath $SITE/htdocs runs through cgiguard, confined to the root
		# named in /etc/cgiguard.conf (owned by root, mode 0644):
		#   root = $SITE/htdocs
		cgi.assign = ( ".cgi" => "$HANDLER_DIR/cgiguard" )
		# recipe:end

		# Test only: an alias out of the root, and the control. (A CGI's stderr,
		# cgiguard's refusals included, goes to lighttpd's own stderr: logs/start.log.)
		alias.url = ( "/escape/" => "$SITE/outside/" )
		\$HTTP["host"] == "direct.test" {
		    cgi.assign = ( ".cgi" => "" )
		}
	EOF
}

lighttpd_start() {
	: "${LIGHTTPD_STREAM:?set LIGHTTPD_STREAM=2 or 0}"
	PORT=$(free_port) || return 1
	BASE=http://127.0.0.1:$PORT
	"${LIGHTTPD_CONFIG:-lighttpd_config}" >"$SITE/lighttpd.conf"
	# lighttpd opens its error log after it has dropped to server.username.
	install -o "$CGI_USER" -m 644 /dev/null "$SITE/logs/error.log"
	"$LIGHTTPD_BIN" -tt -f "$SITE/lighttpd.conf" >"$SITE/logs/start.log" 2>&1 || return 1
	spawn "$LIGHTTPD_BIN" -D -f "$SITE/lighttpd.conf" </dev/null >>"$SITE/logs/start.log" 2>&1
	SERVER_PID=$!
	SERVER_COMMS=lighttpd
	wait_http "$BASE/ready.txt" "$SERVER_PID" 10
}

lighttpd_stop() {
	[[ -n ${SERVER_PID:-} ]] || return 0
	stop_pid "$SERVER_PID" 15
}
