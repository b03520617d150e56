/* bench.h - what the benchmark programs of tests/bench share: clocks,
 * percentiles, and scratch JetStream streams for the baselines.
 *
 * Header only (static inline), so every tests/bench/NAME.c stays one
 * program. The programs print one JSON object on stdout and their
 * complaints on stderr; tests/bench/run collects both. */
#ifndef STORE_BENCH_H
#define STORE_BENCH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nats/nats.h>

#define BENCH_NS_MS 1000000LL

/* Monotonic time in ms, for durations. */
static inline double
bench_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Wall-clock time in ms since the epoch: what JetStream's timestamps and
 * the Redis server's TIME use on this same machine. */
static inline double
bench_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static inline void
bench_sleep_ms(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - ts.tv_sec * 1000.0) * 1e6);
	nanosleep(&ts, NULL);
}

static inline void
bench_die(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0-100, nearest rank) of v[0..n), sorted in place. */
static inline double
bench_percentile(double *v, size_t n, double p, int sorted)
{
	size_t rank;

	if (n == 0)
		return 0;
	if (!sorted)
		qsort(v, n, sizeof *v, bench_cmp_double);
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* A positive number from a command-line value, or exits. */
static inline long
bench_num(const char *prog, const char *opt, const char *s, long min, long max)
{
	char *end = NULL;
	long v = s != NULL ? strtol(s, &end, 10) : 0;

	if (s == NULL || *s == '\0' || *end != '\0' || v < min || v > max)
		bench_die(prog, "%s must be a number from %ld to %ld", opt, min, max);
	return v;
}

/* (Re)makes the scratch stream name on subjects (a pattern), with the
 * STORE stream's settings (file storage, 2 minutes duplicate window) and
 * a short life: a baseline never touches the store's own stream. */
static inline natsStatus
bench_scratch_stream(jsCtx *js, const char *name, const char *subjects)
{
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode je = 0;
	const char *subj[1] = { subjects };
	natsStatus s;

	(void)js_DeleteStream(js, name, NULL, &je);
	je = 0;
	jsStreamConfig_Init(&sc);
	sc.Name = name;
	sc.Subjects = subj;
	sc.SubjectsLen = 1;
	sc.Retention = js_LimitsPolicy;
	sc.Discard = js_DiscardOld;
	sc.Storage = js_FileStorage;
	sc.MaxAge = 3600LL * 1000 * BENCH_NS_MS;          /* ns */
	sc.Duplicates = 120LL * 1000 * BENCH_NS_MS;       /* ns */
	s = js_AddStream(&si, js, &sc, NULL, &je);
	jsStreamInfo_Destroy(si);
	return s;
}

/* A durable pull consumer on stream for subject, delivering what is
 * published from now on (DeliverNew) or everything (all), with explicit
 * acks or none, bound to *sub. */
static inline natsStatus
bench_pull(jsCtx *js, const char *stream, const char *durable, const char *subject,
           int all, int ack, natsSubscription **sub)
{
	jsConsumerConfig cc;
	jsConsumerInfo *ci = NULL;
	jsSubOptions so;
	jsErrCode je = 0;
	natsStatus s;

	jsConsumerConfig_Init(&cc);
	cc.Durable = durable;
	cc.FilterSubject = subject;
	cc.DeliverPolicy = all ? js_DeliverAll : js_DeliverNew;
	cc.AckPolicy = ack ? js_AckExplicit : js_AckNone;
	cc.ReplayPolicy = js_ReplayInstant;
	cc.AckWait = 30000LL * BENCH_NS_MS;                /* ns */
	cc.MaxDeliver = -1;
	cc.MaxAckPending = ack ? 1000 : -1;
	s = js_AddConsumer(&ci, js, stream, &cc, NULL, &je);
	jsConsumerInfo_Destroy(ci);
	if (s != NATS_OK)
		return s;
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Consumer = durable;
	return js_PullSubscribe(sub, js, subject, durable, NULL, &so, &je);
}

#endif
