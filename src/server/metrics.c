/* Prometheus metrics. Requests are counted per route pattern (never per raw path, which would let
 * clients grow the series without bound) and status class, with a latency histogram per route.
 * Counters are lock-free atomics: the upload path pays a few atomic adds per request. Gauges of
 * the service (index sizes, queue depth, webhook failures) are read when scraped. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "server/guard.h"
#include "server/handlers_eorders.h"
#include "server/handlers_frank.h"
#include "server/server_int.h"

static const double bucket_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,    0.25,  0.5,    1.0,   2.5,  10.0};
#define N_BUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])
#define N_CLASSES 6 /* 1xx-5xx by first digit, plus "aborted" (client went away) */

typedef struct route_metrics {
    atomic_ullong by_class[N_CLASSES];
    atomic_ullong buckets[N_BUCKETS + 1]; /* last: +Inf */
    atomic_ullong sum_us;
    atomic_ullong count;
} route_metrics;

struct td__metrics {
    /* Matches found by POST /v1/check and POST /v1/content, by what they ask for (td_action:
     * log, review, block). */
    atomic_ullong matches[3];
    size_t n_routes;
    route_metrics routes[]; /* n_routes + 1: the last one for requests no route matched */
};

td__metrics *td__metrics_new(size_t n_routes)
{
    td__metrics *m = td__calloc(1, sizeof *m + (n_routes + 1) * sizeof(route_metrics));
    if (m)
        m->n_routes = n_routes;
    return m;
}

void td__metrics_free(td__metrics *m) { td__free(m); }

void td__metrics_observe(td__metrics *m, int route_index, unsigned status, double seconds)
{
    route_metrics *rm = &m->routes[route_index >= 0 ? (size_t)route_index : m->n_routes];
    unsigned cls = status >= 100 && status < 600 && status != 499 ? status / 100 - 1 : 5;
    atomic_fetch_add_explicit(&rm->by_class[cls], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < N_BUCKETS && seconds > bucket_bounds[b])
        b++;
    atomic_fetch_add_explicit(&rm->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->sum_us, (unsigned long long)(seconds * 1e6),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->count, 1, memory_order_relaxed);
}

void td__metrics_matches(td__metrics *m, const td_match *matches, size_t n)
{
    if (!m)
        return;
    for (size_t i = 0; i < n; i++) {
        if (matches[i].suppressed || matches[i].kind == TD_BANK_ALLOW)
            continue;
        unsigned a = (unsigned)td_match_action(&matches[i]);
        atomic_fetch_add_explicit(&m->matches[a < 3 ? a : 0], 1, memory_order_relaxed);
    }
}

/* The rendered text, at most 64 MiB; failed once anything did not fit. */
#define METRICS_MAX (((size_t)64 << 20) - 1)
typedef struct out {
    td__buf b;
    int failed;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (td__buf_vprintf(&o->b, fmt, ap) != TD_OK)
        o->failed = 1;
    va_end(ap);
}

/* Removal orders, complaints and evidence: counted from the stored records at each scrape
 * (td_orders_metrics_get, td_evidence_get_status), so they survive restarts. */
