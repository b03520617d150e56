/* test_res.c - answers' bodies: copied (store_res_body) or stolen
 * (store_res_body_take), and out of memory a 500 without a body. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/http.h"

int
main(void)
{
	store_res res = { 0 };
	char text[] = "[1,2]", *own = strdup("[3]");

	store_res_body(&res, 200, "application/json", text, 5);
	CHECK(res.status == 200 && res.body != text && res.body_len == 5 &&
	      strcmp(res.body, "[1,2]") == 0, "store_res_body answers a copy");
	store_res_body_take(&res, 201, "application/json", own, 3);
	CHECK(res.status == 201 && res.body == own && res.body_len == 3 &&
	      strcmp(res.content_type, "application/json") == 0,
	      "store_res_body_take answers the buffer it was given, not a copy");
	store_res_body_take(&res, 200, "application/json", NULL, 0);
	CHECK(res.status == 500 && res.body == NULL && res.body_len == 0,
	      "store_res_body_take of no buffer (out of memory) is a 500");
	store_res_free(&res);
	return CHECK_DONE();
}
