/* expirerd - the expiration service.
 *
 * Holds on products run out: for each store.product.selected it schedules
 * a delayed job in Redis (id = selectionId, due at expiresAt), acking the
 * event only once Redis has it; a firing thread sleeps exactly until the
 * next job is due, takes due jobs under a lease, publishes
 * store.expiration.complete and only then deletes the job. It has no
 * database: Redis (with AOF) holds the jobs.
 *
 * Firing is at least once and harmless when more: a job is deleted only
 * after its event was published, so a crash in between fires it again
 * when its lease lapses, with the same event id (derived from the
 * selection id), which JetStream drops inside its duplicate window and the
 * products service's processed table drops after it. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <sodium.h>

#include "store/bus.h"
#include "store/config.h"
#include "store/jobs.h"
#include "store/json.h"
#include "store/log.h"
#include "store/oid.h"

#define FIRE_BATCH      100       /* jobs per take */
#define WAIT_MAX_MS     300000    /* a safety net: waits end on time anyway */
#define RETRY_MIN_MS    250       /* a job whose publish failed: first delay */
#define RETRY_MAX_MS    8000
#define DOWN_MIN_MS     100       /* redis down: first pause */
#define DOWN_MAX_MS     2000
#define TIME_TEXT_MAX   64        /* an RFC 3339 time */
#define NAME_MAX_LEN    64        /* productId, categoryId */

static const char usage[] =
	"usage: expirerd [--help]\n"
	"\n"
	"The expiration service's daemon: listens for store.product.selected and\n"
	"schedules a delayed job in Redis, due at the hold's expiresAt; when it is\n"
	"due, publishes store.expiration.complete (the products service then\n"
	"releases the hold). Jobs are deleted only after the event is published.\n"
	"\n"
	"environment:\n"
	"  REDIS_URL             redis://[[user]:password@]host[:port][/db] or\n"
	"                        unix:/path (redis://127.0.0.1:6379)\n"
	"  STORE_JOBS_PREFIX     prefix of the Redis keys (store:expiration)\n"
	"  STORE_JOB_LEASE_MS    how long a taken job is reserved before another\n"
	"                        copy may fire it, 1000 to 3600000 (30000)\n"
	"  NATS_URL              NATS server with JetStream (nats://127.0.0.1:4222)\n"
	"  STORE_STREAM_MAX_AGE  days the stream keeps events (30)\n"
	"  STORE_ACK_WAIT_MS     consumer ack wait (5000)\n"
	"  STORE_MAX_DELIVER     deliveries before a dead letter (10)\n"
	"  STORE_NAK_DELAY_MS    first redelivery delay (200)\n"
	"  STORE_LOG_LEVEL       debug, info, warn or error (info)\n"
	"\n"
	"Stops on SIGTERM or SIGINT after acking what it holds and firing the\n"
	"jobs it has taken. Exit status: 0 stopped, 64 usage, 69 bus unavailable,\n"
	"78 configuration error.\n";

