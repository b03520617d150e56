/* db_sqlite.c - the embedded backend: one SQLite file, one table per
 * collection (id, version, doc without id and version), unique and plain
 * expression indexes on json_extract(doc, '$.field'). Each thread has its
 * own connection for reading, with a small cache of prepared statements.
 * WAL, a busy timeout and BEGIN IMMEDIATE let several processes share the
 * file. Within one process, writers take turns on a mutex (a transaction
 * from BEGIN to COMMIT or ROLLBACK, a write outside one for its statement)
 * and write on the process's one writer connection: SQLite's busy handler
 * would have them sleep and poll for the file's write lock instead, and
 * the writer's page cache stays warm (a write through one connection
 * empties the page cache of every other; reads inside a transaction go to
 * the writer too). Between processes the busy timeout still bounds the
 * wait. The WAL is checkpointed outside the writer mutex (sq_wal_hook). */
#include "db_impl.h"

#include <pthread.h>

#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#define SQ_BUSY_MS     5000
#define SQ_CACHE       32      /* prepared statements per connection */
#define SQ_SQL_MAX     16384   /* longest statement we build */
#define SQ_WAL_TRIES   20
#define SQ_CKPT_PAGES  1000    /* a WAL this long calls for a checkpoint */
#define SQ_CKPT_INLINE (4 * SQ_CKPT_PAGES) /* ... under the writer mutex */

struct sq_db {
	char *path;
	pthread_mutex_t writer;    /* held by the process's one writer */
	struct sq_conn *w;         /* the writer connection, under writer */
	int ckpt_band;             /* under writer: the WAL's pages / SQ_CKPT_PAGES */
	atomic_bool ckpt_due;      /* the writer's WAL calls for a checkpoint */
};

struct sq_stmt {
	char *sql;
	sqlite3_stmt *st;
};

struct sq_conn {
	sqlite3 *h;
	bool writing;              /* a thread's: it holds the writer mutex */
	struct sq_stmt cache[SQ_CACHE];
	unsigned next;             /* the cache slot to reuse when full */
};

/* A statement under construction. */
struct sb {
	char s[SQ_SQL_MAX];
	size_t n;
	bool over;
};

/* The values a WHERE clause binds, in placeholder order. */
struct sq_where {
	const json_t *vals[DB_FILTER_MAX];
	int n;
};

__attribute__((format(printf, 2, 3)))
static void
sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof b->s - b->n)
		b->over = true;
	else
		b->n += (size_t)n;
}

/* ---- errors ------------------------------------------------------------- */

/* Maps a failed SQLite call to an error and records its message. */
static store_err
sq_fail(store_db *db, sqlite3 *h, int rc, const char *coll)
{
	const char *msg = h != NULL ? sqlite3_errmsg(h) : sqlite3_errstr(rc);
	store_err e;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		db_mark_transient(db);
		e = STORE_EUNAVAIL;
		break;
	case SQLITE_NOMEM:
		e = STORE_ENOMEM;
		break;
	case SQLITE_TOOBIG:
		e = STORE_ETOOBIG;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_READONLY:
		e = STORE_EUNAVAIL;
		break;
	default:
		e = STORE_EIO;
		break;
	}
	return db_fail(db, e, "sqlite error '%s' on '%s'", msg, coll);
}

/* After a constraint failure: which unique field (or "id") was taken.
 * Expression indexes are named "<coll>:u:<field>" and SQLite names them in
 * its message: "UNIQUE constraint failed: index 'users:u:email'". */
static store_err
sq_duplicate(store_db *db, const struct db_coll *c, sqlite3 *h,
             const char **field)
{
	const char *msg = sqlite3_errmsg(h), *p, *end, *name = NULL;
	size_t plen = strlen(c->name);

	if (sqlite3_extended_errcode(h) == SQLITE_CONSTRAINT_PRIMARYKEY) {
		name = "id";
	} else if ((p = strstr(msg, "index '")) != NULL) {
		p += 7;
		end = strchr(p, '\'');
		if (end != NULL && strncmp(p, c->name, plen) == 0 &&
		    strncmp(p + plen, ":u:", 3) == 0)
			name = db_unique_field(c, p + plen + 3,
			                       (size_t)(end - p - plen - 3));
	}
	if (name == NULL)
		name = c->nunique > 0 ? c->unique[0] : "id";
	if (field != NULL)
		*field = name;
	return db_fail(db, STORE_EDUPLICATE, "'%s' of '%s' is taken", name,
	               c->name);
}

/* ---- connections -------------------------------------------------------- */

static void
sq_conn_free(store_db *db, void *p)
{
	struct sq_conn *k = p;

	(void)db;
	for (size_t i = 0; i < SQ_CACHE; i++) {
		sqlite3_finalize(k->cache[i].st);
		free(k->cache[i].sql);
	}
	sqlite3_close_v2(k->h);
	free(k);
}

static store_err
sq_conn_open(store_db *db, struct sq_conn **out)
{
	struct sq_db *s = db->impl;
	struct sq_conn *k;
	store_err e = STORE_OK;
	int rc;

	k = calloc(1, sizeof *k);
	if (k == NULL)
		return STORE_ENOMEM;
	rc = sqlite3_open_v2(s->path, &k->h, SQLITE_OPEN_READWRITE |
	                     SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_extended_result_codes(k->h, 1);
		rc = sqlite3_busy_timeout(k->h, SQ_BUSY_MS);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(k->h, "PRAGMA synchronous=NORMAL", NULL, NULL,
		                  NULL);
	if (rc != SQLITE_OK) {
		e = sq_fail(db, k->h, rc, s->path);
		db_fail(db, e, "cannot open sqlite database '%s': %s", s->path,
		        k->h != NULL ? sqlite3_errmsg(k->h) : sqlite3_errstr(rc));
		sq_conn_free(db, k);
		return e;
	}
	*out = k;
	return STORE_OK;
}

/* The calling thread's own connection, opened on first use. */
static store_err
sq_own(store_db *db, struct sq_conn **out)
{
	struct db_thread *t = db_thread_get(db);
	struct sq_conn *k = NULL;
	store_err e;

	if (t == NULL)
		return STORE_ENOMEM;
	if (t->conn == NULL) {
		e = sq_conn_open(db, &k);
		if (e != STORE_OK)
			return e;
		t->conn = k;
	}
	*out = t->conn;
	return STORE_OK;
}

/* The connection to read on: the writer's while the calling thread holds
 * the writer mutex (inside a transaction), else the thread's own. */
static store_err
sq_conn(store_db *db, struct sq_conn **out)
{
	struct sq_db *s = db->impl;
	store_err e = sq_own(db, out);

	if (e == STORE_OK && (*out)->writing)
		*out = s->w;
	return e;
}

/* The writer connection's WAL hook, after each commit. SQLite's own would
 * checkpoint right there, with the writer mutex held: every other writer of
 * the process then waits out the copy and its two fsyncs. Instead the
 * committing thread checkpoints once it has given the mutex back
 * (sq_write_end). A checkpoint beside writers cannot always end the WAL's
 * growth (the WAL restarts only once every frame is copied), so past
 * SQ_CKPT_INLINE pages the hook checkpoints here, as SQLite would: what is
 * left to copy then is what came after the last checkpoint. */
static int
sq_wal_hook(void *ctx, sqlite3 *h, const char *name, int pages)
{
	struct sq_db *s = ctx;
	int band = pages / SQ_CKPT_PAGES;

	if (pages >= SQ_CKPT_INLINE)
		sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
		                          NULL);
	else if (band > s->ckpt_band)
		atomic_store(&s->ckpt_due, true);
	s->ckpt_band = band;
	return SQLITE_OK;
}

