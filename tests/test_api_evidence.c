/* Evidence custody over the CLI and HTTP, driven as an operator, custodians, an admin and an
 * auditor drive it: the real `takedown serve` runs as a child process on a loopback port over a
 * fresh data directory. Covered: an order confirmed before the evidence master key exists is
 * not preserved; `takedown evidence init` (before the next start) prints each custodian's share
 * once and refuses a second master key; the server's clock then preserves the order by itself;
 * an order confirmed afterwards is preserved at once; cases are listed as metadata only;
 * retention extended and a hold set and lifted; a release request needs k distinct custodians'
 * approvals (k - 1: 409; a wrong or mistyped share, a key that is no custodian's, or another
 * role: refused) and then returns the sealed content record once; every step is on the audit
 * log; /metrics carries the orders and evidence figures; the platform uploads a removed item's
 * bytes (checked against its SHA-256), which are sealed with the order's case and released. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/orders.h"

#define CONTENT_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
#define DAY_MS 86400000LL

/* API keys: the admin's (printed at first start) and those created by the test. Custodian keys
 * are named as the custodians; MALLORY has the custodian role but is no custodian. */
enum { ADMIN, PLATFORM, AUDITOR, BKA, ALICE, BOB, CAROL, MALLORY, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin",     "platform",  "auditor",   "authority",
                                              "custodian", "custodian", "custodian", "custodian"};
static const char *const key_names[N_KEYS] = {
    "admin", "upload-service", "auditor", "bka-desk", "alice", "bob", "carol", "mallory"};

static struct {
    api_server srv;
    char dir[4096];
    char keys[N_KEYS][128];
    long long key_ids[N_KEYS];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char shares[3][128];    /* alice, bob, carol: as `takedown evidence init` printed them */
    long long order_before; /* confirmed before the master key existed */
    long long order_after;  /* confirmed after */
    long long request;      /* the release request */
} S;

/* ---- the server process ---- */

/* Starts the server on a free port; admin receives the admin key printed at first start. */
static void server_start(char *admin, size_t cap)
{
    static const char *const flags[] = {"--http-threads", "4", NULL};
    api_server_start(&S.srv, S.dir, flags);
    snprintf(admin, cap, "%s", S.srv.admin);
}

/* ---- signed documents ---- */

/* Sends body signed with sk as the key `key`; returns the parsed answer. */
static json_t *send_signed(long expect, const char *path, int key, const unsigned char *sk,
                           const char *body)
{
    char sig[200];
    api_sign_header(sk, body, strlen(body), sig, sizeof sig);
    return api_call_ex(&S.srv, expect, "POST", path, S.keys[key], body, strlen(body), sig);
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
        assert_string_equal(api_jstr(j, "role"), key_roles[i]);
        S.key_ids[i] = api_jint(j, "id");
        json_decref(j);
    }
}

static int group_setup(void **state)
{
    (void)state;
    if (api_group_init(S.dir, sizeof S.dir, "api-evidence-data") != 0)
        return -1;
    server_start(S.keys[ADMIN], sizeof S.keys[ADMIN]);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    create_keys();
    crypto_sign_keypair(S.pk, S.sk);
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

/* Sends and confirms a removal order for content_id; returns its id and the confirmed order. */
static long long order_confirmed(const char *reference, const char *content_id, json_t **order)
{
    char body[4096], path[128], confirm[256], at[32];
    api_order_doc(body, sizeof body, "BKA", reference, content_id, NULL, NULL);
    json_t *j = send_signed(201, "/v1/orders", BKA, S.sk, body);
    long long id = api_jint(j, "id");
    json_decref(j);
    td_order_time_format(api_wall_ms(), at);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", id);
    snprintf(confirm, sizeof confirm, "{\"measure\": \"removed\", \"time\": \"%s\"}", at);
    j = api_call(&S.srv, 200, "POST", path, S.keys[PLATFORM], confirm);
    assert_string_equal(api_jstr(j, "state"), "confirmed");
    *order = j;
    return id;
}

static int order_preserved(long long id)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/orders/%lld", id);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    int preserved = json_is_true(json_object_get(j, "preserved"));
    json_decref(j);
    return preserved;
}

/* ---- tests ---- */

/* The authority, its key, the content; an order confirmed while no master key exists is not
 * preserved, and the evidence store says so. */
