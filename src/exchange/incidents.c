/* Incidents: their schema (component "incidents"), the handle and its thread, the rules handed
 * to casework, and opening, closing and reading an incident.
 *
 * Why here rather than in casework: an incident is an exchange-level duty (the burst of hashes
 * a crisis brings, from every exchange and by hand, pushed on to peers), and what it records
 * (when each signal arrived, where from, what it blocked) exists for the people running it and
 * for the after-action report. Casework holds only the rule list it applies where a match is
 * resolved (service_int.h); this module sets it at once when an incident opens or closes, and
 * its thread reloads it from the store every tick so that nodes sharing a store agree. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "core/wait.h"
#include "exchange/incidents_int.h"

/* Tables, component "incidents". cursor is the last change-log seq the follower looked at for
 * the incident (start_seq when it opened); incident_signals keeps each signal (type, value)
 * recorded once per incident; incident_events is what the figures and the report count. */
static const char schema_v1[] =
    "CREATE TABLE incidents ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL, level INTEGER NOT NULL, labels TEXT NOT NULL,"
    " banks TEXT NOT NULL, enforcement INTEGER NOT NULL, state INTEGER NOT NULL,"
    " opened_ms BIGINT NOT NULL, opened_by TEXT NOT NULL, closed_ms BIGINT NOT NULL DEFAULT 0,"
    " closed_by TEXT NOT NULL DEFAULT '', start_ms BIGINT NOT NULL, start_seq BIGINT NOT NULL,"
    " cursor BIGINT NOT NULL,"
    " report_json TEXT, report_md TEXT);"
    "CREATE INDEX incidents_state ON incidents (state);"
    "CREATE TABLE incident_signals ("
    " incident_id BIGINT NOT NULL REFERENCES incidents(id), type INTEGER NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY (incident_id, type, value));"
    "CREATE TABLE incident_events ("
    " id INTEGER PRIMARY KEY, incident_id BIGINT NOT NULL REFERENCES incidents(id),"
    " kind INTEGER NOT NULL, at_ms BIGINT NOT NULL, signal_id BIGINT NOT NULL,"
    " type INTEGER NOT NULL, value TEXT NOT NULL, bank TEXT NOT NULL, source TEXT NOT NULL,"
    " content_id TEXT NOT NULL, verdict INTEGER NOT NULL, via TEXT NOT NULL);"
    "CREATE INDEX incident_events_kind ON incident_events (incident_id, kind, at_ms);";

static const td_store_migration migrations[] = {
    {1, "incidents, their signals and events", schema_v1, NULL},
};

enum { STATE_OPEN = 0, STATE_CLOSED = 1 };

/* ---- names ---- */

static const char *const level_names[] = {NULL, "cip", "content_incident", "incident"};

const char *td_incident_level_name(td_incident_level level)
{
    if (level >= TD_INCIDENT_CIP && level <= TD_INCIDENT_INCIDENT)
        return level_names[level];
    return "?";
}

td_status td_incident_level_parse(const char *name, td_incident_level *out)
{
    for (int i = TD_INCIDENT_CIP; name && i <= TD_INCIDENT_INCIDENT; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (td_incident_level)i;
            return TD_OK;
        }
    return TD_ERR_INVALID;
}

void td_incidents_options_default(td_incidents_options *o) { memset(o, 0, sizeof *o); }

void td_incident_figures_clear(td_incident_figures *f)
{
    if (!f)
        return;
    td__free(f->hours);
    td__free(f->sources);
    td__free(f->banks);
    td__free(f->types);
    memset(f, 0, sizeof *f);
}

/* ---- rows ---- */

static void banks_join(const td_incident_filter *f, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < f->n_banks && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? " " : "", f->banks[i]);
}

static void banks_load(td_incident_filter *f, const char *text)
{
    f->n_banks = 0;
    while (*text && f->n_banks < TD_INCIDENT_BANKS_MAX) {
        size_t k = strcspn(text, " ");
        if (k && k <= TD_NAME_MAX) {
            memcpy(f->banks[f->n_banks], text, k);
            f->banks[f->n_banks++][k] = '\0';
        }
        text += k;
        while (*text == ' ')
            text++;
    }
}

