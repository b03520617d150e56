/* test_metrics.c - the registry's text format (Prometheus 0.0.4), its
 * bounds, and the /metrics listener over a real socket. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "store/metrics.h"

static int
has(const char *text, const char *line)
{
	return text != NULL && strstr(text, line) != NULL;
}

static char *
render(store_metrics *m)
{
	char *out = NULL;
	size_t len = 0;

	if (store_metrics_render(m, &out, &len) != STORE_OK)
		return NULL;
	if (strlen(out) != len) {
		free(out);
		return NULL;
	}
	return out;
}

static void
test_counter_gauge(void)
{
	static const char *const labels[] = { "route", "status", NULL };
	store_metrics *m = NULL;
	store_metric *c, *g, *again;
	char *t;

	CHECK(store_metrics_new(&m) == STORE_OK, "a registry");
	c = store_metric_family(m, "x_requests_total", "Requests\\answered\nby route.",
	                        STORE_METRIC_COUNTER, labels, NULL, 0);
	g = store_metric_family(m, "x_backlog", "Rows waiting.", STORE_METRIC_GAUGE, NULL,
	                        NULL, 0);
	CHECK(c != NULL && g != NULL, "families made");
	again = store_metric_family(m, "x_requests_total", "other help",
	                            STORE_METRIC_COUNTER, labels, NULL, 0);
	CHECK(again == c, "the same name and shape gives the same family");
	CHECK(store_metric_family(m, "x_requests_total", "h", STORE_METRIC_GAUGE, labels,
	                          NULL, 0) == NULL, "the same name with another type is refused");
	CHECK(store_metric_family(m, "9bad", "h", STORE_METRIC_GAUGE, NULL, NULL, 0) == NULL,
	      "a name starting with a digit is refused");
	static const char *const badl[] = { "a-b", NULL };
	CHECK(store_metric_family(m, "ok_name", "h", STORE_METRIC_GAUGE, badl, NULL, 0) == NULL,
	      "a label name with a dash is refused");

	const char *v1[] = { "/api/products/:id", "200" };
	const char *v2[] = { "a\"b\\c\nd", "404" };
	store_metric_add(c, v1, 1);
	store_metric_add(c, v1, 2);
	store_metric_add(c, v1, -5);      /* a counter never goes down */
	store_metric_add(c, v2, 1);
	store_metric_set(c, v2, 100);     /* nor is set */
	store_metric_set(g, NULL, 7);
	store_metric_add(g, NULL, -2.5);
	store_metric_add(NULL, v1, 1);    /* metrics off: a no-op */

	t = render(m);
	CHECK(t != NULL, "renders");
	CHECK(has(t, "# HELP x_requests_total Requests\\\\answered\\nby route.\n"),
	      "HELP escapes backslash and newline");
	CHECK(has(t, "# TYPE x_requests_total counter\n"), "TYPE counter");
	CHECK(has(t, "# TYPE x_backlog gauge\n"), "TYPE gauge");
	CHECK(has(t, "x_requests_total{route=\"/api/products/:id\",status=\"200\"} 3\n"),
	      "a counter adds, refusing negative steps");
	CHECK(has(t, "x_requests_total{route=\"a\\\"b\\\\c\\nd\",status=\"404\"} 1\n"),
	      "label values escape quote, backslash and newline");
	CHECK(has(t, "x_backlog 4.5\n"), "a gauge sets and adds");
	CHECK(strstr(t, "# HELP x_requests_total") < strstr(t, "# TYPE x_requests_total") &&
	      strstr(t, "# TYPE x_requests_total") < strstr(t, "x_requests_total{"),
	      "HELP, then TYPE, then the samples");
	free(t);

	store_metric_reset(c);
	t = render(m);
	CHECK(t != NULL && !has(t, "x_requests_total{"), "reset forgets the series");
	free(t);
	store_metrics_free(m);
}

