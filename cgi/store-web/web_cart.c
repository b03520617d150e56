/* web_cart.c - the cart (quantities, remove, total), paying, the orders.
 *
 * The cart is built from events: an item added a moment ago may not be in
 * it yet, so the cart page after "Add to cart" refreshes itself (a meta
 * refresh, no JavaScript) a bounded number of times until it shows. */
#include "web_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/json.h"

#define ADDED_TRIES 15          /* self-refreshes of the cart after adding */
#define PAY_TRIES 15            /* the payments' copy of the cart lagging */
#define PAY_WAIT_MS 200

static const web_field add_fields[] = {
	{ "id", 64, 0 },
	{ "categoryId", 64, 0 },
};

static const web_field pay_fields[] = {
	{ "token", 255, 0 },
	{ "total", 32, 0 },
};

static const char *const pay_shown[] = { "token", NULL };

/* The sandbox's test tokens, offered by name (NOTES.md, Stripe). */
static const struct { const char *token, *label; } test_cards[] = {
	{ "tok_visa", "Visa (succeeds)" },
	{ "tok_chargeDeclined", "Declined" },
	{ "tok_chargeDeclinedInsufficientFunds", "Insufficient funds" },
	{ "tok_chargeDeclinedExpiredCard", "Expired card" },
};

/* The total of the cart's lines, in cents. */
static long long
cart_total(const json_t *cart)
{
	long long total = 0;
	size_t i;
	json_t *line;

	json_array_foreach(json_object_get(cart, "info"), i, line) {
		long long cents = web_cents(json_object_get(json_object_get(line, "product"), "price"));
		if (cents > 0)
			total += cents * store_json_int(line, "qty", 0);
	}
	return total;
}

/* The cart's line of product_id, or NULL. */
static const json_t *
cart_line_of(const json_t *cart, const char *product_id)
{
	size_t i;
	json_t *line;

	json_array_foreach(json_object_get(cart, "info"), i, line)
		if (strcmp(web_val(json_object_get(line, "product"), "id"), product_id) == 0)
			return line;
	return NULL;
}

/* The cart holds at least qty units of product_id. */
static int
cart_has(const json_t *cart, const char *product_id, long long qty)
{
	const json_t *line = cart_line_of(cart, product_id);

	return line != NULL && store_json_int(line, "qty", 0) >= qty;
}

/* "2026-01-02T03:04:05Z" as "03:04:05 UTC" (or the text escaped). */
static void
clock_time(web_ctx *c, const char *iso)
{
	char hms[9];

	if (iso != NULL && strlen(iso) == 20 && iso[10] == 'T' && iso[19] == 'Z') {
		memcpy(hms, iso + 11, 8);
		hms[8] = '\0';
		web_out(&c->html, "%s UTC", hms);
	} else {
		web_esc(&c->html, iso != NULL ? iso : "");
	}
}

/* Lines that left the cart because their holds ran out, as the cart
 * service reports them. */
static void
expired_notices(web_ctx *c, const json_t *cart)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(cart, "expired"), i, e) {
		long long qty = store_json_int(e, "qty", 0);

		web_out(&c->html, "<p class=\"alert expired\" role=\"status\">Your hold on %s%s ran "
		        "out at ", web_val(json_object_get(e, "product"), "name"),
		        qty > 1 ? " (some units)" : "");
		clock_time(c, store_json_str(e, "expiredAt"));
		web_raw(&c->html, ", so it left your cart. Add it again if it is still in "
		        "stock.</p>\n");
	}
}

static void
line_button(web_ctx *c, const char *pid, const char *action, const char *label,
            const char *aria, const char *name, int disabled, const char *cls)
{
	web_out(&c->html, "<form method=\"post\" action=\"/cart/%s/%s\" class=\"inline\">", pid,
	        action);
	web_csrf_input(c);
	web_out(&c->html, "<button type=\"submit\" class=\"%s\" aria-label=\"%s %s\"%s>%s</button>"
	        "</form>", cls, aria, name, disabled ? " disabled" : "", label);
}

