/* The exchanges over HTTP against a real `takedown serve`: the documented commands of
 * docs/exchanges.md replayed; creation with sealed credentials never returned; every refusal
 * naming its member; the background worker pulling a list file served by this test at creation
 * and again at once when a signed push arrives (the exchange's interval is an hour, so only the
 * push can explain it); pushes with a wrong signature or for an unknown exchange one 401; a pull
 * by hand; deletion. */
#include <microhttpd.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/api_client.h"
#include "support/doc_replay.h"
#include "support/support.h"

#define PUSH_SECRET "push-secret-abcdef-0123"

static struct {
    char dir[4096];
    api_server srv;
    struct MHD_Daemon *list;
    unsigned short list_port;
    pthread_mutex_t lock;
    char body[4096];
    char auth[256];
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

static enum MHD_Result serve_list(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload, (void)upload_len, (void)state;
    pthread_mutex_lock(&S.lock);
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    snprintf(S.auth, sizeof S.auth, "%s", a ? a : "");
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(S.body), S.body, MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&S.lock);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void list_set(const char *body)
{
    pthread_mutex_lock(&S.lock);
    snprintf(S.body, sizeof S.body, "%s", body);
    pthread_mutex_unlock(&S.lock);
}

static int group_setup(void **state)
{
    (void)state;
    static const char *const flags[] = {"--exchange-allow-private", "1", NULL};
    if (api_group_init(S.dir, sizeof S.dir, "api-exchange-data") != 0)
        return -1;
    api_server_start(&S.srv, S.dir, flags);
    if (strncmp(S.srv.admin, "tdk_", 4) != 0)
        return -1;
    S.list = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve_list, NULL,
                              MHD_OPTION_END);
    if (!S.list)
        return -1;
    S.list_port = MHD_get_daemon_info(S.list, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    MHD_stop_daemon(S.list);
    return 0;
}

/* ---- the page's commands ---- */

static const char *doc_variable(const char *p, size_t *skip, void *ctx)
{
    (void)ctx;
    size_t n = doc_shell_match(p, "$ADMIN_KEY");
    if (!n)
        return NULL;
    *skip = n;
    return S.srv.admin;
}

static void test_doc_examples(void **state)
{
    (void)state;
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.srv.admin, "{\"name\": \"PARTNER\"}"));
    doc_replay d = {
        &S.srv, "docs/exchanges.md", "http://127.0.0.1:8080", doc_variable, NULL, NULL, 0, 0};
    int n = doc_replay_page(&d, NULL);
    print_message("replayed %d commands of docs/exchanges.md\n", n);
    assert_true(n >= 1);
}

/* ---- the routes ---- */

static json_t *get_exchange(long long id)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/exchanges/%lld", id);
    return api_call(&S.srv, 200, "GET", path, S.srv.admin, NULL);
}

/* The values of the bank's signals with the exchange's source, sorted, joined by spaces. */
static void bank_values(const char *bank, char *out, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/banks/%s/signals", bank);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.srv.admin, NULL);
    json_t *a = json_object_get(j, "signals");
    char v[16][65];
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(a) && n < 16; i++) {
        json_t *s = json_array_get(a, i);
        if (strcmp(api_jstr(s, "source"), "exchange:list") == 0)
            snprintf(v[n++], 65, "%s", api_jstr(s, "value"));
    }
    qsort(v, n, 65, (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, v[i], cap - strlen(out) - 2);
        strcat(out, " ");
    }
    json_decref(j);
}

static int wait_values(const char *bank, const char *want, int ms)
{
    char got[2048];
    for (double end = api_now_s() + ms / 1000.0; api_now_s() < end; api_sleep_ms(50)) {
        bank_values(bank, got, sizeof got);
        if (strcmp(got, want) == 0)
            return 1;
    }
    return 0;
}

static void push(long long id, const char *body, const char *secret, long expect)
{
    uint8_t mac[32];
    unsigned len = 0;
    char header[128] = "X-Takedown-Signature: sha256=", path[64];
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)body, strlen(body), mac, &len);
    for (int i = 0; i < 32; i++)
        snprintf(header + strlen(header), 3, "%02x", mac[i]);
    snprintf(path, sizeof path, "/v1/exchanges/%lld/push", id);
    api_request rq = {"POST", path, NULL, "application/json", body, -1, 0, header};
    if (expect == 202) {
        json_decref(api_call_req(&S.srv, 202, &rq));
    } else {
        api_expect_error_req(&S.srv, expect, "bad_signature", NULL, &rq);
    }
}

#define A "0123456789abcdef0123456789abcdef"
#define B "11111111111111111111111111111111"
#define C "22222222222222222222222222222222"

