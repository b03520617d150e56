/* fuzz_time - RFC 3339 time parsing, where the store reads it:
 *   - the one time module, store_time_parse and store_time_format
 *     (lib/time.c: expirerd's expiresAt, the event catalogue), with the
 *     property that what it formats parses back to the same instant,
 *   - storectl's ctl_time (bin/storectl/ctl_common.c: --since/--until,
 *     durations "90s", else the time module),
 *   - the event catalogue's check of F_TIME fields (lib/bus_catalog.c),
 *     reached through a store.product.selected payload.
 *
 * Input: the time text (NUL ends it early, as in a C string). */
#include "fuzz.h"

#include <stdlib.h>

#include "ctl_impl.h"
#include "store/bus.h"
#include "store/time.h"

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
	char *s = fuzz_str(data, size), text[32], why[256];
	long long ms;
	json_t *payload;

	if (s == NULL)
		return 0;
	if (store_time_parse(s, &ms)) {
		long long back = 0;

		store_time_format(ms, true, text);
		/* In the years it formats (0000-9999), formatting then parsing
		 * gives the instant back. */
		if (ms >= -62167219200000LL && ms <= 253402300799999LL &&
		    (!store_time_parse(text, &back) || back != ms))
			abort();
	}
	if (ctl_time(s, &ms) == 0)
		store_time_format(ms, true, text);
	payload = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}",
	                    "productId", "5f1d7c0e9b1e8a3b4c5d6e7f",
	                    "selectionId", "5f1d7c0e9b1e8a3b4c5d6e7f",
	                    "userId", "5f1d7c0e9b1e8a3b4c5d6e80",
	                    "categoryId", "5f1d7c0e9b1e8a3b4c5d6e81",
	                    "views", 1, "expiresAt", s);
	if (payload != NULL)
		store_event_check("store.product.selected", payload, why, sizeof why);
	json_decref(payload);
	free(s);
	return 0;
}
