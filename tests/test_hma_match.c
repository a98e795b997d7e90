/* HMA 1.1.7's hashing and matching routes (/h/hash, /m/lookup, /m/raw_lookup, /m/compare,
 * /m/index/status) against a real `takedown serve`: the requests and assertions of HMA's own
 * tests (test_match_api.py, test_hashing.py, test_api.py, test_e2e_workflow.py; each ported
 * case names its HMA test), with expectations from outside the server: PDQ hashes from the
 * conformance data and python-threatexchange's examples, distances by brute force in this
 * test, digests by OpenSSL, HMA's coin flip against values CPython computed, and the parsing of
 * multipart bodies on hand-made inputs. A small origin server in the test serves media for the
 * URL forms. */
#include <microhttpd.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/multipart.h"
#include "support/api_client.h"
#include "support/support.h"

#define BRIDGE_JPG "threatexchange/pdq/data/bridge-mods/aaa-orig.jpg"
#define BRIDGE_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
/* PIL reduces this 16-bit grey picture to quality 36 (conformance/README.md) */
#define LOW_QUALITY_PNG                                                                            \
    "threatexchange/python-threatexchange/threatexchange/tests/hashing/resources/I16.png"
#define VIDEO_MP4 "threatexchange/tmk/sample-videos/chair-19-sd-bar.mp4"
#define VIDEO_MD5 "0a21c8f85a55a9e276ffc2c53f6887c4" /* expected/md5_sample_videos.txt */
/* python-threatexchange's thirteenth and fourteenth PDQ examples, far from the bridge and from
 * each other (checked by pdq_distance where it matters), and an MD5 of no example */
#define PDQ_TWO "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064"
#define MD5_TWO "00112233445566778899aabbccddeeff"
#define PDQ_LOW "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"

/* python-threatexchange's PdqSignal.get_examples() and VideoMD5Signal.get_examples(). */
static const char *const PDQ_EXAMPLES[] = {
    "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
    "f8f8f0cee0f4a84f06370a2a038f63f0b36e26d596621e1d33e6b39c4e9c9b22",
    "f8f8f0cee0f4a84f0637022a038f67f0b36e26d596621e1d33e6b39c4e9c9b22",
    "f8f8f0cee0f4a84f06370a2a068f67f0b36e26d596621e1d33e6339c4e9c9b22",
    "f8f8f0cee0f4a84f06370a22038f67f0b36e2ed596221e1d33e6b39c4e9c9b22",
    "f8f8f0cee0f4a84f0e370a22038f67f0b36e2ed596221e1d33e6b39c4a9c9b22",
    "d8f8f0cec0f4a84f8e370a22038f67f0b36a2ed597231e1d72e6b39c4a9c9b22",
    "f8f8f0cee0f4a84f06370a22038f67f0b36e2ed596621e1d33e6339c4e9c9b22",
    "d0f8f1ccc0f4a84d0a370a3a228f67f0b36e2ed5b6623e1d33e6339c4e9c9b22",
    "d8f8f1eec0f4a84f0e37022a078f63f0b36e2ed596621e1d33e6239c4e9c9b22",
    "d8f8f0cec4f4a84f0637022a078f67f0b36e2ee5b6621e1d33e6239c4e9c9b22",
    "d8f8f0cec0f4a84f0637022a278f67f0b36e2ed596621e1d33e6339c4e9c9b22",
    "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064",
    "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d",
    "c186f9619659658c4b6916daf934496985f4259c72c39676ab9edb631c3c349c",
    "62c9789627838f69f23cf98c29e37836d61c87c31c59587c4b49a783f496725c",
};
#define N_PDQ (sizeof PDQ_EXAMPLES / sizeof PDQ_EXAMPLES[0])
static const char *const MD5_EXAMPLES[] = {"cab08b36195edb1a1231d2d09fa450e0",
                                           "d41d8cd98f00b204e9800998ecf8427e"};

static struct {
    char dir[4096];
    api_server srv;
    const char *key;
    struct MHD_Daemon *origin;
    unsigned origin_port;
    uint8_t *jpg, *mp4;
    size_t jpg_len, mp4_len;
} S;

/* ---- independent computations ---- */

static int hexval(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

/* Hamming distance of two PDQ hex strings, digit by digit. */
static int pdq_distance(const char *a, const char *b)
{
    int d = 0;
    for (int i = 0; i < 64; i++)
        d += __builtin_popcount((unsigned)(hexval(a[i]) ^ hexval(b[i])));
    return d;
}

static void digest_hex(const EVP_MD *md, const uint8_t *data, size_t len, char *out)
{
    unsigned char d[64];
    unsigned int n = 0;
    EVP_Digest(data, len, d, &n, md, NULL);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---- HTTP ---- */

static json_t *get(long expect, const char *path)
{
    return api_call(&S.srv, expect, "GET", path, S.key, NULL);
}

/* The {"message": ...} of an HMA error, which must contain says (when not NULL). */
static void expect_message(long expect, const char *method, const char *path, const char *ctype,
                           const void *body, long len, const char *says)
{
    api_request rq = {method, path, S.key, ctype, body, len, 0, NULL};
    api_resp r;
    long st = api_send(&S.srv, &rq, &r);
    json_t *j = api_parse_or_fail(method, path, &r);
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (st != expect || !msg || json_object_size(j) != 1 || (says && !strstr(msg, says)))
        fail_msg("%s %s: %ld %s, expected %ld with \"%s\"", method, path, st, r.body, expect,
                 says ? says : "");
    json_decref(j);
    api_resp_free(&r);
}

/* HMA's 422 for a request its pydantic model refuses: [{"type", "loc": [name], "msg"}]. */
static void expect_422(const char *path, const char *type, const char *loc)
{
    api_resp r;
    long st = api_http(&S.srv, "GET", path, S.key, NULL, &r);
    json_t *j = api_parse_or_fail("GET", path, &r);
    json_t *e = json_array_get(j, 0);
    if (st != 422 || json_array_size(j) != 1 || strcmp(api_jstr(e, "type"), type) != 0 ||
        strcmp(json_string_value(json_array_get(json_object_get(e, "loc"), 0)), loc) != 0 ||
        !json_is_string(json_object_get(e, "msg")))
        fail_msg("GET %s: %ld %s", path, st, r.body);
    json_decref(j);
    api_resp_free(&r);
}

static void create_bank(const char *name)
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\": \"%s\"}", name);
    json_t *j = api_call(&S.srv, 201, "POST", "/c/banks", S.key, body);
    assert_string_equal(api_jstr(j, "name"), name);
    json_decref(j);
}

