/* Fetching media by URL for the server (GET /h/hash?url=), under the security model of
 * DESIGN.md: outbound HTTP is off unless enabled and goes only to hosts on an allow list. The
 * rest (http or https only, no redirects, time and size limits, the address policy checked on
 * every connection after resolution) is the library's one outbound client, net/http_client.h,
 * which webhooks use too. */
#ifndef TD_SERVER_FETCH_H
#define TD_SERVER_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "takedown/status.h"

typedef struct td__fetch_policy {
    int enabled;                 /* 0: every fetch is refused */
    const char *allow;           /* comma-separated host suffixes ("example.com", "*": any) */
    int allow_private;           /* connect to private addresses too (tests, internal hosts) */
    unsigned connect_timeout_ms; /* 0: 3000 */
    unsigned timeout_ms;         /* whole transfer; 0: 10000 */
    uint64_t max_bytes;          /* body cap; 0: 64 MiB */
} td__fetch_policy;

/* Why a fetch failed; the server maps each to an HTTP status. */
typedef enum td__fetch_fail {
    TD__FETCH_OK = 0,
    TD__FETCH_BAD_URL,     /* malformed, not http(s), or too long: 400 */
    TD__FETCH_DISABLED,    /* fetching is not enabled: 403 */
    TD__FETCH_NOT_ALLOWED, /* host not on the allow list: 403 */
    TD__FETCH_PRIVATE,     /* every address of the host is refused by the policy: 403 */
    TD__FETCH_TIMEOUT,     /* connect or transfer timed out: 504 */
    TD__FETCH_TOO_LARGE,   /* body over max_bytes: 413 */
    TD__FETCH_UPSTREAM,    /* status not 2xx, unresolvable, refused, TLS error: 502 */
    TD__FETCH_NOMEM        /* 500 */
} td__fetch_fail;

/* Whether host (no brackets, no port) is on the comma-separated allow list: an entry matches
 * the host itself and, for names, its subdomains ("example.com" matches "cdn.example.com");
 * "*" matches any host. Case-insensitive; a trailing dot on the host is ignored. */
int td__fetch_host_allowed(const char *allow, const char *host);

/* GETs url under policy. On success *data (td__malloc'ed, free with td__free) holds *len bytes
 * and the answer is TD__FETCH_OK; otherwise err says what happened. *http_status receives the
 * upstream status when one was received (else 0). */
td__fetch_fail td__fetch(const td__fetch_policy *policy, const char *url, uint8_t **data,
                         size_t *len, long *http_status, td_error *err);

#endif
