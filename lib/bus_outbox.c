/* bus_outbox.c - the transactional outbox, its relay thread, and the
 * processed-event marks.
 *
 * An outbox row: {id = event id, version, subject, payload (object),
 * requestId (string or null), occurredAt (RFC 3339 UTC), published}.
 * The relay finds unpublished rows in id order, BUS_BATCH at a time,
 * publishes them asynchronously (at most BUS_BATCH in flight), waits for
 * JetStream's answers, and marks the acknowledged ones published (with
 * publishedAt) in one transaction. Published rows are kept for
 * OUTBOX_KEEP_S (for on-call eyes and tests), then pruned; processed marks
 * are pruned once the stream no longer holds their events. */
#include "bus_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/log.h"
#include "store/oid.h"
#include "store/time.h"

#define BUS_BATCH          500     /* rows per flush round, and in flight */
#define RELAY_ROUNDS_MAX   100     /* rounds per flush, then yield */
#define RELAY_IDLE_MS      1000    /* look at the outbox this often anyway */
#define RELAY_BACKOFF_MIN  100     /* ms, while NATS is down */
#define RELAY_BACKOFF_MAX  5000
#define RELAY_PRUNE_S      60      /* prune this often */
#define OUTBOX_KEEP_S      3600    /* published rows kept this long */
#define PROCESSED_MARGIN_S 86400   /* marks outlive the stream by this */
#define CONSUMER_MAX       (2 * BUS_NAME_MAX + 2)
#define KEY_MAX            (CONSUMER_MAX + BUS_ID_MAX + 2)

const store_collection store_bus_collections[] = {
	STORE_BUS_COLLECTIONS,
};
const size_t store_bus_ncollections =
	sizeof store_bus_collections / sizeof *store_bus_collections;

/* ---- writing ------------------------------------------------------------ */

store_err
store_outbox_add(store_db *db, const char *subject, const json_t *payload,
                 const char *request_id, char event_id[25])
{
	char id[STORE_OID_LEN + 1], at[BUS_TIME_LEN], req[BUS_HDR_MAX];
	json_t *doc = NULL;
	store_err e;

	if (event_id != NULL)
		event_id[0] = '\0';
	if (db == NULL || !bus_subject_ok(subject) || !json_is_object(payload))
		return STORE_EINVAL;
	if (json_dumpb(payload, NULL, 0, JSON_COMPACT) > BUS_PAYLOAD_MAX)
		return STORE_ETOOBIG;
	if (request_id != NULL)
		bus_header_value(req, request_id);
	store_oid_new(id);
	store_time_format(store_time_now_ms(), true, at);
	/* "O" takes a new reference: payload stays the caller's. */
	doc = json_pack("{s:s,s:s,s:O,s:s?,s:s,s:b}", "id", id, "subject", subject,
	                "payload", payload, "requestId",
	                request_id != NULL ? req : NULL, "occurredAt", at,
	                "published", 0);
	if (doc == NULL)
		return STORE_ENOMEM;
	e = store_db_insert(db, "outbox", doc, NULL);
	if (e == STORE_OK && event_id != NULL)
		memcpy(event_id, id, sizeof id);
	json_decref(doc);
	return e;
}

store_err
store_processed_mark(store_db *db, const char *consumer, const char *event_id)
{
	char key[KEY_MAX], at[BUS_TIME_LEN];
	json_t *doc = NULL;
	store_err e;

	if (db == NULL || consumer == NULL || event_id == NULL ||
	    consumer[0] == '\0' || event_id[0] == '\0' ||
	    strlen(consumer) > CONSUMER_MAX || strlen(event_id) > BUS_ID_MAX)
		return STORE_EINVAL;
	snprintf(key, sizeof key, "%s:%s", consumer, event_id);
	store_time_format(store_time_now_ms(), true, at);
	doc = json_pack("{s:s,s:s}", "key", key, "at", at);
	if (doc == NULL)
		return STORE_ENOMEM;
	e = store_db_insert(db, "processed", doc, NULL);
	json_decref(doc);
	return e;
}

/* ---- publishing a batch ------------------------------------------------- */

