/* test_db.c - one conformance suite for every db backend: SQLite always
 * (a file in a temporary folder), MongoDB when STORE_TEST_MONGODB_URI
 * names a server (a replica set, for transactions). */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "check.h"
#include "store/db.h"
#include "store/oid.h"

#define NTHREADS   8
#define NTHREAD_INC 200
#define NPROCS     4
#define NPROC_INC  200

static const char *const users_unique[] = { "email", NULL };
static const char *const users_indexed[] = { "name", NULL };
static const char *const items_indexed[] = { "kind", "rank", NULL };
static const char *const docs_indexed[] = { "kind", NULL };
static const char *const docs_text[] = { "title", "body", NULL };

static const store_collection schema[] = {
	{ "t_users", users_unique, users_indexed },
	{ "t_items", NULL, items_indexed },
	{ "t_counters", NULL, NULL },
	{ "t_a", NULL, NULL },
	{ "t_b", NULL, NULL },
	{ "t_docs", NULL, docs_indexed, docs_text },
	{ "t_late", NULL, NULL },
};
#define NSCHEMA (sizeof schema / sizeof *schema)

#define DB_KEY_TEST 129   /* one over db_impl.h's DB_FIELD_MAX */

static const char *be;   /* the backend under test, for messages */

/* ---- helpers ------------------------------------------------------------ */

static store_db *
open_db(const char *url)
{
	char err[256];
	store_db *db = NULL;
	store_err e = store_db_open(url, schema, NSCHEMA, &db, err, sizeof err);

	if (e != STORE_OK)
		fprintf(stderr, "# open: %s: %s\n", store_strerror(e), err);
	return db;
}

/* Deletes every document of coll (a MongoDB database outlives runs). */
static void
wipe(store_db *db, const char *coll)
{
	json_t *all = NULL, *d;
	size_t i;

	if (store_db_find(db, coll, NULL, NULL, &all) != STORE_OK)
		return;
	json_array_foreach(all, i, d)
		store_db_delete(db, coll, json_string_value(json_object_get(d, "id")),
		                json_integer_value(json_object_get(d, "version")));
	json_decref(all);
}

static json_t *
insert(store_db *db, const char *coll, json_t *doc)
{
	if (store_db_insert(db, coll, doc, NULL) != STORE_OK) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static size_t
count(store_db *db, const char *coll, json_t *filter)
{
	size_t n = (size_t)-1;

	store_db_count(db, coll, filter, &n);
	json_decref(filter);
	return n;
}

/* The values of member key of each document of arr, joined by ','. */
static const char *
column(const json_t *arr, const char *key)
{
	static char buf[512];
	size_t i, n = 0;
	json_t *d, *v;

	buf[0] = '\0';
	json_array_foreach(arr, i, d) {
		v = json_object_get(d, key);
		if (json_is_integer(v))
			n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld",
			                      i ? "," : "", json_integer_value(v));
		else
			n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s",
			                      i ? "," : "", json_string_value(v));
		if (n >= sizeof buf)
			break;
	}
	return buf;
}

static const char *
find_col(store_db *db, const char *coll, json_t *filter,
         const store_find_opts *opts, const char *key)
{
	json_t *out = NULL;
	const char *s = "(error)";

	if (store_db_find(db, coll, filter, opts, &out) == STORE_OK)
		s = column(out, key);
	json_decref(out);
	json_decref(filter);
	return s;
}

/* ---- documents ---------------------------------------------------------- */

static void
test_insert_get(store_db *db)
{
	json_t *a = insert(db, "t_items", json_pack("{s:s, s:i}", "kind", "x",
	                                              "rank", 7));
	json_t *b = insert(db, "t_items", json_pack("{s:s}", "kind", "y"));
	json_t *got = NULL, *c;
	const char *ida = json_string_value(json_object_get(a, "id"));
	const char *idb = json_string_value(json_object_get(b, "id"));
	char fresh[STORE_OID_LEN + 1], upper[STORE_OID_LEN + 1];
	const char *field = NULL;
	store_err e;

	CHECK(a != NULL && b != NULL, "%s: insert succeeds", be);
	CHECK(store_oid_valid(ida) && store_oid_valid(idb),
	      "%s: insert sets a valid ObjectId", be);
	CHECK(ida != NULL && idb != NULL && strcmp(ida, idb) != 0,
	      "%s: ids are distinct", be);
	CHECK(json_integer_value(json_object_get(a, "version")) == 0 &&
	      json_is_integer(json_object_get(b, "version")),
	      "%s: insert sets version 0", be);

	e = store_db_get(db, "t_items", ida, &got);
	CHECK(e == STORE_OK && json_equal(got, a),
	      "%s: get returns the document with id and version (%s)", be,
	      store_strerror(e));
	json_decref(got);
	got = NULL;

	store_oid_new(fresh);
	CHECK(store_db_get(db, "t_items", fresh, &got) == STORE_ENOTFOUND &&
	      got == NULL, "%s: get of an unknown id is ENOTFOUND", be);
	CHECK(store_db_get(db, "t_items", "not-an-id", &got) == STORE_ENOTFOUND,
	      "%s: get of a malformed id is ENOTFOUND", be);
	for (size_t i = 0; i <= STORE_OID_LEN; i++)
		upper[i] = (ida != NULL && ida[i] >= 'a' && ida[i] <= 'f') ?
		           (char)(ida[i] - 32) : (ida != NULL ? ida[i] : '\0');
	CHECK(store_db_get(db, "t_items", upper, &got) == STORE_ENOTFOUND,
	      "%s: get of an uppercase id is ENOTFOUND", be);
	CHECK(store_db_get(db, "t_items", NULL, &got) == STORE_ENOTFOUND,
	      "%s: get of a NULL id is ENOTFOUND", be);

	c = json_pack("{s:s, s:s}", "id", fresh, "kind", "z");
	e = store_db_insert(db, "t_items", c, NULL);
	CHECK(e == STORE_OK && strcmp(json_string_value(json_object_get(c, "id")),
	      fresh) == 0, "%s: insert keeps a given valid id", be);
	json_object_set_new(c, "version", json_integer(5));
	e = store_db_insert(db, "t_items", c, &field);
	CHECK(e == STORE_EDUPLICATE && field != NULL && strcmp(field, "id") == 0,
	      "%s: inserting a taken id is EDUPLICATE on 'id' (%s)", be,
	      store_strerror(e));
	json_decref(c);

	c = json_pack("{s:i, s:s}", "id", 12, "kind", "w");
	e = store_db_insert(db, "t_items", c, NULL);
	CHECK(e == STORE_OK && store_oid_valid(json_string_value(
	      json_object_get(c, "id"))), "%s: insert replaces an invalid id", be);
	json_decref(c);
	json_decref(a);
	json_decref(b);
	wipe(db, "t_items");
}

/* store_db_get_member: each member as get returns it, null for a missing
 * one, the same errors as get, and only checked member names. */
static void
test_get_member(store_db *db)
{
	json_t *a = insert(db, "t_items", json_pack(
		"{s:i, s:s, s:f, s:b, s:n, s:{s:[i,s]}, s:[]}", "rank", 42,
		"kind", "q\"uo\\te \xc3\xa9\xf0\x9f\x9b\x92 \n", "price", 2.5,
		"active", 1, "gone", "meta", "tags", 1, "x", "list"));
	const char *ida = json_string_value(json_object_get(a, "id"));
	const char *names[] = { "rank", "kind", "price", "active", "gone", "meta",
	                        "list" };
	const char *bad[] = { "id", "version", "_id", "", "a.b", "$x", "a b",
	                      "\xc3\xa9" };
	char fresh[STORE_OID_LEN + 1];
	json_t *v = NULL;
	store_err e;
	bool same = true;

	CHECK(a != NULL, "%s: get_member: insert succeeds", be);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		e = store_db_get_member(db, "t_items", ida, names[i], &v);
		if (e != STORE_OK || !json_equal(v, json_object_get(a, names[i]))) {
			same = false;
			fprintf(stderr, "# member %s: %s\n", names[i], store_strerror(e));
		}
		json_decref(v);
		v = NULL;
	}
	CHECK(same, "%s: get_member returns each member as stored (int, string "
	      "with escapes and UTF-8, real, bool, null, object, array)", be);
	e = store_db_get_member(db, "t_items", ida, "missing", &v);
	CHECK(e == STORE_OK && json_is_null(v),
	      "%s: get_member of a missing member is JSON null (%s)", be,
	      store_strerror(e));
	json_decref(v);
	v = NULL;
	store_oid_new(fresh);
	CHECK(store_db_get_member(db, "t_items", fresh, "rank", &v) == STORE_ENOTFOUND &&
	      v == NULL, "%s: get_member of an unknown id is ENOTFOUND", be);
	CHECK(store_db_get_member(db, "t_items", "not-an-id", "rank", &v) ==
	      STORE_ENOTFOUND, "%s: get_member of a malformed id is ENOTFOUND", be);
	same = true;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (store_db_get_member(db, "t_items", ida, bad[i], &v) != STORE_EINVAL ||
		    v != NULL)
			same = false;
	CHECK(same, "%s: get_member refuses reserved and malformed member names "
	      "(EINVAL)", be);
	CHECK(store_db_get_member(db, "t_nope", ida, "rank", &v) == STORE_EINVAL &&
	      store_db_get_member(db, "t_items", ida, NULL, &v) == STORE_EINVAL,
	      "%s: get_member of an undeclared collection or no name is EINVAL", be);
	json_decref(a);
	wipe(db, "t_items");
}

