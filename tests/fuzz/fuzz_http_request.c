/* fuzz_http_request - a FastCGI request through the HTTP services' whole
 * pipeline (lib/http_serve.c): libfcgi reads the records (params and
 * body), then the request id, the path and query, the route table (404,
 * 405), the body and its limit (413), the Origin check, the session cookie,
 * the JSON body and the route's field table, the handler and the answer.
 *
 * Input, one of:
 *   - params as lines "NAME=VALUE" (REQUEST_METHOD=POST,
 *     DOCUMENT_URI=/api/products, HTTP_COOKIE=..., CONTENT_LENGTH=...), an
 *     empty line, then the body: the target writes them as a responder's
 *     records, as nginx does (BEGIN_REQUEST, PARAMS, STDIN);
 *   - or, when the first byte is 1 (FastCGI's version), raw records.
 * The records go to one end of a socket pair, which is closed for writing;
 * libfcgi accepts the request from the other end. */
#include "fuzz.h"

#include <sys/socket.h>
#include <unistd.h>

#include "http_impl.h"

#define INPUT_MAX (64u << 10)  /* what the socket holds unread */

static const store_field product_fields[] = {
	{ "name", STORE_V_STRING, STORE_F_REQUIRED | STORE_F_TRIM, 1, 200, "Name is required" },
	{ "price", STORE_V_MONEY, STORE_F_REQUIRED, 0, 0, "Price must be greater than 0" },
	{ "count", STORE_V_POSINT, STORE_F_REQUIRED, 0, 1000000, "Count must be greater than 0" },
	{ "picture", STORE_V_PICTURE, STORE_F_TRIM, 0, 0, "Picture must be an image",
	  "Picture is required" },
	{ "categoryId", STORE_V_OBJECTID, STORE_F_REQUIRED | STORE_F_TRIM, 0, 0,
	  "Invalid Category Id", "Category is required" },
};

/* Handlers answer with what they were given: the input, the parameters,
 * the user, a header of the request. */
static void
echo(store_req *req, store_res *res)
{
	json_t *o = json_pack("{s:O,s:s,s:s,s:s?,s:s?,s:s?}", "input", req->input,
	                      "path", req->path, "query", req->query,
	                      "param", req->nparams > 0 ? req->params[0] : NULL,
	                      "user", req->user != NULL ? req->user->id : NULL,
	                      "key", store_req_param(req, "HTTP_IDEMPOTENCY_KEY"));

	store_res_json(res, req->user != NULL ? 201 : 200, o);
}

static void
raw(store_req *req, store_res *res)
{
	store_res_body(res, 200, "text/plain", req->body, req->body_len);
	store_res_header(res, "Cache-Control", "max-age=60");
}

static void
sign_in(store_req *req, store_res *res)
{
	store_res_session(res, req, "header.claims.signature");
	store_res_json(res, 200, json_object());
}

static void
silent(store_req *req, store_res *res)
{
	(void)req;
	(void)res;             /* no answer: the pipeline's 500 */
}

static const store_route routes[] = {
	{ "GET", "/api/products/:id", echo, 0, NULL, 0 },
	{ "POST", "/api/products", echo, STORE_ROUTE_AUTH, product_fields,
	  sizeof product_fields / sizeof *product_fields },
	{ "PUT", "/api/products/:id", echo, STORE_ROUTE_AUTH, product_fields,
	  sizeof product_fields / sizeof *product_fields },
	{ "DELETE", "/api/products/:id", echo, STORE_ROUTE_AUTH, NULL, 0 },
	{ "POST", "/api/products/:id/:v/picture", raw, STORE_ROUTE_RAW, NULL, 0 },
	{ "POST", "/api/users/signin", sign_in, 0, NULL, 0 },
	{ "GET", "/api/silent", silent, 0, NULL, 0 },
};

static store_err
ready(void *app, char *err, size_t errlen)
{
	(void)app;
	snprintf(err, errlen, "nats");
	return STORE_EUNAVAIL;
}

static const store_service svc = { "fuzz", routes, sizeof routes / sizeof *routes,
                                   NULL, ready };
