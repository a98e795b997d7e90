/* Platform scoping over HTTP: two platform keys (A and B) submit content to the real
 * `takedown serve`, and every route a platform key may call is walked, taken from the router's
 * own table (td_server_routes), so that a new platform route fails this test until it is
 * classified here. Routes that read or act on content (content, complaints, the order routes a
 * platform drives, E2EE reports) are probed as B against A's records: B gets the answer of a record
 * that does not exist (404 with the same message), A gets its own. The other platform routes
 * (checks, banks, HMA lookups, franking) are called as B and must not mention any of A's content.
 * Webhooks that belong to a platform key receive only its content's events (a receiver in the
 * test). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/frank.h"
#include "takedown/orders.h"
#include "takedown/server.h"

#define PDQ "9c6b2d0e5f7a18c3b4e1d2f60a8b7c9d3e2f1a0b5c4d6e7f8091a2b3c4d5e6f7"
#define HOOK_SECRET "scope-test-secret-0123456789"
#define IMAGE "threatexchange/pdq/data/reg-test-input/dih/bridge-5-flipx.jpg"

/* What only A's records hold: none of it may appear in an answer to B. */
#define A_ID "a-secret-1"
#define A_UPLOADER "uploader-a-secret"
#define A_URL "https://a-platform.example/secret/1"
#define A_NOTE "a-private-note"
static const char *const a_markers[] = {A_ID, A_UPLOADER, "a-platform.example", A_NOTE};

/* PLAT_A2 is a second key of platform A (created with "platform_key": A's id). */
enum { ADMIN, PLAT_A, PLAT_B, MODERATOR, AUDITOR, AUTHORITY, PLAT_A2, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin",   "platform",  "platform", "moderator",
                                              "auditor", "authority", "platform"};

static struct {
    api_server srv;
    char dir[4096];
    char keys[N_KEYS][128];
    long long key_ids[N_KEYS];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    long long order_a;    /* a removal order whose target is A's content */
    long long order_free; /* a removal order whose target was not received */
    long long complaint_a;
    long long report_a;      /* a report A relayed */
    char report_content[64]; /* the content id it created */
} S;

/* ---- helpers ---- */

static json_t *submit(int key, const char *content_id, const char *uploader, const char *url,
                      const char *note)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"content_id\": \"%s\", \"uploader\": \"%s\", \"url\": \"%s\", \"metadata\": "
             "{\"note\": \"%s\"}, \"hashes\": {\"pdq\": \"" PDQ "\"}}",
             content_id, uploader, url, note);
    return api_call(&S.srv, 201, "POST", "/v1/content", S.keys[key], body);
}

/* A signed removal order of the test's authority with one target; returns its id. */
static long long send_order(const char *reference, const char *content_id, const char *url)
{
    char body[4096], sig[200];
    api_order_doc(body, sizeof body, "BKA", reference, content_id, url, NULL);
    api_sign_header(S.sk, body, strlen(body), sig, sizeof sig);
    json_t *j =
        api_call_ex(&S.srv, 201, "POST", "/v1/orders", S.keys[AUTHORITY], body, strlen(body), sig);
    long long id = api_jint(j, "id");
    json_decref(j);
    return id;
}

/* The answer must be 404 not_found with exactly `message` (what an unknown record answers). */
static void expect_hidden(const char *method, const char *path, int key, const char *body,
                          const char *message)
{
    api_resp r;
    api_request rq = {method, path, S.keys[key], body ? "application/json" : NULL,
                      body,   -1,   0,           NULL};
    long st = api_send(&S.srv, &rq, &r);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    if (st != 404 || !e || strcmp(api_jstr(e, "code"), "not_found") != 0 ||
        strcmp(api_jstr(e, "message"), message) != 0)
        fail_msg("%s %s as key %d: %ld %s (expected 404 '%s')", method, path, key, st,
                 r.body ? r.body : "", message);
    json_decref(j);
    api_resp_free(&r);
}

static void expect_no_marker(const char *what, const char *text)
{
    for (size_t i = 0; text && i < sizeof a_markers / sizeof a_markers[0]; i++)
        if (strstr(text, a_markers[i]))
            fail_msg("%s reveals A's '%s': %s", what, a_markers[i], text);
}

static void confirm_body(char *out, size_t cap)
{
    char at[32];
    td_order_time_format(api_wall_ms(), at);
    snprintf(out, cap, "{\"measure\": \"removed\", \"time\": \"%s\"}", at);
}

/* An E2EE report relayed by platform key `key` (docs/e2ee.md): the message franked at delivery
 * with that key, then reported; returns the report's id and its content id in content_id. */
