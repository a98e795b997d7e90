/* Complaints of users against removals (TCO Art. 10): received, answered within two weeks with
 * reasons, and reinstatement (the platform's "restore" action) when the removal was unjustified.
 *
 * Why complaints sit with orders: the transparency report counts complaints and reinstatements
 * next to orders, and a complaint against content removed by an order is answered differently
 * (the platform cannot overturn the authority); both need the same tables and audit log. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "orders/orders_int.h"

const char *td_complaint_state_name(td_complaint_state s)
{
    switch (s) {
    case TD_COMPLAINT_OPEN: return "open";
    case TD_COMPLAINT_UPHELD: return "upheld";
    case TD_COMPLAINT_REJECTED: return "rejected";
    }
    return "unknown";
}

static void obj_name(char *out, size_t cap, int64_t id)
{
    snprintf(out, cap, "complaint:%lld", (long long)id);
}

static td_status load(td_store_conn *c, int64_t id, td_complaint *out, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    memset(out, 0, sizeof *out);
    if ((st = td_store_prepare(c,
                               "SELECT id, content_id, order_id, text, state, received_ms, due_ms,"
                               " decided_ms, overdue_ms, reinstated_ms, reasons FROM complaints"
                               " WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_NOT_FOUND, "no complaint %lld", (long long)id);
    }
    out->id = td_stmt_column_int64(q, 0);
    td__copy_trunc(out->content_id, sizeof out->content_id, td_stmt_column_text(q, 1));
    out->order_id = td_stmt_column_int64(q, 2);
    td__copy_trunc(out->text, sizeof out->text, td_stmt_column_text(q, 3));
    out->state = (td_complaint_state)td_stmt_column_int64(q, 4);
    out->received_ms = td_stmt_column_int64(q, 5);
    out->due_ms = td_stmt_column_int64(q, 6);
    out->decided_ms = td_stmt_column_int64(q, 7);
    out->overdue_ms = td_stmt_column_int64(q, 8);
    out->reinstated_ms = td_stmt_column_int64(q, 9);
    td__copy_trunc(out->reasons, sizeof out->reasons, td_stmt_column_text(q, 10));
    td_stmt_reset(q);
    return TD_OK;
}

typedef struct file_args {
    const char *content_id, *text, *actor;
    int64_t id;
} file_args;

static td_status file_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    file_args *a = ctx;
    td_stmt *q;
    int row = 0;
    int64_t order_id = 0;
    td_status st;
    if ((st = td_store_prepare(c, "SELECT 1 FROM content WHERE content_id = $1", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->content_id, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    td_stmt_reset(q);
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "content_id: no content %s", a->content_id);
    if ((st = td__order_for_content(c, a->content_id, &order_id, err)))
        return st;
    int64_t now = td__now(o->svc), due = now + o->opts.complaint_answer_ms;
    if ((st = td_store_prepare(c,
                               "INSERT INTO complaints (content_id, order_id, text, state,"
                               " received_ms, due_ms) VALUES ($1, $2, $3, $6, $4, $5)"
                               " RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 6, TD_COMPLAINT_OPEN, err)) ||
        (st = td_stmt_bind_text(q, 1, a->content_id, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, order_id, err)) ||
        (st = td_stmt_bind_text(q, 3, a->text, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, now, err)) || (st = td_stmt_bind_int64(q, 5, due, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    a->id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    char obj[48];
    obj_name(obj, sizeof obj, a->id);
    return td__orders_audit(o, c, a->actor, "complaint.received", obj,
                            json_pack("{s:s, s:I, s:I}", "content_id", a->content_id, "order_id",
                                      (json_int_t)order_id, "due_ms", (json_int_t)due),
                            err);
}

td_status td_complaint_file(td_orders *o, const char *content_id, const char *text,
                            const char *actor, td_complaint *out, td_error *err)
{
    td_status st;
    if ((st = td__orders_text(content_id, TD_CONTENT_ID_MAX, "content_id", 1, err)) ||
        (st = td__orders_text(text, TD_ORDER_STATEMENT_MAX, "text", 1, err)))
        return st;
    file_args a = {content_id, text, actor, 0};
    if ((st = td__orders_tx(o, file_body, &a, err)))
        return st;
    return out ? td_complaint_get(o, a.id, out, err) : TD_OK;
}

typedef struct decide_args {
    int64_t id;
    int upheld;
    const char *reasons, *actor;
} decide_args;

static td_status decide_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    decide_args *a = ctx;
    td_complaint cur;
    td_stmt *q;
    char obj[48], cause[48];
    td_status st = load(c, a->id, &cur, err);
    if (st)
        return st;
    if (cur.state != TD_COMPLAINT_OPEN)
        return td__error_set(err, TD_ERR_CONFLICT, "complaint %lld is decided already",
                             (long long)a->id);
    int64_t now = td__now(o->svc);
    obj_name(obj, sizeof obj, a->id);
    if (a->upheld) {
        snprintf(cause, sizeof cause, "complaint:%lld", (long long)a->id);
        if ((st = td__orders_fire(o, c, TD_EVENT_RESTORE, cause, cur.content_id, NULL,
                                  json_pack("{s:s}", "reason", a->reasons), err)))
            return st;
    }
    if ((st = td_store_prepare(c,
                               "UPDATE complaints SET state = $2, decided_ms = $3, reasons = $4,"
                               " reinstated_ms = $5 WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->upheld ? TD_COMPLAINT_UPHELD : TD_COMPLAINT_REJECTED,
                                 err)) ||
        (st = td_stmt_bind_int64(q, 3, now, err)) ||
        (st = td_stmt_bind_text(q, 4, a->reasons, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, a->upheld ? now : 0, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        return st;
    json_t *d = json_pack("{s:s, s:s, s:b}", "outcome", a->upheld ? "upheld" : "rejected",
                          "reasons", a->reasons, "within_deadline", now <= cur.due_ms);
    if ((st = td__orders_audit(o, c, a->actor, "complaint.decided", obj, d, err)))
        return st;
    if (a->upheld)
        st = td__orders_audit(o, c, a->actor, "content.reinstated", obj,
                              json_pack("{s:s}", "content_id", cur.content_id), err);
    return st;
}

td_status td_complaint_decide(td_orders *o, int64_t id, int upheld, const char *reasons,
                              const char *actor, td_complaint *out, td_error *err)
{
    td_status st = td__orders_text(reasons, TD_ORDER_STATEMENT_MAX, "reasons", 1, err);
    if (st)
        return st;
    decide_args a = {id, upheld, reasons, actor};
    if ((st = td__orders_tx(o, decide_body, &a, err)))
        return st;
    if (upheld)
        td_webhook_kick(o->svc);
    return out ? td_complaint_get(o, id, out, err) : TD_OK;
}

td_status td_complaint_get(td_orders *o, int64_t id, td_complaint *out, td_error *err)
{
    td_store_conn *c;
    td_status st = td_store_acquire(o->svc->store, 0, &c, err);
    if (st)
        return st;
    st = load(c, id, out, err);
    td_store_release(o->svc->store, c);
    return st;
}

td_status td__complaints_tick(td_orders *o, td_store_conn *c, int64_t now, size_t *overdue,
                              td_error *err)
{
    td_stmt *q;
    int row;
    int64_t ids[256];
    size_t n = 0;
    char obj[48];
    td_status st;
    if ((st = td_store_prepare(c,
                               "SELECT id FROM complaints WHERE state = $2 AND overdue_ms = 0"
                               " AND due_ms <= $1 LIMIT 256",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, now, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_COMPLAINT_OPEN, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < 256)
        ids[n++] = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        obj_name(obj, sizeof obj, ids[i]);
        if ((st = td_store_prepare(c, "UPDATE complaints SET overdue_ms = $2 WHERE id = $1", &q,
                                   err)) ||
            (st = td_stmt_bind_int64(q, 1, ids[i], err)) ||
            (st = td_stmt_bind_int64(q, 2, now, err)) || (st = td_stmt_run(q, NULL, err)) ||
            (st = td__orders_audit(o, c, "system", "complaint.overdue", obj, NULL, err)))
            break;
        (*overdue)++;
    }
    return st;
}
