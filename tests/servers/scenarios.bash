# tests/servers/scenarios.bash: the scenarios every server's bats file runs.
# Needs lib.bash, a running server ($BASE) and the site ($SITE).

# --- the seed ------------------------------------------------------------------

# seed_trial PATH ID: one request to the seed CGI at PATH. The client leaves
# once the CGI is inside its truncate..write section; for the silent variant
# (a PATH with "silent" in it) the client stays and only the server may give
# up. Prints one line:
#   ID RESULT term=0|1 done=0|1 term_ms=N end_ms=N
# RESULT is intact or corrupt (the data file against its full content), or
# nostart; term_ms and end_ms count from the CGI's entering the section.
# With SEED_RELEASE=1 (a forking server: Apache prefork or itk) the line ends
# with " release_ms=N done_ms=N left_ms=N": when the process the server forked
# for the request (the CGI, or cgiguard's front) was reaped, which releases
# the server's worker; when the CGI noted its end (-1: it did not); when the
# client left (the silent variant: 0, the CGI is silent from its start).
seed_trial() {
	local path=$1 id=$2 st=$SITE/state curl_pid cgi_pid t0 t_end result term=0 done=0 term_ms=-1
	local forked= forked_start= t_left t_rel=-1 release=
	install -o "$CGI_USER" -m 644 "$SITE/fixtures/seed.expected" "$st/$id.data"
	install -o "$CGI_USER" -m 644 /dev/null "$st/$id.log"
	spawn curl -sS -N --max-time 60 -o "$st/$id.out" "$BASE$path?t=$id" 2>"$st/$id.curl"
	curl_pid=$!
	if ! poll 15 grep -q '^inside ' "$st/$id.log"; then
		kill -TERM "$curl_pid" 2>/dev/null || true
		wait "$curl_pid" || true
		echo "$id nostart term=0 done=0 term_ms=-1 end_ms=-1"
		return 0
	fi
	cgi_pid=$(awk '$1 == "inside" {print $2}' "$st/$id.log")
	if [[ ${SEED_RELEASE:-0} == 1 ]]; then
		forked=$(server_child "$cgi_pid") || true
		[[ -z $forked ]] || forked_start=$(start_time "$forked") || true
	fi
	t_left=$(now_ms)
	[[ $path == *silent* ]] || kill -TERM "$curl_pid" 2>/dev/null || true
	wait "$curl_pid" || true
	if [[ -n $forked ]]; then
		poll 40 reaped "$forked" "$forked_start" && t_rel=$(now_ms)
	fi
	poll 40 gone "$cgi_pid" || true
	t_end=$(now_ms)
	t0=$(awk '$1 == "inside" {printf "%.0f", $3 * 1000; exit}' "$st/$id.log")
	cmp -s "$st/$id.data" "$SITE/fixtures/seed.expected" && result=intact || result=corrupt
	grep -q '^done ' "$st/$id.log" && done=1
	if grep -q '^term ' "$st/$id.log"; then
		term=1
		term_ms=$(awk -v t0="$t0" '$1 == "term" {printf "%.0f", $3 * 1000 - t0; exit}' "$st/$id.log")
	fi
	if [[ ${SEED_RELEASE:-0} == 1 ]]; then
		[[ $path != *silent* ]] || t_left=$t0
		release=" release_ms=$(since "$t_rel") done_ms=$(awk -v t0="$t0" '$1 == "done" {printf "%.0f", $3 * 1000 - t0; f = 1} END {if (!f) print -1}' "$st/$id.log") left_ms=$((t_left - t0))"
	fi
	echo "$id $result term=$term done=$done term_ms=$term_ms end_ms=$((t_end - t0))$release"
}

# server_child PID: the process a server forked in PID's line of ancestors: the
# one whose parent is the server's (SERVER_COMMS).
server_child() {
	local pid=$1 ppid n
	for ((n = 0; n < 10; n++)); do
		ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
		[[ -n $ppid ]] && ((ppid > 1)) || return 0
		[[ " ${SERVER_COMMS:-} " == *" $(cat "/proc/$ppid/comm" 2>/dev/null) "* ]] && { echo "$pid"; return 0; }
		pid=$ppid
	done
}
# start_time PID: its start time (clock ticks since boot), to tell it from a later process with its pid.
start_time() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }
# reaped PID START: gone from /proc (a zombie is not yet: its parent has not
# waited), or its pid now another process's (many forks wrap pid_max quickly).
reaped() { [[ $(start_time "$1") != "$2" ]]; }
# since T_MS: ms from the trial's t0 to T_MS, or -1 for none.
since() { (($1 < 0)) && echo -1 || echo $(($1 - t0)); }

