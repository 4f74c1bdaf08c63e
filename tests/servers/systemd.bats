#!/usr/bin/env bats
# Debian's own apache2.service and lighttpd.service under a real systemd (a
# booted Debian 12 container, systemd.bash), with the drop-ins and the
# lighttpd snippet cut from README.md's "Stopping the server under systemd".
# Every case runs on both cgroup layouts: unified (v2) and legacy (v1, where
# systemd's own hierarchy is name=systemd). The seed (scenarios.bash) is
# /usr/lib/cgi-bin/seed.cgi, guarded by its #! line, run by Apache (mpm_event,
# mod_cgid) as www-data on 127.0.0.1:80 and by lighttpd on 127.0.0.1:8080.
# Needs root, systemd-nspawn, debootstrap (the first run builds the root:
# deb.debian.org), and a built ./cgiguard (make install puts it inside).

load lib
load systemd

# The drop-in README.md showed before: a drain on every stop, restarts
# included, and systemd's SIGKILL to the whole cgroup after it. The control
# of the restart's downtime.
OLD_APACHE_DROPIN='[Service]
ExecStop=
ExecStop=/usr/sbin/apachectl graceful-stop
ExecStop=/usr/local/bin/cgiguard --drain=35s
TimeoutStopSec=45s'

setup_file() {
	local layout
	export SERVER_NAME=systemd
	sd_need
	[[ -z $SERVER_SKIP ]] || return 0
	need_reaper
	SD_RUN=$(mktemp -d /tmp/cgiguard-systemd.XXXXXX)
	export SD_RUN
	if ! sd_build_root; then
		export SERVER_SKIP="cannot build the Debian 12 root in $SD_CACHE: $SD_ERROR"
		return 0
	fi
	for layout in unified legacy; do
		SD_ERROR=
		if sd_boot "$layout" && sd_install "$layout"; then
			touch "$SD_RUN/$layout/ready"
		else
			echo "${SD_ERROR:-unknown error}" >"$SD_RUN/$layout/error"
		fi
	done
}

teardown_file() {
	local layout rc=0
	[[ -n ${SD_RUN:-} && -d $SD_RUN ]] || return 0
	for layout in unified legacy; do sd_poweroff "$layout" || rc=1; done
	[[ ${CGIGUARD_KEEP_TMP:-0} == 1 ]] && echo "kept $SD_RUN" >&2 || rm -rf "$SD_RUN"
	return $rc
}

setup() {
	if [[ -n ${SERVER_SKIP:-} ]]; then
		[[ ${CGIGUARD_REQUIRE_SERVERS:-0} != 1 ]] || fail "$SERVER_SKIP (CGIGUARD_REQUIRE_SERVERS=1)"
		skip "$SERVER_SKIP"
	fi
}

