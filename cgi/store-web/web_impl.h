/* web_impl.h - private: what the web front's files (lib/web_*.c) share.
 *
 * Pages are built in a bounded growing buffer from static HTML fragments
 * and escaped inserts: web_out's %s always goes through web_esc, the one
 * escaping function; web_raw takes trusted markup only (string literals and
 * what the helpers here built). */
#ifndef STORE_WEB_IMPL_H
#define STORE_WEB_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "store/http.h"
#include "web.h"

#define WEB_PAGE_MAX (4u << 20)      /* largest page rendered */
#define WEB_API_MAX (8u << 20)       /* largest API answer read */
#define WEB_CSRF_HEX 32              /* csrf cookie: 16 random bytes, hex */
#define WEB_TOKEN_HEX 64             /* a form's token: HMAC-SHA256, hex */
#define WEB_COOKIES_MAX 4            /* Set-Cookie headers kept of an API answer */
#define WEB_CSRF_FIELD "_csrf"
#define WEB_OWNED_MAX 16             /* allocations one request owns */

struct store_web {
	char *api_url;             /* no trailing slash */
	char *stripe_pk;           /* NULL: the sandbox's test cards */
	char *key;                 /* JWT_KEY: signs the CSRF tokens */
	long timeout_ms;
	long connect_timeout_ms;
	int cookie_secure;
	char css_href[64];         /* /static/store.css?v=HASH */
	char js_href[64];          /* /static/pay.js?v=HASH */
	char hold_js_href[64];     /* /static/hold.js?v=HASH */
};

/* --- the buffer and the escaping ------------------------------------------ */

/* A growing buffer of at most max bytes. Past max (or out of memory) it
 * keeps what it had and sets failed; writing on is harmless. */
typedef struct web_buf {
	char *data;
	size_t len, cap, max;
	int failed;
} web_buf;

void web_buf_init(web_buf *b, size_t max);
void web_buf_free(web_buf *b);
void web_rawn(web_buf *b, const char *s, size_t n);
/* Trusted markup: string literals and fragments built by these helpers. */
void web_raw(web_buf *b, const char *html);
/* THE escaping function: text (NULL: nothing) with & < > " ' as entities,
 * safe in element content and in quoted attribute values. */
void web_esc(web_buf *b, const char *text);
/* printf-like, where every %s is escaped with web_esc. Knows %s, %d, %u,
 * %ld, %lu, %lld, %llu, %zu (with an optional 0 and width) and %%. */
