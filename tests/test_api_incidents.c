/* Incident mode over HTTP (docs/incidents.md) on the real `takedown serve`: every command of the
 * page replayed on a fresh server and its answer compared with the one shown; roles; refusals
 * naming the member at fault; a signal added by hand meeting the filter blocking an upload
 * (POST /v1/check) and async intake (POST /v1/content, with the platform's remove event) at
 * once, the match naming the incident; the webhook event "incident" arriving at a receiver in
 * the test when the incident opens, for the new signals and when it closes; the live figures;
 * the after-action report as JSON and Markdown with the numbers the test expects. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "support/api_client.h"
#include "support/doc_replay.h"
#include "support/support.h"

#define DIH "threatexchange/pdq/data/reg-test-input/dih/"
#define MAX_HOOKED 256

enum { ADMIN, MODERATOR, AUDITOR, PLATFORM, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin", "moderator", "auditor", "platform"};

static struct {
    char dir[4096];
    api_server srv;
    char keys[N_KEYS][128];
    struct MHD_Daemon *hooks;
    unsigned hook_port;
} S;

/* ---- the peer's and the platform's webhook receiver ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
    char path[MAX_HOOKED][32];
    char *body[MAX_HOOKED];
    double at[MAX_HOOKED];
} W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}, {0}, {0}};

typedef struct hook_req {
    char *body;
    size_t len, cap;
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
    pthread_mutex_lock(&W.lock);
    if (W.n < MAX_HOOKED) {
        snprintf(W.path[W.n], sizeof W.path[0], "%s", url);
        W.body[W.n] = h->body ? h->body : strdup("");
        W.at[W.n] = api_now_s();
        h->body = NULL;
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
    hook_req *h = *ctx;
    if (h)
        free(h->body);
    free(h);
    *ctx = NULL;
}

/* Waits up to 20 s for a POST to path whose body holds every NULL-terminated needle; returns
 * the parsed body (decref it) and, in *at (may be NULL), when it arrived. */
static json_t *wait_hook(const char *path, double *at, ...)
{
    const char *needles[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, at);
    for (const char *s; n < 8 && (s = va_arg(ap, const char *));)
        needles[n++] = s;
    va_end(ap);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&W.lock);
    for (;;) {
        for (int i = 0; i < W.n; i++) {
            int all = strcmp(W.path[i], path) == 0;
            for (size_t k = 0; all && k < n; k++)
                all = strstr(W.body[i], needles[k]) != NULL;
            if (all) {
                json_t *j = json_loads(W.body[i], 0, NULL);
                if (at)
                    *at = W.at[i];
                pthread_mutex_unlock(&W.lock);
                assert_non_null(j);
                return j;
            }
        }
        if (pthread_cond_timedwait(&W.cond, &W.lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&W.lock);
    fail_msg("no POST to %s with '%s' within 20 s", path, n ? needles[0] : "");
    return NULL;
}

/* POSTs to path whose body holds needle. */
static int hooked(const char *path, const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&W.lock);
    for (int i = 0; i < W.n; i++)
        n += strcmp(W.path[i], path) == 0 && strstr(W.body[i], needle) != NULL;
    pthread_mutex_unlock(&W.lock);
    return n;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    static const char *const flags[] = {"--webhook-allow-private", "1", "--webhook-backoff-base-ms",
                                        "100", NULL};
    if (api_group_init(S.dir, sizeof S.dir, "api-incidents-data") != 0)
        return -1;
    api_server_start(&S.srv, S.dir, flags);
    snprintf(S.keys[ADMIN], sizeof S.keys[ADMIN], "%s", S.srv.admin);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    for (int i = 1; i < N_KEYS; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"%s-key\"}", key_roles[i],
                 key_roles[i]);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.keys[ADMIN], body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", api_jstr(j, "key"));
        json_decref(j);
    }
    S.hooks = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_hook, NULL,
                               MHD_OPTION_NOTIFY_COMPLETED, on_hook_done, NULL, MHD_OPTION_END);
    if (!S.hooks)
        return -1;
    S.hook_port = MHD_get_daemon_info(S.hooks, MHD_DAEMON_INFO_BIND_PORT)->port;
    /* A subscribed peer (the incident event) and the platform (remove). */
    char body[256];
    snprintf(body, sizeof body,
             "{\"url\": \"http://127.0.0.1:%u/peer\", \"secret\": \"peer-secret-0123456789\","
             " \"events\": [\"incident\"]}",
             S.hook_port);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/webhooks", S.keys[ADMIN], body));
    snprintf(body, sizeof body,
             "{\"url\": \"http://127.0.0.1:%u/platform\", \"secret\": \"platform-secret-0123456\","
             " \"events\": [\"remove\"]}",
             S.hook_port);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/webhooks", S.keys[ADMIN], body));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    if (S.hooks)
        MHD_stop_daemon(S.hooks);
    for (int i = 0; i < W.n; i++)
        free(W.body[i]);
    curl_global_cleanup();
    return 0;
}

