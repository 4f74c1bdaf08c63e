/*
 * bench - paired timing driver for cgiguard's benchmark (tests/bench/run.sh).
 *
 *   bench req ROUNDS SECONDS  name cmd [arg ...] [:: name cmd [arg ...]] ...
 *   bench mem SAMPLES CGIPATH name cmd [arg ...] [:: name cmd ...] ...
 *   bench bulk PAIRS SECONDS  name[@PIPE] cmd [arg ...] :: name cmd [arg ...]
 *   bench stream PAIRS        name cmd [arg ...] :: name cmd [arg ...]
 *   bench flood PAIRS SECONDS name cmd [arg ...] :: name cmd [arg ...]
 *   bench herd N CGIPATH cmd [arg ...]
 *   bench reap cmd [arg ...]
 *
 * The first variant is the baseline (the CGI run directly).  Each round runs
 * every variant once, in a random order (bulk and stream alternate AB, BA),
 * and every statistic is taken over the per-round differences or ratios
 * against the baseline of the same round: median, min and max.
 *
 * A run plays the server: fork, exec with stdout and stderr on pipes, read
 * both to EOF, wait4 the child.  That is the response time.  The driver is a
 * child subreaper, so the processes a wrapper leaves (cgiguard's keeper) are
 * reparented to it; they are reaped before the next run, and their wait4
 * rusage is added to the request's minor faults and CPU time.
 *
 * NAME@BYTES sets the size of the pipe that variant's stdout goes to.
 * `mem` reads /proc/PID/smaps_rollup of every process between the driver and
 * the CGI (CGIPATH) while the CGI waits for EOF on its stdin; text_kb is the
 * resident part of its executable mappings (smaps).  `herd` starts N
 * requests one after another, each abandoned (TERM to the front) once the
 * CGI has written, sums the smaps_rollup of the processes left that are not
 * the CGI (the keepers), then kills every descendant and reaps them.  `flood`
 * abandons each request as a server does once the CGI's first output is
 * there (closes both pipes, TERM to the front), then adds up the CPU time of
 * every process of the request until the last is reaped: what cgiguard's
 * keeper spends discarding what the CGI writes after that.  `reap`
 * runs a command as a subreaper and returns once every descendant is gone.
 * Output: one line of key=value fields per result, for run.sh to tabulate.
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXVAR		16
#define RUN_LIMIT_MS	60000	/* a run that takes longer is killed */
#define MAXLINES	4096

struct variant {
	const char	*name;
	char		**argv;
	int		 pipe_size;	/* NAME@BYTES: stdout pipe size, 0: default */
};

struct run {
	double		 resp_us;	/* fork to EOF on 1 and 2 and child reaped */
	double		 all_us;	/* ... and every descendant reaped */
	double		 minflt;	/* every process of the request */
	double		 minflt_child;	/* the forked process (and its waited children) */
	double		 cpu_us;	/* user+sys of every process of the request */
	double		 self_cpu_us;	/* the driver's own, reading the output */
	long long	 bytes;
	int		 nlat;
	double		*lat_us;	/* stream: receive minus write time per line */
};

enum mode { M_COUNT, M_TICK, M_HOLD };

static char buf[1 << 16];

static void
die(const char *msg)
{
	fprintf(stderr, "bench: %s: %s\n", msg, strerror(errno));
	exit(1);
}

static double
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static double
tv_us(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e6 + (double)tv->tv_usec;
}

static double
self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return tv_us(&ru.ru_utime) + tv_us(&ru.ru_stime);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of v[0..n-1] (v is sorted in place). */
static void
stats(double *v, int n, double *med, double *min, double *max)
{
	if (n == 0) {
		*med = *min = *max = 0;
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*min = v[0];
	*max = v[n - 1];
}

static double
median(double *v, int n)
{
	double med, min, max;

	stats(v, n, &med, &min, &max);
	return med;
}

/* ---- the process tree ------------------------------------------------------ */

static pid_t
ppid_of(pid_t pid)
{
	char path[64], line[512], *p;
	FILE *f;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL)
		sscanf(p + 1, " %*c %d", &ppid);
	fclose(f);
	return (pid_t)ppid;
}

