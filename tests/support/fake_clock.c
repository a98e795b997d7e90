/* The tests' settable clock (see fake_clock.h). */
#include "support/fake_clock.h"

#include <stdatomic.h>

static _Atomic int64_t now_ms;
static _Atomic int64_t step_ms;

int64_t fake_clock(void *ctx)
{
    (void)ctx;
    int64_t step = atomic_load(&step_ms);
    if (step)
        return atomic_fetch_add(&now_ms, step) + step;
    return atomic_load(&now_ms);
}

int64_t fake_clock_get(void) { return atomic_load(&now_ms); }

void fake_clock_set(int64_t ms) { atomic_store(&now_ms, ms); }

void fake_clock_advance(int64_t ms) { atomic_fetch_add(&now_ms, ms); }

void fake_clock_step(int64_t ms) { atomic_store(&step_ms, ms); }