static json_t *open_incident(const char *body) /* as the moderator */
{
    return api_call(&S.srv, 201, "POST", "/v1/incidents", S.keys[MODERATOR], body);
}

/* ---- docs/incidents.md ---- */

#define DOC_HOST "http://127.0.0.1:8080"

static struct {
    char incident_id[32];
} V;

static const char *doc_variable(const char *p, size_t *skip, void *ctx)
{
    const struct {
        const char *name, *value;
    } vars[] = {
        {"$ADMIN_KEY", S.keys[ADMIN]},     {"$MODERATOR_KEY", S.keys[MODERATOR]},
        {"$AUDITOR_KEY", S.keys[AUDITOR]}, {"$PLATFORM_KEY", S.keys[PLATFORM]},
        {"$INCIDENT_ID", V.incident_id},
    };
    (void)ctx;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        size_t n = doc_shell_match(p, vars[i].name);
        if (n) {
            if (!vars[i].value[0])
                fail_msg("docs/incidents.md uses %s before an answer gave it", vars[i].name);
            *skip = n;
            return vars[i].value;
        }
    }
    return NULL;
}

/* What later commands use. */
static void doc_after(void *ctx, const char *method, const char *url, long st, json_t *real_j,
                      const char *raw, size_t raw_len)
{
    (void)ctx;
    (void)method;
    (void)raw;
    (void)raw_len;
    if (strcmp(url, "/v1/incidents") == 0 && st == 201 && !V.incident_id[0])
        snprintf(V.incident_id, sizeof V.incident_id, "%lld", (long long)api_jint(real_j, "id"));
}

static void test_doc_examples(void **state)
{
    (void)state;
    doc_replay d = {&S.srv, "docs/incidents.md", DOC_HOST, doc_variable, NULL, doc_after, 1, 0};
    int replayed = doc_replay_page(&d, NULL);
    print_message("replayed %d commands of docs/incidents.md\n", replayed);
    assert_true(replayed >= 7);
    /* The page's incident was closed: its report is there. */
    char path[96];
    snprintf(path, sizeof path, "/v1/incidents/%s", V.incident_id);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    assert_string_equal(api_jstr(j, "state"), "closed");
    json_decref(j);
    /* The page's peer does not exist: its webhook goes, so that its retries take no time from
     * the deliveries the next tests wait for. */
    j = api_call(&S.srv, 200, "GET", "/v1/webhooks", S.keys[ADMIN], NULL);
    json_t *hooks = json_object_get(j, "webhooks");
    int deleted = 0;
    for (size_t i = 0; i < json_array_size(hooks); i++) {
        json_t *h = json_array_get(hooks, i);
        if (strstr(api_jstr(h, "url"), "peer.example.org")) {
            snprintf(path, sizeof path, "/v1/webhooks/%lld", (long long)api_jint(h, "id"));
            json_decref(api_call(&S.srv, 204, "DELETE", path, S.keys[ADMIN], NULL));
            deleted++;
        }
    }
    assert_int_equal(deleted, 1);
    json_decref(j);
}

/* ---- roles and refusals ---- */

