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
#include "store/metrics.h"
#include "store/oid.h"
#include "store/time.h"

#define WAIT_MAX_MS     300000    /* a safety net: waits end on time anyway */
#define RETRY_MIN_MS    250       /* a job whose publish failed: first delay */
#define RETRY_MAX_MS    8000
#define DOWN_MIN_MS     100       /* redis down: first pause */
#define DOWN_MAX_MS     2000
#define NAME_MAX_LEN    64        /* productId, categoryId */
#define SUMMARY_MS      1000      /* one info line at most this often */
#define SENT_QUEUE_MAX  256       /* sent batches waiting for their acks */

/* One taken job on its way out. */
typedef struct firing {
	char eid[STORE_OID_LEN + 1];
	bool drop;                /* malformed: deleted without an event */
} firing;

/* A batch of jobs taken, sent, waiting for its acks and its delete. */
typedef struct batch {
	struct batch *next;
	store_job *v;             /* owned: the batch as taken */
	size_t n;
	firing *f;                /* owned, n */
	store_bus_msg *msgs;      /* owned, one per job not dropped */
	size_t nmsgs;
	store_bus_sent *sent;     /* in flight; NULL: nothing sent */
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
	store_jobs *jobs;         /* borrowed: schedule, take */
	store_jobs *done_jobs;    /* owned, the same Redis: delete, retry */
	store_bus *bus;
	store_bus_publisher *pub; /* owned */
	long lease_ms;
	/* the firing loop's summary since the last info line */
	long long summary_at;
	size_t fired;
	long long late_max;
	/* the pipeline: take and send -> sent_q -> wait for acks and delete */
	queue sent_q;
	volatile sig_atomic_t *stop;
};

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
	store_err e;

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
	if ((e = store_jobs_dup(jobs, &x->done_jobs)) != STORE_OK ||
	    (e = store_bus_publisher_new(bus, STORE_EXPIRATION_PENDING, &x->pub)) != STORE_OK) {
		store_expiration_free(x);
		return e;
	}
	*out = x;
	return STORE_OK;
}

void
store_expiration_free(store_expiration *x)
{
	if (x == NULL)
		return;
	store_bus_publisher_free(x->pub);
	store_jobs_free(x->done_jobs);
	free(x);
}

/* ---- times and ids ------------------------------------------------------ */

void
store_expiration_event_id(const char *selection_id, char out[STORE_OID_LEN + 1])
{
	static const char tag[] = "expiration:";
	crypto_generichash_state st;
	unsigned char h[16];
	size_t k = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const unsigned char *)tag, sizeof tag - 1);
	crypto_generichash_update(&st, (const unsigned char *)selection_id,
	                          strlen(selection_id));
	crypto_generichash_final(&st, h, sizeof h);
	if (store_oid_valid(selection_id)) {
		/* Seconds (hex 0-7) and counter (hex 18-23) of the ObjectId. */
		memcpy(out, selection_id, 8);
		memcpy(out + 8, selection_id + 18, 6);
		k = 14;
	}
	sodium_bin2hex(out + k, STORE_OID_LEN + 1 - k, h, (STORE_OID_LEN - k) / 2);
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

/* True for JSON object text as on_selected stores it: '{' ... '}'. The
 * payload goes out as it is, not parsed (a listener dead-letters a body
 * that is not a JSON object anyway); this only keeps out what is plainly
 * not one (a key edited by hand). */
static bool
payload_ok(const char *s)
{
	size_t len = strlen(s);

	return len >= 2 && s[0] == '{' && s[len - 1] == '}';
}

/* Makes each job's message; a malformed one is marked to be dropped. */
static void
fire_prepare(batch *b)
{
	const store_job *v = b->v;

	b->nmsgs = 0;
	for (size_t i = 0; i < b->n; i++) {
		b->f[i].drop = !payload_ok(v[i].payload);
		if (b->f[i].drop) {
			store_error("job '%s' has a payload that is not a json object: "
			            "dropping it", v[i].id);
			continue;
		}
		store_expiration_event_id(v[i].id, b->f[i].eid);
		b->msgs[b->nmsgs++] = (store_bus_msg){ STORE_EXPIRATION_SUBJECT,
		                                       v[i].payload, strlen(v[i].payload),
		                                       b->f[i].eid, 0 };
	}
}

/* Logs what went out: each job at debug, a summary at info at most once
 * every SUMMARY_MS. */
