/*
 * cgiguard - keep a CGI script alive when the web server abandons the request
 *
 * Web servers end an aborted or timed-out CGI with SIGTERM, a pause of about
 * three seconds and SIGKILL, and they close its output first.  cgiguard is
 * exec'd in place of the script and splits into three processes:
 *
 *   front   keeps the pid the server knows; forwards its signals and exits
 *           at once when the server gives up, with the CGI's status otherwise.
 *   keeper  a new session out of the server's reach (subreaper, not
 *           dumpable); owns the CGI's stdout and stderr, relays them, and
 *           after abandonment drains them so the CGI never sees SIGPIPE.
 *           It enforces --grace and --timeout and kills the whole tree.
 *   CGI     its own process group, the server's signal mask, dispositions
 *           and timers, no descriptor of ours, the limits asked for.
 *
 * Exit status: the CGI's own (0 if it outlives its output by 50 ms); 128+N
 * if it died of signal N or the front was told to stop by signal N; 141 when
 * the server's end of stdout broke; 124 when --timeout fired; 125
 * cgiguard failed; 126 program not runnable or refused; 127 program not
 * found.  The admin commands: --list exits 0; --drain 0, or 124 when its
 * time ran out.
 */

#define _GNU_SOURCE

/*
 * Linux extras (subreaper, pidfds, splice, openat2, AT_EXECFN, /proc); built
 * with -DCGIGUARD_POSIX, the file takes its POSIX fallbacks, as on other
 * systems, and CI runs the tests that do not need the extras against that.
 */
#if defined(__linux__) && !defined(CGIGUARD_POSIX)
#define LINUX_EXTRAS	1
#endif

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef LINUX_EXTRAS
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#define VERSION		"0.1.0"
#ifndef CGIGUARD_CONF
#define CGIGUARD_CONF		"/etc/cgiguard.conf"
#endif
#define EXIT_TIMEDOUT	124
#define EXIT_FAILED	125
#define EXIT_CANNOT	126
#define EXIT_ENOENT	127

#define DEFAULT_GRACE_MS	30000LL
#define MAX_DURATION_MS		(7LL * 24 * 3600 * 1000)
#define LINGER_MS		50	/* wait for the CGI's exit after its EOF */
#define GATHER_MS		1	/* wait for the rest of a first small write */
#define GATHER_BELOW		4096	/* a first write this small: gathered */
#define SETTLE_MS		20	/* wait for the server's signal after EPIPE */
#define REAP_MS			1000	/* wait for a killed tree to be reaped */
#define RELAY_CHUNK		65536
#define BULK_PIPE		(1 << 20)	/* pipe size once output is bulk */
#define MAX_SHEBANG_WORDS	32
#define SHEBANG_MAX		256	/* bytes of a #! line the kernel reads */
#define STDERR_LOG_LINES	100	/* CGI stderr lines logged per request */
#define STDERR_FIRST_READS	64	/* of stderr, relayed before the status */
#define FIELD_MAX		200	/* log field cap */
#define MAX_PASS_ENV		8	/* --pass-env lists */
#define MAX_ROOTS		8	/* root = ... lines in the policy */
#define POLICY_MAX		65536	/* bytes of policy file */
#define SERVER_GRACE_MS		3000	/* what a server without cgiguard allows */
#define TREE_MAX		4096	/* descendants one kill stops and kills */
#define TREE_WALKS		64	/* walks of /proc to find them all, */
#define TREE_WALK_MS		500	/* within this time */
#define FRONT_POLL_MS		5	/* the front's exit, with no pidfd */
#define FD_SCAN_MAX		65536	/* descriptors closed one by one */
#define MARK_MAX		4096	/* the kernel shows one page of a title */
#define DEFAULT_DRAIN_MS	30000LL
#define DRAIN_POLL_MS		100

enum limit { L_CPU, L_MEM, L_NPROC, L_FSIZE, L_NOFILE, L_CORE, NLIMITS };

enum opt_id {
	O_GRACE, O_TIMEOUT, O_SIGNAL, O_LOG, O_VERBOSE,
	O_CPU, O_MEM, O_NPROC, O_FSIZE, O_NOFILE, O_CORE,
	O_NICE, O_UMASK, O_CLEAN_ENV, O_PASS_ENV,
	O_HELP, O_VERSION,		/* from here on: no policy setting */
	O_LIST, O_DRAIN, O_CHECK	/* admin commands: only alone */
};

struct option_def {
	const char	*name;
	char		 short_name;
	int		 takes_value;
};

static const struct option_def options[] = {
	[O_GRACE] =	{ "grace", 'g', 1 },
	[O_TIMEOUT] =	{ "timeout", 't', 1 },
	[O_SIGNAL] =	{ "signal", 's', 1 },
	[O_LOG] =	{ "log", 'l', 1 },
	[O_VERBOSE] =	{ "verbose", 'v', 0 },
	[O_CPU] =	{ "cpu", 0, 1 },
	[O_MEM] =	{ "mem", 0, 1 },
	[O_NPROC] =	{ "nproc", 0, 1 },
	[O_FSIZE] =	{ "fsize", 0, 1 },
	[O_NOFILE] =	{ "nofile", 0, 1 },
	[O_CORE] =	{ "core", 0, 1 },
	[O_NICE] =	{ "nice", 0, 1 },
	[O_UMASK] =	{ "umask", 0, 1 },
	[O_CLEAN_ENV] =	{ "clean-env", 0, 0 },
	[O_PASS_ENV] =	{ "pass-env", 0, 1 },
	[O_HELP] =	{ "help", 'h', 0 },
	[O_VERSION] =	{ "version", 'V', 0 },
	[O_LIST] =	{ "list", 0, 0 },
	[O_DRAIN] =	{ "drain", 0, 0 },	/* --drain[=DURATION] */
	[O_CHECK] =	{ "check", 0, 0 },	/* --check[=FILE] [SCRIPT] */
};
#define NOPTIONS (int)(sizeof(options) / sizeof(options[0]))

struct config {
	int		 grace_set, timeout_set, signal_set;	/* given */
	long long	 grace_ms;
	long long	 timeout_ms;	/* 0: none */
	int		 stop_signal;	/* 0: none */
	const char	*log;
	int		 verbose;
	int		 limit_set[NLIMITS];
	rlim_t		 limit[NLIMITS];
	int		 nice_set, nice;
	int		 umask_set;
	int		 clean_env;
	const char	*pass_env[2 * MAX_PASS_ENV];	/* the line's, the policy's */
	int		 npass_env;
	mode_t		 umask;
};

/*
 * Always dropped: read by the loader, shells or libc before the CGI's first
 * line runs; and HTTP_PROXY, which a client sets with a Proxy: header and
 * HTTP libraries take for their proxy (httpoxy).
 */
static const char *const unsafe_env[] = {
	"HTTP_PROXY=", "LD_", "GLIBC_TUNABLES=", "GCONV_PATH=", "BASH_ENV=",
	"ENV=", "BASH_FUNC_", "IFS=", "SHELLOPTS=", "PS4=", NULL
};

/* What suexec passes: the CGI variables and the request's headers. */
static const char *const safe_env[] = {
	"HTTP_", "SSL_", "AUTH_TYPE=", "CONTENT_LENGTH=", "CONTENT_TYPE=",
	"CONTEXT_DOCUMENT_ROOT=", "CONTEXT_PREFIX=", "DATE_GMT=",
	"DATE_LOCAL=", "DOCUMENT_ARGS=", "DOCUMENT_NAME=",
	"DOCUMENT_PATH_INFO=", "DOCUMENT_ROOT=", "DOCUMENT_URI=",
	"GATEWAY_INTERFACE=", "HTTPS=", "LAST_MODIFIED=", "PATH_INFO=",
	"PATH_TRANSLATED=", "QUERY_STRING=", "QUERY_STRING_UNESCAPED=",
	"REMOTE_ADDR=", "REMOTE_HOST=", "REMOTE_IDENT=", "REMOTE_PORT=",
	"REMOTE_USER=", "REDIRECT_ERROR_NOTES=", "REDIRECT_HANDLER=",
	"REDIRECT_QUERY_STRING=", "REDIRECT_REMOTE_USER=",
	"REDIRECT_SCRIPT_FILENAME=", "REDIRECT_STATUS=", "REDIRECT_URL=",
	"REQUEST_METHOD=", "REQUEST_URI=", "REQUEST_SCHEME=",
	"SCRIPT_FILENAME=", "SCRIPT_NAME=", "SCRIPT_URI=", "SCRIPT_URL=",
	"SERVER_ADMIN=", "SERVER_NAME=", "SERVER_ADDR=", "SERVER_PORT=",
	"SERVER_PROTOCOL=", "SERVER_SIGNATURE=", "SERVER_SOFTWARE=",
	"UNIQUE_ID=", "USER_NAME=", "TZ=", NULL
};

/* What the server gave the front, restored for the CGI. */
static const int handled_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM,		/* abandon */
	SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCONT,	/* forward */
	SIGPIPE, SIGCHLD				/* our own */
};
#define NHANDLED (int)(sizeof(handled_signals) / sizeof(handled_signals[0]))

struct server_state {
	sigset_t	 ignored;	/* of the handled ones; exec resets the rest */
	sigset_t	 mask;
	struct itimerval timer[3];
};

/* How cgiguard was started; the man page's DESCRIPTION tells them apart. */
enum form {
	FORM_COMMAND,	/* a command line: the admin's, or a shell wrapper's */
	FORM_SHEBANG,	/* by the kernel, as a #! script's interpreter */
	FORM_HANDLER,	/* by the server for any script: lighttpd, busybox */
	FORM_ACTION	/* Apache's Action: we stand in for the script */
};

struct request {
	struct config	 cf;
	const char	*path;		/* resolved program */
	char		**argv;		/* its argv */
	const char	*script;	/* what the log calls the script */
	struct server_state server;
	long long	 start_ms;
	int		 cgi_context;
	enum form	 form;
	char		 head[SHEBANG_MAX];	/* the #! script's start, */
	size_t		 head_len;		/* read once */
	const char	*target;	/* file that passed the target checks */
	dev_t		 target_dev;
	ino_t		 target_ino;
	int		 to_front[2];	/* keeper -> front: TELL_EXIT, TELL_UNSHIELDED */
	int		 out[2], err[2];/* CGI stdout, stderr -> keeper */
	int		 front_pidfd;	/* readable once the front is a zombie */
	pid_t		 front;
};

/* One of the CGI's outputs on its way to the server's descriptor. */
struct stream {
	int		 from;		/* our pipe from the CGI; -1 at EOF */
	int		 to;		/* the server's: 1 or 2 */
	int		 sink;		/* enum sink of to */
	char		*buf;
	size_t		 size;
	size_t		 off, len;	/* read from the CGI, not yet written */
	int		 full;		/* the server's side is full */
};

/*
 * The keeper's request, from the CGI's spawn to the last reap:
 *
 *	RUNNING ---- stdout at EOF and the CGI exited (or LINGER) ---> ENDED
 *	   |                                                            |
 *	   | the front signalled or died, the pipe broke                | CGI or
 *	   | (then SETTLE), an output error, TIMEOUT                    | descendants
 *	   v                                                            | still there
 *	ABANDONED ------------------- GRACE ------------------> KILLED <--+ GRACE
 *
 * The keeper is done once the tree is reaped, both pipes are at EOF and the
 * server is released, or once REAP has run out after KILLED.  A deadline is
 * armed where its event happens and disarmed when the phase it belongs to is
 * left (enter()), so an armed deadline is a live one; no deadline stands for
 * a state.  Beside the phase runs the front's side:
 *
 *	OWED ---- its status sent, or it left ----> ANSWERED
 *	ANSWERED ---- a zombie: the server may reap it ----> GONE
 *	GONE ---- the server's fds 1 and 2 let go ----> RELEASED
 *
 * so the server never sees the end of the output before the front is gone.
 */
enum phase { RUNNING, ENDED, ABANDONED, KILLED, NPHASES };

enum front_side { FRONT_OWED, FRONT_ANSWERED, FRONT_GONE, SERVER_RELEASED };

/* Why the request was abandoned, as the log names it. */
enum abandon_reason {
	NOT_ABANDONED, BY_SIGNAL, FRONT_DIED, PIPE_BROKE, OUTPUT_ERROR,
	TIMED_OUT
};
static const char *const reason_names[] = {
	[BY_SIGNAL] = "signal", [FRONT_DIED] = "front-died",
	[PIPE_BROKE] = "pipe", [OUTPUT_ERROR] = "output-error",
	[TIMED_OUT] = "timeout"
};

/* As the keeper's mark and --list name them. */
static const char *const phase_names[NPHASES] = {
	[RUNNING] = "running", [ENDED] = "ended",
	[ABANDONED] = "abandoned", [KILLED] = "killed",
};

enum deadline {
	TIMEOUT,	/* --timeout: RUNNING only */
	SETTLE,		/* the server's signal after its pipe broke: RUNNING */
	LINGER,		/* the CGI's exit after its EOF: RUNNING */
	GATHER,		/* the rest of the first output, or its end: RUNNING */
	GRACE,		/* ENDED and ABANDONED */
	REAP,		/* a killed tree's reaping: KILLED */
	NDEADLINES
};

struct keeper {
	struct request	*rq;
	enum phase	 phase;
	long long	 at[NDEADLINES];	/* ms; 0: not armed */
	enum abandon_reason abandoned;
	pid_t		 cgi;
	int		 cgi_wstatus;	/* wait status, -1 while running */
	int		 children;	/* keeper still has children */
	struct stream	 out, err;
	enum front_side	 front;
	int		 to_front;	/* -1 once the front is answered */
	int		 pipe_broke;	/* the server's end: SETTLE is armed */
	int		 graced;	/* the CGI was given --grace */
	int		 reap_given_up;	/* REAP ran out after KILLED */
	int		 splice_ok;
	int		 widen_tried;
	size_t		 chunk;		/* bytes per splice */
	int		 finish_logged;
	int		 output_started;	/* the CGI has written to stdout */
	int		 gathered;	/* the first output has had its GATHER */
	char		 errline[1024];
	size_t		 errlen;
	unsigned long	 errlines;	/* stderr lines logged since the server left */
	unsigned long long errdropped;	/* and the bytes after them, discarded */
};

static const char *policy_path = CGIGUARD_CONF;	/* or --check's FILE */
static int policy_line;	/* the policy line being parsed; 0: none */
static int checking;	/* --check: say each finding, exit 1 at the end */
static int findings;
static struct request *the_request;
extern char **environ;

/* The one attribute: gcc's and clang's; elsewhere -DNORETURN=_Noreturn. */
#ifndef NORETURN
#define NORETURN	__attribute__((noreturn))
#endif

static NORETURN void leave(int);
static NORETURN void usage(void);
static void	 log_finished(struct keeper *);
static int	 server_listening(const struct keeper *);
static int	 relay(struct keeper *, struct stream *);
static NORETURN void die(int, const char *, ...);
static NORETURN void die_errno(int, const char *);
static NORETURN void usage_error(const char *, const char *);
static NORETURN void refuse_shebang(const char *, const char *);
static NORETURN void refuse_admin(const char *);
static void	 publish_state(const struct keeper *);

/* ---- leaving ------------------------------------------------------------- */

#ifdef CGIGUARD_FUZZ
static jmp_buf fuzz_escape;	/* under the fuzzer, leave() returns here */
#endif
static jmp_buf *bad_line;	/* --check: past a bad line, parsing goes on */

static NORETURN void
leave(int status)
{
#ifdef CGIGUARD_FUZZ
	longjmp(fuzz_escape, status + 1);
#else
	_exit(checking && status != 0 ? 1 : status);
#endif
}

/* ---- time ---------------------------------------------------------------- */

static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms as seconds with two decimals, rounded: "4.21s". */
static const char *
put_secs(char buf[32], long long ms)
{
	long long cs = ms < 0 ? 0 : (ms + 5) / 10;

	snprintf(buf, 32, "%lld.%02ds", cs / 100, (int)(cs % 100));
	return buf;
}

/* ---- signal names -------------------------------------------------------- */

