/* metrics_serve.c - a small HTTP listener answering GET /metrics on its
 * own thread and port (store/metrics.h). It never prints: a connection it
 * cannot answer is closed. */
#include "store/metrics.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define REQ_MAX     8192        /* request line and headers */
#define TIMEOUT_S   5           /* per connection, reading and writing */
#define HOST_MAX    256

struct store_metrics_server {
	store_metrics *m;
	int fd;                     /* the listener */
	int wake;                   /* eventfd: readable once stopping */
	int port;
	pthread_t thread;
};

/* Splits host:port ([v6]:port) into host and port; false when malformed. */
static bool
split(const char *listen, char host[HOST_MAX], char port[8])
{
	const char *colon, *h = listen;
	size_t hl;
	long p;
	char *end;

	if (listen == NULL || (colon = strrchr(listen, ':')) == NULL)
		return false;
	hl = (size_t)(colon - listen);
	if (*h == '[') {
		if (hl < 3 || listen[hl - 1] != ']')
			return false;
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= HOST_MAX || memchr(h, '/', hl) != NULL ||
	    (listen[0] != '[' && memchr(h, ':', hl) != NULL))
		return false;
	for (size_t i = 0; i < hl; i++)
		if (h[i] == ' ' || (unsigned char)h[i] < 0x21 || (unsigned char)h[i] > 0x7e)
			return false;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || p < 0 ||
	    p > 65535 || end - (colon + 1) > 5)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, 8, "%ld", p);
	return true;
}

store_err
store_metrics_listen_check(const char *listen, char *err, size_t errlen)
{
	char host[HOST_MAX], port[8];

	if (!split(listen, host, port)) {
		snprintf(err, errlen, "'%.64s' is not host:port (port 0 to 65535)",
		         listen != NULL ? listen : "");
		return STORE_ECONFIG;
	}
	return STORE_OK;
}

static store_err
open_listener(const char *addr, int *fd, int *port, char *msg, size_t msglen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL, *a;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[HOST_MAX], portbuf[8];
	int one = 1, rc, err = 0;

	*fd = -1;
	if (store_metrics_listen_check(addr, msg, msglen) != STORE_OK)
		return STORE_ECONFIG;
	split(addr, host, portbuf);
	if ((rc = getaddrinfo(host, portbuf, &hints, &res)) != 0) {
		snprintf(msg, msglen, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return STORE_EIO;
	}
	for (a = res; a != NULL && *fd < 0; a = a->ai_next) {
		*fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		                 a->ai_protocol);
		if (*fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(*fd, a->ai_addr, a->ai_addrlen) != 0 || listen(*fd, 16) != 0) {
			err = errno;
			close(*fd);
			*fd = -1;
		}
	}
	freeaddrinfo(res);
	if (*fd < 0) {
		snprintf(msg, msglen, "cannot listen on '%s': %s", addr, strerror(err));
		return STORE_EIO;
	}
	if (getsockname(*fd, (struct sockaddr *)&ss, &sl) == 0)
		*port = ntohs(ss.ss_family == AF_INET6 ?
		              ((struct sockaddr_in6 *)&ss)->sin6_port :
		              ((struct sockaddr_in *)&ss)->sin_port);
	return STORE_OK;
}

/* Reads the request head (up to the blank line) into buf; its length, or
 * -1 when the client went away, was too slow, or sent more than REQ_MAX. */
static int
read_head(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t got;

	while (n < size - 1) {
		got = recv(fd, buf + n, size - 1 - n, 0);
		if (got <= 0)
			return -1;
		n += (size_t)got;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
			return (int)n;
	}
	return -1;
}

static void
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0 && (w = send(fd, p, n, MSG_NOSIGNAL)) > 0) {
		p += w;
		n -= (size_t)w;
	}
}

static void
answer(int fd, int status, const char *reason, const char *extra, const char *type,
       const char *body, size_t len, bool head)
{
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof hdr, "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\n"
	             "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, reason,
	             extra, type, len);
	if (n > 0 && (size_t)n < sizeof hdr)
		send_all(fd, hdr, (size_t)n);
	if (!head && body != NULL)
		send_all(fd, body, len);
}

/* Answers one connection. */
static void
serve_conn(store_metrics_server *s, int fd)
{
	static const char text[] = "text/plain; charset=utf-8";
	char buf[REQ_MAX + 1], method[16], target[REQ_MAX], version[16];
	char *body = NULL;
	size_t len = 0, plen;
	bool head;

	if (read_head(fd, buf, sizeof buf) < 0 ||
	    sscanf(buf, "%15[A-Z] %8191[^ \r\n] %15[^\r\n]", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		answer(fd, 400, "Bad Request", "", text, "bad request\n", 12, false);
		return;
	}
	plen = strcspn(target, "?");
	head = strcmp(method, "HEAD") == 0;
	if (plen != 8 || strncmp(target, "/metrics", 8) != 0) {
		answer(fd, 404, "Not Found", "", text, "not found\n", 10, head);
		return;
	}
	if (!head && strcmp(method, "GET") != 0) {
		answer(fd, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", text,
		       "method not allowed\n", 19, false);
		return;
	}
	if (store_metrics_render(s->m, &body, &len) != STORE_OK) {
		answer(fd, 500, "Internal Server Error", "", text, "cannot render\n", 14, head);
		return;
	}
	answer(fd, 200, "OK", "", "text/plain; version=0.0.4; charset=utf-8", body, len, head);
	free(body);
}

static void *
serve_main(void *arg)
{
	store_metrics_server *s = arg;
	struct pollfd pf[2] = { { .fd = s->fd, .events = POLLIN },
	                        { .fd = s->wake, .events = POLLIN } };
	struct timeval tv = { .tv_sec = TIMEOUT_S };
	int c;

	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents != 0)
			break;
		if ((pf[0].revents & POLLIN) == 0)
			continue;
		if ((c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		serve_conn(s, c);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

store_err
store_metrics_serve(store_metrics *m, const char *listen, store_metrics_server **out,
                    char *err, size_t errlen)
{
	store_metrics_server *s;
	store_err e;

	*out = NULL;
	if (m == NULL)
		return STORE_EINVAL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return STORE_ENOMEM;
	s->m = m;
	s->wake = -1;
	if ((e = open_listener(listen, &s->fd, &s->port, err, errlen)) != STORE_OK)
		goto fail;
	if ((s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    pthread_create(&s->thread, NULL, serve_main, s) != 0) {
		snprintf(err, errlen, "cannot start the metrics listener");
		e = STORE_ENOMEM;
		goto fail;
	}
	*out = s;
	return STORE_OK;
fail:
	if (s->fd >= 0)
		close(s->fd);
	if (s->wake >= 0)
		close(s->wake);
	free(s);
	return e;
}

int
store_metrics_server_port(const store_metrics_server *s)
{
	return s != NULL ? s->port : 0;
}

void
store_metrics_server_free(store_metrics_server *s)
{
	if (s == NULL)
		return;
	/* Adding 1 to a fresh eventfd cannot fail (it fails only on overflow). */
	(void)eventfd_write(s->wake, 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
	close(s->wake);
	free(s);
}
