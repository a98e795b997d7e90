/* Evidence orders over HTTP, end to end, driven as the issuing authority, the operator's access
 * point, the platform, legal officers, custodians and the recipient authority drive them: the
 * real `takedown serve` runs as a child process over a fresh data directory whose evidence
 * master key `takedown evidence init` made; a test HTTP server plays the platform (answering
 * the evidence.collect webhook) and the national access point (receiving the outgoing
 * HI1Messages). Covered: signed JSON intake and its refusals (401, 403, 422 naming section and
 * member), the judge rule (invalid_issuing_authority), the lapsed UK OPO; the collect webhook
 * and the platform's data (out of scope or out of range: 422, nothing stored); two legal
 * officers' approvals, k custodians, the delivery, the package fetched by the authority and
 * opened with `takedown evidence open` (and a tampered copy refused); the same order as XML
 * (/eevidence/production) giving the same case; XML events; hostile XML answered 400 with the
 * server up; cannot comply pausing and a clarification restarting; only legal and admin read,
 * each read audited with its purpose; the outgoing messages reaching the access point as XML;
 * /metrics. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/orders.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MAX_POSTS 64

enum { ADMIN, PLATFORM, AUDITOR, MODERATOR, STA, GATEWAY, LEGAL1, LEGAL2, ALICE, BOB, UKC, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin",     "platform",  "auditor",  "moderator",
                                              "authority", "authority", "legal",    "legal",
                                              "custodian", "custodian", "authority"};
static const char *const key_names[N_KEYS] = {
    "admin",      "upload-service", "auditor", "moderator-1", "sta-berlin-desk", "access-point",
    "legal-anna", "legal-ben",      "alice",   "bob",         "southwark-desk"};

static struct {
    api_server srv;
    char dir[4096];
    char keys[N_KEYS][128];
    long long key_ids[N_KEYS];
    unsigned char sta_pk[crypto_sign_PUBLICKEYBYTES], sta_sk[crypto_sign_SECRETKEYBYTES];
    unsigned char ap_pk[crypto_sign_PUBLICKEYBYTES], ap_sk[crypto_sign_SECRETKEYBYTES];
    unsigned char nca_pk[crypto_sign_PUBLICKEYBYTES], nca_sk[crypto_sign_SECRETKEYBYTES];
    char shares[2][160];      /* alice's and bob's */
    char recipient_pk[65];    /* the recipient authority's X25519 key (hex) */
    char recipient_key[4200]; /* its secret key file */
    char order[32];           /* the EPOC sent as JSON */
    struct MHD_Daemon *peer;  /* the platform's webhook receiver and the access point */
} S;

/* ---- the platform and the access point ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
    char path[MAX_POSTS][64];
    char *body[MAX_POSTS];
} P = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}, {0}};

typedef struct peer_req {
    char *body;
    size_t len, cap;
} peer_req;

static enum MHD_Result on_peer(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **ctx)
{
    (void)cls, (void)method, (void)version;
    peer_req *h = *ctx;
    if (!h) {
        *ctx = calloc(1, sizeof *h);
        return *ctx ? MHD_YES : MHD_NO;
    }
    if (*size) {
        if (h->len + *size + 1 > h->cap) {
            size_t cap = (h->len + *size + 1) * 2;
            char *b = realloc(h->body, cap);
            if (!b)
                return MHD_NO;
            h->body = b;
            h->cap = cap;
        }
        memcpy(h->body + h->len, data, *size);
        h->len += *size;
        h->body[h->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&P.lock);
    if (P.n < MAX_POSTS) {
        snprintf(P.path[P.n], sizeof P.path[P.n], "%s", url);
        P.body[P.n] = h->body ? h->body : strdup("");
        h->body = NULL;
        P.n++;
    }
    pthread_cond_broadcast(&P.cond);
    pthread_mutex_unlock(&P.lock);
    static const char ok[] = "ok";
    struct MHD_Response *answer =
        MHD_create_response_from_buffer(2, (void *)ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 200, answer);
    MHD_destroy_response(answer);
    return ret;
}

static void on_peer_done(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    peer_req *h = *ctx;
    if (h)
        free(h->body);
    free(h);
    *ctx = NULL;
}

/* Waits up to 20 s for a POST to path whose body contains every NULL-terminated needle;
 * returns a copy of the body (free it). */
