/* fuzz.h - helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput and reads its input as the
 * README of tests/fuzz/ describes. Inputs are copied into buffers of their
 * exact size, so a parser that reads one byte past what it was given is
 * caught by AddressSanitizer. */
#ifndef STORE_FUZZ_H
#define STORE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A new NUL-terminated copy of data[0..size); NULL when out of memory.
 * Caller frees. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* Splits data at the first occurrence of sep (a byte): *head gets a new
 * NUL-terminated copy of what comes before, *rest and *restlen what comes
 * after (not copied). Without sep, head is all of data and rest empty.
 * Caller frees *head; 0 when out of memory. */
static inline int
fuzz_split(const uint8_t *data, size_t size, uint8_t sep, char **head,
           const uint8_t **rest, size_t *restlen)
{
	const uint8_t *p = memchr(data, sep, size);
	size_t n = p != NULL ? (size_t)(p - data) : size;

	*head = fuzz_str(data, n);
	*rest = p != NULL ? p + 1 : data + size;
	*restlen = p != NULL ? size - n - 1 : 0;
	return *head != NULL;
}

/* The library's logs off: a level above every level. */
static inline void
fuzz_quiet_logs(void)
{
	store_log_init("fuzz", (store_log_level)(STORE_LOG_ERROR + 1));
}

/* The library's logs (JSON lines on stderr) off, and stdout and stderr
 * (the FILE streams) to /dev/null: only sanitizer reports (written to fd 2
 * directly) reach the terminal. */
static inline void
fuzz_quiet(void)
{
	FILE *null = fopen("/dev/null", "w");

	fuzz_quiet_logs();
	if (null != NULL) {
		stdout = null;
		stderr = null;
	}
}

#endif
