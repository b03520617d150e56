/* valid.c - declared inputs: tables of fields with validators. */
#include "store/valid.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/oid.h"

#define MONEY_MAX_CENTS 100000000LL /* 1,000,000.00 */
#define URL_MAX 2048
#define NUMBER_TEXT_MAX 32          /* longest number accepted as a string */

size_t
store_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* A deliberately plain check: local@domain.tld, printable ASCII local part
 * without spaces, a domain of labels [A-Za-z0-9-] with a dot and a 2+ letter
 * top label. */
bool
store_valid_email(const char *s)
{
	const char *at = strchr(s, '@');
	const char *d, *dot = NULL;
	size_t len = strlen(s);

	if (at == NULL || at == s || len > 254 || (size_t)(at - s) > 64 ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (const char *p = s; p < at; p++)
		if (!isgraph((unsigned char)*p) || strchr("()<>,;:\\\"[]", *p) != NULL)
			return false;
	if (s[0] == '.' || at[-1] == '.' || strstr(s, "..") != NULL)
		return false;
	d = at + 1;
	if (*d == '\0' || *d == '.' || *d == '-')
		return false;
	for (const char *p = d; *p != '\0'; p++) {
		if (*p == '.') {
			if (p[1] == '\0' || p[1] == '.' || p[-1] == '-')
				return false;
			dot = p;
		} else if (!isalnum((unsigned char)*p) && *p != '-') {
			return false;
		}
	}
	if (dot == NULL || strlen(dot + 1) < 2)
		return false;
	for (const char *p = dot + 1; *p != '\0'; p++)
		if (!isalpha((unsigned char)*p))
			return false;
	return true;
}

static bool
is_b64(int c)
{
	return isalnum(c) || c == '+' || c == '/';
}

/* The value of a base64 digit (one is_b64 takes). */
static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : 63;
}

static bool
valid_data_image(const char *s)
{
	static const char *const types[] = { "png", "jpeg", "gif", "webp" };
	const char *p = s + strlen("data:image/");
	size_t n = 0, pad = 0, i;

	for (i = 0; i < sizeof types / sizeof *types; i++) {
		size_t tl = strlen(types[i]);
		if (strncmp(p, types[i], tl) == 0 && strncmp(p + tl, ";base64,", 8) == 0) {
			p += tl + 8;
			break;
		}
	}
	if (i == sizeof types / sizeof *types)
		return false;
	for (; p[n] != '\0'; n++) {
		if (p[n] == '=') {
			pad++;
			if (pad > 2)
				return false;
		} else if (pad > 0 || !is_b64((unsigned char)p[n])) {
			return false;
		}
	}
	if (n == 0 || n % 4 != 0)
		return false;
	/* The bits the padding leaves over are zero ("QQ==", not "QR=="): the
	 * decoder that serves the picture refuses others. */
	if (pad > 0 && (b64_value((unsigned char)p[n - pad - 1]) & (pad == 1 ? 0x3 : 0xf)) != 0)
		return false;
	return n / 4 * 3 - pad <= STORE_PICTURE_MAX;
}

bool
store_valid_picture(const char *s)
{
	const char *host;

	if (strncmp(s, "data:image/", 11) == 0)
		return valid_data_image(s);
	if (strncmp(s, STORE_PICTURE_PATH, strlen(STORE_PICTURE_PATH)) == 0)
		return store_oid_valid(s + strlen(STORE_PICTURE_PATH));
	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return false;
	if (strlen(s) > URL_MAX || *host == '\0' || *host == '/')
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p) || *p == '"' || *p == '<' || *p == '>' ||
		    *p == '\\' || *p == '`')
			return false;
	return true;
}

/* Length of a number in JSON's syntax without exponent at the start of the
 * len bytes at s: "-"? ("0" | [1-9][0-9]*) ("." [0-9]+)?; 0 when none. */
static size_t
decimal_syntax(const char *s, size_t len)
{
	size_t i = 0, d;

	if (i < len && s[i] == '-')
		i++;
	for (d = i; i < len && isdigit((unsigned char)s[i]); i++)
		;
	if (i == d || (s[d] == '0' && i - d > 1))
		return 0;
	if (i < len && s[i] == '.') {
		for (d = ++i; i < len && isdigit((unsigned char)s[i]); i++)
			;
		if (i == d)
			return 0;
	}
	return i;
}

