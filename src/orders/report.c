/* The transparency report (TCO Art. 7) for a period: every figure is one SQL count over the
 * stored records of orders, referrals, casework decisions, content, complaints and reviews, so
 * that an auditor can recompute it, and the report carries the audit log's size and root at the
 * time it was computed, to tie the published numbers to the tamper-evident log.
 *
 * Period semantics: an event counts in [from, to) by its own time: receipt for received orders,
 * the time of the measure for removals, the decision time for decisions and reinstatements. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "orders/orders_int.h"

typedef struct counter {
    td_store_conn *c;
    int64_t from, to;
    td_status st;
    td_error *err;
} counter;

/* The first column of sql with $1 = from, $2 = to (and $3 = extra when the SQL uses it). */
static json_int_t count3(counter *k, const char *sql, int64_t extra, int uses_extra)
{
    td_stmt *q;
    int row = 0;
    json_int_t v = 0;
    if (k->st)
        return 0;
    if ((k->st = td_store_prepare(k->c, sql, &q, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 1, k->from, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 2, k->to, k->err)) ||
        (uses_extra && (k->st = td_stmt_bind_int64(q, 3, extra, k->err))) ||
        (k->st = td_stmt_step(q, &row, k->err)))
        return 0;
    if (row)
        v = (json_int_t)td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return v;
}

static json_int_t count(counter *k, const char *sql) { return count3(k, sql, 0, 0); }

/* $3 = the one enum value the SQL compares with (an order kind, a state...): bound rather than
 * written in the text, so that the SQL follows the enum's numbers. */
static json_int_t count_is(counter *k, const char *sql, int64_t value)
{
    return count3(k, sql, value, 1);
}

/* $3 and $4 = two enum values. */
static json_int_t count_is2(counter *k, const char *sql, int64_t a, int64_t b)
{
    td_stmt *q;
    int row = 0;
    json_int_t v = 0;
    if (k->st)
        return 0;
    if ((k->st = td_store_prepare(k->c, sql, &q, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 1, k->from, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 2, k->to, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 3, a, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 4, b, k->err)) || (k->st = td_stmt_step(q, &row, k->err)))
        return 0;
    if (row)
        v = (json_int_t)td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return v;
}

#define RECEIVED " received_ms >= $1 AND received_ms < $2"

/* The period's remove decisions by their reason code (docs/casework.md, "Reasons"): {code: n},
 * "none" for decisions without one. */
static json_t *by_reason_code(counter *k)
{
    td_stmt *q;
    int row = 0;
    json_t *o = json_object();
    if (k->st || !o)
        return o;
    if ((k->st = td_store_prepare(k->c,
                                  "SELECT reason_code, COUNT(*) FROM decisions WHERE kind = $3"
                                  " AND decided_ms >= $1 AND decided_ms < $2 GROUP BY reason_code",
                                  &q, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 1, k->from, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 2, k->to, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 3, TD_DECISION_REMOVE, k->err)))
        return o;
    while ((k->st = td_stmt_step(q, &row, k->err)) == TD_OK && row) {
        const char *code = td_stmt_column_text(q, 0);
        json_object_set_new(o, *code ? code : "none", json_integer(td_stmt_column_int64(q, 1)));
    }
    td_stmt_reset(q);
    return o;
}