static char *wait_post(const char *path, ...)
{
    const char *needles[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, path);
    for (const char *s; n < 8 && (s = va_arg(ap, const char *));)
        needles[n++] = s;
    va_end(ap);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&P.lock);
    for (;;) {
        for (int i = 0; i < P.n; i++) {
            int all = strcmp(P.path[i], path) == 0;
            for (size_t k = 0; all && k < n; k++)
                all = strstr(P.body[i], needles[k]) != NULL;
            if (all) {
                char *copy = strdup(P.body[i]);
                pthread_mutex_unlock(&P.lock);
                return copy;
            }
        }
        if (pthread_cond_timedwait(&P.cond, &P.lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&P.lock);
    fail_msg("no POST to %s with '%s' within 20 s", path, n ? needles[0] : "");
    return NULL;
}

/* ---- fixtures ---- */

static void time_text(int64_t ms, char out[32]) { td_order_time_format(ms, out); }

/* The JSON EPOC of docs/evidence-orders.md for reference ref: issuer type and whether a judge
 * validates, categories (a JSON array's inside), the recipient's key. */
static void epoc_doc(char *out, size_t cap, const char *ref, const char *issuer_type, int validated,
                     const char *categories)
{
    char from[32], to[32], issued[32], at[32];
    int64_t now = api_wall_ms();
    time_text(now - 30 * DAY_MS, from);
    time_text(now + DAY_MS, to);
    time_text(now - HOUR_MS, issued);
    time_text(now - 2 * DAY_MS, at);
    snprintf(out, cap,
             "{\"framework\": \"eu_epoc\","
             " \"A\": {\"issuing_state\": \"DE\", \"issuing_authority\": {\"name\": "
             "\"Staatsanwaltschaft Berlin\", \"type\": \"%s\", \"file_number\": \"%s\"},%s"
             " \"issued_at\": \"%s\"},"
             " \"B\": {\"addressee\": \"Example Platform Ltd\", \"establishment\": "
             "\"designated_establishment\", \"member_state\": \"IE\"},"
             " \"C\": {\"deadline\": \"ten_days_asap\"},"
             " \"E\": {\"identifiers\": [{\"type\": \"user_id\", \"value\": \"u-1234\"},"
             " {\"type\": \"ipv4\", \"value\": \"203.0.113.7\", \"port\": 51234, \"at\": \"%s\"}],"
             " \"time_range\": {\"from\": \"%s\", \"to\": \"%s\"}},"
             " \"F\": {\"data_categories\": [%s]},"
             " \"G\": {\"offence\": \"Participation in a terrorist group\","
             " \"legal_classification\": \"129a StGB\", \"max_penalty_years\": 10,"
             " \"listed_terrorism\": true, \"summary\": \"The account distributes propaganda.\"},"
             " \"H\": {\"user_information\": \"restricted\"},"
             " \"K\": {\"contact\": {\"name\": \"Execution desk\", \"email\": "
             "\"exec@sta.example\", \"phone\": \"+49 30 99\"}},"
             " \"L\": {\"recipient\": \"Staatsanwaltschaft Berlin\", \"member_state\": \"DE\","
             " \"x25519_public_key\": \"%s\"}}",
             issuer_type, ref,
             validated ? " \"validating_authority\": {\"name\": \"Amtsgericht Tiergarten\", "
                         "\"type\": \"judge_or_court\", \"file_number\": \"AG-352\"},"
                       : "",
             issued, at, from, to, categories, S.recipient_pk);
}

static json_t *send_signed(long expect, const char *path, int key, const unsigned char *sk,
                           const char *body, const char *ctype)
{
    char sig[200];
    api_sign_header(sk, body, strlen(body), sig, sizeof sig);
    api_request rq = {.method = "POST",
                      .path = path,
                      .key = S.keys[key],
                      .ctype = ctype ? ctype : "application/json",
                      .body = body,
                      .len = -1,
                      .extra = sig};
    return api_call_req(&S.srv, expect, &rq);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

static char *xml_sample(const char *name)
{
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/tests/data/eevidence/%s", TD_SOURCE_DIR, name);
    char *b = read_file(path, &len);
    if (!b)
        fail_msg("cannot read %s", path);
    return b;
}

static void create_keys(void)
{
    for (int i = 1; i < N_KEYS; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"%s\"}", key_roles[i],
                 key_names[i]);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.keys[ADMIN], body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", api_jstr(j, "key"));
        S.key_ids[i] = api_jint(j, "id");
        json_decref(j);
    }
}

static long long register_authority(const char *name, const char *kind, const char *state,
                                    const unsigned char *pk, int key)
{
    char hex[65], body[1024], path[96], announced[32];
    sodium_bin2hex(hex, sizeof hex, pk, crypto_sign_PUBLICKEYBYTES);
    time_text(api_wall_ms() - 2 * DAY_MS, announced);
    snprintf(body, sizeof body,
             "{\"name\": \"%s\", \"kind\": \"%s\", \"member_state\": \"%s\", \"contact\": "
             "\"desk@%s.example\", \"public_key\": \"%s\", \"announced_at\": \"%s\"}",
             name, kind, state, state, hex, announced);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/authorities", S.keys[ADMIN], body);
    long long id = api_jint(j, "id");
    json_decref(j);
    if (key >= 0) {
        snprintf(path, sizeof path, "/v1/authorities/%lld/keys", id);
        snprintf(body, sizeof body, "{\"key_id\": %lld}", S.key_ids[key]);
        json_decref(api_call(&S.srv, 201, "POST", path, S.keys[ADMIN], body));
    }
    return id;
}

static int group_setup(void **state)
{
    (void)state;
    if (api_group_init(S.dir, sizeof S.dir, "api-eorders-data") != 0)
        return -1;
    S.peer = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_peer, NULL,
                              MHD_OPTION_NOTIFY_COMPLETED, on_peer_done, NULL, MHD_OPTION_END);
    if (!S.peer)
        return -1;
    unsigned port = MHD_get_daemon_info(S.peer, MHD_DAEMON_INFO_BIND_PORT)->port;
    /* The evidence master key first, with two of three custodians needed. */
    char cmd[8400], out[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' evidence init --data '%s' --threshold 2 --custodians alice,bob,carol "
             "2>/dev/null",
             TD_CLI_PATH, S.dir);
    if (run_capture(cmd, out, sizeof out) != 0)
        return -1;
    int got = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char name[64], share[160];
        if (l[0] != '#' && sscanf(l, "custodian %63s share %159s", name, share) == 2 && got < 2)
            snprintf(S.shares[got++], sizeof S.shares[0], "%s", share);
    }
    if (got != 2)
        return -1;
    /* The recipient authority's key pair, made with the CLI it would use. */
    snprintf(S.recipient_key, sizeof S.recipient_key, "%s/recipient.key", S.dir);
    snprintf(cmd, sizeof cmd, "'%s' evidence keygen --out '%s' 2>/dev/null", TD_CLI_PATH,
             S.recipient_key);
    if (run_capture(cmd, out, sizeof out) != 0 || strlen(out) < 64)
        return -1;
    memcpy(S.recipient_pk, out, 64);
    S.recipient_pk[64] = '\0';
    char url[128], interval[] = "200";
    snprintf(url, sizeof url, "http://127.0.0.1:%u/access-point", port);
    const char *const flags[] = {"--webhook-allow-private",
                                 "1",
                                 "--webhook-backoff-base-ms",
                                 "100",
                                 "--eevidence-outbound-url",
                                 url,
                                 "--eevidence-allow-private",
                                 "1",
                                 "--eevidence-outbox-interval-ms",
                                 interval,
                                 "--eevidence-sender-country",
                                 "IE",
                                 "--eevidence-sender-id",
                                 "example-platform",
                                 NULL};
    api_server_start(&S.srv, S.dir, flags);
    snprintf(S.keys[ADMIN], sizeof S.keys[ADMIN], "%s", S.srv.admin);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    create_keys();
    crypto_sign_keypair(S.sta_pk, S.sta_sk);
    crypto_sign_keypair(S.ap_pk, S.ap_sk);
    crypto_sign_keypair(S.nca_pk, S.nca_sk);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    if (S.peer)
        MHD_stop_daemon(S.peer);
    pthread_mutex_lock(&P.lock);
    for (int i = 0; i < P.n; i++)
        free(P.body[i]);
    P.n = 0;
    pthread_mutex_unlock(&P.lock);
    curl_global_cleanup();
    return 0;
}

