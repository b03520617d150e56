/* test_web.c - the web front's building blocks: the one escaping function,
 * safe picture URLs, the CSRF token, and the form parser (urlencoded and
 * multipart, declared fields only, uploads checked by their bytes). */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "web_impl.h"

static const web_field fields[] = {
	{ "name", 10, 0 },
	{ "picture", 0, WEB_F_PICTURE },
};

static const unsigned char png[] = {
	0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R'
};

/* A multipart body with a name and a file; caller frees. */
static char *
multipart(const unsigned char *file, size_t flen, size_t *len)
{
	static const char head[] =
		"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nLamp\r\n"
		"--XyZ\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"a.png\"\r\n"
		"Content-Type: image/png\r\n\r\n";
	static const char tail[] = "\r\n--XyZ--\r\n";
	char *b = malloc(sizeof head + flen + sizeof tail);

	memcpy(b, head, sizeof head - 1);
	memcpy(b + sizeof head - 1, file, flen);
	memcpy(b + sizeof head - 1 + flen, tail, sizeof tail - 1);
	*len = sizeof head - 1 + flen + sizeof tail - 1;
	return b;
}

int
main(void)
{
	web_buf b;
	json_t *v = NULL, *errs = NULL;
	char out[64], t1[WEB_TOKEN_HEX + 1], t2[WEB_TOKEN_HEX + 1], t3[WEB_TOKEN_HEX + 1];
	const char *ct = "multipart/form-data; boundary=XyZ";
	size_t len;
	char *body;

	if (sodium_init() < 0)
		return 1;
	web_buf_init(&b, 1024);
	web_esc(&b, "<script>alert('x') & \"y\"</script>");
	CHECK(b.data != NULL && strstr(b.data, "<") == NULL && strstr(b.data, ">") == NULL &&
	      strstr(b.data, "\"") == NULL && strstr(b.data, "'") == NULL &&
	      strstr(b.data, "&amp;") != NULL, "web_esc leaves no markup character unescaped: %s",
	      b.data != NULL ? b.data : "(null)");
	web_buf_free(&b);
	web_buf_init(&b, 1024);
	web_out(&b, "<a title=\"%s\">%d</a>", "\" onmouseover=\"x", 7);
	CHECK(b.data != NULL && strncmp(b.data, "<a title=\"&", 11) == 0 &&
	      strstr(b.data, "\" onmouseover") == NULL && strstr(b.data, ">7</a>") != NULL,
	      "web_out escapes what %%s inserts and keeps the format's markup");
	web_buf_free(&b);
	web_buf_init(&b, 8);
	web_raw(&b, "0123456789");
	CHECK(b.failed, "a page over its bound fails instead of growing");
	web_buf_free(&b);

	CHECK(web_picture_ok("https://x.example/a.png") && web_picture_ok("/api/products/picture/"
	      "65a000000000000000000001"), "http(s) and same-origin /api/ pictures are shown");
	CHECK(!web_picture_ok("javascript:alert(1)") && !web_picture_ok("//evil.example/a.png") &&
	      !web_picture_ok("data:text/html,x"), "script, protocol-relative and data URLs are not");
	CHECK(web_id_ok("65a000000000000000000001") && !web_id_ok("65a0000000000000000000010") &&
	      !web_id_ok("../../etc/passwd"), "ids in URLs are 24 lowercase hex");
	CHECK(web_query_get("a=1&next=%2Fcart%3Fx%3D1&b=2", "next", out, sizeof out) &&
	      strcmp(out, "/cart?x=1") == 0, "query values are found and decoded");
	CHECK(!web_query_get("a=1", "next", out, sizeof out), "an absent query value is absent");
	CHECK(web_cookie_get("session=abc; csrf=0123", "csrf", out, sizeof out) &&
	      strcmp(out, "0123") == 0, "a cookie is read from the Cookie header");

	web_csrf_token("k-0123456789abcdef0123456789abcdef", "cookie1", "", t1);
	web_csrf_token("k-0123456789abcdef0123456789abcdef", "cookie1", "65b000000000000000000001", t2);
	web_csrf_token("k-0123456789abcdef0123456789abcdef", "cookie2", "", t3);
	CHECK(strlen(t1) == WEB_TOKEN_HEX && strcmp(t1, t2) != 0 && strcmp(t1, t3) != 0,
	      "the CSRF token depends on the browser's cookie and on the user");

	CHECK(web_form_parse("application/x-www-form-urlencoded", "name=Desk+lamp&evil=1&_csrf=t",
	                     29, fields, 2, &v, &errs) == STORE_OK &&
	      strcmp(web_val(v, "name"), "Desk lamp") == 0 && json_object_get(v, "evil") == NULL &&
	      errs == NULL, "urlencoded forms hand on declared fields only, decoded");
	json_decref(v);
	json_decref(errs);
	v = errs = NULL;
	CHECK(web_form_parse("application/x-www-form-urlencoded", "name=a-much-too-long-name", 24,
	                     fields, 2, &v, &errs) == STORE_OK && json_array_size(errs) == 1,
	      "a value over its bound is an error on its field");
	json_decref(v);
	json_decref(errs);
	v = errs = NULL;

	body = multipart(png, sizeof png, &len);
	CHECK(web_form_parse(ct, body, len, fields, 2, &v, &errs) == STORE_OK &&
	      strncmp(web_val(v, "picture"), "data:image/png;base64,", 22) == 0 &&
	      strcmp(web_val(v, "name"), "Lamp") == 0,
	      "a multipart upload of a png becomes a data: URL");
	json_decref(v);
	json_decref(errs);
	v = errs = NULL;
	free(body);
	body = multipart((const unsigned char *)"<html>not an image", 18, &len);
	CHECK(web_form_parse(ct, body, len, fields, 2, &v, &errs) == STORE_OK &&
	      json_array_size(errs) == 1 && json_object_get(v, "picture") == NULL,
	      "a file that is not an image (by its bytes) is refused");
	json_decref(v);
	json_decref(errs);
	v = errs = NULL;
	free(body);
	CHECK(web_form_parse(ct, "--XyZ\r\nnonsense", 15, fields, 2, &v, &errs) == STORE_EINVAL,
	      "a malformed multipart body is refused");
	json_decref(v);
	json_decref(errs);
	return CHECK_DONE();
}
