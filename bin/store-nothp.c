/* store-nothp - run a program with transparent huge pages off.
 *
 * Turns transparent huge pages off for this process (prctl
 * PR_SET_THP_DISABLE), which the kernel keeps across execve and gives to
 * every child, then becomes COMMAND. The launcher (bin/store-run) and the
 * store-nats image start nats-server this way: Debian's nats-server is built
 * with Go 1.19, whose runtime asks for huge pages on its heap, and faulting
 * them in as the heap grows stalls the server for 10-40 ms at a time
 * (docs/PERFORMANCE.md, "Expirer"). Redis does the same to itself
 * (its disable-thp setting). Needs nothing but libc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char usage[] =
	"usage: store-nothp [--] COMMAND [ARG...]\n"
	"       store-nothp --help\n"
	"\n"
	"Runs COMMAND with transparent huge pages off: turns them off for this\n"
	"process (prctl PR_SET_THP_DISABLE), which the kernel keeps across exec\n"
	"and gives to every process COMMAND starts, then becomes COMMAND (same\n"
	"pid, same signals, its exit status). COMMAND is looked up in PATH when\n"
	"it has no slash. If the kernel refuses the setting, says so on stderr\n"
	"and runs COMMAND anyway: it is a matter of speed, not of correctness.\n"
	"\n"
	"The launcher (store-run) and the store-nats image run nats-server this\n"
	"way: its Go runtime faults in huge pages as its heap grows, stalling it\n"
	"for tens of milliseconds at a time.\n"
	"\n"
	"Exit status: COMMAND's; 64 usage, 126 COMMAND cannot be run, 127\n"
	"COMMAND not found.\n";

static const char try_help[] = "Try 'store-nothp --help'.\n";

int
main(int argc, char **argv)
{
	int first = 1;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--") == 0)
		first = 2;
	else if (argc > 1 && argv[1][0] == '-') {
		fprintf(stderr, "store-nothp: unknown option '%s'\n%s", argv[1], try_help);
		return 64;
	}
	if (first >= argc) {
		fprintf(stderr, "store-nothp: no command given\n%s", try_help);
		return 64;
	}
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0)
		fprintf(stderr, "store-nothp: cannot turn transparent huge pages off "
		        "(prctl: %s); running '%s' with them\n", strerror(errno), argv[first]);
	execvp(argv[first], argv + first);
	int e = errno;
	fprintf(stderr, "store-nothp: cannot run '%s': %s\n", argv[first], strerror(e));
	return e == ENOENT ? 127 : 126;
}