void td__incident_row(td_stmt *q, void *item)
{
    td_incident *in = item;
    in->id = td_stmt_column_int64(q, 0);
    td__copy_trunc(in->name, sizeof in->name, td_stmt_column_text(q, 1));
    in->level = (td_incident_level)td_stmt_column_int64(q, 2);
    td__labels_load(&in->filter.labels, td_stmt_column_text(q, 3));
    banks_load(&in->filter, td_stmt_column_text(q, 4));
    in->enforcement = (td_action)td_stmt_column_int64(q, 5);
    in->open = td_stmt_column_int64(q, 6) == STATE_OPEN;
    in->opened_ms = td_stmt_column_int64(q, 7);
    td__copy_trunc(in->opened_by, sizeof in->opened_by, td_stmt_column_text(q, 8));
    in->closed_ms = td_stmt_column_int64(q, 9);
    td__copy_trunc(in->closed_by, sizeof in->closed_by, td_stmt_column_text(q, 10));
    in->start_ms = td_stmt_column_int64(q, 11);
}

td_status td__incident_load(td_store_conn *c, int64_t id, td_incident *out, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(
        c, "SELECT " TD__INCIDENT_COLUMNS " FROM incidents WHERE id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no incident %lld", (long long)id);
    memset(out, 0, sizeof *out);
    td__incident_row(q, out);
    td_stmt_reset(q);
    return TD_OK;
}

json_t *td__incident_json(const td_incident *in)
{
    json_t *o = json_object(), *labels = json_array(), *banks = json_array();
    for (int i = 0; i < in->filter.labels.count; i++)
        json_array_append_new(labels, json_string(in->filter.labels.v[i]));
    for (int i = 0; i < in->filter.n_banks; i++)
        json_array_append_new(banks, json_string(in->filter.banks[i]));
    json_object_set_new(o, "id", json_integer(in->id));
    json_object_set_new(o, "name", json_string(in->name));
    json_object_set_new(o, "level", json_string(td_incident_level_name(in->level)));
    json_object_set_new(o, "filter", json_pack("{s:o, s:o}", "labels", labels, "banks", banks));
    json_object_set_new(o, "enforcement", json_string(td_action_name(in->enforcement)));
    json_object_set_new(o, "state", json_string(in->open ? "open" : "closed"));
    json_object_set_new(o, "start_ms", json_integer(in->start_ms));
    json_object_set_new(o, "opened_ms", json_integer(in->opened_ms));
    json_object_set_new(o, "opened_by", json_string(in->opened_by));
    if (!in->open) {
        json_object_set_new(o, "closed_ms", json_integer(in->closed_ms));
        json_object_set_new(o, "closed_by", json_string(in->closed_by));
    }
    return o;
}

/* ---- the rules casework applies ---- */

static void rule_from(const td_incident *in, td__incident_rule *r)
{
    memset(r, 0, sizeof *r);
    r->id = in->id;
    r->labels = in->filter.labels;
    r->n_banks = in->filter.n_banks;
    memcpy(r->banks, in->filter.banks, sizeof r->banks);
    r->action = in->enforcement;
}

