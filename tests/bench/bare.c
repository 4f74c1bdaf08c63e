/*
 * bare - the reference shape for the benchmark: a late-EOF double-fork
 * wrapper with none of cgiguard's logic (no options, policy, log, signals,
 * deadlines, tree kill or stderr relay).
 *
 *   bare program [arg ...]
 *
 * The front forks a keeper and waits for one status byte from it.  The
 * keeper starts a session, vforks the CGI with its stdout on a pipe of its
 * own, relays that pipe to the server's stdout, reaps the CGI, sends the
 * status byte, and keeps the server's stdout open until the front is a
 * zombie (its pidfd is readable): the server sees EOF only then.
 * Static (musl-gcc -static when present), as cgiguard is.
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

static char buf[65536];

static int
relay(int from)
{
	ssize_t n, w, off;

	for (;;) {
		n = splice(from, NULL, STDOUT_FILENO, NULL, 65536, SPLICE_F_MOVE);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EINVAL)
			return -1;
		break;			/* stdout not a pipe: read and write */
	}
	while ((n = read(from, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		for (off = 0; off < n; off += w)
			if ((w = write(STDOUT_FILENO, buf + off,
			    (size_t)(n - off))) < 0 && errno != EINTR)
				return -1;
			else if (w < 0)
				w = 0;
	}
	return 0;
}

static void
keeper(char **argv, int status_fd, int front_fd)
{
	struct pollfd pf = { front_fd, POLLIN, 0 };
	int out[2], ws;
	unsigned char code = 125;
	pid_t cgi;

	(void)setsid();
	if (pipe2(out, O_CLOEXEC) < 0)
		_exit(125);
	if ((cgi = vfork()) == 0) {
		if (dup2(out[1], STDOUT_FILENO) >= 0)
			execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	if (cgi > 0) {
		(void)relay(out[0]);
		while (waitpid(cgi, &ws, 0) < 0 && errno == EINTR)
			;
		code = WIFEXITED(ws) ? (unsigned char)WEXITSTATUS(ws) :
		    (unsigned char)(128 + WTERMSIG(ws));
	}
	close(out[0]);
	while (write(status_fd, &code, 1) < 0 && errno == EINTR)
		;
	close(status_fd);
	while (front_fd >= 0 && poll(&pf, 1, -1) < 0 && errno == EINTR)
		;
	_exit(0);
}

int
main(int argc, char *argv[])
{
	int st[2], front_fd;
	unsigned char code = 125;
	ssize_t n;
	pid_t pid;

	if (argc < 2 || pipe2(st, O_CLOEXEC) < 0)
		return 125;
	front_fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if ((pid = fork()) < 0)
		return 125;
	if (pid == 0) {
		close(st[0]);
		keeper(argv + 1, st[1], front_fd);
	}
	close(st[1]);
	if (front_fd >= 0)
		close(front_fd);
	close(STDOUT_FILENO);		/* only the keeper holds them now */
	close(STDERR_FILENO);
	while ((n = read(st[0], &code, 1)) < 0 && errno == EINTR)
		;
	return code;
}
