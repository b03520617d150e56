/* cart_events.c - what the cart service does with others' events.
 *
 * The product replica keeps the highest version: product.created and
 * product.updated carry the whole product, so any version above the one it
 * holds replaces it, and one at or below it is skipped. Events of one
 * product can reach the stream out of order (a relay whose connection
 * dropped publishes an unacknowledged batch again after later ones were
 * stored), and a replica that waited for each version in turn filled the
 * consumer's unacknowledged messages with later versions, naked again and
 * again while the ones it needed sat behind them. Only
 * product.deleted, which carries no product, waits for a copy to mark
 * (STORE_ELATER); cart.add,
 * expiration.complete and payment.created are made idempotent by the
 * processed table. Every unit in a cart is backed by a hold (cart_holds.c):
 * cart.add brings one, expiration.complete takes its unit out, and
 * payment.created takes out the units and holds it paid for. */
#include "cart_impl.h"

#include <stdio.h>
#include <string.h>

#include "store/json.h"
#include "store/oid.h"
#include "store/time.h"
#include "store/valid.h"

typedef struct event_ctx {
	const store_event *ev;
} event_ctx;

/* Announces a change of every cart holding product_id; with drop, their
 * lines of it are removed first. */
static store_err
touch_carts_with(store_db *db, const char *product_id, int drop, const char *request_id)
{
	json_t *filter = json_pack("{s:s}", "productId", product_id), *lines = NULL, *line;
	size_t i;
	store_err e = STORE_ENOMEM;

	if (filter == NULL || (e = store_db_find(db, "lines", filter, NULL, &lines)) != STORE_OK)
		goto out;
	json_array_foreach(lines, i, line) {
		if (drop && (e = store_db_delete(db, "lines", store_json_str(line, "id"),
		                                 store_json_int(line, "version", 0))) != STORE_OK)
			goto out;
		if ((e = cart_touch(db, store_json_str(line, "userId"), request_id, NULL)) != STORE_OK)
			goto out;
	}
out:
	json_decref(lines);
	json_decref(filter);
	return e;
}

/* Where the replica stands for an event of version v about product id:
 * STORE_OK to apply (*doc is the local copy, NULL when there is none),
 * STORE_EDUPLICATE to skip (the copy is at v or later). */
static store_err
replica_order(store_db *db, const char *id, long long v, json_t **doc)
{
	store_err e = store_db_get(db, "products", id, doc);

	if (e == STORE_ENOTFOUND) {
		*doc = NULL;
		return STORE_OK;
	}
	if (e != STORE_OK)
		return e;
	return store_json_int(*doc, "productVersion", -1) >= v ? STORE_EDUPLICATE : STORE_OK;
}

static store_err
product_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const json_t *p = ev->payload;
	const char *id = store_json_str(p, "id");
	json_t *v = json_object_get(p, "version"), *doc = NULL;
	long long cents = 0, count = store_json_int(p, "count", -1);
	store_err e;

	if (!store_oid_valid(id) || !json_is_integer(v) || json_integer_value(v) < 0 ||
	    !store_valid_money(json_object_get(p, "price"), &cents) || count < 0)
		return STORE_EINVAL;
	if ((e = replica_order(db, id, json_integer_value(v), &doc)) != STORE_OK)
		goto out;
	if (doc == NULL && (doc = json_pack("{s:s}", "id", id)) == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	json_object_set_new(doc, "name", json_string(store_json_str(p, "name")));
	json_object_set_new(doc, "description", json_string(store_json_str(p, "description")));
	json_object_set_new(doc, "picture", json_string(store_json_str(p, "picture")));
	json_object_set_new(doc, "categoryId", json_string(store_json_str(p, "categoryId")));
	json_object_set_new(doc, "userId", json_string(store_json_str(p, "userId")));
	json_object_set_new(doc, "price", json_integer(cents));
	json_object_set_new(doc, "count", json_integer(count));
	json_object_set_new(doc, "productVersion", json_integer(json_integer_value(v)));
	json_object_set_new(doc, "deleted", json_false());
	if (json_object_get(doc, "version") == NULL) {
		e = store_db_insert(db, "products", doc, NULL);
		goto out;
	}
	if ((e = store_db_update(db, "products", doc, NULL)) != STORE_OK)
		goto out;
	e = touch_carts_with(db, id, 0, ev->request_id);
out:
	json_decref(doc);
	return e;
}

