/* cart.c - carts: what a buyer sees and changes. */
#include "cart_impl.h"

#include <stdio.h>
#include <string.h>

#include "store/json.h"
#include "store/session_gen.h"
#include "store/time.h"

static const char *const lines_unique[] = { "key", NULL };
static const char *const lines_indexed[] = { "userId", "productId", NULL };

const store_collection store_cart_collections[] = {
	{ "products", NULL, NULL },
	{ "carts", NULL, NULL },
	{ "lines", lines_unique, lines_indexed },
	STORE_SESSION_GEN_COLLECTION,
	STORE_BUS_COLLECTIONS,
};
const size_t store_cart_ncollections =
	sizeof store_cart_collections / sizeof *store_cart_collections;

#define EXPIRED_SHOWN_MS (3600 * 1000LL)   /* a lapsed line is reported this long */

/* One line of a cart: {product: {...}, qty, limit, expiresAt, holds}, where
 * qty counts only units still held at now; NULL when its product is gone
 * or no unit is held any more. */
static json_t *
line_view(const json_t *line, const json_t *p, long long now)
{
	long long qty = cart_line_qty(line, now), live = (long long)cart_holds_live(line, now);
	json_t *holds, *v;

	if (p == NULL || json_is_true(json_object_get(p, "deleted")) || qty <= 0)
		return NULL;
	if ((holds = cart_holds_backing(line, now, qty)) == NULL)
		return NULL;
	v = json_pack("{s:{s:s?,s:s?,s:s?,s:o,s:s?,s:s?,s:I,s:I},s:I,s:b,s:s?,s:o}",
	              "product",
	              "id", store_json_str(p, "id"),
	              "name", store_json_str(p, "name"),
	              "description", store_json_str(p, "description"),
	              "price", store_json_money(store_json_int(p, "price", 0)),
	              "picture", store_json_str(p, "picture"),
	              "categoryId", store_json_str(p, "categoryId"),
	              "count", (json_int_t)store_json_int(p, "count", 0),
	              "version", (json_int_t)store_json_int(p, "productVersion", 0),
	              "qty", (json_int_t)qty,
	              /* no unit left to add: every further one needs a new hold */
	              "limit", qty >= live || qty >= store_json_int(p, "count", 0),
	              "expiresAt", store_json_str(json_array_get(holds, 0), "expiresAt"),
	              "holds", holds);
	return v;
}

/* {product: {id, name}, qty, expiredAt}: a line that left the cart because
 * its holds ran out. */
static json_t *
expired_view(const char *product_id, const char *name, long long qty, long long at_ms)
{
	char at[STORE_TIME_LEN];

	store_time_format(at_ms, false, at);
	return json_pack("{s:{s:s?,s:s?},s:I,s:s}", "product", "id", product_id, "name", name,
	                 "qty", (json_int_t)qty, "expiredAt", at);
}

/* The latest expiry among line's holds (when the last one ran out). */
static long long
last_expiry(const json_t *line)
{
	const json_t *h;
	long long last = 0;
	size_t i;

	json_array_foreach(json_object_get(line, "holds"), i, h)
		if (store_json_int(h, "expiresAtMs", 0) > last)
			last = store_json_int(h, "expiresAtMs", 0);
	return last;
}

/* {id, userId, info, expired, version} of a cart document. */
static store_err
render(store_db *db, const json_t *cart, json_t **out)
{
	const char *user_id = store_json_str(cart, "userId");
	json_t *filter = json_pack("{s:s}", "userId", user_id), *lines = NULL;
	json_t *info = json_array(), *expired = json_array(), *line, *p = NULL;
	long long now = store_time_now_ms();
	size_t i;
	store_err e = STORE_ENOMEM;

	*out = NULL;
	if (filter == NULL || info == NULL || expired == NULL ||
	    (e = store_db_find(db, "lines", filter, NULL, &lines)) != STORE_OK)
		goto out;
	json_array_foreach(lines, i, line) {
		e = store_db_get(db, "products", store_json_str(line, "productId"), &p);
		if (e != STORE_OK && e != STORE_ENOTFOUND)
			goto out;
		json_t *v = line_view(line, p, now);
		if (v != NULL)
			json_array_append_new(info, v);
		else if (p != NULL && !json_is_true(json_object_get(p, "deleted")) &&
		         store_json_int(line, "qty", 0) > 0)
			/* Run out, and its expiration not handled yet: shown as
			 * the handler will record it. */
			json_array_append_new(expired, expired_view(store_json_str(p, "id"),
			                      store_json_str(p, "name"), store_json_int(line, "qty", 0),
			                      last_expiry(line)));
		json_decref(p);
		p = NULL;
	}
	json_array_foreach(json_object_get(cart, "expired"), i, line)
		if (store_json_int(line, "atMs", 0) > now - EXPIRED_SHOWN_MS)
			json_array_append_new(expired, expired_view(store_json_str(line, "productId"),
			                      store_json_str(line, "name"), store_json_int(line, "qty", 0),
			                      store_json_int(line, "atMs", 0)));
	*out = json_pack("{s:s,s:s,s:O,s:O,s:I}", "id", store_json_str(cart, "id"),
	                 "userId", user_id, "info", info, "expired", expired,
	                 "version", (json_int_t)store_json_int(cart, "version", 0));
	e = *out != NULL ? STORE_OK : STORE_ENOMEM;
out:
	json_decref(info);
	json_decref(expired);
	json_decref(lines);
	json_decref(filter);
	return e;
}