static void test_before_master(void **state)
{
    (void)state;
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], body[1024], announced[32];
    sodium_bin2hex(hex, sizeof hex, S.pk, sizeof S.pk);
    td_order_time_format(api_wall_ms() - 2 * DAY_MS, announced);
    snprintf(body, sizeof body,
             "{\"name\": \"BKA\", \"member_state\": \"DE\", \"contact\": \"ops@bka.example\", "
             "\"public_key\": \"%s\", \"announced_at\": \"%s\"}",
             hex, announced);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/authorities", S.keys[ADMIN], body);
    char path[128];
    snprintf(path, sizeof path, "/v1/authorities/%lld/keys", (long long)api_jint(j, "id"));
    json_decref(j);
    snprintf(body, sizeof body, "{\"key_id\": %lld}", S.key_ids[BKA]);
    json_decref(api_call(&S.srv, 201, "POST", path, S.keys[ADMIN], body));
    for (int i = 1; i <= 2; i++) {
        snprintf(body, sizeof body,
                 "{\"content_id\": \"vid-%d\", \"uploader\": \"user-%d\", \"url\": "
                 "\"https://video.example/watch/%d\", \"hashes\": {\"pdq\": \"" CONTENT_PDQ "\"}}",
                 i, i, i);
        json_decref(api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM], body));
    }

    S.order_before = order_confirmed("BKA-EV-1", "vid-1", &j);
    assert_true(json_is_false(json_object_get(j, "preserved")));
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/v1/evidence/cases", S.keys[AUDITOR], NULL);
    assert_true(json_is_false(json_object_get(json_object_get(j, "master"), "exists")));
    assert_int_equal(json_array_size(json_object_get(j, "cases")), 0);
    json_decref(j);
    /* Nothing to approve or release without a master key and a request. */
    api_expect_error(&S.srv, 404, "not_found", "POST", "/v1/evidence/releases/1/release",
                     S.keys[ADMIN], NULL);
}

/* `takedown evidence init` before the next start: one line per custodian with its share, a
 * warning that they are shown once; a second init is refused. The restarted server's clock
 * preserves the order confirmed earlier; an order confirmed now is preserved at once. */
static void test_init_then_preserved(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    char cmd[8400], out[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' evidence init --data '%s' --threshold 2 --custodians alice,bob,carol "
             "2>/dev/null",
             TD_CLI_PATH, S.dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "SHOWN ONCE"));
    static const char *const names[3] = {"alice", "bob", "carol"};
    int lines = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char name[64], share[160];
        if (l[0] == '#')
            continue;
        assert_int_equal(sscanf(l, "custodian %63s share %159s", name, share), 2);
        assert_true(lines < 3);
        assert_string_equal(name, names[lines]);
        assert_int_equal(strlen(share), 100);
        assert_memory_equal(share, "tdss1-", 6);
        assert_true(strlen(share) < sizeof S.shares[lines]);
        memcpy(S.shares[lines], share, strlen(share) + 1);
        lines++;
    }
    assert_int_equal(lines, 3);
    assert_string_not_equal(S.shares[0], S.shares[1]);
    /* Once only. */
    snprintf(cmd, sizeof cmd,
             "'%s' evidence init --data '%s' --threshold 2 --custodians x,y 2>/dev/null",
             TD_CLI_PATH, S.dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 1);
    assert_null(strstr(out, "tdss1-"));
    snprintf(cmd, sizeof cmd, "'%s' evidence status --data '%s'", TD_CLI_PATH, S.dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    json_t *st = json_loads(out, 0, NULL);
    assert_non_null(st);
    assert_true(json_is_true(json_object_get(st, "master")));
    assert_int_equal(api_jint(st, "threshold"), 2);
    assert_int_equal(json_array_size(json_object_get(st, "custodians")), 3);
    assert_null(strstr(out, "tdss1-"));
    json_decref(st);

    char admin[128];
    server_start(admin, sizeof admin);
    assert_string_equal(admin, "");
    double deadline = api_now_s() + 15;
    while (!order_preserved(S.order_before) && api_now_s() < deadline)
        api_sleep_ms(100);
    if (!order_preserved(S.order_before))
        fail_msg("order %lld not preserved by the clock within 15 s", S.order_before);

    json_t *j;
    S.order_after = order_confirmed("BKA-EV-2", "vid-2", &j);
    assert_true(json_is_true(json_object_get(j, "preserved")));
    json_decref(j);
}

