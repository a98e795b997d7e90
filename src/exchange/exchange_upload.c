/* Sharing the platform's own signals with a source (ThreatExchange's POST /threat_descriptors),
 * only after a second person approved: one asks (an audit entry), another approves or rejects (an
 * audit entry); an approved upload is sent at once on the calling thread and its outcome recorded
 * (the source's id, or the error; a failed upload may be approved again). The item the source
 * made of it is remembered with the exchange's items, so that reactions and retractions on it
 * are the exchange's like any other. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "exchange/exchange_int.h"

static const char *const state_names[] = {"pending", "sent", "failed", "rejected"};

const char *td_exchange_upload_state_name(td_exchange_upload_state s)
{
    return (unsigned)s < 4 ? state_names[s] : "unknown";
}

#define COLUMNS                                                                                    \
    "id, exchange_id, signal_id, state, description, requested_by, requested_by_name,"             \
    " requested_ms, decided_by, decided_by_name, decided_ms, external_id, last_error"

static void row(td_stmt *q, void *item)
{
    td_exchange_upload *u = item;
    memset(u, 0, sizeof *u);
    u->id = td_stmt_column_int64(q, 0);
    u->exchange_id = td_stmt_column_int64(q, 1);
    u->signal_id = td_stmt_column_int64(q, 2);
    u->state = (td_exchange_upload_state)td_stmt_column_int64(q, 3);
    td__copy_trunc(u->description, sizeof u->description, td_stmt_column_text(q, 4));
    u->requested_by = td_stmt_column_int64(q, 5);
    td__copy_trunc(u->requested_by_name, sizeof u->requested_by_name, td_stmt_column_text(q, 6));
    u->requested_ms = td_stmt_column_int64(q, 7);
    u->decided_by = td_stmt_column_int64(q, 8);
    td__copy_trunc(u->decided_by_name, sizeof u->decided_by_name, td_stmt_column_text(q, 9));
    u->decided_ms = td_stmt_column_int64(q, 10);
    td__copy_trunc(u->external_id, sizeof u->external_id, td_stmt_column_text(q, 11));
    td__copy_trunc(u->last_error, sizeof u->last_error, td_stmt_column_text(q, 12));
}

static td_status load(td_store_conn *c, int64_t id, int64_t upload_id, td_exchange_upload *out,
                      td_error *err)
{
    td_stmt *q;
    int found;
    td_status st = td_store_prepare(
        c, "SELECT " COLUMNS " FROM exchange_uploads WHERE id = $1 AND exchange_id = $2", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, upload_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, id, err)) || (st = td_stmt_step(q, &found, err)))
        return st;
    if (found)
        row(q, out);
    td_stmt_reset(q);
    return found ? TD_OK
                 : td__error_set(err, TD_ERR_NOT_FOUND, "exchange %lld has no upload %lld",
                                 (long long)id, (long long)upload_id);
}

td_status td_exchange_upload_request_as(td_exchanges *ex, const td_principal *who, int64_t id,
                                        int64_t signal_id, const char *description,
                                        td_exchange_upload *out, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    td_exchange e;
    td_signal sig;
    int found = 0;
    char source[TD_SOURCE_MAX + 1];
    if (!who || !who->id)
        return td__error_set(err, TD_ERR_INVALID, "an upload is asked for by a person's key");
    if (!description)
        description = "";
    if (strlen(description) > TD_EXCHANGE_DESCRIPTION_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "'description' over %d bytes",
                             TD_EXCHANGE_DESCRIPTION_MAX);
    td_status st = td_signal_get(ex->svc, NULL, signal_id, &sig, err);
    if (st)
        return st;
    if ((st = td_store_acquire(ex->svc->store, 1, &c, err)))
        return st;
    int64_t now = td__now(ex->svc);
    if ((st = td_store_begin(c, err)) || (st = td__exchange_load(c, id, &e, &found, err)))
        goto out;
    if (!found) {
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no exchange %lld", (long long)id);
        goto out;
    }
    const td__xclient *client = td__xclient_of(e.type);
    if (!client || !client->upload) {
        st = td__error_set(err, TD_ERR_UNSUPPORTED, "a %s exchange takes no uploads",
                           td_exchange_type_name(e.type));
        goto out;
    }
    td__exchange_source(e.name, source);
    if (strcmp(sig.source, source) == 0) {
        st = td__error_set(err, TD_ERR_INVALID, "signal %lld came from this exchange",
                           (long long)signal_id);
        goto out;
    }
    int64_t uid = 0;
    if ((st = td_store_prepare(c,
                               "INSERT INTO exchange_uploads (exchange_id, signal_id, state,"
                               " description, requested_by, requested_by_name, requested_ms,"
                               " decided_by, decided_by_name, decided_ms, external_id,"
                               " last_error) VALUES ($1, $2, 0, $3, $4, $5, $6, 0, '', 0, '', '')",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_int64(q, 2, signal_id, err)) ||
        (st = td_stmt_bind_text(q, 3, description, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, who->id, err)) ||
        (st = td_stmt_bind_text(q, 5, who->name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 6, now, err)) || (st = td_stmt_run(q, NULL, err)) ||
        (st = td_store_prepare(c, "SELECT MAX(id) FROM exchange_uploads WHERE exchange_id = $1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &found, err)))
        goto out;
    uid = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    if ((st = td__exchange_audit(ex, c, who, "exchange.upload_request", id,
                                 json_pack("{s:I, s:I, s:s, s:s}", "upload", (json_int_t)uid,
                                           "signal", (json_int_t)signal_id, "type",
                                           td_signal_type_name(sig.type), "value", sig.value),
                                 err)) ||
        (st = td_store_commit(c, err)))
        goto out;
    if (out)
        st = load(c, id, uid, out, err);
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    return st;
}

td_status td_exchange_upload_list(td_exchanges *ex, int64_t id, td_exchange_upload **out,
                                  size_t *count, td_error *err)
{
    int64_t binds[1] = {id};
    return td_store_read_rows(ex->svc->store,
                              "SELECT " COLUMNS " FROM exchange_uploads WHERE exchange_id = $1"
                              " ORDER BY id DESC LIMIT 1000",
                              binds, 1, 1000, sizeof(td_exchange_upload), row, (void **)out, count,
                              err);
}

/* Records a decision (or the outcome of a send) in one transaction with its audit entry; an
 * upload sent is remembered with the exchange's items. */
