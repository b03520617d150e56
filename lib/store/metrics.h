/* metrics.h - counters, gauges and histograms in Prometheus's text format
 * (exposition format 0.0.4), and the HTTP listener that serves them.
 *
 * A registry (store_metrics) holds families (store_metric): a name, a help
 * text, a type and up to STORE_METRICS_LABELS label names. Each distinct
 * list of label values is one series, made on first use; a family holds at
 * most STORE_METRICS_SERIES series (values past that are dropped, so labels
 * taken from input cannot grow memory without bound) and label values are
 * cut at STORE_METRICS_VALUE_MAX bytes. Every call is thread-safe. The
 * registry owns its families: a store_metric pointer is valid until
 * store_metrics_free.
 *
 * Collectors are functions run before every rendering, to refresh gauges
 * that are read from elsewhere (a database count, a consumer's state).
 *
 * docs/METRICS.md lists the store's metrics (metrics_store.c makes them). */
#ifndef STORE_METRICS_H
#define STORE_METRICS_H

#include <stddef.h>
#include "store/err.h"

#define STORE_METRICS_LABELS     4
#define STORE_METRICS_SERIES     512
#define STORE_METRICS_VALUE_MAX  128
#define STORE_METRICS_BUCKETS    24
#define STORE_METRICS_COLLECTORS 16

typedef struct store_metrics store_metrics;
typedef struct store_metric store_metric;

typedef enum store_metric_type {
	STORE_METRIC_COUNTER,
	STORE_METRIC_GAUGE,
	STORE_METRIC_HISTOGRAM
} store_metric_type;

/* A new empty registry. Caller frees *out with store_metrics_free. */
store_err store_metrics_new(store_metrics **out);
void store_metrics_free(store_metrics *m);

/* The family name in m, made when missing. name matches
 * [a-zA-Z_:][a-zA-Z0-9_:]*; labels is a NULL-terminated list of label
 * names ([a-zA-Z_][a-zA-Z0-9_]*, not starting "__", no "le" for a
 * histogram; NULL for none); buckets (histograms only) are nbuckets
 * increasing upper bounds, +Inf added by the library. A family without
 * labels has its one series from the start (rendered as 0). Returns the
 * family, owned by m, or NULL when an argument is malformed, the name is
 * taken with another type or labels, or memory runs out. */
store_metric *store_metric_family(store_metrics *m, const char *name, const char *help,
                                  store_metric_type type, const char *const *labels,
                                  const double *buckets, size_t nbuckets);

/* values: as many label values as the family has labels (any bytes; NULL
 * reads as ""). f NULL is a no-op, so a hook costs nothing while metrics
 * are off. */
void store_metric_add(store_metric *f, const char *const *values, double v);     /* counter, gauge */
void store_metric_set(store_metric *f, const char *const *values, double v);     /* gauge */
void store_metric_observe(store_metric *f, const char *const *values, double v); /* histogram */
/* Forgets every series of a labelled family (a collector about to set
 * the series that exist now). */
void store_metric_reset(store_metric *f);

/* A collector: refreshes gauges of m. Runs in the rendering thread, one
 * collector at a time. */
typedef void (*store_metrics_collect_fn)(store_metrics *m, void *ctx);

/* Adds a collector; *id gets its handle for store_metrics_collector_remove.
 * STORE_ETOOBIG past STORE_METRICS_COLLECTORS. */
store_err store_metrics_collector_add(store_metrics *m, store_metrics_collect_fn fn,
                                      void *ctx, int *id);
/* Removes collector id, waiting for a rendering that runs it to finish: ctx
 * may be freed afterwards. */
void store_metrics_collector_remove(store_metrics *m, int id);

/* Runs the collectors, then writes every family in the text format: # HELP
 * and # TYPE lines, one line per series (histograms: cumulative _bucket
 * lines up to le="+Inf", _sum and _count); label values escaped (\\, \",
 * \n). *out is a new NUL-terminated buffer; caller frees with free(). */
store_err store_metrics_render(store_metrics *m, char **out, size_t *len);

/* ---- serving: metrics_serve.c ------------------------------------------- */

typedef struct store_metrics_server store_metrics_server;

/* Checks a listen address: host:port (a name, an IPv4 address, or [IPv6]
 * in brackets; port 1-65535). STORE_ECONFIG with a message otherwise. */
store_err store_metrics_listen_check(const char *listen, char *err, size_t errlen);

/* Starts a thread answering HTTP on listen: GET (or HEAD) /metrics with
 * store_metrics_render of m, 404 for another path, 405 for another method,
 * 400 for a malformed or oversized request (over 8 KiB). One connection at
 * a time, each with a 5 s timeout. STORE_ECONFIG for a malformed address,
 * STORE_EIO when it cannot listen (a message in msg). Caller stops it with
 * store_metrics_server_free; m must outlive it. */
store_err store_metrics_serve(store_metrics *m, const char *listen,
                              store_metrics_server **out, char *err, size_t errlen);
/* The port it listens on (useful with port 0 in tests). */
int store_metrics_server_port(const store_metrics_server *s);
/* Stops the thread (a connection in hand finishes) and frees s; NULL is a
 * no-op. */
void store_metrics_server_free(store_metrics_server *s);

/* ---- the store's metrics: metrics_store.c ------------------------------- */

struct store_db;
struct store_bus;

/* The process's registry, made on first call (with the
 * process_start_time_seconds gauge); NULL when out of memory. It lives
 * until the process ends. */
store_metrics *store_metrics_process(void);

/* Reads STORE_METRICS_LISTEN into *listen: NULL when unset or empty
 * (metrics off), else a checked host:port pointing into the environment.
 * STORE_ECONFIG with a message naming the variable when malformed. */
store_err store_metrics_config_load(const char **listen, char *err, size_t errlen);

/* What a program reports, for store_metrics_start. */
enum {
	STORE_METRICS_HTTP      = 1 << 0, /* requests by route, method, status */
	STORE_METRICS_OUTBOX    = 1 << 1, /* the outbox backlog (db) */
	STORE_METRICS_CONSUMERS = 1 << 2, /* lag of the durables of service (bus) */
	STORE_METRICS_EXPIRER   = 1 << 3, /* expirer lateness, jobs fired */
	STORE_METRICS_DEAD      = 1 << 4  /* dead letters made by this process */
};

typedef struct store_metrics_run store_metrics_run;

/* Makes the families of what in the process's registry, adds the
 * collectors (db for the outbox, bus and service for the consumers
 * "<service>-<event>") and, when listen is not NULL, serves them there.
 * Several runs may share one process (one of them listening). *out is
 * NULL when listen is NULL and what is 0. Caller stops with
 * store_metrics_stop before freeing db and bus. Errors as
 * store_metrics_serve. */
store_err store_metrics_start(const char *listen, unsigned what, struct store_db *db,
                              struct store_bus *bus, const char *service,
                              store_metrics_run **out, char *err, size_t errlen);
void store_metrics_stop(store_metrics_run *r);

/* Hooks, no-ops until store_metrics_start made their family. */
/* A request answered: route is the route table's pattern ("/api/products/:id"),
 * or "/healthz", "/readyz", "unmatched"; seconds its duration. */
void store_metrics_http_request(const char *route, const char *method, int status,
                                double seconds);
/* A message of durable consumer durable went to the dead letters. */
void store_metrics_dead_lettered(const char *durable);
/* An expiration fired late_ms after it was due. */
void store_metrics_expired(long long late_ms);

#endif
