/* The outbound HTTP client (see http_client.h): one libcurl easy handle per request, in the
 * calling thread, and the address policy every outbound connection of the library obeys.
 *
 * Why the policy runs in the open-socket callback: that is the one place that sees the address
 * actually connected to, for every connection of the transfer (each address tried, each
 * redirect hop), after resolution. Checking a name beforehand would leave a window in which the
 * name re-resolves elsewhere. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "net/http_client.h"

#define DEFAULT_CONNECT_MS 3000u
#define DEFAULT_TOTAL_MS 10000u
#define DEFAULT_MAX_BYTES (64u * 1024u)

/* ---- the address policy ---- */

static int in_v4(uint32_t a, uint32_t net, int bits)
{
    uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    return (a & mask) == (net & mask);
}

int td__net_refused_v4(uint32_t a)
{
    return in_v4(a, 0x00000000u, 8) ||  /* "this" network, 0.0.0.0 */
           in_v4(a, 0x0a000000u, 8) ||  /* private 10/8 */
           in_v4(a, 0x64400000u, 10) || /* CGNAT 100.64/10 */
           in_v4(a, 0x7f000000u, 8) ||  /* loopback */
           in_v4(a, 0xa9fe0000u, 16) || /* link-local 169.254/16 (cloud metadata) */
           in_v4(a, 0xac100000u, 12) || /* private 172.16/12 */
           in_v4(a, 0xc0000000u, 24) || /* IETF protocol assignments 192.0.0/24 */
           in_v4(a, 0xc0000200u, 24) || /* documentation 192.0.2/24 */
           in_v4(a, 0xc0586300u, 24) || /* 6to4 relay anycast 192.88.99/24 */
           in_v4(a, 0xc0a80000u, 16) || /* private 192.168/16 */
           in_v4(a, 0xc6120000u, 15) || /* benchmarking 198.18/15 */
           in_v4(a, 0xc6336400u, 24) || /* documentation 198.51.100/24 */
           in_v4(a, 0xcb007100u, 24) || /* documentation 203.0.113/24 */
           in_v4(a, 0xe0000000u, 4) ||  /* multicast 224/4 */
           in_v4(a, 0xf0000000u, 4);    /* reserved 240/4, broadcast */
}

