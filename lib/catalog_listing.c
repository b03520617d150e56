/* catalog_listing.c - pages of products and categories, search, one
 * product: the shop's read paths. */
#include "catalog_impl.h"

#include <stdio.h>
#include <stdlib.h>
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

/* ---- the same answers as text --------------------------------------------- */

/* Hands b's text to the caller, or frees it on failure. */
static store_err
text_out(struct catalog_buf *b, store_err e, char **out, size_t *len)
{
	if (e == STORE_OK && b->s == NULL)
		e = STORE_ENOMEM;
	if (e != STORE_OK) {
		catalog_buf_free(b);
		return e;
	}
	*out = b->s;
	*len = b->n;
	return STORE_OK;
}

/* What an answer's text is built from: when none of them changed since
 * the answer was built (store_db_changes), the memo's copy is that answer.
 * A listing of products shows their category; the categories show only
 * themselves. */
static const char *const listing_colls[] = { "products", "categories" };
static const char *const categories_colls[] = { "categories" };

struct memo_of {
	const char *const *colls;
	size_t n;
};

#define MEMO_OF(colls) { colls, sizeof colls / sizeof *colls }
static const struct memo_of listing_memo = MEMO_OF(listing_colls);
static const struct memo_of categories_memo = MEMO_OF(categories_colls);

/* A listing's question, for the memo. */
struct listing_ask {
	const char *category_id, *user_id;
	const store_listing *l;         /* a page; NULL: the whole list */
};

typedef store_err listing_build_fn(store_db *db, const struct listing_ask *ask,
                                   char **out, size_t *len, size_t *total);

/* The answer to ask under key: the memo's when the collections of m did
 * not change since it was built, else built with build and remembered when
 * they did not change while it was built either. Without a change counter
 * (a backend with none) every answer is built. A key is always asked with
 * the same m. */
static store_err
memoized(store_db *db, const struct memo_of *m, const char *key,
         listing_build_fn *build, const struct listing_ask *ask, char **out,
         size_t *len, size_t *total)
{
	unsigned long long before, after;
	size_t aux;
	bool memo = key[0] != '\0' && store_db_changes(db, m->colls, m->n, &before);
	store_err e;

	if (memo && store_db_memo_get(db, key, before, out, len, &aux)) {
		*total = aux;
		return STORE_OK;
	}
	e = build(db, ask, out, len, total);
	if (e == STORE_OK && memo && store_db_changes(db, m->colls, m->n, &after) &&
	    after == before)
		store_db_memo_put(db, key, before, *out, *len, *total);
	return e;
}

static store_err
list_text(store_db *db, const struct listing_ask *ask, char **out, size_t *len,
          size_t *total)
{
	const char *category_id = ask->category_id, *user_id = ask->user_id;
	store_find_opts opts = { NULL, 0, 0, 0 };
	struct catalog_buf b = { 0 };
	store_db_texts *docs = NULL;
	json_t *category = NULL, *filter = NULL;
	store_err e;

	*total = 0;
	e = store_db_get(db, "categories", category_id, &category);
	if (e == STORE_ENOTFOUND) {
		catalog_buf_str(&b, "[]");
		return text_out(&b, b.err, out, len);
	}
	if (e != STORE_OK)
		goto out;
	filter = user_id != NULL
	         ? json_pack("{s:s,s:s}", "categoryId", category_id, "userId", user_id)
	         : json_pack("{s:s}", "categoryId", category_id);
	e = filter == NULL ? STORE_ENOMEM :
	    store_db_find_text(db, "products", filter, &opts, &docs);
	if (e == STORE_OK)
		e = catalog_products_text(db, docs, category, &b);
out:
	store_db_texts_free(docs);
	json_decref(filter);
	json_decref(category);
	return text_out(&b, e, out, len);
}