td_status td__incidents_reload(td_incidents *inc, td_error *err)
{
    td_incident *list = NULL;
    size_t n = 0;
    const int64_t binds[1] = {STATE_OPEN};
    td_status st = td_store_read_rows(
        inc->svc->store,
        "SELECT " TD__INCIDENT_COLUMNS " FROM incidents WHERE state = $1 ORDER BY id", binds, 1,
        TD_INCIDENT_OPEN_MAX * 4, sizeof *list, td__incident_row, (void **)&list, &n, err);
    if (st)
        return st;
    td__incident_rule *rules = n ? td__mallocarray(n, sizeof *rules) : NULL;
    if (n && !rules) {
        td__free(list);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        rule_from(&list[i], &rules[i]);
    st = td__incident_rules_set(inc->svc, rules, n, err);
    td__free(rules);
    td__free(list);
    return st;
}

/* ---- the thread ---- */

static void ignore(td_status st) { (void)st; }

static void *duty_main(void *arg)
{
    td_incidents *inc = arg;
    pthread_mutex_lock(&inc->duty_lock);
    while (!td__wait_interval(&inc->duty_wake, &inc->duty_lock, &inc->duty_stop,
                              (unsigned)inc->opts.tick_ms)) {
        pthread_mutex_unlock(&inc->duty_lock);
        td_error err;
        /* A failing tick (a busy store) is retried at the next one: every duty catches up
         * with stored state. */
        ignore(td_incidents_tick(inc, &err));
        pthread_mutex_lock(&inc->duty_lock);
    }
    pthread_mutex_unlock(&inc->duty_lock);
    return NULL;
}

td_status td_incidents_tick(td_incidents *inc, td_error *err)
{
    td_status st = td__incidents_reload(inc, err);
    if (st == TD_OK)
        st = td__incidents_record(inc, err);
    return st;
}

/* ---- the handle ---- */

td_status td_incidents_open(td_service *svc, const td_incidents_options *opts, td_incidents **out,
                            td_error *err)
{
    td_status st;
    *out = NULL;
    if (!svc)
        return td__error_set(err, TD_ERR_INVALID, "incidents: no service");
    if (opts && (opts->tick_ms < 0 || opts->tick_ms > 3600000))
        return td__error_set(err, TD_ERR_INVALID, "incidents: tick out of range");
    td_incidents *inc = td__calloc(1, sizeof *inc);
    if (!inc)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    inc->svc = svc;
    if (opts)
        inc->opts = *opts;
    else
        td_incidents_options_default(&inc->opts);
    pthread_mutex_init(&inc->record_lock, NULL);
    pthread_mutex_init(&inc->duty_lock, NULL);
    td__cond_init_monotonic(&inc->duty_wake);
    if ((st = td_store_migrate_component(svc->store, "incidents", migrations,
                                         sizeof migrations / sizeof migrations[0], err)) ||
        (st = td__incidents_reload(inc, err)))
        goto fail;
    if (inc->opts.tick_ms > 0) {
        if (pthread_create(&inc->duty, NULL, duty_main, inc) != 0) {
            st = td__error_set(err, TD_ERR_INTERNAL, "incidents: cannot start the thread");
            goto fail;
        }
        inc->duty_started = 1;
    }
    *out = inc;
    return TD_OK;
fail:
    td_incidents_close(inc);
    return st;
}

void td_incidents_close(td_incidents *inc)
{
    if (!inc)
        return;
    if (inc->duty_started) {
        pthread_mutex_lock(&inc->duty_lock);
        inc->duty_stop = 1;
        pthread_cond_broadcast(&inc->duty_wake);
        pthread_mutex_unlock(&inc->duty_lock);
        pthread_join(inc->duty, NULL);
    }
    /* Without the module nothing reloads the rules: they stop here. */
    ignore(td__incident_rules_set(inc->svc, NULL, 0, NULL));
    pthread_cond_destroy(&inc->duty_wake);
    pthread_mutex_destroy(&inc->duty_lock);
    pthread_mutex_destroy(&inc->record_lock);
    td__free(inc);
}

/* ---- create ---- */

static td_status name_check(const char *s, td_error *err)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > TD_INCIDENT_NAME_MAX)
        return td__error_set(err, TD_ERR_INVALID, "name: 1..%d bytes", TD_INCIDENT_NAME_MAX);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = td__utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (!k || td__unicode_is_control(cp) || td__unicode_is_invisible(cp))
            return td__error_set(err, TD_ERR_INVALID,
                                 "name: UTF-8 without control or invisible characters");
        i += k;
    }
    return TD_OK;
}

