/* One pull of an exchange: pages fetched through its client, each applied with its checkpoint in
 * one transaction (exchange_int.h), until the source has nothing more.
 *
 * A page's items become signal changes of the target bank (casework/sync.c) under the source
 * "exchange:<name>": additions (filtered by the exchange's signal types and tags), retractions of
 * the exchange's own signals, and negative entries (retracted here, added to the allow bank when
 * the exchange has one). A resync (the source called the checkpoint stale) starts over from the
 * beginning under a new generation; the page that ends it retracts every signal of the exchange
 * that the resync did not see again. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "exchange/exchange_int.h"

#define CHUNK 512

static int type_taken(unsigned types, td_signal_type t) { return !types || (types & (1u << t)); }

/* Whether `have` (labels joined by single spaces) carries one of want's (none: any). */
static int tags_taken(const td_labels *want, const char *have)
{
    if (want->count == 0)
        return 1;
    for (int i = 0; i < want->count; i++) {
        size_t n = strlen(want->v[i]);
        for (const char *at = have; (at = strstr(at, want->v[i])) != NULL; at += n)
            if ((at == have || at[-1] == ' ') && (at[n] == ' ' || at[n] == '\0'))
                return 1;
    }
    return 0;
}

static int64_t backoff(const td_exchanges *ex, int failures, int64_t retry_after_ms)
{
    int64_t d = ex->opts.backoff_min_ms;
    for (int i = 1; i < failures && d < ex->opts.backoff_max_ms; i++)
        d *= 2;
    if (retry_after_ms > d)
        d = retry_after_ms;
    return d < ex->opts.backoff_max_ms ? d : ex->opts.backoff_max_ms;
}

static const char *outcome_name(td__xfetch o)
{
    switch (o) {
    case TD__XFETCH_OK: return "ok";
    case TD__XFETCH_RETRY: return "retry";
    case TD__XFETCH_MALFORMED: return "malformed";
    case TD__XFETCH_AUTH: return "auth";
    case TD__XFETCH_FAILED: return "failed";
    }
    return "failed";
}

