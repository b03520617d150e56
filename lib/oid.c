/* oid.c - MongoDB-format ObjectIds: 4 bytes of seconds (big-endian), 5 random
 * bytes chosen once per process (again in a forked child), 3 bytes of a
 * counter that starts at a random value. */
#include "store/oid.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t oid_once = PTHREAD_ONCE_INIT;
static unsigned char oid_random[5];
static atomic_uint oid_counter;

/* Fills buf with random bytes: getrandom, else bytes mixed from the clock,
 * the pid and the buffer's address (never fails). */
static void
oid_fill_random(unsigned char *buf, size_t len)
{
	struct timespec now;
	uint64_t x;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = getrandom(buf + got, len - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == len)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	x = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32) ^
	    ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)buf;
	for (; got < len; got++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[got] = (unsigned char)(x >> 24);
	}
}

/* Chooses this process's random bytes and counter start. */
static void
oid_seed(void)
{
	unsigned char c[3];

	oid_fill_random(oid_random, sizeof oid_random);
	oid_fill_random(c, sizeof c);
	atomic_store(&oid_counter,
	             (unsigned)c[0] << 16 | (unsigned)c[1] << 8 | c[2]);
}

/* A forked child is a new process: it must not repeat the parent's ids. */
static void
oid_init(void)
{
	oid_seed();
	pthread_atfork(NULL, NULL, oid_seed);
}

void
store_oid_new(char out[STORE_OID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[12];
	uint32_t secs, count;

	pthread_once(&oid_once, oid_init);
	secs = (uint32_t)time(NULL);
	count = atomic_fetch_add(&oid_counter, 1) & 0xffffffu;
	b[0] = (unsigned char)(secs >> 24);
	b[1] = (unsigned char)(secs >> 16);
	b[2] = (unsigned char)(secs >> 8);
	b[3] = (unsigned char)secs;
	memcpy(b + 4, oid_random, sizeof oid_random);
	b[9] = (unsigned char)(count >> 16);
	b[10] = (unsigned char)(count >> 8);
	b[11] = (unsigned char)count;
	for (size_t i = 0; i < sizeof b; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 0xf];
	}
	out[STORE_OID_LEN] = '\0';
}

bool
store_oid_valid(const char *s)
{
	if (s == NULL)
		return false;
	for (size_t i = 0; i < STORE_OID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[STORE_OID_LEN] == '\0';
}
