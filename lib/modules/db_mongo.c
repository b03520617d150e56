/* modules/db_mongo.c - the MongoDB backend, built as a module (db_mongo.so,
 * loaded by db_module.c for a mongodb:// url) so that only a store on
 * MongoDB maps libmongoc:  a mongoc client pool shared by all
 * threads, one MongoDB collection per store collection in the URI's
 * database ("store" when the URI names none). A document is stored with
 * its id as an ObjectId "_id" and its "version"; the other members are
 * converted from jansson by code (never parsed as extended JSON), so no
 * value can become an operator. A transaction pins one pooled client and
 * one session to its thread until commit or rollback. */
#include "db_impl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mongoc/mongoc.h>


#define MG_COMMIT_TRIES 3
#define MG_DEFAULT_DB   "store"

struct mg_db {
	mongoc_client_pool_t *pool;
	char *dbname;
};

/* One thread's transaction. */
struct mg_conn {
	mongoc_client_t *client;
	mongoc_client_session_t *cs;
};

/* A client for one operation: the thread's transaction's, or one popped
 * from the pool. */
struct mg_use {
	mongoc_client_t *client;
	mongoc_client_session_t *cs;
	bool pooled;
};

static pthread_once_t mg_once = PTHREAD_ONCE_INIT;

/* db.c's helpers, handed to store_db_module; the module links against no
 * libstore symbol. */
static const struct db_host *host;

/* mongoc logs to stdout/stderr by default: keep its warnings, at debug
 * level, in the JSON log. */
static void
mg_log(mongoc_log_level_t lvl, const char *domain, const char *msg, void *ud)
{
	(void)ud;
	if (lvl <= MONGOC_LOG_LEVEL_WARNING)
		host->log(STORE_LOG_DEBUG, NULL, NULL, "mongoc %s: %s", domain,
		          msg);
}

static void
mg_init(void)
{
	mongoc_init();
	mongoc_log_set_handler(mg_log, NULL);
}

/* ---- errors ------------------------------------------------------------- */

static bool
mg_is_duplicate(const bson_error_t *err)
{
	return err->code == 11000 || err->code == 11001 || err->code == 12582;
}

static store_err
mg_map(const bson_error_t *err)
{
	switch (err->domain) {
	case MONGOC_ERROR_SERVER_SELECTION:
	case MONGOC_ERROR_STREAM:
	case MONGOC_ERROR_PROTOCOL:
		return STORE_EUNAVAIL;
	case MONGOC_ERROR_CLIENT:
		return err->code == MONGOC_ERROR_CLIENT_AUTHENTICATE ?
		       STORE_EUNAVAIL : STORE_EIO;
	case MONGOC_ERROR_BSON:
		return STORE_EINVAL;
	default:
		break;
	}
	if (mg_is_duplicate(err))
		return STORE_EDUPLICATE;
	switch (err->code) {
	case 6: case 7: case 50: case 89: case 91: case 189: case 9001:
	case 10107: case 11600: case 11602: case 13435: case 13436:
		return STORE_EUNAVAIL;  /* unreachable, stepping down, timeout */
	case 10334: case 17419:
		return STORE_ETOOBIG;
	default:
		return STORE_EIO;
	}
}

/* Marks the transaction for a re-run when the server says it is
 * transient. */
static void
mg_labels(store_db *db, const bson_t *reply)
{
	if (reply != NULL &&
	    mongoc_error_has_label(reply, "TransientTransactionError"))
		host->mark_transient(db);
}

/* Maps a failed driver call to an error, records its message and marks the
 * transaction for a re-run when the server says it is transient. */
static store_err
mg_fail(store_db *db, const bson_error_t *err, const bson_t *reply,
        const char *coll)
{
	mg_labels(db, reply);
	return host->fail(db, mg_map(err), "mongodb error '%s' on '%s'",
	                  err->message, coll);
}

/* After a duplicate key error: which field. Our indexes are named
 * "u_<field>"; the server names the index in its message ("... index:
 * u_email dup key: ..."); "_id_" is the id's. */
static store_err
mg_duplicate(store_db *db, const struct db_coll *c, const bson_error_t *err,
             const char **field)
{
	const char *p = strstr(err->message, "index: "), *name = NULL;
	size_t len;

	if (p != NULL) {
		p += 7;
		len = strcspn(p, " ");
		if (len == 4 && strncmp(p, "_id_", 4) == 0)
			name = "id";
		else if (len > 2 && strncmp(p, "u_", 2) == 0)
			name = host->unique_field(c, p + 2, len - 2);
	}
	if (name == NULL)
		name = c->nunique > 0 ? c->unique[0] : "id";
	if (field != NULL)
		*field = name;
	return host->fail(db, STORE_EDUPLICATE, "'%s' of '%s' is taken", name,
	                  c->name);
}

