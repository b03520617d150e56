/* fuzz_outbox - outbox rows as the relay reads them back from a database
 * (lib/bus_outbox.c): the row's id, subject, payload, requestId and
 * occurredAt made into a NATS message (row_msg), the same from the row's
 * stored text without decoding it (row_msg_text, which must give the
 * message row_msg gives: same subject and headers, a body that decodes to
 * the same payload), and the ObjectId time the pruning reads
 * (oid_seconds).
 *
 * Input: the row, a JSON document. */
#include "fuzz.h"

/* row_msg and oid_seconds are static in the module. */
#include "../../lib/bus_outbox.c"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return nats_Open(-1) != NATS_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *row = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	natsMsg *msg = NULL;
	store_err e;

	if (row == NULL)
		return 0;
	e = row_msg(row, &msg);
	if (e == STORE_OK) {
		/* The message goes where the row says, with the row's id. */
		const char *id = NULL;

		if (msg == NULL ||
		    strcmp(natsMsg_GetSubject(msg),
		           json_string_value(json_object_get(row, "subject"))) != 0 ||
		    natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || id == NULL)
			abort();
	} else if (msg != NULL) {
		abort();
	}
	/* The stored text: the row as given, with an id of its own. */
	if (json_is_object(row)) {
		const char *id = json_string_value(json_object_get(row, "id"));
		store_db_text t = { id != NULL ? id : "0123456789abcdef01234567", 0,
		                    (const char *)data, size };
		json_t *withid = json_copy(row);
		natsMsg *fast = NULL, *slow = NULL;
		store_err fe, se;

		json_object_set_new(withid, "id", json_string(t.id));
		fe = row_msg_text(&t, &fast);
		se = row_msg(withid, &slow);
		if (fe != se || (fast == NULL) != (slow == NULL))
			abort();
		if (fast != NULL) {
			const char *names[] = { "Nats-Msg-Id", STORE_HDR_REQUEST_ID,
			                        STORE_HDR_OCCURRED_AT };
			json_t *fb = json_loadb(natsMsg_GetData(fast),
			                        (size_t)natsMsg_GetDataLength(fast), 0, NULL);
			json_t *sb = json_loadb(natsMsg_GetData(slow),
			                        (size_t)natsMsg_GetDataLength(slow), 0, NULL);

			if (strcmp(natsMsg_GetSubject(fast), natsMsg_GetSubject(slow)) != 0 ||
			    fb == NULL || sb == NULL || !json_equal(fb, sb))
				abort();
			for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
				const char *a = NULL, *b = NULL;

				natsMsgHeader_Get(fast, names[k], &a);
				natsMsgHeader_Get(slow, names[k], &b);
				if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
					abort();
			}
			json_decref(fb);
			json_decref(sb);
		}
		natsMsg_Destroy(fast);
		natsMsg_Destroy(slow);
		json_decref(withid);
	}
	natsMsg_Destroy(msg);
	if (oid_seconds(json_string_value(json_object_get(row, "id"))) < -1)
		abort();
	json_decref(row);
	return 0;
}