static void render_orders(out *o, td_server *srv, td_orders *orders)
{
    td_orders_metrics om;
    td_evidence_status es;
    td_error err;
    if (td_orders_metrics_get(orders, &om, &err) == TD_OK) {
        put(o, "# HELP takedown_order_receipt_to_removal_seconds Removal orders: time from "
               "receipt to the platform's confirmed measure.\n"
               "# TYPE takedown_order_receipt_to_removal_seconds histogram\n");
        for (int i = 0; i < TD_ORDERS_METRIC_BUCKETS; i++)
            put(o, "takedown_order_receipt_to_removal_seconds_bucket{le=\"%g\"} %llu\n",
                (double)td_orders_metric_bounds_ms[i] / 1000.0,
                (unsigned long long)om.removal_buckets[i]);
        put(o,
            "takedown_order_receipt_to_removal_seconds_bucket{le=\"+Inf\"} %llu\n"
            "takedown_order_receipt_to_removal_seconds_sum %.3f\n"
            "takedown_order_receipt_to_removal_seconds_count %llu\n",
            (unsigned long long)om.removal_count, (double)om.removal_sum_ms / 1000.0,
            (unsigned long long)om.removal_count);
        put(o,
            "# HELP takedown_orders_open Removal orders not yet confirmed, by state.\n"
            "# TYPE takedown_orders_open gauge\n"
            "takedown_orders_open{state=\"received\"} %lld\n"
            "takedown_orders_open{state=\"executed\"} %lld\n"
            "takedown_orders_open{state=\"paused\"} %lld\n",
            (long long)om.open_received, (long long)om.open_executed, (long long)om.open_paused);
        put(o,
            "# HELP takedown_orders_open_escalated Open removal orders past an escalation mark.\n"
            "# TYPE takedown_orders_open_escalated gauge\ntakedown_orders_open_escalated %lld\n",
            (long long)om.open_escalated);
        put(o,
            "# HELP takedown_order_escalations Escalation marks passed, summed over removal "
            "orders (a clarification restarts an order's marks).\n"
            "# TYPE takedown_order_escalations gauge\ntakedown_order_escalations %lld\n",
            (long long)om.escalation_marks);
        put(o,
            "# HELP takedown_order_breaches_total Removal orders whose deadline passed "
            "without a confirmed measure.\n"
            "# TYPE takedown_order_breaches_total counter\ntakedown_order_breaches_total %lld\n",
            (long long)om.breaches);
        put(o,
            "# HELP takedown_referrals_open Referrals not decided.\n"
            "# TYPE takedown_referrals_open gauge\ntakedown_referrals_open %lld\n",
            (long long)om.referrals_open);
        put(o,
            "# HELP takedown_complaints_open Complaints not decided.\n"
            "# TYPE takedown_complaints_open gauge\ntakedown_complaints_open %lld\n"
            "# HELP takedown_complaints_overdue Open complaints past their 14-day answer time.\n"
            "# TYPE takedown_complaints_overdue gauge\ntakedown_complaints_overdue %lld\n",
            (long long)om.complaints_open, (long long)om.complaints_overdue);
        put(o,
            "# HELP takedown_orders_unpreserved Confirmed removal orders whose removed content "
            "is not sealed as evidence yet.\n"
            "# TYPE takedown_orders_unpreserved gauge\ntakedown_orders_unpreserved %lld\n",
            (long long)om.unpreserved);
    }
    td_evidence *ev = td_orders_evidence(orders);
    if (ev && td_evidence_get_status(ev, &es, &err) == TD_OK) {
        put(o,
            "# HELP takedown_evidence_master Whether the evidence master key exists.\n"
            "# TYPE takedown_evidence_master gauge\ntakedown_evidence_master %d\n"
            "# HELP takedown_evidence_cases Evidence cases by state.\n"
            "# TYPE takedown_evidence_cases gauge\n"
            "takedown_evidence_cases{state=\"retained\"} %lld\n"
            "takedown_evidence_cases{state=\"held\"} %lld\n"
            "takedown_evidence_cases{state=\"purged\"} %lld\n"
            "# HELP takedown_evidence_items Sealed items of cases not purged.\n"
            "# TYPE takedown_evidence_items gauge\ntakedown_evidence_items %lld\n"
            "# HELP takedown_evidence_requests_open Release requests not released.\n"
            "# TYPE takedown_evidence_requests_open gauge\ntakedown_evidence_requests_open %lld\n",
            es.has_master, (long long)(es.cases - es.cases_held), (long long)es.cases_held,
            (long long)es.cases_purged, (long long)es.items, (long long)es.requests_open);
    }
    unsigned long long retries, purged;
    td__srv_clock_figures(srv, &retries, &purged);
    put(o,
        "# HELP takedown_evidence_preservation_retries_total Preservations of confirmed orders "
        "retried by the clock since start.\n"
        "# TYPE takedown_evidence_preservation_retries_total counter\n"
        "takedown_evidence_preservation_retries_total %llu\n"
        "# HELP takedown_evidence_purged_total Evidence cases purged by the clock since start.\n"
        "# TYPE takedown_evidence_purged_total counter\ntakedown_evidence_purged_total %llu\n",
        retries, purged);
}

