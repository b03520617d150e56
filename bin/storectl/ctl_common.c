/* ctl_common.c - storectl's arguments, output, progress bars and the
 * connection to NATS, shared by its commands. */
#include "ctl_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/json.h"
#include "store/log.h"
#include "store/time.h"

#define CELL_MAX      60     /* a table cell is cut beyond this */
#define BAR_WIDTH     24
#define REDRAW_MS     100
#define TIMEOUT_MAX_S 3600

/* ---- messages ----------------------------------------------------------- */

static void
say(ctl *c, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (c->cmd != NULL && c->sub != NULL)
		fprintf(stderr, "%s %s %s: %s\n", c->prog, c->cmd->name, c->sub, msg);
	else if (c->cmd != NULL)
		fprintf(stderr, "%s %s: %s\n", c->prog, c->cmd->name, msg);
	else
		fprintf(stderr, "%s: %s\n", c->prog, msg);
}

int
ctl_usage(ctl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, fmt, ap);
	va_end(ap);
	if (c->cmd != NULL)
		fprintf(stderr, "Try '%s %s --help'.\n", c->prog, c->cmd->name);
	else
		fprintf(stderr, "Try '%s help'.\n", c->prog);
	return CTL_USAGE;
}

int
ctl_fail(ctl *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, fmt, ap);
	va_end(ap);
	return status;
}

int
ctl_status(store_err e)
{
	switch (e) {
	case STORE_OK: return CTL_OK;
	case STORE_EUNAVAIL: return CTL_UNAVAILABLE;
	case STORE_ECONFIG: return CTL_CONFIG;
	case STORE_EINVAL:
	case STORE_ETOOBIG: return CTL_DATAERR;
	case STORE_ENOMEM:
	case STORE_EINTERNAL: return CTL_SOFTWARE;
	default: return CTL_FAIL;
	}
}

/* ---- arguments ---------------------------------------------------------- */

int
ctl_common_opt(ctl *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v = NULL, *eq;
	char name[32];
	long long n;
	size_t len;

	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
		if (c->cmd != NULL)
			fputs(c->cmd->help, stdout);
		return CTL_HELP;
	}
	if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
		c->verbose++;
		store_log_init("storectl", c->verbose > 1 ? STORE_LOG_DEBUG : STORE_LOG_INFO);
		return 1;
	}
	if (strncmp(a, "--", 2) != 0)
		return 0;
	eq = strchr(a, '=');
	len = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
	if (len >= sizeof name)
		return 0;
	memcpy(name, a + 2, len);
	name[len] = '\0';
	if (strcmp(name, "format") != 0 && strcmp(name, "timeout") != 0)
		return 0;
	if (eq != NULL)
		v = eq + 1;
	else if (*i + 1 < argc)
		v = argv[++*i];
	else
		return ctl_usage(c, "option '--%s' needs a value", name);
	if (strcmp(name, "format") == 0) {
		if (strcmp(v, "json") == 0)
			c->format = CTL_JSON;
		else if (strcmp(v, "table") == 0)
			c->format = CTL_TABLE;
		else
			return ctl_usage(c, "--format must be json or table, not '%.64s'", v);
		return 1;
	}
	if (ctl_number(v, 1, TIMEOUT_MAX_S, &n) != 0)
		return ctl_usage(c, "--timeout must be a number of seconds from 1 to %d, "
		                 "not '%.64s'", TIMEOUT_MAX_S, v);
	c->timeout_ms = (long)n * 1000;
	return 1;
}