static json_t *get_order(const char *id, int key)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/evidence-orders/%s?purpose=test%%20review", id);
    return api_call(&S.srv, 200, "GET", path, S.keys[key], NULL);
}

/* The messages of order as its issuing authority (key) fetches them: the first of kind whose
 * text contains needle (NULL: any), or a failure. Returns the message object (decref it). */
static json_t *authority_message(const char *order, int key, const char *kind, const char *needle)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/messages", order);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[key], NULL);
    json_t *list = json_object_get(j, "messages"), *found = NULL;
    for (size_t i = 0; !found && i < json_array_size(list); i++) {
        json_t *m = json_array_get(list, i);
        char *text = json_dumps(json_object_get(m, "message"), JSON_COMPACT);
        if (strcmp(api_jstr(m, "kind"), kind) == 0 && (!needle || (text && strstr(text, needle))))
            found = json_incref(m);
        free(text);
    }
    json_decref(j);
    if (!found)
        fail_msg("%s: no %s message with '%s'", order, kind, needle ? needle : "");
    return found;
}

/* ---- tests ---- */

/* Authorities (the issuing prosecutor, the operator's access point), the platform's webhook. */
static void test_setup(void **state)
{
    (void)state;
    register_authority("Staatsanwaltschaft Berlin", "evidence", "DE", S.sta_pk, STA);
    register_authority("e-CODEX access point", "evidence", "IE", S.ap_pk, GATEWAY);
    /* The issuer of tests/data/eevidence/preservation.xml (its key not used here). */
    register_authority("Juge d'instruction, Tribunal judiciaire de Paris", "evidence", "FR",
                       S.nca_pk, -1);
    unsigned port = MHD_get_daemon_info(S.peer, MHD_DAEMON_INFO_BIND_PORT)->port;
    char body[512];
    snprintf(
        body, sizeof body,
        "{\"url\": \"http://127.0.0.1:%u/platform\", \"secret\": \"platform-secret-0123456789\", "
        "\"events\": [\"evidence.collect\"]}",
        port);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/webhooks", S.keys[ADMIN], body));
}

/* Signed JSON intake: the receipt gives the id and every deadline; refusals name the member. */
static void test_intake(void **state)
{
    (void)state;
    char body[8192];
    epoc_doc(body, sizeof body, "StA-2026-1000", "public_prosecutor", 1,
             "\"subscriber\", \"content\"");
    int64_t before = api_wall_ms();
    json_t *j = send_signed(201, "/v1/evidence-orders", STA, S.sta_sk, body, NULL);
    snprintf(S.order, sizeof S.order, "%s", api_jstr(j, "id"));
    assert_int_equal(strncmp(S.order, "eo-", 3), 0);
    assert_string_equal(api_jstr(j, "state"), "collecting");
    assert_string_equal(api_jstr(j, "framework"), "eu_epoc");
    const char *due = json_string_value(json_object_get(json_object_get(j, "deadlines"), "due"));
    assert_non_null(due);
    int64_t due_ms = td_order_time_parse(due, strlen(due));
    assert_true(due_ms >= before + 10 * DAY_MS - 1000 && due_ms <= api_wall_ms() + 10 * DAY_MS);
    json_decref(j);

    /* The same bytes again: the same order. */
    j = send_signed(200, "/v1/evidence-orders", STA, S.sta_sk, body, NULL);
    assert_string_equal(api_jstr(j, "id"), S.order);
    assert_true(json_is_true(json_object_get(j, "duplicate")));
    json_decref(j);

    /* Unsigned, signed by someone else, sent with another role's key. */
    api_expect_error(&S.srv, 401, "unsigned", "POST", "/v1/evidence-orders", S.keys[STA], body);
    char sig[200];
    api_sign_header(S.nca_sk, body, strlen(body), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 401, "bad_signature", NULL, "POST", "/v1/evidence-orders",
                        S.keys[STA], body, strlen(body), sig);
    api_sign_header(S.sta_sk, body, strlen(body), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 403, "forbidden", NULL, "POST", "/v1/evidence-orders",
                        S.keys[LEGAL1], body, strlen(body), sig);

    /* A member missing, one wrong, one unknown: 422 naming section and member. */
    char bad[8192];
    epoc_doc(bad, sizeof bad, "StA-2026-2", "public_prosecutor", 1, "\"subscriber\", \"dna\"");
    api_sign_header(S.sta_sk, bad, strlen(bad), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 422, "invalid_field", "F.data_categories[1]", "POST",
                        "/v1/evidence-orders", S.keys[STA], bad, strlen(bad), sig);
    epoc_doc(bad, sizeof bad, "StA-2026-3", "public_prosecutor", 1, "\"subscriber\"");
    char *k = strstr(bad, "\"K\": {");
    assert_non_null(k);
    memcpy(k, "\"Q\"", 3);
    api_sign_header(S.sta_sk, bad, strlen(bad), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 422, "unknown_field", "Q", "POST", "/v1/evidence-orders",
                        S.keys[STA], bad, strlen(bad), sig);
}

/* Traffic or content data without a judge: recorded and answered invalid_issuing_authority,
 * nothing collected; the authority fetches the non-execution message (its order came as JSON),
 * which is then sent. */
