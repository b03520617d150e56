/* ctl_charge.c - storectl card-charge: one charge through the configured
 * provider, as store-payments makes them. A card number is never printed
 * or logged: only its last four digits. */
#include "ctl_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/config.h"
#include "store/db.h"
#include "store/json.h"
#include "store/oid.h"
#include "store/pay.h"
#include "store/payments.h"

#define CARD_MAX 32
#define KEY_MAX  255

const char ctl_help_card_charge[] =
	"usage: storectl card-charge --amount AMOUNT (--token TOKEN |\n"
	"                            --card NUMBER --exp MM/YY [--cvc CVC])\n"
	"                            [--currency CUR] [--idempotency-key KEY]\n"
	"                            [--description TEXT]\n"
	"\n"
	"Charges a card through the configured provider, as store-payments does:\n"
	"Stripe (STORE_PAYMENTS=stripe, STRIPE_KEY), or the sandbox, which takes\n"
	"Stripe's test tokens and test card numbers with Stripe's outcomes and\n"
	"records its charges in STORE_DB, the payments database. Prints the charge:\n"
	"{id, status, amount, currency, provider, idempotency_key, replayed, last4}.\n"
	"A decline prints it with status \"failed\", code, decline_code and message,\n"
	"says the provider's message on stderr and exits 1. The card number is never\n"
	"printed nor logged: only its last four digits.\n"
	"\n"
	"options:\n"
	"  --amount AMOUNT         what to charge: 12.50 (above 0, at most two\n"
	"                          decimals, at most 1000000)\n"
	"  --token TOKEN           a card token: tok_visa, tok_chargeDeclined, ...\n"
	"  --card NUMBER           a test card number instead (- reads it from stdin,\n"
	"                          out of sight of ps); spaces and dashes are ignored\n"
	"  --exp MM/YY             its expiry (MM/YYYY too); required with --card\n"
	"  --cvc CVC               its security code\n"
	"  --currency CUR          three letters (STORE_CURRENCY, usd)\n"
	"  --idempotency-key KEY   the charge's idempotency key (default: a new one,\n"
	"                          printed); the same key and parameters again answer\n"
	"                          the first result (\"replayed\": true), with other\n"
	"                          parameters they are refused\n"
	"  --description TEXT      the charge's description\n"
	"\n"
	"sandbox outcomes: tok_visa, tok_mastercard, tok_amex, 4242424242424242,\n"
	"5555555555554444 succeed; tok_chargeDeclined, 4000000000000002 card_declined\n"
	"(generic_decline); tok_chargeDeclinedInsufficientFunds, 4000000000009995\n"
	"insufficient_funds; tok_chargeDeclinedExpiredCard, 4000000000000069\n"
	"expired_card; tok_chargeDeclinedProcessingError, 4000000000000119\n"
	"processing_error; tok_chargeDeclinedIncorrectCvc, 4000000000000127\n"
	"incorrect_cvc.\n"
	"\n"
	"environment: STORE_PAYMENTS, STRIPE_KEY, STRIPE_API_BASE, STORE_CURRENCY,\n"
	"STRIPE_CONNECT_TIMEOUT_MS, STRIPE_TIMEOUT_MS, and STORE_DB for the sandbox,\n"
	"as store-payments(8).\n"
	"\n"
	"exit status: 0 charged, 1 declined, 64 usage, 65 refused by the provider\n"
	"(an unknown token, a key reused with other parameters), 69 the provider or\n"
	"the database unavailable, 78 configuration.\n";

/* Reads a card number from stdin (one line) into out. */
static int
card_from_stdin(char *out, size_t len)
{
	char line[128];

	if (fgets(line, sizeof line, stdin) == NULL)
		return -1;
	snprintf(out, len, "%s", line);
	explicit_bzero(line, sizeof line);
	return 0;
}

/* Keeps the digits of in (spaces and dashes dropped); -1 on anything else. */
static int
card_digits(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in != '\0' && *in != '\n' && *in != '\r'; in++) {
		if (*in == ' ' || *in == '-')
			continue;
		if (!isdigit((unsigned char)*in) || n + 1 >= len)
			return -1;
		out[n++] = *in;
	}
	out[n] = '\0';
	return n >= 12 && n <= 19 ? 0 : -1;
}

