# tests/servers/busybox.bash: start/stop busybox httpd with a private config.
#
# Started as root in the foreground (-f) on 127.0.0.1:$PORT; -u drops the
# whole server to $CGI_USER after binding. CGIs live in $SITE/htdocs/cgi-bin.
# busybox never signals a CGI: when the client leaves it closes the CGI's
# stdout, and the CGI's next write gets SIGPIPE. The sections between
# "recipe:" markers are copied into RECIPES.md.

BUSYBOX_BIN=/usr/bin/busybox

busybox_config() {
	cat <<-EOF
		# Private test config: busybox httpd (tests/servers/busybox.bash)
		# recipe:busybox-interpreter
		# Every *.gcgi file is run as: cgiguard NAME.gcgi (in the script's directory)
		*.gcgi:$CGIGUARD
		# recipe:end
	EOF
}

busybox_command() {
	echo "$BUSYBOX_BIN" httpd -f -p "127.0.0.1:$PORT" -h "$SITE/htdocs" \
		-c "$SITE/httpd.conf" -u "$CGI_USER:$CGI_USER"
}

busybox_start() {
	PORT=$(free_port) || return 1
	BASE=http://127.0.0.1:$PORT
	SERVER_COMMS=busybox
	busybox_config >"$SITE/httpd.conf"
	# shellcheck disable=SC2046 # one word per argument: no blanks in these paths
	spawn $(busybox_command) </dev/null >"$SITE/logs/error.log" 2>&1
	SERVER_PID=$!
	wait_http "$BASE/ready.txt" "$SERVER_PID" 10
}

busybox_stop() {
	[[ -n ${SERVER_PID:-} ]] || return 0
	stop_pid "$SERVER_PID" 15
}
