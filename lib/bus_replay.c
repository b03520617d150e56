/* bus_replay.c - reading stretches of the stream, and the services'
 * durable consumers: their state, and re-driving them from a point.
 *
 * A reading is an ephemeral pull consumer with no acks, so it changes
 * nothing for the services, read as the listeners read theirs
 * (bus_pull.c). Re-driving deletes a durable consumer and
 * makes it again from a start point: nats-server cannot move the start of
 * an existing consumer (a changed deliver policy is refused), and a
 * listener keeps working through it (bus_listen.c). */
#include "bus_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/log.h"
#include "store/time.h"

#define NS_PER_MS        1000000LL
#define READ_BATCH       256
#define READ_IDLE_NS     (30LL * 1000 * NS_PER_MS)  /* ephemeral kept after loss */
#define CONSUMERS_MAX    1024
#define REDRIVE_TRIES    10
#define REDRIVE_PAUSE_MS 50

struct store_replay {
	store_bus *bus;
	char consumer[BUS_DURABLE_MAX];  /* the ephemeral one; "": none */
	struct bus_pull pull;         /* reading it; pull.sub NULL: not open */
	store_replay_opts o;
	char subject[BUS_SUBJECT_MAX];
	bool skip_dead;               /* the default pattern: no dead letters */
	natsMsg *msgs[READ_BATCH];    /* taken, not yet handed out: owned */
	size_t n;                     /* how many */
	size_t at;                    /* the next of them */
	uint64_t seen;
	bool done;                    /* nothing left (a reading that ends) */
};

/* ---- small helpers ------------------------------------------------------ */

/* "store" then dot-separated tokens of [A-Za-z0-9_-], "*", or a last ">". */
static bool
pattern_ok(const char *s)
{
	size_t n;

	if (s == NULL || strncmp(s, "store.", 6) != 0 || strlen(s) >= BUS_SUBJECT_MAX)
		return false;
	for (s += 6; ; s += n + 1) {
		if (s[0] == '>' && s[1] == '\0')
			return true;
		if (s[0] == '*' && (s[1] == '.' || s[1] == '\0'))
			n = 1;
		else
			n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			              "0123456789_-");
		if (n == 0 || (s[n] != '.' && s[n] != '\0'))
			return false;
		if (s[n] == '\0')
			return true;
	}
}

json_t *
bus_event_json(natsMsg *msg, uint64_t seq, int64_t time_ns)
{
	const char **keys = NULL, *id = NULL, *eid = NULL, *v = NULL;
	char when[BUS_TIME_LEN];
	json_t *ev = NULL, *headers = NULL, *payload = NULL;
	int nk = 0, len = natsMsg_GetDataLength(msg);
	const char *data = natsMsg_GetData(msg);

	headers = json_object();
	if (headers == NULL)
		goto out;
	if (natsMsgHeader_Keys(msg, &keys, &nk) != NATS_OK)
		nk = 0;
	for (int i = 0; i < nk; i++) {
		if (natsMsgHeader_Get(msg, keys[i], &v) != NATS_OK || v == NULL)
			continue;
		/* A value that is not UTF-8 is left out rather than fail. */
		json_object_set_new(headers, keys[i], json_string(v));
	}
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK)
		id = NULL;
	if (natsMsgHeader_Get(msg, STORE_HDR_EVENT_ID, &eid) == NATS_OK && eid != NULL &&
	    eid[0] != '\0' && strncmp(natsMsg_GetSubject(msg), STORE_DEAD_PREFIX,
	                              strlen(STORE_DEAD_PREFIX)) != 0)
		id = eid;
	payload = len > 0 && data != NULL ? json_loadb(data, (size_t)len, 0, NULL) : NULL;
	if (payload == NULL)
		payload = json_stringn(data != NULL ? data : "", (size_t)(len > 0 ? len : 0));
	if (payload == NULL)             /* not UTF-8 either */
		payload = json_string("");
	store_time_format(time_ns / 1000000, true, when);
	ev = json_pack("{s:I,s:s,s:s,s:s?,s:O,s:O}", "seq", (json_int_t)seq, "time", when,
	               "subject", natsMsg_GetSubject(msg), "id", id, "headers", headers,
	               "payload", payload);
out:
	free((void *)keys);
	json_decref(headers);
	json_decref(payload);
	return ev;
}

/* ---- a reading ---------------------------------------------------------- */

