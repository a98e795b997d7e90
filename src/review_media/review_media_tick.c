/* What a closed case means for its review copy, done by td_review_media_tick as a catch-up over
 * stored state (so a crash between a decision and its consequence loses nothing: the next tick
 * finds the copy again), without any hook in the casework:
 *  - decided "remove" with an evidence store: the copy is preserved like removed content, each
 *    kept part sealed into the evidence case "review-<content ref>" (retention from the decision,
 *    k of n custodians to open it), then the copy is deleted here ("content.media_preserved");
 *    without the evidence master key the copy waits for it (sealing needs none of the
 *    custodians, only the master public key);
 *  - any other close (keep; remove without an evidence store): the copy is deleted once the
 *    grace has passed since the decision ("content.media_deleted").
 * Deletion drops the wrapped content key in the transaction that records it (crypto-shredding),
 * then removes the files; a file left behind by a failed unlink opens with no key the store
 * holds.
 *
 * Sealing commits per part (td_evidence_seal), each sealed part recorded at once
 * (review_media_parts.evidence_item), so a retry seals only what is missing. Nodes sharing a
 * store claim a copy before sealing it (state sealing, with the time); a claim older than
 * CLAIM_MS is taken over (its node died). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "review_media/review_media_int.h"

#define CLAIM_MS ((int64_t)600000)
#define TICK_BATCH 100
#define TD__RM_STR2(x) #x
#define TD__RM_STR(x) TD__RM_STR2(x)

typedef struct copy_row {
    int64_t ref, case_id;
    char content_id[TD_CONTENT_ID_MAX + 1];
    char tag[17];
    uint8_t wrapped[TD__RM_WRAPPED_LEN];
    size_t wrapped_len;
    size_t n;
    td_review_media_item items[TD_REVIEW_MEDIA_PARTS_MAX];
} copy_row;

typedef struct load_copy_args {
    copy_row *r;
    int found;
} load_copy_args;

static td_status load_copy_body(td_store_conn *c, void *ctx, td_error *err)
{
    load_copy_args *a = ctx;
    copy_row *r = a->r;
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td_store_prepare(c,
                               "SELECT content_id, case_id, wrapped_key, file_tag FROM review_media"
                               " WHERE content_ref = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, r->ref, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        a->found = 1;
        td__copy_trunc(r->content_id, sizeof r->content_id, td_stmt_column_text(q, 0));
        r->case_id = td_stmt_column_int64(q, 1);
        r->wrapped_len = td_stmt_column_bytes(q, 2);
        if (r->wrapped_len == TD__RM_WRAPPED_LEN)
            memcpy(r->wrapped, td_stmt_column_blob(q, 2), TD__RM_WRAPPED_LEN);
        else
            r->wrapped_len = 0;
        td__copy_trunc(r->tag, sizeof r->tag, td_stmt_column_text(q, 3));
    }
    td_stmt_reset(q);
    if (!row)
        return TD_OK;
    if ((st = td_store_prepare(c,
                               "SELECT part, content_type, bytes, sha256, kept, evidence_item"
                               " FROM review_media_parts WHERE content_ref = $1 ORDER BY part",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, r->ref, err)))
        return st;
    r->n = 0;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && r->n < TD_REVIEW_MEDIA_PARTS_MAX) {
        td_review_media_item *it = &r->items[r->n++];
        memset(it, 0, sizeof *it);
        it->part = (int)td_stmt_column_int64(q, 0);
        td__copy_trunc(it->content_type, sizeof it->content_type, td_stmt_column_text(q, 1));
        it->bytes = td_stmt_column_int64(q, 2);
        td__copy_trunc(it->sha256, sizeof it->sha256, td_stmt_column_text(q, 3));
        it->kept = (int)td_stmt_column_int64(q, 4);
        it->evidence_item = td_stmt_column_int64(q, 5);
    }
    td_stmt_reset(q);
    return st;
}

static void remove_files(td_review_media *rm, const copy_row *r)
{
    char path[4200];
    for (size_t i = 0; i < r->n; i++)
        if (r->items[i].kept) {
            td__rm_file(rm, r->ref, r->tag, r->items[i].part, path, sizeof path);
            unlink(path);
        }
}

/* ---- the copy let go ---- */

