/* bus_catalog.c - the event catalogue of EVENTS.md as a table, and a check
 * of a payload against it (storectl publish refuses what no listener
 * would take). Fields beyond the catalogue's are allowed: the publishers
 * send some (product events carry views). */
#include "bus_impl.h"

#include <stdio.h>
#include <string.h>

#include "store/oid.h"
#include "store/time.h"
#include "store/valid.h"

typedef enum ftype {
	F_OID,      /* 24 lowercase hex */
	F_STR,      /* a string */
	F_MONEY,    /* a number > 0 with at most two decimals */
	F_COUNT,    /* an integer >= 0 */
	F_QTY,      /* an integer >= 1 */
	F_BOOL,
	F_TIME,     /* RFC 3339, "2026-11-27T10:00:00Z" */
	F_OBJECT,
	F_LINES,    /* cart.changed info: [{product: {}, qty, limit}] */
	F_ITEMS,    /* payment.created info: [{productId, qty}] */
	F_IDS       /* a non-empty array of 24-hex ids */
} ftype;

typedef struct field {
	const char *name;
	ftype type;
} field;

#define FIELDS_MAX 12

const store_event_kind store_event_kinds[] = {
	{ "store.product.created", "products", "cart",
	  "{id, name, description, price, picture, userId, categoryId, count, version}" },
	{ "store.product.updated", "products", "cart",
	  "{id, name, description, price, picture, userId, categoryId, count, version}" },
	{ "store.product.deleted", "products", "cart", "{id, version}" },
	{ "store.product.selected", "products", "expiration",
	  "{productId, selectionId, userId, categoryId, views, expiresAt}" },
	{ "store.cart.add", "products", "cart",
	  "{productId, name, description, picture, price, categoryId, version, count, userId, "
	  "selectionId, expiresAt}" },
	{ "store.cart.changed", "cart", "payments",
	  "{id, userId, version, info: [{product: {...}, qty, limit}]}" },
	{ "store.expiration.complete", "expiration", "products, cart",
	  "{productId, selectionId, categoryId, views}" },
	{ "store.payment.created", "payments", "cart, products",
	  "{id, userId, stripeId, total, info: [{productId, qty, selectionIds}]}" },
	{ "store.user.signedout", "auth", "products, cart, payments", "{userId, gen}" },
	{ "store.cart.released", "cart", "products", "{userId, productId, selectionIds}" },
};

#define PRODUCT_FIELDS                                                      \
	{ { "id", F_OID }, { "name", F_STR }, { "description", F_STR },         \
	  { "price", F_MONEY }, { "picture", F_STR }, { "userId", F_OID },      \
	  { "categoryId", F_OID }, { "count", F_COUNT }, { "version", F_COUNT } }

/* The fields of each kind, in the order of store_event_kinds. */
static const field kind_fields[][FIELDS_MAX] = {
	PRODUCT_FIELDS,
	PRODUCT_FIELDS,
	{ { "id", F_OID }, { "version", F_COUNT } },
	{ { "productId", F_OID }, { "selectionId", F_OID }, { "userId", F_OID },
	  { "categoryId", F_OID }, { "views", F_COUNT }, { "expiresAt", F_TIME } },
	{ { "productId", F_OID }, { "name", F_STR }, { "description", F_STR },
	  { "picture", F_STR }, { "price", F_MONEY }, { "categoryId", F_OID },
	  { "version", F_COUNT }, { "count", F_COUNT }, { "userId", F_OID },
	  { "selectionId", F_OID }, { "expiresAt", F_TIME } },
	{ { "id", F_OID }, { "userId", F_OID }, { "version", F_COUNT },
	  { "info", F_LINES } },
	{ { "productId", F_OID }, { "selectionId", F_OID }, { "categoryId", F_OID },
	  { "views", F_COUNT } },
	{ { "id", F_OID }, { "userId", F_OID }, { "stripeId", F_STR },
	  { "total", F_MONEY }, { "info", F_ITEMS } },
	{ { "userId", F_OID }, { "gen", F_COUNT } },
	{ { "userId", F_OID }, { "productId", F_OID }, { "selectionIds", F_IDS } },
};

