/* web_form.c - form bodies: application/x-www-form-urlencoded and
 * multipart/form-data, read against declared fields.
 *
 * Only declared fields are kept (the first of a name); text must be UTF-8
 * without NUL within its bound. A picture file is checked by its magic
 * bytes (png, jpeg, gif, webp; what the browser says its type is counts for
 * nothing), at most STORE_PICTURE_MAX bytes, and becomes a data: URL, the
 * form the API takes. */
#include "web_impl.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/json.h"
#include "store/query.h"
#include "store/valid.h"

#define PAIRS_MAX 256        /* name=value pairs or parts in one body */
#define PART_HEAD_MAX 4096   /* the headers of one multipart part */
#define BOUNDARY_MAX 70      /* RFC 2046 */

static const web_field csrf_field = { WEB_CSRF_FIELD, WEB_TOKEN_HEX, 0 };

typedef struct form {
	const web_field *fields;
	size_t n;
	json_t *values;
	json_t *errors;
} form;

static const web_field *
declared(const form *f, const char *name, size_t len)
{
	if (len == strlen(csrf_field.name) && memcmp(name, csrf_field.name, len) == 0)
		return &csrf_field;
	for (size_t i = 0; i < f->n; i++)
		if (strlen(f->fields[i].name) == len && memcmp(f->fields[i].name, name, len) == 0)
			return &f->fields[i];
	return NULL;
}

static store_err
add_error(form *f, const char *field, const char *message)
{
	json_t *e = json_pack("{s:s,s:s}", "message", message, "field", field);

	if (f->errors == NULL)
		f->errors = json_array();
	if (e == NULL || f->errors == NULL || json_array_append_new(f->errors, e) != 0)
		return STORE_ENOMEM;
	return STORE_OK;
}

/* Keeps a text value of a declared field (unless one came already). */
static store_err
add_text(form *f, const web_field *fd, const char *value, size_t len)
{
	json_t *s;

	if (json_object_get(f->values, fd->name) != NULL)
		return STORE_OK;
	if (len > fd->max)
		return add_error(f, fd->name, "This is too long");
	if (memchr(value, '\0', len) != NULL || (s = json_stringn(value, len)) == NULL)
		return add_error(f, fd->name, "This is not valid text");
	return json_object_set_new(f->values, fd->name, s) == 0 ? STORE_OK : STORE_ENOMEM;
}

