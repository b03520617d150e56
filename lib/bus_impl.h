/* bus_impl.h - private: what bus.c (connection, stream, direct publish),
 * bus_outbox.c (outbox, relay, processed), bus_listen.c (durable
 * consumers) and bus_pull.c (reading them) share. */
#ifndef STORE_BUS_IMPL_H
#define STORE_BUS_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <nats/nats.h>

#include "store/bus.h"

#define BUS_SUBJECT_MAX   200          /* a subject, "store.dead." included */
#define BUS_NAME_MAX      64           /* service and event token lengths */
#define BUS_DURABLE_MAX   (2 * BUS_NAME_MAX + 2)
#define BUS_ID_MAX        64           /* a Nats-Msg-Id we accept */
#define BUS_HDR_MAX       256          /* a header value we write */
#define BUS_PAYLOAD_MAX   (512u << 10) /* an encoded payload (NATS max 1 MB) */
#define BUS_API_WAIT_MS   3000         /* JetStream API requests */
#define BUS_PUB_WAIT_MS   5000         /* one publish acknowledgement */
#define BUS_TIME_LEN      32           /* "2024-01-02T03:04:05.678Z" */

struct store_bus {
	store_bus_config cfg;         /* url and service point at the copies */
	char *url, *service;          /* owned */
	store_db *db;                 /* borrowed; NULL: no relay */
	store_bus_counter counter;    /* attempts, when count is set: db's, or
	                               * store_bus_set_counter's */

	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;

	pthread_mutex_t mu;           /* guards the fields below it */
	pthread_cond_t cond;          /* kicked, stopping, closed changed */
	bool kicked;                  /* store_bus_kick since the last flush */
	bool stopping;                /* store_bus_free has begun */
	bool closed;                  /* the connection's closed callback ran */
	bool relay_started;
	pthread_t relay;

	atomic_bool stream_ok;        /* STORE exists as configured */
	atomic_bool nats_down;        /* last seen state, for log transitions */
	atomic_uint generation;       /* +1 on every (re)connect */
	pthread_mutex_t stream_mu;    /* one stream check at a time */
	pthread_mutex_t flush_mu;     /* one outbox flush at a time */

	pthread_mutex_t batch_mu;     /* guards batch: store_bus_publish_batch */
	struct bus_batch *batch;      /* in flight; NULL between flushes */

	/* The relay's publishes (bus_outbox.c), on a JetStream context of
	 * its own (its pending limit and ack handler), set up by
	 * bus_relay_start. Kept until the bus is freed: a late ack may
	 * still look. */
	struct {
		pthread_mutex_t mu;       /* guards the batches in flight */
		pthread_cond_t cond;      /* an answer came */
		jsCtx *js;                /* NULL until first needed */
		struct relay_batch *inflight[2];
		bool ready;               /* mu and cond are initialised */
	} out;
};

/* One row of an outbox flush and what JetStream answered. */
struct bus_row {
	json_t *doc;                  /* the outbox document; borrowed from rows */
	const char *id;
	bool acked;
	bool bad;                     /* malformed: marked published, not sent */
};

struct bus_batch {
	struct bus_row *rows;
	size_t n;
	size_t hint;                  /* where the next ack probably is */
	size_t failed;                /* negative answers */
	natsStatus last_err;          /* the last of them, for the log */
	jsErrCode last_je;
};

/* True for "store" followed by dot-separated tokens of [A-Za-z0-9_-], short
 * enough that its dead-letter subject fits in BUS_SUBJECT_MAX. */
bool bus_subject_ok(const char *s);

/* True when the connection is up now. */
bool bus_connected(store_bus *bus);

/* Makes sure the STORE stream exists with the configured limits (adds it,
 * or updates it when it differs); cached until the next reconnect or a
 * publish that found no stream. STORE_EUNAVAIL when NATS does not answer. */
store_err bus_stream_ensure(store_bus *bus);

