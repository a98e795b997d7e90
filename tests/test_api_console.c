/* What the console's team views read besides the routes other tests cover, against the real
 * `takedown serve` on a loopback port: the matches counters and the review queue's depth in
 * /metrics, counted from what this test submits (POST /v1/check and POST /v1/content, with
 * matches of a block bank, a review bank and both), and the transparency report's chart figures
 * through GET /v1/reports/transparency: matches per bank (recorded for content only: a check is
 * recorded nowhere), decisions per outcome, orders per week and the distribution of the time to
 * removal (no orders here: zeros), with the roles the route refuses. The figures against chosen
 * order times are in test_orders (test_report_charts); the audit entries and release requests
 * in test_api_evidence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/api_client.h"
#include "support/support.h"

#define BLOCK_MD5 "b10cb10cb10cb10cb10cb10cb10cb10c"
#define REVIEW_MD5 "5eed5eed5eed5eed5eed5eed5eed5eed"
#define REVIEW_SHA "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"

enum { ADMIN, MODERATOR, AUDITOR, PLATFORM, CUSTODIAN, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin", "moderator", "auditor", "platform",
                                              "custodian"};

static struct {
    api_server srv;
    char dir[4096];
    char keys[N_KEYS][128];
} S;

static int group_setup(void **state)
{
    (void)state;
    static const char *const flags[] = {"--review-qa-share", "0", NULL};
    if (api_group_init(S.dir, sizeof S.dir, "api-console-data") != 0)
        return -1;
    api_server_start(&S.srv, S.dir, flags);
    snprintf(S.keys[ADMIN], sizeof S.keys[ADMIN], "%s", S.srv.admin);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    for (int i = 1; i < N_KEYS; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"console-%s\"}", key_roles[i],
                 key_roles[i]);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.keys[ADMIN], body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", api_jstr(j, "key"));
        json_decref(j);
    }
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

/* The value of the sample `series` (name with its labels, as written) in /metrics. */
static double metric(const char *series)
{
    api_resp r;
    assert_int_equal(api_http(&S.srv, "GET", "/metrics", NULL, NULL, &r), 200);
    size_t n = strlen(series);
    for (const char *l = r.body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, series, n) == 0 && l[n] == ' ') {
            double v = strtod(l + n + 1, NULL);
            api_resp_free(&r);
            return v;
        }
    api_resp_free(&r);
    fail_msg("/metrics: no sample %s", series);
    return -1;
}

/* What the test sent: matches per bank (content only) and per action (content and checks). */
static struct {
    int content_block_bank, content_review_bank;
    int block, review;
    long long review_cases[8];
    int n_cases;
} T;

static void submit(const char *id, const char *md5, const char *sha256, int to_block, int to_review)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"content_id\": \"%s\", \"uploader\": \"u-1\", \"hashes\": {\"md5\": \"%s\"%s%s%s}}",
             id, md5, sha256 ? ", \"sha256\": \"" : "", sha256 ? sha256 : "", sha256 ? "\"" : "");
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM], body);
    assert_int_equal((int)json_array_size(json_object_get(j, "matches")), to_block + to_review);
    json_t *kase = json_object_get(j, "case");
    if (json_is_object(kase))
        T.review_cases[T.n_cases++] = api_jint(kase, "id");
    json_decref(j);
    T.content_block_bank += to_block;
    T.content_review_bank += to_review;
    T.block += to_block;
    T.review += to_review;
}

static void check_hashes(const char *md5, int to_block, int to_review)
{
    char body[256];
    snprintf(body, sizeof body, "{\"hashes\": {\"md5\": \"%s\"}}", md5);
    json_t *j = api_call(&S.srv, 200, "POST", "/v1/check", S.keys[PLATFORM], body);
    assert_int_equal((int)json_array_size(json_object_get(j, "matches")), to_block + to_review);
    json_decref(j);
    T.block += to_block;
    T.review += to_review;
}

