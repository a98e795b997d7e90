/* The outbound HTTP client (src/net): the address policy as a pure function over a table of
 * addresses (every refused range, its neighbours, and every IPv4 row again in its IPv4-mapped,
 * IPv4-translated, IPv4-compatible, NAT64 and 6to4 forms), URL checks, then the client against
 * an origin server on 127.0.0.1 inside this test: bodies kept and dropped, the size cap (with
 * and without Content-Length), the time limit, redirects refused by default and followed only
 * when asked (never to another protocol, at most the number asked), error statuses, POST, and
 * refusals of loopback and of addresses embedding it (no socket is opened). Last, a webhook to
 * such addresses is refused as the media fetcher refuses them. No packet leaves loopback: every
 * non-loopback address here is refused before a socket exists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/http_client.h"
#include "support/api_client.h"
#include "support/store_url.h"
#include "support/support.h"
#include "takedown/takedown.h"

#define BIG_BYTES (256 * 1024)
#define SLOW_MS 1500

static struct {
    struct MHD_Daemon *origin;
    unsigned port;
    atomic_int hits_ok, hits_hook;
} S;

/* ---- the address policy ---- */

static int refused_text(const char *text)
{
    if (strchr(text, ':')) {
        struct in6_addr a;
        if (inet_pton(AF_INET6, text, &a) != 1)
            fail_msg("bad test address %s", text);
        struct sockaddr_in6 sa;
        memset(&sa, 0, sizeof sa);
        sa.sin6_family = AF_INET6;
        sa.sin6_addr = a;
        int r = td__net_refused_v6(a.s6_addr);
        if (td__net_refused_addr((const struct sockaddr *)&sa, sizeof sa) != r)
            fail_msg("%s: the socket address form disagrees", text);
        return r;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, text, &a) != 1)
        fail_msg("bad test address %s", text);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr = a;
    int r = td__net_refused_v4(ntohl(a.s_addr));
    if (td__net_refused_addr((const struct sockaddr *)&sa, sizeof sa) != r)
        fail_msg("%s: the socket address form disagrees", text);
    return r;
}

typedef struct row {
    const char *addr;
    int refused;
} row;

static const row v4_rows[] = {
    {"0.0.0.0", 1},         {"0.255.255.255", 1},   {"1.0.0.0", 0},         {"9.255.255.255", 0},
    {"10.0.0.0", 1},        {"10.255.255.255", 1},  {"11.0.0.0", 0},        {"100.63.255.255", 0},
    {"100.64.0.0", 1},      {"100.127.255.255", 1}, {"100.128.0.0", 0},     {"126.255.255.255", 0},
    {"127.0.0.1", 1},       {"127.255.255.254", 1}, {"128.0.0.0", 0},       {"169.253.255.255", 0},
    {"169.254.169.254", 1}, {"169.255.0.0", 0},     {"172.15.255.255", 0},  {"172.16.0.1", 1},
    {"172.31.255.255", 1},  {"172.32.0.1", 0},      {"191.255.255.255", 0}, {"192.0.0.1", 1},
    {"192.0.0.255", 1},     {"192.0.1.1", 0},       {"192.0.2.1", 1},       {"192.0.3.1", 0},
    {"192.88.98.255", 0},   {"192.88.99.1", 1},     {"192.88.100.0", 0},    {"192.167.255.255", 0},
    {"192.168.0.1", 1},     {"192.168.255.255", 1}, {"192.169.0.0", 0},     {"198.17.255.255", 0},
    {"198.18.0.1", 1},      {"198.19.255.255", 1},  {"198.20.0.0", 0},      {"198.51.99.255", 0},
    {"198.51.100.7", 1},    {"198.51.101.0", 0},    {"203.0.112.255", 0},   {"203.0.113.9", 1},
    {"203.0.114.0", 0},     {"223.255.255.255", 0}, {"224.0.0.1", 1},       {"239.255.255.255", 1},
    {"240.0.0.1", 1},       {"255.255.255.255", 1}, {"8.8.8.8", 0},         {"93.184.216.34", 0},
    {"1.1.1.1", 0},
};

