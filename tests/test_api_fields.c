/* No route answers 2xx while ignoring what it was sent (docs/api.md, "Unknown fields"). The real
 * `takedown serve` runs as a child process over a fresh data directory with real objects (a bank
 * and its signal, content and its case, an exchange, a webhook, an authority and its removal
 * order, a complaint, an evidence case and a release request, a franked report, an incident),
 * and every takedown route of the router's own table (td_server_routes; HMA routes have their own
 * tests) is called with:
 *   - a query parameter it does not take: 400 unknown_query naming it;
 *   - a parameter it takes, given twice: 400 repeated_query naming it;
 *   - a data header (Takedown-*) it does not read: 400 unknown_header naming it;
 *   - for a route with a body, a JSON object with one member it does not take: 400 unknown_field
 *     naming it (422 for a signed document, whose problems are the document's: docs/orders.md),
 *     or 400 unexpected_body on an action that takes no body;
 * and after each refusal nothing changed: the audit log has as many entries, and the lists of
 * banks, signals, keys, webhooks, exchanges, authorities, incidents and cases are the same. A
 * new route is walked without any change here; one whose path names an object this set-up does
 * not create fails until the set-up creates it (the snapshot is first shown to see a change).
 * Then the nested and the combined cases: members of nested objects, hashes both nested and
 * flat, query parameters that only a media body reads sent with a JSON one, a value that would
 * be read as the default, a form body, a body sent to a read or a delete. Last, the query
 * parameters and headers each route takes are those docs/openapi.yaml documents for it. */
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
#include <strings.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/frank.h"
#include "takedown/orders.h"
#include "takedown/server.h"

#define PDQ "9c6b2d0e5f7a18c3b4e1d2f60a8b7c9d3e2f1a0b5c4d6e7f8091a2b3c4d5e6f7"
#define BANK "FIELDS"
#define CONTENT "fields-post-1"
#define UNKNOWN "zz_unknown_member"
#define UNKNOWN_Q "zz_unknown_query"
#define UNKNOWN_H "Takedown-Zz-Unknown"

enum { ADMIN, MODERATOR, PLATFORM, AUDITOR, AUTHORITY, CUSTODIAN, LEGAL, PEER, SPARE, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin",   "moderator", "platform",
                                              "auditor", "authority", "custodian",
                                              "legal",   "peer",      "auditor"};

/* The objects a route's path names: the pattern up to and including the parameter, and the
 * value the set-up created for it. */
typedef struct path_object {
    const char *prefix;
    char value[96];
} path_object;

enum {
    O_BANK,
    O_SIGNAL,
    O_CONTENT,
    O_CASE,
    O_EXCHANGE,
    O_UPLOAD,
    O_WEBHOOK,
    O_KEY,
    O_FEED,
    O_AUTHORITY,
    O_ORDER,
    O_TARGET,
    O_REFERRAL,
    O_COMPLAINT,
    O_LANG,
    O_EV_CASE,
    O_RELEASE,
    O_EORDER,
    O_ENDPOINT,
    O_REPORT,
    O_ATTACHMENT,
    O_INCIDENT,
    O_QA,
    N_OBJECTS
};

static struct {
    api_server srv;
    char dir[4096];
    char keys[N_KEYS][128];
    long long key_ids[N_KEYS];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    path_object objects[N_OBJECTS];
} S = {.objects = {
           [O_BANK] = {"/v1/banks/{name}", BANK},
           [O_SIGNAL] = {"/v1/banks/{name}/signals/{id}", ""},
           [O_CONTENT] = {"/v1/content/{id}", CONTENT},
           [O_CASE] = {"/v1/cases/{id}", ""},
           [O_EXCHANGE] = {"/v1/exchanges/{id}", ""},
           [O_UPLOAD] = {"/v1/exchanges/{id}/uploads/{uid}", ""},
           [O_WEBHOOK] = {"/v1/webhooks/{id}", ""},
           [O_KEY] = {"/v1/keys/{id}", ""},
           [O_FEED] = {"/v1/feeds/{bank}", BANK},
           [O_AUTHORITY] = {"/v1/authorities/{id}", ""},
           [O_ORDER] = {"/v1/orders/{id}", ""},
           [O_TARGET] = {"/v1/orders/{id}/targets/{n}", "0"},
           [O_REFERRAL] = {"/v1/referrals/{id}", ""},
           [O_COMPLAINT] = {"/v1/complaints/{id}", ""},
           [O_LANG] = {"/v1/settings/notice-templates/{lang}", "de"},
           [O_EV_CASE] = {"/v1/evidence/cases/{id}", ""},
           [O_RELEASE] = {"/v1/evidence/releases/{id}", ""},
           /* Evidence orders come signed in the e-Evidence formats (test_api_eorders drives
            * them); their handlers check the request before they look the order up, so an id
            * that names none shows the same refusals. */
           [O_EORDER] = {"/v1/evidence-orders/{id}", "EO-0000000000-00000000"},
           [O_ENDPOINT] = {"/eevidence/{endpoint}", "production"},
           [O_REPORT] = {"/v1/reports/{id}", ""},
           [O_ATTACHMENT] = {"/v1/reports/{id}/attachments/{i}", "0"},
           [O_INCIDENT] = {"/v1/incidents/{id}", ""},
           [O_QA] = {"/v1/qa/{id}", ""},
       }};