static const struct { const char *name; int num; } signal_names[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
	{ "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
	{ "SYS", SIGSYS },
};

static const char *
signal_name(int sig)
{
	static char num[16];
	size_t i;

	for (i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (signal_names[i].num == sig)
			return signal_names[i].name;
	snprintf(num, sizeof(num), "%d", sig);
	return num;
}

static int
is_abandon_signal(int sig)
{
	return sig == SIGHUP || sig == SIGINT || sig == SIGQUIT ||
	    sig == SIGTERM;
}

/* ---- logging ------------------------------------------------------------- */

struct line {
	char	buf[2048];
	size_t	len;
};

static void
line_put(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

/*
 * Control bytes, bytes >= 0x7f, quotes and backslashes become \xHH: one
 * record, one line, whatever a client or a script's name holds.  Past max
 * bytes the value ends in "...".
 */
static void
line_escape(struct line *l, const char *value, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)value;
	char esc[4] = { '\\', 'x', 0, 0 };
	size_t i;

	for (i = 0; i < len; i++) {
		if (i == max - 3 && len - i > 3) {
			line_put(l, "...", 3);
			break;
		}
		if (p[i] < ' ' || p[i] >= 0x7f || p[i] == '"' || p[i] == '\\') {
			esc[2] = hex[p[i] >> 4];
			esc[3] = hex[p[i] & 15];
			line_put(l, esc, 4);
		} else
			line_put(l, value + i, 1);
	}
}

/* key=value, quoted if the value is empty or holds a space. */
static void
line_add_bytes(struct line *l, const char *key, const char *value, size_t len)
{
	int quote = len == 0 || memchr(value, ' ', len) != NULL;

	line_put(l, " ", 1);
	line_put(l, key, strlen(key));
	line_put(l, quote ? "=\"" : "=", quote ? 2 : 1);
	line_escape(l, value, len, FIELD_MAX);
	if (quote)
		line_put(l, "\"", 1);
}

static void
line_add(struct line *l, const char *key, const char *value)
{
	line_add_bytes(l, key, value, strlen(value));
}

static void
line_addf(struct line *l, const char *key, const char *fmt, ...)
{
	char value[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	line_add(l, key, value);
}

static void
line_start(struct line *l, const char *event)
{
	l->len = 0;
	l->buf[0] = '\0';
	line_put(l, "event=", 6);
	line_put(l, event, strlen(event));
}

/* A blocking full write: our own pipes (never let fill), the admin's output. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The server's descriptors and the log must never block the keeper, yet
 * O_NONBLOCK is not ours to set: the open file description is the server's,
 * and under mod_cgid it is also the CGI's stdin.  A socket takes
 * MSG_DONTWAIT.  A pipe that polls writable has a free buffer, and a write of
 * at most PIPE_BUF bytes then fits at once, unless another writer fills it
 * in between (a stderr pipe the server shares with others: see CAVEATS).  A
 * file does not wait for a reader.
 */
enum sink { SINK_FILE, SINK_PIPE, SINK_SOCKET };

static enum sink
sink_of(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return SINK_FILE;
	if (S_ISSOCK(st.st_mode))
		return SINK_SOCKET;
	return S_ISFIFO(st.st_mode) ? SINK_PIPE : SINK_FILE;
}

/* Writes what fits now: bytes written, or -1 (EAGAIN when nothing fits). */
static ssize_t
write_now(int fd, enum sink kind, const char *buf, size_t len)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	ssize_t n;

	if (kind == SINK_SOCKET) {
		do
			n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
	}
	if (kind == SINK_PIPE) {
		if (poll(&p, 1, 0) <= 0) {
			errno = EAGAIN;
			return -1;
		}
		if (len > PIPE_BUF)
			len = PIPE_BUF;
	}
	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* All of buf if it fits now; 0 if it did, -1 if any was dropped. */
static int
write_or_drop(int fd, enum sink kind, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write_now(fd, kind, buf, len)) <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Where records go.  syslog(3) is a blocking send on a full /dev/log, so we
 * speak the protocol ourselves on a non-blocking socket; a record that does
 * not fit is dropped and counted, and the next one says how many were.
 */
#ifndef CGIGUARD_SYSLOG
#define CGIGUARD_SYSLOG	"/dev/log"
#endif

enum log_target { LOG_SYSLOG, LOG_STDERR, LOG_FILE };

static enum log_target log_to = LOG_SYSLOG;
static int log_fd = -1;		/* the file, stderr, or the /dev/log socket */
static enum sink log_sink = SINK_SOCKET;
static unsigned long log_dropped;

static int
syslog_connect(void)
{
	struct sockaddr_un sa;

	if (log_fd >= 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, CGIGUARD_SYSLOG, sizeof(CGIGUARD_SYSLOG));
	log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (log_fd < 0)
		return -1;
	if (connect(log_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	close(log_fd);
	log_fd = -1;
	return -1;
}

static int
syslog_send(const char *rec, size_t len)
{
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (syslog_connect() < 0)
			return -1;
		if (write_now(log_fd, SINK_SOCKET, rec, len) == (ssize_t)len)
			return 0;
		if (errno == EAGAIN || errno == ENOBUFS)
			return -1;
		close(log_fd);	/* the daemon restarted: connect again */
		log_fd = -1;
	}
	return -1;
}

/* What joins a record to the server's access log; the client chose them. */
static const char *const request_vars[][2] = {
	{ "id", "UNIQUE_ID" }, { "method", "REQUEST_METHOD" },
	{ "uri", "REQUEST_URI" }, { "remote", "REMOTE_ADDR" },
};
#define NREQUEST_VARS (int)(sizeof(request_vars) / sizeof(request_vars[0]))
static char request_field[NREQUEST_VARS][FIELD_MAX + 2];	/* cut later */

/* Copied at the start: the environment is the CGI's, not ours to keep. */
static void
save_request_fields(void)
{
	const char *v;
	int i;

	for (i = 0; i < NREQUEST_VARS; i++)
		if ((v = getenv(request_vars[i][1])) != NULL)
			snprintf(request_field[i], sizeof(request_field[i]),
			    "%s", v);
}

/* "YYYY-MM-DDTHH:MM:SSZ " for t; "" if t is out of the calendar's range. */
static void
utc_stamp(char *buf, size_t size, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ ", &tm) == 0)
		buf[0] = '\0';
}

static void
log_line(struct line *l)
{
	char out[2200], stamp[32] = "";
	struct timespec ts;
	int n, i;

	for (i = 0; i < NREQUEST_VARS; i++)
		if (request_field[i][0] != '\0')
			line_add(l, request_vars[i][0], request_field[i]);
	if (log_dropped > 0)
		line_addf(l, "dropped", "%lu", log_dropped);
	if (log_to == LOG_FILE) {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		utc_stamp(stamp, sizeof(stamp), ts.tv_sec);
	}
	n = snprintf(out, sizeof(out), "%s%scgiguard[%ld]: %s\n",
	    log_to == LOG_SYSLOG ? "<29>" : "", stamp, (long)getpid(), l->buf);
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(out))
		n = (int)sizeof(out) - 1;
	if ((log_to == LOG_SYSLOG ? syslog_send(out, (size_t)n - 1) :
	    write_or_drop(log_fd, log_sink, out, (size_t)n)) < 0)
		log_dropped++;
	else
		log_dropped = 0;
}

/*
 * A record about the request: the script it is for, then the request's own
 * fields.  Only event=stderr, the CGI's own lines, goes without.
 */
static void
log_record(struct line *l)
{
	if (the_request != NULL && the_request->script != NULL)
		line_add(l, "script", the_request->script);
	log_line(l);
}

/*
 * "cgiguard: MSG" on stderr, the server's error log; never blocks.  MSG is
 * escaped as log values are: it may quote a client's or a script's bytes.
 */
static void
say(const char *msg)
{
	struct line l = { "cgiguard: ", 10 };

	line_escape(&l, msg, strlen(msg), sizeof(l.buf));
	if (l.len > sizeof(l.buf) - 2)
		l.len = sizeof(l.buf) - 2;
	l.buf[l.len++] = '\n';
	(void)write_or_drop(STDERR_FILENO, sink_of(STDERR_FILENO), l.buf,
	    l.len);
}

static void
log_to_stderr(void)
{
	log_to = LOG_STDERR;
	log_fd = STDERR_FILENO;
	log_sink = sink_of(STDERR_FILENO);
}

/*
 * The log is opened as the CGI's user, perhaps in a directory other users
 * can write: it must already be there as a regular file.  Nothing is created,
 * and a symlink, FIFO or device put in its place is refused.  A log that
 * cannot be opened must not take the site down: records go to stderr.
 */
static void
log_open(const char *target)
{
	char msg[PATH_MAX + 128];
	const char *why;
	struct stat st;

	if (target == NULL || strcmp(target, "syslog") == 0 ||
	    log_to != LOG_SYSLOG)	/* no target, or opened already */
		return;
	if (strcmp(target, "stderr") == 0) {
		log_to_stderr();
		return;
	}
	/* O_NONBLOCK: opening a FIFO for writing would wait for a reader. */
	log_fd = open(target, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY |
	    O_NOFOLLOW | O_NONBLOCK);
	if (log_fd >= 0 && fstat(log_fd, &st) == 0 && S_ISREG(st.st_mode)) {
		log_to = LOG_FILE;
		log_sink = SINK_FILE;
		return;
	}
	if (log_fd >= 0) {
		close(log_fd);
		log_fd = -1;
		why = "not a regular file";
	} else
		why = errno == ELOOP ? "a symlink (not followed)" :
		    errno == ENXIO ? "not a regular file" : strerror(errno);
	snprintf(msg, sizeof(msg), "--log: %s: %s; logging to stderr", target,
	    why);
	log_to_stderr();
	say(msg);
}

/* The server's stderr goes with the request; later records go to syslog. */
static void
log_detach_stderr(void)
{
	if (log_to == LOG_STDERR) {
		log_to = LOG_SYSLOG;
		log_fd = -1;
	}
}

static void
log_simple(const char *event, const char *key, const char *value)
{
	struct line l;

	line_start(&l, event);
	line_add(&l, key, value);
	log_record(&l);
}

/* ---- errors -------------------------------------------------------------- */

static const char fixed_504[] =
    "Status: 504 Gateway Timeout\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "The script did not answer in time.\n";

static const char fixed_500[] =
    "Status: 500 Internal Server Error\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "The server could not run this script.\n";

/* On stderr and in the log, once: the log may be stderr. */
static void
report(const char *event, const char *msg)
{
	if (log_to != LOG_STDERR)
		say(msg);
	log_simple(event, "reason", msg);
}

/* A program that is not there is 127, as the shells say; not runnable 126. */
static int
not_run_status(int err)
{
	return err == ENOENT || err == ENOTDIR ? EXIT_ENOENT : EXIT_CANNOT;
}

/*
 * Every failure before the CGI runs ends here, in the front or the keeper:
 * one line on stderr (the server's error log), a record in the log, and in
 * CGI context a fixed 500 page instead of a half-started response.
 */
static void
fail_request(int status, const char *msg)
{
	char line[PATH_MAX + 512];

	if (policy_line > 0)
		snprintf(line, sizeof(line), "%s:%d: %s", policy_path,
		    policy_line, msg);
	else
		snprintf(line, sizeof(line), "%s", msg);
	if (checking) {
		say(line);
		findings++;
		return;
	}
	report(status == EXIT_CANNOT ? "refused" : "failed", line);
	if (the_request != NULL && the_request->cgi_context)
		(void)write_or_drop(STDOUT_FILENO, sink_of(STDOUT_FILENO),
		    fixed_500, sizeof(fixed_500) - 1);
}

static int
fail_request_errno(int status, const char *what)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));
	fail_request(status, msg);
	return status;
}

static NORETURN void
die(int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_request(status, msg);
	if (bad_line != NULL && policy_line > 0)
		longjmp(*bad_line, 1);
	leave(status);
}

/* "WHAT: strerror(errno)", the shape of most failures. */
static NORETURN void
die_errno(int status, const char *what)
{
	leave(fail_request_errno(status, what));
}

static NORETURN void
usage_error(const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	die(EXIT_FAILED, "%s (see cgiguard --help)", msg);
}

/* ---- value parsers ------------------------------------------------------- */

/*
 * Decimal digits, no blank and no sign, as strtoull reads them: past its
 * range the value is ULLONG_MAX, which every caller's range refuses.
 */
static const char *
parse_digits(const char *s, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return NULL;
	*v = strtoull(s, &end, 10);
	return end;
}

static long long
parse_duration(const char *opt, const char *s)
{
	unsigned long long whole, frac = 0, unit = 1000, scale = 1;
	int digits = 0;
	const char *p;

	if ((p = parse_digits(s, &whole)) == NULL)
		die(EXIT_FAILED, "%s: invalid duration '%s'", opt, s);
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
			frac = frac * 10 + (unsigned)(*p - '0');
		if (digits == 0 || (*p >= '0' && *p <= '9'))
			die(EXIT_FAILED, "%s: invalid duration '%s'", opt, s);
	}
	for (; digits < 3; digits++)
		scale *= 10;
	if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "") == 0 || strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60000;
	else if (strcmp(p, "h") == 0)
		unit = 3600000;
	else
		die(EXIT_FAILED, "%s: invalid duration '%s'", opt, s);
	if (whole > (unsigned long long)MAX_DURATION_MS ||
	    whole * unit + frac * scale * unit / 1000 >
	    (unsigned long long)MAX_DURATION_MS)
		die(EXIT_FAILED, "%s: duration out of range '%s'", opt, s);
	return (long long)(whole * unit + frac * scale * unit / 1000);
}

static rlim_t
parse_size(const char *opt, const char *s)
{
	unsigned long long v, unit = 1;
	const char *p;

	if ((p = parse_digits(s, &v)) == NULL)
		die(EXIT_FAILED, "%s: invalid size '%s'", opt, s);
	if (strcmp(p, "k") == 0 || strcmp(p, "K") == 0)
		unit = 1024;
	else if (strcmp(p, "M") == 0)
		unit = 1024 * 1024;
	else if (strcmp(p, "G") == 0)
		unit = 1024 * 1024 * 1024;
	else if (*p != '\0')
		die(EXIT_FAILED, "%s: invalid size '%s'", opt, s);
	if (v > (unsigned long long)(rlim_t)-1 / 2 / unit)
		die(EXIT_FAILED, "%s: size out of range '%s'", opt, s);
	return (rlim_t)(v * unit);
}

static long
parse_number(const char *opt, const char *s, long min, long max)
{
	unsigned long long v;
	int neg = (*s == '-');
	const char *p;

	if ((p = parse_digits(s + neg, &v)) == NULL || *p != '\0')
		die(EXIT_FAILED, "%s: invalid number '%s'", opt, s);
	if (v > (unsigned long long)LONG_MAX ||
	    (neg ? -(long)v : (long)v) < min ||
	    (neg ? -(long)v : (long)v) > max)
		die(EXIT_FAILED, "%s: number out of range '%s'", opt, s);
	return neg ? -(long)v : (long)v;
}

static int
parse_signal(const char *opt, const char *s)
{
	const char *name = s;
	unsigned long long v;
	const char *p;
	size_t i;

	if (strcmp(s, "none") == 0)
		return 0;
	if ((p = parse_digits(s, &v)) != NULL) {
		if (*p == '\0' && v >= 1 && v < NSIG)
			return (int)v;
		die(EXIT_FAILED, "%s: unknown signal '%s'", opt, s);
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (strcasecmp(name, signal_names[i].name) == 0)
			return signal_names[i].num;
	die(EXIT_FAILED, "%s: unknown signal '%s'", opt, s);
	return -1;
}

static mode_t
parse_mode(const char *opt, const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 8);

	if (*s < '0' || *s > '7' || *end != '\0' || v > 0777)
		die(EXIT_FAILED, "%s: invalid mode '%s'", opt, s);
	return (mode_t)v;
}

/* ---- options ------------------------------------------------------------- */

static void
set_limit(struct config *cf, enum limit which, rlim_t v)
{
	cf->limit_set[which] = 1;
	cf->limit[which] = v;
}

static int	 env_matches(const char *, const char *const *);

/*
 * Names the server sets that --clean-env should let through (gitweb's
 * GITWEB_CONFIG, say).  Never a request header, which the client chooses,
 * nor a variable that is always dropped.
 */
static void
add_pass_env(struct config *cf, const char *opt, const char *list)
{
	char name[128];
	size_t len;
	const char *p;

	for (p = list; ; p += len + 1) {
		len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(name) - 1 ||
		    strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_") != len || (*p >= '0' && *p <= '9'))
			die(EXIT_FAILED, "%s: '%.*s' is not a variable name",
			    opt, (int)len, p);
		snprintf(name, sizeof(name), "%.*s=", (int)len, p);
		if (strncmp(name, "HTTP_", 5) == 0)
			die(EXIT_FAILED, "%s: '%.*s' is a request header, which "
			    "the client chooses", opt, (int)len, p);
		if (env_matches(name, unsafe_env))
			die(EXIT_FAILED, "%s: '%.*s' is never passed", opt,
			    (int)len, p);
		if (p[len] == '\0')
			break;
	}
	if (cf->npass_env == MAX_PASS_ENV)
		die(EXIT_FAILED, "%s: more than %d lists", opt, MAX_PASS_ENV);
	cf->pass_env[cf->npass_env++] = list;
}