static void test_exchange_routes(void **state)
{
    (void)state;
    const char *admin = S.srv.admin;
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", admin, "{\"name\": \"LIST\"}"));
    list_set("md5 " A "\nmd5 " B "\n");
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\": \"list\", \"type\": \"url_list\", \"url\": "
             "\"http://127.0.0.1:%u/list.txt\", \"bank\": \"LIST\", \"interval_ms\": 3600000, "
             "\"credentials\": {\"bearer\": \"b-SECRET-77\"}, \"push_secret\": \"" PUSH_SECRET
             "\"}",
             S.list_port);

    /* Refusals name their member; nothing is created. */
    char bad[1200];
    snprintf(bad, sizeof bad, "%.*s, \"colour\": \"red\"}", (int)strlen(body) - 1, body);
    api_expect_error_ex(&S.srv, 400, "unknown_field", "colour", "POST", "/v1/exchanges", admin, bad,
                        strlen(bad), NULL);
    api_expect_error(&S.srv, 400, "missing_field", "POST", "/v1/exchanges", admin,
                     "{\"name\": \"x\", \"type\": \"url_list\", \"url\": \"http://a.example/\"}");
    api_expect_error_ex(&S.srv, 400, "invalid_value", "type", "POST", "/v1/exchanges", admin,
                        "{\"name\": \"x\", \"type\": \"ftp\", \"url\": \"http://a.example/\", "
                        "\"bank\": \"LIST\"}",
                        SIZE_MAX, NULL);
    api_expect_error_ex(&S.srv, 400, "invalid_value", "credentials", "POST", "/v1/exchanges", admin,
                        "{\"name\": \"x\", \"type\": \"url_list\", \"url\": \"http://a.example/\", "
                        "\"bank\": \"LIST\", \"credentials\": \"secret\"}",
                        SIZE_MAX, NULL);
    api_expect_error(&S.srv, 404, NULL, "POST", "/v1/exchanges", admin,
                     "{\"name\": \"x\", \"type\": \"url_list\", \"url\": \"http://a.example/\", "
                     "\"bank\": \"NO_SUCH_BANK\"}");
    api_expect_error(&S.srv, 400, NULL, "POST", "/v1/exchanges", admin,
                     "{\"name\": \"x\", \"type\": \"url_list\", \"url\": \"ftp://a.example/\", "
                     "\"bank\": \"LIST\"}");
    json_t *all = api_call(&S.srv, 200, "GET", "/v1/exchanges", admin, NULL);
    size_t before = json_array_size(json_object_get(all, "exchanges"));
    json_decref(all);

    /* Created: the secrets are never returned. */
    api_resp r;
    assert_int_equal(api_http(&S.srv, "POST", "/v1/exchanges", admin, body, &r), 201);
    assert_null(strstr(r.body, "b-SECRET-77"));
    assert_null(strstr(r.body, PUSH_SECRET));
    json_t *e = api_parse_or_fail("POST", "/v1/exchanges", &r);
    api_resp_free(&r);
    long long id = api_jint(e, "id");
    assert_true(json_is_true(json_object_get(e, "has_credentials")));
    assert_true(json_is_true(json_object_get(e, "has_push_secret")));
    assert_null(json_object_get(e, "credentials"));
    json_decref(e);
    api_expect_error(&S.srv, 409, NULL, "POST", "/v1/exchanges", admin, body);

    /* The worker pulls at once after creation, with the bearer. */
    if (!wait_values("LIST", A " " B " ", 20000))
        fail_msg("the worker did not pull the list after creation");
    pthread_mutex_lock(&S.lock);
    assert_string_equal(S.auth, "Bearer b-SECRET-77");
    pthread_mutex_unlock(&S.lock);
    e = get_exchange(id);
    json_t *st = json_object_get(e, "state");
    assert_int_equal(api_jint(st, "added"), 2);
    assert_int_equal(strlen(api_jstr(st, "checkpoint")), 64);
    assert_string_equal(api_jstr(st, "last_error"), "");
    json_decref(e);

    /* A new list and a push: the worker pulls now, not in an hour. */
    list_set("md5 " A "\nmd5 " C "\n");
    push(id, "{\"event\": \"incident\"}", "not the secret at all", 401);
    push(999999, "{\"event\": \"incident\"}", PUSH_SECRET, 401);
    push(id, "{\"event\": \"incident\"}", PUSH_SECRET, 202);
    if (!wait_values("LIST", A " " C " ", 20000))
        fail_msg("a signed push did not make the worker pull");

    /* Changes: name, type and bank are fixed; unknown members refused; an empty change too. */
    char path[64];
    snprintf(path, sizeof path, "/v1/exchanges/%lld", id);
    api_expect_error_ex(&S.srv, 400, "invalid_value", "name", "PATCH", path, admin,
                        "{\"name\": \"other\"}", SIZE_MAX, NULL);
    api_expect_error_ex(&S.srv, 400, "unknown_field", "colour", "PATCH", path, admin,
                        "{\"colour\": 1}", SIZE_MAX, NULL);
    api_expect_error(&S.srv, 400, "missing_field", "PATCH", path, admin, "{}");
    e = api_call(&S.srv, 200, "PATCH", path, admin,
                 "{\"interval_ms\": 7200000, \"tags\": [\"tvec\"], \"signal_types\": [\"md5\"]}");
    assert_int_equal(api_jint(e, "interval_ms"), 7200000);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "tags"), 0)), "tvec");
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "signal_types"), 0)),
                        "md5");
    json_decref(e);

    /* A pull by hand: the same file changes nothing. A run takes no body. */
    snprintf(path, sizeof path, "/v1/exchanges/%lld/run", id);
    e = api_call(&S.srv, 200, "POST", path, admin, NULL);
    assert_true(json_is_true(json_object_get(e, "done")));
    assert_int_equal(api_jint(e, "added") + api_jint(e, "removed"), 0);
    json_decref(e);
    api_expect_error(&S.srv, 400, "unexpected_body", "POST", path, admin, "{\"max_pages\": 1}");

    /* Deleted: gone from the list; its signals stay in the bank. */
    snprintf(path, sizeof path, "/v1/exchanges/%lld", id);
    json_decref(api_call(&S.srv, 200, "DELETE", path, admin, NULL));
    api_expect_error(&S.srv, 404, NULL, "GET", path, admin, NULL);
    all = api_call(&S.srv, 200, "GET", "/v1/exchanges", admin, NULL);
    assert_int_equal(json_array_size(json_object_get(all, "exchanges")), before);
    json_decref(all);
    char got[512];
    bank_values("LIST", got, sizeof got);
    assert_string_equal(got, A " " C " ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_examples),
        cmocka_unit_test(test_exchange_routes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