/* Metadata only, for admins and auditors; retention extended, a hold set and lifted. */
static void test_cases_metadata(void **state)
{
    (void)state;
    char path[128], ref[64], body[512], until[32];
    snprintf(ref, sizeof ref, "order-%lld", S.order_before);
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/evidence/cases", S.keys[AUDITOR], NULL);
    json_t *m = json_object_get(j, "master");
    assert_true(json_is_true(json_object_get(m, "exists")));
    assert_int_equal(api_jint(m, "threshold"), 2);
    assert_int_equal(api_jint(m, "custodians"), 3);
    assert_int_equal(json_array_size(json_object_get(j, "cases")), 2);
    assert_int_equal(api_jint(json_object_get(j, "counts"), "items"), 2);
    json_decref(j);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/evidence/cases", S.keys[PLATFORM], NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/evidence/cases", S.keys[ALICE], NULL);

    snprintf(path, sizeof path, "/v1/evidence/cases/%s", ref);
    api_resp r;
    assert_int_equal(api_http(&S.srv, "GET", path, S.keys[AUDITOR], NULL, &r), 200);
    /* Never the content: not the uploader, not the record. */
    assert_null(strstr(r.body, "user-1"));
    assert_null(strstr(r.body, "content_base64"));
    j = api_parse_or_fail("GET", path, &r);
    api_resp_free(&r);
    assert_string_equal(api_jstr(j, "case"), ref);
    assert_true(json_is_false(json_object_get(j, "hold")));
    assert_true(json_is_null(json_object_get(j, "purged_at")));
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(api_jstr(json_array_get(items, 0), "label"), "vid-1");
    assert_true(api_jint(json_array_get(items, 0), "bytes") > 0);
    /* Six months after the removal. */
    json_int_t retain = api_jint(j, "retain_until_ms");
    assert_true(retain > api_wall_ms() + 180 * DAY_MS && retain < api_wall_ms() + 190 * DAY_MS);
    json_decref(j);
    api_expect_error(&S.srv, 404, "not_found", "GET", "/v1/evidence/cases/order-999999",
                     S.keys[ADMIN], NULL);

    /* An authority asks for a longer retention: never shortened. */
    snprintf(path, sizeof path, "/v1/evidence/cases/%s/extend", ref);
    td_order_time_format(api_wall_ms() + 400 * DAY_MS, until);
    snprintf(body, sizeof body, "{\"until\": \"%s\", \"reason\": \"BKA request 2024-77\"}", until);
    api_expect_error(&S.srv, 403, "forbidden", "POST", path, S.keys[AUDITOR], body);
    j = api_call(&S.srv, 200, "POST", path, S.keys[ADMIN], body);
    json_int_t extended = api_jint(j, "retain_until_ms");
    assert_true(extended >= api_wall_ms() + 399 * DAY_MS);
    json_decref(j);
    td_order_time_format(api_wall_ms() + DAY_MS, until);
    snprintf(body, sizeof body, "{\"until\": \"%s\", \"reason\": \"shorter\"}", until);
    j = api_call(&S.srv, 200, "POST", path, S.keys[ADMIN], body);
    assert_int_equal(api_jint(j, "retain_until_ms"), extended);
    json_decref(j);
    api_expect_error(&S.srv, 400, "missing_field", "POST", path, S.keys[ADMIN],
                     "{\"until\": \"2030-01-01T00:00:00Z\"}");

    snprintf(path, sizeof path, "/v1/evidence/cases/%s/hold", ref);
    j = api_call(&S.srv, 200, "POST", path, S.keys[ADMIN], "{\"reason\": \"proceedings pending\"}");
    assert_true(json_is_true(json_object_get(j, "hold")));
    json_decref(j);
    j = api_call(&S.srv, 200, "POST", path, S.keys[ADMIN],
                 "{\"hold\": false, \"reason\": \"closed\"}");
    assert_true(json_is_false(json_object_get(j, "hold")));
    json_decref(j);
    api_expect_error(&S.srv, 403, "forbidden", "POST", path, S.keys[BOB], "{\"reason\": \"x\"}");
}

static void approve(long expect, const char *code, int key, const char *share)
{
    char path[128], body[512];
    snprintf(path, sizeof path, "/v1/evidence/releases/%lld/approvals", S.request);
    snprintf(body, sizeof body, "{\"share\": \"%s\"}", share);
    if (code) {
        api_expect_error(&S.srv, expect, code, "POST", path, S.keys[key], body);
    } else {
        json_t *j = api_call(&S.srv, expect, "POST", path, S.keys[key], body);
        json_decref(j);
    }
}

/* k of n: a request, refusals, k - 1 approvals are not enough, k are; the content comes back
 * once. */
/* The release request id in GET /v1/evidence/releases?state=<state> as `key`: its object
 * (borrowed from *list, json_decref it), or NULL when it is not listed. */
static json_t *listed(const char *state, int key, long long id, json_t **list)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/evidence/releases?state=%s&limit=200", state);
    *list = api_call(&S.srv, 200, "GET", path, S.keys[key], NULL);
    json_t *arr = json_object_get(*list, "releases"), *v;
    size_t i;
    json_array_foreach(arr, i, v)
    {
        if (api_jint(v, "id") == id)
            return v;
    }
    return NULL;
}

/* The request is listed under `state` (and its approvals are `approvals` of 2) and under no
 * other state but "all", for an admin, an auditor and a custodian alike. */
static void expect_listed(const char *state, long long id, int approvals)
{
    static const char *const states[] = {"pending", "approved", "released", "all"};
    static const int readers[] = {ADMIN, AUDITOR, BOB};
    for (size_t r = 0; r < 3; r++)
        for (size_t s = 0; s < 4; s++) {
            json_t *list;
            json_t *v = listed(states[s], readers[r], id, &list);
            int want = strcmp(states[s], state) == 0 || strcmp(states[s], "all") == 0;
            if (!want != !v)
                fail_msg("release %lld %s listed under %s", id, v ? "is" : "is not", states[s]);
            if (v) {
                assert_string_equal(api_jstr(v, "state"), state);
                assert_int_equal(api_jint(v, "approvals"), approvals);
                assert_int_equal(api_jint(v, "needed"), 2);
            }
            json_decref(list);
        }
}

