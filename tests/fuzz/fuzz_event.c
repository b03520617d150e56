/* fuzz_event - event payloads checked against the event catalogue
 * (lib/bus_catalog.c, store_event_check), as storectl publish checks what
 * it is given: ids, strings, money, counts, RFC 3339 times, cart lines and
 * payment items.
 *
 * Input: the subject, a newline, then the payload (JSON). */
#include "fuzz.h"

#include "store/bus.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *subject = NULL, why[256];
	const uint8_t *rest;
	size_t len;
	json_t *payload;
	json_error_t jerr;
	store_err e;

	if (!fuzz_split(data, size, '\n', &subject, &rest, &len))
		return 0;
	payload = json_loadb((const char *)rest, len, JSON_DECODE_ANY, &jerr);
	e = store_event_check(subject, payload, why, sizeof why);
	/* A refusal says why; a short buffer is cut, not overrun. */
	if (e == STORE_EINVAL && why[0] == '\0')
		abort();
	store_event_check(subject, payload, why, 8);
	json_decref(payload);
	free(subject);
	return 0;
}