/* root and its descendants, parents before children; returns the count. */
static int
descendants(pid_t root, pid_t *out, int max)
{
	pid_t all[8192], par[8192];
	int n = 0, k = 0, i, j;
	struct dirent *d;
	DIR *dir;

	if ((dir = opendir("/proc")) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL && n < 8192) {
		pid_t pid = (pid_t)atoi(d->d_name);

		if (pid > 0) {
			all[n] = pid;
			par[n++] = ppid_of(pid);
		}
	}
	closedir(dir);
	out[k++] = root;
	for (i = 0; i < k; i++)
		for (j = 0; j < n && k < max; j++)
			if (par[j] == out[i])
				out[k++] = all[j];
	return k;
}

static void
kill_tree(pid_t root)
{
	pid_t t[256];
	int i, n = descendants(root, t, 256);

	for (i = n - 1; i >= 0; i--)
		kill(t[i], SIGKILL);
}

/* ---- one request ------------------------------------------------------------ */

static void (*on_ready)(pid_t, void *);
static void *ready_arg;

/* Parses complete "NANOSECONDS\n" lines in b; keeps a partial one in carry. */
static void
tick_lines(struct run *r, const char *b, size_t n, char *carry, size_t *clen,
    double recv_us)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != '\n') {
			if (*clen < 31)
				carry[(*clen)++] = b[i];
			continue;
		}
		carry[*clen] = '\0';
		*clen = 0;
		if (r->nlat < MAXLINES)
			r->lat_us[r->nlat++] = recv_us -
			    (double)strtoll(carry, NULL, 10) / 1e3;
	}
}

static void
child_exec(char **argv, int in, int out, int err)
{
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}

static void
add_rusage(struct run *r, const struct rusage *ru)
{
	r->minflt += (double)ru->ru_minflt;
	r->cpu_us += tv_us(&ru->ru_utime) + tv_us(&ru->ru_stime);
}

