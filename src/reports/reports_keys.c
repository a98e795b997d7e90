/* The server's franking keys: stored in frank_keys (shared by every node of a PostgreSQL
 * deployment), held in memory in the frank key ring, created, rotated and destroyed at the end of
 * their retention; and what uses them: franking at delivery and verifying a report.
 *
 * Order of things, and why:
 *  - every change is one transaction that first reads what is current in the store, so two nodes
 *    rotating at once make one new key (the second finds the key it would retire retired
 *    already), then the ring is reloaded from the store: the store is the truth, the ring a copy;
 *  - destruction sets the secrets to NULL in the store (zeroed on SQLite, td__reports_shred) with
 *    its audit entry, then the reload wipes them in memory (the ring keeps a destroyed key's id,
 *    public key and times: its franks are refused as key_destroyed, not as key_unknown);
 *  - a verification checks the key's destroy time against the clock before the key is used, so
 *    no frank verifies past the end of its retention even before a tick destroyed the key here or
 *    another node's destruction was loaded. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "reports/reports_int.h"

/* ---- loading ---- */

static void key_row(td_stmt *q, td_frank_key *k)
{
    memset(k, 0, sizeof *k);
    k->id = (uint32_t)td_stmt_column_int64(q, 0);
    k->created_ms = td_stmt_column_int64(q, 4);
    k->retired_ms = td_stmt_column_int64(q, 5);
    k->destroy_ms = td_stmt_column_int64(q, 6);
    k->destroyed = (int)td_stmt_column_int64(q, 7);
    if (td_stmt_column_bytes(q, 3) == TD_FRANK_PUBKEY_LEN)
        memcpy(k->sign_public, td_stmt_column_blob(q, 3), TD_FRANK_PUBKEY_LEN);
    /* A key whose secrets are not all there verifies nothing: treated as destroyed. */
    if (k->destroyed || td_stmt_column_bytes(q, 1) != TD_FRANK_HMAC_KEY_LEN ||
        td_stmt_column_bytes(q, 2) != TD_FRANK_SIGN_SECRET_LEN) {
        k->destroyed = 1;
        return;
    }
    memcpy(k->hmac_key, td_stmt_column_blob(q, 1), TD_FRANK_HMAC_KEY_LEN);
    memcpy(k->sign_secret, td_stmt_column_blob(q, 2), TD_FRANK_SIGN_SECRET_LEN);
}

td_status td__reports_keys_load(td_reports *rep, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    td__report_key_pub *pub = NULL;
    size_t n = 0, cap = 0;
    td_frank_key *k = sodium_malloc(sizeof *k);
    if (!k)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&rep->key_lock);
    td_status st = td_store_acquire(rep->svc->store, 0, &c, err);
    if (st)
        goto out;
    if ((st = td_store_prepare(c,
                               "SELECT key_id, hmac_key, sign_secret, sign_public, created_ms,"
                               " retired_ms, destroy_ms, destroyed FROM frank_keys"
                               " ORDER BY key_id",
                               &q, err)) == TD_OK) {
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
            if (n == TD_FRANK_KEYS_MAX) {
                st = td__error_set(err, TD_ERR_LIMIT, "reports: more than %d franking keys",
                                   TD_FRANK_KEYS_MAX);
                break;
            }
            key_row(q, k);
            if ((st = td__grow((void **)&pub, &cap, n + 1, sizeof *pub, err)) ||
                (st = td_frank_keyring_put(rep->ring, k, err)))
                break;
            pub[n++] = (td__report_key_pub){k->id, k->created_ms, k->retired_ms, k->destroy_ms,
                                            k->destroyed};
            sodium_memzero(k, sizeof *k);
        }
        td_stmt_reset(q);
    }
    td_store_release(rep->svc->store, c);
    if (st == TD_OK) {
        td__free(rep->pub);
        rep->pub = pub;
        rep->n_pub = n;
        pub = NULL;
    }
out:
    pthread_mutex_unlock(&rep->key_lock);
    td__free(pub);
    sodium_free(k); /* wipes */
    return st;
}

