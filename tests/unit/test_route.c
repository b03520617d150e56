/* test_route.c - route tables: parameters, 404 and 405 before dispatch. */
#include <string.h>

#include "check.h"
#include "store/http.h"

static void h(store_req *req, store_res *res) { (void)req; (void)res; }

static const store_route routes[] = {
	{ "GET", "/api/products/user/:catId", h, STORE_ROUTE_AUTH, NULL, 0 },
	{ "POST", "/api/products/addToCart", h, STORE_ROUTE_AUTH, NULL, 0 },
	{ "GET", "/api/products/:catId", h, 0, NULL, 0 },
	{ "POST", "/api/products", h, STORE_ROUTE_AUTH, NULL, 0 },
	{ "PUT", "/api/products/:id", h, STORE_ROUTE_AUTH, NULL, 0 },
	{ "DELETE", "/api/products/:id", h, STORE_ROUTE_AUTH, NULL, 0 },
	{ "GET", "/api/a/:x/b/:y", h, 0, NULL, 0 },
};
#define N (sizeof routes / sizeof *routes)

static int
match(const char *method, const char *path, int *status, const char **p0,
      const char **p1, char *allow)
{
	static char buf[256];
	const char *params[STORE_ROUTE_PARAMS];
	size_t np = 0;
	int i = store_route_match(routes, N, method, path, buf, sizeof buf, params, &np,
	                          status, allow, 64);
	*p0 = np > 0 ? params[0] : NULL;
	*p1 = np > 1 ? params[1] : NULL;
	return i;
}

int
main(void)
{
	const char *a, *b;
	char allow[64];
	int st;

	CHECK(match("GET", "/api/products/user/abc", &st, &a, &b, allow) == 0 &&
	      strcmp(a, "abc") == 0, "the first fitting route wins and takes its parameter");
	CHECK(match("GET", "/api/products/abc", &st, &a, &b, allow) == 2 && strcmp(a, "abc") == 0,
	      "a parameter route matches");
	CHECK(match("POST", "/api/products/addToCart", &st, &a, &b, allow) == 1,
	      "a literal route before a parameter route wins");
	CHECK(match("PUT", "/api/products/xyz", &st, &a, &b, allow) == 4 && strcmp(a, "xyz") == 0,
	      "the method picks among routes of one path");
	CHECK(match("GET", "/api/a/1/b/2", &st, &a, &b, allow) == 6 && strcmp(a, "1") == 0 &&
	      strcmp(b, "2") == 0, "two parameters are taken in order");
	CHECK(match("GET", "/api/products/", &st, &a, &b, allow) == -1 && st == 405,
	      "a trailing slash is ignored (/api/products/ is /api/products, GET not allowed)");
	CHECK(match("PATCH", "/api/products/xyz", &st, &a, &b, allow) == -1 && st == 405 &&
	      strstr(allow, "GET") && strstr(allow, "PUT") && strstr(allow, "DELETE"),
	      "another method on a known path is 405 with Allow");
	CHECK(match("GET", "/api/nothing", &st, &a, &b, allow) == -1 && st == 404,
	      "an unknown path is 404");
	CHECK(match("GET", "/api/products/a/b/c", &st, &a, &b, allow) == -1 && st == 404,
	      "extra segments are 404");
	CHECK(match("GET", "/api//products", &st, &a, &b, allow) == -1 && st == 404,
	      "an empty segment is 404");
	CHECK(match("GET", "relative", &st, &a, &b, allow) == -1 && st == 404,
	      "a path without a leading slash is 404");
	return CHECK_DONE();
}
