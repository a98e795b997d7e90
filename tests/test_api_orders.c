/* Removal orders over HTTP, driven as an authority, a platform and an auditor drive them: the real
 * `takedown serve` runs as a child process on a loopback port over a fresh data directory, and a
 * webhook receiver inside the test plays the platform. Covered: authorities with Ed25519 keys
 * generated here, signed intake and its refusals (401 / 403 / 422 with the field), duplicates,
 * the remove action (HMAC checked) and the confirmation, the Annex II feedback, cannot-comply and
 * clarification, a referral, a complaint with the restore action, the transparency figures of
 * this scenario, the roles around orders, and the audit log: the public checkpoint and an
 * inclusion proof of an order's entry verified offline with the log's public key (obtained out
 * of band with `takedown audit pubkey`).
 *
 * The receipt-to-confirmation time on the automatic path is printed (not asserted): it depends
 * on the machine and on the webhook worker's wake-up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/audit.h"
#include "takedown/orders.h"

#define WEBHOOK_SECRET "orders-test-secret-0123456789"
#define CONTENT_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
#define HOUR_MS 3600000LL

/* API keys: the admin's (printed at first start) and those created by the test. */
enum { ADMIN, MODERATOR, PLATFORM, AUDITOR, BKA, POLITIE, IRU, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin",     "moderator", "platform", "auditor",
                                              "authority", "authority", "authority"};

/* The three authorities: two competent authorities and a referral unit. */
enum { A_BKA, A_POLITIE, A_IRU, N_AUTH };

static struct {
    api_server srv;
    char dir[4096];
    char keys[N_KEYS][128];
    long long key_ids[N_KEYS];
    long long auth_ids[N_AUTH];
    unsigned char pk[N_AUTH][crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[N_AUTH][crypto_sign_SECRETKEYBYTES];
    unsigned char stray_sk[crypto_sign_SECRETKEYBYTES]; /* a key nobody registered */
    int64_t t_start_ms;                                 /* before anything was recorded */
    long long order_auto;                               /* the order of the automatic path */
    long long order_paused;                             /* cannot comply, then clarified */
    long long referral;
    struct MHD_Daemon *hook;
} S;

/* ---- the server process ---- */

/* Starts the server; fast_clocks: a one-minute deadline with escalation marks every second. */
static void server_start(char *admin, size_t cap, int fast_clocks)
{
    static const char *const fast[] = {"--webhook-allow-private",
                                       "1",
                                       "--webhook-backoff-base-ms",
                                       "100",
                                       "--http-threads",
                                       "4",
                                       "--order-deadline-ms",
                                       "60000",
                                       "--order-escalation-step-ms",
                                       "1000",
                                       NULL};
    static const char *const normal[] = {"--webhook-allow-private",
                                         "1",
                                         "--webhook-backoff-base-ms",
                                         "100",
                                         "--http-threads",
                                         "4",
                                         NULL};
    api_server_start(&S.srv, S.dir, fast_clocks ? fast : normal);
    snprintf(admin, cap, "%s", S.srv.admin);
}

/* ---- JSON ---- */

/* A member by dotted path ("orders.not_executed.total"). */
static json_int_t jpath(json_t *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
        o = json_object_get(o, t);
    if (!json_is_integer(o))
        fail_msg("report: %s is missing", path);
    return json_integer_value(o);
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

/* ---- the platform's webhook receiver ---- */

#define MAX_EVENTS 64

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
    char bodies[MAX_EVENTS][4096];
    int sig_ok[MAX_EVENTS];
    double at[MAX_EVENTS]; /* monotonic arrival time */
} W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}, {0}, {0}};

typedef struct hook_req {
    char body[4096];
    size_t len;
} hook_req;

static int hmac_ok(const char *body, const char *header)
{
    unsigned char mac[32];
    unsigned int mac_len = 0;
    if (!header)
        return 0;
    HMAC(EVP_sha256(), WEBHOOK_SECRET, (int)strlen(WEBHOOK_SECRET), (const unsigned char *)body,
         strlen(body), mac, &mac_len);
    char hex[80] = "sha256=";
    for (unsigned i = 0; i < mac_len; i++)
        snprintf(hex + 7 + 2 * i, 3, "%02x", mac[i]);
    return strcmp(hex, header) == 0;
}

