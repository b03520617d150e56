/* store-products - the products service: categories, products, addToCart.
 *
 * FastCGI program behind the front server at /api/categories and
 * /api/products. Owns the catalog database; announces its changes through
 * the outbox (lib/bus), which productsd and this program both relay. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/bus.h"
#include "store/catalog.h"
#include "store/config.h"
#include "store/http.h"
#include "store/json.h"
#include "store/log.h"
#include "store/query.h"
#include "store/service.h"

#define BODY_LIMIT (3700L * 1024)   /* a 2 MiB picture as a data URL, and text */

static const char usage[] =
	"usage: store-products [--help]\n"
	"\n"
	"The products service of Store, a FastCGI program: the categories and\n"
	"products routes of API.md (/api/categories, /api/products), addToCart\n"
	"with timed holds on stock, uploaded pictures at\n"
	"/api/products/picture/:id, search (/api/products/search?q=), one product\n"
	"(/api/products/item/:id), pages and sorting of the listings (?page=N&limit=M\n"
	"&sort=price|-price|newest), and GET /healthz, /readyz.\n"
	"\n"
	"environment:\n"
	"  STORE_DB              catalog database: sqlite:PATH or mongodb://... (required)\n"
	"  STORE_MODULE_DIR      folder of db_mongo.so, loaded for a mongodb:// url\n"
	"                        (lib/store beside the program's folder)\n"
	"  STORE_LISTEN          unix socket path or host:port (required)\n"
	"  JWT_KEY               session signing key, at least 32 characters (required)\n"
	"  NATS_URL              NATS server with JetStream (nats://127.0.0.1:4222)\n"
	"  STORE_HOLD_SECONDS    how long addToCart holds a unit (900)\n"
	"  STORE_THREADS (one per CPU, 2 to 16), STORE_BODY_LIMIT (3788800),\n"
	"  STORE_ORIGIN, STORE_COOKIE_SECURE,\n"
	"  STORE_SESSION_SECONDS, STORE_LOG_LEVEL, STORE_STREAM_MAX_AGE, STORE_ACK_WAIT_MS,\n"
	"  STORE_MAX_DELIVER, STORE_NAK_DELAY_MS: see store(7)\n"
	"  STORE_METRICS_LISTEN  host:port serving GET /metrics, Prometheus text\n"
	"                        (unset: off; docs/METRICS.md)\n"
	"\n"
	"Stops cleanly on SIGTERM or SIGINT. Exit status: 0 stopped, 64 usage,\n"
	"69 database unavailable, 78 configuration error.\n";

/* STORE_HOLD_SECONDS, read once before serving. */
static long hold_seconds;

static const store_setting settings[] = {
	{ "STORE_HOLD_SECONDS", STORE_SETTING_INT, "900", 1, 7 * 86400, NULL, &hold_seconds },
};

#define NAME_FIELD(max) \
	{ "name", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 1, max, \
	  "Name is required" }
#define DESCRIPTION_FIELD(max) \
	{ "description", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 1, max, \
	  "Description is required" }

static const store_field category_fields[] = {
	NAME_FIELD(100),
	DESCRIPTION_FIELD(1000),
};

/* In the original store's order of messages: Category, Name, Description,
 * Price, Count, Picture. Its client sends price and count as strings
 * ("19.99", "5") and, on edit, the picture URL it was given. */
#define PRODUCT_FIELDS(picture_flags) {                                         \
	{ "categoryId", STORE_V_OBJECTID, STORE_F_REQUIRED | STORE_F_TRIM, 0, 0,    \
	  "Invalid Category Id", "Category is required" },                          \
	NAME_FIELD(200),                                                            \
	DESCRIPTION_FIELD(5000),                                                    \
	{ "price", STORE_V_MONEY, STORE_F_REQUIRED | STORE_F_NUMSTR, 0, 0,          \
	  "Price must be greater than 0", NULL,                                     \
	  "Price must have at most two decimals" },                                 \
	{ "count", STORE_V_POSINT, STORE_F_REQUIRED | STORE_F_NUMSTR, 0, 1000000,   \
	  "Count must be greater than 0" },                                         \
	{ "picture", STORE_V_PICTURE, (picture_flags) | STORE_F_TRIM, 0, 0,         \
	  "Picture must be an http(s) URL or a png, jpeg, gif or webp image of at most 2 MiB", \
	  "Picture is required" },                                                  \
}

