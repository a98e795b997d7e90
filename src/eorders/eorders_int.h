/* Inside the evidence orders component (src/eorders/, beside src/orders/, above casework,
 * evidence and audit): the handle and the helpers its files share.
 *
 * Files: eorders.c (schema, handle, names, shared helpers, the delivery key), eorders_parse.c
 * (the intake and event documents, no store), eorders_intake.c (receipt and deadlines),
 * eorders_events.c (events from the issuing side), eorders_data.c (the platform's data, sealed),
 * eorders_answer.c (approvals, cannot comply, correspondence, delivery), eorders_outbox.c
 * (messages to the issuing side), eorders_clock.c (tick and background thread),
 * eorders_read.c (audited reads, metrics, the report).
 *
 * Rules these files keep:
 *  - every change commits with its audit entry (td__eorders_audit inside td__eorders_tx);
 *  - the order's document is stored as JSON (the effective one, corrections applied) and read
 *    back with td_eorder_parse, so one parser decides what an order says;
 *  - details of an order (texts, identifiers) never go into the audit log, only digests, ids and
 *    codes: the log is read by auditors, the order is confidential. */
#ifndef TD_EORDERS_EORDERS_INT_H
#define TD_EORDERS_EORDERS_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "orders/orders_int.h"
#include "takedown/evidence_orders.h"

struct td_eorders {
    td_service *svc;
    td_eorders_options opts;
    td_orders *orders; /* borrowed or own */
    int own_orders;
    td_audit *log;
    td_evidence *evidence;
    /* The delivery signing key (eorders_delivery.key). */
    uint8_t sign_pk[32];
    uint8_t *sign_sk; /* 64 bytes, sodium_malloc'ed */
    /* Serialises put_data and deliver per handle: a put seals outside a transaction, a delivery
     * reads the records; neither may interleave with another of the same kind. */
    pthread_mutex_t data_lock;
    /* The provider of data takedown holds itself (td_eorders_set_provider), and when the tick
     * last asked it for every open order (service clock; under duty-free use, set atomically). */
    td_eorder_provider_fn provider;
    void *provider_ctx;
    pthread_mutex_t provider_lock; /* set after open while the clock thread runs: read under it */
    _Atomic int64_t last_link_ms;

    /* The background thread (eorders_clock.c). */
    pthread_t duty;
    int duty_started;
    pthread_mutex_t duty_lock;
    pthread_cond_t duty_wake;
    int duty_stop;
    _Atomic uint64_t ticks, tick_failures;
};

/* The provider and its context as set now (td_eorders_set_provider); 0 when none. */
int td__eorders_provider(td_eorders *eo, td_eorder_provider_fn *fn, void **ctx);

#define TD__EO_HOUR ((int64_t)3600000)
#define TD__EO_DAY ((int64_t)86400000)
#define TD__EO_TEN_DAYS (10 * TD__EO_DAY)
#define TD__EO_PRESERVE (60 * TD__EO_DAY)
#define TD__EO_EXTENSION (30 * TD__EO_DAY)
#define TD__EO_GROUNDS_WINDOW (96 * TD__EO_HOUR)
/* uk_opo: an order not served within 3 months of being made lapses (92 days: the longest three
 * calendar months). */
#define TD__EO_OPO_LAPSE (92 * TD__EO_DAY)

/* For calls whose failure only delays something a later step redoes (letting evidence go): their
 * status is deliberately not acted on. */
static inline void td__eo_ignore(td_status st) { (void)st; }

/* Open states: the clock may run. */
int td__eorder_state_open(td_eorder_state s);

/* One write transaction on the service's store. */
typedef td_status (*td__eorders_tx_fn)(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err);
td_status td__eorders_tx(td_eorders *eo, td__eorders_tx_fn fn, void *ctx, td_error *err);

/* Appends an audit entry inside the transaction; details is a JSON object (stolen, may be
 * NULL); *seq (may be NULL) receives the entry's number. */
td_status td__eorders_audit(td_eorders *eo, td_store_conn *c, const char *actor, const char *action,
                            int64_t order_id, json_t *details, uint64_t *seq, td_error *err);

/* The order named by text ("eo-<id>" or an ext_id) on c: *id, or TD_ERR_NOT_FOUND. */
td_status td__eorder_resolve(td_store_conn *c, const char *order, int64_t *id, td_error *err);