static void delete_bank(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/c/bank/%s", name);
    json_decref(api_call(&S.srv, 200, "DELETE", path, S.key, NULL));
}

static void set_ratio(const char *bank, double ratio)
{
    char path[128], body[128];
    snprintf(path, sizeof path, "/c/bank/%s", bank);
    snprintf(body, sizeof body, "{\"enabled_ratio\": %.17g}", ratio);
    json_decref(api_call(&S.srv, 200, "PUT", path, S.key, body));
    json_t *j = get(200, path);
    assert_true(json_real_value(json_object_get(j, "matching_enabled_ratio")) == ratio);
    json_decref(j);
}

/* HMA's "add a signal" ({type: value}); returns the bank content id. */
static json_int_t add_signal(const char *bank, const char *type, const char *value)
{
    char path[128], body[256];
    snprintf(path, sizeof path, "/c/bank/%s/signal", bank);
    snprintf(body, sizeof body, "{\"%s\": \"%s\"}", type, value);
    json_t *j = api_call(&S.srv, 200, "POST", path, S.key, body);
    json_int_t id = api_jint(j, "id");
    json_decref(j);
    return id;
}

static void set_content_enabled(const char *bank, json_int_t id, int enabled)
{
    char path[128];
    snprintf(path, sizeof path, "/c/bank/%s/content/%lld", bank, (long long)id);
    /* HMA's disable_until_ts: 1 enabled, 0 disabled */
    json_decref(api_call(&S.srv, 200, "PUT", path, S.key,
                         enabled ? "{\"disable_until_ts\": 1}" : "{\"disable_until_ts\": 0}"));
}

/* ---- multipart bodies ---- */

typedef struct mp {
    char *b;
    size_t len, cap;
} mp;

static void mp_add(mp *m, const void *p, size_t n)
{
    if (m->len + n + 1 > m->cap) {
        m->cap = (m->len + n + 1) * 2;
        m->b = realloc(m->b, m->cap);
        assert_non_null(m->b);
    }
    memcpy(m->b + m->len, p, n);
    m->len += n;
    m->b[m->len] = '\0';
}

static void mp_str(mp *m, const char *s) { mp_add(m, s, strlen(s)); }

#define BOUNDARY "----takedown-test-7d3a"

/* One part: a file when filename is not NULL, else a plain field. */
static void mp_part(mp *m, const char *name, const char *filename, const void *data, size_t len)
{
    char h[512];
    if (filename)
        snprintf(h, sizeof h,
                 "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\""
                 "\r\nContent-Type: application/octet-stream\r\n\r\n",
                 name, filename);
    else
        snprintf(h, sizeof h,
                 "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n", name);
    mp_str(m, h);
    mp_add(m, data, len);
    mp_str(m, "\r\n");
}

static void mp_end(mp *m) { mp_str(m, "--" BOUNDARY "--\r\n"); }

#define MP_TYPE "multipart/form-data; boundary=" BOUNDARY

/* POST of a multipart body that must answer expect; the parsed body. */
static json_t *post_mp(long expect, const char *path, const mp *m)
{
    api_request rq = {"POST", path, S.key, MP_TYPE, m->b, (long)m->len, 0, NULL};
    return api_call_req(&S.srv, expect, &rq);
}

/* One file in field `field`. */
static json_t *post_file(long expect, const char *path, const char *field, const void *data,
                         size_t len)
{
    mp m = {0};
    mp_part(&m, field, "upload.bin", data, len);
    mp_end(&m);
    json_t *j = post_mp(expect, path, &m);
    free(m.b);
    return j;
}

/* ---- the origin ---- */

static enum MHD_Result on_origin(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **ctx)
{
    (void)cls, (void)method, (void)version, (void)data, (void)size;
    static int first;
    if (*ctx == NULL) {
        *ctx = &first;
        return MHD_YES;
    }
    struct MHD_Response *r;
    unsigned status = 200;
    if (strcmp(url, "/image1.jpg") == 0)
        r = MHD_create_response_from_buffer(S.jpg_len, S.jpg, MHD_RESPMEM_PERSISTENT);
    else if (strcmp(url, "/video.mp4") == 0)
        r = MHD_create_response_from_buffer(S.mp4_len, S.mp4, MHD_RESPMEM_PERSISTENT);
    else if (strcmp(url, "/text") == 0)
        r = MHD_create_response_from_buffer(5, (void *)"hello", MHD_RESPMEM_PERSISTENT);
    else {
        status = 404;
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (api_group_init(S.dir, sizeof S.dir, "hma-match-data") != 0)
        return -1;
    S.jpg = read_all(conf_path(BRIDGE_JPG), &S.jpg_len);
    S.mp4 = read_all(conf_path(VIDEO_MP4), &S.mp4_len);
    S.origin = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                NULL, NULL, on_origin, NULL, MHD_OPTION_END);
    if (!S.origin)
        return -1;
    S.origin_port = MHD_get_daemon_info(S.origin, MHD_DAEMON_INFO_BIND_PORT)->port;
    static const char *const flags[] = {
        "--fetch-enabled", "1", "--fetch-allow", "127.0.0.1", "--fetch-allow-private", "1", NULL};
    api_server_start(&S.srv, S.dir, flags);
    S.key = S.srv.admin;
    return strncmp(S.key, "tdk_", 4) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    if (S.origin)
        MHD_stop_daemon(S.origin);
    free(S.jpg);
    free(S.mp4);
    return 0;
}

/* ---- the multipart parser alone ---- */

