/* HMA 1.1.7's exchange routes against a real `takedown serve` (docs/hma.md, "Exchanges"), with
 * the requests and assertions of HMA's tests (test_api.py: test_exchange_api_set_auth,
 * test_exchange_api_schema, test_exchange_delete, test_exchange_get_fetch_status) ported to the
 * API types takedown implements (HMA's tests use its "sample" type, which takedown refuses by
 * name), and a fetch end to end: an exchange created through HMA's routes, with the credentials
 * set on its API, pulls from tests/support/fake_exchange.c (ThreatExchange and TCAP stand-ins
 * that check the token and the login), and its status counts what its bank then holds. The
 * credentials are never in an answer nor in the database's bytes (sealed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/api_client.h"
#include "support/fake_exchange.h"
#include "support/support.h"

#define TE_TOKEN "12345789|0123456789abcdef-hma"
#define TE_GROUP "424242"
#define TCAP_USER "hma-user"
#define TCAP_PASS "tcap-secret-password-hma"

static struct {
    char dir[4096];
    api_server srv, hma; /* hma: the HMA listener (no process of its own) */
    fake_exchange *fx;
} S;

static const fx_te_record te_recs[] = {
    {"1001",
     "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
     "HASH_PDQ",
     1700000000,
     0,
     "MALICIOUS",
     {NULL},
     0,
     0},
    {"1002",
     "9c6b2d0e5f7a18c3b4e1d2f60a8b7c9d3e2f1a0b5c4d6e7f8091a2b3c4d5e6f7",
     "HASH_PDQ",
     1700000100,
     0,
     "MALICIOUS",
     {NULL},
     0,
     0},
    {"1003",
     "0123456789abcdef0123456789abcdef",
     "HASH_MD5",
     1700000200,
     0,
     "MALICIOUS",
     {NULL},
     0,
     0},
};

static const fx_tcap_record tcap_recs[] = {
    {"fedcba9876543210fedcba9876543210", "MD5", NULL, NULL, 0, 1700000000.5, 1},
    {"00112233445566778899aabbccddeeff", "MD5", NULL, NULL, 0, 1700000001.5, 2},
};

static int group_setup(void **state)
{
    (void)state;
    static const char *const flags[] = {"--hma-listen",
                                        "127.0.0.1:0",
                                        "--hma-role",
                                        "platform",
                                        "--exchange-allow-private",
                                        "1",
                                        NULL};
    if (api_group_init(S.dir, sizeof S.dir, "hma-exchanges") != 0)
        return -1;
    api_server_start(&S.srv, S.dir, flags);
    memset(&S.hma, 0, sizeof S.hma);
    snprintf(S.hma.base, sizeof S.hma.base, "%s", S.srv.hma);
    S.fx = fx_start();
    if (!S.fx || strncmp(S.srv.admin, "tdk_", 4) != 0 || !S.hma.base[0])
        return -1;
    fx_te_set(S.fx, TE_GROUP, TE_TOKEN, te_recs, sizeof te_recs / sizeof te_recs[0], 100);
    fx_tcap_set(S.fx, TCAP_USER, TCAP_PASS, tcap_recs, sizeof tcap_recs / sizeof tcap_recs[0], 100);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    fx_stop(S.fx);
    return 0;
}

static json_t *call(long expect, const char *method, const char *path, const char *json)
{
    return api_call(&S.hma, expect, method, path, S.srv.admin, json);
}

/* An HMA error ({"message"} alone) whose message holds `needle` (when not NULL). */
static void expect_error(long expect, const char *method, const char *path, const char *json,
                         const char *needle)
{
    json_t *j = call(expect, method, path, json);
    const char *m = json_string_value(json_object_get(j, "message"));
    if (!m || json_object_size(j) != 1)
        fail_msg("%s %s: not HMA's error shape", method, path);
    if (needle && !strstr(m, needle))
        fail_msg("%s %s: message '%s' does not name '%s'", method, path, m, needle);
    json_decref(j);
}

static void expect_api_state(const char *api, int has)
{
    char path[128];
    snprintf(path, sizeof path, "/c/exchanges/api/%s", api);
    json_t *j = call(200, "GET", path, NULL);
    assert_int_equal(json_object_size(j), 2);
    assert_true(json_is_true(json_object_get(j, "supports_authentification")));
    assert_int_equal(json_is_true(json_object_get(j, "has_set_authentification")), has);
    json_decref(j);
}