/* ---- helpers ---- */

static void set_object(int which, long long id)
{
    snprintf(S.objects[which].value, sizeof S.objects[which].value, "%lld", id);
}

/* The path of a route pattern with its parameters replaced by the set-up's objects. */
static void route_path(const char *pattern, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = pattern; *p;) {
        if (*p != '{') {
            assert_true(n + 1 < cap);
            out[n++] = *p++;
            out[n] = '\0';
            continue;
        }
        const char *close = strchr(p, '}');
        assert_non_null(close);
        size_t prefix_len = (size_t)(close + 1 - pattern);
        const char *value = NULL;
        for (size_t i = 0; i < N_OBJECTS; i++)
            if (strlen(S.objects[i].prefix) == prefix_len &&
                strncmp(S.objects[i].prefix, pattern, prefix_len) == 0)
                value = S.objects[i].value;
        if (!value || !*value)
            fail_msg("%s: the set-up creates no object for %.*s (add one to S.objects)", pattern,
                     (int)prefix_len, pattern);
        n += (size_t)snprintf(out + n, cap - n, "%s", value);
        assert_true(n < cap);
        p = close + 1;
    }
}

/* A key the route's roles allow, preferring the platform's own roles. */
static const char *route_key(const td_server_route_info *rt)
{
    static const int order[] = {ADMIN, MODERATOR, PLATFORM,  AUDITOR,
                                LEGAL, AUTHORITY, CUSTODIAN, PEER};
    if (!rt->requires_key)
        return S.keys[ADMIN]; /* not read; /metrics may want it (metrics_public off) */
    char roles[128];
    snprintf(roles, sizeof roles, ",%s,", rt->roles);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, ",%s,", key_roles[order[i]]);
        if (strstr(roles, want))
            return S.keys[order[i]];
    }
    fail_msg("%s %s: no key for roles %s", rt->method, rt->pattern, rt->roles);
    return NULL;
}

/* What must not change when a request is refused: the audit log's size and the lists. */
static char *snapshot(void)
{
    static const char *const lists[] = {"/v1/banks",
                                        ("/v1/banks/" BANK "/signals"),
                                        "/v1/keys",
                                        "/v1/webhooks",
                                        "/v1/exchanges",
                                        "/v1/authorities",
                                        "/v1/incidents",
                                        "/v1/cases",
                                        "/v1/orders",
                                        "/v1/evidence/cases",
                                        ("/v1/content/" CONTENT)};
    json_t *all = json_object();
    json_t *cp = api_call(&S.srv, 200, "GET", "/v1/log/checkpoint", NULL, NULL);
    json_object_set_new(all, "audit_size", json_integer(api_jint(cp, "size")));
    json_decref(cp);
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        api_resp r;
        api_http(&S.srv, "GET", lists[i], S.keys[ADMIN], NULL, &r);
        json_object_set_new(
            all, lists[i],
            json_pack("{s:i, s:s}", "status", (int)r.status, "body", r.body ? r.body : ""));
        api_resp_free(&r);
    }
    char *text = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(all);
    assert_non_null(text);
    return text;
}

static void expect_unchanged(const char *before, const char *what)
{
    char *after = snapshot();
    if (strcmp(before, after) != 0)
        fail_msg("%s changed something:\nbefore %s\nafter  %s", what, before, after);
    free(after);
}

/* The answer must be a 400 (or `alt` when not 0) whose error has code (one of code, code2) and
 * names field. */
static void expect_refusal(const api_request *rq, long alt, const char *code, const char *code2,
                           const char *field)
{
    api_resp r;
    long st = api_send(&S.srv, rq, &r);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *got_code = api_jstr(e, "code"), *got_field = api_jstr(e, "field");
    /* An action that takes no body refuses one whole: unexpected_body. */
    int unexpected_body = got_code && strcmp(got_code, "unexpected_body") == 0;
    int code_ok = got_code && ((code && strcmp(got_code, code) == 0) ||
                               (code2 && strcmp(got_code, code2) == 0) || unexpected_body);
    int field_ok = unexpected_body || (got_field && strcmp(got_field, field) == 0);
    if (!((st == 400 || (alt && st == alt)) && code_ok && field_ok))
        fail_msg("%s %s: %ld %s (expected 400 %s naming '%s')", rq->method, rq->path, st,
                 r.body ? r.body : "", code, field);
    json_decref(j);
    api_resp_free(&r);
}

