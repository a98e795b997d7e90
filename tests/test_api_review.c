/* The review workflow over HTTP (docs/casework.md, docs/api.md) on the real `takedown serve`:
 * GET /v1/me for every role (an authority key with its authority); the role refusals of every
 * new route; GET /v1/queues and GET /v1/cases?queue= against counts this test computes from what
 * it submitted (four banks with bank and signal labels, an incident on one of them, uploads and
 * E2EE reports as sources, cases claimed, escalated and decided); the review reasons (the TCO
 * default), reason_code on decisions (unknown: 422 naming it) and in the transparency report; QA
 * at share 1 (the first reviewer refused with same_reviewer, disagreement, agreement, reviewed
 * twice refused, listing by state); an uploader's content; the decisions on a signal; a malformed
 * review_reasons or review_qa_share stopping the start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/frank.h"

enum { ADMIN, MODERATOR, MODERATOR2, AUDITOR, PLATFORM, AUTHORITY, CUSTODIAN, LEGAL, PEER, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin",     "moderator", "moderator",
                                              "auditor",   "platform",  "authority",
                                              "custodian", "legal",     "peer"};

#define N_BANKS 4
#define N_SIGNALS 12
#define N_ITEMS 30
#define N_REPORTS 2
#define MAX_QUEUES 32

static const struct {
    const char *name, *action, *labels, *label_list;
} banks[N_BANKS] = {{"API_TERROR", "review", "[\"entity:alpha\"]", "entity:alpha"},
                    {"API_VIDEO", "review", "[\"type:video\"]", "type:video"},
                    {"API_LOGGED", "log", "[]", ""},
                    {"API_SURGE", "review", "[\"entity:beta\"]", "entity:beta"}};
static const char *const signal_labels[] = {"", "behaviour:recruitment", "behaviour:instruction"};

static struct {
    char dir[4096];
    api_server srv;
    char keys[N_KEYS][128];
    long long key_ids[N_KEYS];
    long long authority;
    long long incident;
    uint64_t rng;
    struct {
        int bank, label, md5;
        long long id;
        char value[65];
    } sig[N_SIGNALS];
} S;

typedef struct item {
    char content_id[64];
    int sigs[2], n_sigs;
    const char *source;
    long long case_id;
    char state[16];
    char queues[MAX_QUEUES][80];
    int n_queues;
} item;

static item items[N_ITEMS + N_REPORTS];
static int n_items;

/* ---- fixtures ---- */

static void random_hex(char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < digits; i++)
        out[i] = hex[test_rand(&S.rng) & 15];
    out[digits] = '\0';
}

static int group_setup(void **state)
{
    (void)state;
    static const char *const flags[] = {"--review-qa-share", "1", NULL};
    if (api_group_init(S.dir, sizeof S.dir, "api-review-data") != 0)
        return -1;
    api_server_start(&S.srv, S.dir, flags);
    snprintf(S.keys[ADMIN], sizeof S.keys[ADMIN], "%s", S.srv.admin);
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    json_t *me = api_call(&S.srv, 200, "GET", "/v1/me", S.keys[ADMIN], NULL);
    S.key_ids[ADMIN] = api_jint(me, "key_id");
    json_decref(me);
    for (int i = 1; i < N_KEYS; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"%s-%d\"}", key_roles[i],
                 key_roles[i], i);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.keys[ADMIN], body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", api_jstr(j, "key"));
        S.key_ids[i] = api_jint(j, "id");
        json_decref(j);
    }
    unsigned char pk[32], sk[64];
    S.authority = api_register_authority(&S.srv, S.keys[ADMIN], "Review Authority", NULL,
                                         S.key_ids[AUTHORITY], pk, sk);
    S.rng = 0x16b16bu;
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

/* ---- who am I ---- */