/* test_exchange_api_set_auth, with fb_threatexchange and tat (HMA's "sample" is refused). */
static void test_api_set_auth(void **state)
{
    (void)state;
    json_t *j = call(200, "GET", "/c/exchanges/apis", NULL);
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_array_get(j, 0)), "fb_threatexchange");
    assert_string_equal(json_string_value(json_array_get(j, 1)), "tat");
    json_decref(j);
    expect_error(400, "GET", "/c/exchanges/api/sample", NULL, "sample");
    expect_error(400, "GET", "/c/exchanges/api/ncmec", NULL, "ncmec");
    expect_api_state("fb_threatexchange", 0);
    j = call(200, "POST", "/c/exchanges/api/fb_threatexchange",
             "{\"credential_json\": {\"api_token\": \"12345789|000000000000\"}}");
    assert_true(json_is_true(json_object_get(j, "has_set_authentification")));
    json_decref(j);
    expect_api_state("fb_threatexchange", 1);
    /* Unset. */
    j = call(200, "POST", "/c/exchanges/api/fb_threatexchange", "{\"credential_json\": {}}");
    assert_true(json_is_false(json_object_get(j, "has_set_authentification")));
    json_decref(j);
    expect_api_state("fb_threatexchange", 0);
    /* No credential_json: nothing changes (HMA). */
    json_decref(call(200, "POST", "/c/exchanges/api/fb_threatexchange", "{}"));
    expect_api_state("fb_threatexchange", 0);
    /* Unknown fields are refused by name, inside and outside credential_json. */
    expect_error(400, "POST", "/c/exchanges/api/fb_threatexchange",
                 "{\"credential_json\": {\"api_token\": \"x\", \"app\": 1}}", "app");
    expect_error(400, "POST", "/c/exchanges/api/fb_threatexchange",
                 "{\"credential_json\": {}, \"verbose\": true}", "verbose");
    expect_error(400, "POST", "/c/exchanges/api/tat",
                 "{\"credential_json\": {\"username\": \"u\"}}", "password");
    expect_error(400, "POST", "/c/exchanges/api/fb_threatexchange", "[]", NULL);
    expect_api_state("tat", 0);
}

/* test_exchange_api_schema, for the two API types. */
static void test_api_schema(void **state)
{
    (void)state;
    json_t *j = call(200, "GET", "/c/exchanges/api/fb_threatexchange/schema", NULL);
    json_t *fields = json_object_get(json_object_get(j, "config_schema"), "fields");
    json_t *pg = NULL, *tok = NULL;
    for (size_t i = 0; i < json_array_size(fields); i++)
        if (strcmp(api_jstr(json_array_get(fields, i), "name"), "privacy_group") == 0)
            pg = json_array_get(fields, i);
    assert_non_null(pg);
    assert_string_equal(api_jstr(pg, "type"), "number");
    assert_true(json_is_true(json_object_get(pg, "required")));
    fields = json_object_get(json_object_get(j, "credentials_schema"), "fields");
    for (size_t i = 0; i < json_array_size(fields); i++)
        if (strcmp(api_jstr(json_array_get(fields, i), "name"), "api_token") == 0)
            tok = json_array_get(fields, i);
    assert_non_null(tok);
    assert_string_equal(api_jstr(tok, "type"), "string");
    json_decref(j);
    j = call(200, "GET", "/c/exchanges/api/tat/schema", NULL);
    fields = json_object_get(json_object_get(j, "credentials_schema"), "fields");
    assert_int_equal(json_array_size(fields), 2);
    assert_string_equal(api_jstr(json_array_get(fields, 0), "name"), "username");
    assert_string_equal(api_jstr(json_array_get(fields, 1), "name"), "password");
    json_decref(j);
    expect_error(404, "GET", "/c/exchanges/api/sample/schema", NULL, "sample");
    expect_error(400, "GET", "/c/exchanges/api/tat/schema?lang=en", NULL, "lang");
    expect_error(400, "GET", "/c/exchanges?limit=5", NULL, "limit");
}

