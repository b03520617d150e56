/* ctl_health.c - storectl health: every dependency and every service of a
 * store, one line each.
 *
 * The services are found in the launcher's state folder (bin/store-run):
 * DIR/run/NAME.cmd for each process it started (NAME.env holds its
 * variables: STORE_LISTEN for a FastCGI program), NAME.pid while it runs,
 * NAME.sock for a FastCGI program's socket, DIR/db/NAME.db its
 * databases. */
#include "ctl_impl.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/catalog.h"
#include "store/config.h"
#include "store/db.h"
#include "store/fcgi.h"
#include "store/jobs.h"
#include "store/json.h"

#define NAMES_MAX   256
#define NAME_LEN    64
#define VALUE_MAX   1024

const char ctl_help_health[] =
	"usage: storectl health [--var DIR]\n"
	"\n"
	"Checks every dependency and every service of the store, one line each:\n"
	"{check, name, status, detail}, status \"up\" or \"down\". Exits 69 when\n"
	"any is down.\n"
	"\n"
	"  service   each FastCGI program (DIR/run/NAME.env sets STORE_LISTEN)\n"
	"            answers GET /readyz on its socket, over FastCGI: its database,\n"
	"            and the bus or Redis where it uses them, answer\n"
	"  process   each other process the launcher started (daemons, nats-server,\n"
	"            nginx: DIR/run/NAME.cmd) runs: DIR/run/NAME.pid names a live\n"
	"            process running that program (store-nothp's command, for a\n"
	"            command run through it)\n"
	"  nats      NATS_URL connects and the STORE stream answers\n"
	"  redis     REDIS_URL answers PING (when it is set, or a process of\n"
	"            DIR/run uses it)\n"
	"  db        each DIR/db/*.db, and STORE_DB when set, opens and answers\n"
	"  stock     DIR/db/products.db: no product's stock (count) is below 0;\n"
	"            an oversold product is reported down, with its id\n"
	"\n"
	"NATS_URL and REDIS_URL are taken from the environment, else from the\n"
	"variables the launcher gave the programs (DIR/run/*.env).\n"
	"\n"
	"options:\n"
	"  --var DIR     the launcher's state folder (./var); without it, only the\n"
	"                dependencies of the environment are checked\n"
	"\n"
	"exit status: 0 all up, 64 usage, 69 something is down, 78 configuration.\n";

typedef struct health {
	ctl *c;
	const char *var;
	int down;
	char names[NAMES_MAX][NAME_LEN];
	size_t nnames;
} health;

static void
report(health *h, const char *check, const char *name, bool up, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
report(health *h, const char *check, const char *name, bool up, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (!up)
		h->down++;
	ctl_out_row(h->c, json_pack("{s:s,s:s,s:s,s:s}", "check", check, "name", name,
	                            "status", up ? "up" : "down", "detail", detail));
}

/* The value of KEY= in file, into out; 0 when found. */
static int
env_value(const char *file, const char *key, char *out, size_t len)
{
	char line[VALUE_MAX + 128];
	size_t klen = strlen(key);
	FILE *f = fopen(file, "r");
	int rc = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, klen) != 0 || line[klen] != '=')
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		snprintf(out, len, "%s", line + klen + 1);
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

/* KEY from the environment, else from the first DIR/run/NAME.env having
 * it; 0 when found. */
static int
setting(health *h, const char *key, char *out, size_t len)
{
	char file[PATH_MAX];
	const char *v = getenv(key);

	if (v != NULL && v[0] != '\0') {
		snprintf(out, len, "%s", v);
		return 0;
	}
	for (size_t i = 0; h->var != NULL && i < h->nnames; i++) {
		snprintf(file, sizeof file, "%s/run/%s.env", h->var, h->names[i]);
		if (env_value(file, key, out, len) == 0)
			return 0;
	}
	return -1;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The names of DIR/run/NAME.{cmd,pid,sock}, sorted, the launcher's own
 * pid file left out. */
static void
find_names(health *h)
{
	static const char *const exts[] = { ".cmd", ".pid", ".sock" };
	char dir[PATH_MAX], name[NAME_LEN];
	struct dirent *d;
	DIR *dp;
	size_t len, el;
	bool seen;

	snprintf(dir, sizeof dir, "%s/run", h->var);
	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL && h->nnames < NAMES_MAX) {
		len = strlen(d->d_name);
		for (size_t k = 0; k < 3; k++) {
			el = strlen(exts[k]);
			if (len <= el || len - el >= NAME_LEN ||
			    strcmp(d->d_name + len - el, exts[k]) != 0)
				continue;
			snprintf(name, sizeof name, "%.*s", (int)(len - el), d->d_name);
			if (strcmp(name, "store-run") == 0)
				break;
			seen = false;
			for (size_t i = 0; i < h->nnames && !seen; i++)
				seen = strcmp(h->names[i], name) == 0;
			if (!seen)
				snprintf(h->names[h->nnames++], NAME_LEN, "%s", name);
			break;
		}
	}
	closedir(dp);
	qsort(h->names, h->nnames, NAME_LEN, by_name);
}

