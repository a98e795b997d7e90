/* The reports component: its schema (component "reports"), the handle, its options, its
 * background thread and counters, and the helpers its files share.
 *
 * Why a component of its own rather than a part of casework: franking is pure computation
 * (src/frank/), and a verified report needs more than the casework holds: the server's franking
 * keys in the store, the report with its reporters, the review copy of the plaintext until the
 * case closes, the attachment key registry, and the sealing of removed reports into evidence.
 * It sits beside src/orders/ and src/eorders/, above casework, evidence, audit and frank, which
 * never include it. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/wait.h"
#include "reports/reports_int.h"

#define DAY_MS ((int64_t)86400000)

/* Tables, component "reports". Ids of frank_keys are given by the caller (a key id is part of
 * every frank), so that column is not an identity; every other id comes from the default. */
static const char schema_v1[] =
    "CREATE TABLE frank_keys ("
    " key_id BIGINT PRIMARY KEY, hmac_key BLOB, sign_secret BLOB, sign_public BLOB NOT NULL,"
    " created_ms BIGINT NOT NULL, retired_ms BIGINT NOT NULL DEFAULT 0,"
    " destroy_ms BIGINT NOT NULL DEFAULT 0, destroyed INTEGER NOT NULL DEFAULT 0,"
    " destroyed_ms BIGINT NOT NULL DEFAULT 0);"
    /* One row per reported message: its franked context and proof, its attachments'
     * references (blob SHA-256 and key commitment, 64 bytes each: with the text they rebuild the
     * franked bytes), its content and case, and what became of it (state). */
    "CREATE TABLE reports ("
    " id INTEGER PRIMARY KEY, key_id BIGINT NOT NULL, frank BLOB NOT NULL,"
    " content_ref BIGINT NOT NULL REFERENCES content(id), content_id TEXT NOT NULL,"
    " case_id BIGINT NOT NULL, sender TEXT NOT NULL, conversation TEXT NOT NULL,"
    " accepted_ms BIGINT NOT NULL, salt BLOB NOT NULL, signature BLOB NOT NULL,"
    " attachments INTEGER NOT NULL, refs BLOB NOT NULL, received_ms BIGINT NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0, claim_ms BIGINT NOT NULL DEFAULT 0,"
    " review_copy INTEGER NOT NULL DEFAULT 1, evidence_item BIGINT NOT NULL DEFAULT 0,"
    " handled_ms BIGINT NOT NULL DEFAULT 0, UNIQUE (key_id, frank));"
    "CREATE INDEX reports_state ON reports (state);"
    "CREATE INDEX reports_content ON reports (content_id);"
    "CREATE INDEX reports_sender ON reports (sender);"
    "CREATE TABLE report_reporters ("
    " report_id BIGINT NOT NULL REFERENCES reports(id), reporter TEXT NOT NULL,"
    " reason TEXT NOT NULL, platform_key BIGINT NOT NULL, reported_ms BIGINT NOT NULL,"
    " PRIMARY KEY (report_id, reporter));"
    /* The review copy: part 0 the text, part j + 1 attachment j's plaintext. */
    "CREATE TABLE report_copies ("
    " report_id BIGINT NOT NULL REFERENCES reports(id), part INTEGER NOT NULL,"
    " data BLOB NOT NULL, PRIMARY KEY (report_id, part));"
    /* The attachment key registry: one key commitment per ciphertext, ever. */
    "CREATE TABLE report_attachments ("
    " blob_sha256 BLOB PRIMARY KEY, key_commitment BLOB NOT NULL, report_id BIGINT NOT NULL,"
    " seen_ms BIGINT NOT NULL);"
    /* What a removed report left in evidence: part 0 the record, part j + 1 attachment j. */
    "CREATE TABLE report_items ("
    " report_id BIGINT NOT NULL REFERENCES reports(id), part INTEGER NOT NULL,"
    " evidence_item BIGINT NOT NULL, bytes BIGINT NOT NULL, sha256 TEXT NOT NULL,"
    " related_sha256 TEXT NOT NULL, sealed_ms BIGINT NOT NULL, PRIMARY KEY (report_id, part));";

static const td_store_migration migrations[] = {
    {1, "franking keys, reports, reporters, review copies, attachment keys, sealed items",
     schema_v1, NULL},
};

/* ---- options ---- */

void td_reports_options_default(td_reports_options *o)
{
    memset(o, 0, sizeof *o);
    o->rotate_ms = 30 * DAY_MS;
    o->retention_ms = 90 * DAY_MS;
    o->max_attachment_bytes = (int64_t)32 << 20;
}

td_status td_reports_options_from_config(td_reports_options *o, const td_config *cfg, td_error *err)
{
    td_status st;
    td_reports_options_default(o);
    if ((st = td_config_int(cfg, "frank_key_rotate_ms", &o->rotate_ms, err)) ||
        (st = td_config_int(cfg, "frank_key_retention_ms", &o->retention_ms, err)) ||
        (st = td_config_int(cfg, "report_max_attachment_bytes", &o->max_attachment_bytes, err)))
        return st;
    return TD_OK;
}

/* ---- shared helpers ---- */

void td__report_case_ref(char *out, size_t cap, int64_t id)
{
    snprintf(out, cap, "report-%lld", (long long)id);
}

typedef struct rep_tx {
    td_reports *rep;
    td__reports_tx_fn fn;
    void *ctx;
} rep_tx;