/* test_exchange_delete and test_exchange_get_fetch_status. */
static void test_create_status_delete(void **state)
{
    (void)state;
    /* Deleting an exchange that does not exist answers 200. */
    json_t *j = call(200, "DELETE", "/c/exchange/TEST_EXCHANGE", NULL);
    assert_string_equal(api_jstr(j, "message"), "Exchange deleted");
    json_decref(j);
    expect_error(404, "GET", "/c/exchange/NONEXISTENT_EXCHANGE/status", NULL, NULL);
    expect_error(404, "GET", "/c/exchange/NONEXISTENT_EXCHANGE", NULL, NULL);
    /* HMA's refusals. */
    expect_error(400, "POST", "/c/exchanges", "{\"api\": \"fb_threatexchange\"}", "bank");
    expect_error(400, "POST", "/c/exchanges", "{\"api\": \"fb_threatexchange\", \"bank\": \"foo\"}",
                 "A-Z0-9_");
    expect_error(400, "POST", "/c/exchanges", "{\"bank\": \"FOO\", \"api_json\": 3}", "api_json");
    expect_error(400, "POST", "/c/exchanges", "{\"bank\": \"FOO\"}", "api_type");
    expect_error(400, "POST", "/c/exchanges", "{\"bank\": \"FOO\", \"api\": \"sample\"}", "sample");
    expect_error(400, "POST", "/c/exchanges",
                 "{\"bank\": \"FOO\", \"api\": \"fb_threatexchange\", \"api_json\": {}}",
                 "privacy_group");
    expect_error(400, "POST", "/c/exchanges",
                 "{\"bank\": \"FOO\", \"api\": \"tat\", \"api_json\": {}, \"owner\": 1}", "owner");
    expect_error(400, "POST", "/c/exchanges",
                 "{\"bank\": \"FOO\", \"api\": \"tat\", \"api_json\": {\"filter\": 1}}", "filter");
    /* Nothing was created by the refusals. */
    j = call(200, "GET", "/c/exchanges", NULL);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);

    j = call(201, "POST", "/c/exchanges",
             "{\"api\": \"fb_threatexchange\", \"bank\": \"BAR_EXCHANGE\", \"api_json\": "
             "{\"privacy_group\": 123, \"enabled\": false}}");
    assert_string_equal(api_jstr(j, "message"), "Created successfully");
    json_decref(j);
    /* The same name again: refused, the first one kept. */
    expect_error(409, "POST", "/c/exchanges",
                 "{\"api\": \"tat\", \"bank\": \"BAR_EXCHANGE\", \"api_json\": {}}", NULL);
    j = call(200, "GET", "/c/exchange/BAR_EXCHANGE/status", NULL);
    static const char *const fields[] = {
        "checkpoint_ts", "running_fetch_start_ts", "last_fetch_complete_ts", "last_fetch_succeeded",
        "up_to_date",    "fetched_items"};
    for (size_t i = 0; i < 6; i++)
        if (!json_object_get(j, fields[i]))
            fail_msg("the fetch status has no %s", fields[i]);
    assert_int_equal(json_object_size(j), 6);
    assert_int_equal(api_jint(j, "fetched_items"), 0);
    json_decref(j);
    /* GET: HMA's collaboration config. */
    j = call(200, "GET", "/c/exchange/BAR_EXCHANGE", NULL);
    assert_string_equal(api_jstr(j, "name"), "BAR_EXCHANGE");
    assert_string_equal(api_jstr(j, "api"), "fb_threatexchange");
    assert_true(json_is_false(json_object_get(j, "enabled")));
    assert_int_equal(api_jint(j, "privacy_group"), 123);
    json_decref(j);
    /* The name, bank and enabled state are takedown's exchange's. */
    j = api_call(&S.srv, 200, "GET", "/v1/exchanges", S.srv.admin, NULL);
    json_t *x = json_array_get(json_object_get(j, "exchanges"), 0);
    assert_string_equal(api_jstr(x, "name"), "BAR_EXCHANGE");
    assert_string_equal(api_jstr(x, "bank"), "BAR_EXCHANGE");
    assert_string_equal(api_jstr(x, "type"), "threatexchange");
    assert_string_equal(api_jstr(x, "group"), "123");
    assert_true(json_is_false(json_object_get(x, "enabled")));
    json_decref(j);
    /* PUT: enabled, with pydantic's lax booleans; anything else is pydantic's 422. */
    j = call(200, "PUT", "/c/exchange/BAR_EXCHANGE", "{\"enabled\": \"true\"}");
    assert_true(json_is_true(json_object_get(j, "enabled")));
    json_decref(j);
    j = call(200, "PUT", "/c/exchange/BAR_EXCHANGE", "{\"enabled\": 0}");
    assert_true(json_is_false(json_object_get(j, "enabled")));
    json_decref(j);
    j = call(200, "PUT", "/c/exchange/BAR_EXCHANGE", "{}");
    assert_true(json_is_false(json_object_get(j, "enabled")));
    json_decref(j);
    expect_error(422, "PUT", "/c/exchange/BAR_EXCHANGE", "{\"enabled\": \"maybe\"}", "enabled");
    expect_error(400, "PUT", "/c/exchange/BAR_EXCHANGE", "{\"enabled\": true, \"name\": \"X\"}",
                 "name");
    expect_error(404, "PUT", "/c/exchange/NOPE", "{\"enabled\": true}", NULL);
    /* Its bank exists as HMA's; the delete takes both. */
    json_decref(call(200, "GET", "/c/bank/BAR_EXCHANGE", NULL));
    j = call(200, "DELETE", "/c/exchange/BAR_EXCHANGE", NULL);
    assert_string_equal(api_jstr(j, "message"), "Exchange deleted");
    json_decref(j);
    expect_error(404, "GET", "/c/exchange/BAR_EXCHANGE", NULL, NULL);
    expect_error(404, "GET", "/c/bank/BAR_EXCHANGE", NULL, NULL);
    /* A bank that exists is not taken over. */
    json_decref(call(201, "POST", "/c/banks", "{\"name\": \"TAKEN\"}"));
    expect_error(409, "POST", "/c/exchanges", "{\"api\": \"tat\", \"bank\": \"TAKEN\"}", "TAKEN");
    j = call(200, "GET", "/c/exchanges", NULL);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
}