static void
test_find(store_db *db)
{
	static const struct { const char *kind; int rank; int active; } rows[] = {
		{ "a", 3, 1 }, { "b", 1, 0 }, { "a", 5, 0 }, { "a", 1, 1 },
		{ "b", 4, 1 }, { "a", 2, 1 },
	};
	store_find_opts asc = { .sort = "rank" }, desc = { .sort = "rank", .desc = 1 };
	store_find_opts page = { .sort = "rank", .limit = 2, .skip = 1 };
	store_find_opts first2 = { .limit = 2 }, skip5 = { .skip = 5 };
	json_t *one = NULL, *ones = NULL;
	store_err e;

	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		json_t *d = insert(db, "t_items", json_pack("{s:s, s:i, s:b, s:i}",
		                   "kind", rows[i].kind, "rank", rows[i].rank,
		                   "active", rows[i].active, "seq", (int)i));
		json_decref(d);
	}
	/* "1" the string, 1 the number and true are three different values */
	json_decref(insert(db, "t_items", json_pack("{s:s, s:s, s:i}", "kind",
	                   "c", "code", "1", "seq", 6)));
	json_decref(insert(db, "t_items", json_pack("{s:s, s:i, s:i}", "kind",
	                   "c", "code", 1, "seq", 7)));
	json_decref(insert(db, "t_items", json_pack("{s:s, s:b, s:i}", "kind",
	                   "c", "code", 1, "seq", 8)));
	json_decref(insert(db, "t_items", json_pack("{s:s, s:f, s:i}", "kind",
	                   "d", "price", 2.5, "seq", 9)));

	CHECK(strcmp(find_col(db, "t_items", NULL, NULL, "seq"),
	      "0,1,2,3,4,5,6,7,8,9") == 0, "%s: find all, in insertion order", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:s}", "kind", "a"),
	      NULL, "seq"), "0,2,3,5") == 0, "%s: find by a string field", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:i}", "rank", 1),
	      NULL, "seq"), "1,3") == 0, "%s: find by an integer field", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:b}", "active", 1),
	      NULL, "seq"), "0,3,4,5") == 0, "%s: find by a boolean field", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:s, s:b}", "kind", "a",
	      "active", 0), NULL, "seq"), "2") == 0,
	      "%s: find by two fields", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:f}", "price", 2.5),
	      NULL, "seq"), "9") == 0, "%s: find by a real field", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:s}", "code", "1"),
	      NULL, "seq"), "6") == 0 &&
	      strcmp(find_col(db, "t_items", json_pack("{s:i}", "code", 1),
	      NULL, "seq"), "7") == 0 &&
	      strcmp(find_col(db, "t_items", json_pack("{s:b}", "code", 1),
	      NULL, "seq"), "8") == 0,
	      "%s: equality keeps \"1\", 1 and true apart", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:n, s:s}", "rank",
	      "kind", "c"), NULL, "seq"), "6,7,8") == 0,
	      "%s: null matches a missing field", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:s}", "kind", "a"),
	      &asc, "rank"), "1,2,3,5") == 0, "%s: sort ascending", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:s}", "kind", "a"),
	      &desc, "rank"), "5,3,2,1") == 0, "%s: sort descending", be);
	CHECK(strcmp(find_col(db, "t_items", json_pack("{s:s}", "kind", "a"),
	      &page, "rank"), "2,3") == 0, "%s: sort with limit and skip", be);
	CHECK(strcmp(find_col(db, "t_items", json_object(), &first2, "seq"),
	      "0,1") == 0, "%s: limit in id order", be);
	CHECK(strcmp(find_col(db, "t_items", NULL, &skip5, "seq"),
	      "5,6,7,8,9") == 0, "%s: skip in id order", be);

	CHECK(count(db, "t_items", NULL) == 10, "%s: count all", be);
	CHECK(count(db, "t_items", json_pack("{s:s}", "kind", "a")) == 4,
	      "%s: count by a field", be);
	CHECK(count(db, "t_items", json_pack("{s:s}", "kind", "none")) == 0,
	      "%s: count of nothing is 0", be);

	e = store_db_find_one(db, "t_items", ones = json_pack("{s:i}", "rank", 4),
	                      &one);
	CHECK(e == STORE_OK && json_integer_value(json_object_get(one, "seq")) == 4,
	      "%s: find_one", be);
	CHECK(e == STORE_OK && strcmp(find_col(db, "t_items", json_pack("{s:O}",
	      "id", json_object_get(one, "id")), NULL, "seq"), "4") == 0,
	      "%s: find by id", be);
	json_decref(one);
	json_decref(ones);
	one = NULL;
	ones = json_pack("{s:s}", "kind", "none");
	CHECK(store_db_find_one(db, "t_items", ones, &one) == STORE_ENOTFOUND &&
	      one == NULL, "%s: find_one without a match is ENOTFOUND", be);
	json_decref(ones);
	wipe(db, "t_items");
}

static void
test_unique(store_db *db)
{
	json_t *a = insert(db, "t_users", json_pack("{s:s, s:s}", "email",
	                   "a@example.com", "name", "ann"));
	json_t *b = insert(db, "t_users", json_pack("{s:s, s:s}", "email",
	                   "b@example.com", "name", "bob"));
	json_t *dup = json_pack("{s:s, s:s}", "email", "a@example.com", "name",
	                        "eve");
	json_t *got = NULL;
	const char *field = NULL;
	store_err e;

	CHECK(a != NULL && b != NULL, "%s: distinct unique values insert", be);
	e = store_db_insert(db, "t_users", dup, &field);
	CHECK(e == STORE_EDUPLICATE && field != NULL && strcmp(field, "email") == 0,
	      "%s: a taken unique value is EDUPLICATE on 'email' (%s)", be,
	      store_strerror(e));
	CHECK(count(db, "t_users", NULL) == 2, "%s: the duplicate is not stored",
	      be);

	field = NULL;
	json_object_set_new(b, "email", json_string("a@example.com"));
	e = store_db_update(db, "t_users", b, &field);
	CHECK(e == STORE_EDUPLICATE && field != NULL && strcmp(field, "email") == 0,
	      "%s: updating to a taken unique value is EDUPLICATE (%s)", be,
	      store_strerror(e));
	CHECK(json_integer_value(json_object_get(b, "version")) == 0,
	      "%s: a failed update leaves the version", be);
	e = store_db_get(db, "t_users", json_string_value(json_object_get(b, "id")),
	                 &got);
	CHECK(e == STORE_OK && strcmp(json_string_value(json_object_get(got,
	      "email")), "b@example.com") == 0 &&
	      json_integer_value(json_object_get(got, "version")) == 0,
	      "%s: a failed update changes nothing", be);
	json_decref(got);

	json_decref(insert(db, "t_users", json_pack("{s:s}", "name", "nomail1")));
	json_decref(insert(db, "t_users", json_pack("{s:s}", "name", "nomail2")));
	CHECK(count(db, "t_users", NULL) == 4,
	      "%s: documents without the unique field may be many", be);
	json_decref(a);
	json_decref(b);
	json_decref(dup);
	wipe(db, "t_users");
}

static void
test_versions(store_db *db)
{
	json_t *d = insert(db, "t_items", json_pack("{s:s, s:i}", "kind", "v",
	                   "rank", 1));
	json_t *stale = json_deep_copy(d), *ghost, *got = NULL;
	char id[STORE_OID_LEN + 1], fresh[STORE_OID_LEN + 1];
	store_err e;

	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(d, "id")));
	json_object_set_new(d, "rank", json_integer(2));
	e = store_db_update(db, "t_items", d, NULL);
	CHECK(e == STORE_OK && json_integer_value(json_object_get(d, "version")) == 1,
	      "%s: update bumps the version in the document (%s)", be,
	      store_strerror(e));
	e = store_db_get(db, "t_items", id, &got);
	CHECK(e == STORE_OK && json_integer_value(json_object_get(got, "version")) == 1
	      && json_integer_value(json_object_get(got, "rank")) == 2,
	      "%s: update stores the document and version", be);
	json_decref(got);

	json_object_set_new(stale, "rank", json_integer(99));
	e = store_db_update(db, "t_items", stale, NULL);
	CHECK(e == STORE_ECONFLICT, "%s: update at a stale version is ECONFLICT (%s)",
	      be, store_strerror(e));
	CHECK(json_integer_value(json_object_get(stale, "version")) == 0,
	      "%s: a conflicting update leaves the version", be);

	store_oid_new(fresh);
	ghost = json_pack("{s:s, s:i, s:s}", "id", fresh, "version", 0, "kind", "g");
	CHECK(store_db_update(db, "t_items", ghost, NULL) == STORE_ENOTFOUND,
	      "%s: update of an unknown id is ENOTFOUND", be);
	json_object_set_new(ghost, "id", json_string("nope"));
	CHECK(store_db_update(db, "t_items", ghost, NULL) == STORE_ENOTFOUND,
	      "%s: update of a malformed id is ENOTFOUND", be);
	json_object_del(ghost, "version");
	CHECK(store_db_update(db, "t_items", ghost, NULL) == STORE_EINVAL,
	      "%s: update without a version is EINVAL", be);

	CHECK(store_db_delete(db, "t_items", id, 0) == STORE_ECONFLICT,
	      "%s: delete at a stale version is ECONFLICT", be);
	CHECK(store_db_delete(db, "t_items", fresh, 0) == STORE_ENOTFOUND,
	      "%s: delete of an unknown id is ENOTFOUND", be);
	CHECK(store_db_delete(db, "t_items", "zz", 0) == STORE_ENOTFOUND,
	      "%s: delete of a malformed id is ENOTFOUND", be);
	e = store_db_delete(db, "t_items", id, 1);
	CHECK(e == STORE_OK, "%s: delete at the current version (%s)", be,
	      store_strerror(e));
	got = NULL;
	CHECK(store_db_get(db, "t_items", id, &got) == STORE_ENOTFOUND,
	      "%s: a deleted document is gone", be);
	CHECK(store_db_delete(db, "t_items", id, 1) == STORE_ENOTFOUND,
	      "%s: deleting twice is ENOTFOUND", be);
	json_decref(d);
	json_decref(stale);
	json_decref(ghost);
}

