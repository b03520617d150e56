/* ctl_dead.c - storectl dead ls | retry | drop: the dead letters. */
#include "ctl_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"

#define FETCH_WAIT_MS 500

const char ctl_help_dead[] =
	"usage: storectl dead ls [--subject SUBJECT] [--consumer NAME]\n"
	"       storectl dead retry (ID... | --all [--subject SUBJECT] [--consumer NAME])\n"
	"                           [--dry-run]\n"
	"       storectl dead drop ID...\n"
	"\n"
	"Dead letters are events a service gave up on after STORE_MAX_DELIVER\n"
	"attempts (or at once, when malformed), kept on store.dead.<subject> with\n"
	"why. ID is a dead letter's stream sequence: the id column of dead ls.\n"
	"\n"
	"  ls      one line per dead letter: {id, time, subject, event_id, consumer,\n"
	"          error, delivered, attempts, original_seq, request_id, payload}:\n"
	"          delivered is JetStream's count, attempts the handler's runs\n"
	"  retry   fix the cause first. Re-publishes each dead letter on its original\n"
	"          subject with its payload, headers and original event id, then\n"
	"          deletes it. Every listener of the subject gets it again; those that\n"
	"          had handled it skip it (EVENTS.md, rule 4). Retrying the same dead\n"
	"          letter twice within 2 minutes publishes it once. Prints {id,\n"
	"          subject, event_id, seq, duplicate}\n"
	"  drop    deletes them, for good. Prints {id, dropped}\n"
	"\n"
	"options:\n"
	"  --subject SUBJECT   only dead letters of this original subject or pattern\n"
	"                      (short or in full: cart.add, store.product.*)\n"
	"  --consumer NAME     only those given up by this consumer (cart-cart-add)\n"
	"  --all               retry every dead letter (that the filters select)\n"
	"  --dry-run           retry: list what would be retried, change nothing\n"
	"\n"
	"exit status: 0 done, 1 no such dead letter (the others are still handled),\n"
	"64 usage, 69 NATS unavailable, 78 configuration.\n";

static const ctl_col dead_cols[] = {
	{ "id", "ID", 0 }, { "time", "TIME", 0 }, { "subject", "SUBJECT", 0 },
	{ "consumer", "CONSUMER", 0 }, { "delivered", "DELIVERED", 0 },
	{ "attempts", "ATTEMPTS", 0 },
	{ "event_id", "EVENT ID", 0 }, { "error", "ERROR", 0 },
};

typedef struct filter {
	const char *subject;       /* full pattern of the original subject, or NULL */
	const char *consumer;
} filter;

/* Reads every dead letter selected by f into the array out. */
static int
collect(ctl *c, store_bus *bus, const filter *f, json_t *out)
{
	char pattern[300];
	store_replay_opts o = { 0 };
	store_replay *r = NULL;
	json_t *ev, *v;
	store_err e;
	int rc = 0;

	snprintf(pattern, sizeof pattern, "%s%s", STORE_DEAD_PREFIX,
	         f->subject != NULL ? f->subject : "store.>");
	o.subject = pattern;
	if ((e = store_replay_open(bus, &o, &r, NULL)) != STORE_OK)
		return ctl_fail(c, ctl_status(e), "cannot read the dead letters: %s",
		                store_strerror(e));
	while (!*c->stop) {
		e = store_replay_next(r, FETCH_WAIT_MS, &ev);
		if (e == STORE_ENOTFOUND)
			break;
		if (e == STORE_ELATER)
			continue;
		if (e != STORE_OK) {
			rc = ctl_fail(c, ctl_status(e), "reading the dead letters: %s",
			              store_strerror(e));
			break;
		}
		v = store_dead_view(ev);
		json_decref(ev);
		if (v == NULL)
			continue;
		if (f->consumer != NULL && (store_json_str(v, "consumer") == NULL ||
		                            strcmp(store_json_str(v, "consumer"), f->consumer) != 0)) {
			json_decref(v);
			continue;
		}
		json_array_append_new(out, v);
	}
	if (rc == 0 && *c->stop)
		rc = ctl_fail(c, CTL_FAIL, "interrupted");
	store_replay_free(r);
	return rc;
}

