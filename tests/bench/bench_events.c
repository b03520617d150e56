/* bench_events - the events benchmark of make bench (tests/bench/run).
 *
 * The store: N store.product.updated events about one product, versions
 * 1..N in order, written the way the products service writes them: into
 * an outbox (store_outbox_add, TXN events per database transaction, whose
 * commit wakes the relay), published by the library's relay thread, applied by
 * the running cartd to its product replica. The clock runs from the first
 * write until the replica in the cart database holds version N (read with
 * store_db_get, polled every POLL_MS; the outbox is drained when no
 * unpublished row is left, looked for every COUNT_MS with a one-row find,
 * not a count, which would read every unpublished row and compete with the
 * relay it measures). The outbox is a scratch SQLite
 * database of this program's own (the products service's database keeps
 * its own products, whose versions these events would contradict); the
 * product is announced first (product.created, version 0) and the clock
 * starts once the replica has it.
 *
 * The baseline: the same N payloads with the same headers, published raw
 * with nats.c (js_PublishMsgAsync, at most 1000 in flight) to a scratch
 * stream on the same server, while a durable pull consumer fetches them
 * (batches of 128) and acks each one: the clock runs from the first
 * publish to the last ack. (The relay now keeps 2000 in flight and the
 * listeners fetch 256; the baseline is kept as it was, so that ratios
 * compare with earlier runs.)
 *
 * Prints one JSON object on stdout. Exit status: 0 measured (see "valid"),
 * 1 failure, 64 usage. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "bench.h"
#include "store/bus.h"
#include "store/cart.h"
#include "store/db.h"
#include "store/json.h"
#include "store/log.h"
#include "store/oid.h"
#include "store/process.h"

#define PROG         "bench_events"
#define POLL_MS      2            /* look at the replica this often */
#define COUNT_MS     100          /* look for an unpublished outbox row */
#define QUIET_WAIT_S 300          /* for the cart to finish earlier work */
#define RUN_WAIT_S   200          /* for the replica to reach N */
#define BASE_STREAM  "BENCH_EVENTS"
#define BASE_SUBJECT "bench.events.product.updated"

static const char usage[] =
	"usage: bench_events --cart-db URL --outbox-db URL [-n N] [--txn K]\n"
	"\n"
	"Publishes N store.product.updated events (default 100000) through an outbox\n"
	"in URL (a scratch database, made here) and the library's relay, in\n"
	"transactions of K events (default 1000), and times until the running\n"
	"cartd's replica in the cart database holds version N; then the same\n"
	"messages raw through JetStream (async publish, pull fetch with ack) on a\n"
	"scratch stream. NATS_URL names the server. Prints one JSON object.\n";

typedef struct product {
	char id[STORE_OID_LEN + 1];
	char user[STORE_OID_LEN + 1];
	char category[STORE_OID_LEN + 1];
} product;

/* The product.updated payload of version v (EVENTS.md). */
static json_t *
payload(const product *p, long v)
{
	char name[64];

	snprintf(name, sizeof name, "Benchmark widget, edition %ld", v);
	return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:i,s:i}", "id", p->id,
	                 "name", name, "description",
	                 "A product whose price changes very often", "price",
	                 store_json_money(1000 + v % 9000), "picture",
	                 "https://img.example.com/widget.png", "userId", p->user,
	                 "categoryId", p->category, "count", (json_int_t)(v % 500 + 1),
	                 "version", (json_int_t)v);
}

struct write_ctx {
	const product *p;
	const char *subject;
	long from, to;                /* versions [from, to] */
};

static store_err
write_tx(store_db *db, void *arg)
{
	struct write_ctx *c = arg;
	store_err e = STORE_OK;

	for (long v = c->from; v <= c->to && e == STORE_OK; v++) {
		json_t *pl = payload(c->p, v);

		e = pl == NULL ? STORE_ENOMEM :
		    store_outbox_add(db, c->subject, pl, "bench-events", NULL);
		json_decref(pl);
	}
	return e;
}

/* The replica's productVersion of p, -1 when it has none. */
static long
replica_version(store_db *cart, const char *id)
{
	json_t *doc = NULL;
	long v = -1;

	if (store_db_get(cart, "products", id, &doc) == STORE_OK)
		v = (long)store_json_int(doc, "productVersion", -1);
	json_decref(doc);
	return v;
}

/* Whether the outbox has an unpublished row: 1, 0, or -1 when it cannot
 * be read. One row at most, in the order of the (published, id) index. */
