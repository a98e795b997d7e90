/* The server's cache of verified API keys (src/server/auth.c): hits, expiry, and revocation. The
 * cache's own functions are tested with an explicit clock, including the race a revocation must
 * win (a key verified just before the revocation may not be stored after it); then the real
 * `takedown serve`: a key revoked through the API fails on the very next request, a rotated key
 * (a second key of the same platform) keeps working, and a revocation made by the CLI next to the
 * running server takes effect within TD__AUTH_CACHE_SECONDS. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/auth.h"
#include "support/api_client.h"

#define KEY_A "tdk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "tdk_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CHECK_BODY "{\"pdq\": \"9c6b2d0e5f7a18c3b4e1d2f60a8b7c9d3e2f1a0b5c4d6e7f8091a2b3c4d5e6f7\"}"

static td_principal principal(int64_t id)
{
    td_principal p;
    memset(&p, 0, sizeof p);
    p.id = id;
    p.role = TD_ROLE_PLATFORM;
    snprintf(p.name, sizeof p.name, "key-%lld", (long long)id);
    return p;
}

/* ---- the cache alone ---- */

static void test_hit_miss_expiry(void **state)
{
    (void)state;
    td__auth_cache *c = td__auth_cache_new();
    assert_non_null(c);
    td_principal who, a = principal(7);
    uint64_t gen;
    assert_int_equal(td__auth_cache_get(c, KEY_A, strlen(KEY_A), 100.0, &who, &gen), 0);
    td__auth_cache_put(c, KEY_A, strlen(KEY_A), 100.0, &a, gen);
    memset(&who, 0, sizeof who);
    assert_int_equal(td__auth_cache_get(c, KEY_A, strlen(KEY_A), 101.0, &who, &gen), 1);
    assert_int_equal(who.id, 7);
    assert_string_equal(who.name, "key-7");
    /* another key, and a prefix of the cached one, are not found */
    assert_int_equal(td__auth_cache_get(c, KEY_B, strlen(KEY_B), 101.0, &who, &gen), 0);
    assert_int_equal(td__auth_cache_get(c, KEY_A, strlen(KEY_A) - 1, 101.0, &who, &gen), 0);
    /* trusted for TD__AUTH_CACHE_SECONDS, not longer */
    assert_int_equal(
        td__auth_cache_get(c, KEY_A, strlen(KEY_A), 100.0 + TD__AUTH_CACHE_SECONDS, &who, &gen), 0);
    td__auth_cache_free(c);
    td__auth_cache_free(NULL);
}

static void test_clear_wins_the_race(void **state)
{
    (void)state;
    td__auth_cache *c = td__auth_cache_new();
    assert_non_null(c);
    td_principal who, a = principal(1), b = principal(2);
    uint64_t gen_a, gen_b;
    /* cached, then cleared (a revocation): gone */
    assert_int_equal(td__auth_cache_get(c, KEY_A, strlen(KEY_A), 10.0, &who, &gen_a), 0);
    td__auth_cache_put(c, KEY_A, strlen(KEY_A), 10.0, &a, gen_a);
    td__auth_cache_clear(c);
    assert_int_equal(td__auth_cache_get(c, KEY_A, strlen(KEY_A), 10.5, &who, &gen_a), 0);
    /* A lookup misses and asks the store; the key is revoked (and the cache cleared) before the
     * store's answer comes back: that answer must not be cached. */
    assert_int_equal(td__auth_cache_get(c, KEY_B, strlen(KEY_B), 11.0, &who, &gen_b), 0);
    td__auth_cache_clear(c);
    td__auth_cache_put(c, KEY_B, strlen(KEY_B), 11.0, &b, gen_b);
    assert_int_equal(td__auth_cache_get(c, KEY_B, strlen(KEY_B), 11.1, &who, &gen_b), 0);
    /* a lookup that began after the clear stores normally */
    td__auth_cache_put(c, KEY_B, strlen(KEY_B), 11.1, &b, gen_b);
    assert_int_equal(td__auth_cache_get(c, KEY_B, strlen(KEY_B), 11.2, &who, &gen_b), 1);
    assert_int_equal(who.id, 2);
    td__auth_cache_free(c);
}

/* ---- through the server ---- */

static struct {
    api_server srv;
    char dir[4096];
    char admin[128];
} S;

