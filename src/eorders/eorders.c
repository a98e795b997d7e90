/* The evidence orders component: its schema (component "eorders"), the handle, the names of its
 * vocabulary, the delivery signing key and the helpers its files share.
 *
 * Why the authority registry is the removal orders' (orders.h): an authority has one Ed25519 key
 * whatever it sends, and registering it twice would let the two copies drift. The orders handle
 * is borrowed (or opened here without its clock thread) so that its tables exist. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "audit/key.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/wait.h"
#include "eorders/eorders_int.h"

static const char schema_v1[] =
    "CREATE TABLE eorders ("
    " id INTEGER PRIMARY KEY, framework INTEGER NOT NULL, deadline_class INTEGER NOT NULL,"
    " authority_id BIGINT NOT NULL, reference TEXT NOT NULL, ext_id TEXT,"
    " issuing_state TEXT NOT NULL, body BLOB NOT NULL, signature BLOB NOT NULL,"
    " transport TEXT NOT NULL, transport_data TEXT, body_sha256 TEXT NOT NULL, doc TEXT NOT NULL,"
    " categories INTEGER NOT NULL, state INTEGER NOT NULL,"
    " paused_from INTEGER NOT NULL DEFAULT 0, received_ms BIGINT NOT NULL,"
    " clock_start_ms BIGINT NOT NULL, collect_ms BIGINT NOT NULL DEFAULT 0,"
    " due_ms BIGINT NOT NULL DEFAULT 0, transmit_from_ms BIGINT NOT NULL DEFAULT 0,"
    " preserve_until_ms BIGINT NOT NULL DEFAULT 0, grounds_until_ms BIGINT NOT NULL DEFAULT 0,"
    " escalation INTEGER NOT NULL DEFAULT 0, marks_total INTEGER NOT NULL DEFAULT 0,"
    " breached_ms BIGINT NOT NULL DEFAULT 0, reason INTEGER NOT NULL DEFAULT 0,"
    " explanation TEXT NOT NULL DEFAULT '', refused INTEGER NOT NULL DEFAULT 0,"
    " grounds INTEGER NOT NULL DEFAULT 0, ground INTEGER NOT NULL DEFAULT 0,"
    " grounds_blocked INTEGER NOT NULL DEFAULT 0, grounds_ms BIGINT NOT NULL DEFAULT 0,"
    " restricted INTEGER NOT NULL DEFAULT 0, preserved INTEGER NOT NULL DEFAULT 0,"
    " records BIGINT NOT NULL DEFAULT 0, evidence_held INTEGER NOT NULL DEFAULT 0,"
    " approvals_needed INTEGER NOT NULL, release_request BIGINT NOT NULL DEFAULT 0,"
    " approved_ms BIGINT NOT NULL DEFAULT 0, delivered_ms BIGINT NOT NULL DEFAULT 0,"
    " ended_ms BIGINT NOT NULL DEFAULT 0, withdrawn_ms BIGINT NOT NULL DEFAULT 0,"
    " not_executed_ms BIGINT NOT NULL DEFAULT 0, paused_ms BIGINT NOT NULL DEFAULT 0,"
    " extended INTEGER NOT NULL DEFAULT 0, production_pending INTEGER NOT NULL DEFAULT 0,"
    " linked_order BIGINT NOT NULL DEFAULT 0,"
    " UNIQUE (authority_id, framework, reference), UNIQUE (ext_id));"
    "CREATE INDEX eorders_state ON eorders (state, due_ms);"
    "CREATE INDEX eorders_received ON eorders (received_ms);"
    "CREATE INDEX eorders_linked ON eorders (linked_order);"
    "CREATE TABLE eorder_approvals ("
    " order_id BIGINT NOT NULL REFERENCES eorders(id), officer TEXT NOT NULL,"
    " key_id BIGINT NOT NULL, note TEXT NOT NULL, approved_ms BIGINT NOT NULL,"
    " PRIMARY KEY (order_id, officer));"
    "CREATE TABLE eorder_records ("
    " id INTEGER PRIMARY KEY, order_id BIGINT NOT NULL REFERENCES eorders(id),"
    " evidence_item BIGINT NOT NULL, category INTEGER NOT NULL, identifier TEXT NOT NULL,"
    " at_ms BIGINT NOT NULL, bytes BIGINT NOT NULL, sha256 TEXT NOT NULL,"
    " fields_sha256 TEXT NOT NULL, sealed_ms BIGINT NOT NULL,"
    " delivered_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX eorder_records_order ON eorder_records (order_id);"
    "CREATE TABLE eorder_events ("
    " id INTEGER PRIMARY KEY, order_id BIGINT NOT NULL REFERENCES eorders(id),"
    " action INTEGER NOT NULL, body TEXT NOT NULL, actor TEXT NOT NULL,"
    " received_ms BIGINT NOT NULL);"
    "CREATE INDEX eorder_events_order ON eorder_events (order_id);"
    "CREATE TABLE eorder_outbox ("
    " id INTEGER PRIMARY KEY, order_id BIGINT NOT NULL REFERENCES eorders(id),"
    " kind INTEGER NOT NULL, state INTEGER NOT NULL, body TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
    " created_ms BIGINT NOT NULL, next_attempt_ms BIGINT NOT NULL,"
    " sent_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX eorder_outbox_due ON eorder_outbox (state, next_attempt_ms);"
    "CREATE INDEX eorder_outbox_order ON eorder_outbox (order_id);";

/* Records linked from data takedown holds itself (td_eorder_link): the evidence case the item
 * lies in ("" for the order's own records, sealed into its case by a put). */
