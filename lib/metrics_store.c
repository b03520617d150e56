/* metrics_store.c - the store's metrics (docs/METRICS.md): the process's
 * registry, its families, the collectors reading the outbox and the
 * durable consumers, and the hooks the pipeline calls (store/metrics.h). */
#include "store/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/bus.h"
#include "store/config.h"
#include "store/db.h"
#include "store/time.h"

static store_metrics *process_m;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

/* The families the hooks update: NULL until store_metrics_start made them. */
static _Atomic(store_metric *) http_total, http_seconds, dead_total, late_hist,
                               fired_total;

struct store_metrics_run {
	store_metrics_server *server;
	store_db *db;
	store_bus *bus;
	char service[64];
	store_metric *backlog, *lag, *ack_pending;
	int outbox_id, consumers_id;
};

static void
process_init(void)
{
	store_metric *f;

	if (store_metrics_new(&process_m) != STORE_OK)
		return;
	f = store_metric_family(process_m, "process_start_time_seconds",
	                        "Start time of the process since the Unix epoch in seconds.",
	                        STORE_METRIC_GAUGE, NULL, NULL, 0);
	store_metric_set(f, NULL, (double)store_time_now_ms() / 1000.0);
}

store_metrics *
store_metrics_process(void)
{
	pthread_once(&process_once, process_init);
	return process_m;
}

store_err
store_metrics_config_load(const char **listen, char *err, size_t errlen)
{
	const store_setting s[] = {
		{ "STORE_METRICS_LISTEN", STORE_SETTING_STR, "-", 0, 0, listen, NULL },
	};
	char why[128];
	store_err e;

	*listen = NULL;
	if ((e = store_config_load(s, 1, err, errlen)) != STORE_OK)
		return e;
	if (strcmp(*listen, "-") == 0) {
		*listen = NULL;
		return STORE_OK;
	}
	if (store_metrics_listen_check(*listen, why, sizeof why) != STORE_OK) {
		snprintf(err, errlen, "setting 'STORE_METRICS_LISTEN': %s", why);
		*listen = NULL;
		return STORE_ECONFIG;
	}
	return STORE_OK;
}

/* ---- collectors --------------------------------------------------------- */

/* store_outbox_backlog: unpublished outbox rows. Kept as it was when the
 * database does not answer. */
static void
collect_outbox(store_metrics *m, void *ctx)
{
	store_metrics_run *r = ctx;
	json_t *filter = json_pack("{s:b}", "published", 0);
	size_t n = 0;

	(void)m;
	if (filter != NULL && store_db_count(r->db, "outbox", filter, &n) == STORE_OK)
		store_metric_set(r->backlog, NULL, (double)n);
	json_decref(filter);
}

/* store_consumer_lag and store_consumer_ack_pending per durable of the
 * service. Kept as they were while NATS does not answer. */
static void
collect_consumers(store_metrics *m, void *ctx)
{
	store_metrics_run *r = ctx;
	store_consumer *v = NULL;
	size_t n = 0;
	store_err e;

	(void)m;
	e = store_bus_consumers(r->bus, r->service, &v, &n);
	if (e != STORE_OK && e != STORE_ENOTFOUND)
		return;
	store_metric_reset(r->lag);
	store_metric_reset(r->ack_pending);
	for (size_t i = 0; i < n; i++) {
		const char *durable[] = { v[i].name };
		store_metric_set(r->lag, durable, (double)v[i].pending);
		store_metric_set(r->ack_pending, durable, (double)v[i].ack_pending);
	}
	free(v);
}

/* ---- families ----------------------------------------------------------- */

static const double http_buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
static const double late_buckets[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
};
#define NB(a) (sizeof a / sizeof *a)

