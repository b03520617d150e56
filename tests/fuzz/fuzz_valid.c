/* fuzz_valid - the declared-input tables (lib/valid.c): a JSON request
 * body, parsed as the request pipeline parses it, checked against the
 * services' field tables.
 *
 * Input: a first byte choosing the table (its value modulo the number of
 * tables: sign up, product create, product update, cart add/remove,
 * payment, and one with every validator), then the body. */
#include "fuzz.h"

#include "store/valid.h"

static const store_field signup[] = {
	{ "email", STORE_V_EMAIL, STORE_F_REQUIRED | STORE_F_TRIM, 0, 0, "Email must be valid" },
	{ "password", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 4, 20,
	  "Password must be between 4 and 20 characters" },
};
#define PRODUCT(picture_flags) {                                                   \
	{ "name", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 1, 200, "Name is required" }, \
	{ "description", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 1, 5000,            \
	  "Description is required" },                                                 \
	{ "price", STORE_V_MONEY, STORE_F_REQUIRED, 0, 0, "Price must be greater than 0" }, \
	{ "count", STORE_V_POSINT, STORE_F_REQUIRED, 0, 1000000, "Count must be greater than 0" }, \
	{ "picture", STORE_V_PICTURE, (picture_flags) | STORE_F_TRIM, 0, 0,            \
	  "Picture must be an http(s) URL or an image", "Picture is required" },       \
	{ "categoryId", STORE_V_OBJECTID, STORE_F_REQUIRED | STORE_F_TRIM, 0, 0,       \
	  "Invalid Category Id", "Category is required" },                             \
}
static const store_field product_create[] = PRODUCT(STORE_F_REQUIRED);
static const store_field product_update[] = PRODUCT(0);
static const store_field add_remove[] = {
	{ "id", STORE_V_OBJECTID, STORE_F_REQUIRED, 0, 0, "Invalid Product Id", "Product is required" },
	{ "add", STORE_V_INT, STORE_F_REQUIRED | STORE_F_NONZERO, -1, 1, "Add must be 1 or -1" },
};
static const store_field pay[] = {
	{ "token", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 1, 255, "Token is required" },
	{ "total", STORE_V_MONEY, 0, 0, 0, "Total must be a positive amount" },
};
static const store_field every[] = {
	{ "s", STORE_V_STRING, 0, 0, 3, "s" },
	{ "e", STORE_V_EMAIL, 0, 0, 0, "e" },
	{ "m", STORE_V_MONEY, 0, 0, 0, "m" },
	{ "p", STORE_V_POSINT, 0, 0, 0, "p" },
	{ "i", STORE_V_INT, STORE_F_NONZERO, -9000000000000000000LL, 9000000000000000000LL, "i" },
	{ "o", STORE_V_OBJECTID, STORE_F_TRIM, 0, 0, "o" },
	{ "u", STORE_V_PICTURE, 0, 0, 0, "u" },
	{ "b", STORE_V_BOOL, 0, 0, 0, "b" },
	{ "a", STORE_V_ANY, 0, 0, 0, "a" },
};

static const struct { const store_field *f; size_t n; } tables[] = {
	{ signup, sizeof signup / sizeof *signup },
	{ product_create, sizeof product_create / sizeof *product_create },
	{ product_update, sizeof product_update / sizeof *product_update },
	{ add_remove, sizeof add_remove / sizeof *add_remove },
	{ pay, sizeof pay / sizeof *pay },
	{ every, sizeof every / sizeof *every },
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in, *out = NULL, *errors = NULL, *v;
	json_error_t jerr;
	const store_field *f;
	size_t n, i;
	long long cents;
	store_err e;

	if (size == 0)
		return 0;
	f = tables[data[0] % (sizeof tables / sizeof *tables)].f;
	n = tables[data[0] % (sizeof tables / sizeof *tables)].n;
	if ((in = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES,
	                     &jerr)) == NULL)
		return 0;
	e = store_validate(in, f, n, &out, &errors);
	if (e == STORE_OK) {
		if (!json_is_object(out) || errors != NULL)
			abort();
		/* Money is handed on as integer cents within the bound. */
		for (i = 0; i < n; i++) {
			v = json_object_get(out, f[i].name);
			if (f[i].kind == STORE_V_MONEY && v != NULL &&
			    (!json_is_integer(v) || json_integer_value(v) < 1 ||
			     json_integer_value(v) > 100000000))
				abort();
			if (f[i].kind == STORE_V_STRING && v != NULL && !json_is_string(v))
				abort();
		}
	} else if (e == STORE_EINVAL) {
		if (out != NULL || json_array_size(errors) == 0)
			abort();
		json_array_foreach(errors, i, v)
			if (json_string_value(json_object_get(v, "message")) == NULL)
				abort();
	}
	/* The single checks on the same value, when it is one. */
	if (json_is_string(in)) {
		store_valid_email(json_string_value(in));
		store_valid_picture(json_string_value(in));
		store_utf8_len(json_string_value(in));
	}
	if (store_valid_money(in, &cents) && (cents < 1 || cents > 100000000))
		abort();
	json_decref(out);
	json_decref(errors);
	json_decref(in);
	return 0;
}