static void
test_histogram(void)
{
	static const double b[] = { 0.1, 0.5, 1 };
	static const char *const labels[] = { "route", NULL };
	static const char *const le[] = { "le", NULL };
	store_metrics *m = NULL;
	store_metric *h, *u;
	char *t;

	store_metrics_new(&m);
	CHECK(store_metric_family(m, "x_h", "h", STORE_METRIC_HISTOGRAM, le, b, 3) == NULL,
	      "a histogram may not have a label named le");
	static const double unsorted[] = { 1, 0.5 };
	CHECK(store_metric_family(m, "x_h", "h", STORE_METRIC_HISTOGRAM, NULL, unsorted, 2)
	      == NULL, "buckets must increase");
	h = store_metric_family(m, "x_seconds", "Durations.", STORE_METRIC_HISTOGRAM, labels,
	                        b, 3);
	u = store_metric_family(m, "x_late_seconds", "Lateness.", STORE_METRIC_HISTOGRAM, NULL,
	                        b, 3);
	CHECK(h != NULL && u != NULL, "histograms made");
	const char *r[] = { "/a" };
	store_metric_observe(h, r, 0.05);
	store_metric_observe(h, r, 0.1);   /* on a bound: in that bucket (le) */
	store_metric_observe(h, r, 0.7);
	store_metric_observe(h, r, 3);
	t = render(m);
	CHECK(has(t, "# TYPE x_seconds histogram\n"), "TYPE histogram");
	CHECK(has(t, "x_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"),
	      "le 0.1 holds the observations up to and with 0.1");
	CHECK(has(t, "x_seconds_bucket{route=\"/a\",le=\"0.5\"} 2\n"), "buckets are cumulative");
	CHECK(has(t, "x_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"), "le 1");
	CHECK(has(t, "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"), "+Inf counts all");
	CHECK(has(t, "x_seconds_sum{route=\"/a\"} 3.85"), "_sum");
	CHECK(has(t, "x_seconds_count{route=\"/a\"} 4\n"), "_count");
	CHECK(has(t, "x_late_seconds_bucket{le=\"+Inf\"} 0\n") &&
	      has(t, "x_late_seconds_count 0\n") && has(t, "x_late_seconds_sum 0\n"),
	      "a histogram without labels shows its empty series from the start");
	free(t);
	store_metrics_free(m);
}

static void
test_bounds(void)
{
	static const char *const labels[] = { "k", NULL };
	store_metrics *m = NULL;
	store_metric *c;
	char v[32], big[STORE_METRICS_VALUE_MAX * 2], *t;
	size_t lines = 0;

	store_metrics_new(&m);
	c = store_metric_family(m, "x_total", "h", STORE_METRIC_COUNTER, labels, NULL, 0);
	for (int i = 0; i < STORE_METRICS_SERIES + 50; i++) {
		snprintf(v, sizeof v, "v%d", i);
		const char *vals[] = { v };
		store_metric_add(c, vals, 1);
	}
	t = render(m);
	for (const char *p = t; p != NULL && (p = strstr(p, "\nx_total{")) != NULL; p++)
		lines++;
	CHECK(lines == STORE_METRICS_SERIES, "at most %d series per family (%zu)",
	      STORE_METRICS_SERIES, lines);
	free(t);
	store_metrics_free(m);

	store_metrics_new(&m);
	c = store_metric_family(m, "x_total", "h", STORE_METRIC_COUNTER, labels, NULL, 0);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	const char *vals[] = { big };
	store_metric_add(c, vals, 1);
	t = render(m);
	char want[STORE_METRICS_VALUE_MAX + 32];
	snprintf(want, sizeof want, "x_total{k=\"%.*s\"} 1\n", STORE_METRICS_VALUE_MAX, big);
	CHECK(has(t, want), "a long label value is cut at %d bytes", STORE_METRICS_VALUE_MAX);
	free(t);
	store_metrics_free(m);
}

static int collected;

static void
collect(store_metrics *m, void *ctx)
{
	(void)m;
	store_metric_set(ctx, NULL, ++collected);
}

