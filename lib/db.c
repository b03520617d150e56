/* db.c - the document-store port: picks a backend by URL scheme, checks
 * every argument once for both backends, keeps per-thread state and runs
 * transactions (retries, nesting). */
#include "db_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/oid.h"

#define DB_COLLS_MAX    64   /* collections in one schema */
#define DB_SCHEMA_FIELDS 32  /* unique or indexed fields of one collection */
#define DB_TXN_ATTEMPTS 5

/* ---- names ------------------------------------------------------------ */

static bool
name_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
	return n > 0 && n <= DB_NAME_MAX && s[n] == '\0';
}

/* [A-Za-z0-9_] segments joined by single dots. */
static bool
field_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	              "0123456789_.");
	return n > 0 && n <= DB_FIELD_MAX && s[n] == '\0' && s[0] != '.' &&
	       s[n - 1] != '.' && strstr(s, "..") == NULL;
}

static const struct db_coll *
coll_find(store_db *db, const char *name)
{
	for (size_t i = 0; name != NULL && i < db->ncolls; i++)
		if (strcmp(db->colls[i].name, name) == 0)
			return &db->colls[i];
	db_fail(db, STORE_EINVAL, "unknown collection '%.*s'", DB_NAME_MAX,
	        name != NULL ? name : "");
	return NULL;
}

/* ---- argument checks ---------------------------------------------------- */

static bool
scalar(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v) ||
	       json_is_null(v);
}

static store_err
filter_check(store_db *db, const json_t *filter)
{
	const char *key;
	size_t len;
	json_t *v;

	if (filter == NULL)
		return STORE_OK;
	if (!json_is_object(filter))
		return db_fail(db, STORE_EINVAL, "filter is not an object");
	if (json_object_size(filter) > DB_FILTER_MAX)
		return db_fail(db, STORE_EINVAL, "filter has over %d fields",
		               DB_FILTER_MAX);
	json_object_keylen_foreach((json_t *)filter, key, len, v) {
		if (!field_ok(key) || strlen(key) != len)
			return db_fail(db, STORE_EINVAL, "bad filter field '%.*s'",
			               DB_FIELD_MAX, key);
		if (!scalar(v))
			return db_fail(db, STORE_EINVAL, "filter value of '%s' is "
			               "not a string, number, boolean or null", key);
	}
	return STORE_OK;
}

/* Keys of stored documents: not empty, no NUL, no '.', not starting with
 * '$' (both backends store the same documents). */
static store_err
doc_check(store_db *db, const json_t *v, int depth)
{
	const char *key;
	size_t len;
	json_t *m;

	if (depth > DB_DEPTH_MAX)
		return db_fail(db, STORE_EINVAL, "document nested over %d levels",
		               DB_DEPTH_MAX);
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if (doc_check(db, json_array_get(v, i), depth + 1) != STORE_OK)
				return STORE_EINVAL;
		return STORE_OK;
	}
	if (!json_is_object(v))
		return STORE_OK;
	json_object_keylen_foreach((json_t *)v, key, len, m) {
		if (len == 0 || strlen(key) != len || key[0] == '$' ||
		    memchr(key, '.', len) != NULL)
			return db_fail(db, STORE_EINVAL, "bad document key '%.*s'",
			               DB_FIELD_MAX, key);
		if (depth == 0 && strcmp(key, "_id") == 0)
			return db_fail(db, STORE_EINVAL, "document key '_id' is "
			               "reserved");
		if (doc_check(db, m, depth + 1) != STORE_OK)
			return STORE_EINVAL;
	}
	return STORE_OK;
}

/* ---- per-thread state --------------------------------------------------- */

static void
thread_unlink(store_db *db, struct db_thread *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		db->threads = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
}

/* pthread key destructor: the thread exits. */
static void
thread_destroy(void *p)
{
	struct db_thread *t = p;
	store_db *db = t->db;

	pthread_mutex_lock(&db->mu);
	thread_unlink(db, t);
	pthread_mutex_unlock(&db->mu);
	if (t->conn != NULL)
		db->ops->conn_free(db, t->conn);
	free(t);
}

struct db_thread *
db_thread_get(store_db *db)
{
	struct db_thread *t = pthread_getspecific(db->key);

	if (t != NULL)
		return t;
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->db = db;
	if (pthread_setspecific(db->key, t) != 0) {
		free(t);
		return NULL;
	}
	pthread_mutex_lock(&db->mu);
	t->next = db->threads;
	if (t->next != NULL)
		t->next->prev = t;
	db->threads = t;
	pthread_mutex_unlock(&db->mu);
	return t;
}

