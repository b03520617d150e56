/* config.c - settings from the environment, declared in a table. */
#include "store/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
parse_bool(const char *s, long *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static store_err
load_one(const store_setting *s, char *err, size_t errlen)
{
	const char *v = getenv(s->name);
	char *end = NULL;
	long n;

	if (v == NULL || *v == '\0')
		v = s->def;
	if (v == NULL) {
		snprintf(err, errlen, "setting '%s' is required", s->name);
		return STORE_ECONFIG;
	}
	switch (s->kind) {
	case STORE_SETTING_STR:
		if (*v == '\0') {
			snprintf(err, errlen, "setting '%s' must not be empty", s->name);
			return STORE_ECONFIG;
		}
		*s->str = v;
		return STORE_OK;
	case STORE_SETTING_SECRET:
		if ((long)strlen(v) < s->min) {
			snprintf(err, errlen, "setting '%s' must be at least %ld characters",
			         s->name, s->min);
			return STORE_ECONFIG;
		}
		*s->str = v;
		return STORE_OK;
	case STORE_SETTING_INT:
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < s->min || n > s->max) {
			snprintf(err, errlen, "setting '%s' must be an integer from %ld to %ld, not '%.64s'",
			         s->name, s->min, s->max, v);
			return STORE_ECONFIG;
		}
		*s->num = n;
		return STORE_OK;
	case STORE_SETTING_BOOL:
		if (parse_bool(v, s->num) != 0) {
			snprintf(err, errlen, "setting '%s' must be true or false, not '%.64s'",
			         s->name, v);
			return STORE_ECONFIG;
		}
		return STORE_OK;
	}
	snprintf(err, errlen, "setting '%s' has an unknown kind", s->name);
	return STORE_EINTERNAL;
}

store_err
store_config_load(const store_setting *table, size_t n, char *err, size_t errlen)
{
	store_err e = STORE_OK;

	for (size_t i = 0; i < n && e == STORE_OK; i++)
		e = load_one(&table[i], err, errlen);
	return e;
}
