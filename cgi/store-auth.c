/* store-auth - the auth service: sign up, sign in, sign out, current user.
 *
 * FastCGI program behind the front server at /api/users. Owns the users
 * database; sessions are the "session" cookie of API.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/config.h"
#include "store/db.h"
#include "store/http.h"
#include "store/json.h"
#include "store/log.h"
#include "store/password.h"
#include "store/service.h"
#include "store/users.h"

#define BODY_LIMIT 16384

static const char usage[] =
	"usage: store-auth [--help]\n"
	"\n"
	"The auth service of Store, a FastCGI program: POST /api/users/signup,\n"
	"POST /api/users/signin, POST /api/users/signout, GET /api/users/currentuser,\n"
	"and GET /healthz, /readyz.\n"
	"\n"
	"environment:\n"
	"  STORE_DB              users database: sqlite:PATH or mongodb://... (required)\n"
	"  STORE_MODULE_DIR      folder of db_mongo.so, loaded for a mongodb:// url\n"
	"                        (lib/store beside the program's folder)\n"
	"  STORE_LISTEN          unix socket path or host:port (required)\n"
	"  JWT_KEY               session signing key, at least 32 characters (required)\n"
	"  STORE_THREADS         worker threads (one per CPU, 2 to 16)\n"
	"  STORE_BODY_LIMIT      largest request body in bytes (16384)\n"
	"  STORE_ORIGIN          the store's origin for the CSRF check (the request's Host)\n"
	"  STORE_COOKIE_SECURE   mark the session cookie Secure (false)\n"
	"  STORE_SESSION_SECONDS session lifetime (86400)\n"
	"  NATS_URL              NATS with JetStream, for store.user.signedout\n"
	"                        (nats://127.0.0.1:4222); events wait in the outbox\n"
	"  STORE_STREAM_MAX_AGE, STORE_STREAM_REPLICAS: see store(7)\n"
	"  STORE_LOG_LEVEL       debug, info, warn or error (info)\n"
	"  STORE_METRICS_LISTEN  host:port serving GET /metrics, Prometheus text\n"
	"                        (unset: off; docs/METRICS.md)\n"
	"\n"
	"Sign-out signs the user out everywhere: every session of the user is\n"
	"refused from then on, here and (through store.user.signedout) by every\n"
	"other service.\n"
	"\n"
	"Stops cleanly on SIGTERM or SIGINT. Exit status: 0 stopped, 64 usage,\n"
	"69 database or bus unavailable, 78 configuration error.\n";

static const store_field signup_fields[] = {
	{ "email", STORE_V_EMAIL, STORE_F_REQUIRED | STORE_F_TRIM, 0, 0,
	  "Email must be valid" },
	{ "password", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 4, 20,
	  "Password must be between 4 and 20 characters" },
};

static const store_field signin_fields[] = {
	{ "email", STORE_V_EMAIL, STORE_F_REQUIRED | STORE_F_TRIM, 0, 0,
	  "Email must be valid" },
	{ "password", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 1, 1024,
	  "You must supply a password" },
};

/* Signs a session for user and answers {id, email} with its cookie. */
static void
answer_signed_in(store_req *req, store_res *res, int status, const store_user *user)
{
	const store_http_config *cfg = store_http_config_of(req);
	char *token = NULL;
	store_err e;

	e = store_jwt_sign(cfg->jwt_key, user, cfg->session_seconds, &token);
	if (e == STORE_OK)
		e = store_res_session(res, req, token);
	if (e != STORE_OK) {
		store_res_from_err(res, req, e);
		goto out;
	}
	store_res_json(res, status, json_pack("{s:s,s:s}", "id", user->id,
	               "email", user->email));
out:
	free(token);
}

static void
signup(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_user user;
	store_err e;

	e = store_users_signup(a->db, store_json_str(req->input, "email"),
	                       store_json_str(req->input, "password"), &user);
	if (e == STORE_EDUPLICATE) {
		store_res_error(res, 400, "Email in use", "email");
		return;
	}
	if (e != STORE_OK) {
		store_res_from_err(res, req, e);
		return;
	}
	store_log(STORE_LOG_INFO, req->request_id, NULL, "user '%s' signed up", user.id);
	answer_signed_in(req, res, 201, &user);
}

static void
signin(store_req *req, store_res *res)
{
	store_app *a = req->app;
	store_user user;
	store_err e;

	e = store_users_signin(a->db, store_json_str(req->input, "email"),
	                       store_json_str(req->input, "password"), &user);
	if (e == STORE_EAUTH) {
		store_res_error(res, 400, "Invalid credentials", NULL);
		return;
	}
	if (e != STORE_OK) {
		store_res_from_err(res, req, e);
		return;
	}
	answer_signed_in(req, res, 200, &user);
}

/* With a valid session, signs the user out everywhere (every session of
 * the user is refused from now on, by every service); clears the cookie. */
static void
signout(store_req *req, store_res *res)
{
	store_app *a = req->app;
	long long gen = 0;
	store_err e = STORE_OK;

	if (req->user != NULL) {
		e = store_users_signout(a->db, req->user, req->request_id, &gen);
		if (e == STORE_OK) {
			store_log(STORE_LOG_INFO, req->request_id, NULL,
			          "user '%s' signed out everywhere (generation %lld)",
			          req->user->id, gen);
		} else if (e == STORE_ENOTFOUND) {
			e = STORE_OK;   /* a valid token of a user this service lacks */
		}
	}
	if (e == STORE_OK)
		e = store_res_session(res, req, NULL);
	if (e != STORE_OK) {
		store_res_from_err(res, req, e);
		return;
	}
	store_res_json(res, 200, json_object());
}

static void
currentuser(store_req *req, store_res *res)
{
	json_t *u = json_null();

	if (req->user != NULL)
		u = json_pack("{s:s,s:s,s:I}", "id", req->user->id, "email",
		              req->user->email, "iat", (json_int_t)req->user->iat);
	store_res_json(res, 200, json_pack("{s:o}", "currentUser", u));
}

static const store_route routes[] = {
	{ "POST", "/api/users/signup", signup, 0, signup_fields, 2 },
	{ "POST", "/api/users/signin", signin, 0, signin_fields, 2 },
	{ "POST", "/api/users/signout", signout, 0, NULL, 0 },
	{ "GET", "/api/users/currentuser", currentuser, 0, NULL, 0 },
};

/* Prepares libsodium's Argon2id before the first request. */
static store_err
start(store_app *app, char *err, size_t errlen)
{
	(void)app;
	if (store_password_init() != STORE_OK) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return STORE_EINTERNAL;
	}
	return STORE_OK;
}

int
main(int argc, char **argv)
{
	const store_service_def def = {
		"auth", routes, sizeof routes / sizeof *routes,
		store_users_collections, store_users_ncollections, BODY_LIMIT, 1,
		NULL, 0, start, NULL, "users", 1,
	};

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	return store_service_run(&def);
}
