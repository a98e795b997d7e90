/* The audit log: an append-only Merkle log of every order, action, preservation, access, release
 * and deletion, hashed as Certificate Transparency does it (RFC 9162 §2.1), with signed
 * checkpoints (Ed25519) and inclusion and consistency proofs.
 *
 * Why a Merkle log rather than a table with a hash chain: a chain proves nothing to someone who
 * has not seen every entry. With a tree an auditor keeps only the latest signed checkpoint
 * (size, root, time) and can ask for a short proof that one entry is in the log (inclusion) or
 * that today's log extends yesterday's (consistency); rewriting history then needs the log key
 * and shows up as two checkpoints that cannot be consistent.
 *
 * Two halves:
 *  - the log (td_audit): lives in the store (tables audit_*), its Ed25519 key in a file of the
 *    data directory; appends are O(log n) and committed before they return;
 *  - the verifiers (td_audit_verify_*, td_audit_checkpoint_verify, td_audit_doc_*): standalone
 *    functions that need only a proof, hashes and the log's public key (an auditor's tools). */
#ifndef TAKEDOWN_AUDIT_H
#define TAKEDOWN_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "status.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_AUDIT_HASH_LEN 32
#define TD_AUDIT_PUBKEY_LEN 32
#define TD_AUDIT_SIG_LEN 64
/* A proof for a tree of fewer than 2^63 leaves has at most 63 (inclusion) or 64 (consistency)
 * hashes; parsers refuse longer paths. */
#define TD_AUDIT_MAX_PATH 64
/* Limits of the fields of an entry, in bytes (UTF-8, no NUL). */
#define TD_AUDIT_MAX_NAME 256      /* actor, action, object */
#define TD_AUDIT_MAX_DETAILS 65536 /* details (free text, usually JSON) */
/* Largest canonical entry (all fields at their limits, every byte escaped as \u00XX). */
#define TD_AUDIT_MAX_ENTRY (6 * (3 * TD_AUDIT_MAX_NAME + TD_AUDIT_MAX_DETAILS) + 256)
/* Largest proof document accepted by td_audit_doc_parse. */
#define TD_AUDIT_MAX_DOC (2 * TD_AUDIT_MAX_ENTRY + 16384)

typedef struct td_audit td_audit;

typedef struct td_audit_options {
    /* The time of entries and checkpoints (clock.h); {NULL} is the system clock. */
    td_clock clock;
    /* A checkpoint is signed automatically by the append that makes the log this many entries
     * longer than the last checkpoint (0: never), or the first append at least this many
     * milliseconds after it (0: never). Config: audit_checkpoint_entries, _interval_ms. */
    int64_t checkpoint_entries;
    int64_t checkpoint_interval_ms;
} td_audit_options;

void td_audit_options_default(td_audit_options *opts);
/* Defaults overridden by cfg (audit_checkpoint_*; NULL: the table's defaults). */
__attribute__((warn_unused_result)) td_status
td_audit_options_from_config(td_audit_options *opts, const td_config *cfg, td_error *err);

/* A signed tree head: the log says that its first `size` entries have Merkle root `root`. */
typedef struct td_audit_checkpoint {
    uint64_t size;
    int64_t time_ms;
    uint8_t root[TD_AUDIT_HASH_LEN];
    uint8_t signature[TD_AUDIT_SIG_LEN];
} td_audit_checkpoint;

/* One entry as the caller reads it back. Strings are owned by the entry: td_audit_entry_clear. */
typedef struct td_audit_entry {
    uint64_t seq;
    int64_t time_ms;
    char *actor, *action, *object, *details;
} td_audit_entry;

void td_audit_entry_clear(td_audit_entry *e);

/* An inclusion proof (leaf `index` in a tree of `size` leaves) or a consistency proof (tree of
 * `first` leaves inside a tree of `size` leaves). */
typedef struct td_audit_proof {
    uint64_t index; /* inclusion: the leaf; consistency: the first size */
    uint64_t size;
    size_t n_path;
    uint8_t path[TD_AUDIT_MAX_PATH][TD_AUDIT_HASH_LEN];
} td_audit_proof;