static enum MHD_Result on_hook(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version;
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
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Takedown-Signature");
    pthread_mutex_lock(&W.lock);
    if (W.n < MAX_EVENTS) {
        snprintf(W.bodies[W.n], sizeof W.bodies[W.n], "%s", h->body);
        W.sig_ok[W.n] = hmac_ok(h->body, sig);
        W.at[W.n] = api_now_s();
        W.n++;
    }
    pthread_cond_broadcast(&W.cond);
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

/* Waits (up to 20 s) for a delivery of `event` with `cause` (NULL: any) about content_id;
 * returns its arrival time and checks its HMAC; *body (when not NULL) receives the parsed body
 * (json_decref it). */
static double wait_event_body(const char *event, const char *cause, const char *content_id,
                              json_t **body)
{
    char e[64], c[96] = "", id[160];
    snprintf(e, sizeof e, "\"event\":\"%s\"", event);
    if (cause)
        snprintf(c, sizeof c, "\"cause\":\"%s\"", cause);
    snprintf(id, sizeof id, "\"content_id\":\"%s\"", content_id);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&W.lock);
    for (;;) {
        for (int i = 0; i < W.n; i++) {
            if (strstr(W.bodies[i], e) && strstr(W.bodies[i], c) && strstr(W.bodies[i], id)) {
                int ok = W.sig_ok[i];
                double at = W.at[i];
                if (body)
                    *body = json_loads(W.bodies[i], 0, NULL);
                pthread_mutex_unlock(&W.lock);
                if (body && !*body)
                    fail_msg("delivery '%s': not JSON", W.bodies[i]);
                if (!ok)
                    fail_msg("delivery '%s': bad HMAC signature", W.bodies[i]);
                return at;
            }
        }
        if (pthread_cond_timedwait(&W.cond, &W.lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&W.lock);
    fail_msg("no '%s' delivery for %s (%s) within 20 s", event, content_id, cause ? cause : "");
    return 0;
}

static double wait_event(const char *event, const char *cause, const char *content_id)
{
    return wait_event_body(event, cause, content_id, NULL);
}

/* ---- fixtures ---- */

static void create_keys(void)
{
    static const char *const names[N_KEYS] = {"admin",   "moderator-1", "upload-service",
                                              "auditor", "bka-desk",    "politie-desk",
                                              "iru-desk"};
    for (int i = 1; i < N_KEYS; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"%s\"}", key_roles[i], names[i]);
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
    if (api_group_init(S.dir, sizeof S.dir, "api-orders-data") != 0)
        return -1;
    S.t_start_ms = api_wall_ms() - 1000;
    server_start(S.keys[ADMIN], sizeof S.keys[ADMIN], 0);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    create_keys();
    for (int a = 0; a < N_AUTH; a++)
        crypto_sign_keypair(S.pk[a], S.sk[a]);
    unsigned char stray_pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(stray_pk, S.stray_sk);
    /* The platform's receiver for remove, restore, notices and answers. */
    S.hook = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_hook, NULL,
                              MHD_OPTION_NOTIFY_COMPLETED, on_hook_done, NULL, MHD_OPTION_END);
    if (!S.hook)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    if (S.hook)
        MHD_stop_daemon(S.hook);
    curl_global_cleanup();
    return 0;
}

/* Registers the authorities, links their keys, registers the webhook, submits content. */
static void test_setup_authorities(void **state)
{
    (void)state;
    const char *A = S.keys[ADMIN];
    static const char *const names[N_AUTH] = {"BKA", "Politie NL", "EU IRU"};
    static const char *const kinds[N_AUTH] = {"competent", "competent", "referral_unit"};
    static const char *const states[N_AUTH] = {"DE", "NL", "EU"};
    static const int keys[N_AUTH] = {BKA, POLITIE, IRU};
    char announced[32];
    /* Announced two days ago: orders are not "first contact" (less than 12 h after it). The
     * Dutch authority announces itself now, so its first order is flagged. */
    td_order_time_format(api_wall_ms() - 48 * HOUR_MS, announced);
    for (int a = 0; a < N_AUTH; a++) {
        char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], body[1024], path[128];
        sodium_bin2hex(hex, sizeof hex, S.pk[a], sizeof S.pk[a]);
        snprintf(body, sizeof body,
                 "{\"name\": \"%s\", \"kind\": \"%s\", \"member_state\": \"%s\", \"contact\": "
                 "\"ops@%d.example\", \"public_key\": \"%s\"%s%s%s}",
                 names[a], kinds[a], states[a], a, hex,
                 a == A_POLITIE ? "" : ", \"announced_at\": \"", a == A_POLITIE ? "" : announced,
                 a == A_POLITIE ? "" : "\"");
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/authorities", A, body);
        S.auth_ids[a] = api_jint(j, "id");
        assert_string_equal(api_jstr(j, "name"), names[a]);
        assert_string_equal(api_jstr(j, "kind"), kinds[a]);
        assert_string_equal(api_jstr(j, "public_key"), hex);
        json_decref(j);
        snprintf(path, sizeof path, "/v1/authorities/%lld/keys", S.auth_ids[a]);
        snprintf(body, sizeof body, "{\"key_id\": %lld}", S.key_ids[keys[a]]);
        json_decref(api_call(&S.srv, 201, "POST", path, A, body));
        /* A key belongs to one authority. */
        api_expect_error(&S.srv, 409, "conflict", "POST", path, A, body);
    }
    /* Errors of registration. */
    api_expect_error(&S.srv, 409, "conflict", "POST", "/v1/authorities", A,
                     "{\"name\": \"BKA\", \"member_state\": \"DE\", \"public_key\": "
                     "\"0000000000000000000000000000000000000000000000000000000000000000\"}");
    api_expect_error(&S.srv, 400, NULL, "POST", "/v1/authorities", A,
                     "{\"name\": \"X\", \"member_state\": \"DE\", \"public_key\": \"abc\"}");
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/authorities", S.keys[MODERATOR], "{}");
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/authorities", S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "authorities")), N_AUTH);
    json_decref(j);
    char path[128];
    snprintf(path, sizeof path, "/v1/authorities/%lld", S.auth_ids[A_IRU]);
    j = api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL);
    assert_string_equal(api_jstr(j, "name"), "EU IRU");
    json_decref(j);
    api_expect_error(&S.srv, 404, "not_found", "GET", "/v1/authorities/999999", S.keys[MODERATOR],
                     NULL);

    /* The platform's webhook and its content. */
    unsigned port = MHD_get_daemon_info(S.hook, MHD_DAEMON_INFO_BIND_PORT)->port;
    char body[512];
    snprintf(body, sizeof body,
             "{\"url\": \"http://127.0.0.1:%u/hook\", \"secret\": \"" WEBHOOK_SECRET
             "\", \"events\": [\"remove\", \"restore\", \"notice\", \"order_feedback\", "
             "\"referral_answer\"]}",
             port);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/webhooks", A, body));
    static const char *const items[][2] = {{"vid-1", "https://video.example/watch/1"},
                                           {"vid-2", "https://video.example/watch/2"},
                                           {"vid-3", "https://video.example/watch/3"}};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"content_id\": \"%s\", \"uploader\": \"user-%zu\", \"url\": \"%s\", "
                 "\"hashes\": {\"pdq\": \"" CONTENT_PDQ "\"}}",
                 items[i][0], i, items[i][1]);
        json_decref(api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM], body));
    }
}

/* Who may do what around orders. */
static void test_roles(void **state)
{
    (void)state;
    char body[4096];
    api_order_doc(body, sizeof body, "BKA", "BKA-ROLES-1", "vid-1", NULL, NULL);
    char sig[200];
    api_sign_header(S.sk[A_BKA], body, strlen(body), sig, sizeof sig);
    /* Only an authority's key sends orders, even with a valid signature. */
    for (int k = ADMIN; k <= AUDITOR; k++)
        api_expect_error_ex(&S.srv, 403, "forbidden", NULL, "POST", "/v1/orders", S.keys[k], body,
                            strlen(body), sig);
    api_expect_error_ex(&S.srv, 401, "unauthenticated", NULL, "POST", "/v1/orders", NULL, body,
                        strlen(body), sig);
    /* An authority reads nothing of the platform's matching, nor other orders. */
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/banks", S.keys[BKA], NULL);
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/check", S.keys[BKA],
                     "{\"pdq\": \"" CONTENT_PDQ "\"}");
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/orders", S.keys[BKA], NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/reports/transparency", S.keys[BKA],
                     NULL);
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/orders/1/confirm", S.keys[BKA], "{}");
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/log/proof/inclusion?seq=0", S.keys[BKA],
                     NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/log/proof/inclusion?seq=0",
                     S.keys[PLATFORM], NULL);
    /* Nothing was recorded by the refusals. */
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/orders?open=0", S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "orders")), 0);
    json_decref(j);
}

