/* time.c - clocks and RFC 3339 (see store/time.h). */
#include "store/time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

long long
store_time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
store_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil, in its well-known public-domain form). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/* The date of a day number (the inverse of days_from_civil). */
static void
civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
	long long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

static bool
leap_year(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
month_days(long long y, unsigned m)
{
	static const unsigned days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* v as n decimal digits at out (v < 10^n); the end. */
static char *
put_digits(char *out, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return out + n;
}

/* Written digit by digit, not through snprintf: every log line has one. */
void
store_time_format(long long ms, bool with_ms, char out[STORE_TIME_LEN])
{
	static const long long lo = -62167219200000LL;     /* 0000-01-01T00:00:00Z */
	static const long long hi = 253402300799999LL;     /* 9999-12-31T23:59:59.999Z */
	long long days, rem, y;
	unsigned m, d;
	char *at = out;

	ms = ms < lo ? lo : ms > hi ? hi : ms;
	days = ms / 86400000;
	rem = ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	/* Clamped above: every field fits its width. */
	at = put_digits(at, (unsigned)y, 4);
	*at++ = '-';
	at = put_digits(at, m, 2);
	*at++ = '-';
	at = put_digits(at, d, 2);
	*at++ = 'T';
	at = put_digits(at, (unsigned)(rem / 3600000), 2);
	*at++ = ':';
	at = put_digits(at, (unsigned)(rem / 60000 % 60), 2);
	*at++ = ':';
	at = put_digits(at, (unsigned)(rem / 1000 % 60), 2);
	if (with_ms) {
		*at++ = '.';
		at = put_digits(at, (unsigned)(rem % 1000), 3);
	}
	*at++ = 'Z';
	*at = '\0';
}

/* n decimal digits at *s, advancing it; -1 when one is not a digit. */
static long long
digits(const char **s, int n)
{
	long long v = 0;

	for (int i = 0; i < n; i++, (*s)++) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (**s - '0');
	}
	return v;
}

static bool
expect(const char **s, const char *one_of)
{
	if (**s == '\0' || strchr(one_of, **s) == NULL)
		return false;
	(*s)++;
	return true;
}

bool
store_time_parse(const char *s, long long *ms)
{
	long long y, mo, d, h, mi, sec, frac = 0, off = 0;
	int sign;

	if (s == NULL)
		return false;
	if ((y = digits(&s, 4)) < 0 || !expect(&s, "-") || (mo = digits(&s, 2)) < 1 || mo > 12 ||
	    !expect(&s, "-") || (d = digits(&s, 2)) < 1 || d > month_days(y, (unsigned)mo) ||
	    !expect(&s, "Tt") || (h = digits(&s, 2)) < 0 || h > 23 || !expect(&s, ":") ||
	    (mi = digits(&s, 2)) < 0 || mi > 59 || !expect(&s, ":") ||
	    (sec = digits(&s, 2)) < 0 || sec > 60)
		return false;
	if (*s == '.') {
		int n = 0;

		for (s++; *s >= '0' && *s <= '9'; s++, n++)
			if (n < 3)
				frac = frac * 10 + (*s - '0');
		if (n == 0 || n > 9)
			return false;
		for (; n < 3; n++)
			frac *= 10;
	}
	if (sec == 60) {        /* the leap second: the last moment of :59 */
		sec = 59;
		frac = 999;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else {
		long long oh, om;

		sign = *s == '+' ? 1 : *s == '-' ? -1 : 0;
		if (sign == 0)
			return false;
		s++;
		if ((oh = digits(&s, 2)) < 0 || oh > 23 || !expect(&s, ":") ||
		    (om = digits(&s, 2)) < 0 || om > 59)
			return false;
		off = sign * (oh * 60 + om) * 60000;
	}
	if (*s != '\0')
		return false;
	*ms = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400000 +
	      ((h * 60 + mi) * 60 + sec) * 1000 + frac - off;
	return true;
}
