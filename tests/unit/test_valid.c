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

/* As store-products declares them: numbers as strings, blanks as absent. */
static const store_field client[] = {
	{ "categoryId", STORE_V_OBJECTID, STORE_F_REQUIRED | STORE_F_TRIM, 0, 0,
	  "Invalid Category Id", "Category is required" },
	{ "price", STORE_V_MONEY, STORE_F_REQUIRED | STORE_F_NUMSTR, 0, 0,
	  "Price must be greater than 0", NULL, "Price must have at most two decimals" },
	{ "count", STORE_V_POSINT, STORE_F_REQUIRED | STORE_F_NUMSTR, 0, 1000000,
	  "Count must be greater than 0" },
	{ "picture", STORE_V_PICTURE, STORE_F_TRIM, 0, 0, "Picture must be a URL",
	  "Picture is required" },
};
#define NCLIENT (sizeof client / sizeof *client)
#define CAT "\"categoryId\":\"5f1d7b2c9a8e4b3c2d1e0f10\""

/* The messages of validating text against client[], joined by "|" into
 * buf ("" when it passes); *out gets the validated object when asked. */
static const char *
messages(const char *text, char *buf, size_t size, json_t **out)
{
	json_t *in = json_loads(text, JSON_ALLOW_NUL, NULL), *res = NULL, *errs = NULL, *e;
	size_t i;

	buf[0] = 0;
	if (store_validate(in, client, NCLIENT, &res, &errs) != STORE_OK)
		json_array_foreach(errs, i, e)
			snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? "|" : "",
			         json_string_value(json_object_get(e, "message")));
	if (out != NULL)
		*out = res;
	else
		json_decref(res);
	json_decref(errs);
	json_decref(in);
	return buf;
}

/* Why the money text (a JSON value) is refused, or STORE_MONEY_OK. */
static store_money
money_why(const char *text, long long *cents)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	store_money m = store_money_of(v, 1, cents);
	json_decref(v);
	return m;
}