/* ---- json <-> bson ------------------------------------------------------- */

static bool mg_members(bson_t *b, const json_t *obj, int depth, bool top);

static bool
mg_value(bson_t *b, const char *key, size_t klen, const json_t *v, int depth)
{
	bson_t child;
	char buf[16];
	const char *k;
	size_t n;

	if (depth > DB_DEPTH_MAX + 1 || klen > INT32_MAX)
		return false;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return bson_append_document_begin(b, key, (int)klen, &child) &&
		       mg_members(&child, v, depth + 1, false) &&
		       bson_append_document_end(b, &child);
	case JSON_ARRAY:
		if (!bson_append_array_begin(b, key, (int)klen, &child))
			return false;
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > UINT32_MAX)
				return false;
			n = bson_uint32_to_string((uint32_t)i, &k, buf, sizeof buf);
			if (!mg_value(&child, k, n, json_array_get(v, i), depth + 1))
				return false;
		}
		return bson_append_array_end(b, &child);
	case JSON_STRING:
		if (json_string_length(v) > DB_DOC_MAX)
			return false;
		return bson_append_utf8(b, key, (int)klen, json_string_value(v),
		                        (int)json_string_length(v));
	case JSON_INTEGER:
		return bson_append_int64(b, key, (int)klen, json_integer_value(v));
	case JSON_REAL:
		return bson_append_double(b, key, (int)klen, json_real_value(v));
	case JSON_TRUE:
	case JSON_FALSE:
		return bson_append_bool(b, key, (int)klen, json_is_true(v));
	case JSON_NULL:
		return bson_append_null(b, key, (int)klen);
	}
	return false;
}

/* Appends obj's members; at the top level without "id" and "version". */
static bool
mg_members(bson_t *b, const json_t *obj, int depth, bool top)
{
	const char *key;
	size_t len;
	json_t *v;

	json_object_keylen_foreach((json_t *)obj, key, len, v) {
		if (top && (strcmp(key, "id") == 0 || strcmp(key, "version") == 0))
			continue;
		if (!mg_value(b, key, len, v, depth))
			return false;
	}
	return true;
}

static json_t *mg_json_doc(bson_iter_t *it, bool array, int depth);

/* The JSON for the value at it; NULL when out of memory or malformed. */
static json_t *
mg_json_value(bson_iter_t *it, int depth)
{
	bson_iter_t child;
	char buf[BSON_DECIMAL128_STRING];
	bson_decimal128_t dec;
	const char *s;
	uint32_t len;
	json_t *v;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_UTF8:
		s = bson_iter_utf8(it, &len);
		return json_stringn(s, len);
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
		return json_integer(bson_iter_as_int64(it));
	case BSON_TYPE_DOUBLE:
		v = json_real(bson_iter_double(it));  /* NULL for nan, inf */
		return v != NULL ? v : json_null();
	case BSON_TYPE_BOOL:
		return json_boolean(bson_iter_bool(it));
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY:
		if (depth > DB_DEPTH_MAX + 1 || !bson_iter_recurse(it, &child))
			return NULL;
		return mg_json_doc(&child, bson_iter_type(it) == BSON_TYPE_ARRAY,
		                   depth + 1);
	case BSON_TYPE_OID:
		bson_oid_to_string(bson_iter_oid(it), buf);
		return json_string(buf);
	case BSON_TYPE_DATE_TIME:
		return json_integer(bson_iter_date_time(it));
	case BSON_TYPE_DECIMAL128:
		if (!bson_iter_decimal128(it, &dec))
			return NULL;
		bson_decimal128_to_string(&dec, buf);
		return json_string(buf);
	default:
		return json_null();  /* types this store never writes */
	}
}

