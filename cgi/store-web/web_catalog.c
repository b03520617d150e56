/* web_catalog.c - the home page (categories), a category's products, and
 * the forms that create, edit and delete categories and products. */
#include "web_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"
#include "store/valid.h"

static const web_field category_fields[] = {
	{ "name", 1000, 0 },
	{ "description", 8000, 0 },
};
#define NCATEGORY (sizeof category_fields / sizeof *category_fields)
static const char *const category_shown[] = { "name", "description", NULL };

static const web_field product_fields[] = {
	{ "name", 2000, 0 },
	{ "description", 40000, 0 },
	{ "price", 64, 0 },
	{ "count", 64, 0 },
	{ "categoryId", 64, 0 },
	{ "picture", 0, WEB_F_PICTURE },
	{ "pictureUrl", 2048, 0 },
};
#define NPRODUCT (sizeof product_fields / sizeof *product_fields)
static const char *const product_shown[] = {
	"name", "description", "price", "count", "categoryId", "picture", "pictureUrl", NULL,
};

static const web_field delete_fields[] = {
	{ "categoryId", 64, 0 },
};

static bool
is_owner(const web_ctx *c, const json_t *doc)
{
	const char *owner = store_json_str(doc, "userId");

	return c->req->user != NULL && owner != NULL && strcmp(owner, c->req->user->id) == 0;
}

/* A one-button POST form (delete, add to cart) with hidden fields. */
static void
button_form(web_ctx *c, const char *action, const char *label, const char *cls,
            const char *hidden_name, const char *hidden_value)
{
	web_out(&c->html, "<form method=\"post\" action=\"%s\" class=\"inline\">", action);
	web_csrf_input(c);
	if (hidden_name != NULL)
		web_out(&c->html, "<input type=\"hidden\" name=\"%s\" value=\"%s\">", hidden_name,
		        hidden_value);
	web_out(&c->html, "<button type=\"submit\" class=\"%s\">%s</button></form>", cls, label);
}

/* --- home ------------------------------------------------------------------------- */

void
store_web_home(store_req *req, store_res *res)
{
	json_t *cats = NULL, *cat;
	char path[64];
	size_t i;
	web_ctx c;

	web_begin(&c, req, res);
	if (!web_get_categories(&c, &cats))
		goto out;
	web_page_start(&c, "Categories");
	web_raw(&c.html, "<div class=\"head\"><h1>Categories</h1>");
	if (req->user != NULL)
		web_raw(&c.html, "<a class=\"button\" href=\"/categories/new\">New category</a>");
	web_raw(&c.html, "</div>\n");
	web_notice(&c);
	if (json_array_size(cats) == 0)
		web_raw(&c.html, req->user != NULL
		        ? "<p class=\"muted\">No categories yet: create the first one.</p>\n"
		        : "<p class=\"muted\">No categories yet. <a href=\"/signup\">Sign up</a> "
		          "to create the first one.</p>\n");
	web_raw(&c.html, "<ul class=\"grid\">\n");
	json_array_foreach(cats, i, cat) {
		const char *id = store_json_str(cat, "id");
		if (!web_id_ok(id))
			continue;
		web_out(&c.html, "<li class=\"card category\" data-category=\"%s\">"
		        "<h2><a href=\"/categories/%s\">%s</a></h2><p class=\"muted\">%s</p>",
		        id, id, web_val(cat, "name"), web_val(cat, "description"));
		if (is_owner(&c, cat)) {
			web_out(&c.html, "<div class=\"actions\"><a class=\"button small plain\" "
			        "href=\"/categories/%s/edit\">Edit</a>", id);
			snprintf(path, sizeof path, "/categories/%s/delete", id);
			button_form(&c, path, "Delete", "small danger", NULL, NULL);
			web_raw(&c.html, "</div>");
		}
		web_raw(&c.html, "</li>\n");
	}
	web_raw(&c.html, "</ul>\n");
	web_page_finish(&c, 200);
out:
	web_end(&c);
}

/* --- a category's products ------------------------------------------------------------ */