typedef struct create_args {
    td_incidents *inc;
    const td_principal *who;
    const td_incident_input *in;
    td_incident *out;
} create_args;

static td_status push(td_incidents *inc, td_store_conn *c, const td_incident *in,
                      const char *change, td_error *err)
{
    char subject[64];
    snprintf(subject, sizeof subject, "incident:%lld:%s", (long long)in->id, change);
    json_t *payload = json_object();
    json_object_set_new(payload, "incident", td__incident_json(in));
    json_object_set_new(payload, "change", json_string(change));
    td_status st =
        td__event_enqueue_for(inc->svc, c, TD_EVENT_INCIDENT, subject, payload, TD__SCOPE_ALL, err);
    json_decref(payload);
    return st;
}

static td_status create_body(td_store_conn *c, void *arg, td_error *err)
{
    create_args *a = arg;
    const td_incident_input *in = a->in;
    td_stmt *q;
    int row;
    int64_t bank_id, open = 0, seq = 0;
    char labels[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1], banks[TD_INCIDENT_BANKS_MAX * 66 + 1];
    td_status st;
    for (int i = 0; i < in->filter.n_banks; i++)
        if ((st = td__bank_id(c, in->filter.banks[i], &bank_id, err)))
            return td__error_prefix(err, "filter.banks[%d]: ", i), st;
    if ((st = td_store_prepare(c, "SELECT COUNT(*) FROM incidents WHERE state = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, STATE_OPEN, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        open = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    if (open >= TD_INCIDENT_OPEN_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d incidents open at once",
                             TD_INCIDENT_OPEN_MAX);
    /* The change log from the start: the entries written before it are not the incident's. */
    int64_t now = td__now(a->inc->svc), start = in->start_ms ? in->start_ms : now;
    if ((st = td_store_prepare(c, "SELECT COALESCE(MAX(seq), 0) FROM changes WHERE at_ms < $1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, start, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        seq = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    td__labels_join(&in->filter.labels, labels, sizeof labels);
    banks_join(&in->filter, banks, sizeof banks);
    const char *by = a->who && a->who->name[0] ? a->who->name : "system";
    if ((st = td_store_prepare(c,
                               "INSERT INTO incidents (name, level, labels, banks, enforcement,"
                               " state, opened_ms, opened_by, start_ms, start_seq, cursor)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $9, $9)"
                               " RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, in->name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, in->level, err)) ||
        (st = td_stmt_bind_text(q, 3, labels, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 4, banks, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, in->enforcement, err)) ||
        (st = td_stmt_bind_int64(q, 6, STATE_OPEN, err)) ||
        (st = td_stmt_bind_int64(q, 7, now, err)) ||
        (st = td_stmt_bind_text(q, 8, by, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 9, seq, err)) || (st = td_stmt_bind_int64(q, 10, start, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    int64_t id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if ((st = td__incident_load(c, id, a->out, err)))
        return st;
    json_t *details = td__incident_json(a->out);
    json_object_set_new(details, "start_seq", json_integer(seq));
    if ((st =
             td__audit_id(a->inc->svc, c, a->who, "incident.opened", "incident", id, details, err)))
        return st;
    return push(a->inc, c, a->out, "opened", err);
}

td_status td_incident_create(td_incidents *inc, const td_principal *who,
                             const td_incident_input *in, td_incident *out, td_error *err)
{
    td_incident local;
    td_status st;
    if (!out)
        out = &local;
    memset(out, 0, sizeof *out);
    if ((st = name_check(in->name, err)))
        return st;
    if (in->level < TD_INCIDENT_CIP || in->level > TD_INCIDENT_INCIDENT)
        return td__error_set(err, TD_ERR_INVALID, "level: cip, content_incident or incident");
    if (in->start_ms < 0 || in->start_ms > td__now(inc->svc) + TD_INCIDENT_START_SKEW_MS)
        return td__error_set(err, TD_ERR_INVALID, "start_ms: not after now");
    if (in->enforcement != TD_ACTION_BLOCK && in->enforcement != TD_ACTION_REVIEW)
        return td__error_set(err, TD_ERR_INVALID, "enforcement: block or review");
    if (in->filter.labels.count < 0 || in->filter.labels.count > TD_LABELS_MAX ||
        in->filter.n_banks < 0 || in->filter.n_banks > TD_INCIDENT_BANKS_MAX)
        return td__error_set(err, TD_ERR_INVALID, "filter: at most %d labels and %d banks",
                             TD_LABELS_MAX, TD_INCIDENT_BANKS_MAX);
    if (in->filter.labels.count == 0 && in->filter.n_banks == 0)
        return td__error_set(err, TD_ERR_INVALID,
                             "filter: at least one label or bank (an empty filter would "
                             "take every match)");
    for (int i = 0; i < in->filter.labels.count; i++) {
        td_labels probe = {0};
        if (td_labels_add(&probe, in->filter.labels.v[i], err) != TD_OK)
            return td__error_prefix(err, "filter.labels[%d]: ", i), TD_ERR_INVALID;
    }
    create_args a = {inc, who, in, out};
    if ((st = td_store_write(inc->svc->store, create_body, &a, err)))
        return st;
    td_webhook_kick(inc->svc);
    /* Enforced on this node at once; the others within a tick. */
    td_error ignored;
    ignore(td__incidents_reload(inc, &ignored));
    return TD_OK;
}

/* ---- close ---- */

typedef struct close_args {
    td_incidents *inc;
    int64_t id;
    const td_principal *who;
    td_incident *out;
} close_args;

static td_status close_body(td_store_conn *c, void *arg, td_error *err)
{
    close_args *a = arg;
    td_incident_figures f;
    char *json = NULL, *md = NULL;
    td_stmt *q;
    int64_t changed = 0;
    td_status st = td__incident_load(c, a->id, a->out, err);
    if (st)
        return st;
    if (!a->out->open)
        return td__error_set(err, TD_ERR_CONFLICT, "incident %lld is closed already",
                             (long long)a->id);
    a->out->open = 0;
    a->out->closed_ms = td__now(a->inc->svc);
    td__copy_trunc(a->out->closed_by, sizeof a->out->closed_by,
                   a->who && a->who->name[0] ? a->who->name : "system");
    memset(&f, 0, sizeof f);
    if ((st = td__incident_figures(c, a->id, &f, err)) ||
        (st = td__incident_report_build(c, a->out, &f, &json, &md, err)))
        goto out;
    if ((st = td_store_prepare(c,
                               "UPDATE incidents SET state = $1, closed_ms = $2, closed_by = $3,"
                               " report_json = $4, report_md = $5 WHERE id = $6 AND state = $7",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, STATE_CLOSED, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->out->closed_ms, err)) ||
        (st = td_stmt_bind_text(q, 3, a->out->closed_by, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 4, json, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 5, md, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 6, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 7, STATE_OPEN, err)) || (st = td_stmt_run(q, &changed, err)))
        goto out;
    if (!changed) {
        st = td__error_set(err, TD_ERR_CONFLICT, "incident %lld is closed already",
                           (long long)a->id);
        goto out;
    }
    json_t *details = json_object();
    json_object_set_new(details, "signals", json_integer(f.signals));
    json_object_set_new(details, "matches", json_integer(f.matches));
    json_object_set_new(details, "blocks", json_integer(f.blocks));
    json_object_set_new(details, "report_bytes", json_integer((json_int_t)strlen(json)));
    if ((st = td__audit_id(a->inc->svc, c, a->who, "incident.closed", "incident", a->id, details,
                           err)))
        goto out;
    st = push(a->inc, c, a->out, "closed", err);
out:
    td_incident_figures_clear(&f);
    td__free(json);
    td__free(md);
    return st;
}

td_status td_incident_close(td_incidents *inc, int64_t id, const td_principal *who,
                            td_incident *out, td_error *err)
{
    td_incident local;
    td_error ignored;
    if (!out)
        out = &local;
    /* What this node saw so far goes into the report. */
    ignore(td__incidents_record(inc, &ignored));
    close_args a = {inc, id, who, out};
    td_status st = td_store_write(inc->svc->store, close_body, &a, err);
    if (st)
        return st;
    td_webhook_kick(inc->svc);
    ignore(td__incidents_reload(inc, &ignored));
    return TD_OK;
}

/* ---- reads ---- */

td_status td_incident_get(td_incidents *inc, int64_t id, td_incident *out, td_error *err)
{
    td_incident *list = NULL;
    size_t n = 0;
    const int64_t binds[1] = {id};
    td_status st = td_store_read_rows(
        inc->svc->store, "SELECT " TD__INCIDENT_COLUMNS " FROM incidents WHERE id = $1", binds, 1,
        1, sizeof *list, td__incident_row, (void **)&list, &n, err);
    if (st)
        return st;
    if (!n) {
        td__free(list);
        return td__error_set(err, TD_ERR_NOT_FOUND, "no incident %lld", (long long)id);
    }
    *out = list[0];
    td__free(list);
    return TD_OK;
}

td_status td_incident_list(td_incidents *inc, int open_only, size_t limit, size_t offset,
                           td_incident **out, size_t *count, td_error *err)
{
    *out = NULL;
    *count = 0;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "limit: at most %d", TD_PAGE_MAX);
    if (!limit)
        limit = 100;
    if (offset > (size_t)INT64_MAX)
        return td__error_set(err, TD_ERR_INVALID, "offset out of range");
    const int64_t binds[4] = {open_only ? STATE_OPEN : -1, STATE_OPEN, (int64_t)limit,
                              (int64_t)offset};
    return td_store_read_rows(inc->svc->store,
                              "SELECT " TD__INCIDENT_COLUMNS " FROM incidents"
                              " WHERE $1 < 0 OR state = $2 ORDER BY id DESC LIMIT $3 OFFSET $4",
                              binds, 4, limit, sizeof **out, td__incident_row, (void **)out, count,
                              err);
}

typedef struct figures_args {
    int64_t id;
    td_incident_figures *out;
} figures_args;

static td_status figures_body(td_store_conn *c, void *arg, td_error *err)
{
    figures_args *a = arg;
    td_incident in;
    td_status st = td__incident_load(c, a->id, &in, err);
    return st ? st : td__incident_figures(c, a->id, a->out, err);
}

td_status td_incident_figures_get(td_incidents *inc, int64_t id, td_incident_figures *out,
                                  td_error *err)
{
    td_error ignored;
    memset(out, 0, sizeof *out);
    ignore(td__incidents_record(inc, &ignored));
    figures_args a = {id, out};
    td_status st = td_store_read(inc->svc->store, figures_body, &a, err);
    if (st)
        td_incident_figures_clear(out);
    return st;
}

typedef struct report_args {
    int64_t id;
    int markdown;
    char *text;
} report_args;

static td_status report_body(td_store_conn *c, void *arg, td_error *err)
{
    report_args *a = arg;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(
        c, "SELECT state, report_json, report_md FROM incidents WHERE id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no incident %lld", (long long)a->id);
    if (td_stmt_column_int64(q, 0) == STATE_OPEN) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_CONFLICT,
                             "incident %lld is open: its report is written when it closes",
                             (long long)a->id);
    }
    a->text = td__strdup(td_stmt_column_text(q, a->markdown ? 2 : 1));
    td_stmt_reset(q);
    return a->text ? TD_OK : td__error_set(err, TD_ERR_NOMEM, "out of memory");
}

td_status td_incident_report(td_incidents *inc, int64_t id, int markdown, char **text, size_t *len,
                             td_error *err)
{
    report_args a = {id, markdown, NULL};
    *text = NULL;
    *len = 0;
    td_status st = td_store_read(inc->svc->store, report_body, &a, err);
    if (st)
        return st;
    *text = a.text;
    *len = strlen(a.text);
    return TD_OK;
}
