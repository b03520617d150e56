/* test_session_gen.c - signing out everywhere, on a real SQLite database:
 * the replica keeps the highest generation (older and repeated events
 * change nothing), the check refuses tokens of an older generation, the
 * auth service's sign-out raises the generation and announces it in the
 * outbox, and the event catalogue knows store.user.signedout. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store/bus.h"
#include "store/cart.h"
#include "store/password.h"
#include "store/session_gen.h"
#include "store/users.h"

static const char *U = "65b000000000000000000002";

static store_err
signedout(store_db *db, const char *payload)
{
	json_t *p = json_loads(payload, 0, NULL);
	store_event ev = { "store.user.signedout", "65e000000000000000000009", NULL,
	                   "cart-user-signedout", p, 1, 1 };
	store_err e = store_session_gen_on_signedout(db, &ev);

	json_decref(p);
	return e;
}

static store_err
check_gen(store_db *db, const char *coll, const char *id, long long gen)
{
	store_user u = { "", "u@example.com", 0, gen };

	snprintf(u.id, sizeof u.id, "%s", id);
	return store_session_gen_check(db, coll, &u);
}

static store_db *
open_db(const char *dir, const char *name, const store_collection *colls, size_t n)
{
	char url[256], msg[256];
	store_db *db = NULL;

	snprintf(url, sizeof url, "sqlite:%s/%s.db", dir, name);
	if (store_db_open(url, colls, n, &db, msg, sizeof msg) != STORE_OK)
		printf("# open %s: %s\n", name, msg);
	return db;
}

int
main(void)
{
	char dir[] = "/tmp/store-test-sessgen-XXXXXX", cmd[300], why[256];
	store_db *db = NULL, *auth = NULL;
	store_user user;
	long long gen = 0;
	size_t n = 0;

	if (mkdtemp(dir) == NULL || store_password_init() != STORE_OK)
		return 1;
	db = open_db(dir, "cart", store_cart_collections, store_cart_ncollections);
	auth = open_db(dir, "auth", store_users_collections, store_users_ncollections);
	if (db == NULL || auth == NULL) {
		printf("not ok 1 - open the databases\n");
		return 1;
	}

	/* The replica (a service that checks sessions). */
	CHECK(check_gen(db, STORE_SESSION_GEN_COLL, U, 0) == STORE_OK,
	      "a user never signed out: a generation-0 token stands");
	CHECK(signedout(db, "{\"userId\":\"65b000000000000000000002\",\"gen\":2}") == STORE_OK,
	      "signedout gen 2 is applied");
	CHECK(check_gen(db, STORE_SESSION_GEN_COLL, U, 0) == STORE_EAUTH &&
	      check_gen(db, STORE_SESSION_GEN_COLL, U, 1) == STORE_EAUTH,
	      "tokens of generations 0 and 1 are refused");
	CHECK(check_gen(db, STORE_SESSION_GEN_COLL, U, 2) == STORE_OK &&
	      check_gen(db, STORE_SESSION_GEN_COLL, U, 3) == STORE_OK,
	      "tokens of generation 2 (signed in after) and above stand");
	CHECK(signedout(db, "{\"userId\":\"65b000000000000000000002\",\"gen\":1}") == STORE_OK &&
	      signedout(db, "{\"userId\":\"65b000000000000000000002\",\"gen\":2}") == STORE_OK,
	      "an older and a repeated event are taken");
	CHECK(check_gen(db, STORE_SESSION_GEN_COLL, U, 1) == STORE_EAUTH,
	      "and change nothing: generation 1 stays refused");
	CHECK(check_gen(db, STORE_SESSION_GEN_COLL, "65b0000000000000000000ff", 0) == STORE_OK,
	      "another user is not affected");
	CHECK(signedout(db, "{\"userId\":\"nope\",\"gen\":1}") == STORE_EINVAL &&
	      signedout(db, "{\"userId\":\"65b000000000000000000002\"}") == STORE_EINVAL &&
	      signedout(db, "{\"userId\":\"65b000000000000000000002\",\"gen\":-1}") == STORE_EINVAL,
	      "a malformed payload is STORE_EINVAL");

	/* The auth service: its users carry the generation. */
	CHECK(store_users_signup(auth, "Sam@example.com", "Pw_secret1", &user) == STORE_OK &&
	      user.gen == 0, "a new user is at generation 0");
	CHECK(store_users_signout(auth, &user, "req-1", &gen) == STORE_OK && gen == 1,
	      "sign-out raises the generation to 1");
	CHECK(check_gen(auth, "users", user.id, 0) == STORE_EAUTH &&
	      check_gen(auth, "users", user.id, 1) == STORE_OK,
	      "auth refuses generation 0 at once, takes generation 1");
	CHECK(store_users_signout(auth, &user, NULL, &gen) == STORE_OK && gen == 2,
	      "a second sign-out raises it to 2");
	CHECK(store_users_signin(auth, "sam@example.com", "Pw_secret1", &user) == STORE_OK &&
	      user.gen == 2, "sign-in gives the current generation, for the new token");
	{
		json_t *f = json_pack("{s:s}", "subject", "store.user.signedout"), *rows = NULL;
		store_find_opts o = { NULL, 0, 0, 0 };
		CHECK(store_db_find(auth, "outbox", f, &o, &rows) == STORE_OK &&
		      json_array_size(rows) == 2, "each sign-out put store.user.signedout in the outbox");
		json_decref(rows);
		json_decref(f);
	}
	user.gen = 0;
	snprintf(user.id, sizeof user.id, "65b0000000000000000000aa");
	CHECK(store_users_signout(auth, &user, NULL, NULL) == STORE_ENOTFOUND &&
	      store_db_count(auth, "outbox", NULL, &n) == STORE_OK && n == 2,
	      "signing out a user auth does not have is STORE_ENOTFOUND and announces nothing");

	/* The catalogue. */
	{
		json_t *ok = json_pack("{s:s,s:i}", "userId", U, "gen", 3);
		json_t *bad = json_pack("{s:s,s:s}", "userId", U, "gen", "3");
		CHECK(store_event_check("store.user.signedout", ok, why, sizeof why) == STORE_OK,
		      "the catalogue takes {userId, gen}");
		CHECK(store_event_check("store.user.signedout", bad, why, sizeof why) == STORE_EINVAL &&
		      strstr(why, "gen") != NULL, "and refuses a gen that is not an integer: %s", why);
		json_decref(ok);
		json_decref(bad);
	}

	store_db_free(db);
	store_db_free(auth);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return CHECK_DONE();
}
