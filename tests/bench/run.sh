#!/bin/sh
# Paired benchmark of cgiguard against running the CGI directly, against
# the bare late-EOF double-fork shape (bare.c: none of cgiguard's logic) and
# against the wrappers an admin could use instead (env, timeout, tini,
# dumb-init), and of a CGI's stderr against its stdout once the request is
# abandoned.  Each goal is printed with PASS or FAIL beside it.
#
#   sh tests/bench/run.sh ./cgiguard        (make bench)
#
# Builds its helpers (bench.c, cgi.c, bare.c) into tests/bench/out/, prints one table
# and writes it, with the machine it came from, to tests/bench/RESULTS.md.  Every comparison is
# paired: A and B alternate in one run, and the table gives the median of the
# per-pair differences and ratios, with their min and max.
#
# Bounds (environment): BENCH_ROUNDS=1000 BENCH_SECS=25 per-request rounds and
# seconds per CGI; BENCH_BULK_PAIRS=6 (at most 15 s, twice); BENCH_STREAM_PAIRS=3;
# BENCH_FLOOD_PAIRS=4 (at most 15 s);
# BENCH_AB_N=2000 requests (at most BENCH_AB_SECS=8 s) per ab -c 4 run, at
# most BENCH_AB1_SECS=5 s per ab -c 1 run, BENCH_AB_ROUNDS=3;
# BENCH_HERD=1000 abandoned requests whose keepers' memory is summed;
# BENCH_PARTS="req relay flood apache" picks the parts.
set -eu

die() { echo "run.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: sh tests/bench/run.sh /path/to/cgiguard"
[ -x "$1" ] || die "$1: not an executable"
cg=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
out=$here/out
results=$here/RESULTS.md
ROUNDS=${BENCH_ROUNDS:-1000}
SECS=${BENCH_SECS:-25}
BULK_PAIRS=${BENCH_BULK_PAIRS:-6}
STREAM_PAIRS=${BENCH_STREAM_PAIRS:-3}
FLOOD_PAIRS=${BENCH_FLOOD_PAIRS:-4}
AB_N=${BENCH_AB_N:-2000}
AB_ROUNDS=${BENCH_AB_ROUNDS:-3}
AB_SECS=${BENCH_AB_SECS:-8}
AB1_SECS=${BENCH_AB1_SECS:-5}
PARTS=${BENCH_PARTS:-req relay flood apache}
HERD=${BENCH_HERD:-1000}
GIB=1073741824

# ---- helpers -----------------------------------------------------------------
mkdir -p "$out"
cc -O2 -Wall -Wextra -o "$out/bench" "$here/bench.c"
for prog in cgi bare; do
	if command -v musl-gcc >/dev/null 2>&1; then
		musl-gcc -O2 -Wall -Wextra -static -o "$out/$prog" "$here/$prog.c"
	else
		cc -O2 -Wall -Wextra -static -o "$out/$prog" "$here/$prog.c" 2>/dev/null ||
		    cc -O2 -Wall -Wextra -o "$out/$prog" "$here/$prog.c"
	fi
done
for n in hello sleeper stubborn writer ticker flooder; do ln -f "$out/cgi" "$out/$n"; done
bench=$out/bench
res=$out/results.txt
load0=$(cut -d' ' -f1 /proc/loadavg)
: > "$res"

# The peers, each as a command prefix; skipped when absent.
peers=""
for p in env timeout tini dumb-init; do
	command -v "$p" >/dev/null 2>&1 && peers="$peers $p"
done
prefix() {
	case $1 in
	cgiguard)	echo "$cg" ;;
	bare)		echo "$out/bare" ;;
	env)		command -v env ;;
	timeout)	echo "$(command -v timeout) 60" ;;
	tini)		echo "$(command -v tini) -s --" ;;
	dumb-init)	command -v dumb-init ;;
	esac
}
# variants CGI-COMMAND: "direct CGI :: cgiguard cgiguard CGI :: env ..."
variants() {
	v="direct $*"
	for w in cgiguard bare $peers; do
		v="$v :: $w $(prefix "$w") $*"
	done
	echo "$v"
}

