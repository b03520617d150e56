/* expiration_run.c - the body of expirerd: settings, Redis, the bus, the
 * listeners and the firing thread (store/expiration.h). */
#include "store/expiration.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sodium.h>

#include "store/config.h"
#include "store/log.h"
#include "store/process.h"
#include "store/metrics.h"

typedef struct firer {
	store_expiration *x;
	volatile sig_atomic_t *stop;
} firer;

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The listeners' attempts, counted in Redis beside the jobs (bus.h,
 * store_bus_counter), kept as long as the stream keeps events, a day more. */
typedef struct counter {
	store_jobs *jobs;
	long long ttl_ms;
} counter;

static store_err
attempt_count(void *ctx, const char *key, uint64_t delivered, bool first, long long *n)
{
	counter *c = ctx;

	return store_jobs_attempt(c->jobs, key, delivered, first, c->ttl_ms, n);
}

static void
attempt_forget(void *ctx, const char *key)
{
	char why[256];
	counter *c = ctx;

	if (store_jobs_attempt_forget(c->jobs, key) != STORE_OK) {
		store_jobs_last_error(c->jobs, why, sizeof why);
		store_warn("cannot drop the attempt count '%s' (%s): it expires", key, why);
	}
}

static void *
fire_main(void *arg)
{
	firer *f = arg;

	store_expiration_fire(f->x, f->stop);
	return NULL;
}

int
store_expiration_run(const char *name, const store_listener *listeners, size_t n)
{
	const char *url = NULL, *prefix = NULL, *level = NULL, *metrics_listen = NULL;
	store_metrics_run *metrics = NULL;
	store_bus_config bcfg;
	store_jobs *jobs = NULL;
	store_bus *bus = NULL;
	firer f = { NULL, &stopping };
	counter cnt = { NULL, 0 };
	store_bus_counter bc = { attempt_count, attempt_forget, &cnt };
	char msg[512] = "", why[256] = "";
	struct sigaction sa;
	pthread_t tid;
	bool firing = false;
	long lease_ms = 0;
	int status = 0, lvl;
	store_err e;
	const store_setting settings[] = {
		{ "REDIS_URL", STORE_SETTING_STR, "redis://127.0.0.1:6379", 0, 0, &url, NULL },
		{ "STORE_JOBS_PREFIX", STORE_SETTING_STR, "store:expiration", 0, 0, &prefix,
		  NULL },
		{ "STORE_JOB_LEASE_MS", STORE_SETTING_INT, "30000", 1000, 3600000, NULL,
		  &lease_ms },
		{ "STORE_LOG_LEVEL", STORE_SETTING_STR, "info", 0, 0, &level, NULL },
	};

	store_process_init();
	store_log_init(name, STORE_LOG_INFO);
	if (store_config_load(settings, sizeof settings / sizeof *settings, msg,
	                      sizeof msg) != STORE_OK ||
	    store_bus_config_load(&bcfg, "expiration", msg, sizeof msg) != STORE_OK ||
	    store_metrics_config_load(&metrics_listen, msg, sizeof msg) != STORE_OK) {
		store_error("%s", msg);
		return 78;
	}
	if ((lvl = store_log_level_parse(level)) < 0) {
		store_error("setting 'STORE_LOG_LEVEL' must be debug, info, warn or error");
		return 78;
	}
	store_log_init(name, (store_log_level)lvl);
	if (sodium_init() < 0) {
		store_error("cannot initialise libsodium");
		return 69;
	}
	if ((e = store_jobs_open(url, prefix, &jobs, msg, sizeof msg)) != STORE_OK) {
		store_error("setting '%s': %s", strncmp(msg, "key prefix", 10) == 0 ?
		            "STORE_JOBS_PREFIX" : "REDIS_URL", msg);
		return e == STORE_EINVAL ? 78 : 69;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);           /* a closed redis connection */
	if (store_jobs_ping(jobs) != STORE_OK) {
		store_jobs_last_error(jobs, why, sizeof why);
		store_warn("redis is not answering yet (%s); waiting for it", why);
	}
	if (store_bus_open(&bcfg, NULL, &bus, msg, sizeof msg) != STORE_OK) {
		store_error("cannot start the bus: %s", msg);
		status = 69;
		goto out;
	}
	cnt.jobs = jobs;
	cnt.ttl_ms = (bcfg.max_age_days + 1) * 86400000LL;
	store_bus_set_counter(bus, &bc);
	if (store_expiration_new(jobs, bus, lease_ms, &f.x) != STORE_OK) {
		store_error("cannot start the expiration service");
		status = 69;
		goto out;
	}
	if (metrics_listen != NULL &&
	    store_metrics_start(metrics_listen, STORE_METRICS_CONSUMERS | STORE_METRICS_DEAD |
	                        STORE_METRICS_EXPIRER, NULL, bus, "expiration", &metrics, msg, sizeof msg) != STORE_OK) {
		store_error("cannot serve metrics: %s", msg);
		status = 69;
		goto out;
	}
	if (pthread_create(&tid, NULL, fire_main, &f) != 0) {
		store_error("cannot start the firing thread");
		status = 69;
		goto out;
	}
	firing = true;
	store_info("listening");
	if (store_bus_listen(bus, listeners, n, f.x, &stopping) != STORE_OK)
		status = 69;
out:
	stopping = 1;
	if (firing) {
		store_jobs_interrupt(jobs);
		pthread_join(tid, NULL);
	}
	store_info("stopped");
	store_metrics_stop(metrics);
	store_expiration_free(f.x);
	store_bus_free(bus);
	store_jobs_free(jobs);
	return status;
}
