/* test_cart.c - the cart's rules on a real SQLite database: the product
 * replica in version order, duplicates skipped, cart.add never beyond
 * stock, payment empties the cart, every change announced. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store/bus.h"
#include "store/cart.h"
#include "store/oid.h"

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

int
main(void)
{
	char dir[] = "/tmp/store-test-cart-XXXXXX", url[256], msg[256], add[512], path[300];
	store_db *db = NULL;
	json_t *c = NULL;
	char *p;
	store_err e;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(url, sizeof url, "sqlite:%s/cart.db", dir);
	if (store_db_open(url, store_cart_collections, store_cart_ncollections, &db, msg,
	                  sizeof msg) != STORE_OK) {
		printf("not ok 1 - open: %s\n", msg);
		return 1;
	}
	snprintf(add, sizeof add, "{\"productId\":\"%s\",\"name\":\"Lamp\",\"description\":\"d\","
	         "\"picture\":\"p\",\"price\":10,\"categoryId\":\"65c000000000000000000003\","
	         "\"version\":1,\"count\":1,\"userId\":\"%s\"}", P, U);

	CHECK(deliver(db, store_cart_on_add, "store.cart.add", "cart-cart-add", add) == STORE_ELATER,
	      "cart.add before the replica has the product waits (ELATER)");
	CHECK(update(db, 1, 10, 2) == STORE_ELATER,
	      "product.updated v1 before product.created v0 waits");
	p = product(0, 9.5, 2);
	CHECK(deliver(db, store_cart_on_product, "store.product.created", "cart-product-created", p)
	      == STORE_OK, "product.created v0 is applied");
	CHECK(deliver(db, store_cart_on_product, "store.product.created", "cart-product-created", p)
	      == STORE_OK, "the same product.created again is acked");
	free(p);
	CHECK(update(db, 1, 10, 2) == STORE_OK, "v1 is applied once v0 is there");
	CHECK(deliver(db, store_cart_on_add, "store.cart.add", "cart-cart-add", add) == STORE_OK,
	      "cart.add is applied once the replica has its version");
	c = cart(db);
	CHECK(json_array_size(json_object_get(c, "info")) == 1 && line_qty(c) == 1 &&
	      line_price(c) == 10.0 && strcmp(json_string_value(json_object_get(c, "id")), U) == 0,
	      "the cart holds one unit at the replica's price, id = the user");
	json_decref(c);
	CHECK(deliver(db, store_cart_on_add, "store.cart.add", "cart-cart-add", add) == STORE_OK,
	      "a second cart.add (another event) adds a unit");
	CHECK(deliver(db, store_cart_on_add, "store.cart.add", "cart-cart-add", add) == STORE_OK,
	      "a third cart.add is acked");
	c = cart(db);
	CHECK(line_qty(c) == 2 && json_is_true(json_object_get(json_array_get(
	      json_object_get(c, "info"), 0), "limit")),
	      "quantity never passes the stock (2), limit is set instead");
	json_decref(c);

	/* Out of order: v3 before v2. */
	CHECK(update(db, 3, 30, 5) == STORE_ELATER, "v3 before v2 waits");
	CHECK(update(db, 2, 20, 5) == STORE_OK, "v2 is applied");
	CHECK(update(db, 3, 30, 5) == STORE_OK, "v3 is applied after v2");
	CHECK(update(db, 2, 20, 5) == STORE_OK, "a late duplicate of v2 is acked");
	c = cart(db);
	CHECK(line_price(c) == 30.0, "the replica ends at v3's values (price 30)");
	json_decref(c);

	/* The buyer's own changes. */
	CHECK(store_cart_add_remove(db, U, P, 1, "r", &c) == STORE_OK && line_qty(c) == 3,
	      "itemAddRemove +1 raises the quantity");
	json_decref(c);
	CHECK(store_cart_add_remove(db, U, "65a0000000000000000000ff", 1, "r", &c) == STORE_ENOTFOUND,
	      "a product not in the cart is not found");
	size_t before = changed_events(db);
	CHECK(store_cart_remove(db, U, P, "r") == STORE_OK, "itemRemove removes the line");
	CHECK(changed_events(db) == before + 1, "the removal is announced as cart.changed");
	c = cart(db);
	CHECK(json_array_size(json_object_get(c, "info")) == 0, "the cart is empty");
	json_decref(c);

	/* Payment empties the cart; the same payment again does nothing more. */
	deliver(db, store_cart_on_add, "store.cart.add", "cart-cart-add", add);
	{
		char pay[256];
		snprintf(pay, sizeof pay, "{\"id\":\"65d000000000000000000004\",\"userId\":\"%s\","
		         "\"stripeId\":\"ch_1\",\"total\":30,\"info\":[{\"productId\":\"%s\",\"qty\":1}]}",
		         U, P);
		json_t *pj = json_loads(pay, 0, NULL);
		store_event ev = { "store.payment.created", "65e000000000000000000005", NULL,
		                   "cart-payment-created", pj, 1, 1 };
		CHECK(store_cart_on_payment(db, &ev) == STORE_OK, "payment.created is applied");
		c = cart(db);
		CHECK(json_array_size(json_object_get(c, "info")) == 0, "payment empties the cart");
		json_decref(c);
		before = changed_events(db);
		CHECK(store_cart_on_payment(db, &ev) == STORE_OK && changed_events(db) == before,
		      "the same payment event again has no second effect");
		json_decref(pj);
	}

	/* Deletion removes the product from carts. */
	deliver(db, store_cart_on_add, "store.cart.add", "cart-cart-add", add);
	{
		char del[128];
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