static void
apply_option(struct config *cf, enum opt_id id, const char *v)
{
	char opt[32];

	snprintf(opt, sizeof(opt), "--%s", options[id].name);
	switch (id) {
	case O_GRACE:
		cf->grace_ms = parse_duration(opt, v);
		cf->grace_set = 1;
		break;
	case O_TIMEOUT:
		cf->timeout_ms = parse_duration(opt, v);
		cf->timeout_set = 1;
		break;
	case O_SIGNAL:
		cf->stop_signal = parse_signal(opt, v);
		cf->signal_set = 1;
		break;
	case O_LOG:
		if (strcmp(v, "syslog") != 0 && strcmp(v, "stderr") != 0 &&
		    v[0] != '/')
			die(EXIT_FAILED, "%s: '%s' is not an absolute path",
			    opt, v);
		cf->log = v;
		break;
	case O_VERBOSE:	cf->verbose = 1; break;
	case O_CPU:	/* the limits: enum limit in the options' order */
	case O_NPROC:
	case O_NOFILE:
		set_limit(cf, (enum limit)(id - O_CPU), (rlim_t)parse_number(opt,
		    v, id == O_NOFILE ? 3 : 1, 1L << 30));
		break;
	case O_MEM:
	case O_FSIZE:
	case O_CORE:
		set_limit(cf, (enum limit)(id - O_CPU), parse_size(opt, v));
		break;
	case O_NICE:
		cf->nice = (int)parse_number(opt, v, -20, 19);
		cf->nice_set = 1;
		break;
	case O_UMASK:
		cf->umask = parse_mode(opt, v);
		cf->umask_set = 1;
		break;
	case O_CLEAN_ENV: cf->clean_env = 1; break;
	case O_PASS_ENV: add_pass_env(cf, opt, v); break;
	case O_HELP:	usage(); break;
	case O_VERSION:
		(void)write_all(STDOUT_FILENO, "cgiguard " VERSION "\n",
		    sizeof("cgiguard " VERSION "\n") - 1);
		leave(0);
	case O_LIST:
	case O_DRAIN:
	case O_CHECK:	refuse_admin(options[id].name);
	}
}

static int
find_long(const char *name, size_t len)
{
	int i;

	for (i = 0; i < NOPTIONS; i++)
		if (strlen(options[i].name) == len &&
		    strncmp(options[i].name, name, len) == 0)
			return i;
	return -1;
}

/*
 * The value attached to the option word, else the next word of its list;
 * returns how many words the option used.
 */
static int
take_value(struct config *cf, int id, const char *attached, char **w, int left)
{
	if (attached == NULL && left < 2)
		die(EXIT_FAILED, "option '--%s' needs a value",
		    options[id].name);
	apply_option(cf, (enum opt_id)id, attached != NULL ? attached : w[1]);
	return attached != NULL ? 1 : 2;
}

/* "--name[=value]"; returns how many words it used. */
static int
parse_long(struct config *cf, char **w, int left)
{
	const char *name = w[0] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	int id = find_long(name, len);

	if (id < 0) {
		char opt[64];

		snprintf(opt, sizeof(opt), "--%.*s", (int)(len > 40 ? 40 : len),
		    name);
		usage_error("unknown option '%s'", opt);
	}
	if (id >= O_LIST)
		refuse_admin(options[id].name);
	if (!options[id].takes_value) {
		if (eq != NULL)
			die(EXIT_FAILED, "option '--%s' takes no value",
			    options[id].name);
		apply_option(cf, (enum opt_id)id, NULL);
		return 1;
	}
	return take_value(cf, id, eq ? eq + 1 : NULL, w, left);
}

/* "-x", "-xVALUE", "-x VALUE", "-vx VALUE"; returns how many words it used. */
static int
parse_short(struct config *cf, char **w, int left)
{
	const char *p;
	int id;

	for (p = w[0] + 1; *p != '\0'; p++) {
		for (id = 0; id < NOPTIONS && options[id].short_name != *p; id++)
			;
		if (id == NOPTIONS) {
			char opt[3] = { '-', *p, '\0' };

			usage_error("unknown option '%s'", opt);
		}
		if (!options[id].takes_value) {
			apply_option(cf, (enum opt_id)id, NULL);
			continue;
		}
		return take_value(cf, id, p[1] != '\0' ? p + 1 : NULL, w, left);
	}
	return 1;
}

/* Options up to the first non-option or "--"; returns the program's index. */
static int
parse_options(struct config *cf, int n, char **w)
{
	int i = 0;

	while (i < n) {
		if (strcmp(w[i], "--") == 0)
			return i + 1;
		if (strncmp(w[i], "--", 2) == 0)
			i += parse_long(cf, w + i, n - i);
		else if (w[i][0] == '-' && w[i][1] != '\0')
			i += parse_short(cf, w + i, n - i);
		else
			break;
	}
	return i;
}

static NORETURN void
usage(void)
{
	static const char text[] =
"usage: cgiguard [options] [--] program [arg ...]\n"
"       #!/path/to/cgiguard [options] /absolute/interpreter [arg ...]\n"
"       cgiguard --list | --drain[=DURATION]\n"
"       cgiguard --check[=FILE] [script]\n"
"\n"
"Run a CGI program so that the web server abandoning the request (SIGTERM,\n"
"then SIGKILL) cannot kill it half-way: the CGI runs in its own session and\n"
"gets the stop signal once, then --grace to finish.\n"
"\n"
"  -g, --grace=DURATION   time the CGI may run once abandoned or after its\n"
"                         output ended (default 30s)\n"
"  -t, --timeout=DURATION overall limit from start; expiry abandons (0: none);\n"
"                         a CGI silent until then gets a 504 response\n"
"  -s, --signal=SIG|none  signal the CGI gets when abandoned, then CONT\n"
"                         (default TERM, whatever ended the request)\n"
"  -l, --log=syslog|stderr|FILE  where events go (default syslog); FILE\n"
"                         must exist as a regular file (never created, no\n"
"                         symlink); one that cannot be opened: stderr\n"
"  -v, --verbose          log every request\n"
"      --cpu=SECONDS --mem=SIZE --nproc=N --fsize=SIZE --nofile=N\n"
"      --core=SIZE        resource limits (soft and hard) set before exec\n"
"      --nice=N           add N to the CGI's niceness\n"
"      --umask=MODE       the CGI's umask (octal)\n"
"      --clean-env        pass only CGI variables and a safe PATH\n"
"      --pass-env=NAME[,NAME...]  with --clean-env, pass these too\n"
"      --list             print the requests shielded now, one per line\n"
"      --drain[=DURATION] wait until no request is shielded in this cgroup,\n"
"                         at most DURATION (default 30s)\n"
"      --check[=FILE] [SCRIPT]  check the policy file (or FILE); with\n"
"                         SCRIPT, show what a request for it by this user\n"
"                         would run with; exit 1 on any error or refusal\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n"
"\n"
"DURATION: number with optional ms, s (default), m or h suffix.\n"
"SIZE: number with optional k, M or G suffix (powers of 1024).\n"
"\n"
"With no process to spare (RLIMIT_NPROC) the CGI runs unshielded, as it\n"
"would without cgiguard, and the log says event=unshielded.\n"
"\n"
"Exit status:\n"
"  the CGI's own, or 128+N if it died of signal N; 0 if it still runs\n"
"         50 ms after its output ended\n"
"  128+N  the server sent abandon signal N (TERM, INT, HUP, QUIT)\n"
"  141    the server's end of stdout broke\n"
"  124    --timeout fired, or --drain ran out of time\n"
"  125    cgiguard itself failed (usage, resources, output error)\n"
"  126    program found but not runnable, or refused\n"
"  127    program not found\n";

	(void)write_all(STDOUT_FILENO, text, sizeof(text) - 1);
	leave(0);
}

/* ---- reading files ------------------------------------------------------- */

/* Until EOF or size bytes: how many were read, or -1. */
static ssize_t
read_up_to(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size && (n = read(fd, buf + len, size - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

/* The start of the file at path, as read_up_to; errno is kept on failure. */
static ssize_t
read_path(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd, err;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -1;
	n = read_up_to(fd, buf, size);
	err = errno;
	close(fd);
	errno = err;
	return n;
}

/* ---- the #! form --------------------------------------------------------- */

static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int
is_script(const char *path)
{
	char head[2];

	return read_path(path, head, 2) == 2 && memcmp(head, "#!", 2) == 0;
}

/*
 * What the kernel executed to start us, as named in execve: AT_EXECFN.  If
 * that file is a #! script, we are its interpreter; if it is not, it is
 * cgiguard itself.  Neither needs /proc, which a chroot or a minimal
 * container may lack.
 */
enum exec_file {
	EXEC_UNKNOWN,	/* unreadable, or no AT_EXECFN (not Linux) */
	EXEC_SCRIPT,
	EXEC_SELF
};

static const char *
exec_filename(void)
{
#ifdef LINUX_EXTRAS
	return (const char *)getauxval(AT_EXECFN);
#else
	return NULL;
#endif
}

/* Its start is kept in rq->head; EXEC_UNKNOWN sets *err to why not. */
static enum exec_file
exec_file(struct request *rq, const char *fn, int *err)
{
	ssize_t n;

	*err = ENOSYS;
	if (fn == NULL)
		return EXEC_UNKNOWN;
	if ((n = read_path(fn, rq->head, sizeof(rq->head))) >= 0) {
		rq->head_len = (size_t)n;
		return n >= 2 && memcmp(rq->head, "#!", 2) == 0 ? EXEC_SCRIPT :
		    EXEC_SELF;
	}
	*err = errno;
#ifdef LINUX_EXTRAS
	/* An execute-only cgiguard: /proc still names it, if mounted. */
	if (same_file(fn, "/proc/self/exe"))
		return EXEC_SELF;
#endif
	return EXEC_UNKNOWN;
}

/* The server ran cgiguard itself for the request: Apache's Action. */
static int
server_ran_us(enum exec_file ran, const char *fn, const char *sf)
{
	if (fn == NULL)	/* no way to name our file: any non-script may be us */
		return !is_script(sf);
	return ran == EXEC_SELF && same_file(fn, sf);
}

static NORETURN void
refuse_shebang(const char *script, const char *why)
{
	die(EXIT_CANNOT, "#! line of %s: %s", script, why);
}

/* The length of the script's first line; refuses what the kernel would cut. */
static size_t
first_line(const struct request *rq, const char *script)
{
	const char *nl = memchr(rq->head, '\n', rq->head_len);

	if (nl == NULL && rq->head_len == sizeof(rq->head))
		refuse_shebang(script,
		    "line longer than 255 bytes (the kernel truncates it)");
	return nl != NULL ? (size_t)(nl - rq->head) : rq->head_len;
}

/*
 * The script's #! line as the kernel splits it, into line: w[0] the
 * interpreter, w[1] its one argument or NULL; w[0] is NULL where there is no
 * #! line.  The script's start is kept in rq->head; -1 if it cannot be read.
 */
static int
split_shebang(struct request *rq, const char *script,
    char line[SHEBANG_MAX + 1], char *w[2])
{
	ssize_t n = read_path(script, rq->head, sizeof(rq->head));
	char *p;

	w[0] = w[1] = NULL;
	if (n < 0)
		return -1;
	rq->head_len = (size_t)n;
	memcpy(line, rq->head, rq->head_len);
	line[rq->head_len] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (strncmp(line, "#!", 2) != 0)
		return 0;
	w[0] = line + 2 + strspn(line + 2, " \t");
	p = w[0] + strcspn(w[0], " \t");
	if (*p != '\0') {
		*p++ = '\0';
		w[1] = p + strspn(p, " \t");
	}
	return 0;
}

static const char *
skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* The file must say "#!" interp arg, exactly what the kernel handed us. */
static void
check_shebang_line(const struct request *rq, const char *script,
    const char *interp, const char *arg)
{
	const char *buf = rq->head;
	size_t len = first_line(rq, script);
	const char *p = buf + 2, *end = buf + len;
	size_t ni = strlen(interp), na = strlen(arg);

	if (len > 0 && buf[len - 1] == '\r')
		refuse_shebang(script, "line ends in CR (DOS line ends)");
	p = skip_blanks(p, end);
	if (len < 2 || memcmp(buf, "#!", 2) != 0 || (size_t)(end - p) < ni ||
	    memcmp(p, interp, ni) != 0)
		refuse_shebang(script, "does not name cgiguard");
	p = skip_blanks(p + ni, end);
	if ((size_t)(end - p) < na || memcmp(p, arg, na) != 0 ||
	    skip_blanks(p + na, end) != end)
		refuse_shebang(script, "does not match its arguments");
}

/* Splits the one #! argument on blanks; nothing in it is interpreted. */
static int
split_words(const char *script, char *arg, char **w)
{
	char *p, *save = NULL;
	int n = 0;

	for (p = arg; *p != '\0'; p++) {
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f ||
		    strchr("\"'\\$`", *p) != NULL)
			die(EXIT_CANNOT, "#! line of %s: invalid character in "
			    "'%s'", script, arg);
	}
	for (p = strtok_r(arg, " \t", &save); p != NULL;
	    p = strtok_r(NULL, " \t", &save)) {
		if (n == MAX_SHEBANG_WORDS)
			refuse_shebang(script, "too many words");
		w[n++] = p;
	}
	return n;
}

static void
read_shebang(struct request *rq, int argc, char **argv)
{
	const char *script = argv[2], *sf;
	char *w[MAX_SHEBANG_WORDS];
	int nw, i, j, k = 0;

	check_shebang_line(rq, script, argv[0], argv[1]);
	nw = split_words(script, argv[1], w);
	i = parse_options(&rq->cf, nw, w);
	if (i == nw)
		refuse_shebang(script, "missing interpreter");
	if (w[i][0] != '/')
		die(EXIT_CANNOT, "#! line of %s: interpreter '%s' is not an "
		    "absolute path", script, w[i]);
	if (same_file(w[i], argv[0]))	/* argv[0]: the #! line's, so us */
		refuse_shebang(script, "interpreter is cgiguard itself");
	/* The interpreter and its words, the script, its arguments, NULL. */
	if ((rq->argv = calloc((size_t)(nw - i + argc - 1),
	    sizeof(char *))) == NULL)
		die_errno(EXIT_FAILED, "calloc");
	for (j = i; j < nw; j++)
		rq->argv[k++] = w[j];
	for (j = 2; j < argc; j++)
		rq->argv[k++] = argv[j];
	rq->path = w[i];
	/* suexec runs the script by its bare name: SCRIPT_FILENAME is its path. */
	sf = getenv("SCRIPT_FILENAME");
	rq->script = sf != NULL && same_file(sf, script) ? sf : script;
}

/* ---- admin policy ------------------------------------------------------- */

/* The admin's file: options for the handler forms, caps for the rest. */
struct policy {
	int		 present;
	struct config	 cf;		/* what the file sets, and *_set */
	const char	*root[MAX_ROOTS];
	int		 nroots;
	int		 allow_root;
	int		 refuse_own;
	int		 cap_user_set, cap_user;	/* survivors per user */
	int		 cap_script_set, cap_script;	/* per script */
};

static struct policy policy;

static int
parse_yes_no(const char *name, const char *v)
{
	if (strcmp(v, "yes") == 0)
		return 1;
	if (strcmp(v, "no") != 0)
		die(EXIT_FAILED, "%s: expected yes or no, not '%s'", name, v);
	return 0;
}

/* "/srv//www/" is "/srv/www"; "/" stays "/": roots compare as prefixes. */
static char *
normalise_dir(char *dir)
{
	char *from, *to;

	for (from = to = dir; *from != '\0'; from++)
		if (*from != '/' || to == dir || to[-1] != '/')
			*to++ = *from;
	if (to > dir + 1 && to[-1] == '/')
		to--;
	*to = '\0';
	return dir;
}

static void
policy_setting(const char *name, char *value)
{
	int id = find_long(name, strlen(name));

	if (strcmp(name, "root") == 0) {
		if (value[0] != '/')
			die(EXIT_FAILED, "root: '%s' is not an absolute path",
			    value);
		if (policy.nroots == MAX_ROOTS)
			die(EXIT_FAILED, "root: more than %d roots", MAX_ROOTS);
		policy.root[policy.nroots++] = normalise_dir(value);
	} else if (strcmp(name, "allow-root") == 0)
		policy.allow_root = parse_yes_no(name, value);
	else if (strcmp(name, "refuse-own-files") == 0)
		policy.refuse_own = parse_yes_no(name, value);
	else if (strcmp(name, "survivors-per-user") == 0) {
		policy.cap_user = (int)parse_number(name, value, 0, 1L << 20);
		policy.cap_user_set = 1;
	} else if (strcmp(name, "survivors-per-script") == 0) {
		policy.cap_script = (int)parse_number(name, value, 0, 1L << 20);
		policy.cap_script_set = 1;
	}
	else if (id < 0 || id >= O_HELP)
		die(EXIT_FAILED, "unknown setting '%s'", name);
	else if (!options[id].takes_value) {
		if (parse_yes_no(name, value))
			apply_option(&policy.cf, (enum opt_id)id, NULL);
	} else
		apply_option(&policy.cf, (enum opt_id)id, value);
}

/* Trusted only if root alone can change it: the file and every directory above. */
static void
check_policy_owner(int fd)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022))
		die(EXIT_FAILED, "%s: not a regular file that only root can "
		    "change", policy_path);
	snprintf(dir, sizeof(dir), "%s", policy_path);
	while ((slash = strrchr(dir, '/')) != NULL) {
		slash[slash == dir] = '\0';
		if (stat(dir, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022))
			die(EXIT_FAILED, "%s: directory %s is not owned by root "
			    "or is writable by others", policy_path, dir);
		if (slash == dir)
			break;
	}
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); )
		*--e = '\0';
	return s;
}

