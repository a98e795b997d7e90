/* The HTTP transport: libmicrohttpd in thread-pool mode, one request context per request.
 *
 * Life of a request: the first call of the access handler matches the route, authenticates the
 * caller and checks the body size announced by Content-Length, so that 401/403/404/413 are
 * answered before any body byte is read. Later calls append body bytes to a buffer that never
 * grows past the route's limit (a chunked body that goes over is discarded and answered 413),
 * or feed them straight to a streaming import. The last call runs the handler. The completion
 * callback records metrics and frees everything the request allocated, whatever happened to the
 * connection. */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/hex.h"
#include "server/auth.h"
#include "server/guard.h"
#include "server/handlers_eorders.h"
#include "server/handlers_feeds.h"
#include "server/handlers_frank.h"
#include "server/handlers_hma.h"
#include "server/handlers_incidents.h"
#include "server/handlers_orders.h"
#include "server/server_int.h"

/* A chunked body over the limit is read and dropped up to this much before the connection is
 * closed without an answer. */
#define DISCARD_MAX ((uint64_t)16 << 20)

/* The web console's Content-Security-Policy (docs/console.md): its own scripts, styles and API
 * only; no inline code, no frames, no plugins. Images and video only from its own origin or from
 * blob: URLs the console makes of bytes it fetched (a reported message's attachments). */
#define TD__CONSOLE_CSP                                                                            \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "              \
    "media-src blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "                    \
    "form-action 'self'; frame-ancestors 'none'"

double td__srv_now(void) { return (double)td__monotonic_ns() * 1e-9; }

td_orders *td__req_orders(td__req *r) { return atomic_load(&r->srv->orders); }

