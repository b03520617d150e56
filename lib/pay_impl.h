/* pay_impl.h - private: what pay.c shares with the providers. */
#ifndef STORE_PAY_IMPL_H
#define STORE_PAY_IMPL_H

#include "store/pay.h"

struct pay_ops {
	const char *name;
	store_err (*open)(store_pay *pay, char *err, size_t errlen);
	store_err (*charge)(store_pay *pay, const store_charge_req *req, store_charge *out);
	void (*close)(store_pay *pay);
};

struct store_pay {
	const struct pay_ops *ops;
	store_pay_config cfg;
	store_db *db;          /* sandbox: where charges are recorded */
	void *impl;
};

extern const struct pay_ops pay_stripe_ops;
extern const struct pay_ops pay_sandbox_ops;

/* Fills out as a refusal. */
void pay_refuse(store_charge *out, const char *code, const char *decline_code,
                const char *message, const char *param);

#endif
