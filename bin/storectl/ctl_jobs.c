/* ctl_jobs.c - storectl jobs ls | count: the delayed jobs in Redis. */
#include "ctl_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/config.h"
#include "store/jobs.h"
#include "store/time.h"

#define LIST_DEFAULT 1000

const char ctl_help_jobs[] =
	"usage: storectl jobs ls [--limit N]\n"
	"       storectl jobs count\n"
	"\n"
	"The delayed jobs in Redis: the expiration service's holds, each due when\n"
	"its hold runs out (expirerd(8)).\n"
	"\n"
	"  ls      one line per job, waiting ones by due time, then leased ones (taken\n"
	"          by an expirerd, not yet done): {id, state, due, due_in_s, next,\n"
	"          lease_until, tries, payload}; due_in_s is negative when late\n"
	"  count   {waiting, leased}\n"
	"\n"
	"options:\n"
	"  --limit N    at most N jobs (1 to 10000; 1000)\n"
	"\n"
	"environment: REDIS_URL (redis://127.0.0.1:6379), STORE_JOBS_PREFIX\n"
	"(store:expiration), as expirerd's.\n"
	"\n"
	"exit status: 0 done, 64 usage, 69 Redis unavailable, 78 configuration.\n";

/* Opens the jobs of REDIS_URL and STORE_JOBS_PREFIX; 0 or the status. */
static int
jobs_open(ctl *c, store_jobs **out)
{
	const char *url = NULL, *prefix = NULL;
	char msg[512] = "", why[256] = "";
	store_err e;
	const store_setting settings[] = {
		{ "REDIS_URL", STORE_SETTING_STR, "redis://127.0.0.1:6379", 0, 0, &url, NULL },
		{ "STORE_JOBS_PREFIX", STORE_SETTING_STR, "store:expiration", 0, 0, &prefix,
		  NULL },
	};

	*out = NULL;
	if (store_config_load(settings, 2, msg, sizeof msg) != STORE_OK)
		return ctl_fail(c, CTL_CONFIG, "%s", msg);
	if ((e = store_jobs_open(url, prefix, out, msg, sizeof msg)) != STORE_OK)
		return ctl_fail(c, e == STORE_EINVAL ? CTL_CONFIG : ctl_status(e),
		                "setting '%s': %s", strncmp(msg, "key prefix", 10) == 0 ?
		                "STORE_JOBS_PREFIX" : "REDIS_URL", msg);
	if (store_jobs_ping(*out) != STORE_OK) {
		store_jobs_last_error(*out, why, sizeof why);
		store_jobs_free(*out);
		*out = NULL;
		return ctl_fail(c, CTL_UNAVAILABLE, "redis does not answer (%s)", why);
	}
	return 0;
}

static json_t *
time_or_null(long long ms)
{
	char text[32];

	if (ms <= 0)
		return json_null();
	store_time_format(ms, true, text);
	return json_string(text);
}

static int
jobs_ls(ctl *c, store_jobs *j, long long limit)
{
	static const ctl_col cols[] = {
		{ "id", "ID", 0 }, { "state", "STATE", 0 }, { "due", "DUE", 0 },
		{ "due_in_s", "DUE IN (S)", 0 }, { "tries", "TRIES", 0 },
		{ "payload", "PAYLOAD", 0 },
	};
	store_job *v = NULL;
	long long now = 0;
	json_t *payload, *row;
	size_t n = 0;
	store_err e;

	if ((e = store_jobs_time(j, &now)) != STORE_OK ||
	    (e = store_jobs_list(j, (size_t)limit, &v, &n)) != STORE_OK)
		return ctl_fail(c, ctl_status(e), "cannot list the jobs: %s", store_strerror(e));
	ctl_out_begin(c, cols, sizeof cols / sizeof *cols, false);
	for (size_t i = 0; i < n; i++) {
		payload = json_loads(v[i].payload, 0, NULL);
		if (payload == NULL)
			payload = json_string(v[i].payload);
		row = json_pack("{s:s,s:s,s:o,s:I,s:o,s:o,s:I,s:o}",
		                "id", v[i].id, "state", v[i].lease_ms > 0 ? "leased" : "waiting",
		                "due", time_or_null(v[i].due_ms),
		                "due_in_s", (json_int_t)((v[i].due_ms - now) / 1000),
		                "next", time_or_null(v[i].next_ms),
		                "lease_until", time_or_null(v[i].lease_ms),
		                "tries", (json_int_t)v[i].tries,
		                "payload", payload != NULL ? payload : json_null());
		ctl_out_row(c, row);
	}
	ctl_out_end(c);
	store_jobs_list_free(v, n);
	return 0;
}

int
cmd_jobs(ctl *c, int argc, char **argv)
{
	const char *limit = NULL;
	char *pos[2];
	store_jobs *j = NULL;
	size_t waiting = 0, leased = 0;
	long long max = LIST_DEFAULT;
	store_err e;
	int npos, rc;
	const ctl_opt opts[] = { { "limit", &limit, NULL } };

	if ((rc = ctl_parse(c, opts, 1, argc, argv, pos, &npos, 0, 1)) != 0)
		return rc;
	if (npos == 0)
		return ctl_usage(c, "which: ls or count?");
	c->sub = pos[0];
	if (strcmp(pos[0], "ls") != 0 && strcmp(pos[0], "count") != 0) {
		c->sub = NULL;
		return ctl_usage(c, "unknown subcommand '%.64s' (ls or count)", pos[0]);
	}
	if (limit != NULL && (strcmp(pos[0], "ls") != 0 ||
	                      ctl_number(limit, 1, STORE_JOBS_LIST_MAX, &max) != 0))
		return ctl_usage(c, "--limit goes with ls and must be from 1 to %d",
		                 STORE_JOBS_LIST_MAX);
	if ((rc = jobs_open(c, &j)) != 0)
		return rc;
	if (strcmp(pos[0], "ls") == 0) {
		rc = jobs_ls(c, j, max);
	} else if ((e = store_jobs_count(j, &waiting, &leased)) != STORE_OK) {
		rc = ctl_fail(c, ctl_status(e), "cannot count the jobs: %s", store_strerror(e));
	} else {
		ctl_out_begin(c, (const ctl_col[]){ { "waiting", "WAITING", 0 },
		                                    { "leased", "LEASED", 0 } }, 2, false);
		ctl_out_row(c, json_pack("{s:I,s:I}", "waiting", (json_int_t)waiting,
		                         "leased", (json_int_t)leased));
		ctl_out_end(c);
	}
	store_jobs_free(j);
	return rc;
}
