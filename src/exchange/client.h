/* What an exchange client is (src/exchange/): the one interface the exchange framework
 * (exchange.c: the workers, checkpoints, the transaction that applies a page with its
 * checkpoint, the audit entry) calls, and each source implements: ThreatExchange
 * (client_te.c), Tech Against Terrorism's TCAP hash list (client_tcap.c), another takedown
 * instance's signed feed (client_peer.c), a plain URL list (client_url_list.c).
 *
 * A client fetches ONE page after a checkpoint and parses it whole into a td__xpage; it never
 * writes to the store. A page that does not parse is refused whole (TD__XFETCH_MALFORMED, the
 * page's items dropped), never applied in part. Every outbound request goes through
 * net/http_client.h with x->http. */
#ifndef TD_EXCHANGE_CLIENT_H
#define TD_EXCHANGE_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http_client.h"
#include "takedown/casework.h"

#define TD__XCHECKPOINT_MAX 255 /* a checkpoint is opaque text to the framework */
#define TD__XID_MAX 64          /* a source's own id of an item */

/* One change read from a source. */
typedef struct td__xitem {
    int remove;   /* 1: retract the signal (TE should_delete, TCAP deleted, a peer's removal) */
    int negative; /* 1: the source says it is NOT the content (TE status NON_MALICIOUS): the
                     framework retracts it from the target bank (and adds it to the exchange's
                     allow bank when one is set) */
    td_signal_type type;
    char *value;        /* hex hash (lower or upper case) or a body (url, raw_text, vpdq); in the
                           page's memory (td__xpage_clear frees it) */
    size_t value_len;   /* bytes of value */
    const char *labels; /* the source's tags / ideology / labels made valid labels (others
                           dropped), joined by single spaces ("" none); in the page's memory */
    char external_id[TD__XID_MAX + 1]; /* the source's id (TE descriptor id, TCAP id, peer signal
                                          id); "" when the source has none */
    int64_t updated_ms;                /* the source's last-update time, 0 when unknown */
    int digest; /* a removal of a body type (url, raw_text, vpdq) whose value is the SHA-256 of
                   the canonical body (a peer's feed: the body went with the signal), which is
                   what the bank stores as the signal's value */
} td__xitem;

/* A block of a page's memory: the items' values and labels, kept together rather than one
 * allocation each (a 1M-record feed made 2M allocations). */
typedef struct td__xblock {
    struct td__xblock *next;
    size_t used, cap;
    char data[];
} td__xblock;

/* One fetched page. */
typedef struct td__xpage {
    td__xitem *items;
    td__xblock *blocks; /* the items' values and labels */
    size_t n, cap;
    char checkpoint[TD__XCHECKPOINT_MAX + 1]; /* where the next fetch starts (committed with the
                                                 page's changes) */
    int more;           /* another page can be fetched at once from checkpoint */
    int resync;         /* the source refuses the checkpoint as stale: the framework restarts from
                           "" (a full resync) */
    uint64_t skipped;   /* records of a type or filter this exchange does not take */
    uint8_t sha256[32]; /* of the raw bytes received (audited) */
    size_t bytes;
} td__xpage;

void td__xpage_clear(td__xpage *p);
/* Appends one item (value and labels copied into the page; item->value and item->labels are
 * ignored); TD_ERR_LIMIT past max_items. labels may be NULL (none). */
td_status td__xpage_add(td__xpage *p, const td__xitem *item, const td_labels *labels,
                        const char *value, size_t value_len, size_t max_items, td_error *err);

/* How a fetch ended. */
typedef enum td__xfetch {
    TD__XFETCH_OK = 0,
    TD__XFETCH_RETRY,     /* 429, 5xx, timeout, connection failure: retried with backoff
                             (retry_after_ms when the source said) */
    TD__XFETCH_MALFORMED, /* the page did not parse: refused whole and reported */
    TD__XFETCH_AUTH,      /* credentials refused (after TCAP's one re-login) */
    TD__XFETCH_FAILED     /* anything else (a 4xx, a refused address): reported */
} td__xfetch;

/* What a client works with; the framework fills it from the exchange's settings. */
typedef struct td__xconn {
    const char *base_url;  /* the source's API root (no trailing slash needed) */
    const char *group;     /* TE privacy group id; a peer's bank name; "" otherwise */
    json_t *credentials;   /* the opened credentials object (TE {"token"}, TCAP {"username",
                              "password"}, peer {"api_key", "public_key"}, url_list {"bearer"}) */
    unsigned types;        /* bit (1 << td_signal_type) of each type taken; 0: all */
    td_labels tags;        /* only items carrying one of these tags (none: all) */
    td__http_options http; /* allow_private, time limits, max_bytes (the page cap) */
    size_t max_items;      /* items per page cap */
    size_t page_size;      /* items asked for per request */
    /* Kept between calls of one exchange by the client (TCAP's bearer token). */
    char token[1024];
    /* Set by fetch. */
    td__xfetch outcome;
    long last_status;       /* the last HTTP status seen, 0 when none */
    int64_t retry_after_ms; /* from a Retry-After header, 0 when none */
    int64_t now_ms;         /* the framework's clock (TE start_time, TCAP token expiry) */
} td__xconn;

typedef struct td__xclient {
    const char *name; /* "threatexchange", "tcap", "takedown", "url_list" */
    /* Fetches the page after checkpoint ("" = from the beginning) into page (cleared first).
     * Returns TD_OK with x->outcome TD__XFETCH_OK, or an error with x->outcome saying which kind
     * and err saying what (the status, the member that did not parse). */
    td_status (*fetch)(td__xconn *x, const char *checkpoint, td__xpage *page, td_error *err);
    /* Optional (NULL when the source has none): feedback on one item, reaction one of
     * "SAW_THIS_TOO", "HELPFUL", "NOT_HELPFUL", "DISAGREE_WITH_TAGS". */
    td_status (*react)(td__xconn *x, const char *external_id, const char *reaction, td_error *err);
    /* Optional: share one of the platform's own signals with the source (TE
     * POST /threat_descriptors); *external_id receives the source's id. */
    td_status (*upload)(td__xconn *x, td_signal_type type, const char *value, size_t value_len,
                        const td_labels *tags, const char *description,
                        char external_id[TD__XID_MAX + 1], td_error *err);
} td__xclient;

extern const td__xclient td__xclient_threatexchange;
extern const td__xclient td__xclient_tcap;
extern const td__xclient td__xclient_takedown;
extern const td__xclient td__xclient_url_list;

#endif