static const store_field product_create_fields[] = PRODUCT_FIELDS(STORE_F_REQUIRED);
static const store_field product_update_fields[] = PRODUCT_FIELDS(0);

/* Query parameters of the listings and the search (API.md). */
#define PAGE_LIMIT_DEFAULT 20
#define PAGE_PARAMS                                                             \
	{ "page", STORE_Q_INT, 0, 1, 10000, NULL,                                   \
	  "Page must be a whole number from 1 to 10000" },                          \
	{ "limit", STORE_Q_INT, 0, 1, 100, NULL,                                    \
	  "Limit must be a whole number from 1 to 100" },                           \
	{ "sort", STORE_Q_WORD, 0, 0, 0, store_listing_sorts,                       \
	  "Sort must be price, -price or newest" }

static const store_qparam list_params[] = { PAGE_PARAMS };
static const store_qparam search_params[] = {
	{ "q", STORE_Q_TEXT, 1, 1, 200, NULL,
	  "Search text must be at most 200 characters, without control characters",
	  "Search text is required" },
	PAGE_PARAMS,
};

static const store_field select_fields[] = {
	{ "id", STORE_V_OBJECTID, STORE_F_REQUIRED, 0, 0, "Invalid Product Id",
	  "Product is required" },
	{ "categoryId", STORE_V_OBJECTID, STORE_F_REQUIRED, 0, 0, "Invalid Category Id",
	  "Category is required" },
};

/* Answers a domain result: the value with status, a refusal as 400, any
 * other error by its kind. */
static void
answer(store_req *req, store_res *res, store_err e, int status, json_t *value,
       const store_refusal *why)
{
	if (e == STORE_OK) {
		store_res_json(res, status, value);
		return;
	}
	json_decref(value);
	if (e == STORE_EINVAL && why->message != NULL)
		store_res_error(res, 400, why->message, why->field);
	else
		store_res_from_err(res, req, e);
}

#define ACTOR(req) { (req)->user, (req)->request_id }

/* Reads a listing's query parameters into *l (limit 0 unless page or
 * limit is given, then PAGE_LIMIT_DEFAULT when absent). Answers 400 with
 * every failing parameter and returns 0 when some fail. l->sort points
 * into *in; caller frees *in with json_decref. */
static int
listing_of(store_req *req, store_res *res, const store_qparam *params, size_t n,
           int paged, store_listing *l, json_t **in)
{
	json_t *errors = NULL;
	store_err e = store_query_parse(req->query, params, n, in, &errors);

	if (e != STORE_OK) {
		if (e == STORE_EINVAL)
			store_res_json(res, 400, json_pack("{s:o}", "errors", errors));
		else
			store_res_from_err(res, req, e);
		return 0;
	}
	paged = paged || json_object_get(*in, "page") != NULL ||
	        json_object_get(*in, "limit") != NULL;
	l->page = paged ? (size_t)store_json_int(*in, "page", 1) : 0;
	l->limit = paged ? (size_t)store_json_int(*in, "limit", PAGE_LIMIT_DEFAULT) : 0;
	l->sort = store_json_str(*in, "sort");
	return 1;
}

/* A page's answer: {key: items, total, page, limit}, or the bare array of
 * items when l is unpaged (the original's answer). items is stolen. */
static void
answer_page(store_req *req, store_res *res, store_err e, const char *key,
            json_t *items, size_t total, const store_listing *l)
{
	if (e == STORE_OK && l->limit > 0)
		items = json_pack("{s:o,s:I,s:I,s:I}", key, items, "total", (json_int_t)total,
		                  "page", (json_int_t)l->page, "limit", (json_int_t)l->limit);
	answer(req, res, e == STORE_OK && items == NULL ? STORE_ENOMEM : e, 200, items, NULL);
}

/* Answers JSON text (a listing's, from the catalog) with 200, or the
 * error. text is stolen (the answer's body) or freed. */
static void
answer_text(store_req *req, store_res *res, store_err e, char *text, size_t len)
{
	if (e == STORE_OK) {
		store_res_body_take(res, 200, "application/json; charset=utf-8", text, len);
		return;
	}
	store_res_from_err(res, req, e);
	free(text);
}