/* Evidence orders (td_eorders_metrics_get): by state, escalations, breaches, the outbox. */
static void render_eorders(out *o, td_eorders *eorders)
{
    td_eorders_metrics em;
    td_error err;
    if (!eorders || td_eorders_metrics_get(eorders, &em, &err) != TD_OK)
        return;
    put(o, "# HELP takedown_eorders Evidence orders by state.\n# TYPE takedown_eorders gauge\n");
    for (int s = 1; s <= TD_EORDER_STATE_MAX; s++)
        put(o, "takedown_eorders{state=\"%s\"} %lld\n", td_eorder_state_name((td_eorder_state)s),
            (long long)em.by_state[s]);
    put(o,
        "# HELP takedown_eorders_open Evidence orders not yet delivered, ended or refused.\n"
        "# TYPE takedown_eorders_open gauge\ntakedown_eorders_open %lld\n"
        "# HELP takedown_eorders_open_escalated Open evidence orders past an escalation mark.\n"
        "# TYPE takedown_eorders_open_escalated gauge\ntakedown_eorders_open_escalated %lld\n"
        "# HELP takedown_eorder_escalations Escalation marks passed, summed over evidence "
        "orders.\n# TYPE takedown_eorder_escalations gauge\ntakedown_eorder_escalations %lld\n"
        "# HELP takedown_eorder_breaches_total Evidence orders whose production deadline passed "
        "without delivery.\n"
        "# TYPE takedown_eorder_breaches_total counter\ntakedown_eorder_breaches_total %lld\n"
        "# HELP takedown_eorders_restricted Delivered evidence orders whose data grounds for "
        "refusal restricted.\n"
        "# TYPE takedown_eorders_restricted gauge\ntakedown_eorders_restricted %lld\n"
        "# HELP takedown_eorder_messages_pending Messages to the issuing side not sent yet, and "
        "of those failed at least once.\n# TYPE takedown_eorder_messages_pending gauge\n"
        "takedown_eorder_messages_pending{state=\"pending\"} %lld\n"
        "takedown_eorder_messages_pending{state=\"retrying\"} %lld\n",
        (long long)em.open, (long long)em.open_escalated, (long long)em.escalation_marks,
        (long long)em.breaches, (long long)em.restricted, (long long)em.outbox_pending,
        (long long)em.outbox_retrying);
}

/* Message franking and E2EE reports (td_reports_get_stats): counted by this process since it
 * started. A refusal's reason is the check that failed (td_frank_failure_name), or
 * "attachment" for an attachment that did not open under its key or its commitment. */
static void render_reports(out *o, td_server *srv)
{
    td_reports_stats rs;
    td__srv_reports_figures(srv, &rs);
    put(o,
        "# HELP takedown_frank_total Message franking tags franked at delivery.\n"
        "# TYPE takedown_frank_total counter\ntakedown_frank_total %llu\n"
        "# HELP takedown_reports_verified_total Reported messages whose frank verified.\n"
        "# TYPE takedown_reports_verified_total counter\ntakedown_reports_verified_total %llu\n"
        "# HELP takedown_reports_refused_total Reports refused because a message or an "
        "attachment did not verify, by reason.\n"
        "# TYPE takedown_reports_refused_total counter\n",
        (unsigned long long)rs.franked, (unsigned long long)rs.verified);
    for (size_t i = 0; i < TD__REFUSAL_REASONS; i++) {
        const char *reason = i == 0 ? "attachment" : td_frank_failure_name((td_frank_failure)i);
        put(o, "takedown_reports_refused_total{reason=\"%s\"} %llu\n", reason,
            (unsigned long long)rs.invalid[i]);
    }
}

/* Review copies of media (td_review_media_get_stats): counted since the handle opened. */
static void render_review_media(out *o, td_server *srv)
{
    td_review_media_stats ms;
    td_review_media_get_stats(atomic_load(&srv->review_media), &ms);
    put(o,
        "# HELP takedown_review_media_total Review copies of media kept, read, deleted after "
        "their case closed and preserved as evidence.\n"
        "# TYPE takedown_review_media_total counter\n"
        "takedown_review_media_total{event=\"kept\"} %llu\n"
        "takedown_review_media_total{event=\"read\"} %llu\n"
        "takedown_review_media_total{event=\"deleted\"} %llu\n"
        "takedown_review_media_total{event=\"preserved\"} %llu\n",
        (unsigned long long)ms.kept, (unsigned long long)ms.read, (unsigned long long)ms.deleted,
        (unsigned long long)ms.preserved);
}