static void
render_category(web_ctx *c, const json_t *cat, const json_t *answer, const web_listing *l,
                const char *error, int status)
{
	const json_t *products = json_object_get(answer, "products");
	const char *cid = store_json_str(cat, "id");
	char path[96], base[64];
	size_t i;
	json_t *p;

	web_page_start(c, web_val(cat, "name"));
	web_out(&c->html, "<p><a href=\"/\">← All categories</a></p>\n<div class=\"head\"><div>"
	        "<h1>%s</h1><p class=\"muted\">%s</p></div><div class=\"actions\">",
	        web_val(cat, "name"), web_val(cat, "description"));
	if (c->req->user != NULL)
		web_out(&c->html, "<a class=\"button\" href=\"/products/new?category=%s\">New product</a>",
		        cid);
	if (is_owner(c, cat)) {
		web_out(&c->html, "<a class=\"button plain\" href=\"/categories/%s/edit\">Edit</a>", cid);
		snprintf(path, sizeof path, "/categories/%s/delete", cid);
		button_form(c, path, "Delete", "danger", NULL, NULL);
	}
	web_raw(&c->html, "</div></div>\n");
	web_notice(c);
	if (error != NULL)
		web_out(&c->html, "<div class=\"alert\" role=\"alert\"><p>%s</p></div>\n", error);
	snprintf(base, sizeof base, "/categories/%s", cid);
	if (json_array_size(products) == 0 && l->page <= 1)
		web_raw(&c->html, "<p class=\"muted\">No products in this category yet.</p>\n");
	else
		web_listing_sorts(c, base, l, "Newest", "newest");
	web_raw(&c->html, "<ul class=\"grid\">\n");
	json_array_foreach(products, i, p)
		web_product_card(c, p, cid);
	web_raw(&c->html, "</ul>\n");
	web_listing_pager(c, base, l, store_json_int(answer, "total", 0));
	web_page_finish(c, status);
}

void
web_category_page(web_ctx *c, const char *id, const char *error, int status)
{
	json_t *cats = NULL, *cat;
	web_api_res r = { 0 };
	web_listing l;
	web_buf path;
	store_err e;

	if (!web_id_ok(id)) {
		web_error_page(c, 404, "Not found", "There is no such category.");
		return;
	}
	web_listing_read(c, &l);
	web_buf_init(&path, 256);
	if (!web_get_categories(c, &cats))
		return;
	if ((cat = web_find_by_id(cats, id)) == NULL) {
		web_error_page(c, 404, "Not found", "There is no such category.");
		goto out;
	}
	web_out(&path, "/api/products/%s?", id);
	web_listing_query(&path, &l, "newest");   /* a new product shows first */
	e = path.failed ? STORE_ENOMEM : web_api(c, "GET", path.data, NULL, &r);
	if (e != STORE_OK || r.status != 200 ||
	    !json_is_array(json_object_get(r.json, "products"))) {
		web_api_failed(c, e, &r);
		goto out;
	}
	render_category(c, cat, r.json, &l, error, status);
out:
	web_buf_free(&path);
	web_api_res_free(&r);
}

void
store_web_category(store_req *req, store_res *res)
{
	web_ctx c;

	web_begin(&c, req, res);
	web_category_page(&c, req->params[0], NULL, 200);
	web_end(&c);
}

/* --- category forms --------------------------------------------------------------------- */

static void
render_category_form(web_ctx *c, const char *id, const json_t *values, const json_t *errors,
                     int status)
{
	web_page_start(c, id != NULL ? "Edit category" : "New category");
	web_out(&c->html, "<section class=\"card narrow\"><h1>%s</h1>\n",
	        id != NULL ? "Edit category" : "New category");
	web_errors_other(c, errors, category_shown);
	if (id != NULL)
		web_out(&c->html, "<form method=\"post\" action=\"/categories/%s\">", id);
	else
		web_raw(&c->html, "<form method=\"post\" action=\"/categories\">");
	web_csrf_input(c);
	web_input(c, "name", "Name", "text", values, errors, "required maxlength=\"100\"");
	web_textarea(c, "description", "Description", values, errors, "required maxlength=\"1000\"");
	web_out(&c->html, "<div class=\"actions\"><button type=\"submit\">%s</button>",
	        id != NULL ? "Save" : "Create");
	if (id != NULL)
		web_out(&c->html, "<a href=\"/categories/%s\">Cancel</a>", id);
	else
		web_raw(&c->html, "<a href=\"/\">Cancel</a>");
	web_raw(&c->html, "</div></form></section>\n");
	web_page_finish(c, status);
}

void
store_web_category_new(store_req *req, store_res *res)
{
	web_ctx c;

	web_begin(&c, req, res);
	if (web_signed_in(&c))
		render_category_form(&c, NULL, NULL, NULL, 200);
	web_end(&c);
}

