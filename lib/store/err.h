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

/* Returns a static, lowercase description of e; never NULL. */
const char *store_strerror(store_err e);

#endif