teardown() {
	# A test that failed half-way leaves no client running.
	local pid
	for pid in ${CLIENTS:-}; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

no_keepers() { [[ -z $(sd_keepers "$L") ]]; }

# use LAYOUT: the test's container (not booted: skip, or fail with
# CGIGUARD_REQUIRE_SERVERS=1), no keeper left by an earlier test, the README's
# drop-ins in place, both servers up; JOURNAL: the journal's cursor now.
use() {
	L=$1
	if [[ ! -e $SD_RUN/$L/ready ]]; then
		local why="the $L container did not boot: $(cat "$SD_RUN/$L/error" 2>/dev/null)"
		[[ ${CGIGUARD_REQUIRE_SERVERS:-0} != 1 ]] || fail "$why (CGIGUARD_REQUIRE_SERVERS=1)"
		skip "$why"
	fi
	poll 40 no_keepers || fail "keepers left by an earlier test: $(sd_keepers "$L")"
	dropins "$(sd_readme_dropin apache2)" "$(sd_readme_dropin lighttpd)"
	sd "$L" systemctl reset-failed
	sd "$L" systemctl start apache2 lighttpd
	sd_wait_http "$L" 80 10 || fail "apache2 does not answer: $(journal apache2)"
	sd_wait_http "$L" 8080 10 || fail "lighttpd does not answer: $(journal lighttpd)"
	JOURNAL=$(sd "$L" journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
	CLIENTS=
}

# dropins APACHE LIGHTTPD: both units' drop-ins (empty: none), one daemon-reload.
dropins() {
	local unit text d
	for unit in apache2 lighttpd; do
		[[ $unit == apache2 ]] && text=$1 || text=$2
		d=$(sd_root "$L")/etc/systemd/system/$unit.service.d
		rm -rf "$d"
		[[ -z $text ]] && continue
		mkdir -p "$d"
		printf '%s\n' "$text" >"$d/cgiguard.conf"
	done
	sd "$L" systemctl daemon-reload
}

# journal UNIT: UNIT's journal since use().
journal() { sd "$L" journalctl -q --no-pager -o short-precise -u "$1" ${JOURNAL:+--after-cursor="$JOURNAL"}; }

# seed PORT ID left|waits: the seed, its client leaving once the CGI is in
# its section (Apache: once the request is abandoned) or staying.
seed() {
	sd_seed_start "$L" "$1" seed.cgi "$2" || return 1
	CLIENTS+=" $SEED_CLIENT"
	[[ $3 == left ]] || return 0
	LEFT_CGI=$SEED_CGI
	kill -TERM "$SEED_CLIENT"
	wait "$SEED_CLIENT" || true
	[[ $1 != 80 ]] || poll 10 sd_abandoned "$L" || fail "Apache never gave up on $2: $(sd "$L" cgiguard --list)"
}

state() { echo "$(sd "$L" systemctl show -P ActiveState "$1") $(sd "$L" systemctl show -P Result "$1")"; }
lines() { grep -c '^progress ' "$SD_RUN/$1.out" 2>/dev/null || true; }
data() { sd_seed_result "$L" "$1"; }
note() { echo "# $L: $*" >&3; }

# --- apache2 ---------------------------------------------------------------------

# stop_with UNIT PORT ID: with the drop-in, a stop waits for a survivor whose
# client left and for a request whose client waits: both data files intact,
# the whole response, the unit stopped cleanly.
stop_with() {
	local unit=$1 port=$2 id=$3
	seed "$port" "$id-left" left
	seed "$port" "$id-waits" waits
	sd_timed "$L" systemctl stop "$unit"
	# The drain held the stop until the CGIs had ended.
	sd_gone "$L" "$LEFT_CGI" && sd_gone "$L" "$SEED_CGI" || fail "stop returned while a CGI still ran"
	sd_client_done "$SEED_CLIENT"
	note "$unit stop: rc $CMD_RC in $CMD_MS ms; left: $(data "$id-left"); waits: $(data "$id-waits"), $(lines "$id-waits")/20 lines; $(state "$unit")"
	((CMD_RC == 0)) || fail "systemctl stop: $CMD_RC: $(journal "$unit")"
	[[ $(data "$id-left") == intact && $(data "$id-waits") == intact ]] || fail "a data file was lost: $(journal "$unit")"
	(($(lines "$id-waits") == 20)) || fail "the waiting client got $(lines "$id-waits") of 20 lines"
	[[ $(state "$unit") == "inactive success" ]] || fail "$unit: $(state "$unit")"
}

# restart_with UNIT PORT ID: with the drop-in, a restart serves again within a
# second while the survivor runs on and keeps its data file.
restart_with() {
	local unit=$1 port=$2 id=$3 running=0
	seed "$port" "$id-left" left
	sd_downtime "$L" "$port" systemctl restart "$unit"
	sd_gone "$L" "$SEED_CGI" || running=1
	note "$unit restart: rc $CMD_RC in $CMD_MS ms, refused for $DOWN_MS ms; the CGI ran on after it: $running; seed $(data "$id-left")"
	((CMD_RC == 0)) || fail "systemctl restart: $CMD_RC: $(journal "$unit")"
	((running == 1)) || fail "the survivor was not left running by the restart"
	((DOWN_MS >= 0 && DOWN_MS <= 1000)) || fail "refused connections for $DOWN_MS ms"
	[[ $(data "$id-left") == intact ]] || fail "the data file was lost: $(journal "$unit")"
	[[ $(state "$unit") == "active success" ]] || fail "$unit: $(state "$unit")"
}

apache_stop_with() { use "$1"; stop_with apache2 80 stop; }
apache_restart() { use "$1"; restart_with apache2 80 restart; }

apache_stop_without() {
	use "$1"
	dropins "" "$(sd_readme_dropin lighttpd)"
	seed 80 nodrop left
	sd_timed "$L" systemctl stop apache2
	note "apache2 stop without the drop-in: rc $CMD_RC in $CMD_MS ms, seed $(data nodrop)"
	[[ $(data nodrop) == corrupt ]] || fail "the control kept the data file: systemd did not kill the keeper"
}

apache_restart_old() {
	use "$1"
	dropins "$OLD_APACHE_DROPIN" "$(sd_readme_dropin lighttpd)"
	seed 80 oldrestart left
	sd_downtime "$L" 80 systemctl restart apache2
	note "apache2 restart, the old drop-in: rc $CMD_RC in $CMD_MS ms, refused for $DOWN_MS ms; seed $(data oldrestart)"
	((DOWN_MS >= 1500)) || fail "the old drop-in's restart refused connections for only $DOWN_MS ms"
}

apache_reload() {
	use "$1"
	seed 80 reload-left left
	seed 80 reload-waits waits
	sd_downtime "$L" 80 systemctl reload apache2
	sd_client_done "$SEED_CLIENT"
	note "apache2 reload: rc $CMD_RC in $CMD_MS ms, refused for $DOWN_MS ms; left: $(data reload-left); waits: $(data reload-waits), $(lines reload-waits)/20 lines"
	((CMD_RC == 0)) || fail "systemctl reload: $CMD_RC"
	[[ $(data reload-left) == intact && $(data reload-waits) == intact ]] || fail "a data file was lost"
	(($(lines reload-waits) == 20)) || fail "the waiting client got $(lines reload-waits) of 20 lines"
	((DOWN_MS == 0)) || fail "refused connections for $DOWN_MS ms"
}

# The README's drop-in with a drain shorter than the seed needs.
apache_drain_runs_out() {
	local j
	use "$1"
	dropins "$(sd_readme_dropin apache2 | sed 's/--drain=35s/--drain=1s/')" "$(sd_readme_dropin lighttpd)"
	seed 80 short left
	sd_timed "$L" systemctl stop apache2
	j=$(journal apache2)
	note "apache2 stop, drain ran out: systemctl stop rc $CMD_RC in $CMD_MS ms; unit $(state apache2); the CGI left running: $(sd_gone "$L" "$SEED_CGI" && echo no || echo yes); seed $(data short)"
	echo "$j" | grep -e cgiguard -e 'apache2.service:' | sed 's/^/  journal: /' >&2
	((CMD_RC == 0)) || fail "systemctl stop: $CMD_RC"
	((CMD_MS < 45000)) || fail "the stop took $CMD_MS ms (TimeoutStopSec=45s)"
	[[ $j == *"cgiguard: still shielded: pid="*"script=/usr/lib/cgi-bin/seed.cgi"* ]] || fail "the journal does not name the request"
	[[ $j == *"status=124"* ]] || fail "the journal does not show --drain's 124"
	[[ $(state apache2) == "failed exit-code" ]] || fail "apache2: $(state apache2)"
	[[ $(data short) == intact ]] || fail "the request the drain gave up on was killed"
}

# cgiguard --list run in apache2.service's cgroup (as ExecStop= commands run).
apache_list_in_unit() {
	use "$1"
	seed 80 list waits
	run sd_in_unit "$L" apache2.service cgiguard --list
	sd_client_done "$SEED_CLIENT"
	note "cgiguard --list in apache2.service: $output"
	echo "/proc/PID/cgroup of an ExecStop= command here:" >&2
	sd_in_unit "$L" apache2.service cat /proc/self/cgroup >&2
	[[ $status -eq 0 && $output == *"script=/usr/lib/cgi-bin/seed.cgi"*" cgroup=/system.slice/apache2.service" ]] ||
		fail "status $status: $output"
}

# A lighttpd request is in another unit: apache2's drain does not wait for it.
apache_drain_other_unit() {
	use "$1"
	seed 8080 other waits
	sd_timed "$L" systemctl stop apache2
	note "apache2 stop while lighttpd has a shielded request: $CMD_MS ms"
	sd_client_done "$SEED_CLIENT"
	((CMD_MS < 2000)) || fail "apache2's stop waited $CMD_MS ms for lighttpd's request"
	[[ $(data other) == intact ]] || fail "lighttpd's data file was lost"
}

# --- lighttpd --------------------------------------------------------------------

lighttpd_stop() { use "$1"; stop_with lighttpd 8080 lstop; }
lighttpd_restart() { use "$1"; restart_with lighttpd 8080 lrestart; }

@test "unified: apache2 stop without the drop-in kills the survivor (control: data file lost)" { apache_stop_without unified; }
@test "unified: apache2 stop with the drop-in: data intact, the waiting client gets its whole response" { apache_stop_with unified; }
@test "unified: apache2 restart with the old drop-in refuses connections while it drains (control)" { apache_restart_old unified; }
@test "unified: apache2 restart with the drop-in serves again within 1 s, the survivor runs on" { apache_restart unified; }
@test "unified: apache2 reload keeps both requests" { apache_reload unified; }
@test "unified: a drain that runs out: journal names the request, stop exits 0, unit failed, request left to its grace" { apache_drain_runs_out unified; }
@test "unified: cgiguard --list in apache2.service shows its cgroup" { apache_list_in_unit unified; }
@test "unified: a lighttpd request does not hold apache2's drain" { apache_drain_other_unit unified; }
@test "unified: lighttpd stop with the drop-in: data intact, the waiting client gets its whole response" { lighttpd_stop unified; }
@test "unified: lighttpd restart serves again within 1 s, the survivor runs on" { lighttpd_restart unified; }

@test "legacy: apache2 stop without the drop-in kills the survivor (control: data file lost)" { apache_stop_without legacy; }
@test "legacy: apache2 stop with the drop-in: data intact, the waiting client gets its whole response" { apache_stop_with legacy; }
@test "legacy: apache2 restart with the drop-in serves again within 1 s, the survivor runs on" { apache_restart legacy; }
@test "legacy: a drain that runs out: journal names the request, stop exits 0, unit failed, request left to its grace" { apache_drain_runs_out legacy; }
@test "legacy: cgiguard --list in apache2.service shows its cgroup" { apache_list_in_unit legacy; }
@test "legacy: a lighttpd request does not hold apache2's drain" { apache_drain_other_unit legacy; }
@test "legacy: lighttpd stop with the drop-in: data intact, the waiting client gets its whole response" { lighttpd_stop legacy; }
@test "legacy: lighttpd restart serves again within 1 s, the survivor runs on" { lighttpd_restart legacy; }