store_err
cart_view(store_db *db, const char *user_id, json_t **out)
{
	json_t *cart = NULL;
	store_err e = store_db_get(db, "carts", user_id, &cart);

	if (e == STORE_ENOTFOUND) {
		*out = json_null();
		return STORE_OK;
	}
	if (e == STORE_OK)
		e = render(db, cart, out);
	json_decref(cart);
	return e;
}

store_err
cart_touch(store_db *db, const char *user_id, const char *request_id, json_t **view)
{
	json_t *cart = NULL, *v = NULL;
	store_err e = store_db_get(db, "carts", user_id, &cart);

	if (e == STORE_ENOTFOUND) {
		cart = json_pack("{s:s,s:s}", "id", user_id, "userId", user_id);
		e = cart != NULL ? store_db_insert(db, "carts", cart, NULL) : STORE_ENOMEM;
	} else if (e == STORE_OK) {
		e = store_db_update(db, "carts", cart, NULL);
	}
	if (e != STORE_OK || (e = render(db, cart, &v)) != STORE_OK ||
	    (e = store_outbox_add(db, "store.cart.changed", v, request_id, NULL)) != STORE_OK)
		goto out;
	if (view != NULL) {
		*view = v;
		v = NULL;
	}
out:
	json_decref(v);
	json_decref(cart);
	return e;
}

store_err
cart_line(store_db *db, const char *user_id, const char *product_id, json_t **line)
{
	char key[64];
	json_t *filter;
	store_err e;

	snprintf(key, sizeof key, "%s:%s", user_id, product_id);
	if ((filter = json_pack("{s:s}", "key", key)) == NULL)
		return STORE_ENOMEM;
	e = store_db_find_one(db, "lines", filter, line);
	json_decref(filter);
	return e;
}

store_err
store_cart_get(store_db *db, const char *user_id, json_t **out)
{
	return cart_view(db, user_id, out);
}

/* The holds of a line the buyer took out go back on sale: the line's live
 * holds are announced in store.cart.released for the products service to
 * release (a spare hold kept by "-1" is not: "+1" takes it back). */
static store_err
release_holds(store_db *db, const json_t *line, const char *request_id)
{
	json_t *ids = json_array(), *h, *ev;
	long long now = store_time_now_ms();
	size_t i;
	store_err e = STORE_OK;

	if (ids == NULL)
		return STORE_ENOMEM;
	json_array_foreach(json_object_get(line, "holds"), i, h)
		if (store_json_int(h, "expiresAtMs", 0) > now)
			json_array_append(ids, json_object_get(h, "id"));
	if (json_array_size(ids) > 0) {
		ev = json_pack("{s:s?,s:s?,s:O}", "userId", store_json_str(line, "userId"),
		               "productId", store_json_str(line, "productId"), "selectionIds", ids);
		e = ev != NULL ? store_outbox_add(db, "store.cart.released", ev, request_id, NULL)
		    : STORE_ENOMEM;
		json_decref(ev);
	}
	json_decref(ids);
	return e;
}

typedef struct change_ctx {
	const char *user_id, *product_id, *request_id;
	int add;
	json_t *out;
} change_ctx;

static store_err
add_remove_tx(store_db *db, void *arg)
{
	change_ctx *c = arg;
	json_t *line = NULL;
	long long now = store_time_now_ms(), qty;
	store_err e;

	json_decref(c->out);
	c->out = NULL;
	if ((e = cart_line(db, c->user_id, c->product_id, &line)) != STORE_OK)
		goto out;
	qty = cart_line_qty(line, now) + c->add;
	if (c->add > 0 && qty > (long long)cart_holds_live(line, now)) {
		/* Every unit needs a hold of its own (addToCart takes one): with
		 * none spare, the cart stays as it is, limit set. */
		e = cart_view(db, c->user_id, &c->out);
		goto out;
	}
	if (qty <= 0) {
		e = store_db_delete(db, "lines", store_json_str(line, "id"),
		                    store_json_int(line, "version", 0));
		if (e == STORE_OK)
			e = release_holds(db, line, c->request_id);
		if (e == STORE_OK)
			e = cart_touch(db, c->user_id, c->request_id, NULL);
		goto out;
	}
	json_object_set_new(line, "qty", json_integer(qty));
	if ((e = store_db_update(db, "lines", line, NULL)) != STORE_OK)
		goto out;
	e = cart_touch(db, c->user_id, c->request_id, &c->out);
out:
	json_decref(line);
	return e;
}

store_err
store_cart_add_remove(store_db *db, const char *user_id, const char *product_id, int add,
                      const char *request_id, json_t **out)
{
	change_ctx c = { user_id, product_id, request_id, add, NULL };
	store_err e = store_db_txn_retry(db, add_remove_tx, &c);

	*out = e == STORE_OK ? c.out : NULL;
	if (e != STORE_OK)
		json_decref(c.out);
	return e;
}

static store_err
remove_tx(store_db *db, void *arg)
{
	change_ctx *c = arg;
	json_t *line = NULL;
	store_err e;

	if ((e = cart_line(db, c->user_id, c->product_id, &line)) != STORE_OK)
		return e;
	e = store_db_delete(db, "lines", store_json_str(line, "id"),
	                    store_json_int(line, "version", 0));
	if (e == STORE_OK)
		e = release_holds(db, line, c->request_id);
	if (e == STORE_OK)
		e = cart_touch(db, c->user_id, c->request_id, NULL);
	json_decref(line);
	return e;
}

store_err
store_cart_remove(store_db *db, const char *user_id, const char *product_id,
                  const char *request_id)
{
	change_ctx c = { user_id, product_id, request_id, 0, NULL };

	return store_db_txn_retry(db, remove_tx, &c);
}
