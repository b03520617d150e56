/* expiration.c - the expiration service's domain: scheduling a hold's
 * expiration, and firing due ones in batches. store/expiration.h has the
 * guarantees; expiration_run.c is the daemon around it. */
#include "store/expiration.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <sodium.h>

#include "store/json.h"
#include "store/log.h"
#include "store/time.h"

#define WAIT_MAX_MS     300000    /* a safety net: waits end on time anyway */
#define RETRY_MIN_MS    250       /* a job whose publish failed: first delay */
#define RETRY_MAX_MS    8000
#define DOWN_MIN_MS     100       /* redis down: first pause */
#define DOWN_MAX_MS     2000
#define NAME_MAX_LEN    64        /* productId, categoryId */
#define SUMMARY_MS      1000      /* one info line at most this often */
#define FIRE_QUEUE_MAX  1         /* taken batches waiting for the publisher */
#define DONE_QUEUE_MAX  4         /* fired batches waiting for their delete */

/* A batch of jobs between two stages: taken (ids NULL), or fired (ids: the
 * acknowledged ones, to delete). */
typedef struct batch {
	struct batch *next;
	store_job *v;             /* owned: the batch as taken */
	size_t n;
	const char **ids;         /* owned array; the ids point into v */
	size_t nids;
} batch;

/* A bounded queue of batches between two threads, oldest first. */
typedef struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cond;      /* changed, or closing */
	batch *head, *tail;
	size_t n, max;
	bool closing;             /* no more pushes: pop drains, then NULL */
} queue;

struct store_expiration {
	store_jobs *jobs;
	store_bus *bus;
	long lease_ms;
	/* the firing loop's summary since the last info line */
	long long summary_at;
	size_t fired;
	long long late_max;
	/* the pipeline: take -> fire_q -> publish -> done_q -> delete */
	queue fire_q, done_q;
	volatile sig_atomic_t *stop;
};

/* One taken job on its way out. */
typedef struct firing {
	char eid[STORE_OID_LEN + 1];
	bool drop;                /* malformed: deleted without an event */
} firing;

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

store_err
store_expiration_new(store_jobs *jobs, store_bus *bus, long lease_ms,
                     store_expiration **out)
{
	store_expiration *x;

	if (out == NULL)
		return STORE_EINVAL;
	*out = NULL;
	if (jobs == NULL || bus == NULL || lease_ms < 1 || lease_ms > STORE_JOBS_LEASE_MAX)
		return STORE_EINVAL;
	if ((x = calloc(1, sizeof *x)) == NULL)
		return STORE_ENOMEM;
	x->jobs = jobs;
	x->bus = bus;
	x->lease_ms = lease_ms;
	*out = x;
	return STORE_OK;
}

void
store_expiration_free(store_expiration *x)
{
	free(x);
}

/* ---- times and ids ------------------------------------------------------ */

void
store_expiration_event_id(const char *selection_id, char out[STORE_OID_LEN + 1])
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