static void
test_invalid(store_db *db)
{
	json_t *op = json_pack("{s:{s:s}}", "email", "$gt", "");
	json_t *arr = json_pack("{s:[s]}", "email", "a");
	json_t *badkey = json_pack("{s:s}", "email;drop", "a");
	json_t *out = NULL, *doc;
	store_find_opts badsort = { .sort = "rank desc" };
	size_t n = 0;

	CHECK(store_db_find(db, "t_users", op, NULL, &out) == STORE_EINVAL &&
	      out == NULL, "%s: a filter with an operator object is EINVAL", be);
	CHECK(store_db_count(db, "t_users", op, &n) == STORE_EINVAL,
	      "%s: count with an operator object is EINVAL", be);
	CHECK(store_db_find_one(db, "t_users", op, &out) == STORE_EINVAL,
	      "%s: find_one with an operator object is EINVAL", be);
	CHECK(store_db_find(db, "t_users", arr, NULL, &out) == STORE_EINVAL,
	      "%s: a filter with an array value is EINVAL", be);
	CHECK(store_db_find(db, "t_users", badkey, NULL, &out) == STORE_EINVAL,
	      "%s: a filter with a bad field name is EINVAL", be);
	CHECK(store_db_find(db, "t_items", NULL, &badsort, &out) == STORE_EINVAL,
	      "%s: a bad sort field is EINVAL", be);
	CHECK(store_db_find(db, "t_nope", NULL, NULL, &out) == STORE_EINVAL,
	      "%s: an undeclared collection is EINVAL", be);
	CHECK(strstr(store_db_errmsg(db), "'t_nope'") != NULL,
	      "%s: errmsg names the collection ('%s')", be, store_db_errmsg(db));
	doc = json_pack("{s:{s:i}}", "a", "$set", 1);
	CHECK(store_db_insert(db, "t_items", doc, NULL) == STORE_EINVAL,
	      "%s: a document key starting with '$' is EINVAL", be);
	json_decref(doc);
	doc = json_pack("{s:i}", "a.b", 1);
	CHECK(store_db_insert(db, "t_items", doc, NULL) == STORE_EINVAL,
	      "%s: a document key with '.' is EINVAL", be);
	json_decref(doc);
	doc = json_pack("{s:i}", "_id", 1);
	CHECK(store_db_insert(db, "t_items", doc, NULL) == STORE_EINVAL,
	      "%s: a document key '_id' is EINVAL", be);
	json_decref(doc);
	CHECK(count(db, "t_items", NULL) == 0, "%s: nothing invalid was stored",
	      be);
	json_decref(op);
	json_decref(arr);
	json_decref(badkey);
}

/* ---- transactions ------------------------------------------------------- */

struct txn_ctx {
	store_err result;      /* what fn returns after its writes */
	int nested;            /* 1: also run an inner txn returning inner */
	store_err inner;
};

static store_err
txn_inner(store_db *db, void *p)
{
	struct txn_ctx *c = p;
	json_t *d = json_pack("{s:s}", "in", "inner");
	store_err e = store_db_insert(db, "t_b", d, NULL);

	json_decref(d);
	return e != STORE_OK ? e : c->inner;
}

static store_err
txn_fn(store_db *db, void *p)
{
	struct txn_ctx *c = p;
	json_t *a = json_pack("{s:s}", "in", "a"), *b = json_pack("{s:s}", "in", "b");
	store_err e = store_db_insert(db, "t_a", a, NULL);

	if (e == STORE_OK)
		e = store_db_insert(db, "t_b", b, NULL);
	if (e == STORE_OK) {   /* read your own write, then change it */
		json_object_set_new(a, "n", json_integer(1));
		e = store_db_update(db, "t_a", a, NULL);
	}
	if (e == STORE_OK && count(db, "t_a", NULL) != 1)
		e = STORE_EINTERNAL;
	if (e == STORE_OK && c->nested)
		store_db_txn(db, txn_inner, c);   /* its result is ignored here */
	json_decref(a);
	json_decref(b);
	return e != STORE_OK ? e : c->result;
}

static void
test_txn(store_db *db)
{
	struct txn_ctx c = { .result = STORE_ECONFLICT };
	json_t *got = NULL;
	store_err e;

	e = store_db_txn(db, txn_fn, &c);
	CHECK(e == STORE_ECONFLICT, "%s: txn returns fn's error (%s)", be,
	      store_strerror(e));
	CHECK(count(db, "t_a", NULL) == 0 && count(db, "t_b", NULL) == 0,
	      "%s: a failed txn leaves both collections empty", be);

	c.result = STORE_OK;
	e = store_db_txn(db, txn_fn, &c);
	CHECK(e == STORE_OK, "%s: txn commits (%s)", be, store_strerror(e));
	CHECK(count(db, "t_a", NULL) == 1 && count(db, "t_b", NULL) == 1,
	      "%s: a committed txn keeps its writes", be);
	e = store_db_find_one(db, "t_a", NULL, &got);
	CHECK(e == STORE_OK && json_integer_value(json_object_get(got, "n")) == 1 &&
	      json_integer_value(json_object_get(got, "version")) == 1,
	      "%s: a committed txn keeps its update", be);
	json_decref(got);
	wipe(db, "t_a");
	wipe(db, "t_b");

	c = (struct txn_ctx){ .result = STORE_OK, .nested = 1, .inner = STORE_OK };
	e = store_db_txn(db, txn_fn, &c);
	CHECK(e == STORE_OK && count(db, "t_a", NULL) == 1 &&
	      count(db, "t_b", NULL) == 2,
	      "%s: a nested txn joins the outer one (%s)", be, store_strerror(e));
	wipe(db, "t_a");
	wipe(db, "t_b");

	c = (struct txn_ctx){ .result = STORE_OK, .nested = 1,
	                      .inner = STORE_EDUPLICATE };
	e = store_db_txn(db, txn_fn, &c);
	CHECK(e == STORE_EDUPLICATE && count(db, "t_a", NULL) == 0 &&
	      count(db, "t_b", NULL) == 0,
	      "%s: a failed nested txn rolls back the outer one (%s)", be,
	      store_strerror(e));
	CHECK(store_db_txn(db, NULL, NULL) == STORE_EINVAL,
	      "%s: txn without fn is EINVAL", be);
}

/* What the commit hook saw. */
struct hook_seen {
	int calls;
	int other_thread;      /* calls made on another thread than the test's */
	pthread_t self;
};

static void
hook_fn(void *ctx)
{
	struct hook_seen *h = ctx;

	h->calls++;
	if (!pthread_equal(pthread_self(), h->self))
		h->other_thread++;
}

/* store_db_on_commit: once per outermost commit, on the committing
 * thread; never after a rollback or a write outside a transaction; gone
 * once cleared. */
static void
test_commit_hook(store_db *db)
{
	struct hook_seen h = { 0, 0, pthread_self() };
	struct txn_ctx c = { .result = STORE_OK };
	json_t *d = json_pack("{s:s}", "in", "bare");

	store_db_on_commit(db, hook_fn, &h);
	CHECK(store_db_txn(db, txn_fn, &c) == STORE_OK && h.calls == 1 &&
	      h.other_thread == 0,
	      "%s: commit hook: runs once after a commit, on its thread (%d)", be, h.calls);
	wipe(db, "t_a");              /* txn_fn wants t_a empty before it */
	c = (struct txn_ctx){ .result = STORE_OK, .nested = 1, .inner = STORE_OK };
	CHECK(store_db_txn(db, txn_fn, &c) == STORE_OK && h.calls == 2,
	      "%s: commit hook: a nested txn adds no call of its own (%d)", be, h.calls);
	wipe(db, "t_a");
	c = (struct txn_ctx){ .result = STORE_ECONFLICT };
	CHECK(store_db_txn(db, txn_fn, &c) == STORE_ECONFLICT && h.calls == 2,
	      "%s: commit hook: not after a rollback (%d)", be, h.calls);
	CHECK(store_db_insert(db, "t_b", d, NULL) == STORE_OK && h.calls == 2,
	      "%s: commit hook: not after a write outside a txn (%d)", be, h.calls);
	store_db_on_commit(db, NULL, NULL);
	c = (struct txn_ctx){ .result = STORE_OK };   /* t_a is empty: rolled back */
	CHECK(store_db_txn(db, txn_fn, &c) == STORE_OK && h.calls == 2,
	      "%s: commit hook: cleared, it runs no more (%d)", be, h.calls);
	json_decref(d);
	wipe(db, "t_a");
	wipe(db, "t_b");
}

/* ---- concurrency -------------------------------------------------------- */

/* Adds 1 to the counter id: get, modify, update, again on ECONFLICT. */
static store_err
increment(store_db *db, const char *id)
{
	json_t *d = NULL;
	store_err e;

	do {
		json_decref(d);
		d = NULL;
		e = store_db_get(db, "t_counters", id, &d);
		if (e != STORE_OK)
			break;
		json_object_set_new(d, "n", json_integer(
		    json_integer_value(json_object_get(d, "n")) + 1));
		e = store_db_update(db, "t_counters", d, NULL);
	} while (e == STORE_ECONFLICT);
	json_decref(d);
	return e;
}

struct worker {
	store_db *db;
	const char *id;
	int n;
	int failed;
};

static void *
worker_run(void *p)
{
	struct worker *w = p;

	for (int i = 0; i < w->n; i++)
		if (increment(w->db, w->id) != STORE_OK)
			w->failed++;
	return NULL;
}

static long long
counter_value(store_db *db, const char *id)
{
	json_t *d = NULL;
	long long n = -1;

	if (store_db_get(db, "t_counters", id, &d) == STORE_OK)
		n = json_integer_value(json_object_get(d, "n"));
	json_decref(d);
	return n;
}

static void
test_threads(store_db *db)
{
	json_t *c = insert(db, "t_counters", json_pack("{s:i}", "n", 0));
	const char *id = json_string_value(json_object_get(c, "id"));
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	int failed = 0, started = 0;

	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ db, id, NTHREAD_INC, 0 };
		if (pthread_create(&th[i], NULL, worker_run, &w[i]) == 0)
			started++;
		else
			failed++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		failed += w[i].failed;
	}
	CHECK(failed == 0 && counter_value(db, id) == NTHREADS * NTHREAD_INC,
	      "%s: %d threads x %d increments lose no update (%lld, %d failed)",
	      be, NTHREADS, NTHREAD_INC, counter_value(db, id), failed);
	json_decref(c);
	wipe(db, "t_counters");
}