static td_status rep_tx_body(td_store_conn *c, void *arg, td_error *err)
{
    rep_tx *t = arg;
    return t->fn(t->rep, c, t->ctx, err);
}

td_status td__reports_tx(td_reports *rep, td__reports_tx_fn fn, void *ctx, td_error *err)
{
    rep_tx t = {rep, fn, ctx};
    return td_store_write(rep->svc->store, rep_tx_body, &t, err);
}

td_status td__reports_audit(td_reports *rep, td_store_conn *c, const char *actor,
                            const char *action, const char *object, json_t *details, td_error *err)
{
    char *text = details ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(details);
    if (details && !text)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st =
        td_audit_append_in(td_service_audit(rep->svc), c, actor && *actor ? actor : "system",
                           action, object, text, NULL, err);
    free(text); /* jansson's */
    return st;
}

td_status td__reports_shred(td_reports *rep, td_store_conn *c, int on, td_error *err)
{
    if (strcmp(td_store_backend(rep->svc->store), "sqlite") != 0)
        return TD_OK;
    return td_store_exec(c, on ? "PRAGMA secure_delete = ON" : "PRAGMA secure_delete = OFF", err);
}

/* ---- the background thread ---- */

static void *duty_main(void *arg)
{
    td_reports *rep = arg;
    pthread_mutex_lock(&rep->duty_lock);
    while (!td__wait_interval(&rep->duty_wake, &rep->duty_lock, &rep->duty_stop,
                              (unsigned)rep->opts.tick_ms)) {
        pthread_mutex_unlock(&rep->duty_lock);
        td_error err;
        /* A failing tick (busy store, no evidence master key yet) is counted and retried at the
         * next one: every duty is a catch-up over stored state. */
        td__reports_ignore(td_reports_tick(rep, &err));
        pthread_mutex_lock(&rep->duty_lock);
    }
    pthread_mutex_unlock(&rep->duty_lock);
    return NULL;
}

static void duties_stop(td_reports *rep)
{
    if (!rep->duty_started)
        return;
    pthread_mutex_lock(&rep->duty_lock);
    rep->duty_stop = 1;
    pthread_cond_broadcast(&rep->duty_wake);
    pthread_mutex_unlock(&rep->duty_lock);
    pthread_join(rep->duty, NULL);
    rep->duty_started = 0;
}

/* ---- the handle ---- */

td_status td_reports_open(td_service *svc, const td_reports_options *opts, td_reports **out,
                          td_error *err)
{
    td_status st;
    *out = NULL;
    if (!svc)
        return td__error_set(err, TD_ERR_INVALID, "reports: no service");
    td_reports *rep = td__calloc(1, sizeof *rep);
    if (!rep)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    rep->svc = svc;
    pthread_mutex_init(&rep->key_lock, NULL);
    pthread_mutex_init(&rep->preserve_lock, NULL);
    pthread_mutex_init(&rep->duty_lock, NULL);
    td__cond_init_monotonic(&rep->duty_wake);
    if (opts)
        rep->opts = *opts;
    else
        td_reports_options_default(&rep->opts);
    const td_reports_options *o = &rep->opts;
    if (o->rotate_ms < 0 || o->retention_ms < 0 || o->max_attachment_bytes < 1 ||
        o->max_attachment_bytes > ((int64_t)1 << 32) || o->tick_ms < 0 || o->tick_ms > 3600000) {
        st = td__error_set(err, TD_ERR_INVALID,
                           "reports: rotation, retention, attachment size or tick out of range");
        goto fail;
    }
    if (sodium_init() < 0) {
        st = td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to start");
        goto fail;
    }
    if ((st = td_frank_keyring_new(&rep->ring, err)) ||
        (st = td_store_migrate_component(svc->store, "reports", migrations,
                                         sizeof migrations / sizeof migrations[0], err)) ||
        (st = td__reports_keys_ensure(rep, err)))
        goto fail;
    if (o->tick_ms > 0) {
        rep->duty_stop = 0;
        if (pthread_create(&rep->duty, NULL, duty_main, rep) != 0) {
            st = td__error_set(err, TD_ERR_INTERNAL, "reports: cannot start the duty thread");
            goto fail;
        }
        rep->duty_started = 1;
    }
    *out = rep;
    return TD_OK;
fail:
    td_reports_close(rep);
    return st;
}

void td_reports_close(td_reports *rep)
{
    if (!rep)
        return;
    duties_stop(rep);
    td_frank_keyring_free(rep->ring);
    td__free(rep->pub);
    pthread_cond_destroy(&rep->duty_wake);
    pthread_mutex_destroy(&rep->duty_lock);
    pthread_mutex_destroy(&rep->preserve_lock);
    pthread_mutex_destroy(&rep->key_lock);
    td__free(rep);
}

td_status td_reports_tick(td_reports *rep, td_error *err)
{
    atomic_fetch_add(&rep->ticks, 1);
    td_status st = td__reports_keys_tick(rep, err);
    if (st == TD_OK)
        st = td__reports_preserve_tick(rep, err);
    if (st)
        atomic_fetch_add(&rep->tick_failures, 1);
    return st;
}

void td_reports_get_stats(td_reports *rep, td_reports_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!rep)
        return;
    out->franked = atomic_load(&rep->franked);
    out->verified = atomic_load(&rep->verified);
    for (int i = 0; i < 6; i++)
        out->invalid[i] = atomic_load(&rep->invalid[i]);
    out->ticks = atomic_load(&rep->ticks);
    out->tick_failures = atomic_load(&rep->tick_failures);
}