static void test_release(void **state)
{
    (void)state;
    char body[1024], path[128], ref[64];
    snprintf(ref, sizeof ref, "order-%lld", S.order_before);
    snprintf(body, sizeof body,
             "{\"requester\": \"BKA (Kommissarin Weber)\", \"legal_basis\": \"European "
             "Production Order EPOC-2024-17\", \"purpose\": \"criminal investigation of the "
             "uploader\", \"case\": \"%s\"}",
             ref);
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/evidence/releases", S.keys[AUDITOR],
                     body);
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/evidence/releases", S.keys[ALICE],
                     body);
    api_expect_error(&S.srv, 400, "missing_field", "POST", "/v1/evidence/releases", S.keys[ADMIN],
                     "{\"requester\": \"x\", \"case\": \"order-1\"}");
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/evidence/releases", S.keys[ADMIN], body);
    S.request = api_jint(j, "id");
    assert_true(S.request > 0);
    assert_string_equal(api_jstr(j, "state"), "open");
    assert_int_equal(api_jint(j, "needed"), 2);
    assert_int_equal(api_jint(j, "approvals"), 0);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/evidence/releases/%lld/release", S.request);
    /* Listed as pending, to admins, auditors and custodians only. */
    expect_listed("pending", S.request, 0);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/evidence/releases", S.keys[PLATFORM],
                     NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/evidence/releases", S.keys[BKA], NULL);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/evidence/releases?state=open",
                     S.keys[ADMIN], NULL);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/evidence/releases?limit=201",
                     S.keys[ADMIN], NULL);
    json_t *dflt;
    assert_non_null(listed("pending", ADMIN, S.request, &dflt));
    json_decref(dflt);
    dflt = api_call(&S.srv, 200, "GET", "/v1/evidence/releases", S.keys[ALICE], NULL);
    assert_int_equal(api_jint(json_array_get(json_object_get(dflt, "releases"), 0), "id"),
                     S.request); /* the default: pending, newest first */
    json_decref(dflt);

    /* No approval yet. */
    api_expect_error(&S.srv, 409, "not_approved", "POST", path, S.keys[ADMIN], NULL);
    /* Refusals: another custodian's share, a mistyped share, a custodian key that is nobody's,
     * roles that do not approve. */
    approve(403, "share_refused", ALICE, S.shares[1]);
    char typo[128];
    snprintf(typo, sizeof typo, "%s", S.shares[0]);
    typo[40] = typo[40] == 'a' ? 'b' : 'a';
    approve(400, "invalid_share", ALICE, typo);
    approve(403, "not_a_custodian", MALLORY, S.shares[0]);
    approve(403, "forbidden", ADMIN, S.shares[0]);
    approve(403, "forbidden", AUDITOR, S.shares[0]);
    approve(400, "missing_field", ALICE, "");

    /* k - 1 = 1 approval (twice by the same custodian is still one). */
    char apath[128];
    snprintf(apath, sizeof apath, "/v1/evidence/releases/%lld/approvals", S.request);
    snprintf(body, sizeof body, "{\"share\": \"%s\"}", S.shares[0]);
    j = api_call(&S.srv, 200, "POST", apath, S.keys[ALICE], body);
    assert_int_equal(api_jint(j, "approvals"), 1);
    assert_int_equal(api_jint(j, "needed"), 2);
    assert_true(json_is_false(json_object_get(j, "ready")));
    assert_string_equal(api_jstr(j, "custodian"), "alice");
    json_decref(j);
    j = api_call(&S.srv, 200, "POST", apath, S.keys[ALICE], body);
    assert_int_equal(api_jint(j, "approvals"), 1);
    json_decref(j);
    expect_listed("pending", S.request, 1);
    j = api_call(&S.srv, 409, "POST", path, S.keys[ADMIN], NULL);
    assert_int_equal(api_jint(j, "approvals"), 1);
    assert_int_equal(api_jint(j, "needed"), 2);
    json_decref(j);
    /* The release itself is an admin's. */
    api_expect_error(&S.srv, 403, "forbidden", "POST", path, S.keys[BOB], NULL);

    /* The second custodian: k approvals. */
    snprintf(body, sizeof body, "{\"share\": \"%s\"}", S.shares[2]);
    j = api_call(&S.srv, 200, "POST", apath, S.keys[CAROL], body);
    assert_int_equal(api_jint(j, "approvals"), 2);
    assert_true(json_is_true(json_object_get(j, "ready")));
    json_decref(j);
    expect_listed("approved", S.request, 2);

    j = api_call(&S.srv, 200, "POST", path, S.keys[ADMIN], NULL);
    expect_listed("released", S.request, 2);
    assert_string_equal(api_jstr(j, "case"), ref);
    assert_non_null(strstr(api_jstr(j, "legal_basis"), "EPOC-2024-17"));
    assert_non_null(strstr(api_jstr(j, "purpose"), "criminal investigation"));
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *item = json_array_get(items, 0);
    assert_string_equal(api_jstr(item, "label"), "vid-1");
    const char *b64 = api_jstr(item, "content_base64");
    assert_non_null(b64);
    unsigned char content[8192];
    size_t len = 0;
    assert_int_equal(sodium_base642bin(content, sizeof content - 1, b64, strlen(b64), NULL, &len,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal((json_int_t)len, api_jint(item, "bytes"));
    content[len] = '\0';
    /* The content record of what was removed. */
    json_t *rec = json_loads((const char *)content, 0, NULL);
    assert_non_null(rec);
    assert_string_equal(api_jstr(rec, "content_id"), "vid-1");
    assert_string_equal(api_jstr(rec, "url"), "https://video.example/watch/1");
    assert_string_equal(api_jstr(rec, "uploader"), "user-1");
    json_decref(rec);
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    crypto_hash_sha256(digest, content, len);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    assert_string_equal(api_jstr(item, "sha256"), hex);
    /* The related data: the order. */
    json_t *rel = json_object_get(item, "related");
    assert_int_equal(api_jint(json_object_get(rel, "order"), "id"), S.order_before);
    json_decref(j);

    /* Once only. */
    api_expect_error(&S.srv, 409, "conflict", "POST", path, S.keys[ADMIN], NULL);
    approve(409, "conflict", BOB, S.shares[1]);
    snprintf(body, sizeof body, "{\"share\": \"%s\"}", S.shares[1]);
    api_expect_error(&S.srv, 404, "not_found", "POST", "/v1/evidence/releases/999999/approvals",
                     S.keys[BOB], body);
}

/* Every step is an entry of the audit log (read back through inclusion proofs). */
static void test_audit_entries(void **state)
{
    (void)state;
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/log/checkpoint", NULL, NULL);
    json_int_t size = api_jint(json_object_get(j, "checkpoint"), "size");
    json_decref(j);
    assert_true(size > 10);
    static const char *const wanted[] = {
        "evidence.master.create", "evidence.seal",    "evidence.extend",  "evidence.hold",
        "evidence.release_hold",  "evidence.request", "evidence.approve", "evidence.release"};
    int count[sizeof wanted / sizeof wanted[0]] = {0};
    for (json_int_t seq = 0; seq < size; seq++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/log/proof/inclusion?seq=%lld&size=%lld", (long long)seq,
                 (long long)size);
        j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
        json_t *entry = json_loads(api_jstr(j, "entry"), 0, NULL);
        assert_non_null(entry);
        const char *action = api_jstr(entry, "action");
        for (size_t w = 0; w < sizeof wanted / sizeof wanted[0]; w++)
            if (strcmp(action, wanted[w]) == 0)
                count[w]++;
        if (strcmp(action, "evidence.release") == 0) {
            assert_string_equal(api_jstr(entry, "actor"), "admin");
            assert_non_null(strstr(api_jstr(entry, "details"), "EPOC-2024-17"));
        }
        if (strcmp(action, "evidence.request") == 0)
            assert_non_null(strstr(api_jstr(entry, "details"), "criminal investigation"));
        json_decref(entry);
        json_decref(j);
    }
    static const int expect[] = {1, 2, 2, 1, 1, 1, 3, 1};
    for (size_t w = 0; w < sizeof wanted / sizeof wanted[0]; w++)
        if (count[w] != expect[w])
            fail_msg("audit log: %d entries '%s', expected %d", count[w], wanted[w], expect[w]);
}