static void test_multipart_parser(void **state)
{
    (void)state;
    char bd[71], why[TD__MPART_WHY_MAX];
    td__mpart parts[TD__MPART_MAX];
    size_t n = 0;
    assert_true(td__multipart_boundary("multipart/form-data; boundary=abc", bd));
    assert_string_equal(bd, "abc");
    assert_true(
        td__multipart_boundary("Multipart/Form-Data;charset=utf-8; boundary=\"a b;c\"", bd));
    assert_string_equal(bd, "a b;c");
    assert_false(td__multipart_boundary("multipart/mixed; boundary=abc", bd));
    assert_false(td__multipart_boundary("multipart/form-data", bd));
    assert_false(td__multipart_boundary("multipart/form-data; boundary=", bd));
    assert_false(td__multipart_boundary("application/json", bd));
    assert_false(td__multipart_boundary(NULL, bd));
    /* a preamble, a file with CRLF inside its content, a field, an epilogue */
    static const char body[] =
        "preamble\r\n--XY\r\n"
        "Content-Disposition: form-data; name=\"photo\"; filename=\"a \\\"q\\\".jpg\"\r\n"
        "Content-Type: image/jpeg\r\n\r\n"
        "ab\r\n--X\r\ncd\r\n"
        "--XY\r\ncontent-disposition: form-data; name=note\r\n\r\n"
        "\r\n--XY--\r\nepilogue";
    assert_int_equal(
        td__multipart_parse("XY", (const uint8_t *)body, sizeof body - 1, parts, &n, why), 0);
    assert_int_equal(n, 2);
    assert_string_equal(parts[0].name, "photo");
    assert_true(parts[0].is_file);
    assert_string_equal(parts[0].filename, "a \"q\".jpg");
    assert_int_equal(parts[0].len, 11);
    assert_memory_equal(parts[0].data, "ab\r\n--X\r\ncd", 11);
    assert_string_equal(parts[1].name, "note");
    assert_false(parts[1].is_file);
    assert_int_equal(parts[1].len, 0);
    /* malformed: each refused with a reason */
    static const char *const bad[] = {
        "no boundary at all",
        "--XY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nbody without end",
        "--XY\r\nContent-Type: text/plain\r\n\r\nx\r\n--XY--",
        "--XY\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XY--",
        "--XY\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XY--",
        "--XY\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\nx\r\n--XY--",
        "--XY\r\nbroken header line\r\n\r\nx\r\n--XY--",
        "--XYjunk\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--XY--",
        "--XY\r\nContent-Disposition: form-data; name=\"a\"\r\nheaders without end",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (td__multipart_parse("XY", (const uint8_t *)bad[i], strlen(bad[i]), parts, &n, why) !=
            -1)
            fail_msg("accepted: %s", bad[i]);
        assert_true(why[0] != '\0');
    }
    /* 17 parts: over the limit */
    mp m = {0};
    for (int i = 0; i < 17; i++)
        mp_str(&m, "--XY\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n");
    mp_str(&m, "--XY--\r\n");
    assert_int_equal(td__multipart_parse("XY", (const uint8_t *)m.b, m.len, parts, &n, why), -1);
    assert_non_null(strstr(why, "16"));
    /* every truncation of a valid body is refused, none read past the end */
    for (size_t cut = 0; cut < sizeof body - 1 - strlen("\r\nepilogue"); cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, body, cut);
        int rc = td__multipart_parse("XY", copy, cut, parts, &n, why);
        free(copy);
        if (rc == 0 && cut < sizeof body - 1 - strlen("\r\nepilogue"))
            fail_msg("a body cut at %zu accepted", cut);
    }
    free(m.b);
}

/* ---- /m/raw_lookup and /m/lookup ---- */

/* HMA test_match_api.py: test_raw_lookups, test_lookups (the SAMPLE exchange's examples). */
static void test_raw_lookups_and_lookups(void **state)
{
    (void)state;
    create_bank("SAMPLE");
    json_int_t pdq_ids[N_PDQ], md5_ids[2];
    for (size_t i = 0; i < N_PDQ; i++)
        pdq_ids[i] = add_signal("SAMPLE", "pdq", PDQ_EXAMPLES[i]);
    for (size_t i = 0; i < 2; i++)
        md5_ids[i] = add_signal("SAMPLE", "video_md5", MD5_EXAMPLES[i]);
    /* pdq: the first example; the matches are the examples within 31 bits (brute force) */
    char path[512];
    snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=pdq", PDQ_EXAMPLES[0]);
    json_t *j = get(200, path);
    json_t *matches = json_object_get(j, "matches");
    size_t want = 0;
    for (size_t i = 0; i < N_PDQ; i++)
        want += pdq_distance(PDQ_EXAMPLES[0], PDQ_EXAMPLES[i]) <= 31;
    assert_true(want >= 1);
    assert_int_equal(json_array_size(matches), want);
    json_decref(j);
    /* with distance (HMA's test sends include_distance=True) */
    snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=pdq&include_distance=True",
             PDQ_EXAMPLES[0]);
    j = get(200, path);
    matches = json_object_get(j, "matches");
    assert_int_equal(json_array_size(matches), want);
    size_t seen = 0;
    for (size_t i = 0; i < N_PDQ; i++) {
        int d = pdq_distance(PDQ_EXAMPLES[0], PDQ_EXAMPLES[i]);
        if (d > 31)
            continue;
        for (size_t k = 0; k < json_array_size(matches); k++) {
            json_t *m = json_array_get(matches, k);
            if (api_jint(m, "bank_content_id") != pdq_ids[i])
                continue;
            char ds[16];
            snprintf(ds, sizeof ds, "%d", d);
            assert_string_equal(api_jstr(m, "distance"), ds);
            seen++;
        }
    }
    assert_int_equal(seen, want);
    json_decref(j);
    /* video_md5: exact, its distance "-" */
    snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=video_md5&include_distance=1",
             MD5_EXAMPLES[0]);
    j = get(200, path);
    matches = json_object_get(j, "matches");
    assert_int_equal(json_array_size(matches), 1);
    assert_int_equal(api_jint(json_array_get(matches, 0), "bank_content_id"), md5_ids[0]);
    assert_string_equal(api_jstr(json_array_get(matches, 0), "distance"), "-");
    json_decref(j);
    snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=video_md5", MD5_EXAMPLES[1]);
    j = get(200, path);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "matches"), 0)),
                     md5_ids[1]);
    json_decref(j);

    /* test_lookups: one bank, SAMPLE, with the matches */
    snprintf(path, sizeof path, "/m/lookup?signal=%s&signal_type=pdq", PDQ_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_object_size(j), 1);
    json_t *list = json_object_get(j, "SAMPLE");
    assert_int_equal(json_array_size(list), want);
    for (size_t k = 0; k < json_array_size(list); k++) {
        assert_non_null(json_object_get(json_array_get(list, k), "bank_content_id"));
        assert_true(json_is_string(json_object_get(json_array_get(list, k), "distance")));
    }
    json_decref(j);
    snprintf(path, sizeof path, "/m/lookup?signal=%s&signal_type=video_md5", MD5_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_object_size(j), 1);
    assert_int_equal(json_array_size(json_object_get(j, "SAMPLE")), 1);
    json_decref(j);

    /* raw_lookup sees disabled content (HMA: "enable/disable status is NOT checked"); lookup
     * does not */
    set_content_enabled("SAMPLE", md5_ids[0], 0);
    snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=video_md5", MD5_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_array_size(json_object_get(j, "matches")), 1);
    json_decref(j);
    snprintf(path, sizeof path, "/m/lookup?signal=%s&signal_type=video_md5", MD5_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    set_content_enabled("SAMPLE", pdq_ids[0], 0);
    snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=pdq", PDQ_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_array_size(json_object_get(j, "matches")), want);
    json_decref(j);
    snprintf(path, sizeof path, "/m/lookup?signal=%s&signal_type=pdq", PDQ_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_array_size(json_object_get(j, "SAMPLE")), want - 1);
    json_decref(j);
    /* signals switched off by takedown's own route leave the live indexes: raw_lookup reads them
     * from the store, with their distances */
    char sp[128];
    snprintf(sp, sizeof sp, "/v1/banks/SAMPLE/signals/%lld", (long long)pdq_ids[2]);
    json_decref(api_call(&S.srv, 200, "PATCH", sp, S.key, "{\"enabled\": false}"));
    snprintf(sp, sizeof sp, "/v1/banks/SAMPLE/signals/%lld", (long long)md5_ids[1]);
    json_decref(api_call(&S.srv, 200, "PATCH", sp, S.key, "{\"enabled\": false}"));
    snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=pdq&include_distance=on",
             PDQ_EXAMPLES[0]);
    j = get(200, path);
    matches = json_object_get(j, "matches");
    assert_int_equal(json_array_size(matches), want);
    int found = 0;
    for (size_t k = 0; k < json_array_size(matches); k++) {
        json_t *m = json_array_get(matches, k);
        if (api_jint(m, "bank_content_id") != pdq_ids[2])
            continue;
        char ds[16];
        snprintf(ds, sizeof ds, "%d", pdq_distance(PDQ_EXAMPLES[0], PDQ_EXAMPLES[2]));
        assert_string_equal(api_jstr(m, "distance"), ds);
        found = 1;
    }
    assert_int_equal(found, pdq_distance(PDQ_EXAMPLES[0], PDQ_EXAMPLES[2]) <= 31);
    json_decref(j);
    snprintf(path, sizeof path, "/m/lookup?signal=%s&signal_type=pdq", PDQ_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_array_size(json_object_get(j, "SAMPLE")), want - 1 - (size_t)found);
    json_decref(j);
    snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=video_md5", MD5_EXAMPLES[1]);
    j = get(200, path);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "matches"), 0)),
                     md5_ids[1]);
    json_decref(j);
    snprintf(path, sizeof path, "/m/lookup?signal=%s&signal_type=video_md5", MD5_EXAMPLES[1]);
    j = get(200, path);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    delete_bank("SAMPLE");
}

