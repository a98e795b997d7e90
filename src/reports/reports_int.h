/* Inside the reports component (src/reports/, beside src/orders/ and src/eorders/, above
 * casework, evidence, audit and frank): the handle and what its files share.
 *
 * Files: reports.c (schema, handle, options, the background thread, counters), reports_keys.c
 * (the franking keys: stored, loaded into the key ring, created, rotated, destroyed; franking at
 * delivery), reports_parse.c (the report body, no store: fuzzed), reports_submit.c (verification,
 * the one transaction of a report, reads of the record and of the review copy),
 * reports_preserve.c (what a closed case means for its reports: sealed evidence or the review
 * copy deleted; the evidence orders' provider).
 *
 * Rules these files keep:
 *  - nothing is written before every message of a report verified and every attachment opened;
 *    a refusal stores nothing and counts itself (in memory: td_reports_get_stats);
 *  - every change commits with its audit entry (td__reports_audit inside the transaction);
 *  - the audit log gets ids, digests and counts, never a message's text, an account or a
 *    conversation (the log is read by auditors; the report is personal data);
 *  - secrets (franking keys, review copies) are overwritten where they are deleted
 *    (td__reports_shred on SQLite), and wiped in memory (sodium_memzero) after use. */
#ifndef TD_REPORTS_REPORTS_INT_H
#define TD_REPORTS_REPORTS_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "casework/service_int.h"
#include "takedown/reports.h"

/* What the verification path needs of a key without taking its secrets out of the ring. */
typedef struct td__report_key_pub {
    uint32_t id;
    int64_t created_ms, retired_ms, destroy_ms;
    int destroyed;
} td__report_key_pub;

struct td_reports {
    td_service *svc;
    td_reports_options opts;
    td_frank_keyring *ring;
    /* The public side of the ring's keys (ids, times), replaced as a whole by every load; and
     * one key change (load, creation, rotation, destruction) at a time in this process. */
    pthread_mutex_t key_lock;
    td__report_key_pub *pub;
    size_t n_pub;
    /* One preservation pass at a time in this process (nodes sharing a store claim reports in
     * the store, reports_preserve.c). */
    pthread_mutex_t preserve_lock;
    /* Counters since open. */
    _Atomic uint64_t franked, verified, invalid[6], ticks, tick_failures;
    /* The background thread (reports.c). */
    pthread_t duty;
    int duty_started;
    pthread_mutex_t duty_lock;
    pthread_cond_t duty_wake;
    int duty_stop;
};

/* Report states (reports.state). */
enum {
    TD__REPORT_OPEN = 0,      /* its case is open; the review copy is held */
    TD__REPORT_SEALING = 1,   /* a node is sealing it (claimed at claim_ms) */
    TD__REPORT_PRESERVED = 2, /* removed: sealed as evidence, review copy deleted */
    TD__REPORT_KEPT = 3,      /* kept: review copy deleted */
    TD__REPORT_REMOVED = 4    /* removed without an evidence store: review copy deleted */
};

/* A report's record as td_report holds it (reports r joined with its content c), read back by
 * td__report_row. */
#define TD__REPORT_COLUMNS                                                                         \
    "r.id, r.content_id, r.case_id, c.verdict,"                                                    \
    " (SELECT COUNT(*) FROM report_reporters p WHERE p.report_id = r.id),"                         \
    " r.received_ms, r.key_id, r.sender, r.conversation, r.accepted_ms, r.attachments,"            \
    " r.review_copy, r.evidence_item"
void td__report_row(td_stmt *q, td_report *r);

/* For calls whose failure a later pass redoes (the background tick): not acted on. */
static inline void td__reports_ignore(td_status st) { (void)st; }

/* The evidence case of report id: "report-<id>". */
void td__report_case_ref(char *out, size_t cap, int64_t id);

/* One write transaction on the service's store. */
typedef td_status (*td__reports_tx_fn)(td_reports *rep, td_store_conn *c, void *ctx, td_error *err);
td_status td__reports_tx(td_reports *rep, td__reports_tx_fn fn, void *ctx, td_error *err);

/* Appends an audit entry inside the transaction: object "report:<id>" (id > 0), or the given
 * object; details is a JSON object (stolen, may be NULL). */
td_status td__reports_audit(td_reports *rep, td_store_conn *c, const char *actor,
                            const char *action, const char *object, json_t *details, td_error *err);

/* On SQLite, deleted and overwritten cells are zeroed while on (PRAGMA secure_delete): what the
 * deletion of a key's secrets or of a review copy turns on for its statements, then off. No-op
 * on PostgreSQL (see reports.h on what crypto-shredding covers). */
td_status td__reports_shred(td_reports *rep, td_store_conn *c, int on, td_error *err);

/* ---- reports_keys.c ---- */

/* Loads every stored key into the ring (keys another node created, rotated or destroyed). */
td_status td__reports_keys_load(td_reports *rep, td_error *err);
/* Creates the first key when there is no current one. */
td_status td__reports_keys_ensure(td_reports *rep, td_error *err);
/* Rotation when due, destruction at the end of retention. */
td_status td__reports_keys_tick(td_reports *rep, td_error *err);
/* The public side of key id (*found 0 when unknown), from the last load. */
void td__reports_key_pub(td_reports *rep, uint32_t id, td__report_key_pub *out, int *found);

/* Verifies a reported message (td_frank_keyring_verify), loading keys another node made when
 * the id is unknown here, and refusing a key past its destroy time before it is used. */
td_status td__reports_verify(td_reports *rep, const uint8_t salt[TD_FRANK_SALT_LEN],
                             const uint8_t *msg, size_t len, const td_frank_context *ctx,
                             const td_frank_proof *proof, td_frank_failure *why, td_error *err);

/* ---- reports_submit.c / reports_parse.c ---- */

/* Fills rej (may be NULL) and err; returns code. */
td_status td__report_refuse(td_report_rejection *rej, const char *problem, const char *field,
                            td_status code, td_error *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* ---- reports_preserve.c ---- */

/* Handles the reports whose case closed: removal seals them, keep deletes the review copy. */
td_status td__reports_preserve_tick(td_reports *rep, td_error *err);

#endif
