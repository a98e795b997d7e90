/* Review copies of uploaded media over HTTP (docs/review-media.md), against the real
 * `takedown serve` as a child process on a loopback port over a fresh data directory, with the
 * evidence master key made by `takedown evidence init` before the second start. Covered:
 *  - an image matching a review bank, submitted as bytes, is kept: the content's media object
 *    says so (type sniffed, size); a moderator reads it back byte-identical (SHA-256 compared
 *    with the conformance file's), with no-store and nosniff; auditor, platform, custodian and
 *    legal keys are refused (403); the sealed file on disk holds none of the plaintext;
 *  - hashes-only content: 404 no_media; unknown content: 404 not_found;
 *  - a multipart content: its parts read back each by ?part=N; a part over
 *    review_media_max_bytes is checked but not kept (its reason); a main media over it: state
 *    none with the reason;
 *  - a restart keeps copies readable;
 *  - decided keep (grace 0): 410 media_deleted after the tick, the files gone;
 *  - decided remove: preserved into the evidence store (its case and items), released with k of
 *    n custodian shares, each item the original bytes;
 *  - the audit log holds content.media_read with the moderator as actor, media_deleted and
 *    media_preserved. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/audit.h"
#include "takedown/casework.h"

#define LABELME "threatexchange/pdq/data/reg-test-input/labelme-subset/"
#define IMG_A LABELME "q0003.jpg"                                            /* matches the bank */
#define IMG_B "threatexchange/pdq/data/misc-images/wee.jpg"                  /* a further part */
#define IMG_BIG "threatexchange/pdq/data/reg-test-input/pen-and-coaster.png" /* over the limit */
#define MAX_BYTES "500000"

enum { ADMIN, MODERATOR, PLATFORM, AUDITOR, LEGAL, ALICE, BOB, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin", "moderator", "platform", "auditor",
                                              "legal", "custodian", "custodian"};
static const char *const key_names[N_KEYS] = {
    "admin", "mod-1", "upload-service", "auditor-1", "legal-1", "alice", "bob"};

static struct {
    api_server srv;
    char dir[4096];
    char keys[N_KEYS][128];
    long long key_ids[N_KEYS];
    char shares[3][160];
    long long case_single, case_multi;
    char evidence_case[64];
} S;

static void server_start(void)
{
    static const char *const flags[] = {
        "--http-threads", "4", "--review-media-grace-ms", "0", "--review-media-max-bytes",
        MAX_BYTES,        NULL};
    api_server_start(&S.srv, S.dir, flags);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, data, len);
    sodium_bin2hex(out, 65, d, sizeof d);
}

/* ---- a GET that keeps the response headers ---- */

typedef struct raw_resp {
    long status;
    uint8_t *body;
    size_t len;
    char headers[4096];
    size_t hlen;
} raw_resp;

static size_t raw_body(char *p, size_t sz, size_t n, void *ctx)
{
    raw_resp *r = ctx;
    uint8_t *nb = realloc(r->body, r->len + sz * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, sz * n);
    r->body = nb;
    r->len += sz * n;
    return sz * n;
}

static size_t raw_header(char *p, size_t sz, size_t n, void *ctx)
{
    raw_resp *r = ctx;
    size_t k = sz * n;
    if (r->hlen + k < sizeof r->headers) {
        memcpy(r->headers + r->hlen, p, k);
        r->hlen += k;
        r->headers[r->hlen] = '\0';
    }
    return k;
}