void
bus_relay_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
              void *closure)
{
	store_bus *bus = closure;
	struct bus_batch *b;
	const char *id = NULL;

	(void)js;
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK)
		id = NULL;
	pthread_mutex_lock(&bus->batch_mu);
	b = bus->batch;
	if (b != NULL && pa != NULL && id != NULL) {
		for (size_t k = 0; k < b->n; k++) {
			size_t i = (b->hint + k) % b->n;

			if (strcmp(b->rows[i].id, id) == 0) {
				b->rows[i].acked = true;
				b->hint = i + 1;
				break;
			}
		}
	} else if (b != NULL && pae != NULL) {
		b->failed++;
		b->last_err = pae->Err;
		b->last_je = pae->ErrCode;
	}
	pthread_mutex_unlock(&bus->batch_mu);
	if (pae != NULL && (pae->Err == NATS_NO_RESPONDERS ||
	                    pae->ErrCode == JSStreamNotFoundErr))
		atomic_store(&bus->stream_ok, false);
	natsMsg_Destroy(msg);
}

/* The message for an outbox row into *out: STORE_EINVAL (logged) when the
 * row is malformed. Caller frees *out with natsMsg_Destroy. */
static store_err
row_msg(const json_t *doc, natsMsg **out)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	const char *subject = json_string_value(json_object_get(doc, "subject"));
	const json_t *payload = json_object_get(doc, "payload");
	char *data = NULL;
	store_err e;

	*out = NULL;
	if (id == NULL || !bus_subject_ok(subject) || !json_is_object(payload)) {
		store_log(STORE_LOG_ERROR, NULL, id, "outbox row is malformed, "
		          "giving it up");
		return STORE_EINVAL;
	}
	data = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (data == NULL)
		return STORE_ENOMEM;
	e = bus_msg_new(subject, data, strlen(data), id,
	                json_string_value(json_object_get(doc, "requestId")),
	                json_string_value(json_object_get(doc, "occurredAt")), out);
	if (e == STORE_ETOOBIG)
		store_log(STORE_LOG_ERROR, NULL, id, "outbox row is too big, "
		          "giving it up");
	free(data);
	return e;
}

struct mark_ctx {
	struct bus_row *rows;
	size_t n;
	const char *at;
};

/* Marks the acknowledged rows published; re-runnable (works on copies). */
static store_err
mark_published(store_db *db, void *arg)
{
	struct mark_ctx *c = arg;
	json_t *d = NULL;
	store_err e = STORE_OK;

	for (size_t i = 0; i < c->n && e == STORE_OK; i++) {
		if (!c->rows[i].acked)
			continue;
		d = json_copy(c->rows[i].doc);
		if (d == NULL ||
		    json_object_set_new(d, "version", json_integer(json_integer_value(
		        json_object_get(c->rows[i].doc, "version")))) != 0 ||
		    json_object_set_new(d, "published", json_true()) != 0 ||
		    json_object_set_new(d, "publishedAt", json_string(c->at)) != 0 ||
		    (c->rows[i].bad &&
		     json_object_set_new(d, "failed", json_string("malformed")) != 0)) {
			e = STORE_ENOMEM;
		} else {
			e = store_db_update(db, "outbox", d, NULL);
			/* Another relay marked it first: just as good. */
			if (e == STORE_ECONFLICT || e == STORE_ENOTFOUND)
				e = STORE_OK;
		}
		json_decref(d);
	}
	return e;
}

/* Publishes rows (an array of outbox documents) and marks those JetStream
 * acknowledged. STORE_EUNAVAIL when any was not acknowledged. */
