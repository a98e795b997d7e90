/* The HTTP API, driven as a platform drives it: the real `takedown serve` runs as a child process
 * on a loopback port over a fresh data directory, and every route is called over HTTP with
 * libcurl. Covered: every route and role (the forbidden cases from the route table itself), the
 * error statuses, the OpenAPI document against the router, webhooks retried against a receiver
 * that fails first (signatures checked with OpenSSL), concurrent checks while signals change,
 * and a restart on the same data directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/server.h"

#define BRIDGE_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
/* A hash no test image is near: the block bank's signal. */
#define BLOCK_PDQ "9c6b2d0e5f7a18c3b4e1d2f60a8b7c9d3e2f1a0b5c4d6e7f8091a2b3c4d5e6f7"
#define DIH "threatexchange/pdq/data/reg-test-input/dih/"
#define WEBHOOK_SECRET "0123456789abcdef-test-secret"

enum { ADMIN, MODERATOR, PLATFORM, AUDITOR, MODERATOR2, N_KEYS };
static const char *const role_names[N_KEYS] = {"admin", "moderator", "platform", "auditor",
                                               "moderator"};

static struct {
    api_server srv;
    char dir[4096];
    char keys[N_KEYS][128];
} S;

/* ---- the server process ---- */

/* Starts the server; *admin receives the admin key when this start created one. */
static void server_start(char *admin, size_t cap)
{
    static const char *const flags[] = {"--webhook-allow-private", "1", "--webhook-backoff-base-ms",
                                        "100", "--max-body-bytes", "65536", "--max-media-bytes",
                                        "8M", "--max-import-bytes", "16M", "--http-threads", "4",
                                        /* the auth matrix calls every route without a key */
                                        "--rate-limit-unauthenticated", "1000", NULL};
    api_server_start(&S.srv, S.dir, flags);
    if (admin)
        snprintf(admin, cap, "%s", S.srv.admin);
}

/* ---- fixtures ---- */

static void create_keys(void)
{
    for (int i = 1; i < N_KEYS; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"%s-%d\"}", role_names[i],
                 role_names[i], i);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.keys[ADMIN], body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", api_jstr(j, "key"));
        assert_string_equal(api_jstr(j, "role"), role_names[i]);
        json_decref(j);
    }
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(S.dir, sizeof S.dir, "%s", temp_path("api-data"));
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", S.dir);
    if (system(cmd) != 0)
        return -1;
    server_start(S.keys[ADMIN], sizeof S.keys[ADMIN]);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    create_keys();
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

/* ---- tests ---- */

static void test_probes(void **state)
{
    (void)state;
    json_t *j = api_call(&S.srv, 200, "GET", "/healthz", NULL, NULL);
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/readyz", NULL, NULL);
    assert_string_equal(api_jstr(j, "status"), "ready");
    json_decref(j);
    api_resp r;
    assert_int_equal(api_http(&S.srv, "GET", "/status", NULL, NULL, &r), 200);
    assert_string_equal(r.body, "I-AM-ALIVE");
    api_resp_free(&r);
    assert_int_equal(api_http(&S.srv, "GET", "/metrics", NULL, NULL, &r), 200);
    assert_non_null(
        strstr(r.body, "takedown_http_requests_total{method=\"GET\",route=\"/healthz\""));
    assert_non_null(strstr(r.body, "takedown_index_entries{type=\"pdq\"}"));
    assert_non_null(strstr(r.body, "takedown_webhook_queue_depth"));
    assert_non_null(strstr(r.body, "takedown_http_request_duration_seconds_bucket"));
    api_resp_free(&r);
    /* The served document is the one in the tree. */
    size_t len;
    uint8_t *doc = read_all(TD_SOURCE_DIR "/docs/openapi.yaml", &len);
    assert_int_equal(api_http(&S.srv, "GET", "/v1/openapi.yaml", NULL, NULL, &r), 200);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, doc, len);
    free(doc);
    api_resp_free(&r);
}

/* Roles of an operation: the x-roles line after the method line. */
typedef struct doc_op {
    char method[8];
    char path[128];
    char roles[128];
} doc_op;

static size_t parse_openapi(doc_op *ops, size_t cap)
{
    size_t len, n = 0;
    char *doc = (char *)read_all(TD_SOURCE_DIR "/docs/openapi.yaml", &len);
    char path[128] = "";
    int in_paths = 0;
    for (char *line = strtok(doc, "\n"); line; line = strtok(NULL, "\n")) {
        if (strcmp(line, "paths:") == 0) {
            in_paths = 1;
            continue;
        }
        if (in_paths && line[0] != ' ' && line[0] != '\0')
            in_paths = 0;
        if (!in_paths)
            continue;
        if (strncmp(line, "  /", 3) == 0 && line[strlen(line) - 1] == ':') {
            snprintf(path, sizeof path, "%.*s", (int)(strlen(line) - 3), line + 2);
            continue;
        }
        static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
        for (size_t m = 0; m < 5; m++) {
            char want[32];
            snprintf(want, sizeof want, "    %s:", methods[m]);
            if (strcmp(line, want) == 0) {
                assert_true(n < cap);
                for (size_t i = 0; methods[m][i]; i++)
                    ops[n].method[i] = (char)(methods[m][i] - 32);
                ops[n].method[strlen(methods[m])] = '\0';
                snprintf(ops[n].path, sizeof ops[n].path, "%s", path);
                ops[n].roles[0] = '\0';
                n++;
            }
        }
        const char *xr = "      x-roles: [";
        if (n && strncmp(line, xr, strlen(xr)) == 0) {
            char *p = line + strlen(xr), *o = ops[n - 1].roles;
            for (; *p && *p != ']'; p++)
                if (*p != ' ')
                    *o++ = *p;
            *o = '\0';
        }
    }
    free(doc);
    return n;
}

/* Same set of comma-separated names. */
static int same_roles(const char *a, const char *b)
{
    char x[128], y[128];
    snprintf(x, sizeof x, ",%s,", a);
    snprintf(y, sizeof y, ",%s,", b);
    for (int pass = 0; pass < 2; pass++) {
        const char *s = pass ? b : a, *other = pass ? x : y;
        char tok[40];
        while (*s) {
            size_t k = strcspn(s, ",");
            snprintf(tok, sizeof tok, ",%.*s,", (int)k, s);
            if (!strstr(other, tok))
                return 0;
            s += k;
            if (*s)
                s++;
        }
    }
    return 1;
}

