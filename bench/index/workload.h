/* Workloads of bench_index: entries and queries (8 variants per query image). */
#ifndef TD_BENCH_WORKLOAD_H
#define TD_BENCH_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "takedown/hash.h"

typedef struct workload {
    const char *name;
    td_pdq *db;
    size_t n;
    td_pdq (*qv)[TD_DIH_COUNT]; /* qv[i][0] is query i; all 8 form its dihedral batch */
    size_t nq;
    size_t photos; /* realistic only */
} workload;

/* Random hashes, 20% of them near duplicates (5-25 bits) of earlier ones; queries half near an
 * entry (0-30 bits), half random; variants 1..7 random. */
int workload_clustered(workload *w, size_t n, size_t nq, uint64_t seed);

/* PDQ hashes of random crops and scales of the photos Debian ships (wallpaper packages); 1 in 5
 * photos is held out for the unrelated queries, whose 8 variants are true dihedral hashes. Near
 * queries are entries with 0-30 bits flipped. Cached in cache_dir (may be NULL). */
int workload_realistic(workload *w, size_t n, size_t nq, uint64_t seed, const char *cache_dir,
                       int threads);

void workload_free(workload *w);

#endif