typedef struct release_args {
    td_review_media *rm;
    const copy_row *r;
    int state; /* TD_REVIEW_MEDIA_DELETED or _PRESERVED */
    int64_t delete_after_ms, outcome;
    const char *evidence_case;
    int done;
} release_args;

static td_status release_body(td_store_conn *c, void *ctx, td_error *err)
{
    release_args *a = ctx;
    td_review_media *rm = a->rm;
    td_stmt *q;
    int64_t changed = 0, now = td__now(rm->svc);
    td_status st;
    if ((st = td__rm_shred(rm, c, 1, err)))
        return st;
    if ((st = td_store_prepare(c,
                               "UPDATE review_media SET state = $2, wrapped_key = NULL,"
                               " handled_ms = $3, delete_after_ms = $4, evidence_case = $5"
                               " WHERE content_ref = $1 AND state IN ($6, $7)",
                               &q, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, a->r->ref, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 2, a->state, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 3, now, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 4, a->delete_after_ms, err)) == TD_OK &&
        (st = td_stmt_bind_text(q, 5, a->evidence_case ? a->evidence_case : "", (size_t)-1, err)) ==
            TD_OK &&
        (st = td_stmt_bind_int64(q, 6, TD_REVIEW_MEDIA_KEPT, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 7, TD_REVIEW_MEDIA_SEALING, err)) == TD_OK)
        st = td_stmt_run(q, &changed, err);
    td_status off = td__rm_shred(rm, c, 0, st ? NULL : err);
    if (st || (st = off))
        return st;
    if (!changed)
        return TD_OK; /* handled by another node */
    a->done = 1;
    if (a->state == TD_REVIEW_MEDIA_PRESERVED) {
        json_t *items = json_array();
        for (size_t i = 0; i < a->r->n; i++)
            if (a->r->items[i].kept)
                json_array_append_new(items,
                                      json_pack("{s:i, s:I, s:I, s:s}", "part", a->r->items[i].part,
                                                "item", (json_int_t)a->r->items[i].evidence_item,
                                                "bytes", (json_int_t)a->r->items[i].bytes, "sha256",
                                                a->r->items[i].sha256));
        return td__rm_audit(rm, c, NULL, "content.media_preserved", a->r->content_id,
                            json_pack("{s:s, s:I, s:s, s:o}", "content_id", a->r->content_id,
                                      "case", (json_int_t)a->r->case_id, "evidence_case",
                                      a->evidence_case, "items", items),
                            err);
    }
    return td__rm_audit(rm, c, NULL, "content.media_deleted", a->r->content_id,
                        json_pack("{s:s, s:I, s:s, s:I}", "content_id", a->r->content_id, "case",
                                  (json_int_t)a->r->case_id, "outcome",
                                  a->outcome == TD_DECISION_REMOVE ? "remove" : "keep",
                                  "delete_after_ms", (json_int_t)a->delete_after_ms),
                        err);
}

static td_status load_copy(td_review_media *rm, copy_row *r, int *found, td_error *err)
{
    load_copy_args la = {r, 0};
    td_status st = td_store_read(rm->svc->store, load_copy_body, &la, err);
    *found = la.found;
    return st;
}

static td_status delete_one(td_review_media *rm, int64_t ref, int64_t outcome,
                            int64_t delete_after_ms, td_error *err)
{
    copy_row *r = td__calloc(1, sizeof *r);
    if (!r)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    r->ref = ref;
    int found = 0;
    td_status st = load_copy(rm, r, &found, err);
    if (st == TD_OK && found) {
        release_args a = {rm, r, TD_REVIEW_MEDIA_DELETED, delete_after_ms, outcome, NULL, 0};
        st = td_store_write(rm->svc->store, release_body, &a, err);
        if (st == TD_OK && a.done) {
            remove_files(rm, r);
            atomic_fetch_add(&rm->deleted, 1);
        }
    }
    sodium_memzero(r, sizeof *r);
    td__free(r);
    return st;
}

/* ---- sealing ---- */

