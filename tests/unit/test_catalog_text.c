/* test_catalog_text.c - the listings written as text from the stored
 * documents (store_*_text) give the very bytes of encoding the JSON answers
 * (store_products_list & co, through catalog_product_view), on a real SQLite
 * database: escaped strings, UTF-8, large and odd numbers, fields missing or
 * of another type, unknown categories, and stored text that jansson would
 * write differently or not load at all (written with SQL, as another tool
 * might). */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/catalog.h"
#include "store/json.h"
#include "store/oid.h"

static store_db *db;
static const store_user seller = { "65b000000000000000000001", "s@example.com", 0 };
static const store_user other = { "65b000000000000000000002", "o@example.com", 0 };

/* Compares a text answer with the encoding of the JSON answer. */
static int
same(const char *what, store_err et, char *text, size_t len, store_err ej, json_t *json)
{
	char *want = json != NULL ? store_json_dump(json) : NULL;
	int ok = et == ej && ((text == NULL && want == NULL) ||
	                      (text != NULL && want != NULL && strlen(want) == len &&
	                       strcmp(text, want) == 0));

	if (!ok)
		printf("# %s: text (%s) %s\n#   want (%s) %s\n", what, store_strerror(et),
		       text != NULL ? text : "(null)", store_strerror(ej),
		       want != NULL ? want : "(null)");
	free(want);
	free(text);
	json_decref(json);
	return ok;
}

static int
same_list(const char *cid, const char *user)
{
	char *text = NULL;
	size_t len = 0;
	json_t *json = NULL;
	store_err et = store_products_list_text(db, cid, user, &text, &len);
	store_err ej = store_products_list(db, cid, user, &json);

	return same(cid, et, text, len, ej, json);
}

static int
same_page(const char *cid, size_t page, size_t limit, const char *sort)
{
	store_listing l = { page, limit, sort };
	char *text = NULL;
	size_t len = 0, tt = 0, tj = 0;
	json_t *json = NULL;
	store_err et = store_products_page_text(db, cid, &l, &text, &len, &tt);
	store_err ej = store_products_page(db, cid, &l, &json, &tj);

	return same("page", et, text, len, ej, json) && tt == tj;
}

static int
same_categories(size_t page, size_t limit)
{
	store_listing l = { page, limit, NULL };
	char *text = NULL;
	size_t len = 0, tt = 0, tj = 0;
	json_t *json = NULL;
	store_err et, ej;

	if (limit == 0) {
		et = store_categories_list_text(db, &text, &len);
		ej = store_categories_list(db, &json);
		return same("categories", et, text, len, ej, json);
	}
	et = store_categories_page_text(db, &l, &text, &len, &tt);
	ej = store_categories_page(db, &l, &json, &tj);
	return same("categories page", et, text, len, ej, json) && tt == tj;
}

static void
category(const char *name, const char *description, char id[25])
{
	const store_actor who = { &seller, "req-1" };
	store_refusal why = { 0 };
	json_t *out = NULL, *in = json_pack("{s:s,s:s}", "name", name, "description",
	                                    description);

	CHECK(store_category_create(db, &who, in, &out, &why) == STORE_OK,
	      "category '%s' is made", name);
	snprintf(id, 25, "%s", store_json_str(out, "id"));
	json_decref(in);
	json_decref(out);
}

/* A product as the service makes it. */
static void
product(const store_user *u, const char *cid, const char *name, long long cents)
{
	const store_actor who = { u, "req-1" };
	store_refusal why = { 0 };
	json_t *out = NULL, *in = json_pack("{s:s,s:s,s:I,s:i,s:s,s:s}", "name", name,
	                                    "description", "A \"fine\" thing\n\tof\\ours",
	                                    "price", (json_int_t)cents, "count", 7,
	                                    "picture", "https://x.example/p.png?a=1&b=</script>",
	                                    "categoryId", cid);

	CHECK(store_product_create(db, &who, in, &out, &why) == STORE_OK,
	      "product '%s' is made", name);
	json_decref(in);
	json_decref(out);
}

/* A product document stored as it is (doc is stolen); *id gets its id. */
static void
stored(json_t *doc, char id[25])
{
	CHECK(store_db_insert(db, "products", doc, NULL) == STORE_OK, "a document is stored");
	if (id != NULL)
		snprintf(id, 25, "%s", store_json_str(doc, "id"));
	json_decref(doc);
}

/* Replaces the stored text of products id with text, with SQL. */
static bool
set_raw(const char *path, const char *id, const char *text)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open(path, &h);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, "UPDATE products SET doc = ? WHERE id = ?", -1,
		                        &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE && sqlite3_changes(h) != 1)
		rc = SQLITE_NOTFOUND;
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc == SQLITE_DONE;
}

