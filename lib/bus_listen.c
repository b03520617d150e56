/* bus_listen.c - durable pull consumers and their fetch loops.
 *
 * Each listener gets a durable consumer "<service>-<event>" (dots in the
 * event become dashes) on subject "store.<event>", created explicitly
 * (js_AddConsumer creates it, or updates it when the settings changed) so
 * it outlives the process, and one thread fetching from it. Copies of the
 * program on the same durable share the work.
 *
 * The delivery bound is kept here, not by the server: the consumer has
 * MaxDeliver -1 (unlimited) and each message's attempts decide. That way
 * the last failing attempt is dead-lettered and acked by us, and a
 * message whose handler never answers (the process crashed or hung on it)
 * comes back once more and goes straight to the dead letters, instead of
 * being silently dropped by the server after its last delivery. Attempts
 * are counted by the bus's counter (its database's, bus_attempts.c, or
 * store_bus_set_counter's), as JetStream's delivery count also counts
 * deliveries lost on the way; without a counter they are the delivery
 * count.
 *
 * Failed attempts (STORE_ELATER and errors alike) are naked with a delay
 * that starts at nak_delay_ms and doubles per attempt up to 64 times that,
 * so a dependency that is down for a few seconds does not burn the
 * attempts in a millisecond.
 *
 * A listener takes up to FETCH_BATCH messages at a time (bus_pull.c): what
 * is there when it looks, and what comes within GATHER_MS after the first,
 * so that a steady flow is handled in batches, not one transaction per
 * message as it trickles in. When the bus has
 * a database (the service's), it calls their handlers inside one
 * transaction of it (the handlers' own transactions join it, db.h), so a
 * fetch costs one commit instead of one per message, and acks them after
 * that commit. The transaction stops taking messages after BATCH_TXN_MS
 * (commits, acks, and goes on in a new one), which bounds how long it
 * holds the database's write lock. A handler that fails rolls the
 * transaction back: the messages before it are committed again without
 * it, and its failure is its delivery's answer, so a poison message is
 * naked and dead-lettered as when alone while the others apply once. A
 * failure that cannot be pinned on one message (the commit failed) sends
 * the rest of the fetch one at a time, each in its own transaction. */
#include "bus_impl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/log.h"
#include "store/metrics.h"
#include "store/time.h"

#define LISTENERS_MAX     64
#define FETCH_BATCH       256      /* messages per fetch, and per transaction */
#define BATCH_TXN_MS      200      /* a fetch's transaction commits by then */
#define FETCH_WAIT_MS     500      /* one fetch; also the stop latency */
#define GATHER_MS         2        /* then what comes this soon joins it */
#define CHECK_IDLE_MS     5000     /* look for a lost consumer when idle */
#define ERRORS_RESUBSCRIBE 5       /* fetch errors in a row: start over */
#define RETRY_MIN_MS      100
#define RETRY_MAX_MS      2000
#define NAK_SHIFT_MAX     6        /* delay grows to nak_delay_ms << 6 */
#define NAK_DELAY_CAP_MS  600000
#define DEAD_HEADERS_MAX  64       /* headers copied to a dead letter */
#define MAX_ACK_PENDING   1000
#define REMAKE_GRACE_MS   500      /* a consumer gone: look again before */

struct listen_run {
	volatile sig_atomic_t *stop;  /* the caller's */
	atomic_bool abort;            /* a thread could not start */
};

struct lthread {
	store_bus *bus;
	const store_listener *l;
	void *ctx;
	struct listen_run *run;
	char durable[BUS_DURABLE_MAX];
	char subject[BUS_SUBJECT_MAX];
	struct lmsg *msgs;            /* FETCH_BATCH of them: one fetch */
	natsMsg **batch;              /* and their messages */
	pthread_t tid;
	bool started;
};

static bool
stopped(const struct lthread *t)
{
	return *t->run->stop || atomic_load(&t->run->abort);
}

