/* test_web_form.c - the web front's form skeleton (web_form_answer) and
 * what a request owns (web_own, freed by web_end): a form with errors comes
 * back with its values escaped and every message listed, a save that
 * worked redirects, a refused one shows the API's messages, a failed one
 * the error page. Run under AddressSanitizer, the leak check proves that
 * what the request owned was freed. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "web_impl.h"

static store_web web = { .key = "test-key" };
static int saves;            /* save calls made */
static int freed;            /* owned test allocations freed */
static long api_status;      /* what the stand-in save answers */
static const char *api_body; /* its JSON body, or NULL */

static const char *const shown[] = { "name", NULL };

static int
save(web_ctx *c, web_post *p)
{
	saves++;
	/* A body made for the call: the request owns it. */
	web_own_json(c, json_pack("{s:s}", "name", web_val(p->values, "name")));
	p->err = api_status > 0 ? STORE_OK : STORE_EUNAVAIL;
	p->api.status = api_status;
	p->api.json = api_body != NULL ? json_loads(api_body, 0, NULL) : NULL;
	return 0;
}

static void
saved(web_ctx *c, web_post *p)
{
	(void)c;
	snprintf(p->location, sizeof p->location, "/things/%s", web_val(p->api.json, "id"));
}

static void
render(web_ctx *c, web_post *p, const json_t *errors, int status)
{
	web_page_start(c, "Thing");
	web_errors_other(c, errors, shown);
	web_raw(&c->html, "<form method=\"post\">");
	web_input(c, "name", "Name", "text", p->values, errors, NULL);
	web_raw(&c->html, "</form>");
	web_page_finish(c, status);
}

static const web_field fields[] = { { "name", 100, 0 } };
static const web_form_def def = { fields, 1, false, "There is no such thing.", save, saved,
                                  render };

static const char *
header(const store_res *res, const char *name)
{
	for (size_t i = 0; i < res->nheaders; i++)
		if (strcmp(res->headers[i].name, name) == 0)
			return res->headers[i].value;
	return NULL;
}

/* One POST through web_form_answer with values and errors (JSON text, or
 * NULL) on a route with id (or NULL), as web_form_run does after reading. */
static void
post(store_res *res, const char *id, const char *values, const char *errors)
{
	store_req req = { .method = "POST", .path = "/things", .query = "", .request_id = "t1",
	                  .body = "", .app = &web };
	web_post p;
	web_ctx c;

	memset(&c, 0, sizeof c);
	c.req = &req;
	c.res = res;
	c.web = &web;
	web_buf_init(&c.html, WEB_PAGE_MAX);
	memset(&p, 0, sizeof p);
	p.id = id;
	p.values = web_own_json(&c, json_loads(values, 0, NULL));
	web_form_answer(&c, &def, &p,
	                errors != NULL ? web_own_json(&c, json_loads(errors, 0, NULL)) : NULL);
	web_api_res_free(&p.api);
	web_end(&c);
}

static void
count_free(void *p)
{
	freed++;
	free(p);
}

int
main(void)
{
	store_res res = { 0 };
	store_req req = { .method = "GET", .path = "/", .query = "", .request_id = "t2" };
	web_ctx c;
	int i, owned_all = 1;

	post(&res, NULL, "{\"name\":\"<b>\\\"Lamp\\\"</b>\"}",
	     "[{\"message\":\"Name is <too> long\",\"field\":\"name\"},"
	     "{\"message\":\"Other & wrong\",\"field\":\"other\"}]");
	CHECK(res.status == 400 && saves == 0, "a form with errors is shown again (400), not saved");
	CHECK(res.body != NULL && strstr(res.body, "&lt;b&gt;&quot;Lamp&quot;&lt;/b&gt;") != NULL &&
	      strstr(res.body, "<b>") == NULL,
	      "the form shown again keeps the entered value, escaped");
	CHECK(res.body != NULL && strstr(res.body, "Name is &lt;too&gt; long") != NULL &&
	      strstr(res.body, "Other &amp; wrong") != NULL,
	      "the form shown again lists each error, escaped");
	store_res_free(&res);

	api_status = 201;
	api_body = "{\"id\":\"65a000000000000000000001\"}";
	post(&res, NULL, "{\"name\":\"Lamp\"}", NULL);
	CHECK(saves == 1 && res.status == 303 && header(&res, "Location") != NULL &&
	      strcmp(header(&res, "Location"), "/things/65a000000000000000000001") == 0,
	      "a save that worked redirects (303) where saved says");
	store_res_free(&res);

	api_status = 400;
	api_body = "{\"errors\":[{\"message\":\"Name <taken>\",\"field\":\"name\"}]}";
	post(&res, NULL, "{\"name\":\"Lamp\"}", NULL);
	CHECK(saves == 2 && res.status == 400 && res.body != NULL &&
	      strstr(res.body, "Name &lt;taken&gt;") != NULL &&
	      strstr(res.body, "value=\"Lamp\"") != NULL,
	      "a save the API refused shows the form again with its messages");
	store_res_free(&res);

	api_status = 500;
	api_body = NULL;
	post(&res, NULL, "{\"name\":\"Lamp\"}", NULL);
	CHECK(saves == 3 && res.status == 502 && res.body != NULL &&
	      strstr(res.body, "Something went wrong") != NULL,
	      "a save that failed answers the error page (502)");
	store_res_free(&res);

	api_status = 0;
	post(&res, NULL, "{\"name\":\"Lamp\"}", NULL);
	CHECK(saves == 4 && res.status == 502, "no answer from the API: the error page (502)");
	store_res_free(&res);

	post(&res, "../../etc", "{\"name\":\"Lamp\"}", NULL);
	CHECK(saves == 4 && res.status == 404 && res.body != NULL &&
	      strstr(res.body, "There is no such thing.") != NULL,
	      "a route :id that is not an id is 404 before any save");
	store_res_free(&res);

	/* What a request owns is freed by web_end, the last first; past its
	 * bound web_own frees at once and says so. */
	memset(&c, 0, sizeof c);
	c.req = &req;
	c.res = &res;
	web_buf_init(&c.html, WEB_PAGE_MAX);
	for (i = 0; i < WEB_OWNED_MAX; i++)
		if (web_own(&c, malloc(8), count_free) == NULL)
			owned_all = 0;
	CHECK(owned_all && freed == 0, "a request owns what it is given, up to its bound");
	CHECK(web_own(&c, malloc(8), count_free) == NULL && freed == 1,
	      "past its bound web_own frees at once and answers NULL");
	CHECK(web_own(&c, NULL, count_free) == NULL && freed == 1, "owning NULL is nothing");
	web_end(&c);
	CHECK(freed == WEB_OWNED_MAX + 1 && c.nowned == 0,
	      "web_end frees everything the request owned");
	store_res_free(&res);
	return CHECK_DONE();
}
