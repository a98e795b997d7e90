/* The evidence order clocks: escalation marks before each production deadline, breaches, the end
 * of preservation periods; and the handle's background thread that ticks them.
 *
 * As for removal orders (orders_clock.c): every deadline is a stored time compared with the
 * service's clock, and each transition is one conditional update with its audit entry in one
 * transaction, so ticking often, late or from several nodes never double-counts. Marks are
 * percentages of the period from the clock's start to the deadline (50, 75 and 90 % by
 * default), so the same table serves an 8-hour emergency and a 10-day order. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/wait.h"
#include "eorders/eorders_int.h"

#define TICK_BATCH 1000 /* open orders looked at per tick (TD_PAGE_MAX) */
#define ERROR_REPEAT_MS 60000

typedef struct due_row {
    int64_t id, start, due, breached;
    int escalation;
} due_row;

static void due_item(td_stmt *q, void *item)
{
    due_row *r = item;
    r->id = td_stmt_column_int64(q, 0);
    r->start = td_stmt_column_int64(q, 1);
    r->due = td_stmt_column_int64(q, 2);
    r->escalation = (int)td_stmt_column_int64(q, 3);
    r->breached = td_stmt_column_int64(q, 4);
}

/* Marks passed at now by a clock from start to due. */
static int marks_passed(const td_eorders *eo, int64_t start, int64_t due, int64_t now)
{
    int level = 0;
    for (size_t i = 0; i < eo->opts.n_marks; i++)
        if (now >= start + (due - start) / 100 * (int64_t)eo->opts.marks_pct[i] +
                       (due - start) % 100 * (int64_t)eo->opts.marks_pct[i] / 100)
            level = (int)i + 1;
    return level;
}

typedef struct mark_args {
    const due_row *r;
    int level;
    int64_t now;
    int escalated, breached;
} mark_args;

static td_status mark_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    mark_args *a = ctx;
    td_stmt *q;
    int64_t changed = 0;
    td_status st;
    if (a->level > a->r->escalation) {
        if ((st = td_store_prepare(c,
                                   "UPDATE eorders SET escalation = $2,"
                                   " marks_total = marks_total + ($2 - escalation)"
                                   " WHERE id = $1 AND escalation < $2 AND due_ms = $3",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->r->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, a->level, err)) ||
            (st = td_stmt_bind_int64(q, 3, a->r->due, err)) || (st = td_stmt_run(q, &changed, err)))
            return st;
        if (changed) {
            a->escalated = a->level - a->r->escalation;
            if ((st = td__eorders_audit(eo, c, "system", "eorder.escalated", a->r->id,
                                        json_pack("{s:i, s:i, s:o}", "mark", a->level, "percent",
                                                  (int)eo->opts.marks_pct[a->level - 1], "due",
                                                  td__eorder_time_json(a->r->due)),
                                        NULL, err)))
                return st;
        }
    }
    if (a->now >= a->r->due && !a->r->breached) {
        if ((st = td_store_prepare(c,
                                   "UPDATE eorders SET breached_ms = $2 WHERE id = $1"
                                   " AND breached_ms = 0 AND due_ms = $3",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->r->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, a->now, err)) ||
            (st = td_stmt_bind_int64(q, 3, a->r->due, err)) || (st = td_stmt_run(q, &changed, err)))
            return st;
        if (changed) {
            a->breached = 1;
            return td__eorders_audit(eo, c, "system", "eorder.breached", a->r->id,
                                     json_pack("{s:o}", "due", td__eorder_time_json(a->r->due)),
                                     NULL, err);
        }
    }
    return TD_OK;
}

typedef struct expire_args {
    int64_t id, now;
    int expired, linked;
} expire_args;