/* ---- the log ---- */

/* Opens the log in store (creating its tables on first use) with its signing key in
 * key_dir/audit_log.key (generated on first use, mode 0600; a key file readable by group or
 * others is refused). opts may be NULL (defaults). */
__attribute__((warn_unused_result)) td_status td_audit_open(td_store *store, const char *key_dir,
                                                            const td_audit_options *opts,
                                                            td_audit **out, td_error *err);
/* Accepts NULL. Wipes the signing key. */
void td_audit_close(td_audit *log);

/* The log's Ed25519 public key. */
void td_audit_public_key(const td_audit *log, uint8_t pub[TD_AUDIT_PUBKEY_LEN]);

/* Appends an entry and commits it; *seq (may be NULL) receives its number (0, 1, 2...).
 * details may be NULL (empty). Fields longer than their limits, or not UTF-8, are refused. */
__attribute__((warn_unused_result)) td_status
td_audit_append(td_audit *log, const char *actor, const char *action, const char *object,
                const char *details, uint64_t *seq, td_error *err);
/* The same inside the caller's open write transaction on conn (a writer connection of the same
 * store), so that an entry commits or rolls back with the change it records. */
__attribute__((warn_unused_result)) td_status
td_audit_append_in(td_audit *log, td_store_conn *conn, const char *actor, const char *action,
                   const char *object, const char *details, uint64_t *seq, td_error *err);

/* The number of entries. */
__attribute__((warn_unused_result)) td_status td_audit_size(td_audit *log, uint64_t *size,
                                                            td_error *err);
/* Reads entry seq back. */
__attribute__((warn_unused_result)) td_status td_audit_get(td_audit *log, uint64_t seq,
                                                           td_audit_entry *out, td_error *err);
/* Entries in pages: ascending from after + 1 (after = -1: from the first), or, with newest set,
 * descending from before - 1 (before = -1: from the last). action (NULL or "": any) keeps only
 * entries of that action. At most limit (1..TD_AUDIT_LIST_MAX) entries; *out (free each with
 * td_audit_entry_clear, then the array with td_free) and *count receive them. */
#define TD_AUDIT_LIST_MAX 500
__attribute__((warn_unused_result)) td_status
td_audit_list(td_audit *log, int newest, int64_t after, int64_t before, const char *action,
              size_t limit, td_audit_entry **out, size_t *count, td_error *err);
/* The canonical bytes of entry seq (what its leaf hashes); free with td_free. */
__attribute__((warn_unused_result)) td_status
td_audit_get_canonical(td_audit *log, uint64_t seq, char **text, size_t *len, td_error *err);
/* The Merkle root of the first size entries (size <= the log's size). */
__attribute__((warn_unused_result)) td_status
td_audit_root(td_audit *log, uint64_t size, uint8_t root[TD_AUDIT_HASH_LEN], td_error *err);

/* Signs and stores a checkpoint of the whole log now. */
__attribute__((warn_unused_result)) td_status
td_audit_sign_checkpoint(td_audit *log, td_audit_checkpoint *out, td_error *err);
/* A stored checkpoint of exactly size entries, or a newly signed (and stored) one. */
__attribute__((warn_unused_result)) td_status
td_audit_checkpoint_for_size(td_audit *log, uint64_t size, td_audit_checkpoint *out, td_error *err);
/* The newest stored checkpoint (TD_ERR_NOT_FOUND when there is none). */
__attribute__((warn_unused_result)) td_status
td_audit_latest_checkpoint(td_audit *log, td_audit_checkpoint *out, td_error *err);

/* Proofs per RFC 9162 §2.1.3.1 (inclusion of leaf index in the tree of size leaves) and §2.1.4.1
 * (consistency of the tree of first leaves with the tree of size leaves). */
__attribute__((warn_unused_result)) td_status
td_audit_prove_inclusion(td_audit *log, uint64_t index, uint64_t size, td_audit_proof *out,
                         td_error *err);
