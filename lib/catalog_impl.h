/* catalog_impl.h - private: helpers shared by the catalog's files. */
#ifndef STORE_CATALOG_IMPL_H
#define STORE_CATALOG_IMPL_H

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

#endif