/* A checkpoint on own (the calling thread's connection, outside the writer
 * mutex) when the writer's WAL called for one. PASSIVE: it waits for no
 * reader or writer, and SQLite's checkpoint lock lets one run at a time
 * (another thread's or process's gets SQLITE_BUSY at once); a failure
 * leaves it to a later commit. */
static void
sq_checkpoint(struct sq_db *s, struct sq_conn *own)
{
	if (atomic_exchange(&s->ckpt_due, false))
		sqlite3_wal_checkpoint_v2(own->h, NULL, SQLITE_CHECKPOINT_PASSIVE,
		                          NULL, NULL);
}

/* The writer connection, with the writer mutex: taken unless the calling
 * thread holds it already (inside a transaction); *took says whether it
 * was. Waits at most the busy timeout, as SQLite would for the file's
 * lock: then STORE_EUNAVAIL, transient. Give it back with sq_write_end. */
static store_err
sq_writer(store_db *db, struct sq_conn **out, bool *took)
{
	struct sq_db *s = db->impl;
	struct sq_conn *own;
	struct timespec until;
	store_err e;
	int rc;

	*took = false;
	if ((e = sq_own(db, &own)) != STORE_OK)
		return e;
	if (own->writing) {
		*out = s->w;
		return STORE_OK;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SQ_BUSY_MS / 1000;
	until.tv_nsec += (SQ_BUSY_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	rc = pthread_mutex_timedlock(&s->writer, &until);
	if (rc != 0) {
		db_mark_transient(db);
		return db_fail(db, STORE_EUNAVAIL, "sqlite database '%s' is busy: "
		               "no turn to write within %d ms", s->path, SQ_BUSY_MS);
	}
	if (s->w == NULL) {
		if ((e = sq_conn_open(db, &s->w)) != STORE_OK) {
			pthread_mutex_unlock(&s->writer);
			return e;
		}
		sqlite3_wal_hook(s->w->h, sq_wal_hook, s);
	}
	own->writing = true;
	*took = true;
	*out = s->w;
	return STORE_OK;
}

/* Gives the writer mutex back if sq_writer took it (took). */
static void
sq_write_end(store_db *db, bool took)
{
	struct sq_db *s = db->impl;
	struct db_thread *t;
	struct sq_conn *own;

	if (!took || (t = db_thread_get(db)) == NULL || (own = t->conn) == NULL ||
	    !own->writing)
		return;
	own->writing = false;
	pthread_mutex_unlock(&s->writer);
	sq_checkpoint(s, own);
}

/* A prepared statement for sql from k's cache (prepared and cached on a
 * miss). The statement stays k's; give it back with sq_done. */
static store_err
sq_prepare(store_db *db, struct sq_conn *k, const char *sql,
           const char *coll, sqlite3_stmt **out)
{
	struct sq_stmt *slot = NULL;
	sqlite3_stmt *st = NULL;
	char *copy;
	int rc;

	for (size_t i = 0; i < SQ_CACHE; i++) {
		if (k->cache[i].sql != NULL && strcmp(k->cache[i].sql, sql) == 0) {
			*out = k->cache[i].st;
			return STORE_OK;
		}
		if (slot == NULL && k->cache[i].sql == NULL)
			slot = &k->cache[i];
	}
	if (slot == NULL)
		slot = &k->cache[k->next++ % SQ_CACHE];
	rc = sqlite3_prepare_v3(k->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	                        NULL);
	if (rc != SQLITE_OK)
		return sq_fail(db, k->h, rc, coll);
	copy = strdup(sql);
	if (copy == NULL) {
		sqlite3_finalize(st);
		return STORE_ENOMEM;
	}
	sqlite3_finalize(slot->st);
	free(slot->sql);
	slot->sql = copy;
	slot->st = st;
	*out = st;
	return STORE_OK;
}

static void
sq_done(sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* ---- rows and filters ---------------------------------------------------- */

/* The document in the current row (columns id, version, doc).
 * Caller frees *out with json_decref. */
static store_err
sq_row(store_db *db, const char *coll, sqlite3_stmt *st, json_t **out)
{
	const char *text = (const char *)sqlite3_column_text(st, 2);
	json_t *body = NULL, *doc = NULL;
	store_err e = STORE_ENOMEM;
	json_error_t jerr;

	if (text == NULL) {
		e = db_fail(db, STORE_EIO, "stored document of '%s' is null", coll);
		goto out;
	}
	body = json_loadb(text, (size_t)sqlite3_column_bytes(st, 2),
	                  JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(body)) {
		e = db_fail(db, STORE_EIO, "stored document of '%s' is not a "
		            "json object", coll);
		goto out;
	}
	doc = json_object();
	if (doc == NULL ||
	    json_object_set_new(doc, "id", json_stringn(
	        (const char *)sqlite3_column_text(st, 0),
	        (size_t)sqlite3_column_bytes(st, 0))) != 0 ||
	    json_object_set_new(doc, "version",
	        json_integer(sqlite3_column_int64(st, 1))) != 0 ||
	    json_object_update_missing(doc, body) != 0)
		goto out;
	*out = doc;
	doc = NULL;
	e = STORE_OK;
out:
	json_decref(body);
	json_decref(doc);
	return e;
}

/* Appends " WHERE ..." for filter: equality by JSON type, so that "1",
 * 1 and true stay distinct as in MongoDB; null matches a missing field. */
static void
sq_where(struct sb *b, const json_t *filter, struct sq_where *w)
{
	const char *key, *and = " WHERE ";
	json_t *v;

	w->n = 0;
	json_object_foreach((json_t *)filter, key, v) {
		sb_add(b, "%s", and);
		and = " AND ";
		if (strcmp(key, "id") == 0 || strcmp(key, "version") == 0) {
			if ((key[0] == 'i' && json_is_string(v)) ||
			    (key[0] == 'v' && json_is_number(v))) {
				sb_add(b, "%s = ?", key);
				w->vals[w->n++] = v;
			} else {
				sb_add(b, "0");
			}
			continue;
		}
		switch (json_typeof(v)) {
		case JSON_STRING:
			/* json_extract gives text for a string, and for an
			 * object or array their JSON text ('{...', '[...'):
			 * only a value that could be such a text needs the
			 * type checked, which parses the document per row. */
			if (json_string_value(v)[0] == '{' ||
			    json_string_value(v)[0] == '[')
				sb_add(b, "json_extract(doc,'$.%s') = ? AND "
				       "json_type(doc,'$.%s') = 'text'", key, key);
			else
				sb_add(b, "json_extract(doc,'$.%s') = ?", key);
			w->vals[w->n++] = v;
			break;
		case JSON_INTEGER:
		case JSON_REAL:
			sb_add(b, "json_extract(doc,'$.%s') = ? AND "
			       "json_type(doc,'$.%s') IN ('integer','real')", key, key);
			w->vals[w->n++] = v;
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			sb_add(b, "json_extract(doc,'$.%s') = %d AND "
			       "json_type(doc,'$.%s') = '%s'", key, json_is_true(v),
			       key, json_is_true(v) ? "true" : "false");
			break;
		default:
			sb_add(b, "json_extract(doc,'$.%s') IS NULL", key);
			break;
		}
	}
}

/* Binds w's values from placeholder 1. Returns an SQLite result code. */
static int
sq_bind_where(sqlite3_stmt *st, const struct sq_where *w)
{
	int rc = SQLITE_OK;

	for (int i = 0; i < w->n && rc == SQLITE_OK; i++) {
		const json_t *v = w->vals[i];

		if (json_is_string(v))
			rc = sqlite3_bind_text64(st, i + 1, json_string_value(v),
			                         json_string_length(v), SQLITE_STATIC,
			                         SQLITE_UTF8);
		else if (json_is_integer(v))
			rc = sqlite3_bind_int64(st, i + 1, json_integer_value(v));
		else
			rc = sqlite3_bind_double(st, i + 1, json_real_value(v));
	}
	return rc;
}

/* doc without id and version, as compact JSON. Caller frees *out. */
static store_err
sq_body_text(store_db *db, const char *coll, const json_t *doc, char **out,
             size_t *len)
{
	json_t *body = db_doc_body(doc);

	*out = NULL;
	if (body == NULL)
		return STORE_ENOMEM;
	*out = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (*out == NULL)
		return STORE_ENOMEM;
	*len = strlen(*out);
	if (*len > DB_DOC_MAX) {
		free(*out);
		*out = NULL;
		return db_fail(db, STORE_ETOOBIG, "document for '%s' is over %u "
		               "bytes", coll, DB_DOC_MAX);
	}
	return STORE_OK;
}

/* Runs "SELECT cols FROM c WHERE id = ?" on k up to its row: STORE_OK
 * with the row in *st, STORE_ENOTFOUND when there is none. Give *st back
 * with sq_done whatever the answer. */
static store_err
sq_step_by_id(store_db *db, struct sq_conn *k, const struct db_coll *c,
              const char *cols, const char *id, sqlite3_stmt **st)
{
	char sql[256 + DB_FIELD_MAX];
	store_err e;
	int rc;

	*st = NULL;
	snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" WHERE id = ?", cols,
	         c->name);
	if ((e = sq_prepare(db, k, sql, c->name, st)) != STORE_OK)
		return e;
	rc = sqlite3_bind_text(*st, 1, id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(*st);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_ENOTFOUND : sq_fail(db, k->h, rc, c->name);
}

/* After 0 rows changed by a version-guarded write: ENOTFOUND when id is
 * absent, ECONFLICT when its version is not version, else (a write also
 * guarded by the document's size, sized true) ETOOBIG. */
static store_err
sq_why_unchanged(store_db *db, struct sq_conn *k, const struct db_coll *c,
                 const char *id, long long version, bool sized)
{
	sqlite3_stmt *st = NULL;
	store_err e = sq_step_by_id(db, k, c, "version", id, &st);

	if (e == STORE_OK && (!sized || sqlite3_column_int64(st, 0) != version))
		e = STORE_ECONFLICT;
	else if (e == STORE_OK)
		e = db_fail(db, STORE_ETOOBIG, "document in '%s' would grow over %u "
		            "bytes", c->name, DB_DOC_MAX);
	sq_done(st);
	return e;
}

/* Steps a version-guarded write of the row id whose values are bound (rc:
 * the binding's result) and gives st back: STORE_OK when it changed the
 * row; when the guard held it back, why (sq_why_unchanged; sized: the
 * write was also guarded by the stored size); a duplicate on a unique
 * field; or SQLite's failure. k is the writer connection, still held. */
static store_err
sq_guarded_write(store_db *db, struct sq_conn *k, const struct db_coll *c,
                 sqlite3_stmt *st, int rc, const char *id, long long version,
                 bool sized, const char **field)
{
	bool unchanged = false;
	store_err e;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		unchanged = sqlite3_changes(k->h) != 1;
		e = STORE_OK;
	} else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		e = sq_duplicate(db, c, k->h, field);
	} else {
		e = sq_fail(db, k->h, rc, c->name);
	}
	sq_done(st);   /* before sq_why_unchanged's prepare may evict st */
	return unchanged ? sq_why_unchanged(db, k, c, id, version, sized) : e;
}

/* ---- operations --------------------------------------------------------- */

static store_err
sq_insert(store_db *db, const struct db_coll *c, json_t *doc,
          const char **field)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	char sql[256], *text = NULL;
	sqlite3_stmt *st = NULL;
	struct sq_conn *k = NULL;
	bool took = false;
	store_err e;
	size_t len = 0;
	int rc;

	e = sq_body_text(db, c->name, doc, &text, &len);
	if (e == STORE_OK)
		e = sq_writer(db, &k, &took);
	if (e != STORE_OK)
		goto out;
	snprintf(sql, sizeof sql, "INSERT INTO \"%s\" (id, version, doc) "
	         "VALUES (?, 0, ?)", c->name);
	e = sq_prepare(db, k, sql, c->name, &st);
	if (e != STORE_OK)
		goto out;
	rc = sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text64(st, 2, text, len, SQLITE_STATIC,
		                         SQLITE_UTF8);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		e = STORE_OK;
	else if ((rc & 0xff) == SQLITE_CONSTRAINT)
		e = sq_duplicate(db, c, k->h, field);
	else
		e = sq_fail(db, k->h, rc, c->name);
out:
	sq_done(st);
	sq_write_end(db, took);
	free(text);
	return e;
}

