/* Fetching media by URL (see fetch.h): one libcurl easy handle per fetch, in the calling thread.
 *
 * The order of the checks: the URL is parsed once (libcurl's parser, the same one that then
 * drives the transfer, so the host checked is the host connected to), its scheme must be http
 * or https, its host must be on the allow list; then libcurl resolves the name and, before each
 * connection, the open-socket callback refuses private addresses. Proxies from the environment
 * are ignored (a proxy would resolve the name itself, out of our sight). */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "core/error.h"
#include "server/fetch.h"

#define URL_MAX 8192
#define HOST_MAX 256

/* ---- addresses ---- */

static int in_v4(uint32_t a, uint32_t net, int bits)
{
    uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    return (a & mask) == (net & mask);
}

int td__fetch_private_v4(uint32_t a)
{
    return in_v4(a, 0x00000000u, 8) ||  /* "this" network */
           in_v4(a, 0x0a000000u, 8) ||  /* 10/8 */
           in_v4(a, 0x64400000u, 10) || /* CGNAT 100.64/10 */
           in_v4(a, 0x7f000000u, 8) ||  /* loopback */
           in_v4(a, 0xa9fe0000u, 16) || /* link-local 169.254/16 */
           in_v4(a, 0xac100000u, 12) || /* 172.16/12 */
           in_v4(a, 0xc0000000u, 24) || /* IETF protocol assignments 192.0.0/24 */
           in_v4(a, 0xc0a80000u, 16) || /* 192.168/16 */
           in_v4(a, 0xc6120000u, 15) || /* benchmarking 198.18/15 */
           in_v4(a, 0xe0000000u, 3);    /* multicast, reserved, broadcast (224/3) */
}

static uint32_t v4_at(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int td__fetch_private_v6(const uint8_t b[16])
{
    static const uint8_t zero[16] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(b, zero, 15) == 0) /* :: and ::1 */
        return 1;
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return td__fetch_private_v4(v4_at(b + 12));
    if (memcmp(b, zero, 12) == 0) /* deprecated IPv4-compatible ::a.b.c.d */
        return 1;
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 2002:a.b.c.d::/48 */
        return td__fetch_private_v4(v4_at(b + 2));
    return (b[0] & 0xfe) == 0xfc ||                   /* unique local fc00::/7 */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* link-local fe80::/10 */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || /* site-local fec0::/10 (deprecated) */
           b[0] == 0xff;                              /* multicast */
}

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

typedef struct fetch_ctx {
    CURL *curl;
    const td__fetch_policy *policy;
    uint8_t *data;
    size_t len, cap;
    uint64_t max;
    int too_large, bad_status, nomem;
    int refused, opened; /* sockets refused as private, sockets opened */
} fetch_ctx;

static int status_ok(long status) { return status >= 200 && status < 300; }

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    fetch_ctx *c = arg;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (!status_ok(status)) {
        c->bad_status = 1; /* do not read an error page: the answer is known */
        return 0;
    }
    if (n > c->max - c->len) {
        c->too_large = 1;
        return 0;
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 64 * 1024;
        while (cap < c->len + n)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > c->max)
            cap = (size_t)c->max;
        uint8_t *p = td__realloc(c->data, cap);
        if (!p) {
            c->nomem = 1;
            return 0;
        }
        c->data = p;
        c->cap = cap;
    }
    memcpy(c->data + c->len, data, n);
    c->len += n;
    return n;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    fetch_ctx *c = arg;
    (void)purpose;
    if (!c->policy->allow_private) {
        int refuse = 1;
        if (addr->family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&addr->addr;
            refuse = td__fetch_private_v4(ntohl(in->sin_addr.s_addr));
        } else if (addr->family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr->addr;
            refuse = td__fetch_private_v6(in6->sin6_addr.s6_addr);
        }
        if (refuse) {
            c->refused++;
            return CURL_SOCKET_BAD;
        }
    }
    curl_socket_t s = socket(addr->family, addr->socktype, addr->protocol);
    if (s != CURL_SOCKET_BAD)
        c->opened++;
    return s;
}