/* Every refusal of intake, with its status, code and field. */
static void test_intake_refusals(void **state)
{
    (void)state;
    char body[4096], sig[200];
    api_order_doc(body, sizeof body, "BKA", "BKA-BAD-1", "vid-1", NULL, NULL);
    size_t len = strlen(body);
    /* Unsigned. */
    api_expect_error_ex(&S.srv, 401, "unsigned", "Takedown-Signature", "POST", "/v1/orders",
                        S.keys[BKA], body, len, NULL);
    /* Malformed header. */
    api_expect_error_ex(&S.srv, 401, "bad_signature", NULL, "POST", "/v1/orders", S.keys[BKA], body,
                        len, "Takedown-Signature: rsa=AAAA");
    /* Signed by a key nobody registered. */
    api_sign_header(S.stray_sk, body, len, sig, sizeof sig);
    api_expect_error_ex(&S.srv, 401, "bad_signature", NULL, "POST", "/v1/orders", S.keys[BKA], body,
                        len, sig);
    /* Signed by another authority's key. */
    api_sign_header(S.sk[A_POLITIE], body, len, sig, sizeof sig);
    api_expect_error_ex(&S.srv, 401, "bad_signature", NULL, "POST", "/v1/orders", S.keys[BKA], body,
                        len, sig);
    /* Tampered after signing: one character of the reference changed. */
    api_sign_header(S.sk[A_BKA], body, len, sig, sizeof sig);
    char *ref = strstr(body, "BKA-BAD-1");
    assert_non_null(ref);
    ref[8] = '2';
    api_expect_error_ex(&S.srv, 401, "bad_signature", NULL, "POST", "/v1/orders", S.keys[BKA], body,
                        len, sig);
    /* Unknown authority. */
    api_order_doc(body, sizeof body, "Nobody", "N-1", "vid-1", NULL, NULL);
    api_sign_header(S.stray_sk, body, strlen(body), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 403, "unknown_authority", "issuing_authority.name", "POST",
                        "/v1/orders", S.keys[BKA], body, strlen(body), sig);
    /* The BKA's key sending a Dutch order, even signed with the Dutch key. */
    api_order_doc(body, sizeof body, "Politie NL", "NL-1", "vid-1", NULL, NULL);
    api_sign_header(S.sk[A_POLITIE], body, strlen(body), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 403, "wrong_authority", NULL, "POST", "/v1/orders", S.keys[BKA],
                        body, strlen(body), sig);
    /* A referral unit does not send removal orders. */
    api_order_doc(body, sizeof body, "EU IRU", "IRU-X", "vid-1", NULL, NULL);
    api_sign_header(S.sk[A_IRU], body, strlen(body), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 403, "wrong_authority", NULL, "POST", "/v1/orders", S.keys[IRU],
                        body, strlen(body), sig);
    /* Missing fields are named. */
    static const char *const required[] = {"redress", "reference", "content", "cross_border"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        api_order_doc(body, sizeof body, "BKA", "BKA-MISSING", "vid-1", NULL, required[i]);
        api_sign_header(S.sk[A_BKA], body, strlen(body), sig, sizeof sig);
        api_expect_error_ex(&S.srv, 422, "missing_field", required[i], "POST", "/v1/orders",
                            S.keys[BKA], body, strlen(body), sig);
    }
    /* Not JSON. */
    static const char junk[] = "not json";
    api_sign_header(S.sk[A_BKA], junk, strlen(junk), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 400, "malformed", NULL, "POST", "/v1/orders", S.keys[BKA], junk,
                        strlen(junk), sig);
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/orders?open=0", S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "orders")), 0);
    json_decref(j);
}

/* The automatic path: order in, remove fired to the platform, the platform confirms, the
 * authority reads the Annex II feedback. */
