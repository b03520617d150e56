/* catalog.h - the products service's domain: categories, products,
 * selections (holds on stock) and the pictures uploaded with products.
 *
 * Stored documents (money as integer cents):
 *   categories {name, nameKey (lowercase, unique), description, userId}
 *   products   {name, description, price, picture, userId, views, count,
 *               categoryId}
 *   selections {productId, userId, categoryId, status: held|released|sold,
 *               expiresAt}
 *   pictures   {type, data}: an image uploaded as a data URL; the product's
 *               picture is then "/api/products/picture/<id>", so events and
 *               replicas carry a short URL, never megabytes.
 * Every change writes its events to the outbox in the same transaction
 * (EVENTS.md); the caller kicks the bus after a function returns STORE_OK.
 *
 * Answers are new JSON values in API.md's shapes; caller frees with
 * json_decref. A refused request is STORE_EINVAL with *why set; an owner
 * check failing is STORE_EFORBIDDEN; an unknown or malformed id is
 * STORE_ENOTFOUND. */
#ifndef STORE_CATALOG_H
#define STORE_CATALOG_H

#include <stddef.h>
#include <jansson.h>
#include "store/bus.h"
#include "store/db.h"
#include "store/session.h"

/* The collections of the products service's database, outbox included. */
extern const store_collection store_catalog_collections[];
extern const size_t store_catalog_ncollections;

/* Context of a change: who asks and which request caused it. */
typedef struct store_actor {
	const store_user *user;
	const char *request_id;
} store_actor;

store_err store_categories_list(store_db *db, json_t **out);
/* in: {name, description} validated. */
store_err store_category_create(store_db *db, const store_actor *who,
                                const json_t *in, json_t **out, store_refusal *why);
store_err store_category_update(store_db *db, const store_actor *who, const char *id,
                                const json_t *in, json_t **out, store_refusal *why);
store_err store_category_delete(store_db *db, const store_actor *who, const char *id,
                                store_refusal *why);

/* Products of a category, all or only user_id's (NULL: all). */
store_err store_products_list(store_db *db, const char *category_id,
                              const char *user_id, json_t **out);
/* A page of a listing: page from 1, limit (0: all, page ignored) and the
 * order: sort NULL for the listing's own (insertion order; best matches
 * first for a search), "price" (cheapest first), "-price" (dearest first)
 * or "newest" (most recently created first). */
typedef struct store_listing {
	size_t page;
	size_t limit;
	const char *sort;
} store_listing;

/* The sort names store_listing accepts, NULL-terminated. */
extern const char *const store_listing_sorts[];

/* One page of a category's products (API.md's product shape) and *total,
 * the number in the category. A malformed category id is STORE_ENOTFOUND,
 * an unknown one an empty page. */
store_err store_products_page(store_db *db, const char *category_id,
                              const store_listing *l, json_t **out, size_t *total);
/* One page of the products whose name or description holds every word of
 * text (store_db_search), and *total, the number of all matches. */
store_err store_products_search(store_db *db, const char *text,
                                const store_listing *l, json_t **out, size_t *total);
/* One product by id, with its category. STORE_ENOTFOUND when absent. */
store_err store_product_get(store_db *db, const char *id, json_t **out);
/* One page of the categories (by name; sort is ignored) and *total. */
store_err store_categories_page(store_db *db, const store_listing *l,
                                json_t **out, size_t *total);

/* The same answers as JSON text, for a response body: the bytes
 * store_json_dump gives for the value the function above answers, copied
 * from the stored documents' text (store_db_find_text) instead of decoded
 * and encoded again. Caller frees *out with free(); *len is its length
 * (NUL-terminated too). Each answer is remembered (store_db_memo_put)
 * until a collection it shows changes: the categories' answers until a
 * category does, the products' until a product or a category does. */
store_err store_categories_list_text(store_db *db, char **out, size_t *len);
store_err store_categories_page_text(store_db *db, const store_listing *l,
                                     char **out, size_t *len, size_t *total);
store_err store_products_list_text(store_db *db, const char *category_id,
                                   const char *user_id, char **out, size_t *len);
store_err store_products_page_text(store_db *db, const char *category_id,
                                   const store_listing *l, char **out,
                                   size_t *len, size_t *total);

/* in: {name, description, price (cents), count, picture, categoryId}. */
store_err store_product_create(store_db *db, const store_actor *who,
                               const json_t *in, json_t **out, store_refusal *why);
/* in: as for create; picture may be absent (kept). */
store_err store_product_update(store_db *db, const store_actor *who, const char *id,
                               const json_t *in, json_t **out, store_refusal *why);
store_err store_product_delete(store_db *db, const store_actor *who, const char *id);

/* addToCart: holds one unit for hold_seconds. STORE_EINVAL "Out of stock"
 * when no unreserved unit is left. */
store_err store_product_select(store_db *db, const store_actor *who, const char *id,
                               const char *category_id, long hold_seconds,
                               json_t **out, store_refusal *why);

/* A picture by id: *type ("image/png") and *data (decoded bytes, *len)
 * are new; caller frees both with free(). */
store_err store_picture_get(store_db *db, const char *id, char **type,
                            unsigned char **data, size_t *len);

/* Event handlers for productsd (idempotent: EVENTS.md rule 4). */
store_err store_catalog_on_expiration(store_db *db, const store_event *ev);
store_err store_catalog_on_payment(store_db *db, const store_event *ev);
store_err store_catalog_on_cart_released(store_db *db, const store_event *ev);

#endif