static const char schema_v2[] =
    "ALTER TABLE eorder_records ADD COLUMN linked_case TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX eorder_records_linked ON eorder_records (linked_case);";

static const td_store_migration migrations[] = {
    {1, "evidence orders, approvals, records, events, outbox", schema_v1, NULL},
    {2, "records linked from evidence of other cases", schema_v2, NULL},
};

#define DELIVERY_KEY_FILE "eorders_delivery.key"

/* ---- names ---- */

static const char *const framework_names[] = {NULL, "eu_epoc", "eu_epoc_pr", "uk_opo",
                                              "us_cloud_act"};
static const char *const authority_type_names[] = {NULL, "public_prosecutor", "judge_or_court",
                                                   "investigating_judge",
                                                   "other_competent_authority"};
static const char *const deadline_names[] = {"", "ten_days_asap", "ten_days_enforcing",
                                             "eight_hours"};
static const char *const category_names[] = {"subscriber", "identification", "traffic", "content"};
static const char *const subscriber_names[] = {
    "name", "address", "contact", "billing", "registration", "validation", "service_type"};
static const char *const identifier_names[] = {
    NULL,    "ipv4",    "ipv6",         "ipv4_range",  "ipv6_range", "email",
    "phone", "user_id", "account_name", "content_url", "content_id"};
static const char *const state_names[] = {NULL,        "received",     "collecting", "preserved",
                                          "approved",  "delivered",    "ended",      "expired",
                                          "withdrawn", "not_executed", "paused"};
static const char *const reason_names[] = {NULL,
                                           "incomplete",
                                           "manifest_errors",
                                           "insufficient_information",
                                           "data_not_held",
                                           "de_facto_impossibility",
                                           "invalid_issuing_authority",
                                           "offence_not_covered",
                                           "service_not_covered",
                                           "immunities_or_privileges",
                                           "conflict_of_law"};
static const char *const ground_names[] = {"immunities_or_privileges", "fundamental_rights",
                                           "ne_bis_in_idem", "dual_criminality"};
static const char *const action_names[] = {NULL,
                                           "subsequent_production",
                                           "extend_preservation",
                                           "end_preservation",
                                           "new_deadline",
                                           "withdraw",
                                           "grounds",
                                           "clarification",
                                           "correction",
                                           "correspondence"};
static const char *const message_kind_names[] = {NULL, "data_preserved", "outcome", "non_execution",
                                                 "correspondence"};