/* HMA test_match_api.py: client_with_multi_bank_data, test_raw_lookup_with_bank_filter,
 * test_raw_lookup_with_distance_and_bank_filter, test_lookup_with_bank_filter. */
static void test_bank_filters(void **state)
{
    (void)state;
    const char *banks[] = {"BANK_A", "BANK_B", "BANK_C"};
    for (int i = 0; i < 3; i++) {
        create_bank(banks[i]);
        add_signal(banks[i], "pdq", PDQ_EXAMPLES[0]);
    }
    static const struct {
        const char *filter;
        size_t count;
    } cases[] = {{NULL, 3}, {"BANK_A", 1}, {"BANK_A,BANK_B", 2}, {"NON_EXISTENT_BANK", 0}};
    char path[512];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=pdq%s%s", PDQ_EXAMPLES[0],
                 cases[c].filter ? "&banks=" : "", cases[c].filter ? cases[c].filter : "");
        json_t *j = get(200, path);
        assert_int_equal(json_array_size(json_object_get(j, "matches")), cases[c].count);
        json_decref(j);
    }
    snprintf(path, sizeof path,
             "/m/raw_lookup?signal=%s&signal_type=pdq&include_distance=true&banks=BANK_A,BANK_B",
             PDQ_EXAMPLES[0]);
    json_t *j = get(200, path);
    json_t *m = json_object_get(j, "matches");
    assert_int_equal(json_array_size(m), 2);
    for (size_t k = 0; k < 2; k++) {
        assert_non_null(json_object_get(json_array_get(m, k), "bank_content_id"));
        assert_string_equal(api_jstr(json_array_get(m, k), "distance"), "0");
    }
    json_decref(j);
    static const struct {
        const char *filter;
        const char *present, *absent;
        size_t count;
    } lk[] = {{NULL, "BANK_A BANK_B BANK_C", "", 3},
              {"BANK_A", "BANK_A", "BANK_B BANK_C", 1},
              {"BANK_A,BANK_C", "BANK_A BANK_C", "BANK_B", 2},
              {"NON_EXISTENT_BANK", "", "BANK_A BANK_B BANK_C", 0}};
    for (size_t c = 0; c < sizeof lk / sizeof lk[0]; c++) {
        snprintf(path, sizeof path, "/m/lookup?signal=%s&signal_type=pdq%s%s", PDQ_EXAMPLES[0],
                 lk[c].filter ? "&banks=" : "", lk[c].filter ? lk[c].filter : "");
        j = get(200, path);
        assert_int_equal(json_object_size(j), lk[c].count);
        for (int i = 0; i < 3; i++) {
            if (strstr(lk[c].present, banks[i]))
                assert_true(json_array_size(json_object_get(j, banks[i])) > 0);
            if (strstr(lk[c].absent, banks[i]))
                assert_null(json_object_get(j, banks[i]));
        }
        json_decref(j);
    }
    /* a bank of ratio 0: raw_lookup still answers it; lookup not, unless the coin is bypassed */
    set_ratio("BANK_B", 0.0);
    snprintf(path, sizeof path, "/m/raw_lookup?signal=%s&signal_type=pdq", PDQ_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_array_size(json_object_get(j, "matches")), 3);
    json_decref(j);
    snprintf(path, sizeof path, "/m/lookup?signal=%s&signal_type=pdq", PDQ_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_object_size(j), 2);
    assert_null(json_object_get(j, "BANK_B"));
    json_decref(j);
    snprintf(path, sizeof path, "/m/lookup?signal=%s&signal_type=pdq&bypass_coinflip=yes",
             PDQ_EXAMPLES[0]);
    j = get(200, path);
    assert_int_equal(json_object_size(j), 3);
    json_decref(j);
    for (int i = 0; i < 3; i++)
        delete_bank(banks[i]);
}

