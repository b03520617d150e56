/* ctl_events.c - storectl publish, replay and tail: events on the STORE
 * stream. */
#include "ctl_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/json.h"
#include "store/oid.h"
#include "store/time.h"

#define PAYLOADS_MAX   100000     /* payloads of one publish from stdin */
#define WAIT_DEFAULT_S 600
#define POLL_MS        200        /* consumer state while waiting */
#define FETCH_WAIT_MS  500
#define NAMES_MAX      64         /* --to names */

const char ctl_help_publish[] =
	"usage: storectl publish SUBJECT [PAYLOAD | -] [--id ID] [--request-id ID] [--raw]\n"
	"\n"
	"Publishes an event on the STORE stream. SUBJECT is a subject of the event\n"
	"catalogue, in full (store.product.created) or short (product.created).\n"
	"PAYLOAD is a JSON object, checked against the catalogue: every field it\n"
	"lists present, with its type (ids 24-hex, money with at most two decimals,\n"
	"counts integers of 0 or more, times RFC 3339). Without PAYLOAD, or with -,\n"
	"payloads are read from stdin, one JSON object after another, all checked\n"
	"before the first is published. Each event gets a new event id (its\n"
	"Nats-Msg-Id). Prints one line per event: {subject, id, seq, duplicate}.\n"
	"\n"
	"options:\n"
	"  --id ID            the event id instead of a new one (one payload only);\n"
	"                     JetStream drops a second publish of an id within 2\n"
	"                     minutes (\"duplicate\": true, seq of the first)\n"
	"  --request-id ID    the Store-Request-Id header, for tracing\n"
	"  --raw              any subject under store., and no catalogue check (the\n"
	"                     payload must still be a JSON object)\n"
	"\n"
	"subjects (payload fields): see store(7) or EVENTS.md\n"
	"  store.product.created      {id, name, description, price, picture, userId,\n"
	"                              categoryId, count, version}\n"
	"  store.product.updated      the same fields\n"
	"  store.product.deleted      {id, version}\n"
	"  store.product.selected     {productId, selectionId, userId, categoryId,\n"
	"                              views, expiresAt}\n"
	"  store.cart.add             {productId, name, description, picture, price,\n"
	"                              categoryId, version, count, userId,\n"
	"                              selectionId, expiresAt}\n"
	"  store.cart.changed         {id, userId, version, info: [{product, qty, limit}]}\n"
	"  store.expiration.complete  {productId, selectionId, categoryId, views}\n"
	"  store.payment.created      {id, userId, stripeId, total,\n"
	"                              info: [{productId, qty, selectionIds}]}\n"
	"  store.user.signedout       {userId, gen}\n"
	"  store.cart.released        {userId, productId, selectionIds}\n"
	"\n"
	"exit status: 0 published, 64 usage or a subject not in the catalogue,\n"
	"65 a payload that is not a JSON object or does not fit the catalogue,\n"
	"69 NATS unavailable, 78 configuration.\n";

