/* Helpers shared by the benchmark programs (see bench.h). */
#include "support/bench.h"

#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t bench_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void bench_random_pdq(uint64_t *s, td_pdq *h)
{
    for (int w = 0; w < 16; w++)
        h->w[w] = (uint16_t)bench_rand(s);
}

void bench_flip_bit(uint64_t *s, td_pdq *h)
{
    unsigned bit = (unsigned)(bench_rand(s) % 256);
    h->w[bit >> 4] ^= (uint16_t)(1u << (bit & 15));
}
