/* Verified abuse reports from end-to-end encrypted messaging (docs/e2ee.md), on top of message
 * franking (frank.h), the casework service (casework.h), the evidence store (evidence.h) and the
 * audit log (audit.h).
 *
 * Why a module of its own: franking itself is pure computation (frank.h, core layer); this module
 * owns what needs the store: the server's franking keys (table frank_keys: created, rotated,
 * destroyed at the end of their retention, shared by every node of a PostgreSQL deployment), the
 * reports (one per reported message, with its reporters), the review copy of a reported message
 * until its case closes, the attachment key registry, and the preservation of a report whose
 * case ends in removal. Its tables are component "reports".
 *
 * Flow of a report (td_report_submit): every message is verified (tag, frank, signature) and every
 * attachment opened against its commitment before anything is written; a failure stores nothing
 * but a counter. A verified message becomes content (source "e2ee_report", uploader = the verified
 * sender, time = the franked accepted time, content id "e2ee-" + the first 16 bytes of the frank
 * in hex), checked against every bank (its text and the URLs in it, each decrypted attachment as
 * image or video), with a case in the review queue (priority from the matches) and, when a bank
 * says block, a "remove" event for the platform; all committed before it returns. The same message
 * (same key id and frank) reported again is the same report with one more reporter; the same
 * reporter again changes nothing (a replay).
 *
 * Durability and audit: every change (key created, rotated, destroyed; report received; reporter
 * added; review copy read or deleted; report preserved) is an audit entry in the same
 * transaction. Reads of a review copy take an actor and append "report.read". The audit log gets
 * ids, digests and counts, never a message's text, an account or a conversation.
 *
 * Atomicity: a report and its content are one transaction (the content is recorded through the
 * casework's in-transaction intake), so a failure leaves neither; a retry after a failure is a
 * new attempt, and after a success it is the same report (same key id and frank) with its
 * reporters unchanged.
 *
 * Keys at rest: table frank_keys holds each key's HMAC secret and Ed25519 secret in the store
 * (so that every node of a PostgreSQL deployment franks and verifies with the same keys): who can
 * read the database can frank. At the end of a key's retention its secrets are set to NULL
 * ("frank.key_destroyed"); its id, public key and times stay, and its franks never verify again.
 * What that crypto-shredding covers: the key ring in memory of this process (wiped at once) and
 * of other nodes (at their next tick, and no franks verify past destroy_ms in any case: the time
 * is checked before the key is used); the database file on SQLite, whose deleted and overwritten
 * cells are zeroed (PRAGMA secure_delete for those statements) once the write-ahead log is
 * checkpointed into it. What it does not cover: SQLite's write-ahead log frames written before
 * (until overwritten), PostgreSQL's dead row versions (until VACUUM), its WAL archives and
 * replicas, backups and file-system snapshots taken while the key lived, and copies an operator
 * made. The review copy of a report (its plaintext) is deleted the same way when its case closes.
 * Sealed evidence is destroyed by its own case key (evidence.h). */
#ifndef TAKEDOWN_REPORTS_H
#define TAKEDOWN_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "casework.h"
#include "config.h"
#include "evidence.h"
#include "evidence_orders.h"
#include "frank.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_REPORT_MESSAGES_MAX 10     /* messages in one report */
#define TD_REPORT_REASON_MAX 1024     /* the reporter's reason, bytes */
#define TD_REPORT_REPORTER_MAX 256    /* the reporter's account id, bytes */
#define TD_REPORT_BODY_MAX (64 << 20) /* a report's JSON, bytes (attachments are base64) */
#define TD_FRANK_BATCH_MAX 1000       /* tags in one td_reports_frank_batch */

typedef struct td_reports td_reports;

typedef struct td_reports_options {
    /* A new current key every rotate_ms (config frank_key_rotate_ms, default 30 days; 0: only
     * td_reports_rotate_key); a retired key verifies for retention_ms more (config
     * frank_key_retention_ms, default 90 days), then its secrets are destroyed. */
    int64_t rotate_ms;
    int64_t retention_ms;
    int64_t max_attachment_bytes; /* a decrypted attachment (config report_max_attachment_bytes,
                                     default 32 MiB) */
    td_evidence *evidence; /* where removed reports are sealed; NULL: not preserved (tests) */
    /* Background duties (rotation, destruction, preservation retries) on a thread of its own
     * while non-zero, every tick_ms; 0: the caller runs td_reports_tick. */
    int64_t tick_ms;
} td_reports_options;