void web_out(web_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "$12.50" for 1250 cents. */
void web_money(web_buf *b, long long cents);

/* --- small checks ------------------------------------------------------------ */

/* The string at key of o, or "" (never NULL). Borrowed. */
const char *web_val(const json_t *o, const char *key);
/* s is 24 lowercase hex characters (an id safe in a URL). */
bool web_id_ok(const char *s);
/* Money as the API writes it (a JSON number) in cents; -1 when not money. */
long long web_cents(const json_t *v);
/* A picture URL safe for <img src>: http(s)://... or a same-origin /api/... */
bool web_picture_ok(const char *url);
/* The first value of name in a query or urlencoded string, decoded, into
 * out; false when absent, malformed or longer than outlen - 1. */
bool web_query_get(const char *query, const char *name, char *out, size_t outlen);

/* --- one request -------------------------------------------------------------- */

/* An allocation the request owns, and how it is freed. */
typedef struct web_owned {
	void *p;
	void (*fn)(void *);
} web_owned;

typedef struct web_ctx {
	store_req *req;
	store_res *res;
	const store_web *web;
	char csrf[WEB_CSRF_HEX + 1];   /* the browser's csrf cookie, or a new one */
	int csrf_new;                   /* set the cookie with the answer */
	char token[WEB_TOKEN_HEX + 1];  /* this visitor's forms' token */
	web_buf html;
	const char *refresh;            /* meta refresh to this URL (trusted), or NULL */
	const char *head;               /* more <head> markup (trusted: built with
	                                   web_out), or NULL; the page's handler owns it */
	int stripe;                     /* load Stripe.js and pay.js */
	int holds;                      /* load hold.js (hold countdowns) */
	web_owned owned[WEB_OWNED_MAX]; /* what the request made: web_end frees it */
	size_t nowned;
} web_ctx;

/* Starts a request: reads or makes the csrf cookie, derives the token. */
void web_begin(web_ctx *c, store_req *req, store_res *res);
/* Frees what the request holds: its page and everything given to it with
 * web_own (the last given first). */
void web_end(web_ctx *c);
/* The request owns p from now on: web_end frees it with fn. Returns p;
 * NULL (p freed already, or p was NULL) when the request can own no more. */
void *web_own(web_ctx *c, void *p, void (*fn)(void *));
/* web_own for a JSON value (freed with json_decref). */
json_t *web_own_json(web_ctx *c, json_t *j);

/* The page: head, the header with the signed-in email, <main>. */
void web_page_start(web_ctx *c, const char *title);
/* Closes the page and answers it with status (500 page if it overflowed). */
void web_page_finish(web_ctx *c, int status);
/* 303 See Other to location (a path of this site, built by code). */
void web_redirect(web_ctx *c, const char *location);
/* A whole page saying message (escaped), with a way back. */
void web_error_page(web_ctx *c, int status, const char *title, const char *message);
/* Signed in: true. Else redirects to /signin?next=PATH and answers false. */
bool web_signed_in(web_ctx *c);
/* The notice of a "?done=" code after a redirect (known codes only). */
void web_notice(web_ctx *c);

/* --- CSRF ---------------------------------------------------------------------- */

/* The token for a csrf cookie value and a user id ("" signed out):
 * hex(HMAC-SHA256(key, "store-web csrf v1\n" cookie "\n" user)). */
void web_csrf_token(const char *key, const char *cookie, const char *user_id,
                    char out[WEB_TOKEN_HEX + 1]);
/* The value of cookie name in a Cookie header into out; false when absent
 * or longer than outlen - 1. */
bool web_cookie_get(const char *header, const char *name, char *out, size_t outlen);
/* The hidden input carrying the token. */
void web_csrf_input(web_ctx *c);

/* --- forms ------------------------------------------------------------------------ */

enum {
	WEB_F_PICTURE = 1 << 0   /* a file: png/jpeg/gif/webp by magic bytes,
	                            at most STORE_PICTURE_MAX; becomes a data: URL */
};

/* A declared form field: only these reach a handler. max: bytes of a text
 * value (a picture's bound is STORE_PICTURE_MAX). */
typedef struct web_field {
	const char *name;
	size_t max;
	unsigned flags;
} web_field;

/* Parses a urlencoded or multipart/form-data body against fields (the CSRF
 * field is always declared). *values gets a new object of the declared
 * fields present, as strings (a picture as its data: URL; an empty file
 * input is absent). *errors gets a new array of {message, field} for
 * values that break their bounds, or NULL. Caller frees both with
 * json_decref. STORE_EINVAL: the body is malformed (or of another type);
 * STORE_ENOMEM. */
store_err web_form_parse(const char *content_type, const char *body, size_t len,
                         const web_field *fields, size_t n, json_t **values,
                         json_t **errors);

/* Reads a POST's form and checks its CSRF token. true: go on with *values
 * and *errors (as web_form_parse; the request owns both). false: answered
 * already (400 malformed, 403 bad token, 500). */
bool web_form(web_ctx *c, const web_field *fields, size_t n, json_t **values,
              json_t **errors);

/* Form widgets. values and errors may be NULL; extra is trusted markup
 * (attributes) or NULL. A password input never shows its value. */
void web_input(web_ctx *c, const char *name, const char *label, const char *type,
               const json_t *values, const json_t *errors, const char *extra);
void web_textarea(web_ctx *c, const char *name, const char *label,
                  const json_t *values, const json_t *errors, const char *extra);
/* The messages of errors whose field is none of shown (NULL-terminated). */
void web_errors_other(web_ctx *c, const json_t *errors, const char *const *shown);
/* The messages of field in errors, as <p class="error">. */
void web_field_errors(web_ctx *c, const json_t *errors, const char *field);

/* --- the API client ------------------------------------------------------------- */

typedef struct web_api_res {
	long status;                        /* the HTTP status */
	json_t *json;                       /* the body, NULL when none or not JSON */
	char *cookies[WEB_COOKIES_MAX];     /* its session Set-Cookie values */
	size_t ncookies;
} web_api_res;

/* One call to the API through the front server: STORE_API_URL + path,
 * with the visitor's session cookie and request id, body (borrowed, may be
 * NULL) as JSON. STORE_OK for any HTTP answer (see out->status);
 * STORE_EUNAVAIL when none came (refused, timed out, too big). Free out
 * with web_api_res_free in any case. */
store_err web_api(web_ctx *c, const char *method, const char *path, const json_t *body,
                  web_api_res *out);
void web_api_res_free(web_api_res *r);
/* The answer's errors array (borrowed), or NULL. */
json_t *web_api_errors(const web_api_res *r);
/* Passes the answer's session cookie on to the browser. */
void web_api_pass_cookies(web_ctx *c, const web_api_res *r);
/* Answers an API result the page did not expect: no answer 502, 401
 * redirect to sign in, 403, 404, 409, other 4xx with the API's message,
 * 5xx 502. */
void web_api_failed(web_ctx *c, store_err e, const web_api_res *r);

/* --- the form skeleton (web_form_run.c) ---------------------------------------- */

/* One posted form on its way through web_form_run. */
typedef struct web_post {
	const char *id;          /* the route's :id, or NULL on a route without one */
	json_t *values;          /* the declared fields posted (the request owns them) */
	store_err err;           /* the save call's result (web_api's) */
	web_api_res api;         /* its answer (web_form_run frees it) */
	char location[256];      /* where a success goes: saved writes it */
} web_post;

/* A form handler, declared: its fields, who may post it, the save, where a
 * success goes and how the form is shown again. */
typedef struct web_form_def {
	const web_field *fields;
	size_t nfields;
	bool signed_in;          /* signed-out visitors are sent to sign in */
	const char *no_such;     /* the route's :id is not an id: 404 saying this */
	/* The save: one API call with p->values into p->api and p->err (a body
	 * it makes goes to the request with web_own_json). 0: made; -1: it
	 * answered itself (a page saying why). */
	int (*save)(web_ctx *c, web_post *p);
	/* After a 2xx answer: writes p->location, a path of this site (and may
	 * pass the answer's cookies on). */
	void (*saved)(web_ctx *c, web_post *p);
	/* The form again with p->values and errors (the form's own, or the
	 * API's 400 messages), answered with status. NULL: the form's errors
	 * get a 400 page, the API's as web_api_failed. */
	void (*render)(web_ctx *c, web_post *p, const json_t *errors, int status);
} web_form_def;

/* A POST form from start to answer: sign-in check, read (with the CSRF
 * check), then web_form_answer. */
void web_form_run(web_ctx *c, const web_form_def *def);
/* After reading: the :id check, the form's errors (render, 400), the save,
 * then a 303 to p->location on 2xx, render with the API's messages on a 400
 * that has them, or web_api_failed. p->values and errors are borrowed. */
void web_form_answer(web_ctx *c, const web_form_def *def, web_post *p, const json_t *errors);

/* --- shared by the pages ---------------------------------------------------------- */

/* The categories list (GET /api/categories); true, or false after
 * answering. The request owns *out (web_own). */
bool web_get_categories(web_ctx *c, json_t **out);
/* The page of category id (its products) with an error message (copied
 * into the page; NULL: none), answered with status. */
void web_category_page(web_ctx *c, const char *id, const char *error, int status);
/* The element of id in a list of objects (borrowed), or NULL. */
json_t *web_find_by_id(json_t *list, const char *id);

/* A listing's page and order as the browser asked (?page=N&sort=...):
 * page from 1; sort "" (the listing's default), "price", "-price" or
 * "newest" (anything else reads as ""). */
typedef struct web_listing {
	int page;
	char sort[16];
} web_listing;

void web_listing_read(const web_ctx *c, web_listing *l);
/* Appends "page=N&limit=M[&sort=S]" for an API call; dflt (or NULL: the
 * API's own order) stands for the sort "". */
void web_listing_query(web_buf *b, const web_listing *l, const char *dflt);
/* The sort links of a listing at base (a path of ours, maybe with "?q=");
 * first: the label of the default order, dflt: the sort it stands for
 * (not offered twice), as for web_listing_query. */
void web_listing_sorts(web_ctx *c, const char *base, const web_listing *l, const char *first,
                       const char *dflt);
/* Previous / "Page N of M" / next links, when there is more than a page. */
void web_listing_pager(web_ctx *c, const char *base, const web_listing *l, long long total);
/* A product's card (<li>) linking to its page; cid: its category id
 * (NULL: the product's own "category"). */
void web_product_card(web_ctx *c, const json_t *p, const char *cid);

/* The stylesheet and the Stripe script, and their versions (for the hrefs). */
extern const char web_css[];
extern const char web_pay_js[];
extern const char web_hold_js[];

#endif