static void
pay_form(web_ctx *c, long long total, const json_t *errors)
{
	char amount[32];

	snprintf(amount, sizeof amount, "%lld.%02lld", total / 100, total % 100);
	web_raw(&c->html, "<section class=\"card narrow\" id=\"pay\"><h2>Pay</h2>\n");
	if (c->web->stripe_pk != NULL) {
		c->stripe = 1;
		web_out(&c->html, "<form method=\"post\" action=\"/pay\" id=\"pay-form\" "
		        "data-stripe-key=\"%s\">", c->web->stripe_pk);
		web_csrf_input(c);
		web_out(&c->html, "<input type=\"hidden\" name=\"total\" value=\"%s\">"
		        "<input type=\"hidden\" name=\"token\" value=\"\">"
		        "<div class=\"field\"><label for=\"card-element\">Card</label>"
		        "<div id=\"card-element\"></div><div id=\"card-errors\" role=\"alert\">",
		        amount);
		web_field_errors(c, errors, "token");
		web_raw(&c->html, "</div></div><noscript><p class=\"error\">Paying by card needs "
		        "JavaScript: the card form is Stripe's own.</p></noscript>");
		web_raw(&c->html, "<button type=\"submit\" disabled>Pay ");
	} else {
		web_raw(&c->html, "<form method=\"post\" action=\"/pay\" id=\"pay-form\">");
		web_csrf_input(c);
		web_out(&c->html, "<input type=\"hidden\" name=\"total\" value=\"%s\">"
		        "<fieldset><legend>Test card</legend>", amount);
		for (size_t i = 0; i < sizeof test_cards / sizeof *test_cards; i++)
			web_out(&c->html, "<label><input type=\"radio\" name=\"token\" value=\"%s\"%s> "
			        "%s</label>", test_cards[i].token, i == 0 ? " checked" : "",
			        test_cards[i].label);
		web_raw(&c->html, "</fieldset>");
		web_field_errors(c, errors, "token");
		web_raw(&c->html, "<button type=\"submit\">Pay ");
	}
	web_money(&c->html, total);
	web_raw(&c->html, "</button></form>\n");
	if (c->web->stripe_pk == NULL)
		web_raw(&c->html, "<p class=\"hint\">This store runs with a payment sandbox: "
		        "pick a test card; nothing is charged.</p>");
	web_raw(&c->html, "</section>\n");
}

/* The cart page. added: a product id just added (or NULL), tries: the
 * self-refreshes so far. errors: of paying or of changing a line. */
