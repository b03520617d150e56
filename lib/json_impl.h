/* json_impl.h - private: reading stored JSON text without decoding it
 * (json_scan.c), for answers and messages that copy stored values as they
 * are (catalog_text.c's listings, bus_outbox.c's relay). */
#ifndef STORE_JSON_IMPL_H
#define STORE_JSON_IMPL_H

#include <stdbool.h>
#include <stddef.h>

/* A value's text: n bytes at s, inside the scanned text. */
struct json_span {
	const char *s;
	size_t n;
};

#define JSON_NUMBER_MAX 64   /* length of a stored number converted */

/* A member name looked for, with its length (JSON_KEY("name")). */
struct json_key {
	const char *s;
	size_t n;
};
#define JSON_KEY(lit) { (lit), sizeof (lit) - 1 }

/* Finds the values of keys[] among the top-level members of the JSON
 * object text (len bytes) into vals[] (s NULL for a key not there; the
 * last of a repeated key, as in jansson). false when the text is not one
 * object json_loadb would load, or holds a string jansson would write
 * back differently: then only the parse/encode path gives the answer. */
bool json_members(const char *text, size_t len, const struct json_key *keys,
                  size_t nkeys, struct json_span *vals);

#endif
