/* web_form_run.c - the one way a POST form is answered: read it (CSRF
 * checked), show it again with its errors, save it with one API call, then
 * redirect (post/redirect/get), show it again with the API's messages, or
 * fail with an error page. What the handler makes is the request's
 * (web_own); the save's answer is freed here. */
#include "web_impl.h"

#include <string.h>

#include "store/json.h"

void
web_form_answer(web_ctx *c, const web_form_def *def, web_post *p, const json_t *errors)
{
	const json_t *api_errors;

	if (def->no_such != NULL && p->id != NULL && !web_id_ok(p->id)) {
		web_error_page(c, 404, "Not found", def->no_such);
		return;
	}
	if (errors != NULL) {
		if (def->render != NULL)
			def->render(c, p, errors, 400);
		else
			web_error_page(c, 400, "Bad request",
			               web_val(json_array_get(errors, 0), "message"));
		return;
	}
	if (def->save(c, p) != 0)
		return;
	if (p->err == STORE_OK && p->api.status >= 200 && p->api.status < 300) {
		p->location[0] = '\0';
		def->saved(c, p);
		web_redirect(c, p->location[0] == '/' ? p->location : "/");
		return;
	}
	api_errors = p->err == STORE_OK ? web_api_errors(&p->api) : NULL;
	if (p->api.status == 400 && api_errors != NULL && def->render != NULL)
		def->render(c, p, api_errors, 400);
	else
		web_api_failed(c, p->err, &p->api);
}

void
web_form_run(web_ctx *c, const web_form_def *def)
{
	web_post p;
	json_t *errors;

	memset(&p, 0, sizeof p);
	p.id = c->req->nparams > 0 ? c->req->params[0] : NULL;
	if (def->signed_in && !web_signed_in(c))
		return;
	if (!web_form(c, def->fields, def->nfields, &p.values, &errors))
		return;
	web_form_answer(c, def, &p, errors);
	web_api_res_free(&p.api);
}
