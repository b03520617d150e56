/* check.h - the smallest TAP producer for the C unit tests.
 *
 * Each test binary prints one "ok - name" or "not ok - name" line per check
 * and exits 1 when any failed; tests/run counts the lines. */
#ifndef STORE_CHECK_H
#define STORE_CHECK_H

#include <stdio.h>

static int check_failed;
static int check_count;

#define CHECK(cond, ...) do {                                          \
	int check_ok_ = !!(cond);    /* evaluated once */                  \
	check_count++;                                                     \
	if (check_ok_) {                                                   \
		printf("ok %d - ", check_count);                                \
	} else {                                                           \
		check_failed++;                                                \
		printf("not ok %d - ", check_count);                            \
	}                                                                  \
	printf(__VA_ARGS__);                                               \
	if (!check_ok_)                                                    \
		printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond);             \
	printf("\n");                                                      \
	fflush(stdout);                                                    \
} while (0)

#define SKIP(...) do {                                                 \
	check_count++;                                                     \
	printf("ok %d # skip ", check_count);                               \
	printf(__VA_ARGS__);                                               \
	printf("\n");                                                      \
	fflush(stdout);                                                    \
} while (0)

#define CHECK_DONE() (printf("1..%d\n", check_count), check_failed ? 1 : 0)

#endif
