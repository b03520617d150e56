/* test_http_public - routes marked STORE_ROUTE_PUBLIC: the session cookie
 * is not read there, so the service's session check (a database read on
 * every signed-in request) does not run and the handler sees no user;
 * other routes keep both. A child process serves the routes
 * (store_http_serve, one worker) on a unix socket in a temporary folder;
 * the requests come from the library's FastCGI client (fcgi.h). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store/fcgi.h"
#include "store/http.h"
#include "store/log.h"
#include "store/session.h"

#define KEY "test-key-test-key-test-key-test-key!"
/* The users: the session check answers OK for ANN, that it was signed out
 * for BOB, that it cannot tell (the database down) for CY. */
#define ANN "6b15f6f3e1a793441da23fbb"
#define BOB "6b15f6f3e1a793441da23fbc"
#define CY  "6b15f6f3e1a793441da23fbd"

static int session_checks;     /* the server's calls of session_check */
static char sock[100];

static store_err
session_check(void *app, const store_user *user)
{
	(void)app;
	session_checks++;
	return strcmp(user->id, BOB) == 0 ? STORE_EAUTH :
	       strcmp(user->id, CY) == 0 ? STORE_EUNAVAIL : STORE_OK;
}

/* {"user": id or null, "checks": n}: who the pipeline says is asking, and
 * how many session checks the server has run so far. */
static void
who(store_req *req, store_res *res)
{
	store_res_json(res, 200, json_pack("{s:s?,s:i}", "user",
	                                   req->user != NULL ? req->user->id : NULL,
	                                   "checks", session_checks));
}

static const store_route routes[] = {
	{ "GET", "/public", who, STORE_ROUTE_PUBLIC, NULL, 0 },
	{ "GET", "/any", who, 0, NULL, 0 },
	{ "GET", "/auth", who, STORE_ROUTE_AUTH, NULL, 0 },
};
static const store_service svc = { "test", routes, sizeof routes / sizeof *routes,
                                   NULL, NULL, session_check };
static store_http_config cfg = {
	.listen = sock, .jwt_key = KEY, .threads = 1, .body_limit = 4096,
	.session_seconds = 3600, .log_level = STORE_LOG_ERROR,
};

/* GET path as user (NULL: no cookie) from the server, through the
 * library's FastCGI client; *status its HTTP status, body its body. */
static void
get(const char *path, const char *user, int *status, char *body, size_t bodylen)
{
	store_user u = { .email = "someone@example.com" };
	char *token = NULL, *value = NULL, cookie[1024] = "", err[256];

	if (user != NULL) {
		snprintf(u.id, sizeof u.id, "%s", user);
		if (store_jwt_sign(KEY, &u, 3600, &token) == STORE_OK &&
		    store_session_encode(token, &value) == STORE_OK)
			snprintf(cookie, sizeof cookie, "%s=%s", STORE_COOKIE_NAME, value);
		free(token);
		free(value);
	}
	if (store_fcgi_get(sock, path, user != NULL ? cookie : NULL, 5000, status,
	                   body, bodylen, err, sizeof err) != STORE_OK)
		fprintf(stderr, "# GET %s: %s\n", path, err);
}

int
main(void)
{
	char dir[] = "/tmp/test_http_public.XXXXXX", body[512], with[512], err[256] = "";
	store_route both[] = { { "GET", "/x", who, STORE_ROUTE_AUTH | STORE_ROUTE_PUBLIC,
	                         NULL, 0 } };
	store_service bad = { "test", both, 1, NULL, NULL, NULL };
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	struct stat st;
	pid_t child;
	int status, wstatus = -1;

	store_log_init("test", STORE_LOG_WARN);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(sock, sizeof sock, "%s/test.sock", dir);
	if ((child = fork()) == 0)
		_exit(store_http_serve(&svc, &cfg, err, sizeof err) == STORE_OK ? 0 : 1);
	for (int i = 0; i < 500 && stat(sock, &st) != 0; i++)
		nanosleep(&pause, NULL);

	get("/any", ANN, &status, body, sizeof body);
	CHECK(status == 200 && strstr(body, "\"user\":\"" ANN "\"") != NULL &&
	      strstr(body, "\"checks\":1") != NULL,
	      "another route: the cookie's user, its session checked (%d, %s)", status, body);
	get("/public", ANN, &status, with, sizeof with);
	CHECK(status == 200 && strstr(with, "\"user\":null") != NULL &&
	      strstr(with, "\"checks\":1") != NULL,
	      "a public route: no user and no session check (%d, %s)", status, with);
	get("/public", NULL, &status, body, sizeof body);
	CHECK(status == 200 && strcmp(body, with) == 0,
	      "a public route without a cookie: the same answer as with one (%d, %s)",
	      status, body);

	/* The session store cannot tell: only routes that read the cookie fail. */
	get("/any", CY, &status, body, sizeof body);
	CHECK(status == 503, "another route answers 503 when the session check "
	      "cannot tell (%d, %s)", status, body);
	get("/public", CY, &status, body, sizeof body);
	CHECK(status == 200, "a public route still answers (%d, %s)", status, body);

	/* Signed out everywhere: the other routes see no user, as before. */
	get("/any", BOB, &status, body, sizeof body);
	CHECK(status == 200 && strstr(body, "\"user\":null") != NULL,
	      "another route: a signed-out session is no user (%d, %s)", status, body);
	get("/auth", BOB, &status, body, sizeof body);
	CHECK(status == 401, "an auth route: a signed-out session is a 401 (%d)", status);
	get("/auth", ANN, &status, body, sizeof body);
	CHECK(status == 200 && strstr(body, "\"user\":\"" ANN "\"") != NULL,
	      "an auth route: the cookie's user (%d, %s)", status, body);

	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, &wstatus, 0);
	}
	CHECK(child > 0 && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
	      "the server stops on SIGTERM");
	cfg.listen = dir;   /* never reached: the table is refused first */
	CHECK(store_http_serve(&bad, &cfg, err, sizeof err) == STORE_EINVAL &&
	      strstr(err, "GET /x") != NULL,
	      "a route both AUTH and PUBLIC is refused before serving (%s)", err);
	unlink(sock);
	rmdir(dir);
	return CHECK_DONE();
}
