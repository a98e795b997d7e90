/* Signals kept in step with an outside source (an exchange, src/exchange/): a page of additions
 * and retractions applied inside the caller's write transaction, so that the caller commits it
 * together with the checkpoint that says the page was applied. Applying the same page twice
 * changes nothing the second time: an addition of a signal the bank holds is "unchanged" (its
 * labels are brought up to date when the signal is the source's own), and a retraction removes
 * only the source's own signal (one added by hand or by another source stays). */
#include <jansson.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "takedown/hash.h"

typedef struct existing {
    int found;
    int64_t id;
    int own; /* added by this source */
    int enabled, quality;
    char labels[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
} existing;

static td_status find(td_store_conn *c, int64_t bank_id, td_signal_type type, const char *value,
                      const char *source, existing *out, td_error *err)
{
    td_stmt *q;
    int row;
    memset(out, 0, sizeof *out);
    td_status st = td_store_prepare(c,
                                    "SELECT id, source, enabled, quality, labels FROM signals"
                                    " WHERE bank_id = $1 AND type = $2 AND value = $3",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, type, err)) ||
        (st = td__value_bind(q, 3, type, value, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        const char *src = td_stmt_column_text(q, 1);
        out->found = 1;
        out->id = td_stmt_column_int64(q, 0);
        out->own = src && strcmp(src, source) == 0;
        out->enabled = (int)td_stmt_column_int64(q, 2);
        out->quality = (int)td_stmt_column_int64(q, 3);
        td__copy_trunc(out->labels, sizeof out->labels, td_stmt_column_text(q, 4));
    }
    td_stmt_reset(q);
    return TD_OK;
}

static td_status run_id(td_store_conn *c, const char *sql, int64_t a, int64_t b, const char *text,
                        td_error *err)
{
    td_stmt *q;
    td_status st = td_store_prepare(c, sql, &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, a, err)))
        return st;
    if (text)
        st = td_stmt_bind_text(q, 2, text, (size_t)-1, err);
    else if (b != INT64_MIN)
        st = td_stmt_bind_int64(q, 2, b, err);
    return st ? st : td_stmt_run(q, NULL, err);
}

