/* The breach of a removal order's hour, end to end over HTTP, without waiting an hour: the
 * service runs in this process on an injected clock (td_service_options.clock), the real server
 * (td_server_start) serves it on a loopback port with its own clock thread, and the test drives
 * it with the same HTTP client as the other API tests, as an authority, a platform and an
 * auditor would. The test moves the clock past +15, +30 and +45 minutes and the deadline (+60),
 * and polls (briefly; the clock thread ticks once a second) until the server has recorded each
 * step by itself: escalations in the order and the moderators' queue, the breach record,
 * /metrics, the operator log, then the late confirmation, the Annex II feedback stating the
 * breach, the transparency figures and the audit log entries (read back through inclusion
 * proofs). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/api_client.h"
#include "support/fake_clock.h"
#include "support/support.h"
#include "takedown/orders.h"
#include "takedown/server.h"

#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define T0 ((int64_t)1717236000000LL) /* 2024-06-01T10:00:00Z */
#define CONTENT_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
#define POLL_S 10.0 /* the clock thread ticks every second: ample */

enum { ADMIN, MODERATOR, PLATFORM, AUDITOR, BKA, N_KEYS };

static struct {
    char dir[4096];
    td_service *svc;
    td_server *server;
    api_server srv; /* only its base URL: the server runs in this process */
    char keys[N_KEYS][TD_KEY_TEXT_MAX];
    int64_t key_ids[N_KEYS];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    long long order;
    pthread_mutex_t log_lock;
    char log[8192]; /* what the server reported to its operator */
} S = {.log_lock = PTHREAD_MUTEX_INITIALIZER};

static void on_server_log(void *ctx, const char *message)
{
    (void)ctx;
    pthread_mutex_lock(&S.log_lock);
    size_t n = strlen(S.log);
    snprintf(S.log + n, sizeof S.log - n, "%s\n", message);
    pthread_mutex_unlock(&S.log_lock);
}

/* Polls the operator log for text (the clock thread reports after it commits). */
static int log_has(const char *text)
{
    double until = api_now_s() + POLL_S;
    for (;;) {
        pthread_mutex_lock(&S.log_lock);
        int found = strstr(S.log, text) != NULL;
        pthread_mutex_unlock(&S.log_lock);
        if (found || api_now_s() > until)
            return found;
        api_sleep_ms(20);
    }
}

static int group_setup(void **state)
{
    (void)state;
    static const td_role roles[N_KEYS] = {TD_ROLE_ADMIN, TD_ROLE_MODERATOR, TD_ROLE_PLATFORM,
                                          TD_ROLE_AUDITOR, TD_ROLE_AUTHORITY};
    static const char *const names[N_KEYS] = {"admin", "moderator-1", "upload-service", "auditor",
                                              "bka-desk"};
    td_error err;
    if (api_group_init(S.dir, sizeof S.dir, "api-orders-breach-data") != 0)
        return -1;
    fake_clock_set(T0 - 2 * DAY_MS);
    td_service_options so;
    td_service_options_default(&so);
    so.clock.now_ms = fake_clock;
    if (td_service_open(S.dir, &so, &S.svc, &err) != TD_OK) {
        print_error("service: %s\n", err.message);
        return -1;
    }
    for (int k = 0; k < N_KEYS; k++) {
        td_key_info info;
        if (td_key_create(S.svc, roles[k], names[k], S.keys[k], &info, &err) != TD_OK)
            return -1;
        S.key_ids[k] = info.id;
    }
    td_server_options opts;
    td_server_options_default(&opts);
    opts.port = 0;
    opts.threads = 2;
    opts.log = on_server_log;
    if (td_server_start(&opts, S.svc, &S.server, &err) != TD_OK) {
        print_error("server: %s\n", err.message);
        return -1;
    }
    snprintf(S.srv.base, sizeof S.srv.base, "http://127.0.0.1:%u",
             (unsigned)td_server_port(S.server));
    crypto_sign_keypair(S.pk, S.sk);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    td_server_stop(S.server, 2000);
    td_service_close(S.svc);
    curl_global_cleanup();
    return 0;
}

/* ---- helpers ---- */

static json_t *get_order(void)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/orders/%lld", S.order);
    return api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
}

/* Polls order id until its escalation reaches `level`; returns it (json_decref it). */
static json_t *wait_escalation_of(long long id, json_int_t level)
{
    double until = api_now_s() + POLL_S;
    char path[64];
    snprintf(path, sizeof path, "/v1/orders/%lld", id);
    for (;;) {
        json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
        if (api_jint(j, "escalation") >= level || api_now_s() > until)
            return j;
        json_decref(j);
        api_sleep_ms(20);
    }
}

