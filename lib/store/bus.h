/* bus.h - events on NATS JetStream: the transactional outbox, the relay
 * that publishes it, and durable listeners. EVENTS.md is the rule book.
 *
 * Writing: inside a store_db_txn, a service records each event with
 * store_outbox_add next to the change that causes it; after the commit the
 * bus wakes its relay (a commit hook on the database, store_db_on_commit,
 * set by store_bus_open: after a commit in which the committing thread
 * added outbox rows, and only then), and the relay thread publishes every
 * unpublished outbox row, in order, with Nats-Msg-Id = the event id,
 * retrying with backoff while NATS is down, and marks rows published once
 * JetStream acknowledged them. Several processes may relay the same outbox: a second
 * publish of an id is dropped by JetStream's duplicate window.
 *
 * Reading: store_bus_listen runs durable pull consumers named
 * "<service>-<event>" (dots in the event become dashes), explicit ack, and
 * calls the handler of each message's event. The handler's answer decides:
 *   STORE_OK      ack (after the handler's own transaction committed);
 *   STORE_ELATER  nak with a delay (an earlier version is missing);
 *   other errors  nak with a delay too (a dependency may be back soon);
 *   and on the max_deliver-th attempt, instead of a nak, the message is
 *   copied to store.dead.<subject> with its headers and the error, and
 *   acked. The delay is nak_delay_ms after the first attempt, doubling on
 *   each one up to 64 times that. The bound is kept by the listener (the
 *   server consumer has no MaxDeliver), so a message whose handler never
 *   answered (the process crashed on it) is dead-lettered on its next
 *   delivery. Attempts are the handler's runs, counted in the bus's
 *   database when it has one (bus_attempts.c), else by its counter
 *   (store_bus_set_counter): JetStream's delivery count also counts
 *   deliveries lost on the way, which must not use up a good event's
 *   attempts. With neither, the delivery count is used.
 * Malformed payloads (not a JSON object) and messages without a
 * Nats-Msg-Id go straight to the dead letters.
 * The event id a handler sees is the Store-Event-Id header when the
 * message has a valid one (a dead letter re-published by
 * store_dead_retry: its Nats-Msg-Id must differ from the original's, which
 * JetStream would drop as a duplicate inside its window), else the
 * Nats-Msg-Id.
 * Handlers must be idempotent (EVENTS.md rule 4): a message can come again
 * after a crash, a lost ack, or a handler slower than the ack wait.
 * When the bus has a database, a listener runs the handlers of one fetch
 * (up to 256 messages, at most 200 ms) inside one transaction of it, which
 * their own store_db_txn calls join, and acks after its commit; a handler
 * that fails has the transaction rolled back and the others run again
 * without it. So a handler's transaction on that database may commit only
 * after it returned, and its function may run more than once: like any
 * transaction function (db.h), it has no effect outside the database. */
#ifndef STORE_BUS_H
#define STORE_BUS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "store/db.h"
#include "store/err.h"

#define STORE_STREAM "STORE"

/* Dead letters go to STORE_DEAD_PREFIX + the original subject
 * ("store.dead.store.product.created"), with the original body and
 * headers, except Nats-Msg-Id, which becomes "dead-<consumer>-<seq>" (so a
 * second dead-lettering of one delivery is dropped as a duplicate), plus
 * the STORE_HDR_EVENT_ID ... STORE_HDR_ATTEMPTS headers below. */
#define STORE_DEAD_PREFIX "store.dead."

/* Message headers. Nats-Msg-Id carries the event id. */
#define STORE_HDR_REQUEST_ID   "Store-Request-Id"
#define STORE_HDR_OCCURRED_AT  "Store-Occurred-At"
#define STORE_HDR_EVENT_ID     "Store-Event-Id"      /* the id, when not Nats-Msg-Id */
#define STORE_HDR_ERROR        "Store-Error"         /* why it was given up */
#define STORE_HDR_CONSUMER     "Store-Consumer"      /* who gave it up */
#define STORE_HDR_ORIGINAL_SEQ "Store-Original-Seq"  /* its stream sequence */
#define STORE_HDR_DELIVERED    "Store-Delivered"     /* deliveries it had */
#define STORE_HDR_ATTEMPTS     "Store-Attempts"      /* of them, handler runs */

