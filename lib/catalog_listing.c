/* catalog_listing.c - pages of products and categories, search, one
 * product: the shop's read paths. */
#include "catalog_impl.h"

#include <string.h>

#include "store/json.h"
#include "store/oid.h"

#define CATEGORY_CACHE 64   /* categories remembered while building a page */

const char *const store_listing_sorts[] = { "price", "-price", "newest", NULL };

/* The find options of l: a page, and an order by field. */
static void
listing_opts(const store_listing *l, store_find_opts *o)
{
	memset(o, 0, sizeof *o);
	if (l->limit > 0) {
		o->limit = l->limit;
		o->skip = (l->page > 0 ? l->page - 1 : 0) * l->limit;
	}
	if (l->sort == NULL)
		return;
	if (strcmp(l->sort, "price") == 0 || strcmp(l->sort, "-price") == 0) {
		o->sort = "price";
		o->desc = l->sort[0] == '-';
	} else if (strcmp(l->sort, "newest") == 0) {
		o->sort = "id";   /* an ObjectId starts with its creation time */
		o->desc = 1;
	}
}

/* docs as API.md's products, each with its category (one read per
 * distinct category; a missing one leaves {id}). Caller frees *out. */
static store_err
product_views(store_db *db, const json_t *docs, json_t **out)
{
	json_t *seen[CATEGORY_CACHE] = { NULL }, *doc, *cat, *all = json_array();
	size_t i, nseen = 0;
	store_err e = STORE_OK;

	*out = NULL;
	if (all == NULL)
		return STORE_ENOMEM;
	json_array_foreach(docs, i, doc) {
		const char *cid = store_json_str(doc, "categoryId");
		json_t *fetched = NULL;

		cat = NULL;
		for (size_t j = 0; cid != NULL && j < nseen; j++)
			if (strcmp(store_json_str(seen[j], "id"), cid) == 0)
				cat = seen[j];
		if (cat == NULL && cid != NULL && store_oid_valid(cid)) {
			e = store_db_get(db, "categories", cid, &fetched);
			if (e == STORE_ENOTFOUND)
				e = STORE_OK;
			if (e != STORE_OK)
				goto out;
			cat = fetched;
			if (fetched != NULL && nseen < CATEGORY_CACHE) {
				seen[nseen++] = fetched;   /* seen owns it now */
				fetched = NULL;
			}
		}
		if (json_array_append_new(all, catalog_product_view(doc, cat)) != 0)
			e = STORE_ENOMEM;
		json_decref(fetched);
		if (e != STORE_OK)
			goto out;
	}
	*out = all;
	all = NULL;
out:
	for (size_t j = 0; j < nseen; j++)
		json_decref(seen[j]);
	json_decref(all);
	return e;
}

store_err
store_products_page(store_db *db, const char *category_id,
                    const store_listing *l, json_t **out, size_t *total)
{
	store_find_opts o;
	json_t *filter = NULL, *docs = NULL;
	store_err e;

	*out = NULL;
	*total = 0;
	if (!store_oid_valid(category_id))
		return STORE_ENOTFOUND;   /* a malformed path id (API.md) */
	listing_opts(l, &o);
	filter = json_pack("{s:s}", "categoryId", category_id);
	if (filter == NULL)
		return STORE_ENOMEM;
	if ((e = store_db_find(db, "products", filter, &o, &docs)) == STORE_OK &&
	    (e = store_db_count(db, "products", filter, total)) == STORE_OK)
		e = product_views(db, docs, out);
	json_decref(docs);
	json_decref(filter);
	return e;
}

store_err
store_products_search(store_db *db, const char *text, const store_listing *l,
                      json_t **out, size_t *total)
{
	store_find_opts o;
	json_t *docs = NULL;
	store_err e;

	*out = NULL;
	*total = 0;
	listing_opts(l, &o);
	e = store_db_search(db, "products", text, NULL, &o, &docs, total);
	if (e == STORE_OK)
		e = product_views(db, docs, out);
	json_decref(docs);
	return e;
}

store_err
store_product_get(store_db *db, const char *id, json_t **out)
{
	json_t *doc = NULL, *docs = NULL, *views = NULL;
	store_err e;

	*out = NULL;
	e = store_db_get(db, "products", id, &doc);
	if (e != STORE_OK)
		return e;
	docs = json_pack("[o]", doc);
	if (docs == NULL)
		return STORE_ENOMEM;
	e = product_views(db, docs, &views);
	if (e == STORE_OK)
		*out = json_incref(json_array_get(views, 0));
	json_decref(views);
	json_decref(docs);
	return e;
}

store_err
store_categories_page(store_db *db, const store_listing *l, json_t **out,
                      size_t *total)
{
	store_listing by_name = { l->page, l->limit, NULL };
	store_find_opts o;
	json_t *docs = NULL, *doc;
	size_t i;
	store_err e;

	*out = NULL;
	*total = 0;
	listing_opts(&by_name, &o);
	o.sort = "nameKey";
	if ((e = store_db_find(db, "categories", NULL, &o, &docs)) != STORE_OK ||
	    (e = store_db_count(db, "categories", NULL, total)) != STORE_OK)
		goto out;
	*out = json_array();
	json_array_foreach(docs, i, doc)
		json_array_append_new(*out, catalog_category_view(doc));
	e = *out != NULL ? STORE_OK : STORE_ENOMEM;
out:
	json_decref(docs);
	return e;
}
