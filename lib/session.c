/* session.c - the session cookie and its HS256 JWT (libjwt, alg pinned). */
#include "store/session.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/oid.h"
#include "session_impl.h"

#define TOKEN_MAX 4096

/* Decodes base64 (variant v) of at most TOKEN_MAX bytes into a new
 * NUL-terminated buffer. Caller frees. NULL when malformed. */
static char *
b64_decode(const char *in, size_t inlen, int v)
{
	size_t cap = inlen / 4 * 3 + 4, len = 0;
	char *out;

	if (inlen > TOKEN_MAX * 2)
		return NULL;
	out = malloc(cap + 1);
	if (out == NULL)
		return NULL;
	if (sodium_base642bin((unsigned char *)out, cap, in, inlen, NULL, &len,
	                      NULL, v) != 0) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

/* The algorithm is pinned before libjwt sees the token: the header must
 * say exactly HS256. */
static bool
header_is_hs256(const char *token)
{
	const char *dot = strchr(token, '.');
	char *hdr = NULL;
	json_t *h = NULL;
	int ok = 0;

	if (dot == NULL)
		goto out;
	hdr = b64_decode(token, (size_t)(dot - token),
	                 sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (hdr == NULL)
		goto out;
	h = json_loads(hdr, 0, NULL);
	ok = json_is_object(h) &&
	     json_string_value(json_object_get(h, "alg")) != NULL &&
	     strcmp(json_string_value(json_object_get(h, "alg")), "HS256") == 0;
out:
	json_decref(h);
	free(hdr);
	return ok;
}

store_err
store_jwt_sign(const char *key, const store_user *user, long ttl, char **token)
{
	jwt_t *jwt = NULL;
	time_t now = time(NULL);
	store_err e = STORE_ENOMEM;

	*token = NULL;
	if (jwt_new(&jwt) != 0)
		goto out;
	if (jwt_add_grant(jwt, "id", user->id) != 0 ||
	    jwt_add_grant(jwt, "email", user->email) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)(now + ttl)) != 0 ||
	    jwt_add_grant_int(jwt, "gen", (long)user->gen) != 0 ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)key,
	                (int)strlen(key)) != 0)
		goto out;
	*token = jwt_encode_str(jwt);
	e = *token != NULL ? STORE_OK : STORE_ENOMEM;
out:
	jwt_free(jwt);
	return e;
}

/* Reads the integer claim name: 1 when present (*v set), 0 when absent,
 * -1 when it is not an integer (libjwt's jwt_get_grant_int does not tell
 * a string or a real from an integer). */
static int
int_claim(jwt_t *jwt, const char *name, long long *v)
{
	char *text = jwt_get_grants_json(jwt, name);
	json_t *val = NULL;
	int r = -1;

	if (text == NULL)
		return 0;
	val = json_loads(text, JSON_DECODE_ANY, NULL);
	if (json_is_integer(val)) {
		*v = json_integer_value(val);
		r = 1;
	}
	json_decref(val);
	free(text);
	return r;
}

/* store_jwt_verify, also giving the token's exp. */
static store_err
jwt_check(const char *key, const char *token, time_t now, store_user *user,
          long long *expp)
{
	jwt_t *jwt = NULL;
	const char *id, *email;
	long long exp = 0, gen = 0;
	long iat;
	int n;
	store_err e = STORE_EAUTH;

	if (token == NULL || strlen(token) > TOKEN_MAX || !header_is_hs256(token))
		goto out;
	if (jwt_decode(&jwt, token, (const unsigned char *)key, (int)strlen(key)) != 0 ||
	    jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	id = jwt_get_grant(jwt, "id");
	email = jwt_get_grant(jwt, "email");
	if (!store_oid_valid(id) || email == NULL || *email == '\0' ||
	    strlen(email) > STORE_USER_EMAIL_MAX)
		goto out;
	if (int_claim(jwt, "exp", &exp) != 1 || exp <= (long long)now)
		goto out;
	if ((n = int_claim(jwt, "gen", &gen)) < 0 || (n == 1 && gen < 0))
		goto out;
	errno = 0;
	iat = jwt_get_grant_int(jwt, "iat");
	if (errno != 0)
		iat = 0;
	snprintf(user->id, sizeof user->id, "%s", id);
	snprintf(user->email, sizeof user->email, "%s", email);
	user->iat = iat;
	user->gen = gen;
	*expp = exp;
	e = STORE_OK;
out:
	jwt_free(jwt);
	return e;
}

store_err
store_jwt_verify(const char *key, const char *token, time_t now, store_user *user)
{
	long long exp;

	return jwt_check(key, token, now, user, &exp);
}

store_err
store_session_encode(const char *token, char **value)
{
	json_t *o = json_pack("{s:s}", "jwt", token);
	char *json = NULL;
	size_t len, cap;
	store_err e = STORE_ENOMEM;

	*value = NULL;
	if (o == NULL || (json = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	len = strlen(json);
	cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	*value = malloc(cap);
	if (*value == NULL)
		goto out;
	sodium_bin2base64(*value, cap, (const unsigned char *)json, len,
	                  sodium_base64_VARIANT_ORIGINAL);
	e = STORE_OK;
out:
	free(json);
	json_decref(o);
	return e;
}

/* Finds the value of cookie name in a Cookie header; *len gets its length. */
static const char *
cookie_value(const char *hdr, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *p = hdr;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			p += nl + 1;
			*len = strcspn(p, ";");
			while (*len > 0 && p[*len - 1] == ' ')
				(*len)--;
			return p;
		}
		p = strchr(p, ';');
	}
	return NULL;
}

store_err
session_cookie_verify(const char *key, const char *value, size_t len, time_t now,
                      store_user *user, long long *exp)
{
	char *json = NULL;
	json_t *o = NULL;
	store_err e = STORE_EAUTH;

	json = b64_decode(value, len, sodium_base64_VARIANT_ORIGINAL);
	if (json == NULL)
		json = b64_decode(value, len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	if (json == NULL)
		goto out;
	o = json_loads(json, 0, NULL);
	if (!json_is_object(o))
		goto out;
	e = jwt_check(key, json_string_value(json_object_get(o, "jwt")), now, user, exp);
out:
	json_decref(o);
	free(json);
	return e;
}

store_err
store_session_from_cookies(const char *key, const char *cookie_header,
                           time_t now, store_user *user)
{
	const char *v;
	size_t len = 0;
	long long exp = 0;
	store_err e;

	if (cookie_header == NULL ||
	    (v = cookie_value(cookie_header, STORE_COOKIE_NAME, &len)) == NULL ||
	    len == 0 || len > TOKEN_MAX * 2)
		return STORE_EAUTH;
	if (session_cache_get(key, v, len, now, user))
		return STORE_OK;
	e = session_cookie_verify(key, v, len, now, user, &exp);
	if (e == STORE_OK)
		session_cache_put(key, v, len, user, exp);
	return e;
}

store_err
store_session_set_cookie(const char *value, int secure, char **out)
{
	int n;

	if (value != NULL)
		n = asprintf(out, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s",
		             STORE_COOKIE_NAME, value, secure ? "; Secure" : "");
	else
		n = asprintf(out, "%s=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
		             "Max-Age=0; HttpOnly; SameSite=Lax%s", STORE_COOKIE_NAME,
		             secure ? "; Secure" : "");
	if (n < 0) {
		*out = NULL;
		return STORE_ENOMEM;
	}
	return STORE_OK;
}