/* answer_page's answer from the items' JSON text: the same bytes. items
 * is freed. */
static void
answer_page_text(store_req *req, store_res *res, store_err e, const char *key,
                 char *items, size_t len, size_t total, const store_listing *l)
{
	char head[32], tail[96], *page = NULL;
	int hn, tn;

	if (e != STORE_OK || l->limit == 0) {
		answer_text(req, res, e, items, len);
		return;
	}
	hn = snprintf(head, sizeof head, "{\"%s\":", key);
	tn = snprintf(tail, sizeof tail, ",\"total\":%zu,\"page\":%zu,\"limit\":%zu}",
	              total, l->page, l->limit);
	if (hn > 0 && (size_t)hn < sizeof head && tn > 0 && (size_t)tn < sizeof tail)
		page = malloc((size_t)hn + len + (size_t)tn + 1);
	if (page == NULL) {
		answer_text(req, res, STORE_ENOMEM, items, len);
		return;
	}
	memcpy(page, head, (size_t)hn);
	memcpy(page + hn, items, len);
	memcpy(page + hn + len, tail, (size_t)tn + 1);
	answer_text(req, res, STORE_OK, page, (size_t)hn + len + (size_t)tn);
	free(items);
}

static void
categories_page(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_listing l;
	json_t *in = NULL;
	char *out = NULL;
	size_t len = 0, total = 0;
	store_err e;

	/* page and limit; categories come by name, so no sort */
	if (listing_of(req, res, list_params, 2, 0, &l, &in)) {
		e = store_categories_page_text(a->db, &l, &out, &len, &total);
		answer_page_text(req, res, e, "categories", out, len, total, &l);
	}
	json_decref(in);
}

static void
categories_list(store_req *req, store_res *res)
{
	store_app *a = req->app;
	char *out = NULL;
	size_t len = 0;
	store_err e;

	if (req->query[0] != '\0') {
		categories_page(req, res);
		return;
	}
	e = store_categories_list_text(a->db, &out, &len);
	answer_text(req, res, e, out, len);
}

static void
category_create(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_actor who = ACTOR(req);
	store_refusal why = { 0 };
	json_t *out = NULL;
	store_err e = store_category_create(a->db, &who, req->input, &out, &why);

	answer(req, res, e, 201, out, &why);
}

static void
category_update(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_actor who = ACTOR(req);
	store_refusal why = { 0 };
	json_t *out = NULL;
	store_err e = store_category_update(a->db, &who, req->params[0], req->input, &out, &why);

	answer(req, res, e, 200, out, &why);
}

static void
category_delete(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_actor who = ACTOR(req);
	store_refusal why = { 0 };
	store_err e = store_category_delete(a->db, &who, req->params[0], &why);

	answer(req, res, e, 204, NULL, &why);
}

/* With query parameters: sorted, and with page or limit a page with the
 * total. Without: the original's answer, as it always was. */
static void
products_page(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_listing l;
	json_t *in = NULL;
	char *out = NULL;
	size_t len = 0, total = 0;
	store_err e;

	if (listing_of(req, res, list_params, sizeof list_params / sizeof *list_params,
	               0, &l, &in)) {
		e = store_products_page_text(a->db, req->params[0], &l, &out, &len, &total);
		answer_page_text(req, res, e, "products", out, len, total, &l);
	}
	json_decref(in);
}

static void
products_search(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_listing l;
	json_t *in = NULL, *out = NULL;
	size_t total = 0;
	store_err e;

	if (listing_of(req, res, search_params,
	               sizeof search_params / sizeof *search_params, 1, &l, &in)) {
		e = store_products_search(a->db, store_json_str(in, "q"), &l, &out, &total);
		answer_page(req, res, e, "products", out, total, &l);
	}
	json_decref(in);
}

static void
product_one(store_req *req, store_res *res)
{
	store_app *a = req->app;
	json_t *out = NULL;
	store_err e = store_product_get(a->db, req->params[0], &out);

	answer(req, res, e, 200, out, NULL);
}

