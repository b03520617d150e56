/* cart_impl.h - private: what the cart's files share. */
#ifndef STORE_CART_IMPL_H
#define STORE_CART_IMPL_H

#include <stdbool.h>
#include <jansson.h>
#include "store/cart.h"


/* The user's cart as API.md shows it, or JSON null when there is none. */
store_err cart_view(store_db *db, const char *user_id, json_t **out);

/* Records a change of the user's cart (creating the cart document when
 * needed): version + 1, store.cart.changed with the whole cart into the
 * outbox. *view, when not NULL, gets the new cart. Inside a txn. */
store_err cart_touch(store_db *db, const char *user_id, const char *request_id,
                     json_t **view);

/* The line of product_id in the user's cart. Caller frees *line. */
store_err cart_line(store_db *db, const char *user_id, const char *product_id,
                    json_t **line);

/* Holds behind a line (cart_holds.c): line["holds"] = [{id, expiresAtMs}]. */

/* How many of line's holds are still live at now_ms. */
size_t cart_holds_live(const json_t *line, long long now_ms);

/* The quantity a line really has at now_ms: its qty, but never more than
 * its live holds. */
long long cart_line_qty(const json_t *line, long long now_ms);

/* Adds a hold to line (in place). */
store_err cart_holds_add(json_t *line, const char *selection_id, long long expires_ms);

/* Removes the hold selection_id from line (in place); false when absent. */
bool cart_holds_drop(json_t *line, const char *selection_id);

/* The qty live holds that back line's units, the latest-expiring ones, as
 * [{selectionId, expiresAt}] soonest first. New reference (NULL: memory). */
json_t *cart_holds_backing(const json_t *line, long long now_ms, long long qty);

#endif
