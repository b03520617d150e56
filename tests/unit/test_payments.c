/* test_payments.c - the sandbox provider and paying for a cart exactly
 * once, on a real SQLite database. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/bus.h"
#include "store/pay.h"
#include "store/payments.h"
#include "store/time.h"

static store_db *db;
static store_pay *pay;
static const store_user buyer = { "65b000000000000000000002", "b@example.com", 0 };

static store_err
charge(const char *token, const char *card, const char *key, long long amount, store_charge *ch)
{
	store_charge_req r = { 0 };
	r.amount = amount;
	r.token = token;
	r.card_number = card;
	r.exp_month = 12;
	r.exp_year = 2034;
	r.cvc = "567";
	r.idempotency_key = key;
	return store_pay_charge(pay, &r, ch);
}

static store_err
cart_changed(long long version, const char *info)
{
	char payload[1024];
	json_t *p;
	store_event ev = { "store.cart.changed", "65e000000000000000000009", NULL,
	                   "payments-cart-changed", NULL, 1, 1 };
	store_err e;

	snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"userId\":\"%s\",\"version\":%lld,"
	         "\"info\":%s}", buyer.id, buyer.id, version, info);
	p = json_loads(payload, 0, NULL);
	ev.payload = p;
	e = store_payments_on_cart_changed(db, &ev);
	json_decref(p);
	return e;
}

/* A cart.changed info of one line, 2 lamps at 12.50, backed by holds h1
 * and h2 that run out in_ms from now. */
static const char *
lamps(const char *h1, const char *h2, long long in_ms)
{
	static char buf[600];
	char at[STORE_TIME_LEN];

	store_time_format(store_time_now_ms() + in_ms, false, at);
	snprintf(buf, sizeof buf, "[{\"product\":{\"id\":\"65a000000000000000000001\",\"name\":\"Lamp\","
	         "\"price\":12.5,\"count\":5,\"version\":1},\"qty\":2,\"limit\":false,"
	         "\"holds\":[{\"selectionId\":\"%s\",\"expiresAt\":\"%s\"},"
	         "{\"selectionId\":\"%s\",\"expiresAt\":\"%s\"}]}]", h1, at, h2, at);
	return buf;
}

static size_t
count(const char *coll, const char *field, const char *value)
{
	json_t *f = field != NULL ? json_pack("{s:s}", field, value) : NULL;
	size_t n = 0;
	store_db_count(db, coll, f, &n);
	json_decref(f);
	return n;
}

typedef struct race {
	int ok;
	char first[25];
	int agree;
	pthread_mutex_t mu;
} race;

static void *
pay_same_key(void *arg)
{
	race *r = arg;
	store_payment_req req = { &buyer, "tok_visa", 0, 0, "same-key-10", "r", 0 };
	store_refusal why = { 0 };
	json_t *out = NULL;
	store_err e = store_payments_create(db, pay, &req, &out, &why);

	pthread_mutex_lock(&r->mu);
	if (e == STORE_OK) {
		const char *id = json_string_value(json_object_get(out, "id"));
		if (r->ok++ == 0)
			snprintf(r->first, sizeof r->first, "%s", id);
		else if (strcmp(r->first, id) != 0)
			r->agree = 0;
	}
	pthread_mutex_unlock(&r->mu);
	json_decref(out);
	return NULL;
}

/* Pays with a key of its own, as another browser tab would. */
static void *
pay_own_key(void *arg)
{
	race *r = arg;
	char key[32];
	store_payment_req req = { &buyer, "tok_visa", 0, 0, key, "r", 0 };
	store_refusal why = { 0 };
	json_t *out = NULL;
	store_err e;

	snprintf(key, sizeof key, "tab-%p", (void *)&key);
	e = store_payments_create(db, pay, &req, &out, &why);
	pthread_mutex_lock(&r->mu);
	if (e == STORE_OK)
		r->ok++;
	pthread_mutex_unlock(&r->mu);
	json_decref(out);
	return NULL;
}

#define H1 "65f000000000000000000001"
#define H2 "65f000000000000000000002"
#define H3 "65f000000000000000000003"
#define H4 "65f000000000000000000004"
#define H5 "65f000000000000000000005"
#define H6 "65f000000000000000000006"

