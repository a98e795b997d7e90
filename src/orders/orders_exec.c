/* Executing orders: locating the content, firing the platform's "remove" action through the
 * casework webhooks, the platform's confirmation (which stops the clock), user notices,
 * preservation as sealed evidence, the Annex II feedback, and the referral decisions.
 *
 * Why the confirmation and the sealing are two transactions: the evidence store commits its own
 * (it writes a file, then rows and an audit entry). The confirmation is what the legal clock
 * depends on, so it commits first and never waits on, or is undone by, a sealing problem; an
 * order whose content is not yet sealed says so (preserved = 0) and the orders thread retries
 * (td__order_preserve_retry, from orders_duties.c). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "orders/orders_int.h"

static void obj_name(char *out, size_t cap, const char *prefix, int64_t id)
{
    snprintf(out, cap, "%s:%lld", prefix, (long long)id);
}

/* Order row fields the state changes need, without the (large) targets. */
typedef struct head {
    td_order_kind kind;
    td_order_state state;
    int64_t received_ms, deadline_ms, breached_ms, confirmed_ms, feedback_ms;
    int dni, dni_days, cross_border;
    char reference[TD_ORDER_REF_MAX + 1];
} head;

static td_status load_head(td_store_conn *c, int64_t id, head *h, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td_store_prepare(c,
                               "SELECT kind, state, received_ms, deadline_ms, breached_ms,"
                               " confirmed_ms, feedback_ms, dni, dni_days, cross_border, reference"
                               " FROM orders WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_NOT_FOUND, "no order %lld", (long long)id);
    }
    h->kind = (td_order_kind)td_stmt_column_int64(q, 0);
    h->state = (td_order_state)td_stmt_column_int64(q, 1);
    h->received_ms = td_stmt_column_int64(q, 2);
    h->deadline_ms = td_stmt_column_int64(q, 3);
    h->breached_ms = td_stmt_column_int64(q, 4);
    h->confirmed_ms = td_stmt_column_int64(q, 5);
    h->feedback_ms = td_stmt_column_int64(q, 6);
    h->dni = (int)td_stmt_column_int64(q, 7);
    h->dni_days = (int)td_stmt_column_int64(q, 8);
    h->cross_border = (int)td_stmt_column_int64(q, 9);
    td__copy_trunc(h->reference, sizeof h->reference, td_stmt_column_text(q, 10));
    td_stmt_reset(q);
    return TD_OK;
}

/* A target row needing work. */
typedef struct trow {
    int64_t idx;
    char url[TD_CASE_URL_MAX + 1], canon[TD_CASE_URL_MAX + 1], content_id[TD_CONTENT_ID_MAX + 1];
    int located;
    int64_t fired_ms;
} trow;