/* Sleeps ms, waking early (within 50 ms) when the listener stops. */
static void
lsleep(const struct lthread *t, long ms)
{
	struct timespec ts;

	for (; ms > 0 && !stopped(t); ms -= 50) {
		ts.tv_sec = 0;
		ts.tv_nsec = (ms < 50 ? ms : 50) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

static long
next_retry(long ms)
{
	if (ms == 0)
		return RETRY_MIN_MS;
	return ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : ms * 2;
}

/* ---- the consumer ------------------------------------------------------- */

/* The consumer exists with another start point: storectl replay --to
 * re-made it delivering from a sequence or a time, and the server cannot
 * change a start point in place ("deliver policy can not be updated").
 * Keeps its start point in cc, so the rest of cc can be applied, and
 * says whether it is ours to use (same filter, explicit ack). */
static bool
consumer_adopt(struct lthread *t, jsConsumerConfig *cc)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode je = 0;
	bool ok;

	if (js_GetConsumerInfo(&ci, t->bus->js, STORE_STREAM, t->durable, NULL,
	                       &je) != NATS_OK)
		return false;
	ok = ci->Config != NULL && ci->Config->FilterSubject != NULL &&
	     strcmp(ci->Config->FilterSubject, t->subject) == 0 &&
	     ci->Config->AckPolicy == js_AckExplicit &&
	     ci->Config->DeliverPolicy != cc->DeliverPolicy;
	if (ok) {
		cc->DeliverPolicy = ci->Config->DeliverPolicy;
		cc->OptStartSeq = ci->Config->OptStartSeq;
		cc->OptStartTime = ci->Config->OptStartTime;
	}
	jsConsumerInfo_Destroy(ci);
	return ok;
}

/* Creates the durable consumer, or updates it to these settings (all but
 * a start point set by storectl, which stays: consumer_adopt). */
static store_err
consumer_ensure(struct lthread *t)
{
	jsConsumerConfig cc;
	jsConsumerInfo *ci = NULL;
	jsErrCode je = 0;
	natsStatus s;
	store_err e;

	if ((e = bus_stream_ensure(t->bus)) != STORE_OK)
		return e;
	jsConsumerConfig_Init(&cc);
	cc.Durable = t->durable;
	cc.FilterSubject = t->subject;
	cc.DeliverPolicy = js_DeliverAll;
	cc.AckPolicy = js_AckExplicit;
	cc.ReplayPolicy = js_ReplayInstant;
	cc.AckWait = (int64_t)t->bus->cfg.ack_wait_ms * 1000000LL;   /* ns */
	cc.MaxDeliver = -1;           /* the bound is ours: see the top */
	cc.MaxAckPending = MAX_ACK_PENDING;
	s = js_AddConsumer(&ci, t->bus->js, STORE_STREAM, &cc, NULL, &je);
	jsConsumerInfo_Destroy(ci);
	ci = NULL;
	if (s != NATS_OK && je != 0 && je != JSStreamNotFoundErr &&
	    consumer_adopt(t, &cc)) {
		store_info("consumer '%s' was re-driven from another start point "
		           "(storectl replay), keeping it", t->durable);
		je = 0;
		s = js_AddConsumer(&ci, t->bus->js, STORE_STREAM, &cc, NULL, &je);
		jsConsumerInfo_Destroy(ci);
	}
	if (s == NATS_OK)
		return STORE_OK;
	if (je == JSStreamNotFoundErr)
		atomic_store(&t->bus->stream_ok, false);
	store_warn("cannot make consumer '%s': %s (jetstream error %d)",
	           t->durable, natsStatus_GetText(s), (int)je);
	return STORE_EUNAVAIL;
}

/* Makes sure of the consumer and opens a reader on it. */
static store_err
subscribe(struct lthread *t, struct bus_pull *p)
{
	store_err e;

	if (!bus_connected(t->bus))
		return STORE_EUNAVAIL;
	if ((e = consumer_ensure(t)) != STORE_OK)
		return e;
	if ((e = bus_pull_open(p, t->bus, t->durable)) == STORE_OK)
		return STORE_OK;
	store_warn("cannot subscribe to consumer '%s': %s", t->durable,
	           store_strerror(e));
	bus_pull_close(p);
	return e;
}

/* An idle fetch cannot tell "no messages" from "no consumer" (it times out
 * either way), so now and then, and after every reconnect, look. */
static void
consumer_check(struct lthread *t)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode je = 0;
	natsStatus s;

	if (!bus_connected(t->bus))
		return;
	s = js_GetConsumerInfo(&ci, t->bus->js, STORE_STREAM, t->durable, NULL, &je);
	jsConsumerInfo_Destroy(ci);
	ci = NULL;
	if (s == NATS_OK || (je != JSConsumerNotFoundErr && je != JSStreamNotFoundErr))
		return;
	/* storectl replay --to deletes and re-makes it at once: give it the
	 * time to, rather than race it with a consumer from the start. */
	lsleep(t, REMAKE_GRACE_MS);
	je = 0;
	s = js_GetConsumerInfo(&ci, t->bus->js, STORE_STREAM, t->durable, NULL, &je);
	jsConsumerInfo_Destroy(ci);
	if (s == NATS_OK || (je != JSConsumerNotFoundErr && je != JSStreamNotFoundErr) ||
	    stopped(t))
		return;
	store_warn("consumer '%s' is gone, making it again", t->durable);
	if (je == JSStreamNotFoundErr)
		atomic_store(&t->bus->stream_ok, false);
	(void)consumer_ensure(t);
}

