/* Inside the delivery package: the format's constants (docs/evidence-package.md is their
 * specification, this header and the two files that use it are one implementation) and the helpers
 * the writer (package_write.c), the reader (package_open.c) and the fuzz harness share
 * (package_format.c). */
#ifndef TD_EVIDENCE_PACKAGE_INT_H
#define TD_EVIDENCE_PACKAGE_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "takedown/evidence_package.h"

/* The fixed header: magic, version, flags, chunk size, package id, sealed key, stream header. */
#define TD__PKG_MAGIC "TDEVPKG" /* and a zero byte: 8 bytes */
#define TD__PKG_MAGIC_LEN 8
#define TD__PKG_VERSION 1
#define TD__PKG_ID_LEN 16
#define TD__PKG_KEY_LEN crypto_secretstream_xchacha20poly1305_KEYBYTES
#define TD__PKG_SEALED_LEN (TD__PKG_KEY_LEN + crypto_box_SEALBYTES)                 /* 80 */
#define TD__PKG_STREAM_HEADER_LEN crypto_secretstream_xchacha20poly1305_HEADERBYTES /* 24 */
#define TD__PKG_OFF_VERSION 8
#define TD__PKG_OFF_FLAGS 10
#define TD__PKG_OFF_CHUNK 12
#define TD__PKG_OFF_ID 16
#define TD__PKG_OFF_SEALED 32
#define TD__PKG_OFF_STREAM 112
#define TD__PKG_HEADER_LEN 136

/* Every message: kind (1 byte) | ciphertext length (be32) | ciphertext. The kind is also the
 * message's additional data (after the whole header for message 0), so it is authenticated. */
#define TD__PKG_FRAME_LEN 5
#define TD__PKG_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES /* 17 */
#define TD__PKG_KIND_RECORD 'R'
#define TD__PKG_KIND_DATA 'D'
#define TD__PKG_KIND_END 'E'
#define TD__PKG_KIND_MANIFEST 'M'

/* Plaintext sizes. RECORD: be32 index, then three (be16 length, bytes) strings: name, category,
 * content type. END: be64 size, 32-byte SHA-256. MANIFEST: be32 length, manifest, signature. */
#define TD__PKG_RECORD_MIN (4 + 3 * 2)
#define TD__PKG_RECORD_MAX                                                                         \
    (TD__PKG_RECORD_MIN + TD_PACKAGE_NAME_MAX + TD_PACKAGE_CATEGORY_MAX +                          \
     TD_PACKAGE_CONTENT_TYPE_MAX)
#define TD__PKG_END_LEN (8 + 32)
#define TD__PKG_SIG_LEN crypto_sign_BYTES /* 64 */
#define TD__PKG_MANIFEST_OVERHEAD (4 + TD__PKG_SIG_LEN)

/* The signature covers this context string, its terminating zero byte, then the manifest. */
#define TD__PKG_SIGN_CONTEXT "takedown evidence package manifest v1"
#define TD__PKG_SIGN_CONTEXT_LEN (sizeof TD__PKG_SIGN_CONTEXT) /* with the zero byte: 38 */

#define TD__PKG_FORMAT_NAME "takedown-evidence-package"

static inline void td__pkg_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void td__pkg_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void td__pkg_put64(uint8_t *p, uint64_t v)
{
    td__pkg_put32(p, (uint32_t)(v >> 32));
    td__pkg_put32(p + 4, (uint32_t)v);
}
static inline uint16_t td__pkg_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t td__pkg_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t td__pkg_get64(const uint8_t *p)
{
    return (uint64_t)td__pkg_get32(p) << 32 | td__pkg_get32(p + 4);
}

/* ---- package_format.c ---- */

/* sodium_init once; TD_ERR_INTERNAL if it fails. */
td_status td__pkg_sodium(td_error *err);

/* The record name rule (1..TD_PACKAGE_NAME_MAX of A-Z a-z 0-9 . _ + -, no leading '.', no ".."):
 * what both sides check, so that a name can become a file name. */
int td__pkg_name_ok(const char *s, size_t n);
/* Printable ASCII (0x20..0x7e), 1..max bytes. */
int td__pkg_text_ok(const char *s, size_t n, size_t max);

/* Names already used in a package, ignoring ASCII case (open addressing, at most
 * TD_PACKAGE_RECORDS_MAX). */
