/* Encrypted delivery packages: the data produced for an evidence order, delivered to the
 * recipient authority encrypted to its X25519 public key and signed by the operator (Ed25519).
 * The file format is specified in docs/evidence-package.md so that an authority can write an
 * independent reader.
 *
 * A package is one file: a header holding a random 32-byte stream key sealed to the recipient
 * (crypto_box_seal), then one XChaCha20-Poly1305 secretstream: each record (a name, a category, a
 * content type, its bytes in chunks of at most 64 KiB, its size and SHA-256), and, as the final
 * message (TAG_FINAL), the manifest: JSON listing every record with its SHA-256, the caller's
 * "extra" object (order id, categories, the audit inclusion proof...), and an Ed25519 signature
 * over the exact manifest bytes. A flipped bit, a truncation, a reordering, data appended after
 * the end, a manifest signed by another key, or a record that does not match the manifest is
 * detected and reported precisely by td_package_open.
 *
 * Memory stays constant whatever the size of the records (both ways stream); keys are wiped. The
 * library never prints. */
#ifndef TAKEDOWN_EVIDENCE_PACKAGE_H
#define TAKEDOWN_EVIDENCE_PACKAGE_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_PACKAGE_X25519_KEY_LEN 32 /* recipient public and secret keys */
#define TD_PACKAGE_SIGN_PK_LEN 32    /* Ed25519 public key */
#define TD_PACKAGE_SIGN_SK_LEN 64    /* Ed25519 secret key (libsodium's seed || public key) */
#define TD_PACKAGE_SHA256_HEX_LEN 64
#define TD_PACKAGE_ID_HEX_LEN 32 /* 16 random bytes naming the package */

/* Plaintext bytes per data message: the default, and the range a writer accepts and a reader
 * believes from a header. */
#define TD_PACKAGE_CHUNK_DEFAULT ((size_t)64 * 1024)
#define TD_PACKAGE_CHUNK_MIN ((size_t)1024)
#define TD_PACKAGE_CHUNK_MAX ((size_t)1024 * 1024)

/* Limits, enforced by the writer on its arguments and by the reader on the untrusted file. */
#define TD_PACKAGE_NAME_MAX 128            /* record names: 1..128 of [A-Za-z0-9._+-], see below */
#define TD_PACKAGE_CATEGORY_MAX 64         /* printable ASCII, 1..64 bytes */
#define TD_PACKAGE_CONTENT_TYPE_MAX 255    /* printable ASCII, 1..255 bytes */
#define TD_PACKAGE_KEY_ID_MAX 255          /* signer key id: printable ASCII, 1..255 bytes */
#define TD_PACKAGE_RECORDS_MAX 10000       /* records per package */
#define TD_PACKAGE_META_MAX (64 * 1024)    /* one record's meta JSON */
#define TD_PACKAGE_EXTRA_MAX (1024 * 1024) /* the manifest's extra JSON */
#define TD_PACKAGE_MANIFEST_MAX (8 * 1024 * 1024) /* the whole manifest */
#define TD_PACKAGE_CREATED_LEN 24                 /* "2026-12-01T09:00:00.000Z" */

/* ---- writing ---- */

typedef struct td_package_writer td_package_writer;

typedef struct td_package_options {
    td_clock clock;    /* the manifest's "created"; {NULL}: the system clock */
    size_t chunk_size; /* data message size; 0: TD_PACKAGE_CHUNK_DEFAULT */
} td_package_options;

/* One record: as written (td_package_records) or as read (td_package_report). */
typedef struct td_package_record {
    char name[TD_PACKAGE_NAME_MAX + 1];
    char category[TD_PACKAGE_CATEGORY_MAX + 1];
    char content_type[TD_PACKAGE_CONTENT_TYPE_MAX + 1];
    uint64_t size;
    char sha256[TD_PACKAGE_SHA256_HEX_LEN + 1]; /* of the plaintext, lowercase hex */
} td_package_record;

/* Starts a package at path (written to "<path>.tmp", created exclusively, mode 0600; path itself
 * must not exist): a fresh random stream key sealed to recipient_pk, records signed at the end
 * with signer_sk under signer_key_id (printable ASCII, how the recipient finds the operator's
 * public key). The signer key is copied into guarded memory; the caller may wipe its own copy.
 * opts may be NULL. Existing path: TD_ERR_CONFLICT. */
__attribute__((warn_unused_result)) td_status
td_package_create(const char *path, const uint8_t recipient_pk[TD_PACKAGE_X25519_KEY_LEN],
                  const uint8_t signer_sk[TD_PACKAGE_SIGN_SK_LEN], const char *signer_key_id,
                  const td_package_options *opts, td_package_writer **out, td_error *err);