static long long relay_report(int key, const char *text, char content_id[64])
{
    uint8_t salt[TD_FRANK_SALT_LEN], tag[TD_FRANK_TAG_LEN], *enc = NULL;
    size_t len = 0;
    char salt_hex[33], tag_hex[65], body[2048];
    td_error err;
    randombytes_buf(salt, sizeof salt);
    assert_int_equal(td_frank_message_encode(text, strlen(text), NULL, 0, &enc, &len, &err), TD_OK);
    td_frank_tag(salt, enc, len, tag);
    td_free(enc);
    sodium_bin2hex(salt_hex, sizeof salt_hex, salt, sizeof salt);
    sodium_bin2hex(tag_hex, sizeof tag_hex, tag, sizeof tag);
    snprintf(body, sizeof body,
             "{\"franking_tag\": \"%s\", \"sender\": \"" A_UPLOADER "\", \"conversation\": "
             "\"room\", \"accepted_ms\": 1717200000000}",
             tag_hex);
    json_t *p = api_call(&S.srv, 200, "POST", "/v1/frank", S.keys[key], body);
    snprintf(body, sizeof body,
             "{\"reporter\": \"reporter\", \"messages\": [{\"text\": \"%s\", \"salt\": \"%s\", "
             "\"sender\": \"" A_UPLOADER "\", \"conversation\": \"room\", \"accepted_ms\": "
             "1717200000000, \"key_id\": %lld, \"frank\": \"%s\", \"signature\": \"%s\"}]}",
             text, salt_hex, (long long)api_jint(p, "key_id"), api_jstr(p, "frank"),
             api_jstr(p, "signature"));
    json_decref(p);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/reports", S.keys[key], body);
    json_t *r = json_array_get(json_object_get(j, "reports"), 0);
    long long id = api_jint(r, "report_id");
    snprintf(content_id, 64, "%s", api_jstr(r, "content_id"));
    json_decref(j);
    return id;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    static const char *const flags[] = {"--webhook-allow-private", "1", "--webhook-backoff-base-ms",
                                        "100", NULL};
    if (api_group_init(S.dir, sizeof S.dir, "api-scope-data") != 0)
        return -1;
    api_server_start(&S.srv, S.dir, flags);
    snprintf(S.keys[ADMIN], sizeof S.keys[ADMIN], "%s", S.srv.admin);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    for (int i = 1; i < N_KEYS; i++) {
        char body[160], platform[48] = "";
        if (i == PLAT_A2)
            snprintf(platform, sizeof platform, ", \"platform_key\": %lld", S.key_ids[PLAT_A]);
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"%s-%d\"%s}", key_roles[i],
                 key_roles[i], i, platform);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.keys[ADMIN], body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", api_jstr(j, "key"));
        S.key_ids[i] = api_jint(j, "id");
        if (i == PLAT_A2 && api_jint(j, "platform_key") != S.key_ids[PLAT_A])
            return -1;
        json_decref(j);
    }
    const char *A = S.keys[ADMIN];
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.keys[MODERATOR],
                         "{\"name\": \"SCOPE_REVIEW\", \"action\": \"review\"}"));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks/SCOPE_REVIEW/signals", S.keys[MODERATOR],
                         "{\"type\": \"pdq\", \"value\": \"" PDQ "\"}"));
    /* The authority, its Ed25519 key and its API key. */
    api_register_authority(&S.srv, A, "BKA", NULL, S.key_ids[AUTHORITY], S.pk, S.sk);
    /* The content of both platforms and of the admin. */
    json_decref(submit(PLAT_A, A_ID, A_UPLOADER, A_URL, A_NOTE));
    json_decref(submit(PLAT_B, "b-own-1", "uploader-b", "https://b-platform.example/1", "b-note"));
    json_decref(submit(ADMIN, "adm-1", "uploader-adm", "https://adm.example/1", "adm-note"));
    S.order_a = send_order("BKA-SCOPE-A", A_ID, NULL);
    S.order_free = send_order("BKA-SCOPE-FREE", NULL, "https://elsewhere.example/nothing");
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/complaints", S.keys[PLAT_A],
                         "{\"content_id\": \"" A_ID "\", \"text\": \"my post was legal\"}");
    S.complaint_a = api_jint(j, "id");
    json_decref(j);
    S.report_a = relay_report(PLAT_A, "a reported message only A relayed", S.report_content);
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

/* ---- probes of the routes that read or act on content ---- */

