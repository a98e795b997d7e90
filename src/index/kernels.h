/* Distance kernels of the index: one table of function pointers per instruction set, chosen once
 * (td__index_kernels) so that the search code above them has no #ifdef. A hash is four uint64_t
 * words, bit k of the PDQ hash at bit (k & 63) of word k >> 6. */
#ifndef TD_INDEX_KERNELS_H
#define TD_INDEX_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct td__kernels {
    const char *name;
    /* Writes the indices i < n with popcount(h[i] ^ q) <= r (and their distances) to idx/dist,
     * which hold n entries; returns how many. */
    size_t (*scan)(const uint64_t *h, size_t n, const uint64_t *q, unsigned r, uint32_t *idx,
                   uint16_t *dist);
    /* Same for the entries h[pos[j]], j < n; idx receives pos[j]. */
    size_t (*verify)(const uint64_t *h, const uint32_t *pos, size_t n, const uint64_t *q,
                     unsigned r, uint32_t *idx, uint16_t *dist);
    unsigned (*distance)(const uint64_t *a, const uint64_t *b);
} td__kernels;

extern const td__kernels td__kernels_portable;
extern const td__kernels td__kernels_avx2;

/* The best table for this CPU (environment TD_INDEX_KERNEL=portable forces the fallback). */
const td__kernels *td__index_kernels(void);

#endif