static void
raw(const char *path, const char *id, const char *text)
{
	CHECK(set_raw(path, id, text), "stored text of %s is set with SQL", id);
}

/* Runs sql on the database file, as another tool would. */
static bool
exec_raw(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	int rc = sqlite3_open(path, &h);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
	sqlite3_close(h);
	return rc == SQLITE_OK;
}

/* The list of cid holds text. */
static bool
list_has(const char *cid, const char *text)
{
	char *out = NULL;
	size_t len = 0;
	bool has = store_products_list_text(db, cid, NULL, &out, &len) == STORE_OK &&
	           strstr(out, text) != NULL;

	free(out);
	return has;
}

/* The categories (all of them, or the first page of 50 with its total)
 * hold text. */
static bool
categories_have(bool page, const char *text)
{
	const store_listing l = { 1, 50, NULL };
	char *out = NULL;
	size_t len = 0, total = 0;
	bool has = (page ? store_categories_page_text(db, &l, &out, &len, &total) :
	            store_categories_list_text(db, &out, &len)) == STORE_OK &&
	           strstr(out, text) != NULL && (!page || total == 3);

	free(out);
	return has;
}

/* The categories' answers are remembered while the categories do not
 * change, whatever happens to the products. */
static void
test_memo_categories(const char *path, store_db *other, const char *cid)
{
	char sql[512];
	json_t *c = NULL;
	bool ok;

	CHECK(categories_have(false, "Category renamed elsewhere") &&
	      categories_have(true, "Category renamed elsewhere"),
	      "categories: the list and a page, as the category is now");
	ok = store_db_get(other, "categories", cid, &c) == STORE_OK;
	json_object_set_new(c, "name", json_string("Category again"));
	CHECK(ok && store_db_update(other, "categories", c, NULL) == STORE_OK &&
	      categories_have(false, "Category again") &&
	      categories_have(true, "Category again"),
	      "categories: renamed through another connection, the next list and "
	      "page have it");
	snprintf(sql, sizeof sql, "UPDATE categories SET doc = json_set(doc, '$.name', "
	         "'Unseen category') WHERE id = '%s'; UPDATE \"store:changes\" "
	         "SET n = n - 1 WHERE coll = 'categories'", cid);
	CHECK(exec_raw(path, sql) && categories_have(false, "Category again") &&
	      categories_have(true, "Category again"),
	      "categories: no change counted, the remembered list and page are served");
	snprintf(sql, sizeof sql, "UPDATE products SET doc = json_set(doc, '$.name', "
	         "'Product moved on') WHERE json_extract(doc, '$.categoryId') = '%s'",
	         cid);
	CHECK(exec_raw(path, sql) && categories_have(false, "Category again") &&
	      categories_have(true, "Category again"),
	      "categories: a change of products alone leaves them remembered");
	snprintf(sql, sizeof sql, "UPDATE categories SET doc = json_set(doc, '$.name', "
	         "'Seen category') WHERE id = '%s'", cid);
	CHECK(exec_raw(path, sql) && categories_have(false, "Seen category") &&
	      categories_have(true, "Seen category"),
	      "categories: a write with SQL from another program, the next list and "
	      "page have it");
	json_decref(c);
}

/* Listings are remembered (store_db_memo_*) while their collections do not
 * change: a change from another connection (productsd's, beside
 * store-products') is in the next answer, and an answer is built again
 * only after one. */
static void
test_memo(const char *url, const char *path, const char *cid)
{
	char msg[256];
	store_db *other = NULL;
	json_t *p = NULL, *found = NULL, *c = NULL, *filter = json_pack("{s:s}", "categoryId", cid);
	bool ok;

	ok = store_db_open(url, store_catalog_collections, store_catalog_ncollections,
	                   &other, msg, sizeof msg) == STORE_OK &&
	     store_db_find(other, "products", filter, NULL, &found) == STORE_OK &&
	     json_array_size(found) > 0;
	CHECK(ok, "a second connection finds the category's products");
	if (!ok)
		goto out;
	CHECK(list_has(cid, "P0 ") && list_has(cid, "P0 "), "a listing, answered twice");
	p = json_deep_copy(json_array_get(found, 0));
	json_object_set_new(p, "name", json_string("Renamed elsewhere"));
	CHECK(store_db_update(other, "products", p, NULL) == STORE_OK &&
	      list_has(cid, "Renamed elsewhere"),
	      "a product changed through another connection: the next listing has it");
	ok = store_db_get(other, "categories", cid, &c) == STORE_OK;
	json_object_set_new(c, "name", json_string("Category renamed elsewhere"));
	CHECK(ok && store_db_update(other, "categories", c, NULL) == STORE_OK &&
	      list_has(cid, "Category renamed elsewhere"),
	      "its category renamed through another connection: the next listing has it");
	/* A write the change counter does not see (its trigger undone by hand)
	 * is not in the listing: the remembered answer is served. */
	snprintf(msg, sizeof msg, "UPDATE products SET doc = json_set(doc, '$.name', "
	         "'Unseen') WHERE id = '%s'; UPDATE \"store:changes\" SET n = n - 1 "
	         "WHERE coll = 'products'", store_json_str(p, "id"));
	CHECK(exec_raw(path, msg) && !list_has(cid, "Unseen") &&
	      list_has(cid, "Renamed elsewhere"),
	      "no change counted: the remembered listing is served, not built again");
	snprintf(msg, sizeof msg, "UPDATE products SET doc = json_set(doc, '$.name', "
	         "'Seen') WHERE id = '%s'", store_json_str(p, "id"));
	CHECK(exec_raw(path, msg) && list_has(cid, "Seen"),
	      "a write with SQL from another program: the next listing has it");
	test_memo_categories(path, other, cid);
out:
	json_decref(filter);
	json_decref(c);
	json_decref(p);
	json_decref(found);
	store_db_free(other);
}