static const char *const message_state_names[] = {NULL, "pending", "sent", "cancelled"};
static const char *const problem_names[] = {
    "accepted",        "too_large", "unsigned",      "bad_signature", "unknown_authority",
    "wrong_authority", "malformed", "missing_field", "invalid_field", "unknown_field",
    "lapsed",          "conflict",  "unknown_order"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define NAME_OF(table, v) ((size_t)(v) < COUNT(table) && (table)[v] ? (table)[v] : "unknown")

const char *td_eorder_framework_name(td_eorder_framework f) { return NAME_OF(framework_names, f); }
const char *td_eorder_authority_type_name(td_eorder_authority_type t)
{
    return NAME_OF(authority_type_names, t);
}
const char *td_eorder_deadline_name(td_eorder_deadline d) { return NAME_OF(deadline_names, d); }
const char *td_eorder_identifier_type_name(td_eorder_identifier_type t)
{
    return NAME_OF(identifier_names, t);
}
const char *td_eorder_state_name(td_eorder_state s) { return NAME_OF(state_names, s); }
const char *td_eorder_action_name(td_eorder_action a) { return NAME_OF(action_names, a); }
const char *td_eorder_message_kind_name(td_eorder_message_kind k)
{
    return NAME_OF(message_kind_names, k);
}
const char *td_eorder_message_state_name(td_eorder_message_state s)
{
    return NAME_OF(message_state_names, s);
}
const char *td_eorder_problem_name(td_eorder_problem p) { return NAME_OF(problem_names, p); }

const char *td_eorder_reason_name(td_eorder_reason r)
{
    if (r >= TD_EORDER_R_GROUND_IMMUNITIES && r <= TD_EORDER_R_GROUND_DUAL_CRIMINALITY)
        return ground_names[r - TD_EORDER_R_GROUND_IMMUNITIES];
    return NAME_OF(reason_names, r);
}

td_status td_eorder_reason_parse(const char *name, td_eorder_reason *out)
{
    for (size_t i = 1; name && i < COUNT(reason_names); i++)
        if (strcmp(name, reason_names[i]) == 0) {
            *out = (td_eorder_reason)i;
            return TD_OK;
        }
    return TD_ERR_INVALID;
}

td_status td_eorder_framework_parse(const char *name, td_eorder_framework *out)
{
    for (size_t i = 1; name && i < COUNT(framework_names); i++)
        if (strcmp(name, framework_names[i]) == 0) {
            *out = (td_eorder_framework)i;
            return TD_OK;
        }
    return TD_ERR_INVALID;
}

const char *td_eorder_category_name(unsigned c)
{
    for (size_t i = 0; i < COUNT(category_names); i++)
        if (c == 1u << i)
            return category_names[i];
    return NULL;
}

const char *td_eorder_subscriber_name(unsigned s)
{
    for (size_t i = 0; i < COUNT(subscriber_names); i++)
        if (s == 1u << i)
            return subscriber_names[i];
    return NULL;
}

unsigned td_eorder_category_parse(const char *name)
{
    for (size_t i = 0; name && i < COUNT(category_names); i++)
        if (strcmp(name, category_names[i]) == 0)
            return 1u << i;
    return 0;
}

unsigned td_eorder_subscriber_parse(const char *name)
{
    for (size_t i = 0; name && i < COUNT(subscriber_names); i++)
        if (strcmp(name, subscriber_names[i]) == 0)
            return 1u << i;
    return 0;
}

void td_eorder_id_format(int64_t id, char out[TD_EORDER_ID_TEXT_MAX + 1])
{
    snprintf(out, TD_EORDER_ID_TEXT_MAX + 1, "eo-%lld", (long long)id);
}

int64_t td_eorder_id_parse(const char *text)
{
    if (!text || strncmp(text, "eo-", 3) != 0)
        return 0;
    const char *p = text + 3;
    int64_t v = 0;
    if (*p < '1' || *p > '9')
        return 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10)
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int td__eorder_state_open(td_eorder_state s)
{
    return s == TD_EORDER_RECEIVED || s == TD_EORDER_COLLECTING || s == TD_EORDER_PRESERVED ||
           s == TD_EORDER_APPROVED || s == TD_EORDER_PAUSED;
}

/* ---- options and handle ---- */

void td_eorders_options_default(td_eorders_options *o)
{
    memset(o, 0, sizeof *o);
    o->approvals_content = 2;
    o->approvals_other = 1;
    o->n_marks = 3;
    o->marks_pct[0] = 50;
    o->marks_pct[1] = 75;
    o->marks_pct[2] = 90;
    o->collect_ms = TD__EO_DAY;
    o->transmit_window_ms = TD__EO_DAY;
    o->clock_interval_ms = 1000;
}

/* "50,75,90" into marks; refuses what is not increasing percentages 1..99. */
static td_status parse_marks(const char *text, td_eorders_options *o, td_error *err)
{
    const char *p = text;
    o->n_marks = 0;
    while (p && *p) {
        unsigned v = 0;
        int digits = 0;
        while (*p == ' ')
            p++;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            v = v * 10 + (unsigned)(*p++ - '0');
            digits++;
        }
        while (*p == ' ')
            p++;
        if (!digits || v < 1 || v > 99 || (*p && *p != ',') || o->n_marks == TD_EORDER_MAX_MARKS ||
            (o->n_marks && v <= o->marks_pct[o->n_marks - 1]))
            return td__error_set(err, TD_ERR_INVALID,
                                 "eorder_escalation_pct: expected increasing percentages 1..99,"
                                 " comma-separated (at most %d)",
                                 TD_EORDER_MAX_MARKS);
        o->marks_pct[o->n_marks++] = v;
        if (*p == ',')
            p++;
    }
    return TD_OK;
}