static store_err
parse_urlencoded(form *f, const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	char *name = NULL, *value = NULL;
	size_t pairs = 0;
	store_err e = STORE_OK;

	if ((name = malloc(len + 1)) == NULL || (value = malloc(len + 1)) == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		const web_field *fd;
		long nl, vl;

		if (++pairs > PAIRS_MAX) {
			e = STORE_EINVAL;
			goto out;
		}
		if (stop > p) {
			const char *nend = eq != NULL ? eq : stop;
			if ((nl = store_url_decode(p, (size_t)(nend - p), name)) < 0 ||
			    (vl = eq != NULL ? store_url_decode(eq + 1, (size_t)(stop - eq - 1), value) : 0) < 0) {
				e = STORE_EINVAL;
				goto out;
			}
			fd = declared(f, name, (size_t)nl);
			if (fd != NULL && !(fd->flags & WEB_F_PICTURE) &&
			    (e = add_text(f, fd, value, (size_t)vl)) != STORE_OK)
				goto out;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
out:
	free(name);
	free(value);
	return e;
}

/* The value of parameter param in a header value ("form-data; name=\"x\"")
 * into out; false when absent, malformed or too long. Values are quoted
 * strings (browsers write a quote inside as %22) or tokens. */
static bool
header_param(const char *h, size_t hlen, const char *param, char *out, size_t outlen)
{
	size_t plen = strlen(param);
	const char *p = h, *end = h + hlen;

	while (p < end) {
		const char *name = p, *v, *vend, *next;
		size_t nlen;

		while (p < end && *p != '=' && *p != ';')
			p++;
		nlen = (size_t)(p - name);
		while (nlen > 0 && (name[0] == ' ' || name[0] == '\t')) {
			name++;
			nlen--;
		}
		while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
			nlen--;
		if (p == end || *p == ';') {
			/* A parameter without a value ("form-data"). */
			p++;
			continue;
		}
		v = p + 1;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if (v < end && *v == '"') {
			v++;
			if ((vend = memchr(v, '"', (size_t)(end - v))) == NULL)
				return false;
			next = memchr(vend, ';', (size_t)(end - vend));
		} else {
			vend = memchr(v, ';', (size_t)(end - v));
			next = vend;
			if (vend == NULL)
				vend = end;
			while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
				vend--;
		}
		if (nlen == plen && strncasecmp(name, param, plen) == 0) {
			if ((size_t)(vend - v) + 1 > outlen)
				return false;
			memcpy(out, v, (size_t)(vend - v));
			out[vend - v] = '\0';
			return true;
		}
		if (next == NULL)
			break;
		p = next + 1;
	}
	return false;
}

/* The picture's MIME type by its first bytes, or NULL. */
static const char *
sniff(const unsigned char *d, size_t n)
{
	if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
		return "image/jpeg";
	if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
		return "image/gif";
	if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
		return "image/webp";
	return NULL;
}

static store_err
add_picture(form *f, const web_field *fd, const char *data, size_t len)
{
	const char *type;
	char *url = NULL;
	size_t prefix, b64;
	json_t *s;

	if (json_object_get(f->values, fd->name) != NULL || len == 0)
		return STORE_OK;
	if (len > STORE_PICTURE_MAX)
		return add_error(f, fd->name, "Picture must be at most 2 MiB");
	if ((type = sniff((const unsigned char *)data, len)) == NULL)
		return add_error(f, fd->name, "Picture must be a png, jpeg, gif or webp image");
	prefix = strlen("data:;base64,") + strlen(type);
	b64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((url = malloc(prefix + b64)) == NULL)
		return STORE_ENOMEM;
	snprintf(url, prefix + 1, "data:%s;base64,", type);
	sodium_bin2base64(url + prefix, b64, (const unsigned char *)data, len,
	                  sodium_base64_VARIANT_ORIGINAL);
	s = json_string(url);
	free(url);
	if (s == NULL || json_object_set_new(f->values, fd->name, s) != 0)
		return STORE_ENOMEM;
	return STORE_OK;
}

static store_err
parse_multipart(form *f, const char *ctype, const char *body, size_t len)
{
	char boundary[BOUNDARY_MAX + 1], delim[BOUNDARY_MAX + 5];
	const char *p, *end = body + len;
	size_t dlen, parts = 0;
	store_err e;

	if (!header_param(ctype, strlen(ctype), "boundary", boundary, sizeof boundary) ||
	    boundary[0] == '\0')
		return STORE_EINVAL;
	/* Every delimiter but the first follows a CRLF. */
	dlen = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
	if (len < dlen - 2 || memcmp(body, delim + 2, dlen - 2) != 0)
		return STORE_EINVAL;
	p = body + dlen - 2;
	for (;;) {
		const char *head, *head_end, *data, *next;
		char name[128], filename[256], disp[PART_HEAD_MAX];
		const web_field *fd;
		int is_file;

		/* After a delimiter: "--" ends the body, CRLF starts a part. */
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return STORE_OK;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return STORE_EINVAL;
		if (++parts > PAIRS_MAX)
			return STORE_EINVAL;
		head = p + 2;
		head_end = memmem(head, (size_t)(end - head), "\r\n\r\n", 4);
		if (head_end == NULL || head_end - head > PART_HEAD_MAX)
			return STORE_EINVAL;
		data = head_end + 4;
		next = memmem(data, (size_t)(end - data), delim, dlen);
		if (next == NULL)
			return STORE_EINVAL;
		/* The Content-Disposition line. */
		disp[0] = '\0';
		for (const char *line = head; line < head_end + 2;) {
			const char *eol = memmem(line, (size_t)(head_end + 2 - line), "\r\n", 2);
			size_t ll = (size_t)(eol - line);
			static const char cd[] = "content-disposition:";
			if (ll >= sizeof cd - 1 && strncasecmp(line, cd, sizeof cd - 1) == 0) {
				snprintf(disp, sizeof disp, "%.*s", (int)(ll - (sizeof cd - 1)),
				         line + sizeof cd - 1);
				break;
			}
			line = eol + 2;
		}
		if (!header_param(disp, strlen(disp), "name", name, sizeof name))
			return STORE_EINVAL;
		is_file = header_param(disp, strlen(disp), "filename", filename, sizeof filename);
		fd = declared(f, name, strlen(name));
		if (fd != NULL && (fd->flags & WEB_F_PICTURE) && is_file)
			e = add_picture(f, fd, data, (size_t)(next - data));
		else if (fd != NULL && !(fd->flags & WEB_F_PICTURE) && !is_file)
			e = add_text(f, fd, data, (size_t)(next - data));
		else
			e = STORE_OK;
		if (e != STORE_OK)
			return e;
		p = next + dlen;
	}
}

store_err
web_form_parse(const char *content_type, const char *body, size_t len,
               const web_field *fields, size_t n, json_t **values, json_t **errors)
{
	form f = { fields, n, json_object(), NULL };
	store_err e;

	*values = NULL;
	*errors = NULL;
	if (f.values == NULL)
		return STORE_ENOMEM;
	if (content_type == NULL || content_type[0] == '\0') {
		e = len == 0 ? STORE_OK : STORE_EINVAL;
	} else if (strncasecmp(content_type, "application/x-www-form-urlencoded", 33) == 0 &&
	           (content_type[33] == '\0' || content_type[33] == ';')) {
		e = parse_urlencoded(&f, body, len);
	} else if (strncasecmp(content_type, "multipart/form-data", 19) == 0 &&
	           content_type[19] == ';') {
		e = parse_multipart(&f, content_type + 20, body, len);
	} else {
		e = STORE_EINVAL;
	}
	if (e != STORE_OK) {
		json_decref(f.values);
		json_decref(f.errors);
		return e;
	}
	*values = f.values;
	*errors = f.errors;
	return STORE_OK;
}