static void test_judge_rule(void **state)
{
    (void)state;
    char body[8192];
    epoc_doc(body, sizeof body, "StA-2026-77", "public_prosecutor", 0, "\"content\"");
    json_t *j = send_signed(201, "/v1/evidence-orders", STA, S.sta_sk, body, NULL);
    assert_string_equal(api_jstr(j, "state"), "not_executed");
    assert_string_equal(api_jstr(j, "reason"), "invalid_issuing_authority");
    char id[32];
    snprintf(id, sizeof id, "%s", api_jstr(j, "id"));
    json_decref(j);
    json_t *m = authority_message(id, STA, "non_execution", "invalid_issuing_authority");
    json_decref(m);
    m = authority_message(id, STA, "non_execution", NULL);
    assert_string_equal(api_jstr(m, "state"), "sent");
    json_decref(m);
    /* Another authority does not see it. */
    char path[160];
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/messages", id);
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[GATEWAY], NULL);
}

/* The collect webhook; the platform's data: out of scope refused whole, then sealed. */
static void test_collect_and_data(void **state)
{
    (void)state;
    char *hook = wait_post("/platform", "evidence.collect", S.order, NULL);
    json_t *ev = json_loads(hook, 0, NULL);
    free(hook);
    assert_non_null(ev);
    json_t *data = json_object_get(ev, "data");
    if (!data)
        data = ev;
    assert_string_equal(api_jstr(data, "order"), S.order);
    assert_int_equal(json_array_size(json_object_get(data, "identifiers")), 2);
    json_decref(ev);

    char path[128], body[2048], at[32], old[32];
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/data", S.order);
    time_text(api_wall_ms() - 3 * DAY_MS, at);
    time_text(api_wall_ms() - 90 * DAY_MS, old);
    /* Traffic data was not asked for. */
    snprintf(body, sizeof body,
             "{\"records\": [{\"category\": \"subscriber\", \"fields\": {\"name\": \"A. User\"}},"
             " {\"category\": \"traffic\", \"identifier\": \"u-1234\", \"at\": \"%s\"}]}",
             at);
    api_expect_error(&S.srv, 422, NULL, "PUT", path, S.keys[PLATFORM], body);
    /* Content from before the time range. */
    snprintf(body, sizeof body,
             "{\"records\": [{\"category\": \"content\", \"identifier\": \"u-1234\", \"at\": "
             "\"%s\", \"content_base64\": \"aGVsbG8=\", \"content_type\": \"text/plain\"}]}",
             old);
    api_expect_error(&S.srv, 422, NULL, "PUT", path, S.keys[PLATFORM], body);
    /* A member the route does not know. */
    api_expect_error(&S.srv, 400, "unknown_field", "PUT", path, S.keys[PLATFORM],
                     "{\"records\": [], \"note\": 1}");
    json_t *o = get_order(S.order, LEGAL1);
    assert_int_equal(api_jint(o, "records"), 0);
    json_decref(o);

    /* In scope: sealed. */
    snprintf(body, sizeof body,
             "{\"records\": [{\"category\": \"subscriber\", \"identifier\": \"u-1234\", "
             "\"fields\": {\"name\": \"A. User\", \"contact\": \"a@user.example\"}},"
             " {\"category\": \"content\", \"identifier\": \"u-1234\", \"at\": \"%s\", "
             "\"content_base64\": \"cHJvcGFnYW5kYSBwb3N0IDQy\", \"content_type\": "
             "\"text/plain\"}]}",
             at);
    json_t *j = api_call(&S.srv, 200, "PUT", path, S.keys[PLATFORM], body);
    assert_int_equal(api_jint(j, "sealed"), 2);
    assert_string_equal(api_jstr(j, "state"), "preserved");
    json_decref(j);
    o = get_order(S.order, LEGAL1);
    assert_string_equal(api_jstr(o, "state"), "preserved");
    assert_int_equal(api_jint(o, "records"), 2);
    json_decref(o);
    /* The data-preserved message, for the authority to fetch. */
    json_decref(authority_message(S.order, STA, "data_preserved", "content"));
}

/* Only legal officers and admins read, each read with a purpose. */
static void test_confidentiality(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "/v1/evidence-orders/%s?purpose=x", S.order);
    api_expect_error(&S.srv, 403, "forbidden", "GET", path, S.keys[MODERATOR], NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", path, S.keys[AUDITOR], NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", path, S.keys[PLATFORM], NULL);
    api_expect_error(&S.srv, 403, "forbidden", "GET", path, S.keys[STA], NULL);
    snprintf(path, sizeof path, "/v1/evidence-orders/%s", S.order);
    api_expect_error(&S.srv, 400, "missing_purpose", "GET", path, S.keys[LEGAL1], NULL);
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/evidence-orders?open=1&purpose=daily%20review",
                         S.keys[ADMIN], NULL);
    assert_true(json_array_size(json_object_get(j, "orders")) >= 1);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/records?purpose=check%%20scope", S.order);
    j = api_call(&S.srv, 200, "GET", path, S.keys[LEGAL2], NULL);
    json_t *recs = json_object_get(j, "records");
    assert_int_equal(json_array_size(recs), 2);
    /* The content record's digest is the SHA-256 of the bytes the platform sent. */
    unsigned char d[32];
    static const char content[] = "propaganda post 42";
    crypto_hash_sha256(d, (const unsigned char *)content, strlen(content));
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    int found = 0;
    for (size_t i = 0; i < json_array_size(recs); i++)
        found |= strcmp(api_jstr(json_array_get(recs, i), "sha256"), hex) == 0;
    assert_true(found);
    json_decref(j);
}

/* Two legal officers, two custodians, the delivery; the authority fetches its package and opens
 * it offline; a tampered copy is refused. */
