/* pay_sandbox.c - a card provider for a machine with no Stripe key.
 *
 * Accepts Stripe's test tokens and test card numbers with Stripe's
 * outcomes and messages, honours idempotency keys the way Stripe does (the
 * same key and parameters answer the first result again, declines
 * included; the same key with other parameters is refused), and records
 * every charge in the "charges" collection. Of a card only the last four
 * digits are kept. */
#include "pay_impl.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/json.h"
#include "store/oid.h"

const store_collection store_pay_collections[] = {
	STORE_PAY_COLLECTIONS,
};
const size_t store_pay_ncollections = 1;

typedef struct outcome {
	const char *source;          /* a token or a card number */
	const char *code;            /* NULL: succeeds */
	const char *decline_code;
	const char *message;
} outcome;

static const outcome outcomes[] = {
	{ "tok_visa", NULL, NULL, NULL },
	{ "tok_visa_debit", NULL, NULL, NULL },
	{ "tok_mastercard", NULL, NULL, NULL },
	{ "tok_amex", NULL, NULL, NULL },
	{ "tok_chargeDeclined", "card_declined", "generic_decline", "Your card was declined." },
	{ "tok_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds",
	  "Your card has insufficient funds." },
	{ "tok_chargeDeclinedExpiredCard", "expired_card", NULL, "Your card has expired." },
	{ "tok_chargeDeclinedProcessingError", "processing_error", NULL,
	  "An error occurred while processing your card. Try again in a little bit." },
	{ "tok_chargeDeclinedIncorrectCvc", "incorrect_cvc", NULL,
	  "Your card's security code is incorrect." },
	{ "4242424242424242", NULL, NULL, NULL },
	{ "4000056655665556", NULL, NULL, NULL },
	{ "5555555555554444", NULL, NULL, NULL },
	{ "4000000000000002", "card_declined", "generic_decline", "Your card was declined." },
	{ "4000000000009995", "card_declined", "insufficient_funds",
	  "Your card has insufficient funds." },
	{ "4000000000000069", "expired_card", NULL, "Your card has expired." },
	{ "4000000000000119", "processing_error", NULL,
	  "An error occurred while processing your card. Try again in a little bit." },
	{ "4000000000000127", "incorrect_cvc", NULL, "Your card's security code is incorrect." },
};

static bool
luhn_ok(const char *n)
{
	size_t len = strlen(n);
	int sum = 0;

	if (len < 12 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		int d;
		if (!isdigit((unsigned char)n[len - 1 - i]))
			return false;
		d = n[len - 1 - i] - '0';
		if (i % 2 == 1 && (d *= 2) > 9)
			d -= 9;
		sum += d;
	}
	return sum % 10 == 0;
}

/* Decides what the charge does: STORE_OK (succeeds), STORE_EDECLINED or
 * STORE_EINVAL, with out filled for the latter two. */
static store_err
decide(const store_charge_req *req, store_charge *out)
{
	const char *src = req->token != NULL ? req->token : req->card_number;
	time_t now = time(NULL);
	struct tm tm;

	if (req->token == NULL) {
		gmtime_r(&now, &tm);
		if (!luhn_ok(req->card_number)) {
			pay_refuse(out, "incorrect_number", NULL, "Your card number is incorrect.", "number");
			return STORE_EDECLINED;
		}
		if (req->exp_month < 1 || req->exp_month > 12) {
			pay_refuse(out, "invalid_expiry_month", NULL,
			           "Your card's expiration month is invalid.", "exp_month");
			return STORE_EDECLINED;
		}
		if (req->exp_year < tm.tm_year + 1900 ||
		    (req->exp_year == tm.tm_year + 1900 && req->exp_month < tm.tm_mon + 1)) {
			pay_refuse(out, "invalid_expiry_year", NULL,
			           "Your card's expiration year is invalid.", "exp_year");
			return STORE_EDECLINED;
		}
		if (req->cvc != NULL && (strlen(req->cvc) < 3 || strlen(req->cvc) > 4 ||
		                         strspn(req->cvc, "0123456789") != strlen(req->cvc))) {
			pay_refuse(out, "invalid_cvc", NULL, "Your card's security code is invalid.", "cvc");
			return STORE_EDECLINED;
		}
	}
	for (size_t i = 0; i < sizeof outcomes / sizeof *outcomes; i++) {
		if (strcmp(outcomes[i].source, src) != 0)
			continue;
		if (outcomes[i].code == NULL)
			return STORE_OK;
		pay_refuse(out, outcomes[i].code, outcomes[i].decline_code, outcomes[i].message, NULL);
		return STORE_EDECLINED;
	}
	if (req->token == NULL)
		return STORE_OK;   /* any other valid test number succeeds, as in Stripe */
	snprintf(out->message, sizeof out->message, "No such token: '%.64s'", req->token);
	snprintf(out->code, sizeof out->code, "resource_missing");
	snprintf(out->param, sizeof out->param, "source");
	return STORE_EINVAL;
}