td_status td_eorders_options_from_config(td_eorders_options *o, const td_config *cfg, td_error *err)
{
    int64_t v;
    td_status st;
    td_eorders_options_default(o);
    if ((st = td_config_int(cfg, "eorder_approvals_content", &v, err)))
        return st;
    o->approvals_content = (unsigned)v;
    if ((st = td_config_int(cfg, "eorder_approvals_other", &v, err)))
        return st;
    o->approvals_other = (unsigned)v;
    if ((st = td_config_int(cfg, "eorder_collect_ms", &v, err)))
        return st;
    o->collect_ms = v;
    if ((st = td_config_int(cfg, "eorder_transmit_window_ms", &v, err)))
        return st;
    o->transmit_window_ms = v;
    return parse_marks(td_config_string(cfg, "eorder_escalation_pct"), o, err);
}

td_status td_eorders_open(td_service *svc, const td_eorders_options *opts, td_eorders **out,
                          td_error *err)
{
    td_status st;
    *out = NULL;
    if (!svc)
        return td__error_set(err, TD_ERR_INVALID, "evidence orders: no service");
    td_eorders *eo = td__calloc(1, sizeof *eo);
    if (!eo)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    eo->svc = svc;
    pthread_mutex_init(&eo->data_lock, NULL);
    pthread_mutex_init(&eo->provider_lock, NULL);
    pthread_mutex_init(&eo->duty_lock, NULL);
    td__cond_init_monotonic(&eo->duty_wake);
    if (opts)
        eo->opts = *opts;
    else
        td_eorders_options_default(&eo->opts);
    td_eorders_options *o = &eo->opts;
    if (o->approvals_content < 1 || o->approvals_content > 16 || o->approvals_other < 1 ||
        o->approvals_other > 16 || o->n_marks > TD_EORDER_MAX_MARKS || o->collect_ms <= 0 ||
        o->transmit_window_ms <= 0) {
        st = td__error_set(err, TD_ERR_INVALID,
                           "evidence orders: approvals, marks or periods out of range");
        goto fail;
    }
    for (size_t i = 0; i < o->n_marks; i++)
        if (o->marks_pct[i] < 1 || o->marks_pct[i] > 99 ||
            (i && o->marks_pct[i] <= o->marks_pct[i - 1])) {
            st = td__error_set(err, TD_ERR_INVALID,
                               "evidence orders: marks must be increasing percentages 1..99");
            goto fail;
        }
    if (o->clock && (o->clock_interval_ms <= 0 || o->clock_interval_ms > 3600000)) {
        st = td__error_set(err, TD_ERR_INVALID, "evidence orders: clock interval out of range");
        goto fail;
    }
    if (sodium_init() < 0) {
        st = td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to start");
        goto fail;
    }
    eo->orders = o->orders;
    if (!eo->orders) {
        td_orders_options oo;
        td_orders_options_default(&oo);
        oo.log = o->log;
        oo.evidence = o->evidence;
        if ((st = td_orders_open(svc, &oo, &eo->orders, err)))
            goto fail;
        eo->own_orders = 1;
    }
    eo->log = o->log ? o->log : td_orders_audit(eo->orders);
    eo->evidence = o->evidence ? o->evidence : td_orders_evidence(eo->orders);
    eo->opts.orders = NULL; /* never read again: eo->orders is */
    if ((st =
             td_store_migrate_component(svc->store, "eorders", migrations, COUNT(migrations), err)))
        goto fail;
    eo->sign_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!eo->sign_sk) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = td__key_file_load(o->key_dir ? o->key_dir : svc->dir, DELIVERY_KEY_FILE, eo->sign_sk,
                                eo->sign_pk, err))) {
        td__error_prefix(err, "evidence orders: delivery key: ");
        goto fail;
    }
    eo->opts.key_dir = NULL; /* borrowed text: not kept */
    if (o->clock && (st = td__eorders_duties_start(eo, err)))
        goto fail;
    *out = eo;
    return TD_OK;