typedef struct store_bus store_bus;

/* Settings, from the environment:
 *   NATS_URL                 nats://host:port             (nats://127.0.0.1:4222)
 *   STORE_STREAM_MAX_AGE     days the stream keeps events (30)
 *   STORE_STREAM_REPLICAS    copies of the stream in a NATS cluster, 1-5 (1)
 *   STORE_ACK_WAIT_MS        consumer ack wait            (5000)
 *   STORE_MAX_DELIVER        deliveries before dead letter (10)
 *   STORE_NAK_DELAY_MS       first delay of a failed delivery's nak (200)
 * keep_stream is not read from the environment: an operator's tool
 * (storectl) sets it so that its settings never change the stream's
 * (a STORE_STREAM_MAX_AGE missing from an on-call shell would otherwise
 * shorten the history); the stream is then only made when missing. */
typedef struct store_bus_config {
	const char *url;
	const char *service;     /* "cart": names the durable consumers */
	long max_age_days;
	long ack_wait_ms;
	long max_deliver;
	long nak_delay_ms;
	int keep_stream;         /* nonzero: never update an existing stream */
	long replicas;           /* STORE_STREAM_REPLICAS; 0 (code-built) means 1 */
} store_bus_config;

store_err store_bus_config_load(store_bus_config *cfg, const char *service,
                                char *err, size_t errlen);

/* Connects to NATS (reconnecting for ever, also when NATS is down at
 * start) and makes sure the STORE stream exists with this configuration
 * (added, or updated when it differs) as soon as NATS answers. With db
 * non-NULL, starts the relay thread for that database's outbox and sets
 * the database's commit hook (store_db_on_commit: one bus with a relay
 * per database) until store_bus_free.
 * Caller frees *out with store_bus_free, which stops the relay after one
 * last flush attempt; db must outlive the bus, and every store_bus_listen
 * on it must have returned. */
store_err store_bus_open(const store_bus_config *cfg, store_db *db,
                         store_bus **out, char *err, size_t errlen);
void store_bus_free(store_bus *bus);

/* STORE_OK when connected to NATS (readiness). */
store_err store_bus_ping(store_bus *bus);

/* Where a bus opened without a database counts its listeners' attempts
 * at redelivered messages (EVENTS.md rule 6), for a service that keeps
 * its state elsewhere (expirerd: Redis). key is "<consumer>:<stream
 * sequence>". count records that delivery number delivered of key reached
 * the handler (with first: the failed first delivery, dropping any older
 * record of key) and sets *n to the deliveries recorded for key, at
 * least 1; recording one twice counts it once. forget drops key's
 * record. An error from count (the store is down) makes the message wait
 * without running its handler. Both are called from listener threads. */
typedef struct store_bus_counter {
	store_err (*count)(void *ctx, const char *key, uint64_t delivered, bool first,
	                   long long *n);
	void (*forget)(void *ctx, const char *key);
	void *ctx;
} store_bus_counter;

/* Sets bus's counter (c is copied, c->ctx borrowed until store_bus_free).
 * Call before store_bus_listen, on a bus opened without a database (one
 * with a database counts in it, and ignores this). */
void store_bus_set_counter(store_bus *bus, const store_bus_counter *c);

/* The collections a service using the outbox adds to its schema:
 * "outbox", "processed" and "listen_attempts" (a listener's count of its
 * attempts at a redelivered message). */
extern const store_collection store_bus_collections[];
extern const size_t store_bus_ncollections;

/* The same entries, for a service's own collection table. */
#define STORE_BUS_COLLECTIONS                                               \
	{ "outbox", NULL, (const char *const[]){ "published", NULL } },         \
	{ "processed", (const char *const[]){ "key", NULL }, NULL },            \
	{ "listen_attempts", (const char *const[]){ "key", NULL }, NULL }

/* Records an event in the outbox; call inside the txn of the change.
 * subject is the full subject ("store.product.created"); payload is
 * borrowed; request_id may be NULL. event_id, when not NULL, gets the new
 * event id. */
store_err store_outbox_add(store_db *db, const char *subject, const json_t *payload,
                           const char *request_id, char event_id[25]);

