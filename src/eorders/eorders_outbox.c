/* The outbox: messages to the issuing side (data preserved, outcome, non-execution,
 * correspondence), queued in the transaction of the change they report, and taken by the
 * server, which converts each to the transport's XML and posts it, then says whether it went.
 *
 * Why a table rather than a webhook: the receiver is an authority's system (e-CODEX access point
 * or the REST peer), not the platform, and a message must survive restarts until the authority
 * has it; the library cannot know the transport, so it keeps the JSON and the retry time and the
 * server does the rest. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "eorders/eorders_int.h"

td_status td__eorder_message(td_eorders *eo, td_store_conn *c, const td_eorder *o,
                             td_eorder_message_kind kind, json_t *details, td_error *err)
{
    int64_t now = td__now(eo->svc);
    json_t *m = json_object();
    if (!m) {
        json_decref(details);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    json_object_set_new(m, "kind", json_string(td_eorder_message_kind_name(kind)));
    json_object_set_new(m, "order", json_string(o->id_text));
    json_object_set_new(m, "ext_id", o->doc.ext_id[0] ? json_string(o->doc.ext_id) : json_null());
    json_object_set_new(m, "framework", json_string(td_eorder_framework_name(o->doc.framework)));
    json_object_set_new(m, "reference", json_string(o->doc.issuing_authority.file_number));
    json_object_set_new(m, "issuing_state", json_string(o->doc.issuing_state));
    json_object_set_new(m, "issuing_authority", json_string(o->doc.issuing_authority.name));
    json_object_set_new(m, "created", td__eorder_time_json(now));
    json_object_set_new(m, "details", details ? details : json_object());
    /* What the transport stored to answer with (its task objects, the sender). */
    td_stmt *q;
    td_status st;
    int row = 0;
    if ((st = td_store_prepare(c, "SELECT transport_data FROM eorders WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, o->id, err)) || (st = td_stmt_step(q, &row, err))) {
        json_decref(m);
        return st;
    }
    const char *tdata = row ? td_stmt_column_text(q, 0) : NULL;
    json_t *transport = tdata ? json_loads(tdata, 0, NULL) : NULL;
    if (transport)
        json_object_set_new(m, "transport", transport);
    char *body = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m);
    if (!body)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if (strlen(body) > TD_EORDER_MESSAGE_MAX) {
        st =
            td__error_set(err, TD_ERR_LIMIT, "outbox message over %d bytes", TD_EORDER_MESSAGE_MAX);
    } else if ((st = td_store_prepare(c,
                                      "INSERT INTO eorder_outbox (order_id, kind, state, body,"
                                      " created_ms, next_attempt_ms) VALUES ($1, $2, $3, $4, $5,"
                                      " $5)",
                                      &q, err)) == TD_OK &&
               (st = td_stmt_bind_int64(q, 1, o->id, err)) == TD_OK &&
               (st = td_stmt_bind_int64(q, 2, kind, err)) == TD_OK &&
               (st = td_stmt_bind_int64(q, 3, TD_EORDER_MSG_PENDING, err)) == TD_OK &&
               (st = td_stmt_bind_text(q, 4, body, (size_t)-1, err)) == TD_OK &&
               (st = td_stmt_bind_int64(q, 5, now, err)) == TD_OK) {
        st = td_stmt_run(q, NULL, err);
    }
    free(body); /* jansson's */
    return st;
}

td_status td__eorder_messages_cancel(td_store_conn *c, int64_t id, int64_t *n, td_error *err)
{
    td_stmt *q;
    td_status st;
    if ((st = td_store_prepare(
             c, "UPDATE eorder_outbox SET state = $2 WHERE order_id = $1 AND state = $3", &q,
             err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_EORDER_MSG_CANCELLED, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD_EORDER_MSG_PENDING, err)))
        return st;
    return td_stmt_run(q, n, err);
}

#define MSG_COLUMNS                                                                                \
    "id, order_id, kind, state, body, attempts, last_error, created_ms, next_attempt_ms, sent_ms"

static void message_row(td_stmt *q, void *item)
{
    td_eorder_message *m = item;
    memset(m, 0, sizeof *m);
    m->id = td_stmt_column_int64(q, 0);
    m->order_id = td_stmt_column_int64(q, 1);
    m->kind = (td_eorder_message_kind)td_stmt_column_int64(q, 2);
    m->state = (td_eorder_message_state)td_stmt_column_int64(q, 3);
    td__copy_trunc(m->json, sizeof m->json, td_stmt_column_text(q, 4));
    m->attempts = (int)td_stmt_column_int64(q, 5);
    td__copy_trunc(m->last_error, sizeof m->last_error, td_stmt_column_text(q, 6));
    m->created_ms = td_stmt_column_int64(q, 7);
    m->next_attempt_ms = td_stmt_column_int64(q, 8);
    m->sent_ms = td_stmt_column_int64(q, 9);
}

