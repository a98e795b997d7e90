/* A full disk, for real: the data directory sits on a small tmpfs that a filler file fills. The
 * real `takedown serve` runs as a child process. Covered: a start on a full disk opens read-only
 * (readyz and the takedown_read_only gauge say so, checks find the stored signals, every write
 * answers 507 insufficient_storage, a removal order included), writes resume without a restart
 * once the filler is gone, a disk that fills while running (writes answer 201 or 507, never
 * 500; checks keep answering), and a last restart finds every write that was acknowledged.
 *
 * Mounting needs root (CAP_SYS_ADMIN); without it every test is skipped with a message. The
 * tmpfs is unmounted in the group teardown whatever happened. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/api_client.h"
#include "support/support.h"

#define N_START_SIGNALS 3

static struct {
    int mounted;
    char skip_reason[4400];
    char mnt[4096], data[4200], filler[4200];
    api_server srv;
    char admin[128], platform[128], authority[128];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    int signals; /* signals acknowledged (201) so far: signal i has md5 value md5_of(i) */
    int orders;  /* orders acknowledged */
} S;

static void skip_unless_mounted(void)
{
    if (!S.mounted) {
        print_message("skipped: %s\n", S.skip_reason);
        skip();
    }
}

static const char *md5_of(int i, char out[33])
{
    snprintf(out, 33, "%08x0123456789abcdef%08x", 0xd15cf011u, (unsigned)i);
    return out;
}

/* ---- the disk ---- */

/* Writes the filler until the file system refuses more; returns the bytes written. */
static size_t fill(void)
{
    static char block[65536];
    int fd = open(S.filler, O_WRONLY | O_CREAT | O_APPEND, 0600);
    assert_true(fd >= 0);
    size_t total = 0;
    for (size_t chunk = sizeof block; chunk >= 512; chunk /= 2) {
        for (;;) {
            ssize_t n = write(fd, block, chunk);
            if (n <= 0)
                break;
            total += (size_t)n;
        }
    }
    int saved = errno;
    close(fd);
    assert_int_equal(saved, ENOSPC);
    return total;
}

static void unfill(void) { assert_int_equal(unlink(S.filler), 0); }

/* ---- the server ---- */

static void start(void)
{
    static const char *const flags[] = {"--http-threads", "4", NULL};
    api_server_start(&S.srv, S.data, flags);
}

static void stop(void)
{
    if (S.srv.pid)
        api_server_stop(&S.srv);
}

/* /readyz: 200 and its read_only member. */
static int read_only(void)
{
    json_t *j = api_call(&S.srv, 200, "GET", "/readyz", NULL, NULL);
    assert_string_equal(api_jstr(j, "status"), "ready");
    json_t *ro = json_object_get(j, "read_only");
    assert_true(json_is_boolean(ro));
    int v = json_is_true(ro);
    if (v)
        assert_non_null(strstr(api_jstr(j, "reason"), "space"));
    json_decref(j);
    return v;
}

static int gauge(void)
{
    api_resp r;
    assert_int_equal(api_http(&S.srv, "GET", "/metrics", NULL, NULL, &r), 200);
    const char *g = r.body ? strstr(r.body, "\ntakedown_read_only ") : NULL;
    assert_non_null(g);
    int v = g[sizeof "\ntakedown_read_only " - 1] - '0';
    api_resp_free(&r);
    return v;
}

/* /v1/check of signal i's md5: whether it matches signal i's value. */
static int matched(int i)
{
    char md5[33], body[128];
    snprintf(body, sizeof body, "{\"md5\": \"%s\"}", md5_of(i, md5));
    json_t *j = api_call(&S.srv, 200, "POST", "/v1/check", S.platform, body);
    json_t *m = json_object_get(j, "matches");
    int found = 0;
    for (size_t k = 0; k < json_array_size(m); k++)
        found |= strcmp(api_jstr(json_array_get(m, k), "bank"), "DISK") == 0;
    json_decref(j);
    return found;
}