/* One transaction held open while another thread reads and writes: the
 * other thread neither sees its uncommitted writes nor joins it (its own
 * write outside a transaction stays when the transaction rolls back). */
struct overlap {
	store_db *db;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;                 /* the transaction has written */
	store_err result;          /* the transaction's fn returns it */
	long long seen;            /* rows of t_a the other thread saw, -1 */
	store_err wrote;           /* the other thread's insert */
};

static store_err
overlap_fn(store_db *db, void *p)
{
	struct overlap *o = p;
	const struct timespec hold = { 0, 50 * 1000000L };
	json_t *a = json_pack("{s:s}", "in", "held");
	store_err e = store_db_insert(db, "t_a", a, NULL);

	json_decref(a);
	pthread_mutex_lock(&o->mu);
	o->open = true;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	nanosleep(&hold, NULL);    /* the other thread runs meanwhile */
	return e != STORE_OK ? e : o->result;
}

static void *
overlap_other(void *p)
{
	struct overlap *o = p;
	json_t *b = json_pack("{s:s}", "in", "beside");

	pthread_mutex_lock(&o->mu);
	while (!o->open)
		pthread_cond_wait(&o->cv, &o->mu);
	pthread_mutex_unlock(&o->mu);
	o->seen = (long long)count(o->db, "t_a", NULL);
	o->wrote = store_db_insert(o->db, "t_b", b, NULL);
	json_decref(b);
	return NULL;
}

static void
test_overlap(store_db *db)
{
	for (int commit = 0; commit < 2; commit++) {
		struct overlap o = { .db = db, .result = commit ? STORE_OK : STORE_ECONFLICT,
		                     .seen = -1, .wrote = STORE_EINTERNAL };
		pthread_t th;
		store_err e;
		bool started;

		pthread_mutex_init(&o.mu, NULL);
		pthread_cond_init(&o.cv, NULL);
		started = pthread_create(&th, NULL, overlap_other, &o) == 0;
		e = store_db_txn(db, overlap_fn, &o);
		if (started)
			pthread_join(th, NULL);
		CHECK(started && e == o.result, "%s: the held transaction %s (%s)", be,
		      commit ? "commits" : "rolls back", store_strerror(e));
		CHECK(o.seen == 0, "%s: another thread does not see a transaction's "
		      "uncommitted insert (saw %lld)", be, o.seen);
		CHECK(o.wrote == STORE_OK && count(db, "t_b", NULL) == 1,
		      "%s: another thread's write during a transaction that %s stays "
		      "(%s)", be, commit ? "commits" : "rolls back", store_strerror(o.wrote));
		CHECK(count(db, "t_a", NULL) == (size_t)commit, "%s: the transaction's own "
		      "insert %s", be, commit ? "stays" : "is rolled back");
		pthread_cond_destroy(&o.cv);
		pthread_mutex_destroy(&o.mu);
		wipe(db, "t_a");
		wipe(db, "t_b");
	}
}

/* NPROCS processes, each with its own store_db on url. */
static void
test_processes(const char *url)
{
	store_db *db = open_db(url);
	json_t *c = db != NULL ? insert(db, "t_counters",
	                                json_pack("{s:i}", "n", 0)) : NULL;
	char id[STORE_OID_LEN + 1] = "";
	pid_t pids[NPROCS];
	int failed = 0, status;

	if (c != NULL)
		snprintf(id, sizeof id, "%s",
		         json_string_value(json_object_get(c, "id")));
	json_decref(c);
	store_db_free(db);   /* children must not inherit a connection */
	fflush(stdout);
	for (int i = 0; i < NPROCS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			store_db *mine = open_db(url);
			int bad = mine == NULL;

			for (int k = 0; mine != NULL && k < NPROC_INC; k++)
				bad += increment(mine, id) != STORE_OK;
			store_db_free(mine);
			_exit(bad ? 1 : 0);
		}
	}
	for (int i = 0; i < NPROCS; i++)
		if (pids[i] < 0 || waitpid(pids[i], &status, 0) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	db = open_db(url);
	CHECK(failed == 0 && db != NULL &&
	      counter_value(db, id) == NPROCS * NPROC_INC,
	      "%s: %d processes x %d increments lose no update (%lld, %d failed)",
	      be, NPROCS, NPROC_INC, db != NULL ? counter_value(db, id) : -1,
	      failed);
	if (db != NULL)
		wipe(db, "t_counters");
	store_db_free(db);
}

/* ---- the WAL (sqlite) ------------------------------------------------------ */

/* db_sqlite.c's SQ_CKPT_PAGES and SQ_CKPT_INLINE: a checkpoint once the WAL
 * holds 1000 pages, run by the committing thread after it gives the writer
 * mutex back; past 4000 (writers went on meanwhile), one under the mutex. */
#define WAL_CKPT     1000
#define WAL_INLINE   4000
#define WAL_FRAME    (4096 + 24)     /* a page and its frame header */
#define WAL_TXNS     1500            /* per thread */
#define WAL_BODY     6000            /* bytes: ~6 frames a transaction */
#define WAL_WRITERS  4               /* at most, at once */

struct wal_writer {
	store_db *db;
	const char *wal;           /* the WAL file's path */
	const char *body;
	int failed;
	long long max;             /* the WAL's largest size seen, in frames */
};

static store_err
wal_fn(store_db *db, void *ctx)
{
	struct wal_writer *w = ctx;
	json_t *d = json_pack("{s:s}", "body", w->body);
	store_err e = d != NULL ? store_db_insert(db, "t_b", d, NULL) : STORE_ENOMEM;

	json_decref(d);
	return e;
}

static void *
wal_thread(void *p)
{
	struct wal_writer *w = p;
	struct stat st;

	for (int i = 0; i < WAL_TXNS; i++) {
		w->failed += store_db_txn(w->db, wal_fn, w) != STORE_OK;
		if (stat(w->wal, &st) == 0 && st.st_size / WAL_FRAME > w->max)
			w->max = st.st_size / WAL_FRAME;
	}
	return NULL;
}

/* nthreads writers, WAL_TXNS transactions each: none fails, every row is
 * there, and the WAL file never grew past bound frames. */
static void
wal_run(const char *url, const char *wal, int nthreads, long long bound)
{
	store_db *db = open_db(url);
	struct wal_writer w[WAL_WRITERS];
	pthread_t th[WAL_WRITERS];
	char *body = malloc(WAL_BODY + 1);
	long long max = 0;
	int failed = 0, started = 0;

	if (db == NULL || body == NULL || nthreads > WAL_WRITERS) {
		CHECK(0, "sqlite: WAL: open the database");
		goto out;
	}
	memset(body, 'w', WAL_BODY);
	body[WAL_BODY] = '\0';
	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct wal_writer){ .db = db, .wal = wal, .body = body };
		if (pthread_create(&th[i], NULL, wal_thread, &w[i]) != 0)
			break;
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		failed += w[i].failed;
		if (w[i].max > max)
			max = w[i].max;
	}
	CHECK(started == nthreads && failed == 0 &&
	      count(db, "t_b", NULL) == (size_t)(nthreads * WAL_TXNS),
	      "sqlite: WAL: %d writer%s x %d transactions of %d bytes all commit "
	      "(%d failed)", nthreads, nthreads > 1 ? "s" : "", WAL_TXNS, WAL_BODY,
	      failed);
	CHECK(max > WAL_CKPT && max <= bound,
	      "sqlite: WAL: with %d writer%s the WAL reaches %d frames and stays "
	      "within %lld (largest %lld)", nthreads, nthreads > 1 ? "s" : "",
	      WAL_CKPT, bound, max);
	wipe(db, "t_b");
out:
	free(body);
	store_db_free(db);
}

/* The WAL stays bounded. With one writer, the checkpoint after the commit
 * that takes the WAL past 1000 pages copies every frame, so the next write
 * restarts the WAL: without it the WAL reaches 4000. With four, the others
 * keep writing during that checkpoint, and the one under the writer mutex
 * past 4000 pages bounds the WAL: without it the WAL holds every frame
 * written here (~35000). The bound allows for frames written while a
 * checkpoint outside the mutex holds the checkpoint lock (a slow fsync). */
static void
test_wal(const char *url, const char *dir)
{
	char wal[160];

	snprintf(wal, sizeof wal, "%s/test.db-wal", dir);
	wal_run(url, wal, 1, 2 * WAL_CKPT);
	wal_run(url, wal, WAL_WRITERS, 3 * WAL_INLINE);
}

/* ---- a write lock held by another process (sqlite) ----------------------- */

#define BUSY_HOLD_MS 300   /* well inside db_sqlite.c's SQ_BUSY_MS (5000) */

/* Another process holds the database's write lock (BEGIN IMMEDIATE on a
 * connection of its own) for BUSY_HOLD_MS: a transaction here waits for
 * it, in SQLite's busy handler, instead of failing with "database is
 * locked", and commits after the other process has let go. The child
 * writes 'L' down the pipe once it holds the lock and 'R' once it let go;
 * 'R' already there when the transaction returns is the order. */
static void
test_busy(const char *url, const char *path)
{
	store_db *db = open_db(url);
	struct wal_writer w = { .db = db, .body = "busy" };
	int fds[2] = { -1, -1 }, status = 0;
	char c = 0;
	pid_t pid = -1;
	store_err e = STORE_EINTERNAL;
	bool released = false;

	if (db == NULL || pipe(fds) != 0) {
		CHECK(0, "sqlite: busy: open the database and a pipe");
		goto out;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		sqlite3 *h = NULL;
		int ok = sqlite3_open(path, &h) == SQLITE_OK &&
		         sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;

		if (write(fds[1], ok ? "L" : "X", 1) != 1)
			ok = 0;
		usleep(BUSY_HOLD_MS * 1000);
		ok = ok && sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
		if (write(fds[1], "R", 1) != 1)
			ok = 0;
		sqlite3_close(h);
		_exit(ok ? 0 : 1);
	}
	if (pid < 0 || read(fds[0], &c, 1) != 1 || c != 'L') {
		CHECK(0, "sqlite: busy: another process takes the write lock");
		goto out;
	}
	e = store_db_txn(db, wal_fn, &w);
	/* The pipe holds 'R' already when the transaction waited: looked at
	 * without waiting for it. */
	released = fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0 &&
	           read(fds[0], &c, 1) == 1 && c == 'R';
	CHECK(e == STORE_OK && released && count(db, "t_b", NULL) == 1,
	      "sqlite: busy: a transaction waits out another process's write lock, "
	      "then commits (%s, %s)", store_strerror(e),
	      released ? "after it let go" : "before it let go");
	wipe(db, "t_b");
out:
	if (pid > 0)
		CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0,
		      "sqlite: busy: the other process held the lock and let go");
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	store_db_free(db);
}

