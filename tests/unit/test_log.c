/* test_log.c - the JSON lines of store_log: captured from stderr (a pipe
 * in its place) and parsed with jansson, for plain text, quotes and
 * backslashes, control characters, bytes that are not UTF-8, and
 * messages and ids over their bounds. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store/log.h"
#include "store/time.h"

static char captured[65536];
static size_t captured_len;

/* Runs store_log with stderr going into a pipe; what it wrote lands in
 * captured (NUL-terminated). */
#define CAPTURE(...) do {                                               \
	int fds_[2], saved_ = dup(STDERR_FILENO);                          \
	ssize_t n_;                                                        \
	captured_len = 0;                                                  \
	captured[0] = '\0';                                                \
	if (saved_ < 0 || pipe(fds_) != 0)                                 \
		break;                                                     \
	dup2(fds_[1], STDERR_FILENO);                                      \
	store_log(__VA_ARGS__);                                            \
	dup2(saved_, STDERR_FILENO);                                       \
	close(saved_);                                                     \
	close(fds_[1]);                                                    \
	while ((n_ = read(fds_[0], captured + captured_len,                \
	                  sizeof captured - 1 - captured_len)) > 0)        \
		captured_len += (size_t)n_;                                \
	captured[captured_len] = '\0';                                     \
	close(fds_[0]);                                                    \
} while (0)

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

	return CHECK_DONE();
}
