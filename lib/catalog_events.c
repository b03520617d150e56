/* catalog_events.c - what the products service does with others' events:
 * expired selections are released, paid ones sold. Each handler records
 * the event id in "processed" in the same transaction as its effect, so a
 * redelivery or a replay has no second effect. */
#include "catalog_impl.h"

#include <string.h>

#include "store/json.h"
#include "store/log.h"
#include "store/oid.h"

/* Changes a product's stock and holds: count goes down by sold, views by
 * released; the version goes up and product.updated is announced. Stock
 * is never clamped: a count that would go below 0 is an oversell, kept
 * as it is (storectl health reports it) and logged as an error. */
static store_err
change_product(store_db *db, const char *product_id, long long sold, long long released,
               const char *request_id)
{
	json_t *doc = NULL;
	long long views, count;
	store_err e;

	if ((e = store_db_get(db, "products", product_id, &doc)) != STORE_OK)
		goto out;
	views = store_json_int(doc, "views", 0) - released;
	count = store_json_int(doc, "count", 0) - sold;
	if (count < 0 || views < 0 || views > count)
		store_log(STORE_LOG_ERROR, request_id, NULL,
		          "product '%s' oversold: count %lld, holds %lld after selling %lld",
		          product_id, count, views, sold);
	json_object_set_new(doc, "views", json_integer(views > 0 ? views : 0));
	json_object_set_new(doc, "count", json_integer(count));
	if ((e = store_db_update(db, "products", doc, NULL)) != STORE_OK)
		goto out;
	e = catalog_emit(db, "store.product.updated", catalog_product_payload(doc), request_id);
out:
	json_decref(doc);
	return e;
}

typedef struct event_ctx {
	const store_event *ev;
} event_ctx;

static store_err
expiration_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const char *sel_id = store_json_str(ev->payload, "selectionId");
	json_t *sel = NULL;
	store_err e;

	if (!store_oid_valid(sel_id))
		return STORE_EINVAL;
	if ((e = store_processed_mark(db, ev->consumer, ev->id)) != STORE_OK)
		goto out;
	if ((e = store_db_get(db, "selections", sel_id, &sel)) != STORE_OK)
		goto out;
	if (strcmp(store_json_str(sel, "status"), "held") != 0)
		goto out;          /* sold or released already: left alone */
	json_object_set_new(sel, "status", json_string("released"));
	if ((e = store_db_update(db, "selections", sel, NULL)) != STORE_OK)
		goto out;
	e = change_product(db, store_json_str(sel, "productId"), 0, 1, ev->request_id);
out:
	json_decref(sel);
	return e;
}

store_err
store_catalog_on_expiration(store_db *db, const store_event *ev)
{
	event_ctx c = { ev };
	store_err e = store_db_txn_retry(db, expiration_tx, &c);

	/* A repeat, or a selection or product that no longer exists, has
	 * nothing left to do. */
	return e == STORE_EDUPLICATE || e == STORE_ENOTFOUND ? STORE_OK : e;
}

/* Marks up to qty of the buyer's held selections of a product sold (an
 * older payment.created, which does not name them); *n gets how many. */
static store_err
sell_any_holds(store_db *db, const char *product_id, const char *user_id, long long qty,
               long long *n)
{
	store_find_opts opts = { NULL, 0, (size_t)qty, 0 };
	json_t *filter = json_pack("{s:s,s:s,s:s}", "productId", product_id,
	                           "userId", user_id, "status", "held");
	json_t *sels = NULL, *sel;
	size_t i;
	store_err e = STORE_ENOMEM;

	*n = 0;
	if (filter == NULL || (e = store_db_find(db, "selections", filter, &opts, &sels)) != STORE_OK)
		goto out;
	json_array_foreach(sels, i, sel) {
		json_object_set_new(sel, "status", json_string("sold"));
		if ((e = store_db_update(db, "selections", sel, NULL)) != STORE_OK)
			goto out;
		(*n)++;
	}
out:
	json_decref(sels);
	json_decref(filter);
	return e;
}

/* Marks the holds a payment names sold. *n gets how many were still held
 * (their unit leaves views and count); a hold released meanwhile (its
 * expiry was handled before the payment arrived) sells from free stock. */
