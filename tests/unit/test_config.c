/* test_config.c - settings from the environment. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/config.h"

int
main(void)
{
	const char *s = NULL, *k = NULL;
	long n = 0, b = 0;
	char msg[256];
	const store_setting t[] = {
		{ "T_STR", STORE_SETTING_STR, NULL, 0, 0, &s, NULL },
		{ "T_KEY", STORE_SETTING_SECRET, NULL, 8, 0, &k, NULL },
		{ "T_INT", STORE_SETTING_INT, "4", 1, 10, NULL, &n },
		{ "T_BOOL", STORE_SETTING_BOOL, "no", 0, 0, NULL, &b },
	};

	unsetenv("T_STR");
	CHECK(store_config_load(t, 4, msg, sizeof msg) == STORE_ECONFIG &&
	      strstr(msg, "'T_STR'") != NULL && strstr(msg, "required") != NULL,
	      "a missing setting is named");
	setenv("T_STR", "x", 1);
	setenv("T_KEY", "short", 1);
	CHECK(store_config_load(t, 4, msg, sizeof msg) == STORE_ECONFIG &&
	      strstr(msg, "'T_KEY'") != NULL && strstr(msg, "short") == NULL,
	      "a short secret is named, its value never echoed");
	setenv("T_KEY", "long enough", 1);
	CHECK(store_config_load(t, 4, msg, sizeof msg) == STORE_OK && n == 4 && b == 0 &&
	      strcmp(s, "x") == 0, "defaults apply");
	setenv("T_INT", "11", 1);
	CHECK(store_config_load(t, 4, msg, sizeof msg) == STORE_ECONFIG &&
	      strstr(msg, "'T_INT'") != NULL, "an integer out of range is named");
	setenv("T_INT", "3x", 1);
	CHECK(store_config_load(t, 4, msg, sizeof msg) == STORE_ECONFIG, "trailing junk fails");
	setenv("T_INT", "7", 1);
	setenv("T_BOOL", "maybe", 1);
	CHECK(store_config_load(t, 4, msg, sizeof msg) == STORE_ECONFIG &&
	      strstr(msg, "'T_BOOL'") != NULL, "a malformed boolean is named");
	setenv("T_BOOL", "On", 1);
	CHECK(store_config_load(t, 4, msg, sizeof msg) == STORE_OK && n == 7 && b == 1,
	      "values are read");
	return CHECK_DONE();
}
