/* bus.c - the connection to NATS, the STORE stream and direct publishes.
 * The outbox and its relay are in bus_outbox.c, consumers in bus_listen.c.
 *
 * The connection retries for ever, also when NATS is down at start
 * (RetryOnFailedConnect), so a program starts and serves what it can while
 * NATS is away. The stream is checked lazily, before the first publish or
 * consume, and again after every reconnect (the server may be a new one). */
#include "bus_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/config.h"
#include "store/log.h"
#include "store/oid.h"
#include "store/time.h"

#define NS_PER_MS          1000000LL
#define NS_PER_S           1000000000LL
#define BUS_DUP_WINDOW_S   120     /* JetStream duplicate window */
#define BUS_RECONNECT_MS   250
#define BUS_CLOSE_WAIT_MS  5000    /* for the closed callback in free */
#define BUS_ASYNC_PENDING  1000    /* relay publishes in flight, >= batch */

/* ---- small helpers ------------------------------------------------------ */

void
bus_header_value(char out[BUS_HDR_MAX], const char *s)
{
	size_t i = 0;

	for (; s != NULL && s[i] != '\0' && i < BUS_HDR_MAX - 1; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	out[i] = '\0';
}

bool
bus_subject_ok(const char *s)
{
	size_t len, n;

	if (s == NULL || strncmp(s, "store.", 6) != 0)
		return false;
	len = strlen(s);
	if (len + strlen(STORE_DEAD_PREFIX) >= BUS_SUBJECT_MAX)
		return false;
	for (s += 6; ; s += n + 1) {
		n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		              "0123456789_-");
		if (n == 0 || (s[n] != '.' && s[n] != '\0'))
			return false;
		if (s[n] == '\0')
			return true;
	}
}

/* An event id fit for a header: [A-Za-z0-9_-], 1 to BUS_ID_MAX bytes. */
static bool
event_id_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	              "0123456789_-");
	return n > 0 && n <= BUS_ID_MAX && s[n] == '\0';
}

/* A service name: [a-z0-9_-], 1 to BUS_NAME_MAX bytes. */
static bool
service_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");
	return n > 0 && n <= BUS_NAME_MAX && s[n] == '\0';
}

/* ---- settings ----------------------------------------------------------- */

store_err
store_bus_config_load(store_bus_config *cfg, const char *service, char *err,
                      size_t errlen)
{
	store_err e;

	memset(cfg, 0, sizeof *cfg);
	if (!service_ok(service)) {
		snprintf(err, errlen, "bus service name '%.64s' is not [a-z0-9_-]",
		         service != NULL ? service : "");
		return STORE_EINVAL;
	}
	cfg->service = service;
	const store_setting table[] = {
		{ "NATS_URL", STORE_SETTING_STR, "nats://127.0.0.1:4222", 0, 0,
		  &cfg->url, NULL },
		{ "STORE_STREAM_MAX_AGE", STORE_SETTING_INT, "30", 1, 3650, NULL,
		  &cfg->max_age_days },
		{ "STORE_STREAM_REPLICAS", STORE_SETTING_INT, "1", 1, 5, NULL,
		  &cfg->replicas },
		{ "STORE_ACK_WAIT_MS", STORE_SETTING_INT, "5000", 100, 3600000, NULL,
		  &cfg->ack_wait_ms },
		{ "STORE_MAX_DELIVER", STORE_SETTING_INT, "10", 1, 1000, NULL,
		  &cfg->max_deliver },
		{ "STORE_NAK_DELAY_MS", STORE_SETTING_INT, "200", 1, 600000, NULL,
		  &cfg->nak_delay_ms },
	};
	e = store_config_load(table, sizeof table / sizeof *table, err, errlen);
	return e;
}

/* Checks a configuration given by code (tests build theirs by hand). */
static store_err
config_check(const store_bus_config *cfg, char *err, size_t errlen)
{
	if (cfg->url == NULL || cfg->url[0] == '\0' || strlen(cfg->url) > 1024) {
		snprintf(err, errlen, "setting 'NATS_URL' is missing or too long");
		return STORE_ECONFIG;
	}
	if (!service_ok(cfg->service)) {
		snprintf(err, errlen, "bus service name '%.64s' is not [a-z0-9_-]",
		         cfg->service != NULL ? cfg->service : "");
		return STORE_EINVAL;
	}
	if (cfg->max_age_days < 1 || cfg->max_age_days > 3650 ||
	    cfg->replicas < 0 || cfg->replicas > 5 ||
	    cfg->ack_wait_ms < 100 || cfg->ack_wait_ms > 3600000 ||
	    cfg->max_deliver < 1 || cfg->max_deliver > 1000 ||
	    cfg->nak_delay_ms < 1 || cfg->nak_delay_ms > 600000) {
		snprintf(err, errlen, "bus settings out of range (max age 1-3650 "
		         "days, ack wait 100-3600000 ms, max deliver 1-1000, nak "
		         "delay 1-600000 ms)");
		return STORE_ECONFIG;
	}
	return STORE_OK;
}

