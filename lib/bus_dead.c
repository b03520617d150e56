/* bus_dead.c - dead letters: read one, re-publish it, drop it.
 *
 * A dead letter (bus_listen.c) is a message on "store.dead." + the
 * original subject, with the original body and headers and the
 * Store-Event-Id, Store-Error, Store-Consumer, Store-Original-Seq,
 * Store-Delivered and Store-Attempts headers. Its id here is its stream sequence, stable
 * until it is deleted. */
#include "bus_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"
#include "store/log.h"

/* Headers that describe the dead-lettering: not copied on a retry. */
static const char *const dead_only[] = {
	STORE_HDR_EVENT_ID, STORE_HDR_ERROR, STORE_HDR_CONSUMER,
	STORE_HDR_ORIGINAL_SEQ, STORE_HDR_DELIVERED, STORE_HDR_ATTEMPTS,
};

static bool
is_dead_subject(const char *subject)
{
	return subject != NULL &&
	       strncmp(subject, STORE_DEAD_PREFIX, strlen(STORE_DEAD_PREFIX)) == 0 &&
	       bus_subject_ok(subject + strlen(STORE_DEAD_PREFIX));
}

static json_t *
number_of(const char *s)
{
	char *end = NULL;
	unsigned long long v;

	if (s == NULL || *s == '\0')
		return json_null();
	v = strtoull(s, &end, 10);
	return *end == '\0' ? json_integer((json_int_t)v) : json_string(s);
}

json_t *
store_dead_view(const json_t *ev)
{
	const char *subject = store_json_str(ev, "subject");
	const json_t *h = json_object_get(ev, "headers");

	if (!is_dead_subject(subject))
		return NULL;
	return json_pack("{s:O?,s:s?,s:s,s:s?,s:s?,s:s?,s:o,s:o,s:o,s:s?,s:O?}",
	                 "id", json_object_get(ev, "seq"),
	                 "time", store_json_str(ev, "time"),
	                 "subject", subject + strlen(STORE_DEAD_PREFIX),
	                 "event_id", store_json_str(h, STORE_HDR_EVENT_ID),
	                 "consumer", store_json_str(h, STORE_HDR_CONSUMER),
	                 "error", store_json_str(h, STORE_HDR_ERROR),
	                 "delivered", number_of(store_json_str(h, STORE_HDR_DELIVERED)),
	                 "attempts", number_of(store_json_str(h, STORE_HDR_ATTEMPTS)),
	                 "original_seq", number_of(store_json_str(h, STORE_HDR_ORIGINAL_SEQ)),
	                 "request_id", store_json_str(h, STORE_HDR_REQUEST_ID),
	                 "payload", json_object_get(ev, "payload"));
}

/* Gets message id when it is a dead letter. Caller frees *out with
 * natsMsg_Destroy. */
static store_err
dead_msg(store_bus *bus, uint64_t id, natsMsg **out)
{
	jsErrCode je = 0;
	natsStatus s;

	*out = NULL;
	if (bus == NULL || id == 0)
		return STORE_EINVAL;
	if (!bus_connected(bus))
		return STORE_EUNAVAIL;
	s = js_GetMsg(out, bus->js, STORE_STREAM, id, NULL, &je);
	if (s != NATS_OK) {
		*out = NULL;
		return je == JSNoMessageFoundErr || je == JSStreamNotFoundErr
		       ? STORE_ENOTFOUND : STORE_EUNAVAIL;
	}
	if (!is_dead_subject(natsMsg_GetSubject(*out))) {
		natsMsg_Destroy(*out);
		*out = NULL;
		return STORE_ENOTFOUND;
	}
	return STORE_OK;
}

store_err
store_dead_get(store_bus *bus, uint64_t id, json_t **out)
{
	natsMsg *m = NULL;
	json_t *ev = NULL;
	store_err e;

	*out = NULL;
	if ((e = dead_msg(bus, id, &m)) != STORE_OK)
		return e;
	ev = bus_event_json(m, natsMsg_GetSequence(m), natsMsg_GetTime(m));
	*out = ev != NULL ? store_dead_view(ev) : NULL;
	json_decref(ev);
	natsMsg_Destroy(m);
	return *out != NULL ? STORE_OK : STORE_ENOMEM;
}