void
store_web_category_edit(store_req *req, store_res *res)
{
	const char *id = req->params[0];
	json_t *cats = NULL, *cat;
	web_ctx c;

	web_begin(&c, req, res);
	if (!web_signed_in(&c))
		goto out;
	if (!web_id_ok(id)) {
		web_error_page(&c, 404, "Not found", "There is no such category.");
		goto out;
	}
	if (!web_get_categories(&c, &cats))
		goto out;
	if ((cat = web_find_by_id(cats, id)) == NULL)
		web_error_page(&c, 404, "Not found", "There is no such category.");
	else if (!is_owner(&c, cat))
		web_error_page(&c, 403, "Not yours", "Only its owner can edit this category.");
	else
		render_category_form(&c, id, cat, NULL, 200);
out:
	web_end(&c);
}

/* POST /categories (no :id) or /categories/:id. */
static int
category_save(web_ctx *c, web_post *p)
{
	json_t *body = web_own_json(c, json_pack("{s:s,s:s}", "name", web_val(p->values, "name"),
	                                         "description", web_val(p->values, "description")));
	char path[96];

	if (p->id != NULL)
		snprintf(path, sizeof path, "/api/categories/%s", p->id);
	p->err = web_api(c, p->id != NULL ? "PUT" : "POST", p->id != NULL ? path : "/api/categories",
	                 body, &p->api);
	return 0;
}

static void
category_saved(web_ctx *c, web_post *p)
{
	const char *nid = store_json_str(p->api.json, "id");

	(void)c;
	if (web_id_ok(nid))
		snprintf(p->location, sizeof p->location, "/categories/%s%s", nid,
		         p->id != NULL ? "?done=saved" : "");
}

static void
category_again(web_ctx *c, web_post *p, const json_t *errors, int status)
{
	render_category_form(c, p->id, p->values, errors, status);
}

static const web_form_def category_form = {
	category_fields, NCATEGORY, true, "There is no such category.",
	category_save, category_saved, category_again,
};

void
store_web_category_create(store_req *req, store_res *res)
{
	web_ctx c;

	web_begin(&c, req, res);
	web_form_run(&c, &category_form);
	web_end(&c);
}

void
store_web_category_update(store_req *req, store_res *res)
{
	store_web_category_create(req, res);
}

/* POST /categories/:id/delete. */
static int
category_delete(web_ctx *c, web_post *p)
{
	char path[96];

	snprintf(path, sizeof path, "/api/categories/%s", p->id);
	p->err = web_api(c, "DELETE", path, NULL, &p->api);
	return 0;
}

static void
category_deleted(web_ctx *c, web_post *p)
{
	(void)c;
	snprintf(p->location, sizeof p->location, "/?done=deleted");
}

/* "You cannot delete category 'X'. There is a product attached ...": the
 * category's page, saying so. */
static void
category_undeleted(web_ctx *c, web_post *p, const json_t *errors, int status)
{
	const char *msg = store_json_str(json_array_get(errors, 0), "message");

	web_category_page(c, p->id, msg != NULL ? msg : "This category cannot be deleted.", status);
}

static const web_form_def category_delete_form = {
	NULL, 0, true, "There is no such category.",
	category_delete, category_deleted, category_undeleted,
};

void
store_web_category_delete(store_req *req, store_res *res)
{
	web_ctx c;

	web_begin(&c, req, res);
	web_form_run(&c, &category_delete_form);
	web_end(&c);
}

/* --- product forms ---------------------------------------------------------------------------- */

/* "12.50" as the JSON number 12.5 (exactly, from cents); other text is
 * passed on as it is, for the API to refuse with its own message. */
static json_t *
money_value(const char *s)
{
	long long units = 0, cents = 0;
	size_t i = 0, digits = 0, decimals = 0;

	while (s[i] >= '0' && s[i] <= '9' && digits < 9) {
		units = units * 10 + (s[i++] - '0');
		digits++;
	}
	if (s[i] == '.' && digits > 0) {
		i++;
		while (s[i] >= '0' && s[i] <= '9' && decimals < 2) {
			cents = cents * 10 + (s[i++] - '0');
			decimals++;
		}
		if (decimals == 1)
			cents *= 10;
	}
	if (digits == 0 || s[i] != '\0' || (s[i - 1] == '.'))
		return json_string(s);
	return store_json_money(units * 100 + cents);
}

/* "3" as the JSON integer 3; other text passed on. */
static json_t *
count_value(const char *s)
{
	long long v = 0;
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9' && i < 9)
		v = v * 10 + (s[i++] - '0');
	if (i == 0 || s[i] != '\0')
		return json_string(s);
	return json_integer(v);
}

static void
category_options(web_ctx *c, const json_t *cats, const char *selected)
{
	size_t i;
	json_t *cat;

	json_array_foreach(cats, i, cat) {
		const char *id = store_json_str(cat, "id");
		if (!web_id_ok(id))
			continue;
		web_out(&c->html, "<option value=\"%s\"%s>%s</option>", id,
		        strcmp(id, selected) == 0 ? " selected" : "", web_val(cat, "name"));
	}
}