/* HMA test_e2e_workflow.py: test_add_hashes_and_find_match. */
static void test_add_hashes_and_find_match(void **state)
{
    (void)state;
    create_bank("TEST_BANK");
    json_int_t last = 0;
    for (size_t i = 0; i < N_PDQ; i++)
        last = add_signal("TEST_BANK", "pdq", PDQ_EXAMPLES[i]);
    json_t *j = get(200, "/m/index/status?signal_type=pdq");
    assert_int_equal(json_object_size(j), 1);
    json_t *pdq = json_object_get(j, "pdq");
    assert_true(json_is_true(json_object_get(pdq, "present")));
    assert_int_equal(api_jint(pdq, "size"), N_PDQ);
    assert_true(api_jint(pdq, "built_to") > 1700000000);
    json_decref(j);
    /* the last example is more than 31 bits from every other one (checked here) */
    for (size_t i = 0; i + 1 < N_PDQ; i++)
        assert_true(pdq_distance(PDQ_EXAMPLES[i], PDQ_EXAMPLES[N_PDQ - 1]) > 31);
    char path[512], expect[256];
    snprintf(path, sizeof path, "/m/lookup?signal_type=pdq&signal=%s", PDQ_EXAMPLES[N_PDQ - 1]);
    j = get(200, path);
    snprintf(expect, sizeof expect,
             "{\"TEST_BANK\": [{\"bank_content_id\": %lld, \"distance\": \"0\"}]}",
             (long long)last);
    json_t *e = json_loads(expect, 0, NULL);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    j = get(200, "/m/lookup?signal_type=pdq&signal="
                 "5555555555555555555555555555555555555555555555555555555555555555");
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    /* every signal type, and an unknown one */
    j = get(200, "/m/index/status");
    assert_non_null(json_object_get(j, "pdq"));
    assert_non_null(json_object_get(j, "video_md5"));
    json_decref(j);
    expect_message(400, "GET", "/m/index/status?signal_type=nope", NULL, NULL, 0,
                   "No such signal type 'nope'");
    delete_bank("TEST_BANK");
}

/* HMA's coin flip: random.Random(seed).random() per lookup, a bank taking part when its
 * matching_enabled_ratio >= the flip. The values: CPython 3.11,
 *   python3 -c "import random; print(random.Random('content-0').random())"  (and so on). */
static void test_coinflip(void **state)
{
    (void)state;
    static const struct {
        const char *seed;
        double value;
    } seeds[] = {
        {"content-0", 0.25630982259289536},  {"content-1", 0.07925192725878893},
        {"content-2", 0.1317568310890357},   {"content-3", 0.15006707928755636},
        {"content-4", 0.6472793371252513},   {"content-5", 0.5180197491838722},
        {"content-6", 0.34434088057655354},  {"content-7", 0.6295572939045945},
        {"content-8", 0.5593797492340328},   {"content-9", 0.28806801880282296},
        {"content-10", 0.864117050775398},   {"content-11", 0.44531735616797996},
        {"content-12", 0.08682868920574516}, {"content-13", 0.010123037601139862},
        {"content-14", 0.796240705725645},   {"content-15", 0.6287106571364257},
    };
    create_bank("HALF");
    create_bank("ALWAYS");
    add_signal("HALF", "pdq", PDQ_EXAMPLES[13]);
    add_signal("ALWAYS", "pdq", PDQ_EXAMPLES[13]);
    set_ratio("HALF", 0.5);
    char path[512];
    /* a seed decides, the same way every time, as CPython's generator does */
    int in = 0, out = 0;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        for (int rep = 0; rep < 2; rep++) {
            snprintf(path, sizeof path, "/m/lookup?signal_type=pdq&signal=%s&seed=%s",
                     PDQ_EXAMPLES[13], seeds[i].seed);
            json_t *j = get(200, path);
            assert_non_null(json_object_get(j, "ALWAYS"));
            int has = json_object_get(j, "HALF") != NULL;
            if (has != (0.5 >= seeds[i].value))
                fail_msg("seed %s (%.17g): HALF %s", seeds[i].seed, seeds[i].value,
                         has ? "in" : "out");
            json_decref(j);
            if (rep == 0)
                has ? in++ : out++;
        }
    }
    assert_true(in > 0 && out > 0);
    /* a ratio between two seeds' values moves the one between them only */
    set_ratio("HALF", 0.3);
    snprintf(path, sizeof path, "/m/lookup?signal_type=pdq&signal=%s&seed=content-9",
             PDQ_EXAMPLES[13]); /* 0.288 <= 0.3 */
    json_t *j = get(200, path);
    assert_non_null(json_object_get(j, "HALF"));
    json_decref(j);
    snprintf(path, sizeof path, "/m/lookup?signal_type=pdq&signal=%s&seed=content-6",
             PDQ_EXAMPLES[13]); /* 0.344 > 0.3 */
    j = get(200, path);
    assert_null(json_object_get(j, "HALF"));
    json_decref(j);
    /* bypassed: every bank, whatever the seed */
    snprintf(path, sizeof path,
             "/m/lookup?signal_type=pdq&signal=%s&seed=content-10&bypass_coinflip=true",
             PDQ_EXAMPLES[13]);
    j = get(200, path);
    assert_non_null(json_object_get(j, "HALF"));
    json_decref(j);
    /* without a seed, a fresh flip each time: about 30% of 400 lookups, within 5 standard
     * deviations (sqrt(400 * 0.3 * 0.7) = 9.2) */
    int count = 0;
    snprintf(path, sizeof path, "/m/lookup?signal_type=pdq&signal=%s", PDQ_EXAMPLES[13]);
    for (int i = 0; i < 400; i++) {
        j = get(200, path);
        count += json_object_get(j, "HALF") != NULL;
        assert_non_null(json_object_get(j, "ALWAYS"));
        json_decref(j);
    }
    if (count < 120 - 46 || count > 120 + 46)
        fail_msg("ratio 0.3: %d of 400 lookups took part", count);
    delete_bank("HALF");
    delete_bank("ALWAYS");
}

/* ---- /m/compare ---- */