/* Loads order id on c (the document parsed back). */
td_status td__eorder_load(td_store_conn *c, int64_t id, td_eorder *out, td_error *err);

/* Production order o left its open states (delivered, withdrawn, not executed): the
 * preservation order it is linked to (D.earlier_order, or subsequent_production) is no longer
 * held for it. Inside the transaction. */
td_status td__eorder_production_done(td_store_conn *c, const td_eorder *o, td_error *err);

/* The member state of registered authority id ("" when unknown) and its kind (0). */
td_status td__eorder_authority_state(td_store_conn *c, int64_t id, char state[3],
                                     td_authority_kind *kind, td_error *err);

/* UPDATE eorders SET <set> WHERE id = $1, with vals as $2.. (n of them, at most 16). */
td_status td__eorder_update(td_store_conn *c, int64_t id, const char *set, const int64_t *vals,
                            int n, td_error *err);

/* The evidence case of an order: "eorder-<id>". */
void td__eorder_case_ref(char *out, size_t cap, int64_t id);

/* Checks a caller's text (required or not, at most max bytes). */
td_status td__eorders_text(const char *text, size_t max, const char *what, int required,
                           td_error *err);

/* Fills why (may be NULL) and err. */
td_status td__eorder_refuse(td_eorder_rejection *why, td_eorder_problem problem, const char *field,
                            td_status code, td_error *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Categories as a JSON array of names (new reference). */
json_t *td__eorder_categories_json(unsigned categories);

/* The time as JSON text ("...Z"), or null for 0. */
json_t *td__eorder_time_json(int64_t ms);

/* ---- eorders_parse.c ---- */

/* The document as JSON with one section replaced by each member of sections (an object of
 * section letters); the framework cannot change. *out (new reference) is the merged document. */
td_status td__eorder_merge_sections(const char *doc_json, const char *sections, char **out,
                                    td_eorder_rejection *why, td_error *err);

/* ---- eorders_intake.c ---- */

/* The deadlines of an order whose clock starts at start (receipt or clarification). */
void td__eorder_deadlines(const td_eorders *eo, const td_eorder_doc *d, int64_t received,
                          int64_t start, td_eorder_deadlines *out);

/* Distinct legal officers needed for doc. */
unsigned td__eorder_approvals_needed(const td_eorders *eo, const td_eorder_doc *d);

/* Fires "evidence.collect" for order id inside the transaction. */
td_status td__eorder_collect(td_eorders *eo, td_store_conn *c, int64_t id, const td_eorder_doc *d,
                             int64_t answer_by, td_error *err);

/* ---- eorders_answer.c ---- */

/* Makes the evidence release request of approved order o for its records (categories not
 * refused) and records it on the order (*request). */
td_status td__eorder_make_request(td_eorders *eo, const char *actor, const td_eorder *o,
                                  int64_t *request, td_error *err);

/* ---- eorders_outbox.c ---- */

/* Queues a message of kind for order o inside the transaction; details (stolen) may be NULL. */
td_status td__eorder_message(td_eorders *eo, td_store_conn *c, const td_eorder *o,
                             td_eorder_message_kind kind, json_t *details, td_error *err);
/* Cancels the pending messages of order id (withdrawal); *n (may be NULL) counts them. */
td_status td__eorder_messages_cancel(td_store_conn *c, int64_t id, int64_t *n, td_error *err);

/* ---- eorders_data.c ---- */

/* Lets the evidence of order id go: lifts its hold (it was kept while the order needed it);
 * after a delivery the case is kept for the evidence retention from now. Outside any
 * transaction; failures are the caller's to ignore (the purge only waits). */
td_status td__eorder_release_evidence(td_eorders *eo, int64_t id, int delivered, td_error *err);

/* Links what the provider holds for order id (outside any transaction; takes data_lock);
 * *linked counts the new records. */
td_status td__eorder_link(td_eorders *eo, const char *actor, int64_t id, size_t *linked,
                          td_error *err);

/* ---- eorders_clock.c ---- */

td_status td__eorders_duties_start(td_eorders *eo, td_error *err);
void td__eorders_duties_stop(td_eorders *eo);

#endif