/* Deletes message id; one already gone is fine. */
static store_err
delete_msg(store_bus *bus, uint64_t id)
{
	jsErrCode je = 0;
	natsStatus s = js_DeleteMsg(bus->js, STORE_STREAM, id, NULL, &je);

	if (s == NATS_OK || je == JSSequenceNotFoundErr || je == JSNoMessageFoundErr)
		return STORE_OK;
	store_warn("cannot delete message %llu of stream '%s': %s (jetstream error %d)",
	           (unsigned long long)id, STORE_STREAM, natsStatus_GetText(s), (int)je);
	return STORE_EIO;
}

store_err
store_dead_retry(store_bus *bus, uint64_t id, uint64_t *seq, int *duplicate)
{
	char eid[BUS_HDR_MAX], msgid[BUS_ID_MAX + 1];
	const char **keys = NULL, **vals = NULL, *v = NULL;
	natsMsg *dm = NULL, *m = NULL;
	natsStatus s;
	int nk = 0, nv = 0, n;
	store_err e;

	if (seq != NULL)
		*seq = 0;
	if (duplicate != NULL)
		*duplicate = 0;
	if ((e = dead_msg(bus, id, &dm)) != STORE_OK)
		return e;
	e = STORE_ENOMEM;
	s = natsMsg_Create(&m, natsMsg_GetSubject(dm) + strlen(STORE_DEAD_PREFIX), NULL,
	                   natsMsg_GetData(dm), natsMsg_GetDataLength(dm));
	if (s != NATS_OK)
		goto out;
	if (natsMsgHeader_Keys(dm, &keys, &nk) != NATS_OK)
		nk = 0;
	for (int i = 0; i < nk && s == NATS_OK; i++) {
		bool skip = strncmp(keys[i], "Nats-", 5) == 0;

		for (size_t j = 0; !skip && j < sizeof dead_only / sizeof *dead_only; j++)
			skip = strcmp(keys[i], dead_only[j]) == 0;
		if (skip || natsMsgHeader_Values(dm, keys[i], &vals, &nv) != NATS_OK)
			continue;
		for (int j = 0; j < nv && s == NATS_OK; j++)
			s = natsMsgHeader_Add(m, keys[i], vals[j]);
		free((void *)vals);
		vals = NULL;
	}
	if (natsMsgHeader_Get(dm, STORE_HDR_EVENT_ID, &v) == NATS_OK && v != NULL &&
	    v[0] != '\0' && strlen(v) <= BUS_ID_MAX) {
		bus_header_value(eid, v);
		/* Deterministic, so a second retry of it is a duplicate; cut
		 * to BUS_ID_MAX, which the listeners accept. */
		n = snprintf(msgid, sizeof msgid, "r%llu-", (unsigned long long)id);
		memcpy(msgid + n, eid, strnlen(eid, sizeof msgid - 1 - (size_t)n));
		msgid[n + (int)strnlen(eid, sizeof msgid - 1 - (size_t)n)] = '\0';
	} else {
		snprintf(eid, sizeof eid, "retry-%llu", (unsigned long long)id);
		snprintf(msgid, sizeof msgid, "retry-%llu", (unsigned long long)id);
	}
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, STORE_HDR_EVENT_ID, eid);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", msgid);
	if (s != NATS_OK)
		goto out;
	if ((e = bus_publish_sync(bus, m, seq, duplicate)) != STORE_OK)
		goto out;
	e = delete_msg(bus, id);
out:
	free((void *)keys);
	natsMsg_Destroy(m);
	natsMsg_Destroy(dm);
	return e;
}

store_err
store_dead_drop(store_bus *bus, uint64_t id)
{
	natsMsg *dm = NULL;
	store_err e;

	if ((e = dead_msg(bus, id, &dm)) != STORE_OK)
		return e;
	natsMsg_Destroy(dm);
	return delete_msg(bus, id);
}
