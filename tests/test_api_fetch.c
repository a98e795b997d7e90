/* GET /h/hash?url= (HMA's "hash a URL"): the allow list on its own, then the real `takedown
 * serve` fetching from a small origin server that runs inside this test on loopback. Covered:
 * fetching disabled (the default, 403), the allow list, loopback refused as a private address
 * (by literal, by name, inside NAT64, 6to4 and IPv4-mapped addresses) unless
 * fetch_allow_private (HMA's 400 "Invalid or unsafe URL provided"), a body over max_media_bytes
 * (413, with and without Content-Length), a slow origin, upstream 404 and redirects (never
 * followed; HMA's 400 "Failed to fetch URL"), content neither picture nor video (400) and a JPEG
 * whose hashes must be the reference ones, as a photo and as a video. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/fetch.h"
#include "support/api_client.h"
#include "support/support.h"

#define BRIDGE_JPG "threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"
#define BRIDGE_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
#define BIG_BYTES (1536 * 1024) /* over the 1M max_media_bytes the server runs with */
#define SLOW_MS 2500            /* over the 1000 ms fetch_timeout_ms */

static struct {
    api_server srv;
    char dir[4096];
    char admin[128];
    /* The origin. */
    struct MHD_Daemon *origin;
    unsigned origin_port;
    uint8_t *jpg;
    size_t jpg_len;
} S;

/* ---- the server process ---- */

/* Starts `takedown serve` with the extra NULL-terminated flags; remembers the admin key that
 * the first start prints. */
static void server_start(const char *const *extra)
{
    const char *flags[40];
    int n = 0;
    flags[n++] = "--http-threads";
    flags[n++] = "4";
    for (int i = 0; extra && extra[i] && n < 38; i++)
        flags[n++] = extra[i];
    flags[n] = NULL;
    api_server_start(&S.srv, S.dir, flags);
    if (S.srv.admin[0])
        snprintf(S.admin, sizeof S.admin, "%.120s", S.srv.admin);
}

/* ---- HTTP to takedown ---- */

/* GET path with the admin key; returns the parsed body. */
static json_t *get_json(const char *path, long *status)
{
    api_resp r;
    long st = api_http(&S.srv, "GET", path, S.admin, NULL, &r);
    if (st < 0)
        fail_msg("GET %s%s: %s", S.srv.base, path, curl_easy_strerror((CURLcode)-st));
    *status = st;
    json_t *j = api_parse_or_fail("GET", path, &r);
    api_resp_free(&r);
    return j;
}

/* GET /h/hash?url=<target, percent-encoded>. */
static json_t *hash_url(const char *target, long *status)
{
    char path[4096];
    char *q = curl_easy_escape(NULL, target, 0);
    assert_non_null(q);
    snprintf(path, sizeof path, "/h/hash?url=%s", q);
    curl_free(q);
    return get_json(path, status);
}

/* What an error's message says, by the kind of refusal: /h/hash is an HMA route, whose errors
 * are HMA's {"message": ...} without a code. NULL: any message. */
static const char *message_of(const char *code)
{
    static const struct {
        const char *code, *says;
    } kinds[] = {
        {"fetch_disabled", "(fetch_enabled)"},
        {"host_not_allowed", "(fetch_allow)"},
        {"invalid_url", "'url'"},
        {"private_address", "(fetch_allow_private)"},
        {"too_large", "Content too large"},
        {"upstream_timeout", "in time"},
        {"upstream_error", "Failed to fetch URL"},
        {"undecodable", "unsupported url ContentType"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].code, code) == 0)
            return kinds[i].says;
    fail_msg("no message known for %s", code);
    return NULL;
}

/* A path on the origin (or any URL, when target has a scheme) must answer expect, with the
 * message of that kind of refusal. */
static void expect_error(long expect, const char *code, const char *target)
{
    char full[512];
    if (strstr(target, "://"))
        snprintf(full, sizeof full, "%s", target);
    else
        snprintf(full, sizeof full, "http://127.0.0.1:%u%s", S.origin_port, target);
    long st = 0;
    json_t *j = hash_url(full, &st);
    const char *msg = json_string_value(json_object_get(j, "message"));
    const char *says = message_of(code);
    if (st != expect || !msg || json_object_size(j) != 1 || (says && !strstr(msg, says)))
        fail_msg("%s: status %ld message %s, expected %ld %s", full, st, msg ? msg : "(none)",
                 expect, code);
    json_decref(j);
}