static store_money
parse(const char *s, long long *cents)
{
	return store_money_parse(s, strlen(s), cents);
}

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

	/* Money to the cent, never rounded (issue 12 item 5). */
	CHECK(money_why("10000.001", &c) == STORE_MONEY_DECIMALS, "10000.001 has too many decimals");
	CHECK(money_why("999999.994", &c) == STORE_MONEY_DECIMALS, "999999.994 has too many decimals");
	CHECK(money_why("0.001", &c) == STORE_MONEY_DECIMALS, "0.001 has too many decimals, not 0");
	CHECK(money_why("12.345", &c) == STORE_MONEY_DECIMALS, "12.345 has too many decimals");
	CHECK(money_why("1000000.001", &c) == STORE_MONEY_DECIMALS, "1000000.001 has too many decimals");
	CHECK(money_why("-0.001", &c) == STORE_MONEY_BAD, "-0.001 is not above 0");
	CHECK(money_why("0.0", &c) == STORE_MONEY_BAD && money_why("-0.0", &c) == STORE_MONEY_BAD,
	      "0.0 and -0.0 are not above 0");
	CHECK(money_why("1e7", &c) == STORE_MONEY_BAD && money_why("1e300", &c) == STORE_MONEY_BAD,
	      "1e7 and 1e300 are above 1,000,000");
	CHECK(money_why("999999.99", &c) == STORE_MONEY_OK && c == 99999999, "999999.99 is 99999999 cents");
	CHECK(money_why("19.99", &c) == STORE_MONEY_OK && c == 1999, "19.99 is 1999 cents");
	CHECK(money_why("0.29", &c) == STORE_MONEY_OK && c == 29, "0.29 is 29 cents (0.29*100 is 28.999...)");
	CHECK(money_why("1.005", &c) == STORE_MONEY_DECIMALS, "1.005 has too many decimals");
	CHECK(money_why("19.990", &c) == STORE_MONEY_OK && c == 1999, "19.990 is 19.99");
	CHECK(money_why("1e2", &c) == STORE_MONEY_OK && c == 10000, "the number 1e2 is 100");
	CHECK(money_why("\"19.99\"", &c) == STORE_MONEY_OK && c == 1999, "the string 19.99 is 1999 cents");
	CHECK(money_why("\"12.345\"", &c) == STORE_MONEY_DECIMALS, "the string 12.345 has too many decimals");
	CHECK(!money("\"19.99\"", &c), "store_valid_money takes no strings");
	CHECK(parse("19.990", &c) == STORE_MONEY_OK && c == 1999, "text 19.990 is 1999 cents");
	CHECK(parse("0.01", &c) == STORE_MONEY_OK && c == 1, "text 0.01 is 1 cent");
	CHECK(parse("1000000.00", &c) == STORE_MONEY_OK && c == 100000000, "text 1000000.00 is the top");
	CHECK(parse("19.990000000000000001", &c) == STORE_MONEY_DECIMALS,
	      "text is read exactly: 19.990000000000000001 has too many decimals");
	CHECK(parse("0.001", &c) == STORE_MONEY_DECIMALS, "text 0.001 has too many decimals");
	{
		static const char *const bad[] = { "", " 5", "5 ", "1e3", "0x10", "05", "+5", ".5",
		                                   "5.", "-1", "0", "0.00", "1000000.01", "10000000",
		                                   "1,5", "NaN", "Infinity", "--1", "1.2.3" };
		for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
			CHECK(parse(bad[i], &c) == STORE_MONEY_BAD, "text '%s' is refused", bad[i]);
	}

	/* The original client: numeric strings, blanks as absent, in table order. */
	{
		char b[512];
		json_t *o = NULL;

		CHECK(strcmp(messages("{" CAT ",\"price\":\"19.99\",\"count\":\"5\"}", b, sizeof b, &o),
		             "") == 0 &&
		      json_integer_value(json_object_get(o, "price")) == 1999 &&
		      json_integer_value(json_object_get(o, "count")) == 5,
		      "price \"19.99\" and count \"5\" pass as 1999 cents and 5: %s", b);
		json_decref(o);
		CHECK(strcmp(messages("{\"categoryId\":\"\",\"price\":\"\",\"count\":\"\","
		                      "\"picture\":\"  \"}", b, sizeof b, NULL),
		             "Category is required|Price must be greater than 0|"
		             "Count must be greater than 0") == 0,
		      "blank strings get the messages of absent fields, in table order: %s", b);
		CHECK(strcmp(messages("{" CAT ",\"price\":\"19.999\",\"count\":\"1.5\"}", b, sizeof b,
		                      NULL), "Price must have at most two decimals|"
		             "Count must be greater than 0") == 0,
		      "\"19.999\" has too many decimals, \"1.5\" is no count: %s", b);
		CHECK(strcmp(messages("{" CAT ",\"price\":19.999,\"count\":1.5}", b, sizeof b, NULL),
		             "Price must have at most two decimals|Count must be greater than 0") == 0,
		      "the same as numbers: %s", b);
		static const char *const bad[] = { "\"1e3\"", "\" 5\"", "\"0x10\"", "\"05\"", "\"5 \"",
		                                   "\"-5\"", "\"0\"", "\"five\"", "\"99999999999999999999\"",
		                                   "\"5\\u0000\"", "[\"5\"]" };
		for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
			char text[128];
			snprintf(text, sizeof text, "{" CAT ",\"price\":%s,\"count\":%s}", bad[i], bad[i]);
			CHECK(strcmp(messages(text, b, sizeof b, NULL), "Price must be greater than 0|"
			             "Count must be greater than 0") == 0,
			      "price and count %s are refused with their messages: %s", bad[i], b);
		}
		CHECK(strcmp(messages("{" CAT ",\"price\":1,\"count\":\"5.0\","
		                      "\"picture\":\"/api/products/picture/5f1d7b2c9a8e4b3c2d1e0f10\"}",
		                      b, sizeof b, NULL), "") == 0,
		      "count \"5.0\" is 5 as 5.0 is; the store's own picture path passes: %s", b);
		CHECK(strcmp(messages("{" CAT ",\"price\":1,\"count\":1,"
		                      "\"picture\":\"/api/products/picture/../../etc\"}",
		                      b, sizeof b, NULL), "Picture must be a URL") == 0,
		      "a picture path without an id fails: %s", b);
	}

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
