/* An immutable segment of the index: hashes, ids and a pigeonhole multi-index over them.
 *
 * The 256 bits are cut into m chunks of w_c <= 24 bits. If two hashes are within distance r, at
 * least one chunk differs in at most t = floor(r / m) bits (otherwise the distance would be at
 * least m * (t + 1) > r). So probing, in every chunk's inverted list, each key within t bits of the
 * query's chunk and verifying the full distance of what is found returns every entry within r:
 * exact by construction. Only the removal marks change after the build (see index.c). */
#ifndef TD_INDEX_SEGMENT_H
#define TD_INDEX_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#define TD__MAX_CHUNKS 32
#define TD__MIN_CHUNK_BITS 8
#define TD__MAX_CHUNK_BITS 24
#define TD__LINEAR_BELOW 2048 /* segments smaller than this are only scanned */

typedef struct td__seg {
    size_t n;
    const uint64_t *h;         /* 4 words per entry */
    const uint64_t *ids;       /* n */
    _Atomic uint64_t *removed; /* update sequence that removed the entry; 0 = live */
    unsigned m;                /* chunks; 0 = no multi-index (linear scan) */
    uint8_t start[TD__MAX_CHUNKS];
    uint8_t width[TD__MAX_CHUNKS];
    const uint32_t *off[TD__MAX_CHUNKS]; /* (1 << width) + 1 bucket offsets into pos */
    const uint32_t *pos[TD__MAX_CHUNKS]; /* n entry numbers sorted by chunk key */
    /* Ownership: heap arrays, or one read-only mapping of a snapshot. */
    uint64_t *own_h;
    uint64_t *own_ids;
    uint32_t *own_tables;
    void *map;
    size_t map_len;
    atomic_long refs;
} td__seg;

/* Receives one hit; returns non-zero to stop (with an error already recorded by the callee). */
typedef int (*td__hit_fn)(void *ctx, const td__seg *seg, uint32_t pos, unsigned dist);

/* Chunk count the build would choose for n entries (0: linear scan only). */
unsigned td__seg_choose_chunks(size_t n);

/* Fills start/width for m chunks covering 256 bits as evenly as possible. */
void td__seg_layout(unsigned m, uint8_t *start, uint8_t *width);

/* Number of uint32 words of the tables for n entries and this layout. */
size_t td__seg_table_words(size_t n, unsigned m, const uint8_t *width);

/* Builds a segment that takes ownership of h (td__aligned_array) and ids (td__mallocarray);
 * they are freed on failure too. chunks 0 chooses; m is capped so that tables stay sane. */
int td__seg_build(uint64_t *h, uint64_t *ids, size_t n, unsigned chunks, td__seg **out);

/* Fills the tables of a segment whose h, m, start and width are set. */
void td__seg_fill_tables(const uint64_t *h, size_t n, unsigned m, const uint8_t *start,
                         const uint8_t *width, uint32_t *tables);

/* Asks for transparent huge pages over the 2 MiB-aligned interior of [p, p + bytes). */
void td__advise_huge(void *p, size_t bytes);

/* Points off/pos into tables. */
void td__seg_attach_tables(td__seg *seg, const uint32_t *tables);

/* Calls hit for every entry within r of q that is visible at sequence seq. Returns non-zero if a
 * callback stopped the search. */
int td__seg_query(const td__seg *seg, const uint64_t *q, unsigned r, uint64_t seq,
                  const td__kernels *k, td__hit_fn hit, void *ctx);

/* Tests only: non-zero makes queries use the multi-index even where a scan would be cheaper. */
extern int td__index_force_mih;

static inline int td__visible(uint64_t removed, uint64_t seq)
{
    return removed == 0 || removed > seq;
}

void td__seg_ref(td__seg *seg);
void td__seg_unref(td__seg *seg);
size_t td__seg_bytes(const td__seg *seg);

/* The PDQ layout (bit k of w[k >> 4]) as four little words. */
void td__pdq_to_words(const void *pdq, uint64_t *words);

#endif