/* HMA test_api.py: test_compare_hashes. */
static void test_compare_hashes(void **state)
{
    (void)state;
    const char *s1 = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318";
    const char *s2 = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318";
    assert_int_equal(pdq_distance(s1, s2), 9);
    char body[512];
    snprintf(body, sizeof body, "{\"pdq\": [\"%s\", \"%s\"]}", s1, s2);
    json_t *j = api_call(&S.srv, 200, "POST", "/m/compare", S.key, body);
    json_t *e = json_loads("{\"pdq\": [true, {\"distance\": 9}]}", 0, NULL);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    /* far apart: no match, the distance by brute force */
    snprintf(body, sizeof body, "{\"pdq\": [\"%s\", \"%s\"]}", PDQ_EXAMPLES[0], PDQ_EXAMPLES[15]);
    j = api_call(&S.srv, 200, "POST", "/m/compare", S.key, body);
    json_t *pair = json_object_get(j, "pdq");
    assert_true(json_is_false(json_array_get(pair, 0)));
    assert_int_equal(api_jint(json_array_get(pair, 1), "distance"),
                     pdq_distance(PDQ_EXAMPLES[0], PDQ_EXAMPLES[15]));
    json_decref(j);
    /* exact types: match or not, no distance (HMA prints "-" for them); MD5 digits are
     * stripped and lower-cased as python-threatexchange does */
    j = api_call(&S.srv, 200, "POST", "/m/compare", S.key,
                 "{\"video_md5\": [\" CAB08B36195EDB1A1231D2D09FA450E0\", "
                 "\"cab08b36195edb1a1231d2d09fa450e0\"], \"video_sha256\": [\"" BRIDGE_PDQ
                 "\", \"" BRIDGE_PDQ "\"], \"pdq\": [\"" BRIDGE_PDQ "\", \"" BRIDGE_PDQ "\"]}");
    e = json_loads("{\"video_md5\": [true, {\"distance\": \"-\"}], "
                   "\"video_sha256\": [true, {\"distance\": \"-\"}], "
                   "\"pdq\": [true, {\"distance\": 0}]}",
                   0, NULL);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    j = api_call(&S.srv, 200, "POST", "/m/compare", S.key,
                 "{\"video_md5\": [\"cab08b36195edb1a1231d2d09fa450e0\", "
                 "\"d41d8cd98f00b204e9800998ecf8427e\"]}");
    assert_true(json_is_false(json_array_get(json_object_get(j, "video_md5"), 0)));
    json_decref(j);
    j = api_call(&S.srv, 200, "POST", "/m/compare", S.key, "{}");
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    /* HMA's malformed inputs, each a 400 with its message */
    char three[512];
    snprintf(three, sizeof three, "{\"pdq\": [\"%s\", \"%s\", \"%s\"]}", s1, s2, s1);
    static const char *const says[] = {"was not a dict", "was not a list", "exactly 2",
                                       "Invalid pdq hash", "exactly 2"};
    const char *bad[] = {"[\"banana\"]", "{\"pdq\": \"banana\"}", "{\"pdq\": []}",
                         "{\"pdq\": [\"banana\", \"banana\"]}", three};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_message(400, "POST", "/m/compare", "application/json", bad[i], -1, says[i]);
    /* an upper-case PDQ is not one to python-threatexchange; an unknown type */
    snprintf(body, sizeof body, "{\"pdq\": [\"%s\", \"%s\"]}",
             "FACD8BCB2A49BCEBDEC1985298D5FE84BCD006C187C598C720C3C087B3FDB318", s2);
    expect_message(400, "POST", "/m/compare", "application/json", body, -1, "Invalid pdq hash");
    expect_message(400, "POST", "/m/compare", "application/json", "{\"nope\": [\"a\", \"b\"]}", -1,
                   "No such SignalType 'nope'");
    expect_message(400, "POST", "/m/compare", "application/json", "{\"pdq\": [1, 2]}", -1,
                   "Invalid pdq hash");
    expect_message(400, "POST", "/m/compare?x=1", "application/json", "{}", -1, "'x'");
}

/* ---- hashing ---- */

/* HMA test_hashing.py and test_api.py (test_lookup_success): POST /h/hash and /m/lookup with
 * an uploaded file, GET with a URL. */
