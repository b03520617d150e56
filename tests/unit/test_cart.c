/* test_cart.c - the cart's rules on a real SQLite database: the product
 * replica in version order, duplicates skipped, every unit backed by a
 * hold (cart.add brings one, itemAddRemove never goes past them, an expired
 * hold takes its unit out), payment takes out what it paid, every change
 * announced. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store/bus.h"
#include "store/cart.h"
#include "store/oid.h"
#include "store/time.h"

static const char *P = "65a000000000000000000001";
static const char *U = "65b000000000000000000002";

static store_err
deliver(store_db *db, store_err (*fn)(store_db *, const store_event *), const char *subject,
        const char *consumer, const char *payload)
{
	char id[25];
	json_t *p = json_loads(payload, 0, NULL);
	store_event ev = { subject, id, "req-test", consumer, p, 1, 1 };
	store_err e;

	store_oid_new(id);
	e = fn(db, &ev);
	json_decref(p);
	return e;
}

static char *
product(long long version, double price, int count)
{
	char *s = NULL;
	if (asprintf(&s, "{\"id\":\"%s\",\"name\":\"Lamp\",\"description\":\"d\",\"price\":%.2f,"
	             "\"picture\":\"https://x.test/a.png\",\"userId\":\"%s\","
	             "\"categoryId\":\"65c000000000000000000003\",\"count\":%d,\"version\":%lld}",
	             P, price, U, count, version) < 0)
		return NULL;
	return s;
}

static store_err
update(store_db *db, long long version, double price, int count)
{
	char *p = product(version, price, count);
	store_err e = deliver(db, store_cart_on_product, "store.product.updated",
	                      "cart-product-updated", p);
	free(p);
	return e;
}

static size_t
changed_events(store_db *db)
{
	json_t *f = json_pack("{s:s}", "subject", "store.cart.changed");
	size_t n = 0;
	store_db_count(db, "outbox", f, &n);
	json_decref(f);
	return n;
}

static json_t *
cart(store_db *db)
{
	json_t *c = NULL;
	store_cart_get(db, U, &c);
	return c;
}

static double
line_price(json_t *c)
{
	return json_number_value(json_object_get(json_object_get(
		json_array_get(json_object_get(c, "info"), 0), "product"), "price"));
}

static long long
line_qty(json_t *c)
{
	return json_integer_value(json_object_get(json_array_get(json_object_get(c, "info"), 0),
	                                          "qty"));
}

/* A store.cart.add payload for hold sid, expiring in_ms from now. */
static char *
cart_add(const char *sid, long long in_ms)
{
	char at[STORE_TIME_LEN], *s = NULL;

	store_time_format(store_time_now_ms() + in_ms, false, at);
	if (asprintf(&s, "{\"productId\":\"%s\",\"name\":\"Lamp\",\"description\":\"d\","
	             "\"picture\":\"p\",\"price\":10,\"categoryId\":\"65c000000000000000000003\","
	             "\"version\":1,\"count\":1,\"userId\":\"%s\",\"selectionId\":\"%s\","
	             "\"expiresAt\":\"%s\"}", P, U, sid, at) < 0)
		return NULL;
	return s;
}

/* Delivers cart.add of hold sid (expiring in_ms from now). */
static store_err
add_hold(store_db *db, const char *sid, long long in_ms)
{
	char *a = cart_add(sid, in_ms);
	store_err e = deliver(db, store_cart_on_add, "store.cart.add", "cart-cart-add", a);

	free(a);
	return e;
}

/* Delivers expiration.complete of hold sid. */
static store_err
expire(store_db *db, const char *sid)
{
	char ev[256];

	snprintf(ev, sizeof ev, "{\"productId\":\"%s\",\"selectionId\":\"%s\","
	         "\"categoryId\":\"65c000000000000000000003\",\"views\":0}", P, sid);
	return deliver(db, store_cart_on_expiration, "store.expiration.complete",
	               "cart-expiration-complete", ev);
}

static bool
line_limit(json_t *c)
{
	return json_is_true(json_object_get(json_array_get(json_object_get(c, "info"), 0), "limit"));
}

