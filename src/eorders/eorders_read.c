/* Reading evidence orders (every read audited, with the reader's purpose: the certificate and
 * its data are confidential, and who looked at them, and why, must be provable), the monitoring
 * figures and the evidence-order part of the transparency report.
 *
 * The report counts stored records, one query per figure, in [from, to) by each event's own
 * time (receipt, delivery, non-execution, end), and quotes the audit log's size and root, as
 * the removal orders' report does (report.c), so an auditor can recompute it from an export. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "eorders/eorders_int.h"

/* ---- reads ---- */

typedef struct get_args {
    const char *actor, *purpose, *order;
    td_eorder *out;
} get_args;

static td_status get_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    get_args *a = ctx;
    int64_t id = 0;
    td_status st;
    if ((st = td__eorder_resolve(c, a->order, &id, err)) ||
        (st = td__eorder_load(c, id, a->out, err)))
        return st;
    return td__eorders_audit(eo, c, a->actor, "eorder.read", id,
                             json_pack("{s:s, s:s}", "what", "order", "purpose", a->purpose), NULL,
                             err);
}

td_status td_eorder_get(td_eorders *eo, const char *actor, const char *purpose, const char *order,
                        td_eorder *out, td_error *err)
{
    td_status st;
    if ((st = td__eorders_text(purpose, TD_EORDER_TEXT_MAX, "purpose", 1, err)))
        return st;
    get_args a = {actor, purpose, order, out};
    st = td__eorders_tx(eo, get_body, &a, err);
    if (st)
        memset(out, 0, sizeof *out);
    return st;
}

#define SUMMARY_COLUMNS                                                                            \
    "id, framework, deadline_class, issuing_state, reference, COALESCE(ext_id, ''), state,"        \
    " received_ms, clock_start_ms, collect_ms, due_ms, transmit_from_ms, preserve_until_ms,"       \
    " grounds_until_ms, escalation, breached_ms, categories, approvals_needed,"                    \
    " (SELECT COUNT(*) FROM eorder_approvals a WHERE a.order_id = eorders.id),"                    \
    " grounds_blocked, restricted, production_pending, paused_ms"

static void summary_row(td_stmt *q, void *item)
{
    td_eorder_summary *s = item;
    int col = 0;
#define I64() td_stmt_column_int64(q, col++)
#define TXT(dst) td__copy_trunc(dst, sizeof dst, td_stmt_column_text(q, col++))
    s->id = I64();
    td_eorder_id_format(s->id, s->id_text);
    s->framework = (td_eorder_framework)I64();
    s->deadline = (td_eorder_deadline)I64();
    TXT(s->issuing_state);
    TXT(s->reference);
    TXT(s->ext_id);
    s->state = (td_eorder_state)I64();
    s->received_ms = I64();
    s->deadlines.clock_start_ms = I64();
    s->deadlines.collect_ms = I64();
    s->deadlines.due_ms = I64();
    s->deadlines.transmit_from_ms = I64();
    s->deadlines.preserve_until_ms = I64();
    s->deadlines.grounds_until_ms = I64();
    s->escalation = (int)I64();
    s->breached_ms = I64();
    s->categories = (unsigned)I64();
    s->approvals_needed = (unsigned)I64();
    s->approvals = (unsigned)I64();
    s->grounds_blocked = (unsigned)I64();
    s->restricted = (int)I64();
    s->production_pending = (int)I64();
    s->paused_ms = I64();
#undef I64
#undef TXT
}

typedef struct list_args {
    const char *actor, *purpose;
    int open_only;
} list_args;

static td_status list_audit_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    list_args *a = ctx;
    return td__eorders_audit(eo, c, a->actor, "eorder.read", 0,
                             json_pack("{s:s, s:s, s:b}", "what", "list", "purpose", a->purpose,
                                       "open_only", a->open_only),
                             NULL, err);
}