/* The object (or array) of the members at it. Caller frees. */
static json_t *
mg_json_doc(bson_iter_t *it, bool array, int depth)
{
	json_t *out = array ? json_array() : json_object(), *v;
	bool ok = out != NULL;

	while (ok && bson_iter_next(it)) {
		v = mg_json_value(it, depth);
		if (array)
			ok = json_array_append_new(out, v) == 0;
		else
			ok = json_object_setn_new(out, bson_iter_key(it),
			                          bson_iter_key_len(it), v) == 0;
	}
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* A stored document as the store sees it: "id" (from "_id") and "version"
 * first, then the other members. Caller frees *out. */
static store_err
mg_to_doc(store_db *db, const char *coll, const bson_t *b, json_t **out)
{
	bson_iter_t it;
	json_t *all = NULL, *doc = NULL, *id, *ver;
	store_err e = STORE_ENOMEM;

	if (!bson_iter_init(&it, b) || (all = mg_json_doc(&it, false, 0)) == NULL) {
		e = host->fail(db, STORE_ENOMEM, "cannot convert a document of '%s'",
		               coll);
		goto out;
	}
	id = json_object_get(all, "_id");
	ver = json_object_get(all, "version");
	if (!json_is_string(id) || !json_is_integer(ver)) {
		e = host->fail(db, STORE_EIO, "a document of '%s' lacks an object id "
		               "or version", coll);
		goto out;
	}
	doc = json_object();
	if (doc == NULL || json_object_set(doc, "id", id) != 0 ||
	    json_object_set(doc, "version", ver) != 0 ||
	    json_object_del(all, "_id") != 0 ||
	    json_object_update_missing(doc, all) != 0)
		goto out;
	*out = doc;
	doc = NULL;
	e = STORE_OK;
out:
	json_decref(all);
	json_decref(doc);
	return e;
}

/* The filter document for a checked equality map; "id" is "_id". */
static bool
mg_filter(bson_t *f, const json_t *filter)
{
	const char *key;
	bson_oid_t oid;
	json_t *v;

	json_object_foreach((json_t *)filter, key, v) {
		if (strcmp(key, "id") == 0) {
			const char *s = json_string_value(v);

			if (s != NULL && bson_oid_is_valid(s, strlen(s))) {
				bson_oid_init_from_string(&oid, s);
				if (!BSON_APPEND_OID(f, "_id", &oid))
					return false;
			} else if (!mg_value(f, "_id", 3, v, 1)) {
				return false;  /* matches nothing: ids are ObjectIds */
			}
		} else if (!mg_value(f, key, strlen(key), v, 1)) {
			return false;
		}
	}
	return true;
}

static bool
mg_id_filter(bson_t *f, const char *id, const long long *version)
{
	bson_oid_t oid;

	bson_oid_init_from_string(&oid, id);
	return BSON_APPEND_OID(f, "_id", &oid) &&
	       (version == NULL || BSON_APPEND_INT64(f, "version", *version));
}

/* ---- clients ------------------------------------------------------------ */

static store_err
mg_acquire(store_db *db, struct mg_use *u)
{
	struct mg_db *m = db->impl;
	struct db_thread *t = host->thread_get(db);
	struct mg_conn *k = t != NULL ? t->conn : NULL;

	if (t != NULL && t->depth > 0 && k != NULL && k->cs != NULL) {
		u->client = k->client;
		u->cs = k->cs;
		u->pooled = false;
		return STORE_OK;
	}
	u->client = mongoc_client_pool_pop(m->pool);
	u->cs = NULL;
	u->pooled = true;
	if (u->client == NULL)
		return host->fail(db, STORE_EUNAVAIL, "no mongodb client free in "
		                  "the pool");
	return STORE_OK;
}

static void
mg_release(store_db *db, struct mg_use *u)
{
	struct mg_db *m = db->impl;

	if (u->pooled && u->client != NULL)
		mongoc_client_pool_push(m->pool, u->client);
	u->client = NULL;
}

/* Adds the transaction's session, if any, to opts. */
static store_err
mg_opts(store_db *db, const struct mg_use *u, bson_t *opts, const char *coll)
{
	bson_error_t err;

	if (u->cs != NULL && !mongoc_client_session_append(u->cs, opts, &err))
		return mg_fail(db, &err, NULL, coll);
	return STORE_OK;
}

/* An int64 member of a write reply ("matchedCount", "deletedCount"). */
static int64_t
mg_reply_count(const bson_t *reply, const char *name)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, reply, name) && BSON_ITER_HOLDS_NUMBER(&it))
		return bson_iter_as_int64(&it);
	return 0;
}

/* ---- operations --------------------------------------------------------- */

/* Runs find on c and appends the converted documents to out. */
static store_err
mg_find_into(store_db *db, const struct db_coll *c, const bson_t *filter,
             bson_t *opts, json_t *out)
{
	struct mg_db *m = db->impl;
	struct mg_use u = { 0 };
	mongoc_collection_t *coll = NULL;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc, *reply = NULL;
	bson_error_t err;
	json_t *j = NULL;
	store_err e;

	e = mg_acquire(db, &u);
	if (e == STORE_OK)
		e = mg_opts(db, &u, opts, c->name);
	if (e != STORE_OK)
		goto out;
	coll = mongoc_client_get_collection(u.client, m->dbname, c->name);
	cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		e = mg_to_doc(db, c->name, doc, &j);
		if (e != STORE_OK)
			goto out;
		if (json_array_append_new(out, j) != 0) {
			e = STORE_ENOMEM;
			goto out;
		}
	}
	if (mongoc_cursor_error_document(cur, &err, &reply))
		e = mg_fail(db, &err, reply, c->name);