static void probe_content_submit(void)
{
    /* B cannot take A's content id: 409 that says nothing of A's record, which stays A's. */
    api_resp r;
    api_request rq = {"POST",
                      "/v1/content",
                      S.keys[PLAT_B],
                      "application/json",
                      "{\"content_id\": \"" A_ID "\", \"uploader\": \"mallory\", \"hashes\": "
                      "{\"pdq\": \"" PDQ "\"}}",
                      -1,
                      0,
                      NULL};
    assert_int_equal(api_send(&S.srv, &rq, &r), 409);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(api_jstr(json_object_get(j, "error"), "code"), "conflict");
    assert_string_equal(api_jstr(json_object_get(j, "error"), "message"),
                        "content id '" A_ID "' was already received");
    json_decref(j);
    api_resp_free(&r);
    /* The same for a media body, and the same answer as A sending it again. */
    size_t len;
    uint8_t *img = read_all(conf_path(IMAGE), &len);
    assert_non_null(img);
    assert_int_equal(api_http_ex(&S.srv, "POST", "/v1/content?content_id=" A_ID, S.keys[PLAT_B],
                                 "image/jpeg", img, (long)len, 0, &r),
                     409);
    free(img);
    api_resp_free(&r);
    api_expect_error(&S.srv, 409, "conflict", "POST", "/v1/content", S.keys[PLAT_A],
                     "{\"content_id\": \"" A_ID "\", \"hashes\": {\"pdq\": \"" PDQ "\"}}");
    j = api_call(&S.srv, 200, "GET", "/v1/content/" A_ID, S.keys[ADMIN], NULL);
    assert_string_equal(api_jstr(j, "uploader"), A_UPLOADER);
    assert_int_equal(api_jint(j, "platform_key"), S.key_ids[PLAT_A]);
    json_decref(j);
    /* What B submits is B's. */
    j = api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLAT_B],
                 "{\"content_id\": \"b-own-2\", \"hashes\": {\"pdq\": \"" PDQ "\"}}");
    assert_int_equal(api_jint(j, "platform_key"), S.key_ids[PLAT_B]);
    json_decref(j);
}

static void probe_content_get(void)
{
    expect_hidden("GET", "/v1/content/" A_ID, PLAT_B, NULL, "no content '" A_ID "'");
    expect_hidden("GET", "/v1/content/zz-unknown", PLAT_B, NULL, "no content 'zz-unknown'");
    /* Content without an owner (an admin's) is no platform's. */
    expect_hidden("GET", "/v1/content/adm-1", PLAT_A, NULL, "no content 'adm-1'");
    expect_hidden("GET", "/v1/content/b-own-1", PLAT_A, NULL, "no content 'b-own-1'");
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/content/" A_ID, S.keys[PLAT_A], NULL);
    assert_string_equal(api_jstr(j, "uploader"), A_UPLOADER);
    assert_string_equal(api_jstr(json_object_get(j, "metadata"), "note"), A_NOTE);
    assert_true(json_is_object(json_object_get(j, "case")));
    json_decref(j);
    json_decref(api_call(&S.srv, 200, "GET", "/v1/content/b-own-1", S.keys[PLAT_B], NULL));
    /* A's second key acts for platform A; B's content stays hidden from it. */
    json_decref(api_call(&S.srv, 200, "GET", "/v1/content/" A_ID, S.keys[PLAT_A2], NULL));
    expect_hidden("GET", "/v1/content/b-own-1", PLAT_A2, NULL, "no content 'b-own-1'");
    /* Only platform keys belong to a platform. */
    char body[128];
    snprintf(body, sizeof body, "{\"role\": \"moderator\", \"platform_key\": %lld}",
             S.key_ids[PLAT_A]);
    api_expect_error(&S.srv, 400, NULL, "POST", "/v1/keys", S.keys[ADMIN], body);
    snprintf(body, sizeof body, "{\"role\": \"platform\", \"platform_key\": %lld}",
             S.key_ids[MODERATOR]);
    api_expect_error(&S.srv, 400, NULL, "POST", "/v1/keys", S.keys[ADMIN], body);
    /* Admins, moderators and auditors read everything. */
    for (int k = ADMIN; k <= AUDITOR; k++) {
        if (k == PLAT_A || k == PLAT_B)
            continue;
        json_decref(api_call(&S.srv, 200, "GET", "/v1/content/" A_ID, S.keys[k], NULL));
        j = api_call(&S.srv, 200, "GET", "/v1/content/adm-1", S.keys[k], NULL);
        assert_true(json_is_null(json_object_get(j, "platform_key")));
        json_decref(j);
    }
}

