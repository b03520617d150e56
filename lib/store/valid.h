/* valid.h - declared inputs: tables of fields with validators.
 *
 * A handler declares the fields it reads; store_validate checks a request
 * object against the table and hands on only the fields that passed,
 * normalised (strings trimmed, money as integer cents). Every failing field
 * gives one {"message","field"} entry, in table order. */
#ifndef STORE_VALID_H
#define STORE_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "store/err.h"

typedef enum store_validator {
	STORE_V_STRING,   /* string, length in characters within [min, max] */
	STORE_V_EMAIL,    /* string, a plausible address, at most 254 bytes */
	STORE_V_MONEY,    /* number > 0 and <= 1,000,000, at most two decimals;
	                     handed on as integer cents; more than two decimals
	                     fails with the field's decimals message */
	STORE_V_POSINT,   /* integer > 0 and <= max (max 0: no bound) */
	STORE_V_INT,      /* integer within [min, max] */
	STORE_V_OBJECTID, /* 24 lowercase hex characters */
	STORE_V_PICTURE,  /* http(s) URL (<= 2048 bytes), a data:image/
	                     (png|jpeg|gif|webp);base64 URL of at most
	                     STORE_PICTURE_MAX decoded bytes, or the store's
	                     own STORE_PICTURE_PATH<id> (whose use the domain
	                     checks: only a product's current picture) */
	STORE_V_BOOL,     /* true or false */
	STORE_V_ANY       /* any JSON value, passed on as is */
} store_validator;

#define STORE_PICTURE_MAX (2u * 1024u * 1024u)
#define STORE_PICTURE_PATH "/api/products/picture/"

enum {
	STORE_F_REQUIRED = 1 << 0, /* absent or null fails with message */
	STORE_F_TRIM     = 1 << 1, /* strings: trim white space first */
	STORE_F_NONZERO  = 1 << 2, /* INT: 0 fails */
	STORE_F_NUMSTR   = 1 << 3  /* MONEY, POSINT, INT: a string holding a number
	                              in JSON's syntax without exponent ("19.99",
	                              "5") counts as that number; any other string
	                              fails as a wrong number does */
};

/* A string that is empty or only white space counts as absent (null too),
 * for every kind but STORE_V_ANY: "" gets a field's missing message. */

typedef struct store_field {
	const char *name;      /* JSON key, also the "field" of the error */
	store_validator kind;
	unsigned flags;
	long long min, max;    /* STRING: length bounds; INT/POSINT: value bounds */
	const char *message;   /* the message of any failure of this field */
	const char *missing;   /* the message when absent, if another (NULL) */
	const char *decimals;  /* MONEY: the message for more than two decimals,
	                          if another (NULL) */
} store_field;

/* Checks in (any JSON value; not an object fails as a whole) against the
 * table. On STORE_OK, *out is a new object with the fields that were present
 * and valid; caller frees with json_decref. On STORE_EINVAL, *errors is a
 * new array of {"message","field"} objects; caller frees with json_decref.
 * Pointers not set are left NULL. */
store_err store_validate(const json_t *in, const store_field *fields, size_t n,
                         json_t **out, json_t **errors);

/* Single checks, also used by the table. Each returns true when valid. */
bool store_valid_email(const char *s);
bool store_valid_picture(const char *s);
/* Money: *cents gets the value in cents when valid. */
bool store_valid_money(const json_t *v, long long *cents);

/* Why an amount of money is refused. */
typedef enum store_money {
	STORE_MONEY_OK = 0,
	STORE_MONEY_BAD,       /* not a number, not above 0, above 1,000,000 */
	STORE_MONEY_DECIMALS   /* above 0 but with more than two decimals */
} store_money;

/* Money from a JSON number (integer or real; a real counts as the decimal
 * that it is the nearest double of, e.g. 19.99, 10000.001) or, with
 * strings, from the len bytes of decimal text in JSON's number syntax
 * without exponent, read exactly ("19.990" is 1999 cents, "0.001" has too
 * many decimals). *cents gets the value on STORE_MONEY_OK. Values at or
 * below 0 are STORE_MONEY_BAD, whatever their decimals. */
store_money store_money_of(const json_t *v, int strings, long long *cents);
store_money store_money_parse(const char *s, size_t len, long long *cents);

/* Number of characters (UTF-8 code points) in s. */
size_t store_utf8_len(const char *s);

#endif
