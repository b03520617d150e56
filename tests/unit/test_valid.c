/* test_valid.c - declared-input validation. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/valid.h"

static const store_field product[] = {
	{ "name", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 1, 100, "Name is required" },
	{ "price", STORE_V_MONEY, STORE_F_REQUIRED, 0, 0, "Price must be greater than 0" },
	{ "count", STORE_V_POSINT, STORE_F_REQUIRED, 0, 1000000, "Count must be greater than 0" },
	{ "categoryId", STORE_V_OBJECTID, STORE_F_REQUIRED, 0, 0, "Invalid Category Id" },
	{ "picture", STORE_V_PICTURE, 0, 0, 0, "Picture is required" },
	{ "add", STORE_V_INT, STORE_F_NONZERO, -1, 1, "Add must be 1 or -1" },
};
#define NPRODUCT (sizeof product / sizeof *product)

/* Validates text; returns the number of errors (-1: parse failure), and
 * the validated object through out when asked. */
static int
run(const char *text, json_t **out)
{
	json_t *in = json_loads(text, JSON_DECODE_ANY, NULL), *res = NULL, *errs = NULL;
	int n;

	if (in == NULL)
		return -1;
	n = store_validate(in, product, NPRODUCT, &res, &errs) == STORE_OK ? 0
	    : (int)json_array_size(errs);
	if (out != NULL)
		*out = res;
	else
		json_decref(res);
	json_decref(errs);
	json_decref(in);
	return n;
}

static int
money(const char *text, long long *cents)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	int ok = store_valid_money(v, cents);
	json_decref(v);
	return ok;
}

/* A data URL whose payload decodes to n bytes. Caller frees. */
static char *
data_url(const char *type, size_t n)
{
	size_t b64 = (n + 2) / 3 * 4, pre = strlen("data:image/;base64,") + strlen(type);
	char *s = malloc(pre + b64 + 1);
	sprintf(s, "data:image/%s;base64,", type);
	memset(s + pre, 'A', b64);
	s[pre + b64] = 0;
	if (n % 3 == 1) { s[pre + b64 - 1] = '='; s[pre + b64 - 2] = '='; }
	if (n % 3 == 2) s[pre + b64 - 1] = '=';
	return s;
}