/* ---- the text index's format (sqlite) -------------------------------------- */

/* The text index and triggers of t_docs as versions before the contentless
 * index made them: FTS5 kept its own copy of the words. */
static const char old_text_index[] =
	"DROP TRIGGER \"t_docs:fts:i\"; DROP TRIGGER \"t_docs:fts:u\"; "
	"DROP TRIGGER \"t_docs:fts:d\"; DROP TABLE \"t_docs:fts\"; "
	"CREATE VIRTUAL TABLE \"t_docs:fts\" USING fts5(c0, c1, "
	"tokenize = 'porter unicode61 remove_diacritics 2'); "
	"CREATE TRIGGER \"t_docs:fts:i\" AFTER INSERT ON \"t_docs\" BEGIN "
	"INSERT INTO \"t_docs:fts\" (rowid, c0, c1) VALUES (new.rowid, "
	"json_extract(new.doc,'$.title'), json_extract(new.doc,'$.body')); END; "
	"CREATE TRIGGER \"t_docs:fts:u\" AFTER UPDATE ON \"t_docs\" WHEN "
	"json_extract(old.doc,'$.title') IS NOT json_extract(new.doc,'$.title') OR "
	"json_extract(old.doc,'$.body') IS NOT json_extract(new.doc,'$.body') BEGIN "
	"DELETE FROM \"t_docs:fts\" WHERE rowid = old.rowid; "
	"INSERT INTO \"t_docs:fts\" (rowid, c0, c1) VALUES (new.rowid, "
	"json_extract(new.doc,'$.title'), json_extract(new.doc,'$.body')); END; "
	"CREATE TRIGGER \"t_docs:fts:d\" AFTER DELETE ON \"t_docs\" BEGIN "
	"DELETE FROM \"t_docs:fts\" WHERE rowid = old.rowid; END; "
	"INSERT INTO \"t_docs:fts\" (rowid, c0, c1) SELECT rowid, "
	"json_extract(doc,'$.title'), json_extract(doc,'$.body') FROM \"t_docs\";";

/* Runs sql on the file at path, outside the library; with out, the first
 * column of the first row as a number (or -1). SQLITE_OK or an error. */
static int
raw_sql(const char *path, const char *sql, long long *out)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open(path, &h);

	if (rc == SQLITE_OK && out == NULL)
		rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK && out != NULL) {
		*out = -1;
		rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
		if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
			*out = sqlite3_column_int64(st, 0);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK)
		fprintf(stderr, "# sqlite: %s\n", sqlite3_errmsg(h));
	sqlite3_close(h);
	return rc;
}

/* Removes the SQLite database at path and its WAL and shared-memory files. */
static void
remove_db_files(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char name[200];

	for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
		snprintf(name, sizeof name, "%s%s", path, suffix[i]);
		unlink(name);
	}
}

/* The titles a search of t_docs for text answers, joined by ','. */
static const char *
titles_of(store_db *db, const char *text)
{
	static char buf[256];
	json_t *out = NULL;

	snprintf(buf, sizeof buf, "(error)");
	if (db != NULL &&
	    store_db_search(db, "t_docs", text, NULL, NULL, &out, NULL) == STORE_OK)
		snprintf(buf, sizeof buf, "%s", column(out, "title"));
	json_decref(out);
	return buf;
}

/* A database whose text index an older version made (with a copy of the
 * words) gets the contentless one on open, filled from its documents, and
 * searches, updates and deletes go on right; a current index is left as
 * it is on the next open. */
static void
test_text_format(const char *dir)
{
	static const char content_sql[] =
		"SELECT instr(sql, 'content = ''''') > 0 FROM sqlite_schema "
		"WHERE name = 't_docs:fts'";
	static const char cookie_sql[] = "PRAGMA schema_version";
	char path[160], url[170];
	store_db *db;
	json_t *oak = NULL, *lamp = NULL;
	long long contentless = -1, cookie = -1, cookie_again = -2, stale = -1;
	store_err e = STORE_EINTERNAL;

	snprintf(path, sizeof path, "%s/format.db", dir);
	snprintf(url, sizeof url, "sqlite:%s", path);
	db = open_db(url);
	if (db != NULL) {
		oak = insert(db, "t_docs", json_pack("{s:s,s:s}", "title", "Oak table",
		                                     "body", "Solid oak"));
		lamp = insert(db, "t_docs", json_pack("{s:s,s:s}", "title", "Desk lamp",
		                                      "body", "Bright"));
	}
	store_db_free(db);
	CHECK(oak != NULL && lamp != NULL &&
	      raw_sql(path, old_text_index, NULL) == SQLITE_OK &&
	      raw_sql(path, content_sql, &contentless) == SQLITE_OK && contentless == 0,
	      "sqlite: text format: a database with the older text index (%lld)",
	      contentless);

	db = open_db(url);
	CHECK(db != NULL && raw_sql(path, content_sql, &contentless) == SQLITE_OK &&
	      contentless == 1 && strcmp(titles_of(db, "oak"), "Oak table") == 0 &&
	      strcmp(titles_of(db, "bright"), "Desk lamp") == 0,
	      "sqlite: text format: open makes it contentless, filled from the "
	      "documents (%lld)", contentless);
	if (db != NULL && oak != NULL && lamp != NULL) {
		json_object_set_new(oak, "body", json_string("Holds a lamp"));
		e = store_db_update(db, "t_docs", oak, NULL);
		if (e == STORE_OK)
			e = store_db_delete(db, "t_docs", json_string_value(
			    json_object_get(lamp, "id")), json_integer_value(
			    json_object_get(lamp, "version")));
	}
	/* The index itself, not only a search (which joins the table and so
	 * would hide a deleted row's words left in it). */
	CHECK(e == STORE_OK && strcmp(titles_of(db, "solid"), "") == 0 &&
	      strcmp(titles_of(db, "lamp"), "Oak table") == 0 &&
	      strcmp(titles_of(db, "bright"), "") == 0 &&
	      raw_sql(path, "SELECT count(*) FROM \"t_docs:fts\" WHERE \"t_docs:fts\" "
	              "MATCH 'bright OR solid'", &stale) == SQLITE_OK && stale == 0 &&
	      raw_sql(path, "INSERT INTO \"t_docs:fts\" (\"t_docs:fts\") "
	              "VALUES ('integrity-check')", NULL) == SQLITE_OK,
	      "sqlite: text format: an update and a delete take their old words "
	      "out of the index (%lld left), and FTS5's integrity check passes (%s)",
	      stale, store_strerror(e));
	store_db_free(db);

	/* Any change of the schema raises its cookie. */
	raw_sql(path, cookie_sql, &cookie);
	db = open_db(url);
	raw_sql(path, cookie_sql, &cookie_again);
	CHECK(db != NULL && cookie > 0 && cookie == cookie_again &&
	      strcmp(titles_of(db, "lamp"), "Oak table") == 0,
	      "sqlite: text format: a current index is kept on the next open "
	      "(schema version %lld, then %lld)", cookie, cookie_again);
	store_db_free(db);
	json_decref(oak);
	json_decref(lamp);
	remove_db_files(path);
}

/* ---- change counters and the memo ---------------------------------------- */

static store_err
insert_in_txn(store_db *db, void *ctx)
{
	json_t *d = json_pack("{s:s}", "k", (const char *)ctx);
	store_err e = store_db_insert(db, "t_a", d, NULL);
	unsigned long long n;

	/* inside a transaction the counters would count this uncommitted write */
	if (e == STORE_OK && store_db_changes(db, (const char *const[]){ "t_a" }, 1, &n))
		e = STORE_EINTERNAL;
	json_decref(d);
	return e == STORE_OK ? STORE_EINVAL : e;   /* rolled back */
}

/* store_db_changes: raised by every write to its collections, from any
 * connection (a second store_db is a second connection, as another process
 * has), by nothing else. */
static void
test_changes(store_db *db, const char *url)
{
	const char *const a[] = { "t_a" }, *const ab[] = { "t_a", "t_b" };
	const char *const unknown[] = { "t_a", "t_nope" };
	unsigned long long n0 = 0, n1 = 0, n2 = 0, n3 = 0, nab0 = 0, nab1 = 0;
	store_db *other = open_db(url);
	json_t *d = NULL;
	bool kept;

	kept = store_db_changes(db, a, 1, &n0);
	if (strcmp(be, "sqlite") != 0) {
		CHECK(!kept, "%s: no change counters: store_db_changes says so", be);
		store_db_free(other);
		return;
	}
	CHECK(kept && store_db_changes(db, ab, 2, &nab0),
	      "%s: change counters read", be);
	d = insert(db, "t_a", json_pack("{s:s}", "k", "one"));
	CHECK(d != NULL && store_db_changes(db, a, 1, &n1) && n1 > n0,
	      "%s: an insert raises its collection's counter (%llu -> %llu)", be, n0, n1);
	json_object_set_new(d, "k", json_string("two"));
	CHECK(other != NULL && store_db_update(other, "t_a", d, NULL) == STORE_OK &&
	      store_db_changes(db, a, 1, &n2) && n2 > n1,
	      "%s: another connection's update raises it (%llu -> %llu)", be, n1, n2);
	CHECK(store_db_delete(db, "t_a", json_string_value(json_object_get(d, "id")),
	                      json_integer_value(json_object_get(d, "version"))) == STORE_OK &&
	      store_db_changes(other, a, 1, &n3) && n3 > n2,
	      "%s: a delete raises it, as another connection reads it (%llu -> %llu)",
	      be, n2, n3);
	json_decref(d);
	d = insert(db, "t_b", json_pack("{s:s}", "k", "b"));
	CHECK(d != NULL && store_db_changes(db, a, 1, &n0) && n0 == n3,
	      "%s: a write to another collection leaves it (%llu)", be, n0);
	CHECK(store_db_changes(db, ab, 2, &nab1) && nab1 == nab0 + 4,
	      "%s: two collections' counters are summed (%llu -> %llu)", be, nab0, nab1);
	json_decref(d);
	CHECK(store_db_txn(db, insert_in_txn, "rolled") == STORE_EINVAL &&
	      store_db_changes(db, a, 1, &n1) && n1 == n3,
	      "%s: no counter inside a transaction; a rolled back write leaves "
	      "it (%llu)", be, n1);
	CHECK(!store_db_changes(db, unknown, 2, &n1) && !store_db_changes(db, a, 0, &n1) &&
	      !store_db_changes(db, a, STORE_DB_CHANGES_COLLS + 1, &n1),
	      "%s: unknown collections, none, too many: no counter", be);
	wipe(db, "t_a");
	wipe(db, "t_b");
	store_db_free(other);
}

