/* The HMA listener and HMA's core routes against real `takedown serve` processes (docs/hma.md,
 * "Where the routes are served", "Core routes"):
 *
 * - off by default: a server started without hma_listen prints no HMA address;
 * - on hma_listen only the HMA routes exist: takedown's own routes are 404 in HMA's shape, even
 *   with a valid key;
 * - a request without a key acts with hma_role and never more (a platform role gets 403 on
 *   curation writes and exchanges, a moderator role may create banks, not delete them); a
 *   request with a key is authenticated as on the main listener (a wrong key is 401);
 * - on the main listener the HMA routes still need a key, and "/" is still the console;
 * - the limits and metrics of the main listener apply (a body over max_body_bytes is 413, the
 *   requests are counted under their routes);
 * - what a keyless request changes is audited with the actor "hma_listen";
 * - HMA's core routes: /status and /status/live as HMA's tests assert them, / redirecting to
 *   /status, /site-map sorted with one entry per path, /openapi/openapi.json titled "Open Media
 *   Match API" and listing exactly the HMA routes of the router's table (td_server_routes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/server.h"

static struct {
    char dir_p[4096], dir_m[4096], dir_off[4096];
    api_server plat;   /* hma_listen with the default role (platform) */
    api_server mod;    /* hma_listen with hma_role moderator */
    api_server hp, hm; /* their HMA listeners (no process of their own) */
} S;

static void hma_of(const api_server *srv, api_server *out)
{
    memset(out, 0, sizeof *out);
    assert_true(strncmp(srv->hma, "http://127.0.0.1:", 17) == 0);
    snprintf(out->base, sizeof out->base, "%s", srv->hma);
}

static int group_setup(void **state)
{
    (void)state;
    static const char *const plat[] = {"--hma-listen", "127.0.0.1:0", "--max-body-bytes", "4096",
                                       NULL};
    static const char *const mod[] = {"--hma-listen", "127.0.0.1:0", "--hma-role", "moderator",
                                      NULL};
    if (api_group_init(S.dir_p, sizeof S.dir_p, "hma-listen-platform") != 0 ||
        api_group_init(S.dir_m, sizeof S.dir_m, "hma-listen-moderator") != 0 ||
        api_group_init(S.dir_off, sizeof S.dir_off, "hma-listen-off") != 0)
        return -1;
    api_server_start(&S.plat, S.dir_p, plat);
    api_server_start(&S.mod, S.dir_m, mod);
    hma_of(&S.plat, &S.hp);
    hma_of(&S.mod, &S.hm);
    return strncmp(S.plat.admin, "tdk_", 4) == 0 && strncmp(S.mod.admin, "tdk_", 4) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.plat.pid)
        api_server_stop(&S.plat);
    if (S.mod.pid)
        api_server_stop(&S.mod);
    return 0;
}

/* An answer in HMA's error shape: {"message": "..."} alone. */
static void expect_hma_error(const api_server *srv, long status, const char *method,
                             const char *path, const char *key, const char *json)
{
    api_resp r;
    long got = api_http(srv, method, path, key, json, &r);
    if (got != status)
        fail_msg("%s %s%s: %ld, expected %ld (%s)", method, srv->base, path, got, status,
                 r.body ? r.body : "");
    json_t *j = api_parse_or_fail(method, path, &r);
    if (!json_is_string(json_object_get(j, "message")) || json_object_size(j) != 1)
        fail_msg("%s %s: not HMA's error shape: %s", method, path, r.body);
    json_decref(j);
    api_resp_free(&r);
}

/* Plain text answer. */
static void expect_text(const api_server *srv, long status, const char *path, const char *text)
{
    api_resp r;
    assert_int_equal(api_http(srv, "GET", path, NULL, NULL, &r), status);
    assert_non_null(r.body);
    assert_string_equal(r.body, text);
    api_resp_free(&r);
}

static void test_off_by_default(void **state)
{
    (void)state;
    api_server off;
    api_server_start(&off, S.dir_off, NULL);
    assert_string_equal(off.hma, "");
    /* Its HMA routes answer on the main listener, with a key. */
    expect_hma_error(&off, 401, "GET", "/c/banks", NULL, NULL);
    json_decref(api_call(&off, 200, "GET", "/c/banks", off.admin, NULL));
    api_server_stop(&off);
}

