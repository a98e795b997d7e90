/* The order clocks: escalation marks, breaches, the Annex III pause and its restart, the release
 * of withheld user notices (with their "notice" webhook), and the cross-border review (48 h to
 * ask, 72 h to decide).
 *
 * Why a tick rather than timers: the clocks must survive restarts and run on whichever node is
 * up, so every deadline is a stored time and td_orders_tick compares them with the clock. Each
 * transition is recorded once (escalation level, breached_ms, released_ms, overdue flags are
 * updated in the same transaction as their audit entry), so ticking often, late, or from several
 * nodes never double-counts. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "orders/orders_int.h"

const char *td_cannot_comply_name(td_cannot_comply g)
{
    switch (g) {
    case TD_CC_FORCE_MAJEURE: return "force_majeure";
    case TD_CC_MANIFEST_ERROR: return "manifest_error";
    case TD_CC_MISSING_INFO: return "missing_information";
    }
    return "unknown";
}

td_status td_cannot_comply_parse(const char *name, td_cannot_comply *out)
{
    for (int g = TD_CC_FORCE_MAJEURE; g <= TD_CC_MISSING_INFO; g++)
        if (name && strcmp(name, td_cannot_comply_name((td_cannot_comply)g)) == 0) {
            *out = (td_cannot_comply)g;
            return TD_OK;
        }
    return TD_ERR_INVALID;
}

static void obj_name(char *out, size_t cap, int64_t id)
{
    snprintf(out, cap, "order:%lld", (long long)id);
}

static td_status load_state(td_store_conn *c, int64_t id, td_order_kind *kind,
                            td_order_state *state, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td_store_prepare(c, "SELECT kind, state FROM orders WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        *kind = (td_order_kind)td_stmt_column_int64(q, 0);
        *state = (td_order_state)td_stmt_column_int64(q, 1);
    }
    td_stmt_reset(q);
    return row ? TD_OK : td__error_set(err, TD_ERR_NOT_FOUND, "no order %lld", (long long)id);
}

/* ---- Annex III ---- */

typedef struct cc_args {
    int64_t id;
    td_cannot_comply ground;
    const char *text, *actor;
} cc_args;

