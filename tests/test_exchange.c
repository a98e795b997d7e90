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
#include <unistd.h>

#include <cmocka.h>

#include "casework/service_int.h"
#include "support/fake_exchange.h"
#include "support/support.h"
#include "takedown/exchange.h"
#include "takedown/hash.h"

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

static int reactions_per_minute = 60;

static void open_all(void)
{
    svc = test_open_service(dir);
    td_exchanges_options o;
    td_exchanges_options_default(&o);
    o.worker = 0;
    o.reactions_per_minute = reactions_per_minute;
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

    /* The same file again: nothing applied twice, and a poll that changed nothing leaves no
     * audit entry. */
    int pages_before = audit_count("exchange.page", NULL);
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_int_equal(run.added, 0);
    assert_int_equal(audit_count("exchange.page", NULL), pages_before);
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

    /* Credentials are sealed at rest: the stored columns hold bytes, never the secrets (on
     * either store), and on SQLite the secrets are nowhere in the database or its log. */
    {
        td_store_conn *c;
        td_stmt *q;
        int row = 0;
        assert_int_equal(td_store_acquire(svc->store, 0, &c, NULL), TD_OK);
        assert_int_equal(td_store_prepare(c,
                                          "SELECT credentials, push_secret FROM exchanges"
                                          " WHERE id = $1",
                                          &q, NULL),
                         TD_OK);
        assert_int_equal(td_stmt_bind_int64(q, 1, out.id, NULL), TD_OK);
        assert_int_equal(td_stmt_step(q, &row, NULL), TD_OK);
        assert_true(row);
        for (int col = 0; col < 2; col++) {
            size_t n = td_stmt_column_bytes(q, col);
            const void *blob = td_stmt_column_blob(q, col);
            assert_true(n > 40); /* nonce, tag and the sealed text */
            assert_null(memmem(blob, n, "tok-SECRET-4242", 15));
            assert_null(memmem(blob, n, "push-secret-0123456789", 22));
        }
        td_stmt_reset(q);
        td_store_release(svc->store, c);
    }
    close_all();
    const char *pg = getenv("TD_TEST_STORE_URL");
    for (int f = 0; !(pg && *pg) && f < 2; f++) { /* PostgreSQL: no file */
        char path[1024];
        size_t len = 0;
        snprintf(path, sizeof path, "%s/takedown.db%s", dir, f ? "-wal" : "");
        if (f && access(path, R_OK) != 0)
            continue; /* the log was checkpointed into the database at close */
        uint8_t *db = read_all(path, &len);
        assert_non_null(db);
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

/* ---- a ThreatExchange privacy group (the stand-in of tests/support/fake_exchange.c) ---- */

#define PDQ_1 "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
#define PDQ_2 "0000000000000000000000000000000000000000000000000000000000000001"
#define MD5_1 "d41d8cd98f00b204e9800998ecf8427e"
#define MD5_2 "0cc175b9c0f1b6a831c399e269772661"
#define MD5_3 "92eb5ffee6ae2fec3ad71c777531578f"
#define MD5_OWN "4a8a08f09d37b73795649038408b5f33"

static int count_requests(fake_exchange *fx, const char *method, const char *path, const char *arg,
                          const char *value)
{
    int n = 0;
    for (size_t i = 0; i < fx_request_count(fx); i++) {
        fx_request r;
        char v[256];
        if (!fx_request_get(fx, i, &r))
            continue;
        if (strcmp(r.method, method) != 0 || strcmp(r.path, path) != 0)
            continue;
        if (arg && (!fx_arg(r.body, arg, 1, v, sizeof v) || strcmp(v, value) != 0))
            continue;
        n++;
    }
    return n;
}

static void submit_md5(const char *content_id, const char *md5)
{
    td_hashes h;
    td_hashes_init(&h);
    snprintf(h.md5, sizeof h.md5, "%s", md5);
    td_content_input in;
    memset(&in, 0, sizeof in);
    in.content_id = content_id;
    in.hashes = &h;
    assert_int_equal(td_content_submit(svc, &in, NULL, NULL), TD_OK);
}

static void test_threatexchange(void **state)
{
    (void)state;
    dir = test_fresh_dir("exchange-te-XXXXXX");
    open_all();
    fake_exchange *fx = fx_start();
    assert_non_null(fx);
    static const char *const banks[] = {"GIFCT", "ALLOWED", "LOCAL"};
    for (int i = 0; i < 3; i++) {
        td_bank b;
        td_bank_init(&b);
        snprintf(b.name, sizeof b.name, "%s", banks[i]);
        b.kind = i == 1 ? TD_BANK_ALLOW : TD_BANK_NORMAL;
        assert_int_equal(td_bank_create(svc, &b, NULL, NULL), TD_OK);
    }
    /* Pages of two: a PDQ and an MD5 tagged for the exchange, one without the tag (filtered),
     * a type the exchange does not take (a URL, filtered by signal_types), a negative entry (to
     * the allow bank), an unknown type (skipped by the client). */
    fx_te_record recs[] = {
        {"101", PDQ_1, "HASH_PDQ", 1000, 0, "MALICIOUS", {"tvec", NULL}, 0, 0},
        {"102", MD5_1, "HASH_MD5", 1001, 0, "MALICIOUS", {"tvec", "gifct", NULL}, 0, 0},
        {"103", MD5_2, "HASH_MD5", 1002, 0, "MALICIOUS", {"spam", NULL}, 0, 0},
        {"104", "https://example.org/x", "URI", 1003, 0, "MALICIOUS", {"tvec", NULL}, 0, 0},
        {"105", MD5_3, "HASH_MD5", 1004, 0, "NON_MALICIOUS", {"tvec", NULL}, 0, 0},
        {"106", "abc", "DEBUG_STRING", 1005, 0, "MALICIOUS", {"tvec", NULL}, 0, 0},
    };
    fx_te_set(fx, "303", "app|secret", recs, 6, 2);
    td_exchange e, out;
    td_exchange_init(&e);
    snprintf(e.name, sizeof e.name, "gifct");
    e.type = TD_EXCHANGE_THREATEXCHANGE;
    snprintf(e.url, sizeof e.url, "%s", fx_base_url(fx));
    snprintf(e.group, sizeof e.group, "303");
    snprintf(e.bank, sizeof e.bank, "GIFCT");
    snprintf(e.allow_bank, sizeof e.allow_bank, "ALLOWED");
    assert_int_equal(td_labels_add(&e.tags, "tvec", NULL), TD_OK);
    e.types = (1u << TD_SIGNAL_PDQ) | (1u << TD_SIGNAL_MD5);
    e.reactions = 1;
    assert_int_equal(
        td_exchange_create_as(ex, NULL, &e, "{\"token\": \"app|secret\"}", NULL, &out, NULL),
        TD_OK);

    td_exchange_run run;
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_false(run.failed);
    assert_true(run.done);
    /* The client asks the source for the exchange's types only: 104 (URI) and 106 never come;
     * the four that do come in two pages. */
    assert_int_equal(run.pages, 2);
    assert_int_equal(run.added, 3);    /* 101, 102 in GIFCT; 105 in ALLOWED */
    assert_int_equal(run.negative, 1); /* 105 */
    assert_int_equal(run.skipped, 1);  /* 103: no tag the exchange takes */
    char got[2048];
    int own = 0;
    bank_set("GIFCT", got, sizeof got, &own);
    assert_string_equal(got, "md5 " MD5_1 "\npdq " PDQ_1 "\n");
    bank_set("ALLOWED", got, sizeof got, &own);
    assert_string_equal(got, "md5 " MD5_3 "\n");
    td_signal *list = NULL;
    size_t n = 0;
    assert_int_equal(td_signal_list(svc, "GIFCT", 0, 10, &list, &n, NULL), TD_OK);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(list[i].source, "exchange:gifct");
        assert_int_equal(list[i].labels.count, strcmp(list[i].value, MD5_1) == 0 ? 2 : 1);
    }
    td_free(list);

    /* The source deletes 101 and adds 107: the next pull starts at the checkpoint. */
    fx_te_record more[] = {
        recs[0],
        recs[1],
        recs[2],
        recs[3],
        recs[4],
        recs[5],
        {"101", PDQ_1, "HASH_PDQ", 2000, 1, "MALICIOUS", {"tvec", NULL}, 0, 0},
        {"107", PDQ_2, "HASH_PDQ", 2001, 0, "MALICIOUS", {"tvec", NULL}, 0, 0},
    };
    fx_te_set(fx, "303", "app|secret", more, 8, 2);
    fx_requests_clear(fx);
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_false(run.failed);
    assert_int_equal(run.added, 1);
    assert_int_equal(run.removed, 1);
    bank_set("GIFCT", got, sizeof got, &own);
    assert_string_equal(got, "md5 " MD5_1 "\npdq " PDQ_2 "\n");

    /* Reactions: content matching 102 gives one SAW_THIS_TOO, a remove decision one HELPFUL;
     * each sent once. */
    fx_requests_clear(fx);
    size_t sent = 0;
    td_error rerr;
    if (td_exchange_react_due(ex, &sent, &rerr) != TD_OK) /* the scan starts here */
        fail_msg("react: %s", rerr.message);
    submit_md5("c-1", MD5_1);
    submit_md5("c-2", MD5_1);
    assert_int_equal(td_exchange_react_due(ex, &sent, NULL), TD_OK);
    assert_int_equal(sent, 1);
    assert_int_equal(count_requests(fx, "POST", "/102", "reactions", "SAW_THIS_TOO"), 1);
    td_content c;
    assert_int_equal(td_content_get(svc, "c-1", &c, NULL), TD_OK);
    assert_true(c.has_case);
    td_principal mod = {7, TD_ROLE_MODERATOR, "mod", 0};
    assert_int_equal(td_case_claim(svc, c.kase.id, &mod, NULL, NULL), TD_OK);
    assert_int_equal(td_case_decide(svc, c.kase.id, &mod, TD_DECISION_REMOVE, "tco", NULL, NULL),
                     TD_OK);
    td_content_clear(&c);
    assert_int_equal(td_exchange_react_due(ex, &sent, NULL), TD_OK);
    assert_int_equal(td_exchange_react_due(ex, &sent, NULL), TD_OK);
    assert_int_equal(count_requests(fx, "POST", "/102", "reactions", "HELPFUL"), 1);
    assert_int_equal(count_requests(fx, "POST", "/102", "reactions", "SAW_THIS_TOO"), 1);
    assert_int_equal(td_exchange_get(ex, out.id, &e, NULL), TD_OK);
    assert_int_equal(e.reactions_sent, 2);
    assert_int_equal(audit_count("exchange.reaction", "HELPFUL"), 1);

    /* Uploads: asked by one person, approved by another, then sent. */
    td_signal_input in;
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_MD5;
    in.value = MD5_OWN;
    assert_int_equal(td_labels_add(&in.labels, "tvec", NULL), TD_OK);
    td_signal local;
    assert_int_equal(td_signal_add(svc, "LOCAL", &in, &local, NULL), TD_OK);
    td_principal alice = {21, TD_ROLE_MODERATOR, "alice", 0}, bob = {22, TD_ROLE_ADMIN, "bob", 0};
    td_exchange_upload u;
    assert_int_equal(
        td_exchange_upload_request_as(ex, &alice, out.id, local.id, "our own", &u, NULL), TD_OK);
    assert_int_equal(u.state, TD_XUPLOAD_PENDING);
    /* A signal the exchange brought is not shared back. */
    assert_int_equal(td_signal_list(svc, "GIFCT", 0, 1, &list, &n, NULL), TD_OK);
    assert_int_equal(
        td_exchange_upload_request_as(ex, &alice, out.id, list[0].id, NULL, NULL, NULL),
        TD_ERR_INVALID);
    td_free(list);
    fx_requests_clear(fx);
    assert_int_equal(td_exchange_upload_decide_as(ex, &alice, out.id, u.id, 1, NULL, NULL),
                     TD_ERR_CONFLICT);
    assert_int_equal(count_requests(fx, "POST", "/threat_descriptors", NULL, NULL), 0);
    assert_int_equal(td_exchange_upload_decide_as(ex, &bob, out.id, u.id, 1, &u, NULL), TD_OK);
    assert_int_equal(u.state, TD_XUPLOAD_SENT);
    assert_true(u.external_id[0] != '\0');
    assert_int_equal(count_requests(fx, "POST", "/threat_descriptors", "indicator", MD5_OWN), 1);
    assert_int_equal(td_exchange_upload_decide_as(ex, &bob, out.id, u.id, 1, NULL, NULL),
                     TD_ERR_CONFLICT);
    assert_int_equal(audit_count("exchange.upload_request", NULL), 1);
    assert_int_equal(audit_count("exchange.upload_sent", u.external_id), 1);
    /* A url_list exchange takes no uploads. */
    td_exchange l;
    td_exchange_init(&l);
    snprintf(l.name, sizeof l.name, "plain");
    l.type = TD_EXCHANGE_URL_LIST;
    snprintf(l.url, sizeof l.url, "%s/list", fx_base_url(fx));
    snprintf(l.bank, sizeof l.bank, "LOCAL");
    l.enabled = 0;
    assert_int_equal(td_exchange_create_as(ex, NULL, &l, NULL, NULL, &l, NULL), TD_OK);
    assert_int_equal(td_exchange_upload_request_as(ex, &alice, l.id, local.id, NULL, NULL, NULL),
                     TD_ERR_UNSUPPORTED);

    /* 429 with Retry-After: a retry, the wait at least what the source asked. */
    fx_inject(fx, FX_FAULT_429, 120);
    int64_t before = td__now(svc);
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_true(run.failed && run.retry);
    assert_int_equal(td_exchange_get(ex, out.id, &e, NULL), TD_OK);
    assert_true(e.next_fetch_ms >= before + 120000);
    /* A malformed page: refused whole, audited with its digest, the checkpoint kept. */
    char cp[TD_EXCHANGE_CHECKPOINT_MAX + 1];
    snprintf(cp, sizeof cp, "%s", e.checkpoint);
    fx_inject(fx, FX_FAULT_MALFORMED, 0);
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_true(run.failed);
    assert_int_equal(run.refused, 1);
    assert_int_equal(td_exchange_get(ex, out.id, &e, NULL), TD_OK);
    assert_string_equal(e.checkpoint, cp);
    assert_int_equal(audit_count("exchange.page_refused", "malformed"), 1);
    fx_stop(fx);
    close_all();
}

/* A generated feed of 5,000 records (pages of 1,000: long runs of additions go in batches,
 * deletions and negative entries break them) against an oracle that applies the records one by
 * one as docs/exchange-clients.md maps them. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_generated_feed(void **state)
{
    (void)state;
    enum { N = 5000 };
    dir = test_fresh_dir("exchange-gen-XXXXXX");
    open_all();
    fake_exchange *fx = fx_start();
    assert_non_null(fx);
    fx_te_generate(fx, "303", "app|secret", N, 1000);
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "GEN");
    assert_int_equal(td_bank_create(svc, &b, NULL, NULL), TD_OK);
    td_exchange e, out;
    td_exchange_init(&e);
    snprintf(e.name, sizeof e.name, "gen");
    e.type = TD_EXCHANGE_THREATEXCHANGE;
    snprintf(e.url, sizeof e.url, "%s", fx_base_url(fx));
    snprintf(e.group, sizeof e.group, "303");
    snprintf(e.bank, sizeof e.bank, "GEN");
    assert_int_equal(
        td_exchange_create_as(ex, NULL, &e, "{\"token\": \"app|secret\"}", NULL, &out, NULL),
        TD_OK);
    td_exchange_run run;
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_false(run.failed);
    assert_true(run.done);

    /* The oracle: "type value" strings, present or not, record by record. */
    char **want = calloc(N, sizeof *want);
    size_t n_want = 0;
    for (size_t i = 0; i < N; i++) {
        fx_te_record r;
        char id[24], ind[72], key[96];
        fx_te_generated(i, &r, id, ind);
        const char *t = strcmp(r.type, "HASH_PDQ") == 0                                    ? "pdq"
                        : !strcmp(r.type, "HASH_MD5") || !strcmp(r.type, "HASH_VIDEO_MD5") ? "md5"
                        : !strcmp(r.type, "HASH_SHA256") ? "sha256"
                                                         : NULL;
        if (!t)
            continue;
        snprintf(key, sizeof key, "%s %s", t, r.indicator);
        size_t at = n_want;
        for (size_t k = 0; k < n_want; k++)
            if (strcmp(want[k], key) == 0)
                at = k;
        int present = !r.should_delete && strcmp(r.status, "MALICIOUS") == 0;
        if (present && at == n_want)
            want[n_want++] = strdup(key);
        else if (!present && at < n_want) {
            free(want[at]);
            want[at] = want[--n_want];
        }
    }
    qsort(want, n_want, sizeof *want, cmp_str);

    char **got = calloc(N, sizeof *got);
    size_t n_got = 0;
    int64_t after = 0;
    for (;;) {
        td_signal *list = NULL;
        size_t n = 0;
        assert_int_equal(td_signal_list(svc, "GEN", after, 1000, &list, &n, NULL), TD_OK);
        for (size_t i = 0; i < n; i++) {
            char key[96];
            snprintf(key, sizeof key, "%s %s", td_signal_type_name(list[i].type), list[i].value);
            assert_true(n_got < N);
            got[n_got++] = strdup(key);
            after = list[i].id;
        }
        td_free(list);
        if (n < 1000)
            break;
    }
    qsort(got, n_got, sizeof *got, cmp_str);
    assert_int_equal(n_got, n_want);
    for (size_t i = 0; i < n_got; i++)
        assert_string_equal(got[i], want[i]);
    assert_int_equal(run.added, n_want);
    /* What the exchange remembers (its item ids, for reactions) is exactly its signals: one row
     * each, none left for a hash a page added and a later record retracted. */
    {
        td_store_conn *c;
        td_stmt *q;
        int row = 0;
        assert_int_equal(td_store_acquire(svc->store, 0, &c, NULL), TD_OK);
        assert_int_equal(td_store_prepare(c,
                                          "SELECT COUNT(*), COUNT(s.id),"
                                          " SUM(CASE WHEN i.external_id = '' THEN 1 ELSE 0 END)"
                                          " FROM exchange_items i LEFT JOIN signals s"
                                          " ON s.id = i.signal_id WHERE i.exchange_id = $1",
                                          &q, NULL),
                         TD_OK);
        assert_int_equal(td_stmt_bind_int64(q, 1, out.id, NULL), TD_OK);
        assert_int_equal(td_stmt_step(q, &row, NULL), TD_OK);
        assert_true(row);
        assert_int_equal(td_stmt_column_int64(q, 0), n_want);
        assert_int_equal(td_stmt_column_int64(q, 1), n_want);
        assert_int_equal(td_stmt_column_int64(q, 2), 0);
        td_stmt_reset(q);
        td_store_release(svc->store, c);
    }
    /* Every signal is in the index: each one matches. */
    for (size_t i = 0; i < n_got; i += 97) {
        td_hashes h;
        td_hashes_init(&h);
        const char *v = strchr(got[i], ' ') + 1;
        if (strncmp(got[i], "md5 ", 4) == 0)
            snprintf(h.md5, sizeof h.md5, "%s", v);
        else if (strncmp(got[i], "sha256 ", 7) == 0)
            snprintf(h.sha256, sizeof h.sha256, "%s", v);
        else {
            assert_int_equal(td_pdq_from_hex(v, 64, &h.pdq[0]), TD_OK);
            h.n_pdq = 1;
            h.quality = -1;
        }
        td_check_result res;
        assert_int_equal(td_check_hashes(svc, &h, NULL, &res, NULL), TD_OK);
        assert_true(res.match_count >= 1);
        td_check_result_clear(&res);
    }
    for (size_t i = 0; i < n_got; i++)
        free(got[i]);
    for (size_t i = 0; i < n_want; i++)
        free(want[i]);
    free(got);
    free(want);
    fx_stop(fx);
    close_all();
}