static td_status insert_new(td_service *svc, td_store_conn *c, int64_t bank_id,
                            const td__sync_item *it, const char *value, const char *body,
                            size_t body_len, const char *labels, const char *source, int64_t now,
                            int64_t *id, td_error *err)
{
    td_stmt *q;
    int row;
    (void)svc;
    int confidence = it->confidence < 0 ? TD_CONFIDENCE_DEFAULT : it->confidence;
    td_status st = td_store_prepare(c,
                                    "INSERT INTO signals (bank_id, type, value, quality, labels,"
                                    " source, confidence, enabled, added_ms)"
                                    " VALUES ($1, $2, $3, -1, $4, $5, $6, 1, $7)",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, it->type, err)) ||
        (st = td__value_bind(q, 3, it->type, value, err)) ||
        (st = td_stmt_bind_text(q, 4, labels, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 5, source, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 6, confidence, err)) ||
        (st = td_stmt_bind_int64(q, 7, now, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT id FROM signals WHERE bank_id = $1 AND type = $2"
                               " AND value = $3",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, it->type, err)) ||
        (st = td__value_bind(q, 3, it->type, value, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    *id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if (!row)
        return td__error_set(err, TD_ERR_INTERNAL, "the signal just added is not found");
    if (body) {
        char display[TD_SIGNAL_DISPLAY_MAX + 1];
        td__body_display(it->type, body, body_len, display);
        if ((st = td_store_prepare(c,
                                   "INSERT INTO signal_bodies (signal_id, body, display)"
                                   " VALUES ($1, $2, $3)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, *id, err)) ||
            (st = td_stmt_bind_blob(q, 2, body, body_len, err)) ||
            (st = td_stmt_bind_text(q, 3, display, (size_t)-1, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            return st;
    }
    if (td__signal_indexable(it->type, -1, 1))
        return td__log_change(c, TD__CHANGE_ADD, bank_id, *id, it->type, value, now, err);
    return TD_OK;
}

/* The value of an item in its stored form: a hash's canonical hex, or a body's canonical form
 * (*body, freed by the caller) and its SHA-256. */
static td_status item_value(const td__sync_item *it, char value[65], char **body, size_t *body_len,
                            td_error *err)
{
    *body = NULL;
    *body_len = 0;
    if (it->type < TD_SIGNAL_PDQ || it->type > TD_SIGNAL_TYPE_MAX)
        return td__error_set(err, TD_ERR_INVALID, "unknown signal type %d", (int)it->type);
    if (!td_signal_type_has_body(it->type))
        return td_signal_value_normalize(it->type, it->value, it->len, value, err);
    td_status st = td_signal_body_normalize(it->type, it->value, it->len, body, body_len, err);
    if (st == TD_OK && td_sha256_hex((const uint8_t *)*body, *body_len, value) != TD_OK) {
        td__free(*body);
        *body = NULL;
        st = td__error_set(err, TD_ERR_INTERNAL, "SHA-256 failed");
    }
    return st;
}

td_status td__sync_apply(td_service *svc, td_store_conn *c, int64_t bank_id, const char *source,
                         td__sync_item *items, size_t n, td__sync_counts *counts,
                         int64_t *first_new, td_error *err)
{
    int64_t now = td__now(svc);
    td_status st = TD_OK;
    for (size_t i = 0; i < n && st == TD_OK; i++) {
        td__sync_item *it = &items[i];
        char value[65], labels[TD_LABELS_MAX * (TD_LABEL_MAX + 1) + 1];
        char *body = NULL;
        size_t body_len = 0;
        existing cur;
        it->signal_id = 0;
        it->outcome = TD__SYNC_UNCHANGED;
        if ((st = item_value(it, value, &body, &body_len, err))) {
            td__error_prefix(err, "item %zu", i + 1);
            break;
        }
        td__labels_join(&it->labels, labels, sizeof labels);
        if ((st = find(c, bank_id, it->type, value, source, &cur, err)))
            goto next;
        if (it->remove) {
            if (!cur.found || !cur.own) {
                it->outcome = TD__SYNC_ABSENT;
                counts->absent++;
                goto next;
            }
            it->signal_id = cur.id;
            if (td__signal_indexable(it->type, cur.quality, cur.enabled) &&
                (st = td__log_change(c, TD__CHANGE_REMOVE, bank_id, cur.id, it->type, value, now,
                                     err)))
                goto next;
            if ((st = run_id(c, "DELETE FROM signals WHERE id = $1", cur.id, INT64_MIN, NULL, err)))
                goto next;
            it->outcome = TD__SYNC_REMOVED;
            counts->removed++;
            goto next;
        }
        if (!cur.found) {
            if ((st = insert_new(svc, c, bank_id, it, value, body, body_len, labels, source, now,
                                 &it->signal_id, err)))
                goto next;
            if (!*first_new || it->signal_id < *first_new)
                *first_new = it->signal_id;
            it->outcome = TD__SYNC_ADDED;
            counts->added++;
            goto next;
        }
        it->signal_id = cur.id;
        if (!cur.own) {
            counts->unchanged++;
            goto next;
        }
        int changed = 0;
        if (strcmp(cur.labels, labels) != 0) {
            if ((st = run_id(c, "UPDATE signals SET labels = $2 WHERE id = $1", cur.id, 0, labels,
                             err)))
                goto next;
            changed = 1;
        }
        if (!cur.enabled) {
            if ((st = run_id(c, "UPDATE signals SET enabled = 1 WHERE id = $1", cur.id, INT64_MIN,
                             NULL, err)))
                goto next;
            if (td__signal_indexable(it->type, cur.quality, 1) &&
                (st =
                     td__log_change(c, TD__CHANGE_ADD, bank_id, cur.id, it->type, value, now, err)))
                goto next;
            if (!*first_new || cur.id < *first_new)
                *first_new = cur.id;
            changed = 1;
        }
        it->outcome = changed ? TD__SYNC_UPDATED : TD__SYNC_UNCHANGED;
        if (changed)
            counts->updated++;
        else
            counts->unchanged++;
    next:
        td__free(body);
    }
    return st;
}

td_status td__sync_done(td_service *svc, td_store_conn *c, int64_t bank_id, int64_t first_new,
                        td_error *err)
{
    td_status st = td__follow(svc, NULL, err);
    /* The signals are committed: a failed re-check does not undo them (nor fail the call). */
    if (st == TD_OK && first_new)
        (void)td__recheck(svc, c, bank_id, first_new, NULL);
    return st;
}