static void probe_order_execute(void)
{
    char path[96], msg[64];
    snprintf(path, sizeof path, "/v1/orders/%lld/execute", S.order_a);
    snprintf(msg, sizeof msg, "no order %lld", S.order_a);
    expect_hidden("POST", path, PLAT_B, NULL, msg);
    expect_hidden("POST", "/v1/orders/999999/execute", PLAT_B, NULL, "no order 999999");
    json_t *j = api_call(&S.srv, 200, "POST", path, S.keys[PLAT_A], NULL);
    assert_string_equal(api_jstr(json_array_get(json_object_get(j, "content"), 0), "content_id"),
                        A_ID);
    json_decref(j);
    json_decref(api_call(&S.srv, 200, "POST", path, S.keys[MODERATOR], NULL));
}

static void probe_order_locate(void)
{
    char path[96], msg[64];
    /* B cannot point a target at A's content: the same answer as an unknown content id. */
    snprintf(path, sizeof path, "/v1/orders/%lld/locate", S.order_free);
    expect_hidden("POST", path, PLAT_B, "{\"target\": 0, \"content_id\": \"" A_ID "\"}",
                  "no content '" A_ID "'");
    expect_hidden("POST", path, PLAT_B, "{\"target\": 0, \"content_id\": \"zz-unknown\"}",
                  "no content 'zz-unknown'");
    expect_hidden("POST", path, PLAT_B, "{\"target\": 0, \"content_id\": \"adm-1\"}",
                  "no content 'adm-1'");
    /* Nor act on the order that targets A's content. */
    snprintf(path, sizeof path, "/v1/orders/%lld/locate", S.order_a);
    snprintf(msg, sizeof msg, "no order %lld", S.order_a);
    expect_hidden("POST", path, PLAT_B, "{\"target\": 0, \"content_id\": \"b-own-1\"}", msg);
    /* B locates the free order's target at its own content; from then on it is B's order. */
    snprintf(path, sizeof path, "/v1/orders/%lld/locate", S.order_free);
    json_t *j = api_call(&S.srv, 200, "POST", path, S.keys[PLAT_B],
                         "{\"target\": 0, \"content_id\": \"b-own-1\"}");
    json_t *t = json_array_get(json_object_get(j, "content"), 0);
    assert_string_equal(api_jstr(t, "content_id"), "b-own-1");
    assert_true(json_is_true(json_object_get(t, "located")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/orders/%lld/execute", S.order_free);
    snprintf(msg, sizeof msg, "no order %lld", S.order_free);
    expect_hidden("POST", path, PLAT_A, NULL, msg);
    json_decref(api_call(&S.srv, 200, "POST", path, S.keys[PLAT_B], NULL));
}

static void probe_order_confirm(void)
{
    char path[96], msg[64], body[128];
    confirm_body(body, sizeof body);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", S.order_a);
    snprintf(msg, sizeof msg, "no order %lld", S.order_a);
    expect_hidden("POST", path, PLAT_B, body, msg);
    expect_hidden("POST", "/v1/orders/999999/confirm", PLAT_B, body, "no order 999999");
    json_t *j = api_call(&S.srv, 200, "POST", path, S.keys[PLAT_A], body);
    assert_string_equal(api_jstr(j, "state"), "confirmed");
    json_decref(j);
}

static void probe_order_media(void)
{
    char path[96], msg[64];
    snprintf(path, sizeof path, "/v1/orders/%lld/targets/0/media", S.order_a);
    snprintf(msg, sizeof msg, "no order %lld", S.order_a);
    api_resp r;
    api_request rq = {"PUT", path, S.keys[PLAT_B], "image/jpeg", "removed bytes", -1, 0, NULL};
    assert_int_equal(api_send(&S.srv, &rq, &r), 404);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(api_jstr(json_object_get(j, "error"), "message"), msg);
    json_decref(j);
    api_resp_free(&r);
    /* A reaches the evidence step (no master key in this test: 409), not a 404. */
    rq.key = S.keys[PLAT_A];
    long st = api_send(&S.srv, &rq, &r);
    if (st == 404 || st >= 500)
        fail_msg("A's media upload: %ld %s", st, r.body ? r.body : "");
    api_resp_free(&r);
}

static void probe_complaints_file(void)
{
    expect_hidden("POST", "/v1/complaints", PLAT_B,
                  "{\"content_id\": \"" A_ID "\", \"text\": \"not mine\"}",
                  "no content '" A_ID "'");
    expect_hidden("POST", "/v1/complaints", PLAT_B,
                  "{\"content_id\": \"zz-unknown\", \"text\": \"x\"}", "no content 'zz-unknown'");
    expect_hidden("POST", "/v1/complaints", PLAT_A, "{\"content_id\": \"adm-1\", \"text\": \"x\"}",
                  "no content 'adm-1'");
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/complaints", S.keys[PLAT_B],
                         "{\"content_id\": \"b-own-1\", \"text\": \"mine\"}");
    assert_string_equal(api_jstr(j, "content_id"), "b-own-1");
    json_decref(j);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/complaints", S.keys[MODERATOR],
                         "{\"content_id\": \"" A_ID "\", \"text\": \"by phone\"}"));
}

