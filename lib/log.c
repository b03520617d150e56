/* log.c - JSON-lines logging to stderr, one write(2) per line. */
#include "store/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static char log_svc[64] = "store";
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

void
store_log(store_log_level lvl, const char *req_id, const char *event_id,
          const char *fmt, ...)
{
	char msg[2048], ts[64];
	struct timespec now;
	struct tm tm;
	json_t *line = NULL;
	char *text = NULL;
	va_list ap;

	if (lvl < log_min || lvl > STORE_LOG_ERROR)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, (long)(now.tv_nsec / 1000000) % 1000);

	line = json_object();
	if (line == NULL)
		goto out;
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "level", json_string(level_names[lvl]));
	json_object_set_new(line, "svc", json_string(log_svc));
	json_t *m = json_string(msg);
	if (m == NULL) {
		/* Not valid UTF-8: log it anyway, with the odd bytes replaced. */
		for (char *p = msg; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		m = json_string(msg);
	}
	json_object_set_new(line, "msg", m);
	if (req_id != NULL)
		json_object_set_new(line, "req_id", json_string(req_id));
	if (event_id != NULL)
		json_object_set_new(line, "event_id", json_string(event_id));
	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		goto out;
	size_t len = strlen(text);
	text[len] = '\n';   /* json_dumps leaves room: we re-terminate below */
	if (write(STDERR_FILENO, text, len + 1) < 0) {
		/* Nowhere left to report it. */
	}
	text[len] = '\0';
out:
	free(text);
	json_decref(line);
}
