/* Malformed requests against the real `takedown serve`, written byte for byte on a loopback
 * socket (libcurl would refuse or clean up most of them): invalid UTF-8, overlong forms, NULs and
 * control bytes in the path and the query, bad percent-escapes, over-long paths, garbage request
 * lines, bad methods, bad header values. Every answer must be a 4xx whose body is one JSON error
 * {"error": {"code", "message"}}, valid UTF-8, quoting none of the raw bytes; and the server keeps
 * serving. Then signed order intake: a signed body changed in any way answers 401
 * bad_signature, a well-signed body that is not a document 400 malformed, and target URLs that
 * could mislead an operator 422 naming the target. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "support/api_client.h"
#include "support/support.h"

static struct {
    api_server srv;
    char dir[4096];
    char admin[128], authority[128];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint16_t port;
} S;

/* ---- raw HTTP ---- */

typedef struct raw_resp {
    int status; /* 0: the connection closed without an answer */
    char head[8192];
    char body[65536];
    size_t body_len;
} raw_resp;

/* Writes req (len bytes) on a new connection and reads the answer until the server closes it. */
static void raw_send(const void *req, size_t len, raw_resp *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(S.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    size_t sent = 0;
    while (sent < len) {
        ssize_t w = send(fd, (const char *)req + sent, len - sent, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may answer and close before reading everything */
        sent += (size_t)w;
    }
    static char buf[sizeof out->head + sizeof out->body];
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (got < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || !end)
        return;
    out->status = atoi(buf + 9);
    size_t hl = (size_t)(end - buf);
    assert_true(hl < sizeof out->head);
    memcpy(out->head, buf, hl);
    out->body_len = got - hl - 4;
    memcpy(out->body, end + 4, out->body_len);
}

/* A request line and headers, "Connection: close" added. */
static void raw_request(raw_resp *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void raw_request(raw_resp *out, const char *fmt, ...)
{
    static char req[70000];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(req, sizeof req - 64, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof req - 64);
    n += snprintf(req + n, 64, "Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
    raw_send(req, (size_t)n, out);
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (k == 0 || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

/* The answer is `status` (0: any 4xx) with a JSON error body (code `code` when not NULL), valid
 * UTF-8, without control bytes and without the bytes `raw` (NULL: no check). */
static void expect_json_error(const raw_resp *r, int status, const char *code, const char *raw)
{
    if (status)
        assert_int_equal(r->status, status);
    else if (r->status < 400 || r->status > 499)
        fail_msg("expected a 4xx, got %d", r->status);
    if (!strcasestr(r->head, "Content-Type: application/json"))
        fail_msg("not a JSON answer: %.300s\n%.300s", r->head, r->body);
    assert_true(utf8_valid((const unsigned char *)r->body, r->body_len));
    for (size_t i = 0; i < r->body_len; i++) {
        unsigned char c = (unsigned char)r->body[i];
        if (c < 0x20 && c != '\n')
            fail_msg("control byte 0x%02x in the answer", c);
    }
    if (raw)
        assert_null(memmem(r->body, r->body_len, raw, strlen(raw)));
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->body_len, 0, &jerr);
    if (!j)
        fail_msg("not JSON (%s): %.200s", jerr.text, r->body);
    json_t *e = json_object_get(j, "error");
    if (!code && !e && json_is_string(json_object_get(j, "message"))) { /* HMA's shape */
        json_decref(j);
        return;
    }
    assert_true(json_is_object(e));
    assert_true(json_is_string(json_object_get(e, "code")));
    assert_true(json_is_string(json_object_get(e, "message")));
    if (code && strcmp(json_string_value(json_object_get(e, "code")), code) != 0)
        fail_msg("code %s, expected %s", json_string_value(json_object_get(e, "code")), code);
    json_decref(j);
}

static void expect_healthy(void)
{
    raw_resp r;
    raw_request(&r, "GET /healthz HTTP/1.1\r\n");
    assert_int_equal(r.status, 200);
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
    (void)state;
    if (api_group_init(S.dir, sizeof S.dir, "api-malformed-data") != 0)
        return -1;
    api_server_start(&S.srv, S.dir, NULL);
    snprintf(S.admin, sizeof S.admin, "%s", S.srv.admin);
    const char *colon = strrchr(S.srv.base, ':');
    S.port = (uint16_t)atoi(colon + 1);
    /* An authority: its API key, its Ed25519 key, the two linked. */
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.admin,
                         "{\"role\": \"authority\", \"name\": \"bka-key\"}");
    snprintf(S.authority, sizeof S.authority, "%s", api_jstr(j, "key"));
    long long key_id = (long long)api_jint(j, "id");
    json_decref(j);
    api_register_authority(&S.srv, S.admin, "BKA", "2020-01-01T00:00:00Z", key_id, S.pk, S.sk);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    return 0;
}

/* ---- paths ---- */

static void test_paths(void **state)
{
    (void)state;
    raw_resp r;
    /* No key needed to reach these: the answer must still be an error, not a failure to build one.
     */
    raw_request(&r, "GET /%%ff HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_path", "\xff");
    raw_request(&r, "GET /console/%%c0%%ae%%c0%%ae/x HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_path", "\xc0\xae");
    raw_request(&r, "GET /%%ed%%a0%%80 HTTP/1.1\r\n"); /* a surrogate */
    expect_json_error(&r, 400, "invalid_path", "\xed\xa0\x80");
    raw_request(&r, "GET /v1/banks/%%ff%%fe HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_path", "\xff\xfe");
    assert_non_null(strstr(r.body, "'name'")); /* the parameter is named */
    /* Raw bytes in the request line, not escaped. */
    raw_request(&r, "GET /\xff\xfe\xc0\xae HTTP/1.1\r\n");
    if (r.status)
        expect_json_error(&r, 0, NULL, "\xff\xfe");
    /* NUL and control bytes. */
    raw_request(&r, "GET /v1/banks/%%00 HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_path", NULL);
    raw_request(&r, "GET /v1/banks/a%%00b HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_path", NULL);
    raw_request(&r, "GET /v1/banks/%%1b%%5b31m HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_path", "\x1b");
    raw_request(&r, "GET /%%07%%08 HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_path", "\x07");
    /* Bad percent-escapes. */
    raw_request(&r, "GET /v1/banks/%%zz HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_path", NULL);
    raw_request(&r, "GET /v1/banks/ab%%f HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_path", NULL);
    /* A bidirectional override in a parameter: quoted escaped, never as the character. */
    raw_request(&r, "GET /v1/banks/a%%e2%%80%%aeb HTTP/1.1\r\nAuthorization: Bearer %s\r\n",
                S.admin);
    expect_json_error(&r, 404, "not_found", "\xe2\x80\xae");
    assert_null(strstr(r.body, "\\u202e"));
    assert_null(strstr(r.body, "\\u202E"));
    /* An over-long path: 404, with a message cut short. */
    static char longpath[8001];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    raw_request(&r, "GET /%s HTTP/1.1\r\n", longpath);
    expect_json_error(&r, 404, "no_route", NULL);
    assert_true(r.body_len < 2048);
    /* Longer than the HTTP parser takes: refused before routing (414, libmicrohttpd's own body). */
    static char huge[60001];
    memset(huge, 'a', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    raw_request(&r, "GET /%s HTTP/1.1\r\n", huge);
    assert_int_equal(r.status, 414);
    assert_null(memmem(r.body, r.body_len, "aaaa", 4));
    /* Long, and made of bytes that are not UTF-8. */
    static char longbad[6001];
    for (size_t i = 0; i + 3 < sizeof longbad; i += 3)
        memcpy(longbad + i, "%ff", 3);
    longbad[sizeof longbad - 1] = '\0';
    raw_request(&r, "GET /v1/banks/%s HTTP/1.1\r\n", longbad);
    expect_json_error(&r, 400, "invalid_path", "\xff");
    assert_true(r.body_len < 2048);
    expect_healthy();
}

/* ---- request lines and methods ---- */

static void test_request_lines(void **state)
{
    (void)state;
    raw_resp r;
    /* An unknown method on a known path, and one made of bytes that are not UTF-8. */
    raw_request(&r, "BREW /v1/banks HTTP/1.1\r\nAuthorization: Bearer %s\r\n", S.admin);
    expect_json_error(&r, 405, "method_not_allowed", NULL);
    raw_request(&r, "G\xff\xfeT /v1/banks HTTP/1.1\r\n");
    if (r.status)
        expect_json_error(&r, 0, NULL, "\xff\xfe");
    raw_request(&r, "G\xff\xfeT /%%ff HTTP/1.1\r\n");
    if (r.status)
        expect_json_error(&r, 0, NULL, "\xff\xfe");
    /* Garbage request lines: refused by the HTTP parser (4xx or a closed connection). */
    static const char *const garbage[] = {
        "\x01\x02\x03\r\n\r\n",
        "GET\r\n\r\n",
        "GET /healthz\r\n\r\n",
        "\xff\xfe\xfd /healthz HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        raw_send(garbage[i], strlen(garbage[i]), &r);
        print_message("garbage %zu: %d\n", i, r.status);
        if (r.status >= 500)
            fail_msg("garbage %zu: %d", i, r.status);
        if (r.status == 200)
            continue; /* a lenient parse of something still valid */
        if (r.status && strcasestr(r.head, "application/json"))
            expect_json_error(&r, 0, NULL, "\xff");
    }
    /* Another protocol version: libmicrohttpd answers 505 (HTTP Version Not Supported) itself. */
    static const char v99[] = "GET /healthz HTTP/9.9\r\n\r\n";
    raw_send(v99, strlen(v99), &r);
    assert_true(r.status == 0 || r.status == 505);
    expect_healthy();
}

/* ---- query arguments ---- */

static void test_queries(void **state)
{
    (void)state;
    raw_resp r;
    static const struct {
        const char *target;
        const char *raw;
    } cases[] = {
        {"/v1/banks?x=%ff", "\xff"},
        {"/v1/cases?state=%ff%fe", "\xff"},
        {"/v1/cases?state=%c0%ae", "\xc0"},
        {"/v1/orders?from=%00", NULL},
        {"/v1/orders?from=a%0ab", NULL},
        {"/v1/orders?to=%zz", NULL},
        {"/v1/orders?to=%f", NULL},
        {"/m/lookup?signal_type=pdq&signal=%ff", "\xff"},
        {"/m/raw_lookup?signal_type=url&signal=%e2%80", "\xe2\x80"},
        {"/h/hash?url=https://x.example/%ff", "\xff"},
        {"/v1/banks/missing/export?format=%ff", "\xff"},
        {"/v1/banks?%ff=1", "\xff"},
        {"/v1/banks?a%00b=1", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_request(&r, "GET %s HTTP/1.1\r\nAuthorization: Bearer %s\r\n", cases[i].target,
                    S.admin);
        expect_json_error(&r, 400, api_hma_path(cases[i].target) ? NULL : "invalid_query",
                          cases[i].raw);
    }
    /* The parameter is named. */
    raw_request(&r, "GET /v1/cases?state=%%ff HTTP/1.1\r\nAuthorization: Bearer %s\r\n", S.admin);
    assert_non_null(strstr(r.body, "'state'"));
    /* Kept escapes still decode: a content id with a slash and a percent sign. */
    raw_request(&r, "GET /v1/content/post%%2F1%%25 HTTP/1.1\r\nAuthorization: Bearer %s\r\n",
                S.admin);
    expect_json_error(&r, 404, "not_found", NULL);
    /* Valid UTF-8 in a query value is fine (a parameter the route takes: a read's purpose). */
    raw_request(&r,
                "GET /v1/evidence-orders?purpose=caf%%c3%%a9 HTTP/1.1\r\nAuthorization: Bearer "
                "%s\r\n",
                S.admin);
    assert_int_equal(r.status, 200);
    /* A query on a no-key route. */
    raw_request(&r, "GET /healthz?x=%%ff HTTP/1.1\r\n");
    expect_json_error(&r, 400, "invalid_query", "\xff");
    expect_healthy();
}

/* ---- headers ---- */

static void test_headers(void **state)
{
    (void)state;
    raw_resp r;
    static const char body[] = "{\"pdq\": \"00\"}";
    raw_request(&r,
                "POST /v1/check HTTP/1.1\r\nAuthorization: Bearer %s\r\nContent-Type: "
                "application/\xff\xfejson\r\nContent-Length: %zu\r\n\r\n%s",
                S.admin, strlen(body), body);
    expect_json_error(&r, 400, "invalid_header", "\xff");
    raw_request(&r,
                "POST /v1/check HTTP/1.1\r\nAuthorization: Bearer %s\r\nContent-Type: "
                "image/\x01png\r\nContent-Length: 1\r\n\r\nx",
                S.admin);
    expect_json_error(&r, 400, "invalid_header", NULL);
    /* Authorization that is not a key. */
    raw_request(&r, "GET /v1/banks HTTP/1.1\r\nAuthorization: Bearer \xff\xfe\xc0\xae\r\n");
    expect_json_error(&r, 401, "unauthenticated", "\xff");
    raw_request(&r, "GET /v1/banks HTTP/1.1\r\nAuthorization: \xff\xfe\r\n");
    expect_json_error(&r, 401, "unauthenticated", "\xff");
    expect_healthy();
}

/* ---- signed orders ---- */

static void send_order(const char *body, size_t len, const char *sig_over, size_t sig_len,
                       raw_resp *r)
{
    char sig[200];
    static char req[70000];
    api_sign_header(S.sk, sig_over, sig_len, sig, sizeof sig);
    int n = snprintf(req, sizeof req,
                     "POST /v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n%s\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     S.authority, sig, len);
    assert_true(n > 0 && (size_t)n + len < sizeof req);
    memcpy(req + n, body, len);
    raw_send(req, (size_t)n + len, r);
}

static void expect_order_error(const raw_resp *r, int status, const char *code, const char *field)
{
    expect_json_error(r, status, code, NULL);
    if (field) {
        json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
        const char *f = json_string_value(json_object_get(json_object_get(j, "error"), "field"));
        if (!f || strcmp(f, field) != 0)
            fail_msg("field %s, expected %s", f ? f : "(none)", field);
        json_decref(j);
    }
}

static void test_order_signature_first(void **state)
{
    (void)state;
    char doc[4096], body[4200];
    raw_resp r;
    api_order_doc(doc, sizeof doc, "BKA", "BKA-MAL-1", "vid-1", NULL, NULL);
    size_t len = strlen(doc);
    /* A byte appended after signing. */
    memcpy(body, doc, len);
    body[len] = 'x';
    send_order(body, len + 1, doc, len, &r);
    expect_order_error(&r, 401, "bad_signature", NULL);
    body[len] = '\n';
    send_order(body, len + 1, doc, len, &r);
    expect_order_error(&r, 401, "bad_signature", NULL);
    /* A byte flipped: in the statement, in the structure, the first byte. */
    size_t at[] = {len / 2, len - 1, 0};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        memcpy(body, doc, len);
        body[at[i]] ^= 0x01;
        send_order(body, len, doc, len, &r);
        expect_order_error(&r, 401, "bad_signature", NULL);
    }
    /* Cut short. */
    send_order(doc, len - 1, doc, len, &r);
    expect_order_error(&r, 401, "bad_signature", NULL);
    send_order(doc, len / 2, doc, len, &r);
    expect_order_error(&r, 401, "bad_signature", NULL);
    send_order(doc, 1, doc, len, &r);
    expect_order_error(&r, 401, "bad_signature", NULL);
    /* Well signed, but not a document: malformed. */
    memcpy(body, doc, len);
    body[len] = '}';
    send_order(body, len + 1, body, len + 1, &r);
    expect_order_error(&r, 400, "malformed", NULL);
    send_order("not json", 8, "not json", 8, &r);
    expect_order_error(&r, 400, "malformed", NULL);
    send_order(doc, len / 2, doc, len / 2, &r);
    expect_order_error(&r, 400, "malformed", NULL);
    /* Nothing was recorded. */
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/orders?open=0", S.admin, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "orders")), 0);
    json_decref(j);
}

static void test_order_target_urls(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xc3\xbf\xc3\xbe",      /* "ÿþ": no scheme */
        "//no-scheme.example/x", /* scheme-relative */
        "video.example/watch/1", /* bare host */
        "https://video.example/\xe2\x80\xae"
        "4pm.exe", /* U+202E */
        "https://vid\xe2\x80\x8b"
        "eo.example/1",                        /* U+200B */
        "\xef\xbb\xbfhttps://video.example/1", /* U+FEFF */
        "https:///path-only",                  /* no host */
        "https://video.example:99999/x",       /* port */
        "ftp://video.example/x",               /* scheme */
        "https://video example/x",             /* space */
        "javascript:alert(1)",
    };
    char doc[4096];
    raw_resp r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char ref[32];
        snprintf(ref, sizeof ref, "BKA-URL-%zu", i);
        api_order_doc(doc, sizeof doc, "BKA", ref, NULL, bad[i], NULL);
        send_order(doc, strlen(doc), doc, strlen(doc), &r);
        expect_order_error(&r, 422, "invalid_field", "content[0].url");
        /* The message says what is wrong, without the raw character. */
        assert_null(memmem(r.body, r.body_len, "\xe2\x80", 2));
    }
    /* A defanged URL is an explicit scheme: accepted. */
    api_order_doc(doc, sizeof doc, "BKA", "BKA-URL-OK", NULL, "hxxps://video.example/watch/9",
                  NULL);
    send_order(doc, strlen(doc), doc, strlen(doc), &r);
    assert_int_equal(r.status, 201);
    expect_healthy();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_request_lines),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_order_signature_first),
        cmocka_unit_test(test_order_target_urls),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