/* Waits for the exchange's first successful fetch; returns its status. */
static json_t *wait_fetched(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/c/exchange/%s/status", name);
    double deadline = api_now_s() + 20;
    while (api_now_s() < deadline) {
        json_t *j = call(200, "GET", path, NULL);
        if (json_is_true(json_object_get(j, "last_fetch_succeeded")))
            return j;
        json_decref(j);
        api_sleep_ms(100);
    }
    fail_msg("%s did not fetch within 20 s", name);
    return NULL;
}

/* memmem over a file's bytes: whether needle is in it. */
static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = strlen(needle), have = 0;
    char buf[65536 + 256];
    int found = 0;
    for (;;) {
        size_t got = fread(buf + have, 1, sizeof buf - have, f);
        if (got == 0)
            break;
        have += got;
        for (size_t i = 0; i + n <= have && !found; i++)
            found = memcmp(buf + i, needle, n) == 0;
        if (found)
            break;
        if (have >= n) { /* keep the tail where a match may straddle reads */
            memmove(buf, buf + have - (n - 1), n - 1);
            have = n - 1;
        }
    }
    fclose(f);
    return found;
}

static void test_fetch_threatexchange(void **state)
{
    (void)state;
    /* The API's credentials (HMA's per API), then an exchange of that API at the stand-in. */
    char body[512];
    snprintf(body, sizeof body, "{\"credential_json\": {\"api_token\": \"%s\"}}", TE_TOKEN);
    json_decref(call(200, "POST", "/c/exchanges/api/fb_threatexchange", body));
    snprintf(body, sizeof body,
             "{\"api\": \"fb_threatexchange\", \"bank\": \"GIFCT_TE\", \"api_json\": "
             "{\"privacy_group\": %s, \"url\": \"%s\"}}",
             TE_GROUP, fx_base_url(S.fx));
    json_decref(call(201, "POST", "/c/exchanges", body));
    json_t *st = wait_fetched("GIFCT_TE");
    /* Every record of the dataset is a supported type: the bank holds them all. */
    assert_int_equal(api_jint(st, "fetched_items"), sizeof te_recs / sizeof te_recs[0]);
    assert_true(json_is_integer(json_object_get(st, "last_fetch_complete_ts")));
    assert_true(api_jint(st, "last_fetch_complete_ts") > 1700000000);
    json_decref(st);
    /* The stand-in saw the token it was given, as ThreatExchange's access_token. */
    fx_request rq;
    char tok[128];
    int seen = 0;
    for (size_t i = 0; i < fx_request_count(S.fx); i++)
        if (fx_request_get(S.fx, i, &rq) && strstr(rq.path, "threat_updates") &&
            fx_arg(rq.query, "access_token", 0, tok, sizeof tok) && strcmp(tok, TE_TOKEN) == 0)
            seen = 1;
    assert_true(seen);
    /* The bank answers HMA's lookups of what was fetched (curation's route). */
    json_t *c = call(200, "GET", "/c/bank/GIFCT_TE", NULL);
    assert_string_equal(api_jstr(c, "name"), "GIFCT_TE");
    json_decref(c);
    /* The token is in no answer. */
    api_resp r;
    assert_int_equal(api_http(&S.hma, "GET", "/c/exchange/GIFCT_TE", S.srv.admin, NULL, &r), 200);
    assert_null(strstr(r.body, "0123456789abcdef-hma"));
    api_resp_free(&r);
    assert_int_equal(api_http(&S.srv, "GET", "/v1/exchanges", S.srv.admin, NULL, &r), 200);
    assert_null(strstr(r.body, "0123456789abcdef-hma"));
    api_resp_free(&r);
}