/* Wakes the relay now. Commits that added events wake it by themselves
 * (above); the relay also looks every second. */
void store_bus_kick(store_bus *bus);

/* Publishes unpublished outbox rows now, in this thread; returns when all
 * were acknowledged (STORE_OK) or on the first failure (STORE_EUNAVAIL). */
store_err store_bus_flush(store_bus *bus);

/* Records that consumer handled event id; call inside the handler's txn.
 * STORE_EDUPLICATE when it was already recorded (skip the effect). */
store_err store_processed_mark(store_db *db, const char *consumer, const char *event_id);

/* Publishes one event directly (not through an outbox), with msg id
 * event_id (a new one when NULL). seq, when not NULL, gets the stream
 * sequence. For storectl and tests. */
store_err store_bus_publish(store_bus *bus, const char *subject, const json_t *payload,
                            const char *event_id, const char *request_id,
                            uint64_t *seq);

/* One message of store_bus_publish_batch. */
typedef struct store_bus_msg {
	const char *subject;     /* full subject ("store.expiration.complete") */
	const char *data;        /* the payload: JSON object text, sent as is */
	size_t len;              /* bytes of data */
	const char *event_id;    /* Nats-Msg-Id: required, unique in the batch */
	int acked;               /* out: 1 when JetStream stored it (or had it,
	                          * a duplicate inside its window) */
} store_bus_msg;

/* Publishes n messages asynchronously (up to 1000 in flight, not one round
 * trip each) and waits for JetStream's answers, setting each acked; with
 * a Store-Occurred-At header of now. The event ids make a second publish
 * of a message a duplicate that JetStream drops, so the caller publishes
 * the unacknowledged ones again with the same ids. STORE_OK when all were
 * acknowledged, STORE_EUNAVAIL when some were not (NATS down or slow),
 * STORE_EINVAL (nothing sent) for a bad subject or event id. */
store_err store_bus_publish_batch(store_bus *bus, store_bus_msg *msgs, size_t n);

/* Asynchronous publishing in two steps, for a caller that keeps several
 * batches in flight (expirerd): store_bus_publish_send hands a batch's
 * messages to NATS and returns without waiting for JetStream's answers;
 * store_bus_publish_wait, later and from any thread, waits for them. A
 * publisher has its own JetStream context on the bus's connection and at
 * most max_pending messages unanswered (send blocks, up to 5 s, while
 * that many are). */
#define STORE_BUS_PENDING_MAX 65536

typedef struct store_bus_publisher store_bus_publisher;
typedef struct store_bus_sent store_bus_sent;   /* a batch in flight */

/* A publisher on bus (borrowed: it must outlive the publisher), with up
 * to max_pending (1 to STORE_BUS_PENDING_MAX) messages in flight. Caller
 * frees *out with store_bus_publisher_free, after waiting for every batch
 * it sent. */
store_err store_bus_publisher_new(store_bus *bus, size_t max_pending,
                                  store_bus_publisher **out);
void store_bus_publisher_free(store_bus_publisher *p);

/* Sends n messages as store_bus_publish_batch does (event ids required,
 * Store-Occurred-At now), without waiting for their acknowledgements.
 * msgs stays the caller's and must stay valid until the wait: *out gets
 * the batch in flight, which the caller passes to store_bus_publish_wait
 * whatever this returns, whenever *out is not NULL (it is NULL after
 * STORE_EINVAL, a bad subject or event id, and STORE_ENOMEM: nothing was
 * sent). STORE_EUNAVAIL when some could not be sent (NATS down; those are
 * not acked). */
store_err store_bus_publish_send(store_bus_publisher *p, store_bus_msg *msgs, size_t n,
                                 store_bus_sent **out);

/* Waits for the answers to a batch sent by store_bus_publish_send (each
 * message is acknowledged, refused, or timed out 5 s after its send), sets
 * each msgs[i].acked, and frees sent. STORE_OK when all were
 * acknowledged, else STORE_EUNAVAIL (publish the others again: same event
 * ids, so a second publish is a duplicate JetStream drops). */
store_err store_bus_publish_wait(store_bus_sent *sent);

