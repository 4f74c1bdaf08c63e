/*
 * cgi - the CGIs the benchmark runs; which one is chosen by argv[0]'s name.
 *
 *   hello            prints a minimal CGI response and exits (the trivial CGI)
 *   sleeper          prints a header line, then waits for EOF on stdin
 *   stubborn         ignores SIGTERM, prints a header line, sleeps 60 s
 *   writer BYTES     writes BYTES zero bytes to stdout in 64 KiB writes
 *   ticker N MS      writes N lines, one every MS milliseconds, each holding
 *                    the CLOCK_MONOTONIC time in nanoseconds of its write
 *   flooder BYTES FD prints a header line, waits for SIGTERM (the keeper's,
 *                    once the request is abandoned) and survives it, then
 *                    writes BYTES of 64-byte lines to FD (1 or 2) in 64 KiB
 *                    writes
 *
 * Static (musl-gcc -static when present): no loader, no stdio on the way.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char reply[] = "Content-Type: text/plain\r\n\r\nok\n";
static char zeros[65536];

static int
put_fd(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, s, n)) <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
put(const char *s, size_t n)
{
	return put_fd(1, s, n);
}

static int
sleeper(void)
{
	char b[512];

	if (put(reply, sizeof(reply) - 1) < 0)
		return 1;
	while (read(0, b, sizeof(b)) > 0)
		;
	return 0;
}

static int
stubborn(void)
{
	struct timespec t = { 60, 0 };

	signal(SIGTERM, SIG_IGN);
	if (put(reply, sizeof(reply) - 1) < 0)
		return 1;
	while (nanosleep(&t, &t) != 0)
		;
	return 0;
}

static int
writer(long long left)
{
	while (left > 0) {
		size_t n = left < (long long)sizeof(zeros) ? (size_t)left :
		    sizeof(zeros);

		if (put(zeros, n) < 0)
			return 1;
		left -= (long long)n;
	}
	return 0;
}

static volatile sig_atomic_t termed;

static void
on_term(int sig)
{
	(void)sig;
	termed = 1;
}

static int
flooder(long long left, int fd)
{
	static char lines[65536];
	struct sigaction sa;
	sigset_t term, old;
	size_t i;

	for (i = 0; i < sizeof(lines); i++)
		lines[i] = i % 64 == 63 ? '\n' : 'x';
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	/* Blocked until sigsuspend: a TERM before it is not lost. */
	if (sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigprocmask(SIG_BLOCK, &term, &old) < 0)
		return 1;
	if (put(reply, sizeof(reply) - 1) < 0)
		return 1;
	while (!termed)
		sigsuspend(&old);
	while (left > 0) {
		size_t n = left < (long long)sizeof(lines) ? (size_t)left :
		    sizeof(lines);

		if (put_fd(fd, lines, n) < 0)
			return 1;
		left -= (long long)n;
	}
	return 0;
}

/* Formats v in decimal into buf (at least 24 bytes), ending with '\n'. */
static size_t
fmt_line(char *buf, long long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\n';
	return n + 1;
}

static int
ticker(int lines, long ms)
{
	struct timespec next, now;
	char buf[32];
	int i;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (i = 0; i < lines; i++) {
		next.tv_nsec += ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
		    NULL) != 0)
			;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (put(buf, fmt_line(buf, now.tv_sec * 1000000000LL +
		    now.tv_nsec)) < 0)
			return 1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *name = strrchr(argv[0], '/');

	name = name != NULL ? name + 1 : argv[0];
	if (strcmp(name, "sleeper") == 0)
		return sleeper();
	if (strcmp(name, "stubborn") == 0)
		return stubborn();
	if (strcmp(name, "writer") == 0 && argc > 1)
		return writer(atoll(argv[1]));
	if (strcmp(name, "ticker") == 0 && argc > 2)
		return ticker(atoi(argv[1]), atol(argv[2]));
	if (strcmp(name, "flooder") == 0 && argc > 2)
		return flooder(atoll(argv[1]), atoi(argv[2]));
	return put(reply, sizeof(reply) - 1) < 0;
}
