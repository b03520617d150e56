/* catalog_common.c - views, event payloads and transactions of the catalog. */
#include "catalog_impl.h"

#include <stdio.h>

#include "store/json.h"

json_t *
catalog_category_view(const json_t *doc)
{
	return json_pack("{s:s?,s:s?,s:s?,s:s?}",
	                 "id", store_json_str(doc, "id"),
	                 "name", store_json_str(doc, "name"),
	                 "description", store_json_str(doc, "description"),
	                 "userId", store_json_str(doc, "userId"));
}

json_t *
catalog_product_view(const json_t *doc, const json_t *category)
{
	json_t *v = json_pack("{s:s?,s:s?,s:s?,s:o,s:s?,s:s?,s:I,s:I,s:I}",
	                      "id", store_json_str(doc, "id"),
	                      "name", store_json_str(doc, "name"),
	                      "description", store_json_str(doc, "description"),
	                      "price", store_json_money(store_json_int(doc, "price", 0)),
	                      "picture", store_json_str(doc, "picture"),
	                      "userId", store_json_str(doc, "userId"),
	                      "views", (json_int_t)store_json_int(doc, "views", 0),
	                      "count", (json_int_t)store_json_int(doc, "count", 0),
	                      "version", (json_int_t)store_json_int(doc, "version", 0));

	if (v != NULL)
		json_object_set_new(v, "category", category != NULL
		                    ? catalog_category_view(category)
		                    : json_pack("{s:s?}", "id", store_json_str(doc, "categoryId")));
	return v;
}

json_t *
catalog_product_payload(const json_t *doc)
{
	return json_pack("{s:s?,s:s?,s:s?,s:o,s:s?,s:s?,s:s?,s:I,s:I,s:I}",
	                 "id", store_json_str(doc, "id"),
	                 "name", store_json_str(doc, "name"),
	                 "description", store_json_str(doc, "description"),
	                 "price", store_json_money(store_json_int(doc, "price", 0)),
	                 "picture", store_json_str(doc, "picture"),
	                 "userId", store_json_str(doc, "userId"),
	                 "categoryId", store_json_str(doc, "categoryId"),
	                 "count", (json_int_t)store_json_int(doc, "count", 0),
	                 "views", (json_int_t)store_json_int(doc, "views", 0),
	                 "version", (json_int_t)store_json_int(doc, "version", 0));
}

store_err
catalog_emit(store_db *db, const char *subject, json_t *payload, const char *request_id)
{
	store_err e;

	if (payload == NULL)
		return STORE_ENOMEM;
	e = store_outbox_add(db, subject, payload, request_id, NULL);
	json_decref(payload);
	return e;
}