static void test_openapi_matches_router(void **state)
{
    (void)state;
    doc_op ops[256];
    size_t n_doc = parse_openapi(ops, 256), n_routes;
    const td_server_route_info *routes = td_server_routes(&n_routes);
    for (size_t i = 0; i < n_routes; i++) {
        size_t k;
        for (k = 0; k < n_doc; k++)
            if (strcmp(ops[k].method, routes[i].method) == 0 &&
                strcmp(ops[k].path, routes[i].pattern) == 0)
                break;
        if (k == n_doc)
            fail_msg("route %s %s is not in docs/openapi.yaml", routes[i].method,
                     routes[i].pattern);
        if (!same_roles(ops[k].roles, routes[i].roles))
            fail_msg("%s %s: x-roles [%s] in the document, [%s] in the router", routes[i].method,
                     routes[i].pattern, ops[k].roles, routes[i].roles);
    }
    for (size_t k = 0; k < n_doc; k++) {
        size_t i;
        for (i = 0; i < n_routes; i++)
            if (strcmp(ops[k].method, routes[i].method) == 0 &&
                strcmp(ops[k].path, routes[i].pattern) == 0)
                break;
        if (i == n_routes)
            fail_msg("docs/openapi.yaml documents %s %s, which the router does not have",
                     ops[k].method, ops[k].path);
    }
    assert_int_equal(n_doc, n_routes);
}

/* Every route, every role: a role the table does not list gets 403, no key or a wrong key 401,
 * a listed role never gets 401 or 403. */
static void test_auth_matrix(void **state)
{
    (void)state;
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.keys[ADMIN], "{\"name\": \"AUTHZ\"}"));
    size_t n;
    const td_server_route_info *routes = td_server_routes(&n);
    for (size_t i = 0; i < n; i++) {
        char path[256] = "";
        const char *p = routes[i].pattern;
        while (*p) {
            if (*p == '{') {
                const char *close = strchr(p, '}');
                strncat(path, strncmp(p, "{name}", 6) == 0 ? "AUTHZ" : "999999",
                        sizeof path - strlen(path) - 1);
                p = close + 1;
            } else {
                strncat(path, p, 1);
                p++;
            }
        }
        api_resp r;
        if (!routes[i].requires_key) {
            api_http(&S.srv, routes[i].method, path, NULL, NULL, &r);
            /* A publisher's push is authenticated by its signature instead of a key. */
            if (strcmp(routes[i].pattern, "/v1/exchanges/{id}/push") == 0)
                assert_int_equal(r.status, 401);
            else
                assert_true(r.status == 200 || r.status == 503);
            api_resp_free(&r);
            continue;
        }
        assert_int_equal(api_http(&S.srv, routes[i].method, path, NULL, NULL, &r), 401);
        api_resp_free(&r);
        assert_int_equal(api_http(&S.srv, routes[i].method, path, "tdk_0000", NULL, &r), 401);
        api_resp_free(&r);
        for (int k = ADMIN; k <= AUDITOR; k++) {
            char want[40];
            snprintf(want, sizeof want, ",%s,", role_names[k]);
            char have[140];
            snprintf(have, sizeof have, ",%s,", routes[i].roles);
            int allowed = strstr(have, want) != NULL;
            /* Deleting the bank would spoil the other probes: only check the forbidden. */
            if (allowed && strcmp(routes[i].method, "DELETE") == 0)
                continue;
            long st = api_http(&S.srv, routes[i].method, path, S.keys[k], NULL, &r);
            if (allowed && (st == 401 || st == 403))
                fail_msg("%s %s as %s: %ld (%s)", routes[i].method, path, role_names[k], st,
                         r.body);
            if (!allowed && st != 403)
                fail_msg("%s %s as %s: %ld, expected 403", routes[i].method, path, role_names[k],
                         st);
            api_resp_free(&r);
        }
    }
    /* Header forms. */
    api_expect_error_body(&S.srv, 401, "unauthenticated", "GET", "/v1/banks", NULL, NULL, NULL, 0);
}

static void test_banks(void **state)
{
    (void)state;
    const char *A = S.keys[ADMIN], *M = S.keys[MODERATOR];
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/banks", M,
                         "{\"name\": \"TERROR_A\", \"labels\": [\"entity:group-a\", "
                         "\"behaviour:glorification\"], \"action\": \"block\", \"threshold\": 20}");
    assert_string_equal(api_jstr(j, "name"), "TERROR_A");
    assert_string_equal(api_jstr(j, "action"), "block");
    assert_int_equal(api_jint(j, "threshold"), 20);
    assert_true(json_is_true(json_object_get(j, "enabled")));
    assert_int_equal(json_array_size(json_object_get(j, "labels")), 2);
    json_decref(j);
    api_expect_error_body(&S.srv, 409, "conflict", "POST", "/v1/banks", M, "application/json",
                          "{\"name\": \"TERROR_A\"}", -1);
    api_expect_error_body(&S.srv, 400, NULL, "POST", "/v1/banks", M, "application/json",
                          "{\"name\": \"bad name\"}", -1);
    api_expect_error_body(&S.srv, 400, "missing_field", "POST", "/v1/banks", M, "application/json",
                          "{}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_type", "POST", "/v1/banks", M, "application/json",
                          "{\"name\": \"X\", \"threshold\": \"31\"}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_value", "POST", "/v1/banks", M, "application/json",
                          "{\"name\": \"X\", \"threshold\": 64}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_value", "POST", "/v1/banks", M, "application/json",
                          "{\"name\": \"X\", \"action\": \"explode\"}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_type", "POST", "/v1/banks", M, "application/json",
                          "{\"name\": \"X\", \"labels\": \"a\"}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_json", "POST", "/v1/banks", M, "application/json",
                          "{\"name\": ", -1);
    api_expect_error_body(&S.srv, 400, "invalid_json", "POST", "/v1/banks", M, "application/json",
                          "[1, 2]", -1);
    api_expect_error_body(&S.srv, 400, "invalid_json", "POST", "/v1/banks", M, "application/json",
                          "{\"name\": \"A\", \"name\": \"B\"}", -1);
    api_expect_error_body(&S.srv, 404, "not_found", "GET", "/v1/banks/NO_SUCH_BANK", A, NULL, NULL,
                          0);
    api_expect_error_body(&S.srv, 404, "not_found", "PATCH", "/v1/banks/NO_SUCH_BANK", A,
                          "application/json", "{\"enabled\": false}", -1);
    api_expect_error_body(&S.srv, 404, "no_route", "GET", "/v1/nothing-here", A, NULL, NULL, 0);
    api_expect_error_body(&S.srv, 405, "method_not_allowed", "PUT", "/v1/banks", A, NULL, NULL, 0);

    j = api_call(&S.srv, 201, "POST", "/v1/banks", A,
                 "{\"name\": \"REVIEW_B\", \"action\": \"review\"}");
    json_decref(j);
    j = api_call(&S.srv, 200, "PATCH", "/v1/banks/REVIEW_B", M,
                 "{\"labels\": [\"behaviour:imminent_threat\"], \"threshold\": 31}");
    assert_string_equal(api_jstr(j, "action"), "review");
    assert_int_equal(json_array_size(json_object_get(j, "labels")), 1);
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/v1/banks/TERROR_A", S.keys[PLATFORM], NULL);
    assert_int_equal(api_jint(j, "threshold"), 20);
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/v1/banks", S.keys[AUDITOR], NULL);
    assert_true(json_array_size(json_object_get(j, "banks")) >= 2);
    json_decref(j);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", A, "{\"name\": \"TO_DELETE\"}"));
    assert_null(api_call(&S.srv, 204, "DELETE", "/v1/banks/TO_DELETE", A, NULL));
    api_expect_error_body(&S.srv, 404, "not_found", "DELETE", "/v1/banks/TO_DELETE", A, NULL, NULL,
                          0);
}