static void test_hash_and_lookup_media(void **state)
{
    (void)state;
    char md5[33], sha[65], path[512];
    digest_hex(EVP_md5(), S.jpg, S.jpg_len, md5);
    digest_hex(EVP_sha256(), S.jpg, S.jpg_len, sha);
    /* a photo: its PDQ, the conformance value */
    json_t *j = post_file(200, "/h/hash", "photo", S.jpg, S.jpg_len);
    json_t *e = json_pack("{s:s}", "pdq", BRIDGE_PDQ);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    /* "It's not really a video, but MD5 is simple that we can fake it": the bytes' digests */
    j = post_file(200, "/h/hash", "video", S.jpg, S.jpg_len);
    e = json_pack("{s:s,s:s}", "video_md5", md5, "video_sha256", sha);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    j = post_file(200, "/h/hash?types=video_md5", "video", S.jpg, S.jpg_len);
    e = json_pack("{s:s}", "video_md5", md5);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    /* a real video: the MD5 the conformance data lists */
    j = post_file(200, "/h/hash", "video", S.mp4, S.mp4_len);
    assert_string_equal(api_jstr(j, "video_md5"), VIDEO_MD5);
    json_decref(j);
    /* a photo of quality below 50: python-threatexchange's PDQ is "" */
    size_t low_len = 0;
    uint8_t *low = read_all(conf_path(LOW_QUALITY_PNG), &low_len);
    j = post_file(200, "/h/hash", "photo", low, low_len);
    assert_string_equal(api_jstr(j, "pdq"), "");
    json_decref(j);
    /* refusals, with HMA's messages */
    mp m = {0};
    mp_part(&m, "photo", "a.jpg", S.jpg, S.jpg_len);
    mp_part(&m, "video", "b.mp4", S.jpg, 10);
    mp_end(&m);
    json_decref(post_mp(400, "/h/hash", &m));
    expect_message(400, "POST", "/h/hash", MP_TYPE, m.b, (long)m.len,
                   "Only one file allowed per request");
    free(m.b);
    memset(&m, 0, sizeof m);
    mp_part(&m, "photo", "a.jpg", S.jpg, S.jpg_len);
    mp_part(&m, "note", NULL, "hello", 5);
    mp_end(&m);
    expect_message(400, "POST", "/h/hash", MP_TYPE, m.b, (long)m.len, "'note'");
    free(m.b);
    memset(&m, 0, sizeof m);
    mp_part(&m, "file", "a.jpg", S.jpg, S.jpg_len);
    mp_end(&m);
    expect_message(400, "POST", "/h/hash", MP_TYPE, m.b, (long)m.len,
                   "no such content_type: 'file'");
    expect_message(400, "POST", "/h/hash?types=pdq", MP_TYPE, m.b, (long)m.len, NULL);
    free(m.b);
    memset(&m, 0, sizeof m);
    mp_part(&m, "video", "a.jpg", S.jpg, S.jpg_len);
    mp_end(&m);
    expect_message(400, "POST", "/h/hash?types=pdq", MP_TYPE, m.b, (long)m.len,
                   "signal type 'pdq' doesn't exist or is disabled");
    expect_message(400, "POST", "/h/hash?types=,", MP_TYPE, m.b, (long)m.len,
                   "empty signal type selection");
    expect_message(400, "POST", "/h/hash?content_type=video", MP_TYPE, m.b, (long)m.len,
                   "'content_type'");
    free(m.b);
    expect_message(400, "POST", "/h/hash", "application/json", "{}", -1,
                   "Missing multipart/form-data file upload");
    expect_message(400, "POST", "/h/hash", MP_TYPE, "--" BOUNDARY "--\r\n", -1,
                   "Missing multipart/form-data file upload");
    expect_message(400, "POST", "/h/hash", "multipart/form-data; boundary=zz",
                   "--zz\r\nContent-Disposition: form-data; name=\"photo\"\r\n", -1, "malformed");
    expect_message(400, "POST", "/h/hash", NULL, NULL, 0, "Missing multipart/form-data");
    j = post_file(400, "/h/hash", "photo", "not a picture", 13);
    json_decref(j);

    /* lookups of an uploaded file: {signal type: {bank: [...]}} */
    create_bank("MEDIA");
    json_int_t pdq_id = add_signal("MEDIA", "pdq", BRIDGE_PDQ);
    json_int_t md5_id = add_signal("MEDIA", "video_md5", md5);
    j = post_file(200, "/m/lookup", "photo", S.jpg, S.jpg_len);
    char expect[512];
    snprintf(expect, sizeof expect,
             "{\"pdq\": {\"MEDIA\": [{\"bank_content_id\": %lld, \"distance\": \"0\"}]}}",
             (long long)pdq_id);
    e = json_loads(expect, 0, NULL);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    j = post_file(200, "/m/lookup?bypass_coinflip=true&banks=MEDIA&seed=x", "video", S.jpg,
                  S.jpg_len);
    snprintf(expect, sizeof expect,
             "{\"video_md5\": {\"MEDIA\": [{\"bank_content_id\": %lld, \"distance\": \"-\"}]},"
             " \"video_sha256\": {}}",
             (long long)md5_id);
    e = json_loads(expect, 0, NULL);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    j = post_file(200, "/m/lookup?banks=OTHER", "photo", S.jpg, S.jpg_len);
    e = json_loads("{\"pdq\": {}}", 0, NULL);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    j = post_file(200, "/m/lookup", "photo", low, low_len); /* no PDQ: nothing to match */
    e = json_loads("{\"pdq\": {}}", 0, NULL);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    free(low);
    memset(&m, 0, sizeof m);
    mp_part(&m, "photo", "a.jpg", S.jpg, S.jpg_len);
    mp_end(&m);
    expect_message(400, "POST", "/m/lookup?bypass_coinflip=1", MP_TYPE, m.b, (long)m.len,
                   "'bypass_coinflip'");
    expect_message(400, "POST", "/m/lookup?signal=x", MP_TYPE, m.b, (long)m.len, "'signal'");
    free(m.b);

    /* by URL (the origin in this test): GET /h/hash and GET /m/lookup */
    snprintf(path, sizeof path, "/h/hash?url=http://127.0.0.1:%u/image1.jpg", S.origin_port);
    j = get(200, path);
    e = json_pack("{s:s}", "pdq", BRIDGE_PDQ);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    snprintf(path, sizeof path, "/h/hash?url=http://127.0.0.1:%u/image1.jpg&content_type=video",
             S.origin_port);
    j = get(200, path);
    assert_string_equal(api_jstr(j, "video_md5"), md5);
    json_decref(j);
    snprintf(path, sizeof path, "/h/hash?url=http://127.0.0.1:%u/video.mp4&types=video_md5",
             S.origin_port);
    j = get(200, path);
    e = json_pack("{s:s}", "video_md5", VIDEO_MD5);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    snprintf(path, sizeof path, "/h/hash?url=http://127.0.0.1:%u/text", S.origin_port);
    expect_message(400, "GET", path, NULL, NULL, 0, "unsupported url ContentType");
    snprintf(path, sizeof path, "/h/hash?url=http://127.0.0.1:%u/image1.jpg&content_type=gif",
             S.origin_port);
    expect_message(400, "GET", path, NULL, NULL, 0, "no such content_type: 'gif'");
    snprintf(path, sizeof path, "/h/hash?url=http://127.0.0.1:%u/missing.jpg", S.origin_port);
    expect_message(400, "GET", path, NULL, NULL, 0, "Failed to fetch URL");
    expect_message(400, "GET", "/h/hash?url=ftp://127.0.0.1/x", NULL, NULL, 0,
                   "Invalid or unsafe URL provided");
    expect_message(400, "GET", "/h/hash?url=", NULL, NULL, 0, "Invalid or unsafe URL provided");
    expect_422("/h/hash", "missing", "url");
    snprintf(path, sizeof path, "/m/lookup?url=http://127.0.0.1:%u/image1.jpg", S.origin_port);
    j = get(200, path);
    snprintf(expect, sizeof expect,
             "{\"pdq\": {\"MEDIA\": [{\"bank_content_id\": %lld, \"distance\": \"0\"}]}}",
             (long long)pdq_id);
    e = json_loads(expect, 0, NULL);
    assert_true(json_equal(j, e));
    json_decref(e);
    json_decref(j);
    /* with signal_type, the outer object is that type's matches */
    snprintf(path, sizeof path, "/m/lookup?url=http://127.0.0.1:%u/image1.jpg&signal_type=pdq",
             S.origin_port);
    j = get(200, path);
    assert_int_equal(api_jint(json_array_get(json_object_get(j, "MEDIA"), 0), "bank_content_id"),
                     pdq_id);
    json_decref(j);
    snprintf(path, sizeof path,
             "/m/lookup?url=http://127.0.0.1:%u/image1.jpg&signal_type=video_md5", S.origin_port);
    j = get(200, path);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    snprintf(path, sizeof path, "/m/lookup?url=http://127.0.0.1:%u/image1.jpg&signal=%s",
             S.origin_port, BRIDGE_PDQ);
    expect_message(400, "GET", path, NULL, NULL, 0, "'signal'");
    delete_bank("MEDIA");
}

/* Parameters: HMA's messages for missing and invalid ones; takedown's refusal of those a route
 * does not take. */
