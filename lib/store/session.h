/* session.h - the session cookie and its JWT.
 *
 * The cookie "session" holds base64 of {"jwt":"<token>"}, as the original
 * store's cookie-session middleware wrote it. The token is HS256 with
 * claims id, email, iat, exp and gen; the algorithm is pinned: a token with
 * any other "alg" (none, RS256, HS512...) is refused. A token without exp
 * (as jsonwebtoken signs by default) is refused, as is one with a past exp.
 * gen is the user's session generation when the token was signed (a token
 * without it counts as 0): signing out raises the user's generation, and
 * services refuse tokens of an older one (session_gen.h). */
#ifndef STORE_SESSION_H
#define STORE_SESSION_H

#include <stddef.h>
#include <time.h>
#include "store/err.h"

#define STORE_COOKIE_NAME "session"
#define STORE_USER_EMAIL_MAX 254

typedef struct store_user {
	char id[25];
	char email[STORE_USER_EMAIL_MAX + 1];
	long long iat;
	long long gen;           /* session generation; 0 when the token had none */
} store_user;

/* Signs a token for user (gen = user->gen) valid for ttl seconds from now.
 * Caller frees *token with free(). */
store_err store_jwt_sign(const char *key, const store_user *user, long ttl,
                         char **token);

/* Verifies token with key at time now: HS256 only, good signature, exp
 * present and in the future, id a valid ObjectId, email present, gen (if
 * any) an integer >= 0.
 * STORE_EAUTH for any bad token. */
store_err store_jwt_verify(const char *key, const char *token, time_t now,
                           store_user *user);

/* Wraps a token as the cookie value (base64 of {"jwt":token}).
 * Caller frees *value with free(). */
store_err store_session_encode(const char *token, char **value);

/* Finds the "session" cookie in a Cookie header (may be NULL), decodes it
 * and verifies its token. STORE_EAUTH when absent or bad. A cookie value
 * that verified with key is remembered (256 slots per process, keyed by a
 * BLAKE2b digest of key and the whole value), so the same cookie is not
 * verified again while its token's exp is after now; exp is checked on
 * every call. Only the token is cached: the session generation is the
 * caller's to check on every request (session_gen.h). Thread-safe. */
store_err store_session_from_cookies(const char *key, const char *cookie_header,
                                     time_t now, store_user *user);

/* Builds the Set-Cookie value that sets (value non-NULL) or clears (value
 * NULL) the session cookie: HttpOnly; SameSite=Lax; Path=/ [; Secure].
 * Caller frees *out with free(). */
store_err store_session_set_cookie(const char *value, int secure, char **out);

#endif