# seed_trials FORM:CGIGUARD PATH: run $TRIALS trials, $JOBS at a time. Leaves
# the per-trial lines in $SITE/state/FORM-CGIGUARD.trials and records the counts
# in $RESULTS.
seed_trials() {
	local label=$1 path=$2 out=$SITE/state/${1/:/-}.trials i j pids rc
	: >"$out"
	for ((i = 0; i < TRIALS; i += JOBS)); do
		pids=()
		for ((j = i; j < TRIALS && j < i + JOBS; j++)); do
			seed_trial "$path" "${label/:/-}-$j" >"$out.$j" &
			pids+=($!)
		done
		for ((j = i; j < TRIALS && j < i + JOBS; j++)); do
			rc=0
			wait "${pids[j - i]}" || rc=$?
			# A trial that printed nothing says how it ended (a failed command: 1; a signal: 128+N).
			[[ -s $out.$j ]] || echo "${label/:/-}-$j lost rc=$rc" >"$out.$j"
			cat "$out.$j" >>"$out"
			rm -f "$out.$j"
		done
		poll 30 no_leftovers || true
	done
	seed_counts "$out"
	record_result "$label"
}

# seed_counts TRIALS_FILE: set INTACT, CORRUPT, NOSTART, TERMS.
seed_counts() {
	INTACT=$(count ' intact ' "$1")
	CORRUPT=$(count ' corrupt ' "$1")
	NOSTART=$(count ' nostart ' "$1")
	TERMS=$(count ' term=1 ' "$1")
}

count() { grep -c -e "$1" "$2" || true; }

# record_result FORM:CGIGUARD: replace that row of $RESULTS (one per server and form).
record_result() {
	local label=$1 server=${SERVER_NAME:?} row ms
	ms=$(awk '{sub("end_ms=", "", $6); s += $6; n++} END {if (n) printf "%.1f", s / n / 1000}' "$SITE/state/${label/:/-}.trials")
	row=$(printf '%-18s %-12s %-8s %6s %6s %7s %7s %9s' "$server" "${label%%:*}" "${label##*:}" \
		"$TRIALS" "$INTACT" "$CORRUPT" "$TERMS" "${ms}s")
	(
		flock -x 9
		{
			echo "# cgiguard real-server seed trials: data file intact or corrupt after the client left"
			echo "# mid-rewrite (forms silent*: after the server timed out on a CGI that wrote nothing)."
			echo "# Written by tests/servers/*.bats; last update $(date -u +%Y-%m-%dT%H:%M:%SZ)."
			echo "# term: trials where the CGI noted a TERM. end: mean time from the CGI's truncate to its end."
			printf '%-18s %-12s %-8s %6s %6s %7s %7s %9s\n' server form cgiguard trials intact corrupt term end
			{
				grep -v '^#' "$RESULTS" 2>/dev/null | grep -v '^server ' |
					awk -v s="$server" -v f="${label%%:*}" '!($1 == s && $2 == f)'
				echo "$row"
			} | sort -k1,1 -k3b,3r -k2b,2
		} >"$RESULTS.new"
		mv "$RESULTS.new" "$RESULTS"
	) 9>>/tmp/cgiguard-results.lock
}

# seeds_inside SPEC...: each SPEC is "LABEL PATH ..." or "LABEL:PATH" (the
# rest is the caller's): a fresh data file and note log for LABEL, and a client
# for PATH?t=LABEL, all at once (their pids in SEED_CLIENTS); returns once every
# CGI is inside its truncate..write section.
seeds_inside() {
	local spec label path rest st=$SITE/state
	SEED_CLIENTS=()
	for spec in "$@"; do
		IFS=': ' read -r label path rest <<<"$spec"
		install -o "$CGI_USER" -m 644 "$SITE/fixtures/seed.expected" "$st/$label.data"
		install -o "$CGI_USER" -m 644 /dev/null "$st/$label.log"
		spawn curl -sS -N --max-time 30 -o "$st/$label.out" "$BASE$path?t=$label" 2>/dev/null
		SEED_CLIENTS+=($!)
	done
	for spec in "$@"; do
		IFS=': ' read -r label path rest <<<"$spec"
		poll 15 grep -q '^inside ' "$st/$label.log" || fail "$label never reached its section"
	done
}