out:
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(coll);
	mg_release(db, &u);
	return e;
}

static store_err
mg_get(store_db *db, const struct db_coll *c, const char *id, json_t **out)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	json_t *all = json_array();
	store_err e = STORE_ENOMEM;

	if (all == NULL || !mg_id_filter(&filter, id, NULL) ||
	    !BSON_APPEND_INT64(&opts, "limit", 1))
		goto out;
	e = mg_find_into(db, c, &filter, &opts, all);
	if (e != STORE_OK)
		goto out;
	if (json_array_size(all) == 0) {
		e = STORE_ENOTFOUND;
		goto out;
	}
	*out = json_incref(json_array_get(all, 0));
out:
	json_decref(all);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return e;
}

static store_err
mg_find(store_db *db, const struct db_coll *c, const json_t *filter,
        const store_find_opts *o, json_t **out)
{
	bson_t f = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	int dir = o->desc ? -1 : 1;
	json_t *all = json_array();
	store_err e = STORE_ENOMEM;
	bool ok;

	ok = all != NULL && (filter == NULL || mg_filter(&f, filter)) &&
	     BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	if (ok && o->sort != NULL && strcmp(o->sort, "id") != 0)
		ok = bson_append_int32(&sort, o->sort, -1, dir);
	ok = ok && BSON_APPEND_INT32(&sort, "_id", dir) &&
	     bson_append_document_end(&opts, &sort);
	if (ok && o->limit > 0)
		ok = BSON_APPEND_INT64(&opts, "limit", o->limit > INT64_MAX ?
		                       INT64_MAX : (int64_t)o->limit);
	if (ok && o->skip > 0)
		ok = BSON_APPEND_INT64(&opts, "skip", o->skip > INT64_MAX ?
		                       INT64_MAX : (int64_t)o->skip);
	if (!ok)
		goto out;
	e = mg_find_into(db, c, &f, &opts, all);
	if (e != STORE_OK)
		goto out;
	*out = all;
	all = NULL;
out:
	json_decref(all);
	bson_destroy(&f);
	bson_destroy(&opts);
	return e;
}

/* Counts the documents of c matching the filter document f. */
static store_err
mg_count_bson(store_db *db, const struct db_coll *c, const bson_t *f,
              size_t *out)
{
	struct mg_db *m = db->impl;
	struct mg_use u = { 0 };
	bson_t opts = BSON_INITIALIZER, reply;
	mongoc_collection_t *coll = NULL;
	bson_error_t err;
	store_err e;
	int64_t n;

	bson_init(&reply);
	e = mg_acquire(db, &u);
	if (e == STORE_OK)
		e = mg_opts(db, &u, &opts, c->name);
	if (e != STORE_OK)
		goto out;
	coll = mongoc_client_get_collection(u.client, m->dbname, c->name);
	n = mongoc_collection_count_documents(coll, f, &opts, NULL, &reply,
	                                      &err);
	if (n < 0)
		e = mg_fail(db, &err, &reply, c->name);
	else
		*out = (size_t)n;
out:
	mongoc_collection_destroy(coll);
	mg_release(db, &u);
	bson_destroy(&reply);
	bson_destroy(&opts);
	return e;
}

static store_err
mg_count(store_db *db, const struct db_coll *c, const json_t *filter,
         size_t *out)
{
	bson_t f = BSON_INITIALIZER;
	store_err e = STORE_ENOMEM;

	if (filter == NULL || mg_filter(&f, filter))
		e = mg_count_bson(db, c, &f, out);
	bson_destroy(&f);
	return e;
}

/* The filter, and {$text: {$search: "\"w1\" \"w2\""}}: each word a phrase,
 * so that every word must match (several phrases are ANDed, MongoDB 4.4+)
 * and nothing in them is an operator (words hold no '"' or '-'). */
static bool
mg_search_filter(bson_t *f, const json_t *filter, const char *const *words,
                 size_t nwords)
{
	bson_t text;
	char *search = NULL;
	size_t len = 1;
	bool ok;

	for (size_t i = 0; i < nwords; i++)
		len += strlen(words[i]) + 3;
	search = calloc(1, len);
	if (search == NULL)
		return false;
	for (size_t i = 0; i < nwords; i++) {
		if (i > 0)
			strcat(search, " ");
		strcat(search, "\"");
		strcat(search, words[i]);
		strcat(search, "\"");
	}
	ok = (filter == NULL || mg_filter(f, filter)) &&
	     BSON_APPEND_DOCUMENT_BEGIN(f, "$text", &text) &&
	     BSON_APPEND_UTF8(&text, "$search", search) &&
	     bson_append_document_end(f, &text);
	free(search);
	return ok;
}

