/* password.c - Argon2id password hashing through libsodium. */
#include "store/password.h"

#include <sodium.h>
#include <string.h>

/* Hash of a random password, made once, checked against when the user is
 * unknown so that both answers cost the same. */
static char dummy_hash[STORE_PWHASH_LEN];

store_err
store_password_init(void)
{
	unsigned char noise[16];

	if (sodium_init() < 0)
		return STORE_EINTERNAL;
	if (dummy_hash[0] != '\0')
		return STORE_OK;
	randombytes_buf(noise, sizeof noise);
	if (crypto_pwhash_str_alg(dummy_hash, (const char *)noise, sizeof noise,
	                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                          crypto_pwhash_MEMLIMIT_INTERACTIVE,
	                          crypto_pwhash_ALG_ARGON2ID13) != 0)
		return STORE_ENOMEM;
	return STORE_OK;
}

store_err
store_password_hash(const char *password, char out[STORE_PWHASH_LEN])
{
	if (crypto_pwhash_str_alg(out, password, strlen(password),
	                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                          crypto_pwhash_MEMLIMIT_INTERACTIVE,
	                          crypto_pwhash_ALG_ARGON2ID13) != 0)
		return STORE_ENOMEM;
	return STORE_OK;
}

store_err
store_password_verify(const char *hash, const char *password)
{
	if (hash == NULL) {
		/* Same work as a real check; the answer is no either way. */
		int spent = crypto_pwhash_str_verify(dummy_hash, password, strlen(password));
		(void)spent;
		return STORE_EAUTH;
	}
	if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
		return STORE_EAUTH;
	return STORE_OK;
}
