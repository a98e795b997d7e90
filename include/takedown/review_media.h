/* Review copies of uploaded media (docs/review-media.md): the bytes of content whose case goes to
 * review, kept sealed at rest so that moderators can see what they decide about, then deleted
 * when the case is closed and a grace has passed, or sealed into the evidence store when the
 * decision is removal.
 *
 * Why a module of its own: the casework records content and its hashes, never its bytes, and
 * must not depend on the evidence store; this module sits above both (like src/reports/), keeps
 * its own tables (component "review_media") and files, and is what the server calls after an
 * upload and on its tick.
 *
 * Keys at rest, from the bottom up:
 *  - every kept content has its own random 32-byte key (the "content key"); each of its parts
 *    (0: the main media, 1..: the further parts of a multi-part content) is one file
 *    DATA_DIR/review_media/<content ref>-<part>.seal, XChaCha20-Poly1305 secretstream in 64 KiB
 *    chunks (the evidence store's sealed file format), bound to its content and part;
 *  - the content key is stored wrapped (XChaCha20-Poly1305, the content as additional data) by
 *    the service's review media key, derived from the key file review_media.key of the data
 *    directory (mode 0600, created on first use, as the audit, exchange and feed keys are);
 *  - deletion is crypto-shredding: the wrapped key is set to NULL in the store (zeroed on SQLite:
 *    secure_delete for that statement) in the transaction that records the deletion, then the
 *    files are removed. What it does not cover is what reports.h says of review copies: SQLite's
 *    write-ahead log frames until overwritten, PostgreSQL's dead rows until VACUUM, backups.
 *
 * Reads are audited ("content.media_read", the actor and the part): the bytes are answered only
 * after the entry is committed. The module never logs bytes, only ids, sizes and digests. */
#ifndef TAKEDOWN_REVIEW_MEDIA_H
#define TAKEDOWN_REVIEW_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "casework.h"
#include "config.h"
#include "evidence.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_REVIEW_MEDIA_PARTS_MAX (TD_CONTENT_PARTS_MAX + 1) /* part 0 and the further parts */
#define TD_REVIEW_MEDIA_TYPE_MAX 64                          /* a sniffed content type */
#define TD_REVIEW_MEDIA_REASON_MAX 160                       /* why nothing is kept */

typedef struct td_review_media td_review_media;

typedef struct td_review_media_options {
    int enabled;           /* keep copies at all (config review_media, default 1) */
    int64_t grace_ms;      /* a closed case's copy is deleted this long after the decision
                              (config review_media_grace_ms, default 7 days; 0: at the next tick) */
    int64_t max_bytes;     /* a larger part is checked but not kept (config review_media_max_bytes;
                              0, the default: the caller's media body limit, else 64 MiB) */
    td_evidence *evidence; /* where copies of removed content are sealed; NULL: deleted instead */
    const char *key_dir;   /* the folder of review_media.key; NULL: the service's data dir */
    /* Deletion and preservation on a thread of its own every tick_ms while non-zero; 0: the
     * caller runs td_review_media_tick. */
    int64_t tick_ms;
} td_review_media_options;

void td_review_media_options_default(td_review_media_options *opts);
__attribute__((warn_unused_result)) td_status
td_review_media_options_from_config(td_review_media_options *opts, const td_config *cfg,
                                    td_error *err);

/* Opens the module on svc (its store, clock, audit log and data directory): its tables, its
 * folder DATA_DIR/review_media (0700) and its key file. */
__attribute__((warn_unused_result)) td_status
td_review_media_open(td_service *svc, const td_review_media_options *opts, td_review_media **out,
                     td_error *err);
void td_review_media_close(td_review_media *rm);

/* One part's bytes as uploaded. */
typedef struct td_review_media_part {
    const uint8_t *data;
    size_t len;
} td_review_media_part;

/* Keeps the review copy of content_id (recorded already by td_content_submit) when its latest
 * case is undecided: parts[0] is the main media, parts[1..n) its further parts (n <=
 * TD_REVIEW_MEDIA_PARTS_MAX). A part over max_bytes is recorded without its bytes (its reason
 * says why). *kept (may be NULL) is the number of parts kept. Nothing is done (*kept 0, TD_OK)
 * when the module is off, the content has no undecided case, or a copy exists already. Files are
 * written and synced before the transaction that records them ("content.media_kept"); a failure
 * removes them. */
