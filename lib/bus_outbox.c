/* bus_outbox.c - the transactional outbox, its relay thread, and the
 * processed-event marks.
 *
 * An outbox row: {id = event id, version, subject, payload (object),
 * requestId (string or null), occurredAt (RFC 3339 UTC), published}.
 * The relay reads unpublished rows in id order, RELAY_BATCH at a time, as
 * stored text (a message's body is its row's payload text, not decoded and
 * encoded again), and publishes them asynchronously on a JetStream
 * context of its own, with two batches in flight: while JetStream answers
 * one batch, the next is read and sent; then the first one's acknowledged
 * rows, and only those, are marked published (with publishedAt) in one
 * transaction while the next one's answers come (store_db_set: the stored
 * rows change in place).
 * A row not acknowledged (NATS went away, a timeout) stays unpublished and
 * goes again in a later flush with the same Nats-Msg-Id, as does a row
 * published by a relay that died before marking it: JetStream drops the
 * second copy as a duplicate. Published rows are kept for OUTBOX_KEEP_S
 * (for on-call eyes and tests), then pruned; processed marks are pruned
 * once the stream no longer holds their events. */
#include "bus_impl.h"
#include "json_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/log.h"
#include "store/oid.h"
#include "store/time.h"

#define RELAY_BATCH        1000    /* rows read and published together */
#define RELAY_INFLIGHT     (2 * RELAY_BATCH)   /* two batches in flight */
#define RELAY_ROUNDS_MAX   100     /* batches per flush, then yield */
#define PRUNE_BATCH        500     /* rows pruned per transaction */
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

/* This thread added outbox rows since its last commit (relay_wake). */
static _Thread_local bool outbox_pending;

/* The database's commit hook (store_db_on_commit): wakes the relay after a
 * commit in which this thread added outbox rows, and only then. A row of a
 * rolled-back transaction leaves the flag set until the thread's next
 * commit: a needless wake-up at worst. */
static void
relay_wake(void *ctx)
{
	if (outbox_pending) {
		outbox_pending = false;
		store_bus_kick(ctx);
	}
}

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
	if (e == STORE_OK)
		outbox_pending = true;
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

/* The members of an outbox row its message is made of. */
static const struct json_key row_keys[] = {
	JSON_KEY("subject"), JSON_KEY("payload"), JSON_KEY("requestId"),
	JSON_KEY("occurredAt"),
};
enum { ROW_SUBJECT, ROW_PAYLOAD, ROW_REQUEST, ROW_AT, ROW_KEYS };

/* The string whose text (quotes included) is v, into buf (cap bytes) and
 * *out when it holds no escape and fits; *out NULL when v is absent or not
 * a string (as json_string_value). false when only decoding it tells. */
static bool
span_str(struct json_span v, char *buf, size_t cap, const char **out)
{
	*out = NULL;
	if (v.s == NULL || v.s[0] != '"')
		return true;
	if (v.n - 2 >= cap || memchr(v.s + 1, '\\', v.n - 2) != NULL)
		return false;
	memcpy(buf, v.s + 1, v.n - 2);
	buf[v.n - 2] = '\0';
	*out = buf;
	return true;
}

/* row_msg from a row's stored text (store_db_find_text), without decoding
 * it: the payload's text is the message's body as it is stored. A row this
 * cannot make a message of (strings with escapes, text jansson would write
 * otherwise, a malformed or too big row) is decoded and goes through
 * row_msg, which alone judges and logs it. */
static store_err
row_msg_text(const store_db_text *t, natsMsg **out)
{
	char subject[BUS_SUBJECT_MAX + 1], req[BUS_HDR_MAX + 1], at[BUS_TIME_LEN + 1];
	const char *sub = NULL, *rq = NULL, *oc = NULL;
	struct json_span v[ROW_KEYS];
	json_t *doc = NULL;
	store_err e;

	*out = NULL;
	if (json_members(t->body, t->len, row_keys, ROW_KEYS, v) &&
	    span_str(v[ROW_SUBJECT], subject, sizeof subject, &sub) &&
	    span_str(v[ROW_REQUEST], req, sizeof req, &rq) &&
	    span_str(v[ROW_AT], at, sizeof at, &oc) && bus_subject_ok(sub) &&
	    v[ROW_PAYLOAD].s != NULL && v[ROW_PAYLOAD].s[0] == '{') {
		e = bus_msg_new(sub, v[ROW_PAYLOAD].s, v[ROW_PAYLOAD].n, t->id, rq, oc, out);
		if (e == STORE_OK || e == STORE_ENOMEM)
			return e;
	}
	/* Text that is no object decodes as an empty row: malformed. */
	doc = json_loadb(t->body, t->len, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		doc = json_object();
	}
	if (doc == NULL || json_object_set_new(doc, "id", json_string(t->id)) != 0) {
		json_decref(doc);
		return STORE_ENOMEM;
	}
	e = row_msg(doc, out);
	json_decref(doc);
	return e;
}

