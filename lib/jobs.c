/* jobs.c - delayed jobs in Redis through hiredis. store/jobs.h has the key
 * layout and the guarantees.
 *
 * Two connections per handle. The command connection (under mu) runs the
 * Lua scripts; it is made on first use and again after it broke, and each
 * new one loads the scripts and bumps gen. The wait connection (under wmu)
 * is subscribed to P:wake and only read: store_jobs_wait asks the command
 * connection how long until the earliest due time or lease deadline, then
 * polls the wait connection and the interrupt pipe for exactly that long,
 * on this machine's monotonic clock (BLPOP's own timeout is only as fine as
 * the server's hz, 100 ms by default). The subscription is made before the
 * question is asked, so a job scheduled in between still wakes the waiter.
 *
 * Lock order: wmu before mu; emu (the last error) innermost. */
#include "store/jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>

#define JOBS_CONNECT_MS   2000      /* connecting */
#define JOBS_IO_MS        5000      /* one command's reply */
#define JOBS_WAIT_MAX     86400000L /* longest store_jobs_wait */
#define JOBS_HOST_MAX     256       /* host name or socket path */
#define JOBS_CRED_MAX     256       /* user name, password */
#define JOBS_DB_MAX       1000000L
#define JOBS_ERR_MAX      256
#define JOBS_KEY_MAX      (STORE_JOBS_PREFIX_MAX + 8)
#define JOBS_SHA_LEN      40
#define JOBS_ARGS_MAX     (STORE_JOBS_TAKE_MAX + 1) /* script arguments, the
                                    * channel included (done: one per id) */
#define JOBS_NUM_MAX      24        /* a number as text */
#define JOB_FIELDS        6         /* per job in take and list replies */

/* The keys every script gets, in this order (KEYS[1] ... KEYS[5]). */
enum { K_DUE, K_LEASE, K_JOB, K_AT, K_TRIES, K_COUNT };
static const char *const key_names[K_COUNT] = { "due", "lease", "job", "at", "tries" };

/* ---- the scripts -------------------------------------------------------- */

/* ARGV[1] of every script is the wake channel. Numbers go back to Redis
 * through %.0f so that no millisecond time turns into 1.7e+12. */
#define LUA_NOW                                                              \
	"local function now_ms(a)\n"                                             \
	"  local n = tonumber(a)\n"                                              \
	"  if n >= 0 then return n end\n"                                        \
	"  local t = redis.call('TIME')\n"                                       \
	"  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"   \
	"end\n"                                                                  \
	"local function num(n) return string.format('%.0f', n) end\n"              \
	"local function next_in(now)\n"                                          \
	"  local d = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"        \
	"  local l = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"        \
	"  local at = -1\n"                                                      \
	"  if d[2] then at = tonumber(d[2]) end\n"                               \
	"  if l[2] and (at < 0 or tonumber(l[2]) < at) then at = tonumber(l[2]) end\n" \
	"  if at < 0 then return -1 end\n"                                       \
	"  if at <= now then return 0 end\n"                                     \
	"  return at - now\n"                                                    \
	"end\n"

/* ARGV: wake, id, due, payload. 1 when created, 0 when id exists. */
static const char lua_schedule[] =
	"if redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[4]) == 0 then return 0 end\n"
	"redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])\n"
	"redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])\n"
	"local first = redis.call('ZRANGE', KEYS[1], 0, 0)\n"
	"if first[1] == ARGV[2] then redis.call('PUBLISH', ARGV[1], ARGV[3]) end\n"
	"return 1\n";

/* ARGV: wake, now (-1: the server's), lease ms, max. Lapsed leases go
 * back to the due set first, at their due time. Returns id, due, 0,
 * deadline, tries, payload for each job taken, then the ms from now until
 * the earliest due time or lease deadline left (0: due now, -1: no job).
 * Each step is one command over all the ids (a take of 1,000 jobs is a
 * handful of commands, not thousands). */
static const char lua_take[] =
	LUA_NOW
	"local now = now_ms(ARGV[2])\n"
	"local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', num(now),\n"
	"                          'LIMIT', 0, 1000)\n"
	"if #lapsed > 0 then\n"
	"  local ats = redis.call('HMGET', KEYS[4], unpack(lapsed))\n"
	"  local back = {}\n"
	"  for i, id in ipairs(lapsed) do\n"
	"    back[#back + 1] = num(tonumber(ats[i]) or now)\n"
	"    back[#back + 1] = id\n"
	"  end\n"
	"  redis.call('ZREM', KEYS[2], unpack(lapsed))\n"
	"  redis.call('ZADD', KEYS[1], unpack(back))\n"
	"end\n"
	"local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', num(now),\n"
	"                       'LIMIT', 0, tonumber(ARGV[4]))\n"
	"if #due == 0 then return { next_in(now) } end\n"
	"redis.call('ZREM', KEYS[1], unpack(due))\n"
	"local payloads = redis.call('HMGET', KEYS[3], unpack(due))\n"
	"local ats = redis.call('HMGET', KEYS[4], unpack(due))\n"
	"local tries = redis.call('HMGET', KEYS[5], unpack(due))\n"
	"local deadline = now + tonumber(ARGV[3])\n"
	"local out, leased, counts, gone = {}, {}, {}, {}\n"
	"for i, id in ipairs(due) do\n"
	"  if payloads[i] then\n"
	"    local t = (tonumber(tries[i]) or 0) + 1\n"
	"    leased[#leased + 1] = num(deadline)\n"
	"    leased[#leased + 1] = id\n"
	"    counts[#counts + 1] = id\n"
	"    counts[#counts + 1] = t\n"
	"    out[#out + 1] = id\n"
	"    out[#out + 1] = tonumber(ats[i]) or now\n"
	"    out[#out + 1] = 0\n"
	"    out[#out + 1] = deadline\n"
	"    out[#out + 1] = t\n"
	"    out[#out + 1] = payloads[i]\n"
	"  else\n"
	"    gone[#gone + 1] = id\n"
	"  end\n"
	"end\n"
	"if #leased > 0 then\n"
	"  redis.call('ZADD', KEYS[2], unpack(leased))\n"
	"  redis.call('HSET', KEYS[5], unpack(counts))\n"
	"end\n"
	"if #gone > 0 then\n"
	"  redis.call('HDEL', KEYS[4], unpack(gone))\n"
	"  redis.call('HDEL', KEYS[5], unpack(gone))\n"
	"end\n"
	"out[#out + 1] = next_in(now)\n"
	"return out\n";

