/* web_shop.c - what a shopper expects of the web front: a product's page
 * (with Open Graph tags for link previews), search results, and the
 * product cards, sort links and pager the listings share. */
#include "web_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"

#define SHOP_PAGE_LIMIT 12   /* products on one page of a listing */
#define SHOP_Q_MAX 1024      /* bytes of a search text read from the URL */

/* The sorts a listing offers: the API's name ("" for the default order)
 * and the link's label. */
static const struct { const char *name, *label; } sorts[] = {
	{ "", NULL },   /* label per listing: "Best match" or "Oldest" */
	{ "price", "Price: low to high" },
	{ "-price", "Price: high to low" },
	{ "newest", "Newest" },
};

/* Appends s percent-encoded for a query value (unreserved bytes kept). */
static void
urlencode(web_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s != NULL && *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			web_rawn(b, (const char *)&ch, 1);
		else
			web_rawn(b, esc, 3);
	}
}

void
web_listing_read(const web_ctx *c, web_listing *l)
{
	char page[16];

	memset(l, 0, sizeof *l);
	l->page = 1;
	if (web_query_get(c->req->query, "page", page, sizeof page) &&
	    strspn(page, "0123456789") == strlen(page) && strlen(page) > 0 && strlen(page) < 6)
		l->page = atoi(page) > 0 ? atoi(page) : 1;
	if (!web_query_get(c->req->query, "sort", l->sort, sizeof l->sort))
		l->sort[0] = '\0';
	for (size_t i = 1; i < sizeof sorts / sizeof *sorts; i++)
		if (strcmp(l->sort, sorts[i].name) == 0)
			return;
	l->sort[0] = '\0';   /* an unknown sort: the default order */
}

void
web_listing_query(web_buf *b, const web_listing *l, const char *dflt)
{
	const char *sort = l->sort[0] != '\0' ? l->sort : dflt;

	web_out(b, "page=%d&limit=%d", l->page, SHOP_PAGE_LIMIT);
	if (sort != NULL) {
		web_raw(b, "&sort=");
		urlencode(b, sort);
	}
}

/* The link to base (a path, maybe with "?q=...") at page and sort. */
static void
listing_href(web_buf *b, const char *base, int page, const char *sort)
{
	web_buf u;

	web_buf_init(&u, 4096);
	web_raw(&u, base);
	web_raw(&u, strchr(base, '?') != NULL ? "&" : "?");
	if (sort[0] != '\0') {
		web_raw(&u, "sort=");
		urlencode(&u, sort);
		web_raw(&u, "&");
	}
	web_out(&u, "page=%d", page);
	web_out(b, "%s", u.failed || u.data == NULL ? base : u.data);
	web_buf_free(&u);
}

void
web_listing_sorts(web_ctx *c, const char *base, const web_listing *l, const char *first,
                  const char *dflt)
{
	const char *cur = dflt != NULL && strcmp(l->sort, dflt) == 0 ? "" : l->sort;

	web_raw(&c->html, "<nav class=\"sorts\" aria-label=\"Sort\"><span class=\"muted\">Sort:</span>");
	for (size_t i = 0; i < sizeof sorts / sizeof *sorts; i++) {
		const char *label = i == 0 ? first : sorts[i].label;

		if (dflt != NULL && strcmp(sorts[i].name, dflt) == 0)
			continue;   /* offered as the first, the default */

		if (strcmp(cur, sorts[i].name) == 0) {
			web_out(&c->html, "<strong aria-current=\"true\" data-sort=\"%s\">%s</strong>",
			        sorts[i].name, label);
			continue;
		}
		web_out(&c->html, "<a data-sort=\"%s\" href=\"", sorts[i].name);
		listing_href(&c->html, base, 1, sorts[i].name);
		web_out(&c->html, "\">%s</a>", label);
	}
	web_raw(&c->html, "</nav>\n");
}

