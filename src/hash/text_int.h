/* Internals of the raw_text signal shared by text.c (the index), text_normalize.c,
 * text_grams.c (the query's q-grams: filter, lower bound, anchors), text_distance.c (the rule
 * and the bounded edit distance) and text_blocks.c (its bit-parallel search). */
#ifndef TD_HASH_TEXT_INT_H
#define TD_HASH_TEXT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "takedown/text.h"

#define QGRAM 8 /* code points per q-gram, and per block of a known text */

/* Normalised code points (freed with td__free): bytes below 0x80 by a table, runs with other
 * bytes by libunistring with the casing context of the whole text, so the result equals
 * td__text_normalize_u32_unicode's. */
__attribute__((warn_unused_result)) td_status td__text_normalize_u32(const char *utf8, size_t len,
                                                                     uint32_t **out,
                                                                     size_t *out_len,
                                                                     td_error *err);
/* The same through libunistring over the whole text at once: the reference for tests. */
__attribute__((warn_unused_result)) td_status
td__text_normalize_u32_unicode(const char *utf8, size_t len, uint32_t **out, size_t *out_len,
                               td_error *err);

/* A text as n code points of `width` (1, 2 or 4) bytes each. */
typedef struct td__text_view {
    const void *s;
    size_t n;
    unsigned width;
} td__text_view;

/* len(a) - len(a) * 95 / 100 in Python's arithmetic: the rule's largest distance. */
double td__text_max_distance(size_t n);

/* The q-grams of one query (every window of QGRAM code points) grouped by a 32-bit key, with
 * their positions, for the distance's lower bound and anchors. Read-only once built. */
typedef struct td__text_grams td__text_grams;
__attribute__((warn_unused_result)) td_status td__text_grams_new(td__text_grams **out,
                                                                 td__text_view b, td_error *err);
void td__text_grams_free(td__text_grams *g);

/* Scratch memory of the distance computation, reused across calls of one query (capacities
 * in entries). */
struct td__text_block;
typedef struct td__text_scratch {
    int64_t *fr; /* diagonal transitions: two wavefronts */
    size_t fr_cap;
    uint32_t *hint; /* lower bounds per block of QGRAM code points */
    size_t hint_cap;
    int32_t *diag; /* the lower bound's working values per diagonal */
    size_t diag_cap;
    uint16_t *vsym, *hsym; /* bit-parallel: the two texts as symbols */
    size_t vsym_cap, hsym_cap;
    uint64_t *peq; /* bit-parallel: per block, the rows matching each symbol */
    size_t peq_cap, nsym;
    struct td__text_block *blocks;
    size_t blocks_cap;
} td__text_scratch;
void td__text_scratch_free(td__text_scratch *s);

/* Bit-parallel distance (text_blocks.c) between a vertical text v (rows) and a horizontal text
 * h (cols), code points of 1 << shift bytes, both below 2^32 long. prepare builds the match
 * table: 0 done, 1 too many distinct code points (use diagonal transitions), -1 out of memory.
 * band: the cost of an alignment found by following the cheapest block of each column with
 * `reach` blocks either side (an upper bound of the distance). exact: the distance if <= bound,
 * else bound + 1; hint (hint_len entries, or NULL) from td__text_hint, for the horizontal text.
 */
int td__text_blocks_prepare(td__text_scratch *s, const uint8_t *v, size_t rows, const uint8_t *h,
                            size_t cols, unsigned shift);
size_t td__text_blocks_band(td__text_scratch *s, size_t rows, size_t cols, size_t reach);
size_t td__text_blocks_exact(td__text_scratch *s, size_t rows, size_t cols, size_t bound,
                             const uint32_t *hint, size_t hint_len);

/* A smaller, coarser summary of the query's q-grams for a quick first filter (lookups stay in
 * cache): sketch_pass 0 proves that the rule cannot match a (threshold k), 1 says nothing. */
typedef struct td__text_sketch td__text_sketch;
__attribute__((warn_unused_result)) td_status td__text_sketch_new(td__text_sketch **out,
                                                                  td__text_view b, td_error *err);
void td__text_sketch_free(td__text_sketch *s);
int td__text_sketch_pass(const td__text_sketch *s, td__text_view a, size_t k);

/* The position in [lo, hi] of the query (g's positions) nearest to want where the q-gram of a at
 * p occurs (by key: compare to be sure), or -1. */
int64_t td__text_grams_near(const td__text_grams *g, td__text_view a, size_t p, int64_t lo,
                            int64_t hi, int64_t want);

/* Makes room for need entries of size bytes (the contents are not kept); -1 when out of
 * memory. */
int td__text_scratch_grow(void **p, size_t *cap, size_t need, size_t size);

/* hint[q] (sc->hint, a.n / QGRAM + 1 entries): a lower bound of the cost of aligning
 * a[QGRAM * q..] with any suffix of b, for alignments of a and b (m code points) of total cost
 * <= bound; g is b's table, its positions counted from pre code points before b's start. */
__attribute__((warn_unused_result)) td_status td__text_hint(const td__text_grams *g, size_t pre,
                                                            td__text_view a, size_t m, size_t bound,
                                                            td__text_scratch *sc, td_error *err);

/* Levenshtein distance of a and b (same width) if <= max, else max + 1. g: the q-gram table of b
 * (used for a lower bound that prunes the search) or NULL. Fails only when out of memory. */
__attribute__((warn_unused_result)) td_status td__text_distance(td__text_view a, td__text_view b,
                                                                size_t max, const td__text_grams *g,
                                                                td__text_scratch *s,
                                                                size_t *distance, td_error *err);

/* The raw_text rule between a known text a and a query b (same width). */
__attribute__((warn_unused_result)) td_status td__text_rule(td__text_view a, td__text_view b,
                                                            const td__text_grams *g,
                                                            td__text_scratch *s, int *match,
                                                            size_t *distance, td_error *err);

#endif
