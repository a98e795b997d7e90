/* A ThreatExchange and TCAP stand-in for tests and benchmarks: an HTTP server inside the calling
 * process (libmicrohttpd, 127.0.0.1, an ephemeral port) that answers as the two services document
 * their answers, from a dataset the caller gives it, and records every request it receives.
 *
 * ThreatExchange (Graph API):
 *   GET  /{group}/threat_updates/?access_token=&fields=&limit=&start_time=&types=&after=
 *        {"data": [records], "paging": {"cursors": {"before", "after"}, "next": URL}}, records
 *        with last_updated >= start_time and a type among types, in dataset order; next only
 *        when more records follow. A wrong token: 400 {"error": {"type": "OAuthException",
 *        "code": 190, ...}}.
 *   POST /{descriptor_id}        form access_token, reactions  -> {"success": true}
 *   POST /threat_descriptors     form access_token, indicator, type, ... -> {"success": true,
 *                                "id": "<new id>"}
 * TCAP:
 *   POST /token-auth/tcap/       form username, password, resend -> {"user": {...}, "token"}
 *                                (400 when refused)
 *   GET  /api/hash-list/v2/all?order=asc&after=<ts,id>  with "Authorization: Bearer <token>"
 *        {"count", "next", "previous", "checkpoint", "results": [...]}, results after the
 *        (updated_on, id) of after; 401 {"detail"} for a token unknown or expired.
 *
 * Faults are queued and each taken by the next feed request (either service). */
#ifndef TD_TEST_FAKE_EXCHANGE_H
#define TD_TEST_FAKE_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fake_exchange fake_exchange;

typedef struct fx_te_record {
    const char *id;        /* digits */
    const char *indicator; /* the hash or body */
    const char *type;      /* "HASH_PDQ", "HASH_MD5", "URI", ... */
    int64_t last_updated;  /* Unix seconds; the dataset is in this order */
    int should_delete;
    const char *status;  /* "MALICIOUS", "NON_MALICIOUS", ...; NULL: the member is left out */
    const char *tags[5]; /* NULL-terminated */
    int tags_graph;      /* tags written as {"data": [{"id", "text"}]} instead of a list */
    int time_as_string;  /* last_updated written as a string of digits */
} fx_te_record;

typedef struct fx_tcap_record {
    const char *hash_digest;
    const char *algorithm; /* "MD5", "SHA256", "PDQ", ... */
    const char *ideology;  /* NULL: null */
    const char *file_type; /* NULL: null */
    int deleted;
    double
        updated_on; /* Unix seconds with microseconds; the dataset is in (updated_on, id) order */
    long long id;
} fx_tcap_record;

typedef enum fx_fault {
    FX_FAULT_429 = 1,     /* 429 with Retry-After: retry_after_s */
    FX_FAULT_503,         /* 503 with a text body */
    FX_FAULT_MALFORMED,   /* 200 with the page cut in the middle of a record */
    FX_FAULT_WRONG_SHAPE, /* 200 with JSON that is not the documented page ("data" an object) */
    FX_FAULT_TE_RATE, /* 400 {"error": {"code": 4, "message": "Application request limit..."}} */
    FX_FAULT_TE_OAUTH /* 400 {"error": {"type": "OAuthException", "code": 190}} */
} fx_fault;

typedef struct fx_request {
    char method[8];
    char path[256];
    char query[4096]; /* the decoded arguments as "name=value&..." in the order received */
    char authorization[1200];
    char content_type[128];
    char body[16384]; /* the POST body as received (NUL-terminated, cut at the size) */
    size_t body_len;
} fx_request;

/* Starts the server; NULL on failure. */
fake_exchange *fx_start(void);
void fx_stop(fake_exchange *fx);
/* "http://127.0.0.1:PORT" */
const char *fx_base_url(const fake_exchange *fx);

/* The ThreatExchange dataset (copied), its privacy group and token, and the largest page it
 * serves whatever the limit asked. */
void fx_te_set(fake_exchange *fx, const char *group, const char *token, const fx_te_record *recs,
               size_t n, size_t max_page);
/* A generated feed of n records served in pages of page_size, rendered before this returns (the
 * benchmark's pages cost the server nothing while they are measured). fx_te_generated gives
 * record i of it. */
void fx_te_generate(fake_exchange *fx, const char *group, const char *token, size_t n,
                    size_t page_size);
/* Record i of the generated feed; id and ind are the caller's buffers the record points into. */
void fx_te_generated(size_t i, fx_te_record *out, char id[24], char ind[72]);
/* Paging with "next" only, no "cursors" (the client then reads after= from next). */
void fx_te_next_only(fake_exchange *fx, int on);

/* The TCAP dataset (copied), the account, the page size. */
void fx_tcap_set(fake_exchange *fx, const char *username, const char *password,
                 const fx_tcap_record *recs, size_t n, size_t page_size);
/* Every token issued so far stops working (401). */
void fx_tcap_expire_tokens(fake_exchange *fx);
/* While on, every token (even a new one) is refused with 401. */
void fx_tcap_refuse_tokens(fake_exchange *fx, int on);
int fx_tcap_logins(const fake_exchange *fx);

/* Queues a fault for the next feed request. */
void fx_inject(fake_exchange *fx, fx_fault fault, int retry_after_s);

/* The requests received so far (copied into *out); the count. */
size_t fx_request_count(fake_exchange *fx);
int fx_request_get(fake_exchange *fx, size_t i, fx_request *out);
void fx_requests_clear(fake_exchange *fx);
/* The value of argument name in an "a=b&c=d" list (a query or a form body, decoded when
 * form is set), copied into out; NULL when absent. */
const char *fx_arg(const char *list, const char *name, int form, char *out, size_t cap);

#endif