static td_status expire_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    expire_args *a = ctx;
    td_stmt *q;
    int64_t changed = 0;
    int row = 0;
    td_status st;
    /* Still due, not held by a pending production (checked again inside the transaction). */
    if ((st = td_store_prepare(c,
                               "UPDATE eorders SET state = $2, ended_ms = $3 WHERE id = $1"
                               " AND state IN ($4, $5, $6) AND production_pending = 0"
                               " AND preserve_until_ms > 0 AND preserve_until_ms <= $3"
                               " AND NOT EXISTS (SELECT 1 FROM eorders e WHERE"
                               " e.linked_order = eorders.id AND e.state IN ($4, $5, $6, $7, $8))",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, TD_EORDER_EXPIRED, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->now, err)) ||
        (st = td_stmt_bind_int64(q, 4, TD_EORDER_COLLECTING, err)) ||
        (st = td_stmt_bind_int64(q, 5, TD_EORDER_PRESERVED, err)) ||
        (st = td_stmt_bind_int64(q, 6, TD_EORDER_PAUSED, err)) ||
        (st = td_stmt_bind_int64(q, 7, TD_EORDER_APPROVED, err)) ||
        (st = td_stmt_bind_int64(q, 8, TD_EORDER_RECEIVED, err)) ||
        (st = td_stmt_run(q, &changed, err)))
        return st;
    if (!changed)
        return TD_OK;
    a->expired = 1;
    if ((st = td_store_prepare(c, "SELECT COUNT(*) FROM eorders WHERE linked_order = $1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    a->linked = row && td_stmt_column_int64(q, 0) > 0;
    td_stmt_reset(q);
    return td__eorders_audit(eo, c, "system", "eorder.expired", a->id,
                             json_pack("{s:b}", "after_production", a->linked), NULL, err);
}

static void id_item(td_stmt *q, void *item) { *(int64_t *)item = td_stmt_column_int64(q, 0); }

/* Data takedown holds itself, linked to the orders collecting or preserved (td_eorder_link): at
 * most once a minute of the service's clock, since each order costs the provider a query. */
#define LINK_SWEEP_MS ((int64_t)60000)

static td_status link_sweep(td_eorders *eo, int64_t now, td_eorders_tick_result *out, td_error *err)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int64_t last = atomic_load(&eo->last_link_ms);
    td_eorder_provider_fn fn;
    void *fn_ctx;
    if (!td__eorders_provider(eo, &fn, &fn_ctx) ||
        (last && now - last < LINK_SWEEP_MS && now >= last) ||
        !atomic_compare_exchange_strong(&eo->last_link_ms, &last, now ? now : 1))
        return TD_OK;
    int64_t binds[3] = {TD_EORDER_COLLECTING, TD_EORDER_PRESERVED, TICK_BATCH};
    td_status st =
        td_store_read_rows(eo->svc->store,
                           "SELECT id FROM eorders WHERE state IN ($1, $2)"
                           " ORDER BY id LIMIT $3",
                           binds, 3, TICK_BATCH, sizeof *ids, id_item, (void **)&ids, &n, err);
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        size_t linked = 0;
        if ((st = td__eorder_link(eo, "system", ids[i], &linked, err)) == TD_OK)
            out->linked += linked;
    }
    td_free(ids);
    return st;
}

