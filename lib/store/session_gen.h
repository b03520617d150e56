/* session_gen.h - signing out everywhere: each user's session generation.
 *
 * A session token carries the generation ("gen") its user had when it was
 * signed (session.h). Signing out raises the user's generation in the auth
 * service's users collection (field STORE_SESSION_GEN_FIELD) and announces
 * store.user.signedout {userId, gen}; every other service that checks
 * sessions keeps a replica collection STORE_SESSION_GEN_COLL, one document
 * per user {id = userId, sessionGen}, applied by its daemon. A token whose
 * gen is below the user's generation is refused as "not signed in", on
 * every service: each checks its own copy, none calls another. */
#ifndef STORE_SESSION_GEN_H
#define STORE_SESSION_GEN_H

#include "store/bus.h"
#include "store/db.h"
#include "store/session.h"

#define STORE_SESSION_GEN_COLL "sessions"
#define STORE_SESSION_GEN_FIELD "sessionGen"

/* The replica's entry, for the collection table of a service that checks
 * sessions (its HTTP program then checks them, see service.h). */
#define STORE_SESSION_GEN_COLLECTION { STORE_SESSION_GEN_COLL, NULL, NULL }

/* The session check: user's token generation against the generation kept
 * for user->id in collection coll (the replica, or the auth service's
 * users). STORE_OK when the session stands (also when coll has no document
 * for the user: generation 0), STORE_EAUTH when it was signed out, another
 * error when the database failed. One read of the member
 * STORE_SESSION_GEN_FIELD by id (store_db_get_member): the rest of the
 * document, a user's password hash in auth's users, is not decoded. */
store_err store_session_gen_check(store_db *db, const char *coll,
                                  const store_user *user);

/* The daemon handler of store.user.signedout {userId, gen}: keeps the
 * highest generation seen for the user in the replica (an older or
 * repeated event changes nothing, so it is idempotent without the
 * processed table). STORE_EINVAL for a malformed payload. */
store_err store_session_gen_on_signedout(store_db *db, const store_event *ev);

#endif
