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

/* ---- the figures behind the console's charts ---- */

#define WEEK_MS ((int64_t)7 * 86400000)
/* 1970-01-05T00:00:00Z, the first Monday of the epoch: weeks start on Mondays 00:00 UTC. */
#define MONDAY_MS ((int64_t)4 * 86400000)
/* Weeks listed with their zeros when the period spans at most this many; longer periods list
 * only the weeks with orders or referrals. */
#define WEEKS_DENSE 1100

/* A statement with $1 = from, $2 = to and n more integer parameters $3...; NULL when k failed. */
static td_stmt *query(counter *k, const char *sql, const int64_t *more, int n)
{
    td_stmt *q;
    if (k->st || (k->st = td_store_prepare(k->c, sql, &q, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 1, k->from, k->err)) ||
        (k->st = td_stmt_bind_int64(q, 2, k->to, k->err)))
        return NULL;
    for (int i = 0; i < n; i++)
        if ((k->st = td_stmt_bind_int64(q, 3 + i, more[i], k->err)))
            return NULL;
    return q;
}

static int64_t week_of(int64_t ms)
{
    int64_t d = ms - MONDAY_MS;
    return (d >= 0 ? d / WEEK_MS : -((-d + WEEK_MS - 1) / WEEK_MS)) * WEEK_MS + MONDAY_MS;
}

static json_t *week_row(int64_t start, json_int_t orders, json_int_t referrals)
{
    char day[32];
    td_order_time_format(start, day);
    day[10] = '\0'; /* YYYY-MM-DD */
    return json_pack("{s:s, s:I, s:I}", "week_start", day, "orders", orders, "referrals",
                     referrals);
}

/* Removal orders and referrals received in the period, per week (Monday 00:00 UTC), oldest
 * first. The rows come sorted by time, so one pass groups them. */
static json_t *orders_per_week(counter *k)
{
    const int64_t kinds[2] = {TD_ORDER_REMOVAL, TD_ORDER_REFERRAL};
    json_t *a = json_array();
    td_stmt *q = query(k,
                       "SELECT received_ms, kind FROM orders WHERE (kind = $3 OR kind = $4) AND"
                       " received_ms >= $1 AND received_ms < $2 ORDER BY received_ms",
                       kinds, 2);
    if (!q || !a)
        return a;
    int dense = (week_of(k->to - 1) - week_of(k->from)) / WEEK_MS < WEEKS_DENSE;
    int64_t week = dense ? week_of(k->from) : INT64_MIN;
    json_int_t orders = 0, referrals = 0;
    int row;
    while ((k->st = td_stmt_step(q, &row, k->err)) == TD_OK && row) {
        int64_t w = week_of(td_stmt_column_int64(q, 0));
        while (week != INT64_MIN && week < w) {
            if (dense || orders || referrals)
                json_array_append_new(a, week_row(week, orders, referrals));
            orders = referrals = 0;
            week = dense ? week + WEEK_MS : w;
        }
        if (week == INT64_MIN)
            week = w;
        if (td_stmt_column_int64(q, 1) == TD_ORDER_REMOVAL)
            orders++;
        else
            referrals++;
    }
    if (k->st)
        return a;
    td_stmt_reset(q);
    int64_t last = week_of(k->to - 1);
    while (week != INT64_MIN && week <= last) {
        if (dense || orders || referrals)
            json_array_append_new(a, week_row(week, orders, referrals));
        orders = referrals = 0;
        week = dense ? week + WEEK_MS : INT64_MIN;
    }
    return a;
}

/* The removal orders whose measure was confirmed in the period (as receipt_to_measure_ms), by
 * the time from receipt to the measure: buckets with the lower bound included, and the median
 * and 95th percentile by the nearest rank (the value at rank ceil(p * n) of n sorted). */
static const int64_t histogram_minutes[] = {0, 5, 10, 15, 30, 45, 60, 120};
#define N_HISTOGRAM (sizeof histogram_minutes / sizeof histogram_minutes[0])

static json_int_t nth_time(counter *k, json_int_t rank)
{
    const int64_t more[2] = {TD_ORDER_REMOVAL, rank - 1};
    json_int_t v = 0;
    int row = 0;
    td_stmt *q = query(k,
                       "SELECT confirmed_ms - received_ms FROM orders WHERE kind = $3 AND"
                       " confirmed_ms >= $1 AND confirmed_ms < $2"
                       " ORDER BY confirmed_ms - received_ms LIMIT 1 OFFSET $4",
                       more, 2);
    if (!q || (k->st = td_stmt_step(q, &row, k->err)))
        return 0;
    if (row)
        v = (json_int_t)td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return v;
}

