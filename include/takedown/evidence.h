/* Evidence: sealed preservation of removed content and its related data (TCO Art. 6; e-Evidence
 * production orders), released only with the approval of k of n custodians, destroyed at the end
 * of retention, every step on the audit log.
 *
 * Keys, from the bottom up:
 *  - every item is encrypted (XChaCha20-Poly1305 secretstream, 64 KiB chunks) under its own
 *    random item key, sealed (X25519 sealed box) to its case's public key;
 *  - every case has its own random X25519 key pair (the "case key"); the secret half is sealed to
 *    the master public key. Destroying it destroys every item of the case (crypto-shredding);
 *  - the master key pair is derived from a 32-byte seed that exists only as Shamir shares over
 *    GF(256), one per custodian, printed once and never stored; the database holds the master
 *    public key and a commitment to each share, so a wrong share is refused by name.
 * Sealing therefore needs no custodian; opening needs k of them.
 *
 * Storage: ciphertext in files DATA_DIR/evidence/<item id>.seal; keys, retention and requests in
 * the store (tables evidence_*). */
#ifndef TAKEDOWN_EVIDENCE_H
#define TAKEDOWN_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "clock.h"
#include "config.h"
#include "status.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Shamir secret sharing over GF(256) (AES polynomial x^8 + x^4 + x^3 + x + 1) ---- */

#define TD_SHAMIR_SECRET_LEN 32
#define TD_SHAMIR_MAX_SHARES 255
#define TD_SHARE_SET_ID_LEN 8
/* Text form: "tdss1-" + hex(version, set id, k, x, y) + hex(4-byte checksum). */
#define TD_SHARE_TEXT_LEN 100

/* One share. It is secret: wipe it (sodium_memzero) when done. */
typedef struct td_share {
    uint8_t set_id[TD_SHARE_SET_ID_LEN]; /* which split it belongs to */
    uint8_t k;                           /* threshold */
    uint8_t x;                           /* 1..255, distinct per share */
    uint8_t y[TD_SHAMIR_SECRET_LEN];
} td_share;

/* Splits secret into n shares (x = 1..n), any k of which rebuild it: 2 <= k <= n <= 255. */
__attribute__((warn_unused_result)) td_status
td_shamir_split(const uint8_t secret[TD_SHAMIR_SECRET_LEN], unsigned k, unsigned n,
                const uint8_t set_id[TD_SHARE_SET_ID_LEN], td_share *shares, td_error *err);
/* Rebuilds the secret from count >= k shares of one set with distinct x (the first k are used).
 * Mixed sets, a disagreeing k, duplicate x or too few shares: TD_ERR_INVALID. */
__attribute__((warn_unused_result)) td_status
td_shamir_combine(const td_share *shares, size_t count, uint8_t secret[TD_SHAMIR_SECRET_LEN],
                  td_error *err);
void td_share_format(const td_share *share, char out[TD_SHARE_TEXT_LEN + 1]);
/* Parses a share's text (surrounding whitespace allowed); a mistyped or corrupted share fails its
 * checksum: TD_ERR_CORRUPT. */
__attribute__((warn_unused_result)) td_status td_share_parse(const char *text, size_t len,
                                                             td_share *out, td_error *err);
/* SHA-256 commitment to a share (set id, x, y), stored so that a wrong share is detected. */
void td_share_commitment(const td_share *share, uint8_t out[32]);

/* ---- the evidence store ---- */

typedef struct td_evidence td_evidence;

typedef struct td_evidence_options {
    td_clock clock;         /* clock.h; {NULL}: the system clock */
    int64_t retention_ms;   /* after removal (config evidence_retention_ms, default 183 days) */
    int64_t max_item_bytes; /* largest item sealed or opened (config evidence_max_item_bytes) */
} td_evidence_options;

void td_evidence_options_default(td_evidence_options *opts);
/* Defaults overridden by cfg (evidence_retention_ms, evidence_max_item_bytes; NULL: the table's
 * defaults). */