static void test_order_automatic(void **state)
{
    (void)state;
    char body[4096], path[128], confirm[256], measure_at[32];
    api_order_doc(body, sizeof body, "BKA", "BKA-2024-0001", "vid-1",
                  "https://video.example/watch/1", NULL);
    double t0 = api_now_s();
    json_t *j = send_signed(201, "/v1/orders", BKA, S.sk[A_BKA], body);
    double t_receipt = api_now_s();
    S.order_auto = api_jint(j, "id");
    int64_t received_ms = api_jint(j, "received_ms");
    assert_true(S.order_auto > 0);
    assert_string_equal(api_jstr(j, "type"), "removal_order");
    assert_int_equal(api_jint(j, "deadline_ms"), received_ms + HOUR_MS);
    assert_true(json_is_string(json_object_get(j, "deadline")));
    assert_true(json_is_true(json_object_get(j, "executed")));
    assert_true(json_is_false(json_object_get(j, "duplicate")));
    assert_true(json_is_false(json_object_get(j, "first_contact_early")));
    assert_true(received_ms >= api_wall_ms() - 60000 && received_ms <= api_wall_ms());
    json_decref(j);

    /* The platform's receiver gets `remove` (HMAC checked), and the platform confirms. */
    char cause[64];
    snprintf(cause, sizeof cause, "order:%lld", S.order_auto);
    json_t *removal = NULL;
    double t_hook = wait_event_body("remove", cause, "vid-1", &removal);
    /* It says where the platform uploads the removed bytes for preservation. */
    snprintf(path, sizeof path, "/v1/orders/%lld/targets/0/media", S.order_auto);
    assert_string_equal(api_jstr(json_object_get(removal, "media_upload"), "path"), path);
    assert_string_equal(api_jstr(json_object_get(removal, "media_upload"), "method"), "PUT");
    json_decref(removal);
    td_order_time_format(api_wall_ms(), measure_at);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", S.order_auto);
    snprintf(confirm, sizeof confirm, "{\"measure\": \"removed\", \"time\": \"%s\"}", measure_at);
    j = api_call(&S.srv, 200, "POST", path, S.keys[PLATFORM], confirm);
    double t_confirmed = api_now_s();
    assert_string_equal(api_jstr(j, "state"), "confirmed");
    assert_string_equal(api_jstr(j, "measure"), "removed");
    json_t *t0j = json_array_get(json_object_get(j, "content"), 0);
    assert_true(json_is_true(json_object_get(t0j, "removed")));
    json_decref(j);
    int64_t measure_ms = td_order_time_parse(measure_at, strlen(measure_at));
    print_message("receipt-to-confirmation (automatic path, responsive receiver): %.1f ms wall "
                  "from sending the order (receipt answered at %.1f ms, remove webhook received "
                  "at %.1f ms, confirmation answered at %.1f ms); recorded receipt -> measure "
                  "%lld ms\n",
                  (t_confirmed - t0) * 1e3, (t_receipt - t0) * 1e3, (t_hook - t0) * 1e3,
                  (t_confirmed - t0) * 1e3, (long long)(measure_ms - received_ms));
    /* No do-not-inform period: the user notice is pushed to the platform at once (HMAC
     * checked), naming the order, its reasons and the redress. */
    json_t *notice = NULL;
    wait_event_body("notice", cause, "vid-1", &notice);
    assert_string_equal(api_jstr(notice, "event"), "notice");
    assert_string_equal(api_jstr(notice, "measure"), "removed");
    assert_int_equal(api_jint(notice, "measure_ms"), measure_ms);
    assert_int_equal(api_jint(notice, "withheld_until_ms"), 0);
    assert_string_equal(api_jstr(notice, "uploader"), "user-0");
    assert_string_equal(api_jstr(json_object_get(notice, "order"), "reference"), "BKA-2024-0001");
    assert_int_equal(api_jint(json_object_get(notice, "order"), "id"), S.order_auto);
    assert_string_equal(api_jstr(json_object_get(notice, "reasons"), "category"), "a");
    assert_string_equal(api_jstr(json_object_get(notice, "redress"), "judicial"),
                        "Verwaltungsgericht Wiesbaden");
    assert_int_equal(strlen(api_jstr(notice, "id")), 64);
    json_decref(notice);
    /* Confirming again is accepted and changes nothing. */
    j = api_call(&S.srv, 200, "POST", path, S.keys[PLATFORM],
                 "{\"measure\": \"disabled\", \"time\": \"2001-01-01T00:00:00Z\"}");
    assert_string_equal(api_jstr(j, "measure"), "removed");
    json_decref(j);

    /* The duplicate: same id, same times, 200. */
    j = send_signed(200, "/v1/orders", BKA, S.sk[A_BKA], body);
    assert_int_equal(api_jint(j, "id"), S.order_auto);
    assert_int_equal(api_jint(j, "received_ms"), received_ms);
    assert_true(json_is_true(json_object_get(j, "duplicate")));
    json_decref(j);

    /* Annex II, read by the issuing authority. */
    snprintf(path, sizeof path, "/v1/orders/%lld/feedback", S.order_auto);
    j = api_call(&S.srv, 200, "GET", path, S.keys[BKA], NULL);
    assert_int_equal(api_jint(j, "order_id"), S.order_auto);
    assert_string_equal(api_jstr(j, "reference"), "BKA-2024-0001");
    assert_int_equal(api_jint(j, "received_ms"), received_ms);
    assert_int_equal(api_jint(j, "measure_ms"), measure_ms);
    assert_true(json_is_string(json_object_get(j, "time_of_receipt")));
    assert_true(json_is_string(json_object_get(j, "time_of_measure")));
    assert_true(json_is_true(json_object_get(j, "within_deadline")));
    assert_true(measure_ms - received_ms < HOUR_MS);
    json_decref(j);
    /* Read by the authority, so recorded as sent: pushed to the platform to relay. */
    json_t *fb = NULL;
    wait_event_body("order_feedback", cause, "vid-1", &fb);
    assert_int_equal(api_jint(fb, "order_id"), S.order_auto);
    assert_string_equal(api_jstr(fb, "reference"), "BKA-2024-0001");
    assert_int_equal(api_jint(fb, "measure_ms"), measure_ms);
    assert_string_equal(api_jstr(fb, "authority_contact"), "ops@authority.example");
    json_decref(fb);
    /* Another authority sees neither the order nor its feedback. */
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[POLITIE], NULL);
    snprintf(path, sizeof path, "/v1/orders/%lld", S.order_auto);
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[POLITIE], NULL);
    j = api_call(&S.srv, 200, "GET", path, S.keys[BKA], NULL);
    assert_string_equal(api_jstr(j, "state"), "confirmed");
    assert_string_equal(api_jstr(j, "issuing_authority"), "BKA");
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    assert_string_equal(api_jstr(j, "reference"), "BKA-2024-0001");
    json_decref(j);
    api_expect_error(&S.srv, 404, "not_found", "GET", "/v1/orders/999999", S.keys[AUDITOR], NULL);
}

/* An order whose content is unknown: cannot comply (the clock pauses), the authority
 * clarifies (the full hour restarts), the platform locates the content, executes, confirms. */
static void test_cannot_comply_then_clarification(void **state)
{
    (void)state;
    char body[4096], path[128];
    api_order_doc(body, sizeof body, "BKA", "BKA-2024-0002", NULL, "https://elsewhere.example/x/42",
                  NULL);
    json_t *j = send_signed(201, "/v1/orders", BKA, S.sk[A_BKA], body);
    S.order_paused = api_jint(j, "id");
    assert_true(json_is_false(json_object_get(j, "executed")));
    json_decref(j);
    /* In the moderators' queue, open. */
    j = api_call(&S.srv, 200, "GET", "/v1/orders", S.keys[MODERATOR], NULL);
    int queued = 0;
    json_t *list = json_object_get(j, "orders");
    for (size_t i = 0; i < json_array_size(list); i++)
        queued |= api_jint(json_array_get(list, i), "id") == S.order_paused;
    assert_true(queued);
    json_decref(j);

    snprintf(path, sizeof path, "/v1/orders/%lld/cannot-comply", S.order_paused);
    api_expect_error(&S.srv, 400, NULL, "POST", path, S.keys[MODERATOR],
                     "{\"ground\": \"bored\", \"explanation\": \"x\"}");
    api_expect_error(&S.srv, 403, "forbidden", "POST", path, S.keys[BKA],
                     "{\"ground\": \"missing_information\", \"explanation\": \"x\"}");
    j = api_call(&S.srv, 200, "POST", path, S.keys[MODERATOR],
                 "{\"ground\": \"missing_information\", \"explanation\": \"the URL is not on our "
                 "service\"}");
    assert_string_equal(api_jstr(j, "state"), "paused");
    assert_true(json_is_null(json_object_get(j, "deadline")));
    assert_string_equal(api_jstr(json_object_get(j, "cannot_comply"), "ground"),
                        "missing_information");
    json_decref(j);
    /* The feedback says why. */
    snprintf(path, sizeof path, "/v1/orders/%lld/feedback", S.order_paused);
    j = api_call(&S.srv, 200, "GET", path, S.keys[BKA], NULL);
    assert_string_equal(api_jstr(json_object_get(j, "cannot_comply"), "ground"),
                        "missing_information");
    json_decref(j);

    /* The clarification, by the issuing authority only. */
    snprintf(path, sizeof path, "/v1/orders/%lld/clarification", S.order_paused);
    api_expect_error(&S.srv, 404, "not_found", "POST", path, S.keys[POLITIE], "{\"text\": \"x\"}");
    int64_t before = api_wall_ms();
    j = api_call(&S.srv, 200, "POST", path, S.keys[BKA],
                 "{\"text\": \"the content is vid-2 on your service\"}");
    int64_t after = api_wall_ms();
    assert_true(json_is_string(json_object_get(j, "deadline")));
    const char *deadline = api_jstr(j, "deadline");
    int64_t dl = td_order_time_parse(deadline, strlen(deadline));
    assert_true(dl >= before + HOUR_MS - 1000 && dl <= after + HOUR_MS + 1000);
    assert_string_equal(api_jstr(j, "state"), "received");
    json_decref(j);
    api_expect_error(&S.srv, 409, "conflict", "POST", path, S.keys[BKA], "{\"text\": \"again\"}");

    /* The platform says where it is, and executes. */
    snprintf(path, sizeof path, "/v1/orders/%lld/locate", S.order_paused);
    api_expect_error(&S.srv, 404, "not_found", "POST", path, S.keys[PLATFORM],
                     "{\"target\": 0, \"content_id\": \"no-such-content\"}");
    json_decref(api_call(&S.srv, 200, "POST", path, S.keys[PLATFORM],
                         "{\"target\": 0, \"content_id\": \"vid-2\"}"));
    snprintf(path, sizeof path, "/v1/orders/%lld/execute", S.order_paused);
    j = api_call(&S.srv, 200, "POST", path, S.keys[MODERATOR], NULL);
    assert_string_equal(api_jstr(j, "state"), "executed");
    json_decref(j);
    char cause[64], confirm[256], at[32];
    snprintf(cause, sizeof cause, "order:%lld", S.order_paused);
    wait_event("remove", cause, "vid-2");
    td_order_time_format(api_wall_ms(), at);
    snprintf(confirm, sizeof confirm, "{\"measure\": \"disabled\", \"time\": \"%s\"}", at);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", S.order_paused);
    /* The time of the measure lies between the receipt and now; it is required. */
    api_expect_error(&S.srv, 400, NULL, "POST", path, S.keys[MODERATOR],
                     "{\"measure\": \"removed\", \"time\": \"2001-01-01T00:00:00Z\"}");
    api_expect_error(&S.srv, 400, NULL, "POST", path, S.keys[MODERATOR],
                     "{\"measure\": \"removed\"}");
    api_expect_error(&S.srv, 400, NULL, "POST", path, S.keys[MODERATOR],
                     "{\"measure\": \"burnt\", \"time\": \"2001-01-01T00:00:00Z\"}");
    j = api_call(&S.srv, 200, "POST", path, S.keys[MODERATOR], confirm);
    assert_string_equal(api_jstr(j, "state"), "confirmed");
    assert_string_equal(api_jstr(j, "measure"), "disabled");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/orders/%lld/cannot-comply", S.order_paused);
    api_expect_error(&S.srv, 409, "conflict", "POST", path, S.keys[MODERATOR],
                     "{\"ground\": \"force_majeure\", \"explanation\": \"late\"}");
}