static void test_me(void **state)
{
    (void)state;
    for (int i = 0; i < N_KEYS; i++) {
        json_t *j = api_call(&S.srv, 200, "GET", "/v1/me", S.keys[i], NULL);
        assert_int_equal(api_jint(j, "key_id"), S.key_ids[i]);
        assert_string_equal(api_jstr(j, "role"), key_roles[i]);
        if (i)
            assert_non_null(strstr(api_jstr(j, "name"), key_roles[i]));
        json_t *a = json_object_get(j, "authority");
        if (i == AUTHORITY)
            assert_int_equal(json_integer_value(a), S.authority);
        else
            assert_true(json_is_null(a));
        json_t *p = json_object_get(j, "platform");
        if (i == PLATFORM)
            assert_int_equal(json_integer_value(p), S.key_ids[PLATFORM]);
        else
            assert_true(json_is_null(p));
        /* Never the key itself. */
        char *text = json_dumps(j, 0);
        assert_null(strstr(text, S.keys[i]));
        assert_null(strstr(text, S.keys[i] + 4));
        free(text);
        json_decref(j);
    }
    api_expect_error(&S.srv, 401, NULL, "GET", "/v1/me", NULL, NULL);
    api_expect_error(&S.srv, 401, NULL, "GET", "/v1/me", "tdk_0000", NULL);
    api_expect_error(&S.srv, 400, "unknown_query", "GET", "/v1/me?x=1", S.keys[AUDITOR], NULL);
}

/* ---- roles ---- */

static void test_roles(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *body;
        int moderator_only; /* else: admin, moderator, auditor */
    } routes[] = {
        {"GET", "/v1/queues", NULL, 0},
        {"GET", "/v1/settings/review-reasons", NULL, 0},
        {"GET", "/v1/qa", NULL, 0},
        {"GET", "/v1/content?uploader=nobody", NULL, 0},
        {"GET", "/v1/cases?queue=all", NULL, 0},
        {"POST", "/v1/qa/999999/decision", "{\"decision\": \"keep\", \"reason\": \"r\"}", 1},
    };
    for (size_t r = 0; r < sizeof routes / sizeof routes[0]; r++)
        for (int k = 0; k < N_KEYS; k++) {
            int allowed = k == ADMIN || k == MODERATOR || k == MODERATOR2 ||
                          (k == AUDITOR && !routes[r].moderator_only);
            api_resp resp;
            long st = api_http(&S.srv, routes[r].method, routes[r].path, S.keys[k], routes[r].body,
                               &resp);
            if (allowed ? (st == 403 || st == 401 || st >= 500) : st != 403)
                fail_msg("%s %s as %s: %ld %s", routes[r].method, routes[r].path, key_roles[k], st,
                         resp.body ? resp.body : "");
            api_resp_free(&resp);
        }
}

/* ---- queues ---- */

static void add_queue(item *it, const char *kind, const char *value)
{
    char id[80];
    if (!*value)
        return;
    assert_true(strlen(kind) + 1 + strlen(value) < sizeof id);
    snprintf(id, sizeof id, "%s:%.70s", kind, value);
    for (int i = 0; i < it->n_queues; i++)
        if (strcmp(it->queues[i], id) == 0)
            return;
    assert_true(it->n_queues < MAX_QUEUES);
    snprintf(it->queues[it->n_queues++], sizeof it->queues[0], "%s", id);
}

static int in_queue(const item *it, const char *id)
{
    if (strcmp(id, "all") == 0)
        return 1;
    for (int i = 0; i < it->n_queues; i++)
        if (strcmp(it->queues[i], id) == 0)
            return 1;
    return 0;
}

