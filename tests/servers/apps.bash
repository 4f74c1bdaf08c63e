# tests/servers/apps.bash: gitweb and cgit (Debian's packages) behind Apache,
# directly and through each cgiguard form (apps.bats). Needs lib.bash and
# apache.bash.
#
# One site, two servers on it: apache2 mpm_prefork + mod_cgi and mpm_event +
# mod_cgid (each with its own run directory under $SITE/run/MPM; both append
# to $SITE/logs/error.log). Both serve the same two URLs, /gitweb.cgi and
# /cgit.cgi, and the request header X-Form picks the form, so that every
# form answers at the same URL, host and port, and an application's links
# (which name its own URL) are the same in every form's response:
#
#   (none)            direct: Alias to /usr/share/gitweb/gitweb.cgi, /usr/lib/cgit/cgit.cgi
#   X-Form: handler   Action + AddHandler on those same files (policy roots
#                     /usr/share/gitweb and /usr/lib/cgit)
#   X-Form: shebang   $SITE/forms/shebang/APP.cgi: #!cgiguard ... /bin/sh, exec the packaged CGI
#   X-Form: wrapper   $SITE/forms/wrapper/APP.cgi: exec cgiguard ... packaged CGI "$@"
#   X-Form: shebang-policy, wrapper-policy: the same with the policy build
#                     (it reads $POLICY_CONF: clean-env and pass-env apply)
#
# (mod_rewrite maps the URL to the form's file in server context, so the URL,
# SCRIPT_NAME and PATH_INFO stay the direct ones.)
#
# The repository, $SITE/git/demo.git (bare, root's, readable by all), has fixed
# commit dates (2020), so nothing in a page depends on the time it is made:
#   v1    README, src/main.c, "dir with space/fü ñ.txt", data/blob.bin (3 MiB random)
#   HEAD  adds data/large.bin (24 MiB random): the large snapshot

APPS=(gitweb cgit)
GITWEB_CGI=/usr/share/gitweb/gitweb.cgi
CGIT_CGI=/usr/lib/cgit/cgit.cgi
APP_FORMS=(shebang wrapper handler)
LARGE_SNAPSHOT_MB=24

app_cgi() { [[ $1 == gitweb ]] && echo "$GITWEB_CGI" || echo "$CGIT_CGI"; }

# random_file PATH BYTES SEED: deterministic incompressible data.
random_file() {
	python3 -c 'import random, sys; r = random.Random(int(sys.argv[3])); open(sys.argv[1], "wb").write(r.randbytes(int(sys.argv[2])))' "$@"
}

make_app_repo() {
	local work=$SITE/git/work repo=$SITE/git/demo.git
	mkdir -p "$work/src" "$work/dir with space" "$work/data"
	export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.test
	export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.test
	(
		cd "$work" || exit 1
		git init -q -b main .
		printf 'demo repository for cgiguard tests\n\nsearchword appears here\n' >README
		printf '#include <stdio.h>\nint main(void) { puts("caf\xc3\xa9"); return 0; }\n' >src/main.c
		printf 'f\xc3\xbc \xc3\xb1: UTF-8 name, spaces in its path\n' >"dir with space/fü ñ.txt"
		random_file data/blob.bin $((3 * 1048576)) 1
		git add -A
		GIT_AUTHOR_DATE="2020-03-01T12:00:00Z" GIT_COMMITTER_DATE="2020-03-01T12:00:00Z" \
			git commit -q -m "first: the small tree and a 3 MiB blob"
		GIT_COMMITTER_DATE="2020-03-01T13:00:00Z" git tag -a -m "version 1" v1
		printf 'second line, searchword again\n' >>README
		GIT_AUTHOR_DATE="2020-03-02T12:00:00Z" GIT_COMMITTER_DATE="2020-03-02T12:00:00Z" \
			git commit -q -a -m "second: README grows (searchword)"
		random_file data/large.bin $((LARGE_SNAPSHOT_MB * 1048576)) 2
		git add data/large.bin
		GIT_AUTHOR_DATE="2020-03-03T12:00:00Z" GIT_COMMITTER_DATE="2020-03-03T12:00:00Z" \
			git commit -q -m "third: a ${LARGE_SNAPSHOT_MB} MiB file for the large snapshot"
		git clone -q --bare . "$repo"
	) >"$SITE/logs/git.log" 2>&1 || return 1
	echo "the cgiguard test repository" >"$repo/description"
	git --git-dir="$repo" config gitweb.owner "A U Thor"
	rm -rf "$work"
	chmod -R a+rX "$SITE/git"
}

