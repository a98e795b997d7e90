/* The HTTP API of the matching service (libmicrohttpd, thread-pool mode).
 *
 * The server is a thin layer over td_service: it authenticates the caller, checks the route's
 * roles, parses the request, calls the library and writes JSON. It can start before the service
 * is open, so that liveness answers at once while readiness (GET /readyz) answers 503 until
 * td_server_set_service hands it an open service with its indexes loaded. */
#ifndef TAKEDOWN_SERVER_H
#define TAKEDOWN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "casework.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct td_server td_server;

typedef struct td_server_options {
    const char *address;       /* IPv4 or IPv6 literal to bind, default "127.0.0.1" */
    uint16_t port;             /* 0 picks a free port (see td_server_port) */
    unsigned threads;          /* polling threads; 0: one per core */
    uint64_t max_body_bytes;   /* JSON bodies (default 1 MiB) */
    uint64_t max_media_bytes;  /* media bodies of check, content and signals (default 64 MiB) */
    uint64_t max_import_bytes; /* list imports (default 1 GiB) */
    unsigned timeout_seconds;  /* idle connection timeout (default 60) */
    unsigned max_connections;  /* default 1024, kept by closing idle keyless connections first */
    /* Hostile clients (docs/api.md, "Connection and rate limits"). Each 0 turns its limit off,
     * except header_timeout_seconds (0: the default). */
    unsigned max_connections_per_address; /* per client address, IPv6 by /64 (default 256) */
    unsigned header_timeout_seconds;      /* complete request headers within this of the accept or
                                             of the previous response; also a body's grace (10) */
    unsigned min_receive_rate;            /* bytes/s a request body must average (default 1024) */
    unsigned rate_per_address;            /* requests/s per client address (default 0) */
    unsigned rate_per_key;                /* requests/s per API key (default 0) */
    unsigned rate_unauthenticated;        /* requests/s per address without a valid key (100) */
    unsigned rate_burst_seconds;          /* a bucket holds this many seconds of its rate (2) */
    int metrics_public; /* /metrics without a key (default 1: scraped from the network) */
    /* Fetching media by URL (GET /h/hash?url=): off unless fetch_enabled; then only to hosts on
     * fetch_allow (comma-separated host suffixes, "*" for any; copied at start), never to
     * the addresses the outbound policy refuses (src/net: loopback, private, link-local, CGNAT,
     * reserved, and IPv6 forms embedding them) unless fetch_allow_private, within the
     * two time limits (0: 3000 and 10000 ms) and max_media_bytes. */
    int fetch_enabled;
    const char *fetch_allow;
    int fetch_allow_private;
    unsigned fetch_connect_timeout_ms;
    unsigned fetch_timeout_ms;
    /* Where the server reports events that concern the operator (order clocks escalating or
     * breaching, a component that could not start). NULL: not reported. The library never
     * prints: the caller decides (takedown serve writes them to stderr). */
    void (*log)(void *ctx, const char *message);
    void *log_ctx;
    /* The HMA listener (docs/hma.md): a second address serving only Meta's HMA 1.1.7 routes,
     * with the same limits, timeouts and metrics as the main one. hma_address NULL or "": off
     * (the default). A request there without an Authorization header acts with hma_role
     * (TD_ROLE_ADMIN, _MODERATOR, _PLATFORM or _AUDITOR; 0: TD_ROLE_PLATFORM), audited as the
     * actor "hma_listen"; a request with a key is authenticated as on the main listener. */
    const char *hma_address; /* IPv4 or IPv6 literal */
    uint16_t hma_port;       /* 0 picks a free port (see td_server_hma_port) */
    td_role hma_role;
    /* The configuration the orders component reads (order_*; evidence_*); borrowed, must
     * outlive the server. NULL: the table's defaults. */
    const td_config *config;
} td_server_options;

void td_server_options_default(td_server_options *opts);

/* Binds and starts serving. The service may be NULL here and set later. */
__attribute__((warn_unused_result)) td_status
td_server_start(const td_server_options *opts, td_service *svc, td_server **out, td_error *err);

/* Hands the server its (open) service and marks it ready. */
void td_server_set_service(td_server *srv, td_service *svc);

/* The bound port (useful after asking for port 0). */
uint16_t td_server_port(const td_server *srv);

/* The bound port of the HMA listener, 0 when it is off. */
uint16_t td_server_hma_port(const td_server *srv);

/* Stops accepting connections, waits up to drain_ms for requests in flight to complete, then
 * stops every thread and frees the server; accepts NULL. The service is not closed. */
void td_server_stop(td_server *srv, unsigned drain_ms);

/* The route table, for documentation and tests. */
typedef struct td_server_route_info {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/v1/banks/{name}" (OpenAPI path syntax) */
    const char *summary;
    const char *roles; /* "admin,moderator,..." or "public" */
    int requires_key;
    /* What the route reads besides its path and body: its query parameters ("limit offset") and
     * data headers ("Takedown-Signature"), space-separated, NULL for none; anything else is
     * refused with a 400 naming it. NULL on HMA routes, whose handlers check their own. */
    const char *query;
    const char *headers;
    int hma; /* one of Meta's HMA 1.1.7 routes (docs/hma.md): errors in HMA's shape, also served
                on hma_listen */
} td_server_route_info;

const td_server_route_info *td_server_routes(size_t *count);

/* The OpenAPI document served at /v1/openapi.yaml. */
const char *td_server_openapi(size_t *len);

#ifdef __cplusplus
}
#endif

#endif
