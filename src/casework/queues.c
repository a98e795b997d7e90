/* Review queues (docs/casework.md, "Queues"): which queues a case is in, written to the table
 * case_queues whenever a case opens or its content gains matches, and the counts per queue read
 * back from it in one grouped query (the same SQL on SQLite and PostgreSQL). A case's queues are
 * those of its content: each matched bank, each label of the matches and of the case, the
 * content's source, each incident whose filter a match met. A decided case keeps its queues, so
 * that GET /v1/cases?state=closed&queue=... lists what a queue decided. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

static const struct {
    td_queue_kind kind;
    const char *name;
} kinds[] = {{TD_QUEUE_BANK, "bank"},
             {TD_QUEUE_LABEL, "label"},
             {TD_QUEUE_SOURCE, "source"},
             {TD_QUEUE_INCIDENT, "incident"}};

const char *td_queue_kind_name(td_queue_kind kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind)
            return kinds[i].name;
    return "all";
}

/* The kind of a queue id and where its value starts; -1 when malformed. */
static int queue_parse(const char *id, td_queue_kind *kind, const char **value)
{
    if (strcmp(id, "all") == 0) {
        *kind = TD_QUEUE_ALL;
        *value = NULL;
        return 0;
    }
    size_t n = strnlen(id, TD_QUEUE_ID_MAX + 1);
    if (n > TD_QUEUE_ID_MAX)
        return -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t k = strlen(kinds[i].name);
        if (n > k + 1 && memcmp(id, kinds[i].name, k) == 0 && id[k] == ':') {
            const char *v = id + k + 1;
            /* Values are bank names, labels, sources and ids: printable ASCII without spaces. */
            for (const char *p = v; *p; p++)
                if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                    return -1;
            if (kinds[i].kind == TD_QUEUE_INCIDENT && strspn(v, "0123456789") != strlen(v))
                return -1;
            *kind = kinds[i].kind;
            *value = v;
            return 0;
        }
    }
    return -1;
}

int td_queue_id_valid(const char *id)
{
    td_queue_kind kind;
    const char *value;
    return id && queue_parse(id, &kind, &value) == 0;
}

/* ---- membership ---- */

typedef struct idset {
    char (*v)[TD_QUEUE_ID_MAX + 1];
    size_t n, cap;
} idset;

static td_status idset_add(idset *s, const char *kind, const char *value, td_error *err)
{
    char id[TD_QUEUE_ID_MAX + 1];
    size_t k = strlen(kind), n = strlen(value);
    if (n == 0 || k + 1 + n > TD_QUEUE_ID_MAX)
        return TD_OK; /* nothing stored is that long; never a queue */
    memcpy(id, kind, k);
    id[k] = ':';
    memcpy(id + k + 1, value, n + 1);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], id) == 0)
            return TD_OK;
    td_status st = td__grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v, err);
    if (st == TD_OK)
        memcpy(s->v[s->n++], id, strlen(id) + 1);
    return st;
}

static td_status idset_labels(idset *s, const char *text, td_error *err)
{
    td_labels labels;
    td__labels_load(&labels, text);
    for (int i = 0; i < labels.count; i++) {
        td_status st = idset_add(s, "label", labels.v[i], err);
        if (st)
            return st;
    }
    return TD_OK;
}