__attribute__((warn_unused_result)) td_status
td_evidence_options_from_config(td_evidence_options *opts, const td_config *cfg, td_error *err);

/* Opens the evidence store: tables in store, files under data_dir/evidence/ (created, 0700),
 * every step appended to log (which must use the same store). Neither is owned. */
__attribute__((warn_unused_result)) td_status td_evidence_open(td_store *store, td_audit *log,
                                                               const char *data_dir,
                                                               const td_evidence_options *opts,
                                                               td_evidence **out, td_error *err);
/* Accepts NULL; wipes any shares still held. */
void td_evidence_close(td_evidence *ev);

/* Creates the master key and splits it among n named custodians (distinct names of at most 128
 * bytes), threshold k. shares (n entries, caller's memory, best sodium_malloc'd) receive one share
 * per custodian, in the order of names: hand each out once, then wipe. Once only:
 * TD_ERR_CONFLICT if a master key exists. */
__attribute__((warn_unused_result)) td_status
td_evidence_init_master(td_evidence *ev, const char *actor, unsigned k, unsigned n,
                        const char *const *names, td_share *shares, td_error *err);

/* Seals one item into case case_ref (created on first use with its own key): content and
 * related_json (account, IP, times... any text; may be NULL) encrypted and authenticated
 * together. Retention of the case becomes at least removal_ms + retention_ms. Committed (file
 * synced, rows and audit entry committed) before it returns; *item_id (may be NULL) names it. */
__attribute__((warn_unused_result)) td_status
td_evidence_seal(td_evidence *ev, const char *actor, const char *case_ref, const char *label,
                 const uint8_t *content, size_t len, const char *related_json, int64_t removal_ms,
                 int64_t *item_id, td_error *err);

typedef struct td_evidence_case_info {
    int64_t created_ms;
    int64_t retain_until_ms;
    int hold;          /* a review or proceeding runs: not purged while set */
    int64_t purged_ms; /* 0 while the evidence exists */
    int64_t items;
} td_evidence_case_info;

__attribute__((warn_unused_result)) td_status
td_evidence_case(td_evidence *ev, const char *case_ref, td_evidence_case_info *out, td_error *err);
/* Keeps the case at least until until_ms (an authority's request; never shortens). */
__attribute__((warn_unused_result)) td_status td_evidence_extend(td_evidence *ev, const char *actor,
                                                                 const char *case_ref,
                                                                 int64_t until_ms,
                                                                 const char *reason, td_error *err);
/* Sets the case's retention end to until_ms, earlier or later (the end of an evidence
 * preservation order: what was kept for it may go at the next purge; a hold still keeps it). */
__attribute__((warn_unused_result)) td_status
td_evidence_retain_until(td_evidence *ev, const char *actor, const char *case_ref, int64_t until_ms,
                         const char *reason, td_error *err);
/* Sets (on non-zero) or lifts a review hold: a held case outlives its retention deadline. */
__attribute__((warn_unused_result)) td_status td_evidence_hold(td_evidence *ev, const char *actor,
                                                               const char *case_ref, int on,
                                                               const char *reason, td_error *err);
/* Destroys every case whose retention has ended and that is not held: its case key (so nothing
 * sealed in it can ever be decrypted) and its files. *purged (may be NULL) counts the cases. */
__attribute__((warn_unused_result)) td_status td_evidence_purge(td_evidence *ev, const char *actor,
                                                                int64_t *purged, td_error *err);

/* Destroys items a caller sealed and must not keep: an operation that sealed them failed before
 * it recorded them (an evidence order's put whose later record could not be sealed). In one
 * transaction each item's row, and with it the item key sealed in it, is overwritten and deleted
 * and one "evidence.discard" entry names the items, their bytes and the reason; then their files
 * are removed. 1..TD_EVIDENCE_DISCARD_MAX distinct ids, each an item of case_ref not named by an
 * open release request, else nothing is discarded (TD_ERR_INVALID, TD_ERR_LIMIT,
 * TD_ERR_NOT_FOUND, TD_ERR_CONFLICT). TD_ERR_IO when a file could not be removed after the commit:
 * the item is gone already (no row, no key), only its ciphertext is left. The case stays. On
 * SQLite a discarded id may name the next item sealed (the log's order tells them apart). */
