#!/usr/bin/env bats
# Limits set before exec (soft = hard, clamped to the current hard limit), umask, nice, and
# HTTP_PROXY dropped from the environment.

load helpers

setup() {
	common_setup
	cat >"$T/show.cgi" <<'EOF'
#!/bin/sh
cat /proc/$$/limits
echo "umask $(umask)"
echo "nice $(nice)"
echo "ulimit-n $(ulimit -n)"
env | sed 's/^/env /'
EOF
	chmod +x "$T/show.cgi"
}

teardown() {
	common_teardown
}

# limit NAME: "soft hard" of the limit NAME ("Max open files"...) in $output.
function limit() {
	grep "^$1  " <<<"$output" | cut -c27- | awk '{ print $1, $2 }'
}

@test "--nofile --fsize --cpu --mem --nproc --core --umask --nice are in force inside the CGI" {
	local base
	base=$(nice)
	run --separate-stderr cg --nofile=64 --fsize=1M --cpu=7 --mem=512M --nproc=100 --core=2M \
		--umask=027 --nice=5 "$T/show.cgi"
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $(limit "Max open files") == "64 64" ]] || fail "nofile: $(limit "Max open files")"
	[[ $(limit "Max file size") == "1048576 1048576" ]] || fail "fsize: $(limit "Max file size")"
	[[ $(limit "Max cpu time") == "7 7" ]] || fail "cpu: $(limit "Max cpu time")"
	[[ $(limit "Max address space") == "536870912 536870912" ]] || fail "mem: $(limit "Max address space")"
	[[ $(limit "Max processes") == "100 100" ]] || fail "nproc: $(limit "Max processes")"
	[[ $(limit "Max core file size") == "2097152 2097152" ]] || fail "core: $(limit "Max core file size")"
	grep -qx "umask 0027" <<<"$output" || fail "$(grep ^umask <<<"$output")"
	grep -qx "nice $((base + 5 > 19 ? 19 : base + 5))" <<<"$output" || fail "$(grep ^nice <<<"$output") (base $base)"
	grep -qx "ulimit-n 64" <<<"$output"
}

@test "--nice adds to the inherited niceness, like nice(1), and stops at 19" {
	run --separate-stderr nice -n 10 "$CGIGUARD" --nice=5 "$T/show.cgi" 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	grep -qx "nice 15" <<<"$output" || fail "$(grep ^nice <<<"$output")"
	run --separate-stderr nice -n 10 "$CGIGUARD" --nice=15 "$T/show.cgi" 3>&-
	grep -qx "nice 19" <<<"$output" || fail "$(grep ^nice <<<"$output")"
}

@test "without limit options the CGI inherits the limits, umask and niceness unchanged" {
	local base
	base=$(nice)
	run --separate-stderr bash -c 'umask 0066; ulimit -Sn 333; exec "$1" "$2"' - "$CGIGUARD" "$T/show.cgi" 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	grep -qx "umask 0066" <<<"$output"
	grep -qx "nice $base" <<<"$output"
	[[ $(limit "Max open files") == "333 $(ulimit -Hn)" ]] || fail "nofile: $(limit "Max open files")"
}

@test "limits are clamped to the current hard limit (even for root)" {
	run --separate-stderr bash -c 'ulimit -n 128; ulimit -Hc 4096; exec "$@"' - \
		"$CGIGUARD" --nofile=1000 --core=1G "$T/show.cgi" 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ $(limit "Max open files") == "128 128" ]] || fail "nofile: $(limit "Max open files")"
	# ulimit -c counts 1024-byte blocks in bash: 4096 blocks = 4194304 bytes.
	[[ $(limit "Max core file size") == "4194304 4194304" ]] || fail "core: $(limit "Max core file size")"
}

@test "--fsize is enforced: a write past it fails" {
	run --separate-stderr cg --fsize=1k /bin/sh -c 'trap "" XFSZ; head -c 4096 /dev/zero >"$1"; echo $?; wc -c <"$1"' - "$T/big"
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	[[ ${lines[1]} -le 1024 ]] || fail "wrote ${lines[1]} bytes past --fsize=1k"
}

@test "HTTP_PROXY is removed from the environment; other variables stay" {
	run --separate-stderr env HTTP_PROXY=http://proxy.invalid:3128 FOO=bar "$CGIGUARD" "$T/show.cgi" 3>&-
	[[ $status -eq 0 ]] || fail "status $status: $stderr"
	! grep -q '^env HTTP_PROXY=' <<<"$output" || fail "HTTP_PROXY reached the CGI"
	grep -qx 'env FOO=bar' <<<"$output"
}