void td__reports_key_pub(td_reports *rep, uint32_t id, td__report_key_pub *out, int *found)
{
    *found = 0;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&rep->key_lock);
    for (size_t i = 0; i < rep->n_pub; i++)
        if (rep->pub[i].id == id) {
            *out = rep->pub[i];
            *found = 1;
            break;
        }
    pthread_mutex_unlock(&rep->key_lock);
}

/* The current key's public side: the newest neither retired nor destroyed (*found 0: none). */
static void current_pub(td_reports *rep, td__report_key_pub *out, int *found)
{
    *found = 0;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&rep->key_lock);
    for (size_t i = 0; i < rep->n_pub; i++) {
        const td__report_key_pub *p = &rep->pub[i];
        if (p->retired_ms || p->destroyed)
            continue;
        if (!*found || p->created_ms > out->created_ms ||
            (p->created_ms == out->created_ms && p->id > out->id)) {
            *out = *p;
            *found = 1;
        }
    }
    pthread_mutex_unlock(&rep->key_lock);
}

/* ---- creation and rotation ---- */

enum { MAKE_FIRST = 1, MAKE_ROTATE = 2, MAKE_DUE = 3 };

typedef struct make_args {
    const char *actor;
    int mode;
    uint32_t expect;   /* MAKE_DUE: the key found due (0: any) */
    td_frank_key made; /* public part of the new key */
    int created;
} make_args;

static void pub_hex(const td_frank_key *k, char out[2 * TD_FRANK_PUBKEY_LEN + 1])
{
    td__hex_encode(k->sign_public, TD_FRANK_PUBKEY_LEN, out);
}