const char ctl_help_replay[] =
	"usage: storectl replay [--print] [--subject PATTERN] [--from-seq N] [--to-seq N]\n"
	"                       [--since TIME] [--until TIME] [--dry-run]\n"
	"       storectl replay --to CONSUMER[,CONSUMER...] (--from-seq N | --since TIME)\n"
	"                       [--dry-run] [--no-wait] [--wait SECONDS]\n"
	"\n"
	"Reads a stretch of the stream's history and prints it (--print, the\n"
	"default), or re-drives services' durable consumers from a point so that\n"
	"their services handle those events again. Re-driving is safe: every\n"
	"handler is idempotent (EVENTS.md, rule 6), so events a service had\n"
	"already applied change nothing, and a replica rebuilt from an empty\n"
	"database converges to the state the events describe.\n"
	"\n"
	"options:\n"
	"  --print            write the events as JSON lines: {seq, time, subject, id,\n"
	"                     headers, payload}\n"
	"  --to CONSUMER      re-drive these durable consumers, comma-separated: a\n"
	"                     consumer (cart-product-created) or a service (cart: all\n"
	"                     of its consumers). Each is made again from the start\n"
	"                     point and gets every event from there to now; then\n"
	"                     storectl waits until each has caught up. Prints one line\n"
	"                     per consumer: {consumer, subject, from_seq or since,\n"
	"                     events, status, pending, listening}\n"
	"  --subject PATTERN  with --print: a subject or pattern (* one token, > the\n"
	"                     rest), short or in full: product.*, store.cart.>.\n"
	"                     Default: every event but the dead letters\n"
	"  --from-seq N       start at stream sequence N\n"
	"  --to-seq N         with --print: stop after sequence N\n"
	"  --since TIME       start at TIME: RFC 3339 (2026-11-27T10:00:00Z) or a\n"
	"                     duration before now (90s, 15m, 2h, 7d)\n"
	"  --until TIME       with --print: stop after TIME\n"
	"  --dry-run          change nothing; say what would happen: how many events\n"
	"                     would be printed, or per consumer where it stands and\n"
	"                     how many events it would get again\n"
	"  --no-wait          with --to: return once the consumers are re-made\n"
	"  --wait SECONDS     with --to: give up waiting after this long (600)\n"
	"\n"
	"A progress bar (done/total, rate, time left) goes to stderr when it is a\n"
	"terminal; nothing when it is not.\n"
	"\n"
	"exit status: 0 done, 1 a consumer did not catch up in time (or no such\n"
	"consumer), 64 usage, 69 NATS unavailable, 78 configuration.\n";

const char ctl_help_tail[] =
	"usage: storectl tail [PATTERN] [--from-seq N | --since TIME] [--count N]\n"
	"\n"
	"Prints events as they are published, as JSON lines like replay --print,\n"
	"until interrupted (SIGINT or SIGTERM: exit 0) or --count events were\n"
	"printed. PATTERN is a subject or pattern as replay's --subject (default:\n"
	"every event but the dead letters).\n"
	"\n"
	"options:\n"
	"  --from-seq N    start with stream sequence N, then follow\n"
	"  --since TIME    start at TIME (as replay's), then follow\n"
	"  --count N       stop after N events\n"
	"\n"
	"exit status: 0 interrupted or done, 64 usage, 69 NATS unavailable,\n"
	"78 configuration.\n";

static const ctl_col event_cols[] = {
	{ "seq", "SEQ", 8 },
	{ "time", "TIME", 24 },
	{ "subject", "SUBJECT", 26 },
	{ "id", "ID", 24 },
	{ "payload", "PAYLOAD", 0 },
};

/* ---- publish ------------------------------------------------------------ */

static bool
id_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                     "0123456789_-");

	return n > 0 && n <= 64 && s[n] == '\0';
}

/* Reads JSON values from stdin into the array out. */
static int
read_payloads(ctl *c, json_t *out)
{
	json_error_t err;
	json_t *v;
	int ch;

	for (;;) {
		while ((ch = getchar()) == ' ' || ch == '\n' || ch == '\t' || ch == '\r')
			;
		if (ch == EOF)
			return 0;
		ungetc(ch, stdin);
		if (json_array_size(out) >= PAYLOADS_MAX)
			return ctl_fail(c, CTL_DATAERR, "more than %d payloads on stdin",
			                PAYLOADS_MAX);
		v = json_loadf(stdin, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &err);
		if (v == NULL)
			return ctl_fail(c, CTL_DATAERR, "payload %zu on stdin is not valid JSON: "
			                "%s (line %d)", json_array_size(out) + 1, err.text,
			                err.line);
		json_array_append_new(out, v);
	}
}