static void test_roles(void **state)
{
    (void)state;
    static const char body[] =
        "{\"name\": \"roles\", \"level\": \"incident\", \"filter\": {\"labels\": [\"r:1\"]}}";
    api_expect_error(&S.srv, 403, NULL, "POST", "/v1/incidents", S.keys[PLATFORM], body);
    api_expect_error(&S.srv, 403, NULL, "POST", "/v1/incidents", S.keys[AUDITOR], body);
    api_expect_error(&S.srv, 403, NULL, "GET", "/v1/incidents", S.keys[PLATFORM], NULL);
    api_expect_error(&S.srv, 401, NULL, "GET", "/v1/incidents", NULL, NULL);
    json_t *in = api_call(&S.srv, 201, "POST", "/v1/incidents", S.keys[ADMIN], body);
    assert_string_equal(api_jstr(in, "state"), "open");
    assert_string_equal(api_jstr(in, "enforcement"), "block"); /* the default */
    char path[96], close[128];
    snprintf(path, sizeof path, "/v1/incidents/%lld", (long long)api_jint(in, "id"));
    snprintf(close, sizeof close, "%s/close", path);
    json_decref(in);
    json_decref(api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL));
    json_decref(api_call(&S.srv, 200, "GET", "/v1/incidents?open=1", S.keys[AUDITOR], NULL));
    api_expect_error(&S.srv, 403, NULL, "GET", path, S.keys[PLATFORM], NULL);
    api_expect_error(&S.srv, 403, NULL, "POST", close, S.keys[AUDITOR], NULL);
    api_expect_error(&S.srv, 403, NULL, "POST", close, S.keys[PLATFORM], NULL);
    json_decref(api_call(&S.srv, 200, "POST", close, S.keys[MODERATOR], NULL));
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body, *code, *field;
    } cases[] = {
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": {\"labels\": [\"x\"]}, \"colour\": 1}",
         "unknown_field", "colour"},
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": {\"labels\": [\"x\"], \"tags\": []}}",
         "unknown_field", "filter.tags"},
        {"{\"level\": \"cip\", \"filter\": {\"labels\": [\"x\"]}}", "missing_field", "name"},
        {"{\"name\": \"a\", \"filter\": {\"labels\": [\"x\"]}}", "missing_field", "level"},
        {"{\"name\": \"a\", \"level\": \"cip\"}", "missing_field", "filter"},
        {"{\"name\": 5, \"level\": \"cip\", \"filter\": {\"labels\": [\"x\"]}}", "invalid_field",
         "name"},
        {"{\"name\": \"a\", \"level\": \"crisis\", \"filter\": {\"labels\": [\"x\"]}}",
         "invalid_field", "level"},
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": {\"labels\": [\"x\"]},"
         " \"enforcement\": \"log\"}",
         "invalid_field", "enforcement"},
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": {}}", "invalid_field", "filter"},
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": []}", "invalid_field", "filter"},
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": {\"labels\": [\"ok\", \"bad label\"]}}",
         "invalid_field", "filter.labels[1]"},
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": {\"labels\": \"x\"}}", "invalid_field",
         "filter.labels"},
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": {\"banks\": [\"NO_SUCH_BANK\"]}}",
         "unknown_bank", "filter.banks[0]"},
        {"{\"name\": \"\", \"level\": \"cip\", \"filter\": {\"labels\": [\"x\"]}}", "invalid_field",
         "name"},
        {"{\"name\": \"a\\u202e\", \"level\": \"cip\", \"filter\": {\"labels\": [\"x\"]}}",
         "invalid_field", "name"},
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": {\"labels\": [\"x\"]},"
         " \"start_ms\": \"yesterday\"}",
         "invalid_field", "start_ms"},
        {"{\"name\": \"a\", \"level\": \"cip\", \"filter\": {\"labels\": [\"x\"]},"
         " \"start_ms\": 99999999999999}",
         "invalid_field", "start_ms"},
    };
    json_t *before = api_call(&S.srv, 200, "GET", "/v1/incidents", S.keys[ADMIN], NULL);
    size_t n_before = json_array_size(json_object_get(before, "incidents"));
    json_decref(before);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        api_expect_error_ex(&S.srv, 400, cases[i].code, cases[i].field, "POST", "/v1/incidents",
                            S.keys[MODERATOR], cases[i].body, strlen(cases[i].body), NULL);
    json_t *after = api_call(&S.srv, 200, "GET", "/v1/incidents", S.keys[ADMIN], NULL);
    assert_int_equal(json_array_size(json_object_get(after, "incidents")), n_before);
    json_decref(after);
    /* An open incident: no report yet; closing twice; a body to close; unknown ids. */
    json_t *in = open_incident("{\"name\": \"refusals\", \"level\": \"content_incident\", "
                               "\"filter\": {\"labels\": [\"q\"]}}");
    char path[96], sub[128];
    snprintf(path, sizeof path, "/v1/incidents/%lld", (long long)api_jint(in, "id"));
    json_decref(in);
    snprintf(sub, sizeof sub, "%s/report", path);
    api_expect_error(&S.srv, 409, "incident_open", "GET", sub, S.keys[ADMIN], NULL);
    snprintf(sub, sizeof sub, "%s/close", path);
    api_expect_error(&S.srv, 400, "unexpected_body", "POST", sub, S.keys[ADMIN], "{}");
    json_decref(api_call(&S.srv, 200, "POST", sub, S.keys[ADMIN], NULL));
    api_expect_error(&S.srv, 409, "closed", "POST", sub, S.keys[ADMIN], NULL);
    snprintf(sub, sizeof sub, "%s/report?format=xml", path);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", sub, S.keys[ADMIN], NULL);
    api_expect_error(&S.srv, 404, "not_found", "GET", "/v1/incidents/987654", S.keys[ADMIN], NULL);
    api_expect_error(&S.srv, 404, "not_found", "POST", "/v1/incidents/987654/close", S.keys[ADMIN],
                     NULL);
    api_expect_error(&S.srv, 400, NULL, "GET", "/v1/incidents?limit=0", S.keys[ADMIN], NULL);
}