/* Best matches first by textScore (sorting on $meta with no projection:
 * MongoDB 4.4+), or by a field as mg_find does. */
static store_err
mg_search(store_db *db, const struct db_coll *c, const char *const *words,
          size_t nwords, const json_t *filter, const store_find_opts *o,
          json_t **out, size_t *total)
{
	bson_t f = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort, meta;
	int dir = o->desc ? -1 : 1;
	json_t *all = json_array();
	store_err e = STORE_ENOMEM;
	bool ok;

	ok = all != NULL && mg_search_filter(&f, filter, words, nwords) &&
	     BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	if (ok && o->sort == NULL) {
		ok = BSON_APPEND_DOCUMENT_BEGIN(&sort, "score", &meta) &&
		     BSON_APPEND_UTF8(&meta, "$meta", "textScore") &&
		     bson_append_document_end(&sort, &meta);
		dir = 1;
	} else if (ok && strcmp(o->sort, "id") != 0) {
		ok = bson_append_int32(&sort, o->sort, -1, dir);
	}
	ok = ok && BSON_APPEND_INT32(&sort, "_id", dir) &&
	     bson_append_document_end(&opts, &sort);
	if (ok && o->limit > 0)
		ok = BSON_APPEND_INT64(&opts, "limit", o->limit > INT64_MAX ?
		                       INT64_MAX : (int64_t)o->limit);
	if (ok && o->skip > 0)
		ok = BSON_APPEND_INT64(&opts, "skip", o->skip > INT64_MAX ?
		                       INT64_MAX : (int64_t)o->skip);
	if (!ok)
		goto out;
	e = mg_find_into(db, c, &f, &opts, all);
	if (e == STORE_OK && total != NULL)
		e = mg_count_bson(db, c, &f, total);
	if (e != STORE_OK)
		goto out;
	*out = all;
	all = NULL;
out:
	json_decref(all);
	bson_destroy(&f);
	bson_destroy(&opts);
	return e;
}

/* After a version-guarded write matched nothing: ENOTFOUND when id is
 * absent, else ECONFLICT. */
static store_err
mg_why_unchanged(store_db *db, const struct db_coll *c, const char *id)
{
	json_t *doc = NULL;
	store_err e = mg_get(db, c, id, &doc);

	json_decref(doc);
	return e == STORE_OK ? STORE_ECONFLICT : e;
}

/* Writes: kind 'i' insert doc, 'r' replace doc at version, 'd' delete id
 * at version. */
static store_err
mg_write(store_db *db, const struct db_coll *c, int kind, const char *id,
         const json_t *doc, long long version, const char **field)
{
	struct mg_db *m = db->impl;
	struct mg_use u = { 0 };
	bson_t filter = BSON_INITIALIZER, body = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER, reply;
	mongoc_collection_t *coll = NULL;
	bson_error_t err;
	store_err e = STORE_ENOMEM;
	bool ok, unchanged = false;

	bson_init(&reply);
	if (kind == 'i')
		ok = mg_id_filter(&body, id, NULL) &&
		     BSON_APPEND_INT64(&body, "version", 0);
	else
		ok = mg_id_filter(&filter, id, &version) &&
		     (kind == 'd' || BSON_APPEND_INT64(&body, "version", version + 1));
	if (ok && kind != 'd')
		ok = mg_members(&body, doc, 1, true);
	if (!ok || body.len > DB_DOC_MAX) {
		e = host->fail(db, ok ? STORE_ETOOBIG : STORE_EINVAL, "cannot store "
		               "a document of '%s' in bson (too big or too deep)",
		               c->name);
		goto out;
	}
	e = mg_acquire(db, &u);
	if (e == STORE_OK)
		e = mg_opts(db, &u, &opts, c->name);
	if (e != STORE_OK)
		goto out;
	coll = mongoc_client_get_collection(u.client, m->dbname, c->name);
	if (kind == 'i')
		ok = mongoc_collection_insert_one(coll, &body, &opts, &reply, &err);
	else if (kind == 'r')
		ok = mongoc_collection_replace_one(coll, &filter, &body, &opts,
		                                   &reply, &err);
	else
		ok = mongoc_collection_delete_one(coll, &filter, &opts, &reply,
		                                  &err);
	if (!ok && mg_is_duplicate(&err)) {
		mg_labels(db, &reply);
		e = mg_duplicate(db, c, &err, field);
	} else if (!ok) {
		e = mg_fail(db, &err, &reply, c->name);
	} else if (kind != 'i') {
		unchanged = mg_reply_count(&reply, kind == 'r' ? "matchedCount" :
		                           "deletedCount") == 0;
	}
out:
	mongoc_collection_destroy(coll);
	mg_release(db, &u);
	bson_destroy(&reply);
	bson_destroy(&filter);
	bson_destroy(&body);
	bson_destroy(&opts);
	/* after mg_release: a thread takes one pooled client at a time */
	return unchanged ? mg_why_unchanged(db, c, id) : e;
}