#define TD_EVIDENCE_DISCARD_MAX 1000
__attribute__((warn_unused_result)) td_status
td_evidence_discard(td_evidence *ev, const char *actor, const char *case_ref,
                    const int64_t *item_ids, size_t n, const char *reason, td_error *err);

/* A release request: who asks, on what legal basis (e.g. a production order reference), for
 * what purpose, which items of a case (item_ids NULL / n_items 0: every item). The items may
 * include items of other cases linked to case_ref (td_evidence_link); case_ref may then hold
 * nothing itself. */
__attribute__((warn_unused_result)) td_status
td_evidence_request(td_evidence *ev, const char *requester, const char *legal_basis,
                    const char *purpose, const char *case_ref, const int64_t *item_ids,
                    size_t n_items, int64_t *request_id, td_error *err);
/* Links item_id, an item of another case, to case_ref, so that a release request for case_ref
 * may name it: evidence sealed once in a case of its own (a report removed after review,
 * reports.h) that an evidence order asks for is delivered with the order's other items, without
 * a second copy and with one approval of the custodians. The item's case must exist and not be
 * purged (TD_ERR_NOT_FOUND); case_ref need not exist yet. Linking again changes nothing; a new
 * link is an audit entry ("evidence.link", object case_ref). The item stays in its own case and
 * goes with it: keep that case while the link is needed (td_evidence_hold). */
__attribute__((warn_unused_result)) td_status td_evidence_link(td_evidence *ev, const char *actor,
                                                               const char *case_ref,
                                                               int64_t item_id, td_error *err);
/* The same inside the caller's open write transaction on conn (a writer connection of the
 * evidence store's store), so that the link commits with what needs it; *linked (may be NULL) is
 * 1 when the link is new. */
__attribute__((warn_unused_result)) td_status
td_evidence_link_in(td_evidence *ev, td_store_conn *conn, const char *actor, const char *case_ref,
                    int64_t item_id, int *linked, td_error *err);
/* A custodian approves a request by submitting their share (its text). The share is checked
 * against the custodian's commitment (a wrong, corrupted or someone else's share is refused:
 * TD_ERR_CORRUPT / TD_ERR_INVALID) and held in guarded memory of this handle only (never
 * stored); the approval is recorded. *have and *need (may be NULL) tell the progress. */
__attribute__((warn_unused_result)) td_status
td_evidence_approve(td_evidence *ev, int64_t request_id, const char *custodian,
                    const char *share_text, unsigned *have, unsigned *need, td_error *err);
/* Called once per released item; the buffers are wiped after it returns. Non-zero stops. */
typedef int (*td_evidence_release_fn)(void *ctx, int64_t item_id, const char *label,
                                      const char *related_json, const uint8_t *content, size_t len);
/* Releases an approved request: with shares of k distinct custodians held, rebuilds the master
 * key (guarded memory, wiped right after), logs the release, decrypts each item and hands it to
 * fn. Too few approvals: TD_ERR_CONFLICT; tampered ciphertext: TD_ERR_CORRUPT. A request is
 * released once; the shares held for it are wiped either way. */
__attribute__((warn_unused_result)) td_status
td_evidence_release(td_evidence *ev, int64_t request_id, const char *actor,
                    td_evidence_release_fn fn, void *ctx, td_error *err);

/* ---- reading: metadata only (never content, keys or shares) ---- */

#define TD_EVIDENCE_NAME_MAX 128  /* custodian names */
#define TD_EVIDENCE_REF_MAX 256   /* case references, labels, requesters */
#define TD_EVIDENCE_TEXT_MAX 4096 /* legal basis, purpose, reasons */

