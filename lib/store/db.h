/* db.h - the document-store port.
 *
 * Collections of JSON objects. Every document has "id" (a 24-hex ObjectId,
 * generated on insert) and "version" (0 on insert, +1 on every update).
 * Two backends behind one interface, chosen by the URL given to
 * store_db_open:
 *   sqlite:PATH           embedded default (one file, WAL, busy timeout)
 *   mongodb://...         MongoDB through mongo-c-driver (a replica set for
 *                         transactions); the database is the URI's path.
 *                         A module (db_mongo.so) loaded on first use from
 *                         $STORE_MODULE_DIR, else lib/store beside the
 *                         program's folder; without it, STORE_ECONFIG
 *
 * Threads: a store_db is shared by all threads of a process. Each thread
 * uses its own backend connection internally. Calls made inside the
 * callback of store_db_txn, on the same thread, join that transaction.
 * Call store_db_free once no other thread uses db. Processes: a forked
 * child neither uses nor frees its parent's store_db; it opens its own.
 *
 * Filters are equality maps built by code ({"field": value, ...}, values
 * string, integer, real, true/false or null), never taken from request JSON:
 * a value that is an object or array is refused with STORE_EINVAL, so
 * operator injection cannot happen. Field names are [A-Za-z0-9_.] only.
 */
#ifndef STORE_DB_H
#define STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "store/err.h"

typedef struct store_db store_db;

/* A collection the program uses: its name ([a-z_]+), the fields whose
 * values must be unique (NULL-terminated, may be NULL), the fields it
 * finds or sorts by (NULL-terminated, may be NULL) and the string fields
 * store_db_search looks in (NULL-terminated, may be NULL; the first weighs
 * ten times the others in the ranking). Callers wanting case-insensitive
 * uniqueness store a normalised value. */
typedef struct store_collection {
	const char *name;
	const char *const *unique;
	const char *const *indexed;
	const char *const *text;
} store_collection;

/* Opens the database at url and makes sure each collection, its unique
 * indexes and its indexes exist (colls is copied; "id" and "version" may
 * not be listed, they are built in). On failure returns an error and
 * writes a message (no secrets, no password from the URL) into err:
 * STORE_ECONFIG for an unsupported or malformed url, STORE_EINVAL for a
 * bad schema, STORE_EUNAVAIL when the server cannot be reached.
 * Caller frees *out with store_db_free. */
store_err store_db_open(const char *url, const store_collection *colls,
                        size_t ncolls, store_db **out, char *err, size_t errlen);
void store_db_free(store_db *db);

/* "sqlite" or "mongodb". */
const char *store_db_backend(const store_db *db);

/* Describes the calling thread's last failure on db in words (lowercase,
 * the subject in quotes, no secrets), for a log line; "" when there was
 * none. The string belongs to db and changes on the thread's next call. */
const char *store_db_errmsg(store_db *db);

/* Answers STORE_OK when the backend responds (readiness). */
store_err store_db_ping(store_db *db);

/* Inserts doc. Sets doc's "id" (a new ObjectId unless doc already has a
 * valid "id") and "version" = 0 in place. doc is borrowed.
 * STORE_EDUPLICATE when a unique field (or the id) is taken; then *field,
 * when field is not NULL, points at the static name of that field
 * ("id" or one of the collection's unique fields; db owns it, valid until
 * store_db_free). Keys of doc, at any depth, must not be empty, start with
 * '$' or hold '.', and "_id" is reserved (STORE_EINVAL). */
store_err store_db_insert(store_db *db, const char *coll, json_t *doc,
                          const char **field);

/* Gets one document by id. STORE_ENOTFOUND when absent (also for a malformed
 * id). Caller frees *out with json_decref. */
store_err store_db_get(store_db *db, const char *coll, const char *id,
                       json_t **out);

/* Gets one top-level member of the document id: *out its value, JSON null
 * when the document has no such member (or it is null). name as for
 * store_db_set ([A-Za-z0-9_]+, not "id", "version" or "_id"; STORE_EINVAL
 * otherwise). STORE_ENOTFOUND when there is no document id. SQLite takes
 * the member out in the query, so the rest of the document is never
 * decoded: for hot paths that need one number of a large document (the
 * session check, session_gen.h). Caller frees *out with json_decref. */