static void
products_of_category(store_req *req, store_res *res)
{
	store_app *a = req->app;
	char *out = NULL;
	size_t len = 0;
	store_err e;

	if (req->query[0] != '\0') {
		products_page(req, res);
		return;
	}
	e = store_products_list_text(a->db, req->params[0], NULL, &out, &len);
	answer_text(req, res, e, out, len);
}

static void
products_of_user(store_req *req, store_res *res)
{
	store_app *a = req->app;
	char *out = NULL;
	size_t len = 0;
	store_err e = store_products_list_text(a->db, req->params[0], req->user->id,
	                                       &out, &len);

	answer_text(req, res, e, out, len);
}

static void
product_create(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_actor who = ACTOR(req);
	store_refusal why = { 0 };
	json_t *out = NULL;
	store_err e = store_product_create(a->db, &who, req->input, &out, &why);

	answer(req, res, e, 201, out, &why);
}

static void
product_update(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_actor who = ACTOR(req);
	store_refusal why = { 0 };
	json_t *out = NULL;
	store_err e = store_product_update(a->db, &who, req->params[0], req->input, &out, &why);

	answer(req, res, e, 200, out, &why);
}

static void
product_delete(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_actor who = ACTOR(req);
	store_err e = store_product_delete(a->db, &who, req->params[0]);

	answer(req, res, e, 204, NULL, NULL);
}

static void
add_to_cart(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_actor who = ACTOR(req);
	store_refusal why = { 0 };
	json_t *out = NULL;
	store_err e = store_product_select(a->db, &who, store_json_str(req->input, "id"),
	                                   store_json_str(req->input, "categoryId"),
	                                   hold_seconds, &out, &why);

	answer(req, res, e, 200, out, &why);
}

static void
picture(store_req *req, store_res *res)
{
	store_app *a = req->app;
	char *type = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	store_err e = store_picture_get(a->db, req->params[0], &type, &data, &len);

	if (e != STORE_OK) {
		store_res_from_err(res, req, e);
		return;
	}
	/* A picture never changes: a new upload gets a new id. */
	store_res_header(res, "Cache-Control", "public, max-age=31536000, immutable");
	store_res_body_take(res, 200, type, (char *)data, len);
	free(type);
}

static const store_route routes[] = {
	{ "GET", "/api/categories", categories_list, STORE_ROUTE_PUBLIC },
	{ "POST", "/api/categories", category_create, STORE_ROUTE_AUTH, category_fields, 2 },
	{ "PUT", "/api/categories/:id", category_update, STORE_ROUTE_AUTH, category_fields, 2 },
	{ "DELETE", "/api/categories/:id", category_delete, STORE_ROUTE_AUTH },
	{ "GET", "/api/products/picture/:id", picture, STORE_ROUTE_PUBLIC },
	{ "GET", "/api/products/user/:catId", products_of_user, STORE_ROUTE_AUTH },
	{ "GET", "/api/products/item/:id", product_one, STORE_ROUTE_PUBLIC },
	{ "GET", "/api/products/search", products_search, STORE_ROUTE_PUBLIC },   /* before :catId */
	{ "POST", "/api/products/addToCart", add_to_cart, STORE_ROUTE_AUTH, select_fields, 2 },
	{ "GET", "/api/products/:catId", products_of_category, STORE_ROUTE_PUBLIC },
	{ "POST", "/api/products", product_create, STORE_ROUTE_AUTH, product_create_fields, 6 },
	{ "PUT", "/api/products/:id", product_update, STORE_ROUTE_AUTH, product_update_fields, 6 },
	{ "DELETE", "/api/products/:id", product_delete, STORE_ROUTE_AUTH },
};

int
main(int argc, char **argv)
{
	const store_service_def def = {
		"products", routes, sizeof routes / sizeof *routes,
		store_catalog_collections, store_catalog_ncollections, BODY_LIMIT, 1,
		settings, sizeof settings / sizeof *settings, NULL, NULL,
	};

	/* A listing's answer and the documents it is written from are tens
	 * of kB, freed after each request: keep up to 1 MiB free at the top of
	 * a thread's heap rather than hand it back to the kernel and fault it
	 * in again on the next request (glibc trims past 128 kB). */
	mallopt(M_TRIM_THRESHOLD, 1 << 20);
	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	return store_service_run(&def);
}