/* ARGV: wake, id. 1 when the job existed. */
static const char lua_done[] =
	"local n = redis.call('HDEL', KEYS[3], ARGV[2])\n"
	"redis.call('ZREM', KEYS[1], ARGV[2])\n"
	"redis.call('ZREM', KEYS[2], ARGV[2])\n"
	"redis.call('HDEL', KEYS[4], ARGV[2])\n"
	"redis.call('HDEL', KEYS[5], ARGV[2])\n"
	"return n\n";

/* ARGV: wake, id... The number of jobs that existed. One command per key
 * over all the ids. */
static const char lua_done_many[] =
	"local ids = {}\n"
	"for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end\n"
	"local n = redis.call('HDEL', KEYS[3], unpack(ids))\n"
	"redis.call('ZREM', KEYS[1], unpack(ids))\n"
	"redis.call('ZREM', KEYS[2], unpack(ids))\n"
	"redis.call('HDEL', KEYS[4], unpack(ids))\n"
	"redis.call('HDEL', KEYS[5], unpack(ids))\n"
	"return n\n";

/* ARGV: wake, id, delay ms. 1 when the job was leased and waits again.
 * Its due time (P:at) stays: only its place in the due set moves. */
static const char lua_retry[] =
	LUA_NOW
	"if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then return 0 end\n"
	"local at = num(now_ms(-1) + tonumber(ARGV[3]))\n"
	"redis.call('ZADD', KEYS[1], at, ARGV[2])\n"
	"local first = redis.call('ZRANGE', KEYS[1], 0, 0)\n"
	"if first[1] == ARGV[2] then redis.call('PUBLISH', ARGV[1], at) end\n"
	"return 1\n";

/* ARGV: wake. Ms until the earliest due time or lease deadline (0: now),
 * -1 when there is no job. */
static const char lua_next[] =
	LUA_NOW
	"return next_in(now_ms(-1))\n";

/* ARGV: wake. Waiting and leased counts. */
static const char lua_count[] =
	"return { redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]) }\n";

/* ARGV: wake, limit. id, due, next (0: leased), deadline (0: waiting),
 * tries, payload per job. */
static const char lua_list[] =
	"local limit = tonumber(ARGV[2])\n"
	"local out = {}\n"
	"local function add(key, leased, n)\n"
	"  local ids = redis.call('ZRANGE', key, 0, n - 1, 'WITHSCORES')\n"
	"  for i = 1, #ids, 2 do\n"
	"    local id, score, nxt, lease = ids[i], tonumber(ids[i + 1]), 0, 0\n"
	"    if leased then lease = score else nxt = score end\n"
	"    out[#out + 1] = id\n"
	"    out[#out + 1] = tonumber(redis.call('HGET', KEYS[4], id)) or score\n"
	"    out[#out + 1] = nxt\n"
	"    out[#out + 1] = lease\n"
	"    out[#out + 1] = tonumber(redis.call('HGET', KEYS[5], id)) or 0\n"
	"    out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''\n"
	"  end\n"
	"  return #ids / 2\n"
	"end\n"
	"local got = add(KEYS[1], false, limit)\n"
	"if got < limit then add(KEYS[2], true, limit - got) end\n"
	"return out\n";

/* ARGV: wake, attempt key, delivery, first ("1" or "0"), ttl ms. The
 * number of deliveries the key's set holds (store_jobs_attempt). */
static const char lua_attempt[] =
	"if ARGV[4] == '1' then redis.call('DEL', ARGV[2]) end\n"
	"redis.call('SADD', ARGV[2], ARGV[3])\n"
	"redis.call('PEXPIRE', ARGV[2], ARGV[5])\n"
	"return redis.call('SCARD', ARGV[2])\n";

enum { S_SCHEDULE, S_TAKE, S_DONE, S_DONE_MANY, S_RETRY, S_NEXT, S_COUNT, S_LIST,
       S_ATTEMPT, S_COUNT_ALL };
static const char *const scripts[S_COUNT_ALL] = {
	lua_schedule, lua_take, lua_done, lua_done_many, lua_retry, lua_next, lua_count,
	lua_list, lua_attempt,
};

/* ---- the handle --------------------------------------------------------- */

struct store_jobs {
	/* where */
	char host[JOBS_HOST_MAX];      /* host name, or the socket path */
	int port;                      /* 0: a unix socket */
	long db;
	char user[JOBS_CRED_MAX];
	char pass[JOBS_CRED_MAX];
	char key[K_COUNT][JOBS_KEY_MAX];
	char wake[JOBS_KEY_MAX];
	char attempt[JOBS_KEY_MAX];    /* "<prefix>:attempt:", then the key */

	pthread_mutex_t mu;            /* the command connection */
	redisContext *cmd;
	char sha[S_COUNT_ALL][JOBS_SHA_LEN + 1];
	unsigned long gen;             /* command connections made */