static json_t *wait_escalation(json_int_t level) { return wait_escalation_of(S.order, level); }

/* The value of the sample `series` in a /metrics text. */
static double metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, series, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    fail_msg("/metrics: no sample %s", series);
    return -1;
}

static double scrape(const char *series)
{
    api_resp r;
    assert_int_equal(api_http(&S.srv, "GET", "/metrics", NULL, NULL, &r), 200);
    double v = metric(r.body, series);
    api_resp_free(&r);
    return v;
}

static void time_text(int64_t ms, char out[32]) { td_order_time_format(ms, out); }

/* The audit entries about object `object`, oldest first, as an array of parsed entries. */
static json_t *audit_entries(const char *object)
{
    json_t *cp = api_call(&S.srv, 200, "GET", "/v1/log/checkpoint", NULL, NULL);
    json_int_t size = api_jint(json_object_get(cp, "checkpoint"), "size");
    json_decref(cp);
    json_t *out = json_array();
    for (json_int_t seq = 0; seq < size; seq++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/log/proof/inclusion?seq=%lld&size=%lld", (long long)seq,
                 (long long)size);
        json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
        json_t *entry = json_loads(api_jstr(j, "entry"), 0, NULL);
        assert_non_null(entry);
        if (strcmp(api_jstr(entry, "object"), object) == 0)
            json_array_append(out, entry);
        json_decref(entry);
        json_decref(j);
    }
    return out;
}

static int count_action(json_t *entries, const char *action)
{
    int n = 0;
    for (size_t i = 0; i < json_array_size(entries); i++)
        n += strcmp(api_jstr(json_array_get(entries, i), "action"), action) == 0;
    return n;
}

/* ---- the scenario ---- */

/* The authority (announced two days before), its linked key, the platform's content. */
static void test_setup(void **state)
{
    (void)state;
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], body[1024], announced[32], path[128];
    sodium_bin2hex(hex, sizeof hex, S.pk, sizeof S.pk);
    time_text(T0 - 2 * DAY_MS, announced);
    snprintf(body, sizeof body,
             "{\"name\": \"BKA\", \"member_state\": \"DE\", \"contact\": \"ops@bka.example\", "
             "\"public_key\": \"%s\", \"announced_at\": \"%s\"}",
             hex, announced);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/authorities", S.keys[ADMIN], body);
    snprintf(path, sizeof path, "/v1/authorities/%lld/keys", (long long)api_jint(j, "id"));
    json_decref(j);
    snprintf(body, sizeof body, "{\"key_id\": %lld}", (long long)S.key_ids[BKA]);
    json_decref(api_call(&S.srv, 201, "POST", path, S.keys[ADMIN], body));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM],
                         "{\"content_id\": \"brx-1\", \"uploader\": \"user-9\", \"url\": "
                         "\"https://video.example/brx\", \"hashes\": {\"pdq\": \"" CONTENT_PDQ
                         "\"}}"));
}

/* Received at T0, executed at once, and then nobody confirms: the clock thread escalates at
 * +15, +30, +45 minutes and records the breach at +60, each once. */
