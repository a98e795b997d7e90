/* Chooses the distance kernels once per process, from what the CPU supports. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "takedown/index.h"

static const td__kernels *chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void pick(void)
{
    const char *force = getenv("TD_INDEX_KERNEL");
    chosen = &td__kernels_portable;
    if (force && strcmp(force, "portable") == 0)
        return;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt"))
        chosen = &td__kernels_avx2;
}

const td__kernels *td__index_kernels(void)
{
    pthread_once(&once, pick);
    return chosen;
}

const char *td_index_kernel_name(void) { return td__index_kernels()->name; }
