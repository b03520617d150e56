/* bus.h - events on NATS JetStream: the transactional outbox, the relay
 * that publishes it, and durable listeners. EVENTS.md is the rule book.
 *
 * Writing: inside a store_db_txn, a service records each event with
 * store_outbox_add next to the change that causes it; after the commit it
 * calls store_bus_kick, and the relay thread publishes every unpublished
 * outbox row, in order, with Nats-Msg-Id = the event id, retrying with
 * backoff while NATS is down, and marks rows published once JetStream
 * acknowledged them. Several processes may relay the same outbox: a second
 * publish of an id is dropped by JetStream's duplicate window.
 *
 * Reading: store_bus_listen runs durable pull consumers named
 * "<service>-<event>" (dots in the event become dashes), explicit ack, and
 * calls the handler of each message's event. The handler's answer decides:
 *   STORE_OK      ack (after the handler's own transaction committed);
 *   STORE_ELATER  nak with a delay (an earlier version is missing);
 *   other errors  nak with a delay too (a dependency may be back soon);
 *   and on the max_deliver-th delivery, instead of a nak, the message is
 *   copied to store.dead.<subject> with its headers and the error, and
 *   acked. The delay is nak_delay_ms on the first delivery, doubling on each
 *   one up to 64 times that. The bound is kept by the listener (the server
 *   consumer has no MaxDeliver), so a message whose handler never answered
 *   (the process crashed on it) is dead-lettered on its next delivery.
 * Malformed payloads (not a JSON object) and messages without a
 * Nats-Msg-Id go straight to the dead letters.
 * Handlers must be idempotent (EVENTS.md rule 4): a message can come again
 * after a crash, a lost ack, or a handler slower than the ack wait. */
#ifndef STORE_BUS_H
#define STORE_BUS_H

#include <signal.h>
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
 * the STORE_HDR_EVENT_ID ... STORE_HDR_DELIVERED headers below. */
#define STORE_DEAD_PREFIX "store.dead."

/* Message headers. Nats-Msg-Id carries the event id. */
#define STORE_HDR_REQUEST_ID   "Store-Request-Id"
#define STORE_HDR_OCCURRED_AT  "Store-Occurred-At"
#define STORE_HDR_EVENT_ID     "Store-Event-Id"      /* dead letters: the id */
#define STORE_HDR_ERROR        "Store-Error"         /* why it was given up */
#define STORE_HDR_CONSUMER     "Store-Consumer"      /* who gave it up */
#define STORE_HDR_ORIGINAL_SEQ "Store-Original-Seq"  /* its stream sequence */
#define STORE_HDR_DELIVERED    "Store-Delivered"     /* deliveries it had */

typedef struct store_bus store_bus;

/* Settings, from the environment:
 *   NATS_URL                 nats://host:port             (nats://127.0.0.1:4222)
 *   STORE_STREAM_MAX_AGE     days the stream keeps events (30)
 *   STORE_ACK_WAIT_MS        consumer ack wait            (5000)
 *   STORE_MAX_DELIVER        deliveries before dead letter (10)
 *   STORE_NAK_DELAY_MS       first delay of a failed delivery's nak (200) */
typedef struct store_bus_config {
	const char *url;
	const char *service;     /* "cart": names the durable consumers */
	long max_age_days;
	long ack_wait_ms;
	long max_deliver;
	long nak_delay_ms;
} store_bus_config;

store_err store_bus_config_load(store_bus_config *cfg, const char *service,
                                char *msg, size_t msglen);

/* Connects to NATS (reconnecting for ever, also when NATS is down at
 * start) and makes sure the STORE stream exists with this configuration
 * (added, or updated when it differs) as soon as NATS answers. With db
 * non-NULL, starts the relay thread for that database's outbox.
 * Caller frees *out with store_bus_free, which stops the relay after one
 * last flush attempt; db must outlive the bus, and every store_bus_listen
 * on it must have returned. */
store_err store_bus_open(const store_bus_config *cfg, store_db *db,
                         store_bus **out, char *err, size_t errlen);
void store_bus_free(store_bus *bus);

/* STORE_OK when connected to NATS (readiness). */
store_err store_bus_ping(store_bus *bus);

/* The collections a service using the outbox adds to its schema:
 * "outbox" and "processed". */
extern const store_collection store_bus_collections[];
extern const size_t store_bus_ncollections;

/* The same two entries, for a service's own collection table. */
#define STORE_BUS_COLLECTIONS                                               \
	{ "outbox", NULL, (const char *const[]){ "published", NULL } },         \
	{ "processed", (const char *const[]){ "key", NULL }, NULL }

/* Records an event in the outbox; call inside the txn of the change.
 * subject is the full subject ("store.product.created"); payload is
 * borrowed; request_id may be NULL. event_id, when not NULL, gets the new
 * event id. */
store_err store_outbox_add(store_db *db, const char *subject, const json_t *payload,
                           const char *request_id, char event_id[25]);

/* Wakes the relay: call after the transaction that added events committed. */
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

#endif
