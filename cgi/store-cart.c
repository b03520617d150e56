/* store-cart - the cart service: the buyer's cart, built from events.
 *
 * FastCGI program behind the front server at /api/cart. Owns the cart
 * database (carts and the product replica kept by cartd); keeps answering
 * while the products service is down. */
#include <stdio.h>
#include <string.h>

#include "store/bus.h"
#include "store/cart.h"
#include "store/config.h"
#include "store/http.h"
#include "store/json.h"
#include "store/log.h"
#include "store/service.h"

#define BODY_LIMIT 16384

static const char usage[] =
	"usage: store-cart [--help]\n"
	"\n"
	"The cart service of Store, a FastCGI program: GET /api/cart,\n"
	"POST /api/cart/itemAddRemove, POST /api/cart/itemRemove, and\n"
	"GET /healthz, /readyz. Carts change through cartd's events and these\n"
	"routes; every change is announced as store.cart.changed.\n"
	"\n"
	"environment:\n"
	"  STORE_DB              cart database: sqlite:PATH or mongodb://... (required)\n"
	"  STORE_MODULE_DIR      folder of db_mongo.so, loaded for a mongodb:// url\n"
	"                        (lib/store beside the program's folder)\n"
	"  STORE_LISTEN          unix socket path or host:port (required)\n"
	"  JWT_KEY               session signing key, at least 32 characters (required)\n"
	"  NATS_URL              NATS server with JetStream (nats://127.0.0.1:4222)\n"
	"  STORE_THREADS (one per CPU, 2 to 16), STORE_BODY_LIMIT (16384),\n"
	"  STORE_ORIGIN, STORE_COOKIE_SECURE,\n"
	"  STORE_SESSION_SECONDS, STORE_LOG_LEVEL, STORE_STREAM_MAX_AGE, STORE_ACK_WAIT_MS,\n"
	"  STORE_MAX_DELIVER, STORE_NAK_DELAY_MS: see store(7)\n"
	"  STORE_METRICS_LISTEN  host:port serving GET /metrics, Prometheus text\n"
	"                        (unset: off; docs/METRICS.md)\n"
	"\n"
	"Stops cleanly on SIGTERM or SIGINT. Exit status: 0 stopped, 64 usage,\n"
	"69 database unavailable, 78 configuration error.\n";

static const store_field add_remove_fields[] = {
	{ "id", STORE_V_OBJECTID, STORE_F_REQUIRED, 0, 0, "Invalid Product Id",
	  "Product is required" },
	{ "add", STORE_V_INT, STORE_F_REQUIRED | STORE_F_NONZERO, -1, 1, "Add must be 1 or -1" },
};

static const store_field remove_fields[] = {
	{ "id", STORE_V_OBJECTID, STORE_F_REQUIRED, 0, 0, "Invalid Product Id",
	  "Product is required" },
};

static void
cart_get(store_req *req, store_res *res)
{
	store_app *a = req->app;
	json_t *out = NULL;
	store_err e = store_cart_get(a->db, req->user->id, &out);

	if (e != STORE_OK) {
		store_res_from_err(res, req, e);
		return;
	}
	store_res_json(res, 200, out);
}

static void
item_add_remove(store_req *req, store_res *res)
{
	store_app *a = req->app;
	json_t *out = NULL;
	store_err e = store_cart_add_remove(a->db, req->user->id,
	                                    store_json_str(req->input, "id"),
	                                    (int)store_json_int(req->input, "add", 0),
	                                    req->request_id, &out);

	if (e != STORE_OK) {
		store_res_from_err(res, req, e);
		return;
	}
	store_res_json(res, out != NULL ? 200 : 204, out);
}

static void
item_remove(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_err e = store_cart_remove(a->db, req->user->id, store_json_str(req->input, "id"),
	                                req->request_id);

	if (e != STORE_OK) {
		store_res_from_err(res, req, e);
		return;
	}
	store_res_json(res, 204, NULL);
}

static const store_route routes[] = {
	{ "GET", "/api/cart", cart_get, STORE_ROUTE_AUTH },
	{ "POST", "/api/cart/itemAddRemove", item_add_remove, STORE_ROUTE_AUTH,
	  add_remove_fields, 2 },
	{ "POST", "/api/cart/itemRemove", item_remove, STORE_ROUTE_AUTH, remove_fields, 1 },
};

int
main(int argc, char **argv)
{
	const store_service_def def = {
		"cart", routes, sizeof routes / sizeof *routes,
		store_cart_collections, store_cart_ncollections, BODY_LIMIT, 1,
	};

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	return store_service_run(&def);
}