static store_err
mg_insert(store_db *db, const struct db_coll *c, json_t *doc,
          const char **field)
{
	return mg_write(db, c, 'i', json_string_value(json_object_get(doc, "id")),
	                doc, 0, field);
}

static store_err
mg_update(store_db *db, const struct db_coll *c, json_t *doc,
          long long version, const char **field)
{
	return mg_write(db, c, 'r', json_string_value(json_object_get(doc, "id")),
	                doc, version, field);
}

static store_err
mg_delete(store_db *db, const struct db_coll *c, const char *id,
          long long version)
{
	return mg_write(db, c, 'd', id, NULL, version, NULL);
}

/* Runs cmd on the database (or "admin"); used for ping and the schema. */
static store_err
mg_command(store_db *db, mongoc_client_t *client, const char *dbname,
           const bson_t *cmd, const char *what, int32_t ignore_code)
{
	bson_t reply;
	bson_error_t err;
	store_err e = STORE_OK;

	bson_init(&reply);
	if (!mongoc_client_write_command_with_opts(client, dbname, cmd, NULL,
	                                           &reply, &err) &&
	    (ignore_code == 0 || err.code != (uint32_t)ignore_code))
		e = mg_fail(db, &err, &reply, what);
	bson_destroy(&reply);
	return e;
}

static store_err
mg_ping(store_db *db)
{
	struct mg_db *m = db->impl;
	mongoc_client_t *client = mongoc_client_pool_pop(m->pool);
	bson_t cmd = BSON_INITIALIZER, reply;
	bson_error_t err;
	store_err e = STORE_OK;

	bson_init(&reply);
	if (client == NULL) {
		e = host->fail(db, STORE_EUNAVAIL, "no mongodb client free in the "
		               "pool");
		goto out;
	}
	BSON_APPEND_INT32(&cmd, "ping", 1);
	if (!mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply,
	                                  &err))
		e = mg_fail(db, &err, &reply, "ping");
out:
	if (client != NULL)
		mongoc_client_pool_push(m->pool, client);
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return e;
}

/* ---- transactions ------------------------------------------------------- */

static void
mg_end(store_db *db, struct mg_conn *k)
{
	struct mg_db *m = db->impl;

	if (k->cs != NULL)
		mongoc_client_session_destroy(k->cs);
	if (k->client != NULL)
		mongoc_client_pool_push(m->pool, k->client);
	k->cs = NULL;
	k->client = NULL;
}

static void
mg_conn_free(store_db *db, void *p)
{
	struct mg_conn *k = p;

	mg_end(db, k);
	free(k);
}

static store_err
mg_begin(store_db *db, struct db_thread *t)
{
	struct mg_db *m = db->impl;
	struct mg_conn *k = t->conn;
	mongoc_transaction_opt_t *topts = NULL;
	mongoc_write_concern_t *wc = NULL;
	bson_error_t err;
	store_err e = STORE_OK;

	if (k == NULL) {
		k = calloc(1, sizeof *k);
		if (k == NULL)
			return STORE_ENOMEM;
		t->conn = k;
	}
	k->client = mongoc_client_pool_pop(m->pool);
	if (k->client == NULL) {
		e = host->fail(db, STORE_EUNAVAIL, "no mongodb client free in the "
		               "pool");
		goto out;
	}
	k->cs = mongoc_client_start_session(k->client, NULL, &err);
	if (k->cs == NULL) {
		e = mg_fail(db, &err, NULL, "session");
		goto out;
	}
	topts = mongoc_transaction_opts_new();
	wc = mongoc_write_concern_new();
	mongoc_write_concern_set_wmajority(wc, 0);
	mongoc_transaction_opts_set_write_concern(topts, wc);
	if (!mongoc_client_session_start_transaction(k->cs, topts, &err))
		e = mg_fail(db, &err, NULL, "transaction");
out:
	if (e != STORE_OK)
		mg_end(db, k);
	mongoc_write_concern_destroy(wc);
	mongoc_transaction_opts_destroy(topts);
	return e;
}

