/* test_query.c - declared query-string parameters (store_query_parse). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/query.h"

static const char *const sorts[] = { "price", "-price", "newest", NULL };

static const store_qparam params[] = {
	{ "q", STORE_Q_TEXT, 1, 1, 10, NULL, "bad q", "q is required" },
	{ "page", STORE_Q_INT, 0, 1, 100, NULL, "bad page", NULL },
	{ "sort", STORE_Q_WORD, 0, 0, 0, sorts, "bad sort", NULL },
};
#define NPARAMS (sizeof params / sizeof *params)

/* The errors of query as "field:message;..." or the parsed object as JSON. */
static const char *
parse(const char *query)
{
	static char buf[512];
	json_t *out = NULL, *errs = NULL, *x;
	store_err e = store_query_parse(query, params, NPARAMS, &out, &errs);
	size_t i, n = 0;
	char *s;

	buf[0] = '\0';
	if (e == STORE_OK) {
		s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
		snprintf(buf, sizeof buf, "%s", s != NULL ? s : "(null)");
		free(s);
	} else if (e == STORE_EINVAL) {
		json_array_foreach(errs, i, x)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "%s:%s;",
			        json_string_value(json_object_get(x, "field")),
			        json_string_value(json_object_get(x, "message")));
	} else {
		snprintf(buf, sizeof buf, "(%s)", store_strerror(e));
	}
	json_decref(out);
	json_decref(errs);
	return buf;
}

#define EXPECT(query, want) do {                                          \
	const char *got_ = parse(query);                                      \
	const char *q_ = (query);                                             \
	CHECK(strcmp(got_, want) == 0, "query '%s' -> %s (got %s)",           \
	      q_ != NULL ? q_ : "(none)", want, got_);                        \
} while (0)

int
main(void)
{
	EXPECT("q=lamp", "{\"q\":\"lamp\"}");
	EXPECT("q=desk+lamp&page=2&sort=-price",
	       "{\"page\":2,\"q\":\"desk lamp\",\"sort\":\"-price\"}");
	EXPECT("q=%20%20lamp+%20", "{\"q\":\"lamp\"}");
	EXPECT("q=caf%C3%A9", "{\"q\":\"caf\xc3\xa9\"}");
	EXPECT("x=1&q=a&q=b&y", "{\"q\":\"a\"}");
	EXPECT("q=%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC"
	       "%E2%82%AC%E2%82%AC%E2%82%AC",
	       "{\"q\":\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	       "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"}");
	EXPECT("q=lamp&page=&sort=", "{\"q\":\"lamp\"}");
	EXPECT("", "q:q is required;");
	EXPECT(NULL, "q:q is required;");
	EXPECT("q=", "q:q is required;");
	EXPECT("q=+%20+", "q:q is required;");
	EXPECT("q", "q:q is required;");
	EXPECT("q=12345678901", "q:bad q;");
	EXPECT("q=a%00b", "q:bad q;");
	EXPECT("q=a%0Ab", "q:bad q;");
	EXPECT("q=a%7Fb", "q:bad q;");
	EXPECT("q=a%1", "q:bad q;");
	EXPECT("q=a%zz", "q:bad q;");
	EXPECT("q=%C3%28", "q:bad q;");
	EXPECT("q=a&page=0", "page:bad page;");
	EXPECT("q=a&page=101", "page:bad page;");
	EXPECT("q=a&page=-1", "page:bad page;");
	EXPECT("q=a&page=1.5", "page:bad page;");
	EXPECT("q=a&page=99999999999999999999999", "page:bad page;");
	EXPECT("q=a&page=0x10", "page:bad page;");
	EXPECT("q=a&sort=PRICE", "sort:bad sort;");
	EXPECT("q=a&sort=price%00", "sort:bad sort;");
	EXPECT("page=x&sort=y", "q:q is required;page:bad page;sort:bad sort;");
	return CHECK_DONE();
}
