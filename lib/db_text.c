/* db_text.c - store_db_find_text: documents as their stored JSON text, and
 * the list that holds them. A backend with a find_text op appends its
 * stored text as it is; for one without, each document found is encoded. */
#include "db_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>


/* Grows t's string space to hold need more bytes. */
static store_err
texts_reserve(store_db *db, store_db_texts *t, size_t need)
{
	size_t cap = t->cap > 0 ? t->cap : 4096;
	char *buf;

	if (need > DB_TEXTS_MAX || t->used > DB_TEXTS_MAX - need)
		return db_fail(db, STORE_ETOOBIG, "documents found are over %u "
		               "bytes", DB_TEXTS_MAX);
	if (t->used + need <= t->cap)
		return STORE_OK;
	while (cap < t->used + need)
		cap *= 2;
	buf = realloc(t->buf, cap);
	if (buf == NULL)
		return STORE_ENOMEM;
	t->buf = buf;
	t->cap = cap;
	return STORE_OK;
}

/* While the list is built, docs[i].id and .body hold offsets into buf
 * (the buffer moves as it grows); texts_finish makes them pointers. */
store_err
db_texts_add(store_db *db, store_db_texts *t, const char *id, size_t idlen,
             long long version, const char *body, size_t len)
{
	store_db_text *d;
	store_err e;

	if (t->n == t->ncap) {
		size_t ncap = t->ncap > 0 ? t->ncap * 2 : 16;
		store_db_text *docs = realloc(t->docs, ncap * sizeof *docs);

		if (docs == NULL)
			return STORE_ENOMEM;
		t->docs = docs;
		t->ncap = ncap;
	}
	e = texts_reserve(db, t, idlen + len + 2);
	if (e != STORE_OK)
		return e;
	d = &t->docs[t->n++];
	d->id = (const char *)(uintptr_t)t->used;
	memcpy(t->buf + t->used, id, idlen);
	t->buf[t->used + idlen] = '\0';
	t->used += idlen + 1;
	d->version = version;
	d->body = (const char *)(uintptr_t)t->used;
	d->len = len;
	memcpy(t->buf + t->used, body, len);
	t->buf[t->used + len] = '\0';
	t->used += len + 1;
	return STORE_OK;
}

static void
texts_finish(store_db_texts *t)
{
	for (size_t i = 0; i < t->n; i++) {
		t->docs[i].id = t->buf + (uintptr_t)t->docs[i].id;
		t->docs[i].body = t->buf + (uintptr_t)t->docs[i].body;
	}
}

void
store_db_texts_free(store_db_texts *t)
{
	if (t == NULL)
		return;
	free(t->docs);
	free(t->buf);
	free(t);
}

/* A backend without find_text: its documents, each encoded. */
static store_err
texts_of_find(store_db *db, const struct db_coll *c, const json_t *filter,
              const store_find_opts *opts, store_db_texts *t)
{
	json_t *all = NULL, *doc, *body = NULL;
	char *text = NULL;
	size_t i;
	store_err e;

	e = db->ops->find(db, c, filter, opts, &all);
	if (e != STORE_OK)
		return e;
	json_array_foreach(all, i, doc) {
		const char *id = json_string_value(json_object_get(doc, "id"));

		body = db_doc_body(doc);
		text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
		if (text == NULL || id == NULL) {
			e = text == NULL ? STORE_ENOMEM :
			    db_fail(db, STORE_EIO, "a document of '%s' has no id",
			            c->name);
			goto out;
		}
		e = db_texts_add(db, t, id, strlen(id),
		                 json_integer_value(json_object_get(doc, "version")),
		                 text, strlen(text));
		if (e != STORE_OK)
			goto out;
		free(text);
		text = NULL;
		json_decref(body);
		body = NULL;
	}
out:
	free(text);
	json_decref(body);
	json_decref(all);
	return e;
}

store_err
store_db_find_text(store_db *db, const char *coll, const json_t *filter,
                   const store_find_opts *opts, store_db_texts **out)
{
	static const store_find_opts none;
	store_db_texts *t = NULL;
	const struct db_coll *c;
	store_err e;

	if (out != NULL)
		*out = NULL;
	if (db == NULL || out == NULL)
		return STORE_EINVAL;
	e = db_find_check(db, coll, filter, opts, &c);
	if (e != STORE_OK)
		return e;
	if (opts == NULL)
		opts = &none;
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return STORE_ENOMEM;
	e = db->ops->find_text != NULL ? db->ops->find_text(db, c, filter, opts, t)
	                               : texts_of_find(db, c, filter, opts, t);
	if (e != STORE_OK) {
		store_db_texts_free(t);
		return e;
	}
	texts_finish(t);
	*out = t;
	return STORE_OK;
}
