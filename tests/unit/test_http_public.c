/* test_http_public - routes marked STORE_ROUTE_PUBLIC: the session cookie
 * is not read there, so the service's session check (a database read on
 * every signed-in request) does not run and the handler sees no user;
 * other routes keep both. A child process serves the routes
 * (store_http_serve, one worker) on a unix socket in a temporary folder;
 * each request is the records nginx would send. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
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

/* Appends a FastCGI record of type (content of len < 65536 bytes). */
static size_t
record(unsigned char *out, int type, const void *content, size_t len)
{
	unsigned char head[8] = { 1, (unsigned char)type, 0, 1,
	                          (unsigned char)(len >> 8), (unsigned char)len, 0, 0 };

	memcpy(out, head, sizeof head);
	memcpy(out + sizeof head, content, len);
	return sizeof head + len;
}

/* Appends one name-value pair's length: 1 byte under 128, else 4. */
static size_t
pair_len(unsigned char *out, size_t n)
{
	if (n < 128) {
		out[0] = (unsigned char)n;
		return 1;
	}
	out[0] = (unsigned char)(0x80 | n >> 24);
	out[1] = (unsigned char)(n >> 16);
	out[2] = (unsigned char)(n >> 8);
	out[3] = (unsigned char)n;
	return 4;
}

/* GET path as user (NULL: no cookie) from the server; *status its HTTP
 * status, body its body (NUL-terminated). */
static void
get(const char *path, const char *user, int *status, char *body, size_t bodylen)
{
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	store_user u = { .email = "someone@example.com" };
	char *token = NULL, *value = NULL, cookie[1024] = "";
	const char *kv[] = { "REQUEST_METHOD", "GET", "DOCUMENT_URI", path,
	                     "HTTP_COOKIE", user != NULL ? cookie : NULL };
	unsigned char params[2048], in[4096], out[8192];
	size_t np = 0, n = 0, got = 0;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *b;
	ssize_t r;
	int fd;

	*status = 0;
	body[0] = '\0';
	if (user != NULL) {
		snprintf(u.id, sizeof u.id, "%s", user);
		if (store_jwt_sign(KEY, &u, 3600, &token) == STORE_OK &&
		    store_session_encode(token, &value) == STORE_OK)
			snprintf(cookie, sizeof cookie, "session=%s", value);
		free(token);
		free(value);
	}
	for (size_t i = 0; i < sizeof kv / sizeof *kv && kv[i + 1] != NULL; i += 2) {
		np += pair_len(params + np, strlen(kv[i]));
		np += pair_len(params + np, strlen(kv[i + 1]));
		memcpy(params + np, kv[i], strlen(kv[i]));
		np += strlen(kv[i]);
		memcpy(params + np, kv[i + 1], strlen(kv[i + 1]));
		np += strlen(kv[i + 1]);
	}
	n += record(in + n, 1, begin, sizeof begin);
	n += record(in + n, 4, params, np);
	n += record(in + n, 4, "", 0);
	n += record(in + n, 5, "", 0);
	snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return;
	/* Without FCGI_KEEP_CONN the server closes once it has answered. */
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    write(fd, in, n) == (ssize_t)n)
		while (got < sizeof out && (r = read(fd, out + got, sizeof out - got)) > 0)
			got += (size_t)r;
	close(fd);
	/* The answer: STDOUT records (type 6), then END_REQUEST. */
	n = 0;
	for (size_t off = 0; off + 8 <= got; ) {
		size_t len = (size_t)out[off + 4] << 8 | out[off + 5], pad = out[off + 6];

		if (out[off + 1] == 6 && off + 8 + len <= got && n + len < sizeof params) {
			memcpy(params + n, out + off + 8, len);
			n += len;
		}
		off += 8 + len + pad;
	}
	params[n] = '\0';
	*status = strncmp((char *)params, "Status: ", 8) == 0 ? atoi((char *)params + 8) : 200;
	b = strstr((char *)params, "\r\n\r\n");
	snprintf(body, bodylen, "%s", b != NULL ? b + 4 : "");
}

int
main(void)
{
	char dir[] = "/tmp/test_http_public.XXXXXX", body[512], err[256] = "";
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
	get("/public", ANN, &status, body, sizeof body);
	CHECK(status == 200 && strstr(body, "\"user\":null") != NULL &&
	      strstr(body, "\"checks\":1") != NULL,
	      "a public route: no user and no session check (%d, %s)", status, body);
	get("/public", NULL, &status, body, sizeof body);
	CHECK(status == 200 && strstr(body, "\"user\":null") != NULL,
	      "a public route without a cookie: the same answer (%d, %s)", status, body);

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