store_err
store_cart_on_product(store_db *db, const store_event *ev)
{
	event_ctx c = { ev };
	store_err e = store_db_txn_retry(db, product_tx, &c);

	return e == STORE_EDUPLICATE ? STORE_OK : e;
}

static store_err
product_deleted_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const char *id = store_json_str(ev->payload, "id");
	json_t *v = json_object_get(ev->payload, "version"), *doc = NULL;
	store_err e;

	if (!store_oid_valid(id) || !json_is_integer(v) || json_integer_value(v) < 1)
		return STORE_EINVAL;
	if ((e = replica_order(db, id, json_integer_value(v), &doc)) != STORE_OK)
		goto out;
	/* No product to mark until a copy exists. */
	if (doc == NULL) {
		e = STORE_ELATER;
		goto out;
	}
	json_object_set_new(doc, "deleted", json_true());
	json_object_set_new(doc, "productVersion", json_integer(json_integer_value(v)));
	if ((e = store_db_update(db, "products", doc, NULL)) != STORE_OK)
		goto out;
	e = touch_carts_with(db, id, 1, ev->request_id);
out:
	json_decref(doc);
	return e;
}

store_err
store_cart_on_product_deleted(store_db *db, const store_event *ev)
{
	event_ctx c = { ev };
	store_err e = store_db_txn_retry(db, product_deleted_tx, &c);

	return e == STORE_EDUPLICATE ? STORE_OK : e;
}

/* Drops holds of line that ran out before now (they back nothing). */
static void
prune_lapsed(json_t *line, long long now)
{
	json_t *holds = json_object_get(line, "holds");
	size_t i = json_array_size(holds);

	while (i-- > 0)
		if (store_json_int(json_array_get(holds, i), "expiresAtMs", 0) <= now)
			json_array_remove(holds, i);
}

/* The product is in the cart again: its notice of expired units goes. */
static store_err
clear_notices(store_db *db, const char *uid, const char *pid)
{
	json_t *cart = NULL, *notes;
	size_t i, n;
	store_err e;

	if ((e = store_db_get(db, "carts", uid, &cart)) != STORE_OK)
		return e == STORE_ENOTFOUND ? STORE_OK : e;
	notes = json_object_get(cart, "expired");
	n = json_array_size(notes);
	for (i = json_array_size(notes); i-- > 0;)
		if (strcmp(store_json_str(json_array_get(notes, i), "productId"), pid) == 0)
			json_array_remove(notes, i);
	e = json_array_size(notes) != n ? store_db_update(db, "carts", cart, NULL) : STORE_OK;
	json_decref(cart);
	return e;
}

static store_err
add_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const char *pid = store_json_str(ev->payload, "productId");
	const char *uid = store_json_str(ev->payload, "userId");
	const char *sid = store_json_str(ev->payload, "selectionId");
	long long v = store_json_int(ev->payload, "version", -1), expires = 0;
	long long now = store_time_now_ms(), qty;
	json_t *p = NULL, *line = NULL;
	char key[64];
	store_err e;

	if (!store_oid_valid(pid) || !store_oid_valid(uid) || !store_oid_valid(sid) || v < 0 ||
	    !store_time_parse(store_json_str(ev->payload, "expiresAt"), &expires))
		return STORE_EINVAL;
	/* The replica must have seen the product at this version first. */
	e = store_db_get(db, "products", pid, &p);
	if (e == STORE_ENOTFOUND || (e == STORE_OK && store_json_int(p, "productVersion", -1) < v)) {
		e = STORE_ELATER;
		goto out;
	}
	if (e != STORE_OK || (e = store_processed_mark(db, ev->consumer, ev->id)) != STORE_OK)
		goto out;
	if (json_is_true(json_object_get(p, "deleted")))
		goto out;
	e = cart_line(db, uid, pid, &line);
	if (e == STORE_ENOTFOUND) {
		snprintf(key, sizeof key, "%s:%s", uid, pid);
		line = json_pack("{s:s,s:s,s:s,s:i,s:[]}", "userId", uid, "productId", pid,
		                 "key", key, "qty", 0, "holds");
		if (line == NULL) {
			e = STORE_ENOMEM;
			goto out;
		}
	} else if (e != STORE_OK) {
		goto out;
	}
	/* One more unit, backed by this hold; the stock was checked when the
	 * products service took it. */
	qty = cart_line_qty(line, now) + 1;
	prune_lapsed(line, now);
	if ((e = cart_holds_add(line, sid, expires)) != STORE_OK)
		goto out;
	json_object_set_new(line, "qty", json_integer(qty));
	e = json_object_get(line, "version") == NULL ? store_db_insert(db, "lines", line, NULL)
	    : store_db_update(db, "lines", line, NULL);
	if (e == STORE_OK)
		e = clear_notices(db, uid, pid);
	if (e == STORE_OK)
		e = cart_touch(db, uid, ev->request_id, NULL);