store_err
db_fail(store_db *db, store_err e, const char *fmt, ...)
{
	struct db_thread *t = db_thread_get(db);
	va_list ap;

	if (t == NULL)
		return e;
	va_start(ap, fmt);
	vsnprintf(t->errmsg, sizeof t->errmsg, fmt, ap);
	va_end(ap);
	return e;
}

void
db_mark_transient(store_db *db)
{
	struct db_thread *t = pthread_getspecific(db->key);

	if (t != NULL)
		t->transient = true;
}

json_t *
db_doc_body(const json_t *doc)
{
	json_t *body = json_copy((json_t *)doc);

	if (body == NULL)
		return NULL;
	json_object_del(body, "id");
	json_object_del(body, "version");
	return body;
}

const char *
db_unique_field(const struct db_coll *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->nunique; i++)
		if (strlen(c->unique[i]) == len &&
		    memcmp(c->unique[i], name, len) == 0)
			return c->unique[i];
	return NULL;
}

/* ---- open / free -------------------------------------------------------- */

static void
names_free(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* Copies a NULL-terminated list of field names into *out / *nout. */
static store_err
names_copy(const char *coll, const char *const *src, char ***out,
           size_t *nout, char *err, size_t errlen)
{
	size_t n = 0;
	char **v = NULL;
	store_err e = STORE_OK;

	while (src != NULL && src[n] != NULL)
		n++;
	*out = NULL;
	*nout = 0;
	if (n > DB_SCHEMA_FIELDS) {
		snprintf(err, errlen, "collection '%s' lists over %d fields", coll,
		         DB_SCHEMA_FIELDS);
		return STORE_EINVAL;
	}
	if (n == 0)
		return STORE_OK;
	v = calloc(n, sizeof *v);
	if (v == NULL)
		return STORE_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!field_ok(src[i]) || strcmp(src[i], "id") == 0 ||
		    strcmp(src[i], "version") == 0) {
			snprintf(err, errlen, "bad field name '%.*s' in collection "
			         "'%s'", DB_FIELD_MAX, src[i], coll);
			e = STORE_EINVAL;
			goto out;
		}
		v[i] = strdup(src[i]);
		if (v[i] == NULL) {
			e = STORE_ENOMEM;
			goto out;
		}
	}
	*out = v;
	*nout = n;
	v = NULL;
out:
	names_free(v, n);
	return e;
}

static void
schema_free(struct db_coll *colls, size_t n)
{
	for (size_t i = 0; colls != NULL && i < n; i++) {
		free(colls[i].name);
		names_free(colls[i].unique, colls[i].nunique);
		names_free(colls[i].indexed, colls[i].nindexed);
		names_free(colls[i].text, colls[i].ntext);
	}
	free(colls);
}

static store_err
schema_copy(store_db *db, const store_collection *colls, size_t n, char *err,
            size_t errlen)
{
	store_err e = STORE_OK;

	if (n > DB_COLLS_MAX || (n > 0 && colls == NULL)) {
		snprintf(err, errlen, "schema has over %d collections or none",
		         DB_COLLS_MAX);
		return STORE_EINVAL;
	}
	if (n == 0)
		return STORE_OK;
	db->colls = calloc(n, sizeof *db->colls);
	if (db->colls == NULL)
		return STORE_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct db_coll *c = &db->colls[i];

		if (!name_ok(colls[i].name)) {
			snprintf(err, errlen, "bad collection name '%.*s'", DB_NAME_MAX,
			         colls[i].name != NULL ? colls[i].name : "");
			return STORE_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(db->colls[j].name, colls[i].name) == 0) {
				snprintf(err, errlen, "collection '%s' declared twice",
				         colls[i].name);
				return STORE_EINVAL;
			}
		db->ncolls = i + 1;
		c->name = strdup(colls[i].name);
		if (c->name == NULL)
			return STORE_ENOMEM;
		e = names_copy(c->name, colls[i].unique, &c->unique, &c->nunique,
		               err, errlen);
		if (e == STORE_OK)
			e = names_copy(c->name, colls[i].indexed, &c->indexed,
			               &c->nindexed, err, errlen);
		if (e == STORE_OK)
			e = names_copy(c->name, colls[i].text, &c->text, &c->ntext,
			               err, errlen);
		if (e != STORE_OK)
			return e;
	}
	return STORE_OK;
}