# --- normal responses ------------------------------------------------------------

# fetch PATH [curl args...]: the response as the client sees it (curl decodes
# chunks), less Date and the framing headers: whether Apache sends
# Content-Length or chunks depends on whether the CGI's EOF is already there
# when it first flushes, a race even without cgiguard (headers.cgi: 5 of 20
# chunked under prefork, 17 of 20 under event; through cgiguard always chunked).
fetch() {
	local path=$1
	shift
	curl -sS -i --max-time 120 "$@" "$BASE$path" |
		sed -e '/^Date: /d' -e '/^Content-Length: /d' -e '/^Transfer-Encoding: chunked/d'
}

# same_response PATH_A PATH_B [curl args...]: byte-identical responses, less
# Date and framing.
same_response() {
	local a=$1 b=$2 fa fb
	shift 2
	fa=$(mktemp) fb=$(mktemp)
	fetch "$a" "$@" >"$fa"
	fetch "$b" "$@" >"$fb"
	if ! cmp -s "$fa" "$fb"; then
		echo "responses differ: $a vs $b" >&2
		diff <(head -c 2000 "$fa" | od -c | head -40) <(head -c 2000 "$fb" | od -c | head -40) >&2
		cmp "$fa" "$fb" >&2
		rm -f "$fa" "$fb"
		return 1
	fi
	SAME_SIZE=$(wc -c <"$fa")
	rm -f "$fa" "$fb"
}

# --- response ends when output ends ------------------------------------------

# closeout_trial PATH ID: the CGI closes its output, then works ~5 s. Prints:
#   ID response_ms=N work=done|killed|running
closeout_trial() {
	local path=$1 id=$2 st=$SITE/state t0 t1 body work=running cgi_pid
	install -o "$CGI_USER" -m 644 /dev/null "$st/$id.log"
	t0=$(now_ms)
	body=$(curl -sS --max-time 30 "$BASE$path?t=$id") || true
	t1=$(now_ms)
	[[ $body == "response $id" ]] || echo "unexpected body: $body" >&2
	poll 5 grep -q '^closed ' "$st/$id.log" || true
	cgi_pid=$(awk '$1 == "closed" {print $2}' "$st/$id.log")
	[[ -z $cgi_pid ]] || poll 20 gone "$cgi_pid" || true
	if grep -q '^done ' "$st/$id.log"; then
		work=done
	elif [[ -n $cgi_pid ]] && gone "$cgi_pid"; then
		work=killed
	fi
	echo "$id response_ms=$((t1 - t0)) work=$work"
}

# --- test bodies shared by the bats files --------------------------------------

# test_seed "FORM without|with PATH intact|corrupt [released|held]"...: the
# seed's trials through every form at once (each form's trials $JOBS at a time).
# Then each form's data files must all be intact, or, for a control that the
# server is known to lose (tests/servers/RECIPES.md), at least one corrupt. One line per form
# on fd 3. Without a cgiguard binary only the controls run, and the test is
# skipped. With SEED_RELEASE=1, "released" asks that in every trial the
# server's worker was let go at the abandonment (release_check), "held" that it
# was kept until the CGI ended.
test_seed() {
	local spec form cg path expect worker pids=() specs=() failed=0 f
	for spec in "$@"; do
		read -r form cg path expect worker <<<"$spec"
		[[ $expect == intact || $expect == corrupt ]] ||
			fail "test_seed: '$spec': expect intact or corrupt, not '$expect'"
	done
	for spec in "$@"; do
		[[ $spec == *" with "* && ! -x $CGIGUARD ]] && continue
		specs+=("$spec")
		read -r form cg path expect worker <<<"$spec"
		seed_trials "$form:$cg" "$path" &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	for spec in "${specs[@]}"; do
		read -r form cg path expect worker <<<"$spec"
		f=$SITE/state/$form-$cg.trials
		seed_counts "$f"
		(($(wc -l <"$f") == TRIALS)) || { echo "$form $cg: $(wc -l <"$f") of $TRIALS trials reported" >&2; failed=1; }
		! grep -q ' lost ' "$f" || { echo "$form $cg: a trial ended without its report" >&2; failed=1; }
		echo "# $SERVER_NAME seed $form $cg cgiguard: $INTACT intact, $CORRUPT corrupt of $TRIALS (TERM noted in $TERMS)$(release_summary "$f")" >&3
		[[ -z $worker ]] || release_check "$f" "$worker" "$path" || { echo "$form $cg: the worker was not $worker" >&2; failed=1; }
		sed 's/^/  /' "$f" >&2
		((NOSTART == 0)) || { echo "$form $cg: $NOSTART trials never reached the section" >&2; failed=1; }
		case $expect in
		intact) ((CORRUPT == 0)) || { echo "$form $cg: data file corrupted in $CORRUPT of $TRIALS trials" >&2; failed=1; } ;;
		corrupt) ((CORRUPT > 0)) || { echo "$form $cg: no corruption in $TRIALS trials, though this server kills its CGIs" >&2; failed=1; } ;;
		esac
	done
	((failed == 0)) || fail "seed scenario failed"
	assert_clean
	no_cgiguard_errors
	need_cgiguard
}