/* A signed removal order for CONTENT; returns its id. */
static long long send_order(const char *reference)
{
    char body[4096], sig[200];
    api_order_doc(body, sizeof body, "BKA", reference, CONTENT, NULL, NULL);
    api_sign_header(S.sk, body, strlen(body), sig, sizeof sig);
    json_t *j =
        api_call_ex(&S.srv, 201, "POST", "/v1/orders", S.keys[AUTHORITY], body, strlen(body), sig);
    long long id = api_jint(j, "id");
    json_decref(j);
    return id;
}

/* A franked message reported by the platform (docs/e2ee.md): the report's id. */
static long long relay_report(void)
{
    static const char text[] = "a reported message";
    uint8_t salt[TD_FRANK_SALT_LEN], tag[TD_FRANK_TAG_LEN], *enc = NULL;
    size_t len = 0;
    char salt_hex[33], tag_hex[65], body[2048];
    td_error err;
    randombytes_buf(salt, sizeof salt);
    assert_int_equal(td_frank_message_encode(text, strlen(text), NULL, 0, &enc, &len, &err), TD_OK);
    td_frank_tag(salt, enc, len, tag);
    td_free(enc);
    sodium_bin2hex(salt_hex, sizeof salt_hex, salt, sizeof salt);
    sodium_bin2hex(tag_hex, sizeof tag_hex, tag, sizeof tag);
    snprintf(body, sizeof body,
             "{\"franking_tag\": \"%s\", \"sender\": \"alice\", \"conversation\": \"room\", "
             "\"accepted_ms\": 1717200000000}",
             tag_hex);
    json_t *p = api_call(&S.srv, 200, "POST", "/v1/frank", S.keys[PLATFORM], body);
    snprintf(body, sizeof body,
             "{\"reporter\": \"bob\", \"messages\": [{\"text\": \"%s\", \"salt\": \"%s\", "
             "\"sender\": \"alice\", \"conversation\": \"room\", \"accepted_ms\": "
             "1717200000000, \"key_id\": %lld, \"frank\": \"%s\", \"signature\": \"%s\"}]}",
             text, salt_hex, (long long)api_jint(p, "key_id"), api_jstr(p, "frank"),
             api_jstr(p, "signature"));
    json_decref(p);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/reports", S.keys[PLATFORM], body);
    long long id = api_jint(json_array_get(json_object_get(j, "reports"), 0), "report_id");
    json_decref(j);
    return id;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    static const char *const flags[] = {"--webhook-allow-private",
                                        "1",
                                        "--rate-limit-unauthenticated",
                                        "100000",
                                        "--review-qa-share",
                                        "1",
                                        NULL};
    if (api_group_init(S.dir, sizeof S.dir, "api-fields-data") != 0)
        return -1;
    /* An evidence master key, so that a confirmed order is sealed as an evidence case. */
    char cmd[8400], out[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' evidence init --data '%s' --threshold 2 --custodians custodian-5,custodian-6 "
             "2>/dev/null",
             TD_CLI_PATH, S.dir);
    if (run_capture(cmd, out, sizeof out) != 0)
        return -1;
    api_server_start(&S.srv, S.dir, flags);
    snprintf(S.keys[ADMIN], sizeof S.keys[ADMIN], "%s", S.srv.admin);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    const char *A = S.keys[ADMIN];
    for (int i = 1; i < N_KEYS; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"%s-%d\"}", key_roles[i],
                 key_roles[i], i);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", A, body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", api_jstr(j, "key"));
        S.key_ids[i] = api_jint(j, "id");
        json_decref(j);
    }
    set_object(O_KEY, S.key_ids[SPARE]);

    /* A review bank, its signal, content matching it (a case). */
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.keys[MODERATOR],
                         "{\"name\": \"" BANK "\", \"action\": \"review\"}"));
    json_t *j = api_call(&S.srv, 201, "POST", ("/v1/banks/" BANK "/signals"), S.keys[MODERATOR],
                         "{\"type\": \"pdq\", \"value\": \"" PDQ "\"}");
    set_object(O_SIGNAL, api_jint(j, "id"));
    json_decref(j);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM],
                         "{\"content_id\": \"" CONTENT "\", \"hashes\": {\"pdq\": \"" PDQ "\"}}"));
    j = api_call(&S.srv, 200, "GET", "/v1/cases", A, NULL);
    set_object(O_CASE, api_jint(json_array_get(json_object_get(j, "cases"), 0), "id"));
    json_decref(j);
    /* A second case, decided: a QA review (every decision is sampled here). */
    j = api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM],
                 "{\"content_id\": \"" CONTENT "-qa\", \"hashes\": {\"pdq\": \"" PDQ "\"}}");
    char qa_path[96];
    snprintf(qa_path, sizeof qa_path, "/v1/cases/%lld/decision",
             (long long)api_jint(json_object_get(j, "case"), "id"));
    json_decref(j);
    json_decref(api_call(&S.srv, 201, "POST", qa_path, S.keys[MODERATOR],
                         "{\"decision\": \"keep\", \"reason\": \"fine\"}"));
    j = api_call(&S.srv, 200, "GET", "/v1/qa", A, NULL);
    set_object(O_QA, api_jint(json_array_get(json_object_get(j, "qa"), 0), "id"));
    json_decref(j);

    /* An exchange (disabled: it never pulls) and a share of the signal with it. */
    j = api_call(&S.srv, 201, "POST", "/v1/exchanges", A,
                 "{\"name\": \"fields-list\", \"type\": \"url_list\", \"url\": "
                 "\"http://127.0.0.1:9/list.txt\", \"bank\": \"" BANK "\", \"enabled\": false}");
    set_object(O_EXCHANGE, api_jint(j, "id"));
    json_decref(j);
    char path[256], body[512];
    snprintf(path, sizeof path, "/v1/exchanges/%s/uploads", S.objects[O_EXCHANGE].value);
    snprintf(body, sizeof body, "{\"signal_id\": %s}", S.objects[O_SIGNAL].value);
    api_resp r;
    api_http(&S.srv, "POST", path, S.keys[MODERATOR], body, &r);
    j = r.status == 201 ? json_loads(r.body, 0, NULL) : NULL;
    /* A list exchange may take no shares: then the id names none (the route's checks come
     * first either way). */
    set_object(O_UPLOAD, j ? api_jint(j, "id") : 999999);
    json_decref(j);
    api_resp_free(&r);

    j = api_call(&S.srv, 201, "POST", "/v1/webhooks", A,
                 "{\"url\": \"http://127.0.0.1:9/hook\", \"secret\": "
                 "\"fields-test-secret-0123456789\"}");
    set_object(O_WEBHOOK, api_jint(j, "id"));
    json_decref(j);

    /* The authority, its removal order for the content, confirmed (an evidence case), a release
     * request; a complaint; a notice template. */
    set_object(O_AUTHORITY,
               api_register_authority(&S.srv, A, "BKA", NULL, S.key_ids[AUTHORITY], S.pk, S.sk));
    long long order = send_order("BKA-FIELDS-1");
    set_object(O_ORDER, order);
    set_object(O_REFERRAL, send_order("BKA-FIELDS-2"));
    char at[32];
    td_order_time_format(api_wall_ms(), at);
    snprintf(path, sizeof path, "/v1/orders/%lld/confirm", order);
    snprintf(body, sizeof body, "{\"measure\": \"removed\", \"time\": \"%s\"}", at);
    json_decref(api_call(&S.srv, 200, "POST", path, S.keys[PLATFORM], body));
    double deadline = api_now_s() + 20;
    for (;;) {
        j = api_call(&S.srv, 200, "GET", "/v1/evidence/cases", A, NULL);
        json_t *c = json_array_get(json_object_get(j, "cases"), 0);
        if (c)
            snprintf(S.objects[O_EV_CASE].value, sizeof S.objects[O_EV_CASE].value, "%s",
                     api_jstr(c, "case"));
        json_decref(j);
        if (c || api_now_s() > deadline)
            break;
        api_sleep_ms(100);
    }
    snprintf(body, sizeof body,
             "{\"requester\": \"court\", \"legal_basis\": \"s. 1\", \"purpose\": \"trial\", "
             "\"case\": \"%s\"}",
             S.objects[O_EV_CASE].value);
    j = api_call(&S.srv, 201, "POST", "/v1/evidence/releases", A, body);
    set_object(O_RELEASE, api_jint(j, "id"));
    json_decref(j);
    j = api_call(&S.srv, 201, "POST", "/v1/complaints", S.keys[PLATFORM],
                 "{\"content_id\": \"" CONTENT "\", \"text\": \"my post was legal\"}");
    set_object(O_COMPLAINT, api_jint(j, "id"));
    json_decref(j);

    set_object(O_REPORT, relay_report());
    j = api_call(&S.srv, 201, "POST", "/v1/incidents", S.keys[MODERATOR],
                 "{\"name\": \"fields\", \"level\": \"incident\", \"filter\": {\"banks\": [\"" BANK
                 "\"]}}");
    set_object(O_INCIDENT, api_jint(j, "id"));
    json_decref(j);
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