# The applications' configurations, named by SetEnv GITWEB_CONFIG / CGIT_CONFIG.
make_app_configs() {
	cat >"$SITE/gitweb.conf" <<-EOF
		# gitweb for the cgiguard tests (GITWEB_CONFIG)
		\$projectroot = "$SITE/git";
		\$git_temp = "/tmp";
		\$feature{'pathinfo'}{'default'} = [1];
		\$feature{'snapshot'}{'default'} = ['tgz'];
	EOF
	cat >"$SITE/cgitrc" <<-EOF
		# cgit for the cgiguard tests (CGIT_CONFIG)
		cache-size=0
		snapshots=tar.gz
		enable-http-clone=0
		repo.url=demo.git
		repo.path=$SITE/git/demo.git
		repo.desc=the cgiguard test repository
	EOF
	chmod 644 "$SITE/gitweb.conf" "$SITE/cgitrc"
}

# make_app_forms: the #! and wrapper files of each app; -l: the site's log.
make_app_forms() {
	local form app bin cg opts="$SHEBANG_OPTS -v -l $SITE/logs/cgiguard.log"
	for form in shebang wrapper shebang-policy wrapper-policy; do
		install -d -m 0755 "$SITE/forms/$form"
		cg=$CGIGUARD
		[[ $form != *-policy ]] || cg=$SITE/cgi-sys/cgiguard
		for app in "${APPS[@]}"; do
			bin=$SITE/forms/$form/$app.cgi
			case $form in
			shebang*) printf '#!%s %s%s /bin/sh\nexec %s "$@"\n' "$cg" "$opts" "${APP_SHEBANG_EXTRA:+ $APP_SHEBANG_EXTRA}" "$(app_cgi "$app")" >"$bin" ;;
			wrapper*) printf '#!/bin/sh\nexec %s %s%s %s "$@"\n' "$cg" "$opts" "${APP_SHEBANG_EXTRA:+ $APP_SHEBANG_EXTRA}" "$(app_cgi "$app")" >"$bin" ;;
			esac
			chmod 0755 "$bin"
		done
	done
}

# apps_policy LINE...: the handler's policy: the packaged CGIs' own directories
# as roots, and the forms' (a #! script under a policy with roots must lie
# beneath one).
apps_policy() {
	write_policy "root = /usr/share/gitweb" "root = /usr/lib/cgit" "root = $SITE/forms" \
		"log = $SITE/logs/cgiguard.log" "grace = 30s" "verbose = yes" "$@"
}

apps_config() {
	local run=$SITE/run/$APACHE_MPM form
	apache_base_config | sed "s|$SITE/run|$run|g"
	cat <<-EOF

		LoadModule env_module $APACHE_MODULES/mod_env.so
		LoadModule rewrite_module $APACHE_MODULES/mod_rewrite.so
		# Debian's default: the framing test needs it (chunked or Content-Length).
		KeepAlive On
		# The base's 2 s is for its silent seed; a snapshot under load may take longer.
		Timeout 30

		SetEnv GITWEB_CONFIG "$SITE/gitweb.conf"
		SetEnv CGIT_CONFIG "$SITE/cgitrc"

		# direct (and the handler form's files): the packaged CGIs where they are.
		Alias /gitweb.cgi $GITWEB_CGI
		Alias /cgit.cgi $CGIT_CGI
		<Directory /usr/share/gitweb>
		    Require all granted
		    Options +ExecCGI
		    SetHandler cgi-script
		</Directory>
		<Directory /usr/lib/cgit>
		    Require all granted
		    Options +ExecCGI
		    SetHandler cgi-script
		</Directory>
		$(apache_cgi_dir /cgi-sys/ "$HANDLER_DIR")
		<LocationMatch "^/(gitweb|cgit)\\.cgi">
		    <If "%{HTTP:X-Form} == 'handler'">
		        SetHandler cgiguard-script
		        Action cgiguard-script /cgi-sys/cgiguard
		    </If>
		</LocationMatch>

		# The #! and wrapper forms: same URL, the form's file.
		<Directory "$SITE/forms">
		    Require all granted
		    Options +ExecCGI
		    SetHandler cgi-script
		</Directory>
		RewriteEngine On
	EOF
	for form in shebang wrapper shebang-policy wrapper-policy; do
		cat <<-EOF
			RewriteCond %{HTTP:X-Form} =$form
			RewriteRule ^/(gitweb|cgit)\\.cgi(/.*)?\$ $SITE/forms/$form/\$1.cgi\$2 [H=cgi-script]
		EOF
	done
}

