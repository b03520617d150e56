/* fuzz_storectl - storectl's command line: the options before the command,
 * the command table, each command's options and arguments (ctl_parse and
 * the values it reads: numbers, times, subjects, money, card numbers,
 * payloads given inline).
 *
 * Input: the words after "storectl", separated by NUL bytes.
 *
 * storectl is run in whole (bin/storectl.c, its main renamed), with what
 * it would reach made unreachable at once, so each input ends after its
 * arguments were read: NATS (ctl_bus_open answers "unavailable"; the
 * library's would wait --timeout seconds), Redis, the API and the
 * database (settings that do not parse), the card provider (the sandbox,
 * on that database). Words naming files are read from an empty folder
 * (absolute paths are skipped: /dev/zero is no input), stdin is /dev/null,
 * "health" (which opens NATS itself) is skipped, and every wait is told
 * to stop. */
#include "fuzz.h"

#include <unistd.h>

#define main storectl_main
#include "../../bin/storectl/storectl.c"
#undef main

/* ctl_common.c with its NATS connection renamed away, and this one
 * instead. */
#define ctl_bus_open ctl_bus_open_unused
#include "../../bin/storectl/ctl_common.c"
#undef ctl_bus_open

int
ctl_bus_open(ctl *c, store_bus **bus)
{
	*bus = NULL;
	return ctl_fail(c, CTL_UNAVAILABLE, "cannot reach nats (fuzzing)");
}

#define WORDS_MAX 64

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/fuzz-storectl-XXXXXX";

	(void)argc;
	(void)argv;
	(void)ctl_bus_open_unused;
	fuzz_quiet();
	if (mkdtemp(dir) == NULL || chdir(dir) != 0 ||
	    freopen("/dev/null", "r", stdin) == NULL)
		return 1;
	unsetenv("STRIPE_KEY");
	setenv("NATS_URL", "unreachable:", 1);
	setenv("REDIS_URL", "unreachable:", 1);
	setenv("STORE_URL", "unreachable:", 1);
	setenv("STORE_DB", "unreachable:", 1);
	setenv("STORE_SEED_PASSWORD", "fuzz-password", 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = fuzz_str(data, size), *argv[WORDS_MAX + 2];
	int argc = 0;

	if (copy == NULL)
		return 0;
	argv[argc++] = "storectl";
	for (char *p = copy; p < copy + size && argc <= WORDS_MAX; p += strlen(p) + 1) {
		if (p[0] == '/' || strcmp(p, "health") == 0)
			goto out;
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	stopping = 1;
	storectl_main(argc, argv);
	/* storectl sets its log level: back to silence. */
	fuzz_quiet_logs();
out:
	free(copy);
	return 0;
}
