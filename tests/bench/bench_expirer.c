/* bench_expirer - the delayed-jobs benchmark of make bench (tests/bench/run).
 *
 * The store: N jobs due uniformly over a window of W ms starting L ms from
 * now, scheduled through the library (store_jobs_schedule, with the prefix
 * the running expirerd uses and payloads shaped like the ones it makes of
 * product.selected), fired by expirerd, which publishes one
 * store.expiration.complete per job. A job's lateness is its message's
 * JetStream timestamp (when the server stored it) minus its due time;
 * jobs/s is N over the time from the first due time to the last message.
 * The messages are read after the run, once its jobs are all done (none
 * left in Redis: a job is deleted once its publish is acknowledged), by
 * an ephemeral push consumer (no acks) from the stream sequence the run
 * started at: the timestamps are the server's, so reading later changes
 * none of them, and reading takes no CPU from what is measured.
 *
 * The baseline, the floor of this machine: the same schedule (a new
 * window, same shape) kept in this process's memory and fired by a loop
 * that sleeps until each due time (clock_nanosleep, absolute) and
 * publishes the job raw with nats.c (js_PublishMsgAsync, at most
 * STORE_EXPIRATION_PENDING in flight, as many as expirerd keeps) to a
 * scratch stream on the same server, measured the same way (read once
 * every publish is acknowledged).
 * No Redis, no lease, no library: what firing on time through JetStream
 * costs here.
 *
 * Prints one JSON object on stdout. Exit status: 0 measured (see "valid"),
 * 1 failure, 64 usage. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "bench.h"
#include "store/expiration.h"
#include "store/jobs.h"
#include "store/log.h"
#include "store/oid.h"

#define PROG          "bench_expirer"
#define DRAIN_WAIT_S  180          /* after the window, for the last jobs */
#define COLLECT_IDLE_MS 5000       /* reading: no message for this long, done */
#define POLL_MS       20           /* how often Redis is asked what is left */
#define LEAD_MIN_MS   3000         /* the default lead: this, plus */
#define LEAD_PER_MS   8            /* 1 ms per this many jobs, to schedule them
                                    * (a loaded 2-core machine: ~8k/s) */
#define BASE_LEAD_MS  2000         /* the baseline schedules nothing */
#define PRODUCTS      100          /* jobs are holds on this many products */
#define BASE_STREAM   "BENCH_EXPIRER"
#define BASE_SUBJECT  "bench.expirer.expiration.complete"
#define STORE_SUBJECT "store.expiration.complete"

static const char usage[] =
	"usage: bench_expirer [-n N] [--window-ms W] [--lead-ms L] [--threads T]\n"
	"\n"
	"Schedules N delayed jobs (default 100000) due uniformly over W ms (10000)\n"
	"starting L ms from now (default 3000 + N/8, the time to schedule them all\n"
	"first) through the library from T threads (2), for the running expirerd\n"
	"(REDIS_URL, STORE_JOBS_PREFIX as it has them), and measures when their\n"
	"store.expiration.complete reach JetStream (NATS_URL); then the same\n"
	"schedule fired by an in-process sleep-until loop publishing raw to a\n"
	"scratch stream, asynchronously with as many in flight as expirerd keeps\n"
	"(8192). W 0: all N are due at the same instant (a burst; see\n"
	"drained_s). Prints one JSON object.\n";

/* One run: the schedule and what came of it. */
typedef struct run {
	long n;
	char tag[17];                 /* the selection ids' first 16 hex */
	long long *due;               /* ms since the epoch */
	double *fired;                /* JetStream timestamp, ms; < 0: not yet */
	long got;                     /* distinct jobs seen */
	long dups;                    /* a job seen again */
	long foreign;                 /* messages not of this run */
	double deadline;              /* wall ms: stop waiting for the jobs */
} run;