typedef struct expirer {
	store_jobs *jobs;
	store_bus *bus;
	long lease_ms;
	volatile sig_atomic_t *stop;
} expirer;

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Sleeps ms in short steps, returning early when stop is set. */
static void
nap(long ms, volatile sig_atomic_t *stop)
{
	struct timespec ts;
	long step;

	while (ms > 0 && !*stop) {
		step = ms < 50 ? ms : 50;
		ts = (struct timespec){ 0, step * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* ---- times and ids ------------------------------------------------------ */

/* Reads n digits at *p into *out, advancing *p. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* Consumes one of the characters of set at *p. */
static bool
expect(const char **p, const char *set)
{
	if (**p == '\0' || strchr(set, **p) == NULL)
		return false;
	(*p)++;
	return true;
}

/* Parses an RFC 3339 time, "2026-11-27T23:59:00Z", with optional fractions
 * of a second (".5", ".123456") and a numeric offset instead of Z
 * ("+01:00"), into ms since the epoch. */
static bool
parse_time(const char *s, long long *ms)
{
	const char *p = s;
	struct tm tm = { 0 }, back;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, fd;
	long long off = 0, leap = 0;
	time_t t;

	if (s == NULL || strnlen(s, TIME_TEXT_MAX + 1) > TIME_TEXT_MAX)
		return false;
	if (!digits(&p, 4, &y) || !expect(&p, "-") || !digits(&p, 2, &mo) ||
	    !expect(&p, "-") || !digits(&p, 2, &d) || !expect(&p, "Tt ") ||
	    !digits(&p, 2, &h) || !expect(&p, ":") || !digits(&p, 2, &mi) ||
	    !expect(&p, ":") || !digits(&p, 2, &sec))
		return false;
	if (expect(&p, ".")) {
		for (fd = 0; *p >= '0' && *p <= '9'; p++, fd++)
			if (fd < 3)
				frac = frac * 10 + (*p - '0');
		if (fd == 0 || fd > 9)
			return false;
		for (; fd < 3; fd++)
			frac *= 10;
	}
	if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;

		if (!digits(&p, 2, &oh) || !expect(&p, ":") || !digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return false;
		off = sign * (oh * 3600LL + om * 60LL);
	} else if (!expect(&p, "Zz")) {
		return false;
	}
	if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || sec > 60)
		return false;
	if (sec == 60) {                       /* a leap second: the next one */
		sec = 59;
		leap = 1000;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_mday != d)
		return false;                      /* February 30th */
	*ms = ((long long)t - off) * 1000 + frac + leap;
	return true;
}

/* Writes t (ms since the epoch) as RFC 3339 UTC with milliseconds. */
static void
format_time(long long ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* The event id of a selection's expiration: the first 12 bytes of
 * BLAKE2b-128 (crypto_generichash) of "expiration:" + the selection id, in
 * lowercase hex: 24 characters, shaped like every other event id. The same
 * selection always gets the same id, so a second firing of its job is a
 * duplicate to JetStream (inside its window) and to the products service
 * (its processed table, after it). */
static void
event_id(const char *selection_id, char out[STORE_OID_LEN + 1])
{
	static const char tag[] = "expiration:";
	crypto_generichash_state st;
	unsigned char h[16];

	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const unsigned char *)tag, sizeof tag - 1);
	crypto_generichash_update(&st, (const unsigned char *)selection_id,
	                          strlen(selection_id));
	crypto_generichash_final(&st, h, sizeof h);
	sodium_bin2hex(out, STORE_OID_LEN + 1, h, STORE_OID_LEN / 2);
}

static bool
name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strnlen(s, NAME_MAX_LEN + 1) <= NAME_MAX_LEN;
}

/* ---- store.product.selected --------------------------------------------- */

/* Schedules the hold's expiration; STORE_OK (ack) only once Redis has it,
 * or had it already (a redelivery). */