int
cmd_publish(ctl *c, int argc, char **argv)
{
	const char *id = NULL, *req = NULL;
	char subject[256], why[512], eid[STORE_OID_LEN + 1];
	char **pos = calloc((size_t)argc + 1, sizeof *pos);
	json_t *payloads = json_array(), *p;
	json_error_t jerr;
	store_bus *bus = NULL;
	uint64_t seq;
	size_t i;
	int raw = 0, npos = 0, dup, rc;
	store_err e;
	const ctl_opt opts[] = {
		{ "id", &id, NULL },
		{ "request-id", &req, NULL },
		{ "raw", NULL, &raw },
	};

	if (pos == NULL || payloads == NULL) {
		rc = ctl_fail(c, CTL_SOFTWARE, "out of memory");
		goto out;
	}
	if ((rc = ctl_parse(c, opts, 3, argc, argv, pos, &npos, 1, 2)) != 0)
		goto out;
	if (ctl_subject(pos[0], subject, sizeof subject) != 0 ||
	    strpbrk(subject, "*>") != NULL) {
		rc = ctl_usage(c, "'%.64s' is not a subject", pos[0]);
		goto out;
	}
	if (!raw && store_event_check(subject, NULL, why, sizeof why) == STORE_ENOTFOUND) {
		rc = ctl_usage(c, "'%s' is not in the event catalogue (see --help; --raw "
		               "publishes it anyway)", subject);
		goto out;
	}
	if (id != NULL && !id_ok(id)) {
		rc = ctl_usage(c, "--id must be 1 to 64 of [A-Za-z0-9_-], not '%.64s'", id);
		goto out;
	}
	if (npos == 2 && strcmp(pos[1], "-") != 0) {
		p = json_loads(pos[1], JSON_REJECT_DUPLICATES, &jerr);
		if (p == NULL) {
			rc = ctl_fail(c, CTL_DATAERR, "the payload is not valid JSON: %s", jerr.text);
			goto out;
		}
		json_array_append_new(payloads, p);
	} else if ((rc = read_payloads(c, payloads)) != 0) {
		goto out;
	}
	if (json_array_size(payloads) == 0) {
		rc = ctl_fail(c, CTL_DATAERR, "no payload on stdin");
		goto out;
	}
	if (id != NULL && json_array_size(payloads) > 1) {
		rc = ctl_usage(c, "--id takes one payload, stdin had %zu",
		               json_array_size(payloads));
		goto out;
	}
	json_array_foreach(payloads, i, p) {
		if (!json_is_object(p)) {
			rc = ctl_fail(c, CTL_DATAERR, "payload %zu is not a JSON object", i + 1);
			goto out;
		}
		if (!raw && store_event_check(subject, p, why, sizeof why) != STORE_OK) {
			rc = ctl_fail(c, CTL_DATAERR, "payload %zu does not fit '%s': %s", i + 1,
			              subject, why);
			goto out;
		}
	}
	if ((rc = ctl_bus_open(c, &bus)) != 0)
		goto out;
	ctl_out_begin(c, (const ctl_col[]){ { "subject", "SUBJECT", 26 },
	                                    { "id", "ID", 24 }, { "seq", "SEQ", 8 },
	                                    { "duplicate", "DUPLICATE", 0 } }, 4, true);
	json_array_foreach(payloads, i, p) {
		if (id == NULL)
			store_oid_new(eid);
		e = store_bus_publish_ack(bus, subject, p, id != NULL ? id : eid, req, &seq, &dup);
		if (e != STORE_OK) {
			rc = ctl_fail(c, ctl_status(e), "cannot publish payload %zu to '%s': %s",
			              i + 1, subject, store_strerror(e));
			break;
		}
		ctl_out_row(c, json_pack("{s:s,s:s,s:I,s:b}", "subject", subject, "id",
		                         id != NULL ? id : eid, "seq", (json_int_t)seq,
		                         "duplicate", dup));
		if (c->broken)
			break;
	}
	ctl_out_end(c);
out:
	store_bus_free(bus);
	json_decref(payloads);
	free(pos);
	return rc;
}

/* ---- replay and tail: reading ------------------------------------------- */

/* Opens a reading of opts, saying why when it cannot. */
static int
open_reading(ctl *c, store_bus *bus, const store_replay_opts *o, store_replay **r,
             uint64_t *total)
{
	store_err e = store_replay_open(bus, o, r, total);

	if (e == STORE_OK)
		return 0;
	if (e == STORE_EINVAL)
		return ctl_usage(c, "'%s' is not a subject pattern the stream takes",
		                 o->subject != NULL ? o->subject : "store.>");
	return ctl_fail(c, ctl_status(e), "cannot read the stream: %s", store_strerror(e));
}