/* The oracle sees a change: a bank's threshold set, then set back (two audit entries). */
static void test_snapshot_sees_changes(void **state)
{
    (void)state;
    char *before = snapshot();
    json_decref(api_call(&S.srv, 200, "PATCH", "/v1/banks/" BANK, S.keys[MODERATOR],
                         "{\"threshold\": 12}"));
    char *after = snapshot();
    assert_string_not_equal(before, after);
    free(after);
    free(before);
    before = snapshot();
    json_decref(api_call(&S.srv, 200, "PATCH", "/v1/banks/" BANK, S.keys[MODERATOR],
                         "{\"threshold\": 31}"));
    after = snapshot();
    assert_string_not_equal(before, after);
    free(after);
    free(before);
}

/* Routes whose body is not a JSON object of fields: bytes the route takes whole. */
static int opaque_body(const td_server_route_info *rt)
{
    static const char *const opaque[] = {
        "/v1/banks/{name}/import",           /* a list, line by line (its errors are named) */
        "/v1/exchanges/{id}/push",           /* a publisher's notice: only its signature counts */
        "/v1/orders/{id}/targets/{n}/media", /* the removed media, sealed as they are */
        "/eevidence/{endpoint}",             /* ETSI TS 103 120 XML */
    };
    for (size_t i = 0; i < sizeof opaque / sizeof opaque[0]; i++)
        if (strcmp(rt->pattern, opaque[i]) == 0)
            return 1;
    return 0;
}

