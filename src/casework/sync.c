/* Signals kept in step with an outside source (an exchange, src/exchange/): a page of additions
 * and retractions applied inside the caller's write transaction, so that the caller commits it
 * together with the checkpoint that says the page was applied. Applying the same page twice
 * changes nothing the second time: an addition of a signal the bank holds is "unchanged" (its
 * labels are brought up to date when the signal is the source's own), and a retraction removes
 * only the source's own signal (one added by hand or by another source stays). */
#include <jansson.h>
#include <pthread.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
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

/* Inserts the signal unless the bank holds it (*added 0 then: nothing written). One statement
 * for a new signal (RETURNING its id), which is what a source's first pages are made of. */
static td_status insert_new(td_store_conn *c, int64_t bank_id, const td__sync_item *it,
                            const char *value, const char *body, size_t body_len,
                            const char *labels, const char *source, int64_t now, int64_t *id,
                            int *added, td_error *err)
{
    td_stmt *q;
    int row;
    int confidence = it->confidence < 0 ? TD_CONFIDENCE_DEFAULT : it->confidence;
    *added = 0;
    td_status st = td_store_prepare(c,
                                    "INSERT INTO signals (bank_id, type, value, quality, labels,"
                                    " source, confidence, enabled, added_ms)"
                                    " VALUES ($1, $2, $3, -1, $4, $5, $6, 1, $7)"
                                    " ON CONFLICT (bank_id, type, value) DO NOTHING RETURNING id",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, it->type, err)) ||
        (st = td__value_bind(q, 3, it->type, value, err)) ||
        (st = td_stmt_bind_text(q, 4, labels, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 5, source, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 6, confidence, err)) ||
        (st = td_stmt_bind_int64(q, 7, now, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    *id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if (!row)
        return TD_OK;
    *added = 1;
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
    if (it->digest) {
        if (!it->remove)
            return td__error_set(err, TD_ERR_INVALID, "only a retraction names a body by digest");
        /* The stored value of a body signal: the SHA-256 of its canonical body. */
        return td_signal_value_normalize(TD_SIGNAL_SHA256, it->value, it->len, value, err);
    }
    td_status st = td_signal_body_normalize(it->type, it->value, it->len, body, body_len, err);
    if (st == TD_OK && td_sha256_hex((const uint8_t *)*body, *body_len, value) != TD_OK) {
        td__free(*body);
        *body = NULL;
        st = td__error_set(err, TD_ERR_INTERNAL, "SHA-256 failed");
    }
    return st;
}

/* One item on its own: whatever a batch did not settle (retractions, bodies, an addition the
 * bank held already). tried: the item's insert was tried in a batch and found it held. */
static td_status apply_one(td_store_conn *c, int64_t bank_id, const char *source, int64_t now,
                           td__sync_item *it, size_t i, int tried, td__sync_counts *counts,
                           int64_t *first_new, td_error *err)
{
    td_status st = TD_OK;
    char value[65];
    const char *labels = it->labels ? it->labels : "";
    char *body = NULL;
    size_t body_len = 0;
    existing cur;
    it->signal_id = 0;
    it->outcome = TD__SYNC_UNCHANGED;
    if ((st = item_value(it, value, &body, &body_len, err))) {
        td__error_prefix(err, "item %zu", i + 1);
        return st;
    }
    if (!it->remove && !tried) {
        int added = 0;
        if ((st = insert_new(c, bank_id, it, value, body, body_len, labels, source, now,
                             &it->signal_id, &added, err)))
            goto next;
        if (added) {
            if (!*first_new || it->signal_id < *first_new)
                *first_new = it->signal_id;
            it->outcome = TD__SYNC_ADDED;
            counts->added++;
            goto next;
        }
    }
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
            (st = td__log_change(c, TD__CHANGE_REMOVE, bank_id, cur.id, it->type, value, now, err)))
            goto next;
        if ((st = run_id(c, "DELETE FROM signals WHERE id = $1", cur.id, INT64_MIN, NULL, err)))
            goto next;
        it->outcome = TD__SYNC_REMOVED;
        counts->removed++;
        goto next;
    }
    if (!cur.found) { /* the insert found it, and now it is gone: not in this transaction */
        st = td__error_set(err, TD_ERR_INTERNAL, "item %zu: the signal vanished", i + 1);
        goto next;
    }
    it->signal_id = cur.id;
    if (!cur.own) {
        counts->unchanged++;
        goto next;
    }
    int changed = 0;
    if (strcmp(cur.labels, labels) != 0) {
        if ((st =
                 run_id(c, "UPDATE signals SET labels = $2 WHERE id = $1", cur.id, 0, labels, err)))
            goto next;
        changed = 1;
    }
    if (!cur.enabled) {
        if ((st = run_id(c, "UPDATE signals SET enabled = 1 WHERE id = $1", cur.id, INT64_MIN, NULL,
                         err)))
            goto next;
        if (td__signal_indexable(it->type, cur.quality, 1) &&
            (st = td__log_change(c, TD__CHANGE_ADD, bank_id, cur.id, it->type, value, now, err)))
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
    return st;
}

