/* Fetching media by URL (see fetch.h). The order of the checks: the URL is parsed (libcurl's
 * parser, the same one that then drives the transfer, so the host checked is the host connected
 * to), its scheme must be http or https, fetching must be enabled, the host must be on the allow
 * list; then the outbound client resolves the name and refuses, connection by connection, the
 * addresses its policy refuses (net/http_client.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "core/error.h"
#include "net/http_client.h"
#include "server/fetch.h"

#define URL_MAX 8192
#define HOST_MAX 256

/* ---- the allow list ---- */

static int ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    return 1;
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[16];
    return strchr(host, ':') != NULL || inet_pton(AF_INET, host, buf) == 1;
}

int td__fetch_host_allowed(const char *allow, const char *host)
{
    size_t hn = host ? strlen(host) : 0;
    if (hn > 0 && host[hn - 1] == '.')
        hn--;
    if (!allow || hn == 0)
        return 0;
    int literal = is_ip_literal(host);
    const char *p = allow;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ", \t");
        const char *e = p;
        p += n;
        if (n > 0 && e[n - 1] == '.')
            n--;
        if (n > 0 && e[0] == '.') { /* ".example.com" is "example.com" */
            e++;
            n--;
        }
        if (n == 0)
            continue;
        if (n == 1 && e[0] == '*')
            return 1;
        if (n == hn && ieq(e, host, n))
            return 1;
        /* Subdomains of a name; an address matches only itself. */
        if (!literal && hn > n && host[hn - n - 1] == '.' && ieq(e, host + hn - n, n))
            return 1;
    }
    return 0;
}

/* ---- the transfer ---- */

/* Puts prefix before the client's message in err. */
static void prefix_error(td_error *err, td_status code, const char *prefix)
{
    if (!err)
        return;
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err->message);
    td__error_set(err, code, "%s: %s", prefix, why);
}

td__fetch_fail td__fetch(const td__fetch_policy *policy, const char *url, uint8_t **data,
                         size_t *len, long *http_status, td_error *err)
{
    char host[HOST_MAX];
    *data = NULL;
    *len = 0;
    *http_status = 0;
    td_status st = td__http_url_check("'url'", url, URL_MAX, host, sizeof host, err);
    if (st == TD_ERR_NOMEM)
        return TD__FETCH_NOMEM;
    if (st)
        return TD__FETCH_BAD_URL;
    if (!policy->enabled) {
        td__error_set(err, TD_ERR_UNSUPPORTED,
                      "fetching media by URL is not enabled on this server (fetch_enabled); "
                      "POST the bytes to /v1/check instead");
        return TD__FETCH_DISABLED;
    }
    if (!td__fetch_host_allowed(policy->allow, host)) {
        td__error_set(err, TD_ERR_INVALID,
                      "host '%.200s' is not on this server's fetch allow list (fetch_allow)", host);
        return TD__FETCH_NOT_ALLOWED;
    }
    /* Redirects stay off: a redirect target would escape the allow list. */
    td__http_options o = {
        .allow_private = policy->allow_private,
        .connect_timeout_ms = policy->connect_timeout_ms ? policy->connect_timeout_ms : 3000,
        .timeout_ms = policy->timeout_ms ? policy->timeout_ms : 10000,
        .max_bytes = policy->max_bytes ? policy->max_bytes : (uint64_t)64 << 20,
        .keep_body = 1,
        .user_agent = "takedown-fetch/1",
    };
    td__http_request req = {.method = "GET", .url = url};
    td__http_response resp;
    td__http_result r = td__http_send(&o, &req, &resp, err);
    *http_status = resp.status;
    switch (r) {
    case TD__HTTP_OK: break;
    case TD__HTTP_NOMEM: return TD__FETCH_NOMEM;
    case TD__HTTP_BAD_URL: return TD__FETCH_BAD_URL;
    case TD__HTTP_TIMEOUT:
        prefix_error(err, TD_ERR_IO, "the upstream server did not answer in time");
        return TD__FETCH_TIMEOUT;
    case TD__HTTP_TOO_LARGE:
        td__error_set(err, TD_ERR_LIMIT, "the media is larger than %llu bytes (max_media_bytes)",
                      (unsigned long long)o.max_bytes);
        return TD__FETCH_TOO_LARGE;
    case TD__HTTP_REFUSED:
        td__error_set(err, TD_ERR_INVALID,
                      "the host resolves to a loopback, private or reserved address, refused "
                      "(fetch_allow_private)");
        return TD__FETCH_PRIVATE;
    default: prefix_error(err, TD_ERR_IO, "fetching failed"); return TD__FETCH_UPSTREAM;
    }
    if (resp.status < 200 || resp.status >= 300) {
        td__http_response_free(&resp);
        td__error_set(err, TD_ERR_IO, "the upstream server answered HTTP %ld", *http_status);
        return TD__FETCH_UPSTREAM;
    }
    *data = resp.body;
    *len = resp.len;
    return TD__FETCH_OK;
}