static json_t *check_hash(const char *pdq, const char *key)
{
    char body[256];
    snprintf(body, sizeof body, "{\"pdq\": \"%s\"}", pdq);
    return api_call(&S.srv, 200, "POST", "/v1/check", key, body);
}

static void test_signals_and_check(void **state)
{
    (void)state;
    const char *M = S.keys[MODERATOR], *P = S.keys[PLATFORM];
    json_t *j =
        api_call(&S.srv, 201, "POST", "/v1/banks/TERROR_A/signals", M,
                 "{\"type\": \"pdq\", \"value\": \"" BLOCK_PDQ
                 "\", \"labels\": [\"type:image\"], \"source\": \"gifct\", \"confidence\": 90}");
    json_int_t sig_id = api_jint(j, "id");
    assert_true(sig_id > 0);
    assert_string_equal(api_jstr(j, "value"), BLOCK_PDQ);
    assert_string_equal(api_jstr(j, "source"), "gifct");
    json_decref(j);
    /* The same hash again: 409 naming the existing signal. */
    api_resp r;
    assert_int_equal(api_http(&S.srv, "POST", "/v1/banks/TERROR_A/signals", M,
                              "{\"type\": \"pdq\", \"value\": \"" BLOCK_PDQ "\"}", &r),
                     409);
    json_t *e = json_loads(r.body, 0, NULL);
    assert_int_equal(api_jint(json_object_get(e, "error"), "existing_id"), sig_id);
    json_decref(e);
    api_resp_free(&r);
    api_expect_error_body(&S.srv, 400, "invalid_hash", "POST", "/v1/check", P, "application/json",
                          "{\"pdq\": \"abc\"}", -1);
    api_expect_error_body(&S.srv, 400, NULL, "POST", "/v1/banks/TERROR_A/signals", M,
                          "application/json", "{\"type\": \"pdq\", \"value\": \"zz\"}", -1);
    api_expect_error_body(&S.srv, 400, NULL, "POST", "/v1/banks/TERROR_A/signals", M,
                          "application/json", "{\"type\": \"md5\", \"value\": \"1234\"}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_type", "POST", "/v1/banks/TERROR_A/signals", M,
                          "application/json", "{\"type\": \"tmk\", \"value\": \"00\"}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_type", "POST", "/v1/banks/TERROR_A/signals", M,
                          "application/json", "{\"type\": \"pdq\", \"value\": 7}", -1);
    api_expect_error_body(&S.srv, 404, "not_found", "POST", "/v1/banks/NOPE/signals", M,
                          "application/json", "{\"type\": \"pdq\", \"value\": \"" BLOCK_PDQ "\"}",
                          -1);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks/TERROR_A/signals", M,
                         "{\"type\": \"md5\", \"value\": \"D41D8CD98F00B204E9800998ECF8427E\"}"));

    /* A precomputed hash: block, with the match explained. */
    j = check_hash(BLOCK_PDQ, P);
    assert_string_equal(api_jstr(j, "verdict"), "block");
    json_t *m = json_array_get(json_object_get(j, "matches"), 0);
    assert_string_equal(api_jstr(m, "bank"), "TERROR_A");
    assert_int_equal(api_jint(m, "signal_id"), sig_id);
    assert_int_equal(api_jint(m, "distance"), 0);
    assert_string_equal(api_jstr(m, "variant"), "original");
    json_decref(j);
    j = api_call(&S.srv, 200, "POST", "/v1/check", P,
                 "{\"hashes\": {\"md5\": \"d41d8cd98f00b204e9800998ecf8427e\"}}");
    assert_string_equal(api_jstr(j, "verdict"), "block");
    json_decref(j);
    j = check_hash("0000000000000000000000000000000000000000000000000000000000000000", P);
    assert_string_equal(api_jstr(j, "verdict"), "allow");
    json_decref(j);

    /* Media: the rotated bridge matches through its dihedral variant. */
    size_t len;
    uint8_t *img = read_all(conf_path(DIH "bridge-1-original.jpg"), &len);
    api_resp r2;
    assert_int_equal(api_http_ex(&S.srv, "POST",
                                 "/v1/banks/REVIEW_B/signals?labels=type:image,entity:x", M,
                                 "image/jpeg", img, (long)len, 0, &r2),
                     201);
    j = json_loads(r2.body, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "signals")), 3);
    json_decref(j);
    api_resp_free(&r2);
    free(img);
    img = read_all(conf_path(DIH "bridge-2-rotate-90.jpg"), &len);
    assert_int_equal(
        api_http_ex(&S.srv, "POST", "/v1/check", P, "image/jpeg", img, (long)len, 0, &r2), 200);
    j = json_loads(r2.body, 0, NULL);
    assert_string_equal(api_jstr(j, "verdict"), "review");
    m = json_array_get(json_object_get(j, "matches"), 0);
    assert_string_equal(api_jstr(m, "bank"), "REVIEW_B");
    assert_string_not_equal(api_jstr(m, "variant"), "original");
    assert_non_null(api_jstr(json_object_get(j, "hashes"), "pdq"));
    assert_true(json_is_integer(json_object_get(j, "quality")));
    json_decref(j);
    api_resp_free(&r2);
    /* Without dihedral matching the rotation is not found. */
    assert_int_equal(api_http_ex(&S.srv, "POST", "/v1/check?dihedral=0", P, "image/jpeg", img,
                                 (long)len, 0, &r2),
                     200);
    j = json_loads(r2.body, 0, NULL);
    assert_string_equal(api_jstr(j, "verdict"), "allow");
    json_decref(j);
    api_resp_free(&r2);
    free(img);
    api_expect_error_body(&S.srv, 422, "undecodable", "POST", "/v1/check", P, "image/jpeg",
                          "not an image", -1);
    api_expect_error_body(&S.srv, 422, "undecodable", "POST", "/v1/banks/REVIEW_B/signals", M,
                          "application/octet-stream", "\xff\xd8\xff\xe0 truncated", -1);
    api_expect_error_body(&S.srv, 400, "empty_body", "POST", "/v1/check", P, "image/jpeg", "", 0);

    /* Disable, list, patch labels, delete. */
    char path[128];
    snprintf(path, sizeof path, "/v1/banks/TERROR_A/signals/%lld", (long long)sig_id);
    j = api_call(&S.srv, 200, "PATCH", path, M, "{\"enabled\": false}");
    assert_true(json_is_false(json_object_get(j, "enabled")));
    json_decref(j);
    j = check_hash(BLOCK_PDQ, P);
    assert_string_equal(api_jstr(j, "verdict"), "allow");
    json_decref(j);
    j = api_call(&S.srv, 200, "PATCH", path, M,
                 "{\"enabled\": true, \"labels\": [\"type:photo\"]}");
    assert_true(json_is_true(json_object_get(j, "enabled")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "labels"), 0)),
                        "type:photo");
    json_decref(j);
    j = check_hash(BLOCK_PDQ, P);
    assert_string_equal(api_jstr(j, "verdict"), "block");
    json_decref(j);
    api_expect_error_body(&S.srv, 400, "invalid_type", "PATCH", path, M, "application/json",
                          "{\"enabled\": \"no\"}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_id", "PATCH", "/v1/banks/TERROR_A/signals/abc", M,
                          "application/json", "{\"enabled\": true}", -1);
    api_expect_error_body(&S.srv, 404, "not_found", "PATCH", "/v1/banks/TERROR_A/signals/999999", M,
                          "application/json", "{\"enabled\": true}", -1);
    j = api_call(&S.srv, 200, "GET", "/v1/banks/TERROR_A/signals?limit=1", S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "signals")), 1);
    json_int_t next = api_jint(j, "next_after");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/banks/TERROR_A/signals?after=%lld", (long long)next);
    j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "signals")), 1);
    json_decref(j);
    api_expect_error_body(&S.srv, 400, "invalid_query", "GET", "/v1/banks/TERROR_A/signals?limit=0",
                          S.keys[AUDITOR], NULL, NULL, 0);
}

