/* The removed media of an order's targets, uploaded by the platform and sealed as evidence.
 *
 * Why a separate upload: takedown hashes uploads and does not keep them, so the sealed content
 * record of a removal (orders_exec.c) holds ids, URL, hashes and metadata but not the content
 * itself, which Art. 6 TCO asks to preserve. The platform sends the bytes, before or after its
 * confirmation; they are checked against what takedown knows of the located content (its
 * SHA-256, else its MD5), so that the evidence is the content that was ordered removed and not
 * whatever was sent, then sealed into the order's case under the case key, next to the content
 * record: the same custodians release it, the same purge destroys it.
 *
 * Order of effects: the evidence store seals and commits the file with its own audit entry
 * (evidence.seal), then one transaction here records the item on the target with
 * order.media_preserved. A failure between the two leaves an item nobody points to (never the
 * reverse); a lock per handle keeps two uploads for one target from both sealing. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "orders/orders_int.h"

/* What the upload is checked against, read before sealing. */
typedef struct media_target {
    td_order_kind kind;
    td_order_state state;
    char reference[TD_ORDER_REF_MAX + 1];
    char authority[TD_NAME_MAX + 1];
    int64_t received_ms, confirmed_ms;
    int found, located, removed;
    char content_id[TD_CONTENT_ID_MAX + 1];
    char url[TD_CASE_URL_MAX + 1];
    int64_t media_item, media_bytes, media_ms;
    char media_sha256[65];
    char sha256[65], md5[33]; /* the located content's, "" when unknown */
    char uploader[TD_UPLOADER_MAX + 1];
} media_target;