/* Records a failed fetch or a refused page: counts, the error, the next try, an audit entry. */
static td_status record_failure(td_exchanges *ex, int64_t id, int consecutive, td__xfetch outcome,
                                long status, int64_t retry_after_ms, const char *message,
                                const td__xpage *page, const char *from, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int64_t now = td__now(ex->svc);
    int64_t next = now + backoff(ex, consecutive + 1, retry_after_ms);
    char text[TD_ERROR_TEXT_MAX + 1], sha[65];
    snprintf(text, sizeof text, "%s: %s", outcome_name(outcome), message);
    td__hex_encode(page->sha256, 32, sha);
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    json_t *d = json_pack("{s:s, s:s, s:I, s:s}", "outcome", outcome_name(outcome), "error", text,
                          "status", (json_int_t)status, "from", from);
    if (d && page->bytes) {
        json_object_set_new(d, "sha256", json_string(sha));
        json_object_set_new(d, "bytes", json_integer((json_int_t)page->bytes));
    }
    if ((st = td_store_begin(c, err)) ||
        (st = td_store_prepare(c,
                               "UPDATE exchanges SET last_fetch_ms = $2, failures = failures + 1,"
                               " consecutive_failures = consecutive_failures + 1,"
                               " last_error = $3, next_fetch_ms = $4 WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_bind_int64(q, 2, now, err)) ||
        (st = td_stmt_bind_text(q, 3, text, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, next, err)) || (st = td_stmt_run(q, NULL, err))) {
        json_decref(d);
        goto out;
    }
    if ((st = td__exchange_audit(ex, c, NULL,
                                 outcome == TD__XFETCH_MALFORMED ? "exchange.page_refused"
                                                                 : "exchange.fetch_failed",
                                 id, d, err)) ||
        (st = td_store_commit(c, err)))
        goto out;
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    return st;
}

/* The stored checkpoint, generation and resync flag of exchange id (on c). */
static td_status read_state(td_store_conn *c, int64_t id, char checkpoint[TD__XCHECKPOINT_MAX + 1],
                            int64_t *generation, int *resyncing, int *found, td_error *err)
{
    td_stmt *q;
    td_status st = td_store_prepare(
        c, "SELECT checkpoint, generation, resyncing FROM exchanges WHERE id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, found, err)))
        return st;
    if (*found) {
        td__copy_trunc(checkpoint, TD__XCHECKPOINT_MAX + 1, td_stmt_column_text(q, 0));
        *generation = td_stmt_column_int64(q, 1);
        *resyncing = (int)td_stmt_column_int64(q, 2);
    }
    td_stmt_reset(q);
    return TD_OK;
}

/* Starts a resync: checkpoint "", a new generation. */
static td_status start_resync(td_exchanges *ex, int64_t id, const char *from, int *moved,
                              td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int64_t n = 0;
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    if ((st = td_store_begin(c, err)) ||
        (st = td_store_prepare(c,
                               "UPDATE exchanges SET checkpoint = '', resyncing = 1,"
                               " generation = generation + 1 WHERE id = $1 AND checkpoint = $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_text(q, 2, from, (size_t)-1, err)) || (st = td_stmt_run(q, &n, err)))
        goto out;
    *moved = n == 0;
    if (n && (st = td__exchange_audit(ex, c, NULL, "exchange.resync", id,
                                      json_pack("{s:s}", "stale_checkpoint", from), err)))
        goto out;
    st = td_store_commit(c, err);
out:
    if (st && td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    return st;
}

/* Keeps what the exchange brought: the signal, its external id, the generation that saw it. */
static td_status remember(td_store_conn *c, int64_t id, const td__sync_item *it,
                          const td__xitem *src, int64_t generation, td_error *err)
{
    td_stmt *q;
    td_status st;
    if (!it->signal_id || it->outcome == TD__SYNC_ABSENT)
        return TD_OK;
    if (it->outcome == TD__SYNC_REMOVED) {
        if ((st = td_store_prepare(c,
                                   "DELETE FROM exchange_items WHERE exchange_id = $1"
                                   " AND signal_id = $2",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, id, err)) ||
            (st = td_stmt_bind_int64(q, 2, it->signal_id, err)))
            return st;
        return td_stmt_run(q, NULL, err);
    }
    if ((st = td_store_prepare(c,
                               "INSERT INTO exchange_items (exchange_id, signal_id, external_id,"
                               " generation) VALUES ($1, $2, $3, $4)"
                               " ON CONFLICT (exchange_id, signal_id) DO UPDATE SET"
                               " external_id = excluded.external_id,"
                               " generation = excluded.generation",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_int64(q, 2, it->signal_id, err)) ||
        (st = td_stmt_bind_text(q, 3, src->external_id, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, generation, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

/* ---- the signals a page added, remembered REMEMBER_BATCH rows per statement (one statement
 * per item cost as much as the signal's own insert) ---- */

#define REMEMBER_BATCH 48 /* 2 shared and 2 per-row parameters under the store's 99 */

static char remember_sql[REMEMBER_BATCH + 1][REMEMBER_BATCH * 24 + 256];
static pthread_once_t remember_once = PTHREAD_ONCE_INIT;

static void build_remember_sql(void)
{
    for (int k = 1; k <= REMEMBER_BATCH; k++) {
        char *s = remember_sql[k];
        size_t cap = sizeof remember_sql[k];
        size_t n = (size_t)snprintf(s, cap,
                                    "INSERT INTO exchange_items (exchange_id, signal_id,"
                                    " external_id, generation) VALUES ");
        for (int r = 0; r < k; r++)
            n += (size_t)snprintf(s + n, cap - n, "%s($1, $%d, $%d, $2)", r ? ", " : "", 3 + 2 * r,
                                  4 + 2 * r);
        snprintf(s + n, cap - n,
                 " ON CONFLICT (exchange_id, signal_id) DO UPDATE SET"
                 " external_id = excluded.external_id, generation = excluded.generation");
    }
}

static td_status remember_added(td_store_conn *c, int64_t id, const td__sync_item *const *its,
                                const td__xitem *const *srcs, int k, int64_t generation,
                                td_error *err)
{
    td_stmt *q;
    td_status st;
    pthread_once(&remember_once, build_remember_sql);
    if ((st = td_store_prepare(c, remember_sql[k], &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_int64(q, 2, generation, err)))
        return st;
    for (int r = 0; r < k; r++)
        if ((st = td_stmt_bind_int64(q, 3 + 2 * r, its[r]->signal_id, err)) ||
            (st = td_stmt_bind_text(q, 4 + 2 * r, srcs[r]->external_id, (size_t)-1, err)))
            return st;
    return td_stmt_run(q, NULL, err);
}

/* Remembers items[0..n) in order: runs of new signals in batches, the others one by one (a
 * page can add a hash and retract it again). */
static td_status remember_all(td_store_conn *c, int64_t id, const td__sync_item *items,
                              const td__xitem *const *from, size_t n, int64_t generation,
                              td_error *err)
{
    const td__sync_item *its[REMEMBER_BATCH];
    const td__xitem *srcs[REMEMBER_BATCH];
    int k = 0;
    td_status st = TD_OK;
    for (size_t i = 0; i < n && st == TD_OK; i++) {
        if (items[i].pre == TD__SYNC_PRE_ADDED)
            continue; /* remembered by remember_early */
        if (items[i].outcome != TD__SYNC_ADDED || !items[i].signal_id) {
            if (k && (st = remember_added(c, id, its, srcs, k, generation, err)))
                break;
            k = 0;
            st = remember(c, id, &items[i], from[i], generation, err);
            continue;
        }
        its[k] = &items[i];
        srcs[k++] = from[i];
        if (k == REMEMBER_BATCH) {
            st = remember_added(c, id, its, srcs, k, generation, err);
            k = 0;
        }
    }
    if (st == TD_OK && k)
        st = remember_added(c, id, its, srcs, k, generation, err);
    return st;
}

static int by_signal_id(const void *a, const void *b)
{
    int64_t x = (*(const td__sync_item *const *)a)->signal_id,
            y = (*(const td__sync_item *const *)b)->signal_id;
    return x < y ? -1 : x > y;
}

/* Remembers the signals td__sync_preadd added to the bank (items[i].pre), in the order of their
 * ids, which the table's keys then take at their end (in the pages' order the ids of a group come
 * in no order). Each is the first item of its signal in the group: nothing before it in the
 * group's order touches its row. */
static td_status remember_early(td_store_conn *c, int64_t id, const td__sync_item *items,
                                const td__xitem *const *from, size_t n, int64_t generation,
                                td_error *err)
{
    size_t k = 0;
    td_status st = TD_OK;
    for (size_t i = 0; i < n; i++)
        k += items[i].pre == TD__SYNC_PRE_ADDED;
    if (k == 0)
        return TD_OK;
    const td__sync_item **its = td__calloc(k, sizeof *its);
    if (!its)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].pre == TD__SYNC_PRE_ADDED)
            its[k++] = &items[i];
    qsort(its, k, sizeof *its, by_signal_id);
    const td__xitem *srcs[REMEMBER_BATCH];
    for (size_t at = 0; at < k && st == TD_OK; at += REMEMBER_BATCH) {
        int m = k - at < REMEMBER_BATCH ? (int)(k - at) : REMEMBER_BATCH;
        for (int r = 0; r < m; r++)
            srcs[r] = from[its[at + (size_t)r] - items];
        st = remember_added(c, id, its + at, srcs, m, generation, err);
    }
    td__free(its);
    return st;
}

typedef struct sweep_row {
    int64_t id;
    td_signal_type type;
    int quality, enabled;
    char value[65];
} sweep_row;

/* The end of a resync: the exchange's own signals the resync did not see again are retracted. */
static td_status sweep(td_exchanges *ex, td_store_conn *c, int64_t id, int64_t bank_id,
                       const char *source, int64_t generation, uint64_t *removed, td_error *err)
{
    td_stmt *q;
    int r;
    sweep_row *rows = NULL;
    size_t n = 0, cap = 0;
    int64_t now = td__now(ex->svc);
    td_status st = td_store_prepare(c,
                                    "SELECT s.id, s.type, s.quality, s.enabled, s.value"
                                    " FROM exchange_items i JOIN signals s ON s.id = i.signal_id"
                                    " WHERE i.exchange_id = $1 AND i.generation < $2"
                                    " AND s.source = $3 AND s.bank_id = $4",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_int64(q, 2, generation, err)) ||
        (st = td_stmt_bind_text(q, 3, source, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, bank_id, err)))
        return st;
    while ((st = td_stmt_step(q, &r, err)) == TD_OK && r) {
        if ((st = td__grow((void **)&rows, &cap, n + 1, sizeof *rows, err)))
            break;
        sweep_row *w = &rows[n++];
        w->id = td_stmt_column_int64(q, 0);
        w->type = (td_signal_type)td_stmt_column_int64(q, 1);
        w->quality = (int)td_stmt_column_int64(q, 2);
        w->enabled = (int)td_stmt_column_int64(q, 3);
        if (!td__value_column_hex(q, 4, w->type, w->value))
            w->value[0] = '\0';
    }
    td_stmt_reset(q);
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        if (td__signal_indexable(rows[i].type, rows[i].quality, rows[i].enabled) &&
            (st = td__log_change(c, TD__CHANGE_REMOVE, bank_id, rows[i].id, rows[i].type,
                                 rows[i].value, now, err)))
            break;
        if ((st = td_store_prepare(c, "DELETE FROM signals WHERE id = $1", &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, rows[i].id, err)) || (st = td_stmt_run(q, NULL, err)))
            break;
    }
    *removed += st == TD_OK ? n : 0;
    td__free(rows);
    if (st ||
        (st = td_store_prepare(c,
                               "DELETE FROM exchange_items WHERE exchange_id = $1"
                               " AND generation < $2",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) ||
        (st = td_stmt_bind_int64(q, 2, generation, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

/* What one page did to the store. */
typedef struct page_counts {
    td__sync_counts main, allow;
    uint64_t skipped, negative, swept;
    int64_t first_main, first_allow;
} page_counts;

/* The items a group of pages brings to the bank, in the pages' order: page k's are
 * items[start[k] .. start[k + 1]), from[i] the page item of items[i]. */
typedef struct group_items {
    td__sync_item *items;
    const td__xitem **from;
    size_t *start;     /* n pages + 1 */
    uint64_t *skipped; /* per page: additions the exchange's types or tags leave out */
} group_items;

static void group_clear(group_items *g)
{
    td__free(g->items);
    td__free(g->from);
    td__free(g->start);
    td__free(g->skipped);
    memset(g, 0, sizeof *g);
}

/* Takes the items of pages[0..n) the exchange keeps. */
static td_status group_take(const td_exchange *e, td__xpage *const *pages, size_t n, group_items *g,
                            td_error *err)
{
    size_t total = 0, at = 0;
    memset(g, 0, sizeof *g);
    for (size_t k = 0; k < n; k++)
        total += pages[k]->n;
    g->items = td__calloc(total ? total : 1, sizeof *g->items);
    g->from = td__calloc(total ? total : 1, sizeof *g->from);
    g->start = td__calloc(n + 1, sizeof *g->start);
    g->skipped = td__calloc(n ? n : 1, sizeof *g->skipped);
    if (!g->items || !g->from || !g->start || !g->skipped) {
        group_clear(g);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        g->start[k] = at;
        for (size_t i = 0; i < pages[k]->n; i++) {
            const td__xitem *x = &pages[k]->items[i];
            if (!x->remove &&
                (!type_taken(e->types, x->type) || !tags_taken(&e->tags, x->labels))) {
                g->skipped[k]++;
                continue;
            }
            td__sync_item *it = &g->items[at];
            it->remove = x->remove || x->negative;
            it->type = x->type;
            it->value = x->value;
            it->len = x->value_len;
            it->labels = x->labels;
            it->confidence = -1;
            it->digest = x->digest;
            g->from[at++] = x;
        }
    }
    g->start[n] = at;
    return TD_OK;
}

/* Applies a page's items[0..n) in chunks to the bank and the allow bank (in the order one
 * chunk's bank changes, its items remembered, its allow-bank additions). */
static td_status apply_items(td_exchanges *ex, td_store_conn *c, const td_exchange *e,
                             const char *source, int64_t bank_id, int64_t allow_id,
                             int64_t generation, td__sync_item *items, const td__xitem **from,
                             size_t n_items, page_counts *pc, td_error *err)
{
    td__sync_item *allow = td__calloc(CHUNK, sizeof *allow);
    td_status st = TD_OK;
    if (!allow)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    for (size_t at = 0; at < n_items && st == TD_OK; at += CHUNK) {
        size_t n = n_items - at < CHUNK ? n_items - at : CHUNK, na = 0;
        for (size_t i = at; i < at + n; i++) {
            if (!from[i]->negative || from[i]->remove)
                continue;
            pc->negative++;
            if (allow_id) {
                allow[na] = items[i];
                allow[na].remove = 0;
                allow[na].pre = TD__SYNC_PRE_NONE;
                allow[na].signal_id = 0;
                allow[na].outcome = TD__SYNC_UNCHANGED;
                na++;
            }
        }
        if ((st = td__sync_apply(ex->svc, c, bank_id, source, items + at, n, &pc->main,
                                 &pc->first_main, err)))
            break;
        if ((st = remember_all(c, e->id, items + at, from + at, n, generation, err)))
            break;
        if (na)
            st = td__sync_apply(ex->svc, c, allow_id, source, allow, na, &pc->allow,
                                &pc->first_allow, err);
    }
    td__free(allow);
    return st;
}

/* Applies pages[0..n) (fetched one after the other from `from`) in one transaction: each
 * page's changes and audit entry, then the last page's checkpoint with the counts. A group of
 * pages per commit rather than one: every commit writes each index page a page's random hashes
 * touched, which grew with the bank (measured: a 1M-record feed's commits went from 3 ms to 40
 * ms each). *moved when the stored checkpoint is no longer `from`; *refused_at the page whose
 * values did not parse (n when none; then nothing was written). */
static td_status apply_pages(td_exchanges *ex, const td_exchange *e, const char *from,
                             td__xpage *const *pages, size_t n, td_exchange_run *run, int *moved,
                             size_t *refused_at, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    char stored[TD__XCHECKPOINT_MAX + 1], source[TD_SOURCE_MAX + 1], sha[65];
    int64_t generation = 0, bank_id = 0, allow_id = 0, first_main = 0, first_allow = 0;
    int resyncing = 0, found = 0;
    td_exchange_run sum;
    group_items g;
    memset(&sum, 0, sizeof sum);
    memset(&g, 0, sizeof g);
    *moved = 0;
    *refused_at = n;
    td__exchange_source(e->name, source);
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    int64_t now = td__now(ex->svc);
    if ((st = td_store_begin(c, err)) ||
        (st = read_state(c, e->id, stored, &generation, &resyncing, &found, err)))
        goto out;
    if (!found || strcmp(stored, from) != 0) {
        *moved = 1;
        goto out;
    }
    if ((st = td__bank_id(c, e->bank, &bank_id, err)) ||
        (e->allow_bank[0] && (st = td__bank_id(c, e->allow_bank, &allow_id, err))))
        goto out;
    const td__xpage *last = pages[n - 1];
    int ends_resync = resyncing && !last->more;
    /* The group's first additions of each hash go in first, in key order (casework/sync.c). */
    if ((st = group_take(e, pages, n, &g, err)) ||
        (st = td__sync_preadd(ex->svc, c, bank_id, source, g.items, g.start[n], err)) ||
        (st = remember_early(c, e->id, g.items, g.from, g.start[n], generation, err)))
        goto out;
    for (size_t k = 0; k < n; k++) {
        const td__xpage *page = pages[k];
        page_counts pc;
        memset(&pc, 0, sizeof pc);
        pc.skipped = g.skipped[k];
        if ((st = apply_items(ex, c, e, source, bank_id, allow_id, generation, g.items + g.start[k],
                              g.from + g.start[k], g.start[k + 1] - g.start[k], &pc, err))) {
            /* A value that does not parse refuses the page whole. */
            if (st == TD_ERR_INVALID || st == TD_ERR_LIMIT || st == TD_ERR_UNSUPPORTED ||
                st == TD_ERR_CORRUPT)
                *refused_at = k;
            goto out;
        }
        if (k == n - 1 && ends_resync &&
            (st = sweep(ex, c, e->id, bank_id, source, generation, &pc.swept, err)))
            goto out;
        if (pc.first_main && (!first_main || pc.first_main < first_main))
            first_main = pc.first_main;
        if (pc.first_allow && (!first_allow || pc.first_allow < first_allow))
            first_allow = pc.first_allow;
        uint64_t removed = pc.main.removed + pc.swept;
        td__hex_encode(page->sha256, 32, sha);
        json_t *d = json_pack(
            "{s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sha256", sha, "bytes",
            (json_int_t)page->bytes, "from", k ? pages[k - 1]->checkpoint : from, "to",
            page->checkpoint, "items", (json_int_t)page->n, "added",
            (json_int_t)(pc.main.added + pc.allow.added), "updated",
            (json_int_t)(pc.main.updated + pc.allow.updated), "removed", (json_int_t)removed,
            "negative", (json_int_t)pc.negative, "skipped",
            (json_int_t)(pc.skipped + page->skipped), "unchanged", (json_int_t)pc.main.unchanged);
        if (d && k == n - 1 && ends_resync)
            json_object_set_new(d, "resync_end", json_true());
        /* A poll that found nothing and left the checkpoint where it was changes nothing: no
         * entry (last_fetch_ms shows it), or a source polled every second would fill the log. */
        const char *page_from = k ? pages[k - 1]->checkpoint : from;
        if (page->n == 0 && !(k == n - 1 && ends_resync) &&
            strcmp(page->checkpoint, page_from) == 0) {
            json_decref(d);
            d = NULL;
        } else if ((st = td__exchange_audit(ex, c, NULL, "exchange.page", e->id, d, err))) {
            goto out;
        }
        sum.pages++;
        sum.items += page->n;
        sum.added += pc.main.added + pc.allow.added;
        sum.updated += pc.main.updated + pc.allow.updated;
        sum.removed += removed;
        sum.negative += pc.negative;
        sum.skipped += pc.skipped + page->skipped;
    }
    if ((st = td_store_prepare(
             c,
             "UPDATE exchanges SET checkpoint = $2, resyncing = $3, last_fetch_ms = $4,"
             " last_success_ms = $4, next_fetch_ms = $5, pages = pages + $12,"
             " items = items + $6, added = added + $7, updated = updated + $8,"
             " removed = removed + $9, negative = negative + $10, skipped = skipped + $11,"
             " consecutive_failures = 0, last_error = '' WHERE id = $1",
             &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, e->id, err)) ||
        (st = td_stmt_bind_text(q, 2, last->checkpoint, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, resyncing && !ends_resync, err)) ||
        (st = td_stmt_bind_int64(q, 4, now, err)) ||
        (st = td_stmt_bind_int64(q, 5, last->more ? now : now + e->interval_ms, err)) ||
        (st = td_stmt_bind_int64(q, 6, (int64_t)sum.items, err)) ||
        (st = td_stmt_bind_int64(q, 7, (int64_t)sum.added, err)) ||
        (st = td_stmt_bind_int64(q, 8, (int64_t)sum.updated, err)) ||
        (st = td_stmt_bind_int64(q, 9, (int64_t)sum.removed, err)) ||
        (st = td_stmt_bind_int64(q, 10, (int64_t)sum.negative, err)) ||
        (st = td_stmt_bind_int64(q, 11, (int64_t)sum.skipped, err)) ||
        (st = td_stmt_bind_int64(q, 12, (int64_t)sum.pages, err)) ||
        (st = td_stmt_run(q, NULL, err)) || (st = td_store_commit(c, err)))
        goto out;
    run->pages += sum.pages;
    run->items += sum.items;
    run->added += sum.added;
    run->updated += sum.updated;
    run->removed += sum.removed;
    run->negative += sum.negative;
    run->skipped += sum.skipped;
    /* Committed: the indexes follow; a failure here is the follower's to catch up. */
    (void)td__sync_done(ex->svc, c, bank_id, first_main, NULL);
    if (allow_id)
        (void)td__sync_done(ex->svc, c, allow_id, first_allow, NULL);
out:
    if (td_store_in_transaction(c))
        td_store_rollback(c);
    td_store_release(ex->svc->store, c);
    group_clear(&g);
    return st;
}

/* Marks the end of a pull that stopped for lack of pages (or a page cap): the next one is due
 * after the interval. */
static td_status schedule(td_exchanges *ex, int64_t id, int64_t when, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    td_status st = td_store_acquire(ex->svc->store, 1, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c, "UPDATE exchanges SET next_fetch_ms = $2 WHERE id = $1", &q,
                               err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, id, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 2, when, err)) == TD_OK)
        st = td_stmt_run(q, NULL, err);
    td_store_release(ex->svc->store, c);
    return st;
}

/* A group of pages fetched one after the other, on the calling thread or on a thread of its own
 * (while the group before it is applied), until the source has nothing more, GROUP_ITEMS items or
 * GROUP_PAGES pages, a failure or a resync answer. The connection is used by one fetch at a
 * time. */
#define GROUP_ITEMS 50000
#define GROUP_PAGES 64

typedef struct fetch_job {
    td_exchanges *ex;
    const td__xclient *client;
    td__xconn *x;
    size_t max_pages;                   /* 0: GROUP_PAGES */
    char from[TD__XCHECKPOINT_MAX + 1]; /* where the group starts */
    td__xpage *pages[GROUP_PAGES];      /* fetched and parsed */
    size_t n;
    /* How the last fetch ended (after the pages): ok, a failure, or resync. */
    td__xpage last; /* a failed or resync page (its digest, for the audit entry) */
    td_status fs;
    td_error ferr;
    td__xfetch outcome;
    long status;
    int64_t retry_after_ms;
    int resync;
    pthread_t thread;
} fetch_job;

static void fetch_job_init(fetch_job *j, td_exchanges *ex, const td__xclient *client, td__xconn *x,
                           const char *from, size_t max_pages)
{
    memset(j, 0, sizeof *j);
    j->ex = ex;
    j->client = client;
    j->x = x;
    j->max_pages = max_pages && max_pages < GROUP_PAGES ? max_pages : GROUP_PAGES;
    snprintf(j->from, sizeof j->from, "%s", from);
}

static void fetch_job_clear(fetch_job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        td__xpage_clear(j->pages[i]);
        td__free(j->pages[i]);
    }
    j->n = 0;
    td__xpage_clear(&j->last);
}

static void fetch_run(fetch_job *j)
{
    td__xconn *x = j->x;
    size_t items = 0;
    const char *from = j->from;
    for (;;) {
        td__xpage *page = td__calloc(1, sizeof *page);
        if (!page) {
            j->fs = td__error_set(&j->ferr, TD_ERR_NOMEM, "out of memory");
            j->outcome = TD__XFETCH_FAILED;
            return;
        }
        td_error_clear(&j->ferr);
        x->outcome = TD__XFETCH_OK;
        x->last_status = 0;
        x->retry_after_ms = 0;
        x->now_ms = td__now(j->ex->svc);
        j->fs = j->client->fetch(x, from, page, &j->ferr);
        j->outcome = x->outcome;
        j->status = x->last_status;
        j->retry_after_ms = x->retry_after_ms;
        if (j->fs != TD_OK || j->outcome != TD__XFETCH_OK || page->resync) {
            j->resync = j->fs == TD_OK && j->outcome == TD__XFETCH_OK && page->resync;
            j->last = *page;
            td__free(page);
            return;
        }
        j->pages[j->n++] = page;
        items += page->n;
        from = page->checkpoint;
        if (!page->more || items >= GROUP_ITEMS || j->n >= j->max_pages)
            return;
    }
}

static void *fetch_main(void *arg)
{
    fetch_run(arg);
    return NULL;
}

td_status td__exchange_pull(td_exchanges *ex, int64_t id, size_t max_pages, const atomic_int *stop,
                            td_exchange_run *run, td_error *err)
{
    td_exchange e;
    td__xconn *x = NULL;
    memset(run, 0, sizeof *run);
    td_status st = td__exchange_connect(ex, id, &e, &x, err);
    if (st)
        return st;
    const td__xclient *client = td__xclient_of(e.type);
    if (!client) {
        td__exchange_disconnect(x);
        return td__error_set(err, TD_ERR_UNSUPPORTED, "exchange %lld: unknown type", (long long)id);
    }
    char checkpoint[TD__XCHECKPOINT_MAX + 1];
    memcpy(checkpoint, e.checkpoint, sizeof checkpoint);
    int consecutive = e.consecutive_failures;
    int resyncs = 0;
    fetch_job *cur = td__calloc(1, sizeof *cur), *next = td__calloc(1, sizeof *next);
    if (!cur || !next) {
        td__free(cur);
        td__free(next);
        td__exchange_disconnect(x);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    fetch_job_init(cur, ex, client, x, checkpoint, max_pages);
    fetch_run(cur);
    for (;;) {
        int ahead = 0;
        if (cur->n) {
            const td__xpage *tail = cur->pages[cur->n - 1];
            size_t left = max_pages ? max_pages - run->pages - cur->n : 0;
            /* The next group is fetched while this one is applied: the source's time and the
             * store's overlap (it starts from this group's last checkpoint, known already). */
            ahead = tail->more && cur->fs == TD_OK && cur->outcome == TD__XFETCH_OK &&
                    !cur->resync && !(stop && atomic_load(stop)) && !(max_pages && left == 0);
            if (ahead) {
                fetch_job_init(next, ex, client, x, tail->checkpoint, left);
                ahead = pthread_create(&next->thread, NULL, fetch_main, next) == 0;
            }
            int moved = 0;
            size_t refused_at = cur->n;
            td_error aerr;
            td_error_clear(&aerr);
            td_status as = apply_pages(ex, &e, checkpoint, cur->pages, cur->n, run, &moved,
                                       &refused_at, &aerr);
            if (as != TD_OK && refused_at > 0 && refused_at < cur->n) {
                /* The pages before the one refused are applied on their own. */
                td_error berr;
                if (apply_pages(ex, &e, checkpoint, cur->pages, refused_at, run, &moved,
                                &refused_at, &berr) == TD_OK &&
                    !moved)
                    memcpy(checkpoint, cur->pages[refused_at - 1]->checkpoint, sizeof checkpoint);
                refused_at = refused_at < cur->n ? refused_at : cur->n - 1;
            }
            if (ahead)
                pthread_join(next->thread, NULL);
            if (as != TD_OK) {
                int refused = refused_at < cur->n;
                run->failed = 1;
                run->refused += (uint64_t)refused;
                st = record_failure(ex, id, consecutive,
                                    refused ? TD__XFETCH_MALFORMED : TD__XFETCH_FAILED, cur->status,
                                    0, aerr.message, cur->pages[refused ? refused_at : 0],
                                    checkpoint, err);
                if (ahead)
                    fetch_job_clear(next);
                break;
            }
            consecutive = 0;
            memcpy(checkpoint, tail->checkpoint, sizeof checkpoint);
            int more = tail->more;
            if (moved || !more) {
                if (ahead)
                    fetch_job_clear(next);
                run->done = !more && !moved;
                break; /* moved: another pull applied it, and that one goes on */
            }
        }
        /* How the group's last fetch ended. */
        if (cur->fs != TD_OK || cur->outcome != TD__XFETCH_OK) {
            td__xfetch o = cur->outcome == TD__XFETCH_OK ? TD__XFETCH_FAILED : cur->outcome;
            if (o == TD__XFETCH_MALFORMED)
                run->refused++;
            run->failed = 1;
            run->retry = o == TD__XFETCH_RETRY;
            st = record_failure(ex, id, consecutive, o, cur->status, cur->retry_after_ms,
                                cur->ferr.message[0] ? cur->ferr.message : td_strerror(cur->fs),
                                &cur->last, checkpoint, err);
            if (ahead)
                fetch_job_clear(next);
            break;
        }
        if (cur->resync) {
            int moved = 0;
            if (ahead)
                fetch_job_clear(next);
            if (++resyncs > 1) { /* the source refuses the beginning too */
                run->failed = 1;
                st = record_failure(ex, id, consecutive, TD__XFETCH_FAILED, cur->status, 0,
                                    "the source refused a resync from the beginning", &cur->last,
                                    checkpoint, err);
                break;
            }
            if ((st = start_resync(ex, id, checkpoint, &moved, err)) || moved)
                break;
            checkpoint[0] = '\0';
            fetch_job_clear(cur);
            fetch_job_init(cur, ex, client, x, checkpoint, max_pages ? max_pages - run->pages : 0);
            fetch_run(cur);
            continue;
        }
        if ((stop && atomic_load(stop)) || (max_pages && run->pages >= max_pages)) {
            if (ahead)
                fetch_job_clear(next);
            break;
        }
        fetch_job_clear(cur);
        if (ahead) {
            fetch_job *t = cur;
            cur = next;
            next = t;
        } else {
            fetch_job_init(cur, ex, client, x, checkpoint, max_pages ? max_pages - run->pages : 0);
            fetch_run(cur);
        }
    }
    fetch_job_clear(cur);
    td__free(cur);
    td__free(next);
    if (st == TD_OK && !run->failed && !run->done && run->pages)
        st = schedule(ex, id, td__now(ex->svc), err); /* stopped by a page cap: due at once */
    td__exchange_disconnect(x);
    return st;
}

td_status td_exchange_run_now(td_exchanges *ex, int64_t id, size_t max_pages, td_exchange_run *run,
                              td_error *err)
{
    return td__exchange_pull(ex, id, max_pages, NULL, run, err);
}