/* ---- the relay's publishes --------------------------------------------- */

/* One outbox row in flight and what JetStream answered. */
struct relay_row {
	const store_db_text *t;       /* the stored row (id, version); the batch's */
	bool answered;                /* JetStream (or the library) answered */
	bool acked;                   /* stored, or a duplicate of a stored one */
	bool bad;                     /* malformed: marked published, not sent */
};

/* Up to RELAY_BATCH rows read together, published asynchronously. */
struct relay_batch {
	store_db_texts *texts;        /* the outbox rows as stored; owned */
	struct relay_row *rows;
	size_t n;
	size_t sent, answered;        /* under bus->out.mu */
	size_t hint;                  /* where the next answer probably is */
	natsStatus send_err;          /* a publish the library refused */
	natsStatus last_err;          /* the last negative answer, for the log */
	jsErrCode last_je;
	bool slotted;                 /* in bus->out.inflight */
};

/* jsOptions.PublishAsync.AckHandler of the relay's context: the answer
 * for one message, found by its Nats-Msg-Id among the batches in flight
 * (a batch already given up is not there: its rows stay unpublished). */
static void
relay_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	store_bus *bus = closure;
	const char *id = NULL;

	(void)js;
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK)
		id = NULL;
	pthread_mutex_lock(&bus->out.mu);
	/* Answers come in publish order: first where each batch's next one
	 * is expected, then anywhere. */
	for (int k = 0; k < 4 && id != NULL; k++) {
		struct relay_batch *b = bus->out.inflight[k % 2];
		size_t i = SIZE_MAX;

		if (b == NULL || b->n == 0)
			continue;
		for (size_t j = 0; j < (k < 2 ? 1 : b->n); j++) {
			size_t at = (b->hint + j) % b->n;

			if (!b->rows[at].answered && !b->rows[at].bad &&
			    strcmp(b->rows[at].t->id, id) == 0) {
				i = at;
				break;
			}
		}
		if (i == SIZE_MAX)
			continue;
		b->rows[i].answered = true;
		b->rows[i].acked = pa != NULL;
		b->hint = i + 1;
		b->answered++;
		if (pa == NULL && pae != NULL) {
			b->last_err = pae->Err;
			b->last_je = pae->ErrCode;
		}
		/* One wake-up per batch, not per answer: the relay waits
		 * for all of them (batch_wait), once sent is final. */
		if (b->answered >= b->sent)
			pthread_cond_broadcast(&bus->out.cond);
		break;
	}
	pthread_mutex_unlock(&bus->out.mu);
	if (pae != NULL && (pae->Err == NATS_NO_RESPONDERS ||
	                    pae->ErrCode == JSStreamNotFoundErr))
		atomic_store(&bus->stream_ok, false);
	natsMsg_Destroy(msg);
}

/* The relay's JetStream context: RELAY_INFLIGHT publishes pending at
 * most, answers to relay_ack. */
static store_err
relay_js(store_bus *bus)
{
	jsOptions jo;

	if (bus->out.js != NULL)
		return STORE_OK;
	jsOptions_Init(&jo);
	jo.Wait = BUS_API_WAIT_MS;
	jo.PublishAsync.MaxPending = RELAY_INFLIGHT;
	jo.PublishAsync.AckHandler = relay_ack;
	jo.PublishAsync.AckHandlerClosure = bus;
	return natsConnection_JetStream(&bus->out.js, bus->nc, &jo) == NATS_OK ?
	       STORE_OK : STORE_EUNAVAIL;
}

static void
batch_free(struct relay_batch *b)
{
	if (b == NULL)
		return;
	store_db_texts_free(b->texts);
	free(b->rows);
	free(b);
}

/* Reads up to RELAY_BATCH unpublished rows after the first skip of them
 * (those in flight) into *out, as stored text; *out is NULL when there is
 * none. Caller frees *out with batch_free. */
static store_err
batch_read(store_bus *bus, const json_t *filter, size_t skip,
           struct relay_batch **out)
{
	store_find_opts opts = { .limit = RELAY_BATCH, .skip = skip };
	struct relay_batch *b = NULL;
	store_db_texts *texts = NULL;
	store_err e;