static void
parse_policy_line(char *line)
{
	char *eq;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return;
	if ((eq = strchr(line, '=')) == NULL)
		die(EXIT_FAILED, "expected 'name = value'");
	*eq = '\0';
	policy_setting(trim(line), trim(eq + 1));
}

/* Under --check a bad line is told, and parsing goes on with the next. */
static void
parse_policy_line_or_tell(char *line)
{
	jmp_buf after_bad_line;

	if (checking) {
		bad_line = &after_bad_line;
		if (setjmp(after_bad_line) != 0) {
			bad_line = NULL;
			return;
		}
	}
	parse_policy_line(line);
	bad_line = NULL;
}

/* "name = value" lines; '#' starts a comment line. */
static void
parse_policy(char *text)
{
	char *line, *next;

	for (line = text, policy_line = 1; line != NULL; line = next,
	    policy_line++) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		parse_policy_line_or_tell(line);
	}
	policy_line = 0;
}

/* No file, no policy; a file anyone but root can change is refused. */
static void
read_policy(void)
{
	static char text[POLICY_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd;

	memset(&policy, 0, sizeof(policy));
	if (lstat(policy_path, &st) < 0 && errno == ENOENT && !checking)
		return;
	fd = open(policy_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		die_errno(EXIT_FAILED, policy_path);
	check_policy_owner(fd);
	/* All of it, or a refusal: a policy cut short would pass as a weaker one. */
	if ((n = read_up_to(fd, text, POLICY_MAX + 1)) < 0)
		die_errno(EXIT_FAILED, policy_path);
	if (n > POLICY_MAX)
		die(EXIT_FAILED, "%s: larger than %d bytes", policy_path,
		    POLICY_MAX);
	text[n] = '\0';
	close(fd);
	policy.present = 1;
	parse_policy(text);
}

static mode_t
current_umask(void)
{
	mode_t m = umask(077);

	umask(m);
	return m;
}

/* What a #! line or wrapper asks can only be tightened by the policy. */
static void
apply_caps(struct config *cf, const struct config *cap)
{
	int i;

	if (cap->grace_set && cf->grace_ms > cap->grace_ms)
		cf->grace_ms = cap->grace_ms;
	if (cap->timeout_set && cap->timeout_ms > 0 && (cf->timeout_ms == 0 ||
	    cf->timeout_ms > cap->timeout_ms))
		cf->timeout_ms = cap->timeout_ms;
	for (i = 0; i < NLIMITS; i++)
		if (cap->limit_set[i] && (!cf->limit_set[i] ||
		    cf->limit[i] > cap->limit[i]))
			set_limit(cf, (enum limit)i, cap->limit[i]);
	if (cap->nice_set && (!cf->nice_set || cf->nice < cap->nice)) {
		cf->nice = cap->nice;
		cf->nice_set = 1;
	}
	if (cap->umask_set) {
		cf->umask = (cf->umask_set ? cf->umask : current_umask()) |
		    cap->umask;
		cf->umask_set = 1;
	}
	if (cap->log != NULL)
		cf->log = cap->log;
	cf->verbose |= cap->verbose;
	if (cap->clean_env)	/* then only the policy says what passes */
		cf->npass_env = 0;
	cf->clean_env |= cap->clean_env;
	for (i = 0; i < cap->npass_env; i++)
		cf->pass_env[cf->npass_env++] = cap->pass_env[i];
}

/* Handler forms take the admin's options; the rest are capped by them. */
static void
apply_policy(struct request *rq)
{
	if (!policy.present || (!rq->cgi_context && rq->form != FORM_SHEBANG))
		return;
	if (rq->form == FORM_HANDLER || rq->form == FORM_ACTION) {
		if (policy.cf.grace_set)
			rq->cf.grace_ms = policy.cf.grace_ms;
		if (policy.cf.signal_set)
			rq->cf.stop_signal = policy.cf.stop_signal;
	}
	apply_caps(&rq->cf, &policy.cf);
}

/* ---- target checks ------------------------------------------------------- */

struct open_how_compat {		/* struct open_how, linux/openat2.h */
	unsigned long long	flags, mode, resolve;
};
#define RESOLVE_NO_SYMLINKS_COMPAT	0x04
#define RESOLVE_BENEATH_COMPAT		0x08

#if defined(LINUX_EXTRAS) && defined(O_PATH)
#define O_LOOKUP	O_PATH
#else
#define O_LOOKUP	O_RDONLY
#endif

/* Fallback: one component at a time, no symlinks, no "..". */
static int
walk_nofollow(int dirfd, char *rel)
{
	char *comp, *save = NULL;
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0), next;

	for (comp = strtok_r(rel, "/", &save); comp != NULL && fd >= 0;
	    comp = strtok_r(NULL, "/", &save)) {
		if (strcmp(comp, "..") == 0) {
			close(fd);
			errno = EXDEV;
			return -1;
		}
		next = openat(fd, comp, O_LOOKUP | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(fd);
		fd = next;
	}
	return fd;
}

/*
 * The directory `rel` names, reached from root without leaving it and
 * through no symlink at all (as suexec refuses one): openat2 where the kernel
 * has it, the same rule by hand where not.
 */
static int
open_dir_beneath(int rootfd, char *rel)
{
#if defined(LINUX_EXTRAS) && defined(SYS_openat2)
	struct open_how_compat how = { O_LOOKUP | O_DIRECTORY | O_CLOEXEC, 0,
	    RESOLVE_BENEATH_COMPAT | RESOLVE_NO_SYMLINKS_COMPAT };
	int fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how,
	    sizeof(how));

	if (fd >= 0 || errno != ENOSYS)
		return fd;
#endif
	return walk_nofollow(rootfd, rel);
}

/* The root path lies beneath; sets *skip to the bytes before its "/rel". */
static const char *
root_of(const char *path, size_t *skip)
{
	size_t len;
	int i;

	for (i = 0; i < policy.nroots; i++) {
		len = strcmp(policy.root[i], "/") == 0 ? 0 :
		    strlen(policy.root[i]);
		if (strncmp(path, policy.root[i], len) == 0 &&
		    path[len] == '/') {
			*skip = len;
			return policy.root[i];
		}
	}
	return NULL;
}

static void
check_target_modes(const char *path, const struct stat *st,
    const struct stat *dir)
{
	if (S_ISLNK(st->st_mode))
		die(EXIT_CANNOT, "%s: a symlink (not followed)", path);
	if (!S_ISREG(st->st_mode))
		die(EXIT_CANNOT, "%s: not a regular file", path);
	if (st->st_mode & (S_ISUID | S_ISGID))
		die(EXIT_CANNOT, "%s: set-user-ID or set-group-ID", path);
	if (st->st_mode & 022)
		die(EXIT_CANNOT, "%s: writable by group or others", path);
	if (dir->st_mode & 022)
		die(EXIT_CANNOT, "%s: its directory is writable by group or "
		    "others", path);
	if (policy.refuse_own && st->st_uid == getuid())
		die(EXIT_CANNOT, "%s: owned by the user it would run as", path);
}

/* A #! script where no root is named: the mode rules only. */
static void
check_script_modes(const char *path)
{
	char dir[PATH_MAX], *slash;
	struct stat st, dst;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir] = '\0';
	if (lstat(path, &st) < 0 || stat(dir, &dst) < 0)
		die_errno(EXIT_CANNOT, path);
	check_target_modes(path, &st, &dst);
}

/* Opened once beneath its root; every check is on that descriptor. */
static void
check_beneath_root(struct request *rq, const char *path)
{
	char rel[PATH_MAX], *base;
	size_t skip = 0;
	const char *root = path[0] == '/' ? root_of(path, &skip) : NULL;
	struct stat st, dir;
	int rootfd, dirfd, fd;

	if (root == NULL)
		die(EXIT_CANNOT, "%s: not beneath a root named in %s", path,
		    policy_path);
	snprintf(rel, sizeof(rel), "%s", path + skip);
	base = strrchr(rel, '/');
	*base++ = '\0';
	if ((rootfd = open(root, O_LOOKUP | O_DIRECTORY | O_CLOEXEC)) < 0)
		die_errno(EXIT_CANNOT, root);
	dirfd = open_dir_beneath(rootfd, rel[0] == '/' ? rel + 1 : rel);
	fd = dirfd < 0 ? -1 : openat(dirfd, base, O_LOOKUP | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		die(not_run_status(errno), "%s: %s", path,
		    errno == EXDEV || errno == ELOOP ?
		    "leaves its root or passes a symlink" : strerror(errno));
	if (fstat(fd, &st) < 0 || fstat(dirfd, &dir) < 0)
		die_errno(EXIT_CANNOT, path);
	check_target_modes(path, &st, &dir);
	rq->target = path;
	rq->target_dev = st.st_dev;
	rq->target_ino = st.st_ino;
	close(fd);
	close(dirfd);
	close(rootfd);
}

/* ---- handler mode -------------------------------------------------------- */

/* The leading part of PATH_TRANSLATED that is a regular file is the script. */
static const char *
split_translated(const char *pt, const char **rest)
{
	static char buf[PATH_MAX];
	struct stat st;
	char *p, c;

	if (pt == NULL || pt[0] != '/' ||
	    snprintf(buf, sizeof(buf), "%s", pt) >= (int)sizeof(buf))
		die(EXIT_CANNOT, "handler: no usable PATH_TRANSLATED");
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (stat(buf, &st) < 0)
			die(not_run_status(errno), "%s: %s", buf,
			    strerror(errno));
		if (S_ISREG(st.st_mode)) {
			*rest = pt + (p - buf);
			return buf;
		}
		if (c == '\0' || !S_ISDIR(st.st_mode))
			die(EXIT_CANNOT, "%s: not a regular file", buf);
		*p = c;
	}
}

static void
set_env(const char *name, const char *value)
{
	if ((value != NULL ? setenv(name, value, 1) : unsetenv(name)) < 0)
		die_errno(EXIT_FAILED, "setenv");
}

/* The CGI sees what it would see if the server had run it directly. */
static void
set_handler_env(const char *target, const char *rest)
{
	const char *pi = getenv("PATH_INFO"), *dr = getenv("DOCUMENT_ROOT");
	size_t np = pi ? strlen(pi) : 0, nr = strlen(rest);
	char buf[PATH_MAX];

	set_env("SCRIPT_FILENAME", target);
	if (pi != NULL && np >= nr && strcmp(pi + np - nr, rest) == 0) {
		snprintf(buf, sizeof(buf), "%.*s", (int)(np - nr), pi);
		set_env("SCRIPT_NAME", buf);
	}
	snprintf(buf, sizeof(buf), "%s%s", dr ? dr : "", rest);
	set_env("PATH_INFO", *rest ? rest : NULL);
	set_env("PATH_TRANSLATED", *rest && dr ? buf : NULL);
}

/* Apache Action: argv holds only client words, never options or a program. */
static void
read_action(struct request *rq, char **argv)
{
	const char *rs = getenv("REDIRECT_STATUS"), *target, *rest;

	if (rs == NULL || strcmp(rs, "200") != 0 ||
	    getenv("REDIRECT_URL") == NULL)
		die(EXIT_CANNOT, "direct request to the handler refused");
	if (policy.nroots == 0)
		die(EXIT_CANNOT, "handler mode needs a root in %s",
		    policy_path);
	target = split_translated(getenv("PATH_TRANSLATED"), &rest);
	rq->argv = argv;		/* the target in our place, the words after */
	rq->argv[0] = (char *)target;
	rq->path = rq->script = target;
	rq->form = FORM_ACTION;
	set_handler_env(target, rest);
}

/* Apache runs a CGI in its own directory; so do we, in its place. */
static void
enter_script_dir(const struct request *rq)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", rq->path);
	if ((slash = strrchr(dir, '/')) == NULL)
		return;
	slash[slash == dir] = '\0';
	if (chdir(dir) < 0)
		die_errno(EXIT_CANNOT, dir);
}

/* ---- invocation ---------------------------------------------------------- */

static void
refuse_secure_exec(void)
{
#if defined(LINUX_EXTRAS)
	/* Set by the kernel for any exec that leaves real and effective ids apart. */
	int secure = getauxval(AT_SECURE) != 0;
#else
	int secure = getuid() != geteuid() || getgid() != getegid();
#if defined(__OpenBSD__) || defined(__FreeBSD__) || defined(__NetBSD__) || \
    defined(__DragonFly__) || defined(__APPLE__)
	secure = secure || issetugid();
#endif
#endif
	if (secure)
		die(EXIT_CANNOT, "refusing to run set-id or with file capabilities");
}

/* A closed 0, 1 or 2 would let our own pipes land there. */
static void
ensure_std_fds(void)
{
	struct pollfd p[3] = { { 0, 0, 0 }, { 1, 0, 0 }, { 2, 0, 0 } };
	int fd;

	if (poll(p, 3, 0) < 0)		/* one call: POLLNVAL for a closed one */
		_exit(EXIT_FAILED);
	for (fd = 0; fd < 3; fd++)
		if ((p[fd].revents & POLLNVAL) &&
		    open("/dev/null", O_RDWR | O_NOCTTY) != fd)
			_exit(EXIT_FAILED);
}

/*
 * Without AT_EXECFN, a script the server names whose #! line names us has
 * started us: argv is its #! words (one, or as many as the kernel split
 * them into), the script, then a client's words.  Returns how many #! words
 * there are: only they may be options and the program.
 */
static int
shebang_words(int argc, char **argv, const char *script)
{
	int i;

	for (i = 1; i < argc && !same_file(argv[i], script); i++)
		;
	if (i == argc)
		die(EXIT_CANNOT, "%s: not among the arguments (cgiguard cannot "
		    "tell how it was started)", script);
	if (i == 1)
		refuse_shebang(script, "missing interpreter");
	return i - 1;
}

/*
 * In CGI context a client's words are never options or a program: where
 * cgiguard cannot tell how it was started, it refuses rather than read argv
 * as a command line.
 */
static void
read_invocation(struct request *rq, int argc, char **argv)
{
	const char *fn = exec_filename(), *sf = getenv("SCRIPT_FILENAME");
	enum exec_file ran = EXEC_UNKNOWN;
	char line[SHEBANG_MAX + 1], *w[2];
	int i, words = argc - 1, err = 0;
	/* The kernel's #! layouts: [interp, "#! arg", script, ...], or no arg. */
	int shebang_argv, shebang_no_arg;

	/* Without AT_EXECFN: a script the server names whose #! line names us. */
	if (fn == NULL && rq->cgi_context && sf != NULL && argc >= 2 &&
	    split_shebang(rq, sf, line, w) == 0 && w[0] != NULL &&
	    same_file(w[0], argv[0])) {
		words = shebang_words(argc, argv, sf);
		if (words == 1) {	/* the script stands for AT_EXECFN */
			fn = argv[2];
			ran = EXEC_SCRIPT;	/* and its start is read */
		}
	}
	shebang_argv = fn != NULL && argc >= 3 && strcmp(fn, argv[2]) == 0;
	shebang_no_arg = fn != NULL && argc >= 2 && strcmp(fn, argv[1]) == 0;

	/* A command line outside CGI context needs no look at the file. */
	if (ran == EXEC_UNKNOWN &&
	    (rq->cgi_context || shebang_argv || shebang_no_arg))
		ran = exec_file(rq, fn, &err);

	if (ran == EXEC_SCRIPT) {
		if (shebang_argv) {
			rq->form = FORM_SHEBANG;
			read_shebang(rq, argc, argv);
			return;
		}
		if (shebang_no_arg)
			refuse_shebang(argv[1], "missing interpreter");
		if (rq->cgi_context)	/* its interpreter is a script */
			refuse_shebang(fn, "does not name cgiguard");
	}
	if (rq->cgi_context && ran == EXEC_UNKNOWN && fn != NULL)
		die(EXIT_CANNOT, "%s: %s (the file the kernel ran: cgiguard "
		    "cannot tell how it was started)", fn, strerror(err));
	if (rq->cgi_context && sf != NULL && server_ran_us(ran, fn, sf)) {
		read_action(rq, argv);
		return;
	}
	if (rq->cgi_context && argc >= 2 && strpbrk(argv[1], " \t") != NULL)
		die(EXIT_CANNOT, "#! argument not vouched for by the kernel");
	i = 1 + parse_options(&rq->cf, words, argv + 1);
	if (i > words && words < argc - 1)
		refuse_shebang(sf, "missing interpreter");
	if (i >= argc)
		usage_error("%smissing program", "");
	rq->path = argv[i];
	rq->argv = argv + i;
	rq->script = sf != NULL ? sf : argv[i];
	if (rq->cgi_context && i == 1 && argc == 2 && sf != NULL &&
	    same_file(argv[1], sf))	/* lighttpd cgi.assign, busybox */
		rq->form = FORM_HANDLER;
	if (rq->form == FORM_HANDLER && strchr(rq->path, '/') == NULL)
		rq->path = sf;	/* busybox: a bare name in the script's dir */
}

