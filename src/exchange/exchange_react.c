/* Feedback to the sources: content that matched a signal an exchange brought gives that item a
 * SAW_THIS_TOO; a reviewer's remove of such content a HELPFUL, a keep a DISAGREE_WITH_TAGS.
 * Only for exchanges that ask for it (reactions on) and whose client can send them; each
 * (exchange, item, reaction) once (a unique row); at most reactions_per_minute per exchange;
 * a failed send is retried with backoff, ten times at most. The scan follows the matches and
 * decisions tables from where it stood (exchange_cursors), starting at their end the first time:
 * history from before the exchanges existed is not sent. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "exchange/exchange_int.h"

#define BATCH 100
#define MAX_ATTEMPTS 10

enum { PENDING = 0, SENT = 1, DEAD = 2 };

static td_status cursor_get(td_store_conn *c, const char *name, const char *table, int64_t *out,
                            td_error *err)
{
    td_stmt *q;
    int row;
    char sql[96];
    td_status st =
        td_store_prepare(c, "SELECT value FROM exchange_cursors WHERE name = $1", &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, name, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    *out = row ? td_stmt_column_int64(q, 0) : -1;
    td_stmt_reset(q);
    if (*out >= 0)
        return TD_OK;
    snprintf(sql, sizeof sql, "SELECT COALESCE(MAX(id), 0) FROM %s", table);
    if ((st = td_store_prepare(c, sql, &q, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    *out = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

static td_status cursor_set(td_store_conn *c, const char *name, const char *table, int64_t *value,
                            td_error *err)
{
    td_stmt *q;
    int row;
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT COALESCE(MAX(id), 0) FROM %s", table);
    td_status st = td_store_prepare(c, sql, &q, err);
    if (st || (st = td_stmt_step(q, &row, err)))
        return st;
    int64_t top = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if (top < *value)
        top = *value;
    *value = top;
    if ((st = td_store_prepare(c, "UPDATE exchange_cursors SET value = $2 WHERE name = $1", &q,
                               err)) ||
        (st = td_stmt_bind_text(q, 1, name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, top, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

/* Records the reactions the new matches and decisions call for, and moves the cursors past them,
 * in one transaction (two nodes scanning at once: the second finds the cursors moved). */
