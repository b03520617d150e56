/* test_bus.c - the event bus against a real nats-server with JetStream,
 * started here on a free port in a temporary folder (skipped, saying so,
 * when nats-server is not installed), and a SQLite outbox. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus_impl.h"
#include "check.h"
#include "servers.h"
#include "store/bus.h"
#include "store/log.h"
#include "store/oid.h"

#define NS_MS 1000000LL

static char tmpdir[] = "/tmp/store-bus-XXXXXX";
static char server_bin[512];
static int port;
static pid_t server_pid = -1;
static char url[64];

static store_db *db;
static store_bus *bus;
static store_bus_config cfg;
static natsConnection *insp_nc;   /* the test's own eyes on the server */
static jsCtx *insp_js;

/* ---- helpers: time, server ---------------------------------------------- */

/* CHECK evaluates its condition twice (once more for the message):
 * EXPECT evaluates it once, so conditions may have effects. */
#define EXPECT(cond, ...) do {                                         \
	bool expect_ = (cond);                                             \
	CHECK(expect_, __VA_ARGS__);                                       \
} while (0)

/* Polls cond every 10 ms for up to ms milliseconds. */
#define WAIT_UNTIL(cond, ms) do {                                      \
	long long until_ = servers_now_ms() + (ms);                        \
	while (!(cond) && servers_now_ms() < until_)                       \
		servers_sleep_ms(10);                                          \
} while (0)

static bool
port_open(void)
{
	return servers_port_open(port);
}

static void
server_stop(void)
{
	servers_stop(&server_pid);
}

static bool
server_start(void)
{
	char sd[600], portstr[16], logpath[600];
	char *argv[] = { server_bin, "-js", "-sd", sd, "-a", "127.0.0.1", "-p", portstr, NULL };

	snprintf(sd, sizeof sd, "%s/js", tmpdir);
	snprintf(logpath, sizeof logpath, "%s/nats.log", tmpdir);
	snprintf(portstr, sizeof portstr, "%d", port);
	if ((server_pid = servers_spawn(server_bin, argv, logpath)) < 0)
		return false;
	return servers_wait(port_open, 10000);
}

/* ---- helpers: looking at the stream ------------------------------------- */

/* The test's own connection, reconnecting quickly after a server restart. */
static bool
inspector_connect(void)
{
	natsOptions *o = NULL;
	bool ok;

	ok = natsOptions_Create(&o) == NATS_OK &&
	     natsOptions_SetURL(o, url) == NATS_OK &&
	     natsOptions_SetMaxReconnect(o, -1) == NATS_OK &&
	     natsOptions_SetReconnectWait(o, 100) == NATS_OK &&
	     natsConnection_Connect(&insp_nc, o) == NATS_OK &&
	     natsConnection_JetStream(&insp_js, insp_nc, NULL) == NATS_OK;
	natsOptions_Destroy(o);
	return ok;
}

