/* Internals shared by the HTTP server's modules: the per-request context every handler receives,
 * the response helpers, and the route table's shape. Handlers never talk to libmicrohttpd; they
 * read the request from td__req and leave a response in it, so that they stay small and the
 * transport can change without touching them. */
#ifndef TD_SERVER_INT_H
#define TD_SERVER_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "takedown/exchange.h"
#include "takedown/orders.h"
#include "takedown/reports.h"
#include "takedown/review_media.h"
#include "takedown/video_hash.h"
#include "takedown/server.h"

#define TD__MAX_PARAMS 4
/* Reasons a report is refused, as td_reports_stats.invalid counts them. */
#define TD__REFUSAL_REASONS (sizeof(((td_reports_stats *)0)->invalid) / sizeof(uint64_t))
#define TD__MAX_PARAM_LEN 256
/* Distinct query parameters (or data headers) a route takes, at most. */
#define TD__MAX_QUERY_ARGS 16

typedef struct td__req td__req;
typedef void (*td__handler)(td__req *r);

/* Role bits: a route lists the roles allowed to call it. */
enum {
    TD__R_ADMIN = 1u << 0,
    TD__R_MODERATOR = 1u << 1,
    TD__R_PLATFORM = 1u << 2,
    TD__R_AUDITOR = 1u << 3,
    TD__R_AUTHORITY = 1u << 4, /* sends signed removal orders and referrals (orders.h) */
    TD__R_CUSTODIAN = 1u << 5, /* holds a share of the evidence master key (evidence.h) */
    TD__R_LEGAL = 1u << 6,  /* handles evidence orders, approves deliveries (evidence_orders.h) */
    TD__R_PEER = 1u << 7,   /* another takedown instance: reads signed feeds (feeds.h) */
    TD__R_PUBLIC = 1u << 15 /* no key needed */
};
/* The platform's own roles. Authorities and custodians are outside them: routes name them
 * explicitly. */
#define TD__R_ANY (TD__R_ADMIN | TD__R_MODERATOR | TD__R_PLATFORM | TD__R_AUDITOR)

/* Route flags. */
enum {
    TD__F_MEDIA = 1u << 0,    /* body may be media bytes: uses the larger media limit */
    TD__F_IMPORT = 1u << 1,   /* body is a list: uses the import limit */
    TD__F_NO_READY = 1u << 2, /* answers before the service is open (probes, metrics) */
    TD__F_CONSOLE = 1u << 3,  /* a web console file: strict CSP and nosniff headers */
    TD__F_PROBE = 1u << 4,    /* a health probe: exempt from the request rate limits */
    TD__F_REPORT = 1u << 5,   /* an E2EE report: up to TD_REPORT_BODY_MAX (within the media
                                 limit), attachments in base64 */
    TD__F_DOWNLOAD = 1u << 6, /* answers bytes from an outside party: a download no browser
                                 renders or sniffs in this origin */
    TD__F_NO_BODY = 1u << 7,  /* an action that takes nothing: a body is refused (400
                                 unexpected_body) rather than ignored */
    TD__F_HMA = 1u << 8,      /* an HMA route (handlers_hma.h): errors answer HMA's
                                 {"message": ...} */
    TD__F_FORM = 1u << 9      /* takes a multipart/form-data body (its files; POST /v1/content),
                                 which every other takedown route refuses (form_body) */
};

typedef struct td__route {
    const char *method;
    const char *pattern; /* "/v1/banks/{name}": literal segments and {param} segments */
    td__handler handler;
    unsigned roles;
    unsigned flags;
    const char *summary;
    /* What the route reads besides its path and body, checked before the handler runs (not on
     * TD__F_HMA routes, whose handlers check their own): the query parameters it takes, each
     * name at most once ("limit offset"; NULL: none), and the data headers (Takedown-* and
     * X-Takedown-*) it reads ("Takedown-Signature"; NULL: none). Anything else is a 400 naming
     * it: a route never answers 2xx while ignoring what it was sent. */
    const char *query;
    const char *headers;
} td__route;

