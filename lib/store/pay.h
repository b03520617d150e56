/* pay.h - card providers: Stripe over libcurl, and a sandbox.
 *
 * One interface, two implementations chosen by STORE_PAYMENTS:
 *   stripe   POST /v1/charges at STRIPE_API_BASE, form-encoded, the secret
 *            key STRIPE_KEY as HTTP Basic user, Idempotency-Key on every
 *            charge, Stripe-Version pinned, connect and total timeouts.
 *   sandbox  the embedded default when no Stripe key is set: Stripe's test
 *            tokens and test card numbers with Stripe's outcomes and
 *            messages, idempotency keys honoured the same way, charges
 *            (ch_... ids) recorded in the "charges" collection of the
 *            database given to store_pay_open.
 * A card number is never stored or logged: only its last four digits. */
#ifndef STORE_PAY_H
#define STORE_PAY_H

#include <stddef.h>
#include "store/db.h"
#include "store/err.h"

#define STORE_STRIPE_VERSION "2022-11-15"

/* Settings, from the environment:
 *   STORE_PAYMENTS              stripe or sandbox (stripe when STRIPE_KEY
 *                               is set, else sandbox)
 *   STRIPE_KEY                  secret key (required for stripe)
 *   STRIPE_API_BASE             https://api.stripe.com
 *   STORE_CURRENCY              three-letter currency (usd)
 *   STRIPE_CONNECT_TIMEOUT_MS   5000
 *   STRIPE_TIMEOUT_MS           30000 */
typedef struct store_pay_config {
	const char *provider;
	const char *key;
	const char *api_base;
	const char *currency;
	long connect_timeout_ms;
	long timeout_ms;
} store_pay_config;

store_err store_pay_config_load(store_pay_config *cfg, char *err, size_t errlen);

/* The sandbox's collection, for the schema of the database it records in. */
extern const store_collection store_pay_collections[];
extern const size_t store_pay_ncollections;
#define STORE_PAY_COLLECTIONS \
	{ "charges", (const char *const[]){ "idempotencyKey", NULL }, NULL }

typedef struct store_pay store_pay;

/* Opens the configured provider. db is where the sandbox records charges
 * (not used by stripe; may be NULL then). Caller frees with store_pay_free. */
store_err store_pay_open(const store_pay_config *cfg, store_db *db, store_pay **out,
                         char *err, size_t errlen);
void store_pay_free(store_pay *pay);

/* "stripe" or "sandbox". */
const char *store_pay_name(const store_pay *pay);

/* The configured currency ("usd"). */
const char *store_pay_currency(const store_pay *pay);

typedef struct store_charge_req {
	long long amount;            /* cents, > 0 */
	const char *currency;        /* NULL: the configured one */
	const char *token;           /* "tok_visa"; or NULL with card below */
	const char *card_number;     /* raw test card (sandbox; stripe test mode) */
	int exp_month, exp_year;
	const char *cvc;
	const char *idempotency_key; /* required, at most 255 characters */
	const char *description;     /* may be NULL */
	const char *user_id;         /* metadata[userId], may be NULL */
} store_charge_req;

typedef struct store_charge {
	char id[64];                 /* ch_... */
	long long amount;
	char currency[8];
	char status[16];             /* "succeeded" */
	int replayed;                /* answered from an earlier request */
	/* When declined or refused: */
	char code[64];               /* card_declined, expired_card, ... */
	char decline_code[64];       /* generic_decline, insufficient_funds, ... */
	char message[256];           /* the provider's message, for the buyer */
	char param[32];              /* the parameter at fault, if any */
} store_charge;

/* Charges a card. STORE_OK: a charge was made (or replayed) and *out says
 * which. STORE_EDECLINED: a card error (402); out->message is the
 * provider's. STORE_EINVAL: the provider refused the request (an unknown
 * token, an idempotency key reused with other parameters); out->message
 * says why. STORE_EUNAVAIL: the provider could not be reached, answered
 * 5xx or rate-limited; nothing is known to be charged and retrying with
 * the same idempotency key is safe. */
store_err store_pay_charge(store_pay *pay, const store_charge_req *req, store_charge *out);

#endif