static int
replay_print(ctl *c, store_bus *bus, const store_replay_opts *o, int dry)
{
	store_replay *r = NULL;
	ctl_progress pr;
	uint64_t total = 0, n = 0;
	json_t *ev;
	store_err e;
	int rc;

	if ((rc = open_reading(c, bus, o, &r, &total)) != 0)
		return rc;
	ctl_progress_start(c, &pr, "replay", total);
	if (!dry)
		ctl_out_begin(c, event_cols, 5, true);
	while (!*c->stop && !c->broken) {
		e = store_replay_next(r, FETCH_WAIT_MS, &ev);
		if (e == STORE_ENOTFOUND) {
			ctl_progress_update(c, &pr, store_replay_seen(r), store_replay_seen(r));
			break;
		}
		if (e == STORE_ELATER)
			continue;
		if (e != STORE_OK) {
			rc = ctl_fail(c, ctl_status(e), "reading the stream: %s", store_strerror(e));
			break;
		}
		n++;
		if (dry)
			json_decref(ev);
		else
			ctl_out_row(c, ev);
		ctl_progress_update(c, &pr, store_replay_seen(r), total);
	}
	ctl_progress_end(c, &pr);
	if (!dry)
		ctl_out_end(c);
	if (rc == 0 && *c->stop)
		rc = ctl_fail(c, CTL_FAIL, "interrupted after %llu events",
		              (unsigned long long)n);
	if (rc == 0 && dry) {
		ctl_out_begin(c, (const ctl_col[]){ { "subject", "SUBJECT", 0 },
		                                    { "would_print", "WOULD PRINT", 0 } }, 2,
		              false);
		ctl_out_row(c, json_pack("{s:s,s:I,s:b}", "subject",
		                         o->subject != NULL ? o->subject : "store.>",
		                         "would_print", (json_int_t)n, "dry_run", 1));
		ctl_out_end(c);
	}
	store_replay_free(r);
	return rc;
}

/* ---- replay --to: re-driving consumers ---------------------------------- */

typedef struct target {
	store_consumer before, now;
	uint64_t events;             /* to handle right after the re-make */
	bool done;
} target;

/* Finds the consumers of the comma-separated names, without repeats. */
static int
find_targets(ctl *c, store_bus *bus, const char *names, target **out, size_t *n)
{
	char buf[1024], *save = NULL, *name;
	store_consumer *v = NULL;
	target *t = NULL, *bigger;
	size_t k = 0, nv = 0;
	store_err e;
	int rc = 0, count = 0;

	*out = NULL;
	*n = 0;
	if (strlen(names) >= sizeof buf)
		return ctl_usage(c, "--to is too long");
	memcpy(buf, names, strlen(names) + 1);
	for (name = strtok_r(buf, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
		if (++count > NAMES_MAX) {
			rc = ctl_usage(c, "--to names more than %d consumers", NAMES_MAX);
			goto out;
		}
		if (name[0] == '\0' || strlen(name) > 128 ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name)) {
			rc = ctl_usage(c, "'%.64s' is not a consumer or service name ([a-z0-9_-])",
			               name);
			goto out;
		}
		e = store_bus_consumers(bus, name, &v, &nv);
		if (e == STORE_ENOTFOUND) {
			rc = ctl_fail(c, CTL_FAIL, "no consumer and no service '%s' (a daemon makes "
			              "its consumers when it first starts)", name);
			goto out;
		}
		if (e != STORE_OK) {
			rc = ctl_fail(c, ctl_status(e), "cannot list consumers: %s",
			              store_strerror(e));
			goto out;
		}
		for (size_t i = 0; i < nv; i++) {
			bool seen = false;
			for (size_t j = 0; j < k && !seen; j++)
				seen = strcmp(t[j].before.name, v[i].name) == 0;
			if (seen)
				continue;
			if ((bigger = realloc(t, (k + 1) * sizeof *t)) == NULL) {
				rc = ctl_fail(c, CTL_SOFTWARE, "out of memory");
				goto out;
			}
			t = bigger;
			memset(&t[k], 0, sizeof t[k]);
			t[k++].before = v[i];
		}
		free(v);
		v = NULL;
	}
	*out = t;
	*n = k;
	t = NULL;
out:
	free(v);
	free(t);
	return rc;
}

static json_t *
start_json(const store_replay_opts *o)
{
	char when[32];

	if (o->from_seq > 0)
		return json_pack("{s:I}", "from_seq", (json_int_t)o->from_seq);
	store_time_format(o->since_ms, true, when);
	return json_pack("{s:s}", "since", when);
}

