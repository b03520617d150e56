/* servers.h - what the unit tests that need a real server share (test_bus
 * with nats-server, test_jobs with redis-server): finding the program, a
 * free port, starting it with its output in a log, waiting until it
 * answers, stopping it, and cleaning up at exit or on a signal. Nothing here
 * prints or exits. */
#ifndef STORE_TEST_SERVERS_H
#define STORE_TEST_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Milliseconds of the monotonic clock. */
long long servers_now_ms(void);
/* Sleeps ms milliseconds (through signals). */
void servers_sleep_ms(long ms);
/* The path of program name on PATH or in the sbin folders into path. */
bool servers_find(const char *name, char *path, size_t pathlen);
/* A port free on 127.0.0.1 just now, or -1. */
int servers_free_port(void);
/* Something accepts connections on 127.0.0.1:port. */
bool servers_port_open(int port);
/* Starts path with argv (argv[0] first, NULL last), its stdout and stderr
 * appended to logpath; it is killed when the test dies. The pid, or -1. */
pid_t servers_spawn(const char *path, char *const argv[], const char *logpath);
/* Asks ready every 20 ms for up to ms milliseconds; its last answer. */
bool servers_wait(bool (*ready)(void), long ms);
/* SIGTERM to *pid, waits for it, sets *pid to -1 (nothing when *pid <= 0). */
void servers_stop(pid_t *pid);
/* At exit (or servers_cleanup): stops *pid and removes dir, once; on
 * SIGINT or SIGTERM: kills *pid at once. Both stay the caller's. */
void servers_watch(pid_t *pid, const char *dir);
/* What servers_watch does at exit, now. */
void servers_cleanup(void);
/* The signal handler servers_watch installs (kills the server, then the
 * signal's default), for more signals. */
void servers_on_signal(int sig);

#endif