/* ---- enforcement, pushes, figures, report ---- */

static void test_incident_flow(void **state)
{
    (void)state;
    /* A bank that only logs: outside an incident its matches change nothing. */
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.keys[ADMIN],
                         "{\"name\": \"SHARED_HASHES\", \"action\": \"log\"}"));
    size_t len;
    uint8_t *img = read_all(conf_path(DIH "bridge-1-original.jpg"), &len);
    assert_non_null(img);
    json_t *in = open_incident("{\"name\": \"Flow\", \"level\": \"cip\", \"filter\":"
                               " {\"labels\": [\"incident:flow\"]}, \"enforcement\": \"block\"}");
    long long id = api_jint(in, "id");
    char idtext[48];
    snprintf(idtext, sizeof idtext, "\"id\":%lld,\"level\"", id);
    json_decref(in);
    json_t *hook = wait_hook("/peer", NULL, "\"change\":\"opened\"", idtext, NULL);
    assert_string_equal(api_jstr(hook, "event"), "incident");
    assert_string_equal(api_jstr(json_object_get(hook, "incident"), "name"), "Flow");
    json_decref(hook);
    /* Before the signal: allowed. */
    api_request rq = {"POST", "/v1/check", S.keys[PLATFORM], "image/jpeg", img, (long)len, 0, NULL};
    json_t *res = api_call_req(&S.srv, 200, &rq);
    assert_string_equal(api_jstr(res, "verdict"), "allow");
    json_decref(res);
    /* A signal added by hand, from the media, with the incident's label. */
    double added = api_now_s();
    rq = (api_request){"POST",
                       "/v1/banks/SHARED_HASHES/signals?labels=incident:flow&source=manual",
                       S.keys[MODERATOR],
                       "image/jpeg",
                       img,
                       (long)len,
                       0,
                       NULL};
    json_t *sig = api_call_req(&S.srv, 201, &rq);
    json_decref(sig);
    /* The upload now: blocked, the match naming the incident (the bank's action unchanged). */
    rq =
        (api_request){"POST", "/v1/check", S.keys[PLATFORM], "image/jpeg", img, (long)len, 0, NULL};
    res = api_call_req(&S.srv, 200, &rq);
    assert_string_equal(api_jstr(res, "verdict"), "block");
    json_t *m = json_array_get(json_object_get(res, "matches"), 0);
    assert_int_equal(api_jint(m, "incident_id"), id);
    assert_string_equal(api_jstr(m, "incident_action"), "block");
    assert_string_equal(api_jstr(m, "action"), "log");
    json_decref(res);
    /* Async intake: blocked, the platform gets its remove event. */
    rq = (api_request){"POST",
                       "/v1/content?content_id=flow-post-1",
                       S.keys[PLATFORM],
                       "image/jpeg",
                       img,
                       (long)len,
                       0,
                       NULL};
    res = api_call_req(&S.srv, 201, &rq);
    assert_string_equal(api_jstr(res, "verdict"), "block");
    json_decref(res);
    json_decref(wait_hook("/platform", NULL, "\"event\":\"remove\"", "flow-post-1", NULL));
    res = api_call(&S.srv, 200, "GET", "/v1/content/flow-post-1", S.keys[MODERATOR], NULL);
    m = json_array_get(json_object_get(res, "matches"), 0);
    assert_int_equal(api_jint(m, "incident_id"), id);
    json_decref(res);
    /* The new signals pushed to the peer: PDQ, MD5 and SHA-256 of the media. */
    double arrived = 0;
    static const char *const types[] = {"\"type\":\"pdq\"", "\"type\":\"md5\"",
                                        "\"type\":\"sha256\""};
    for (int i = 0; i < 3; i++) {
        double at;
        hook = wait_hook("/peer", &at, "\"change\":\"signal\"", idtext, types[i], NULL);
        assert_string_equal(api_jstr(hook, "bank"), "SHARED_HASHES");
        assert_string_equal(api_jstr(json_object_get(hook, "signal"), "source"), "manual");
        json_decref(hook);
        arrived = at > arrived ? at : arrived;
    }
    print_message("signal added -> last of its 3 pushes received: %.3f s\n", arrived - added);
    /* Live figures: 3 signals, 2 matches (the check and the content), both blocked. */
    char path[96];
    snprintf(path, sizeof path, "/v1/incidents/%lld", id);
    json_t *inc = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    json_t *fig = json_object_get(inc, "figures");
    assert_int_equal(api_jint(fig, "signals"), 3);
    assert_int_equal(api_jint(fig, "matches"), 2);
    assert_int_equal(api_jint(fig, "blocks"), 2);
    assert_true(api_jint(fig, "first_hash_to_block_ms") >= 0);
    assert_string_equal(api_jstr(json_array_get(json_object_get(fig, "sources"), 0), "source"),
                        "manual");
    json_t *hours = json_object_get(fig, "matches_per_hour");
    json_int_t total = 0;
    for (size_t i = 0; i < json_array_size(hours); i++)
        total += api_jint(json_array_get(hours, i), "matches");
    assert_int_equal(total, 2);
    json_decref(inc);
    /* Closing: the push, then the report. */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/close", path);
    json_t *closed = api_call(&S.srv, 200, "POST", sub, S.keys[MODERATOR], NULL);
    assert_string_equal(api_jstr(closed, "closed_by"), "moderator-key");
    json_decref(closed);
    json_decref(wait_hook("/peer", NULL, "\"change\":\"closed\"", idtext, NULL));
    snprintf(sub, sizeof sub, "%s/report", path);
    json_t *rep = api_call(&S.srv, 200, "GET", sub, S.keys[AUDITOR], NULL);
    json_t *sum = json_object_get(rep, "summary");
    assert_int_equal(api_jint(sum, "signals"), 3);
    assert_int_equal(api_jint(sum, "blocks"), 2);
    json_decref(rep);
    snprintf(sub, sizeof sub, "%s/report?format=markdown", path);
    api_resp r;
    assert_int_equal(api_http(&S.srv, "GET", sub, S.keys[MODERATOR], NULL, &r), 200);
    assert_non_null(strstr(r.ctype, "text/markdown"));
    assert_non_null(strstr(r.body, "# After-action report: Flow"));
    assert_non_null(strstr(r.body, "| blocks | 2 |"));
    assert_non_null(strstr(r.body, "| signals meeting the filter | 3 |"));
    assert_non_null(strstr(r.body, "| manual | 3 |"));
    api_resp_free(&r);
    /* Closed: the same upload is allowed again (a log bank), and no more pushes. */
    rq =
        (api_request){"POST", "/v1/check", S.keys[PLATFORM], "image/jpeg", img, (long)len, 0, NULL};
    res = api_call_req(&S.srv, 200, &rq);
    assert_string_equal(api_jstr(res, "verdict"), "allow");
    json_decref(res);
    assert_int_equal(hooked("/peer", idtext), 1 + 3 + 1);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_examples),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_incident_flow),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
