/* metrics.c - the registry: families, series, collectors, and rendering in
 * Prometheus's text exposition format 0.0.4 (store/metrics.h). */
#include "store/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
	char *values[STORE_METRICS_LABELS];
	double v;                       /* counter, gauge; histogram: sum */
	uint64_t count;                 /* histogram */
	uint64_t buckets[STORE_METRICS_BUCKETS]; /* histogram, not cumulative */
	struct series *next;
} series;

struct store_metric {
	store_metrics *m;
	char *name, *help;
	store_metric_type type;
	char *labels[STORE_METRICS_LABELS];
	size_t nlabels;
	double bounds[STORE_METRICS_BUCKETS];
	size_t nbounds;
	series *head, *tail;
	size_t nseries;
	struct store_metric *next;
};

typedef struct collector {
	store_metrics_collect_fn fn;
	void *ctx;
	int id;                         /* 0: free slot */
} collector;

struct store_metrics {
	pthread_mutex_t mu;             /* families and series */
	pthread_mutex_t collect_mu;     /* collectors, and running them */
	store_metric *head, *tail;
	collector collectors[STORE_METRICS_COLLECTORS];
	int next_id;
};

store_err
store_metrics_new(store_metrics **out)
{
	store_metrics *m = calloc(1, sizeof *m);

	*out = NULL;
	if (m == NULL)
		return STORE_ENOMEM;
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->collect_mu, NULL);
	*out = m;
	return STORE_OK;
}

static void
series_free(series *s)
{
	for (size_t i = 0; i < STORE_METRICS_LABELS; i++)
		free(s->values[i]);
	free(s);
}

static void
family_clear(store_metric *f)
{
	series *s = f->head, *next;

	for (; s != NULL; s = next) {
		next = s->next;
		series_free(s);
	}
	f->head = f->tail = NULL;
	f->nseries = 0;
}

static void
family_free(store_metric *f)
{
	family_clear(f);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	free(f);
}

void
store_metrics_free(store_metrics *m)
{
	store_metric *f, *next;

	if (m == NULL)
		return;
	for (f = m->head; f != NULL; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->collect_mu);
	free(m);
}

static bool
name_ok(const char *s, bool colons)
{
	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		            (colons && *p == ':');
		if (!alpha && !(p > s && *p >= '0' && *p <= '9'))
			return false;
	}
	return true;
}

/* Same type, labels and buckets as asked. */
static bool
family_same(const store_metric *f, store_metric_type type, const char *const *labels,
            size_t nlabels, const double *buckets, size_t nbuckets)
{
	if (f->type != type || f->nlabels != nlabels || f->nbounds != nbuckets)
		return false;
	for (size_t i = 0; i < nlabels; i++)
		if (strcmp(f->labels[i], labels[i]) != 0)
			return false;
	for (size_t i = 0; i < nbuckets; i++)
		if (f->bounds[i] != buckets[i])
			return false;
	return true;
}

static series *series_get(store_metric *f, const char *const *values);

/* A new family from checked arguments; NULL when out of memory. */
static store_metric *
family_new(store_metrics *m, const char *name, const char *help, store_metric_type type,
           const char *const *labels, size_t nlabels, const double *buckets,
           size_t nbuckets)
{
	store_metric *f = calloc(1, sizeof *f);

	if (f == NULL)
		return NULL;
	f->m = m;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help != NULL ? help : "");
	if (f->name == NULL || f->help == NULL)
		goto fail;
	for (; f->nlabels < nlabels; f->nlabels++)
		if ((f->labels[f->nlabels] = strdup(labels[f->nlabels])) == NULL)
			goto fail;
	if (nbuckets > 0)
		memcpy(f->bounds, buckets, nbuckets * sizeof *buckets);
	f->nbounds = nbuckets;
	if (nlabels == 0 && series_get(f, NULL) == NULL)
		goto fail;
	return f;
fail:
	family_free(f);
	return NULL;
}