static const row v6_rows[] = {
    {"::", 1},
    {"::1", 1},
    {"::2", 1},
    {"100::1", 1},
    {"100::1:0:0:0:1", 0}, /* beyond 100::/64 */
    {"2001::1", 1},        /* Teredo */
    {"2001:0:4136:e378:8000:63bf:3fff:fdd2", 1},
    {"2001:1::1", 0},
    {"2001:2::1", 1},
    {"2001:2:1::1", 0},
    {"2001:10::1", 1},
    {"2001:1f::1", 1},
    {"2001:20::1", 1},
    {"2001:2f::1", 1},
    {"2001:30::1", 0},
    {"2001:db8::1", 1},
    {"2001:db9::1", 0},
    {"3fff::1", 1},
    {"3fff:fff::1", 1},
    {"3fff:1000::1", 0},
    {"64:ff9b:1::1", 1}, /* local-use NAT64, whatever it embeds */
    {"64:ff9b:1:ffff::8.8.8.8", 1},
    {"64:ff9b:2::1", 0},
    {"fc00::1", 1},
    {"fd12:3456::1", 1},
    {"fbff:ffff::1", 0},
    {"fe80::1", 1},
    {"febf:ffff::1", 1},
    {"fec0::1", 1},
    {"feff::1", 1},
    {"ff02::1", 1},
    {"ff0e::1", 1},
    {"2001:4860:4860::8888", 0},
    {"2606:4700:4700::1111", 0},
    {"2a00:1450:4001:82a::200e", 0},
    /* 6to4 and NAT64 with more than the IPv4 address set: the IPv4 address decides. */
    {"2002:808:808:1:2:3:4:5", 0},
    {"2002:a00:1:1:2:3:4:5", 1},
    {"64:ff9b::a00:1", 1},
    {"64:ff9b::808:808", 0},
};

/* The forms of IPv6 that carry an IPv4 address: IPv4-mapped, IPv4-translated,
 * IPv4-compatible, NAT64 and 6to4 (which writes the address as hex groups). */
#define N_FORMS 5
static void embed(int form, const char *v4, const uint8_t b[4], char *out, size_t cap)
{
    switch (form) {
    case 0: snprintf(out, cap, "::ffff:%s", v4); break;
    case 1: snprintf(out, cap, "::ffff:0:%s", v4); break;
    case 2: snprintf(out, cap, "::%s", v4); break;
    case 3: snprintf(out, cap, "64:ff9b::%s", v4); break;
    default: snprintf(out, cap, "2002:%02x%02x:%02x%02x::", b[0], b[1], b[2], b[3]); break;
    }
}

static void test_policy(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof v4_rows / sizeof v4_rows[0]; i++) {
        const row *r = &v4_rows[i];
        if (refused_text(r->addr) != r->refused)
            fail_msg("%s: expected refused=%d", r->addr, r->refused);
        struct in_addr a;
        assert_int_equal(inet_pton(AF_INET, r->addr, &a), 1);
        const uint8_t *b = (const uint8_t *)&a.s_addr;
        char v6[128];
        for (int f = 0; f < N_FORMS; f++) {
            embed(f, r->addr, b, v6, sizeof v6);
            if (refused_text(v6) != r->refused)
                fail_msg("%s (embedding %s): expected refused=%d", v6, r->addr, r->refused);
        }
    }
    for (size_t i = 0; i < sizeof v6_rows / sizeof v6_rows[0]; i++)
        if (refused_text(v6_rows[i].addr) != v6_rows[i].refused)
            fail_msg("%s: expected refused=%d", v6_rows[i].addr, v6_rows[i].refused);
    /* Other families, and short socket addresses, are refused. */
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x08080808u);
    assert_false(td__net_refused_addr((const struct sockaddr *)&sa, sizeof sa));
    assert_true(td__net_refused_addr((const struct sockaddr *)&sa, sizeof sa - 1));
    sa.sin_family = AF_UNIX;
    assert_true(td__net_refused_addr((const struct sockaddr *)&sa, sizeof sa));
    assert_true(td__net_refused_addr(NULL, 0));
}

