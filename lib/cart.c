/* cart.c - carts: what a buyer sees and changes. */
#include "cart_impl.h"

#include <stdio.h>
#include <string.h>

#include "store/json.h"
#include "store/session_gen.h"

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

/* One line of a cart: {product: {...}, qty, limit}; NULL when its product
 * is gone. */
static json_t *
line_view(store_db *db, const json_t *line)
{
	json_t *p = NULL, *v = NULL;
	long long qty = store_json_int(line, "qty", 0), count;

	if (store_db_get(db, "products", store_json_str(line, "productId"), &p) != STORE_OK ||
	    json_is_true(json_object_get(p, "deleted")))
		goto out;
	count = store_json_int(p, "count", 0);
	v = json_pack("{s:{s:s?,s:s?,s:s?,s:o,s:s?,s:s?,s:I,s:I},s:I,s:b}",
	              "product",
	              "id", store_json_str(p, "id"),
	              "name", store_json_str(p, "name"),
	              "description", store_json_str(p, "description"),
	              "price", store_json_money(store_json_int(p, "price", 0)),
	              "picture", store_json_str(p, "picture"),
	              "categoryId", store_json_str(p, "categoryId"),
	              "count", (json_int_t)count,
	              "version", (json_int_t)store_json_int(p, "productVersion", 0),
	              "qty", (json_int_t)qty,
	              "limit", qty >= count);
out:
	json_decref(p);
	return v;
}

/* {id, userId, info, version} of a cart document. */
static store_err
render(store_db *db, const json_t *cart, json_t **out)
{
	const char *user_id = store_json_str(cart, "userId");
	json_t *filter = json_pack("{s:s}", "userId", user_id), *lines = NULL, *info, *line;
	size_t i;
	store_err e = STORE_ENOMEM;

	*out = NULL;
	if (filter == NULL || (e = store_db_find(db, "lines", filter, NULL, &lines)) != STORE_OK)
		goto out;
	info = json_array();
	json_array_foreach(lines, i, line) {
		json_t *v = line_view(db, line);
		if (v != NULL)
			json_array_append_new(info, v);
	}
	*out = json_pack("{s:s,s:s,s:o,s:I}", "id", store_json_str(cart, "id"),
	                 "userId", user_id, "info", info,
	                 "version", (json_int_t)store_json_int(cart, "version", 0));
	e = *out != NULL ? STORE_OK : STORE_ENOMEM;
out:
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

typedef struct change_ctx {
	const char *user_id, *product_id, *request_id;
	int add;
	json_t *out;
} change_ctx;

static store_err
add_remove_tx(store_db *db, void *arg)
{
	change_ctx *c = arg;
	json_t *line = NULL, *p = NULL;
	long long qty, count;
	store_err e;

	json_decref(c->out);
	c->out = NULL;
	if ((e = cart_line(db, c->user_id, c->product_id, &line)) != STORE_OK)
		goto out;
	e = store_db_get(db, "products", c->product_id, &p);
	if (e != STORE_OK && e != STORE_ENOTFOUND)
		goto out;
	count = p != NULL ? store_json_int(p, "count", 0) : 0;
	qty = store_json_int(line, "qty", 0) + c->add;
	if (c->add > 0 && qty > count) {
		/* At the stock already: the cart stays, with limit set. */
		e = cart_view(db, c->user_id, &c->out);
		goto out;
	}
	if (qty <= 0) {
		e = store_db_delete(db, "lines", store_json_str(line, "id"),
		                    store_json_int(line, "version", 0));
		if (e == STORE_OK)
			e = cart_touch(db, c->user_id, c->request_id, NULL);
		goto out;
	}
	json_object_set_new(line, "qty", json_integer(qty));
	if ((e = store_db_update(db, "lines", line, NULL)) != STORE_OK)
		goto out;
	e = cart_touch(db, c->user_id, c->request_id, &c->out);
out:
	json_decref(p);
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
