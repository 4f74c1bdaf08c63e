# tests/servers/systemd.bash: a real systemd as the test peer (systemd.bats).
#
# A Debian 12 root (debootstrap --variant=minbase with systemd, apache2,
# lighttpd...) is built once into $SD_CACHE and reused; each layout boots it
# with systemd-nspawn -b --volatile=overlay (every change goes to a tmpfs and
# is gone at poweroff), systemd as the container's PID 1, in a private network
# namespace with only its own loopback. The host drives it with nsenter; files
# inside are reached as /proc/PID1/root/PATH. The checkout's binary goes in
# with make install (DESTDIR: the container's root); Debian's apache2.service
# and lighttpd.service stay as they are: only drop-ins are added.
#
#   unified  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: cgroup v2 only
#   legacy   SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0: cgroup v1 only (name=systemd)
#
# Knobs (environment):
#   CGIGUARD_SYSTEMD_ROOT    the cached root (default /var/cache/cgiguard-test/bookworm-root)
#   CGIGUARD_DEBIAN_MIRROR   debootstrap's mirror (default http://deb.debian.org/debian)

SD_CACHE=${CGIGUARD_SYSTEMD_ROOT:-/var/cache/cgiguard-test/bookworm-root}
SD_MIRROR=${CGIGUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SD_PACKAGES=systemd,dbus,apache2,lighttpd,curl,procps
SD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Inside the container: Apache (Debian's config, mpm_event + mod_cgid) on
# 127.0.0.1:80, lighttpd on port 8080, the CGIs in /usr/lib/cgi-bin.
SD_SRV=/srv/cgitest

# sd_need: for setup_file: SERVER_SKIP says why this machine cannot boot a container.
sd_need() {
	need_server systemd-nspawn systemd-nspawn nsenter debootstrap curl make
	[[ -z $SERVER_SKIP ]] || return 0
	[[ -d /sys/fs/cgroup ]] || SERVER_SKIP="no /sys/fs/cgroup"
	export SERVER_SKIP
}

# sd_build_root: the cached root, built unless present with the same
# packages: into a new directory beside it, renamed into place only once
# complete, so a half-built root is never used.
sd_build_root() {
	local stamp=$SD_CACHE/.cgiguard-packages tmp old
	[[ -x $SD_CACHE/lib/systemd/systemd && $(cat "$stamp" 2>/dev/null) == "$SD_PACKAGES" ]] && return 0
	mkdir -p "$(dirname "$SD_CACHE")"
	tmp=$(mktemp -d "$SD_CACHE.new.XXXXXX") || return 1
	if ! timeout 900 debootstrap --variant=minbase --include="$SD_PACKAGES" \
		bookworm "$tmp/root" "$SD_MIRROR" </dev/null >"$tmp/debootstrap.log" 2>&1 3>&-; then
		SD_ERROR="debootstrap failed: $(tail -n 5 "$tmp/debootstrap.log")"
		rm -rf "$tmp"
		return 1
	fi
	echo "$SD_PACKAGES" >"$tmp/root/.cgiguard-packages"
	old=
	if [[ -e $SD_CACHE ]]; then
		old=$tmp/old
		mv -T "$SD_CACHE" "$old"
	fi
	mv -T "$tmp/root" "$SD_CACHE"
	rm -rf "$tmp"
}

# The layout's state: $SD_RUN/LAYOUT/{nspawn.pid,pid1,console.log,cgroups}.
sd_dir() { echo "$SD_RUN/$1"; }
sd_pid1() { cat "$SD_RUN/$1/pid1"; }
sd_root() { echo "/proc/$(sd_pid1 "$1")/root"; }

# sd LAYOUT CMD...: run CMD inside the container, in all its namespaces, as root.
sd() {
	local layout=$1
	shift
	nsenter -t "$(sd_pid1 "$layout")" -a -- /usr/bin/env -i PATH=$SD_PATH LANG=C.UTF-8 "$@" 3>&-
}

# sd_net LAYOUT CMD...: run the host's CMD in the container's network namespace
# only (the clients: curl, with files on the host); exec, so $! is CMD's pid.
sd_net() {
	local layout=$1
	shift
	exec nsenter -t "$(sd_pid1 "$layout")" -n -- "$@"
}

# sd_host_cgroups: the host's cgroup hierarchies systemd-nspawn uses: the v2
# one and the v1 name=systemd one, where mounted.
sd_host_cgroups() {
	local d
	for d in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
		case $(stat -f -c %T "$d" 2>/dev/null) in
		cgroup2fs) echo "$d" ;;
		cgroupfs) [[ $d == */systemd ]] && echo "$d" ;;
		esac
	done
}

