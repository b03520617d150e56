/* ctl_seed.c - storectl seed: loads a catalogue through the store's HTTP
 * API (libcurl, through the front server), as a user would, so every rule
 * and event of the products service applies. Running it again creates
 * only what is missing. */
#include "ctl_impl.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/json.h"
#include "store/oid.h"
#include "store/valid.h"

#define FILE_MAX        (64u << 20)   /* bytes of a catalogue file */
#define RESPONSE_MAX    (16u << 20)
#define REQUEST_MIN_MS  30000L        /* one API request, at least */
#define CATEGORIES_MAX  1000
#define PRODUCTS_MAX    10000
#define PASSWORD_MAX    256

const char ctl_help_seed[] =
	"usage: storectl seed FILE --email EMAIL [--password PASSWORD | --password -]\n"
	"                     [--url URL]\n"
	"\n"
	"Loads a catalogue (categories and their products, JSON) through the\n"
	"store's API at URL, as the user EMAIL: signs up, or signs in when the\n"
	"account exists. A category that exists (by name, any owner) is reused; a\n"
	"product the user already has in that category (by name) is left as it is.\n"
	"Prints one line per category and product: {kind, name, id, category,\n"
	"status}, status created, reused, exists or refused (with the API's\n"
	"message). examples/catalog.json is a sample.\n"
	"\n"
	"FILE (- for stdin):\n"
	"  {\"categories\": [{\"name\": \"Books\", \"description\": \"...\",\n"
	"    \"products\": [{\"name\": \"...\", \"description\": \"...\", \"price\": 12.5,\n"
	"                  \"count\": 3, \"picture\": \"https://... or data:image/png;base64,...\"}]}]}\n"
	"  Everything is checked before the first request: names and descriptions\n"
	"  non-empty strings, prices above 0 with at most two decimals, counts\n"
	"  integers of 1 or more, pictures http(s) URLs or data:image URLs of at most\n"
	"  2 MiB.\n"
	"\n"
	"options:\n"
	"  --email EMAIL        the seller's address\n"
	"  --password PASSWORD  the seller's password (4 to 20 characters); - reads\n"
	"                       it from stdin; default STORE_SEED_PASSWORD\n"
	"  --url URL            the store (STORE_URL, else http://127.0.0.1:8080)\n"
	"\n"
	"exit status: 0 done, 1 the API refused something (signing in, a product),\n"
	"64 usage, 65 a malformed FILE, 69 the store unreachable or failing (5xx).\n";

typedef struct api {
	ctl *c;
	CURL *curl;
	const char *base;
	char *body;
	size_t len;
	bool too_big;
} api;

/* ---- the file ----------------------------------------------------------- */

static int
bad(ctl *c, const char *where, const char *what)
{
	return ctl_fail(c, CTL_DATAERR, "%s: %s", where, what);
}

static int
check_text(ctl *c, const json_t *o, const char *key, const char *where, size_t max)
{
	char at[128];
	const char *s = store_json_str(o, key);

	snprintf(at, sizeof at, "%s.%s", where, key);
	if (s == NULL || s[0] == '\0')
		return bad(c, at, "must be a non-empty string");
	if (store_utf8_len(s) > max)
		return bad(c, at, "is too long");
	return 0;
}

/* Checks the whole catalogue before any request. */
static int
check_file(ctl *c, const json_t *doc)
{
	const json_t *cats = json_object_get(doc, "categories"), *cat, *prods, *p;
	char where[96];
	long long cents;
	size_t i, j;
	int rc;

	if (!json_is_array(cats) || json_array_size(cats) == 0 ||
	    json_array_size(cats) > CATEGORIES_MAX)
		return bad(c, "categories", "must be an array of 1 to 1000 categories");
	json_array_foreach(cats, i, cat) {
		snprintf(where, sizeof where, "categories[%zu]", i);
		if (!json_is_object(cat))
			return bad(c, where, "must be an object");
		if ((rc = check_text(c, cat, "name", where, 100)) != 0 ||
		    (rc = check_text(c, cat, "description", where, 1000)) != 0)
			return rc;
		prods = json_object_get(cat, "products");
		if (prods == NULL)
			continue;
		if (!json_is_array(prods) || json_array_size(prods) > PRODUCTS_MAX)
			return bad(c, where, "products must be an array");
		json_array_foreach(prods, j, p) {
			snprintf(where, sizeof where, "categories[%zu].products[%zu]", i, j);
			if (!json_is_object(p))
				return bad(c, where, "must be an object");
			if ((rc = check_text(c, p, "name", where, 200)) != 0 ||
			    (rc = check_text(c, p, "description", where, 5000)) != 0)
				return rc;
			if (!store_valid_money(json_object_get(p, "price"), &cents))
				return bad(c, where, "price must be a number above 0 with at most "
				           "two decimals");
			if (!json_is_integer(json_object_get(p, "count")) ||
			    json_integer_value(json_object_get(p, "count")) < 1)
				return bad(c, where, "count must be an integer of 1 or more");
			if (!store_valid_picture(store_json_str(p, "picture")))
				return bad(c, where, "picture must be an http(s) URL or a "
				           "data:image/(png|jpeg|gif|webp);base64 URL of at most 2 MiB");
		}
	}
	return 0;
}

