/* config.h - settings from the environment, declared in a table.
 *
 * A program lists the variables it reads; store_config_load fills them and
 * reports the first missing or malformed one by name. The program decides
 * what to do (print the message, exit 78). */
#ifndef STORE_CONFIG_H
#define STORE_CONFIG_H

#include <stddef.h>
#include "store/err.h"

typedef enum store_setting_kind {
	STORE_SETTING_STR,    /* any non-empty string */
	STORE_SETTING_SECRET, /* a string of at least min bytes, never echoed */
	STORE_SETTING_INT,    /* a decimal integer in [min, max] */
	STORE_SETTING_BOOL    /* 1/0, true/false, yes/no, on/off -> 1 or 0 */
} store_setting_kind;

typedef struct store_setting {
	const char *name;        /* environment variable */
	store_setting_kind kind;
	const char *def;         /* default text; NULL: required */
	long min, max;           /* INT bounds; SECRET minimum length */
	const char **str;        /* STR/SECRET: points into the environment or def */
	long *num;               /* INT/BOOL */
} store_setting;

/* Reads every setting of the table. On the first missing or malformed one
 * returns STORE_ECONFIG and writes a message naming it into err. */
store_err store_config_load(const store_setting *table, size_t n,
                            char *err, size_t errlen);

#endif