/* The backend for url, or NULL with a message naming at most the scheme. */
static const struct db_ops *
backend_for(const char *url, char *err, size_t errlen)
{
	size_t n;

	if (strncmp(url, "sqlite:", 7) == 0)
		return &db_sqlite_ops;
	if (strncmp(url, "mongodb://", 10) == 0 ||
	    strncmp(url, "mongodb+srv://", 14) == 0)
		return db_module_load("mongo", err, errlen);
	n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                "0123456789+.-");
	if (n > 0 && n <= 32 && url[n] == ':')
		snprintf(err, errlen, "unsupported database url scheme '%.*s' "
		         "(expected 'sqlite:PATH' or 'mongodb://...')", (int)n, url);
	else
		snprintf(err, errlen, "malformed database url (expected "
		         "'sqlite:PATH' or 'mongodb://...')");
	return NULL;
}

store_err
store_db_open(const char *url, const store_collection *colls, size_t ncolls,
              store_db **out, char *err, size_t errlen)
{
	store_db *db = NULL;
	store_err e = STORE_OK;

	if (err == NULL)
		errlen = 0;
	if (errlen > 0)
		err[0] = '\0';
	if (url == NULL) {
		snprintf(err, errlen, "no database url");
		return STORE_ECONFIG;
	}
	if (out == NULL)
		return STORE_EINVAL;
	*out = NULL;
	db = calloc(1, sizeof *db);
	if (db == NULL)
		return STORE_ENOMEM;
	if (pthread_key_create(&db->key, thread_destroy) != 0) {
		free(db);
		snprintf(err, errlen, "cannot make a thread key");
		return STORE_ENOMEM;
	}
	pthread_mutex_init(&db->mu, NULL);
	db->ops = backend_for(url, err, errlen);
	if (db->ops == NULL) {
		e = STORE_ECONFIG;
		goto out;
	}
	e = schema_copy(db, colls, ncolls, err, errlen);
	if (e == STORE_OK && (db->memo = db_memo_new()) == NULL)
		e = STORE_ENOMEM;
	if (e == STORE_OK)
		e = db->ops->open(db, url, err, errlen);
	if (e == STORE_ENOMEM && errlen > 0 && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
out:
	if (e != STORE_OK) {
		store_db_free(db);
		return e;
	}
	*out = db;
	return STORE_OK;
}

void
store_db_free(store_db *db)
{
	struct db_thread *t, *next;

	if (db == NULL)
		return;
	pthread_key_delete(db->key);
	for (t = db->threads; t != NULL; t = next) {
		next = t->next;
		if (t->conn != NULL && db->ops != NULL)
			db->ops->conn_free(db, t->conn);
		free(t);
	}
	if (db->ops != NULL)
		db->ops->close(db);
	pthread_mutex_destroy(&db->mu);
	schema_free(db->colls, db->ncolls);
	db_memo_free(db->memo);
	free(db);
}

const char *
store_db_backend(const store_db *db)
{
	return db != NULL && db->ops != NULL ? db->ops->name : "";
}

const char *
store_db_errmsg(store_db *db)
{
	struct db_thread *t;

	if (db == NULL)
		return "";
	t = pthread_getspecific(db->key);
	return t != NULL ? t->errmsg : "";
}

store_err
store_db_ping(store_db *db)
{
	if (db == NULL)
		return STORE_EINVAL;
	return db->ops->ping(db);
}

/* ---- documents ---------------------------------------------------------- */

/* Sets doc's member name to the integer v, in place when it is one. */
static store_err
set_integer(json_t *doc, const char *name, long long v)
{
	json_t *old = json_object_get(doc, name);

	if (json_is_integer(old))
		return json_integer_set(old, v) == 0 ? STORE_OK : STORE_ENOMEM;
	return json_object_set_new(doc, name, json_integer(v)) == 0 ?
	       STORE_OK : STORE_ENOMEM;
}

store_err
store_db_insert(store_db *db, const char *coll, json_t *doc,
                const char **field)
{
	const struct db_coll *c;
	char id[STORE_OID_LEN + 1];
	store_err e;

	if (field != NULL)
		*field = NULL;
	if (db == NULL || !json_is_object(doc))
		return STORE_EINVAL;
	c = coll_find(db, coll);
	if (c == NULL)
		return STORE_EINVAL;
	e = doc_check(db, doc, 0);
	if (e != STORE_OK)
		return e;
	if (!store_oid_valid(json_string_value(json_object_get(doc, "id")))) {
		store_oid_new(id);
		if (json_object_set_new(doc, "id", json_string(id)) != 0)
			return STORE_ENOMEM;
	}
	e = set_integer(doc, "version", 0);
	if (e != STORE_OK)
		return e;
	return db->ops->insert(db, c, doc, field);
}

store_err
store_db_get(store_db *db, const char *coll, const char *id, json_t **out)
{
	const struct db_coll *c;

	if (out != NULL)
		*out = NULL;
	if (db == NULL || out == NULL)
		return STORE_EINVAL;
	c = coll_find(db, coll);
	if (c == NULL)
		return STORE_EINVAL;
	if (!store_oid_valid(id))
		return STORE_ENOTFOUND;
	return db->ops->get(db, c, id, out);
}

/* A member name store_db_set may set and store_db_get_member read:
 * [A-Za-z0-9_]+, not reserved. */
static bool
set_name_ok(const char *key, size_t len)
{
	return len > 0 && len <= DB_FIELD_MAX && strlen(key) == len &&
	       strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                   "0123456789_") == len &&
	       strcmp(key, "id") != 0 && strcmp(key, "version") != 0 &&
	       strcmp(key, "_id") != 0;
}

