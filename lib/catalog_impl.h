/* catalog_impl.h - private: helpers shared by the catalog's files. */
#ifndef STORE_CATALOG_IMPL_H
#define STORE_CATALOG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "store/catalog.h"

/* {id, name, description, userId}. New reference. */
json_t *catalog_category_view(const json_t *doc);

/* API.md's product, with its category (may be NULL). New reference. */
json_t *catalog_product_view(const json_t *doc, const json_t *category);

/* The product.created/updated payload. New reference. */
json_t *catalog_product_payload(const json_t *doc);

/* Adds an event to the outbox; payload is stolen. */
store_err catalog_emit(store_db *db, const char *subject, json_t *payload,
                       const char *request_id);

/* An answer written as text (catalog_text.c). The first failure sticks
 * in err and later appends do nothing; s is NUL-terminated, n bytes.
 * Free s with catalog_buf_free. */
struct catalog_buf {
	char *s;
	size_t n, cap;
	store_err err;
};

void catalog_buf_add(struct catalog_buf *b, const char *s, size_t n);
void catalog_buf_str(struct catalog_buf *b, const char *s);
void catalog_buf_free(struct catalog_buf *b);

#define CATALOG_NUMBER_MAX 64   /* length of a stored number we convert */

/* The raw text of a member's value in a stored document; s NULL when the
 * member is absent. Points into the document. */
struct catalog_span {
	const char *s;
	size_t n;
};

/* A member name looked for, with its length (CATALOG_KEY("name")). */
struct catalog_key {
	const char *s;
	size_t n;
};
#define CATALOG_KEY(lit) { (lit), sizeof (lit) - 1 }

/* catalog_scan.c: finds the values of keys[] among the top-level members
 * of the JSON object text (len bytes) into vals[]. false when the text is not one
 * object json_loadb would load, or holds a string jansson would write
 * back differently: then only the parse/encode path gives the answer. */
bool catalog_members(const char *text, size_t len, const struct catalog_key *keys,
                     size_t nkeys, struct catalog_span *vals);

/* Appends the JSON array of API.md's categories of docs (as encoding each
 * catalog_category_view would). */
store_err catalog_categories_text(const store_db_texts *docs, struct catalog_buf *b);

/* Appends the JSON array of API.md's products of docs, each with its
 * category: category's when it is not NULL, else each product's own, read
 * once per distinct id (a missing one gives {id}), as product_views and
 * catalog_product_view would. */
store_err catalog_products_text(store_db *db, const store_db_texts *docs,
                                const json_t *category, struct catalog_buf *b);

#endif