typedef struct store_event {
	const char *subject;     /* "store.product.updated" */
	const char *id;          /* Nats-Msg-Id */
	const char *request_id;  /* Store-Request-Id, may be NULL */
	const char *consumer;    /* "cart-product-updated" */
	json_t *payload;         /* an object; borrowed */
	uint64_t seq;            /* stream sequence */
	uint64_t delivered;      /* 1 on first delivery */
} store_event;

typedef store_err (*store_event_fn)(void *ctx, const store_event *ev);

typedef struct store_listener {
	const char *event;       /* "product.updated": subject store.<event> */
	store_event_fn fn;
} store_listener;

/* Consumes until *stop becomes nonzero, then finishes and acks the
 * messages in hand and returns STORE_OK. One thread per listener.
 * Survives nats-server restarts. */
store_err store_bus_listen(store_bus *bus, const store_listener *listeners, size_t n,
                           void *ctx, volatile sig_atomic_t *stop);

/* ---- operating the bus (storectl): bus_admin.c, bus_replay.c,
 * bus_dead.c, bus_catalog.c ------------------------------------------- */

/* Waits up to timeout_ms for the connection to NATS. STORE_OK when
 * connected, else STORE_EUNAVAIL. */
store_err store_bus_wait(store_bus *bus, long timeout_ms);

/* As store_bus_publish; *duplicate (when not NULL) gets 1 when JetStream
 * dropped the message as a second publish of event_id inside its
 * duplicate window (*seq is then the first message's sequence). */
store_err store_bus_publish_ack(store_bus *bus, const char *subject,
                                const json_t *payload, const char *event_id,
                                const char *request_id, uint64_t *seq,
                                int *duplicate);

typedef struct store_stream_state {
	uint64_t messages, bytes;
	uint64_t first_seq, last_seq;
	long long first_ms, last_ms;  /* times of those, ms since the epoch */
	long consumers;
	long max_age_days;
} store_stream_state;

/* The STORE stream's state. STORE_ENOTFOUND when it does not exist. */
store_err store_bus_stream_state(store_bus *bus, store_stream_state *out);

/* Reading a stretch of the stream through an ephemeral consumer (no ack,
 * nothing changes for the services' consumers). */
typedef struct store_replay_opts {
	const char *subject;     /* a subject or pattern (*, >); NULL: "store.>",
	                          * which leaves out the dead letters */
	uint64_t from_seq;       /* first stream sequence; 0: not set */
	uint64_t to_seq;         /* last stream sequence; 0: not set */
	long long since_ms;      /* first time, ms since the epoch; 0: not set */
	long long until_ms;      /* last time; 0: not set */
	int live;                /* never ends (tail); without from_seq or
	                          * since_ms, starts with the next new message */
} store_replay_opts;

typedef struct store_replay store_replay;

/* Opens a reading. *total, when not NULL, gets how many messages the
 * subject has from the start point on (before to_seq and until_ms cut
 * it). STORE_EINVAL for a malformed subject pattern, STORE_EUNAVAIL when
 * NATS does not answer. Caller frees *out with store_replay_free, which
 * deletes the consumer (the server also drops it 30 s after a crash). */
store_err store_replay_open(store_bus *bus, const store_replay_opts *opts,
                            store_replay **out, uint64_t *total);

/* The next message as a new object {seq, time, subject, id, headers,
 * payload}: id is the event id (Store-Event-Id or Nats-Msg-Id, null when
 * none), headers maps each header to its first value, payload is the JSON
 * value of the body, or the body as a string when it is not JSON.
 * Caller frees with json_decref. STORE_ENOTFOUND: the end (past to_seq or
 * until_ms, or nothing left; never when live). STORE_ELATER: nothing came
 * within wait_ms. STORE_EUNAVAIL: NATS went away. */
store_err store_replay_next(store_replay *r, long wait_ms, json_t **ev);

/* Messages read so far, those filtered out included (for progress). */
uint64_t store_replay_seen(const store_replay *r);

void store_replay_free(store_replay *r);