static void make_banks(void)
{
    char body[512], path[128];
    for (int b = 0; b < N_BANKS; b++) {
        snprintf(body, sizeof body, "{\"name\": \"%s\", \"action\": \"%s\", \"labels\": %s}",
                 banks[b].name, banks[b].action, banks[b].labels);
        json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.keys[MODERATOR], body));
    }
    for (int i = 0; i < N_SIGNALS; i++) {
        S.sig[i].bank = i % N_BANKS;
        S.sig[i].label = (int)(test_rand(&S.rng) % 3);
        S.sig[i].md5 = (i / N_BANKS) % 2;
        random_hex(S.sig[i].value, S.sig[i].md5 ? 32 : 64);
        const char *l = signal_labels[S.sig[i].label];
        snprintf(body, sizeof body, "{\"type\": \"%s\", \"value\": \"%s\", \"labels\": [%s%s%s]}",
                 S.sig[i].md5 ? "md5" : "sha256", S.sig[i].value, *l ? "\"" : "", l,
                 *l ? "\"" : "");
        snprintf(path, sizeof path, "/v1/banks/%s/signals", banks[S.sig[i].bank].name);
        json_t *j = api_call(&S.srv, 201, "POST", path, S.keys[MODERATOR], body);
        S.sig[i].id = api_jint(j, "id");
        json_decref(j);
    }
    /* An incident on API_SURGE: its matches are reviewed at top priority and name it. */
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/incidents", S.keys[MODERATOR],
                         "{\"name\": \"surge\", \"level\": \"cip\", \"filter\": {\"banks\":"
                         " [\"API_SURGE\"]}, \"enforcement\": \"review\"}");
    S.incident = api_jint(j, "id");
    json_decref(j);
}

static void expect_queues_of(item *it)
{
    for (int k = 0; k < it->n_sigs; k++) {
        int s = it->sigs[k], b = S.sig[s].bank;
        char labels[128];
        add_queue(it, "bank", banks[b].name);
        snprintf(labels, sizeof labels, "%s", banks[b].label_list);
        add_queue(it, "label", labels);
        add_queue(it, "label", signal_labels[S.sig[s].label]);
        if (b == 3) {
            char num[24];
            snprintf(num, sizeof num, "%lld", S.incident);
            add_queue(it, "incident", num);
        }
    }
}

/* Content with one SHA-256 and maybe one MD5 signal's value. */
static void submit_item(int i, const char *uploader)
{
    item *it = &items[n_items++];
    memset(it, 0, sizeof *it);
    int sha = -1, md5 = -1;
    for (int tries = 0; sha < 0 || (md5 < 0 && tries < 50); tries++) {
        int s = (int)(test_rand(&S.rng) % N_SIGNALS);
        if (!S.sig[s].md5 && sha < 0)
            sha = s;
        else if (S.sig[s].md5 && md5 < 0 && test_rand(&S.rng) % 2)
            md5 = s;
    }
    it->sigs[it->n_sigs++] = sha;
    if (md5 >= 0)
        it->sigs[it->n_sigs++] = md5;
    snprintf(it->content_id, sizeof it->content_id, "review-item-%d", i);
    it->source = "upload";
    char body[512];
    snprintf(body, sizeof body,
             "{\"content_id\": \"%s\", \"uploader\": \"%s\", \"url\": \"https://x.example/%d\","
             " \"hashes\": {\"sha256\": \"%s\"%s%s%s}}",
             it->content_id, uploader, i, S.sig[sha].value, md5 >= 0 ? ", \"md5\": \"" : "",
             md5 >= 0 ? S.sig[md5].value : "", md5 >= 0 ? "\"" : "");
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/content", S.keys[PLATFORM], body);
    int review = 0;
    for (int k = 0; k < it->n_sigs; k++)
        review |= strcmp(banks[S.sig[it->sigs[k]].bank].action, "review") == 0;
    json_t *kase = json_object_get(j, "case");
    assert_int_equal(json_is_object(kase), review);
    if (review) {
        it->case_id = api_jint(kase, "id");
        snprintf(it->state, sizeof it->state, "open");
        add_queue(it, "source", "upload");
        expect_queues_of(it);
    }
    json_decref(j);
}