/* "MM/YY" or "MM/YYYY". */
static int
expiry(const char *s, int *month, int *year)
{
	char *end = NULL;
	long m, y;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	m = strtol(s, &end, 10);
	if (*end != '/' || m < 1 || m > 12 || !isdigit((unsigned char)end[1]))
		return -1;
	s = end + 1;
	y = strtol(s, &end, 10);
	if (*end != '\0' || (end - s != 2 && end - s != 4))
		return -1;
	*month = (int)m;
	*year = (int)(end - s == 2 ? 2000 + y : y);
	return 0;
}

static bool
key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)k[i]))
			return false;
	return true;
}

/* Opens the provider (and the database, for the sandbox); 0 or the status. */
static int
provider_open(ctl *c, store_db **db, store_pay **pay)
{
	const char *url = NULL;
	store_pay_config pcfg;
	char msg[512] = "";
	store_err e;
	const store_setting dbset[] = {
		{ "STORE_DB", STORE_SETTING_STR, NULL, 0, 0, &url, NULL },
	};

	*db = NULL;
	*pay = NULL;
	if (store_pay_config_load(&pcfg, msg, sizeof msg) != STORE_OK)
		return ctl_fail(c, CTL_CONFIG, "%s", msg);
	if (strcmp(pcfg.provider, "sandbox") == 0) {
		if (store_config_load(dbset, 1, msg, sizeof msg) != STORE_OK)
			return ctl_fail(c, CTL_CONFIG, "%s: the sandbox records its charges in the "
			                "payments database", msg);
		e = store_db_open(url, store_payments_collections, store_payments_ncollections,
		                  db, msg, sizeof msg);
		if (e != STORE_OK)
			return ctl_fail(c, e == STORE_ECONFIG ? CTL_CONFIG : CTL_UNAVAILABLE,
			                "cannot open the payments database: %s", msg);
	}
	if ((e = store_pay_open(&pcfg, *db, pay, msg, sizeof msg)) != STORE_OK) {
		store_db_free(*db);
		*db = NULL;
		return ctl_fail(c, e == STORE_ECONFIG ? CTL_CONFIG : ctl_status(e),
		                "cannot open the card provider: %s", msg);
	}
	return 0;
}

