/* service.h - what every HTTP service program does: read the settings,
 * open its database (and the bus, for services with an outbox), answer
 * FastCGI requests until SIGTERM or SIGINT, close everything.
 *
 * A program declares its service and calls store_service_run from main;
 * handlers reach the opened parts through req->app, a store_app. */
#ifndef STORE_SERVICE_H
#define STORE_SERVICE_H

#include <stddef.h>
#include "store/bus.h"
#include "store/config.h"
#include "store/db.h"
#include "store/http.h"

typedef struct store_app {
	store_db *db;
	store_bus *bus;          /* NULL for a service without events */
	void *ctx;               /* the program's own, from start */
	const char *sessions;    /* collection of session generations checked on
	                          * every signed-in request; NULL: none */
	int ready_without_bus;   /* /readyz does not wait for NATS */
} store_app;

typedef struct store_service_def {
	const char *name;        /* "products": the log's svc, consumer names */
	const store_route *routes;
	size_t nroutes;
	const store_collection *colls;
	size_t ncolls;
	long body_limit;         /* default of STORE_BODY_LIMIT */
	int uses_bus;            /* opens the bus and relays the outbox */
	/* The program's own settings, read with the common ones (may be NULL). */
	const store_setting *settings;
	size_t nsettings;
	/* Called once the database and bus are open, before serving; sets
	 * app->ctx. May be NULL. On failure writes a message into err. */
	store_err (*start)(store_app *app, char *err, size_t errlen);
	/* Frees what start made. May be NULL. */
	void (*stop)(store_app *app);
	/* The collection holding each user's session generation by user id
	 * (session_gen.h), checked on every signed-in request: "users" for the
	 * auth service. NULL: STORE_SESSION_GEN_COLL when colls has it (the
	 * replica kept by the service's daemon), else no check. */
	const char *sessions;
	/* Nonzero: /readyz answers ready while NATS is down (the service's
	 * events wait in its outbox and nothing it serves needs the bus: auth,
	 * whose sign-ins must not stop with NATS). */
	int ready_without_bus;
	/* Default of STORE_THREADS; 0: store_http_threads_per_cpu (http.h). */
	long threads;
} store_service_def;

/* Runs the service and returns the program's exit status: 0 after
 * SIGTERM/SIGINT, 69 when the database, bus or socket is unavailable, 78
 * on a missing or malformed setting (named in the logged message; also
 * when start answers STORE_ECONFIG). */
int store_service_run(const store_service_def *def);

#endif