__attribute__((warn_unused_result)) td_status
td_audit_prove_consistency(td_audit *log, uint64_t first, uint64_t size, td_audit_proof *out,
                           td_error *err);

/* What td_audit_verify_log found. */
typedef struct td_audit_report {
    uint64_t entries;      /* entries checked */
    uint64_t checkpoints;  /* signed checkpoints checked */
    uint64_t uncovered;    /* entries newer than the newest checkpoint (not yet signed) */
    int ok;                /* 1 when nothing was wrong */
    int64_t first_bad_seq; /* the first entry found altered, or -1 */
    char problem[TD_ERROR_MESSAGE_MAX];
} td_audit_report;

/* Recomputes every leaf and stored tree node from the stored entries and checks every stored
 * checkpoint (root and signature). A tampered log is reported in *report (ok = 0) with TD_OK;
 * a failure to read the log is an error. O(n) time, O(log n) memory. */
__attribute__((warn_unused_result)) td_status
td_audit_verify_log(td_audit *log, td_audit_report *report, td_error *err);

/* ---- export ----
 * A log export is JSON lines (docs/audit.md):
 *   {"type":"header","format":"takedown-audit-export","version":1,"public_key":"<hex>",
 *    "size":N,"time_ms":T}
 *   {"type":"entry","seq":S,"time_ms":..,"actor":..,"action":..,"object":..,"details":..,
 *    "leaf_hash":"<hex>"}                                   one per entry, seq 0..N-1 in order
 *   {"type":"checkpoint","checkpoint":CP}                   right after the entry that makes
 *                                                            the log CP.size entries long
 * The last line is a checkpoint of all N entries (signed at export time when none existed). */

/* Receives one line of an export (without its newline); non-zero stops the export. */
typedef int (*td_audit_line_fn)(void *ctx, const char *line, size_t len);

/* Writes the whole log (a consistent snapshot) with every stored checkpoint. *entries and
 * *checkpoints (may be NULL) count what was written. A receiver that stops: TD_ERR_IO. */
__attribute__((warn_unused_result)) td_status td_audit_export(td_audit *log, td_audit_line_fn fn,
                                                              void *ctx, uint64_t *entries,
                                                              uint64_t *checkpoints, td_error *err);

/* ---- standalone (offline) verification ---- */

/* The canonical encoding of an entry (what a leaf hashes): JSON with a fixed key order
 * {"seq":..,"time_ms":..,"actor":"..","action":"..","object":"..","details":".."}, no spaces,
 * strings escaped minimally (", \ and control characters). Free *text with td_free. */
__attribute__((warn_unused_result)) td_status
td_audit_entry_canonical(uint64_t seq, int64_t time_ms, const char *actor, const char *action,
                         const char *object, const char *details, char **text, size_t *len,
                         td_error *err);

/* SHA-256(0x00 || entry) and SHA-256(0x01 || left || right). */
void td_audit_leaf_hash(const void *entry, size_t len, uint8_t out[TD_AUDIT_HASH_LEN]);
void td_audit_node_hash(const uint8_t left[TD_AUDIT_HASH_LEN],
                        const uint8_t right[TD_AUDIT_HASH_LEN], uint8_t out[TD_AUDIT_HASH_LEN]);

/* RFC 9162 §2.1.3.2: TD_OK when the proof shows leaf_hash at proof->index in the tree of
 * proof->size leaves with the given root; TD_ERR_CORRUPT otherwise. */
__attribute__((warn_unused_result)) td_status
td_audit_verify_inclusion(const td_audit_proof *proof, const uint8_t leaf_hash[TD_AUDIT_HASH_LEN],
                          const uint8_t root[TD_AUDIT_HASH_LEN], td_error *err);
/* RFC 9162 §2.1.4.2: TD_OK when the tree of proof->index leaves with first_root is a prefix of
 * the tree of proof->size leaves with root; TD_ERR_CORRUPT otherwise. */
