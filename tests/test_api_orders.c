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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
    pid_t pid;
    int out_fd;
    char base[128];
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

/* ---- clocks ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the server process ---- */

/* Starts the server; fast_clocks: a one-minute deadline with escalation marks every second. */
static void server_start(char *admin, size_t cap, int fast_clocks)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (fast_clocks)
            execl(TD_CLI_PATH, TD_CLI_PATH, "serve", "--listen", "127.0.0.1:0", "--data", S.dir,
                  "--webhook-allow-private", "1", "--webhook-backoff-base-ms", "100",
                  "--http-threads", "4", "--order-deadline-ms", "60000",
                  "--order-escalation-step-ms", "1000", (char *)NULL);
        else
            execl(TD_CLI_PATH, TD_CLI_PATH, "serve", "--listen", "127.0.0.1:0", "--data", S.dir,
                  "--webhook-allow-private", "1", "--webhook-backoff-base-ms", "100",
                  "--http-threads", "4", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    S.pid = pid;
    S.out_fd = fds[0];
    admin[0] = '\0';
    /* The raw pipe byte by byte: a FILE buffer would hide lines from poll(). */
    char line[512];
    size_t n = 0;
    double deadline = now_s() + 30;
    while (now_s() < deadline) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        char c;
        if (read(fds[0], &c, 1) != 1)
            fail_msg("the server exited before listening");
        if (c != '\n') {
            if (n + 1 < sizeof line)
                line[n++] = c;
            continue;
        }
        line[n] = '\0';
        n = 0;
        const char *k = "takedown: admin key (shown once): ", *l = "takedown: listening on ";
        if (strncmp(line, k, strlen(k)) == 0)
            snprintf(admin, cap, "%.*s", (int)(cap - 1), line + strlen(k));
        if (strncmp(line, l, strlen(l)) == 0) {
            snprintf(S.base, sizeof S.base, "%.100s", line + strlen(l));
            return;
        }
    }
    fail_msg("the server did not print its address within 30 s");
}

/* SIGTERM: the exit status must be 0 within 20 s (the order clocks stop cleanly too). */
static void server_stop(void)
{
    assert_int_equal(kill(S.pid, SIGTERM), 0);
    int status = -1;
    double deadline = now_s() + 20;
    while (now_s() < deadline) {
        if (waitpid(S.pid, &status, WNOHANG) == S.pid)
            break;
        sleep_ms(20);
    }
    S.pid = 0;
    close(S.out_fd);
    S.out_fd = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- HTTP ---- */

typedef struct resp {
    long status;
    char *body;
    size_t len;
} resp;

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    resp *r = ctx;
    size_t len = size * n;
    char *nb = realloc(r->body, r->len + len + 1);
    assert_non_null(nb);
    memcpy(nb + r->len, p, len);
    r->body = nb;
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

/* One request; extra is one more header line (or NULL). */
static long http_ex(const char *method, const char *path, const char *key, const char *body,
                    size_t len, const char *extra, resp *out)
{
    char url[4096], auth[256];
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    assert_non_null(c);
    memset(out, 0, sizeof *out);
    snprintf(url, sizeof url, "%s%s", S.base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    if (extra)
        h = curl_slist_append(h, extra);
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        out->status = -(long)rc;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return out->status;
}

static void resp_free(resp *r)
{
    free(r->body);
    r->body = NULL;
}

static json_t *parse_or_fail(const char *method, const char *path, const resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, &e);
    if (!j)
        fail_msg("%s %s: not JSON: %s", method, path, r->body ? r->body : "");
    return j;
}

/* A JSON call that must answer `expect`; returns the parsed body (NULL if empty). */
static json_t *call_ex(long expect, const char *method, const char *path, const char *key,
                       const char *body, size_t len, const char *extra)
{
    resp r;
    long st = http_ex(method, path, key, body, len, extra, &r);
    if (st != expect)
        fail_msg("%s %s: status %ld, expected %ld; body: %s", method, path, st, expect,
                 r.body ? r.body : "");
    json_t *j = r.len ? parse_or_fail(method, path, &r) : NULL;
    resp_free(&r);
    return j;
}

static json_t *call(long expect, const char *method, const char *path, const char *key,
                    const char *json)
{
    return call_ex(expect, method, path, key, json, json ? strlen(json) : 0, NULL);
}

/* An error answer with its code (and the field, when given). */
static void expect_error_ex(long expect, const char *code, const char *field, const char *method,
                            const char *path, const char *key, const char *body, size_t len,
                            const char *extra)
{
    json_t *j = call_ex(expect, method, path, key, body, len, extra);
    assert_non_null(j);
    json_t *err = json_object_get(j, "error");
    assert_true(json_is_object(err));
    assert_true(json_is_string(json_object_get(err, "message")));
    const char *got = json_string_value(json_object_get(err, "code"));
    if (code && (!got || strcmp(got, code) != 0))
        fail_msg("%s %s: error code %s, expected %s", method, path, got ? got : "(none)", code);
    const char *f = json_string_value(json_object_get(err, "field"));
    if (field && (!f || strcmp(f, field) != 0))
        fail_msg("%s %s: error field %s, expected %s", method, path, f ? f : "(none)", field);
    json_decref(j);
}

static void expect_error(long expect, const char *code, const char *method, const char *path,
                         const char *key, const char *json)
{
    expect_error_ex(expect, code, NULL, method, path, key, json, json ? strlen(json) : 0, NULL);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}
static json_int_t jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}
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

