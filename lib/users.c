/* users.c - the auth service's domain: accounts and credentials. */
#include "store/users.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/bus.h"
#include "store/json.h"
#include "store/password.h"
#include "store/session_gen.h"

static const char *const users_unique[] = { "emailKey", NULL };

const store_collection store_users_collections[] = {
	{ "users", users_unique, NULL },
	STORE_BUS_COLLECTIONS,
};
const size_t store_users_ncollections =
	sizeof store_users_collections / sizeof *store_users_collections;

/* Lowercase copy of email. Caller frees. */
static char *
email_key(const char *email)
{
	char *k = strdup(email);

	for (char *p = k; p != NULL && *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

static void
fill_user(const json_t *doc, store_user *out)
{
	snprintf(out->id, sizeof out->id, "%s", store_json_str(doc, "id"));
	snprintf(out->email, sizeof out->email, "%s", store_json_str(doc, "email"));
	out->iat = 0;
	out->gen = store_json_int(doc, STORE_SESSION_GEN_FIELD, 0);
}

store_err
store_users_signup(store_db *db, const char *email, const char *password,
                   store_user *out)
{
	char hash[STORE_PWHASH_LEN] = "";
	char *key = email_key(email);
	json_t *filter = NULL, *doc = NULL;
	size_t n = 0;
	store_err e = STORE_ENOMEM;

	if (key == NULL || (filter = json_pack("{s:s}", "emailKey", key)) == NULL)
		goto out;
	/* Cheap early answer; the unique index settles races. */
	if ((e = store_db_count(db, "users", filter, &n)) != STORE_OK)
		goto out;
	if (n > 0) {
		e = STORE_EDUPLICATE;
		goto out;
	}
	if ((e = store_password_hash(password, hash)) != STORE_OK)
		goto out;
	doc = json_pack("{s:s,s:s,s:s}", "email", email, "emailKey", key,
	                "passwordHash", hash);
	if (doc == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	if ((e = store_db_insert(db, "users", doc, NULL)) != STORE_OK)
		goto out;
	fill_user(doc, out);
out:
	json_decref(doc);
	json_decref(filter);
	free(key);
	return e;
}

store_err
store_users_signin(store_db *db, const char *email, const char *password,
                   store_user *out)
{
	char *key = email_key(email);
	json_t *filter = NULL, *doc = NULL;
	store_err e = STORE_ENOMEM;

	if (key == NULL || (filter = json_pack("{s:s}", "emailKey", key)) == NULL)
		goto out;
	e = store_db_find_one(db, "users", filter, &doc);
	if (e == STORE_ENOTFOUND) {
		e = store_password_verify(NULL, password);
		goto out;
	}
	if (e != STORE_OK)
		goto out;
	e = store_password_verify(store_json_str(doc, "passwordHash"), password);
	if (e == STORE_OK)
		fill_user(doc, out);
out:
	json_decref(doc);
	json_decref(filter);
	free(key);
	return e;
}

typedef struct signout_ctx {
	const store_user *user;
	const char *request_id;
	long long gen;
} signout_ctx;

/* The user's generation + 1 and its announcement, in one transaction. */
static store_err
signout_tx(store_db *db, void *arg)
{
	signout_ctx *c = arg;
	json_t *doc = NULL, *ev = NULL;
	store_err e = store_db_get(db, "users", c->user->id, &doc);

	if (e != STORE_OK)
		goto out;
	c->gen = store_json_int(doc, STORE_SESSION_GEN_FIELD, 0) + 1;
	json_object_set_new(doc, STORE_SESSION_GEN_FIELD, json_integer(c->gen));
	if ((e = store_db_update(db, "users", doc, NULL)) != STORE_OK)
		goto out;
	ev = json_pack("{s:s,s:I}", "userId", c->user->id, "gen", (json_int_t)c->gen);
	e = ev != NULL ? store_outbox_add(db, "store.user.signedout", ev, c->request_id, NULL)
	               : STORE_ENOMEM;
out:
	json_decref(ev);
	json_decref(doc);
	return e;
}

store_err
store_users_signout(store_db *db, const store_user *user, const char *request_id,
                    long long *gen)
{
	signout_ctx c = { user, request_id, 0 };
	store_err e = store_db_txn_retry(db, signout_tx, &c);

	if (e == STORE_OK && gen != NULL)
		*gen = c.gen;
	return e;
}