store_err
store_products_list_text(store_db *db, const char *category_id,
                         const char *user_id, char **out, size_t *len)
{
	struct listing_ask ask = { category_id, user_id, NULL };
	char key[STORE_DB_MEMO_KEY + 1];
	size_t total;

	*out = NULL;
	*len = 0;
	/* as store_products_list: a malformed path id is a 404 (API.md), a
	 * well-formed unknown one an empty category */
	if (!store_oid_valid(category_id))
		return STORE_ENOTFOUND;
	if (snprintf(key, sizeof key, "list %s %s", category_id,
	             user_id != NULL ? user_id : "-") >= (int)sizeof key)
		key[0] = '\0';   /* not remembered */
	return memoized(db, &listing_memo, key, list_text, &ask, out, len, &total);
}

static store_err
page_text(store_db *db, const struct listing_ask *ask, char **out, size_t *len,
          size_t *total)
{
	struct catalog_buf b = { 0 };
	store_db_texts *docs = NULL;
	store_find_opts o;
	json_t *filter = NULL;
	store_err e;

	listing_opts(ask->l, &o);
	filter = json_pack("{s:s}", "categoryId", ask->category_id);
	if (filter == NULL)
		return STORE_ENOMEM;
	if ((e = store_db_find_text(db, "products", filter, &o, &docs)) == STORE_OK &&
	    (e = store_db_count(db, "products", filter, total)) == STORE_OK)
		e = catalog_products_text(db, docs, NULL, &b);
	if (e != STORE_OK)
		*total = 0;
	store_db_texts_free(docs);
	json_decref(filter);
	return text_out(&b, e, out, len);
}

store_err
store_products_page_text(store_db *db, const char *category_id,
                         const store_listing *l, char **out, size_t *len,
                         size_t *total)
{
	struct listing_ask ask = { category_id, NULL, l };
	char key[STORE_DB_MEMO_KEY + 1];

	*out = NULL;
	*len = 0;
	*total = 0;
	if (!store_oid_valid(category_id))
		return STORE_ENOTFOUND;
	if (snprintf(key, sizeof key, "page %s %zu %zu %s", category_id, l->page, l->limit,
	             l->sort != NULL ? l->sort : "-") >= (int)sizeof key)
		key[0] = '\0';   /* not remembered */
	return memoized(db, &listing_memo, key, page_text, &ask, out, len, total);
}

/* The categories by name, a page of them when l is not NULL. */
static store_err
categories_text(store_db *db, const store_listing *l, char **out, size_t *len,
                size_t *total)
{
	store_listing by_name = { 0, 0, NULL };
	struct catalog_buf b = { 0 };
	store_db_texts *docs = NULL;
	store_find_opts o;
	store_err e;

	*out = NULL;
	*len = 0;
	if (l != NULL) {
		by_name.page = l->page;
		by_name.limit = l->limit;
	}
	listing_opts(&by_name, &o);
	o.sort = "nameKey";
	if ((e = store_db_find_text(db, "categories", NULL, &o, &docs)) == STORE_OK &&
	    (total == NULL ||
	     (e = store_db_count(db, "categories", NULL, total)) == STORE_OK))
		e = catalog_categories_text(docs, &b);
	if (e != STORE_OK && total != NULL)
		*total = 0;
	store_db_texts_free(docs);
	return text_out(&b, e, out, len);
}

/* categories_text for the memo: total is the count of a page's list. */
static store_err
categories_build(store_db *db, const struct listing_ask *ask, char **out,
                 size_t *len, size_t *total)
{
	*total = 0;
	return categories_text(db, ask->l, out, len, ask->l != NULL ? total : NULL);
}

store_err
store_categories_list_text(store_db *db, char **out, size_t *len)
{
	struct listing_ask ask = { NULL, NULL, NULL };
	size_t total;

	return memoized(db, &categories_memo, "categories", categories_build, &ask,
	                out, len, &total);
}

store_err
store_categories_page_text(store_db *db, const store_listing *l, char **out,
                           size_t *len, size_t *total)
{
	struct listing_ask ask = { NULL, NULL, l };
	char key[STORE_DB_MEMO_KEY + 1];

	*out = NULL;
	*len = 0;
	*total = 0;
	if (snprintf(key, sizeof key, "categories page %zu %zu", l->page,
	             l->limit) >= (int)sizeof key)
		key[0] = '\0';   /* not remembered */
	return memoized(db, &categories_memo, key, categories_build, &ask, out, len,
	                total);
}
