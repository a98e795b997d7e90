/* What incidents record: the matches casework applied an incident to (queued in memory by the
 * check path, written here), and the signals meeting an open incident's filter as they enter a
 * bank, found by following the store's change log from the incident's start (an ADD entry names
 * one signal, an ADD_RANGE entry a bulk import's id range). Each new signal, the first time its
 * type and value are seen for the incident in any bank, is an event with its source (who added
 * it: "manual", "import", an exchange) and is pushed to subscribed peers (webhook event
 * "incident"), in the transaction that moves the incident's cursor: a signal is recorded and
 * pushed once, whichever node of a shared store follows first. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "exchange/incidents_int.h"

#define CHANGES_BATCH 1024 /* change-log entries per transaction */
#define ROUNDS_MAX 64      /* transactions per incident and pass */

/* ---- hits ---- */

typedef struct hits_args {
    td__incident_hit *hits;
    size_t n;
} hits_args;

static td_status insert_event(td_store_conn *c, int64_t incident, int kind, int64_t at,
                              int64_t signal_id, td_signal_type type, const char *value,
                              const char *bank, const char *source, const char *content_id,
                              int verdict, const char *via, td_error *err)
{
    td_stmt *q;
    td_status st;
    if ((st = td_store_prepare(c,
                               "INSERT INTO incident_events (incident_id, kind, at_ms, signal_id,"
                               " type, value, bank, source, content_id, verdict, via)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, incident, err)) ||
        (st = td_stmt_bind_int64(q, 2, kind, err)) || (st = td_stmt_bind_int64(q, 3, at, err)) ||
        (st = td_stmt_bind_int64(q, 4, signal_id, err)) ||
        (st = td_stmt_bind_int64(q, 5, type, err)) ||
        (st = td_stmt_bind_text(q, 6, value, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 7, bank, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 8, source, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 9, content_id, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 10, verdict, err)) ||
        (st = td_stmt_bind_text(q, 11, via, (size_t)-1, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

static td_status hits_body(td_store_conn *c, void *arg, td_error *err)
{
    hits_args *a = arg;
    td_stmt *q;
    int row;
    td_status st = TD_OK;
    for (size_t i = 0; i < a->n && st == TD_OK; i++) {
        const td__incident_hit *h = &a->hits[i];
        /* Matches still queued when their incident closed are not part of it. */
        if ((st = td_store_prepare(c, "SELECT state FROM incidents WHERE id = $1", &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, h->incident_id, err)) ||
            (st = td_stmt_step(q, &row, err)))
            break;
        int open = row && td_stmt_column_int64(q, 0) == 0;
        td_stmt_reset(q);
        if (!open)
            continue;
        char value[65] = "", source[TD_SOURCE_MAX + 1] = "";
        if ((st = td_store_prepare(c, "SELECT type, value, source FROM signals WHERE id = $1", &q,
                                   err)) ||
            (st = td_stmt_bind_int64(q, 1, h->signal_id, err)) || (st = td_stmt_step(q, &row, err)))
            break;
        if (row) {
            if (td__value_column_hex(q, 1, (td_signal_type)td_stmt_column_int64(q, 0), value))
                value[0] = '\0';
            td__copy_trunc(source, sizeof source, td_stmt_column_text(q, 2));
        }
        td_stmt_reset(q);
        st = insert_event(c, h->incident_id, TD__INC_MATCH, h->at_ms, h->signal_id, h->type, value,
                          h->bank, source, h->content_id, h->verdict, h->via, err);
        if (st == TD_OK && h->blocked)
            st = insert_event(c, h->incident_id, TD__INC_BLOCK, h->at_ms, h->signal_id, h->type,
                              value, h->bank, source, h->content_id, h->verdict, h->via, err);
    }
    return st;
}

/* ---- the change log ---- */

typedef struct change {
    int64_t seq, kind, first, last, at_ms;
} change;

typedef struct seen {
    int64_t id, at_ms;
    td_signal_type type;
    char value[65];
    char source[TD_SOURCE_MAX + 1];
    char bank[TD_NAME_MAX + 1];
} seen;

typedef struct follow_args {
    td_incidents *inc;
    int64_t id;
    int done; /* the incident's cursor reached the end of the log */
} follow_args;

static td_status push_signal(td_incidents *inc, td_store_conn *c, const td_incident *in,
                             const seen *s, td_error *err)
{
    char subject[96];
    snprintf(subject, sizeof subject, "incident:%lld:signal:%s:%s", (long long)in->id,
             td_signal_type_name(s->type), s->value);
    json_t *payload = json_object();
    json_object_set_new(payload, "incident", td__incident_json(in));
    json_object_set_new(payload, "change", json_string("signal"));
    json_object_set_new(payload, "bank", json_string(s->bank));
    json_object_set_new(payload, "signal",
                        json_pack("{s:I, s:s, s:s, s:s, s:I}", "id", (json_int_t)s->id, "type",
                                  td_signal_type_name(s->type), "value", s->value, "source",
                                  s->source, "added_ms", (json_int_t)s->at_ms));
    td_status st =
        td__event_enqueue_for(inc->svc, c, TD_EVENT_INCIDENT, subject, payload, TD__SCOPE_ALL, err);
    json_decref(payload);
    return st;
}

/* The signals of ids first..last that meet the incident's filter, appended to *out. */
static td_status collect(td_store_conn *c, const td__incident_rule *rule, const change *ch,
                         seen **out, size_t *n, size_t *cap, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c,
                                    "SELECT s.id, s.type, s.value, s.labels, s.source, b.name,"
                                    " b.labels FROM signals s JOIN banks b ON b.id = s.bank_id"
                                    " WHERE s.id >= $1 AND s.id <= $2 ORDER BY s.id",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, ch->first, err)) ||
        (st = td_stmt_bind_int64(q, 2, ch->last, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        td_labels labels;
        td__labels_load(&labels, td_stmt_column_text(q, 6));
        td_labels own;
        td__labels_load(&own, td_stmt_column_text(q, 3));
        td__labels_merge(&labels, &own);
        if (!td__incident_rule_meets(rule, td_stmt_column_text(q, 5), &labels))
            continue;
        if ((st = td__grow((void **)out, cap, *n + 1, sizeof **out, err)))
            break;
        seen *s = &(*out)[*n];
        memset(s, 0, sizeof *s);
        s->id = td_stmt_column_int64(q, 0);
        s->type = (td_signal_type)td_stmt_column_int64(q, 1);
        s->at_ms = ch->at_ms;
        if (td__value_column_hex(q, 2, s->type, s->value) != 0)
            continue;
        td__copy_trunc(s->source, sizeof s->source, td_stmt_column_text(q, 4));
        td__copy_trunc(s->bank, sizeof s->bank, td_stmt_column_text(q, 5));
        (*n)++;
    }
    td_stmt_reset(q);
    return st;
}

static td_status follow_body(td_store_conn *c, void *arg, td_error *err)
{
    follow_args *a = arg;
    td_incident in;
    td__incident_rule rule;
    td_stmt *q;
    int row;
    change *changes = NULL;
    seen *found = NULL;
    size_t nc = 0, capc = 0, nf = 0, capf = 0;
    int64_t cursor = 0, changed = 0;
    td_status st = td__incident_load(c, a->id, &in, err);
    if (st)
        return st;
    if (!in.open) {
        a->done = 1;
        return TD_OK;
    }
    memset(&rule, 0, sizeof rule);
    rule.id = in.id;
    rule.labels = in.filter.labels;
    rule.n_banks = in.filter.n_banks;
    memcpy(rule.banks, in.filter.banks, sizeof rule.banks);
    if ((st = td_store_prepare(c, "SELECT cursor FROM incidents WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    cursor = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if ((st = td_store_prepare(c,
                               "SELECT seq, kind, signal_id, last_id, at_ms FROM changes"
                               " WHERE seq > $1 ORDER BY seq LIMIT $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, cursor, err)) ||
        (st = td_stmt_bind_int64(q, 2, CHANGES_BATCH, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        if ((st = td__grow((void **)&changes, &capc, nc + 1, sizeof *changes, err)))
            break;
        change *ch = &changes[nc++];
        ch->seq = td_stmt_column_int64(q, 0);
        ch->kind = td_stmt_column_int64(q, 1);
        ch->first = td_stmt_column_int64(q, 2);
        ch->last = ch->kind == TD__CHANGE_ADD_RANGE ? td_stmt_column_int64(q, 3) : ch->first;
        ch->at_ms = td_stmt_column_int64(q, 4);
    }
    td_stmt_reset(q);
    if (st)
        goto out;
    a->done = nc < CHANGES_BATCH;
    if (!nc)
        goto out;
    for (size_t i = 0; i < nc && st == TD_OK; i++)
        if (changes[i].kind == TD__CHANGE_ADD || changes[i].kind == TD__CHANGE_ADD_RANGE)
            st = collect(c, &rule, &changes[i], &found, &nf, &capf, err);
    for (size_t i = 0; i < nf && st == TD_OK; i++) {
        const seen *s = &found[i];
        if ((st = td_store_prepare(c,
                                   "INSERT INTO incident_signals (incident_id, type, value)"
                                   " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, s->type, err)) ||
            (st = td_stmt_bind_text(q, 3, s->value, (size_t)-1, err)) ||
            (st = td_stmt_run(q, &changed, err)))
            break;
        if (!changed)
            continue; /* seen before, in this bank or another */
        if ((st = insert_event(c, a->id, TD__INC_SIGNAL, s->at_ms, s->id, s->type, s->value,
                               s->bank, s->source, "", 0, "bank", err)))
            break;
        st = push_signal(a->inc, c, &in, s, err);
    }
    if (st)
        goto out;
    /* Another node following the same incident moved the cursor first: its transaction
     * recorded these; this one rolls back. */
    if ((st = td_store_prepare(c, "UPDATE incidents SET cursor = $1 WHERE id = $2 AND cursor = $3",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, changes[nc - 1].seq, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 3, cursor, err)) || (st = td_stmt_run(q, &changed, err)))
        goto out;
    if (!changed)
        st = td__error_set(err, TD_ERR_CONFLICT, "incident %lld followed by another node",
                           (long long)a->id);
out:
    td__free(changes);
    td__free(found);
    return st;
}

static void open_row(td_stmt *q, void *item) { *(int64_t *)item = td_stmt_column_int64(q, 0); }

td_status td__incidents_record(td_incidents *inc, td_error *err)
{
    td__incident_hit *hits = NULL;
    uint64_t dropped = 0;
    int64_t *open = NULL;
    size_t n_open = 0;
    td_status st = TD_OK;
    pthread_mutex_lock(&inc->record_lock);
    size_t n = td__incident_hits_take(inc->svc, &hits, &dropped);
    atomic_fetch_add(&inc->dropped, dropped);
    if (n) {
        hits_args a = {hits, n};
        st = td_store_write(inc->svc->store, hits_body, &a, err);
    }
    td__free(hits);
    const int64_t binds[1] = {0};
    if (st == TD_OK)
        st = td_store_read_rows(
            inc->svc->store, "SELECT id FROM incidents WHERE state = $1 ORDER BY id", binds, 1,
            TD_INCIDENT_OPEN_MAX * 4, sizeof *open, open_row, (void **)&open, &n_open, err);
    for (size_t i = 0; st == TD_OK && i < n_open; i++) {
        follow_args a = {inc, open[i], 0};
        for (int round = 0; st == TD_OK && !a.done && round < ROUNDS_MAX; round++)
            st = td_store_write(inc->svc->store, follow_body, &a, err);
        if (st == TD_ERR_CONFLICT)
            st = TD_OK; /* another node is on it */
    }
    td__free(open);
    pthread_mutex_unlock(&inc->record_lock);
    if (st == TD_OK && n_open)
        td_webhook_kick(inc->svc);
    return st;
}