/* GET /v1/log/entries: every entry, paged both ways, equals what the inclusion proof route gives
 * for it (the canonical text its leaf hashes, and the fields in it); the action filter counts
 * what test_audit_entries counted through the proofs. */
static void test_log_entries(void **state)
{
    (void)state;
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/log/checkpoint", NULL, NULL);
    json_int_t size = api_jint(json_object_get(j, "checkpoint"), "size");
    json_decref(j);
    char path[160];
    /* Ascending, 7 a page, from the first. */
    long long after = -1, seen = 0;
    for (;;) {
        snprintf(path, sizeof path, "/v1/log/entries?after=%lld&limit=7", after);
        j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
        assert_string_equal(api_jstr(j, "order"), "ascending");
        assert_true(api_jint(j, "size") >= size);
        json_t *arr = json_object_get(j, "entries"), *e;
        size_t i;
        json_array_foreach(arr, i, e)
        {
            long long seq = api_jint(e, "seq");
            assert_int_equal(seq, after + 1);
            after = seq;
            if (seq >= size)
                continue; /* entries appended since the checkpoint was read */
            seen++;
            char ipath[128];
            snprintf(ipath, sizeof ipath, "/v1/log/proof/inclusion?seq=%lld&size=%lld", seq,
                     (long long)size);
            json_t *p = api_call(&S.srv, 200, "GET", ipath, S.keys[ADMIN], NULL);
            assert_string_equal(api_jstr(e, "canonical"), api_jstr(p, "entry"));
            json_t *entry = json_loads(api_jstr(p, "entry"), 0, NULL);
            assert_non_null(entry);
            static const char *const fields[] = {"actor", "action", "object", "details"};
            for (size_t f = 0; f < 4; f++)
                assert_string_equal(api_jstr(e, fields[f]), api_jstr(entry, fields[f]));
            assert_int_equal(api_jint(e, "time_ms"), api_jint(entry, "time_ms"));
            json_decref(entry);
            json_decref(p);
        }
        json_t *next = json_object_get(j, "next_after");
        int more = json_is_integer(next);
        if (more)
            assert_int_equal(json_integer_value(next), after);
        else
            assert_true(json_array_size(arr) < 7);
        json_decref(j);
        if (!more)
            break;
    }
    assert_int_equal(seen, size);
    /* Newest first, 5 a page: the same sequence numbers backwards. */
    long long before = -1, expect = -1;
    for (;;) {
        if (before < 0)
            snprintf(path, sizeof path, "/v1/log/entries?limit=5");
        else
            snprintf(path, sizeof path, "/v1/log/entries?before=%lld&limit=5", before);
        j = api_call(&S.srv, 200, "GET", path, S.keys[ADMIN], NULL);
        assert_string_equal(api_jstr(j, "order"), "newest_first");
        json_t *arr = json_object_get(j, "entries"), *e;
        size_t i;
        json_array_foreach(arr, i, e)
        {
            long long seq = api_jint(e, "seq");
            if (expect >= 0)
                assert_int_equal(seq, expect);
            expect = seq - 1;
            before = seq;
        }
        int more = json_is_integer(json_object_get(j, "next_before"));
        json_decref(j);
        if (!more)
            break;
    }
    assert_int_equal(expect, -1);
    /* The action filter: three approvals, as the proofs showed. */
    j = api_call(&S.srv, 200, "GET", "/v1/log/entries?after=-1&action=evidence.approve&limit=500",
                 S.keys[AUDITOR], NULL);
    json_t *arr = json_object_get(j, "entries"), *e;
    size_t i;
    assert_int_equal(json_array_size(arr), 3);
    json_array_foreach(arr, i, e) assert_string_equal(api_jstr(e, "action"), "evidence.approve");
    json_decref(j);
    /* Roles and limits. */
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/log/entries", S.keys[PLATFORM], NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/log/entries", S.keys[ALICE], NULL);
    api_expect_error(&S.srv, 401, NULL, "GET", "/v1/log/entries", NULL, NULL);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/log/entries?limit=501",
                     S.keys[ADMIN], NULL);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/log/entries?after=1&before=5",
                     S.keys[ADMIN], NULL);
}