static void
run_one(const struct variant *v, enum mode mode, struct run *r)
{
	int out[2], err[2], in[2] = { -1, -1 }, open_fds = 2, status, ready = 0;
	double t0, t1, c0, deadline, *lat = r->lat_us;
	struct pollfd pf[2];
	struct rusage ru;
	char carry[32];
	size_t clen = 0;
	pid_t pid, p;

	memset(r, 0, sizeof(*r));
	r->lat_us = lat;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		die("pipe");
	if (v->pipe_size > 0 && fcntl(out[0], F_SETPIPE_SZ, v->pipe_size) < 0)
		die("F_SETPIPE_SZ");
	if (mode == M_HOLD) {
		if (pipe2(in, O_CLOEXEC) < 0)
			die("pipe");
	} else if ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		die("/dev/null");
	c0 = self_cpu();
	t0 = now_us();
	deadline = t0 + RUN_LIMIT_MS * 1e3;
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0)
		child_exec(v->argv, in[0], out[1], err[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	pf[0].fd = out[0];
	pf[1].fd = err[0];
	pf[0].events = pf[1].events = POLLIN;
	while (open_fds > 0) {
		int i, rc = poll(pf, 2, 1000);

		if (rc < 0 && errno != EINTR)
			die("poll");
		if (now_us() > deadline) {
			fprintf(stderr, "bench: %s: run took over %d ms; killed\n",
			    v->name, RUN_LIMIT_MS);
			kill_tree(pid);
			exit(1);
		}
		for (i = 0; rc > 0 && i < 2; i++) {
			ssize_t n;

			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			n = read(pf[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 1)
				continue;	/* stderr: read and drop, as a server logs */
			r->bytes += n;
			if (mode == M_TICK)
				tick_lines(r, buf, (size_t)n, carry, &clen,
				    now_us());
			if (mode == M_HOLD && !ready) {
				ready = 1;
				on_ready(pid, ready_arg);
				close(in[1]);
			}
		}
	}
	if (mode == M_HOLD && !ready)
		close(in[1]);
	while ((p = wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR)
		;
	if (p < 0)
		die("wait4");
	t1 = now_us();
	r->resp_us = t1 - t0;
	add_rusage(r, &ru);
	r->minflt_child = (double)ru.ru_minflt;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "bench: %s: exit status %d\n", v->name, status);
	/* What the wrapper left behind (cgiguard's keeper) is ours to reap. */
	while ((p = wait4(-1, &status, 0, &ru)) > 0 || errno == EINTR)
		if (p > 0)
			add_rusage(r, &ru);
	r->all_us = now_us() - t0;
	r->self_cpu_us = self_cpu() - c0;
}

/* ---- variants ---------------------------------------------------------------- */

static int
parse_variants(int argc, char **argv, struct variant *v)
{
	int n = 0, i = 0;
	char *at;

	while (i < argc && n < MAXVAR) {
		if (i + 1 >= argc || strcmp(argv[i + 1], "::") == 0) {
			fprintf(stderr, "bench: variant '%s' has no command\n",
			    argv[i]);
			exit(2);
		}
		v[n].name = argv[i++];
		v[n].argv = argv + i;
		v[n].pipe_size = 0;
		if ((at = strchr(v[n].name, '@')) != NULL) {
			*at = '\0';
			v[n].pipe_size = atoi(at + 1);
		}
		while (i < argc && strcmp(argv[i], "::") != 0)
			i++;
		if (i < argc)
			argv[i++] = NULL;
		n++;
	}
	return n;
}

/* The parts that compare two variants: any other number is a usage error. */
static void
parse_pair(const char *part, int argc, char **argv, struct variant *v)
{
	if (parse_variants(argc, argv, v) != 2) {
		fprintf(stderr, "bench: %s takes two variants\n", part);
		exit(2);
	}
}

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void
shuffle(int *o, int n)
{
	int i, j, t;

	for (i = 0; i < n; i++)
		o[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = (int)rnd((unsigned)i + 1);
		t = o[i];
		o[i] = o[j];
		o[j] = t;
	}
}

/* ---- req: cost per request ------------------------------------------------- */

enum { F_RESP, F_ALL, F_FLT, F_FLTC, F_CPU, NF };

static int
cmd_req(int argc, char **argv)
{
	struct variant v[MAXVAR];
	int rounds = atoi(argv[0]), nv, i, r, k, o[MAXVAR], done = 0;
	double secs = atof(argv[1]), t0, *val[MAXVAR][NF];
	struct run run = { 0 };

	nv = parse_variants(argc - 2, argv + 2, v);
	for (i = 0; i < nv; i++)
		for (k = 0; k < NF; k++)
			if ((val[i][k] = calloc((size_t)rounds, sizeof(double))) == NULL)
				die("calloc");
	for (r = 0; r < 20; r++)	/* warm up caches and the page cache */
		for (i = 0; i < nv; i++)
			run_one(&v[i], M_COUNT, &run);
	t0 = now_us();
	for (r = 0; r < rounds && now_us() - t0 < secs * 1e6; r++) {
		shuffle(o, nv);
		for (k = 0; k < nv; k++) {
			i = o[k];
			run_one(&v[i], M_COUNT, &run);
			val[i][F_RESP][r] = run.resp_us;
			val[i][F_ALL][r] = run.all_us;
			val[i][F_FLT][r] = run.minflt;
			val[i][F_FLTC][r] = run.minflt_child;
			val[i][F_CPU][r] = run.cpu_us;
		}
		done++;
	}
	for (i = 0; i < nv; i++) {
		double med[NF], dmed[NF], dmin[NF], dmax[NF], ratio, rmin, rmax;
		double *d = calloc((size_t)done, sizeof(double));

		if (d == NULL)
			die("calloc");
		for (k = 0; k < NF; k++) {
			for (r = 0; r < done; r++)
				d[r] = val[i][k][r] - val[0][k][r];
			stats(d, done, &dmed[k], &dmin[k], &dmax[k]);
		}
		for (r = 0; r < done; r++)
			d[r] = val[i][F_RESP][r] / val[0][F_RESP][r];
		stats(d, done, &ratio, &rmin, &rmax);
		for (k = 0; k < NF; k++)
			med[k] = median(val[i][k], done);
		printf("req name=%s n=%d us=%.0f add=%.0f add_min=%.0f "
		    "add_max=%.0f ratio=%.2f all_us=%.0f all_add=%.0f "
		    "flt=%.0f flt_add=%.0f flt_add_min=%.0f flt_add_max=%.0f "
		    "fltc=%.0f fltc_add=%.0f cpu_us=%.0f cpu_add=%.0f\n",
		    v[i].name, done, med[F_RESP], dmed[F_RESP], dmin[F_RESP],
		    dmax[F_RESP], ratio, med[F_ALL], dmed[F_ALL], med[F_FLT],
		    dmed[F_FLT], dmin[F_FLT], dmax[F_FLT], med[F_FLTC],
		    dmed[F_FLTC], med[F_CPU], dmed[F_CPU]);
		free(d);
	}
	return 0;
}

/* ---- mem: resident memory of the wrapper's processes --------------------- */

#define MAXPROC 8

struct memprobe {
	const char	*cgi;		/* the CGI's executable: not a wrapper */
	int		 n;
	char		 comm[MAXPROC][32];
	double		 rss[MAXPROC], pss[MAXPROC], priv[MAXPROC];
	double		 text[MAXPROC];
};

/* Rss, Pss and private KiB from smaps_rollup; -1 where unreadable. */
static void
read_rollup(pid_t pid, double *rss, double *pss, double *priv)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	*rss = *pss = -1;
	*priv = 0;
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		double kb = 0;

		sscanf(line, "Rss: %lf", rss);
		sscanf(line, "Pss: %lf", pss);
		if (sscanf(line, "Private_Clean: %lf", &kb) == 1 ||
		    sscanf(line, "Private_Dirty: %lf", &kb) == 1)
			*priv += kb;
	}
	fclose(f);
}