int
main(void)
{
	char dir[] = "/tmp/store-test-payments-XXXXXX", url[256], msg[256], cmd[400];
	store_pay_config cfg;
	store_charge ch, ch2;
	store_refusal why = { 0 };
	json_t *out = NULL, *list = NULL;
	char first_id[25] = "";

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(url, sizeof url, "sqlite:%s/payments.db", dir);
	unsetenv("STRIPE_KEY");
	unsetenv("STORE_PAYMENTS");
	if (store_db_open(url, store_payments_collections, store_payments_ncollections, &db, msg,
	                  sizeof msg) != STORE_OK ||
	    store_pay_config_load(&cfg, msg, sizeof msg) != STORE_OK ||
	    store_pay_open(&cfg, db, &pay, msg, sizeof msg) != STORE_OK) {
		printf("not ok 1 - setup: %s\n", msg);
		return 1;
	}
	CHECK(strcmp(store_pay_name(pay), "sandbox") == 0, "without a Stripe key the sandbox is used");

	/* The sandbox's outcomes. */
	CHECK(charge("tok_visa", NULL, "k1", 1000, &ch) == STORE_OK && strncmp(ch.id, "ch_", 3) == 0 &&
	      ch.amount == 1000 && strcmp(ch.status, "succeeded") == 0, "tok_visa is charged");
	CHECK(charge("tok_visa", NULL, "k1", 1000, &ch2) == STORE_OK && strcmp(ch.id, ch2.id) == 0 &&
	      ch2.replayed, "the same idempotency key answers the same charge again");
	CHECK(charge("tok_visa", NULL, "k1", 2000, &ch2) == STORE_EINVAL &&
	      strcmp(ch2.code, "idempotency_error") == 0,
	      "the same key with other parameters is refused");
	CHECK(charge("tok_chargeDeclined", NULL, "k2", 1000, &ch) == STORE_EDECLINED &&
	      strcmp(ch.message, "Your card was declined.") == 0 &&
	      strcmp(ch.decline_code, "generic_decline") == 0, "tok_chargeDeclined is declined");
	CHECK(charge("tok_chargeDeclinedInsufficientFunds", NULL, "k3", 1000, &ch) == STORE_EDECLINED &&
	      strcmp(ch.message, "Your card has insufficient funds.") == 0,
	      "insufficient funds is declined with Stripe's message");
	CHECK(charge("tok_chargeDeclinedExpiredCard", NULL, "k4", 1000, &ch) == STORE_EDECLINED &&
	      strcmp(ch.code, "expired_card") == 0, "an expired card is declined");
	CHECK(charge("tok_chargeDeclinedProcessingError", NULL, "k5", 1000, &ch) == STORE_EDECLINED &&
	      strcmp(ch.code, "processing_error") == 0, "a processing error is declined");
	CHECK(charge("tok_nonsense", NULL, "k6", 1000, &ch) == STORE_EINVAL &&
	      strstr(ch.message, "No such token") != NULL, "an unknown token is refused");
	CHECK(charge(NULL, "4242424242424242", "k7", 1000, &ch) == STORE_OK, "4242... is charged");
	CHECK(charge(NULL, "4000000000000002", "k8", 1000, &ch) == STORE_EDECLINED,
	      "4000000000000002 is declined");
	CHECK(charge(NULL, "4000000000009995", "k9", 1000, &ch) == STORE_EDECLINED &&
	      strcmp(ch.decline_code, "insufficient_funds") == 0, "4000000000009995 lacks funds");
	CHECK(charge(NULL, "4000000000000127", "k10", 1000, &ch) == STORE_EDECLINED &&
	      strcmp(ch.code, "incorrect_cvc") == 0, "4000000000000127 has an incorrect cvc");
	CHECK(charge(NULL, "4242424242424241", "k11", 1000, &ch) == STORE_EDECLINED &&
	      strcmp(ch.code, "incorrect_number") == 0, "a number failing Luhn is incorrect");

	/* Paying for a cart. */
	store_payment_req req = { &buyer, "tok_visa", 0, 0, NULL, "r", 60000 };
	CHECK(store_payments_create(db, pay, &req, &out, &why) == STORE_ENOTFOUND,
	      "a user without a cart gets not found");
	CHECK(cart_changed(3, lamps(H1, H2, 30000)) == STORE_OK,
	      "cart.changed v3 (holds running out in 30 s) makes the replica");
	CHECK(store_payments_create(db, pay, &req, &out, &why) == STORE_EINVAL &&
	      strstr(why.message, "Your hold on 'Lamp' has run out") == why.message &&
	      count("attempts", NULL, NULL) == 0,
	      "holds that run out within the margin (60 s) are not paid for: refused, nothing tried");
	CHECK(cart_changed(4, lamps(H1, H2, 600000)) == STORE_OK,
	      "cart.changed v4: the same holds, renewed");
	CHECK(cart_changed(2, "[]") == STORE_OK, "an older cart.changed is acked");
	req.has_total = 1;
	req.total = 2400;
	CHECK(store_payments_create(db, pay, &req, &out, &why) == STORE_EINVAL &&
	      strcmp(why.message, "Total does not match the cart") == 0 &&
	      strcmp(why.field, "total") == 0,
	      "a client total that differs is refused (the older empty cart was ignored)");
	size_t charges_before = count("charges", NULL, NULL);
	CHECK(charges_before == 10, "nothing was charged for the wrong total");
	req.total = 2500;
	req.token = "4242 4242 4242 4242";
	CHECK(store_payments_create(db, pay, &req, &out, &why) == STORE_EINVAL &&
	      strcmp(why.message, "Token must be a card token, not a card number") == 0 &&
	      strcmp(why.field, "token") == 0 && count("charges", NULL, NULL) == charges_before &&
	      count("attempts", NULL, NULL) == 0,
	      "a card number sent as the token is refused before anything is stored");
	req.token = "tok_chargeDeclined";
	CHECK(store_payments_create(db, pay, &req, &out, &why) == STORE_EDECLINED &&
	      strcmp(why.message, "Your card was declined.") == 0 && strcmp(why.field, "token") == 0,
	      "a declined card answers the provider's message on token");
	CHECK(count("payments", NULL, NULL) == 0 && count("outbox", NULL, NULL) == 0,
	      "a decline records no payment and announces nothing");
	req.token = "tok_visa";
	CHECK(store_payments_create(db, pay, &req, &out, &why) == STORE_OK, "tok_visa pays the cart");
	snprintf(first_id, sizeof first_id, "%s", json_string_value(json_object_get(out, "id")));
	json_decref(out);
	CHECK(count("outbox", "subject", "store.payment.created") == 1,
	      "payment.created is in the outbox");
	{
		json_t *f = json_pack("{s:s}", "subject", "store.payment.created"), *ev = NULL;
		store_db_find_one(db, "outbox", f, &ev);
		json_t *p = json_object_get(ev, "payload");
		CHECK(json_number_value(json_object_get(p, "total")) == 25.0 &&
		      json_integer_value(json_object_get(json_array_get(json_object_get(p, "info"), 0),
		                                         "qty")) == 2,
		      "the event carries the computed total and the lines");
		json_decref(ev);
		json_decref(f);
	}
	CHECK(store_payments_create(db, pay, &req, &out, &why) == STORE_OK &&
	      strcmp(json_string_value(json_object_get(out, "id")), first_id) == 0,
	      "the same request again answers the first payment");
	json_decref(out);
	CHECK(count("payments", NULL, NULL) == 1 && count("charges", "status", "succeeded") == 3,
	      "one payment and one more successful charge");
	req.token = "tok_mastercard";
	CHECK(store_payments_create(db, pay, &req, &out, &why) == STORE_EINVAL &&
	      strcmp(why.message, "Cart is empty") == 0, "a paid cart is empty");

	/* Ten at once with the same Idempotency-Key. */
	CHECK(cart_changed(5, lamps(H1, H2, 600000)) == STORE_OK,
	      "a late cart.changed v5 brings the paid holds back into the replica");
	req.token = "tok_visa";
	req.idempotency_key = "another-key";
	CHECK(store_payments_create(db, pay, &req, &out, &why) == STORE_EINVAL &&
	      strstr(why.message, "has run out") != NULL && count("payments", NULL, NULL) == 1,
	      "holds paid once are never paid again, whatever the replica says");
	req.idempotency_key = NULL;
	CHECK(cart_changed(6, lamps(H3, H4, 600000)) == STORE_OK, "a new cart v6 with new holds");
	{
		race r = { 0, "", 1, PTHREAD_MUTEX_INITIALIZER };
		pthread_t t[10];
		size_t before = count("charges", "status", "succeeded");
		for (int i = 0; i < 10; i++)
			pthread_create(&t[i], NULL, pay_same_key, &r);
		for (int i = 0; i < 10; i++)
			pthread_join(t[i], NULL);
		CHECK(r.ok == 10 && r.agree, "ten parallel payments with one key all answer the same id");
		CHECK(count("charges", "status", "succeeded") == before + 1 &&
		      count("payments", NULL, NULL) == 2, "and exactly one charge was made");
	}
	/* Six tabs, six keys, one cart: one charge. */
	CHECK(cart_changed(7, lamps(H5, H6, 600000)) == STORE_OK, "a new cart v7");
	{
		race r = { 0, "", 1, PTHREAD_MUTEX_INITIALIZER };
		pthread_t t[6];
		size_t before = count("charges", "status", "succeeded");
		for (int i = 0; i < 6; i++)
			pthread_create(&t[i], NULL, pay_own_key, &r);
		for (int i = 0; i < 6; i++)
			pthread_join(t[i], NULL);
		CHECK(r.ok == 1, "six parallel payments with six keys: one succeeds");
		CHECK(count("charges", "status", "succeeded") == before + 1 &&
		      count("payments", NULL, NULL) == 3, "and exactly one charge was made");
	}
	CHECK(store_payments_list(db, buyer.id, &list) == STORE_OK && json_array_size(list) == 3 &&
	      strcmp(json_string_value(json_object_get(json_array_get(list, 2), "id")), first_id) == 0 &&
	      json_number_value(json_object_get(json_array_get(list, 0), "total")) == 25.0,
	      "the list is newest first with totals");
	json_decref(list);

	store_pay_free(pay);
	store_db_free(db);
	snprintf(cmd, sizeof cmd, "! grep -rq 4242424242424242 '%s' && ! grep -rq 4000000000000002 '%s'",
	         dir, dir);
	CHECK(system(cmd) == 0, "no card number is stored in the database files");
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return CHECK_DONE();
}