/* Messages stored on subject (exact). */
static long long
stream_count(const char *subject)
{
	jsStreamInfo *si = NULL;
	jsOptions o;
	long long n = -1;

	jsOptions_Init(&o);
	o.Stream.Info.SubjectsFilter = subject;
	if (js_GetStreamInfo(&si, insp_js, STORE_STREAM, &o, NULL) != NATS_OK)
		return -1;
	n = 0;
	if (si->State.Subjects != NULL)
		for (int i = 0; i < si->State.Subjects->Count; i++)
			if (strcmp(si->State.Subjects->List[i].Subject, subject) == 0)
				n = (long long)si->State.Subjects->List[i].Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

/* All messages on subject, oldest first, through an ephemeral consumer.
 * Caller frees *out with natsMsgList_Destroy. */
static bool
stream_fetch(const char *subject, natsMsgList *out)
{
	natsSubscription *sub = NULL;
	jsSubOptions so;
	natsMsg **all = NULL;
	int n = 0;
	natsMsgList l;

	memset(out, 0, sizeof *out);
	jsSubOptions_Init(&so);
	so.Stream = STORE_STREAM;
	so.Config.AckPolicy = js_AckNone;
	so.Config.DeliverPolicy = js_DeliverAll;
	if (js_PullSubscribe(&sub, insp_js, subject, NULL, NULL, &so, NULL) != NATS_OK)
		return false;
	for (;;) {
		memset(&l, 0, sizeof l);
		if (natsSubscription_Fetch(&l, sub, 256, 300, NULL) != NATS_OK)
			break;
		all = realloc(all, (size_t)(n + l.Count) * sizeof *all);
		for (int i = 0; i < l.Count; i++) {
			all[n++] = l.Msgs[i];
			l.Msgs[i] = NULL;
		}
		natsMsgList_Destroy(&l);
	}
	natsMsgList_Destroy(&l);
	natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
	out->Msgs = all;
	out->Count = n;
	return true;
}

static const char *
header(natsMsg *m, const char *key)
{
	const char *v = NULL;

	return natsMsgHeader_Get(m, key, &v) == NATS_OK ? v : NULL;
}

static bool
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static size_t
unpublished(void)
{
	json_t *f = json_pack("{s:b}", "published", 0);
	size_t n = 999999;

	store_db_count(db, "outbox", f, &n);
	json_decref(f);
	return n;
}

/* ---- helpers: listeners in threads -------------------------------------- */

typedef struct lrun {
	store_bus *bus;
	const store_listener *ls;
	size_t n;
	void *ctx;
	volatile sig_atomic_t stop;
	pthread_t tid;
	store_err rc;
} lrun;

static void *
lrun_main(void *arg)
{
	lrun *r = arg;

	r->rc = store_bus_listen(r->bus, r->ls, r->n, r->ctx, &r->stop);
	return NULL;
}

static void
lrun_start(lrun *r)
{
	r->stop = 0;
	r->rc = STORE_EINTERNAL;
	pthread_create(&r->tid, NULL, lrun_main, r);
}

static store_err
lrun_stop(lrun *r)
{
	r->stop = 1;
	pthread_join(r->tid, NULL);
	return r->rc;
}

/* What handlers saw. */
#define SEEN_MAX 512
typedef struct seen {
	pthread_mutex_t mu;
	atomic_int calls;          /* every call */
	atomic_int ok;             /* calls answered STORE_OK */
	int by_n[SEEN_MAX];        /* STORE_OK calls per payload "n" */
	int who[2];                /* STORE_OK calls per listener copy */
	uint64_t delivered[8];     /* ev->delivered of the first calls */
	long long at[8];           /* and when */
	char id[32], req[64], consumer[64], subject[64];
	int later;                 /* answer STORE_ELATER this many times */
} seen;

static void
seen_record(seen *s, const store_event *ev, int copy, bool ok)
{
	int n = (int)json_integer_value(json_object_get(ev->payload, "n"));
	int c = atomic_fetch_add(&s->calls, 1);

	pthread_mutex_lock(&s->mu);
	if (c < 8) {
		s->delivered[c] = ev->delivered;
		s->at[c] = servers_now_ms();
	}
	snprintf(s->id, sizeof s->id, "%s", ev->id);
	snprintf(s->req, sizeof s->req, "%s", ev->request_id ? ev->request_id : "");
	snprintf(s->consumer, sizeof s->consumer, "%s", ev->consumer);
	snprintf(s->subject, sizeof s->subject, "%s", ev->subject);
	if (ok) {
		if (n >= 0 && n < SEEN_MAX)
			s->by_n[n]++;
		s->who[copy]++;
		atomic_fetch_add(&s->ok, 1);
	}
	pthread_mutex_unlock(&s->mu);
}

static store_err
on_ok(void *ctx, const store_event *ev)
{
	seen_record(ctx, ev, 0, true);
	return STORE_OK;
}

static store_err
on_later(void *ctx, const store_event *ev)
{
	seen *s = ctx;
	bool ok = atomic_load(&s->calls) >= s->later;

	seen_record(s, ev, 0, ok);
	return ok ? STORE_OK : STORE_ELATER;
}

/* Fails events whose payload has "fail": true, every time. */
static store_err
on_fail_some(void *ctx, const store_event *ev)
{
	bool fail = json_is_true(json_object_get(ev->payload, "fail"));

	seen_record(ctx, ev, 0, !fail);
	return fail ? STORE_EIO : STORE_OK;
}

static store_err
on_share0(void *ctx, const store_event *ev)
{
	seen_record(ctx, ev, 0, true);
	servers_sleep_ms(1);
	return STORE_OK;
}

static store_err
on_share1(void *ctx, const store_event *ev)
{
	seen_record(ctx, ev, 1, true);
	servers_sleep_ms(1);
	return STORE_OK;
}

static seen *
seen_new(void)
{
	seen *s = calloc(1, sizeof *s);

	pthread_mutex_init(&s->mu, NULL);
	return s;
}

static void
seen_free(seen *s)
{
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- helpers: the outbox ------------------------------------------------ */

typedef struct add_ctx {
	const char *subject;
	int from, count;           /* payload {"n": from .. from+count-1} */
	const char *req;
	store_err fail;            /* the txn's answer after adding */
	char id[25];               /* the last event id */
} add_ctx;

static store_err
add_events(store_db *d, void *arg)
{
	add_ctx *a = arg;
	json_t *item = NULL, *payload = NULL;
	store_err e = STORE_OK;

	item = json_pack("{s:s}", "name", a->subject);
	e = store_db_insert(d, "items", item, NULL);
	for (int i = 0; i < a->count && e == STORE_OK; i++) {
		payload = json_pack("{s:i,s:s,s:{s:b}}", "n", a->from + i,
		                    "name", "café", "nested", "x", 1);
		e = store_outbox_add(d, a->subject, payload, a->req, a->id);
		json_decref(payload);
	}
	json_decref(item);
	return e == STORE_OK ? a->fail : e;
}

static store_err
publish_n(const char *subject, int from, int count)
{
	store_err e = STORE_OK;

	for (int i = 0; i < count && e == STORE_OK; i++) {
		json_t *p = json_pack("{s:i}", "n", from + i);

		e = store_bus_publish(bus, subject, p, NULL, NULL, NULL);
		json_decref(p);
	}
	return e;
}

/* ---- the tests ---------------------------------------------------------- */

static void
test_config(void)
{
	store_bus_config c;
	char msg[256] = "";

	setenv("NATS_URL", "nats://127.0.0.1:1", 1);
	setenv("STORE_ACK_WAIT_MS", "750", 1);
	unsetenv("STORE_STREAM_MAX_AGE");
	unsetenv("STORE_MAX_DELIVER");
	unsetenv("STORE_NAK_DELAY_MS");
	EXPECT(store_bus_config_load(&c, "cart", msg, sizeof msg) == STORE_OK &&
	      streq(c.url, "nats://127.0.0.1:1") && c.ack_wait_ms == 750 &&
	      c.max_age_days == 30 && c.max_deliver == 10 && c.nak_delay_ms == 200 &&
	      streq(c.service, "cart"),
	      "config: environment and defaults");
	setenv("STORE_MAX_DELIVER", "0", 1);
	EXPECT(store_bus_config_load(&c, "cart", msg, sizeof msg) == STORE_ECONFIG &&
	      strstr(msg, "STORE_MAX_DELIVER") != NULL,
	      "config: a bad value is named (%s)", msg);
	unsetenv("STORE_MAX_DELIVER");
	EXPECT(store_bus_config_load(&c, "Bad Name", msg, sizeof msg) == STORE_EINVAL,
	      "config: a bad service name is refused");
	unsetenv("NATS_URL");
	unsetenv("STORE_ACK_WAIT_MS");
}

static void
test_processed(void)
{
	EXPECT(store_processed_mark(db, "test-a", "0123456789abcdef01234567") == STORE_OK,
	      "processed: first mark");
	EXPECT(store_processed_mark(db, "test-a", "0123456789abcdef01234567") ==
	      STORE_EDUPLICATE, "processed: a repeat is detected");
	EXPECT(store_processed_mark(db, "test-b", "0123456789abcdef01234567") == STORE_OK,
	      "processed: another consumer has its own marks");
	EXPECT(store_processed_mark(db, "test-a", NULL) == STORE_EINVAL,
	      "processed: no id is refused");
}

static void
test_stream(void)
{
	jsStreamInfo *si = NULL;
	store_bus *b2 = NULL;
	store_bus_config c2 = cfg;
	char err[256] = "";
	int64_t created = 0;

	EXPECT(js_GetStreamInfo(&si, insp_js, STORE_STREAM, NULL, NULL) == NATS_OK &&
	      si->Config->SubjectsLen == 1 && streq(si->Config->Subjects[0], "store.>") &&
	      si->Config->Storage == js_FileStorage &&
	      si->Config->Duplicates == 120LL * 1000 * NS_MS &&
	      si->Config->MaxAge == 86400LL * 1000 * NS_MS,
	      "stream: STORE made on open (store.>, file, 2 min duplicates, max age)");
	if (si != NULL)
		created = si->Created;
	jsStreamInfo_Destroy(si);
	si = NULL;

	EXPECT(store_bus_open(&cfg, NULL, &b2, err, sizeof err) == STORE_OK,
	      "stream: a second open with the same settings works (%s)", err);
	store_bus_free(b2);
	b2 = NULL;
	c2.max_age_days = 2;
	EXPECT(store_bus_open(&c2, NULL, &b2, err, sizeof err) == STORE_OK &&
	      js_GetStreamInfo(&si, insp_js, STORE_STREAM, NULL, NULL) == NATS_OK &&
	      si->Config->MaxAge == 2 * 86400LL * 1000 * NS_MS && si->Created == created,
	      "stream: changed settings update the same stream");
	jsStreamInfo_Destroy(si);
	si = NULL;
	store_bus_free(b2);
	b2 = NULL;
	EXPECT(store_bus_open(&cfg, NULL, &b2, err, sizeof err) == STORE_OK &&
	      js_GetStreamInfo(&si, insp_js, STORE_STREAM, NULL, NULL) == NATS_OK &&
	      si->Config->MaxAge == 86400LL * 1000 * NS_MS,
	      "stream: and back");
	jsStreamInfo_Destroy(si);
	store_bus_free(b2);
}

static void
test_outbox(void)
{
	add_ctx a = { "store.item.created", 7, 1, "req-1", STORE_OK, "" };
	natsMsgList l = { 0 };
	json_t *row = NULL, *payload = NULL;
	const char *want = NULL;

	EXPECT(store_db_txn(db, add_events, &a) == STORE_OK && store_oid_valid(a.id),
	      "outbox: event recorded in the change's transaction");
	/* No kick: the commit wakes the relay (the bus's commit hook). */
	WAIT_UNTIL(stream_count("store.item.created") == 1, 5000);
	EXPECT(stream_count("store.item.created") == 1, "outbox: the commit publishes it");
	EXPECT(stream_fetch("store.item.created", &l) && l.Count == 1,
	      "outbox: one message on the subject");
	if (l.Count == 1) {
		natsMsg *m = l.Msgs[0];

		store_db_get(db, "outbox", a.id, &row);
		payload = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
		                     0, NULL);
		want = json_string_value(json_object_get(row, "occurredAt"));
		EXPECT(streq(header(m, "Nats-Msg-Id"), a.id), "outbox: Nats-Msg-Id is the event id");
		EXPECT(streq(header(m, STORE_HDR_REQUEST_ID), "req-1"),
		      "outbox: Store-Request-Id");
		EXPECT(streq(header(m, STORE_HDR_OCCURRED_AT), want) && strlen(want) == 24 &&
		      want[10] == 'T' && want[23] == 'Z',
		      "outbox: Store-Occurred-At, RFC 3339 UTC (%s)", want ? want : "-");
		EXPECT(json_equal(payload, json_object_get(row, "payload")) &&
		      json_integer_value(json_object_get(payload, "n")) == 7,
		      "outbox: the body is the payload");
	}
	natsMsgList_Destroy(&l);
	json_decref(payload);
	json_decref(row);
	row = NULL;
	WAIT_UNTIL(store_db_get(db, "outbox", a.id, &row) == STORE_OK &&
	           json_is_true(json_object_get(row, "published")) ? true :
	           (json_decref(row), row = NULL, false), 3000);
	EXPECT(row != NULL && json_is_string(json_object_get(row, "publishedAt")),
	      "outbox: the row is marked published");
	json_decref(row);
}

static void
test_rollback(void)
{
	add_ctx a = { "store.item.rolledback", 0, 3, NULL, STORE_EINVAL, "" };

	EXPECT(store_db_txn(db, add_events, &a) == STORE_EINVAL,
	      "rollback: the transaction fails");
	store_bus_kick(bus);
	EXPECT(store_bus_flush(bus) == STORE_OK && unpublished() == 0,
	      "rollback: nothing left in the outbox");
	servers_sleep_ms(100);
	EXPECT(stream_count("store.item.rolledback") == 0, "rollback: nothing published");
}

static void
test_duplicates(void)
{
	const char *id = "0123456789abcdef0123dead";
	add_ctx a = { "store.item.dup2", 0, 1, NULL, STORE_OK, "" };
	json_t *p = json_pack("{s:i}", "n", 1), *row = NULL;
	uint64_t s1 = 0, s2 = 0;

	EXPECT(store_bus_publish(bus, "store.item.dup", p, id, "r", &s1) == STORE_OK &&
	      store_bus_publish(bus, "store.item.dup", p, id, "r", &s2) == STORE_OK &&
	      s1 > 0 && s1 == s2 && stream_count("store.item.dup") == 1,
	      "duplicates: a second publish of an event id is dropped");
	json_decref(p);

	/* A relay that died between publishing and marking: the row is
	 * published again, and JetStream drops it. */
	store_db_txn(db, add_events, &a);
	EXPECT(store_bus_flush(bus) == STORE_OK && stream_count("store.item.dup2") == 1,
	      "duplicates: outbox row published");
	if (store_db_get(db, "outbox", a.id, &row) == STORE_OK) {
		json_object_set_new(row, "published", json_false());
		store_db_update(db, "outbox", row, NULL);
	}
	json_decref(row);
	EXPECT(unpublished() == 1 && store_bus_flush(bus) == STORE_OK &&
	      unpublished() == 0 && stream_count("store.item.dup2") == 1,
	      "duplicates: a re-published outbox row stays one message");
}

/* store_bus_publish_batch: more than the 1,000 in flight, all acked; the
 * same ids again are duplicates (acked, not stored twice); a bad message
 * refuses the batch. */
static void
test_batch(void)
{
	enum { N = 1500 };
	store_bus_msg *m = calloc(N, sizeof *m);
	char (*ids)[32] = calloc(N, sizeof *ids), (*data)[48] = calloc(N, sizeof *data);
	natsMsgList got = { 0 };
	const char *hid = NULL;
	int acked = 0;
	bool same = false;

	if (m == NULL || ids == NULL || data == NULL) {
		EXPECT(0, "batch: memory");
		goto out;
	}
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof ids[i], "batch-%d", i);
		snprintf(data[i], sizeof data[i], "{\"n\":%d}", i);
		m[i] = (store_bus_msg){ "store.item.batch", data[i], strlen(data[i]), ids[i], 0 };
	}
	EXPECT(store_bus_publish_batch(bus, m, N) == STORE_OK, "batch: %d published", N);
	for (int i = 0; i < N; i++)
		acked += m[i].acked;
	EXPECT(acked == N && stream_count("store.item.batch") == N,
	      "batch: each acknowledged (%d) and stored once", acked);
	if (stream_fetch("store.item.batch", &got) && got.Count == N) {
		same = natsMsgHeader_Get(got.Msgs[7], "Nats-Msg-Id", &hid) == NATS_OK &&
		       streq(hid, "batch-7") &&
		       natsMsg_GetDataLength(got.Msgs[7]) == (int)strlen(data[7]) &&
		       memcmp(natsMsg_GetData(got.Msgs[7]), data[7], strlen(data[7])) == 0 &&
		       natsMsgHeader_Get(got.Msgs[7], STORE_HDR_OCCURRED_AT, &hid) == NATS_OK;
	}
	natsMsgList_Destroy(&got);
	EXPECT(same, "batch: in order, with the event id, the payload as given and "
	      "Store-Occurred-At");
	acked = 0;
	EXPECT(store_bus_publish_batch(bus, m, N) == STORE_OK, "batch: published again");
	for (int i = 0; i < N; i++)
		acked += m[i].acked;
	EXPECT(acked == N && stream_count("store.item.batch") == N,
	      "batch: a second publish of the same ids is acked and dropped as duplicates");
	m[3].subject = "not.store";
	EXPECT(store_bus_publish_batch(bus, m, 5) == STORE_EINVAL && m[0].acked == 0,
	      "batch: a bad subject refuses the batch, nothing is sent");
	m[3].subject = "store.item.batch";
	m[4].event_id = "bad id";
	EXPECT(store_bus_publish_batch(bus, m, 5) == STORE_EINVAL,
	      "batch: a bad event id refuses the batch");
	EXPECT(store_bus_publish_batch(bus, m, 0) == STORE_OK, "batch: an empty batch is ok");
