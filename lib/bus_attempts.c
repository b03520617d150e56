/* bus_attempts.c - a listener's own count of its attempts at a message.
 *
 * JetStream's delivery count is not the number of times a handler ran: it
 * also counts deliveries that never reached the listener, lost with a cut
 * connection or sent to a pull request of a connection that is gone (the
 * server keeps such a request until it expires). Under a flapping network
 * a listener saw an event once, then found it at its 21st delivery and
 * would have dead-lettered it as "no answer" without running it again.
 *
 * So a listener with a database counts in it, in the "listen_attempts"
 * collection, one document per message it tried more than once, keyed
 * "<consumer>:<stream sequence>", holding n, the attempts so far:
 *   - a first delivery reads and writes nothing (the hot path); when its
 *     handler fails, n = 1 is written with the nak;
 *   - a redelivery adds one to n, committed before the handler runs, so an
 *     attempt that crashes the process is counted too. With no document,
 *     n becomes 1: the first delivery never answered, so it was lost or
 *     crashed, and it is taken as lost (a handler that crashes the process
 *     on every delivery is run once more than the bound, never less).
 * The listener decides with n what it decided with the delivery count:
 * nak, dead letter, or "no answer". The document goes when the message is
 * answered for good (acked or dead-lettered); what a crash left behind is
 * pruned with the processed marks. This is the counter (bus.h,
 * store_bus_counter) store_bus_open gives a bus with a database; a bus
 * without one gets its counter from store_bus_set_counter (expirerd's
 * counts in Redis). The listener uses either the same way. */
#include "bus_impl.h"

#include <stdio.h>
#include <string.h>

#include "store/log.h"

void
bus_attempt_key(char out[BUS_ATTEMPT_KEY_MAX], const char *durable, uint64_t seq)
{
	snprintf(out, BUS_ATTEMPT_KEY_MAX, "%s:%llu", durable, (unsigned long long)seq);
}

struct attempt {
	const char *key;
	bool first;
	long long n;                  /* out */
};

/* Re-runnable: n = 1 with first or when key has no document, else one
 * more than its n. */
static store_err
count_tx(store_db *db, void *arg)
{
	struct attempt *a = arg;
	json_t *filter = NULL, *doc = NULL, *fields = NULL;
	json_int_t old;
	store_err e;

	a->n = 1;
	if ((filter = json_pack("{s:s}", "key", a->key)) == NULL)
		return STORE_ENOMEM;
	e = store_db_find_one(db, BUS_ATTEMPTS, filter, &doc);
	if (e == STORE_ENOTFOUND) {
		doc = json_pack("{s:s,s:I}", "key", a->key, "n", (json_int_t)1);
		e = doc == NULL ? STORE_ENOMEM : store_db_insert(db, BUS_ATTEMPTS, doc, NULL);
		/* A second copy of the program counted it first: run again. */
		if (e == STORE_EDUPLICATE)
			e = STORE_ECONFLICT;
	} else if (e == STORE_OK) {
		old = json_integer_value(json_object_get(doc, "n"));
		if (!a->first && old >= 1)
			a->n = (long long)old + 1;
		fields = json_pack("{s:I}", "n", (json_int_t)a->n);
		e = fields == NULL ? STORE_ENOMEM :
		    store_db_set(db, BUS_ATTEMPTS, json_string_value(json_object_get(doc, "id")),
		                 json_integer_value(json_object_get(doc, "version")), fields, NULL);
	}
	json_decref(fields);
	json_decref(doc);
	json_decref(filter);
	return e;
}

static store_err
db_count(void *ctx, const char *key, uint64_t delivered, bool first, long long *n)
{
	struct attempt a = { key, first, 0 };
	store_err e;

	(void)delivered;
	if ((e = store_db_txn_retry(ctx, count_tx, &a)) != STORE_OK) {
		store_warn("cannot count attempts '%s': %s", key, store_db_errmsg(ctx));
		return e;
	}
	*n = a.n;
	return STORE_OK;
}

/* Drops key's document; one changed since (another copy counted) stays,
 * for the relay's pruning. */
static store_err
forget_tx(store_db *db, void *arg)
{
	json_t *filter = json_pack("{s:s}", "key", (const char *)arg), *doc = NULL;
	store_err e;

	if (filter == NULL)
		return STORE_ENOMEM;
	if ((e = store_db_find_one(db, BUS_ATTEMPTS, filter, &doc)) == STORE_OK)
		e = store_db_delete(db, BUS_ATTEMPTS, json_string_value(json_object_get(doc, "id")),
		                    json_integer_value(json_object_get(doc, "version")));
	json_decref(doc);
	json_decref(filter);
	return e == STORE_ENOTFOUND || e == STORE_ECONFLICT ? STORE_OK : e;
}

static void
db_forget(void *ctx, const char *key)
{
	if (store_db_txn(ctx, forget_tx, (void *)key) != STORE_OK)
		store_warn("cannot drop the attempt count '%s' (%s): pruned later", key,
		           store_db_errmsg(ctx));
}

void
bus_attempts_db(store_bus_counter *out, store_db *db)
{
	*out = (store_bus_counter){ db_count, db_forget, db };
}