store_err store_db_get_member(store_db *db, const char *coll, const char *id,
                              const char *name, json_t **out);

typedef struct store_find_opts {
	const char *sort;  /* field name, or NULL for insertion (id) order */
	int desc;          /* nonzero: descending */
	size_t limit;      /* 0: no limit */
	size_t skip;
} store_find_opts;

/* Finds documents equal to filter on every field (filter may be NULL or {}
 * for all). opts may be NULL. Caller frees *out (an array) with json_decref. */
store_err store_db_find(store_db *db, const char *coll, const json_t *filter,
                        const store_find_opts *opts, json_t **out);

/* Stored documents as JSON text, for answers that copy stored values
 * without decoding them (store_db_find_text). Each document: its "id", its
 * "version" and body, the text of one JSON object holding its other
 * members (compact, NUL-terminated, len bytes without the NUL; strings
 * escaped as jansson writes them with JSON_COMPACT: '"', '\\' and control
 * characters only, UTF-8 kept). The list owns every string. */
typedef struct store_db_text {
	const char *id;
	long long version;
	const char *body;
	size_t len;
} store_db_text;

typedef struct store_db_texts {
	store_db_text *docs;   /* n documents, in the find's order */
	size_t n;
	/* the db port's: where the strings are, while it builds the list */
	char *buf;
	size_t used, cap, ncap;
} store_db_texts;

/* As store_db_find, but the documents come as stored text (SQLite: the
 * stored column itself, no JSON decoded or encoded; MongoDB: each document
 * encoded). Caller frees *out with store_db_texts_free. */
store_err store_db_find_text(store_db *db, const char *coll,
                             const json_t *filter, const store_find_opts *opts,
                             store_db_texts **out);
void store_db_texts_free(store_db_texts *t);

/* Finds the first match or STORE_ENOTFOUND. Caller frees *out. */
store_err store_db_find_one(store_db *db, const char *coll,
                            const json_t *filter, json_t **out);

/* Full-text search in the collection's text fields: the documents equal
 * to filter (may be NULL) holding every word of text, case-insensitively,
 * diacritics and English suffixes aside ("Lamps" finds "lamp"). text is
 * taken as plain words, never as query syntax: a word is a run of ASCII
 * letters and digits or non-ASCII bytes, anything else separates words,
 * and words past the STORE_DB_SEARCH_WORDS-th are ignored; text with no
 * word finds nothing. With opts->sort NULL the best matches come first
 * (ties in id order), otherwise the order is as for store_db_find; limit
 * and skip as there. *total, when not NULL, gets the number of all
 * matches (before limit and skip). STORE_EINVAL when the collection
 * declares no text fields. Caller frees *out (an array) with json_decref.
 * SQLite keeps a contentless FTS5 index (the words are in the documents;
 * it holds no copy of them) updated by triggers in the writing
 * statement's transaction; an index an older version made with a copy is
 * replaced on open and filled from the documents. MongoDB: a text index. */
#define STORE_DB_SEARCH_WORDS 16
store_err store_db_search(store_db *db, const char *coll, const char *text,
                          const json_t *filter, const store_find_opts *opts,
                          json_t **out, size_t *total);

/* Counts documents equal to filter. */
store_err store_db_count(store_db *db, const char *coll, const json_t *filter,
                         size_t *out);

/* Replaces the document with doc's "id" when its stored version equals doc's
 * "version"; on success doc's "version" becomes version + 1 (in place).
 * STORE_ECONFLICT when the stored version differs, STORE_ENOTFOUND when
 * there is no such document, STORE_EDUPLICATE (and *field) on a unique
 * field. doc is borrowed. */
store_err store_db_update(store_db *db, const char *coll, json_t *doc,
                          const char **field);

/* Sets top-level members of the document id, when its stored version
 * equals version, leaving its other members as stored; the stored version
 * becomes version + 1. fields is an object of 1 to STORE_DB_SET_FIELDS
 * members, named [A-Za-z0-9_]+ but not "id", "version" or "_id", whose
 * values are as for insert; fields is borrowed. The database changes the
 * stored document itself (SQLite: json_set; a backend without its own
 * reads the document and writes it back whole, guarded by the version):
 * no document is decoded or encoded here, for writes that touch a member
 * or two of large documents (the outbox relay marking rows published).
 * STORE_ECONFLICT / STORE_ENOTFOUND as for update, STORE_EDUPLICATE (and
 * *field) on a unique field, STORE_ETOOBIG when the document could grow
 * past the size limit. */