/* One word of a line quoted for bash (printf %q: backslash escapes, or
 * 'single quotes'), from *p, unquoted into out (cut at len); *p moves past
 * it. Returns 0, or -1 when the line has no word left. */
static int
cmd_word(const char **p, char *out, size_t len)
{
	const char *s = *p + strspn(*p, " \t");
	bool quoted = false;
	size_t n = 0;

	if (*s == '\0' || *s == '\r' || *s == '\n')
		return -1;
	for (; *s != '\0' && (quoted || strchr(" \t\r\n", *s) == NULL); s++) {
		if (*s == '\'') {
			quoted = !quoted;
			continue;
		}
		if (*s == '\\' && !quoted && s[1] != '\0')
			s++;
		if (n + 1 < len)
			out[n++] = *s;
	}
	out[n] = '\0';
	*p = s;
	return 0;
}

/* The basename of the program DIR/run/NAME.cmd runs: its first word, or
 * the second when the first is store-nothp (which becomes its command). */
static int
cmd_program(health *h, const char *name, char *out, size_t len)
{
	char file[PATH_MAX], line[VALUE_MAX], word[VALUE_MAX], *slash;
	const char *p;
	size_t n;
	FILE *f;

	snprintf(file, sizeof file, "%s/run/%s.cmd", h->var, name);
	if ((f = fopen(file, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof line, f);
	fclose(f);
	if (p == NULL || cmd_word(&p, word, sizeof word) != 0)
		return -1;
	slash = strrchr(word, '/');
	if (strcmp(slash != NULL ? slash + 1 : word, "store-nothp") == 0) {
		if (cmd_word(&p, word, sizeof word) != 0)
			return -1;
		slash = strrchr(word, '/');
	}
	p = slash != NULL ? slash + 1 : word;
	n = strlen(p);
	if (n >= len)
		return -1;
	memcpy(out, p, n + 1);
	return 0;
}

/* pid runs program (the basename of its argv[0]), and is not a zombie. */
static bool
alive(pid_t pid, const char *program)
{
	char file[64], buf[512], *state, *slash;
	size_t n;
	FILE *f;

	if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
		return false;
	snprintf(file, sizeof file, "/proc/%d/stat", (int)pid);
	if ((f = fopen(file, "r")) != NULL) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		state = strrchr(buf, ')');
		if (state != NULL && state[1] == ' ' && state[2] == 'Z')
			return false;
	}
	if (program == NULL)
		return true;
	snprintf(file, sizeof file, "/proc/%d/cmdline", (int)pid);
	if ((f = fopen(file, "r")) == NULL)
		return true;                   /* no /proc: take kill's word */
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, " :")] = '\0';       /* nginx: "nginx: master ..." */
	slash = strrchr(buf, '/');
	return strcmp(slash != NULL ? slash + 1 : buf, program) == 0;
}