/* Adds the next signal; returns the status (201 or 507; anything else fails). */
static long add_signal(void)
{
    char md5[33], body[160];
    api_resp r;
    snprintf(body, sizeof body, "{\"type\": \"md5\", \"value\": \"%s\"}", md5_of(S.signals, md5));
    long st = api_http(&S.srv, "POST", "/v1/banks/DISK/signals", S.admin, body, &r);
    if (st == 507) {
        json_t *j = api_parse_or_fail("POST", "/v1/banks/DISK/signals", &r);
        json_t *e = json_object_get(j, "error");
        assert_string_equal(api_jstr(e, "code"), "insufficient_storage");
        assert_true(strlen(api_jstr(e, "message")) > 0);
        json_decref(j);
    } else if (st == 201) {
        S.signals++;
    } else {
        fail_msg("adding a signal: %ld %s", st, r.body ? r.body : "");
    }
    api_resp_free(&r);
    return st;
}

/* A signed removal order for content c-1; expect its status. */
static void send_order(long expect, const char *reference)
{
    char body[4096], sig[200];
    api_order_doc(body, sizeof body, "Disk Authority", reference, "c-1", NULL, NULL);
    api_sign_header(S.sk, body, strlen(body), sig, sizeof sig);
    if (expect == 507) {
        api_expect_error_ex(&S.srv, 507, "insufficient_storage", NULL, "POST", "/v1/orders",
                            S.authority, body, strlen(body), sig);
        return;
    }
    json_decref(
        api_call_ex(&S.srv, expect, "POST", "/v1/orders", S.authority, body, strlen(body), sig));
    S.orders++;
}

/* Every write of the API's main kinds refused with 507. */
static void writes_refused(void)
{
    assert_int_equal(add_signal(), 507);
    api_expect_error(&S.srv, 507, "insufficient_storage", "POST", "/v1/banks", S.admin,
                     "{\"name\": \"OTHER\"}");
    api_expect_error(&S.srv, 507, "insufficient_storage", "POST", "/v1/content", S.platform,
                     "{\"content_id\": \"c-refused\", \"hashes\": {\"md5\": "
                     "\"00000000000000000000000000000000\"}}");
    api_expect_error(&S.srv, 507, "insufficient_storage", "POST", "/v1/keys", S.admin,
                     "{\"role\": \"auditor\", \"name\": \"refused\"}");
    api_expect_error(&S.srv, 507, "insufficient_storage", "DELETE", "/v1/banks/DISK", S.admin,
                     NULL);
    send_order(507, "DISK-REFUSED-1");
}

/* Writes until one is accepted (the service reopens for writing within a second or so). */
static void writes_resume(void)
{
    double deadline = api_now_s() + 15;
    while (add_signal() != 201) {
        if (api_now_s() > deadline)
            fail_msg("writes still refused 15 s after space returned");
        api_sleep_ms(100);
    }
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
    (void)state;
    if (api_group_init(S.mnt, sizeof S.mnt, "diskfull-mnt") != 0 || mkdir(S.mnt, 0700) != 0)
        return -1;
    snprintf(S.data, sizeof S.data, "%s/data", S.mnt);
    snprintf(S.filler, sizeof S.filler, "%s/filler", S.mnt);
    if (mount("tmpfs", S.mnt, "tmpfs", 0, "size=16m,mode=0700") != 0) {
        snprintf(S.skip_reason, sizeof S.skip_reason,
                 "cannot mount a tmpfs on %s (%s): this test needs root or CAP_SYS_ADMIN", S.mnt,
                 strerror(errno));
        return 0;
    }
    S.mounted = 1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop();
    if (S.mounted && umount2(S.mnt, MNT_DETACH) != 0) {
        fprintf(stderr, "test_diskfull: cannot unmount %s: %s\n", S.mnt, strerror(errno));
        return -1;
    }
    S.mounted = 0;
    return 0;
}

/* ---- tests ---- */

/* A first start with room: keys, a bank with signals, an authority, a content item. */
static void test_first_start(void **state)
{
    (void)state;
    skip_unless_mounted();
    start();
    snprintf(S.admin, sizeof S.admin, "%s", S.srv.admin);
    assert_int_equal(strncmp(S.admin, "tdk_", 4), 0);
    assert_int_equal(read_only(), 0);
    assert_int_equal(gauge(), 0);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.admin,
                         "{\"role\": \"platform\", \"name\": \"platform\"}");
    snprintf(S.platform, sizeof S.platform, "%s", api_jstr(j, "key"));
    json_decref(j);
    j = api_call(&S.srv, 201, "POST", "/v1/keys", S.admin,
                 "{\"role\": \"authority\", \"name\": \"authority\"}");
    snprintf(S.authority, sizeof S.authority, "%s", api_jstr(j, "key"));
    long long key_id = (long long)api_jint(j, "id");
    json_decref(j);
    api_register_authority(&S.srv, S.admin, "Disk Authority", NULL, key_id, S.pk, S.sk);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.admin, "{\"name\": \"DISK\"}"));
    for (int i = 0; i < N_START_SIGNALS; i++)
        assert_int_equal(add_signal(), 201);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/content", S.platform,
                         "{\"content_id\": \"c-1\", \"uploader\": \"u-1\", \"url\": "
                         "\"https://video.example/1\", \"hashes\": {\"md5\": "
                         "\"11111111111111111111111111111111\"}}"));
    stop();
}