static store_err
mg_commit(store_db *db, struct db_thread *t)
{
	struct mg_conn *k = t->conn;
	bson_error_t err;
	store_err e = STORE_OK;
	bson_t reply;
	bool unknown;

	if (k == NULL || k->cs == NULL)
		return STORE_EINTERNAL;
	for (int i = 0; i < MG_COMMIT_TRIES; i++) {
		bson_init(&reply);
		if (mongoc_client_session_commit_transaction(k->cs, &reply, &err)) {
			e = STORE_OK;
			bson_destroy(&reply);
			break;
		}
		e = mg_fail(db, &err, &reply, "commit");
		unknown = mongoc_error_has_label(&reply,
		                                 "UnknownTransactionCommitResult");
		bson_destroy(&reply);
		if (!unknown)
			break;
	}
	mg_end(db, k);
	return e;
}

static void
mg_rollback(store_db *db, struct db_thread *t)
{
	struct mg_conn *k = t->conn;
	bson_error_t err;

	if (k == NULL)
		return;
	if (k->cs != NULL && mongoc_client_session_in_transaction(k->cs))
		mongoc_client_session_abort_transaction(k->cs, &err);
	mg_end(db, k);
}

/* ---- open / close ------------------------------------------------------- */

/* Appends {key: {field: 1}, name: "<prefix>_<field>"[, unique...]}. */
static bool
mg_index(bson_t *list, uint32_t i, const char *field, bool unique)
{
	bson_t ix, key, pfe, cond;
	char buf[16], name[DB_FIELD_MAX + 3];
	const char *k;

	bson_uint32_to_string(i, &k, buf, sizeof buf);
	snprintf(name, sizeof name, "%s_%s", unique ? "u" : "i", field);
	if (!BSON_APPEND_DOCUMENT_BEGIN(list, k, &ix) ||
	    !BSON_APPEND_DOCUMENT_BEGIN(&ix, "key", &key) ||
	    !bson_append_int32(&key, field, -1, 1) ||
	    !bson_append_document_end(&ix, &key) ||
	    !BSON_APPEND_UTF8(&ix, "name", name))
		return false;
	/* Like SQLite's unique index: documents without the field may be
	 * many. */
	if (unique &&
	    (!BSON_APPEND_BOOL(&ix, "unique", true) ||
	     !BSON_APPEND_DOCUMENT_BEGIN(&ix, "partialFilterExpression", &pfe) ||
	     !bson_append_document_begin(&pfe, field, -1, &cond) ||
	     !BSON_APPEND_BOOL(&cond, "$exists", true) ||
	     !bson_append_document_end(&pfe, &cond) ||
	     !bson_append_document_end(&ix, &pfe)))
		return false;
	return bson_append_document_end(list, &ix);
}

/* Appends c's text index {key: {f: "text", ...}, name: "text", weights:
 * {first: 10, others: 1}}: store_db_search's. */
static bool
mg_text_index(bson_t *list, uint32_t i, const struct db_coll *c)
{
	bson_t ix, key, weights;
	char buf[16];
	const char *k;
	bool ok;

	bson_uint32_to_string(i, &k, buf, sizeof buf);
	ok = BSON_APPEND_DOCUMENT_BEGIN(list, k, &ix) &&
	     BSON_APPEND_DOCUMENT_BEGIN(&ix, "key", &key);
	for (size_t j = 0; ok && j < c->ntext; j++)
		ok = bson_append_utf8(&key, c->text[j], -1, "text", -1);
	ok = ok && bson_append_document_end(&ix, &key) &&
	     BSON_APPEND_UTF8(&ix, "name", "text") &&
	     BSON_APPEND_UTF8(&ix, "default_language", "english") &&
	     BSON_APPEND_DOCUMENT_BEGIN(&ix, "weights", &weights);
	for (size_t j = 0; ok && j < c->ntext; j++)
		ok = bson_append_int32(&weights, c->text[j], -1, j == 0 ? 10 : 1);
	return ok && bson_append_document_end(&ix, &weights) &&
	       bson_append_document_end(list, &ix);
}

