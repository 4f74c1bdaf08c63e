# cgiguard - GNU make conventions; CC, CFLAGS, CPPFLAGS, LDFLAGS are yours.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
DESTDIR	?=
CONF	?= /etc/cgiguard.conf
# The policy tests' own build reads its policy from here, and sends syslog
# records to a socket of the tests'.
TESTCONF = /run/cgiguard-test/cgiguard.conf
TESTLOG	 = /run/cgiguard-test/log
export CGIGUARD_TESTCONF = $(TESTCONF)
export CGIGUARD_TESTLOG = $(TESTLOG)

# A static binary by default: musl-gcc when installed, else the system compiler.
ifeq ($(origin CC),default)
CC	:= $(shell command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc || echo cc)
FELL_BACK = $(if $(findstring musl,$(CC)),,yes)
endif
# Which libc a build links, for make's own note and make bench's table.
LIBC	 = $(if $(findstring musl,$(CC)),musl,system libc: $(shell ldd --version 2>/dev/null | head -n1))
FALLBACK_NOTE = note: musl-gcc not found, so cgiguard is built static with the system libc; with glibc that is about 3x the process start-up per request and 3x the memory per survivor (install musl-tools for the fast build)
# -Os: every process maps the whole program (the kernel faults in up to 64 KiB
# around a miss), so its size is memory and time on every request.
CFLAGS	?= -Os -g
WARN	 = -std=c99 -Wall -Wextra -Wpedantic
# A distribution's own _FORTIFY_SOURCE level in CPPFLAGS wins over ours.
HARDEN	 = $(if $(findstring _FORTIFY_SOURCE,$(CPPFLAGS)),,-D_FORTIFY_SOURCE=2) \
	   -fstack-protector-strong
# Static, not static-pie: self-relocation costs a static-pie binary about 17
# page faults and ~1 ms of CPU per exec on a VM, on every request.  `make pie`
# trades that for ASLR.  No unwind tables (C, nothing unwinds; -g keeps the
# debugger's) and no unused sections.  Code for the address it is linked at
# (-fno-pie; compilers that default to PIE would keep the pointer tables in a
# writable page of their own).  musl's static start never write-protects
# RELRO, so there it would only cost a page per process.
LEAN	 = -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections
RELRO	 = $(if $(findstring musl-gcc,$(CC)),norelro,relro)
STATIC	 = $(LEAN) -fno-pie -no-pie -static -Wl,--gc-sections,-z,$(RELRO),-z,now
PIE	 = -fPIE -static-pie -Wl,-z,relro,-z,now
SANITIZE = -fsanitize=address,undefined -fno-omit-frame-pointer