/* store_db_set: members set in place, the rest as stored, versions guarded,
 * unique fields and indexes kept, bad arguments refused. */
static void
test_set(store_db *db)
{
	json_t *d = NULL, *u = NULL, *got = NULL, *f = NULL, *many = NULL;
	const char *id, *field = NULL;
	char longkey[DB_KEY_TEST + 1];
	store_err e;

	d = insert(db, "t_items", json_pack("{s:s,s:i,s:s,s:{s:[i,i]},s:s}", "kind", "old",
	                                     "rank", 5, "name", "caf\u00e9 \"x\"\n",
	                                     "deep", "a", 1, 2, "keep", "kept"));
	id = d != NULL ? json_string_value(json_object_get(d, "id")) : "";
	f = json_pack("{s:s,s:b,s:{s:i}}", "kind", "new", "flag", 1, "obj", "n", 3);
	e = store_db_set(db, "t_items", id, 0, f, NULL);
	CHECK(e == STORE_OK, "%s: set: members set (%s)", be, store_strerror(e));
	store_db_get(db, "t_items", id, &got);
	CHECK(got != NULL && json_integer_value(json_object_get(got, "version")) == 1 &&
	      strcmp(json_string_value(json_object_get(got, "kind")), "new") == 0 &&
	      json_is_true(json_object_get(got, "flag")) &&
	      json_integer_value(json_object_get(json_object_get(got, "obj"), "n")) == 3 &&
	      json_integer_value(json_object_get(got, "rank")) == 5 &&
	      strcmp(json_string_value(json_object_get(got, "name")), "caf\u00e9 \"x\"\n") == 0 &&
	      json_array_size(json_object_get(json_object_get(got, "deep"), "a")) == 2 &&
	      strcmp(json_string_value(json_object_get(got, "keep")), "kept") == 0,
	      "%s: set: the new values read back, the others as they were, version 1", be);
	json_decref(got);
	got = NULL;
	CHECK(count(db, "t_items", json_pack("{s:s}", "kind", "new")) == 1 &&
	      count(db, "t_items", json_pack("{s:s}", "kind", "old")) == 0,
	      "%s: set: an indexed member set is found by its new value only", be);
	CHECK(store_db_set(db, "t_items", id, 0, f, NULL) == STORE_ECONFLICT,
	      "%s: set: a stale version is a conflict", be);
	CHECK(store_db_set(db, "t_items", "0123456789abcdef01234567", 0, f, NULL) ==
	      STORE_ENOTFOUND && store_db_set(db, "t_items", "nope", 0, f, NULL) ==
	      STORE_ENOTFOUND, "%s: set: an unknown or malformed id is not found", be);
	json_decref(f);

	/* A unique field: the duplicate is refused and named. */
	u = insert(db, "t_users", json_pack("{s:s}", "email", "a@x.co"));
	json_decref(insert(db, "t_users", json_pack("{s:s}", "email", "b@x.co")));
	f = json_pack("{s:s}", "email", "b@x.co");
	e = store_db_set(db, "t_users", u != NULL ? json_string_value(json_object_get(u, "id")) : "",
	                 0, f, &field);
	CHECK(e == STORE_EDUPLICATE && field != NULL && strcmp(field, "email") == 0,
	      "%s: set: a taken unique value is a duplicate on its field (%s)", be,
	      store_strerror(e));
	json_decref(f);

	/* Bad arguments. */
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	many = json_object();
	for (int i = 0; i <= STORE_DB_SET_FIELDS; i++) {
		char k[16];

		snprintf(k, sizeof k, "f%d", i);
		json_object_set_new(many, k, json_integer(i));
	}
	f = json_pack("{s:i}", "id", 1);
	CHECK(store_db_set(db, "t_items", id, 1, f, NULL) == STORE_EINVAL, "%s: set: not 'id'", be);
	json_decref(f);
	f = json_pack("{s:i}", "version", 9);
	CHECK(store_db_set(db, "t_items", id, 1, f, NULL) == STORE_EINVAL, "%s: set: not 'version'", be);
	json_decref(f);
	f = json_pack("{s:i}", "a.b", 1);
	CHECK(store_db_set(db, "t_items", id, 1, f, NULL) == STORE_EINVAL &&
	      store_db_set(db, "t_items", id, 1, json_object_get(many, "f0"), NULL) == STORE_EINVAL,
	      "%s: set: a dotted name, a value for fields: refused", be);
	json_decref(f);
	f = json_pack("{s:i}", "x'); DROP TABLE t_items; --", 1);
	CHECK(store_db_set(db, "t_items", id, 1, f, NULL) == STORE_EINVAL,
	      "%s: set: a name outside [A-Za-z0-9_] is refused", be);
	json_decref(f);
	f = json_pack("{s:{s:i}}", "ok", "$bad", 1);
	CHECK(store_db_set(db, "t_items", id, 1, f, NULL) == STORE_EINVAL,
	      "%s: set: values are checked as documents are ('$' keys)", be);
	json_decref(f);
	f = json_object();
	CHECK(store_db_set(db, "t_items", id, 1, f, NULL) == STORE_EINVAL &&
	      store_db_set(db, "t_items", id, 1, many, NULL) == STORE_EINVAL &&
	      store_db_set(db, "t_nope", id, 1, json_object_get(many, "f0"), NULL) == STORE_EINVAL,
	      "%s: set: none, over %d fields, an unknown collection: refused", be,
	      STORE_DB_SET_FIELDS);
	json_decref(f);
	f = json_object();
	json_object_set_new(f, longkey, json_true());
	CHECK(store_db_set(db, "t_items", id, 1, f, NULL) == STORE_EINVAL,
	      "%s: set: a name over the field length limit is refused", be);
	json_decref(f);
	/* Size: a value alone over the limit, and one that would take a
	 * stored document over it. */
	{
		size_t big = 9u << 20;
		char *s9 = malloc(big + 1);
		json_t *b = NULL;

		if (s9 != NULL) {
			memset(s9, 'x', big);
			s9[big] = '\0';
			b = insert(db, "t_items", json_pack("{s:s}", "blob", s9));
			f = json_pack("{s:s}", "more", s9);
			CHECK(b != NULL && store_db_set(db, "t_items",
			      json_string_value(json_object_get(b, "id")), 0, f, NULL) == STORE_ETOOBIG,
			      "%s: set: a document that would pass the size limit: too big", be);
			json_decref(f);
			s9[big - 1] = '\0';
			f = json_pack("{s:s,s:s}", "m1", s9, "m2", s9);
			CHECK(store_db_set(db, "t_items", id, 1, f, NULL) == STORE_ETOOBIG,
			      "%s: set: values over the size limit together: too big", be);
			json_decref(f);
			json_decref(b);
			free(s9);
		}
	}
	store_db_get(db, "t_items", id, &got);
	CHECK(got != NULL && json_integer_value(json_object_get(got, "version")) == 1,
	      "%s: set: nothing refused changed the document", be);
	json_decref(got);
	json_decref(many);
	json_decref(d);
	json_decref(u);
	wipe(db, "t_items");
	wipe(db, "t_users");
}