fail:
    td_eorders_close(eo);
    return st;
}

void td_eorders_close(td_eorders *eo)
{
    if (!eo)
        return;
    td__eorders_duties_stop(eo);
    if (eo->own_orders)
        td_orders_close(eo->orders);
    if (eo->sign_sk)
        sodium_free(eo->sign_sk);
    pthread_cond_destroy(&eo->duty_wake);
    pthread_mutex_destroy(&eo->duty_lock);
    pthread_mutex_destroy(&eo->data_lock);
    pthread_mutex_destroy(&eo->provider_lock);
    td__free(eo);
}

void td_eorders_set_provider(td_eorders *eo, td_eorder_provider_fn fn, void *ctx)
{
    pthread_mutex_lock(&eo->provider_lock);
    eo->provider = fn;
    eo->provider_ctx = fn ? ctx : NULL;
    pthread_mutex_unlock(&eo->provider_lock);
}

int td__eorders_provider(td_eorders *eo, td_eorder_provider_fn *fn, void **ctx)
{
    pthread_mutex_lock(&eo->provider_lock);
    *fn = eo->provider;
    *ctx = eo->provider_ctx;
    pthread_mutex_unlock(&eo->provider_lock);
    return *fn != NULL;
}

td_audit *td_eorders_audit(td_eorders *eo) { return eo->log; }
td_evidence *td_eorders_evidence(td_eorders *eo) { return eo->evidence; }

void td_eorders_delivery_public_key(const td_eorders *eo, uint8_t pub[TD_EORDER_SIGN_PUBKEY_LEN])
{
    memcpy(pub, eo->sign_pk, TD_EORDER_SIGN_PUBKEY_LEN);
}

/* ---- shared helpers ---- */

typedef struct eo_tx {
    td_eorders *eo;
    td__eorders_tx_fn fn;
    void *ctx;
} eo_tx;

static td_status eo_tx_body(td_store_conn *c, void *arg, td_error *err)
{
    eo_tx *t = arg;
    return t->fn(t->eo, c, t->ctx, err);
}

td_status td__eorders_tx(td_eorders *eo, td__eorders_tx_fn fn, void *ctx, td_error *err)
{
    eo_tx t = {eo, fn, ctx};
    return td_store_write(eo->svc->store, eo_tx_body, &t, err);
}

