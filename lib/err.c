/* err.c - descriptions of the library's error codes. */
#include "store/err.h"

const char *
store_strerror(store_err e)
{
	switch (e) {
	case STORE_OK:         return "ok";
	case STORE_ENOMEM:     return "out of memory";
	case STORE_EINVAL:     return "invalid argument";
	case STORE_ENOTFOUND:  return "not found";
	case STORE_ECONFLICT:  return "version conflict";
	case STORE_EDUPLICATE: return "duplicate value";
	case STORE_ETOOBIG:    return "too big";
	case STORE_EAUTH:      return "not authorized";
	case STORE_EFORBIDDEN: return "forbidden";
	case STORE_EDECLINED:  return "declined";
	case STORE_EUNAVAIL:   return "dependency unavailable";
	case STORE_EIO:        return "i/o error";
	case STORE_ECONFIG:    return "bad configuration";
	case STORE_ELATER:     return "not yet, try again later";
	case STORE_EINTERNAL:  return "internal error";
	}
	return "unknown error";
}