static void
render_cart(web_ctx *c, const json_t *cart, const char *added, long long want, int tries,
            const json_t *errors, int status)
{
	char url[128];
	long long total = cart_total(cart);
	size_t i, nlines = json_array_size(json_object_get(cart, "info"));
	json_t *line;

	if (added != NULL && !cart_has(cart, added, want) && tries < ADDED_TRIES) {
		if (want > 1)
			snprintf(url, sizeof url, "/cart?added=%s&qty=%lld&try=%d", added, want, tries + 1);
		else
			snprintf(url, sizeof url, "/cart?added=%s&try=%d", added, tries + 1);
		c->refresh = url;
	}
	web_page_start(c, "Your cart");
	c->refresh = NULL;
	web_raw(&c->html, "<div class=\"head\"><h1>Your cart</h1></div>\n");
	web_notice(c);
	expired_notices(c, cart);
	if (added != NULL && cart_has(cart, added, want))
		web_raw(&c->html, "<p class=\"notice\" role=\"status\">Added to your cart.</p>\n");
	else if (added != NULL && tries < ADDED_TRIES)
		web_raw(&c->html, "<p class=\"notice\" role=\"status\" id=\"adding\">"
		        "Adding it to your cart…</p>\n");
	else if (added != NULL)
		web_raw(&c->html, "<p class=\"notice\" role=\"status\">It is taking longer than usual "
		        "to reach your cart: reload this page in a moment.</p>\n");
	web_errors_other(c, errors, pay_shown);
	if (nlines == 0) {
		web_raw(&c->html, "<p class=\"muted\" id=\"cart-empty\">Your cart is empty. "
		        "<a href=\"/\">Browse the categories</a>.</p>\n");
		web_page_finish(c, status);
		return;
	}
	web_raw(&c->html, "<div class=\"card\"><table class=\"cart\"><thead><tr>"
	        "<th class=\"pic\"></th><th>Product</th><th class=\"num\">Price</th>"
	        "<th>Quantity</th><th class=\"num\">Total</th><th></th></tr></thead><tbody>\n");
	json_array_foreach(json_object_get(cart, "info"), i, line) {
		const json_t *p = json_object_get(line, "product");
		const char *pid = store_json_str(p, "id"), *name = web_val(p, "name");
		long long qty = store_json_int(line, "qty", 0);
		long long cents = web_cents(json_object_get(p, "price"));

		if (!web_id_ok(pid))
			continue;
		web_out(&c->html, "<tr class=\"cart-line\" data-product=\"%s\"><td class=\"pic\">",
		        pid);
		if (web_picture_ok(store_json_str(p, "picture")))
			web_out(&c->html, "<img class=\"line-thumb\" src=\"%s\" alt=\"\">",
			        store_json_str(p, "picture"));
		web_out(&c->html, "</td><td class=\"name\"><a href=\"/products/%s\">%s</a></td>"
		        "<td class=\"num unit\">", pid, name);
		web_money(&c->html, cents);
		web_raw(&c->html, "</td><td class=\"qty-cell\"><div class=\"qty\">");
		line_button(c, pid, "dec", "−", "One less", name, 0, "small plain");
		web_out(&c->html, "<output class=\"count\">%lld</output>", qty);
		/* At the units held, "+" holds one more (addToCart). */
		line_button(c, pid, "inc", "+", "One more", name, 0, "small plain");
		web_raw(&c->html, "</div>");
		if (store_json_str(line, "expiresAt") != NULL) {
			/* The countdown works without JavaScript as a plain time;
			 * hold.js makes it count down where it runs. */
			web_out(&c->html, "<p class=\"hint hold\">Held for you until <time datetime=\"%s\" "
			        "data-hold-until>", web_val(line, "expiresAt"));
			clock_time(c, store_json_str(line, "expiresAt"));
			web_raw(&c->html, "</time></p>");
			c->holds = 1;
		}

		web_raw(&c->html, "</td><td class=\"num sum\">");
		web_money(&c->html, cents * qty);
		web_raw(&c->html, "</td><td class=\"remove\">");
		line_button(c, pid, "remove", "Remove", "Remove", name, 0, "link");
		web_raw(&c->html, "</td></tr>\n");
	}
	web_raw(&c->html, "</tbody></table>\n<p class=\"total\">Total: <span id=\"cart-total\">");
	web_money(&c->html, total);
	web_raw(&c->html, "</span></p></div>\n");
	pay_form(c, total, errors);
	web_page_finish(c, status);
}

/* GET /api/cart into *cart (a new reference; an object with "info", empty
 * for a user without a cart). true, or false after answering. */
static bool
get_cart(web_ctx *c, json_t **cart)
{
	web_api_res r;
	store_err e = web_api(c, "GET", "/api/cart", NULL, &r);

	*cart = NULL;
	if (e != STORE_OK || r.status != 200 || (!json_is_object(r.json) && !json_is_null(r.json))) {
		web_api_failed(c, e, &r);
		web_api_res_free(&r);
		return false;
	}
	*cart = json_is_object(r.json) ? json_incref(r.json) : json_pack("{s:[]}", "info");
	web_api_res_free(&r);
	if (*cart == NULL) {
		web_error_page(c, 500, "Something went wrong", "Please try again.");
		return false;
	}
	return true;
}

/* The cart page again, with errors and status. */
static void
cart_again(web_ctx *c, const json_t *errors, int status)
{
	json_t *cart = NULL;

	if (get_cart(c, &cart))
		render_cart(c, cart, NULL, 1, 0, errors, status);
	json_decref(cart);
}

