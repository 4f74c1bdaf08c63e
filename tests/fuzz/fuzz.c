/*
 * libFuzzer harness for cgiguard's parsers: options, the #! argument,
 * DURATION, SIZE, signal names, modes, the policy file and log escaping.
 * The first input byte picks the parser; the rest is its input.  Under
 * CGIGUARD_FUZZ, die() returns here through leave() instead of exiting.
 */
#define main cgiguard_main
#include "../../cgiguard.c"
#undef main

#include <stdint.h>

#define FUZZ_MAX 4096

static void
fuzz_options(char *text, size_t len)
{
	char *w[64];
	struct config cf;
	size_t i;
	int n = 0;

	memset(&cf, 0, sizeof(cf));
	w[n++] = text;
	for (i = 0; i < len && n < 64; i++)
		if (text[i] == '\0')
			w[n++] = text + i + 1;
	(void)parse_options(&cf, n - 1, w);
}

static void
fuzz_shebang(char *text)
{
	char *w[MAX_SHEBANG_WORDS];
	struct config cf;
	int n;

	memset(&cf, 0, sizeof(cf));
	n = split_words("fuzz.cgi", text, w);
	(void)parse_options(&cf, n, w);
}

static void
fuzz_values(int which, const char *text)
{
	switch (which % 5) {
	case 0: (void)parse_duration("--grace", text); break;
	case 1: (void)parse_size("--mem", text); break;
	case 2: (void)parse_signal("--signal", text); break;
	case 3: (void)parse_number("--nice", text, -20, 19); break;
	case 4: (void)parse_mode("--umask", text); break;
	}
}

static void
fuzz_log(const char *text)
{
	struct line l;

	line_start(&l, "fuzz");
	line_add(&l, "text", text);
	if (memchr(l.buf, '\n', l.len) != NULL || strlen(l.buf) != l.len)
		abort();	/* one record must stay one line */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[FUZZ_MAX + 1];
	size_t len;

	if (size < 1 || size > FUZZ_MAX)
		return 0;
	len = size - 1;
	memcpy(text, data + 1, len);
	text[len] = '\0';
	policy_line = 0;
	if (setjmp(fuzz_escape) != 0)
		return 0;
	switch (data[0] % 5) {
	case 0: fuzz_options(text, len); break;
	case 1: fuzz_shebang(text); break;
	case 2: fuzz_values(data[0] / 5, text); break;
	case 3: memset(&policy, 0, sizeof(policy)); parse_policy(text); break;
	case 4: fuzz_log(text); break;
	}
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return 0;
}