	*out = NULL;
	if ((e = store_db_find_text(bus->db, "outbox", filter, &opts, &texts)) != STORE_OK) {
		store_error("outbox relay cannot read the outbox: %s (%s)",
		            store_strerror(e), store_db_errmsg(bus->db));
		return e;
	}
	if (texts->n == 0) {
		store_db_texts_free(texts);
		return STORE_OK;
	}
	if ((b = calloc(1, sizeof *b)) == NULL ||
	    (b->rows = calloc(texts->n, sizeof *b->rows)) == NULL) {
		free(b);
		store_db_texts_free(texts);
		return STORE_ENOMEM;
	}
	b->texts = texts;
	b->n = texts->n;
	for (size_t i = 0; i < b->n; i++) {
		b->rows[i].t = &texts->docs[i];
	}
	*out = b;
	return STORE_OK;
}

/* Puts b in flight and publishes its rows asynchronously, without
 * waiting for the answers (relay_ack records them). A malformed row is
 * not sent: it is marked published as failed, not to block the rest. */
static void
batch_send(store_bus *bus, struct relay_batch *b)
{
	jsPubOptions po;
	natsMsg *m = NULL;
	natsStatus s = NATS_OK;

	pthread_mutex_lock(&bus->out.mu);
	bus->out.inflight[bus->out.inflight[0] == NULL ? 0 : 1] = b;
	b->slotted = true;
	pthread_mutex_unlock(&bus->out.mu);
	jsPubOptions_Init(&po);
	po.MaxWait = BUS_PUB_WAIT_MS;
	for (size_t i = 0; i < b->n && s == NATS_OK; i++) {
		store_err re = row_msg_text(b->rows[i].t, &m);

		if (re == STORE_EINVAL || re == STORE_ETOOBIG) {
			pthread_mutex_lock(&bus->out.mu);
			b->rows[i].bad = b->rows[i].acked = true;
			pthread_mutex_unlock(&bus->out.mu);
			continue;
		}
		if (re != STORE_OK) {
			s = NATS_NO_MEMORY;
			break;
		}
		s = js_PublishMsgAsync(bus->out.js, &m, &po);
		natsMsg_Destroy(m);     /* NULL when the library took it */
		m = NULL;
		if (s == NATS_OK) {
			pthread_mutex_lock(&bus->out.mu);
			b->sent++;
			pthread_mutex_unlock(&bus->out.mu);
		}
	}
	b->send_err = s;
}

/* Waits for the answers to b's publishes (each has a MaxWait, so they
 * come; bounded anyway), then takes b out of flight: an answer after that
 * finds nothing, and its row stays unpublished. */
static void
batch_wait(store_bus *bus, struct relay_batch *b)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (BUS_PUB_WAIT_MS + 1000) / 1000;
	pthread_mutex_lock(&bus->out.mu);
	while (b->answered < b->sent && rc == 0)
		rc = pthread_cond_timedwait(&bus->out.cond, &bus->out.mu, &until);
	for (int k = 0; k < 2; k++)
		if (bus->out.inflight[k] == b)
			bus->out.inflight[k] = NULL;
	b->slotted = false;
	pthread_mutex_unlock(&bus->out.mu);
}

struct mark_ctx {
	struct relay_batch *b;
	const char *at;
};

/* Marks the acknowledged rows published, setting two members of each
 * stored row (store_db_set: no row decoded or encoded here); re-runnable. */
static store_err
mark_published(store_db *db, void *arg)
{
	struct mark_ctx *c = arg;
	struct relay_row *r;
	json_t *set = NULL, *set_bad = NULL;
	store_err e = STORE_OK;

	set = json_pack("{s:b,s:s}", "published", 1, "publishedAt", c->at);
	set_bad = json_pack("{s:b,s:s,s:s}", "published", 1, "publishedAt", c->at,
	                    "failed", "malformed");
	if (set == NULL || set_bad == NULL)
		e = STORE_ENOMEM;
	for (size_t i = 0; i < c->b->n && e == STORE_OK; i++) {
		r = &c->b->rows[i];
		if (!r->acked)
			continue;
		e = store_db_set(db, "outbox", r->t->id, r->t->version, r->bad ? set_bad : set,
		                 NULL);
		/* Another relay marked it first: just as good. */
		if (e == STORE_ECONFLICT || e == STORE_ENOTFOUND)
			e = STORE_OK;
	}
	json_decref(set);
	json_decref(set_bad);
	return e;
}

/* Waits for b's answers and marks the acknowledged rows published, only
 * those (EVENTS.md rule 1). STORE_EUNAVAIL when any row was not
 * acknowledged. Frees b. */