store_money
store_money_parse(const char *s, size_t len, long long *cents)
{
	const char *dot;
	size_t nint, nfrac;
	long long whole = 0, frac = 0;

	if (len > NUMBER_TEXT_MAX || decimal_syntax(s, len) != len)
		return STORE_MONEY_BAD;
	if (s[0] == '-')   /* at or below 0, whatever the decimals */
		return STORE_MONEY_BAD;
	dot = memchr(s, '.', len);
	nint = dot != NULL ? (size_t)(dot - s) : len;
	nfrac = dot != NULL ? len - nint - 1 : 0;
	while (nfrac > 0 && dot[nfrac] == '0')   /* 19.990 is 19.99 */
		nfrac--;
	if (nfrac > 2)   /* its last digit is not 0: the value is above 0 */
		return STORE_MONEY_DECIMALS;
	if (nint > 7)
		return STORE_MONEY_BAD;
	for (size_t i = 0; i < nint; i++)
		whole = whole * 10 + (s[i] - '0');
	for (size_t i = 0; i < 2; i++)
		frac = frac * 10 + (i < nfrac ? dot[1 + i] - '0' : 0);
	*cents = whole * 100 + frac;
	return *cents > 0 && *cents <= MONEY_MAX_CENTS ? STORE_MONEY_OK : STORE_MONEY_BAD;
}

store_money
store_money_of(const json_t *v, int strings, long long *cents)
{
	char text[64];
	double d;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i <= 0 || i > MONEY_MAX_CENTS / 100)
			return STORE_MONEY_BAD;
		*cents = (long long)i * 100;
		return STORE_MONEY_OK;
	}
	if (strings && json_is_string(v))
		return store_money_parse(json_string_value(v), json_string_length(v), cents);
	if (!json_is_real(v))
		return STORE_MONEY_BAD;
	d = json_real_value(v);
	if (!isfinite(d) || d <= 0 || d > 2.0 * (double)(MONEY_MAX_CENTS / 100))
		return STORE_MONEY_BAD;
	/* The shortest of 0, 1 or 2 decimals that reads back as d is the decimal
	 * the client wrote; none means it had more (the double rounding of
	 * 10000.001 is never 10000.00). */
	for (int dec = 0; dec <= 2; dec++) {
		int n = snprintf(text, sizeof text, "%.*f", dec, d);
		if (n > 0 && (size_t)n < sizeof text && strtod(text, NULL) == d)
			return store_money_parse(text, (size_t)n, cents);
	}
	return STORE_MONEY_DECIMALS;
}

bool
store_valid_money(const json_t *v, long long *cents)
{
	return store_money_of(v, 0, cents) == STORE_MONEY_OK;
}

static bool
integer_in(const json_t *v, long long min, long long max, long long *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else if (json_is_real(v)) {
		d = json_real_value(v);
		if (!isfinite(d) || d != floor(d) || fabs(d) > 9e15)
			return false;
		*out = (long long)d;
	} else {
		return false;
	}
	return *out >= min && *out <= max;
}

/* A string holding a number in JSON's syntax without exponent, as that
 * number (new reference; caller decrefs); NULL for any other string. */
static json_t *
number_of_string(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (len > NUMBER_TEXT_MAX || decimal_syntax(s, len) != len)
		return NULL;
	return json_loadb(s, len, JSON_DECODE_ANY, NULL);
}

/* Checks one present, non-blank value; *norm gets the value to hand on.
 * Returns NULL when valid, else the message of the failure. */
