/* time.h - the store's one time module: clocks in milliseconds and RFC 3339
 * text (events' expiresAt and Store-Occurred-At, createdAt of payments,
 * storectl's --since). Pure functions but the clocks; no allocation. */
#ifndef STORE_TIME_H
#define STORE_TIME_H

#include <stdbool.h>

/* Room for any text store_time_format writes, with its NUL. */
#define STORE_TIME_LEN 32

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
long long store_time_now_ms(void);

/* Milliseconds of CLOCK_MONOTONIC: for durations and deadlines only. */
long long store_time_mono_ms(void);

/* Writes ms (since the epoch, UTC) as "2026-11-27T10:00:00Z", or with
 * with_ms as "2026-11-27T10:00:00.123Z", into out. Years outside 0000-9999
 * are clamped to that range. */
void store_time_format(long long ms, bool with_ms, char out[STORE_TIME_LEN]);

/* Parses an RFC 3339 date-time ("2026-11-27T10:00:00Z",
 * "2026-11-27t10:00:00.5+01:00") into milliseconds since the epoch.
 * Accepted, as RFC 3339 section 5.6 says: 'T' or 't', 'Z' or 'z', 1 to 9
 * digits of fraction (kept to the millisecond), a numeric offset up to
 * +-23:59, and second 60 (a leap second, read as the last millisecond of
 * second 59 so order is kept). Refused: a day the month does not have
 * (2026-02-30, 2025-02-29), hours above 23, minutes above 59, anything
 * before or after the text, and NULL. */
bool store_time_parse(const char *s, long long *ms);

#endif