td_status td__eorders_audit(td_eorders *eo, td_store_conn *c, const char *actor, const char *action,
                            int64_t order_id, json_t *details, uint64_t *seq, td_error *err)
{
    char obj[TD_EORDER_ID_TEXT_MAX + 1];
    char *text = details ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(details);
    if (details && !text)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_eorder_id_format(order_id, obj);
    td_status st = td_audit_append_in(eo->log, c, actor && *actor ? actor : "system", action,
                                      order_id ? obj : "eorders", text, seq, err);
    free(text); /* jansson's */
    return st;
}

td_status td__eorders_text(const char *text, size_t max, const char *what, int required,
                           td_error *err)
{
    if (!text || !*text)
        return required ? td__error_set(err, TD_ERR_INVALID, "%s is required", what) : TD_OK;
    if (strnlen(text, max + 1) > max)
        return td__error_set(err, TD_ERR_LIMIT, "%s longer than %zu bytes", what, max);
    return TD_OK;
}

td_status td__eorder_refuse(td_eorder_rejection *why, td_eorder_problem problem, const char *field,
                            td_status code, td_error *err, const char *fmt, ...)
{
    char msg[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (why) {
        why->problem = problem;
        snprintf(why->field, sizeof why->field, "%s", field);
    }
    return td__error_set(err, code, "%s: %s", field, msg);
}

td_status td__eorder_production_done(td_store_conn *c, const td_eorder *o, td_error *err)
{
    td_stmt *q;
    td_status st;
    if (o->doc.framework == TD_EORDER_EU_EPOC_PR || !o->linked_order)
        return TD_OK;
    if ((st = td_store_prepare(c,
                               "UPDATE eorders SET production_pending = 0 WHERE id = $1"
                               " AND framework = $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, o->linked_order, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_EORDER_EU_EPOC_PR, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

td_status td__eorder_authority_state(td_store_conn *c, int64_t id, char state[3],
                                     td_authority_kind *kind, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    state[0] = '\0';
    *kind = 0;
    if ((st = td_store_prepare(c, "SELECT member_state, kind FROM order_authorities WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        td__copy_trunc(state, 3, td_stmt_column_text(q, 0));
        *kind = (td_authority_kind)td_stmt_column_int64(q, 1);
    }
    td_stmt_reset(q);
    return TD_OK;
}

td_status td__eorder_update(td_store_conn *c, int64_t id, const char *set, const int64_t *vals,
                            int n, td_error *err)
{
    char sql[1024];
    td_stmt *q;
    td_status st;
    if (n > 16 ||
        (size_t)snprintf(sql, sizeof sql, "UPDATE eorders SET %s WHERE id = $1", set) >= sizeof sql)
        return td__error_set(err, TD_ERR_INTERNAL, "evidence orders: update too long");
    if ((st = td_store_prepare(c, sql, &q, err)) || (st = td_stmt_bind_int64(q, 1, id, err)))
        return st;
    for (int i = 0; i < n; i++)
        if ((st = td_stmt_bind_int64(q, i + 2, vals[i], err)))
            return st;
    return td_stmt_run(q, NULL, err);
}

void td__eorder_case_ref(char *out, size_t cap, int64_t id)
{
    snprintf(out, cap, "eorder-%lld", (long long)id);
}

json_t *td__eorder_categories_json(unsigned categories)
{
    json_t *a = json_array();
    for (unsigned bit = 1; a && bit < TD_EORDER_CAT_ALL; bit <<= 1)
        if (categories & bit)
            json_array_append_new(a, json_string(td_eorder_category_name(bit)));
    return a;
}

json_t *td__eorder_time_json(int64_t ms)
{
    char t[32];
    if (!ms)
        return json_null();
    td_order_time_format(ms, t);
    return json_string(t);
}

td_status td__eorder_resolve(td_store_conn *c, const char *order, int64_t *id, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    int64_t n = td_eorder_id_parse(order);
    *id = 0;
    if (!order || !*order || strlen(order) > TD_EORDER_EXT_ID_MAX)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no evidence order %.64s", order ? order : "");
    if (n)
        st = td_store_prepare(c, "SELECT id FROM eorders WHERE id = $1", &q, err);
    else
        st = td_store_prepare(c, "SELECT id FROM eorders WHERE ext_id = $1", &q, err);
    if (st ||
        (st = n ? td_stmt_bind_int64(q, 1, n, err)
                : td_stmt_bind_text(q, 1, order, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        *id = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return row ? TD_OK : td__error_set(err, TD_ERR_NOT_FOUND, "no evidence order %s", order);
}

#define EO_COLUMNS                                                                                 \
    "id, authority_id, doc, body_sha256, state, paused_from, received_ms, clock_start_ms,"         \
    " collect_ms, due_ms, transmit_from_ms, preserve_until_ms, grounds_until_ms, escalation,"      \
    " breached_ms, reason, explanation, refused, grounds, ground, grounds_blocked, grounds_ms,"    \
    " restricted, preserved, records, approvals_needed, release_request, approved_ms,"             \
    " delivered_ms, ended_ms, withdrawn_ms, not_executed_ms, paused_ms, extended,"                 \
    " production_pending, linked_order,"                                                           \
    " (SELECT COUNT(*) FROM eorder_approvals a WHERE a.order_id = eorders.id)"

td_status td__eorder_load(td_store_conn *c, int64_t id, td_eorder *out, td_error *err)
{
    td_stmt *q;
    int row = 0, col = 0;
    td_status st;
    memset(out, 0, sizeof *out);
    if ((st = td_store_prepare(c, "SELECT " EO_COLUMNS " FROM eorders WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_NOT_FOUND, "no evidence order %lld", (long long)id);
    }
#define I64() td_stmt_column_int64(q, col++)
    out->id = I64();
    td_eorder_id_format(out->id, out->id_text);
    out->authority_id = I64();
    const char *doc = td_stmt_column_text(q, col);
    size_t doc_len = td_stmt_column_bytes(q, col++);
    td_eorder_rejection why;
    if ((st = td_eorder_parse(doc, doc_len, &out->doc, &why, err))) {
        td_stmt_reset(q);
        td__error_prefix(err, "evidence order %lld: stored document: ", (long long)id);
        return TD_ERR_CORRUPT;
    }
    td__copy_trunc(out->body_sha256, sizeof out->body_sha256, td_stmt_column_text(q, col++));
    out->state = (td_eorder_state)I64();
    out->paused_from = (td_eorder_state)I64();
    out->received_ms = I64();
    out->deadlines.clock_start_ms = I64();
    out->deadlines.collect_ms = I64();
    out->deadlines.due_ms = I64();
    out->deadlines.transmit_from_ms = I64();
    out->deadlines.preserve_until_ms = I64();
    out->deadlines.grounds_until_ms = I64();
    out->escalation = (int)I64();
    out->breached_ms = I64();
    out->reason = (td_eorder_reason)I64();
    td__copy_trunc(out->explanation, sizeof out->explanation, td_stmt_column_text(q, col++));
    out->refused = (unsigned)I64();
    out->grounds = (td_eorder_grounds)I64();
    out->ground = (td_eorder_reason)I64();
    out->grounds_blocked = (unsigned)I64();
    out->grounds_ms = I64();
    out->restricted = (int)I64();
    out->preserved = (unsigned)I64();
    out->records = I64();
    out->approvals_needed = (unsigned)I64();
    out->release_request = I64();
    out->approved_ms = I64();
    out->delivered_ms = I64();
    out->ended_ms = I64();
    out->withdrawn_ms = I64();
    out->not_executed_ms = I64();
    out->paused_ms = I64();
    out->extended = (int)I64();
    out->production_pending = (int)I64();
    out->linked_order = I64();
    out->approvals = (unsigned)I64();
#undef I64
    td_stmt_reset(q);
    return TD_OK;
}