/* takedown serve refuses a role outside the four a keyless request may have, and a malformed
 * address, before it binds anything (exit status 2, a usage error). */
static void test_bad_options(void **state)
{
    (void)state;
    static const char *const bad[] = {"--hma-listen 127.0.0.1:0 --hma-role custodian",
                                      "--hma-listen 127.0.0.1:0 --hma-role authority",
                                      "--hma-listen 127.0.0.1:0 --hma-role nobody",
                                      "--hma-listen localhost", "--hma-listen 127.0.0.1:99999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "'%s' serve --listen 127.0.0.1:0 --data '%s' %s >/dev/null 2>&1 </dev/null",
                 TD_CLI_PATH, S.dir_off, bad[i]);
        int st = system(cmd);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 2)
            fail_msg("takedown serve %s: status %d, expected exit 2", bad[i], st);
    }
}

static void test_only_hma_routes(void **state)
{
    (void)state;
    static const char *const takedown_paths[] = {"/v1/banks",    "/healthz",         "/readyz",
                                                 "/metrics",     "/v1/openapi.yaml", "/console.js",
                                                 "/v1/exchanges"};
    for (size_t i = 0; i < sizeof takedown_paths / sizeof takedown_paths[0]; i++) {
        expect_hma_error(&S.hp, 404, "GET", takedown_paths[i], NULL, NULL);
        expect_hma_error(&S.hp, 404, "GET", takedown_paths[i], S.plat.admin, NULL);
    }
    expect_hma_error(&S.hp, 404, "POST", "/v1/check", S.plat.admin, "{\"pdq\": \"00\"}");
    /* A known HMA path with another method: 405. */
    expect_hma_error(&S.hp, 405, "POST", "/status", NULL, NULL);
    expect_hma_error(&S.hp, 405, "DELETE", "/", NULL, NULL);
    /* The main listener still has everything. */
    json_decref(api_call(&S.plat, 200, "GET", "/v1/banks", S.plat.admin, NULL));
}

static void test_keyless_platform_role(void **state)
{
    (void)state;
    /* A route every role may call answers without a key (its answer is the matching part's,
     * tested by its own program). */
    api_resp r;
    static const char pair[] =
        "{\"pdq\": [\"facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318\", "
        "\"facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318\"]}";
    assert_int_equal(api_http(&S.hp, "POST", "/m/compare", NULL, pair, &r), 200);
    api_resp_free(&r);
    json_t *j;
    /* A platform reads banks; it creates, changes or deletes nothing, and sees no exchange. */
    json_decref(api_call(&S.hp, 200, "GET", "/c/banks", NULL, NULL));
    expect_hma_error(&S.hp, 403, "POST", "/c/banks", NULL, "{\"name\": \"KEYLESS\"}");
    expect_hma_error(&S.hp, 403, "DELETE", "/c/bank/KEYLESS", NULL, NULL);
    expect_hma_error(&S.hp, 403, "GET", "/c/exchanges", NULL, NULL);
    expect_hma_error(&S.hp, 403, "POST", "/c/exchanges/api/fb_threatexchange", NULL,
                     "{\"credential_json\": {}}");
    /* With a key, the key's role: the admin creates the bank (HMA's create_bank assertion). */
    j = api_call(&S.hp, 201, "POST", "/c/banks", S.plat.admin, "{\"name\": \"VIA_HMA\"}");
    assert_string_equal(api_jstr(j, "name"), "VIA_HMA");
    assert_true(json_real_value(json_object_get(j, "matching_enabled_ratio")) == 1.0);
    json_decref(j);
    /* A wrong key is refused, not taken for a keyless request. */
    expect_hma_error(&S.hp, 401, "GET", "/c/banks", "tdk_0000", NULL);
    /* A platform key acts as itself: still no bank creation. */
    j = api_call(&S.plat, 201, "POST", "/v1/keys", S.plat.admin,
                 "{\"role\": \"platform\", \"name\": \"hma-platform\"}");
    char key[128];
    snprintf(key, sizeof key, "%s", api_jstr(j, "key"));
    json_decref(j);
    expect_hma_error(&S.hp, 403, "POST", "/c/banks", key, "{\"name\": \"BY_PLATFORM\"}");
}