static int
load_file(ctl *c, const char *path, json_t **doc)
{
	json_error_t err;
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");

	if (f == NULL)
		return ctl_fail(c, CTL_DATAERR, "cannot open '%.200s': %s", path,
		                strerror(errno));
	*doc = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
	if (f != stdin)
		fclose(f);
	if (*doc == NULL)
		return ctl_fail(c, CTL_DATAERR, "'%.200s' is not valid JSON: %s (line %d)",
		                path, err.text, err.line);
	if (!json_is_object(*doc))
		return ctl_fail(c, CTL_DATAERR, "'%.200s' must hold a JSON object", path);
	return check_file(c, *doc);
}

/* ---- the API ------------------------------------------------------------ */

static size_t
on_body(char *ptr, size_t size, size_t n, void *arg)
{
	api *a = arg;
	size_t add = size * n;
	char *grown;

	if (a->len + add > RESPONSE_MAX) {
		a->too_big = true;
		return 0;
	}
	if ((grown = realloc(a->body, a->len + add + 1)) == NULL)
		return 0;
	memcpy(grown + a->len, ptr, add);
	a->body = grown;
	a->len += add;
	a->body[a->len] = '\0';
	return add;
}

/* One request: *status gets the HTTP status, *out (when not NULL) the JSON
 * body (NULL when none). Returns 0, or CTL_UNAVAILABLE after saying why
 * (no answer, or a 5xx). */
static int
call(api *a, const char *method, const char *path, const json_t *in, long *status,
     json_t **out)
{
	char url[2048], rid[64], oid[STORE_OID_LEN + 1], *data = NULL;
	struct curl_slist *hdrs = NULL;
	const char *msg;
	json_t *doc = NULL;
	CURLcode rc;

	if (out != NULL)
		*out = NULL;
	free(a->body);
	a->body = NULL;
	a->len = 0;
	a->too_big = false;
	snprintf(url, sizeof url, "%s%s", a->base, path);
	store_oid_new(oid);
	snprintf(rid, sizeof rid, "X-Request-Id: storectl-seed-%s", oid);
	hdrs = curl_slist_append(hdrs, rid);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (in != NULL) {
		data = json_dumps(in, JSON_COMPACT);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	}
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, data);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE, data != NULL ? (long)strlen(data) : 0L);
	if (in == NULL)
		curl_easy_setopt(a->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(a->curl);
	curl_slist_free_all(hdrs);
	free(data);
	if (rc != CURLE_OK)
		return ctl_fail(a->c, CTL_UNAVAILABLE, "%s %s: %s", method, url,
		                a->too_big ? "answer too large" : curl_easy_strerror(rc));
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, status);
	if (a->len > 0)
		doc = json_loadb(a->body, a->len, 0, NULL);
	if (*status >= 500) {
		msg = store_json_str(json_array_get(json_object_get(doc, "errors"), 0), "message");
		ctl_fail(a->c, CTL_UNAVAILABLE, "%s %s: %ld %s", method, url, *status,
		         msg != NULL ? msg : "");
		json_decref(doc);
		return CTL_UNAVAILABLE;
	}
	if (out != NULL)
		*out = doc;
	else
		json_decref(doc);
	return 0;
}

/* The API's first error message of doc, or a stand-in. */
static const char *
message(const json_t *doc, long status)
{
	const char *m = store_json_str(json_array_get(json_object_get(doc, "errors"), 0),
	                               "message");

	if (m != NULL)
		return m;
	return status == 401 ? "Not authorized" : "unexpected answer";
}