void
store_web_cart(store_req *req, store_res *res)
{
	json_t *cart = NULL;
	char added[32], tries[8], qty[8];
	long long want = 1;
	int n = 0;
	web_ctx c;

	web_begin(&c, req, res);
	if (!web_signed_in(&c) || !get_cart(&c, &cart))
		goto out;
	if (!web_query_get(req->query, "added", added, sizeof added) || !web_id_ok(added))
		added[0] = '\0';
	if (web_query_get(req->query, "try", tries, sizeof tries))
		n = atoi(tries);
	if (n < 0 || n > ADDED_TRIES)
		n = ADDED_TRIES;
	if (web_query_get(req->query, "qty", qty, sizeof qty))
		want = atoll(qty);
	if (want < 1 || want > 1000)
		want = 1;
	render_cart(&c, cart, added[0] != '\0' ? added : NULL, want, n, NULL, 200);
out:
	json_decref(cart);
	web_end(&c);
}

/* POST /cart/add: hold a unit, then the cart. */
static int
cart_add(web_ctx *c, web_post *p)
{
	const char *pid = web_val(p->values, "id"), *cid = web_val(p->values, "categoryId");
	json_t *body;

	if (!web_id_ok(pid) || !web_id_ok(cid)) {
		web_error_page(c, 400, "Bad request", "This is not a product of the store.");
		return -1;
	}
	body = web_own_json(c, json_pack("{s:s,s:s}", "id", pid, "categoryId", cid));
	p->err = web_api(c, "POST", "/api/products/addToCart", body, &p->api);
	return 0;
}

static void
cart_added(web_ctx *c, web_post *p)
{
	(void)c;
	snprintf(p->location, sizeof p->location, "/cart?added=%s", web_val(p->values, "id"));
}

/* "Out of stock": the category's page, saying so. */
static void
cart_not_added(web_ctx *c, web_post *p, const json_t *errors, int status)
{
	const char *msg = store_json_str(json_array_get(errors, 0), "message");

	if (!web_id_ok(web_val(p->values, "id")) || !web_id_ok(web_val(p->values, "categoryId"))) {
		web_error_page(c, 400, "Bad request", "This is not a product of the store.");
		return;
	}
	web_category_page(c, web_val(p->values, "categoryId"),
	                  msg != NULL ? msg : "This product cannot be added.", status);
}

static const web_form_def cart_add_form = {
	add_fields, 2, true, NULL, cart_add, cart_added, cart_not_added,
};

void
store_web_cart_add(store_req *req, store_res *res)
{
	web_ctx c;

	web_begin(&c, req, res);
	web_form_run(&c, &cart_add_form);
	web_end(&c);
}

/* "+" on a line: a unit the user holds already (after "-") comes back with
 * itemAddRemove; at the units held, a new one is held with addToCart, as
 * the product's own button does. *e and *r get the API's answer, *path
 * where to go next. true, or false after answering. */
static bool
cart_more(web_ctx *c, const char *pid, store_err *e, web_api_res *r, char *path,
          size_t pathlen)
{
	json_t *cart = NULL, *body = NULL;
	const json_t *line;

	*e = STORE_OK;
	snprintf(path, pathlen, "/cart");
	if (!get_cart(c, &cart))
		return false;
	if ((line = cart_line_of(cart, pid)) == NULL) {
		r->status = 404;          /* gone meanwhile: the cart says how it is */
		goto out;
	}
	if (!json_is_true(json_object_get(line, "limit"))) {
		body = json_pack("{s:s,s:i}", "id", pid, "add", 1);
		*e = web_api(c, "POST", "/api/cart/itemAddRemove", body, r);
		goto out;
	}
	body = json_pack("{s:s,s:s}", "id", pid, "categoryId",
	                 web_val(json_object_get(line, "product"), "categoryId"));
	*e = web_api(c, "POST", "/api/products/addToCart", body, r);
	if (*e == STORE_OK && r->status == 200)
		snprintf(path, pathlen, "/cart?added=%s&qty=%lld", pid,
		         store_json_int(line, "qty", 0) + 1);
out:
	json_decref(body);
	json_decref(cart);
	return true;
}