static int
outbox_left(store_db *outbox, const json_t *filter)
{
	store_find_opts o = { .limit = 1 };
	json_t *rows = NULL;
	int left = -1;

	if (store_db_find(outbox, "outbox", filter, &o, &rows) == STORE_OK)
		left = json_array_size(rows) > 0;
	json_decref(rows);
	return left;
}

/* Messages on subject in the STORE stream (dead letters), or 0. */
static uint64_t
subject_count(store_bus *bus, const char *subject)
{
	store_replay_opts o = { .subject = subject };
	store_replay *r = NULL;
	uint64_t total = 0;

	if (store_replay_open(bus, &o, &r, &total) != STORE_OK)
		return 0;
	store_replay_free(r);
	return total;
}

static uint64_t
redelivered(store_bus *bus, const char *consumer)
{
	store_consumer *v = NULL;
	size_t n = 0;
	uint64_t r = 0;

	if (store_bus_consumers(bus, consumer, &v, &n) == STORE_OK && n > 0)
		r = v[0].redelivered;
	free(v);
	return r;
}

/* Waits until no consumer of the store has work pending (the HTTP
 * benchmark's product.created events are applied), twice in a row. */
static bool
wait_quiet(store_bus *bus)
{
	static const char *const services[] = { "cart", "products", "payments",
	                                        "expiration" };
	double end = bench_mono_ms() + QUIET_WAIT_S * 1000.0;
	int quiet = 0;

	while (quiet < 2) {
		bool busy = false;

		for (size_t s = 0; s < sizeof services / sizeof *services; s++) {
			store_consumer *v = NULL;
			size_t n = 0;

			if (store_bus_consumers(bus, services[s], &v, &n) == STORE_OK)
				for (size_t i = 0; i < n; i++)
					busy |= v[i].pending > 0 || v[i].ack_pending > 0;
			free(v);
		}
		quiet = busy ? 0 : quiet + 1;
		if (quiet < 2) {
			if (bench_mono_ms() > end)
				return false;
			bench_sleep_ms(500);
		}
	}
	return true;
}

/* ---- the store ---------------------------------------------------------- */

