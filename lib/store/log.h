/* log.h - JSON-lines logging to stderr.
 *
 * One object per line: {"ts","level","svc","msg"[,"req_id"][,"event_id"]}.
 * Thread-safe: each line is written with a single write(2), built on the
 * stack (no allocation), unless its thread holds lines (store_log_hold).
 * Always valid JSON: strings escaped as RFC 8259 asks, bytes that are not
 * UTF-8 written as '?'. Bounded: the message at 2048
 * bytes, req_id and event_id at 128, svc at 63; longer ones are cut. Never
 * log secrets, passwords, tokens or card numbers. */
#ifndef STORE_LOG_H
#define STORE_LOG_H

#include <stdbool.h>

typedef enum store_log_level {
	STORE_LOG_DEBUG, STORE_LOG_INFO, STORE_LOG_WARN, STORE_LOG_ERROR
} store_log_level;

/* Sets the service name written as "svc" and the minimum level
 * (from STORE_LOG_LEVEL when the caller reads it). svc is copied. */
void store_log_init(const char *svc, store_log_level min);

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int store_log_level_parse(const char *s);

/* Writes one line. req_id and event_id may be NULL (then omitted). */
void store_log(store_log_level lvl, const char *req_id, const char *event_id,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Holding, for a server's request lines. Between store_log_hold(true) and
 * store_log_hold(false), the calling thread's info and debug lines are
 * kept in a buffer of its own (malloc'd by the first call, freed by the
 * second) and written together, with one write(2) of whole lines, at most
 * PIPE_BUF bytes (atomic on a pipe beside other threads' writes):
 *   - by store_log_flush (a server calls it before it waits for work);
 *   - when the next line does not fit;
 *   - when the oldest held line is STORE_LOG_HOLD_MS old, by a flusher
 *     thread of the process (started with the first holder, awake every
 *     STORE_LOG_HOLD_MS / 2), so that no line waits for a long call of its
 *     thread (a request waiting on a card provider);
 *   - before a warn or error line of the thread, so order is kept.
 * Lines of other threads are not held, and may come before older held ones.
 * A fatal signal writes the held lines of the thread it hit (process.h);
 * those of other threads, and all of them when the process is killed,
 * are lost.
 * store_log_hold(true) returns false (and nothing is held) when the buffer
 * cannot be allocated. */
#define STORE_LOG_HOLD_MS 100
bool store_log_hold(bool on);

/* Sets the age at which the flusher writes held lines, process-wide
 * (STORE_LOG_HOLD_MS when ms <= 0). For tests that must see lines held. */
void store_log_hold_ms(long long ms);

/* True when the calling thread has lines held. */
bool store_log_holding(void);

/* Writes the calling thread's held lines, if any. */
void store_log_flush(void);

#define store_info(...)  store_log(STORE_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define store_warn(...)  store_log(STORE_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define store_error(...) store_log(STORE_LOG_ERROR, NULL, NULL, __VA_ARGS__)
#define store_debug(...) store_log(STORE_LOG_DEBUG, NULL, NULL, __VA_ARGS__)

#endif
