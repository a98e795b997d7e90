/* Message franking for end-to-end encrypted messaging (DOMAIN.md section 6, docs/e2ee.md): the
 * sender's franking tag, the server's frank over the tag and the delivery context, its Ed25519
 * signature, the verification of a reported message, and attachment commitments that keep one
 * ciphertext from opening to two files ("invisible salamanders").
 *
 * Who computes what:
 *  - sender (client):  salt = 16 random bytes; tag = HMAC-SHA256(key = salt, message), where
 *                      message is the exact franked bytes (td_frank_message_encode for a message
 *                      with attachments; any bytes for td_frank_tag itself);
 *  - server (delivery): frank = HMAC-SHA256(key = the key's hmac secret, tag || context), with
 *                      context = td_frank_context_encode (length-prefixed sender and
 *                      conversation, big-endian accepted time); signature = Ed25519 over
 *                      td_frank_signed_encode (domain, key id, frank, tag, context). Nothing is
 *                      stored per message: verification recomputes;
 *  - report (service): recomputes the tag from the reported message and salt, the frank from the
 *                      tag and context under the named key (constant-time comparison), and checks
 *                      the signature. A destroyed key verifies nothing (crypto-shredding).
 *
 * This module is pure computation (libsodium for Ed25519 and comparisons, OpenSSL libcrypto for
 * HMAC-SHA256 and AES-256-GCM): keys are held by the caller (the key ring below, persisted by
 * reports.h). Every function is thread-safe; the key ring takes its own lock. */
#ifndef TAKEDOWN_FRANK_H
#define TAKEDOWN_FRANK_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_FRANK_SALT_LEN 16
#define TD_FRANK_TAG_LEN 32
#define TD_FRANK_LEN 32
#define TD_FRANK_SIG_LEN 64
#define TD_FRANK_PUBKEY_LEN 32
#define TD_FRANK_HMAC_KEY_LEN 32
#define TD_FRANK_SIGN_SECRET_LEN 64
#define TD_FRANK_ID_MAX 256 /* bytes of a sender or conversation id (UTF-8, no NUL) */
/* The canonical context: two 4-byte lengths, the ids, the 8-byte time. */
#define TD_FRANK_CONTEXT_MAX (4 + TD_FRANK_ID_MAX + 4 + TD_FRANK_ID_MAX + 8)
/* The signed bytes: "takedown-frank-v1" (17) || key id (4) || frank || tag || context. */
#define TD_FRANK_SIGNED_MAX (17 + 4 + TD_FRANK_LEN + TD_FRANK_TAG_LEN + TD_FRANK_CONTEXT_MAX)

/* ---- sender side ---- */

/* tag = HMAC-SHA256(key = salt, message); len may be 0 (msg may then be NULL). */
void td_frank_tag(const uint8_t salt[TD_FRANK_SALT_LEN], const uint8_t *msg, size_t len,
                  uint8_t tag[TD_FRANK_TAG_LEN]);

/* ---- the delivery context ---- */

typedef struct td_frank_context {
    const char *sender; /* the sender's account id at the service */
    size_t sender_len;  /* 1..TD_FRANK_ID_MAX */
    const char *conversation;
    size_t conversation_len; /* 1..TD_FRANK_ID_MAX */
    int64_t accepted_ms;     /* when the server accepted the message, >= 0 */
} td_frank_context;

/* Canonical encoding: u32be(sender_len) || sender || u32be(conversation_len) || conversation ||
 * u64be(accepted_ms). Empty or over-long ids, a NUL byte or invalid UTF-8 in them, or a
 * negative time: TD_ERR_INVALID naming the field. out holds TD_FRANK_CONTEXT_MAX bytes. */
__attribute__((warn_unused_result)) td_status
td_frank_context_encode(const td_frank_context *ctx, uint8_t out[TD_FRANK_CONTEXT_MAX], size_t *len,
                        td_error *err);

/* ---- server keys ---- */

/* One server key. It is secret: wipe it with td_frank_key_wipe when done. */
typedef struct td_frank_key {
    uint32_t id;                                   /* 1.. (0 is never a key) */
    uint8_t hmac_key[TD_FRANK_HMAC_KEY_LEN];       /* the frank's HMAC key */
    uint8_t sign_secret[TD_FRANK_SIGN_SECRET_LEN]; /* Ed25519 secret key (libsodium form) */
    uint8_t sign_public[TD_FRANK_PUBKEY_LEN];      /* Ed25519 public key */
    int64_t created_ms;
    int64_t retired_ms; /* 0 while it franks new messages; after: verifies only */
    int64_t destroy_ms; /* when its secrets are destroyed (retired_ms + retention); 0: unset */
    int destroyed;      /* secrets wiped: its franks no longer verify */
} td_frank_key;