/* Routes whose members depend on another member: what the body holds besides the unknown one.
 * An authority's event is a document of the evidence order (docs/evidence-orders.md): its
 * problems, an unknown member among them, are 422 naming the member, as a signed document's. */
static const struct {
    const char *pattern, *members;
    long alt;
} fixtures[] = {
    {"/v1/evidence-orders/{id}/events", "\"action\": \"withdraw\", ", 422},
};

static int has_body(const td_server_route_info *rt)
{
    return strcmp(rt->method, "POST") == 0 || strcmp(rt->method, "PUT") == 0 ||
           strcmp(rt->method, "PATCH") == 0;
}

/* Every takedown route, an unknown query parameter and an unknown data header. */
static void test_unknown_query_and_headers(void **state)
{
    (void)state;
    size_t n;
    const td_server_route_info *routes = td_server_routes(&n);
    size_t walked = 0;
    for (size_t i = 0; i < n; i++) {
        const td_server_route_info *rt = &routes[i];
        if (rt->hma)
            continue;
        char path[256], target[512], what[700];
        route_path(rt->pattern, path, sizeof path);
        char *before = snapshot();

        snprintf(target, sizeof target, "%s?" UNKNOWN_Q "=1", path);
        api_request rq = {rt->method, target, route_key(rt), NULL, NULL, 0, 0, NULL};
        expect_refusal(&rq, 0, "unknown_query", NULL, UNKNOWN_Q);
        /* After the route's own parameters too. */
        if (rt->query) {
            char first[64];
            snprintf(first, sizeof first, "%.*s", (int)strcspn(rt->query, " "), rt->query);
            snprintf(target, sizeof target, "%s?%s=1&" UNKNOWN_Q "=1", path, first);
            expect_refusal(&rq, 0, "unknown_query", NULL, UNKNOWN_Q);
            /* Given twice where the route reads one. */
            snprintf(target, sizeof target, "%s?%s=1&%s=2", path, first, first);
            expect_refusal(&rq, 0, "repeated_query", NULL, first);
        }
        /* A data header the route does not read. */
        rq.path = path;
        rq.extra = UNKNOWN_H ": 1";
        expect_refusal(&rq, 0, "unknown_header", NULL, UNKNOWN_H);
        if (rt->headers) {
            char header[96];
            snprintf(header, sizeof header, "%.*s", (int)strcspn(rt->headers, " "), rt->headers);
            if (strcasecmp(header, "Takedown-Signature") != 0) {
                /* X-Takedown-Signature: its Takedown-Signature sibling is not read. */
                rq.extra = "Takedown-Signature: ed25519=AAAA";
                expect_refusal(&rq, 0, "unknown_header", NULL, "Takedown-Signature");
            }
        }
        snprintf(what, sizeof what, "%s %s refused", rt->method, rt->pattern);
        expect_unchanged(before, what);
        free(before);
        walked++;
    }
    print_message("%zu routes walked\n", walked);
    assert_true(walked > 100);
}

