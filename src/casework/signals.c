/* Signals in banks: add (by hash or from media), list, enable/disable, relabel, delete. Each
 * change that affects matching appends a change-log entry in the same transaction, and the
 * indexes follow right after the commit: a new or disabled signal counts by the time the call
 * returns. A new signal is then matched against recently received content (td__recheck).
 * Every change is an audit entry in the same transaction (signal.add, signal.enable,
 * signal.disable, signal.labels, signal.delete). */
#include <jansson.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

void td_signal_input_init(td_signal_input *in)
{
    memset(in, 0, sizeof *in);
    in->type = TD_SIGNAL_PDQ;
    in->quality = -1;
    in->confidence = -1;
}

void td__signal_row(td_stmt *q, td_signal *out)
{
    memset(out, 0, sizeof *out);
    out->id = td_stmt_column_int64(q, 0);
    out->bank_id = td_stmt_column_int64(q, 1);
    td__copy_trunc(out->bank, sizeof out->bank, td_stmt_column_text(q, 2));
    out->type = (td_signal_type)td_stmt_column_int64(q, 3);
    (void)td__value_column_hex(q, 4, out->type, out->value);
    out->quality = (int)td_stmt_column_int64(q, 5);
    td__labels_load(&out->labels, td_stmt_column_text(q, 6));
    td__copy_trunc(out->source, sizeof out->source, td_stmt_column_text(q, 7));
    out->confidence = (int)td_stmt_column_int64(q, 8);
    out->enabled = (int)td_stmt_column_int64(q, 9);
    out->added_ms = td_stmt_column_int64(q, 10);
    out->body_len = (size_t)td_stmt_column_int64(q, 11);
    td__copy_trunc(out->display, sizeof out->display, td_stmt_column_text(q, 12));
    out->indexed = td__signal_indexable(out->type, out->quality, out->enabled);
}

static td_status check_source(const char *source, td_error *err)
{
    size_t n = strnlen(source, TD_SOURCE_MAX + 1);
    if (n == 0 || n > TD_SOURCE_MAX)
        return td__error_set(err, n ? TD_ERR_LIMIT : TD_ERR_INVALID, "source must be 1..%d bytes",
                             TD_SOURCE_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)source[i] < 0x20 || (unsigned char)source[i] > 0x7e)
            return td__error_set(err, TD_ERR_INVALID, "source has a non-printable character");
    return TD_OK;
}

static td_status get_on(td_store_conn *c, int64_t bank_id, int64_t id, td_signal *out,
                        td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(
        c, "SELECT " TD__SIGNAL_COLUMNS TD__SIGNAL_FROM " WHERE s.id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        td__signal_row(q, out);
        td_stmt_reset(q);
    }
    if (!row || (bank_id && out->bank_id != bank_id))
        return td__error_set(err, TD_ERR_NOT_FOUND, "no signal %lld%s", (long long)id,
                             bank_id ? " in this bank" : "");
    return TD_OK;
}

/* Inserts one signal inside the writer's transaction. On a duplicate, *id receives the id
 * of the signal already there and TD_ERR_CONFLICT is returned.
 *
 * Two cheap statements: a plain insert with ON CONFLICT DO NOTHING whose change count tells a
 * duplicate apart, then the id read back by the (bank, type, value) key. INSERT ... RETURNING
 * costs SQLite a temporary b-tree per execution. The id is the column's default (SQLite's rowid,
 * PostgreSQL's identity), as in the bulk import: an id given here (it was MAX(id) + 1) would not
 * advance PostgreSQL's identity, and the next import would collide with it. */
