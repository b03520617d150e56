/* daemon.h - what every event daemon does: read its settings, open its
 * service's database and the bus (relaying the outbox), and run listeners
 * until SIGTERM or SIGINT. */
#ifndef STORE_DAEMON_H
#define STORE_DAEMON_H

#include <stddef.h>
#include "store/bus.h"
#include "store/db.h"

/* A handler: the service's domain function for one event. */
typedef store_err (*store_daemon_fn)(store_db *db, const store_event *ev);

typedef struct store_daemon_listener {
	const char *event;        /* "product.updated" */
	store_daemon_fn fn;
} store_daemon_listener;

typedef struct store_daemon {
	const char *name;         /* "cartd": the log's svc */
	const char *service;      /* "cart": names the durable consumers */
	const store_collection *colls;
	size_t ncolls;
	const store_daemon_listener *listeners;
	size_t nlisteners;
} store_daemon;

/* Reads STORE_DB, STORE_LOG_LEVEL and the bus settings, runs the listeners
 * and returns the exit status: 0 after SIGTERM/SIGINT, 69 when the
 * database or bus cannot be opened, 78 on a missing or malformed setting.
 * Failures are logged. */
int store_daemon_run(const store_daemon *d);

#endif