store_err
store_expiration_on_selected(void *ctx, const store_event *ev)
{
	store_expiration *x = ctx;
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
	    !json_is_integer(views) || !store_time_parse(expires, &due)) {
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

/* Checks each job's payload (a JSON object, as scheduled) and makes its
 * message; a malformed one is marked to be dropped. */
static void
fire_prepare(const store_job *v, size_t n, firing *f, store_bus_msg *msgs, size_t *nmsgs)
{
	json_t *payload;

	*nmsgs = 0;
	for (size_t i = 0; i < n; i++) {
		payload = json_loads(v[i].payload, 0, NULL);
		f[i].drop = !json_is_object(payload);
		json_decref(payload);
		if (f[i].drop) {
			store_error("job '%s' has a payload that is not a json object: "
			            "dropping it", v[i].id);
			continue;
		}
		store_expiration_event_id(v[i].id, f[i].eid);
		msgs[(*nmsgs)++] = (store_bus_msg){ STORE_EXPIRATION_SUBJECT, v[i].payload,
		                                    strlen(v[i].payload), f[i].eid, 0 };
	}
}

/* Logs what went out: each job at debug, a summary at info at most once
 * every SUMMARY_MS. */
static void
fire_log(store_expiration *x, const store_job *v, size_t n, const firing *f,
         const store_bus_msg *msgs)
{
	long long now = store_time_now_ms(), late;
	char due[STORE_TIME_LEN];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (f[i].drop || !msgs[k++].acked)
			continue;
		late = now - v[i].due_ms;
		if (late > x->late_max)
			x->late_max = late;
		x->fired++;
		store_time_format(v[i].due_ms, true, due);
		store_log(STORE_LOG_DEBUG, NULL, f[i].eid, "selection '%s' expired "
		          "(due '%s', fired %lld ms after, try %ld)", v[i].id, due,
		          late, v[i].tries);
	}
	if (x->fired > 0 && now - x->summary_at >= SUMMARY_MS) {
		store_info("fired %zu expirations, at most %lld ms after they were due",
		           x->fired, x->late_max);
		x->summary_at = now;
		x->fired = 0;
		x->late_max = 0;
	}
}

/* Gives a job back, due again after a delay that grows with its tries (at
 * once when stopping, for another copy). When this fails too, the lease
 * lapses and brings the job back. */
static void
fire_retry(store_expiration *x, const store_job *job, bool stopping)
{
	long delay = RETRY_MIN_MS;

	for (long t = 1; t < job->tries && delay < RETRY_MAX_MS; t++)
		delay *= 2;
	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	(void)store_jobs_retry(x->jobs, job->id, stopping ? 0 : delay);
}

/* ---- the pipeline's queues ---------------------------------------------- */

static void
queue_init(queue *q, size_t max)
{
	memset(q, 0, sizeof *q);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->max = max;
}

static void
queue_destroy(queue *q)
{
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
}

