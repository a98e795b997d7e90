/* The background duties of the orders component, on one thread of the handle: started by
 * td_orders_open when opts.clock is set and stopped by td_orders_close, as the service starts
 * and stops its change-log follower and webhook worker. The HTTP server only asks for it and
 * reports its figures.
 *
 * Every clock_interval_ms the thread runs td_orders_tick (escalation marks, breaches, notice
 * releases, overdue complaints and reviews). The deadlines themselves are stored times compared
 * with the service's clock, so a late or missed tick loses nothing; the wait between ticks is on
 * the monotonic clock (core/wait.h) so that a change of the wall clock neither stalls nor hurries
 * it, and a stop wakes it at once.
 *
 * Evidence on the clock: an order confirmed while the evidence master key did not exist (it is
 * created with the custodians, `takedown evidence init`, possibly while a server runs) shows
 * preserved = 0. Once the key exists the thread retries the preservation of every confirmed
 * order not yet preserved: at the first tick that sees the key, then every evidence_sweep_ms.
 * The retry takes the handle's preserve lock (orders_exec.c), as a confirmation's own sealing
 * does, so the two never seal one target twice. td_order_list gives orders newest first, up to
 * TD_PAGE_MAX: the sweep covers the newest TD_PAGE_MAX orders. The same sweep purges evidence
 * whose retention ended (td_evidence_purge). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/wait.h"
#include "orders/orders_int.h"

/* A failing tick (a busy or failing store) is retried at the next one, and told at most this
 * often. */
#define ERROR_REPEAT_MS 60000

/* Elapsed time for the thread's own cadence: not the service's clock, which tests move. */
static int64_t elapsed_ms(void) { return td__monotonic_ms(); }

static void tell(td_orders *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tell(td_orders *o, const char *fmt, ...)
{
    char message[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    if (!o->opts.log_message)
        return;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    o->opts.log_message(o->opts.log_ctx, message);
}

/* Where the evidence sweep stands between ticks. */
typedef struct sweep {
    int had_master;
    int64_t last_ms;
} sweep;

static void evidence_sweep(td_orders *o, sweep *sw)
{
    td_evidence_status es;
    td_error err;
    int64_t now = elapsed_ms();
    if (!o->evidence || (sw->had_master && now - sw->last_ms < o->opts.evidence_sweep_ms))
        return;
    if (td_evidence_get_status(o->evidence, &es, &err) != TD_OK || !es.has_master)
        return;
    sw->had_master = 1;
    sw->last_ms = now;
    td_order_summary *list = NULL;
    size_t n = 0, tried = 0;
    if (td_order_list(o, 0, TD_PAGE_MAX, &list, &n, &err) == TD_OK) {
        for (size_t i = 0; i < n; i++) {
            int retried = 0;
            if (list[i].kind != TD_ORDER_REMOVAL || list[i].state != TD_ORDER_CONFIRMED)
                continue;
            td_status st = td__order_preserve_retry(o, list[i].id, &retried, &err);
            if (!retried)
                continue;
            tried++;
            atomic_fetch_add(&o->preservation_retries, 1);
            if (st != TD_OK)
                tell(o, "evidence: order %lld not preserved yet: %s", (long long)list[i].id,
                     err.message);
        }
        td_free(list);
    }
    if (tried)
        tell(o, "evidence: retried the preservation of %zu confirmed order(s)", tried);
    int64_t purged = 0;
    if (td_evidence_purge(o->evidence, "system", &purged, &err) != TD_OK)
        tell(o, "evidence: purge: %s", err.message);
    else if (purged)
        tell(o, "evidence: %lld case(s) purged at the end of retention", (long long)purged);
    if (purged > 0)
        atomic_fetch_add(&o->evidence_purged, (uint64_t)purged);
}

static void *duty_main(void *arg)
{
    td_orders *o = arg;
    sweep sw = {0, 0};
    int64_t last_error = elapsed_ms() - ERROR_REPEAT_MS;
    pthread_mutex_lock(&o->duty_lock);
    while (!td__wait_interval(&o->duty_wake, &o->duty_lock, &o->duty_stop,
                              (unsigned)o->opts.clock_interval_ms)) {
        pthread_mutex_unlock(&o->duty_lock);
        td_orders_tick_result res;
        td_error err;
        atomic_fetch_add(&o->ticks, 1);
        if (td_orders_tick(o, &res, &err) != TD_OK) {
            atomic_fetch_add(&o->tick_failures, 1);
            int64_t now = elapsed_ms();
            if (now - last_error >= ERROR_REPEAT_MS) {
                tell(o, "order clocks: %s", err.message);
                last_error = now;
            }
        } else if (res.breaches || res.escalations) {
            tell(o, "order clocks: %zu escalation(s), %zu breach(es)", res.escalations,
                 res.breaches);
        }
        evidence_sweep(o, &sw);
        pthread_mutex_lock(&o->duty_lock);
    }
    pthread_mutex_unlock(&o->duty_lock);
    return NULL;
}

td_status td__orders_duties_start(td_orders *o, td_error *err)
{
    o->duty_stop = 0;
    if (pthread_create(&o->duty, NULL, duty_main, o) != 0)
        return td__error_set(err, TD_ERR_INTERNAL, "orders: cannot start the clock thread");
    o->duty_started = 1;
    return TD_OK;
}

void td__orders_duties_stop(td_orders *o)
{
    if (!o->duty_started)
        return;
    pthread_mutex_lock(&o->duty_lock);
    o->duty_stop = 1;
    pthread_cond_broadcast(&o->duty_wake);
    pthread_mutex_unlock(&o->duty_lock);
    pthread_join(o->duty, NULL);
    o->duty_started = 0;
}

void td_orders_clock_get_stats(td_orders *o, td_orders_clock_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!o)
        return;
    out->running = o->duty_started;
    out->ticks = atomic_load(&o->ticks);
    out->tick_failures = atomic_load(&o->tick_failures);
    out->preservation_retries = atomic_load(&o->preservation_retries);
    out->evidence_purged = atomic_load(&o->evidence_purged);
}
