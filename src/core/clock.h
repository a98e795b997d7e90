/* Reading the time. The library's wall-clock readings go through a td_clock (the caller's, or
 * the system one below); elapsed times and the cadence of background threads use the monotonic
 * clock, which a change of the wall clock does not move. */
#ifndef TD_CORE_CLOCK_H
#define TD_CORE_CLOCK_H

#include <stdint.h>

#include "takedown/clock.h"

/* The system's wall clock: milliseconds since the epoch (UTC). */
int64_t td__wall_ms(void);
/* The monotonic clock, from an arbitrary origin. */
int64_t td__monotonic_ms(void);
int64_t td__monotonic_ns(void);

#endif
