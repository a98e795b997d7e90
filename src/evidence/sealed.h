/* Sealed item files (see sealed.c for the format). */
#ifndef TD_EVIDENCE_SEALED_H
#define TD_EVIDENCE_SEALED_H

#include <stddef.h>
#include <stdint.h>

#include "takedown/status.h"

#define TD__ITEM_KEY_LEN 32

/* Encrypts meta (authenticated, encrypted) and content into path, via a temporary file that is
 * synced and renamed; the directory is synced too. ad binds the file to its case and item. */
__attribute__((warn_unused_result)) td_status
td__sealed_write(const char *path, const uint8_t key[TD__ITEM_KEY_LEN], const char *ad,
                 const char *meta, size_t meta_len, const uint8_t *content, size_t len,
                 td_error *err);

/* Decrypts path: *meta (NUL-terminated) and *content in sodium_malloc'd memory (free with
 * sodium_free; *content may be NULL when empty). Content larger than max_bytes: TD_ERR_LIMIT;
 * any change to the file: TD_ERR_CORRUPT. */
__attribute__((warn_unused_result)) td_status
td__sealed_read(const char *path, const uint8_t key[TD__ITEM_KEY_LEN], const char *ad,
                uint64_t max_bytes, char **meta, size_t *meta_len, uint8_t **content, size_t *len,
                td_error *err);

#endif