/* The Takedown-Signature header line for body signed with sk. */
static void sign_header(const unsigned char *sk, const char *body, size_t len, char *out,
                        size_t cap)
{
    unsigned char sig[crypto_sign_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    crypto_sign_detached(sig, NULL, (const unsigned char *)body, len, sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "Takedown-Signature: ed25519=%s", b64);
}

/* A removal order of `authority` with one target (content id and URL, either may be NULL);
 * omit names a member left out. */
static void order_doc(char *out, size_t cap, const char *authority, const char *reference,
                      const char *content_id, const char *url, const char *omit)
{
    char issued[32], target[512];
    td_order_time_format(wall_ms() - 60000, issued);
    if (content_id && url)
        snprintf(target, sizeof target, "{\"content_id\": \"%s\", \"url\": \"%s\"}", content_id,
                 url);
    else if (content_id)
        snprintf(target, sizeof target, "{\"content_id\": \"%s\"}", content_id);
    else
        snprintf(target, sizeof target, "{\"url\": \"%s\"}", url);
    size_t n = 0;
    struct {
        const char *name;
        char value[640];
    } m[12];
    int k = 0;
#define MEMBER(nm, ...)                                                                            \
    do {                                                                                           \
        m[k].name = nm;                                                                            \
        snprintf(m[k].value, sizeof m[k].value, __VA_ARGS__);                                      \
        k++;                                                                                       \
    } while (0)
    MEMBER("type", "\"removal_order\"");
    MEMBER("issuing_member_state", "\"DE\"");
    MEMBER("addressee", "\"Example Platform Ltd\"");
    MEMBER("reference", "\"%s\"", reference);
    MEMBER("issued_at", "\"%s\"", issued);
    MEMBER("content", "[%s]", target);
    MEMBER("reason", "{\"category\": \"a\", \"statement\": \"Incitement to commit a terrorist "
                     "offence\"}");
    MEMBER("do_not_inform", "false");
    MEMBER("cross_border", "false");
    MEMBER("issuing_authority", "{\"name\": \"%s\", \"contact\": \"ops@authority.example\"}",
           authority);
    MEMBER("follow_up_contact", "\"desk@authority.example\"");
    MEMBER("redress", "\"Verwaltungsgericht Wiesbaden\"");
#undef MEMBER
    n += (size_t)snprintf(out + n, cap - n, "{");
    int first = 1;
    for (int i = 0; i < k; i++) {
        if (omit && strcmp(omit, m[i].name) == 0)
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%s\"%s\": %s", first ? "" : ", ", m[i].name,
                              m[i].value);
        first = 0;
    }
    snprintf(out + n, cap - n, "}");
}