static void probe_complaint_get(void)
{
    char path[96], msg[64];
    snprintf(path, sizeof path, "/v1/complaints/%lld", S.complaint_a);
    snprintf(msg, sizeof msg, "no complaint %lld", S.complaint_a);
    expect_hidden("GET", path, PLAT_B, NULL, msg);
    expect_hidden("GET", "/v1/complaints/999999", PLAT_B, NULL, "no complaint 999999");
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[PLAT_A], NULL);
    assert_string_equal(api_jstr(j, "content_id"), A_ID);
    json_decref(j);
    json_decref(api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL));
}

static void probe_reports_submit(void)
{
    /* The content a report creates is the relaying platform's. */
    char path[128], content_id[64], msg[128];
    snprintf(path, sizeof path, "/v1/content/%s", S.report_content);
    snprintf(msg, sizeof msg, "no content '%s'", S.report_content);
    expect_hidden("GET", path, PLAT_B, NULL, msg);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[PLAT_A], NULL);
    assert_int_equal(api_jint(j, "platform_key"), S.key_ids[PLAT_A]);
    json_decref(j);
    relay_report(PLAT_B, "a message B relayed", content_id);
    snprintf(path, sizeof path, "/v1/content/%s", content_id);
    j = api_call(&S.srv, 200, "GET", path, S.keys[PLAT_B], NULL);
    assert_int_equal(api_jint(j, "platform_key"), S.key_ids[PLAT_B]);
    json_decref(j);
}

static void probe_report_get(void)
{
    char path[96], msg[64];
    snprintf(path, sizeof path, "/v1/reports/%lld", S.report_a);
    snprintf(msg, sizeof msg, "no report %lld", S.report_a);
    expect_hidden("GET", path, PLAT_B, NULL, msg);
    expect_hidden("GET", "/v1/reports/999999", PLAT_B, NULL, "no report 999999");
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[PLAT_A], NULL);
    assert_string_equal(api_jstr(j, "content_id"), S.report_content);
    json_decref(j);
    json_decref(api_call(&S.srv, 200, "GET", path, S.keys[PLAT_A2], NULL));
    json_decref(api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL));
}

/* ---- the walk ---- */

/* Every route a platform key may call: either a probe (it reads or acts on content) or a request
 * to send as B, whose answer must not mention A's content. */
/* HMA's upload routes: one file, as a video (its digests), in a multipart body. */
#define HMA_UPLOAD                                                                                 \
    "--B\r\nContent-Disposition: form-data; name=\"video\"; filename=\"v.mp4\"\r\n\r\n"            \
    "bytes\r\n--B--\r\n"

typedef struct platform_route {
    const char *method, *pattern;
    void (*probe)(void);
    const char *path, *ctype, *body; /* routes without content data */
} platform_route;