static void
check_process(health *h, const char *name)
{
	char file[PATH_MAX], program[256] = "";
	long long pid = 0;
	bool known = cmd_program(h, name, program, sizeof program) == 0;
	FILE *f;

	snprintf(file, sizeof file, "%s/run/%s.pid", h->var, name);
	if ((f = fopen(file, "r")) == NULL) {
		report(h, "process", name, false, "not running (no %s.pid)", name);
		return;
	}
	if (fscanf(f, "%lld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (!alive((pid_t)pid, known ? program : NULL))
		report(h, "process", name, false, "pid %lld is not running%s%s", pid,
		       known ? " " : "", known ? program : "");
	else
		report(h, "process", name, true, "pid %lld", pid);
}

static void
check_service(health *h, const char *name, const char *sock)
{
	char body[512] = "", err[256] = "";
	json_t *doc;
	const char *dep;
	int status = 0;
	store_err e;

	e = store_fcgi_get(sock, "/readyz", NULL, h->c->timeout_ms, &status, body, sizeof body,
	                   err, sizeof err);
	if (e != STORE_OK) {
		report(h, "service", name, false, "%s", err[0] != '\0' ? err : store_strerror(e));
		return;
	}
	if (status == 200) {
		report(h, "service", name, true, "ready");
		return;
	}
	doc = json_loads(body, 0, NULL);
	dep = store_json_str(json_array_get(json_object_get(doc, "errors"), 0), "dependency");
	report(h, "service", name, false, "not ready (%d%s%s)", status,
	       dep != NULL ? ": " : "", dep != NULL ? dep : "");
	json_decref(doc);
}

static void
check_programs(health *h)
{
	char file[PATH_MAX], sock[VALUE_MAX];

	for (size_t i = 0; i < h->nnames && !*h->c->stop; i++) {
		snprintf(file, sizeof file, "%s/run/%s.env", h->var, h->names[i]);
		if (env_value(file, "STORE_LISTEN", sock, sizeof sock) == 0) {
			check_service(h, h->names[i], sock);
			continue;
		}
		snprintf(file, sizeof file, "%s/run/%s.sock", h->var, h->names[i]);
		if (access(file, F_OK) == 0) {
			check_service(h, h->names[i], file);
			continue;
		}
		check_process(h, h->names[i]);
	}
}

static void
check_nats(health *h)
{
	char url[VALUE_MAX] = "nats://127.0.0.1:4222", msg[512] = "";
	store_bus_config cfg;
	store_stream_state st;
	store_bus *bus = NULL;
	store_err e;

	(void)setting(h, "NATS_URL", url, sizeof url);
	if (store_bus_config_load(&cfg, "storectl", msg, sizeof msg) != STORE_OK) {
		report(h, "nats", "nats", false, "%s", msg);
		return;
	}
	cfg.url = url;
	cfg.keep_stream = 1;
	if ((e = store_bus_open(&cfg, NULL, &bus, msg, sizeof msg)) != STORE_OK) {
		report(h, "nats", "nats", false, "%s", msg);
		return;
	}
	if (store_bus_wait(bus, h->c->timeout_ms) != STORE_OK) {
		report(h, "nats", "nats", false, "no connection within %ld s",
		       h->c->timeout_ms / 1000);
	} else if ((e = store_bus_stream_state(bus, &st)) != STORE_OK) {
		report(h, "nats", "nats", false, "stream '%s': %s", STORE_STREAM,
		       store_strerror(e));
	} else {
		report(h, "nats", "nats", true, "stream '%s': %llu events (seq %llu-%llu), "
		       "%ld consumers", STORE_STREAM, (unsigned long long)st.messages,
		       (unsigned long long)st.first_seq, (unsigned long long)st.last_seq,
		       st.consumers);
	}
	store_bus_free(bus);
}

static void
check_redis(health *h)
{
	char url[VALUE_MAX] = "redis://127.0.0.1:6379", why[256] = "", msg[256] = "";
	char prefix[VALUE_MAX] = "store:expiration";
	bool wanted = setting(h, "REDIS_URL", url, sizeof url) == 0;
	size_t waiting = 0, leased = 0;
	store_jobs *j = NULL;

	for (size_t i = 0; !wanted && i < h->nnames; i++)
		wanted = strcmp(h->names[i], "redis") == 0 || strcmp(h->names[i], "expirerd") == 0;
	if (!wanted)
		return;
	(void)setting(h, "STORE_JOBS_PREFIX", prefix, sizeof prefix);
	if (store_jobs_open(url, prefix, &j, msg, sizeof msg) != STORE_OK) {
		report(h, "redis", "redis", false, "%s", msg);
		return;
	}
	if (store_jobs_ping(j) != STORE_OK) {
		store_jobs_last_error(j, why, sizeof why);
		report(h, "redis", "redis", false, "no answer to PING (%s)", why);
	} else if (store_jobs_count(j, &waiting, &leased) == STORE_OK) {
		report(h, "redis", "redis", true, "%zu jobs waiting, %zu leased", waiting, leased);
	} else {
		report(h, "redis", "redis", true, "answers PING");
	}
	store_jobs_free(j);
}

#define STOCK_PAGE 500

/* The products service's database: no product's stock below 0. An
 * oversell should be impossible; if one ever happens, this says so. */
static void
check_stock(health *h, const char *name, store_db *db)
{
	store_find_opts opts = { NULL, 0, STOCK_PAGE, 0 };
	json_t *docs = NULL, *d;
	char first[64] = "";
	size_t i, n = 0, seen = 0;
	store_err e;

	do {
		json_decref(docs);
		docs = NULL;
		if ((e = store_db_find(db, "products", NULL, &opts, &docs)) != STORE_OK)
			break;
		json_array_foreach(docs, i, d) {
			if (store_json_int(d, "count", 0) >= 0)
				continue;
			if (n++ == 0)
				snprintf(first, sizeof first, "%s (count %lld)", store_json_str(d, "id"),
				         store_json_int(d, "count", 0));
		}
		seen += json_array_size(docs);
		opts.skip += STOCK_PAGE;
	} while (json_array_size(docs) == STOCK_PAGE);
	json_decref(docs);
	if (e != STORE_OK)
		report(h, "stock", name, false, "products unreadable (%s)", store_db_errmsg(db));
	else if (n > 0)
		report(h, "stock", name, false, "%zu of %zu products oversold, stock below 0: %s%s",
		       n, seen, first, n > 1 ? ", ..." : "");
	else
		report(h, "stock", name, true, "%zu products, none below 0", seen);
}

static void
check_db(health *h, const char *name, const char *url)
{
	char msg[512] = "";
	store_db *db = NULL;
	store_err e;

	bool products = strcmp(name, "products") == 0;

	/* The products database is opened with its schema, to read its stock. */
	if ((e = store_db_open(url, products ? store_catalog_collections : NULL,
	                       products ? store_catalog_ncollections : 0, &db, msg,
	                       sizeof msg)) != STORE_OK) {
		report(h, "db", name, false, "%s", msg[0] != '\0' ? msg : store_strerror(e));
		return;
	}
	if (store_db_ping(db) != STORE_OK)
		report(h, "db", name, false, "no answer (%s)", store_db_errmsg(db));
	else
		report(h, "db", name, true, "%s", store_db_backend(db));
	if (products)
		check_stock(h, name, db);
	store_db_free(db);
}

static void
check_dbs(health *h)
{
	char dir[PATH_MAX], url[2 * PATH_MAX + 16], name[NAME_LEN];
	struct dirent **list = NULL;
	const char *env = getenv("STORE_DB");
	int n;
	size_t len;

	if (h->var != NULL) {
		snprintf(dir, sizeof dir, "%s/db", h->var);
		n = scandir(dir, &list, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			len = strlen(list[i]->d_name);
			if (len > 3 && len - 3 < NAME_LEN &&
			    strcmp(list[i]->d_name + len - 3, ".db") == 0) {
				snprintf(name, sizeof name, "%.*s", (int)(len - 3), list[i]->d_name);
				snprintf(url, sizeof url, "sqlite:%s/%s", dir, list[i]->d_name);
				check_db(h, name, url);
			}
			free(list[i]);
		}
		free(list);
	}
	if (env != NULL && env[0] != '\0')
		check_db(h, "STORE_DB", env);
}

int
cmd_health(ctl *c, int argc, char **argv)
{
	static const ctl_col cols[] = {
		{ "check", "CHECK", 0 }, { "name", "NAME", 0 }, { "status", "STATUS", 0 },
		{ "detail", "DETAIL", 0 },
	};
	const char *var = NULL;
	char *pos[1];
	struct stat sb;
	health *h;
	int npos, rc;
	const ctl_opt opts[] = { { "var", &var, NULL } };

	if ((rc = ctl_parse(c, opts, 1, argc, argv, pos, &npos, 0, 0)) != 0)
		return rc;
	if (var != NULL && (stat(var, &sb) != 0 || !S_ISDIR(sb.st_mode)))
		return ctl_usage(c, "--var '%.200s' is not a folder", var);
	if (var == NULL && stat("./var/run", &sb) == 0 && S_ISDIR(sb.st_mode))
		var = "./var";
	if ((h = calloc(1, sizeof *h)) == NULL)
		return ctl_fail(c, CTL_SOFTWARE, "out of memory");
	h->c = c;
	h->var = var;
	if (var != NULL)
		find_names(h);
	ctl_out_begin(c, cols, 4, false);
	check_nats(h);
	check_redis(h);
	check_dbs(h);
	if (var != NULL)
		check_programs(h);
	ctl_out_end(c);
	rc = h->down > 0 ? CTL_UNAVAILABLE : CTL_OK;
	if (h->down > 0)
		ctl_fail(c, rc, "%d check%s down", h->down, h->down > 1 ? "s are" : " is");
	free(h);
	return rc;
}
