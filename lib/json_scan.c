/* json_scan.c - checks a stored document's JSON text whole, as
 * json_loadb would (one object, valid UTF-8, numbers in range, nothing
 * after it), and finds its top-level members (json_members), for
 * catalog_text.c's answers and the outbox relay's messages written
 * straight from the stored text (json_impl.h). */
#include "json_impl.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text_impl.h"

#define SCAN_DEPTH 64   /* nesting checked in a stored document */

/* The scanner's state. The hot loops copy p into a local: through s, a
 * char read may alias s->p and would force it back to memory each byte. */
struct scan {
	const char *p, *end;
	bool canon;     /* every string is as jansson writes it */
};

static void
skip_ws(struct scan *s)
{
	const char *p = s->p, *end = s->end;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	s->p = p;
}

/* One UTF-8 character of at least two bytes at s->p, as jansson accepts
 * them: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool
scan_utf8(struct scan *s)
{
	const unsigned char *u = (const unsigned char *)s->p;
	size_t n, avail = (size_t)(s->end - s->p);
	unsigned v;

	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		n = 2;
		v = u[0] & 0x1f;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3;
		v = u[0] & 0x0f;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4;
		v = u[0] & 0x07;
	} else {
		return false;
	}
	if (avail < n)
		return false;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return false;
		v = (v << 6) | (u[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return false;
	s->p += n;
	return true;
}

/* Whether the 8 bytes at p are all printable ASCII other than '"' and
 * '\\' (each test below is nonzero when some byte is: below 0x20, equal
 * to '"', equal to '\\', at or above 0x80). */
static bool
plain8(const char *p)
{
	const uint64_t ones = 0x0101010101010101u, high = ones * 0x80;
	uint64_t x, q, b;

	memcpy(&x, p, sizeof x);
	q = x ^ (ones * '"');
	b = x ^ (ones * '\\');
	return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) |
	        x) & high ? false : true;
}

/* A string at s->p ('"'). Clears s->canon at an escape jansson would not
 * write (it writes \" \\ \b \f \n \r \t and \u00XX, upper case, for the
 * other control characters) and at \u0000. */
static bool
scan_string(struct scan *s)
{
	s->p++;
	while (s->p < s->end) {
		const char *p = s->p, *end = s->end;
		unsigned char ch;

		/* The common case first: a run of printable ASCII, eight bytes
		 * at a time while they last. */
		while (end - p >= 8 && plain8(p))
			p += 8;
		while (p < end && (ch = (unsigned char)*p) >= 0x20 && ch < 0x80 &&
		       ch != '"' && ch != '\\')
			p++;
		s->p = p;
		if (p >= end)
			break;
		ch = (unsigned char)*p;

		if (ch == '"') {
			s->p++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch >= 0x80) {
			if (!scan_utf8(s))
				return false;
			continue;
		}
		if (s->end - s->p < 2)
			return false;
		ch = (unsigned char)s->p[1];
		if (strchr("\"\\bfnrt", ch) != NULL && ch != '\0') {
			s->p += 2;
			continue;
		}
		if (ch == '/') {
			s->canon = false;
			s->p += 2;
			continue;
		}
		if (ch != 'u' || s->end - s->p < 6)
			return false;
		{
			int d[4];
			unsigned v = 0;

			for (int i = 0; i < 4; i++) {
				d[i] = text_hex_digit(s->p[2 + i]);
				if (d[i] < 0)
					return false;
				v = v * 16 + (unsigned)d[i];
			}
			/* Anything jansson would not write back the same way
			 * (surrogates included) is left to it, to accept or not. */
			if (v == 0 || v >= 0x20 || v == '\b' || v == '\f' ||
			    v == '\n' || v == '\r' || v == '\t' ||
			    (s->p[4] >= 'a' && s->p[4] <= 'f') ||
			    (s->p[5] >= 'a' && s->p[5] <= 'f'))
				s->canon = false;
		}
		s->p += 6;
	}
	return false;
}

/* A run of digits from p; returns where it ends. */
static const char *
skip_digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* A number at s->p in JSON's grammar that jansson loads: an integer in
 * long long's range, a real that does not overflow. Only what could be out
 * of range is converted: an integer of at most 18 digits fits, and so does
 * a real with no exponent (at most JSON_NUMBER_MAX digits). */
static bool
scan_number(struct scan *s)
{
	const char *start = s->p, *p = s->p, *end = s->end, *digits;
	char tmp[JSON_NUMBER_MAX + 1], *stop;
	bool integer = true, exponent = false;
	size_t n;

	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return false;
	digits = p;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		p = skip_digits(p, end);
	else
		return false;
	if (p < end && *p == '.') {
		integer = false;
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return false;
		p = skip_digits(p, end);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integer = false;
		exponent = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return false;
		p = skip_digits(p, end);
	}
	s->p = p;
	n = (size_t)(p - start);
	if (n > JSON_NUMBER_MAX)
		return false;   /* left to jansson */
	if (integer ? p - digits <= 18 : !exponent)
		return true;
	memcpy(tmp, start, n);
	tmp[n] = '\0';
	errno = 0;
	if (integer) {
		(void)strtoll(tmp, &stop, 10);
		return errno != ERANGE;
	}
	{
		double v = strtod(tmp, &stop);

		return !(isinf(v) && errno == ERANGE);
	}
}

static bool
scan_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool scan_value(struct scan *s, int depth);

/* An object or array at s->p; for the top object (vals not NULL), the
 * values of keys[] are noted in vals[] (the last of a repeated key wins,
 * as in jansson). */
static bool
scan_container(struct scan *s, int depth, const struct json_key *keys,
               size_t nkeys, struct json_span *vals)
{
	char close = *s->p == '{' ? '}' : ']';
	bool object = close == '}';

	if (depth > SCAN_DEPTH)
		return false;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return true;
	}
	for (;;) {
		const char *key = NULL, *val;
		size_t keylen = 0;

		if (object) {
			if (s->p >= s->end || *s->p != '"')
				return false;
			key = s->p + 1;
			if (!scan_string(s))
				return false;
			keylen = (size_t)(s->p - 1 - key);
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return false;
			s->p++;
			skip_ws(s);
		}
		val = s->p;
		if (!scan_value(s, depth + 1))
			return false;
		for (size_t i = 0; vals != NULL && i < nkeys; i++)
			if (keys[i].n == keylen && memcmp(keys[i].s, key, keylen) == 0) {
				vals[i].s = val;
				vals[i].n = (size_t)(s->p - val);
				break;
			}
		skip_ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == close) {
			s->p++;
			return true;
		}
		if (*s->p != ',')
			return false;
		s->p++;
		skip_ws(s);
	}
}

static bool
scan_value(struct scan *s, int depth)
{
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '"':
		return scan_string(s);
	case '{':
	case '[':
		return scan_container(s, depth, NULL, 0, NULL);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		return scan_number(s);
	}
}

bool
json_members(const char *text, size_t len, const struct json_key *keys,
                size_t nkeys, struct json_span *vals)
{
	struct scan s = { text, text + len, true };

	for (size_t i = 0; i < nkeys; i++)
		vals[i].s = NULL, vals[i].n = 0;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{' ||
	    !scan_container(&s, 1, keys, nkeys, vals))
		return false;
	skip_ws(&s);
	return s.p == s.end && s.canon;
}
