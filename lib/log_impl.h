/* log_impl.h - what log.c and log_hold.c share inside libstore. */
#ifndef STORE_LOG_IMPL_H
#define STORE_LOG_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "store/log.h"

/* Writes n bytes to stderr with one write(2); a failure is dropped. */
void log_write(const char *p, size_t n);

/* Keeps the line (len bytes) in the calling thread's buffer when it holds
 * and the line is one to hold; false when it must be written now (after
 * this thread's held lines: call store_log_flush). */
bool log_hold_line(store_log_level lvl, const char *line, size_t len);

/* Writes the calling thread's held lines without taking any lock: for a
 * fatal signal's handler only (async-signal-safe, best effort). */
void log_hold_crash_flush(void);

#endif
