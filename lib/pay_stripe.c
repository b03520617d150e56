/* pay_stripe.c - the Stripe charges API over libcurl.
 *
 * POST {api_base}/v1/charges, form-encoded, HTTP Basic with the secret
 * key, Idempotency-Key and a pinned Stripe-Version. Card errors (402) are
 * declines with Stripe's message; 400/404 refusals; network errors, 409
 * (the same key in flight), 429 and 5xx mean "unavailable, safe to retry
 * with the same key". Request bodies are never logged. */
#include "pay_impl.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/json.h"
#include "store/log.h"

#define RESPONSE_MAX (1u << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
init_curl(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct buffer {
	char *data;
	size_t len;
	int too_big;
	int replayed;
} buffer;

static size_t
on_body(char *ptr, size_t size, size_t n, void *arg)
{
	buffer *b = arg;
	size_t add = size * n;
	char *grown;

	if (b->len + add > RESPONSE_MAX) {
		b->too_big = 1;
		return 0;
	}
	grown = realloc(b->data, b->len + add + 1);
	if (grown == NULL)
		return 0;
	memcpy(grown + b->len, ptr, add);
	b->data = grown;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

static size_t
on_header(char *ptr, size_t size, size_t n, void *arg)
{
	buffer *b = arg;
	size_t len = size * n;
	static const char name[] = "idempotent-replayed:";

	if (len > sizeof name && strncasecmp(ptr, name, sizeof name - 1) == 0 &&
	    strstr(ptr + sizeof name - 1, "true") != NULL)
		b->replayed = 1;
	return len;
}

/* Appends "&name=value" (value URL-encoded) to *form. */
static store_err
add_field(CURL *curl, char **form, const char *name, const char *value)
{
	char *esc = curl_easy_escape(curl, value, 0), *grown = NULL;
	int n;

	if (esc == NULL)
		return STORE_ENOMEM;
	n = asprintf(&grown, "%s%s%s=%s", *form != NULL ? *form : "", *form != NULL ? "&" : "",
	             name, esc);
	curl_free(esc);
	if (n < 0)
		return STORE_ENOMEM;
	free(*form);
	*form = grown;
	return STORE_OK;
}

static store_err
build_form(CURL *curl, const store_pay *pay, const store_charge_req *req, char **form)
{
	char num[32];
	store_err e;

	*form = NULL;
	snprintf(num, sizeof num, "%lld", req->amount);
	if ((e = add_field(curl, form, "amount", num)) != STORE_OK ||
	    (e = add_field(curl, form, "currency",
	                   req->currency != NULL ? req->currency : pay->cfg.currency)) != STORE_OK)
		return e;
	if (req->token != NULL) {
		if ((e = add_field(curl, form, "source", req->token)) != STORE_OK)
			return e;
	} else {
		if ((e = add_field(curl, form, "source[object]", "card")) != STORE_OK ||
		    (e = add_field(curl, form, "source[number]", req->card_number)) != STORE_OK)
			return e;
		snprintf(num, sizeof num, "%d", req->exp_month);
		if ((e = add_field(curl, form, "source[exp_month]", num)) != STORE_OK)
			return e;
		snprintf(num, sizeof num, "%d", req->exp_year);
		if ((e = add_field(curl, form, "source[exp_year]", num)) != STORE_OK)
			return e;
		if (req->cvc != NULL && (e = add_field(curl, form, "source[cvc]", req->cvc)) != STORE_OK)
			return e;
	}
	if (req->description != NULL &&
	    (e = add_field(curl, form, "description", req->description)) != STORE_OK)
		return e;
	if (req->user_id != NULL &&
	    (e = add_field(curl, form, "metadata[userId]", req->user_id)) != STORE_OK)
		return e;
	return STORE_OK;
}

/* Reads Stripe's answer into out. */
static store_err
read_answer(long status, const buffer *b, store_charge *out)
{
	json_t *doc = b->data != NULL ? json_loads(b->data, 0, NULL) : NULL;
	json_t *err = json_object_get(doc, "error");
	store_err e;

	if (status == 200 && json_is_object(doc) && store_json_str(doc, "id") != NULL) {
		snprintf(out->id, sizeof out->id, "%s", store_json_str(doc, "id"));
		out->amount = store_json_int(doc, "amount", 0);
		snprintf(out->currency, sizeof out->currency, "%s",
		         store_json_str(doc, "currency") ? store_json_str(doc, "currency") : "");
		snprintf(out->status, sizeof out->status, "%s",
		         store_json_str(doc, "status") ? store_json_str(doc, "status") : "");
		out->replayed = b->replayed;
		e = STORE_OK;
		goto out;
	}
	pay_refuse(out, store_json_str(err, "code"), store_json_str(err, "decline_code"),
	           store_json_str(err, "message"), store_json_str(err, "param"));
	if (status == 402) {
		if (out->message[0] == '\0')
			snprintf(out->message, sizeof out->message, "Your card was declined.");
		e = STORE_EDECLINED;
	} else if (status == 400 || status == 404) {
		e = STORE_EINVAL;
	} else {
		store_warn("stripe answered HTTP %ld (%s)", status,
		           out->code[0] ? out->code : "no error code");
		e = STORE_EUNAVAIL;
	}
out:
	json_decref(doc);
	return e;
}

static store_err
stripe_charge(store_pay *pay, const store_charge_req *req, store_charge *out)
{
	CURL *curl = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char *form = NULL, *url = NULL, line[320];
	buffer b = { 0 };
	long status = 0;
	CURLcode rc;
	store_err e = STORE_ENOMEM;

	if (curl == NULL || (e = build_form(curl, pay, req, &form)) != STORE_OK)
		goto out;
	if (asprintf(&url, "%s/v1/charges", pay->cfg.api_base) < 0) {
		url = NULL;
		e = STORE_ENOMEM;
		goto out;
	}
	snprintf(line, sizeof line, "Idempotency-Key: %s", req->idempotency_key);
	hdrs = curl_slist_append(hdrs, line);
	hdrs = curl_slist_append(hdrs, "Stripe-Version: " STORE_STRIPE_VERSION);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(curl, CURLOPT_USERNAME, pay->cfg.key);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, "");
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, pay->cfg.connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, pay->cfg.timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &b);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "store/0.1");
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		store_warn("stripe unreachable: %s", curl_easy_strerror(rc));
		pay_refuse(out, "api_connection_error", NULL, "The card provider is unreachable", NULL);
		e = STORE_EUNAVAIL;
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	e = read_answer(status, &b, out);
out:
	free(b.data);
	free(url);
	if (form != NULL) {
		/* The form may hold a card number: wipe it. */
		memset(form, 0, strlen(form));
		free(form);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	return e;
}

static store_err
stripe_open(store_pay *pay, char *err, size_t errlen)
{
	(void)pay;
	pthread_once(&curl_once, init_curl);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl failed to initialise");
		return STORE_EINTERNAL;
	}
	return STORE_OK;
}

static void
stripe_close(store_pay *pay)
{
	(void)pay;
}

const struct pay_ops pay_stripe_ops = {
	"stripe", stripe_open, stripe_charge, stripe_close,
};
