/* What the franking files share, and the deterministic forms the known-answer vectors
 * (tests/data/frank_kat.json) are made with: a key from seeds, an attachment sealed under a
 * given nonce. Not for production use: keys and nonces there come from libsodium's generator. */
#ifndef TD_FRANK_INT_H
#define TD_FRANK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "takedown/frank.h"

/* The domain of the signed bytes and of the attachment key commitment. */
#define TD__FRANK_SIGN_DOMAIN "takedown-frank-v1"
#define TD__FRANK_SIGN_DOMAIN_LEN 17
#define TD__FRANK_COMMIT_DOMAIN "takedown-attachment-key-v1"
#define TD__FRANK_COMMIT_DOMAIN_LEN 26
/* The message envelope's magic. */
#define TD__FRANK_MSG_MAGIC "tdfm1"
#define TD__FRANK_MSG_MAGIC_LEN 5

/* HMAC-SHA256 (OpenSSL) of the concatenation of n parts under a key of any length (RFC 2104):
 * the one HMAC of the module, checked against RFC 4231 by test_frank. TD_ERR_NOMEM or
 * TD_ERR_INTERNAL when OpenSSL fails (the output is then zeroed). */
__attribute__((warn_unused_result)) td_status td__frank_hmac(const uint8_t *key, size_t key_len,
                                                             const uint8_t *const *parts,
                                                             const size_t *lens, size_t n,
                                                             uint8_t out[32]);

/* libsodium's initialisation, once per process; TD_ERR_INTERNAL if it fails. */
__attribute__((warn_unused_result)) td_status td__frank_sodium(td_error *err);

/* A key made from seeds: hmac_key as given, the Ed25519 pair from sign_seed
 * (crypto_sign_seed_keypair). Same checks as td_frank_key_generate. */
__attribute__((warn_unused_result)) td_status
td__frank_key_from_seed(uint32_t id, const uint8_t hmac_key[TD_FRANK_HMAC_KEY_LEN],
                        const uint8_t sign_seed[32], int64_t now_ms, td_frank_key *out,
                        td_error *err);

/* td_frank_attachment_seal with the caller's nonce. */
__attribute__((warn_unused_result)) td_status td__frank_attachment_seal_nonce(
    const uint8_t key[TD_FRANK_ATTACH_KEY_LEN], const uint8_t nonce[TD_FRANK_ATTACH_NONCE_LEN],
    const uint8_t *plain, size_t len, uint8_t **blob, size_t *blob_len, td_error *err);

/* Checks one id of a context (1..TD_FRANK_ID_MAX bytes of UTF-8 without NUL); field names it
 * in the error. */
__attribute__((warn_unused_result)) td_status td__frank_id_check(const char *id, size_t len,
                                                                 const char *field, td_error *err);

#endif
