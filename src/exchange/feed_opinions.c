/* Opinions of peers on this instance's signals (feeds.h): what a subscriber saw and what its
 * reviewers decided, sent back so that the publisher's moderators see how a signal fares
 * elsewhere. Each (signal, key, opinion) is one row: a repeat changes nothing, so a subscriber
 * may resend after a failure without counting twice. */
#include <jansson.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "exchange/feed_int.h"

static const char *const names[] = {NULL, "seen", "true_positive", "false_positive"};

const char *td_feed_opinion_name(td_feed_opinion o)
{
    return o >= 1 && o <= TD_FEED_OPINION_KINDS ? names[o] : "?";
}

td_status td_feed_opinion_parse(const char *name, td_feed_opinion *out)
{
    for (int i = 1; name && i <= TD_FEED_OPINION_KINDS; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (td_feed_opinion)i;
            return TD_OK;
        }
    return TD_ERR_INVALID;
}

typedef struct add_ctx {
    td_feeds *f;
    const td_principal *who;
    const char *bank;
    const td_feed_opinion_input *in;
    size_t n;
    td_feed_opinion_result *results;
} add_ctx;

static td_status add_body(td_store_conn *c, void *ctx, td_error *err)
{
    add_ctx *a = ctx;
    td_stmt *q;
    int row;
    int64_t bank_id, now = td__now(a->f->svc);
    td_status st = td__bank_id(c, a->bank, &bank_id, err);
    if (st)
        return st;
    for (size_t i = 0; i < a->n; i++) {
        int64_t changed = 0;
        if ((st = td_store_prepare(c, "SELECT 1 FROM signals WHERE id = $1 AND bank_id = $2", &q,
                                   err)) ||
            (st = td_stmt_bind_int64(q, 1, a->in[i].signal_id, err)) ||
            (st = td_stmt_bind_int64(q, 2, bank_id, err)) || (st = td_stmt_step(q, &row, err)))
            return st;
        td_stmt_reset(q);
        if (!row) {
            a->results[i] = TD_FEED_OPINION_NOT_FOUND;
            continue;
        }
        if ((st = td_store_prepare(c,
                                   "INSERT INTO feed_opinions (signal_id, bank_id, key_id,"
                                   " key_name, opinion, at_ms) VALUES ($1, $2, $3, $4, $5, $6)"
                                   " ON CONFLICT (signal_id, key_id, opinion) DO NOTHING",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->in[i].signal_id, err)) ||
            (st = td_stmt_bind_int64(q, 2, bank_id, err)) ||
            (st = td_stmt_bind_int64(q, 3, a->who ? a->who->id : 0, err)) ||
            (st = td_stmt_bind_text(q, 4, a->who ? a->who->name : "system", (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 5, a->in[i].opinion, err)) ||
            (st = td_stmt_bind_int64(q, 6, now, err)) || (st = td_stmt_run(q, &changed, err)))
            return st;
        a->results[i] = changed ? TD_FEED_OPINION_STORED : TD_FEED_OPINION_UNCHANGED;
        if (changed &&
            (st = td__audit_id(a->f->svc, c, a->who, "feed.opinion", "signal", a->in[i].signal_id,
                               json_pack("{s:s, s:I, s:s}", "bank", a->bank, "bank_id",
                                         (json_int_t)bank_id, "opinion",
                                         td_feed_opinion_name(a->in[i].opinion)),
                               err)))
            return st;
    }
    return TD_OK;
}

td_status td_feed_opinions_add(td_feeds *f, const td_principal *who, const char *bank,
                               const td_feed_opinion_input *in, size_t n,
                               td_feed_opinion_result *results, td_error *err)
{
    if (n == 0 || n > TD_FEED_OPINIONS_MAX)
        return td__error_set(err, n ? TD_ERR_LIMIT : TD_ERR_INVALID, "1..%d opinions at a time",
                             TD_FEED_OPINIONS_MAX);
    for (size_t i = 0; i < n; i++)
        if (in[i].opinion < 1 || in[i].opinion > TD_FEED_OPINION_KINDS)
            return td__error_set(err, TD_ERR_INVALID, "opinion %zu: unknown kind", i);
    add_ctx a = {f, who, bank, in, n, results};
    return td_store_write(f->svc->store, add_body, &a, err);
}

/* Rows (signal_id, opinion, count, latest) ordered by signal id fold into counts. */
typedef struct list_ctx {
    const char *bank;
    int64_t after, first, last; /* first..last: one signal (td_feed_opinions_of) when first */
    size_t limit;
    td_feed_opinion_counts *out;
    size_t n;
} list_ctx;

static td_status list_body(td_store_conn *c, void *ctx, td_error *err)
{
    list_ctx *l = ctx;
    td_stmt *q;
    int row;
    int64_t bank_id = 0;
    td_status st;
    if (l->bank && (st = td__bank_id(c, l->bank, &bank_id, err)))
        return st;
    if (l->first) {
        if ((st = td_store_prepare(c,
                                   "SELECT signal_id, opinion, COUNT(*), MAX(at_ms)"
                                   " FROM feed_opinions WHERE signal_id = $1"
                                   " GROUP BY signal_id, opinion",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, l->first, err)))
            return st;
    } else if ((st = td_store_prepare(c,
                                      "SELECT signal_id, opinion, COUNT(*), MAX(at_ms)"
                                      " FROM feed_opinions WHERE bank_id = $1 AND signal_id IN"
                                      " (SELECT DISTINCT signal_id FROM feed_opinions"
                                      " WHERE bank_id = $1 AND signal_id > $2"
                                      " ORDER BY signal_id LIMIT $3)"
                                      " GROUP BY signal_id, opinion ORDER BY signal_id",
                                      &q, err)) ||
               (st = td_stmt_bind_int64(q, 1, bank_id, err)) ||
               (st = td_stmt_bind_int64(q, 2, l->after, err)) ||
               (st = td_stmt_bind_int64(q, 3, (int64_t)l->limit, err))) {
        return st;
    }
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        int64_t sid = td_stmt_column_int64(q, 0);
        int kind = (int)td_stmt_column_int64(q, 1);
        if (!l->n || l->out[l->n - 1].signal_id != sid) {
            if (l->n == l->limit)
                break;
            memset(&l->out[l->n], 0, sizeof l->out[0]);
            l->out[l->n++].signal_id = sid;
        }
        td_feed_opinion_counts *k = &l->out[l->n - 1];
        if (kind >= 1 && kind <= TD_FEED_OPINION_KINDS)
            k->count[kind] = (uint64_t)td_stmt_column_int64(q, 2);
        int64_t at = td_stmt_column_int64(q, 3);
        if (at > k->last_ms)
            k->last_ms = at;
    }
    td_stmt_reset(q);
    return st;
}

td_status td_feed_opinions_list(td_feeds *f, const char *bank, int64_t after_id, size_t limit,
                                td_feed_opinion_counts **out, size_t *count, td_error *err)
{
    *out = NULL;
    *count = 0;
    if (limit == 0)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d signals at a time", TD_PAGE_MAX);
    list_ctx l = {bank, after_id, 0, 0, limit, td__calloc(limit, sizeof(td_feed_opinion_counts)),
                  0};
    if (!l.out)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st = td_store_read(f->svc->store, list_body, &l, err);
    if (st) {
        td__free(l.out);
        return st;
    }
    *out = l.out;
    *count = l.n;
    return TD_OK;
}

td_status td_feed_opinions_of(td_feeds *f, int64_t signal_id, td_feed_opinion_counts *out,
                              td_error *err)
{
    list_ctx l = {NULL, 0, signal_id, signal_id, 1, out, 0};
    memset(out, 0, sizeof *out);
    td_status st = td_store_read(f->svc->store, list_body, &l, err);
    out->signal_id = signal_id;
    return st;
}