/* Every takedown route with a body: a JSON object with an unknown member. */
static void test_unknown_members(void **state)
{
    (void)state;
    size_t n;
    const td_server_route_info *routes = td_server_routes(&n);
    size_t walked = 0;
    for (size_t i = 0; i < n; i++) {
        const td_server_route_info *rt = &routes[i];
        if (rt->hma || !has_body(rt) || opaque_body(rt))
            continue;
        char path[512], what[600], sig[200];
        route_path(rt->pattern, path, sizeof path);
        char *before = snapshot();
        const char *members = "";
        long alt = 0;
        for (size_t k = 0; k < sizeof fixtures / sizeof fixtures[0]; k++)
            if (strcmp(fixtures[k].pattern, rt->pattern) == 0) {
                members = fixtures[k].members;
                alt = fixtures[k].alt;
            }
        char body[256];
        snprintf(body, sizeof body, "{%s\"" UNKNOWN "\": 1}", members);
        api_request rq = {rt->method, path, route_key(rt), "application/json", body, -1, 0, NULL};
        int signed_doc = rt->headers && strstr(rt->headers, "Takedown-Signature");
        if (signed_doc)
            alt = 422;
        if (signed_doc) {
            /* A signed document: signed as its authority signs (the signature verifies). */
            api_sign_header(S.sk, body, strlen(body), sig, sizeof sig);
            rq.extra = sig;
        }
        expect_refusal(&rq, alt, "unknown_field", alt ? "invalid_field" : NULL, UNKNOWN);
        snprintf(what, sizeof what, "%s %s with an unknown member", rt->method, rt->pattern);
        expect_unchanged(before, what);
        free(before);
        walked++;
    }
    print_message("%zu routes with a body walked\n", walked);
    assert_true(walked > 40);
}

/* A complete removal order with one more member: refused naming it, nothing received. */
static void test_signed_order_member(void **state)
{
    (void)state;
    char doc[4096], body[4200], sig[200];
    api_order_doc(doc, sizeof doc, "BKA", "BKA-FIELDS-3", CONTENT, NULL, NULL);
    assert_int_equal(doc[0], '{');
    snprintf(body, sizeof body, "{\"" UNKNOWN "\": true, %s", doc + 1);
    api_sign_header(S.sk, body, strlen(body), sig, sizeof sig);
    char *before = snapshot();
    api_request rq = {"POST", "/v1/orders", S.keys[AUTHORITY], "application/json", body, -1,
                      0,      sig};
    expect_refusal(&rq, 422, "invalid_field", "unknown_field", UNKNOWN);
    expect_unchanged(before, "an order with an unknown member");
    free(before);
}