int
main(void)
{
	json_t *out = NULL, *errs = NULL, *in;
	long long c = 0;
	const char *good = "{\"name\":\"  Lamp \",\"price\":12.5,\"count\":3,"
	                   "\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\",\"extra\":1}";

	CHECK(run(good, &out) == 0, "a good product passes");
	CHECK(strcmp(json_string_value(json_object_get(out, "name")), "Lamp") == 0,
	      "strings are trimmed");
	CHECK(json_integer_value(json_object_get(out, "price")) == 1250, "money becomes cents");
	CHECK(json_object_get(out, "extra") == NULL, "undeclared fields are not handed on");
	CHECK(json_object_get(out, "picture") == NULL, "an absent optional field stays absent");
	json_decref(out);

	in = json_loads("{\"name\":\"   \",\"price\":0,\"count\":-1,\"categoryId\":\"xyz\","
	                "\"picture\":\"javascript:alert(1)\",\"add\":0}", 0, NULL);
	CHECK(store_validate(in, product, NPRODUCT, &out, &errs) == STORE_EINVAL &&
	      out == NULL && json_array_size(errs) == 6, "every failing field is reported");
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(errs, 0), "message")),
	             "Name is required") == 0 &&
	      strcmp(json_string_value(json_object_get(json_array_get(errs, 0), "field")),
	             "name") == 0, "errors carry message and field, in table order");
	json_decref(errs);
	json_decref(in);
	CHECK(run("{}", NULL) == 4, "missing required fields fail");
	CHECK(run("[1,2]", NULL) == 1, "a body that is not an object fails as a whole");
	CHECK(run("{\"name\":null,\"price\":1,\"count\":1,\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\"}",
	          NULL) == 1, "null counts as missing");
	CHECK(run("{\"name\":{\"$gt\":\"\"},\"price\":1,\"count\":1,\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\"}",
	          NULL) == 1, "an object where a string belongs fails");
	CHECK(run("{\"name\":\"a\",\"price\":\"12\",\"count\":1,\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\"}",
	          NULL) == 1, "money as a string fails");
	CHECK(run("{\"name\":\"a\",\"price\":1,\"count\":1.5,\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\"}",
	          NULL) == 1, "a fractional count fails");
	CHECK(run("{\"name\":\"a\",\"price\":1,\"count\":1,\"categoryId\":\"5F1D7B2C9A8E4B3C2D1E0F10\"}",
	          NULL) == 1, "an upper-case ObjectId fails");
	CHECK(run("{\"name\":\"a\",\"price\":1,\"count\":2000000,\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\"}",
	          NULL) == 1, "a count over its bound fails");
	CHECK(run("{\"name\":\"a\",\"price\":1,\"count\":1,\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\",\"add\":-1}",
	          NULL) == 0, "add -1 passes");
	CHECK(run("{\"name\":\"a\",\"price\":1,\"count\":1,\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\",\"add\":2}",
	          NULL) == 1, "add 2 fails");
	{
		char big[256];
		memset(big, 'x', 101);
		big[101] = 0;
		char text[512];
		snprintf(text, sizeof text, "{\"name\":\"%s\",\"price\":1,\"count\":1,"
		         "\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\"}", big);
		CHECK(run(text, NULL) == 1, "a name over its length bound fails");
	}
	CHECK(run("{\"name\":\"\xc3\xa9\xc3\xa9\",\"price\":1,\"count\":1,\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\"}",
	          NULL) == 0, "lengths count characters, not bytes");
	CHECK(store_utf8_len("h\xc3\xa9llo") == 5, "utf-8 length counts code points");

	/* Money. */
	CHECK(money("12.5", &c) && c == 1250, "12.5 is 1250 cents");
	CHECK(money("3.99", &c) && c == 399, "3.99 is 399 cents");
	CHECK(money("0.01", &c) && c == 1, "0.01 is 1 cent");
	CHECK(money("7", &c) && c == 700, "an integer price is whole units");
	CHECK(money("1000000", &c) && c == 100000000, "1,000,000 is the top");
	CHECK(!money("1000000.01", &c), "above 1,000,000 fails");
	CHECK(!money("1.234", &c), "three decimals fail");
	CHECK(!money("0", &c), "zero fails");
	CHECK(!money("-5", &c), "negative fails");
	CHECK(!money("true", &c), "a boolean fails");

	/* Emails. */
	CHECK(store_valid_email("a.b+tag@example.co.uk"), "a usual address is valid");
	CHECK(!store_valid_email("plainaddress"), "no at sign is invalid");
	CHECK(!store_valid_email("a@b"), "no top-level domain is invalid");
	CHECK(!store_valid_email("a@@b.com") && !store_valid_email("a b@c.com"),
	      "double at and spaces are invalid");
	CHECK(!store_valid_email("a@b..com") && !store_valid_email(".a@b.com"),
	      "empty labels and leading dots are invalid");
	CHECK(!store_valid_email("<script>@x.com"), "markup is invalid");

	/* Pictures. */
	CHECK(store_valid_picture("https://images.example.com/lamp.jpg"), "an https URL is valid");
	CHECK(store_valid_picture("http://example.com/a.png"), "an http URL is valid");
	CHECK(!store_valid_picture("ftp://example.com/a.png"), "ftp is invalid");
	CHECK(!store_valid_picture("javascript:alert(1)"), "javascript: is invalid");
	CHECK(!store_valid_picture("https://x.com/\"onerror=\"x"), "quotes in a URL are invalid");
	{
		char *ok = data_url("png", 1000), *max = data_url("webp", STORE_PICTURE_MAX),
		     *over = data_url("jpeg", STORE_PICTURE_MAX + 1), *svg = data_url("svg+xml", 10);
		CHECK(store_valid_picture(ok), "a small png data URL is valid");
		CHECK(store_valid_picture(max), "a data URL of exactly 2 MiB is valid");
		CHECK(!store_valid_picture(over), "a data URL over 2 MiB is invalid");
		CHECK(!store_valid_picture(svg), "an svg data URL is invalid");
		free(ok); free(max); free(over); free(svg);
	}
	CHECK(!store_valid_picture("data:image/png;base64,abc"), "bad base64 length is invalid");
	CHECK(!store_valid_picture("data:image/png;base64,ab!d"), "bad base64 characters are invalid");
	/* Found by tests/fuzz/fuzz_picture: accepted, stored, then a 500 when served. */
	CHECK(!store_valid_picture("data:image/gif;base64,R0lGOD=="),
	      "base64 with bits left over after '==' is invalid");
	CHECK(!store_valid_picture("data:image/gif;base64,R0lGODl="),
	      "base64 with bits left over after '=' is invalid");
	CHECK(store_valid_picture("data:image/gif;base64,R0lGOA==") &&
	      store_valid_picture("data:image/gif;base64,R0lGODk="),
	      "base64 padded with its spare bits zero is valid");
	return CHECK_DONE();
}