/* Sends body signed with sk as the key `key`; returns the parsed answer. */
static json_t *send_signed(long expect, const char *path, int key, const unsigned char *sk,
                           const char *body)
{
    char sig[200];
    sign_header(sk, body, strlen(body), sig, sizeof sig);
    return call_ex(expect, "POST", path, S.keys[key], body, strlen(body), sig);
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
        W.at[W.n] = now_s();
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
        json_t *j = call(201, "POST", "/v1/keys", S.keys[ADMIN], body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", jstr(j, "key"));
        assert_string_equal(jstr(j, "role"), key_roles[i]);
        S.key_ids[i] = jint(j, "id");
        json_decref(j);
    }
}

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(S.dir, sizeof S.dir, "%s", temp_path("api-orders-data"));
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", S.dir);
    if (system(cmd) != 0)
        return -1;
    S.t_start_ms = wall_ms() - 1000;
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
    if (S.pid)
        server_stop();
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
    td_order_time_format(wall_ms() - 48 * HOUR_MS, announced);
    for (int a = 0; a < N_AUTH; a++) {
        char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], body[1024], path[128];
        sodium_bin2hex(hex, sizeof hex, S.pk[a], sizeof S.pk[a]);
        snprintf(body, sizeof body,
                 "{\"name\": \"%s\", \"kind\": \"%s\", \"member_state\": \"%s\", \"contact\": "
                 "\"ops@%d.example\", \"public_key\": \"%s\"%s%s%s}",
                 names[a], kinds[a], states[a], a, hex,
                 a == A_POLITIE ? "" : ", \"announced_at\": \"", a == A_POLITIE ? "" : announced,
                 a == A_POLITIE ? "" : "\"");
        json_t *j = call(201, "POST", "/v1/authorities", A, body);
        S.auth_ids[a] = jint(j, "id");
        assert_string_equal(jstr(j, "name"), names[a]);
        assert_string_equal(jstr(j, "kind"), kinds[a]);
        assert_string_equal(jstr(j, "public_key"), hex);
        json_decref(j);
        snprintf(path, sizeof path, "/v1/authorities/%lld/keys", S.auth_ids[a]);
        snprintf(body, sizeof body, "{\"key_id\": %lld}", S.key_ids[keys[a]]);
        json_decref(call(201, "POST", path, A, body));
        /* A key belongs to one authority. */
        expect_error(409, "conflict", "POST", path, A, body);
    }
    /* Errors of registration. */
    expect_error(409, "conflict", "POST", "/v1/authorities", A,
                 "{\"name\": \"BKA\", \"member_state\": \"DE\", \"public_key\": "
                 "\"0000000000000000000000000000000000000000000000000000000000000000\"}");
    expect_error(400, NULL, "POST", "/v1/authorities", A,
                 "{\"name\": \"X\", \"member_state\": \"DE\", \"public_key\": \"abc\"}");
    expect_error(403, "forbidden", "POST", "/v1/authorities", S.keys[MODERATOR], "{}");
    json_t *j = call(200, "GET", "/v1/authorities", S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "authorities")), N_AUTH);
    json_decref(j);
    char path[128];
    snprintf(path, sizeof path, "/v1/authorities/%lld", S.auth_ids[A_IRU]);
    j = call(200, "GET", path, S.keys[MODERATOR], NULL);
    assert_string_equal(jstr(j, "name"), "EU IRU");
    json_decref(j);
    expect_error(404, "not_found", "GET", "/v1/authorities/999999", S.keys[MODERATOR], NULL);

    /* The platform's webhook and its content. */
    unsigned port = MHD_get_daemon_info(S.hook, MHD_DAEMON_INFO_BIND_PORT)->port;
    char body[512];
    snprintf(body, sizeof body,
             "{\"url\": \"http://127.0.0.1:%u/hook\", \"secret\": \"" WEBHOOK_SECRET
             "\", \"events\": [\"remove\", \"restore\", \"notice\", \"order_feedback\", "
             "\"referral_answer\"]}",
             port);
    json_decref(call(201, "POST", "/v1/webhooks", A, body));
    static const char *const items[][2] = {{"vid-1", "https://video.example/watch/1"},
                                           {"vid-2", "https://video.example/watch/2"},
                                           {"vid-3", "https://video.example/watch/3"}};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"content_id\": \"%s\", \"uploader\": \"user-%zu\", \"url\": \"%s\", "
                 "\"hashes\": {\"pdq\": \"" CONTENT_PDQ "\"}}",
                 items[i][0], i, items[i][1]);
        json_decref(call(201, "POST", "/v1/content", S.keys[PLATFORM], body));
    }
}

/* Who may do what around orders. */
static void test_roles(void **state)
{
    (void)state;
    char body[4096];
    order_doc(body, sizeof body, "BKA", "BKA-ROLES-1", "vid-1", NULL, NULL);
    char sig[200];
    sign_header(S.sk[A_BKA], body, strlen(body), sig, sizeof sig);
    /* Only an authority's key sends orders, even with a valid signature. */
    for (int k = ADMIN; k <= AUDITOR; k++)
        expect_error_ex(403, "forbidden", NULL, "POST", "/v1/orders", S.keys[k], body, strlen(body),
                        sig);
    expect_error_ex(401, "unauthenticated", NULL, "POST", "/v1/orders", NULL, body, strlen(body),
                    sig);
    /* An authority reads nothing of the platform's matching, nor other orders. */
    expect_error(403, "forbidden", "GET", "/v1/banks", S.keys[BKA], NULL);
    expect_error(403, "forbidden", "POST", "/v1/check", S.keys[BKA],
                 "{\"pdq\": \"" CONTENT_PDQ "\"}");
    expect_error(403, "forbidden", "GET", "/v1/orders", S.keys[BKA], NULL);
    expect_error(403, "forbidden", "GET", "/v1/reports/transparency", S.keys[BKA], NULL);
    expect_error(403, "forbidden", "POST", "/v1/orders/1/confirm", S.keys[BKA], "{}");
    expect_error(403, "forbidden", "GET", "/v1/log/proof/inclusion?seq=0", S.keys[BKA], NULL);
    expect_error(403, "forbidden", "GET", "/v1/log/proof/inclusion?seq=0", S.keys[PLATFORM],
                 NULL);
    /* Nothing was recorded by the refusals. */
    json_t *j = call(200, "GET", "/v1/orders?open=0", S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "orders")), 0);
    json_decref(j);
}

