/* Portable distance kernels: plain C, any CPU. The compiler may or may not have a popcount
 * instruction here, so this is the slow but always-correct fallback. */
#include "kernels.h"

static unsigned dist4(const uint64_t *a, const uint64_t *b)
{
    return (unsigned)(__builtin_popcountll(a[0] ^ b[0]) + __builtin_popcountll(a[1] ^ b[1]) +
                      __builtin_popcountll(a[2] ^ b[2]) + __builtin_popcountll(a[3] ^ b[3]));
}

static size_t scan(const uint64_t *h, size_t n, const uint64_t *q, unsigned r, uint32_t *idx,
                   uint16_t *dist)
{
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = dist4(h + 4 * i, q);
        if (d <= r) {
            idx[found] = (uint32_t)i;
            dist[found++] = (uint16_t)d;
        }
    }
    return found;
}

static size_t verify(const uint64_t *h, const uint32_t *pos, size_t n, const uint64_t *q,
                     unsigned r, uint32_t *idx, uint16_t *dist)
{
    size_t found = 0;
    for (size_t j = 0; j < n; j++) {
        unsigned d = dist4(h + 4 * (size_t)pos[j], q);
        if (d <= r) {
            idx[found] = pos[j];
            dist[found++] = (uint16_t)d;
        }
    }
    return found;
}

const td__kernels td__kernels_portable = {"portable", scan, verify, dist4};