static void test_approve_and_deliver(void **state)
{
    (void)state;
    char path[160], body[512];
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/delivery", S.order);
    api_expect_error(&S.srv, 409, "conflict", "POST", path, S.keys[LEGAL1], NULL);
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/approvals", S.order);
    api_expect_error(&S.srv, 403, "forbidden", "POST", path, S.keys[ADMIN], "{}");
    json_t *j = api_call(&S.srv, 200, "POST", path, S.keys[LEGAL1], "{\"note\": \"in scope\"}");
    assert_int_equal(api_jint(j, "approvals"), 1);
    assert_int_equal(api_jint(j, "needed"), 2);
    assert_true(json_is_false(json_object_get(j, "complete")));
    json_decref(j);
    api_expect_error(&S.srv, 409, "conflict", "POST", path, S.keys[LEGAL1], "{}");
    j = api_call(&S.srv, 200, "POST", path, S.keys[LEGAL2], "{}");
    assert_true(json_is_true(json_object_get(j, "complete")));
    long long request = api_jint(j, "release_request");
    assert_true(request > 0);
    json_decref(j);
    /* Approved but not by custodians yet. */
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/delivery", S.order);
    api_expect_error(&S.srv, 409, "conflict", "POST", path, S.keys[LEGAL1], NULL);
    const int custodians[2] = {ALICE, BOB};
    for (int i = 0; i < 2; i++) {
        char p2[96];
        snprintf(p2, sizeof p2, "/v1/evidence/releases/%lld/approvals", request);
        snprintf(body, sizeof body, "{\"share\": \"%s\"}", S.shares[i]);
        json_decref(api_call(&S.srv, 200, "POST", p2, S.keys[custodians[i]], body));
    }
    j = api_call(&S.srv, 200, "POST", path, S.keys[LEGAL1], NULL);
    assert_int_equal(api_jint(j, "records"), 2);
    const char *sha = api_jstr(json_object_get(j, "package"), "sha256");
    char package_sha[65];
    snprintf(package_sha, sizeof package_sha, "%s", sha);
    json_decref(j);
    /* The outcome message names the package's digest. */
    json_decref(authority_message(S.order, STA, "outcome", package_sha));

    /* The issuing authority fetches the package; nobody else's authority key does. */
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/package", S.order);
    api_resp resp;
    assert_int_equal(api_http(&S.srv, "GET", path, S.keys[STA], NULL, &resp), 200);
    unsigned char d[32];
    crypto_hash_sha256(d, (const unsigned char *)resp.body, resp.len);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    assert_string_equal(hex, package_sha);
    char pkg[4200], outdir[4200], bad_pkg[4200], bad_dir[4200];
    snprintf(pkg, sizeof pkg, "%s/delivered.tdpkg", S.dir);
    snprintf(outdir, sizeof outdir, "%s/opened", S.dir);
    snprintf(bad_pkg, sizeof bad_pkg, "%s/tampered.tdpkg", S.dir);
    snprintf(bad_dir, sizeof bad_dir, "%s/opened-tampered", S.dir);
    FILE *f = fopen(pkg, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(resp.body, 1, resp.len, f), resp.len);
    fclose(f);
    resp.body[resp.len / 2] ^= 0x20;
    f = fopen(bad_pkg, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(resp.body, 1, resp.len, f), resp.len);
    fclose(f);
    api_resp_free(&resp);
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[GATEWAY], NULL);

    /* The service's delivery key, public. */
    j = api_call(&S.srv, 200, "GET", "/v1/evidence-delivery-key", NULL, NULL);
    char signer[65];
    snprintf(signer, sizeof signer, "%s", api_jstr(j, "public_key"));
    json_decref(j);

    char cmd[20000], out[16384];
    snprintf(cmd, sizeof cmd, "'%s' evidence open --key '%s' --signer %s '%s' '%s' 2>&1",
             TD_CLI_PATH, S.recipient_key, signer, pkg, outdir);
    if (run_capture(cmd, out, sizeof out) != 0)
        fail_msg("evidence open failed: %s", out);
    assert_non_null(strstr(out, "signature verified"));
    assert_non_null(strstr(out, S.order));
    /* The content record decrypted to the bytes the platform sent. */
    char rdir[4300];
    snprintf(rdir, sizeof rdir, "%s/records", outdir);
    DIR *dp = opendir(rdir);
    assert_non_null(dp);
    int found = 0;
    for (struct dirent *de; (de = readdir(dp));) {
        if (de->d_name[0] == '.')
            continue;
        char fp[4600];
        size_t len = 0;
        snprintf(fp, sizeof fp, "%s/%s", rdir, de->d_name);
        char *b = read_file(fp, &len);
        found |= b && len == 18 && memcmp(b, "propaganda post 42", 18) == 0;
        free(b);
    }
    closedir(dp);
    assert_true(found);
    snprintf(cmd, sizeof cmd, "'%s' evidence open --key '%s' --signer %s '%s' '%s' 2>&1",
             TD_CLI_PATH, S.recipient_key, signer, bad_pkg, bad_dir);
    assert_int_not_equal(run_capture(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "REFUSED"));
    /* ... and nothing of it is left behind (docs/evidence-orders.md, step 6). */
    char leftover[4300];
    snprintf(leftover, sizeof leftover, "%s/records", bad_dir);
    struct stat sb;
    assert_int_not_equal(stat(leftover, &sb), 0);
    snprintf(leftover, sizeof leftover, "%s/manifest.json", bad_dir);
    assert_int_not_equal(stat(leftover, &sb), 0);

    json_t *o = get_order(S.order, LEGAL1);
    assert_string_equal(api_jstr(o, "state"), "delivered");
    json_decref(o);
}