/* The product form; id NULL for a new one; current: the product's picture
 * URL (edit), or NULL. */
static void
render_product_form(web_ctx *c, const char *id, const json_t *cats, const json_t *values,
                    const json_t *errors, const char *current, int status)
{
	const char *cid = web_val(values, "categoryId");
	int bad_cat = 0;
	size_t i;
	json_t *e;

	json_array_foreach(errors, i, e)
		if (strcmp(web_val(e, "field"), "categoryId") == 0)
			bad_cat = 1;
	web_page_start(c, id != NULL ? "Edit product" : "New product");
	web_out(&c->html, "<section class=\"card narrow\"><h1>%s</h1>\n",
	        id != NULL ? "Edit product" : "New product");
	web_errors_other(c, errors, product_shown);
	if (id != NULL)
		web_out(&c->html, "<form method=\"post\" action=\"/products/%s\" "
		        "enctype=\"multipart/form-data\">", id);
	else
		web_raw(&c->html, "<form method=\"post\" action=\"/products\" "
		        "enctype=\"multipart/form-data\">");
	web_csrf_input(c);
	web_input(c, "name", "Name", "text", values, errors, "required maxlength=\"200\"");
	web_textarea(c, "description", "Description", values, errors, "required maxlength=\"5000\"");
	web_input(c, "price", "Price ($)", "text", values, errors,
	          "required inputmode=\"decimal\" placeholder=\"12.50\"");
	web_input(c, "count", "In stock", "number", values, errors,
	          "required min=\"1\" step=\"1\" inputmode=\"numeric\"");
	web_out(&c->html, "<div class=\"field%s\"><label for=\"f-categoryId\">Category</label>"
	        "<select id=\"f-categoryId\" name=\"categoryId\" required>", bad_cat ? " invalid" : "");
	category_options(c, cats, cid);
	web_raw(&c->html, "</select>");
	web_field_errors(c, errors, "categoryId");
	web_raw(&c->html, "</div>\n");
	if (current != NULL && web_picture_ok(current))
		web_out(&c->html, "<p><img class=\"thumb\" src=\"%s\" alt=\"The current picture\"></p>",
		        current);
	web_input(c, "picture", id != NULL ? "A new picture" : "Picture", "file", values, errors,
	          "accept=\"image/png,image/jpeg,image/gif,image/webp\"");
	web_out(&c->html, "<p class=\"hint\">PNG, JPEG, GIF or WebP, at most 2 MiB%s%s</p>\n",
	        id != NULL ? "; leave empty to keep the current one" : "",
	        errors != NULL ? ". After an error, choose the file again" : "");
	web_input(c, "pictureUrl", "Or the address of a picture", "url", values, errors,
	          "placeholder=\"https://\" maxlength=\"2048\"");
	web_out(&c->html, "<div class=\"actions\"><button type=\"submit\">%s</button>",
	        id != NULL ? "Save" : "Create");
	if (web_id_ok(cid))
		web_out(&c->html, "<a href=\"/categories/%s\">Cancel</a>", cid);
	else
		web_raw(&c->html, "<a href=\"/\">Cancel</a>");
	web_raw(&c->html, "</div></form></section>\n");
	web_page_finish(c, status);
}

void
store_web_product_new(store_req *req, store_res *res)
{
	json_t *cats = NULL, *values = NULL;
	char cid[32];
	web_ctx c;

	web_begin(&c, req, res);
	if (!web_signed_in(&c) || !web_get_categories(&c, &cats))
		goto out;
	if (json_array_size(cats) == 0) {
		web_error_page(&c, 400, "No categories yet",
		               "Create a category first: every product belongs to one.");
		goto out;
	}
	values = web_own_json(&c, json_object());
	if (values != NULL && web_query_get(req->query, "category", cid, sizeof cid) && web_id_ok(cid))
		json_object_set_new(values, "categoryId", json_string(cid));
	render_product_form(&c, NULL, cats, values, NULL, NULL, 200);
out:
	web_end(&c);
}

