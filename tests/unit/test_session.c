/* test_session.c - session cookies and JWTs: signing, the pinned
 * algorithm, expiry, tampering, the original store's cookie format, and
 * the cache of cookies already verified. */
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "store/session.h"

static const char key[] = "0123456789abcdef0123456789abcdef-test";
static const store_user alice = { "5f1d7b2c9a8e4b3c2d1e0f10", "alice@example.com", 0 };

static char *
b64url(const char *s)
{
	size_t cap = sodium_base64_ENCODED_LEN(strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(cap);
	sodium_bin2base64(out, cap, (const unsigned char *)s, strlen(s),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* A token made by hand: header and payload JSON, HMAC-SHA256 with k, or no
 * signature when k is NULL. Caller frees. */
static char *
hand_token(const char *header, const char *payload, const char *k)
{
	char *h = b64url(header), *p = b64url(payload), *tok = NULL, *sig = NULL;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	char signing[2048];

	snprintf(signing, sizeof signing, "%s.%s", h, p);
	if (k != NULL) {
		crypto_auth_hmacsha256_init(&st, (const unsigned char *)k, strlen(k));
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
		crypto_auth_hmacsha256_final(&st, mac);
		size_t cap = sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		sig = malloc(cap);
		sodium_bin2base64(sig, cap, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	}
	if (asprintf(&tok, "%s.%s", signing, sig != NULL ? sig : "") < 0)
		tok = NULL;
	free(h);
	free(p);
	free(sig);
	return tok;
}

/* "session=<cookie value of token>". Caller frees. */
static char *
cookie_header_of(const char *token)
{
	char *value = NULL, *hdr = NULL;

	if (store_session_encode(token, &value) != STORE_OK)
		return NULL;
	if (asprintf(&hdr, "session=%s", value) < 0)
		hdr = NULL;
	free(value);
	return hdr;
}

/* The cache of verified cookies: a hit answers what verification did, and
 * never past the token's exp, with another key, or for another cookie. */
static void
check_cache(void)
{
	store_user bob = alice, u, v;
	time_t na, nb;
	char *ta = NULL, *tb = NULL, *ca = NULL, *cb = NULL, *bad = NULL;

	strcpy(bob.id, "5f1d7b2c9a8e4b3c2d1e0f11");
	strcpy(bob.email, "bob@example.com");
	bob.gen = 3;
	if (store_jwt_sign(key, &alice, 3600, &ta) != STORE_OK ||
	    store_jwt_sign(key, &bob, 60, &tb) != STORE_OK ||
	    (ca = cookie_header_of(ta)) == NULL || (cb = cookie_header_of(tb)) == NULL) {
		CHECK(0, "cache: tokens and cookies are made");
		goto out;
	}
	/* Each token's own iat is its time base: signing reads the clock,
	 * which may be seconds past the test's start (under the sanitizers). */
	if (store_jwt_verify(key, ta, time(NULL), &u) != STORE_OK ||
	    store_jwt_verify(key, tb, time(NULL), &v) != STORE_OK) {
		CHECK(0, "cache: the tokens verify");
		goto out;
	}
	na = (time_t)u.iat;
	nb = (time_t)v.iat;
	CHECK(store_session_from_cookies(key, ca, na, &u) == STORE_OK &&
	      store_session_from_cookies(key, ca, na + 1, &v) == STORE_OK &&
	      strcmp(v.id, alice.id) == 0 && strcmp(v.email, alice.email) == 0 &&
	      v.iat == u.iat && v.gen == 0,
	      "cache: a cookie verified before answers the same user");
	for (int i = 0; i < 3; i++) {
		CHECK(store_session_from_cookies(key, cb, nb, &u) == STORE_OK &&
		      strcmp(u.id, bob.id) == 0 && strcmp(u.email, bob.email) == 0 &&
		      u.gen == 3 &&
		      store_session_from_cookies(key, ca, na, &v) == STORE_OK &&
		      strcmp(v.id, alice.id) == 0,
		      "cache: two cached cookies each answer their own user (round %d)", i);
	}
	CHECK(store_session_from_cookies(key, cb, nb + 60, &u) == STORE_EAUTH,
	      "cache: a cached token at its exp is refused");
	CHECK(store_session_from_cookies(key, ca, na + 3601, &u) == STORE_EAUTH,
	      "cache: a cached token past its exp is refused");
	CHECK(store_session_from_cookies(key, ca, na + 2, &u) == STORE_OK &&
	      strcmp(u.id, alice.id) == 0,
	      "cache: before its exp the same cookie verifies again");
	CHECK(store_session_from_cookies("another-key-another-key-another-key!", ca, na, &u) ==
	      STORE_EAUTH, "cache: a cookie cached under one key is refused with another");
	bad = strdup(ca);
	if (bad != NULL) {
		/* A character of the token's payload inside the base64 value. */
		char *p = bad + strlen("session=") + 20;
		*p = *p == 'A' ? 'B' : 'A';
	}
	CHECK(bad != NULL && store_session_from_cookies(key, bad, na, &u) == STORE_EAUTH,
	      "cache: a tampered copy of a cached cookie is refused");
	CHECK(store_session_from_cookies(key, ca, na, &u) == STORE_OK,
	      "cache: the cookie itself still verifies after its tampered copy");
out:
	free(bad);
	free(ca);
	free(cb);
	free(ta);
	free(tb);
}

static store_err
verify_cookie_of(const char *token, store_user *u)
{
	char *value = NULL, *hdr = NULL;
	store_err e = store_session_encode(token, &value);
	if (e != STORE_OK)
		return e;
	if (asprintf(&hdr, "theme=dark; session=%s; other=1", value) < 0)
		return STORE_ENOMEM;
	e = store_session_from_cookies(key, hdr, time(NULL), u);
	free(hdr);
	free(value);
	return e;
}

int
main(void)
{
	store_user u;
	char *tok = NULL, *value = NULL, *cookie = NULL, *bad = NULL;
	char payload[512];
	time_t now = time(NULL), signed_at;

	if (sodium_init() < 0)
		return 1;

	CHECK(store_jwt_sign(key, &alice, 3600, &tok) == STORE_OK, "a token is signed");
	CHECK(store_jwt_verify(key, tok, now, &u) == STORE_OK, "its own token verifies");
	CHECK(strcmp(u.id, alice.id) == 0 && strcmp(u.email, alice.email) == 0,
	      "the token carries id and email");
	CHECK(u.iat >= now - 5 && u.iat <= now + 5, "the token carries iat");
	signed_at = (time_t)u.iat;        /* the clock may have ticked since now */
	CHECK(store_jwt_verify("another-key-another-key-another-key!", tok, now, &u) == STORE_EAUTH,
	      "a token signed with another key is refused");
	CHECK(store_jwt_verify(key, tok, signed_at + 3601, &u) == STORE_EAUTH,
	      "a token past its exp is refused");

	/* The cookie: base64 of {"jwt":...}, as cookie-session wrote it. */
	CHECK(store_session_encode(tok, &value) == STORE_OK, "the cookie value is made");
	{
		unsigned char raw[4096];
		size_t len = 0;
		json_t *o = NULL;
		if (sodium_base642bin(raw, sizeof raw - 1, value, strlen(value), NULL, &len, NULL,
		                      sodium_base64_VARIANT_ORIGINAL) == 0) {
			raw[len] = 0;
			o = json_loads((char *)raw, 0, NULL);
		}
		CHECK(o != NULL && json_object_size(o) == 1 &&
		      strcmp(json_string_value(json_object_get(o, "jwt")), tok) == 0,
		      "the cookie value is standard base64 of {\"jwt\":token}");
		json_decref(o);
	}
	CHECK(verify_cookie_of(tok, &u) == STORE_OK, "the session cookie is found among others");
	CHECK(store_session_from_cookies(key, NULL, now, &u) == STORE_EAUTH,
	      "no cookie header means signed out");
	CHECK(store_session_from_cookies(key, "sessionx=abc; xsession=def", now, &u) == STORE_EAUTH,
	      "cookies with similar names are not the session");
	CHECK(store_session_from_cookies(key, "session=!!!notbase64", now, &u) == STORE_EAUTH,
	      "a cookie that is not base64 is refused");
	CHECK(store_session_from_cookies(key, "session=WzEsMiwzXQ==", now, &u) == STORE_EAUTH,
	      "a cookie holding JSON that is not an object is refused");

	/* Tampering: flip a payload character. */
	bad = strdup(tok);
	{
		char *dot = strchr(bad, '.');
		dot[3] = dot[3] == 'A' ? 'B' : 'A';
	}
	CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH, "a tampered token is refused");
	free(bad);

	/* The pinned algorithm. */
	snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"email\":\"%s\",\"iat\":%ld}",
	         alice.id, alice.email, (long)now);
	bad = hand_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, NULL);
	CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH, "alg none is refused");
	free(bad);
	bad = hand_token("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, key);
	CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH, "alg HS512 is refused");
	free(bad);
	{
		jwt_t *j = NULL;
		jwt_new(&j);
		jwt_add_grant(j, "id", alice.id);
		jwt_add_grant(j, "email", alice.email);
		jwt_set_alg(j, JWT_ALG_HS384, (const unsigned char *)key, (int)strlen(key));
		bad = jwt_encode_str(j);
		jwt_free(j);
		CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH,
		      "a well-signed HS384 token is refused (algorithm pinned)");
		free(bad);
	}
	bad = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, key);
	CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH,
	      "a token without exp, as jsonwebtoken signs it by default, is refused");
	free(bad);
	snprintf(payload, sizeof payload,
	         "{\"id\":\"%s\",\"email\":\"%s\",\"iat\":%ld,\"exp\":\"%ld\"}",
	         alice.id, alice.email, (long)now, (long)now + 3600);
	bad = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, key);
	CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH, "a token whose exp is a string is refused");
	free(bad);

	/* The session generation (gen): absent counts as 0; it must be an
	 * integer >= 0. */
	snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"email\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
	         alice.id, alice.email, (long)now, (long)now + 3600);
	bad = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, key);
	u.gen = 99;
	CHECK(verify_cookie_of(bad, &u) == STORE_OK && u.iat == (long long)now && u.gen == 0,
	      "a token with exp and without gen is accepted, as generation 0");
	free(bad);
	{
		static const char *const gens[] = { "-1", "\"3\"", "1.5", "null" };
		for (size_t i = 0; i < sizeof gens / sizeof *gens; i++) {
			snprintf(payload, sizeof payload,
			         "{\"id\":\"%s\",\"email\":\"%s\",\"exp\":%ld,\"gen\":%s}",
			         alice.id, alice.email, (long)now + 3600, gens[i]);
			bad = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, key);
			CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH, "a token with gen %s is refused",
			      gens[i]);
			free(bad);
		}
	}
	{
		store_user bob = alice;
		char *t = NULL;
		bob.gen = 7;
		CHECK(store_jwt_sign(key, &bob, 60, &t) == STORE_OK &&
		      store_jwt_verify(key, t, now, &u) == STORE_OK && u.gen == 7,
		      "the signed token carries the user's generation");
		free(t);
	}
	snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"email\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
	         alice.id, alice.email, (long)now - 100, (long)now - 1);
	bad = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, key);
	CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH, "an expired token is refused");
	free(bad);
	bad = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	                 "{\"id\":\"not-an-id\",\"email\":\"a@b.co\"}", key);
	CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH, "a token whose id is not an ObjectId is refused");
	free(bad);
	bad = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	                 "{\"id\":\"5f1d7b2c9a8e4b3c2d1e0f10\"}", key);
	CHECK(verify_cookie_of(bad, &u) == STORE_EAUTH, "a token without email is refused");
	free(bad);

	/* Set-Cookie flags. */
	CHECK(store_session_set_cookie(value, 0, &cookie) == STORE_OK &&
	      strstr(cookie, "HttpOnly") && strstr(cookie, "SameSite=Lax") &&
	      strstr(cookie, "Path=/") && !strstr(cookie, "Secure") &&
	      strncmp(cookie, "session=", 8) == 0,
	      "the cookie is HttpOnly, SameSite=Lax, Path=/");
	free(cookie);
	CHECK(store_session_set_cookie(value, 1, &cookie) == STORE_OK && strstr(cookie, "; Secure"),
	      "the cookie is Secure when the deployment says TLS");
	free(cookie);
	CHECK(store_session_set_cookie(NULL, 0, &cookie) == STORE_OK &&
	      strncmp(cookie, "session=;", 9) == 0 && strstr(cookie, "Max-Age=0"),
	      "sign-out clears the cookie");
	free(cookie);

	check_cache();

	free(value);
	free(tok);
	return CHECK_DONE();
}