/* The JSON document of tests/data/eevidence/production.xml (docs/evidence-orders.md's example). */
static const char production_json[] =
    "{\"framework\": \"eu_epoc\","
    " \"A\": {\"issuing_state\": \"DE\", \"issuing_authority\": {\"name\": "
    "\"Staatsanwaltschaft Berlin\", \"type\": \"public_prosecutor\", \"file_number\": "
    "\"StA-2026-1234\"}, \"validating_authority\": {\"name\": \"Amtsgericht Tiergarten\", "
    "\"type\": \"judge_or_court\", \"file_number\": \"AG-352-Gs-77/26\"},"
    " \"issued_at\": \"2026-12-01T09:00:00Z\"},"
    " \"B\": {\"addressee\": \"Example Platform Ltd\", \"establishment\": "
    "\"designated_establishment\", \"member_state\": \"IE\"},"
    " \"C\": {\"deadline\": \"ten_days_asap\"},"
    " \"D\": {\"earlier_order\": {\"framework\": \"eu_epoc_pr\", \"reference\": "
    "\"StA-2026-1200\"}},"
    " \"E\": {\"identifiers\": [{\"type\": \"user_id\", \"value\": \"u-1234\"},"
    " {\"type\": \"ipv4\", \"value\": \"203.0.113.7\", \"port\": 51234, \"at\": "
    "\"2026-11-20T10:00:00Z\"}],"
    " \"time_range\": {\"from\": \"2026-11-01T00:00:00Z\", \"to\": \"2026-11-30T23:59:59Z\"}},"
    " \"F\": {\"data_categories\": [\"subscriber\", \"identification\", \"traffic\", "
    "\"content\"]},"
    " \"G\": {\"offence\": \"Participation in a terrorist group\", \"legal_classification\": "
    "\"\u00a7 129a StGB\", \"max_penalty_years\": 10, \"listed_terrorism\": true,"
    " \"summary\": \"The account distributes propaganda of a listed group.\"},"
    " \"H\": {\"user_information\": \"restricted\"},"
    " \"K\": {\"contact\": {\"name\": \"Execution desk\", \"email\": \"exec@sta.example\","
    " \"phone\": \"+49 30 99\"}},"
    " \"L\": {\"recipient\": \"Staatsanwaltschaft Berlin\", \"member_state\": \"DE\","
    " \"x25519_public_key\": "
    "\"8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f\"},"
    " \"language\": \"de\"}";

/* The same order as XML on /eevidence/production and as JSON gives one case with the XML's
 * content; events arrive as XML too; hostile XML is answered 400 and the server keeps serving. */
