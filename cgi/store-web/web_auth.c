/* web_auth.c - sign up, sign in, sign out. */
#include "web_impl.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/json.h"

static const web_field auth_fields[] = {
	{ "email", 320, 0 },
	{ "password", 256, 0 },
	{ "next", 256, 0 },
};
#define NAUTH (sizeof auth_fields / sizeof *auth_fields)

static const char *const auth_shown[] = { "email", "password", NULL };

/* Where to go after signing in: a path of this site only. */
static const char *
safe_next(const char *next)
{
	size_t n = next != NULL ? strlen(next) : 0;

	if (n < 2 || n > 200 || next[0] != '/' || next[1] == '/' || next[1] == '\\')
		return "/";
	for (size_t i = 0; i < n; i++) {
		char ch = next[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '/' || ch == '-' || ch == '_' || ch == '.'))
			return "/";
	}
	return next;
}

static void
render(web_ctx *c, int signup, const json_t *values, const json_t *errors, int status)
{
	const char *title = signup ? "Sign up" : "Sign in";
	const char *next = store_json_str(values, "next");

	web_page_start(c, title);
	web_out(&c->html, "<section class=\"card narrow\"><h1>%s</h1>\n", title);
	web_errors_other(c, errors, auth_shown);
	web_out(&c->html, "<form method=\"post\" action=\"%s\">", signup ? "/signup" : "/signin");
	web_csrf_input(c);
	if (next != NULL && strcmp(safe_next(next), "/") != 0)
		web_out(&c->html, "<input type=\"hidden\" name=\"next\" value=\"%s\">", next);
	web_input(c, "email", "Email", "email", values, errors,
	          "required autocomplete=\"email\" maxlength=\"254\"");
	web_input(c, "password", "Password", "password", values, errors,
	          signup ? "required autocomplete=\"new-password\" minlength=\"4\" maxlength=\"20\""
	                 : "required autocomplete=\"current-password\"");
	if (signup)
		web_raw(&c->html, "<p class=\"hint\">4 to 20 characters.</p>");
	web_out(&c->html, "<div class=\"actions\"><button type=\"submit\">%s</button></div>"
	        "</form>\n", title);
	if (signup)
		web_raw(&c->html, "<p class=\"muted\">Have an account? <a href=\"/signin\">Sign in</a></p>");
	else
		web_raw(&c->html, "<p class=\"muted\">New here? <a href=\"/signup\">Sign up</a></p>");
	web_raw(&c->html, "</section>\n");
	web_page_finish(c, status);
}

static void
form_page(store_req *req, store_res *res, int signup)
{
	char next[256];
	json_t *values;
	web_ctx c;

	web_begin(&c, req, res);
	if (req->user != NULL) {
		web_redirect(&c, "/");
		goto out;
	}
	values = web_own_json(&c, json_object());
	if (values != NULL && web_query_get(req->query, "next", next, sizeof next))
		json_object_set_new(values, "next", json_string(next));
	render(&c, signup, values, NULL, 200);
out:
	web_end(&c);
}

/* POST /signup and /signin: the API call, then where next says. */
static int
auth_save(web_ctx *c, web_post *p, bool signup)
{
	json_t *body = web_own_json(c, json_pack("{s:s,s:s}", "email", web_val(p->values, "email"),
	                                         "password", web_val(p->values, "password")));

	p->err = web_api(c, "POST", signup ? "/api/users/signup" : "/api/users/signin", body,
	                 &p->api);
	return 0;
}

static int
signup_save(web_ctx *c, web_post *p)
{
	return auth_save(c, p, true);
}

static int
signin_save(web_ctx *c, web_post *p)
{
	return auth_save(c, p, false);
}

static void
auth_saved(web_ctx *c, web_post *p, bool signup)
{
	const char *next = safe_next(store_json_str(p->values, "next"));

	web_api_pass_cookies(c, &p->api);
	snprintf(p->location, sizeof p->location, "%s",
	         signup && strcmp(next, "/") == 0 ? "/?done=welcome" : next);
}

static void
signup_saved(web_ctx *c, web_post *p)
{
	auth_saved(c, p, true);
}

static void
signin_saved(web_ctx *c, web_post *p)
{
	auth_saved(c, p, false);
}

static void
signup_again(web_ctx *c, web_post *p, const json_t *errors, int status)
{
	render(c, 1, p->values, errors, status);
}

static void
signin_again(web_ctx *c, web_post *p, const json_t *errors, int status)
{
	render(c, 0, p->values, errors, status);
}

static const web_form_def signup_form = {
	auth_fields, NAUTH, false, NULL, signup_save, signup_saved, signup_again,
};

static const web_form_def signin_form = {
	auth_fields, NAUTH, false, NULL, signin_save, signin_saved, signin_again,
};

static void
post(store_req *req, store_res *res, const web_form_def *def)
{
	web_ctx c;

	web_begin(&c, req, res);
	web_form_run(&c, def);
	web_end(&c);
}

void
store_web_signup_form(store_req *req, store_res *res)
{
	form_page(req, res, 1);
}

void
store_web_signin_form(store_req *req, store_res *res)
{
	form_page(req, res, 0);
}

void
store_web_signup(store_req *req, store_res *res)
{
	post(req, res, &signup_form);
}

void
store_web_signin(store_req *req, store_res *res)
{
	post(req, res, &signin_form);
}

void
store_web_signout(store_req *req, store_res *res)
{
	json_t *values, *errors;
	web_api_res r = { 0 };
	web_ctx c;
	store_err e;

	web_begin(&c, req, res);
	if (!web_form(&c, NULL, 0, &values, &errors))
		goto out;
	e = web_api(&c, "POST", "/api/users/signout", NULL, &r);
	if (e == STORE_OK && r.ncookies > 0)
		web_api_pass_cookies(&c, &r);
	else
		store_res_session(res, req, NULL);   /* signed out here all the same */
	web_redirect(&c, "/");
out:
	web_api_res_free(&r);
	web_end(&c);
}