static void
run_init(run *r, long n, long long start, long window)
{
	static unsigned salt;

	r->n = n;
	snprintf(r->tag, sizeof r->tag, "%08x%08x", (unsigned)time(NULL),
	         (unsigned)getpid() ^ (++salt << 24));
	r->due = calloc((size_t)n, sizeof *r->due);
	r->fired = calloc((size_t)n, sizeof *r->fired);
	if (r->due == NULL || r->fired == NULL)
		bench_die(PROG, "out of memory");
	for (long i = 0; i < n; i++) {
		r->due[i] = start + (long long)((double)i * window / n);
		r->fired[i] = -1;
	}
	r->got = r->dups = r->foreign = 0;
	r->deadline = (double)start + window + DRAIN_WAIT_S * 1000.0;
}

static void
run_free(run *r)
{
	free(r->due);
	free(r->fired);
}

/* Job i's selection id (a valid ObjectId) and payload, as expirerd makes
 * them of a product.selected (productId, selectionId, categoryId, views). */
static void
job_id(const run *r, long i, char id[STORE_OID_LEN + 1])
{
	snprintf(id, STORE_OID_LEN + 1, "%.16s%08x", r->tag, (unsigned)i);
}

static void
job_payload(const run *r, long i, char *buf, size_t len)
{
	char sel[STORE_OID_LEN + 1];

	job_id(r, i, sel);
	snprintf(buf, len, "{\"productId\":\"%.16s%08x\",\"selectionId\":\"%s\","
	         "\"categoryId\":\"%.16s%08x\",\"views\":%ld}", r->tag,
	         (unsigned)(0x10000000 + i % PRODUCTS), sel, r->tag, 0x20000000u,
	         1 + i % 5);
}

static natsConnection *nc;
static jsCtx *js;

/* Notes message m of the run (its JetStream timestamp) and frees it. */
static void
collect_one(run *r, natsMsg *m)
{
	jsMsgMetaData *meta = NULL;
	json_t *p = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0,
	                       NULL);
	const char *sel = json_string_value(json_object_get(p, "selectionId"));
	unsigned long i;

	if (sel == NULL || strlen(sel) != STORE_OID_LEN || strncmp(sel, r->tag, 16) != 0 ||
	    (i = strtoul(sel + 16, NULL, 16)) >= (unsigned long)r->n ||
	    natsMsg_GetMetaData(&meta, m) != NATS_OK) {
		r->foreign++;
	} else if (r->fired[i] >= 0) {
		r->dups++;
	} else {
		r->fired[i] = (double)meta->Timestamp / 1e6;
		r->got++;
	}
	jsMsgMetaData_Destroy(meta);
	json_decref(p);
	natsMsg_Destroy(m);
}

/* The last sequence of stream now (0: empty). */
static uint64_t
last_seq(const char *stream)
{
	jsStreamInfo *si = NULL;
	jsErrCode je = 0;
	natsStatus s;
	uint64_t seq;

	if ((s = js_GetStreamInfo(&si, js, stream, NULL, &je)) != NATS_OK)
		bench_die(PROG, "cannot read stream '%s': %s", stream, natsStatus_GetText(s));
	seq = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return seq;
}

/* A push subscription on subject of stream from sequence seq on, no acks,
 * its consumer ephemeral (gone with the subscription), nothing dropped
 * for a slow reader. */
static natsStatus
push_sub(const char *stream, const char *subject, uint64_t seq, natsSubscription **sub)
{
	jsSubOptions so;
	jsErrCode je = 0;
	natsStatus s;

	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = seq;
	so.Config.AckPolicy = js_AckNone;
	so.Config.ReplayPolicy = js_ReplayInstant;
	s = js_SubscribeSync(sub, js, subject, NULL, &so, &je);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(*sub, -1, -1);
	return s;
}

/* Unsubscribes sub (its ephemeral consumer goes), lets the connection's
 * reader finish whatever it was delivering to it (the server answers the
 * flush's PING after every message it sent before), then frees it: nats.c
 * before 3.6 could deliver a message for a subscription being destroyed to
 * freed memory (nats.c#638). */