static void
test_collectors(void)
{
	store_metrics *m = NULL;
	store_metric *g;
	char *t;
	int id = 0;

	store_metrics_new(&m);
	g = store_metric_family(m, "x_gauge", "h", STORE_METRIC_GAUGE, NULL, NULL, 0);
	CHECK(store_metrics_collector_add(m, collect, g, &id) == STORE_OK && id != 0,
	      "a collector added");
	t = render(m);
	CHECK(has(t, "x_gauge 1\n"), "a collector runs before rendering");
	free(t);
	t = render(m);
	CHECK(has(t, "x_gauge 2\n"), "and on every rendering");
	free(t);
	store_metrics_collector_remove(m, id);
	t = render(m);
	CHECK(has(t, "x_gauge 2\n"), "a removed collector runs no more");
	free(t);
	store_metrics_free(m);
}

static void
test_listen_check(void)
{
	static const char *const good[] = { "127.0.0.1:9464", "localhost:1", "[::1]:9100",
	                                    "0.0.0.0:65535" };
	static const char *const bad[] = { "", "9464", "127.0.0.1", "127.0.0.1:",
	                                   "127.0.0.1:65536", "127.0.0.1:-1", ":9464",
	                                   "127.0.0.1:94x", "/tmp/sock:1", "::1:9100",
	                                   "a b:1", "[::1:9100" };
	char msg[256];

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		CHECK(store_metrics_listen_check(good[i], msg, sizeof msg) == STORE_OK,
		      "'%s' is a listen address", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(store_metrics_listen_check(bad[i], msg, sizeof msg) == STORE_ECONFIG &&
		      strstr(msg, "host:port") != NULL, "'%s' is refused: %s", bad[i], msg);
}

/* Sends req to the server and returns the whole answer (caller frees). */
static char *
ask(int port, const char *req)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char *buf = calloc(1, 65536);
	size_t n = 0;
	ssize_t got;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (buf == NULL || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	if (write(fd, req, strlen(req)) < 0)
		n = 0;
	while (n < 65535 && (got = read(fd, buf + n, 65535 - n)) > 0)
		n += (size_t)got;
	close(fd);
	return buf;
}

static void
test_serve(void)
{
	store_metrics *m = NULL;
	store_metrics_server *s = NULL;
	store_metric *g;
	char msg[256] = "", *a;
	int port;

	store_metrics_new(&m);
	g = store_metric_family(m, "x_up", "Up.", STORE_METRIC_GAUGE, NULL, NULL, 0);
	store_metric_set(g, NULL, 1);
	CHECK(store_metrics_serve(m, "127.0.0.1:0", &s, msg, sizeof msg) == STORE_OK,
	      "serves on a free port: %s", msg);
	port = store_metrics_server_port(s);
	CHECK(port > 0, "its port is known (%d)", port);

	a = ask(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK(a != NULL && strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
	      has(a, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") &&
	      has(a, "\r\n\r\n# HELP x_up Up.\n# TYPE x_up gauge\nx_up 1\n"),
	      "GET /metrics answers the exposition");
	free(a);
	a = ask(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	CHECK(a != NULL && strncmp(a, "HTTP/1.1 200", 12) == 0, "a query string is ignored");
	free(a);
	a = ask(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
	CHECK(a != NULL && strncmp(a, "HTTP/1.1 200", 12) == 0 && !has(a, "x_up 1"),
	      "HEAD answers without a body");
	free(a);
	a = ask(port, "GET /other HTTP/1.1\r\n\r\n");
	CHECK(a != NULL && strncmp(a, "HTTP/1.1 404", 12) == 0, "another path is a 404");
	free(a);
	a = ask(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	CHECK(a != NULL && strncmp(a, "HTTP/1.1 405", 12) == 0 &&
	      has(a, "Allow: GET, HEAD\r\n"), "another method is a 405 with Allow");
	free(a);
	a = ask(port, "garbage\r\n\r\n");
	CHECK(a != NULL && strncmp(a, "HTTP/1.1 400", 12) == 0, "a malformed request is a 400");
	free(a);
	char *huge = malloc(20000);
	memcpy(huge, "GET /metrics HTTP/1.1\r\nX: ", 26);
	memset(huge + 26, 'a', 20000 - 27);
	huge[19999] = '\0';
	a = ask(port, huge);
	CHECK(a != NULL && strncmp(a, "HTTP/1.1 400", 12) == 0,
	      "a request head over 8 KiB is a 400");
	free(a);
	free(huge);
	a = ask(port, "GET /metrics HTTP/1.1\r\n\r\n");
	CHECK(a != NULL && strncmp(a, "HTTP/1.1 200", 12) == 0, "and it still serves after");
	free(a);

	store_metrics_server *s2 = NULL;
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	CHECK(store_metrics_serve(m, addr, &s2, msg, sizeof msg) == STORE_EIO && s2 == NULL &&
	      strstr(msg, "cannot listen") != NULL, "a taken port is refused: %s", msg);
	CHECK(store_metrics_serve(m, "nonsense", &s2, msg, sizeof msg) == STORE_ECONFIG,
	      "a malformed address is a configuration error");
	store_metrics_server_free(s);
	a = ask(port, "GET /metrics HTTP/1.1\r\n\r\n");
	CHECK(a == NULL, "stopped: the port is closed");
	free(a);
	store_metrics_free(m);
}

static void
test_config(void)
{
	const char *listen = "x";
	char msg[256] = "";

	unsetenv("STORE_METRICS_LISTEN");
	CHECK(store_metrics_config_load(&listen, msg, sizeof msg) == STORE_OK && listen == NULL,
	      "unset: metrics off");
	setenv("STORE_METRICS_LISTEN", "127.0.0.1:9464", 1);
	CHECK(store_metrics_config_load(&listen, msg, sizeof msg) == STORE_OK &&
	      listen != NULL && strcmp(listen, "127.0.0.1:9464") == 0, "set: the address");
	setenv("STORE_METRICS_LISTEN", "9464", 1);
	CHECK(store_metrics_config_load(&listen, msg, sizeof msg) == STORE_ECONFIG &&
	      strstr(msg, "STORE_METRICS_LISTEN") != NULL, "malformed: named in '%s'", msg);
	unsetenv("STORE_METRICS_LISTEN");
}

static void
test_hooks(void)
{
	store_metrics_run *r = NULL;
	char msg[256] = "", *t;

	store_metrics_http_request("/a", "GET", 200, 0.01);  /* before start: dropped */
	CHECK(store_metrics_start(NULL, STORE_METRICS_HTTP | STORE_METRICS_EXPIRER, NULL, NULL,
	                          NULL, &r, msg, sizeof msg) == STORE_OK && r != NULL,
	      "the store's families made");
	store_metrics_http_request("/api/products/:id", "GET", 200, 0.01);
	store_metrics_http_request("/api/products/:id", "BREW", 405, 0.01);
	store_metrics_expired(1500);
	t = render(store_metrics_process());
	CHECK(has(t, "# TYPE process_start_time_seconds gauge\n"), "process start time");
	CHECK(has(t, "store_http_requests_total{route=\"/api/products/:id\",method=\"GET\","
	             "status=\"200\"} 1\n"), "a request counted by route, method, status");
	CHECK(has(t, "method=\"other\",status=\"405\"} 1\n"),
	      "an unknown method is counted as other");
	CHECK(!has(t, "route=\"/a\""), "nothing counted before the start");
	CHECK(has(t, "store_expirer_lateness_seconds_bucket{le=\"2.5\"} 1\n") &&
	      has(t, "store_expirer_lateness_seconds_bucket{le=\"1\"} 0\n") &&
	      has(t, "store_expirer_jobs_fired_total 1\n"), "an expiration 1.5 s late");
	free(t);
	store_metrics_stop(r);
}

int
main(void)
{
	test_counter_gauge();
	test_histogram();
	test_bounds();
	test_collectors();
	test_listen_check();
	test_serve();
	test_config();
	test_hooks();
	return CHECK_DONE();
}