static int
redrive_dry(ctl *c, store_bus *bus, const store_replay_opts *o, target *t, size_t n)
{
	static const ctl_col cols[] = {
		{ "consumer", "CONSUMER", 0 }, { "subject", "SUBJECT", 0 },
		{ "deliver", "DELIVER", 0 }, { "ack_floor", "ACK FLOOR", 0 },
		{ "pending", "PENDING", 0 }, { "would_redeliver", "WOULD REDELIVER", 0 },
	};
	store_replay_opts ro;
	store_replay *r = NULL;
	uint64_t total;
	json_t *row;
	int rc = 0;

	ctl_out_begin(c, cols, 6, false);
	for (size_t i = 0; i < n && rc == 0; i++) {
		ro = (store_replay_opts){ t[i].before.subject, o->from_seq, 0, o->since_ms, 0, 0 };
		if ((rc = open_reading(c, bus, &ro, &r, &total)) != 0)
			break;
		store_replay_free(r);
		row = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:I,s:b}",
		                "consumer", t[i].before.name, "subject", t[i].before.subject,
		                "deliver", t[i].before.deliver,
		                "ack_floor", (json_int_t)t[i].before.ack_floor,
		                "pending", (json_int_t)t[i].before.pending,
		                "ack_pending", (json_int_t)t[i].before.ack_pending,
		                "listening", t[i].before.waiting > 0,
		                "would_redeliver", (json_int_t)total, "dry_run", 1);
		if (row != NULL)
			json_object_update_new(row, start_json(o));
		ctl_out_row(c, row);
	}
	ctl_out_end(c);
	return rc;
}

