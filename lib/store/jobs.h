/* jobs.h - delayed jobs in Redis: what Bull did for the original store,
 * without its late, lost and duplicate jobs.
 *
 * A job is an id (the caller's: the selection id for expirations), a due
 * time in milliseconds since the Unix epoch, and a JSON payload. Keys, for
 * a prefix P (STORE_JOBS_PREFIX, "store:expiration"):
 *
 *   P:due    sorted set  id -> when it may be taken (ms): jobs waiting
 *   P:lease  sorted set  id -> lease deadline (ms): jobs taken, not done
 *   P:job    hash        id -> payload (JSON text)
 *   P:at     hash        id -> due time (ms) as scheduled
 *   P:tries  hash        id -> times taken
 *   P:wake   channel     a new earliest job is announced here
 *
 * Every script gets all five keys; they carry no hash tag, so they may fall
 * in different cluster slots: this needs one Redis server, not Redis
 * Cluster. Channels ignore the database number: two deployments on one
 * server in different databases need different prefixes, or they wake
 * each other for nothing.
 *
 * Every change is one Lua script, so it is atomic: scheduling (a no-op
 * when the id exists, waiting or leased), taking (due jobs move to the
 * lease set with a deadline; first, leases that lapsed go back to the due
 * set at their due time), done (the job's keys go), retry (a leased job
 * goes back to the due set later). A job is deleted only by done, which
 * the caller calls after the job's effect (the event was published). A
 * taker that died leaves a lease that lapses: the next take, by any
 * process, returns the job to the due set and takes it again. So every
 * job is taken at least once, and more than once only when a taker died
 * or overran its lease; the caller makes its effect idempotent by job id.
 *
 * "Now" is the Redis server's clock (TIME) unless the caller passes a time,
 * so several processes on machines with skewed clocks agree on what is due.
 * Scripts are loaded with SCRIPT LOAD on every connection and run with
 * EVALSHA, loaded again on NOSCRIPT.
 *
 * Waiting is exact: store_jobs_wait asks Redis how long until the earliest
 * due time or lease deadline and sleeps that long on its own clock (poll),
 * on a second connection subscribed to P:wake; a job scheduled by any
 * process that becomes the earliest wakes every waiter at once. There is
 * no polling interval. A firing loop saves that question:
 * store_jobs_take_next answers it in the same script as the take, and
 * store_jobs_sleep then sleeps that long (one round trip per batch).
 *
 * REDIS_URL is redis://[[user]:password@]host[:port][/db] (port 6379, db
 * 0) or unix:/path/to/socket. A lost connection (redis-server restarted)
 * is made again by the next call; a call made while Redis is down returns
 * STORE_EUNAVAIL, and the same calls work once it is back. A call whose
 * connection broke is sent once more on a new connection: a take whose
 * reply was lost leaves its jobs leased until their lease lapses.
 *
 * One handle may be used by several threads: commands share a connection
 * under a lock; store_jobs_wait has its own, one waiter at a time (give
 * each waiting thread its own handle). Writes to a connection the server
 * closed raise SIGPIPE: programs using this module ignore it.
 * The module never prints and never exits. */
#ifndef STORE_JOBS_H
#define STORE_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include "store/err.h"

#define STORE_JOBS_ID_MAX      128        /* bytes of a job id */
#define STORE_JOBS_PREFIX_MAX  128        /* bytes of a key prefix */
#define STORE_JOBS_PAYLOAD_MAX 65536      /* bytes of a payload */
#define STORE_JOBS_TAKE_MAX    1000       /* jobs per take */
#define STORE_JOBS_LIST_MAX    10000      /* jobs per list */
#define STORE_JOBS_LEASE_MAX   86400000L  /* a day, in ms */
#define STORE_JOBS_NOW         (-1LL)     /* "now" on the Redis server's clock */

typedef struct store_jobs store_jobs;

/* Times are in ms since the epoch. */
typedef struct store_job {
	char *id;              /* the job's id */
	char *payload;         /* JSON text, as scheduled */
	long long due_ms;      /* when it is due, as scheduled */
	long long next_ms;     /* waiting: when it may be taken (due_ms, later
	                        * after a retry); 0 when leased */
	long long lease_ms;    /* leased until; 0 when waiting */
	long tries;            /* times taken so far (this take included) */
} store_job;

/* Parses url (see above) and remembers prefix (1 to STORE_JOBS_PREFIX_MAX
 * printable bytes, no spaces), then tries to connect. Redis being down is
 * not an error: the calls return STORE_EUNAVAIL until it is up. Returns
 * STORE_EINVAL with a message in err for a malformed url or prefix (the
 * message never repeats a password), STORE_ENOMEM or STORE_EIO (no pipe).
 * Caller frees *out with store_jobs_free. */
store_err store_jobs_open(const char *url, const char *prefix, store_jobs **out,
                          char *err, size_t errlen);

/* A second handle on the same server, credentials and prefix as j, with
 * its own connections (so a thread deleting jobs does not wait for one
 * taking them). Redis being down is not an error. Caller frees *out with
 * store_jobs_free. */
store_err store_jobs_dup(store_jobs *j, store_jobs **out);

/* Closes both connections and frees j. j may be NULL. No thread may be
 * using j any more. */
void store_jobs_free(store_jobs *j);

/* STORE_OK when Redis answers PING (readiness), else STORE_EUNAVAIL. */
store_err store_jobs_ping(store_jobs *j);

/* Copies the last Redis failure seen on j ("connection refused",
 * "NOAUTH ...") into buf, for logs; "" when there was none. */
void store_jobs_last_error(store_jobs *j, char *buf, size_t len);