	pthread_mutex_t wmu;           /* the wait connection */
	redisContext *sub;
	unsigned long sub_gen;         /* gen when sub was made */
	bool sub_ok;                   /* sub was subscribed at the last
	                                * store_jobs_take_next: sleep may trust it */
	int pipe[2];                   /* store_jobs_interrupt */

	pthread_mutex_t emu;
	char lasterr[JOBS_ERR_MAX];
};

/* ---- small helpers ------------------------------------------------------ */

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static struct timeval
tv_ms(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

/* True for 1 to max printable bytes with no space. */
static bool
token_ok(const char *s, size_t max)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return i > 0;
}

static void
note(store_jobs *j, const char *why)
{
	pthread_mutex_lock(&j->emu);
	snprintf(j->lasterr, sizeof j->lasterr, "%s", why != NULL ? why : "");
	pthread_mutex_unlock(&j->emu);
}

/* Turns a reply into a store_err, noting why it failed. r NULL means the
 * connection broke (c->errstr says how). */
static store_err
reply_err(store_jobs *j, const redisContext *c, const redisReply *r)
{
	static const char *const down[] = {
		"LOADING", "BUSY", "MASTERDOWN", "MISCONF", "READONLY", "TRYAGAIN",
		"CLUSTERDOWN", "NOAUTH", "WRONGPASS",
	};

	if (r == NULL) {
		note(j, c->errstr[0] != '\0' ? c->errstr : "connection lost");
		return STORE_EUNAVAIL;
	}
	if (r->type != REDIS_REPLY_ERROR)
		return STORE_OK;
	note(j, r->str);
	for (size_t i = 0; i < sizeof down / sizeof *down; i++)
		if (strncmp(r->str, down[i], strlen(down[i])) == 0)
			return STORE_EUNAVAIL;
	return STORE_EIO;
}

