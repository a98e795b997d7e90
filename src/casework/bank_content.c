/* HMA's bank content (docs/hma.md, "Curation"): a content item of a bank carrying one signal
 * per signal type, added, removed and switched together. Its signals are ordinary signals of the
 * bank; each holds the content's id (its first signal's id) in signals.bank_content_id, and the
 * table bank_content keeps what HMA keeps of a content (disable_until_ts, original media URI,
 * metadata, note). A signal with bank_content_id 0 is a content of its own under its own id.
 * disable_until_ts takes effect where a match is resolved (check.c reads it with the signal's
 * row, against the service's clock), so a content disabled until a time matches again at that
 * time without any job running. Also HMA's enabled_ratio per signal type. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"

int td__content_active(int64_t disable_until_ts, int64_t now_ms)
{
    if (disable_until_ts == TD_CONTENT_DISABLED)
        return 0;
    if (disable_until_ts == TD_CONTENT_ENABLED)
        return 1;
    return disable_until_ts <= now_ms / 1000;
}

td_status td__signal_content(td_store_conn *c, int64_t signal_id, int64_t now_ms,
                             int64_t *content_id, int *active, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c,
                                    "SELECT s.bank_content_id, COALESCE(bc.disable_until_ts, 1)"
                                    " FROM signals s LEFT JOIN bank_content bc"
                                    " ON bc.id = s.bank_content_id WHERE s.id = $1",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, signal_id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no signal %lld", (long long)signal_id);
    int64_t cid = td_stmt_column_int64(q, 0);
    *content_id = cid ? cid : signal_id;
    *active = td__content_active(td_stmt_column_int64(q, 1), now_ms);
    td_stmt_reset(q);
    return TD_OK;
}

void td_bank_content_clear(td_bank_content *c)
{
    if (!c)
        return;
    td__free(c->original_media_uri);
    td__free(c->metadata);
    td__free(c->note);
    td__free(c->signals);
    memset(c, 0, sizeof *c);
}

static td_status dup_or_null(const char *s, char **out, td_error *err)
{
    *out = NULL;
    if (!s || !*s)
        return TD_OK;
    *out = td__strdup(s);
    return *out ? TD_OK : td__error_set(err, TD_ERR_NOMEM, "out of memory");
}

/* A note: at most TD_CONTENT_NOTE_MAX code points of well-formed UTF-8. */
static td_status check_note(const char *note, td_error *err)
{
    if (!note)
        return TD_OK;
    size_t n = strnlen(note, 4 * TD_CONTENT_NOTE_MAX + 1), chars = 0;
    for (size_t i = 0; i < n; chars++) {
        uint32_t cp;
        size_t k = td__utf8_next((const unsigned char *)note + i, n - i, &cp);
        if (!k)
            return td__error_set(err, TD_ERR_INVALID, "note is not UTF-8");
        i += k;
    }
    if (chars > TD_CONTENT_NOTE_MAX || note[n])
        return td__error_set(err, TD_ERR_INVALID, "note must be at most %d characters",
                             TD_CONTENT_NOTE_MAX);
    return TD_OK;
}

static td_status check_input(const td_bank_content_input *in, td_error *err)
{
    if (!in)
        return TD_OK;
    if (in->original_media_uri &&
        strnlen(in->original_media_uri, TD_CONTENT_URI_MAX + 1) > TD_CONTENT_URI_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "original_media_uri over %d bytes",
                             TD_CONTENT_URI_MAX);
    if (in->metadata) {
        if (strnlen(in->metadata, TD_CONTENT_METADATA_MAX + 1) > TD_CONTENT_METADATA_MAX)
            return td__error_set(err, TD_ERR_LIMIT, "metadata over %d bytes",
                                 TD_CONTENT_METADATA_MAX);
        json_t *m = json_loads(in->metadata, JSON_REJECT_DUPLICATES, NULL);
        int ok = json_is_object(m);
        json_decref(m);
        if (!ok)
            return td__error_set(err, TD_ERR_INVALID, "metadata must be a JSON object");
    }
    return check_note(in->note, err);
}

/* The signals of content id in bank_id (read with TD__SIGNAL_COLUMNS), by id. */
static const char content_signals_sql[] =
    "SELECT " TD__SIGNAL_COLUMNS TD__SIGNAL_FROM
    " WHERE s.bank_content_id = $2 AND s.bank_content_id <> 0 AND s.bank_id = $1"
    " UNION ALL SELECT " TD__SIGNAL_COLUMNS TD__SIGNAL_FROM
    " WHERE s.id = $2 AND s.bank_content_id = 0 AND s.bank_id = $1 ORDER BY 1";