# apps_start: both servers. PORT_prefork, PORT_event, APPS_PIDS; SERVER_PID is
# the first's (lib.bash's "did the server start" check).
apps_start() {
	local mpm pids=()
	install_handler
	make_app_repo || return 1
	make_app_configs
	make_app_forms
	apps_policy
	for mpm in prefork event; do
		apps_start_one "$mpm" || return 1
		printf -v "PORT_$mpm" %s "$PORT"
		pids+=("$SERVER_PID")
	done
	export PORT_prefork PORT_event
	export APPS_PIDS="${pids[*]}"
	SERVER_PID=${pids[0]}
	SERVER_COMMS=apache2
}

# apps_start_one MPM: as apache.bash's apache_start, with the run directory $SITE/run/MPM.
apps_start_one() {
	local run=$SITE/run/$1 conf=$SITE/apache2-$1.conf
	APACHE_MPM=$1
	mkdir -p "$run"
	PORT=$(free_port) || return 1
	apps_config >"$conf"
	apache_launch "$conf" "$run" || return 1
	wait_http "http://127.0.0.1:$PORT/ready.txt" "$SERVER_PID" 10
}

apps_stop() {
	local pid rc=0
	for pid in ${APPS_PIDS:-}; do stop_pid "$pid" 15 || rc=1; done
	return $rc
}

# base_of MPM: the server's URL.
base_of() { local p=PORT_$1; echo "http://127.0.0.1:${!p}"; }

# --- (a) identity ---------------------------------------------------------------

# app_urls APP: the requests of the identity test, one a line: METHOD PATH
# (PATH after /APP.cgi). Summary, log, tree, blob, PATH_INFO with UTF-8 and
# spaces, a search, query words (no "=": Apache passes them as argv), 404s,
# HEAD, a feed, a 3 MiB binary blob and the v1 snapshot (~3 MB).
app_urls() {
	local utf='dir%20with%20space/f%C3%BC%20%C3%B1.txt'
	case $1 in
	gitweb)
		cat <<-EOF
			GET /
			GET /?p=demo.git;a=summary
			GET /?p=demo.git;a=log
			GET /?p=demo.git;a=shortlog
			GET /?p=demo.git;a=tree;hb=v1
			GET /?p=demo.git;a=blob;f=src/main.c;hb=HEAD
			GET /demo.git/blob/HEAD:/$utf
			GET /demo.git/tree/HEAD:/dir%20with%20space
			GET /?p=demo.git;a=search;h=HEAD;st=commit;s=searchword
			GET /?searchword+-v+--grace+0
			GET /?p=demo.git;a=commitdiff;h=main
			GET /?p=nosuch.git;a=summary
			GET /demo.git/blob/HEAD:/nosuchfile
			HEAD /?p=demo.git;a=summary
			GET /?p=demo.git;a=atom
			GET /?p=demo.git;a=blob_plain;f=data/blob.bin;hb=v1
			GET /?p=demo.git;a=snapshot;h=v1;sf=tgz
		EOF
		;;
	cgit)
		cat <<-EOF
			GET /
			GET /demo.git/
			GET /demo.git/log/
			GET /demo.git/tree/?id=v1
			GET /demo.git/tree/src/main.c
			GET /demo.git/tree/$utf
			GET /demo.git/plain/$utf
			GET /demo.git/log/?qt=grep&q=searchword
			GET /demo.git/?searchword+-v+--grace+0
			GET /demo.git/diff/?id=main~1
			GET /demo.git/commit/?id=v1
			GET /nosuch.git/
			GET /demo.git/tree/nosuchfile
			HEAD /demo.git/
			GET /demo.git/atom/
			GET /demo.git/plain/data/blob.bin?id=v1
			GET /demo.git/snapshot/demo-1.tar.gz
		EOF
		;;
	esac
}

# app_fetch MPM FORM APP METHOD PATH OUT: the response in OUT.h (status line
# and headers, less Date and the framing: Content-Length, Transfer-Encoding,
# Connection, Keep-Alive; and less "Vary: X-Form", which Apache adds where the
# test's own config looked at that header) and OUT.b (the body). Prints the status.
app_fetch() {
	local mpm=$1 form=$2 app=$3 method=$4 path=$5 out=$6 args=(-sS --max-time 60 -D "$6.raw" -o "$6.b" -w '%{http_code}')
	[[ $form == direct ]] || args+=(-H "X-Form: $form")
	[[ $method != HEAD ]] || args+=(-I)
	curl "${args[@]}" "$(base_of "$mpm")/$app.cgi$path" 3>&- || return 1
	[[ $method != HEAD ]] || : >"$out.b"
	tr -d '\r' <"$out.raw" | grep -viE '^(date|content-length|transfer-encoding|connection|keep-alive):|^vary: x-form$' >"$out.h"
	rm -f "$out.raw"
	# The volatile parts, all cgit's: its footer names the second the page was
	# made, and its Last-Modified and Expires headers count from that second.
	[[ $app == cgit ]] || return 0
	sed -i -E 's/^(Last-Modified|Expires): .*/\1: (time)/' "$out.h"
	sed -i -E "s/(<div class='footer'>generated by .*) at [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4}</\\1 at (time)</" "$out.b"
}