/* The value of the sample `series` (name with its labels, as written) in a metrics text. */
static double metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, series, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    fail_msg("/metrics: no sample %s", series);
    return -1;
}

/* The orders and evidence figures in /metrics, with an open order and an open complaint. */
static void test_metrics(void **state)
{
    (void)state;
    char body[4096];
    api_order_doc(body, sizeof body, "BKA", "BKA-EV-3", "vid-unknown", NULL, NULL);
    json_decref(send_signed(201, "/v1/orders", BKA, S.sk, body));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/complaints", S.keys[PLATFORM],
                         "{\"content_id\": \"vid-2\", \"text\": \"this was satire\"}"));
    api_resp r;
    assert_int_equal(api_http(&S.srv, "GET", "/metrics", NULL, NULL, &r), 200);
    const char *m = r.body;
    const char *h = "takedown_order_receipt_to_removal_seconds";
    char series[160];
    snprintf(series, sizeof series, "%s_count", h);
    assert_true(metric(m, series) == 2);
    snprintf(series, sizeof series, "%s_bucket{le=\"+Inf\"}", h);
    assert_true(metric(m, series) == 2);
    /* Both were confirmed within seconds of their receipt. */
    snprintf(series, sizeof series, "%s_bucket{le=\"60\"}", h);
    assert_true(metric(m, series) == 2);
    snprintf(series, sizeof series, "%s_sum", h);
    assert_true(metric(m, series) >= 0 && metric(m, series) < 120);
    assert_non_null(strstr(m, "# TYPE takedown_order_receipt_to_removal_seconds histogram"));
    assert_true(metric(m, "takedown_orders_open{state=\"received\"}") +
                    metric(m, "takedown_orders_open{state=\"executed\"}") +
                    metric(m, "takedown_orders_open{state=\"paused\"}") ==
                1);
    assert_true(metric(m, "takedown_order_breaches_total") == 0);
    assert_true(metric(m, "takedown_order_escalations") == 0);
    assert_true(metric(m, "takedown_orders_open_escalated") == 0);
    assert_true(metric(m, "takedown_complaints_open") == 1);
    assert_true(metric(m, "takedown_complaints_overdue") == 0);
    assert_true(metric(m, "takedown_orders_unpreserved") == 0);
    assert_true(metric(m, "takedown_evidence_master") == 1);
    assert_true(metric(m, "takedown_evidence_cases{state=\"retained\"}") == 2);
    assert_true(metric(m, "takedown_evidence_cases{state=\"held\"}") == 0);
    assert_true(metric(m, "takedown_evidence_cases{state=\"purged\"}") == 0);
    assert_true(metric(m, "takedown_evidence_items") == 2);
    assert_true(metric(m, "takedown_evidence_requests_open") == 0);
    assert_true(metric(m, "takedown_evidence_preservation_retries_total") >= 1);
    api_resp_free(&r);
}