/* A new message on subject with payload bytes and the event headers
 * (Nats-Msg-Id id, Store-Request-Id when req_id is not NULL,
 * Store-Occurred-At when at is not NULL). Caller frees *out with
 * natsMsg_Destroy (or hands it to a js_Publish*Async call). */
store_err bus_msg_new(const char *subject, const char *data, size_t len,
                      const char *id, const char *req_id, const char *at,
                      natsMsg **out);

/* Publishes msg and waits for JetStream's acknowledgement (msg stays the
 * caller's); STORE_EUNAVAIL at once while disconnected. seq, when not
 * NULL, gets the stream sequence; *duplicate (when not NULL) whether
 * JetStream dropped msg as a duplicate of its Nats-Msg-Id. */
store_err bus_publish_sync(store_bus *bus, natsMsg *msg, uint64_t *seq, int *duplicate);

/* A message as storectl shows it: {seq, time, subject, id, headers,
 * payload} (bus_replay.c, store_replay_next). New reference or NULL. */
json_t *bus_event_json(natsMsg *msg, uint64_t seq, int64_t time_ns);


/* Copies s into a header value: at most BUS_HDR_MAX - 1 bytes, control
 * characters replaced by spaces. */
void bus_header_value(char out[BUS_HDR_MAX], const char *s);

/* A listener's count of its attempts at a message (bus_attempts.c): the
 * BUS_ATTEMPTS collection of a bus's database, keyed bus_attempt_key. */
#define BUS_ATTEMPTS "listen_attempts"
#define BUS_ATTEMPT_KEY_MAX (BUS_DURABLE_MAX + 24)

/* "<durable>:<seq>", the key of a message's attempts. */
void bus_attempt_key(char out[BUS_ATTEMPT_KEY_MAX], const char *durable, uint64_t seq);

/* The counter of a bus with a database: counts in db (borrowed). */
void bus_attempts_db(store_bus_counter *out, store_db *db);

/* A durable pull consumer's reader (bus_pull.c): one request for messages
 * kept open on the consumer, its answers on an inbox of its own. */
struct bus_pull {
	store_bus *bus;               /* borrowed */
	natsSubscription *sub;        /* owned; on "<inbox>.*" */
	char inbox[BUS_SUBJECT_MAX];  /* "<inbox>.": request n replies to it + n */
	char next[BUS_SUBJECT_MAX];   /* the consumer's MSG.NEXT subject */
	uint64_t req;                 /* the open request's number; 0: none yet */
	int left;                     /* messages it may still bring */
	long long until_ms;           /* store_time_mono_ms: given up then */
	unsigned gen;                 /* bus->generation when it was sent */
};

/* Subscribes p to an inbox for durable's messages (the consumer must
 * exist: requests to a missing one go unanswered). STORE_EUNAVAIL when
 * NATS is not there. Free with bus_pull_close, also after a failure. */
store_err bus_pull_open(struct bus_pull *p, store_bus *bus, const char *durable);
void bus_pull_close(struct bus_pull *p);

/* Up to max messages in order into msgs (each the caller's: natsMsg_Destroy),
 * waiting up to wait_ms for the first, then up to gather_ms after it for
 * more, and taking the others already there. NATS_OK with *n >= 1;
 * NATS_TIMEOUT with none; or the error that ended it (NATS_ERR: the server
 * ended the request, logged). */
natsStatus bus_pull_next(struct bus_pull *p, natsMsg **msgs, size_t max,
                         size_t *n, int64_t wait_ms, int64_t gather_ms);

/* Acknowledges msg (from bus_pull_next), or asks for it again after
 * delay_ms. */
natsStatus bus_pull_ack(store_bus *bus, natsMsg *msg);
natsStatus bus_pull_nak(store_bus *bus, natsMsg *msg, int64_t delay_ms);

/* The relay thread (bus_outbox.c): store_bus_open starts it with
 * bus_relay_start and store_bus_free stops it with bus_relay_stop. */
store_err bus_relay_start(store_bus *bus);
void bus_relay_stop(store_bus *bus);

/* jsOptions.PublishAsync.AckHandler for the relay's publishes. */
void bus_relay_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                   void *closure);

#endif
