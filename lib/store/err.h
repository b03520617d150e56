/* err.h - the library's one error enum. */
#ifndef STORE_ERR_H
#define STORE_ERR_H

typedef enum store_err {
	STORE_OK = 0,
	STORE_ENOMEM,     /* out of memory */
	STORE_EINVAL,     /* bad argument or malformed input */
	STORE_ENOTFOUND,  /* no such document, route or key */
	STORE_ECONFLICT,  /* stale version (optimistic concurrency) */
	STORE_EDUPLICATE, /* a unique field already holds this value */
	STORE_ETOOBIG,    /* input over its bound */
	STORE_EAUTH,      /* not signed in, bad credentials or bad token */
	STORE_EFORBIDDEN, /* signed in but not allowed */
	STORE_EDECLINED,  /* a card provider declined the charge */
	STORE_EUNAVAIL,   /* a dependency (database, bus, redis, provider) is down */
	STORE_EIO,        /* an I/O or backend failure that is not "down" */
	STORE_ECONFIG,    /* a missing or malformed setting */
	STORE_ELATER,     /* not yet: try again later (an event arrived early) */
	STORE_EINTERNAL   /* a bug: should not happen */
} store_err;

/* Why a domain rule refused a request (with STORE_EINVAL): the API's
 * message and, for a validation error, the field. message points at a
 * static string or at buf. */
typedef struct store_refusal {
	const char *message;
	const char *field;
	char buf[256];
} store_refusal;

/* Returns a static, lowercase description of e; never NULL. */
const char *store_strerror(store_err e);

#endif