# sd_boot LAYOUT: boot the cached root; returns once systemd has finished
# booting (or fails, with SD_ERROR). systemd-nspawn runs in a cgroup of its
# own beneath each host hierarchy (with --keep-unit it makes "payload" and
# "supervisor" next to itself), removed by sd_poweroff.
sd_boot() {
	local layout=$1 dir unified cgs=() d nspawn pid1= state
	dir=$SD_RUN/$layout
	mkdir -p "$dir"
	case $layout in
	unified) unified=1 ;;
	legacy) unified=0 ;;
	*) SD_ERROR="unknown layout $layout"; return 1 ;;
	esac
	for d in $(sd_host_cgroups); do
		mkdir -p "$d/cgiguard-test.$layout.$$" && cgs+=("$d/cgiguard-test.$layout.$$")
	done
	printf '%s\n' "${cgs[@]}" >"$dir/cgroups"
	(
		close_fds
		for d in "${cgs[@]}"; do echo "$BASHPID" >"$d/cgroup.procs"; done
		exec env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=$unified systemd-nspawn -q -D "$SD_CACHE" \
			-b --volatile=overlay --private-network --register=no --keep-unit \
			-M "cgiguard-$layout" --console=read-only
	) </dev/null >"$dir/console.log" 2>&1 &
	nspawn=$!
	echo "$nspawn" >"$dir/nspawn.pid"
	# The container's PID 1 is systemd-nspawn's child.
	poll 20 sd_child_of "$nspawn" >/dev/null || { SD_ERROR="no container PID 1: $(tail -n 5 "$dir/console.log")"; return 1; }
	pid1=$(sd_child_of "$nspawn")
	poll 10 grep -qx systemd "/proc/$pid1/comm" || { SD_ERROR="PID 1 is not systemd: $(cat "/proc/$pid1/comm")"; return 1; }
	echo "$pid1" >"$dir/pid1"
	poll 30 test -S "/proc/$pid1/root/run/systemd/private" || { SD_ERROR="systemd did not start: $(tail -n 10 "$dir/console.log")"; return 1; }
	# is-system-running --wait: until the boot is done (running, or degraded).
	state=$(timeout 90 nsenter -t "$pid1" -a -- /usr/bin/env -i PATH=$SD_PATH systemctl is-system-running --wait 2>&1 3>&-) || true
	[[ $state == running || $state == degraded ]] || { SD_ERROR="boot did not finish ($state): $(tail -n 10 "$dir/console.log")"; return 1; }
}