/* ---- additions in batches: one INSERT of BATCH rows (RETURNING the ids of those the bank did
 * not hold) and one change-log INSERT for them, instead of two statements per signal ---- */

#define BATCH 31 /* 4 shared and 3 per-row parameters under the store's 99 */

/* The batch statements for 1..BATCH rows, built once. */
static char insert_sql[BATCH + 1][BATCH * 40 + 256], log_sql[BATCH + 1][BATCH * 40 + 256];
static pthread_once_t sql_once = PTHREAD_ONCE_INIT;

static void build_sql(void)
{
    for (int k = 1; k <= BATCH; k++) {
        char *is = insert_sql[k], *ls = log_sql[k];
        size_t cap = sizeof insert_sql[k];
        size_t n = (size_t)snprintf(is, cap,
                                    "INSERT INTO signals (bank_id, type, value, quality, labels,"
                                    " source, confidence, enabled, added_ms) VALUES ");
        for (int r = 0; r < k; r++) {
            int p = 5 + 3 * r;
            n += (size_t)snprintf(is + n, cap - n, "%s($1, $%d, $%d, -1, $%d, $2, $3, 1, $4)",
                                  r ? ", " : "", p, p + 1, p + 2);
        }
        snprintf(is + n, cap - n,
                 " ON CONFLICT (bank_id, type, value) DO NOTHING RETURNING id, type, value");
        n = (size_t)snprintf(ls, cap,
                             "INSERT INTO changes (kind, signal_id, type, value, at_ms, bank_id)"
                             " VALUES ");
        for (int r = 0; r < k; r++) {
            int p = 4 + 3 * r;
            n += (size_t)snprintf(ls + n, cap - n, "%s($1, $%d, $%d, $%d, $2, $3)", r ? ", " : "",
                                  p, p + 1, p + 2);
        }
    }
}

/* Whether an item can go in a batch: an addition of a hash (not a body) type that
 * td__sync_preadd left alone. */
static int batchable(const td__sync_item *it)
{
    return !it->remove && it->pre == TD__SYNC_PRE_NONE && it->type >= TD_SIGNAL_PDQ &&
           it->type <= TD_SIGNAL_TYPE_MAX && !td_signal_type_has_body(it->type) &&
           td__signal_indexable(it->type, -1, 1);
}

/* Inserts its[0..k) (all batchable, k <= BATCH) with their stored values; sets added[r], and the
 * signal_id and outcome, of the rows the bank did not hold. */