BATS	 = bats
REAPER	 = $(shell command -v tini >/dev/null 2>&1 && echo tini -s --)
TESTS	 = tests/*.bats
SERVER_TESTS = tests/servers

FUZZ_SECONDS = 60

.PHONY: all static pie recipes check check-asan check-posix check-servers stress lint fuzz demo bench install uninstall clean

all: cgiguard

cgiguard: cgiguard.c
	@$(if $(FELL_BACK),echo '$(FALLBACK_NOTE)',:)
	$(CC) $(WARN) $(HARDEN) -DCGIGUARD_CONF='"$(CONF)"' $(CPPFLAGS) $(CFLAGS) $(STATIC) $(LDFLAGS) -o $@ cgiguard.c

tests/cgiguard-policy: cgiguard.c
	$(CC) $(WARN) $(HARDEN) -DCGIGUARD_CONF='"$(TESTCONF)"' -DCGIGUARD_SYSLOG='"$(TESTLOG)"' $(CPPFLAGS) $(CFLAGS) $(STATIC) $(LDFLAGS) -o $@ cgiguard.c

static: cgiguard

# cgiguard-pie: musl-gcc's specs drop -static-pie (the result is dynamic), so
# a musl-gcc CC is replaced by the system cc; any other CC is used as it is.
PIECC	 = $(if $(findstring musl-gcc,$(CC)),cc,$(CC))
pie: cgiguard-pie

cgiguard-pie: cgiguard.c
	$(PIECC) $(WARN) $(HARDEN) -DCGIGUARD_CONF='"$(CONF)"' $(CPPFLAGS) $(CFLAGS) $(PIE) $(LDFLAGS) -o $@ cgiguard.c

# Sanitizers need the dynamic runtime; check-asan runs the core suite with them.
cgiguard-asan: cgiguard.c
	clang $(WARN) -DCGIGUARD_CONF='"$(CONF)"' $(CPPFLAGS) -O1 -g $(SANITIZE) $(LDFLAGS) -o $@ cgiguard.c

tests/cgiguard-policy-asan: cgiguard.c
	clang $(WARN) -DCGIGUARD_CONF='"$(TESTCONF)"' -DCGIGUARD_SYSLOG='"$(TESTLOG)"' $(CPPFLAGS) -O1 -g $(SANITIZE) $(LDFLAGS) -o $@ cgiguard.c

check: cgiguard tests/cgiguard-policy
	$(REAPER) $(BATS) $(TESTS)
	mkdir -p tests/servers/out
	CGIGUARD_RESULTS=$(CURDIR)/tests/servers/out/results.txt $(REAPER) $(BATS) $(SERVER_TESTS)

# The long trials: 20 per server and form; counts go to tests/servers/results.txt.
check-servers: cgiguard tests/cgiguard-policy
	CGIGUARD_TRIALS=20 CGIGUARD_JOBS=5 CGIGUARD_LARGE_MB=100 $(REAPER) $(BATS) -T $(SERVER_TESTS)
	cat tests/servers/results.txt

# Random-timing runs: TERM 0-20 ms after the spawn, KILL 0-50 ms later, mixed with runs never
# abandoned (make check runs 500). CGIGUARD_STRESS_SEED=S picks the seed; the tool replays one run.
STRESS_RUNS = 10000
stress: cgiguard
	$(REAPER) perl tests/stress.pl -n $(STRESS_RUNS) $(CURDIR)/cgiguard

# The POSIX fallbacks, as on systems without Linux's extras: the core tests
# that need none of them (not the #! form, handler mode, the tree kill of
# escaped descendants, survivors, --list or --drain).
POSIX_TESTS = tests/cgi-context.bats tests/dance.bats tests/exit-status.bats tests/faults.bats \
	tests/grace.bats tests/late-eof.bats tests/limits.bats tests/log.bats \
	tests/options.bats tests/sigconf.bats tests/signals.bats tests/stall.bats \
	tests/stress.bats

cgiguard-posix: cgiguard.c
	$(CC) $(WARN) $(HARDEN) -DCGIGUARD_POSIX -DCGIGUARD_CONF='"$(CONF)"' $(CPPFLAGS) $(CFLAGS) $(STATIC) $(LDFLAGS) -o $@ cgiguard.c

check-posix: cgiguard-posix tests/cgiguard-policy
	CGIGUARD=$(CURDIR)/cgiguard-posix CGIGUARD_POSIX=1 $(REAPER) $(BATS) $(POSIX_TESTS)

check-asan: cgiguard-asan tests/cgiguard-policy-asan
	CGIGUARD=$(CURDIR)/cgiguard-asan CGIGUARD_DYNAMIC=1 \
	CGIGUARD_POLICY=$(CURDIR)/tests/cgiguard-policy-asan \
	$(REAPER) $(BATS) $(TESTS)

# libFuzzer on the parsers, bounded in time; any crash fails.
tests/fuzz/fuzz-run: cgiguard.c tests/fuzz/fuzz.c
	clang -std=c99 -g -O1 -DCGIGUARD_FUZZ -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz/fuzz.c

fuzz: tests/fuzz/fuzz-run
	rm -rf tests/fuzz/work && mkdir -p tests/fuzz/work
	tests/fuzz/fuzz-run -max_total_time=$(FUZZ_SECONDS) -close_fd_mask=3 \
		-artifact_prefix=tests/fuzz/work/ tests/fuzz/work tests/fuzz/corpus

# Every #if configuration, as the compilers that build it (gcc, clang) see it.
lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		-D__GNUC__ --force cgiguard.c
	mandoc -Tlint -W warning man/cgiguard.1

demo: cgiguard
	sh tests/demo.sh $(CURDIR)/cgiguard

# tests/servers/RECIPES.md, from the configs the server tests use.
recipes:
	bash tests/servers/gen-recipes.bash > tests/servers/RECIPES.md

# Paired measurements against direct exec and other wrappers; writes tests/bench/RESULTS.md.
bench: cgiguard
	BENCH_LIBC='$(LIBC)' sh tests/bench/run.sh $(CURDIR)/cgiguard

install: cgiguard
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 cgiguard $(DESTDIR)$(BINDIR)/cgiguard
	install -m 644 man/cgiguard.1 $(DESTDIR)$(MANDIR)/man1/cgiguard.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cgiguard $(DESTDIR)$(MANDIR)/man1/cgiguard.1

clean:
	rm -f cgiguard cgiguard-pie cgiguard-posix cgiguard-asan tests/cgiguard-policy tests/cgiguard-policy-asan tests/fuzz/fuzz-run
	rm -rf tests/fuzz/work tests/bench/out