/* A referral: same signed intake, no clock, decided against the terms. */
static void test_referral(void **state)
{
    (void)state;
    char body[2048], issued[32], path[128];
    td_order_time_format(api_wall_ms() - 5000, issued);
    snprintf(body, sizeof body,
             "{\"type\": \"referral\", \"reference\": \"IRU-2024-77\", \"issued_at\": \"%s\", "
             "\"content\": [{\"url\": \"https://video.example/watch/3\"}], \"reason\": "
             "{\"statement\": \"Propaganda video of a listed group\"}, \"issuing_authority\": "
             "{\"name\": \"EU IRU\"}}",
             issued);
    /* Not through the orders route (the type is wrong there). */
    char sig[200];
    api_sign_header(S.sk[A_IRU], body, strlen(body), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 422, "invalid_field", "type", "POST", "/v1/orders", S.keys[IRU],
                        body, strlen(body), sig);
    json_t *j = send_signed(201, "/v1/referrals", IRU, S.sk[A_IRU], body);
    S.referral = api_jint(j, "id");
    assert_string_equal(api_jstr(j, "type"), "referral");
    assert_null(json_object_get(j, "deadline"));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/referrals/%lld/decision", S.referral);
    api_expect_error(&S.srv, 400, NULL, "POST", path, S.keys[MODERATOR],
                     "{\"decision\": \"maybe\", \"reason\": \"x\"}");
    api_expect_error(&S.srv, 403, "forbidden", "POST", path, S.keys[IRU],
                     "{\"decision\": \"remove\", \"reason\": \"x\"}");
    j = api_call(
        &S.srv, 200, "POST", path, S.keys[MODERATOR],
        "{\"decision\": \"remove\", \"reason\": \"violates our terms (violent extremism)\"}");
    assert_string_equal(api_jstr(j, "state"), "decided");
    json_decref(j);
    api_expect_error(&S.srv, 409, "conflict", "POST", path, S.keys[MODERATOR],
                     "{\"decision\": \"keep\", \"reason\": \"changed my mind\"}");
    char cause[64];
    snprintf(cause, sizeof cause, "referral:%lld", S.referral);
    wait_event("remove", cause, "vid-3");
    /* The answer, pushed to the platform for the referring unit. */
    json_t *answer = NULL;
    wait_event_body("referral_answer", cause, "vid-3", &answer);
    assert_string_equal(api_jstr(answer, "decision"), "removed");
    assert_string_equal(api_jstr(answer, "reference"), "IRU-2024-77");
    json_decref(answer);
    /* The answer returned to the referring unit. */
    snprintf(path, sizeof path, "/v1/orders/%lld/feedback", S.referral);
    j = api_call(&S.srv, 200, "GET", path, S.keys[IRU], NULL);
    assert_string_equal(api_jstr(j, "decision"), "removed");
    assert_string_equal(api_jstr(j, "type"), "referral");
    json_decref(j);
}

/* A complaint against the removal made for the first order: upheld, restore fired. */
static void test_complaint(void **state)
{
    (void)state;
    char path[128];
    api_expect_error(&S.srv, 404, "not_found", "POST", "/v1/complaints", S.keys[PLATFORM],
                     "{\"content_id\": \"never-seen\", \"text\": \"x\"}");
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/complaints", S.keys[BKA],
                     "{\"content_id\": \"vid-1\", \"text\": \"x\"}");
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/complaints", S.keys[PLATFORM],
                         "{\"content_id\": \"vid-1\", \"text\": \"This is a news report about the "
                         "attack, not propaganda.\"}");
    long long id = api_jint(j, "id");
    assert_string_equal(api_jstr(j, "state"), "open");
    assert_int_equal(api_jint(j, "order_id"), S.order_auto);
    const char *due = api_jstr(j, "due"), *received = api_jstr(j, "received_at");
    assert_int_equal(td_order_time_parse(due, strlen(due)) -
                         td_order_time_parse(received, strlen(received)),
                     14 * 24 * HOUR_MS);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/complaints/%lld", id);
    j = api_call(&S.srv, 200, "GET", path, S.keys[PLATFORM], NULL);
    assert_string_equal(api_jstr(j, "content_id"), "vid-1");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/complaints/%lld/decision", id);
    api_expect_error(&S.srv, 403, "forbidden", "POST", path, S.keys[PLATFORM],
                     "{\"upheld\": true, \"reasons\": \"x\"}");
    j = api_call(&S.srv, 200, "POST", path, S.keys[MODERATOR],
                 "{\"upheld\": true, \"reasons\": \"journalistic reporting (Art. 1(3))\"}");
    assert_string_equal(api_jstr(j, "state"), "upheld");
    assert_true(json_is_string(json_object_get(j, "reinstated_at")));
    json_decref(j);
    api_expect_error(&S.srv, 409, "conflict", "POST", path, S.keys[MODERATOR],
                     "{\"upheld\": false, \"reasons\": \"x\"}");
    /* The platform's receiver gets `restore` for the item (HMAC checked). */
    assert_true(wait_event("restore", NULL, "vid-1") > 0);
}

