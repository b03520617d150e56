/* fuzz_session - the session cookie and its JWT (lib/session.c): the
 * Cookie header, the base64 cookie value, the pinned-algorithm check of
 * the token's header, and the claims.
 *
 * Input: a first byte choosing what the rest is, then
 *   'c'  a Cookie header, as the browser sends it;
 *   't'  a token, verified as it is;
 *   's'  a JOSE header (JSON), a newline, then claims (JSON): the target
 *        signs them with the service's key (HS256, whatever the header
 *        says), wraps the token in a cookie and verifies that, so the
 *        claims are read past the signature check.
 * Any other first byte: as 'c'. A Cookie header also goes through the web
 * front's cookie reader (web_cookie_get: its csrf cookie). */
#include "fuzz.h"

#include <sodium.h>
#include <time.h>

#include "store/session.h"
#include "web_impl.h"

static const char key[] = "fuzz-key-fuzz-key-fuzz-key-fuzz-key!";
#define NOW ((time_t)1796000000)   /* 2026-11-30, fixed: runs repeat */

/* base64url (no padding) of data[0..len) appended to out at *at. */
static void
b64url(char *out, size_t *at, const uint8_t *data, size_t len)
{
	sodium_bin2base64(out + *at, sodium_base64_ENCODED_LEN(len,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING), data, len,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*at += strlen(out + *at);
}

/* A token of header and claims, signed with key by HMAC-SHA256; caller
 * frees. */
static char *
sign(const uint8_t *hdr, size_t hlen, const uint8_t *claims, size_t clen)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	size_t cap = sodium_base64_ENCODED_LEN(hlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
	             sodium_base64_ENCODED_LEN(clen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
	             sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 2;
	char *tok = malloc(cap);
	size_t at = 0;
	crypto_auth_hmacsha256_state st;

	if (tok == NULL)
		return NULL;
	b64url(tok, &at, hdr, hlen);
	tok[at++] = '.';
	b64url(tok, &at, claims, clen);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, at);
	crypto_auth_hmacsha256_final(&st, mac);
	tok[at++] = '.';
	b64url(tok, &at, mac, sizeof mac);
	return tok;
}

/* A signed-in user has what the services rely on. */
static void
check_user(store_err e, const store_user *u)
{
	if (e != STORE_OK)
		return;
	if (strlen(u->id) != 24 || u->email[0] == '\0')
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return sodium_init() < 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = NULL, *tok = NULL, *value = NULL, *cookie = NULL;
	store_user u;
	const uint8_t *claims;
	size_t clen;

	if (size == 0)
		return 0;
	switch (data[0]) {
	case 't':
		if ((s = fuzz_str(data + 1, size - 1)) != NULL)
			check_user(store_jwt_verify(key, s, NOW, &u), &u);
		break;
	case 's':
		if (!fuzz_split(data + 1, size - 1, '\n', &s, &claims, &clen))
			break;
		if ((tok = sign((const uint8_t *)s, strlen(s), claims, clen)) == NULL)
			break;
		check_user(store_jwt_verify(key, tok, NOW, &u), &u);
		if (store_session_encode(tok, &value) != STORE_OK)
			break;
		if ((cookie = malloc(strlen(value) + 32)) == NULL)
			break;
		sprintf(cookie, "theme=dark; session=%s", value);
		check_user(store_session_from_cookies(key, cookie, NOW, &u), &u);
		break;
	default:
		if ((s = fuzz_str(data + 1, size - 1)) == NULL)
			break;
		check_user(store_session_from_cookies(key, s, NOW, &u), &u);
		{
			char csrf[33];

			if (web_cookie_get(s, "csrf", csrf, sizeof csrf) &&
			    strlen(csrf) >= sizeof csrf)
				abort();
		}
		break;
	}
	free(cookie);
	free(value);
	free(tok);
	free(s);
	return 0;
}