/* Resident KiB of the executable mappings (program text). */
static double
text_rss(pid_t pid)
{
	char path[64], line[256], perms[8];
	double kb, sum = 0;
	int exec = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*x-%*x %7s", perms) == 1 &&
		    strchr(line, '-') < strchr(line, ' '))
			exec = strchr(perms, 'x') != NULL &&
			    strstr(line, "[vdso]") == NULL &&
			    strstr(line, "[vsyscall]") == NULL;
		else if (exec && sscanf(line, "Rss: %lf", &kb) == 1)
			sum += kb;
	}
	fclose(f);
	return sum;
}

static int
is_cgi(pid_t pid, const char *cgi)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) < 0)
		return 0;
	exe[n] = '\0';
	return strcmp(exe, cgi) == 0;
}

static void
probe_memory(pid_t pid, void *arg)
{
	struct memprobe *m = arg;
	pid_t t[MAXPROC + 1];
	int i, n = descendants(pid, t, MAXPROC + 1);
	char path[64];
	FILE *f;

	m->n = 0;
	for (i = 0; i < n && m->n < MAXPROC; i++) {
		if (is_cgi(t[i], m->cgi))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)t[i]);
		m->comm[m->n][0] = '\0';
		if ((f = fopen(path, "re")) != NULL) {
			if (fgets(m->comm[m->n], 32, f) != NULL)
				m->comm[m->n][strcspn(m->comm[m->n], "\n")] = '\0';
			fclose(f);
		}
		read_rollup(t[i], &m->rss[m->n], &m->pss[m->n], &m->priv[m->n]);
		m->text[m->n] = text_rss(t[i]);
		m->n++;
	}
}

static int
cmd_mem(int argc, char **argv)
{
	struct variant v[MAXVAR];
	int samples = atoi(argv[0]), nv, i, s, p;
	char cgi[PATH_MAX];
	struct run run = { 0 };

	if (realpath(argv[1], cgi) == NULL)
		die(argv[1]);
	if (samples < 1 || samples > 64)
		samples = samples < 1 ? 1 : 64;
	nv = parse_variants(argc - 2, argv + 2, v);
	on_ready = probe_memory;
	for (i = 0; i < nv; i++) {
		struct memprobe m[64];
		double rss[64], pss[64], priv[64], text[64];

		memset(m, 0, sizeof(m));
		for (s = 0; s < samples; s++) {
			m[s].cgi = cgi;
			ready_arg = &m[s];
			run_one(&v[i], M_HOLD, &run);
		}
		printf("mem name=%s procs=%d\n", v[i].name, m[0].n);
		for (p = 0; p < m[0].n; p++) {
			for (s = 0; s < samples; s++) {
				rss[s] = m[s].n > p ? m[s].rss[p] : 0;
				pss[s] = m[s].n > p ? m[s].pss[p] : 0;
				priv[s] = m[s].n > p ? m[s].priv[p] : 0;
				text[s] = m[s].n > p ? m[s].text[p] : 0;
			}
			printf("mem name=%s proc=%d comm=%s rss_kb=%.0f pss_kb=%.0f "
			    "private_kb=%.0f text_kb=%.0f\n", v[i].name, p,
			    m[0].comm[p], median(rss, samples), median(pss, samples),
			    median(priv, samples), median(text, samples));
		}
	}
	return 0;
}

