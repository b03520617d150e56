/* payments.c - paying for a cart exactly once. */
#include "store/payments.h"

#include <ctype.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"
#include "store/log.h"
#include "store/oid.h"
#include "store/session_gen.h"
#include "store/time.h"
#include "store/valid.h"

#define LEASE_MS 60000        /* an attempt's claim, should its process die */
#define WAIT_STEP_MS 100
#define WAIT_STEPS 300        /* 30 s for a concurrent attempt to finish */

const store_collection store_payments_collections[] = {
	{ "carts", NULL, NULL },
	{ "attempts", (const char *const[]){ "key", NULL }, NULL },
	{ "payments", NULL, (const char *const[]){ "userId", "createdAtMs", NULL } },
	{ "paid_holds", NULL, NULL },
	STORE_PAY_COLLECTIONS,
	STORE_SESSION_GEN_COLLECTION,
	STORE_BUS_COLLECTIONS,
};
const size_t store_payments_ncollections =
	sizeof store_payments_collections / sizeof *store_payments_collections;

static store_err
refuse(store_refusal *why, const char *message, const char *field)
{
	why->message = message;
	why->field = field;
	return STORE_EINVAL;
}

/* A card number (12 to 19 digits, maybe grouped by blanks or dashes) sent
 * where a token belongs. It is refused before anything is stored or sent,
 * so it never reaches a database, a log or the provider. */
static bool
card_number_like(const char *s)
{
	size_t digits = 0;

	for (; *s != '\0'; s++) {
		if (isdigit((unsigned char)*s))
			digits++;
		else if (*s != ' ' && *s != '-')
			return false;
	}
	return digits >= 12 && digits <= 19;
}

/* The cart's total in cents, or -1 when a line is malformed. */
static long long
cart_total(const json_t *info)
{
	const json_t *line;
	long long total = 0, cents;
	size_t i;

	json_array_foreach(info, i, line) {
		long long qty = store_json_int(line, "qty", 0);
		if (qty <= 0 || !store_valid_money(json_object_get(json_object_get(line, "product"),
		                                                   "price"), &cents))
			return -1;
		total += cents * qty;
	}
	return total;
}

/* The key of this payment (the client's, or the cart version and token),
 * hashed to 64 hex characters: it names the attempt and is the provider's
 * Idempotency-Key. */
static void
payment_key(const store_payment_req *req, long long cart_version, char out[65])
{
	unsigned char h[32];
	char *raw = NULL;
	int n;

	if (req->idempotency_key != NULL)
		n = asprintf(&raw, "key:%s:%s", req->user->id, req->idempotency_key);
	else
		n = asprintf(&raw, "cart:%s:%lld:%s", req->user->id, cart_version, req->token);
	if (n < 0) {
		raw = NULL;
		n = 0;
	}
	crypto_generichash(h, sizeof h, (const unsigned char *)(raw != NULL ? raw : ""),
	                   (size_t)n, NULL, 0);
	sodium_bin2hex(out, 65, h, sizeof h);
	free(raw);
}

typedef struct claim {
	const char *key;
	char request[160];
	json_t *attempt;      /* ours once claimed, or the finished one */
} claim;

/* Claims the attempt of key, waiting while another request holds it.
 * STORE_OK: ours (c->attempt pending). STORE_EDUPLICATE: already finished
 * (c->attempt says how). STORE_EINVAL: the key belongs to another request.
 * STORE_ECONFLICT: still in flight elsewhere after the wait. */