typedef struct td__pkg_names {
    uint32_t *slots; /* record index + 1, 0 = empty */
    size_t cap;      /* a power of two, twice TD_PACKAGE_RECORDS_MAX */
} td__pkg_names;
td_status td__pkg_names_init(td__pkg_names *set, td_error *err);
void td__pkg_names_free(td__pkg_names *set);
/* Adds records[index].name; 0 if added, 1 if a name equal ignoring case is there already. */
int td__pkg_names_add(td__pkg_names *set, const td_package_record *records, uint32_t index);
/* The index of the record whose name equals name ignoring case, or -1. */
long td__pkg_names_find(const td__pkg_names *set, const td_package_record *records,
                        const char *name);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" of a time in ms since the epoch (UTC). */
void td__pkg_format_time(int64_t ms, char out[TD_PACKAGE_CREATED_LEN + 1]);

/* Writes or reads n bytes whatever the interruptions: 0, or -1 with errno (0 at end of file for
 * a read that found fewer bytes; *got says how many). */
int td__pkg_write_all(int fd, const uint8_t *p, size_t n);
int td__pkg_read_full(int fd, uint8_t *p, size_t n, size_t *got);

/* Plaintext handled per batch: the writer's buffer and the reader's, each hashed on the
 * hasher's thread while the caller's thread seals or opens the next. A multiple of the chunk. */
#define TD__PKG_BATCH ((size_t)1024 * 1024)
/* The reader's input buffer: large reads, and room for any message but the manifest (a data
 * message of the largest chunk and its frame) whatever is left of the previous read. */
#define TD__PKG_IN_MAX (TD_PACKAGE_CHUNK_MAX + TD__PKG_ABYTES)
#define TD__PKG_IN_CAP (TD__PKG_BATCH + TD__PKG_IN_MAX)
/* The reader's batches: decrypted into one while the hasher works through the others. */
#define TD__PKG_READ_BATCHES 4
static inline size_t td__pkg_batch(size_t chunk)
{
    return chunk >= TD__PKG_BATCH ? chunk : TD__PKG_BATCH / chunk * chunk;
}

/* ---- package_hash.c ---- */

/* Jobs queued at most: the reader's batches in flight (TD__PKG_READ_BATCHES) fit. */
#define TD__PKG_HASH_JOBS 8

typedef struct td__pkg_hash_job {
    const uint8_t *p;
    size_t n;
} td__pkg_hash_job;

/* SHA-256 on a second thread, fed with jobs (ranges of memory) in order. */
typedef struct td__pkg_hasher {
    EVP_MD_CTX *md;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work;                      /* the thread waits for a piece to take */
    pthread_cond_t progress;                  /* callers wait for jobs to be done */
    td__pkg_hash_job jobs[TD__PKG_HASH_JOBS]; /* job k (from 0) in jobs[k % TD__PKG_HASH_JOBS] */
    uint64_t posted, done;                    /* jobs posted and jobs done since init */
    size_t head_off;                          /* bytes of the oldest job not done that were taken */
    int hashing;                              /* someone holds the chain (hashes a piece) */
    int stop;                                 /* the thread is asked to end */
    int threaded;          /* the thread runs; else jobs are hashed when posted */
    int tried;             /* the thread was started (or failed to start) */
    uint64_t inline_bytes; /* hashed on the caller's thread before the thread started */
    int failed;            /* an OpenSSL call failed since the last reset */
    int ready;             /* initialised */
} td__pkg_hasher;

td_status td__pkg_hasher_init(td__pkg_hasher *h, td_error *err);
/* Ends the thread (after its piece) and frees; accepts a zeroed or freed hasher. */
void td__pkg_hasher_free(td__pkg_hasher *h);
/* Starts a new SHA-256 (once every job is done); -1 on failure. */
int td__pkg_hasher_reset(td__pkg_hasher *h);
/* Queues n bytes at p to be hashed next (waiting for a free slot if TD__PKG_HASH_JOBS are
 * queued) and returns at once with the job's number (1, 2, ...; n = 0 queues nothing and gives
 * the last job's). p must stay unchanged until that job is done (td__pkg_hasher_wait_done). */
uint64_t td__pkg_hasher_post(td__pkg_hasher *h, const uint8_t *p, size_t n);
/* Returns once jobs 1..job are done (hashing some itself rather than sleeping when it can). */
void td__pkg_hasher_wait_done(td__pkg_hasher *h, uint64_t job);
/* Returns once every job posted is done. */
void td__pkg_hasher_wait(td__pkg_hasher *h);
/* The digest of everything posted since the reset; -1 if a step failed. */
int td__pkg_hasher_final(td__pkg_hasher *h, uint8_t out[32]);

/* ---- package_open.c ---- */

/* td_package_open on an open descriptor (the fuzz harness reads from memory this way); name is
 * what messages call the package. */
td_status td__package_open_fd(int fd, const char *name, const uint8_t recipient_sk[32],
                              const uint8_t *expected_signer_pk, const char *out_dir,
                              td_package_report *report, td_error *err);

#endif