store_metric *
store_metric_family(store_metrics *m, const char *name, const char *help,
                    store_metric_type type, const char *const *labels,
                    const double *buckets, size_t nbuckets)
{
	store_metric *f = NULL;
	size_t nlabels = 0;

	if (m == NULL || !name_ok(name, true) ||
	    (type == STORE_METRIC_HISTOGRAM) != (buckets != NULL || nbuckets > 0) ||
	    nbuckets > STORE_METRICS_BUCKETS - 1 || (type == STORE_METRIC_HISTOGRAM && nbuckets == 0))
		return NULL;
	for (size_t i = 0; i < nbuckets; i++)
		if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
			return NULL;
	for (; labels != NULL && labels[nlabels] != NULL; nlabels++)
		if (nlabels == STORE_METRICS_LABELS || !name_ok(labels[nlabels], false) ||
		    strncmp(labels[nlabels], "__", 2) == 0 ||
		    (type == STORE_METRIC_HISTOGRAM && strcmp(labels[nlabels], "le") == 0))
			return NULL;
	pthread_mutex_lock(&m->mu);
	for (f = m->head; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f != NULL) {
		if (!family_same(f, type, labels, nlabels, buckets, nbuckets))
			f = NULL;
		goto out;
	}
	if ((f = family_new(m, name, help, type, labels, nlabels, buckets, nbuckets)) == NULL)
		goto out;
	if (m->tail != NULL)
		m->tail->next = f;
	else
		m->head = f;
	m->tail = f;
out:
	pthread_mutex_unlock(&m->mu);
	return f;
}

/* The series of values, made when missing; NULL past the bound or out of
 * memory. Called with the registry's lock held (or before the family is
 * shared). */
static series *
series_get(store_metric *f, const char *const *values)
{
	series *s;
	size_t i;

	for (s = f->head; s != NULL; s = s->next) {
		for (i = 0; i < f->nlabels; i++)
			if (strncmp(s->values[i], values[i] != NULL ? values[i] : "",
			            STORE_METRICS_VALUE_MAX) != 0)
				break;
		if (i == f->nlabels)
			return s;
	}
	if (f->nseries >= STORE_METRICS_SERIES || (s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	for (i = 0; i < f->nlabels; i++) {
		s->values[i] = strndup(values[i] != NULL ? values[i] : "", STORE_METRICS_VALUE_MAX);
		if (s->values[i] == NULL) {
			series_free(s);
			return NULL;
		}
	}
	if (f->tail != NULL)
		f->tail->next = s;
	else
		f->head = s;
	f->tail = s;
	f->nseries++;
	return s;
}

static void
update(store_metric *f, const char *const *values, double v, int op)
{
	series *s;

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->m->mu);
	if ((s = series_get(f, values)) == NULL)
		goto out;
	switch (op) {
	case 'a':
		if (f->type != STORE_METRIC_HISTOGRAM && (f->type == STORE_METRIC_GAUGE || v >= 0))
			s->v += v;
		break;
	case 's':
		if (f->type == STORE_METRIC_GAUGE)
			s->v = v;
		break;
	case 'o':
		if (f->type != STORE_METRIC_HISTOGRAM || isnan(v))
			break;
		size_t b = 0;
		while (b < f->nbounds && v > f->bounds[b])
			b++;
		s->buckets[b]++;        /* b == nbounds: only +Inf */
		s->count++;
		s->v += v;
		break;
	}
out:
	pthread_mutex_unlock(&f->m->mu);
}

void
store_metric_add(store_metric *f, const char *const *values, double v)
{
	update(f, values, v, 'a');
}

void
store_metric_set(store_metric *f, const char *const *values, double v)
{
	update(f, values, v, 's');
}

void
store_metric_observe(store_metric *f, const char *const *values, double v)
{
	update(f, values, v, 'o');
}

void
store_metric_reset(store_metric *f)
{
	if (f == NULL || f->nlabels == 0)
		return;
	pthread_mutex_lock(&f->m->mu);
	family_clear(f);
	pthread_mutex_unlock(&f->m->mu);
}

store_err
store_metrics_collector_add(store_metrics *m, store_metrics_collect_fn fn, void *ctx,
                            int *id)
{
	store_err e = STORE_ETOOBIG;

	*id = 0;
	if (m == NULL || fn == NULL)
		return STORE_EINVAL;
	pthread_mutex_lock(&m->collect_mu);
	for (size_t i = 0; i < STORE_METRICS_COLLECTORS; i++) {
		if (m->collectors[i].id != 0)
			continue;
		m->collectors[i] = (collector){ fn, ctx, ++m->next_id };
		*id = m->next_id;
		e = STORE_OK;
		break;
	}
	pthread_mutex_unlock(&m->collect_mu);
	return e;
}

void
store_metrics_collector_remove(store_metrics *m, int id)
{
	if (m == NULL || id == 0)
		return;
	pthread_mutex_lock(&m->collect_mu);
	for (size_t i = 0; i < STORE_METRICS_COLLECTORS; i++)
		if (m->collectors[i].id == id)
			m->collectors[i] = (collector){ 0 };
	pthread_mutex_unlock(&m->collect_mu);
}

/* ---- rendering ---------------------------------------------------------- */

/* A finite number in its shortest form that reads back the same. */
static void
format_number(char out[40], double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, 40, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* A sample value as Prometheus reads it. */
static void
put_value(FILE *o, double v)
{
	char buf[40];

	if (isnan(v)) {
		fputs("NaN", o);
	} else if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", o);
	} else {
		format_number(buf, v);
		fputs(buf, o);
	}
}

/* Text with \ and newline escaped, and " too when quote (label values). */
static void
put_escaped(FILE *o, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", o);
		else if (*s == '\n')
			fputs("\\n", o);
		else if (quote && *s == '"')
			fputs("\\\"", o);
		else
			fputc(*s, o);
	}
}

