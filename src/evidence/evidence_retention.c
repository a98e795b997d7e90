/* Retention of cases: their facts, extension, legal hold, and the purge that destroys the keys of
 * cases whose retention ended (then their files). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "evidence/evidence_int.h"

td_status td__evidence_case_info(td_store_conn *c, const char *ref, td_evidence_case_info *out,
                                 td_error *err)
{
    td_stmt *q;
    int row;
    memset(out, 0, sizeof *out);
    td_status st = td_store_prepare(c,
                                    "SELECT created_ms, retain_until_ms, hold, purged_ms,"
                                    " (SELECT COUNT(*) FROM evidence_items WHERE case_ref = $1)"
                                    " FROM evidence_cases WHERE case_ref = $1",
                                    &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, ref, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: no case %s", ref);
    out->created_ms = td_stmt_column_int64(q, 0);
    out->retain_until_ms = td_stmt_column_int64(q, 1);
    out->hold = (int)td_stmt_column_int64(q, 2);
    out->purged_ms = td_stmt_column_int64(q, 3);
    out->items = td_stmt_column_int64(q, 4);
    td_stmt_reset(q);
    return TD_OK;
}

td_status td_evidence_case(td_evidence *ev, const char *case_ref, td_evidence_case_info *out,
                           td_error *err)
{
    td_store_conn *c;
    memset(out, 0, sizeof *out);
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st)
        return st;
    st = td__evidence_case_info(c, case_ref, out, err);
    td_store_release(ev->store, c);
    return st;
}

typedef struct change_args {
    const char *actor, *case_ref, *reason;
    int64_t until_ms; /* extend, set */
    int hold;         /* -1: extend; -2: set; 0/1: hold */
} change_args;