int
cmd_card_charge(ctl *c, int argc, char **argv)
{
	const char *amount = NULL, *currency = NULL, *token = NULL, *card = NULL;
	const char *exp = NULL, *cvc = NULL, *key = NULL, *desc = NULL;
	char number[CARD_MAX] = "", raw[128] = "", cur[4] = "", newkey[40], *pos[1];
	store_charge_req req = { 0 };
	store_charge ch;
	store_db *db = NULL;
	store_pay *pay = NULL;
	json_t *row;
	long long cents;
	store_err e;
	int npos, rc;
	const ctl_opt opts[] = {
		{ "amount", &amount, NULL }, { "currency", &currency, NULL },
		{ "token", &token, NULL }, { "card", &card, NULL }, { "exp", &exp, NULL },
		{ "cvc", &cvc, NULL }, { "idempotency-key", &key, NULL },
		{ "description", &desc, NULL },
	};

	if ((rc = ctl_parse(c, opts, sizeof opts / sizeof *opts, argc, argv, pos, &npos, 0,
	                    0)) != 0)
		return rc;
	if (amount == NULL)
		return ctl_usage(c, "--amount is required");
	if (ctl_money(amount, &cents) != 0)
		return ctl_usage(c, "--amount must be above 0 and at most 1000000, with at "
		                 "most two decimals (12.50), not '%.32s'", amount);
	if ((token == NULL) == (card == NULL))
		return ctl_usage(c, "give --token or --card (one of them)");
	if (token != NULL && (exp != NULL || cvc != NULL))
		return ctl_usage(c, "--exp and --cvc go with --card");
	if (token != NULL && (token[0] == '\0' || strlen(token) > 255))
		return ctl_usage(c, "--token must be 1 to 255 characters");
	if (currency != NULL) {
		if (strlen(currency) != 3 || !isalpha((unsigned char)currency[0]) ||
		    !isalpha((unsigned char)currency[1]) || !isalpha((unsigned char)currency[2]))
			return ctl_usage(c, "--currency must be three letters (usd), not '%.16s'",
			                 currency);
		for (int i = 0; i < 3; i++)
			cur[i] = (char)tolower((unsigned char)currency[i]);
	}
	if (key != NULL && !key_ok(key))
		return ctl_usage(c, "--idempotency-key must be 1 to 255 printable characters");
	if (desc != NULL && strlen(desc) > 1000)
		return ctl_usage(c, "--description is longer than 1000 characters");
	if (card != NULL) {
		if (exp == NULL || expiry(exp, &req.exp_month, &req.exp_year) != 0)
			return ctl_usage(c, "--card needs --exp MM/YY (or MM/YYYY)");
		if (cvc != NULL && (strlen(cvc) < 1 || strlen(cvc) > 8))
			return ctl_usage(c, "--cvc must be 3 or 4 digits");
		if (strcmp(card, "-") == 0 && card_from_stdin(raw, sizeof raw) != 0)
			return ctl_usage(c, "--card -: no card number on stdin");
		rc = card_digits(strcmp(card, "-") == 0 ? raw : card, number, sizeof number);
		explicit_bzero(raw, sizeof raw);
		if (rc != 0)
			return ctl_usage(c, "--card must be 12 to 19 digits (spaces and dashes "
			                 "allowed)");
		req.card_number = number;
		req.cvc = cvc;
	}
	if (key == NULL) {
		char oid[STORE_OID_LEN + 1];

		store_oid_new(oid);
		snprintf(newkey, sizeof newkey, "storectl-%s", oid);
		key = newkey;
	}
	if ((rc = provider_open(c, &db, &pay)) != 0)
		goto out;
	req.amount = cents;
	req.currency = cur[0] != '\0' ? cur : NULL;
	req.token = token;
	req.idempotency_key = key;
	req.description = desc;
	e = store_pay_charge(pay, &req, &ch);
	if (e != STORE_OK && e != STORE_EDECLINED) {
		if (e == STORE_EINVAL)
			rc = ctl_fail(c, CTL_DATAERR, "the provider refused the charge: %s%s%s%s",
			              ch.message[0] != '\0' ? ch.message : "invalid request",
			              ch.code[0] != '\0' ? " (" : "", ch.code,
			              ch.code[0] != '\0' ? ")" : "");
		else
			rc = ctl_fail(c, ctl_status(e), "cannot charge: %s (%s); nothing known to "
			              "be charged, retrying with --idempotency-key '%s' is safe",
			              store_strerror(e), ch.message[0] != '\0' ? ch.message :
			              store_pay_name(pay), key);
		goto out;
	}
	row = json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:b}",
	                "id", ch.id, "status", e == STORE_OK ? "succeeded" : "failed",
	                "amount", store_json_money(ch.amount > 0 ? ch.amount : cents),
	                "currency", ch.currency[0] != '\0' ? ch.currency
	                            : req.currency != NULL ? req.currency
	                            : store_pay_currency(pay),
	                "provider", store_pay_name(pay), "idempotency_key", key,
	                "replayed", ch.replayed != 0);
	if (row != NULL && req.card_number != NULL)
		json_object_set_new(row, "last4", json_string(number + strlen(number) - 4));
	if (row != NULL && e == STORE_EDECLINED) {
		json_object_set_new(row, "code", json_string(ch.code));
		json_object_set_new(row, "decline_code", ch.decline_code[0] != '\0'
		                    ? json_string(ch.decline_code) : json_null());
		json_object_set_new(row, "message", json_string(ch.message));
	}
	ctl_out_begin(c, (const ctl_col[]){
		{ "id", "ID", 0 }, { "status", "STATUS", 0 }, { "amount", "AMOUNT", 0 },
		{ "currency", "CURRENCY", 0 }, { "idempotency_key", "IDEMPOTENCY KEY", 0 },
		{ "replayed", "REPLAYED", 0 }, { "message", "MESSAGE", 0 } }, 7, false);
	ctl_out_row(c, row);
	ctl_out_end(c);
	if (e == STORE_EDECLINED)
		rc = ctl_fail(c, CTL_FAIL, "declined: %s (%s%s%s)", ch.message, ch.code,
		              ch.decline_code[0] != '\0' ? "/" : "", ch.decline_code);
out:
	explicit_bzero(number, sizeof number);
	store_pay_free(pay);
	store_db_free(db);
	return rc;
}
