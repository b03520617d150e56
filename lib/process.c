/* process.c - process-wide settings every long-running program applies
 * at start (process.h). */
#include "store/process.h"

#include <malloc.h>
#include <stdlib.h>

void
store_process_init(void)
{
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, STORE_MALLOC_ARENAS);
}
