/* db_impl.h - private: what db.c shares with the backends (db_sqlite.c,
 * linked in; modules/db_mongo.c, a module loaded by db_module.c).
 *
 * db.c checks every argument (collection declared, field names, scalar
 * filter values, document keys) before calling a backend, resolves the
 * collection, and runs store_db_txn's retry loop and nesting; a backend
 * only talks to its database. */
#ifndef STORE_DB_IMPL_H
#define STORE_DB_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "store/db.h"
#include "store/log.h"

#define DB_NAME_MAX    64        /* collection name length */
#define DB_FIELD_MAX   128       /* field name length */
#define DB_FILTER_MAX  32        /* fields in one filter */
#define DB_DEPTH_MAX   64        /* nesting of objects and arrays in a doc */
#define DB_DOC_MAX     (16u << 20) /* encoded document size (MongoDB's) */
#define DB_ERRMSG_MAX  256
#define DB_CONFLICT_ATTEMPTS 50  /* store_db_txn_retry */

/* A declared collection, copied from the caller's store_collection. */
struct db_coll {
	char *name;
	char **unique;            /* nunique names */
	size_t nunique;
	char **indexed;           /* nindexed names */
	size_t nindexed;
	char **text;              /* ntext names: store_db_search's fields */
	size_t ntext;
};

/* One thread's state for one store_db, made on the thread's first call and
 * freed when the thread exits or by store_db_free. */
struct db_thread {
	store_db *db;
	struct db_thread *prev, *next;  /* in db->threads, under db->mu */
	void *conn;                     /* the backend's; freed by conn_free */
	int depth;                      /* store_db_txn nesting, 0 outside */
	store_err doomed;               /* a joined store_db_txn failed */
	bool transient;                 /* the transaction may succeed if re-run */
	char errmsg[DB_ERRMSG_MAX];     /* store_db_errmsg */
};

struct db_ops {
	const char *name;
	/* Connects to url (the whole URL, scheme included) and creates the
	 * collections and indexes; sets db->impl. Writes a message to err. */
	store_err (*open)(store_db *db, const char *url, char *err, size_t errlen);
	/* Frees db->impl; every thread's conn is already freed. */
	void (*close)(store_db *db);
	/* Frees one thread's conn (maybe from another thread). */
	void (*conn_free)(store_db *db, void *conn);
	store_err (*ping)(store_db *db);
	/* doc has a valid "id" and "version" 0. */
	store_err (*insert)(store_db *db, const struct db_coll *c, json_t *doc,
	                    const char **field);
	/* id is a valid ObjectId. */
	store_err (*get)(store_db *db, const struct db_coll *c, const char *id,
	                 json_t **out);
	/* id is a valid ObjectId, name a checked member name (store_db_set's
	 * rule); *out JSON null when the member is missing. NULL: db.c gets
	 * the document and takes the member. */
	store_err (*get_member)(store_db *db, const struct db_coll *c,
	                        const char *id, const char *name, json_t **out);
	/* filter is an object of checked fields and scalar values; opts is
	 * never NULL. */
	store_err (*find)(store_db *db, const struct db_coll *c,
	                  const json_t *filter, const store_find_opts *opts,
	                  json_t **out);
	/* As find, appending each document to out (db_texts_add); NULL:
	 * db.c runs find and encodes each document. */
	store_err (*find_text)(store_db *db, const struct db_coll *c,
	                       const json_t *filter, const store_find_opts *opts,
	                       store_db_texts *out);
	store_err (*count)(store_db *db, const struct db_coll *c,
	                   const json_t *filter, size_t *out);
	/* c has text fields; words (1 to STORE_DB_SEARCH_WORDS) hold only
	 * ASCII letters and digits and bytes >= 0x80; filter as for find;
	 * total may be NULL. */
	store_err (*search)(store_db *db, const struct db_coll *c,
	                    const char *const *words, size_t nwords,
	                    const json_t *filter, const store_find_opts *opts,
	                    json_t **out, size_t *total);
	/* doc has a valid "id"; version is its "version". On success the
	 * stored document is doc with "version" version + 1. */
	store_err (*update)(store_db *db, const struct db_coll *c, json_t *doc,
	                    long long version, const char **field);
	/* id is a valid ObjectId; fields' names and values are checked
	 * (store_db_set), their size is not. NULL: db.c reads the document
	 * and updates it whole. */
	store_err (*set)(store_db *db, const struct db_coll *c, const char *id,
	                 long long version, const json_t *fields, const char **field);
	store_err (*delete)(store_db *db, const struct db_coll *c, const char *id,
	                    long long version);
	/* The sum of colls' change counters (store_db_changes), n from 1 to
	 * STORE_DB_CHANGES_COLLS, outside a transaction. NULL: the backend
	 * keeps none. */
	store_err (*changes)(store_db *db, const struct db_coll *const *colls,
	                     size_t n, unsigned long long *out);
	/* Transactions, on t's thread; t->depth is 0 during these calls. */
	store_err (*begin)(store_db *db, struct db_thread *t);
	store_err (*commit)(store_db *db, struct db_thread *t);
	void (*rollback)(store_db *db, struct db_thread *t);
};