static void test_body_limits(void **state)
{
    (void)state;
    const char *P = S.keys[PLATFORM];
    /* JSON routes: 64 KiB here (--max-body-bytes); media routes: 8 MiB. */
    size_t big = 70000;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[big] = '\0';
    body[0] = '{';
    body[big - 1] = '}';
    api_expect_error_body(&S.srv, 413, "body_too_large", "POST", "/v1/banks", S.keys[ADMIN],
                          "application/json", body, (long)big);
    /* Chunked: no Content-Length, refused while receiving. */
    api_resp r;
    assert_int_equal(api_http_ex(&S.srv, "POST", "/v1/banks", S.keys[ADMIN], "application/json",
                                 body, (long)big, 1, &r),
                     413);
    api_resp_free(&r);
    free(body);
    size_t huge = 9u << 20;
    body = calloc(1, huge);
    api_expect_error_body(&S.srv, 413, "body_too_large", "POST", "/v1/check", P, "image/jpeg", body,
                          (long)huge);
    assert_int_equal(
        api_http_ex(&S.srv, "POST", "/v1/check", P, "image/jpeg", body, (long)huge, 1, &r), 413);
    api_resp_free(&r);
    free(body);
    /* Still serving. */
    json_decref(api_call(&S.srv, 200, "GET", "/healthz", NULL, NULL));
}

static void test_import_export(void **state)
{
    (void)state;
    const char *M = S.keys[MODERATOR];
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", M,
                         "{\"name\": \"IMPORTED\", \"action\": \"log\"}"));
    /* 2000 te lines, one bad line, one comment. */
    size_t cap = 200000, n = 0;
    char *list = malloc(cap);
    uint64_t rng = 42;
    n += (size_t)snprintf(list + n, cap - n, "# a comment\n");
    for (int i = 0; i < 2000; i++) {
        n += (size_t)snprintf(list + n, cap - n, "pdq ");
        for (int k = 0; k < 4; k++)
            n +=
                (size_t)snprintf(list + n, cap - n, "%016llx", (unsigned long long)test_rand(&rng));
        n += (size_t)snprintf(list + n, cap - n, "\n");
    }
    n += (size_t)snprintf(list + n, cap - n, "pdq not-a-hash\n");
    api_resp r;
    assert_int_equal(api_http_ex(&S.srv, "POST",
                                 "/v1/banks/IMPORTED/import?format=te&labels=src:test", M,
                                 "text/plain", list, (long)n, 1, &r),
                     200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_int_equal(api_jint(j, "added"), 2000);
    assert_int_equal(api_jint(j, "errors"), 1);
    assert_int_equal(api_jint(json_array_get(json_object_get(j, "error_list"), 0), "line"), 2002);
    json_decref(j);
    api_resp_free(&r);
    /* CSV, with a duplicate of the first list. */
    const char *csv = "signal_type,signal_str,collab,category,tags\n"
                      "pdq," BRIDGE_PDQ ",gifct,POSITIVE_CLASS,type:image behaviour:instruction\n"
                      "video_md5,0123456789abcdef0123456789abcdef,gifct,NEGATIVE_CLASS,\n";
    assert_int_equal(
        api_http_ex(&S.srv, "POST", "/v1/banks/IMPORTED/import", M, "text/csv", csv, -1, 0, &r),
        200);
    j = json_loads(r.body, 0, NULL);
    assert_int_equal(api_jint(j, "added"), 2);
    assert_int_equal(api_jint(j, "disabled"), 1);
    json_decref(j);
    api_resp_free(&r);
    api_expect_error_body(&S.srv, 404, "not_found", "POST", "/v1/banks/NOPE/import", M,
                          "text/plain", list, (long)n);
    api_expect_error_body(&S.srv, 400, NULL, "POST", "/v1/banks/IMPORTED/import?format=xml", M,
                          "text/plain", list, (long)n);
    free(list);

    assert_int_equal(
        api_http(&S.srv, "GET", "/v1/banks/IMPORTED/export?format=te", S.keys[AUDITOR], NULL, &r),
        200);
    size_t lines = 0;
    for (size_t i = 0; i < r.len; i++)
        lines += r.body[i] == '\n';
    assert_int_equal(lines, 2001); /* the NEGATIVE_CLASS signal is disabled */
    assert_non_null(strstr(r.body, "pdq " BRIDGE_PDQ));
    api_resp_free(&r);
    assert_int_equal(api_http(&S.srv, "GET",
                              "/v1/banks/IMPORTED/export?format=csv&include_disabled=1",
                              S.keys[AUDITOR], NULL, &r),
                     200);
    assert_int_equal(strncmp(r.body, "signal_type,signal_str,collab,category,tags\n", 44), 0);
    assert_non_null(strstr(r.body, "0123456789abcdef0123456789abcdef"));
    api_resp_free(&r);
    api_expect_error_body(&S.srv, 400, "invalid_query", "GET",
                          "/v1/banks/IMPORTED/export?format=pdf", S.keys[AUDITOR], NULL, NULL, 0);
    api_expect_error_body(&S.srv, 404, "not_found", "GET", "/v1/banks/NOPE/export", S.keys[AUDITOR],
                          NULL, NULL, 0);
}