/* Hands an operator-facing event to the caller's log callback, if any. */
static void server_log(td_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void server_log(td_server *srv, const char *fmt, ...)
{
    char message[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    if (!srv->opts.log)
        return;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    srv->opts.log(srv->opts.log_ctx, message);
}

/* ---- removal orders ----
 * The order clocks, the retried preservation of confirmed orders and the evidence purge run on
 * the orders handle's own thread (src/orders/orders_duties.c): the server asks for it when it
 * opens the handle, passes its operator log callback on, and reports the thread's figures
 * (/metrics). */

/* Closes the orders handle (which stops its thread, waiting for a tick in progress), keeping
 * its figures so that the metrics count since the server started. */
static void orders_stop(td_server *srv)
{
    td_orders *orders = atomic_exchange(&srv->orders, NULL);
    td_orders_clock_stats cs;
    if (!orders)
        return;
    td_orders_clock_get_stats(orders, &cs);
    td_orders_close(orders);
    atomic_fetch_add(&srv->preserve_retries_closed, cs.preservation_retries);
    atomic_fetch_add(&srv->evidence_purged_closed, cs.evidence_purged);
}

/* Closes evidence orders and their sender: before the reports (their provider) and the orders
 * (whose authority registry they borrow). */
static void eorders_stop(td_server *srv)
{
    td__eev_sender_stop(srv->eev_sender);
    srv->eev_sender = NULL;
    td_eorders_close(atomic_exchange(&srv->eorders, NULL));
}

/* Opens evidence orders on svc beside orders (whose authority registry and evidence store they
 * share), with their clock thread and the sender of their outgoing messages; reports removed
 * after review are data they can link (td_reports_eorder_provider), registered right after the
 * open (td_eorders_options has no member for it; the clock thread first ticks one interval
 * later). A failure leaves their routes answering 503 and is reported to the log. */
static void eorders_start(td_server *srv, td_service *svc, td_orders *orders)
{
    td_eorders_options eo;
    td_eorders *eorders = NULL;
    td_error err;
    if (td_eorders_options_from_config(&eo, srv->opts.config, &err) != TD_OK) {
        server_log(srv, "evidence orders are disabled: %s", err.message);
        return;
    }
    eo.orders = orders;
    eo.clock = 1;
    eo.log_message = srv->opts.log;
    eo.log_ctx = srv->opts.log_ctx;
    if (td_eorders_open(svc, &eo, &eorders, &err) != TD_OK) {
        server_log(srv, "evidence orders are disabled: %s", err.message);
        return;
    }
    td_reports *rep = atomic_load(&srv->reports);
    if (rep)
        td_eorders_set_provider(eorders, td_reports_eorder_provider, rep);
    atomic_store(&srv->eorders, eorders);
    srv->eev_sender = td__eev_sender_start(srv, eorders);
}

td_eorders *td__req_eorders(td__req *r) { return atomic_load(&r->srv->eorders); }

/* Opens the orders component on svc with its clock thread. A failure leaves the server without
 * orders (their routes answer 503) and is reported to the log: matching keeps working. */
static void orders_start(td_server *srv, td_service *svc)
{
    td_orders_options oo;
    td_orders *orders = NULL;
    td_error err;
    if (td_orders_options_from_config(&oo, srv->opts.config, &err) != TD_OK) {
        server_log(srv, "removal orders are disabled: %s", err.message);
        return;
    }
    oo.clock = 1;
    oo.log_message = srv->opts.log;
    oo.log_ctx = srv->opts.log_ctx;
    if (td_orders_open(svc, &oo, &orders, &err) != TD_OK) {
        server_log(srv, "removal orders are disabled: %s", err.message);
        return;
    }
    atomic_store(&srv->orders, orders);
}

/* ---- message franking and E2EE reports ----
 * The reports handle franks at delivery and verifies reports; its duties (key rotation, the
 * destruction of retired keys at the end of their retention, the preservation of removed
 * reports, the deletion of review copies of closed cases) run on its own thread. It seals
 * removed reports in the orders handle's evidence store, so it is opened after the orders and
 * closed before them; evidence orders, which link removed reports, come after it. */

static void reports_start(td_server *srv, td_service *svc)
{
    td_reports_options ro;
    td_reports *rep = NULL;
    td_error err;
    if (td_reports_options_from_config(&ro, srv->opts.config, &err) != TD_OK) {
        server_log(srv, "message franking and reports are disabled: %s", err.message);
        return;
    }
    td_orders *orders = atomic_load(&srv->orders);
    ro.evidence = orders ? td_orders_evidence(orders) : NULL;
    if (ro.tick_ms <= 0)
        ro.tick_ms = TD__REPORTS_TICK_MS;
    if (td_reports_open(svc, &ro, &rep, &err) != TD_OK) {
        server_log(srv, "message franking and reports are disabled: %s", err.message);
        return;
    }
    atomic_store(&srv->reports, rep);
}

/* Closes the reports handle (stopping its thread), keeping its counters for /metrics. */
static void reports_stop(td_server *srv)
{
    td_reports *rep = atomic_exchange(&srv->reports, NULL);
    td_reports_stats rs;
    if (!rep)
        return;
    td_reports_get_stats(rep, &rs);
    td_reports_close(rep);
    atomic_fetch_add(&srv->franked_closed, rs.franked);
    atomic_fetch_add(&srv->verified_closed, rs.verified);
    for (size_t i = 0; i < TD__REFUSAL_REASONS; i++)
        atomic_fetch_add(&srv->refused_closed[i], rs.invalid[i]);
}

void td__srv_reports_figures(td_server *srv, td_reports_stats *out)
{
    td_reports *rep = atomic_load(&srv->reports);
    memset(out, 0, sizeof *out);
    if (rep)
        td_reports_get_stats(rep, out);
    out->franked += atomic_load(&srv->franked_closed);
    out->verified += atomic_load(&srv->verified_closed);
    for (size_t i = 0; i < TD__REFUSAL_REASONS; i++)
        out->invalid[i] += atomic_load(&srv->refused_closed[i]);
}

td_reports *td__req_reports(td__req *r) { return atomic_load(&r->srv->reports); }

/* ---- incidents ----
 * The incidents handle applies the open incidents' rules to every match on the service and
 * records them; its thread reloads the rules (other nodes open and close incidents too),
 * records matches and new signals, and pushes those to peers. It borrows only the service. */

static void incidents_start(td_server *srv, td_service *svc)
{
    td_incidents_options io;
    td_incidents *inc = NULL;
    td_error err;
    td_incidents_options_default(&io);
    io.tick_ms = TD__INCIDENTS_TICK_MS;
    if (td_incidents_open(svc, &io, &inc, &err) != TD_OK) {
        server_log(srv, "incidents are disabled: %s", err.message);
        return;
    }
    atomic_store(&srv->incidents, inc);
}

static void incidents_stop(td_server *srv)
{
    td_incidents_close(atomic_exchange(&srv->incidents, NULL));
}

td_incidents *td__req_incidents(td__req *r) { return atomic_load(&r->srv->incidents); }

/* ---- review copies of uploaded media ----
 * Kept after an upload whose case goes to review; deleted or sealed into the orders handle's
 * evidence store by the handle's own thread (every TD__REVIEW_MEDIA_TICK_MS) once the case is
 * closed. Opened after the orders, closed before them. */

static void review_media_start(td_server *srv, td_service *svc)
{
    td_review_media_options mo;
    td_review_media *rm = NULL;
    td_error err;
    if (td_review_media_options_from_config(&mo, srv->opts.config, &err) != TD_OK) {
        server_log(srv, "review copies of media are disabled: %s", err.message);
        return;
    }
    td_orders *orders = atomic_load(&srv->orders);
    mo.evidence = orders ? td_orders_evidence(orders) : NULL;
    if (mo.max_bytes == 0)
        mo.max_bytes = (int64_t)srv->opts.max_media_bytes;
    mo.tick_ms = TD__REVIEW_MEDIA_TICK_MS;
    if (td_review_media_open(svc, &mo, &rm, &err) != TD_OK) {
        server_log(srv, "review copies of media are disabled: %s", err.message);
        return;
    }
    atomic_store(&srv->review_media, rm);
}

static void review_media_stop(td_server *srv)
{
    td_review_media_close(atomic_exchange(&srv->review_media, NULL));
}

td_review_media *td__req_review_media(td__req *r) { return atomic_load(&r->srv->review_media); }

/* Everything opened on a service, in the order of what each borrows: the orders (their
 * evidence store and authority registry), the reports (sealed in that evidence store), then the
 * evidence orders (the registry, the store, and the reports as their provider). Closed the
 * other way round. */
/* ---- signed feeds ----
 * The feeds handle holds the feed signing key and serves pages from the store; it has no thread
 * and borrows nothing but the service. */
static void feeds_start(td_server *srv, td_service *svc)
{
    td_feeds *f = NULL;
    td_error err;
    if (td_feeds_open(svc, NULL, &f, &err) != TD_OK) {
        server_log(srv, "signed feeds are disabled: %s", err.message);
        return;
    }
    atomic_store(&srv->feeds, f);
}

static void feeds_stop(td_server *srv) { td_feeds_close(atomic_exchange(&srv->feeds, NULL)); }

td_feeds *td__req_feeds(td__req *r) { return atomic_load(&r->srv->feeds); }

/* ---- hash exchanges ----
 * Their workers pull on their own threads; the handle is opened on the service like the others
 * and closed first (a pull in progress finishes its page). */
static void exchanges_start(td_server *srv, td_service *svc)
{
    td_exchanges_options xo;
    td_exchanges *ex = NULL;
    td_error err;
    if (td_exchanges_options_from_config(&xo, srv->opts.config, &err) != TD_OK ||
        td_exchanges_open(svc, &xo, &ex, &err) != TD_OK) {
        server_log(srv, "hash exchanges are disabled: %s", err.message);
        return;
    }
    atomic_store(&srv->exchanges, ex);
}

td_exchanges *td__req_exchanges(td__req *r) { return atomic_load(&r->srv->exchanges); }

static void components_start(td_server *srv, td_service *svc)
{
    feeds_start(srv, svc);
    exchanges_start(srv, svc);
    orders_start(srv, svc);
    reports_start(srv, svc);
    review_media_start(srv, svc);
    td_orders *orders = atomic_load(&srv->orders);
    if (orders)
        eorders_start(srv, svc, orders);
    incidents_start(srv, svc);
}

static void components_stop(td_server *srv)
{
    td_exchanges_close(atomic_exchange(&srv->exchanges, NULL));
    incidents_stop(srv);
    eorders_stop(srv);
    reports_stop(srv);
    review_media_stop(srv);
    orders_stop(srv);
    feeds_stop(srv);
}

void td__srv_clock_figures(td_server *srv, unsigned long long *preserve_retries,
                           unsigned long long *evidence_purged)
{
    td_orders_clock_stats cs;
    td_orders_clock_get_stats(atomic_load(&srv->orders), &cs);
    *preserve_retries = atomic_load(&srv->preserve_retries_closed) + cs.preservation_retries;
    *evidence_purged = atomic_load(&srv->evidence_purged_closed) + cs.evidence_purged;
}

void td_server_options_default(td_server_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->address = "127.0.0.1";
    opts->port = 8080;
    opts->threads = 0;
    opts->max_body_bytes = (uint64_t)1 << 20;
    opts->max_media_bytes = (uint64_t)64 << 20;
    opts->max_import_bytes = (uint64_t)1 << 30;
    opts->timeout_seconds = 60;
    opts->max_connections = 1024;
    opts->max_connections_per_address = 256;
    opts->header_timeout_seconds = 10;
    opts->min_receive_rate = 1024;
    opts->rate_unauthenticated = 100;
    opts->rate_burst_seconds = 2;
    opts->metrics_public = 1;
}

const char *td_server_openapi(size_t *len)
{
    *len = td__openapi_yaml_len;
    return (const char *)td__openapi_yaml;
}

static uint64_t body_limit(const td_server *srv, const td__route *route)
{
    if (route && (route->flags & TD__F_REPORT))
        return srv->opts.max_media_bytes < TD_REPORT_BODY_MAX ? srv->opts.max_media_bytes
                                                              : TD_REPORT_BODY_MAX;
    if (route && (route->flags & TD__F_IMPORT))
        return srv->opts.max_import_bytes;
    if (route && (route->flags & TD__F_MEDIA))
        return srv->opts.max_media_bytes;
    return srv->opts.max_body_bytes;
}

static enum MHD_Result send_response(td__req *r)
{
    struct MHD_Response *resp;
    if (!r->handled)
        td__reply_error(r, 500, "internal", "the handler gave no answer");
    if (r->resp_fd >= 0) {
        /* The response takes the descriptor and closes it when done. */
        resp = MHD_create_response_from_fd64(r->resp_fd_len, r->resp_fd);
        if (resp)
            r->resp_fd = -1;
    } else if (r->resp_static) {
        resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_PERSISTENT);
    } else {
        /* The response takes the buffer; it is freed with td__free when sent. */
        resp = MHD_create_response_from_buffer_with_free_callback(r->resp_len, r->resp, td__free);
        if (resp)
            r->resp = NULL;
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->resp_type ? r->resp_type : "application/json");
    if (r->route && (r->route->flags & TD__F_CONSOLE)) {
        /* The console loads only its own files and talks only to this origin's API. */
        MHD_add_response_header(resp, "Content-Security-Policy", TD__CONSOLE_CSP);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    }
    if (r->route && (r->route->flags & TD__F_DOWNLOAD)) {
        /* A reported message's bytes, as its sender wrote them: never HTML of this origin. */
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Content-Security-Policy", "sandbox; default-src 'none'");
        MHD_add_response_header(resp, "Content-Disposition", "attachment");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    if (r->retry_after) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    if (r->status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->hma ? "see /openapi/openapi.json" : "see /v1/openapi.yaml");
    if (r->resp_location)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->resp_location);
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static td__req *request_new(const td__listener *l, struct MHD_Connection *conn, const char *method,
                            const char *url)
{
    td_server *srv = l->srv;
    td__req *r = td__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = srv;
    r->hma = l->hma;
    r->conn = conn;
    r->t_start = td__srv_now();
    r->route_index = -1;
    r->resp_fd = -1;
    r->method = td__arena_strndup(&r->arena, method, strlen(method));
    r->path = td__arena_strndup(&r->arena, url, strlen(url));
    r->svc = atomic_load(&srv->svc);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->gconn = ci ? ci->socket_context : NULL;
    td__guard_request_begin(srv->guard, r->gconn);
    if (!r->method || !r->path) {
        td__arena_free(&r->arena);
        td__free(r);
        return NULL;
    }
    atomic_fetch_add(&srv->in_flight, 1);
    return r;
}

static void request_free(td__req *r)
{
    if (r->imp)
        td_import_abort(r->imp);
    if (r->resp && !r->resp_static)
        td__free(r->resp);
    if (r->resp_fd >= 0)
        close(r->resp_fd);
    td__buf_free(&r->body_buf);
    td__arena_free(&r->arena);
    atomic_fetch_sub(&r->srv->in_flight, 1);
    td__free(r);
}

/* Answers 429 with Retry-After when wait (seconds) is non-zero; returns whether it did. */
static int rate_limited(td__req *r, unsigned wait, const char *what)
{
    if (!wait)
        return 0;
    td__reply_error(r, 429, "rate_limited", "too many requests %s: retry in %u s", what, wait);
    r->retry_after = wait;
    return 1;
}

/* The first call: route, rate limits, readiness, authenticate, check the announced size.
 * Returns 1 when the request was answered already. */
static int request_start(td__req *r)
{
    td_server *srv = r->srv;
    int idx = td__route_match(r, r->method, r->path);
    size_t n_routes;
    const td__route *table = td__routes(&n_routes);
    /* HMA's home page, only on the HMA listener (on the main one "/" is the console): a route
     * outside the table, counted with the requests no route matched. */
    const td__route *home =
        r->hma && idx == -1 && strcmp(r->path, "/") == 0 ? &td__hma_home_route : NULL;
    if (home && strcmp(r->method, "GET") != 0)
        idx = -2;
    else if (home)
        idx = -4;
    const td__route *route = idx >= 0 ? &table[idx] : idx == -4 ? home : NULL;
    /* Probes stay answerable whatever a client at the same address does. */
    int probe = route && (route->flags & TD__F_PROBE);
    if (!probe) {
        if (rate_limited(r, td__guard_rate_address(srv->guard, r->gconn), "from this address"))
            return 1;
        int keyless = !route || (route->roles & TD__R_PUBLIC);
        if (keyless && rate_limited(r, td__guard_rate_unauthenticated(srv->guard, r->gconn),
                                    "without an API key from this address"))
            return 1;
    }
    if (idx == -2) {
        td__reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s", r->method,
                        r->path);
        return 1;
    }
    if (idx == -3) {
        td__reply_bad_path(r);
        return 1;
    }
    if (!route) {
        td__reply_error(r, 404, "no_route", "no route for %s %s", r->method, r->path);
        return 1;
    }
    r->route = route;
    r->route_index = idx >= 0 ? idx : -1;
    if (!td__check_request(r))
        return 1;
    r->max_body = body_limit(srv, r->route);
    td__buf_init(&r->body_buf, r->max_body < SIZE_MAX ? (size_t)r->max_body : SIZE_MAX);
    r->content_type =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

    unsigned roles = r->route->roles;
    if (r->route->pattern[1] == 'm' && strcmp(r->route->pattern, "/metrics") == 0 &&
        !srv->opts.metrics_public)
        roles = TD__R_ADMIN | TD__R_AUDITOR;
    if (!(roles & TD__R_PUBLIC) || !(r->route->flags & TD__F_NO_READY)) {
        if (!r->svc || !atomic_load(&srv->ready)) {
            td__reply_error(r, 503, "not_ready", "the service is starting");
            return 1;
        }
    }
    const char *auth =
        (roles & TD__R_PUBLIC)
            ? NULL
            : MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!(roles & TD__R_PUBLIC) && r->hma && !auth) {
        /* The HMA listener without a key: the configured role, never more; rate-limited as
         * one key (the proxy in front of it is one client address). */
        r->who = srv->hma_who;
        r->role_bit = td__role_bit(r->who.role);
        if (rate_limited(r, td__guard_rate_key(srv->guard, 0), "as hma_listen's role"))
            return 1;
        if (!(roles & r->role_bit)) {
            td__reply_error(r, 403, "forbidden",
                            "hma_listen's role '%s' may not call %s %s: send an API key",
                            td_role_name(r->who.role), r->route->method, r->route->pattern);
            return 1;
        }
    } else if (!(roles & TD__R_PUBLIC)) {
        if (!td__authenticate(r, auth)) {
            /* A wrong key is charged to the address, so that keys cannot be guessed fast. */
            rate_limited(r, td__guard_rate_unauthenticated(srv->guard, r->gconn),
                         "without a valid API key from this address");
            return 1;
        }
        td__guard_authenticated(srv->guard, r->gconn);
        if (rate_limited(r, td__guard_rate_key(srv->guard, r->who.id), "with this API key"))
            return 1;
        if (!(roles & r->role_bit)) {
            td__reply_error(r, 403, "forbidden", "role '%s' may not call %s %s",
                            td_role_name(r->who.role), r->route->method, r->route->pattern);
            return 1;
        }
    }
    /* Before any body is read (an import begins with its first bytes). */
    if (!td__check_route_inputs(r))
        return 1;
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        unsigned long long len = strtoull(cl, &end, 10);
        if (end != cl && len > r->max_body) {
            td__reply_error(r, 413, "body_too_large",
                            "the body (%llu bytes) is over this route's limit of %llu bytes", len,
                            (unsigned long long)r->max_body);
            return 1;
        }
    }
    return 0;
}