store_err
store_replay_open(store_bus *bus, const store_replay_opts *opts, store_replay **out,
                  uint64_t *total)
{
	store_replay *r = NULL;
	jsConsumerInfo *ci = NULL;
	jsConsumerConfig cc;
	jsErrCode je = 0;
	natsStatus s;
	store_err e;

	*out = NULL;
	if (total != NULL)
		*total = 0;
	if (bus == NULL || opts == NULL)
		return STORE_EINVAL;
	if (opts->subject != NULL && !pattern_ok(opts->subject))
		return STORE_EINVAL;
	if (!bus_connected(bus))
		return STORE_EUNAVAIL;
	if ((e = bus_stream_ensure(bus)) != STORE_OK)
		return e;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return STORE_ENOMEM;
	r->bus = bus;
	r->o = *opts;
	snprintf(r->subject, sizeof r->subject, "%s",
	         opts->subject != NULL ? opts->subject : "store.>");
	r->o.subject = r->subject;
	r->skip_dead = opts->subject == NULL;

	jsConsumerConfig_Init(&cc);
	cc.FilterSubject = r->subject;
	cc.AckPolicy = js_AckNone;
	cc.ReplayPolicy = js_ReplayInstant;
	cc.InactiveThreshold = READ_IDLE_NS;
	if (opts->from_seq > 0) {
		cc.DeliverPolicy = js_DeliverByStartSequence;
		cc.OptStartSeq = opts->from_seq;
	} else if (opts->since_ms > 0) {
		cc.DeliverPolicy = js_DeliverByStartTime;
		cc.OptStartTime = (int64_t)opts->since_ms * NS_PER_MS;
	} else {
		cc.DeliverPolicy = opts->live ? js_DeliverNew : js_DeliverAll;
	}
	s = js_AddConsumer(&ci, bus->js, STORE_STREAM, &cc, NULL, &je);
	if (s != NATS_OK || ci == NULL || ci->Name == NULL ||
	    strlen(ci->Name) >= sizeof r->consumer) {
		store_warn("cannot read stream '%s' on '%s': %s (jetstream error %d)",
		           STORE_STREAM, r->subject, natsStatus_GetText(s), (int)je);
		e = je != 0 ? STORE_EINVAL : STORE_EUNAVAIL;
		goto out;
	}
	snprintf(r->consumer, sizeof r->consumer, "%s", ci->Name);
	if ((e = bus_pull_open(&r->pull, bus, r->consumer)) != STORE_OK)
		goto out;
	if (total != NULL)
		*total = ci->NumPending;
	r->done = !opts->live && ci->NumPending == 0;
	*out = r;
	r = NULL;
	e = STORE_OK;
out:
	jsConsumerInfo_Destroy(ci);
	store_replay_free(r);
	return e;
}

/* Frees the messages r took and has handed out. */
static void
msgs_drop(store_replay *r)
{
	for (size_t i = 0; i < r->n; i++)
		natsMsg_Destroy(r->msgs[i]);
	r->n = r->at = 0;
}

/* Takes the next messages into r->msgs. */
static store_err
fetch(store_replay *r, long wait_ms)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode je = 0;
	natsStatus s;
	bool empty;

	msgs_drop(r);
	s = bus_pull_next(&r->pull, r->msgs, READ_BATCH, &r->n,
	                  wait_ms > 0 ? wait_ms : 1, 0);
	if (s == NATS_OK)
		return STORE_OK;
	if (s != NATS_TIMEOUT)
		return STORE_EUNAVAIL;
	if (r->o.live)
		return STORE_ELATER;
	/* Nothing came: at the end, or only slow? */
	if (js_GetConsumerInfo(&ci, r->bus->js, STORE_STREAM, r->consumer, NULL,
	                       &je) != NATS_OK)
		return STORE_EUNAVAIL;
	empty = ci->NumPending == 0;
	jsConsumerInfo_Destroy(ci);
	if (empty)
		r->done = true;
	return empty ? STORE_ENOTFOUND : STORE_ELATER;
}

