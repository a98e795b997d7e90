/* Inside the evidence store: the handle and the helpers its files share. evidence.c opens the
 * store and holds the master key ceremony, evidence_seal.c seals items, evidence_retention.c
 * keeps cases (extension, hold, purge), evidence_release.c runs the k-of-n release (requests,
 * approvals, the release itself) and evidence_read.c answers metadata reads. The key hierarchy is
 * described in include/takedown/evidence.h; these files keep its rules:
 *  - no secret key is ever written anywhere but in sealed form; the master seed exists only while
 *    a release runs (guarded memory, wiped at once);
 *  - shares submitted for a request stay in this process's guarded memory until the release (or
 *    the handle's close), never in the store;
 *  - every state change commits together with its audit entry (td_audit_append_in), and a
 *    release is logged before any plaintext is produced. */
#ifndef TD_EVIDENCE_EVIDENCE_INT_H
#define TD_EVIDENCE_EVIDENCE_INT_H

#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "takedown/audit.h"
#include "takedown/evidence.h"
#include "takedown/store.h"

#define TD__EVIDENCE_MAX_REF 256
#define TD__EVIDENCE_MAX_NAME 128
#define TD__EVIDENCE_MAX_TEXT 4096
#define TD__EVIDENCE_WRAPPED_LEN (32 + crypto_box_SEALBYTES)
#define TD__EVIDENCE_MAX_PENDING 256

/* Shares held for one release request (evidence_release.c alone touches them). */
typedef struct td__evidence_pending {
    int64_t request_id;
    unsigned count;
    td_share *shares; /* sodium_allocarray(TD_SHAMIR_MAX_SHARES) */
} td__evidence_pending;

struct td_evidence {
    td_store *store;
    td_audit *log;
    td_evidence_options opts;
    char *dir;            /* DATA_DIR/evidence */
    pthread_mutex_t lock; /* guards pend and n_pend */
    td__evidence_pending pend[TD__EVIDENCE_MAX_PENDING];
    size_t n_pend;
};

/* The master key's public half and its share set, as the key ceremony stored them. */
typedef struct td__evidence_master {
    uint8_t set_id[TD_SHARE_SET_ID_LEN];
    unsigned k, n;
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
} td__evidence_master;

/* States of a release request (evidence_requests.state). */
enum { TD__EVIDENCE_REQ_OPEN = 0, TD__EVIDENCE_REQ_RELEASED = 1 };

/* ---- evidence.c ---- */

/* Now in UTC milliseconds, from the injected clock when there is one. */
int64_t td__evidence_now(const td_evidence *ev);

/* Compact JSON of o (stolen) in library memory, or NULL. */
struct json_t;
char *td__evidence_dump(struct json_t *o);

/* Refuses an empty s or one longer than max bytes; what names it in the message. */
td_status td__evidence_check_text(const char *what, const char *s, size_t max, td_error *err);

/* Reads the master key row; TD_ERR_NOT_FOUND before the key ceremony. */
td_status td__evidence_load_master(td_store_conn *c, td__evidence_master *m, td_error *err);

/* Runs body(ev, conn, arg) in a write transaction on the writer connection. */
typedef td_status (*td__evidence_tx_fn)(td_evidence *ev, td_store_conn *c, void *arg,
                                        td_error *err);
td_status td__evidence_tx(td_evidence *ev, td__evidence_tx_fn body, void *arg, td_error *err);

/* ---- evidence_seal.c ---- */

/* The sealed file of item id, and the text that binds its contents to case and item. */
void td__evidence_item_path(const td_evidence *ev, int64_t id, char *out, size_t cap);
void td__evidence_item_bind(const char *case_ref, int64_t id, char *out, size_t cap);

/* ---- evidence_retention.c ---- */

/* A case's dates, hold and item count; TD_ERR_NOT_FOUND when there is no such case. */
td_status td__evidence_case_info(td_store_conn *c, const char *ref, td_evidence_case_info *out,
                                 td_error *err);

/* ---- evidence_release.c ---- */

/* Whether a request's item list ("1,5,9"; empty: every item of its case) names item id. */
int td__evidence_item_named(const char *list, int64_t id);

/* How many shares this process holds for request_id (takes the lock). */
unsigned td__evidence_shares_held(td_evidence *ev, int64_t request_id);
/* Wipes and frees every held share (the handle's close: no other thread uses it). */
void td__evidence_shares_wipe(td_evidence *ev);

#endif
