/* fuzz_catalog_text - a stored document's JSON text, through the listings
 * written straight from it (lib/catalog_text.c, checked by json_scan.c):
 * the product and category answers must be, byte for byte, what parsing
 * the text (json_loadb, as store_db_get does) and encoding the view gives,
 * and a text that does not load must fail as the parse path fails
 * (STORE_EIO). A difference means the scanner accepted a text jansson
 * reads otherwise, or spliced a value jansson would write differently.
 *
 * Input: the stored text, any bytes (NUL included: the column may hold
 * them). */
#include "fuzz.h"

#include "catalog_impl.h"
#include "store/json.h"

#define DOC_ID  "65b000000000000000000001"
#define CAT_ID  "65b000000000000000000002"
#define VERSION 7

static json_t *category;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	category = json_pack("{s:s,s:i,s:s,s:s,s:s}", "id", CAT_ID, "version", 1,
	                     "name", "Caf\xc3\xa9 \"et\" th\xc3\xa9", "description",
	                     "line\nbreak", "userId", "65b000000000000000000003");
	return category != NULL ? 0 : 1;
}

/* What the parse path gives for body: "[" view "]", or NULL with *e set. */
static char *
expected(const char *body, size_t len, bool product, store_err *e)
{
	json_t *stored = json_loadb(body, len, JSON_ALLOW_NUL, NULL), *doc = NULL;
	json_t *view = NULL;
	char *one = NULL, *all = NULL;

	*e = STORE_EIO;
	if (!json_is_object(stored))
		goto out;
	*e = STORE_ENOMEM;
	doc = json_pack("{s:s,s:I}", "id", DOC_ID, "version", (json_int_t)VERSION);
	if (doc == NULL || json_object_update_missing(doc, stored) != 0)
		goto out;
	view = product ? catalog_product_view(doc, category) : catalog_category_view(doc);
	if (view == NULL || (one = store_json_dump(view)) == NULL)
		goto out;
	if (asprintf(&all, "[%s]", one) < 0)
		all = NULL;
	else
		*e = STORE_OK;
out:
	free(one);
	json_decref(view);
	json_decref(doc);
	json_decref(stored);
	return all;
}

static void
compare(const char *body, size_t len, bool product)
{
	store_db_text d = { DOC_ID, VERSION, body, len };
	store_db_texts docs = { &d, 1, NULL, 0, 0, 0 };
	struct catalog_buf b = { NULL, 0, 0, STORE_OK };
	store_err want_e, got_e;
	char *want = expected(body, len, product, &want_e);

	got_e = product ? catalog_products_text(NULL, &docs, category, &b)
	                : catalog_categories_text(&docs, &b);
	if (want_e == STORE_ENOMEM || got_e == STORE_ENOMEM)
		goto out;       /* not a difference in what was read */
	if (got_e != want_e)
		abort();
	if (got_e == STORE_OK && (b.s == NULL || want == NULL ||
	                          b.n != strlen(want) || memcmp(b.s, want, b.n) != 0))
		abort();
out:
	free(want);
	catalog_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: a read past the text is caught. */
	char *body = malloc(size > 0 ? size : 1);

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	compare(body, size, true);
	compare(body, size, false);
	free(body);
	return 0;
}