static store_err
on_selected(void *ctx, const store_event *ev)
{
	expirer *x = ctx;
	const char *product = store_json_str(ev->payload, "productId");
	const char *selection = store_json_str(ev->payload, "selectionId");
	const char *category = store_json_str(ev->payload, "categoryId");
	const char *expires = store_json_str(ev->payload, "expiresAt");
	json_t *views = json_object_get(ev->payload, "views"), *job = NULL;
	char *text = NULL, why[256] = "";
	long long due = 0;
	bool created = false;
	store_err e = STORE_EINVAL;

	if (!store_oid_valid(selection) || !name_ok(product) || !name_ok(category) ||
	    !json_is_integer(views) || !parse_time(expires, &due)) {
		store_log(STORE_LOG_WARN, ev->request_id, ev->id, "'%s' without a valid "
		          "selectionId, productId, categoryId, views or expiresAt",
		          ev->subject);
		goto out;
	}
	job = json_pack("{s:s,s:s,s:s,s:O}", "productId", product, "selectionId", selection,
	                "categoryId", category, "views", views);
	if (job == NULL || (text = store_json_dump(job)) == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	e = store_jobs_schedule(x->jobs, selection, due, text, &created);
	if (e != STORE_OK) {
		store_jobs_last_error(x->jobs, why, sizeof why);
		store_log(STORE_LOG_WARN, ev->request_id, ev->id, "cannot schedule the "
		          "expiration of selection '%s': %s (%s)", selection,
		          store_strerror(e), why);
		goto out;
	}
	store_log(STORE_LOG_DEBUG, ev->request_id, ev->id, created ?
	          "selection '%s' expires at '%s'" : "selection '%s' was scheduled "
	          "already (expiresAt '%s')", selection, expires);
out:
	free(text);
	json_decref(job);
	return e;
}

/* ---- firing ------------------------------------------------------------- */

/* Publishes one due job's event, then deletes the job. STORE_OK when the
 * event is out (or the job was malformed and dropped); otherwise the job
 * stays leased and the caller gives it back. */
static store_err
fire_one(expirer *x, const store_job *job)
{
	json_t *payload = json_loads(job->payload, 0, NULL);
	char eid[STORE_OID_LEN + 1], due[32];
	store_err e = STORE_OK, d;

	format_time(job->due_ms, due);
	if (!json_is_object(payload)) {
		store_error("job '%s' has a payload that is not a json object: "
		            "dropping it", job->id);
		store_jobs_done(x->jobs, job->id);
		goto out;
	}
	event_id(job->id, eid);
	e = store_bus_publish(x->bus, "store.expiration.complete", payload, eid, NULL, NULL);
	if (e != STORE_OK) {
		store_log(STORE_LOG_WARN, NULL, eid, "cannot publish the expiration of "
		          "selection '%s' (try %ld): %s", job->id, job->tries,
		          store_strerror(e));
		goto out;
	}
	store_log(STORE_LOG_INFO, NULL, eid, "selection '%s' expired (due '%s', "
	          "fired %lld ms after, try %ld)", job->id, due,
	          wall_ms() - job->due_ms, job->tries);
	d = store_jobs_done(x->jobs, job->id);
	if (d != STORE_OK && d != STORE_ENOTFOUND)
		store_log(STORE_LOG_WARN, NULL, eid, "cannot delete job '%s': %s; it "
		          "will fire again when its lease lapses and be dropped as a "
		          "duplicate", job->id, store_strerror(d));
out:
	json_decref(payload);
	return e;
}

/* Fires what was taken. After a failed publish (the bus is down), the
 * rest are given back without trying, due again after a delay that grows
 * with their tries (at once when stopping, for another copy). */
static void
fire_batch(expirer *x, const store_job *v, size_t n)
{
	bool failing = false;
	long delay;

	for (size_t i = 0; i < n; i++) {
		if (!failing && fire_one(x, &v[i]) == STORE_OK)
			continue;
		failing = true;
		delay = RETRY_MIN_MS;
		for (long t = 1; t < v[i].tries && delay < RETRY_MAX_MS; t++)
			delay *= 2;
		if (delay > RETRY_MAX_MS)
			delay = RETRY_MAX_MS;
		if (*x->stop)
			delay = 0;
		/* When this fails too, the lease lapses and brings the job back. */
		store_jobs_retry(x->jobs, v[i].id, delay);
	}
}

/* Waits exactly until something is due, takes it, fires it; until stop. */
static void *
fire_main(void *arg)
{
	expirer *x = arg;
	store_job *v = NULL;
	char why[256] = "";
	long down_ms = 0;
	size_t n = 0;
	store_err e;

	while (!*x->stop) {
		e = store_jobs_wait(x->jobs, WAIT_MAX_MS);
		if (e == STORE_OK && *x->stop)
			break;
		if (e == STORE_OK)
			e = store_jobs_take(x->jobs, STORE_JOBS_NOW, x->lease_ms, FIRE_BATCH,
			                    &v, &n);
		if (e != STORE_OK) {
			if (down_ms == 0) {
				store_jobs_last_error(x->jobs, why, sizeof why);
				store_warn("redis: %s (%s); trying again", store_strerror(e), why);
			}
			down_ms = down_ms == 0 ? DOWN_MIN_MS :
			          down_ms * 2 > DOWN_MAX_MS ? DOWN_MAX_MS : down_ms * 2;
			nap(down_ms, x->stop);
			continue;
		}
		if (down_ms != 0)
			store_info("redis answers again");
		down_ms = 0;
		fire_batch(x, v, n);            /* in hand: fired even when stopping */
		store_job_list_free(v, n);
		v = NULL;
		n = 0;
	}
	return NULL;
}

/* ---- main --------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	const store_listener listeners[] = { { "product.selected", on_selected } };
	const char *url = NULL, *prefix = NULL, *level = NULL;
	store_bus_config bcfg;
	char msg[512] = "", why[256] = "";
	expirer x = { NULL, NULL, 0, &stopping };
	struct sigaction sa;
	pthread_t tid;
	bool firing = false;
	int status = 0, lvl;
	store_err e;
	const store_setting settings[] = {
		{ "REDIS_URL", STORE_SETTING_STR, "redis://127.0.0.1:6379", 0, 0, &url, NULL },
		{ "STORE_JOBS_PREFIX", STORE_SETTING_STR, "store:expiration", 0, 0, &prefix,
		  NULL },
		{ "STORE_JOB_LEASE_MS", STORE_SETTING_INT, "30000", 1000, 3600000, NULL,
		  &x.lease_ms },
		{ "STORE_LOG_LEVEL", STORE_SETTING_STR, "info", 0, 0, &level, NULL },
	};

	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 64;
	}
	store_log_init("expirerd", STORE_LOG_INFO);
	if (store_config_load(settings, sizeof settings / sizeof *settings, msg,
	                      sizeof msg) != STORE_OK ||
	    store_bus_config_load(&bcfg, "expiration", msg, sizeof msg) != STORE_OK) {
		store_error("%s", msg);
		return 78;
	}
	if ((lvl = store_log_level_parse(level)) < 0) {
		store_error("setting 'STORE_LOG_LEVEL' must be debug, info, warn or error");
		return 78;
	}
	store_log_init("expirerd", (store_log_level)lvl);
	if (sodium_init() < 0) {
		store_error("cannot initialise libsodium");
		return 69;
	}
	if ((e = store_jobs_open(url, prefix, &x.jobs, msg, sizeof msg)) != STORE_OK) {
		store_error("setting '%s': %s", strncmp(msg, "key prefix", 10) == 0 ?
		            "STORE_JOBS_PREFIX" : "REDIS_URL", msg);
		return e == STORE_EINVAL ? 78 : 69;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);           /* a closed redis connection */
	if (store_jobs_ping(x.jobs) != STORE_OK) {
		store_jobs_last_error(x.jobs, why, sizeof why);
		store_warn("redis is not answering yet (%s); waiting for it", why);
	}
	if (store_bus_open(&bcfg, NULL, &x.bus, msg, sizeof msg) != STORE_OK) {
		store_error("cannot start the bus: %s", msg);
		status = 69;
		goto out;
	}
	if (pthread_create(&tid, NULL, fire_main, &x) != 0) {
		store_error("cannot start the firing thread");
		status = 69;
		goto out;
	}
	firing = true;
	store_info("listening");
	if (store_bus_listen(x.bus, listeners, 1, &x, &stopping) != STORE_OK)
		status = 69;
out:
	stopping = 1;
	if (firing) {
		store_jobs_interrupt(x.jobs);
		pthread_join(tid, NULL);
	}
	store_info("stopped");
	store_bus_free(x.bus);
	store_jobs_free(x.jobs);
	return status;
}
