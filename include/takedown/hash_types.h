/* The hash values the hash layer computes and the index stores: the PDQ hash type, the dihedral
 * variant order, and the hex sizes of PDQ, MD5 and SHA-256. Types and constants only, so that
 * takedown/index.h needs nothing from takedown/hash.h (which includes this header). */
#ifndef TAKEDOWN_HASH_TYPES_H
#define TAKEDOWN_HASH_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TD_PDQ_HEX_LEN 64
#define TD_MD5_HEX_LEN 32
#define TD_SHA256_HEX_LEN 64

/* A 256-bit PDQ hash: bit k is bit (k & 15) of w[k >> 4]. */
typedef struct td_pdq {
    uint16_t w[16];
} td_pdq;

/* The eight dihedral variants, in the order used everywhere. */
typedef enum td_dihedral {
    TD_DIH_ORIGINAL = 0,
    TD_DIH_ROT90, /* counter-clockwise */
    TD_DIH_ROT180,
    TD_DIH_ROT270,
    TD_DIH_FLIPX,       /* top/bottom */
    TD_DIH_FLIPY,       /* mirror */
    TD_DIH_FLIP_PLUS1,  /* transpose */
    TD_DIH_FLIP_MINUS1, /* anti-transpose */
    TD_DIH_COUNT
} td_dihedral;

#ifdef __cplusplus
}
#endif

#endif