static void test_fetch_tcap(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body,
             "{\"credential_json\": {\"username\": \"%s\", \"password\": \"%s\"}}", TCAP_USER,
             TCAP_PASS);
    json_decref(call(200, "POST", "/c/exchanges/api/tat", body));
    expect_api_state("tat", 1);
    snprintf(body, sizeof body,
             "{\"api\": \"tat\", \"bank\": \"TCAP_LIST\", \"api_json\": {\"url\": \"%s\"}}",
             fx_base_url(S.fx));
    json_decref(call(201, "POST", "/c/exchanges", body));
    json_t *st = wait_fetched("TCAP_LIST");
    assert_int_equal(api_jint(st, "fetched_items"), sizeof tcap_recs / sizeof tcap_recs[0]);
    json_decref(st);
    assert_true(fx_tcap_logins(S.fx) >= 1);
    json_t *j = call(200, "GET", "/c/exchange/TCAP_LIST", NULL);
    assert_string_equal(api_jstr(j, "api"), "tat");
    assert_int_equal(json_object_size(j), 3); /* name, api, enabled: tat has no fields of its own */
    json_decref(j);
    /* Deleting it takes its bank with what it fetched (HMA's cascade). */
    json_decref(call(200, "DELETE", "/c/exchange/TCAP_LIST", NULL));
    expect_error(404, "GET", "/c/bank/TCAP_LIST", NULL, NULL);
    j = call(200, "GET", "/c/exchanges", NULL);
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(json_string_value(json_array_get(j, 0)), "GIFCT_TE");
    json_decref(j);
}

/* Last: the credentials are sealed at rest (the server stopped, its files read). */
static void test_sealed_at_rest(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    char path[4200];
    static const char *const files[] = {"takedown.db", "takedown.db-wal"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", S.dir, files[i]);
        assert_false(file_has(path, "0123456789abcdef-hma"));
        assert_false(file_has(path, TCAP_PASS));
    }
    /* A check of the check: the bank name is in the database in clear. */
    snprintf(path, sizeof path, "%s/takedown.db", S.dir);
    int in_db = file_has(path, "GIFCT_TE");
    snprintf(path, sizeof path, "%s/takedown.db-wal", S.dir);
    assert_true(in_db || file_has(path, "GIFCT_TE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_set_auth),         cmocka_unit_test(test_api_schema),
        cmocka_unit_test(test_create_status_delete), cmocka_unit_test(test_fetch_threatexchange),
        cmocka_unit_test(test_fetch_tcap),           cmocka_unit_test(test_sealed_at_rest),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