/* An E2EE report (docs/e2ee.md): a flagged case whose content's source is e2ee_report. */
static void submit_report(const char *text)
{
    item *it = &items[n_items++];
    memset(it, 0, sizeof *it);
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
             "{\"franking_tag\": \"%s\", \"sender\": \"sender-1\", \"conversation\": \"room\","
             " \"accepted_ms\": 1717200000000}",
             tag_hex);
    json_t *p = api_call(&S.srv, 200, "POST", "/v1/frank", S.keys[PLATFORM], body);
    snprintf(body, sizeof body,
             "{\"reporter\": \"reporter\", \"messages\": [{\"text\": \"%s\", \"salt\": \"%s\","
             " \"sender\": \"sender-1\", \"conversation\": \"room\", \"accepted_ms\":"
             " 1717200000000, \"key_id\": %lld, \"frank\": \"%s\", \"signature\": \"%s\"}]}",
             text, salt_hex, (long long)api_jint(p, "key_id"), api_jstr(p, "frank"),
             api_jstr(p, "signature"));
    json_decref(p);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/reports", S.keys[PLATFORM], body);
    json_t *r = json_array_get(json_object_get(j, "reports"), 0);
    snprintf(it->content_id, sizeof it->content_id, "%s", api_jstr(r, "content_id"));
    json_decref(j);
    char path[160];
    snprintf(path, sizeof path, "/v1/content/%s", it->content_id);
    j = api_call(&S.srv, 200, "GET", path, S.keys[ADMIN], NULL);
    assert_string_equal(api_jstr(j, "source"), "e2ee_report");
    it->case_id = api_jint(json_object_get(j, "case"), "id");
    assert_true(it->case_id > 0);
    json_decref(j);
    snprintf(it->state, sizeof it->state, "open");
    it->source = "e2ee_report";
    add_queue(it, "source", "e2ee_report");
}

static int undecided(const item *it) { return it->case_id && strcmp(it->state, "closed") != 0; }

static void compare_queues(void)
{
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/queues", S.keys[AUDITOR], NULL);
    json_t *qs = json_object_get(j, "queues");
    assert_true(json_array_size(qs) >= 10);
    assert_string_equal(api_jstr(json_array_get(qs, 0), "id"), "all");
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q)
    {
        const char *id = api_jstr(q, "id");
        long long open = 0, claimed = 0, escalated = 0;
        for (int k = 0; k < n_items; k++) {
            if (!undecided(&items[k]) || !in_queue(&items[k], id))
                continue;
            open += strcmp(items[k].state, "open") == 0;
            claimed += strcmp(items[k].state, "claimed") == 0;
            escalated += strcmp(items[k].state, "escalated") == 0;
        }
        if (api_jint(q, "open") != open || api_jint(q, "claimed") != claimed ||
            api_jint(q, "escalated") != escalated)
            fail_msg("queue %s: %lld/%lld/%lld, expected %lld/%lld/%lld", id,
                     (long long)api_jint(q, "open"), (long long)api_jint(q, "claimed"),
                     (long long)api_jint(q, "escalated"), open, claimed, escalated);
        assert_true(open + claimed + escalated > 0);
        assert_true(json_is_string(json_object_get(q, "oldest_at")));
        assert_true(api_jint(q, "oldest_age_s") >= 0);
        const char *colon = strchr(id, ':');
        if (i == 0) {
            assert_string_equal(api_jstr(q, "kind"), "all");
            assert_true(json_is_null(json_object_get(q, "value")));
        } else {
            assert_non_null(colon);
            assert_int_equal(strlen(api_jstr(q, "kind")), (size_t)(colon - id));
            assert_memory_equal(api_jstr(q, "kind"), id, (size_t)(colon - id));
            assert_string_equal(api_jstr(q, "value"), colon + 1);
        }
        /* The filter lists the queue's cases, each with its queues. */
        char path[256], *esc = curl_easy_escape(NULL, id, 0);
        snprintf(path, sizeof path, "/v1/cases?queue=%s&state=all&limit=1000", esc);
        curl_free(esc);
        json_t *cl = api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL);
        json_t *cases = json_object_get(cl, "cases");
        size_t expect = 0;
        for (int k = 0; k < n_items; k++)
            expect += items[k].case_id && in_queue(&items[k], id);
        assert_int_equal(json_array_size(cases), expect);
        size_t ci;
        json_t *c;
        json_array_foreach(cases, ci, c)
        {
            int k = 0;
            while (k < n_items && items[k].case_id != api_jint(c, "id"))
                k++;
            assert_true(k < n_items);
            assert_true(in_queue(&items[k], id));
            assert_string_equal(api_jstr(c, "state"), items[k].state);
            json_t *cq = json_object_get(c, "queues");
            assert_int_equal(json_array_size(cq), (size_t)items[k].n_queues);
            for (size_t x = 0; x < json_array_size(cq); x++)
                assert_true(in_queue(&items[k], json_string_value(json_array_get(cq, x))));
        }
        json_decref(cl);
    }
    /* Every queue of an undecided case is listed. */
    for (int k = 0; k < n_items; k++)
        for (int x = 0; undecided(&items[k]) && x < items[k].n_queues; x++) {
            size_t y = 0;
            while (y < json_array_size(qs) &&
                   strcmp(api_jstr(json_array_get(qs, y), "id"), items[k].queues[x]) != 0)
                y++;
            if (y == json_array_size(qs))
                fail_msg("queue %s is missing", items[k].queues[x]);
        }
    json_decref(j);
}