__attribute__((warn_unused_result)) td_status
td_audit_verify_consistency(const td_audit_proof *proof,
                            const uint8_t first_root[TD_AUDIT_HASH_LEN],
                            const uint8_t root[TD_AUDIT_HASH_LEN], td_error *err);

/* The signed message of a checkpoint and its verification with the log's public key. */
__attribute__((warn_unused_result)) td_status
td_audit_checkpoint_verify(const td_audit_checkpoint *cp, const uint8_t pub[TD_AUDIT_PUBKEY_LEN],
                           td_error *err);

/* Offline verification of an export, line by line, with only the log's public key (obtained
 * out of band): recomputes every entry's canonical form and leaf hash, the Merkle tree, and
 * every checkpoint's root and signature. Findings go to the report (ok = 0 with the first
 * problem: an edited entry, an edited leaf hash, a forged or misplaced checkpoint, a gap,
 * missing or extra lines, a log key other than pub); errors are for memory only. */
typedef struct td_audit_export_check td_audit_export_check;

__attribute__((warn_unused_result)) td_status
td_audit_export_check_new(const uint8_t pub[TD_AUDIT_PUBKEY_LEN], td_audit_export_check **out,
                          td_error *err);
/* Feeds one line (without its newline; a trailing '\r' is ignored). */
__attribute__((warn_unused_result)) td_status
td_audit_export_check_line(td_audit_export_check *x, const char *line, size_t len, td_error *err);
/* The verdict once every line was fed: the whole export must be covered by a checkpoint and
 * hold as many entries as its header says. */
void td_audit_export_check_finish(td_audit_export_check *x, td_audit_report *report);
/* Accepts NULL. */
void td_audit_export_check_free(td_audit_export_check *x);

/* ---- text forms ----
 * A proof document is JSON, one of
 *   {"type":"checkpoint","checkpoint":CP}
 *   {"type":"inclusion","seq":N,"entry":"<canonical entry>","leaf_hash":"<hex>",
 *    "tree_size":M,"path":["<hex>",...],"checkpoint":CP}
 *   {"type":"consistency","first":CP,"second":CP,"path":["<hex>",...]}
 * with CP = {"size":N,"time_ms":T,"root":"<hex>","signature":"<hex>"}. "entry" is optional
 * (a leaf hash alone proves inclusion of an entry the auditor holds). */
typedef enum td_audit_doc_type {
    TD_AUDIT_DOC_CHECKPOINT = 1,
    TD_AUDIT_DOC_INCLUSION = 2,
    TD_AUDIT_DOC_CONSISTENCY = 3
} td_audit_doc_type;

typedef struct td_audit_doc {
    td_audit_doc_type type;
    td_audit_checkpoint checkpoint; /* checkpoint, inclusion: its tree; consistency: second */
    td_audit_checkpoint first;      /* consistency: the older tree */
    td_audit_proof proof;
    uint8_t leaf_hash[TD_AUDIT_HASH_LEN];
    char *entry; /* inclusion: canonical entry or NULL; owned: td_audit_doc_clear */
    size_t entry_len;
} td_audit_doc;

void td_audit_doc_clear(td_audit_doc *doc);

/* Writes doc as JSON (one line, no trailing newline); free with td_free. */
__attribute__((warn_unused_result)) td_status
td_audit_doc_format(const td_audit_doc *doc, char **text, size_t *len, td_error *err);
/* Parses an untrusted document (at most TD_AUDIT_MAX_DOC bytes; paths of at most
 * TD_AUDIT_MAX_PATH hashes; hex of exact lengths). On error doc is left cleared. */
__attribute__((warn_unused_result)) td_status td_audit_doc_parse(const char *text, size_t len,
                                                                 td_audit_doc *doc, td_error *err);
/* Checks a parsed document offline: checkpoint signatures with pub, the entry's leaf hash (when
 * the entry is present), and the proof against the checkpoint roots. */
__attribute__((warn_unused_result)) td_status
td_audit_doc_verify(const td_audit_doc *doc, const uint8_t pub[TD_AUDIT_PUBKEY_LEN], td_error *err);

#ifdef __cplusplus
}
#endif

#endif
