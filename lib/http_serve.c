/* http_serve.c - the FastCGI accept loop and the request pipeline. */
#include "store/http.h"

#include <ctype.h>
#include <errno.h>
#include <fastcgi.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "store/config.h"
#include "store/json.h"
#include "store/log.h"
#include "store/metrics.h"
#include "http_impl.h"

#define PATH_MAX_LEN 2048
#define REQ_ID_MAX 128
#define THREADS_MAX 256
#define READ_TIMEOUT_S 30   /* a front server silent mid-request this long is dropped */
#define HEAD_SMALL 2048        /* an answer's head, on the stack (longer: malloc) */
#define RECORDS_PER_WRITE 16   /* FastCGI records (64 KB each at most) per writev */

struct conn;

/* Workers wait in one epoll set for a new connection on the listener, or a
 * request on a connection between requests (kept open by the front server:
 * nginx's fastcgi_keep_conn), and serve it. */
typedef struct server {
	const store_service *svc;
	const store_http_config *cfg;
	int fd;                         /* the listener, non-blocking */
	int epfd;
	int wake;                       /* an eventfd: readable once stopping */
	bool unix_socket;               /* fd listens on a unix socket */
	volatile sig_atomic_t stopping;
	pthread_mutex_t conns_lock;
	struct conn *conns;             /* every open connection */
} server;

/* What store_req.priv points at. */
typedef struct req_priv {
	FCGX_Request *fcgi;
	const store_http_config *cfg;
} req_priv;

long
store_http_threads_per_cpu(void)
{
	cpu_set_t set;
	long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) :
	         sysconf(_SC_NPROCESSORS_ONLN);

	return n < 2 ? 2 : n > 16 ? 16 : n;
}

store_err
store_http_config_load(store_http_config *cfg, long default_body_limit,
                       long default_threads, char *err, size_t errlen)
{
	char deflimit[32], defthreads[32], deflevel[8] = "info";
	const char *level = NULL;
	store_err e;

	memset(cfg, 0, sizeof *cfg);
	snprintf(deflimit, sizeof deflimit, "%ld", default_body_limit);
	snprintf(defthreads, sizeof defthreads, "%ld", default_threads > 0 ?
	         default_threads : store_http_threads_per_cpu());
	const store_setting table[] = {
		{ "STORE_LISTEN", STORE_SETTING_STR, NULL, 0, 0, &cfg->listen, NULL },
		{ "JWT_KEY", STORE_SETTING_SECRET, NULL, 32, 0, &cfg->jwt_key, NULL },
		{ "STORE_THREADS", STORE_SETTING_INT, defthreads, 1, THREADS_MAX, NULL,
		  &cfg->threads },
		{ "STORE_BODY_LIMIT", STORE_SETTING_INT, deflimit, 1024, 64L << 20, NULL,
		  &cfg->body_limit },
		{ "STORE_ORIGIN", STORE_SETTING_STR, "-", 0, 0, &cfg->origin, NULL },
		{ "STORE_COOKIE_SECURE", STORE_SETTING_BOOL, "false", 0, 0, NULL,
		  &cfg->cookie_secure },
		{ "STORE_SESSION_SECONDS", STORE_SETTING_INT, "86400", 60, 31L * 86400, NULL,
		  &cfg->session_seconds },
		{ "STORE_LOG_LEVEL", STORE_SETTING_STR, deflevel, 0, 0, &level, NULL },
	};
	e = store_config_load(table, sizeof table / sizeof *table, err, errlen);
	if (e == STORE_OK)
		e = store_metrics_config_load(&cfg->metrics_listen, err, errlen);
	if (e != STORE_OK)
		return e;
	if (strcmp(cfg->origin, "-") == 0) {
		cfg->origin = NULL;
	} else if (strncmp(cfg->origin, "http://", 7) != 0 &&
	           strncmp(cfg->origin, "https://", 8) != 0) {
		snprintf(err, errlen, "setting 'STORE_ORIGIN' must start with http:// or https://");
		return STORE_ECONFIG;
	}
	cfg->log_level = store_log_level_parse(level);
	if (cfg->log_level < 0) {
		snprintf(err, errlen, "setting 'STORE_LOG_LEVEL' must be debug, info, warn or error");
		return STORE_ECONFIG;
	}
	return STORE_OK;
}

