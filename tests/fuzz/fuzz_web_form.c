/* fuzz_web_form - the web front's form parser (lib/web_form.c):
 * application/x-www-form-urlencoded and multipart/form-data bodies, with
 * picture uploads sniffed by their magic bytes.
 *
 * Input: the Content-Type header, a newline, then the body. The fields
 * declared are the product form's (a picture among them) and the CSRF
 * field, as store-web reads them. */
#include "fuzz.h"

#include <sodium.h>

#include "web_impl.h"

static const web_field fields[] = {
	{ "name", 2000, 0 },
	{ "description", 40000, 0 },
	{ "price", 64, 0 },
	{ "count", 64, 0 },
	{ "categoryId", 64, 0 },
	{ "picture", 0, WEB_F_PICTURE },
	{ "pictureUrl", 2048, 0 },
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return sodium_init() < 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *ctype = NULL, *body = NULL;
	const uint8_t *rest;
	size_t len;
	json_t *values = NULL, *errors = NULL;

	if (!fuzz_split(data, size, '\n', &ctype, &rest, &len))
		return 0;
	/* The body in a buffer of its exact size: no NUL after it. */
	if ((body = malloc(len > 0 ? len : 1)) == NULL)
		goto out;
	memcpy(body, rest, len);
	if (web_form_parse(ctype, body, len, fields, sizeof fields / sizeof *fields,
	                   &values, &errors) == STORE_OK) {
		if (values == NULL)
			abort();
		/* What a handler reads: every value is a string. */
		const char *k;
		json_t *v;
		json_object_foreach(values, k, v)
			if (!json_is_string(v))
				abort();
	} else if (values != NULL || errors != NULL) {
		abort();
	}
out:
	json_decref(values);
	json_decref(errors);
	free(body);
	free(ctype);
	return 0;
}