/* Every refusal of intake, with its status, code and field. */
static void test_intake_refusals(void **state)
{
    (void)state;
    char body[4096], sig[200];
    order_doc(body, sizeof body, "BKA", "BKA-BAD-1", "vid-1", NULL, NULL);
    size_t len = strlen(body);
    /* Unsigned. */
    expect_error_ex(401, "unsigned", "Takedown-Signature", "POST", "/v1/orders", S.keys[BKA], body,
                    len, NULL);
    /* Malformed header. */
    expect_error_ex(401, "bad_signature", NULL, "POST", "/v1/orders", S.keys[BKA], body, len,
                    "Takedown-Signature: rsa=AAAA");
    /* Signed by a key nobody registered. */
    sign_header(S.stray_sk, body, len, sig, sizeof sig);
    expect_error_ex(401, "bad_signature", NULL, "POST", "/v1/orders", S.keys[BKA], body, len, sig);
    /* Signed by another authority's key. */
    sign_header(S.sk[A_POLITIE], body, len, sig, sizeof sig);
    expect_error_ex(401, "bad_signature", NULL, "POST", "/v1/orders", S.keys[BKA], body, len, sig);
    /* Tampered after signing: one character of the reference changed. */
    sign_header(S.sk[A_BKA], body, len, sig, sizeof sig);
    char *ref = strstr(body, "BKA-BAD-1");
    assert_non_null(ref);
    ref[8] = '2';
    expect_error_ex(401, "bad_signature", NULL, "POST", "/v1/orders", S.keys[BKA], body, len, sig);
    /* Unknown authority. */
    order_doc(body, sizeof body, "Nobody", "N-1", "vid-1", NULL, NULL);
    sign_header(S.stray_sk, body, strlen(body), sig, sizeof sig);
    expect_error_ex(403, "unknown_authority", "issuing_authority.name", "POST", "/v1/orders",
                    S.keys[BKA], body, strlen(body), sig);
    /* The BKA's key sending a Dutch order, even signed with the Dutch key. */
    order_doc(body, sizeof body, "Politie NL", "NL-1", "vid-1", NULL, NULL);
    sign_header(S.sk[A_POLITIE], body, strlen(body), sig, sizeof sig);
    expect_error_ex(403, "wrong_authority", NULL, "POST", "/v1/orders", S.keys[BKA], body,
                    strlen(body), sig);
    /* A referral unit does not send removal orders. */
    order_doc(body, sizeof body, "EU IRU", "IRU-X", "vid-1", NULL, NULL);
    sign_header(S.sk[A_IRU], body, strlen(body), sig, sizeof sig);
    expect_error_ex(403, "wrong_authority", NULL, "POST", "/v1/orders", S.keys[IRU], body,
                    strlen(body), sig);
    /* Missing fields are named. */
    static const char *const required[] = {"redress", "reference", "content", "cross_border"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        order_doc(body, sizeof body, "BKA", "BKA-MISSING", "vid-1", NULL, required[i]);
        sign_header(S.sk[A_BKA], body, strlen(body), sig, sizeof sig);
        expect_error_ex(422, "missing_field", required[i], "POST", "/v1/orders", S.keys[BKA], body,
                        strlen(body), sig);
    }
    /* Not JSON. */
    static const char junk[] = "not json";
    sign_header(S.sk[A_BKA], junk, strlen(junk), sig, sizeof sig);
    expect_error_ex(400, "malformed", NULL, "POST", "/v1/orders", S.keys[BKA], junk, strlen(junk),
                    sig);
    json_t *j = call(200, "GET", "/v1/orders?open=0", S.keys[AUDITOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "orders")), 0);
    json_decref(j);
}

/* The automatic path: order in, remove fired to the platform, the platform confirms, the
 * authority reads the Annex II feedback. */