static store_err
publish_rows(store_bus *bus, json_t *rows)
{
	struct bus_batch b = { 0 };
	struct mark_ctx mc;
	char at[BUS_TIME_LEN];
	jsPubOptions po;
	natsMsgList pending = { 0 };
	natsMsg *m = NULL;
	natsStatus s = NATS_OK;
	size_t sent = 0, acked = 0;
	store_err e = STORE_OK;

	b.n = json_array_size(rows);
	b.rows = calloc(b.n, sizeof *b.rows);
	if (b.rows == NULL)
		return STORE_ENOMEM;
	for (size_t i = 0; i < b.n; i++) {
		b.rows[i].doc = json_array_get(rows, i);
		b.rows[i].id = json_string_value(json_object_get(b.rows[i].doc, "id"));
		if (b.rows[i].id == NULL)
			b.rows[i].id = "";
	}
	pthread_mutex_lock(&bus->batch_mu);
	bus->batch = &b;
	pthread_mutex_unlock(&bus->batch_mu);

	jsPubOptions_Init(&po);
	po.MaxWait = BUS_PUB_WAIT_MS;
	for (size_t i = 0; i < b.n && s == NATS_OK; i++) {
		store_err re = row_msg(b.rows[i].doc, &m);

		if (re == STORE_EINVAL || re == STORE_ETOOBIG) {
			/* It can never be sent: mark it, don't block the rest. */
			b.rows[i].bad = b.rows[i].acked = true;
			continue;
		}
		if (re != STORE_OK)
			break;
		s = js_PublishMsgAsync(bus->js, &m, &po);
		natsMsg_Destroy(m);     /* NULL when the library took it */
		if (s == NATS_OK)
			sent++;
	}
	/* Every publish has a MaxWait, so this ends; bound it anyway. */
	po.MaxWait = BUS_PUB_WAIT_MS + 1000;
	if (sent > 0 && js_PublishAsyncComplete(bus->js, &po) != NATS_OK &&
	    js_PublishAsyncGetPendingList(&pending, bus->js) == NATS_OK)
		natsMsgList_Destroy(&pending);

	pthread_mutex_lock(&bus->batch_mu);
	bus->batch = NULL;
	pthread_mutex_unlock(&bus->batch_mu);
	for (size_t i = 0; i < b.n; i++)
		acked += b.rows[i].acked;
	if (s != NATS_OK || acked < b.n) {
		store_warn("outbox relay: %zu of %zu events not acknowledged: %s "
		           "(jetstream error %d)", b.n - acked, b.n,
		           natsStatus_GetText(s != NATS_OK ? s : b.last_err),
		           (int)b.last_je);
		e = STORE_EUNAVAIL;
	}
	if (acked > 0) {
		store_time_format(store_time_now_ms(), true, at);
		mc = (struct mark_ctx){ b.rows, b.n, at };
		store_err me = store_db_txn(bus->db, mark_published, &mc);
		if (me != STORE_OK) {
			/* Published anyway; the next round publishes them again
			 * and JetStream drops the duplicates. */
			store_error("outbox relay cannot mark events published: %s",
			            store_db_errmsg(bus->db));
			if (e == STORE_OK)
				e = me;
		}
	}
	free(b.rows);
	return e;
}

/* Publishes unpublished rows until none is left (STORE_OK), or a round
 * fails, or RELAY_ROUNDS_MAX rounds ran (*more set). */
static store_err
flush_all(store_bus *bus, bool *more)
{
	store_find_opts opts = { .limit = BUS_BATCH };
	json_t *filter = NULL, *rows = NULL;
	store_err e = STORE_OK;
	size_t n = BUS_BATCH;

	*more = false;
	filter = json_pack("{s:b}", "published", 0);
	if (filter == NULL)
		return STORE_ENOMEM;
	pthread_mutex_lock(&bus->flush_mu);
	for (int round = 0; n == BUS_BATCH && e == STORE_OK; round++) {
		if (round == RELAY_ROUNDS_MAX) {
			*more = true;
			break;
		}
		json_decref(rows);
		rows = NULL;
		if ((e = store_db_find(bus->db, "outbox", filter, &opts, &rows)) != STORE_OK) {
			store_error("outbox relay cannot read the outbox: %s (%s)",
			            store_strerror(e), store_db_errmsg(bus->db));
			break;
		}
		if ((n = json_array_size(rows)) == 0)
			break;
		/* Not into the reconnect buffer: it would only time out. */
		if (!bus_connected(bus)) {
			e = STORE_EUNAVAIL;
			break;
		}
		if ((e = bus_stream_ensure(bus)) != STORE_OK)
			break;
		e = publish_rows(bus, rows);
	}
	pthread_mutex_unlock(&bus->flush_mu);
	json_decref(rows);
	json_decref(filter);
	return e;
}

store_err
store_bus_flush(store_bus *bus)
{
	bool more = false;
	store_err e;

	if (bus == NULL || bus->db == NULL)
		return STORE_EINVAL;
	e = flush_all(bus, &more);
	if (more)
		store_bus_kick(bus);
	return e == STORE_OK ? STORE_OK : STORE_EUNAVAIL;
}

/* ---- pruning ------------------------------------------------------------ */

