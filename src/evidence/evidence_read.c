/* Reading the evidence store's metadata: status, custodians, cases, items and release requests.
 * Nothing here opens a sealed item or a key. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "evidence/evidence_int.h"

/* One integer from a query with at most one parameter $1: the text param, or else (param NULL)
 * the integer number when it is not negative. */
static td_status scalar_with(td_store_conn *c, const char *sql, const char *param, int64_t number,
                             int64_t *out, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st = td_store_prepare(c, sql, &q, err);
    if (st || (param && (st = td_stmt_bind_text(q, 1, param, (size_t)-1, err))) ||
        (!param && number >= 0 && (st = td_stmt_bind_int64(q, 1, number, err))) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    *out = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

/* The same with a text parameter or none (NULL). */
static td_status scalar(td_store_conn *c, const char *sql, const char *param, int64_t *out,
                        td_error *err)
{
    return scalar_with(c, sql, param, -1, out, err);
}

td_status td_evidence_get_status(td_evidence *ev, td_evidence_status *out, td_error *err)
{
    td_store_conn *c;
    td__evidence_master m;
    int64_t created = 0;
    memset(out, 0, sizeof *out);
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st)
        return st;
    st = td__evidence_load_master(c, &m, err);
    if (st == TD_OK) {
        out->has_master = 1;
        out->k = m.k;
        out->n = m.n;
        st = scalar(c, "SELECT created_ms FROM evidence_master WHERE id = 1", NULL, &created, err);
        out->master_created_ms = created;
    } else if (st == TD_ERR_NOT_FOUND) {
        st = TD_OK;
    }
    if (st == TD_OK)
        st = scalar(c, "SELECT COUNT(*) FROM evidence_cases WHERE purged_ms = 0", NULL, &out->cases,
                    err);
    if (st == TD_OK)
        st = scalar(c, "SELECT COUNT(*) FROM evidence_cases WHERE purged_ms = 0 AND hold <> 0",
                    NULL, &out->cases_held, err);
    if (st == TD_OK)
        st = scalar(c, "SELECT COUNT(*) FROM evidence_cases WHERE purged_ms <> 0", NULL,
                    &out->cases_purged, err);
    if (st == TD_OK)
        st = scalar(c,
                    "SELECT COUNT(*) FROM evidence_items i JOIN evidence_cases c"
                    " ON c.case_ref = i.case_ref WHERE c.purged_ms = 0",
                    NULL, &out->items, err);
    if (st == TD_OK)
        st = scalar_with(c, "SELECT COUNT(*) FROM evidence_requests WHERE state = $1", NULL,
                         TD__EVIDENCE_REQ_OPEN, &out->requests_open, err);
    td_store_release(ev->store, c);
    return st;
}

static void custodian_item(td_stmt *q, void *item)
{
    td_evidence_custodian *k = item;
    k->x = (unsigned)td_stmt_column_int64(q, 0);
    snprintf(k->name, sizeof k->name, "%s", td_stmt_column_text(q, 1));
}

td_status td_evidence_custodians(td_evidence *ev, td_evidence_custodian **out, size_t *count,
                                 td_error *err)
{
    /* at most TD_SHAMIR_MAX_SHARES rows: one per share, written by the key ceremony */
    return td_store_read_rows(ev->store, "SELECT x, name FROM evidence_custodians ORDER BY x", NULL,
                              0, TD_SHAMIR_MAX_SHARES, sizeof **out, custodian_item, (void **)out,
                              count, err);
}

static void case_item(td_stmt *q, void *item)
{
    td_evidence_case_summary *s = item;
    snprintf(s->case_ref, sizeof s->case_ref, "%s", td_stmt_column_text(q, 0));
    s->info.created_ms = td_stmt_column_int64(q, 1);
    s->info.retain_until_ms = td_stmt_column_int64(q, 2);
    s->info.hold = (int)td_stmt_column_int64(q, 3);
    s->info.purged_ms = td_stmt_column_int64(q, 4);
    s->info.items = td_stmt_column_int64(q, 5);
}

td_status td_evidence_case_list(td_evidence *ev, size_t limit, size_t offset,
                                td_evidence_case_summary **out, size_t *count, td_error *err)
{
    *out = NULL;
    *count = 0;
    if (limit == 0)
        limit = 100;
    if (limit > 1000 || offset > (size_t)INT64_MAX)
        return td__error_set(err, TD_ERR_INVALID, "evidence: at most 1000 cases per page");
    const int64_t binds[2] = {(int64_t)limit, (int64_t)offset};
    return td_store_read_rows(ev->store,
                              "SELECT case_ref, created_ms, retain_until_ms, hold, purged_ms,"
                              " (SELECT COUNT(*) FROM evidence_items i"
                              "  WHERE i.case_ref = evidence_cases.case_ref)"
                              " FROM evidence_cases ORDER BY created_ms DESC, case_ref"
                              " LIMIT $1 OFFSET $2",
                              binds, 2, limit, sizeof **out, case_item, (void **)out, count, err);
}

td_status td_evidence_item_list(td_evidence *ev, const char *case_ref, td_evidence_item_info **out,
                                size_t *count, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    size_t n = 0, cap = 0;
    td_evidence_item_info *list = NULL;
    td_evidence_case_info info;
    *out = NULL;
    *count = 0;
    td_status st = td__evidence_check_text("case reference", case_ref, TD__EVIDENCE_MAX_REF, err);
    if (st || (st = td_store_acquire(ev->store, 0, &c, err)))
        return st;
    if ((st = td__evidence_case_info(c, case_ref, &info, err)) ||
        (st = td_store_prepare(c,
                               "SELECT id, label, bytes, sealed_ms, removal_ms,"
                               " wrapped_key IS NULL FROM evidence_items WHERE case_ref = $1"
                               " ORDER BY id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, case_ref, (size_t)-1, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        if (n == TD_EVIDENCE_ITEMS_MAX) {
            st = td__error_set(err, TD_ERR_LIMIT, "evidence: case '%s' has more than %d items",
                               case_ref, TD_EVIDENCE_ITEMS_MAX);
            td_stmt_reset(q);
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            td_evidence_item_info *nl = td__mallocarray(ncap, sizeof *nl);
            if (!nl) {
                st = td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
                td_stmt_reset(q);
                break;
            }
            if (n)
                memcpy(nl, list, n * sizeof *nl);
            td__free(list);
            list = nl;
            cap = ncap;
        }
        td_evidence_item_info *it = &list[n++];
        it->id = td_stmt_column_int64(q, 0);
        snprintf(it->label, sizeof it->label, "%s", td_stmt_column_text(q, 1));
        it->bytes = td_stmt_column_int64(q, 2);
        it->sealed_ms = td_stmt_column_int64(q, 3);
        it->removal_ms = td_stmt_column_int64(q, 4);
        it->destroyed = (int)td_stmt_column_int64(q, 5);
    }
    if (st == TD_OK)
        td_stmt_reset(q);
out:
    td_store_release(ev->store, c);
    if (st) {
        td__free(list);
        return st;
    }
    *out = list;
    *count = n;
    return TD_OK;
}

td_status td_evidence_request_get(td_evidence *ev, int64_t request_id,
                                  td_evidence_request_info *out, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    td__evidence_master m;
    int64_t approvals = 0;
    memset(out, 0, sizeof *out);
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT requester, legal_basis, purpose, case_ref, state,"
                               " created_ms, released_ms,"
                               " (SELECT COUNT(*) FROM evidence_approvals a"
                               "  WHERE a.request_id = evidence_requests.id)"
                               " FROM evidence_requests WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, request_id, err)) || (st = td_stmt_step(q, &row, err)))
        goto out;
    if (!row) {
        st = td__error_set(err, TD_ERR_NOT_FOUND, "evidence: no release request %lld",
                           (long long)request_id);
        goto out;
    }
    out->id = request_id;
    snprintf(out->requester, sizeof out->requester, "%s", td_stmt_column_text(q, 0));
    snprintf(out->legal_basis, sizeof out->legal_basis, "%s", td_stmt_column_text(q, 1));
    snprintf(out->purpose, sizeof out->purpose, "%s", td_stmt_column_text(q, 2));
    snprintf(out->case_ref, sizeof out->case_ref, "%s", td_stmt_column_text(q, 3));
    out->released = td_stmt_column_int64(q, 4) != TD__EVIDENCE_REQ_OPEN;
    out->created_ms = td_stmt_column_int64(q, 5);
    out->released_ms = td_stmt_column_int64(q, 6);
    approvals = td_stmt_column_int64(q, 7);
    td_stmt_reset(q);
    out->approvals = approvals > 0 ? (unsigned)approvals : 0;
    st = td__evidence_load_master(c, &m, err);
    if (st == TD_OK)
        out->need = m.k;
    else if (st == TD_ERR_NOT_FOUND)
        st = TD_OK;
out:
    td_store_release(ev->store, c);
    if (st == TD_OK)
        out->held = td__evidence_shares_held(ev, request_id);
    return st;
}

td_status td_evidence_request_list(td_evidence *ev, td_evidence_request_filter filter, size_t limit,
                                   size_t offset, td_evidence_request_info **out, size_t *count,
                                   td_error *err)
{
    /* $1 = the open state, $2 = k, $3 = limit, $4 = offset; every statement uses each (a
     * parameter PostgreSQL could not type is refused). */
    static const char *const sql[] = {
        "SELECT id FROM evidence_requests WHERE state >= $1 AND created_ms + $2 >= 0 ORDER BY id "
        "DESC"
        " LIMIT $3 OFFSET $4",
        "SELECT id FROM evidence_requests WHERE state = $1 AND (SELECT COUNT(*) FROM"
        " evidence_approvals a WHERE a.request_id = evidence_requests.id) < $2"
        " ORDER BY id DESC LIMIT $3 OFFSET $4",
        "SELECT id FROM evidence_requests WHERE state = $1 AND (SELECT COUNT(*) FROM"
        " evidence_approvals a WHERE a.request_id = evidence_requests.id) >= $2"
        " ORDER BY id DESC LIMIT $3 OFFSET $4",
        "SELECT id FROM evidence_requests WHERE state <> $1 AND created_ms + $2 >= 0 ORDER BY id "
        "DESC"
        " LIMIT $3 OFFSET $4",
    };
    td_store_conn *c;
    td_stmt *q;
    td__evidence_master m;
    int row;
    int64_t ids[TD_EVIDENCE_REQUESTS_MAX];
    size_t n = 0;
    *out = NULL;
    *count = 0;
    if ((unsigned)filter > TD_EVIDENCE_REQUESTS_RELEASED || limit < 1 ||
        limit > TD_EVIDENCE_REQUESTS_MAX || offset > INT32_MAX)
        return td__error_set(err, TD_ERR_INVALID,
                             "evidence: request list filter 0..3, limit 1..%d, offset 0..%d",
                             TD_EVIDENCE_REQUESTS_MAX, INT32_MAX);
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st)
        return st;
    int64_t k = 0;
    st = td__evidence_load_master(c, &m, err);
    if (st == TD_OK)
        k = m.k;
    else if (st == TD_ERR_NOT_FOUND)
        st = TD_OK;
    if (st == TD_OK && (st = td_store_prepare(c, sql[filter], &q, err)) == TD_OK &&
        !(st = td_stmt_bind_int64(q, 1, TD__EVIDENCE_REQ_OPEN, err)) &&
        !(st = td_stmt_bind_int64(q, 2, k, err)) &&
        !(st = td_stmt_bind_int64(q, 3, (int64_t)limit, err)) &&
        !(st = td_stmt_bind_int64(q, 4, (int64_t)offset, err))) {
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
            if (n == limit) {
                td_stmt_reset(q);
                break;
            }
            ids[n++] = td_stmt_column_int64(q, 0);
        }
    }
    td_store_release(ev->store, c);
    if (st)
        return st;
    td_evidence_request_info *list = td__mallocarray(n ? n : 1, sizeof *list);
    if (!list)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    for (size_t i = 0; i < n; i++) {
        if ((st = td_evidence_request_get(ev, ids[i], &list[i], err))) {
            td__free(list);
            return st;
        }
    }
    *out = list;
    *count = n;
    return TD_OK;
}