/* ---- one message -------------------------------------------------------- */

/* Copies msg, with its headers, to the dead letters. */
static store_err
dead_letter(struct lthread *t, natsMsg *msg, uint64_t seq, uint64_t delivered,
            long long attempts, const char *id, const char *why)
{
	char subj[BUS_SUBJECT_MAX + 64], dead_id[BUS_DURABLE_MAX + 32];
	char num[32], val[BUS_HDR_MAX];
	const char **keys = NULL, **vals = NULL;
	natsMsg *dm = NULL;
	natsStatus s;
	int nk = 0, nv = 0;
	store_err e = STORE_ENOMEM;

	if (!bus_connected(t->bus))
		return STORE_EUNAVAIL;
	snprintf(subj, sizeof subj, "%s%s", STORE_DEAD_PREFIX,
	         natsMsg_GetSubject(msg));
	s = natsMsg_Create(&dm, subj, NULL, natsMsg_GetData(msg),
	                   natsMsg_GetDataLength(msg));
	if (s != NATS_OK)
		goto out;
	if (natsMsgHeader_Keys(msg, &keys, &nk) != NATS_OK)
		nk = 0;
	for (int i = 0; i < nk && i < DEAD_HEADERS_MAX && s == NATS_OK; i++) {
		if (strncmp(keys[i], "Nats-", 5) == 0)
			continue;       /* the server's and the msg id: not copied */
		if (natsMsgHeader_Values(msg, keys[i], &vals, &nv) != NATS_OK)
			continue;
		for (int j = 0; j < nv && s == NATS_OK; j++)
			s = natsMsgHeader_Add(dm, keys[i], vals[j]);
		free((void *)vals);
		vals = NULL;
	}
	snprintf(dead_id, sizeof dead_id, "dead-%s-%llu", t->durable,
	         (unsigned long long)seq);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(dm, "Nats-Msg-Id", dead_id);
	if (s == NATS_OK && id != NULL) {
		bus_header_value(val, id);
		s = natsMsgHeader_Set(dm, STORE_HDR_EVENT_ID, val);
	}
	bus_header_value(val, why);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(dm, STORE_HDR_ERROR, val);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(dm, STORE_HDR_CONSUMER, t->durable);
	snprintf(num, sizeof num, "%llu", (unsigned long long)seq);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(dm, STORE_HDR_ORIGINAL_SEQ, num);
	snprintf(num, sizeof num, "%llu", (unsigned long long)delivered);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(dm, STORE_HDR_DELIVERED, num);
	snprintf(num, sizeof num, "%lld", attempts);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(dm, STORE_HDR_ATTEMPTS, num);
	if (s != NATS_OK)
		goto out;
	e = bus_publish_sync(t->bus, dm, NULL, NULL);
out:
	free((void *)keys);
	natsMsg_Destroy(dm);
	return e;
}

/* The nak delay of a failed attempt: nak_delay_ms doubling per attempt. */
static int64_t
nak_delay(const struct lthread *t, long long attempts)
{
	long long shift = attempts > 0 ? attempts - 1 : 0;
	int64_t ms;

	if (shift > NAK_SHIFT_MAX)
		shift = NAK_SHIFT_MAX;
	ms = (int64_t)t->bus->cfg.nak_delay_ms << shift;
	return ms > NAK_DELAY_CAP_MS ? NAK_DELAY_CAP_MS : ms;
}

/* One fetched message, read once: its metadata, event id and payload, or
 * why it goes straight to the dead letters. */