/* Delivers payment.created for holds (a JSON array text) of qty units. */
static store_err
paid(store_db *db, const char *event_id, int qty, const char *holds)
{
	char pay[512];
	json_t *pj;
	store_err e;

	snprintf(pay, sizeof pay, "{\"id\":\"65d000000000000000000004\",\"userId\":\"%s\","
	         "\"stripeId\":\"ch_1\",\"total\":30,\"info\":[{\"productId\":\"%s\",\"qty\":%d%s%s}]}",
	         U, P, qty, holds != NULL ? ",\"selectionIds\":" : "", holds != NULL ? holds : "");
	pj = json_loads(pay, 0, NULL);
	store_event ev = { "store.payment.created", event_id, NULL, "cart-payment-created", pj, 1, 1 };
	e = store_cart_on_payment(db, &ev);
	json_decref(pj);
	return e;
}

#define H1 "65f000000000000000000001"
#define H2 "65f000000000000000000002"
#define H3 "65f000000000000000000003"
#define H4 "65f000000000000000000004"
#define H5 "65f000000000000000000005"
#define H6 "65f000000000000000000006"
#define H7 "65f000000000000000000007"

int
main(void)
{
	char dir[] = "/tmp/store-test-cart-XXXXXX", url[256], msg[256], path[300];
	store_db *db = NULL;
	json_t *c = NULL;
	char *p;
	size_t before;
	store_err e;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(url, sizeof url, "sqlite:%s/cart.db", dir);
	if (store_db_open(url, store_cart_collections, store_cart_ncollections, &db, msg,
	                  sizeof msg) != STORE_OK) {
		printf("not ok 1 - open: %s\n", msg);
		return 1;
	}

	CHECK(add_hold(db, H1, 60000) == STORE_ELATER,
	      "cart.add before the replica has the product waits (ELATER)");
	CHECK(update(db, 1, 10, 2) == STORE_OK,
	      "product.updated v1 before product.created v0 is applied (it carries the "
	      "whole product)");
	p = product(0, 9.5, 2);
	CHECK(deliver(db, store_cart_on_product, "store.product.created", "cart-product-created", p)
	      == STORE_OK, "product.created v0 after v1 is acked (the copy keeps v1)");
	CHECK(deliver(db, store_cart_on_product, "store.product.created", "cart-product-created", p)
	      == STORE_OK, "the same product.created again is acked");
	free(p);
	CHECK(update(db, 1, 10, 2) == STORE_OK, "v1 again is acked");
	CHECK(add_hold(db, H1, 60000) == STORE_OK,
	      "cart.add is applied once the replica has its version");
	c = cart(db);
	CHECK(json_array_size(json_object_get(c, "info")) == 1 && line_qty(c) == 1 &&
	      line_price(c) == 10.0 && strcmp(json_string_value(json_object_get(c, "id")), U) == 0,
	      "the cart holds one unit at the replica's price, id = the user");
	CHECK(line_limit(c) && json_array_size(json_object_get(json_array_get(
	      json_object_get(c, "info"), 0), "holds")) == 1,
	      "the line shows its one hold, and limit: no unit is held beyond it");
	json_decref(c);
	{
		char *bad = cart_add(H2, 60000);
		json_t *j = json_loads(bad, 0, NULL);
		json_object_del(j, "selectionId");
		char *t = json_dumps(j, 0);
		CHECK(deliver(db, store_cart_on_add, "store.cart.add", "cart-cart-add", t) == STORE_EINVAL,
		      "a cart.add that names no hold is refused (it would be a unit nobody holds)");
		free(t);
		json_decref(j);
		free(bad);
	}

	/* Oversell through itemAddRemove: +1 needs a hold of its own. */
	CHECK(store_cart_add_remove(db, U, P, 1, "r", &c) == STORE_OK && line_qty(c) == 1 &&
	      line_limit(c), "itemAddRemove +1 with no spare hold leaves the quantity at 1, limit set");
	json_decref(c);
	CHECK(add_hold(db, H2, 60000) == STORE_OK, "a second hold (another addToCart) arrives");
	c = cart(db);
	CHECK(line_qty(c) == 2 && line_limit(c), "two holds, two units");
	json_decref(c);
	CHECK(store_cart_add_remove(db, U, P, -1, "r", &c) == STORE_OK && line_qty(c) == 1 &&
	      !line_limit(c), "itemAddRemove -1 lowers to 1; a held unit is spare, limit false");
	json_decref(c);
	CHECK(store_cart_add_remove(db, U, P, 1, "r", &c) == STORE_OK && line_qty(c) == 2,
	      "itemAddRemove +1 takes the spare hold back");
	json_decref(c);

	/* Out of order: v3 before v2. */
	CHECK(update(db, 3, 30, 5) == STORE_OK, "v3 before v2 is applied (the highest "
	      "version is kept)");
	CHECK(update(db, 2, 20, 5) == STORE_OK, "v2 after v3 is acked");
	CHECK(update(db, 3, 30, 5) == STORE_OK, "v3 again is acked");
	c = cart(db);
	CHECK(line_price(c) == 30.0, "the replica ends at v3's values (price 30), not the "
	      "late v2's");
	json_decref(c);

	/* An expired hold takes its unit out. */
	CHECK(expire(db, H1) == STORE_OK, "expiration.complete of one hold is applied");
	c = cart(db);
	CHECK(line_qty(c) == 1 && json_array_size(json_object_get(c, "expired")) == 1,
	      "its unit left the cart (qty 1), and the cart says one unit expired");
	json_decref(c);
	before = changed_events(db);
	CHECK(expire(db, H1) == STORE_OK && changed_events(db) == before,
	      "the same expiry again changes nothing");
	CHECK(add_hold(db, H3, 1) == STORE_OK, "a hold that runs out in 1 ms arrives");
	usleep(20000);
	c = cart(db);
	CHECK(line_qty(c) == 1, "a hold that ran out by the clock backs nothing, even before its event");
	json_decref(c);
	CHECK(expire(db, H2) == STORE_OK && expire(db, H3) == STORE_OK, "the other holds expire");
	c = cart(db);
	CHECK(json_array_size(json_object_get(c, "info")) == 0 &&
	      json_array_size(json_object_get(c, "expired")) == 1,
	      "the line left the cart when its last hold ran out, and the cart says so (once: "
	      "the earlier notice went when the product was added again)");
	json_decref(c);

	CHECK(store_cart_add_remove(db, U, "65a0000000000000000000ff", 1, "r", &c) == STORE_ENOTFOUND,
	      "a product not in the cart is not found");
	add_hold(db, H4, 60000);
	before = changed_events(db);
	CHECK(store_cart_remove(db, U, P, "r") == STORE_OK, "itemRemove removes the line");
	CHECK(changed_events(db) == before + 1, "the removal is announced as cart.changed");
	c = cart(db);
	CHECK(json_array_size(json_object_get(c, "info")) == 0, "the cart is empty");
	json_decref(c);

	/* Payment takes out the units it paid for, and only those. */
	add_hold(db, H5, 60000);
	add_hold(db, H6, 60000);
	CHECK(paid(db, "65e000000000000000000005", 1, "[\"" H5 "\"]") == STORE_OK,
	      "payment.created of one of two held units is applied");
	c = cart(db);
	CHECK(line_qty(c) == 1 && strcmp(json_string_value(json_object_get(json_array_get(
	      json_object_get(json_array_get(json_object_get(c, "info"), 0), "holds"), 0),
	      "selectionId")), H6) == 0, "the unpaid unit stays, backed by its own hold");
	json_decref(c);
	before = changed_events(db);
	CHECK(paid(db, "65e000000000000000000005", 1, "[\"" H5 "\"]") == STORE_OK &&
	      changed_events(db) == before, "the same payment event again has no second effect");
	CHECK(paid(db, "65e000000000000000000006", 1, NULL) == STORE_OK,
	      "an older payment.created (no selectionIds) is applied");
	c = cart(db);
	CHECK(json_array_size(json_object_get(c, "info")) == 0, "and empties the cart as it did");
	json_decref(c);

	/* Deletion removes the product from carts. */
	add_hold(db, H7, 60000);
	{
		char del[128];
		snprintf(del, sizeof del, "{\"id\":\"65a0000000000000000000dd\",\"version\":1}");
		CHECK(deliver(db, store_cart_on_product_deleted, "store.product.deleted",
		              "cart-product-deleted", del) == STORE_ELATER,
		      "product.deleted of a product the replica has no copy of waits");
		snprintf(del, sizeof del, "{\"id\":\"%s\",\"version\":4}", P);
		CHECK(deliver(db, store_cart_on_product_deleted, "store.product.deleted",
		              "cart-product-deleted", del) == STORE_OK, "product.deleted is applied");
		c = cart(db);
		CHECK(json_array_size(json_object_get(c, "info")) == 0,
		      "a deleted product leaves every cart");
		json_decref(c);
		CHECK(update(db, 3, 99, 5) == STORE_OK, "an update older than the deletion is skipped");
	}
	e = store_cart_get(db, "65b0000000000000000000ee", &c);
	CHECK(e == STORE_OK && json_is_null(c), "a user without a cart gets null");
	json_decref(c);

	store_db_free(db);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		return 1;
	return CHECK_DONE();
}
