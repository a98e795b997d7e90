/* The library's one clock type: wall-clock milliseconds since the epoch (UTC), injectable so that
 * deadlines, retention, backoff and ages are testable without sleeping. The service, the audit
 * log and the evidence store take one in their options; a clock whose now_ms is NULL is the
 * system clock. */
#ifndef TAKEDOWN_CLOCK_H
#define TAKEDOWN_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct td_clock {
    int64_t (*now_ms)(void *ctx); /* NULL: the system clock */
    void *ctx;                    /* passed to now_ms */
} td_clock;

/* The time on clock (the system clock for NULL or a clock without now_ms). */
int64_t td_clock_now(const td_clock *clock);

#ifdef __cplusplus
}
#endif

#endif
