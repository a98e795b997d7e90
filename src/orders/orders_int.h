/* Inside the orders component (src/orders/, above casework, evidence and audit): the handle and
 * the helpers its files (orders*.c, complaints.c, report.c) share. */
#ifndef TD_ORDERS_ORDERS_INT_H
#define TD_ORDERS_ORDERS_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "casework/service_int.h"
#include "takedown/orders.h"

struct td_orders {
    td_service *svc;
    td_orders_options opts;
    td_audit *log; /* borrowed: the service's (or the caller's) */
    td_evidence *evidence;
    int own_evidence;
    /* Serialises td_order_preserve_media: two uploads for one target never both seal. */
    pthread_mutex_t media_lock;
    /* Serialises td_order_preserve (a confirmation's sealing, the clock thread's retry): each
     * reads which targets are sealed and seals the others, so two at once would seal a target
     * twice. Held around sealing only, never inside a store transaction. */
    pthread_mutex_t preserve_lock;

    /* The background thread (orders_duties.c, opts.clock): stop flag and wake-up under
     * duty_lock (cond on the monotonic clock), figures read by td_orders_clock_get_stats. */
    pthread_t duty;
    int duty_started;
    pthread_mutex_t duty_lock;
    pthread_cond_t duty_wake;
    int duty_stop;
    _Atomic uint64_t ticks, tick_failures, preservation_retries, evidence_purged;
};

#define TD__HOUR ((int64_t)3600000)
#define TD__DAY ((int64_t)86400000)

/* Runs fn(ctx, conn) inside one write transaction on the service's writer, committing when it
 * returns TD_OK and rolling back otherwise. */
typedef td_status (*td__orders_tx_fn)(td_orders *o, td_store_conn *c, void *ctx, td_error *err);
td_status td__orders_tx(td_orders *o, td__orders_tx_fn fn, void *ctx, td_error *err);

/* The signed intake of orders and evidence orders (orders_intake.c). The issuing authority's
 * name from a body not yet known to be genuine (its leading object only, so that bytes appended
 * to a signed body are caught by the signature): issuing_authority.name, or inside the object
 * member section ("A" for evidence orders); 0 with the name, -1 when none can be read. */
int td__authority_name_peek(const uint8_t *body, size_t len, const char *section,
                            char out[TD_NAME_MAX + 1]);
/* Whether sig is a's signature over body[0..len). */
int td__authority_signed(const uint8_t sig[64], const uint8_t *body, size_t len,
                         const td_authority *a);
/* With no name to go by: the authority whose key verifies the body, among the one the caller's
 * key is linked to (linked > 0) or else every registered authority; *found 0: none. */
td_status td__authority_find_signer(td_orders *o, const uint8_t sig[64], const uint8_t *body,
                                    size_t len, int64_t linked, td_authority *out, int *found,
                                    td_error *err);

/* Appends an audit entry inside the transaction; details is a JSON object (stolen). */
td_status td__orders_audit(td_orders *o, td_store_conn *c, const char *actor, const char *action,
                           const char *object, json_t *details, td_error *err);

/* Checks an optional caller text: at most max bytes, valid UTF-8 is left to the audit log;
 * required non-zero refuses NULL or "". */
td_status td__orders_text(const char *text, size_t max, const char *what, int required,
                          td_error *err);

/* Loads an order row (with its targets) on connection c. */
td_status td__order_load(td_store_conn *c, int64_t id, td_order *out, td_error *err);

/* Fires the "remove" or "restore" webhook (TD_EVENT_REMOVE / TD_EVENT_RESTORE) for one content
 * item because of what (e.g. "order:12"), inside the transaction. */
td_status td__orders_fire(td_orders *o, td_store_conn *c, unsigned event, const char *what,
                          const char *content_id, const char *url, json_t *extra, td_error *err);

/* Enqueues the "notice" webhook (TD_EVENT_NOTICE) of user notice notice_id, released, inside the
 * transaction: the removed item, the reasons and the order, how to seek redress, in the words of
 * the operator's notice template for the order's language (orders_notices.c). */
td_status td__notice_fire(td_orders *o, td_store_conn *c, int64_t notice_id, td_error *err);

/* The order that removed content_id (confirmed, not reinstated), 0 if none. */
td_status td__order_for_content(td_store_conn *c, const char *content_id, int64_t *order_id,
                                td_error *err);

/* Non-zero for the code of an EU Member State ("EL" and "GR" both for Greece). */
int td__eu_member_state(const char *code);

/* An authority by name on connection c (the intake's lookup); *found 0 when unknown. */
td_status td__authority_by_name(td_store_conn *c, const char *name, td_authority *out, int *found,
                                td_error *err);

/* The evidence case of an order: "order-<id>". */
void td__order_case_ref(char *out, size_t cap, int64_t id);

/* Preserves order id (as td_order_preserve) if it is a confirmed removal order not yet fully
 * preserved, checking and sealing under the same lock; *tried says whether it had to. The clock
 * thread's retry (orders_duties.c). */
td_status td__order_preserve_retry(td_orders *o, int64_t id, int *tried, td_error *err);

/* The background thread: started by td_orders_open (opts.clock), stopped by td_orders_close;
 * stopping a thread never started does nothing. */
td_status td__orders_duties_start(td_orders *o, td_error *err);
void td__orders_duties_stop(td_orders *o);

/* Complaints (complaints.c): marks open complaints past their due time (tick). */
td_status td__complaints_tick(td_orders *o, td_store_conn *c, int64_t now, size_t *overdue,
                              td_error *err);

#endif