/* store_db_memo_get/put: found only under its key and changes value. */
static void
test_memo(store_db *db)
{
	char key[STORE_DB_MEMO_KEY + 2], *text = NULL, *big;
	size_t len = 0, aux = 0;
	bool all = true, kept;

	CHECK(!store_db_memo_get(db, "k", 1, &text, &len, &aux) && text == NULL,
	      "%s: memo: nothing remembered at first", be);
	store_db_memo_put(db, "k", 7, "[1,2]", 5, 42);
	CHECK(store_db_memo_get(db, "k", 7, &text, &len, &aux) && len == 5 &&
	      strcmp(text, "[1,2]") == 0 && aux == 42,
	      "%s: memo: a copy under the same key and changes", be);
	free(text);
	CHECK(!store_db_memo_get(db, "k", 8, &text, &len, &aux) &&
	      !store_db_memo_get(db, "k2", 7, &text, &len, &aux),
	      "%s: memo: another changes value or key finds nothing", be);
	store_db_memo_put(db, "k", 8, "[3]", 3, 1);
	CHECK(!store_db_memo_get(db, "k", 7, &text, &len, &aux) &&
	      store_db_memo_get(db, "k", 8, &text, &len, &aux) && strcmp(text, "[3]") == 0,
	      "%s: memo: a put replaces what its key held", be);
	free(text);
	/* k was used last; 31 more keys fill the slots, one more evicts the
	 * least recently used: the first of the 31, not k */
	for (int i = 0; i < STORE_DB_MEMO_SLOTS; i++) {
		snprintf(key, sizeof key, "fill %d", i);
		store_db_memo_put(db, key, 1, "x", 1, 0);
		if (i == 0) {
			all = store_db_memo_get(db, "k", 8, &text, &len, &aux);
			free(text);
		}
	}
	for (int i = 1; i < STORE_DB_MEMO_SLOTS; i++) {
		snprintf(key, sizeof key, "fill %d", i);
		all = all && store_db_memo_get(db, key, 1, &text, &len, &aux);
		free(text);
	}
	kept = all && store_db_memo_get(db, "k", 8, &text, &len, &aux);
	free(text);
	CHECK(kept && !store_db_memo_get(db, "fill 0", 1, &text, &len, &aux),
	      "%s: memo: %d slots, the least recently used goes first", be,
	      STORE_DB_MEMO_SLOTS);
	memset(key, 'a', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	store_db_memo_put(db, key, 1, "x", 1, 0);
	CHECK(!store_db_memo_get(db, key, 1, &text, &len, &aux),
	      "%s: memo: a key over %d bytes is not remembered", be, STORE_DB_MEMO_KEY);
	big = calloc(1, STORE_DB_MEMO_TEXT + 2);
	if (big != NULL) {
		memset(big, 'b', STORE_DB_MEMO_TEXT + 1);
		store_db_memo_put(db, "big", 1, big, STORE_DB_MEMO_TEXT + 1, 0);
		CHECK(!store_db_memo_get(db, "big", 1, &text, &len, &aux),
		      "%s: memo: a text over %u bytes is not remembered", be,
		      STORE_DB_MEMO_TEXT);
		store_db_memo_put(db, "big", 1, big, STORE_DB_MEMO_TEXT, 0);
		CHECK(store_db_memo_get(db, "big", 1, &text, &len, &aux) &&
		      len == STORE_DB_MEMO_TEXT && text[len] == '\0' && text[len - 1] == 'b',
		      "%s: memo: a text of %u bytes is", be, STORE_DB_MEMO_TEXT);
		free(text);
		free(big);
	}
}

/* ---- the suite ---------------------------------------------------------- */

/* The titles store_db_search answers for text (opts may be NULL), joined
 * by ','; "(error)" on failure. *total gets the number of all matches. */
static const char *
search_col(store_db *db, const char *text, json_t *filter,
           const store_find_opts *opts, size_t *total)
{
	json_t *out = NULL;
	const char *s = "(error)";
	size_t n = 0;

	if (store_db_search(db, "t_docs", text, filter, opts, &out, &n) ==
	    STORE_OK)
		s = column(out, "title");
	json_decref(out);
	json_decref(filter);
	if (total != NULL)
		*total = n;
	return s;
}

static store_err
search_txn_fail(store_db *db, void *ctx)
{
	json_t *doc = json_pack("{s:s,s:s}", "title", "Ghost lamp", "body", "x");
	store_err e = store_db_insert(db, "t_docs", doc, NULL);

	(void)ctx;
	json_decref(doc);
	return e == STORE_OK ? STORE_ECONFLICT : e;   /* roll back */
}

static void
test_search(store_db *db, const char *url)
{
	static const struct { const char *title, *body, *kind; int price; } rows[] = {
		{ "Chair", "Goes with a desk LAMP", "b", 10 },
		{ "Desk lamp", "Warm light", "a", 30 },
		{ "Table", "Oak", "a", 20 },
		{ "Caf\xc3\xa9 cr\xc3\xa8me", "A cup", "c", 5 },
	};
	static const char *const hostile[] = {
		"lamp\" OR \"oak", "NEAR(lamp oak)", "lamp*", "-lamp", "title:lamp",
		"\"", "AND", "(lamp", "lamp) OR (oak", "^lamp", "lamp + oak",
		"{title}: lamp", "lamp' --", "$where lamp",
	};
	static const char *const late_text[] = { "title", NULL };
	static const store_collection late[] = {
		{ "t_late", NULL, NULL, late_text },
	};
	store_find_opts by_price = { "price", 0, 0, 0 }, page = { NULL, 0, 1, 1 };
	store_find_opts cheap_first = { "price", 0, 1, 0 };
	json_t *doc = NULL, *out = NULL;
	store_db *db2 = NULL;
	char err[256];
	size_t total = 0;
	store_err e;

	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		json_decref(insert(db, "t_docs", json_pack("{s:s,s:s,s:s,s:i}",
		            "title", rows[i].title, "body", rows[i].body,
		            "kind", rows[i].kind, "price", rows[i].price)));
	CHECK(strcmp(search_col(db, "lamp desk", NULL, NULL, &total),
	             "Desk lamp,Chair") == 0 && total == 2,
	      "%s: search finds every word in any field, a title match first", be);
	CHECK(strcmp(search_col(db, "desk lamp", NULL, NULL, NULL),
	             "Desk lamp,Chair") == 0,
	      "%s: search: words in any order", be);
	CHECK(strcmp(search_col(db, "LaMp", NULL, NULL, NULL),
	             "Desk lamp,Chair") == 0, "%s: search is case-insensitive", be);
	CHECK(strcmp(search_col(db, "lamps", NULL, NULL, NULL),
	             "Desk lamp,Chair") == 0, "%s: search: 'lamps' finds 'lamp'", be);
	CHECK(strcmp(search_col(db, "cafe", NULL, NULL, NULL),
	             "Caf\xc3\xa9 cr\xc3\xa8me") == 0,
	      "%s: search: 'cafe' finds 'caf\xc3\xa9'", be);
	CHECK(strcmp(search_col(db, "lamp oak", NULL, NULL, &total), "") == 0 &&
	      total == 0, "%s: search needs every word", be);
	CHECK(strcmp(search_col(db, "lamp", json_pack("{s:s}", "kind", "a"),
	                        NULL, NULL), "Desk lamp") == 0,
	      "%s: search with a filter", be);
	CHECK(strcmp(search_col(db, "lamp", NULL, &by_price, NULL),
	             "Chair,Desk lamp") == 0, "%s: search sorted by a field", be);
	by_price.desc = 1;
	CHECK(strcmp(search_col(db, "lamp", NULL, &by_price, NULL),
	             "Desk lamp,Chair") == 0, "%s: search sorted descending", be);
	CHECK(strcmp(search_col(db, "lamp", NULL, &page, &total), "Chair") == 0 &&
	      total == 2, "%s: search: limit and skip, total of all matches", be);
	CHECK(strcmp(search_col(db, "lamp", NULL, &cheap_first, &total), "Chair") == 0 &&
	      total == 2, "%s: search: limit with a sort", be);
	CHECK(strcmp(search_col(db, "", NULL, NULL, &total), "") == 0 &&
	      strcmp(search_col(db, " !!! ", NULL, NULL, &total), "") == 0 &&
	      total == 0, "%s: search without words finds nothing", be);
	for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
		const char *got = search_col(db, hostile[i], NULL, NULL, NULL);

		CHECK(strcmp(got, "(error)") != 0,
		      "%s: search syntax in text is no error: '%s' -> '%s'", be,
		      hostile[i], got);
	}
	CHECK(strcmp(search_col(db, "lamp OR oak", NULL, NULL, NULL), "") == 0 &&
	      strcmp(search_col(db, "lamp\" OR \"oak", NULL, NULL, NULL), "") == 0 &&
	      strcmp(search_col(db, "NEAR(lamp oak)", NULL, NULL, NULL), "") == 0 &&
	      strcmp(search_col(db, "-lamp", NULL, NULL, NULL), "Desk lamp,Chair") == 0,
	      "%s: search: OR, NEAR, quotes and '-' are plain text, not operators", be);

	out = json_pack("{s:s}", "title", "Table");
	e = store_db_find_one(db, "t_docs", out, &doc);
	json_decref(out);
	if (e == STORE_OK) {
		json_object_set_new(doc, "body", json_string("Holds a lamp"));
		e = store_db_update(db, "t_docs", doc, NULL);
	}
	CHECK(e == STORE_OK && strcmp(search_col(db, "lamp", NULL, &by_price,
	      NULL), "Desk lamp,Table,Chair") == 0 &&
	      strcmp(search_col(db, "oak", NULL, NULL, NULL), "") == 0,
	      "%s: search follows an update", be);
	if (e == STORE_OK) {
		json_object_set_new(doc, "price", json_integer(1));
		e = store_db_update(db, "t_docs", doc, NULL);
	}
	CHECK(e == STORE_OK && strcmp(search_col(db, "lamp", NULL, &by_price,
	      NULL), "Desk lamp,Chair,Table") == 0,
	      "%s: search after an update of other fields (%s)", be,
	      store_strerror(e));
	e = doc != NULL ? store_db_delete(db, "t_docs", json_string_value(
	    json_object_get(doc, "id")), json_integer_value(json_object_get(doc,
	    "version"))) : STORE_EINVAL;
	CHECK(e == STORE_OK && strcmp(search_col(db, "lamp holds", NULL, NULL,
	      NULL), "") == 0, "%s: search follows a delete", be);
	json_decref(doc);
	e = store_db_txn(db, search_txn_fail, NULL);
	CHECK(e == STORE_ECONFLICT && strcmp(search_col(db, "ghost", NULL, NULL,
	      NULL), "") == 0, "%s: search: a rolled-back insert is not found", be);

	e = store_db_search(db, "t_items", "lamp", NULL, NULL, &out, NULL);
	CHECK(e == STORE_EINVAL && out == NULL,
	      "%s: search of a collection without text fields is EINVAL", be);

	json_decref(insert(db, "t_late", json_pack("{s:s}", "title", "Old lamp")));
	e = store_db_open(url, late, 1, &db2, err, sizeof err);
	out = NULL;
	if (e == STORE_OK)
		e = store_db_search(db2, "t_late", "lamp", NULL, NULL, &out, &total);
	CHECK(e == STORE_OK && json_array_size(out) == 1 && total == 1,
	      "%s: a text index declared later holds the documents already there "
	      "(%s)", be, store_strerror(e));
	json_decref(out);
	store_db_free(db2);
	wipe(db, "t_docs");
	wipe(db, "t_late");
}

/* store_db_find_text: the documents of store_db_find, each as the compact
 * JSON text of its members but id and version, as jansson writes it. */
