/* daemon.c - the body every event daemon shares. */
#include "store/daemon.h"

#include <signal.h>
#include <string.h>

#include "store/config.h"
#include "store/log.h"
#include "store/process.h"
#include "store/metrics.h"

typedef struct run {
	const store_daemon *d;
	store_db *db;
	store_bus *bus;
} run;

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Finds the listener of the event's subject and runs it (the listener
 * loop wakes the relay after a commit that added events). */
static store_err
dispatch(void *ctx, const store_event *ev)
{
	run *r = ctx;
	const char *event = ev->subject + strlen("store.");

	for (size_t i = 0; i < r->d->nlisteners; i++)
		if (strcmp(r->d->listeners[i].event, event) == 0)
			return r->d->listeners[i].fn(r->db, ev);
	return STORE_EINTERNAL;
}

int
store_daemon_run(const store_daemon *d)
{
	store_listener ls[16];
	store_bus_config bcfg;
	const char *dburl = NULL, *level = NULL, *metrics_listen = NULL;
	store_metrics_run *metrics = NULL;
	char msg[512] = "";
	run r = { d, NULL, NULL };
	struct sigaction sa;
	int status = 0, lvl;
	store_err e;
	const store_setting settings[] = {
		{ "STORE_DB", STORE_SETTING_STR, NULL, 0, 0, &dburl, NULL },
		{ "STORE_LOG_LEVEL", STORE_SETTING_STR, "info", 0, 0, &level, NULL },
	};

	store_process_init();
	store_log_init(d->name, STORE_LOG_INFO);
	if (store_config_load(settings, 2, msg, sizeof msg) != STORE_OK ||
	    store_bus_config_load(&bcfg, d->service, msg, sizeof msg) != STORE_OK ||
	    store_metrics_config_load(&metrics_listen, msg, sizeof msg) != STORE_OK) {
		store_error("%s", msg);
		return 78;
	}
	if ((lvl = store_log_level_parse(level)) < 0) {
		store_error("setting 'STORE_LOG_LEVEL' must be debug, info, warn or error");
		return 78;
	}
	if (d->nlisteners > sizeof ls / sizeof *ls) {
		store_error("too many listeners");
		return 70;
	}
	store_log_init(d->name, (store_log_level)lvl);
	for (size_t i = 0; i < d->nlisteners; i++)
		ls[i] = (store_listener){ d->listeners[i].event, dispatch };
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((e = store_db_open(dburl, d->colls, d->ncolls, &r.db, msg, sizeof msg)) != STORE_OK) {
		store_error("cannot open database: %s", msg);
		return e == STORE_ECONFIG ? 78 : 69;
	}
	if (store_bus_open(&bcfg, r.db, &r.bus, msg, sizeof msg) != STORE_OK) {
		store_error("cannot start the bus: %s", msg);
		status = 69;
		goto out;
	}
	if (metrics_listen != NULL &&
	    store_metrics_start(metrics_listen, STORE_METRICS_OUTBOX | STORE_METRICS_CONSUMERS |
	                        STORE_METRICS_DEAD, r.db, r.bus, d->service, &metrics, msg, sizeof msg) != STORE_OK) {
		store_error("cannot serve metrics: %s", msg);
		status = 69;
		goto out;
	}
	store_info("listening");
	if (store_bus_listen(r.bus, ls, d->nlisteners, &r, &stopping) != STORE_OK)
		status = 69;
	store_info("stopped");
out:
	store_metrics_stop(metrics);
	store_bus_free(r.bus);
	store_db_free(r.db);
	return status;
}