/*
 * The mode rules always hold for a #! script, as suexec's do; confinement
 * beneath a root wherever the policy names one (Apache's Action form is
 * refused without one).
 */
static void
check_script(struct request *rq)
{
	switch (rq->form) {
	case FORM_SHEBANG:
		if (policy.nroots == 0)
			check_script_modes(rq->script);
		else
			check_beneath_root(rq, rq->script);
		break;
	case FORM_HANDLER:
	case FORM_ACTION:
		if (policy.nroots > 0)
			check_beneath_root(rq, rq->path);
		break;
	case FORM_COMMAND:
		break;
	}
}

static void
refuse_root_cgi(const struct request *rq)
{
	if (rq->cgi_context && !policy.allow_root &&
	    (getuid() == 0 || geteuid() == 0))
		die(EXIT_CANNOT, "refusing to run a CGI as root");
}

static int
check_runnable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (access(path, X_OK) < 0)
		return errno;
	return 0;
}

/* Not found or not runnable is said here, before anything has started. */
static void
resolve_program(struct request *rq)
{
	static char buf[PATH_MAX];
	const char *dirs, *p, *end;
	int e, seen = 0;

	if (strchr(rq->path, '/') != NULL) {
		if ((e = check_runnable(rq->path)) != 0)
			die(not_run_status(e), "%s: %s", rq->path,
			    strerror(e));
		return;
	}
	if ((dirs = getenv("PATH")) == NULL)
		dirs = "/usr/bin:/bin";
	for (p = dirs; ; p = end + 1) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		/* An empty element is the CGI's directory: no place to look. */
		if (end > p && snprintf(buf, sizeof(buf), "%.*s/%s",
		    (int)(end - p), p, rq->path) < (int)sizeof(buf)) {
			if ((e = check_runnable(buf)) == 0) {
				rq->path = buf;
				return;
			}
			seen |= not_run_status(e) == EXIT_CANNOT;
		}
		if (*end == '\0')
			break;
	}
	if (seen)
		die(EXIT_CANNOT, "%s: %s", rq->path, strerror(EACCES));
	die(EXIT_ENOENT, "%s: command not found", rq->path);
}

/* What the log calls the script: always an absolute path. */
static void
make_script_absolute(struct request *rq, const char *asked)
{
	static char buf[PATH_MAX];
	size_t n;

	if (rq->script == asked)
		rq->script = rq->path;	/* found through PATH */
	if (rq->script[0] == '/' || getcwd(buf, sizeof(buf)) == NULL)
		return;
	n = strlen(buf);
	if (snprintf(buf + n, sizeof(buf) - n, "/%s", rq->script) <
	    (int)(sizeof(buf) - n))
		rq->script = buf;
}

/* ---- environment --------------------------------------------------------- */

static int
env_matches(const char *var, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strncmp(var, *list, strlen(*list)) == 0)
			return 1;
	return 0;
}

/* NAME=value is named in one of the --pass-env lists. */
static int
env_passed(const char *var, const struct config *cf)
{
	size_t len = strcspn(var, "="), n;
	const char *p;
	int i;

	for (i = 0; i < cf->npass_env; i++)
		for (p = cf->pass_env[i]; *p != '\0'; p += n + (p[n] == ',')) {
			n = strcspn(p, ",");
			if (n == len && strncmp(p, var, len) == 0)
				return 1;
		}
	return 0;
}

/*
 * Drops variables in place; with --clean-env keeps only the safe list and
 * the names passed, and with -v logs the names it dropped.
 */
static void
scrub_environment(const struct config *cf)
{
	char **from, **to, dropped[FIELD_MAX + 2] = "";
	size_t used = 0, n;
	struct line l;

	for (from = to = environ; *from != NULL; from++) {
		if (env_matches(*from, unsafe_env))
			continue;
		if (cf->clean_env && !env_matches(*from, safe_env) &&
		    !env_passed(*from, cf)) {
			n = strcspn(*from, "=");
			if (cf->verbose && used < sizeof(dropped) - 1 &&
			    strncmp(*from, "PATH=", 5) != 0)	/* replaced */
				used += (size_t)snprintf(dropped + used,
				    sizeof(dropped) - used, "%s%.*s",
				    used ? "," : "", (int)n, *from);
			continue;
		}
		*to++ = *from;
	}
	*to = NULL;
	if (cf->clean_env)
		set_env("PATH", "/usr/local/bin:/usr/bin:/bin");
	if (cf->verbose && used > 0) {
		line_start(&l, "env");
		line_add(&l, "dropped", dropped);
		log_record(&l);
	}
}

/* ---- signals ------------------------------------------------------------- */

/*
 * The handled signals stay blocked from take_signals on, and wait_for lets
 * them in only while it waits: a handler never interrupts other work, and
 * notes what came for the code after the wait.  The front takes them from
 * anyone; the keeper only those the front passes on with kill(2), and its
 * children's SIGCHLD.
 */
static volatile sig_atomic_t caught[NSIG];
static sigset_t let_in;		/* the server's mask, less the handled ones */
static pid_t forwarder;		/* in the keeper: the front; set while blocked */

static void
on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (forwarder == 0 || sig == SIGCHLD || si->si_pid == forwarder)
		caught[sig] = 1;
}

/* Whether sig came since the last look; written only then (fork made it COW). */
static int
took(int sig)
{
	if (!caught[sig])
		return 0;
	caught[sig] = 0;
	return 1;
}

/* poll(2), with the handled signals caught while it waits. */
static int
wait_for(struct pollfd *p, nfds_t n, int timeout_ms)
{
	struct timespec ts, *t = NULL;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		t = &ts;
	}
	return ppoll(p, n, t, &let_in);
}

static void
catch_signal(int sig, int ignore, struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	if (ignore)
		sa.sa_handler = SIG_IGN;
	else {
		sa.sa_sigaction = on_signal;
		sa.sa_flags = SA_SIGINFO;
	}
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, old) < 0)
		die_errno(EXIT_FAILED, "sigaction");
}

/* Save what the server gave, block our signals, install the front's handlers. */
static void
take_signals(struct request *rq)
{
	struct server_state *ss = &rq->server;
	static const struct itimerval zero;
	struct sigaction old;
	sigset_t set;
	int i, sig;

	sigemptyset(&set);
	for (i = 0; i < NHANDLED; i++)
		sigaddset(&set, handled_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, &ss->mask) < 0)
		die_errno(EXIT_FAILED, "sigprocmask");
	let_in = ss->mask;
	sigemptyset(&ss->ignored);
	for (i = 0; i < NHANDLED; i++) {
		sig = handled_signals[i];
		sigdelset(&let_in, sig);
		if (sig == SIGPIPE)
			catch_signal(SIGPIPE, 1, &old);
		else if (sig != SIGCHLD)
			catch_signal(sig, 0, &old);
		else if (sigaction(SIGCHLD, NULL, &old) < 0)
			die_errno(EXIT_FAILED, "sigaction");
		if (old.sa_handler == SIG_IGN)
			sigaddset(&ss->ignored, sig);
	}
	for (i = 0; i < 3; i++)
		if (getitimer(i, &ss->timer[i]) == 0 &&
		    (ss->timer[i].it_value.tv_sec || ss->timer[i].it_value.tv_usec))
			(void)setitimer(i, &zero, NULL);
}

/* An abandon signal before anything started: nothing is started. */
static void
stop_if_abandoned_early(void)
{
	sigset_t pending;
	int sig;

	if (sigpending(&pending) < 0)
		return;
	for (sig = 1; sig < NSIG; sig++)
		if (is_abandon_signal(sig) && sigismember(&pending, sig) == 1)
			_exit(128 + sig);
}

/* ---- descriptors --------------------------------------------------------- */

static void
close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Closes lo..hi; close_range(2) where the kernel has it. */
static void
close_range_fds(int lo, int hi)
{
	struct rlimit rl;
	int fd, max = FD_SCAN_MAX;

#if defined(LINUX_EXTRAS) && defined(SYS_close_range)
	if (syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0) == 0)
		return;
#endif
	/* _SC_OPEN_MAX is this limit; sysconf(3) would add its whole table */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < FD_SCAN_MAX)
		max = (int)rl.rlim_cur;
	for (fd = lo; fd <= hi && fd < max; fd++)
		(void)close(fd);
}