static void test_keyless_moderator_role(void **state)
{
    (void)state;
    json_t *j = api_call(&S.hm, 201, "POST", "/c/banks", NULL, "{\"name\": \"MOD_BANK\"}");
    assert_string_equal(api_jstr(j, "name"), "MOD_BANK");
    json_decref(j);
    /* Deleting a bank and the exchanges are the admin's: the role is never exceeded. */
    expect_hma_error(&S.hm, 403, "DELETE", "/c/bank/MOD_BANK", NULL, NULL);
    expect_hma_error(&S.hm, 403, "GET", "/c/exchanges/apis", NULL, NULL);
    json_decref(api_call(&S.hm, 200, "GET", "/c/bank/MOD_BANK", NULL, NULL));
}

static void test_main_listener_needs_key(void **state)
{
    (void)state;
    expect_hma_error(&S.plat, 401, "GET", "/c/banks", NULL, NULL);
    expect_hma_error(&S.plat, 401, "POST", "/m/compare", NULL, "{\"pdq\": []}");
    /* "/" is the console there. */
    api_resp r;
    assert_int_equal(api_http(&S.plat, "GET", "/", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.ctype, "text/html"));
    api_resp_free(&r);
}

static void test_same_limits_and_metrics(void **state)
{
    (void)state;
    char big[6000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"name\": \"BIG\"}", 15);
    expect_hma_error(&S.hp, 413, "POST", "/c/banks", S.plat.admin, big);
    expect_text(&S.hp, 200, "/status/live", "I-AM-ALIVE");
    api_resp r;
    assert_int_equal(api_http(&S.plat, "GET", "/metrics", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "route=\"/status/live\""));
    assert_non_null(strstr(r.body, "route=\"/c/banks\""));
    api_resp_free(&r);
}

static void test_core_routes(void **state)
{
    (void)state;
    /* HMA's test_status_response and test_status_live_always_alive, once the index is loaded. */
    expect_text(&S.hp, 200, "/status", "I-AM-ALIVE");
    expect_text(&S.hp, 200, "/status/live", "I-AM-ALIVE");
    expect_text(&S.plat, 200, "/status/live", "I-AM-ALIVE");
    /* A query parameter no core route takes is refused by name, not ignored. */
    expect_hma_error(&S.hp, 400, "GET", "/status/live?verbose=1", NULL, NULL);
    expect_hma_error(&S.hp, 400, "GET", "/site-map?format=xml", NULL, NULL);
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    char *loc = ctx;
    size_t len = size * n;
    static const char name[] = "location:";
    if (len > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
        size_t o = sizeof name - 1;
        while (o < len && p[o] == ' ')
            o++;
        size_t k = 0;
        while (o < len && p[o] != '\r' && p[o] != '\n' && k < 127)
            loc[k++] = p[o++];
        loc[k] = '\0';
    }
    return len;
}

static size_t on_discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p, (void)ctx;
    return size * n;
}

/* GET / on the HMA listener, as a browser would: 302 with Location /status (HMA's home without
 * its UI), and following it ends on I-AM-ALIVE. */
static void test_home_redirects(void **state)
{
    (void)state;
    char url[256], loc[128] = "";
    snprintf(url, sizeof url, "%s/", S.hp.base);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    long code = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, loc);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    assert_int_equal(code, 302);
    assert_string_equal(loc, "/status");
    expect_text(&S.hp, 200, loc, "I-AM-ALIVE");
}