/* The Art. 7 figures of this scenario. */
static void test_transparency(void **state)
{
    (void)state;
    char path[256], from[32], to[32];
    td_order_time_format(S.t_start_ms, from);
    td_order_time_format(api_wall_ms() + HOUR_MS, to);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/reports/transparency",
                     S.keys[AUDITOR], NULL);
    snprintf(path, sizeof path, "/v1/reports/transparency?from=%s&to=%s", from, to);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    char *text = json_dumps(j, JSON_COMPACT);
    print_message("transparency report: %s\n", text);
    free(text);
    assert_int_equal(jpath(j, "orders.received"), 2);
    assert_int_equal(jpath(j, "orders.executed_within_deadline"), 2);
    assert_int_equal(jpath(j, "orders.executed_late"), 0);
    assert_int_equal(jpath(j, "orders.breaches"), 0);
    assert_int_equal(jpath(j, "orders.first_contact_early"), 0);
    assert_int_equal(jpath(j, "orders.not_executed.total"), 0);
    assert_true(jpath(j, "orders.receipt_to_measure_ms.max") < HOUR_MS);
    assert_int_equal(jpath(j, "items_removed.after_orders"), 2);
    assert_int_equal(jpath(j, "items_removed.after_own_measures.referrals"), 1);
    assert_int_equal(jpath(j, "referrals.received"), 1);
    assert_int_equal(jpath(j, "referrals.removed"), 1);
    assert_int_equal(jpath(j, "referrals.kept"), 0);
    assert_int_equal(jpath(j, "complaints.received"), 1);
    assert_int_equal(jpath(j, "complaints.upheld"), 1);
    assert_int_equal(jpath(j, "complaints.against_orders"), 1);
    assert_int_equal(jpath(j, "complaints.open_at_end"), 0);
    assert_int_equal(jpath(j, "reinstatements.after_complaints"), 1);
    assert_int_equal(jpath(j, "reinstatements.after_proceedings"), 0);
    assert_true(jpath(j, "audit_log.size") > 0);
    json_decref(j);
    /* A period before everything: zeros. */
    snprintf(path, sizeof path,
             "/v1/reports/transparency?from=2001-01-01T00:00:00Z&to=2001-12-31T00:00:00Z");
    j = api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL);
    assert_int_equal(jpath(j, "orders.received"), 0);
    json_decref(j);
}

/* ---- the audit log ---- */

/* The log's public key, as an auditor gets it from the operator: `takedown audit pubkey`. */
static void log_public_key(uint8_t pub[TD_AUDIT_PUBKEY_LEN])
{
    char cmd[8400], hex[80] = "";
    snprintf(cmd, sizeof cmd, "'%s' audit pubkey --data '%s'", TD_CLI_PATH, S.dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(hex, sizeof hex, p));
    assert_int_equal(pclose(p), 0);
    hex[strcspn(hex, "\n")] = '\0';
    size_t got = 0;
    assert_int_equal(sodium_hex2bin(pub, TD_AUDIT_PUBKEY_LEN, hex, strlen(hex), NULL, &got, NULL),
                     0);
    assert_int_equal(got, TD_AUDIT_PUBKEY_LEN);
}

static void parse_doc(const api_resp *r, td_audit_doc *doc)
{
    td_error err;
    if (td_audit_doc_parse(r->body, r->len, doc, &err) != TD_OK)
        fail_msg("proof document: %s: %s", err.message, r->body);
}

static void test_audit_log(void **state)
{
    (void)state;
    uint8_t pub[TD_AUDIT_PUBKEY_LEN];
    log_public_key(pub);
    td_error err;
    api_resp r;

    /* The checkpoint is public. */
    assert_int_equal(api_http(&S.srv, "GET", "/v1/log/checkpoint", NULL, NULL, &r), 200);
    td_audit_doc cp;
    parse_doc(&r, &cp);
    api_resp_free(&r);
    assert_int_equal(cp.type, TD_AUDIT_DOC_CHECKPOINT);
    assert_true(cp.checkpoint.size > 0);
    if (td_audit_checkpoint_verify(&cp.checkpoint, pub, &err) != TD_OK)
        fail_msg("checkpoint: %s", err.message);
    if (td_audit_doc_verify(&cp, pub, &err) != TD_OK)
        fail_msg("checkpoint document: %s", err.message);
    /* A forged root does not verify. */
    td_audit_checkpoint forged = cp.checkpoint;
    forged.root[0] ^= 1;
    assert_int_not_equal(td_audit_checkpoint_verify(&forged, pub, &err), TD_OK);
    uint64_t size = cp.checkpoint.size;
    td_audit_doc_clear(&cp);

    /* The entry recording the receipt of the first order, found by walking the log. */
    char want_obj[64], path[128];
    snprintf(want_obj, sizeof want_obj, "\"object\":\"order:%lld\"", S.order_auto);
    int64_t found = -1;
    td_audit_doc inc;
    memset(&inc, 0, sizeof inc);
    for (uint64_t seq = 0; seq < size && found < 0; seq++) {
        snprintf(path, sizeof path, "/v1/log/proof/inclusion?seq=%llu&size=%llu",
                 (unsigned long long)seq, (unsigned long long)size);
        assert_int_equal(api_http(&S.srv, "GET", path, S.keys[AUDITOR], NULL, &r), 200);
        parse_doc(&r, &inc);
        api_resp_free(&r);
        assert_non_null(inc.entry);
        if (strstr(inc.entry, want_obj) && strstr(inc.entry, "\"action\":\"order.received\""))
            found = (int64_t)seq;
        else
            td_audit_doc_clear(&inc);
    }
    if (found < 0)
        fail_msg("no order.received entry for order %lld in %llu entries", S.order_auto,
                 (unsigned long long)size);
    print_message("order %lld: audit entry %lld of %llu: %s\n", S.order_auto, (long long)found,
                  (unsigned long long)size, inc.entry);
    /* Offline: the entry hashes to the leaf, the path leads to the signed root. */
    assert_int_equal(inc.type, TD_AUDIT_DOC_INCLUSION);
    assert_int_equal(inc.proof.index, (uint64_t)found);
    assert_int_equal(inc.proof.size, size);
    uint8_t leaf[TD_AUDIT_HASH_LEN];
    td_audit_leaf_hash(inc.entry, inc.entry_len, leaf);
    assert_memory_equal(leaf, inc.leaf_hash, sizeof leaf);
    if (td_audit_checkpoint_verify(&inc.checkpoint, pub, &err) != TD_OK)
        fail_msg("inclusion checkpoint: %s", err.message);
    if (td_audit_verify_inclusion(&inc.proof, leaf, inc.checkpoint.root, &err) != TD_OK)
        fail_msg("inclusion: %s", err.message);
    if (td_audit_doc_verify(&inc, pub, &err) != TD_OK)
        fail_msg("inclusion document: %s", err.message);
    /* An altered entry does not verify. */
    char *at = strstr(inc.entry, want_obj);
    at[strlen("\"object\":\"order:")] ^= 1;
    assert_int_not_equal(td_audit_doc_verify(&inc, pub, &err), TD_OK);
    td_audit_doc_clear(&inc);

    /* Consistency of an early tree with today's. */
    snprintf(path, sizeof path, "/v1/log/proof/consistency?from=%llu&to=%llu",
             (unsigned long long)(size / 2 ? size / 2 : 1), (unsigned long long)size);
    assert_int_equal(api_http(&S.srv, "GET", path, S.keys[ADMIN], NULL, &r), 200);
    td_audit_doc con;
    parse_doc(&r, &con);
    api_resp_free(&r);
    assert_int_equal(con.type, TD_AUDIT_DOC_CONSISTENCY);
    if (td_audit_doc_verify(&con, pub, &err) != TD_OK)
        fail_msg("consistency document: %s", err.message);
    td_audit_doc_clear(&con);

    /* Errors and roles. */
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/log/proof/inclusion",
                     S.keys[AUDITOR], NULL);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/log/proof/inclusion?seq=x",
                     S.keys[AUDITOR], NULL);
    snprintf(path, sizeof path, "/v1/log/proof/inclusion?seq=%llu&size=%llu",
             (unsigned long long)size, (unsigned long long)size);
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[AUDITOR], NULL);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/log/proof/consistency?from=5&to=2",
                     S.keys[AUDITOR], NULL);
    snprintf(path, sizeof path, "/v1/log/proof/consistency?from=1&to=%llu",
             (unsigned long long)size + 1000000);
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[AUDITOR], NULL);
    api_expect_error(&S.srv, 401, "unauthenticated", "GET", "/v1/log/proof/inclusion?seq=0", NULL,
                     NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/log/proof/consistency?from=1&to=2",
                     S.keys[MODERATOR], NULL);
}

