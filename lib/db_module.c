/* db_module.c - the database backends built as modules (lib/modules/): a
 * backend whose driver is large (MongoDB's pulls in libmongoc, libbson,
 * ICU, SASL and Kerberos: about 0.75 MB of private memory in every process
 * that merely links it) is a shared object loaded on first use, so a store
 * on the embedded default never maps it. */
#include "db_impl.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODULES_MAX 4

struct loaded {
	char name[16];
	const struct db_ops *ops;
};

static pthread_mutex_t modules_mu = PTHREAD_MUTEX_INITIALIZER;
static struct loaded modules[MODULES_MAX];
static size_t nmodules;

static const struct db_host host = {
	.thread_get = db_thread_get,
	.fail = db_fail,
	.mark_transient = db_mark_transient,
	.unique_field = db_unique_field,
	.errmsg = store_db_errmsg,
	.log = store_log,
};

/* DIR of db_module_load into dir; false with a message when there is none. */
static bool
module_dir(char *dir, size_t dirlen, char *err, size_t errlen)
{
	const char *env = getenv("STORE_MODULE_DIR");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;
	int w;

	if (env != NULL && env[0] != '\0') {
		w = snprintf(dir, dirlen, "%s", env);
		if (w < 0 || (size_t)w >= dirlen) {
			snprintf(err, errlen, "STORE_MODULE_DIR is too long");
			return false;
		}
		return true;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		snprintf(err, errlen, "cannot find the program's folder "
		         "(/proc/self/exe); set STORE_MODULE_DIR");
		return false;
	}
	exe[n] = '\0';
	for (int up = 0; up < 2; up++) {        /* .../bin/prog -> ... */
		slash = strrchr(exe, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
	}
	w = snprintf(dir, dirlen, "%s/lib/store", exe);
	if (w < 0 || (size_t)w >= dirlen) {
		snprintf(err, errlen, "the program's folder is too long; set "
		         "STORE_MODULE_DIR");
		return false;
	}
	return true;
}

static const struct db_ops *
module_open(const char *name, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	const struct db_ops *ops;
	db_module_entry *entry;
	void *h;

	if (!module_dir(dir, sizeof dir, err, errlen))
		return NULL;
	snprintf(path, sizeof path, "%s/db_%s.so", dir, name);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(err, errlen, "cannot load the %s backend's module (%s); "
		         "STORE_MODULE_DIR names the folder of db_%s.so", name,
		         dlerror(), name);
		return NULL;
	}
	*(void **)&entry = dlsym(h, DB_MODULE_ENTRY);
	ops = entry != NULL ? entry(&host) : NULL;
	if (ops == NULL) {
		snprintf(err, errlen, "the %s backend is not available: its "
		         "module '%s' %s", name, path, entry == NULL ?
		         "lacks " DB_MODULE_ENTRY : "did not start");
		dlclose(h);
	}
	return ops;     /* h stays open for the process's life */
}

const struct db_ops *
db_module_load(const char *name, char *err, size_t errlen)
{
	const struct db_ops *ops = NULL;

	if (strlen(name) >= sizeof modules[0].name) {
		snprintf(err, errlen, "module name too long");
		return NULL;
	}
	pthread_mutex_lock(&modules_mu);
	for (size_t i = 0; i < nmodules && ops == NULL; i++)
		if (strcmp(modules[i].name, name) == 0)
			ops = modules[i].ops;
	if (ops == NULL && nmodules < MODULES_MAX) {
		ops = module_open(name, err, errlen);
		if (ops != NULL) {
			snprintf(modules[nmodules].name, sizeof modules[0].name,
			         "%s", name);
			modules[nmodules++].ops = ops;
		}
	} else if (ops == NULL) {
		snprintf(err, errlen, "too many backend modules");
	}
	pthread_mutex_unlock(&modules_mu);
	return ops;
}