static json_t *removal_histogram(counter *k)
{
    json_t *buckets = json_array();
    json_int_t total = 0;
    for (size_t i = 0; i < N_HISTOGRAM && buckets; i++) {
        int64_t lo = histogram_minutes[i] * 60000;
        int64_t hi = i + 1 < N_HISTOGRAM ? histogram_minutes[i + 1] * 60000 : INT64_MAX;
        const int64_t more[3] = {TD_ORDER_REMOVAL, lo, hi};
        json_int_t n = 0;
        int row = 0;
        td_stmt *q = query(k,
                           "SELECT COUNT(*) FROM orders WHERE kind = $3 AND confirmed_ms >= $1"
                           " AND confirmed_ms < $2 AND confirmed_ms - received_ms >= $4"
                           " AND confirmed_ms - received_ms < $5",
                           more, 3);
        if (!q || (k->st = td_stmt_step(q, &row, k->err)))
            break;
        if (row)
            n = (json_int_t)td_stmt_column_int64(q, 0);
        td_stmt_reset(q);
        total += n;
        json_array_append_new(
            buckets,
            i + 1 < N_HISTOGRAM
                ? json_pack("{s:I, s:I, s:I}", "from_minutes", (json_int_t)histogram_minutes[i],
                            "to_minutes", (json_int_t)histogram_minutes[i + 1], "orders", n)
                : json_pack("{s:I, s:n, s:I}", "from_minutes", (json_int_t)histogram_minutes[i],
                            "to_minutes", "orders", n));
    }
    json_int_t median = total ? nth_time(k, (total + 1) / 2) : 0;
    json_int_t p95 = total ? nth_time(k, (95 * total + 99) / 100) : 0;
    return json_pack("{s:o, s:I, s:o, s:o, s:o, s:o}", "buckets", buckets ? buckets : json_array(),
                     "orders", total, "median_s", total ? json_integer(median / 1000) : json_null(),
                     "p95_s", total ? json_integer(p95 / 1000) : json_null(), "median_ms",
                     total ? json_integer(median) : json_null(), "p95_ms",
                     total ? json_integer(p95) : json_null());
}

/* The matches recorded for content received in the period (uploads blocked included; matches an
 * allow bank suppressed left out), per bank, by bank name. POST /v1/check records nothing. */
static json_t *matches_per_bank(counter *k)
{
    json_t *a = json_array();
    int row;
    td_stmt *q = query(k,
                       "SELECT m.bank, COUNT(*) FROM matches m JOIN content c"
                       " ON c.id = m.content_ref WHERE c.received_ms >= $1 AND c.received_ms < $2"
                       " AND m.suppressed = 0 GROUP BY m.bank ORDER BY m.bank",
                       NULL, 0);
    if (!q || !a)
        return a;
    while ((k->st = td_stmt_step(q, &row, k->err)) == TD_OK && row)
        json_array_append_new(a, json_pack("{s:s, s:I}", "bank", td_stmt_column_text(q, 0),
                                           "matches", (json_int_t)td_stmt_column_int64(q, 1)));
    if (k->st == TD_OK)
        td_stmt_reset(q);
    return a;
}

/* Review decisions made in the period by outcome (every kind listed, zeros included). */
static json_t *decisions_per_outcome(counter *k)
{
    json_t *o = json_object();
    for (int d = TD_DECISION_REMOVE; d <= TD_DECISION_ESCALATE && o; d++)
        json_object_set_new(o, td_decision_name((td_decision_kind)d),
                            json_integer(count_is(k,
                                                  "SELECT COUNT(*) FROM decisions WHERE kind = $3"
                                                  " AND decided_ms >= $1 AND decided_ms < $2",
                                                  d)));
    return o;
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
    json_t *per_week = orders_per_week(&k), *histogram = removal_histogram(&k),
           *per_bank = matches_per_bank(&k), *per_outcome = decisions_per_outcome(&k);
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
    json_t *r = json_pack(
        "{s:{s:s, s:s, s:I, s:I}, s:o, s:o, s:o, s:o, s:o, s:o,"
        " s:{s:I}, s:o, s:o, s:o, s:o, s:{s:I, s:s}}",
        "period", "from", from_text, "to", to_text, "from_ms", (json_int_t)from, "to_ms",
        (json_int_t)to, "orders", orders, "items_removed", items, "referrals", referrals,
        "complaints", complaints, "proceedings", proceedings, "reinstatements", reinstated,
        "anti_reupload", "blocked_uploads", blocks, "orders_per_week", per_week,
        "removal_time_histogram", histogram, "matches_per_bank", per_bank, "decisions_per_outcome",
        per_outcome, "audit_log", "size", (json_int_t)size, "root", root_hex);
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
