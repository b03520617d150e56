/* valid.c - declared inputs: tables of fields with validators. */
#include "store/valid.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/oid.h"

#define MONEY_MAX_CENTS 100000000LL /* 1,000,000.00 */
#define URL_MAX 2048

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
int
store_valid_email(const char *s)
{
	const char *at = strchr(s, '@');
	const char *d, *dot = NULL;
	size_t len = strlen(s);

	if (at == NULL || at == s || len > 254 || (size_t)(at - s) > 64 ||
	    strchr(at + 1, '@') != NULL)
		return 0;
	for (const char *p = s; p < at; p++)
		if (!isgraph((unsigned char)*p) || strchr("()<>,;:\\\"[]", *p) != NULL)
			return 0;
	if (s[0] == '.' || at[-1] == '.' || strstr(s, "..") != NULL)
		return 0;
	d = at + 1;
	if (*d == '\0' || *d == '.' || *d == '-')
		return 0;
	for (const char *p = d; *p != '\0'; p++) {
		if (*p == '.') {
			if (p[1] == '\0' || p[1] == '.' || p[-1] == '-')
				return 0;
			dot = p;
		} else if (!isalnum((unsigned char)*p) && *p != '-') {
			return 0;
		}
	}
	if (dot == NULL || strlen(dot + 1) < 2)
		return 0;
	for (const char *p = dot + 1; *p != '\0'; p++)
		if (!isalpha((unsigned char)*p))
			return 0;
	return 1;
}

static int
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

static int
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
		return 0;
	for (; p[n] != '\0'; n++) {
		if (p[n] == '=') {
			pad++;
			if (pad > 2)
				return 0;
		} else if (pad > 0 || !is_b64((unsigned char)p[n])) {
			return 0;
		}
	}
	if (n == 0 || n % 4 != 0)
		return 0;
	/* The bits the padding leaves over are zero ("QQ==", not "QR=="): the
	 * decoder that serves the picture refuses others. */
	if (pad > 0 && (b64_value((unsigned char)p[n - pad - 1]) & (pad == 1 ? 0x3 : 0xf)) != 0)
		return 0;
	return n / 4 * 3 - pad <= STORE_PICTURE_MAX;
}

int
store_valid_picture(const char *s)
{
	const char *host;

	if (strncmp(s, "data:image/", 11) == 0)
		return valid_data_image(s);
	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return 0;
	if (strlen(s) > URL_MAX || *host == '\0' || *host == '/')
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p) || *p == '"' || *p == '<' || *p == '>' ||
		    *p == '\\' || *p == '`')
			return 0;
	return 1;
}

int
store_valid_money(const json_t *v, long long *cents)
{
	double d, c;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i <= 0 || i > MONEY_MAX_CENTS / 100)
			return 0;
		*cents = (long long)i * 100;
		return 1;
	}
	if (!json_is_real(v))
		return 0;
	d = json_real_value(v);
	if (!isfinite(d) || d <= 0 || d > (double)(MONEY_MAX_CENTS / 100))
		return 0;
	c = round(d * 100.0);
	if (fabs(d * 100.0 - c) > 1e-6 * fmax(1.0, c) || c < 1)
		return 0;
	*cents = (long long)c;
	return 1;
}

static int
integer_in(const json_t *v, long long min, long long max, long long *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else if (json_is_real(v)) {
		d = json_real_value(v);
		if (!isfinite(d) || d != floor(d) || fabs(d) > 9e15)
			return 0;
		*out = (long long)d;
	} else {
		return 0;
	}
	return *out >= min && *out <= max;
}

/* Checks one present, non-null value; *norm gets the value to hand on. */
static int
check_value(const store_field *f, const json_t *v, json_t **norm)
{
	long long n;
	size_t len;
	const char *s;
	char *trimmed = NULL;
	int ok = 0;

	switch (f->kind) {
	case STORE_V_STRING:
	case STORE_V_EMAIL:
	case STORE_V_OBJECTID:
	case STORE_V_PICTURE:
		if (!json_is_string(v))
			return 0;
		s = json_string_value(v);
		len = json_string_length(v);
		if (memchr(s, '\0', len) != NULL)   /* embedded NUL */
			return 0;
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
			return 0;
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
		return ok && *norm != NULL;
	case STORE_V_MONEY:
		if (!store_valid_money(v, &n))
			return 0;
		*norm = json_integer(n);
		return *norm != NULL;
	case STORE_V_POSINT:
		if (!integer_in(v, 1, f->max > 0 ? f->max : (long long)9e15, &n))
			return 0;
		*norm = json_integer(n);
		return *norm != NULL;
	case STORE_V_INT:
		if (!integer_in(v, f->min, f->max, &n) ||
		    ((f->flags & STORE_F_NONZERO) && n == 0))
			return 0;
		*norm = json_integer(n);
		return *norm != NULL;
	case STORE_V_BOOL:
		if (!json_is_boolean(v))
			return 0;
		*norm = json_incref((json_t *)v);
		return 1;
	case STORE_V_ANY:
		*norm = json_incref((json_t *)v);
		return 1;
	}
	return 0;
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
		json_t *norm = NULL;

		if (v == NULL || json_is_null(v)) {
			if (!(f->flags & STORE_F_REQUIRED))
				continue;
		} else if (check_value(f, v, &norm)) {
			json_object_set_new(res, f->name, norm);
			continue;
		}
		json_array_append_new(errs, json_pack("{s:s,s:s}", "message",
		                      v == NULL || json_is_null(v) ? missing_message(f)
		                      : f->message, "field", f->name));
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