static json_t *orders_part(counter *k)
{
    json_int_t received =
        count_is(k, "SELECT COUNT(*) FROM orders WHERE kind = $3 AND" RECEIVED, TD_ORDER_REMOVAL);
    json_int_t in_time = count_is(k,
                                  "SELECT COUNT(*) FROM orders WHERE kind = $3 AND"
                                  " confirmed_ms >= $1 AND confirmed_ms < $2 AND breached_ms = 0",
                                  TD_ORDER_REMOVAL);
    json_int_t late = count_is(k,
                               "SELECT COUNT(*) FROM orders WHERE kind = $3 AND"
                               " confirmed_ms >= $1 AND confirmed_ms < $2 AND breached_ms <> 0",
                               TD_ORDER_REMOVAL);
    json_t *not_exec = json_object();
    json_int_t total_not = 0;
    for (int g = TD_CC_FORCE_MAJEURE; g <= TD_CC_MISSING_INFO; g++) {
        json_int_t n = count_is2(k,
                                 "SELECT COUNT(*) FROM orders WHERE kind = $4 AND" RECEIVED
                                 " AND confirmed_ms = 0 AND ground = $3",
                                 g, TD_ORDER_REMOVAL);
        json_object_set_new(not_exec, td_cannot_comply_name((td_cannot_comply)g), json_integer(n));
        total_not += n;
    }
    json_int_t pending = count_is(k,
                                  "SELECT COUNT(*) FROM orders WHERE kind = $3 AND" RECEIVED
                                  " AND confirmed_ms = 0 AND ground = 0",
                                  TD_ORDER_REMOVAL);
    json_object_set_new(not_exec, "pending", json_integer(pending));
    json_object_set_new(not_exec, "total", json_integer(total_not + pending));
    json_int_t avg = count_is(k,
                              "SELECT COALESCE(CAST(AVG(confirmed_ms - received_ms) AS INTEGER),"
                              " 0) FROM orders WHERE kind = $3 AND confirmed_ms >= $1"
                              " AND confirmed_ms < $2",
                              TD_ORDER_REMOVAL);
    json_int_t max = count_is(k,
                              "SELECT COALESCE(MAX(confirmed_ms - received_ms), 0) FROM orders"
                              " WHERE kind = $3 AND confirmed_ms >= $1 AND confirmed_ms < $2",
                              TD_ORDER_REMOVAL);
    return json_pack(
        "{s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:{s:I, s:I}}", "received", received,
        "executed_within_deadline", in_time, "executed_late", late, "not_executed", not_exec,
        "breaches",
        count_is(k,
                 "SELECT COUNT(*) FROM orders WHERE kind = $3 AND breached_ms >= $1"
                 " AND breached_ms < $2",
                 TD_ORDER_REMOVAL),
        "emergency",
        count_is(k, "SELECT COUNT(*) FROM orders WHERE kind = $3 AND emergency = 1 AND" RECEIVED,
                 TD_ORDER_REMOVAL),
        "cross_border",
        count_is(k,
                 "SELECT COUNT(*) FROM orders WHERE kind = $3 AND"
                 " cross_border = 1 AND" RECEIVED,
                 TD_ORDER_REMOVAL),
        "first_contact_early",
        count_is(k,
                 "SELECT COUNT(*) FROM orders WHERE kind = $3 AND"
                 " first_contact_early = 1 AND" RECEIVED,
                 TD_ORDER_REMOVAL),
        "receipt_to_measure_ms", "average", avg, "max", max);
}

