/* ctl_impl.h - private: storectl's modules (lib/ctl_NAME.c) and the program
 * (bin/storectl.c) that dispatches to them from its command table.
 *
 * Unlike the rest of lib/, these modules print and choose exit statuses:
 * they are storectl's commands, kept here because the Makefile builds
 * every bin/NAME.c as a program of its own. Each cmd_* takes the words after
 * the command name and returns the exit status. Data goes to stdout as
 * JSON lines (or a table, --format table); messages go to stderr. */
#ifndef STORE_CTL_IMPL_H
#define STORE_CTL_IMPL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "store/bus.h"
#include "store/err.h"

/* Exit statuses, from sysexits.h. */
enum {
	CTL_OK = 0,
	CTL_FAIL = 1,          /* the thing failed: a decline, a check down... */
	CTL_USAGE = 64,        /* bad arguments */
	CTL_DATAERR = 65,      /* bad input data: a payload, a file */
	CTL_UNAVAILABLE = 69,  /* a dependency: NATS, Redis, a database, a service */
	CTL_SOFTWARE = 70,     /* internal error */
	CTL_CONFIG = 78,       /* a missing or malformed setting */
	CTL_HELP = -1          /* ctl_parse: help was printed, exit 0 */
};

typedef struct ctl ctl;
typedef int (*ctl_fn)(ctl *c, int argc, char **argv);

typedef struct ctl_cmd {
	const char *name;      /* "publish" */
	ctl_fn fn;
	const char *summary;   /* one line of "storectl help" */
	const char *help;      /* "storectl help NAME", "storectl NAME --help" */
} ctl_cmd;

/* A command's option: "--name VALUE" or "--name=VALUE" when value is
 * set, "--name" when flag is set. */
typedef struct ctl_opt {
	const char *name;      /* "from-seq": without the dashes */
	const char **value;
	int *flag;
} ctl_opt;

typedef enum ctl_format { CTL_JSON, CTL_TABLE } ctl_format;

/* A column of --format table: the row's key and its title. */
typedef struct ctl_col {
	const char *key;
	const char *title;
	int width;             /* streamed tables (tail): fixed width, 0: last */
} ctl_col;

struct ctl {
	const char *prog;            /* "storectl" */
	const ctl_cmd *cmd;          /* the command running, NULL before */
	const char *sub;             /* its subcommand ("dead retry"), or NULL */
	ctl_format format;
	long timeout_ms;             /* --timeout: waiting for a dependency */
	int verbose;
	volatile sig_atomic_t *stop; /* SIGINT or SIGTERM came */
	bool tty;                    /* stderr is a terminal: progress bars */
	/* Output in hand (ctl_out_*). */
	const ctl_col *cols;
	size_t ncols;
	json_t *rows;                /* table rows kept until ctl_out_end */
	bool streaming;
	bool header_done;
	bool broken;                 /* stdout was closed (a pipe's reader left) */
};

/* ---- arguments ---------------------------------------------------------- */

/* Parses argv (the words after the command) against opts and the options
 * every command takes (--format, --timeout, -v/--verbose, -h/--help).
 * Positional words go to pos (room for max of them, or argc when max is
 * -1: no bound) and their count to *npos, which must be within
 * [min, max]. Returns 0,
 * CTL_HELP after printing the command's help, or CTL_USAGE after saying
 * what is wrong. */
int ctl_parse(ctl *c, const ctl_opt *opts, size_t nopts, int argc, char **argv,
              char **pos, int *npos, int min, int max);

/* Handles one of the common options at argv[*i] (advancing *i past its
 * value): 1 handled, 0 not a common option, CTL_USAGE, CTL_HELP. */
int ctl_common_opt(ctl *c, int argc, char **argv, int *i);

/* "storectl CMD: message" and "Try ..." on stderr; returns CTL_USAGE. */
int ctl_usage(ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "storectl CMD: message" on stderr; returns status. */
int ctl_fail(ctl *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The exit status for a library error. */
int ctl_status(store_err e);

/* Number parsing: 0 when s is a whole decimal within [min, max]. */
int ctl_number(const char *s, long long min, long long max, long long *out);

/* Money "12.50" (at most two decimals, > 0, <= 1,000,000) in cents. */
int ctl_money(const char *s, long long *cents);

/* A time: RFC 3339 ("2026-11-27T10:00:00Z", fractions and offsets
 * allowed) or a duration before now ("90s", "15m", "2h", "7d"), as ms
 * since the epoch. 0 on success. */
int ctl_time(const char *s, long long *ms);


/* A subject or pattern given short ("product.created", "cart.>") or in
 * full ("store.product.created") into out, in full. 0 when it has the
 * shape of one. */
int ctl_subject(const char *in, char *out, size_t outlen);

/* ---- output ------------------------------------------------------------- */

/* Starts output of rows with these table columns; streaming prints table
 * rows as they come (fixed widths) instead of aligning them at the end. */
void ctl_out_begin(ctl *c, const ctl_col *cols, size_t ncols, bool streaming);

/* One row (stolen): a JSON line now, or a table row. */
void ctl_out_row(ctl *c, json_t *row);

/* Prints the table (when not streamed) and forgets the columns. */
void ctl_out_end(ctl *c);

/* A progress bar on stderr when it is a terminal: done/total, rate and
 * time left, redrawn at most 10 times a second. */
typedef struct ctl_progress {
	long long start_ms, last_ms;
	uint64_t done, total;
	bool drawn;
	const char *what;
} ctl_progress;

void ctl_progress_start(ctl *c, ctl_progress *p, const char *what, uint64_t total);
void ctl_progress_update(ctl *c, ctl_progress *p, uint64_t done, uint64_t total);
void ctl_progress_end(ctl *c, ctl_progress *p);

/* ---- dependencies ------------------------------------------------------- */

/* Loads the bus settings and connects to NATS (waiting --timeout), never
 * changing the STORE stream's settings. Returns 0, or the exit status
 * after saying why. Caller frees *bus with store_bus_free. */
int ctl_bus_open(ctl *c, store_bus **bus);

/* ---- the commands (one module each) ------------------------------------- */

int cmd_publish(ctl *c, int argc, char **argv);
int cmd_replay(ctl *c, int argc, char **argv);
int cmd_tail(ctl *c, int argc, char **argv);
int cmd_dead(ctl *c, int argc, char **argv);
int cmd_jobs(ctl *c, int argc, char **argv);
int cmd_card_charge(ctl *c, int argc, char **argv);
int cmd_health(ctl *c, int argc, char **argv);
int cmd_seed(ctl *c, int argc, char **argv);

extern const char ctl_help_publish[], ctl_help_replay[], ctl_help_tail[],
	ctl_help_dead[], ctl_help_jobs[], ctl_help_card_charge[], ctl_help_health[],
	ctl_help_seed[];

#endif