out:
	json_decref(line);
	json_decref(p);
	return e;
}

store_err
store_cart_on_add(store_db *db, const store_event *ev)
{
	event_ctx c = { ev };
	store_err e = store_db_txn_retry(db, add_tx, &c);

	return e == STORE_EDUPLICATE ? STORE_OK : e;
}

/* Takes the paid units out of the buyer's line of one product: the holds
 * the payment names, and qty units. */
static store_err
take_paid(store_db *db, const char *uid, const json_t *item, long long now)
{
	const char *pid = store_json_str(item, "productId");
	const json_t *sid;
	json_t *line = NULL;
	long long qty;
	size_t i;
	store_err e;

	if (!store_oid_valid(pid))
		return STORE_EINVAL;
	if ((e = cart_line(db, uid, pid, &line)) != STORE_OK)
		return e == STORE_ENOTFOUND ? STORE_OK : e;
	json_array_foreach(json_object_get(item, "selectionIds"), i, sid)
		if (json_is_string(sid))
			cart_holds_drop(line, json_string_value(sid));
	qty = cart_line_qty(line, now);
	if (qty > store_json_int(line, "qty", 0) - store_json_int(item, "qty", 0))
		qty = store_json_int(line, "qty", 0) - store_json_int(item, "qty", 0);
	if (qty <= 0) {
		e = store_db_delete(db, "lines", store_json_str(line, "id"),
		                    store_json_int(line, "version", 0));
	} else {
		json_object_set_new(line, "qty", json_integer(qty));
		e = store_db_update(db, "lines", line, NULL);
	}
	json_decref(line);
	return e;
}

/* Whether a payment.created names the holds it paid for (every line
 * since payments pays for holds; an older event does not). */
static bool
names_holds(const json_t *info)
{
	const json_t *item;
	size_t i;

	json_array_foreach(info, i, item)
		if (!json_is_array(json_object_get(item, "selectionIds")))
			return false;
	return json_array_size(info) > 0;
}

static store_err
payment_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const char *uid = store_json_str(ev->payload, "userId");
	const json_t *info = json_object_get(ev->payload, "info");
	json_t *filter = NULL, *lines = NULL, *cart = NULL, *line;
	long long now = store_time_now_ms();
	size_t i;
	store_err e;

	if (!store_oid_valid(uid) || !json_is_array(info))
		return STORE_EINVAL;
	if ((e = store_processed_mark(db, ev->consumer, ev->id)) != STORE_OK)
		return e;
	if (names_holds(info)) {
		/* Only what was paid leaves the cart: a unit added while the
		 * payment ran stays for the next one. */
		json_array_foreach(info, i, line)
			if ((e = take_paid(db, uid, line, now)) != STORE_OK)
				goto out;
	} else {
		if ((filter = json_pack("{s:s}", "userId", uid)) == NULL)
			return STORE_ENOMEM;
		if ((e = store_db_find(db, "lines", filter, NULL, &lines)) != STORE_OK)
			goto out;
		json_array_foreach(lines, i, line)
			if ((e = store_db_delete(db, "lines", store_json_str(line, "id"),
			                         store_json_int(line, "version", 0))) != STORE_OK)
				goto out;
	}
	e = store_db_get(db, "carts", uid, &cart);
	if (e == STORE_ENOTFOUND) {
		e = STORE_OK;
		goto out;
	}
	if (e == STORE_OK)
		e = cart_touch(db, uid, ev->request_id, NULL);
