/* Sealing: an item is encrypted into its own file under a fresh key, which is sealed to its case's
 * public key; a case's key pair is made at its first item, its secret half sealed to the master
 * key. The row, the file and the audit entry stand or fall together. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "evidence/evidence_int.h"
#include "evidence/sealed.h"

void td__evidence_item_path(const td_evidence *ev, int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%lld.seal", ev->dir, (long long)id);
}

void td__evidence_item_bind(const char *case_ref, int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "takedown evidence\ncase=%s\nitem=%lld", case_ref, (long long)id);
}

typedef struct seal_args {
    const char *actor, *case_ref, *label, *related;
    const uint8_t *content;
    size_t len;
    int64_t removal_ms;
    int64_t item_id;
    char path[4096];
    int wrote;
} seal_args;

/* The case's public key, creating the case (and its key pair) when new. */
static td_status case_for_seal(td_evidence *ev, td_store_conn *c, const seal_args *a,
                               uint8_t pk[crypto_box_PUBLICKEYBYTES], int64_t *retain,
                               td_error *err)
{
    td_stmt *q;
    int row;
    int64_t until = a->removal_ms + ev->opts.retention_ms;
    td_status st = td_store_prepare(c,
                                    "SELECT public_key, retain_until_ms, purged_ms"
                                    " FROM evidence_cases WHERE case_ref = $1",
                                    &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        int64_t old = td_stmt_column_int64(q, 1), purged = td_stmt_column_int64(q, 2);
        if (td_stmt_column_bytes(q, 0) != crypto_box_PUBLICKEYBYTES)
            return td__error_set(err, TD_ERR_CORRUPT, "evidence: case key row is malformed");
        memcpy(pk, td_stmt_column_blob(q, 0), crypto_box_PUBLICKEYBYTES);
        td_stmt_reset(q);
        if (purged)
            return td__error_set(err, TD_ERR_CONFLICT,
                                 "evidence: case %s was purged; open a new case", a->case_ref);
        *retain = old > until ? old : until;
        if ((st = td_store_prepare(c,
                                   "UPDATE evidence_cases SET retain_until_ms = $2"
                                   " WHERE case_ref = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, *retain, err)))
            return st;
        return td_stmt_run(q, NULL, err);
    }
    td__evidence_master m;
    uint8_t wrapped[TD__EVIDENCE_WRAPPED_LEN];
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!sk)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    if ((st = td__evidence_load_master(c, &m, err))) {
        sodium_free(sk);
        return st;
    }
    crypto_box_keypair(pk, sk);
    int bad = crypto_box_seal(wrapped, sk, crypto_box_SECRETKEYBYTES, m.pk) != 0;
    sodium_free(sk);
    if (bad)
        return td__error_set(err, TD_ERR_INTERNAL, "evidence: sealing the case key failed");
    *retain = until;
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_cases (case_ref, public_key, wrapped_secret,"
                               " created_ms, retain_until_ms, hold, purged_ms)"
                               " VALUES ($1, $2, $3, $4, $5, 0, 0)",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_bind_blob(q, 2, pk, crypto_box_PUBLICKEYBYTES, err)) ||
        (st = td_stmt_bind_blob(q, 3, wrapped, sizeof wrapped, err)) ||
        (st = td_stmt_bind_int64(q, 4, td__evidence_now(ev), err)) ||
        (st = td_stmt_bind_int64(q, 5, until, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

static td_status seal_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    seal_args *a = arg;
    uint8_t case_pk[crypto_box_PUBLICKEYBYTES], wrapped[TD__EVIDENCE_WRAPPED_LEN], digest[32];
    char hex[65], bind[TD__EVIDENCE_MAX_REF + 64];
    int64_t retain = 0, t = td__evidence_now(ev);
    td_stmt *q;
    int row;
    td_status st = case_for_seal(ev, c, a, case_pk, &retain, err);
    if (st)
        return st;
    uint8_t *key = sodium_malloc(TD__ITEM_KEY_LEN);
    if (!key)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    crypto_secretstream_xchacha20poly1305_keygen(key);
    if (crypto_box_seal(wrapped, key, TD__ITEM_KEY_LEN, case_pk) != 0) {
        sodium_free(key);
        return td__error_set(err, TD_ERR_INTERNAL, "evidence: sealing the item key failed");
    }
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_items (case_ref, label, file, bytes,"
                               " wrapped_key, sealed_ms, removal_ms)"
                               " VALUES ($1, $2, '', $3, $4, $5, $6) RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 2, a->label, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, (int64_t)a->len, err)) ||
        (st = td_stmt_bind_blob(q, 4, wrapped, sizeof wrapped, err)) ||
        (st = td_stmt_bind_int64(q, 5, t, err)) ||
        (st = td_stmt_bind_int64(q, 6, a->removal_ms, err)) || (st = td_stmt_step(q, &row, err))) {
        sodium_free(key);
        return st;
    }
    a->item_id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    crypto_hash_sha256(digest, a->content ? a->content : (const uint8_t *)"", a->len);
    td__hex_encode(digest, 32, hex);
    char *meta = td__evidence_dump(
        json_pack("{s:s,s:I,s:s,s:I,s:I,s:I,s:s,s:s}", "case", a->case_ref, "item",
                  (json_int_t)a->item_id, "label", a->label, "sealed_ms", (json_int_t)t,
                  "removal_ms", (json_int_t)a->removal_ms, "content_bytes", (json_int_t)a->len,
                  "content_sha256", hex, "related", a->related ? a->related : ""));
    if (!meta) {
        sodium_free(key);
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    }
    td__evidence_item_path(ev, a->item_id, a->path, sizeof a->path);
    td__evidence_item_bind(a->case_ref, a->item_id, bind, sizeof bind);
    st = td__sealed_write(a->path, key, bind, meta, strlen(meta), a->content, a->len, err);
    sodium_memzero(meta, strlen(meta));
    td__free(meta);
    sodium_free(key);
    if (st)
        return st;
    a->wrote = 1;
    const char *file = strrchr(a->path, '/') + 1;
    if ((st = td_store_prepare(c, "UPDATE evidence_items SET file = $2 WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->item_id, err)) ||
        (st = td_stmt_bind_text(q, 2, file, (size_t)-1, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    char *details = td__evidence_dump(
        json_pack("{s:I,s:s,s:I,s:s,s:I,s:I}", "item", (json_int_t)a->item_id, "label", a->label,
                  "bytes", (json_int_t)a->len, "sha256", hex, "removal_ms",
                  (json_int_t)a->removal_ms, "retain_until_ms", (json_int_t)retain));
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, "evidence.seal", a->case_ref, details, NULL, err);
    td__free(details);
    return st;
}

td_status td_evidence_seal(td_evidence *ev, const char *actor, const char *case_ref,
                           const char *label, const uint8_t *content, size_t len,
                           const char *related_json, int64_t removal_ms, int64_t *item_id,
                           td_error *err)
{
    td_status st;
    if ((st = td__evidence_check_text("case reference", case_ref, TD__EVIDENCE_MAX_REF, err)) ||
        (st = td__evidence_check_text("label", label, TD__EVIDENCE_MAX_REF, err)) ||
        (st = td__evidence_check_text("actor", actor, TD__EVIDENCE_MAX_REF, err)))
        return st;
    if ((uint64_t)len > (uint64_t)ev->opts.max_item_bytes)
        return td__error_set(err, TD_ERR_LIMIT, "evidence: item of %zu bytes over the limit %lld",
                             len, (long long)ev->opts.max_item_bytes);
    if (len && !content)
        return td__error_set(err, TD_ERR_INVALID, "evidence: no content");
    seal_args a = {actor, case_ref, label, related_json, content, len, removal_ms, 0, "", 0};
    st = td__evidence_tx(ev, seal_body, &a, err);
    if (st && a.wrote)
        unlink(a.path); /* the rows rolled back: the file names nothing */
    if (st)
        td__error_prefix(err, "sealing into case %s: ", case_ref);
    else if (item_id)
        *item_id = a.item_id;
    return st;
}