/* Starts a record. name: 1..TD_PACKAGE_NAME_MAX bytes of A-Z a-z 0-9 . _ + -, not starting with
 * '.', without "..", unique in the package ignoring case (it becomes a file name at the
 * recipient); category and content_type: printable ASCII (content_type NULL:
 * "application/octet-stream"); meta_json: a JSON object of at most TD_PACKAGE_META_MAX bytes
 * copied into the manifest, or NULL. A refused argument (TD_ERR_INVALID, TD_ERR_LIMIT,
 * TD_ERR_CONFLICT for a name taken) leaves the writer as it was. TD_ERR_INVALID too when a record
 * is already open. */
__attribute__((warn_unused_result)) td_status
td_package_record_begin(td_package_writer *w, const char *name, const char *category,
                        const char *content_type, const char *meta_json, td_error *err);

/* Appends len bytes to the open record: any number of calls, any sizes (len 0 is fine). The bytes
 * are encrypted in fixed-size chunks as they fill; nothing holds the whole record. */
__attribute__((warn_unused_result)) td_status
td_package_record_write(td_package_writer *w, const void *buf, size_t len, td_error *err);

/* Ends the open record; sha256_hex (may be NULL) receives the SHA-256 of its plaintext, computed
 * while streaming. */
__attribute__((warn_unused_result)) td_status
td_package_record_end(td_package_writer *w, char sha256_hex[TD_PACKAGE_SHA256_HEX_LEN + 1],
                      td_error *err);

/* The records ended so far, in order (*count of them; NULL when none). The array belongs to w and
 * stays valid until the next call on w: copy what you need (e.g. for the audit entry written
 * before td_package_finish). */
const td_package_record *td_package_records(const td_package_writer *w, size_t *count);

/* Writes the manifest, signed, as the final message, then syncs the file, renames it to path
 * (never replacing a file there) and syncs the directory. manifest_extra_json: a JSON object of at
 * most TD_PACKAGE_EXTRA_MAX bytes (NULL: {}), kept as the manifest's "extra" member.
 * manifest_sha256 (may be NULL) receives the SHA-256 of the exact manifest bytes (what the
 * signature covers, after its context string; see docs/evidence-package.md). A record still open
 * (TD_ERR_INVALID) or a refused extra (TD_ERR_INVALID, TD_ERR_LIMIT) leaves w usable. Otherwise w
 * is consumed whatever the outcome: on failure the temporary file is removed and nothing is at
 * path. */
__attribute__((warn_unused_result)) td_status
td_package_finish(td_package_writer *w, const char *manifest_extra_json,
                  char manifest_sha256[TD_PACKAGE_SHA256_HEX_LEN + 1], td_error *err);

/* Abandons the package: removes the temporary file, wipes the keys, frees w. Accepts NULL.
 * After a failed write (TD_ERR_IO, TD_ERR_NOSPACE, TD_ERR_NOMEM, TD_ERR_INTERNAL) the writer only
 * accepts this call (the others repeat the failure). */
void td_package_abort(td_package_writer *w);

/* ---- opening ---- */

/* What td_package_open found, the first problem only. Names from td_package_problem_name. */
typedef enum td_package_problem {
    TD_PACKAGE_VERIFIED = 0,      /* "verified": every check passed */
    TD_PACKAGE_NOT_PACKAGE,       /* "not_a_package": no package magic */
    TD_PACKAGE_UNSUPPORTED,       /* "unsupported": version, flags or chunk size not understood */
    TD_PACKAGE_WRONG_KEY,         /* "wrong_key": the sealed stream key does not open with this
                                     secret key (another recipient's package, or the key block
                                     was altered) */
    TD_PACKAGE_ALTERED,           /* "altered": a message fails authentication (flipped bits,
                                     reordered, swapped or spliced chunks, a changed header) */
    TD_PACKAGE_TRUNCATED,         /* "truncated": the file ends before the final message */
    TD_PACKAGE_NO_FINAL,          /* "missing_final": the manifest is not the TAG_FINAL message,
                                     or another message carries TAG_FINAL */
    TD_PACKAGE_TRAILING_DATA,     /* "trailing_data": bytes after the final message */
    TD_PACKAGE_MALFORMED,         /* "malformed": authenticated content that breaks the format
                                     (unknown message kind, data outside a record...) */
    TD_PACKAGE_BAD_MANIFEST,      /* "bad_manifest": manifest not valid JSON of the format, or
                                     naming another package or recipient */
    TD_PACKAGE_SIGNATURE_INVALID, /* "signature_invalid": not signed by the expected signer */
    TD_PACKAGE_HASH_MISMATCH,     /* "hash_mismatch": a record's bytes do not match its SHA-256
                                     or size in the manifest */
    TD_PACKAGE_RECORD_MISSING,    /* "record_missing": in the manifest, not in the file */
    TD_PACKAGE_RECORD_EXTRA,      /* "record_extra": in the file, not in the manifest */
    TD_PACKAGE_UNSAFE_NAME,       /* "unsafe_name": a record name that could escape out_dir, or
                                     a duplicate */
    TD_PACKAGE_LIMIT,             /* "limit": a size or count over the limits above */
    TD_PACKAGE_IO_FAILED          /* "io_failed": reading the package or writing into out_dir
                                     failed, or memory ran out (not the package's fault) */
} td_package_problem;