void td_reports_options_default(td_reports_options *opts);
__attribute__((warn_unused_result)) td_status
td_reports_options_from_config(td_reports_options *opts, const td_config *cfg, td_error *err);

/* Opens the module on svc (its store, clock and audit log); creates the first key when there is
 * none. */
__attribute__((warn_unused_result)) td_status
td_reports_open(td_service *svc, const td_reports_options *opts, td_reports **out, td_error *err);
void td_reports_close(td_reports *rep);

/* Rotation, destruction at the end of retention, preservation of removed reports not sealed yet,
 * deletion of review copies of closed cases. Idempotent. */
__attribute__((warn_unused_result)) td_status td_reports_tick(td_reports *rep, td_error *err);

/* ---- keys ---- */

/* Retires the current key (it keeps verifying until its destroy time) and makes a new one
 * current; out (may be NULL) receives the new key's public part. actor for the audit entry. */
__attribute__((warn_unused_result)) td_status
td_reports_rotate_key(td_reports *rep, const char *actor, td_frank_key *out, td_error *err);
/* The public part of every key (secrets zeroed), oldest first; free *out with td_free. Keys
 * created by another node are loaded first. */
__attribute__((warn_unused_result)) td_status td_reports_keys(td_reports *rep, td_frank_key **out,
                                                              size_t *count, td_error *err);

/* ---- at delivery ---- */

typedef struct td_frank_request {
    uint8_t tag[TD_FRANK_TAG_LEN];
    td_frank_context ctx;
} td_frank_request;

/* Franks n (1..TD_FRANK_BATCH_MAX) tags with the current key; out[i] answers req[i]. Nothing is
 * stored. A malformed context fails the whole batch naming its index ("[3].sender"). */
__attribute__((warn_unused_result)) td_status td_reports_frank_batch(td_reports *rep,
                                                                     const td_frank_request *req,
                                                                     size_t n, td_frank_proof *out,
                                                                     td_error *err);

/* ---- reports ---- */

typedef struct td_report_attachment {
    const uint8_t *blob; /* nonce || ciphertext || tag, as delivered */
    size_t blob_len;
    uint8_t key[TD_FRANK_ATTACH_KEY_LEN];
} td_report_attachment;

typedef struct td_report_message {
    const char *text; /* the message's text (UTF-8), may be "" */
    size_t text_len;
    const td_report_attachment *attachments;
    size_t n_attachments; /* 0..TD_FRANK_ATTACH_MAX */
    uint8_t salt[TD_FRANK_SALT_LEN];
    td_frank_context ctx; /* sender, conversation, accepted time */
    td_frank_proof proof; /* key id, frank, signature */
} td_report_message;

typedef struct td_report_input {
    const char *reporter; /* the reporting account, 1..TD_REPORT_REPORTER_MAX bytes */
    const char *reason;   /* may be NULL */
    const td_report_message *messages;
    size_t n_messages;    /* 1..TD_REPORT_MESSAGES_MAX */
    int64_t platform_key; /* td_principal_platform of the relaying key */
} td_report_input;

/* Why a report was refused (td_report_submit's and td_report_parse's rejection). problem, with
 * the status returned and the HTTP answer the contract gives it:
 *   "frank_invalid"           TD_ERR_INVALID   422  field "messages[i]", why says which check
 *   "attachment_invalid"      TD_ERR_INVALID   422  "messages[i].attachments[j]": hash, key
 *                                                   commitment or authentication
 *   "attachment_key_conflict" TD_ERR_CONFLICT  409  that ciphertext was reported with another key
 *   "malformed"               TD_ERR_INVALID   400  not a JSON object (field "")
 *   "missing_field", "invalid_field", "unknown_field"
 *                             TD_ERR_INVALID   400  field names the member
 *   "too_large"               TD_ERR_LIMIT     413  over a size or count limit (field names it) */
typedef struct td_report_rejection {
    char field[64];       /* "messages[1].frank", "messages[0].attachments[2]" */
    char problem[48];     /* one of the above */
    td_frank_failure why; /* for frank_invalid */
} td_report_rejection;

typedef struct td_report {
    int64_t id;
    char content_id[TD_CONTENT_ID_MAX + 1];
    int64_t case_id;     /* 0: none */
    td_verdict verdict;  /* of the content's matches */
    size_t reporters;    /* distinct reporters */
    int duplicate;       /* this call added no new report (a known message) */
    int64_t received_ms; /* the first report */
    uint32_t key_id;
    char sender[TD_FRANK_ID_MAX + 1];
    char conversation[TD_FRANK_ID_MAX + 1];
    int64_t accepted_ms;
    size_t n_attachments;
    int review_copy;       /* the plaintext is still held for review */
    int64_t evidence_item; /* first sealed item once preserved, 0 before */
} td_report;

