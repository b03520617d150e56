/* bus_admin.c - what an operator's tool needs besides the services' bus:
 * waiting for the connection, publishing with JetStream's full answer,
 * the stream's state. */
#include "bus_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/log.h"
#include "store/oid.h"

#define NS_PER_MS 1000000LL

/* An event id fit for a header: [A-Za-z0-9_-], 1 to BUS_ID_MAX bytes. */
static bool
id_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	              "0123456789_-");
	return n > 0 && n <= BUS_ID_MAX && s[n] == '\0';
}

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
bus_publish_ack(store_bus *bus, natsMsg *msg, uint64_t *seq, int *duplicate)
{
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode je = 0;
	natsStatus s;
	store_err e;

	if (seq != NULL)
		*seq = 0;
	if (duplicate != NULL)
		*duplicate = 0;
	if (!bus_connected(bus))
		return STORE_EUNAVAIL;
	if ((e = bus_stream_ensure(bus)) != STORE_OK)
		return e;
	jsPubOptions_Init(&po);
	po.MaxWait = BUS_PUB_WAIT_MS;
	s = js_PublishMsg(&pa, bus->js, msg, &po, &je);
	if (s == NATS_OK) {
		if (seq != NULL)
			*seq = pa->Sequence;
		if (duplicate != NULL)
			*duplicate = pa->Duplicate ? 1 : 0;
		goto out;
	}
	if (s == NATS_NO_RESPONDERS || je == JSStreamNotFoundErr)
		atomic_store(&bus->stream_ok, false);
	store_warn("cannot publish to '%s': %s (jetstream error %d)",
	           natsMsg_GetSubject(msg), natsStatus_GetText(s), (int)je);
	e = STORE_EUNAVAIL;
out:
	jsPubAck_Destroy(pa);
	return e;
}

store_err
store_bus_publish_ack(store_bus *bus, const char *subject, const json_t *payload,
                      const char *event_id, const char *request_id, uint64_t *seq,
                      int *duplicate)
{
	char id[STORE_OID_LEN + 1], at[BUS_TIME_LEN], req[BUS_HDR_MAX];
	natsMsg *m = NULL;
	char *data = NULL;
	store_err e = STORE_EINVAL;

	if (seq != NULL)
		*seq = 0;
	if (duplicate != NULL)
		*duplicate = 0;
	if (bus == NULL || !bus_subject_ok(subject) || !json_is_object(payload) ||
	    (event_id != NULL && !id_ok(event_id)))
		goto out;
	if (event_id == NULL) {
		store_oid_new(id);
		event_id = id;
	}
	if (request_id != NULL) {
		bus_header_value(req, request_id);
		request_id = req;
	}
	data = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (data == NULL) {
		e = STORE_ENOMEM;
		goto out;
	}
	bus_now_rfc3339(at);
	e = bus_msg_new(subject, data, strlen(data), event_id, request_id, at, &m);
	if (e != STORE_OK)
		goto out;
	e = bus_publish_ack(bus, m, seq, duplicate);
out:
	natsMsg_Destroy(m);
	free(data);
	return e;
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