/* store_db_get_member for a backend without its own: the document read,
 * the member taken. */
static store_err
member_of_doc(store_db *db, const struct db_coll *c, const char *id,
              const char *name, json_t **out)
{
	json_t *doc = NULL, *v;
	store_err e = db->ops->get(db, c, id, &doc);

	if (e != STORE_OK)
		goto out;
	v = json_object_get(doc, name);
	*out = v != NULL ? json_incref(v) : json_null();
out:
	json_decref(doc);
	return e;
}

store_err
store_db_get_member(store_db *db, const char *coll, const char *id,
                    const char *name, json_t **out)
{
	const struct db_coll *c;

	if (out != NULL)
		*out = NULL;
	if (db == NULL || out == NULL || name == NULL)
		return STORE_EINVAL;
	if ((c = coll_find(db, coll)) == NULL)
		return STORE_EINVAL;
	if (!set_name_ok(name, strlen(name)))
		return db_fail(db, STORE_EINVAL, "get_member: bad member name '%.*s'",
		               DB_FIELD_MAX, name);
	if (!store_oid_valid(id))
		return STORE_ENOTFOUND;
	if (db->ops->get_member == NULL)
		return member_of_doc(db, c, id, name, out);
	return db->ops->get_member(db, c, id, name, out);
}

store_err
db_find_check(store_db *db, const char *coll, const json_t *filter,
              const store_find_opts *opts, const struct db_coll **c)
{
	store_err e;

	*c = coll_find(db, coll);
	if (*c == NULL)
		return STORE_EINVAL;
	e = filter_check(db, filter);
	if (e != STORE_OK)
		return e;
	if (opts != NULL && opts->sort != NULL && !field_ok(opts->sort))
		return db_fail(db, STORE_EINVAL, "bad sort field '%.*s'",
		               DB_FIELD_MAX, opts->sort);
	return STORE_OK;
}

store_err
store_db_find(store_db *db, const char *coll, const json_t *filter,
              const store_find_opts *opts, json_t **out)
{
	static const store_find_opts none;
	const struct db_coll *c;
	store_err e;

	if (out != NULL)
		*out = NULL;
	if (db == NULL || out == NULL)
		return STORE_EINVAL;
	e = db_find_check(db, coll, filter, opts, &c);
	if (e != STORE_OK)
		return e;
	return db->ops->find(db, c, filter, opts != NULL ? opts : &none, out);
}

store_err
store_db_find_one(store_db *db, const char *coll, const json_t *filter,
                  json_t **out)
{
	store_find_opts opts = { .limit = 1 };
	json_t *all = NULL;
	store_err e;

	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		return STORE_EINVAL;
	e = store_db_find(db, coll, filter, &opts, &all);
	if (e != STORE_OK)
		goto out;
	if (json_array_size(all) == 0) {
		e = STORE_ENOTFOUND;
		goto out;
	}
	*out = json_incref(json_array_get(all, 0));
out:
	json_decref(all);
	return e;
}

/* A byte of a search word: ASCII letters and digits, and every byte of a
 * multi-byte UTF-8 character (the backends' tokenizers split further). */