static td_status change_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    change_args *a = arg;
    td_evidence_case_info info = {0};
    td_stmt *q;
    td_status st = td__evidence_case_info(c, a->case_ref, &info, err);
    if (st)
        return st;
    if (info.purged_ms)
        return td__error_set(err, TD_ERR_CONFLICT, "evidence: case %s was purged", a->case_ref);
    char *details;
    const char *action;
    if (a->hold < 0) {
        int64_t until = a->hold == -2 || a->until_ms > info.retain_until_ms ? a->until_ms
                                                                            : info.retain_until_ms;
        if ((st = td_store_prepare(c,
                                   "UPDATE evidence_cases SET retain_until_ms = $2"
                                   " WHERE case_ref = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, until, err)) || (st = td_stmt_run(q, NULL, err)))
            return st;
        action = a->hold == -2 ? "evidence.retention_set" : "evidence.extend";
        details = td__evidence_dump(json_pack("{s:I,s:I,s:s}", "requested_until_ms",
                                              (json_int_t)a->until_ms, "retain_until_ms",
                                              (json_int_t)until, "reason", a->reason));
    } else {
        if ((st = td_store_prepare(c, "UPDATE evidence_cases SET hold = $2 WHERE case_ref = $1", &q,
                                   err)) ||
            (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, a->hold ? 1 : 0, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            return st;
        action = a->hold ? "evidence.hold" : "evidence.release_hold";
        details = td__evidence_dump(json_pack("{s:s}", "reason", a->reason));
    }
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, action, a->case_ref, details, NULL, err);
    td__free(details);
    return st;
}

static td_status change(td_evidence *ev, change_args *a, td_error *err)
{
    td_status st;
    if ((st = td__evidence_check_text("case reference", a->case_ref, TD__EVIDENCE_MAX_REF, err)) ||
        (st = td__evidence_check_text("actor", a->actor, TD__EVIDENCE_MAX_REF, err)) ||
        (st = td__evidence_check_text("reason", a->reason, TD__EVIDENCE_MAX_TEXT, err)))
        return st;
    return td__evidence_tx(ev, change_body, a, err);
}

td_status td_evidence_extend(td_evidence *ev, const char *actor, const char *case_ref,
                             int64_t until_ms, const char *reason, td_error *err)
{
    change_args a = {actor, case_ref, reason, until_ms, -1};
    return change(ev, &a, err);
}

td_status td_evidence_retain_until(td_evidence *ev, const char *actor, const char *case_ref,
                                   int64_t until_ms, const char *reason, td_error *err)
{
    change_args a = {actor, case_ref, reason, until_ms, -2};
    return change(ev, &a, err);
}

td_status td_evidence_hold(td_evidence *ev, const char *actor, const char *case_ref, int on,
                           const char *reason, td_error *err)
{
    change_args a = {actor, case_ref, reason, 0, on ? 1 : 0};
    return change(ev, &a, err);
}

#define PURGE_BATCH 64

typedef struct purge_args {
    const char *actor;
    int64_t now;
    size_t n_cases;
    char cases[PURGE_BATCH][TD__EVIDENCE_MAX_REF + 1];
} purge_args;

static td_status purge_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    purge_args *a = arg;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c,
                                    "SELECT case_ref FROM evidence_cases WHERE purged_ms = 0"
                                    " AND hold = 0 AND retain_until_ms <= $1"
                                    " ORDER BY retain_until_ms LIMIT 64",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, a->now, err)))
        return st;
    a->n_cases = 0;
    while (a->n_cases < PURGE_BATCH) {
        if ((st = td_stmt_step(q, &row, err)))
            return st;
        if (!row)
            break;
        snprintf(a->cases[a->n_cases++], TD__EVIDENCE_MAX_REF + 1, "%s", td_stmt_column_text(q, 0));
    }
    td_stmt_reset(q);
    for (size_t i = 0; i < a->n_cases; i++) {
        const char *ref = a->cases[i];
        int64_t items = 0;
        /* Overwrite, then drop: with secure_delete the old bytes do not linger in free space. */
        /* The zeros are bound ($2): zeroblob() is SQLite's alone. */
        static const unsigned char zeros[80];
        static const char *const sql[] = {
            "UPDATE evidence_cases SET wrapped_secret = $2 WHERE case_ref = $1",
            "UPDATE evidence_items SET wrapped_key = $2 WHERE case_ref = $1",
            "UPDATE evidence_items SET wrapped_key = NULL WHERE case_ref = $1",
        };
        for (size_t s = 0; s < sizeof sql / sizeof sql[0]; s++)
            if ((st = td_store_prepare(c, sql[s], &q, err)) ||
                (st = td_stmt_bind_text(q, 1, ref, (size_t)-1, err)) ||
                (s < 2 && (st = td_stmt_bind_blob(q, 2, zeros, sizeof zeros, err))) ||
                (st = td_stmt_run(q, s == 2 ? &items : NULL, err)))
                return st;
        if ((st = td_store_prepare(c,
                                   "UPDATE evidence_cases SET wrapped_secret = NULL,"
                                   " purged_ms = $2 WHERE case_ref = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_text(q, 1, ref, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, a->now, err)) || (st = td_stmt_run(q, NULL, err)))
            return st;
        char *details =
            td__evidence_dump(json_pack("{s:I,s:s}", "items", (json_int_t)items, "reason",
                                        "retention ended: case key destroyed"));
        if (!details)
            return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
        st = td_audit_append_in(ev->log, c, a->actor, "evidence.purge", ref, details, NULL, err);
        td__free(details);
        if (st)
            return st;
    }
    return TD_OK;
}

/* Removes the files of a purged case (their keys are gone already). */
static td_status unlink_items(td_evidence *ev, const char *ref, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c, "SELECT id FROM evidence_items WHERE case_ref = $1", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, ref, (size_t)-1, err)))
        goto out;
    for (;;) {
        if ((st = td_stmt_step(q, &row, err)) || !row)
            break;
        char path[4096];
        td__evidence_item_path(ev, td_stmt_column_int64(q, 0), path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT) {
            st = td__error_set(err, TD_ERR_IO, "evidence: cannot delete %s: %s", path,
                               strerror(errno));
            break;
        }
    }
out:
    td_store_release(ev->store, c);
    return st;
}

static int is_sqlite(const td_evidence *ev)
{
    return strcmp(td_store_backend(ev->store), "sqlite") == 0;
}

td_status td_evidence_purge(td_evidence *ev, const char *actor, int64_t *purged, td_error *err)
{
    purge_args *a = td__calloc(1, sizeof *a);
    int64_t total = 0;
    td_status st = TD_OK;
    if (!a)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    a->actor = actor;
    a->now = td__evidence_now(ev);
    do {
        if ((st = td__evidence_tx(ev, purge_body, a, err)))
            break;
        for (size_t i = 0; i < a->n_cases && st == TD_OK; i++)
            st = unlink_items(ev, a->cases[i], err);
        total += (int64_t)a->n_cases;
    } while (st == TD_OK && a->n_cases == PURGE_BATCH);
    if (total && is_sqlite(ev)) {
        /* Push the overwritten pages out of the WAL into the database file. */
        td_store_conn *c;
        if (td_store_acquire(ev->store, 1, &c, NULL) == TD_OK) {
            if (td_store_exec(c, "PRAGMA wal_checkpoint(TRUNCATE)", NULL) != TD_OK) {
                /* Readers hold the WAL; the next checkpoint will do it. */
            }
            td_store_release(ev->store, c);
        }
    }
    td__free(a);
    if (purged)
        *purged = total;
    return st;
}

/* ---- discarding items a caller could not record ----
 * The row goes first (it holds the only copy of the item key, sealed to the case key): once the
 * transaction commits the item cannot be opened even with k custodians, and a crash before the
 * files are removed leaves ciphertext without a key. The file names come from the ids, so a
 * leftover file is overwritten if SQLite gives its id to a later item. */

