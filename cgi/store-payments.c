/* store-payments - the payments service: pay for the cart, list payments.
 *
 * FastCGI program behind the front server at /api/payments. Owns the
 * payments database (payments, the cart replica kept by paymentsd, the
 * idempotency attempts, the sandbox's charges). The total is computed from
 * the replica, never taken from the client. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/bus.h"
#include "store/config.h"
#include "store/http.h"
#include "store/json.h"
#include "store/log.h"
#include "store/pay.h"
#include "store/payments.h"
#include "store/service.h"

#define BODY_LIMIT 16384
/* Workers by default: a charge waits on the card provider (the sandbox's
 * own delay or Stripe's round trip), not on this machine's processors. */
#define PAYMENTS_THREADS 4
#define KEY_MAX 255

static const char usage[] =
	"usage: store-payments [--help]\n"
	"\n"
	"The payments service of Store, a FastCGI program: POST /api/payments\n"
	"{token, total?} with an optional Idempotency-Key header, GET /api/payments,\n"
	"and GET /healthz, /readyz. Charges go to Stripe (STORE_PAYMENTS=stripe) or\n"
	"to the built-in sandbox, which takes Stripe's test tokens and cards.\n"
	"\n"
	"environment:\n"
	"  STORE_DB              payments database: sqlite:PATH or mongodb://... (required)\n"
	"  STORE_MODULE_DIR      folder of db_mongo.so, loaded for a mongodb:// url\n"
	"                        (lib/store beside the program's folder)\n"
	"  STORE_LISTEN          unix socket path or host:port (required)\n"
	"  JWT_KEY               session signing key, at least 32 characters (required)\n"
	"  NATS_URL              NATS server with JetStream (nats://127.0.0.1:4222)\n"
	"  STORE_PAYMENTS        stripe or sandbox (stripe when STRIPE_KEY is set)\n"
	"  STRIPE_KEY            Stripe secret key\n"
	"  STRIPE_API_BASE       Stripe API base URL (https://api.stripe.com)\n"
	"  STORE_CURRENCY        currency of charges (usd)\n"
	"  STRIPE_CONNECT_TIMEOUT_MS, STRIPE_TIMEOUT_MS   (5000, 30000)\n"
	"  STORE_HOLD_MARGIN_SECONDS  a unit is paid for only while its hold lasts\n"
	"                        this much longer (60; above the Stripe timeouts)\n"
	"  STORE_THREADS (4), STORE_BODY_LIMIT (16384),\n"
	"  STORE_ORIGIN, STORE_COOKIE_SECURE,\n"
	"  STORE_SESSION_SECONDS, STORE_LOG_LEVEL, STORE_STREAM_MAX_AGE, STORE_ACK_WAIT_MS,\n"
	"  STORE_MAX_DELIVER, STORE_NAK_DELAY_MS: see store(7)\n"
	"  STORE_METRICS_LISTEN  host:port serving GET /metrics, Prometheus text\n"
	"                        (unset: off; docs/METRICS.md)\n"
	"\n"
	"Stops cleanly on SIGTERM or SIGINT. Exit status: 0 stopped, 64 usage,\n"
	"69 database unavailable, 78 configuration error.\n";

/* STORE_HOLD_MARGIN_SECONDS, read once before serving. */
static long hold_margin_seconds;

static const store_setting settings[] = {
	{ "STORE_HOLD_MARGIN_SECONDS", STORE_SETTING_INT, "60", 0, 86400, NULL,
	  &hold_margin_seconds },
};

static const store_field pay_fields[] = {
	{ "token", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 1, 255,
	  "Token is required" },
	{ "total", STORE_V_MONEY, 0, 0, 0, "Total must be a positive amount with at most two decimals",
	  NULL, "Total must have at most two decimals" },
};

/* The Idempotency-Key header: absent, or 1-255 printable ASCII characters. */
static bool
key_ok(const char *key)
{
	size_t n = key != NULL ? strlen(key) : 0;

	if (key == NULL)
		return true;
	if (n == 0 || n > KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)key[i]))
			return false;
	return true;
}

static void
pay(store_req *req, store_res *res)
{
	store_app *a = req->app;
	const char *key = store_req_param(req, "HTTP_IDEMPOTENCY_KEY");
	json_t *total = json_object_get(req->input, "total"), *out = NULL;
	store_payment_req preq = {
		req->user, store_json_str(req->input, "token"), total != NULL,
		json_integer_value(total), key, req->request_id, hold_margin_seconds * 1000LL,
	};
	store_refusal why = { 0 };
	store_err e;

	if (!key_ok(key)) {
		store_res_error(res, 400, "Idempotency-Key must be 1 to 255 printable characters",
		                NULL);
		return;
	}
	e = store_payments_create(a->db, a->ctx, &preq, &out, &why);
	switch (e) {
	case STORE_OK:
		store_res_json(res, 201, out);
		return;
	case STORE_EINVAL:
		store_res_error(res, 400, why.message, why.field);
		return;
	case STORE_EDECLINED:
		store_res_error(res, 402, why.message, why.field);
		return;
	case STORE_ECONFLICT:
		store_res_error(res, 409, why.message != NULL ? why.message
		                : "A payment with this Idempotency-Key is in progress", NULL);
		return;
	case STORE_EUNAVAIL:
		store_res_error(res, 503, "The payment provider is unavailable; nothing was charged, "
		                "try again", NULL);
		return;
	default:
		store_res_from_err(res, req, e);
		return;
	}
}

static void
list(store_req *req, store_res *res)
{
	store_app *a = req->app;
	json_t *out = NULL;
	store_err e = store_payments_list(a->db, req->user->id, &out);

	if (e != STORE_OK) {
		store_res_from_err(res, req, e);
		return;
	}
	store_res_json(res, 200, out);
}

static const store_route routes[] = {
	{ "POST", "/api/payments", pay, STORE_ROUTE_AUTH, pay_fields, 2 },
	{ "GET", "/api/payments", list, STORE_ROUTE_AUTH },
};

/* Opens the card provider; the sandbox records in this service's database. */
static store_err
start(store_app *app, char *err, size_t errlen)
{
	store_pay_config cfg;
	store_pay *pay = NULL;
	store_err e;

	if ((e = store_pay_config_load(&cfg, err, errlen)) != STORE_OK ||
	    (e = store_pay_open(&cfg, app->db, &pay, err, errlen)) != STORE_OK)
		return e;
	store_info("card provider: %s", store_pay_name(pay));
	app->ctx = pay;
	return STORE_OK;
}

static void
stop(store_app *app)
{
	store_pay_free(app->ctx);
}

int
main(int argc, char **argv)
{
	const store_service_def def = {
		"payments", routes, sizeof routes / sizeof *routes,
		store_payments_collections, store_payments_ncollections, BODY_LIMIT, 1,
		settings, sizeof settings / sizeof *settings, start, stop, NULL, 0,
		PAYMENTS_THREADS,
	};

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	return store_service_run(&def);
}
