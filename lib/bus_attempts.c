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
 * pruned with the processed marks. A bus without a database counts the
 * same way through its counter (store_bus_set_counter), given the key
 * made here. */
#include "bus_impl.h"

#include <stdio.h>
#include <string.h>

void
bus_attempt_key(char out[BUS_ATTEMPT_KEY_MAX], const char *durable, uint64_t seq)
{
	snprintf(out, BUS_ATTEMPT_KEY_MAX, "%s:%llu", durable, (unsigned long long)seq);
}

static store_err
attempt_write(store_db *db, const char *key, struct bus_attempt *a, bool first)
{
	json_t *filter = NULL, *doc = NULL, *fields = NULL;
	long long n = 1;
	store_err e;

	if ((filter = json_pack("{s:s}", "key", key)) == NULL)
		return STORE_ENOMEM;
	e = store_db_find_one(db, BUS_ATTEMPTS, filter, &doc);
	if (e == STORE_ENOTFOUND) {
		json_decref(doc);
		doc = json_pack("{s:s,s:I}", "key", key, "n", (json_int_t)1);
		if (doc == NULL) {
			e = STORE_ENOMEM;
			goto out;
		}
		/* A second copy of the program counted it first: run again. */
		if ((e = store_db_insert(db, BUS_ATTEMPTS, doc, NULL)) == STORE_EDUPLICATE)
			e = STORE_ECONFLICT;
		a->version = 0;
	} else if (e == STORE_OK) {
		json_int_t old = json_integer_value(json_object_get(doc, "n"));

		if (!first && old >= 1)
			n = (long long)old + 1;
		a->version = json_integer_value(json_object_get(doc, "version"));
		fields = json_pack("{s:I}", "n", (json_int_t)n);
		e = fields == NULL ? STORE_ENOMEM :
		    store_db_set(db, BUS_ATTEMPTS,
		                 json_string_value(json_object_get(doc, "id")),
		                 a->version, fields, NULL);
		a->version++;
	}
	if (e != STORE_OK)
		goto out;
	snprintf(a->id, sizeof a->id, "%s", json_string_value(json_object_get(doc, "id")));
	a->n = n;
out:
	json_decref(fields);
	json_decref(doc);
	json_decref(filter);
	return e;
}

store_err
bus_attempt_count(store_db *db, const char *durable, struct bus_attempt *a, bool first)
{
	char key[BUS_ATTEMPT_KEY_MAX];

	a->id[0] = '\0';
	bus_attempt_key(key, durable, a->seq);
	return attempt_write(db, key, a, first);
}

store_err
bus_attempt_forget(store_db *db, const struct bus_attempt *a)
{
	store_err e;

	if (a->id[0] == '\0')
		return STORE_OK;
	e = store_db_delete(db, BUS_ATTEMPTS, a->id, a->version);
	return e == STORE_ENOTFOUND || e == STORE_ECONFLICT ? STORE_OK : e;
}
