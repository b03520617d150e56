/* catalog_scan.c - checks a stored document's JSON text whole, as
 * json_loadb would (one object, valid UTF-8, numbers in range, nothing
 * after it), and finds its top-level members (catalog_members), for
 * catalog_text.c's answers written straight from the stored text. */
#include "catalog_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text_impl.h"

#define SCAN_DEPTH 64   /* nesting checked in a stored document */

struct scan {
	const char *p, *end;
	bool canon;     /* every string is as jansson writes it */
};

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	                         *s->p == '\n' || *s->p == '\r'))
		s->p++;
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

/* A string at s->p ('"'). Clears s->canon at an escape jansson would not
 * write (it writes \" \\ \b \f \n \r \t and \u00XX, upper case, for the
 * other control characters) and at \u0000. */
static bool
scan_string(struct scan *s)
{
	s->p++;
	while (s->p < s->end) {
		unsigned char ch = (unsigned char)*s->p;

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
		if (ch != '\\') {
			s->p++;
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

/* A number at s->p in JSON's grammar that jansson loads: an integer in
 * long long's range, a real that does not overflow. */
static bool
scan_number(struct scan *s)
{
	const char *start = s->p;
	char tmp[CATALOG_NUMBER_MAX + 1], *end;
	bool integer = true;
	size_t n;

	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return false;
	if (*s->p == '0') {
		s->p++;
	} else if (*s->p >= '1' && *s->p <= '9') {
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	} else {
		return false;
	}
	if (s->p < s->end && *s->p == '.') {
		integer = false;
		s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return false;
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		integer = false;
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return false;
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	n = (size_t)(s->p - start);
	if (n > CATALOG_NUMBER_MAX)
		return false;   /* left to jansson */
	memcpy(tmp, start, n);
	tmp[n] = '\0';
	errno = 0;
	if (integer) {
		(void)strtoll(tmp, &end, 10);
		return errno != ERANGE;
	}
	{
		double v = strtod(tmp, &end);

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
scan_container(struct scan *s, int depth, const char *const *keys,
               size_t nkeys, struct catalog_span *vals)
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
			if (keys[i][0] == key[0] && strncmp(keys[i], key, keylen) == 0 &&
			    keys[i][keylen] == '\0') {
				vals[i].s = val;
				vals[i].n = (size_t)(s->p - val);
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
catalog_members(const char *text, size_t len, const char *const *keys,
                size_t nkeys, struct catalog_span *vals)
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
