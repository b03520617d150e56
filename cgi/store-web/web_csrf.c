/* web_csrf.c - one request's state, cookies and CSRF tokens.
 *
 * CSRF: a signed double-submit token bound to the session. Each browser gets
 * a random "csrf" cookie (16 bytes, HttpOnly, SameSite=Lax); every form
 * carries hex(HMAC-SHA256(JWT_KEY, "store-web csrf v1\n" cookie "\n" user))
 * where user is the signed-in id ("" signed out), and every POST must carry
 * the token of its request's cookie and session. Another site can neither
 * read the cookie nor compute the HMAC, and a cookie planted from a sibling
 * domain is useless without the key, and bound to its planter's session
 * besides. The library's Origin check runs before any of this. */
#include "web_impl.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "store/json.h"
#include "store/log.h"

static bool
is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == n;
}

bool
web_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p != NULL && *p != '\0') {
		const char *end;
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		end = strchr(p, ';');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			size_t vlen = len - nlen - 1;
			while (vlen > 0 && (p[nlen + 1 + vlen - 1] == ' ' || p[nlen + 1 + vlen - 1] == '\t'))
				vlen--;
			if (vlen + 1 > outlen)
				return false;
			memcpy(out, p + nlen + 1, vlen);
			out[vlen] = '\0';
			return true;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

void
web_csrf_token(const char *key, const char *cookie, const char *user_id,
               char out[WEB_TOKEN_HEX + 1])
{
	static const char label[] = "store-web csrf v1\n";
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof label - 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)cookie, strlen(cookie));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)user_id, strlen(user_id));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, WEB_TOKEN_HEX + 1, mac, sizeof mac);
	sodium_memzero(&st, sizeof st);
}

void
web_begin(web_ctx *c, store_req *req, store_res *res)
{
	memset(c, 0, sizeof *c);
	c->req = req;
	c->res = res;
	c->web = req->app;
	web_buf_init(&c->html, WEB_PAGE_MAX);
	if (!web_cookie_get(store_req_param(req, "HTTP_COOKIE"), "csrf", c->csrf, sizeof c->csrf) ||
	    !is_hex(c->csrf, WEB_CSRF_HEX)) {
		unsigned char raw[WEB_CSRF_HEX / 2];
		randombytes_buf(raw, sizeof raw);
		sodium_bin2hex(c->csrf, sizeof c->csrf, raw, sizeof raw);
		c->csrf_new = 1;
	}
	web_csrf_token(c->web->key, c->csrf, req->user != NULL ? req->user->id : "", c->token);
}

void
web_csrf_input(web_ctx *c)
{
	web_out(&c->html, "<input type=\"hidden\" name=\"" WEB_CSRF_FIELD "\" value=\"%s\">",
	        c->token);
}

bool
web_form(web_ctx *c, const web_field *fields, size_t n, json_t **values, json_t **errors)
{
	const char *token;
	store_err e;

	*values = NULL;
	*errors = NULL;
	e = web_form_parse(store_req_param(c->req, "CONTENT_TYPE"), c->req->body,
	                   c->req->body_len, fields, n, values, errors);
	/* The request owns what was read, whatever comes next (web_own frees
	 * what it cannot take). */
	if (e == STORE_OK) {
		bool had_errors = *errors != NULL;
		*values = web_own_json(c, *values);
		*errors = web_own_json(c, *errors);
		if (*values == NULL || (had_errors && *errors == NULL)) {
			*values = *errors = NULL;
			e = STORE_ENOMEM;
		}
	}
	if (e == STORE_EINVAL) {
		web_error_page(c, 400, "Bad request",
		               "The form could not be read. Go back and send it again.");
		return false;
	}
	if (e != STORE_OK) {
		store_log(STORE_LOG_ERROR, c->req->request_id, NULL, "reading a form failed: %s",
		          store_strerror(e));
		web_error_page(c, 500, "Something went wrong", "Please try again in a moment.");
		return false;
	}
	token = store_json_str(*values, WEB_CSRF_FIELD);
	if (!c->csrf_new && token != NULL && strlen(token) == WEB_TOKEN_HEX &&
	    sodium_memcmp(token, c->token, WEB_TOKEN_HEX) == 0)
		return true;
	store_log(STORE_LOG_WARN, c->req->request_id, NULL, "form of '%s' refused: %s",
	          c->req->path, c->csrf_new ? "no csrf cookie" : "bad csrf token");
	*values = *errors = NULL;
	web_error_page(c, 403, "Form refused",
	               "This form has expired or did not come from this site. "
	               "Go back, reload the page and send it again.");
	return false;
}