static int
parse_ids(ctl *c, char **pos, int npos, uint64_t *ids)
{
	long long n;

	for (int i = 0; i < npos; i++) {
		if (ctl_number(pos[i], 1, (long long)(~0ULL >> 1), &n) != 0)
			return ctl_usage(c, "'%.64s' is not a dead letter id (a stream sequence: "
			                 "see dead ls)", pos[i]);
		ids[i] = (uint64_t)n;
	}
	return 0;
}

static int
dead_ls(ctl *c, store_bus *bus, const filter *f)
{
	json_t *all = json_array(), *v;
	size_t i;
	int rc;

	if (all == NULL)
		return ctl_fail(c, CTL_SOFTWARE, "out of memory");
	if ((rc = collect(c, bus, f, all)) == 0) {
		ctl_out_begin(c, dead_cols, sizeof dead_cols / sizeof *dead_cols, false);
		json_array_foreach(all, i, v)
			ctl_out_row(c, json_incref(v));
		ctl_out_end(c);
	}
	json_decref(all);
	return rc;
}

/* Retries (or drops) one dead letter, printing its line. */
static int
one(ctl *c, store_bus *bus, uint64_t id, bool drop, bool dry)
{
	json_t *v = NULL;
	uint64_t seq = 0;
	int dup = 0, rc = 0;
	store_err e;

	if ((e = store_dead_get(bus, id, &v)) != STORE_OK) {
		if (e == STORE_ENOTFOUND)
			return ctl_fail(c, CTL_FAIL, "no dead letter %llu", (unsigned long long)id);
		return ctl_fail(c, ctl_status(e), "cannot read dead letter %llu: %s",
		                (unsigned long long)id, store_strerror(e));
	}
	if (dry) {
		json_object_set_new(v, "dry_run", json_true());
		ctl_out_row(c, v);
		return 0;
	}
	e = drop ? store_dead_drop(bus, id) : store_dead_retry(bus, id, &seq, &dup);
	if (e == STORE_ENOTFOUND) {
		rc = ctl_fail(c, CTL_FAIL, "no dead letter %llu (handled meanwhile?)",
		              (unsigned long long)id);
	} else if (e == STORE_EIO && !drop) {
		rc = ctl_fail(c, CTL_FAIL, "dead letter %llu was re-published (seq %llu) but "
		              "could not be deleted; retrying it again is harmless",
		              (unsigned long long)id, (unsigned long long)seq);
	} else if (e != STORE_OK) {
		rc = ctl_fail(c, ctl_status(e), "cannot %s dead letter %llu: %s",
		              drop ? "drop" : "retry", (unsigned long long)id, store_strerror(e));
	} else if (drop) {
		ctl_out_row(c, json_pack("{s:I,s:s?,s:s?,s:b}", "id", (json_int_t)id,
		                         "subject", store_json_str(v, "subject"),
		                         "event_id", store_json_str(v, "event_id"),
		                         "dropped", 1));
	} else {
		ctl_out_row(c, json_pack("{s:I,s:s?,s:s?,s:I,s:b}", "id", (json_int_t)id,
		                         "subject", store_json_str(v, "subject"),
		                         "event_id", store_json_str(v, "event_id"),
		                         "seq", (json_int_t)seq, "duplicate", dup));
	}
	json_decref(v);
	return rc;
}

