/* json.c - small helpers on jansson. */
#include "store/json.h"

const char *
store_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

long long
store_json_int(const json_t *obj, const char *key, long long def)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

json_t *
store_json_money(long long cents)
{
	if (cents % 100 == 0)
		return json_integer(cents / 100);
	return json_real((double)cents / 100.0);
}

json_t *
store_json_error(const char *message, const char *field)
{
	json_t *e = json_pack("{s:s}", "message", message);

	if (e != NULL && field != NULL)
		json_object_set_new(e, "field", json_string(field));
	return json_pack("{s:[o]}", "errors", e);
}

char *
store_json_dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
	                  JSON_REAL_PRECISION(15));
}