static int body_append(td__req *r, const char *data, size_t size)
{
    if (r->too_large || (uint64_t)r->body_buf.len + size > r->max_body) {
        r->too_large = 1;
        r->discarded += size;
        return r->discarded <= DISCARD_MAX;
    }
    return td__buf_add(&r->body_buf, data, size) == TD_OK;
}

/* Streaming import: the import begins with the first bytes, so the list's text is never held
 * whole (its parsed lines are: import.c). */
static int import_feed(td__req *r, const char *data, size_t size)
{
    r->streamed += size;
    if (r->streamed > r->max_body) {
        r->too_large = 1;
        r->discarded += size;
        if (r->imp) {
            td_import_abort(r->imp);
            r->imp = NULL;
        }
        return r->discarded <= DISCARD_MAX;
    }
    if (r->stream_st != TD_OK)
        return 1; /* already failed: drop the rest, answer at the end */
    if (!r->imp) {
        r->stream_st = td__import_start(r);
        if (r->stream_st != TD_OK)
            return 1;
    }
    r->stream_st = td_import_feed(r->imp, data, size, &r->stream_err);
    if (r->stream_st != TD_OK) {
        td_import_abort(r->imp);
        r->imp = NULL;
    }
    return 1;
}

/* Actions flagged TD__F_NO_BODY, and takedown's reads and deletes, which never read a body: one
 * sent is refused rather than ignored. */
