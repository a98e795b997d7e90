/* The exchange framework (exchange.h) against a list file served by an HTTP server in this test:
 * pages applied with their checkpoint, idempotent pulls, a changed file resynced (what it no
 * longer holds retracted, a signal added by hand kept), a malformed file refused whole, 5xx and
 * 429 recorded with backoff, credentials sealed at rest, a reopened handle resuming from the
 * committed checkpoint, pushes checked by their HMAC, and every page in the audit log with the
 * SHA-256 of the bytes served. */
#include <microhttpd.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "casework/service_int.h"
#include "support/support.h"
#include "takedown/exchange.h"

/* ---- the source: one body and one status, changed by the test ---- */

static struct {
    struct MHD_Daemon *d;
    unsigned short port;
    pthread_mutex_t lock;
    char body[8192];
    unsigned status;
    char auth[256]; /* the last Authorization header seen */
    int requests;
} src = {.lock = PTHREAD_MUTEX_INITIALIZER};

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_len, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload, (void)upload_len, (void)state;
    pthread_mutex_lock(&src.lock);
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    snprintf(src.auth, sizeof src.auth, "%s", a ? a : "");
    src.requests++;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(src.body), src.body, MHD_RESPMEM_MUST_COPY);
    unsigned status = src.status;
    pthread_mutex_unlock(&src.lock);
    if (status == 429)
        MHD_add_response_header(r, "Retry-After", "7");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void source_set(unsigned status, const char *body)
{
    pthread_mutex_lock(&src.lock);
    src.status = status;
    snprintf(src.body, sizeof src.body, "%s", body);
    pthread_mutex_unlock(&src.lock);
}

static char url[128];
static const char *dir;
static td_service *svc;
static td_exchanges *ex;

static void open_all(void)
{
    svc = test_open_service(dir);
    td_exchanges_options o;
    td_exchanges_options_default(&o);
    o.worker = 0;
    o.allow_private = 1;
    o.backoff_min_ms = 1000;
    assert_int_equal(td_exchanges_open(svc, &o, &ex, NULL), TD_OK);
}

static void close_all(void)
{
    td_exchanges_close(ex);
    td_service_close(svc);
    ex = NULL;
    svc = NULL;
}

static int setup(void **state)
{
    (void)state;
    src.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve, NULL,
                             MHD_OPTION_END);
    assert_non_null(src.d);
    src.port = MHD_get_daemon_info(src.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(url, sizeof url, "http://127.0.0.1:%u/list.txt", src.port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(src.d);
    return 0;
}

static const char *md5_of(int i)
{
    static char v[8][33];
    static int k;
    char *out = v[k++ % 8];
    snprintf(out, 33, "%032x", i * 7919 + 11);
    return out;
}

/* The (type, value) pairs of the bank's signals, sorted, joined by newlines; counts the signals
 * whose source is the exchange's. */
static void bank_set(const char *bank, char *out, size_t cap, int *own)
{
    td_signal *list = NULL;
    size_t n = 0;
    assert_int_equal(td_signal_list(svc, bank, 0, 1000, &list, &n, NULL), TD_OK);
    char lines[64][80];
    assert_true(n <= 64);
    *own = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(lines[i], sizeof lines[i], "%s %s", td_signal_type_name(list[i].type),
                 list[i].value);
        *own += strcmp(list[i].source, "exchange:shared") == 0;
    }
    qsort(lines, n, sizeof lines[0], (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, lines[i], cap - strlen(out) - 2);
        strcat(out, "\n");
    }
    td_free(list);
}

/* The audit entries with this action, their details joined. */
static int audit_count(const char *action, const char *needle)
{
    td_audit *log = td_service_audit(svc);
    uint64_t size = 0;
    int n = 0;
    assert_int_equal(td_audit_size(log, &size, NULL), TD_OK);
    for (uint64_t s = 0; s < size; s++) {
        td_audit_entry e;
        assert_int_equal(td_audit_get(log, s, &e, NULL), TD_OK);
        if (strcmp(e.action, action) == 0 && (!needle || strstr(e.details, needle)))
            n++;
        td_audit_entry_clear(&e);
    }
    return n;
}

