/* web.h - the web front: server-rendered HTML pages for browsers.
 *
 * store-web (cgi/) renders the original Next.js client's screens on the
 * server and calls the JSON API (API.md) through the front server with the
 * visitor's session cookie, as any other client does. It owns no data.
 *
 * The program declares its route table with the page handlers below and
 * serves them with store_http_serve, whose app pointer is a store_web.
 * Every page handler:
 *   - HTML-escapes everything that comes from data (one function does it);
 *   - on POST, verifies the form's CSRF token (403 page when wrong), on top
 *     of the library's Origin check;
 *   - for pages of signed-in visitors, redirects signed-out ones (303) to
 *     /signin?next=PATH;
 *   - answers a form post with a redirect on success (post/redirect/get), or
 *     renders the form again with the values and the API's messages next to
 *     the fields: a form handler is a web_form_def (its fields, the save
 *     call, where a success goes, how the form is shown again) run by
 *     web_form_run (web_impl.h);
 *   - gives what it allocates to its request (web_own), which frees it all
 *     once at the end of the request.
 * Form routes are STORE_ROUTE_RAW: the bodies are
 * application/x-www-form-urlencoded or multipart/form-data, which the
 * handlers parse against their declared fields. */
#ifndef STORE_WEB_H
#define STORE_WEB_H

#include <stddef.h>
#include "store/err.h"
#include "store/http.h"

/* A 2 MiB picture in a multipart body, and the text fields. */
#define STORE_WEB_BODY_LIMIT (3L * 1024 * 1024)

typedef struct store_web store_web;

/* Settings of the web front, from the environment:
 *   STORE_API_URL            the front server the API is reached through,
 *                            http(s)://host[:port] (required)
 *   STRIPE_PUBLISHABLE_KEY   pk_...: pay with Stripe's card element; unset:
 *                            the sandbox's test cards by name
 *   STORE_API_TIMEOUT_MS     one API call, in all (35000)
 *   STORE_API_CONNECT_TIMEOUT_MS  connecting to the front server (3000) */
typedef struct store_web_config {
	const char *api_url;
	const char *stripe_pk;   /* NULL when unset */
	long timeout_ms;
	long connect_timeout_ms;
} store_web_config;

/* Loads the settings above. On a missing or malformed one returns
 * STORE_ECONFIG with a message naming it. */
store_err store_web_config_load(store_web_config *cfg, char *err, size_t errlen);

/* Makes the web front's state (copies what it keeps of cfg and http; the
 * JWT key signs the CSRF tokens). Initialises libcurl: call before any
 * thread starts. Caller frees with store_web_free. */
store_err store_web_new(const store_web_config *cfg, const store_http_config *http,
                        store_web **out, char *err, size_t errlen);
void store_web_free(store_web *web);

/* Readiness for store_service.ready: the API answers through the front
 * server. app is the store_web. */
store_err store_web_ready(void *app, char *err, size_t errlen);

/* Pages. Each is a store_handler for a route whose app is a store_web. */
void store_web_home(store_req *req, store_res *res);            /* GET / */
void store_web_static(store_req *req, store_res *res);          /* GET /static/:file */
void store_web_not_found(store_req *req, store_res *res);       /* any other GET */

void store_web_signup_form(store_req *req, store_res *res);     /* GET /signup */
void store_web_signup(store_req *req, store_res *res);          /* POST /signup */
void store_web_signin_form(store_req *req, store_res *res);     /* GET /signin */
void store_web_signin(store_req *req, store_res *res);          /* POST /signin */
void store_web_signout(store_req *req, store_res *res);         /* POST /signout */

void store_web_category(store_req *req, store_res *res);        /* GET /categories/:id */
void store_web_category_new(store_req *req, store_res *res);    /* GET /categories/new */
void store_web_category_create(store_req *req, store_res *res); /* POST /categories */
void store_web_category_edit(store_req *req, store_res *res);   /* GET /categories/:id/edit */
void store_web_category_update(store_req *req, store_res *res); /* POST /categories/:id */
void store_web_category_delete(store_req *req, store_res *res); /* POST /categories/:id/delete */

void store_web_product_new(store_req *req, store_res *res);     /* GET /products/new */
void store_web_product(store_req *req, store_res *res);         /* GET /products/:id */
void store_web_search(store_req *req, store_res *res);          /* GET /search?q= */
void store_web_product_create(store_req *req, store_res *res);  /* POST /products */
void store_web_product_edit(store_req *req, store_res *res);    /* GET /products/:id/edit */
void store_web_product_update(store_req *req, store_res *res);  /* POST /products/:id */
void store_web_product_delete(store_req *req, store_res *res);  /* POST /products/:id/delete */

void store_web_cart(store_req *req, store_res *res);            /* GET /cart */
void store_web_cart_add(store_req *req, store_res *res);        /* POST /cart/add */
void store_web_cart_inc(store_req *req, store_res *res);        /* POST /cart/:id/inc */
void store_web_cart_dec(store_req *req, store_res *res);        /* POST /cart/:id/dec */
void store_web_cart_remove(store_req *req, store_res *res);     /* POST /cart/:id/remove */
void store_web_pay(store_req *req, store_res *res);             /* POST /pay */
void store_web_orders(store_req *req, store_res *res);          /* GET /orders */

#endif
