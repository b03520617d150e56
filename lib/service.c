/* service.c - the body every HTTP service program shares. */
#include "store/service.h"

#include <stdio.h>
#include <string.h>

#include "store/log.h"
#include "store/process.h"
#include "store/metrics.h"
#include "store/session_gen.h"

static store_err
ready(void *ctx, char *err, size_t errlen)
{
	store_app *app = ctx;

	if (store_db_ping(app->db) != STORE_OK) {
		snprintf(err, errlen, "database");
		return STORE_EUNAVAIL;
	}
	if (app->bus != NULL && !app->ready_without_bus && store_bus_ping(app->bus) != STORE_OK) {
		snprintf(err, errlen, "nats");
		return STORE_EUNAVAIL;
	}
	return STORE_OK;
}

static store_err
session_check(void *ctx, const store_user *user)
{
	store_app *app = ctx;

	return store_session_gen_check(app->db, app->sessions, user);
}

/* The collection of session generations the service checks, or NULL. */
static const char *
sessions_of(const store_service_def *def)
{
	if (def->sessions != NULL)
		return def->sessions;
	for (size_t i = 0; i < def->ncolls; i++)
		if (strcmp(def->colls[i].name, STORE_SESSION_GEN_COLL) == 0)
			return STORE_SESSION_GEN_COLL;
	return NULL;
}

/* A bad setting is a configuration error (78); anything else is a
 * dependency that is unavailable (69). */
static int
exit_status(store_err e)
{
	return e == STORE_ECONFIG ? 78 : 69;
}

int
store_service_run(const store_service_def *def)
{
	store_http_config cfg;
	store_bus_config bcfg;
	const char *dburl = NULL;
	char msg[512] = "";
	store_app app = { 0 };
	store_metrics_run *metrics = NULL;
	int status = 0, started = 0;
	store_err e;
	const store_setting db_setting[] = {
		{ "STORE_DB", STORE_SETTING_STR, NULL, 0, 0, &dburl, NULL },
	};
	const char *sessions = sessions_of(def);
	const store_service svc = {
		def->name, def->routes, def->nroutes, &app, ready,
		sessions != NULL ? session_check : NULL,
	};

	app.sessions = sessions;
	app.ready_without_bus = def->ready_without_bus;
	store_process_init();
	store_log_init(def->name, STORE_LOG_INFO);
	if (store_http_config_load(&cfg, def->body_limit, def->threads, msg,
	                           sizeof msg) != STORE_OK ||
	    store_config_load(db_setting, 1, msg, sizeof msg) != STORE_OK ||
	    (def->settings != NULL &&
	     store_config_load(def->settings, def->nsettings, msg, sizeof msg) != STORE_OK) ||
	    (def->uses_bus && store_bus_config_load(&bcfg, def->name, msg, sizeof msg) != STORE_OK)) {
		store_error("%s", msg);
		return 78;
	}
	store_log_init(def->name, (store_log_level)cfg.log_level);
	if ((e = store_db_open(dburl, def->colls, def->ncolls, &app.db, msg, sizeof msg)) != STORE_OK) {
		store_error("cannot open database: %s", msg);
		return exit_status(e);
	}
	if (def->uses_bus && store_bus_open(&bcfg, app.db, &app.bus, msg, sizeof msg) != STORE_OK) {
		store_error("cannot start the bus: %s", msg);
		status = 69;
		goto out;
	}
	if (def->start != NULL && (e = def->start(&app, msg, sizeof msg)) != STORE_OK) {
		store_error("cannot start: %s", msg);
		status = exit_status(e);
		goto out;
	}
	started = 1;
	/* The outbox backlog and the lag of the service's durables (also while
	 * its daemon is down), served with the requests by store_http_serve. */
	if (cfg.metrics_listen != NULL && def->uses_bus &&
	    store_metrics_start(NULL, STORE_METRICS_OUTBOX | STORE_METRICS_CONSUMERS, app.db,
	                        app.bus, def->name, &metrics, msg, sizeof msg) != STORE_OK) {
		store_error("%s", msg);
		status = 69;
		goto out;
	}
	if (store_http_serve(&svc, &cfg, msg, sizeof msg) != STORE_OK) {
		store_error("%s", msg);
		status = 69;
	}
out:
	store_metrics_stop(metrics);
	if (started && def->stop != NULL)
		def->stop(&app);
	store_bus_free(app.bus);
	store_db_free(app.db);
	return status;
}
