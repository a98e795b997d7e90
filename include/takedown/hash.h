/* PDQ (full-resolution flavour), its dihedral variants, and MD5/SHA-256 of file bytes. */
#ifndef TAKEDOWN_HASH_H
#define TAKEDOWN_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "hash_types.h"
#include "media.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* td_pdq, td_dihedral and the hex sizes TD_PDQ_HEX_LEN, TD_MD5_HEX_LEN, TD_SHA256_HEX_LEN are in
 * hash_types.h. */
#define TD_PDQ_MATCH_DISTANCE 31 /* distance <= 31 is a match */
#define TD_PDQ_MIN_QUALITY 50    /* hashes below this quality are not indexed or queried */

/* "original", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1". */
const char *td_dihedral_name(td_dihedral variant);

/* Hashes an image. hashes receives 1 hash, or TD_DIH_COUNT hashes in td_dihedral order when
 * dihedral is non-zero. Images with a side under 5 pixels hash to all zeros with quality 0. */
__attribute__((warn_unused_result)) td_status
td_pdq_hash_image(const td_image *img, int dihedral, td_pdq *hashes, int *quality, td_error *err);

/* Writes 64 lower-case hex digits and a NUL into out. */
void td_pdq_to_hex(const td_pdq *hash, char out[TD_PDQ_HEX_LEN + 1]);

/* Parses exactly 64 hex digits (either case). */
__attribute__((warn_unused_result)) td_status td_pdq_from_hex(const char *hex, size_t len,
                                                              td_pdq *out);

/* Hamming distance, 0..256. */
int td_pdq_distance(const td_pdq *a, const td_pdq *b);

/* Hex digests of a byte buffer (OpenSSL libcrypto). */
__attribute__((warn_unused_result)) td_status td_md5_hex(const uint8_t *data, size_t len,
                                                         char out[TD_MD5_HEX_LEN + 1]);
__attribute__((warn_unused_result)) td_status td_sha256_hex(const uint8_t *data, size_t len,
                                                            char out[TD_SHA256_HEX_LEN + 1]);

/* Smallest side a JPEG is reduced to by fast mode's scaled decoding (see docs/pdq.md). */
#define TD_PDQ_FAST_MIN_SIDE 128

typedef struct td_hash_options {
    td_decode_options decode;
    int dihedral; /* also compute the 8 dihedral variants */
    int fast;     /* decode JPEGs at a reduced scale (approximate hash) */
} td_hash_options;

void td_hash_options_default(td_hash_options *opts);

/* Everything takedown derives from one image file. */
typedef struct td_file_hashes {
    td_pdq pdq[TD_DIH_COUNT]; /* pdq[0] always; all 8 when options asked for dihedral */
    int n_pdq;
    int quality;
    uint32_t width, height;
    td_image_format format;
    char md5[TD_MD5_HEX_LEN + 1];
    char sha256[TD_SHA256_HEX_LEN + 1];
} td_file_hashes;

/* Reads, decodes and hashes one file. Errors name the file and the problem. */
__attribute__((warn_unused_result)) td_status
td_hash_file(const char *path, const td_hash_options *opts, td_file_hashes *out, td_error *err);

/* Same for bytes already in memory; name is used in error messages only. */
__attribute__((warn_unused_result)) td_status td_hash_bytes(const char *name, const uint8_t *data,
                                                            size_t len, const td_hash_options *opts,
                                                            td_file_hashes *out, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