static td_status cc_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    cc_args *a = ctx;
    td_order_kind kind = 0;
    td_order_state state = 0;
    td_stmt *q;
    td_status st = load_state(c, a->id, &kind, &state, err);
    if (st)
        return st;
    if (kind != TD_ORDER_REMOVAL || (state != TD_ORDER_RECEIVED && state != TD_ORDER_EXECUTED))
        return td__error_set(err, TD_ERR_CONFLICT, "order %lld is %s: nothing to pause",
                             (long long)a->id, td_order_state_name(state));
    int64_t now = td__now(o->svc);
    /* The deadline is suspended (0) while paused; the clarification sets a new one. */
    if ((st = td_store_prepare(c,
                               "UPDATE orders SET state = $5, paused_ms = $2, ground = $3,"
                               " explanation = $4, deadline_ms = 0 WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 5, TD_ORDER_PAUSED, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_bind_int64(q, 2, now, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->ground, err)) ||
        (st = td_stmt_bind_text(q, 4, a->text, (size_t)-1, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        return st;
    char obj[48];
    obj_name(obj, sizeof obj, a->id);
    return td__orders_audit(
        o, c, a->actor, "order.cannot_comply", obj,
        json_pack("{s:s, s:s}", "ground", td_cannot_comply_name(a->ground), "explanation", a->text),
        err);
}

td_status td_order_cannot_comply(td_orders *o, int64_t id, td_cannot_comply ground,
                                 const char *explanation, const char *actor, td_error *err)
{
    if (ground < TD_CC_FORCE_MAJEURE || ground > TD_CC_MISSING_INFO)
        return td__error_set(err, TD_ERR_INVALID,
                             "ground: expected force_majeure, manifest_error or "
                             "missing_information");
    td_status st = td__orders_text(explanation, TD_ORDER_STATEMENT_MAX, "explanation", 1, err);
    if (st)
        return st;
    cc_args a = {id, ground, explanation, actor};
    return td__orders_tx(o, cc_body, &a, err);
}

static td_status clarify_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    cc_args *a = ctx;
    td_order_kind kind = 0;
    td_order_state state = 0;
    td_stmt *q;
    int64_t executed = 0;
    int row = 0;
    td_status st = load_state(c, a->id, &kind, &state, err);
    if (st)
        return st;
    if (state != TD_ORDER_PAUSED)
        return td__error_set(err, TD_ERR_CONFLICT, "order %lld is %s, not paused", (long long)a->id,
                             td_order_state_name(state));
    if ((st = td_store_prepare(c, "SELECT executed_ms FROM orders WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    executed = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    int64_t now = td__now(o->svc), deadline = now + o->opts.deadline_ms;
    /* The full hour restarts; so do the escalation marks. The breach of an earlier clock, if
     * any, stays recorded. */
    if ((st = td_store_prepare(c,
                               "UPDATE orders SET state = $2, clock_start_ms = $3,"
                               " deadline_ms = $4, escalation = 0, clarified_ms = $3"
                               " WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, executed ? TD_ORDER_EXECUTED : TD_ORDER_RECEIVED, err)) ||
        (st = td_stmt_bind_int64(q, 3, now, err)) ||
        (st = td_stmt_bind_int64(q, 4, deadline, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    char obj[48];
    obj_name(obj, sizeof obj, a->id);
    return td__orders_audit(o, c, a->actor, "order.clarified", obj,
                            json_pack("{s:s, s:I}", "clarification", a->text ? a->text : "",
                                      "deadline_ms", (json_int_t)deadline),
                            err);
}

td_status td_order_clarify(td_orders *o, int64_t id, const char *text, const char *actor,
                           td_error *err)
{
    td_status st = td__orders_text(text, TD_ORDER_STATEMENT_MAX, "clarification", 0, err);
    if (st)
        return st;
    cc_args a = {id, 0, text, actor};
    if ((st = td__orders_tx(o, clarify_body, &a, err)))
        return st;
    /* Content still not found leaves the order to moderators: not an error of the
     * clarification, which is recorded. */
    if (o->opts.auto_execute && td_order_execute(o, id, "system", NULL, NULL) != TD_OK)
        return TD_OK;
    return TD_OK;
}

/* ---- the tick ---- */

typedef struct tick_item {
    int64_t id, clock_start, deadline, breached;
    int escalation;
} tick_item;

#define TICK_BATCH 256

static td_status tick_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    td_orders_tick_result *r = ctx;
    td_stmt *q;
    int row;
    char obj[48];
    int64_t now = td__now(o->svc);
    tick_item *items = td__mallocarray(TICK_BATCH, sizeof *items);
    size_t n = 0;
    td_status st;
    if (!items)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    /* Running clocks: orders received or executed, not yet confirmed. Oldest deadlines first; a
     * backlog beyond one batch is handled by the next tick. */
    if ((st = td_store_prepare(c,
                               "SELECT id, clock_start_ms, deadline_ms, breached_ms, escalation"
                               " FROM orders WHERE kind = $3 AND state IN ($4, $5)"
                               " AND (breached_ms = 0 OR escalation < $1)"
                               " ORDER BY deadline_ms LIMIT $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, (int64_t)o->opts.n_marks, err)) ||
        (st = td_stmt_bind_int64(q, 2, TICK_BATCH, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD_ORDER_REMOVAL, err)) ||
        (st = td_stmt_bind_int64(q, 4, TD_ORDER_RECEIVED, err)) ||
        (st = td_stmt_bind_int64(q, 5, TD_ORDER_EXECUTED, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < TICK_BATCH) {
        tick_item *t = &items[n++];
        t->id = td_stmt_column_int64(q, 0);
        t->clock_start = td_stmt_column_int64(q, 1);
        t->deadline = td_stmt_column_int64(q, 2);
        t->breached = td_stmt_column_int64(q, 3);
        t->escalation = (int)td_stmt_column_int64(q, 4);
    }
    td_stmt_reset(q);
    if (st)
        goto out;
    for (size_t i = 0; i < n; i++) {
        tick_item *t = &items[i];
        int level = 0;
        while ((size_t)level < o->opts.n_marks && t->clock_start + o->opts.marks_ms[level] <= now)
            level++;
        int breach = !t->breached && t->deadline && now >= t->deadline;
        if (level <= t->escalation && !breach)
            continue;
        obj_name(obj, sizeof obj, t->id);
        if ((st = td_store_prepare(c,
                                   "UPDATE orders SET escalation = $2, breached_ms = $3"
                                   " WHERE id = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, t->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, level > t->escalation ? level : t->escalation, err)) ||
            (st = td_stmt_bind_int64(q, 3, breach ? t->deadline : t->breached, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            goto out;
        /* One entry per mark passed, so the log shows each mark even after a late tick. */
        for (int m = t->escalation; m < level; m++) {
            json_t *d = json_pack("{s:i, s:I, s:I}", "mark", m + 1, "mark_ms",
                                  (json_int_t)(t->clock_start + o->opts.marks_ms[m]), "deadline_ms",
                                  (json_int_t)t->deadline);
            if ((st = td__orders_audit(o, c, "system", "order.escalated", obj, d, err)))
                goto out;
            r->escalations++;
        }
        if (breach) {
            if ((st = td__orders_audit(o, c, "system", "order.breached", obj,
                                       json_pack("{s:I}", "deadline_ms", (json_int_t)t->deadline),
                                       err)))
                goto out;
            r->breaches++;
        }
    }

    /* User notices whose do-not-inform period ended. */
    n = 0;
    if ((st = td_store_prepare(c,
                               "SELECT id, order_id FROM order_notices WHERE released_ms = 0"
                               " AND hold_until_ms <= $1 LIMIT $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, now, err)) ||
        (st = td_stmt_bind_int64(q, 2, TICK_BATCH, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < TICK_BATCH) {
        items[n].id = td_stmt_column_int64(q, 0);
        items[n++].clock_start = td_stmt_column_int64(q, 1);
    }
    td_stmt_reset(q);
    if (st)
        goto out;
    for (size_t i = 0; i < n; i++) {
        obj_name(obj, sizeof obj, items[i].clock_start);
        if ((st = td_store_prepare(c, "UPDATE order_notices SET released_ms = $2 WHERE id = $1", &q,
                                   err)) ||
            (st = td_stmt_bind_int64(q, 1, items[i].id, err)) ||
            (st = td_stmt_bind_int64(q, 2, now, err)) || (st = td_stmt_run(q, NULL, err)) ||
            (st = td__orders_audit(o, c, "system", "notice.released", obj,
                                   json_pack("{s:I}", "notice", (json_int_t)items[i].id), err)) ||
            (st = td__notice_fire(o, c, items[i].id, err)))
            goto out;
        r->notices_released++;
    }

    /* Cross-border reviews past their decision time. */
    n = 0;
    if ((st = td_store_prepare(c,
                               "SELECT id FROM orders WHERE review = $3 AND review_overdue = 0"
                               " AND review_due_ms <= $1 LIMIT $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, now, err)) ||
        (st = td_stmt_bind_int64(q, 2, TICK_BATCH, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD_REVIEW_OPEN, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < TICK_BATCH)
        items[n++].id = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    if (st)
        goto out;
    for (size_t i = 0; i < n; i++) {
        obj_name(obj, sizeof obj, items[i].id);
        if ((st = td_store_prepare(c, "UPDATE orders SET review_overdue = 1 WHERE id = $1", &q,
                                   err)) ||
            (st = td_stmt_bind_int64(q, 1, items[i].id, err)) || (st = td_stmt_run(q, NULL, err)) ||
            (st = td__orders_audit(o, c, "system", "order.review_overdue", obj, NULL, err)))
            goto out;
        r->reviews_overdue++;
    }
    st = td__complaints_tick(o, c, now, &r->complaints_overdue, err);
out:
    td__free(items);
    return st;
}

td_status td_orders_tick(td_orders *o, td_orders_tick_result *out, td_error *err)
{
    td_orders_tick_result r;
    memset(&r, 0, sizeof r);
    td_status st = td__orders_tx(o, tick_body, &r, err);
    if (st == TD_OK && r.notices_released)
        td_webhook_kick(o->svc); /* their notice events */
    if (st)
        memset(&r, 0, sizeof r); /* a failed tick reports nothing */
    if (out)
        *out = r;
    return st;
}

/* ---- cross-border review ---- */

typedef struct review_args {
    int64_t id;
    int reinstate;
    const char *reason, *actor;
    size_t fired;
} review_args;

static td_status review_open_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    review_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td_store_prepare(c,
                               "SELECT kind, cross_border, received_ms, review FROM orders"
                               " WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_NOT_FOUND, "no order %lld", (long long)a->id);
    }
    int64_t kind = td_stmt_column_int64(q, 0), cross = td_stmt_column_int64(q, 1),
            received = td_stmt_column_int64(q, 2), review = td_stmt_column_int64(q, 3);
    td_stmt_reset(q);
    int64_t now = td__now(o->svc);
    if (kind != TD_ORDER_REMOVAL || !cross)
        return td__error_set(err, TD_ERR_INVALID, "order %lld is not a cross-border order",
                             (long long)a->id);
    if (review != TD_REVIEW_NONE)
        return td__error_set(err, TD_ERR_CONFLICT, "order %lld: a review was asked already",
                             (long long)a->id);
    if (now - received > o->opts.challenge_window_ms)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "order %lld: the window to ask for a review has closed",
                             (long long)a->id);
    int64_t due = now + o->opts.review_decision_ms;
    if ((st = td_store_prepare(c,
                               "UPDATE orders SET review = $4, review_opened_ms = $2,"
                               " review_due_ms = $3 WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 4, TD_REVIEW_OPEN, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_bind_int64(q, 2, now, err)) ||
        (st = td_stmt_bind_int64(q, 3, due, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    char obj[48];
    obj_name(obj, sizeof obj, a->id);
    return td__orders_audit(o, c, a->actor, "order.review_requested", obj,
                            json_pack("{s:s, s:I}", "reason", a->reason, "due_ms", (json_int_t)due),
                            err);
}

static void evidence_ref(char *out, size_t cap, int64_t id)
{
    snprintf(out, cap, "order-%lld", (long long)id);
}

td_status td_order_review_open(td_orders *o, int64_t id, const char *reason, const char *actor,
                               td_error *err)
{
    td_status st = td__orders_text(reason, TD_ORDER_STATEMENT_MAX, "reason", 1, err);
    if (st)
        return st;
    review_args a = {id, 0, reason, actor, 0};
    if ((st = td__orders_tx(o, review_open_body, &a, err)))
        return st;
    /* Preserved content outlives its retention while the review runs (Art. 6(2)). */
    char ref[48];
    td_evidence_case_info info;
    evidence_ref(ref, sizeof ref, id);
    if (td_evidence_case(o->evidence, ref, &info, NULL) == TD_OK)
        return td_evidence_hold(o->evidence, actor && *actor ? actor : "system", ref, 1,
                                "cross-border review", err);
    return TD_OK;
}

static td_status review_decide_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    review_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    char obj[48], cause[48];
    if ((st = td_store_prepare(c, "SELECT review, state FROM orders WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    int64_t review = row ? td_stmt_column_int64(q, 0) : -1;
    td_stmt_reset(q);
    if (review < 0)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no order %lld", (long long)a->id);
    if (review != TD_REVIEW_OPEN)
        return td__error_set(err, TD_ERR_CONFLICT, "order %lld has no open review",
                             (long long)a->id);
    int64_t now = td__now(o->svc);
    obj_name(obj, sizeof obj, a->id);
    if (a->reinstate) {
        /* Restore every removed target (the platform's restore action). */
        char ids[TD_ORDER_MAX_TARGETS][TD_CONTENT_ID_MAX + 1];
        size_t n = 0;
        snprintf(cause, sizeof cause, "reinstate-order:%lld", (long long)a->id);
        if ((st = td_store_prepare(c,
                                   "SELECT content_id FROM order_targets WHERE order_id = $1"
                                   " AND removed = 1 ORDER BY idx",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)))
            return st;
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < TD_ORDER_MAX_TARGETS)
            td__copy_trunc(ids[n++], sizeof ids[0], td_stmt_column_text(q, 0));
        td_stmt_reset(q);
        if (st)
            return st;
        for (size_t i = 0; i < n; i++) {
            if ((st = td__orders_fire(o, c, TD_EVENT_RESTORE, cause, ids[i], NULL,
                                      json_pack("{s:s}", "reason", a->reason), err)))
                return st;
            a->fired++;
        }
    }
    if ((st = td_store_prepare(c,
                               "UPDATE orders SET review = $2, review_decided_ms = $3,"
                               " reinstated_ms = $4, state = CASE WHEN $2 = 3 THEN 5"
                               " ELSE state END WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->reinstate ? TD_REVIEW_REINSTATE : TD_REVIEW_CONFIRMED,
                                 err)) ||
        (st = td_stmt_bind_int64(q, 3, now, err)) ||
        (st = td_stmt_bind_int64(q, 4, a->reinstate ? now : 0, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        return st;
    if ((st = td__orders_audit(o, c, a->actor, "order.review_decided", obj,
                               json_pack("{s:s, s:s}", "outcome",
                                         a->reinstate ? "reinstate" : "order_stands", "reason",
                                         a->reason),
                               err)))
        return st;
    if (a->reinstate)
        st = td__orders_audit(o, c, a->actor, "order.reinstated", obj,
                              json_pack("{s:I}", "restored", (json_int_t)a->fired), err);
    return st;
}

td_status td_order_review_decide(td_orders *o, int64_t id, int reinstate, const char *reason,
                                 const char *actor, td_error *err)
{
    td_status st = td__orders_text(reason, TD_ORDER_STATEMENT_MAX, "reason", 1, err);
    if (st)
        return st;
    review_args a = {id, reinstate, reason, actor, 0};
    if ((st = td__orders_tx(o, review_decide_body, &a, err)))
        return st;
    if (a.fired)
        td_webhook_kick(o->svc);
    char ref[48];
    td_evidence_case_info info;
    evidence_ref(ref, sizeof ref, id);
    if (td_evidence_case(o->evidence, ref, &info, NULL) == TD_OK && info.hold)
        return td_evidence_hold(o->evidence, actor && *actor ? actor : "system", ref, 0,
                                "cross-border review decided", err);
    return TD_OK;
}