_Static_assert(sizeof kind_fields / sizeof *kind_fields ==
               sizeof store_event_kinds / sizeof *store_event_kinds,
               "one row of fields per event kind");

const size_t store_nevent_kinds = sizeof store_event_kinds / sizeof *store_event_kinds;

static const char *
type_text(ftype t)
{
	switch (t) {
	case F_OID: return "a 24-hex id";
	case F_STR: return "a string";
	case F_MONEY: return "an amount above 0 with at most two decimals";
	case F_COUNT: return "an integer of 0 or more";
	case F_QTY: return "an integer of 1 or more";
	case F_BOOL: return "true or false";
	case F_TIME: return "an RFC 3339 time (2026-11-27T10:00:00Z)";
	case F_OBJECT: return "an object";
	case F_LINES: return "an array of {product: {...}, qty, limit}";
	case F_ITEMS: return "an array of {productId, qty}";
	case F_IDS: return "a non-empty array of 24-hex ids";
	}
	return "?";
}

static bool value_ok(ftype t, const json_t *v);

/* v is a non-empty array of 24-hex ids. */
static bool
ids_ok(const json_t *v)
{
	const json_t *id;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	json_array_foreach(v, i, id)
		if (!store_oid_valid(json_string_value(id)))
			return false;
	return true;
}

/* Every element of v is an object whose fields fit. */
static bool
array_of(const json_t *v, const field *fs, size_t n)
{
	size_t i;
	json_t *el;

	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, el) {
		if (!json_is_object(el))
			return false;
		for (size_t k = 0; k < n; k++)
			if (!value_ok(fs[k].type, json_object_get(el, fs[k].name)))
				return false;
	}
	return true;
}

static bool
value_ok(ftype t, const json_t *v)
{
	static const field line[] = { { "product", F_OBJECT }, { "qty", F_COUNT },
	                              { "limit", F_BOOL } };
	static const field item[] = { { "productId", F_OID }, { "qty", F_QTY } };
	long long cents, ms;

	switch (t) {
	case F_OID: return store_oid_valid(json_string_value(v));
	case F_STR: return json_is_string(v);
	case F_MONEY: return store_valid_money(v, &cents) != 0;
	case F_COUNT: return json_is_integer(v) && json_integer_value(v) >= 0;
	case F_QTY: return json_is_integer(v) && json_integer_value(v) >= 1;
	case F_BOOL: return json_is_boolean(v);
	case F_TIME: return store_time_parse(json_string_value(v), &ms);
	case F_OBJECT: return json_is_object(v);
	case F_LINES: return array_of(v, line, sizeof line / sizeof *line);
	case F_ITEMS: return array_of(v, item, sizeof item / sizeof *item);
	case F_IDS: return ids_ok(v);
	}
	return false;
}

store_err
store_event_check(const char *subject, const json_t *payload, char *err, size_t errlen)
{
	const store_event_kind *kind = NULL;
	const field *fs = NULL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (size_t i = 0; subject != NULL && i < store_nevent_kinds; i++) {
		if (strcmp(store_event_kinds[i].subject, subject) == 0) {
			kind = &store_event_kinds[i];
			fs = kind_fields[i];
		}
	}
	if (kind == NULL)
		return STORE_ENOTFOUND;
	if (!json_is_object(payload)) {
		snprintf(err, errlen, "the payload must be a json object");
		return STORE_EINVAL;
	}
	for (size_t k = 0; k < FIELDS_MAX && fs[k].name != NULL; k++) {
		const json_t *v = json_object_get(payload, fs[k].name);

		if (v == NULL) {
			snprintf(err, errlen, "field '%s' is missing ('%s' needs %s)",
			         fs[k].name, subject, kind->fields);
			return STORE_EINVAL;
		}
		if (!value_ok(fs[k].type, v)) {
			snprintf(err, errlen, "field '%s' must be %s", fs[k].name,
			         type_text(fs[k].type));
			return STORE_EINVAL;
		}
	}
	return STORE_OK;
}
