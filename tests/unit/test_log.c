/* test_log.c - the JSON lines of store_log: captured from stderr (a
 * socket in its place) and parsed with jansson, for plain text, quotes and
 * backslashes, control characters, bytes that are not UTF-8, and
 * messages and ids over their bounds; and a thread's held lines
 * (store_log_hold): when they are written, whole and in order. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "store/log.h"
#include "store/time.h"

static char captured[65536];
static size_t captured_len;

/* Stderr into a SOCK_SEQPACKET socket across several calls, so that each
 * write(2) is read back as one message: capture_start, then capture_take
 * (what was written since, into captured, without waiting), capture_end. */
static int cap_fd = -1, cap_saved = -1;
static size_t cap_longest;      /* the longest write capture_take read */
static bool cap_whole;          /* every write it read ended a line */

static void
capture_start(void)
{
	int fds[2];

	cap_saved = dup(STDERR_FILENO);
	if (cap_saved < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, fds) != 0)
		abort();
	dup2(fds[1], STDERR_FILENO);
	close(fds[1]);
	cap_fd = fds[0];
}

/* Reads what was written into captured; returns the number of writes. */
static int
capture_take(void)
{
	ssize_t n;
	int writes = 0;

	captured_len = 0;
	cap_longest = 0;
	cap_whole = true;
	while ((n = read(cap_fd, captured + captured_len,
	                 sizeof captured - 1 - captured_len)) > 0) {
		cap_whole = cap_whole && captured[captured_len + (size_t)n - 1] == '\n';
		if ((size_t)n > cap_longest)
			cap_longest = (size_t)n;
		captured_len += (size_t)n;
		writes++;
	}
	captured[captured_len] = '\0';
	return writes;
}

static void
capture_end(void)
{
	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	close(cap_fd);
}

/* Runs one store_log with stderr captured; what it wrote lands in
 * captured (NUL-terminated). */
#define CAPTURE(...) do {                                               \
	capture_start();                                                   \
	store_log(__VA_ARGS__);                                            \
	capture_take();                                                    \
	capture_end();                                                     \
} while (0)

/* The number of lines in captured when each is a JSON object whose msg
 * starts with prefix, else -1. */
static int
captured_lines(const char *prefix)
{
	int lines = 0;

	for (char *p = captured, *nl; *p != '\0'; p = nl + 1) {
		json_error_t err;
		json_t *o;
		const char *msg;
		bool ok;

		if ((nl = strchr(p, '\n')) == NULL)
			return -1;
		o = json_loadb(p, (size_t)(nl - p), 0, &err);
		msg = json_string_value(json_object_get(o, "msg"));
		ok = msg != NULL && strncmp(msg, prefix, strlen(prefix)) == 0;
		json_decref(o);
		if (!ok)
			return -1;
		lines++;
	}
	return lines;
}

static void *
log_from_thread(void *arg)
{
	(void)arg;
	store_log(STORE_LOG_INFO, NULL, NULL, "from another thread");
	return NULL;
}

/* A thread's held lines: written on flush, before a warn line, when the
 * buffer is full (whole lines, one write of at most 4096 bytes each), by
 * the flusher when the oldest is STORE_LOG_HOLD_MS old; other threads not
 * held. */