struct store_db {
	const struct db_ops *ops;
	void *impl;                     /* the backend's */
	struct db_coll *colls;
	size_t ncolls;
	pthread_key_t key;              /* -> struct db_thread */
	pthread_mutex_t mu;             /* guards threads */
	struct db_thread *threads;
	struct db_memo *memo;           /* store_db_memo_*, db_memo.c */
	store_db_commit_fn on_commit;   /* store_db_on_commit; NULL: none */
	void *on_commit_ctx;
};

/* The memo's state for a database being opened; NULL when out of memory.
 * db_memo_free frees it (NULL is fine). */
struct db_memo *db_memo_new(void);
void db_memo_free(struct db_memo *m);

extern const struct db_ops db_sqlite_ops;

/* What db.c lends a backend built as a module: the module links against no
 * libstore symbol (the programs export none), so it reaches these through
 * the table db_module_load hands to its entry point. */
struct db_host {
	struct db_thread *(*thread_get)(store_db *db);
	store_err (*fail)(store_db *db, store_err e, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	void (*mark_transient)(store_db *db);
	const char *(*unique_field)(const struct db_coll *c, const char *name,
	                            size_t len);
	const char *(*errmsg)(store_db *db);
	void (*log)(store_log_level lvl, const char *req_id,
	            const char *event_id, const char *fmt, ...)
		__attribute__((format(printf, 4, 5)));
};

/* A module's one exported symbol, DB_MODULE_ENTRY: called once, returns
 * its backend (NULL when it cannot start). host outlives the module. */
typedef const struct db_ops *db_module_entry(const struct db_host *host);
#define DB_MODULE_ENTRY "store_db_module"

/* The backend of module name ("mongo": DIR/db_mongo.so), loaded on first
 * use and kept for the process's life. DIR is $STORE_MODULE_DIR, else
 * lib/store beside the program's folder (PREFIX/sbin/x and PREFIX/bin/x
 * load PREFIX/lib/store/; build/bin/x loads build/lib/store/). NULL with a
 * message in err when it cannot be loaded. */
const struct db_ops *db_module_load(const char *name, char *err,
                                    size_t errlen);

/* The calling thread's state, made on first use; NULL when out of memory. */
struct db_thread *db_thread_get(store_db *db);

/* Records a message for store_db_errmsg on the calling thread and returns e.
 * Lowercase, the subject in quotes, no secrets. */
store_err db_fail(store_db *db, store_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Marks the calling thread's transaction, if any, as worth re-running. */
void db_mark_transient(store_db *db);

/* The document without its "id" and "version" members (a shallow copy);
 * NULL when out of memory. Caller frees with json_decref. */
json_t *db_doc_body(const json_t *doc);

/* The checks of store_db_find: coll declared (*c), filter fields and
 * values, the sort field (opts may be NULL). */
store_err db_find_check(store_db *db, const char *coll, const json_t *filter,
                        const store_find_opts *opts, const struct db_coll **c);

/* Appends one document to t: its id (idlen bytes), version and body text
 * (len bytes); all are copied. STORE_ENOMEM, or STORE_ETOOBIG past
 * DB_TEXTS_MAX bytes in all. */
#define DB_TEXTS_MAX (512u << 20)
store_err db_texts_add(store_db *db, store_db_texts *t, const char *id,
                       size_t idlen, long long version, const char *body,
                       size_t len);

/* The first of c's unique fields equal to name (the pointer db owns), or
 * NULL. */
const char *db_unique_field(const struct db_coll *c, const char *name,
                            size_t len);

#endif
