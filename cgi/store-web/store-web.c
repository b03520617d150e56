/* store-web - the web front of Store: server-rendered HTML for browsers.
 *
 * FastCGI program behind the front server at "/" (everything not under
 * /api). Renders the original client's screens and calls the JSON API
 * through the front server (STORE_API_URL) with the visitor's cookie. Owns
 * no data. The pages are in lib/web_*.c (store/web.h). */
#include <stdio.h>
#include <string.h>

#include "store/http.h"
#include "store/log.h"
#include "store/process.h"
#include "web.h"

/* Workers by default: a page waits on the services it is drawn from. */
#define WEB_THREADS 4

static const char usage[] =
	"usage: store-web [--help]\n"
	"\n"
	"The web front of Store, a FastCGI program: HTML pages for browsers (home,\n"
	"sign up/in/out, categories, products and a page per product, search, cart,\n"
	"pay, orders) that call the\n"
	"JSON API through the front server, and GET /healthz, /readyz.\n"
	"\n"
	"environment:\n"
	"  STORE_API_URL         the front server, e.g. http://127.0.0.1:8080 (required)\n"
	"  STORE_LISTEN          unix socket path or host:port (required)\n"
	"  JWT_KEY               the services' session key, at least 32 characters;\n"
	"                        also signs the forms' CSRF tokens (required)\n"
	"  STRIPE_PUBLISHABLE_KEY  pk_...: pay with Stripe's card element (unset:\n"
	"                        the sandbox's test cards by name)\n"
	"  STORE_API_TIMEOUT_MS  one API call (35000)\n"
	"  STORE_API_CONNECT_TIMEOUT_MS  connecting to the front server (3000)\n"
	"  STORE_THREADS (4), STORE_BODY_LIMIT (3145728),\n"
	"  STORE_ORIGIN, STORE_COOKIE_SECURE,\n"
	"  STORE_SESSION_SECONDS, STORE_LOG_LEVEL: see store(7)\n"
	"  STORE_METRICS_LISTEN  host:port serving GET /metrics, Prometheus text\n"
	"                        (unset: off; docs/METRICS.md)\n"
	"\n"
	"Stops cleanly on SIGTERM or SIGINT. Exit status: 0 stopped, 64 usage,\n"
	"69 cannot listen, 78 configuration error.\n";

/* Every route is RAW: form bodies are not JSON. Pages for signed-in
 * visitors (marked "signed in") redirect others to /signin themselves: the
 * library's STORE_ROUTE_AUTH would answer a JSON 401. Every POST checks
 * its form's CSRF token. */
#define RAW STORE_ROUTE_RAW
static const store_route routes[] = {
	{ "GET", "/", store_web_home, RAW },
	{ "GET", "/static/:file", store_web_static, RAW },
	{ "GET", "/signup", store_web_signup_form, RAW },
	{ "POST", "/signup", store_web_signup, RAW },
	{ "GET", "/signin", store_web_signin_form, RAW },
	{ "POST", "/signin", store_web_signin, RAW },
	{ "POST", "/signout", store_web_signout, RAW },
	{ "GET", "/categories/new", store_web_category_new, RAW },            /* signed in */
	{ "POST", "/categories", store_web_category_create, RAW },            /* signed in */
	{ "GET", "/categories/:id", store_web_category, RAW },
	{ "GET", "/categories/:id/edit", store_web_category_edit, RAW },      /* signed in */
	{ "POST", "/categories/:id", store_web_category_update, RAW },        /* signed in */
	{ "POST", "/categories/:id/delete", store_web_category_delete, RAW }, /* signed in */
	{ "GET", "/products/new", store_web_product_new, RAW },               /* signed in */
	{ "GET", "/products/:id", store_web_product, RAW },                   /* after /new */
	{ "GET", "/search", store_web_search, RAW },
	{ "POST", "/products", store_web_product_create, RAW },               /* signed in */
	{ "GET", "/products/:id/edit", store_web_product_edit, RAW },         /* signed in */
	{ "POST", "/products/:id", store_web_product_update, RAW },           /* signed in */
	{ "POST", "/products/:id/delete", store_web_product_delete, RAW },    /* signed in */
	{ "GET", "/cart", store_web_cart, RAW },                              /* signed in */
	{ "POST", "/cart/add", store_web_cart_add, RAW },                     /* signed in */
	{ "POST", "/cart/:id/inc", store_web_cart_inc, RAW },                 /* signed in */
	{ "POST", "/cart/:id/dec", store_web_cart_dec, RAW },                 /* signed in */
	{ "POST", "/cart/:id/remove", store_web_cart_remove, RAW },           /* signed in */
	{ "POST", "/pay", store_web_pay, RAW },                               /* signed in */
	{ "GET", "/orders", store_web_orders, RAW },                          /* signed in */
	/* Any other page: an HTML 404 for browsers (the library's is JSON). */
	{ "GET", "/:a", store_web_not_found, RAW },
	{ "GET", "/:a/:b", store_web_not_found, RAW },
	{ "GET", "/:a/:b/:c", store_web_not_found, RAW },
	{ "GET", "/:a/:b/:c/:d", store_web_not_found, RAW },
};

int
main(int argc, char **argv)
{
	store_http_config cfg;
	store_web_config wcfg;
	store_web *web = NULL;
	char msg[512] = "";
	int status = 0;

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	store_process_init();
	store_log_init("web", STORE_LOG_INFO);
	if (store_http_config_load(&cfg, STORE_WEB_BODY_LIMIT, WEB_THREADS, msg,
	                           sizeof msg) != STORE_OK ||
	    store_web_config_load(&wcfg, msg, sizeof msg) != STORE_OK) {
		store_error("%s", msg);
		return 78;
	}
	store_log_init("web", (store_log_level)cfg.log_level);
	if (store_web_new(&wcfg, &cfg, &web, msg, sizeof msg) != STORE_OK) {
		store_error("cannot start: %s", msg);
		return 69;
	}
	const store_service svc = {
		"web", routes, sizeof routes / sizeof *routes, web, store_web_ready,
	};
	if (store_http_serve(&svc, &cfg, msg, sizeof msg) != STORE_OK) {
		store_error("%s", msg);
		status = 69;
	}
	store_web_free(web);
	return status;
}