static int
pidfd_of(pid_t pid)
{
#if defined(LINUX_EXTRAS) && defined(SYS_pidfd_open)
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* ---- channels ------------------------------------------------------------ */

/*
 * Who keeps which end of each channel; every other end is closed right after
 * the fork (and every descriptor of ours at the CGI's exec, O_CLOEXEC):
 *
 *	channel		front		keeper			CGI
 *	to_front	[0] reads	[1] writes TELL_*, and polls it:
 *					POLLERR once the front is gone
 *	out, err			[0] reads		[1] as fds 1, 2
 *	front_pidfd			polls
 *	fds 0, 1, 2	until exit	1, 2 until released	0 (stdin)
 */
static void
keep_front_ends(struct request *rq)
{
	close(rq->to_front[1]);
	close(rq->out[0]);
	close(rq->out[1]);
	close(rq->err[0]);
	close(rq->err[1]);
	if (rq->front_pidfd >= 0)
		close(rq->front_pidfd);
}

/* The CGI has its ends now, and the server's stdin is its alone. */
static void
keep_keeper_ends_after_spawn(struct request *rq)
{
	close(rq->out[1]);
	close(rq->err[1]);
	close(STDIN_FILENO);
}

/* ---- the CGI ------------------------------------------------------------- */

struct spawn {
	const struct request *rq;
	volatile int	 err;		/* errno of the failed step */
	volatile int	 step;
};

enum { STEP_SETUP = 1, STEP_LIMIT, STEP_SWAPPED, STEP_EXEC };

static const int rlimit_of[NLIMITS] = {
#ifdef RLIMIT_AS
	[L_CPU] = RLIMIT_CPU, [L_MEM] = RLIMIT_AS, [L_NPROC] = RLIMIT_NPROC,
#else
	[L_CPU] = RLIMIT_CPU, [L_MEM] = RLIMIT_DATA, [L_NPROC] = RLIMIT_NPROC,
#endif
	[L_FSIZE] = RLIMIT_FSIZE, [L_NOFILE] = RLIMIT_NOFILE,
	[L_CORE] = RLIMIT_CORE,
};

/* A system call alone, for the vfork child: musl's setrlimit stops threads. */
static int
lower_limit(int resource, const struct rlimit *rl)
{
#ifdef LINUX_EXTRAS
	return prlimit(0, resource, rl, NULL);
#else
	return setrlimit(resource, rl);
#endif
}

static int
apply_limits(const struct config *cf)
{
	struct rlimit rl;
	int i;

	for (i = 0; i < NLIMITS; i++) {
		if (!cf->limit_set[i])
			continue;
		if (getrlimit(rlimit_of[i], &rl) < 0)
			return -1;
		if (rl.rlim_max == RLIM_INFINITY || cf->limit[i] < rl.rlim_max)
			rl.rlim_max = cf->limit[i];
		rl.rlim_cur = rl.rlim_max;
		if (lower_limit(rlimit_of[i], &rl) < 0)
			return -1;
	}
	if (cf->nice_set) {
		errno = 0;
		if (nice(cf->nice) == -1 && errno != 0)
			return -1;
	}
	if (cf->umask_set)
		umask(cf->umask);
	return 0;
}

static void
restore_server_state(const struct server_state *ss)
{
	struct sigaction sa;
	int i;

	/*
	 * All of them, before the mask is lifted: a signal pending then acts
	 * on the CGI as it would have, not on a handler of ours.
	 */
	memset(&sa, 0, sizeof(sa));
	for (i = 0; i < NHANDLED; i++) {
		sa.sa_handler = sigismember(&ss->ignored, handled_signals[i]) == 1 ?
		    SIG_IGN : SIG_DFL;
		(void)sigaction(handled_signals[i], &sa, NULL);
	}
	for (i = 0; i < 3; i++)
		if (ss->timer[i].it_value.tv_sec || ss->timer[i].it_value.tv_usec)
			(void)setitimer(i, &ss->timer[i], NULL);
}

/* The checked file is the one we run: nothing swapped it since. */
static int
still_target(const struct request *rq)
{
	struct stat st;

	if (stat(rq->path, &st) < 0)
		return 0;
	if (st.st_dev == rq->target_dev && st.st_ino == rq->target_ino)
		return 1;
	errno = ESTALE;
	return 0;
}

/* The last steps before the CGI runs, shielded or not; returns on failure. */
static void
become_cgi(struct spawn *sp)
{
	const struct request *rq = sp->rq;

	restore_server_state(&rq->server);
	sp->step = STEP_LIMIT;
	if (apply_limits(&rq->cf) < 0)
		return;
	sp->step = STEP_SWAPPED;
	if (rq->target == rq->path && !still_target(rq))
		return;
	sp->step = STEP_EXEC;
	(void)sigprocmask(SIG_SETMASK, &rq->server.mask, NULL);
	execve(rq->path, rq->argv, environ);
}

static int
spawn_status(const struct spawn *sp)
{
	if (sp->step == STEP_EXEC)
		return not_run_status(sp->err);
	return sp->step == STEP_SWAPPED ? EXIT_CANNOT : EXIT_FAILED;
}

/* The failure through the one path; returns the status it means. */
static int
fail_spawn(const struct spawn *sp)
{
	char msg[PATH_MAX + 128];

	if (sp->step == STEP_EXEC)
		snprintf(msg, sizeof(msg), "%s: %s", sp->rq->path,
		    strerror(sp->err));
	else if (sp->step == STEP_SWAPPED)
		snprintf(msg, sizeof(msg), "%s: changed since it was checked",
		    sp->rq->path);
	else
		snprintf(msg, sizeof(msg), "cannot set up the CGI: %s",
		    strerror(sp->err));
	fail_request(spawn_status(sp), msg);
	return spawn_status(sp);
}

/*
 * Runs in the vfork child: only system calls, then exec or _exit.  Writing
 * *sp is the point: the parent sleeps until we exec or exit, then reads it.
 */
static void
cgi_child(struct spawn *sp)
{
	const struct request *rq = sp->rq;

	sp->step = STEP_SETUP;
	if (setpgid(0, 0) == 0 && dup2(rq->out[1], STDOUT_FILENO) >= 0 &&
	    dup2(rq->err[1], STDERR_FILENO) >= 0) {
		close_range_fds(3, INT_MAX);
		become_cgi(sp);
	}
	sp->err = errno;
	_exit(spawn_status(sp));
}

/*
 * No process to spare (RLIMIT_NPROC): the CGI alone would have run, and
 * exec needs no fork.  So it runs as it would without cgiguard, in our
 * place, with everything but the shield.
 */
static void
run_unshielded(struct request *rq, const char *step, int err)
{
	struct spawn sp = { rq, 0, STEP_SETUP };
	struct line l;

	line_start(&l, "unshielded");
	line_addf(&l, "reason", "%s: %s", step, strerror(err));
	log_record(&l);
	become_cgi(&sp);
	sp.err = errno;
	leave(fail_spawn(&sp));
}

static pid_t
spawn_cgi(struct spawn *sp)
{
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0)
		cgi_child(sp);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

/* ---- the keeper: talking to the front ------------------------------------ */

/* keeper -> front: two bytes, what to do and its value. */
enum { TELL_EXIT = 'x', TELL_UNSHIELDED = 'u' };

static void
front_answered(struct keeper *k)
{
	close_fd(&k->to_front);
	if (k->front < FRONT_ANSWERED)
		k->front = FRONT_ANSWERED;
}

/* Once: what the front does next, and its value. */
static void
tell_front(struct keeper *k, int what, int value)
{
	unsigned char b[2] = { (unsigned char)what, (unsigned char)value };

	if (k->front >= FRONT_ANSWERED)
		return;
	(void)write_all(k->to_front, (const char *)b, sizeof(b));
	front_answered(k);
}

static int
exit_code(int wstatus)
{
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return WEXITSTATUS(wstatus);
}

static void
signal_cgi(struct keeper *k, int sig)
{
	if (sig > 0 && k->cgi > 1 && k->cgi_wstatus < 0)
		(void)kill(-k->cgi, sig);
}

/* ---- /proc ---------------------------------------------------------------- */

/*
 * Linux's /proc shows every process: the tree kill, the survivors cap and
 * --list and --drain read it, all through proc_walk.  Where there is none
 * (other systems, or an empty directory in its place under a chroot or in a
 * container), proc_walk fails and each says what it does without.
 */
static int
read_small(const char *path, char *buf, size_t size)
{
	ssize_t n = read_path(path, buf, size - 1);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* visit(pid, arg) for every process but ours, until it returns nonzero. */
static int
proc_walk(int (*visit)(const char *, void *), void *arg)
{
#ifdef LINUX_EXTRAS
	struct dirent *de;
	char self[24];
	DIR *d;

	if (access("/proc/self/stat", F_OK) < 0 ||
	    (d = opendir("/proc")) == NULL)
		return -1;
	snprintf(self, sizeof(self), "%ld", (long)getpid());
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    strcmp(de->d_name, self) != 0 && visit(de->d_name, arg) != 0)
			break;
	closedir(d);
	return 0;
#else
	(void)visit;
	(void)arg;
	return -1;
#endif
}

/*
 * The kernel's "pid (name) state ppid ... starttime": fields 4 and 22, after
 * the last ')'.  (sscanf would do, with 12 KB more program text to map.)
 */
static int
read_stat(pid_t pid, pid_t *ppid, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	int field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (read_small(path, buf, sizeof(buf)) < 0 ||
	    (p = strrchr(buf, ')')) == NULL)
		return -1;
	for (field = 3; field <= 22; field++) {
		if ((p = strchr(p + 1, ' ')) == NULL)
			return -1;
		if (field == 4)
			*ppid = (pid_t)strtol(p + 1, NULL, 10);
		else if (field == 22)
			*start = strtoull(p + 1, NULL, 10);
	}
	return 0;
}

static long
real_uid_of(const char *pid)
{
	char path[64], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%.20s/status", pid);
	if (read_small(path, buf, sizeof(buf)) < 0 ||
	    (p = strstr(buf, "\nUid:")) == NULL)
		return -1;
	return strtol(p + 5, NULL, 10);
}

/* ---- the keeper: killing the tree ---------------------------------------- */

struct proc {
	pid_t			pid, ppid;
	unsigned long long	start;
};

/* Signal by pidfd, after checking the pid still is the process we saw. */
static int
signal_exact(const struct proc *p, int sig)
{
	unsigned long long start;
	pid_t ppid;
	int fd, r = -1;

#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
	if ((fd = pidfd_of(p->pid)) >= 0) {
		if (read_stat(p->pid, &ppid, &start) == 0 && start == p->start)
			r = (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
		close(fd);
		return r;
	}
#endif
	(void)fd;
	if (read_stat(p->pid, &ppid, &start) == 0 && start == p->start)
		r = kill(p->pid, sig);
	return r;
}

struct tree {
	struct proc	*p;		/* TREE_MAX of them */
	size_t		 n;
	pid_t		 self;		/* the keeper: the tree's root */
};

static int
in_tree(const struct tree *t, pid_t pid)
{
	size_t i;

	if (pid == t->self)
		return 1;
	for (i = 0; i < t->n; i++)
		if (t->p[i].pid == pid)
			return 1;
	return 0;
}

/*
 * A process whose parent is in the tree joins it, stopped at once so that it
 * cannot fork any more.  One whose parent is not is someone else's: never
 * touched.
 */
static int
add_if_descendant(const char *name, void *tree)
{
	struct tree *t = tree;
	unsigned long long pid;
	const char *end = parse_digits(name, &pid);
	struct proc *p;

	if (end == NULL || *end != '\0' || pid <= 1 || pid > INT_MAX ||
	    t->n == TREE_MAX || in_tree(t, (pid_t)pid))
		return 0;
	p = &t->p[t->n];
	p->pid = (pid_t)pid;
	if (read_stat(p->pid, &p->ppid, &p->start) == 0 &&
	    in_tree(t, p->ppid)) {
		(void)signal_exact(p, SIGSTOP);
		t->n++;
	}
	return 0;
}

/*
 * Stop every descendant, looking again until none is new, then kill them
 * all: the CGI's process group, and what left it.  Without /proc, the group
 * only.
 */
static int
kill_tree(struct keeper *k)
{
	static struct proc procs[TREE_MAX];	/* touched only by a kill */
	struct tree t = { procs, 0, getpid() };
	long long give_up = now_ms() + TREE_WALK_MS;
	size_t before, i;
	int round, walked = 0;

	signal_cgi(k, SIGSTOP);
	for (round = 0; round < TREE_WALKS && now_ms() < give_up; round++) {
		before = t.n;
		if (proc_walk(add_if_descendant, &t) < 0 || t.n == before)
			break;
		walked = 1;
	}
	signal_cgi(k, SIGKILL);
	for (i = 0; i < t.n; i++)
		(void)signal_exact(&t.p[i], SIGKILL);
	return walked ? (int)t.n : 1;
}

/* ---- the keeper: survivors cap ------------------------------------------- */

/*
 * A surviving keeper names itself "cg:" and a hash of its script.  Only the
 * process itself can set its name, so another user cannot forge or erase one;
 * a CGI that takes the name only uses up its own user's slots.  A keeper names
 * itself first and counts the others after: the last of any set of survivors
 * sees all the rest, so the cap holds without a lock.
 */
static void
survivor_name(const struct keeper *k, char *name, size_t size)
{
	unsigned long long h = 1469598103934665603ULL;
	struct stat st;

	if (stat(k->rq->script, &st) == 0) {
		h = (h ^ (unsigned long long)st.st_dev) * 1099511628211ULL;
		h = (h ^ (unsigned long long)st.st_ino) * 1099511628211ULL;
	}
	snprintf(name, size, "cg:%012llx", h & 0xffffffffffffULL);
}

struct survivors {
	const char	*name;		/* ours */
	int		 user, script;	/* others of our user; of our script */
};

static int
count_survivor(const char *pid, void *arg)
{
	struct survivors *sv = arg;
	char path[64], comm[32];

	snprintf(path, sizeof(path), "/proc/%.20s/comm", pid);
	if (read_small(path, comm, sizeof(comm)) == 0 &&
	    strncmp(comm, "cg:", 3) == 0 && real_uid_of(pid) == (long)getuid()) {
		sv->user++;
		sv->script += strncmp(comm, sv->name, strlen(sv->name)) == 0;
	}
	return 0;
}

/* The name ps shows for us: only a process can set its own. */
static int
name_self(const char *name)
{
#ifdef LINUX_EXTRAS
	return prctl(PR_SET_NAME, name, 0, 0, 0);
#else
	(void)name;
	errno = ENOSYS;
	return -1;
#endif
}

static int
take_survivor_slot(const struct keeper *k, const char **full)
{
	char name[16];
	struct survivors sv = { name, 0, 0 };

	*full = NULL;
	if (!policy.cap_user_set && !policy.cap_script_set)
		return 1;
	survivor_name(k, name, sizeof(name));
	if (name_self(name) < 0) {
		*full = "unsupported";
		return 0;
	}
	if (proc_walk(count_survivor, &sv) < 0)
		*full = "unsupported";
	else if (policy.cap_user_set && sv.user >= policy.cap_user)
		*full = "user";
	else if (policy.cap_script_set && sv.script >= policy.cap_script)
		*full = "script";
	else
		return 1;
	(void)name_self("cgiguard");
	return 0;
}

/* --grace, or the server's usual 3 s when the survivors cap is full. */
static void
start_grace(struct keeper *k)
{
	long long grace = k->rq->cf.grace_ms;
	const char *full;
	struct line l;
	char secs[32];

	if (!take_survivor_slot(k, &full)) {
		if (grace > SERVER_GRACE_MS)
			grace = SERVER_GRACE_MS;
		line_start(&l, "no-slot");
		line_add(&l, "cap", full);
		line_add(&l, "grace", put_secs(secs, grace));
		log_record(&l);
	}
	k->at[GRACE] = now_ms() + grace;
	k->graced = 1;
}

/* ---- the keeper: events -------------------------------------------------- */

/* Moves to the next phase; the deadlines of the phase left are disarmed. */
static void
enter(struct keeper *k, enum phase next)
{
	if (k->phase == RUNNING)
		k->at[TIMEOUT] = k->at[SETTLE] = k->at[LINGER] =
		    k->at[GATHER] = 0;
	if (next == KILLED)
		k->at[GRACE] = 0;
	k->phase = next;
}

static void
log_abandoned(struct keeper *k, int received, int sent)
{
	struct line l;

	line_start(&l, "abandoned");
	line_add(&l, "reason", reason_names[k->abandoned]);
	if (received > 0)
		line_add(&l, "received", signal_name(received));
	line_add(&l, "signal", sent > 0 ? signal_name(sent) : "none");
	line_addf(&l, "pgid", "%ld", (long)k->cgi);
	log_record(&l);
}

/* The request is over for the server; the CGI gets its stop signal and --grace. */
static void
abandon(struct keeper *k, enum abandon_reason reason, int received,
    int front_status)
{
	int stop = k->rq->cf.stop_signal;

	if (k->phase != RUNNING)
		return;
	if (reason == TIMED_OUT && k->rq->cgi_context &&
	    !k->output_started && server_listening(k))
		(void)write_or_drop(STDOUT_FILENO, k->out.sink, fixed_504,
		    sizeof(fixed_504) - 1);
	enter(k, ABANDONED);
	k->abandoned = reason;
	signal_cgi(k, stop);
	/* A stopped CGI would sit out its grace without running its handler. */
	if (stop > 0 && stop != SIGKILL && stop != SIGCONT)
		signal_cgi(k, SIGCONT);
	start_grace(k);
	publish_state(k);
	tell_front(k, TELL_EXIT, front_status);
	log_abandoned(k, received, stop);
}

static void
reap(struct keeper *k)
{
	int ws;
	pid_t pid;

	while ((pid = waitpid(-1, &ws, WNOHANG)) != 0) {
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			k->children = 0;
			return;
		}
		if (pid == k->cgi)
			k->cgi_wstatus = ws;
	}
	k->children = 1;
}

static void
reap_on_sigchld(struct keeper *k)
{
	reap(k);
	/* A descendant that forked between the walk and its KILL is ours now. */
	if (k->phase == KILLED && k->children)
		(void)kill_tree(k);
}

/* The front has exited (passing on received, or not): no one to tell. */
static void
front_left(struct keeper *k, enum abandon_reason reason, int received)
{
	front_answered(k);
	abandon(k, reason, received, 0);
}

/* What the front passed on: an abandon signal means it has exited. */
static void
take_forwarded(struct keeper *k)
{
	int i, sig;

	for (i = 0; i < NHANDLED; i++) {
		sig = handled_signals[i];
		if (sig == SIGCHLD || !took(sig))
			continue;
		if (is_abandon_signal(sig))
			front_left(k, BY_SIGNAL, sig);
		else if (k->phase == RUNNING)
			signal_cgi(k, sig);
	}
}

/*
 * Its end of to_front closed: the front has exited.  A signal it passed on
 * first may still be pending (a wait that finds a descriptor ready leaves
 * signals for the next one): take it first, so it is the reason.
 */
static void
front_gone(struct keeper *k)
{
	(void)wait_for(NULL, 0, 0);
	take_forwarded(k);
	front_left(k, FRONT_DIED, 0);
}

/* ---- the keeper: output -------------------------------------------------- */

static int
server_listening(const struct keeper *k)
{
	return k->front < SERVER_RELEASED && k->phase == RUNNING &&
	    !k->pipe_broke;
}

/* Servers close the pipes and signal together: give the signal time to win. */
static void
server_gone(struct keeper *k)
{
	if (k->pipe_broke || k->phase != RUNNING)
		return;
	k->pipe_broke = 1;
	k->at[SETTLE] = now_ms() + SETTLE_MS;
}

/*
 * What waits for the server's side of s is lost.  On stdout a broken pipe
 * is the server going away, and any other error means the response cannot be
 * delivered: said once, and the request is abandoned at once.  On stderr,
 * which may be a log shared with others, any error only costs the server
 * those bytes: stdout tells when it has gone.
 */
static void
output_failed(struct keeper *k, struct stream *s, int err)
{
	char msg[128];

	s->len = 0;
	s->full = 0;
	if (s == &k->err)
		return;
	if (err == EPIPE || err == ECONNRESET)
		server_gone(k);
	else {
		snprintf(msg, sizeof(msg), "stdout: %s", strerror(err));
		report("failed", msg);
		abandon(k, OUTPUT_ERROR, 0, EXIT_FAILED);
	}
}

/* CGI stderr after the server is gone: one record per line, bounded. */
static void
log_stderr(struct keeper *k, const char *buf, size_t n)
{
	struct line l;
	size_t i;

	for (i = 0; i < n && k->errlines < STDERR_LOG_LINES; i++) {
		if (buf[i] != '\n') {
			if (k->errlen < sizeof(k->errline) - 1)
				k->errline[k->errlen++] = buf[i];
			continue;
		}
		k->errlines++;
		line_start(&l, "stderr");
		line_add_bytes(&l, "text", k->errline, k->errlen);
		k->errlen = 0;
		log_line(&l);
	}
	k->errdropped += n - i;
}

/* At the end of stderr: the last unterminated line, and what was dropped. */
static void
log_stderr_end(struct keeper *k)
{
	struct line l;

	if (k->errlen > 0 && k->errlines < STDERR_LOG_LINES)
		log_stderr(k, "\n", 1);
	if (k->errdropped == 0)
		return;
	line_start(&l, "stderr-dropped");
	line_addf(&l, "bytes", "%llu", k->errdropped);
	log_record(&l);
}

#if defined(LINUX_EXTRAS) && defined(SPLICE_F_NONBLOCK)
/* Bulk output: a bigger pipe of our own means fewer wake-ups per byte. */
static void
widen_pipe(struct keeper *k)
{
#ifdef F_SETPIPE_SZ
	if (fcntl(k->out.from, F_SETPIPE_SZ, BULK_PIPE) > 0)
		k->chunk = BULK_PIPE;
#endif
	k->widen_tried = 1;
}
#endif

/*
 * Pipe to pipe only: there SPLICE_F_NONBLOCK makes both ends non-blocking.
 * Into a socket it does not (the socket's own O_NONBLOCK decides), so a
 * socket is written with send(MSG_DONTWAIT) instead.
 */
static int
splice_output(struct keeper *k)
{
#if defined(LINUX_EXTRAS) && defined(SPLICE_F_NONBLOCK)
	ssize_t n;

	n = splice(k->out.from, NULL, STDOUT_FILENO, NULL, k->chunk,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n == RELAY_CHUNK && !k->widen_tried)
		widen_pipe(k);
	if (n > 0) {
		k->output_started = 1;
		return 1;
	}
	if (n == 0) {
		close_fd(&k->out.from);
		return 1;
	}
	if (errno == EINTR)
		return 0;
	if (errno == EAGAIN) {
		/* Our pipe empty, or the server's full: POLLOUT tells which. */
		k->out.full = 1;
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS) {
		output_failed(k, &k->out, errno);
		return 0;
	}
#endif
	k->splice_ok = 0;
	return relay(k, &k->out);
}

/* What was read and not yet written, as far as the server takes it now. */
static int
flush_stream(struct keeper *k, struct stream *s)
{
	size_t before = s->len;
	ssize_t n;

	while (s->len > 0) {
		if ((n = write_now(s->to, s->sink, s->buf + s->off, s->len)) < 0)
			break;
		s->off += (size_t)n;
		s->len -= (size_t)n;
	}
	s->full = s->len > 0;
	if (s->full && errno != EAGAIN)
		output_failed(k, s, errno);
	return s->len < before;
}

/*
 * read(2) for what is discarded: where splice can, the bytes go to /dev/null
 * without a copy and buf is not touched.
 */
static ssize_t
read_to_null(int fd, char *buf, size_t size)
{
#if defined(LINUX_EXTRAS) && defined(SPLICE_F_NONBLOCK)
	static int null_fd = -2;
	ssize_t n;

	if (null_fd == -2)
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd >= 0) {
		n = splice(fd, NULL, null_fd, NULL, BULK_PIPE,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n >= 0 || errno == EAGAIN || errno == EINTR)
			return n;
		close_fd(&null_fd);	/* splice cannot here: read from now on */
	}
#endif
	return read(fd, buf, size);
}

/*
 * Once the server no longer listens: stdout is discarded; stderr is logged
 * up to its cap, and past it discarded as stdout is, its bytes counted.
 */
static int
discard_stream(struct keeper *k, struct stream *s)
{
	static char sink[RELAY_CHUNK];	/* read in big bites: a flood is cheap */
	int logging;
	ssize_t n;

	if (s == &k->err && s->len > 0)
		log_stderr(k, s->buf + s->off, s->len);
	s->len = 0;
	s->full = 0;
	logging = s == &k->err && k->errlines < STDERR_LOG_LINES;
	n = logging ? read(s->from, sink, sizeof(sink)) :
	    read_to_null(s->from, sink, sizeof(sink));
	if (n < 0)
		return 0;
	if (n == 0) {
		close_fd(&s->from);
		if (s == &k->err)
			log_stderr_end(k);
	} else if (logging)
		log_stderr(k, sink, (size_t)n);
	else if (s == &k->err)
		k->errdropped += (unsigned long long)n;
	return 1;
}

/*
 * The CGI has closed its stdout: what is left in the pipe is the end of the
 * response.  It is held until the front is gone, then written just before
 * the server's descriptor is closed, so that the server finds the end right
 * after the last bytes, as it would without cgiguard, and can send a
 * Content-Length.  What does not fit the buffer is relayed as usual.
 */
