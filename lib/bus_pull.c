/* bus_pull.c - reading a durable pull consumer with requests of our own.
 *
 * JetStream hands a pull consumer's messages to whoever asks: a request
 * {"batch":N,"expires":ns} on $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>
 * gets up to N messages sent to its reply subject, then a status message
 * (408 when it expired, 409 when the server ended it early). nats.c's
 * natsSubscription_Fetch sends such requests per call (a no_wait one first,
 * then a waiting one when that found nothing), so at a few events a second
 * every event cost two requests and a "404 No Messages" besides itself.
 *
 * Here one request stays open. It asks for PULL_BATCH messages within
 * PULL_EXPIRES_MS; once it has brought them all, or the server says it is
 * over, the next one goes out at once, before the messages in hand are
 * handled, so the server keeps delivering while the listener works. Request
 * n replies to "<inbox>.<n>", so a status message names the request it
 * ends and a late one for an older request is ignored. A request the
 * server forgot (it restarted) is given up PULL_SLACK_MS after it should
 * have expired, and one is sent afresh after every reconnect.
 *
 * The messages are acknowledged by publishing JetStream's ack words to
 * their reply subject: nats.c's natsMsg_Ack wants a subscription made by
 * its js_* calls. */
#include "bus_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/log.h"
#include "store/time.h"

#define PULL_BATCH        256      /* messages one request asks for */
#define PULL_EXPIRES_MS   5000     /* how long a request stays open */
#define PULL_SLACK_MS     1000     /* then given up without the server's word */
#define PULL_CLOSE_FLUSH_MS 1000   /* bus_pull_close's round trip, at most */

/* The request number a status message's subject names, or 0 when it is not
 * "<inbox>.<digits>". */
static uint64_t
request_of(const struct bus_pull *p, const char *subject)
{
	size_t n = strlen(p->inbox);
	uint64_t id = 0;
	const char *s;

	if (subject == NULL || strncmp(subject, p->inbox, n) != 0 || subject[n] == '\0')
		return 0;
	for (s = subject + n; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || id > (UINT64_MAX - 9) / 10)
			return 0;
		id = id * 10 + (uint64_t)(*s - '0');
	}
	return id;
}

/* Sends request p->req + 1. */
static natsStatus
request_send(struct bus_pull *p)
{
	char reply[BUS_SUBJECT_MAX + 24], body[96];
	natsStatus s;
	int len;

	p->gen = atomic_load(&p->bus->generation);
	snprintf(reply, sizeof reply, "%s%" PRIu64, p->inbox, p->req + 1);
	len = snprintf(body, sizeof body, "{\"batch\":%d,\"expires\":%lld}",
	               PULL_BATCH, (long long)PULL_EXPIRES_MS * 1000000LL);
	s = natsConnection_PublishRequest(p->bus->nc, p->next, reply, body, len);
	if (s != NATS_OK)
		return s;
	p->req++;
	p->left = PULL_BATCH;
	p->until_ms = store_time_mono_ms() + PULL_EXPIRES_MS + PULL_SLACK_MS;
	return NATS_OK;
}

/* Whether the open request is done with: brought all it asked for, past
 * its time, or sent before the last reconnect. */
static bool
request_over(const struct bus_pull *p)
{
	return p->req == 0 || p->left <= 0 ||
	       store_time_mono_ms() >= p->until_ms ||
	       p->gen != atomic_load(&p->bus->generation);
}

store_err
bus_pull_open(struct bus_pull *p, store_bus *bus, const char *durable)
{
	char inbox[64], wild[sizeof inbox + 2];
	natsInbox *box = NULL;
	store_err e = STORE_EUNAVAIL;

	memset(p, 0, sizeof *p);
	p->bus = bus;
	if (natsInbox_Create(&box) != NATS_OK ||
	    strlen((const char *)box) >= sizeof inbox)
		goto out;
	snprintf(inbox, sizeof inbox, "%s", (const char *)box);
	snprintf(p->inbox, sizeof p->inbox, "%s.", inbox);
	snprintf(wild, sizeof wild, "%s.*", inbox);
	snprintf(p->next, sizeof p->next, "$JS.API.CONSUMER.MSG.NEXT.%s.%s",
	         STORE_STREAM, durable);
	if (natsConnection_SubscribeSync(&p->sub, bus->nc, wild) != NATS_OK) {
		p->sub = NULL;
		goto out;
	}
	/* The default pending limit (65,536 messages) is far above what
	 * one request at a time can queue. */
	e = STORE_OK;
out:
	natsInbox_Destroy(box);
	return e;
}