/* POST /cart/:id/inc|dec|remove. */
static void
cart_change(store_req *req, store_res *res, int add)
{
	const char *pid = req->params[0];
	json_t *values, *errors, *body;
	web_api_res r = { 0 };
	char path[128] = "/cart";
	web_ctx c;
	store_err e = STORE_OK;

	web_begin(&c, req, res);
	if (!web_signed_in(&c) || !web_form(&c, NULL, 0, &values, &errors))
		goto out;
	if (!web_id_ok(pid)) {
		web_error_page(&c, 404, "Not found", "This product is not in your cart.");
		goto out;
	}
	if (add > 0) {
		if (!cart_more(&c, pid, &e, &r, path, sizeof path))
			goto out;
	} else if (add < 0) {
		body = web_own_json(&c, json_pack("{s:s,s:i}", "id", pid, "add", add));
		e = web_api(&c, "POST", "/api/cart/itemAddRemove", body, &r);
	} else {
		body = web_own_json(&c, json_pack("{s:s}", "id", pid));
		e = web_api(&c, "POST", "/api/cart/itemRemove", body, &r);
	}
	/* 404: not in the cart (any more: a double click). The cart says how it is. */
	if (e == STORE_OK && (r.status == 200 || r.status == 204 || r.status == 404))
		web_redirect(&c, path);
	else if (e == STORE_OK && r.status == 400 && web_api_errors(&r) != NULL)
		cart_again(&c, web_api_errors(&r), 400);
	else
		web_api_failed(&c, e, &r);
out:
	web_api_res_free(&r);
	web_end(&c);
}

void
store_web_cart_inc(store_req *req, store_res *res)
{
	cart_change(req, res, 1);
}

void
store_web_cart_dec(store_req *req, store_res *res)
{
	cart_change(req, res, -1);
}

void
store_web_cart_remove(store_req *req, store_res *res)
{
	cart_change(req, res, 0);
}

/* "12.50" in cents, or -1. */
static long long
parse_total(const char *s)
{
	long long units = 0;
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9' && i < 10)
		units = units * 10 + (s[i++] - '0');
	if (i == 0 || s[i] != '.' || s[i + 1] < '0' || s[i + 1] > '9' || s[i + 2] < '0' ||
	    s[i + 2] > '9' || s[i + 3] != '\0')
		return -1;
	return units * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
}

/* The payments service's copy of the cart is built from events: for a
 * moment after a change it may not match the cart the page showed, or
 * not be there at all (404: the payments service has no cart of the
 * user's yet). */
static int
replica_behind(const web_api_res *r)
{
	const char *m = store_json_str(json_array_get(web_api_errors(r), 0), "message");

	return r->status == 404 ||
	       (r->status == 400 && m != NULL &&
	        (strcmp(m, "Total does not match the cart") == 0 ||
	         strcmp(m, "Cart is empty") == 0));
}

