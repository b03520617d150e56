/* cartd - the cart service's event listener.
 *
 * Keeps the product replica (product.created, product.updated,
 * product.deleted, in version order), adds held units to carts (cart.add),
 * takes out units whose hold ran out (expiration.complete) and paid ones
 * (payment.created), and relays the cart's outbox
 * (cart.changed). Shares the cart database with store-cart. */
#include <stdio.h>
#include <string.h>

#include "store/cart.h"
#include "store/daemon.h"
#include "store/session_gen.h"

static const char usage[] =
	"usage: cartd [--help]\n"
	"\n"
	"The cart service's daemon: listens for store.product.created,\n"
	"store.product.updated and store.product.deleted (the product replica,\n"
	"applied in version order), store.cart.add (one unit, backed by its\n"
	"hold, into the buyer's cart), store.expiration.complete (a unit whose\n"
	"hold ran out leaves the cart) and store.payment.created (the paid\n"
	"units leave the cart), and publishes the cart's outbox\n"
	"(store.cart.changed).\n"
	"\n"
	"environment:\n"
	"  STORE_DB              cart database, as store-cart (required)\n"
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
	{ "product.created", store_cart_on_product },
	{ "product.updated", store_cart_on_product },
	{ "product.deleted", store_cart_on_product_deleted },
	{ "cart.add", store_cart_on_add },
	{ "expiration.complete", store_cart_on_expiration },
	{ "payment.created", store_cart_on_payment },
	{ "user.signedout", store_session_gen_on_signedout },
};

int
main(int argc, char **argv)
{
	const store_daemon d = {
		"cartd", "cart", store_cart_collections, store_cart_ncollections,
		listeners, sizeof listeners / sizeof *listeners,
	};

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	return store_daemon_run(&d);
}