static json_t *
run_store(const char *cart_url, const char *outbox_url, long n, long txn)
{
	store_bus_config cfg;
	store_bus *bus = NULL;
	store_db *cart = NULL, *outbox = NULL;
	char msg[512] = "";
	product p;
	struct write_ctx wc;
	uint64_t dead0, dead1, redel0, redel1;
	double t0, t_written = 0, t_drained = 0, t_done = 0, end;
	bool trace = getenv("BENCH_TRACE") != NULL && *getenv("BENCH_TRACE") == '1';
	long v = -1;
	int left = 1;
	json_t *filter = json_pack("{s:b}", "published", 0), *out;

	if (store_bus_config_load(&cfg, "bench", msg, sizeof msg) != STORE_OK)
		bench_die(PROG, "%s", msg);
	cfg.keep_stream = 1;          /* never change the store's stream */
	if (store_db_open(cart_url, store_cart_collections, store_cart_ncollections,
	                  &cart, msg, sizeof msg) != STORE_OK)
		bench_die(PROG, "cart database: %s", msg);
	if (store_db_open(outbox_url, store_bus_collections, store_bus_ncollections,
	                  &outbox, msg, sizeof msg) != STORE_OK)
		bench_die(PROG, "outbox database: %s", msg);
	if (store_bus_open(&cfg, outbox, &bus, msg, sizeof msg) != STORE_OK)
		bench_die(PROG, "bus: %s", msg);
	if (store_bus_wait(bus, 10000) != STORE_OK)
		bench_die(PROG, "nats does not answer");
	if (!wait_quiet(bus))
		bench_die(PROG, "the store's consumers still had work after %ds",
		          QUIET_WAIT_S);

	store_oid_new(p.id);
	store_oid_new(p.user);
	store_oid_new(p.category);
	wc = (struct write_ctx){ &p, "store.product.created", 0, 0 };
	if (store_db_txn(outbox, write_tx, &wc) != STORE_OK)
		bench_die(PROG, "cannot write the outbox: %s", store_db_errmsg(outbox));
	for (end = bench_mono_ms() + 60000; replica_version(cart, p.id) != 0;
	     bench_sleep_ms(POLL_MS))
		if (bench_mono_ms() > end)
			bench_die(PROG, "the cart replica did not get product '%s' "
			          "(product.created) within 60 s", p.id);
	dead0 = subject_count(bus, STORE_DEAD_PREFIX "store.product.>");
	redel0 = redelivered(bus, "cart-product-updated");

	/* Timed: write, relay, apply. */
	t0 = bench_mono_ms();
	wc.subject = "store.product.updated";
	for (long from = 1; from <= n; from += txn) {
		wc.from = from;
		wc.to = from + txn - 1 < n ? from + txn - 1 : n;
		if (store_db_txn(outbox, write_tx, &wc) != STORE_OK)
			bench_die(PROG, "cannot write the outbox: %s",
			          store_db_errmsg(outbox));
	}
	t_written = bench_mono_ms();
	end = t0 + RUN_WAIT_S * 1000.0;
	for (double next_count = 0, next_trace = t0 + 1000;; bench_sleep_ms(POLL_MS)) {
		double now = bench_mono_ms();

		if (left != 0 && now >= next_count) {
			next_count = now + COUNT_MS;
			if ((left = outbox_left(outbox, filter)) == 0)
				t_drained = bench_mono_ms();
		}
		v = replica_version(cart, p.id);
		if (trace && now >= next_trace) {
			next_trace = now + 1000;
			fprintf(stderr, "%s: %.0f s: replica at %ld, %s\n", PROG,
			        (now - t0) / 1000, v, left == 0 ? "outbox drained" :
			        "outbox not drained");
		}
		if (v >= n || now > end) {      /* done, or given up: v tells */
			t_done = bench_mono_ms();
			break;
		}
	}
	/* The relay marks rows published once their batch is acknowledged:
	 * possibly after cartd applied the last one. */
	for (end = bench_mono_ms() + 30000; left != 0 && bench_mono_ms() < end;
	     bench_sleep_ms(COUNT_MS))
		if ((left = outbox_left(outbox, filter)) == 0)
			t_drained = bench_mono_ms();
	/* Let a late dead letter show up. */
	bench_sleep_ms(1000);
	dead1 = subject_count(bus, STORE_DEAD_PREFIX "store.product.>");
	redel1 = redelivered(bus, "cart-product-updated");

	out = json_pack("{s:s,s:i,s:s,s:f,s:f,s:f,s:f,s:i,s:i,s:i,s:b}",
	                "path", "outbox (store_outbox_add in transactions + relay) -> "
	                "JetStream -> cartd -> replica",
	                "txn", (json_int_t)txn, "product", p.id,
	                "seconds", (t_done - t0) / 1000,
	                "events_per_s", v > 0 ? v / ((t_done - t0) / 1000) : 0.0,
	                "outbox_written_s", (t_written - t0) / 1000,
	                "outbox_drained_s", t_drained > 0 ?
	                (t_drained - t0) / 1000 : -1.0,
	                "replica_version", (json_int_t)v,
	                "dead_letters", (json_int_t)(dead1 - dead0),
	                "redelivered", (json_int_t)(redel1 - redel0),
	                "valid", v == n && dead1 == dead0);
	json_decref(filter);
	store_bus_free(bus);
	store_db_free(outbox);
	store_db_free(cart);
	return out;
}

/* ---- the baseline ------------------------------------------------------- */

struct fetcher {
	natsSubscription *sub;
	long n;
	atomic_long got;
	double t_done;
};

static void *
fetch_main(void *arg)
{
	struct fetcher *f = arg;
	double end = bench_mono_ms() + RUN_WAIT_S * 1000.0;

	while (atomic_load(&f->got) < f->n && bench_mono_ms() < end) {
		natsMsgList list = { 0 };
		natsStatus s = natsSubscription_Fetch(&list, f->sub, 128, 1000, NULL);

		for (int i = 0; i < list.Count; i++) {
			natsMsg_Ack(list.Msgs[i], NULL);
			atomic_fetch_add(&f->got, 1);
		}
		natsMsgList_Destroy(&list);
		if (s != NATS_OK && s != NATS_TIMEOUT)
			bench_sleep_ms(10);
	}
	f->t_done = bench_mono_ms();
	return NULL;
}

