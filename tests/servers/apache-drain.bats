#!/usr/bin/env bats
# systemd's stop of apache2.service, played in order: the unit's cgroup holds the server,
# every keeper and every CGI in its grace; ExecStop=apachectl graceful-stop; then (our
# drop-in) ExecStop=cgiguard --drain; then, KillMode=mixed, SIGKILL to every process left in
# the cgroup. The seed CGI rewrites its data file for ~4 s: it must come out whole.
# The control: without the drain, the SIGKILL lands mid-rewrite.

load lib
load scenarios
load apache

setup_file() {
	export SERVER_NAME=apache-drain
	need_server "$SERVER_NAME" apache2 curl findmnt
	[[ -n $SERVER_SKIP ]] || need_reaper
	export SERVER_PID=none
}
setup() {
	server_test_setup
	need_cgiguard
	unit_cgroup
	SITE=
}
teardown() {
	[[ -n ${SITE:-} ]] && { apache_stop || true; }
	[[ -n ${CGDIR:-} ]] && { kill_cgroup; poll 5 rmdir "$CGDIR" || echo "cgroup $CGDIR left" >&2; }
	[[ -n ${SITE:-} ]] && { poll 10 no_server_leftovers || true; remove_site; }
	return 0
}

# unit_cgroup: a fresh cgroup v2 group standing for the unit's (CGDIR, CGROUP), and
# $BATS_TEST_TMPDIR/incg CMD...: run CMD inside it, as systemd runs the unit's commands.
unit_cgroup() {
	local mnt
	CGDIR=
	mnt=$(findmnt -n -o TARGET -t cgroup2 | head -n1)
	[[ -n $mnt && -w $mnt/cgroup.procs ]] || skip "no writable cgroup v2 hierarchy"
	CGROUP=/cgiguard-drain-$$-$BATS_TEST_NUMBER
	mkdir "$mnt$CGROUP" || skip "cannot make a cgroup under $mnt"
	CGDIR=$mnt$CGROUP
	INCG=$BATS_TEST_TMPDIR/incg
	printf '#!/bin/sh\necho $$ >"%s/cgroup.procs" || exit 125\nexec "$@"\n' "$CGDIR" >"$INCG"
	chmod 755 "$INCG"
	[[ $("$INCG" sed -n 's/^0:://p' /proc/self/cgroup) == "$CGROUP" ]] ||
		skip "the cgroup v2 paths here are not as the mount shows them"
}

# kill_cgroup: what systemd does last (KillMode=mixed): SIGKILL to every process left.
kill_cgroup() {
	local pid n
	for ((n = 0; n < 20; n++)); do
		[[ -s $CGDIR/cgroup.procs ]] || return 0
		while read -r pid; do kill -KILL "$pid" 2>/dev/null; done <"$CGDIR/cgroup.procs"
		poll 1 test ! -s "$CGDIR/cgroup.procs" && return 0
	done
	fail "processes left in $CGDIR after SIGKILL: $(cat "$CGDIR/cgroup.procs")"
}