out:
	json_decref(cart);
	json_decref(lines);
	json_decref(filter);
	return e;
}

store_err
store_cart_on_payment(store_db *db, const store_event *ev)
{
	event_ctx c = { ev };
	store_err e = store_db_txn_retry(db, payment_tx, &c);

	return e == STORE_EDUPLICATE ? STORE_OK : e;
}

#define NOTICES_KEPT 10

/* Records in the user's cart document that a line left it because its
 * holds ran out, for the cart to say so. */
static store_err
note_expired(store_db *db, const char *uid, const char *pid, const json_t *product,
             long long qty, long long at_ms)
{
	json_t *cart = NULL, *notes;
	store_err e;

	if ((e = store_db_get(db, "carts", uid, &cart)) != STORE_OK)
		return e == STORE_ENOTFOUND ? STORE_OK : e;
	notes = json_object_get(cart, "expired");
	if (!json_is_array(notes)) {
		notes = json_array();
		json_object_set_new(cart, "expired", notes);
	}
	while (json_array_size(notes) >= NOTICES_KEPT)
		json_array_remove(notes, 0);
	json_array_append_new(notes, json_pack("{s:s,s:s?,s:I,s:I}", "productId", pid,
	                                       "name", store_json_str(product, "name"),
	                                       "qty", (json_int_t)qty, "atMs", (json_int_t)at_ms));
	e = store_db_update(db, "carts", cart, NULL);
	json_decref(cart);
	return e;
}

/* A hold ran out: its unit leaves the line that it backed. */
static store_err
hold_lapsed(store_db *db, json_t *line, const char *sid, const char *request_id)
{
	const char *uid = store_json_str(line, "userId");
	const char *pid = store_json_str(line, "productId");
	long long now = store_time_now_ms(), at = now, before, after;
	json_t *p = NULL, *h;
	size_t i;
	store_err e;

	json_array_foreach(json_object_get(line, "holds"), i, h)
		if (strcmp(store_json_str(h, "id"), sid) == 0)
			at = store_json_int(h, "expiresAtMs", now);
	/* Counted at the hold's own expiry, so a late event counts the same. */
	before = cart_line_qty(line, at - 1);
	if (!cart_holds_drop(line, sid))
		return STORE_OK;
	after = cart_line_qty(line, now);
	if (after > 0) {
		json_object_set_new(line, "qty", json_integer(after));
		e = store_db_update(db, "lines", line, NULL);
	} else {
		e = store_db_delete(db, "lines", store_json_str(line, "id"),
		                    store_json_int(line, "version", 0));
	}
	/* Units it backed are gone: the cart says so. */
	if (e == STORE_OK && after < before &&
	    (e = store_db_get(db, "products", pid, &p)) == STORE_OK)
		e = note_expired(db, uid, pid, p, before - after, at);
	if (e == STORE_ENOTFOUND)
		e = STORE_OK;
	if (e == STORE_OK)
		e = cart_touch(db, uid, request_id, NULL);
	json_decref(p);
	return e;
}

static store_err
expiration_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const char *pid = store_json_str(ev->payload, "productId");
	const char *sid = store_json_str(ev->payload, "selectionId");
	json_t *filter = NULL, *lines = NULL, *line;
	size_t i;
	store_err e;

	if (!store_oid_valid(pid) || !store_oid_valid(sid))
		return STORE_EINVAL;
	if ((e = store_processed_mark(db, ev->consumer, ev->id)) != STORE_OK)
		return e;
	if ((filter = json_pack("{s:s}", "productId", pid)) == NULL)
		return STORE_ENOMEM;
	if ((e = store_db_find(db, "lines", filter, NULL, &lines)) != STORE_OK)
		goto out;
	json_array_foreach(lines, i, line)
		if ((e = hold_lapsed(db, line, sid, ev->request_id)) != STORE_OK)
			goto out;
out:
	json_decref(lines);
	json_decref(filter);
	return e;
}

store_err
store_cart_on_expiration(store_db *db, const store_event *ev)
{
	event_ctx c = { ev };
	store_err e = store_db_txn_retry(db, expiration_tx, &c);

	return e == STORE_EDUPLICATE ? STORE_OK : e;
}