static void test_order_automatic(void **state)
{
    (void)state;
    char body[4096], path[128], confirm[256], measure_at[32];
    order_doc(body, sizeof body, "BKA", "BKA-2024-0001", "vid-1", "https://video.example/watch/1",
              NULL);
    double t0 = now_s();
    json_t *j = send_signed(201, "/v1/orders", BKA, S.sk[A_BKA], body);
    double t_receipt = now_s();
    S.order_auto = jint(j, "id");
    int64_t received_ms = jint(j, "received_ms");
    assert_true(S.order_auto > 0);
    assert_string_equal(jstr(j, "type"), "removal_order");
    assert_int_equal(jint(j, "deadline_ms"), received_ms + HOUR_MS);
    assert_true(json_is_string(json_object_get(j, "deadline")));
    assert_true(json_is_true(json_object_get(j, "executed")));
    assert_true(json_is_false(json_object_get(j, "duplicate")));
    assert_true(json_is_false(json_object_get(j, "first_contact_early")));
    assert_true(received_ms >= wall_ms() - 60000 && received_ms <= wall_ms());
    json_decref(j);

    /* The platform's receiver gets `remove` (HMAC checked), and the platform confirms. */
    char cause[64];
    snprintf(cause, sizeof cause, "order:%lld", S.order_auto);
    double t_hook = wait_event("remove", cause, "vid-1");
    td_order_time_format(wall_ms(), measure_at);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", S.order_auto);
    snprintf(confirm, sizeof confirm, "{\"measure\": \"removed\", \"time\": \"%s\"}", measure_at);
    j = call(200, "POST", path, S.keys[PLATFORM], confirm);
    double t_confirmed = now_s();
    assert_string_equal(jstr(j, "state"), "confirmed");
    assert_string_equal(jstr(j, "measure"), "removed");
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
    assert_string_equal(jstr(notice, "event"), "notice");
    assert_string_equal(jstr(notice, "measure"), "removed");
    assert_int_equal(jint(notice, "measure_ms"), measure_ms);
    assert_int_equal(jint(notice, "withheld_until_ms"), 0);
    assert_string_equal(jstr(notice, "uploader"), "user-0");
    assert_string_equal(jstr(json_object_get(notice, "order"), "reference"), "BKA-2024-0001");
    assert_int_equal(jint(json_object_get(notice, "order"), "id"), S.order_auto);
    assert_string_equal(jstr(json_object_get(notice, "reasons"), "category"), "a");
    assert_string_equal(jstr(json_object_get(notice, "redress"), "judicial"),
                        "Verwaltungsgericht Wiesbaden");
    assert_int_equal(strlen(jstr(notice, "id")), 64);
    json_decref(notice);
    /* Confirming again is accepted and changes nothing. */
    j = call(200, "POST", path, S.keys[PLATFORM],
             "{\"measure\": \"disabled\", \"time\": \"2001-01-01T00:00:00Z\"}");
    assert_string_equal(jstr(j, "measure"), "removed");
    json_decref(j);

    /* The duplicate: same id, same times, 200. */
    j = send_signed(200, "/v1/orders", BKA, S.sk[A_BKA], body);
    assert_int_equal(jint(j, "id"), S.order_auto);
    assert_int_equal(jint(j, "received_ms"), received_ms);
    assert_true(json_is_true(json_object_get(j, "duplicate")));
    json_decref(j);

    /* Annex II, read by the issuing authority. */
    snprintf(path, sizeof path, "/v1/orders/%lld/feedback", S.order_auto);
    j = call(200, "GET", path, S.keys[BKA], NULL);
    assert_int_equal(jint(j, "order_id"), S.order_auto);
    assert_string_equal(jstr(j, "reference"), "BKA-2024-0001");
    assert_int_equal(jint(j, "received_ms"), received_ms);
    assert_int_equal(jint(j, "measure_ms"), measure_ms);
    assert_true(json_is_string(json_object_get(j, "time_of_receipt")));
    assert_true(json_is_string(json_object_get(j, "time_of_measure")));
    assert_true(json_is_true(json_object_get(j, "within_deadline")));
    assert_true(measure_ms - received_ms < HOUR_MS);
    json_decref(j);
    /* Read by the authority, so recorded as sent: pushed to the platform to relay. */
    json_t *fb = NULL;
    wait_event_body("order_feedback", cause, "vid-1", &fb);
    assert_int_equal(jint(fb, "order_id"), S.order_auto);
    assert_string_equal(jstr(fb, "reference"), "BKA-2024-0001");
    assert_int_equal(jint(fb, "measure_ms"), measure_ms);
    assert_string_equal(jstr(fb, "authority_contact"), "ops@authority.example");
    json_decref(fb);
    /* Another authority sees neither the order nor its feedback. */
    expect_error(404, "not_found", "GET", path, S.keys[POLITIE], NULL);
    snprintf(path, sizeof path, "/v1/orders/%lld", S.order_auto);
    expect_error(404, "not_found", "GET", path, S.keys[POLITIE], NULL);
    j = call(200, "GET", path, S.keys[BKA], NULL);
    assert_string_equal(jstr(j, "state"), "confirmed");
    assert_string_equal(jstr(j, "issuing_authority"), "BKA");
    json_decref(j);
    j = call(200, "GET", path, S.keys[AUDITOR], NULL);
    assert_string_equal(jstr(j, "reference"), "BKA-2024-0001");
    json_decref(j);
    expect_error(404, "not_found", "GET", "/v1/orders/999999", S.keys[AUDITOR], NULL);
}

/* An order whose content is unknown: cannot comply (the clock pauses), the authority
 * clarifies (the full hour restarts), the platform locates the content, executes, confirms. */