static td_status make_body(td_reports *rep, td_store_conn *c, void *ctx, td_error *err)
{
    make_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    int64_t now = td__now(rep->svc), cur = 0, cur_created = 0, max_id = 0;
    if ((st = td_store_prepare(c,
                               "SELECT key_id, created_ms FROM frank_keys WHERE retired_ms = 0"
                               " AND destroyed = 0 ORDER BY created_ms DESC, key_id DESC LIMIT 1",
                               &q, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        cur = td_stmt_column_int64(q, 0);
        cur_created = td_stmt_column_int64(q, 1);
    }
    td_stmt_reset(q);
    if (a->mode == MAKE_FIRST && cur)
        return TD_OK;
    /* Another node rotated first: the key found due is no longer current, or the current one is
     * not due. */
    if (a->mode == MAKE_DUE && cur &&
        ((a->expect && cur != a->expect) || cur_created + rep->opts.rotate_ms > now))
        return TD_OK;
    if ((st = td_store_prepare(c, "SELECT COALESCE(MAX(key_id), 0) FROM frank_keys", &q, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    max_id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if (max_id >= (int64_t)UINT32_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "reports: franking key ids exhausted");
    td_frank_key *k = sodium_malloc(sizeof *k);
    if (!k)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    int64_t destroy_ms = now + rep->opts.retention_ms;
    if ((st = td_frank_key_generate((uint32_t)(max_id + 1), now, k, err)))
        goto out;
    if (cur &&
        ((st = td_store_prepare(c,
                                "UPDATE frank_keys SET retired_ms = $2, destroy_ms = $3"
                                " WHERE key_id = $1",
                                &q, err)) ||
         (st = td_stmt_bind_int64(q, 1, cur, err)) || (st = td_stmt_bind_int64(q, 2, now, err)) ||
         (st = td_stmt_bind_int64(q, 3, destroy_ms, err)) || (st = td_stmt_run(q, NULL, err))))
        goto out;
    if ((st = td_store_prepare(c,
                               "INSERT INTO frank_keys (key_id, hmac_key, sign_secret,"
                               " sign_public, created_ms) VALUES ($1, $2, $3, $4, $5)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, k->id, err)) ||
        (st = td_stmt_bind_blob(q, 2, k->hmac_key, TD_FRANK_HMAC_KEY_LEN, err)) ||
        (st = td_stmt_bind_blob(q, 3, k->sign_secret, TD_FRANK_SIGN_SECRET_LEN, err)) ||
        (st = td_stmt_bind_blob(q, 4, k->sign_public, TD_FRANK_PUBKEY_LEN, err)) ||
        (st = td_stmt_bind_int64(q, 5, now, err)) || (st = td_stmt_run(q, NULL, err)))
        goto out;
    char hex[2 * TD_FRANK_PUBKEY_LEN + 1], object[32];
    pub_hex(k, hex);
    snprintf(object, sizeof object, "frank-key:%u", k->id);
    json_t *d = json_pack("{s:I, s:s, s:s, s:I}", "key_id", (json_int_t)k->id, "algorithm",
                          "Ed25519", "public_key", hex, "created_ms", (json_int_t)now);
    if (d && cur) {
        json_object_set_new(d, "retired_key", json_integer(cur));
        json_object_set_new(d, "retired_destroy_ms", json_integer(destroy_ms));
    }
    if ((st = td__reports_audit(rep, c, a->actor, cur ? "frank.key_rotated" : "frank.key_created",
                                object, d, err)))
        goto out;
    a->made = *k;
    td_frank_key_wipe(&a->made);
    a->made.destroyed = 0; /* the public copy of a live key */
    a->created = 1;
out:
    sodium_free(k); /* wipes */
    return st;
}

td_status td__reports_keys_ensure(td_reports *rep, td_error *err)
{
    make_args a = {"system", MAKE_FIRST, 0, {0}, 0};
    td_status st = td__reports_tx(rep, make_body, &a, err);
    return st ? st : td__reports_keys_load(rep, err);
}

td_status td_reports_rotate_key(td_reports *rep, const char *actor, td_frank_key *out,
                                td_error *err)
{
    make_args a = {actor, MAKE_ROTATE, 0, {0}, 0};
    if (out)
        memset(out, 0, sizeof *out);
    td_status st = td__reports_tx(rep, make_body, &a, err);
    if (st == TD_OK)
        st = td__reports_keys_load(rep, err);
    if (st == TD_OK && out)
        *out = a.made;
    return st;
}

td_status td_reports_keys(td_reports *rep, td_frank_key **out, size_t *count, td_error *err)
{
    td_status st = td__reports_keys_load(rep, err);
    if (st) {
        *out = NULL;
        *count = 0;
        return st;
    }
    return td_frank_keyring_list(rep->ring, out, count, err);
}

/* ---- destruction ---- */

typedef struct destroy_args {
    uint32_t id;
} destroy_args;

static td_status destroy_body(td_reports *rep, td_store_conn *c, void *ctx, td_error *err)
{
    destroy_args *a = ctx;
    td_stmt *q;
    int row = 0;
    int64_t now = td__now(rep->svc), retired = 0, destroy_ms = 0;
    td_status st;
    if ((st = td_store_prepare(c,
                               "SELECT retired_ms, destroy_ms FROM frank_keys WHERE key_id = $1"
                               " AND destroyed = 0 AND destroy_ms > 0 AND destroy_ms <= $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_bind_int64(q, 2, now, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        retired = td_stmt_column_int64(q, 0);
        destroy_ms = td_stmt_column_int64(q, 1);
    }
    td_stmt_reset(q);
    if (!row)
        return TD_OK; /* destroyed by another node, or not due */
    if ((st = td__reports_shred(rep, c, 1, err)))
        return st;
    if ((st = td_store_prepare(c,
                               "UPDATE frank_keys SET hmac_key = NULL, sign_secret = NULL,"
                               " destroyed = 1, destroyed_ms = $2 WHERE key_id = $1",
                               &q, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, a->id, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 2, now, err)) == TD_OK)
        st = td_stmt_run(q, NULL, err);
    td_status off = td__reports_shred(rep, c, 0, st ? NULL : err);
    if (st || (st = off))
        return st;
    char object[32];
    snprintf(object, sizeof object, "frank-key:%u", a->id);
    return td__reports_audit(rep, c, "system", "frank.key_destroyed", object,
                             json_pack("{s:I, s:I, s:I, s:I}", "key_id", (json_int_t)a->id,
                                       "retired_ms", (json_int_t)retired, "destroy_ms",
                                       (json_int_t)destroy_ms, "destroyed_ms", (json_int_t)now),
                             err);
}

td_status td__reports_keys_tick(td_reports *rep, td_error *err)
{
    td_status st = td__reports_keys_load(rep, err);
    if (st)
        return st;
    int64_t now = td__now(rep->svc);
    td__report_key_pub cur;
    int found = 0, changed = 0;
    current_pub(rep, &cur, &found);
    if (!found) {
        make_args a = {"system", MAKE_FIRST, 0, {0}, 0};
        st = td__reports_tx(rep, make_body, &a, err);
        changed |= a.created;
    } else if (rep->opts.rotate_ms > 0 && cur.created_ms + rep->opts.rotate_ms <= now) {
        make_args a = {"system", MAKE_DUE, cur.id, {0}, 0};
        st = td__reports_tx(rep, make_body, &a, err);
        changed |= a.created;
    }
    /* Keys whose retention ended, from the public table (a copy: the loop writes). */
    uint32_t due[64];
    size_t n_due = 0;
    pthread_mutex_lock(&rep->key_lock);
    for (size_t i = 0; i < rep->n_pub && n_due < sizeof due / sizeof due[0]; i++)
        if (!rep->pub[i].destroyed && rep->pub[i].destroy_ms && rep->pub[i].destroy_ms <= now)
            due[n_due++] = rep->pub[i].id;
    pthread_mutex_unlock(&rep->key_lock);
    for (size_t i = 0; st == TD_OK && i < n_due; i++) {
        destroy_args a = {due[i]};
        st = td__reports_tx(rep, destroy_body, &a, err);
        changed = 1;
    }
    if (changed) {
        td_error ignored;
        td_status lst = td__reports_keys_load(rep, st ? &ignored : err);
        if (st == TD_OK)
            st = lst;
    }
    return st;
}

/* ---- franking and verifying ---- */

td_status td_reports_frank_batch(td_reports *rep, const td_frank_request *req, size_t n,
                                 td_frank_proof *out, td_error *err)
{
    uint8_t context[TD_FRANK_CONTEXT_MAX];
    size_t len;
    td_status st;
    if (n == 0 || !req || !out)
        return td__error_set(err, TD_ERR_INVALID, "no message to frank");
    if (n > TD_FRANK_BATCH_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d messages in one batch",
                             TD_FRANK_BATCH_MAX);
    /* Every context checked before any frank: a malformed one fails the batch. */
    for (size_t i = 0; i < n; i++)
        if ((st = td_frank_context_encode(&req[i].ctx, context, &len, err))) {
            td__error_prefix(err, "[%zu].", i);
            memset(out, 0, n * sizeof *out);
            return st;
        }
    for (size_t i = 0; i < n; i++) {
        st = td_frank_keyring_issue(rep->ring, req[i].tag, &req[i].ctx, &out[i], err);
        if (st == TD_ERR_NOT_FOUND) {
            /* no current key here (destroyed or retired by another node): load or make one */
            if ((st = td__reports_keys_ensure(rep, err)) == TD_OK)
                st = td_frank_keyring_issue(rep->ring, req[i].tag, &req[i].ctx, &out[i], err);
        }
        if (st) {
            memset(out, 0, n * sizeof *out);
            return st;
        }
    }
    atomic_fetch_add(&rep->franked, n);
    return TD_OK;
}

td_status td__reports_verify(td_reports *rep, const uint8_t salt[TD_FRANK_SALT_LEN],
                             const uint8_t *msg, size_t len, const td_frank_context *ctx,
                             const td_frank_proof *proof, td_frank_failure *why, td_error *err)
{
    uint8_t context[TD_FRANK_CONTEXT_MAX];
    size_t clen;
    td__report_key_pub kp;
    int found = 0;
    td_status st;
    *why = TD_FRANK_BAD_INPUT;
    if ((st = td_frank_context_encode(ctx, context, &clen, err)))
        return st;
    td__reports_key_pub(rep, proof->key_id, &kp, &found);
    if (!found && proof->key_id) {
        /* a key another node made since the last load */
        if ((st = td__reports_keys_load(rep, err)))
            return st;
        td__reports_key_pub(rep, proof->key_id, &kp, &found);
    }
    if (found && !kp.destroyed && kp.destroy_ms && td__now(rep->svc) >= kp.destroy_ms) {
        *why = TD_FRANK_KEY_DESTROYED;
        return td__error_set(err, TD_ERR_INVALID,
                             "key %u: its retention ended; its franks no longer verify",
                             proof->key_id);
    }
    return td_frank_keyring_verify(rep->ring, salt, msg, len, ctx, proof, why, err);
}
