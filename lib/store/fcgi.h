/* fcgi.h - a minimal FastCGI client: one GET to a FastCGI program, as the
 * front server would send it, for probes (storectl health) and tests.
 * libfcgi has a server side only. The module never prints or exits. */
#ifndef STORE_FCGI_H
#define STORE_FCGI_H

#include <stddef.h>
#include "store/err.h"

#define STORE_FCGI_OUT_MAX (64u << 10)   /* bytes of a response kept */

/* Sends GET path (with no body) to the FastCGI program at addr, a unix
 * socket path (anything with a '/') or host:port, with cookie (may be
 * NULL) as its Cookie header, and waits at most timeout_ms for the whole
 * answer. *status gets the HTTP status ("Status:"
 * header, 200 when absent); body (bodylen bytes, NUL-terminated, may be
 * NULL) the start of the response body. STORE_EUNAVAIL with a message in
 * err when the program cannot be reached or does not answer in time,
 * STORE_EIO when the answer is not FastCGI. */
store_err store_fcgi_get(const char *addr, const char *path, const char *cookie,
                         long timeout_ms, int *status, char *body, size_t bodylen,
                         char *err, size_t errlen);

#endif
