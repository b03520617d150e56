/* http_res.c - building responses. */
#include "store/http.h"

#include <stdlib.h>
#include <string.h>

#include "store/json.h"
#include "store/log.h"

static void
set_body(store_res *res, int status, const char *type, char *body, size_t len)
{
	free(res->content_type);
	free(res->body);
	res->status = status;
	res->content_type = type != NULL ? strdup(type) : NULL;
	res->body = body;
	res->body_len = len;
}

void
store_res_json(store_res *res, int status, json_t *body)
{
	char *text;

	if (body == NULL) {
		set_body(res, status, NULL, NULL, 0);
		return;
	}
	text = store_json_dump(body);
	json_decref(body);
	store_res_body_take(res, status, "application/json; charset=utf-8", text,
	                    text != NULL ? strlen(text) : 0);
}

void
store_res_error(store_res *res, int status, const char *message, const char *field)
{
	store_res_json(res, status, store_json_error(message, field));
}

void
store_res_body_take(store_res *res, int status, const char *content_type,
                    char *body, size_t len)
{
	if (body == NULL)
		set_body(res, 500, NULL, NULL, 0);
	else
		set_body(res, status, content_type, body, len);
}

void
store_res_body(store_res *res, int status, const char *content_type,
               const char *body, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy != NULL) {
		memcpy(copy, body, len);
		copy[len] = '\0';
	}
	store_res_body_take(res, status, content_type, copy, len);
}

void
store_res_from_err(store_res *res, const store_req *req, store_err e)
{
	switch (e) {
	case STORE_ENOTFOUND:
		store_res_error(res, 404, "Not Found", NULL);
		return;
	case STORE_EAUTH:
		store_res_error(res, 401, "Not authorized", NULL);
		return;
	case STORE_EFORBIDDEN:
		store_res_error(res, 403, "Forbidden", NULL);
		return;
	case STORE_ECONFLICT:
		store_res_error(res, 409, "The document was changed by someone else; try again", NULL);
		return;
	case STORE_ETOOBIG:
		store_res_error(res, 413, "Request body too large", NULL);
		return;
	case STORE_EUNAVAIL:
		store_log(STORE_LOG_WARN, req->request_id, NULL, "dependency unavailable");
		store_res_error(res, 503, "Service unavailable", NULL);
		return;
	default:
		store_log(STORE_LOG_ERROR, req->request_id, NULL, "request failed: %s",
		          store_strerror(e));
		store_res_error(res, 500, "Something went wrong", NULL);
		return;
	}
}

void
store_res_free(store_res *res)
{
	free(res->content_type);
	free(res->body);
	free(res->set_cookie);
	for (size_t i = 0; i < res->nheaders; i++) {
		free(res->headers[i].name);
		free(res->headers[i].value);
	}
	memset(res, 0, sizeof *res);
}

void
store_res_header(store_res *res, const char *name, const char *value)
{
	if (res->nheaders >= STORE_RES_HEADERS)
		return;
	res->headers[res->nheaders].name = strdup(name);
	res->headers[res->nheaders].value = strdup(value);
	res->nheaders++;
}

store_err
store_res_session(store_res *res, const store_req *req, const char *token)
{
	char *value = NULL, *cookie = NULL;
	store_err e = STORE_OK;

	if (token != NULL && (e = store_session_encode(token, &value)) != STORE_OK)
		goto out;
	e = store_session_set_cookie(value, (int)store_http_config_of(req)->cookie_secure,
	                             &cookie);
	if (e != STORE_OK)
		goto out;
	free(res->set_cookie);
	res->set_cookie = cookie;
out:
	free(value);
	return e;
}
