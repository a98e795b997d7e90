/* The one outbound HTTP client of the library (DESIGN.md, security model): webhooks, media
 * fetched by URL, and every later peer go through it, so they all follow one address policy.
 *
 * - Only http and https, for the first request and for any redirect.
 * - The address policy runs on every address libcurl is about to connect to, after name
 *   resolution (the open-socket callback), so a name that resolves, or re-resolves, to a refused
 *   address is refused too: DNS rebinding cannot get round it. Proxies from the environment
 *   are ignored (a proxy would resolve the name itself, out of sight of the policy).
 * - Redirects are not followed unless the caller asks for a number of them; each hop is then
 *   checked by the same policy and the same protocol list.
 * - A connect time limit and a whole-transfer time limit, always.
 * - A cap on the response body, enforced while receiving (a larger Content-Length is refused
 *   before the body is read).
 *
 * Refused addresses, unless allow_private: IPv4 0/8, 10/8, 100.64/10 (CGNAT), 127/8,
 * 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15,
 * 198.51.100/24, 203.0.113/24, 224/4, 240/4; IPv6 ::, ::1, 100::/64, 2001::/32 (Teredo),
 * 2001:2::/48, 2001:10::/28, 2001:20::/28, 2001:db8::/32, 3fff::/20, 64:ff9b:1::/48, fc00::/7,
 * fe80::/10, fec0::/10, ff00::/8, and the IPv4 address embedded in IPv4-mapped (::ffff:0:0/96),
 * IPv4-translated (::ffff:0:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96) and 6to4
 * (2002::/16) addresses is checked as IPv4. Any other address family is refused. */
#ifndef TD_NET_HTTP_CLIENT_H
#define TD_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "takedown/status.h"

/* Whether an IPv4 address (host byte order) or an IPv6 address is refused by the policy. */
int td__net_refused_v4(uint32_t a);
int td__net_refused_v6(const uint8_t b[16]);
/* The same for a socket address: families other than AF_INET and AF_INET6 are refused. */
int td__net_refused_addr(const struct sockaddr *sa, size_t len);

/* Checks an outbound URL before any request: at most max bytes, no space or control byte, an
 * absolute http or https URL with a host. On success the host (brackets of an IPv6 literal
 * removed) is copied into host (host_cap bytes) when host is not NULL. what names the URL in
 * the error text ("webhook URL", "'url'"). TD_ERR_LIMIT when too long, else TD_ERR_INVALID. */
td_status td__http_url_check(const char *what, const char *url, size_t max, char *host,
                             size_t host_cap, td_error *err) __attribute__((nonnull(1)));

typedef struct td__http_options {
    int allow_private;           /* connect to refused addresses too (tests, internal hosts) */
    unsigned connect_timeout_ms; /* 0: 3000; never more than timeout_ms */
    unsigned timeout_ms;         /* the whole transfer, redirects included; 0: 10000 */
    uint64_t max_bytes;          /* response body cap; 0: 64 KiB */
    int keep_body;               /* 1: the body is returned; 0: counted and dropped */
    int error_body;              /* 1: read a non-2xx body too; 0: stop at its status */
    int max_redirects;           /* 0: a 3xx is the answer; n: follow at most n */
    const char *user_agent;      /* NULL: "takedown/1" */
} td__http_options;

typedef struct td__http_request {
    const char *method;         /* "GET" (also when NULL) or "POST" */
    const char *url;            /* checked by td__http_url_check first, by the caller */
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    const void *body;           /* POST body */
    size_t body_len;
} td__http_request;

/* How a request ended. TD__HTTP_OK means an answer was received, whatever its status. */
typedef enum td__http_result {
    TD__HTTP_OK = 0,
    TD__HTTP_BAD_URL,   /* malformed, or not http(s) */
    TD__HTTP_REFUSED,   /* every address tried is refused by the policy: no connection made */
    TD__HTTP_TIMEOUT,   /* connect or transfer over its time limit */
    TD__HTTP_TOO_LARGE, /* body over max_bytes (status, when received, is set) */
    TD__HTTP_FAILED,    /* unresolvable, connection refused, TLS, protocol errors */
    TD__HTTP_NOMEM
} td__http_result;

typedef struct td__http_response {
    long status;   /* the last answer's status, 0 when none was received */
    uint8_t *body; /* keep_body: td__malloc'ed (never NULL on TD__HTTP_OK), free: td__free */
    size_t len;    /* body bytes received (kept or not) */
    int redirects; /* redirects followed */
    int64_t retry_after_ms; /* the last answer's Retry-After (seconds or an HTTP-date) as ms
                               from now, capped at a day; 0 when none */
} td__http_response;

/* Sends req under opts in the calling thread. resp is always filled (zeroed first, the body
 * freed on failure); err says why when the answer is not TD__HTTP_OK. Needs
 * curl_global_init (the service does it). */
td__http_result td__http_send(const td__http_options *opts, const td__http_request *req,
                              td__http_response *resp, td_error *err)
    __attribute__((nonnull(1, 2, 3)));

/* Frees resp->body and zeroes resp; NULL is accepted. */
void td__http_response_free(td__http_response *resp);

#endif
