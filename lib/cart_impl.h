/* cart_impl.h - private: what the cart's files share. */
#ifndef STORE_CART_IMPL_H
#define STORE_CART_IMPL_H

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


#endif