void
web_listing_pager(web_ctx *c, const char *base, const web_listing *l, long long total)
{
	long long pages = (total + SHOP_PAGE_LIMIT - 1) / SHOP_PAGE_LIMIT;

	if (pages <= 1 && l->page <= 1)
		return;
	web_raw(&c->html, "<nav class=\"pager\" aria-label=\"Pages\">");
	if (l->page > 1) {
		web_raw(&c->html, "<a rel=\"prev\" href=\"");
		listing_href(&c->html, base, l->page - 1, l->sort);
		web_raw(&c->html, "\">← Previous</a>");
	}
	web_out(&c->html, "<span class=\"muted\">Page %d of %lld</span>", l->page,
	        pages > 0 ? pages : 1);
	if (l->page < pages) {
		web_raw(&c->html, "<a rel=\"next\" href=\"");
		listing_href(&c->html, base, l->page + 1, l->sort);
		web_raw(&c->html, "\">Next →</a>");
	}
	web_raw(&c->html, "</nav>\n");
}

/* Units not held by anyone: count - views. */
static long long
stock_left(const json_t *p)
{
	long long left = store_json_int(p, "count", 0) - store_json_int(p, "views", 0);

	return left > 0 ? left : 0;
}

static int
owns(const web_ctx *c, const json_t *doc)
{
	const char *owner = store_json_str(doc, "userId");

	return c->req->user != NULL && owner != NULL && strcmp(owner, c->req->user->id) == 0;
}

static void
picture(web_ctx *c, const json_t *p, const char *cls, const char *loading)
{
	const char *url = store_json_str(p, "picture");

	if (web_picture_ok(url))
		web_out(&c->html, "<img class=\"%s\" src=\"%s\" alt=\"%s\" loading=\"%s\">", cls,
		        url, web_val(p, "name"), loading);
	else
		web_out(&c->html, "<div class=\"%s\" role=\"img\" aria-label=\"No picture\"></div>", cls);
}

/* Add to cart (signed in, a unit left), or why not. back: the path to
 * come back to after signing in. */
static void
buy_actions(web_ctx *c, const json_t *p, const char *pid, const char *cid, const char *back)
{
	if (c->req->user == NULL) {
		web_out(&c->html, "<a href=\"/signin?next=%s\">Sign in to buy</a>", back);
	} else if (stock_left(p) > 0 && web_id_ok(cid)) {
		web_raw(&c->html, "<form method=\"post\" action=\"/cart/add\" class=\"inline\">");
		web_csrf_input(c);
		web_out(&c->html, "<input type=\"hidden\" name=\"id\" value=\"%s\">"
		        "<input type=\"hidden\" name=\"categoryId\" value=\"%s\">"
		        "<button type=\"submit\" class=\"small\">Add to cart</button></form>", pid, cid);
	} else {
		web_raw(&c->html, "<span class=\"muted\">Sold out</span>");
	}
}

void
web_product_card(web_ctx *c, const json_t *p, const char *cid)
{
	const char *pid = store_json_str(p, "id");
	char path[96], back[64];

	if (!web_id_ok(pid))
		return;
	if (cid == NULL)
		cid = web_val(json_object_get(p, "category"), "id");
	snprintf(back, sizeof back, "/products/%s", pid);
	web_out(&c->html, "<li class=\"card product\" data-product=\"%s\"><a class=\"pic\" "
	        "href=\"/products/%s\" tabindex=\"-1\" aria-hidden=\"true\">", pid, pid);
	picture(c, p, "thumb", "lazy");
	web_out(&c->html, "</a><h2><a href=\"/products/%s\">%s</a></h2><p class=\"muted\">%s</p>"
	        "<p><span class=\"price\">", pid, web_val(p, "name"), web_val(p, "description"));
	web_money(&c->html, web_cents(json_object_get(p, "price")));
	web_out(&c->html, "</span> · <span class=\"muted\">%lld in stock</span></p>"
	        "<div class=\"actions\">", stock_left(p));
	buy_actions(c, p, pid, cid, back);
	if (owns(c, p) && web_id_ok(cid)) {
		web_out(&c->html, "<a class=\"button small plain\" "
		        "href=\"/products/%s/edit?category=%s\">Edit</a>", pid, cid);
		snprintf(path, sizeof path, "/products/%s/delete", pid);
		web_out(&c->html, "<form method=\"post\" action=\"%s\" class=\"inline\">", path);
		web_csrf_input(c);
		web_out(&c->html, "<input type=\"hidden\" name=\"categoryId\" value=\"%s\">"
		        "<button type=\"submit\" class=\"small danger\">Delete</button></form>", cid);
	}
	web_raw(&c->html, "</div></li>\n");
}