/* {a="x",b="y"} with le="..." last when le is not NULL; nothing when there
 * is no label at all. */
static void
put_labels(FILE *o, const store_metric *f, const series *s, const char *le)
{
	if (f->nlabels == 0 && le == NULL)
		return;
	fputc('{', o);
	for (size_t i = 0; i < f->nlabels; i++) {
		fprintf(o, "%s%s=\"", i > 0 ? "," : "", f->labels[i]);
		put_escaped(o, s->values[i], 1);
		fputc('"', o);
	}
	if (le != NULL)
		fprintf(o, "%sle=\"%s\"", f->nlabels > 0 ? "," : "", le);
	fputc('}', o);
}

static void
put_family(FILE *o, const store_metric *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	char le[40];

	fprintf(o, "# HELP %s ", f->name);
	put_escaped(o, f->help, 0);
	fprintf(o, "\n# TYPE %s %s\n", f->name, types[f->type]);
	for (const series *s = f->head; s != NULL; s = s->next) {
		if (f->type != STORE_METRIC_HISTOGRAM) {
			fputs(f->name, o);
			put_labels(o, f, s, NULL);
			fputc(' ', o);
			put_value(o, s->v);
			fputc('\n', o);
			continue;
		}
		uint64_t cum = 0;
		for (size_t b = 0; b <= f->nbounds; b++) {
			cum += s->buckets[b];
			if (b < f->nbounds)
				format_number(le, f->bounds[b]);
			fprintf(o, "%s_bucket", f->name);
			put_labels(o, f, s, b < f->nbounds ? le : "+Inf");
			fprintf(o, " %llu\n", (unsigned long long)cum);
		}
		fprintf(o, "%s_sum", f->name);
		put_labels(o, f, s, NULL);
		fputc(' ', o);
		put_value(o, s->v);
		fprintf(o, "\n%s_count", f->name);
		put_labels(o, f, s, NULL);
		fprintf(o, " %llu\n", (unsigned long long)s->count);
	}
}

store_err
store_metrics_render(store_metrics *m, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *o;
	int bad;

	*out = NULL;
	*len = 0;
	if (m == NULL)
		return STORE_EINVAL;
	pthread_mutex_lock(&m->collect_mu);
	for (size_t i = 0; i < STORE_METRICS_COLLECTORS; i++)
		if (m->collectors[i].id != 0)
			m->collectors[i].fn(m, m->collectors[i].ctx);
	pthread_mutex_unlock(&m->collect_mu);
	if ((o = open_memstream(&buf, &n)) == NULL)
		return STORE_ENOMEM;
	pthread_mutex_lock(&m->mu);
	for (const store_metric *f = m->head; f != NULL; f = f->next)
		put_family(o, f);
	pthread_mutex_unlock(&m->mu);
	bad = ferror(o);
	if (fclose(o) != 0 || bad) {
		free(buf);
		return STORE_ENOMEM;
	}
	*out = buf;
	*len = n;
	return STORE_OK;
}