static long raw_get(const char *path, const char *key, raw_resp *out)
{
    memset(out, 0, sizeof *out);
    char url[512], auth[256];
    snprintf(url, sizeof url, "%s%s", S.srv.base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, raw_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        out->status = -(long)rc;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return out->status;
}

/* The header's value (case-insensitive name) must be `value`. */
static void expect_header(const raw_resp *r, const char *name, const char *value)
{
    char want[256];
    snprintf(want, sizeof want, "%s: %s\r\n", name, value);
    for (const char *p = r->headers; *p; p++)
        if (strncasecmp(p, want, strlen(want)) == 0)
            return;
    fail_msg("no header '%s: %s' in:\n%s", name, value, r->headers);
}

/* GET media of content_id (part, -1: none given) as key must answer the bytes of the file. */
static void expect_media(const char *content_id, int part, const char *file, const char *ctype)
{
    char path[256];
    if (part < 0)
        snprintf(path, sizeof path, "/v1/content/%s/media", content_id);
    else
        snprintf(path, sizeof path, "/v1/content/%s/media?part=%d", content_id, part);
    size_t len;
    uint8_t *want = read_all(conf_path(file), &len);
    raw_resp r;
    assert_int_equal(raw_get(path, S.keys[MODERATOR], &r), 200);
    char got_hex[65], want_hex[65];
    sha256_hex(want, len, want_hex);
    sha256_hex(r.body, r.len, got_hex);
    assert_int_equal(r.len, len);
    assert_string_equal(got_hex, want_hex);
    expect_header(&r, "Content-Type", ctype);
    expect_header(&r, "Cache-Control", "no-store");
    expect_header(&r, "X-Content-Type-Options", "nosniff");
    free(r.body);
    free(want);
}

/* ---- fixtures ---- */

static void create_keys(void)
{
    for (int i = 1; i < N_KEYS; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"%s\"}", key_roles[i],
                 key_names[i]);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.keys[ADMIN], body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", api_jstr(j, "key"));
        S.key_ids[i] = api_jint(j, "id");
        json_decref(j);
    }
}

/* Adds file's signals (its hashes, computed by the server) to the review bank. */
static void add_signal(const char *file)
{
    size_t len;
    uint8_t *img = read_all(conf_path(file), &len);
    api_request rq = {
        "POST", "/v1/banks/REVIEW_M/signals", S.keys[MODERATOR], "image/jpeg", img, (long)len, 0,
        NULL};
    json_t *j = api_call_req(&S.srv, 201, &rq);
    free(img);
    assert_true(json_array_size(json_object_get(j, "signals")) >= 1);
    json_decref(j);
}

static int group_setup(void **state)
{
    (void)state;
    if (api_group_init(S.dir, sizeof S.dir, "api-review-media-data") != 0)
        return -1;
    server_start();
    snprintf(S.keys[ADMIN], sizeof S.keys[ADMIN], "%s", S.srv.admin);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    create_keys();
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.keys[ADMIN],
                         "{\"name\": \"REVIEW_M\", \"action\": \"review\"}"));
    add_signal(IMG_A);
    add_signal(IMG_BIG);
    /* The evidence master key, made offline between two starts. */
    api_server_stop(&S.srv);
    char cmd[8400], out[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' evidence init --data '%s' --threshold 2 --custodians alice,bob,carol "
             "2>/dev/null",
             TD_CLI_PATH, S.dir);
    if (run_capture(cmd, out, sizeof out) != 0)
        return -1;
    int lines = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l && lines < 3;
         l = strtok_r(NULL, "\n", &save)) {
        char name[64], share[160];
        if (l[0] == '#' || sscanf(l, "custodian %63s share %159s", name, share) != 2)
            continue;
        snprintf(S.shares[lines++], sizeof S.shares[0], "%s", share);
    }
    if (lines != 3)
        return -1;
    server_start();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    curl_global_cleanup();
    return 0;
}

/* Submits file's bytes as content_id; returns the answer. */
static json_t *submit_media(const char *content_id, const char *file, const char *ctype)
{
    char path[256];
    size_t len;
    uint8_t *img = read_all(conf_path(file), &len);
    snprintf(path, sizeof path, "/v1/content?content_id=%s&uploader=u-%s", content_id, content_id);
    api_request rq = {"POST", path, S.keys[PLATFORM], ctype, img, (long)len, 0, NULL};
    json_t *j = api_call_req(&S.srv, 201, &rq);
    free(img);
    return j;
}

static json_t *get_content(const char *content_id, int key)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/content/%s", content_id);
    return api_call(&S.srv, 200, "GET", path, S.keys[key], NULL);
}

/* Whether any file under the data directory's review_media/ holds needle. */
static int sealed_files_hold(const uint8_t *needle, size_t n, int *files)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/review_media", S.dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int found = 0;
    *files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[8400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        uint8_t *data = read_all(path, &len);
        (*files)++;
        if (len >= n && memmem(data, len, needle, n))
            found = 1;
        free(data);
    }
    closedir(d);
    return found;
}