/* Waits until every target caught up, or the wait ran out. */
static int
redrive_wait(ctl *c, store_bus *bus, target *t, size_t n, long wait_s)
{
	store_consumer *v = NULL;
	ctl_progress pr;
	uint64_t total = 0, left;
	size_t nv;
	long long end = store_time_now_ms() + wait_s * 1000LL;
	bool all;
	store_err e;

	for (size_t i = 0; i < n; i++)
		total += t[i].events;
	ctl_progress_start(c, &pr, "redrive", total);
	for (;;) {
		all = true;
		left = 0;
		for (size_t i = 0; i < n; i++) {
			if (t[i].done)
				continue;
			e = store_bus_consumers(bus, t[i].before.name, &v, &nv);
			if (e == STORE_OK && nv == 1)
				t[i].now = v[0];
			free(v);
			v = NULL;
			if (e != STORE_OK && e != STORE_ENOTFOUND) {
				ctl_progress_end(c, &pr);
				return ctl_fail(c, ctl_status(e), "cannot read consumer '%s': %s",
				                t[i].before.name, store_strerror(e));
			}
			t[i].done = e == STORE_OK && t[i].now.pending == 0 &&
			            t[i].now.ack_pending == 0;
			left += t[i].now.pending + t[i].now.ack_pending;
			all = all && t[i].done;
		}
		ctl_progress_update(c, &pr, total > left ? total - left : 0, total);
		if (all)
			break;
		if (*c->stop || store_time_now_ms() >= end)
			break;
		struct timespec ts = { 0, POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	ctl_progress_end(c, &pr);
	return 0;
}

static int
replay_to(ctl *c, store_bus *bus, const char *names, const store_replay_opts *o, int dry,
          int no_wait, long wait_s)
{
	static const ctl_col cols[] = {
		{ "consumer", "CONSUMER", 0 }, { "subject", "SUBJECT", 0 },
		{ "events", "EVENTS", 0 }, { "status", "STATUS", 0 },
		{ "pending", "PENDING", 0 }, { "listening", "LISTENING", 0 },
	};
	target *t = NULL;
	size_t n = 0, behind = 0;
	json_t *row;
	store_err e;
	int rc;

	if ((rc = find_targets(c, bus, names, &t, &n)) != 0)
		goto out;
	if (dry) {
		rc = redrive_dry(c, bus, o, t, n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		e = store_bus_redrive(bus, t[i].before.name, o->from_seq, o->since_ms, &t[i].now);
		if (e != STORE_OK) {
			rc = ctl_fail(c, ctl_status(e), "cannot re-drive consumer '%s': %s",
			              t[i].before.name, store_strerror(e));
			goto out;
		}
		t[i].events = t[i].now.pending + t[i].now.ack_pending;
		if (t[i].before.waiting == 0 && t[i].events > 0)
			fprintf(stderr, "%s replay: nothing listens on '%s' now: its events wait "
			        "for its daemon\n", c->prog, t[i].before.name);
	}
	if (!no_wait && (rc = redrive_wait(c, bus, t, n, wait_s)) != 0)
		goto out;
	ctl_out_begin(c, cols, 6, false);
	for (size_t i = 0; i < n; i++) {
		const char *status = no_wait ? "redriven" : t[i].done ? "caught_up" : "behind";

		if (!no_wait && !t[i].done)
			behind++;
		row = json_pack("{s:s,s:s,s:I,s:s,s:I,s:I,s:b}",
		                "consumer", t[i].before.name, "subject", t[i].before.subject,
		                "events", (json_int_t)t[i].events, "status", status,
		                "pending", (json_int_t)t[i].now.pending,
		                "ack_pending", (json_int_t)t[i].now.ack_pending,
		                "listening", t[i].now.waiting > 0 || t[i].before.waiting > 0);
		if (row != NULL)
			json_object_update_new(row, start_json(o));
		ctl_out_row(c, row);
	}
	ctl_out_end(c);
	if (behind > 0)
		rc = ctl_fail(c, CTL_FAIL, "%zu consumer%s did not catch up %s", behind,
		              behind > 1 ? "s" : "", *c->stop ? "(interrupted)" :
		              "in time: is the daemon running? (--wait)");
out:
	free(t);
	return rc;
}

/* ---- replay ------------------------------------------------------------- */

/* --to: comma-separated consumer or service names. */
static int
names_ok(ctl *c, const char *names)
{
	const char *p = names;
	size_t n;
	int count = 0;

	for (;; p += n + 1) {
		n = strcspn(p, ",");
		if (n == 0 || n > 128 ||
		    strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
			return ctl_usage(c, "'%.*s' is not a consumer or service name ([a-z0-9_-])",
			                 (int)(n > 64 ? 64 : n), p);
		if (++count > NAMES_MAX)
			return ctl_usage(c, "--to names more than %d consumers", NAMES_MAX);
		if (p[n] == '\0')
			return 0;
	}
}

/* Parses --from-seq, --since and friends into o. */
static int
start_point(ctl *c, const char *from_seq, const char *since, store_replay_opts *o)
{
	long long n;

	if (from_seq != NULL && since != NULL)
		return ctl_usage(c, "--from-seq and --since cannot be used together");
	if (from_seq != NULL) {
		if (ctl_number(from_seq, 1, (long long)(~0ULL >> 1), &n) != 0)
			return ctl_usage(c, "--from-seq must be a stream sequence (1 or more), "
			                 "not '%.64s'", from_seq);
		o->from_seq = (uint64_t)n;
	}
	if (since != NULL && ctl_time(since, &o->since_ms) != 0)
		return ctl_usage(c, "--since must be an RFC 3339 time (2026-11-27T10:00:00Z) "
		                 "or a duration (90s, 15m, 2h, 7d), not '%.64s'", since);
	return 0;
}

int
cmd_replay(ctl *c, int argc, char **argv)
{
	const char *to = NULL, *subject = NULL, *from_seq = NULL, *to_seq = NULL;
	const char *since = NULL, *until = NULL, *wait = NULL;
	char pattern[256], *pos[1];
	store_replay_opts o = { 0 };
	store_bus *bus = NULL;
	long long n, wait_s = WAIT_DEFAULT_S;
	int print = 0, dry = 0, no_wait = 0, npos, rc;
	const ctl_opt opts[] = {
		{ "print", NULL, &print }, { "to", &to, NULL }, { "subject", &subject, NULL },
		{ "from-seq", &from_seq, NULL }, { "to-seq", &to_seq, NULL },
		{ "since", &since, NULL }, { "until", &until, NULL },
		{ "dry-run", NULL, &dry }, { "no-wait", NULL, &no_wait }, { "wait", &wait, NULL },
	};

	if ((rc = ctl_parse(c, opts, sizeof opts / sizeof *opts, argc, argv, pos, &npos, 0,
	                    0)) != 0)
		return rc;
	if ((rc = start_point(c, from_seq, since, &o)) != 0)
		return rc;
	if (to != NULL) {
		if ((rc = names_ok(c, to)) != 0)
			return rc;
		if (print)
			return ctl_usage(c, "--print and --to cannot be used together");
		if (subject != NULL || to_seq != NULL || until != NULL)
			return ctl_usage(c, "--subject, --to-seq and --until cannot be used with "
			                 "--to: a consumer's subject is its own, and once re-driven "
			                 "it delivers everything up to now");
		if (from_seq == NULL && since == NULL)
			return ctl_usage(c, "--to needs a start point: --from-seq N or --since TIME");
		if (wait != NULL && ctl_number(wait, 1, 86400, &wait_s) != 0)
			return ctl_usage(c, "--wait must be a number of seconds from 1 to 86400, "
			                 "not '%.64s'", wait);
	} else if (no_wait || wait != NULL) {
		return ctl_usage(c, "--no-wait and --wait go with --to");
	}
	if (subject != NULL) {
		if (ctl_subject(subject, pattern, sizeof pattern) != 0)
			return ctl_usage(c, "'%.64s' is not a subject or pattern", subject);
		o.subject = pattern;
	}
	if (to_seq != NULL) {
		if (ctl_number(to_seq, 1, (long long)(~0ULL >> 1), &n) != 0)
			return ctl_usage(c, "--to-seq must be a stream sequence, not '%.64s'", to_seq);
		o.to_seq = (uint64_t)n;
		if (o.from_seq > o.to_seq)
			return ctl_usage(c, "--to-seq is before --from-seq");
	}
	if (until != NULL) {
		if (ctl_time(until, &o.until_ms) != 0)
			return ctl_usage(c, "--until must be an RFC 3339 time or a duration, not "
			                 "'%.64s'", until);
		if (o.since_ms > 0 && o.until_ms < o.since_ms)
			return ctl_usage(c, "--until is before --since");
	}
	if ((rc = ctl_bus_open(c, &bus)) != 0)
		return rc;
	if (to != NULL)
		rc = replay_to(c, bus, to, &o, dry, no_wait, (long)wait_s);
	else
		rc = replay_print(c, bus, &o, dry);
	store_bus_free(bus);
	return rc;
}

/* ---- tail --------------------------------------------------------------- */

int
cmd_tail(ctl *c, int argc, char **argv)
{
	const char *from_seq = NULL, *since = NULL, *count = NULL;
	char pattern[256], *pos[2];
	store_replay_opts o = { .live = 1 };
	store_replay *r = NULL;
	store_bus *bus = NULL;
	long long max = 0, n = 0;
	json_t *ev;
	store_err e;
	int npos, rc;
	const ctl_opt opts[] = {
		{ "from-seq", &from_seq, NULL }, { "since", &since, NULL },
		{ "count", &count, NULL },
	};

	if ((rc = ctl_parse(c, opts, 3, argc, argv, pos, &npos, 0, 1)) != 0)
		return rc;
	if ((rc = start_point(c, from_seq, since, &o)) != 0)
		return rc;
	if (count != NULL && ctl_number(count, 1, 1000000000LL, &max) != 0)
		return ctl_usage(c, "--count must be a number of events, not '%.64s'", count);
	if (npos == 1) {
		if (ctl_subject(pos[0], pattern, sizeof pattern) != 0)
			return ctl_usage(c, "'%.64s' is not a subject or pattern", pos[0]);
		o.subject = pattern;
	}
	if ((rc = ctl_bus_open(c, &bus)) != 0)
		return rc;
	if ((rc = open_reading(c, bus, &o, &r, NULL)) != 0)
		goto out;
	ctl_out_begin(c, event_cols, 5, true);
	while (!*c->stop && !c->broken && (max == 0 || n < max)) {
		e = store_replay_next(r, FETCH_WAIT_MS, &ev);
		if (e == STORE_ELATER)
			continue;
		if (e != STORE_OK) {
			rc = ctl_fail(c, ctl_status(e), "reading the stream: %s", store_strerror(e));
			break;
		}
		ctl_out_row(c, ev);
		n++;
	}
	ctl_out_end(c);
out:
	store_replay_free(r);
	store_bus_free(bus);
	return rc;
}