#define STORE_DB_SET_FIELDS 16
store_err store_db_set(store_db *db, const char *coll, const char *id,
                       long long version, const json_t *fields,
                       const char **field);

/* Deletes the document id when its stored version equals version.
 * STORE_ECONFLICT / STORE_ENOTFOUND as for update. */
store_err store_db_delete(store_db *db, const char *coll, const char *id,
                          long long version);

/* A number that changes whenever a document of any of the collections
 * colls (1 to STORE_DB_CHANGES_COLLS names) is inserted, updated or
 * deleted, by this process or any other, and never goes back: equal
 * values read at two moments mean none of them changed in between. SQLite
 * keeps a counter per collection, raised by triggers in the writing
 * statement's transaction; *out is their sum. false when there is none to
 * rely on: the backend keeps none (MongoDB), the call is inside
 * store_db_txn (where it would count uncommitted writes), a collection is
 * unknown, or the read failed. For answers remembered with
 * store_db_memo_put. */
#define STORE_DB_CHANGES_COLLS 8
bool store_db_changes(store_db *db, const char *const *colls, size_t n,
                      unsigned long long *out);

/* Answers remembered beside the database, each under a key and the
 * store_db_changes value read before it was built (and again after, equal:
 * store the answer only then). A get finds an answer only under the same
 * key and the same changes value, so an answer is never served once a
 * collection it was built from changed. At most STORE_DB_MEMO_SLOTS
 * answers of up to STORE_DB_MEMO_TEXT bytes each, keys up to
 * STORE_DB_MEMO_KEY bytes (longer ones are not remembered); the least
 * recently used goes first. Thread-safe.
 *
 * store_db_memo_get: true and a copy of the text (NUL-terminated, caller
 * frees *text) with its length and aux, the caller's number stored beside
 * it; false when not remembered (or out of memory).
 * store_db_memo_put: remembers a copy of text (len bytes) under key and
 * changes, replacing what key held; nothing when it cannot. */
#define STORE_DB_MEMO_SLOTS 32
#define STORE_DB_MEMO_TEXT  (512u << 10)
#define STORE_DB_MEMO_KEY   160
bool store_db_memo_get(store_db *db, const char *key, unsigned long long changes,
                       char **text, size_t *len, size_t *aux);
void store_db_memo_put(store_db *db, const char *key, unsigned long long changes,
                       const char *text, size_t len, size_t aux);

/* Runs fn(db, ctx) in one transaction: committed when fn returns STORE_OK,
 * rolled back otherwise (fn's error is returned). Transient failures
 * (SQLite busy, MongoDB TransientTransactionError / unknown commit result)
 * run fn again, a bounded number of times, so fn must be safe to re-run
 * (no effects outside the database). Nested calls on the same thread join
 * the outer transaction; when a nested call fails, the outer transaction is
 * rolled back even if its fn returns STORE_OK, and the nested call's error
 * is returned. A write that fails inside fn (STORE_EDUPLICATE, ...) may
 * end the whole transaction (MongoDB aborts it), so fn should return
 * that error rather than carry on. */
typedef store_err (*store_db_txn_fn)(store_db *db, void *ctx);
store_err store_db_txn(store_db *db, store_db_txn_fn fn, void *ctx);

/* As store_db_txn, run again (a bounded number of times) while fn answers
 * STORE_ECONFLICT: a version-guarded write lost a race with another writer
 * and fn re-reads what it changes. */
store_err store_db_txn_retry(store_db *db, store_db_txn_fn fn, void *ctx);

/* Sets db's one commit hook (fn NULL: none): fn(ctx) runs on the
 * committing thread after each outermost store_db_txn commits, not after
 * a rollback. The bus uses it to wake its relay (bus.h). Set it before
 * other threads use db, and clear it once none does. */
typedef void (*store_db_commit_fn)(void *ctx);
void store_db_on_commit(store_db *db, store_db_commit_fn fn, void *ctx);

#endif