td_status td_eorders_tick(td_eorders *eo, td_eorders_tick_result *out, td_error *err)
{
    td_eorders_tick_result local;
    due_row *rows = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    td_status st;
    if (!out)
        out = &local;
    memset(out, 0, sizeof *out);
    int64_t now = td__now(eo->svc);
    /* Production deadlines: orders with a deadline whose next mark or breach is due. */
    /* (A breach is recorded once; a new deadline after it still gets its marks.) */
    int64_t binds[6] = {TD_EORDER_COLLECTING,      TD_EORDER_PRESERVED, TD_EORDER_APPROVED, now,
                        (int64_t)eo->opts.n_marks, TICK_BATCH};
    if ((st = td_store_read_rows(eo->svc->store,
                                 "SELECT id, clock_start_ms, due_ms, escalation, breached_ms"
                                 " FROM eorders WHERE state IN ($1, $2, $3) AND due_ms > 0"
                                 " AND (breached_ms = 0 OR escalation < $5)"
                                 " AND clock_start_ms < $4 ORDER BY due_ms LIMIT $6",
                                 binds, 6, TICK_BATCH, sizeof *rows, due_item, (void **)&rows, &n,
                                 err)))
        return st;
    for (size_t i = 0; i < n && st == TD_OK; i++) {
        mark_args a = {&rows[i], marks_passed(eo, rows[i].start, rows[i].due, now), now, 0, 0};
        if (a.level <= rows[i].escalation && (now < rows[i].due || rows[i].breached))
            continue;
        if ((st = td__eorders_tx(eo, mark_body, &a, err)) == TD_OK) {
            out->escalations += (size_t)a.escalated;
            out->breaches += (size_t)a.breached;
        }
    }
    td_free(rows);
    if (st)
        return st;
    /* Preservation periods that ended. */
    int64_t pbinds[6] = {TD_EORDER_EU_EPOC_PR,
                         TD_EORDER_COLLECTING,
                         TD_EORDER_PRESERVED,
                         TD_EORDER_PAUSED,
                         now,
                         TICK_BATCH};
    if ((st = td_store_read_rows(eo->svc->store,
                                 "SELECT id FROM eorders WHERE framework = $1"
                                 " AND state IN ($2, $3, $4) AND preserve_until_ms > 0"
                                 " AND preserve_until_ms <= $5 AND production_pending = 0"
                                 " ORDER BY preserve_until_ms LIMIT $6",
                                 pbinds, 6, TICK_BATCH, sizeof *ids, id_item, (void **)&ids, &n,
                                 err)))
        return st;
    for (size_t i = 0; i < n && st == TD_OK; i++) {
        expire_args a = {ids[i], now, 0, 0};
        if ((st = td__eorders_tx(eo, expire_body, &a, err)) == TD_OK && a.expired) {
            td_error ignored;
            out->expired++;
            out->released += (size_t)a.linked;
            td__eo_ignore(td__eorder_release_evidence(eo, ids[i], 0, &ignored));
        }
    }
    td_free(ids);
    if (st)
        return st;
    return link_sweep(eo, now, out, err);
}

/* ---- the background thread ---- */

static int64_t elapsed_ms(void) { return td__monotonic_ms(); }

static void tell(td_eorders *eo, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tell(td_eorders *eo, const char *fmt, ...)
{
    char message[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    if (!eo->opts.log_message)
        return;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    eo->opts.log_message(eo->opts.log_ctx, message);
}

static void *duty_main(void *arg)
{
    td_eorders *eo = arg;
    int64_t last_error = elapsed_ms() - ERROR_REPEAT_MS;
    pthread_mutex_lock(&eo->duty_lock);
    while (!td__wait_interval(&eo->duty_wake, &eo->duty_lock, &eo->duty_stop,
                              (unsigned)eo->opts.clock_interval_ms)) {
        pthread_mutex_unlock(&eo->duty_lock);
        td_eorders_tick_result res;
        td_error err;
        atomic_fetch_add(&eo->ticks, 1);
        if (td_eorders_tick(eo, &res, &err) != TD_OK) {
            atomic_fetch_add(&eo->tick_failures, 1);
            int64_t now = elapsed_ms();
            if (now - last_error >= ERROR_REPEAT_MS) {
                tell(eo, "evidence order clocks: %s", err.message);
                last_error = now;
            }
        } else if (res.escalations || res.breaches || res.expired) {
            tell(eo, "evidence order clocks: %zu escalation(s), %zu breach(es), %zu expired",
                 res.escalations, res.breaches, res.expired);
        }
        pthread_mutex_lock(&eo->duty_lock);
    }
    pthread_mutex_unlock(&eo->duty_lock);
    return NULL;
}

td_status td__eorders_duties_start(td_eorders *eo, td_error *err)
{
    eo->duty_stop = 0;
    if (pthread_create(&eo->duty, NULL, duty_main, eo) != 0)
        return td__error_set(err, TD_ERR_INTERNAL,
                             "evidence orders: cannot start the clock thread");
    eo->duty_started = 1;
    return TD_OK;
}

void td__eorders_duties_stop(td_eorders *eo)
{
    if (!eo->duty_started)
        return;
    pthread_mutex_lock(&eo->duty_lock);
    eo->duty_stop = 1;
    pthread_cond_broadcast(&eo->duty_wake);
    pthread_mutex_unlock(&eo->duty_lock);
    pthread_join(eo->duty, NULL);
    eo->duty_started = 0;
}

void td_eorders_clock_get_stats(td_eorders *eo, td_eorders_clock_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!eo)
        return;
    out->running = eo->duty_started;
    out->ticks = atomic_load(&eo->ticks);
    out->tick_failures = atomic_load(&eo->tick_failures);
}
