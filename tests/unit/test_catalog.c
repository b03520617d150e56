/* test_catalog.c - the products service's rules on a real SQLite database:
 * owner checks, unique category names, holds on stock (never oversold,
 * also with many threads at once), release on expiry exactly once, sale on
 * payment, and the events each change writes to the outbox. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/bus.h"
#include "store/catalog.h"
#include "store/oid.h"

static store_db *db;
static const store_user seller = { "65b000000000000000000001", "s@example.com", 0 };
static const store_user buyer = { "65b000000000000000000002", "b@example.com", 0 };
static const store_actor as_seller = { &seller, "req-1" };
static const store_actor as_buyer = { &buyer, "req-2" };

static size_t
events(const char *subject)
{
	json_t *f = json_pack("{s:s}", "subject", subject);
	size_t n = 0;
	store_db_count(db, "outbox", f, &n);
	json_decref(f);
	return n;
}

static json_t *
product_doc(const char *id)
{
	json_t *d = NULL;
	store_db_get(db, "products", id, &d);
	return d;
}

typedef struct race {
	const char *pid, *cid;
	int ok, out_of_stock;
	pthread_mutex_t mu;
} race;

static void *
buy_one(void *arg)
{
	race *r = arg;
	store_refusal why = { 0 };
	json_t *out = NULL;
	store_err e = store_product_select(db, &as_buyer, r->pid, r->cid, 60, &out, &why);

	pthread_mutex_lock(&r->mu);
	if (e == STORE_OK)
		r->ok++;
	else if (e == STORE_EINVAL && strcmp(why.message, "Out of stock") == 0)
		r->out_of_stock++;
	pthread_mutex_unlock(&r->mu);
	json_decref(out);
	return NULL;
}

int
main(void)
{
	char dir[] = "/tmp/store-test-catalog-XXXXXX", url[256], msg[256], cmd[300];
	store_refusal why = { 0 };
	json_t *cat = NULL, *prod = NULL, *out = NULL, *in, *d, *list = NULL;
	char cid[25], pid[25], sel[25];

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(url, sizeof url, "sqlite:%s/catalog.db", dir);
	if (store_db_open(url, store_catalog_collections, store_catalog_ncollections, &db, msg,
	                  sizeof msg) != STORE_OK) {
		printf("not ok 1 - open: %s\n", msg);
		return 1;
	}

	in = json_pack("{s:s,s:s}", "name", "Lamps", "description", "Light");
	CHECK(store_category_create(db, &as_seller, in, &cat, &why) == STORE_OK, "a category is made");
	snprintf(cid, sizeof cid, "%s", json_string_value(json_object_get(cat, "id")));
	json_decref(in);
	in = json_pack("{s:s,s:s}", "name", "LAMPS", "description", "again");
	CHECK(store_category_create(db, &as_buyer, in, &out, &why) == STORE_EINVAL &&
	      strcmp(why.message, "Category 'LAMPS' already exists.") == 0,
	      "category names are unique in any letter case");
	CHECK(store_category_update(db, &as_buyer, cid, in, &out, &why) == STORE_EFORBIDDEN,
	      "only the owner updates a category");
	json_decref(in);

	in = json_pack("{s:s,s:s,s:i,s:i,s:s,s:s}", "name", "Desk lamp", "description", "Warm",
	               "price", 1999, "count", 3, "picture",
	               "data:image/png;base64,iVBORw0KGgo=", "categoryId", cid);
	CHECK(store_product_create(db, &as_seller, in, &prod, &why) == STORE_OK, "a product is made");
	snprintf(pid, sizeof pid, "%s", json_string_value(json_object_get(prod, "id")));
	CHECK(json_real_value(json_object_get(prod, "price")) == 19.99 &&
	      strcmp(json_string_value(json_object_get(json_object_get(prod, "category"), "name")),
	             "Lamps") == 0, "the product shows its price and category");
	CHECK(strncmp(json_string_value(json_object_get(prod, "picture")),
	              "/api/products/picture/", 22) == 0,
	      "an uploaded picture is kept apart and referenced by URL");
	{
		char *type = NULL;
		unsigned char *data = NULL;
		size_t len = 0;
		const char *purl = json_string_value(json_object_get(prod, "picture"));
		CHECK(store_picture_get(db, purl + 22, &type, &data, &len) == STORE_OK &&
		      strcmp(type, "image/png") == 0 && len == 8 && memcmp(data, "\x89PNG", 4) == 0,
		      "the picture is served back decoded with its type");
		free(type);
		free(data);
	}
	CHECK(events("store.product.created") == 1, "product.created is in the outbox");
	CHECK(store_category_delete(db, &as_seller, cid, &why) == STORE_EINVAL &&
	      strstr(why.message, "There is a product attached") != NULL,
	      "a category with products cannot be deleted");
	json_decref(in);

	in = json_pack("{s:s,s:s,s:i,s:i,s:s}", "name", "Desk lamp", "description", "Warm",
	               "price", 2500, "count", 3, "categoryId", cid);
	CHECK(store_product_update(db, &as_buyer, pid, in, &out, &why) == STORE_EFORBIDDEN,
	      "only the owner updates a product");
	CHECK(store_product_update(db, &as_seller, pid, in, &out, &why) == STORE_OK &&
	      json_integer_value(json_object_get(out, "version")) == 1 &&
	      strncmp(json_string_value(json_object_get(out, "picture")), "/api/products/picture/",
	              22) == 0, "an update without picture keeps it and bumps the version");
	json_decref(out);
	json_decref(in);
	CHECK(store_product_update(db, &as_seller, "nothex", NULL, &out, &why) == STORE_ENOTFOUND,
	      "a malformed id is not found");

	/* Holds. */
	CHECK(store_product_select(db, &as_buyer, pid, "65c0000000000000000000ff", 60, &out, &why)
	      == STORE_EINVAL && strcmp(why.message, "Invalid Category Id") == 0,
	      "addToCart checks the category");
	CHECK(store_product_select(db, &as_buyer, pid, cid, 60, &out, &why) == STORE_OK &&
	      json_integer_value(json_object_get(out, "count")) == 1 &&
	      json_number_value(json_object_get(out, "price")) == 25.0,
	      "addToCart answers the cart.add shape");
	json_decref(out);
	CHECK(events("store.product.selected") == 1 && events("store.cart.add") == 1,
	      "product.selected and cart.add are in the outbox");
	d = product_doc(pid);
	CHECK(json_integer_value(json_object_get(d, "views")) == 1, "views counts the live hold");
	json_decref(d);
	{
		json_t *f = json_pack("{s:s}", "productId", pid), *sels = NULL;
		store_db_find(db, "selections", f, NULL, &sels);
		snprintf(sel, sizeof sel, "%s", json_string_value(json_object_get(json_array_get(sels, 0), "id")));
		json_decref(sels);
		json_decref(f);
	}

	/* 20 buyers race for the last 2 units. */
	{
		race r = { pid, cid, 0, 0, PTHREAD_MUTEX_INITIALIZER };
		pthread_t t[20];
		for (int i = 0; i < 20; i++)
			pthread_create(&t[i], NULL, buy_one, &r);
		for (int i = 0; i < 20; i++)
			pthread_join(t[i], NULL);
		CHECK(r.ok == 2 && r.out_of_stock == 18,
		      "20 buyers at once: exactly the 2 free units are held, 18 are out of stock "
		      "(got %d and %d)", r.ok, r.out_of_stock);
	}

	/* Expiry releases the first hold, once. */
	{
		char payload[256];
		snprintf(payload, sizeof payload, "{\"productId\":\"%s\",\"selectionId\":\"%s\","
		         "\"categoryId\":\"%s\",\"views\":1}", pid, sel, cid);
		json_t *p = json_loads(payload, 0, NULL);
		store_event ev = { "store.expiration.complete", "65e000000000000000000001", NULL,
		                   "products-expiration-complete", p, 1, 1 };
		CHECK(store_catalog_on_expiration(db, &ev) == STORE_OK, "expiration.complete is applied");
		d = product_doc(pid);
		CHECK(json_integer_value(json_object_get(d, "views")) == 2, "views goes back down");
		json_decref(d);
		ev.id = "65e000000000000000000002";   /* a replayed copy with another id */
		CHECK(store_catalog_on_expiration(db, &ev) == STORE_OK, "a second expiry is acked");
		d = product_doc(pid);
		CHECK(json_integer_value(json_object_get(d, "views")) == 2,
		      "a released selection is left alone");
		json_decref(d);
		json_decref(p);
	}

	/* Payment: stock down by qty, the buyer's holds sold. */
	{
		char payload[256];
		snprintf(payload, sizeof payload, "{\"id\":\"65f000000000000000000001\",\"userId\":\"%s\","
		         "\"stripeId\":\"ch_1\",\"total\":50,\"info\":[{\"productId\":\"%s\",\"qty\":2}]}",
		         buyer.id, pid);
		json_t *p = json_loads(payload, 0, NULL);
		store_event ev = { "store.payment.created", "65e000000000000000000003", NULL,
		                   "products-payment-created", p, 1, 1 };
		CHECK(store_catalog_on_payment(db, &ev) == STORE_OK, "payment.created is applied");
		d = product_doc(pid);
		CHECK(json_integer_value(json_object_get(d, "count")) == 1 &&
		      json_integer_value(json_object_get(d, "views")) == 0,
		      "stock went down by 2 and the buyer's 2 holds were sold");
		json_decref(d);
		CHECK(store_catalog_on_payment(db, &ev) == STORE_OK, "the same payment again is acked");
		d = product_doc(pid);
		CHECK(json_integer_value(json_object_get(d, "count")) == 1,
		      "the same payment event has no second effect");
		json_decref(d);
		json_decref(p);
	}

	CHECK(store_products_list(db, cid, buyer.id, &list) == STORE_OK && json_array_size(list) == 0,
	      "the buyer has no products of their own");
	json_decref(list);
	CHECK(store_product_delete(db, &as_buyer, pid) == STORE_EFORBIDDEN,
	      "only the owner deletes a product");
	CHECK(store_product_delete(db, &as_seller, pid) == STORE_OK &&
	      events("store.product.deleted") == 1, "a deletion announces product.deleted");
	CHECK(store_category_delete(db, &as_seller, cid, &why) == STORE_OK,
	      "an empty category can be deleted");

	json_decref(cat);
	json_decref(prod);
	store_db_free(db);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return CHECK_DONE();
}
