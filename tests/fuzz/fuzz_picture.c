/* fuzz_picture - pictures sent as data: URLs, through the products
 * service's path: the validation of the product's picture field
 * (store_valid_picture), then for a valid one what creating the product
 * does (keep_picture stores its type and base64 in the pictures
 * collection), what GET /api/products/picture/:id does (store_picture_get
 * decodes it) and what deleting the product does (drop_picture), on a real
 * SQLite database.
 *
 * Input: the picture field's value (NUL ends it early, as in JSON text the
 * validator refuses an embedded NUL). A picture that passed validation
 * must be served back: decoded, of an image type, at most
 * STORE_PICTURE_MAX bytes. */
#include "fuzz.h"

#include <unistd.h>

/* keep_picture and drop_picture are static in the module. */
#include "../../lib/catalog_products.c"

#include "store/valid.h"

static store_db *db;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/fuzz-picture-XXXXXX", url[128], err[256];

	(void)argc;
	(void)argv;
	fuzz_quiet();
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(url, sizeof url, "sqlite:%s/products.db", dir);
	return store_db_open(url, store_catalog_collections, store_catalog_ncollections,
	                     &db, err, sizeof err) != STORE_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), url[96], *type = NULL;
	unsigned char *bytes = NULL;
	size_t len = 0;

	if (s == NULL)
		return 0;
	if (!store_valid_picture(s))
		goto out;
	if (keep_picture(db, s, url) != STORE_OK)
		abort();
	if (strncmp(s, "data:", 5) != 0)
		goto out;                  /* an http(s) URL is kept as it is */
	if (strncmp(url, PICTURE_PATH, strlen(PICTURE_PATH)) != 0)
		abort();
	if (store_picture_get(db, url + strlen(PICTURE_PATH), &type, &bytes, &len) != STORE_OK)
		abort();                   /* accepted, then a 500 when shown */
	if (strncmp(type, "image/", 6) != 0 || len > STORE_PICTURE_MAX)
		abort();
	if (drop_picture(db, url) != STORE_OK)
		abort();
out:
	free(type);
	free(bytes);
	free(s);
	return 0;
}