/* The HMA routes of the router's own table (td_server_routes), as "METHOD path". */
static size_t hma_routes(char out[][160], size_t cap)
{
    size_t n, k = 0;
    const td_server_route_info *routes = td_server_routes(&n);
    for (size_t i = 0; i < n; i++)
        if (routes[i].hma) {
            assert_true(k < cap);
            snprintf(out[k++], 160, "%s %s", routes[i].method, routes[i].pattern);
        }
    return k;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

static void test_openapi_lists_hma_routes(void **state)
{
    (void)state;
    static char want[128][160], got[128][160];
    size_t nw = hma_routes(want, 128);
    assert_true(nw >= 20);
    /* On the HMA listener: HMA's routes and its home page. */
    snprintf(want[nw++], 160, "GET /");
    json_t *doc = api_call(&S.hp, 200, "GET", "/openapi/openapi.json", NULL, NULL);
    assert_string_equal(api_jstr(json_object_get(doc, "info"), "title"), "Open Media Match API");
    size_t ng = 0;
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            assert_true(ng < 128);
            char up[16];
            size_t i = 0;
            for (; method[i] && i < 15; i++)
                up[i] = (char)(method[i] - 32);
            up[i] = '\0';
            snprintf(got[ng++], 160, "%s %s", up, path);
        }
    }
    json_decref(doc);
    qsort(want, nw, sizeof want[0], cmp_str);
    qsort(got, ng, sizeof got[0], cmp_str);
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < nw; i++)
        assert_string_equal(got[i], want[i]);
    /* The main listener documents the same HMA routes, without the HMA home page. */
    doc = api_call(&S.plat, 200, "GET", "/openapi/openapi.json", NULL, NULL);
    assert_null(json_object_get(json_object_get(doc, "paths"), "/"));
    assert_non_null(json_object_get(json_object_get(doc, "paths"), "/c/exchanges"));
    json_decref(doc);
}

static void test_site_map(void **state)
{
    (void)state;
    /* The distinct paths of the HMA routes, in Flask's syntax, and "/": sorted, once each. */
    static char want[128][160];
    size_t n, k = 0;
    const td_server_route_info *routes = td_server_routes(&n);
    for (size_t i = 0; i < n; i++) {
        if (!routes[i].hma)
            continue;
        char p[160];
        size_t o = 0;
        for (const char *c = routes[i].pattern; *c && o < 159; c++)
            p[o++] = *c == '{' ? '<' : *c == '}' ? '>' : *c;
        p[o] = '\0';
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            dup |= strcmp(want[j], p) == 0;
        if (!dup)
            snprintf(want[k++], 160, "%s", p);
    }
    snprintf(want[k++], 160, "/");
    qsort(want, k, sizeof want[0], cmp_str);
    json_t *a = api_call(&S.hp, 200, "GET", "/site-map", NULL, NULL);
    assert_int_equal(json_array_size(a), k);
    for (size_t i = 0; i < k; i++)
        assert_string_equal(json_string_value(json_array_get(a, i)), want[i]);
    json_decref(a);
    /* The main listener's lists takedown's routes too. */
    a = api_call(&S.plat, 200, "GET", "/site-map", NULL, NULL);
    assert_true(json_array_size(a) > k);
    int banks = 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        banks |= strcmp(json_string_value(json_array_get(a, i)), "/v1/banks") == 0;
    assert_true(banks);
    json_decref(a);
}

/* Last: stops the moderator's server and reads its audit log. */
static void test_keyless_actor_audited(void **state)
{
    (void)state;
    api_server_stop(&S.mod);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' audit export --data '%s' -o -", TD_CLI_PATH, S.dir_m);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[16384];
    int found = 0;
    while (fgets(line, sizeof line, p))
        if (strstr(line, "MOD_BANK") && strstr(line, "\"hma_listen\"") && strstr(line, "moderator"))
            found = 1;
    assert_int_equal(pclose(p), 0);
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_by_default),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_only_hma_routes),
        cmocka_unit_test(test_keyless_platform_role),
        cmocka_unit_test(test_keyless_moderator_role),
        cmocka_unit_test(test_main_listener_needs_key),
        cmocka_unit_test(test_same_limits_and_metrics),
        cmocka_unit_test(test_core_routes),
        cmocka_unit_test(test_home_redirects),
        cmocka_unit_test(test_openapi_lists_hma_routes),
        cmocka_unit_test(test_site_map),
        cmocka_unit_test(test_keyless_actor_audited),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
