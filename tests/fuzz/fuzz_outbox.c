/* fuzz_outbox - outbox rows as the relay reads them back from a database
 * (lib/bus_outbox.c): the row's id, subject, payload, requestId and
 * occurredAt made into a NATS message (row_msg), and the ObjectId time
 * the pruning reads (oid_seconds).
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
	natsMsg_Destroy(msg);
	if (oid_seconds(json_string_value(json_object_get(row, "id"))) < -1)
		abort();
	json_decref(row);
	return 0;
}