/* Creates c (if missing) and its indexes (createIndexes is idempotent). */
static store_err
mg_create(store_db *db, mongoc_client_t *client, const struct db_coll *c)
{
	struct mg_db *m = db->impl;
	bson_t create = BSON_INITIALIZER, cmd = BSON_INITIALIZER, list;
	store_err e = STORE_ENOMEM;
	uint32_t n = 0;
	bool ok;

	if (!BSON_APPEND_UTF8(&create, "create", c->name))
		goto out;
	e = mg_command(db, client, m->dbname, &create, c->name, 48);
	if (e != STORE_OK || c->nunique + c->nindexed + c->ntext == 0)
		goto out;
	ok = BSON_APPEND_UTF8(&cmd, "createIndexes", c->name) &&
	     BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
	for (size_t i = 0; ok && i < c->nunique; i++)
		ok = mg_index(&list, n++, c->unique[i], true);
	for (size_t i = 0; ok && i < c->nindexed; i++) {
		bool dup = false;

		for (size_t j = 0; j < c->nunique; j++)
			dup = dup || strcmp(c->unique[j], c->indexed[i]) == 0;
		if (!dup)
			ok = mg_index(&list, n++, c->indexed[i], false);
	}
	if (ok && c->ntext > 0)
		ok = mg_text_index(&list, n++, c);
	ok = ok && bson_append_array_end(&cmd, &list);
	e = ok ? mg_command(db, client, m->dbname, &cmd, c->name, 0) :
	     STORE_ENOMEM;
out:
	bson_destroy(&create);
	bson_destroy(&cmd);
	return e;
}

/* Copies msg into err unless it holds the URL's password. */
static void
mg_open_error(char *err, size_t errlen, const mongoc_uri_t *uri,
              const char *what, const char *msg)
{
	const char *pw = uri != NULL ? mongoc_uri_get_password(uri) : NULL;

	if (pw != NULL && *pw != '\0' && strstr(msg, pw) != NULL)
		msg = "(message withheld: it quotes the url)";
	snprintf(err, errlen, "%s: %s", what, msg);
}

static store_err
mg_open(store_db *db, const char *url, char *err, size_t errlen)
{
	struct mg_db *m;
	mongoc_uri_t *uri = NULL;
	mongoc_client_t *client = NULL;
	const char *dbname;
	char what[DB_NAME_MAX + 64];
	bson_error_t berr;
	store_err e = STORE_OK;

	pthread_once(&mg_once, mg_init);
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return STORE_ENOMEM;
	db->impl = m;
	uri = mongoc_uri_new_with_error(url, &berr);
	if (uri == NULL) {
		snprintf(err, errlen, "malformed mongodb url (check its hosts, "
		         "credentials and options)");
		e = STORE_ECONFIG;
		goto out;
	}
	dbname = mongoc_uri_get_database(uri);
	m->dbname = strdup(dbname != NULL && *dbname != '\0' ? dbname :
	                   MG_DEFAULT_DB);
	if (m->dbname == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	m->pool = mongoc_client_pool_new_with_error(uri, &berr);
	if (m->pool == NULL) {
		mg_open_error(err, errlen, uri, "cannot use mongodb url",
		              berr.message);
		e = STORE_ECONFIG;
		goto out;
	}
	mongoc_client_pool_set_error_api(m->pool, MONGOC_ERROR_API_VERSION_2);
	mongoc_client_pool_set_appname(m->pool, "store");
	e = mg_ping(db);
	if (e == STORE_OK && (client = mongoc_client_pool_pop(m->pool)) == NULL)
		e = host->fail(db, STORE_EUNAVAIL, "no mongodb client free in the "
		               "pool");
	for (size_t i = 0; e == STORE_OK && i < db->ncolls; i++)
		e = mg_create(db, client, &db->colls[i]);
	if (e != STORE_OK) {
		snprintf(what, sizeof what, "cannot %s mongodb database '%s'",
		         e == STORE_EUNAVAIL ? "reach" : "set up", m->dbname);
		mg_open_error(err, errlen, uri, what, host->errmsg(db));
	}
out:
	if (client != NULL)
		mongoc_client_pool_push(m->pool, client);
	mongoc_uri_destroy(uri);
	return e;
}

static void
mg_close(store_db *db)
{
	struct mg_db *m = db->impl;

	if (m == NULL)
		return;
	if (m->pool != NULL)
		mongoc_client_pool_destroy(m->pool);
	free(m->dbname);
	free(m);
	db->impl = NULL;
}

static const struct db_ops mg_ops = {
	.name = "mongodb",
	.open = mg_open,
	.close = mg_close,
	.conn_free = mg_conn_free,
	.ping = mg_ping,
	.insert = mg_insert,
	.get = mg_get,
	.find = mg_find,
	.count = mg_count,
	.search = mg_search,
	.update = mg_update,
	.delete = mg_delete,
	.begin = mg_begin,
	.commit = mg_commit,
	.rollback = mg_rollback,
};

/* The module's entry point (DB_MODULE_ENTRY, db_impl.h): its one exported
 * symbol. */
__attribute__((visibility("default"))) const struct db_ops *
store_db_module(const struct db_host *h)
{
	host = h;
	return &mg_ops;
}