/* An arena for one request: everything allocated from it is freed in one go at completion. */
typedef struct td__arena_block td__arena_block;
typedef struct td__arena {
    td__arena_block *head;
} td__arena;

void *td__arena_alloc(td__arena *a, size_t n);
char *td__arena_strndup(td__arena *a, const char *s, size_t n);
void td__arena_free(td__arena *a);

struct td_server;

struct td__req {
    struct td_server *srv;
    td_service *svc;
    const td__route *route;
    int route_index; /* -1: no route matched */
    const char *method;
    const char *path;
    struct MHD_Connection *conn;
    struct td__conn *gconn; /* the connection guard's record of conn (guard.h), or NULL */
    unsigned retry_after;   /* seconds, sent as Retry-After when non-zero (429) */
    char *params[TD__MAX_PARAMS];
    int n_params;
    /* The authenticated caller (role_bit 0 on public routes). */
    td_principal who;
    unsigned role_bit;
    /* The body as it arrives, never longer than max_body; body and body_len view it once it is
     * complete (what the handler reads; NULL and 0 without a body). */
    td__buf body_buf;
    uint8_t *body;
    size_t body_len;
    uint64_t max_body;
    int too_large;
    uint64_t discarded;
    const char *content_type;
    double t_start;
    td__arena arena;
    /* A streaming import (TD__F_IMPORT routes): fed as the body arrives, never buffered. */
    td_import *imp;
    td_status stream_st;
    td_error stream_err;
    uint64_t streamed;
    /* The response a handler leaves. */
    unsigned status;
    char *resp; /* td__malloc'ed */
    size_t resp_len;
    const char *resp_type;
    const char *resp_location; /* a Location header (static text), or NULL */
    int resp_static;           /* resp points to static data: do not free */
    int resp_fd; /* >= 0: the body is this file's first resp_fd_len bytes (td__reply_fd) */
    uint64_t resp_fd_len;
    int handled;
    /* The request came through the HMA listener (td_server_options.hma_address): only
     * TD__F_HMA routes exist there, and a request without a key acts as srv->hma_who. */
    int hma;
};

/* ---- responses (json_util.c) ---- */