/* Parses a decimal in [min, max] from s[0..len). */
static bool
parse_num(const char *s, size_t len, long min, long max, long *out)
{
	long v = 0;

	if (len == 0 || len > 9)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Copies s[0..len) into dst of size dstlen; false when it does not fit. */
static bool
copy_part(char *dst, size_t dstlen, const char *s, size_t len)
{
	if (len >= dstlen)
		return false;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

/* redis://[[user]:password@]host[:port][/db] or unix:/path. */
static bool
parse_url(store_jobs *j, const char *url)
{
	const char *p, *at, *end, *colon, *slash;
	long v;

	j->port = 6379;
	j->db = 0;
	if (strncmp(url, "unix:", 5) == 0) {
		j->port = 0;
		return url[5] == '/' && copy_part(j->host, sizeof j->host, url + 5,
		                                  strlen(url + 5));
	}
	if (strncmp(url, "redis://", 8) != 0)
		return false;
	p = url + 8;
	end = p + strlen(p);
	if ((at = strrchr(p, '@')) != NULL) {
		if ((colon = memchr(p, ':', (size_t)(at - p))) == NULL) {
			if (!copy_part(j->pass, sizeof j->pass, p, (size_t)(at - p)))
				return false;
		} else if (!copy_part(j->user, sizeof j->user, p, (size_t)(colon - p)) ||
		           !copy_part(j->pass, sizeof j->pass, colon + 1,
		                      (size_t)(at - colon - 1))) {
			return false;
		}
		p = at + 1;
	}
	slash = memchr(p, '/', (size_t)(end - p));
	if (slash == NULL)
		slash = end;
	if (*p == '[') {                                  /* [::1]:6379 */
		const char *close = memchr(p, ']', (size_t)(slash - p));

		if (close == NULL || !copy_part(j->host, sizeof j->host, p + 1,
		                                (size_t)(close - p - 1)))
			return false;
		colon = close + 1 < slash && close[1] == ':' ? close + 1 : NULL;
		if (colon == NULL && close + 1 != slash)
			return false;
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		if (!copy_part(j->host, sizeof j->host, p,
		               (size_t)((colon != NULL ? colon : slash) - p)))
			return false;
	}
	if (j->host[0] == '\0')
		return false;
	if (colon != NULL) {
		if (!parse_num(colon + 1, (size_t)(slash - colon - 1), 1, 65535, &v))
			return false;
		j->port = (int)v;
	}
	if (slash < end && slash + 1 < end) {
		if (!parse_num(slash + 1, (size_t)(end - slash - 1), 0, JOBS_DB_MAX, &v))
			return false;
		j->db = v;
	}
	return true;
}

/* ---- connections -------------------------------------------------------- */

/* Connects, authenticates and selects the database. Caller frees *out with
 * redisFree. */
static store_err
conn_open(store_jobs *j, redisContext **out)
{
	redisContext *c;
	redisReply *r = NULL;
	store_err e = STORE_EUNAVAIL;

	*out = NULL;
	c = j->port == 0 ? redisConnectUnixWithTimeout(j->host, tv_ms(JOBS_CONNECT_MS))
	                 : redisConnectWithTimeout(j->host, j->port, tv_ms(JOBS_CONNECT_MS));
	if (c == NULL) {
		note(j, "out of memory");
		e = STORE_ENOMEM;
		goto out;
	}
	if (c->err != 0) {
		note(j, c->errstr);
		goto out;
	}
	if (redisSetTimeout(c, tv_ms(JOBS_IO_MS)) != REDIS_OK) {
		note(j, "cannot set the socket timeout");
		goto out;
	}
	if (j->port != 0)
		redisEnableKeepAlive(c);
	if (j->pass[0] != '\0') {
		r = j->user[0] != '\0' ? redisCommand(c, "AUTH %s %s", j->user, j->pass)
		                       : redisCommand(c, "AUTH %s", j->pass);
		if ((e = reply_err(j, c, r)) != STORE_OK) {
			e = STORE_EUNAVAIL;
			goto out;
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (j->db != 0) {
		r = redisCommand(c, "SELECT %ld", j->db);
		if ((e = reply_err(j, c, r)) != STORE_OK) {
			e = STORE_EUNAVAIL;
			goto out;
		}
	}
	*out = c;
	c = NULL;
	e = STORE_OK;
out:
	freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return e;
}

static void
jobs_drop(store_jobs *j)
{
	if (j->cmd != NULL)
		redisFree(j->cmd);
	j->cmd = NULL;
}

/* SCRIPT LOADs every script on the command connection. */
static store_err
scripts_load(store_jobs *j)
{
	redisReply *r = NULL;
	store_err e = STORE_OK;

	for (int s = 0; s < S_COUNT_ALL; s++) {
		r = redisCommand(j->cmd, "SCRIPT LOAD %s", scripts[s]);
		if ((e = reply_err(j, j->cmd, r)) != STORE_OK)
			goto out;
		if (r->type != REDIS_REPLY_STRING || r->len != JOBS_SHA_LEN) {
			note(j, "script load answered no sha1");
			e = STORE_EIO;
			goto out;
		}
		memcpy(j->sha[s], r->str, JOBS_SHA_LEN + 1);
		freeReplyObject(r);
		r = NULL;
	}
out:
	freeReplyObject(r);
	return e;
}

/* Makes the command connection; the caller holds mu. */
static store_err
jobs_connect(store_jobs *j)
{
	store_err e;

	if ((e = conn_open(j, &j->cmd)) != STORE_OK)
		goto out;
	if ((e = scripts_load(j)) != STORE_OK) {
		jobs_drop(j);
		if (e != STORE_ENOMEM)
			e = STORE_EUNAVAIL;
		goto out;
	}
	j->gen++;
out:
	return e;
}

/* Runs a command on the command connection (the caller holds mu): script s
 * with its keys and args through EVALSHA, or, with s < 0, the args as they
 * are. Connects when needed, loads the scripts again on NOSCRIPT, and sends
 * once more on a new connection when the connection broke. Caller frees
 * *out with freeReplyObject. */
static store_err
jobs_run(store_jobs *j, int s, int nargs, const char *const *args, const size_t *lens,
        redisReply **out)
{
	const char **argv = NULL;
	size_t *lv = NULL;
	char nkeys[4];
	redisReply *r = NULL;
	store_err e = STORE_EUNAVAIL;
	int argc;

	*out = NULL;
	if (nargs > JOBS_ARGS_MAX) {
		e = STORE_EINTERNAL;
		goto out;
	}
	argv = malloc((size_t)(3 + K_COUNT + nargs) * sizeof *argv);
	lv = malloc((size_t)(3 + K_COUNT + nargs) * sizeof *lv);
	if (argv == NULL || lv == NULL) {
		note(j, "out of memory");
		e = STORE_ENOMEM;
		goto out;
	}
	snprintf(nkeys, sizeof nkeys, "%d", K_COUNT);
	for (int attempt = 0; attempt < 3; attempt++) {
		if (j->cmd == NULL && (e = jobs_connect(j)) != STORE_OK)
			goto out;
		argc = 0;
		if (s >= 0) {
			argv[argc] = "EVALSHA";
			lv[argc++] = 7;
			argv[argc] = j->sha[s];
			lv[argc++] = JOBS_SHA_LEN;
			argv[argc] = nkeys;
			lv[argc++] = strlen(nkeys);
			for (int k = 0; k < K_COUNT; k++) {
				argv[argc] = j->key[k];
				lv[argc++] = strlen(j->key[k]);
			}
		}
		for (int a = 0; a < nargs; a++) {
			argv[argc] = args[a];
			lv[argc++] = lens != NULL ? lens[a] : strlen(args[a]);
		}
		r = redisCommandArgv(j->cmd, argc, argv, lv);
		if (r == NULL) {
			reply_err(j, j->cmd, r);
			jobs_drop(j);
			e = STORE_EUNAVAIL;
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(r);
			r = NULL;
			if ((e = scripts_load(j)) != STORE_OK) {
				jobs_drop(j);
				goto out;
			}
			continue;
		}
		if ((e = reply_err(j, j->cmd, r)) != STORE_OK)
			goto out;
		*out = r;
		r = NULL;
		goto out;
	}
	if (e == STORE_OK) {                /* NOSCRIPT right after each load */
		note(j, "scripts keep disappearing (NOSCRIPT)");
		e = STORE_EIO;
	}
out:
	free(argv);
	free(lv);
	freeReplyObject(r);
	return e;
}

/* Runs script s with args (the wake channel goes first) under mu. */
static store_err
run_script(store_jobs *j, int s, int nargs, const char *const *args, const size_t *lens,
           redisReply **out)
{
	const char **a = NULL;
	size_t *l = NULL;
	store_err e = STORE_EINTERNAL;

	*out = NULL;
	if (nargs < 0 || nargs + 1 > JOBS_ARGS_MAX)
		goto out;
	a = malloc((size_t)(nargs + 1) * sizeof *a);
	l = malloc((size_t)(nargs + 1) * sizeof *l);
	if (a == NULL || l == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	a[0] = j->wake;
	l[0] = strlen(j->wake);
	for (int i = 0; i < nargs; i++) {
		a[i + 1] = args[i];
		l[i + 1] = lens != NULL ? lens[i] : strlen(args[i]);
	}
	pthread_mutex_lock(&j->mu);
	e = jobs_run(j, s, nargs + 1, a, l, out);
	pthread_mutex_unlock(&j->mu);
out:
	free(a);
	free(l);
	return e;
}

/* ---- open / free -------------------------------------------------------- */

store_err
store_jobs_open(const char *url, const char *prefix, store_jobs **out,
                char *err, size_t errlen)
{
	store_jobs *j = NULL;
	char buf[8];
	store_err e = STORE_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (err == NULL || errlen == 0) {
		err = buf;
		errlen = sizeof buf;
	}
	err[0] = '\0';
	if (out == NULL || url == NULL) {
		snprintf(err, errlen, "no redis url");
		goto out;
	}
	if (!token_ok(prefix, STORE_JOBS_PREFIX_MAX)) {
		snprintf(err, errlen, "key prefix must be 1 to %d printable characters "
		         "without spaces", STORE_JOBS_PREFIX_MAX);
		goto out;
	}
	if ((j = calloc(1, sizeof *j)) == NULL) {
		snprintf(err, errlen, "out of memory");
		e = STORE_ENOMEM;
		goto out;
	}
	j->pipe[0] = j->pipe[1] = -1;
	pthread_mutex_init(&j->mu, NULL);
	pthread_mutex_init(&j->wmu, NULL);
	pthread_mutex_init(&j->emu, NULL);
	if (!parse_url(j, url)) {
		snprintf(err, errlen, "redis url must be redis://[[user]:password@]host"
		         "[:port][/db] or unix:/path");
		goto out;
	}
	for (int k = 0; k < K_COUNT; k++)
		snprintf(j->key[k], sizeof j->key[k], "%s:%s", prefix, key_names[k]);
	snprintf(j->wake, sizeof j->wake, "%s:wake", prefix);
	snprintf(j->attempt, sizeof j->attempt, "%s:attempt:", prefix);
	if (pipe2(j->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
		e = STORE_EIO;
		goto out;
	}
	pthread_mutex_lock(&j->mu);
	e = jobs_connect(j);         /* down is fine: the calls will say so */
	pthread_mutex_unlock(&j->mu);
	if (e == STORE_ENOMEM) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	*out = j;
	j = NULL;
	e = STORE_OK;
out:
	store_jobs_free(j);
	return e;
}

store_err
store_jobs_dup(store_jobs *j, store_jobs **out)
{
	store_jobs *d = NULL;
	store_err e = STORE_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (j == NULL || out == NULL)
		goto out;
	if ((d = calloc(1, sizeof *d)) == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	d->pipe[0] = d->pipe[1] = -1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->wmu, NULL);
	pthread_mutex_init(&d->emu, NULL);
	memcpy(d->host, j->host, sizeof d->host);
	d->port = j->port;
	d->db = j->db;
	memcpy(d->user, j->user, sizeof d->user);
	memcpy(d->pass, j->pass, sizeof d->pass);
	memcpy(d->key, j->key, sizeof d->key);
	memcpy(d->wake, j->wake, sizeof d->wake);
	memcpy(d->attempt, j->attempt, sizeof d->attempt);
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		e = STORE_EIO;
		goto out;
	}
	pthread_mutex_lock(&d->mu);
	e = jobs_connect(d);         /* down is fine: the calls will say so */
	pthread_mutex_unlock(&d->mu);
	if (e == STORE_ENOMEM)
		goto out;
	*out = d;
	d = NULL;
	e = STORE_OK;
out:
	store_jobs_free(d);
	return e;
}

void
store_jobs_free(store_jobs *j)
{
	if (j == NULL)
		return;
	jobs_drop(j);
	if (j->sub != NULL)
		redisFree(j->sub);
	if (j->pipe[0] >= 0)
		close(j->pipe[0]);
	if (j->pipe[1] >= 0)
		close(j->pipe[1]);
	pthread_mutex_destroy(&j->mu);
	pthread_mutex_destroy(&j->wmu);
	pthread_mutex_destroy(&j->emu);
	explicit_bzero(j->pass, sizeof j->pass);
	free(j);
}

void
store_jobs_last_error(store_jobs *j, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return;
	buf[0] = '\0';
	if (j == NULL)
		return;
	pthread_mutex_lock(&j->emu);
	snprintf(buf, len, "%s", j->lasterr);
	pthread_mutex_unlock(&j->emu);
}

/* ---- plain commands ----------------------------------------------------- */

store_err
store_jobs_ping(store_jobs *j)
{
	const char *argv[] = { "PING" };
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (j == NULL)
		goto out;
	pthread_mutex_lock(&j->mu);
	e = jobs_run(j, -1, 1, argv, NULL, &r);
	pthread_mutex_unlock(&j->mu);
	if (e == STORE_OK && (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0))
		e = STORE_EUNAVAIL;
out:
	freeReplyObject(r);
	return e;
}

store_err
store_jobs_time(store_jobs *j, long long *now_ms)
{
	const char *argv[] = { "TIME" };
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (j == NULL || now_ms == NULL)
		goto out;
	pthread_mutex_lock(&j->mu);
	e = jobs_run(j, -1, 1, argv, NULL, &r);
	pthread_mutex_unlock(&j->mu);
	if (e != STORE_OK)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		e = STORE_EIO;
		goto out;
	}
	*now_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
	          strtoll(r->element[1]->str, NULL, 10) / 1000;
out:
	freeReplyObject(r);
	return e;
}

/* ---- scheduling and taking ---------------------------------------------- */

store_err
store_jobs_schedule(store_jobs *j, const char *id, long long due_ms,
                    const char *payload, bool *created)
{
	char due[JOBS_NUM_MAX];
	const char *args[3];
	size_t lens[3];
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (created != NULL)
		*created = false;
	if (j == NULL || !token_ok(id, STORE_JOBS_ID_MAX) || due_ms < 0 ||
	    due_ms > 253402300799999LL || payload == NULL)   /* up to year 9999 */
		goto out;
	if ((lens[2] = strlen(payload)) > STORE_JOBS_PAYLOAD_MAX) {
		e = STORE_ETOOBIG;
		goto out;
	}
	snprintf(due, sizeof due, "%lld", due_ms);
	args[0] = id;
	lens[0] = strlen(id);
	args[1] = due;
	lens[1] = strlen(due);
	args[2] = payload;
	if ((e = run_script(j, S_SCHEDULE, 3, args, lens, &r)) != STORE_OK)
		goto out;
	if (r->type != REDIS_REPLY_INTEGER) {
		e = STORE_EIO;
		goto out;
	}
	if (created != NULL)
		*created = r->integer == 1;
out:
	freeReplyObject(r);
	return e;
}

void
store_jobs_list_free(store_job *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].payload);
	}
	free(v);
}

/* Turns the first nel elements of a reply, id, due, next, deadline,
 * tries, payload sextets, into jobs. Caller frees *out with
 * store_jobs_list_free(*out, *n). */
static store_err
jobs_from_reply(const redisReply *r, size_t nel, store_job **out, size_t *n)
{
	store_job *v = NULL;
	size_t count = 0, i;
	store_err e = STORE_EIO;

	*out = NULL;
	*n = 0;
	if (r->type != REDIS_REPLY_ARRAY || nel > r->elements || nel % JOB_FIELDS != 0)
		goto out;
	if (nel == 0) {
		e = STORE_OK;
		goto out;
	}
	if ((v = calloc(nel / JOB_FIELDS, sizeof *v)) == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	for (i = 0; i < nel; i += JOB_FIELDS) {
		redisReply **el = r->element + i;
		store_job *job = &v[count];

		if (el[0]->type != REDIS_REPLY_STRING || el[1]->type != REDIS_REPLY_INTEGER ||
		    el[2]->type != REDIS_REPLY_INTEGER || el[3]->type != REDIS_REPLY_INTEGER ||
		    el[4]->type != REDIS_REPLY_INTEGER || el[5]->type != REDIS_REPLY_STRING)
			goto out;
		job->id = strndup(el[0]->str, el[0]->len);
		job->payload = strndup(el[5]->str, el[5]->len);
		count++;
		if (job->id == NULL || job->payload == NULL) {
			e = STORE_ENOMEM;
			goto out;
		}
		job->due_ms = el[1]->integer;
		job->next_ms = el[2]->integer;
		job->lease_ms = el[3]->integer;
		job->tries = (long)el[4]->integer;
	}
	*out = v;
	*n = count;
	v = NULL;
	e = STORE_OK;
out:
	store_jobs_list_free(v, count);
	return e;
}

static store_err sub_ready(store_jobs *j);

store_err
store_jobs_take(store_jobs *j, long long now_ms, long lease_ms, size_t max,
                store_job **out, size_t *n)
{
	return store_jobs_take_next(j, now_ms, lease_ms, max, out, n, NULL);
}

store_err
store_jobs_take_next(store_jobs *j, long long now_ms, long lease_ms, size_t max,
                     store_job **out, size_t *n, long long *next_ms)
{
	char now[JOBS_NUM_MAX], lease[JOBS_NUM_MAX], maxs[JOBS_NUM_MAX];
	const char *args[3] = { now, lease, maxs };
	redisReply *r = NULL, *last;
	bool waiting = false;
	store_err e = STORE_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (next_ms != NULL)
		*next_ms = -1;
	if (j == NULL || out == NULL || n == NULL || now_ms < STORE_JOBS_NOW ||
	    lease_ms < 1 || lease_ms > STORE_JOBS_LEASE_MAX || max < 1 ||
	    max > STORE_JOBS_TAKE_MAX)
		goto out;
	snprintf(now, sizeof now, "%lld", now_ms);
	snprintf(lease, sizeof lease, "%ld", lease_ms);
	snprintf(maxs, sizeof maxs, "%zu", max);
	if (next_ms != NULL) {
		/* Subscribed before the take, so store_jobs_sleep misses no job
		 * scheduled after it. */
		pthread_mutex_lock(&j->wmu);
		waiting = true;
		if ((e = sub_ready(j)) != STORE_OK)
			goto out;
	}
	if ((e = run_script(j, S_TAKE, 3, args, NULL, &r)) != STORE_OK)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    (last = r->element[r->elements - 1])->type != REDIS_REPLY_INTEGER) {
		e = STORE_EIO;
		goto out;
	}
	if ((e = jobs_from_reply(r, r->elements - 1, out, n)) != STORE_OK)
		goto out;
	if (next_ms != NULL) {
		*next_ms = last->integer;
		pthread_mutex_lock(&j->mu);
		j->sub_ok = j->sub != NULL && j->sub_gen == j->gen;
		pthread_mutex_unlock(&j->mu);
	}
out:
	if (waiting)
		pthread_mutex_unlock(&j->wmu);
	freeReplyObject(r);
	return e;
}

store_err
store_jobs_done(store_jobs *j, const char *id)
{
	const char *args[1] = { id };
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (j == NULL || !token_ok(id, STORE_JOBS_ID_MAX))
		goto out;
	if ((e = run_script(j, S_DONE, 1, args, NULL, &r)) != STORE_OK)
		goto out;
	if (r->type != REDIS_REPLY_INTEGER)
		e = STORE_EIO;
	else if (r->integer == 0)
		e = STORE_ENOTFOUND;
out:
	freeReplyObject(r);
	return e;
}

store_err
store_jobs_done_many(store_jobs *j, const char *const *ids, size_t n, size_t *deleted)
{
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (deleted != NULL)
		*deleted = 0;
	if (j == NULL || ids == NULL || n < 1 || n > STORE_JOBS_TAKE_MAX)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!token_ok(ids[i], STORE_JOBS_ID_MAX))
			goto out;
	if ((e = run_script(j, S_DONE_MANY, (int)n, ids, NULL, &r)) != STORE_OK)
		goto out;
	if (r->type != REDIS_REPLY_INTEGER)
		e = STORE_EIO;
	else if (deleted != NULL)
		*deleted = (size_t)r->integer;
out:
	freeReplyObject(r);
	return e;
}

