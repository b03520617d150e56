/* web.c - the web front's settings and state, readiness, and what the
 * pages share. */
#include "web_impl.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/config.h"
#include "store/json.h"
#include "store/log.h"

store_err
store_web_config_load(store_web_config *cfg, char *err, size_t errlen)
{
	const char *pk = NULL;
	store_err e;

	memset(cfg, 0, sizeof *cfg);
	const store_setting table[] = {
		{ "STORE_API_URL", STORE_SETTING_STR, NULL, 0, 0, &cfg->api_url, NULL },
		{ "STRIPE_PUBLISHABLE_KEY", STORE_SETTING_STR, "-", 0, 0, &pk, NULL },
		{ "STORE_API_TIMEOUT_MS", STORE_SETTING_INT, "35000", 100, 600000, NULL,
		  &cfg->timeout_ms },
		{ "STORE_API_CONNECT_TIMEOUT_MS", STORE_SETTING_INT, "3000", 100, 60000, NULL,
		  &cfg->connect_timeout_ms },
	};
	e = store_config_load(table, sizeof table / sizeof *table, err, errlen);
	if (e != STORE_OK)
		return e;
	if ((strncmp(cfg->api_url, "http://", 7) != 0 && strncmp(cfg->api_url, "https://", 8) != 0) ||
	    strlen(cfg->api_url) > 512 || strpbrk(cfg->api_url, " \t\r\n?#") != NULL) {
		snprintf(err, errlen, "setting 'STORE_API_URL' must be an http:// or https:// URL "
		         "of the front server, e.g. http://127.0.0.1:8080");
		return STORE_ECONFIG;
	}
	cfg->stripe_pk = strcmp(pk, "-") == 0 ? NULL : pk;
	if (cfg->stripe_pk != NULL &&
	    (strncmp(cfg->stripe_pk, "pk_", 3) != 0 || strlen(cfg->stripe_pk) > 255 ||
	     strpbrk(cfg->stripe_pk, " \t\r\n\"'<>&") != NULL)) {
		snprintf(err, errlen, "setting 'STRIPE_PUBLISHABLE_KEY' must be a Stripe "
		         "publishable key (pk_...)");
		return STORE_ECONFIG;
	}
	return STORE_OK;
}

/* 16 hex characters of FNV-1a 64 of s: the version in a static URL. */
static void
version_of(const char *s, char out[17])
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

store_err
store_web_new(const store_web_config *cfg, const store_http_config *http,
              store_web **out, char *err, size_t errlen)
{
	store_web *w;
	char v[17];
	size_t n;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "libcurl failed to initialise");
		return STORE_EINTERNAL;
	}
	if ((w = calloc(1, sizeof *w)) == NULL)
		goto nomem;
	w->api_url = strdup(cfg->api_url);
	w->stripe_pk = cfg->stripe_pk != NULL ? strdup(cfg->stripe_pk) : NULL;
	w->key = strdup(http->jwt_key);
	if (w->api_url == NULL || w->key == NULL || (cfg->stripe_pk != NULL && w->stripe_pk == NULL))
		goto nomem;
	n = strlen(w->api_url);
	while (n > 0 && w->api_url[n - 1] == '/')
		w->api_url[--n] = '\0';
	w->timeout_ms = cfg->timeout_ms;
	w->connect_timeout_ms = cfg->connect_timeout_ms;
	w->cookie_secure = http->cookie_secure != 0;
	version_of(web_css, v);
	snprintf(w->css_href, sizeof w->css_href, "/static/store.css?v=%s", v);
	version_of(web_pay_js, v);
	snprintf(w->js_href, sizeof w->js_href, "/static/pay.js?v=%s", v);
	version_of(web_hold_js, v);
	snprintf(w->hold_js_href, sizeof w->hold_js_href, "/static/hold.js?v=%s", v);
	*out = w;
	return STORE_OK;
nomem:
	if (w != NULL)
		store_web_free(w);
	else
		curl_global_cleanup();
	snprintf(err, errlen, "out of memory");
	return STORE_ENOMEM;
}

/* Also undoes store_web_new's libcurl initialisation. */
void
store_web_free(store_web *web)
{
	if (web == NULL)
		return;
	free(web->api_url);
	free(web->stripe_pk);
	if (web->key != NULL) {
		memset(web->key, 0, strlen(web->key));
		free(web->key);
	}
	free(web);
	curl_global_cleanup();
}

static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * n;
}

store_err
store_web_ready(void *app, char *err, size_t errlen)
{
	store_web *w = app;
	CURL *curl = curl_easy_init();
	char url[600];
	long status = 0;
	CURLcode rc;

	if (curl == NULL) {
		snprintf(err, errlen, "libcurl");
		return STORE_ENOMEM;
	}
	snprintf(url, sizeof url, "%s/api/users/currentuser", w->api_url);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK || status != 200) {
		snprintf(err, errlen, "api");
		return STORE_EUNAVAIL;
	}
	return STORE_OK;
}

void
store_web_not_found(store_req *req, store_res *res)
{
	web_ctx c;

	web_begin(&c, req, res);
	web_error_page(&c, 404, "Not found", "There is nothing here.");
	web_end(&c);
}

bool
web_get_categories(web_ctx *c, json_t **out)
{
	web_api_res r;
	store_err e = web_api(c, "GET", "/api/categories", NULL, &r);

	*out = NULL;
	if (e != STORE_OK || r.status != 200 || !json_is_array(r.json)) {
		web_api_failed(c, e, &r);
		web_api_res_free(&r);
		return false;
	}
	*out = web_own_json(c, json_incref(r.json));
	web_api_res_free(&r);
	if (*out == NULL) {
		web_error_page(c, 500, "Something went wrong", "Please try again in a moment.");
		return false;
	}
	return true;
}

json_t *
web_find_by_id(json_t *list, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) {
		const char *vid = store_json_str(v, "id");
		if (vid != NULL && strcmp(vid, id) == 0)
			return v;
	}
	return NULL;
}