static void
fire_log(store_expiration *x, const batch *b)
{
	long long now = store_time_now_ms(), late;
	const store_job *v = b->v;
	size_t k = 0;

	for (size_t i = 0; i < b->n; i++) {
		if (b->f[i].drop || !b->msgs[k++].acked)
			continue;
		late = now - v[i].due_ms;
		if (late > x->late_max)
			x->late_max = late;
		x->fired++;
		store_metrics_expired(late);
		store_log(STORE_LOG_DEBUG, NULL, b->f[i].eid, "selection '%s' expired "
		          "(due %lld, acknowledged %lld ms after, try %ld)", v[i].id,
		          v[i].due_ms, late, v[i].tries);
	}
	if (x->fired > 0 && now - x->summary_at >= SUMMARY_MS) {
		store_info("fired %zu expirations, acknowledged at most %lld ms after "
		           "they were due", x->fired, x->late_max);
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
	(void)store_jobs_retry(x->done_jobs, job->id, stopping ? 0 : delay);
}

static void
batch_free(batch *b)
{
	if (b == NULL)
		return;
	store_jobs_list_free(b->v, b->n);
	free(b->f);
	free(b->msgs);
	free(b);
}

/* ---- the pipeline's queue ----------------------------------------------- */

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

/* Every batch queued (oldest first, linked through next), waiting for
 * one; NULL once closed and empty. */
static batch *
queue_pop_all(queue *q)
{
	batch *b;

	pthread_mutex_lock(&q->mu);
	while (q->head == NULL && !q->closing)
		pthread_cond_wait(&q->cond, &q->mu);
	b = q->head;
	q->head = q->tail = NULL;
	q->n = 0;
	pthread_cond_broadcast(&q->cond);
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

/* Sends a taken batch's events; its acks are waited for by done_main. */
static void
fire_send(store_expiration *x, batch *b)
{
	store_err e;

	fire_prepare(b);
	e = store_bus_publish_send(x->pub, b->msgs, b->nmsgs, &b->sent);
	if (e != STORE_OK)
		store_warn("cannot publish every expiration (%s); giving the rest "
		           "back", store_strerror(e));
}

/* Deletes ids[0..n) in batches of at most STORE_JOBS_TAKE_MAX. */
static void
done_delete(store_expiration *x, const char **ids, size_t n)
{
	store_err e;
	size_t k;

	for (size_t i = 0; i < n; i += k) {
		k = n - i < STORE_JOBS_TAKE_MAX ? n - i : STORE_JOBS_TAKE_MAX;
		if ((e = store_jobs_done_many(x->done_jobs, ids + i, k, NULL)) != STORE_OK)
			store_warn("cannot delete %zu fired jobs: %s; they will fire again "
			           "when their leases lapse and be dropped as duplicates", k,
			           store_strerror(e));
	}
}

/* Waits for the acks of a chain of sent batches, gives back the jobs whose
 * event was not acknowledged, deletes the others (and the malformed ones)
 * in as few scripts as it can, and frees the chain. */
static void
done_run(store_expiration *x, batch *chain)
{
	const char **ids = NULL;
	size_t n = 0, nids = 0, k;
	batch *b, *next;

	for (b = chain; b != NULL; b = b->next)
		n += b->n;
	if ((ids = calloc(n > 0 ? n : 1, sizeof *ids)) == NULL)
		store_error("out of memory deleting %zu fired jobs; they will fire again "
		            "when their leases lapse", n);
	for (b = chain; b != NULL; b = b->next) {
		if (b->sent != NULL)
			(void)store_bus_publish_wait(b->sent);
		b->sent = NULL;
		k = 0;
		for (size_t i = 0; i < b->n; i++) {
			if (b->f[i].drop || b->msgs[k++].acked) {
				if (ids != NULL)
					ids[nids++] = b->v[i].id;
			} else {
				fire_retry(x, &b->v[i], *x->stop != 0);
			}
		}
		fire_log(x, b);
	}
	done_delete(x, ids, nids);
	for (b = chain; b != NULL; b = next) {
		next = b->next;
		batch_free(b);
	}
	free(ids);
}

static void *
done_main(void *arg)
{
	store_expiration *x = arg;
	batch *b;

	while ((b = queue_pop_all(&x->sent_q)) != NULL)
		done_run(x, b);
	return NULL;
}

/* A batch around n taken jobs v (owned from here), or NULL (v freed) when
 * out of memory: their leases lapse and bring them back. */
static batch *
batch_new(store_job *v, size_t n)
{
	batch *b = calloc(1, sizeof *b);

	if (b != NULL) {
		b->v = v;
		b->n = n;
		b->f = calloc(n, sizeof *b->f);
		b->msgs = calloc(n, sizeof *b->msgs);
	}
	if (b == NULL || b->f == NULL || b->msgs == NULL) {
		store_error("out of memory taking %zu jobs; their leases will lapse", n);
		if (b == NULL)
			store_jobs_list_free(v, n);
		batch_free(b);
		b = NULL;
	}
	return b;
}

void
store_expiration_fire(store_expiration *x, volatile sig_atomic_t *stop)
{
	store_job *v = NULL;
	pthread_t done_tid;
	char why[256] = "";
	long down_ms = 0;
	long long next = 0;
	bool deleting;
	size_t n = 0;
	batch *b;
	store_err e;

	x->stop = stop;
	queue_init(&x->sent_q, SENT_QUEUE_MAX);
	deleting = pthread_create(&done_tid, NULL, done_main, x) == 0;
	while (!*stop) {
		/* One script takes what is due and says when the next one is. */
		e = store_jobs_take_next(x->jobs, STORE_JOBS_NOW, x->lease_ms,
		                         STORE_EXPIRATION_BATCH, &v, &n, &next);
		if (e != STORE_OK) {
			if (down_ms == 0) {
				store_jobs_last_error(x->jobs, why, sizeof why);
				store_warn("redis: %s (%s); trying again", store_strerror(e), why);
			}
			down_ms = down_ms == 0 ? DOWN_MIN_MS :
			          down_ms * 2 > DOWN_MAX_MS ? DOWN_MAX_MS : down_ms * 2;
			nap(down_ms, stop);
			continue;
		}
		if (down_ms != 0)
			store_info("redis answers again");
		down_ms = 0;
		/* In hand: sent and deleted even when stopping. */
		if (n > 0 && (b = batch_new(v, n)) != NULL) {
			fire_send(x, b);
			if (deleting)
				queue_push(&x->sent_q, b);
			else
				done_run(x, b);
		}
		v = NULL;
		/* A full take may have left more due: take again at once. */
		if (n == STORE_EXPIRATION_BATCH || next == 0 || *stop)
			continue;
		e = store_jobs_sleep(x->jobs, next < 0 || next > WAIT_MAX_MS ? WAIT_MAX_MS
		                                                            : (long)next);
		if (e != STORE_OK)
			nap(DOWN_MIN_MS, stop);
	}
	queue_close(&x->sent_q);
	if (deleting)
		pthread_join(done_tid, NULL);
	queue_destroy(&x->sent_q);
}
