/* The reports a moderator reviews: a page of reports, newest first (td_report_list). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "reports/reports_int.h"

typedef struct list_args {
    int open_only;
    size_t limit, offset;
    td_report *items;
    size_t count;
} list_args;

static td_status list_body(td_store_conn *c, void *ctx, td_error *err)
{
    list_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    /* Open: the review copy is still held and the case is not closed (a closed case's copy is
     * gone for readers even before a tick deletes it). */
    if ((st = td_store_prepare(c,
                               "SELECT " TD__REPORT_COLUMNS
                               " FROM reports r JOIN content c ON c.id = r.content_ref"
                               " LEFT JOIN cases k ON k.id = r.case_id"
                               " WHERE $1 = 0 OR (r.review_copy = 1 AND COALESCE(k.state, 0) <> $2)"
                               " ORDER BY r.id DESC LIMIT $3 OFFSET $4",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->open_only ? 1 : 0, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_CASE_CLOSED, err)) ||
        (st = td_stmt_bind_int64(q, 3, (int64_t)a->limit, err)) ||
        (st = td_stmt_bind_int64(q, 4, (int64_t)a->offset, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        td__report_row(q, &a->items[a->count++]);
    }
    td_stmt_reset(q);
    return st;
}

td_status td_report_list(td_reports *rep, int open_only, size_t limit, size_t offset,
                         td_report **out, size_t *count, td_error *err)
{
    *out = NULL;
    *count = 0;
    if (limit == 0)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "limit over %d", TD_PAGE_MAX);
    list_args a = {open_only, limit, offset, td__calloc(limit, sizeof(td_report)), 0};
    if (!a.items)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st = td_store_read(rep->svc->store, list_body, &a, err);
    if (st) {
        td__free(a.items);
        return st;
    }
    *out = a.items;
    *count = a.count;
    return TD_OK;
}
