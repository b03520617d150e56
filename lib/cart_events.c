/* cart_events.c - what the cart service does with others' events.
 *
 * The product replica applies version v only when it holds v - 1 (a
 * duplicate at v or later is skipped, a gap waits: STORE_ELATER); cart.add
 * and payment.created are made idempotent by the processed table. */
#include "cart_impl.h"

#include <stdio.h>
#include <string.h>

#include "store/json.h"
#include "store/oid.h"
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
 * STORE_OK to apply (*doc is the local copy, or NULL when there is none and
 * v is 0), STORE_EDUPLICATE to skip, STORE_ELATER to wait. */
static store_err
replica_order(store_db *db, const char *id, long long v, json_t **doc)
{
	store_err e = store_db_get(db, "products", id, doc);
	long long have;

	if (e == STORE_ENOTFOUND) {
		*doc = NULL;
		return v == 0 ? STORE_OK : STORE_ELATER;
	}
	if (e != STORE_OK)
		return e;
	have = store_json_int(*doc, "productVersion", -1);
	if (have >= v)
		return STORE_EDUPLICATE;
	return have == v - 1 ? STORE_OK : STORE_ELATER;
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

static store_err
add_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const char *pid = store_json_str(ev->payload, "productId");
	const char *uid = store_json_str(ev->payload, "userId");
	long long v = store_json_int(ev->payload, "version", -1), qty, count;
	json_t *p = NULL, *line = NULL;
	char key[64];
	store_err e;

	if (!store_oid_valid(pid) || !store_oid_valid(uid) || v < 0)
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
	count = store_json_int(p, "count", 0);
	e = cart_line(db, uid, pid, &line);
	if (e == STORE_ENOTFOUND) {
		snprintf(key, sizeof key, "%s:%s", uid, pid);
		line = json_pack("{s:s,s:s,s:s,s:i}", "userId", uid, "productId", pid,
		                 "key", key, "qty", 1);
		if (line == NULL) {
			e = STORE_ENOMEM;
			goto out;
		}
		if (count >= 1 && (e = store_db_insert(db, "lines", line, NULL)) != STORE_OK)
			goto out;
	} else if (e != STORE_OK) {
		goto out;
	} else if ((qty = store_json_int(line, "qty", 0)) < count) {
		/* Never beyond stock: at the stock, limit shows it instead. */
		json_object_set_new(line, "qty", json_integer(qty + 1));
		if ((e = store_db_update(db, "lines", line, NULL)) != STORE_OK)
			goto out;
	}
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

static store_err
payment_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const char *uid = store_json_str(ev->payload, "userId");
	json_t *filter = NULL, *lines = NULL, *cart = NULL, *line;
	size_t i;
	store_err e;

	if (!store_oid_valid(uid))
		return STORE_EINVAL;
	if ((e = store_processed_mark(db, ev->consumer, ev->id)) != STORE_OK)
		return e;
	if ((filter = json_pack("{s:s}", "userId", uid)) == NULL)
		return STORE_ENOMEM;
	if ((e = store_db_find(db, "lines", filter, NULL, &lines)) != STORE_OK)
		goto out;
	json_array_foreach(lines, i, line)
		if ((e = store_db_delete(db, "lines", store_json_str(line, "id"),
		                         store_json_int(line, "version", 0))) != STORE_OK)
			goto out;
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