static void
hold_the_end(struct keeper *k)
{
	struct stream *s = &k->out;
	ssize_t n = read_up_to(s->from, s->buf, s->size);

	k->at[GATHER] = 0;
	if (n < 0)
		return;
	k->output_started |= n > 0;
	s->off = 0;
	s->len = (size_t)n;
	if (s->len == s->size) {
		(void)flush_stream(k, s);
		return;
	}
	close_fd(&s->from);
}

/* Bytes left after stdout's EOF: only hold_the_end leaves them. */
static int
end_held(const struct keeper *k)
{
	return k->out.from < 0 && k->out.len > 0;
}

/*
 * Only for a server's pipe or socket that keeps up, with nothing of ours
 * waiting (a server that is not reading keeps --timeout over the rest);
 * never a file, whose write error must still reach the front's status.
 */
static int
may_hold_end(const struct keeper *k)
{
	return server_listening(k) && k->out.len == 0 && !k->out.full &&
	    k->out.sink != SINK_FILE;
}

/* The held end, once the front is gone; true when nothing is left. */
static int
write_the_end(struct keeper *k)
{
	if (end_held(k) && k->phase != ABANDONED && k->phase != KILLED)
		(void)flush_stream(k, &k->out);
	if (k->out.len > 0 && k->out.full)
		return 0;
	k->out.len = 0;
	return 1;
}

/*
 * A first small write (cgit writes each header line on its own) waits a
 * moment for the rest and for the CGI's end, so that a short response goes
 * out whole and its end is held with it.  Only the first: what follows is
 * passed on at once.
 */
static int
gather(struct keeper *k)
{
	int n = 0;

	if (k->gathered || !may_hold_end(k) ||
	    ioctl(k->out.from, FIONREAD, &n) < 0 || n >= GATHER_BELOW)
		return 0;
	k->gathered = k->output_started = 1;
	k->at[GATHER] = now_ms() + GATHER_MS;
	return 1;
}

/* Forward at once, never buffer beyond one read; returns 1 if it moved. */
static int
relay(struct keeper *k, struct stream *s)
{
	ssize_t n;

	if (!server_listening(k))
		return discard_stream(k, s);
	if (s->len > 0)
		return flush_stream(k, s);
	if (s == &k->out && k->splice_ok && s->sink == SINK_PIPE)
		return splice_output(k);
	if ((n = read(s->from, s->buf, s->size)) == 0) {
		close_fd(&s->from);
		return 1;
	}
	if (n < 0)
		return 0;
	k->output_started |= s == &k->out;
	s->off = 0;
	s->len = (size_t)n;
	(void)flush_stream(k, s);
	return 1;
}

/* ---- the keeper: the end of a request ------------------------------------ */

/* The CGI's output has ended: the server gets its status and, later, EOF. */
static void
end_response(struct keeper *k)
{
	int i;

	/* What the CGI wrote to stderr goes first, as far as it is there. */
	for (i = 0; i < STDERR_FIRST_READS && k->err.from >= 0 &&
	    relay(k, &k->err); i++)
		;
	enter(k, ENDED);
	if (k->cgi_wstatus < 0 || k->children)
		start_grace(k);
	else
		log_finished(k);	/* while --log=stderr still reaches the server */
	publish_state(k);
	tell_front(k, TELL_EXIT,
	    k->cgi_wstatus >= 0 ? exit_code(k->cgi_wstatus) : 0);
}

static int
keeper_done(const struct keeper *k)
{
	if (k->reap_given_up)
		return 1;
	return k->cgi_wstatus >= 0 && !k->children && k->out.from < 0 &&
	    k->err.from < 0 && k->front == SERVER_RELEASED;
}

/*
 * Only once the front is a zombie, so the server never sees EOF first.  A
 * keeper about to exit closes them itself: exit frees its memory before it
 * closes its files, which the server would wait for.
 */