/* A fresh random key (libsodium's generator) with the given id, created now_ms. */
__attribute__((warn_unused_result)) td_status
td_frank_key_generate(uint32_t id, int64_t now_ms, td_frank_key *out, td_error *err);
/* Zeroes the secrets (sodium_memzero) and sets destroyed; id, public key and times are kept. */
void td_frank_key_wipe(td_frank_key *key);

/* The server's answer at delivery. */
typedef struct td_frank_proof {
    uint32_t key_id;
    uint8_t frank[TD_FRANK_LEN];
    uint8_t signature[TD_FRANK_SIG_LEN];
} td_frank_proof;

/* The bytes the signature covers: "takedown-frank-v1" || u32be(key_id) || frank || tag ||
 * context encoding. out holds TD_FRANK_SIGNED_MAX bytes. */
__attribute__((warn_unused_result)) td_status
td_frank_signed_encode(uint32_t key_id, const uint8_t frank[TD_FRANK_LEN],
                       const uint8_t tag[TD_FRANK_TAG_LEN], const td_frank_context *ctx,
                       uint8_t out[TD_FRANK_SIGNED_MAX], size_t *len, td_error *err);

/* Franks a tag in its context under key: frank and signature. A destroyed or retired key:
 * TD_ERR_INVALID (retired keys only verify). */
__attribute__((warn_unused_result)) td_status td_frank_issue(const td_frank_key *key,
                                                             const uint8_t tag[TD_FRANK_TAG_LEN],
                                                             const td_frank_context *ctx,
                                                             td_frank_proof *out, td_error *err);

/* Why a verification failed (td_frank_verify's *why; TD_FRANK_OK on success). */
typedef enum td_frank_failure {
    TD_FRANK_OK = 0,
    TD_FRANK_BAD_INPUT = 1,     /* malformed context (err names the field) */
    TD_FRANK_KEY_UNKNOWN = 2,   /* no key with that id */
    TD_FRANK_KEY_DESTROYED = 3, /* the key's retention ended: nothing it franked verifies */
    TD_FRANK_MISMATCH = 4,      /* message, salt or context differ from what was franked */
    TD_FRANK_BAD_SIGNATURE = 5  /* the frank is right but the signature is not the key's */
} td_frank_failure;

const char *td_frank_failure_name(td_frank_failure why); /* "ok", "bad_input", "key_unknown",
                                                            "key_destroyed", "mismatch",
                                                            "bad_signature" */

/* Verifies a reported message: recomputes the tag from msg and salt, then the frank under key
 * (constant-time comparison), then the signature. TD_OK when authentic; otherwise
 * TD_ERR_INVALID with *why (may be NULL) saying which check failed. */
__attribute__((warn_unused_result)) td_status
td_frank_verify(const td_frank_key *key, const uint8_t salt[TD_FRANK_SALT_LEN], const uint8_t *msg,
                size_t len, const td_frank_context *ctx, const td_frank_proof *proof,
                td_frank_failure *why, td_error *err);

/* What a client or a peer can check with the published public key only: that the server signed
 * this frank for this tag and context. TD_OK or TD_ERR_INVALID. */
__attribute__((warn_unused_result)) td_status
td_frank_verify_signature(const uint8_t pub[TD_FRANK_PUBKEY_LEN],
                          const uint8_t tag[TD_FRANK_TAG_LEN], const td_frank_context *ctx,
                          const td_frank_proof *proof, td_error *err);

/* ---- the key ring: current key, retired keys within retention, destroyed keys ---- */

typedef struct td_frank_keyring td_frank_keyring;

#define TD_FRANK_KEYS_MAX 4096

__attribute__((warn_unused_result)) td_status td_frank_keyring_new(td_frank_keyring **out,
                                                                   td_error *err);
/* Wipes every secret it holds; accepts NULL. */
void td_frank_keyring_free(td_frank_keyring *ring);
/* Adds (a copy of) key, or replaces the key with its id. More than TD_FRANK_KEYS_MAX:
 * TD_ERR_LIMIT. The newest key that is neither retired nor destroyed is the current one. A
 * destroyed key stays destroyed: its id put again with destroyed unset is TD_ERR_CONFLICT. */