static void test_cannot_comply_then_clarification(void **state)
{
    (void)state;
    char body[4096], path[128];
    order_doc(body, sizeof body, "BKA", "BKA-2024-0002", NULL, "https://elsewhere.example/x/42",
              NULL);
    json_t *j = send_signed(201, "/v1/orders", BKA, S.sk[A_BKA], body);
    S.order_paused = jint(j, "id");
    assert_true(json_is_false(json_object_get(j, "executed")));
    json_decref(j);
    /* In the moderators' queue, open. */
    j = call(200, "GET", "/v1/orders", S.keys[MODERATOR], NULL);
    int queued = 0;
    json_t *list = json_object_get(j, "orders");
    for (size_t i = 0; i < json_array_size(list); i++)
        queued |= jint(json_array_get(list, i), "id") == S.order_paused;
    assert_true(queued);
    json_decref(j);

    snprintf(path, sizeof path, "/v1/orders/%lld/cannot-comply", S.order_paused);
    expect_error(400, NULL, "POST", path, S.keys[MODERATOR],
                 "{\"ground\": \"bored\", \"explanation\": \"x\"}");
    expect_error(403, "forbidden", "POST", path, S.keys[BKA],
                 "{\"ground\": \"missing_information\", \"explanation\": \"x\"}");
    j = call(200, "POST", path, S.keys[MODERATOR],
             "{\"ground\": \"missing_information\", \"explanation\": \"the URL is not on our "
             "service\"}");
    assert_string_equal(jstr(j, "state"), "paused");
    assert_true(json_is_null(json_object_get(j, "deadline")));
    assert_string_equal(jstr(json_object_get(j, "cannot_comply"), "ground"), "missing_information");
    json_decref(j);
    /* The feedback says why. */
    snprintf(path, sizeof path, "/v1/orders/%lld/feedback", S.order_paused);
    j = call(200, "GET", path, S.keys[BKA], NULL);
    assert_string_equal(jstr(json_object_get(j, "cannot_comply"), "ground"), "missing_information");
    json_decref(j);

    /* The clarification, by the issuing authority only. */
    snprintf(path, sizeof path, "/v1/orders/%lld/clarification", S.order_paused);
    expect_error(404, "not_found", "POST", path, S.keys[POLITIE], "{\"text\": \"x\"}");
    int64_t before = wall_ms();
    j = call(200, "POST", path, S.keys[BKA],
             "{\"text\": \"the content is vid-2 on your service\"}");
    int64_t after = wall_ms();
    assert_true(json_is_string(json_object_get(j, "deadline")));
    const char *deadline = jstr(j, "deadline");
    int64_t dl = td_order_time_parse(deadline, strlen(deadline));
    assert_true(dl >= before + HOUR_MS - 1000 && dl <= after + HOUR_MS + 1000);
    assert_string_equal(jstr(j, "state"), "received");
    json_decref(j);
    expect_error(409, "conflict", "POST", path, S.keys[BKA], "{\"text\": \"again\"}");

    /* The platform says where it is, and executes. */
    snprintf(path, sizeof path, "/v1/orders/%lld/locate", S.order_paused);
    expect_error(404, "not_found", "POST", path, S.keys[PLATFORM],
                 "{\"target\": 0, \"content_id\": \"no-such-content\"}");
    json_decref(
        call(200, "POST", path, S.keys[PLATFORM], "{\"target\": 0, \"content_id\": \"vid-2\"}"));
    snprintf(path, sizeof path, "/v1/orders/%lld/execute", S.order_paused);
    j = call(200, "POST", path, S.keys[MODERATOR], NULL);
    assert_string_equal(jstr(j, "state"), "executed");
    json_decref(j);
    char cause[64], confirm[256], at[32];
    snprintf(cause, sizeof cause, "order:%lld", S.order_paused);
    wait_event("remove", cause, "vid-2");
    td_order_time_format(wall_ms(), at);
    snprintf(confirm, sizeof confirm, "{\"measure\": \"disabled\", \"time\": \"%s\"}", at);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", S.order_paused);
    /* The time of the measure lies between the receipt and now; it is required. */
    expect_error(400, NULL, "POST", path, S.keys[MODERATOR],
                 "{\"measure\": \"removed\", \"time\": \"2001-01-01T00:00:00Z\"}");
    expect_error(400, NULL, "POST", path, S.keys[MODERATOR], "{\"measure\": \"removed\"}");
    expect_error(400, NULL, "POST", path, S.keys[MODERATOR],
                 "{\"measure\": \"burnt\", \"time\": \"2001-01-01T00:00:00Z\"}");
    j = call(200, "POST", path, S.keys[MODERATOR], confirm);
    assert_string_equal(jstr(j, "state"), "confirmed");
    assert_string_equal(jstr(j, "measure"), "disabled");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/orders/%lld/cannot-comply", S.order_paused);
    expect_error(409, "conflict", "POST", path, S.keys[MODERATOR],
                 "{\"ground\": \"force_majeure\", \"explanation\": \"late\"}");
}