static const char *
check_value(const store_field *f, const json_t *v, json_t **norm)
{
	long long n;
	size_t len;
	const char *s;
	char *trimmed = NULL;
	json_t *num = NULL;
	int ok = 0;

	switch (f->kind) {
	case STORE_V_STRING:
	case STORE_V_EMAIL:
	case STORE_V_OBJECTID:
	case STORE_V_PICTURE:
		if (!json_is_string(v))
			return f->message;
		s = json_string_value(v);
		len = json_string_length(v);
		if (memchr(s, '\0', len) != NULL)   /* embedded NUL */
			return f->message;
		if (f->flags & STORE_F_TRIM) {
			while (len > 0 && isspace((unsigned char)*s)) {
				s++;
				len--;
			}
			while (len > 0 && isspace((unsigned char)s[len - 1]))
				len--;
		}
		trimmed = strndup(s, len);
		if (trimmed == NULL)
			return f->message;
		if (f->kind == STORE_V_STRING) {
			size_t chars = store_utf8_len(trimmed);
			ok = (long long)chars >= f->min && (long long)chars <= f->max;
		} else if (f->kind == STORE_V_EMAIL) {
			ok = store_valid_email(trimmed);
		} else if (f->kind == STORE_V_OBJECTID) {
			ok = store_oid_valid(trimmed);
		} else {
			ok = store_valid_picture(trimmed);
		}
		if (ok)
			*norm = json_stringn(trimmed, len);
		free(trimmed);
		return ok && *norm != NULL ? NULL : f->message;
	case STORE_V_MONEY:
		switch (store_money_of(v, (f->flags & STORE_F_NUMSTR) != 0, &n)) {
		case STORE_MONEY_OK:
			*norm = json_integer(n);
			return *norm != NULL ? NULL : f->message;
		case STORE_MONEY_DECIMALS:
			return f->decimals != NULL ? f->decimals : f->message;
		default:
			return f->message;
		}
	case STORE_V_POSINT:
	case STORE_V_INT:
		if ((f->flags & STORE_F_NUMSTR) && json_is_string(v)) {
			if ((num = number_of_string(v)) == NULL)
				return f->message;
			v = num;
		}
		if (f->kind == STORE_V_POSINT)
			ok = integer_in(v, 1, f->max > 0 ? f->max : (long long)9e15, &n);
		else
			ok = integer_in(v, f->min, f->max, &n) &&
			     !((f->flags & STORE_F_NONZERO) && n == 0);
		json_decref(num);
		if (ok)
			*norm = json_integer(n);
		return ok && *norm != NULL ? NULL : f->message;
	case STORE_V_BOOL:
		if (!json_is_boolean(v))
			return f->message;
		*norm = json_incref((json_t *)v);
		return NULL;
	case STORE_V_ANY:
		*norm = json_incref((json_t *)v);
		return NULL;
	}
	return f->message;
}

/* Absent, null, or (but for STORE_V_ANY) a string of only white space. */
static bool
absent(const store_field *f, const json_t *v)
{
	const char *s;
	size_t len;

	if (v == NULL || json_is_null(v))
		return true;
	if (f->kind == STORE_V_ANY || !json_is_string(v))
		return false;
	s = json_string_value(v);
	len = json_string_length(v);
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

static const char *
missing_message(const store_field *f)
{
	return f->missing != NULL ? f->missing : f->message;
}

store_err
store_validate(const json_t *in, const store_field *fields, size_t n,
               json_t **out, json_t **errors)
{
	json_t *res = json_object(), *errs = json_array();
	store_err e = STORE_ENOMEM;

	*out = NULL;
	*errors = NULL;
	if (res == NULL || errs == NULL)
		goto done;
	if (!json_is_object(in)) {
		json_array_append_new(errs, json_pack("{s:s}", "message",
		                      "Body must be a JSON object"));
		e = STORE_EINVAL;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const store_field *f = &fields[i];
		const json_t *v = json_object_get(in, f->name);
		const char *why;
		json_t *norm = NULL;

		if (absent(f, v)) {
			if (!(f->flags & STORE_F_REQUIRED))
				continue;
			why = missing_message(f);
		} else if ((why = check_value(f, v, &norm)) == NULL) {
			json_object_set_new(res, f->name, norm);
			continue;
		}
		json_array_append_new(errs, json_pack("{s:s,s:s}", "message", why,
		                      "field", f->name));
	}
	e = json_array_size(errs) > 0 ? STORE_EINVAL : STORE_OK;
done:
	if (e == STORE_OK) {
		*out = res;
		res = NULL;
	} else if (e == STORE_EINVAL) {
		*errors = errs;
		errs = NULL;
	}
	json_decref(res);
	json_decref(errs);
	return e;
}