static store_err
sell_named_holds(store_db *db, const char *product_id, const char *user_id,
                 const json_t *ids, long long *n, const char *request_id)
{
	const json_t *id;
	json_t *sel = NULL;
	size_t i;
	store_err e = STORE_OK;

	*n = 0;
	json_array_foreach(ids, i, id) {
		json_decref(sel);
		sel = NULL;
		if ((e = store_db_get(db, "selections", json_string_value(id), &sel)) ==
		    STORE_ENOTFOUND) {
			e = STORE_OK;
			continue;
		}
		if (e != STORE_OK)
			break;
		if (strcmp(store_json_str(sel, "productId"), product_id) != 0 ||
		    strcmp(store_json_str(sel, "userId"), user_id) != 0)
			continue;
		if (strcmp(store_json_str(sel, "status"), "held") == 0)
			(*n)++;
		else
			store_log(STORE_LOG_WARN, request_id, NULL,
			          "selection '%s' was %s before its payment arrived: sold from free stock",
			          json_string_value(id), store_json_str(sel, "status"));
		json_object_set_new(sel, "status", json_string("sold"));
		if ((e = store_db_update(db, "selections", sel, NULL)) != STORE_OK)
			break;
	}
	json_decref(sel);
	return e;
}

static store_err
payment_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const char *user_id = store_json_str(ev->payload, "userId");
	const json_t *info = json_object_get(ev->payload, "info"), *line;
	size_t i;
	store_err e;

	if (!store_oid_valid(user_id) || !json_is_array(info))
		return STORE_EINVAL;
	if ((e = store_processed_mark(db, ev->consumer, ev->id)) != STORE_OK)
		return e;
	json_array_foreach(info, i, line) {
		const char *pid = store_json_str(line, "productId");
		const json_t *ids = json_object_get(line, "selectionIds"), *id;
		long long qty = store_json_int(line, "qty", 0), sold = 0;
		size_t k;

		if (!store_oid_valid(pid) || qty <= 0 || (ids != NULL && !json_is_array(ids)))
			return STORE_EINVAL;
		json_array_foreach(ids, k, id)
			if (!store_oid_valid(json_string_value(id)))
				return STORE_EINVAL;
		e = ids != NULL ? sell_named_holds(db, pid, user_id, ids, &sold, ev->request_id)
		    : sell_any_holds(db, pid, user_id, qty, &sold);
		if (e != STORE_OK)
			return e;
		e = change_product(db, pid, qty, sold, ev->request_id);
		if (e != STORE_OK && e != STORE_ENOTFOUND)
			return e;
	}
	return STORE_OK;
}

store_err
store_catalog_on_payment(store_db *db, const store_event *ev)
{
	event_ctx c = { ev };
	store_err e = store_db_txn_retry(db, payment_tx, &c);

	return e == STORE_EDUPLICATE ? STORE_OK : e;
}

/* Releases the holds a buyer took out of the cart (store.cart.released):
 * each still held by that user on that product is released, and the
 * product's views go down by as many, in one product.updated. */
static store_err
released_tx(store_db *db, void *arg)
{
	const store_event *ev = ((event_ctx *)arg)->ev;
	const char *uid = store_json_str(ev->payload, "userId");
	const char *pid = store_json_str(ev->payload, "productId");
	const json_t *ids = json_object_get(ev->payload, "selectionIds"), *id;
	json_t *sel = NULL;
	long long n = 0;
	size_t i;
	store_err e;

	if (!store_oid_valid(uid) || !store_oid_valid(pid) || !json_is_array(ids))
		return STORE_EINVAL;
	if ((e = store_processed_mark(db, ev->consumer, ev->id)) != STORE_OK)
		return e;
	json_array_foreach(ids, i, id) {
		json_decref(sel);
		sel = NULL;
		e = store_db_get(db, "selections", json_string_value(id), &sel);
		if (e == STORE_ENOTFOUND)
			continue;
		if (e != STORE_OK)
			goto out;
		if (strcmp(store_json_str(sel, "status"), "held") != 0 ||
		    strcmp(store_json_str(sel, "userId"), uid) != 0 ||
		    strcmp(store_json_str(sel, "productId"), pid) != 0)
			continue;     /* sold, expired, or not this buyer's: left alone */
		json_object_set_new(sel, "status", json_string("released"));
		if ((e = store_db_update(db, "selections", sel, NULL)) != STORE_OK)
			goto out;
		n++;
	}
	e = n > 0 ? change_product(db, pid, 0, n, ev->request_id) : STORE_OK;
out:
	json_decref(sel);
	return e;
}

store_err
store_catalog_on_cart_released(store_db *db, const store_event *ev)
{
	event_ctx c = { ev };
	store_err e = store_db_txn_retry(db, released_tx, &c);

	return e == STORE_EDUPLICATE || e == STORE_ENOTFOUND ? STORE_OK : e;
}