store_err
store_jobs_retry(store_jobs *j, const char *id, long delay_ms)
{
	char delay[JOBS_NUM_MAX];
	const char *args[2] = { id, delay };
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (j == NULL || !token_ok(id, STORE_JOBS_ID_MAX) || delay_ms < 0 ||
	    delay_ms > STORE_JOBS_LEASE_MAX)
		goto out;
	snprintf(delay, sizeof delay, "%ld", delay_ms);
	if ((e = run_script(j, S_RETRY, 2, args, NULL, &r)) != STORE_OK)
		goto out;
	if (r->type != REDIS_REPLY_INTEGER)
		e = STORE_EIO;
	else if (r->integer == 0)
		e = STORE_ENOTFOUND;
out:
	freeReplyObject(r);
	return e;
}

store_err
store_jobs_count(store_jobs *j, size_t *waiting, size_t *leased)
{
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (j == NULL)
		goto out;
	if ((e = run_script(j, S_COUNT, 0, NULL, NULL, &r)) != STORE_OK)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_INTEGER) {
		e = STORE_EIO;
		goto out;
	}
	if (waiting != NULL)
		*waiting = (size_t)r->element[0]->integer;
	if (leased != NULL)
		*leased = (size_t)r->element[1]->integer;
out:
	freeReplyObject(r);
	return e;
}

