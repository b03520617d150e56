/* http.h - HTTP services over FastCGI: route tables, declared inputs,
 * sessions, JSON responses in API.md's error shape.
 *
 * A program describes its service (a route table and an app pointer) and
 * calls store_http_serve, which accepts FastCGI requests on several threads
 * until SIGTERM or SIGINT. For every request, before any handler runs:
 *   - the request id is taken from X-Request-Id (when well-formed) or made;
 *   - a body over the limit is a 413; an unknown path a 404; a known path
 *     with another method a 405 (with Allow);
 *   - POST/PUT/PATCH/DELETE with an Origin other than the store's is a 403;
 *   - the session cookie is verified (req->user, NULL when signed out, also
 *     when the service's session_check says it was signed out), and
 *     routes marked STORE_ROUTE_AUTH answer 401 `Not authorized` without it;
 *     routes marked STORE_ROUTE_PUBLIC, whose answer is the same for
 *     everyone, skip the cookie and the session check (req->user NULL);
 *   - a JSON body that is malformed or not an object is a 400, and the
 *     route's declared fields are validated (400 with every failing field);
 *     the handler sees only req->input, the fields that passed.
 * GET /healthz and /readyz are answered by the library. */
#ifndef STORE_HTTP_H
#define STORE_HTTP_H

#include <stddef.h>
#include <jansson.h>
#include "store/err.h"
#include "store/session.h"
#include "store/valid.h"

#define STORE_ROUTE_PARAMS 4
#define STORE_RES_HEADERS 8

typedef struct store_req {
	const char *method;
	const char *path;        /* without the query string */
	const char *query;       /* "" when none */
	const char *request_id;
	const char *params[STORE_ROUTE_PARAMS]; /* ":name" segments, in order */
	size_t nparams;
	const store_user *user;  /* NULL when not signed in */
	json_t *input;           /* declared fields that passed (object, never NULL) */
	const char *body;        /* the raw body, NUL-terminated ("" when none) */
	size_t body_len;
	void *app;               /* the service's app pointer */
	void *priv;              /* the library's */
} store_req;

typedef struct store_res {
	int status;              /* 0 until a handler answers */
	char *content_type;
	char *body;
	size_t body_len;
	char *set_cookie;
	struct { char *name, *value; } headers[STORE_RES_HEADERS];
	size_t nheaders;
} store_res;

typedef void (*store_handler)(store_req *req, store_res *res);

enum {
	STORE_ROUTE_AUTH   = 1 << 0, /* 401 unless signed in */
	STORE_ROUTE_RAW    = 1 << 1, /* body not parsed as JSON (forms, uploads) */
	/* The handler never looks at who asks: the cookie is not read and the
	 * session check (a database read) does not run; req->user is NULL.
	 * Not with STORE_ROUTE_AUTH (store_http_serve refuses the table). */
	STORE_ROUTE_PUBLIC = 1 << 2
};

typedef struct store_route {
	const char *method;        /* "GET", "POST", "PUT", "DELETE" */
	const char *pattern;       /* "/api/products/:id"; first match wins */
	store_handler fn;
	unsigned flags;
	const store_field *fields; /* declared JSON inputs, may be NULL */
	size_t nfields;
} store_route;

typedef struct store_service {
	const char *name;          /* "auth": the log's svc */
	const store_route *routes;
	size_t nroutes;
	void *app;
	/* Readiness: STORE_OK when every dependency answers; otherwise writes
	 * the failing dependency's name into err. May be NULL. */
	store_err (*ready)(void *app, char *err, size_t errlen);
	/* Per request, after the cookie verified: STORE_OK when user's session
	 * still stands, STORE_EAUTH when it was signed out (the request is then
	 * not signed in), another error when that cannot be told (the request
	 * is answered with it, 503 for STORE_EUNAVAIL). May be NULL. */
	store_err (*session_check)(void *app, const store_user *user);
} store_service;