/* ---- connection callbacks (on the library's callback thread) ------------ */

static void
on_connected(natsConnection *nc, void *closure)
{
	store_bus *bus = closure;

	(void)nc;
	atomic_fetch_add(&bus->generation, 1);
	atomic_store(&bus->stream_ok, false);
	if (atomic_exchange(&bus->nats_down, false))
		store_info("connected to nats");
	store_bus_kick(bus);
}

static void
on_disconnected(natsConnection *nc, void *closure)
{
	store_bus *bus = closure;
	bool stopping;

	(void)nc;
	pthread_mutex_lock(&bus->mu);
	stopping = bus->stopping;
	pthread_mutex_unlock(&bus->mu);
	if (!stopping && !atomic_exchange(&bus->nats_down, true))
		store_warn("disconnected from nats, reconnecting");
}

static void
on_closed(natsConnection *nc, void *closure)
{
	store_bus *bus = closure;

	(void)nc;
	pthread_mutex_lock(&bus->mu);
	bus->closed = true;
	pthread_cond_broadcast(&bus->cond);
	pthread_mutex_unlock(&bus->mu);
}

static void
on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus s,
               void *closure)
{
	(void)nc;
	(void)sub;
	(void)closure;
	store_warn("nats: %s", natsStatus_GetText(s));
}

bool
bus_connected(store_bus *bus)
{
	return natsConnection_Status(bus->nc) == NATS_CONN_STATUS_CONNECTED;
}

/* ---- the stream --------------------------------------------------------- */

store_err
bus_stream_ensure(store_bus *bus)
{
	static const char *subjects[] = { "store.>" };
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode je = 0;
	natsStatus s;
	store_err e = STORE_OK;

	if (atomic_load(&bus->stream_ok))
		return STORE_OK;
	if (!bus_connected(bus))
		return STORE_EUNAVAIL;
	pthread_mutex_lock(&bus->stream_mu);
	if (atomic_load(&bus->stream_ok))
		goto out;
	if (bus->cfg.keep_stream) {
		/* An operator's tool: the stream as it is; made only when missing. */
		s = js_GetStreamInfo(&si, bus->js, STORE_STREAM, NULL, &je);
		if (s == NATS_OK) {
			atomic_store(&bus->stream_ok, true);
			goto out;
		}
		jsStreamInfo_Destroy(si);
		si = NULL;
		if (je != JSStreamNotFoundErr) {
			store_warn("cannot read stream '%s': %s (jetstream error %d)",
			           STORE_STREAM, natsStatus_GetText(s), (int)je);
			e = STORE_EUNAVAIL;
			goto out;
		}
		je = 0;
	}
	jsStreamConfig_Init(&sc);
	sc.Name = STORE_STREAM;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Retention = js_LimitsPolicy;
	sc.Discard = js_DiscardOld;
	sc.Storage = js_FileStorage;
	sc.MaxAge = (int64_t)bus->cfg.max_age_days * 86400 * NS_PER_S;
	sc.Duplicates = (int64_t)BUS_DUP_WINDOW_S * NS_PER_S;
	sc.Replicas = bus->cfg.replicas > 0 ? bus->cfg.replicas : 1;
	s = js_AddStream(&si, bus->js, &sc, NULL, &je);
	if (s != NATS_OK && je == JSStreamNameExistErr && bus->cfg.keep_stream) {
		s = NATS_OK;           /* made by someone else meanwhile */
	} else if (s != NATS_OK && je == JSStreamNameExistErr) {
		/* It exists with other settings: bring them in line. */
		je = 0;
		s = js_UpdateStream(&si, bus->js, &sc, NULL, &je);
		if (s != NATS_OK && je != 0) {
			/* Settings that cannot change (storage, ...): the stream
			 * is usable as it is; say so once per connection. */
			store_error("stream '%s' exists with settings that cannot be "
			            "updated (jetstream error %d), using it as it is",
			            STORE_STREAM, (int)je);
			s = NATS_OK;
		}
	}
	if (s != NATS_OK) {
		store_warn("cannot make stream '%s': %s (jetstream error %d)",
		           STORE_STREAM, natsStatus_GetText(s), (int)je);
		e = STORE_EUNAVAIL;
		goto out;
	}
	atomic_store(&bus->stream_ok, true);
out:
	pthread_mutex_unlock(&bus->stream_mu);
	jsStreamInfo_Destroy(si);
	return e;
}