# The fields of a trial line (seed_trial) as NAME=VALUE words, for awk.
trial_fields='{ delete v; for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }'

# release_summary TRIALS_FILE: with SEED_RELEASE=1, when the worker was let go
# (ms after the client left; the silent variant: after the CGI's entering its
# section) against when the CGI ended (its own note).
release_summary() {
	[[ ${SEED_RELEASE:-0} == 1 ]] || return 0
	awk "$trial_fields"'
		$2 != "nostart" {
			r = v["release_ms"] < 0 ? "never" : v["release_ms"] - v["left_ms"]
			d = v["done_ms"] < 0 ? "killed" : v["done_ms"] - v["left_ms"]
			s = s (n++ ? ", " : "") r "/" d
		}
		END { printf "; worker released/CGI ended, ms after the client left: %s", s }' "$1"
}

# release_check TRIALS_FILE released|held PATH: in every trial, released: the
# process the server forked for the request was reaped within 1.5 s of the
# client's leaving (the silent variant: 3.5 s of the CGI's entering its
# section, the tests' Apache Timeout being 2 s) and before the CGI ended;
# held: not before the CGI had ended.
release_check() {
	local slack=1500
	[[ $3 != *silent* ]] || slack=3500
	awk -v want="$2" -v slack="$slack" "$trial_fields"'
		$2 == "nostart" { next }
		want == "released" && (v["release_ms"] < 0 || v["release_ms"] - v["left_ms"] > slack ||
			(v["done_ms"] >= 0 && v["release_ms"] >= v["done_ms"])) { print "not released: " $0; bad = 1 }
		want == "held" && (v["done_ms"] < 0 || (v["release_ms"] >= 0 && v["release_ms"] < v["done_ms"])) { print "not held: " $0; bad = 1 }
		END { exit bad }' "$1" >&2
}

# test_identical GUARDED: every normal response through GUARDED (a printf
# pattern, e.g. /cgi-bin/%s.sb.cgi) is byte-identical to the plain CGI's.
test_identical() {
	local guarded=$1 plain=/cgi-bin/%s.cgi p g out
	need_cgiguard
	p=$(printf "$plain" headers) g=$(printf "$guarded" headers)
	same_response "$p?x=1" "$g?x=1"
	same_response "$p?a+b" "$g?a+b"
	same_response "$p?-v+--grace+0+/bin/sh" "$g?-v+--grace+0+/bin/sh"
	same_response "$p" "$g" -X DELETE

	p=$(printf "$plain" binary) g=$(printf "$guarded" binary)
	same_response "$p" "$g"
	curl -sS --max-time 60 "$BASE$g" | cmp - "$SITE/fixtures/binary.bin"

	p=$(printf "$plain" large) g=$(printf "$guarded" large)
	same_response "$p?mb=$LARGE_MB" "$g?mb=$LARGE_MB"
	((SAME_SIZE > LARGE_MB * 1048576)) || fail "large body: only $SAME_SIZE bytes"

	p=$(printf "$plain" post) g=$(printf "$guarded" post)
	same_response "$p" "$g" --data-binary "@$SITE/fixtures/post.bin" -H 'Content-Type: application/octet-stream'
	curl -sS --max-time 60 --data-binary "@$SITE/fixtures/post.bin" -o "$SITE/state/post.out" "$BASE$g"
	out=$(head -n 1 "$SITE/state/post.out")
	[[ $out == "length=$(wc -c <"$SITE/fixtures/post.bin") sha256=$(sha256sum <"$SITE/fixtures/post.bin" | cut -d' ' -f1)" ]] ||
		fail "POST through $g: $out"
	assert_clean
	no_cgiguard_errors
}