static store_err
batch_finish(store_bus *bus, struct relay_batch *b)
{
	struct mark_ctx mc;
	char at[BUS_TIME_LEN];
	size_t acked = 0;
	store_err e = STORE_OK, me;

	batch_wait(bus, b);
	for (size_t i = 0; i < b->n; i++)
		acked += b->rows[i].acked;
	if (acked < b->n) {
		store_warn("outbox relay: %zu of %zu events not acknowledged: %s "
		           "(jetstream error %d)", b->n - acked, b->n,
		           natsStatus_GetText(b->send_err != NATS_OK ? b->send_err :
		                              b->last_err != NATS_OK ? b->last_err :
		                              NATS_TIMEOUT),
		           (int)b->last_je);
		e = STORE_EUNAVAIL;
	}
	if (acked > 0) {
		store_time_format(store_time_now_ms(), true, at);
		mc = (struct mark_ctx){ b, at };
		if ((me = store_db_txn(bus->db, mark_published, &mc)) != STORE_OK) {
			/* Published anyway; the next round publishes them again
			 * and JetStream drops the duplicates. */
			store_error("outbox relay cannot mark events published: %s",
			            store_db_errmsg(bus->db));
			if (e == STORE_OK)
				e = me;
		}
	}
	batch_free(b);
	return e;
}

/* Publishes unpublished rows until none is left (STORE_OK), or a batch
 * fails, or RELAY_ROUNDS_MAX batches went (*more set). Two batches are in
 * flight: the next one is read and sent while JetStream answers the one
 * before, which is then marked while the next one's answers come. */
static store_err
flush_all(store_bus *bus, bool *more)
{
	struct relay_batch *cur = NULL, *next = NULL;
	json_t *filter = NULL;
	store_err e = STORE_OK, fe;

	*more = false;
	filter = json_pack("{s:b}", "published", 0);
	if (filter == NULL)
		return STORE_ENOMEM;
	pthread_mutex_lock(&bus->flush_mu);
	for (int round = 0; e == STORE_OK; round++) {
		if (round == RELAY_ROUNDS_MAX) {
			*more = true;
			break;
		}
		/* The rows of cur are still unpublished: the next ones follow. */
		if ((e = batch_read(bus, filter, cur != NULL ? cur->n : 0, &next)) != STORE_OK ||
		    next == NULL)
			break;
		/* Not into the reconnect buffer: it would only time out. */
		if (!bus_connected(bus) || relay_js(bus) != STORE_OK) {
			e = STORE_EUNAVAIL;
			break;
		}
		if ((e = bus_stream_ensure(bus)) != STORE_OK)
			break;
		batch_send(bus, next);
		if (next->send_err != NATS_OK)
			e = STORE_EUNAVAIL;
		if (cur != NULL && (fe = batch_finish(bus, cur)) != STORE_OK && e == STORE_OK)
			e = fe;
		cur = next;
		next = NULL;
		if (cur->n < RELAY_BATCH)
			break;          /* that was the last of them */
	}
	batch_free(next);       /* read, never sent */
	if (cur != NULL && (fe = batch_finish(bus, cur)) != STORE_OK && e == STORE_OK)
		e = fe;
	pthread_mutex_unlock(&bus->flush_mu);
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

/* Deletes up to PRUNE_BATCH of coll's oldest rows matching filter (may be
 * NULL) made before now - keep_s. */
static void
prune(store_bus *bus, const char *coll, const json_t *filter, long long keep_s)
{
	store_find_opts opts = { .limit = PRUNE_BATCH };
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
	/* Counts a crash left behind (bus_attempts.c). */
	prune(bus, BUS_ATTEMPTS, NULL,
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
	pthread_condattr_t ca;

	if (!bus->out.ready) {
		if (pthread_mutex_init(&bus->out.mu, NULL) != 0 ||
		    pthread_condattr_init(&ca) != 0)
			return STORE_ENOMEM;
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (pthread_cond_init(&bus->out.cond, &ca) != 0) {
			pthread_condattr_destroy(&ca);
			return STORE_ENOMEM;
		}
		pthread_condattr_destroy(&ca);
		bus->out.ready = true;
	}
	/* Before the thread: its own transactions (the prune) read the hook,
	 * and must never see the function without its argument. */
	store_db_on_commit(bus->db, relay_wake, bus);
	if (pthread_create(&bus->relay, NULL, relay_main, bus) != 0) {
		store_db_on_commit(bus->db, NULL, NULL);
		return STORE_ENOMEM;
	}
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
	store_db_on_commit(bus->db, NULL, NULL);
	/* The mutex and condition stay until the bus is freed: an answer
	 * to a publish given up may still come and look for its batch. */
	jsCtx_Destroy(bus->out.js);
	bus->out.js = NULL;
}
