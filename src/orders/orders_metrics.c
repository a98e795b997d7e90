/* Monitoring figures of the orders component (td_orders_metrics_get): a handful of aggregate
 * queries over the stored orders, targets and complaints, so that the figures survive restarts
 * and agree with the transparency report (both count the records, not events seen by one
 * process). The server renders them in /metrics. */
#include <string.h>

#include "core/error.h"
#include "orders/orders_int.h"

const int64_t td_orders_metric_bounds_ms[TD_ORDERS_METRIC_BUCKETS] = {
    10000, 30000, 60000, 300000, 900000, 1800000, 2700000, 3600000, 7200000, 86400000};

/* Removal orders with a confirmed measure: count, sum and one cumulative count per bound. */
static const char removal_sql[] = "SELECT COUNT(*), COALESCE(SUM(confirmed_ms - received_ms), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $1), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $2), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $3), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $4), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $5), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $6), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $7), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $8), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $9), 0),"
                                  " COALESCE(SUM(confirmed_ms - received_ms <= $10), 0)"
                                  " FROM orders WHERE kind = $11 AND confirmed_ms > 0";

/* The columns of one row of sql (binds[0..n_binds) as $1..) into out[0..n). */
static td_status row_of(td_store_conn *c, const char *sql, const int64_t *binds, int n_binds,
                        int64_t *out, int n, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st = td_store_prepare(c, sql, &q, err);
    for (int i = 0; st == TD_OK && i < n_binds; i++)
        st = td_stmt_bind_int64(q, i + 1, binds[i], err);
    if (st || (st = td_stmt_step(q, &row, err)))
        return st;
    for (int i = 0; i < n; i++)
        out[i] = row ? td_stmt_column_int64(q, i) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

td_status td_orders_metrics_get(td_orders *o, td_orders_metrics *out, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    int64_t v[12];
    memset(out, 0, sizeof *out);
    int64_t now = td__now(o->svc);
    td_status st = td_store_acquire(o->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c, removal_sql, &q, err)))
        goto out;
    for (int i = 0; i < TD_ORDERS_METRIC_BUCKETS && st == TD_OK; i++)
        st = td_stmt_bind_int64(q, i + 1, td_orders_metric_bounds_ms[i], err);
    if (st || (st = td_stmt_bind_int64(q, TD_ORDERS_METRIC_BUCKETS + 1, TD_ORDER_REMOVAL, err)) ||
        (st = td_stmt_step(q, &row, err)))
        goto out;
    if (row) {
        out->removal_count = (uint64_t)td_stmt_column_int64(q, 0);
        out->removal_sum_ms = td_stmt_column_int64(q, 1);
        for (int i = 0; i < TD_ORDERS_METRIC_BUCKETS; i++)
            out->removal_buckets[i] = (uint64_t)td_stmt_column_int64(q, i + 2);
    }
    td_stmt_reset(q);
    const int64_t open_binds[4] = {TD_ORDER_RECEIVED, TD_ORDER_EXECUTED, TD_ORDER_PAUSED,
                                   TD_ORDER_REMOVAL};
    if ((st = row_of(c,
                     "SELECT COALESCE(SUM(state = $1), 0), COALESCE(SUM(state = $2), 0),"
                     " COALESCE(SUM(state = $3), 0),"
                     " COALESCE(SUM(state IN ($1, $2, $3) AND escalation > 0), 0),"
                     " COALESCE(SUM(escalation), 0), COALESCE(SUM(breached_ms > 0), 0)"
                     " FROM orders WHERE kind = $4",
                     open_binds, 4, v, 6, err)))
        goto out;
    out->open_received = v[0];
    out->open_executed = v[1];
    out->open_paused = v[2];
    out->open_escalated = v[3];
    out->escalation_marks = v[4];
    out->breaches = v[5];
    const int64_t referral_binds[2] = {TD_ORDER_REFERRAL, TD_ORDER_DECIDED};
    if ((st = row_of(c, "SELECT COUNT(*) FROM orders WHERE kind = $1 AND state <> $2",
                     referral_binds, 2, v, 1, err)))
        goto out;
    out->referrals_open = v[0];
    if ((st = row_of(c,
                     "SELECT COUNT(*), COALESCE(SUM(due_ms <= $1), 0) FROM complaints"
                     " WHERE state = $2",
                     (const int64_t[]){now, TD_COMPLAINT_OPEN}, 2, v, 2, err)))
        goto out;
    out->complaints_open = v[0];
    out->complaints_overdue = v[1];
    if ((st = row_of(c,
                     "SELECT COUNT(DISTINCT o.id) FROM orders o JOIN order_targets t"
                     " ON t.order_id = o.id WHERE o.kind = $1 AND o.state = $2"
                     " AND t.removed <> 0 AND t.located <> 0 AND t.evidence_item = 0",
                     (const int64_t[]){TD_ORDER_REMOVAL, TD_ORDER_CONFIRMED}, 2, v, 1, err)))
        goto out;
    out->unpreserved = v[0];
out:
    td_store_release(o->svc->store, c);
    return st;
}