static const char *const class_names[N_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx", "aborted"};

/* The connection guard's figures (guard.h, docs/api.md "Connection and rate limits"). */
static void render_guard(out *o, td_server *srv)
{
    td__guard_stats g;
    td__guard_get_stats(srv->guard, &g);
    put(o,
        "# HELP takedown_http_connections Open connections, and those that presented a valid "
        "key.\n# TYPE takedown_http_connections gauge\n"
        "takedown_http_connections{state=\"open\"} %llu\n"
        "takedown_http_connections{state=\"authenticated\"} %llu\n",
        g.open, g.authenticated);
    put(o,
        "# HELP takedown_http_connections_shed_total Connections closed by the guard, by "
        "reason.\n# TYPE takedown_http_connections_shed_total counter\n"
        "takedown_http_connections_shed_total{reason=\"header_deadline\"} %llu\n"
        "takedown_http_connections_shed_total{reason=\"idle_deadline\"} %llu\n"
        "takedown_http_connections_shed_total{reason=\"slow_body\"} %llu\n"
        "takedown_http_connections_shed_total{reason=\"address_limit\"} %llu\n"
        "takedown_http_connections_shed_total{reason=\"connection_limit\"} %llu\n",
        g.shed_header, g.shed_idle, g.shed_body, g.refused_address, g.shed_overload);
    put(o,
        "# HELP takedown_http_rate_limited_total Requests answered 429, by limit.\n"
        "# TYPE takedown_http_rate_limited_total counter\n"
        "takedown_http_rate_limited_total{limit=\"address\"} %llu\n"
        "takedown_http_rate_limited_total{limit=\"key\"} %llu\n"
        "takedown_http_rate_limited_total{limit=\"unauthenticated\"} %llu\n",
        g.limited_address, g.limited_key, g.limited_unauthenticated);
}

char *td__metrics_render(td_server *srv, size_t *len)
{
    td__metrics *m = srv->metrics;
    size_t n;
    const td__route *routes = td__routes(&n);
    out o = {.failed = 0};
    td__buf_init(&o.b, METRICS_MAX);
    put(&o, "# HELP takedown_http_requests_total HTTP requests by route and status class.\n"
            "# TYPE takedown_http_requests_total counter\n");
    for (size_t i = 0; i <= m->n_routes; i++) {
        const char *method = i < n ? routes[i].method : "";
        const char *pattern = i < n ? routes[i].pattern : "unmatched";
        for (int c = 0; c < N_CLASSES; c++) {
            unsigned long long v = atomic_load(&m->routes[i].by_class[c]);
            if (v)
                put(&o,
                    "takedown_http_requests_total{method=\"%s\",route=\"%s\",code=\"%s\"} "
                    "%llu\n",
                    method, pattern, class_names[c], v);
        }
    }
    put(&o,
        "# HELP takedown_matches_total Matches found by checks and content submissions (allow "
        "banks' and suppressed matches left out), by the action they ask for.\n"
        "# TYPE takedown_matches_total counter\n"
        "takedown_matches_total{action=\"log\"} %llu\n"
        "takedown_matches_total{action=\"review\"} %llu\n"
        "takedown_matches_total{action=\"block\"} %llu\n",
        (unsigned long long)atomic_load(&m->matches[TD_ACTION_LOG]),
        (unsigned long long)atomic_load(&m->matches[TD_ACTION_REVIEW]),
        (unsigned long long)atomic_load(&m->matches[TD_ACTION_BLOCK]));
    put(&o, "# HELP takedown_http_request_duration_seconds Time from the first byte of a "
            "request to the last byte of its response.\n"
            "# TYPE takedown_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= m->n_routes; i++) {
        route_metrics *rm = &m->routes[i];
        unsigned long long count = atomic_load(&rm->count);
        if (!count)
            continue;
        const char *method = i < n ? routes[i].method : "";
        const char *pattern = i < n ? routes[i].pattern : "unmatched";
        unsigned long long cum = 0;
        for (size_t b = 0; b <= N_BUCKETS; b++) {
            cum += atomic_load(&rm->buckets[b]);
            if (b < N_BUCKETS)
                put(&o,
                    "takedown_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                    "le=\"%g\"} %llu\n",
                    method, pattern, bucket_bounds[b], cum);
            else
                put(&o,
                    "takedown_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                    "le=\"+Inf\"} %llu\n",
                    method, pattern, cum);
        }
        put(&o, "takedown_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n",
            method, pattern, (double)atomic_load(&rm->sum_us) / 1e6);
        put(&o, "takedown_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
            method, pattern, count);
    }
    put(&o,
        "# HELP takedown_http_requests_in_flight Requests being received, handled or sent.\n"
        "# TYPE takedown_http_requests_in_flight gauge\ntakedown_http_requests_in_flight %ld\n",
        atomic_load(&srv->in_flight));
    render_guard(&o, srv);
    put(&o,
        "# HELP takedown_uptime_seconds Seconds since the server started.\n"
        "# TYPE takedown_uptime_seconds gauge\ntakedown_uptime_seconds %.0f\n",
        td__srv_now() - srv->started);
    put(&o,
        "# HELP takedown_ready Whether the indexes are loaded.\n"
        "# TYPE takedown_ready gauge\ntakedown_ready %d\n",
        atomic_load(&srv->ready));

    td_service *svc = atomic_load(&srv->svc);
    td_service_stats st;
    if (svc && atomic_load(&srv->ready) && td_service_get_stats(svc, &st, NULL) == TD_OK) {
        put(&o,
            "# HELP takedown_index_entries Entries in the in-memory indexes.\n"
            "# TYPE takedown_index_entries gauge\n"
            "takedown_index_entries{type=\"pdq\"} %llu\n"
            "takedown_index_entries{type=\"md5\"} %llu\n"
            "takedown_index_entries{type=\"sha256\"} %llu\n"
            "takedown_index_entries{type=\"vpdq_videos\"} %llu\n"
            "takedown_index_entries{type=\"vpdq_frames\"} %llu\n"
            "takedown_index_entries{type=\"raw_text\"} %llu\n"
            "takedown_index_entries{type=\"url\"} %llu\n"
            "takedown_index_entries{type=\"url_rule\"} %llu\n",
            (unsigned long long)st.pdq_indexed, (unsigned long long)st.md5_indexed,
            (unsigned long long)st.sha256_indexed, (unsigned long long)st.vpdq_videos,
            (unsigned long long)st.vpdq_frames, (unsigned long long)st.text_indexed,
            (unsigned long long)st.url_indexed, (unsigned long long)st.url_rules);
        put(&o,
            "# HELP takedown_index_log_sequence Last change-log entry applied to the "
            "indexes.\n# TYPE takedown_index_log_sequence gauge\n"
            "takedown_index_log_sequence %llu\n",
            (unsigned long long)st.log_sequence);
        put(&o, "# HELP takedown_banks Banks.\n# TYPE takedown_banks gauge\ntakedown_banks %lld\n",
            (long long)st.banks);
        put(&o,
            "# HELP takedown_signals Signals stored, enabled or not.\n"
            "# TYPE takedown_signals gauge\ntakedown_signals %lld\n",
            (long long)st.signals);
        put(&o,
            "# HELP takedown_cases_open Cases open, claimed or escalated (review queue).\n"
            "# TYPE takedown_cases_open gauge\ntakedown_cases_open %lld\n",
            (long long)st.cases_open);
        put(&o,
            "# HELP takedown_review_queue_depth Review cases not decided (open, claimed or "
            "escalated), as takedown_cases_open.\n"
            "# TYPE takedown_review_queue_depth gauge\ntakedown_review_queue_depth %lld\n",
            (long long)st.cases_open);
        put(&o,
            "# HELP takedown_webhook_queue_depth Webhook deliveries waiting.\n"
            "# TYPE takedown_webhook_queue_depth gauge\ntakedown_webhook_queue_depth %lld\n",
            (long long)st.queue_depth);
        put(&o,
            "# HELP takedown_webhook_failures_total Failed delivery attempts.\n"
            "# TYPE takedown_webhook_failures_total counter\n"
            "takedown_webhook_failures_total %lld\n",
            (long long)st.webhook_failures);
        put(&o,
            "# HELP takedown_webhook_dead_total Deliveries given up.\n"
            "# TYPE takedown_webhook_dead_total counter\ntakedown_webhook_dead_total %lld\n",
            (long long)st.webhook_dead);
        put(&o,
            "# HELP takedown_content_total Content items received.\n"
            "# TYPE takedown_content_total counter\ntakedown_content_total %lld\n",
            (long long)st.content);
    }
    td_orders *orders = atomic_load(&srv->orders);
    if (orders && svc && atomic_load(&srv->ready))
        render_orders(&o, srv, orders);
    if (svc && atomic_load(&srv->ready))
        render_eorders(&o, atomic_load(&srv->eorders));
    render_reports(&o, srv);
    render_review_media(&o, srv);
    if (o.failed || !o.b.p) {
        td__buf_free(&o.b);
        return NULL;
    }
    return td__buf_take(&o.b, len);
}