struct lmsg {
	natsMsg *msg;                 /* the fetch's: lthread.batch */
	jsMsgMetaData *meta;          /* owned; NULL: no metadata, ignored */
	const char *id, *req;         /* in msg's headers */
	json_t *payload;              /* owned */
	char why[BUS_HDR_MAX];        /* not "": dead-letter it, no handler */
	long long tries;              /* attempts, this one included */
	bool counted;                 /* the counter keeps a count of it */
	bool defer;                   /* could not be counted: nak, no handler */
	bool final;                   /* acked or dead-lettered */
};

/* Reads msg into m. Free m with lmsg_done. */
static void
lmsg_read(struct lthread *t, natsMsg *msg, struct lmsg *m)
{
	const char *eid = NULL;

	memset(m, 0, sizeof *m);
	m->msg = msg;
	if (natsMsg_GetMetaData(&m->meta, msg) != NATS_OK) {
		store_error("consumer '%s' got a message with no jetstream "
		            "metadata, ignoring it", t->durable);
		m->meta = NULL;
		return;
	}
	m->tries = (long long)m->meta->NumDelivered;   /* attempts_count */
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &m->id) != NATS_OK)
		m->id = NULL;
	/* A re-published dead letter carries its event id here (bus.h). */
	if (m->id != NULL &&
	    natsMsgHeader_Get(msg, STORE_HDR_EVENT_ID, &eid) == NATS_OK &&
	    eid != NULL && eid[0] != '\0' && strlen(eid) <= BUS_ID_MAX)
		m->id = eid;
	if (natsMsgHeader_Get(msg, STORE_HDR_REQUEST_ID, &m->req) != NATS_OK)
		m->req = NULL;
	if (m->id == NULL || m->id[0] == '\0' || strlen(m->id) > BUS_ID_MAX) {
		m->id = NULL;
		snprintf(m->why, sizeof m->why, "event has no valid 'Nats-Msg-Id' header");
	} else {
		m->payload = json_loadb(natsMsg_GetData(msg),
		                        (size_t)natsMsg_GetDataLength(msg), 0, NULL);
		if (!json_is_object(m->payload))
			snprintf(m->why, sizeof m->why, "payload is not a json object");
	}
}

static void
lmsg_done(struct lmsg *m)
{
	json_decref(m->payload);
	jsMsgMetaData_Destroy(m->meta);
	memset(m, 0, sizeof *m);
}

/* Whether the handler is to see m. */
static bool
lmsg_handled(const struct lmsg *m)
{
	return m->meta != NULL && m->why[0] == '\0' && !m->defer;
}

/* ---- attempts (the bus's counter) --------------------------------------- */

/* Whether this listener counts attempts itself (else: deliveries). */
static bool
counts(const struct lthread *t)
{
	return t->bus->counter.count != NULL;
}

/* Counts m's delivery (first: its failed first delivery) with the bus's
 * counter, setting m->tries. */
static store_err
count_one(struct lthread *t, struct lmsg *m, bool first)
{
	char key[BUS_ATTEMPT_KEY_MAX];
	store_err e;

	bus_attempt_key(key, t->durable, m->meta->Sequence.Stream);
	e = t->bus->counter.count(t->bus->counter.ctx, key, m->meta->NumDelivered,
	                          first, &m->tries);
	m->counted = m->counted || e == STORE_OK;
	return e;
}

/* Sets the attempts of a fetch's messages. Without a counter they are the
 * delivery counts. With one, a first delivery is attempt 1 and a
 * redelivery one more than counted, recorded before any handler runs; a
 * redelivery that cannot be counted waits (a nak, no handler), and so do
 * the fetch's later ones, not tried against a counter that just failed. A
 * message past the bound then goes to the dead letters without its
 * handler: its last attempt never answered. */
static void
attempts_count(struct lthread *t, struct lmsg *m, size_t n)
{
	long long max = t->bus->cfg.max_deliver;
	uint64_t top = 0;
	size_t waits = 0;
	store_err e = STORE_OK;

	for (size_t i = 0; counts(t) && i < n; i++) {
		if (!lmsg_handled(&m[i]))
			continue;
		m[i].tries = 1;
		if (m[i].meta->NumDelivered > 1 &&
		    (waits > 0 || (e = count_one(t, &m[i], false)) != STORE_OK)) {
			m[i].defer = true;
			waits++;
			if (m[i].meta->NumDelivered > top)
				top = m[i].meta->NumDelivered;
		}
	}
	if (waits > 0)
		store_warn("consumer '%s': cannot count attempts (%s): %zu redelivered "
		           "messages wait (delivery %llu at most)", t->durable,
		           store_strerror(e), waits, (unsigned long long)top);
	for (size_t i = 0; i < n; i++)
		if (lmsg_handled(&m[i]) && m[i].tries > max) {
			m[i].tries--;       /* this one is not attempted */
			snprintf(m[i].why, sizeof m[i].why, "no answer after %lld attempts "
			         "(the handler crashed or hung)", m[i].tries);
		}
}

