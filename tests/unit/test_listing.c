/* test_listing.c - the shop's read paths on a real SQLite database: pages
 * of a category's products and of the categories with their totals,
 * sorting, search, one product by id. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/catalog.h"
#include "store/oid.h"

static store_db *db;
static const store_user seller = { "65b000000000000000000001", "s@example.com", 0 };
static const store_actor as_seller = { &seller, "req-1" };

/* The names of a list of products or categories, joined by ','. */
static const char *
names(const json_t *list)
{
	static char buf[256];
	size_t i, n = 0;
	json_t *x;

	buf[0] = '\0';
	json_array_foreach(list, i, x)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "",
		                      json_string_value(json_object_get(x, "name")));
	return buf;
}

static void
product(const char *cid, const char *name, const char *description, int cents)
{
	store_refusal why = { 0 };
	json_t *out = NULL, *in = json_pack("{s:s,s:s,s:i,s:i,s:s,s:s}", "name", name,
	                                    "description", description, "price", cents,
	                                    "count", 2, "picture", "https://x.example/p.png",
	                                    "categoryId", cid);

	CHECK(store_product_create(db, &as_seller, in, &out, &why) == STORE_OK,
	      "product '%s' is made", name);
	json_decref(in);
	json_decref(out);
}

int
main(void)
{
	char dir[] = "/tmp/store-test-listing-XXXXXX", url[256], msg[256], cmd[300];
	char cid[25], pid[25], unknown[25];
	store_refusal why = { 0 };
	json_t *cat = NULL, *in, *out = NULL;
	store_listing all = { 0, 0, NULL }, page = { 2, 2, NULL }, cheap = { 1, 2, "price" };
	store_listing dear = { 0, 0, "-price" }, newest = { 1, 1, "newest" };
	size_t total = 0;

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
	json_decref(cat);
	in = json_pack("{s:s,s:s}", "name", "Chairs", "description", "Sit");
	CHECK(store_category_create(db, &as_seller, in, &cat, &why) == STORE_OK, "another is made");
	json_decref(in);
	json_decref(cat);
	product(cid, "Desk lamp", "Warm light", 3000);
	product(cid, "Floor lamp", "Tall", 1000);
	product(cid, "Bulb", "For any lamp", 200);

	CHECK(store_products_page(db, cid, &all, &out, &total) == STORE_OK &&
	      strcmp(names(out), "Desk lamp,Floor lamp,Bulb") == 0 && total == 3,
	      "all products of a category, in creation order, and the total");
	json_decref(out);
	CHECK(store_products_page(db, cid, &page, &out, &total) == STORE_OK &&
	      strcmp(names(out), "Bulb") == 0 && total == 3, "page 2 of 2 a page");
	json_decref(out);
	CHECK(store_products_page(db, cid, &cheap, &out, &total) == STORE_OK &&
	      strcmp(names(out), "Bulb,Floor lamp") == 0, "cheapest first");
	json_decref(out);
	CHECK(store_products_page(db, cid, &dear, &out, &total) == STORE_OK &&
	      strcmp(names(out), "Desk lamp,Floor lamp,Bulb") == 0, "dearest first");
	json_decref(out);
	CHECK(store_products_page(db, cid, &newest, &out, &total) == STORE_OK &&
	      strcmp(names(out), "Bulb") == 0 && total == 3, "newest first");
	snprintf(pid, sizeof pid, "%s", json_string_value(json_object_get(json_array_get(out, 0),
	                                                                    "id")));
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(json_array_get(out, 0),
	      "category"), "name")), "Lamps") == 0, "each product shows its category");
	json_decref(out);
	CHECK(store_products_page(db, "nothex", &all, &out, &total) == STORE_ENOTFOUND && out == NULL,
	      "a malformed category id is ENOTFOUND");
	store_oid_new(unknown);
	CHECK(store_products_page(db, unknown, &all, &out, &total) == STORE_OK &&
	      json_array_size(out) == 0 && total == 0, "an unknown category is an empty page");
	json_decref(out);

	CHECK(store_products_search(db, "LAMPS", &all, &out, &total) == STORE_OK &&
	      json_array_size(out) == 3 && total == 3 &&
	      strcmp(names(out) + strlen(names(out)) - 5, ",Bulb") == 0,
	      "search: matches in the name first, then in the description (%s)", names(out));
	json_decref(out);
	CHECK(store_products_search(db, "lamp", &cheap, &out, &total) == STORE_OK &&
	      strcmp(names(out), "Bulb,Floor lamp") == 0 && total == 3,
	      "search: a page, cheapest first, with the total of all matches");
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(json_array_get(out, 0),
	      "category"), "id")), cid) == 0, "search: each product shows its category");
	json_decref(out);
	CHECK(store_products_search(db, "warm desk", &all, &out, &total) == STORE_OK &&
	      strcmp(names(out), "Desk lamp") == 0 && total == 1, "search: every word must match");
	json_decref(out);

	CHECK(store_product_get(db, pid, &out) == STORE_OK &&
	      strcmp(json_string_value(json_object_get(out, "name")), "Bulb") == 0 &&
	      json_number_value(json_object_get(out, "price")) == 2.0 &&
	      strcmp(json_string_value(json_object_get(json_object_get(out, "category"), "name")),
	             "Lamps") == 0, "one product by id, with its category");
	json_decref(out);
	CHECK(store_product_get(db, unknown, &out) == STORE_ENOTFOUND && out == NULL,
	      "an unknown product is ENOTFOUND");

	page.page = 1;
	page.limit = 1;
	CHECK(store_categories_page(db, &page, &out, &total) == STORE_OK &&
	      strcmp(names(out), "Chairs") == 0 && total == 2, "categories: a page by name, the total");
	json_decref(out);

	store_db_free(db);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if ((getenv("KEEP") == NULL && system(cmd) != 0))
		return 1;
	return CHECK_DONE();
}