static const platform_route platform_routes[] = {
    {"POST", "/v1/content", probe_content_submit, NULL, NULL, NULL},
    {"GET", "/v1/content/{id}", probe_content_get, NULL, NULL, NULL},
    {"POST", "/v1/orders/{id}/execute", probe_order_execute, NULL, NULL, NULL},
    {"POST", "/v1/orders/{id}/locate", probe_order_locate, NULL, NULL, NULL},
    {"POST", "/v1/orders/{id}/confirm", probe_order_confirm, NULL, NULL, NULL},
    {"PUT", "/v1/orders/{id}/targets/{n}/media", probe_order_media, NULL, NULL, NULL},
    {"POST", "/v1/complaints", probe_complaints_file, NULL, NULL, NULL},
    {"GET", "/v1/complaints/{id}", probe_complaint_get, NULL, NULL, NULL},
    {"POST", "/v1/check", NULL, "/v1/check", "application/json", "{\"pdq\": \"" PDQ "\"}"},
    {"GET", "/v1/banks", NULL, "/v1/banks", NULL, NULL},
    {"GET", "/v1/banks/{name}", NULL, "/v1/banks/SCOPE_REVIEW", NULL, NULL},
    {"GET", "/h/hash", NULL, "/h/hash?url=https://example.org/x.jpg", NULL, NULL},
    {"GET", "/m/lookup", NULL, "/m/lookup?signal_type=pdq&signal=" PDQ, NULL, NULL},
    {"GET", "/m/raw_lookup", NULL, "/m/raw_lookup?signal_type=pdq&signal=" PDQ, NULL, NULL},
    {"POST", "/m/compare", NULL, "/m/compare", "application/json",
     "{\"pdq\": [\"" PDQ "\", \"" PDQ "\"]}"},
    {"POST", "/h/hash", NULL, "/h/hash", "multipart/form-data; boundary=B", HMA_UPLOAD},
    {"POST", "/m/lookup", NULL, "/m/lookup", "multipart/form-data; boundary=B", HMA_UPLOAD},
    {"GET", "/m/index/status", NULL, "/m/index/status", NULL, NULL},
    /* Who calls: the key's own record (every role). */
    {"GET", "/v1/me", NULL, "/v1/me", NULL, NULL},
    {"GET", "/c/banks", NULL, "/c/banks", NULL, NULL},
    {"GET", "/c/bank/{name}", NULL, "/c/bank/SCOPE_REVIEW", NULL, NULL},
    {"POST", "/v1/reports", probe_reports_submit, NULL, NULL, NULL},
    {"GET", "/v1/reports/{id}", probe_report_get, NULL, NULL, NULL},
    /* Franking answers from the request alone (docs/e2ee.md). */
    {"POST", "/v1/frank", NULL, "/v1/frank", "application/json",
     "{\"franking_tag\": \"" PDQ "\", \"sender\": \"b-user\", \"conversation\": \"b-room\", "
     "\"accepted_ms\": 1717200000000}"},
    /* Evidence orders address the operator: any platform key answers their evidence.collect. */
    {"PUT", "/v1/evidence-orders/{id}/data", NULL, "/v1/evidence-orders/eo-999999/data",
     "application/json", "{\"records\": [{\"category\": \"subscriber\"}]}"},
};

#define N_PLATFORM_ROUTES (sizeof platform_routes / sizeof platform_routes[0])