/* ---- herd: the memory of many abandoned keepers ---------------------------- */

#define HERD_MAX	2000

/*
 * SIGKILL to every descendant, by pid, until none is left (at most 10 s);
 * returns how many were left.
 */
static int
kill_descendants(void)
{
	static pid_t t[2 * HERD_MAX + 8];
	pid_t self = getpid();
	int i, left, status;
	double t0 = now_us();

	while ((left = descendants(self, t, 2 * HERD_MAX + 8)) > 1 &&
	    now_us() - t0 < 10e6) {
		for (i = left - 1; i >= 1; i--)
			kill(t[i], SIGKILL);
		while (waitpid(-1, &status, WNOHANG) > 0)
			;
		usleep(10000);
	}
	while (waitpid(-1, &status, WNOHANG) > 0)
		;
	if (left > 1)
		fprintf(stderr, "bench: %d processes left\n", left - 1);
	return left - 1;
}

static int
cmd_herd(int argc, char **argv)
{
	int n = atoi(argv[0]), i, started = 0, left, status, devnull;
	double rss = 0, pss = 0, priv = 0, r, p, q;
	static pid_t t[2 * HERD_MAX + 8];
	char cgi[PATH_MAX], c;
	pid_t pid, self = getpid();

	if (argc < 3 || n < 1 || n > HERD_MAX || realpath(argv[1], cgi) == NULL) {
		fprintf(stderr, "bench: herd N CGIPATH cmd [arg ...]\n");
		return 2;
	}
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		die("/dev/null");
	for (i = 0; i < n; i++) {
		int out[2];

		if (pipe2(out, O_CLOEXEC) < 0)
			die("pipe");
		if ((pid = fork()) < 0)
			die("fork");
		if (pid == 0)
			child_exec(argv + 2, devnull, out[1], devnull);
		close(out[1]);
		while (read(out[0], &c, 1) < 0 && errno == EINTR)
			;			/* the CGI has started */
		kill(pid, SIGTERM);		/* the server abandons it */
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		close(out[0]);
		started++;
	}
	usleep(200000);				/* the keepers settle */
	left = descendants(self, t, 2 * HERD_MAX + 8);
	for (i = 1, n = 0; i < left; i++) {
		if (is_cgi(t[i], cgi))
			continue;
		read_rollup(t[i], &r, &p, &q);
		if (r < 0)
			continue;
		if (n == 0 && getenv("BENCH_HERD_SMAPS") != NULL) {
			char cmd[256];

			snprintf(cmd, sizeof(cmd), "awk '/^[0-9a-f]+-/ { m = $1 \" \" $2 \" \" $6 } "
			    "/^Rss/ { r = $2 } /^Private_Dirty/ { if (r) print m, r, $2 }' "
			    "/proc/%d/smaps >&2", (int)t[i]);
			if (system(cmd) != 0)
				fprintf(stderr, "bench: smaps of %d\n", (int)t[i]);
		}
		rss += r;
		pss += p;
		priv += q;
		n++;
	}
	printf("herd requests=%d keepers=%d rss_kb=%.0f pss_kb=%.0f "
	    "private_kb=%.0f\n", started, n, rss, pss, priv);
	return kill_descendants() > 0;
}

/* ---- bulk: 1 GiB through the relay ----------------------------------------- */