static uint32_t v4_at(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Whether the first bits of b equal those of prefix. */
static int in_v6(const uint8_t b[16], const uint8_t prefix[16], int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(b, prefix, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (b[whole] & mask) == (prefix[whole] & mask);
}

int td__net_refused_v6(const uint8_t b[16])
{
    /* Forms that carry an IPv4 address: the IPv4 address decides. */
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t translated[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const uint8_t nat64[16] = {0, 0x64, 0xff, 0x9b};
    static const uint8_t zero[16] = {0};
    if (in_v6(b, zero, 120)) /* :: and ::1 (and ::/120, never a host worth reaching) */
        return 1;
    if (in_v6(b, mapped, 96) || in_v6(b, translated, 96) || in_v6(b, nat64, 96) ||
        in_v6(b, zero, 96)) /* the last: IPv4-compatible ::a.b.c.d (deprecated) */
        return td__net_refused_v4(v4_at(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 2002:a.b.c.d::/48 */
        return td__net_refused_v4(v4_at(b + 2));
    static const struct {
        uint8_t prefix[16];
        int bits;
    } ranges[] = {
        {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48}, /* local-use NAT64 64:ff9b:1::/48 */
        {{0x01, 0x00}, 64},                         /* discard-only 100::/64 */
        {{0x20, 0x01, 0x00, 0x00}, 32},             /* Teredo 2001::/32 */
        {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48}, /* benchmarking 2001:2::/48 */
        {{0x20, 0x01, 0x00, 0x10}, 28},             /* ORCHID 2001:10::/28 */
        {{0x20, 0x01, 0x00, 0x20}, 28},             /* ORCHIDv2 2001:20::/28 */
        {{0x20, 0x01, 0x0d, 0xb8}, 32},             /* documentation 2001:db8::/32 */
        {{0x3f, 0xff, 0x00}, 20},                   /* documentation 3fff::/20 */
        {{0xfc}, 7},                                /* unique local fc00::/7 */
        {{0xfe, 0x80}, 10},                         /* link-local fe80::/10 */
        {{0xfe, 0xc0}, 10},                         /* site-local fec0::/10 (deprecated) */
        {{0xff}, 8},                                /* multicast ff00::/8 */
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (in_v6(b, ranges[i].prefix, ranges[i].bits))
            return 1;
    return 0;
}

int td__net_refused_addr(const struct sockaddr *sa, size_t len)
{
    if (!sa)
        return 1;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        return td__net_refused_v4(ntohl(in.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return td__net_refused_v6(in6.sin6_addr.s6_addr);
    }
    return 1;
}

/* ---- URLs ---- */

td_status td__http_url_check(const char *what, const char *url, size_t max, char *host,
                             size_t host_cap, td_error *err)
{
    size_t n = url ? strnlen(url, max + 1) : 0;
    if (n == 0)
        return td__error_set(err, TD_ERR_INVALID, "%s is empty", what);
    if (n > max)
        return td__error_set(err, TD_ERR_LIMIT, "%s is longer than %zu bytes", what, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return td__error_set(err, TD_ERR_INVALID, "%s has a space or a control byte", what);
    CURLU *u = curl_url();
    if (!u)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    char *scheme = NULL, *h = NULL;
    td_status st = TD_OK;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
        st = td__error_set(err, TD_ERR_INVALID, "%s is not an absolute URL with a host", what);
    } else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        st = td__error_set(err, TD_ERR_INVALID, "%s must be http or https, not '%.16s'", what,
                           scheme);
    } else {
        const char *b = h;
        size_t hn = strlen(h);
        if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
            b++;
            hn -= 2;
        }
        if (hn == 0 || memchr(b, '%', hn))
            st = td__error_set(err, TD_ERR_INVALID, "%s has an unusable host", what);
        else if (host && hn >= host_cap)
            st = td__error_set(err, TD_ERR_LIMIT, "%s has a host longer than %zu bytes", what,
                               host_cap ? host_cap - 1 : 0);
        else if (host) {
            memcpy(host, b, hn);
            host[hn] = '\0';
        }
    }
    curl_free(scheme);
    curl_free(h);
    curl_url_cleanup(u);
    return st;
}

/* ---- the transfer ---- */

typedef struct xfer {
    CURL *curl;
    const td__http_options *opts;
    td__http_response *resp;
    td__buf body; /* keep_body: the body as it arrives, capped at max */
    uint64_t max;
    int too_large, error_status, nomem;
    /* Connection attempts since the last response header: those refused, those opened. */
    int refused, opened;
} xfer;

static int is_2xx(long status) { return status >= 200 && status < 300; }

/* Retry-After (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date, as milliseconds from
 * now; 0 when absent, unreadable or in the past; capped at a day. */
#define RETRY_AFTER_MAX_MS (86400LL * 1000)

static int64_t retry_after_ms(const char *v, size_t n)
{
    char text[64];
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof text)
        return 0;
    memcpy(text, v, n);
    text[n] = '\0';
    int64_t ms;
    if (text[0] >= '0' && text[0] <= '9') {
        int64_t s = 0;
        for (size_t i = 0; i < n; i++) {
            if (text[i] < '0' || text[i] > '9')
                return 0;
            if (s < RETRY_AFTER_MAX_MS)
                s = s * 10 + (text[i] - '0');
        }
        ms = s * 1000;
    } else {
        time_t when = curl_getdate(text, NULL);
        time_t now = time(NULL);
        if (when == (time_t)-1 || when <= now)
            return 0;
        ms = ((int64_t)when - (int64_t)now) * 1000;
    }
    return ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : ms;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
        x->resp->retry_after_ms = 0; /* a new answer (after a redirect or a 100) */
    else if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0)
        x->resp->retry_after_ms = retry_after_ms(data + sizeof name - 1, n - (sizeof name - 1));
    x->refused = 0;
    x->opened = 0;
    return n;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    td__http_response *r = x->resp;
    size_t n = size * nmemb;
    if (!x->opts->error_body) {
        long status = 0;
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
        if (!is_2xx(status)) {
            x->error_status = 1; /* the status is the answer: its body is not read */
            return 0;
        }
    }
    if (n > x->max - r->len) {
        x->too_large = 1;
        return 0;
    }
    if (x->opts->keep_body && td__buf_add(&x->body, data, n) != TD_OK) {
        x->nomem = 1;
        return 0;
    }
    r->len += n;
    return n;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    xfer *x = arg;
    (void)purpose;
    if (!x->opts->allow_private && td__net_refused_addr(&addr->addr, addr->addrlen)) {
        x->refused++;
        return CURL_SOCKET_BAD;
    }
    curl_socket_t s = socket(addr->family, addr->socktype, addr->protocol);
    if (s != CURL_SOCKET_BAD)
        x->opened++;
    return s;
}

static td__http_result classify(xfer *x, CURLcode rc, const char *why, td_error *err)
{
    td__http_response *r = x->resp;
    if (x->nomem || rc == CURLE_OUT_OF_MEMORY) {
        td__error_set(err, TD_ERR_NOMEM, "out of memory");
        return TD__HTTP_NOMEM;
    }
    if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        td__error_set(err, TD_ERR_LIMIT, "the response is larger than %llu bytes",
                      (unsigned long long)x->max);
        return TD__HTTP_TOO_LARGE;
    }
    if (rc == CURLE_OK || (x->error_status && rc == CURLE_WRITE_ERROR))
        return TD__HTTP_OK;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        td__error_set(err, TD_ERR_IO, "no answer in time: %s", why);
        return TD__HTTP_TIMEOUT;
    }
    if (x->refused > 0 && x->opened == 0) {
        td__error_set(err, TD_ERR_INVALID,
                      "the host resolves only to loopback, private or reserved addresses, "
                      "refused");
        return TD__HTTP_REFUSED;
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
        td__error_set(err, TD_ERR_INVALID, "%s URL: %s", r->redirects ? "redirect" : "bad", why);
        return TD__HTTP_BAD_URL;
    }
    if (rc == CURLE_TOO_MANY_REDIRECTS) {
        td__error_set(err, TD_ERR_IO, "more than %d redirects", x->opts->max_redirects);
        return TD__HTTP_FAILED;
    }
    td__error_set(err, TD_ERR_IO, "%s", why);
    return TD__HTTP_FAILED;
}

void td__http_response_free(td__http_response *resp)
{
    if (!resp)
        return;
    td__free(resp->body);
    memset(resp, 0, sizeof *resp);
}

td__http_result td__http_send(const td__http_options *opts, const td__http_request *req,
                              td__http_response *resp, td_error *err)
{
    memset(resp, 0, sizeof *resp);
    int post = req->method && strcmp(req->method, "POST") == 0;
    if (req->method && !post && strcmp(req->method, "GET") != 0) {
        td__error_set(err, TD_ERR_INVALID, "method %.16s is not supported", req->method);
        return TD__HTTP_BAD_URL;
    }
    CURLU *u = curl_url();
    CURL *curl = u ? curl_easy_init() : NULL;
    if (!curl) {
        curl_url_cleanup(u);
        td__error_set(err, TD_ERR_NOMEM, "cannot start libcurl");
        return TD__HTTP_NOMEM;
    }
    td__http_result res;
    struct curl_slist *headers = NULL;
    if (!req->url || curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK) {
        td__error_set(err, TD_ERR_INVALID, "the URL is malformed");
        res = TD__HTTP_BAD_URL;
        goto out;
    }
    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        struct curl_slist *h = curl_slist_append(headers, req->headers[i]);
        if (!h) {
            td__error_set(err, TD_ERR_NOMEM, "out of memory");
            res = TD__HTTP_NOMEM;
            goto out;
        }
        headers = h;
    }
    xfer x = {.curl = curl, .opts = opts, .resp = resp};
    x.max = opts->max_bytes ? opts->max_bytes : DEFAULT_MAX_BYTES;
    if (x.max > SIZE_MAX - 1)
        x.max = SIZE_MAX - 1;
    td__buf_init(&x.body, (size_t)x.max);
    long total_ms = (long)(opts->timeout_ms ? opts->timeout_ms : DEFAULT_TOTAL_MS);
    long connect_ms =
        (long)(opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_MS);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_CURLU, u);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, opts->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS,
                     opts->max_redirects > 0 ? (long)opts->max_redirects : 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     connect_ms < total_ms ? connect_ms : total_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x.max);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &x);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, opts->user_agent ? opts->user_agent : "takedown/1");
    if (headers)
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (post) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    CURLcode rc = curl_easy_perform(curl);
    long redirects = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(curl, CURLINFO_REDIRECT_COUNT, &redirects);
    resp->redirects = (int)redirects;
    resp->body = (uint8_t *)td__buf_take(&x.body, NULL);
    res = classify(&x, rc, errbuf[0] ? errbuf : curl_easy_strerror(rc), err);
    if (res == TD__HTTP_OK && opts->keep_body && !resp->body && !(resp->body = td__malloc(1))) {
        td__error_set(err, TD_ERR_NOMEM, "out of memory");
        res = TD__HTTP_NOMEM;
    }
out:
    if (res != TD__HTTP_OK) {
        td__free(resp->body);
        resp->body = NULL;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    curl_url_cleanup(u);
    return res;
}
