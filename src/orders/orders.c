/* The orders component: its schema (component "orders", migrated apart from the service schema),
 * the handle, authorities and their keys, and the helpers shared by the other orders files.
 *
 * Why authorities keep their own key table rather than a column of api_keys: the casework key API
 * knows roles, not the principal behind a role, and an authority may rotate API keys while its
 * Ed25519 signing key (what proves an order genuine) stays. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/wait.h"
#include "orders/orders_int.h"
#include "takedown/config.h"

static const char schema_v1[] =
    "CREATE TABLE order_authorities ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind INTEGER NOT NULL,"
    " member_state TEXT NOT NULL, contact TEXT NOT NULL, public_key BLOB NOT NULL,"
    " announced_ms BIGINT NOT NULL, created_ms BIGINT NOT NULL);"
    "CREATE TABLE order_authority_keys ("
    " key_id BIGINT PRIMARY KEY,"
    " authority_id INTEGER NOT NULL REFERENCES order_authorities(id),"
    " linked_ms BIGINT NOT NULL);"
    "CREATE TABLE orders ("
    " id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    " authority_id INTEGER NOT NULL REFERENCES order_authorities(id),"
    " reference TEXT NOT NULL, body BLOB NOT NULL, signature BLOB NOT NULL,"
    " member_state TEXT NOT NULL, addressee TEXT NOT NULL, issued_ms BIGINT NOT NULL,"
    " category TEXT NOT NULL, statement TEXT NOT NULL, dni INTEGER NOT NULL,"
    " dni_days INTEGER NOT NULL, cross_border INTEGER NOT NULL, emergency INTEGER NOT NULL,"
    " authority_contact TEXT NOT NULL, follow_up TEXT NOT NULL, redress TEXT NOT NULL,"
    " first_contact_early INTEGER NOT NULL, received_ms BIGINT NOT NULL,"
    " state INTEGER NOT NULL, clock_start_ms BIGINT NOT NULL, deadline_ms BIGINT NOT NULL,"
    " escalation INTEGER NOT NULL DEFAULT 0, executed_ms BIGINT NOT NULL DEFAULT 0,"
    " confirmed_ms BIGINT NOT NULL DEFAULT 0, measure TEXT NOT NULL DEFAULT '',"
    " breached_ms BIGINT NOT NULL DEFAULT 0, paused_ms BIGINT NOT NULL DEFAULT 0,"
    " ground INTEGER NOT NULL DEFAULT 0, explanation TEXT NOT NULL DEFAULT '',"
    " clarified_ms BIGINT NOT NULL DEFAULT 0, feedback_ms BIGINT NOT NULL DEFAULT 0,"
    " review INTEGER NOT NULL DEFAULT 0, review_opened_ms BIGINT NOT NULL DEFAULT 0,"
    " review_due_ms BIGINT NOT NULL DEFAULT 0, review_decided_ms BIGINT NOT NULL DEFAULT 0,"
    " review_overdue INTEGER NOT NULL DEFAULT 0, reinstated_ms BIGINT NOT NULL DEFAULT 0,"
    " referral_remove INTEGER NOT NULL DEFAULT 0, decision_reason TEXT NOT NULL DEFAULT '',"
    " decided_ms BIGINT NOT NULL DEFAULT 0,"
    " UNIQUE (authority_id, kind, reference));"
    "CREATE INDEX orders_state ON orders (state, deadline_ms);"
    "CREATE INDEX orders_received ON orders (received_ms);"
    "CREATE TABLE order_targets ("
    " id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),"
    " idx INTEGER NOT NULL, url TEXT NOT NULL, canonical_url TEXT NOT NULL,"
    " content_id TEXT NOT NULL, located INTEGER NOT NULL DEFAULT 0,"
    " fired_ms BIGINT NOT NULL DEFAULT 0, removed INTEGER NOT NULL DEFAULT 0,"
    " evidence_item BIGINT NOT NULL DEFAULT 0, UNIQUE (order_id, idx));"
    "CREATE INDEX order_targets_content ON order_targets (content_id);"
    "CREATE TABLE order_notices ("
    " id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),"
    " content_id TEXT NOT NULL, created_ms BIGINT NOT NULL, hold_until_ms BIGINT NOT NULL,"
    " released_ms BIGINT NOT NULL, UNIQUE (order_id, content_id));"
    "CREATE TABLE complaints ("
    " id INTEGER PRIMARY KEY, content_id TEXT NOT NULL, order_id BIGINT NOT NULL,"
    " text TEXT NOT NULL, state INTEGER NOT NULL, received_ms BIGINT NOT NULL,"
    " due_ms BIGINT NOT NULL, decided_ms BIGINT NOT NULL DEFAULT 0,"
    " overdue_ms BIGINT NOT NULL DEFAULT 0, reinstated_ms BIGINT NOT NULL DEFAULT 0,"
    " reasons TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX complaints_open ON complaints (state, due_ms);";

/* v2: the order's language (which notice template), the removed media sealed per target, and
 * the operator's notice templates. */