static void
sub_close(natsSubscription *sub)
{
	(void)natsSubscription_Unsubscribe(sub);
	(void)natsConnection_FlushTimeout(nc, 5000);
	natsSubscription_Destroy(sub);
}

/* Reads the run's messages from stream, sequence from_seq on, one at a
 * time, from a push consumer, until all N are seen or none came for
 * COLLECT_IDLE_MS; then closes it. (Pull Fetch batches were used before:
 * with nats.c 3.4.1, natsMsgList_Destroy of a fetched list aborted this
 * program under load with "double free or corruption", twice in the
 * collector, seen in core dumps.) */
static void
collect(run *r, const char *stream, const char *subject, uint64_t from_seq)
{
	double idle_since = bench_mono_ms();
	natsSubscription *sub = NULL;
	natsMsg *m;
	natsStatus s;

	if ((s = push_sub(stream, subject, from_seq, &sub)) != NATS_OK)
		bench_die(PROG, "cannot read stream '%s': %s", stream, natsStatus_GetText(s));
	while (r->got < r->n &&
	       bench_mono_ms() - idle_since < COLLECT_IDLE_MS) {
		m = NULL;
		s = natsSubscription_NextMsg(&m, sub, 500);
		if (s == NATS_OK) {
			collect_one(r, m);
			idle_since = bench_mono_ms();
		} else if (s != NATS_TIMEOUT) {
			bench_sleep_ms(10);
		}
	}
	sub_close(sub);
}

/* The figures of a finished run. */
static json_t *
run_figures(run *r, const char *path, long window)
{
	double *late = malloc((size_t)r->n * sizeof *late), last = 0, span;
	size_t k = 0;
	json_t *out;

	if (late == NULL)
		bench_die(PROG, "out of memory");
	for (long i = 0; i < r->n; i++) {
		if (r->fired[i] < 0)
			continue;
		late[k++] = r->fired[i] - (double)r->due[i];
		if (r->fired[i] > last)
			last = r->fired[i];
	}
	qsort(late, k, sizeof *late, bench_cmp_double);
	span = k > 0 ? (last - (double)r->due[0]) / 1000 : 0;
	out = json_pack("{s:s,s:i,s:i,s:i,s:{s:f,s:f,s:f,s:f,s:f},s:f,s:f,s:f,s:b}",
	                "path", path,
	                "fired", (json_int_t)k,
	                "duplicates", (json_int_t)r->dups,
	                "missing", (json_int_t)(r->n - (long)k),
	                "lateness_ms",
	                "min", k > 0 ? late[0] : 0.0,
	                "p50", bench_percentile(late, k, 50, 1),
	                "p99", bench_percentile(late, k, 99, 1),
	                "p999", bench_percentile(late, k, 99.9, 1),
	                "max", k > 0 ? late[k - 1] : 0.0,
	                "jobs_per_s", span > 0 ? (double)k / span : 0.0,
	                "drained_s", span,
	                "last_after_window_end_s",
	                k > 0 ? (last - ((double)r->due[0] + window)) / 1000 : 0.0,
	                "valid", (long)k == r->n);
	free(late);
	return out;
}


static void
nats_open(void)
{
	const char *url = getenv("NATS_URL");
	jsOptions jo;
	natsStatus s;

	if (url == NULL || *url == '\0')
		url = "nats://127.0.0.1:4222";
	if ((s = natsConnection_ConnectTo(&nc, url)) != NATS_OK)
		bench_die(PROG, "cannot connect to '%s': %s", url, natsStatus_GetText(s));
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = STORE_EXPIRATION_PENDING;   /* as expirerd */
	if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK)
		bench_die(PROG, "jetstream: %s", natsStatus_GetText(s));
}

/* ---- the store ---------------------------------------------------------- */

/* One scheduling thread: jobs first, first + step, ... in due order, on
 * its own connection. */
struct sched {
	run *r;
	const char *url, *prefix;
	long first, step;
	long late;                    /* scheduled after it was due */
	char err[256];
	pthread_t tid;
};