typedef struct discard_args {
    const char *actor, *case_ref, *reason;
    const int64_t *ids;
    size_t n;
} discard_args;

/* Refuses the discard when an open release request names one of the items: what custodians
 * approve must not change under them. */
static td_status discard_check_requests(td_store_conn *c, const discard_args *a, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c,
                                    "SELECT id, items FROM evidence_requests"
                                    " WHERE case_ref = $1 AND state = $2 AND items <> ''",
                                    &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD__EVIDENCE_REQ_OPEN, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        const char *list = td_stmt_column_text(q, 1);
        for (size_t i = 0; i < a->n; i++)
            if (td__evidence_item_named(list ? list : "", a->ids[i])) {
                long long request = (long long)td_stmt_column_int64(q, 0);
                td_stmt_reset(q);
                return td__error_set(err, TD_ERR_CONFLICT,
                                     "evidence: item %lld is named by open release request %lld",
                                     (long long)a->ids[i], request);
            }
    }
    td_stmt_reset(q);
    return st;
}

static td_status discard_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    discard_args *a = arg;
    static const unsigned char zeros[TD__EVIDENCE_WRAPPED_LEN];
    int64_t bytes = 0;
    td_stmt *q;
    int row;
    td_status st = discard_check_requests(c, a, err);
    if (st)
        return st;
    json_t *items = json_array();
    if (!items)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    for (size_t i = 0; i < a->n; i++) {
        if ((st = td_store_prepare(
                 c, "SELECT bytes FROM evidence_items WHERE id = $1 AND case_ref = $2", &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->ids[i], err)) ||
            (st = td_stmt_bind_text(q, 2, a->case_ref, (size_t)-1, err)) ||
            (st = td_stmt_step(q, &row, err)))
            goto fail;
        if (!row) {
            st = td__error_set(err, TD_ERR_NOT_FOUND, "evidence: case %s has no item %lld",
                               a->case_ref, (long long)a->ids[i]);
            goto fail;
        }
        bytes += td_stmt_column_int64(q, 0);
        td_stmt_reset(q);
        /* Overwritten before the delete, as the purge does, so that the sealed item key does
         * not linger in free pages. */
        static const char *const sql[] = {
            "UPDATE evidence_items SET wrapped_key = $2 WHERE id = $1",
            "DELETE FROM evidence_items WHERE id = $1",
        };
        for (size_t s = 0; s < sizeof sql / sizeof sql[0]; s++)
            if ((st = td_store_prepare(c, sql[s], &q, err)) ||
                (st = td_stmt_bind_int64(q, 1, a->ids[i], err)) ||
                (s == 0 && (st = td_stmt_bind_blob(q, 2, zeros, sizeof zeros, err))) ||
                (st = td_stmt_run(q, NULL, err)))
                goto fail;
        if (json_array_append_new(items, json_integer(a->ids[i])) != 0) {
            st = td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
            goto fail;
        }
    }
    char *details =
        td__evidence_dump(json_pack("{s:o,s:I,s:I,s:s}", "items", items, "count", (json_int_t)a->n,
                                    "bytes", (json_int_t)bytes, "reason", a->reason));
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, "evidence.discard", a->case_ref, details, NULL,
                            err);
    td__free(details);
    return st;
fail:
    json_decref(items);
    return st;
}

td_status td_evidence_discard(td_evidence *ev, const char *actor, const char *case_ref,
                              const int64_t *item_ids, size_t n, const char *reason, td_error *err)
{
    td_status st;
    if ((st = td__evidence_check_text("case reference", case_ref, TD__EVIDENCE_MAX_REF, err)) ||
        (st = td__evidence_check_text("actor", actor, TD__EVIDENCE_MAX_REF, err)) ||
        (st = td__evidence_check_text("reason", reason, TD__EVIDENCE_MAX_TEXT, err)))
        return st;
    if (!item_ids || n == 0)
        return td__error_set(err, TD_ERR_INVALID, "evidence: no item to discard");
    if (n > TD_EVIDENCE_DISCARD_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "evidence: more than %d items to discard",
                             TD_EVIDENCE_DISCARD_MAX);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (item_ids[i] == item_ids[j])
                return td__error_set(err, TD_ERR_INVALID, "evidence: item %lld named twice",
                                     (long long)item_ids[i]);
    discard_args a = {actor, case_ref, reason, item_ids, n};
    if ((st = td__evidence_tx(ev, discard_body, &a, err)))
        return st;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        td__evidence_item_path(ev, item_ids[i], path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT && st == TD_OK)
            st = td__error_set(err, TD_ERR_IO, "evidence: item %lld discarded, but %s: %s",
                               (long long)item_ids[i], path, strerror(errno));
    }
    return st;
}