/* ---- messages ----------------------------------------------------------- */

store_err
bus_msg_new(const char *subject, const char *data, size_t len, const char *id,
            const char *req_id, const char *at, natsMsg **out)
{
	natsMsg *m = NULL;
	natsStatus s;

	*out = NULL;
	if (len > BUS_PAYLOAD_MAX)
		return STORE_ETOOBIG;
	s = natsMsg_Create(&m, subject, NULL, data, (int)len);
	if (s == NATS_OK && id != NULL)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
	if (s == NATS_OK && req_id != NULL)
		s = natsMsgHeader_Set(m, STORE_HDR_REQUEST_ID, req_id);
	if (s == NATS_OK && at != NULL)
		s = natsMsgHeader_Set(m, STORE_HDR_OCCURRED_AT, at);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		return s == NATS_NO_MEMORY ? STORE_ENOMEM : STORE_EINVAL;
	}
	*out = m;
	return STORE_OK;
}

store_err
bus_publish_sync(store_bus *bus, natsMsg *msg, uint64_t *seq, int *duplicate)
{
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode je = 0;
	natsStatus s;
	store_err e;

	if (seq != NULL)
		*seq = 0;
	if (duplicate != NULL)
		*duplicate = 0;
	if (!bus_connected(bus))
		return STORE_EUNAVAIL;
	if ((e = bus_stream_ensure(bus)) != STORE_OK)
		return e;
	jsPubOptions_Init(&po);
	po.MaxWait = BUS_PUB_WAIT_MS;
	s = js_PublishMsg(&pa, bus->js, msg, &po, &je);
	if (s == NATS_OK) {
		if (seq != NULL)
			*seq = pa->Sequence;
		if (duplicate != NULL)
			*duplicate = pa->Duplicate ? 1 : 0;
		goto out;
	}
	if (s == NATS_NO_RESPONDERS || je == JSStreamNotFoundErr)
		atomic_store(&bus->stream_ok, false);
	store_warn("cannot publish to '%s': %s (jetstream error %d)",
	           natsMsg_GetSubject(msg), natsStatus_GetText(s), (int)je);
	e = STORE_EUNAVAIL;
out:
	jsPubAck_Destroy(pa);
	return e;
}

store_err
store_bus_publish(store_bus *bus, const char *subject, const json_t *payload,
                  const char *event_id, const char *request_id, uint64_t *seq)
{
	return store_bus_publish_ack(bus, subject, payload, event_id, request_id, seq, NULL);
}

store_err
store_bus_publish_ack(store_bus *bus, const char *subject, const json_t *payload,
                      const char *event_id, const char *request_id, uint64_t *seq,
                      int *duplicate)
{
	char id[STORE_OID_LEN + 1], at[BUS_TIME_LEN], req[BUS_HDR_MAX];
	natsMsg *m = NULL;
	char *data = NULL;
	store_err e = STORE_EINVAL;

	if (seq != NULL)
		*seq = 0;
	if (duplicate != NULL)
		*duplicate = 0;
	if (bus == NULL || !bus_subject_ok(subject) || !json_is_object(payload) ||
	    (event_id != NULL && !event_id_ok(event_id)))
		goto out;
	if (event_id == NULL) {
		store_oid_new(id);
		event_id = id;
	}
	if (request_id != NULL) {
		bus_header_value(req, request_id);
		request_id = req;
	}
	data = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (data == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	store_time_format(store_time_now_ms(), true, at);
	e = bus_msg_new(subject, data, strlen(data), event_id, request_id, at, &m);
	if (e == STORE_OK)
		e = bus_publish_sync(bus, m, seq, duplicate);
out:
	natsMsg_Destroy(m);
	free(data);
	return e;
}

/* Every message of a batch names a subject and an event id the bus accepts
 * and has data; each one's acked is reset for the answer. */
static bool
msgs_ok(store_bus_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		msgs[i].acked = 0;
		if (!bus_subject_ok(msgs[i].subject) || !event_id_ok(msgs[i].event_id) ||
		    msgs[i].data == NULL)
			return false;
	}
	return true;
}