static store_err
sq_get(store_db *db, const struct db_coll *c, const char *id, json_t **out)
{
	sqlite3_stmt *st = NULL;
	struct sq_conn *k;
	store_err e = sq_conn(db, &k);

	if (e == STORE_OK)
		e = sq_step_by_id(db, k, c, "id, version, doc", id, &st);
	if (e == STORE_OK)
		e = sq_row(db, c->name, st, out);
	sq_done(st);
	return e;
}

/* The member's JSON text comes out of the query (->), so only that text
 * is decoded; SQL NULL when the member is missing. */
static store_err
sq_get_member(store_db *db, const struct db_coll *c, const char *id,
              const char *name, json_t **out)
{
	char cols[32 + DB_FIELD_MAX];
	sqlite3_stmt *st = NULL;
	struct sq_conn *k;
	const char *text;
	store_err e;

	snprintf(cols, sizeof cols, "doc -> '$.%s'", name);
	if ((e = sq_conn(db, &k)) != STORE_OK)
		goto out;
	if ((e = sq_step_by_id(db, k, c, cols, id, &st)) != STORE_OK)
		goto out;
	text = (const char *)sqlite3_column_text(st, 0);
	*out = text == NULL ? json_null() :
	       json_loadb(text, (size_t)sqlite3_column_bytes(st, 0),
	                  JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (*out == NULL)
		e = db_fail(db, STORE_EIO, "stored member '%s' of '%s' is not json",
		            name, c->name);
out:
	sq_done(st);
	return e;
}

/* Prepares and binds the SELECT of a find (columns id, version, doc) on
 * k; give *st back with sq_done. */
static store_err
sq_find_stmt(store_db *db, struct sq_conn *k, const struct db_coll *c,
             const json_t *filter, const store_find_opts *opts,
             sqlite3_stmt **st)
{
	const char *dir = opts->desc ? "DESC" : "ASC";
	struct sq_where w;
	struct sb *b;
	store_err e;
	int rc;

	*st = NULL;
	b = calloc(1, sizeof *b);
	if (b == NULL)
		return STORE_ENOMEM;
	sb_add(b, "SELECT id, version, doc FROM \"%s\"", c->name);
	sq_where(b, filter, &w);
	if (opts->sort == NULL || strcmp(opts->sort, "id") == 0)
		sb_add(b, " ORDER BY id %s", dir);
	else if (strcmp(opts->sort, "version") == 0)
		sb_add(b, " ORDER BY version %s, id %s", dir, dir);
	else
		sb_add(b, " ORDER BY json_extract(doc,'$.%s') %s, id %s",
		       opts->sort, dir, dir);
	sb_add(b, " LIMIT ? OFFSET ?");
	if (b->over) {
		e = db_fail(db, STORE_EINTERNAL, "query on '%s' too long", c->name);
		goto out;
	}
	e = sq_prepare(db, k, b->s, c->name, st);
	if (e != STORE_OK)
		goto out;
	rc = sq_bind_where(*st, &w);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(*st, w.n + 1, opts->limit == 0 ||
		                        opts->limit > INT64_MAX ? -1 :
		                        (sqlite3_int64)opts->limit);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(*st, w.n + 2, opts->skip > INT64_MAX ?
		                        INT64_MAX : (sqlite3_int64)opts->skip);
	if (rc != SQLITE_OK)
		e = sq_fail(db, k->h, rc, c->name);
out:
	free(b);
	return e;
}

static store_err
sq_find(store_db *db, const struct db_coll *c, const json_t *filter,
        const store_find_opts *opts, json_t **out)
{
	sqlite3_stmt *st = NULL;
	struct sq_conn *k;
	json_t *all = NULL, *doc;
	store_err e;
	int rc;

	e = sq_conn(db, &k);
	if (e != STORE_OK)
		goto out;
	all = json_array();
	if (all == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	e = sq_find_stmt(db, k, c, filter, opts, &st);
	if (e != STORE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e = sq_row(db, c->name, st, &doc);
		if (e != STORE_OK)
			goto out;
		if (json_array_append_new(all, doc) != 0) {
			e = STORE_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		e = sq_fail(db, k->h, rc, c->name);
		goto out;
	}
	*out = all;
	all = NULL;
out:
	sq_done(st);
	json_decref(all);
	return e;
}

/* As sq_find, each row's stored text as it is. */
static store_err
sq_find_text(store_db *db, const struct db_coll *c, const json_t *filter,
             const store_find_opts *opts, store_db_texts *out)
{
	sqlite3_stmt *st = NULL;
	struct sq_conn *k;
	store_err e;
	int rc;

	e = sq_conn(db, &k);
	if (e == STORE_OK)
		e = sq_find_stmt(db, k, c, filter, opts, &st);
	if (e != STORE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *text = (const char *)sqlite3_column_text(st, 2);

		if (id == NULL || text == NULL) {
			e = db_fail(db, STORE_EIO, "stored document of '%s' is null",
			            c->name);
			goto out;
		}
		e = db_texts_add(db, out, id, (size_t)sqlite3_column_bytes(st, 0),
		                 sqlite3_column_int64(st, 1), text,
		                 (size_t)sqlite3_column_bytes(st, 2));
		if (e != STORE_OK)
			goto out;
	}
	if (rc != SQLITE_DONE)
		e = sq_fail(db, k->h, rc, c->name);
out:
	sq_done(st);
	return e;
}

static store_err
sq_count(store_db *db, const struct db_coll *c, const json_t *filter,
         size_t *out)
{
	struct sb *b = NULL;
	struct sq_where w;
	sqlite3_stmt *st = NULL;
	struct sq_conn *k;
	store_err e;
	int rc;

	e = sq_conn(db, &k);
	if (e != STORE_OK)
		goto out;
	b = calloc(1, sizeof *b);
	if (b == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	sb_add(b, "SELECT count(*) FROM \"%s\"", c->name);
	sq_where(b, filter, &w);
	if (b->over) {
		e = db_fail(db, STORE_EINTERNAL, "query on '%s' too long", c->name);
		goto out;
	}
	e = sq_prepare(db, k, b->s, c->name, &st);
	if (e != STORE_OK)
		goto out;
	rc = sq_bind_where(st, &w);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (size_t)sqlite3_column_int64(st, 0);
	else
		e = sq_fail(db, k->h, rc, c->name);
out:
	sq_done(st);
	free(b);
	return e;
}

static store_err
sq_changes(store_db *db, const struct db_coll *const *colls, size_t n,
           unsigned long long *out)
{
	char sql[128 + STORE_DB_CHANGES_COLLS * (DB_NAME_MAX + 4)];
	sqlite3_stmt *st = NULL;
	struct sq_conn *k;
	size_t used;
	store_err e;
	int rc;

	e = sq_conn(db, &k);
	if (e != STORE_OK)
		return e;
	used = (size_t)snprintf(sql, sizeof sql, "SELECT coalesce(sum(n), 0) FROM "
	                        "\"store:changes\" WHERE coll IN (");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(sql + used, sizeof sql - used, "%s'%s'",
		                         i > 0 ? ", " : "", colls[i]->name);
	snprintf(sql + used, sizeof sql - used, ")");
	e = sq_prepare(db, k, sql, colls[0]->name, &st);
	if (e != STORE_OK)
		return e;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (unsigned long long)sqlite3_column_int64(st, 0);
	else
		e = sq_fail(db, k->h, rc, colls[0]->name);
	sq_done(st);
	return e;
}

/* Appends the FROM and WHERE of a search in c: the filter, then the text
 * index's MATCH (bound after the filter's values). */
static void
sq_search_from(struct sb *b, const struct db_coll *c, const json_t *filter,
               struct sq_where *w)
{
	size_t before;

	sb_add(b, " FROM \"%s\" AS m JOIN \"%s:fts\" ON \"%s:fts\".rowid = "
	       "m.rowid", c->name, c->name, c->name);
	before = b->n;
	sq_where(b, filter, w);
	sb_add(b, "%s\"%s:fts\" MATCH ?", b->n > before ? " AND " : " WHERE ",
	       c->name);
}

/* Runs a prepared count or page of a search; binds w, the match and, for
 * a page (out not NULL), limit and skip. */
static store_err
sq_search_run(store_db *db, struct sq_conn *k, const struct db_coll *c,
               const char *sql, const struct sq_where *w, const char *match,
               const store_find_opts *opts, json_t *out, size_t *total)
{
	sqlite3_stmt *st = NULL;
	json_t *doc;
	store_err e;
	int rc;

	e = sq_prepare(db, k, sql, c->name, &st);
	if (e != STORE_OK)
		return e;
	rc = sq_bind_where(st, w);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, w->n + 1, match, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && out != NULL)
		rc = sqlite3_bind_int64(st, w->n + 2, opts->limit == 0 ||
		                        opts->limit > INT64_MAX ? -1 :
		                        (sqlite3_int64)opts->limit);
	if (rc == SQLITE_OK && out != NULL)
		rc = sqlite3_bind_int64(st, w->n + 3, opts->skip > INT64_MAX ?
		                        INT64_MAX : (sqlite3_int64)opts->skip);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		if (out == NULL) {
			*total = (size_t)sqlite3_column_int64(st, 0);
			continue;
		}
		e = sq_row(db, c->name, st, &doc);
		if (e != STORE_OK)
			goto out;
		if (json_array_append_new(out, doc) != 0) {
			e = STORE_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		e = sq_fail(db, k->h, rc, c->name);
out:
	sq_done(st);
	return e;
}

static store_err
sq_search(store_db *db, const struct db_coll *c, const char *const *words,
          size_t nwords, const json_t *filter, const store_find_opts *opts,
          json_t **out, size_t *total)
{
	const char *dir = opts->desc ? "DESC" : "ASC";
	struct sb *b = NULL, *match = NULL;
	struct sq_where w;
	struct sq_conn *k;
	json_t *all = NULL;
	store_err e;

	e = sq_conn(db, &k);
	if (e != STORE_OK)
		goto out;
	b = calloc(1, sizeof *b);
	match = calloc(1, sizeof *match);
	all = json_array();
	if (b == NULL || match == NULL || all == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	/* Each word an FTS5 string: words hold no '"', so nothing in them is
	 * query syntax; strings side by side must all match. */
	for (size_t i = 0; i < nwords; i++)
		sb_add(match, "%s\"%s\"", i > 0 ? " " : "", words[i]);
	sb_add(b, "SELECT m.id, m.version, m.doc");
	sq_search_from(b, c, filter, &w);
	if (opts->sort == NULL) {
		sb_add(b, " ORDER BY bm25(\"%s:fts\"", c->name);
		for (size_t i = 0; i < c->ntext; i++)
			sb_add(b, ", %s", i == 0 ? "10.0" : "1.0");
		sb_add(b, "), m.id");
	} else if (strcmp(opts->sort, "id") == 0) {
		sb_add(b, " ORDER BY m.id %s", dir);
	} else if (strcmp(opts->sort, "version") == 0) {
		sb_add(b, " ORDER BY m.version %s, m.id %s", dir, dir);
	} else {
		sb_add(b, " ORDER BY json_extract(m.doc,'$.%s') %s, m.id %s",
		       opts->sort, dir, dir);
	}
	sb_add(b, " LIMIT ? OFFSET ?");
	if (b->over || match->over) {
		e = db_fail(db, STORE_EINTERNAL, "search on '%s' too long", c->name);
		goto out;
	}
	e = sq_search_run(db, k, c, b->s, &w, match->s, opts, all, NULL);
	if (e != STORE_OK || total == NULL)
		goto out;
	b->n = 0;
	sb_add(b, "SELECT count(*)");
	sq_search_from(b, c, filter, &w);
	e = b->over ? db_fail(db, STORE_EINTERNAL, "search on '%s' too long",
	                      c->name)
	            : sq_search_run(db, k, c, b->s, &w, match->s, opts, NULL, total);
out:
	if (e == STORE_OK) {
		*out = all;
		all = NULL;
	}
	json_decref(all);
	free(match);
	free(b);
	return e;
}

static store_err
sq_update(store_db *db, const struct db_coll *c, json_t *doc,
          long long version, const char **field)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	char sql[256], *text = NULL;
	sqlite3_stmt *st = NULL;
	struct sq_conn *k = NULL;
	bool took = false;
	store_err e;
	size_t len = 0;
	int rc;

	e = sq_body_text(db, c->name, doc, &text, &len);
	if (e == STORE_OK)
		e = sq_writer(db, &k, &took);
	if (e != STORE_OK)
		goto out;
	snprintf(sql, sizeof sql, "UPDATE \"%s\" SET version = version + 1, "
	         "doc = ? WHERE id = ? AND version = ?", c->name);
	e = sq_prepare(db, k, sql, c->name, &st);
	if (e != STORE_OK)
		goto out;
	rc = sqlite3_bind_text64(st, 1, text, len, SQLITE_STATIC, SQLITE_UTF8);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, version);
	e = sq_guarded_write(db, k, c, st, rc, id, version, false, field);
	st = NULL;
out:
	sq_done(st);
	sq_write_end(db, took);
	free(text);
	return e;
}

/* The statement for store_db_set of fields' members, in their order:
 * UPDATE ... SET doc = json_set(doc, '$."k"', json(?), ...), guarded by
 * id, version and the stored size (the members are [A-Za-z0-9_]+). */
static void
set_sql(struct sb *b, const struct db_coll *c, const json_t *fields)
{
	const char *key;
	json_t *v;

	sb_add(b, "UPDATE \"%s\" SET version = version + 1, doc = json_set(doc",
	       c->name);
	json_object_foreach((json_t *)fields, key, v)
		sb_add(b, ", '$.\"%s\"', json(?)", key);
	sb_add(b, ") WHERE id = ? AND version = ? AND "
	       "length(CAST(doc AS BLOB)) <= ?");
}

/* store_db_set: each value encoded once, bound to json(?); the stored text
 * may grow by at most every member written anew (,"key":value). */
static store_err
sq_set(store_db *db, const struct db_coll *c, const char *id, long long version,
       const json_t *fields, const char **field)
{
	char *vals[STORE_DB_SET_FIELDS] = { NULL };
	struct sb b = { .n = 0 };
	sqlite3_stmt *st = NULL;
	struct sq_conn *k = NULL;
	bool took = false;
	const char *key;
	size_t grow = 0;
	int rc = SQLITE_OK, i = 0;
	json_t *v;
	store_err e;

	json_object_foreach((json_t *)fields, key, v) {
		if ((vals[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
			e = STORE_ENOMEM;
			goto out;
		}
		grow += strlen(key) + strlen(vals[i++]) + 4;
	}
	if (grow > DB_DOC_MAX) {
		e = db_fail(db, STORE_ETOOBIG, "set: fields over %u bytes", DB_DOC_MAX);
		goto out;
	}
	set_sql(&b, c, fields);
	if (b.over) {
		e = db_fail(db, STORE_EINVAL, "set: statement too long");
		goto out;
	}
	if ((e = sq_writer(db, &k, &took)) != STORE_OK)
		goto out;
	if ((e = sq_prepare(db, k, b.s, c->name, &st)) != STORE_OK)
		goto out;
	for (int j = 0; j < i && rc == SQLITE_OK; j++)
		rc = sqlite3_bind_text(st, j + 1, vals[j], -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, i + 1, id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, i + 2, version);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, i + 3, (sqlite3_int64)(DB_DOC_MAX - grow));
	e = sq_guarded_write(db, k, c, st, rc, id, version, true, field);
	st = NULL;
out:
	sq_done(st);
	sq_write_end(db, took);
	for (int j = 0; j < i; j++)
		free(vals[j]);
	return e;
}

static store_err
sq_delete(store_db *db, const struct db_coll *c, const char *id,
          long long version)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	struct sq_conn *k = NULL;
	bool took = false;
	store_err e;
	int rc;

	e = sq_writer(db, &k, &took);
	if (e != STORE_OK)
		goto out;
	snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE id = ? AND "
	         "version = ?", c->name);
	e = sq_prepare(db, k, sql, c->name, &st);
	if (e != STORE_OK)
		goto out;
	rc = sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, version);
	e = sq_guarded_write(db, k, c, st, rc, id, version, false, NULL);
	st = NULL;
out:
	sq_done(st);
	sq_write_end(db, took);
	return e;
}

static store_err
sq_ping(store_db *db)
{
	sqlite3_stmt *st = NULL;
	struct sq_conn *k;
	store_err e;
	int rc;

	e = sq_conn(db, &k);
	if (e != STORE_OK)
		goto out;
	e = sq_prepare(db, k, "SELECT count(*) FROM sqlite_schema", "sqlite_schema",
	               &st);
	if (e != STORE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		e = sq_fail(db, k->h, rc, "sqlite_schema");
out:
	sq_done(st);
	return e;
}

/* ---- transactions ------------------------------------------------------- */

static store_err
sq_exec(store_db *db, struct sq_conn *k, const char *sql, const char *what)
{
	int rc = sqlite3_exec(k->h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? STORE_OK : sq_fail(db, k->h, rc, what);
}

/* Runs BEGIN IMMEDIATE or COMMIT through k's statement cache: the writer
 * runs both in every transaction, and parsing them each time was a
 * measurable part of the time the writer mutex is held. */
static store_err
sq_tx_run(store_db *db, struct sq_conn *k, const char *sql, const char *what)
{
	sqlite3_stmt *st;
	store_err e = sq_prepare(db, k, sql, what, &st);
	int rc;

	if (e != STORE_OK)
		return e;
	rc = sqlite3_step(st);
	e = rc == SQLITE_DONE ? STORE_OK : sq_fail(db, k->h, rc, what);
	sq_done(st);
	return e;
}

/* The writer mutex is held from BEGIN to the end of COMMIT or ROLLBACK. */
static store_err
sq_begin(store_db *db, struct db_thread *t)
{
	struct sq_conn *k;
	bool took = false;
	store_err e = sq_writer(db, &k, &took);

	(void)t;
	if (e != STORE_OK)
		return e;
	e = sq_tx_run(db, k, "BEGIN IMMEDIATE", "begin");
	if (e != STORE_OK)
		sq_write_end(db, took);
	return e;
}

static void
sq_rollback(store_db *db, struct db_thread *t)
{
	struct sq_db *s = db->impl;
	struct sq_conn *own = t->conn;

	if (own == NULL || !own->writing)
		return;
	if (!sqlite3_get_autocommit(s->w->h))
		sqlite3_exec(s->w->h, "ROLLBACK", NULL, NULL, NULL);
	sq_write_end(db, true);
}

static store_err
sq_commit(store_db *db, struct db_thread *t)
{
	struct sq_db *s = db->impl;
	struct sq_conn *own = t->conn;
	store_err e;

	if (own == NULL || !own->writing)
		return STORE_EINTERNAL;
	e = sq_tx_run(db, s->w, "COMMIT", "commit");
	if (e != STORE_OK)
		sq_rollback(db, t);
	else
		sq_write_end(db, true);
	return e;
}

/* ---- open / close ------------------------------------------------------- */

/* Switches the file to WAL (persistent); another process may hold a lock
 * while it creates the file, so try a few times. */
static store_err
sq_wal(store_db *db, struct sq_conn *k)
{
	const struct timespec pause = { 0, 50 * 1000000L };
	sqlite3_stmt *st = NULL;
	store_err e = STORE_EUNAVAIL;
	int rc;

	for (int i = 0; i < SQ_WAL_TRIES; i++) {
		rc = sqlite3_prepare_v2(k->h, "PRAGMA journal_mode=WAL", -1, &st,
		                        NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *mode = (const char *)sqlite3_column_text(st, 0);

			e = mode != NULL && strcmp(mode, "wal") == 0 ? STORE_OK :
			    db_fail(db, STORE_EIO, "cannot switch sqlite database "
			            "to wal mode");
			break;
		}
		e = sq_fail(db, k->h, rc, "journal_mode");
		sqlite3_finalize(st);
		st = NULL;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		nanosleep(&pause, NULL);
	}
	sqlite3_finalize(st);
	return e;
}

static bool
listed(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Appends "json_extract(<row>.doc,'$.f0'), ..." for c's text fields. */
static void
sq_text_values(struct sb *b, const struct db_coll *c, const char *row)
{
	for (size_t i = 0; i < c->ntext; i++)
		sb_add(b, "%sjson_extract(%s.doc,'$.%s')", i > 0 ? ", " : "", row,
		       c->text[i]);
}

/* Appends "c0, c1, ..." : the text index's columns, one per text field
 * (numbered, so that no name of the collection's table is shadowed). */
static void
sq_text_columns(struct sb *b, const struct db_coll *c)
{
	for (size_t i = 0; i < c->ntext; i++)
		sb_add(b, "%sc%zu", i > 0 ? ", " : "", i);
}

/* The text index's options. Contentless: the words are in the table's
 * documents already, and a search reads only MATCH and bm25, so FTS5
 * keeps no copy of them (one b-tree less to write per insert, update and
 * delete). Its delete then needs the old values, which the triggers give. */
#define SQ_FTS_OPTIONS "content = '', tokenize = 'porter unicode61 remove_diacritics 2'"

/* Whether c's text index is missing (*fresh) or one an older version made,
 * with a copy of the words (content): then it and its triggers are dropped,
 * to be made anew and filled from the rows. */
static store_err
sq_text_current(store_db *db, struct sq_conn *k, const struct db_coll *c,
                struct sb *b, bool *fresh)
{
	static const char *const drop[] = {
		"DROP TRIGGER IF EXISTS \"%s:fts:i\"",
		"DROP TRIGGER IF EXISTS \"%s:fts:u\"",
		"DROP TRIGGER IF EXISTS \"%s:fts:d\"",
		"DROP TABLE IF EXISTS \"%s:fts\"",
	};
	sqlite3_stmt *st = NULL;
	const char *sql;
	store_err e = STORE_OK;
	bool old;
	int rc;

	b->n = 0;
	sb_add(b, "SELECT sql FROM sqlite_schema WHERE name = '%s:fts'", c->name);
	rc = sqlite3_prepare_v2(k->h, b->s, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sql = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	old = sql != NULL && strstr(sql, SQ_FTS_OPTIONS) == NULL;
	*fresh = rc == SQLITE_DONE || old;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		e = sq_fail(db, k->h, rc, c->name);
	sqlite3_finalize(st);
	for (size_t i = 0; e == STORE_OK && old && i < sizeof drop / sizeof *drop; i++) {
		b->n = 0;
		sb_add(b, drop[i], c->name);
		e = sq_exec(db, k, b->s, c->name);
	}
	return e;
}

/* Creates c's text index "<coll>:fts" (FTS5; rowid = the document's rowid)
 * and the triggers that keep it equal to the table in the writing
 * statement's transaction; a new index is filled from the rows already
 * there. */
static store_err
sq_create_text(store_db *db, struct sq_conn *k, const struct db_coll *c)
{
	static const char *const trig[] = {
		"AFTER INSERT ON \"%s\" BEGIN ",
		"AFTER UPDATE ON \"%s\" WHEN ",   /* a text field changed */
		"AFTER DELETE ON \"%s\" BEGIN ",
	};
	static const char *const tname[] = { "i", "u", "d" };
	struct sb *b = calloc(1, sizeof *b);
	bool fresh = false;
	store_err e;

	if (b == NULL)
		return STORE_ENOMEM;
	e = sq_text_current(db, k, c, b, &fresh);
	for (int i = -1; e == STORE_OK && i < 3; i++) {
		b->n = 0;
		if (i < 0) {
			sb_add(b, "CREATE VIRTUAL TABLE IF NOT EXISTS \"%s:fts\" "
			       "USING fts5(", c->name);
			sq_text_columns(b, c);
			sb_add(b, ", " SQ_FTS_OPTIONS ")");
		} else {
			sb_add(b, "CREATE TRIGGER IF NOT EXISTS \"%s:fts:%s\" ", c->name,
			       tname[i]);
			sb_add(b, trig[i], c->name);
			for (size_t j = 0; i == 1 && j < c->ntext; j++)
				sb_add(b, "%sjson_extract(old.doc,'$.%s') IS NOT "
				       "json_extract(new.doc,'$.%s')", j > 0 ? " OR " : "",
				       c->text[j], c->text[j]);
			if (i == 1)
				sb_add(b, " BEGIN ");
			if (i > 0) {
				sb_add(b, "INSERT INTO \"%s:fts\" (\"%s:fts\", rowid, ",
				       c->name, c->name);
				sq_text_columns(b, c);
				sb_add(b, ") VALUES ('delete', old.rowid, ");
				sq_text_values(b, c, "old");
				sb_add(b, "); ");
			}
			if (i < 2) {
				sb_add(b, "INSERT INTO \"%s:fts\" (rowid, ", c->name);
				sq_text_columns(b, c);
				sb_add(b, ") VALUES (new.rowid, ");
				sq_text_values(b, c, "new");
				sb_add(b, "); ");
			}
			sb_add(b, "END");
		}
		e = b->over ? STORE_EINTERNAL : sq_exec(db, k, b->s, c->name);
	}
	if (e == STORE_OK && fresh) {
		b->n = 0;
		sb_add(b, "INSERT INTO \"%s:fts\" (rowid, ", c->name);
		sq_text_columns(b, c);
		sb_add(b, ") SELECT rowid, ");
		sq_text_values(b, c, "m");
		sb_add(b, " FROM \"%s\" AS m", c->name);
		e = b->over ? STORE_EINTERNAL : sq_exec(db, k, b->s, c->name);
	}
	free(b);
	return e;
}

/* c's change counter (store_db_changes): its row in "store:changes",
 * raised by a trigger on each insert, update and delete of a document, in
 * the writing statement's transaction (inside a transaction). */
static store_err
sq_create_changes(store_db *db, struct sq_conn *k, const struct db_coll *c)
{
	static const char *const ops[] = { "INSERT", "UPDATE", "DELETE" };
	char sql[512];
	store_err e;

	snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO \"store:changes\" (coll, n) "
	         "VALUES ('%s', 0)", c->name);
	e = sq_exec(db, k, sql, c->name);
	for (size_t i = 0; e == STORE_OK && i < sizeof ops / sizeof *ops; i++) {
		snprintf(sql, sizeof sql, "CREATE TRIGGER IF NOT EXISTS \"%s:changes:%s\" "
		         "AFTER %s ON \"%s\" BEGIN UPDATE \"store:changes\" SET n = n + 1 "
		         "WHERE coll = '%s'; END", c->name, ops[i], ops[i], c->name, c->name);
		e = sq_exec(db, k, sql, c->name);
	}
	return e;
}

/* Creates one collection's table and indexes (inside a transaction). */
static store_err
sq_create(store_db *db, struct sq_conn *k, const struct db_coll *c)
{
	char sql[512];
	store_err e;

	snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS \"%s\" (id TEXT "
	         "PRIMARY KEY NOT NULL, version INTEGER NOT NULL, doc TEXT NOT "
	         "NULL)", c->name);
	e = sq_exec(db, k, sql, c->name);
	for (size_t i = 0; e == STORE_OK && i < c->nunique; i++) {
		snprintf(sql, sizeof sql, "CREATE UNIQUE INDEX IF NOT EXISTS "
		         "\"%s:u:%s\" ON \"%s\" (json_extract(doc,'$.%s'))", c->name,
		         c->unique[i], c->name, c->unique[i]);
		e = sq_exec(db, k, sql, c->name);
	}
	for (size_t i = 0; e == STORE_OK && i < c->nindexed; i++) {
		if (listed(c->unique, c->nunique, c->indexed[i]))
			continue;
		/* With id after the field, an equality find in id order (the
		 * outbox relay's) reads the index in order: no sort. */
		snprintf(sql, sizeof sql, "CREATE INDEX IF NOT EXISTS \"%s:i:%s\" "
		         "ON \"%s\" (json_extract(doc,'$.%s'), id)", c->name,
		         c->indexed[i], c->name, c->indexed[i]);
		e = sq_exec(db, k, sql, c->name);
	}
	if (e == STORE_OK && c->ntext > 0)
		e = sq_create_text(db, k, c);
	if (e == STORE_OK)
		e = sq_create_changes(db, k, c);
	return e;
}

/* SQLite's process-wide settings, before its first use: no memory
 * statistics, which take one global mutex on every allocation and free of
 * every connection (store-auth under wrk, 4 workers: about one futex call
 * in 25 was a thread waking another from it). Nothing here reads
 * sqlite3_memory_used or sets a heap limit. Fails harmlessly when SQLite
 * is already initialised. */
static pthread_once_t sq_configured = PTHREAD_ONCE_INIT;

static void
sq_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static store_err
sq_open(store_db *db, const char *url, char *err, size_t errlen)
{
	const char *path = url + strlen("sqlite:");
	struct sq_conn *k = NULL;
	struct sq_db *s;
	store_err e;

	if (*path == '\0' || strcmp(path, ":memory:") == 0 ||
	    strlen(path) >= PATH_MAX) {
		snprintf(err, errlen, "sqlite url needs a file path "
		         "('sqlite:PATH')");
		return STORE_ECONFIG;
	}
	pthread_once(&sq_configured, sq_configure);
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return STORE_ENOMEM;
	pthread_mutex_init(&s->writer, NULL);
	db->impl = s;
	s->path = strdup(path);
	if (s->path == NULL)
		return STORE_ENOMEM;
	e = sq_own(db, &k);
	if (e != STORE_OK) {
		snprintf(err, errlen, "%s", store_db_errmsg(db));
		return e;
	}
	e = sq_wal(db, k);
	if (e == STORE_OK)
		e = sq_exec(db, k, "BEGIN IMMEDIATE", "begin");
	if (e == STORE_OK)
		e = sq_exec(db, k, "CREATE TABLE IF NOT EXISTS \"store:changes\" (coll TEXT "
		            "PRIMARY KEY NOT NULL, n INTEGER NOT NULL)", "store:changes");
	for (size_t i = 0; e == STORE_OK && i < db->ncolls; i++)
		e = sq_create(db, k, &db->colls[i]);
	if (e == STORE_OK)
		e = sq_exec(db, k, "COMMIT", "commit");
	if (e != STORE_OK) {
		if (!sqlite3_get_autocommit(k->h))
			sqlite3_exec(k->h, "ROLLBACK", NULL, NULL, NULL);
		snprintf(err, errlen, "sqlite database '%s': %s", path,
		         store_db_errmsg(db));
	}
	return e;
}

static void
sq_close(store_db *db)
{
	struct sq_db *s = db->impl;

	if (s == NULL)
		return;
	if (s->w != NULL)
		sq_conn_free(db, s->w);
	pthread_mutex_destroy(&s->writer);
	free(s->path);
	free(s);
	db->impl = NULL;
}

const struct db_ops db_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.conn_free = sq_conn_free,
	.ping = sq_ping,
	.insert = sq_insert,
	.get = sq_get,
	.get_member = sq_get_member,
	.find = sq_find,
	.find_text = sq_find_text,
	.count = sq_count,
	.changes = sq_changes,
	.search = sq_search,
	.update = sq_update,
	.set = sq_set,
	.delete = sq_delete,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
};