store_err
store_jobs_list(store_jobs *j, size_t limit, store_job **out, size_t *n)
{
	char lim[JOBS_NUM_MAX];
	const char *args[1] = { lim };
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (j == NULL || out == NULL || n == NULL || limit < 1 || limit > STORE_JOBS_LIST_MAX)
		goto out;
	snprintf(lim, sizeof lim, "%zu", limit);
	if ((e = run_script(j, S_LIST, 1, args, NULL, &r)) != STORE_OK)
		goto out;
	e = jobs_from_reply(r, r->type == REDIS_REPLY_ARRAY ? r->elements : 1, out, n);
out:
	freeReplyObject(r);
	return e;
}

/* ---- waiting ------------------------------------------------------------ */

void
store_jobs_interrupt(store_jobs *j)
{
	ssize_t w;

	if (j == NULL || j->pipe[1] < 0)
		return;
	w = write(j->pipe[1], "x", 1);     /* full pipe: a wake is pending anyway */
	(void)w;
}

static void
pipe_drain(store_jobs *j)
{
	char buf[64];

	while (read(j->pipe[0], buf, sizeof buf) > 0)
		;
}

static void
sub_drop(store_jobs *j)
{
	if (j->sub != NULL)
		redisFree(j->sub);
	j->sub = NULL;
}

