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
