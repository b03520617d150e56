/* payments.h - the payments service's domain: paying for a cart exactly
 * once.
 *
 * Stored documents:
 *   carts     {userId, cartVersion, info}: the replica of each user's cart
 *             from store.cart.changed (id = the user id), applied when its
 *             version is newer; an emptied cart stays as an empty one so a
 *             late, older event cannot bring a paid cart back.
 *   attempts  {key (unique), request, status: pending|succeeded|declined,
 *             leaseUntil, paymentId, message, code}: one per idempotency
 *             key, so concurrent and retried requests charge once.
 *   payments  {userId, stripeId, total (cents), currency, status, info,
 *             createdAt, createdAtMs}
 * plus the sandbox's "charges", the outbox and the processed table. */
#ifndef STORE_PAYMENTS_H
#define STORE_PAYMENTS_H

#include <stddef.h>
#include <jansson.h>
#include "store/bus.h"
#include "store/db.h"
#include "store/pay.h"
#include "store/session.h"

extern const store_collection store_payments_collections[];
extern const size_t store_payments_ncollections;

typedef struct store_payment_req {
	const store_user *user;
	const char *token;            /* the card token from the browser */
	int has_total;                /* the client sent a total */
	long long total;              /* its total, in cents */
	const char *idempotency_key;  /* the Idempotency-Key header, or NULL */
	const char *request_id;
	long long hold_margin_ms;     /* a hold paid for must outlive now by this */
} store_payment_req;

/* Pays for the user's cart. The total is the replica's, never the
 * client's. STORE_OK: *out is {id} (also when the request is a retry of a
 * paid one). STORE_ENOTFOUND: the user has no cart at all. STORE_EINVAL
 * with *why: a card number sent as the token, Cart is empty, Total does not
 * match the cart, the key was used for another payment, or the provider
 * refused the token.
 * STORE_EDECLINED with *why: the card was declined (the cart is kept).
 * STORE_EUNAVAIL: the provider is unreachable; nothing recorded as paid.
 * STORE_ECONFLICT: the same key is still being charged by another request. */
store_err store_payments_create(store_db *db, store_pay *pay, const store_payment_req *req,
                               json_t **out, store_refusal *why);

/* The user's payments, newest first. */
store_err store_payments_list(store_db *db, const char *user_id, json_t **out);

/* paymentsd's handler for store.cart.changed. */
store_err store_payments_on_cart_changed(store_db *db, const store_event *ev);

#endif