static void decide(int k, int who, const char *decision, const char *code, long expect)
{
    char path[96], body[256];
    snprintf(path, sizeof path, "/v1/cases/%lld/decision", items[k].case_id);
    snprintf(body, sizeof body, "{\"decision\": \"%s\", \"reason\": \"seen %d\"%s%s%s}", decision,
             k, code ? ", \"reason_code\": \"" : "", code ? code : "", code ? "\"" : "");
    json_t *j = api_call(&S.srv, expect, "POST", path, S.keys[who], body);
    if (expect == 201) {
        if (code)
            assert_string_equal(api_jstr(j, "reason_code"), code);
        else
            assert_true(json_is_null(json_object_get(j, "reason_code")));
        snprintf(items[k].state, sizeof items[k].state, "%s",
                 strcmp(decision, "escalate") == 0 ? "escalated" : "closed");
    }
    json_decref(j);
}

static void test_queues(void **state)
{
    (void)state;
    make_banks();
    for (int i = 0; i < N_ITEMS; i++)
        submit_item(i, i % 3 == 0 ? "alice" : "bob");
    for (int i = 0; i < N_REPORTS; i++)
        submit_report(i ? "second reported message" : "first reported message");
    compare_queues();
    int moved = 0;
    for (int k = 0; k < n_items; k++) {
        if (!items[k].case_id)
            continue;
        char path[96];
        switch (moved++ % 4) {
        case 0: break;
        case 1:
            snprintf(path, sizeof path, "/v1/cases/%lld/claim", items[k].case_id);
            json_decref(api_call(&S.srv, 200, "POST", path, S.keys[MODERATOR], NULL));
            snprintf(items[k].state, sizeof items[k].state, "claimed");
            break;
        case 2: decide(k, MODERATOR, "escalate", NULL, 201); break;
        default: decide(k, MODERATOR, moved % 8 == 0 ? "keep" : "remove", "incitement", 201);
        }
    }
    assert_true(moved >= 8);
    compare_queues();
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/cases?queue=colour:red",
                     S.keys[MODERATOR], NULL);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/cases?queue=incident:abc",
                     S.keys[MODERATOR], NULL);
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/cases?queue=bank:NOPE", S.keys[MODERATOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "cases")), 0);
    json_decref(j);
}

/* ---- reasons and QA ---- */

static int find_open(void)
{
    for (int k = 0; k < n_items; k++)
        if (items[k].case_id && strcmp(items[k].state, "open") == 0)
            return k;
    fail_msg("no open case left");
    return -1;
}

static json_t *qa_of_case(long long case_id, const char *state)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/qa%s%s", state ? "?state=" : "", state ? state : "");
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    json_t *list = json_object_get(j, "qa"), *found = NULL, *q;
    size_t i;
    long long prev = -1;
    json_array_foreach(list, i, q)
    {
        if (prev >= 0)
            assert_true(api_jint(q, "id") < prev); /* newest first */
        prev = api_jint(q, "id");
        if (state)
            assert_string_equal(api_jstr(q, "state"), state);
        if (api_jint(q, "case_id") == case_id)
            found = json_incref(q);
    }
    json_decref(j);
    return found;
}

