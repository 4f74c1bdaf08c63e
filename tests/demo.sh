#!/bin/sh
# Plays Apache's dance (TERM to the pid, 3 s, KILL to the pid, output pipe
# closed at the TERM) on a CGI that rewrites a data file the way the 2001
# report describes: once run directly, once under cgiguard.
set -u
cgiguard=${1:?usage: demo.sh /path/to/cgiguard}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cgiguard-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT

cat > "$dir/save.cgi" <<'CGI'
#!/bin/sh
# flock, truncate, then a slow write: the window the report is about.
data=$1
trap 'echo "  cgi: got TERM, finishing my write" >&2' TERM
exec 9>>"$data.lock"
flock 9
: > "$data"
i=0
while [ $i -lt 8 ]; do		# a busy disk: 4 s between truncate and write
	echo "progress $i"
	sleep 0.5
	i=$((i + 1))
done
printf 'balance=100\nowner=alice\n' > "$data"
echo "  cgi: data written" >&2
CGI
chmod +x "$dir/save.cgi"

# run LABEL COMMAND...: start the CGI behind a pipe, then dance.
run() {
	label=$1; shift
	printf 'balance=100\nowner=alice\n' > "$dir/data"
	rm -f "$dir/out"; mkfifo "$dir/out"
	cat "$dir/out" > /dev/null &
	reader=$!
	"$@" "$dir/data" > "$dir/out" 2> "$dir/errors" &
	cgi=$!
	sleep 1
	echo "$label: client aborts; server closes the pipe and sends TERM to $cgi"
	kill "$reader"
	kill -TERM "$cgi" 2>/dev/null
	sleep 3
	echo "$label: 3 s later the server sends KILL to $cgi"
	kill -KILL "$cgi" 2>/dev/null
	wait "$cgi" 2>/dev/null
	n=0
	while [ $n -lt 100 ] && ! flock -n "$dir/data.lock" true; do
		sleep 0.1; n=$((n + 1))
	done
	printf '%s: data file now holds %s bytes:\n' "$label" \
	    "$(wc -c < "$dir/data")"
	sed 's/^/    /' "$dir/data"
	echo "$label: the server's error log got:"
	sed 's/^/    /' "$dir/errors"
	echo
}

run "without cgiguard" "$dir/save.cgi"
: > "$dir/cgiguard.log"	# cgiguard never creates its log file
run "with cgiguard" "$cgiguard" --log="$dir/cgiguard.log" "$dir/save.cgi"
echo "cgiguard's log:"
sed 's/^/    /' "$dir/cgiguard.log"