static void test_xml_transport(void **state)
{
    (void)state;
    char *xml = xml_sample("production.xml");
    /* Unsigned by the access point: refused. */
    api_request rq = {.method = "POST",
                      .path = "/eevidence/production",
                      .key = S.keys[GATEWAY],
                      .ctype = "application/xml",
                      .body = xml,
                      .len = -1};
    api_expect_error_req(&S.srv, 401, "unsigned", NULL, &rq);
    json_t *j = send_signed(201, "/eevidence/production", GATEWAY, S.ap_sk, xml, "application/xml");
    char xml_order[32];
    snprintf(xml_order, sizeof xml_order, "%s", api_jstr(j, "id"));
    assert_string_equal(api_jstr(j, "framework"), "eu_epoc");
    json_decref(j);
    /* The same message again: the same order. */
    j = send_signed(200, "/eevidence/production", GATEWAY, S.ap_sk, xml, "application/xml");
    assert_string_equal(api_jstr(j, "id"), xml_order);
    json_decref(j);
    free(xml);
    /* The same certificate as JSON from the authority: the same case. */
    j = send_signed(200, "/v1/evidence-orders", STA, S.sta_sk, production_json, NULL);
    assert_string_equal(api_jstr(j, "id"), xml_order);
    assert_true(json_is_true(json_object_get(j, "duplicate")));
    json_decref(j);
    /* What the XML carried, read back as the JSON says. */
    json_t *o = get_order(xml_order, LEGAL1);
    assert_string_equal(api_jstr(o, "framework"), "eu_epoc");
    assert_string_equal(api_jstr(o, "state"), "collecting");
    assert_string_equal(api_jstr(o, "ext_id"), "5f0c2a8e-3b1d-4c7a-9e2f-6a1b0c9d8e7f");
    assert_string_equal(api_jstr(o, "reference"), "StA-2026-1234");
    assert_string_equal(api_jstr(o, "deadline_class"), "ten_days_asap");
    assert_int_equal(json_array_size(json_object_get(o, "categories")), 4);
    assert_int_equal(json_array_size(json_object_get(o, "subscriber")), 7);
    json_t *ids = json_object_get(o, "identifiers");
    assert_int_equal(json_array_size(ids), 2);
    assert_string_equal(api_jstr(json_array_get(ids, 1), "value"), "203.0.113.7");
    assert_int_equal(api_jint(json_array_get(ids, 1), "port"), 51234);
    assert_string_equal(api_jstr(json_object_get(o, "time_range"), "from"),
                        "2026-11-01T00:00:00.000Z");
    assert_string_equal(api_jstr(json_object_get(o, "recipient"), "x25519_public_key"),
                        "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f");
    assert_string_equal(api_jstr(json_object_get(o, "validating_authority"), "type"),
                        "judge_or_court");
    json_decref(o);

    /* The platform answers the collect webhook; the data-preserved message goes to the access
     * point as an HI1Message answering the order's tasks. */
    char *hook = wait_post("/platform", "evidence.collect", xml_order, NULL);
    free(hook);
    char path[160], body[1024];
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/data", xml_order);
    snprintf(body, sizeof body,
             "{\"records\": [{\"category\": \"subscriber\", \"identifier\": \"u-1234\", "
             "\"fields\": {\"name\": \"A. User\"}}, {\"category\": \"traffic\", "
             "\"identifier\": \"203.0.113.7\", \"at\": \"2026-11-20T10:00:00Z\", "
             "\"fields\": {\"login\": \"2026-11-20T10:00:00Z\"}}]}");
    json_decref(api_call(&S.srv, 200, "PUT", path, S.keys[PLATFORM], body));
    char *xml_out = wait_post("/access-point", "HI1Message", "DataPreserved",
                              "5f0c2a8e-3b1d-4c7a-9e2f-6a1b0c9d8e7f", NULL);
    /* What was sent reads back with the transport's own parser. */
    assert_non_null(strstr(xml_out, "Preserved"));
    free(xml_out);

    /* The issuing side's other messages on the production order, as XML: a new deadline, a
     * request for information, the enforcing state's partial grounds. */
    static const struct {
        const char *file, *endpoint;
    } events[] = {{"newdeadline.xml", "/eevidence/newdeadline"},
                  {"correspondence.xml", "/eevidence/correspondence"},
                  {"groundsforrefusal.xml", "/eevidence/groundsforrefusal"}};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        char *x = xml_sample(events[i].file);
        json_t *ev = send_signed(200, events[i].endpoint, GATEWAY, S.ap_sk, x, "application/xml");
        assert_string_equal(api_jstr(ev, "id"), xml_order);
        json_decref(ev);
        free(x);
    }
    o = get_order(xml_order, LEGAL1);
    assert_string_equal(api_jstr(o, "grounds"), "partial");
    assert_true(json_array_size(json_object_get(o, "grounds_blocked")) >= 1);
    json_decref(o);

    /* Our Annex III answer pauses it; the information the authority then provides (as XML)
     * restarts its clock. */
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/cannot-comply", xml_order);
    o = api_call(&S.srv, 200, "POST", path, S.keys[LEGAL1],
                 "{\"reason\": \"insufficient_information\", \"explanation\": \"Which "
                 "account?\"}");
    assert_string_equal(api_jstr(o, "state"), "paused");
    json_decref(o);
    char *corr = xml_sample("correspondence.xml");
    char *type = strstr(corr, "RequestAdditionalInformation");
    assert_non_null(type);
    memcpy(type, "ProvideAdditionalInformation", strlen("ProvideAdditionalInformation"));
    o = send_signed(200, "/eevidence/correspondence", GATEWAY, S.ap_sk, corr, "application/xml");
    assert_string_not_equal(api_jstr(o, "state"), "paused");
    assert_false(json_is_null(json_object_get(json_object_get(o, "deadlines"), "due")));
    json_decref(o);
    free(corr);

    /* A preservation order as XML, extended, followed by a production, ended. */
    xml = xml_sample("preservation.xml");
    j = send_signed(201, "/eevidence/preservation", GATEWAY, S.ap_sk, xml, "application/xml");
    char pr_order[32];
    snprintf(pr_order, sizeof pr_order, "%s", api_jstr(j, "id"));
    assert_string_equal(api_jstr(j, "framework"), "eu_epoc_pr");
    assert_false(json_is_null(json_object_get(json_object_get(j, "deadlines"), "preserve_until")));
    json_decref(j);
    free(xml);
    static const struct {
        const char *file, *endpoint;
    } pr_events[] = {{"preservationextension.xml", "/eevidence/preservationextension"},
                     {"subsequentproduction.xml", "/eevidence/subsequentproduction"},
                     {"endpreservation.xml", "/eevidence/endpreservation"}};
    for (size_t i = 0; i < sizeof pr_events / sizeof pr_events[0]; i++) {
        char *x = xml_sample(pr_events[i].file);
        json_t *ev =
            send_signed(200, pr_events[i].endpoint, GATEWAY, S.ap_sk, x, "application/xml");
        assert_string_equal(api_jstr(ev, "id"), pr_order);
        if (i == 0)
            assert_true(json_is_true(json_object_get(ev, "extended")));
        if (i == 1)
            assert_true(json_is_true(json_object_get(ev, "production_pending")));
        if (i == 2)
            assert_string_equal(api_jstr(ev, "state"), "ended");
        json_decref(ev);
        free(x);
    }

    /* A withdrawal as XML cancels it. */
    xml = xml_sample("withdraw.xml");
    j = send_signed(200, "/eevidence/withdraw", GATEWAY, S.ap_sk, xml, "application/xml");
    assert_string_equal(api_jstr(j, "state"), "withdrawn");
    json_decref(j);
    free(xml);

    /* Hostile XML. */
    static const char *const hostile[] = {
        "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b "
        "\"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
        "<HI1Message>&c;</HI1Message>",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
        "<HI1Message>&e;</HI1Message>",
        "<HI1Message><Header>",
        "not xml at all",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        char sig[200];
        api_sign_header(S.ap_sk, hostile[i], strlen(hostile[i]), sig, sizeof sig);
        api_request h = {.method = "POST",
                         .path = "/eevidence/production",
                         .key = S.keys[GATEWAY],
                         .ctype = "application/xml",
                         .body = hostile[i],
                         .len = -1,
                         .extra = sig};
        api_expect_error_req(&S.srv, 400, "invalid_xml", NULL, &h);
    }
    /* Deep nesting. */
    size_t depth = 5000, n = 0;
    char *deep = malloc(depth * 7 + 64);
    assert_non_null(deep);
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(deep + n, "<a>");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(deep + n, "</a>");
    char sig[200];
    api_sign_header(S.ap_sk, deep, n, sig, sizeof sig);
    api_request h = {.method = "POST",
                     .path = "/eevidence/production",
                     .key = S.keys[GATEWAY],
                     .ctype = "application/xml",
                     .body = deep,
                     .len = (long)n,
                     .extra = sig};
    api_resp resp;
    long st = api_send(&S.srv, &h, &resp);
    assert_true(st == 400 || st == 413);
    api_resp_free(&resp);
    free(deep);
    json_decref(api_call(&S.srv, 200, "GET", "/healthz", NULL, NULL));
    api_expect_error(&S.srv, 404, "not_found", "POST", "/eevidence/nosuchthing", S.keys[GATEWAY],
                     "<x/>");
}

/* Cannot comply pauses the clock; a clarification from the authority restarts it. A UK OPO
 * served more than three months after it was made is refused. */