static int
cmd_bulk(int argc, char **argv)
{
	struct variant v[MAXVAR];
	int pairs = atoi(argv[0]), n = 0, k, j;
	double secs = atof(argv[1]), t0;
	double wall[2][64], cpu[2][64], d[64], med, min, max;
	long long bytes = -1;
	struct run run = { 0 };

	parse_pair("bulk", argc - 2, argv + 2, v);
	if (pairs > 64)
		pairs = 64;
	run_one(&v[0], M_COUNT, &run);	/* warm up */
	t0 = now_us();
	for (k = 0; k < pairs && (k < 3 || now_us() - t0 < secs * 1e6); k++) {
		for (j = 0; j < 2; j++) {
			int i = (k + j) % 2;	/* AB, BA, AB, ... */

			run_one(&v[i], M_COUNT, &run);
			if (bytes >= 0 && run.bytes != bytes) {
				fprintf(stderr, "bench: %s relayed %lld bytes, "
				    "not %lld\n", v[i].name, run.bytes, bytes);
				return 1;
			}
			bytes = run.bytes;
			wall[i][k] = run.resp_us;
			cpu[i][k] = run.cpu_us + run.self_cpu_us;
		}
		n++;
	}
	for (k = 0; k < n; k++)
		d[k] = wall[1][k] / wall[0][k];
	stats(d, n, &med, &min, &max);
	printf("bulk name=%s base=%s base_pipe=%d n=%d bytes=%lld wall_ms=%.1f "
	    "base_wall_ms=%.1f ratio=%.3f ratio_min=%.3f ratio_max=%.3f",
	    v[1].name, v[0].name, v[0].pipe_size, n, bytes,
	    median(wall[1], n) / 1e3, median(wall[0], n) / 1e3, med, min, max);
	for (k = 0; k < n; k++)
		d[k] = (cpu[1][k] - cpu[0][k]) / 1e3;
	stats(d, n, &med, &min, &max);
	printf(" cpu_ms=%.1f base_cpu_ms=%.1f cpu_add=%.1f cpu_add_min=%.1f "
	    "cpu_add_max=%.1f\n", median(cpu[1], n) / 1e3,
	    median(cpu[0], n) / 1e3, med, min, max);
	return 0;
}

/* ---- stream: latency of a line through the relay --------------------------- */

static int
cmd_stream(int argc, char **argv)
{
	struct variant v[MAXVAR];
	int pairs = atoi(argv[0]), k, j, i, n = 0, skip = 2;
	static double lat[2][MAXLINES], all[2][16 * MAXLINES], d[16 * MAXLINES];
	int na = 0;
	double med, min, max;
	struct run run = { 0 };

	parse_pair("stream", argc - 1, argv + 1, v);
	if (pairs > 16)
		pairs = 16;
	for (k = 0; k < pairs; k++) {
		int got[2];

		for (j = 0; j < 2; j++) {
			i = (k + j) % 2;
			run.lat_us = lat[i];
			run_one(&v[i], M_TICK, &run);
			got[i] = run.nlat;
		}
		for (j = skip; j < got[0] && j < got[1]; j++) {
			all[0][na] = lat[0][j];
			all[1][na] = lat[1][j];
			d[na] = lat[1][j] - lat[0][j];
			na++;
		}
		n++;
	}
	stats(d, na, &med, &min, &max);
	printf("stream name=%s runs=%d lines=%d lat_us=%.1f base_lat_us=%.1f "
	    "add=%.1f add_min=%.1f add_max=%.1f\n", v[1].name, n, na,
	    median(all[1], na), median(all[0], na), med, min, max);
	return 0;
}

/* ---- flood: output discarded after abandonment ---------------------------- */

static volatile sig_atomic_t alarmed;

static void
on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

/* The run failed: its processes are killed, and so is the benchmark. */
static void
give_up(void)
{
	(void)kill_descendants();
	exit(1);
}

struct flood {
	double		 cpu_us;	/* user+sys of every process of the request */
	double		 wall_us;	/* abandonment to the last one reaped */
};

/*
 * One request, abandoned once the CGI's first bytes are there: the server
 * closes its ends of both pipes and sends TERM to the process it started.
 * Then every process of the request (front, keeper, and the CGI, which the
 * keeper reaps) is waited for; the driver itself does nothing meanwhile.
 */