/* Reads what the wait connection has without blocking and throws it away
 * (wake messages). The caller holds wmu. */
static store_err
sub_drain(store_jobs *j)
{
	struct pollfd pf;
	void *reply;
	store_err e = STORE_OK;

	for (;;) {
		while (redisReaderGetReply(j->sub->reader, &reply) == REDIS_OK && reply != NULL)
			freeReplyObject(reply);
		if (j->sub->reader->err != 0) {
			note(j, j->sub->reader->errstr);
			e = STORE_EUNAVAIL;
			goto out;
		}
		pf = (struct pollfd){ j->sub->fd, POLLIN, 0 };
		if (poll(&pf, 1, 0) <= 0 || pf.revents == 0)
			goto out;
		if (redisBufferRead(j->sub) != REDIS_OK) {
			note(j, j->sub->errstr[0] != '\0' ? j->sub->errstr : "connection lost");
			e = STORE_EUNAVAIL;
			goto out;
		}
	}
out:
	return e;
}

/* Makes the wait connection and subscribes it to the wake channel. The
 * caller holds wmu. */
static store_err
sub_connect(store_jobs *j)
{
	redisContext *c = NULL;
	redisReply *r = NULL;
	store_err e;

	if ((e = conn_open(j, &c)) != STORE_OK)
		goto out;
	r = redisCommand(c, "SUBSCRIBE %s", j->wake);
	if ((e = reply_err(j, c, r)) != STORE_OK) {
		e = STORE_EUNAVAIL;
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "subscribe") != 0) {
		note(j, "subscribe answered something else");
		e = STORE_EUNAVAIL;
		goto out;
	}
	j->sub = c;
	c = NULL;
out:
	freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return e;
}

/* Ms until the earliest due time or lease deadline (0: due now, -1: no
 * job), and the command connection's generation. */
static store_err
wait_next(store_jobs *j, long long *next, unsigned long *gen)
{
	const char *args[1] = { j->wake };
	redisReply *r = NULL;
	store_err e;

	pthread_mutex_lock(&j->mu);
	e = jobs_run(j, S_NEXT, 1, args, NULL, &r);
	*gen = j->gen;
	pthread_mutex_unlock(&j->mu);
	if (e != STORE_OK)
		goto out;
	if (r->type != REDIS_REPLY_INTEGER) {
		e = STORE_EIO;
		goto out;
	}
	*next = r->integer;
out:
	freeReplyObject(r);
	return e;
}

/* Makes sure the wait connection is subscribed, on a connection made
 * after the command connection's, and throws away the wakes it got (the
 * caller is about to ask Redis anyway). The caller holds wmu. */