static void test_reasons_and_qa(void **state)
{
    (void)state;
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/settings/review-reasons", S.keys[AUDITOR], NULL);
    static const char *const tco[] = {"incitement",  "solicitation", "participation",
                                      "instruction", "threat",       "not_terrorist_content",
                                      "other"};
    json_t *rs = json_object_get(j, "reasons");
    assert_int_equal(json_array_size(rs), 7);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(api_jstr(json_array_get(rs, i), "code"), tco[i]);
        assert_true(strlen(api_jstr(json_array_get(rs, i), "label")) > 0);
    }
    json_decref(j);
    /* An unknown code: 422 naming the field, nothing recorded. */
    int k = find_open();
    char path[96];
    snprintf(path, sizeof path, "/v1/cases/%lld/decision", items[k].case_id);
    api_expect_error_ex(&S.srv, 422, "unknown_reason_code", "reason_code", "POST", path,
                        S.keys[MODERATOR],
                        "{\"decision\": \"remove\", \"reason\": \"x\", \"reason_code\": \"nope\"}",
                        strlen("{\"decision\": \"remove\", \"reason\": \"x\", \"reason_code\":"
                               " \"nope\"}"),
                        NULL);
    api_expect_error(&S.srv, 400, "invalid_type", "POST", path, S.keys[MODERATOR],
                     "{\"decision\": \"remove\", \"reason\": \"x\", \"reason_code\": 3}");
    decide(k, MODERATOR, "remove", "threat", 201);
    snprintf(path, sizeof path, "/v1/cases/%lld", items[k].case_id);
    j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    json_t *ds = json_object_get(j, "decisions");
    assert_int_equal(json_array_size(ds), 1);
    assert_string_equal(api_jstr(json_array_get(ds, 0), "reason_code"), "threat");
    assert_true(json_is_array(json_object_get(j, "queues")));
    json_decref(j);
    /* QA at share 1: the decision is pending a second review. */
    json_t *q = qa_of_case(items[k].case_id, "pending");
    assert_non_null(q);
    long long qa_id = api_jint(q, "id");
    json_t *first = json_object_get(q, "first");
    assert_string_equal(api_jstr(first, "decision"), "remove");
    assert_string_equal(api_jstr(first, "reason_code"), "threat");
    assert_string_equal(api_jstr(json_object_get(first, "by"), "name"), "moderator-1");
    assert_true(json_is_string(json_object_get(first, "at")));
    assert_true(json_is_null(json_object_get(q, "second")));
    assert_string_equal(api_jstr(q, "content_id"), items[k].content_id);
    json_decref(q);
    char qpath[96];
    snprintf(qpath, sizeof qpath, "/v1/qa/%lld/decision", qa_id);
    api_expect_error(&S.srv, 409, "same_reviewer", "POST", qpath, S.keys[MODERATOR],
                     "{\"decision\": \"remove\", \"reason\": \"mine\"}");
    api_expect_error(&S.srv, 403, NULL, "POST", qpath, S.keys[AUDITOR],
                     "{\"decision\": \"remove\", \"reason\": \"x\"}");
    api_expect_error(&S.srv, 400, "invalid_value", "POST", qpath, S.keys[MODERATOR2],
                     "{\"decision\": \"escalate\", \"reason\": \"x\"}");
    api_expect_error(&S.srv, 400, "missing_field", "POST", qpath, S.keys[MODERATOR2],
                     "{\"decision\": \"keep\"}");
    api_expect_error(&S.srv, 400, "unknown_field", "POST", qpath, S.keys[MODERATOR2],
                     "{\"decision\": \"keep\", \"reason\": \"x\", \"note\": \"y\"}");
    api_expect_error_ex(&S.srv, 422, "unknown_reason_code", "reason_code", "POST", qpath,
                        S.keys[MODERATOR2],
                        "{\"decision\": \"keep\", \"reason\": \"x\", \"reason_code\": \"zz\"}",
                        strlen("{\"decision\": \"keep\", \"reason\": \"x\", \"reason_code\":"
                               " \"zz\"}"),
                        NULL);
    j = api_call(&S.srv, 200, "POST", qpath, S.keys[MODERATOR2],
                 "{\"decision\": \"keep\", \"reason\": \"satire\", \"reason_code\":"
                 " \"not_terrorist_content\"}");
    assert_string_equal(api_jstr(j, "state"), "disagreed");
    json_t *second = json_object_get(j, "second");
    assert_string_equal(api_jstr(second, "decision"), "keep");
    assert_string_equal(api_jstr(second, "reason_code"), "not_terrorist_content");
    assert_string_equal(api_jstr(json_object_get(second, "by"), "name"), "moderator-2");
    json_decref(j);
    api_expect_error(&S.srv, 409, "already_reviewed", "POST", qpath, S.keys[ADMIN],
                     "{\"decision\": \"keep\", \"reason\": \"late\"}");
    api_expect_error(&S.srv, 404, "not_found", "POST", "/v1/qa/999999/decision", S.keys[ADMIN],
                     "{\"decision\": \"keep\", \"reason\": \"late\"}");
    /* The case keeps its decision. */
    j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
    assert_string_equal(api_jstr(j, "state"), "closed");
    assert_string_equal(api_jstr(j, "outcome"), "remove");
    json_decref(j);
    q = qa_of_case(items[k].case_id, "disagreed");
    assert_non_null(q);
    json_decref(q);
    assert_null(qa_of_case(items[k].case_id, "pending"));
    /* Agreement. */
    k = find_open();
    decide(k, MODERATOR2, "keep", NULL, 201);
    q = qa_of_case(items[k].case_id, "pending");
    assert_non_null(q);
    snprintf(qpath, sizeof qpath, "/v1/qa/%lld/decision", (long long)api_jint(q, "id"));
    json_decref(q);
    j = api_call(&S.srv, 200, "POST", qpath, S.keys[ADMIN],
                 "{\"decision\": \"keep\", \"reason\": \"agreed\"}");
    assert_string_equal(api_jstr(j, "state"), "agreed");
    json_decref(j);
    q = qa_of_case(items[k].case_id, "agreed");
    assert_non_null(q);
    json_decref(q);
    q = qa_of_case(items[k].case_id, NULL);
    assert_non_null(q);
    json_decref(q);
    api_expect_error(&S.srv, 400, "invalid_query", "GET", "/v1/qa?state=open", S.keys[AUDITOR],
                     NULL);
    api_expect_error(&S.srv, 400, "unknown_query", "GET", "/v1/qa?page=2", S.keys[AUDITOR], NULL);
    /* The transparency report counts remove decisions by reason code. */
    j = api_call(&S.srv, 200, "GET",
                 "/v1/reports/transparency?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
                 S.keys[AUDITOR], NULL);
    json_t *own = json_object_get(json_object_get(j, "items_removed"), "after_own_measures");
    json_t *by = json_object_get(own, "review_decisions_by_reason_code");
    long long sum = 0, threat = 0;
    const char *code;
    json_t *v;
    json_object_foreach(by, code, v)
    {
        sum += json_integer_value(v);
        if (strcmp(code, "threat") == 0)
            threat = json_integer_value(v);
    }
    assert_int_equal(sum, api_jint(own, "review_decisions"));
    assert_int_equal(threat, 1);
    json_decref(j);
}

