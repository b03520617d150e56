/* web_api.c - the JSON API, called through the front server over libcurl.
 *
 * Each call is STORE_API_URL + path with the visitor's session cookie (only
 * that cookie) and request id, a JSON body, bounded time and a bounded
 * answer. The answer's session Set-Cookie (sign in, up, out) is kept for
 * the browser. Bodies are never logged: they may hold passwords. */
#include "web_impl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/json.h"
#include "store/log.h"
#include "store/session.h"

#define SESSION_COOKIE_MAX 4096

typedef struct answer {
	char *data;
	size_t len;
	int too_big;
	web_api_res *res;
} answer;

static size_t
on_body(char *ptr, size_t size, size_t n, void *arg)
{
	answer *a = arg;
	size_t add = size * n;
	char *grown;

	if (a->len + add > WEB_API_MAX) {
		a->too_big = 1;
		return 0;
	}
	if ((grown = realloc(a->data, a->len + add + 1)) == NULL)
		return 0;
	memcpy(grown + a->len, ptr, add);
	a->data = grown;
	a->len += add;
	a->data[a->len] = '\0';
	return add;
}

/* Keeps "Set-Cookie: session=..." values (a new answer after a redirect or
 * a 100 starts over: libcurl gives every header block). */
static size_t
on_header(char *ptr, size_t size, size_t n, void *arg)
{
	answer *a = arg;
	web_api_res *r = a->res;
	size_t len = size * n;
	static const char name[] = "set-cookie:";
	const char *v;
	size_t vlen;

	if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		for (size_t i = 0; i < r->ncookies; i++) {
			free(r->cookies[i]);
			r->cookies[i] = NULL;
		}
		r->ncookies = 0;
		return len;
	}
	if (len <= sizeof name - 1 || strncasecmp(ptr, name, sizeof name - 1) != 0)
		return len;
	v = ptr + sizeof name - 1;
	vlen = len - (sizeof name - 1);
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (vlen > SESSION_COOKIE_MAX || r->ncookies >= WEB_COOKIES_MAX ||
	    vlen <= strlen(STORE_COOKIE_NAME) + 1 ||
	    strncmp(v, STORE_COOKIE_NAME "=", strlen(STORE_COOKIE_NAME) + 1) != 0)
		return len;
	if ((r->cookies[r->ncookies] = strndup(v, vlen)) != NULL)
		r->ncookies++;
	return len;
}

/* A session cookie value as the services write it (base64 of JSON, maybe
 * URL-encoded): nothing else is passed on in a header. */
static bool
cookie_value_ok(const char *v)
{
	if (*v == '\0')
		return false;
	for (; *v != '\0'; v++)
		if (!((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
		      (*v >= '0' && *v <= '9') || strchr("+/=_-.%", *v) != NULL))
			return false;
	return true;
}

store_err
web_api(web_ctx *c, const char *method, const char *path, const json_t *body,
        web_api_res *out)
{
	CURL *curl = NULL;
	struct curl_slist *hdrs = NULL;
	char *url = NULL, *json = NULL, line[SESSION_COOKIE_MAX + 64], session[SESSION_COOKIE_MAX];
	answer a = { NULL, 0, 0, out };
	CURLcode rc;
	store_err e = STORE_ENOMEM;

	memset(out, 0, sizeof *out);
	if ((curl = curl_easy_init()) == NULL)
		goto out;
	if (asprintf(&url, "%s%s", c->web->api_url, path) < 0) {
		url = NULL;
		goto out;
	}
	snprintf(line, sizeof line, "X-Request-Id: %s", c->req->request_id);
	hdrs = curl_slist_append(hdrs, line);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	/* Not "Expect: 100-continue" for large bodies: one round trip. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (web_cookie_get(store_req_param(c->req, "HTTP_COOKIE"), STORE_COOKIE_NAME, session,
	                   sizeof session) && cookie_value_ok(session)) {
		snprintf(line, sizeof line, "Cookie: %s=%s", STORE_COOKIE_NAME, session);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (body != NULL) {
		if ((json = store_json_dump(body)) == NULL)
			goto out;
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	}
	if (hdrs == NULL)
		goto out;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, c->web->connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->web->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		store_log(STORE_LOG_WARN, c->req->request_id, NULL, "api %s %s: %s%s", method, path,
		          curl_easy_strerror(rc), a.too_big ? " (answer too big)" : "");
		e = STORE_EUNAVAIL;
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
	if (a.data != NULL && a.len > 0)
		out->json = json_loadb(a.data, a.len, JSON_DECODE_ANY, NULL);
	e = STORE_OK;
out:
	if (e == STORE_ENOMEM)
		store_log(STORE_LOG_ERROR, c->req->request_id, NULL, "api %s %s: out of memory",
		          method, path);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	free(url);
	free(json);
	free(a.data);
	return e;
}

void
web_api_res_free(web_api_res *r)
{
	json_decref(r->json);
	for (size_t i = 0; i < r->ncookies; i++)
		free(r->cookies[i]);
	memset(r, 0, sizeof *r);
}

json_t *
web_api_errors(const web_api_res *r)
{
	json_t *errs = json_object_get(r->json, "errors");

	return json_is_array(errs) ? errs : NULL;
}

void
web_api_pass_cookies(web_ctx *c, const web_api_res *r)
{
	for (size_t i = 0; i < r->ncookies; i++)
		store_res_header(c->res, "Set-Cookie", r->cookies[i]);
}

/* The API's first message, or def. */
static const char *
first_message(const web_api_res *r, const char *def)
{
	const char *m = store_json_str(json_array_get(web_api_errors(r), 0), "message");

	return m != NULL ? m : def;
}

void
web_api_failed(web_ctx *c, store_err e, const web_api_res *r)
{
	if (e != STORE_OK) {
		web_error_page(c, 502, "The store is not answering",
		               "The store did not answer in time. Please try again in a moment.");
		return;
	}
	switch (r->status) {
	case 401:
		web_redirect(c, "/signin");
		return;
	case 403:
		web_error_page(c, 403, "Not yours", first_message(r, "Forbidden"));
		return;
	case 404:
		web_error_page(c, 404, "Not found",
		               "There is nothing here: it may have been deleted.");
		return;
	case 409:
		web_error_page(c, 409, "Changed meanwhile",
		               "Someone changed this at the same time. Go back, reload and try again.");
		return;
	case 413:
		web_error_page(c, 413, "Too large", "What you sent is too large.");
		return;
	case 429:
		web_error_page(c, 429, "Too many requests", "Please wait a moment and try again.");
		return;
	default:
		break;
	}
	if (r->status >= 400 && r->status < 500) {
		web_error_page(c, (int)r->status, "Refused", first_message(r, "Bad request"));
		return;
	}
	store_log(STORE_LOG_WARN, c->req->request_id, NULL, "api answered %ld to %s %s",
	          r->status, c->req->method, c->req->path);
	web_error_page(c, 502, "Something went wrong", "Please try again in a moment.");
}