/* ---- the origin ---- */

typedef struct stream {
    size_t left;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    (void)pos;
    if (s->left == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = max < s->left ? max : s->left;
    if (n > 4096)
        n = 4096;
    memset(buf, 'x', n);
    s->left -= n;
    return (ssize_t)n;
}

static void stream_free(void *cls) { free(cls); }

static enum MHD_Result on_origin(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **ctx)
{
    (void)cls, (void)method, (void)version, (void)data, (void)size;
    static int first;
    if (*ctx == NULL) { /* headers only: wait for the (empty) body */
        *ctx = &first;
        return MHD_YES;
    }
    struct MHD_Response *r = NULL;
    unsigned status = 200;
    const char *type = "image/jpeg";
    static const char text[] = "hello, this is not an image\n";
    static const char missing[] = "not found";
    if (strcmp(url, "/img.jpg") == 0) {
        r = MHD_create_response_from_buffer(S.jpg_len, S.jpg, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/slow.jpg") == 0) {
        api_sleep_ms(SLOW_MS);
        r = MHD_create_response_from_buffer(S.jpg_len, S.jpg, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/big") == 0) {
        char *big = malloc(BIG_BYTES);
        assert_non_null(big);
        memset(big, 'x', BIG_BYTES);
        r = MHD_create_response_from_buffer(BIG_BYTES, big, MHD_RESPMEM_MUST_FREE);
    } else if (strcmp(url, "/big-chunked") == 0) {
        stream *s = malloc(sizeof *s);
        assert_non_null(s);
        s->left = BIG_BYTES;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    } else if (strcmp(url, "/text") == 0) {
        type = "text/plain";
        r = MHD_create_response_from_buffer(sizeof text - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/redirect") == 0) {
        status = 302;
        type = "text/plain";
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", "/img.jpg");
    } else {
        status = 404;
        type = "text/plain";
        r = MHD_create_response_from_buffer(sizeof missing - 1, (void *)missing,
                                            MHD_RESPMEM_PERSISTENT);
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    S.jpg = read_all(conf_path(BRIDGE_JPG), &S.jpg_len);
    snprintf(S.dir, sizeof S.dir, "%s", temp_path("api-fetch-data"));
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", S.dir);
    if (system(cmd) != 0)
        return -1;
    S.origin = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                NULL, NULL, on_origin, NULL, MHD_OPTION_END);
    if (!S.origin)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(S.origin, MHD_DAEMON_INFO_BIND_PORT);
    S.origin_port = info ? info->port : 0;
    return S.origin_port ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    if (S.origin)
        MHD_stop_daemon(S.origin);
    free(S.jpg);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ---- */

/* The allow list, without a network (the address ranges: tests/test_net.c). */
static void test_policy(void **state)
{
    (void)state;
    assert_true(td__fetch_host_allowed("example.com", "example.com"));
    assert_true(td__fetch_host_allowed("example.com", "CDN.Example.COM."));
    assert_true(td__fetch_host_allowed(" a.org, .example.com ", "x.example.com"));
    assert_false(td__fetch_host_allowed("example.com", "badexample.com"));
    assert_false(td__fetch_host_allowed("example.com", "example.com.evil.net"));
    assert_false(td__fetch_host_allowed("", "example.com"));
    assert_false(td__fetch_host_allowed(NULL, "example.com"));
    assert_true(td__fetch_host_allowed("*", "anything.net"));
    assert_true(td__fetch_host_allowed("127.0.0.1", "127.0.0.1"));
    assert_false(td__fetch_host_allowed("0.0.1", "127.0.0.1")); /* addresses match whole */
    assert_true(td__fetch_host_allowed("::1", "::1"));
}

/* The default: fetching is off. The first start also creates the admin key. */
static void test_disabled_by_default(void **state)
{
    (void)state;
    server_start(NULL);
    assert_true(strncmp(S.admin, "tdk_", 4) == 0);
    expect_error(403, "fetch_disabled", "/img.jpg");
    long st = 0;
    json_t *j = get_json("/h/hash", &st);
    /* HMA's answer to a missing required parameter: 422, pydantic's list of errors */
    assert_int_equal(st, 422);
    assert_string_equal(api_jstr(json_array_get(j, 0), "type"), "missing");
    json_decref(j);
    api_server_stop(&S.srv);
}

/* Enabled with an allow list, private addresses refused: loopback by literal and by name. */
static void test_private_refused(void **state)
{
    (void)state;
    static const char *const flags[] = {
        "--fetch-enabled", "1", "--fetch-allow",
        "localhost, 127.0.0.1, 64:ff9b::7f00:1, 2002:7f00:1::1, ::ffff:7f00:1, ::ffff:127.0.0.1",
        NULL};
    server_start(flags);
    char url[256];
    expect_error(400, "private_address", "/img.jpg");
    snprintf(url, sizeof url, "http://localhost:%u/img.jpg", S.origin_port);
    expect_error(400, "private_address", url);
    /* Loopback inside NAT64, 6to4 and IPv4-mapped addresses: refused before any connection
     * (the webhooks' policy is the same one: tests/test_net.c). */
    snprintf(url, sizeof url, "http://[64:ff9b::7f00:1]:%u/img.jpg", S.origin_port);
    expect_error(400, "private_address", url);
    snprintf(url, sizeof url, "http://[2002:7f00:1::1]:%u/img.jpg", S.origin_port);
    expect_error(400, "private_address", url);
    snprintf(url, sizeof url, "http://[::ffff:127.0.0.1]:%u/img.jpg", S.origin_port);
    expect_error(400, "private_address", url);
    snprintf(url, sizeof url, "http://127.0.0.2:%u/img.jpg", S.origin_port);
    expect_error(400, "host_not_allowed", url);
    snprintf(url, sizeof url, "http://[::1]:%u/img.jpg", S.origin_port);
    expect_error(400, "host_not_allowed", url);
    expect_error(400, "invalid_url", "ftp://127.0.0.1/img.jpg");
    expect_error(400, "invalid_url", "file:///etc/passwd");
    expect_error(400, "invalid_url", "not a url");
    api_server_stop(&S.srv);
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Loopback allowed (as in a test or an internal deployment): every outcome of a fetch. */
static void test_fetch_outcomes(void **state)
{
    (void)state;
    static const char *const flags[] = {"--fetch-enabled",
                                        "1",
                                        "--fetch-allow",
                                        "127.0.0.1",
                                        "--fetch-allow-private",
                                        "1",
                                        "--fetch-timeout-ms",
                                        "1000",
                                        "--fetch-connect-timeout-ms",
                                        "1000",
                                        "--max-media-bytes",
                                        "1M",
                                        NULL};
    server_start(flags);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/img.jpg", S.origin_port);
    long st = 0;
    json_t *j = hash_url(url, &st);
    if (st != 200)
        fail_msg("status %ld: %s", st, json_dumps(j, 0));
    /* HMA's answer for a photo: its PDQ alone */
    assert_string_equal(json_string_value(json_object_get(j, "pdq")), BRIDGE_PDQ);
    assert_int_equal(json_object_size(j), 1);
    json_decref(j);
    /* as a video: the digests of the bytes */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/img.jpg", S.origin_port);
    char *q = curl_easy_escape(NULL, url, 0);
    char path[512];
    snprintf(path, sizeof path, "/h/hash?url=%s&content_type=video", q);
    curl_free(q);
    j = get_json(path, &st);
    assert_int_equal(st, 200);
    char sha[65];
    sha256_hex(S.jpg, S.jpg_len, sha);
    assert_string_equal(json_string_value(json_object_get(j, "video_sha256")), sha);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "video_md5"))), 32);
    json_decref(j);

    snprintf(url, sizeof url, "http://localhost:%u/img.jpg", S.origin_port);
    expect_error(400, "host_not_allowed", url);
    expect_error(413, "too_large", "/big");
    expect_error(413, "too_large", "/big-chunked");
    double t0 = api_now_s();
    expect_error(400, "upstream_timeout", "/slow.jpg");
    assert_true(api_now_s() - t0 < SLOW_MS / 1000.0);
    expect_error(400, "upstream_error", "/missing");
    expect_error(400, "upstream_error", "/redirect");
    expect_error(400, "undecodable", "/text");
    /* Nothing listens on port 1: refused, not a private-address refusal. */
    expect_error(400, "upstream_error", "http://127.0.0.1:1/img.jpg");
    /* The server still serves after all of that. */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/img.jpg", S.origin_port);
    j = hash_url(url, &st);
    assert_int_equal(st, 200);
    json_decref(j);
    api_server_stop(&S.srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_disabled_by_default),
        cmocka_unit_test(test_private_refused),
        cmocka_unit_test(test_fetch_outcomes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