/* ---- an uploader's content, a signal's decisions ---- */

static void test_uploader_and_history(void **state)
{
    (void)state;
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/content?uploader=alice", S.keys[AUDITOR], NULL);
    json_t *list = json_object_get(j, "content");
    size_t expect = 0;
    for (int i = 0; i < N_ITEMS; i++)
        expect += i % 3 == 0;
    assert_int_equal(json_array_size(list), expect);
    size_t i;
    json_t *c;
    int last = N_ITEMS;
    json_array_foreach(list, i, c)
    {
        int n = -1;
        assert_int_equal(sscanf(api_jstr(c, "id"), "review-item-%d", &n), 1);
        assert_true(n % 3 == 0 && n < last); /* newest first */
        last = n;
        assert_string_equal(api_jstr(c, "source"), "upload");
        assert_true(json_is_string(json_object_get(c, "received_at")));
        assert_int_equal(api_jint(c, "matches"), items[n].n_sigs);
        if (items[n].case_id) {
            assert_int_equal(api_jint(c, "case_id"), items[n].case_id);
            assert_string_equal(api_jstr(c, "case_state"), items[n].state);
        } else {
            assert_true(json_is_null(json_object_get(c, "case_id")));
        }
        assert_int_equal(json_is_string(json_object_get(c, "decision")),
                         strcmp(items[n].state, "closed") == 0 ||
                             strcmp(items[n].state, "escalated") == 0);
    }
    json_decref(j);
    j = api_call(&S.srv, 200, "GET", "/v1/content?uploader=alice&limit=2&offset=1",
                 S.keys[MODERATOR], NULL);
    assert_int_equal(json_array_size(json_object_get(j, "content")), 2);
    json_decref(j);
    api_expect_error(&S.srv, 400, "missing_query", "GET", "/v1/content", S.keys[AUDITOR], NULL);
    api_expect_error(&S.srv, 403, NULL, "GET", "/v1/content?uploader=alice", S.keys[PLATFORM],
                     NULL);
    /* Each signal's decisions: those of cases whose content matched it, newest first. */
    for (int s = 0; s < N_SIGNALS; s++) {
        char path[160];
        snprintf(path, sizeof path, "/v1/banks/%s/signals/%lld/decisions",
                 banks[S.sig[s].bank].name, S.sig[s].id);
        j = api_call(&S.srv, 200, "GET", path, S.keys[AUDITOR], NULL);
        json_t *ds = json_object_get(j, "decisions");
        size_t want = 0;
        for (int k = 0; k < n_items; k++) {
            int matched = 0;
            for (int x = 0; x < items[k].n_sigs; x++)
                matched |= items[k].sigs[x] == s && items[k].source[0] == 'u';
            if (matched && items[k].case_id && strcmp(items[k].state, "open") != 0 &&
                strcmp(items[k].state, "claimed") != 0)
                want++;
        }
        assert_int_equal(json_array_size(ds), want);
        json_t *d;
        long long prev = -1;
        json_array_foreach(ds, i, d)
        {
            if (prev >= 0)
                assert_true(api_jint(d, "decided_ms") <= prev);
            prev = api_jint(d, "decided_ms");
            int k = 0;
            while (k < n_items && items[k].case_id != api_jint(d, "case_id"))
                k++;
            assert_true(k < n_items);
            assert_string_equal(api_jstr(d, "content_id"), items[k].content_id);
            assert_true(json_is_string(json_object_get(d, "at")));
        }
        json_decref(j);
    }
    char path[160];
    snprintf(path, sizeof path, "/v1/banks/API_VIDEO/signals/%lld/decisions", S.sig[0].id);
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[AUDITOR], NULL);
    api_expect_error(&S.srv, 403, NULL, "GET", path, S.keys[PLATFORM], NULL);
}

/* ---- configuration checked at start ---- */

static void test_config_refused(void **state)
{
    (void)state;
    static const char *const bad[][2] = {{"--review-reasons", "Bad Code=x"},
                                         {"--review-reasons", "a=x;a=y"},
                                         {"--review-qa-share", "1.5"},
                                         {"--review-qa-share", "-0.1"},
                                         {"--review-qa-share", "half"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s-bad-%zu", S.dir, i);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
            execl(TD_CLI_PATH, "takedown", "serve", "--listen", "127.0.0.1:0", "--data", dir,
                  bad[i][0], bad[i][1], (char *)NULL);
            _exit(127);
        }
        int status = 0;
        double until = api_now_s() + 20;
        pid_t w;
        while ((w = waitpid(pid, &status, WNOHANG)) == 0 && api_now_s() < until)
            api_sleep_ms(20);
        if (w == 0) {
            kill(pid, 9);
            waitpid(pid, &status, 0);
            fail_msg("takedown serve %s '%s' started", bad[i][0], bad[i][1]);
        }
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 127);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_me),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_queues),
        cmocka_unit_test(test_reasons_and_qa),
        cmocka_unit_test(test_uploader_and_history),
        cmocka_unit_test(test_config_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
