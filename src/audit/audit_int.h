/* Internals shared by the audit files (and by src/evidence for the component migrations). */
#ifndef TD_AUDIT_AUDIT_INT_H
#define TD_AUDIT_AUDIT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "takedown/audit.h"
#include "takedown/store.h"

/* The perfect subtrees covering the leaves seen so far, left to right (largest first): what an
 * append-only Merkle tree needs to know to compute its root and to grow. At most 64 of them. */
typedef struct td__frontier {
    uint64_t size;
    int n;
    uint8_t level[64];
    uint8_t hash[64][TD_AUDIT_HASH_LEN];
} td__frontier;

/* Called for every perfect subtree completed by td__frontier_push: level >= 1 and index such that
 * it covers leaves [index << level, (index + 1) << level). Non-zero stops and is returned. */
typedef int (*td__frontier_fn)(void *ctx, int level, uint64_t index,
                               const uint8_t hash[TD_AUDIT_HASH_LEN]);

void td__frontier_init(td__frontier *f);
int td__frontier_push(td__frontier *f, const uint8_t leaf[TD_AUDIT_HASH_LEN], td__frontier_fn fn,
                      void *ctx);
/* The Merkle tree hash of the leaves seen (SHA-256 of nothing for an empty tree). */
void td__frontier_root(const td__frontier *f, uint8_t root[TD_AUDIT_HASH_LEN]);

/* The bytes an Ed25519 checkpoint signature covers. */
#define TD__CHECKPOINT_MSG_LEN (28 + 8 + 8 + TD_AUDIT_HASH_LEN)
void td__checkpoint_message(const td_audit_checkpoint *cp, uint8_t msg[TD__CHECKPOINT_MSG_LEN]);

/* sodium_init once per process; TD_ERR_INTERNAL if it fails. */
td_status td__sodium_ready(td_error *err);

#endif
