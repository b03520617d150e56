/* process.c - process-wide settings every long-running program applies
 * at start (process.h). */
#include "store/process.h"

#include "log_impl.h"

#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* AddressSanitizer reports these signals itself, better: leave them to it. */
#if defined(__SANITIZE_ADDRESS__)
#define CRASH_REPORT 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRASH_REPORT 0
#endif
#endif
#ifndef CRASH_REPORT
#define CRASH_REPORT 1
#endif

#define CRASH_FRAMES 64

/* Writes s to stderr, as much as it takes (async-signal-safe). */
static void
crash_write(const char *s)
{
	size_t n = strlen(s);
	ssize_t w;

	while (n > 0) {
		w = write(STDERR_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* The report of a fatal signal (process.h), then the signal's own action:
 * SA_RESETHAND put it back, and the raised signal is delivered once this
 * returns. Only async-signal-safe calls: the heap may be what broke. */
static void
on_crash(int sig)
{
	void *frames[CRASH_FRAMES];
	char num[16], *p = num + sizeof num;
	const char *abbrev = sigabbrev_np(sig);
	int n, v = sig;

	*--p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) > 0 && p > num);
	/* The lines this thread held (log.h), before the report: one
	 * write(2) of its own buffer, taking no lock. */
	log_hold_crash_flush();
	crash_write(program_invocation_short_name);
	crash_write(": fatal signal ");
	crash_write(p);
	crash_write(" (SIG");
	crash_write(abbrev != NULL ? abbrev : "?");
	crash_write("), stack of the thread it hit (addr2line -f -e PROGRAM OFFSET):\n");
	n = backtrace(frames, CRASH_FRAMES);
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	crash_write(program_invocation_short_name);
	crash_write(": end of stack\n");
	raise(sig);
}

static void
crash_report_init(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	struct sigaction sa;
	void *warm[1];

	/* backtrace's first call loads libgcc_s, which allocates: done here,
	 * not in the handler. */
	(void)backtrace(warm, 1);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_crash;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
}

void
store_process_init(void)
{
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, STORE_MALLOC_ARENAS);
	if (CRASH_REPORT)
		crash_report_init();
}