/* Drops the counts of the messages answered for good. */
static void
attempts_forget(struct lthread *t, struct lmsg *m, size_t n)
{
	char key[BUS_ATTEMPT_KEY_MAX];

	for (size_t i = 0; i < n; i++) {
		if (!m[i].final || !m[i].counted || t->bus->counter.forget == NULL)
			continue;
		bus_attempt_key(key, t->durable, m[i].meta->Sequence.Stream);
		t->bus->counter.forget(t->bus->counter.ctx, key);
	}
}

/* Calls the handler on m. */
static store_err
lmsg_call(struct lthread *t, const struct lmsg *m)
{
	store_event ev = { natsMsg_GetSubject(m->msg), m->id, m->req, t->durable,
	                   m->payload, m->meta->Sequence.Stream,
	                   m->meta->NumDelivered };

	return t->l->fn(t->ctx, &ev);
}

/* Records that m's first delivery failed (a later one counts on from
 * there). Outside any transaction. */
static void
attempt_first(struct lthread *t, struct lmsg *m)
{
	store_err e;

	if ((e = count_one(t, m, true)) != STORE_OK)
		store_log(STORE_LOG_WARN, m->req, m->id, "'%s': cannot count the first "
		          "attempt (%s): the message may be tried once more",
		          t->durable, store_strerror(e));
}

/* Answers m's delivery given the handler's answer e (ignored when m goes
 * to the dead letters anyway): ack on STORE_OK, else nak with a delay, or
 * dead-letter on the last attempt. */
static void
lmsg_answer(struct lthread *t, struct lmsg *m, store_err e)
{
	uint64_t seq, delivered;
	long long max = t->bus->cfg.max_deliver, tries = m->tries;

	if (m->meta == NULL)
		return;
	seq = m->meta->Sequence.Stream;
	delivered = m->meta->NumDelivered;
	if (m->defer) {
		bus_pull_nak(t->bus, m->msg, nak_delay(t, (long long)delivered));
		return;
	}
	if (m->why[0] == '\0') {
		if (e == STORE_OK) {
			if (bus_pull_ack(t->bus, m->msg) != NATS_OK)
				store_log(STORE_LOG_WARN, m->req, m->id, "cannot ack on '%s' "
				          "(it will come again)", t->durable);
			else
				m->final = true;
			return;
		}
		if (tries < max) {
			store_log(e == STORE_ELATER ? STORE_LOG_DEBUG : STORE_LOG_WARN,
			          m->req, m->id, "'%s' on '%s': %s (attempt %lld of %lld, "
			          "delivery %llu)", t->durable, natsMsg_GetSubject(m->msg),
			          store_strerror(e), tries, max, (unsigned long long)delivered);
			if (counts(t) && !m->counted)
				attempt_first(t, m);
			bus_pull_nak(t->bus, m->msg, nak_delay(t, tries));
			return;
		}
		snprintf(m->why, sizeof m->why, "%s after %lld attempts",
		         store_strerror(e), tries);
	}
	if (dead_letter(t, m->msg, seq, delivered, tries, m->id, m->why) != STORE_OK) {
		store_log(STORE_LOG_ERROR, m->req, m->id, "cannot dead-letter from '%s' "
		          "(%s), trying again later", t->durable, m->why);
		bus_pull_nak(t->bus, m->msg, nak_delay(t, tries));
		return;
	}
	store_metrics_dead_lettered(t->durable);
	store_log(STORE_LOG_ERROR, m->req, m->id, "dead-lettered from '%s' to '%s%s': %s",
	          t->durable, STORE_DEAD_PREFIX, natsMsg_GetSubject(m->msg), m->why);
	bus_pull_ack(t->bus, m->msg);
	m->final = true;
}

/* Handles m alone: the handler's own transaction, then the answer. */
static void
lmsg_single(struct lthread *t, struct lmsg *m)
{
	lmsg_answer(t, m, lmsg_handled(m) ? lmsg_call(t, m) : STORE_OK);
}