typedef struct claim_args {
    td_review_media *rm;
    int64_t ref;
    int release; /* give the claim back (a failed attempt) */
    int claimed;
} claim_args;

static td_status claim_body(td_store_conn *c, void *ctx, td_error *err)
{
    claim_args *a = ctx;
    td_stmt *q;
    int64_t changed = 0, now = td__now(a->rm->svc);
    td_status st;
    if (a->release)
        st = td_store_prepare(c,
                              "UPDATE review_media SET state = $2, claim_ms = 0 WHERE"
                              " content_ref = $1 AND state = $3 AND $4 >= 0",
                              &q, err);
    else
        st = td_store_prepare(c,
                              "UPDATE review_media SET state = $3, claim_ms = $4 WHERE"
                              " content_ref = $1 AND (state = $2 OR (state = $3 AND claim_ms <= "
                              "$4 - 600000))",
                              &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, a->ref, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_REVIEW_MEDIA_KEPT, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD_REVIEW_MEDIA_SEALING, err)) ||
        (st = td_stmt_bind_int64(q, 4, now, err)) || (st = td_stmt_run(q, &changed, err)))
        return st;
    a->claimed = changed > 0;
    return TD_OK;
}

typedef struct item_args {
    int64_t ref, item;
    int part;
} item_args;

