/* log_hold.c - the lines a thread holds (store_log_hold, log.h).
 *
 * Each holding thread has a buffer, in a list of the process's holders.
 * The thread writes it itself (a flush, a full buffer, a warn line), and a
 * flusher thread of the process, started with the first holder, writes
 * every buffer whose oldest line is STORE_LOG_HOLD_MS old
 * (store_log_hold_ms), looking every STORE_LOG_HOLD_MS / 2: so a line
 * never waits for a long call of its thread (a request waiting on a card
 * provider). Ages are on the monotonic clock. A buffer's mutex is taken by
 * its thread on each line and by the flusher; the list's mutex before any
 * buffer's. */
#include "log_impl.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/time.h"

/* One write(2): at most PIPE_BUF bytes, so that a pipe (a container's
 * stderr) takes it whole, never interleaved with another thread's lines. */
#define HOLD_BYTES PIPE_BUF

struct holder {
	pthread_mutex_t mu;
	size_t len;
	long long first_ms;             /* when the oldest was held (monotonic) */
	struct holder *prev, *next;     /* in holders, under holders_mu */
	char buf[HOLD_BYTES];
};

static _Atomic long long hold_ms = STORE_LOG_HOLD_MS;
static pthread_mutex_t holders_mu = PTHREAD_MUTEX_INITIALIZER;
static struct holder *holders;
static bool flusher_started;            /* under holders_mu */
static __thread struct holder *mine;

void
log_write(const char *p, size_t n)
{
	if (write(STDERR_FILENO, p, n) < 0) {
		/* Nowhere left to report it. */
	}
}

/* Writes h's lines (h->mu held). */
static void
holder_write(struct holder *h)
{
	if (h->len == 0)
		return;
	log_write(h->buf, h->len);
	h->len = 0;
}

static void *
flusher(void *arg)
{
	struct timespec pause = { 0, STORE_LOG_HOLD_MS * 1000000L / 2 };

	(void)arg;
	for (;;) {
		nanosleep(&pause, NULL);
		pthread_mutex_lock(&holders_mu);
		for (struct holder *h = holders; h != NULL; h = h->next) {
			pthread_mutex_lock(&h->mu);
			if (h->len > 0 && store_time_mono_ms() - h->first_ms >= hold_ms)
				holder_write(h);
			pthread_mutex_unlock(&h->mu);
		}
		pthread_mutex_unlock(&holders_mu);
	}
	return NULL;
}

/* Starts the flusher, once (holders_mu held); false when it cannot. */
static bool
flusher_start(void)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	bool ok;

	if (flusher_started)
		return true;
	/* It takes no signal: they stay the other threads' (a server waits
	 * for SIGTERM with sigwait). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ok = pthread_attr_init(&attr) == 0;
	if (ok) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ok = pthread_create(&t, &attr, flusher, NULL) == 0;
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	flusher_started = ok;
	return ok;
}

void
store_log_hold_ms(long long ms)
{
	hold_ms = ms > 0 ? ms : STORE_LOG_HOLD_MS;
}

bool
store_log_hold(bool on)
{
	struct holder *h = mine;

	if (on) {
		if (h != NULL)
			return true;
		if ((h = calloc(1, sizeof *h)) == NULL)
			return false;
		pthread_mutex_init(&h->mu, NULL);
		pthread_mutex_lock(&holders_mu);
		if (!flusher_start()) {
			pthread_mutex_unlock(&holders_mu);
			pthread_mutex_destroy(&h->mu);
			free(h);
			return false;
		}
		h->next = holders;
		if (holders != NULL)
			holders->prev = h;
		holders = h;
		pthread_mutex_unlock(&holders_mu);
		mine = h;
		return true;
	}
	if (h == NULL)
		return true;
	store_log_flush();
	pthread_mutex_lock(&holders_mu);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		holders = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&holders_mu);
	mine = NULL;
	pthread_mutex_destroy(&h->mu);
	free(h);
	return true;
}

bool
store_log_holding(void)
{
	struct holder *h = mine;
	bool any;

	if (h == NULL)
		return false;
	pthread_mutex_lock(&h->mu);
	any = h->len > 0;
	pthread_mutex_unlock(&h->mu);
	return any;
}

void
store_log_flush(void)
{
	struct holder *h = mine;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	holder_write(h);
	pthread_mutex_unlock(&h->mu);
}

bool
log_hold_line(store_log_level lvl, const char *line, size_t len)
{
	struct holder *h = mine;

	if (h == NULL || lvl > STORE_LOG_INFO || len > HOLD_BYTES)
		return false;
	pthread_mutex_lock(&h->mu);
	if (h->len + len > HOLD_BYTES)
		holder_write(h);
	if (h->len == 0)
		h->first_ms = store_time_mono_ms();
	memcpy(h->buf + h->len, line, len);
	h->len += len;
	pthread_mutex_unlock(&h->mu);
	return true;
}

void
log_hold_crash_flush(void)
{
	struct holder *h = mine;

	if (h != NULL && h->len > 0 && h->len <= HOLD_BYTES)
		log_write(h->buf, h->len);
}
