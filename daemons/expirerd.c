/* expirerd - the expiration service's daemon.
 *
 * Holds on products run out: for each store.product.selected it schedules
 * a delayed job in Redis, due at the hold's expiresAt; when it is due, it
 * publishes store.expiration.complete and only then deletes the job.
 * lib/expiration.c is the domain (batches, leases, event ids), and
 * lib/expiration_run.c the daemon around it. */
#include <stdio.h>
#include <string.h>

#include "store/expiration.h"

static const char usage[] =
	"usage: expirerd [--help]\n"
	"\n"
	"The expiration service's daemon: listens for store.product.selected and\n"
	"schedules a delayed job in Redis, due at the hold's expiresAt; when it is\n"
	"due, publishes store.expiration.complete (the products service then\n"
	"releases the hold). Jobs are deleted only after the event is published.\n"
	"\n"
	"Firing: one script takes up to 1000 due jobs under a lease and says when\n"
	"the next is due; their events are sent without waiting (up to 8192 in\n"
	"flight) and the loop sleeps until then. A second thread collects the\n"
	"acknowledgements and deletes the acknowledged jobs in one script.\n"
	"\n"
	"environment:\n"
	"  REDIS_URL             redis://[[user]:password@]host[:port][/db] or\n"
	"                        unix:/path (redis://127.0.0.1:6379)\n"
	"  STORE_JOBS_PREFIX     prefix of the Redis keys (store:expiration)\n"
	"  STORE_JOB_LEASE_MS    how long a taken job is reserved before another\n"
	"                        copy may fire it, 1000 to 3600000 (30000)\n"
	"  NATS_URL              NATS server with JetStream (nats://127.0.0.1:4222)\n"
	"  STORE_STREAM_MAX_AGE  days the stream keeps events (30)\n"
	"  STORE_ACK_WAIT_MS     consumer ack wait (5000)\n"
	"  STORE_MAX_DELIVER     deliveries before a dead letter (10)\n"
	"  STORE_NAK_DELAY_MS    first redelivery delay (200)\n"
	"  STORE_LOG_LEVEL       debug, info, warn or error (info)\n"
	"  STORE_METRICS_LISTEN  host:port serving GET /metrics, Prometheus text\n"
	"                        (unset: off; docs/METRICS.md)\n"
	"\n"
	"Stops on SIGTERM or SIGINT after acking what it holds and firing the\n"
	"jobs it has taken. Exit status: 0 stopped, 64 usage, 69 bus unavailable,\n"
	"78 configuration error.\n";

static const store_listener listeners[] = {
	{ "product.selected", store_expiration_on_selected },
};

int
main(int argc, char **argv)
{
	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	return store_expiration_run("expirerd", listeners,
	                            sizeof listeners / sizeof *listeners);
}