sd_child_of() {
	local pid
	pid=$(ps -o pid= --ppid "$1" | head -n 1)
	[[ -n ${pid// /} ]] && echo "${pid// /}"
}

# sd_poweroff LAYOUT: SIGTERM to systemd-nspawn (a clean poweroff of the
# container), SIGKILL to it and the container's PID 1 after 30 s; then the
# cgroups it ran in are removed.
sd_poweroff() {
	local dir=$SD_RUN/$1 nspawn pid1 d rc=0
	[[ -s $dir/nspawn.pid ]] || return 0
	nspawn=$(cat "$dir/nspawn.pid")
	pid1=$(cat "$dir/pid1" 2>/dev/null) || true
	if alive "$nspawn"; then
		kill -TERM "$nspawn" 2>/dev/null || true
		if ! poll 30 gone "$nspawn"; then
			echo "systemd-nspawn $nspawn ignored SIGTERM for 30 s: killed" >&2
			rc=1
			[[ -z $pid1 ]] || kill -KILL "$pid1" 2>/dev/null || true
			kill -KILL "$nspawn" 2>/dev/null || true
			poll 10 gone "$nspawn" || true
		fi
	fi
	wait "$nspawn" 2>/dev/null || true
	while read -r d; do
		[[ -d $d ]] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || {
			echo "cgroup $d not removed: $(find "$d" -name cgroup.procs -exec cat {} +)" >&2
			rc=1
		}
	done <"$dir/cgroups"
	rm -f "$dir/nspawn.pid"
	return $rc
}

# --- the site inside -----------------------------------------------------------

# sd_install LAYOUT: the checkout's cgiguard as /usr/local/bin/cgiguard, the
# CGIs, Apache with mod_cgi(d) on 127.0.0.1:80, lighttpd on 8080 with the
# README's configuration, both restarted.
sd_install() {
	local layout=$1 root src
	root=$(sd_root "$layout")
	make -s -C "$REPO" install DESTDIR="$root" PREFIX=/usr/local >"$SD_RUN/$layout/install.log" 2>&1 3>&- ||
		{ SD_ERROR="make install: $(tail -n 5 "$SD_RUN/$layout/install.log")"; return 1; }
	mkdir -p "$root$SD_SRV/state" "$root$SD_SRV/fixtures"
	sd "$layout" chown www-data: "$SD_SRV/state"
	for ((src = 1; src <= 200; src++)); do
		printf 'record %03d: the data file is whole only if this file has 200 records\n' "$src"
	done >"$root$SD_SRV/fixtures/seed.expected"
	# seed.cgi: guarded by its #! line; seed-plain.cgi: the control.
	sed -e "s|@STATE@|$SD_SRV/state|g" -e "s|@FIXTURES@|$SD_SRV/fixtures|g" "$SERVERS_DIR/cgi/seed.cgi" \
		>"$root/usr/lib/cgi-bin/seed-plain.cgi"
	{
		echo "#!/usr/local/bin/cgiguard -g 30 /bin/sh"
		tail -n +2 "$root/usr/lib/cgi-bin/seed-plain.cgi"
	} >"$root/usr/lib/cgi-bin/seed.cgi"
	chmod 755 "$root"/usr/lib/cgi-bin/*.cgi
	echo ok >"$root/var/www/html/ready.txt"
	# lighttpd: mod_cgi (lighty-enable-mod cgi) and the README's snippet (the
	# graceful shutdown's timeout); for the test only, port 8080 (Apache has 80).
	sd_readme_block /etc/lighttpd/conf-enabled/90-cgiguard.conf conf >"$root/etc/lighttpd/conf-enabled/90-cgiguard.conf" ||
		{ SD_ERROR="no /etc/lighttpd/conf-enabled/90-cgiguard.conf block in README.md"; return 1; }
	echo 'server.port := 8080' >"$root/etc/lighttpd/conf-enabled/95-test-port.conf"
	sd "$layout" lighty-enable-mod cgi >/dev/null || { SD_ERROR="lighty-enable-mod cgi failed"; return 1; }
	# Apache: Debian's config with CGIs on (a2enmod cgi: mod_cgid under
	# mpm_event), on 127.0.0.1 only, so that lighttpd may have [::]:80.
	sed -i 's/^Listen 80$/Listen 127.0.0.1:80/' "$root/etc/apache2/ports.conf"
	sd "$layout" a2enmod -q cgi >/dev/null 2>&1 || { SD_ERROR="a2enmod cgi failed"; return 1; }
	sd "$layout" systemctl reset-failed
	sd "$layout" systemctl restart apache2 lighttpd ||
		{ SD_ERROR="restart: $(sd "$layout" journalctl -n 20 --no-pager -u apache2 -u lighttpd)"; return 1; }
	sd_wait_http "$layout" 80 10 && sd_wait_http "$layout" 8080 10 ||
		{ SD_ERROR="no answer: $(sd "$layout" journalctl -n 20 --no-pager -u apache2 -u lighttpd)"; return 1; }
}

# sd_readme_block PATH LANG: the fenced LANG block that follows the README
# line "PATH:" (the docs are what is tested).
sd_readme_block() {
	awk -v f="$1:" -v lang="$2" '$0 == f { on = 1; next } on && $0 == "```" lang { inblock = 1; next }
		inblock && /^```$/ { found = 1; exit } inblock { print } END { exit !found }' "$REPO/README.md"
}

# sd_dropin LAYOUT UNIT [TEXT]: /etc/systemd/system/UNIT.service.d/cgiguard.conf
# with TEXT (none: no drop-in), then daemon-reload.
sd_dropin() {
	local layout=$1 unit=$2 text=${3-} d
	d=$(sd_root "$layout")/etc/systemd/system/$unit.service.d
	rm -rf "$d"
	if [[ -n $text ]]; then
		mkdir -p "$d"
		printf '%s\n' "$text" >"$d/cgiguard.conf"
	fi
	sd "$layout" systemctl daemon-reload
}

# The drop-in as README.md shows it.
sd_readme_dropin() { sd_readme_block "/etc/systemd/system/$1.service.d/cgiguard.conf" ini; }

# sd_http LAYOUT PORT PATH: the status of a GET, 000 for no connection.
sd_http() {
	nsenter -t "$(sd_pid1 "$1")" -n -- curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$2$3" 3>&- || true
}
sd_serves() { [[ $(sd_http "$1" "$2" /ready.txt) == 200 ]]; }
sd_wait_http() { poll "$3" sd_serves "$1" "$2"; }

# sd_unit_cgroup LAYOUT UNIT: the host's path of UNIT's cgroup (in the v2
# hierarchy, or name=systemd for legacy).
sd_unit_cgroup() {
	local d
	while read -r d; do
		[[ -d $d/payload/system.slice/$2 ]] || continue
		[[ $1 == legacy && $d != /sys/fs/cgroup/systemd/* ]] && continue
		[[ $1 != legacy && $d == /sys/fs/cgroup/systemd/* ]] && continue
		echo "$d/payload/system.slice/$2"
		return 0
	done <"$SD_RUN/$1/cgroups"
	return 1
}

# sd_in_unit LAYOUT UNIT CMD...: CMD inside the container, in UNIT's cgroup
# (as its ExecStop= commands are).
sd_in_unit() {
	local layout=$1 unit=$2 cg
	shift 2
	cg=$(sd_unit_cgroup "$layout" "$unit") || { echo "no cgroup for $unit" >&2; return 1; }
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 1
		exec nsenter -t "$(sd_pid1 "$layout")" -a -- /usr/bin/env -i PATH=$SD_PATH "$@" 3>&-
	)
}

# --- the seed, under systemd ---------------------------------------------------

# sd_seed_start LAYOUT PORT CGI ID: a client for the seed at /cgi-bin/CGI?t=ID
# (its pid in SEED_CLIENT, its body in $SD_RUN/ID.out); returns once the CGI is
# inside its truncate..write section (its pid, in the container, in SEED_CGI).
sd_seed_start() {
	local layout=$1 port=$2 cgi=$3 id=$4 st
	st=$(sd_root "$layout")$SD_SRV/state
	cp "$(sd_root "$layout")$SD_SRV/fixtures/seed.expected" "$st/$id.data"
	: >"$st/$id.log"
	chmod 666 "$st/$id.data" "$st/$id.log"
	(
		close_fds
		sd_net "$layout" curl -sS -N --max-time 60 -o "$SD_RUN/$id.out" "http://127.0.0.1:$port/cgi-bin/$cgi?t=$id"
	) 2>"$SD_RUN/$id.curl" &
	SEED_CLIENT=$!
	poll 15 grep -q '^inside ' "$st/$id.log" || { fail "seed $id never reached its section: $(cat "$SD_RUN/$id.curl")"; return 1; }
	SEED_CGI=$(awk '$1 == "inside" {print $2}' "$st/$id.log")
}

# sd_seed_result LAYOUT ID: once the CGI is gone (at most 40 s), intact or corrupt.
sd_seed_result() {
	local layout=$1 id=$2 st cgi
	st=$(sd_root "$layout")$SD_SRV/state
	cgi=$(awk '$1 == "inside" {print $2}' "$st/$id.log")
	poll 40 sd_gone "$layout" "$cgi" || echo "seed $id: the CGI still runs" >&2
	cmp -s "$st/$id.data" "$(sd_root "$layout")$SD_SRV/fixtures/seed.expected" && echo intact || echo corrupt
}

# sd_gone LAYOUT PID: no process PID (a container pid) left, or a zombie.
sd_gone() {
	local st
	st=$(awk '{sub(/^.*\) /, ""); print $1}' "$(sd_root "$1")/proc/$2/stat" 2>/dev/null) || return 0
	[[ -z $st || $st == Z ]]
}

# sd_client_done PID: wait for a client (at most 60 s, then killed).
sd_client_done() {
	poll 60 gone "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null || true
}

# sd_keepers LAYOUT: the cgiguard keepers running in the container (ps's args).
sd_keepers() {
	sd "$1" ps -e -o pid=,args= | grep 'cgiguard: keeper' | grep -v grep || true
}

# sd_abandoned LAYOUT: cgiguard --list shows an abandoned request (the server
# has given up on it: Apache notices a client that left at its next write).
sd_abandoned() { [[ $(sd "$1" cgiguard --list) == *state=abandoned* ]]; }

# sd_timed LAYOUT CMD...: CMD inside; its status in CMD_RC, its time in CMD_MS.
sd_timed() {
	local t0
	t0=$(now_ms)
	CMD_RC=0
	sd "$@" || CMD_RC=$?
	CMD_MS=$(($(now_ms) - t0))
}

# sd_downtime LAYOUT PORT CMD...: sd_timed CMD while a client asks for
# /ready.txt every 50 ms, until the server answers again after CMD (at most
# 20 s); DOWN_MS: from the first request that failed to the first answered
# after it (0: none failed; -1: never answered again).
sd_downtime() {
	local layout=$1 port=$2 out=$SD_RUN/downtime.$$ stop=$SD_RUN/downtime.$$.stop poller
	shift 2
	rm -f "$stop"
	(
		close_fds
		n=0
		while ((n++ < 800)) && [[ ! -e $stop ]]; do
			echo "$(now_ms) $(sd_http "$layout" "$port" /ready.txt)"
			sleep 0.05
		done
	) >"$out" &
	poller=$!
	sleep 0.2
	sd_timed "$layout" "$@"
	sd_wait_http "$layout" "$port" 20 || true
	sleep 0.2
	touch "$stop"
	poll 10 gone "$poller" || kill -TERM "$poller" 2>/dev/null
	wait "$poller" 2>/dev/null || true
	DOWN_MS=$(awk '$2 != 200 && !f { f = $1 } $2 == 200 && f && !e { e = $1 }
		END { print !f ? 0 : !e ? -1 : e - f }' "$out")
	rm -f "$out" "$stop"
}