static void test_matches_and_queue(void **state)
{
    (void)state;
    const char *M = S.keys[MODERATOR];
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", M,
                         "{\"name\": \"CONSOLE_BLOCK\", \"action\": \"block\"}"));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", M,
                         "{\"name\": \"CONSOLE_REVIEW\", \"action\": \"review\"}"));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks/CONSOLE_BLOCK/signals", M,
                         "{\"type\": \"md5\", \"value\": \"" BLOCK_MD5 "\"}"));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks/CONSOLE_REVIEW/signals", M,
                         "{\"type\": \"md5\", \"value\": \"" REVIEW_MD5 "\"}"));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks/CONSOLE_BLOCK/signals", M,
                         "{\"type\": \"sha256\", \"value\": \"" REVIEW_SHA "\"}"));
    double block0 = metric("takedown_matches_total{action=\"block\"}");
    double review0 = metric("takedown_matches_total{action=\"review\"}");
    assert_true(block0 == 0 && review0 == 0);

    submit("c-block-1", BLOCK_MD5, NULL, 1, 0);
    submit("c-block-2", BLOCK_MD5, NULL, 1, 0);
    submit("c-review-1", REVIEW_MD5, NULL, 0, 1);
    submit("c-review-2", REVIEW_MD5, NULL, 0, 1);
    submit("c-review-3", REVIEW_MD5, NULL, 0, 1);
    submit("c-both", REVIEW_MD5, REVIEW_SHA, 1, 1); /* blocked: no case */
    submit("c-none", "00000000000000000000000000000abc", NULL, 0, 0);
    check_hashes(BLOCK_MD5, 1, 0);
    check_hashes(REVIEW_MD5, 0, 1);
    check_hashes("00000000000000000000000000000def", 0, 0);
    assert_int_equal(T.n_cases, 3);

    assert_true(metric("takedown_matches_total{action=\"block\"}") == T.block);
    assert_true(metric("takedown_matches_total{action=\"review\"}") == T.review);
    assert_true(metric("takedown_matches_total{action=\"log\"}") == 0);
    assert_true(metric("takedown_review_queue_depth") == T.n_cases);

    /* Decisions: remove, keep, escalate (an escalated case stays in the queue). */
    static const char *const decisions[] = {"remove", "keep", "escalate"};
    for (int i = 0; i < 3; i++) {
        char path[96], body[128];
        snprintf(path, sizeof path, "/v1/cases/%lld/decision", T.review_cases[i]);
        snprintf(body, sizeof body, "{\"decision\": \"%s\", \"reason\": \"console test\"}",
                 decisions[i]);
        json_decref(api_call(&S.srv, 201, "POST", path, M, body));
    }
    assert_true(metric("takedown_review_queue_depth") == 1);
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/stats", S.keys[ADMIN], NULL);
    assert_int_equal(api_jint(j, "cases_open"), 1);
    json_decref(j);
}

static void test_report_figures(void **state)
{
    (void)state;
    /* A period around now: the test's content and decisions in it. */
    char from[32], to[32], path[160];
    time_t now = time(NULL);
    struct tm tm;
    time_t f = now - 86400, t = now + 86400;
    gmtime_r(&f, &tm);
    strftime(from, sizeof from, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&t, &tm);
    strftime(to, sizeof to, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(path, sizeof path, "/v1/reports/transparency?from=%s&to=%s", from, to);
    api_expect_error(&S.srv, 403, "forbidden", "GET", path, S.keys[PLATFORM], NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", path, S.keys[CUSTODIAN], NULL);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);

    json_t *banks = json_object_get(j, "matches_per_bank");
    assert_int_equal(json_array_size(banks), 2);
    assert_string_equal(api_jstr(json_array_get(banks, 0), "bank"), "CONSOLE_BLOCK");
    assert_int_equal(api_jint(json_array_get(banks, 0), "matches"), T.content_block_bank);
    assert_string_equal(api_jstr(json_array_get(banks, 1), "bank"), "CONSOLE_REVIEW");
    assert_int_equal(api_jint(json_array_get(banks, 1), "matches"), T.content_review_bank);

    json_t *outcomes = json_object_get(j, "decisions_per_outcome");
    assert_int_equal(api_jint(outcomes, "remove"), 1);
    assert_int_equal(api_jint(outcomes, "keep"), 1);
    assert_int_equal(api_jint(outcomes, "escalate"), 1);

    /* No orders: every week of the period listed with zeros (the period spans one or two). */
    json_t *weeks = json_object_get(j, "orders_per_week"), *w;
    size_t i;
    assert_true(json_array_size(weeks) >= 1 && json_array_size(weeks) <= 2);
    json_array_foreach(weeks, i, w)
    {
        assert_int_equal(api_jint(w, "orders"), 0);
        assert_int_equal(api_jint(w, "referrals"), 0);
        assert_int_equal(strlen(api_jstr(w, "week_start")), 10);
    }
    json_t *h = json_object_get(j, "removal_time_histogram");
    assert_int_equal(json_array_size(json_object_get(h, "buckets")), 8);
    assert_int_equal(api_jint(h, "orders"), 0);
    assert_true(json_is_null(json_object_get(h, "median_s")));
    assert_true(json_is_null(json_object_get(h, "p95_s")));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_and_queue),
        cmocka_unit_test(test_report_figures),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