/* A page that adds hashes, retracts one of them and adds it again, then retracts another: the
 * bank holds what the last record of each hash says, and the exchange remembers exactly those
 * signals, each under the id of the record that last added it. */
static void test_add_retract_in_one_page(void **state)
{
    (void)state;
    dir = test_fresh_dir("exchange-readd-XXXXXX");
    open_all();
    fake_exchange *fx = fx_start();
    assert_non_null(fx);
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "READD");
    assert_int_equal(td_bank_create(svc, &b, NULL, NULL), TD_OK);
    fx_te_record recs[] = {
        {"201", MD5_1, "HASH_MD5", 2000, 0, "MALICIOUS", {NULL}, 0, 0},
        {"202", MD5_2, "HASH_MD5", 2001, 0, "MALICIOUS", {NULL}, 0, 0},
        {"203", MD5_3, "HASH_MD5", 2002, 0, "MALICIOUS", {NULL}, 0, 0},
        {"204", MD5_1, "HASH_MD5", 2003, 1, "MALICIOUS", {NULL}, 0, 0},
        {"205", MD5_2, "HASH_MD5", 2004, 1, "MALICIOUS", {NULL}, 0, 0},
        {"206", MD5_2, "HASH_MD5", 2005, 0, "MALICIOUS", {NULL}, 0, 0},
    };
    fx_te_set(fx, "404", "app|secret", recs, 6, 6);
    td_exchange e, out;
    td_exchange_init(&e);
    snprintf(e.name, sizeof e.name, "readd");
    e.type = TD_EXCHANGE_THREATEXCHANGE;
    snprintf(e.url, sizeof e.url, "%s", fx_base_url(fx));
    snprintf(e.group, sizeof e.group, "404");
    snprintf(e.bank, sizeof e.bank, "READD");
    assert_int_equal(
        td_exchange_create_as(ex, NULL, &e, "{\"token\": \"app|secret\"}", NULL, &out, NULL),
        TD_OK);
    td_exchange_run run;
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_false(run.failed);
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    assert_int_equal(td_store_acquire(svc->store, 0, &c, NULL), TD_OK);
    assert_int_equal(td_store_prepare(c,
                                      "SELECT i.external_id FROM exchange_items i JOIN signals s"
                                      " ON s.id = i.signal_id WHERE i.exchange_id = $1"
                                      " ORDER BY i.external_id",
                                      &q, NULL),
                     TD_OK);
    assert_int_equal(td_stmt_bind_int64(q, 1, out.id, NULL), TD_OK);
    static const char *const want[] = {"203", "206"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(td_stmt_step(q, &row, NULL), TD_OK);
        assert_true(row);
        assert_string_equal(td_stmt_column_text(q, 0), want[i]);
    }
    assert_int_equal(td_stmt_step(q, &row, NULL), TD_OK);
    assert_false(row);
    td_stmt_reset(q);
    assert_int_equal(
        td_store_prepare(c, "SELECT COUNT(*) FROM exchange_items WHERE exchange_id = $1", &q, NULL),
        TD_OK);
    assert_int_equal(td_stmt_bind_int64(q, 1, out.id, NULL), TD_OK);
    assert_int_equal(td_stmt_step(q, &row, NULL), TD_OK);
    assert_int_equal(td_stmt_column_int64(q, 0), 2);
    td_stmt_reset(q);
    td_store_release(svc->store, c);
    fx_stop(fx);
    close_all();
}