part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- 1. per request -------------------------------------------------------------
if part req; then
echo "1/4 per request: static C CGI and /bin/sh -c : ($ROUNDS rounds or ${SECS}s each)" >&2
# Paths are split on blanks here: keep them free of spaces.
# shellcheck disable=SC2046
{
	"$bench" req "$ROUNDS" "$SECS" $(variants "$out/hello") |
	    sed 's/^req /req cgi=static /'
	"$bench" req "$ROUNDS" "$SECS" $(variants /bin/sh -c :) |
	    sed 's/^req /req cgi=sh /'
	"$bench" mem 5 "$out/sleeper" \
	    $(variants "$out/sleeper" | sed 's/^direct [^:]*:: //')
	# The keepers of abandoned requests whose CGI ignores TERM.
	"$bench" herd "$HERD" "$out/stubborn" "$cg" "$out/stubborn"
} >> "$res"
echo "text name=cgiguard $(size "$cg" | awk 'NR == 2 { print "bytes=" $1 }')" >> "$res"
for w in cgiguard $peers; do
	f=$(prefix "$w"); f=${f%% *}
	case $(file -b "$f" 2>/dev/null) in
	*static*)	link=static ;;
	*dynamic*)	link=dynamic ;;
	*)		link=unknown ;;
	esac
	echo "size name=$w bytes=$(wc -c < "$f") link=$link" >> "$res"
done
fi

# ---- 2. bulk output and streaming ---------------------------------------------
if part relay; then
echo "2/4 1 GiB through the relay ($BULK_PAIRS pairs), one line per 10 ms ($STREAM_PAIRS pairs)" >&2
# Against the server's usual 64 KiB pipe, then against a direct CGI given the
# 1 MiB pipe a relay may widen the server's pipe to.
for base in direct direct@1048576; do
	"$bench" bulk "$BULK_PAIRS" 15 $base "$out/writer" $GIB \
	    :: cgiguard "$cg" "$out/writer" $GIB >> "$res"
done
"$bench" stream "$STREAM_PAIRS" direct "$out/ticker" 100 10 \
    :: cgiguard "$cg" "$out/ticker" 100 10 >> "$res"
fi

# ---- 3. output discarded after abandonment -------------------------------------
if part flood; then
echo "3/4 1 GiB to stdout, to stderr, after abandonment ($FLOOD_PAIRS pairs)" >&2
# The CGI writes once the keeper's TERM tells it the request is abandoned;
# of stderr the keeper logs 100 lines (to a file here, not syslog: the same
# on every machine) and discards the rest, as it discards all of stdout.
flog=$out/flood.log
: > "$flog"
"$bench" flood "$FLOOD_PAIRS" 15 stdout "$cg" --log="$flog" "$out/flooder" $GIB 1 \
    :: stderr "$cg" --log="$flog" "$out/flooder" $GIB 2 >> "$res"
# Every CGI wrote all of it and exited 0 in its grace (1 warm-up + 2 a pair).
pairs=$(sed -n 's/^flood .* n=\([0-9]*\) .*/\1/p' "$res")
[ "$(grep -c ' event=finished status=0 .*after=abandoned' "$flog")" = $((2 * pairs + 1)) ] &&
    [ "$(grep -c " event=stderr-dropped bytes=$((GIB - 100 * 64)) " "$flog")" = "$pairs" ] ||
    { grep -v ' event=stderr ' "$flog" >&2; die "flood: not every CGI wrote all its bytes (log above)"; }
fi