/* ---- tests ---- */

static void test_kept_and_read(void **state)
{
    (void)state;
    size_t len;
    uint8_t *img = read_all(conf_path(IMG_A), &len);
    json_t *j = submit_media("img-1", IMG_A, "image/jpeg");
    assert_string_equal(api_jstr(j, "verdict"), "review");
    S.case_single = api_jint(json_object_get(j, "case"), "id");
    json_t *m = json_object_get(j, "media");
    assert_true(json_is_true(json_object_get(m, "kept")));
    assert_string_equal(api_jstr(m, "state"), "kept");
    assert_string_equal(api_jstr(m, "content_type"), "image/jpeg");
    assert_int_equal(api_jint(m, "bytes"), (json_int_t)len);
    assert_int_equal(api_jint(m, "parts"), 0);
    assert_true(json_is_null(json_object_get(m, "delete_after")));
    json_decref(j);

    /* The record, as every reader of the content sees it. */
    j = get_content("img-1", AUDITOR);
    m = json_object_get(j, "media");
    assert_string_equal(api_jstr(m, "state"), "kept");
    char want[65];
    sha256_hex(img, len, want);
    assert_string_equal(api_jstr(json_array_get(json_object_get(m, "items"), 0), "sha256"), want);
    json_decref(j);

    /* The bytes: moderators (and admins) only. */
    expect_media("img-1", -1, IMG_A, "image/jpeg");
    expect_media("img-1", 0, IMG_A, "image/jpeg");
    raw_resp r;
    assert_int_equal(raw_get("/v1/content/img-1/media", S.keys[ADMIN], &r), 200);
    assert_int_equal(r.len, len);
    free(r.body);
    static const int refused[] = {AUDITOR, PLATFORM, LEGAL, ALICE};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/content/img-1/media",
                         S.keys[refused[i]], NULL);
    api_expect_error(&S.srv, 400, NULL, "GET", "/v1/content/img-1/media?part=x", S.keys[MODERATOR],
                     NULL);
    api_expect_error(&S.srv, 400, NULL, "GET", "/v1/content/img-1/media?bogus=1", S.keys[MODERATOR],
                     NULL);
    api_expect_error(&S.srv, 404, "no_media", "GET", "/v1/content/img-1/media?part=1",
                     S.keys[MODERATOR], NULL);

    /* At rest: no 32-byte window of the image is in any sealed file (the JPEG's head, its
     * middle, its end). */
    int files = 0;
    for (size_t off = 0; off + 32 <= len; off += len / 4)
        assert_false(sealed_files_hold(img + off, 32, &files));
    assert_int_equal(files, 1);
    free(img);
}

static void test_no_media(void **state)
{
    (void)state;
    /* The image's SHA-256, as a platform that hashes itself sends it: the bank holds it. */
    char body[512], sha[65];
    size_t len;
    uint8_t *img = read_all(conf_path(IMG_A), &len);
    sha256_hex(img, len, sha);
    free(img);
    snprintf(body, sizeof body, "{\"content_id\": \"hashed-1\", \"hashes\": {\"sha256\": \"%s\"}}",
             sha);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM], body);
    assert_string_equal(api_jstr(j, "verdict"), "review");
    json_t *m = json_object_get(j, "media");
    assert_true(json_is_false(json_object_get(m, "kept")));
    assert_string_equal(api_jstr(m, "state"), "none");
    assert_non_null(strstr(api_jstr(m, "reason"), "no media bytes"));
    json_decref(j);
    api_expect_error(&S.srv, 404, "no_media", "GET", "/v1/content/hashed-1/media",
                     S.keys[MODERATOR], NULL);
    api_expect_error(&S.srv, 404, "not_found", "GET", "/v1/content/no-such-content/media",
                     S.keys[MODERATOR], NULL);
    /* Bytes that match nothing open no case: nothing kept. */
    j = submit_media("allowed-1", IMG_B, "image/jpeg");
    assert_string_equal(api_jstr(j, "verdict"), "allow");
    assert_string_equal(api_jstr(json_object_get(j, "media"), "state"), "none");
    json_decref(j);
    api_expect_error(&S.srv, 404, "no_media", "GET", "/v1/content/allowed-1/media",
                     S.keys[MODERATOR], NULL);
}