/* Seconds since the epoch in an ObjectId (its first 4 bytes). */
static long long
oid_seconds(const char *id)
{
	char hex[9];

	if (!store_oid_valid(id))
		return -1;
	memcpy(hex, id, 8);
	hex[8] = '\0';
	return strtoll(hex, NULL, 16);
}

struct prune_ctx {
	const char *coll;
	json_t *rows;
	long long cutoff;
	size_t deleted;
};

static store_err
prune_rows(store_db *db, void *arg)
{
	struct prune_ctx *c = arg;
	store_err e = STORE_OK;

	c->deleted = 0;
	for (size_t i = 0; i < json_array_size(c->rows) && e == STORE_OK; i++) {
		json_t *r = json_array_get(c->rows, i);
		const char *id = json_string_value(json_object_get(r, "id"));
		long long secs = oid_seconds(id);

		if (secs < 0 || secs >= c->cutoff)
			break;      /* id order: the rest are newer */
		e = store_db_delete(db, c->coll, id,
		                    json_integer_value(json_object_get(r, "version")));
		if (e == STORE_ECONFLICT || e == STORE_ENOTFOUND)
			e = STORE_OK;
		else if (e == STORE_OK)
			c->deleted++;
	}
	return e;
}

/* Deletes up to BUS_BATCH of coll's oldest rows matching filter (may be
 * NULL) made before now - keep_s. */
static void
prune(store_bus *bus, const char *coll, const json_t *filter, long long keep_s)
{
	store_find_opts opts = { .limit = BUS_BATCH };
	struct prune_ctx c = { coll, NULL, (long long)time(NULL) - keep_s, 0 };

	if (store_db_find(bus->db, coll, filter, &opts, &c.rows) != STORE_OK ||
	    store_db_txn(bus->db, prune_rows, &c) != STORE_OK)
		store_warn("cannot prune '%s': %s", coll, store_db_errmsg(bus->db));
	else if (c.deleted > 0)
		store_debug("pruned %zu rows of '%s'", c.deleted, coll);
	json_decref(c.rows);
}

static void
prune_all(store_bus *bus)
{
	json_t *published = json_pack("{s:b}", "published", 1);

	if (published != NULL)
		prune(bus, "outbox", published, OUTBOX_KEEP_S);
	prune(bus, "processed", NULL,
	      bus->cfg.max_age_days * 86400LL + PROCESSED_MARGIN_S);
	json_decref(published);
}

/* ---- the relay thread --------------------------------------------------- */

static void
deadline_after(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
relay_main(void *arg)
{
	store_bus *bus = arg;
	struct timespec until, now;
	time_t last_prune = 0;
	long backoff = 0;
	bool more = false;
	store_err e;

	pthread_mutex_lock(&bus->mu);
	while (!bus->stopping) {
		if (!bus->kicked) {
			deadline_after(&until, backoff > 0 ? backoff : RELAY_IDLE_MS);
			pthread_cond_timedwait(&bus->cond, &bus->mu, &until);
		}
		if (bus->stopping)
			break;
		bus->kicked = false;
		pthread_mutex_unlock(&bus->mu);

		e = flush_all(bus, &more);
		if (e == STORE_OK) {
			if (backoff > 0)
				store_info("outbox relay publishing again");
			backoff = 0;
		} else {
			if (backoff == 0)
				store_warn("outbox relay cannot publish (%s), retrying",
				           store_strerror(e));
			backoff = backoff == 0 ? RELAY_BACKOFF_MIN :
			          backoff * 2 > RELAY_BACKOFF_MAX ? RELAY_BACKOFF_MAX :
			          backoff * 2;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - last_prune >= RELAY_PRUNE_S) {
			last_prune = now.tv_sec;
			prune_all(bus);
		}

		pthread_mutex_lock(&bus->mu);
		if (more && e == STORE_OK)
			bus->kicked = true;
	}
	pthread_mutex_unlock(&bus->mu);
	/* One last attempt, so a clean stop leaves nothing behind. */
	if (bus_connected(bus))
		(void)flush_all(bus, &more);
	return NULL;
}

store_err
bus_relay_start(store_bus *bus)
{
	if (pthread_create(&bus->relay, NULL, relay_main, bus) != 0)
		return STORE_ENOMEM;
	bus->relay_started = true;
	return STORE_OK;
}

void
bus_relay_stop(store_bus *bus)
{
	if (!bus->relay_started)
		return;
	pthread_join(bus->relay, NULL);
	bus->relay_started = false;
}