/* A referral: same signed intake, no clock, decided against the terms. */
static void test_referral(void **state)
{
    (void)state;
    char body[2048], issued[32], path[128];
    td_order_time_format(wall_ms() - 5000, issued);
    snprintf(body, sizeof body,
             "{\"type\": \"referral\", \"reference\": \"IRU-2024-77\", \"issued_at\": \"%s\", "
             "\"content\": [{\"url\": \"https://video.example/watch/3\"}], \"reason\": "
             "{\"statement\": \"Propaganda video of a listed group\"}, \"issuing_authority\": "
             "{\"name\": \"EU IRU\"}}",
             issued);
    /* Not through the orders route (the type is wrong there). */
    char sig[200];
    sign_header(S.sk[A_IRU], body, strlen(body), sig, sizeof sig);
    expect_error_ex(422, "invalid_field", "type", "POST", "/v1/orders", S.keys[IRU], body,
                    strlen(body), sig);
    json_t *j = send_signed(201, "/v1/referrals", IRU, S.sk[A_IRU], body);
    S.referral = jint(j, "id");
    assert_string_equal(jstr(j, "type"), "referral");
    assert_null(json_object_get(j, "deadline"));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/referrals/%lld/decision", S.referral);
    expect_error(400, NULL, "POST", path, S.keys[MODERATOR],
                 "{\"decision\": \"maybe\", \"reason\": \"x\"}");
    expect_error(403, "forbidden", "POST", path, S.keys[IRU],
                 "{\"decision\": \"remove\", \"reason\": \"x\"}");
    j = call(200, "POST", path, S.keys[MODERATOR],
             "{\"decision\": \"remove\", \"reason\": \"violates our terms (violent extremism)\"}");
    assert_string_equal(jstr(j, "state"), "decided");
    json_decref(j);
    expect_error(409, "conflict", "POST", path, S.keys[MODERATOR],
                 "{\"decision\": \"keep\", \"reason\": \"changed my mind\"}");
    char cause[64];
    snprintf(cause, sizeof cause, "referral:%lld", S.referral);
    wait_event("remove", cause, "vid-3");
    /* The answer, pushed to the platform for the referring unit. */
    json_t *answer = NULL;
    wait_event_body("referral_answer", cause, "vid-3", &answer);
    assert_string_equal(jstr(answer, "decision"), "removed");
    assert_string_equal(jstr(answer, "reference"), "IRU-2024-77");
    json_decref(answer);
    /* The answer returned to the referring unit. */
    snprintf(path, sizeof path, "/v1/orders/%lld/feedback", S.referral);
    j = call(200, "GET", path, S.keys[IRU], NULL);
    assert_string_equal(jstr(j, "decision"), "removed");
    assert_string_equal(jstr(j, "type"), "referral");
    json_decref(j);
}