static store_err
make_families(store_metrics *m, unsigned what, store_metrics_run *r)
{
	static const char *const http_labels[] = { "route", "method", "status", NULL };
	static const char *const route_label[] = { "route", NULL };
	static const char *const durable_label[] = { "durable", NULL };
	store_metric *a = NULL, *b = NULL;

	if (what & STORE_METRICS_HTTP) {
		a = store_metric_family(m, "store_http_requests_total",
		                        "HTTP requests answered, by route pattern, method and status.",
		                        STORE_METRIC_COUNTER, http_labels, NULL, 0);
		b = store_metric_family(m, "store_http_request_duration_seconds",
		                        "Time to answer an HTTP request, by route pattern.",
		                        STORE_METRIC_HISTOGRAM, route_label, http_buckets,
		                        NB(http_buckets));
		if (a == NULL || b == NULL)
			return STORE_ENOMEM;
		atomic_store(&http_total, a);
		atomic_store(&http_seconds, b);
	}
	if (what & STORE_METRICS_OUTBOX) {
		r->backlog = store_metric_family(m, "store_outbox_backlog",
		                                 "Outbox events not yet published to NATS.",
		                                 STORE_METRIC_GAUGE, NULL, NULL, 0);
		if (r->backlog == NULL)
			return STORE_ENOMEM;
	}
	if (what & STORE_METRICS_CONSUMERS) {
		r->lag = store_metric_family(m, "store_consumer_lag",
		                             "Events of the stream not yet delivered to the durable consumer.",
		                             STORE_METRIC_GAUGE, durable_label, NULL, 0);
		r->ack_pending = store_metric_family(m, "store_consumer_ack_pending",
		                                     "Events delivered to the durable consumer and not yet acknowledged.",
		                                     STORE_METRIC_GAUGE, durable_label, NULL, 0);
		if (r->lag == NULL || r->ack_pending == NULL)
			return STORE_ENOMEM;
	}
	if (what & STORE_METRICS_DEAD) {
		a = store_metric_family(m, "store_dead_letters_total",
		                        "Events this process moved to the dead letters, by durable consumer.",
		                        STORE_METRIC_COUNTER, durable_label, NULL, 0);
		if (a == NULL)
			return STORE_ENOMEM;
		atomic_store(&dead_total, a);
	}
	if (what & STORE_METRICS_EXPIRER) {
		a = store_metric_family(m, "store_expirer_lateness_seconds",
		                        "How long after its due time an expiration was published.",
		                        STORE_METRIC_HISTOGRAM, NULL, late_buckets,
		                        NB(late_buckets));
		b = store_metric_family(m, "store_expirer_jobs_fired_total",
		                        "Expirations published (store.expiration.complete).",
		                        STORE_METRIC_COUNTER, NULL, NULL, 0);
		if (a == NULL || b == NULL)
			return STORE_ENOMEM;
		atomic_store(&late_hist, a);
		atomic_store(&fired_total, b);
	}
	return STORE_OK;
}

store_err
store_metrics_start(const char *listen, unsigned what, store_db *db, store_bus *bus,
                    const char *service, store_metrics_run **out, char *err, size_t errlen)
{
	store_metrics *m = store_metrics_process();
	store_metrics_run *r = NULL;
	store_err e;

	*out = NULL;
	if (listen == NULL && what == 0)
		return STORE_OK;
	if (m == NULL || (r = calloc(1, sizeof *r)) == NULL) {
		snprintf(err, errlen, "out of memory starting the metrics");
		return STORE_ENOMEM;
	}
	r->db = db;
	r->bus = bus;
	snprintf(r->service, sizeof r->service, "%s", service != NULL ? service : "");
	if ((e = make_families(m, what, r)) != STORE_OK) {
		snprintf(err, errlen, "cannot make the metric families");
		goto fail;
	}
	if ((what & STORE_METRICS_OUTBOX) && db != NULL &&
	    (e = store_metrics_collector_add(m, collect_outbox, r, &r->outbox_id)) != STORE_OK) {
		snprintf(err, errlen, "too many metric collectors");
		goto fail;
	}
	if ((what & STORE_METRICS_CONSUMERS) && bus != NULL && service != NULL &&
	    (e = store_metrics_collector_add(m, collect_consumers, r,
	                                     &r->consumers_id)) != STORE_OK) {
		snprintf(err, errlen, "too many metric collectors");
		goto fail;
	}
	if (listen != NULL && (e = store_metrics_serve(m, listen, &r->server, err,
	                                               errlen)) != STORE_OK)
		goto fail;
	*out = r;
	return STORE_OK;
fail:
	store_metrics_stop(r);
	return e;
}

void
store_metrics_stop(store_metrics_run *r)
{
	if (r == NULL)
		return;
	store_metrics_server_free(r->server);
	store_metrics_collector_remove(process_m, r->outbox_id);
	store_metrics_collector_remove(process_m, r->consumers_id);
	free(r);
}

/* ---- hooks -------------------------------------------------------------- */

/* A method as a label: the usual ones, else "other" (a client's method is
 * any token; the label stays bounded). */
static const char *
method_label(const char *method)
{
	static const char *const known[] = {
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
	};

	for (size_t i = 0; method != NULL && i < NB(known); i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return "other";
}

void
store_metrics_http_request(const char *route, const char *method, int status,
                           double seconds)
{
	store_metric *total = atomic_load(&http_total);
	char code[16];

	if (total == NULL)
		return;
	snprintf(code, sizeof code, "%d", status);
	const char *values[] = { route, method_label(method), code };
	store_metric_add(total, values, 1);
	store_metric_observe(atomic_load(&http_seconds), values, seconds);
}

void
store_metrics_dead_lettered(const char *durable)
{
	const char *values[] = { durable };

	store_metric_add(atomic_load(&dead_total), values, 1);
}

void
store_metrics_expired(long long late_ms)
{
	store_metric_observe(atomic_load(&late_hist), NULL,
	                     late_ms > 0 ? (double)late_ms / 1000.0 : 0.0);
	store_metric_add(atomic_load(&fired_total), NULL, 1);
}
