/* fcgi_client.c - one FastCGI GET: BEGIN_REQUEST (responder), PARAMS,
 * an empty STDIN, then STDOUT records until END_REQUEST. */
#include "store/fcgi.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FCGI_VERSION       1
#define FCGI_BEGIN_REQUEST 1
#define FCGI_END_REQUEST   3
#define FCGI_PARAMS        4
#define FCGI_STDIN         5
#define FCGI_STDOUT        6
#define FCGI_RESPONDER     1
#define FCGI_HEADER_LEN    8
#define REQ_ID             1
#define REQ_MAX            4096      /* the whole request */
#define PATH_MAX_LEN       1024

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline; 1 ready, 0 not. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { fd, events, 0 };
	long long left;
	int rc;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return 0;
	}
}

/* Connects a non-blocking socket to sa; 0 or an errno. */
static int
connect_to(int fd, const struct sockaddr *sa, socklen_t len, long long deadline)
{
	socklen_t elen = sizeof(int);
	int soerr = 0;

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN)
		return errno;
	if (!wait_fd(fd, POLLOUT, deadline))
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
		return errno;
	return soerr;
}

/* Opens a connection to addr; the fd, or -1 with a message in err. */
static int
dial(const char *addr, long long deadline, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_un un;
	char host[256], *colon;
	int fd = -1, rc = 0;

	if (strchr(addr, '/') != NULL) {
		memset(&un, 0, sizeof un);
		un.sun_family = AF_UNIX;
		if (strlen(addr) >= sizeof un.sun_path) {
			snprintf(err, errlen, "socket path '%s' is too long", addr);
			return -1;
		}
		memcpy(un.sun_path, addr, strlen(addr) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || (rc = connect_to(fd, (struct sockaddr *)&un, sizeof un,
		                               deadline)) != 0) {
			snprintf(err, errlen, "cannot connect to '%s': %s", addr,
			         strerror(fd < 0 ? errno : rc));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return fd;
	}
	snprintf(host, sizeof host, "%s", addr);
	colon = strrchr(host, ':');
	if (colon == NULL) {
		snprintf(err, errlen, "address '%s' is neither a socket path nor host:port",
		         addr);
		return -1;
	}
	*colon = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host[0] != '\0' ? host : "127.0.0.1", colon + 1, &hints,
	                      &res)) != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			rc = errno;
			continue;
		}
		if ((rc = connect_to(fd, ai->ai_addr, ai->ai_addrlen, deadline)) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "cannot connect to '%s': %s", addr, strerror(rc));
	return fd;
}

/* Appends a record of type with content (len <= 65535). */
static int
record(struct buf *b, int type, const void *content, size_t len)
{
	size_t pad = (8 - len % 8) % 8;
	unsigned char *h;

	if (len > 65535 || b->len + FCGI_HEADER_LEN + len + pad > b->cap)
		return -1;
	h = b->p + b->len;
	h[0] = FCGI_VERSION;
	h[1] = (unsigned char)type;
	h[2] = 0;
	h[3] = REQ_ID;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)(len & 0xff);
	h[6] = (unsigned char)pad;
	h[7] = 0;
	if (len > 0)
		memcpy(h + FCGI_HEADER_LEN, content, len);
	memset(h + FCGI_HEADER_LEN + len, 0, pad);
	b->len += FCGI_HEADER_LEN + len + pad;
	return 0;
}

/* Appends one name-value pair to params: each length in 1 byte under 128,
 * else in 4 (the high bit set). */
static int
pair(unsigned char *params, size_t *len, size_t cap, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);
	const size_t lens[2] = { n, v };

	if (*len + 8 + n + v > cap)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (lens[i] > 127) {
			params[(*len)++] = (unsigned char)(0x80 | lens[i] >> 24);
			params[(*len)++] = (unsigned char)(lens[i] >> 16);
			params[(*len)++] = (unsigned char)(lens[i] >> 8);
		}
		params[(*len)++] = (unsigned char)lens[i];
	}
	memcpy(params + *len, name, n);
	*len += n;
	memcpy(params + *len, value, v);
	*len += v;
	return 0;
}

static int
send_all(int fd, const unsigned char *p, size_t len, long long deadline)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(fd, POLLOUT, deadline))
			continue;
		return -1;
	}
	return 0;
}

/* Reads exactly len bytes; 0, or -1 (closed, error, late). */
static int
recv_all(int fd, unsigned char *p, size_t len, long long deadline)
{
	ssize_t n;

	while (len > 0) {
		n = recv(fd, p, len, 0);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(fd, POLLIN, deadline))
			continue;
		return -1;
	}
	return 0;
}

