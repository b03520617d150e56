/* expiration.h - the expiration service's domain: holds on products run
 * out.
 *
 * For each store.product.selected it schedules a delayed job in Redis
 * (store/jobs.h; id = selectionId, due at expiresAt), acking the event only
 * once Redis has it. Firing is a pipeline of two threads. The taker runs
 * one script that takes every due job (up to STORE_EXPIRATION_BATCH) under
 * a lease and answers how long until the next one is due, sends the
 * batch's store.expiration.complete without waiting for JetStream's
 * answers (up to STORE_EXPIRATION_PENDING in flight), and sleeps exactly
 * that long (a newly earliest job wakes it). The deleter, on its own Redis
 * connection, waits for the answers of the batches sent, gives back the
 * jobs whose event was not acknowledged, due again after a delay that
 * grows with their tries, and deletes the acknowledged ones, those of
 * every batch it finds waiting in one script.
 *
 * Firing is at least once and harmless when more: a job is deleted only
 * after JetStream acknowledged its event, so a crash in between fires it
 * again when its lease lapses, with the same event id (derived from the
 * selection id), which JetStream drops inside its duplicate window and the
 * products service's processed table drops after it.
 *
 * The module never prints (it logs) and never exits. */
#ifndef STORE_EXPIRATION_H
#define STORE_EXPIRATION_H

#include <signal.h>
#include <stddef.h>
#include "store/bus.h"
#include "store/err.h"
#include "store/jobs.h"
#include "store/oid.h"

#define STORE_EXPIRATION_BATCH   STORE_JOBS_TAKE_MAX  /* jobs per take */
#define STORE_EXPIRATION_PENDING 8192   /* events sent, not yet acknowledged */
#define STORE_EXPIRATION_SUBJECT "store.expiration.complete"

typedef struct store_expiration store_expiration;

/* A handle over jobs and bus (both borrowed: they must outlive it), taking
 * jobs under leases of lease_ms; it opens a second Redis connection
 * (store_jobs_dup) and a publisher on bus. Caller frees *out with
 * store_expiration_free. */
store_err store_expiration_new(store_jobs *jobs, store_bus *bus, long lease_ms,
                               store_expiration **out);
void store_expiration_free(store_expiration *x);

/* The listener of store.product.selected (ctx is the store_expiration):
 * schedules the hold's expiration. STORE_OK (ack) only once Redis has it,
 * or had it already (a redelivery); STORE_EINVAL for an event without a
 * valid selectionId, productId, categoryId, views or expiresAt. */
store_err store_expiration_on_selected(void *ctx, const store_event *ev);

/* Fires due jobs until *stop is set (store_jobs_interrupt on the jobs
 * handle ends a wait at once), running the publisher and deleter threads
 * meanwhile; every batch in hand is fired, and its jobs deleted, before it
 * returns. Waits and retries while Redis or NATS is down. */
void store_expiration_fire(store_expiration *x, volatile sig_atomic_t *stop);

/* The event id of a selection's expiration, 24 lowercase hex characters
 * shaped like every other event id. For an ObjectId (every selection the
 * products service makes): its seconds (hex 0-7) and its counter (hex
 * 18-23), then the first 5 bytes of BLAKE2b-128 of "expiration:" + the
 * selection id; so ids sort as the selections were made, and a consumer's
 * processed marks of expirations go in at the end of their index instead
 * of all over it. For any other job id: the first 12 bytes of that digest.
 * libsodium must be initialised. */
void store_expiration_event_id(const char *selection_id, char out[STORE_OID_LEN + 1]);

/* What expirerd runs: reads REDIS_URL, STORE_JOBS_PREFIX,
 * STORE_JOB_LEASE_MS, STORE_LOG_LEVEL and the bus settings, runs the
 * listeners (ctx: the store_expiration) and the firing thread until
 * SIGTERM or SIGINT, and returns the exit status: 0 stopped, 69 Redis or
 * the bus cannot be used, 78 a missing or malformed setting. */
int store_expiration_run(const char *name, const store_listener *listeners, size_t n);

#endif