typedef struct td_evidence_status {
    int has_master; /* the master key exists (sealing works) */
    unsigned k, n;  /* threshold and custodians */
    int64_t master_created_ms;
    int64_t cases;        /* cases not purged */
    int64_t cases_held;   /* of which on hold */
    int64_t cases_purged; /* cases whose key was destroyed */
    int64_t items;        /* items of cases not purged */
    int64_t requests_open;
} td_evidence_status;

__attribute__((warn_unused_result)) td_status
td_evidence_get_status(td_evidence *ev, td_evidence_status *out, td_error *err);

typedef struct td_evidence_custodian {
    unsigned x; /* the share's x coordinate */
    char name[TD_EVIDENCE_NAME_MAX + 1];
} td_evidence_custodian;

/* The custodians in the order of their shares; none before the master key exists. Free *out
 * with td_free. */
__attribute__((warn_unused_result)) td_status
td_evidence_custodians(td_evidence *ev, td_evidence_custodian **out, size_t *count, td_error *err);

typedef struct td_evidence_case_summary {
    char case_ref[TD_EVIDENCE_REF_MAX + 1];
    td_evidence_case_info info;
} td_evidence_case_summary;

/* Cases, newest first, skipping offset, at most limit (0: 100; at most 1000). Free *out with
 * td_free. */
__attribute__((warn_unused_result)) td_status td_evidence_case_list(td_evidence *ev, size_t limit,
                                                                    size_t offset,
                                                                    td_evidence_case_summary **out,
                                                                    size_t *count, td_error *err);

typedef struct td_evidence_item_info {
    int64_t id;
    char label[TD_EVIDENCE_REF_MAX + 1];
    int64_t bytes; /* content length */
    int64_t sealed_ms, removal_ms;
    int destroyed; /* its key was destroyed with the case's */
} td_evidence_item_info;

/* The items of a case by id (TD_ERR_NOT_FOUND: no such case; TD_ERR_LIMIT: more than
 * TD_EVIDENCE_ITEMS_MAX). Free *out with td_free. */
#define TD_EVIDENCE_ITEMS_MAX 10000
__attribute__((warn_unused_result)) td_status td_evidence_item_list(td_evidence *ev,
                                                                    const char *case_ref,
                                                                    td_evidence_item_info **out,
                                                                    size_t *count, td_error *err);

typedef struct td_evidence_request_info {
    int64_t id;
    char requester[TD_EVIDENCE_REF_MAX + 1];
    char legal_basis[TD_EVIDENCE_TEXT_MAX + 1];
    char purpose[TD_EVIDENCE_TEXT_MAX + 1];
    char case_ref[TD_EVIDENCE_REF_MAX + 1];
    int released;
    int64_t created_ms, released_ms;
    unsigned approvals; /* distinct custodians who approved (recorded in the store) */
    unsigned held;      /* shares held in this process's memory for it */
    unsigned need;      /* k */
} td_evidence_request_info;

__attribute__((warn_unused_result)) td_status td_evidence_request_get(td_evidence *ev,
                                                                      int64_t request_id,
                                                                      td_evidence_request_info *out,
                                                                      td_error *err);

/* Which release requests td_evidence_request_list returns: open with fewer than k approvals
 * recorded (pending), open with k or more (approved: it may be released), released, or all. */
typedef enum td_evidence_request_filter {
    TD_EVIDENCE_REQUESTS_ALL = 0,
    TD_EVIDENCE_REQUESTS_PENDING = 1,
    TD_EVIDENCE_REQUESTS_APPROVED = 2,
    TD_EVIDENCE_REQUESTS_RELEASED = 3
} td_evidence_request_filter;

/* Release requests, newest first, skipping offset, at most limit (1..TD_EVIDENCE_REQUESTS_MAX),
 * each as td_evidence_request_get gives it. Free *out with td_free. */
#define TD_EVIDENCE_REQUESTS_MAX 200
__attribute__((warn_unused_result)) td_status
td_evidence_request_list(td_evidence *ev, td_evidence_request_filter filter, size_t limit,
                         size_t offset, td_evidence_request_info **out, size_t *count,
                         td_error *err);

#ifdef __cplusplus
}
#endif

#endif
