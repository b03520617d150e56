/* http_route.c - route tables with path parameters. */
#include "store/http.h"

#include <stdio.h>
#include <string.h>

#define SEGMENTS_MAX 16

typedef struct seg {
	const char *p;
	size_t len;
} seg;

/* Splits "/a/b/c" into segments; -1 when malformed (no leading slash, an
 * empty segment, too many). A single trailing slash is dropped. */
static int
split(const char *path, seg *out)
{
	size_t n = 0, len = strlen(path);
	const char *p = path + 1;

	if (path[0] != '/')
		return -1;
	if (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 1)
		return 0;
	while (p < path + len) {
		const char *slash = memchr(p, '/', (size_t)(path + len - p));
		size_t sl = slash != NULL ? (size_t)(slash - p) : (size_t)(path + len - p);
		if (sl == 0 || n == SEGMENTS_MAX)
			return -1;
		out[n].p = p;
		out[n].len = sl;
		n++;
		p += sl + 1;
	}
	return (int)n;
}

/* True when the path's segments fit the pattern; parameter values are
 * copied into buf. */
static int
fits(const char *pattern, const seg *segs, int nsegs, char *buf, size_t buflen,
     const char **params, size_t *nparams)
{
	seg pat[SEGMENTS_MAX];
	int np = split(pattern, pat);
	size_t used = 0;

	*nparams = 0;
	if (np != nsegs)
		return 0;
	for (int i = 0; i < np; i++) {
		if (pat[i].p[0] == ':') {
			if (*nparams == STORE_ROUTE_PARAMS || used + segs[i].len + 1 > buflen)
				return 0;
			memcpy(buf + used, segs[i].p, segs[i].len);
			buf[used + segs[i].len] = '\0';
			params[(*nparams)++] = buf + used;
			used += segs[i].len + 1;
		} else if (pat[i].len != segs[i].len ||
		           memcmp(pat[i].p, segs[i].p, segs[i].len) != 0) {
			return 0;
		}
	}
	return 1;
}

int
store_route_match(const store_route *routes, size_t n, const char *method,
                  const char *path, char *buf, size_t buflen,
                  const char *params[STORE_ROUTE_PARAMS], size_t *nparams,
                  int *status, char *allow, size_t allowlen)
{
	seg segs[SEGMENTS_MAX];
	int nsegs = split(path, segs);
	size_t alen = 0;
	int known = 0;

	*status = 404;
	*nparams = 0;
	if (allowlen > 0)
		allow[0] = '\0';
	if (nsegs < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *tmp[STORE_ROUTE_PARAMS];
		size_t ntmp;

		if (!fits(routes[i].pattern, segs, nsegs, buf, buflen, tmp, &ntmp))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			memcpy(params, tmp, sizeof tmp);
			*nparams = ntmp;
			return (int)i;
		}
		known = 1;
		if (strstr(allow, routes[i].method) == NULL && alen < allowlen) {
			int w = snprintf(allow + alen, allowlen - alen, "%s%s",
			                 alen > 0 ? ", " : "", routes[i].method);
			if (w > 0)
				alen += (size_t)w;
		}
	}
	if (known)
		*status = 405;
	return -1;
}