static const char schema_v2[] =
    "ALTER TABLE orders ADD COLUMN language TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE order_targets ADD COLUMN media_item BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE order_targets ADD COLUMN media_sha256 TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE order_targets ADD COLUMN media_bytes BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE order_targets ADD COLUMN media_ms BIGINT NOT NULL DEFAULT 0;"
    "CREATE TABLE notice_templates ("
    " language TEXT PRIMARY KEY, text TEXT NOT NULL, complaint_url TEXT NOT NULL,"
    " updated_ms BIGINT NOT NULL, updated_by TEXT NOT NULL);";

static const td_store_migration migrations[] = {
    {1, "orders, authorities, notices, complaints", schema_v1, NULL},
    {2, "order language, removed media, notice templates", schema_v2, NULL},
};

/* ---- options and handle ---- */

void td_orders_options_default(td_orders_options *o)
{
    memset(o, 0, sizeof *o);
    o->deadline_ms = TD__HOUR;
    o->n_marks = 3;
    o->marks_ms[0] = 15 * 60000;
    o->marks_ms[1] = 30 * 60000;
    o->marks_ms[2] = 45 * 60000;
    o->first_contact_ms = 12 * TD__HOUR;
    o->challenge_window_ms = 48 * TD__HOUR;
    o->review_decision_ms = 72 * TD__HOUR;
    o->complaint_answer_ms = 14 * TD__DAY;
    o->max_skew_ms = 5 * 60000;
    o->auto_execute = 1;
    o->clock_interval_ms = 1000;
    o->evidence_sweep_ms = 60000;
}

td_status td_orders_options_from_config(td_orders_options *o, const td_config *cfg, td_error *err)
{
    int64_t v, step;
    td_status st;
    td_orders_options_default(o);
    if ((st = td_config_int(cfg, "order_deadline_ms", &v, err)))
        return st;
    o->deadline_ms = v;
    if ((st = td_config_int(cfg, "order_escalation_step_ms", &step, err)))
        return st;
    o->n_marks = 0;
    /* Marks every step before the deadline: 15, 30, 45 with the defaults. */
    for (int64_t m = step; step > 0 && m < o->deadline_ms && o->n_marks < TD_ORDER_MAX_MARKS;
         m += step)
        o->marks_ms[o->n_marks++] = m;
    if ((st = td_config_int(cfg, "order_first_contact_ms", &v, err)))
        return st;
    o->first_contact_ms = v;
    return TD_OK;
}