static void test_escalations_and_breach(void **state)
{
    (void)state;
    char body[4096], sig[200], deadline[32];
    fake_clock_set(T0);
    api_order_doc(body, sizeof body, "BKA", "BKA-BREACH-1", "brx-1", NULL, NULL);
    api_sign_header(S.sk, body, strlen(body), sig, sizeof sig);
    json_t *j =
        api_call_ex(&S.srv, 201, "POST", "/v1/orders", S.keys[BKA], body, strlen(body), sig);
    S.order = api_jint(j, "id");
    assert_int_equal(api_jint(j, "received_ms"), T0);
    assert_int_equal(api_jint(j, "deadline_ms"), T0 + HOUR_MS);
    assert_true(json_is_true(json_object_get(j, "executed")));
    json_decref(j);
    time_text(T0 + HOUR_MS, deadline);

    j = get_order();
    assert_string_equal(api_jstr(j, "state"), "executed");
    assert_int_equal(api_jint(j, "escalation"), 0);
    assert_string_equal(api_jstr(j, "deadline"), deadline);
    json_decref(j);
    assert_true(scrape("takedown_orders_open_escalated") == 0);

    for (int mark = 1; mark <= 3; mark++) {
        char want[64];
        fake_clock_set(T0 + mark * 15 * MIN_MS);
        j = wait_escalation(mark);
        if (api_jint(j, "escalation") != mark)
            fail_msg("order %lld: escalation %lld after moving the clock to +%d min, expected %d",
                     S.order, (long long)api_jint(j, "escalation"), mark * 15, mark);
        assert_true(json_is_null(json_object_get(j, "breached_at")));
        assert_string_equal(api_jstr(j, "state"), "executed");
        json_decref(j);
        /* First in the moderators' queue, and counted for monitoring. */
        j = api_call(&S.srv, 200, "GET", "/v1/orders", S.keys[MODERATOR], NULL);
        json_t *first = json_array_get(json_object_get(j, "orders"), 0);
        assert_int_equal(api_jint(first, "id"), S.order);
        assert_int_equal(api_jint(first, "escalation"), mark);
        json_decref(j);
        assert_true(scrape("takedown_orders_open_escalated") == 1);
        assert_true(scrape("takedown_order_escalations") == mark);
        assert_true(scrape("takedown_order_breaches_total") == 0);
        snprintf(want, sizeof want, "order clocks: 1 escalation(s), 0 breach(es)");
        assert_true(log_has(want));
    }

    /* The deadline: the breach is recorded by the server itself, at the deadline. */
    fake_clock_set(T0 + HOUR_MS);
    double until = api_now_s() + POLL_S;
    for (;;) {
        j = get_order();
        if (!json_is_null(json_object_get(j, "breached_at")) || api_now_s() > until)
            break;
        json_decref(j);
        api_sleep_ms(20);
    }
    if (json_is_null(json_object_get(j, "breached_at")))
        fail_msg("order %lld: no breach recorded after moving the clock to the deadline", S.order);
    assert_string_equal(api_jstr(j, "breached_at"), deadline);
    assert_string_equal(api_jstr(j, "state"), "executed"); /* still to be removed */
    assert_int_equal(api_jint(j, "escalation"), 3);
    json_decref(j);
    assert_true(scrape("takedown_order_breaches_total") == 1);
    assert_true(scrape("takedown_orders_open{state=\"executed\"}") == 1);
    assert_true(log_has("0 escalation(s), 1 breach(es)"));
    j = api_call(&S.srv, 200, "GET", "/v1/orders?open=0", S.keys[AUDITOR], NULL);
    assert_string_equal(api_jstr(json_array_get(json_object_get(j, "orders"), 0), "breached_at"),
                        deadline);
    json_decref(j);
}

/* The platform removes the content a minute late: the clock stops, the breach stays, and the
 * Annex II feedback says that the measure came after the deadline. */
static void test_late_confirmation(void **state)
{
    (void)state;
    char path[128], body[256], measure[32], deadline[32], received[32];
    fake_clock_set(T0 + HOUR_MS + 2 * MIN_MS);
    time_text(T0 + HOUR_MS + MIN_MS, measure);
    time_text(T0 + HOUR_MS, deadline);
    time_text(T0, received);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", S.order);
    snprintf(body, sizeof body, "{\"measure\": \"removed\", \"time\": \"%s\"}", measure);
    json_t *j = api_call(&S.srv, 200, "POST", path, S.keys[PLATFORM], body);
    assert_string_equal(api_jstr(j, "state"), "confirmed");
    assert_string_equal(api_jstr(j, "measure_at"), measure);
    assert_string_equal(api_jstr(j, "breached_at"), deadline);
    json_decref(j);

    /* Annex II, read by the issuing authority (which records it as sent). */
    snprintf(path, sizeof path, "/v1/orders/%lld/feedback", S.order);
    j = api_call(&S.srv, 200, "GET", path, S.keys[BKA], NULL);
    assert_string_equal(api_jstr(j, "time_of_receipt"), received);
    assert_string_equal(api_jstr(j, "time_of_measure"), measure);
    assert_string_equal(api_jstr(j, "deadline"), deadline);
    assert_string_equal(api_jstr(j, "measure"), "removed");
    assert_true(json_is_false(json_object_get(j, "within_deadline")));
    assert_string_equal(api_jstr(j, "breached_at"), deadline);
    assert_int_equal(api_jint(j, "late_by_ms"), MIN_MS);
    json_decref(j);

    /* Monitoring: no open order any more; the removal took 61 minutes. */
    assert_true(scrape("takedown_orders_open_escalated") == 0);
    assert_true(scrape("takedown_order_breaches_total") == 1);
    assert_true(scrape("takedown_order_receipt_to_removal_seconds_count") == 1);
    assert_true(scrape("takedown_order_receipt_to_removal_seconds_bucket{le=\"3600\"}") == 0);
    assert_true(scrape("takedown_order_receipt_to_removal_seconds_bucket{le=\"7200\"}") == 1);

    /* The Art. 7 figures. */
    char from[32], to[32];
    time_text(T0 - HOUR_MS, from);
    time_text(T0 + 2 * HOUR_MS, to);
    snprintf(path, sizeof path, "/v1/reports/transparency?from=%s&to=%s", from, to);
    j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    json_t *orders = json_object_get(j, "orders");
    assert_int_equal(api_jint(orders, "received"), 1);
    assert_int_equal(api_jint(orders, "executed_late"), 1);
    assert_int_equal(api_jint(orders, "executed_within_deadline"), 0);
    assert_int_equal(api_jint(orders, "breaches"), 1);
    assert_int_equal(api_jint(json_object_get(orders, "receipt_to_measure_ms"), "max"),
                     HOUR_MS + MIN_MS);
    json_decref(j);
}