/* ---- a group's first additions inserted early, in key order (td__sync_preadd) ----
 * Random groups of additions (with changing labels) and retractions of a few hashes, some held
 * before the group (the source's own, another source's), given to td__sync_preadd whole and then
 * to td__sync_apply page by page: each item's outcome, each page's counts and the bank's signals
 * afterwards are those of a model that applies the items one by one in order. */

#define ORD_KEYS 6
#define ORD_ITEMS 64
#define ORD_PAGE 7
#define ORD_ROUNDS 40

typedef struct ord_state {
    int present, own, labels; /* labels: an index into ord_labels */
} ord_state;

static const char *const ord_labels[] = {"", "alpha", "alpha beta"};

static uint32_t ord_next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* The model's outcome of one item (and the model changed as applying it changes the bank). */
static int ord_model(ord_state *k, int remove, int labels)
{
    if (remove) {
        if (!k->present || !k->own)
            return TD__SYNC_ABSENT;
        k->present = 0;
        return TD__SYNC_REMOVED;
    }
    if (!k->present) {
        k->present = k->own = 1;
        k->labels = labels;
        return TD__SYNC_ADDED;
    }
    if (!k->own || k->labels == labels)
        return TD__SYNC_UNCHANGED;
    k->labels = labels;
    return TD__SYNC_UPDATED;
}

