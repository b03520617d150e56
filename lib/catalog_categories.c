/* catalog_categories.c - categories: list, create, update, delete. */
#include "catalog_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"
#include "store/session_gen.h"

static const char *const categories_unique[] = { "nameKey", NULL };
static const char *const products_indexed[] = { "categoryId", "userId", NULL };
static const char *const products_text[] = { "name", "description", NULL };
static const char *const selections_indexed[] = { "productId", "userId", "status", NULL };

const store_collection store_catalog_collections[] = {
	{ "categories", categories_unique, NULL },
	{ "products", NULL, products_indexed, products_text },
	{ "selections", NULL, selections_indexed },
	{ "pictures", NULL, NULL },
	STORE_SESSION_GEN_COLLECTION,
	STORE_BUS_COLLECTIONS,
};
const size_t store_catalog_ncollections =
	sizeof store_catalog_collections / sizeof *store_catalog_collections;

/* Sets name, nameKey (lowercase) and description of doc from in. */
static store_err
set_names(json_t *doc, const json_t *in)
{
	const char *name = store_json_str(in, "name");
	char *key = strdup(name != NULL ? name : "");
	store_err e = STORE_ENOMEM;

	if (key == NULL)
		return e;
	for (char *p = key; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (json_object_set_new(doc, "name", json_string(name)) == 0 &&
	    json_object_set_new(doc, "nameKey", json_string(key)) == 0 &&
	    json_object_set_new(doc, "description",
	                        json_string(store_json_str(in, "description"))) == 0)
		e = STORE_OK;
	free(key);
	return e;
}

static void
refuse_duplicate(store_refusal *why, const json_t *in)
{
	snprintf(why->buf, sizeof why->buf, "Category '%s' already exists.",
	         store_json_str(in, "name"));
	why->message = why->buf;
	why->field = "name";
}

store_err
store_categories_list(store_db *db, json_t **out)
{
	store_find_opts opts = { "nameKey", 0, 0, 0 };
	json_t *docs = NULL, *doc;
	size_t i;
	store_err e;

	*out = NULL;
	if ((e = store_db_find(db, "categories", NULL, &opts, &docs)) != STORE_OK)
		return e;
	*out = json_array();
	json_array_foreach(docs, i, doc)
		json_array_append_new(*out, catalog_category_view(doc));
	json_decref(docs);
	return *out != NULL ? STORE_OK : STORE_ENOMEM;
}

store_err
store_category_create(store_db *db, const store_actor *who, const json_t *in,
                      json_t **out, store_refusal *why)
{
	json_t *doc = json_pack("{s:s}", "userId", who->user->id);
	store_err e = STORE_ENOMEM;

	*out = NULL;
	if (doc == NULL || (e = set_names(doc, in)) != STORE_OK)
		goto out;
	e = store_db_insert(db, "categories", doc, NULL);
	if (e == STORE_EDUPLICATE) {
		refuse_duplicate(why, in);
		e = STORE_EINVAL;
		goto out;
	}
	if (e == STORE_OK)
		*out = catalog_category_view(doc);
out:
	json_decref(doc);
	return e;
}

/* The category id, if the caller owns it. Caller frees *doc. */
static store_err
owned_category(store_db *db, const store_actor *who, const char *id, json_t **doc)
{
	store_err e = store_db_get(db, "categories", id, doc);

	if (e != STORE_OK)
		return e;
	if (strcmp(store_json_str(*doc, "userId"), who->user->id) != 0) {
		json_decref(*doc);
		*doc = NULL;
		return STORE_EFORBIDDEN;
	}
	return STORE_OK;
}

store_err
store_category_update(store_db *db, const store_actor *who, const char *id,
                      const json_t *in, json_t **out, store_refusal *why)
{
	json_t *doc = NULL;
	store_err e;

	*out = NULL;
	if ((e = owned_category(db, who, id, &doc)) != STORE_OK ||
	    (e = set_names(doc, in)) != STORE_OK)
		goto out;
	e = store_db_update(db, "categories", doc, NULL);
	if (e == STORE_EDUPLICATE) {
		refuse_duplicate(why, in);
		e = STORE_EINVAL;
		goto out;
	}
	if (e == STORE_OK)
		*out = catalog_category_view(doc);
out:
	json_decref(doc);
	return e;
}

typedef struct delete_ctx {
	const store_actor *who;
	const char *id;
	store_refusal *why;
} delete_ctx;

/* Counts the category's products and deletes it in one transaction, so a
 * product added meanwhile cannot be orphaned. */
static store_err
category_delete_tx(store_db *db, void *arg)
{
	delete_ctx *c = arg;
	json_t *doc = NULL, *filter = json_pack("{s:s}", "categoryId", c->id);
	size_t n = 0;
	store_err e = STORE_ENOMEM;

	if (filter == NULL || (e = owned_category(db, c->who, c->id, &doc)) != STORE_OK ||
	    (e = store_db_count(db, "products", filter, &n)) != STORE_OK)
		goto out;
	if (n > 0) {
		snprintf(c->why->buf, sizeof c->why->buf, "You cannot delete category '%s'. "
		         "There is a product attached to this category.", store_json_str(doc, "name"));
		c->why->message = c->why->buf;
		c->why->field = NULL;
		e = STORE_EINVAL;
		goto out;
	}
	e = store_db_delete(db, "categories", c->id, store_json_int(doc, "version", 0));
out:
	json_decref(filter);
	json_decref(doc);
	return e;
}

store_err
store_category_delete(store_db *db, const store_actor *who, const char *id,
                      store_refusal *why)
{
	delete_ctx c = { who, id, why };

	return store_db_txn_retry(db, category_delete_tx, &c);
}