/* Members inside nested objects, and members that a present one makes meaningless. */
static void test_nested_and_combined(void **state)
{
    (void)state;
    const char *P = S.keys[PLATFORM];
    char *before = snapshot();
    static const struct {
        const char *path, *body, *field;
    } cases[] = {
        {"/v1/check", "{\"hashes\": {\"pdq\": \"" PDQ "\", \"colour\": 1}}", "hashes.colour"},
        /* Hashes nested and flat: the flat one would be ignored. */
        {"/v1/check", "{\"hashes\": {\"pdq\": \"" PDQ "\"}, \"md5\": \"" PDQ "\"}", "md5"},
        {"/v1/check", "{\"pdq\": \"" PDQ "\", \"colour\": 1}", "colour"},
        {"/v1/content",
         "{\"content_id\": \"nested-1\", \"hashes\": {\"pdq\": \"" PDQ "\", \"colour\": 1}}",
         "hashes.colour"},
        {"/v1/content",
         "{\"content_id\": \"nested-2\", \"hashes\": {\"pdq\": \"" PDQ "\"}, \"dihedral\": true}",
         "dihedral"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        api_request rq = {"POST", cases[i].path, P, "application/json", cases[i].body, -1, 0, NULL};
        expect_refusal(&rq, 0, "unknown_field", NULL, cases[i].field);
    }
    /* Query parameters only a media body reads, sent with a JSON body. */
    static const struct {
        const char *target, *body, *param;
    } media_only[] = {
        {"/v1/check?dihedral=1", "{\"pdq\": \"" PDQ "\"}", "dihedral"},
        {"/v1/check?max_matches=1", "{\"pdq\": \"" PDQ "\"}", "max_matches"},
        {"/v1/content?content_id=nested-3",
         "{\"content_id\": \"nested-3\", \"hashes\": {\"pdq\": \"" PDQ "\"}}", "content_id"},
        {"/v1/content?uploader=u",
         "{\"content_id\": \"nested-4\", \"hashes\": {\"pdq\": \"" PDQ "\"}}", "uploader"},
        {"/v1/banks/" BANK "/signals?labels=x",
         "{\"type\": \"md5\", \"value\": "
         "\"00000000000000000000000000000001\"}",
         "labels"},
    };
    for (size_t i = 0; i < sizeof media_only / sizeof media_only[0]; i++) {
        const char *key = strstr(media_only[i].target, "/signals") ? S.keys[MODERATOR] : P;
        api_request rq = {
            "POST", media_only[i].target, key, "application/json", media_only[i].body, -1, 0, NULL};
        expect_refusal(&rq, 0, "unknown_query", NULL, media_only[i].param);
    }
    /* A text body: dihedral is about images, refused; max_matches is read. */
    api_request text = {"POST", "/v1/check?dihedral=1", P, "text/plain", "some words", -1, 0, NULL};
    expect_refusal(&text, 0, "unknown_query", NULL, "dihedral");
    text.path = "/v1/check?max_matches=1";
    api_resp r;
    assert_int_equal(api_send(&S.srv, &text, &r), 200);
    api_resp_free(&r);
    /* A value that would have been read as "no" is refused, not taken as the default. */
    api_request imp = {"POST",
                       "/v1/banks/" BANK "/import?atomic=yes",
                       S.keys[MODERATOR],
                       "text/plain",
                       "md5,00000000000000000000000000000002\n",
                       -1,
                       0,
                       NULL};
    api_resp ir;
    assert_int_equal(api_send(&S.srv, &imp, &ir), 400);
    assert_non_null(strstr(ir.body, "atomic"));
    api_resp_free(&ir);
    /* Form fields: no route reads them. */
    static const char form[] = "--b\r\nContent-Disposition: form-data; name=\"file\"; "
                               "filename=\"x.jpg\"\r\n\r\nxx\r\n--b--\r\n";
    api_request mp = {"POST", "/v1/check", P, "multipart/form-data; boundary=b", form, -1, 0, NULL};
    expect_refusal(&mp, 0, "form_body", NULL, "Content-Type");
    /* A body sent to a read or a delete. */
    api_request get = {
        "GET", "/v1/banks", S.keys[ADMIN], "application/json", "{\"name\": \"" BANK "\"}",
        -1,    0,           NULL};
    expect_refusal(&get, 0, "unexpected_body", NULL, NULL);
    api_request del = {
        "DELETE", "/v1/banks/" BANK, S.keys[ADMIN], "application/json", "{\"force\": true}", -1, 0,
        NULL};
    expect_refusal(&del, 0, "unexpected_body", NULL, NULL);
    /* An action that takes nothing takes an empty object, not a member. */
    char path[128];
    snprintf(path, sizeof path, "/v1/evidence/releases/%s/release", S.objects[O_RELEASE].value);
    api_request rel = {"POST", path, S.keys[ADMIN], "application/json", "{\"items\": [1]}",
                       -1,     0,    NULL};
    expect_refusal(&rel, 0, "unknown_field", NULL, "items");
    expect_unchanged(before, "nested and combined refusals");
    free(before);
    /* The refusals left the content unsubmitted. */
    api_expect_error(&S.srv, 404, "not_found", "GET", "/v1/content/nested-1", S.keys[ADMIN], NULL);
}

/* ---- the document ---- */

/* The query parameters and headers docs/openapi.yaml gives an operation: inline ones
 * ("- {name: limit, in: query, ...}"), those of the path, and references to
 * components/parameters. */
typedef struct doc_params {
    char query[512], headers[256];
} doc_params;

static void add_word(char *list, size_t cap, const char *w, size_t n)
{
    size_t len = strlen(list);
    snprintf(list + len, cap - len, "%s%.*s", len ? " " : "", (int)n, w);
}

/* A component parameter's name and location ("Purpose" -> purpose, query). */
static int component_param(const char *doc, const char *ref, char *name, size_t cap, char *in,
                           size_t in_cap)
{
    const char *c = strstr(doc, "\ncomponents:\n");
    const char *p = c ? strstr(c, "\n  parameters:\n") : NULL;
    char head[96];
    snprintf(head, sizeof head, "\n    %s:\n", ref);
    const char *e = p ? strstr(p, head) : NULL;
    if (!e)
        return 0;
    e += strlen(head);
    const char *nm = strstr(e, "      name: "), *loc = strstr(e, "      in: ");
    if (!nm || !loc)
        return 0;
    nm += 12;
    loc += 10;
    snprintf(name, cap, "%.*s", (int)strcspn(nm, "\n"), nm);
    snprintf(in, in_cap, "%.*s", (int)strcspn(loc, "\n"), loc);
    return 1;
}

static void doc_params_of(const char *doc, const char *method, const char *pattern, doc_params *out)
{
    char head[256], op[32];
    memset(out, 0, sizeof *out);
    snprintf(head, sizeof head, "\n  %s:\n", pattern);
    const char *p = strstr(doc, head);
    if (!p)
        fail_msg("docs/openapi.yaml has no path %s", pattern);
    p += strlen(head);
    size_t n = 0;
    for (; method[n] && n + 1 < sizeof op; n++)
        op[n] = (char)(method[n] - 'A' + 'a');
    op[n] = '\0';
    const char *cur_op = NULL;
    while (*p && !(p[0] == ' ' && p[1] == ' ' && p[2] == '/') && strncmp(p, "components:", 11)) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > 4 && strncmp(p, "    ", 4) == 0 && p[4] != ' ') {
            size_t k = strcspn(p + 4, ":");
            cur_op = k < len ? p + 4 : NULL;
            if (cur_op && strncmp(cur_op, "parameters", k) == 0)
                cur_op = "path-level";
        }
        int mine = cur_op && (strcmp(cur_op, "path-level") == 0 ||
                              (strncmp(cur_op, op, strlen(op)) == 0 && cur_op[strlen(op)] == ':'));
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        const char *nm = strstr(line, "name: "), *ref = strstr(line, "#/components/parameters/");
        char name[96] = "", in[16] = "";
        if (mine && nm && strstr(line, "in: ")) {
            nm += 6;
            snprintf(name, sizeof name, "%.*s", (int)strcspn(nm, ", }"), nm);
            const char *loc = strstr(line, "in: ") + 4;
            snprintf(in, sizeof in, "%.*s", (int)strcspn(loc, ", }"), loc);
        } else if (mine && ref) {
            ref += strlen("#/components/parameters/");
            char id[64];
            snprintf(id, sizeof id, "%.*s", (int)strcspn(ref, "\""), ref);
            if (!component_param(doc, id, name, sizeof name, in, sizeof in))
                fail_msg("docs/openapi.yaml: no component parameter %s", id);
        }
        if (strcmp(in, "query") == 0)
            add_word(out->query, sizeof out->query, name, strlen(name));
        else if (strcmp(in, "header") == 0)
            add_word(out->headers, sizeof out->headers, name, strlen(name));
        p = eol ? eol + 1 : p + len;
    }
}