/* ---- a fetch in one transaction ----------------------------------------- */

/* Messages [from, to) of a fetch, handled in one transaction of the bus's
 * database: the handlers' own transactions join it (db.h), so their
 * effects and processed marks commit together, once, and the messages
 * are acked after that commit. */
struct run_ctx {
	struct lthread *t;
	struct lmsg *m;
	size_t from, to;
	size_t end;                   /* out: the transaction covers [from, end) */
	size_t failed;                /* out: whose handler failed, or SIZE_MAX */
	store_err failed_e;           /* out: and its answer */
};

/* Re-runnable (store_db_txn runs it again after a transient failure):
 * every run starts from scratch. */
static store_err
run_tx(store_db *db, void *arg)
{
	struct run_ctx *c = arg;
	long long until = store_time_mono_ms() + BATCH_TXN_MS;
	store_err e;

	(void)db;
	c->end = c->from;
	c->failed = SIZE_MAX;
	for (size_t i = c->from; i < c->to; i++) {
		if (i > c->from && store_time_mono_ms() >= until)
			return STORE_OK;        /* long enough: commit, go on after */
		c->end = i + 1;
		if (!lmsg_handled(&c->m[i]))
			continue;
		if ((e = lmsg_call(c->t, &c->m[i])) != STORE_OK) {
			c->end = i;
			c->failed = i;
			c->failed_e = e;
			return e;
		}
	}
	return STORE_OK;
}

/* Commits the handlers of [from, to) in one transaction, or fewer when it
 * takes BATCH_TXN_MS (*end says where it stopped), and answers them.
 * STORE_OK, or the transaction's error with *failed the message whose
 * handler failed (its answer in *failed_e), SIZE_MAX when none did (the
 * commit failed, or a handler's own transaction failed but it answered
 * STORE_OK): then nothing was answered. */
static store_err
run_batch(struct lthread *t, struct lmsg *m, size_t from, size_t to,
          size_t *end, size_t *failed, store_err *failed_e)
{
	struct run_ctx c = { t, m, from, to, from, SIZE_MAX, STORE_OK };
	store_err e = store_db_txn(t->bus->db, run_tx, &c);

	*end = c.end;
	*failed = e == STORE_OK ? SIZE_MAX : c.failed;
	*failed_e = c.failed_e;
	if (e != STORE_OK)
		return e;
	for (size_t i = from; i < c.end; i++)
		lmsg_answer(t, &m[i], STORE_OK);
	return STORE_OK;
}

/* Handles a fetch's messages in order. With a database, in as few
 * transactions as it takes: when a handler fails, the transaction is
 * rolled back, the messages before it are committed again without it, and
 * its answer is its delivery's (a nak, or a dead letter on the last one);
 * when a failure cannot be pinned on one message, the rest are handled one
 * at a time, each in its own transaction, as without a database. */
static void
handle_run(struct lthread *t, struct lmsg *m, size_t n)
{
	size_t i = 0, k, end, failed;
	store_err fe, fe2;

	if (t->bus->db == NULL || n < 2)
		goto singles;
	while (i < n) {
		if (run_batch(t, m, i, n, &end, &failed, &fe) == STORE_OK) {
			i = end;
			continue;
		}
		if ((k = failed) == SIZE_MAX)
			goto singles;
		while (i < k) {
			if (run_batch(t, m, i, k, &end, &failed, &fe2) != STORE_OK)
				goto singles;
			i = end;
		}
		lmsg_answer(t, &m[k], fe);
		i = k + 1;
	}
	return;
singles:
	for (; i < n; i++)
		lmsg_single(t, &m[i]);
}

/* A fetch: its attempts counted, handled, its counts dropped. */
static void
handle_all(struct lthread *t, struct lmsg *m, size_t n)
{
	attempts_count(t, m, n);
	handle_run(t, m, n);
	attempts_forget(t, m, n);
}

/* ---- the fetch loop ----------------------------------------------------- */