static void
flood_one(const struct variant *v, struct flood *f)
{
	struct itimerval it = { { 0, 0 }, { RUN_LIMIT_MS / 1000, 0 } };
	int out[2], err[2], in, status;
	struct rusage ru;
	ssize_t n;
	pid_t pid;
	char c;

	memset(f, 0, sizeof(*f));
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		die("pipe");
	if ((in = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		die("/dev/null");
	alarmed = 0;
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		die("setitimer");
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0)
		child_exec(v->argv, in, out[1], err[1]);
	close(in);
	close(out[1]);
	close(err[1]);
	while ((n = read(out[0], &c, 1)) < 0 && errno == EINTR && !alarmed)
		;
	if (n != 1) {
		fprintf(stderr, "bench: %s: %s before its first output\n",
		    v->name, alarmed ? "over the time limit" : "ended");
		give_up();
	}
	f->wall_us = now_us();
	close(out[0]);
	close(err[0]);
	kill(pid, SIGTERM);
	for (;;) {
		if (wait4(-1, &status, 0, &ru) > 0) {
			f->cpu_us += tv_us(&ru.ru_utime) + tv_us(&ru.ru_stime);
			continue;
		}
		if (errno == ECHILD)
			break;
		if (errno != EINTR)
			die("wait4");
		if (alarmed) {
			fprintf(stderr, "bench: %s: run took over %d ms; "
			    "killed\n", v->name, RUN_LIMIT_MS);
			give_up();
		}
	}
	f->wall_us = now_us() - f->wall_us;
	it.it_value.tv_sec = 0;
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		die("setitimer");
}

static int
cmd_flood(int argc, char **argv)
{
	struct variant v[MAXVAR];
	int pairs = atoi(argv[0]), n = 0, k, j;
	double secs = atof(argv[1]), t0;
	double cpu[2][64], wall[2][64], d[64], med, min, max;
	struct sigaction sa;
	struct flood f;

	parse_pair("flood", argc - 2, argv + 2, v);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: it ends a wait */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die("sigaction");
	if (pairs > 64)
		pairs = 64;
	flood_one(&v[0], &f);		/* warm up */
	t0 = now_us();
	for (k = 0; k < pairs && (k < 3 || now_us() - t0 < secs * 1e6); k++) {
		for (j = 0; j < 2; j++) {
			int i = (k + j) % 2;	/* AB, BA, AB, ... */

			flood_one(&v[i], &f);
			cpu[i][k] = f.cpu_us;
			wall[i][k] = f.wall_us;
		}
		n++;
	}
	for (k = 0; k < n; k++)
		d[k] = cpu[1][k] / cpu[0][k];
	stats(d, n, &med, &min, &max);
	printf("flood name=%s base=%s n=%d cpu_ms=%.1f base_cpu_ms=%.1f "
	    "ratio=%.3f ratio_min=%.3f ratio_max=%.3f", v[1].name, v[0].name,
	    n, median(cpu[1], n) / 1e3, median(cpu[0], n) / 1e3, med, min, max);
	for (k = 0; k < n; k++)
		d[k] = (cpu[1][k] - cpu[0][k]) / 1e3;
	stats(d, n, &med, &min, &max);
	printf(" cpu_add=%.1f cpu_add_min=%.1f cpu_add_max=%.1f wall_ms=%.1f "
	    "base_wall_ms=%.1f\n", med, min, max, median(wall[1], n) / 1e3,
	    median(wall[0], n) / 1e3);
	return 0;
}

/* ---- reap: run a command as a subreaper --------------------------------------- */

static int
cmd_reap(char **argv)
{
	int status, ret = 0;
	pid_t pid, p;

	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	while ((p = wait(&status)) > 0 || errno == EINTR)
		if (p == pid)
			ret = WIFEXITED(status) ? WEXITSTATUS(status) : 125;
	return ret;
}

int
main(int argc, char *argv[])
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench req|mem|herd|bulk|stream|flood|reap ...\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die("PR_SET_CHILD_SUBREAPER");
	rng ^= (unsigned long long)getpid() * 0x2545f4914f6cdd1dULL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "reap") == 0)
		return cmd_reap(argv + 2);
	if (strcmp(argv[1], "req") == 0 && argc >= 5)
		return cmd_req(argc - 2, argv + 2);
	if (strcmp(argv[1], "herd") == 0 && argc >= 5)
		return cmd_herd(argc - 2, argv + 2);
	if (strcmp(argv[1], "mem") == 0 && argc >= 5)
		return cmd_mem(argc - 2, argv + 2);
	if (strcmp(argv[1], "bulk") == 0 && argc >= 5)
		return cmd_bulk(argc - 2, argv + 2);
	if (strcmp(argv[1], "stream") == 0 && argc >= 4)
		return cmd_stream(argc - 2, argv + 2);
	if (strcmp(argv[1], "flood") == 0 && argc >= 5)
		return cmd_flood(argc - 2, argv + 2);
	fprintf(stderr, "bench: bad arguments\n");
	return 2;
}