/* ---- webhook receiver ---- */

#define MAX_DELIVERIES 64

static struct {
    pthread_mutex_t lock;
    int fail_first;
    int received;
    char bodies[MAX_DELIVERIES][4096];
    char sigs[MAX_DELIVERIES][100];
    char idem[MAX_DELIVERIES][80];
    int ok[MAX_DELIVERIES];
} W = {PTHREAD_MUTEX_INITIALIZER, 0, 0, {{0}}, {{0}}, {{0}}, {0}};

typedef struct hook_req {
    char body[4096];
    size_t len;
} hook_req;

static enum MHD_Result on_hook(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version;
    hook_req *h = *ctx;
    if (!h) {
        *ctx = calloc(1, sizeof *h);
        return MHD_YES;
    }
    if (*size) {
        size_t n = *size < sizeof h->body - 1 - h->len ? *size : sizeof h->body - 1 - h->len;
        memcpy(h->body + h->len, data, n);
        h->len += n;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&W.lock);
    int i = W.received < MAX_DELIVERIES ? W.received : MAX_DELIVERIES - 1;
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Takedown-Signature");
    const char *idem = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    snprintf(W.bodies[i], sizeof W.bodies[i], "%s", h->body);
    snprintf(W.sigs[i], sizeof W.sigs[i], "%s", sig ? sig : "");
    snprintf(W.idem[i], sizeof W.idem[i], "%s", idem ? idem : "");
    int ok = W.received >= W.fail_first;
    W.ok[i] = ok;
    W.received++;
    pthread_mutex_unlock(&W.lock);
    static const char body[] = "ok";
    struct MHD_Response *answer =
        MHD_create_response_from_buffer(2, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, ok ? 200 : 503, answer);
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

static int verify_signature(const char *body, const char *header)
{
    unsigned char mac[32];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), WEBHOOK_SECRET, (int)strlen(WEBHOOK_SECRET), (const unsigned char *)body,
         strlen(body), mac, &mac_len);
    char hex[80] = "sha256=";
    for (unsigned i = 0; i < mac_len; i++)
        snprintf(hex + 7 + 2 * i, 3, "%02x", mac[i]);
    return strcmp(hex, header) == 0;
}

