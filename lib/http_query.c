/* http_query.c - declared query-string parameters (store/query.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"
#include "store/valid.h"
#include "text_impl.h"

bool
store_query_raw(const char *query, const char *name, const char **val, size_t *len)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t plen = end != NULL ? (size_t)(end - p) : strlen(p);

		if (plen >= nlen && strncmp(p, name, nlen) == 0 &&
		    (plen == nlen || p[nlen] == '=')) {
			*val = plen == nlen ? p + plen : p + nlen + 1;
			*len = plen == nlen ? 0 : plen - nlen - 1;
			return true;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

long
store_url_decode(const char *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = text_hex_digit(s[i + 1]);
			lo = text_hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	return (long)o;
}

/* Percent-decodes raw into a new string; NULL when malformed (a bad
 * escape, NUL or another control character) or out of memory. */
static char *
decode(const char *raw, size_t len)
{
	char *s = malloc(len + 1);
	long n;

	if (s == NULL)
		return NULL;
	if ((n = store_url_decode(raw, len, s)) < 0)
		goto bad;
	for (long i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			goto bad;
	s[n] = '\0';
	return s;
bad:
	free(s);
	return NULL;
}

enum { Q_BAD, Q_OK, Q_BLANK };

/* Checks one present value; *v gets the value to hand on (Q_OK). Q_BLANK
 * for a value that is empty once trimmed. */
static int
check(const store_qparam *p, const char *raw, size_t len, json_t **v)
{
	char *s = decode(raw, len), *t;
	size_t n, chars;
	bool ok = false;

	*v = NULL;
	if (s == NULL)
		return Q_BAD;
	t = s + strspn(s, " \t");
	n = strlen(t);
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		t[--n] = '\0';
	if (n == 0) {
		free(s);
		return Q_BLANK;
	}
	if (p->kind == STORE_Q_TEXT) {
		chars = store_utf8_len(t);
		*v = json_stringn(t, n);   /* NULL for malformed UTF-8 */
		ok = *v != NULL && (long long)chars >= p->min &&
		     (long long)chars <= p->max;
	} else if (p->kind == STORE_Q_INT) {
		long long x = 0;

		ok = n > 0 && n <= 18 && strspn(t, "0123456789") == n;
		for (size_t i = 0; ok && i < n; i++)
			x = x * 10 + (t[i] - '0');
		ok = ok && x >= p->min && x <= p->max;
		if (ok)
			*v = json_integer(x);
		ok = ok && *v != NULL;
	} else {
		for (size_t i = 0; p->choices != NULL && p->choices[i] != NULL; i++)
			if (strcmp(p->choices[i], t) == 0)
				ok = true;
		if (ok)
			*v = json_string(t);
		ok = ok && *v != NULL;
	}
	if (!ok) {
		json_decref(*v);
		*v = NULL;
	}
	free(s);
	return ok ? Q_OK : Q_BAD;
}

store_err
store_query_parse(const char *query, const store_qparam *params, size_t n,
                  json_t **out, json_t **errors)
{
	json_t *in = json_object(), *errs = json_array(), *v = NULL;
	store_err e = STORE_ENOMEM;

	*out = NULL;
	*errors = NULL;
	if (in == NULL || errs == NULL)
		goto out;
	if (query == NULL || strlen(query) > STORE_QUERY_MAX)
		query = "";
	for (size_t i = 0; i < n; i++) {
		const store_qparam *p = &params[i];
		const char *raw = NULL, *msg = NULL;
		int r = Q_BLANK;   /* absent counts as blank */
		size_t len = 0;

		if (store_query_raw(query, p->name, &raw, &len))
			r = check(p, raw, len, &v);
		if (r == Q_BAD)
			msg = p->message;
		else if (r == Q_BLANK && p->required)
			msg = p->missing != NULL ? p->missing : p->message;
		if (v != NULL && json_object_set_new(in, p->name, v) != 0)
			goto out;
		v = NULL;
		if (msg != NULL &&
		    json_array_append_new(errs, json_pack("{s:s,s:s}", "message", msg,
		                                          "field", p->name)) != 0)
			goto out;
	}
	if (json_array_size(errs) > 0) {
		*errors = errs;
		errs = NULL;
		e = STORE_EINVAL;
	} else {
		*out = in;
		in = NULL;
		e = STORE_OK;
	}
out:
	json_decref(in);
	json_decref(errs);
	return e;
}