/* --- the product's page --------------------------------------------------------------- */

/* The site's origin for absolute URLs (Open Graph): STORE_ORIGIN when
 * set, else the scheme and the request's Host when it is a plain host
 * name; "" when neither. */
static void
site_origin(const web_ctx *c, char *out, size_t len)
{
	const store_http_config *cfg = store_http_config_of(c->req);
	const char *host = store_req_param(c->req, "HTTP_HOST");
	const char *https = store_req_param(c->req, "HTTPS");
	const char *proto = store_req_param(c->req, "HTTP_X_FORWARDED_PROTO");
	int secure = (https != NULL && strcmp(https, "on") == 0) ||
	             (proto != NULL && strcmp(proto, "https") == 0) ||
	             (cfg != NULL && cfg->cookie_secure);

	out[0] = '\0';
	if (cfg != NULL && cfg->origin != NULL && *cfg->origin != '\0')
		snprintf(out, len, "%s", cfg->origin);
	else if (host != NULL && *host != '\0' && strlen(host) < 256 &&
	         strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                      "0123456789.-:[]") == strlen(host))
		snprintf(out, len, "%s://%s", secure ? "https" : "http", host);
}

/* Open Graph tags of product p into head (escaped). */
static void
og_tags(const web_ctx *c, web_buf *head, const json_t *p, const char *pid)
{
	const char *pic = store_json_str(p, "picture");
	char origin[300];

	site_origin(c, origin, sizeof origin);
	web_out(head, "<meta property=\"og:type\" content=\"product\">\n"
	        "<meta property=\"og:title\" content=\"%s\">\n"
	        "<meta property=\"og:description\" content=\"%s\">\n"
	        "<meta property=\"og:site_name\" content=\"Store\">\n"
	        "<meta name=\"description\" content=\"%s\">\n",
	        web_val(p, "name"), web_val(p, "description"), web_val(p, "description"));
	if (origin[0] != '\0')
		web_out(head, "<meta property=\"og:url\" content=\"%s/products/%s\">\n", origin, pid);
	if (pic != NULL && (strncmp(pic, "https://", 8) == 0 || strncmp(pic, "http://", 7) == 0))
		web_out(head, "<meta property=\"og:image\" content=\"%s\">\n", pic);
	else if (pic != NULL && pic[0] == '/' && origin[0] != '\0' && web_picture_ok(pic))
		web_out(head, "<meta property=\"og:image\" content=\"%s%s\">\n", origin, pic);
}

void
store_web_product(store_req *req, store_res *res)
{
	const char *pid = req->params[0];
	web_api_res r = { 0 };
	const json_t *p, *cat;
	const char *cid;
	char path[96], back[64];
	web_buf head;
	store_err e;
	web_ctx c;

	web_begin(&c, req, res);
	web_buf_init(&head, 64 * 1024);
	if (!web_id_ok(pid)) {
		web_error_page(&c, 404, "Not found", "There is no such product.");
		goto out;
	}
	snprintf(path, sizeof path, "/api/products/item/%s", pid);
	e = web_api(&c, "GET", path, NULL, &r);
	if (e == STORE_OK && r.status == 404) {
		web_error_page(&c, 404, "Not found", "There is no such product.");
		goto out;
	}
	if (e != STORE_OK || r.status != 200 || !json_is_object(r.json)) {
		web_api_failed(&c, e, &r);
		goto out;
	}
	p = r.json;
	cat = json_object_get(p, "category");
	cid = web_val(cat, "id");
	og_tags(&c, &head, p, pid);
	c.head = head.failed ? NULL : head.data;
	web_page_start(&c, web_val(p, "name"));
	if (web_id_ok(cid))
		web_out(&c.html, "<p><a href=\"/categories/%s\">← %s</a></p>\n", cid,
		        web_val(cat, "name")[0] != '\0' ? web_val(cat, "name") : "Category");
	else
		web_raw(&c.html, "<p><a href=\"/\">← All categories</a></p>\n");
	web_out(&c.html, "<article class=\"card product-page\" data-product=\"%s\">", pid);
	picture(&c, p, "hero", "eager");
	web_out(&c.html, "<div class=\"about\"><h1>%s</h1><p class=\"description\">%s</p>"
	        "<p><span class=\"price\">", web_val(p, "name"), web_val(p, "description"));
	web_money(&c.html, web_cents(json_object_get(p, "price")));
	web_out(&c.html, "</span></p><p class=\"stock\"><span class=\"left\">%lld</span> left "
	        "<span class=\"muted\">of %lld in stock</span></p><div class=\"actions\">",
	        stock_left(p), store_json_int(p, "count", 0));
	snprintf(back, sizeof back, "/products/%s", pid);
	buy_actions(&c, p, pid, cid, back);
	if (owns(&c, p) && web_id_ok(cid))
		web_out(&c.html, "<a class=\"button small plain\" "
		        "href=\"/products/%s/edit?category=%s\">Edit</a>", pid, cid);
	web_raw(&c.html, "</div></div></article>\n");
	web_page_finish(&c, 200);
out:
	c.head = NULL;
	web_buf_free(&head);
	web_api_res_free(&r);
	web_end(&c);
}

