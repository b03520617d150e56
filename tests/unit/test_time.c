/* test_time.c - the one time module: RFC 3339 parsing and formatting, the
 * cases the store's three former parsers disagreed on. */
#include <string.h>

#include "check.h"
#include "store/time.h"

static bool
parses_to(const char *s, long long want)
{
	long long ms = -1;

	return store_time_parse(s, &ms) && ms == want;
}

static bool
refused(const char *s)
{
	long long ms = 12345;

	return !store_time_parse(s, &ms) && ms == 12345;
}

static bool
formats(long long ms, bool with_ms, const char *want)
{
	char buf[STORE_TIME_LEN];

	store_time_format(ms, with_ms, buf);
	return strcmp(buf, want) == 0;
}

int
main(void)
{
	const long long t = 1764237600000LL;   /* 2025-11-27T10:00:00Z */

	CHECK(parses_to("1970-01-01T00:00:00Z", 0), "the epoch is 0");
	CHECK(parses_to("2025-11-27T10:00:00Z", t), "a plain UTC time");
	CHECK(parses_to("2025-11-27T10:00:00.5Z", t + 500), "one digit of fraction is tenths");
	CHECK(parses_to("2025-11-27T10:00:00.123456789Z", t + 123),
	      "nine digits of fraction, kept to the millisecond");
	CHECK(parses_to("2025-11-27T11:30:00+01:30", t), "a positive offset is subtracted");
	CHECK(parses_to("2025-11-27T08:00:00-02:00", t), "a negative offset is added");
	CHECK(parses_to("2025-11-27t10:00:00z", t), "lowercase t and z (RFC 3339 5.6) are accepted");
	CHECK(parses_to("2016-12-31T23:59:60Z", 1483228799999LL),
	      "a leap second is the last millisecond of second 59");
	CHECK(parses_to("2024-02-29T00:00:00Z", 1709164800000LL), "29 February of a leap year");
	CHECK(parses_to("2000-02-29T00:00:00Z", 951782400000LL), "2000 is a leap year");
	CHECK(parses_to("1969-12-31T23:59:59Z", -1000), "before the epoch is negative");

	CHECK(refused("2026-02-30T10:00:00Z"), "30 February is refused");
	CHECK(refused("2025-02-29T10:00:00Z"), "29 February of a common year is refused");
	CHECK(refused("1900-02-29T10:00:00Z"), "1900 is not a leap year");
	CHECK(refused("2026-04-31T10:00:00Z"), "31 April is refused");
	CHECK(refused("2026-13-01T10:00:00Z"), "month 13 is refused");
	CHECK(refused("2026-00-01T10:00:00Z"), "month 0 is refused");
	CHECK(refused("2026-01-00T10:00:00Z"), "day 0 is refused");
	CHECK(refused("2026-01-01T24:00:00Z"), "hour 24 is refused");
	CHECK(refused("2026-01-01T10:60:00Z"), "minute 60 is refused");
	CHECK(refused("2026-01-01T10:00:61Z"), "second 61 is refused");
	CHECK(refused("2026-01-01T10:00:00"), "no offset is refused");
	CHECK(refused("2026-01-01 10:00:00Z"), "a blank for T is refused");
	CHECK(refused("2026-01-01T10:00:00.Z"), "a dot with no digits is refused");
	CHECK(refused("2026-01-01T10:00:00.1234567890Z"), "ten digits of fraction are refused");
	CHECK(refused("2026-01-01T10:00:00+24:00"), "an offset of 24 hours is refused");
	CHECK(refused("2026-01-01T10:00:00+01"), "an offset without minutes is refused");
	CHECK(refused("2026-01-01T10:00:00Zjunk"), "text after the time is refused");
	CHECK(refused(" 2026-01-01T10:00:00Z"), "a leading blank is refused");
	CHECK(refused("26-01-01T10:00:00Z"), "a two-digit year is refused");
	CHECK(refused("2026-1-01T10:00:00Z"), "a one-digit month is refused");
	CHECK(refused(""), "the empty string is refused");
	CHECK(refused(NULL), "NULL is refused");

	CHECK(formats(0, false, "1970-01-01T00:00:00Z"), "the epoch formats");
	CHECK(formats(t + 7, true, "2025-11-27T10:00:00.007Z"), "milliseconds format with three digits");
	CHECK(formats(-1, true, "1969-12-31T23:59:59.999Z"), "one millisecond before the epoch");
	CHECK(formats(1709164800000LL, false, "2024-02-29T00:00:00Z"), "29 February formats");
	CHECK(formats(999999999999999LL, false, "9999-12-31T23:59:59Z"), "far future is clamped to 9999");

	for (long long ms = -86400000LL * 800; ms < 86400000LL * 60000; ms += 86400000LL * 37 + 3601007) {
		char buf[STORE_TIME_LEN];
		long long back = 0;

		store_time_format(ms, true, buf);
		if (!store_time_parse(buf, &back) || back != ms) {
			CHECK(0, "format then parse gives %lld back (%s)", ms, buf);
			return CHECK_DONE();
		}
	}
	CHECK(1, "format then parse gives every millisecond back, 1967 to 2134");
	return CHECK_DONE();
}