__attribute__((warn_unused_result)) td_status
td_review_media_keep(td_review_media *rm, const char *content_id, const td_review_media_part *parts,
                     size_t n, size_t *kept, td_error *err);

typedef enum td_review_media_state {
    TD_REVIEW_MEDIA_NONE = 0,      /* nothing kept */
    TD_REVIEW_MEDIA_KEPT = 1,      /* readable */
    TD_REVIEW_MEDIA_DELETED = 2,   /* deleted after its case closed */
    TD_REVIEW_MEDIA_PRESERVED = 3, /* sealed into the evidence store, then deleted here */
    TD_REVIEW_MEDIA_SEALING = 4    /* being sealed (still readable) */
} td_review_media_state;

/* "none", "kept", "deleted", "preserved" (sealing reads as "kept"). */
const char *td_review_media_state_name(td_review_media_state state);

typedef struct td_review_media_item {
    int part;
    char content_type[TD_REVIEW_MEDIA_TYPE_MAX + 1];
    int64_t bytes;
    char sha256[65];
    int kept;                                    /* its bytes are (or were) kept */
    char reason[TD_REVIEW_MEDIA_REASON_MAX + 1]; /* when not kept */
    int64_t evidence_item;                       /* once preserved, else 0 */
} td_review_media_item;

typedef struct td_review_media_info {
    int exists; /* a copy was recorded for the content (else everything below is 0) */
    td_review_media_state state;
    int64_t case_id;         /* the case it was kept for */
    int64_t created_ms;      /* kept at */
    int64_t delete_after_ms; /* 0: not scheduled (its case is open, or removal preserves it) */
    int64_t handled_ms;      /* deleted or preserved at, else 0 */
    char evidence_case[64];  /* once preserved: the evidence case, "review-<content ref>" */
    size_t n_items;
    td_review_media_item items[TD_REVIEW_MEDIA_PARTS_MAX];
} td_review_media_info;

/* What is known of content_id's copy (info->exists 0 when none). */
__attribute__((warn_unused_result)) td_status td_review_media_get(td_review_media *rm,
                                                                  const char *content_id,
                                                                  td_review_media_info *info,
                                                                  td_error *err);

/* One part's bytes for who (audited "content.media_read", object "content:<content id>", with
 * the part and the bytes; committed before the bytes are handed out). info receives the copy's
 * record either way. TD_ERR_NOT_FOUND: no copy of the content, or no such part, or the part was
 * not kept (info->exists tells which); a copy deleted or preserved: TD_OK with *data NULL (see
 * info->state, info->handled_ms). *data (sodium_malloc'd: free with td_review_media_free) holds
 * *len bytes. */
__attribute__((warn_unused_result)) td_status
td_review_media_read(td_review_media *rm, const td_principal *who, const char *content_id, int part,
                     td_review_media_info *info, uint8_t **data, size_t *len, td_error *err);
void td_review_media_free(uint8_t *data, size_t len);

/* Deletes the copies whose case is closed and whose grace has passed ("content.media_deleted"),
 * and seals those of removed content into the evidence store ("content.media_preserved"; needs
 * the evidence master key, else they wait). Idempotent; a catch-up over stored state. */
__attribute__((warn_unused_result)) td_status td_review_media_tick(td_review_media *rm,
                                                                   td_error *err);

/* The content type of data from its first bytes ("image/jpeg", "image/png", "image/gif",
 * "image/webp", "image/bmp", "video/mp4", "video/quicktime", "video/webm", "video/x-matroska",
 * "video/x-msvideo", "video/ogg", "application/pdf", else "application/octet-stream"). */
const char *td_review_media_sniff(const uint8_t *data, size_t len);

typedef struct td_review_media_stats {
    uint64_t kept, read, deleted, preserved; /* since open */
    uint64_t ticks, tick_failures;
} td_review_media_stats;

void td_review_media_get_stats(td_review_media *rm, td_review_media_stats *out);

#ifdef __cplusplus
}
#endif

#endif