td_status td_report_transparency(td_orders *o, int64_t from, int64_t to, char **json, td_error *err)
{
    td_store_conn *c;
    uint64_t size = 0;
    uint8_t root[TD_AUDIT_HASH_LEN];
    char root_hex[2 * TD_AUDIT_HASH_LEN + 1], from_text[32], to_text[32];
    td_status st;
    *json = NULL;
    if (to <= from)
        return td__error_set(err, TD_ERR_INVALID, "period: to must be after from");
    /* The log position first: every record counted below whose audit entry lies within this
     * size is counted; records committed while the report runs may be counted too. */
    if ((st = td_audit_size(o->log, &size, err)) || (st = td_audit_root(o->log, size, root, err)))
        return st;
    td__hex_encode(root, sizeof root, root_hex);
    if ((st = td_store_acquire(o->svc->store, 0, &c, err)))
        return st;
    counter k = {c, from, to, TD_OK, err};

    json_t *orders = orders_part(&k);
    /* Own measures: moderators' remove decisions, uploads blocked by hash matching (the
     * anti-re-upload measure), referrals decided against the terms. */
    json_int_t decisions = count_is(&k,
                                    "SELECT COUNT(*) FROM decisions WHERE kind = $3 AND"
                                    " decided_ms >= $1 AND decided_ms < $2",
                                    TD_DECISION_REMOVE);
    json_int_t blocks = count_is(&k, "SELECT COUNT(*) FROM content WHERE verdict = $3 AND" RECEIVED,
                                 TD_VERDICT_BLOCK);
    json_int_t referral_items =
        count_is(&k,
                 "SELECT COUNT(*) FROM order_targets t JOIN orders o ON o.id = t.order_id"
                 " WHERE o.kind = $3 AND t.removed = 1 AND o.decided_ms >= $1"
                 " AND o.decided_ms < $2",
                 TD_ORDER_REFERRAL);
    json_int_t order_items =
        count_is(&k,
                 "SELECT COUNT(*) FROM order_targets t JOIN orders o ON o.id = t.order_id"
                 " WHERE o.kind = $3 AND t.removed = 1 AND o.confirmed_ms >= $1"
                 " AND o.confirmed_ms < $2",
                 TD_ORDER_REMOVAL);
    json_t *items =
        json_pack("{s:I, s:{s:I, s:o, s:I, s:I, s:I}}", "after_orders", order_items,
                  "after_own_measures", "review_decisions", decisions,
                  "review_decisions_by_reason_code", by_reason_code(&k), "upload_blocks", blocks,
                  "referrals", referral_items, "total", decisions + blocks + referral_items);
    json_t *referrals = json_pack(
        "{s:I, s:I, s:I}", "received",
        count_is(&k, "SELECT COUNT(*) FROM orders WHERE kind = $3 AND" RECEIVED, TD_ORDER_REFERRAL),
        "removed",
        count_is(&k,
                 "SELECT COUNT(*) FROM orders WHERE kind = $3 AND referral_remove = 1"
                 " AND decided_ms >= $1 AND decided_ms < $2",
                 TD_ORDER_REFERRAL),
        "kept",
        count_is2(&k,
                  "SELECT COUNT(*) FROM orders WHERE kind = $3 AND state = $4 AND"
                  " referral_remove = 0 AND decided_ms >= $1 AND decided_ms < $2",
                  TD_ORDER_REFERRAL, TD_ORDER_DECIDED));
    json_t *complaints =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "received",
                  count(&k, "SELECT COUNT(*) FROM complaints WHERE" RECEIVED), "upheld",
                  count_is(&k,
                           "SELECT COUNT(*) FROM complaints WHERE state = $3 AND decided_ms >= $1"
                           " AND decided_ms < $2",
                           TD_COMPLAINT_UPHELD),
                  "rejected",
                  count_is(&k,
                           "SELECT COUNT(*) FROM complaints WHERE state = $3 AND decided_ms >= $1"
                           " AND decided_ms < $2",
                           TD_COMPLAINT_REJECTED),
                  "answered_late",
                  count_is(&k,
                           "SELECT COUNT(*) FROM complaints WHERE state <> $3 AND decided_ms >= $1"
                           " AND decided_ms < $2 AND decided_ms > due_ms",
                           TD_COMPLAINT_OPEN),
                  "open_at_end",
                  count_is(&k,
                           "SELECT COUNT(*) FROM complaints WHERE received_ms < $2 AND"
                           " (state = $3 OR decided_ms >= $2) AND $1 <= $2",
                           TD_COMPLAINT_OPEN),
                  "against_orders",
                  count(&k, "SELECT COUNT(*) FROM complaints WHERE order_id <> 0 AND" RECEIVED));
    json_t *proceedings = json_pack(
        "{s:I, s:I, s:I}", "review_requested",
        count(&k, "SELECT COUNT(*) FROM orders WHERE review_opened_ms >= $1"
                  " AND review_opened_ms < $2"),
        "order_upheld",
        count_is(&k,
                 "SELECT COUNT(*) FROM orders WHERE review = $3 AND review_decided_ms >= $1"
                 " AND review_decided_ms < $2",
                 TD_REVIEW_CONFIRMED),
        "order_annulled",
        count_is(&k,
                 "SELECT COUNT(*) FROM orders WHERE review = $3 AND review_decided_ms >= $1"
                 " AND review_decided_ms < $2",
                 TD_REVIEW_REINSTATE));
    json_t *reinstated = json_pack(
        "{s:I, s:I}", "after_proceedings",
        count(&k, "SELECT COUNT(*) FROM order_targets t JOIN orders o ON o.id = t.order_id"
                  " WHERE t.removed = 1 AND o.reinstated_ms >= $1 AND o.reinstated_ms < $2"),
        "after_complaints",
        count(&k, "SELECT COUNT(*) FROM complaints WHERE reinstated_ms >= $1"
                  " AND reinstated_ms < $2"));
    td_store_release(o->svc->store, c);
    td_order_time_format(from, from_text);
    td_order_time_format(to, to_text);
    json_t *r =
        json_pack("{s:{s:s, s:s, s:I, s:I}, s:o, s:o, s:o, s:o, s:o, s:o,"
                  " s:{s:I}, s:{s:I, s:s}}",
                  "period", "from", from_text, "to", to_text, "from_ms", (json_int_t)from, "to_ms",
                  (json_int_t)to, "orders", orders, "items_removed", items, "referrals", referrals,
                  "complaints", complaints, "proceedings", proceedings, "reinstatements",
                  reinstated, "anti_reupload", "blocked_uploads", blocks, "audit_log", "size",
                  (json_int_t)size, "root", root_hex);
    if (k.st) {
        json_decref(r);
        return k.st;
    }
    char *text = r ? json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(r);
    if (!text)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    *json = td__strdup(text);
    free(text); /* jansson's */
    return *json ? TD_OK : td__error_set(err, TD_ERR_NOMEM, "out of memory");
}
