/* The Hamming index for 256-bit PDQ hashes and the exact-match maps.
 *
 * td_index answers "every entry within Hamming distance r of this hash" exactly: recall is 100%
 * by construction (pigeonhole multi-index with exact verification), never by tuning. Entries are
 * (hash, 64-bit id) pairs; the same hash may appear under several ids. Queries run concurrently
 * with each other and with td_index_update: each query sees one consistent published state, never
 * half of a batch of updates. Snapshots on disk let a node start serving millions of hashes at
 * once.
 *
 * td_index_map is the exact-match counterpart for md5, sha256, URL or text keys (arbitrary
 * bytes) with the same add/remove semantics. */
#ifndef TAKEDOWN_INDEX_H
#define TAKEDOWN_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "hash_types.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_INDEX_MAX_RADIUS 63
#define TD_INDEX_DEFAULT_RADIUS 31
#define TD_INDEX_MAX_BATCH 255                 /* queries per td_index_query_batch call */
#define TD_INDEX_MAX_ENTRIES ((size_t)1 << 31) /* per index */
#define TD_INDEX_DEFAULT_MAX_RESULTS ((size_t)1 << 20)

typedef struct td_index td_index;

typedef struct td_index_options {
    /* Start a thread that merges small segments in the background (otherwise merges run inside
     * td_index_update when small, and in td_index_maintain when large). */
    int background_merge;
    /* Chunk count of the multi-index; 0 chooses from the entry count (recommended). */
    unsigned chunks;
} td_index_options;

void td_index_options_default(td_index_options *opts);

/* One match: the entry's id, its distance to the query and, for batch queries, the position of
 * the query in the batch (the td_dihedral variant for td_index_query_dihedral). */
typedef struct td_index_match {
    uint64_t id;
    uint16_t distance;
    uint8_t variant;
} td_index_match;

/* A growable result list with a hard cap; reuse it across queries to avoid allocations. */
typedef struct td_index_results {
    td_index_match *items;
    size_t count;
    size_t capacity;
    size_t max; /* more matches than this fail with TD_ERR_LIMIT */
} td_index_results;

/* max 0 means TD_INDEX_DEFAULT_MAX_RESULTS. */
void td_index_results_init(td_index_results *res, size_t max);
void td_index_results_clear(td_index_results *res);

/* An empty index. */
__attribute__((warn_unused_result)) td_status
td_index_new(td_index **out, const td_index_options *opts, td_error *err);

/* An index holding n entries (ids may be NULL: ids are then 0..n-1). */
__attribute__((warn_unused_result)) td_status td_index_build(td_index **out, const td_pdq *hashes,
                                                             const uint64_t *ids, size_t n,
                                                             const td_index_options *opts,
                                                             td_error *err);

/* Stops the background thread and frees everything; accepts NULL. No query may be running. */
void td_index_free(td_index *idx);

typedef enum td_index_op_kind { TD_INDEX_ADD = 1, TD_INDEX_REMOVE = 2 } td_index_op_kind;

typedef struct td_index_op {
    td_index_op_kind kind;
    td_pdq hash;
    uint64_t id;
} td_index_op;

/* Applies a batch atomically: a query sees all of it or none of it. REMOVE disables every live
 * entry with exactly this hash and id (absent entries are ignored); removed_count (may be NULL)
 * receives how many entries were disabled. Writers are serialised. If the call fails for lack of
 * memory, the operations before the failing one are applied (and published together). */
__attribute__((warn_unused_result)) td_status td_index_update(td_index *idx, const td_index_op *ops,
                                                              size_t n, size_t *removed_count,
                                                              td_error *err);

/* A large batch of additions built ahead, outside the index (no lock held, no index needed):
 * the work td_index_update would do under its writer lock for such a batch, done for example
 * while the same entries are being written to a store, then published at once by
 * td_index_add_prebuilt, which takes ownership of built (also on failure). Publishing fails with
 * TD_ERR_LIMIT when the index cannot take another segment now; the caller then applies the
 * batch with td_index_update. Every op must be an ADD. */
typedef struct td_index_prebuilt td_index_prebuilt;
__attribute__((warn_unused_result)) td_status
td_index_prebuild(const td_index_op *ops, size_t n, td_index_prebuilt **out, td_error *err);
__attribute__((warn_unused_result)) td_status
td_index_add_prebuilt(td_index *idx, td_index_prebuilt *built, td_error *err);
/* Frees a batch built ahead and not published; accepts NULL. */
void td_index_prebuilt_free(td_index_prebuilt *built);

/* Shorthands for a batch of one. */
__attribute__((warn_unused_result)) td_status td_index_add(td_index *idx, const td_pdq *hash,
                                                           uint64_t id, td_error *err);
__attribute__((warn_unused_result)) td_status td_index_remove(td_index *idx, const td_pdq *hash,
                                                              uint64_t id, size_t *removed_count,
                                                              td_error *err);

/* Appends every live entry within distance radius (0..TD_INDEX_MAX_RADIUS) of query to res,
 * with variant 0. Results are not sorted. */
__attribute__((warn_unused_result)) td_status td_index_query(td_index *idx, const td_pdq *query,
                                                             int radius, td_index_results *res,
                                                             td_error *err);

