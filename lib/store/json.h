/* json.h - small helpers on jansson. */
#ifndef STORE_JSON_H
#define STORE_JSON_H

#include <stddef.h>
#include <jansson.h>

/* The string at key, or NULL when absent or not a string. Borrowed. */
const char *store_json_str(const json_t *obj, const char *key);

/* The integer at key, or def when absent or not an integer. */
long long store_json_int(const json_t *obj, const char *key, long long def);

/* Money as a JSON number from integer cents (1250 -> 12.5). New reference. */
json_t *store_json_money(long long cents);

/* Builds {"errors":[{"message": message[, "field": field]}]}. New reference. */
json_t *store_json_error(const char *message, const char *field);

/* Serialises compactly. Caller frees with free(). NULL on failure. */
char *store_json_dump(const json_t *v);

#endif