static void
test_find_text(store_db *db)
{
	store_find_opts desc = { .sort = "rank", .desc = 1 }, page = { .limit = 2, .skip = 1 };
	store_db_texts *t = NULL;
	json_t *all = NULL, *f, *d;
	size_t i;
	int same = 1;

	json_decref(insert(db, "t_items", json_pack("{s:s, s:i, s:s, s:I, s:f, s:{s:[i,s]}}",
	                   "kind", "t", "rank", 1, "name", "quote \" slash \\ tab \t nl \n "
	                   "bell \x07 del \x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 /",
	                   "big", (json_int_t)9007199254740993LL, "real", 0.1,
	                   "nested", "a", 1, "b")));
	json_decref(insert(db, "t_items", json_pack("{s:s, s:i, s:I}", "kind", "t", "rank",
	                   3, "big", (json_int_t)-9223372036854775807LL - 1)));
	json_decref(insert(db, "t_items", json_pack("{s:s, s:i}", "kind", "t", "rank", 2)));
	json_decref(insert(db, "t_items", json_pack("{s:s, s:i}", "kind", "u", "rank", 4)));

	f = json_pack("{s:s}", "kind", "t");
	CHECK(store_db_find(db, "t_items", f, &desc, &all) == STORE_OK &&
	      store_db_find_text(db, "t_items", f, &desc, &t) == STORE_OK &&
	      t->n == 3 && json_array_size(all) == 3,
	      "%s: find_text finds what find finds", be);
	for (i = 0; t != NULL && i < t->n && i < json_array_size(all); i++) {
		json_t *body;
		char *want;

		d = json_array_get(all, i);
		body = json_deep_copy(d);
		json_object_del(body, "id");
		json_object_del(body, "version");
		want = json_dumps(body, JSON_COMPACT);
		if (strcmp(t->docs[i].id, json_string_value(json_object_get(d, "id"))) != 0 ||
		    t->docs[i].version != json_integer_value(json_object_get(d, "version")) ||
		    want == NULL || strlen(want) != t->docs[i].len ||
		    strcmp(want, t->docs[i].body) != 0) {
			same = 0;
			printf("# %s: text %s, want %s\n", be, t->docs[i].body,
			       want != NULL ? want : "(null)");
		}
		free(want);
		json_decref(body);
	}
	CHECK(t != NULL && same, "%s: find_text gives each id, version and the rest as "
	      "jansson's compact text, in the find's order (escapes, UTF-8, big "
	      "integers, nested values)", be);
	store_db_texts_free(t);
	t = NULL;
	CHECK(store_db_find_text(db, "t_items", f, &page, &t) == STORE_OK && t->n == 2 &&
	      strstr(t->docs[0].body, "\"rank\":3") && strstr(t->docs[1].body, "\"rank\":2"),
	      "%s: find_text with limit and skip (id order)", be);
	store_db_texts_free(t);
	t = NULL;
	json_decref(f);
	json_decref(all);

	f = json_pack("{s:s}", "kind", "none");
	CHECK(store_db_find_text(db, "t_items", f, NULL, &t) == STORE_OK && t->n == 0,
	      "%s: find_text of nothing is an empty list", be);
	store_db_texts_free(t);
	t = NULL;
	json_decref(f);
	f = json_pack("{s:{s:i}}", "kind", "$gt", 1);
	CHECK(store_db_find_text(db, "t_items", f, NULL, &t) == STORE_EINVAL && t == NULL,
	      "%s: find_text refuses an object as a filter value", be);
	json_decref(f);
	CHECK(store_db_find_text(db, "t_nope", NULL, NULL, &t) == STORE_EINVAL && t == NULL,
	      "%s: find_text in an undeclared collection is EINVAL", be);
	CHECK(store_db_find_text(db, "t_items", NULL, NULL, NULL) == STORE_EINVAL,
	      "%s: find_text without out is EINVAL", be);

	/* a string equal to an object's or array's JSON text is not that value */
	json_decref(insert(db, "t_items", json_pack("{s:s, s:{s:i}}", "kind", "o",
	                   "code", "a", 1)));
	json_decref(insert(db, "t_items", json_pack("{s:s, s:[i]}", "kind", "o",
	                   "code", 1)));
	CHECK(count(db, "t_items", json_pack("{s:s}", "code", "{\"a\":1}")) == 0 &&
	      count(db, "t_items", json_pack("{s:s}", "code", "[1]")) == 0 &&
	      strcmp(find_col(db, "t_items", json_pack("{s:s}", "kind", "o"), NULL,
	             "kind"), "o,o") == 0,
	      "%s: a string filter does not match an object or array field", be);
	wipe(db, "t_items");
}

static void
suite(const char *url, const char *name)
{
	store_db *db;

	be = name;
	db = open_db(url);
	CHECK(db != NULL, "%s: open", be);
	if (db == NULL)
		return;
	CHECK(strcmp(store_db_backend(db), name) == 0, "%s: backend name", be);
	CHECK(store_db_ping(db) == STORE_OK, "%s: ping", be);
	for (size_t i = 0; i < NSCHEMA; i++)
		wipe(db, schema[i].name);
	test_insert_get(db);
	test_get_member(db);
	test_find(db);
	test_find_text(db);
	test_unique(db);
	test_versions(db);
	test_invalid(db);
	test_txn(db);
	test_commit_hook(db);
	test_threads(db);
	test_overlap(db);
	test_search(db, url);
	test_changes(db, url);
	test_set(db);
	test_memo(db);
	store_db_free(db);
	test_processes(url);

	db = open_db(url);   /* a second open finds the schema in place */
	CHECK(db != NULL, "%s: reopen an existing database", be);
	store_db_free(db);
}

static void
test_open_errors(void)
{
	static const char *const bad_field[] = { "e-mail", NULL };
	const store_collection bad[] = { { "Bad-Name", NULL, NULL } };
	const store_collection twice[] = { { "ok", NULL, NULL },
	                                   { "ok", NULL, NULL } };
	const store_collection badfield[] = { { "ok", bad_field, NULL } };
	char err[256];
	store_db *db = NULL;
	store_err e;

	e = store_db_open("postgres://user:s3cret@host/db", schema, NSCHEMA, &db,
	                  err, sizeof err);
	CHECK(e == STORE_ECONFIG && db == NULL && strstr(err, "'postgres'") &&
	      !strstr(err, "s3cret"),
	      "open: an unknown scheme is ECONFIG naming only it (%s)", err);
	e = store_db_open("nonsense", schema, NSCHEMA, &db, err, sizeof err);
	CHECK(e == STORE_ECONFIG && err[0] != '\0',
	      "open: a url without a scheme is ECONFIG (%s)", err);
	e = store_db_open("sqlite:", schema, NSCHEMA, &db, err, sizeof err);
	CHECK(e == STORE_ECONFIG, "open: 'sqlite:' without a path is ECONFIG (%s)",
	      err);
	e = store_db_open("sqlite:/nonexistent-dir/x/y.db", schema, NSCHEMA, &db,
	                  err, sizeof err);
	CHECK(e == STORE_EUNAVAIL && strstr(err, "/nonexistent-dir/x/y.db"),
	      "open: an unopenable sqlite file is EUNAVAIL (%s)", err);
	e = store_db_open("sqlite:/tmp/never-created.db", bad, 1, &db, err,
	                  sizeof err);
	CHECK(e == STORE_EINVAL && strstr(err, "'Bad-Name'"),
	      "open: a bad collection name is EINVAL (%s)", err);
	e = store_db_open("sqlite:/tmp/never-created.db", twice, 2, &db, err,
	                  sizeof err);
	CHECK(e == STORE_EINVAL, "open: a collection declared twice is EINVAL "
	      "(%s)", err);
	e = store_db_open("sqlite:/tmp/never-created.db", badfield, 1, &db, err,
	                  sizeof err);
	CHECK(e == STORE_EINVAL && strstr(err, "'e-mail'"),
	      "open: a bad unique field name is EINVAL (%s)", err);
	/* Before any mongodb url: a loaded module is kept for the process. */
	setenv("STORE_MODULE_DIR", "/nonexistent-dir", 1);
	e = store_db_open("mongodb://127.0.0.1:1/shop", schema, NSCHEMA, &db,
	                  err, sizeof err);
	CHECK(e == STORE_ECONFIG && db == NULL &&
	      strstr(err, "/nonexistent-dir/db_mongo.so") &&
	      strstr(err, "STORE_MODULE_DIR"),
	      "open: a mongodb url without its module is ECONFIG naming the "
	      "module (%s)", err);
	unsetenv("STORE_MODULE_DIR");
	e = store_db_open("mongodb://user:s3cret@", schema, NSCHEMA, &db, err,
	                  sizeof err);
	CHECK(e == STORE_ECONFIG && !strstr(err, "s3cret"),
	      "open: a malformed mongodb url is ECONFIG without its password (%s)",
	      err);
	e = store_db_open("mongodb://user:s3cret@127.0.0.1:1/shop?"
	                  "serverSelectionTimeoutMS=200&connectTimeoutMS=200",
	                  schema, NSCHEMA, &db, err, sizeof err);
	CHECK(e == STORE_EUNAVAIL && db == NULL && !strstr(err, "s3cret") &&
	      strstr(err, "'shop'"),
	      "open: an unreachable mongodb is EUNAVAIL without its password (%s)",
	      err);
}

int
main(void)
{
	char dir[] = "/tmp/store-test-db-XXXXXX", url[128], path[128];
	const char *mongo = getenv("STORE_TEST_MONGODB_URI");
	int rc;

	test_open_errors();
	if (mkdtemp(dir) == NULL) {
		CHECK(0, "sqlite: make a temporary folder");
	} else {
		snprintf(url, sizeof url, "sqlite:%s/test.db", dir);
		suite(url, "sqlite");
		test_wal(url, dir);
		snprintf(path, sizeof path, "%s/test.db", dir);
		test_busy(url, path);
		test_text_format(dir);
		remove_db_files(path);
		rc = rmdir(dir);
		CHECK(rc == 0, "sqlite: temporary folder removed");
	}
	if (mongo != NULL && *mongo != '\0')
		suite(mongo, "mongodb");
	else
		SKIP("mongodb backend skipped: STORE_TEST_MONGODB_URI is not set");
	return CHECK_DONE();
}