static void test_content_cases_webhooks(void **state)
{
    (void)state;
    const char *A = S.keys[ADMIN], *M = S.keys[MODERATOR], *P = S.keys[PLATFORM];
    W.fail_first = 2;
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_hook, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, on_hook_done, NULL, MHD_OPTION_END);
    assert_non_null(d);
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char body[512];
    snprintf(body, sizeof body,
             "{\"url\": \"http://127.0.0.1:%u/hook\", \"secret\": \"" WEBHOOK_SECRET
             "\", \"events\": [\"remove\", \"case.opened\"]}",
             port);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/webhooks", A, body);
    json_int_t hook_id = api_jint(j, "id");
    json_decref(j);
    api_expect_error_body(&S.srv, 400, NULL, "POST", "/v1/webhooks", A, "application/json",
                          "{\"url\": \"ftp://x\", \"secret\": \"0123456789abcdefg\"}", -1);
    api_expect_error_body(&S.srv, 400, "missing_field", "POST", "/v1/webhooks", A,
                          "application/json", "{\"url\": \"http://127.0.0.1:1/\"}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_value", "POST", "/v1/webhooks", A,
                          "application/json",
                          "{\"url\": \"http://127.0.0.1:1/\", \"secret\": \"0123456789abcdefg\", "
                          "\"events\": [\"nope\"]}",
                          -1);
    j = api_call(&S.srv, 200, "GET", "/v1/webhooks", S.keys[AUDITOR], NULL);
    assert_true(json_array_size(json_object_get(j, "webhooks")) >= 1);
    json_decref(j);

    /* Content matching the block bank: verdict block, a remove event. */
    j = api_call(&S.srv, 201, "POST", "/v1/content", P,
                 "{\"content_id\": \"post/1\", \"uploader\": \"u1\", \"url\": "
                 "\"https://example.org/p/1\", \"metadata\": {\"lang\": \"en\"}, \"hashes\": "
                 "{\"pdq\": \"" BLOCK_PDQ "\"}}");
    assert_string_equal(api_jstr(j, "verdict"), "block");
    json_decref(j);
    api_expect_error_body(&S.srv, 409, "conflict", "POST", "/v1/content", P, "application/json",
                          "{\"content_id\": \"post/1\", \"hashes\": {\"pdq\": \"" BLOCK_PDQ "\"}}",
                          -1);
    api_expect_error_body(&S.srv, 400, "missing_field", "POST", "/v1/content", P,
                          "application/json", "{\"hashes\": {\"pdq\": \"" BLOCK_PDQ "\"}}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_hash", "POST", "/v1/content", P, "application/json",
                          "{\"content_id\": \"x\", \"hashes\": {\"pdq\": \"00\"}}", -1);
    api_expect_error_body(
        &S.srv, 400, "invalid_type", "POST", "/v1/content", P, "application/json",
        "{\"content_id\": \"x\", \"metadata\": [], \"hashes\": {\"pdq\": \"" BLOCK_PDQ "\"}}", -1);
    /* Content for the review bank, as media: a case opens. */
    size_t len;
    uint8_t *img = read_all(conf_path(DIH "bridge-5-flipx.jpg"), &len);
    api_resp r;
    assert_int_equal(api_http_ex(&S.srv, "POST", "/v1/content?content_id=post%2F2&uploader=u2", P,
                                 "image/jpeg", img, (long)len, 0, &r),
                     201);
    free(img);
    j = json_loads(r.body, 0, NULL);
    assert_string_equal(api_jstr(j, "verdict"), "review");
    json_t *kase = json_object_get(j, "case");
    assert_true(json_is_object(kase));
    json_int_t case_id = api_jint(kase, "id");
    json_decref(j);
    api_resp_free(&r);
    j = api_call(&S.srv, 200, "GET", "/v1/content/post%2F2", S.keys[AUDITOR], NULL);
    assert_string_equal(api_jstr(j, "content_id"), "post/2");
    assert_string_equal(api_jstr(j, "uploader"), "u2");
    json_decref(j);
    api_expect_error_body(&S.srv, 404, "not_found", "GET", "/v1/content/nope", P, NULL, NULL, 0);

    j = api_call(&S.srv, 200, "GET", "/v1/cases", M, NULL);
    json_t *cases = json_object_get(j, "cases");
    int found = 0;
    for (size_t i = 0; i < json_array_size(cases); i++)
        found |= api_jint(json_array_get(cases, i), "id") == case_id;
    assert_true(found);
    json_decref(j);
    api_expect_error_body(&S.srv, 400, "invalid_query", "GET", "/v1/cases?state=bogus", M, NULL,
                          NULL, 0);

    char path[128];
    snprintf(path, sizeof path, "/v1/cases/%lld/claim", (long long)case_id);
    /* An action that takes nothing refuses a body rather than ignore it: still unclaimed. */
    api_expect_error_body(&S.srv, 400, "unexpected_body", "POST", path, M, "application/json",
                          "{\"claimed_by\": 1}", -1);
    char case_path[96];
    snprintf(case_path, sizeof case_path, "/v1/cases/%lld", (long long)case_id);
    j = api_call(&S.srv, 200, "GET", case_path, M, NULL);
    assert_string_equal(api_jstr(j, "state"), "open");
    json_decref(j);
    j = api_call(&S.srv, 200, "POST", path, M, NULL);
    assert_string_equal(api_jstr(j, "state"), "claimed");
    json_decref(j);
    api_expect_error_body(&S.srv, 409, "conflict", "POST", path, S.keys[MODERATOR2], NULL, NULL, 0);
    api_expect_error_body(&S.srv, 404, "not_found", "POST", "/v1/cases/999999/claim", M, NULL, NULL,
                          0);
    snprintf(path, sizeof path, "/v1/cases/%lld/decision", (long long)case_id);
    api_expect_error_body(&S.srv, 400, "missing_field", "POST", path, M, "application/json",
                          "{\"decision\": \"remove\"}", -1);
    api_expect_error_body(&S.srv, 400, "invalid_value", "POST", path, M, "application/json",
                          "{\"decision\": \"burn\", \"reason\": \"x\"}", -1);
    api_expect_error_body(&S.srv, 409, "conflict", "POST", path, S.keys[MODERATOR2],
                          "application/json", "{\"decision\": \"keep\", \"reason\": \"not mine\"}",
                          -1);
    j = api_call(&S.srv, 201, "POST", path, M,
                 "{\"decision\": \"remove\", \"reason\": \"glorification\"}");
    assert_string_equal(api_jstr(j, "decision"), "remove");
    assert_string_equal(api_jstr(json_object_get(j, "by"), "name"), "moderator-1");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/cases/%lld", (long long)case_id);
    j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    assert_string_equal(api_jstr(j, "state"), "closed");
    assert_int_equal(json_array_size(json_object_get(j, "decisions")), 1);
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/v1/content/post%2F2", S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "decisions")), 1);
    json_decref(j);

    /* Deliveries: the receiver failed twice, then accepted; same idempotency key; signed. */
    double deadline = api_now_s() + 20;
    int delivered = 0;
    while (api_now_s() < deadline && !delivered) {
        snprintf(path, sizeof path, "/v1/webhooks/%lld/deliveries", (long long)hook_id);
        j = api_call(&S.srv, 200, "GET", path, A, NULL);
        json_t *ds = json_object_get(j, "deliveries");
        delivered = json_array_size(ds) >= 3;
        for (size_t i = 0; i < json_array_size(ds); i++)
            delivered &= strcmp(api_jstr(json_array_get(ds, i), "state"), "delivered") == 0;
        json_decref(j);
        if (!delivered)
            api_sleep_ms(100);
    }
    assert_true(delivered);
    pthread_mutex_lock(&W.lock);
    int received = W.received;
    assert_true(received >= 5); /* 2 failures + remove, case.opened, remove */
    assert_false(W.ok[0]);
    assert_false(W.ok[1]);
    /* Each failed attempt is retried later with the same idempotency key, and succeeds. */
    for (int i = 0; i < 2; i++) {
        int retried = 0;
        for (int k = i + 1; k < received && k < MAX_DELIVERIES; k++)
            retried |= W.ok[k] && strcmp(W.idem[k], W.idem[i]) == 0;
        assert_true(retried);
    }
    for (int i = 0; i < W.received && i < MAX_DELIVERIES; i++) {
        assert_true(W.idem[i][0] != '\0');
        if (!verify_signature(W.bodies[i], W.sigs[i]))
            fail_msg("delivery %d: bad signature '%s' for %s", i, W.sigs[i], W.bodies[i]);
    }
    pthread_mutex_unlock(&W.lock);
    snprintf(path, sizeof path, "/v1/webhooks/%lld/deliveries", (long long)hook_id);
    j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    json_t *ds = json_object_get(j, "deliveries");
    int attempts = 0;
    for (size_t i = 0; i < json_array_size(ds); i++)
        attempts += (int)api_jint(json_array_get(ds, i), "attempts");
    assert_int_equal(attempts, received);
    json_decref(j);
    api_expect_error_body(&S.srv, 404, "not_found", "GET", "/v1/webhooks/999999/deliveries", A,
                          NULL, NULL, 0);
    api_resp mr;
    assert_int_equal(api_http(&S.srv, "GET", "/metrics", NULL, NULL, &mr), 200);
    assert_non_null(strstr(mr.body, "takedown_webhook_failures_total 2"));
    api_resp_free(&mr);
    snprintf(path, sizeof path, "/v1/webhooks/%lld", (long long)hook_id);
    assert_null(api_call(&S.srv, 204, "DELETE", path, A, NULL));
    api_expect_error_body(&S.srv, 404, "not_found", "DELETE", path, A, NULL, NULL, 0);
    MHD_stop_daemon(d);
}