static int takes_no_body(const td__route *rt)
{
    if (rt->flags & TD__F_NO_BODY)
        return 1;
    return !(rt->flags & TD__F_HMA) &&
           (strcmp(rt->method, "GET") == 0 || strcmp(rt->method, "DELETE") == 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    const td__listener *l = cls;
    td_server *srv = l->srv;
    td__req *r = *con_cls;
    if (!r) {
        r = request_new(l, conn, method, url);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        if (request_start(r))
            return send_response(r);
        return MHD_YES;
    }
    if (r->handled) {
        /* Answered early: the rest of the body is dropped, still at the minimum rate. */
        td__guard_body(srv->guard, r->gconn, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        td__guard_body(srv->guard, r->gconn, n);
        int ok = (r->route->flags & TD__F_IMPORT) ? import_feed(r, upload_data, n)
                                                  : body_append(r, upload_data, n);
        return ok ? MHD_YES : MHD_NO;
    }
    td__guard_handling(srv->guard, r->gconn);
    if (r->too_large) {
        td__reply_error(r, 413, "body_too_large",
                        "the body is over this route's limit of %llu "
                        "bytes",
                        (unsigned long long)r->max_body);
        return send_response(r);
    }
    /* The handler's view of the body (NUL-terminated by the buffer). */
    r->body = (uint8_t *)r->body_buf.p;
    r->body_len = r->body_buf.len;
    if (takes_no_body(r->route) && r->body_len > 0) {
        td__reply_error(r, 400, "unexpected_body",
                        "%s %s takes no body (%zu bytes sent): nothing was done", r->route->method,
                        r->route->pattern, r->body_len);
        return send_response(r);
    }
    r->route->handler(r);
    return send_response(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    td_server *srv = cls;
    td__req *r = *con_cls;
    if (!r)
        return;
    unsigned status = r->handled ? r->status : 0;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && status == 0)
        status = 499; /* the client went away */
    td__metrics_observe(srv->metrics, r->route_index, status, td__srv_now() - r->t_start);
    td__guard_request_end(srv->guard, r->gconn);
    request_free(r);
    *con_cls = NULL;
}

/* Connections from accept to close, for the guard (guard.h). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    td_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *addr =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        *socket_context =
            fd ? td__guard_open(srv->guard, fd->connect_fd, addr ? addr->client_addr : NULL) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        td__guard_close(srv->guard, *socket_context);
        *socket_context = NULL;
    }
}

/* libmicrohttpd percent-decodes the path before routing, which would turn a content id
 * "post%2F1" into two path segments. This decoder, used for the path and for query arguments,
 * keeps "%2F" and "%25" encoded (and malformed escapes as they are): the router decodes path
 * segments itself, td__query decodes the two escapes left in arguments. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (r[0] == '%' && (hi = td__hex_digit((unsigned char)r[1])) >= 0 &&
            (lo = td__hex_digit((unsigned char)r[2])) >= 0) {
            int c = hi * 16 + lo;
            if (c == '/' || c == '%' || c == 0) {
                *w++ = r[0];
                *w++ = r[1];
                *w++ = r[2];
            } else {
                *w++ = (char)c;
            }
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static unsigned core_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 256 ? (unsigned)n : 1;
}

/* An address to bind: host an IPv4 or IPv6 literal. Returns 0 when it is neither. */
typedef union td__sockaddr {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
} td__sockaddr;

static int listen_address(const char *host, uint16_t port, td__sockaddr *addr, unsigned *flags)
{
    memset(addr, 0, sizeof *addr);
    if (inet_pton(AF_INET, host, &addr->v4.sin_addr) == 1) {
        addr->v4.sin_family = AF_INET;
        addr->v4.sin_port = htons(port);
        return 1;
    }
    if (inet_pton(AF_INET6, host, &addr->v6.sin6_addr) == 1) {
        addr->v6.sin6_family = AF_INET6;
        addr->v6.sin6_port = htons(port);
        *flags |= MHD_USE_IPv6;
        return 1;
    }
    return 0;
}

/* One listener's daemon, with the server's limits and callbacks; NULL on failure. */
static struct MHD_Daemon *daemon_start(td_server *srv, const td_server_options *opts,
                                       td__listener *l, uint16_t port, td__sockaddr *addr,
                                       unsigned flags)
{
    unsigned max_conn = opts->max_connections ? opts->max_connections : 1024u;
    unsigned threads = opts->threads ? opts->threads : core_count();
    /* libmicrohttpd's own limit (split between its threads) sits well above the guard's, which
     * keeps max_connections by shedding: connections being shed still count until closed. */
    unsigned mhd_limit = max_conn > 100000u ? 200000u : max_conn * 2u + 64u;
    return MHD_start_daemon(
        flags, port, NULL, NULL, on_request, l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_CONNECTION_TIMEOUT,
        opts->timeout_seconds ? opts->timeout_seconds : 60u, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        1024u, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
}

static void server_free(td_server *srv)
{
    td__metrics_free(srv->metrics);
    td__auth_cache_free(srv->auth);
    td__guard_free(srv->guard);
    td__free(srv->fetch_allow);
    td__free(srv);
}

td_status td_server_start(const td_server_options *opts, td_service *svc, td_server **out,
                          td_error *err)
{
    td_server_options defaults;
    if (!opts) {
        td_server_options_default(&defaults);
        opts = &defaults;
    }
    *out = NULL;
    td__sockaddr addr, hma_addr;
    const char *host = opts->address && *opts->address ? opts->address : "127.0.0.1";
    const char *hma_host = opts->hma_address && *opts->hma_address ? opts->hma_address : NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
    unsigned hma_flags = flags;
    if (!listen_address(host, opts->port, &addr, &flags))
        return td__error_set(err, TD_ERR_INVALID, "listen address '%s' is not an IP address", host);
    if (hma_host && !listen_address(hma_host, opts->hma_port, &hma_addr, &hma_flags))
        return td__error_set(err, TD_ERR_INVALID, "hma_listen address '%s' is not an IP address",
                             hma_host);
    td_role hma_role = opts->hma_role ? opts->hma_role : TD_ROLE_PLATFORM;
    if (hma_role != TD_ROLE_ADMIN && hma_role != TD_ROLE_MODERATOR &&
        hma_role != TD_ROLE_PLATFORM && hma_role != TD_ROLE_AUDITOR)
        return td__error_set(err, TD_ERR_INVALID,
                             "hma_role must be platform, moderator, admin or auditor, not '%s'",
                             td_role_name(hma_role));
    td_server *srv = td__calloc(1, sizeof *srv);
    if (!srv)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    srv->opts = *opts;
    srv->opts.address = NULL;
    srv->opts.hma_address = NULL;
    srv->opts.fetch_allow = NULL;
    if (opts->fetch_allow && !(srv->fetch_allow = td__strdup(opts->fetch_allow))) {
        td__free(srv);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    srv->opts.fetch_allow = srv->fetch_allow;
    snprintf(srv->listen_addr, sizeof srv->listen_addr, "%s", host);
    srv->listen_main.srv = srv;
    srv->listen_hma.srv = srv;
    srv->listen_hma.hma = 1;
    /* Who a keyless request on the HMA listener is: no key (id 0), the configured role, and a
     * name that says where it came from in every audit entry it causes. */
    srv->hma_who.role = hma_role;
    snprintf(srv->hma_who.name, sizeof srv->hma_who.name, "hma_listen");
    size_t n_routes;
    td__routes(&n_routes);
    srv->metrics = td__metrics_new(n_routes);
    srv->auth = td__auth_cache_new();
    unsigned max_conn = opts->max_connections ? opts->max_connections : 1024u;
    td__guard_limits gl = {
        .max_connections = max_conn,
        .per_address = opts->max_connections_per_address,
        .header_timeout_s = opts->header_timeout_seconds ? opts->header_timeout_seconds : 10u,
        .idle_timeout_s = opts->timeout_seconds ? opts->timeout_seconds : 60u,
        .min_receive_rate = opts->min_receive_rate,
        .rate_per_address = opts->rate_per_address,
        .rate_per_key = opts->rate_per_key,
        .rate_unauthenticated = opts->rate_unauthenticated,
        .rate_burst_s = opts->rate_burst_seconds ? opts->rate_burst_seconds : 1u,
    };
    srv->guard = td__guard_new(&gl);
    if (!srv->metrics || !srv->auth || !srv->guard) {
        server_free(srv);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    srv->started = td__srv_now();
    if (svc)
        components_start(srv, svc);
    atomic_store(&srv->svc, svc);
    atomic_store(&srv->ready, svc && td_service_ready(svc) ? 1 : 0);
    srv->daemon = daemon_start(srv, opts, &srv->listen_main, opts->port, &addr, flags);
    if (srv->daemon && hma_host) {
        srv->hma_daemon =
            daemon_start(srv, opts, &srv->listen_hma, opts->hma_port, &hma_addr, hma_flags);
        if (!srv->hma_daemon) {
            MHD_stop_daemon(srv->daemon);
            components_stop(srv);
            server_free(srv);
            return td__error_set(err, TD_ERR_IO,
                                 "cannot listen on %s port %u for hma_listen (in use, or no "
                                 "permission?)",
                                 hma_host, (unsigned)opts->hma_port);
        }
    }
    if (!srv->daemon) {
        components_stop(srv);
        server_free(srv);
        return td__error_set(err, TD_ERR_IO,
                             "cannot listen on %s port %u (in use, or no "
                             "permission?)",
                             host, (unsigned)opts->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : opts->port;
    if (srv->hma_daemon) {
        info = MHD_get_daemon_info(srv->hma_daemon, MHD_DAEMON_INFO_BIND_PORT);
        srv->hma_port = info ? info->port : opts->hma_port;
    }
    *out = srv;
    return TD_OK;
}

void td_server_set_service(td_server *srv, td_service *svc)
{
    /* Orders first, so that the server is never ready without them. */
    if (svc != atomic_load(&srv->svc)) {
        atomic_store(&srv->ready, 0);
        components_stop(srv);
        if (svc)
            components_start(srv, svc);
    }
    atomic_store(&srv->svc, svc);
    atomic_store(&srv->ready, svc && td_service_ready(svc) ? 1 : 0);
}

/* ---- the HMA routes' query parameters (they check their own: HMA's messages and shape) ---- */

typedef struct query_scan {
    const char *const *names;
    const char *bad;  /* the first parameter not in names */
    const char *dup;  /* the first one given twice */
    const char *bare; /* the first one without a value ("?include_distance") */
    unsigned seen;    /* bit i: names[i] seen */
} query_scan;

static enum MHD_Result scan_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    query_scan *s = cls;
    if (!value) {
        s->bare = key;
        return MHD_NO;
    }
    for (unsigned i = 0; s->names && s->names[i] && i < 32; i++)
        if (strcmp(s->names[i], key) == 0) {
            if (s->seen & (1u << i)) {
                s->dup = key;
                return MHD_NO;
            }
            s->seen |= 1u << i;
            return MHD_YES;
        }
    s->bad = key;
    return MHD_NO;
}

int td__only_query(td__req *r, const char *const *names)
{
    query_scan s = {names, NULL, NULL, NULL, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, scan_arg, &s);
    char safe[128];
    if (s.bad) {
        td__safe_text(safe, sizeof safe, s.bad, strlen(s.bad));
        td__reply_error(r, 400, "unknown_query",
                        "unknown query parameter '%s': takedown refuses what it would not use",
                        safe);
        return 0;
    }
    if (s.bare) { /* Flask reads it as "", which no parameter here takes as meant */
        td__safe_text(safe, sizeof safe, s.bare, strlen(s.bare));
        td__reply_error(r, 400, "invalid_query", "query parameter '%s' has no value", safe);
        return 0;
    }
    if (s.dup) {
        td__safe_text(safe, sizeof safe, s.dup, strlen(s.dup));
        td__reply_error(r, 400, "invalid_query", "query parameter '%s' is given more than once",
                        safe);
        return 0;
    }
    return 1;
}

uint16_t td_server_port(const td_server *srv) { return srv->port; }

uint16_t td_server_hma_port(const td_server *srv) { return srv->hma_daemon ? srv->hma_port : 0; }

void td_server_stop(td_server *srv, unsigned drain_ms)
{
    if (!srv)
        return;
    /* Stop accepting: the listening socket is closed, open connections keep being served. */
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    if (srv->hma_daemon && (fd = MHD_quiesce_daemon(srv->hma_daemon)) != MHD_INVALID_SOCKET)
        close(fd);
    double deadline = td__srv_now() + drain_ms / 1000.0;
    while (atomic_load(&srv->in_flight) > 0 && td__srv_now() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    if (srv->hma_daemon)
        MHD_stop_daemon(srv->hma_daemon);
    td__guard_free(srv->guard);
    /* No request runs any more: close the reports and the orders, which stops their threads
     * (before the caller closes the service). */
    components_stop(srv);
    td__metrics_free(srv->metrics);
    td__auth_cache_free(srv->auth);
    td__free(srv->fetch_allow);
    td__free(srv);
}