/* A durable consumer and where it stands. */
typedef struct store_consumer {
	char name[132];          /* "cart-product-created" */
	char subject[200];       /* its filter subject */
	char deliver[24];        /* all, new, last, by_start_sequence, ... */
	uint64_t start_seq;      /* by_start_sequence: the first sequence */
	long long start_ms;      /* by_start_time: the start, ms since epoch */
	uint64_t pending;        /* messages not yet delivered */
	uint64_t ack_pending;    /* delivered, waiting for an ack */
	uint64_t redelivered;
	uint64_t ack_floor;      /* stream sequence of the ack floor */
	uint64_t delivered;      /* stream sequence last delivered */
	long waiting;            /* pull requests waiting: a listener runs */
} store_consumer;

/* The durable consumers named by name: one consumer
 * ("cart-product-created"), or every consumer of a service ("cart": those
 * named "cart-<event>", <event> being its filter subject after "store."
 * with dots as dashes), sorted by name. Caller frees *out with free().
 * STORE_ENOTFOUND when there is none. */
store_err store_bus_consumers(store_bus *bus, const char *name, store_consumer **out,
                              size_t *n);

/* Re-drives the durable consumer name from stream sequence from_seq, or,
 * when from_seq is 0, from time since_ms. The server cannot move a
 * consumer's start point, so the consumer is deleted and made again with
 * the same name, filter and settings, delivering from that point on; its
 * ack state starts there (EVENTS.md rule 6 makes the redelivery safe).
 * A listener bound to it keeps fetching (pull requests go by name), and
 * one restarted later keeps the new start point (bus_listen.c). When a
 * listener makes the consumer again in between, this tries again.
 * *after, when not NULL, gets the new state. STORE_ENOTFOUND when there
 * is no such consumer. */
store_err store_bus_redrive(store_bus *bus, const char *name, uint64_t from_seq,
                            long long since_ms, store_consumer *after);

/* Dead letters: messages on STORE_DEAD_PREFIX + subject, named by their
 * stream sequence (their id). */

/* The view of an event read on a dead-letter subject (from
 * store_replay_next): {id, time, subject (the original), event_id,
 * consumer, error, delivered, attempts, original_seq, request_id, payload}. New
 * reference; NULL when ev is not a dead letter. */
json_t *store_dead_view(const json_t *ev);

/* Dead letter id in the store_dead_view shape. STORE_ENOTFOUND when
 * message id does not exist or is not a dead letter. Caller frees *out. */
store_err store_dead_get(store_bus *bus, uint64_t id, json_t **out);

/* Re-publishes dead letter id on its original subject, with its body and
 * headers, its event id in Store-Event-Id and Nats-Msg-Id
 * "<event id>-r<id>" (so retrying one dead letter twice inside the
 * duplicate window publishes it once; a dead letter with no event id gets
 * "retry-<id>"), then deletes the dead letter. Every listener of the
 * subject gets it again; idempotent handlers (EVENTS.md rule 4) skip it
 * where it had its effect. *seq gets the new message's sequence,
 * *duplicate 1 when it had been re-published already. STORE_ENOTFOUND:
 * no such dead letter. STORE_EIO: published, but the dead letter could
 * not be deleted (retrying again is harmless). */
store_err store_dead_retry(store_bus *bus, uint64_t id, uint64_t *seq, int *duplicate);

/* Deletes dead letter id. STORE_ENOTFOUND: no such dead letter. */
store_err store_dead_drop(store_bus *bus, uint64_t id);

/* The event catalogue of EVENTS.md. */
typedef struct store_event_kind {
	const char *subject;     /* "store.product.created" */
	const char *publisher;   /* "products" */
	const char *listeners;   /* "cart" */
	const char *fields;      /* "{id, name, ...}" as EVENTS.md writes it */
} store_event_kind;

extern const store_event_kind store_event_kinds[];
extern const size_t store_nevent_kinds;

/* Checks payload against subject's entry in the catalogue: every field
 * present with its type (ids 24-hex, money with at most two decimals,
 * counts integers >= 0, times RFC 3339; others may be added).
 * STORE_ENOTFOUND: subject is not in the catalogue. STORE_EINVAL: err
 * gets the first problem ("field 'price' must be ..."). */
store_err store_event_check(const char *subject, const json_t *payload, char *err,
                            size_t errlen);

#endif