# identity MPM APP: each request of app_urls directly, then through each form
# at once; every form's status, headers and body must equal the direct ones.
# Prints "MPM APP FORM same/total" lines; IDENTITY_FAILS collects the differences.
identity() {
	local mpm=$1 app=$2 method path n=0 form d=$SITE/state/id-$1-$2 st pids
	declare -A same=()
	mkdir -p "$d"
	while read -r method path; do
		((n++ < 40)) || break
		app_fetch "$mpm" direct "$app" "$method" "$path" "$d/$n.direct" >"$d/$n.direct.code" ||
			{ IDENTITY_FAILS+="$mpm $app direct $method $path: curl failed"$'\n'; continue; }
		pids=()
		for form in "${APP_FORMS[@]}"; do
			app_fetch "$mpm" "$form" "$app" "$method" "$path" "$d/$n.$form" >"$d/$n.$form.code" &
			pids+=($!)
		done
		wait "${pids[@]}" || true
		for form in "${APP_FORMS[@]}"; do
			if cmp -s "$d/$n.direct.code" "$d/$n.$form.code" && cmp -s "$d/$n.direct.h" "$d/$n.$form.h" &&
				cmp -s "$d/$n.direct.b" "$d/$n.$form.b"; then
				same[$form]=$((${same[$form]:-0} + 1))
			else
				IDENTITY_FAILS+="$mpm $app $form $method $path: status $(cat "$d/$n.direct.code") vs $(cat "$d/$n.$form.code" 2>/dev/null)"$'\n'
				IDENTITY_FAILS+="$(diff "$d/$n.direct.h" "$d/$n.$form.h" | head -n 10)"$'\n'
				IDENTITY_FAILS+="$(cmp "$d/$n.direct.b" "$d/$n.$form.b" 2>&1; diff <(head -c 3000 "$d/$n.direct.b") <(head -c 3000 "$d/$n.$form.b") | head -n 10)"$'\n'
			fi
		done
		st=$(cat "$d/$n.direct.code")
		echo "$mpm $app direct $method $path -> $st $(wc -c <"$d/$n.direct.b")" >>"$SITE/state/identity.log"
	done < <(app_urls "$app")
	for form in "${APP_FORMS[@]}"; do
		echo "$mpm $app $form ${same[$form]:-0}/$n"
	done
}

# app_no_cgiguard_errors: no line from cgiguard itself in the server's error log
# since the test began. Apache prefixes a CGI's stderr with "stderr from PATH:",
# and in the handler form PATH is cgiguard's: what the application itself
# writes there (gitweb's warnings) is not cgiguard's.
app_no_cgiguard_errors() {
	local new
	new=$(errlog_since | sed -E 's/stderr from [^ ]*: //' | grep -E 'cgiguard(\[[0-9]+\])?:') || true
	[[ -z $new ]] || fail "cgiguard in the server's error log:" "$new"
}

# --- (b) the client leaves a large snapshot -------------------------------------

large_snapshot() {
	case $1 in
	gitweb) echo "/?p=demo.git;a=snapshot;h=main;sf=tgz" ;;
	cgit) echo "/demo.git/snapshot/demo-main.tar.gz" ;;
	esac
}

# abandon_trial MPM APP FORM: download the large snapshot (~$LARGE_SNAPSHOT_MB
# MB) at 2 MB/s, leave after 1 MB, then poll until nothing of the request runs.
# Prints "MPM APP FORM: ran=COMMS... ended_ms=N" (-1: something still runs
# after 40 s); with cgiguard the log must gain event=abandoned for it.
abandon_trial() {
	local mpm=$1 app=$2 form=$3 out=$SITE/state/abandon.out curl_pid ran t0 ended=-1 args=()
	[[ $form == direct ]] || args+=(-H "X-Form: $form")
	rm -f "$out"
	spawn curl -sS --max-time 60 --limit-rate 2M "${args[@]}" -o "$out" "$(base_of "$mpm")/$app.cgi$(large_snapshot "$app")" 2>/dev/null
	curl_pid=$!
	poll 20 size_at_least "$out" 1048576 || { stop_pid "$curl_pid" 5; wait "$curl_pid" || true; fail "$mpm $app $form: no MB of the snapshot within 20 s"; return 1; }
	ran=$(leftovers | awk '{print $3}' | sort | uniq -c | awk '{printf "%s%s", sep, $2 ($1 > 1 ? "x" $1 : ""); sep = ","}')
	t0=$(now_ms)
	kill -KILL "$curl_pid"
	wait "$curl_pid" 2>/dev/null || true
	poll 40 no_leftovers && ended=$(($(now_ms) - t0))
	echo "$mpm $app $form: ran=$ran ended_ms=$ended"
}
size_at_least() { [[ -e $1 ]] && (($(stat -c %s "$1") >= $2)); }