static void test_keys(void **state)
{
    (void)state;
    const char *A = S.keys[ADMIN];
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", A,
                         "{\"role\": \"platform\", \"name\": \"temp\"}");
    char key[128];
    snprintf(key, sizeof key, "%s", api_jstr(j, "key"));
    json_int_t id = api_jint(j, "id");
    json_decref(j);
    json_decref(api_call(&S.srv, 200, "GET", "/v1/banks", key, NULL));
    j = api_call(&S.srv, 200, "GET", "/v1/keys", A, NULL);
    json_t *keys = json_object_get(j, "keys");
    assert_true(json_array_size(keys) >= N_KEYS + 1);
    for (size_t i = 0; i < json_array_size(keys); i++)
        assert_null(json_object_get(json_array_get(keys, i), "key"));
    json_decref(j);
    api_expect_error_body(&S.srv, 400, NULL, "POST", "/v1/keys", A, "application/json",
                          "{\"role\": \"king\"}", -1);
    char path[64];
    snprintf(path, sizeof path, "/v1/keys/%lld", (long long)id);
    assert_null(api_call(&S.srv, 204, "DELETE", path, A, NULL));
    api_expect_error_body(&S.srv, 401, "unauthenticated", "GET", "/v1/banks", key, NULL, NULL, 0);
    api_expect_error_body(&S.srv, 404, "not_found", "DELETE", "/v1/keys/999999", A, NULL, NULL, 0);

    /* The CLI creates keys next to the running server. */
    char cmd[8400], out[256];
    snprintf(cmd, sizeof cmd, "'%s' key create --data '%s' --role auditor --name cli 2>/dev/null",
             TD_CLI_PATH, S.dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(strncmp(out, "tdk_", 4), 0);
    json_decref(api_call(&S.srv, 200, "GET", "/v1/cases", out, NULL));
    api_expect_error_body(&S.srv, 403, "forbidden", "POST", "/v1/banks", out, "application/json",
                          "{\"name\": \"NO\"}", -1);
    snprintf(cmd, sizeof cmd, "'%s' key list --data '%s'", TD_CLI_PATH, S.dir);
    char listing[8192];
    assert_int_equal(run_capture(cmd, listing, sizeof listing), 0);
    assert_non_null(strstr(listing, "cli"));
    j = api_call(&S.srv, 200, "GET", "/v1/stats", S.keys[AUDITOR], NULL);
    assert_true(api_jint(json_object_get(j, "index"), "pdq") > 0);
    json_decref(j);
}

static void test_hma(void **state)
{
    (void)state;
    const char *A = S.keys[ADMIN], *P = S.keys[PLATFORM];
    json_t *j = api_call(&S.srv, 201, "POST", "/c/banks", A, "{\"name\": \"HMA_BANK\"}");
    assert_string_equal(api_jstr(j, "name"), "HMA_BANK");
    json_decref(j);
    j = api_call(&S.srv, 200, "POST", "/c/bank/HMA_BANK/signal", A,
                 "{\"pdq\": \"" BRIDGE_PDQ "\"}");
    json_int_t id = api_jint(j, "id");
    assert_string_equal(api_jstr(json_object_get(j, "signals"), "pdq"), BRIDGE_PDQ);
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/m/lookup?signal_type=pdq&signal=" BRIDGE_PDQ, P, NULL);
    json_t *list = json_object_get(j, "HMA_BANK");
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(api_jint(json_array_get(list, 0), "bank_content_id"), id);
    assert_string_equal(api_jstr(json_array_get(list, 0), "distance"), "0");
    assert_non_null(json_object_get(j, "IMPORTED"));
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/m/raw_lookup?signal_type=pdq&signal=" BRIDGE_PDQ, P, NULL);
    assert_true(json_array_size(json_object_get(j, "matches")) >= 2);
    json_decref(j);
    api_expect_error_body(&S.srv, 400, NULL, "GET", "/m/lookup?signal_type=pdq&signal=zz", P, NULL,
                          NULL, 0);
    api_expect_error_body(&S.srv, 400, "missing_query", "GET", "/m/lookup", P, NULL, NULL, 0);
    j = api_call(&S.srv, 200, "POST", "/m/compare", P,
                 "{\"pdq\": [\"" BRIDGE_PDQ "\", "
                 "\"f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b23\"]}");
    /* HMA's shape: [match, {"distance": d}] (tests/test_hma_match.c has the rest) */
    assert_true(json_is_true(json_array_get(json_object_get(j, "pdq"), 0)));
    assert_int_equal(api_jint(json_array_get(json_object_get(j, "pdq"), 1), "distance"), 1);
    json_decref(j);
    api_expect_error_body(&S.srv, 400, NULL, "POST", "/m/compare", P, "application/json",
                          "{\"pdq\": [\"a\"]}", -1);
    j = api_call(&S.srv, 200, "GET", "/c/banks", P, NULL);
    assert_true(json_is_array(j));
    json_decref(j);
    char path[128];
    snprintf(path, sizeof path, "/c/bank/HMA_BANK/content/%lld", (long long)id);
    j = api_call(&S.srv, 200, "GET", path, A, NULL);
    assert_int_equal(api_jint(j, "disable_until_ts"), 1); /* HMA's "enabled" */
    json_decref(j);
    j = api_call(&S.srv, 200, "PUT", path, A, "{\"disable_until_ts\": 0}");
    assert_int_equal(api_jint(j, "disable_until_ts"), 0); /* HMA's "disabled" */
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/m/lookup?signal_type=pdq&signal=" BRIDGE_PDQ, P, NULL);
    assert_null(json_object_get(j, "HMA_BANK"));
    json_decref(j);
    j = api_call(&S.srv, 200, "DELETE", path, A, NULL);
    assert_int_equal(api_jint(j, "deleted"), 1);
    json_decref(j);
    api_expect_error_body(&S.srv, 404, "not_found", "GET", path, A, NULL, NULL, 0);
    j = api_call(&S.srv, 200, "PUT", "/c/bank/HMA_BANK", A, "{\"enabled_ratio\": 0}");
    assert_true(json_real_value(json_object_get(j, "matching_enabled_ratio")) == 0.0);
    json_decref(j);
    json_decref(api_call(&S.srv, 200, "DELETE", "/c/bank/HMA_BANK", A, NULL));
    api_expect_error_body(&S.srv, 404, "not_found", "GET", "/c/bank/HMA_BANK", A, NULL, NULL, 0);
    api_expect_error_body(&S.srv, 403, "fetch_disabled", "GET", "/h/hash?url=http://x/", P, NULL,
                          NULL, 0);
}

