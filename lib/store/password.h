/* password.h - password hashing with libsodium's Argon2id. */
#ifndef STORE_PASSWORD_H
#define STORE_PASSWORD_H

#include <stddef.h>
#include "store/err.h"

/* Size of an encoded hash, NUL included. */
#define STORE_PWHASH_LEN 128

/* Initialises libsodium; call once before any other function here. */
store_err store_password_init(void);

/* Hashes password (Argon2id, interactive limits, random salt) into out as
 * libsodium's encoded string. */
store_err store_password_hash(const char *password, char out[STORE_PWHASH_LEN]);

/* STORE_OK when password matches hash, STORE_EAUTH otherwise. With hash
 * NULL it still spends the time of a real check (against a fixed dummy
 * hash) and answers STORE_EAUTH, so an unknown user is not told apart from
 * a wrong password by timing. */
store_err store_password_verify(const char *hash, const char *password);

#endif