/* Appends b, waiting while the queue is full. */
static void
queue_push(queue *q, batch *b)
{
	pthread_mutex_lock(&q->mu);
	while (q->n >= q->max)
		pthread_cond_wait(&q->cond, &q->mu);
	b->next = NULL;
	if (q->tail != NULL)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	q->n++;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

/* The oldest batch, waiting for one; NULL once closed and empty. */
static batch *
queue_pop(queue *q)
{
	batch *b;

	pthread_mutex_lock(&q->mu);
	while (q->head == NULL && !q->closing)
		pthread_cond_wait(&q->cond, &q->mu);
	b = q->head;
	if (b != NULL) {
		q->head = b->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->n--;
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->mu);
	return b;
}

static void
queue_close(queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closing = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

/* ---- the stages --------------------------------------------------------- */

/* Deletes a fired batch's acknowledged jobs and frees it. */
static void
done_run(store_expiration *x, batch *b)
{
	store_err d;

	if (b->nids > 0 &&
	    (d = store_jobs_done_many(x->jobs, b->ids, b->nids, NULL)) != STORE_OK)
		store_warn("cannot delete %zu fired jobs: %s; they will fire again when "
		           "their leases lapse and be dropped as duplicates", b->nids,
		           store_strerror(d));
	store_jobs_list_free(b->v, b->n);
	free(b->ids);
	free(b);
}

/* Fires a taken batch: one asynchronous publish of all its events, the
 * unacknowledged jobs given back, and the batch with the acknowledged (or
 * malformed) ones as its ids to delete. NULL when out of memory (the
 * batch is freed; its leases lapse and bring the jobs back). */
static batch *
fire_run(store_expiration *x, batch *b)
{
	size_t n = b->n, nmsgs = 0, k = 0;
	firing *f = calloc(n, sizeof *f);
	store_bus_msg *msgs = calloc(n, sizeof *msgs);
	store_job *v = b->v;
	store_err e;

	b->ids = calloc(n, sizeof *b->ids);
	b->nids = 0;
	if (f == NULL || msgs == NULL || b->ids == NULL) {
		store_error("out of memory firing %zu jobs; their leases will lapse", n);
		store_jobs_list_free(b->v, b->n);
		free(b->ids);
		free(b);
		b = NULL;
		goto out;
	}
	fire_prepare(v, n, f, msgs, &nmsgs);
	e = store_bus_publish_batch(x->bus, msgs, nmsgs);
	if (e != STORE_OK)
		store_warn("cannot publish every expiration (%s); giving the rest "
		           "back", store_strerror(e));
	for (size_t i = 0; i < n; i++) {
		if (f[i].drop || msgs[k++].acked)
			b->ids[b->nids++] = v[i].id;
		else
			fire_retry(x, &v[i], *x->stop != 0);
	}
	fire_log(x, v, n, f, msgs);
out:
	free(msgs);
	free(f);
	return b;
}

static void *
done_main(void *arg)
{
	store_expiration *x = arg;
	batch *b;

	while ((b = queue_pop(&x->done_q)) != NULL)
		done_run(x, b);
	return NULL;
}

/* Publishes taken batches while the next one is taken. */
static void *
fire_main(void *arg)
{
	store_expiration *x = arg;
	batch *b;

	while ((b = queue_pop(&x->fire_q)) != NULL)
		if ((b = fire_run(x, b)) != NULL)
			queue_push(&x->done_q, b);
	return NULL;
}

void
store_expiration_fire(store_expiration *x, volatile sig_atomic_t *stop)
{
	store_job *v = NULL;
	pthread_t fire_tid, done_tid;
	char why[256] = "";
	long down_ms = 0;
	bool more = false, firing, deleting;
	size_t n = 0;
	batch *b;
	store_err e;

	x->stop = stop;
	queue_init(&x->fire_q, FIRE_QUEUE_MAX);
	queue_init(&x->done_q, DONE_QUEUE_MAX);
	deleting = pthread_create(&done_tid, NULL, done_main, x) == 0;
	firing = deleting && pthread_create(&fire_tid, NULL, fire_main, x) == 0;
	while (!*stop) {
		/* A full take may have left more due: take again before waiting. */
		e = more ? STORE_OK : store_jobs_wait(x->jobs, WAIT_MAX_MS);
		if (e == STORE_OK && *stop)
			break;
		if (e == STORE_OK)
			e = store_jobs_take(x->jobs, STORE_JOBS_NOW, x->lease_ms,
			                    STORE_EXPIRATION_BATCH, &v, &n);
		if (e != STORE_OK) {
			if (down_ms == 0) {
				store_jobs_last_error(x->jobs, why, sizeof why);
				store_warn("redis: %s (%s); trying again", store_strerror(e), why);
			}
			down_ms = down_ms == 0 ? DOWN_MIN_MS :
			          down_ms * 2 > DOWN_MAX_MS ? DOWN_MAX_MS : down_ms * 2;
			more = false;
			nap(down_ms, stop);
			continue;
		}
		if (down_ms != 0)
			store_info("redis answers again");
		down_ms = 0;
		more = n == STORE_EXPIRATION_BATCH;
		if (n > 0 && (b = calloc(1, sizeof *b)) == NULL) {
			store_error("out of memory taking %zu jobs; their leases will lapse", n);
			store_jobs_list_free(v, n);
		} else if (n > 0) {
			/* In hand: fired even when stopping. */
			b->v = v;
			b->n = n;
			if (firing)
				queue_push(&x->fire_q, b);
			else if ((b = fire_run(x, b)) != NULL)
				done_run(x, b);
		}
		v = NULL;
		n = 0;
	}
	queue_close(&x->fire_q);
	if (firing)
		pthread_join(fire_tid, NULL);
	queue_close(&x->done_q);
	if (deleting)
		pthread_join(done_tid, NULL);
	queue_destroy(&x->fire_q);
	queue_destroy(&x->done_q);
}