static store_err
sub_ready(store_jobs *j)
{
	unsigned long gen;
	store_err e = STORE_OK;

	if (j->sub != NULL && sub_drain(j) != STORE_OK)
		sub_drop(j);
	pthread_mutex_lock(&j->mu);
	if (j->cmd == NULL)
		e = jobs_connect(j);
	gen = j->gen;
	pthread_mutex_unlock(&j->mu);
	if (e != STORE_OK)
		goto out;
	if (j->sub != NULL && j->sub_gen == gen)
		goto out;
	sub_drop(j);
	if ((e = sub_connect(j)) != STORE_OK)
		goto out;
	j->sub_gen = gen;
out:
	return e;
}

/* Polls the wait connection and the interrupt pipe for up to left ms. The
 * caller holds wmu and j->sub is set. */
static store_err
sub_poll(store_jobs *j, long long left)
{
	struct pollfd pf[2];
	long long deadline = mono_ms() + left;
	store_err e = STORE_OK;
	int rc;

	for (;;) {
		pf[0] = (struct pollfd){ j->sub->fd, POLLIN, 0 };
		pf[1] = (struct pollfd){ j->pipe[0], POLLIN, 0 };
		rc = poll(pf, 2, (int)left);
		if (rc < 0 && errno == EINTR) {
			if ((left = deadline - mono_ms()) <= 0)
				break;
			continue;
		}
		if (rc < 0) {
			note(j, strerror(errno));
			e = STORE_EIO;
			break;
		}
		if (pf[1].revents != 0)
			pipe_drain(j);
		else if (pf[0].revents != 0 && sub_drain(j) != STORE_OK) {
			sub_drop(j);
			e = STORE_EUNAVAIL;
		}
		break;
	}
	return e;
}

store_err
store_jobs_wait(store_jobs *j, long max_ms)
{
	long long next = -1, left;
	unsigned long gen = 0;
	store_err e = STORE_EINVAL;

	if (j == NULL || max_ms < 1 || max_ms > JOBS_WAIT_MAX)
		return STORE_EINVAL;
	pthread_mutex_lock(&j->wmu);
	/* Old wakes are answered by the question below. */
	if (j->sub != NULL && sub_drain(j) != STORE_OK)
		sub_drop(j);
	/* Subscribed (on a connection made after the command connection's)
	 * before asking, so nothing scheduled after the answer goes unseen. */
	for (int i = 0;; i++) {
		if ((e = wait_next(j, &next, &gen)) != STORE_OK)
			goto out;
		if (j->sub != NULL && j->sub_gen == gen)
			break;
		if (i == 2) {
			e = STORE_EUNAVAIL;
			goto out;
		}
		sub_drop(j);
		if ((e = sub_connect(j)) != STORE_OK)
			goto out;
		j->sub_gen = gen;
	}
	j->sub_ok = false;
	if (next == 0)
		goto out;
	left = next < 0 || next > max_ms ? max_ms : next;
	e = sub_poll(j, left);
out:
	pthread_mutex_unlock(&j->wmu);
	return e;
}

store_err
store_jobs_sleep(store_jobs *j, long ms)
{
	store_err e = STORE_OK;

	if (j == NULL || ms < 0 || ms > JOBS_WAIT_MAX)
		return STORE_EINVAL;
	pthread_mutex_lock(&j->wmu);
	/* Without a subscription made before the last take, a wake could
	 * have been missed: return, and the next take makes one. */
	if (ms > 0 && j->sub_ok && j->sub != NULL)
		e = sub_poll(j, ms);
	j->sub_ok = false;
	pthread_mutex_unlock(&j->wmu);
	return e;
}

/* ---- a bus listener's attempts ------------------------------------------ */

#define ATTEMPT_TTL_MAX (4000LL * 86400000LL)     /* days of a stream, and more */

store_err
store_jobs_attempt(store_jobs *j, const char *key, unsigned long long delivery,
                   bool first, long long ttl_ms, long long *n)
{
	char full[JOBS_KEY_MAX + STORE_JOBS_ID_MAX + 1], num[JOBS_NUM_MAX], ttl[JOBS_NUM_MAX];
	const char *args[4] = { full, num, first ? "1" : "0", ttl };
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (j == NULL || n == NULL || !token_ok(key, STORE_JOBS_ID_MAX) ||
	    ttl_ms < 1 || ttl_ms > ATTEMPT_TTL_MAX)
		goto out;
	snprintf(full, sizeof full, "%s%s", j->attempt, key);
	snprintf(num, sizeof num, "%llu", delivery);
	snprintf(ttl, sizeof ttl, "%lld", ttl_ms);
	if ((e = run_script(j, S_ATTEMPT, 4, args, NULL, &r)) != STORE_OK)
		goto out;
	if (r->type != REDIS_REPLY_INTEGER || r->integer < 1)
		e = STORE_EIO;
	else
		*n = r->integer;
out:
	freeReplyObject(r);
	return e;
}

store_err
store_jobs_attempt_forget(store_jobs *j, const char *key)
{
	char full[JOBS_KEY_MAX + STORE_JOBS_ID_MAX + 1];
	const char *argv[2] = { "DEL", full };
	redisReply *r = NULL;
	store_err e = STORE_EINVAL;

	if (j == NULL || !token_ok(key, STORE_JOBS_ID_MAX))
		goto out;
	snprintf(full, sizeof full, "%s%s", j->attempt, key);
	pthread_mutex_lock(&j->mu);
	e = jobs_run(j, -1, 2, argv, NULL, &r);
	pthread_mutex_unlock(&j->mu);
out:
	freeReplyObject(r);
	return e;
}