static int
sign_in(api *a, const char *email, const char *password)
{
	json_t *creds = json_pack("{s:s,s:s}", "email", email, "password", password), *doc = NULL;
	long status = 0;
	int rc;

	if (creds == NULL)
		return ctl_fail(a->c, CTL_SOFTWARE, "out of memory");
	rc = call(a, "POST", "/api/users/signup", creds, &status, &doc);
	if (rc == 0 && status == 400 && strcmp(message(doc, status), "Email in use") == 0) {
		json_decref(doc);
		doc = NULL;
		rc = call(a, "POST", "/api/users/signin", creds, &status, &doc);
	}
	if (rc == 0 && status != 200 && status != 201)
		rc = ctl_fail(a->c, CTL_FAIL, "cannot sign in as '%s': %s", email,
		              message(doc, status));
	json_decref(doc);
	json_decref(creds);
	return rc;
}

/* The id of the category named name (case-insensitively) in list. */
static const char *
category_id(const json_t *list, const char *name)
{
	const json_t *cat;
	size_t i;

	json_array_foreach(list, i, cat)
		if (store_json_str(cat, "name") != NULL &&
		    strcasecmp(store_json_str(cat, "name"), name) == 0)
			return store_json_str(cat, "id");
	return NULL;
}

static void
line(ctl *c, const char *kind, const char *name, const char *id, const char *category,
     const char *status, const char *msg)
{
	json_t *row = json_pack("{s:s,s:s,s:s*,s:s*,s:s}", "kind", kind, "name", name,
	                        "id", id, "category", category, "status", status);

	if (row != NULL && msg != NULL)
		json_object_set_new(row, "message", json_string(msg));
	ctl_out_row(c, row);
}

/* Creates or reuses one category; *id gets its id (a new string). */
static int
seed_category(api *a, const json_t *cat, char **id)
{
	const char *name = store_json_str(cat, "name"), *have;
	json_t *list = NULL, *body = NULL, *doc = NULL;
	long status = 0;
	int rc;

	*id = NULL;
	if ((rc = call(a, "GET", "/api/categories", NULL, &status, &list)) != 0)
		return rc;
	if ((have = category_id(list, name)) != NULL) {
		*id = strdup(have);
		line(a->c, "category", name, have, NULL, "reused", NULL);
		goto out;
	}
	body = json_pack("{s:s,s:s}", "name", name, "description",
	                 store_json_str(cat, "description"));
	if ((rc = call(a, "POST", "/api/categories", body, &status, &doc)) != 0)
		goto out;
	if (status != 201 || store_json_str(doc, "id") == NULL) {
		line(a->c, "category", name, NULL, NULL, "refused", message(doc, status));
		rc = CTL_FAIL;
		goto out;
	}
	*id = strdup(store_json_str(doc, "id"));
	line(a->c, "category", name, *id, NULL, "created", NULL);
out:
	json_decref(doc);
	json_decref(body);
	json_decref(list);
	return rc;
}

/* Creates the products of a category the user does not have yet. */
static int
seed_products(api *a, const json_t *cat, const char *cat_id)
{
	const json_t *prods = json_object_get(cat, "products"), *p, *mine;
	const char *cname = store_json_str(cat, "name"), *name, *have;
	json_t *list = NULL, *body = NULL, *doc = NULL;
	char path[128];
	long status = 0;
	size_t i, k;
	int rc, result = 0;

	if (json_array_size(prods) == 0)
		return 0;
	snprintf(path, sizeof path, "/api/products/user/%s", cat_id);
	if ((rc = call(a, "GET", path, NULL, &status, &list)) != 0)
		return rc;
	if (status != 200 || !json_is_array(list)) {
		rc = ctl_fail(a->c, CTL_FAIL, "GET %s: %ld %s", path, status, message(list, status));
		json_decref(list);
		return rc;
	}
	json_array_foreach(prods, i, p) {
		if (*a->c->stop || a->c->broken)
			break;
		name = store_json_str(p, "name");
		have = NULL;
		json_array_foreach(list, k, mine)
			if (have == NULL && store_json_str(mine, "name") != NULL &&
			    strcmp(store_json_str(mine, "name"), name) == 0)
				have = store_json_str(mine, "id");
		if (have != NULL) {
			line(a->c, "product", name, have, cname, "exists", NULL);
			continue;
		}
		body = json_pack("{s:s,s:s,s:O,s:O,s:s,s:s}", "name", name,
		                 "description", store_json_str(p, "description"),
		                 "price", json_object_get(p, "price"),
		                 "count", json_object_get(p, "count"),
		                 "picture", store_json_str(p, "picture"), "categoryId", cat_id);
		rc = call(a, "POST", "/api/products", body, &status, &doc);
		json_decref(body);
		body = NULL;
		if (rc != 0) {
			result = rc;
			break;
		}
		if (status == 201)
			line(a->c, "product", name, store_json_str(doc, "id"), cname, "created", NULL);
		else {
			line(a->c, "product", name, NULL, cname, "refused", message(doc, status));
			result = CTL_FAIL;
		}
		json_decref(doc);
		doc = NULL;
	}
	json_decref(list);
	return result;
}