/* Parses the CGI response in out: status and the body after the headers. */
static store_err
parse_response(const char *out, size_t len, int *status, char *body, size_t bodylen)
{
	const char *end = NULL, *line, *p;
	size_t skip = 0, n;

	*status = 200;
	for (size_t i = 0; i + 1 < len && end == NULL; i++) {
		if (out[i] == '\n' && out[i + 1] == '\n') {
			end = out + i;
			skip = 2;
		} else if (i + 3 < len && memcmp(out + i, "\r\n\r\n", 4) == 0) {
			end = out + i;
			skip = 4;
		}
	}
	if (end == NULL)
		return STORE_EIO;
	for (line = out; line < end; line = p + 1) {
		p = memchr(line, '\n', (size_t)(end - line));
		if (p == NULL)
			p = end;
		if ((size_t)(p - line) > 7 && strncasecmp(line, "Status:", 7) == 0)
			*status = atoi(line + 7);
	}
	if (body != NULL && bodylen > 0) {
		n = len - (size_t)(end - out) - skip;
		if (n >= bodylen)
			n = bodylen - 1;
		memcpy(body, end + skip, n);
		body[n] = '\0';
	}
	return *status >= 100 && *status <= 999 ? STORE_OK : STORE_EIO;
}

store_err
store_fcgi_get(const char *addr, const char *path, const char *cookie,
               long timeout_ms, int *status, char *body, size_t bodylen,
               char *err, size_t errlen)
{
	unsigned char req[REQ_MAX], params[REQ_MAX - 64], hdr[FCGI_HEADER_LEN];
	unsigned char begin[8] = { 0, FCGI_RESPONDER, 0, 0, 0, 0, 0, 0 };
	unsigned char *content = NULL;
	struct buf b = { req, 0, sizeof req };
	char *out = NULL;
	size_t plen = 0, olen = 0, clen;
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	int fd = -1;
	store_err e = STORE_EUNAVAIL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (body != NULL && bodylen > 0)
		body[0] = '\0';
	*status = 0;
	if (addr == NULL || path == NULL || path[0] != '/' || strlen(path) > 127)
		return STORE_EINVAL;
	if (pair(params, &plen, sizeof params, "GATEWAY_INTERFACE", "CGI/1.1") != 0 ||
	    pair(params, &plen, sizeof params, "SERVER_PROTOCOL", "HTTP/1.1") != 0 ||
	    pair(params, &plen, sizeof params, "REQUEST_METHOD", "GET") != 0 ||
	    pair(params, &plen, sizeof params, "REQUEST_URI", path) != 0 ||
	    pair(params, &plen, sizeof params, "DOCUMENT_URI", path) != 0 ||
	    pair(params, &plen, sizeof params, "SCRIPT_NAME", path) != 0 ||
	    pair(params, &plen, sizeof params, "QUERY_STRING", "") != 0 ||
	    pair(params, &plen, sizeof params, "CONTENT_LENGTH", "0") != 0 ||
	    pair(params, &plen, sizeof params, "HTTP_HOST", "localhost") != 0 ||
	    pair(params, &plen, sizeof params, "HTTP_USER_AGENT", "store-fcgi-probe") != 0 ||
	    (cookie != NULL && pair(params, &plen, sizeof params, "HTTP_COOKIE", cookie) != 0) ||
	    record(&b, FCGI_BEGIN_REQUEST, begin, sizeof begin) != 0 ||
	    record(&b, FCGI_PARAMS, params, plen) != 0 ||
	    record(&b, FCGI_PARAMS, NULL, 0) != 0 ||
	    record(&b, FCGI_STDIN, NULL, 0) != 0)
		return STORE_EINVAL;
	if ((fd = dial(addr, deadline, err, errlen)) < 0)
		return STORE_EUNAVAIL;
	if (send_all(fd, req, b.len, deadline) != 0) {
		snprintf(err, errlen, "cannot send to '%s': %s", addr,
		         errno == EAGAIN ? "timed out" : strerror(errno));
		goto out;
	}
	if ((out = malloc(STORE_FCGI_OUT_MAX)) == NULL ||
	    (content = malloc(65535 + 255)) == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	for (;;) {
		if (recv_all(fd, hdr, sizeof hdr, deadline) != 0) {
			snprintf(err, errlen, "no complete answer from '%s' within %ld ms",
			         addr, timeout_ms);
			goto out;
		}
		if (hdr[0] != FCGI_VERSION) {
			snprintf(err, errlen, "'%s' does not answer FastCGI", addr);
			e = STORE_EIO;
			goto out;
		}
		clen = ((size_t)hdr[4] << 8 | hdr[5]) + hdr[6];
		if (recv_all(fd, content, clen, deadline) != 0) {
			snprintf(err, errlen, "'%s' closed in the middle of an answer", addr);
			goto out;
		}
		clen -= hdr[6];
		if (hdr[1] == FCGI_END_REQUEST)
			break;
		if (hdr[1] == FCGI_STDOUT && olen < STORE_FCGI_OUT_MAX) {
			size_t n = clen < STORE_FCGI_OUT_MAX - olen ? clen : STORE_FCGI_OUT_MAX - olen;
			memcpy(out + olen, content, n);
			olen += n;
		}
	}
	e = parse_response(out, olen, status, body, bodylen);
	if (e != STORE_OK)
		snprintf(err, errlen, "'%s' sent an answer with no headers", addr);
out:
	free(content);
	free(out);
	close(fd);
	return e;
}
