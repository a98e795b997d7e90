/* Helpers shared by the benchmark programs: one timer and one deterministic random source, so that
 * every program measures the same way and a seed gives the same workload in each of them. */
#ifndef TD_BENCH_SUPPORT_H
#define TD_BENCH_SUPPORT_H

#include <stdint.h>

#include "takedown/hash.h"

/* Seconds on the monotonic clock: for intervals only. */
double bench_now(void);

/* xorshift64*: the next number of the sequence state (not zero) starts. */
uint64_t bench_rand(uint64_t *state);

/* A random PDQ hash: one bench_rand draw for each of its 16 words. */
void bench_random_pdq(uint64_t *state, td_pdq *h);

/* Flips one random bit of h (a later call may draw the same bit again). */
void bench_flip_bit(uint64_t *state, td_pdq *h);

#endif
