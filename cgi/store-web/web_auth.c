/* web_auth.c - sign up, sign in, sign out. */
#include "web_impl.h"

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
	values = json_object();
	if (values != NULL && web_query_get(req->query, "next", next, sizeof next))
		json_object_set_new(values, "next", json_string(next));
	render(&c, signup, values, NULL, 200);
	json_decref(values);
out:
	web_end(&c);
}

static void
post(store_req *req, store_res *res, int signup)
{
	json_t *values = NULL, *errors = NULL, *body = NULL;
	web_api_res r = { 0 };
	char location[256];
	web_ctx c;
	store_err e;

	web_begin(&c, req, res);
	if (!web_form(&c, auth_fields, NAUTH, &values, &errors))
		goto out;
	if (errors != NULL) {
		render(&c, signup, values, errors, 400);
		goto out;
	}
	body = json_pack("{s:s,s:s}", "email", web_val(values, "email"),
	                 "password", web_val(values, "password"));
	e = web_api(&c, "POST", signup ? "/api/users/signup" : "/api/users/signin", body, &r);
	if (e == STORE_OK && (r.status == 200 || r.status == 201)) {
		const char *next = safe_next(store_json_str(values, "next"));
		web_api_pass_cookies(&c, &r);
		snprintf(location, sizeof location, "%s",
		         signup && strcmp(next, "/") == 0 ? "/?done=welcome" : next);
		web_redirect(&c, location);
	} else if (e == STORE_OK && r.status == 400 && web_api_errors(&r) != NULL) {
		render(&c, signup, values, web_api_errors(&r), 400);
	} else {
		web_api_failed(&c, e, &r);
	}
out:
	web_api_res_free(&r);
	json_decref(body);
	json_decref(values);
	json_decref(errors);
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
	post(req, res, 1);
}

void
store_web_signin(store_req *req, store_res *res)
{
	post(req, res, 0);
}

void
store_web_signout(store_req *req, store_res *res)
{
	json_t *values = NULL, *errors = NULL;
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
	json_decref(values);
	json_decref(errors);
	web_end(&c);
}