const store_http_config *
store_http_config_of(const store_req *req)
{
	return ((const req_priv *)req->priv)->cfg;
}

const char *
store_req_param(const store_req *req, const char *cgi_name)
{
	return FCGX_GetParam(cgi_name, ((const req_priv *)req->priv)->fcgi->envp);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 302: return "Found";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default:  return status >= 500 ? "Internal Server Error" : "Status";
	}
}

static bool
has_header(const store_res *res, const char *name)
{
	for (size_t i = 0; i < res->nheaders; i++)
		if (res->headers[i].name != NULL && strcasecmp(res->headers[i].name, name) == 0)
			return true;
	return false;
}

/* Writes all of iov (n entries) to fd, going on after partial writes and
 * interruptions; false on an error (SO_SNDTIMEO's timeout among them). */
static bool
write_iov(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return true;
}

static FCGI_Header
record_header(int type, int request_id, size_t len)
{
	return (FCGI_Header){ FCGI_VERSION_1, (unsigned char)type,
	                      (unsigned char)(request_id >> 8), (unsigned char)request_id,
	                      (unsigned char)(len >> 8), (unsigned char)len, 0, 0 };
}

/* Marks rq's output stream closed, so that FCGX_Finish_r writes nothing
 * more on it: the answer went out whole (err 0), or could not, and err left
 * as the stream's error has FCGX_Finish_r drop the connection. */
static void
answer_done(FCGX_Request *rq, int err)
{
	rq->out->FCGI_errno = err;
	rq->out->wasFCloseCalled = 1;
	rq->out->isClosed = 1;
	rq->out->rdNext = rq->out->stop = rq->out->wrNext;
}

/* Writes the whole answer of rq, past libfcgi's stream: the head and the
 * body as FastCGI stdout records (64 KB each at most), the end of stdout
 * and the end of the request, with as few writev calls as the records
 * allow (one for an answer under 1 MB). libfcgi's stream would write an
 * answer in 8 KB pieces and its ending apart, each a write and a wakeup of
 * nginx. Then answer_done. */
static void
write_answer(FCGX_Request *rq, const char *head, size_t hlen, const char *body,
             size_t blen)
{
	const struct { const char *s; size_t n; } part[2] = { { head, hlen }, { body, blen } };
	FCGI_Header hdrs[RECORDS_PER_WRITE + 1];
	FCGI_EndRequestRecord end = {
		record_header(FCGI_END_REQUEST, rq->requestId, sizeof end.body),
		{ 0, 0, 0, 0, FCGI_REQUEST_COMPLETE, { 0, 0, 0 } },
	};
	struct iovec iov[2 * RECORDS_PER_WRITE + 2];
	size_t p = 0, done = 0;
	bool ok = true;

	while (ok && p < 2) {
		int n = 0, r = 0;

		for (; r < RECORDS_PER_WRITE && p < 2; r++) {
			size_t left = part[p].n - done, len = left > 0xffff ? 0xffff : left;

			if (len > 0) {
				hdrs[r] = record_header(FCGI_STDOUT, rq->requestId, len);
				iov[n++] = (struct iovec){ &hdrs[r], sizeof hdrs[r] };
				iov[n++] = (struct iovec){ (char *)part[p].s + done, len };
				done += len;
			}
			if (done == part[p].n) {
				p++;
				done = 0;
			}
		}
		if (p == 2) {   /* the last write: the endings go with it */
			hdrs[r] = record_header(FCGI_STDOUT, rq->requestId, 0);
			iov[n++] = (struct iovec){ &hdrs[r], sizeof hdrs[r] };
			iov[n++] = (struct iovec){ &end, sizeof end };
		}
		ok = write_iov(rq->ipcFd, iov, n);
	}
	answer_done(rq, ok ? 0 : errno != 0 ? errno : EIO);
}

/* The answer's head (status and header lines, then the blank line; body:
 * whether the answer has one) into buf (cap bytes, NUL-terminated when it
 * fits); its length, as snprintf. */
