/* bus_listen.c - durable pull consumers and their fetch loops.
 *
 * Each listener gets a durable consumer "<service>-<event>" (dots in the
 * event become dashes) on subject "store.<event>", created explicitly
 * (js_AddConsumer creates it, or updates it when the settings changed) so
 * it outlives the process, and one thread fetching from it. Copies of the
 * program on the same durable share the work.
 *
 * The delivery bound is kept here, not by the server: the consumer has
 * MaxDeliver -1 (unlimited) and each message's NumDelivered decides. That
 * way the last failing delivery is dead-lettered and acked by us, and a
 * message whose handler never answers (the process crashed or hung on it)
 * comes back once more and goes straight to the dead letters, instead of
 * being silently dropped by the server after its last delivery.
 *
 * Failed deliveries (STORE_ELATER and errors alike) are naked with a delay
 * that starts at nak_delay_ms and doubles per delivery up to 64 times that,
 * so a dependency that is down for a few seconds does not burn the
 * delivery budget in a millisecond. */
#include "bus_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/log.h"
#include "store/metrics.h"

#define LISTENERS_MAX     64
#define FETCH_BATCH       128
#define FETCH_WAIT_MS     500      /* one fetch; also the stop latency */
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

/* Makes sure of the consumer and binds a pull subscription to it. */
static store_err
subscribe(struct lthread *t, natsSubscription **sub)
{
	jsSubOptions so;
	jsErrCode je = 0;
	natsStatus s;
	store_err e;

	*sub = NULL;
	if (!bus_connected(t->bus))
		return STORE_EUNAVAIL;
	if ((e = consumer_ensure(t)) != STORE_OK)
		return e;
	jsSubOptions_Init(&so);
	so.Stream = STORE_STREAM;
	so.Consumer = t->durable;
	s = js_PullSubscribe(sub, t->bus->js, t->subject, t->durable, NULL, &so, &je);
	if (s == NATS_OK)
		return STORE_OK;
	store_warn("cannot subscribe to consumer '%s': %s (jetstream error %d)",
	           t->durable, natsStatus_GetText(s), (int)je);
	*sub = NULL;
	return STORE_EUNAVAIL;
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
            const char *id, const char *why)
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
	if (s != NATS_OK)
		goto out;
	e = bus_publish_sync(t->bus, dm, NULL, NULL);
out:
	free((void *)keys);
	natsMsg_Destroy(dm);
	return e;
}

/* The nak delay of a failed delivery: nak_delay_ms doubling per delivery. */
static int64_t
nak_delay(const struct lthread *t, uint64_t delivered)
{
	uint64_t shift = delivered > 0 ? delivered - 1 : 0;
	int64_t ms;

	if (shift > NAK_SHIFT_MAX)
		shift = NAK_SHIFT_MAX;
	ms = (int64_t)t->bus->cfg.nak_delay_ms << shift;
	return ms > NAK_DELAY_CAP_MS ? NAK_DELAY_CAP_MS : ms;
}

/* Calls the handler and acks, naks or dead-letters msg. */
static void
handle(struct lthread *t, natsMsg *msg)
{
	char why[BUS_HDR_MAX] = "";
	jsMsgMetaData *meta = NULL;
	const char *id = NULL, *eid = NULL, *req = NULL;
	json_t *payload = NULL;
	uint64_t seq, delivered;
	long long max = t->bus->cfg.max_deliver;
	store_event ev;
	store_err e;

	if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
		store_error("consumer '%s' got a message with no jetstream "
		            "metadata, ignoring it", t->durable);
		goto out;
	}
	seq = meta->Sequence.Stream;
	delivered = meta->NumDelivered;
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK)
		id = NULL;
	/* A re-published dead letter carries its event id here (bus.h). */
	if (id != NULL && natsMsgHeader_Get(msg, STORE_HDR_EVENT_ID, &eid) == NATS_OK &&
	    eid != NULL && eid[0] != '\0' && strlen(eid) <= BUS_ID_MAX)
		id = eid;
	if (natsMsgHeader_Get(msg, STORE_HDR_REQUEST_ID, &req) != NATS_OK)
		req = NULL;
	if (id == NULL || id[0] == '\0' || strlen(id) > BUS_ID_MAX) {
		id = NULL;
		snprintf(why, sizeof why, "event has no valid 'Nats-Msg-Id' header");
	} else if ((long long)delivered > max) {
		snprintf(why, sizeof why, "delivered %llu times with no answer "
		         "(the handler crashed or hung)", (unsigned long long)delivered);
	} else {
		payload = json_loadb(natsMsg_GetData(msg),
		                     (size_t)natsMsg_GetDataLength(msg), 0, NULL);
		if (!json_is_object(payload))
			snprintf(why, sizeof why, "payload is not a json object");
	}
	if (why[0] == '\0') {
		ev = (store_event){ natsMsg_GetSubject(msg), id, req, t->durable,
		                    payload, seq, delivered };
		e = t->l->fn(t->ctx, &ev);
		if (e == STORE_OK) {
			if (natsMsg_Ack(msg, NULL) != NATS_OK)
				store_log(STORE_LOG_WARN, req, id, "cannot ack on '%s' "
				          "(it will come again)", t->durable);
			goto out;
		}
		if ((long long)delivered < max) {
			store_log(e == STORE_ELATER ? STORE_LOG_DEBUG : STORE_LOG_WARN,
			          req, id, "'%s' on '%s': %s (delivery %llu of %lld)",
			          t->durable, natsMsg_GetSubject(msg), store_strerror(e),
			          (unsigned long long)delivered, max);
			natsMsg_NakWithDelay(msg, nak_delay(t, delivered), NULL);
			goto out;
		}
		snprintf(why, sizeof why, "%s after %llu deliveries", store_strerror(e),
		         (unsigned long long)delivered);
	}
	if (dead_letter(t, msg, seq, delivered, id, why) != STORE_OK) {
		store_log(STORE_LOG_ERROR, req, id, "cannot dead-letter from '%s' "
		          "(%s), trying again later", t->durable, why);
		natsMsg_NakWithDelay(msg, nak_delay(t, delivered), NULL);
		goto out;
	}
	store_metrics_dead_lettered(t->durable);
	store_log(STORE_LOG_ERROR, req, id, "dead-lettered from '%s' to '%s%s': %s",
	          t->durable, STORE_DEAD_PREFIX, natsMsg_GetSubject(msg), why);
	natsMsg_Ack(msg, NULL);
out:
	json_decref(payload);
	jsMsgMetaData_Destroy(meta);
}

/* ---- the fetch loop ----------------------------------------------------- */

static void *
listen_main(void *arg)
{
	struct lthread *t = arg;
	natsSubscription *sub = NULL;
	natsMsgList list;
	natsStatus s;
	unsigned gen = 0;
	long retry = 0, idle = 0;
	int errors = 0;
	bool down = false;

	while (!stopped(t)) {
		if (sub == NULL) {
			if (subscribe(t, &sub) != STORE_OK) {
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
		memset(&list, 0, sizeof list);
		s = natsSubscription_Fetch(&list, sub, FETCH_BATCH, FETCH_WAIT_MS, NULL);
		/* Messages in hand are finished, even when stopping. */
		for (int i = 0; i < list.Count; i++)
			handle(t, list.Msgs[i]);
		natsMsgList_Destroy(&list);
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
			if (errors >= ERRORS_RESUBSCRIBE) {
				natsSubscription_Destroy(sub);
				sub = NULL;
			}
			lsleep(t, next_retry(RETRY_MIN_MS * errors / 2));
		}
	}
	natsSubscription_Destroy(sub);
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
	free(ts);
	return e;
}