/* Same for nq queries (1..TD_INDEX_MAX_BATCH) against one consistent state; variant is the
 * position of the query. */
__attribute__((warn_unused_result)) td_status
td_index_query_batch(td_index *idx, const td_pdq *queries, size_t nq, int radius,
                     td_index_results *res, td_error *err);

/* The eight dihedral variants of one image (td_dihedral order); variant is the td_dihedral. */
__attribute__((warn_unused_result)) td_status
td_index_query_dihedral(td_index *idx, const td_pdq variants[TD_DIH_COUNT], int radius,
                        td_index_results *res, td_error *err);

/* Runs pending segment merges now (useful without background_merge). */
__attribute__((warn_unused_result)) td_status td_index_maintain(td_index *idx, td_error *err);

typedef struct td_index_stats {
    size_t live;       /* entries a query can match */
    size_t segments;   /* immutable multi-index segments */
    size_t delta;      /* entries in the append buffer (scanned linearly) */
    size_t bytes;      /* memory held by the current state, approximately */
    unsigned chunks;   /* chunk count of the largest segment (0: linear scan) */
    uint64_t sequence; /* published update sequence */
} td_index_stats;

void td_index_get_stats(td_index *idx, td_index_stats *stats);

/* Name of the kernel chosen at startup: "avx2" or "portable". */
const char *td_index_kernel_name(void);

/* Writes a snapshot of the live entries (temporary file, fsync, rename). */
__attribute__((warn_unused_result)) td_status td_index_save(td_index *idx, const char *path,
                                                            td_error *err);

/* Loads a snapshot (memory-mapped; the file must not be truncated while the index lives).
 * The format version, sizes, checksum and internal offsets are verified first: a truncated or
 * corrupt file fails with TD_ERR_CORRUPT and says what is wrong. */
__attribute__((warn_unused_result)) td_status
td_index_load(td_index **out, const char *path, const td_index_options *opts, td_error *err);

/* Same from bytes in memory (copied). */
__attribute__((warn_unused_result)) td_status td_index_load_memory(td_index **out, const void *data,
                                                                   size_t len,
                                                                   const td_index_options *opts,
                                                                   td_error *err);

/* ---- hash lists: one hash per line ("HEX" or "pdq HEX", anything after the hash ignored; blank
 * lines and lines starting with '#' skipped) ---- */

typedef struct td_index_hashlist_limits {
    size_t max_line;    /* bytes per line, default 4096 */
    size_t max_entries; /* hashes per list, default 100 million */
    uint64_t max_bytes; /* file size, default 16 GiB */
} td_index_hashlist_limits;

void td_index_hashlist_limits_default(td_index_hashlist_limits *limits);

/* The parsed list: hashes[i] came from 1-based line lines[i]. Free with td_index_hashlist_clear.
 */
typedef struct td_index_hashlist {
    td_pdq *hashes;
    uint64_t *lines;
    size_t count;
    size_t capacity;
} td_index_hashlist;

__attribute__((warn_unused_result)) td_status
td_index_hashlist_parse(const char *data, size_t len, const td_index_hashlist_limits *limits,
                        td_index_hashlist *out, td_error *err);
__attribute__((warn_unused_result)) td_status
td_index_hashlist_read(const char *path, const td_index_hashlist_limits *limits,
                       td_index_hashlist *out, td_error *err);
void td_index_hashlist_clear(td_index_hashlist *list);

/* ---- exact-match maps ---- */

#define TD_INDEX_MAP_MAX_KEY 4096 /* bytes */

typedef struct td_index_map td_index_map;

__attribute__((warn_unused_result)) td_status td_index_map_new(td_index_map **out, td_error *err);
void td_index_map_free(td_index_map *map);

/* Adds (key, id); adding a pair that is already present does nothing. */
__attribute__((warn_unused_result)) td_status
td_index_map_add(td_index_map *map, const void *key, size_t len, uint64_t id, td_error *err);
/* Removes (key, id); *removed (may be NULL) is 1 if it was present, else 0. */
__attribute__((warn_unused_result)) td_status td_index_map_remove(td_index_map *map,
                                                                  const void *key, size_t len,
                                                                  uint64_t id, int *removed,
                                                                  td_error *err);
/* Writes up to cap ids stored under key into ids; *count receives the total number (which may
 * exceed cap). */
__attribute__((warn_unused_result)) td_status td_index_map_find(td_index_map *map, const void *key,
                                                                size_t len, uint64_t *ids,
                                                                size_t cap, size_t *count,
                                                                td_error *err);
size_t td_index_map_size(td_index_map *map);

/* Hex digests (md5: 32 digits, sha256: 64) as keys: the hex is decoded to bytes first, so that
 * upper and lower case agree. */
__attribute__((warn_unused_result)) td_status
td_index_map_add_hex(td_index_map *map, const char *hex, uint64_t id, td_error *err);
__attribute__((warn_unused_result)) td_status td_index_map_remove_hex(td_index_map *map,
                                                                      const char *hex, uint64_t id,
                                                                      int *removed, td_error *err);
__attribute__((warn_unused_result)) td_status td_index_map_find_hex(td_index_map *map,
                                                                    const char *hex, uint64_t *ids,
                                                                    size_t cap, size_t *count,
                                                                    td_error *err);

#ifdef __cplusplus
}
#endif

#endif