static void sha_hex(const char *body, char out[65])
{
    uint8_t d[32];
    SHA256((const uint8_t *)body, strlen(body), d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_url_list(void **state)
{
    (void)state;
    dir = test_fresh_dir("exchange-XXXXXX");
    open_all();
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "SHARED");
    assert_int_equal(td_bank_create(svc, &b, NULL, NULL), TD_OK);

    char list1[512], want[2048], got[2048], sha[65];
    snprintf(list1, sizeof list1, "md5 %s\nmd5 %s\nmd5 %s\n", md5_of(1), md5_of(2), md5_of(3));
    source_set(200, list1);

    td_exchange e, out;
    td_exchange_init(&e);
    snprintf(e.name, sizeof e.name, "shared");
    e.type = TD_EXCHANGE_URL_LIST;
    snprintf(e.url, sizeof e.url, "%s", url);
    snprintf(e.bank, sizeof e.bank, "SHARED");
    static const char cred[] = "{\"bearer\": \"tok-SECRET-4242\"}";
    assert_int_equal(
        td_exchange_create_as(ex, NULL, &e, cred, "push-secret-0123456789", &out, NULL), TD_OK);
    assert_true(out.has_credentials && out.has_push_secret);
    /* The name is unique. */
    assert_int_equal(td_exchange_create_as(ex, NULL, &e, NULL, NULL, NULL, NULL), TD_ERR_CONFLICT);

    /* First pull: every line becomes a signal of the exchange; the bearer was sent. */
    td_exchange_run run;
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_false(run.failed);
    assert_true(run.done);
    assert_int_equal(run.added, 3);
    assert_string_equal(src.auth, "Bearer tok-SECRET-4242");
    int own = 0;
    snprintf(want, sizeof want, "md5 %s\nmd5 %s\nmd5 %s\n", md5_of(1), md5_of(2), md5_of(3));
    bank_set("SHARED", got, sizeof got, &own);
    assert_string_equal(got, want);
    assert_int_equal(own, 3);
    sha_hex(list1, sha);
    assert_int_equal(audit_count("exchange.page", sha), 1);
    /* The checkpoint is the file's SHA-256. */
    assert_int_equal(td_exchange_get(ex, out.id, &e, NULL), TD_OK);
    assert_string_equal(e.checkpoint, sha);
    assert_int_equal(e.added, 3);

    /* The same file again: nothing applied twice. */
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_int_equal(run.added, 0);
    bank_set("SHARED", got, sizeof got, &own);
    assert_string_equal(got, want);

    /* A signal added by hand that the next file drops is not the exchange's to retract. */
    td_signal_input in;
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_MD5;
    in.value = md5_of(9);
    assert_int_equal(td_signal_add(svc, "SHARED", &in, NULL, NULL), TD_OK);

    /* A changed file: a resync; 2 retracted, 9 already held by hand stays "manual", 4 added. */
    char list2[512];
    snprintf(list2, sizeof list2, "md5 %s\nmd5 %s\nmd5 %s\n", md5_of(1), md5_of(4), md5_of(9));
    source_set(200, list2);
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_false(run.failed);
    assert_int_equal(run.added, 1);
    assert_int_equal(run.removed, 2);
    snprintf(want, sizeof want, "md5 %s\nmd5 %s\nmd5 %s\n", md5_of(1), md5_of(4), md5_of(9));
    bank_set("SHARED", got, sizeof got, &own);
    assert_string_equal(got, want);
    assert_int_equal(own, 2); /* 1 and 4; 9 stays the hand-added one */
    assert_int_equal(audit_count("exchange.resync", NULL), 1);

    /* A malformed file is refused whole: nothing changes, the refusal is audited. */
    char bad[512];
    snprintf(bad, sizeof bad, "md5 %s\nmd5 not-a-hash\n", md5_of(5));
    source_set(200, bad);
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_true(run.failed);
    assert_int_equal(run.added, 0);
    bank_set("SHARED", got, sizeof got, &own);
    assert_string_equal(got, want);
    char before[65];
    assert_int_equal(td_exchange_get(ex, out.id, &e, NULL), TD_OK);
    assert_non_null(strstr(e.last_error, "malformed"));
    assert_int_equal(e.consecutive_failures, 1);
    sha_hex(list2, before);
    assert_string_equal(e.checkpoint, before);
    sha_hex(bad, sha);
    assert_true(audit_count("exchange.page_refused", sha) >= 1);

    /* 503 and 429: retried later (backoff; Retry-After honoured), the error recorded. */
    source_set(503, "down");
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_true(run.failed && run.retry);
    assert_int_equal(td_exchange_get(ex, out.id, &e, NULL), TD_OK);
    assert_int_equal(e.consecutive_failures, 2);
    int64_t now = td__now(svc);
    assert_true(e.next_fetch_ms > now);
    source_set(429, "slow down");
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_true(run.failed && run.retry);

    /* Pushes: the HMAC of the body under the push secret, nothing else. */
    static const char body[] = "{\"event\": \"incident\"}";
    uint8_t mac[32];
    unsigned mac_len = 0;
    char sig[80] = "sha256=";
    HMAC(EVP_sha256(), "push-secret-0123456789", 22, (const uint8_t *)body, strlen(body), mac,
         &mac_len);
    for (int i = 0; i < 32; i++)
        snprintf(sig + 7 + 2 * i, 3, "%02x", mac[i]);
    assert_int_equal(td_exchange_push(ex, out.id, sig, body, strlen(body), NULL), TD_OK);
    sig[10] = sig[10] == '0' ? '1' : '0';
    assert_int_equal(td_exchange_push(ex, out.id, sig, body, strlen(body), NULL), TD_ERR_INVALID);
    assert_int_equal(td_exchange_push(ex, out.id, NULL, body, strlen(body), NULL), TD_ERR_INVALID);
    assert_int_equal(td_exchange_push(ex, 999, sig, body, strlen(body), NULL), TD_ERR_NOT_FOUND);

    /* Credentials are sealed at rest: the bearer is nowhere in the database file. */
    close_all();
    char path[1024];
    snprintf(path, sizeof path, "%s/takedown.db", dir);
    size_t len = 0;
    uint8_t *db = read_all(path, &len);
    if (db) {
        assert_null(memmem(db, len, "tok-SECRET-4242", 15));
        assert_null(memmem(db, len, "push-secret-0123456789", 22));
        free(db);
    }

    /* Reopened: the committed checkpoint is where the next pull starts; recovered, the source
     * serves list2 again, which changes nothing. */
    open_all();
    source_set(200, list2);
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_false(run.failed);
    assert_int_equal(run.added + run.removed, 0);
    assert_int_equal(td_exchange_get(ex, out.id, &e, NULL), TD_OK);
    assert_int_equal(e.consecutive_failures, 0);
    assert_string_equal(e.last_error, "");
    bank_set("SHARED", got, sizeof got, &own);
    assert_string_equal(got, want);

    /* Disabled, deleted: audited; the signals stay. */
    td_exchange v;
    td_exchange_init(&v);
    v.enabled = 0;
    assert_int_equal(
        td_exchange_update_as(ex, NULL, out.id, TD_EXCHANGE_SET_ENABLED, &v, NULL, NULL, &e, NULL),
        TD_OK);
    assert_false(e.enabled);
    assert_int_equal(td_exchange_delete_as(ex, NULL, out.id, NULL), TD_OK);
    assert_int_equal(td_exchange_get(ex, out.id, &e, NULL), TD_ERR_NOT_FOUND);
    assert_int_equal(audit_count("exchange.create", NULL), 1);
    assert_int_equal(audit_count("exchange.update", NULL), 1);
    assert_int_equal(audit_count("exchange.delete", NULL), 1);
    bank_set("SHARED", got, sizeof got, &own);
    assert_string_equal(got, want);
    close_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_list),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
