/* session_impl.h - private: between session.c (the cookie and its token)
 * and session_cache.c (the cookies already verified). */
#ifndef STORE_SESSION_IMPL_H
#define STORE_SESSION_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "store/session.h"

/* Decodes the session cookie's value (value[0..len), base64 of
 * {"jwt":token}) and verifies its token with key at time now, as
 * store_jwt_verify does; on STORE_OK fills *user and *exp (the token's exp
 * claim, > now). STORE_EAUTH for anything bad. */
store_err session_cookie_verify(const char *key, const char *value, size_t len,
                                time_t now, store_user *user, long long *exp);

/* The verified-cookie cache: SESSION_CACHE_SLOTS slots, each keyed by a
 * BLAKE2b digest of the signing key and the whole cookie value, holding the
 * user the cookie verified to and its token's exp. Thread-safe (one
 * mutex). Only cookies that verified are put; nothing else is cached. */
#define SESSION_CACHE_SLOTS 256

/* true and *user filled when the cookie value was verified with key before
 * and its exp is still after now; false otherwise (a slot whose exp has passed
 * is emptied, never answered). */
bool session_cache_get(const char *key, const char *value, size_t len,
                      time_t now, store_user *user);

/* Remembers that value verified with key to user, valid until exp. */
void session_cache_put(const char *key, const char *value, size_t len,
                       const store_user *user, long long exp);

#endif
