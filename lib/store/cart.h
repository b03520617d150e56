/* cart.h - the cart service's domain: carts built from events.
 *
 * Stored documents:
 *   products {name, description, price (cents), picture, categoryId, count,
 *             userId, productVersion, deleted}: the replica of the products
 *             service's products, id = the product's id. productVersion is
 *             the product's version; updates apply only in version order.
 *             A deleted product stays as a tombstone so late events about
 *             it are recognised.
 *   carts    {userId}: id = the owner's user id; its version is the cart's.
 *   carts    also keeps "expired": [{productId, name, qty, atMs}], the
 *            last lines that left because their holds ran out.
 *   lines    {userId, productId, qty, key = userId:productId (unique),
 *             holds: [{id = selectionId, expiresAtMs}]}: every unit is
 *             backed by a hold of the products service (store.cart.add);
 *             qty never counts more units than live holds.
 * Every change of a cart bumps its version and announces store.cart.changed
 * with the whole cart through the outbox, in the same transaction.
 *
 * Answers are new JSON values in API.md's cart shape; caller frees. */
#ifndef STORE_CART_H
#define STORE_CART_H

#include <stddef.h>
#include <jansson.h>
#include "store/bus.h"
#include "store/db.h"

extern const store_collection store_cart_collections[];
extern const size_t store_cart_ncollections;

/* The user's cart, or JSON null when the user has none. */
store_err store_cart_get(store_db *db, const char *user_id, json_t **out);

/* Changes a line's quantity by add (1 or -1), never beyond the units held
 * for the user (a further unit needs addToCart, which takes a hold; at the
 * holds the cart is answered unchanged with limit set). *out is the cart, or NULL when the line was removed (quantity 0).
 * STORE_ENOTFOUND when the product is not in the cart. */
store_err store_cart_add_remove(store_db *db, const char *user_id, const char *product_id,
                                int add, const char *request_id, json_t **out);

/* Removes a line. STORE_ENOTFOUND when the product is not in the cart. */
store_err store_cart_remove(store_db *db, const char *user_id, const char *product_id,
                            const char *request_id);

/* Event handlers for cartd (EVENTS.md rule 4: versioned replica, or the
 * processed table). STORE_ELATER when an earlier version is missing. */
store_err store_cart_on_product(store_db *db, const store_event *ev);
store_err store_cart_on_product_deleted(store_db *db, const store_event *ev);
store_err store_cart_on_add(store_db *db, const store_event *ev);
store_err store_cart_on_expiration(store_db *db, const store_event *ev);
store_err store_cart_on_payment(store_db *db, const store_event *ev);

#endif