static void
release_server(struct keeper *k)
{
	int null = -1;

	if (k->out.sink == SINK_SOCKET)
		(void)shutdown(STDOUT_FILENO, SHUT_WR);
	k->front = SERVER_RELEASED;
	log_detach_stderr();
	if (!keeper_done(k) &&
	    (null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		if (dup2(null, STDOUT_FILENO) < 0)
			close(STDOUT_FILENO);
		if (dup2(null, STDERR_FILENO) < 0)
			close(STDERR_FILENO);
		close(null);
	} else {
		close(STDOUT_FILENO);
		close(STDERR_FILENO);
	}
}

static void
log_killed(struct keeper *k, int processes)
{
	struct line l;
	char secs[32];

	line_start(&l, "killed");
	line_add(&l, "reason", k->abandoned == TIMED_OUT ? "timeout" : "grace");
	line_add(&l, "elapsed", put_secs(secs, now_ms() - k->rq->start_ms));
	line_addf(&l, "processes", "%d", processes);
	log_record(&l);
}

static void
log_finished(struct keeper *k)
{
	struct line l;
	char secs[32];

	if (k->phase == KILLED || k->finish_logged ||
	    (k->phase != ABANDONED && !k->rq->cf.verbose))
		return;
	k->finish_logged = 1;
	line_start(&l, "finished");
	if (k->cgi_wstatus >= 0)
		line_addf(&l, "status", "%d", exit_code(k->cgi_wstatus));
	line_add(&l, "elapsed", put_secs(secs, now_ms() - k->rq->start_ms));
	if (k->phase == ABANDONED)
		line_add(&l, "after", "abandoned");
	else if (k->graced)
		line_add(&l, "after", "response");
	log_record(&l);
}

static void
kill_at_deadline(struct keeper *k)
{
	enter(k, KILLED);
	log_killed(k, kill_tree(k));
	k->at[REAP] = now_ms() + REAP_MS;
	publish_state(k);
}

/* The soonest armed deadline; -1: none. */
static long long
soonest(const struct keeper *k)
{
	long long soon = -1;
	int d;

	for (d = 0; d < NDEADLINES; d++)
		if (k->at[d] && (soon < 0 || k->at[d] < soon))
			soon = k->at[d];
	return soon;
}

static void
check_deadlines(struct keeper *k)
{
	long long t;
	int d;

	if (soonest(k) < 0)
		return;		/* nothing armed: the clock is not read */
	t = now_ms();
	for (d = 0; d < NDEADLINES; d++) {
		if (!k->at[d] || t < k->at[d])
			continue;
		k->at[d] = 0;
		switch (d) {
		case TIMEOUT:	abandon(k, TIMED_OUT, 0, EXIT_TIMEDOUT); break;
		case SETTLE:	abandon(k, PIPE_BROKE, 0, 128 + SIGPIPE); break;
		case LINGER:	end_response(k); break;
		case GATHER:	break;	/* watch() reads the pipe again */
		case GRACE:	kill_at_deadline(k); break;
		case REAP:	k->reap_given_up = 1; break;
		}
	}
}

static void
check_end(struct keeper *k)
{
	if (k->out.from < 0 && k->phase == RUNNING) {
		if (k->cgi_wstatus >= 0)
			end_response(k);
		else if (!k->at[LINGER])
			k->at[LINGER] = now_ms() + LINGER_MS;
	}
	if (k->front == FRONT_GONE && write_the_end(k))
		release_server(k);
}

/* Until the soonest armed deadline; without a pidfd, poll for the front. */
static int
next_timeout(const struct keeper *k)
{
	long long soon = soonest(k), t;
	int look = k->rq->front_pidfd < 0 && k->front == FRONT_ANSWERED;

	if (soon < 0 && !look)
		return -1;
	t = now_ms();
	if (look && (soon < 0 || soon > t + FRONT_POLL_MS))
		soon = t + FRONT_POLL_MS;
	return soon <= t ? 0 : (int)(soon - t > INT_MAX ? INT_MAX : soon - t);
}

/* Without a pidfd, the front is gone once we have been reparented. */
static void
check_front_fallback(struct keeper *k)
{
	if (k->rq->front_pidfd < 0 && k->front == FRONT_ANSWERED &&
	    getppid() != k->rq->front)
		k->front = FRONT_GONE;
}

enum { P_TO_FRONT, P_FRONT, P_OUT, P_ERR, P_SERVER_OUT, P_SERVER_ERR, NPOLL };

/* A full server side is waited for; the CGI's side is not read meanwhile. */
static void
watch(const struct keeper *k, struct pollfd *p)
{
	int listening = server_listening(k);

	memset(p, 0, NPOLL * sizeof(*p));
	p[P_TO_FRONT].fd = k->to_front;	/* events 0: POLLERR, POLLHUP */
	p[P_FRONT].fd = k->front >= FRONT_GONE ? -1 : k->rq->front_pidfd;
	p[P_OUT].fd = k->out.full && listening ? -1 : k->out.from;
	p[P_ERR].fd = k->err.full && listening ? -1 : k->err.from;
	/* Polled even when nothing waits: a silent CGI learns of a hang-up. */
	p[P_SERVER_OUT].fd = listening || end_held(k) ? STDOUT_FILENO : -1;
	p[P_SERVER_OUT].events = k->out.full ? POLLOUT : 0;
	p[P_SERVER_ERR].fd = listening && k->err.full ? STDERR_FILENO : -1;
	p[P_SERVER_ERR].events = POLLOUT;
	p[P_FRONT].events = POLLIN;
	p[P_ERR].events = POLLIN;
	p[P_OUT].events = k->at[GATHER] ? 0 : POLLIN;	/* then only its end */
}

static void
server_ready(struct keeper *k, struct stream *s, short revents)
{
	if (revents & (POLLERR | POLLHUP))
		output_failed(k, s, EPIPE);	/* its reader is gone */
	else if (revents & POLLOUT && end_held(k) && s == &k->out)
		s->full = 0;	/* write_the_end writes it */
	else if (revents & POLLOUT) {
		s->full = 0;
		(void)relay(k, s);	/* what waits, or the next read at once */
	}
}

static void
dispatch(struct keeper *k, const struct pollfd *p)
{
	/* First: front_gone lets in what is pending, SIGCHLD too, for below. */
	if (p[P_TO_FRONT].revents)
		front_gone(k);
	if (took(SIGCHLD))
		reap_on_sigchld(k);
	take_forwarded(k);
	if (p[P_FRONT].revents && k->front < FRONT_GONE) {
		if (k->front < FRONT_ANSWERED)	/* to_front not seen closed */
			front_gone(k);
		k->front = FRONT_GONE;
	}
	server_ready(k, &k->out, p[P_SERVER_OUT].revents);
	server_ready(k, &k->err, p[P_SERVER_ERR].revents);
	if ((p[P_OUT].revents & POLLHUP) && may_hold_end(k))
		hold_the_end(k);
	else if (p[P_OUT].revents && !gather(k))
		(void)relay(k, &k->out);
	if (p[P_ERR].revents)
		(void)relay(k, &k->err);
}

static void
supervise(struct keeper *k)
{
	struct pollfd p[NPOLL];

	while (!keeper_done(k)) {
		watch(k, p);
		if (wait_for(p, NPOLL, next_timeout(k)) < 0 && errno != EINTR) {
			log_simple("failed", "reason", strerror(errno));
			return;
		}
		dispatch(k, p);
		check_front_fallback(k);
		check_deadlines(k);
		check_end(k);
	}
}

/* ---- the keeper ---------------------------------------------------------- */

/*
 * The keeper outlives the request: it keeps its ends of the channels (the
 * table above) and the log, and of the server's fd 0 until the spawn and
 * fds 1 and 2.
 */
static void
close_inherited(struct keeper *k)
{
	const struct request *rq = k->rq;
	int keep[] = { rq->to_front[1], rq->out[0], rq->out[1], rq->err[0],
	    rq->err[1], rq->front_pidfd, log_fd };
	int n = (int)(sizeof(keep) / sizeof(keep[0])), i, lo, next;

	for (lo = 3; ; lo = next + 1) {
		next = INT_MAX;		/* the lowest kept one from lo on */
		for (i = 0; i < n; i++)
			if (keep[i] >= lo && keep[i] < next)
				next = keep[i];
		if (next > lo)
			close_range_fds(lo, next - 1);
		if (next == INT_MAX)
			return;
	}
}

/* Out of the server's process group and session, and out of reach. */
static void
out_of_reach(void)
{
	(void)setsid();
#ifdef LINUX_EXTRAS
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_simple("failed", "reason", strerror(errno));
#endif
}

static void
open_stream(struct stream *s, int from, int to)
{
	static char out_buf[RELAY_CHUNK], err_buf[4096];

	s->from = from;
	s->to = to;
	s->sink = sink_of(to);
	s->buf = to == STDOUT_FILENO ? out_buf : err_buf;
	s->size = to == STDOUT_FILENO ? sizeof(out_buf) : sizeof(err_buf);
}

static void
become_keeper(struct request *rq, struct keeper *k)
{
	memset(k, 0, sizeof(*k));
	k->rq = rq;
	k->phase = RUNNING;
	k->cgi_wstatus = -1;
	k->children = 1;
	k->splice_ok = 1;
	k->chunk = RELAY_CHUNK;
	k->to_front = rq->to_front[1];
	open_stream(&k->out, rq->out[0], STDOUT_FILENO);
	open_stream(&k->err, rq->err[0], STDERR_FILENO);
	rq->start_ms = now_ms();	/* the front never reads the clock */
	if (rq->cf.timeout_ms > 0)
		k->at[TIMEOUT] = rq->start_ms + rq->cf.timeout_ms;
	forwarder = rq->front;
	out_of_reach();
	catch_signal(SIGCHLD, 0, NULL);
	close_inherited(k);
	/* Our own pipes' read ends: they have no other flags to keep. */
	(void)fcntl(k->out.from, F_SETFL, O_NONBLOCK);
	(void)fcntl(k->err.from, F_SETFL, O_NONBLOCK);
}

/* A stop signal that reached the front while we started: start nothing. */
static int
abandoned_before_start(void)
{
	int i, abandoned = 0;

	(void)wait_for(NULL, 0, 0);
	for (i = 0; i < NHANDLED; i++)
		if (took(handled_signals[i]) && is_abandon_signal(handled_signals[i]))
			abandoned = 1;
	return abandoned;
}

static void
keeper(struct request *rq)
{
	struct keeper k;
	struct spawn sp;

	become_keeper(rq, &k);
	if (abandoned_before_start())
		_exit(0);
	memset(&sp, 0, sizeof(sp));
	sp.rq = rq;
	if ((k.cgi = spawn_cgi(&sp)) < 0) {
		/* Exiting frees our process for the front to exec the CGI. */
		if (errno == EAGAIN)
			tell_front(&k, TELL_UNSHIELDED, errno);
		else
			tell_front(&k, TELL_EXIT,
			    fail_request_errno(EXIT_FAILED, "spawn"));
		_exit(0);
	}
	keep_keeper_ends_after_spawn(rq);
	if (sp.err != 0)
		(void)fail_spawn(&sp);	/* the status follows from its exit */
	publish_state(&k);
	supervise(&k);
	log_finished(&k);
	_exit(0);
}

/* ---- the front ----------------------------------------------------------- */

/* Signals the front caught go to the keeper; an abandon one ends the front. */
static void
forward_signals(pid_t keeper)
{
	int i, sig;

	for (i = 0; i < NHANDLED; i++) {
		sig = handled_signals[i];
		if (!took(sig))
			continue;
		(void)kill(keeper, sig);
		if (is_abandon_signal(sig))
			_exit(128 + sig);
	}
}

/* The keeper could not spawn the CGI: once it is gone, run it ourselves. */
static void
take_over(struct request *rq, pid_t keeper, int err)
{
	while (waitpid(keeper, NULL, 0) < 0 && errno == EINTR)
		;
	stop_if_abandoned_early();	/* while we waited, blocked */
	run_unshielded(rq, "spawn", err);
}

/*
 * Forward what the server sends; leave at once when it gives up.  The
 * server's stdio stays open here until the front exits (before it is a
 * zombie, so before the keeper lets the server see EOF): the front may yet
 * have to run the CGI itself.
 */
static int
front(struct request *rq, pid_t keeper)
{
	struct pollfd p = { rq->to_front[0], POLLIN, 0 };
	unsigned char b[2];
	ssize_t n;

	keep_front_ends(rq);
	for (;;) {
		if (wait_for(&p, 1, -1) < 0 && errno != EINTR)
			_exit(EXIT_FAILED);
		forward_signals(keeper);	/* before the status */
		if (!p.revents)
			continue;
		while ((n = read(rq->to_front[0], b, sizeof(b))) < 0 &&
		    errno == EINTR)
			;
		if (n == 2 && b[0] == TELL_EXIT)
			_exit(b[1]);
		if (n == 2 && b[0] == TELL_UNSHIELDED)
			take_over(rq, keeper, b[1]);
		log_simple("failed", "reason", "keeper died");
		_exit(EXIT_FAILED);
	}
}

static void
open_channels(struct request *rq)
{
	if (pipe2(rq->to_front, O_CLOEXEC) < 0 || pipe2(rq->out, O_CLOEXEC) < 0 ||
	    pipe2(rq->err, O_CLOEXEC) < 0)
		die_errno(EXIT_FAILED, "pipe");
	rq->front_pidfd = pidfd_of(rq->front);
}

/* ---- admin commands: --list and --drain ---------------------------------- */

/*
 * A keeper publishes its state where /proc/PID/cmdline shows it: over its own
 * argv strings and, past them, its environ strings (the kernel reads on into
 * those when the last argv byte is not NUL).  Neither is needed once the CGI
 * has been spawned, so publishing is a few stores into our own memory.  Any
 * process can write such a line about itself: a reader parses it strictly and
 * trusts nothing in it.  --list prints it, --drain waits for it to go away
 * (bounded by its DURATION), and neither ever signals anything.
 */
#define MARK		"cgiguard: keeper "

struct mark {
	const char	*state;
	long long	 start, deadline;	/* CLOCK_MONOTONIC ms; 0: none */
	long		 pgid;
	const char	*script;
};

static char *title;			/* argv[0], then the strings after it */
static size_t title_size, title_args;	/* all of them; the argv ones */
static char *no_environ[] = { NULL };

/* At start, before anything changes argv or environ. */
static void
note_title_area(int argc, char **argv)
{
	char *end;
	int i;

	if (argc < 1 || argv[0] == NULL)
		return;
	end = argv[0];
	for (i = 0; i < argc && argv[i] == end; i++)
		end += strlen(argv[i]) + 1;
	title_args = (size_t)(end - argv[0]);
	if (i == argc)		/* environ follows argv only when argv is whole */
		for (i = 0; environ[i] != NULL && environ[i] == end; i++)
			end += strlen(environ[i]) + 1;
	title = argv[0];
	title_size = (size_t)(end - title);
	if (title_size > MARK_MAX)
		title_size = MARK_MAX;
}

/*
 * The script (absolute: see make_script_absolute), away from the title: at
 * the end of the title area, past argv's part and past any mark, when it
 * fits there (the area is ours once environ is let go), else in a static
 * buffer.
 */
static void
save_script(struct request *rq)
{
	static char saved[PATH_MAX];
	size_t len = strlen(rq->script) + 1;
	char *to = saved;

	if (title_size >= title_args + len && title_size >= 2 * len + 200) {
		to = title + title_size - len;
		memmove(to, rq->script, len);
	} else
		snprintf(saved, sizeof(saved), "%s", rq->script);
	rq->script = to;
}

/* Called where the keeper's state changes; the first call follows the spawn. */
static void
publish_state(const struct keeper *k)
{
	const struct request *rq = k->rq;
	long long deadline;
	size_t used;
	int n;

	if (title == NULL || title_size == 0)
		return;
	if (environ != no_environ) {	/* the first call */
		save_script(k->rq);
		environ = no_environ;
	}
	deadline = k->phase == RUNNING ? k->at[TIMEOUT] : k->at[GRACE];
	n = snprintf(title, title_size, MARK "state=%s start=%lld deadline=%lld "
	    "pgid=%ld script=%s", phase_names[k->phase], rq->start_ms,
	    deadline, (long)k->cgi, rq->script);
	if (n < 0)
		return;
	used = (size_t)n + 1 < title_size ? (size_t)n + 1 : title_size;
	if (used < title_args)
		memset(title + used, 0, title_args - used);
}

static int
is_admin_command(const char *word)
{
	return strcmp(word, "--list") == 0 || strcmp(word, "--drain") == 0 ||
	    strncmp(word, "--drain=", 8) == 0 ||
	    strcmp(word, "--check") == 0 || strncmp(word, "--check=", 8) == 0;
}

static NORETURN void
refuse_admin(const char *name)
{
	die(EXIT_FAILED, "'--%s' is an admin command: only alone on the command "
	    "line, outside CGI context", name);
}

static const char *
mark_number(const char *p, const char *key, long long *v)
{
	unsigned long long u;
	size_t n = strlen(key);

	if (strncmp(p, key, n) != 0 ||
	    (p = parse_digits(p + n, &u)) == NULL ||
	    u > (unsigned long long)LLONG_MAX / 4 || *p != ' ')
		return NULL;
	*v = (long long)u;
	return p + 1;
}

/* "cgiguard: keeper state=S start=MS deadline=MS pgid=N script=PATH". */
static int
parse_mark(const char *s, struct mark *m)
{
	const char *p = s + sizeof(MARK) - 1 + 6;
	long long pgid;
	size_t i, n = 0;

	if (strncmp(s, MARK "state=", sizeof(MARK) - 1 + 6) != 0)
		return -1;
	for (i = 0; i < NPHASES; i++) {
		n = strlen(phase_names[i]);
		if (strncmp(p, phase_names[i], n) == 0 && p[n] == ' ')
			break;
	}
	if (i == NPHASES)
		return -1;
	m->state = phase_names[i];
	if ((p = mark_number(p + n + 1, "start=", &m->start)) == NULL ||
	    (p = mark_number(p, "deadline=", &m->deadline)) == NULL ||
	    (p = mark_number(p, "pgid=", &pgid)) == NULL ||
	    pgid < 1 || pgid > INT_MAX || strncmp(p, "script=", 7) != 0 ||
	    p[7] == '\0')
		return -1;
	m->pgid = (long)pgid;
	m->script = p + 7;
	return 0;
}

/* Read twice: a keeper may be rewriting its line while we read it. */
static int
read_mark(const char *pid, char *buf, size_t size, struct mark *m)
{
	char path[64], again[MARK_MAX + 1];
	int tries;

	snprintf(path, sizeof(path), "/proc/%.20s/cmdline", pid);
	for (tries = 0; tries < 3; tries++) {
		if (read_small(path, buf, size) < 0 ||
		    strncmp(buf, MARK, sizeof(MARK) - 1) != 0 ||
		    read_small(path, again, sizeof(again)) < 0)
			return -1;
		if (strcmp(buf, again) == 0)
			return parse_mark(buf, m);
	}
	return -1;
}

/* The cgroup of pid's systemd unit, as a path. */
static int
cgroup_of(const char *pid, char *out, size_t size)
{
	char path[64], buf[4096], *p, *e;

	snprintf(path, sizeof(path), "/proc/%.20s/cgroup", pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	if (strncmp(buf, "0::", 3) == 0)
		p = buf + 3;
	else if ((p = strstr(buf, "\n0::")) != NULL)
		p += 4;
	/*
	 * Where nothing uses the unified hierarchy, as under systemd's legacy
	 * layout, every process is in its root: the unit is in systemd's own.
	 */
	if ((p == NULL || strncmp(p, "/\n", 2) == 0) &&
	    (e = strstr(buf, ":name=systemd:")) != NULL)
		p = e + 14;
	if (p == NULL)
		return -1;
	if ((e = strchr(p, '\n')) != NULL)
		*e = '\0';
	if (*p != '/')
		return -1;
	snprintf(out, size, "%s", p);
	return 0;
}

/* The cgroup itself or one beneath it. */
static int
within(const char *cg, const char *top)
{
	size_t n = strlen(top);

	return strcmp(top, "/") == 0 ||
	    (strncmp(cg, top, n) == 0 && (cg[n] == '\0' || cg[n] == '/'));
}

static const char *
user_name(int uid, char *out, size_t size)
{
	struct passwd *pw = getpwuid((uid_t)uid);

	if (pw != NULL)
		snprintf(out, size, "%s", pw->pw_name);
	else
		snprintf(out, size, "%d", uid);
	return out;
}

/*
 * An admin command's line of key=value fields, without the blank before the
 * first; standard output failing is a failure of the command.
 */
static void
print_line(int fd, struct line *l)
{
	size_t skip = l->buf[0] == ' ';

	line_put(l, "\n", 1);
	l->buf[l->len - 1] = '\n';	/* a full line still ends */
	if (write_all(fd, l->buf + skip, l->len - skip) < 0 &&
	    fd == STDOUT_FILENO)
		die_errno(EXIT_FAILED, "stdout");
}

/* One line in the log's key=value form, after prefix. */
static void
print_mark(int fd, const char *prefix, const char *pid, int uid,
    const struct mark *m, const char *cg, long long now)
{
	struct line l;
	char user[64], secs[32];

	l.len = 0;
	l.buf[0] = '\0';
	line_put(&l, prefix, strlen(prefix));
	line_add(&l, "pid", pid);
	line_add(&l, "user", user_name(uid, user, sizeof(user)));
	line_add(&l, "script", m->script);
	line_add(&l, "state", m->state);
	line_add(&l, "age", put_secs(secs,
	    now > m->start ? now - m->start : 0));
	if (m->deadline == 0)
		line_add(&l, "left", "none");
	else
		line_add(&l, "left", put_secs(secs, m->deadline > now ?
		    m->deadline - now : 0));
	line_addf(&l, "pgid", "%ld", m->pgid);
	line_add(&l, "cgroup", cg);
	print_line(fd, &l);
}

struct keeper_scan {
	const char	*top;		/* cgroup, or NULL: any */
	int		 fd;		/* print each here, or -1 */
	const char	*prefix;
	long long	 now;
	int		 n;		/* keepers seen */
};

static int
see_keeper(const char *pid, void *arg)
{
	struct keeper_scan *ks = arg;
	char buf[MARK_MAX + 1], cg[PATH_MAX];
	struct mark m;
	int uid;

	if (read_mark(pid, buf, sizeof(buf), &m) < 0 ||
	    (uid = real_uid_of(pid)) < 0 ||
	    (getuid() != 0 && uid != (int)getuid()))
		return 0;
	if (cgroup_of(pid, cg, sizeof(cg)) < 0) {
		if (ks->top != NULL)
			return 0;	/* gone since we read its line */
		snprintf(cg, sizeof(cg), "unknown");
	} else if (ks->top != NULL && !within(cg, ks->top))
		return 0;
	ks->n++;
	if (ks->fd >= 0)
		print_mark(ks->fd, ks->prefix, pid, uid, &m, cg, ks->now);
	return 0;
}

/*
 * The keepers the caller may see (root: all; others: their own uid's), in
 * cgroup top or beneath it unless top is NULL.  With fd >= 0 each is printed.
 */
static int
scan_keepers(const char *top, int fd, const char *prefix)
{
	struct keeper_scan ks = { top, fd, prefix, now_ms(), 0 };

	if (proc_walk(see_keeper, &ks) < 0)
		die(EXIT_FAILED, "no /proc here: no request can be seen");
	return ks.n;
}

/* Until no keeper is left in our cgroup (ExecStop runs in the unit's). */
static void
drain(long long ms)
{
	char mine[PATH_MAX];
	const char *top = cgroup_of("self", mine, sizeof(mine)) == 0 ? mine : NULL;
	long long until = now_ms() + ms, left;

	while (scan_keepers(top, -1, "") > 0) {
		if ((left = until - now_ms()) <= 0) {
			if (scan_keepers(top, STDERR_FILENO,
			    "cgiguard: still shielded:") == 0)
				leave(0);
			leave(EXIT_TIMEDOUT);
		}
		(void)poll(NULL, 0, left < DRAIN_POLL_MS ? (int)left :
		    DRAIN_POLL_MS);
	}
	leave(0);
}

/* What a request for the script would run with, in the log's form. */
static void
print_settings(const struct request *rq)
{
	static const char *const form_name[] = {
		[FORM_COMMAND] = "command", [FORM_SHEBANG] = "#!",
		[FORM_HANDLER] = "handler", [FORM_ACTION] = "handler"
	};
	const struct config *cf = &rq->cf;
	struct line l = { "", 0 };
	char secs[32];
	int i;

	line_add(&l, "script", rq->script);
	line_add(&l, "form", form_name[rq->form]);
	line_add(&l, "program", rq->path);
	line_add(&l, "grace", put_secs(secs, cf->grace_ms));
	line_add(&l, "timeout", cf->timeout_ms > 0 ?
	    put_secs(secs, cf->timeout_ms) : "none");
	line_add(&l, "signal", cf->stop_signal > 0 ?
	    signal_name(cf->stop_signal) : "none");
	line_add(&l, "log", cf->log != NULL ? cf->log : "syslog");
	line_add(&l, "verbose", cf->verbose ? "yes" : "no");
	for (i = 0; i < NLIMITS; i++)
		if (cf->limit_set[i])
			line_addf(&l, options[O_CPU + i].name, "%llu",
			    (unsigned long long)cf->limit[i]);
	if (cf->nice_set)
		line_addf(&l, "nice", "%d", cf->nice);
	if (cf->umask_set)
		line_addf(&l, "umask", "%03o", (unsigned)cf->umask);
	line_add(&l, "clean-env", cf->clean_env ? "yes" : "no");
	for (i = 0; i < cf->npass_env; i++)
		line_add(&l, "pass-env", cf->pass_env[i]);
	line_addf(&l, "uid", "%ld", (long)getuid());
	line_add(&l, "checks", "passed");
	print_line(STDOUT_FILENO, &l);
}

/*
 * --check[=FILE] [SCRIPT]: the policy file, or a candidate, read as every
 * request reads it, each bad line told; then what a request for SCRIPT by
 * this user would run with, or why it would be refused.  Nothing runs.
 */
static NORETURN void
check_command(struct request *rq, int argc, char **argv)
{
	char line[SHEBANG_MAX + 1], *w[2];

	if (argc > 3)
		usage_error("'%s' takes a policy file and a script, no more",
		    argv[1]);
	if (argv[1][7] == '=')
		policy_path = argv[1] + 8;
	if (policy_path[0] != '/')
		usage_error("--check: '%s' is not an absolute path",
		    policy_path);
	checking = 1;
	read_policy();
	if (findings > 0 || argc == 2) {
		snprintf(line, sizeof(line), "%.200s: OK\n", policy_path);
		if (findings == 0 && write_all(STDOUT_FILENO, line,
		    strlen(line)) < 0)
			die_errno(EXIT_FAILED, "stdout");
		leave(findings > 0);
	}
	rq->cgi_context = 1;
	rq->form = FORM_HANDLER;
	rq->path = rq->script = argv[2];
	/* A #! line naming cgiguard: the argv the kernel would make, checked. */
	if (split_shebang(rq, argv[2], line, w) < 0)
		die_errno(EXIT_CANNOT, argv[2]);
	if (w[0] != NULL && same_file(w[0], "/proc/self/exe")) {
		char *shebang[4] = { w[0], w[1], argv[2], NULL };

		if (w[1] == NULL || *w[1] == '\0')
			refuse_shebang(argv[2], "missing interpreter");
		rq->form = FORM_SHEBANG;
		read_shebang(rq, 3, shebang);
	}
	apply_policy(rq);
	refuse_root_cgi(rq);
	check_script(rq);
	print_settings(rq);
	leave(0);
}

/* Given alone on the command line, outside CGI context. */
static void
admin_command(struct request *rq, int argc, char **argv)
{
	if (strncmp(argv[1], "--check", 7) == 0)
		check_command(rq, argc, argv);
	if (argc > 2)
		usage_error("'%s' takes no program and no other option",
		    argv[1]);
	if (strcmp(argv[1], "--list") == 0) {
		(void)scan_keepers(NULL, STDOUT_FILENO, "");
		leave(0);
	}
	drain(argv[1][7] == '=' ? parse_duration("--drain", argv[1] + 8) :
	    DEFAULT_DRAIN_MS);
}

int
main(int argc, char *argv[])
{
	static struct request rq;
	const char *asked;
	pid_t pid;

	the_request = &rq;
	rq.cf.grace_ms = DEFAULT_GRACE_MS;
	rq.cf.stop_signal = SIGTERM;
	note_title_area(argc, argv);
	rq.cgi_context = getenv("GATEWAY_INTERFACE") != NULL;
	if (rq.cgi_context)
		save_request_fields();
	ensure_std_fds();
	refuse_secure_exec();
	if (!rq.cgi_context && argc >= 2 && is_admin_command(argv[1]))
		admin_command(&rq, argc, argv);
	read_policy();
	if (rq.cgi_context)	/* the policy's log: refusals from here on */
		log_open(policy.cf.log);
	read_invocation(&rq, argc, argv);
	apply_policy(&rq);
	log_open(rq.cf.log);
	refuse_root_cgi(&rq);
	check_script(&rq);
	asked = rq.path;
	resolve_program(&rq);
	make_script_absolute(&rq, asked);
	if (rq.form == FORM_ACTION)
		enter_script_dir(&rq);
	scrub_environment(&rq.cf);
	rq.front = getpid();
	open_channels(&rq);
	take_signals(&rq);
	stop_if_abandoned_early();
	/* _Fork (POSIX.1-2024): one thread, no atfork handlers to run */
	if ((pid = _Fork()) < 0 && errno == EAGAIN)
		run_unshielded(&rq, "fork", EAGAIN);
	if (pid < 0)
		die_errno(EXIT_FAILED, "fork");
	if (pid == 0)
		keeper(&rq);
	return front(&rq, pid);
}
