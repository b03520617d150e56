/* fuzz_jobs - Redis job records (lib/jobs.c): the replies of the take and
 * list scripts (id, due, next, deadline, tries, payload sextets), read by
 * hiredis from the wire as the module reads them, turned into jobs (a
 * take's reply ends with the ms until the next due time: every array is
 * read both ways); each job's payload then parsed as JSON. Also the
 * REDIS_URL parser.
 *
 * Input: a first byte 'u' and a REDIS_URL; or else RESP bytes (what
 * Redis would send), every complete reply in them taken as a job list. */
#include "fuzz.h"

/* jobs_from_reply and parse_url are static in the module. */
#include "../../lib/jobs.c"

#include <jansson.h>

#define REPLIES_MAX 16
#define ELEMENTS_MAX 100000  /* see big_aggregate */

/* Whether data declares an array of more than ELEMENTS_MAX elements
 * ("*92775807\r\n", or anything that looks like it). hiredis 0.14 trusts
 * the count: it allocates that many pointers and walks them all when the
 * reply is freed, seconds for a few bytes of input. Only the Redis server
 * (the store's own) can send one; such inputs are skipped, not findings. */
static bool
big_aggregate(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		unsigned long long n = 0;
		size_t k = i + 1;

		if (data[i] != '*')
			continue;
		while (k < size && data[k] >= '0' && data[k] <= '9' && n <= ELEMENTS_MAX)
			n = n * 10 + (data[k++] - '0');
		if (n > ELEMENTS_MAX)
			return true;
	}
	return false;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

static void
fuzz_url(const uint8_t *data, size_t size)
{
	store_jobs *j = calloc(1, sizeof *j);
	char *url = fuzz_str(data, size);

	if (j != NULL && url != NULL && parse_url(j, url)) {
		/* What it kept fits and is terminated. */
		if (strnlen(j->host, sizeof j->host) == sizeof j->host || j->host[0] == '\0' ||
		    j->port < 0 || j->port > 65535 || j->db < 0 || j->db > JOBS_DB_MAX)
			abort();
	}
	free(url);
	free(j);
}

static void
fuzz_replies(const uint8_t *data, size_t size)
{
	redisReader *rd = redisReaderCreate();
	void *reply = NULL;
	const redisReply *r;
	store_job *jobs;
	size_t n, nel;

	if (rd == NULL)
		return;
	if (big_aggregate(data, size))
		goto out;
	if (redisReaderFeed(rd, (const char *)data, size) != REDIS_OK)
		goto out;
	for (int k = 0; k < REPLIES_MAX; k++) {
		if (redisReaderGetReply(rd, &reply) != REDIS_OK || reply == NULL)
			break;
		r = reply;
		nel = r->type == REDIS_REPLY_ARRAY ? r->elements : 1;
		if (nel > 0) {
			if (jobs_from_reply(r, nel - 1, &jobs, &n) == STORE_OK)
				store_jobs_list_free(jobs, n);
			else if (jobs != NULL || n != 0)
				abort();
		}
		if (jobs_from_reply(r, nel, &jobs, &n) == STORE_OK) {
			for (size_t i = 0; i < n; i++) {
				json_t *payload = json_loads(jobs[i].payload, 0, NULL);

				if (jobs[i].id == NULL || jobs[i].payload == NULL)
					abort();
				(void)json_is_object(payload);
				json_decref(payload);
			}
			store_jobs_list_free(jobs, n);
		} else if (jobs != NULL || n != 0) {
			abort();
		}
		freeReplyObject(reply);
		reply = NULL;
	}
out:
	redisReaderFree(rd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 'u')
		fuzz_url(data + 1, size - 1);
	else
		fuzz_replies(data, size);
	return 0;
}