static size_t
head_text(const store_req *req, const store_res *res, bool body, char *buf,
          size_t cap)
{
	size_t n = 0;
	int w;

#define HEAD(...) \
	((w = snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__)) > 0 ? \
	 (void)(n += (size_t)w) : (void)0)
	HEAD("Status: %d %s\r\n", res->status, reason(res->status));
	HEAD("X-Request-Id: %s\r\nX-Content-Type-Options: nosniff\r\n", req->request_id);
	if (!has_header(res, "Cache-Control"))
		HEAD("Cache-Control: no-store\r\n");
	if (res->set_cookie != NULL)
		HEAD("Set-Cookie: %s\r\n", res->set_cookie);
	for (size_t i = 0; i < res->nheaders; i++)
		if (res->headers[i].name != NULL && res->headers[i].value != NULL)
			HEAD("%s: %s\r\n", res->headers[i].name, res->headers[i].value);
	if (body)
		HEAD("Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
		     res->content_type != NULL ? res->content_type : "application/octet-stream",
		     res->body_len);
	else
		HEAD("Content-Length: 0\r\n\r\n");
#undef HEAD
	return n;
}

static void
write_response(FCGX_Request *rq, const store_req *req, const store_res *res)
{
	char small[HEAD_SMALL], *head = small;
	bool body = res->body != NULL && res->status != 204;
	size_t len = head_text(req, res, body, small, sizeof small);

	if (len >= sizeof small) {
		if ((head = malloc(len + 1)) == NULL) {
			answer_done(rq, ENOMEM);
			return;
		}
		head_text(req, res, body, head, len + 1);
	}
	write_answer(rq, head, len, body ? res->body : NULL, body ? res->body_len : 0);
	if (head != small)
		free(head);
}

/* The client's request id when it is 1-128 of [A-Za-z0-9._-], else a new
 * 32-hex id. */
static void
request_id(const char *given, char out[REQ_ID_MAX + 1])
{
	unsigned char raw[16];
	size_t n = given != NULL ? strlen(given) : 0;
	int ok = n > 0 && n <= REQ_ID_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)given[i]) || strchr("._-", given[i]) != NULL;
	if (ok) {
		memcpy(out, given, n + 1);
		return;
	}
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(out, REQ_ID_MAX + 1, raw, sizeof raw);
}

/* The first entry of a comma-separated header value, trimmed, into buf;
 * NULL when absent, empty or too long. */