/* ---- user notice templates ---- */

/* A removal order of the BKA for content_id, in `language` (NULL: none). */
static void order_doc_lang(char *out, size_t cap, const char *reference, const char *content_id,
                           const char *language)
{
    api_order_doc(out, cap, "BKA", reference, content_id, NULL, NULL);
    char *end = strrchr(out, '}');
    assert_non_null(end);
    if (language)
        snprintf(end, cap - (size_t)(end - out), ", \"language\": \"%s\"}", language);
}

/* Sends the order, confirms it, returns the notice pushed to the platform (json_decref it). */
static json_t *notice_of(const char *reference, const char *content_id, const char *language)
{
    char body[4096], path[128], confirm[256], at[32], cause[64];
    order_doc_lang(body, sizeof body, reference, content_id, language);
    json_t *j = send_signed(201, "/v1/orders", BKA, S.sk[A_BKA], body);
    long long id = api_jint(j, "id");
    json_decref(j);
    td_order_time_format(api_wall_ms(), at);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", id);
    snprintf(confirm, sizeof confirm, "{\"measure\": \"removed\", \"time\": \"%s\"}", at);
    j = api_call(&S.srv, 200, "POST", path, S.keys[PLATFORM], confirm);
    if (language)
        assert_string_equal(api_jstr(j, "language"), language);
    else
        assert_true(json_is_null(json_object_get(j, "language")));
    json_decref(j);
    snprintf(cause, sizeof cause, "order:%lld", id);
    json_t *notice = NULL;
    wait_event_body("notice", cause, content_id, &notice);
    return notice;
}

static const char *complaint_text(json_t *notice)
{
    return api_jstr(json_object_get(notice, "redress"), "complaint");
}

/* The operator writes what notices say, per language, over the API; refusals name the problem;
 * a change applies to the next notice of the running server. */