const char *td_package_problem_name(td_package_problem problem);

typedef struct td_package_report {
    td_package_problem problem;
    /* 1 when the signature was verified against expected_signer_pk; 0 when the caller gave no
     * key: the package is then intact but its origin is NOT established. */
    int signature_checked;
    /* Where the problem lies, when it has a place in the file (else -1 / 0): the message's index
     * (0-based, in file order), the file offset of its frame, the record it belongs to (0-based)
     * and the offset of its first byte within that record's plaintext. */
    int64_t message;
    uint64_t file_offset;
    int64_t record;
    uint64_t record_offset;
    /* What the package says; complete only when problem is TD_PACKAGE_VERIFIED. */
    char package_id[TD_PACKAGE_ID_HEX_LEN + 1];
    char created[TD_PACKAGE_CREATED_LEN + 1];
    char signer_key_id[TD_PACKAGE_KEY_ID_MAX + 1];
    char manifest_sha256[TD_PACKAGE_SHA256_HEX_LEN + 1];
    td_package_record *records; /* in file order */
    size_t n_records;
    uint64_t total_bytes; /* sum of the records' sizes */
    char *manifest;       /* the exact signed manifest bytes, NUL-terminated */
    size_t manifest_len;
} td_package_report;

/* Frees what a report holds (records, manifest) and zeroes it. Accepts NULL. */
void td_package_report_clear(td_package_report *report);

/* Opens the package at path with the recipient's X25519 secret key: decrypts record by record
 * into out_dir (created 0700 if missing; NULL: verify only, nothing written), checks each
 * record's SHA-256 and size against the signed manifest and the signature against
 * expected_signer_pk (NULL: not checked, report->signature_checked = 0).
 *
 * Files in out_dir: records/<name> for each record (names are checked, never used as paths
 * unchecked; files are created exclusively: an existing one is TD_ERR_CONFLICT), manifest.json
 * (the exact signed bytes) and manifest.sig (the signature, 128 hex digits and a newline). While
 * the package is read, records are written as records/.partial-<index>; they get their names
 * only once everything verified. On any failure every file this call created is removed (a
 * process killed midway leaves only ".partial-" files).
 *
 * Returns TD_OK only when report->problem is TD_PACKAGE_VERIFIED. Otherwise report->problem says
 * what, report's place fields where, and err the same in words: TD_ERR_CORRUPT for anything
 * wrong in the package (wrong key included), TD_ERR_UNSUPPORTED, TD_ERR_LIMIT, TD_ERR_NOT_FOUND
 * (no such file), TD_ERR_IO / TD_ERR_NOSPACE / TD_ERR_CONFLICT (an output file exists) /
 * TD_ERR_NOMEM (problem TD_PACKAGE_IO_FAILED). report is always
 * filled; clear it with td_package_report_clear. */
__attribute__((warn_unused_result)) td_status
td_package_open(const char *path, const uint8_t recipient_sk[TD_PACKAGE_X25519_KEY_LEN],
                const uint8_t *expected_signer_pk, const char *out_dir, td_package_report *report,
                td_error *err);

/* A new recipient key pair (X25519), for an authority: sk (wipe it when done) and pk. */
__attribute__((warn_unused_result)) td_status
td_package_keygen(uint8_t pk[TD_PACKAGE_X25519_KEY_LEN], uint8_t sk[TD_PACKAGE_X25519_KEY_LEN],
                  td_error *err);

/* The public key of a recipient's secret key (to show it, or check a key file). */
void td_package_public_key(const uint8_t sk[TD_PACKAGE_X25519_KEY_LEN],
                           uint8_t pk[TD_PACKAGE_X25519_KEY_LEN]);

#ifdef __cplusplus
}
#endif

#endif