static const char *
first_entry(const char *v, char *buf, size_t size)
{
	size_t n;

	if (v == NULL)
		return NULL;
	v += strspn(v, " \t");
	n = strcspn(v, ", \t");
	if (n == 0 || n >= size)
		return NULL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

/* CSRF: a state-changing request whose Origin is present must come from the
 * store's origin: STORE_ORIGIN when set, else scheme://host of the request,
 * where host is X-Forwarded-Host or Host and scheme X-Forwarded-Proto or
 * https when the front server says HTTPS, as a proxy in front sends them (a
 * browser cannot add those headers to a cross-site request). */
static bool
origin_ok(const store_req *req, const store_http_config *cfg)
{
	const char *origin = store_req_param(req, "HTTP_ORIGIN");
	const char *host, *proto, *https;
	char self[512], hbuf[256], pbuf[16];

	if (origin == NULL || strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0 || strcmp(req->method, "OPTIONS") == 0)
		return true;
	if (cfg->origin != NULL)
		return strcasecmp(origin, cfg->origin) == 0;
	host = first_entry(store_req_param(req, "HTTP_X_FORWARDED_HOST"), hbuf, sizeof hbuf);
	if (host == NULL)
		host = store_req_param(req, "HTTP_HOST");
	proto = first_entry(store_req_param(req, "HTTP_X_FORWARDED_PROTO"), pbuf, sizeof pbuf);
	https = store_req_param(req, "HTTPS");
	if (proto == NULL || (strcasecmp(proto, "http") != 0 && strcasecmp(proto, "https") != 0))
		proto = https != NULL && strcasecmp(https, "on") == 0 ? "https" : "http";
	if (host == NULL || *host == '\0')
		return false;
	if (snprintf(self, sizeof self, "%s://%s", proto, host) >= (int)sizeof self)
		return false;
	return strcasecmp(origin, self) == 0;
}

/* Reads the body, at most limit bytes. Over the limit: the rest is drained
 * (so the front server sees a whole exchange) and STORE_ETOOBIG returned.
 * *body is a new NUL-terminated buffer; caller frees. */
static store_err
read_body(FCGX_Request *rq, long limit, char **body, size_t *len)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", rq->envp);
	long want = cl != NULL ? atol(cl) : 0;
	size_t max = (size_t)limit, cap = (want > 0 && want <= limit ? (size_t)want : 0) + 1;
	size_t n = 0;
	char *buf = NULL, scratch[8192];
	int got;

	*body = NULL;
	*len = 0;
	if (want > limit)
		goto drain;
	if ((buf = malloc(cap)) == NULL)
		return STORE_ENOMEM;
	for (;;) {
		if (n == cap - 1) {
			/* Full: no or a wrong Content-Length. Grow, bounded. */
			if (n >= max) {
				if (FCGX_GetStr(scratch, 1, rq->in) > 0)
					goto drain;
				break;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *bigger = realloc(buf, ncap);
			if (bigger == NULL) {
				free(buf);
				return STORE_ENOMEM;
			}
			buf = bigger;
			cap = ncap;
		}
		got = FCGX_GetStr(buf + n, (int)(cap - 1 - n), rq->in);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	*body = buf;
	*len = n;
	return STORE_OK;
drain:
	while (FCGX_GetStr(scratch, sizeof scratch, rq->in) > 0)
		;
	free(buf);
	return STORE_ETOOBIG;
}

static void
answer_health(store_req *req, store_res *res, const store_service *svc, int ready)
{
	char why[256] = "";
	store_err e;

	if (!ready) {
		store_res_json(res, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	e = svc->ready != NULL ? svc->ready(svc->app, why, sizeof why) : STORE_OK;
	if (e == STORE_OK) {
		store_res_json(res, 200, json_pack("{s:s}", "status", "ready"));
		return;
	}
	store_log(STORE_LOG_WARN, req->request_id, NULL, "not ready: %s", why);
	store_res_json(res, 503, json_pack("{s:[{s:s,s:s}]}", "errors", "message",
	               "Service unavailable", "dependency", why));
}

/* Parses the JSON body and validates the route's fields into req->input. */
static int
take_input(store_req *req, store_res *res, const store_route *route)
{
	json_t *in = NULL, *errors = NULL;
	json_error_t jerr;
	int ok = 0;

	if (route->flags & STORE_ROUTE_RAW) {
		req->input = json_object();
		return req->input != NULL;
	}
	if (req->body_len == 0) {
		in = json_object();
	} else {
		in = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (in == NULL) {
			store_res_error(res, 400, "Body must be valid JSON", NULL);
			goto out;
		}
	}
	if (!json_is_object(in)) {
		store_res_error(res, 400, "Body must be a JSON object", NULL);
		goto out;
	}
	if (route->nfields == 0) {
		req->input = json_object();
		ok = req->input != NULL;
		goto out;
	}
	if (store_validate(in, route->fields, route->nfields, &req->input, &errors) != STORE_OK) {
		if (errors != NULL)
			store_res_json(res, 400, json_pack("{s:o}", "errors", errors));
		else
			store_res_error(res, 500, "Something went wrong", NULL);
		goto out;
	}
	ok = 1;
out:
	json_decref(in);
	return ok;
}

static void
handle(server *srv, FCGX_Request *rq)
{
	const store_service *svc = srv->svc;
	const store_http_config *cfg = srv->cfg;
	char rid[REQ_ID_MAX + 1], pathbuf[PATH_MAX_LEN], allow[64];
	req_priv priv = { rq, cfg };
	store_req req = { 0 };
	store_res res = { 0 };
	store_user user;
	char *body = NULL;
	const char *path, *q, *route = "unmatched";
	struct timespec t0, t1;
	long long tenths;
	int idx = -1, status;
	store_err e;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	req.priv = &priv;
	req.app = svc->app;
	request_id(FCGX_GetParam("HTTP_X_REQUEST_ID", rq->envp), rid);
	req.request_id = rid;
	req.method = FCGX_GetParam("REQUEST_METHOD", rq->envp);
	path = FCGX_GetParam("DOCUMENT_URI", rq->envp);
	if (path == NULL)
		path = FCGX_GetParam("REQUEST_URI", rq->envp);
	q = FCGX_GetParam("QUERY_STRING", rq->envp);
	req.query = q != NULL ? q : "";
	req.body = "";
	if (req.method == NULL || path == NULL || strlen(path) >= PATH_MAX_LEN) {
		req.method = req.method != NULL ? req.method : "-";
		req.path = "-";
		store_res_error(&res, 400, "Bad request", NULL);
		goto send;
	}
	/* REQUEST_URI carries the query; the route sees the path alone. */
	snprintf(pathbuf, sizeof pathbuf, "%.*s", (int)strcspn(path, "?"), path);
	req.path = pathbuf;

	if (strcmp(req.method, "GET") == 0 &&
	    (strcmp(req.path, "/healthz") == 0 || strcmp(req.path, "/readyz") == 0)) {
		route = req.path;
		answer_health(&req, &res, svc, req.path[1] == 'r');
		goto send;
	}
	char parambuf[PATH_MAX_LEN];
	idx = store_route_match(svc->routes, svc->nroutes, req.method, req.path,
	                        parambuf, sizeof parambuf, req.params, &req.nparams,
	                        &status, allow, sizeof allow);
	if (idx >= 0)
		route = svc->routes[idx].pattern;
	e = read_body(rq, cfg->body_limit, &body, &req.body_len);
	if (e == STORE_ETOOBIG) {
		store_res_error(&res, 413, "Request body too large", NULL);
		goto send;
	} else if (e != STORE_OK) {
		store_res_from_err(&res, &req, e);
		goto send;
	}
	req.body = body;
	if (idx < 0) {
		if (status == 405) {
			store_res_header(&res, "Allow", allow);
			store_res_error(&res, 405, "Method Not Allowed", NULL);
		} else {
			store_res_error(&res, 404, "Not Found", NULL);
		}
		goto send;
	}
	if (!origin_ok(&req, cfg)) {
		store_res_error(&res, 403, "Cross-site request refused", NULL);
		goto send;
	}
	if (!(svc->routes[idx].flags & STORE_ROUTE_PUBLIC) &&
	    store_session_from_cookies(cfg->jwt_key, FCGX_GetParam("HTTP_COOKIE", rq->envp),
	                               time(NULL), &user) == STORE_OK)
		req.user = &user;
	if (req.user != NULL && svc->session_check != NULL &&
	    (e = svc->session_check(svc->app, req.user)) != STORE_OK) {
		if (e != STORE_EAUTH) {
			store_res_from_err(&res, &req, e);
			goto send;
		}
		req.user = NULL;
	}
	if ((svc->routes[idx].flags & STORE_ROUTE_AUTH) && req.user == NULL) {
		store_res_error(&res, 401, "Not authorized", NULL);
		goto send;
	}
	if (!take_input(&req, &res, &svc->routes[idx]))
		goto send;
	svc->routes[idx].fn(&req, &res);
	if (res.status == 0) {
		store_log(STORE_LOG_ERROR, rid, NULL, "handler for %s %s gave no answer",
		          req.method, req.path);
		store_res_error(&res, 500, "Something went wrong", NULL);
	}
send:
	write_response(rq, &req, &res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Tenths of a millisecond, rounded, formatted as integers: a %f
	 * (__printf_fp) was 0.8% of store-products' samples under GET
	 * categories. */
	tenths = ((long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL +
	          (t1.tv_nsec - t0.tv_nsec) + 50000) / 100000;
	store_log(res.status >= 500 ? STORE_LOG_ERROR : STORE_LOG_INFO, rid, NULL,
	          "%s %s %d %lld.%lldms", req.method, req.path, res.status,
	          tenths / 10, tenths % 10);
	store_metrics_http_request(route, req.method, res.status,
	                           (double)(t1.tv_sec - t0.tv_sec) +
	                           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	json_decref(req.input);
	free(body);
	store_res_free(&res);
}

void
http_handle(const store_service *svc, const store_http_config *cfg, FCGX_Request *rq)
{
	server srv = { .svc = svc, .cfg = cfg, .fd = -1 };

	handle(&srv, rq);
}

/* One connection from the front server. libfcgi reads its requests one
 * after another on rq (FCGX_Accept_r continues on a kept connection); the
 * connection sits in the epoll set between requests, so a kept connection
 * holds no thread while idle. */
typedef struct conn {
	FCGX_Request rq;
	struct conn *prev, *next;       /* srv->conns */
} conn;

static void
conn_list_add(server *srv, conn *c)
{
	pthread_mutex_lock(&srv->conns_lock);
	c->prev = NULL;
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	pthread_mutex_unlock(&srv->conns_lock);
}

/* Takes c out of the list, closes its connection (if libfcgi has not) and
 * frees it. */
static void
conn_drop(server *srv, conn *c)
{
	pthread_mutex_lock(&srv->conns_lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&srv->conns_lock);
	if (c->rq.ipcFd >= 0)
		close(c->rq.ipcFd);
	FCGX_Free(&c->rq, 0);
	free(c);
}

/* Waits in epoll for c's next request (one worker wakes for it). */
static bool
conn_arm(server *srv, conn *c, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
	                          .data.ptr = c };

	return epoll_ctl(srv->epfd, op, c->rq.ipcFd, &ev) == 0;
}

/* Accepts the front server's new connections (the listener is
 * non-blocking: another worker may have taken them first). */
static void
accept_conns(server *srv)
{
	struct timeval tv = { .tv_sec = READ_TIMEOUT_S };
	conn *c;
	int fd;

	while ((fd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		/* A front server that stops mid-request cannot hold a worker
		 * for longer than this. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if ((c = calloc(1, sizeof *c)) == NULL) {
			close(fd);
			continue;
		}
		/* No listener of its own: when its connection ends,
		 * FCGX_Accept_r fails instead of accepting. */
		FCGX_InitRequest(&c->rq, -1, FCGI_FAIL_ACCEPT_ON_INTR);
		c->rq.ipcFd = fd;
		/* Else FCGX_Accept_r, finishing "the previous request" first,
		 * would close the connection before reading from it. */
		c->rq.keepConnection = 1;
		conn_list_add(srv, c);
		if (!conn_arm(srv, c, EPOLL_CTL_ADD))
			conn_drop(srv, c);
	}
}

/* Answers the request waiting on c; false when the connection ended. */
static bool
conn_serve(server *srv, conn *c)
{
	if (FCGX_Accept_r(&c->rq) < 0)
		return false;       /* the front server closed it (or broke it) */
	handle(srv, &c->rq);
	if (!c->rq.keepConnection && srv->unix_socket) {
		/* libfcgi's close shuts the write side down and then waits,
		 * holding this thread, until the front server closed its end
		 * (a lingering close, against TCP resets): a round trip through
		 * nginx per request. On a unix socket, with the request's input
		 * read to its end, a plain close (a detached request's) loses
		 * nothing. */
		char scratch[1024];

		while (FCGX_GetStr(scratch, sizeof scratch, c->rq.in) > 0)
			;
		FCGX_Detach(&c->rq);
	}
	FCGX_Finish_r(&c->rq);
	return c->rq.ipcFd >= 0;
}

static void *
worker(void *arg)
{
	server *srv = arg;
	struct epoll_event ev;
	int n;

	/* Request lines are held while requests keep coming and written
	 * before the worker waits: one write for many lines under load. */
	store_log_hold(true);
	while (!srv->stopping) {
		n = epoll_wait(srv->epfd, &ev, 1, store_log_holding() ? 0 : -1);
		if (n == 0)
			store_log_flush();
		if (n <= 0 || srv->stopping)
			continue;
		if (ev.data.ptr == &srv->fd) {
			accept_conns(srv);
			continue;
		}
		if (ev.data.ptr == &srv->wake)
			continue;
		conn *c = ev.data.ptr;
		if (!conn_serve(srv, c) || srv->stopping || !conn_arm(srv, c, EPOLL_CTL_MOD))
			conn_drop(srv, c);
	}
	store_log_hold(false);
	return NULL;
}

static store_err
open_listener(const char *listen, int *fd, char *err, size_t errlen)
{
	const char *colon = strrchr(listen, ':');
	char addr[512];

	/* A unix path (anything with a slash, or without a port) or host:port. */
	if (strchr(listen, '/') != NULL || colon == NULL) {
		if (unlink(listen) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove stale socket '%s': %s", listen,
			         strerror(errno));
			return STORE_EIO;
		}
		snprintf(addr, sizeof addr, "%s", listen);
	} else {
		snprintf(addr, sizeof addr, "%s", listen);
	}
	if (FCGX_Init() != 0) {
		snprintf(err, errlen, "fastcgi library failed to initialise");
		return STORE_EINTERNAL;
	}
	*fd = FCGX_OpenSocket(addr, 128);
	if (*fd < 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", listen, strerror(errno));
		return STORE_EIO;
	}
	if (strchr(listen, '/') != NULL || colon == NULL)
		chmod(listen, 0660);
	return STORE_OK;
}

/* The epoll set: the listener (level-triggered: every worker may accept)
 * and the stop eventfd. */
static store_err
open_events(server *srv, char *err, size_t errlen)
{
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &srv->fd };
	struct epoll_event wev = { .events = EPOLLIN, .data.ptr = &srv->wake };
	int fl = fcntl(srv->fd, F_GETFL);

	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->epfd < 0 || srv->wake < 0 || fl < 0 ||
	    fcntl(srv->fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->fd, &lev) != 0 ||
	    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->wake, &wev) != 0) {
		snprintf(err, errlen, "cannot wait for connections: %s", strerror(errno));
		return STORE_EIO;
	}
	return STORE_OK;
}

store_err
store_http_serve(const store_service *svc, const store_http_config *cfg,
                 char *err, size_t errlen)
{
	server srv = { .svc = svc, .cfg = cfg, .fd = -1, .epfd = -1, .wake = -1 };
	store_metrics_run *metrics = NULL;
	pthread_t threads[THREADS_MAX];
	long started = 0;
	sigset_t sigs, old;
	int sig = 0;
	store_err e;

	for (size_t i = 0; i < svc->nroutes; i++) {
		const store_route *r = &svc->routes[i];

		if ((r->flags & STORE_ROUTE_AUTH) && (r->flags & STORE_ROUTE_PUBLIC)) {
			snprintf(err, errlen, "route %s %s is both STORE_ROUTE_AUTH and "
			         "STORE_ROUTE_PUBLIC", r->method, r->pattern);
			return STORE_EINVAL;
		}
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return STORE_EINTERNAL;
	}
	signal(SIGPIPE, SIG_IGN);
	e = open_listener(cfg->listen, &srv.fd, err, errlen);
	if (e != STORE_OK)
		return e;
	srv.unix_socket = strchr(cfg->listen, '/') != NULL || strchr(cfg->listen, ':') == NULL;
	pthread_mutex_init(&srv.conns_lock, NULL);
	/* Workers never see SIGTERM/SIGINT: this thread waits for them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	if ((e = open_events(&srv, err, errlen)) != STORE_OK)
		goto out;
	if (cfg->metrics_listen != NULL &&
	    (e = store_metrics_start(cfg->metrics_listen, STORE_METRICS_HTTP, NULL, NULL, NULL,
	                             &metrics, err, errlen)) != STORE_OK)
		goto out;
	for (; started < cfg->threads; started++)
		if (pthread_create(&threads[started], NULL, worker, &srv) != 0)
			break;
	if (started == 0) {
		snprintf(err, errlen, "cannot start worker threads");
		e = STORE_ENOMEM;
		goto out;
	}
	store_info("listening on '%s' with %ld threads", cfg->listen, started);
	sigwait(&sigs, &sig);
	store_info("stopping on signal %d", sig);
	/* Requests being answered finish; every worker then wakes on the
	 * eventfd (level-triggered: it stays readable) and leaves. */
	srv.stopping = 1;
	if (eventfd_write(srv.wake, 1) != 0)
		store_log(STORE_LOG_ERROR, NULL, NULL, "cannot wake the workers: %s",
		          strerror(errno));
out:
	for (long i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	store_metrics_stop(metrics);
	while (srv.conns != NULL)
		conn_drop(&srv, srv.conns);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (srv.epfd >= 0)
		close(srv.epfd);
	if (srv.wake >= 0)
		close(srv.wake);
	close(srv.fd);
	if (srv.unix_socket)
		unlink(cfg->listen);
	pthread_mutex_destroy(&srv.conns_lock);
	return e;
}