/* ---- concurrency ---- */

typedef struct checker {
    int requests, failures, stop;
    char key[128];
} checker;

static volatile int stop_checkers;

static void *check_loop(void *arg)
{
    checker *c = arg;
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    while (!stop_checkers) {
        char body[256], hex[65];
        for (int k = 0; k < 4; k++)
            snprintf(hex + 16 * k, 17, "%016llx", (unsigned long long)test_rand(&rng));
        snprintf(body, sizeof body, "{\"pdq\": \"%s\"}", c->requests % 2 ? BRIDGE_PDQ : hex);
        api_resp r;
        long st = api_http(&S.srv, "POST", "/v1/check", c->key, body, &r);
        if (st != 200 || !strstr(r.body, "\"verdict\""))
            c->failures++;
        api_resp_free(&r);
        c->requests++;
    }
    return NULL;
}

static void test_concurrent_checks(void **state)
{
    (void)state;
    const char *M = S.keys[MODERATOR];
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", M,
                         "{\"name\": \"CHURN\", \"action\": \"log\"}"));
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    checker cs[THREADS];
    stop_checkers = 0;
    for (int i = 0; i < THREADS; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        snprintf(cs[i].key, sizeof cs[i].key, "%s", S.keys[PLATFORM]);
        pthread_create(&th[i], NULL, check_loop, &cs[i]);
    }
    uint64_t rng = 7;
    for (int i = 0; i < 60; i++) {
        char body[256], hex[65];
        for (int k = 0; k < 4; k++)
            snprintf(hex + 16 * k, 17, "%016llx", (unsigned long long)test_rand(&rng));
        snprintf(body, sizeof body, "{\"type\": \"pdq\", \"value\": \"%s\"}", hex);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/banks/CHURN/signals", M, body);
        char path[128];
        snprintf(path, sizeof path, "/v1/banks/CHURN/signals/%lld", (long long)api_jint(j, "id"));
        json_decref(j);
        /* A new signal is live at once; disabled, it is gone at once. */
        snprintf(body, sizeof body, "{\"pdq\": \"%s\", \"dihedral\": false}", hex);
        j = api_call(&S.srv, 200, "POST", "/v1/check", S.keys[PLATFORM], body);
        assert_true(json_array_size(json_object_get(j, "matches")) >= 1);
        json_decref(j);
        if (i % 2) {
            json_decref(api_call(&S.srv, 200, "PATCH", path, M, "{\"enabled\": false}"));
            j = api_call(&S.srv, 200, "POST", "/v1/check", S.keys[PLATFORM], body);
            assert_int_equal(json_array_size(json_object_get(j, "matches")), 0);
            json_decref(j);
        }
    }
    stop_checkers = 1;
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(cs[i].failures, 0);
        total += cs[i].requests;
    }
    assert_true(total > 0);
}

static void test_garbage_keeps_serving(void **state)
{
    (void)state;
    const char *P = S.keys[PLATFORM];
    static const char *const bodies[] = {"",
                                         "{",
                                         "null",
                                         "\"x\"",
                                         "{\"pdq\": null}",
                                         "{\"pdq\": [1,2]}",
                                         "{\"hashes\": 5}",
                                         "{\"pdq\": \"" BRIDGE_PDQ "\", \"quality\": 500}",
                                         "{\"md5\": \"xyz\"}",
                                         "{\"sha256\": \"00\"}",
                                         "{\"pdq\": \"" BRIDGE_PDQ "\", \"dihedral\": 3}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        api_resp r;
        long st =
            api_http_ex(&S.srv, "POST", "/v1/check", P, "application/json", bodies[i], -1, 0, &r);
        if (st < 400 || st >= 500)
            fail_msg("body %s: status %ld", bodies[i], st);
        api_resp_free(&r);
    }
    uint64_t rng = 99;
    for (int i = 0; i < 50; i++) {
        char junk[512];
        size_t n = 1 + test_rand(&rng) % sizeof junk;
        for (size_t k = 0; k < n; k++)
            junk[k] = (char)test_rand(&rng);
        api_resp r;
        long st = api_http_ex(&S.srv, "POST", i % 2 ? "/v1/check" : "/v1/banks", S.keys[ADMIN],
                              i % 3 ? "application/json" : "image/png", junk, (long)n, 0, &r);
        if (st < 400 || st >= 500)
            fail_msg("junk %d: status %ld", i, st);
        api_resp_free(&r);
    }
    api_expect_error_body(&S.srv, 400, NULL, "GET", "/v1/banks/%zz", S.keys[ADMIN], NULL, NULL, 0);
    json_decref(api_call(&S.srv, 200, "GET", "/healthz", NULL, NULL));
}

static void test_restart(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    char admin[128];
    server_start(admin, sizeof admin);
    assert_string_equal(admin, ""); /* not shown twice */
    double deadline = api_now_s() + 20;
    api_resp r;
    while (api_http(&S.srv, "GET", "/readyz", NULL, NULL, &r) != 200 && api_now_s() < deadline) {
        api_resp_free(&r);
        api_sleep_ms(50);
    }
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/banks/TERROR_A", S.keys[ADMIN], NULL);
    assert_true(api_jint(j, "signal_count") >= 2);
    json_decref(j);
    j = check_hash(BLOCK_PDQ, S.keys[PLATFORM]);
    assert_string_equal(api_jstr(j, "verdict"), "block");
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/v1/content/post%2F1", S.keys[AUDITOR], NULL);
    assert_string_equal(api_jstr(j, "verdict"), "block");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probes),
        cmocka_unit_test(test_openapi_matches_router),
        cmocka_unit_test(test_auth_matrix),
        cmocka_unit_test(test_banks),
        cmocka_unit_test(test_signals_and_check),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_import_export),
        cmocka_unit_test(test_content_cases_webhooks),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_hma),
        cmocka_unit_test(test_concurrent_checks),
        cmocka_unit_test(test_garbage_keeps_serving),
        cmocka_unit_test(test_restart),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