static void ord_count(td__sync_counts *c, int outcome)
{
    if (outcome == TD__SYNC_ADDED)
        c->added++;
    else if (outcome == TD__SYNC_UPDATED)
        c->updated++;
    else if (outcome == TD__SYNC_REMOVED)
        c->removed++;
    else if (outcome == TD__SYNC_ABSENT)
        c->absent++;
    else
        c->unchanged++;
}

static void test_group_order(void **state)
{
    (void)state;
    dir = test_fresh_dir("exchange-order-XXXXXX");
    open_all();
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "ORDER");
    assert_int_equal(td_bank_create(svc, &b, NULL, NULL), TD_OK);
    td_store_conn *c;
    int64_t bank_id = 0, first = 0;
    assert_int_equal(td_store_acquire(svc->store, 1, &c, NULL), TD_OK);
    assert_int_equal(td_store_begin(c, NULL), TD_OK);
    assert_int_equal(td__bank_id(c, "ORDER", &bank_id, NULL), TD_OK);
    assert_int_equal(td_store_commit(c, NULL), TD_OK);
    uint32_t seed = 20261206;
    size_t early = 0;
    for (int round = 0; round < ORD_ROUNDS; round++) {
        char lower[ORD_KEYS][33], text[ORD_ITEMS][33];
        ord_state model[ORD_KEYS];
        td__sync_item items[ORD_ITEMS];
        int key_of[ORD_ITEMS];
        td__sync_counts counts;
        memset(items, 0, sizeof items);
        assert_int_equal(td_store_begin(c, NULL), TD_OK);
        /* Before the group: each hash absent, the source's own or another source's. */
        for (int k = 0; k < ORD_KEYS; k++) {
            snprintf(lower[k], sizeof lower[k], "%08x%08x%08x%08x", (unsigned)round, (unsigned)k,
                     ord_next(&seed), 0xabcdef01u);
            memset(&model[k], 0, sizeof model[k]);
            int held = (int)(ord_next(&seed) % 3); /* 0 absent, 1 own, 2 another's */
            if (!held)
                continue;
            td__sync_item it;
            memset(&it, 0, sizeof it);
            it.type = TD_SIGNAL_MD5;
            it.value = lower[k];
            it.len = 32;
            it.confidence = -1;
            model[k].present = 1;
            model[k].own = held == 1;
            model[k].labels = (int)(ord_next(&seed) % 3);
            it.labels = ord_labels[model[k].labels];
            memset(&counts, 0, sizeof counts);
            assert_int_equal(td__sync_apply(svc, c, bank_id, held == 1 ? "exchange:ord" : "other",
                                            &it, 1, &counts, &first, NULL),
                             TD_OK);
            assert_int_equal(counts.added, 1);
        }
        /* The group: additions and retractions of those hashes, some written in capitals. */
        int labels_of[ORD_ITEMS];
        for (int i = 0; i < ORD_ITEMS; i++) {
            int k = (int)(ord_next(&seed) % ORD_KEYS);
            key_of[i] = k;
            snprintf(text[i], sizeof text[i], "%s", lower[k]);
            if (ord_next(&seed) % 2)
                for (char *p = text[i]; *p; p++)
                    if (*p >= 'a' && *p <= 'f')
                        *p = (char)(*p - 'a' + 'A');
            items[i].type = TD_SIGNAL_MD5;
            items[i].value = text[i];
            items[i].len = 32;
            items[i].confidence = -1;
            items[i].remove = ord_next(&seed) % 3 == 0;
            labels_of[i] = (int)(ord_next(&seed) % 3);
            items[i].labels = ord_labels[labels_of[i]];
        }
        assert_int_equal(td__sync_preadd(svc, c, bank_id, "exchange:ord", items, ORD_ITEMS, NULL),
                         TD_OK);
        for (int i = 0; i < ORD_ITEMS; i++)
            early += items[i].pre == TD__SYNC_PRE_ADDED;
        for (int p = 0; p < ORD_ITEMS; p += ORD_PAGE) {
            int n = ORD_ITEMS - p < ORD_PAGE ? ORD_ITEMS - p : ORD_PAGE;
            td__sync_counts want;
            memset(&want, 0, sizeof want);
            memset(&counts, 0, sizeof counts);
            assert_int_equal(td__sync_apply(svc, c, bank_id, "exchange:ord", items + p, (size_t)n,
                                            &counts, &first, NULL),
                             TD_OK);
            for (int i = p; i < p + n; i++) {
                int outcome = ord_model(&model[key_of[i]], items[i].remove, labels_of[i]);
                assert_int_equal(items[i].outcome, outcome);
                ord_count(&want, outcome);
            }
            assert_int_equal(counts.added, want.added);
            assert_int_equal(counts.updated, want.updated);
            assert_int_equal(counts.unchanged, want.unchanged);
            assert_int_equal(counts.removed, want.removed);
            assert_int_equal(counts.absent, want.absent);
        }
        assert_int_equal(td_store_commit(c, NULL), TD_OK);
        /* The bank holds what the model holds. */
        for (int k = 0; k < ORD_KEYS; k++) {
            td_stmt *q;
            int row = 0;
            assert_int_equal(td_store_prepare(c,
                                              "SELECT source, labels FROM signals WHERE"
                                              " bank_id = $1 AND type = $2 AND value = $3",
                                              &q, NULL),
                             TD_OK);
            assert_int_equal(td_stmt_bind_int64(q, 1, bank_id, NULL), TD_OK);
            assert_int_equal(td_stmt_bind_int64(q, 2, TD_SIGNAL_MD5, NULL), TD_OK);
            assert_int_equal(td__value_bind(q, 3, TD_SIGNAL_MD5, lower[k], NULL), TD_OK);
            assert_int_equal(td_stmt_step(q, &row, NULL), TD_OK);
            assert_int_equal(row, model[k].present);
            if (row) {
                assert_string_equal(td_stmt_column_text(q, 0),
                                    model[k].own ? "exchange:ord" : "other");
                assert_string_equal(td_stmt_column_text(q, 1), ord_labels[model[k].labels]);
            }
            td_stmt_reset(q);
        }
    }
    assert_true(early > 0); /* the early inserts were exercised */
    assert_int_equal(td__follow(svc, NULL, NULL), TD_OK);
    td_store_release(svc->store, c);
    close_all();
}