store_err
store_bus_publish_batch(store_bus *bus, store_bus_msg *msgs, size_t n)
{
	struct bus_batch b = { 0 };
	char at[BUS_TIME_LEN];
	jsPubOptions po;
	natsMsgList pending = { 0 };
	natsMsg *m = NULL;
	natsStatus s = NATS_OK;
	size_t sent = 0, acked = 0;
	store_err e = STORE_EINVAL;

	if (bus == NULL || (msgs == NULL && n > 0))
		return STORE_EINVAL;
	if (!msgs_ok(msgs, n))
		return STORE_EINVAL;
	if (n == 0)
		return STORE_OK;
	if (!bus_connected(bus))
		return STORE_EUNAVAIL;
	if ((e = bus_stream_ensure(bus)) != STORE_OK)
		return e;
	if ((b.rows = calloc(n, sizeof *b.rows)) == NULL)
		return STORE_ENOMEM;
	b.n = n;
	for (size_t i = 0; i < n; i++)
		b.rows[i].id = msgs[i].event_id;
	store_time_format(store_time_now_ms(), true, at);
	/* One batch at a time on a bus: the acks find their rows in it. */
	pthread_mutex_lock(&bus->flush_mu);
	pthread_mutex_lock(&bus->batch_mu);
	bus->batch = &b;
	pthread_mutex_unlock(&bus->batch_mu);
	jsPubOptions_Init(&po);
	po.MaxWait = BUS_PUB_WAIT_MS;
	for (size_t i = 0; i < n && s == NATS_OK; i++) {
		e = bus_msg_new(msgs[i].subject, msgs[i].data, msgs[i].len,
		                msgs[i].event_id, NULL, at, &m);
		if (e != STORE_OK)
			break;
		s = js_PublishMsgAsync(bus->js, &m, &po);
		natsMsg_Destroy(m);     /* NULL when the library took it */
		m = NULL;
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
	pthread_mutex_unlock(&bus->flush_mu);
	for (size_t i = 0; i < n; i++) {
		msgs[i].acked = b.rows[i].acked ? 1 : 0;
		acked += b.rows[i].acked;
	}
	if (e == STORE_OK && acked < n) {
		store_warn("%zu of %zu events not acknowledged: %s (jetstream error %d)",
		           n - acked, n, natsStatus_GetText(s != NATS_OK ? s : b.last_err),
		           (int)b.last_je);
		e = STORE_EUNAVAIL;
	}
	free(b.rows);
	return e;
}

/* ---- open / free -------------------------------------------------------- */

/* Sets the connection options; NATS_OK or the first failure. */
static natsStatus
options_make(store_bus *bus)
{
	char name[BUS_NAME_MAX + 8];
	natsStatus s;

	snprintf(name, sizeof name, "store-%s", bus->service);
	s = natsOptions_Create(&bus->opts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(bus->opts, bus->url);
	if (s == NATS_OK)
		s = natsOptions_SetName(bus->opts, name);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(bus->opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(bus->opts, BUS_RECONNECT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(bus->opts, true, on_connected,
		                                        bus);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(bus->opts, on_connected, bus);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(bus->opts, on_disconnected, bus);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(bus->opts, on_closed, bus);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(bus->opts, on_async_error, bus);
	return s;
}

store_err
store_bus_open(const store_bus_config *cfg, store_db *db, store_bus **out,
               char *err, size_t errlen)
{
	pthread_condattr_t ca;
	store_bus *bus = NULL;
	jsOptions jo;
	natsStatus s;
	store_err e;

	if (err == NULL)
		errlen = 0;
	if (errlen > 0)
		err[0] = '\0';
	if (out == NULL || cfg == NULL)
		return STORE_EINVAL;
	*out = NULL;
	if ((e = config_check(cfg, err, errlen)) != STORE_OK)
		return e;
	bus = calloc(1, sizeof *bus);
	if (bus == NULL)
		return STORE_ENOMEM;
	pthread_mutex_init(&bus->mu, NULL);
	pthread_mutex_init(&bus->stream_mu, NULL);
	pthread_mutex_init(&bus->flush_mu, NULL);
	pthread_mutex_init(&bus->batch_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&bus->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&bus->stream_ok, false);
	atomic_init(&bus->nats_down, false);
	atomic_init(&bus->generation, 0);
	bus->cfg = *cfg;
	bus->url = strdup(cfg->url);
	bus->service = strdup(cfg->service);
	if (bus->url == NULL || bus->service == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	bus->cfg.url = bus->url;
	bus->cfg.service = bus->service;
	bus->db = db;
	if (db != NULL)
		bus_attempts_db(&bus->counter, db);

	if ((s = options_make(bus)) != NATS_OK) {
		snprintf(err, errlen, "bad nats settings: %s", natsStatus_GetText(s));
		e = s == NATS_NO_MEMORY ? STORE_ENOMEM : STORE_ECONFIG;
		goto out;
	}
	s = natsConnection_Connect(&bus->nc, bus->opts);
	if (s == NATS_NOT_YET_CONNECTED) {
		atomic_store(&bus->nats_down, true);
		store_warn("nats is not reachable yet, connecting in the background");
	} else if (s != NATS_OK) {
		snprintf(err, errlen, "cannot use 'NATS_URL': %s",
		         natsStatus_GetText(s));
		e = STORE_ECONFIG;
		goto out;
	}
	jsOptions_Init(&jo);
	jo.Wait = BUS_API_WAIT_MS;
	jo.PublishAsync.MaxPending = BUS_ASYNC_PENDING;
	jo.PublishAsync.AckHandler = bus_relay_ack;
	jo.PublishAsync.AckHandlerClosure = bus;
	if ((s = natsConnection_JetStream(&bus->js, bus->nc, &jo)) != NATS_OK) {
		snprintf(err, errlen, "cannot use jetstream: %s", natsStatus_GetText(s));
		e = STORE_ENOMEM;
		goto out;
	}
	/* Best effort now; the relay and the listeners check again. */
	(void)bus_stream_ensure(bus);
	if (db != NULL && (e = bus_relay_start(bus)) != STORE_OK) {
		snprintf(err, errlen, "cannot start the outbox relay");
		goto out;
	}
	*out = bus;
	bus = NULL;
out:
	store_bus_free(bus);
	return e;
}

void
store_bus_free(store_bus *bus)
{
	struct timespec until;
	bool closed = false;
	int rc = 0;

	if (bus == NULL)
		return;
	pthread_mutex_lock(&bus->mu);
	bus->stopping = true;
	pthread_cond_broadcast(&bus->cond);
	pthread_mutex_unlock(&bus->mu);
	bus_relay_stop(bus);
	jsCtx_Destroy(bus->js);
	if (bus->nc != NULL) {
		/* The callbacks hold bus: wait for the last one (closed, which
		 * the library delivers after every earlier one). */
		natsConnection_Close(bus->nc);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += BUS_CLOSE_WAIT_MS / 1000;
		pthread_mutex_lock(&bus->mu);
		while (!bus->closed && rc == 0)
			rc = pthread_cond_timedwait(&bus->cond, &bus->mu, &until);
		closed = bus->closed;
		pthread_mutex_unlock(&bus->mu);
		natsConnection_Destroy(bus->nc);
		if (!closed) {
			/* A late callback could still use bus: keep it alive. */
			store_error("nats connection did not report closing, leaking it");
			natsOptions_Destroy(bus->opts);
			return;
		}
	}
	natsOptions_Destroy(bus->opts);
	pthread_cond_destroy(&bus->cond);
	pthread_mutex_destroy(&bus->batch_mu);
	pthread_mutex_destroy(&bus->flush_mu);
	pthread_mutex_destroy(&bus->stream_mu);
	pthread_mutex_destroy(&bus->mu);
	free(bus->service);
	free(bus->url);
	free(bus);
}

void
store_bus_set_counter(store_bus *bus, const store_bus_counter *c)
{
	if (bus != NULL && c != NULL && bus->db == NULL)
		bus->counter = *c;
}

store_err
store_bus_ping(store_bus *bus)
{
	if (bus == NULL)
		return STORE_EINVAL;
	return bus_connected(bus) ? STORE_OK : STORE_EUNAVAIL;
}

void
store_bus_kick(store_bus *bus)
{
	if (bus == NULL)
		return;
	pthread_mutex_lock(&bus->mu);
	bus->kicked = true;
	pthread_cond_broadcast(&bus->cond);
	pthread_mutex_unlock(&bus->mu);
}

/* ---- asynchronous publishing: send now, wait for the acks later --------- */

/* A publisher has its own JetStream context on the bus's connection, whose
 * ack handler finds each answered message's row through a table keyed by
 * the natsMsg pointer (registered before the message is handed over, since
 * its ack may come before js_PublishMsgAsync returns; removed by the
 * handler before it destroys the message). Every message handed over gets
 * exactly one answer: its ack, an error, or the library's timeout after
 * BUS_PUB_WAIT_MS. */

struct bus_slot {
	const natsMsg *m;             /* NULL: free */
	store_bus_sent *sent;
	size_t i;
};

struct store_bus_publisher {
	store_bus *bus;               /* borrowed */
	jsCtx *js;
	pthread_mutex_t mu;           /* the table and every batch's counts */
	pthread_cond_t cond;          /* a batch's last answer came */
	struct bus_slot *slot;        /* open addressing, linear probing */
	size_t cap;                   /* a power of two > 2 * (max_pending + 1) */
};

struct store_bus_sent {
	store_bus_publisher *p;
	store_bus_msg *msgs;          /* the caller's */
	size_t n;
	size_t pending;               /* handed over, not answered */
};

static size_t
slot_home(const store_bus_publisher *p, const natsMsg *m)
{
	uintptr_t h = (uintptr_t)m;

	h ^= h >> 17;
	h *= (uintptr_t)0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 7) & (p->cap - 1);
}

/* Under mu. The table never fills: at most max_pending + 1 entries. */
static void
slot_put(store_bus_publisher *p, const natsMsg *m, store_bus_sent *sent, size_t i)
{
	size_t k = slot_home(p, m);

	while (p->slot[k].m != NULL)
		k = (k + 1) & (p->cap - 1);
	p->slot[k] = (struct bus_slot){ m, sent, i };
}

/* Under mu: removes m's entry into *out (backward-shift deletion, so no
 * tombstones); false when m is not there. */
static bool
slot_take(store_bus_publisher *p, const natsMsg *m, struct bus_slot *out)
{
	size_t k = slot_home(p, m), next, home;

	while (p->slot[k].m != m) {
		if (p->slot[k].m == NULL)
			return false;
		k = (k + 1) & (p->cap - 1);
	}
	*out = p->slot[k];
	for (;;) {
		p->slot[k].m = NULL;
		next = k;
		for (;;) {
			next = (next + 1) & (p->cap - 1);
			if (p->slot[next].m == NULL)
				return true;
			home = slot_home(p, p->slot[next].m);
			/* Movable into the hole k unless its home lies in (k, next]. */
			if (k <= next ? (home <= k || home > next) : (home <= k && home > next))
				break;
		}
		p->slot[k] = p->slot[next];
		k = next;
	}
}

/* Under mu: one answer for row (sent, i). */
static void
sent_answer(store_bus_sent *sent, size_t i, bool acked)
{
	sent->msgs[i].acked = acked ? 1 : 0;
	if (--sent->pending == 0)
		pthread_cond_broadcast(&sent->p->cond);
}

static void
pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	store_bus_publisher *p = closure;
	struct bus_slot s;

	(void)js;
	pthread_mutex_lock(&p->mu);
	if (slot_take(p, msg, &s))
		sent_answer(s.sent, s.i, pa != NULL);
	pthread_mutex_unlock(&p->mu);
	if (pae != NULL && (pae->Err == NATS_NO_RESPONDERS ||
	                    pae->ErrCode == JSStreamNotFoundErr))
		atomic_store(&p->bus->stream_ok, false);
	natsMsg_Destroy(msg);
}

store_err
store_bus_publisher_new(store_bus *bus, size_t max_pending, store_bus_publisher **out)
{
	pthread_condattr_t ca;
	store_bus_publisher *p = NULL;
	jsOptions jo;
	store_err e = STORE_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (bus == NULL || out == NULL || max_pending < 1 ||
	    max_pending > STORE_BUS_PENDING_MAX)
		goto out;
	e = STORE_ENOMEM;
	if ((p = calloc(1, sizeof *p)) == NULL)
		goto out;
	p->bus = bus;
	for (p->cap = 16; p->cap <= 2 * (max_pending + 1); p->cap *= 2)
		;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((p->slot = calloc(p->cap, sizeof *p->slot)) == NULL)
		goto out;
	jsOptions_Init(&jo);
	jo.Wait = BUS_API_WAIT_MS;
	jo.PublishAsync.MaxPending = (int64_t)max_pending;
	jo.PublishAsync.StallWait = BUS_PUB_WAIT_MS;
	jo.PublishAsync.AckHandler = pub_ack;
	jo.PublishAsync.AckHandlerClosure = p;
	if (natsConnection_JetStream(&p->js, bus->nc, &jo) != NATS_OK)
		goto out;
	*out = p;
	p = NULL;
	e = STORE_OK;
out:
	store_bus_publisher_free(p);
	return e;
}

void
store_bus_publisher_free(store_bus_publisher *p)
{
	jsPubOptions po;

	if (p == NULL)
		return;
	if (p->js != NULL) {
		/* Answers still due (a batch given up by store_bus_publish_wait)
		 * would call pub_ack with p: let them come first. */
		jsPubOptions_Init(&po);
		po.MaxWait = BUS_PUB_WAIT_MS + 1000;
		(void)js_PublishAsyncComplete(p->js, &po);
		jsCtx_Destroy(p->js);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p->slot);
	free(p);
}

store_err
store_bus_publish_send(store_bus_publisher *p, store_bus_msg *msgs, size_t n,
                       store_bus_sent **out)
{
	store_bus_sent *sent = NULL;
	char at[BUS_TIME_LEN];
	struct bus_slot gone;
	jsPubOptions po;
	natsMsg *m = NULL;
	natsStatus s = NATS_OK;
	store_err e = STORE_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (p == NULL || out == NULL || (msgs == NULL && n > 0))
		return STORE_EINVAL;
	if (!msgs_ok(msgs, n))
		return STORE_EINVAL;
	if ((sent = calloc(1, sizeof *sent)) == NULL)
		return STORE_ENOMEM;
	sent->p = p;
	sent->msgs = msgs;
	sent->n = n;
	*out = sent;
	if (n == 0)
		return STORE_OK;
	if (!bus_connected(p->bus))
		return STORE_EUNAVAIL;
	if ((e = bus_stream_ensure(p->bus)) != STORE_OK)
		return e;
	store_time_format(store_time_now_ms(), true, at);
	jsPubOptions_Init(&po);
	po.MaxWait = BUS_PUB_WAIT_MS;      /* then the library answers a timeout */
	for (size_t i = 0; i < n && s == NATS_OK; i++) {
		if ((e = bus_msg_new(msgs[i].subject, msgs[i].data, msgs[i].len,
		                     msgs[i].event_id, NULL, at, &m)) != STORE_OK)
			break;
		pthread_mutex_lock(&p->mu);
		slot_put(p, m, sent, i);
		sent->pending++;
		pthread_mutex_unlock(&p->mu);
		if ((s = js_PublishMsgAsync(p->js, &m, &po)) != NATS_OK) {
			/* Not handed over: no answer will come. */
			pthread_mutex_lock(&p->mu);
			if (slot_take(p, m, &gone))
				sent->pending--;
			pthread_mutex_unlock(&p->mu);
			natsMsg_Destroy(m);
			m = NULL;
			e = STORE_EUNAVAIL;
		}
	}
	return e;
}

store_err
store_bus_publish_wait(store_bus_sent *sent)
{
	store_bus_publisher *p;
	struct timespec until;
	size_t acked = 0, n;
	int rc = 0;

	if (sent == NULL)
		return STORE_EINVAL;
	p = sent->p;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (BUS_PUB_WAIT_MS + 2000) / 1000;
	pthread_mutex_lock(&p->mu);
	while (sent->pending > 0 && rc == 0)
		rc = pthread_cond_timedwait(&p->cond, &p->mu, &until);
	if (sent->pending > 0) {
		/* The library's own timeout should have answered: forget the rows,
		 * so a late answer finds nothing. */
		for (size_t k = 0; k < p->cap; k++)
			if (p->slot[k].m != NULL && p->slot[k].sent == sent) {
				struct bus_slot gone;

				slot_take(p, p->slot[k].m, &gone);
				k--;       /* the shift may have moved another here */
			}
		sent->pending = 0;
	}
	pthread_mutex_unlock(&p->mu);
	n = sent->n;
	for (size_t i = 0; i < n; i++)
		acked += sent->msgs[i].acked != 0;
	free(sent);
	return acked == n ? STORE_OK : STORE_EUNAVAIL;
}
