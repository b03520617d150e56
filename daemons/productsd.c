/* productsd - the products service's event listener.
 *
 * Releases expired holds (expiration.complete) and those a buyer took
 * out of the cart (cart.released), sells paid ones (payment.created), and
 * relays the catalog's outbox. Shares the catalog
 * database with store-products. */
#include <stdio.h>
#include <string.h>

#include "store/catalog.h"
#include "store/daemon.h"
#include "store/session_gen.h"

static const char usage[] =
	"usage: productsd [--help]\n"
	"\n"
	"The products service's daemon: listens for store.expiration.complete\n"
	"(an expired hold is released), store.cart.released (holds a buyer took\n"
	"out of the cart are released), store.payment.created (stock goes down,\n"
	"the holds paid for are sold) and store.user.signedout (the session\n"
	"generation replica), and publishes the catalog's outbox.\n"
	"\n"
	"environment:\n"
	"  STORE_DB              catalog database, as store-products (required)\n"
	"  STORE_MODULE_DIR      folder of db_mongo.so, loaded for a mongodb:// url\n"
	"                        (lib/store beside the program's folder)\n"
	"  NATS_URL              NATS server with JetStream (nats://127.0.0.1:4222)\n"
	"  STORE_STREAM_MAX_AGE, STORE_ACK_WAIT_MS, STORE_MAX_DELIVER,\n"
	"  STORE_NAK_DELAY_MS, STORE_LOG_LEVEL: see store(7)\n"
	"  STORE_METRICS_LISTEN  host:port serving GET /metrics, Prometheus text\n"
	"                        (unset: off; docs/METRICS.md)\n"
	"\n"
	"Stops on SIGTERM or SIGINT after acking what it holds. Exit status: 0\n"
	"stopped, 64 usage, 69 database or bus unavailable, 78 configuration error.\n";

static const store_daemon_listener listeners[] = {
	{ "expiration.complete", store_catalog_on_expiration },
	{ "payment.created", store_catalog_on_payment },
	{ "cart.released", store_catalog_on_cart_released },
	{ "user.signedout", store_session_gen_on_signedout },
};

int
main(int argc, char **argv)
{
	const store_daemon d = {
		"productsd", "products", store_catalog_collections, store_catalog_ncollections,
		listeners, sizeof listeners / sizeof *listeners,
	};

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	return store_daemon_run(&d);
}