static store_err
claim_attempt(store_db *db, claim *c)
{
	json_t *filter = json_pack("{s:s}", "key", c->key);
	store_err e = STORE_ENOMEM;

	if (filter == NULL)
		return e;
	for (int step = 0; step < WAIT_STEPS; step++) {
		json_decref(c->attempt);
		c->attempt = json_pack("{s:s,s:s,s:s,s:I}", "key", c->key, "request", c->request,
		                       "status", "pending", "leaseUntil",
		                       (json_int_t)(store_time_now_ms() + LEASE_MS));
		if (c->attempt == NULL) {
			e = STORE_ENOMEM;
			goto out;
		}
		e = store_db_insert(db, "attempts", c->attempt, NULL);
		if (e != STORE_EDUPLICATE)
			goto out;
		json_decref(c->attempt);
		c->attempt = NULL;
		e = store_db_find_one(db, "attempts", filter, &c->attempt);
		if (e == STORE_ENOTFOUND)
			continue;     /* released meanwhile: try again */
		if (e != STORE_OK)
			goto out;
		if (strcmp(store_json_str(c->attempt, "request"), c->request) != 0) {
			e = STORE_EINVAL;
			goto out;
		}
		if (strcmp(store_json_str(c->attempt, "status"), "pending") != 0) {
			e = STORE_EDUPLICATE;
			goto out;
		}
		if (store_json_int(c->attempt, "leaseUntil", 0) < store_time_now_ms()) {
			/* Its process died: take it over (the provider's idempotency
			 * key makes a second charge attempt safe). */
			json_object_set_new(c->attempt, "leaseUntil", json_integer(store_time_now_ms() + LEASE_MS));
			e = store_db_update(db, "attempts", c->attempt, NULL);
			if (e != STORE_ECONFLICT)
				goto out;
			continue;
		}
		struct timespec ts = { 0, WAIT_STEP_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	e = STORE_ECONFLICT;
out:
	json_decref(filter);
	return e;
}

/* An attempt of c->key that already finished: STORE_EDUPLICATE (in
 * c->attempt), STORE_EINVAL when it was for another request, or
 * STORE_ENOTFOUND when there is none or it is still pending. */
static store_err
finished_attempt(store_db *db, claim *c)
{
	json_t *filter = json_pack("{s:s}", "key", c->key);
	store_err e;

	if (filter == NULL)
		return STORE_ENOMEM;
	e = store_db_find_one(db, "attempts", filter, &c->attempt);
	json_decref(filter);
	if (e != STORE_OK)
		return e;
	if (strcmp(store_json_str(c->attempt, "request"), c->request) != 0)
		return STORE_EINVAL;
	if (strcmp(store_json_str(c->attempt, "status"), "pending") != 0)
		return STORE_EDUPLICATE;
	json_decref(c->attempt);
	c->attempt = NULL;
	return STORE_ENOTFOUND;
}

/* The units a payment pays for: per cart line the product, qty and the
 * holds (selectionIds) that back them, and the total in cents. */
typedef struct plan {
	json_t *lines;        /* [{product, qty, selectionIds}] */
	long long total;
} plan;

/* Whether the hold selection_id was paid for already. */
static store_err
hold_paid(store_db *db, const char *selection_id, bool *paid)
{
	json_t *doc = NULL;
	store_err e = store_db_get(db, "paid_holds", selection_id, &doc);

	json_decref(doc);
	*paid = e == STORE_OK;
	return e == STORE_ENOTFOUND ? STORE_OK : e;
}

/* The holds of line usable now: live at least until `until` (so the
 * payment is recorded before they run out) and not paid yet, up to qty.
 * New reference in *ids. */
static store_err
usable_holds(store_db *db, const json_t *line, long long qty, long long until,
             json_t **ids)
{
	const json_t *h;
	size_t i;
	store_err e = STORE_OK;
	bool paid;

	if ((*ids = json_array()) == NULL)
		return STORE_ENOMEM;
	json_array_foreach(json_object_get(line, "holds"), i, h) {
		const char *sid = store_json_str(h, "selectionId");
		long long at;

		if ((long long)json_array_size(*ids) >= qty)
			break;
		if (!store_oid_valid(sid) || !store_time_parse(store_json_str(h, "expiresAt"), &at) ||
		    at <= until)
			continue;
		if ((e = hold_paid(db, sid, &paid)) != STORE_OK)
			break;
		if (!paid)
			json_array_append_new(*ids, json_string(sid));
	}
	return e;
}

/* What the replica cart lets the user pay for now: every line's units,
 * each backed by a live hold; refused when one is not. */
static store_err
plan_cart(store_db *db, const json_t *cart, const store_payment_req *req, plan *pl,
          store_refusal *why)
{
	const json_t *info = json_object_get(cart, "info"), *line;
	long long until = store_time_now_ms() + req->hold_margin_ms, cents;
	json_t *ids = NULL;
	size_t i;
	store_err e = STORE_OK;

	json_decref(pl->lines);
	pl->total = 0;
	if ((pl->lines = json_array()) == NULL)
		return STORE_ENOMEM;
	if (json_array_size(info) == 0)
		return refuse(why, "Cart is empty", NULL);
	json_array_foreach(info, i, line) {
		const json_t *product = json_object_get(line, "product");
		long long qty = store_json_int(line, "qty", 0);

		if (qty <= 0 || !store_valid_money(json_object_get(product, "price"), &cents)) {
			store_log(STORE_LOG_ERROR, req->request_id, NULL,
			          "cart of '%s' has a malformed line", req->user->id);
			e = STORE_EINTERNAL;
			break;
		}
		if ((e = usable_holds(db, line, qty, until, &ids)) != STORE_OK)
			break;
		if ((long long)json_array_size(ids) < qty) {
			snprintf(why->buf, sizeof why->buf,
			         "Your hold on '%.80s' has run out: add it to the cart again",
			         store_json_str(product, "name"));
			e = refuse(why, why->buf, NULL);
			break;
		}
		json_array_append_new(pl->lines, json_pack("{s:O,s:I,s:O}", "product", product,
		                                           "qty", (json_int_t)qty,
		                                           "selectionIds", ids));
		pl->total += cents * qty;
		json_decref(ids);
		ids = NULL;
	}
	json_decref(ids);
	if (e == STORE_OK && req->has_total && req->total != pl->total)
		e = refuse(why, "Total does not match the cart", "total");
	return e;
}

typedef struct cart_claim {
	const store_payment_req *req;
	const char *key;
	plan *pl;
	store_refusal *why;
	bool release;         /* give the claim back instead of taking it */
} cart_claim;

/* Claims the user's cart for the attempt key: one payment at a time per
 * cart, whatever Idempotency-Key or token the others carry. The plan is
 * made again from the cart as it is under the claim. With c->release,
 * gives the claim back if it is still the key's. */
static store_err
claim_cart_tx(store_db *db, void *arg)
{
	cart_claim *c = arg;
	json_t *cart = NULL;
	const char *holder;
	store_err e;

	if ((e = store_db_get(db, "carts", c->req->user->id, &cart)) != STORE_OK)
		goto out;
	holder = store_json_str(cart, "claimKey");
	if (c->release) {
		if (holder == NULL || strcmp(holder, c->key) != 0)
			goto out;
		json_object_del(cart, "claimKey");
		json_object_del(cart, "claimUntil");
		e = store_db_update(db, "carts", cart, NULL);
		goto out;
	}
	if (holder != NULL && strcmp(holder, c->key) != 0 &&
	    store_json_int(cart, "claimUntil", 0) > store_time_now_ms()) {
		c->why->message = "A payment for this cart is already in progress";
		c->why->field = NULL;
		e = STORE_ECONFLICT;
		goto out;
	}
	if ((e = plan_cart(db, cart, c->req, c->pl, c->why)) != STORE_OK)
		goto out;
	json_object_set_new(cart, "claimKey", json_string(c->key));
	json_object_set_new(cart, "claimUntil", json_integer(store_time_now_ms() + LEASE_MS));
	e = store_db_update(db, "carts", cart, NULL);
out:
	json_decref(cart);
	return e;
}

static store_err
claim_cart(store_db *db, cart_claim *c, bool release)
{
	c->release = release;
	return store_db_txn_retry(db, claim_cart_tx, c);
}

typedef struct record_ctx {
	const store_payment_req *req;
	const store_charge *charge;
	const char *key;
	const plan *pl;
	const char *currency;
	char payment_id[25];
} record_ctx;

/* Whether the plan paid for the hold selection_id. */
static bool
plan_names(const plan *pl, const char *selection_id)
{
	const json_t *line, *id;
	size_t i, k;

	json_array_foreach(pl->lines, i, line)
		json_array_foreach(json_object_get(line, "selectionIds"), k, id)
			if (strcmp(json_string_value(id), selection_id) == 0)
				return true;
	return false;
}

/* The cart replica less what a payment took: the paid holds and units
 * (a unit added while the payment ran stays). */
static store_err
take_paid_units(json_t *cart, const plan *pl)
{
	json_t *kept = json_array(), *line, *paid, *h;
	size_t i, k;

	if (kept == NULL)
		return STORE_ENOMEM;
	json_array_foreach(json_object_get(cart, "info"), i, line) {
		const char *pid = store_json_str(json_object_get(line, "product"), "id");
		long long qty = store_json_int(line, "qty", 0);
		json_t *copy, *left;

		json_array_foreach(pl->lines, k, paid)
			if (strcmp(store_json_str(json_object_get(paid, "product"), "id"), pid) == 0)
				qty -= store_json_int(paid, "qty", 0);
		if (qty <= 0)
			continue;
		if ((copy = json_deep_copy(line)) == NULL || (left = json_array()) == NULL) {
			json_decref(copy);
			json_decref(kept);
			return STORE_ENOMEM;
		}
		json_array_foreach(json_object_get(line, "holds"), k, h)
			if (!plan_names(pl, store_json_str(h, "selectionId")))
				json_array_append(left, h);
		json_object_set_new(copy, "qty", json_integer(qty));
		json_object_set_new(copy, "holds", left);
		json_array_append_new(kept, copy);
	}
	json_object_set_new(cart, "info", kept);
	return STORE_OK;
}

/* Marks every hold of the plan paid by payment_id. A hold is paid for
 * once: a second payment of it fails here (STORE_EDUPLICATE). */
static store_err
mark_paid(store_db *db, const plan *pl, const char *payment_id)
{
	const json_t *line, *id;
	size_t i, k;
	store_err e = STORE_OK;

	json_array_foreach(pl->lines, i, line) {
		json_array_foreach(json_object_get(line, "selectionIds"), k, id) {
			json_t *held = json_pack("{s:O,s:s}", "id", id, "paymentId", payment_id);

			e = held != NULL ? store_db_insert(db, "paid_holds", held, NULL) : STORE_ENOMEM;
			json_decref(held);
			if (e != STORE_OK)
				return e;
		}
	}
	return e;
}

/* payment.created's info and the payment's lines, from the plan. */
static store_err
plan_views(const plan *pl, json_t **lines, json_t **ev_info)
{
	const json_t *line;
	size_t i;

	*lines = json_array();
	*ev_info = json_array();
	if (*lines == NULL || *ev_info == NULL)
		return STORE_ENOMEM;
	json_array_foreach(pl->lines, i, line) {
		json_t *product = json_object_get(line, "product");

		if (json_array_append_new(*lines, json_pack("{s:O,s:O}", "product", product, "qty",
		                                            json_object_get(line, "qty"))) != 0 ||
		    json_array_append_new(*ev_info, json_pack("{s:s?,s:O,s:O}", "productId",
		                                              store_json_str(product, "id"),
		                                              "qty", json_object_get(line, "qty"),
		                                              "selectionIds",
		                                              json_object_get(line, "selectionIds"))) != 0)
			return STORE_ENOMEM;
	}
	return STORE_OK;
}

/* Records a successful charge: the payment, the paid holds, the attempt's
 * outcome, the replica less the paid units (the claim given back) and
 * payment.created into the outbox; one transaction. Nothing is recorded
 * (STORE_ECONFLICT) when the claim on the cart is no longer the attempt's,
 * or (STORE_EDUPLICATE) when a hold was paid meanwhile. */
static store_err
record_tx(store_db *db, void *arg)
{
	record_ctx *c = arg;
	json_t *cart = NULL, *att = NULL, *pay = NULL, *lines = NULL, *ev_info = NULL, *ev;
	json_t *filter = json_pack("{s:s}", "key", c->key);
	char created[STORE_TIME_LEN];
	const char *uid = c->req->user->id, *holder;
	store_err e;

	if (filter == NULL)
		return STORE_ENOMEM;
	if ((e = store_db_get(db, "carts", uid, &cart)) != STORE_OK ||
	    (e = store_db_find_one(db, "attempts", filter, &att)) != STORE_OK ||
	    (e = plan_views(c->pl, &lines, &ev_info)) != STORE_OK)
		goto out;
	holder = store_json_str(cart, "claimKey");
	if (holder == NULL || strcmp(holder, c->key) != 0) {
		e = STORE_ECONFLICT;
		goto out;
	}
	store_time_format(store_time_now_ms(), false, created);
	pay = json_pack("{s:s,s:s,s:I,s:s,s:s,s:O,s:s,s:I}", "userId", uid,
	                "stripeId", c->charge->id, "total", (json_int_t)c->pl->total,
	                "currency", c->currency, "status", "succeeded", "info", lines,
	                "createdAt", created, "createdAtMs", (json_int_t)store_time_now_ms());
	if (pay == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	if ((e = store_db_insert(db, "payments", pay, NULL)) != STORE_OK)
		goto out;
	snprintf(c->payment_id, sizeof c->payment_id, "%s", store_json_str(pay, "id"));
	json_object_set_new(att, "status", json_string("succeeded"));
	json_object_set_new(att, "paymentId", json_string(c->payment_id));
	json_object_del(cart, "claimKey");
	json_object_del(cart, "claimUntil");
	if ((e = mark_paid(db, c->pl, c->payment_id)) != STORE_OK ||
	    (e = take_paid_units(cart, c->pl)) != STORE_OK ||
	    (e = store_db_update(db, "attempts", att, NULL)) != STORE_OK ||
	    (e = store_db_update(db, "carts", cart, NULL)) != STORE_OK)
		goto out;
	ev = json_pack("{s:s,s:s,s:s,s:o,s:O}", "id", c->payment_id, "userId", uid,
	               "stripeId", c->charge->id, "total", store_json_money(c->pl->total),
	               "info", ev_info);
	if (ev == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	e = store_outbox_add(db, "store.payment.created", ev, c->req->request_id, NULL);
	json_decref(ev);
out:
	json_decref(pay);
	json_decref(ev_info);
	json_decref(lines);
	json_decref(att);
	json_decref(cart);
	json_decref(filter);
	return e;
}

/* Keeps a decline as the attempt's outcome, so a retry answers the same. */
static store_err
record_decline(store_db *db, json_t *attempt, const store_charge *ch)
{
	json_object_set_new(attempt, "status", json_string("declined"));
	json_object_set_new(attempt, "message", json_string(ch->message));
	json_object_set_new(attempt, "code", json_string(ch->code));
	return store_db_update(db, "attempts", attempt, NULL);
}

/* The answer of an attempt finished earlier. */
static store_err
replay(const json_t *attempt, json_t **out, store_refusal *why)
{
	if (strcmp(store_json_str(attempt, "status"), "succeeded") == 0) {
		*out = json_pack("{s:s}", "id", store_json_str(attempt, "paymentId"));
		return *out != NULL ? STORE_OK : STORE_ENOMEM;
	}
	snprintf(why->buf, sizeof why->buf, "%s", store_json_str(attempt, "message"));
	why->message = why->buf;
	why->field = "token";
	return STORE_EDECLINED;
}

/* Gives up the attempt c (nothing was charged): its key is free again. */
static void
drop_attempt(store_db *db, claim *c)
{
	store_db_delete(db, "attempts", store_json_str(c->attempt, "id"),
	                store_json_int(c->attempt, "version", 0));
}

/* Charges the plan under the claimed attempt c and cart claim cc, and
 * records the outcome. */
static store_err
charge(store_db *db, store_pay *pay, const store_payment_req *req, claim *c,
       cart_claim *cc, json_t **out, store_refusal *why)
{
	store_charge_req creq = { 0 };
	store_charge ch;
	record_ctx rc = { 0 };
	store_err e;

	creq.amount = cc->pl->total;
	creq.token = req->token;
	creq.idempotency_key = c->key;
	creq.description = "Store order";
	creq.user_id = req->user->id;
	e = store_pay_charge(pay, &creq, &ch);
	if (e == STORE_OK) {
		rc = (record_ctx){ req, &ch, c->key, cc->pl, store_pay_currency(pay), "" };
		e = store_db_txn_retry(db, record_tx, &rc);
		if (e != STORE_OK) {
			/* Charged but not recorded: the attempt stays pending, its
			 * lease lapses, and a retry with the same key replays the
			 * provider's charge. A claim lost to another payment means
			 * this charge must be refunded: the log says which. */
			store_log(STORE_LOG_ERROR, req->request_id, NULL,
			          "charge '%s' of %lld cents made but not recorded (%s): refund it",
			          ch.id, cc->pl->total, store_strerror(e));
			return e == STORE_ECONFLICT || e == STORE_EDUPLICATE ? STORE_EINTERNAL : e;
		}
		*out = json_pack("{s:s}", "id", rc.payment_id);
		return *out != NULL ? STORE_OK : STORE_ENOMEM;
	}
	if (e == STORE_EDECLINED) {
		if (record_decline(db, c->attempt, &ch) != STORE_OK)
			store_log(STORE_LOG_WARN, req->request_id, NULL, "decline not recorded");
	} else {
		/* Refused or unreachable: nothing was charged; free the key. */
		drop_attempt(db, c);
	}
	if (claim_cart(db, cc, true) != STORE_OK)
		store_log(STORE_LOG_WARN, req->request_id, NULL, "claim on the cart not given back");
	if (e == STORE_EDECLINED || e == STORE_EINVAL) {
		snprintf(why->buf, sizeof why->buf, "%s", ch.message);
		why->message = why->buf;
		why->field = "token";
	}
	return e;
}

store_err
store_payments_create(store_db *db, store_pay *pay, const store_payment_req *req,
                     json_t **out, store_refusal *why)
{
	json_t *cart = NULL;
	char key[65];
	claim c = { key, "", NULL };
	plan pl = { NULL, 0 };
	cart_claim cc = { req, key, &pl, why, false };
	store_err e;

	*out = NULL;
	why->message = NULL;
	if (card_number_like(req->token))
		return refuse(why, "Token must be a card token, not a card number", "token");
	if ((e = store_db_get(db, "carts", req->user->id, &cart)) != STORE_OK)
		goto out;
	/* A retry of a finished payment answers as the first time did, even
	 * though the cart has been emptied since. */
	payment_key(req, store_json_int(cart, "cartVersion", 0), key);
	snprintf(c.request, sizeof c.request, "%.150s", req->token);
	e = finished_attempt(db, &c);
	if (e == STORE_ENOTFOUND && (e = plan_cart(db, cart, req, &pl, why)) == STORE_EINVAL) {
		/* The same request may have finished meanwhile (its holds are
		 * paid now): then it answers as the first time did. */
		if (finished_attempt(db, &c) == STORE_EDUPLICATE)
			e = STORE_EDUPLICATE;
	}
	if (e == STORE_OK)
		e = claim_attempt(db, &c);
	if (e == STORE_EDUPLICATE) {
		e = replay(c.attempt, out, why);
	} else if (e == STORE_EINVAL && why->message == NULL) {
		e = refuse(why, "Idempotency-Key was already used for another payment", NULL);
	} else if (e == STORE_OK) {
		/* The attempt is ours; now the cart, against every other
		 * attempt (other keys, other tokens, other tabs). */
		if ((e = claim_cart(db, &cc, false)) != STORE_OK)
			drop_attempt(db, &c);
		else
			e = charge(db, pay, req, &c, &cc, out, why);
	}
out:
	json_decref(pl.lines);
	json_decref(c.attempt);
	json_decref(cart);
	return e;
}

store_err
store_payments_list(store_db *db, const char *user_id, json_t **out)
{
	store_find_opts opts = { "createdAtMs", 1, 0, 0 };
	json_t *filter = json_pack("{s:s}", "userId", user_id), *docs = NULL, *d;
	size_t i;
	store_err e = STORE_ENOMEM;

	*out = NULL;
	if (filter == NULL || (e = store_db_find(db, "payments", filter, &opts, &docs)) != STORE_OK)
		goto out;
	*out = json_array();
	json_array_foreach(docs, i, d)
		json_array_append_new(*out, json_pack("{s:s?,s:s?,s:s?,s:o,s:s?,s:s?,s:O,s:s?}",
		                      "id", store_json_str(d, "id"),
		                      "userId", store_json_str(d, "userId"),
		                      "stripeId", store_json_str(d, "stripeId"),
		                      "total", store_json_money(store_json_int(d, "total", 0)),
		                      "currency", store_json_str(d, "currency"),
		                      "status", store_json_str(d, "status"),
		                      "info", json_object_get(d, "info"),
		                      "createdAt", store_json_str(d, "createdAt")));
	e = *out != NULL ? STORE_OK : STORE_ENOMEM;
out:
	json_decref(docs);
	json_decref(filter);
	return e;
}

typedef struct cart_ctx {
	const store_event *ev;
} cart_ctx;

static store_err
cart_changed_tx(store_db *db, void *arg)
{
	const json_t *p = ((cart_ctx *)arg)->ev->payload;
	const char *uid = store_json_str(p, "userId");
	const json_t *info = json_object_get(p, "info");
	long long v = store_json_int(p, "version", -1);
	json_t *doc = NULL;
	store_err e;

	if (!store_oid_valid(uid) || !json_is_array(info) || v < 0 || cart_total(info) < 0)
		return STORE_EINVAL;
	e = store_db_get(db, "carts", uid, &doc);
	if (e == STORE_ENOTFOUND) {
		doc = json_pack("{s:s,s:s,s:I,s:O}", "id", uid, "userId", uid,
		                "cartVersion", (json_int_t)v, "info", info);
		e = doc != NULL ? store_db_insert(db, "carts", doc, NULL) : STORE_ENOMEM;
		goto out;
	}
	if (e != STORE_OK || store_json_int(doc, "cartVersion", -1) >= v)
		goto out;   /* an older or repeated cart: the newer one stands */
	json_object_set_new(doc, "cartVersion", json_integer(v));
	json_object_set(doc, "info", (json_t *)info);
	e = store_db_update(db, "carts", doc, NULL);
out:
	json_decref(doc);
	return e;
}

store_err
store_payments_on_cart_changed(store_db *db, const store_event *ev)
{
	cart_ctx c = { ev };
	store_err e = store_db_txn_retry(db, cart_changed_tx, &c);
	return e == STORE_EDUPLICATE ? STORE_OK : e;
}
