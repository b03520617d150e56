/* process.h - what every long-running program of the store sets up first,
 * before it starts a thread. */
#ifndef STORE_PROCESS_H
#define STORE_PROCESS_H

/* At most STORE_MALLOC_ARENAS malloc arenas for the whole process (glibc
 * gives each thread its own by default, up to 8 per core, each keeping
 * the memory its thread freed): the threads of a program share them, their
 * own caches (tcache) taking the small allocations. A MALLOC_ARENA_MAX
 * from the environment wins. Called by store_service_run,
 * store_daemon_run and store_expiration_run; a program with its own main
 * (the web front) calls it first.
 *
 * It also makes a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT:
 * glibc's "free(): corrupted ..." aborts) leave its evidence in the log
 * before the signal's own action (termination, a core file where the
 * system keeps them): a line "PROGRAM: fatal signal N (SIGNAME), stack of
 * the thread it hit ...", one line per frame as glibc's
 * backtrace_symbols_fd writes them ("PROGRAM(+OFFSET) [ADDRESS]", resolved
 * with addr2line), and "PROGRAM: end of stack", on stderr: the only
 * output of the library, in a process that is dying. Not under
 * AddressSanitizer, which reports these signals itself. */
#define STORE_MALLOC_ARENAS 2
void store_process_init(void);

#endif
