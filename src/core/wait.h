/* Periodic background duties wait on a condition variable on the monotonic clock, so that a
 * change of the wall clock neither stalls nor hurries them, and a stop request wakes them at
 * once. */
#ifndef TD_CORE_WAIT_H
#define TD_CORE_WAIT_H

#include <pthread.h>

#include <stdint.h>
#include <time.h>

/* Initialises cond on CLOCK_MONOTONIC. */
void td__cond_init_monotonic(pthread_cond_t *cond);

/* The monotonic time ms milliseconds from now, for pthread_cond_timedwait on a condition
 * variable initialised by td__cond_init_monotonic. */
void td__deadline_after(struct timespec *ts, int64_t ms);

/* With lock held: waits interval_ms on cond (re-waiting after wake-ups that are not a stop)
 * unless *stop is or becomes non-zero. Returns *stop. */
int td__wait_interval(pthread_cond_t *cond, pthread_mutex_t *lock, const int *stop,
                      unsigned interval_ms);

/* The same, also returning as soon as *flag is non-zero (a kick: work to do now). */
int td__wait_flag(pthread_cond_t *cond, pthread_mutex_t *lock, const int *stop, const int *flag,
                  unsigned interval_ms);

#endif