static void
test_hold(void)
{
	pthread_t t;
	int writes, lines;

	capture_start();
	/* The flusher leaves lines alone until the flusher test below. */
	store_log_hold_ms(3600 * 1000);
	CHECK(store_log_hold(true), "a thread starts holding its lines");
	store_log(STORE_LOG_INFO, "r1", NULL, "held 1");
	store_log(STORE_LOG_INFO, "r2", NULL, "held 2");
	store_log(STORE_LOG_DEBUG, NULL, NULL, "held debug (under the minimum)");
	CHECK(capture_take() == 0 && store_log_holding(),
	      "info lines are held: nothing written yet");
	pthread_create(&t, NULL, log_from_thread, NULL);
	pthread_join(t, NULL);
	CHECK(capture_take() == 1 && captured_lines("from another thread") == 1,
	      "another thread's line is written at once, not held");
	store_log_flush();
	writes = capture_take();
	CHECK(writes == 1 && captured_lines("held ") == 2 &&
	      strstr(captured, "held 1") < strstr(captured, "held 2") &&
	      !store_log_holding(),
	      "flush writes the held lines in one write, in order");
	store_log_flush();
	CHECK(capture_take() == 0, "a flush with nothing held writes nothing");

	store_log(STORE_LOG_INFO, NULL, NULL, "held before the warning");
	store_log(STORE_LOG_WARN, NULL, NULL, "held: the warning");
	CHECK(capture_take() >= 1 && captured_lines("held") == 2 &&
	      strstr(captured, "before the warning") < strstr(captured, "held: the warning") &&
	      !store_log_holding(),
	      "a warn line writes the held lines first, then itself");

	for (int i = 0; i < 100; i++)
		store_log(STORE_LOG_INFO, NULL, NULL, "held line %03d of a full buffer", i);
	writes = capture_take();
	lines = captured_lines("held line");
	CHECK(writes >= 1 && lines > 0 && lines < 100 && cap_whole && cap_longest <= 4096 &&
	      strstr(captured, "held line 000") != NULL,
	      "a full buffer is written as whole lines, at most 4096 bytes a write");
	store_log_flush();
	capture_take();
	CHECK(captured_lines("held line") == 100 - lines && strstr(captured, "held line 099"),
	      "the rest are written by the flush: every line once");

	/* The thread logs nothing more: the process's flusher writes the line
	 * once it is STORE_LOG_HOLD_MS old (polled for up to 5 s). */
	store_log_hold_ms(0);
	store_log(STORE_LOG_INFO, NULL, NULL, "held old");
	for (int i = 0; i < 100 && capture_take() == 0; i++)
		usleep(50 * 1000);
	CHECK(captured_lines("held old") == 1 && !store_log_holding(),
	      "a held line is written by the flusher once STORE_LOG_HOLD_MS old, "
	      "while its thread logs nothing");

	store_log(STORE_LOG_INFO, NULL, NULL, "held at the end");
	store_log_hold(false);
	capture_take();
	CHECK(captured_lines("held at the end") == 1 && !store_log_holding(),
	      "store_log_hold(false) writes what is held");
	store_log(STORE_LOG_INFO, NULL, NULL, "not held");
	CHECK(capture_take() == 1 && captured_lines("not held") == 1,
	      "after store_log_hold(false), each line is written at once");
	capture_end();
}

/* The captured output as one line of JSON: an object, or NULL when it is
 * not exactly one line ending in a newline or does not parse. */
static json_t *
captured_line(void)
{
	json_error_t err;

	if (captured_len == 0 || captured[captured_len - 1] != '\n' ||
	    memchr(captured, '\n', captured_len - 1) != NULL)
		return NULL;
	return json_loadb(captured, captured_len - 1, JSON_REJECT_DUPLICATES, &err);
}

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* 1 when the captured line parses with the fields ts, level, svc and msg
 * (equal to want), and req_id/event_id exactly when given. */
static int
line_is(const char *level, const char *want, const char *req_id, const char *event_id)
{
	json_t *o = captured_line();
	const char *ts = str(o, "ts");
	int ok = json_is_object(o) && ts != NULL && strlen(ts) == 24 &&
	         ts[4] == '-' && ts[10] == 'T' && ts[23] == 'Z' &&
	         str(o, "level") != NULL && strcmp(str(o, "level"), level) == 0 &&
	         str(o, "svc") != NULL && strcmp(str(o, "svc"), "test-log") == 0 &&
	         str(o, "msg") != NULL && strcmp(str(o, "msg"), want) == 0 &&
	         (req_id == NULL ? json_object_get(o, "req_id") == NULL
	                         : str(o, "req_id") != NULL && strcmp(str(o, "req_id"), req_id) == 0) &&
	         (event_id == NULL ? json_object_get(o, "event_id") == NULL
	                           : str(o, "event_id") != NULL &&
	                             strcmp(str(o, "event_id"), event_id) == 0) &&
	         json_object_size(o) == 4 + (size_t)(req_id != NULL) + (size_t)(event_id != NULL);

	json_decref(o);
	if (!ok)
		printf("# got: %.*s\n", (int)strcspn(captured, "\n"), captured);
	return ok;
}

/* 1 when the captured line's ts parses (store_time_parse) to a time
 * between just before and just after a fresh CAPTURE of a line. */
static int
ts_now(void)
{
	long long before = store_time_now_ms(), after, at = -1;
	json_t *o;
	int ok;

	CAPTURE(STORE_LOG_INFO, NULL, NULL, "now");
	after = store_time_now_ms();
	o = captured_line();
	ok = str(o, "ts") != NULL && store_time_parse(str(o, "ts"), &at) &&
	     before <= at && at <= after;
	if (!ok)
		printf("# ts %s, not within %lld..%lld\n", str(o, "ts") ? str(o, "ts") : "(none)",
		       before, after);
	json_decref(o);
	return ok;
}