/* A form: file 0 the media, the others its parts; the large one over the limit. */
static void test_multipart(void **state)
{
    (void)state;
    size_t la, lb, lc;
    uint8_t *a = read_all(conf_path(IMG_A), &la), *b = read_all(conf_path(IMG_B), &lb),
            *c = read_all(conf_path(IMG_BIG), &lc);
    const char *bd = "tdformXYZ";
    size_t cap = la + lb + lc + 2048, n = 0;
    char *form = malloc(cap);
    const struct {
        const char *name;
        const uint8_t *d;
        size_t l;
    } files[3] = {{"a.jpg", a, la}, {"b.jpg", b, lb}, {"c.png", c, lc}};
    for (int i = 0; i < 3; i++) {
        n += (size_t)snprintf(form + n, cap - n,
                              "--%s\r\nContent-Disposition: form-data; name=\"file%d\"; "
                              "filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                              bd, i, files[i].name);
        memcpy(form + n, files[i].d, files[i].l);
        n += files[i].l;
        n += (size_t)snprintf(form + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(form + n, cap - n, "--%s--\r\n", bd);
    api_request rq = {"POST",
                      "/v1/content?content_id=post-2&uploader=u2",
                      S.keys[PLATFORM],
                      "multipart/form-data; boundary=tdformXYZ",
                      form,
                      (long)n,
                      0,
                      NULL};
    json_t *j = api_call_req(&S.srv, 201, &rq);
    assert_string_equal(api_jstr(j, "verdict"), "review");
    S.case_multi = api_jint(json_object_get(j, "case"), "id");
    json_t *m = json_object_get(j, "media");
    assert_string_equal(api_jstr(m, "state"), "kept");
    assert_int_equal(api_jint(m, "parts"), 2);
    json_t *items = json_object_get(m, "items");
    assert_int_equal(json_array_size(items), 3);
    json_t *big = json_array_get(items, 2);
    assert_true(json_is_false(json_object_get(big, "kept")));
    assert_int_equal(api_jint(big, "bytes"), (json_int_t)lc);
    assert_string_equal(api_jstr(big, "content_type"), "image/png");
    assert_non_null(strstr(api_jstr(big, "reason"), "review_media_max_bytes"));
    json_decref(j);
    expect_media("post-2", 0, IMG_A, "image/jpeg");
    expect_media("post-2", 1, IMG_B, "image/jpeg");
    api_expect_error(&S.srv, 404, "no_media", "GET", "/v1/content/post-2/media?part=2",
                     S.keys[MODERATOR], NULL);
    api_expect_error(&S.srv, 404, "no_media", "GET", "/v1/content/post-2/media?part=3",
                     S.keys[MODERATOR], NULL);
    /* A form field is not read: refused, nothing recorded. */
    static const char field[] = "--b\r\nContent-Disposition: form-data; name=\"uploader\"\r\n\r\n"
                                "x\r\n--b--\r\n";
    api_request fr = {"POST",
                      "/v1/content?content_id=post-3",
                      S.keys[PLATFORM],
                      "multipart/form-data; boundary=b",
                      field,
                      -1,
                      0,
                      NULL};
    api_expect_error_req(&S.srv, 400, "unknown_field", NULL, &fr);
    api_expect_error(&S.srv, 404, "not_found", "GET", "/v1/content/post-3", S.keys[AUDITOR], NULL);
    /* Other routes still refuse forms. */
    api_request other = {"POST",
                         "/v1/check",
                         S.keys[PLATFORM],
                         "multipart/form-data; boundary=tdformXYZ",
                         form,
                         (long)n,
                         0,
                         NULL};
    api_expect_error_req(&S.srv, 400, "form_body", NULL, &other);
    free(form);
    free(a);
    free(b);
    free(c);

    /* The large image alone: checked (it matches), not kept. */
    j = submit_media("big-1", IMG_BIG, "image/png");
    assert_string_equal(api_jstr(j, "verdict"), "review");
    m = json_object_get(j, "media");
    assert_true(json_is_false(json_object_get(m, "kept")));
    assert_string_equal(api_jstr(m, "state"), "none");
    assert_non_null(strstr(api_jstr(m, "reason"), "larger than review_media_max_bytes"));
    json_decref(j);
    api_expect_error(&S.srv, 404, "no_media", "GET", "/v1/content/big-1/media", S.keys[MODERATOR],
                     NULL);
}

static void test_restart(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    server_start();
    expect_media("img-1", 0, IMG_A, "image/jpeg");
    expect_media("post-2", 1, IMG_B, "image/jpeg");
}

/* Polls the content's media state until it is `state` (10 s at most). */
static json_t *wait_state(const char *content_id, const char *state)
{
    double deadline = api_now_s() + 10;
    for (;;) {
        json_t *j = get_content(content_id, MODERATOR);
        json_t *m = json_incref(json_object_get(j, "media"));
        json_decref(j);
        if (strcmp(api_jstr(m, "state"), state) == 0)
            return m;
        json_decref(m);
        if (api_now_s() > deadline)
            fail_msg("%s: media not %s within 10 s", content_id, state);
        api_sleep_ms(100);
    }
}

static void decide(long long case_id, const char *decision)
{
    char path[96], body[128];
    snprintf(path, sizeof path, "/v1/cases/%lld/decision", case_id);
    snprintf(body, sizeof body, "{\"decision\": \"%s\", \"reason\": \"reviewed\"}", decision);
    json_decref(api_call(&S.srv, 201, "POST", path, S.keys[MODERATOR], body));
}

static void test_keep_deleted(void **state)
{
    (void)state;
    decide(S.case_single, "keep");
    json_t *m = wait_state("img-1", "deleted");
    assert_true(json_is_false(json_object_get(m, "kept")));
    assert_true(json_is_string(json_object_get(m, "deleted_at")));
    assert_true(json_is_string(json_object_get(m, "delete_after")));
    json_decref(m);
    api_resp r;
    assert_int_equal(
        api_http(&S.srv, "GET", "/v1/content/img-1/media", S.keys[MODERATOR], NULL, &r), 410);
    json_t *e = api_parse_or_fail("GET", "/v1/content/img-1/media", &r);
    assert_string_equal(api_jstr(json_object_get(e, "error"), "code"), "media_deleted");
    assert_non_null(strstr(api_jstr(json_object_get(e, "error"), "message"), "deleted at 20"));
    json_decref(e);
    api_resp_free(&r);
    /* Only post-2's two files are left. */
    size_t len;
    uint8_t *img = read_all(conf_path(IMG_A), &len);
    int files = 0;
    assert_false(sealed_files_hold(img, 32, &files));
    assert_int_equal(files, 2);
    free(img);
}

typedef struct released {
    int n;
    char sha[4][65];
} released;

static void test_remove_preserved(void **state)
{
    (void)state;
    decide(S.case_multi, "remove");
    json_t *m = wait_state("post-2", "preserved");
    snprintf(S.evidence_case, sizeof S.evidence_case, "%s", api_jstr(m, "evidence_case"));
    assert_memory_equal(S.evidence_case, "review-", 7);
    json_decref(m);
    api_expect_error(&S.srv, 410, "media_deleted", "GET", "/v1/content/post-2/media?part=1",
                     S.keys[MODERATOR], NULL);
    int files = 0;
    size_t la;
    uint8_t *a = read_all(conf_path(IMG_A), &la);
    assert_false(sealed_files_hold(a, 32, &files));
    assert_int_equal(files, 0);
    free(a);

    /* In the evidence store: one item per kept part. */
    char path[256], body[1024];
    snprintf(path, sizeof path, "/v1/evidence/cases/%s", S.evidence_case);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);

    /* Opened with k = 2 custodians' shares: the original bytes. */
    snprintf(body, sizeof body,
             "{\"requester\": \"prosecutor\", \"legal_basis\": \"EPOC-2026-1\", \"purpose\": "
             "\"investigation\", \"case\": \"%s\"}",
             S.evidence_case);
    j = api_call(&S.srv, 201, "POST", "/v1/evidence/releases", S.keys[ADMIN], body);
    long long req = api_jint(j, "id");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/evidence/releases/%lld/approvals", req);
    snprintf(body, sizeof body, "{\"share\": \"%s\"}", S.shares[0]);
    json_decref(api_call(&S.srv, 200, "POST", path, S.keys[ALICE], body));
    snprintf(body, sizeof body, "{\"share\": \"%s\"}", S.shares[1]);
    json_decref(api_call(&S.srv, 200, "POST", path, S.keys[BOB], body));
    snprintf(path, sizeof path, "/v1/evidence/releases/%lld/release", req);
    j = api_call(&S.srv, 200, "POST", path, S.keys[ADMIN], NULL);
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 2);
    const char *files_in[2] = {IMG_A, IMG_B};
    for (size_t i = 0; i < 2; i++) {
        json_t *it = json_array_get(items, i);
        const char *b64 = api_jstr(it, "content_base64");
        size_t cap = strlen(b64), len = 0;
        uint8_t *bin = malloc(cap);
        assert_int_equal(sodium_base642bin(bin, cap, b64, strlen(b64), NULL, &len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        size_t fl;
        uint8_t *want = read_all(conf_path(files_in[i]), &fl);
        assert_int_equal(len, fl);
        assert_memory_equal(bin, want, fl);
        json_t *rel = json_object_get(it, "related");
        assert_string_equal(api_jstr(rel, "content_id"), "post-2");
        assert_int_equal(api_jint(rel, "part"), (json_int_t)i);
        free(want);
        free(bin);
    }
    json_decref(j);
}

/* ---- the audit log, read from the data directory once the server stopped ---- */

static json_t *find_entry(td_audit *log, const char *action, const char *actor, const char *object)
{
    uint64_t size;
    td_error err;
    assert_int_equal(td_audit_size(log, &size, &err), TD_OK);
    for (uint64_t i = size; i-- > 0;) {
        td_audit_entry e;
        assert_int_equal(td_audit_get(log, i, &e, &err), TD_OK);
        int hit = strcmp(e.action, action) == 0 && strcmp(e.actor, actor) == 0 &&
                  strcmp(e.object, object) == 0;
        json_t *d = hit ? json_loads(e.details, 0, NULL) : NULL;
        td_audit_entry_clear(&e);
        if (hit)
            return d;
    }
    fail_msg("no audit entry %s by %s on %s", action, actor, object);
    return NULL;
}

static void test_audit(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    td_service_options so;
    td_service *svc = NULL;
    td_error err;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    assert_int_equal(td_service_open(S.dir, &so, &svc, &err), TD_OK);
    td_audit *log = td_service_audit(svc);
    json_t *d = find_entry(log, "content.media_read", "mod-1", "content:img-1");
    assert_int_equal(json_integer_value(json_object_get(d, "actor_id")), S.key_ids[MODERATOR]);
    assert_string_equal(json_string_value(json_object_get(d, "actor_role")), "moderator");
    assert_int_equal(json_integer_value(json_object_get(d, "part")), 0);
    json_decref(d);
    d = find_entry(log, "content.media_read", "mod-1", "content:post-2");
    json_decref(d);
    d = find_entry(log, "content.media_kept", "system", "content:post-2");
    assert_int_equal(json_array_size(json_object_get(d, "parts")), 3);
    json_decref(d);
    d = find_entry(log, "content.media_deleted", "system", "content:img-1");
    assert_string_equal(json_string_value(json_object_get(d, "outcome")), "keep");
    json_decref(d);
    d = find_entry(log, "content.media_preserved", "system", "content:post-2");
    assert_string_equal(json_string_value(json_object_get(d, "evidence_case")), S.evidence_case);
    json_decref(d);
    td_service_close(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_and_read), cmocka_unit_test(test_no_media),
        cmocka_unit_test(test_multipart),     cmocka_unit_test(test_restart),
        cmocka_unit_test(test_keep_deleted),  cmocka_unit_test(test_remove_preserved),
        cmocka_unit_test(test_audit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
