/* One settable clock per test program, for the library's injectable clock (td_clock.now_ms, in
 * td_service_options, td_audit_options and td_evidence_options): deadline and retention logic is
 * tested by setting the time, never by sleeping. The test sets or advances it; library threads
 * (order clocks, workers) may read it meanwhile, so every access is atomic. It starts at 0: a test
 * program sets its start time in main, before the first test. */
#ifndef TD_TEST_FAKE_CLOCK_H
#define TD_TEST_FAKE_CLOCK_H

#include <stdint.h>

/* The clock callback: ctx is ignored (there is one clock). Steps first when a step is set. */
int64_t fake_clock(void *ctx);

/* The time now, without a step. */
int64_t fake_clock_get(void);

void fake_clock_set(int64_t ms);
void fake_clock_advance(int64_t ms);

/* From now on every fake_clock() read advances the time by ms first (0: the clock stands still,
 * as it does unless told otherwise), for logs that need each entry a little later. */
void fake_clock_step(int64_t ms);

#endif