/* Serialises obj (reference stolen) as the response. */
void td__reply_json(td__req *r, unsigned status, json_t *obj);
/* {"error": {"code": code, "message": ...}} with status. */
void td__reply_error(td__req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps a library status to an HTTP error (4xx for bad input, 404 for not found, 500 otherwise). */
void td__reply_status(td__req *r, td_status st, const td_error *err);
/* Bytes (NUL included) of an error message once made safe: messages that quote request bytes are
 * cut there. */
#define TD__ERROR_TEXT_MAX 768
/* s[0..n) as text safe to show and to put in JSON (json_util.c explains the escapes), cut to
 * fit out[cap] (cap >= 8); returns the length written. */
size_t td__safe_text(char *out, size_t cap, const char *s, size_t n);
/* Plain bytes (copied) with a content type. */
void td__reply_text(td__req *r, unsigned status, const char *type, const char *text, size_t len);
/* Bytes the response takes ownership of (td__malloc'ed). */
void td__reply_take(td__req *r, unsigned status, const char *type, char *data, size_t len);
/* A file's first len bytes, streamed from fd, which the response takes (closed when sent). */
void td__reply_fd(td__req *r, unsigned status, const char *type, int fd, uint64_t len);

/* ---- request helpers (json_util.c) ---- */

/* Parses the body as a JSON object; on failure replies 400 and returns NULL. */
json_t *td__body_object(td__req *r);
/* Whether the body is JSON (by Content-Type, or by its first byte when no type is given). */
int td__body_is_json(const td__req *r);
/* A query-string argument, or NULL. */
const char *td__query(td__req *r, const char *name);
/* Why a query-string name or value, as the server's unescaper left it, is refused (a malformed
 * percent-escape, a NUL, bytes that are not UTF-8, a control character), or NULL. */
const char *td__query_problem(const char *v);
/* Replies 400 invalid_query naming the parameter and returns 0 when key or value is refused. */
int td__check_query_arg(td__req *r, const char *key, const char *value);
/* The request's query arguments and the headers handlers read (Content-Type): replies 400 and
 * returns 0 when one is malformed, so that no handler sees bytes it could not put in JSON. */
int td__check_request(td__req *r);
/* The first query argument whose name is not in names (NULL-ended; NULL: none taken), or NULL
 * when every one is (HMA routes check their own: handlers_hma_curation.c). */
const char *td__query_unknown(td__req *r, const char *const *names);
/* Decodes the "%2F" and "%25" the server's unescaper left in a query value (arena copy). */
const char *td__query_decode(td__arena *a, const char *v);
/* Parses a non-negative decimal id from a path parameter; replies 400/404 and returns -1 on
 * failure. */
int64_t td__param_id(td__req *r, int index);
/* Replies 400 unknown_field naming the member and returns 0 when obj has a member not in names
 * (NULL-ended): a route never answers 2xx while ignoring a field it was sent. */
int td__only_members(td__req *r, json_t *obj, const char *const *names);
/* td__only_members for an object inside the body: the answer names the member by its path
 * ("filter.labels", "messages[3].text"). */
int td__only_members_at(td__req *r, json_t *obj, const char *where, const char *const *names);
/* td__body_object and td__only_members in one: the body as a JSON object whose members are all
 * in names; NULL after a 400. */
json_t *td__body_fields(td__req *r, const char *const *names);
/* An action that reads nothing from its body: none, or an empty JSON object (what many clients
 * send with a POST); 0 after a 400 when the body holds anything else (a member is named). */
int td__empty_body(td__req *r);
/* Replies 400 unknown_query naming the first of names (NULL-ended) the request's query string
 * holds and returns 0: the parameters a route takes in one mode only (media bytes, not JSON),
 * refused in the other (why says so). */
int td__refuse_query(td__req *r, const char *const *names, const char *why);
/* The query parameters and data headers the route does not take (td__route.query, .headers):
 * replies 400 and returns 0 when there is one, or a parameter given twice. */
int td__check_route_inputs(td__req *r);
/* Optional typed members: return 0 and reply 400 when the member exists with the wrong type. */
int td__get_string(td__req *r, json_t *obj, const char *name, const char **out);
int td__get_int(td__req *r, json_t *obj, const char *name, int64_t lo, int64_t hi, int64_t *out);
int td__get_bool(td__req *r, json_t *obj, const char *name, int *out);
/* A vPDQ value (member name for errors): a hash file's text, or an array of frame objects
 * {"frame", "quality", "pdq", "timestamp"} as `takedown hash --json` prints them. Replies 400
 * and returns 0 when malformed; out is appended to (clear it either way). */
int td__parse_vpdq(td__req *r, json_t *v, const char *name, td_vpdq *out);
/* A query-string integer within [lo, hi] (def when absent); replies 400 on a bad value. */
int td__query_int(td__req *r, const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out);

/* ---- router (router.c) ---- */

const td__route *td__routes(size_t *count);
/* Finds the route for method and path; fills params (arena copies, percent-decoded).
 * Returns the index, -1 if no pattern matches the path (404), -2 if a pattern matches but not
 * the method (405), -3 if the path is malformed (400): invalid UTF-8, a control character, or a
 * parameter with a bad percent-escape, a NUL, or that is not UTF-8 once decoded. */
int td__route_match(td__req *r, const char *method, const char *path);
/* Whether route i is served where r arrived: on the HMA listener only TD__F_HMA routes are. */
int td__route_served(const td__req *r, const td__route *route);
/* The 400 invalid_path answer for a path td__route_match found malformed, naming the parameter
 * at fault when there is one. */
void td__reply_bad_path(td__req *r);

/* ---- metrics (metrics.c) ---- */

typedef struct td__metrics td__metrics;
td__metrics *td__metrics_new(size_t n_routes);
void td__metrics_free(td__metrics *m);
void td__metrics_observe(td__metrics *m, int route_index, unsigned status, double seconds);
/* Counts the matches a check or a content submission found (takedown_matches_total). */
void td__metrics_matches(td__metrics *m, const td_match *matches, size_t n);
/* Prometheus text exposition of everything; td__malloc'ed. */
char *td__metrics_render(struct td_server *srv, size_t *len);

/* ---- the server (server.c) ---- */

/* One listening address: the access handler's context. */
typedef struct td__listener {
    struct td_server *srv;
    int hma; /* the HMA listener */
} td__listener;

struct td_server {
    struct MHD_Daemon *daemon;
    /* The HMA listener (NULL: off), its bound port, and who a keyless request on it is. */
    struct MHD_Daemon *hma_daemon;
    uint16_t hma_port;
    td_principal hma_who;
    td__listener listen_main, listen_hma;
    _Atomic(td_service *) svc;
    /* Removal orders, opened on the service by td_server_set_service (NULL: the order routes
     * answer 503), with the handle's clock thread (td_orders_options.clock). */
    _Atomic(td_orders *) orders;
    /* Evidence orders, opened with the orders handle (NULL: their routes answer 503), with their
     * clock thread, and the sender of their outgoing e-Evidence messages. */
    _Atomic(struct td_eorders *) eorders;
    struct td__eev_sender *eev_sender;
    /* Message franking and E2EE reports (reports.h), opened on the service after the orders
     * (whose evidence store seals removed reports); NULL: their routes answer 503. */
    _Atomic(struct td_reports *) reports;
    /* Signed feeds to other instances (feeds.h); NULL: their routes answer 503. */
    _Atomic(struct td_feeds *) feeds;
    /* Hash exchanges (exchange.h), opened on the service; NULL: their routes answer 503. */
    _Atomic(struct td_exchanges *) exchanges;
    /* Incident mode (incidents.h), opened on the service; NULL: its routes answer 503. */
    _Atomic(struct td_incidents *) incidents;
    /* Review copies of uploaded media (review_media.h), opened after the orders (whose evidence
     * store preserves removed content's copies); NULL: nothing is kept and the media route
     * answers 503. */
    _Atomic(struct td_review_media *) review_media;
    /* The counters of reports handles already closed, so that /metrics counts since the server
     * started: tags franked, messages verified, refusals by td_frank_failure (0: attachments). */
    atomic_ullong franked_closed, verified_closed, refused_closed[TD__REFUSAL_REASONS];
    /* The clock threads' figures of handles already closed (td_server_set_service replaces
     * them), so that /metrics counts since the server started. */
    atomic_ullong preserve_retries_closed, evidence_purged_closed;
    atomic_int ready;
    atomic_long in_flight;
    td__metrics *metrics;
    struct td__guard *guard; /* connection deadlines, limits and request rates (guard.h) */
    struct td__auth_cache *auth;
    td_server_options opts;
    char *fetch_allow; /* the server's copy of opts.fetch_allow (td__malloc'ed) */
    char listen_addr[64];
    uint16_t port;
    double started;
};

double td__srv_now(void);
/* Replies 400 unknown_query naming the first query parameter not in names (NULL-ended; NULL:
 * none allowed) and returns 0; 1 when every parameter is known. */
int td__only_query(td__req *r, const char *const *names);
/* The orders clock threads' figures since the server started: preservations retried and
 * evidence cases purged. */
void td__srv_clock_figures(td_server *srv, unsigned long long *preserve_retries,
                           unsigned long long *evidence_purged);

/* Begins the streaming import of r (handlers_banks.c): options from the query string. */
td_status td__import_start(td__req *r);

/* ---- handlers ---- */

/* The exchanges handle, NULL when it could not open. */
struct td_exchanges *td__req_exchanges(td__req *r);
void td__h_exchanges_list(td__req *r);
void td__h_exchanges_create(td__req *r);
void td__h_exchange_get(td__req *r);
void td__h_exchange_update(td__req *r);
void td__h_exchange_delete(td__req *r);
void td__h_exchange_run(td__req *r);
void td__h_exchange_push(td__req *r);
void td__h_exchange_uploads_list(td__req *r);
void td__h_exchange_upload_request(td__req *r);
void td__h_exchange_upload_approve(td__req *r);
void td__h_exchange_upload_reject(td__req *r);

void td__h_healthz(td__req *r);
void td__h_readyz(td__req *r);
void td__h_metrics(td__req *r);
void td__h_openapi(td__req *r);

/* The web console (handlers_web.c). */
/* The console's files (handlers_web.c), each by its route's path. */
void td__h_web_file(td__req *r);

void td__h_banks_list(td__req *r);
void td__h_banks_create(td__req *r);
void td__h_bank_get(td__req *r);
void td__h_bank_update(td__req *r);
void td__h_bank_delete(td__req *r);
void td__h_signals_list(td__req *r);
void td__h_signals_add(td__req *r);
void td__h_signal_update(td__req *r);
void td__h_signal_delete(td__req *r);
void td__h_signal_body(td__req *r);
void td__h_bank_import(td__req *r);
void td__h_bank_export(td__req *r);

void td__h_check(td__req *r);
void td__h_content_submit(td__req *r);
void td__h_content_get(td__req *r);
void td__h_content_media(td__req *r);
/* The review media handle (NULL when it could not open), and its tick period. */
struct td_review_media *td__req_review_media(td__req *r);
#define TD__REVIEW_MEDIA_TICK_MS 1000

void td__h_cases_list(td__req *r);
void td__h_case_get(td__req *r);
void td__h_case_claim(td__req *r);
void td__h_case_release(td__req *r);
void td__h_case_decision(td__req *r);

/* The review workflow (handlers_review.c). td__read_decision reads a decision's body
 * ({"decision", "reason_code", "reason"}: remove or keep, and escalate when `escalate`; a reason
 * required; reason_code, when given, one of the review reasons): 1 with out filled (the caller
 * decrefs out->body), else 0 with the error answered (400, or 422 naming reason_code). */
typedef struct td__decision_body {
    json_t *body;
    td_decision_kind kind;
    const char *reason, *reason_code; /* in body; reason_code NULL when not given */
} td__decision_body;
void td__h_me(td__req *r);
void td__h_queues(td__req *r);
void td__h_review_reasons(td__req *r);
void td__h_qa_list(td__req *r);
void td__h_qa_decision(td__req *r);
void td__h_content_list(td__req *r);
void td__h_signal_decisions(td__req *r);
int td__read_decision(td__req *r, int escalate, td__decision_body *out);

void td__h_webhooks_list(td__req *r);
void td__h_webhooks_create(td__req *r);
void td__h_webhook_delete(td__req *r);
void td__h_webhook_deliveries(td__req *r);

void td__h_keys_list(td__req *r);
void td__h_keys_create(td__req *r);
void td__h_key_delete(td__req *r);

void td__h_stats(td__req *r);

/* The embedded OpenAPI document (generated at build time from docs/openapi.yaml). */
extern const unsigned char td__openapi_yaml[];
extern const size_t td__openapi_yaml_len;
/* The web console's files (generated at build time from web/). */
extern const unsigned char td__web_index_html[];
extern const size_t td__web_index_html_len;
extern const unsigned char td__web_console_css[];
extern const size_t td__web_console_css_len;
extern const unsigned char td__web_console_js[];
extern const size_t td__web_console_js_len;
extern const unsigned char td__web_review_js[];
extern const size_t td__web_review_js_len;
extern const unsigned char td__web_charts_js[];
extern const size_t td__web_charts_js_len;
extern const unsigned char td__web_team_js[];
extern const size_t td__web_team_js_len;

#endif