/* The Redis server's clock, in ms since the epoch. */
store_err store_jobs_time(store_jobs *j, long long *now_ms);

/* Schedules job id (1 to STORE_JOBS_ID_MAX printable bytes, no spaces) due
 * at due_ms (ms since the epoch; in the past means at once) with payload
 * (JSON text, at most STORE_JOBS_PAYLOAD_MAX bytes; not parsed here).
 * Idempotent by id: when job id exists, waiting or leased, nothing changes
 * (its due time and payload stay, so a redelivered request cannot move a
 * job or fire it twice) and *created, when not NULL, gets false; a new job
 * sets it true. A new job that is now the earliest wakes the waiters.
 * A job already done is gone: scheduling its id again makes a new one. */
store_err store_jobs_schedule(store_jobs *j, const char *id, long long due_ms,
                              const char *payload, bool *created);

/* Blocks until it is time to take: the earliest due time or lease deadline
 * is reached, a job scheduled by anyone became the earliest, max_ms passed
 * (1 ms to a day), or store_jobs_interrupt was called; returns STORE_OK in
 * all these cases (take may still find nothing). Returns STORE_EUNAVAIL at
 * once when Redis is down (the caller sleeps a little and calls again). */
store_err store_jobs_wait(store_jobs *j, long max_ms);

/* Makes the current or next store_jobs_wait on j return now. Only writes
 * to a pipe: callable from any thread and from a signal handler. */
void store_jobs_interrupt(store_jobs *j);

/* Atomically returns lapsed leases to the due set, then moves up to max
 * (1 to STORE_JOBS_TAKE_MAX) jobs due at now_ms (or STORE_JOBS_NOW), the
 * earliest first, to the lease set until now + lease_ms (1 ms to
 * STORE_JOBS_LEASE_MAX). No two takers get the same job while its lease
 * runs. *out gets *n jobs (*out is NULL when *n is 0); caller frees it with
 * store_jobs_list_free(*out, *n). */
store_err store_jobs_take(store_jobs *j, long long now_ms, long lease_ms, size_t max,
                          store_job **out, size_t *n);

/* As store_jobs_take, and *next_ms gets the ms from now_ms (or the
 * server's now) until the earliest due time or lease deadline left after
 * the take, in the same script: 0 when one is due already (a full take
 * leaves more), -1 when no job is left. It also makes sure, before the
 * take, that this handle's wait connection is subscribed to P:wake, so
 * that a store_jobs_sleep after it misses no job scheduled meanwhile;
 * like store_jobs_wait, one thread at a time per handle. */
store_err store_jobs_take_next(store_jobs *j, long long now_ms, long lease_ms,
                               size_t max, store_job **out, size_t *n,
                               long long *next_ms);

/* Sleeps ms (0 to a day) after store_jobs_take_next, without asking Redis:
 * returns STORE_OK when ms passed, when a job scheduled by anyone became
 * the earliest since that take, or on store_jobs_interrupt; at once when
 * the take could not subscribe (or there was no take since the last
 * sleep or wait), so that the caller takes again. STORE_EUNAVAIL when the
 * wait connection broke. */
store_err store_jobs_sleep(store_jobs *j, long ms);

/* Deletes job id (its effect happened). STORE_ENOTFOUND when there is no
 * such job (done already, by this or another taker). */
store_err store_jobs_done(store_jobs *j, const char *id);

/* Deletes n jobs (1 to STORE_JOBS_TAKE_MAX ids, each as for
 * store_jobs_done) in one atomic script: the batch form of
 * store_jobs_done. *deleted, when not NULL, gets how many existed (the
 * others were done already). STORE_EINVAL for a malformed id (then none
 * is deleted). */
store_err store_jobs_done_many(store_jobs *j, const char *const *ids, size_t n,
                               size_t *deleted);

/* Gives a leased job back: it may be taken again delay_ms (0 to
 * STORE_JOBS_LEASE_MAX) after now on the Redis clock (its due_ms stays),
 * for a taker that could not complete it (the bus was down).
 * STORE_ENOTFOUND when job id is not leased (its lease lapsed, or it is
 * done). */
store_err store_jobs_retry(store_jobs *j, const char *id, long delay_ms);

/* Counts waiting and leased jobs (either pointer may be NULL). */
store_err store_jobs_count(store_jobs *j, size_t *waiting, size_t *leased);

/* Up to limit (1 to STORE_JOBS_LIST_MAX) jobs: waiting ones by due time,
 * then leased ones by deadline. Caller frees *out with
 * store_jobs_list_free(*out, *n). */
store_err store_jobs_list(store_jobs *j, size_t limit, store_job **out, size_t *n);

/* Frees n jobs from store_jobs_take or store_jobs_list. v may be NULL. */
void store_jobs_list_free(store_job *v, size_t n);

/* A bus listener's count of its attempts at one message (bus.h,
 * store_bus_counter), kept in Redis beside the jobs as the set of the
 * message's deliveries that reached its handler, at <prefix>:attempt:<key>
 * for ttl_ms (1 ms to 4000 days): adds delivery (with first: the set then
 * holds it alone) and sets *n to the set's size, in one atomic script. A
 * call sent again after a lost reply adds nothing. key: 1 to
 * STORE_JOBS_ID_MAX printable bytes without spaces (STORE_EINVAL). */
store_err store_jobs_attempt(store_jobs *j, const char *key, unsigned long long delivery,
                             bool first, long long ttl_ms, long long *n);

/* Drops key's count (none is fine). */
store_err store_jobs_attempt_forget(store_jobs *j, const char *key);

#endif