/* nats.c before 3.6 (Debian 12 has 3.4) can crash in its reader thread
 * when a subscription is destroyed while a message for it is being handed
 * over (nats.c issue 637): storectl replay, stopping at --to-seq with a
 * request's messages still coming, did so once under AddressSanitizer. So
 * the interest goes first, then one round trip to the server: the reader
 * has handed over what came before the answer, and finds no subscription
 * for what comes after. */
void
bus_pull_close(struct bus_pull *p)
{
	if (p->sub == NULL)
		return;
	(void)natsSubscription_Unsubscribe(p->sub);
	if (p->bus != NULL && p->bus->nc != NULL)
		(void)natsConnection_FlushTimeout(p->bus->nc, PULL_CLOSE_FLUSH_MS);
	natsSubscription_Destroy(p->sub);
	p->sub = NULL;
}

/* Takes a status message's word: 408/404 end the open request, a 409 ends
 * it with an error (it says why: "Consumer Deleted", "Exceeded
 * MaxWaiting"...), 100 (a heartbeat) and anything about an older request
 * change nothing. */
static natsStatus
status_take(struct bus_pull *p, natsMsg *msg, const char *status)
{
	const char *desc = NULL;

	if (request_of(p, natsMsg_GetSubject(msg)) != p->req ||
	    strncmp(status, "100", 3) == 0)
		return NATS_OK;
	p->left = 0;
	if (strncmp(status, "408", 3) == 0 || strncmp(status, "404", 3) == 0)
		return NATS_OK;
	if (natsMsgHeader_Get(msg, "Description", &desc) != NATS_OK)
		desc = NULL;
	store_warn("pull request on '%s' ended: %s %s", p->next, status,
	           desc != NULL ? desc : "");
	return NATS_ERR;
}

natsStatus
bus_pull_next(struct bus_pull *p, natsMsg **msgs, size_t max, size_t *n,
              int64_t wait_ms, int64_t gather_ms)
{
	long long now = store_time_mono_ms(), deadline = now + wait_ms, gather = 0;
	long long wait;
	const char *status;
	natsMsg *msg = NULL;
	natsStatus s = NATS_OK;
	int pending;

	*n = 0;
	while (*n < max) {
		if (request_over(p) && (s = request_send(p)) != NATS_OK)
			break;
		now = store_time_mono_ms();
		wait = (*n == 0 ? deadline : gather) - now;
		if (wait <= 0 && *n == 0) {
			s = NATS_TIMEOUT;
			break;
		}
		if (wait <= 0) {
			/* Past the gathering: only what is queued already. */
			if (natsSubscription_GetPending(p->sub, &pending, NULL) != NATS_OK ||
			    pending <= 0)
				break;
			wait = 1;
		}
		if (p->until_ms - now < wait)
			wait = p->until_ms - now > 0 ? p->until_ms - now : 1;
		s = natsSubscription_NextMsg(&msg, p->sub, wait);
		if (s == NATS_TIMEOUT)
			continue;               /* a deadline, or the request's end */
		if (s != NATS_OK)
			break;
		/* JetStream's status messages have headers and no data. */
		if (natsMsg_GetDataLength(msg) == 0 &&
		    natsMsgHeader_Get(msg, "Status", &status) == NATS_OK) {
			s = status_take(p, msg, status);
			natsMsg_Destroy(msg);
			if (s != NATS_OK)
				break;
			continue;
		}
		/* The window opens when the first message came, not when
		 * the wait for it began. */
		if (*n == 0)
			gather = store_time_mono_ms() + gather_ms;
		msgs[(*n)++] = msg;
		/* A message names no request: one that an older request
		 * brought (sent before a reconnect) counts against the open
		 * one too, which at worst asks again early. */
		p->left--;
	}
	/* Ask for more before the caller handles these. */
	if (*n > 0 && request_over(p) && s != NATS_ERR)
		(void)request_send(p);
	if (*n > 0)
		return NATS_OK;
	return s == NATS_OK ? NATS_TIMEOUT : s;
}

natsStatus
bus_pull_ack(store_bus *bus, natsMsg *msg)
{
	const char *reply = natsMsg_GetReply(msg);

	if (reply == NULL || reply[0] == '\0')
		return NATS_INVALID_ARG;
	return natsConnection_Publish(bus->nc, reply, "+ACK", 4);
}

natsStatus
bus_pull_nak(store_bus *bus, natsMsg *msg, int64_t delay_ms)
{
	const char *reply = natsMsg_GetReply(msg);
	char body[64];
	int len;

	if (reply == NULL || reply[0] == '\0')
		return NATS_INVALID_ARG;
	len = snprintf(body, sizeof body, "-NAK {\"delay\":%lld}",
	               (long long)delay_ms * 1000000LL);
	return natsConnection_Publish(bus->nc, reply, body, len);
}
