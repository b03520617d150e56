/* paymentsd - the payments service's event listener.
 *
 * Keeps the cart replica (store.cart.changed; a newer version replaces an
 * older one) and relays the payments outbox (store.payment.created).
 * Shares the payments database with store-payments. */
#include <stdio.h>
#include <string.h>

#include "store/daemon.h"
#include "store/session_gen.h"
#include "store/payments.h"

static const char usage[] =
	"usage: paymentsd [--help]\n"
	"\n"
	"The payments service's daemon: listens for store.cart.changed (the copy\n"
	"of each cart that payments are computed from) and publishes the\n"
	"payments outbox (store.payment.created).\n"
	"\n"
	"environment:\n"
	"  STORE_DB              payments database, as store-payments (required)\n"
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
	{ "cart.changed", store_payments_on_cart_changed },
	{ "user.signedout", store_session_gen_on_signedout },
};

int
main(int argc, char **argv)
{
	const store_daemon d = {
		"paymentsd", "payments", store_payments_collections, store_payments_ncollections,
		listeners, sizeof listeners / sizeof *listeners,
	};

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	return store_daemon_run(&d);
}