td_status td_orders_open(td_service *svc, const td_orders_options *opts, td_orders **out,
                         td_error *err)
{
    td_status st;
    *out = NULL;
    if (!svc)
        return td__error_set(err, TD_ERR_INVALID, "orders: no service");
    td_orders *o = td__calloc(1, sizeof *o);
    if (!o)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    o->svc = svc;
    pthread_mutex_init(&o->media_lock, NULL);
    pthread_mutex_init(&o->preserve_lock, NULL);
    pthread_mutex_init(&o->duty_lock, NULL);
    td__cond_init_monotonic(&o->duty_wake);
    if (opts)
        o->opts = *opts;
    else
        td_orders_options_default(&o->opts);
    if (o->opts.deadline_ms <= 0 || o->opts.n_marks > TD_ORDER_MAX_MARKS) {
        st = td__error_set(err, TD_ERR_INVALID, "orders: deadline or marks out of range");
        goto fail;
    }
    for (size_t i = 0; i < o->opts.n_marks; i++)
        if (o->opts.marks_ms[i] <= 0 || (i && o->opts.marks_ms[i] <= o->opts.marks_ms[i - 1])) {
            st = td__error_set(err, TD_ERR_INVALID, "orders: marks must increase from > 0");
            goto fail;
        }
    if (o->opts.clock && (o->opts.clock_interval_ms <= 0 || o->opts.clock_interval_ms > 3600000 ||
                          o->opts.evidence_sweep_ms < 0)) {
        st = td__error_set(err, TD_ERR_INVALID, "orders: clock interval out of range");
        goto fail;
    }
    /* libsodium's own init: idempotent and safe from any thread. */
    if (sodium_init() < 0) {
        st = td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to start");
        goto fail;
    }
    /* The service's one log, unless the caller lends another; never a second open. */
    o->log = o->opts.log ? o->opts.log : svc->audit;
    o->evidence = o->opts.evidence;
    if (!o->evidence) {
        td_evidence_options eo;
        if ((st = td_evidence_options_from_config(&eo, svc->opts.config, err)))
            goto fail;
        eo.clock = svc->opts.clock;
        if ((st = td_evidence_open(svc->store, o->log, svc->dir, &eo, &o->evidence, err)))
            goto fail;
        o->own_evidence = 1;
    }
    if ((st = td_store_migrate_component(svc->store, "orders", migrations,
                                         sizeof migrations / sizeof migrations[0], err)))
        goto fail;
    /* Last, on a complete handle: the thread uses all of it. */
    if (o->opts.clock && (st = td__orders_duties_start(o, err)))
        goto fail;
    *out = o;
    return TD_OK;
fail:
    td_orders_close(o);
    return st;
}

void td_orders_close(td_orders *o)
{
    if (!o)
        return;
    td__orders_duties_stop(o); /* first: it uses the evidence store */
    if (o->own_evidence)
        td_evidence_close(o->evidence);
    pthread_cond_destroy(&o->duty_wake);
    pthread_mutex_destroy(&o->duty_lock);
    pthread_mutex_destroy(&o->preserve_lock);
    pthread_mutex_destroy(&o->media_lock);
    td__free(o);
}

td_audit *td_orders_audit(td_orders *o) { return o->log; }
td_evidence *td_orders_evidence(td_orders *o) { return o->evidence; }

/* ---- shared helpers ---- */

typedef struct orders_tx {
    td_orders *o;
    td__orders_tx_fn fn;
    void *ctx;
} orders_tx;

static td_status orders_tx_body(td_store_conn *c, void *arg, td_error *err)
{
    orders_tx *t = arg;
    return t->fn(t->o, c, t->ctx, err);
}

td_status td__orders_tx(td_orders *o, td__orders_tx_fn fn, void *ctx, td_error *err)
{
    orders_tx t = {o, fn, ctx};
    return td_store_write(o->svc->store, orders_tx_body, &t, err);
}

td_status td__orders_audit(td_orders *o, td_store_conn *c, const char *actor, const char *action,
                           const char *object, json_t *details, td_error *err)
{
    char *text = details ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(details);
    if (details && !text)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st = td_audit_append_in(o->log, c, actor && *actor ? actor : "system", action, object,
                                      text, NULL, err);
    free(text); /* jansson's */
    return st;
}

