/* bus_admin.c - what an operator's tool needs besides the services' bus:
 * waiting for the connection and the stream's state. */
#include "bus_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/log.h"
#include "store/oid.h"

#define NS_PER_MS 1000000LL

store_err
store_bus_wait(store_bus *bus, long timeout_ms)
{
	struct timespec step = { 0, 20 * NS_PER_MS };

	if (bus == NULL)
		return STORE_EINVAL;
	for (long waited = 0; !bus_connected(bus); waited += 20) {
		if (waited >= timeout_ms)
			return STORE_EUNAVAIL;
		nanosleep(&step, NULL);
	}
	return STORE_OK;
}


store_err
store_bus_stream_state(store_bus *bus, store_stream_state *out)
{
	jsStreamInfo *si = NULL;
	jsErrCode je = 0;
	natsStatus s;

	memset(out, 0, sizeof *out);
	if (bus == NULL)
		return STORE_EINVAL;
	if (!bus_connected(bus))
		return STORE_EUNAVAIL;
	s = js_GetStreamInfo(&si, bus->js, STORE_STREAM, NULL, &je);
	if (s != NATS_OK)
		return je == JSStreamNotFoundErr ? STORE_ENOTFOUND : STORE_EUNAVAIL;
	out->messages = si->State.Msgs;
	out->bytes = si->State.Bytes;
	out->first_seq = si->State.FirstSeq;
	out->last_seq = si->State.LastSeq;
	out->first_ms = si->State.FirstTime / NS_PER_MS;
	out->last_ms = si->State.LastTime / NS_PER_MS;
	out->consumers = (long)si->State.Consumers;
	if (si->Config != NULL)
		out->max_age_days = (long)(si->Config->MaxAge / (86400LL * 1000 * NS_PER_MS));
	jsStreamInfo_Destroy(si);
	return STORE_OK;
}
