/* web_own.c - what one request owns: the allocations its handler made
 * (parsed forms, JSON bodies, strings), freed once by web_end. */
#include "web_impl.h"

#include "store/log.h"

static void
json_free(void *p)
{
	json_decref(p);
}

void *
web_own(web_ctx *c, void *p, void (*fn)(void *))
{
	if (p == NULL)
		return NULL;
	if (c->nowned == WEB_OWNED_MAX) {
		store_log(STORE_LOG_ERROR, c->req->request_id, NULL,
		          "request of '%s' owns more than %d allocations", c->req->path,
		          WEB_OWNED_MAX);
		fn(p);
		return NULL;
	}
	c->owned[c->nowned].p = p;
	c->owned[c->nowned].fn = fn;
	c->nowned++;
	return p;
}

json_t *
web_own_json(web_ctx *c, json_t *j)
{
	return web_own(c, j, json_free);
}

void
web_end(web_ctx *c)
{
	while (c->nowned > 0) {
		web_owned *o = &c->owned[--c->nowned];
		o->fn(o->p);
	}
	web_buf_free(&c->html);
}