td_status td_eorder_list(td_eorders *eo, const char *actor, const char *purpose, int open_only,
                         size_t limit, td_eorder_summary **out, size_t *count, td_error *err)
{
    td_status st;
    *out = NULL;
    *count = 0;
    if ((st = td__eorders_text(purpose, TD_EORDER_TEXT_MAX, "purpose", 1, err)))
        return st;
    if (limit == 0)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        limit = TD_PAGE_MAX;
    list_args a = {actor, purpose, open_only};
    if ((st = td__eorders_tx(eo, list_audit_body, &a, err)))
        return st;
    if (!open_only) {
        int64_t binds[1] = {(int64_t)limit};
        return td_store_read_rows(eo->svc->store,
                                  "SELECT " SUMMARY_COLUMNS " FROM eorders ORDER BY id DESC"
                                  " LIMIT $1",
                                  binds, 1, limit, sizeof **out, summary_row, (void **)out, count,
                                  err);
    }
    /* Open orders, the most urgent first: a production deadline, else the preservation's end;
     * paused orders (no deadline) last. */
    int64_t binds[6] = {TD_EORDER_RECEIVED, TD_EORDER_COLLECTING, TD_EORDER_PRESERVED,
                        TD_EORDER_APPROVED, TD_EORDER_PAUSED,     (int64_t)limit};
    return td_store_read_rows(eo->svc->store,
                              "SELECT " SUMMARY_COLUMNS " FROM eorders"
                              " WHERE state IN ($1, $2, $3, $4, $5)"
                              " ORDER BY CASE WHEN due_ms > 0 THEN due_ms"
                              " WHEN preserve_until_ms > 0 THEN preserve_until_ms"
                              " ELSE 9223372036854775807 END, id LIMIT $6",
                              binds, 6, limit, sizeof **out, summary_row, (void **)out, count, err);
}

/* ---- metrics ---- */