/* Parses url into u and checks scheme, host and allow list. */
static td__fetch_fail check_url(const td__fetch_policy *p, CURLU *u, const char *url, td_error *err)
{
    size_t n = url ? strnlen(url, URL_MAX + 1) : 0;
    if (n == 0) {
        td__error_set(err, TD_ERR_INVALID, "'url' is empty");
        return TD__FETCH_BAD_URL;
    }
    if (n > URL_MAX) {
        td__error_set(err, TD_ERR_LIMIT, "'url' is longer than %d bytes", URL_MAX);
        return TD__FETCH_BAD_URL;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
            td__error_set(err, TD_ERR_INVALID, "'url' has a space or a control byte");
            return TD__FETCH_BAD_URL;
        }
    char *scheme = NULL, *host = NULL;
    td__fetch_fail f = TD__FETCH_OK;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        td__error_set(err, TD_ERR_INVALID, "'url' is not an absolute URL with a host");
        f = TD__FETCH_BAD_URL;
    } else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        td__error_set(err, TD_ERR_INVALID, "'url' must be http or https, not '%.16s'", scheme);
        f = TD__FETCH_BAD_URL;
    } else if (!p->enabled) {
        td__error_set(err, TD_ERR_UNSUPPORTED,
                      "fetching media by URL is not enabled on this server (fetch_enabled); "
                      "POST the bytes to /v1/check instead");
        f = TD__FETCH_DISABLED;
    } else {
        char bare[HOST_MAX];
        size_t hn = strlen(host);
        const char *h = host;
        if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']') {
            h = host + 1;
            hn -= 2;
        }
        if (hn == 0 || hn >= sizeof bare || strchr(h, '%')) {
            td__error_set(err, TD_ERR_INVALID, "'url' has an unusable host");
            f = TD__FETCH_BAD_URL;
        } else {
            memcpy(bare, h, hn);
            bare[hn] = '\0';
            if (!td__fetch_host_allowed(p->allow, bare)) {
                td__error_set(err, TD_ERR_INVALID,
                              "host '%.200s' is not on this server's fetch allow list "
                              "(fetch_allow)",
                              bare);
                f = TD__FETCH_NOT_ALLOWED;
            }
        }
    }
    curl_free(scheme);
    curl_free(host);
    return f;
}

td__fetch_fail td__fetch(const td__fetch_policy *policy, const char *url, uint8_t **data,
                         size_t *len, long *http_status, td_error *err)
{
    *data = NULL;
    *len = 0;
    *http_status = 0;
    CURLU *u = curl_url();
    if (!u) {
        td__error_set(err, TD_ERR_NOMEM, "out of memory");
        return TD__FETCH_NOMEM;
    }
    td__fetch_fail f = check_url(policy, u, url, err);
    if (f != TD__FETCH_OK) {
        curl_url_cleanup(u);
        return f;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        curl_url_cleanup(u);
        td__error_set(err, TD_ERR_NOMEM, "cannot start libcurl");
        return TD__FETCH_NOMEM;
    }
    fetch_ctx c = {curl, policy, NULL, 0, 0, 0, 0, 0, 0, 0, 0};
    c.max = policy->max_bytes ? policy->max_bytes : (uint64_t)64 << 20;
    if (c.max > SIZE_MAX - 1)
        c.max = SIZE_MAX - 1;
    long connect_ms = policy->connect_timeout_ms ? (long)policy->connect_timeout_ms : 3000;
    long total_ms = policy->timeout_ms ? (long)policy->timeout_ms : 10000;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_CURLU, u);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     connect_ms < total_ms ? connect_ms : total_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c.max);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &c);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "takedown-fetch/1");
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, http_status);
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (c.nomem) {
        td__error_set(err, TD_ERR_NOMEM, "out of memory");
        f = TD__FETCH_NOMEM;
    } else if (c.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        td__error_set(err, TD_ERR_LIMIT, "the media is larger than %llu bytes (max_media_bytes)",
                      (unsigned long long)c.max);
        f = TD__FETCH_TOO_LARGE;
    } else if (c.bad_status || (rc == CURLE_OK && !status_ok(*http_status))) {
        td__error_set(err, TD_ERR_IO, "the upstream server answered HTTP %ld", *http_status);
        f = TD__FETCH_UPSTREAM;
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        td__error_set(err, TD_ERR_IO, "the upstream server did not answer in time: %s", why);
        f = TD__FETCH_TIMEOUT;
    } else if (rc != CURLE_OK && c.refused > 0 && c.opened == 0) {
        td__error_set(err, TD_ERR_INVALID,
                      "the host resolves to a private, loopback or link-local address, refused "
                      "(fetch_allow_private)");
        f = TD__FETCH_PRIVATE;
    } else if (rc != CURLE_OK) {
        td__error_set(err, TD_ERR_IO, "fetching failed: %s", why);
        f = TD__FETCH_UPSTREAM;
    }
    curl_easy_cleanup(curl);
    curl_url_cleanup(u);
    if (f != TD__FETCH_OK) {
        td__free(c.data);
        return f;
    }
    if (!c.data && !(c.data = td__malloc(1))) {
        td__error_set(err, TD_ERR_NOMEM, "out of memory");
        return TD__FETCH_NOMEM;
    }
    *data = c.data;
    *len = c.len;
    return TD__FETCH_OK;
}