static void test_cannot_comply_and_opo(void **state)
{
    (void)state;
    char body[8192], path[160];
    epoc_doc(body, sizeof body, "StA-2026-555", "public_prosecutor", 1, "\"subscriber\"");
    json_t *j = send_signed(201, "/v1/evidence-orders", STA, S.sta_sk, body, NULL);
    char id[32];
    snprintf(id, sizeof id, "%s", api_jstr(j, "id"));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/cannot-comply", id);
    api_expect_error(&S.srv, 400, "unknown_field", "POST", path, S.keys[LEGAL1],
                     "{\"reason\": \"data_not_held\", \"explanation\": \"x\", \"extra\": 1}");
    api_expect_error(&S.srv, 400, NULL, "POST", path, S.keys[LEGAL1],
                     "{\"reason\": \"conflict_of_law\", \"explanation\": \"x\"}");
    j = api_call(&S.srv, 200, "POST", path, S.keys[LEGAL1],
                 "{\"reason\": \"insufficient_information\", \"explanation\": \"The user id "
                 "does not exist; please give the account name.\"}");
    assert_string_equal(api_jstr(j, "state"), "paused");
    assert_true(json_is_null(json_object_get(json_object_get(j, "deadlines"), "due")));
    json_decref(j);
    json_decref(authority_message(id, STA, "non_execution", "insufficient_information"));
    /* The list shows the hold without a read of the order. */
    j = api_call(&S.srv, 200, "GET", "/v1/evidence-orders?open=1&purpose=holds", S.keys[LEGAL1],
                 NULL);
    json_t *listed = NULL, *orders = json_object_get(j, "orders");
    for (size_t i = 0; !listed && i < json_array_size(orders); i++)
        if (strcmp(api_jstr(json_array_get(orders, i), "id"), id) == 0)
            listed = json_array_get(orders, i);
    assert_non_null(listed);
    assert_string_equal(api_jstr(listed, "state"), "paused");
    assert_true(json_is_string(json_object_get(listed, "paused_at")));
    assert_true(json_is_array(json_object_get(listed, "grounds_blocked")));
    assert_true(json_is_false(json_object_get(listed, "restricted")));
    assert_true(json_is_false(json_object_get(listed, "production_pending")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/evidence-orders/%s/events", id);
    api_expect_error(&S.srv, 403, "forbidden", "POST", path, S.keys[LEGAL1],
                     "{\"action\": \"clarification\"}");
    j = api_call(&S.srv, 200, "POST", path, S.keys[STA],
                 "{\"action\": \"clarification\", \"text\": \"The account name is user1234.\"}");
    assert_string_not_equal(api_jstr(j, "state"), "paused");
    assert_false(json_is_null(json_object_get(json_object_get(j, "deadlines"), "due")));
    json_decref(j);

    /* A UK OPO made four months before it was served. */
    register_authority("Crown Court at Southwark", "third_country", "GB", S.nca_pk, UKC);
    char made[32], served[32];
    time_text(api_wall_ms() - 125 * DAY_MS, made);
    time_text(api_wall_ms() - DAY_MS, served);
    epoc_doc(body, sizeof body, "T2026-0001", "judge_or_court", 0, "\"subscriber\"");
    /* Turn the EPOC into an OPO: framework, state, authority, period, no section C deadline. */
    char opo[8192];
    const char *a = strstr(body, "\"A\"");
    const char *e = strstr(body, "\"E\"");
    assert_non_null(a);
    assert_non_null(e);
    snprintf(opo, sizeof opo,
             "{\"framework\": \"uk_opo\", \"A\": {\"issuing_state\": \"GB\", "
             "\"issuing_authority\": {\"name\": \"Crown Court at Southwark\", \"type\": "
             "\"judge_or_court\", \"file_number\": \"T2026-0001\"}, \"issued_at\": \"%s\", "
             "\"served_at\": \"%s\"}, \"B\": {\"addressee\": \"Example Platform Ltd\", "
             "\"establishment\": \"legal_representative\"}, \"C\": "
             "{\"compliance_period_days\": 7}, %s",
             made, served, e);
    char sig[200];
    api_sign_header(S.nca_sk, opo, strlen(opo), sig, sizeof sig);
    api_expect_error_ex(&S.srv, 422, "lapsed", NULL, "POST", "/v1/evidence-orders", S.keys[UKC],
                        opo, strlen(opo), sig);
}

/* The figures: /metrics and the report. */
static void test_figures(void **state)
{
    (void)state;
    api_resp resp;
    assert_int_equal(api_http(&S.srv, "GET", "/metrics", NULL, NULL, &resp), 200);
    assert_non_null(strstr(resp.body, "takedown_eorders{state=\"delivered\"} 1"));
    assert_non_null(strstr(resp.body, "takedown_eorders{state=\"not_executed\"} 1"));
    assert_non_null(strstr(resp.body, "takedown_eorder_breaches_total 0"));
    api_resp_free(&resp);
    char from[32], to[32], path[160];
    time_text(api_wall_ms() - DAY_MS, from);
    time_text(api_wall_ms() + DAY_MS, to);
    snprintf(path, sizeof path, "/v1/reports/evidence-orders?from=%s&to=%s", from, to);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    json_t *eo = json_object_get(j, "evidence_orders");
    assert_int_equal(api_jint(eo, "delivered"), 1);
    assert_int_equal(api_jint(eo, "breaches"), 0);
    assert_true(api_jint(json_object_get(eo, "received"), "total") >= 4);
    json_decref(j);
    /* The same figures in the transparency report of the period. */
    snprintf(path, sizeof path, "/v1/reports/transparency?from=%s&to=%s", from, to);
    j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    eo = json_object_get(j, "evidence_orders");
    assert_int_equal(api_jint(eo, "delivered"), 1);
    assert_int_equal(api_jint(eo, "breaches"), 0);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup),           cmocka_unit_test(test_intake),
        cmocka_unit_test(test_judge_rule),      cmocka_unit_test(test_collect_and_data),
        cmocka_unit_test(test_confidentiality), cmocka_unit_test(test_approve_and_deliver),
        cmocka_unit_test(test_xml_transport),   cmocka_unit_test(test_cannot_comply_and_opo),
        cmocka_unit_test(test_figures),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
