/* fuzz_money - money as text, each parser as it is:
 *   - the API's (lib/valid.c, store_valid_money) on the text read as JSON,
 *   - storectl's ctl_money (lib/ctl_common.c: storectl charge AMOUNT),
 *   - the web front's money_value (lib/web_catalog.c: the product form's
 *     price field, handed to the API as a JSON number),
 * and store_json_money on what they give. Where two accept the same text,
 * they must agree on the cents.
 *
 * Input: the text (NUL ends it early, as in a C string; the web front's
 * parser only sees valid UTF-8, as form values are). */
#include "fuzz.h"

/* money_value is static in the web front's catalogue pages. */
#include "../../cgi/store-web/web_catalog.c"

#include "ctl_impl.h"

#define MONEY_MAX_CENTS 100000000LL

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
	char *s = fuzz_str(data, size);
	json_t *j = NULL, *w = NULL, *back = NULL;
	json_error_t jerr;
	long long api = -1, ctl = -1, web = -1, c;

	if (s == NULL)
		return 0;
	j = json_loads(s, JSON_DECODE_ANY, &jerr);
	if (store_valid_money(j, &c)) {
		if (c < 1 || c > MONEY_MAX_CENTS)
			abort();
		api = c;
		/* What the services write back reads as the same amount. */
		back = store_json_money(c);
		if (!store_valid_money(back, &c) || c != api)
			abort();
	}
	if (ctl_money(s, &c) == 0) {
		if (c < 1 || c > MONEY_MAX_CENTS)
			abort();
		ctl = c;
	}
	/* Form values reach money_value as valid UTF-8 (web_form.c keeps no
	 * other): only such text is its input. */
	if ((w = json_string(s)) != NULL) {
		json_decref(w);
		if ((w = money_value(s)) == NULL)
			abort();
		if (!json_is_string(w) && store_valid_money(w, &c))
			web = c;
	}
	if ((api >= 0 && ctl >= 0 && api != ctl) || (api >= 0 && web >= 0 && api != web) ||
	    (ctl >= 0 && web >= 0 && ctl != web))
		abort();
	json_decref(back);
	json_decref(w);
	json_decref(j);
	free(s);
	return 0;
}
