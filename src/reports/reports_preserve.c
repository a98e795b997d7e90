/* What a closed case means for its reports. Decided "remove": the report is preserved like
 * removed content (sealed into the evidence case "report-<id>", retention from the decision, k of
 * n custodians to open it), then its review copy is deleted; decided "keep": the review copy is
 * deleted. Done by td_reports_tick as a catch-up over stored state (closed cases of reports not
 * handled yet), so a crash between the decision and the sealing loses nothing: the next tick
 * finds the report again.
 *
 * Sealing commits per item (td_evidence_seal), so each sealed part is recorded at once
 * (report_items) and a retry seals only what is missing; a crash between an item's seal and its
 * record leaves one item no record names (kept and destroyed with the case, never delivered).
 * Nodes sharing a store claim a report before sealing it (state sealing, with the time): a claim
 * older than CLAIM_MS is taken over (its node died). The record sealed first holds everything
 * needed to verify the report again offline with the key's public half: the text, the
 * attachments' references, the salt, the context, the frank and the signature.
 *
 * An evidence order naming a preserved report (its content id, or its sender's account) gets its
 * sealed items through td_reports_eorder_provider, which the evidence orders component calls
 * (registered by the server): the items are linked to the order's case, not copied, so the
 * report stays one sealed record with one retention. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "reports/reports_int.h"

#define CLAIM_MS ((int64_t)600000)
#define TICK_BATCH 100

static void sha256_hex(const void *data, size_t len, char out[65])
{
    static const uint8_t none[1];
    uint8_t d[32];
    crypto_hash_sha256(d, len ? data : none, len);
    td__hex_encode(d, sizeof d, out);
}

static json_t *hex_json(const void *data, size_t len)
{
    char buf[2 * 64 + 1];
    if (len > 64)
        return NULL;
    td__hex_encode(data, len, buf);
    return json_string(buf);
}

/* ---- the review copy let go ---- */

typedef struct release_args {
    int64_t id;
    int state; /* TD__REPORT_KEPT, _REMOVED or _PRESERVED */
    int64_t evidence_item;
    json_t *items; /* preserved: the sealed items (stolen) */
    int done;
} release_args;

static td_status release_body(td_reports *rep, td_store_conn *c, void *ctx, td_error *err)
{
    release_args *a = ctx;
    td_stmt *q;
    int64_t changed = 0, now = td__now(rep->svc);
    td_status st;
    if ((st = td_store_prepare(c,
                               "UPDATE reports SET state = $2, review_copy = 0, handled_ms = $3,"
                               " evidence_item = $4 WHERE id = $1 AND state IN ($5, $6)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->state, err)) ||
        (st = td_stmt_bind_int64(q, 3, now, err)) ||
        (st = td_stmt_bind_int64(q, 4, a->evidence_item, err)) ||
        (st = td_stmt_bind_int64(q, 5, TD__REPORT_OPEN, err)) ||
        (st = td_stmt_bind_int64(q, 6, TD__REPORT_SEALING, err)) ||
        (st = td_stmt_run(q, &changed, err)))
        return st;
    if (!changed)
        return TD_OK; /* handled by another node */
    if ((st = td__reports_shred(rep, c, 1, err)))
        return st;
    if ((st = td_store_prepare(c, "DELETE FROM report_copies WHERE report_id = $1", &q, err)) ==
            TD_OK &&
        (st = td_stmt_bind_int64(q, 1, a->id, err)) == TD_OK)
        st = td_stmt_run(q, NULL, err);
    td_status off = td__reports_shred(rep, c, 0, st ? NULL : err);
    if (st || (st = off))
        return st;
    char object[48];
    snprintf(object, sizeof object, "report:%lld", (long long)a->id);
    if (a->state == TD__REPORT_PRESERVED) {
        char ref[48];
        td__report_case_ref(ref, sizeof ref, a->id);
        json_t *d = json_pack("{s:I, s:s, s:O}", "report", (json_int_t)a->id, "evidence_case", ref,
                              "items", a->items);
        if ((st = td__reports_audit(rep, c, "system", "report.preserved", object, d, err)))
            return st;
    }
    a->done = 1;
    return td__reports_audit(rep, c, "system", "report.copy_deleted", object,
                             json_pack("{s:I, s:s}", "report", (json_int_t)a->id, "outcome",
                                       a->state == TD__REPORT_KEPT ? "keep" : "remove"),
                             err);
}

/* ---- sealing ---- */

typedef struct claim_args {
    int64_t id;
    int claimed;
    int release; /* give the claim back (a failed attempt) */
} claim_args;

static td_status claim_body(td_reports *rep, td_store_conn *c, void *ctx, td_error *err)
{
    claim_args *a = ctx;
    td_stmt *q;
    int64_t changed = 0, now = td__now(rep->svc);
    td_status st;
    if (a->release)
        st = td_store_prepare(c,
                              "UPDATE reports SET state = $2, claim_ms = 0 WHERE id = $1"
                              " AND state = $3",
                              &q, err);
    else
        st = td_store_prepare(c,
                              "UPDATE reports SET state = $3, claim_ms = $4 WHERE id = $1"
                              " AND (state = $2 OR (state = $3 AND claim_ms <= $5))",
                              &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD__REPORT_OPEN, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD__REPORT_SEALING, err)))
        return st;
    if (!a->release && ((st = td_stmt_bind_int64(q, 4, now, err)) ||
                        (st = td_stmt_bind_int64(q, 5, now - CLAIM_MS, err))))
        return st;
    if ((st = td_stmt_run(q, &changed, err)))
        return st;
    a->claimed = changed > 0;
    return TD_OK;
}