store_err
store_replay_next(store_replay *r, long wait_ms, json_t **ev)
{
	jsMsgMetaData *meta = NULL;
	natsMsg *m;
	store_err e;
	bool last;

	*ev = NULL;
	if (r == NULL)
		return STORE_EINVAL;
	for (;;) {
		if (r->at >= r->n) {
			if (r->done)
				return STORE_ENOTFOUND;
			if ((e = fetch(r, wait_ms)) != STORE_OK)
				return e;
		}
		m = r->msgs[r->at++];
		if (natsMsg_GetMetaData(&meta, m) != NATS_OK)
			continue;
		r->seen++;
		last = !r->o.live && meta->NumPending == 0;
		if ((r->o.to_seq > 0 && meta->Sequence.Stream > r->o.to_seq) ||
		    (r->o.until_ms > 0 && meta->Timestamp / NS_PER_MS > r->o.until_ms)) {
			jsMsgMetaData_Destroy(meta);
			r->done = true;
			r->at = r->n;
			return STORE_ENOTFOUND;
		}
		if (last)
			r->done = true;
		if (r->skip_dead && strncmp(natsMsg_GetSubject(m), STORE_DEAD_PREFIX,
		                            strlen(STORE_DEAD_PREFIX)) == 0) {
			jsMsgMetaData_Destroy(meta);
			meta = NULL;
			continue;
		}
		*ev = bus_event_json(m, meta->Sequence.Stream, meta->Timestamp);
		jsMsgMetaData_Destroy(meta);
		return *ev != NULL ? STORE_OK : STORE_ENOMEM;
	}
}

uint64_t
store_replay_seen(const store_replay *r)
{
	return r != NULL ? r->seen : 0;
}

void
store_replay_free(store_replay *r)
{
	if (r == NULL)
		return;
	msgs_drop(r);
	bus_pull_close(&r->pull);
	/* Deletes the ephemeral consumer this reading made (the server
	 * would after READ_IDLE_NS). */
	if (r->consumer[0] != '\0' && bus_connected(r->bus))
		js_DeleteConsumer(r->bus->js, STORE_STREAM, r->consumer, NULL, NULL);
	free(r);
}

/* ---- durable consumers -------------------------------------------------- */

static const char *
deliver_name(jsDeliverPolicy p)
{
	switch (p) {
	case js_DeliverAll: return "all";
	case js_DeliverLast: return "last";
	case js_DeliverNew: return "new";
	case js_DeliverByStartSequence: return "by_start_sequence";
	case js_DeliverByStartTime: return "by_start_time";
	case js_DeliverLastPerSubject: return "last_per_subject";
	}
	return "unknown";
}

static void
consumer_from(const jsConsumerInfo *ci, store_consumer *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->name, sizeof c->name, "%s", ci->Name != NULL ? ci->Name : "");
	if (ci->Config != NULL) {
		snprintf(c->subject, sizeof c->subject, "%s",
		         ci->Config->FilterSubject != NULL ? ci->Config->FilterSubject : "");
		snprintf(c->deliver, sizeof c->deliver, "%s",
		         deliver_name(ci->Config->DeliverPolicy));
		c->start_seq = ci->Config->OptStartSeq;
		c->start_ms = ci->Config->OptStartTime / NS_PER_MS;
	}
	c->pending = ci->NumPending;
	c->ack_pending = ci->NumAckPending > 0 ? (uint64_t)ci->NumAckPending : 0;
	c->redelivered = ci->NumRedelivered > 0 ? (uint64_t)ci->NumRedelivered : 0;
	c->ack_floor = ci->AckFloor.Stream;
	c->delivered = ci->Delivered.Stream;
	c->waiting = (long)ci->NumWaiting;
}

/* Consumer info c belongs to service svc: named "<svc>-<event>", its
 * filter "store.<event>" with dashes for dots. */
static bool
of_service(const jsConsumerInfo *ci, const char *svc)
{
	char want[BUS_DURABLE_MAX + BUS_SUBJECT_MAX];
	const char *f;

	if (ci->Name == NULL || ci->Config == NULL || ci->Config->FilterSubject == NULL ||
	    ci->Config->Durable == NULL)
		return false;
	f = ci->Config->FilterSubject;
	if (strncmp(f, "store.", 6) != 0)
		return false;
	snprintf(want, sizeof want, "%s-%s", svc, f + 6);
	for (char *p = want + strlen(svc) + 1; *p != '\0'; p++)
		if (*p == '.')
			*p = '-';
	return strcmp(want, ci->Name) == 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const store_consumer *)a)->name, ((const store_consumer *)b)->name);
}