/* --- search ---------------------------------------------------------------------------- */

void
store_web_search(store_req *req, store_res *res)
{
	char *q = calloc(1, SHOP_Q_MAX);
	web_api_res r = { 0 };
	web_buf path, base;
	web_listing l;
	json_t *items, *p, *errs;
	size_t i;
	store_err e;
	web_ctx c;

	web_begin(&c, req, res);
	web_buf_init(&path, 16 * 1024);
	web_buf_init(&base, 16 * 1024);
	if (q == NULL) {
		web_error_page(&c, 500, "Something went wrong", "Please try again.");
		goto out;
	}
	web_listing_read(&c, &l);
	if (!web_query_get(req->query, "q", q, SHOP_Q_MAX))
		q[0] = '\0';
	if (q[strspn(q, " \t")] == '\0') {
		web_page_start(&c, "Search");
		web_raw(&c.html, "<h1>Search</h1><p class=\"muted\">Type a few words in the search "
		        "box: a product's name or description.</p>\n");
		web_page_finish(&c, 200);
		goto out;
	}
	web_raw(&path, "/api/products/search?q=");
	urlencode(&path, q);
	web_raw(&path, "&");
	web_listing_query(&path, &l, NULL);
	web_raw(&base, "/search?q=");
	urlencode(&base, q);
	if (path.failed || base.failed) {
		web_error_page(&c, 400, "Search", "That search is too long.");
		goto out;
	}
	e = web_api(&c, "GET", path.data, NULL, &r);
	errs = e == STORE_OK && r.status == 400 ? web_api_errors(&r) : NULL;
	if (errs != NULL) {
		web_page_start(&c, "Search");
		web_raw(&c.html, "<h1>Search</h1><div class=\"alert\" role=\"alert\">");
		json_array_foreach(errs, i, p)
			web_out(&c.html, "<p>%s</p>", web_val(p, "message"));
		web_raw(&c.html, "</div>\n");
		web_page_finish(&c, 400);
		goto out;
	}
	items = e == STORE_OK && r.status == 200 ? json_object_get(r.json, "products") : NULL;
	if (!json_is_array(items)) {
		web_api_failed(&c, e, &r);
		goto out;
	}
	web_page_start(&c, "Search");
	web_out(&c.html, "<div class=\"head\"><div><h1>Results for “<span class=\"term\">%s"
	        "</span>”</h1><p class=\"muted\"><span class=\"total\">%lld</span> found</p></div>"
	        "</div>\n", q, store_json_int(r.json, "total", 0));
	web_listing_sorts(&c, base.data, &l, "Best match", NULL);
	if (json_array_size(items) == 0)
		web_raw(&c.html, "<p class=\"muted\">No products match all of these words.</p>\n");
	web_raw(&c.html, "<ul class=\"grid\">\n");
	json_array_foreach(items, i, p)
		web_product_card(&c, p, NULL);
	web_raw(&c.html, "</ul>\n");
	web_listing_pager(&c, base.data, &l, store_json_int(r.json, "total", 0));
	web_page_finish(&c, 200);
out:
	web_buf_free(&path);
	web_buf_free(&base);
	web_api_res_free(&r);
	free(q);
	web_end(&c);
}