static td_status insert(td_service *svc, td_store_conn *c, int64_t bank_id, td_signal_type type,
                        const char *value, int quality, const char *labels, const char *source,
                        int confidence, int enabled, int64_t now, int64_t *id, td_error *err)
{
    td_stmt *q;
    int row;
    int64_t changes = 0;
    td_status st;
    (void)svc;
    if ((st = td_store_prepare(c,
                               "INSERT INTO signals (bank_id, type, value, quality, labels,"
                               " source, confidence, enabled, added_ms)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                               " ON CONFLICT (bank_id, type, value) DO NOTHING",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, type, err)) ||
        (st = td__value_bind(q, 3, type, value, err)) ||
        (st = td_stmt_bind_int64(q, 4, quality, err)) ||
        (st = td_stmt_bind_text(q, 5, labels, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 6, source, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 7, confidence, err)) ||
        (st = td_stmt_bind_int64(q, 8, enabled, err)) ||
        (st = td_stmt_bind_int64(q, 9, now, err)) || (st = td_stmt_run(q, &changes, err)))
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT id FROM signals WHERE bank_id = $1 AND type = $2"
                               " AND value = $3",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, type, err)) ||
        (st = td__value_bind(q, 3, type, value, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    *id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if (changes) {
        if (!row)
            return td__error_set(err, TD_ERR_INTERNAL, "the signal just added is not found");
        if (td__signal_indexable(type, quality, enabled))
            return td__log_change(c, TD__CHANGE_ADD, bank_id, *id, type, value, now, err);
        return TD_OK;
    }
    return td__error_set(err, TD_ERR_CONFLICT, "the bank already holds this %s signal (id %lld)",
                         td_signal_type_name(type), (long long)*id);
}

/* A body's canonical form and its SHA-256 (the signal's value). */
static td_status body_input(const td_signal_input *in, char value[65], char **body,
                            size_t *body_len, td_error *err)
{
    size_t len = in->body_len ? in->body_len : strnlen(in->value, TD_SIGNAL_BODY_MAX + 1);
    td_status st = td_signal_body_normalize(in->type, in->value, len, body, body_len, err);
    if (st == TD_OK && td_sha256_hex((const uint8_t *)*body, *body_len, value) != TD_OK) {
        st = td__error_set(err, TD_ERR_INTERNAL, "SHA-256 failed");
        td__free(*body);
        *body = NULL;
    }
    return st;
}

static td_status validate_input(const td_signal_input *in, char value[65], td_error *err)
{
    td_status st;
    if (in->type < TD_SIGNAL_PDQ || in->type > TD_SIGNAL_TYPE_MAX)
        return td__error_set(err, TD_ERR_INVALID, "unknown signal type");
    if (in->value && !td_signal_type_has_body(in->type) &&
        (st = td_signal_value_normalize(in->type, in->value, strnlen(in->value, 65), value, err)))
        return st;
    if (in->quality < -1 || in->quality > 100)
        return td__error_set(err, TD_ERR_INVALID, "quality must be 0..100");
    if (in->confidence < -1 || in->confidence > 100)
        return td__error_set(err, TD_ERR_INVALID, "confidence must be 0..100");
    if (in->labels.count < 0 || in->labels.count > TD_LABELS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "more than %d labels", TD_LABELS_MAX);
    if (in->source && (st = check_source(in->source, err)))
        return st;
    return TD_OK;
}

static td_status insert_body(td_store_conn *c, int64_t id, td_signal_type type, const char *body,
                             size_t len, td_error *err)
{
    td_stmt *q;
    char display[TD_SIGNAL_DISPLAY_MAX + 1];
    td__body_display(type, body, len, display);
    td_status st = td_store_prepare(c,
                                    "INSERT INTO signal_bodies (signal_id, body, display)"
                                    " VALUES ($1, $2, $3)",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_blob(q, 2, body, len, err)) ||
        (st = td_stmt_bind_text(q, 3, display, (size_t)-1, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

/* The audit entry of one signal change: the signal's bank, type and value (a body's digest). */
static td_status audit_signal(td_service *svc, td_store_conn *c, const td_principal *who,
                              const char *action, int64_t id, const char *bank, int64_t bank_id,
                              td_signal_type type, const char *value, json_t *extra, td_error *err)
{
    json_t *d =
        json_pack("{s:s, s:I, s:s, s:s}", "bank", bank ? bank : "", "bank_id", (json_int_t)bank_id,
                  "type", td_signal_type_name(type), "value", value ? value : "");
    if (d && extra)
        json_object_update(d, extra);
    json_decref(extra);
    return td__audit_id(svc, c, who, action, "signal", id, d, err);
}

/* Adds n (type, value, quality) triples to bank in one transaction, with their bodies when
 * bodies is not NULL (bodies[i] NULL for a hash); out[i] receives each signal; with
 * tolerate_dup a duplicate returns the existing signal. */
static td_status add_many(td_service *svc, const td_principal *who, const char *bank,
                          const td_signal_input *in, const td_signal_type *types,
                          char (*values)[65], const int *qualities, char *const *bodies,
                          const size_t *body_lens, size_t n, int tolerate_dup, td__add_hook hook,
                          void *hook_ctx, td_signal *out, td_error *err)
{
    td_store_conn *c;
    int64_t bank_id, ids[TD_SIGNAL_TYPE_MAX] = {0}, first_new = 0;
    int added[TD_SIGNAL_TYPE_MAX] = {0};
    if (n > TD_SIGNAL_TYPE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "more than %d signals at once", TD_SIGNAL_TYPE_MAX);
    char labels[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    int confidence = in->confidence < 0 ? TD_CONFIDENCE_DEFAULT : in->confidence;
    const char *source = in->source ? in->source : "manual";
    td__labels_join(&in->labels, labels, sizeof labels);
    int64_t now = td__now(svc);
    td_status st = td_store_acquire(svc->store, 1, &c, err);
    if (st)
        return st;
    if ((st = td_store_begin(c, err)) || (st = td__bank_id(c, bank, &bank_id, err)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        st = insert(svc, c, bank_id, types[i], values[i], qualities[i], labels, source, confidence,
                    1, now, &ids[i], err);
        if (st == TD_ERR_CONFLICT && tolerate_dup) {
            td_error_clear(err);
            st = TD_OK;
            continue;
        }
        if (st) {
            if (st == TD_ERR_CONFLICT && out)
                out[i].id = ids[i];
            goto out;
        }
        if (bodies && bodies[i] &&
            (st = insert_body(c, ids[i], types[i], bodies[i], body_lens[i], err)))
            goto out;
        if ((st =
                 audit_signal(svc, c, who, "signal.add", ids[i], bank, bank_id, types[i], values[i],
                              json_pack("{s:s, s:s}", "source", source, "labels", labels), err)))
            goto out;
        added[i] = 1;
        if (!first_new || ids[i] < first_new)
            first_new = ids[i];
    }
    if (hook && (st = hook(svc, c, bank_id, ids, added, n, hook_ctx, err)))
        goto out;
    if ((st = td_store_commit(c, err)) || (st = td__follow(svc, NULL, err)))
        goto out;
    /* The signal is committed: a failed re-check does not undo it (nor fail the call). */
    if (first_new)
        (void)td__recheck(svc, c, bank_id, first_new, NULL);
    for (size_t i = 0; out && i < n; i++)
        if ((st = get_on(c, bank_id, ids[i], &out[i], err)))
            break;
out:
    td_store_release(svc->store, c);
    return st;
}

td_status td_signal_add(td_service *svc, const char *bank, const td_signal_input *in,
                        td_signal *out, td_error *err)
{
    return td_signal_add_as(svc, NULL, bank, in, out, err);
}

td_status td_signal_add_as(td_service *svc, const td_principal *who, const char *bank,
                           const td_signal_input *in, td_signal *out, td_error *err)
{
    char value[1][65];
    char *body[1] = {NULL};
    size_t body_len[1] = {0};
    int quality = in->quality;
    td_signal tmp;
    if (!in->value)
        return td__error_set(err, TD_ERR_INVALID, "signal value missing");
    td_status st = validate_input(in, value[0], err);
    if (st)
        return st;
    if (td_signal_type_has_body(in->type)) {
        if ((st = body_input(in, value[0], &body[0], &body_len[0], err)))
            return st;
        quality = -1;
    }
    if (!out)
        out = &tmp;
    memset(out, 0, sizeof *out);
    st = add_many(svc, who, bank, in, &in->type, value, &quality, body, body_len, 1, 0, NULL, NULL,
                  out, err);
    td__free(body[0]);
    return st;
}

td_status td__signals_add_hooked(td_service *svc, const td_principal *who, const char *bank,
                                 const td_signal_input *ins, size_t n, td__add_hook hook,
                                 void *hook_ctx, td_signal *out, td_error *err)
{
    char values[TD_SIGNAL_TYPE_MAX][65];
    char *bodies[TD_SIGNAL_TYPE_MAX] = {NULL};
    size_t body_lens[TD_SIGNAL_TYPE_MAX] = {0};
    int qualities[TD_SIGNAL_TYPE_MAX];
    td_signal_type types[TD_SIGNAL_TYPE_MAX];
    td_status st = TD_OK;
    if (n == 0 || n > TD_SIGNAL_TYPE_MAX)
        return td__error_set(err, TD_ERR_INVALID, "1 to %d signals at once", TD_SIGNAL_TYPE_MAX);
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        types[i] = ins[i].type;
        qualities[i] = ins[i].quality;
        for (size_t j = 0; j < i; j++)
            if (types[j] == types[i])
                st = td__error_set(err, TD_ERR_INVALID, "two %s signals",
                                   td_signal_type_name(types[i]));
        if (st == TD_OK && !ins[i].value)
            st = td__error_set(err, TD_ERR_INVALID, "signal value missing");
        if (st == TD_OK)
            st = validate_input(&ins[i], values[i], err);
        if (st == TD_OK && td_signal_type_has_body(ins[i].type)) {
            st = body_input(&ins[i], values[i], &bodies[i], &body_lens[i], err);
            qualities[i] = -1;
        }
    }
    if (st == TD_OK) {
        td_signal tmp[TD_SIGNAL_TYPE_MAX];
        st = add_many(svc, who, bank, &ins[0], types, values, qualities, bodies, body_lens, n, 1,
                      hook, hook_ctx, out ? out : tmp, err);
    }
    for (size_t i = 0; i < n; i++)
        td__free(bodies[i]);
    return st;
}

td_status td_signal_add_media(td_service *svc, const char *bank, const uint8_t *data, size_t len,
                              const td_signal_input *in, td_signal out[3], size_t *count,
                              td_error *err)
{
    return td_signal_add_media_as(svc, NULL, bank, data, len, in, out, count, err);
}

td_status td_signal_add_media_as(td_service *svc, const td_principal *who, const char *bank,
                                 const uint8_t *data, size_t len, const td_signal_input *in,
                                 td_signal out[3], size_t *count, td_error *err)
{
    return td__signal_add_media_hooked(svc, who, bank, data, len, in, 0, NULL, NULL, out, count,
                                       err);
}

td_status td__signal_add_media_hooked(td_service *svc, const td_principal *who, const char *bank,
                                      const uint8_t *data, size_t len, const td_signal_input *in,
                                      unsigned skip, td__add_hook hook, void *hook_ctx,
                                      td_signal out[3], size_t *count, td_error *err)
{
    td__media_hashes mh;
    td_signal_input base = *in;
    char values[3][65];
    td_signal_type types[3] = {TD_SIGNAL_PDQ, TD_SIGNAL_MD5, TD_SIGNAL_SHA256};
    int qualities[3] = {-1, -1, -1};
    char *bodies[3] = {NULL, NULL, NULL};
    size_t body_lens[3] = {0, 0, 0};
    char *owned = NULL;
    *count = 0;
    base.type = TD_SIGNAL_PDQ;
    base.value = NULL;
    td_status st = validate_input(&base, values[0], err);
    if (st)
        return st;
    if (!base.source)
        base.source = "upload";
    if ((st = td__hash_media(svc, data, len, &mh, err)))
        return st;
    if (mh.vpdq.count) {
        /* a video: its vPDQ frames (the hash file is the body), MD5 and SHA-256 */
        types[0] = TD_SIGNAL_VPDQ;
        if ((st = td_vpdq_to_text(&mh.vpdq, &bodies[0], &body_lens[0], err)))
            goto out;
        if (td_sha256_hex((const uint8_t *)bodies[0], body_lens[0], values[0]) != TD_OK) {
            st = td__error_set(err, TD_ERR_INTERNAL, "SHA-256 failed");
            goto out;
        }
    } else if (mh.h.n_pdq) {
        td_pdq_to_hex(&mh.h.pdq[0], values[0]);
        qualities[0] = mh.h.quality;
    } else {
        st = td__error_set(err, TD_ERR_UNSUPPORTED, "the video has no frame to hash");
        goto out;
    }
    memcpy(values[1], mh.h.md5, sizeof mh.h.md5);
    memcpy(values[2], mh.h.sha256, sizeof mh.h.sha256);
    /* The types the caller leaves out (HMA's types=, its disabled signal types). */
    size_t n = 0;
    owned = bodies[0]; /* the one body (vPDQ), freed below wherever it moves */
    for (size_t i = 0; i < 3; i++) {
        if (skip & (1u << types[i]))
            continue;
        types[n] = types[i];
        memmove(values[n], values[i], sizeof values[n]);
        qualities[n] = qualities[i];
        bodies[n] = bodies[i];
        body_lens[n] = body_lens[i];
        n++;
    }
    for (size_t i = n; i < 3; i++)
        bodies[i] = NULL;
    if (n == 0) {
        st = td__error_set(err, TD_ERR_INVALID, "empty signal type selection");
        goto out;
    }
    st = add_many(svc, who, bank, &base, types, values, qualities, bodies, body_lens, n, 1, hook,
                  hook_ctx, out, err);
    if (st == TD_OK)
        *count = n;
out:
    td__free(owned ? owned : bodies[0]);
    td__media_hashes_clear(&mh);
    return st;
}

td_status td_signal_get_body(td_service *svc, const char *bank, int64_t id, char **body,
                             size_t *len, td_error *err)
{
    td_store_conn *c;
    td_signal sig;
    int64_t bank_id = 0;
    *body = NULL;
    *len = 0;
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    if ((bank && (st = td__bank_id(c, bank, &bank_id, err))) ||
        (st = get_on(c, bank_id, id, &sig, err)))
        goto out;
    if (!td_signal_type_has_body(sig.type)) {
        st = td__error_set(err, TD_ERR_INVALID,
                           "signal %lld is a %s hash: its value is all there is", (long long)id,
                           td_signal_type_name(sig.type));
        goto out;
    }
    if ((st = td__body_read(c, id, body, len, err)) == TD_OK && !*body)
        st = td__error_set(err, TD_ERR_NOT_FOUND, "signal %lld has no body", (long long)id);
out:
    td_store_release(svc->store, c);
    return st;
}

td_status td_signal_list(td_service *svc, const char *bank, int64_t after_id, size_t limit,
                         td_signal **out, size_t *count, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    int64_t bank_id;
    td_signal *list = NULL;
    size_t n = 0;
    *out = NULL;
    *count = 0;
    if (limit == 0)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d signals per page", TD_PAGE_MAX);
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td__bank_id(c, bank, &bank_id, err)))
        goto out;
    list = td__mallocarray(limit, sizeof *list);
    if (!list) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = td_store_prepare(c,
                               "SELECT " TD__SIGNAL_COLUMNS TD__SIGNAL_FROM
                               " WHERE s.bank_id = $1 AND s.id > $2 ORDER BY s.id LIMIT $3",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, after_id, err)) ||
        (st = td_stmt_bind_int64(q, 3, (int64_t)limit, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < limit)
        td__signal_row(q, &list[n++]);
    td_stmt_reset(q);
out:
    td_store_release(svc->store, c);
    if (st) {
        td__free(list);
        return st;
    }
    *out = list;
    *count = n;
    return TD_OK;
}

td_status td_signal_get(td_service *svc, const char *bank, int64_t id, td_signal *out,
                        td_error *err)
{
    td_store_conn *c;
    int64_t bank_id = 0;
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    if (!bank || (st = td__bank_id(c, bank, &bank_id, err)) == TD_OK)
        st = get_on(c, bank_id, id, out, err);
    td_store_release(svc->store, c);
    return st;
}

/* Loads the signal in a write transaction for a change; fills bank_id and cur. */
static td_status begin_change(td_service *svc, td_store_conn *c, const char *bank, int64_t id,
                              td_signal *cur, td_error *err)
{
    int64_t bank_id = 0;
    td_status st;
    (void)svc;
    if ((st = td_store_begin(c, err)))
        return st;
    if (bank && (st = td__bank_id(c, bank, &bank_id, err)))
        return st;
    return get_on(c, bank_id, id, cur, err);
}

td_status td_signal_set_enabled(td_service *svc, const char *bank, int64_t id, int enabled,
                                td_signal *out, td_error *err)
{
    return td_signal_set_enabled_as(svc, NULL, bank, id, enabled, out, err);
}

td_status td_signal_set_enabled_as(td_service *svc, const td_principal *who, const char *bank,
                                   int64_t id, int enabled, td_signal *out, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    td_signal cur;
    enabled = enabled ? 1 : 0;
    td_status st = td_store_acquire(svc->store, 1, &c, err);
    if (st)
        return st;
    int64_t now = td__now(svc);
    if ((st = begin_change(svc, c, bank, id, &cur, err)))
        goto out;
    if (cur.enabled != enabled) {
        int was = td__signal_indexable(cur.type, cur.quality, cur.enabled);
        int will = td__signal_indexable(cur.type, cur.quality, enabled);
        if ((st = td_store_prepare(c, "UPDATE signals SET enabled = $1 WHERE id = $2", &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, enabled, err)) ||
            (st = td_stmt_bind_int64(q, 2, id, err)) || (st = td_stmt_run(q, NULL, err)))
            goto out;
        if (was != will && (st = td__log_change(c, will ? TD__CHANGE_ADD : TD__CHANGE_REMOVE,
                                                cur.bank_id, id, cur.type, cur.value, now, err)))
            goto out;
        if ((st = audit_signal(svc, c, who, enabled ? "signal.enable" : "signal.disable", id,
                               cur.bank, cur.bank_id, cur.type, cur.value, NULL, err)))
            goto out;
    }
    if ((st = td_store_commit(c, err)) || (st = td__follow(svc, NULL, err)))
        goto out;
    if (enabled && !cur.enabled)
        (void)td__recheck(svc, c, cur.bank_id, id, NULL);
    if (out)
        st = get_on(c, 0, id, out, err);
out:
    td_store_release(svc->store, c);
    return st;
}

td_status td_signal_set_labels(td_service *svc, const char *bank, int64_t id,
                               const td_labels *labels, td_signal *out, td_error *err)
{
    return td_signal_set_labels_as(svc, NULL, bank, id, labels, out, err);
}

td_status td_signal_set_labels_as(td_service *svc, const td_principal *who, const char *bank,
                                  int64_t id, const td_labels *labels, td_signal *out,
                                  td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    td_signal cur;
    char text[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
    if (labels->count < 0 || labels->count > TD_LABELS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "more than %d labels", TD_LABELS_MAX);
    td__labels_join(labels, text, sizeof text);
    td_status st = td_store_acquire(svc->store, 1, &c, err);
    if (st)
        return st;
    if ((st = begin_change(svc, c, bank, id, &cur, err)) ||
        (st = td_store_prepare(c, "UPDATE signals SET labels = $1 WHERE id = $2", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, text, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, id, err)) || (st = td_stmt_run(q, NULL, err)) ||
        (st = audit_signal(svc, c, who, "signal.labels", id, cur.bank, cur.bank_id, cur.type,
                           cur.value, json_pack("{s:s}", "labels", text), err)) ||
        (st = td_store_commit(c, err)))
        goto out;
    if (out)
        st = get_on(c, 0, id, out, err);
out:
    td_store_release(svc->store, c);
    return st;
}

td_status td_signal_delete(td_service *svc, const char *bank, int64_t id, td_error *err)
{
    return td_signal_delete_as(svc, NULL, bank, id, err);
}

td_status td_signal_delete_as(td_service *svc, const td_principal *who, const char *bank,
                              int64_t id, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    td_signal cur;
    td_status st = td_store_acquire(svc->store, 1, &c, err);
    if (st)
        return st;
    int64_t now = td__now(svc);
    if ((st = begin_change(svc, c, bank, id, &cur, err)))
        goto out;
    if (cur.indexed &&
        (st = td__log_change(c, TD__CHANGE_REMOVE, cur.bank_id, id, cur.type, cur.value, now, err)))
        goto out;
    /* The HMA content under this id goes with its last signal (bank_content.c). */
    if ((st = td_store_prepare(c, "DELETE FROM signals WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_run(q, NULL, err)) ||
        (st = td_store_prepare(c,
                               "DELETE FROM bank_content WHERE id = $1 AND NOT EXISTS"
                               " (SELECT 1 FROM signals WHERE bank_content_id = $1)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_run(q, NULL, err)) ||
        (st = audit_signal(svc, c, who, "signal.delete", id, cur.bank, cur.bank_id, cur.type,
                           cur.value, NULL, err)) ||
        (st = td_store_commit(c, err)))
        goto out;
    st = td__follow(svc, NULL, err);
out:
    td_store_release(svc->store, c);
    return st;
}