/* A start on a full disk: read-only, checks answer, every write 507. */
static void test_start_full(void **state)
{
    (void)state;
    skip_unless_mounted();
    size_t filled = fill();
    print_message("filler: %zu bytes, the tmpfs is full\n", filled);
    start();
    assert_int_equal(read_only(), 1);
    assert_int_equal(gauge(), 1);
    json_decref(api_call(&S.srv, 200, "GET", "/healthz", NULL, NULL));
    for (int i = 0; i < S.signals; i++)
        assert_true(matched(i));
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/banks", S.admin, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "banks")), 1);
    json_decref(j);
    writes_refused();
    /* Refusals do not make it writable, nor lose anything already stored. */
    assert_int_equal(read_only(), 1);
    assert_true(matched(0));
}

/* Space returns: writes resume without a restart, and what is written is matched. */
static void test_space_returns(void **state)
{
    (void)state;
    skip_unless_mounted();
    unfill();
    writes_resume();
    assert_int_equal(read_only(), 0);
    assert_int_equal(gauge(), 0);
    for (int i = 0; i < S.signals; i++)
        assert_true(matched(i));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/content", S.platform,
                         "{\"content_id\": \"c-2\", \"hashes\": {\"md5\": "
                         "\"22222222222222222222222222222222\"}}"));
    send_order(201, "DISK-AFTER-1");
}

/* The disk fills while the service runs: 201 or 507, never 500; checks keep answering; then
 * space returns. */
static void test_fill_while_running(void **state)
{
    (void)state;
    skip_unless_mounted();
    fill();
    int refused = 0;
    for (int i = 0; i < 2000 && !refused; i++)
        refused = add_signal() == 507;
    assert_true(refused);
    assert_int_equal(read_only(), 1);
    assert_int_equal(gauge(), 1);
    for (int i = 0; i < S.signals; i++)
        assert_true(matched(i));
    assert_int_equal(add_signal(), 507);
    api_expect_error(&S.srv, 507, "insufficient_storage", "POST", "/v1/content", S.platform,
                     "{\"content_id\": \"c-refused\", \"hashes\": {\"md5\": "
                     "\"00000000000000000000000000000000\"}}");
    send_order(507, "DISK-REFUSED-2");
    unfill();
    writes_resume();
    assert_int_equal(read_only(), 0);
    send_order(201, "DISK-AFTER-2");
    print_message("%d signals and %d orders acknowledged\n", S.signals, S.orders);
}

/* A restart with room finds every acknowledged write, and nothing that was refused. */
static void test_nothing_lost(void **state)
{
    (void)state;
    skip_unless_mounted();
    stop();
    start();
    assert_int_equal(read_only(), 0);
    for (int i = 0; i < S.signals; i++)
        assert_true(matched(i));
    assert_false(matched(S.signals));
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/banks/DISK", S.admin, NULL);
    assert_int_equal(api_jint(j, "signal_count"), S.signals);
    json_decref(j);
    json_decref(api_call(&S.srv, 200, "GET", "/v1/content/c-1", S.platform, NULL));
    json_decref(api_call(&S.srv, 200, "GET", "/v1/content/c-2", S.platform, NULL));
    api_expect_error(&S.srv, 404, "not_found", "GET", "/v1/content/c-refused", S.platform, NULL);
    j = api_call(&S.srv, 200, "GET", "/v1/orders", S.admin, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "orders")), S.orders);
    json_decref(j);
    stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_start),   cmocka_unit_test(test_start_full),
        cmocka_unit_test(test_space_returns), cmocka_unit_test(test_fill_while_running),
        cmocka_unit_test(test_nothing_lost),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