/* The same words, in any order. */
static int same_words(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    for (int pass = 0; pass < 2; pass++) {
        const char *x = pass ? b : a, *y = pass ? a : b;
        for (const char *w = x; *w;) {
            w += strspn(w, " ");
            size_t k = strcspn(w, " ");
            if (!k)
                break;
            int found = 0;
            for (const char *v = y; *v && !found;) {
                v += strspn(v, " ");
                size_t m = strcspn(v, " ");
                found = m == k && strncmp(v, w, k) == 0;
                v += m;
            }
            if (!found)
                return 0;
            w += k;
        }
    }
    return 1;
}

/* What each route takes is what docs/openapi.yaml says it takes: a parameter the router accepts
 * is documented, and a documented one is accepted. */
static void test_document_lists_them(void **state)
{
    (void)state;
    size_t len, n;
    char *doc = (char *)read_all(TD_SOURCE_DIR "/docs/openapi.yaml", &len);
    assert_non_null(doc);
    const td_server_route_info *routes = td_server_routes(&n);
    for (size_t i = 0; i < n; i++) {
        if (routes[i].hma)
            continue;
        doc_params d;
        doc_params_of(doc, routes[i].method, routes[i].pattern, &d);
        if (!same_words(d.query, routes[i].query))
            fail_msg("%s %s: query parameters [%s] in docs/openapi.yaml, [%s] in the router",
                     routes[i].method, routes[i].pattern, d.query,
                     routes[i].query ? routes[i].query : "");
        if (!same_words(d.headers, routes[i].headers))
            fail_msg("%s %s: headers [%s] in docs/openapi.yaml, [%s] in the router",
                     routes[i].method, routes[i].pattern, d.headers,
                     routes[i].headers ? routes[i].headers : "");
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_sees_changes),
        cmocka_unit_test(test_unknown_query_and_headers),
        cmocka_unit_test(test_unknown_members),
        cmocka_unit_test(test_signed_order_member),
        cmocka_unit_test(test_nested_and_combined),
        cmocka_unit_test(test_document_lists_them),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