static void test_parameters(void **state)
{
    (void)state;
    expect_message(400, "GET", "/m/lookup", NULL, NULL, 0,
                   "Either url or both signal and signal_type are required");
    expect_message(400, "GET", "/m/lookup?signal_type=pdq", NULL, NULL, 0,
                   "Either url or both signal and signal_type are required");
    expect_message(400, "GET", "/m/lookup?signal_type=pdq&signal=zz", NULL, NULL, 0,
                   "invalid signal: invalid PDQ hash");
    expect_message(400, "GET", "/m/lookup?signal_type=md5&signal=zz", NULL, NULL, 0,
                   "No such SignalType 'md5'");
    expect_message(400, "GET", "/m/lookup?signal_type=pdq&signal=" BRIDGE_PDQ "&limit=3", NULL,
                   NULL, 0, "'limit'");
    expect_message(400, "GET", "/m/lookup?signal_type=pdq&signal=" BRIDGE_PDQ "&content_type=photo",
                   NULL, NULL, 0, "'content_type'");
    expect_message(400, "GET", "/m/lookup?signal_type=pdq&signal=a&signal=b", NULL, NULL, 0,
                   "'signal'");
    expect_422("/m/lookup?signal_type=pdq&signal=" BRIDGE_PDQ "&bypass_coinflip=maybe",
               "bool_parsing", "bypass_coinflip");
    expect_message(400, "GET",
                   "/m/raw_lookup?signal_type=pdq&signal=" BRIDGE_PDQ "&include_distance", NULL,
                   NULL, 0, "'include_distance' has no value");
    expect_message(400, "GET", "/m/lookup?signal_type=pdq&signal=" BRIDGE_PDQ, "application/json",
                   "{\"banks\": \"A\"}", -1, "takes no body");
    expect_422("/m/raw_lookup?signal_type=pdq", "missing", "signal");
    expect_422("/m/raw_lookup?signal=" BRIDGE_PDQ, "missing", "signal_type");
    expect_422("/m/raw_lookup?signal_type=pdq&signal=" BRIDGE_PDQ "&include_distance=2",
               "bool_parsing", "include_distance");
    expect_message(400, "GET", "/m/raw_lookup?signal_type=pdq&signal=", NULL, NULL, 0,
                   "invalid signal");
    expect_message(400, "GET", "/m/raw_lookup?signal_type=nope&signal=x", NULL, NULL, 0,
                   "No such SignalType 'nope'");
    expect_message(400, "GET", "/m/raw_lookup?signal_type=pdq&signal=" BRIDGE_PDQ "&seed=1", NULL,
                   NULL, 0, "'seed'");
    /* pydantic's booleans, any case */
    static const char *const truthy[] = {"true", "True", "1", "yes", "on", "t", "Y"};
    static const char *const falsy[] = {"false", "FALSE", "0", "no", "off", "f", "n"};
    create_bank("PARAMS");
    json_int_t id = add_signal("PARAMS", "pdq", BRIDGE_PDQ);
    char path[512];
    for (size_t i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "/m/raw_lookup?signal_type=pdq&signal=%s&include_distance=%s",
                 BRIDGE_PDQ, truthy[i]);
        json_t *j = get(200, path);
        assert_int_equal(
            api_jint(json_array_get(json_object_get(j, "matches"), 0), "bank_content_id"), id);
        json_decref(j);
        snprintf(path, sizeof path, "/m/raw_lookup?signal_type=pdq&signal=%s&include_distance=%s",
                 BRIDGE_PDQ, falsy[i]);
        j = get(200, path);
        assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "matches"), 0)), id);
        json_decref(j);
    }
    /* one content of two signals: both lookups answer the content's id, whichever signal
     * matched, and raw_lookup it once per signal type looked up */
    json_t *c = api_call(&S.srv, 200, "POST", "/c/bank/PARAMS/signal", S.key,
                         "{\"pdq\": \"" PDQ_TWO "\", \"video_md5\": \"" MD5_TWO "\"}");
    json_int_t content = api_jint(c, "id");
    json_decref(c);
    static const char *const two[] = {"/m/lookup?signal_type=pdq&signal=" PDQ_TWO,
                                      "/m/lookup?signal_type=video_md5&signal=" MD5_TWO};
    for (int k = 0; k < 2; k++) {
        json_t *l = get(200, two[k]);
        assert_int_equal(json_array_size(json_object_get(l, "PARAMS")), 1);
        assert_int_equal(
            api_jint(json_array_get(json_object_get(l, "PARAMS"), 0), "bank_content_id"), content);
        json_decref(l);
    }
    c = get(200, "/m/raw_lookup?signal_type=video_md5&signal=" MD5_TWO);
    assert_int_equal(json_array_size(json_object_get(c, "matches")), 1);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(c, "matches"), 0)), content);
    json_decref(c);
    /* a PDQ of known low quality, which takedown's check path does not match: HMA keeps no
     * quality, so both lookups answer it */
    json_t *low = api_call(&S.srv, 201, "POST", "/v1/banks/PARAMS/signals", S.key,
                           "{\"type\": \"pdq\", \"value\": \"" PDQ_LOW "\", \"quality\": 30}");
    json_int_t low_id = api_jint(low, "id");
    json_decref(low);
    json_t *j = get(200, "/m/raw_lookup?signal_type=pdq&signal=" PDQ_LOW);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "matches"), 0)), low_id);
    json_decref(j);
    j = get(200, "/m/lookup?signal_type=pdq&signal=" PDQ_LOW);
    assert_int_equal(api_jint(json_array_get(json_object_get(j, "PARAMS"), 0), "bank_content_id"),
                     low_id);
    json_decref(j);
    j = api_call(&S.srv, 200, "POST", "/v1/check", S.key, "{\"pdq\": \"" PDQ_LOW "\"}");
    assert_string_equal(api_jstr(j, "verdict"), "allow");
    json_decref(j);
    /* a signal type of ratio 0 (takedown matches nothing of it; HMA's lookups ignore the
     * type's ratio): lookup answers nothing, raw_lookup still the index's view */
    json_decref(
        api_call(&S.srv, 204, "PUT", "/c/signal_type/pdq", S.key, "{\"enabled_ratio\": 0}"));
    snprintf(path, sizeof path, "/m/lookup?signal_type=pdq&signal=%s", BRIDGE_PDQ);
    j = get(200, path);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    snprintf(path, sizeof path, "/m/raw_lookup?signal_type=pdq&signal=%s", BRIDGE_PDQ);
    j = get(200, path);
    assert_int_equal(json_array_size(json_object_get(j, "matches")), 1);
    json_decref(j);
    json_decref(
        api_call(&S.srv, 204, "PUT", "/c/signal_type/pdq", S.key, "{\"enabled_ratio\": 1}"));
    snprintf(path, sizeof path, "/m/lookup?signal_type=pdq&signal=%s", BRIDGE_PDQ);
    j = get(200, path);
    assert_int_equal(json_array_size(json_object_get(j, "PARAMS")), 1);
    json_decref(j);
    delete_bank("PARAMS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multipart_parser),
        cmocka_unit_test(test_raw_lookups_and_lookups),
        cmocka_unit_test(test_bank_filters),
        cmocka_unit_test(test_add_hashes_and_find_match),
        cmocka_unit_test(test_coinflip),
        cmocka_unit_test(test_compare_hashes),
        cmocka_unit_test(test_hash_and_lookup_media),
        cmocka_unit_test(test_parameters),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