out:
	free(m);
	free(ids);
	free(data);
}

/* store_bus_publish_send/wait: three batches in flight at once through a
 * publisher allowing 100 unanswered (so sending waits for answers), each
 * acknowledged and stored once; waited for in any order; the same ids
 * again are duplicates; a bad message refuses the batch. */
static void
test_publish_async(void)
{
	enum { B = 3, N = 300 };
	store_bus_msg *m = calloc(B * N, sizeof *m);
	char (*ids)[32] = calloc(B * N, sizeof *ids), (*data)[48] = calloc(B * N, sizeof *data);
	store_bus_publisher *p = NULL;
	store_bus_sent *sent[B] = { NULL };
	bool sends = true, waits = true;
	int acked = 0;

	if (m == NULL || ids == NULL || data == NULL ||
	    store_bus_publisher_new(bus, 100, &p) != STORE_OK) {
		EXPECT(0, "async: memory, publisher");
		goto out;
	}
	{
		store_bus_publisher *q = NULL;

		EXPECT(store_bus_publisher_new(bus, 0, &q) == STORE_EINVAL && q == NULL &&
		       store_bus_publisher_new(bus, STORE_BUS_PENDING_MAX + 1, &q) ==
		       STORE_EINVAL, "async: max_pending 0 or too many refused");
	}
	for (int i = 0; i < B * N; i++) {
		snprintf(ids[i], sizeof ids[i], "async-%d", i);
		snprintf(data[i], sizeof data[i], "{\"n\":%d}", i);
		m[i] = (store_bus_msg){ "store.item.async", data[i], strlen(data[i]), ids[i], 0 };
	}
	for (int b = 0; b < B; b++)
		sends = sends && store_bus_publish_send(p, m + b * N, N, &sent[b]) == STORE_OK &&
		        sent[b] != NULL;
	EXPECT(sends, "async: %d batches of %d sent, 100 in flight at most", B, N);
	for (int b = B - 1; b >= 0; b--)
		waits = waits && store_bus_publish_wait(sent[b]) == STORE_OK;
	for (int i = 0; i < B * N; i++)
		acked += m[i].acked;
	EXPECT(waits && acked == B * N && stream_count("store.item.async") == B * N,
	      "async: waited for in any order, each acknowledged (%d) and stored once",
	      acked);
	acked = 0;
	EXPECT(store_bus_publish_send(p, m, N, &sent[0]) == STORE_OK &&
	       store_bus_publish_wait(sent[0]) == STORE_OK, "async: sent again");
	for (int i = 0; i < N; i++)
		acked += m[i].acked;
	EXPECT(acked == N && stream_count("store.item.async") == B * N,
	      "async: the same ids again are acked and dropped as duplicates");
	m[3].subject = "not.store";
	EXPECT(store_bus_publish_send(p, m, 5, &sent[0]) == STORE_EINVAL && sent[0] == NULL &&
	       m[0].acked == 0, "async: a bad subject refuses the batch, nothing is sent");
	m[3].subject = "store.item.async";
	EXPECT(store_bus_publish_send(p, m, 0, &sent[0]) == STORE_OK &&
	       store_bus_publish_wait(sent[0]) == STORE_OK, "async: an empty batch is ok");
out:
	store_bus_publisher_free(p);
	free(m);
	free(ids);
	free(data);
}