void
store_web_pay(store_req *req, store_res *res)
{
	json_t *values, *errors, *body, *unavailable;
	web_api_res r = { 0 };
	long long total;
	web_ctx c;
	store_err e = STORE_OK;

	web_begin(&c, req, res);
	if (!web_signed_in(&c) || !web_form(&c, pay_fields, 2, &values, &errors))
		goto out;
	if (errors != NULL) {
		cart_again(&c, errors, 400);
		goto out;
	}
	body = web_own_json(&c, json_pack("{s:s}", "token", web_val(values, "token")));
	total = parse_total(web_val(values, "total"));
	if (body != NULL && total > 0)
		json_object_set_new(body, "total", store_json_money(total));
	for (int i = 0; i < PAY_TRIES; i++) {
		struct timespec ts = { 0, PAY_WAIT_MS * 1000000L };
		web_api_res_free(&r);
		e = web_api(&c, "POST", "/api/payments", body, &r);
		if (e != STORE_OK || !replica_behind(&r) || total <= 0)
			break;
		nanosleep(&ts, NULL);
	}
	if (e == STORE_OK && r.status == 201) {
		web_redirect(&c, "/orders?done=paid");
	} else if (e == STORE_OK && (r.status == 400 || r.status == 402 || r.status == 409) &&
	           web_api_errors(&r) != NULL) {
		cart_again(&c, web_api_errors(&r), (int)r.status);
	} else if (e != STORE_OK || r.status == 503) {
		unavailable = web_own_json(&c, store_json_error(
			"Paying is unavailable right now and nothing was charged: try again in a "
			"moment.", NULL));
		cart_again(&c, json_object_get(unavailable, "errors"), 503);
	} else if (r.status == 404) {
		/* Still no cart there after PAY_TRIES: it has not heard of
		 * the cart the page showed. */
		unavailable = web_own_json(&c, store_json_error(
			"Your cart is still on its way to payments and nothing was charged: "
			"try again in a moment.", NULL));
		cart_again(&c, json_object_get(unavailable, "errors"), 409);
	} else {
		web_api_failed(&c, e, &r);
	}
out:
	web_api_res_free(&r);
	web_end(&c);
}

/* "2026-01-02T03:04:05Z" as "2026-01-02 03:04 UTC". */
static void
order_date(web_ctx *c, const char *iso)
{
	char date[11], time[6];

	if (iso != NULL && strlen(iso) == 20 && iso[10] == 'T' && iso[19] == 'Z') {
		memcpy(date, iso, 10);
		date[10] = '\0';
		memcpy(time, iso + 11, 5);
		time[5] = '\0';
		web_out(&c->html, "%s %s UTC", date, time);
	} else
		web_esc(&c->html, iso != NULL ? iso : "");
}

void
store_web_orders(store_req *req, store_res *res)
{
	web_api_res r = { 0 };
	size_t i, k;
	json_t *pay, *line;
	web_ctx c;
	store_err e;

	web_begin(&c, req, res);
	if (!web_signed_in(&c))
		goto out;
	e = web_api(&c, "GET", "/api/payments", NULL, &r);
	if (e != STORE_OK || r.status != 200 || !json_is_array(r.json)) {
		web_api_failed(&c, e, &r);
		goto out;
	}
	web_page_start(&c, "Your orders");
	web_raw(&c.html, "<div class=\"head\"><h1>Your orders</h1></div>\n");
	web_notice(&c);
	if (json_array_size(r.json) == 0)
		web_raw(&c.html, "<p class=\"muted\" id=\"no-orders\">No orders yet. "
		        "<a href=\"/\">Browse the categories</a>.</p>\n");
	web_raw(&c.html, "<ul class=\"orders\">\n");
	json_array_foreach(r.json, i, pay) {
		web_out(&c.html, "<li class=\"card order\" data-order=\"%s\"><div class=\"head\"><h2>",
		        web_val(pay, "id"));
		order_date(&c, store_json_str(pay, "createdAt"));
		web_raw(&c.html, "</h2><span class=\"price order-total\">");
		web_money(&c.html, web_cents(json_object_get(pay, "total")));
		web_out(&c.html, "</span></div><p class=\"muted\">%s</p><table><tbody>",
		        strcmp(web_val(pay, "status"), "succeeded") == 0 ? "Paid"
		                                                        : web_val(pay, "status"));
		json_array_foreach(json_object_get(pay, "info"), k, line) {
			const json_t *p = json_object_get(line, "product");
			long long qty = store_json_int(line, "qty", 0);
			long long cents = web_cents(json_object_get(p, "price"));
			web_out(&c.html, "<tr class=\"order-line\"><td>%s</td><td class=\"num\">× %lld</td>"
			        "<td class=\"num\">", web_val(p, "name"), qty);
			web_money(&c.html, cents * qty);
			web_raw(&c.html, "</td></tr>");
		}
		web_raw(&c.html, "</tbody></table></li>\n");
	}
	web_raw(&c.html, "</ul>\n");
	web_page_finish(&c, 200);
out:
	web_api_res_free(&r);
	web_end(&c);
}