static void *
listen_main(void *arg)
{
	struct lthread *t = arg;
	struct bus_pull pull = { 0 };
	natsStatus s;
	unsigned gen = 0;
	size_t n;
	long retry = 0, idle = 0;
	int errors = 0;
	bool down = false;

	while (!stopped(t)) {
		if (pull.sub == NULL) {
			if (subscribe(t, &pull) != STORE_OK) {
				if (!down)
					store_warn("consumer '%s' waiting for nats", t->durable);
				down = true;
				lsleep(t, retry = next_retry(retry));
				continue;
			}
			if (down)
				store_info("consumer '%s' listening again", t->durable);
			down = false;
			retry = idle = 0;
			errors = 0;
			gen = atomic_load(&t->bus->generation);
		}
		s = bus_pull_next(&pull, t->batch, FETCH_BATCH, &n, FETCH_WAIT_MS,
		                  GATHER_MS);
		/* Messages in hand are finished, even when stopping. */
		for (size_t i = 0; i < n; i++)
			lmsg_read(t, t->batch[i], &t->msgs[i]);
		handle_all(t, t->msgs, n);
		for (size_t i = 0; i < n; i++) {
			lmsg_done(&t->msgs[i]);
			natsMsg_Destroy(t->batch[i]);
			t->batch[i] = NULL;
		}
		if (s == NATS_OK) {
			idle = 0;
			errors = 0;
		} else if (s == NATS_TIMEOUT) {
			errors = 0;
			idle += FETCH_WAIT_MS;
			if (idle >= CHECK_IDLE_MS ||
			    gen != atomic_load(&t->bus->generation)) {
				gen = atomic_load(&t->bus->generation);
				idle = 0;
				consumer_check(t);
			}
		} else {
			if (errors++ == 0)
				store_warn("consumer '%s': fetch failed: %s, retrying",
				           t->durable, natsStatus_GetText(s));
			/* "Consumer Deleted" looks like any other error. */
			consumer_check(t);
			if (errors >= ERRORS_RESUBSCRIBE)
				bus_pull_close(&pull);
			lsleep(t, next_retry(RETRY_MIN_MS * errors / 2));
		}
	}
	bus_pull_close(&pull);
	/* Push the last acks out before the caller closes the bus. */
	if (bus_connected(t->bus))
		natsConnection_FlushTimeout(t->bus->nc, 1000);
	return NULL;
}

/* "product.updated": dot-separated tokens of [a-z0-9_-]. */
static bool
event_ok(const char *s)
{
	size_t n;

	if (s == NULL || strlen(s) > BUS_NAME_MAX)
		return false;
	for (;; s += n + 1) {
		n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");
		if (n == 0 || (s[n] != '.' && s[n] != '\0'))
			return false;
		if (s[n] == '\0')
			return true;
	}
}

store_err
store_bus_listen(store_bus *bus, const store_listener *listeners, size_t n,
                 void *ctx, volatile sig_atomic_t *stop)
{
	struct listen_run run;
	struct lthread *ts = NULL;
	store_err e = STORE_OK;

	if (bus == NULL || listeners == NULL || n == 0 || n > LISTENERS_MAX ||
	    stop == NULL)
		return STORE_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!event_ok(listeners[i].event) || listeners[i].fn == NULL)
			return STORE_EINVAL;
	ts = calloc(n, sizeof *ts);
	if (ts == NULL)
		return STORE_ENOMEM;
	run.stop = stop;
	atomic_init(&run.abort, false);
	for (size_t i = 0; i < n; i++) {
		struct lthread *t = &ts[i];

		t->bus = bus;
		t->l = &listeners[i];
		t->ctx = ctx;
		t->run = &run;
		t->msgs = calloc(FETCH_BATCH, sizeof *t->msgs);
		t->batch = calloc(FETCH_BATCH, sizeof *t->batch);
		if (t->msgs == NULL || t->batch == NULL) {
			e = STORE_ENOMEM;
			goto out;
		}
		snprintf(t->durable, sizeof t->durable, "%s-%s", bus->service,
		         listeners[i].event);
		for (char *p = t->durable; *p != '\0'; p++)
			if (*p == '.')
				*p = '-';
		snprintf(t->subject, sizeof t->subject, "store.%s", listeners[i].event);
	}
	for (size_t i = 0; i < n; i++) {
		if (pthread_create(&ts[i].tid, NULL, listen_main, &ts[i]) != 0) {
			store_error("cannot start a listener thread");
			atomic_store(&run.abort, true);
			e = STORE_ENOMEM;
			break;
		}
		ts[i].started = true;
	}
	for (size_t i = 0; i < n; i++)
		if (ts[i].started)
			pthread_join(ts[i].tid, NULL);
out:
	for (size_t i = 0; i < n; i++) {
		free(ts[i].msgs);
		free(ts[i].batch);
	}
	free(ts);
	return e;
}