static void
test_listen_ack(void)
{
	static const store_listener ls[] = { { "t.ok", on_ok } };
	seen *s = seen_new();
	lrun r = { bus, ls, 1, s, 0, 0, 0 };
	jsConsumerInfo *ci = NULL;

	EXPECT(publish_n("store.t.ok", 0, 5) == STORE_OK, "ack: 5 events published");
	lrun_start(&r);
	WAIT_UNTIL(atomic_load(&s->ok) == 5, 5000);
	EXPECT(atomic_load(&s->ok) == 5, "ack: all 5 handled");
	EXPECT(streq(s->consumer, "test-t-ok") && streq(s->subject, "store.t.ok") &&
	      store_oid_valid(s->id) && s->delivered[0] == 1,
	      "ack: the event names its consumer, subject, id, delivery");
	WAIT_UNTIL(js_GetConsumerInfo(&ci, insp_js, STORE_STREAM, "test-t-ok", NULL,
	                              NULL) == NATS_OK && ci->NumAckPending == 0 &&
	           ci->AckFloor.Consumer == 5 ? true :
	           (jsConsumerInfo_Destroy(ci), ci = NULL, false), 3000);
	EXPECT(ci != NULL && ci->Config->AckPolicy == js_AckExplicit &&
	      ci->Config->AckWait == cfg.ack_wait_ms * NS_MS &&
	      streq(ci->Config->FilterSubject, "store.t.ok") &&
	      ci->NumRedelivered == 0 && ci->NumPending == 0,
	      "ack: durable consumer, explicit ack, all acked, none redelivered");
	jsConsumerInfo_Destroy(ci);
	EXPECT(lrun_stop(&r) == STORE_OK && atomic_load(&s->calls) == 5,
	      "ack: stops cleanly, nothing handled twice");
	EXPECT(publish_n("store.t.ok", 5, 2) == STORE_OK, "ack: 2 more while stopped");
	lrun_start(&r);
	WAIT_UNTIL(atomic_load(&s->ok) == 7, 5000);
	EXPECT(lrun_stop(&r) == STORE_OK && atomic_load(&s->calls) == 7 &&
	      s->by_n[5] == 1 && s->by_n[6] == 1 && s->by_n[0] == 1,
	      "ack: a restarted listener resumes where it was");
	/* The stopped listener's request for messages was still open on the
	 * server: it must not have taken these two to an inbox no one reads
	 * (they would come again only after the ack wait, delivery 2). */
	EXPECT(s->delivered[5] == 1 && s->delivered[6] == 1,
	      "ack: the stopped listener's open request took none of them "
	      "(deliveries %llu, %llu)", (unsigned long long)s->delivered[5],
	      (unsigned long long)s->delivered[6]);
	seen_free(s);
}

/* Publishes one event after a pause, then a second shortly after it. */
static void *
publish_two_late(void *arg)
{
	(void)arg;
	servers_sleep_ms(1500);
	publish_n("store.t.pull", 0, 1);
	servers_sleep_ms(50);
	publish_n("store.t.pull", 1, 1);
	return NULL;
}

/* bus_pull_next's gathering window opens when the first message comes,
 * not when the wait for it began: after 1.5 s idle, a second message
 * 50 ms behind the first joins it within a 1 s window (a window timed from
 * the wait's start would have closed before the first came). */
static void
test_pull_gather(void)
{
	jsConsumerConfig cc;
	jsConsumerInfo *ci = NULL;
	struct bus_pull p;
	natsMsg *msgs[8];
	pthread_t t;
	size_t n = 0;
	natsStatus s;

	jsConsumerConfig_Init(&cc);
	cc.Durable = "test-t-pull";
	cc.FilterSubject = "store.t.pull";
	cc.AckPolicy = js_AckExplicit;
	if (js_AddConsumer(&ci, insp_js, STORE_STREAM, &cc, NULL, NULL) != NATS_OK) {
		EXPECT(0, "pull gather: the consumer is made");
		return;
	}
	jsConsumerInfo_Destroy(ci);
	if (bus_pull_open(&p, bus, "test-t-pull") != STORE_OK) {
		EXPECT(0, "pull gather: opens");
		goto out;
	}
	if (pthread_create(&t, NULL, publish_two_late, NULL) != 0) {
		EXPECT(0, "pull gather: publisher thread");
		goto out;
	}
	s = bus_pull_next(&p, msgs, 8, &n, 5000, 1000);
	pthread_join(t, NULL);
	EXPECT(s == NATS_OK && n == 2, "pull gather: the second event, 50 ms after the "
	       "first, came in the same batch (%zu, %s)", n, natsStatus_GetText(s));
	for (size_t i = 0; i < n; i++) {
		bus_pull_ack(bus, msgs[i]);
		natsMsg_Destroy(msgs[i]);
	}
	if (n < 2 && bus_pull_next(&p, msgs, 8, &n, 2000, 0) == NATS_OK)
		for (size_t i = 0; i < n; i++)
			natsMsg_Destroy(msgs[i]);
out:
	bus_pull_close(&p);
	js_DeleteConsumer(insp_js, STORE_STREAM, "test-t-pull", NULL, NULL);
}

/* Readers closed while their request's messages still come: nats.c 3.4's
 * reader thread could crash on a subscription destroyed under it (nats.c
 * issue 637; bus_pull_close). Each round takes one message of a request
 * for 256 and closes at once. */
static void
test_pull_close_busy(void)
{
	jsConsumerConfig cc;
	jsConsumerInfo *ci = NULL;
	struct bus_pull p;
	natsMsg *msg = NULL;
	char name[32];
	size_t n;
	int rounds = 0;

	if (publish_n("store.t.busy", 0, 1000) != STORE_OK) {
		EXPECT(0, "pull close: 1000 events published");
		return;
	}
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "test-t-busy-%d", i);
		jsConsumerConfig_Init(&cc);
		cc.Durable = name;
		cc.FilterSubject = "store.t.busy";
		cc.AckPolicy = js_AckNone;
		if (js_AddConsumer(&ci, insp_js, STORE_STREAM, &cc, NULL, NULL) != NATS_OK)
			break;
		jsConsumerInfo_Destroy(ci);
		ci = NULL;
		if (bus_pull_open(&p, bus, name) == STORE_OK &&
		    bus_pull_next(&p, &msg, 1, &n, 5000, 0) == NATS_OK && n == 1) {
			natsMsg_Destroy(msg);
			rounds++;
		}
		bus_pull_close(&p);
		js_DeleteConsumer(insp_js, STORE_STREAM, name, NULL, NULL);
	}
	EXPECT(rounds == 100, "pull close: 100 readers closed while their request's "
	       "messages came, each after its first (%d)", rounds);
}

static void
test_listen_later(void)
{
	static const store_listener ls[] = { { "t.later", on_later } };
	seen *s = seen_new();
	lrun r = { bus, ls, 1, s, 0, 0, 0 };

	s->later = 2;
	publish_n("store.t.later", 0, 1);
	lrun_start(&r);
	WAIT_UNTIL(atomic_load(&s->ok) == 1, 5000);
	lrun_stop(&r);
	EXPECT(atomic_load(&s->ok) == 1 && atomic_load(&s->calls) == 3 &&
	      s->delivered[0] == 1 && s->delivered[1] == 2 && s->delivered[2] == 3,
	      "later: redelivered twice, then handled (calls %d)",
	      atomic_load(&s->calls));
	EXPECT(s->at[1] - s->at[0] >= cfg.nak_delay_ms - 5 &&
	      s->at[2] - s->at[1] >= 2 * cfg.nak_delay_ms - 5,
	      "later: after the nak delay, doubling (%lld ms, %lld ms)",
	      s->at[1] - s->at[0], s->at[2] - s->at[1]);
	EXPECT(stream_count("store.dead.store.t.later") == 0, "later: no dead letter");
	seen_free(s);
}

