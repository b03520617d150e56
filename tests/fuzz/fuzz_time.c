/* fuzz_time - the RFC 3339 time parsers, each as it is:
 *   - expirerd's parse_time (daemons/expirerd.c: a hold's expiresAt),
 *   - storectl's ctl_time (lib/ctl_common.c: --since/--until, also
 *     durations "90s"), with ctl_time_text on what it parsed,
 *   - the event catalogue's check of F_TIME fields (lib/bus_catalog.c),
 *     reached through a store.product.selected payload.
 *
 * Input: the time text (NUL ends it early, as in a C string). */
#include "fuzz.h"

/* expirerd's own parser is static in the daemon: take the daemon in whole,
 * its main renamed. */
#define main expirerd_main
#include "../../daemons/expirerd.c"
#undef main

#include "ctl_impl.h"

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
	if (parse_time(s, &ms))
		format_time(ms, text);
	if (ctl_time(s, &ms) == 0)
		ctl_time_text(ms, text);
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