static void test_notice_templates(void **state)
{
    (void)state;
    const char *A = S.keys[ADMIN];
    const char *path = "/v1/settings/notice-templates/de";
    /* Roles: admins write, auditors read. */
    api_expect_error(&S.srv, 403, "forbidden", "PUT", path, S.keys[MODERATOR], "{\"text\": \"x\"}");
    api_expect_error(&S.srv, 403, "forbidden", "PUT", path, S.keys[PLATFORM], "{\"text\": \"x\"}");
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/settings/notice-templates",
                     S.keys[PLATFORM], NULL);
    api_expect_error(&S.srv, 403, "forbidden", "DELETE", path, S.keys[AUDITOR], NULL);
    /* Refusals. */
    json_t *j = api_call(&S.srv, 422, "PUT", path, A,
                         "{\"text\": \"Entfernt: {{grund}} {{reason}} {{aktenzeichen}}\"}");
    json_t *e = json_object_get(j, "error");
    assert_string_equal(api_jstr(e, "code"), "unknown_placeholder");
    json_t *names = json_object_get(e, "placeholders");
    assert_int_equal(json_array_size(names), 2);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "grund");
    assert_string_equal(json_string_value(json_array_get(names, 1)), "aktenzeichen");
    assert_non_null(strstr(api_jstr(e, "message"), "grund"));
    assert_non_null(strstr(api_jstr(e, "message"), "aktenzeichen"));
    json_decref(j);
    j = api_call(&S.srv, 422, "PUT", path, A, "{\"text\": \"offen {{ reason\"}");
    assert_string_equal(api_jstr(json_object_get(j, "error"), "code"), "invalid_template");
    assert_int_equal(api_jint(json_object_get(j, "error"), "offset"), 6);
    json_decref(j);
    api_expect_error(&S.srv, 422, "invalid_url", "PUT", path, A,
                     "{\"text\": \"ok\", \"complaint_url\": \"javascript:alert(1)\"}");
    api_expect_error(&S.srv, 400, "invalid_language", "PUT", "/v1/settings/notice-templates/d1", A,
                     "{\"text\": \"ok\"}");
    api_expect_error(&S.srv, 400, "missing_field", "PUT", path, A, "{}");
    char *big = malloc(TD_NOTICE_TEMPLATE_MAX + 64);
    assert_non_null(big);
    snprintf(big, 16, "{\"text\": \"");
    memset(big + strlen(big), 'x', TD_NOTICE_TEMPLATE_MAX + 1);
    snprintf(big + 10 + TD_NOTICE_TEMPLATE_MAX + 1, 8, "\"}");
    api_expect_error(&S.srv, 413, "too_large", "PUT", path, A, big);
    free(big);
    api_expect_error(&S.srv, 404, "not_found", "DELETE", path, A, NULL);

    /* The content the orders will remove. */
    for (int i = 1; i <= 4; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"content_id\": \"tpl-%d\", \"uploader\": \"u\", \"url\": "
                 "\"https://video.example/tpl/%d\", \"hashes\": {\"pdq\": \"" CONTENT_PDQ "\"}}",
                 i, i);
        json_decref(api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM], body));
    }

    /* A German template (the language of the path in any case) and a default one. */
    j = api_call(&S.srv, 200, "PUT", "/v1/settings/notice-templates/DE", A,
                 "{\"text\": \"Ihr Inhalt {{url}} wurde entfernt: Anordnung {{reference}} der "
                 "{{authority}} ({{member_state}}). Gr\\u00fcnde: {{reason}}. Beschwerde: "
                 "{{complaint_url}}\", \"complaint_url\": \"https://platform.example/de/b\"}");
    assert_string_equal(api_jstr(j, "language"), "de");
    assert_string_equal(api_jstr(j, "updated_by"), "admin");
    assert_string_equal(api_jstr(j, "complaint_url"), "https://platform.example/de/b");
    json_decref(j);
    json_decref(api_call(&S.srv, 200, "PUT", "/v1/settings/notice-templates/default", A,
                         "{\"text\": \"Removed under order {{reference}}.\"}"));
    j = api_call(&S.srv, 200, "GET", "/v1/settings/notice-templates", S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "templates")), 2);
    assert_string_equal(api_jstr(json_array_get(json_object_get(j, "templates"), 0), "language"),
                        "de");
    assert_string_equal(api_jstr(j, "builtin"), td_notice_builtin_text());
    assert_int_equal(json_array_size(json_object_get(j, "placeholders")), 14);
    json_decref(j);

    /* The order's language picks it. */
    json_t *n = notice_of("BKA-TPL-1", "tpl-1", "de");
    assert_string_equal(api_jstr(n, "template"), "de");
    assert_string_equal(complaint_text(n),
                        "Ihr Inhalt https://video.example/tpl/1 wurde entfernt: Anordnung "
                        "BKA-TPL-1 der BKA (DE). Gr\xc3\xbcnde: Incitement to commit a terrorist "
                        "offence. Beschwerde: https://platform.example/de/b");
    assert_string_equal(api_jstr(json_object_get(n, "redress"), "complaint_url"),
                        "https://platform.example/de/b");
    json_decref(n);
    /* No language: the default template. */
    n = notice_of("BKA-TPL-2", "tpl-2", NULL);
    assert_string_equal(api_jstr(n, "template"), "default");
    assert_string_equal(complaint_text(n), "Removed under order BKA-TPL-2.");
    json_decref(n);
    /* Changed on the running server: the next notice says the new text. */
    json_decref(api_call(&S.srv, 200, "PUT", "/v1/settings/notice-templates/default", A,
                         "{\"text\": \"Second wording, {{content_id}}.\"}"));
    n = notice_of("BKA-TPL-3", "tpl-3", "fr");
    assert_string_equal(api_jstr(n, "template"), "default");
    assert_string_equal(complaint_text(n), "Second wording, tpl-3.");
    json_decref(n);
    /* Both removed: the built-in text. */
    j = api_call(&S.srv, 200, "DELETE", "/v1/settings/notice-templates/default", A, NULL);
    assert_string_equal(api_jstr(j, "deleted"), "default");
    json_decref(j);
    json_decref(api_call(&S.srv, 200, "DELETE", path, A, NULL));
    n = notice_of("BKA-TPL-4", "tpl-4", "de");
    assert_string_equal(api_jstr(n, "template"), "builtin");
    assert_string_equal(complaint_text(n), td_notice_builtin_text());
    json_decref(n);
    j = api_call(&S.srv, 200, "GET", "/v1/settings/notice-templates", A, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "templates")), 0);
    json_decref(j);
}

/* The server stops cleanly (exit 0 on SIGTERM, checked in api_server_stop, with the clock thread
 * running), the data survives, and the clocks run on the server by themselves: restarted with
 * escalation marks every second, an order nobody executes escalates without any request. */
static void test_restart_and_clocks(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    char admin[128];
    server_start(admin, sizeof admin, 1);
    assert_string_equal(admin, ""); /* not the first start */
    char path[128], body[4096];
    snprintf(path, sizeof path, "/v1/orders/%lld", S.order_auto);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    assert_string_equal(api_jstr(j, "state"), "confirmed");
    json_decref(j);

    /* The Dutch authority announced itself at setup, less than 12 h ago: first contact. */
    api_order_doc(body, sizeof body, "Politie NL", "NL-2024-9", NULL,
                  "https://elsewhere.example/nl", NULL);
    j = send_signed(201, "/v1/orders", POLITIE, S.sk[A_POLITIE], body);
    long long id = api_jint(j, "id");
    assert_int_equal(api_jint(j, "deadline_ms"), api_jint(j, "received_ms") + 60000);
    assert_true(json_is_true(json_object_get(j, "first_contact_early")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/orders/%lld", id);
    json_int_t escalation = 0;
    double deadline = api_now_s() + 15;
    while (escalation < 2 && api_now_s() < deadline) {
        api_sleep_ms(200);
        j = api_call(&S.srv, 200, "GET", path, S.keys[POLITIE], NULL);
        escalation = api_jint(j, "escalation");
        json_decref(j);
    }
    if (escalation < 2)
        fail_msg("order %lld: escalation %lld after 15 s, expected >= 2", id,
                 (long long)escalation);
    /* First in the moderators' queue. */
    j = api_call(&S.srv, 200, "GET", "/v1/orders", S.keys[MODERATOR], NULL);
    assert_int_equal(api_jint(json_array_get(json_object_get(j, "orders"), 0), "id"), id);
    json_decref(j);
    api_resp r;
    assert_int_equal(api_http(&S.srv, "GET", "/v1/log/checkpoint", NULL, NULL, &r), 200);
    api_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup_authorities),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_intake_refusals),
        cmocka_unit_test(test_order_automatic),
        cmocka_unit_test(test_cannot_comply_then_clarification),
        cmocka_unit_test(test_referral),
        cmocka_unit_test(test_complaint),
        cmocka_unit_test(test_transparency),
        cmocka_unit_test(test_audit_log),
        cmocka_unit_test(test_notice_templates),
        cmocka_unit_test(test_restart_and_clocks),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