static void
test_listen_malformed(void)
{
	static const store_listener ls[] = { { "t.mixed", on_ok } };
	seen *s = seen_new();
	lrun r = { bus, ls, 1, s, 0, 0, 0 };
	jsPubOptions po;
	natsMsgList l = { 0 };
	uint64_t seq = 0;
	jsPubAck *pa = NULL;

	jsPubOptions_Init(&po);
	po.MsgId = "0123456789abcdef0badbad0";
	if (js_Publish(&pa, insp_js, "store.t.mixed", "not json", 8, &po, NULL) == NATS_OK)
		seq = pa->Sequence;
	jsPubAck_Destroy(pa);
	po.MsgId = "0123456789abcdef0badbad1";
	js_Publish(NULL, insp_js, "store.t.mixed", "[1,2]", 5, &po, NULL);
	publish_n("store.t.mixed", 0, 2);
	lrun_start(&r);
	WAIT_UNTIL(atomic_load(&s->ok) == 2 && stream_count("store.dead.store.t.mixed") == 2,
	           5000);
	EXPECT(atomic_load(&s->ok) == 2 && atomic_load(&s->calls) == 2,
	      "malformed: the good events behind it flow; the handler never sees it");
	EXPECT(stream_count("store.dead.store.t.mixed") == 2,
	      "malformed: both bad payloads dead-lettered at once");
	lrun_stop(&r);
	if (stream_fetch("store.dead.store.t.mixed", &l) && l.Count >= 1) {
		natsMsg *m = l.Msgs[0];
		char seqs[32], dead_id[64];

		snprintf(seqs, sizeof seqs, "%llu", (unsigned long long)seq);
		snprintf(dead_id, sizeof dead_id, "dead-test-t-mixed-%s", seqs);
		EXPECT(natsMsg_GetDataLength(m) == 8 &&
		      memcmp(natsMsg_GetData(m), "not json", 8) == 0,
		      "malformed: dead letter keeps the body");
		EXPECT(streq(header(m, STORE_HDR_CONSUMER), "test-t-mixed") &&
		      streq(header(m, STORE_HDR_ORIGINAL_SEQ), seqs) &&
		      streq(header(m, STORE_HDR_EVENT_ID), "0123456789abcdef0badbad0") &&
		      streq(header(m, "Nats-Msg-Id"), dead_id) &&
		      header(m, STORE_HDR_ERROR) != NULL &&
		      strstr(header(m, STORE_HDR_ERROR), "not a json object") != NULL,
		      "malformed: dead letter headers (%s)",
		      header(m, STORE_HDR_ERROR) ? header(m, STORE_HDR_ERROR) : "-");
	} else {
		EXPECT(0, "malformed: dead letters readable");
	}
	natsMsgList_Destroy(&l);
	seen_free(s);
}

static void
test_listen_poison(void)
{
	static const store_listener ls[] = { { "t.fail", on_fail_some } };
	seen *s = seen_new();
	lrun r = { bus, ls, 1, s, 0, 0, 0 };
	json_t *bad = json_pack("{s:i,s:b}", "n", 100, "fail", 1);
	natsMsgList l = { 0 };
	jsConsumerInfo *ci = NULL;
	char dead_id[64] = "";
	uint64_t seq = 0;

	store_bus_publish(bus, "store.t.fail", bad, NULL, "req-poison", &seq);
	json_decref(bad);
	publish_n("store.t.fail", 0, 3);
	lrun_start(&r);
	WAIT_UNTIL(atomic_load(&s->ok) == 3 && stream_count("store.dead.store.t.fail") == 1,
	           5000);
	servers_sleep_ms(3 * cfg.nak_delay_ms);
	EXPECT(atomic_load(&s->ok) == 3, "poison: the good events flow");
	EXPECT(atomic_load(&s->calls) == 3 + cfg.max_deliver,
	      "poison: the failing one was tried max_deliver times (%d calls)",
	      atomic_load(&s->calls) - 3);
	WAIT_UNTIL(js_GetConsumerInfo(&ci, insp_js, STORE_STREAM, "test-t-fail", NULL,
	                              NULL) == NATS_OK && ci->NumAckPending == 0 ? true :
	           (jsConsumerInfo_Destroy(ci), ci = NULL, false), 3000);
	EXPECT(ci != NULL && ci->NumAckPending == 0, "poison: then acked");
	jsConsumerInfo_Destroy(ci);
	lrun_stop(&r);
	snprintf(dead_id, sizeof dead_id, "dead-test-t-fail-%llu", (unsigned long long)seq);
	if (stream_fetch("store.dead.store.t.fail", &l) && l.Count == 1) {
		natsMsg *m = l.Msgs[0];

		EXPECT(streq(header(m, "Nats-Msg-Id"), dead_id) &&
		      streq(header(m, STORE_HDR_REQUEST_ID), "req-poison") &&
		      header(m, STORE_HDR_OCCURRED_AT) != NULL &&
		      streq(header(m, STORE_HDR_DELIVERED), "3") &&
		      strstr(header(m, STORE_HDR_ERROR), "i/o error") != NULL,
		      "poison: dead letter has the original headers, the error, its id");
	} else {
		EXPECT(0, "poison: exactly one dead letter");
	}
	natsMsgList_Destroy(&l);
	seen_free(s);
}

/* A store_bus_counter in memory, for a bus without a database: per key,
 * the distinct deliveries recorded (bus.h). */
#define MEMC_KEYS 8
typedef struct memc {
	pthread_mutex_t mu;
	char key[MEMC_KEYS][BUS_ATTEMPT_KEY_MAX];
	uint64_t seen[MEMC_KEYS][32];
	int nseen[MEMC_KEYS];
	int forgets;
} memc;

static memc mem_counter = { .mu = PTHREAD_MUTEX_INITIALIZER };

static store_err
memc_count(void *ctx, const char *key, uint64_t delivered, bool first, long long *n)
{
	memc *c = ctx;
	int k = 0, i;

	pthread_mutex_lock(&c->mu);
	while (k < MEMC_KEYS && c->key[k][0] != '\0' && strcmp(c->key[k], key) != 0)
		k++;
	if (k == MEMC_KEYS) {
		pthread_mutex_unlock(&c->mu);
		return STORE_ENOMEM;
	}
	snprintf(c->key[k], sizeof c->key[k], "%s", key);
	if (first)
		c->nseen[k] = 0;
	for (i = 0; i < c->nseen[k] && c->seen[k][i] != delivered; i++)
		;
	if (i == c->nseen[k] && i < 32)
		c->seen[k][c->nseen[k]++] = delivered;
	*n = c->nseen[k];
	pthread_mutex_unlock(&c->mu);
	return STORE_OK;
}

static void
memc_forget(void *ctx, const char *key)
{
	memc *c = ctx;

	pthread_mutex_lock(&c->mu);
	for (int k = 0; k < MEMC_KEYS; k++)
		if (strcmp(c->key[k], key) == 0) {
			c->key[k][0] = '\0';
			c->nseen[k] = 0;
			c->forgets++;
		}
	pthread_mutex_unlock(&c->mu);
}

/* How many counts are kept: the "listen_attempts" documents of the bus's
 * database, or the keys of the memory counter. */
static size_t
attempt_docs(void)
{
	size_t n = 999999;

	store_db_count(db, BUS_ATTEMPTS, NULL, &n);
	return n;
}

static size_t
memc_keys(void)
{
	size_t n = 0;

	pthread_mutex_lock(&mem_counter.mu);
	for (int k = 0; k < MEMC_KEYS; k++)
		n += mem_counter.key[k][0] != '\0';
	pthread_mutex_unlock(&mem_counter.mu);
	return n;
}

/* Deliveries that never reached the listener of bus b on event (here
 * taken from its consumer by another reader and naked, as a cut
 * connection loses them) do not use up its attempts: the failing event is
 * still run max_deliver times, then dead-lettered with both counts, and
 * its count dropped (kept() is how many are left). */