static td_status load_target(td_orders *o, int64_t id, size_t idx, media_target *t, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    memset(t, 0, sizeof *t);
    td_status st = td_store_acquire(o->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT o.kind, o.state, o.reference, a.name, o.received_ms,"
                               " o.confirmed_ms FROM orders o JOIN order_authorities a"
                               " ON a.id = o.authority_id WHERE o.id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        goto out;
    if (!row) {
        td_stmt_reset(q);
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no order %lld", (long long)id);
        goto out;
    }
    t->kind = (td_order_kind)td_stmt_column_int64(q, 0);
    t->state = (td_order_state)td_stmt_column_int64(q, 1);
    td__copy_trunc(t->reference, sizeof t->reference, td_stmt_column_text(q, 2));
    td__copy_trunc(t->authority, sizeof t->authority, td_stmt_column_text(q, 3));
    t->received_ms = td_stmt_column_int64(q, 4);
    t->confirmed_ms = td_stmt_column_int64(q, 5);
    td_stmt_reset(q);
    if ((st = td_store_prepare(c,
                               "SELECT content_id, url, located, removed, media_item, media_sha256,"
                               " media_bytes, media_ms FROM order_targets"
                               " WHERE order_id = $1 AND idx = $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_int64(q, 2, (int64_t)idx, err)) || (st = td_stmt_step(q, &row, err)))
        goto out;
    if (row) {
        t->found = 1;
        td__copy_trunc(t->content_id, sizeof t->content_id, td_stmt_column_text(q, 0));
        td__copy_trunc(t->url, sizeof t->url, td_stmt_column_text(q, 1));
        t->located = (int)td_stmt_column_int64(q, 2);
        t->removed = (int)td_stmt_column_int64(q, 3);
        t->media_item = td_stmt_column_int64(q, 4);
        td__copy_trunc(t->media_sha256, sizeof t->media_sha256, td_stmt_column_text(q, 5));
        t->media_bytes = td_stmt_column_int64(q, 6);
        t->media_ms = td_stmt_column_int64(q, 7);
    }
    td_stmt_reset(q);
    if (!t->found || !t->located)
        goto out;
    if ((st = td_store_prepare(c,
                               "SELECT sha256, md5, url, uploader FROM content"
                               " WHERE content_id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, t->content_id, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        goto out;
    if (row) {
        td__copy_trunc(t->sha256, sizeof t->sha256, td_stmt_column_text(q, 0));
        td__copy_trunc(t->md5, sizeof t->md5, td_stmt_column_text(q, 1));
        if (!t->url[0])
            td__copy_trunc(t->url, sizeof t->url, td_stmt_column_text(q, 2));
        td__copy_trunc(t->uploader, sizeof t->uploader, td_stmt_column_text(q, 3));
    }
    td_stmt_reset(q);
out:
    td_store_release(o->svc->store, c);
    return st;
}

typedef struct record_args {
    int64_t id;
    size_t idx;
    const char *actor;
    const td_order_media *m;
    const char *media_type;
} record_args;

static td_status record_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    record_args *a = ctx;
    td_stmt *q;
    int64_t changes = 0;
    td_status st;
    if ((st = td_store_prepare(c,
                               "UPDATE order_targets SET media_item = $3, media_sha256 = $4,"
                               " media_bytes = $5, media_ms = $6"
                               " WHERE order_id = $1 AND idx = $2 AND media_item = 0",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, (int64_t)a->idx, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->m->evidence_item, err)) ||
        (st = td_stmt_bind_text(q, 4, a->m->sha256, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, a->m->bytes, err)) ||
        (st = td_stmt_bind_int64(q, 6, a->m->preserved_ms, err)) ||
        (st = td_stmt_run(q, &changes, err)))
        return st;
    if (changes == 0)
        return td__error_set(err, TD_ERR_CONFLICT, "order %lld: target %zu was preserved meanwhile",
                             (long long)a->id, a->idx);
    char obj[48], ref[48];
    snprintf(obj, sizeof obj, "order:%lld", (long long)a->id);
    td__order_case_ref(ref, sizeof ref, a->id);
    return td__orders_audit(o, c, a->actor, "order.media_preserved", obj,
                            json_pack("{s:I, s:s, s:s, s:I, s:s, s:I, s:s, s:s}", "target",
                                      (json_int_t)a->idx, "content_id", a->m->content_id, "case",
                                      ref, "item", (json_int_t)a->m->evidence_item, "sha256",
                                      a->m->sha256, "bytes", (json_int_t)a->m->bytes, "verified",
                                      a->m->verified, "content_type", a->media_type),
                            err);
}

/* The related data sealed with the bytes: what they are, where they were removed, who sent
 * them, what they were checked against. jansson's memory (free()). */
static char *related_json(const media_target *t, const td_order_media *m, int64_t id,
                          const char *media_type, const char *actor)
{
    json_t *rel =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I,"
                  " s:{s:I, s:s, s:s, s:I, s:I}}",
                  "kind", "media", "content_id", t->content_id, "url", t->url, "uploader",
                  t->uploader, "target", (json_int_t)m->target, "sha256", m->sha256,
                  "content_sha256", t->sha256, "content_md5", t->md5, "verified", m->verified,
                  "bytes", (json_int_t)m->bytes, "content_type", media_type, "uploaded_by", actor,
                  "uploaded_ms", (json_int_t)m->preserved_ms, "order", "id", (json_int_t)id,
                  "reference", t->reference, "authority", t->authority, "received_ms",
                  (json_int_t)t->received_ms, "measure_ms", (json_int_t)t->confirmed_ms);
    char *text = rel ? json_dumps(rel, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(rel);
    return text;
}

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* Checks and seals, under the handle's media lock. */
static td_status preserve_locked(td_orders *o, int64_t id, size_t idx, const uint8_t *data,
                                 size_t len, const char *media_type, const char *actor,
                                 td_order_media *out, media_target *t, td_error *err)
{
    td_status st = load_target(o, id, idx, t, err);
    if (st)
        return st;
    if (t->kind != TD_ORDER_REMOVAL)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "referral %lld: referrals are decided on the platform's terms and "
                             "their content is not preserved",
                             (long long)id);
    if (t->state == TD_ORDER_REINSTATED)
        return td__error_set(err, TD_ERR_CONFLICT, "order %lld is reinstated", (long long)id);
    if (!t->found)
        return td__error_set(err, TD_ERR_NOT_FOUND, "order %lld has no target %zu", (long long)id,
                             idx);
    if (!t->located)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "order %lld: target %zu is not located yet (locate it first)",
                             (long long)id, idx);
    td__copy_trunc(out->content_id, sizeof out->content_id, t->content_id);
    td__copy_trunc(out->expected_sha256, sizeof out->expected_sha256, t->sha256);
    td__copy_trunc(out->expected_md5, sizeof out->expected_md5, t->md5);
    const char *md5 = out->md5;
    if ((st = td_sha256_hex(data, len, out->sha256)) || (st = td_md5_hex(data, len, out->md5)))
        return td__error_set(err, st, "media: hashing failed");
    /* The content itself: compared with the strongest hash takedown has of it. */
    if (t->sha256[0]) {
        out->verified = "sha256";
        if (strcasecmp(t->sha256, out->sha256) != 0)
            out->mismatch = 1;
    } else if (t->md5[0]) {
        out->verified = "md5";
        if (strcasecmp(t->md5, md5) != 0)
            out->mismatch = 1;
    }
    if (out->mismatch)
        return td__error_set(err, TD_ERR_INVALID,
                             "media: the bytes are not content %s: their %s is %s, the content's "
                             "is %s",
                             t->content_id, out->verified,
                             out->verified[0] == 's' ? out->sha256 : md5,
                             out->verified[0] == 's' ? t->sha256 : t->md5);
    if (t->media_item) {
        if (strcasecmp(t->media_sha256, out->sha256) != 0)
            return td__error_set(err, TD_ERR_CONFLICT,
                                 "order %lld: target %zu was preserved already with other bytes "
                                 "(sha256 %s)",
                                 (long long)id, idx, t->media_sha256);
        /* Said kept only while it is: after the purge the bytes are gone for good. */
        char ref[48];
        td_evidence_case_info info;
        td__order_case_ref(ref, sizeof ref, id);
        if ((st = td_evidence_case(o->evidence, ref, &info, err)))
            return st;
        if (info.purged_ms)
            return td__error_set(err, TD_ERR_CONFLICT,
                                 "order %lld: its evidence was purged at the end of retention",
                                 (long long)id);
        out->duplicate = 1;
        out->evidence_item = t->media_item;
        out->preserved_ms = t->media_ms;
        return TD_OK;
    }
    td_evidence_status es;
    if ((st = td_evidence_get_status(o->evidence, &es, err)))
        return st;
    if (!es.has_master)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "no evidence master key yet (takedown evidence init): nothing can "
                             "be sealed; upload again once the custodians created it");
    out->preserved_ms = td__now(o->svc);
    char *rel = related_json(t, out, id, media_type, actor);
    if (!rel)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    char ref[48], label[TD_EVIDENCE_REF_MAX + 1];
    td__order_case_ref(ref, sizeof ref, id);
    size_t id_len = strlen(t->content_id);
    if (id_len + 6 <= TD_EVIDENCE_REF_MAX) {
        memcpy(label, "media:", 6);
        memcpy(label + 6, t->content_id, id_len + 1);
    } else
        snprintf(label, sizeof label, "media:target-%zu", idx);
    /* Retained from the removal: the platform's time of the measure, or now when the bytes come
     * first (the content record sealed at the confirmation then extends the case). */
    int64_t removal_ms = t->confirmed_ms ? t->confirmed_ms : out->preserved_ms;
    st = td_evidence_seal(o->evidence, actor, ref, label, data, len, rel, removal_ms,
                          &out->evidence_item, err);
    free(rel); /* jansson's */
    if (st)
        return st;
    record_args a = {id, idx, actor, out, media_type};
    return td__orders_tx(o, record_body, &a, err);
}

td_status td_order_preserve_media(td_orders *o, int64_t id, size_t target, const uint8_t *data,
                                  size_t len, const char *media_type, const char *actor,
                                  td_order_media *out, td_error *err)
{
    memset(out, 0, sizeof *out);
    out->order_id = id;
    out->target = target;
    out->verified = "none";
    out->bytes = (int64_t)len;
    if (!actor || !*actor)
        actor = "system";
    if (!media_type)
        media_type = "";
    if (!data || len == 0)
        return td__error_set(err, TD_ERR_INVALID, "media: no bytes");
    if (target >= TD_ORDER_MAX_TARGETS)
        return td__error_set(err, TD_ERR_NOT_FOUND, "order %lld has no target %zu", (long long)id,
                             target);
    if (strnlen(media_type, TD_ORDER_MEDIA_TYPE_MAX + 1) > TD_ORDER_MEDIA_TYPE_MAX ||
        !printable(media_type))
        return td__error_set(err, TD_ERR_INVALID, "media type: printable, at most %d bytes",
                             TD_ORDER_MEDIA_TYPE_MAX);
    media_target *t = td__malloc(sizeof *t);
    if (!t)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&o->media_lock);
    td_status st = preserve_locked(o, id, target, data, len, media_type, actor, out, t, err);
    pthread_mutex_unlock(&o->media_lock);
    td__free(t);
    return st;
}