static void *
sched_main(void *arg)
{
	struct sched *t = arg;
	store_jobs *jobs = NULL;
	char id[STORE_OID_LEN + 1], payload[256], why[128] = "";
	store_err e;

	if (store_jobs_open(t->url, t->prefix, &jobs, t->err, sizeof t->err) != STORE_OK)
		return NULL;
	for (long i = t->first; i < t->r->n; i += t->step) {
		job_id(t->r, i, id);
		job_payload(t->r, i, payload, sizeof payload);
		if (bench_wall_ms() > (double)t->r->due[i])
			t->late++;
		if ((e = store_jobs_schedule(jobs, id, t->r->due[i], payload, NULL)) != STORE_OK) {
			store_jobs_last_error(jobs, why, sizeof why);
			snprintf(t->err, sizeof t->err, "cannot schedule job %ld: %s (%s)", i,
			         store_strerror(e), why);
			break;
		}
	}
	store_jobs_free(jobs);
	return NULL;
}

static json_t *
run_store(long n, long window, long lead, long threads)
{
	const char *url = getenv("REDIS_URL"), *prefix = getenv("STORE_JOBS_PREFIX");
	store_jobs *jobs = NULL;
	struct sched *ts;
	char msg[256] = "";
	run r;
	uint64_t from_seq;
	long late = 0;
	double t0, t1;
	size_t waiting = 0, leased = 0;
	json_t *out;

	if (url == NULL || *url == '\0')
		url = "redis://127.0.0.1:6379";
	if (prefix == NULL || *prefix == '\0')
		prefix = "store:expiration";
	if (store_jobs_open(url, prefix, &jobs, msg, sizeof msg) != STORE_OK)
		bench_die(PROG, "jobs: %s", msg);
	if (store_jobs_ping(jobs) != STORE_OK)
		bench_die(PROG, "redis at '%s' does not answer", url);
	run_init(&r, n, (long long)bench_wall_ms() + lead, window);
	from_seq = last_seq("STORE") + 1;

	if ((ts = calloc((size_t)threads, sizeof *ts)) == NULL)
		bench_die(PROG, "out of memory");
	t0 = bench_mono_ms();
	for (long k = 0; k < threads; k++) {
		ts[k] = (struct sched){ &r, url, prefix, k, threads, 0, "", 0 };
		if (pthread_create(&ts[k].tid, NULL, sched_main, &ts[k]) != 0)
			bench_die(PROG, "cannot start a thread");
	}
	for (long k = 0; k < threads; k++) {
		pthread_join(ts[k].tid, NULL);
		if (ts[k].err[0] != '\0')
			bench_die(PROG, "%s", ts[k].err);
		late += ts[k].late;
	}
	t1 = bench_mono_ms();
	free(ts);
	/* A job is done (gone from Redis) once its publish is acknowledged. */
	while (store_jobs_count(jobs, &waiting, &leased) != STORE_OK ||
	       waiting + leased > 0) {
		if (bench_wall_ms() > r.deadline)
			break;
		bench_sleep_ms(POLL_MS);
	}
	collect(&r, "STORE", STORE_SUBJECT, from_seq);

	out = run_figures(&r, "store_jobs_schedule -> redis -> expirerd (take_next a "
	                  "batch, store_bus_publish_send, sleep; publish_wait, done_many) -> "
	                  "STORE stream", window);
	json_object_set_new(out, "schedule_threads", json_integer(threads));
	json_object_set_new(out, "schedule_s", json_real((t1 - t0) / 1000));
	json_object_set_new(out, "schedule_per_s", json_real(n / ((t1 - t0) / 1000)));
	json_object_set_new(out, "scheduled_after_due", json_integer(late));
	json_object_set_new(out, "left_in_redis", json_integer((json_int_t)(waiting + leased)));
	json_object_set_new(out, "prefix", json_string(prefix));
	if (late > 0)
		json_object_set_new(out, "valid", json_false());
	run_free(&r);
	store_jobs_free(jobs);
	return out;
}