static td_status load_targets(td_store_conn *c, int64_t id, trow *rows, size_t *n, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st;
    *n = 0;
    if ((st = td_store_prepare(c,
                               "SELECT idx, url, canonical_url, content_id, located, fired_ms"
                               " FROM order_targets WHERE order_id = $1 ORDER BY idx",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && *n < TD_ORDER_MAX_TARGETS) {
        trow *t = &rows[(*n)++];
        t->idx = td_stmt_column_int64(q, 0);
        td__copy_trunc(t->url, sizeof t->url, td_stmt_column_text(q, 1));
        td__copy_trunc(t->canon, sizeof t->canon, td_stmt_column_text(q, 2));
        td__copy_trunc(t->content_id, sizeof t->content_id, td_stmt_column_text(q, 3));
        t->located = (int)td_stmt_column_int64(q, 4);
        t->fired_ms = td_stmt_column_int64(q, 5);
    }
    td_stmt_reset(q);
    return st;
}

/* Finds the content a target names: by platform content id, else by URL as sent or canonical. */
static td_status locate(td_store_conn *c, trow *t, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    if (t->content_id[0]) {
        if ((st = td_store_prepare(c, "SELECT content_id, url FROM content WHERE content_id = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_text(q, 1, t->content_id, (size_t)-1, err)))
            return st;
    } else {
        if ((st = td_store_prepare(c,
                                   "SELECT content_id, url FROM content WHERE url = $1"
                                   " OR url = $2 ORDER BY id LIMIT 1",
                                   &q, err)) ||
            (st = td_stmt_bind_text(q, 1, t->url, (size_t)-1, err)) ||
            (st = td_stmt_bind_text(q, 2, t->canon, (size_t)-1, err)))
            return st;
    }
    if ((st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        td__copy_trunc(t->content_id, sizeof t->content_id, td_stmt_column_text(q, 0));
        if (!t->url[0])
            td__copy_trunc(t->url, sizeof t->url, td_stmt_column_text(q, 1));
        t->located = 1;
    }
    td_stmt_reset(q);
    return TD_OK;
}

/* Locates the targets of order id and fires `remove` for every located target not yet fired
 * (cause "order:<id>" or "referral:<id>"). *located counts located targets, *fired new events. */
static td_status locate_and_fire(td_orders *o, td_store_conn *c, int64_t id, const head *h,
                                 size_t *located, size_t *fired, json_t *list, td_error *err)
{
    trow *rows = td__mallocarray(TD_ORDER_MAX_TARGETS, sizeof *rows);
    size_t n = 0;
    char cause[48];
    td_stmt *q;
    int64_t now = td__now(o->svc);
    td_status st;
    *located = *fired = 0;
    if (!rows)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    obj_name(cause, sizeof cause, h->kind == TD_ORDER_REMOVAL ? "order" : "referral", id);
    if ((st = load_targets(c, id, rows, &n, err)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        trow *t = &rows[i];
        if (!t->located) {
            if ((st = locate(c, t, err)))
                goto out;
            if (!t->located)
                continue;
            if ((st = td_store_prepare(c,
                                       "UPDATE order_targets SET located = 1, content_id = $3"
                                       " WHERE order_id = $1 AND idx = $2",
                                       &q, err)) ||
                (st = td_stmt_bind_int64(q, 1, id, err)) ||
                (st = td_stmt_bind_int64(q, 2, t->idx, err)) ||
                (st = td_stmt_bind_text(q, 3, t->content_id, (size_t)-1, err)) ||
                (st = td_stmt_run(q, NULL, err)))
                goto out;
        }
        (*located)++;
        if (t->fired_ms)
            continue;
        json_t *extra = json_pack("{s:{s:I, s:s, s:s}}", "order", "id", (json_int_t)id, "reference",
                                  h->reference, "type",
                                  h->kind == TD_ORDER_REMOVAL ? "removal_order" : "referral");
        if (extra && h->deadline_ms)
            json_object_set_new(json_object_get(extra, "order"), "deadline_ms",
                                json_integer(h->deadline_ms));
        /* Where the platform uploads the removed bytes to be preserved (removal orders only:
         * referral removals are the platform's own measure). */
        if (extra && h->kind == TD_ORDER_REMOVAL) {
            char upload[96];
            snprintf(upload, sizeof upload, "/v1/orders/%lld/targets/%lld/media", (long long)id,
                     (long long)t->idx);
            json_object_set_new(extra, "media_upload",
                                json_pack("{s:s, s:s, s:I}", "method", "PUT", "path", upload,
                                          "target", (json_int_t)t->idx));
        }
        if ((st = td__orders_fire(o, c, TD_EVENT_REMOVE, cause, t->content_id, t->url, extra,
                                  err)) ||
            (st = td_store_prepare(c,
                                   "UPDATE order_targets SET fired_ms = $3"
                                   " WHERE order_id = $1 AND idx = $2",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, id, err)) ||
            (st = td_stmt_bind_int64(q, 2, t->idx, err)) ||
            (st = td_stmt_bind_int64(q, 3, now, err)) || (st = td_stmt_run(q, NULL, err)))
            goto out;
        if (list)
            json_array_append_new(list, json_string(t->content_id));
        (*fired)++;
    }
out:
    td__free(rows);
    return st;
}

/* ---- execution ---- */

typedef struct exec_args {
    int64_t id;
    const char *actor;
    size_t fired;
} exec_args;

static td_status exec_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    exec_args *a = ctx;
    head h;
    size_t located = 0;
    td_stmt *q;
    td_status st = load_head(c, a->id, &h, err);
    if (st)
        return st;
    if (h.kind != TD_ORDER_REMOVAL)
        return td__error_set(err, TD_ERR_INVALID, "order %lld is a referral: decide it",
                             (long long)a->id);
    if (h.state != TD_ORDER_RECEIVED && h.state != TD_ORDER_EXECUTED)
        return td__error_set(err, TD_ERR_CONFLICT, "order %lld is %s", (long long)a->id,
                             td_order_state_name(h.state));
    json_t *list = json_array();
    if (!list)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if ((st = locate_and_fire(o, c, a->id, &h, &located, &a->fired, list, err)))
        goto out;
    if (located == 0) {
        st = td__error_set(err, TD_ERR_NOT_FOUND,
                           "order %lld: none of its URLs or content ids is known content",
                           (long long)a->id);
        goto out;
    }
    if (a->fired) {
        int64_t now = td__now(o->svc);
        char obj[48];
        if ((st = td_store_prepare(c,
                                   "UPDATE orders SET state = $3, executed_ms = CASE WHEN"
                                   " executed_ms = 0 THEN $2 ELSE executed_ms END WHERE id = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 3, TD_ORDER_EXECUTED, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, now, err)) || (st = td_stmt_run(q, NULL, err)))
            goto out;
        obj_name(obj, sizeof obj, "order", a->id);
        st = td__orders_audit(
            o, c, a->actor, "order.executed", obj,
            json_pack("{s:O, s:I}", "remove_fired", list, "at_ms", (json_int_t)now), err);
    }
out:
    json_decref(list);
    return st;
}

td_status td_order_execute(td_orders *o, int64_t id, const char *actor, size_t *fired,
                           td_error *err)
{
    exec_args a = {id, actor, 0};
    td_status st = td__orders_tx(o, exec_body, &a, err);
    if (fired)
        *fired = st ? 0 : a.fired;
    if (st == TD_OK && a.fired)
        td_webhook_kick(o->svc);
    return st;
}

typedef struct locate_args {
    int64_t id;
    size_t index;
    const char *content_id, *actor;
} locate_args;

static td_status locate_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    locate_args *a = ctx;
    head h;
    td_stmt *q;
    int row = 0;
    int64_t changes = 0;
    td_status st = load_head(c, a->id, &h, err);
    if (st)
        return st;
    if (h.state == TD_ORDER_CONFIRMED || h.state == TD_ORDER_REINSTATED ||
        h.state == TD_ORDER_DECIDED)
        return td__error_set(err, TD_ERR_CONFLICT, "order %lld is %s", (long long)a->id,
                             td_order_state_name(h.state));
    if ((st = td_store_prepare(c, "SELECT 1 FROM content WHERE content_id = $1", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->content_id, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    td_stmt_reset(q);
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no content %s", a->content_id);
    if ((st = td_store_prepare(c,
                               "UPDATE order_targets SET located = 1, content_id = $3"
                               " WHERE order_id = $1 AND idx = $2 AND fired_ms = 0",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, (int64_t)a->index, err)) ||
        (st = td_stmt_bind_text(q, 3, a->content_id, (size_t)-1, err)) ||
        (st = td_stmt_run(q, &changes, err)))
        return st;
    if (changes == 0)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "order %lld has no target %zu still to be located", (long long)a->id,
                             a->index);
    char obj[48];
    obj_name(obj, sizeof obj, "order", a->id);
    return td__orders_audit(
        o, c, a->actor, "order.located", obj,
        json_pack("{s:I, s:s}", "target", (json_int_t)a->index, "content_id", a->content_id), err);
}

td_status td_order_locate(td_orders *o, int64_t id, size_t index, const char *content_id,
                          const char *actor, td_error *err)
{
    td_status st = td__orders_text(content_id, TD_CONTENT_ID_MAX, "content_id", 1, err);
    if (st)
        return st;
    locate_args a = {id, index, content_id, actor};
    return td__orders_tx(o, locate_body, &a, err);
}

/* ---- confirmation, notices ---- */

typedef struct confirm_args {
    int64_t id, measure_ms;
    const char *measure, *actor;
    int already;
    size_t fired; /* notice events enqueued */
} confirm_args;

static td_status add_notices(td_orders *o, td_store_conn *c, int64_t id, const head *h,
                             const char *actor, size_t *fired, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st;
    int64_t now = td__now(o->svc);
    int64_t hold = h->dni ? h->received_ms + (int64_t)h->dni_days * TD__DAY : 0;
    char obj[48], (*ids)[TD_CONTENT_ID_MAX + 1] = NULL;
    size_t n = 0;
    ids = td__mallocarray(TD_ORDER_MAX_TARGETS, sizeof *ids);
    if (!ids)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if ((st = td_store_prepare(c,
                               "SELECT content_id FROM order_targets WHERE order_id = $1"
                               " AND removed = 1 ORDER BY idx",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < TD_ORDER_MAX_TARGETS)
        td__copy_trunc(ids[n++], sizeof ids[0], td_stmt_column_text(q, 0));
    td_stmt_reset(q);
    if (st)
        goto out;
    obj_name(obj, sizeof obj, "order", id);
    for (size_t i = 0; i < n; i++) {
        int64_t notice = 0;
        if ((st = td_store_prepare(c,
                                   "INSERT INTO order_notices (order_id, content_id, created_ms,"
                                   " hold_until_ms, released_ms) VALUES ($1, $2, $3, $4, $5)"
                                   " ON CONFLICT (order_id, content_id) DO NOTHING RETURNING id",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, id, err)) ||
            (st = td_stmt_bind_text(q, 2, ids[i], (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 3, now, err)) ||
            (st = td_stmt_bind_int64(q, 4, hold, err)) ||
            (st = td_stmt_bind_int64(q, 5, hold ? 0 : now, err)) ||
            (st = td_stmt_step(q, &row, err)))
            goto out;
        if (row)
            notice = td_stmt_column_int64(q, 0);
        td_stmt_reset(q);
        if (!notice)
            continue; /* recorded before */
        json_t *d =
            json_pack("{s:s, s:I}", "content_id", ids[i], "hold_until_ms", (json_int_t)hold);
        if ((st = td__orders_audit(o, c, actor, hold ? "notice.withheld" : "notice.released", obj,
                                   d, err)))
            goto out;
        /* Released at once: the platform delivers it now. A withheld one is pushed by the tick
         * that releases it. */
        if (!hold && (st = td__notice_fire(o, c, notice, err)))
            goto out;
        if (!hold && fired)
            (*fired)++;
    }
out:
    td__free(ids);
    return st;
}

static td_status confirm_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    confirm_args *a = ctx;
    head h;
    td_stmt *q;
    char obj[48];
    td_status st = load_head(c, a->id, &h, err);
    if (st)
        return st;
    if (h.kind != TD_ORDER_REMOVAL)
        return td__error_set(err, TD_ERR_INVALID, "order %lld is a referral", (long long)a->id);
    if (h.state == TD_ORDER_CONFIRMED) {
        a->already = 1;
        return TD_OK;
    }
    if (h.state == TD_ORDER_REINSTATED)
        return td__error_set(err, TD_ERR_CONFLICT, "order %lld is reinstated", (long long)a->id);
    int64_t now = td__now(o->svc);
    /* Platforms often state times in whole seconds (as the docs' examples do) while the receipt
     * is kept to the millisecond: a measure taken within the second of the receipt then reads
     * as up to 999 ms before it. A time on a whole second stands for that whole second, so when
     * the receipt lies inside it the measure is recorded at the receipt. */
    if (a->measure_ms < h.received_ms && a->measure_ms >= 0 && a->measure_ms % 1000 == 0 &&
        a->measure_ms / 1000 == h.received_ms / 1000)
        a->measure_ms = h.received_ms;
    if (a->measure_ms < h.received_ms || a->measure_ms > now + o->opts.max_skew_ms)
        return td__error_set(err, TD_ERR_INVALID,
                             "time: the measure must be taken between the receipt and now");
    obj_name(obj, sizeof obj, "order", a->id);
    int late = h.deadline_ms && a->measure_ms > h.deadline_ms;
    if ((st = td_store_prepare(c,
                               "UPDATE orders SET state = $5, confirmed_ms = $2, measure = $3,"
                               " breached_ms = $4 WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 5, TD_ORDER_CONFIRMED, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->measure_ms, err)) ||
        (st = td_stmt_bind_text(q, 3, a->measure, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4,
                                 h.breached_ms ? h.breached_ms
                                 : late        ? h.deadline_ms
                                               : 0,
                                 err)) ||
        (st = td_stmt_run(q, NULL, err)))
        return st;
    if (late && !h.breached_ms &&
        (st = td__orders_audit(o, c, "system", "order.breached", obj,
                               json_pack("{s:I, s:I}", "deadline_ms", (json_int_t)h.deadline_ms,
                                         "measure_ms", (json_int_t)a->measure_ms),
                               err)))
        return st;
    if ((st = td_store_prepare(c,
                               "UPDATE order_targets SET removed = 1 WHERE order_id = $1"
                               " AND located = 1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    json_t *d = json_pack("{s:s, s:I, s:I, s:I, s:I}", "measure", a->measure, "measure_ms",
                          (json_int_t)a->measure_ms, "received_ms", (json_int_t)h.received_ms,
                          "deadline_ms", (json_int_t)h.deadline_ms, "receipt_to_measure_ms",
                          (json_int_t)(a->measure_ms - h.received_ms));
    if ((st = td__orders_audit(o, c, a->actor, "order.confirmed", obj, d, err)))
        return st;
    return add_notices(o, c, a->id, &h, a->actor, &a->fired, err);
}

td_status td_order_confirm(td_orders *o, int64_t id, int64_t measure_ms, const char *measure,
                           const char *actor, td_error *err)
{
    if (!measure || (strcmp(measure, "removed") != 0 && strcmp(measure, "disabled") != 0))
        return td__error_set(err, TD_ERR_INVALID, "measure: expected \"removed\" or \"disabled\"");
    confirm_args a = {id, measure_ms, measure, actor, 0, 0};
    td_status st = td__orders_tx(o, confirm_body, &a, err);
    if (st)
        return st;
    if (a.fired)
        td_webhook_kick(o->svc);
    /* The confirmation is committed; a sealing failure shows as preserved = 0 (retry). */
    td_error ignored;
    td_status sealed = td_order_preserve(o, id, actor, &ignored);
    (void)sealed;
    return TD_OK;
}

/* ---- preservation ---- */

typedef struct sealed_args {
    int64_t id, idx, item;
} sealed_args;

static td_status sealed_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    (void)o;
    sealed_args *a = ctx;
    td_stmt *q;
    td_status st;
    if ((st = td_store_prepare(c,
                               "UPDATE order_targets SET evidence_item = $3"
                               " WHERE order_id = $1 AND idx = $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->idx, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->item, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

/* The content record (what was removed) and its related data (account, times, the order). */
static td_status seal_one(td_orders *o, const td_order *ord, const td_order_target *t,
                          const char *actor, int64_t *item, td_error *err)
{
    td_content content;
    memset(&content, 0, sizeof content);
    td_status st = td_content_get(o->svc, t->content_id, &content, err);
    if (st)
        return st;
    json_t *meta = json_loads(content.metadata_json ? content.metadata_json : "{}", 0, NULL);
    json_t *rec =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:o}", "content_id", content.content_id,
                  "url", content.url, "md5", content.hashes.md5, "sha256", content.hashes.sha256,
                  "verdict", td_verdict_name(content.verdict), "quality", content.hashes.quality,
                  "uploader", content.uploader, "metadata", meta ? meta : json_object());
    json_t *rel = json_pack("{s:s, s:I, s:I, s:{s:I, s:s, s:s, s:I, s:I, s:s}}", "uploader",
                            content.uploader, "uploaded_ms", (json_int_t)content.time_ms,
                            "received_ms", (json_int_t)content.received_ms, "order", "id",
                            (json_int_t)ord->id, "reference", ord->doc.reference, "authority",
                            ord->authority, "received_ms", (json_int_t)ord->received_ms,
                            "measure_ms", (json_int_t)ord->confirmed_ms, "measure", ord->measure);
    char *rec_text = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *rel_text = rel ? json_dumps(rel, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(rec);
    json_decref(rel);
    td_content_clear(&content);
    if (!rec_text || !rel_text) {
        free(rec_text);
        free(rel_text);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    char ref[48];
    td__order_case_ref(ref, sizeof ref, ord->id);
    st = td_evidence_seal(o->evidence, actor && *actor ? actor : "system", ref, t->content_id,
                          (const uint8_t *)rec_text, strlen(rec_text), rel_text, ord->confirmed_ms,
                          item, err);
    free(rec_text); /* jansson's */
    free(rel_text);
    return st;
}

/* Seals the targets of ord (read under preserve_lock, which the caller holds) not sealed yet. */
static td_status preserve_locked(td_orders *o, const td_order *ord, const char *actor,
                                 td_error *err)
{
    td_status st = TD_OK;
    for (size_t i = 0; st == TD_OK && i < ord->doc.n_targets; i++) {
        const td_order_target *t = &ord->doc.targets[i];
        if (!t->removed || t->evidence_item || !t->located)
            continue;
        sealed_args a = {ord->id, (int64_t)i, 0};
        if ((st = seal_one(o, ord, t, actor, &a.item, err)) == TD_OK)
            st = td__orders_tx(o, sealed_body, &a, err);
    }
    return st;
}

td_status td_order_preserve(td_orders *o, int64_t id, const char *actor, td_error *err)
{
    td_order *ord = td__malloc(sizeof *ord);
    if (!ord)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&o->preserve_lock);
    td_status st = td_order_get(o, id, ord, err);
    if (st == TD_OK)
        st = preserve_locked(o, ord, actor, err);
    pthread_mutex_unlock(&o->preserve_lock);
    td__free(ord);
    return st;
}

td_status td__order_preserve_retry(td_orders *o, int64_t id, int *tried, td_error *err)
{
    td_order *ord = td__malloc(sizeof *ord);
    *tried = 0;
    if (!ord)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&o->preserve_lock);
    td_status st = td_order_get(o, id, ord, err);
    if (st == TD_OK && ord->doc.kind == TD_ORDER_REMOVAL && ord->state == TD_ORDER_CONFIRMED &&
        !ord->preserved) {
        *tried = 1;
        st = preserve_locked(o, ord, "system", err);
    }
    pthread_mutex_unlock(&o->preserve_lock);
    td__free(ord);
    return st;
}

/* ---- Annex II feedback and the referral's answer ---- */

static json_t *time_or_null(int64_t ms)
{
    char buf[32];
    if (!ms)
        return json_null();
    td_order_time_format(ms, buf);
    return json_string(buf);
}

/* The Annex II feedback of an order, or the answer to a referral, as a JSON object (NULL when
 * out of memory): what td_order_feedback returns and the order_feedback / referral_answer
 * events carry. */
static json_t *feedback_object(const td_order *ord)
{
    int order = ord->doc.kind == TD_ORDER_REMOVAL;
    json_t *f = json_object(), *targets = json_array();
    if (!f || !targets) {
        json_decref(f);
        json_decref(targets);
        return NULL;
    }
    json_object_set_new(f, "order_id", json_integer(ord->id));
    json_object_set_new(f, "type", json_string(order ? "removal_order" : "referral"));
    json_object_set_new(f, "reference", json_string(ord->doc.reference));
    json_object_set_new(f, "issuing_authority", json_string(ord->authority));
    json_object_set_new(f, "state", json_string(td_order_state_name(ord->state)));
    json_object_set_new(f, "time_of_receipt", time_or_null(ord->received_ms));
    json_object_set_new(f, "received_ms", json_integer(ord->received_ms));
    if (order) {
        json_object_set_new(f, "measure",
                            ord->measure[0] ? json_string(ord->measure) : json_null());
        json_object_set_new(f, "time_of_measure", time_or_null(ord->confirmed_ms));
        json_object_set_new(f, "measure_ms", json_integer(ord->confirmed_ms));
        json_object_set_new(f, "deadline", time_or_null(ord->deadline_ms));
        json_object_set_new(f, "within_deadline",
                            json_boolean(ord->confirmed_ms && !ord->breached_ms));
        /* A breach is stated, not only implied: when the hour passed without the measure. */
        json_object_set_new(f, "breached_at", time_or_null(ord->breached_ms));
        if (ord->breached_ms && ord->confirmed_ms && ord->deadline_ms &&
            ord->confirmed_ms > ord->deadline_ms)
            json_object_set_new(f, "late_by_ms",
                                json_integer(ord->confirmed_ms - ord->deadline_ms));
        if (ord->ground)
            json_object_set_new(f, "cannot_comply",
                                json_pack("{s:s, s:s, s:o}", "ground",
                                          td_cannot_comply_name(ord->ground), "explanation",
                                          ord->explanation, "since", time_or_null(ord->paused_ms)));
        if (ord->reinstated_ms)
            json_object_set_new(f, "reinstated_at", time_or_null(ord->reinstated_ms));
    } else {
        json_object_set_new(f, "decision",
                            ord->decided_ms ? json_string(ord->referral_remove ? "removed" : "kept")
                                            : json_null());
        json_object_set_new(f, "decision_reason", json_string(ord->decision_reason));
        json_object_set_new(f, "time_of_decision", time_or_null(ord->decided_ms));
    }
    for (size_t i = 0; i < ord->doc.n_targets; i++) {
        const td_order_target *t = &ord->doc.targets[i];
        json_array_append_new(targets, json_pack("{s:s, s:s, s:b}", "url", t->url, "content_id",
                                                 t->content_id, "removed", t->removed));
    }
    json_object_set_new(f, "content", targets);
    return f;
}

/* Enqueues `event` (TD_EVENT_ORDER_FEEDBACK or TD_EVENT_REFERRAL_ANSWER) with the answer of
 * order id as it stands inside the transaction, addressed to the authority's contacts. One per
 * order (the idempotency key is the event and "order:<id>" / "referral:<id>"). */
static td_status fire_answer(td_orders *o, td_store_conn *c, unsigned event, int64_t id,
                             td_error *err)
{
    char subject[48];
    td_order *ord = td__malloc(sizeof *ord);
    if (!ord)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st = td__order_load(c, id, ord, err);
    if (st) {
        td__free(ord);
        return st;
    }
    json_t *p = feedback_object(ord);
    if (p) {
        json_object_set_new(p, "authority_contact", json_string(ord->doc.authority_contact));
        json_object_set_new(p, "follow_up_contact", json_string(ord->doc.follow_up));
    }
    obj_name(subject, sizeof subject, ord->doc.kind == TD_ORDER_REMOVAL ? "order" : "referral", id);
    td__free(ord);
    if (!p)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    json_object_set_new(p, "cause", json_string(subject));
    st = td__event_enqueue(o->svc, c, event, subject, p, err);
    json_decref(p);
    return st;
}

typedef struct fb_args {
    int64_t id;
    const char *actor;
    int fired;
} fb_args;

static td_status fb_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    fb_args *a = ctx;
    head h;
    td_stmt *q;
    td_status st = load_head(c, a->id, &h, err);
    if (st || h.feedback_ms)
        return st;
    int64_t now = td__now(o->svc);
    if ((st = td_store_prepare(c, "UPDATE orders SET feedback_ms = $2 WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_bind_int64(q, 2, now, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        return st;
    char obj[48];
    obj_name(obj, sizeof obj, "order", a->id);
    if ((st = td__orders_audit(o, c, a->actor, "order.feedback_sent", obj,
                               json_pack("{s:s, s:I}", "state", td_order_state_name(h.state),
                                         "measure_ms", (json_int_t)h.confirmed_ms),
                               err)))
        return st;
    /* The platform may relay the Annex II answer to the authority (referrals have their answer
     * pushed when decided). */
    if (h.kind != TD_ORDER_REMOVAL)
        return TD_OK;
    a->fired = 1;
    return fire_answer(o, c, TD_EVENT_ORDER_FEEDBACK, a->id, err);
}

td_status td_order_feedback(td_orders *o, int64_t id, int record, const char *actor, char **json,
                            td_error *err)
{
    *json = NULL;
    td_status st;
    if (record) {
        fb_args a = {id, actor, 0};
        if ((st = td__orders_tx(o, fb_body, &a, err)))
            return st;
        if (a.fired)
            td_webhook_kick(o->svc);
    }
    td_order *ord = td__malloc(sizeof *ord);
    if (!ord)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if ((st = td_order_get(o, id, ord, err))) {
        td__free(ord);
        return st;
    }
    json_t *f = feedback_object(ord);
    td__free(ord);
    char *text = f ? json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(f);
    if (!text)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    *json = td__strdup(text);
    free(text); /* jansson's */
    return *json ? TD_OK : td__error_set(err, TD_ERR_NOMEM, "out of memory");
}

/* ---- referrals ---- */

typedef struct ref_args {
    int64_t id;
    int remove;
    const char *reason, *actor;
    size_t fired;
} ref_args;

static td_status ref_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    ref_args *a = ctx;
    head h;
    td_stmt *q;
    size_t located = 0;
    td_status st = load_head(c, a->id, &h, err);
    if (st)
        return st;
    if (h.kind != TD_ORDER_REFERRAL)
        return td__error_set(err, TD_ERR_INVALID, "order %lld is a removal order",
                             (long long)a->id);
    if (h.state != TD_ORDER_RECEIVED)
        return td__error_set(err, TD_ERR_CONFLICT, "referral %lld is decided already",
                             (long long)a->id);
    if (a->remove) {
        if ((st = locate_and_fire(o, c, a->id, &h, &located, &a->fired, NULL, err)))
            return st;
        if (located == 0)
            return td__error_set(err, TD_ERR_NOT_FOUND,
                                 "referral %lld: none of its URLs or content ids is known",
                                 (long long)a->id);
        if ((st = td_store_prepare(c,
                                   "UPDATE order_targets SET removed = 1 WHERE order_id = $1"
                                   " AND located = 1",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_run(q, NULL, err)))
            return st;
    }
    int64_t now = td__now(o->svc);
    if ((st = td_store_prepare(c,
                               "UPDATE orders SET state = $5, referral_remove = $2,"
                               " decision_reason = $3, decided_ms = $4,"
                               " executed_ms = CASE WHEN $2 = 1 THEN $4 ELSE 0 END WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 5, TD_ORDER_DECIDED, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->remove ? 1 : 0, err)) ||
        (st = td_stmt_bind_text(q, 3, a->reason, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, now, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    char obj[48];
    obj_name(obj, sizeof obj, "referral", a->id);
    if ((st = td__orders_audit(o, c, a->actor, "referral.decided", obj,
                               json_pack("{s:s, s:s}", "decision", a->remove ? "remove" : "keep",
                                         "reason", a->reason),
                               err)))
        return st;
    /* The answer to the referring unit, for the platform to send back. */
    a->fired++;
    return fire_answer(o, c, TD_EVENT_REFERRAL_ANSWER, a->id, err);
}

td_status td_referral_decide(td_orders *o, int64_t id, int remove, const char *reason,
                             const char *actor, td_error *err)
{
    td_status st = td__orders_text(reason, TD_ORDER_STATEMENT_MAX, "reason", 1, err);
    if (st)
        return st;
    ref_args a = {id, remove, reason, actor, 0};
    if ((st = td__orders_tx(o, ref_body, &a, err)) == TD_OK && a.fired)
        td_webhook_kick(o->svc);
    return st;
}

/* ---- notices and lookups ---- */

static void notice_item(td_stmt *q, void *item)
{
    td_user_notice *n = item;
    n->id = td_stmt_column_int64(q, 0);
    n->order_id = td_stmt_column_int64(q, 1);
    td__copy_trunc(n->content_id, sizeof n->content_id, td_stmt_column_text(q, 2));
    n->created_ms = td_stmt_column_int64(q, 3);
    n->hold_until_ms = td_stmt_column_int64(q, 4);
    n->released_ms = td_stmt_column_int64(q, 5);
}

td_status td_notice_list(td_orders *o, int64_t order_id, td_user_notice **out, size_t *count,
                         td_error *err)
{
    return td_store_read_rows(o->svc->store,
                              "SELECT id, order_id, content_id, created_ms, hold_until_ms,"
                              " released_ms FROM order_notices WHERE $1 = 0 OR order_id = $1"
                              " ORDER BY id",
                              &order_id, 1, TD_NOTICE_LIST_MAX, sizeof **out, notice_item,
                              (void **)out, count, err);
}

td_status td__order_for_content(td_store_conn *c, const char *content_id, int64_t *order_id,
                                td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    *order_id = 0;
    if ((st = td_store_prepare(c,
                               "SELECT t.order_id FROM order_targets t JOIN orders o"
                               " ON o.id = t.order_id WHERE t.content_id = $1 AND t.removed = 1"
                               " AND o.kind = $2 AND o.state = $3 ORDER BY o.id DESC LIMIT 1",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, content_id, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_ORDER_REMOVAL, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD_ORDER_CONFIRMED, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        *order_id = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return TD_OK;
}