static td_status get_on(td_store_conn *c, int64_t bank_id, const char *bank, int64_t id,
                        td_bank_content *out, td_error *err)
{
    td_stmt *q;
    int row;
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    out->id = id;
    out->bank_id = bank_id;
    td__copy_trunc(out->bank, sizeof out->bank, bank);
    td_status st = td_store_prepare(c, content_signals_sql, &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, id, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        if (out->n_signals >= TD_SIGNAL_TYPE_MAX * 4) {
            td_stmt_reset(q);
            break;
        }
        if ((st = td__grow((void **)&out->signals, &cap, out->n_signals + 1, sizeof *out->signals,
                           err))) {
            td_stmt_reset(q);
            break;
        }
        td__signal_row(q, &out->signals[out->n_signals++]);
    }
    if (st)
        goto fail;
    if ((st = td_store_prepare(c,
                               "SELECT disable_until_ts, original_media_uri, metadata, note,"
                               " created_ms, updated_ms FROM bank_content"
                               " WHERE id = $1 AND bank_id = $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_bind_int64(q, 2, bank_id, err)) ||
        (st = td_stmt_step(q, &row, err)))
        goto fail;
    if (row && !out->n_signals) {
        /* Its signals were deleted one by one (takedown's routes, an exchange): gone too. */
        td_stmt_reset(q);
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no content %lld in bank '%s'", (long long)id,
                           bank);
        goto fail;
    }
    if (row) {
        out->disable_until_ts = td_stmt_column_int64(q, 0);
        out->created_ms = td_stmt_column_int64(q, 4);
        out->updated_ms = td_stmt_column_int64(q, 5);
        if ((st = dup_or_null(td_stmt_column_text(q, 1), &out->original_media_uri, err)) ||
            (st = dup_or_null(td_stmt_column_text(q, 2), &out->metadata, err)) ||
            (st = dup_or_null(td_stmt_column_text(q, 3), &out->note, err))) {
            td_stmt_reset(q);
            goto fail;
        }
        td_stmt_reset(q);
    } else if (out->n_signals) {
        /* A signal added otherwise: enabled or not as its own switch says. */
        out->disable_until_ts = out->signals[0].enabled ? TD_CONTENT_ENABLED : TD_CONTENT_DISABLED;
        out->created_ms = out->updated_ms = out->signals[0].added_ms;
    } else {
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no content %lld in bank '%s'", (long long)id,
                           bank);
        goto fail;
    }
    return TD_OK;
fail:
    td_bank_content_clear(out);
    return st;
}

td_status td_bank_content_get(td_service *svc, const char *bank, int64_t id, td_bank_content *out,
                              td_error *err)
{
    td_store_conn *c;
    int64_t bank_id;
    memset(out, 0, sizeof *out);
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td__bank_id(c, bank, &bank_id, err)) == TD_OK)
        st = get_on(c, bank_id, bank, id, out, err);
    td_store_release(svc->store, c);
    return st;
}

static td_status audit_content(td_service *svc, td_store_conn *c, const td_principal *who,
                               const char *action, int64_t id, json_t *details, td_error *err)
{
    return td__audit_id(svc, c, who, action, "bank_content", id, details, err);
}

/* ---- adding ---- */

typedef struct add_ctx {
    const td_principal *who;
    const char *bank;
    const td_bank_content_input *in;
    int64_t content_id;
} add_ctx;