# test_closeout PATH:with|without...: the CGI that closes its output, once
# through each PATH, all at once. The client must have the response at once and
# the work after it must complete (with cgiguard: asserted; without: reported
# on fd 3, as each server differs: tests/servers/RECIPES.md).
test_closeout() {
	local arg path guarded id line ms work failed=0 pids=() n=0
	need_cgiguard
	for arg in "$@"; do
		path=${arg%:*} guarded=${arg##*:}
		closeout_trial "$path" "closeout-$n-$guarded" >"$SITE/state/closeout-$n" &
		pids+=($!)
		n=$((n + 1))
	done
	wait "${pids[@]}" || true
	n=0
	for arg in "$@"; do
		path=${arg%:*} guarded=${arg##*:}
		line=$(cat "$SITE/state/closeout-$n")
		n=$((n + 1))
		ms=${line#* response_ms=} ms=${ms%% *} work=${line##*work=}
		echo "# $SERVER_NAME closeout $path: response ${ms} ms, work $work" >&3
		[[ $guarded == with ]] || continue
		((ms < 2000)) || { echo "$path: response took ${ms} ms" >&2; failed=1; }
		[[ $work == done ]] || { echo "$path: the work after the response was $work" >&2; failed=1; }
	done
	((failed == 0)) || fail "closeout failed"
	assert_clean
	no_cgiguard_errors
}

# Lines the server's error log gained during this test that come from cgiguard.
no_cgiguard_errors() {
	local new
	new=$(tail -n +"$((ERRLOG_LINES + 1))" "$SITE/logs/error.log" | grep -E 'cgiguard(\[[0-9]+\])?:') || true
	[[ -z $new ]] || fail "cgiguard in the server's error log:" "$new"
}

# --- streaming ---------------------------------------------------------------------

# stream_trial PATH: fetch the streaming CGI; print, per line, "WRITTEN_MS ARRIVED_MS".
stream_trial() {
	curl -sS -N --max-time 20 "$BASE$1" | while IFS=' ' read -r _ n written; do
		echo "$written $(now_ms)"
	done
}

# test_stream PATH...: through each PATH (all at once) the 6 lines arrive as
# written: each within 300 ms of its writing, the first and last >= 1.5 s apart.
test_stream() {
	local path n=0 failed=0 f lag first last
	for path in "$@"; do
		stream_trial "$path" >"$SITE/state/stream-$n" &
		n=$((n + 1))
	done
	wait
	n=0
	for path in "$@"; do
		f=$SITE/state/stream-$n
		n=$((n + 1))
		(($(wc -l <"$f") == 6)) || { echo "$path: $(wc -l <"$f") lines of 6" >&2; failed=1; continue; }
		lag=$(awk '{l = $2 - $1; if (l > m) m = l} END {print m}' "$f")
		first=$(awk 'NR == 1 {print $2}' "$f") last=$(awk 'END {print $2}' "$f")
		echo "# $SERVER_NAME stream $path: worst lag ${lag} ms, first to last line $((last - first)) ms" >&3
		((lag <= 300)) || { echo "$path: a line arrived $lag ms after it was written" >&2; failed=1; }
		((last - first >= 1500)) || { echo "$path: the lines arrived together ($((last - first)) ms)" >&2; failed=1; }
	done
	((failed == 0)) || fail "streaming failed"
	assert_clean
	no_cgiguard_errors
}

# test_nph GUARDED: the NPH script's response through GUARDED (a printf pattern,
# e.g. /cgi-bin/%s.sb.cgi) is byte-identical to the plain one's, raw.
test_nph() {
	local p=/cgi-bin/nph-hello.cgi g fa fb
	need_cgiguard
	g=$(printf "$1" nph-hello)
	fa=$SITE/state/nph-a fb=$SITE/state/nph-b
	curl -sS -i --raw --max-time 20 "$BASE$p?x+y" >"$fa"
	curl -sS -i --raw --max-time 20 "$BASE$g?x+y" >"$fb"
	head -n 1 "$fa" | grep -q '^HTTP/1\.[01] 203 ' || fail "not run as NPH: $(head -n 3 "$fa")"
	cmp "$fa" "$fb" || fail "NPH responses differ: $p vs $g" "$(diff <(od -c "$fa" | head -20) <(od -c "$fb" | head -20))"
	assert_clean
	no_cgiguard_errors
}