static void
listen_lost(store_bus *b, const char *event, const char *how, size_t (*kept)(void))
{
	const store_listener ls[] = { { event, on_fail_some } };
	seen *s = seen_new();
	lrun r = { b, ls, 1, s, 0, 0, 0 };
	json_t *bad = json_pack("{s:i,s:b}", "n", 1, "fail", 1);
	jsConsumerInfo *ci = NULL;
	struct bus_pull p;
	natsMsg *msg = NULL;
	natsMsgList l = { 0 };
	char subject[64], dead[80], durable[64], lost_s[32], tries_s[32], delivered_s[32];
	size_t n;
	int lost = 0;

	snprintf(subject, sizeof subject, "store.%s", event);
	snprintf(dead, sizeof dead, "store.dead.%s", subject);
	snprintf(durable, sizeof durable, "test-%s", event);
	for (char *c = durable; *c != '\0'; c++)
		if (*c == '.')
			*c = '-';
	lrun_start(&r);                   /* it makes the consumer */
	WAIT_UNTIL(js_GetConsumerInfo(&ci, insp_js, STORE_STREAM, durable, NULL,
	                              NULL) == NATS_OK, 5000);
	jsConsumerInfo_Destroy(ci);
	lrun_stop(&r);
	store_bus_publish(b, subject, bad, NULL, NULL, NULL);
	json_decref(bad);
	if (bus_pull_open(&p, b, durable) == STORE_OK)
		while (lost < 2 * cfg.max_deliver &&
		       bus_pull_next(&p, &msg, 1, &n, 3000, 0) == NATS_OK && n == 1) {
			bus_pull_nak(b, msg, 0);
			natsMsg_Destroy(msg);
			lost++;
		}
	bus_pull_close(&p);
	EXPECT(lost == 2 * cfg.max_deliver, "lost deliveries (%s): %d taken before "
	       "the listener saw one", how, lost);

	lrun_start(&r);
	WAIT_UNTIL(stream_count(dead) == 1, 10000);
	servers_sleep_ms(3 * cfg.nak_delay_ms);
	lrun_stop(&r);
	EXPECT(atomic_load(&s->calls) == cfg.max_deliver,
	      "lost deliveries (%s): the handler still ran max_deliver (%ld) times (%d)",
	      how, cfg.max_deliver, atomic_load(&s->calls));
	snprintf(lost_s, sizeof lost_s, "after %ld attempts", cfg.max_deliver);
	snprintf(tries_s, sizeof tries_s, "%ld", cfg.max_deliver);
	snprintf(delivered_s, sizeof delivered_s, "%ld", lost + cfg.max_deliver);
	if (stream_fetch(dead, &l) && l.Count == 1) {
		natsMsg *m = l.Msgs[0];

		EXPECT(streq(header(m, STORE_HDR_ATTEMPTS), tries_s) &&
		      streq(header(m, STORE_HDR_DELIVERED), delivered_s) &&
		      strstr(header(m, STORE_HDR_ERROR), lost_s) != NULL,
		      "lost deliveries (%s): the dead letter says %s attempts of %s "
		      "deliveries (%s, %s, '%s')", how, tries_s, delivered_s,
		      header(m, STORE_HDR_ATTEMPTS) ? header(m, STORE_HDR_ATTEMPTS) : "-",
		      header(m, STORE_HDR_DELIVERED) ? header(m, STORE_HDR_DELIVERED) : "-",
		      header(m, STORE_HDR_ERROR) ? header(m, STORE_HDR_ERROR) : "-");
	} else {
		EXPECT(0, "lost deliveries (%s): exactly one dead letter", how);
	}
	natsMsgList_Destroy(&l);
	EXPECT(kept() == 0, "lost deliveries (%s): the count went with the dead "
	       "letter (%zu left)", how, kept());
	seen_free(s);
}

/* Counted in the bus's database, and by the counter of a bus without one. */
static void
test_listen_lost(void)
{
	store_bus_counter c = { memc_count, memc_forget, &mem_counter };
	store_bus *b = NULL;
	char err[256] = "";

	listen_lost(bus, "t.unseen", "database", attempt_docs);
	if (store_bus_open(&cfg, NULL, &b, err, sizeof err) != STORE_OK) {
		EXPECT(0, "a bus without a database opens (%s)", err);
		return;
	}
	store_bus_set_counter(b, &c);
	listen_lost(b, "t.unseen2", "counter", memc_keys);
	EXPECT(mem_counter.forgets == 1, "lost deliveries (counter): forgotten once (%d)",
	       mem_counter.forgets);
	store_bus_free(b);
}

/* ---- a handler that crashes its process --------------------------------- */

#define CRASH_EXIT 70

static volatile sig_atomic_t crash_stop;

static void
crash_on_term(int sig)
{
	(void)sig;
	crash_stop = 1;
}

/* Counts its call in the file ctx, then dies as a crash would. */
static store_err
on_crash(void *ctx, const store_event *ev)
{
	int fd = open(ctx, O_WRONLY | O_CREAT | O_APPEND, 0600);

	(void)ev;
	if (fd >= 0) {
		if (write(fd, "x", 1) != 1)
			_exit(CRASH_EXIT + 1);
		close(fd);
	}
	_exit(CRASH_EXIT);
}

/* test_bus --crash-child URL DIR: a listener program of its own (DIR/crash.db,
 * the calls in DIR/crash.calls) whose handler of t.crash crashes it. */
static int
crash_child(const char *u, const char *dir)
{
	static const store_listener ls[] = { { "t.crash", on_crash } };
	store_bus_config c = { u, "test", 1, 1000, 3, 20 };
	char path[600], calls[600], err[256] = "";
	store_db *d = NULL;
	store_bus *b = NULL;
	int rc = 1;

	signal(SIGTERM, crash_on_term);
	snprintf(path, sizeof path, "sqlite:%s/crash.db", dir);
	snprintf(calls, sizeof calls, "%s/crash.calls", dir);
	if (store_db_open(path, store_bus_collections, store_bus_ncollections, &d,
	                  err, sizeof err) != STORE_OK ||
	    store_bus_open(&c, d, &b, err, sizeof err) != STORE_OK) {
		fprintf(stderr, "crash child: %s\n", err);
		goto out;
	}
	rc = store_bus_listen(b, ls, 1, calls, &crash_stop) == STORE_OK ? 0 : 1;
out:
	store_bus_free(b);
	store_db_free(d);
	nats_CloseAndWait(5000);
	return rc;
}

static long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* A handler that crashes its process on every delivery: its attempts are
 * counted before it runs, so the program, started again after each crash,
 * gives up on it after max_deliver counted attempts and dead-letters it
 * as never answered. The first delivery is not counted (a first delivery
 * writes nothing; one that never answered is taken as lost), so the
 * handler runs once more than max_deliver: never fewer. */
static void
test_listen_crash(void)
{
	json_t *ev = json_pack("{s:i}", "n", 1);
	char *argv[] = { "test_bus", "--crash-child", url, tmpdir, NULL };
	char calls[600], logpath[600], no_answer[64], tries_s[32];
	natsMsgList l = { 0 };
	pid_t pid, w = 0;
	int runs = 0, crashes = 0, st;

	snprintf(calls, sizeof calls, "%s/crash.calls", tmpdir);
	snprintf(logpath, sizeof logpath, "%s/crash.log", tmpdir);
	store_bus_publish(bus, "store.t.crash", ev, NULL, NULL, NULL);
	json_decref(ev);
	while (runs < cfg.max_deliver + 4 && stream_count("store.dead.store.t.crash") < 1) {
		long long until = servers_now_ms() + 10000;

		if ((pid = servers_spawn("/proc/self/exe", argv, logpath)) < 0)
			break;
		runs++;
		while (servers_now_ms() < until && (w = waitpid(pid, &st, WNOHANG)) == 0 &&
		       stream_count("store.dead.store.t.crash") < 1)
			servers_sleep_ms(20);
		if (w == pid) {
			crashes += WIFEXITED(st) && WEXITSTATUS(st) == CRASH_EXIT;
			continue;
		}
		servers_stop(&pid);
	}
	EXPECT(stream_count("store.dead.store.t.crash") == 1,
	      "crash: dead-lettered after %d runs of the program", runs);
	EXPECT(file_size(calls) == cfg.max_deliver + 1 && crashes == cfg.max_deliver + 1,
	      "crash: the handler ran max_deliver + 1 (%ld) times, each a crash "
	      "(%ld calls, %d crashes)", cfg.max_deliver + 1, file_size(calls), crashes);
	snprintf(no_answer, sizeof no_answer, "no answer after %ld attempts",
	         cfg.max_deliver);
	snprintf(tries_s, sizeof tries_s, "%ld", cfg.max_deliver);
	if (stream_fetch("store.dead.store.t.crash", &l) && l.Count == 1) {
		natsMsg *m = l.Msgs[0];

		EXPECT(streq(header(m, STORE_HDR_ATTEMPTS), tries_s) &&
		      strstr(header(m, STORE_HDR_ERROR), no_answer) != NULL,
		      "crash: the dead letter says '%s' (%s, '%s')", no_answer,
		      header(m, STORE_HDR_ATTEMPTS) ? header(m, STORE_HDR_ATTEMPTS) : "-",
		      header(m, STORE_HDR_ERROR) ? header(m, STORE_HDR_ERROR) : "-");
	} else {
		EXPECT(0, "crash: exactly one dead letter");
	}
	natsMsgList_Destroy(&l);
}

