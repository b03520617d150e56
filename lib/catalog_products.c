/* catalog_products.c - products: list, create, update, delete, pictures. */
#include "catalog_impl.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/json.h"
#include "store/oid.h"
#include "store/time.h"

#define PICTURE_PATH "/api/products/picture/"

store_err
store_products_list(store_db *db, const char *category_id, const char *user_id,
                    json_t **out)
{
	store_find_opts opts = { NULL, 0, 0, 0 };
	json_t *category = NULL, *docs = NULL, *filter = NULL, *doc;
	size_t i;
	store_err e;

	*out = NULL;
	/* A malformed path id is a 404 (API.md); a well-formed unknown one is
	 * an empty category. */
	if (!store_oid_valid(category_id))
		return STORE_ENOTFOUND;
	if ((e = store_db_get(db, "categories", category_id, &category)) == STORE_ENOTFOUND) {
		*out = json_array();   /* a category with no products, as the original */
		return *out != NULL ? STORE_OK : STORE_ENOMEM;
	}
	if (e != STORE_OK)
		goto out;
	filter = user_id != NULL
	         ? json_pack("{s:s,s:s}", "categoryId", category_id, "userId", user_id)
	         : json_pack("{s:s}", "categoryId", category_id);
	if (filter == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	if ((e = store_db_find(db, "products", filter, &opts, &docs)) != STORE_OK)
		goto out;
	*out = json_array();
	json_array_foreach(docs, i, doc)
		json_array_append_new(*out, catalog_product_view(doc, category));
	e = *out != NULL ? STORE_OK : STORE_ENOMEM;
out:
	json_decref(docs);
	json_decref(filter);
	json_decref(category);
	return e;
}

/* Stores an uploaded data URL picture; *url gets the product's picture
 * ("/api/products/picture/<id>"). An http(s) URL is kept as it is. */
static store_err
keep_picture(store_db *db, const char *picture, char url[96])
{
	const char *semi, *comma;
	json_t *doc = NULL;
	store_err e;

	if (strncmp(picture, "data:", 5) != 0) {
		snprintf(url, 96, "%s", "");
		return STORE_OK;
	}
	semi = strchr(picture, ';');
	comma = strchr(picture, ',');
	if (semi == NULL || comma == NULL || semi < picture + 5)
		return STORE_EINVAL;
	doc = json_pack("{s:s%,s:s}", "type", picture + 5, (size_t)(semi - picture - 5),
	                "data", comma + 1);
	if (doc == NULL)
		return STORE_ENOMEM;
	e = store_db_insert(db, "pictures", doc, NULL);
	if (e == STORE_OK)
		snprintf(url, 96, PICTURE_PATH "%s", store_json_str(doc, "id"));
	json_decref(doc);
	return e;
}

/* Deletes the stored picture a product pointed at, if it was an upload. */
static store_err
drop_picture(store_db *db, const char *picture)
{
	json_t *doc = NULL;
	store_err e;

	if (picture == NULL || strncmp(picture, PICTURE_PATH, strlen(PICTURE_PATH)) != 0)
		return STORE_OK;
	e = store_db_get(db, "pictures", picture + strlen(PICTURE_PATH), &doc);
	if (e == STORE_OK)
		e = store_db_delete(db, "pictures", store_json_str(doc, "id"),
		                    store_json_int(doc, "version", 0));
	json_decref(doc);
	return e == STORE_ENOTFOUND ? STORE_OK : e;
}

/* Copies the validated fields of in onto doc (picture only when given and
 * not the current one). A picture path of the store's own is refused unless
 * it is the product's current picture: another product's upload would be
 * shared, then deleted with either product. */
static store_err
set_fields(store_db *db, json_t *doc, const json_t *in, store_refusal *why)
{
	static const char *const fields[] = { "name", "description", "price", "count",
	                                      "categoryId" };
	const char *picture = store_json_str(in, "picture");
	const char *current = store_json_str(doc, "picture");
	char url[96];
	store_err e;

	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
		if (json_object_set(doc, fields[i], json_object_get(in, fields[i])) != 0)
			return STORE_ENOMEM;
	if (picture == NULL || (current != NULL && strcmp(picture, current) == 0))
		return STORE_OK;
	if (strncmp(picture, PICTURE_PATH, strlen(PICTURE_PATH)) == 0) {
		why->message = "Picture is another product's picture";
		why->field = "picture";
		return STORE_EINVAL;
	}
	if ((e = drop_picture(db, store_json_str(doc, "picture"))) != STORE_OK ||
	    (e = keep_picture(db, picture, url)) != STORE_OK)
		return e;
	return json_object_set_new(doc, "picture", json_string(url[0] ? url : picture)) == 0
	       ? STORE_OK : STORE_ENOMEM;
}

typedef struct change_ctx {
	const store_actor *who;
	const char *id;            /* update, delete, select */
	const json_t *in;
	const char *category_id;   /* select */
	long hold_seconds;         /* select */
	json_t *out;
	store_refusal *why;
} change_ctx;

static store_err
refuse(store_refusal *why, const char *message, const char *field)
{
	why->message = message;
	why->field = field;
	return STORE_EINVAL;
}

/* The category for a product; a missing one is a refusal. */
static store_err
product_category(store_db *db, const char *id, json_t **category, store_refusal *why)
{
	store_err e = store_db_get(db, "categories", id, category);

	return e == STORE_ENOTFOUND ? refuse(why, "Invalid Category Id", "categoryId") : e;
}

static store_err
product_create_tx(store_db *db, void *arg)
{
	change_ctx *c = arg;
	json_t *doc = NULL, *category = NULL;
	store_err e;

	json_decref(c->out);
	c->out = NULL;
	if ((e = product_category(db, store_json_str(c->in, "categoryId"), &category,
	                          c->why)) != STORE_OK)
		goto out;
	doc = json_pack("{s:s,s:i}", "userId", c->who->user->id, "views", 0);
	if (doc == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	if ((e = set_fields(db, doc, c->in, c->why)) != STORE_OK ||
	    (e = store_db_insert(db, "products", doc, NULL)) != STORE_OK ||
	    (e = catalog_emit(db, "store.product.created", catalog_product_payload(doc),
	                      c->who->request_id)) != STORE_OK)
		goto out;
	c->out = catalog_product_view(doc, category);
	e = c->out != NULL ? STORE_OK : STORE_ENOMEM;
out:
	json_decref(category);
	json_decref(doc);
	return e;
}

store_err
store_product_create(store_db *db, const store_actor *who, const json_t *in,
                     json_t **out, store_refusal *why)
{
	change_ctx c = { .who = who, .in = in, .why = why };
	store_err e = store_db_txn_retry(db, product_create_tx, &c);

	*out = e == STORE_OK ? c.out : NULL;
	if (e != STORE_OK)
		json_decref(c.out);
	return e;
}

/* The product id, if the caller owns it. Caller frees *doc. */
static store_err
owned_product(store_db *db, const store_actor *who, const char *id, json_t **doc)
{
	store_err e = store_db_get(db, "products", id, doc);

	if (e != STORE_OK)
		return e;
	if (strcmp(store_json_str(*doc, "userId"), who->user->id) != 0) {
		json_decref(*doc);
		*doc = NULL;
		return STORE_EFORBIDDEN;
	}
	return STORE_OK;
}

static store_err
product_update_tx(store_db *db, void *arg)
{
	change_ctx *c = arg;
	json_t *doc = NULL, *category = NULL;
	store_err e;

	json_decref(c->out);
	c->out = NULL;
	if ((e = owned_product(db, c->who, c->id, &doc)) != STORE_OK ||
	    (e = product_category(db, store_json_str(c->in, "categoryId"), &category,
	                          c->why)) != STORE_OK ||
	    (e = set_fields(db, doc, c->in, c->why)) != STORE_OK ||
	    (e = store_db_update(db, "products", doc, NULL)) != STORE_OK ||
	    (e = catalog_emit(db, "store.product.updated", catalog_product_payload(doc),
	                      c->who->request_id)) != STORE_OK)
		goto out;
	c->out = catalog_product_view(doc, category);
	e = c->out != NULL ? STORE_OK : STORE_ENOMEM;
out:
	json_decref(category);
	json_decref(doc);
	return e;
}

store_err
store_product_update(store_db *db, const store_actor *who, const char *id,
                     const json_t *in, json_t **out, store_refusal *why)
{
	change_ctx c = { .who = who, .id = id, .in = in, .why = why };
	store_err e = store_db_txn_retry(db, product_update_tx, &c);

	*out = e == STORE_OK ? c.out : NULL;
	if (e != STORE_OK)
		json_decref(c.out);
	return e;
}

static store_err
product_delete_tx(store_db *db, void *arg)
{
	change_ctx *c = arg;
	json_t *doc = NULL;
	long long version;
	store_err e;

	if ((e = owned_product(db, c->who, c->id, &doc)) != STORE_OK)
		goto out;
	version = store_json_int(doc, "version", 0);
	if ((e = store_db_delete(db, "products", c->id, version)) != STORE_OK ||
	    (e = drop_picture(db, store_json_str(doc, "picture"))) != STORE_OK)
		goto out;
	/* The deletion is the product's next version, so a replica applies it
	 * after every update before it. */
	e = catalog_emit(db, "store.product.deleted",
	                 json_pack("{s:s,s:I}", "id", c->id, "version", (json_int_t)version + 1),
	                 c->who->request_id);
out:
	json_decref(doc);
	return e;
}

store_err
store_product_delete(store_db *db, const store_actor *who, const char *id)
{
	change_ctx c = { .who = who, .id = id };

	return store_db_txn_retry(db, product_delete_tx, &c);
}

static store_err
product_select_tx(store_db *db, void *arg)
{
	change_ctx *c = arg;
	json_t *doc = NULL, *sel = NULL, *added = NULL;
	char expires[STORE_TIME_LEN];
	long long now = (long long)time(NULL), views, count;
	store_err e;

	json_decref(c->out);
	c->out = NULL;
	if ((e = store_db_get(db, "products", c->id, &doc)) != STORE_OK)
		goto out;
	if (strcmp(store_json_str(doc, "categoryId"), c->category_id) != 0) {
		e = refuse(c->why, "Invalid Category Id", "categoryId");
		goto out;
	}
	views = store_json_int(doc, "views", 0);
	count = store_json_int(doc, "count", 0);
	if (count - views <= 0) {
		e = refuse(c->why, "Out of stock", NULL);
		goto out;
	}
	store_time_format((now + c->hold_seconds) * 1000, false, expires);
	json_object_set_new(doc, "views", json_integer(views + 1));
	if ((e = store_db_update(db, "products", doc, NULL)) != STORE_OK)
		goto out;
	sel = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "productId", c->id,
	                "userId", c->who->user->id, "categoryId", c->category_id,
	                "status", "held", "expiresAt", expires,
	                "expiresAtMs", (json_int_t)(now + c->hold_seconds) * 1000);
	if (sel == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	if ((e = store_db_insert(db, "selections", sel, NULL)) != STORE_OK)
		goto out;
	/* The unit is the hold: cart.add names it, so the cart can show how
	 * long it lasts and payments can pay for exactly the units held. */
	added = json_pack("{s:s,s:s?,s:s?,s:s?,s:o,s:s,s:I,s:i,s:s,s:s?,s:s}",
	                  "productId", c->id,
	                  "name", store_json_str(doc, "name"),
	                  "description", store_json_str(doc, "description"),
	                  "picture", store_json_str(doc, "picture"),
	                  "price", store_json_money(store_json_int(doc, "price", 0)),
	                  "categoryId", c->category_id,
	                  "version", (json_int_t)store_json_int(doc, "version", 0),
	                  "count", 1,
	                  "userId", c->who->user->id,
	                  "selectionId", store_json_str(sel, "id"),
	                  "expiresAt", expires);
	if (added == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	if ((e = catalog_emit(db, "store.product.updated", catalog_product_payload(doc),
	                      c->who->request_id)) != STORE_OK ||
	    (e = catalog_emit(db, "store.product.selected",
	                      json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "productId", c->id,
	                                "selectionId", store_json_str(sel, "id"),
	                                "userId", c->who->user->id,
	                                "categoryId", c->category_id,
	                                "views", (json_int_t)(views + 1),
	                                "expiresAt", expires),
	                      c->who->request_id)) != STORE_OK ||
	    (e = catalog_emit(db, "store.cart.add", json_incref(added),
	                      c->who->request_id)) != STORE_OK)
		goto out;
	c->out = added;
	added = NULL;
out:
	json_decref(added);
	json_decref(sel);
	json_decref(doc);
	return e;
}

store_err
store_product_select(store_db *db, const store_actor *who, const char *id,
                     const char *category_id, long hold_seconds, json_t **out,
                     store_refusal *why)
{
	change_ctx c = { .who = who, .id = id, .category_id = category_id,
	                 .hold_seconds = hold_seconds, .why = why };
	store_err e = store_db_txn_retry(db, product_select_tx, &c);

	*out = e == STORE_OK ? c.out : NULL;
	if (e != STORE_OK)
		json_decref(c.out);
	return e;
}

store_err
store_picture_get(store_db *db, const char *id, char **type, unsigned char **data,
                  size_t *len)
{
	json_t *doc = NULL;
	const char *b64;
	size_t cap;
	store_err e;

	*type = NULL;
	*data = NULL;
	*len = 0;
	if ((e = store_db_get(db, "pictures", id, &doc)) != STORE_OK)
		goto out;
	b64 = store_json_str(doc, "data");
	cap = strlen(b64) / 4 * 3 + 3;
	*data = malloc(cap);
	*type = strdup(store_json_str(doc, "type"));
	if (*data == NULL || *type == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	if (sodium_base642bin(*data, cap, b64, strlen(b64), NULL, len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		e = STORE_EINTERNAL;
out:
	if (e != STORE_OK) {
		free(*type);
		free(*data);
		*type = NULL;
		*data = NULL;
	}
	json_decref(doc);
	return e;
}