static int
dead_act(ctl *c, store_bus *bus, const filter *f, uint64_t *ids, size_t n, bool all,
         bool drop, bool dry)
{
	static const ctl_col cols[] = {
		{ "id", "ID", 0 }, { "subject", "SUBJECT", 0 }, { "event_id", "EVENT ID", 0 },
		{ "seq", "SEQ", 0 }, { "duplicate", "DUPLICATE", 0 }, { "dropped", "DROPPED", 0 },
	};
	json_t *found = NULL, *v;
	uint64_t *list = ids;
	size_t i;
	int rc = 0, r;

	if (all) {
		if ((found = json_array()) == NULL)
			return ctl_fail(c, CTL_SOFTWARE, "out of memory");
		if ((rc = collect(c, bus, f, found)) != 0)
			goto out;
		n = json_array_size(found);
		if ((list = calloc(n + 1, sizeof *list)) == NULL) {
			rc = ctl_fail(c, CTL_SOFTWARE, "out of memory");
			goto out;
		}
		json_array_foreach(found, i, v)
			list[i] = (uint64_t)store_json_int(v, "id", 0);
	}
	ctl_out_begin(c, dry ? dead_cols : cols, dry ? sizeof dead_cols / sizeof *dead_cols
	                                              : sizeof cols / sizeof *cols, false);
	for (i = 0; i < n && !*c->stop; i++)
		if ((r = one(c, bus, list[i], drop, dry)) != 0 && (rc == 0 || r != CTL_FAIL))
			rc = r;
	ctl_out_end(c);
	if (*c->stop && i < n)
		rc = ctl_fail(c, CTL_FAIL, "interrupted after %zu of %zu", i, n);
out:
	if (list != ids)
		free(list);
	json_decref(found);
	return rc;
}

int
cmd_dead(ctl *c, int argc, char **argv)
{
	const char *subject = NULL, *consumer = NULL;
	char pattern[256], **pos = calloc((size_t)argc + 1, sizeof *pos);
	uint64_t *ids = calloc((size_t)argc + 1, sizeof *ids);
	store_bus *bus = NULL;
	filter f = { NULL, NULL };
	int all = 0, dry = 0, npos = 0, rc;
	const ctl_opt opts[] = {
		{ "subject", &subject, NULL }, { "consumer", &consumer, NULL },
		{ "all", NULL, &all }, { "dry-run", NULL, &dry },
	};

	if (pos == NULL || ids == NULL) {
		rc = ctl_fail(c, CTL_SOFTWARE, "out of memory");
		goto out;
	}
	if ((rc = ctl_parse(c, opts, 4, argc, argv, pos, &npos, 0, -1)) != 0)
		goto out;
	if (npos == 0) {
		rc = ctl_usage(c, "which: ls, retry or drop?");
		goto out;
	}
	c->sub = pos[0];
	if (strcmp(pos[0], "ls") != 0 && strcmp(pos[0], "retry") != 0 &&
	    strcmp(pos[0], "drop") != 0) {
		c->sub = NULL;
		rc = ctl_usage(c, "unknown subcommand '%.64s' (ls, retry or drop)", pos[0]);
		goto out;
	}
	if (subject != NULL) {
		if (ctl_subject(subject, pattern, sizeof pattern) != 0) {
			rc = ctl_usage(c, "'%.64s' is not a subject or pattern", subject);
			goto out;
		}
		f.subject = pattern;
	}
	if (consumer != NULL &&
	    strspn(consumer, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(consumer)) {
		rc = ctl_usage(c, "'%.64s' is not a consumer name", consumer);
		goto out;
	}
	f.consumer = consumer;
	if (strcmp(pos[0], "ls") == 0) {
		if (npos > 1 || all || dry) {
			rc = ctl_usage(c, "ls takes --subject and --consumer only");
			goto out;
		}
	} else if (strcmp(pos[0], "retry") == 0) {
		if (all == (npos > 1)) {
			rc = ctl_usage(c, "retry takes dead letter ids or --all (not both)");
			goto out;
		}
		if (!all && (subject != NULL || consumer != NULL)) {
			rc = ctl_usage(c, "--subject and --consumer select with --all");
			goto out;
		}
	} else {
		if (npos < 2 || all || dry || subject != NULL || consumer != NULL) {
			rc = ctl_usage(c, "drop takes dead letter ids only");
			goto out;
		}
	}
	if ((rc = parse_ids(c, pos + 1, npos - 1, ids)) != 0)
		goto out;
	if ((rc = ctl_bus_open(c, &bus)) != 0)
		goto out;
	if (strcmp(pos[0], "ls") == 0)
		rc = dead_ls(c, bus, &f);
	else
		rc = dead_act(c, bus, &f, ids, (size_t)npos - 1, all, strcmp(pos[0], "drop") == 0,
		              dry);
out:
	store_bus_free(bus);
	free(ids);
	free(pos);
	return rc;
}