/* ---- a fetch in one transaction ----------------------------------------- */

/* What a handler with database effects did: an "items" document per
 * event, written with the processed mark in the handler's transaction
 * (which joins the listener's, one per fetch). */
typedef struct effects {
	atomic_int poison_calls;   /* calls on the event with "fail": true */
	atomic_int ok;             /* calls that committed or skipped */
} effects;

typedef struct effect_ctx {
	const store_event *ev;
} effect_ctx;

static store_err
effect_tx(store_db *d, void *arg)
{
	const store_event *ev = ((effect_ctx *)arg)->ev;
	json_t *item;
	store_err e;

	if ((e = store_processed_mark(d, ev->consumer, ev->id)) != STORE_OK)
		return e;
	item = json_pack("{s:s,s:I}", "name", "effect", "n",
	                 json_integer_value(json_object_get(ev->payload, "n")));
	e = item == NULL ? STORE_ENOMEM : store_db_insert(d, "items", item, NULL);
	json_decref(item);
	/* The poison fails after writing: its write must never stay. */
	if (e == STORE_OK && json_is_true(json_object_get(ev->payload, "fail")))
		e = STORE_EIO;
	return e;
}

static store_err
on_effect(void *ctx, const store_event *ev)
{
	effects *x = ctx;
	effect_ctx c = { ev };
	store_err e;

	if (json_is_true(json_object_get(ev->payload, "fail")))
		atomic_fetch_add(&x->poison_calls, 1);
	e = store_db_txn(db, effect_tx, &c);
	if (e == STORE_EDUPLICATE)
		e = STORE_OK;          /* seen: skipped */
	if (e == STORE_OK)
		atomic_fetch_add(&x->ok, 1);
	return e;
}

/* Items the effect wrote for n (-1: all of them). */
static long
effect_count(int n)
{
	json_t *f = n < 0 ? json_pack("{s:s}", "name", "effect") :
	            json_pack("{s:s,s:i}", "name", "effect", "n", n);
	size_t c = 0;

	if (store_db_count(db, "items", f, &c) != STORE_OK)
		c = 999999;
	json_decref(f);
	return (long)c;
}

static void
effects_clear(void)
{
	json_t *f = json_pack("{s:s}", "name", "effect"), *rows = NULL;

	if (store_db_find(db, "items", f, NULL, &rows) == STORE_OK)
		for (size_t i = 0; i < json_array_size(rows); i++) {
			json_t *r = json_array_get(rows, i);

			store_db_delete(db, "items", json_string_value(json_object_get(r, "id")),
			                json_integer_value(json_object_get(r, "version")));
		}
	json_decref(rows);
	json_decref(f);
}

/* A poison event in the middle of a fetch: the events around it apply
 * once (each effect once, none of the poison's), it is tried max_deliver
 * times and dead-lettered, and every message is acked. */
static void
test_listen_batch_poison(void)
{
	static const store_listener ls[] = { { "t.batch", on_effect } };
	enum { N = 200, BAD = 97 };
	effects x = { 0 };
	lrun r = { bus, ls, 1, &x, 0, 0, 0 };
	jsConsumerInfo *ci = NULL;
	uint64_t seq = 0;
	int once = 0;

	effects_clear();
	for (int i = 0; i < N; i++) {
		json_t *p = json_pack("{s:i,s:b}", "n", i, "fail", i == BAD);

		store_bus_publish(bus, "store.t.batch", p, NULL, NULL, i == BAD ? &seq : NULL);
		json_decref(p);
	}
	EXPECT(stream_count("store.t.batch") == N, "batch poison: %d events published "
	       "before the listener starts (one fetch takes them)", N);
	lrun_start(&r);
	WAIT_UNTIL(effect_count(-1) == N - 1 &&
	           stream_count("store.dead.store.t.batch") == 1, 10000);
	servers_sleep_ms(5 * cfg.nak_delay_ms);
	for (int i = 0; i < N; i++)
		once += effect_count(i) == (i == BAD ? 0 : 1);
	EXPECT(once == N && effect_count(-1) == N - 1,
	      "batch poison: every other event's effect committed exactly once, the "
	      "poison's never (%d of %d right, %ld effects)", once, N, effect_count(-1));
	EXPECT(atomic_load(&x.poison_calls) == cfg.max_deliver,
	      "batch poison: the poison was tried max_deliver (%ld) times (%d calls)",
	      cfg.max_deliver, atomic_load(&x.poison_calls));
	EXPECT(stream_count("store.dead.store.t.batch") == 1,
	      "batch poison: it went to the dead letters, once");
	WAIT_UNTIL(js_GetConsumerInfo(&ci, insp_js, STORE_STREAM, "test-t-batch", NULL,
	                              NULL) == NATS_OK && ci->NumAckPending == 0 &&
	           ci->NumPending == 0 ? true :
	           (jsConsumerInfo_Destroy(ci), ci = NULL, false), 3000);
	EXPECT(ci != NULL && ci->NumAckPending == 0 && ci->NumPending == 0,
	      "batch poison: every message acked");
	jsConsumerInfo_Destroy(ci);
	lrun_stop(&r);
	effects_clear();
}

/* A relay that died after JetStream acknowledged a flush of several
 * batches but before any row was marked: the rows go again with the same
 * ids, JetStream drops them all as duplicates, and a listener applying
 * them (one transaction per fetch) has each effect once. */
static void
test_relay_republish(void)
{
	static const store_listener ls[] = { { "t.again", on_effect } };
	enum { N = 2500 };
	effects x = { 0 };
	lrun r = { bus, ls, 1, &x, 0, 0, 0 };
	add_ctx a = { "store.t.again", 0, 500, NULL, STORE_OK, "" };
	json_t *f = json_pack("{s:s}", "subject", "store.t.again"), *rows = NULL;
	size_t reset = 0;
	int once = 0;

	effects_clear();
	lrun_start(&r);
	for (int i = 0; i < N / 500; i++) {
		a.from = i * 500;
		store_db_txn(db, add_events, &a);
	}
	EXPECT(store_bus_flush(bus) == STORE_OK && unpublished() == 0 &&
	      stream_count("store.t.again") == N,
	      "republish: %d outbox rows published, in batches", N);
	/* The crash: every row back to unpublished, as if never marked (the
	 * relay thread may start on them at once: that is the point). */
	if (store_db_find(db, "outbox", f, NULL, &rows) == STORE_OK)
		for (size_t i = 0; i < json_array_size(rows); i++) {
			json_t *row = json_array_get(rows, i);

			json_object_set_new(row, "published", json_false());
			reset += store_db_update(db, "outbox", row, NULL) == STORE_OK;
		}
	EXPECT(reset == N, "republish: %zu rows unmarked", reset);
	EXPECT(store_bus_flush(bus) == STORE_OK && unpublished() == 0,
	      "republish: the relay publishes them all again and marks them");
	EXPECT(stream_count("store.t.again") == N,
	      "republish: still %d messages in the stream (duplicates dropped)", N);
	WAIT_UNTIL(effect_count(-1) >= N, 15000);
	servers_sleep_ms(300);
	for (int i = 0; i < N; i++)
		once += effect_count(i) == 1;
	EXPECT(once == N && effect_count(-1) == N,
	      "republish: each event's effect exactly once (%d of %d)", once, N);
	lrun_stop(&r);
	json_decref(rows);
	json_decref(f);
	effects_clear();
}