static td_status record(td_exchanges *ex, const td_principal *who, int64_t id,
                        const td_exchange_upload *u, td_exchange_upload_state state,
                        const char *external_id, const char *error, td_exchange_upload *out,
                        td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    td_exchange_upload cur;
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    int64_t now = td__now(ex->svc);
    if ((st = td_store_begin(c, err)) || (st = load(c, id, u->id, &cur, err)))
        goto out;
    if (cur.state == TD_XUPLOAD_SENT || cur.state == TD_XUPLOAD_REJECTED) {
        st = td__error_set(err, TD_ERR_CONFLICT, "upload %lld is %s already", (long long)u->id,
                           td_exchange_upload_state_name(cur.state));
        goto out;
    }
    if ((st = td_store_prepare(c,
                               "UPDATE exchange_uploads SET state = $2, decided_by = $3,"
                               " decided_by_name = $4, decided_ms = $5, external_id = $6,"
                               " last_error = $7 WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, u->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, state, err)) ||
        (st = td_stmt_bind_int64(q, 3, who->id, err)) ||
        (st = td_stmt_bind_text(q, 4, who->name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, now, err)) ||
        (st = td_stmt_bind_text(q, 6, external_id ? external_id : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 7, error ? error : "", (size_t)-1, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        goto out;
    if (state == TD_XUPLOAD_SENT &&
        ((st = td_store_prepare(c,
                                "INSERT INTO exchange_items (exchange_id, signal_id, external_id,"
                                " generation) SELECT $1, $2, $3, generation FROM exchanges"
                                " WHERE id = $1 ON CONFLICT (exchange_id, signal_id) DO UPDATE"
                                " SET external_id = excluded.external_id",
                                &q, err)) ||
         (st = td_stmt_bind_int64(q, 1, id, err)) ||
         (st = td_stmt_bind_int64(q, 2, u->signal_id, err)) ||
         (st = td_stmt_bind_text(q, 3, external_id, (size_t)-1, err)) ||
         (st = td_stmt_run(q, NULL, err))))
        goto out;
    static const char *const actions[] = {"exchange.upload_request", "exchange.upload_sent",
                                          "exchange.upload_failed", "exchange.upload_reject"};
    json_t *d =
        json_pack("{s:I, s:I}", "upload", (json_int_t)u->id, "signal", (json_int_t)u->signal_id);
    if (d && external_id)
        json_object_set_new(d, "external_id", json_string(external_id));
    if (d && error)
        json_object_set_new(d, "error", json_string(error));
    if ((st = td__exchange_audit(ex, c, who, actions[state], id, d, err)) ||
        (st = td_store_commit(c, err)))
        goto out;
    if (out)
        st = load(c, id, u->id, out, err);
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    return st;
}

td_status td_exchange_upload_decide_as(td_exchanges *ex, const td_principal *who, int64_t id,
                                       int64_t upload_id, int approve, td_exchange_upload *out,
                                       td_error *err)
{
    td_store_conn *c;
    td_exchange_upload u;
    if (!who || !who->id)
        return td__error_set(err, TD_ERR_INVALID, "an upload is decided by a person's key");
    td_status st = td_store_acquire(ex->svc->store, 0, &c, err);
    if (st)
        return st;
    st = load(c, id, upload_id, &u, err);
    td_store_release(ex->svc->store, c);
    if (st)
        return st;
    if (u.state == TD_XUPLOAD_SENT || u.state == TD_XUPLOAD_REJECTED)
        return td__error_set(err, TD_ERR_CONFLICT, "upload %lld is %s already",
                             (long long)upload_id, td_exchange_upload_state_name(u.state));
    if (u.requested_by == who->id)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "the key that asked for an upload cannot approve or reject it: a "
                             "second person decides");
    if (!approve)
        return record(ex, who, id, &u, TD_XUPLOAD_REJECTED, NULL, NULL, out, err);

    td_signal sig;
    td_exchange e;
    td__xconn *x = NULL;
    char *body = NULL;
    size_t body_len = 0;
    if ((st = td_signal_get(ex->svc, NULL, u.signal_id, &sig, err)) ||
        (td_signal_type_has_body(sig.type) &&
         (st = td_signal_get_body(ex->svc, NULL, u.signal_id, &body, &body_len, err))) ||
        (st = td__exchange_connect(ex, id, &e, &x, err))) {
        td_free(body);
        return st;
    }
    const td__xclient *client = td__xclient_of(e.type);
    char external[TD__XID_MAX + 1] = "";
    td_error uerr;
    td_error_clear(&uerr);
    td_status us = client && client->upload
                       ? client->upload(x, sig.type, body ? body : sig.value,
                                        body ? body_len : strlen(sig.value), &sig.labels,
                                        u.description, external, &uerr)
                       : td__error_set(&uerr, TD_ERR_UNSUPPORTED, "this exchange takes no uploads");
    td__exchange_disconnect(x);
    td_free(body);
    if (us == TD_OK)
        return record(ex, who, id, &u, TD_XUPLOAD_SENT, external, NULL, out, err);
    return record(ex, who, id, &u, TD_XUPLOAD_FAILED, NULL,
                  uerr.message[0] ? uerr.message : td_strerror(us), out, err);
}