void
store_web_product_edit(store_req *req, store_res *res)
{
	const char *id = req->params[0];
	json_t *cats = NULL, *p, *values = NULL;
	web_api_res r = { 0 };
	char cid[32], path[96], price[32], count[32];
	long long cents;
	store_err e;
	web_ctx c;

	web_begin(&c, req, res);
	if (!web_signed_in(&c))
		goto out;
	if (!web_id_ok(id) || !web_query_get(req->query, "category", cid, sizeof cid) ||
	    !web_id_ok(cid)) {
		web_error_page(&c, 404, "Not found", "There is no such product.");
		goto out;
	}
	/* The API has no "one product": the caller's products of its category. */
	snprintf(path, sizeof path, "/api/products/user/%s", cid);
	e = web_api(&c, "GET", path, NULL, &r);
	if (e != STORE_OK || r.status != 200 || !json_is_array(r.json)) {
		web_api_failed(&c, e, &r);
		goto out;
	}
	if ((p = web_find_by_id(r.json, id)) == NULL) {
		web_error_page(&c, 404, "Not found",
		               "There is no such product of yours in this category.");
		goto out;
	}
	if (!web_get_categories(&c, &cats))
		goto out;
	cents = web_cents(json_object_get(p, "price"));
	snprintf(price, sizeof price, "%lld.%02lld", cents / 100, cents % 100);
	/* As the form posts them: text. */
	snprintf(count, sizeof count, "%lld", store_json_int(p, "count", 0));
	values = web_own_json(&c, json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", web_val(p, "name"),
	                                    "description", web_val(p, "description"),
	                                    "price", price, "count", count, "categoryId", cid));
	if (values != NULL && strncmp(web_val(p, "picture"), "http", 4) == 0)
		json_object_set_new(values, "pictureUrl", json_string(web_val(p, "picture")));
	render_product_form(&c, id, cats, values, NULL, store_json_str(p, "picture"), 200);
out:
	web_api_res_free(&r);
	web_end(&c);
}

/* POST /products (no :id) or /products/:id. */
static int
product_save(web_ctx *c, web_post *p)
{
	const json_t *v = p->values;
	const char *pic = store_json_str(v, "picture");
	json_t *body;
	char path[96];

	body = web_own_json(c, json_pack("{s:s,s:s,s:o,s:o,s:s}", "name", web_val(v, "name"),
	                                 "description", web_val(v, "description"),
	                                 "price", money_value(web_val(v, "price")),
	                                 "count", count_value(web_val(v, "count")),
	                                 "categoryId", web_val(v, "categoryId")));
	if (pic == NULL && web_val(v, "pictureUrl")[0] != '\0')
		pic = store_json_str(v, "pictureUrl");
	if (body != NULL && pic != NULL)
		json_object_set_new(body, "picture", json_string(pic));
	if (p->id != NULL)
		snprintf(path, sizeof path, "/api/products/%s", p->id);
	p->err = web_api(c, p->id != NULL ? "PUT" : "POST", p->id != NULL ? path : "/api/products",
	                 body, &p->api);
	return 0;
}

/* Saved: the product's category. */
static void
product_saved(web_ctx *c, web_post *p)
{
	const char *cid = web_val(p->values, "categoryId");

	(void)c;
	if (web_id_ok(cid))
		snprintf(p->location, sizeof p->location, "/categories/%s%s", cid,
		         p->id != NULL ? "?done=saved" : "");
}

/* Again, with the messages; the file input cannot be refilled. */
static void
product_again(web_ctx *c, web_post *p, const json_t *errors, int status)
{
	json_t *cats;

	json_object_del(p->values, "picture");
	if (web_get_categories(c, &cats))
		render_product_form(c, p->id, cats, p->values, errors, NULL, status);
}

static const web_form_def product_form = {
	product_fields, NPRODUCT, true, "There is no such product.",
	product_save, product_saved, product_again,
};

void
store_web_product_create(store_req *req, store_res *res)
{
	web_ctx c;

	web_begin(&c, req, res);
	web_form_run(&c, &product_form);
	web_end(&c);
}

void
store_web_product_update(store_req *req, store_res *res)
{
	store_web_product_create(req, res);
}

/* POST /products/:id/delete. */
static int
product_delete(web_ctx *c, web_post *p)
{
	char path[96];

	snprintf(path, sizeof path, "/api/products/%s", p->id);
	p->err = web_api(c, "DELETE", path, NULL, &p->api);
	return 0;
}

static void
product_deleted(web_ctx *c, web_post *p)
{
	const char *cid = web_val(p->values, "categoryId");

	(void)c;
	if (web_id_ok(cid))
		snprintf(p->location, sizeof p->location, "/categories/%s?done=deleted", cid);
	else
		snprintf(p->location, sizeof p->location, "/?done=deleted");
}

static const web_form_def product_delete_form = {
	delete_fields, 1, true, "There is no such product.",
	product_delete, product_deleted, NULL,
};

void
store_web_product_delete(store_req *req, store_res *res)
{
	web_ctx c;

	web_begin(&c, req, res);
	web_form_run(&c, &product_delete_form);
	web_end(&c);
}