/* The report as it is sealed (the record, part 0). */
typedef struct report_row {
    int64_t id, case_id, accepted_ms, received_ms;
    uint32_t key_id;
    char content_id[TD_CONTENT_ID_MAX + 1];
    char sender[TD_FRANK_ID_MAX + 1], conversation[TD_FRANK_ID_MAX + 1];
    uint8_t frank[TD_FRANK_LEN], signature[TD_FRANK_SIG_LEN], salt[TD_FRANK_SALT_LEN];
    size_t n_attachments;
    td_frank_attachment_ref refs[TD_FRANK_ATTACH_MAX];
} report_row;

static td_status load_row(td_store_conn *c, int64_t id, report_row *r, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    memset(r, 0, sizeof *r);
    if ((st = td_store_prepare(c,
                               "SELECT content_id, case_id, key_id, frank, signature, salt,"
                               " sender, conversation, accepted_ms, attachments, refs,"
                               " received_ms FROM reports WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no report %lld", (long long)id);
    r->id = id;
    td__copy_trunc(r->content_id, sizeof r->content_id, td_stmt_column_text(q, 0));
    r->case_id = td_stmt_column_int64(q, 1);
    r->key_id = (uint32_t)td_stmt_column_int64(q, 2);
    r->n_attachments = (size_t)td_stmt_column_int64(q, 9);
    int ok = td_stmt_column_bytes(q, 3) == TD_FRANK_LEN &&
             td_stmt_column_bytes(q, 4) == TD_FRANK_SIG_LEN &&
             td_stmt_column_bytes(q, 5) == TD_FRANK_SALT_LEN &&
             r->n_attachments <= TD_FRANK_ATTACH_MAX &&
             td_stmt_column_bytes(q, 10) == r->n_attachments * sizeof r->refs[0];
    if (ok) {
        memcpy(r->frank, td_stmt_column_blob(q, 3), TD_FRANK_LEN);
        memcpy(r->signature, td_stmt_column_blob(q, 4), TD_FRANK_SIG_LEN);
        memcpy(r->salt, td_stmt_column_blob(q, 5), TD_FRANK_SALT_LEN);
        if (r->n_attachments)
            memcpy(r->refs, td_stmt_column_blob(q, 10), r->n_attachments * sizeof r->refs[0]);
    }
    td__copy_trunc(r->sender, sizeof r->sender, td_stmt_column_text(q, 6));
    td__copy_trunc(r->conversation, sizeof r->conversation, td_stmt_column_text(q, 7));
    r->accepted_ms = td_stmt_column_int64(q, 8);
    r->received_ms = td_stmt_column_int64(q, 11);
    td_stmt_reset(q);
    return ok ? TD_OK
              : td__error_set(err, TD_ERR_CORRUPT, "report %lld: stored row malformed",
                              (long long)id);
}

/* Part `part` of the review copy (*data freed with td_free; NULL when gone). */
static td_status load_copy(td_store_conn *c, int64_t id, int part, uint8_t **data, size_t *len,
                           td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    *data = NULL;
    *len = 0;
    if ((st = td_store_prepare(
             c, "SELECT data FROM report_copies WHERE report_id = $1 AND part = $2", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_bind_int64(q, 2, part, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        size_t n = td_stmt_column_bytes(q, 0);
        *data = td__malloc(n + 1);
        if (*data) {
            if (n)
                memcpy(*data, td_stmt_column_blob(q, 0), n);
            (*data)[n] = 0;
            *len = n;
        }
    }
    td_stmt_reset(q);
    if (row && !*data)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    return TD_OK;
}

/* The reporters, oldest first, as JSON (new reference). */
static td_status load_reporters(td_store_conn *c, int64_t id, json_t **out, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    json_t *list = json_array();
    *out = NULL;
    if (!list)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if ((st = td_store_prepare(c,
                               "SELECT reporter, reason, reported_ms, platform_key"
                               " FROM report_reporters WHERE report_id = $1"
                               " ORDER BY reported_ms, reporter",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err))) {
        json_decref(list);
        return st;
    }
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row)
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:I}", "reporter", td_stmt_column_text(q, 0), "reason",
                            td_stmt_column_text(q, 1), "reported_ms",
                            (json_int_t)td_stmt_column_int64(q, 2), "platform_key",
                            (json_int_t)td_stmt_column_int64(q, 3)));
    td_stmt_reset(q);
    if (st) {
        json_decref(list);
        return st;
    }
    *out = list;
    return TD_OK;
}

/* Parts of report id sealed already: bit p set for part p. */
static td_status sealed_parts(td_store_conn *c, int64_t id, uint32_t *mask, int64_t *first_item,
                              json_t *items, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    *mask = 0;
    *first_item = 0;
    if ((st = td_store_prepare(c,
                               "SELECT part, evidence_item, bytes, sha256 FROM report_items"
                               " WHERE report_id = $1 ORDER BY part",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        int64_t part = td_stmt_column_int64(q, 0);
        if (part >= 0 && part <= TD_FRANK_ATTACH_MAX)
            *mask |= 1u << part;
        if (part == 0)
            *first_item = td_stmt_column_int64(q, 1);
        json_array_append_new(items, json_pack("{s:I, s:I, s:I, s:s}", "part", (json_int_t)part,
                                               "item", (json_int_t)td_stmt_column_int64(q, 1),
                                               "bytes", (json_int_t)td_stmt_column_int64(q, 2),
                                               "sha256", td_stmt_column_text(q, 3)));
    }
    td_stmt_reset(q);
    return st;
}

typedef struct item_args {
    int64_t id;
    int part;
    int64_t item, bytes;
    const char *sha256, *related_sha256;
} item_args;

static td_status item_body(td_reports *rep, td_store_conn *c, void *ctx, td_error *err)
{
    item_args *a = ctx;
    td_stmt *q;
    td_status st;
    if ((st = td_store_prepare(c,
                               "INSERT INTO report_items (report_id, part, evidence_item, bytes,"
                               " sha256, related_sha256, sealed_ms) VALUES ($1, $2, $3, $4, $5,"
                               " $6, $7)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->part, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->item, err)) ||
        (st = td_stmt_bind_int64(q, 4, a->bytes, err)) ||
        (st = td_stmt_bind_text(q, 5, a->sha256, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 6, a->related_sha256, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 7, td__now(rep->svc), err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

/* Seals one part and records it. */
static td_status seal_part(td_reports *rep, const report_row *r, int part, const uint8_t *data,
                           size_t len, json_t *related, int64_t removal_ms, int64_t *item,
                           td_error *err)
{
    char ref[48], label[80], sha[65], rsha[65];
    char *rel = related ? json_dumps(related, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(related);
    if (!rel)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td__report_case_ref(ref, sizeof ref, r->id);
    if (part == 0)
        snprintf(label, sizeof label, "%s:record", ref);
    else
        snprintf(label, sizeof label, "%s:attachment:%d", ref, part - 1);
    sha256_hex(data, len, sha);
    sha256_hex(rel, strlen(rel), rsha);
    td_status st = td_evidence_seal(rep->opts.evidence, "system", ref, label, data, len, rel,
                                    removal_ms, item, err);
    free(rel); /* jansson's */
    if (st)
        return st;
    item_args a = {r->id, part, *item, (int64_t)len, sha, rsha};
    return td__reports_tx(rep, item_body, &a, err);
}

static json_t *record_json(td_reports *rep, const report_row *r, const uint8_t *text,
                           size_t text_len, json_t *reporters, int64_t decided_ms)
{
    td__report_key_pub kp;
    int found = 0;
    td_frank_key k;
    json_t *atts = json_array();
    for (size_t j = 0; atts && j < r->n_attachments; j++)
        json_array_append_new(
            atts, json_pack("{s:o, s:o}", "blob_sha256", hex_json(r->refs[j].blob_sha256, 32),
                            "key_commitment", hex_json(r->refs[j].key_commitment, 32)));
    td__reports_key_pub(rep, r->key_id, &kp, &found);
    json_t *pub = json_null();
    if (found && td_frank_keyring_get(rep->ring, r->key_id, &k, NULL) == TD_OK) {
        json_decref(pub);
        pub = hex_json(k.sign_public, TD_FRANK_PUBKEY_LEN);
        td_frank_key_wipe(&k);
    }
    return json_pack(
        "{s:s, s:I, s:s, s:I, s:s%, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o,"
        " s:o, s:I, s:I}",
        "kind", "e2ee_report", "report", (json_int_t)r->id, "content_id", r->content_id, "case",
        (json_int_t)r->case_id, "text", (const char *)text, text_len, "sender", r->sender,
        "conversation", r->conversation, "accepted_ms", (json_int_t)r->accepted_ms, "key_id",
        (json_int_t)r->key_id, "frank", hex_json(r->frank, TD_FRANK_LEN), "signature",
        hex_json(r->signature, TD_FRANK_SIG_LEN), "salt", hex_json(r->salt, TD_FRANK_SALT_LEN),
        "public_key", pub, "attachments", atts, "reporters", reporters, "received_ms",
        (json_int_t)r->received_ms, "decided_ms", (json_int_t)decided_ms);
}

static td_status preserve_one(td_reports *rep, int64_t id, int64_t decided_ms, td_error *err)
{
    td_evidence_status es;
    td_status st;
    if ((st = td_evidence_get_status(rep->opts.evidence, &es, err)))
        return st;
    if (!es.has_master)
        return TD_OK; /* nothing can be sealed before the custodians made the master key: the
                         review copy waits, and a later tick seals it */
    claim_args cl = {id, 0, 0};
    if ((st = td__reports_tx(rep, claim_body, &cl, err)) || !cl.claimed)
        return st;
    report_row *r = td__calloc(1, sizeof *r);
    json_t *items = json_array(), *reporters = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    uint32_t done = 0;
    int64_t first = 0;
    td_store_conn *c = NULL;
    if (!r || !items) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = td_store_acquire(rep->svc->store, 0, &c, err)) || (st = load_row(c, id, r, err)) ||
        (st = load_reporters(c, id, &reporters, err)) ||
        (st = sealed_parts(c, id, &done, &first, items, err)))
        goto out;
    for (int part = 0; st == TD_OK && part <= (int)r->n_attachments; part++) {
        if (done & (1u << part))
            continue;
        if ((st = load_copy(c, id, part, &data, &len, err)))
            break;
        if (!data) {
            st = td__error_set(err, TD_ERR_CORRUPT, "report %lld: review copy of part %d gone",
                               (long long)id, part);
            break;
        }
        json_t *related;
        const uint8_t *content = data;
        size_t content_len = len;
        char *record = NULL;
        if (part == 0) {
            json_t *rec = record_json(rep, r, data, len, json_incref(reporters), decided_ms);
            record = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            json_decref(rec);
            if (!record) {
                st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
                break;
            }
            content = (const uint8_t *)record;
            content_len = strlen(record);
            related = json_pack("{s:I, s:s, s:s, s:I}", "report", (json_int_t)id, "content_id",
                                r->content_id, "part", "record", "accepted_ms",
                                (json_int_t)r->accepted_ms);
        } else {
            const td_frank_attachment_ref *ref = &r->refs[part - 1];
            related = json_pack(
                "{s:I, s:s, s:s, s:I, s:o, s:o, s:I}", "report", (json_int_t)id, "content_id",
                r->content_id, "part", "attachment", "index", (json_int_t)(part - 1), "blob_sha256",
                hex_json(ref->blob_sha256, 32), "key_commitment", hex_json(ref->key_commitment, 32),
                "accepted_ms", (json_int_t)r->accepted_ms);
        }
        int64_t item = 0;
        st = seal_part(rep, r, part, content, content_len, related, decided_ms, &item, err);
        if (st == TD_OK) {
            char sha[65];
            sha256_hex(content, content_len, sha);
            json_array_append_new(items, json_pack("{s:i, s:I, s:I, s:s}", "part", part, "item",
                                                   (json_int_t)item, "bytes",
                                                   (json_int_t)content_len, "sha256", sha));
            if (part == 0)
                first = item;
        }
        if (record) {
            sodium_memzero(record, content_len);
            free(record); /* jansson's */
        }
        sodium_memzero(data, len);
        td__free(data);
        data = NULL;
    }
    td_store_release(rep->svc->store, c);
    c = NULL;
    if (st == TD_OK) {
        release_args ra = {id, TD__REPORT_PRESERVED, first, items, 0};
        st = td__reports_tx(rep, release_body, &ra, err);
    }
out:
    td_store_release(rep->svc->store, c);
    if (st) {
        /* give the claim back: the next tick tries again at once rather than after CLAIM_MS */
        td_error ignored;
        claim_args back = {id, 0, 1};
        td__reports_ignore(td__reports_tx(rep, claim_body, &back, &ignored));
    }
    json_decref(items);
    json_decref(reporters);
    td__free(r);
    return st;
}

/* ---- the tick ---- */

typedef struct closed_row {
    int64_t id, outcome, closed_ms;
} closed_row;

static void closed_item(td_stmt *q, void *item)
{
    closed_row *r = item;
    r->id = td_stmt_column_int64(q, 0);
    r->outcome = td_stmt_column_int64(q, 1);
    r->closed_ms = td_stmt_column_int64(q, 2);
}

td_status td__reports_preserve_tick(td_reports *rep, td_error *err)
{
    closed_row *rows = NULL;
    size_t n = 0;
    int64_t now = td__now(rep->svc);
    int64_t binds[5] = {TD_CASE_CLOSED, TD__REPORT_OPEN, TD__REPORT_SEALING, now - CLAIM_MS,
                        TICK_BATCH};
    pthread_mutex_lock(&rep->preserve_lock);
    td_status st = td_store_read_rows(
        rep->svc->store,
        "SELECT r.id, k.outcome, k.closed_ms FROM reports r JOIN cases k ON k.id = r.case_id"
        " WHERE k.state = $1 AND (r.state = $2 OR (r.state = $3 AND r.claim_ms <= $4))"
        " ORDER BY r.id LIMIT $5",
        binds, 5, TICK_BATCH, sizeof *rows, closed_item, (void **)&rows, &n, err);
    td_status first_failure = TD_OK;
    td_error ignored;
    memset(&ignored, 0, sizeof ignored);
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        td_status one;
        /* One report's failure (its evidence, a full disk) does not hold the others back; the
         * first failure is what the tick answers. */
        td_error *e = first_failure ? &ignored : err;
        if (rows[i].outcome == TD_DECISION_REMOVE && rep->opts.evidence) {
            one = preserve_one(rep, rows[i].id, rows[i].closed_ms, e);
        } else {
            release_args ra = {rows[i].id,
                               rows[i].outcome == TD_DECISION_REMOVE ? TD__REPORT_REMOVED
                                                                     : TD__REPORT_KEPT,
                               0, NULL, 0};
            one = td__reports_tx(rep, release_body, &ra, e);
        }
        if (one && !first_failure)
            first_failure = one;
    }
    pthread_mutex_unlock(&rep->preserve_lock);
    td_free(rows);
    return st ? st : first_failure;
}

/* ---- the evidence orders' provider ---- */

typedef struct item_row {
    int64_t report, accepted_ms, item, bytes;
    int part;
    char sha256[65], related_sha256[65];
} item_row;

static void item_item(td_stmt *q, void *out)
{
    item_row *r = out;
    r->report = td_stmt_column_int64(q, 0);
    r->accepted_ms = td_stmt_column_int64(q, 1);
    r->part = (int)td_stmt_column_int64(q, 2);
    r->item = td_stmt_column_int64(q, 3);
    r->bytes = td_stmt_column_int64(q, 4);
    td__copy_trunc(r->sha256, sizeof r->sha256, td_stmt_column_text(q, 5));
    td__copy_trunc(r->related_sha256, sizeof r->related_sha256, td_stmt_column_text(q, 6));
}

typedef struct provide_args {
    const td_eorder *order;
    td_eorder_linked *items;
    size_t n, cap;
} provide_args;

static td_status provide_body(td_store_conn *c, void *ctx, td_error *err)
{
    provide_args *a = ctx;
    const td_eorder_doc *d = &a->order->doc;
    td_status st = TD_OK;
    for (size_t k = 0; st == TD_OK && k < d->n_identifiers; k++) {
        const td_eorder_identifier *id = &d->identifiers[k];
        const char *sql;
        td_stmt *q;
        int row = 0;
        if (id->type == TD_EORDER_ID_CONTENT_ID)
            sql = "SELECT r.id, r.accepted_ms, i.part, i.evidence_item, i.bytes, i.sha256,"
                  " i.related_sha256 FROM reports r JOIN report_items i ON i.report_id = r.id"
                  " WHERE r.content_id = $1 AND r.state = $2 AND r.accepted_ms >= $3"
                  " AND r.accepted_ms <= $4 ORDER BY r.id, i.part";
        else if (id->type == TD_EORDER_ID_USER_ID || id->type == TD_EORDER_ID_ACCOUNT_NAME)
            sql = "SELECT r.id, r.accepted_ms, i.part, i.evidence_item, i.bytes, i.sha256,"
                  " i.related_sha256 FROM reports r JOIN report_items i ON i.report_id = r.id"
                  " WHERE r.sender = $1 AND r.state = $2 AND r.accepted_ms >= $3"
                  " AND r.accepted_ms <= $4 ORDER BY r.id, i.part";
        else
            continue;
        if ((st = td_store_prepare(c, sql, &q, err)) ||
            (st = td_stmt_bind_text(q, 1, id->value, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, TD__REPORT_PRESERVED, err)) ||
            (st = td_stmt_bind_int64(q, 3, d->from_ms, err)) ||
            (st = td_stmt_bind_int64(q, 4, d->to_ms, err)))
            break;
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row &&
               a->n < TD_EORDER_PUT_MAX_RECORDS) {
            item_row r;
            item_item(q, &r);
            if ((st = td__grow((void **)&a->items, &a->cap, a->n + 1, sizeof *a->items, err)))
                break;
            td_eorder_linked *it = &a->items[a->n++];
            memset(it, 0, sizeof *it);
            it->category = TD_EORDER_CAT_CONTENT;
            td__copy_trunc(it->identifier, sizeof it->identifier, id->value);
            it->at_ms = r.accepted_ms;
            td__report_case_ref(it->case_ref, sizeof it->case_ref, r.report);
            it->item = r.item;
            it->bytes = r.bytes;
            memcpy(it->sha256, r.sha256, sizeof it->sha256);
            memcpy(it->related_sha256, r.related_sha256, sizeof it->related_sha256);
        }
        td_stmt_reset(q);
    }
    return st;
}

td_status td_reports_eorder_provider(void *ctx, const td_eorder *order, td_eorder_linked **items,
                                     size_t *count, td_error *err)
{
    td_reports *rep = ctx;
    *items = NULL;
    *count = 0;
    if (!rep || !order)
        return td__error_set(err, TD_ERR_INVALID, "reports: no handle or order");
    if (!(order->doc.categories & TD_EORDER_CAT_CONTENT))
        return TD_OK;
    provide_args a = {order, NULL, 0, 0};
    td_status st = td_store_read(rep->svc->store, provide_body, &a, err);
    if (st) {
        td__free(a.items);
        return st;
    }
    *items = a.items;
    *count = a.n;
    return TD_OK;
}