static int
read_password(ctl *c, const char *given, char *out, size_t len)
{
	const char *env = getenv("STORE_SEED_PASSWORD");

	if (given != NULL && strcmp(given, "-") == 0) {
		if (fgets(out, (int)len, stdin) == NULL)
			return ctl_usage(c, "--password -: no password on stdin");
		out[strcspn(out, "\r\n")] = '\0';
	} else if (given != NULL) {
		snprintf(out, len, "%s", given);
	} else if (env != NULL && env[0] != '\0') {
		snprintf(out, len, "%s", env);
	} else {
		return ctl_usage(c, "--password (or STORE_SEED_PASSWORD) is required");
	}
	if (out[0] == '\0')
		return ctl_usage(c, "the password is empty");
	return 0;
}

int
cmd_seed(ctl *c, int argc, char **argv)
{
	const char *url = NULL, *email = NULL, *password = NULL, *env;
	char pw[PASSWORD_MAX] = "", base[1024], *pos[1], *cat_id = NULL;
	const json_t *cat;
	json_t *doc = NULL;
	api a = { c, NULL, NULL, NULL, 0, false };
	size_t i;
	int npos, rc, r;
	const ctl_opt opts[] = {
		{ "url", &url, NULL }, { "email", &email, NULL }, { "password", &password, NULL },
	};

	if ((rc = ctl_parse(c, opts, 3, argc, argv, pos, &npos, 1, 1)) != 0)
		return rc;
	if (email == NULL || email[0] == '\0')
		return ctl_usage(c, "--email is required");
	if (url == NULL)
		url = (env = getenv("STORE_URL")) != NULL && env[0] != '\0' ? env
		      : "http://127.0.0.1:8080";
	if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
	    strlen(url) >= sizeof base)
		return ctl_usage(c, "--url must be an http:// or https:// URL, not '%.64s'", url);
	snprintf(base, sizeof base, "%s", url);
	while (strlen(base) > 8 && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	if (strcmp(pos[0], "-") == 0 && password != NULL && strcmp(password, "-") == 0)
		return ctl_usage(c, "FILE and --password cannot both be read from stdin");
	if ((rc = read_password(c, password, pw, sizeof pw)) != 0)
		return rc;
	if ((rc = load_file(c, pos[0], &doc)) != 0)
		goto out;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (a.curl = curl_easy_init()) == NULL) {
		rc = ctl_fail(c, CTL_SOFTWARE, "cannot initialise libcurl");
		goto out;
	}
	a.base = base;
	curl_easy_setopt(a.curl, CURLOPT_COOKIEFILE, "");     /* cookies in memory */
	curl_easy_setopt(a.curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(a.curl, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(a.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a.curl, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(a.curl, CURLOPT_TIMEOUT_MS,
	                 c->timeout_ms > REQUEST_MIN_MS ? c->timeout_ms : REQUEST_MIN_MS);
	curl_easy_setopt(a.curl, CURLOPT_USERAGENT, "storectl-seed");
	curl_easy_setopt(a.curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if ((rc = sign_in(&a, email, pw)) != 0)
		goto out;
	ctl_out_begin(c, (const ctl_col[]){
		{ "kind", "KIND", 0 }, { "status", "STATUS", 0 }, { "id", "ID", 0 },
		{ "category", "CATEGORY", 0 }, { "name", "NAME", 0 },
		{ "message", "MESSAGE", 0 } }, 6, false);
	json_array_foreach(json_object_get(doc, "categories"), i, cat) {
		if (*c->stop || c->broken)
			break;
		r = seed_category(&a, cat, &cat_id);
		if (r == 0 && cat_id != NULL)
			r = seed_products(&a, cat, cat_id);
		free(cat_id);
		cat_id = NULL;
		if (r != 0 && (rc == 0 || r != CTL_FAIL))
			rc = r;
		if (r == CTL_UNAVAILABLE)
			break;
	}
	ctl_out_end(c);
	if (rc == 0 && *c->stop)
		rc = ctl_fail(c, CTL_FAIL, "interrupted");
	else if (rc == CTL_FAIL)
		ctl_fail(c, rc, "the store refused some of the catalogue (status refused)");
out:
	explicit_bzero(pw, sizeof pw);
	if (a.curl != NULL) {
		curl_easy_cleanup(a.curl);
		curl_global_cleanup();
	}
	free(a.body);
	json_decref(doc);
	return rc;
}
