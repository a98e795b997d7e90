/* The clocks (see clock.h): the only place the library reads the system's time. */
#include <time.h>

#include "core/clock.h"

int64_t td__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t td__monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t td__monotonic_ms(void) { return td__monotonic_ns() / 1000000; }

int64_t td_clock_now(const td_clock *clock)
{
    if (clock && clock->now_ms)
        return clock->now_ms(clock->ctx);
    return td__wall_ms();
}