static td_status scalar(td_store_conn *c, const char *sql, const int64_t *binds, int n,
                        int64_t *out, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st = td_store_prepare(c, sql, &q, err);
    for (int i = 0; st == TD_OK && i < n; i++)
        st = td_stmt_bind_int64(q, i + 1, binds[i], err);
    if (st || (st = td_stmt_step(q, &row, err)))
        return st;
    *out = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

td_status td_eorders_metrics_get(td_eorders *eo, td_eorders_metrics *out, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    memset(out, 0, sizeof *out);
    td_status st = td_store_acquire(eo->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c, "SELECT state, COUNT(*) FROM eorders GROUP BY state", &q, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        int64_t s = td_stmt_column_int64(q, 0);
        if (s >= 1 && s <= TD_EORDER_STATE_MAX)
            out->by_state[s] = td_stmt_column_int64(q, 1);
    }
    td_stmt_reset(q);
    if (st)
        goto out;
    for (int s = 1; s <= TD_EORDER_STATE_MAX; s++)
        if (td__eorder_state_open((td_eorder_state)s))
            out->open += out->by_state[s];
    int64_t open[5] = {TD_EORDER_RECEIVED, TD_EORDER_COLLECTING, TD_EORDER_PRESERVED,
                       TD_EORDER_APPROVED, TD_EORDER_PAUSED};
    int64_t pending[2] = {TD_EORDER_MSG_PENDING, 0};
    int64_t delivered[1] = {TD_EORDER_DELIVERED};
    if ((st = scalar(c,
                     "SELECT COUNT(*) FROM eorders WHERE escalation > 0"
                     " AND state IN ($1, $2, $3, $4, $5)",
                     open, 5, &out->open_escalated, err)) ||
        (st = scalar(c, "SELECT COALESCE(SUM(marks_total), 0) FROM eorders", NULL, 0,
                     &out->escalation_marks, err)) ||
        (st = scalar(c, "SELECT COUNT(*) FROM eorders WHERE breached_ms > 0", NULL, 0,
                     &out->breaches, err)) ||
        (st = scalar(c, "SELECT COUNT(*) FROM eorders WHERE restricted = 1 AND state = $1",
                     delivered, 1, &out->restricted, err)) ||
        (st = scalar(c, "SELECT COUNT(*) FROM eorder_outbox WHERE state = $1", pending, 1,
                     &out->outbox_pending, err)) ||
        (st = scalar(c, "SELECT COUNT(*) FROM eorder_outbox WHERE state = $1 AND attempts > $2",
                     pending, 2, &out->outbox_retrying, err)))
        goto out;
out:
    td_store_release(eo->svc->store, c);
    return st;
}

/* ---- the report ---- */

typedef struct counter {
    td_store_conn *c;
    int64_t from, to;
    td_status st;
    td_error *err;
} counter;

/* The first column of sql with $1 = from, $2 = to and $3.. = extra[0..n). */
static json_int_t count_n(counter *k, const char *sql, const int64_t *extra, int n)
{
    int64_t binds[8] = {k->from, k->to};
    int64_t v = 0;
    if (k->st || n > 6)
        return 0;
    for (int i = 0; i < n; i++)
        binds[2 + i] = extra[i];
    k->st = scalar(k->c, sql, binds, 2 + n, &v, k->err);
    return (json_int_t)v;
}

static json_int_t count_is(counter *k, const char *sql, int64_t value)
{
    return count_n(k, sql, &value, 1);
}

static void delay_item(td_stmt *q, void *item) { *(int64_t *)item = td_stmt_column_int64(q, 0); }

#define REPORT_DELAYS_MAX 1000000

td_status td_eorders_report(td_eorders *eo, int64_t from, int64_t to, char **json, td_error *err)
{
    td_store_conn *c;
    uint64_t size = 0;
    uint8_t root[TD_AUDIT_HASH_LEN];
    char root_hex[2 * TD_AUDIT_HASH_LEN + 1], from_text[32], to_text[32];
    int64_t *delays = NULL;
    size_t n_delays = 0;
    td_status st;
    *json = NULL;
    if (to <= from)
        return td__error_set(err, TD_ERR_INVALID, "period: to must be after from");
    if ((st = td_audit_size(eo->log, &size, err)) || (st = td_audit_root(eo->log, size, root, err)))
        return st;
    td__hex_encode(root, sizeof root, root_hex);
    /* The median receipt-to-delivery time, over the deliveries of the period (sorted by SQL). */
    int64_t dbinds[3] = {from, to, TD_EORDER_DELIVERED};
    if ((st = td_store_read_rows(eo->svc->store,
                                 "SELECT delivered_ms - received_ms FROM eorders WHERE state = $3"
                                 " AND delivered_ms >= $1 AND delivered_ms < $2"
                                 " ORDER BY delivered_ms - received_ms",
                                 dbinds, 3, REPORT_DELAYS_MAX, sizeof *delays, delay_item,
                                 (void **)&delays, &n_delays, err)))
        return st;
    json_t *median = n_delays == 0 ? json_null()
                     : n_delays % 2
                         ? json_integer(delays[n_delays / 2])
                         : json_integer(delays[n_delays / 2 - 1] +
                                        (delays[n_delays / 2] - delays[n_delays / 2 - 1]) / 2);
    td_free(delays);
    if ((st = td_store_acquire(eo->svc->store, 0, &c, err))) {
        json_decref(median);
        return st;
    }
    counter k = {c, from, to, TD_OK, err};
    json_t *received = json_object();
    json_int_t total = 0;
    for (int f = TD_EORDER_EU_EPOC; f <= TD_EORDER_US_CLOUD_ACT; f++) {
        json_int_t v = count_is(&k,
                                "SELECT COUNT(*) FROM eorders WHERE framework = $3"
                                " AND received_ms >= $1 AND received_ms < $2",
                                f);
        total += v;
        json_object_set_new(received, td_eorder_framework_name((td_eorder_framework)f),
                            json_integer(v));
    }
    json_object_set_new(received, "total", json_integer(total));
    json_t *not_executed = json_object();
    static const td_eorder_reason reasons[] = {TD_EORDER_R_INCOMPLETE,
                                               TD_EORDER_R_MANIFEST_ERRORS,
                                               TD_EORDER_R_INSUFFICIENT_INFORMATION,
                                               TD_EORDER_R_DATA_NOT_HELD,
                                               TD_EORDER_R_DE_FACTO_IMPOSSIBILITY,
                                               TD_EORDER_R_INVALID_ISSUING_AUTHORITY,
                                               TD_EORDER_R_OFFENCE_NOT_COVERED,
                                               TD_EORDER_R_SERVICE_NOT_COVERED,
                                               TD_EORDER_R_IMMUNITIES_OR_PRIVILEGES,
                                               TD_EORDER_R_CONFLICT_OF_LAW,
                                               TD_EORDER_R_GROUND_IMMUNITIES,
                                               TD_EORDER_R_GROUND_FUNDAMENTAL_RIGHTS,
                                               TD_EORDER_R_GROUND_NE_BIS_IN_IDEM,
                                               TD_EORDER_R_GROUND_DUAL_CRIMINALITY};
    /* Not executed: refused at receipt or on grounds (state not_executed), or answered
     * cannot-comply for the whole order and never resumed (paused), by the reason given. */
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        int64_t ex[3] = {reasons[i], TD_EORDER_NOT_EXECUTED, TD_EORDER_PAUSED};
        json_int_t v = count_n(&k,
                               "SELECT COUNT(*) FROM eorders WHERE reason = $3 AND ((state = $4 AND"
                               " not_executed_ms >= $1 AND not_executed_ms < $2) OR (state = $5 AND"
                               " paused_ms >= $1 AND paused_ms < $2))",
                               ex, 3);
        if (v) {
            const char *name = td_eorder_reason_name(reasons[i]);
            char key[64];
            /* A ground and an Annex III reason may share a name: grounds are prefixed. */
            snprintf(key, sizeof key, "%s%s",
                     reasons[i] >= TD_EORDER_R_GROUND_IMMUNITIES ? "grounds_" : "", name);
            json_object_set_new(not_executed, key, json_integer(v));
        }
    }
    json_int_t delivered = count_is(&k,
                                    "SELECT COUNT(*) FROM eorders WHERE state = $3"
                                    " AND delivered_ms >= $1 AND delivered_ms < $2",
                                    TD_EORDER_DELIVERED);
    json_int_t late = count_is(&k,
                               "SELECT COUNT(*) FROM eorders WHERE state = $3 AND breached_ms > 0"
                               " AND delivered_ms >= $1 AND delivered_ms < $2",
                               TD_EORDER_DELIVERED);
    json_int_t partial = count_n(&k,
                                 "SELECT COUNT(*) FROM eorders WHERE refused <> 0"
                                 " AND received_ms >= $1 AND received_ms < $2",
                                 NULL, 0);
    json_int_t restricted = count_is(&k,
                                     "SELECT COUNT(*) FROM eorders WHERE state = $3 AND"
                                     " restricted = 1 AND grounds_ms >= $1 AND grounds_ms < $2",
                                     TD_EORDER_DELIVERED);
    json_int_t ended = count_is(&k,
                                "SELECT COUNT(*) FROM eorders WHERE state = $3"
                                " AND ended_ms >= $1 AND ended_ms < $2",
                                TD_EORDER_ENDED);
    json_int_t expired = count_is(&k,
                                  "SELECT COUNT(*) FROM eorders WHERE state = $3"
                                  " AND ended_ms >= $1 AND ended_ms < $2",
                                  TD_EORDER_EXPIRED);
    json_int_t withdrawn = count_n(&k,
                                   "SELECT COUNT(*) FROM eorders WHERE withdrawn_ms >= $1"
                                   " AND withdrawn_ms < $2",
                                   NULL, 0);
    json_int_t breaches = count_n(&k,
                                  "SELECT COUNT(*) FROM eorders WHERE breached_ms >= $1"
                                  " AND breached_ms < $2",
                                  NULL, 0);
    td_store_release(eo->svc->store, c);
    td_order_time_format(from, from_text);
    td_order_time_format(to, to_text);
    json_t *r = json_pack(
        "{s:{s:s, s:s, s:I, s:I}, s:{s:o, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:o},"
        " s:{s:I, s:s}}",
        "period", "from", from_text, "to", to_text, "from_ms", (json_int_t)from, "to_ms",
        (json_int_t)to, "evidence_orders", "received", received, "delivered", delivered,
        "delivered_after_deadline", late, "partially_refused", partial, "not_executed",
        not_executed, "grounds_restricted", restricted, "preservation_ended", ended,
        "preservation_expired", expired, "withdrawn", withdrawn, "breaches", breaches,
        "median_receipt_to_delivery_ms", median, "audit_log", "size", (json_int_t)size, "root",
        root_hex);
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

/* Both reports are computed by their owners and joined here, so that the server and the command
 * line print the same document. Each quotes the audit log's size and root it counted at: the
 * removal orders' report is computed first and keeps its own "audit_log" member. */
td_status td_eorders_transparency(td_eorders *eo, int64_t from, int64_t to, char **json,
                                  td_error *err)
{
    char *orders_text = NULL, *eo_text = NULL;
    td_status st;
    *json = NULL;
    if ((st = td_report_transparency(eo->orders, from, to, &orders_text, err)))
        return st;
    if ((st = td_eorders_report(eo, from, to, &eo_text, err))) {
        td_free(orders_text);
        return st;
    }
    json_t *report = json_loads(orders_text, 0, NULL);
    json_t *figures = json_loads(eo_text, 0, NULL);
    td_free(orders_text);
    td_free(eo_text);
    json_t *member = json_object_get(figures, "evidence_orders");
    char *text = NULL;
    if (report && member && json_object_set(report, "evidence_orders", member) == 0)
        text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(report);
    json_decref(figures);
    if (!text) /* both documents are ours: only memory can fail here */
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    *json = td__strdup(text);
    free(text); /* jansson's */
    return *json ? TD_OK : td__error_set(err, TD_ERR_NOMEM, "out of memory");
}