/* ---- the removed media ---- */

/* PUT one target's media bytes; returns the parsed answer (expect: its status). */
static json_t *put_media(long expect, long long order, int target, int key, const void *bytes,
                         size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/orders/%lld/targets/%d/media", order, target);
    api_request rq = {"PUT", path,      S.keys[key], "application/octet-stream",
                      bytes, (long)len, 0,           NULL};
    return api_call_req(&S.srv, expect, &rq);
}

/* The platform uploads the removed bytes (before its confirmation), checked against the
 * content's SHA-256; they are sealed with the order's case, listed as an item, released with
 * k of n custodians (base64) and on the audit log. */
static void test_media(void **state)
{
    (void)state;
    static const unsigned char media[] = "\x00\x01\x02 the removed video's bytes \xff\xfe";
    static const unsigned char other[] = "not the same bytes at all";
    const size_t len = sizeof media - 1;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char sha[2 * crypto_hash_sha256_BYTES + 1], other_sha[2 * crypto_hash_sha256_BYTES + 1];
    crypto_hash_sha256(digest, media, len);
    sodium_bin2hex(sha, sizeof sha, digest, sizeof digest);
    crypto_hash_sha256(digest, other, sizeof other - 1);
    sodium_bin2hex(other_sha, sizeof other_sha, digest, sizeof digest);
    char body[4096], path[160];
    snprintf(body, sizeof body,
             "{\"content_id\": \"vid-m\", \"uploader\": \"user-m\", \"url\": "
             "\"https://video.example/watch/m\", \"hashes\": {\"sha256\": \"%s\"}}",
             sha);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM], body));
    api_order_doc(body, sizeof body, "BKA", "BKA-EV-M", "vid-m", NULL, NULL);
    json_t *j = send_signed(201, "/v1/orders", BKA, S.sk, body);
    long long id = api_jint(j, "id");
    assert_true(json_is_true(json_object_get(j, "executed")));
    json_decref(j);

    /* Not the content: 422 naming both hashes; nothing sealed. */
    snprintf(path, sizeof path, "/v1/orders/%lld/targets/0/media", id);
    j = put_media(422, id, 0, PLATFORM, other, sizeof other - 1);
    json_t *e = json_object_get(j, "error");
    assert_string_equal(api_jstr(e, "code"), "hash_mismatch");
    assert_string_equal(api_jstr(e, "algorithm"), "sha256");
    assert_string_equal(api_jstr(e, "received"), other_sha);
    assert_string_equal(api_jstr(e, "expected"), sha);
    assert_non_null(strstr(api_jstr(e, "message"), sha));
    assert_non_null(strstr(api_jstr(e, "message"), other_sha));
    json_decref(j);
    /* Roles, a target that does not exist, an empty body. */
    api_request rq = {"PUT", path, S.keys[AUDITOR], "application/octet-stream", media, (long)len,
                      0,     NULL};
    api_expect_error_req(&S.srv, 403, "forbidden", NULL, &rq);
    rq.key = S.keys[BKA];
    api_expect_error_req(&S.srv, 403, "forbidden", NULL, &rq);
    rq.key = S.keys[ALICE];
    api_expect_error_req(&S.srv, 403, "forbidden", NULL, &rq);
    json_decref(put_media(404, id, 5, PLATFORM, media, len));
    json_decref(put_media(404, 999999, 0, PLATFORM, media, len));
    rq.key = S.keys[PLATFORM];
    rq.body = NULL;
    rq.len = 0;
    api_expect_error_req(&S.srv, 400, "empty_body", NULL, &rq);

    /* Before the confirmation: sealed. Again: 200, the same item. */
    j = put_media(201, id, 0, PLATFORM, media, len);
    assert_int_equal(api_jint(j, "order_id"), id);
    assert_int_equal(api_jint(j, "target"), 0);
    assert_string_equal(api_jstr(j, "content_id"), "vid-m");
    assert_string_equal(api_jstr(j, "sha256"), sha);
    assert_string_equal(api_jstr(j, "verified"), "sha256");
    assert_int_equal(api_jint(j, "bytes"), (json_int_t)len);
    assert_true(json_is_false(json_object_get(j, "duplicate")));
    json_int_t item = api_jint(j, "evidence_item");
    char ref[64];
    snprintf(ref, sizeof ref, "order-%lld", id);
    assert_string_equal(api_jstr(j, "evidence_case"), ref);
    json_decref(j);
    j = put_media(200, id, 0, PLATFORM, media, len);
    assert_true(json_is_true(json_object_get(j, "duplicate")));
    assert_int_equal(api_jint(j, "evidence_item"), item);
    json_decref(j);

    /* The platform confirms; the order shows the media next to the sealed record. */
    char confirm[256], at[32];
    td_order_time_format(api_wall_ms(), at);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", id);
    snprintf(confirm, sizeof confirm, "{\"measure\": \"removed\", \"time\": \"%s\"}", at);
    j = api_call(&S.srv, 200, "POST", path, S.keys[PLATFORM], confirm);
    assert_true(json_is_true(json_object_get(j, "preserved")));
    json_t *t0 = json_array_get(json_object_get(j, "content"), 0);
    assert_int_equal(api_jint(t0, "media_item"), item);
    assert_string_equal(api_jstr(t0, "media_sha256"), sha);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/evidence/cases/%s", ref);
    j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(api_jint(json_array_get(items, 0), "id"), item);
    assert_string_equal(api_jstr(json_array_get(items, 0), "label"), "media:vid-m");
    assert_int_equal(api_jint(json_array_get(items, 0), "bytes"), (json_int_t)len);
    assert_string_equal(api_jstr(json_array_get(items, 1), "label"), "vid-m");
    json_decref(j);

    /* Released with k of n custodians: the bytes themselves, in base64. */
    snprintf(body, sizeof body,
             "{\"requester\": \"BKA\", \"legal_basis\": \"EPOC-2024-18\", \"purpose\": "
             "\"the video itself\", \"case\": \"%s\", \"items\": [%lld]}",
             ref, (long long)item);
    j = api_call(&S.srv, 201, "POST", "/v1/evidence/releases", S.keys[ADMIN], body);
    long long req = api_jint(j, "id");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/evidence/releases/%lld/approvals", req);
    for (int c = 0; c < 2; c++) {
        snprintf(body, sizeof body, "{\"share\": \"%s\"}", S.shares[c]);
        json_decref(api_call(&S.srv, 200, "POST", path, S.keys[ALICE + c], body));
    }
    snprintf(path, sizeof path, "/v1/evidence/releases/%lld/release", req);
    j = api_call(&S.srv, 200, "POST", path, S.keys[ADMIN], NULL);
    items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *it = json_array_get(items, 0);
    assert_string_equal(api_jstr(it, "label"), "media:vid-m");
    assert_string_equal(api_jstr(it, "sha256"), sha);
    const char *b64 = api_jstr(it, "content_base64");
    unsigned char got[256];
    size_t got_len = 0;
    assert_int_equal(sodium_base642bin(got, sizeof got, b64, strlen(b64), NULL, &got_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, media, len);
    json_t *rel = json_object_get(it, "related");
    assert_string_equal(api_jstr(rel, "kind"), "media");
    assert_string_equal(api_jstr(rel, "content_type"), "application/octet-stream");
    assert_string_equal(api_jstr(rel, "uploaded_by"), "upload-service");
    assert_string_equal(api_jstr(rel, "verified"), "sha256");
    json_decref(j);

    /* On the audit log: the sealing and the upload. */
    j = api_call(&S.srv, 200, "GET", "/v1/log/checkpoint", NULL, NULL);
    json_int_t size = api_jint(json_object_get(j, "checkpoint"), "size");
    json_decref(j);
    int uploads = 0;
    for (json_int_t seq = size - 1; seq >= 0 && seq >= size - 40; seq--) {
        snprintf(path, sizeof path, "/v1/log/proof/inclusion?seq=%lld&size=%lld", (long long)seq,
                 (long long)size);
        j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
        json_t *entry = json_loads(api_jstr(j, "entry"), 0, NULL);
        if (strcmp(api_jstr(entry, "action"), "order.media_preserved") == 0) {
            uploads++;
            assert_string_equal(api_jstr(entry, "actor"), "upload-service");
            assert_non_null(strstr(api_jstr(entry, "details"), sha));
        }
        json_decref(entry);
        json_decref(j);
    }
    assert_int_equal(uploads, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_master),  cmocka_unit_test(test_init_then_preserved),
        cmocka_unit_test(test_cases_metadata), cmocka_unit_test(test_release),
        cmocka_unit_test(test_audit_entries),  cmocka_unit_test(test_log_entries),
        cmocka_unit_test(test_metrics),        cmocka_unit_test(test_media),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