# systemd_stop ACTION DRAIN LABEL:PATH...: start the server in the unit's cgroup and a seed
# through each PATH; let the clients leave (CLIENT=leave) or stay; apache2 -k ACTION; with
# DRAIN (a DURATION, or "none") cgiguard --drain=DRAIN; the server's exit; SIGKILL to the
# cgroup. Sets RESULT to "LABEL:intact|corrupt ..." and DRAIN_STATUS.
systemd_stop() {
	local action=$1 drain=$2 spec label path st t0
	shift 2
	APACHE_MPM=prefork APACHE_BIN=$BATS_TEST_TMPDIR/apache2
	printf '#!/bin/sh\nexec "%s" /usr/sbin/apache2 "$@"\n' "$INCG" >"$APACHE_BIN"
	chmod 755 "$APACHE_BIN"
	make_site
	apache_start || fail "apache did not start: $(tail -n 5 "$SITE"/logs/*)"
	grep -qx "0::$CGROUP" "/proc/$SERVER_PID/cgroup" || fail "the server is not in $CGROUP"
	st=$SITE/state
	seeds_inside "$@"
	if [[ ${CLIENT:-leave} == leave ]]; then
		kill -TERM "${SEED_CLIENTS[@]}" 2>/dev/null || true
		# Apache notices at the CGI's next write: each is then abandoned, its keeper in its cgroup.
		poll 5 abandoned_count "$#" || fail "not every seed was abandoned: $(cat "$SITE/logs/cgiguard.log")"
	fi
	t0=$(now_ms)
	"$APACHE_BIN" -f "$SITE/apache2.conf" -k "$action" </dev/null >>"$SITE/logs/start.log" 2>&1 3>&- ||
		fail "apache2 -k $action failed: $(tail -n 3 "$SITE/logs/start.log")"
	DRAIN_STATUS=none
	if [[ $drain != none ]]; then
		"$INCG" "$CGIGUARD" --drain="$drain" </dev/null >"$st/drain.out" 2>"$st/drain.err" 3>&- &&
			DRAIN_STATUS=0 || DRAIN_STATUS=$?
		echo "# --drain=$drain: exit $DRAIN_STATUS after $(($(now_ms) - t0)) ms" >&3
	fi
	# systemd waits for the main process (SIGTERM once ExecStop is done), then kills the rest.
	poll 15 gone "$SERVER_PID" || { kill -TERM "$SERVER_PID"; poll 10 gone "$SERVER_PID"; } ||
		fail "apache2 did not exit"
	kill_cgroup
	wait "${SEED_CLIENTS[@]}" 2>/dev/null || true
	RESULT=
	for spec in "$@"; do
		IFS=: read -r label path <<<"$spec"
		if cmp -s "$st/$label.data" "$SITE/fixtures/seed.expected"; then
			RESULT+="$label:intact "
		else
			RESULT+="$label:corrupt "
		fi
	done
	RESULT=${RESULT% }
	echo "# -k $action, drain $drain: $RESULT" >&3
}
abandoned_count() { (($(grep -c 'event=abandoned' "$SITE/logs/cgiguard.log") >= $1)); }

@test "apache-drain: the control: graceful-stop after the clients left, then SIGKILL to the cgroup: the shielded seeds are cut mid-rewrite" {
	systemd_stop graceful-stop none "sb:/cgi-bin/seed.sb.cgi" "wrap:/wrap-bin/seed.cgi"
	[[ $RESULT == "sb:corrupt wrap:corrupt" ]] || fail "$RESULT"
}

@test "apache-drain: graceful-stop after the clients left, cgiguard --drain, SIGKILL to the cgroup: the seeds are intact" {
	systemd_stop graceful-stop 35s "sb:/cgi-bin/seed.sb.cgi" "wrap:/wrap-bin/seed.cgi"
	[[ $DRAIN_STATUS == 0 ]] || fail "drain: exit $DRAIN_STATUS: $(cat "$SITE/state/drain.err")"
	[[ ! -s $SITE/state/drain.err && ! -s $SITE/state/drain.out ]] || fail "drain said: $(cat "$SITE/state/drain.out" "$SITE/state/drain.err")"
	[[ $RESULT == "sb:intact wrap:intact" ]] || fail "$RESULT"
}

@test "apache-drain: -k stop with the clients waiting (TERM to every CGI), cgiguard --drain, SIGKILL to the cgroup: intact" {
	CLIENT=stay systemd_stop stop 35s "sb:/cgi-bin/seed.sb.cgi" "wrap:/wrap-bin/seed.cgi"
	[[ $DRAIN_STATUS == 0 ]] || fail "drain: exit $DRAIN_STATUS: $(cat "$SITE/state/drain.err")"
	[[ $RESULT == "sb:intact wrap:intact" ]] || fail "$RESULT"
}

@test "apache-drain: a drain shorter than the seed's rewrite: 124 at its DURATION, naming each shielded request" {
	systemd_stop graceful-stop 1s "sb:/cgi-bin/seed.sb.cgi"
	[[ $DRAIN_STATUS == 124 ]] || fail "drain: exit $DRAIN_STATUS"
	grep -q "^cgiguard: still shielded: pid=[0-9]* user=$CGI_USER script=$SITE/htdocs/cgi-bin/seed.sb.cgi state=abandoned .* cgroup=$CGROUP\$" "$SITE/state/drain.err" ||
		fail "drain said: $(cat "$SITE/state/drain.err")"
	[[ $RESULT == "sb:corrupt" ]] || fail "$RESULT"
}