td_status td__exchange_react_scan(td_exchanges *ex, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int64_t m_from = 0, d_from = 0, m_to, d_to;
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    int64_t now = td__now(ex->svc);
    if ((st = td_store_begin(c, err)) || (st = cursor_get(c, "matches", "matches", &m_from, err)) ||
        (st = cursor_get(c, "decisions", "decisions", &d_from, err)))
        goto out;
    m_to = m_from;
    d_to = d_from;
    /* Read the ends first: rows committed after this point are the next scan's. */
    if ((st = cursor_set(c, "matches", "matches", &m_to, err)) ||
        (st = cursor_set(c, "decisions", "decisions", &d_to, err)))
        goto out;
    if ((st = td_store_prepare(
             c,
             "INSERT INTO exchange_reactions (exchange_id, external_id, reaction, state,"
             " attempts, created_ms, next_ms, sent_ms, last_error)"
             " SELECT DISTINCT i.exchange_id, i.external_id, 'SAW_THIS_TOO', 0, 0, CAST($3 AS "
             "BIGINT), CAST($3 AS BIGINT), 0, ''"
             " FROM matches m JOIN exchange_items i ON i.signal_id = m.signal_id"
             " JOIN exchanges e ON e.id = i.exchange_id"
             " WHERE m.id > $1 AND m.id <= $2 AND e.reactions = 1 AND i.external_id <> ''"
             " ON CONFLICT DO NOTHING",
             &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, m_from, err)) ||
        (st = td_stmt_bind_int64(q, 2, m_to, err)) || (st = td_stmt_bind_int64(q, 3, now, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        goto out;
    if ((st = td_store_prepare(
             c,
             "INSERT INTO exchange_reactions (exchange_id, external_id, reaction, state,"
             " attempts, created_ms, next_ms, sent_ms, last_error)"
             " SELECT DISTINCT i.exchange_id, i.external_id,"
             " CASE WHEN d.kind = $4 THEN 'HELPFUL' ELSE 'DISAGREE_WITH_TAGS' END,"
             " 0, 0, CAST($3 AS BIGINT), CAST($3 AS BIGINT), 0, ''"
             " FROM decisions d JOIN cases k ON k.id = d.case_id"
             " JOIN matches m ON m.content_ref = k.content_ref"
             " JOIN exchange_items i ON i.signal_id = m.signal_id"
             " JOIN exchanges e ON e.id = i.exchange_id"
             " WHERE d.id > $1 AND d.id <= $2 AND (d.kind = $4 OR d.kind = $5)"
             " AND e.reactions = 1 AND i.external_id <> ''"
             " ON CONFLICT DO NOTHING",
             &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, d_from, err)) ||
        (st = td_stmt_bind_int64(q, 2, d_to, err)) || (st = td_stmt_bind_int64(q, 3, now, err)) ||
        (st = td_stmt_bind_int64(q, 4, TD_DECISION_REMOVE, err)) ||
        (st = td_stmt_bind_int64(q, 5, TD_DECISION_KEEP, err)) || (st = td_stmt_run(q, NULL, err)))
        goto out;
    st = td_store_commit(c, err);
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    return st;
}

typedef struct due {
    int64_t id, exchange_id;
    char external_id[TD__XID_MAX + 1];
    char reaction[24];
    int attempts;
} due;

static void due_row(td_stmt *q, void *item)
{
    due *d = item;
    d->id = td_stmt_column_int64(q, 0);
    d->exchange_id = td_stmt_column_int64(q, 1);
    td__copy_trunc(d->external_id, sizeof d->external_id, td_stmt_column_text(q, 2));
    td__copy_trunc(d->reaction, sizeof d->reaction, td_stmt_column_text(q, 3));
    d->attempts = (int)td_stmt_column_int64(q, 4);
}

static td_status sent_recently(td_exchanges *ex, int64_t id, int64_t since, int64_t *n,
                               td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    td_status st = td_store_acquire(ex->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT COUNT(*) FROM exchange_reactions WHERE exchange_id = $1"
                               " AND state = 1 AND sent_ms > $2",
                               &q, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, id, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 2, since, err)) == TD_OK &&
        (st = td_stmt_step(q, &row, err)) == TD_OK) {
        *n = row ? td_stmt_column_int64(q, 0) : 0;
        td_stmt_reset(q);
    }
    td_store_release(ex->svc->store, c);
    return st;
}

static td_status mark(td_exchanges *ex, const due *d, int ok, const char *error, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int64_t now = td__now(ex->svc);
    int attempts = d->attempts + 1;
    int state = ok ? SENT : attempts >= MAX_ATTEMPTS ? DEAD : PENDING;
    int64_t next = now + ex->opts.backoff_min_ms * ((int64_t)1 << (attempts < 16 ? attempts : 16));
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    if ((st = td_store_begin(c, err)) ||
        (st = td_store_prepare(c,
                               "UPDATE exchange_reactions SET state = $2, attempts = $3,"
                               " next_ms = $4, sent_ms = $5, last_error = $6 WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, d->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, state, err)) ||
        (st = td_stmt_bind_int64(q, 3, attempts, err)) ||
        (st = td_stmt_bind_int64(q, 4, next, err)) ||
        (st = td_stmt_bind_int64(q, 5, ok ? now : 0, err)) ||
        (st = td_stmt_bind_text(q, 6, error ? error : "", (size_t)-1, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        goto out;
    if (ok && (st = td__exchange_audit(
                   ex, c, NULL, "exchange.reaction", d->exchange_id,
                   json_pack("{s:s, s:s}", "item", d->external_id, "reaction", d->reaction), err)))
        goto out;
    st = td_store_commit(c, err);
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    return st;
}

/* Sends one reaction through the exchange's client. */
static td_status send_one(td_exchanges *ex, const due *d, int *sent, td_error *err)
{
    td_exchange e;
    td__xconn *x = NULL;
    char error[TD_ERROR_TEXT_MAX + 1] = "";
    *sent = 0;
    td_status st = td__exchange_connect(ex, d->exchange_id, &e, &x, err);
    if (st == TD_ERR_NOT_FOUND)
        return TD_OK; /* deleted meanwhile: its reactions went with it */
    if (st)
        return st;
    const td__xclient *client = td__xclient_of(e.type);
    if (!client || !client->react || !e.reactions) {
        td__exchange_disconnect(x);
        return mark(ex, d, 0, "this exchange sends no reactions", err);
    }
    x->http.max_bytes = 1 << 20;
    td_error rerr;
    td_error_clear(&rerr);
    td_status rs = client->react(x, d->external_id, d->reaction, &rerr);
    if (rs != TD_OK)
        td__copy_trunc(error, sizeof error, rerr.message[0] ? rerr.message : td_strerror(rs));
    td__exchange_disconnect(x);
    *sent = rs == TD_OK;
    return mark(ex, d, rs == TD_OK, error, err);
}

td_status td_exchange_react_due(td_exchanges *ex, size_t *sent, td_error *err)
{
    due *list = NULL;
    size_t n = 0, done = 0;
    if (sent)
        *sent = 0;
    td_status st = td__exchange_react_scan(ex, err);
    if (st)
        return st;
    int64_t now = td__now(ex->svc);
    int64_t binds[1] = {now};
    if ((st = td_store_read_rows(ex->svc->store,
                                 "SELECT id, exchange_id, external_id, reaction, attempts"
                                 " FROM exchange_reactions WHERE state = 0 AND next_ms <= $1"
                                 " ORDER BY id LIMIT 100",
                                 binds, 1, BATCH, sizeof(due), due_row, (void **)&list, &n, err)))
        return st;
    for (size_t i = 0; i < n && st == TD_OK; i++) {
        int64_t recent = 0;
        if ((st = sent_recently(ex, list[i].exchange_id, now - 60000, &recent, err)))
            break;
        if (recent >= ex->opts.reactions_per_minute)
            continue; /* this exchange's share of the minute is spent: later */
        int ok = 0;
        if ((st = send_one(ex, &list[i], &ok, err)))
            break;
        done += (size_t)ok;
    }
    td_free(list);
    if (sent)
        *sent = done;
    return st;
}