__attribute__((warn_unused_result)) td_status
td_frank_keyring_put(td_frank_keyring *ring, const td_frank_key *key, td_error *err);
/* A copy of the key with id (TD_ERR_NOT_FOUND) or of the current key (id 0; none:
 * TD_ERR_NOT_FOUND). Wipe the copy when done. */
__attribute__((warn_unused_result)) td_status
td_frank_keyring_get(td_frank_keyring *ring, uint32_t id, td_frank_key *out, td_error *err);
/* Franks with the current key (td_frank_issue), without copying it out. */
__attribute__((warn_unused_result)) td_status
td_frank_keyring_issue(td_frank_keyring *ring, const uint8_t tag[TD_FRANK_TAG_LEN],
                       const td_frank_context *ctx, td_frank_proof *out, td_error *err);
/* Verifies with the key the proof names (td_frank_verify; an unknown id is
 * TD_FRANK_KEY_UNKNOWN). */
__attribute__((warn_unused_result)) td_status
td_frank_keyring_verify(td_frank_keyring *ring, const uint8_t salt[TD_FRANK_SALT_LEN],
                        const uint8_t *msg, size_t len, const td_frank_context *ctx,
                        const td_frank_proof *proof, td_frank_failure *why, td_error *err);
/* The public part of every key (secrets zeroed), oldest first; free *out with td_free. */
__attribute__((warn_unused_result)) td_status
td_frank_keyring_list(td_frank_keyring *ring, td_frank_key **out, size_t *count, td_error *err);

/* ---- messages with attachments ---- */

/* An attachment travels encrypted: blob = nonce (12) || AES-256-GCM ciphertext || tag (16),
 * under a fresh 32-byte key. The franked message commits to the blob's SHA-256 and to
 * key_commitment = SHA-256("takedown-attachment-key-v1" || key). */
#define TD_FRANK_ATTACH_KEY_LEN 32
#define TD_FRANK_ATTACH_NONCE_LEN 12
#define TD_FRANK_ATTACH_TAG_LEN 16
#define TD_FRANK_ATTACH_MAX 16              /* attachments per message */
#define TD_FRANK_TEXT_MAX ((size_t)1 << 20) /* bytes of a message's text */

typedef struct td_frank_attachment_ref {
    uint8_t blob_sha256[32];
    uint8_t key_commitment[32];
} td_frank_attachment_ref;

void td_frank_key_commitment(const uint8_t key[TD_FRANK_ATTACH_KEY_LEN], uint8_t out[32]);

/* The franked bytes of a message: "tdfm1" || u32be(text_len) || text || u32be(n) ||
 * n x (blob_sha256 || key_commitment). text must be valid UTF-8 of at most TD_FRANK_TEXT_MAX
 * bytes; n at most TD_FRANK_ATTACH_MAX. *out is freed with td_free. */
__attribute__((warn_unused_result)) td_status
td_frank_message_encode(const char *text, size_t text_len, const td_frank_attachment_ref *refs,
                        size_t n, uint8_t **out, size_t *len, td_error *err);
/* The inverse, for a reported message: bounded, every length checked. *text (NUL-terminated)
 * and *refs are freed with td_free. */
__attribute__((warn_unused_result)) td_status
td_frank_message_decode(const uint8_t *msg, size_t len, char **text, size_t *text_len,
                        td_frank_attachment_ref **refs, size_t *n, td_error *err);

/* Encrypts plain under key with a random nonce into a blob (for clients, tests and examples);
 * *blob freed with td_free. */
__attribute__((warn_unused_result)) td_status
td_frank_attachment_seal(const uint8_t key[TD_FRANK_ATTACH_KEY_LEN], const uint8_t *plain,
                         size_t len, uint8_t **blob, size_t *blob_len, td_error *err);
/* Checks a reported attachment against its reference: SHA-256(blob) equals blob_sha256, the
 * key's commitment equals key_commitment, and the blob decrypts and authenticates under key;
 * the plaintext goes to *plain (freed with td_free). Any mismatch: TD_ERR_INVALID saying which
 * (hash, key commitment, authentication). */
__attribute__((warn_unused_result)) td_status
td_frank_attachment_open(const td_frank_attachment_ref *ref,
                         const uint8_t key[TD_FRANK_ATTACH_KEY_LEN], const uint8_t *blob,
                         size_t blob_len, uint8_t **plain, size_t *plain_len, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
