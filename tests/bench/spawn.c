/*
 * spawn - time fork, exec and wait of a command, N times.
 * usage: spawn N command [arg ...]
 * Prints one line: median, min, max wall microseconds per run.
 */
#define _GNU_SOURCE
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	struct timespec t0, t1;
	double *us;
	int i, n, status;
	pid_t pid;

	if (argc < 3 || (n = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: spawn N command [arg ...]\n");
		return 2;
	}
	if ((us = calloc((size_t)n, sizeof(*us))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((pid = fork()) == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
	}
	qsort(us, (size_t)n, sizeof(*us), cmp);
	printf("%.0f %.0f %.0f\n", us[n / 2], us[0], us[n - 1]);
	return 0;
}