td_status td__orders_text(const char *text, size_t max, const char *what, int required,
                          td_error *err)
{
    if (!text || !*text)
        return required ? td__error_set(err, TD_ERR_INVALID, "%s is required", what) : TD_OK;
    if (strnlen(text, max + 1) > max)
        return td__error_set(err, TD_ERR_LIMIT, "%s longer than %zu bytes", what, max);
    return TD_OK;
}

td_status td__orders_fire(td_orders *o, td_store_conn *c, unsigned event, const char *what,
                          const char *content_id, const char *url, json_t *extra, td_error *err)
{
    char subject[TD_CONTENT_ID_MAX + 64];
    json_t *p = json_object();
    if (!p) {
        json_decref(extra);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    json_object_set_new(p, "content_id", json_string(content_id));
    if (url && *url)
        json_object_set_new(p, "url", json_string(url));
    json_object_set_new(p, "cause", json_string(what));
    if (extra)
        json_object_update(p, extra);
    json_decref(extra);
    /* The subject makes the idempotency key: one event per cause and content item. */
    snprintf(subject, sizeof subject, "%s:%s", what, content_id);
    td_status st = td__event_enqueue(o->svc, c, event, subject, p, err);
    json_decref(p);
    return st;
}

void td__order_case_ref(char *out, size_t cap, int64_t id)
{
    snprintf(out, cap, "order-%lld", (long long)id);
}

/* ---- authorities ---- */

static const char *const kind_names[] = {NULL, "competent", "referral_unit", "evidence",
                                         "third_country"};

const char *td_authority_kind_name(td_authority_kind kind)
{
    return kind >= TD_AUTHORITY_COMPETENT && kind <= TD_AUTHORITY_THIRD_COUNTRY ? kind_names[kind]
                                                                                : "unknown";
}

td_status td_authority_kind_parse(const char *name, td_authority_kind *out)
{
    for (int k = TD_AUTHORITY_COMPETENT; name && k <= TD_AUTHORITY_THIRD_COUNTRY; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (td_authority_kind)k;
            return TD_OK;
        }
    return TD_ERR_INVALID;
}

static const char *const eu_states[] = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR",
                                        "DE", "EL", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
                                        "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"};

int td__eu_member_state(const char *code)
{
    for (size_t i = 0; i < sizeof eu_states / sizeof eu_states[0]; i++)
        if (strcmp(code, eu_states[i]) == 0)
            return 1;
    return 0;
}

static td_status parse_pubkey(const char *text, uint8_t pk[TD_ED25519_PUBKEY_LEN], td_error *err)
{
    size_t len = text ? strlen(text) : 0, got = 0;
    if (len == 2 * TD_ED25519_PUBKEY_LEN &&
        td__hex_decode_exact(text, len, pk, TD_ED25519_PUBKEY_LEN) == 0)
        return TD_OK;
    if (len > 0 && len < 64 &&
        sodium_base642bin(pk, TD_ED25519_PUBKEY_LEN, text, len, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) == 0 &&
        got == TD_ED25519_PUBKEY_LEN)
        return TD_OK;
    return td__error_set(err, TD_ERR_INVALID,
                         "public_key: expected 32 bytes as 64 hex digits or base64");
}

#define AUTH_COLUMNS "id, kind, name, member_state, contact, public_key, announced_ms, created_ms"

static void authority_row(td_stmt *q, td_authority *a)
{
    memset(a, 0, sizeof *a);
    a->id = td_stmt_column_int64(q, 0);
    a->kind = (td_authority_kind)td_stmt_column_int64(q, 1);
    td__copy_trunc(a->name, sizeof a->name, td_stmt_column_text(q, 2));
    td__copy_trunc(a->member_state, sizeof a->member_state, td_stmt_column_text(q, 3));
    td__copy_trunc(a->contact, sizeof a->contact, td_stmt_column_text(q, 4));
    if (td_stmt_column_bytes(q, 5) == TD_ED25519_PUBKEY_LEN)
        memcpy(a->public_key, td_stmt_column_blob(q, 5), TD_ED25519_PUBKEY_LEN);
    a->announced_ms = td_stmt_column_int64(q, 6);
    a->created_ms = td_stmt_column_int64(q, 7);
}

