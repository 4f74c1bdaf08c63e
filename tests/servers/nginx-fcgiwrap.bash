# tests/servers/nginx-fcgiwrap.bash: start/stop nginx + fcgiwrap with private configs.
#
# fcgiwrap runs as $CGI_USER through spawn-fcgi (-n: spawn-fcgi execs it, so
# the pid we hold is fcgiwrap's), on a unix socket in $SITE/run that only the
# nginx workers (www-data) may use. nginx starts as root in the foreground
# (daemon off) on 127.0.0.1:$PORT. The sections between "recipe:" markers are
# copied into RECIPES.md.

NGINX_BIN=/usr/sbin/nginx
FCGIWRAP_BIN=/usr/sbin/fcgiwrap
NGINX_USER=www-data

nginx_config() {
	cat <<-EOF
		# Private test config: nginx on 127.0.0.1 (tests/servers/nginx-fcgiwrap.bash)
		daemon off;
		master_process on;
		worker_processes 1;
		user $NGINX_USER $NGINX_USER;
		pid $SITE/run/nginx.pid;
		error_log $SITE/logs/error.log info;
		events {
		    worker_connections 256;
		}
		http {
		    access_log off;
		    client_body_temp_path $SITE/run/body;
		    fastcgi_temp_path $SITE/run/fastcgi;
		    proxy_temp_path $SITE/run/proxy;
		    uwsgi_temp_path $SITE/run/uwsgi;
		    scgi_temp_path $SITE/run/scgi;
		    client_max_body_size 64m;
		    server {
		        listen 127.0.0.1:$PORT;
		        root $SITE/htdocs;

		        # recipe:nginx-fcgiwrap
		        # fcgiwrap runs SCRIPT_FILENAME; a script opts in with its #! line:
		        #   #!$CGIGUARD $SHEBANG_OPTS /bin/sh
		        location /cgi-bin/ {
		            include /etc/nginx/fastcgi_params;
		            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
		            fastcgi_pass unix:$SITE/run/fcgiwrap.sock;
		        }
		        # recipe:end
		    }
		}
	EOF
}

# The fcgiwrap side of the recipe: one command line.
fcgiwrap_command() {
	echo spawn-fcgi -n -s "$SITE/run/fcgiwrap.sock" -M 0660 -u "$CGI_USER" -g "$CGI_USER" \
		-U "$NGINX_USER" -G "$NGINX_USER" -- "$FCGIWRAP_BIN" -c 16
}

nginx_start() {
	PORT=$(free_port) || return 1
	BASE=http://127.0.0.1:$PORT
	SERVER_COMMS="nginx fcgiwrap"
	nginx_config >"$SITE/nginx.conf"
	# shellcheck disable=SC2046 # one word per argument: no blanks in these paths
	spawn $(fcgiwrap_command) </dev/null >"$SITE/logs/fcgiwrap.log" 2>&1
	FCGIWRAP_PID=$!
	poll 10 test -S "$SITE/run/fcgiwrap.sock" || return 1
	"$NGINX_BIN" -t -p "$SITE" -e "$SITE/logs/error.log" -c "$SITE/nginx.conf" \
		>"$SITE/logs/start.log" 2>&1 || return 1
	spawn "$NGINX_BIN" -p "$SITE" -e "$SITE/logs/error.log" -c "$SITE/nginx.conf" \
		</dev/null >>"$SITE/logs/start.log" 2>&1
	SERVER_PID=$!
	export FCGIWRAP_PID
	wait_http "$BASE/ready.txt" "$SERVER_PID" 10
}

nginx_stop() {
	local rc=0
	[[ -n ${SERVER_PID:-} ]] && { stop_pid "$SERVER_PID" 15 || rc=1; }
	# fcgiwrap -c: the children outlive a parent that gets TERM; stop each.
	local pid children
	if [[ -n ${FCGIWRAP_PID:-} ]]; then
		children=$(pgrep -P "$FCGIWRAP_PID")
		stop_pid "$FCGIWRAP_PID" 15 || rc=1
		for pid in $children; do stop_pid "$pid" 15 || rc=1; done
	fi
	rm -f "$SITE/run/fcgiwrap.sock"
	return $rc
}