static td_status insert_rows(td_store_conn *c, int64_t bank_id, const char *source, int64_t now,
                             td__sync_item *const *its, const char *const *values, int k,
                             int added[BATCH], td_error *err)
{
    td_stmt *q;
    int row;
    pthread_once(&sql_once, build_sql);
    for (int r = 0; r < k; r++) {
        added[r] = 0;
        its[r]->signal_id = 0;
        its[r]->outcome = TD__SYNC_UNCHANGED;
    }
    int confidence = TD_CONFIDENCE_DEFAULT;
    td_status st;
    if ((st = td_store_prepare(c, insert_sql[k], &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
        (st = td_stmt_bind_text(q, 2, source, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, confidence, err)) ||
        (st = td_stmt_bind_int64(q, 4, now, err)))
        return st;
    for (int r = 0; r < k && st == TD_OK; r++) {
        int p = 5 + 3 * r;
        if ((st = td_stmt_bind_int64(q, p, its[r]->type, err)) == TD_OK &&
            (st = td__value_bind(q, p + 1, its[r]->type, values[r], err)) == TD_OK)
            st = td_stmt_bind_text(q, p + 2, its[r]->labels ? its[r]->labels : "", (size_t)-1, err);
    }
    if (st)
        return st;
    int64_t ids[BATCH];
    int n_new = 0, slot[BATCH];
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        char v[65];
        td_signal_type t = (td_signal_type)td_stmt_column_int64(q, 1);
        if (td__value_column_hex(q, 2, t, v) != 0)
            continue;
        for (int r = 0; r < k; r++)
            if (!added[r] && its[r]->type == t && strcmp(values[r], v) == 0) {
                added[r] = 1;
                its[r]->signal_id = td_stmt_column_int64(q, 0);
                its[r]->outcome = TD__SYNC_ADDED;
                ids[n_new] = its[r]->signal_id;
                slot[n_new++] = r;
                break;
            }
    }
    td_stmt_reset(q);
    if (st || n_new == 0)
        return st;
    if ((st = td_store_prepare(c, log_sql[n_new], &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, TD__CHANGE_ADD, err)) ||
        (st = td_stmt_bind_int64(q, 2, now, err)) || (st = td_stmt_bind_int64(q, 3, bank_id, err)))
        return st;
    for (int j = 0; j < n_new && st == TD_OK; j++) {
        int p = 4 + 3 * j, r = slot[j];
        uint8_t raw[32];
        size_t raw_len = td__signal_raw_len(its[r]->type);
        if ((st = td_stmt_bind_int64(q, p, ids[j], err)) ||
            (st = td_stmt_bind_int64(q, p + 1, its[r]->type, err)))
            break;
        /* As td__log_change writes values: raw bytes of a valid hash. */
        if (raw_len && strlen(values[r]) == 2 * raw_len &&
            td__hex_decode(values[r], 2 * raw_len, raw) == 0)
            st = td_stmt_bind_blob(q, p + 2, raw, raw_len, err);
        else
            st = td_stmt_bind_text(q, p + 2, values[r], (size_t)-1, err);
    }
    return st ? st : td_stmt_run(q, NULL, err);
}

/* Inserts items[0..k) (all batchable, k <= BATCH), counting those the bank did not hold. */
static td_status insert_batch(td_store_conn *c, int64_t bank_id, const char *source, int64_t now,
                              td__sync_item *items, int k, size_t first, int added[BATCH],
                              td__sync_counts *counts, int64_t *first_new, td_error *err)
{
    char values[BATCH][65];
    const char *vals[BATCH];
    td__sync_item *its[BATCH];
    td_status st;
    for (int r = 0; r < k; r++) {
        if ((st = td_signal_value_normalize(items[r].type, items[r].value, items[r].len, values[r],
                                            err))) {
            td__error_prefix(err, "item %zu", first + (size_t)r + 1);
            return st;
        }
        vals[r] = values[r];
        its[r] = &items[r];
    }
    if ((st = insert_rows(c, bank_id, source, now, its, vals, k, added, err)))
        return st;
    for (int r = 0; r < k; r++)
        if (added[r]) {
            counts->added++;
            if (!*first_new || items[r].signal_id < *first_new)
                *first_new = items[r].signal_id;
        }
    return TD_OK;
}

td_status td__sync_apply(td_service *svc, td_store_conn *c, int64_t bank_id, const char *source,
                         td__sync_item *items, size_t n, td__sync_counts *counts,
                         int64_t *first_new, td_error *err)
{
    int64_t now = td__now(svc);
    td_status st = TD_OK;
    for (size_t i = 0; i < n && st == TD_OK;) {
        if (items[i].pre == TD__SYNC_PRE_ADDED) { /* inserted by td__sync_preadd */
            counts->added++;
            if (!*first_new || items[i].signal_id < *first_new)
                *first_new = items[i].signal_id;
            i++;
            continue;
        }
        size_t run = 0;
        while (run < BATCH && i + run < n && batchable(&items[i + run]))
            run++;
        if (run >= 2) {
            int added[BATCH];
            if ((st = insert_batch(c, bank_id, source, now, &items[i], (int)run, i, added, counts,
                                   first_new, err)))
                break;
            for (size_t r = 0; r < run && st == TD_OK; r++)
                if (!added[r])
                    st = apply_one(c, bank_id, source, now, &items[i + r], i + r, 1, counts,
                                   first_new, err);
            i += run;
            continue;
        }
        st = apply_one(c, bank_id, source, now, &items[i], i, items[i].pre == TD__SYNC_PRE_HELD,
                       counts, first_new, err);
        i++;
    }
    return st;
}

/* ---- td__sync_preadd: a group's first additions of each value, in key order ---- */

typedef struct pre_key {
    td_signal_type type;
    char value[65]; /* stored form (canonical hex) */
    size_t at;      /* the item's place */
} pre_key;

static int pre_key_cmp(const void *a, const void *b)
{
    const pre_key *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    int d = strcmp(x->value, y->value);
    if (d)
        return d;
    return x->at < y->at ? -1 : x->at > y->at; /* stable: the first item of a value first */
}

td_status td__sync_preadd(td_service *svc, td_store_conn *c, int64_t bank_id, const char *source,
                          td__sync_item *items, size_t n, td_error *err)
{
    int64_t now = td__now(svc);
    pre_key *keys = n ? td__calloc(n, sizeof *keys) : NULL;
    size_t nk = 0;
    td_status st = TD_OK;
    if (n && !keys)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    /* Every item of a hash type, additions and retractions alike: an addition is inserted early
     * only when no item before it names its value. */
    for (size_t i = 0; i < n; i++) {
        td__sync_item *it = &items[i];
        it->pre = TD__SYNC_PRE_NONE;
        if (it->type < TD_SIGNAL_PDQ || it->type > TD_SIGNAL_TYPE_MAX ||
            td_signal_type_has_body(it->type))
            continue;
        /* A value that does not parse is left to td__sync_apply, which refuses it. */
        if (td_signal_value_normalize(it->type, it->value, it->len, keys[nk].value, NULL) != TD_OK)
            continue;
        keys[nk].type = it->type;
        keys[nk++].at = i;
    }
    if (nk > 1)
        qsort(keys, nk, sizeof *keys, pre_key_cmp);
    td__sync_item *its[BATCH];
    const char *vals[BATCH];
    int k = 0, added[BATCH];
    for (size_t j = 0; j < nk && st == TD_OK; j++) {
        int first = j == 0 || keys[j].type != keys[j - 1].type ||
                    strcmp(keys[j].value, keys[j - 1].value) != 0;
        if (first && batchable(&items[keys[j].at])) {
            its[k] = &items[keys[j].at];
            vals[k++] = keys[j].value;
        }
        if (k == BATCH || (k && j + 1 == nk)) {
            if ((st = insert_rows(c, bank_id, source, now, its, vals, k, added, err)))
                break;
            for (int r = 0; r < k; r++)
                its[r]->pre = added[r] ? TD__SYNC_PRE_ADDED : TD__SYNC_PRE_HELD;
            k = 0;
        }
    }
    td__free(keys);
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
