/* test_expiration.c - the event id of a selection's expiration
 * (store_expiration_event_id): deterministic, shaped like every event id,
 * and, for an ObjectId, sorting as the selections were made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "store/expiration.h"
#include "store/oid.h"

/* An ObjectId of these seconds, 5 "process" bytes and counter. */
static void
oid_of(unsigned secs, const char *process10, unsigned counter,
       char out[STORE_OID_LEN + 1])
{
	snprintf(out, STORE_OID_LEN + 1, "%08x%.10s%06x", secs, process10,
	         counter & 0xffffffu);
}

static int
by_text(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
check_shape(void)
{
	char sel[STORE_OID_LEN + 1], a[STORE_OID_LEN + 1], b[STORE_OID_LEN + 1];
	char other[STORE_OID_LEN + 1];

	store_oid_new(sel);
	store_expiration_event_id(sel, a);
	store_expiration_event_id(sel, b);
	CHECK(strcmp(a, b) == 0, "the same selection gives the same id");
	CHECK(store_oid_valid(a), "the id is 24 lowercase hex (%s)", a);
	CHECK(strcmp(a, sel) != 0, "the id is not the selection's own id");
	CHECK(strncmp(a, sel, 8) == 0 && strncmp(a + 8, sel + 18, 6) == 0,
	      "it begins with the selection's seconds and counter (%s of %s)", a, sel);

	/* Made by two processes in the same second with the same counter. */
	oid_of(0x65e00000, "aaaaaaaaaa", 7, sel);
	oid_of(0x65e00000, "bbbbbbbbbb", 7, other);
	store_expiration_event_id(sel, a);
	store_expiration_event_id(other, b);
	CHECK(strcmp(a, b) != 0, "selections alike but for their process bytes differ");

	store_expiration_event_id("not-an-object-id", a);
	store_expiration_event_id("not-an-object-id", b);
	CHECK(store_oid_valid(a) && strcmp(a, b) == 0,
	      "a job id that is no ObjectId still gets a steady 24-hex id (%s)", a);
	store_expiration_event_id("not-an-object-iD", b);
	CHECK(strcmp(a, b) != 0, "and another one a different id");
}

/* Ids of selections made one after another, over two seconds (the
 * counter wrapping as the second changes), sort in the order they were
 * made: the processed marks of expirations go in at the end of their
 * index. */
static void
check_order(void)
{
	enum { N = 2000 };
	static char ids[N][STORE_OID_LEN + 1], sorted[N][STORE_OID_LEN + 1];
	char sel[STORE_OID_LEN + 1];
	size_t same = 0, distinct = 1;

	for (unsigned i = 0; i < N; i++) {
		unsigned secs = 0x65e00000u + (i >= N / 2);
		oid_of(secs, "0123456789", 0x1000000u - N / 2 + i, sel);
		store_expiration_event_id(sel, ids[i]);
	}
	memcpy(sorted, ids, sizeof ids);
	qsort(sorted, N, sizeof *sorted, by_text);
	for (size_t i = 0; i < N; i++)
		same += strcmp(sorted[i], ids[i]) == 0;
	for (size_t i = 1; i < N; i++)
		distinct += strcmp(sorted[i], sorted[i - 1]) != 0;
	CHECK(same == N, "ids sort as their selections were made (%zu of %d in place)",
	      same, N);
	CHECK(distinct == N, "and all %d are distinct (%zu)", N, distinct);
}

int
main(void)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "test_expiration: libsodium cannot start\n");
		return 1;
	}
	check_shape();
	check_order();
	return CHECK_DONE();
}