typedef struct reg_args {
    const td_authority_input *in;
    const char *actor;
    uint8_t pk[TD_ED25519_PUBKEY_LEN];
    int64_t now, id;
} reg_args;

static td_status reg_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    reg_args *a = ctx;
    const td_authority_input *in = a->in;
    td_stmt *q;
    int row;
    td_status st;
    td_authority_kind kind = in->kind ? in->kind : TD_AUTHORITY_COMPETENT;
    if ((st = td_store_prepare(c,
                               "INSERT INTO order_authorities (name, kind, member_state, contact,"
                               " public_key, announced_ms, created_ms)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, in->name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, kind, err)) ||
        (st = td_stmt_bind_text(q, 3, in->member_state, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 4, in->contact ? in->contact : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_blob(q, 5, a->pk, sizeof a->pk, err)) ||
        (st = td_stmt_bind_int64(q, 6, in->announced_ms ? in->announced_ms : a->now, err)) ||
        (st = td_stmt_bind_int64(q, 7, a->now, err)) || (st = td_stmt_step(q, &row, err)))
        return st == TD_ERR_CONFLICT
                   ? td__error_set(err, TD_ERR_CONFLICT, "authority %s exists already", in->name)
                   : st;
    a->id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    char hex[2 * TD_ED25519_PUBKEY_LEN + 1], obj[48];
    td__hex_encode(a->pk, sizeof a->pk, hex);
    snprintf(obj, sizeof obj, "authority:%lld", (long long)a->id);
    json_t *d =
        json_pack("{s:s, s:s, s:s, s:s}", "name", in->name, "member_state", in->member_state,
                  "kind", td_authority_kind_name(kind), "public_key", hex);
    return td__orders_audit(o, c, a->actor, "authority.registered", obj, d, err);
}

td_status td_authority_register(td_orders *o, const char *actor, const td_authority_input *in,
                                td_authority *out, td_error *err)
{
    td_status st;
    reg_args a = {in, actor, {0}, td__now(o->svc), 0};
    if (!in)
        return td__error_set(err, TD_ERR_INVALID, "no authority");
    if (in->kind && (in->kind < TD_AUTHORITY_COMPETENT || in->kind > TD_AUTHORITY_THIRD_COUNTRY))
        return td__error_set(err, TD_ERR_INVALID, "kind: unknown authority kind");
    if ((st = td__orders_text(in->name, TD_NAME_MAX, "name", 1, err)) ||
        (st = td__orders_text(in->contact, TD_ORDER_CONTACT_MAX, "contact", 0, err)))
        return st;
    const char *ms = in->member_state;
    if (!ms || strlen(ms) != 2 || ms[0] < 'A' || ms[0] > 'Z' || ms[1] < 'A' || ms[1] > 'Z')
        return td__error_set(err, TD_ERR_INVALID, "member_state: expected two capital letters");
    /* Competent and evidence authorities belong to a Member State; a third country's do not
     * (a referral unit may be either, or "EU" for Europol). */
    if ((in->kind == 0 || in->kind == TD_AUTHORITY_COMPETENT ||
         in->kind == TD_AUTHORITY_EVIDENCE) &&
        !td__eu_member_state(ms))
        return td__error_set(err, TD_ERR_INVALID, "member_state: %s is not an EU Member State", ms);
    if (in->kind == TD_AUTHORITY_THIRD_COUNTRY && (td__eu_member_state(ms) || !strcmp(ms, "EU")))
        return td__error_set(err, TD_ERR_INVALID,
                             "member_state: a third country's authority is not of %s", ms);
    if ((st = parse_pubkey(in->public_key, a.pk, err)))
        return st;
    if ((st = td__orders_tx(o, reg_body, &a, err)))
        return st;
    return out ? td_authority_get(o, a.id, out, err) : TD_OK;
}

td_status td_authority_get(td_orders *o, int64_t id, td_authority *out, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    td_status st = td_store_acquire(o->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c, "SELECT " AUTH_COLUMNS " FROM order_authorities WHERE id = $1",
                               &q, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, id, err)) == TD_OK &&
        (st = td_stmt_step(q, &row, err)) == TD_OK) {
        if (row)
            authority_row(q, out);
        else
            st = td__error_set(err, TD_ERR_NOT_FOUND, "no authority %lld", (long long)id);
        td_stmt_reset(q);
    }
    td_store_release(o->svc->store, c);
    return st;
}