# --- framing: Content-Length on small responses -----------------------------------

# Apache sends a Content-Length only when the CGI's EOF is already there when
# it first reads past the body; else chunks (HTTP/1.1) or closes (HTTP/1.0).
FRAMING_PATH=/cgit.cgi/demo.git/plain/README
FRAMING_N=${CGIGUARD_FRAMING_N:-60}

# framing_counts MPM PROTO: FRAMING_N rounds of cgit's 90-byte README, each
# round directly and through each form in turn, on one curl (HTTP/1.1: one
# kept-alive connection), so that the forms and the control share the
# machine's moment. Prints "FORM WITH TOTAL" per form, direct first.
framing_counts() {
	local mpm=$1 proto=$2 url args=() i form
	url=$(base_of "$mpm")$FRAMING_PATH
	for ((i = 0; i < FRAMING_N; i++)); do
		for form in direct "${APP_FORMS[@]}"; do
			((${#args[@]} == 0)) || args+=(--next)
			args+=("$proto" -sS --max-time 60 -D - -o /dev/null -w 'form %{url_effective}\n')
			[[ $form == direct ]] || args+=(-H "X-Form: $form")
			args+=("$url?form=$form")
		done
	done
	curl "${args[@]}" 3>&- | tr -d '\r' |
		awk -v forms="direct ${APP_FORMS[*]}" '
			tolower($0) ~ /^content-length:/ { cl = 1 }
			$1 == "form" { sub(/.*form=/, "", $2); n[$2]++; c[$2] += cl; cl = 0 }
			END { k = split(forms, f, " "); for (i = 1; i <= k; i++) print f[i], c[f[i]] + 0, n[f[i]] + 0 }'
}

# --- (c) clean-env and pass-env ----------------------------------------------------

CLEAN_FORMS=(handler shebang-policy wrapper-policy)

# app_broken MPM FORM APP: the app answers without its configuration (Apache's
# SetEnv stripped): gitweb with Debian's /etc/gitweb.conf knows no demo.git,
# cgit with /etc/cgitrc has no repository.
app_broken() {
	local out=$SITE/state/clean.$1.$2.$3
	case $3 in
	gitweb) app_fetch "$1" "$2" gitweb GET "/?p=demo.git;a=summary" "$out" >/dev/null && grep -q '404 - No such project' "$out.b" ;;
	cgit) app_fetch "$1" "$2" cgit GET / "$out" >/dev/null && grep -q 'No repositories found' "$out.b" ;;
	esac
}
# app_works MPM FORM APP: the same request answered as directly.
app_works() {
	local out=$SITE/state/clean.$1.$2.$3 path
	[[ $3 == gitweb ]] && path="/?p=demo.git;a=summary" || path=/
	app_fetch "$1" direct "$3" GET "$path" "$out.direct" >"$out.direct.code" &&
		app_fetch "$1" "$2" "$3" GET "$path" "$out" >"$out.code" &&
		cmp -s "$out.direct.code" "$out.code" && cmp -s "$out.direct.h" "$out.h" && cmp -s "$out.direct.b" "$out.b"
}

# clean_env_case WANT FORMS LINE_OPTS POLICY_LINE...: the #! and wrapper forms
# with LINE_OPTS added, the policy with the lines; every app through each of
# FORMS (a list; both servers) must be WANT (works or broken). Prints one line.
clean_env_case() {
	local want=$1 forms=$2 opts=$3 mpm app form bad=
	shift 3
	APP_SHEBANG_EXTRA=$opts make_app_forms
	apps_policy "$@"
	for mpm in prefork event; do
		for app in "${APPS[@]}"; do
			for form in $forms; do
				"app_$want" "$mpm" "$form" "$app" || bad+=" $mpm/$app/$form"
			done
		done
	done
	echo "policy: $(IFS=,; echo "${*:-roots only}"); line: ${opts:-(none)}; forms: $forms: $want${bad:+; not so:$bad}"
	[[ -z $bad ]]
}