/* Verifies and records a report; out[i] (caller's array of n_messages) answers messages[i] (a
 * message given twice: the same report). Limits checked first: the reporter (UTF-8, no control
 * characters), reason and texts, 1..TD_REPORT_MESSAGES_MAX messages, at most
 * TD_FRANK_ATTACH_MAX attachments a message, each at most max_attachment_bytes decrypted, all of
 * them together at most TD_REPORT_BODY_MAX bytes (too_large naming the attachment). A message
 * that does not verify or an attachment that does not open: TD_ERR_INVALID; a ciphertext known
 * with another key: TD_ERR_CONFLICT; *rej filled, nothing stored (td_reports_stats.invalid
 * counts it). The whole report, all its messages, is one transaction: all or nothing. */
__attribute__((warn_unused_result)) td_status
td_report_submit(td_reports *rep, const td_report_input *in, td_report *out,
                 td_report_rejection *rej, td_error *err);

/* Parses a report's JSON body (the HTTP contract, docs/e2ee.md) into *in: bounded, unknown
 * members refused, base64 and hex checked; rej names the field. The parsed input borrows from
 * *owner, released with td_report_input_free. */
typedef struct td_report_parsed td_report_parsed;
__attribute__((warn_unused_result)) td_status
td_report_parse(const char *json, size_t len, td_report_input *in, td_report_parsed **owner,
                td_report_rejection *rej, td_error *err);
void td_report_input_free(td_report_parsed *owner);

__attribute__((warn_unused_result)) td_status td_report_get(td_reports *rep, int64_t id,
                                                            td_report *out, td_error *err);
/* td_report_get as who sees it: a platform principal reads only the reports its platform relayed
 * (a reporter of the report came through one of its keys); another platform's report fails with
 * TD_ERR_NOT_FOUND and the message of an unknown id. Other roles (and who NULL) read all. */
__attribute__((warn_unused_result)) td_status td_report_get_as(td_reports *rep,
                                                               const td_principal *who, int64_t id,
                                                               td_report *out, td_error *err);
/* Reports, newest first, skipping offset, at most limit (0: 100; over TD_PAGE_MAX:
 * TD_ERR_LIMIT); open_only: only those whose review copy is held (their case is not closed), the
 * moderators' list. Free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_report_list(td_reports *rep, int open_only,
                                                             size_t limit, size_t offset,
                                                             td_report **out, size_t *count,
                                                             td_error *err);
/* The review copy of report id: its text (index < 0, UTF-8) or attachment index's plaintext
 * (0..n_attachments - 1), for actor (1..TD_NAME_MAX bytes), audited ("report.read", in the same
 * transaction as the read). Gone once its case closed, even before a tick deleted it, as for an
 * unknown report or index: TD_ERR_NOT_FOUND. *data (NUL-terminated after len bytes) freed with
 * td_free. */
__attribute__((warn_unused_result)) td_status td_report_read(td_reports *rep, int64_t id, int index,
                                                             const char *actor, uint8_t **data,
                                                             size_t *len, td_error *err);

/* ---- evidence orders ---- */

/* The evidence orders' provider of data takedown holds itself (evidence_orders.h:
 * td_eorders_set_provider(eorders, td_reports_eorder_provider, rep)): for an order that asks for
 * content data, the reports preserved in evidence (removed after review) whose content id (an
 * identifier of type content_id) or sender (user_id, account_name) the order names, franked
 * within E.time_range: each report's sealed items (its record, then each attachment), category
 * content, at the message's accepted time, answering that identifier. ctx is the td_reports. The
 * evidence orders component links them to the order (td_eorder_link) and delivers them. */
__attribute__((warn_unused_result)) td_status
td_reports_eorder_provider(void *ctx, const td_eorder *order, td_eorder_linked **items,
                           size_t *count, td_error *err);

typedef struct td_reports_stats {
    uint64_t franked;    /* tags franked since open */
    uint64_t verified;   /* messages verified */
    uint64_t invalid[6]; /* refused reports by td_frank_failure (index 0: attachment failures:
                            attachment_invalid and attachment_key_conflict) */
    uint64_t ticks, tick_failures; /* td_reports_tick runs (the thread's and the caller's) */
} td_reports_stats;

void td_reports_get_stats(td_reports *rep, td_reports_stats *out);

#ifdef __cplusplus
}
#endif

#endif