# ---- 4. Apache prefork + mod_cgi ----------------------------------------------
tmp="" reaper="" apid=""
# The pids of this run's Apache processes (their command line names our config).
apache_pids() {
	for d in /proc/[0-9]*; do
		grep -qs -- "$tmp/httpd.conf" "$d/cmdline" && echo "${d#/proc/}"
	done
	return 0
}
# wait_reaper TENTHS: waits for bench reap, which returns once every process
# Apache and its CGIs started is gone.
wait_reaper() {
	i=0
	while kill -0 "$reaper" 2>/dev/null && [ $i -lt "$1" ]; do
		sleep 0.1; i=$((i + 1))
	done
	! kill -0 "$reaper" 2>/dev/null
}
stop_apache() {
	[ -n "$apid" ] || return 0
	kill -TERM "$apid" 2>/dev/null || true
	if ! wait_reaper 100; then
		echo "run.sh: apache $apid did not stop in 10 s; KILL" >&2
		for p in $(apache_pids); do kill -KILL "$p" 2>/dev/null || true; done
		wait_reaper 50 || echo "run.sh: processes left under bench reap $reaper" >&2
	fi
	wait "$reaper" 2>/dev/null || true
	[ -z "$(apache_pids)" ] || echo "run.sh: apache processes left behind" >&2
	apid=""
}
cleanup() {
	stop_apache
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mods=/usr/lib/apache2/modules
user=cgitest
if ! part apache; then
	echo "4/4 Apache: skipped (BENCH_PARTS)" >&2
elif [ "$(id -u)" != 0 ]; then
	echo "4/4 Apache: skipped (needs root to start it with User $user)" >&2
elif ! command -v apache2 >/dev/null 2>&1 || ! command -v ab >/dev/null 2>&1 ||
    [ ! -f $mods/mod_cgi.so ] || [ ! -f $mods/mod_mpm_prefork.so ]; then
	echo "4/4 Apache: skipped (apache2, ab or mod_cgi missing)" >&2
else
	echo "4/4 Apache prefork + mod_cgi, ab -n $AB_N -c 4 (and -c 1), $AB_ROUNDS rounds" >&2
	id $user >/dev/null 2>&1 ||
	    useradd -r -M -d /nonexistent -s /usr/sbin/nologin $user
	tmp=$(mktemp -d /tmp/cgiguard-bench.XXXXXX)
	chmod 755 "$tmp"
	mkdir "$tmp/cgi-bin" "$tmp/htdocs" "$tmp/run"
	cp "$cg" "$tmp/cgiguard"
	cp "$out/hello" "$tmp/cgi-bin/direct"
	cp "$out/hello" "$tmp/hello"
	# The #! form; the file's body is never read by the CGI.
	printf '#!%s %s\nnot read\n' "$tmp/cgiguard" "$tmp/hello" \
	    > "$tmp/cgi-bin/guarded"
	printf '#!/bin/sh\nexec %s %s\n' "$tmp/cgiguard" "$tmp/hello" \
	    > "$tmp/cgi-bin/guarded-sh"
	printf '#!/bin/sh\nexec %s 60 %s\n' "$(command -v timeout)" "$tmp/hello" \
	    > "$tmp/cgi-bin/timeout-sh"
	chmod 755 "$tmp"/cgi-bin/* "$tmp/cgiguard" "$tmp/hello"
	# Below the kernel's ephemeral ports (32768 up), which ab's own
	# connections take, and used by no socket in any state.
	port=$(( 10000 + $$ % 20000 ))
	while command -v ss >/dev/null 2>&1 &&
	    [ -n "$(ss -Htan "sport = :$port" 2>/dev/null)" ]; do
		port=$((port + 1))
	done
	cat > "$tmp/httpd.conf" <<-EOF
	ServerRoot "$tmp"
	DefaultRuntimeDir "$tmp/run"
	PidFile "$tmp/run/httpd.pid"
	Listen 127.0.0.1:$port
	ServerName 127.0.0.1
	User $user
	Group $(id -gn $user)
	ErrorLog "$tmp/error.log"
	LogLevel warn
	LoadModule mpm_prefork_module $mods/mod_mpm_prefork.so
	LoadModule authz_core_module $mods/mod_authz_core.so
	LoadModule alias_module $mods/mod_alias.so
	LoadModule cgi_module $mods/mod_cgi.so
	StartServers 8
	MinSpareServers 8
	MaxSpareServers 16
	MaxRequestWorkers 32
	MaxConnectionsPerChild 0
	KeepAlive Off
	DocumentRoot "$tmp/htdocs"
	ScriptAlias /cgi-bin/ "$tmp/cgi-bin/"
	<Directory "$tmp/cgi-bin">
	    Require all granted
	</Directory>
	EOF
	# As a subreaper, bench collects the keepers Apache's children leave.
	"$bench" reap apache2 -f "$tmp/httpd.conf" -k start &
	reaper=$!
	i=0
	while [ ! -s "$tmp/run/httpd.pid" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ -s "$tmp/run/httpd.pid" ] || { cat "$tmp/error.log" >&2; die "apache did not start"; }
	apid=$(cat "$tmp/run/httpd.pid")
	url=http://127.0.0.1:$port/cgi-bin
	# ab_run C SECS NAME ROUND: one ab run at concurrency C (at most AB_N
	# requests, at most SECS seconds); appends an "ab ..." line to $res.
	ab_run() {
		ab -q -t "$2" -n "$AB_N" -c "$1" -g "$tmp/ab.tsv" "$url/$3" \
		    > "$tmp/ab.txt" 2>&1 ||
		    { cat "$tmp/ab.txt" >&2; die "ab failed on $3"; }
		if grep -q -e '^Non-2xx' "$tmp/ab.txt" ||
		    ! grep -q '^Failed requests: *0' "$tmp/ab.txt"; then
			cat "$tmp/ab.txt" "$tmp/error.log" >&2
			die "$3: failed or non-2xx responses"
		fi
		[ "$4" = warm ] && return 0
		rps=$(awk '/^Requests per second/ { print $4 }' "$tmp/ab.txt")
		done_n=$(awk '/^Complete requests/ { print $3 }' "$tmp/ab.txt")
		over=$(awk -F'\t' 'NR > 1 && $5 > 40 { n++ } END { print n + 0 }' "$tmp/ab.tsv")
		p50=$(awk -F'\t' 'NR > 1 { print $5 }' "$tmp/ab.tsv" | sort -n |
		    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] + 0 }')
		echo "ab c=$1 round=$4 name=$3 n=$done_n rps=$rps over40=$over p50=$p50" >> "$res"
		cp "$tmp/ab.tsv" "$out/ab-c$1-$3-$4.tsv"
	}
	# rounds C SECS NAME...: AB_ROUNDS rounds, the order rotated each round.
	rounds() {
		c=$1 secs=$2
		shift 2
		for n in "$@"; do ab_run "$c" 2 "$n" warm; done
		r=1
		while [ $r -le "$AB_ROUNDS" ]; do
			for n in "$@"; do ab_run "$c" "$secs" "$n" "$r"; done
			first=$1; shift; set -- "$@" "$first"
			r=$((r + 1))
		done
	}
	rounds 4 "$AB_SECS" direct guarded guarded-sh timeout-sh
	# One client: the CPUs are not saturated, so the 47 ms sleeps show.
	rounds 1 "$AB1_SECS" direct guarded
	stop_apache
fi

# ---- the table --------------------------------------------------------------------
table=$(awk -f "$here/table.awk" "$res")

machine="$(uname -r), $(nproc) CPUs, cgiguard built with ${BENCH_LIBC:-an unknown libc}, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(date -u '+%Y-%m-%d %H:%M UTC'), load average $load0 at start, $(cut -d' ' -f1 /proc/loadavg) at end"
printf '%s\n\n%s\n' "Machine: $machine" "$table"

{
	cat <<-EOF
	# cgiguard benchmark

	Latest \`make bench\` (tests/bench/run.sh), on Linux $machine
	(other jobs may share the machine: the pairing keeps comparisons
	fair, not absolute figures). Each comparison is paired: the variants
	alternate in one run (per request, every round runs all of them in
	a random order), and the table gives the median of the per-pair
	differences and ratios, with their min and max; "direct" and
	"measured" are plain medians. A request is timed as a server sees
	it: fork, exec, both pipes at EOF, the process reaped. Minor faults
	and CPU add up every process of the request (the benchmark is a
	subreaper, so it reaps cgiguard's keeper too). Resident memory is
	read from /proc/PID/smaps_rollup while the CGI runs; "private" is
	what the process does not share.

	EOF
	echo "$table"
} > "$results"
echo "run.sh: tests/bench/RESULTS.md written" >&2