int
ctl_parse(ctl *c, const ctl_opt *opts, size_t nopts, int argc, char **argv,
          char **pos, int *npos, int min, int max)
{
	const char *a, *eq;
	const ctl_opt *o;
	size_t len;
	int rc;
	bool dashdash = false;

	*npos = 0;
	for (int i = 0; i < argc; i++) {
		a = argv[i];
		if (dashdash || a[0] != '-' || strcmp(a, "-") == 0) {
			if (max >= 0 && *npos >= max)
				return ctl_usage(c, "unexpected argument '%.64s'", a);
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if ((rc = ctl_common_opt(c, argc, argv, &i)) != 0) {
			if (rc < 0 || rc == CTL_USAGE)
				return rc;
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			return ctl_usage(c, "unknown option '%.64s'", a);
		eq = strchr(a, '=');
		len = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
		o = NULL;
		for (size_t k = 0; k < nopts && o == NULL; k++)
			if (strlen(opts[k].name) == len && strncmp(opts[k].name, a + 2, len) == 0)
				o = &opts[k];
		if (o == NULL)
			return ctl_usage(c, "unknown option '%.*s'", (int)(len + 2 > 64 ? 64 : len + 2), a);
		if (o->flag != NULL) {
			if (eq != NULL)
				return ctl_usage(c, "option '--%s' takes no value", o->name);
			*o->flag = 1;
			continue;
		}
		if (eq != NULL)
			*o->value = eq + 1;
		else if (i + 1 < argc)
			*o->value = argv[++i];
		else
			return ctl_usage(c, "option '--%s' needs a value", o->name);
	}
	if (*npos < min)
		return ctl_usage(c, "missing argument%s", min - *npos > 1 ? "s" : "");
	return 0;
}

int
ctl_number(const char *s, long long min, long long max, long long *out)
{
	char *end = NULL;
	long long v;

	if (s == NULL || *s == '\0' || strspn(s, "0123456789-") != strlen(s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
ctl_money(const char *s, long long *cents)
{
	const char *dot;
	long long whole = 0, frac = 0;
	size_t nd, nf = 0;

	if (s == NULL || *s == '\0')
		return -1;
	nd = strspn(s, "0123456789");
	dot = s + nd;
	if (nd == 0 || nd > 7)
		return -1;
	if (*dot == '.') {
		nf = strspn(dot + 1, "0123456789");
		if (nf == 0 || nf > 2 || dot[1 + nf] != '\0')
			return -1;
	} else if (*dot != '\0') {
		return -1;
	}
	for (size_t i = 0; i < nd; i++)
		whole = whole * 10 + (s[i] - '0');
	for (size_t i = 0; i < nf; i++)
		frac = frac * 10 + (dot[1 + i] - '0');
	if (nf == 1)
		frac *= 10;
	*cents = whole * 100 + frac;
	return *cents > 0 && *cents <= 100000000LL ? 0 : -1;
}

int
ctl_time(const char *s, long long *ms)
{
	static const struct { char unit; long long ms; } units[] = {
		{ 's', 1000LL }, { 'm', 60000LL }, { 'h', 3600000LL }, { 'd', 86400000LL },
	};
	long long n;
	size_t len;

	if (s == NULL || (len = strlen(s)) == 0 || len > 64)
		return -1;
	/* A duration before now: "90s", "15m", "2h", "7d". */
	if (strspn(s, "0123456789") == len - 1) {
		for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
			if (s[len - 1] != units[i].unit)
				continue;
			n = strtoll(s, NULL, 10);
			if (len > 10 || n <= 0 || n > 3650LL * 86400000LL / units[i].ms)
				return -1;
			*ms = store_time_now_ms() - n * units[i].ms;
			return 0;
		}
		return -1;
	}
	/* Else an RFC 3339 time, as the whole store reads them (store/time.h). */
	return store_time_parse(s, ms) && *ms >= 0 ? 0 : -1;
}

int
ctl_subject(const char *in, char *out, size_t outlen)
{
	const char *s;
	size_t n;

	if (in == NULL || *in == '\0')
		return -1;
	if ((size_t)snprintf(out, outlen, "%s%s", strncmp(in, "store.", 6) == 0 ||
	                     strcmp(in, "store") == 0 ? "" : "store.", in) >= outlen)
		return -1;
	if (strcmp(out, "store") == 0 || strncmp(out, "store.", 6) != 0)
		return -1;
	for (s = out + 6; ; s += n + 1) {
		if (s[0] == '>' && s[1] == '\0')
			return 0;
		if (s[0] == '*' && (s[1] == '.' || s[1] == '\0'))
			n = 1;
		else
			n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			              "0123456789_-");
		if (n == 0 || (s[n] != '.' && s[n] != '\0'))
			return -1;
		if (s[n] == '\0')
			return 0;
	}
}

/* ---- output ------------------------------------------------------------- */

/* Writes line and a newline to stdout; notes a reader that went away. */
static void
emit(ctl *c, const char *line)
{
	if (c->broken)
		return;
	if (fputs(line, stdout) == EOF || putchar('\n') == EOF ||
	    (c->streaming && fflush(stdout) == EOF)) {
		if (errno != EPIPE)
			fprintf(stderr, "%s: cannot write to stdout: %s\n", c->prog,
			        strerror(errno));
		c->broken = true;
	}
}

/* The text of a table cell: strings as they are (control characters as
 * spaces), null or missing as "-", anything else as compact JSON.
 * Caller frees. */
static char *
cell(const json_t *v)
{
	char *s;

	if (v == NULL || json_is_null(v))
		return strdup("-");
	if (json_is_string(v))
		s = strdup(json_string_value(v));
	else
		s = store_json_dump(v);
	for (char *p = s; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return s;
}

/* Display width of UTF-8 s (code points), and where n of them end. */
static size_t
u8len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void
put_cell(ctl *c, char *line, size_t cap, const char *text, int width, bool last)
{
	size_t len = strlen(line), w = u8len(text), room;
	const char *p = text;
	size_t k = 0;

	if (!last && width > 0 && w > (size_t)width) {
		/* Cut to width - 1 code points and mark it. */
		while (*p != '\0' && k < (size_t)width - 1) {
			p++;
			while (((unsigned char)*p & 0xc0) == 0x80)
				p++;
			k++;
		}
		room = cap - len;
		snprintf(line + len, room, "%.*s~", (int)(p - text), text);
		w = (size_t)width;
	} else {
		snprintf(line + len, cap - len, "%s", text);
	}
	if (!last)
		for (len = strlen(line); w < (size_t)width + 2 && len + 1 < cap; w++)
			line[len++] = ' ', line[len] = '\0';
	(void)c;
}

static void
table_row(ctl *c, char **cells, const int *widths)
{
	size_t cap = 1;
	char *line;

	for (size_t i = 0; i < c->ncols; i++)
		cap += strlen(cells[i]) + (size_t)widths[i] + 3;
	if ((line = calloc(1, cap)) == NULL)
		return;
	for (size_t i = 0; i < c->ncols; i++)
		put_cell(c, line, cap, cells[i], widths[i], i + 1 == c->ncols);
	emit(c, line);
	free(line);
}

void
ctl_out_begin(ctl *c, const ctl_col *cols, size_t ncols, bool streaming)
{
	c->cols = cols;
	c->ncols = ncols;
	c->streaming = streaming;
	c->header_done = false;
	json_decref(c->rows);
	c->rows = c->format == CTL_TABLE && !streaming ? json_array() : NULL;
}

static void
stream_header(ctl *c)
{
	char *cells[16];
	int widths[16];

	for (size_t i = 0; i < c->ncols && i < 16; i++) {
		cells[i] = (char *)c->cols[i].title;
		widths[i] = c->cols[i].width > (int)u8len(c->cols[i].title)
		            ? c->cols[i].width : (int)u8len(c->cols[i].title);
	}
	table_row(c, cells, widths);
	c->header_done = true;
}

void
ctl_out_row(ctl *c, json_t *row)
{
	char *text, *cells[16];
	int widths[16];

	if (row == NULL)
		return;
	if (c->format == CTL_JSON) {
		text = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER |
		                  JSON_REAL_PRECISION(15));
		if (text != NULL)
			emit(c, text);
		free(text);
		json_decref(row);
		return;
	}
	if (!c->streaming) {
		json_array_append_new(c->rows, row);
		return;
	}
	if (!c->header_done)
		stream_header(c);
	for (size_t i = 0; i < c->ncols && i < 16; i++) {
		cells[i] = cell(json_object_get(row, c->cols[i].key));
		widths[i] = c->cols[i].width > (int)u8len(c->cols[i].title)
		            ? c->cols[i].width : (int)u8len(c->cols[i].title);
	}
	table_row(c, cells, widths);
	for (size_t i = 0; i < c->ncols && i < 16; i++)
		free(cells[i]);
	json_decref(row);
}

void
ctl_out_end(ctl *c)
{
	size_t n = json_array_size(c->rows), nc = c->ncols < 16 ? c->ncols : 16;
	char ***cells = NULL;
	int widths[16];

	if (c->format == CTL_TABLE && c->streaming && !c->header_done)
		stream_header(c);
	if (c->rows == NULL)
		goto out;
	if ((cells = calloc(n + 1, sizeof *cells)) == NULL)
		goto out;
	for (size_t i = 0; i < nc; i++)
		widths[i] = (int)u8len(c->cols[i].title);
	for (size_t r = 0; r <= n; r++) {
		if ((cells[r] = calloc(nc, sizeof **cells)) == NULL)
			goto out;
		for (size_t i = 0; i < nc; i++) {
			cells[r][i] = r == 0 ? strdup(c->cols[i].title)
			              : cell(json_object_get(json_array_get(c->rows, r - 1),
			                                     c->cols[i].key));
			if (cells[r][i] == NULL)
				goto out;
			if ((int)u8len(cells[r][i]) > widths[i])
				widths[i] = (int)u8len(cells[r][i]);
		}
	}
	for (size_t i = 0; i < nc; i++)
		if (widths[i] > CELL_MAX)
			widths[i] = CELL_MAX;
	for (size_t r = 0; r <= n; r++)
		table_row(c, cells[r], widths);
out:
	for (size_t r = 0; cells != NULL && r <= n; r++) {
		for (size_t i = 0; cells[r] != NULL && i < nc; i++)
			free(cells[r][i]);
		free(cells[r]);
	}
	free(cells);
	json_decref(c->rows);
	c->rows = NULL;
	c->cols = NULL;
	c->ncols = 0;
	fflush(stdout);
}

/* ---- progress ----------------------------------------------------------- */

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void
draw(ctl *c, ctl_progress *p)
{
	char bar[BAR_WIDTH + 1], left[32] = "";
	double secs = (double)(mono_ms() - p->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)p->done / secs : 0;
	uint64_t total = p->total > p->done ? p->total : p->done;
	size_t fill = total > 0 ? (size_t)((double)p->done / (double)total * BAR_WIDTH) : 0;

	if (!c->tty)
		return;
	for (size_t i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	if (rate > 0 && total > p->done) {
		long eta = (long)((double)(total - p->done) / rate + 0.5);
		if (eta >= 3600)
			snprintf(left, sizeof left, "  %ldh%02ldm left", eta / 3600, eta / 60 % 60);
		else if (eta >= 60)
			snprintf(left, sizeof left, "  %ldm%02lds left", eta / 60, eta % 60);
		else
			snprintf(left, sizeof left, "  %lds left", eta);
	}
	fprintf(stderr, "\r%s [%s] %llu/%llu %3d%%  %.0f/s%s\033[K", p->what, bar,
	        (unsigned long long)p->done, (unsigned long long)total,
	        total > 0 ? (int)(100.0 * (double)p->done / (double)total) : 100, rate,
	        left);
	fflush(stderr);
	p->drawn = true;
}

void
ctl_progress_start(ctl *c, ctl_progress *p, const char *what, uint64_t total)
{
	memset(p, 0, sizeof *p);
	p->what = what;
	p->total = total;
	p->start_ms = p->last_ms = mono_ms();
	(void)c;
}

void
ctl_progress_update(ctl *c, ctl_progress *p, uint64_t done, uint64_t total)
{
	long long now;

	p->done = done;
	p->total = total;
	if (!c->tty)
		return;
	now = mono_ms();
	if (now - p->last_ms < REDRAW_MS && p->drawn)
		return;
	p->last_ms = now;
	draw(c, p);
}

void
ctl_progress_end(ctl *c, ctl_progress *p)
{
	if (!c->tty || !p->drawn)
		return;
	draw(c, p);
	fputs("\n", stderr);
	fflush(stderr);
}

/* ---- NATS --------------------------------------------------------------- */

/* url without its user information (a password may be in it). */
static void
redact(const char *url, char *out, size_t len)
{
	const char *scheme = strstr(url, "://"), *at = strrchr(url, '@');

	if (scheme != NULL && at != NULL && at > scheme)
		snprintf(out, len, "%.*s***%s", (int)(scheme + 3 - url), url, at);
	else
		snprintf(out, len, "%s", url);
}

int
ctl_bus_open(ctl *c, store_bus **bus)
{
	store_bus_config cfg;
	char msg[512] = "", shown[256];
	store_err e;

	*bus = NULL;
	if (store_bus_config_load(&cfg, "storectl", msg, sizeof msg) != STORE_OK)
		return ctl_fail(c, CTL_CONFIG, "%s", msg);
	cfg.keep_stream = 1;
	redact(cfg.url, shown, sizeof shown);
	if ((e = store_bus_open(&cfg, NULL, bus, msg, sizeof msg)) != STORE_OK)
		return ctl_fail(c, e == STORE_ECONFIG ? CTL_CONFIG : ctl_status(e), "%s", msg);
	if (store_bus_wait(*bus, c->timeout_ms) != STORE_OK) {
		store_bus_free(*bus);
		*bus = NULL;
		return ctl_fail(c, CTL_UNAVAILABLE, "cannot reach nats at '%s' within %ld s",
		                shown, c->timeout_ms / 1000);
	}
	return 0;
}