static const store_http_config cfg = {
	.listen = "/nonexistent", .jwt_key = "fuzz-key-fuzz-key-fuzz-key-fuzz-key!",
	.origin = NULL, .threads = 1, .body_limit = 4096, .session_seconds = 3600,
};

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap)
		n = b->cap - b->len;
	if (n == 0)
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Records of type carrying content[0..len), 65535 bytes at most each (an
 * empty one when len is 0). */
static void
records(struct buf *b, int type, const uint8_t *content, size_t len)
{
	do {
		size_t n = len > 65535 ? 65535 : len;
		uint8_t h[8] = { 1, (uint8_t)type, 0, 1, (uint8_t)(n >> 8), (uint8_t)n, 0, 0 };

		put(b, h, sizeof h);
		put(b, content, n);
		content += n;
		len -= n;
	} while (len > 0);
}

/* One name-value pair, lengths of 1 or 4 bytes as FastCGI writes them. */
static void
pair(struct buf *b, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
	const size_t lens[2] = { nlen, vlen };

	for (int i = 0; i < 2; i++) {
		if (lens[i] < 128) {
			uint8_t l = (uint8_t)lens[i];
			put(b, &l, 1);
		} else {
			uint8_t l[4] = { (uint8_t)(0x80 | lens[i] >> 24), (uint8_t)(lens[i] >> 16),
			                 (uint8_t)(lens[i] >> 8), (uint8_t)lens[i] };
			put(b, l, 4);
		}
	}
	put(b, name, nlen);
	put(b, value, vlen);
}

/* The input's params and body as a responder's records. */
static void
encode(struct buf *out, const uint8_t *data, size_t size)
{
	static const uint8_t begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	struct buf params = { malloc(size + 4 * size / 2 + 16), 0, size + 4 * size / 2 + 16 };
	const uint8_t *p = data, *end = data + size;

	if (params.p == NULL)
		return;
	records(out, 1, begin, sizeof begin);
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *stop = nl != NULL ? nl : end, *eq;

		if (stop == p) {            /* the empty line: the body follows */
			p++;
			break;
		}
		eq = memchr(p, '=', (size_t)(stop - p));
		if (eq != NULL)
			pair(&params, p, (size_t)(eq - p), eq + 1, (size_t)(stop - eq - 1));
		else
			pair(&params, p, (size_t)(stop - p), p, 0);
		p = nl != NULL ? nl + 1 : end;
	}
	if (params.len > 0)
		records(out, 4, params.p, params.len);
	records(out, 4, (const uint8_t *)"", 0);
	if (p < end)
		records(out, 5, p, (size_t)(end - p));
	records(out, 5, (const uint8_t *)"", 0);
	free(params.p);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return FCGX_Init() != 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf in = { NULL, 0, 0 };
	FCGX_Request rq;
	char drain[4096];
	int sv[2] = { -1, -1 }, sndbuf = 4 * INPUT_MAX;

	if (size > INPUT_MAX)
		return 0;
	in.cap = size + (size / 65535 + 16) * 8 + 4 * size;
	if ((in.p = malloc(in.cap)) == NULL)
		return 0;
	if (size > 0 && data[0] == 1)
		put(&in, data, size);
	else
		encode(&in, data, size);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		goto out;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	if (write(sv[0], in.p, in.len) != (ssize_t)in.len)
		goto out;
	shutdown(sv[0], SHUT_WR);
	/* The request's connection is there already: no listening socket (-1),
	 * so a connection libfcgi gives up on ends FCGX_Accept_r at once. */
	if (FCGX_InitRequest(&rq, -1, 0) != 0)
		goto out;
	rq.ipcFd = sv[1];
	rq.keepConnection = 1;     /* FCGX_Accept_r's finish must not close it */
	sv[1] = -1;
	if (FCGX_Accept_r(&rq) == 0) {
		http_handle(&svc, &cfg, &rq);
		FCGX_Finish_r(&rq);
	}
	if (rq.ipcFd >= 0)
		close(rq.ipcFd);
	rq.ipcFd = -1;
	FCGX_Free(&rq, 0);
	while (read(sv[0], drain, sizeof drain) > 0)
		;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	free(in.p);
	return 0;
}
