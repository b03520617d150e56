/* pay.c - card providers: settings and dispatch. */
#include "pay_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/config.h"

store_err
store_pay_config_load(store_pay_config *cfg, char *err, size_t errlen)
{
	const char *provider = NULL, *key = NULL;
	store_err e;

	memset(cfg, 0, sizeof *cfg);
	const store_setting table[] = {
		{ "STORE_PAYMENTS", STORE_SETTING_STR, "-", 0, 0, &provider, NULL },
		{ "STRIPE_KEY", STORE_SETTING_STR, "-", 0, 0, &key, NULL },
		{ "STRIPE_API_BASE", STORE_SETTING_STR, "https://api.stripe.com", 0, 0,
		  &cfg->api_base, NULL },
		{ "STORE_CURRENCY", STORE_SETTING_STR, "usd", 0, 0, &cfg->currency, NULL },
		{ "STRIPE_CONNECT_TIMEOUT_MS", STORE_SETTING_INT, "5000", 100, 120000, NULL,
		  &cfg->connect_timeout_ms },
		{ "STRIPE_TIMEOUT_MS", STORE_SETTING_INT, "30000", 100, 300000, NULL,
		  &cfg->timeout_ms },
	};
	if ((e = store_config_load(table, sizeof table / sizeof *table, err, errlen)) != STORE_OK)
		return e;
	cfg->key = strcmp(key, "-") != 0 ? key : NULL;
	cfg->provider = strcmp(provider, "-") != 0 ? provider
	                : cfg->key != NULL ? "stripe" : "sandbox";
	if (strcmp(cfg->provider, "stripe") != 0 && strcmp(cfg->provider, "sandbox") != 0) {
		snprintf(err, errlen, "setting 'STORE_PAYMENTS' must be stripe or sandbox");
		return STORE_ECONFIG;
	}
	if (strcmp(cfg->provider, "stripe") == 0 && cfg->key == NULL) {
		snprintf(err, errlen, "setting 'STRIPE_KEY' is required when STORE_PAYMENTS is stripe");
		return STORE_ECONFIG;
	}
	if (strncmp(cfg->api_base, "https://", 8) != 0 && strncmp(cfg->api_base, "http://", 7) != 0) {
		snprintf(err, errlen, "setting 'STRIPE_API_BASE' must be an http(s) URL");
		return STORE_ECONFIG;
	}
	if (strlen(cfg->currency) != 3) {
		snprintf(err, errlen, "setting 'STORE_CURRENCY' must be a three-letter code");
		return STORE_ECONFIG;
	}
	return STORE_OK;
}

store_err
store_pay_open(const store_pay_config *cfg, store_db *db, store_pay **out, char *err,
               size_t errlen)
{
	store_pay *pay = calloc(1, sizeof *pay);
	store_err e;

	*out = NULL;
	if (pay == NULL)
		return STORE_ENOMEM;
	pay->cfg = *cfg;
	pay->db = db;
	pay->ops = strcmp(cfg->provider, "stripe") == 0 ? &pay_stripe_ops : &pay_sandbox_ops;
	if (pay->ops == &pay_sandbox_ops && db == NULL) {
		snprintf(err, errlen, "the sandbox provider needs a database");
		free(pay);
		return STORE_ECONFIG;
	}
	if ((e = pay->ops->open(pay, err, errlen)) != STORE_OK) {
		free(pay);
		return e;
	}
	*out = pay;
	return STORE_OK;
}

void
store_pay_free(store_pay *pay)
{
	if (pay == NULL)
		return;
	pay->ops->close(pay);
	free(pay);
}

const char *
store_pay_name(const store_pay *pay)
{
	return pay->ops->name;
}

const char *
store_pay_currency(const store_pay *pay)
{
	return pay->cfg.currency;
}

void
pay_refuse(store_charge *out, const char *code, const char *decline_code,
           const char *message, const char *param)
{
	snprintf(out->code, sizeof out->code, "%s", code != NULL ? code : "");
	snprintf(out->decline_code, sizeof out->decline_code, "%s",
	         decline_code != NULL ? decline_code : "");
	snprintf(out->message, sizeof out->message, "%s", message != NULL ? message : "");
	snprintf(out->param, sizeof out->param, "%s", param != NULL ? param : "");
}

store_err
store_pay_charge(store_pay *pay, const store_charge_req *req, store_charge *out)
{
	memset(out, 0, sizeof *out);
	if (req->amount <= 0 || req->idempotency_key == NULL ||
	    strlen(req->idempotency_key) == 0 || strlen(req->idempotency_key) > 255 ||
	    (req->token == NULL && req->card_number == NULL)) {
		pay_refuse(out, "parameter_invalid", NULL, "amount, source and idempotency key "
		           "are required", NULL);
		return STORE_EINVAL;
	}
	return pay->ops->charge(pay, req, out);
}
