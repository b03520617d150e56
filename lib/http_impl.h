/* http_impl.h - private: the request pipeline of http_serve.c, for the
 * fuzz target of FastCGI requests (tests/fuzz/fuzz_http_request.c). */
#ifndef STORE_HTTP_IMPL_H
#define STORE_HTTP_IMPL_H

#include <fcgiapp.h>

#include "store/http.h"

/* Answers the request rq accepted (FCGX_Accept_r) exactly as a worker of
 * store_http_serve does, before its FCGX_Finish_r: reads its params and
 * body, routes it, runs the handler and writes the response to rq->out. */
void http_handle(const store_service *svc, const store_http_config *cfg,
                 FCGX_Request *rq);

#endif