/* A complaint against the removal made for the first order: upheld, restore fired. */
static void test_complaint(void **state)
{
    (void)state;
    char path[128];
    expect_error(404, "not_found", "POST", "/v1/complaints", S.keys[PLATFORM],
                 "{\"content_id\": \"never-seen\", \"text\": \"x\"}");
    expect_error(403, "forbidden", "POST", "/v1/complaints", S.keys[BKA],
                 "{\"content_id\": \"vid-1\", \"text\": \"x\"}");
    json_t *j = call(201, "POST", "/v1/complaints", S.keys[PLATFORM],
                     "{\"content_id\": \"vid-1\", \"text\": \"This is a news report about the "
                     "attack, not propaganda.\"}");
    long long id = jint(j, "id");
    assert_string_equal(jstr(j, "state"), "open");
    assert_int_equal(jint(j, "order_id"), S.order_auto);
    const char *due = jstr(j, "due"), *received = jstr(j, "received_at");
    assert_int_equal(td_order_time_parse(due, strlen(due)) -
                         td_order_time_parse(received, strlen(received)),
                     14 * 24 * HOUR_MS);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/complaints/%lld", id);
    j = call(200, "GET", path, S.keys[PLATFORM], NULL);
    assert_string_equal(jstr(j, "content_id"), "vid-1");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/complaints/%lld/decision", id);
    expect_error(403, "forbidden", "POST", path, S.keys[PLATFORM],
                 "{\"upheld\": true, \"reasons\": \"x\"}");
    j = call(200, "POST", path, S.keys[MODERATOR],
             "{\"upheld\": true, \"reasons\": \"journalistic reporting (Art. 1(3))\"}");
    assert_string_equal(jstr(j, "state"), "upheld");
    assert_true(json_is_string(json_object_get(j, "reinstated_at")));
    json_decref(j);
    expect_error(409, "conflict", "POST", path, S.keys[MODERATOR],
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
    td_order_time_format(wall_ms() + HOUR_MS, to);
    expect_error(400, "invalid_query", "GET", "/v1/reports/transparency", S.keys[AUDITOR], NULL);
    snprintf(path, sizeof path, "/v1/reports/transparency?from=%s&to=%s", from, to);
    json_t *j = call(200, "GET", path, S.keys[AUDITOR], NULL);
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
    j = call(200, "GET", path, S.keys[MODERATOR], NULL);
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

static void parse_doc(const resp *r, td_audit_doc *doc)
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
    resp r;

    /* The checkpoint is public. */
    assert_int_equal(http_ex("GET", "/v1/log/checkpoint", NULL, NULL, 0, NULL, &r), 200);
    td_audit_doc cp;
    parse_doc(&r, &cp);
    resp_free(&r);
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
        assert_int_equal(http_ex("GET", path, S.keys[AUDITOR], NULL, 0, NULL, &r), 200);
        parse_doc(&r, &inc);
        resp_free(&r);
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
    assert_int_equal(http_ex("GET", path, S.keys[ADMIN], NULL, 0, NULL, &r), 200);
    td_audit_doc con;
    parse_doc(&r, &con);
    resp_free(&r);
    assert_int_equal(con.type, TD_AUDIT_DOC_CONSISTENCY);
    if (td_audit_doc_verify(&con, pub, &err) != TD_OK)
        fail_msg("consistency document: %s", err.message);
    td_audit_doc_clear(&con);

    /* Errors and roles. */
    expect_error(400, "invalid_query", "GET", "/v1/log/proof/inclusion", S.keys[AUDITOR], NULL);
    expect_error(400, "invalid_query", "GET", "/v1/log/proof/inclusion?seq=x", S.keys[AUDITOR],
                 NULL);
    snprintf(path, sizeof path, "/v1/log/proof/inclusion?seq=%llu&size=%llu",
             (unsigned long long)size, (unsigned long long)size);
    expect_error(404, "not_found", "GET", path, S.keys[AUDITOR], NULL);
    expect_error(400, "invalid_query", "GET", "/v1/log/proof/consistency?from=5&to=2",
                 S.keys[AUDITOR], NULL);
    snprintf(path, sizeof path, "/v1/log/proof/consistency?from=1&to=%llu",
             (unsigned long long)size + 1000000);
    expect_error(404, "not_found", "GET", path, S.keys[AUDITOR], NULL);
    expect_error(401, "unauthenticated", "GET", "/v1/log/proof/inclusion?seq=0", NULL, NULL);
    expect_error(403, "forbidden", "GET", "/v1/log/proof/consistency?from=1&to=2",
                 S.keys[MODERATOR], NULL);
}

/* The server stops cleanly (exit 0 on SIGTERM, checked in server_stop, with the clock thread
 * running), the data survives, and the clocks run on the server by themselves: restarted with
 * escalation marks every second, an order nobody executes escalates without any request. */
static void test_restart_and_clocks(void **state)
{
    (void)state;
    server_stop();
    char admin[128];
    server_start(admin, sizeof admin, 1);
    assert_string_equal(admin, ""); /* not the first start */
    char path[128], body[4096];
    snprintf(path, sizeof path, "/v1/orders/%lld", S.order_auto);
    json_t *j = call(200, "GET", path, S.keys[AUDITOR], NULL);
    assert_string_equal(jstr(j, "state"), "confirmed");
    json_decref(j);

    /* The Dutch authority announced itself at setup, less than 12 h ago: first contact. */
    order_doc(body, sizeof body, "Politie NL", "NL-2024-9", NULL, "https://elsewhere.example/nl",
              NULL);
    j = send_signed(201, "/v1/orders", POLITIE, S.sk[A_POLITIE], body);
    long long id = jint(j, "id");
    assert_int_equal(jint(j, "deadline_ms"), jint(j, "received_ms") + 60000);
    assert_true(json_is_true(json_object_get(j, "first_contact_early")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/orders/%lld", id);
    json_int_t escalation = 0;
    double deadline = now_s() + 15;
    while (escalation < 2 && now_s() < deadline) {
        sleep_ms(200);
        j = call(200, "GET", path, S.keys[POLITIE], NULL);
        escalation = jint(j, "escalation");
        json_decref(j);
    }
    if (escalation < 2)
        fail_msg("order %lld: escalation %lld after 15 s, expected >= 2", id,
                 (long long)escalation);
    /* First in the moderators' queue. */
    j = call(200, "GET", "/v1/orders", S.keys[MODERATOR], NULL);
    assert_int_equal(jint(json_array_get(json_object_get(j, "orders"), 0), "id"), id);
    json_decref(j);
    resp r;
    assert_int_equal(http_ex("GET", "/v1/log/checkpoint", NULL, NULL, 0, NULL, &r), 200);
    resp_free(&r);
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
        cmocka_unit_test(test_restart_and_clocks),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