static int has_platform_role(const char *roles)
{
    const char *p = roles;
    size_t n = strlen("platform");
    while ((p = strstr(p, "platform")) != NULL) {
        if ((p == roles || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return 1;
        p += n;
    }
    return 0;
}

static void test_every_platform_route(void **state)
{
    (void)state;
    size_t n_routes, walked = 0;
    int seen[N_PLATFORM_ROUTES] = {0};
    const td_server_route_info *routes = td_server_routes(&n_routes);
    for (size_t i = 0; i < n_routes; i++) {
        if (!has_platform_role(routes[i].roles))
            continue;
        size_t k;
        for (k = 0; k < N_PLATFORM_ROUTES; k++)
            if (strcmp(platform_routes[k].method, routes[i].method) == 0 &&
                strcmp(platform_routes[k].pattern, routes[i].pattern) == 0)
                break;
        if (k == N_PLATFORM_ROUTES)
            fail_msg("%s %s admits platform keys: add it to platform_routes (a probe when it "
                     "reads or acts on content)",
                     routes[i].method, routes[i].pattern);
        const platform_route *pr = &platform_routes[k];
        seen[k] = 1;
        walked++;
        print_message("%s %s\n", pr->method, pr->pattern);
        if (pr->probe) {
            pr->probe();
            continue;
        }
        api_resp r;
        long st = api_http_ex(&S.srv, pr->method, pr->path, S.keys[PLAT_B], pr->ctype, pr->body, -1,
                              0, &r);
        if (st < 200 || st >= 500)
            fail_msg("%s %s as B: %ld %s", pr->method, pr->path, st, r.body ? r.body : "");
        expect_no_marker(pr->pattern, r.body);
        api_resp_free(&r);
    }
    /* The table has no stale rows: each names a platform route of the router. */
    for (size_t k = 0; k < N_PLATFORM_ROUTES; k++)
        if (!seen[k])
            fail_msg("platform_routes lists %s %s, which platform keys cannot call",
                     platform_routes[k].method, platform_routes[k].pattern);
    assert_int_equal(walked, N_PLATFORM_ROUTES);
}

/* ---- webhooks with owners ---- */

#define MAX_HOOKED 128

static struct {
    pthread_mutex_t lock;
    int n;
    char path[MAX_HOOKED][16];
    char body[MAX_HOOKED][4096];
} W = {PTHREAD_MUTEX_INITIALIZER, 0, {{0}}, {{0}}};

typedef struct hook_req {
    char body[4096];
    size_t len;
} hook_req;

static enum MHD_Result on_hook(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **ctx)
{
    (void)cls, (void)method, (void)version;
    hook_req *h = *ctx;
    if (!h) {
        *ctx = calloc(1, sizeof *h);
        return *ctx ? MHD_YES : MHD_NO;
    }
    if (*size) {
        size_t room = sizeof h->body - 1 - h->len;
        size_t n = *size < room ? *size : room;
        memcpy(h->body + h->len, data, n);
        h->len += n;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&W.lock);
    if (W.n < MAX_HOOKED) {
        snprintf(W.path[W.n], sizeof W.path[W.n], "%s", url);
        snprintf(W.body[W.n], sizeof W.body[W.n], "%s", h->body);
        W.n++;
    }
    pthread_mutex_unlock(&W.lock);
    static const char ok[] = "ok";
    struct MHD_Response *answer =
        MHD_create_response_from_buffer(2, (void *)ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 200, answer);
    MHD_destroy_response(answer);
    return ret;
}

static void on_hook_done(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    free(*ctx);
    *ctx = NULL;
}

/* Deliveries received at path of event (NULL: any) that name content_id. */
static int received(const char *path, const char *event, const char *content_id)
{
    char e[64], id[128];
    int n = 0;
    snprintf(e, sizeof e, "\"event\":\"%s\"", event ? event : "");
    snprintf(id, sizeof id, "\"%s\"", content_id);
    pthread_mutex_lock(&W.lock);
    for (int i = 0; i < W.n; i++)
        if (strcmp(W.path[i], path) == 0 && (!event || strstr(W.body[i], e)) &&
            strstr(W.body[i], id))
            n++;
    pthread_mutex_unlock(&W.lock);
    return n;
}

static int received_at(const char *path)
{
    int n = 0;
    pthread_mutex_lock(&W.lock);
    for (int i = 0; i < W.n; i++)
        n += strcmp(W.path[i], path) == 0;
    pthread_mutex_unlock(&W.lock);
    return n;
}

/* Waits until every delivery of webhook id (its log) arrived at path; returns their number. */
static int wait_delivered(long long id, const char *path)
{
    char url[96];
    snprintf(url, sizeof url, "/v1/webhooks/%lld/deliveries", id);
    double deadline = api_now_s() + 20;
    for (;;) {
        json_t *j = api_call(&S.srv, 200, "GET", url, S.keys[AUDITOR], NULL);
        json_t *list = json_object_get(j, "deliveries");
        int n = (int)json_array_size(list), done = 1;
        for (int i = 0; i < n; i++)
            done &= strcmp(api_jstr(json_array_get(list, i), "state"), "delivered") == 0;
        json_decref(j);
        if (done && received_at(path) == n)
            return n;
        if (api_now_s() > deadline)
            fail_msg("webhook %lld: %d deliveries logged, %d received at %s", id, n,
                     received_at(path), path);
        api_sleep_ms(50);
    }
}

static void test_webhook_owners(void **state)
{
    (void)state;
    const char *A = S.keys[ADMIN];
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_hook, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, on_hook_done, NULL, MHD_OPTION_END);
    assert_non_null(d);
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char body[512];
    /* The owner must be a valid platform key. */
    long long bad[] = {S.key_ids[MODERATOR], 999999};
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body,
                 "{\"url\": \"http://127.0.0.1:%u/x\", \"secret\": \"" HOOK_SECRET
                 "\", \"platform_key\": %lld}",
                 port, bad[i]);
        api_expect_error(&S.srv, 400, NULL, "POST", "/v1/webhooks", A, body);
    }
    snprintf(body, sizeof body,
             "{\"url\": \"http://127.0.0.1:%u/x\", \"secret\": \"" HOOK_SECRET
             "\", \"platform_key\": \"a\"}",
             port);
    api_expect_error(&S.srv, 400, "invalid_type", "POST", "/v1/webhooks", A, body);
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/webhooks", S.keys[PLAT_A], body);
    /* Three receivers: the operator's (no owner), A's and B's. */
    static const char *const paths[3] = {"/all", "/a", "/b"};
    long long owners[3] = {0, S.key_ids[PLAT_A], S.key_ids[PLAT_B]}, hook[3];
    for (int i = 0; i < 3; i++) {
        char owner[64] = "";
        if (owners[i])
            snprintf(owner, sizeof owner, ", \"platform_key\": %lld", owners[i]);
        snprintf(body, sizeof body,
                 "{\"url\": \"http://127.0.0.1:%u%s\", \"secret\": \"" HOOK_SECRET "\"%s}", port,
                 paths[i], owner);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/webhooks", A, body);
        hook[i] = api_jint(j, "id");
        if (owners[i])
            assert_int_equal(api_jint(j, "platform_key"), owners[i]);
        else
            assert_true(json_is_null(json_object_get(j, "platform_key")));
        json_decref(j);
    }
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/webhooks", S.keys[AUDITOR], NULL);
    json_t *list = json_object_get(j, "webhooks");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *w = json_array_get(list, i);
        for (int k = 0; k < 3; k++)
            if (api_jint(w, "id") == hook[k] && owners[k])
                assert_int_equal(api_jint(w, "platform_key"), owners[k]);
    }
    json_decref(j);

    /* Content events: match and case.opened of each platform's content, and of the admin's. */
    j = submit(PLAT_A, "a-hook-1", "ua", "https://a-platform.example/h/1", "n");
    long long case_a = api_jint(json_object_get(j, "case"), "id");
    json_decref(j);
    json_decref(submit(PLAT_B, "b-hook-1", "ub", "https://b-platform.example/h/1", "n"));
    json_decref(submit(ADMIN, "adm-hook-1", "uadm", "https://adm.example/h/1", "n"));
    /* A decision on A's content: case.decided and remove. */
    char path[96];
    snprintf(path, sizeof path, "/v1/cases/%lld/decision", case_a);
    json_decref(api_call(&S.srv, 201, "POST", path, S.keys[MODERATOR],
                         "{\"decision\": \"remove\", \"reason\": \"propaganda\"}"));
    /* Order events: an order on A's content goes to A only; one on content without an owner
     * goes to every webhook, as before owners existed. */
    long long order_a = send_order("BKA-HOOK-A", "a-hook-1", NULL);
    long long order_adm = send_order("BKA-HOOK-ADM", "adm-hook-1", NULL);
    int n_all = wait_delivered(hook[0], "/all");
    int n_a = wait_delivered(hook[1], "/a");
    int n_b = wait_delivered(hook[2], "/b");
    print_message("deliveries: %d to the operator, %d to A, %d to B\n", n_all, n_a, n_b);
    char cause_a[64], cause_adm[64];
    snprintf(cause_a, sizeof cause_a, "\"cause\":\"order:%lld\"", order_a);
    snprintf(cause_adm, sizeof cause_adm, "\"cause\":\"order:%lld\"", order_adm);

    static const char *const ids[3] = {"a-hook-1", "b-hook-1", "adm-hook-1"};
    for (int c = 0; c < 3; c++) {
        assert_int_equal(received("/all", "match", ids[c]), 1);
        assert_int_equal(received("/all", "case.opened", ids[c]), 1);
    }
    /* A hears about its content only (and the owner-less order). */
    assert_int_equal(received("/a", "match", "a-hook-1"), 1);
    assert_int_equal(received("/a", "case.opened", "a-hook-1"), 1);
    assert_int_equal(received("/a", "case.decided", "a-hook-1"), 1);
    assert_int_equal(received("/a", "remove", "a-hook-1"), 2); /* the decision, the order */
    assert_int_equal(received("/a", NULL, "b-hook-1"), 0);
    assert_int_equal(received("/a", "match", "adm-hook-1"), 0);
    assert_int_equal(received("/a", "case.opened", "adm-hook-1"), 0);
    assert_int_equal(received("/a", "remove", "adm-hook-1"), 1);
    /* B never hears of A's content. */
    assert_int_equal(received("/b", NULL, "a-hook-1"), 0);
    assert_int_equal(received("/b", "match", "b-hook-1"), 1);
    assert_int_equal(received("/b", "case.opened", "b-hook-1"), 1);
    assert_int_equal(received("/b", "match", "adm-hook-1"), 0);
    assert_int_equal(received("/b", "remove", "adm-hook-1"), 1);
    pthread_mutex_lock(&W.lock);
    for (int i = 0; i < W.n; i++) {
        if (strcmp(W.path[i], "/b") == 0 && strstr(W.body[i], cause_a))
            fail_msg("B received the order on A's content: %s", W.body[i]);
        if (strcmp(W.path[i], "/a") == 0 && strstr(W.body[i], "\"remove\"") &&
            strstr(W.body[i], "adm-hook-1") && !strstr(W.body[i], cause_adm))
            fail_msg("A received a content event of the admin's content: %s", W.body[i]);
    }
    pthread_mutex_unlock(&W.lock);
    assert_int_equal(n_a, 6);
    assert_int_equal(n_b, 3);
    MHD_stop_daemon(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_platform_route),
        cmocka_unit_test(test_webhook_owners),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