static td_status item_body(td_store_conn *c, void *ctx, td_error *err)
{
    item_args *a = ctx;
    td_stmt *q;
    td_status st;
    if ((st = td_store_prepare(c,
                               "UPDATE review_media_parts SET evidence_item = $3 WHERE"
                               " content_ref = $1 AND part = $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->ref, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->part, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->item, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

static td_status seal_part(td_review_media *rm, copy_row *r, td_review_media_item *it,
                           const uint8_t *key, const char *case_ref, int64_t removal_ms,
                           td_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    td_status st = td__rm_open_file(rm, r->ref, r->tag, it->part, key, &data, &len, err);
    if (st)
        return st;
    char label[TD_EVIDENCE_REF_MAX + 1];
    int n = snprintf(label, sizeof label, "%s part %d", r->content_id, it->part);
    if (n < 0 || (size_t)n >= sizeof label)
        snprintf(label, sizeof label, "review media part %d", it->part);
    json_t *rel =
        json_pack("{s:s, s:i, s:s, s:I, s:s, s:I}", "content_id", r->content_id, "part", it->part,
                  "content_type", it->content_type, "bytes", (json_int_t)it->bytes, "sha256",
                  it->sha256, "case", (json_int_t)r->case_id);
    char *related = rel ? json_dumps(rel, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(rel);
    if (!related) {
        td_review_media_free(data, len);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    int64_t item = 0;
    st = td_evidence_seal(rm->opts.evidence, "system", case_ref, label, data, len, related,
                          removal_ms, &item, err);
    free(related); /* jansson's */
    td_review_media_free(data, len);
    if (st)
        return st;
    it->evidence_item = item;
    item_args ia = {r->ref, item, it->part};
    return td_store_write(rm->svc->store, item_body, &ia, err);
}

static td_status preserve_one(td_review_media *rm, int64_t ref, int64_t removal_ms, td_error *err)
{
    td_evidence_status es;
    td_status st;
    if ((st = td_evidence_get_status(rm->opts.evidence, &es, err)))
        return st;
    if (!es.has_master)
        return TD_OK; /* the copy waits for the master key; a later tick seals it */
    claim_args cl = {rm, ref, 0, 0};
    if ((st = td_store_write(rm->svc->store, claim_body, &cl, err)) || !cl.claimed)
        return st;
    copy_row *r = td__calloc(1, sizeof *r);
    uint8_t *key = sodium_malloc(TD__RM_KEY_LEN);
    char case_ref[64];
    snprintf(case_ref, sizeof case_ref, "review-%lld", (long long)ref);
    int found = 0;
    if (!r || !key) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    r->ref = ref;
    if ((st = load_copy(rm, r, &found, err)))
        goto out;
    if (!found) {
        st = td__error_set(err, TD_ERR_NOT_FOUND, "review media: copy %lld gone", (long long)ref);
        goto out;
    }
    if ((st = td__rm_unwrap(rm, ref, r->wrapped, r->wrapped_len, key, err)))
        goto out;
    for (size_t i = 0; st == TD_OK && i < r->n; i++)
        if (r->items[i].kept && !r->items[i].evidence_item)
            st = seal_part(rm, r, &r->items[i], key, case_ref, removal_ms, err);
    if (st == TD_OK) {
        release_args a = {rm, r, TD_REVIEW_MEDIA_PRESERVED, 0, TD_DECISION_REMOVE, case_ref, 0};
        st = td_store_write(rm->svc->store, release_body, &a, err);
        if (st == TD_OK && a.done) {
            remove_files(rm, r);
            atomic_fetch_add(&rm->preserved, 1);
        }
    }
out:
    if (st) {
        /* give the claim back: the next tick tries again at once rather than after CLAIM_MS */
        td_error ignored;
        claim_args back = {rm, ref, 1, 0};
        td_status bst = td_store_write(rm->svc->store, claim_body, &back, &ignored);
        (void)bst;
    }
    if (r)
        sodium_memzero(r, sizeof *r);
    td__free(r);
    sodium_free(key);
    return st;
}

/* ---- the tick ---- */

typedef struct closed_row {
    int64_t ref, outcome, closed_ms;
} closed_row;

static void closed_item(td_stmt *q, void *item)
{
    closed_row *r = item;
    r->ref = td_stmt_column_int64(q, 0);
    r->outcome = td_stmt_column_int64(q, 1);
    r->closed_ms = td_stmt_column_int64(q, 2);
}

td_status td__rm_tick(td_review_media *rm, td_error *err)
{
    closed_row *rows = NULL;
    size_t n = 0;
    int64_t now = td__now(rm->svc);
    /* Only what is due: removals when they can be sealed (the evidence master key exists),
     * everything else once its grace has passed; so copies that wait never fill the batch. */
    int sealing = 0;
    if (rm->opts.evidence) {
        td_evidence_status es;
        td_status est = td_evidence_get_status(rm->opts.evidence, &es, err);
        if (est)
            return est;
        sealing = es.has_master;
    }
    int64_t binds[8] = {TD_CASE_CLOSED, TD_REVIEW_MEDIA_KEPT,   TD_REVIEW_MEDIA_SEALING,
                        now - CLAIM_MS, TD_DECISION_REMOVE,     rm->opts.evidence ? 1 : 0,
                        sealing,        now - rm->opts.grace_ms};
    pthread_mutex_lock(&rm->tick_lock);
    td_status st = td_store_read_rows(
        rm->svc->store,
        "SELECT m.content_ref, k.outcome, k.closed_ms FROM review_media m JOIN cases k ON"
        " k.id = m.case_id WHERE k.state = $1 AND (m.state = $2 OR (m.state = $3 AND"
        " m.claim_ms <= $4)) AND ((k.outcome = $5 AND $6 = 1 AND $7 = 1) OR"
        " ((k.outcome <> $5 OR $6 = 0) AND k.closed_ms <= $8)) ORDER BY m.content_ref"
        " LIMIT " TD__RM_STR(TICK_BATCH),
        binds, 8, TICK_BATCH, sizeof *rows, closed_item, (void **)&rows, &n, err);
    td_status first_failure = TD_OK;
    td_error ignored;
    memset(&ignored, 0, sizeof ignored);
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        td_status one = TD_OK;
        /* One copy's failure (its evidence, a full disk) does not hold the others back; the
         * first failure is what the tick answers. */
        td_error *e = first_failure ? &ignored : err;
        if (rows[i].outcome == TD_DECISION_REMOVE && rm->opts.evidence)
            one = preserve_one(rm, rows[i].ref, rows[i].closed_ms, e);
        else if (rows[i].closed_ms + rm->opts.grace_ms <= now)
            one = delete_one(rm, rows[i].ref, rows[i].outcome,
                             rows[i].closed_ms + rm->opts.grace_ms, e);
        if (one && !first_failure)
            first_failure = one;
    }
    pthread_mutex_unlock(&rm->tick_lock);
    td_free(rows);
    return st ? st : first_failure;
}
