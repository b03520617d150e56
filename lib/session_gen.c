/* session_gen.c - each user's session generation: the check on every
 * request and the replica kept from store.user.signedout. */
#include "store/session_gen.h"

#include "store/json.h"
#include "store/oid.h"

store_err
store_session_gen_check(store_db *db, const char *coll, const store_user *user)
{
	json_t *gen = NULL;
	store_err e = store_db_get_member(db, coll, user->id, STORE_SESSION_GEN_FIELD,
	                                  &gen);

	if (e == STORE_ENOTFOUND)
		return STORE_OK;
	if (e == STORE_OK && json_is_integer(gen) && user->gen < json_integer_value(gen))
		e = STORE_EAUTH;
	json_decref(gen);
	return e;
}

/* Raises the replica's generation for the event's user to the event's,
 * never lowers it. */
static store_err
signedout_tx(store_db *db, void *arg)
{
	const json_t *p = ((const store_event *)arg)->payload;
	const char *uid = store_json_str(p, "userId");
	long long gen = store_json_int(p, "gen", -1);
	json_t *doc = NULL;
	store_err e;

	if (!store_oid_valid(uid) || gen < 0)
		return STORE_EINVAL;
	e = store_db_get(db, STORE_SESSION_GEN_COLL, uid, &doc);
	if (e == STORE_ENOTFOUND) {
		doc = json_pack("{s:s,s:I}", "id", uid, STORE_SESSION_GEN_FIELD, (json_int_t)gen);
		e = doc != NULL ? store_db_insert(db, STORE_SESSION_GEN_COLL, doc, NULL)
		                : STORE_ENOMEM;
		if (e == STORE_EDUPLICATE)
			e = STORE_ECONFLICT;   /* another copy inserted it: read it again */
		goto out;
	}
	if (e != STORE_OK || store_json_int(doc, STORE_SESSION_GEN_FIELD, 0) >= gen)
		goto out;   /* an older or repeated event: the newer generation stands */
	json_object_set_new(doc, STORE_SESSION_GEN_FIELD, json_integer(gen));
	e = store_db_update(db, STORE_SESSION_GEN_COLL, doc, NULL);
out:
	json_decref(doc);
	return e;
}

store_err
store_session_gen_on_signedout(store_db *db, const store_event *ev)
{
	return store_db_txn_retry(db, signedout_tx, (void *)ev);
}
