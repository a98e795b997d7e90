/* The FAISS peer of bench_index behind a C interface (faiss_peer.cpp, or faiss_none.c when
 * FAISS is not installed). Codes are 32-byte binary vectors. */
#ifndef TD_BENCH_PEER_H
#define TD_BENCH_PEER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum peer_kind { PEER_FLAT = 0, PEER_MULTIHASH = 1 } peer_kind;

typedef struct peer peer;

/* NULL when the peer is not available. nflip is used by PEER_MULTIHASH only. */
peer *peer_new(peer_kind kind, int nflip);
const char *peer_name(peer_kind kind);
int peer_add(peer *p, const uint8_t *codes, size_t n);
/* Matches with distance <= radius for nq queries: lims has nq + 1 entries (offsets into ids,
 * which the callee allocates with malloc). Returns 0 on success. */
int peer_range(peer *p, const uint8_t *queries, size_t nq, int radius, size_t *lims, int64_t **ids);
void peer_threads(int n);
void peer_free(peer *p);

#ifdef __cplusplus
}
#endif

#endif