static void test_url_check(void **state)
{
    (void)state;
    td_error err;
    char host[64];
    assert_int_equal(
        td__http_url_check("u", "https://Example.com:8443/x?y", 100, host, sizeof host, &err),
        TD_OK);
    assert_string_equal(host, "Example.com"); /* as written: the allow list ignores case */
    assert_int_equal(td__http_url_check("u", "http://[::1]:80/", 100, host, sizeof host, &err),
                     TD_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(td__http_url_check("u", "http://a.b/", 100, NULL, 0, &err), TD_OK);
    static const char *const bad[] = {"",
                                      "ftp://a.b/",
                                      "file:///etc/passwd",
                                      "gopher://a/",
                                      "http://a b/",
                                      "http://a.b/\x01",
                                      "not a url",
                                      "http://",
                                      "dict://127.0.0.1:11211/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (td__http_url_check("u", bad[i], 100, host, sizeof host, &err) != TD_ERR_INVALID)
            fail_msg("'%s' accepted", bad[i]);
    assert_int_equal(td__http_url_check("u", NULL, 100, NULL, 0, &err), TD_ERR_INVALID);
    assert_int_equal(td__http_url_check("u", "http://a.b/0123456789", 12, NULL, 0, &err),
                     TD_ERR_LIMIT);
    assert_int_equal(td__http_url_check("u", "http://abcdefgh.example/", 100, host, 8, &err),
                     TD_ERR_LIMIT);
}

/* ---- the origin ---- */

typedef struct upload {
    char data[4096];
    size_t len;
} upload;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t *left = cls;
    (void)pos;
    if (*left == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = max < *left ? max : *left;
    if (n > 4096)
        n = 4096;
    memset(buf, 'x', n);
    *left -= n;
    return (ssize_t)n;
}

static enum MHD_Result on_origin(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **ctx)
{
    (void)cls, (void)version;
    if (*ctx == NULL) {
        upload *u = calloc(1, sizeof *u);
        assert_non_null(u);
        *ctx = u;
        return MHD_YES;
    }
    upload *u = *ctx;
    if (*size) {
        size_t n = *size < sizeof u->data - u->len ? *size : sizeof u->data - u->len;
        memcpy(u->data + u->len, data, n);
        u->len += n;
        *size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = NULL;
    unsigned status = 200;
    char loc[160] = "";
    static const char ok[] = "hello";
    static const char missing[] = "not found here";
    if (strcmp(url, "/ok") == 0) {
        atomic_fetch_add(&S.hits_ok, 1);
        r = MHD_create_response_from_buffer(sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/hook") == 0) {
        atomic_fetch_add(&S.hits_hook, 1);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/echo") == 0 && strcmp(method, "POST") == 0) {
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Test");
        char *body = malloc(u->len + 64);
        assert_non_null(body);
        int n = snprintf(body, 64, "%s|", h ? h : "");
        memcpy(body + n, u->data, u->len);
        r = MHD_create_response_from_buffer((size_t)n + u->len, body, MHD_RESPMEM_MUST_FREE);
    } else if (strcmp(url, "/slow") == 0) {
        api_sleep_ms(SLOW_MS);
        r = MHD_create_response_from_buffer(sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/big") == 0) {
        char *big = malloc(BIG_BYTES);
        assert_non_null(big);
        memset(big, 'x', BIG_BYTES);
        r = MHD_create_response_from_buffer(BIG_BYTES, big, MHD_RESPMEM_MUST_FREE);
    } else if (strcmp(url, "/big-chunked") == 0) {
        size_t *left = malloc(sizeof *left);
        assert_non_null(left);
        *left = BIG_BYTES;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, left, free);
    } else if (strcmp(url, "/retry-seconds") == 0) {
        status = 429;
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Retry-After", " 7 ");
    } else if (strcmp(url, "/retry-date") == 0) {
        /* An HTTP-date two minutes ahead, written with strftime (not by the code under test). */
        char date[64];
        time_t when = time(NULL) + 120;
        struct tm tm;
        gmtime_r(&when, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        status = 503;
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Retry-After", date);
    } else if (strcmp(url, "/retry-bad") == 0) {
        status = 503;
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Retry-After", "soon");
    } else if (strcmp(url, "/redirect") == 0) {
        status = 302;
        snprintf(loc, sizeof loc, "/ok");
    } else if (strcmp(url, "/redirect-ftp") == 0) {
        status = 302;
        snprintf(loc, sizeof loc, "ftp://127.0.0.1:%u/ok", S.port);
    } else if (strcmp(url, "/loop") == 0) {
        status = 302;
        snprintf(loc, sizeof loc, "/loop");
    } else {
        status = 404;
        r = MHD_create_response_from_buffer(sizeof missing - 1, (void *)missing,
                                            MHD_RESPMEM_PERSISTENT);
    }
    if (loc[0]) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", loc);
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **ctx,
                    enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)conn, (void)code;
    free(*ctx);
    *ctx = NULL;
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    S.origin = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                NULL, NULL, on_origin, NULL, MHD_OPTION_SOCK_ADDR, &a,
                                MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    if (!S.origin)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(S.origin, MHD_DAEMON_INFO_BIND_PORT);
    S.port = info ? info->port : 0;
    return S.port ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.origin)
        MHD_stop_daemon(S.origin);
    curl_global_cleanup();
    return 0;
}

/* ---- the client ---- */

static td__http_result get(const td__http_options *o, const char *path, td__http_response *resp,
                           td_error *err)
{
    char url[256];
    if (strstr(path, "://"))
        snprintf(url, sizeof url, "%s", path);
    else
        snprintf(url, sizeof url, "http://127.0.0.1:%u%s", S.port, path);
    td__http_request req = {"GET", url, NULL, NULL, 0};
    return td__http_send(o, &req, resp, err);
}

static void test_client_loopback(void **state)
{
    (void)state;
    td__http_options o = {.allow_private = 1, .keep_body = 1, .max_bytes = 1000};
    td__http_response resp;
    td_error err;
    /* A body, kept. */
    assert_int_equal(get(&o, "/ok", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.len, 5);
    assert_memory_equal(resp.body, "hello", 5);
    td__http_response_free(&resp);
    assert_null(resp.body);
    /* Dropped but counted. */
    o.keep_body = 0;
    assert_int_equal(get(&o, "/ok", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.len, 5);
    assert_null(resp.body);
    o.keep_body = 1;

    /* The size cap: refused on Content-Length, or cut off while receiving. */
    assert_int_equal(get(&o, "/big", &resp, &err), TD__HTTP_TOO_LARGE);
    assert_int_equal(err.code, TD_ERR_LIMIT);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.len, 0);
    assert_null(resp.body);
    assert_int_equal(get(&o, "/big-chunked", &resp, &err), TD__HTTP_TOO_LARGE);
    assert_int_equal(resp.status, 200);
    assert_true(resp.len <= 1000);
    assert_null(resp.body);
    o.max_bytes = BIG_BYTES;
    assert_int_equal(get(&o, "/big-chunked", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.len, BIG_BYTES);
    td__http_response_free(&resp);
    o.max_bytes = 1000;

    /* An error status is the answer; its body is read only when asked. */
    assert_int_equal(get(&o, "/missing", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.status, 404);
    assert_int_equal(resp.len, 0);
    td__http_response_free(&resp);
    o.error_body = 1;
    assert_int_equal(get(&o, "/missing", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.status, 404);
    assert_int_equal(resp.len, 14);
    td__http_response_free(&resp);
    o.error_body = 0;

    /* Redirects: not followed by default. */
    int before = atomic_load(&S.hits_ok);
    assert_int_equal(get(&o, "/redirect", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.status, 302);
    assert_int_equal(resp.redirects, 0);
    assert_int_equal(atomic_load(&S.hits_ok), before);
    td__http_response_free(&resp);
    /* Followed when asked, at most as often as asked, never to another protocol. */
    o.max_redirects = 1;
    assert_int_equal(get(&o, "/redirect", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.redirects, 1);
    assert_memory_equal(resp.body, "hello", 5);
    td__http_response_free(&resp);
    o.max_redirects = 3;
    assert_int_equal(get(&o, "/loop", &resp, &err), TD__HTTP_FAILED);
    assert_int_equal(get(&o, "/redirect-ftp", &resp, &err), TD__HTTP_BAD_URL);
    o.max_redirects = 0;

    /* POST with headers. */
    const char *const headers[] = {"X-Test: abc", "Content-Type: application/json", NULL};
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/echo", S.port);
    td__http_request post = {"POST", url, headers, "{\"a\":1}", 7};
    assert_int_equal(td__http_send(&o, &post, &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.len, 11);
    assert_memory_equal(resp.body, "abc|{\"a\":1}", 11);
    td__http_response_free(&resp);
    td__http_request put = {"PUT", url, NULL, NULL, 0};
    assert_int_equal(td__http_send(&o, &put, &resp, &err), TD__HTTP_BAD_URL);

    /* The time limit. */
    o.timeout_ms = 300;
    double t0 = api_now_s();
    assert_int_equal(get(&o, "/slow", &resp, &err), TD__HTTP_TIMEOUT);
    assert_true(api_now_s() - t0 < SLOW_MS / 1000.0 - 0.2);
    o.timeout_ms = 0;

    /* Nothing listens on port 1: a failure, not a refusal. */
    assert_int_equal(get(&o, "http://127.0.0.1:1/ok", &resp, &err), TD__HTTP_FAILED);
    assert_int_equal(get(&o, "ftp://127.0.0.1/ok", &resp, &err), TD__HTTP_BAD_URL);
}

/* Without allow_private: loopback, by address, by name and embedded in IPv6 forms, refused
 * before a socket is opened (the origin sees nothing). */
/* Retry-After in both forms of RFC 9110 section 10.2.3: delay-seconds, and an HTTP-date the
 * origin writes two minutes ahead (read back within the seconds the test may take); a value in
 * neither form and an answer without the header give 0. */
static void test_client_retry_after(void **state)
{
    (void)state;
    td__http_options o = {.allow_private = 1, .keep_body = 1, .max_bytes = 1000};
    td__http_response resp;
    td_error err;
    assert_int_equal(get(&o, "/retry-seconds", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.status, 429);
    assert_int_equal(resp.retry_after_ms, 7000);
    td__http_response_free(&resp);
    assert_int_equal(get(&o, "/retry-date", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.status, 503);
    assert_true(resp.retry_after_ms > 110000 && resp.retry_after_ms <= 120000);
    td__http_response_free(&resp);
    assert_int_equal(get(&o, "/retry-bad", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.retry_after_ms, 0);
    td__http_response_free(&resp);
    assert_int_equal(get(&o, "/ok", &resp, &err), TD__HTTP_OK);
    assert_int_equal(resp.retry_after_ms, 0);
    td__http_response_free(&resp);
}

static void test_client_refuses(void **state)
{
    (void)state;
    td__http_options o = {.keep_body = 1, .timeout_ms = 2000};
    td__http_response resp;
    td_error err;
    char url[160];
    static const char *const hosts[] = {
        "127.0.0.1",         "localhost",           "[::1]",         "[::ffff:127.0.0.1]",
        "[64:ff9b::7f00:1]", "[2002:7f00:1::1]",    "[::127.0.0.1]", "[fe80::1]",
        "[2001:db8::1]",     "[64:ff9b:1::7f00:1]", "0.0.0.0",       "169.254.169.254",
        "[::ffff:0:a00:1]",  "198.18.0.1",          "192.0.0.8",     "[fec0::1]"};
    int before = atomic_load(&S.hits_ok);
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        snprintf(url, sizeof url, "http://%s:%u/ok", hosts[i], S.port);
        td__http_result r = get(&o, url, &resp, &err);
        if (r != TD__HTTP_REFUSED)
            fail_msg("%s: %d (%s), expected a refusal", url, (int)r, err.message);
        assert_int_equal(resp.status, 0);
        assert_null(resp.body);
    }
    assert_int_equal(atomic_load(&S.hits_ok), before);
    /* A redirect goes through the same policy. */
    o.allow_private = 1;
    o.max_redirects = 2;
    before = atomic_load(&S.hits_ok);
    assert_int_equal(get(&o, "/redirect", &resp, &err), TD__HTTP_OK);
    td__http_response_free(&resp);
    assert_int_equal(atomic_load(&S.hits_ok), before + 1);
}

/* ---- webhooks follow the same policy ---- */

static void test_webhook_refused(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", temp_path("net-XXXXXX"));
    assert_non_null(mkdtemp(dir));
    td_service_options so;
    td_service *svc = NULL;
    td_error err;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.webhook_max_attempts = 1;
    so.webhook_timeout_ms = 2000;
    so.store_url = td_test_store_url(dir);
    if (td_service_open(dir, &so, &svc, &err))
        fail_msg("open: %s", err.message);
    const char *secret = "0123456789abcdef-net";
    static const char *const hosts[] = {"[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[::127.0.0.1]",
                                        "[::ffff:127.0.0.1]", "127.0.0.1"};
    enum { N = sizeof hosts / sizeof hosts[0] };
    int64_t ids[N];
    for (size_t i = 0; i < N; i++) {
        char url[160];
        td_webhook w;
        snprintf(url, sizeof url, "http://%s:%u/hook", hosts[i], S.port);
        if (td_webhook_create(svc, url, secret, TD_EVENT_ALL, &w, &err))
            fail_msg("%s: %s", url, err.message);
        ids[i] = w.id;
    }
    /* An event for every webhook: content matching a bank that blocks. */
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "NETBLOCK");
    b.action = TD_ACTION_BLOCK;
    b.threshold = 31;
    assert_int_equal(td_bank_create(svc, &b, NULL, &err), TD_OK);
    td_pdq p;
    uint64_t seed = 7;
    for (int i = 0; i < 16; i++)
        p.w[i] = (uint16_t)test_rand(&seed);
    char hex[65];
    td_pdq_to_hex(&p, hex);
    td_signal_input in;
    td_signal_input_init(&in);
    in.value = hex;
    assert_int_equal(td_signal_add(svc, "NETBLOCK", &in, NULL, &err), TD_OK);
    td_content_input ci;
    td_hashes h;
    memset(&ci, 0, sizeof ci);
    td_hashes_init(&h);
    h.n_pdq = 1;
    h.pdq[0] = p;
    ci.hashes = &h;
    ci.content_id = "net-1";
    assert_int_equal(td_content_submit(svc, &ci, NULL, &err), TD_OK);
    size_t attempted = 0;
    assert_int_equal(td_webhook_run_due(svc, &attempted, &err), TD_OK);
    assert_true(attempted >= N);
    for (size_t i = 0; i < N; i++) {
        td_delivery *d = NULL;
        size_t n = 0;
        assert_int_equal(td_delivery_list(svc, ids[i], 10, &d, &n, &err), TD_OK);
        assert_true(n >= 1);
        for (size_t k = 0; k < n; k++) {
            if (d[k].state != TD_DELIVERY_DEAD || d[k].last_status != 0 ||
                !strstr(d[k].last_error, "refused"))
                fail_msg("%s: state %d status %d error '%s'", hosts[i], (int)d[k].state,
                         d[k].last_status, d[k].last_error);
        }
        td_free(d);
    }
    assert_int_equal(atomic_load(&S.hits_hook), 0);
    td_service_close(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy),          cmocka_unit_test(test_url_check),
        cmocka_unit_test(test_client_loopback), cmocka_unit_test(test_client_retry_after),
        cmocka_unit_test(test_client_refuses),  cmocka_unit_test(test_webhook_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