static void
test_share(void)
{
	static const store_listener l0[] = { { "t.share", on_share0 } };
	static const store_listener l1[] = { { "t.share", on_share1 } };
	enum { N = 400 };
	seen *s = seen_new();
	store_bus *b2 = NULL;
	char err[256];
	lrun r0 = { bus, l0, 1, s, 0, 0, 0 }, r1 = { NULL, l1, 1, s, 0, 0, 0 };
	add_ctx a = { "store.t.share", 0, N, NULL, STORE_OK, "" };
	int once = 0;

	EXPECT(store_bus_open(&cfg, NULL, &b2, err, sizeof err) == STORE_OK,
	      "share: a second copy connects");
	r1.bus = b2;
	lrun_start(&r0);
	lrun_start(&r1);
	servers_sleep_ms(300);
	store_db_txn(db, add_events, &a);
	WAIT_UNTIL(atomic_load(&s->ok) >= N, 10000);
	servers_sleep_ms(200);
	lrun_stop(&r0);
	lrun_stop(&r1);
	for (int i = 0; i < N; i++)
		once += s->by_n[i] == 1;
	EXPECT(atomic_load(&s->calls) == N && once == N,
	      "share: %d events, each handled exactly once (%d calls)", N,
	      atomic_load(&s->calls));
	EXPECT(s->who[0] > 0 && s->who[1] > 0, "share: both copies worked (%d + %d)",
	      s->who[0], s->who[1]);
	store_bus_free(b2);
	seen_free(s);
}

static void
test_nats_down(void)
{
	static const store_listener ls[] = { { "t.down", on_ok } };
	enum { N = 50 };
	seen *s = seen_new();
	lrun r = { bus, ls, 1, s, 0, 0, 0 };
	add_ctx a = { "store.t.down", 0, 10, "req-down", STORE_OK, "" };
	bool all = true;

	lrun_start(&r);
	server_stop();
	WAIT_UNTIL(store_bus_ping(bus) != STORE_OK, 3000);
	EXPECT(store_bus_ping(bus) == STORE_EUNAVAIL, "down: ping says unavailable");
	for (int i = 0; i < N / 10; i++) {
		a.from = i * 10;
		all = all && store_db_txn(db, add_events, &a) == STORE_OK;
	}
	EXPECT(all, "down: changes commit while nats is down");
	EXPECT(store_bus_flush(bus) == STORE_EUNAVAIL, "down: flush says unavailable");
	{
		store_bus_msg m = { "store.t.down", "{}", 2, "down-batch", 1 };

		store_bus_publisher *p = NULL;
		store_bus_sent *sent = NULL;

		EXPECT(store_bus_publish_batch(bus, &m, 1) == STORE_EUNAVAIL && m.acked == 0,
		      "down: a batch publish says unavailable, nothing acked");
		m.acked = 1;
		EXPECT(store_bus_publisher_new(bus, 10, &p) == STORE_OK &&
		       store_bus_publish_send(p, &m, 1, &sent) == STORE_EUNAVAIL &&
		       store_bus_publish_wait(sent) == STORE_EUNAVAIL && m.acked == 0,
		       "down: an asynchronous send says unavailable, nothing acked");
		store_bus_publisher_free(p);
	}
	servers_sleep_ms(300);
	EXPECT(unpublished() == N, "down: the events wait in the outbox");
	EXPECT(server_start(), "down: nats-server restarted (same port, same store)");
	WAIT_UNTIL(unpublished() == 0, 10000);
	EXPECT(unpublished() == 0, "down: the relay publishes them all");
	WAIT_UNTIL(stream_count("store.t.down") == N, 5000);
	EXPECT(stream_count("store.t.down") == N, "down: %d messages in the stream", N);
	WAIT_UNTIL(atomic_load(&s->ok) == N, 10000);
	for (int i = 0; i < N; i++)
		all = all && s->by_n[i] == 1;
	EXPECT(atomic_load(&s->ok) == N && all,
	      "down: the listener survived the restart and got each once");
	EXPECT(lrun_stop(&r) == STORE_OK, "down: listener stops cleanly");
	seen_free(s);
}

static void
test_consumer_lost(void)
{
	static const store_listener ls[] = { { "t.lost", on_ok } };
	seen *s = seen_new();
	lrun r = { bus, ls, 1, s, 0, 0, 0 };
	natsStatus ds;
	jsErrCode je = 0;

	publish_n("store.t.lost", 0, 1);
	lrun_start(&r);
	WAIT_UNTIL(atomic_load(&s->ok) == 1, 5000);
	/* nats-server 2.9.10 may fail a delete racing the consumer's own state
	 * write ("directory not empty"): try again. */
	for (int i = 0; i < 20; i++) {
		je = 0;
		ds = js_DeleteConsumer(insp_js, STORE_STREAM, "test-t-lost", NULL, &je);
		if (ds == NATS_OK || je == JSConsumerNotFoundErr)
			break;
		servers_sleep_ms(50);
	}
	EXPECT(ds == NATS_OK || je == JSConsumerNotFoundErr,
	       "lost: consumer deleted under a running listener (%s, %d)",
	       natsStatus_GetText(ds), (int)je);
	publish_n("store.t.lost", 1, 1);
	WAIT_UNTIL(s->by_n[1] == 1, 8000);
	lrun_stop(&r);
	EXPECT(s->by_n[1] == 1, "lost: consumer made again, new events flow");
	seen_free(s);
}

static const char *const items_unique[] = { NULL };
static const store_collection test_colls[] = {
	{ "items", items_unique, NULL },
};

int
main(int argc, char **argv)
{
	store_collection colls[8];
	size_t ncolls = 0;
	char path[600], err[256] = "";
	const char *lvl = getenv("STORE_LOG_LEVEL");
	int rc;

	if (argc == 4 && strcmp(argv[1], "--crash-child") == 0) {
		store_log_init("test-bus-crash", STORE_LOG_INFO);
		return crash_child(argv[2], argv[3]);
	}
	store_log_init("test-bus", lvl != NULL && store_log_level_parse(lvl) >= 0 ?
	               (store_log_level)store_log_level_parse(lvl) : STORE_LOG_ERROR);
	test_config();
	if (!servers_find("nats-server", server_bin, sizeof server_bin)) {
		SKIP("nats-server is not installed: the bus tests against a real "
		     "server did not run");
		return CHECK_DONE();
	}
	servers_watch(&server_pid, tmpdir);
	if (mkdtemp(tmpdir) == NULL || (port = servers_free_port()) <= 0) {
		EXPECT(0, "temporary folder and free port");
		return CHECK_DONE();
	}
	if (!server_start()) {
		EXPECT(0, "nats-server starts on port %d", port);
		return CHECK_DONE();
	}
	snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
	cfg = (store_bus_config){ url, "test", 1, 1000, 3, 20 };

	for (size_t i = 0; i < store_bus_ncollections; i++)
		colls[ncolls++] = store_bus_collections[i];
	colls[ncolls++] = test_colls[0];
	snprintf(path, sizeof path, "sqlite:%s/bus.db", tmpdir);
	EXPECT(store_db_open(path, colls, ncolls, &db, err, sizeof err) == STORE_OK,
	      "sqlite outbox opens (%s)", err);
	EXPECT(store_bus_open(&cfg, db, &bus, err, sizeof err) == STORE_OK &&
	      store_bus_ping(bus) == STORE_OK, "bus opens and is connected (%s)", err);
	EXPECT(inspector_connect(), "the test connects to look");
	if (db == NULL || bus == NULL || insp_js == NULL)
		goto out;

	test_processed();
	test_stream();
	test_outbox();
	test_rollback();
	test_duplicates();
	test_batch();
	test_publish_async();
	test_listen_ack();
	test_pull_gather();
	test_pull_close_busy();
	test_listen_later();
	test_listen_malformed();
	test_listen_poison();
	test_listen_lost();
	test_listen_crash();
	test_listen_batch_poison();
	test_relay_republish();
	test_share();
	test_nats_down();
	test_consumer_lost();
out:
	store_bus_free(bus);
	if (db != NULL) {
		/* The bus took its commit hook back: a commit that adds events
		 * now must not reach the freed bus (ASan would say so). */
		add_ctx a = { "store.item.after", 0, 1, NULL, STORE_OK, "" };

		EXPECT(store_db_txn(db, add_events, &a) == STORE_OK,
		      "after store_bus_free, a commit that adds events reaches no bus");
	}
	store_db_free(db);
	jsCtx_Destroy(insp_js);
	natsConnection_Destroy(insp_nc);
	nats_CloseAndWait(5000);
	rc = CHECK_DONE();
	servers_cleanup();
	return rc;
}