/* ---- the baseline ------------------------------------------------------- */

static json_t *
run_baseline(long n, long window, long lead)
{
	char id[STORE_OID_LEN + 1], payload[256];
	jsPubOptions po;
	jsErrCode je = 0;
	uint64_t from_seq;
	run r;
	natsStatus s;
	json_t *out;

	if ((s = bench_scratch_stream(js, BASE_STREAM, "bench.expirer.>")) != NATS_OK)
		bench_die(PROG, "baseline: cannot make the scratch stream: %s",
		          natsStatus_GetText(s));
	run_init(&r, n, (long long)bench_wall_ms() + lead, window);
	from_seq = last_seq(BASE_STREAM) + 1;
	jsPubOptions_Init(&po);
	po.MaxWait = 5000;
	for (long i = 0; i < n; i++) {
		struct timespec at = { (time_t)(r.due[i] / 1000),
		                       (long)(r.due[i] % 1000) * 1000000L };
		natsMsg *m = NULL;

		while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) != 0)
			;
		job_id(&r, i, id);
		job_payload(&r, i, payload, sizeof payload);
		s = natsMsg_Create(&m, BASE_SUBJECT, NULL, payload, (int)strlen(payload));
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
		/* A loaded machine may stall those in flight past the stall
		 * wait: wait and send again (m stays ours until it is taken). */
		for (int t = 0; s == NATS_OK || (s == NATS_TIMEOUT && t < 600); t++) {
			if (s == NATS_TIMEOUT)
				bench_sleep_ms(100);
			if ((s = js_PublishMsgAsync(js, &m, &po)) != NATS_TIMEOUT)
				break;
		}
		natsMsg_Destroy(m);
		if (s != NATS_OK)
			bench_die(PROG, "baseline: publish failed: %s", natsStatus_GetText(s));
	}
	po.MaxWait = 60000;
	(void)js_PublishAsyncComplete(js, &po);
	collect(&r, BASE_STREAM, BASE_SUBJECT, from_seq);

	out = run_figures(&r, "in-process sleep-until-due loop -> js_PublishMsgAsync "
	                  "(STORE_EXPIRATION_PENDING in flight) -> scratch stream", window);
	(void)js_DeleteStream(js, BASE_STREAM, NULL, &je);
	run_free(&r);
	return out;
}

int
main(int argc, char **argv)
{
	long n = 100000, window = 10000, lead = -1, threads = 2;
	json_t *store, *base, *out;
	double a, b;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(arg, "-n") == 0) {
			n = bench_num(PROG, "-n", val, 1, 10000000);
		} else if (strcmp(arg, "--window-ms") == 0) {
			window = bench_num(PROG, "--window-ms", val, 0, 3600000);
		} else if (strcmp(arg, "--lead-ms") == 0) {
			lead = bench_num(PROG, "--lead-ms", val, 0, 600000);
		} else if (strcmp(arg, "--threads") == 0) {
			threads = bench_num(PROG, "--threads", val, 1, 64);
		} else {
			fputs(usage, stderr);
			return 64;
		}
		i++;
	}
	store_log_init(PROG, STORE_LOG_WARN);
	nats_open();

	if (lead < 0)
		lead = LEAD_MIN_MS + n / LEAD_PER_MS;
	store = run_store(n, window, lead, threads);
	base = run_baseline(n, window, BASE_LEAD_MS);
	a = json_real_value(json_object_get(store, "jobs_per_s"));
	b = json_real_value(json_object_get(base, "jobs_per_s"));
	out = json_pack("{s:i,s:f,s:f,s:o,s:o,s:f}", "jobs", (json_int_t)n,
	                "window_s", window / 1000.0, "lead_s", lead / 1000.0,
	                "store", store, "baseline", base, "ratio", b > 0 ? a / b : 0.0);
	json_dumpf(out, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(out);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_Close();
	return 0;
}