td_status td_eorder_outbox_list(td_eorders *eo, const char *order, int due_only, size_t limit,
                                td_eorder_message **out, size_t *count, td_error *err)
{
    int64_t binds[3];
    *out = NULL;
    *count = 0;
    if (limit == 0)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        limit = TD_PAGE_MAX;
    if (due_only) {
        binds[0] = TD_EORDER_MSG_PENDING;
        binds[1] = td__now(eo->svc);
        binds[2] = (int64_t)limit;
        return td_store_read_rows(
            eo->svc->store,
            due_only == 2 ? "SELECT " MSG_COLUMNS " FROM eorder_outbox WHERE state = $1"
                            " AND next_attempt_ms <= $2 AND order_id IN (SELECT id FROM eorders"
                            " WHERE transport_data IS NOT NULL) ORDER BY id LIMIT $3"
                          : "SELECT " MSG_COLUMNS " FROM eorder_outbox WHERE state = $1"
                            " AND next_attempt_ms <= $2 ORDER BY id LIMIT $3",
            binds, 3, limit, sizeof **out, message_row, (void **)out, count, err);
    }
    if (!order || !*order) {
        binds[0] = (int64_t)limit;
        return td_store_read_rows(
            eo->svc->store, "SELECT " MSG_COLUMNS " FROM eorder_outbox ORDER BY id LIMIT $1", binds,
            1, limit, sizeof **out, message_row, (void **)out, count, err);
    }
    td_store_conn *c;
    int64_t id = 0;
    td_status st = td_store_acquire(eo->svc->store, 0, &c, err);
    if (st)
        return st;
    st = td__eorder_resolve(c, order, &id, err);
    td_store_release(eo->svc->store, c);
    if (st)
        return st;
    binds[0] = id;
    binds[1] = (int64_t)limit;
    return td_store_read_rows(eo->svc->store,
                              "SELECT " MSG_COLUMNS " FROM eorder_outbox WHERE order_id = $1"
                              " ORDER BY id LIMIT $2",
                              binds, 2, limit, sizeof **out, message_row, (void **)out, count, err);
}

typedef struct mark_args {
    int64_t id, retry_at;
    const char *actor, *error;
    int sent;
} mark_args;

static td_status mark_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    mark_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td_store_prepare(c, "SELECT state, order_id, kind FROM eorder_outbox WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    int64_t state = row ? td_stmt_column_int64(q, 0) : 0,
            order = row ? td_stmt_column_int64(q, 1) : 0,
            kind = row ? td_stmt_column_int64(q, 2) : 0;
    td_stmt_reset(q);
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no outbox message %lld", (long long)a->id);
    if (state != TD_EORDER_MSG_PENDING)
        return td__error_set(err, TD_ERR_CONFLICT, "outbox message %lld is %s", (long long)a->id,
                             td_eorder_message_state_name((td_eorder_message_state)state));
    int64_t now = td__now(eo->svc);
    if (a->sent) {
        if ((st = td_store_prepare(
                 c, "UPDATE eorder_outbox SET state = $2, sent_ms = $3 WHERE id = $1", &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, TD_EORDER_MSG_SENT, err)) ||
            (st = td_stmt_bind_int64(q, 3, now, err)) || (st = td_stmt_run(q, NULL, err)))
            return st;
        return td__eorders_audit(
            eo, c, a->actor, "eorder.message_sent", order,
            json_pack("{s:I, s:s}", "message", (json_int_t)a->id, "kind",
                      td_eorder_message_kind_name((td_eorder_message_kind)kind)),
            NULL, err);
    }
    char text[256];
    td__copy_trunc(text, sizeof text, a->error ? a->error : "");
    if ((st = td_store_prepare(c,
                               "UPDATE eorder_outbox SET attempts = attempts + 1, last_error = $2,"
                               " next_attempt_ms = $3 WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_text(q, 2, text, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->retry_at > now ? a->retry_at : now, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

td_status td_eorder_outbox_sent(td_eorders *eo, const char *actor, int64_t message_id,
                                td_error *err)
{
    mark_args a = {message_id, 0, actor, NULL, 1};
    return td__eorders_tx(eo, mark_body, &a, err);
}

td_status td_eorder_outbox_failed(td_eorders *eo, int64_t message_id, const char *error,
                                  int64_t retry_at_ms, td_error *err)
{
    mark_args a = {message_id, retry_at_ms, "system", error, 0};
    return td__eorders_tx(eo, mark_body, &a, err);
}