/* A body signal (a URL) retracted by the SHA-256 of its canonical body, as a peer's feed names a
 * removed body signal (the body went with it): only the source's own is retracted. */
static void test_digest_retraction(void **state)
{
    (void)state;
    dir = test_fresh_dir("exchange-digest-XXXXXX");
    open_all();
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "URLS");
    assert_int_equal(td_bank_create(svc, &b, NULL, NULL), TD_OK);
    static const char url_a[] = "https://propaganda.example/a",
                      url_b[] = "HTTPS://Propaganda.Example/b";
    td__sync_item add[2];
    memset(add, 0, sizeof add);
    add[0].type = add[1].type = TD_SIGNAL_URL;
    add[0].value = url_a;
    add[0].len = strlen(url_a);
    add[1].value = url_b;
    add[1].len = strlen(url_b);
    add[0].confidence = add[1].confidence = -1;
    td__sync_counts counts;
    memset(&counts, 0, sizeof counts);
    int64_t first = 0, bank_id = 0;
    td_store_conn *c;
    assert_int_equal(td_store_acquire(svc->store, 1, &c, NULL), TD_OK);
    assert_int_equal(td_store_begin(c, NULL), TD_OK);
    assert_int_equal(td__bank_id(c, "URLS", &bank_id, NULL), TD_OK);
    assert_int_equal(
        td__sync_apply(svc, c, bank_id, "exchange:peer", add, 2, &counts, &first, NULL), TD_OK);
    assert_int_equal(td_store_commit(c, NULL), TD_OK);
    assert_int_equal(counts.added, 2);
    /* The digests of the canonical bodies (the second URL's host and scheme lower-cased). */
    char digest[2][65];
    const char *urls[2] = {url_a, url_b};
    for (int i = 0; i < 2; i++) {
        char *canon = NULL;
        size_t n = 0;
        assert_int_equal(
            td_signal_body_normalize(TD_SIGNAL_URL, urls[i], strlen(urls[i]), &canon, &n, NULL),
            TD_OK);
        assert_int_equal(td_sha256_hex((const uint8_t *)canon, n, digest[i]), TD_OK);
        td_free(canon);
    }
    td__sync_item rm[2];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < 2; i++) {
        rm[i].remove = rm[i].digest = 1;
        rm[i].type = TD_SIGNAL_URL;
        rm[i].value = digest[i];
        rm[i].len = 64;
    }
    /* Another source's retraction finds nothing of its own. */
    memset(&counts, 0, sizeof counts);
    assert_int_equal(td_store_begin(c, NULL), TD_OK);
    assert_int_equal(
        td__sync_apply(svc, c, bank_id, "exchange:other", rm, 1, &counts, &first, NULL), TD_OK);
    assert_int_equal(counts.absent, 1);
    assert_int_equal(td__sync_apply(svc, c, bank_id, "exchange:peer", rm, 2, &counts, &first, NULL),
                     TD_OK);
    assert_int_equal(td_store_commit(c, NULL), TD_OK);
    assert_int_equal(counts.removed, 2);
    /* A digest names only a retraction. */
    rm[0].remove = 0;
    assert_int_equal(td_store_begin(c, NULL), TD_OK);
    assert_int_equal(td__sync_apply(svc, c, bank_id, "exchange:peer", rm, 1, &counts, &first, NULL),
                     TD_ERR_INVALID);
    td_store_rollback(c);
    assert_int_equal(td__follow(svc, NULL, NULL), TD_OK);
    td_store_release(svc->store, c);
    td_signal *list = NULL;
    size_t n = 0;
    assert_int_equal(td_signal_list(svc, "URLS", 0, 10, &list, &n, NULL), TD_OK);
    assert_int_equal(n, 0);
    td_free(list);
    close_all();
}