int
main(void)
{
	char ctl[40], big[5000], id[300];
	json_t *o;

	store_log_init("test-log", STORE_LOG_INFO);

	CAPTURE(STORE_LOG_INFO, NULL, NULL, "GET %s %d", "/api/categories", 200);
	CHECK(line_is("info", "GET /api/categories 200", NULL, NULL),
	      "plain text: ts, level, svc, msg, and no ids");
	CHECK(strncmp(captured, "{\"ts\":", 6) == 0, "the fields come in order, ts first");
	CHECK(ts_now(), "ts is the time of the call, to the millisecond, in RFC 3339 UTC");

	CAPTURE(STORE_LOG_ERROR, "req-1", "5f1d7b2c9a8e4b3c2d1e0f10", "failed: %s", "disk");
	CHECK(line_is("error", "failed: disk", "req-1", "5f1d7b2c9a8e4b3c2d1e0f10"),
	      "req_id and event_id are written when given");

	CAPTURE(STORE_LOG_WARN, NULL, NULL, "%s", "say \"hi\" \\ back\\slash\nnext\tline\r");
	CHECK(line_is("warn", "say \"hi\" \\ back\\slash\nnext\tline\r", NULL, NULL),
	      "quotes, backslashes, newlines and tabs round-trip");

	for (int c = 1; c < 0x20; c++)
		ctl[c - 1] = (char)c;
	ctl[0x1f] = 0x7f;
	ctl[0x20] = '\0';
	CAPTURE(STORE_LOG_INFO, NULL, NULL, "%s", ctl);
	CHECK(line_is("info", ctl, NULL, NULL), "every control character round-trips");
	CHECK(strstr(captured, "\\u0001") != NULL && strstr(captured, "\\u001f") != NULL,
	      "control characters are written as \\u00XX");

	CAPTURE(STORE_LOG_INFO, NULL, NULL, "%s",
	        "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 bad \xff|\xc3\x28|\xe2\x82 |"
	        "\xed\xa0\x80|\xf4\x90\x80\x80|\xc0\xaf|\x80");
	CHECK(line_is("info", "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 bad ?|?(|?? |???|????|??|?",
	              NULL, NULL),
	      "valid UTF-8 is kept, every byte that is not is '?'");

	CAPTURE(STORE_LOG_INFO, "r\xff\"1", "e\n1", "ids are escaped too");
	CHECK(line_is("info", "ids are escaped too", "r?\"1", "e\n1"),
	      "ids are escaped and made UTF-8");

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memset(id, 'i', sizeof id - 1);
	id[sizeof id - 1] = '\0';
	CAPTURE(STORE_LOG_INFO, id, id, "%s", big);
	o = captured_line();
	CHECK(o != NULL && str(o, "msg") != NULL && strlen(str(o, "msg")) == 2048 &&
	      strspn(str(o, "msg"), "x") == 2048,
	      "an overlong message is cut at 2048 bytes");
	CHECK(o != NULL && str(o, "req_id") != NULL && strlen(str(o, "req_id")) == 128 &&
	      str(o, "event_id") != NULL && strlen(str(o, "event_id")) == 128,
	      "overlong ids are cut at 128 bytes");
	json_decref(o);

	/* Cut in the middle of a character: the partial one becomes '?'. */
	memset(big, 'x', 2047);
	memcpy(big + 2047, "\xc3\xa9", 3);
	CAPTURE(STORE_LOG_INFO, NULL, NULL, "%s", big);
	o = captured_line();
	CHECK(o != NULL && str(o, "msg") != NULL && strlen(str(o, "msg")) == 2048 &&
	      str(o, "msg")[2047] == '?',
	      "a character cut at the bound is written as '?', the line still JSON");
	json_decref(o);

	/* Every byte at its worst (\u00XX) in every field at once. */
	memset(big, 0x01, 2048);
	big[2048] = '\0';
	memset(id, 0x02, 128);
	id[128] = '\0';
	CAPTURE(STORE_LOG_ERROR, id, id, "%s", big);
	o = captured_line();
	CHECK(o != NULL && str(o, "msg") != NULL && strlen(str(o, "msg")) == 2048 &&
	      str(o, "req_id") != NULL && strlen(str(o, "req_id")) == 128,
	      "the longest escaped line is written whole");
	json_decref(o);

	CAPTURE(STORE_LOG_DEBUG, NULL, NULL, "not shown");
	CHECK(captured_len == 0, "a level under the minimum writes nothing");
	CAPTURE(STORE_LOG_INFO, NULL, NULL, "%s", "");
	CHECK(line_is("info", "", NULL, NULL), "an empty message is an empty string");

	test_hold();

	return CHECK_DONE();
}