int
main(void)
{
	static const long long prices[] = {
		1, 5, 10, 99, 100, 101, 1999, 12345, 100000, 33333333, 100000000000001LL,
		123456789012345678LL, 9007199254740993LL, -250, -1, 0,
	};
	char dir[] = "/tmp/store-test-catalog-text-XXXXXX", url[300], path[256], msg[512];
	char cid[25], empty[25], odd[25], pid[25], unknown[25], name[64];

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/catalog.db", dir);
	snprintf(url, sizeof url, "sqlite:%s", path);
	if (store_db_open(url, store_catalog_collections, store_catalog_ncollections, &db, msg,
	                  sizeof msg) != STORE_OK) {
		printf("not ok 1 - open: %s\n", msg);
		return 1;
	}
	store_oid_new(unknown);
	category("Caf\xc3\xa9 \"quotes\" \\ \xe2\x82\xac", "Line\nbreak\ttab \x01 ctl \x7f",
	         cid);
	category("Empty", "Nothing here", empty);
	category("Odd", "Stored by hand", odd);

	CHECK(same_list(cid, NULL), "an empty category: the same text");
	CHECK(same_list(unknown, NULL) && same_list("nothex", NULL),
	      "an unknown and a malformed category: the same answer");
	for (size_t i = 0; i < sizeof prices / sizeof *prices; i++) {
		snprintf(name, sizeof name, "P%zu \xf0\x9f\x98\x80 <b>&amp;</b> /", i);
		product(i % 3 ? &seller : &other, cid, name, prices[i]);
	}
	CHECK(same_list(cid, NULL), "products with escapes, UTF-8 and every kind of "
	      "price: the same text");
	CHECK(same_list(cid, other.id), "one seller's products: the same text");
	CHECK(same_page(cid, 1, 5, NULL) && same_page(cid, 2, 5, "price") &&
	      same_page(cid, 1, 100, "-price") && same_page(cid, 0, 0, "newest") &&
	      same_page(cid, 9, 5, NULL), "pages, sorted: the same text and total");
	CHECK(same_page(unknown, 1, 5, NULL) && same_page("nothex", 1, 5, NULL),
	      "a page of an unknown or malformed category: the same answer");
	CHECK(same_categories(0, 0) && same_categories(1, 2) && same_categories(2, 2),
	      "categories, all and in pages: the same text");

	/* Documents the service would not write, stored through the port. */
	stored(json_pack("{s:i,s:s,s:f,s:s,s:I,s:s,s:s}", "name", 42, "description",
	                 "real price", "price", 19.99, "categoryId", odd,
	                 "views", (json_int_t)-9223372036854775807LL - 1, "count", "many",
	                 "userId", seller.id), NULL);
	stored(json_pack("{s:s,s:s}", "name", "no price, no picture", "categoryId", odd),
	       NULL);
	stored(json_pack("{s:s%,s:s,s:s}", "name", "nul\0inside", (size_t)10,
	                 "description", "cut at the NUL", "categoryId", odd), NULL);
	stored(json_pack("{s:s,s:{s:[i,{}]},s:b,s:n,s:s}", "name", "nested", "extra", "a", 1,
	                 "flag", 1, "picture", "categoryId", odd), NULL);
	CHECK(same_list(odd, NULL) && same_page(odd, 1, 10, NULL) &&
	      same_page(odd, 1, 10, "price"),
	      "odd stored documents (wrong types, missing fields, a NUL, nesting): "
	      "the same text");

	/* A page of a category that is gone: each product shows {id}. */
	stored(json_pack("{s:s,s:i,s:s}", "name", "lost", "price", 250, "categoryId",
	                 unknown), NULL);
	CHECK(same_page(unknown, 1, 5, NULL) && same_page(unknown, 0, 0, "price") &&
	      same_list(unknown, NULL),
	      "products of an unknown category: the same text");

	/* Stored text that jansson would write back differently: the parse
	 * and encode path answers, the same bytes as before. */
	stored(json_pack("{s:s,s:i,s:s}", "name", "raw", "price", 100, "categoryId", odd),
	       pid);
	snprintf(msg, sizeof msg, "{\"name\":\"sl\\/ash \\u0041 \\u001f \\u00e9 "
	         "\\ud83d\\ude00\" , \"price\" : 1.5e2, \"count\":  3 ,\"categoryId\":"
	         "\"%s\",\"views\":-0}", odd);
	raw(path, pid, msg);
	CHECK(same_list(odd, NULL), "escapes jansson does not write, spaces, an "
	      "exponent, -0: the same text");
	snprintf(msg, sizeof msg, "{\"name\":\"x\",\"categoryId\":\"%s\",\"views\":"
	         "99999999999999999999}", odd);
	raw(path, pid, msg);
	CHECK(same_list(odd, NULL), "an integer out of range: the same failure");
	snprintf(msg, sizeof msg, "{\"name\":\"bad \xc3\x28 utf-8\",\"categoryId\":\"%s\"}",
	         odd);
	raw(path, pid, msg);
	CHECK(same_list(odd, NULL), "invalid UTF-8: the same failure");
	snprintf(msg, sizeof msg, "{\"name\":\"first\",\"categoryId\":\"%s\","
	         "\"name\":\"last\",\"price\":1,\"price\":250}", odd);
	raw(path, pid, msg);
	CHECK(same_list(odd, NULL), "a repeated member (the last one counts): the "
	      "same text");
	snprintf(msg, sizeof msg, "{\"name\":\"lone \\ud800\",\"categoryId\":\"%s\"}",
	         odd);
	raw(path, pid, msg);
	CHECK(same_list(odd, NULL), "a lone surrogate: the same failure");
	snprintf(msg, sizeof msg, "{\"n\\u0000\":1,\"categoryId\":\"%s\"}", odd);
	raw(path, pid, msg);
	CHECK(same_page(odd, 1, 10, NULL) && same_list(odd, NULL),
	      "a NUL in a member's name: the same failure");


	/* Numbers where the scanner stops converting (an integer of up to 18
	 * digits, a real with no exponent) and just past it. */
	{
		static const char *const numbers[] = {
			"999999999999999999", "-999999999999999999",
			"9223372036854775807", "-9223372036854775808",
			"9223372036854775808", "-9223372036854775809",
			"123456789012345678901234567890.25", "1e308", "1e309", "-1E400",
			"0.000000000000000000000000000000000000000001",
		};
		bool all = true;

		for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
			snprintf(msg, sizeof msg, "{\"name\":\"n\",\"categoryId\":\"%s\","
			         "\"views\":%s,\"price\":%s}", odd, numbers[i], numbers[i]);
			if (!set_raw(path, pid, msg) || !same_list(odd, NULL)) {
				printf("# differs: %s\n", numbers[i]);
				all = false;
			}
		}
		CHECK(all, "integers of 18 and 19 digits, at and past long long's "
		      "range, long reals, exponents that overflow: the same answer");
	}
	/* Strings are read eight bytes at a time: escapes (as jansson writes
	 * them or not), UTF-8 (valid or not), DEL and the closing quote at
	 * every offset of two blocks. (A raw control character cannot be
	 * stored: the table checks json_valid.) */
	{
		static const char *const marks[] = {
			"\\\"", "\\u0041", "\\u001f", "\\t", "\\/", "\xc3\xa9", "\xc3\x28",
			"\xf0\x9f\x98\x80", "\x7f", "\\n",
		};
		bool all = true;

		for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++)
			for (int at = 0; at <= 17; at++) {
				snprintf(name, sizeof name, "%.*s%s%.*s", at,
				         "abcdefghijklmnopqrstuvwxyz", marks[m], 17 - at,
				         "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
				snprintf(msg, sizeof msg, "{\"name\":\"%s\",\"categoryId\":"
				         "\"%s\",\"description\":\"%.*s\"}", name, odd, at,
				         "0123456789012345678");
				if (!set_raw(path, pid, msg) || !same_list(odd, NULL)) {
					printf("# differs: %s\n", msg);
					all = false;
				}
			}
		CHECK(all, "escapes, UTF-8, DEL and the end of a string at every "
		      "offset of a block: the same answer");
	}

	test_memo(url, path, cid);

	store_db_free(db);
	snprintf(msg, sizeof msg, "rm -rf '%s'", dir);
	if (system(msg) != 0)
		printf("# could not remove %s\n", dir);
	return CHECK_DONE();
}