store_err
store_bus_consumers(store_bus *bus, const char *name, store_consumer **out, size_t *n)
{
	jsConsumerInfoList *list = NULL;
	jsConsumerInfo *ci = NULL;
	store_consumer *v = NULL;
	jsErrCode je = 0;
	natsStatus s;
	size_t k = 0;
	store_err e = STORE_OK;

	*out = NULL;
	*n = 0;
	if (bus == NULL || name == NULL || name[0] == '\0' || strlen(name) >= BUS_DURABLE_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name))
		return STORE_EINVAL;
	if (!bus_connected(bus))
		return STORE_EUNAVAIL;
	/* A consumer by that name first. */
	s = js_GetConsumerInfo(&ci, bus->js, STORE_STREAM, name, NULL, &je);
	if (s == NATS_OK) {
		if ((v = calloc(1, sizeof *v)) == NULL) {
			e = STORE_ENOMEM;
			goto out;
		}
		consumer_from(ci, v);
		*out = v;
		*n = 1;
		goto out;
	}
	if (je != JSConsumerNotFoundErr && je != JSStreamNotFoundErr) {
		e = STORE_EUNAVAIL;
		goto out;
	}
	/* Else a service's. */
	s = js_Consumers(&list, bus->js, STORE_STREAM, NULL, &je);
	if (s != NATS_OK) {
		e = je == JSStreamNotFoundErr ? STORE_ENOTFOUND : STORE_EUNAVAIL;
		goto out;
	}
	if ((v = calloc(list->Count > 0 ? (size_t)list->Count : 1, sizeof *v)) == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	for (int i = 0; i < list->Count && k < CONSUMERS_MAX; i++)
		if (of_service(list->List[i], name))
			consumer_from(list->List[i], &v[k++]);
	if (k == 0) {
		free(v);
		e = STORE_ENOTFOUND;
		goto out;
	}
	qsort(v, k, sizeof *v, by_name);
	*out = v;
	*n = k;
out:
	jsConsumerInfoList_Destroy(list);
	jsConsumerInfo_Destroy(ci);
	return e;
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * NS_PER_MS };

	nanosleep(&ts, NULL);
}

store_err
store_bus_redrive(store_bus *bus, const char *name, uint64_t from_seq, long long since_ms,
                  store_consumer *after)
{
	jsConsumerInfo *ci = NULL, *made = NULL;
	jsConsumerConfig cc;
	jsErrCode je = 0;
	natsStatus s;
	store_err e = STORE_EUNAVAIL;

	if (bus == NULL || name == NULL || (from_seq == 0 && since_ms <= 0))
		return STORE_EINVAL;
	if (!bus_connected(bus))
		return STORE_EUNAVAIL;
	s = js_GetConsumerInfo(&ci, bus->js, STORE_STREAM, name, NULL, &je);
	if (s != NATS_OK)
		return je == JSConsumerNotFoundErr || je == JSStreamNotFoundErr
		       ? STORE_ENOTFOUND : STORE_EUNAVAIL;
	if (ci->Config == NULL || ci->Config->Durable == NULL) {
		e = STORE_EINVAL;          /* not a durable: nothing to re-drive */
		goto out;
	}
	/* The same consumer (ci owns the strings), from the new start. */
	cc = *ci->Config;
	cc.Name = NULL;
	cc.Durable = ci->Name;
	cc.DeliverPolicy = from_seq > 0 ? js_DeliverByStartSequence : js_DeliverByStartTime;
	cc.OptStartSeq = from_seq;
	cc.OptStartTime = from_seq > 0 ? 0 : (int64_t)since_ms * NS_PER_MS;
	for (int i = 1; i <= REDRIVE_TRIES; i++) {
		je = 0;
		s = js_DeleteConsumer(bus->js, STORE_STREAM, name, NULL, &je);
		if (s != NATS_OK && je != JSConsumerNotFoundErr) {
			store_warn("cannot delete consumer '%s': %s (jetstream error %d)", name,
			           natsStatus_GetText(s), (int)je);
			goto out;
		}
		je = 0;
		s = js_AddConsumer(&made, bus->js, STORE_STREAM, &cc, NULL, &je);
		if (s == NATS_OK) {
			if (after != NULL)
				consumer_from(made, after);
			e = STORE_OK;
			goto out;
		}
		if (je == 0)
			goto out;          /* no answer */
		/* A listener made it again in between: once more. */
		store_debug("consumer '%s' was made again meanwhile (jetstream error "
		            "%d), try %d", name, (int)je, i);
		pause_ms(REDRIVE_PAUSE_MS * i);
	}
	store_warn("cannot re-make consumer '%s' after %d tries", name, REDRIVE_TRIES);
	e = STORE_ECONFLICT;
out:
	jsConsumerInfo_Destroy(made);
	jsConsumerInfo_Destroy(ci);
	return e;
}