/* What identifies a request for idempotency: never the card number. */
static void
request_print(const store_pay *pay, const store_charge_req *req, char *buf, size_t len)
{
	const char *src = req->token;
	char card[48];

	if (src == NULL) {
		size_t n = strlen(req->card_number);
		snprintf(card, sizeof card, "card-%s-%02d-%d", n >= 4 ? req->card_number + n - 4 : "",
		         req->exp_month, req->exp_year);
		src = card;
	}
	snprintf(buf, len, "%lld|%s|%s", req->amount,
	         req->currency != NULL ? req->currency : pay->cfg.currency, src);
}

static void
answer_from(const json_t *rec, store_charge *out)
{
	snprintf(out->id, sizeof out->id, "%s", store_json_str(rec, "chargeId"));
	out->amount = store_json_int(rec, "amount", 0);
	snprintf(out->currency, sizeof out->currency, "%s", store_json_str(rec, "currency"));
	snprintf(out->status, sizeof out->status, "%s", store_json_str(rec, "status"));
	pay_refuse(out, store_json_str(rec, "code"), store_json_str(rec, "declineCode"),
	           store_json_str(rec, "message"), store_json_str(rec, "param"));
}

static store_err
sandbox_charge(store_pay *pay, const store_charge_req *req, store_charge *out)
{
	char print[160], chid[32], oid[25];
	json_t *rec = NULL, *filter = NULL, *old = NULL;
	store_err verdict, e;

	request_print(pay, req, print, sizeof print);
	verdict = decide(req, out);
	if (verdict == STORE_EINVAL)
		return verdict;    /* Stripe does not record invalid requests */
	store_oid_new(oid);
	snprintf(chid, sizeof chid, "ch_%s", oid);
	rec = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:I}",
	                "idempotencyKey", req->idempotency_key, "request", print,
	                "chargeId", chid, "amount", (json_int_t)req->amount,
	                "currency", req->currency != NULL ? req->currency : pay->cfg.currency,
	                "status", verdict == STORE_OK ? "succeeded" : "failed",
	                "code", out->code, "declineCode", out->decline_code,
	                "message", out->message, "param", out->param,
	                "createdAt", (json_int_t)time(NULL));
	if (rec == NULL)
		return STORE_ENOMEM;
	e = store_db_insert(pay->db, "charges", rec, NULL);
	if (e == STORE_EDUPLICATE) {
		/* The key was used before: the first answer stands. */
		filter = json_pack("{s:s}", "idempotencyKey", req->idempotency_key);
		if (filter == NULL || (e = store_db_find_one(pay->db, "charges", filter, &old)) != STORE_OK)
			goto out;
		memset(out, 0, sizeof *out);
		if (strcmp(store_json_str(old, "request"), print) != 0) {
			pay_refuse(out, "idempotency_error", NULL, "Keys for idempotent requests can "
			           "only be used with the same parameters they were first used with.",
			           NULL);
			e = STORE_EINVAL;
			goto out;
		}
		answer_from(old, out);
		out->replayed = 1;
		e = strcmp(out->status, "succeeded") == 0 ? STORE_OK : STORE_EDECLINED;
		goto out;
	}
	if (e != STORE_OK)
		goto out;
	answer_from(rec, out);
	e = verdict;
out:
	json_decref(old);
	json_decref(filter);
	json_decref(rec);
	return e;
}

static store_err
sandbox_open(store_pay *pay, char *err, size_t errlen)
{
	(void)pay;
	(void)err;
	(void)errlen;
	return STORE_OK;
}

static void
sandbox_close(store_pay *pay)
{
	(void)pay;
}

const struct pay_ops pay_sandbox_ops = {
	"sandbox", sandbox_open, sandbox_charge, sandbox_close,
};
