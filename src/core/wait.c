/* Timed waits of the background duties (see wait.h). */
#include <time.h>

#include "core/wait.h"

void td__cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &ca);
    pthread_condattr_destroy(&ca);
}

void td__deadline_after(struct timespec *ts, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

int td__wait_interval(pthread_cond_t *cond, pthread_mutex_t *lock, const int *stop,
                      unsigned interval_ms)
{
    struct timespec ts;
    td__deadline_after(&ts, interval_ms);
    while (!*stop && pthread_cond_timedwait(cond, lock, &ts) == 0)
        ; /* woken without a stop request: keep waiting until the time */
    return *stop;
}

int td__wait_flag(pthread_cond_t *cond, pthread_mutex_t *lock, const int *stop, const int *flag,
                  unsigned interval_ms)
{
    struct timespec ts;
    td__deadline_after(&ts, interval_ms);
    while (!*stop && !*flag && pthread_cond_timedwait(cond, lock, &ts) == 0)
        ; /* woken with neither set: keep waiting until the time */
    return *stop;
}
