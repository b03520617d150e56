/* query.h - declared query-string parameters (GET /api/...?page=2&q=lamp).
 *
 * As valid.h does for JSON bodies: a handler declares the parameters it
 * reads, store_query_parse checks the query string against the table and
 * hands on only those that passed. Parameters not declared are ignored
 * (clients add cache busters); of a repeated parameter the first counts.
 * Values are percent-decoded ('+' is a space). */
#ifndef STORE_QUERY_H
#define STORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "store/err.h"

#define STORE_QUERY_MAX 4096   /* longest query string read */

typedef enum store_qkind {
	STORE_Q_TEXT,  /* UTF-8 text without control characters, trimmed,
	                  length in characters within [min, max] */
	STORE_Q_INT,   /* decimal digits only, value within [min, max] */
	STORE_Q_WORD   /* one of choices (NULL-terminated), exactly */
} store_qkind;

typedef struct store_qparam {
	const char *name;       /* the parameter, also the error's "field" */
	store_qkind kind;
	int required;           /* absent (or blank text) fails with missing */
	long long min, max;
	const char *const *choices;  /* STORE_Q_WORD */
	const char *message;    /* any failure of this parameter */
	const char *missing;    /* when required and absent (NULL: message) */
} store_qparam;

/* Checks query (without '?', "" or NULL when none) against the table. On
 * STORE_OK, *out is a new object holding the parameters that were present:
 * integers as JSON integers, the others as strings. On STORE_EINVAL,
 * *errors is a new array of {"message","field"}, one per failing parameter
 * in table order. Caller frees either with json_decref. STORE_ENOMEM when
 * out of memory. */
store_err store_query_parse(const char *query, const store_qparam *params,
                            size_t n, json_t **out, json_t **errors);

/* The first raw (still encoded) value of name in query: *val points into
 * query, *len bytes ("" for "name" with no '='); false when absent. */
bool store_query_raw(const char *query, const char *name, const char **val, size_t *len);

/* Percent-decodes s[0..len) ('+' is a space) into out, which has room for
 * len bytes; adds no NUL. Returns the decoded length, or -1 when an escape
 * is malformed. The one URL decoder of the store (query strings, forms). */
long store_url_decode(const char *s, size_t len, char *out);

#endif