static json_t *
run_baseline(long n)
{
	const char *url = getenv("NATS_URL");
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	jsPubOptions po;
	jsErrCode je = 0;
	struct fetcher f = { .n = n };
	pthread_t tid;
	product p;
	char id[STORE_OID_LEN + 1], at[32];
	double t0, t_pub;
	natsStatus s;
	json_t *out;

	if (url == NULL || *url == '\0')
		url = "nats://127.0.0.1:4222";
	if ((s = natsConnection_ConnectTo(&nc, url)) != NATS_OK)
		bench_die(PROG, "baseline: cannot connect to '%s': %s", url,
		          natsStatus_GetText(s));
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = 1000;
	if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK ||
	    (s = bench_scratch_stream(js, BASE_STREAM, "bench.events.>")) != NATS_OK ||
	    (s = bench_pull(js, BASE_STREAM, "bench", BASE_SUBJECT, 1, 1, &f.sub)) != NATS_OK)
		bench_die(PROG, "baseline: cannot make the scratch stream: %s",
		          natsStatus_GetText(s));
	store_oid_new(p.id);
	store_oid_new(p.user);
	store_oid_new(p.category);
	snprintf(at, sizeof at, "2026-01-01T00:00:00.000Z");
	if (pthread_create(&tid, NULL, fetch_main, &f) != 0)
		bench_die(PROG, "cannot start a thread");
	jsPubOptions_Init(&po);
	po.MaxWait = 5000;
	t0 = bench_mono_ms();
	for (long v = 1; v <= n; v++) {
		json_t *pl = payload(&p, v);
		char *data = json_dumps(pl, JSON_COMPACT | JSON_PRESERVE_ORDER); /* as the relay */
		natsMsg *m = NULL;

		store_oid_new(id);
		s = natsMsg_Create(&m, BASE_SUBJECT, NULL, data, (int)strlen(data));
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, STORE_HDR_REQUEST_ID, "bench-events");
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, STORE_HDR_OCCURRED_AT, at);
		if (s == NATS_OK)
			s = js_PublishMsgAsync(js, &m, &po);
		natsMsg_Destroy(m);
		free(data);
		json_decref(pl);
		if (s != NATS_OK)
			bench_die(PROG, "baseline: publish failed: %s", natsStatus_GetText(s));
	}
	po.MaxWait = 60000;
	if ((s = js_PublishAsyncComplete(js, &po)) != NATS_OK)
		bench_die(PROG, "baseline: publishes not acknowledged: %s",
		          natsStatus_GetText(s));
	t_pub = bench_mono_ms();
	pthread_join(tid, NULL);
	natsConnection_FlushTimeout(nc, 5000);

	out = json_pack("{s:s,s:f,s:f,s:f,s:f,s:i,s:b}",
	                "path", "js_PublishMsgAsync (1000 in flight) -> scratch stream "
	                "-> pull fetch 128 + ack",
	                "seconds", (f.t_done - t0) / 1000,
	                "msgs_per_s", atomic_load(&f.got) / ((f.t_done - t0) / 1000),
	                "publish_s", (t_pub - t0) / 1000,
	                "publish_per_s", n / ((t_pub - t0) / 1000),
	                "received", (json_int_t)atomic_load(&f.got),
	                "valid", atomic_load(&f.got) == n);
	natsSubscription_Destroy(f.sub);
	(void)js_DeleteConsumer(js, BASE_STREAM, "bench", NULL, &je);
	(void)js_DeleteStream(js, BASE_STREAM, NULL, &je);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return out;
}

int
main(int argc, char **argv)
{
	const char *cart = NULL, *outbox = NULL;
	long n = 100000, txn = 1000;
	json_t *store, *base, *out;
	double ratio;

	store_process_init();   /* as the services whose relay this measures */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(a, "--cart-db") == 0 && val != NULL) {
			cart = val;
		} else if (strcmp(a, "--outbox-db") == 0 && val != NULL) {
			outbox = val;
		} else if (strcmp(a, "-n") == 0) {
			n = bench_num(PROG, "-n", val, 1, 10000000);
		} else if (strcmp(a, "--txn") == 0) {
			txn = bench_num(PROG, "--txn", val, 1, 100000);
		} else {
			fputs(usage, stderr);
			return 64;
		}
		i++;
	}
	if (cart == NULL || outbox == NULL) {
		fputs(usage, stderr);
		return 64;
	}
	store_log_init(PROG, STORE_LOG_WARN);

	store = run_store(cart, outbox, n, txn);
	base = run_baseline(n);
	ratio = json_real_value(json_object_get(base, "msgs_per_s")) > 0 ?
	        json_real_value(json_object_get(store, "events_per_s")) /
	        json_real_value(json_object_get(base, "msgs_per_s")) : 0;
	out = json_pack("{s:i,s:o,s:o,s:f}", "events", (json_int_t)n, "store", store,
	                "baseline", base, "ratio", ratio);
	json_dumpf(out, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(out);
	nats_Close();
	return 0;
}