/* exchange_reactions_per_minute: with 1, two items matched give one reaction now and one
 * pending for the next minute. */
static void test_reaction_rate(void **state)
{
    (void)state;
    reactions_per_minute = 1;
    dir = test_fresh_dir("exchange-rate-XXXXXX");
    open_all();
    fake_exchange *fx = fx_start();
    assert_non_null(fx);
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "RATE");
    assert_int_equal(td_bank_create(svc, &b, NULL, NULL), TD_OK);
    fx_te_record recs[] = {
        {"201", MD5_1, "HASH_MD5", 1000, 0, "MALICIOUS", {NULL}, 0, 0},
        {"202", MD5_2, "HASH_MD5", 1001, 0, "MALICIOUS", {NULL}, 0, 0},
    };
    fx_te_set(fx, "303", "app|secret", recs, 2, 10);
    td_exchange e, out;
    td_exchange_init(&e);
    snprintf(e.name, sizeof e.name, "rated");
    e.type = TD_EXCHANGE_THREATEXCHANGE;
    snprintf(e.url, sizeof e.url, "%s", fx_base_url(fx));
    snprintf(e.group, sizeof e.group, "303");
    snprintf(e.bank, sizeof e.bank, "RATE");
    e.reactions = 1;
    assert_int_equal(
        td_exchange_create_as(ex, NULL, &e, "{\"token\": \"app|secret\"}", NULL, &out, NULL),
        TD_OK);
    td_exchange_run run;
    assert_int_equal(td_exchange_run_now(ex, out.id, 0, &run, NULL), TD_OK);
    assert_int_equal(run.added, 2);
    size_t sent = 0;
    assert_int_equal(td_exchange_react_due(ex, &sent, NULL), TD_OK); /* the scan starts here */
    submit_md5("r-1", MD5_1);
    submit_md5("r-2", MD5_2);
    fx_requests_clear(fx);
    assert_int_equal(td_exchange_react_due(ex, &sent, NULL), TD_OK);
    assert_int_equal(sent, 1);
    assert_int_equal(td_exchange_react_due(ex, &sent, NULL), TD_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(count_requests(fx, "POST", "/201", "reactions", "SAW_THIS_TOO") +
                         count_requests(fx, "POST", "/202", "reactions", "SAW_THIS_TOO"),
                     1);
    assert_int_equal(td_exchange_get(ex, out.id, &e, NULL), TD_OK);
    assert_int_equal(e.reactions_sent, 1);
    assert_int_equal(e.reactions_pending, 1);
    fx_stop(fx);
    close_all();
    reactions_per_minute = 60;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_list),       cmocka_unit_test(test_threatexchange),
        cmocka_unit_test(test_generated_feed), cmocka_unit_test(test_digest_retraction),
        cmocka_unit_test(test_reaction_rate),  cmocka_unit_test(test_add_retract_in_one_page),
        cmocka_unit_test(test_group_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
