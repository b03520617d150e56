/* web_html.c - HTML building: the bounded buffer, the one escaping
 * function, the page frame, error pages, redirects, form widgets. */
#include "web_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"
#include "store/log.h"
#include "store/query.h"

/* --- buffer ------------------------------------------------------------------- */

void
web_buf_init(web_buf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

void
web_buf_free(web_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

void
web_rawn(web_buf *b, const char *s, size_t n)
{
	if (b->failed || n == 0)
		return;
	if (n > b->max - b->len) {
		b->failed = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 8192;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		if ((grown = realloc(b->data, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
web_raw(web_buf *b, const char *html)
{
	if (html != NULL)
		web_rawn(b, html, strlen(html));
}

void
web_esc(web_buf *b, const char *text)
{
	const char *p, *run;

	if (text == NULL)
		return;
	for (p = run = text; *p != '\0'; p++) {
		const char *ent;
		switch (*p) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		default: continue;
		}
		web_rawn(b, run, (size_t)(p - run));
		web_raw(b, ent);
		run = p + 1;
	}
	web_rawn(b, run, (size_t)(p - run));
}

void
web_out(web_buf *b, const char *fmt, ...)
{
	va_list ap;
	const char *p = fmt, *run = fmt;

	va_start(ap, fmt);
	while (*p != '\0') {
		char spec[16], num[64];
		size_t sl = 0;
		int longs = 0, size_t_arg = 0;

		if (*p != '%') {
			p++;
			continue;
		}
		web_rawn(b, run, (size_t)(p - run));
		p++;
		if (*p == '%') {
			web_raw(b, "%");
			run = ++p;
			continue;
		}
		if (*p == 's') {
			web_esc(b, va_arg(ap, const char *));
			run = ++p;
			continue;
		}
		spec[sl++] = '%';
		while ((*p == '0' || (*p >= '1' && *p <= '9')) && sl < 6)
			spec[sl++] = *p++;
		while (*p == 'l' && longs < 2) {
			spec[sl++] = *p++;
			longs++;
		}
		if (*p == 'z') {
			spec[sl++] = *p++;
			size_t_arg = 1;
		}
		if (*p != 'd' && *p != 'u') {
			/* A conversion this function does not know: a bug. */
			b->failed = 1;
			break;
		}
		spec[sl++] = *p;
		spec[sl] = '\0';
		if (size_t_arg)
			snprintf(num, sizeof num, spec, va_arg(ap, size_t));
		else if (*p == 'd' && longs == 0)
			snprintf(num, sizeof num, spec, va_arg(ap, int));
		else if (*p == 'd' && longs == 1)
			snprintf(num, sizeof num, spec, va_arg(ap, long));
		else if (*p == 'd')
			snprintf(num, sizeof num, spec, va_arg(ap, long long));
		else if (longs == 0)
			snprintf(num, sizeof num, spec, va_arg(ap, unsigned));
		else if (longs == 1)
			snprintf(num, sizeof num, spec, va_arg(ap, unsigned long));
		else
			snprintf(num, sizeof num, spec, va_arg(ap, unsigned long long));
		web_raw(b, num);
		run = ++p;
	}
	if (!b->failed)
		web_rawn(b, run, (size_t)(p - run));
	va_end(ap);
}

void
web_money(web_buf *b, long long cents)
{
	if (cents < 0) {
		web_raw(b, "-");
		cents = -cents;
	}
	web_out(b, "$%lld.%02lld", cents / 100, cents % 100);
}

/* --- checks ------------------------------------------------------------------------ */

const char *
web_val(const json_t *o, const char *key)
{
	const char *s = store_json_str(o, key);

	return s != NULL ? s : "";
}

bool
web_id_ok(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 24;
}

long long
web_cents(const json_t *v)
{
	double d;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 && json_integer_value(v) <= 100000000
		       ? (long long)json_integer_value(v) * 100 : -1;
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	if (!isfinite(d) || d < 0 || d > 1e8)
		return -1;
	return llround(d * 100.0);
}

bool
web_picture_ok(const char *url)
{
	if (url == NULL || strlen(url) > 2048)
		return false;
	if (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0)
		return true;
	/* Same origin, under the API (the products service serves uploads). */
	return strncmp(url, "/api/", 5) == 0;
}

bool
web_query_get(const char *query, const char *name, char *out, size_t outlen)
{
	const char *raw;
	size_t len;
	long n;

	if (!store_query_raw(query, name, &raw, &len) || len >= outlen ||
	    (n = store_url_decode(raw, len, out)) < 0 || memchr(out, '\0', (size_t)n) != NULL)
		return false;
	out[n] = '\0';
	return true;
}

/* --- the page ---------------------------------------------------------------------- */

/* Security headers of every HTML answer. Scripts only from here and
 * Stripe (pay.js, Stripe.js); pictures from anywhere over http(s). */
static void
security_headers(web_ctx *c)
{
	store_res_header(c->res, "Content-Security-Policy",
	                 "default-src 'self'; img-src 'self' https: http: data:; "
	                 "script-src 'self' https://js.stripe.com; "
	                 "frame-src https://js.stripe.com https://hooks.stripe.com; "
	                 "connect-src 'self' https://api.stripe.com; "
	                 "style-src 'self' 'unsafe-inline'; object-src 'none'; "
	                 "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
	store_res_header(c->res, "Referrer-Policy", "same-origin");
}

static void
csrf_cookie(web_ctx *c)
{
	char cookie[128];

	if (!c->csrf_new)
		return;
	snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s",
	         "csrf", c->csrf, c->web->cookie_secure ? "; Secure" : "");
	store_res_header(c->res, "Set-Cookie", cookie);
	c->csrf_new = 0;
}

void
web_page_start(web_ctx *c, const char *title)
{
	web_buf *b = &c->html;
	const store_user *u = c->req->user;
	char q[256] = "";

	web_out(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	        "<title>%s · Store</title>\n<link rel=\"icon\" href=\"data:,\">\n"
	        "<link rel=\"stylesheet\" href=\"%s\">\n", title, c->web->css_href);
	if (c->refresh != NULL)
		web_out(b, "<meta http-equiv=\"refresh\" content=\"1; url=%s\">\n", c->refresh);
	if (c->head != NULL)
		web_raw(b, c->head);
	web_raw(b, "</head>\n<body>\n<header class=\"bar\"><div class=\"wrap\">"
	        "<a class=\"brand\" href=\"/\">Store</a>");
	/* The search box of every page (a GET form: works without JS). */
	if (strcmp(c->req->path, "/search") != 0 ||
	    !web_query_get(c->req->query, "q", q, sizeof q))
		q[0] = '\0';
	web_out(b, "<form class=\"search\" method=\"get\" action=\"/search\" role=\"search\">"
	        "<input type=\"search\" name=\"q\" value=\"%s\" maxlength=\"200\" "
	        "placeholder=\"Search products\" aria-label=\"Search products\">"
	        "<button type=\"submit\" class=\"small\">Search</button></form>", q);
	if (u != NULL) {
		web_out(b, "<span class=\"who\" title=\"Signed in as %s\">%s</span><nav>"
		        "<a href=\"/cart\">Cart</a><a href=\"/orders\">Orders</a>"
		        "<form method=\"post\" action=\"/signout\" class=\"inline\">", u->email,
		        u->email);
		web_csrf_input(c);
		web_raw(b, "<button class=\"link\" type=\"submit\">Sign out</button></form>");
	} else {
		web_raw(b, "<nav><a href=\"/signin\">Sign in</a>"
		        "<a class=\"button small\" href=\"/signup\">Sign up</a>");
	}
	web_raw(b, "</nav></div></header>\n<main class=\"wrap\">\n");
}

void
web_page_finish(web_ctx *c, int status)
{
	web_buf *b = &c->html;

	web_raw(b, "</main>\n");
	if (c->stripe)
		web_out(b, "<script src=\"https://js.stripe.com/v3/\"></script>\n"
		        "<script src=\"%s\"></script>\n", c->web->js_href);
	if (c->holds)
		web_out(b, "<script src=\"%s\"></script>\n", c->web->hold_js_href);
	web_raw(b, "</body>\n</html>\n");
	if (b->failed) {
		store_log(STORE_LOG_ERROR, c->req->request_id, NULL,
		          "page of '%s' over %u bytes or out of memory", c->req->path,
		          (unsigned)WEB_PAGE_MAX);
		store_res_body(c->res, 500, "text/plain; charset=utf-8",
		               "Something went wrong\n", 21);
		return;
	}
	csrf_cookie(c);
	security_headers(c);
	store_res_body(c->res, status, "text/html; charset=utf-8", b->data, b->len);
}

void
web_redirect(web_ctx *c, const char *location)
{
	csrf_cookie(c);
	store_res_header(c->res, "Location", location);
	store_res_body(c->res, 303, "text/plain; charset=utf-8", "See Other\n", 10);
}

void
web_error_page(web_ctx *c, int status, const char *title, const char *message)
{
	web_buf_free(&c->html);
	web_buf_init(&c->html, WEB_PAGE_MAX);
	c->refresh = NULL;
	c->stripe = 0;
	web_page_start(c, title);
	web_out(&c->html, "<section class=\"card narrow\"><h1>%s</h1><p>%s</p>"
	        "<p><a class=\"button\" href=\"/\">Back to the store</a></p></section>\n",
	        title, message);
	web_page_finish(c, status);
}

bool
web_signed_in(web_ctx *c)
{
	char next[600];

	if (c->req->user != NULL)
		return true;
	/* Back to this page after signing in: GET pages only (the path is a
	 * route of ours, and web_query_get decodes it again). */
	if (strcmp(c->req->method, "GET") == 0 && strlen(c->req->path) < 200) {
		web_buf b;
		web_buf_init(&b, 1024);
		web_raw(&b, "/signin?next=");
		for (const char *p = c->req->path; *p != '\0'; p++) {
			char hex[4];
			if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' ||
			    *p == '-' || *p == '_') {
				web_rawn(&b, p, 1);
			} else {
				snprintf(hex, sizeof hex, "%%%02X", (unsigned char)*p);
				web_raw(&b, hex);
			}
		}
		snprintf(next, sizeof next, "%s", b.failed || b.data == NULL ? "/signin" : b.data);
		web_buf_free(&b);
		web_redirect(c, next);
	} else {
		web_redirect(c, "/signin");
	}
	return false;
}

/* Messages after a redirect, by code: never text from the URL. */
static const struct { const char *code, *text; } notices[] = {
	{ "paid", "Thank you! Your payment went through." },
	{ "welcome", "Welcome! Your account is ready." },
	{ "deleted", "Deleted." },
	{ "saved", "Saved." },
};

void
web_notice(web_ctx *c)
{
	char code[32];

	if (!web_query_get(c->req->query, "done", code, sizeof code))
		return;
	for (size_t i = 0; i < sizeof notices / sizeof *notices; i++)
		if (strcmp(code, notices[i].code) == 0)
			web_out(&c->html, "<p class=\"notice\" role=\"status\">%s</p>\n",
			        notices[i].text);
}

/* --- form widgets ------------------------------------------------------------------- */

static bool
has_error(const json_t *errors, const char *field)
{
	size_t i;
	json_t *e;

	json_array_foreach(errors, i, e) {
		const char *f = store_json_str(e, "field");
		if (f != NULL && strcmp(f, field) == 0)
			return true;
	}
	return false;
}

void
web_field_errors(web_ctx *c, const json_t *errors, const char *field)
{
	size_t i;
	json_t *e;
	int first = 1;

	json_array_foreach(errors, i, e) {
		const char *f = store_json_str(e, "field");
		if (f == NULL || strcmp(f, field) != 0)
			continue;
		if (first)
			web_out(&c->html, "<p class=\"error\" id=\"e-%s\">", field);
		else
			web_raw(&c->html, "<p class=\"error\">");
		web_out(&c->html, "%s</p>", store_json_str(e, "message"));
		first = 0;
	}
}

void
web_input(web_ctx *c, const char *name, const char *label, const char *type,
          const json_t *values, const json_t *errors, const char *extra)
{
	int bad = has_error(errors, name);
	const char *value = strcmp(type, "password") == 0 || strcmp(type, "file") == 0
	                    ? NULL : store_json_str(values, name);

	web_out(&c->html, "<div class=\"field%s\"><label for=\"f-%s\">%s</label>"
	        "<input id=\"f-%s\" name=\"%s\" type=\"%s\"", bad ? " invalid" : "",
	        name, label, name, name, type);
	if (value != NULL)
		web_out(&c->html, " value=\"%s\"", value);
	if (extra != NULL) {
		web_raw(&c->html, " ");
		web_raw(&c->html, extra);
	}
	if (bad)
		web_out(&c->html, " aria-invalid=\"true\" aria-describedby=\"e-%s\"", name);
	web_raw(&c->html, ">");
	web_field_errors(c, errors, name);
	web_raw(&c->html, "</div>\n");
}

void
web_textarea(web_ctx *c, const char *name, const char *label, const json_t *values,
             const json_t *errors, const char *extra)
{
	int bad = has_error(errors, name);

	web_out(&c->html, "<div class=\"field%s\"><label for=\"f-%s\">%s</label>"
	        "<textarea id=\"f-%s\" name=\"%s\" rows=\"4\"", bad ? " invalid" : "",
	        name, label, name, name);
	if (extra != NULL) {
		web_raw(&c->html, " ");
		web_raw(&c->html, extra);
	}
	if (bad)
		web_out(&c->html, " aria-invalid=\"true\" aria-describedby=\"e-%s\"", name);
	web_out(&c->html, ">%s</textarea>", store_json_str(values, name));
	web_field_errors(c, errors, name);
	web_raw(&c->html, "</div>\n");
}

void
web_errors_other(web_ctx *c, const json_t *errors, const char *const *shown)
{
	size_t i;
	json_t *e;
	int open = 0;

	json_array_foreach(errors, i, e) {
		const char *f = store_json_str(e, "field");
		int is_shown = 0;
		for (size_t k = 0; f != NULL && shown != NULL && shown[k] != NULL; k++)
			if (strcmp(shown[k], f) == 0)
				is_shown = 1;
		if (is_shown)
			continue;
		if (!open)
			web_raw(&c->html, "<div class=\"alert\" role=\"alert\">");
		open = 1;
		web_out(&c->html, "<p>%s</p>", store_json_str(e, "message"));
	}
	if (open)
		web_raw(&c->html, "</div>\n");
}