static int group_setup(void **state)
{
    (void)state;
    if (api_group_init(S.dir, sizeof S.dir, "auth-cache-data") != 0)
        return -1;
    /* Refused requests after a revocation are charged to the address: no limit here. */
    static const char *const flags[] = {"--rate_limit_unauthenticated", "0", NULL};
    api_server_start(&S.srv, S.dir, flags);
    snprintf(S.admin, sizeof S.admin, "%s", S.srv.admin);
    return strncmp(S.admin, "tdk_", 4) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    return 0;
}

/* Creates a platform key (of platform `platform` when non-zero); returns its id. */
static long long create_key(const char *name, long long platform, char *key, size_t cap)
{
    char body[160], extra[48] = "";
    if (platform)
        snprintf(extra, sizeof extra, ", \"platform_key\": %lld", platform);
    snprintf(body, sizeof body, "{\"role\": \"platform\", \"name\": \"%s\"%s}", name, extra);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.admin, body);
    snprintf(key, cap, "%s", api_jstr(j, "key"));
    long long id = (long long)api_jint(j, "id");
    json_decref(j);
    return id;
}

static long check_status(const char *key)
{
    api_resp r;
    long status = api_http(&S.srv, "POST", "/v1/check", key, CHECK_BODY, &r);
    api_resp_free(&r);
    return status;
}

static void revoke_key(long long id)
{
    char path[64];
    api_resp r;
    snprintf(path, sizeof path, "/v1/keys/%lld", id);
    assert_int_equal(api_http(&S.srv, "DELETE", path, S.admin, NULL, &r), 204);
    api_resp_free(&r);
}

static void test_api_revoke_is_immediate(void **state)
{
    (void)state;
    char old_key[128], new_key[128];
    long long old_id = create_key("upload-old", 0, old_key, sizeof old_key);
    /* twice: the second answer comes from the cache */
    assert_int_equal(check_status(old_key), 200);
    assert_int_equal(check_status(old_key), 200);
    /* rotation: a second key of the same platform, then the first one revoked */
    long long new_id = create_key("upload-new", old_id, new_key, sizeof new_key);
    assert_true(new_id > old_id);
    assert_int_equal(check_status(new_key), 200);
    revoke_key(old_id);
    assert_int_equal(check_status(old_key), 401);
    assert_int_equal(check_status(new_key), 200);
    assert_int_equal(check_status(old_key), 401);
}

/* Checks with one key as fast as it can until told to stop; counts 200s seen after `revoked`. */
typedef struct hammer {
    const char *key;
    atomic_int stop, revoked;
    atomic_int ok_after, other;
} hammer;

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    while (!atomic_load(&h->stop)) {
        int after = atomic_load(&h->revoked);
        long st = check_status(h->key);
        if (st == 200 && after)
            atomic_fetch_add(&h->ok_after, 1);
        else if (st != 200 && st != 401)
            atomic_fetch_add(&h->other, 1);
    }
    return NULL;
}

static void test_api_revoke_under_load(void **state)
{
    (void)state;
    char key[128];
    long long id = create_key("busy", 0, key, sizeof key);
    hammer h = {.key = key};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h), 0);
    api_sleep_ms(200);
    revoke_key(id);
    /* Every request sent after the revocation was answered is refused. */
    atomic_store(&h.revoked, 1);
    api_sleep_ms(300);
    atomic_store(&h.stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&h.ok_after), 0);
    assert_int_equal(atomic_load(&h.other), 0);
    assert_int_equal(check_status(key), 401);
}

static void test_cli_revoke_within_bound(void **state)
{
    (void)state;
    char key[128], id_text[32];
    long long id = create_key("cli-revoked", 0, key, sizeof key);
    assert_int_equal(check_status(key), 200);
    snprintf(id_text, sizeof id_text, "%lld", id);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(TD_CLI_PATH, TD_CLI_PATH, "key", "revoke", "--data", S.dir, id_text, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    double t0 = api_now_s();
    while (check_status(key) == 200) {
        assert_true(api_now_s() - t0 <= TD__AUTH_CACHE_SECONDS + 0.5);
        api_sleep_ms(50);
    }
    assert_int_equal(check_status(key), 401);
}

int main(void)
{
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_hit_miss_expiry),
        cmocka_unit_test(test_clear_wins_the_race),
    };
    const struct CMUnitTest api[] = {
        cmocka_unit_test(test_api_revoke_is_immediate),
        cmocka_unit_test(test_api_revoke_under_load),
        cmocka_unit_test(test_cli_revoke_within_bound),
    };
    int failed = cmocka_run_group_tests_name("auth_cache", unit, NULL, NULL);
    failed += cmocka_run_group_tests_name("auth_cache_api", api, group_setup, group_teardown);
    return failed;
}