/* The audit log holds each step once, at the time of the injected clock. */
static void test_audit_entries(void **state)
{
    (void)state;
    /* Later ticks change nothing. To know that the clock thread ticked after the breach and
     * the confirmation, a second order is left to escalate: once it has, a tick ran. */
    char body[4096], sig[200];
    fake_clock_set(T0 + 3 * HOUR_MS);
    api_order_doc(body, sizeof body, "BKA", "BKA-BREACH-2", NULL, "https://elsewhere.example/2",
                  NULL);
    api_sign_header(S.sk, body, strlen(body), sig, sizeof sig);
    json_t *j =
        api_call_ex(&S.srv, 201, "POST", "/v1/orders", S.keys[BKA], body, strlen(body), sig);
    long long second = api_jint(j, "id");
    json_decref(j);
    fake_clock_set(T0 + 3 * HOUR_MS + 15 * MIN_MS);
    j = wait_escalation_of(second, 1);
    assert_int_equal(api_jint(j, "escalation"), 1);
    json_decref(j);
    char object[48];
    snprintf(object, sizeof object, "order:%lld", S.order);
    json_t *e = audit_entries(object);
    assert_int_equal(count_action(e, "order.received"), 1);
    assert_int_equal(count_action(e, "order.executed"), 1);
    assert_int_equal(count_action(e, "order.escalated"), 3);
    assert_int_equal(count_action(e, "order.breached"), 1);
    assert_int_equal(count_action(e, "order.confirmed"), 1);
    assert_int_equal(count_action(e, "order.feedback_sent"), 1);
    int mark = 0;
    for (size_t i = 0; i < json_array_size(e); i++) {
        json_t *entry = json_array_get(e, i);
        const char *action = api_jstr(entry, "action");
        json_t *d = json_loads(api_jstr(entry, "details"), 0, NULL);
        if (strcmp(action, "order.received") == 0) {
            assert_int_equal(api_jint(entry, "time_ms"), T0);
            assert_int_equal(api_jint(d, "deadline_ms"), T0 + HOUR_MS);
        } else if (strcmp(action, "order.escalated") == 0) {
            mark++;
            assert_int_equal(api_jint(d, "mark"), mark);
            assert_int_equal(api_jint(d, "mark_ms"), T0 + mark * 15 * MIN_MS);
            assert_int_equal(api_jint(entry, "time_ms"), T0 + mark * 15 * MIN_MS);
            assert_string_equal(api_jstr(entry, "actor"), "system");
        } else if (strcmp(action, "order.breached") == 0) {
            assert_int_equal(mark, 3); /* after the marks */
            assert_int_equal(api_jint(d, "deadline_ms"), T0 + HOUR_MS);
            assert_int_equal(api_jint(entry, "time_ms"), T0 + HOUR_MS);
            assert_string_equal(api_jstr(entry, "actor"), "system");
        } else if (strcmp(action, "order.confirmed") == 0) {
            assert_int_equal(api_jint(d, "measure_ms"), T0 + HOUR_MS + MIN_MS);
            assert_int_equal(api_jint(d, "receipt_to_measure_ms"), HOUR_MS + MIN_MS);
            assert_string_equal(api_jstr(entry, "actor"), "upload-service");
        }
        json_decref(d);
    }
    json_decref(e);
}

int main(void)
{
    /* The injected clock, read by the service, the orders, the audit log and the evidence store. */
    fake_clock_set(T0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup),
        cmocka_unit_test(test_escalations_and_breach),
        cmocka_unit_test(test_late_confirmation),
        cmocka_unit_test(test_audit_entries),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
