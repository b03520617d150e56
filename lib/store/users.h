/* users.h - the auth service's domain: accounts and credentials.
 *
 * A user document: {id, version, email, emailKey, passwordHash,
 * sessionGen}. email is kept as given (trimmed); emailKey, its lowercase
 * form, is unique, so addresses compare case-insensitively. The hash never
 * leaves this module. sessionGen (absent: 0) is the generation of the
 * user's valid sessions (session_gen.h). */
#ifndef STORE_USERS_H
#define STORE_USERS_H

#include <stddef.h>
#include "store/db.h"
#include "store/session.h"

/* The collections the auth service's database holds. */
extern const store_collection store_users_collections[];
extern const size_t store_users_ncollections;

/* Creates an account. STORE_EDUPLICATE when the address is in use (in any
 * letter case). *out gets the new user. */
store_err store_users_signup(store_db *db, const char *email,
                             const char *password, store_user *out);

/* Checks credentials. STORE_EAUTH for an unknown address or a wrong
 * password alike, after the same amount of hashing work. out->gen gets the
 * user's session generation, for the token. */
store_err store_users_signin(store_db *db, const char *email,
                             const char *password, store_user *out);

/* Signs user out everywhere: raises the user's session generation (so
 * every session signed before is refused) and writes
 * store.user.signedout {userId, gen} into the outbox, in one transaction
 * (its commit wakes the relay). *gen, when not NULL, gets the new
 * generation. STORE_ENOTFOUND when there is no such user. */
store_err store_users_signout(store_db *db, const store_user *user,
                              const char *request_id, long long *gen);

#endif
