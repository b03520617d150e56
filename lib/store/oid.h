/* oid.h - MongoDB-format ObjectIds as 24 lowercase hex characters. */
#ifndef STORE_OID_H
#define STORE_OID_H

#include <stdbool.h>

#define STORE_OID_LEN 24

/* Writes a new id (4 bytes seconds, 5 random bytes per process, 3 bytes
 * counter) and a terminating NUL into out. Thread-safe. */
void store_oid_new(char out[STORE_OID_LEN + 1]);

/* True when s is exactly 24 lowercase hex characters. s may be NULL. */
bool store_oid_valid(const char *s);

#endif