static bool
word_byte(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
}

store_err
store_db_search(store_db *db, const char *coll, const char *text,
                const json_t *filter, const store_find_opts *opts,
                json_t **out, size_t *total)
{
	static const store_find_opts none;
	const char *words[STORE_DB_SEARCH_WORDS];
	char *copy = NULL, *p;
	const struct db_coll *c;
	size_t nwords = 0;
	store_err e;

	if (out != NULL)
		*out = NULL;
	if (total != NULL)
		*total = 0;
	if (db == NULL || out == NULL || text == NULL)
		return STORE_EINVAL;
	c = coll_find(db, coll);
	if (c == NULL)
		return STORE_EINVAL;
	if (c->ntext == 0)
		return db_fail(db, STORE_EINVAL, "collection '%s' has no text "
		               "fields", c->name);
	e = filter_check(db, filter);
	if (e != STORE_OK)
		return e;
	if (opts == NULL)
		opts = &none;
	if (opts->sort != NULL && !field_ok(opts->sort))
		return db_fail(db, STORE_EINVAL, "bad sort field '%.*s'",
		               DB_FIELD_MAX, opts->sort);
	copy = strdup(text);
	if (copy == NULL)
		return STORE_ENOMEM;
	for (p = copy; *p != '\0' && nwords < STORE_DB_SEARCH_WORDS;) {
		while (*p != '\0' && !word_byte((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		words[nwords++] = p;
		while (word_byte((unsigned char)*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	if (nwords == 0) {
		*out = json_array();
		e = *out != NULL ? STORE_OK : STORE_ENOMEM;
		goto out;
	}
	e = db->ops->search(db, c, words, nwords, filter, opts, out, total);
out:
	free(copy);
	return e;
}

store_err
store_db_count(store_db *db, const char *coll, const json_t *filter,
               size_t *out)
{
	const struct db_coll *c;
	store_err e;

	if (out != NULL)
		*out = 0;
	if (db == NULL || out == NULL)
		return STORE_EINVAL;
	c = coll_find(db, coll);
	if (c == NULL)
		return STORE_EINVAL;
	e = filter_check(db, filter);
	if (e != STORE_OK)
		return e;
	return db->ops->count(db, c, filter, out);
}

bool
store_db_changes(store_db *db, const char *const *colls, size_t n,
                 unsigned long long *out)
{
	const struct db_coll *cs[STORE_DB_CHANGES_COLLS];
	struct db_thread *t;

	if (out != NULL)
		*out = 0;
	if (db == NULL || colls == NULL || out == NULL || n == 0 ||
	    n > STORE_DB_CHANGES_COLLS || db->ops->changes == NULL)
		return false;
	/* Inside a transaction the counters include its own uncommitted
	 * writes, which a rollback takes back. */
	if ((t = db_thread_get(db)) == NULL || t->depth > 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((cs[i] = coll_find(db, colls[i])) == NULL)
			return false;
	return db->ops->changes(db, cs, n, out) == STORE_OK;
}

store_err
store_db_update(store_db *db, const char *coll, json_t *doc,
                const char **field)
{
	const struct db_coll *c;
	const char *id;
	json_t *ver;
	store_err e;

	if (field != NULL)
		*field = NULL;
	if (db == NULL || !json_is_object(doc))
		return STORE_EINVAL;
	c = coll_find(db, coll);
	if (c == NULL)
		return STORE_EINVAL;
	id = json_string_value(json_object_get(doc, "id"));
	ver = json_object_get(doc, "version");
	if (id == NULL || !json_is_integer(ver) || json_integer_value(ver) < 0)
		return db_fail(db, STORE_EINVAL, "document has no string 'id' "
		               "or no integer 'version'");
	if (!store_oid_valid(id))
		return STORE_ENOTFOUND;
	e = doc_check(db, doc, 0);
	if (e != STORE_OK)
		return e;
	e = db->ops->update(db, c, doc, json_integer_value(ver), field);
	if (e != STORE_OK)
		return e;
	return json_integer_set(ver, json_integer_value(ver) + 1) == 0 ?
	       STORE_OK : STORE_EINTERNAL;
}

/* store_db_set for a backend without its own: the document read, its
 * members set, written back whole if still at version. */
static store_err
set_by_update(store_db *db, const struct db_coll *c, const char *id,
              long long version, const json_t *fields, const char **field)
{
	json_t *doc = NULL;
	store_err e = db->ops->get(db, c, id, &doc);

	if (e != STORE_OK)
		goto out;
	if (json_integer_value(json_object_get(doc, "version")) != version) {
		e = STORE_ECONFLICT;
		goto out;
	}
	if (json_object_update(doc, (json_t *)fields) != 0) {
		e = STORE_ENOMEM;
		goto out;
	}
	e = db->ops->update(db, c, doc, version, field);
out:
	json_decref(doc);
	return e;
}

store_err
store_db_set(store_db *db, const char *coll, const char *id,
             long long version, const json_t *fields, const char **field)
{
	const struct db_coll *c;
	const char *key;
	size_t len;
	json_t *v;

	if (field != NULL)
		*field = NULL;
	if (db == NULL)
		return STORE_EINVAL;
	if ((c = coll_find(db, coll)) == NULL)
		return STORE_EINVAL;
	if (!json_is_object(fields) || json_object_size(fields) == 0 ||
	    json_object_size(fields) > STORE_DB_SET_FIELDS || version < 0)
		return db_fail(db, STORE_EINVAL, "set: 1 to %d fields and a version "
		               "of 0 or more", STORE_DB_SET_FIELDS);
	json_object_keylen_foreach((json_t *)fields, key, len, v) {
		if (!set_name_ok(key, len))
			return db_fail(db, STORE_EINVAL, "set: bad field '%.*s'",
			               DB_FIELD_MAX, key);
		if (doc_check(db, v, 1) != STORE_OK)
			return STORE_EINVAL;
	}
	if (!store_oid_valid(id))
		return STORE_ENOTFOUND;
	if (db->ops->set == NULL)
		return set_by_update(db, c, id, version, fields, field);
	return db->ops->set(db, c, id, version, fields, field);
}

store_err
store_db_delete(store_db *db, const char *coll, const char *id,
                long long version)
{
	const struct db_coll *c;

	if (db == NULL)
		return STORE_EINVAL;
	c = coll_find(db, coll);
	if (c == NULL)
		return STORE_EINVAL;
	if (!store_oid_valid(id))
		return STORE_ENOTFOUND;
	return db->ops->delete(db, c, id, version);
}

/* ---- transactions ------------------------------------------------------- */

/* Sleeps a few random milliseconds, more after each attempt. */
static void
backoff(int attempt)
{
	unsigned int r = 0;
	struct timespec ts;
	long ms;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (unsigned int)clock();
	ms = (1L << attempt) + (long)(r % (4u << attempt));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

store_err
store_db_txn(store_db *db, store_db_txn_fn fn, void *ctx)
{
	struct db_thread *t;
	store_err e = STORE_EINTERNAL;

	if (db == NULL || fn == NULL)
		return STORE_EINVAL;
	t = db_thread_get(db);
	if (t == NULL)
		return STORE_ENOMEM;
	if (t->depth > 0) {
		/* Join the outer transaction; a failure dooms it. */
		t->depth++;
		e = fn(db, ctx);
		t->depth--;
		if (e != STORE_OK && t->doomed == STORE_OK)
			t->doomed = e;
		return e;
	}
	for (int attempt = 1; attempt <= DB_TXN_ATTEMPTS; attempt++) {
		t->transient = false;
		t->doomed = STORE_OK;
		e = db->ops->begin(db, t);
		if (e == STORE_OK) {
			t->depth = 1;
			e = fn(db, ctx);
			t->depth = 0;
			if (e == STORE_OK)
				e = t->doomed;
			if (e == STORE_OK)
				e = db->ops->commit(db, t);
			else
				db->ops->rollback(db, t);
		}
		if (e == STORE_OK || !t->transient || attempt == DB_TXN_ATTEMPTS)
			break;
		backoff(attempt);
	}
	if (e == STORE_OK && db->on_commit != NULL)
		db->on_commit(db->on_commit_ctx);
	return e;
}

void
store_db_on_commit(store_db *db, store_db_commit_fn fn, void *ctx)
{
	if (db == NULL)
		return;
	db->on_commit = fn;
	db->on_commit_ctx = ctx;
}

store_err
store_db_txn_retry(store_db *db, store_db_txn_fn fn, void *ctx)
{
	store_err e = STORE_ECONFLICT;

	for (int i = 0; i < DB_CONFLICT_ATTEMPTS && e == STORE_ECONFLICT; i++)
		e = store_db_txn(db, fn, ctx);
	return e;
}