/* Settings every HTTP program reads, from the environment:
 *   STORE_LISTEN         unix socket path, or host:port       (required)
 *   JWT_KEY              session signing key, >= 32 chars     (required)
 *   STORE_THREADS        worker threads, 1-256                (per service)
 *   STORE_BODY_LIMIT     largest request body in bytes        (per service)
 *   STORE_ORIGIN         the store's origin for the CSRF check
 *                        (default: the request's own scheme://host,
 *                        X-Forwarded-Proto/-Host when a proxy sends them)
 *   STORE_COOKIE_SECURE  add Secure to the session cookie     (false)
 *   STORE_SESSION_SECONDS lifetime of a session token          (86400)
 *   STORE_LOG_LEVEL      debug, info, warn or error           (info)
 *   STORE_METRICS_LISTEN host:port serving GET /metrics      (unset: off) */
typedef struct store_http_config {
	const char *listen;
	const char *jwt_key;
	const char *origin;      /* NULL: compare with the request's own */
	long threads;
	long body_limit;
	long cookie_secure;
	long session_seconds;
	long log_level;
	const char *metrics_listen; /* NULL: no metrics listener */
} store_http_config;

/* Loads the settings above; default_body_limit and default_threads are the
 * service's (default_threads 0: STORE_THREADS_PER_CPU). On a missing or
 * malformed setting returns STORE_ECONFIG with a message. */
store_err store_http_config_load(store_http_config *cfg, long default_body_limit,
                                 long default_threads, char *err, size_t errlen);

/* The default of STORE_THREADS for a program whose requests only use the
 * processor and its own database: one worker per CPU it may run on (its
 * affinity, as nproc(1) counts), 2 to 16.
 * More workers than CPUs only queue behind each other (make bench,
 * 2 CPUs, 64 connections: 4 workers gave GET currentuser 13.4-15.2k req/s,
 * p99 29-35 ms; 2 gave 20.8-21.0k req/s, p99 9-11 ms). A program whose
 * requests wait on another server (payments on the card provider, the web
 * front on the services) sets its own. */
long store_http_threads_per_cpu(void);

/* Serves until SIGTERM or SIGINT, then lets requests in hand finish and
 * returns STORE_OK. On a listen failure returns an error with a message. */
store_err store_http_serve(const store_service *svc, const store_http_config *cfg,
                           char *err, size_t errlen);

/* The configuration in force (for handlers that set cookies). */
const store_http_config *store_http_config_of(const store_req *req);

/* Answering. Each replaces what was set before. */
/* JSON body (stolen; NULL answers with no body, as for 204). */
void store_res_json(store_res *res, int status, json_t *body);
/* {"errors":[{"message", "field"?}]} */
void store_res_error(store_res *res, int status, const char *message,
                     const char *field);
/* A body of another type (copied), e.g. text/html. */
void store_res_body(store_res *res, int status, const char *content_type,
                    const char *body, size_t len);
/* As store_res_body, but body (malloc'd, len bytes) is stolen, not
 * copied: res frees it. A NULL body (out of memory) answers 500. */
void store_res_body_take(store_res *res, int status, const char *content_type,
                         char *body, size_t len);
/* Maps a library error to its status and API message: ENOTFOUND 404,
 * EAUTH 401, EFORBIDDEN 403, ECONFLICT 409, ETOOBIG 413, EUNAVAIL 503,
 * anything else 500 `Something went wrong` (logged with the request id). */
void store_res_from_err(store_res *res, const store_req *req, store_err e);
/* Frees what res holds (body, headers, cookie) and clears it for reuse. */
void store_res_free(store_res *res);
/* Adds a header (copied); at most STORE_RES_HEADERS. */
void store_res_header(store_res *res, const char *name, const char *value);
/* Sets the session cookie to token, or clears it when token is NULL. */
store_err store_res_session(store_res *res, const store_req *req,
                            const char *token);

/* Route matching, as store_http_serve does it. Returns the index of the
 * route for method and path, or -1 with *status 404 (no route has this
 * path) or 405 (another method has it; allow gets "GET, POST"). Path
 * parameters are copied into buf and pointed at by params. A single
 * trailing slash is ignored. */
int store_route_match(const store_route *routes, size_t n, const char *method,
                      const char *path, char *buf, size_t buflen,
                      const char *params[STORE_ROUTE_PARAMS], size_t *nparams,
                      int *status, char *allow, size_t allowlen);

/* A request header by its CGI name ("HTTP_IDEMPOTENCY_KEY"), or NULL. */
const char *store_req_param(const store_req *req, const char *cgi_name);

#endif
