/* log.c - JSON-lines logging to stderr, one write(2) per line, or per
 * buffer of lines for a thread that holds them (log_hold.c).
 *
 * The line is built by hand in a buffer on the stack, large enough for the
 * longest line (every field bounded, every byte escaped at worst to six),
 * so logging allocates nothing. Strings are escaped as RFC 8259 asks
 * (quote, backslash, control characters) and bytes that are not UTF-8
 * become '?', so every line is valid JSON whatever a message holds. */
#include "log_impl.h"

#include "store/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MSG_MAX 2048        /* a message's bytes, before escaping */
#define ID_MAX 128          /* req_id and event_id, before escaping */
#define SVC_MAX 64
#define TS_MAX STORE_TIME_LEN
#define ESCAPED(n) ((n) * 6 + 2)   /* \u00XX: the most a byte becomes; quotes */
/* The keys and punctuation take less than 128 bytes. */
#define LINE_MAX_LEN (128 + ESCAPED(TS_MAX) + ESCAPED(SVC_MAX) + ESCAPED(MSG_MAX) + \
                      2 * ESCAPED(ID_MAX))

static char log_svc[SVC_MAX] = "store";
static store_log_level log_min = STORE_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
store_log_init(const char *svc, store_log_level min)
{
	if (svc != NULL)
		snprintf(log_svc, sizeof log_svc, "%s", svc);
	log_min = min;
}

int
store_log_level_parse(const char *s)
{
	for (size_t i = 0; s != NULL && i < sizeof level_names / sizeof *level_names; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), or
 * 0 when the bytes there are not one (a stray continuation byte, a
 * truncated, overlong or surrogate sequence, or past U+10FFFF). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned lo = 0x80, hi = 0xBF;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	/* The second byte's range rules out overlongs, surrogates and
	 * code points past U+10FFFF. */
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

/* Appends s (at most max bytes of it) as a JSON string, quotes included,
 * at out; returns the end. out must have room for ESCAPED(max). */
static char *
put_string(char *out, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max), len;

	*out++ = '"';
	for (size_t i = 0; i < n; i += len) {
		unsigned char c = p[i];

		len = 1;
		if (c == '"' || c == '\\') {
			*out++ = '\\';
			*out++ = (char)c;
		} else if (c < 0x20) {
			*out++ = '\\';
			switch (c) {
			case '\n': *out++ = 'n'; break;
			case '\r': *out++ = 'r'; break;
			case '\t': *out++ = 't'; break;
			default:
				memcpy(out, "u00", 3);
				out[3] = hex[c >> 4];
				out[4] = hex[c & 0xF];
				out += 5;
			}
		} else if (c < 0x80) {
			*out++ = (char)c;
		} else if ((len = utf8_len(p + i, n - i)) == 0) {
			*out++ = '?';
			len = 1;
		} else {
			memcpy(out, p + i, len);
			out += len;
		}
	}
	*out++ = '"';
	return out;
}

/* Appends the literal text lit (no escaping). */
static char *
put_raw(char *out, const char *lit)
{
	size_t n = strlen(lit);

	memcpy(out, lit, n);
	return out + n;
}

void
store_log(store_log_level lvl, const char *req_id, const char *event_id,
          const char *fmt, ...)
{
	char msg[MSG_MAX + 1], ts[TS_MAX], line[LINE_MAX_LEN];
	char *at = line;
	va_list ap;

	if (lvl < log_min || lvl > STORE_LOG_ERROR)
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);

	store_time_format(store_time_now_ms(), true, ts);

	at = put_raw(at, "{\"ts\":");
	at = put_string(at, ts, sizeof ts);
	at = put_raw(at, ",\"level\":\"");
	at = put_raw(at, level_names[lvl]);
	at = put_raw(at, "\",\"svc\":");
	at = put_string(at, log_svc, SVC_MAX);
	at = put_raw(at, ",\"msg\":");
	at = put_string(at, msg, MSG_MAX);
	if (req_id != NULL) {
		at = put_raw(at, ",\"req_id\":");
		at = put_string(at, req_id, ID_MAX);
	}
	if (event_id != NULL) {
		at = put_raw(at, ",\"event_id\":");
		at = put_string(at, event_id, ID_MAX);
	}
	at = put_raw(at, "}\n");
	if (log_hold_line(lvl, line, (size_t)(at - line)))
		return;
	store_log_flush();
	log_write(line, (size_t)(at - line));
}