td_status td__case_queues_sync(td_store_conn *c, int64_t ref, td_error *err)
{
    td_stmt *q;
    int row;
    idset s = {NULL, 0, 0};
    td_status st = td_store_prepare(c,
                                    "SELECT k.id, k.labels, c.source FROM cases k"
                                    " JOIN content c ON c.id = k.content_ref"
                                    " WHERE k.content_ref = $1 AND k.state <> $2"
                                    " ORDER BY k.id DESC LIMIT 1",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, ref, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_CASE_CLOSED, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row) {
        td_stmt_reset(q);
        return TD_OK;
    }
    int64_t case_id = td_stmt_column_int64(q, 0);
    const char *source = td_stmt_column_text(q, 2);
    st = idset_add(&s, "source", *source ? source : "upload", err);
    if (st == TD_OK)
        st = idset_labels(&s, td_stmt_column_text(q, 1), err);
    td_stmt_reset(q);
    if (st ||
        (st = td_store_prepare(c,
                               "SELECT bank, labels, incident_id FROM matches"
                               " WHERE content_ref = $1 ORDER BY id",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, ref, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        char num[24];
        int64_t incident = td_stmt_column_int64(q, 2);
        if ((st = idset_add(&s, "bank", td_stmt_column_text(q, 0), err)) ||
            (st = idset_labels(&s, td_stmt_column_text(q, 1), err)))
            break;
        if (incident) {
            snprintf(num, sizeof num, "%lld", (long long)incident);
            if ((st = idset_add(&s, "incident", num, err)))
                break;
        }
    }
    td_stmt_reset(q);
    if (st)
        goto out;
    /* Rewritten whole: what the content matches now. */
    if ((st = td_store_prepare(c, "DELETE FROM case_queues WHERE case_id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, case_id, err)) || (st = td_stmt_run(q, NULL, err)))
        goto out;
    for (size_t i = 0; i < s.n; i++)
        if ((st = td_store_prepare(c, "INSERT INTO case_queues (case_id, queue) VALUES ($1, $2)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, case_id, err)) ||
            (st = td_stmt_bind_text(q, 2, s.v[i], (size_t)-1, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            goto out;
out:
    td__free(s.v);
    return st;
}

/* ---- reading ---- */

static int queue_cmp(const void *a, const void *b)
{
    const td_queue *x = a, *y = b;
    if (x->kind == TD_QUEUE_ALL || y->kind == TD_QUEUE_ALL)
        return (y->kind == TD_QUEUE_ALL) - (x->kind == TD_QUEUE_ALL);
    return strcmp(x->id, y->id);
}

/* kind and value from id (value points into id: set again whenever the struct moves). */
static void queue_kind(td_queue *q)
{
    if (queue_parse(q->id, &q->kind, &q->value) != 0) {
        q->kind = TD_QUEUE_LABEL; /* not written by this service: shown as it is */
        q->value = q->id;
    }
}

static void queue_set(td_queue *q, const char *id)
{
    memset(q, 0, sizeof *q);
    td__copy_trunc(q->id, sizeof q->id, id);
    queue_kind(q);
}

static void queue_count(td_queue *q, td_case_state state, int64_t n, int64_t oldest)
{
    if (state == TD_CASE_OPEN)
        q->open += n;
    else if (state == TD_CASE_CLAIMED)
        q->claimed += n;
    else
        q->escalated += n;
    if (n && (!q->oldest_ms || oldest < q->oldest_ms))
        q->oldest_ms = oldest;
}

typedef struct list_ctx {
    td_queue *list;
    size_t n, cap;
} list_ctx;

static td_status list_body(td_store_conn *c, void *ctx, td_error *err)
{
    list_ctx *l = ctx;
    td_stmt *q;
    int row;
    td_status st = td__grow((void **)&l->list, &l->cap, 1, sizeof *l->list, err);
    if (st)
        return st;
    queue_set(&l->list[0], "all");
    l->n = 1;
    /* Undecided cases through the (state, ...) index, each case's queues by its primary key. */
    static const char *const sql[2] = {
        "SELECT state, COUNT(*), MIN(opened_ms) FROM cases WHERE state IN ($1, $2, $3)"
        " GROUP BY state",
        "SELECT q.queue, k.state, COUNT(*), MIN(k.opened_ms) FROM cases k"
        " JOIN case_queues q ON q.case_id = k.id WHERE k.state IN ($1, $2, $3)"
        " GROUP BY q.queue, k.state"};
    for (int pass = 0; pass < 2; pass++) {
        if ((st = td_store_prepare(c, sql[pass], &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, TD_CASE_OPEN, err)) ||
            (st = td_stmt_bind_int64(q, 2, TD_CASE_CLAIMED, err)) ||
            (st = td_stmt_bind_int64(q, 3, TD_CASE_ESCALATED, err)))
            return st;
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
            if (pass == 0) {
                queue_count(&l->list[0], (td_case_state)td_stmt_column_int64(q, 0),
                            td_stmt_column_int64(q, 1), td_stmt_column_int64(q, 2));
                continue;
            }
            const char *id = td_stmt_column_text(q, 0);
            td_queue *at = NULL;
            /* Rows come grouped by queue on both backends' plans, but nothing promises it:
             * look back for the queue (the list is small, and the last one is the usual hit). */
            for (size_t i = l->n; i-- > 1;)
                if (strcmp(l->list[i].id, id) == 0) {
                    at = &l->list[i];
                    break;
                }
            if (!at) {
                if (l->n >= TD_QUEUES_MAX) {
                    st = td__error_set(err, TD_ERR_LIMIT, "more than %d queues", TD_QUEUES_MAX);
                    break;
                }
                if ((st = td__grow((void **)&l->list, &l->cap, l->n + 1, sizeof *l->list, err)))
                    break;
                at = &l->list[l->n++];
                queue_set(at, id);
            }
            queue_count(at, (td_case_state)td_stmt_column_int64(q, 1), td_stmt_column_int64(q, 2),
                        td_stmt_column_int64(q, 3));
        }
        td_stmt_reset(q);
        if (st)
            return st;
    }
    return TD_OK;
}

td_status td_queue_list(td_service *svc, td_queue **out, size_t *count, td_error *err)
{
    list_ctx l = {NULL, 0, 0};
    *out = NULL;
    *count = 0;
    td_status st = td_store_read(svc->store, list_body, &l, err);
    if (st) {
        td__free(l.list);
        return st;
    }
    qsort(l.list, l.n, sizeof *l.list, queue_cmp);
    for (size_t i = 0; i < l.n; i++)
        queue_kind(&l.list[i]);
    *out = l.list;
    *count = l.n;
    return TD_OK;
}

typedef struct case_ctx {
    int64_t case_id;
    list_ctx l;
} case_ctx;

static td_status case_body(td_store_conn *c, void *ctx, td_error *err)
{
    case_ctx *k = ctx;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c, "SELECT queue FROM case_queues WHERE case_id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, k->case_id, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        if ((st = td__grow((void **)&k->l.list, &k->l.cap, k->l.n + 1, sizeof *k->l.list, err)))
            break;
        queue_set(&k->l.list[k->l.n++], td_stmt_column_text(q, 0));
    }
    td_stmt_reset(q);
    return st;
}

td_status td_case_queues(td_service *svc, int64_t case_id, td_queue **out, size_t *count,
                         td_error *err)
{
    case_ctx k = {case_id, {NULL, 0, 0}};
    *out = NULL;
    *count = 0;
    td_status st = td_store_read(svc->store, case_body, &k, err);
    if (st) {
        td__free(k.l.list);
        return st;
    }
    qsort(k.l.list, k.l.n, sizeof *k.l.list, queue_cmp);
    for (size_t i = 0; i < k.l.n; i++)
        queue_kind(&k.l.list[i]);
    *out = k.l.list;
    *count = k.l.n;
    return TD_OK;
}