static td_status add_hook(td_service *svc, td_store_conn *c, int64_t bank_id, const int64_t *ids,
                          const int *added, size_t n, void *ctx, td_error *err)
{
    add_ctx *a = ctx;
    td_stmt *q;
    td_status st;
    int64_t lead = 0;
    for (size_t i = 0; i < n && !lead; i++)
        if (added[i])
            lead = ids[i];
    if (!lead) {
        /* Nothing new: the content the first signal belongs to. */
        int active;
        return td__signal_content(c, ids[0], td__now(svc), &a->content_id, &active, err);
    }
    json_t *sigs = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!added[i])
            continue;
        if ((st = td_store_prepare(c, "UPDATE signals SET bank_content_id = $1 WHERE id = $2", &q,
                                   err)) ||
            (st = td_stmt_bind_int64(q, 1, lead, err)) ||
            (st = td_stmt_bind_int64(q, 2, ids[i], err)) || (st = td_stmt_run(q, NULL, err))) {
            json_decref(sigs);
            return st;
        }
        json_array_append_new(sigs, json_integer(ids[i]));
    }
    const td_bank_content_input none = {NULL, NULL, NULL, 0};
    const td_bank_content_input *in = a->in ? a->in : &none;
    int64_t now = td__now(svc);
    /* A row left by a signal id SQLite gave again (the largest id deleted) goes first. */
    if ((st = td_store_prepare(c, "DELETE FROM bank_content WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, lead, err)) || (st = td_stmt_run(q, NULL, err)) ||
        (st = td_store_prepare(c,
                               "INSERT INTO bank_content (id, bank_id, disable_until_ts,"
                               " original_media_uri, metadata, note, created_ms, updated_ms)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, lead, err)) ||
        (st = td_stmt_bind_int64(q, 2, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD_CONTENT_ENABLED, err)) ||
        (st = td_stmt_bind_text(q, 4, in->original_media_uri ? in->original_media_uri : "",
                                (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 5, in->metadata ? in->metadata : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 6, in->note ? in->note : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 7, now, err)) || (st = td_stmt_run(q, NULL, err))) {
        json_decref(sigs);
        return st;
    }
    a->content_id = lead;
    return audit_content(svc, c, a->who, "bank_content.add", lead,
                         json_pack("{s:s, s:I, s:o, s:s?}", "bank", a->bank, "bank_id",
                                   (json_int_t)bank_id, "signals", sigs, "note", in->note),
                         err);
}

td_status td_bank_content_add_as(td_service *svc, const td_principal *who, const char *bank,
                                 const td_signal_input *ins, size_t n,
                                 const td_bank_content_input *in, int64_t *content_id,
                                 td_signal *out, td_error *err)
{
    td_status st = check_input(in, err);
    if (st)
        return st;
    add_ctx a = {who, bank, in, 0};
    if ((st = td__signals_add_hooked(svc, who, bank, ins, n, add_hook, &a, out, err)))
        return st;
    *content_id = a.content_id;
    return TD_OK;
}

td_status td_bank_content_add_media_as(td_service *svc, const td_principal *who, const char *bank,
                                       const uint8_t *data, size_t len,
                                       const td_bank_content_input *in, int64_t *content_id,
                                       td_signal out[3], size_t *count, td_error *err)
{
    td_status st = check_input(in, err);
    if (st)
        return st;
    td_signal_input base;
    td_signal_input_init(&base);
    base.source = "upload";
    add_ctx a = {who, bank, in, 0};
    if ((st = td__signal_add_media_hooked(svc, who, bank, data, len, &base, in ? in->skip_types : 0,
                                          add_hook, &a, out, count, err)))
        return st;
    *content_id = a.content_id;
    return TD_OK;
}

/* ---- changing and deleting ---- */

static json_t *content_json(const td_bank_content *b)
{
    return json_pack("{s:I, s:s?, s:s?}", "disable_until_ts", (json_int_t)b->disable_until_ts,
                     "note", b->note, "original_media_uri", b->original_media_uri);
}

typedef struct update_args {
    td_service *svc;
    const td_principal *who;
    const char *bank;
    int64_t id;
    unsigned fields;
    int64_t disable_until_ts;
    const char *note;
} update_args;

static td_status update_body(td_store_conn *c, void *ctx, td_error *err)
{
    update_args *a = ctx;
    td_bank_content cur;
    td_stmt *q;
    int64_t bank_id;
    td_status st = td__bank_id(c, a->bank, &bank_id, err);
    if (st || (st = get_on(c, bank_id, a->bank, a->id, &cur, err)))
        return st;
    json_t *before = content_json(&cur);
    int64_t until =
        (a->fields & TD_CONTENT_SET_DISABLE_UNTIL) ? a->disable_until_ts : cur.disable_until_ts;
    const char *note = (a->fields & TD_CONTENT_SET_NOTE) ? a->note : cur.note;
    int64_t now = td__now(a->svc);
    /* A content with no row yet (a signal added otherwise) gets one under its id, and its
     * signal joins it. */
    if ((st = td_store_prepare(c,
                               "INSERT INTO bank_content (id, bank_id, disable_until_ts,"
                               " original_media_uri, metadata, note, created_ms, updated_ms)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                               " ON CONFLICT (id) DO UPDATE SET disable_until_ts = $3,"
                               " note = $6, updated_ms = $8",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 3, until, err)) ||
        (st = td_stmt_bind_text(q, 4, cur.original_media_uri ? cur.original_media_uri : "",
                                (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 5, cur.metadata ? cur.metadata : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 6, note ? note : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 7, cur.created_ms, err)) ||
        (st = td_stmt_bind_int64(q, 8, now, err)) || (st = td_stmt_run(q, NULL, err)) ||
        (st = td_store_prepare(c,
                               "UPDATE signals SET bank_content_id = $1"
                               " WHERE id = $1 AND bank_content_id = 0",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_run(q, NULL, err)))
        goto out;
    td_bank_content after;
    if ((st = get_on(c, bank_id, a->bank, a->id, &after, err)))
        goto out;
    json_t *details = json_pack("{s:s, s:O, s:o}", "bank", a->bank, "before", before, "after",
                                content_json(&after));
    td_bank_content_clear(&after);
    st = audit_content(a->svc, c, a->who, "bank_content.update", a->id, details, err);
out:
    json_decref(before);
    td_bank_content_clear(&cur);
    return st;
}

td_status td_bank_content_update_as(td_service *svc, const td_principal *who, const char *bank,
                                    int64_t id, unsigned fields, int64_t disable_until_ts,
                                    const char *note, td_bank_content *out, td_error *err)
{
    td_status st;
    if (fields & TD_CONTENT_SET_DISABLE_UNTIL) {
        int64_t limit = td__now(svc) / 1000 + TD_CONTENT_DISABLE_MAX_S;
        if (disable_until_ts < 0)
            return td__error_set(err, TD_ERR_INVALID,
                                 "disable_until_ts must be a non-negative integer");
        if (disable_until_ts > limit)
            return td__error_set(err, TD_ERR_INVALID,
                                 "disable_until_ts must be less than 5 years in the future");
    }
    if ((fields & TD_CONTENT_SET_NOTE) && (st = check_note(note, err)))
        return st;
    update_args a = {svc, who, bank, id, fields, disable_until_ts, note};
    if ((st = td_store_write(svc->store, update_body, &a, err)))
        return st;
    return out ? td_bank_content_get(svc, bank, id, out, err) : TD_OK;
}

typedef struct delete_args {
    td_service *svc;
    const td_principal *who;
    const char *bank;
    int64_t id;
    int deleted;
} delete_args;

static td_status delete_body(td_store_conn *c, void *ctx, td_error *err)
{
    delete_args *a = ctx;
    td_bank_content cur;
    td_stmt *q;
    int64_t bank_id, removed = 0;
    td_status st = td__bank_id(c, a->bank, &bank_id, err);
    if (st)
        return st;
    if ((st = get_on(c, bank_id, a->bank, a->id, &cur, err))) {
        if (st != TD_ERR_NOT_FOUND)
            return st;
        td_error_clear(err);
        /* HMA answers {"deleted": 0}; a row whose signals all went otherwise goes now. */
        if ((st = td_store_prepare(c, "DELETE FROM bank_content WHERE id = $1 AND bank_id = $2", &q,
                                   err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, bank_id, err)))
            return st;
        return td_stmt_run(q, NULL, err);
    }
    td_bank_content_clear(&cur);
    /* The signals leave the indexes through the log, as a bank's do when it is deleted. */
    if ((st = td_store_prepare(c,
                               "INSERT INTO changes (kind, signal_id, type, value, at_ms, bank_id)"
                               " SELECT $1, id, type, value, $2, bank_id FROM signals"
                               " WHERE bank_id = $3 AND enabled = 1 AND (id = $4 OR"
                               " (bank_content_id = $4 AND bank_content_id <> 0))",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, TD__CHANGE_REMOVE, err)) ||
        (st = td_stmt_bind_int64(q, 2, td__now(a->svc), err)) ||
        (st = td_stmt_bind_int64(q, 3, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 4, a->id, err)) || (st = td_stmt_run(q, NULL, err)) ||
        (st = td_store_prepare(c,
                               "DELETE FROM signals WHERE bank_id = $1"
                               " AND (id = $2 OR (bank_content_id = $2 AND bank_content_id <> 0))",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->id, err)) || (st = td_stmt_run(q, &removed, err)) ||
        (st = td_store_prepare(c, "DELETE FROM bank_content WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    a->deleted = 1;
    return audit_content(a->svc, c, a->who, "bank_content.delete", a->id,
                         json_pack("{s:s, s:I, s:I}", "bank", a->bank, "bank_id",
                                   (json_int_t)bank_id, "signals_deleted", (json_int_t)removed),
                         err);
}

td_status td_bank_content_delete_as(td_service *svc, const td_principal *who, const char *bank,
                                    int64_t id, int *deleted, td_error *err)
{
    delete_args a = {svc, who, bank, id, 0};
    *deleted = 0;
    td_status st = td_store_write(svc->store, delete_body, &a, err);
    if (st == TD_OK && a.deleted)
        st = td__follow(svc, NULL, err);
    if (st == TD_OK)
        *deleted = a.deleted;
    return st;
}

/* ---- signal type ratios ---- */

td_status td_signal_type_ratio_get(td_service *svc, td_signal_type type, double *ratio,
                                   td_error *err)
{
    if (type < TD_SIGNAL_PDQ || type > TD_SIGNAL_TYPE_MAX)
        return td__error_set(err, TD_ERR_NOT_FOUND, "unknown signal type");
    pthread_rwlock_rdlock(&svc->banks_lock);
    *ratio = svc->type_ratio[type];
    pthread_rwlock_unlock(&svc->banks_lock);
    return TD_OK;
}

typedef struct ratio_args {
    td_service *svc;
    const td_principal *who;
    td_signal_type type;
    double ratio;
} ratio_args;

static td_status ratio_body(td_store_conn *c, void *ctx, td_error *err)
{
    ratio_args *a = ctx;
    td_stmt *q;
    char text[TD__RATIO_TEXT];
    double before = 1.0;
    td__ratio_format(a->ratio, text);
    td_status st = td_signal_type_ratio_get(a->svc, a->type, &before, err);
    if (st ||
        (st = td_store_prepare(c,
                               "INSERT INTO signal_type_ratios (type, enabled_ratio)"
                               " VALUES ($1, $2) ON CONFLICT (type)"
                               " DO UPDATE SET enabled_ratio = $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->type, err)) ||
        (st = td_stmt_bind_text(q, 2, text, (size_t)-1, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    /* Every node reloads the ratios with its bank views. */
    if ((st = td__log_change(c, TD__CHANGE_BANKS, 0, 0, 0, "", td__now(a->svc), err)))
        return st;
    char object[48];
    snprintf(object, sizeof object, "signal_type:%s", td_signal_type_te_name(a->type));
    return td__audit(a->svc, c, a->who, "signal_type.update", object,
                     json_pack("{s:f, s:f}", "before", before, "after", a->ratio), err);
}

td_status td_signal_type_ratio_set_as(td_service *svc, const td_principal *who, td_signal_type type,
                                      double ratio, td_error *err)
{
    if (type < TD_SIGNAL_PDQ || type > TD_SIGNAL_TYPE_MAX)
        return td__error_set(err, TD_ERR_NOT_FOUND, "unknown signal type");
    if (!(isfinite(ratio) && ratio >= 0.0 && ratio <= 1.0))
        return td__error_set(err, TD_ERR_INVALID, "enabled_ratio must be 0.0..1.0");
    ratio_args a = {svc, who, type, ratio};
    td_status st = td_store_write(svc->store, ratio_body, &a, err);
    if (st == TD_OK)
        st = td__follow(svc, NULL, err);
    return st;
}

td_status td_signal_type_stats_get(td_service *svc, td_signal_type type, td_signal_type_stats *out,
                                   td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    memset(out, 0, sizeof *out);
    if (type < TD_SIGNAL_PDQ || type > TD_SIGNAL_TYPE_MAX)
        return td__error_set(err, TD_ERR_NOT_FOUND, "unknown signal type");
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    /* What the index holds: td__signal_indexable (enabled; a PDQ not of known quality < 50). */
    if ((st = td_store_prepare(c,
                               "SELECT COUNT(*), COALESCE(SUM(CASE WHEN enabled = 1 AND NOT"
                               " (type = $2 AND quality >= 0 AND quality < 50) THEN 1 ELSE 0 END),"
                               " 0), COALESCE(MAX(added_ms), 0) FROM signals WHERE type = $1",
                               &q, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, type, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 2, TD_SIGNAL_PDQ, err)) == TD_OK &&
        (st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        out->stored = td_stmt_column_int64(q, 0);
        out->indexed = td_stmt_column_int64(q, 1);
        out->newest_ms = td_stmt_column_int64(q, 2);
        td_stmt_reset(q);
    }
    td_store_release(svc->store, c);
    return st;
}
