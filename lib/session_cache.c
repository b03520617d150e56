/* session_cache.c - the session cookies already verified, so a signed-in
 * visitor's requests do not decode and check the same HS256 token again
 * and again. The key is a BLAKE2b digest of the signing key and the whole
 * cookie value: another key, or any other byte of the cookie, misses and
 * is verified in full. A hit is answered only while the token's exp is
 * after now. The session generation (sign out everywhere) is not the
 * cache's: the service checks it on every request after this. */
#include "session_impl.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

typedef struct slot {
	unsigned char digest[crypto_generichash_BYTES];
	long long exp;            /* 0: empty */
	store_user user;
} slot;

static slot slots[SESSION_CACHE_SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

/* The digest of key and value: the key's length first, so no key and
 * value pair reads as another. */
static void
digest_of(const char *key, const char *value, size_t len,
          unsigned char out[crypto_generichash_BYTES])
{
	crypto_generichash_state st;
	uint64_t klen = strlen(key);

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)&klen, sizeof klen);
	crypto_generichash_update(&st, (const unsigned char *)key, klen);
	crypto_generichash_update(&st, (const unsigned char *)value, len);
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

static slot *
slot_of(const unsigned char digest[crypto_generichash_BYTES])
{
	return &slots[digest[0] % SESSION_CACHE_SLOTS];
}

bool
session_cache_get(const char *key, const char *value, size_t len, time_t now,
                  store_user *user)
{
	unsigned char d[crypto_generichash_BYTES];
	slot *s;
	bool hit = false;

	digest_of(key, value, len, d);
	s = slot_of(d);
	pthread_mutex_lock(&slots_lock);
	if (s->exp != 0 && sodium_memcmp(s->digest, d, sizeof d) == 0) {
		if (s->exp > (long long)now) {
			*user = s->user;
			hit = true;
		} else {
			s->exp = 0;       /* expired: verified again, and refused */
		}
	}
	pthread_mutex_unlock(&slots_lock);
	return hit;
}

void
session_cache_put(const char *key, const char *value, size_t len,
                  const store_user *user, long long exp)
{
	unsigned char d[crypto_generichash_BYTES];
	slot *s;

	if (exp <= 0)
		return;
	digest_of(key, value, len, d);
	s = slot_of(d);
	pthread_mutex_lock(&slots_lock);
	memcpy(s->digest, d, sizeof d);
	s->exp = exp;
	s->user = *user;
	pthread_mutex_unlock(&slots_lock);
}