td_status td__authority_by_name(td_store_conn *c, const char *name, td_authority *out, int *found,
                                td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    *found = 0;
    if ((st = td_store_prepare(c, "SELECT " AUTH_COLUMNS " FROM order_authorities WHERE name = $1",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, name, (size_t)-1, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        authority_row(q, out);
        *found = 1;
    }
    td_stmt_reset(q);
    return TD_OK;
}

static void authority_item(td_stmt *q, void *item) { authority_row(q, item); }

td_status td_authority_list(td_orders *o, td_authority **out, size_t *count, td_error *err)
{
    return td_store_read_rows(
        o->svc->store, "SELECT " AUTH_COLUMNS " FROM order_authorities ORDER BY name", NULL, 0,
        TD_AUTHORITIES_MAX, sizeof **out, authority_item, (void **)out, count, err);
}

typedef struct link_args {
    const char *actor;
    int64_t authority_id, key_id, now;
} link_args;

static td_status link_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    link_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st =
             td_store_prepare(c, "SELECT role, revoked_ms FROM api_keys WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->key_id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    int64_t role = row ? td_stmt_column_int64(q, 0) : 0,
            revoked = row ? td_stmt_column_int64(q, 1) : 0;
    td_stmt_reset(q);
    if (!row || revoked)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no valid API key %lld", (long long)a->key_id);
    if (role != TD_ROLE_AUTHORITY)
        return td__error_set(err, TD_ERR_INVALID, "API key %lld does not have the authority role",
                             (long long)a->key_id);
    if ((st = td_store_prepare(c, "SELECT 1 FROM order_authorities WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->authority_id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    td_stmt_reset(q);
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no authority %lld",
                             (long long)a->authority_id);
    if ((st = td_store_prepare(c,
                               "INSERT INTO order_authority_keys (key_id, authority_id, linked_ms)"
                               " VALUES ($1, $2, $3)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->key_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->authority_id, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->now, err)) || (st = td_stmt_run(q, NULL, err)))
        return st == TD_ERR_CONFLICT
                   ? td__error_set(err, TD_ERR_CONFLICT, "API key %lld is linked already",
                                   (long long)a->key_id)
                   : st;
    char obj[48];
    snprintf(obj, sizeof obj, "authority:%lld", (long long)a->authority_id);
    return td__orders_audit(o, c, a->actor, "authority.key_linked", obj,
                            json_pack("{s:I}", "key_id", (json_int_t)a->key_id), err);
}

td_status td_authority_link_key(td_orders *o, const char *actor, int64_t authority_id,
                                int64_t key_id, td_error *err)
{
    link_args a = {actor, authority_id, key_id, td__now(o->svc)};
    return td__orders_tx(o, link_body, &a, err);
}

td_status td_authority_for_key(td_orders *o, int64_t key_id, int64_t *authority_id, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    *authority_id = 0;
    td_status st = td_store_acquire(o->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c, "SELECT authority_id FROM order_authority_keys WHERE key_id = $1",
                               &q, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, key_id, err)) == TD_OK &&
        (st = td_stmt_step(q, &row, err)) == TD_OK) {
        if (row)
            *authority_id = td_stmt_column_int64(q, 0);
        else
            st = td__error_set(err, TD_ERR_NOT_FOUND, "API key %lld is linked to no authority",
                               (long long)key_id);
        td_stmt_reset(q);
    }
    td_store_release(o->svc->store, c);
    return st;
}
