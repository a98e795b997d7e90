/* The matching service end to end on a real SQLite store in a temporary directory: banks,
 * signals and their effect on checks, allow banks, thresholds, dihedral variants, quality,
 * import/export, content intake and cases, re-checks, keys, webhooks against a local receiver,
 * content and webhook owners (platform keys), restart, a second node following the change log, a
 * 50k-line bulk import, followers of an import's range log entry, and concurrent checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/fake_clock.h"
#include "support/support.h"
#include "support/store_url.h"
#include "takedown/casework.h"

#define DIH "threatexchange/pdq/data/reg-test-input/dih/"

static const char *fresh_dir(void)
{
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", temp_path("cw-XXXXXX"));
    assert_non_null(mkdtemp(dir));
    return dir;
}

static td_service *open_svc(const char *dir, int fake)
{
    td_service_options o;
    td_service *svc = NULL;
    td_error err;
    td_service_options_default(&o);
    o.webhook_worker = 0;
    o.follow_interval_ms = 0;
    if (fake)
        o.clock.now_ms = fake_clock;
    o.store_url = td_test_store_url(dir);
    td_status st = td_service_open(dir, &o, &svc, &err);
    if (st)
        fail_msg("open: %s", err.message);
    assert_true(td_service_ready(svc));
    return svc;
}

static void make_bank(td_service *svc, const char *name, td_action action, td_bank_kind kind,
                      int threshold)
{
    td_bank b;
    td_error err;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "%s", name);
    b.action = action;
    b.kind = kind;
    b.threshold = threshold;
    if (td_bank_create(svc, &b, NULL, &err))
        fail_msg("bank %s: %s", name, err.message);
}

static td_pdq random_pdq(uint64_t *seed)
{
    td_pdq p;
    for (int i = 0; i < 16; i++)
        p.w[i] = (uint16_t)test_rand(seed);
    return p;
}

/* p with its first `bits` bits flipped. */
static td_pdq flip(td_pdq p, int bits)
{
    for (int k = 0; k < bits; k++)
        p.w[k >> 4] ^= (uint16_t)(1u << (k & 15));
    return p;
}

static int64_t add_pdq(td_service *svc, const char *bank, const td_pdq *p, const char *labels)
{
    td_signal_input in;
    td_signal out;
    td_error err;
    char hex[65];
    td_signal_input_init(&in);
    td_pdq_to_hex(p, hex);
    in.value = hex;
    if (labels)
        assert_int_equal(td_labels_parse(&in.labels, labels, strlen(labels), &err), TD_OK);
    if (td_signal_add(svc, bank, &in, &out, &err))
        fail_msg("add: %s", err.message);
    return out.id;
}

static td_verdict check_pdq(td_service *svc, const td_pdq *p, td_check_result *res)
{
    td_hashes h;
    td_error err;
    td_hashes_init(&h);
    h.pdq[0] = *p;
    h.n_pdq = 1;
    if (td_check_hashes(svc, &h, NULL, res, &err))
        fail_msg("check: %s", err.message);
    return res->verdict;
}

static size_t count_matches(td_service *svc, const td_pdq *p)
{
    td_check_result res;
    check_pdq(svc, p, &res);
    size_t n = res.match_count;
    td_check_result_clear(&res);
    return n;
}

static void test_banks(void **state)
{
    (void)state;
    td_service *svc = open_svc(fresh_dir(), 0);
    td_bank b, got;
    td_error err;
    td_bank_init(&b);
    strcpy(b.name, "bad-name");
    assert_int_equal(td_bank_create(svc, &b, NULL, &err), TD_ERR_INVALID);
    strcpy(b.name, "9START");
    assert_int_equal(td_bank_create(svc, &b, NULL, &err), TD_ERR_INVALID);
    strcpy(b.name, "TERROR_V1");
    b.threshold = 64;
    assert_int_equal(td_bank_create(svc, &b, NULL, &err), TD_ERR_INVALID);
    b.threshold = 20;
    assert_int_equal(td_labels_add(&b.labels, "entity:group_a", &err), TD_OK);
    assert_int_equal(td_labels_add(&b.labels, "bad label", &err), TD_ERR_INVALID);
    assert_int_equal(td_bank_create(svc, &b, &got, &err), TD_OK);
    assert_int_equal(got.threshold, 20);
    assert_int_equal(got.action, TD_ACTION_REVIEW);
    assert_int_equal(got.labels.count, 1);
    assert_int_equal(td_bank_create(svc, &b, NULL, &err), TD_ERR_CONFLICT);
    td_bank v;
    td_bank_init(&v);
    strcpy(v.name, "TERROR_V2");
    v.action = TD_ACTION_BLOCK;
    assert_int_equal(
        td_bank_update(svc, "TERROR_V1", TD_BANK_SET_NAME | TD_BANK_SET_ACTION, &v, &got, &err),
        TD_OK);
    assert_string_equal(got.name, "TERROR_V2");
    assert_int_equal(got.action, TD_ACTION_BLOCK);
    assert_int_equal(got.threshold, 20);
    assert_int_equal(td_bank_get(svc, "TERROR_V1", &got, &err), TD_ERR_NOT_FOUND);
    make_bank(svc, "OTHER", TD_ACTION_LOG, TD_BANK_NORMAL, 31);
    strcpy(v.name, "OTHER");
    assert_int_equal(td_bank_update(svc, "TERROR_V2", TD_BANK_SET_NAME, &v, NULL, &err),
                     TD_ERR_CONFLICT);
    td_bank *list;
    size_t n;
    assert_int_equal(td_bank_list(svc, &list, &n, &err), TD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "OTHER");
    td_free(list);
    assert_int_equal(td_bank_delete(svc, "OTHER", &err), TD_OK);
    assert_int_equal(td_bank_delete(svc, "OTHER", &err), TD_ERR_NOT_FOUND);
    td_service_close(svc);
}

/* HMA's matching_enabled_ratio (td_bank.enabled_ratio): stored as given (0.3 reads back as the
 * double 0.3, also after a restart), enabled always says ratio > 0, the takedown switch
 * (TD_BANK_SET_ENABLED) and the ratio move together, out-of-range ratios are refused, and the
 * check path matches a bank with any ratio above 0 and none at 0. */
static void test_bank_enabled_ratio(void **state)
{
    (void)state;
    uint64_t seed = 23;
    const char *dir = fresh_dir();
    td_service *svc = open_svc(dir, 0);
    td_bank b, got;
    td_error err;
    td_bank_init(&b);
    assert_true(b.enabled_ratio == 1.0);
    strcpy(b.name, "PARTIAL");
    b.enabled_ratio = 0.3;
    assert_int_equal(td_bank_create(svc, &b, &got, &err), TD_OK);
    assert_true(got.enabled_ratio == 0.3);
    assert_int_equal(got.enabled, 1);
    td_pdq p = random_pdq(&seed);
    add_pdq(svc, "PARTIAL", &p, NULL);
    assert_int_equal(count_matches(svc, &p), 1);

    /* Out of range, not a number. */
    td_bank v;
    td_bank_init(&v);
    const double bad[] = {-0.1, 1.0000001, 2.0, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v.enabled_ratio = bad[i];
        assert_int_equal(td_bank_update(svc, "PARTIAL", TD_BANK_SET_ENABLED_RATIO, &v, NULL, &err),
                         TD_ERR_INVALID);
        strcpy(b.name, "BAD_RATIO");
        b.enabled = 1;
        b.enabled_ratio = bad[i];
        assert_int_equal(td_bank_create(svc, &b, NULL, &err), TD_ERR_INVALID);
    }

    /* Ratio 0: disabled, no match; a ratio again: enabled. */
    v.enabled_ratio = 0.0;
    assert_int_equal(td_bank_update(svc, "PARTIAL", TD_BANK_SET_ENABLED_RATIO, &v, &got, &err),
                     TD_OK);
    assert_int_equal(got.enabled, 0);
    assert_true(got.enabled_ratio == 0.0);
    assert_int_equal(count_matches(svc, &p), 0);
    v.enabled_ratio = 1.0 / 3.0;
    assert_int_equal(td_bank_update(svc, "PARTIAL", TD_BANK_SET_ENABLED_RATIO, &v, &got, &err),
                     TD_OK);
    assert_int_equal(got.enabled, 1);
    assert_true(got.enabled_ratio == 1.0 / 3.0);
    assert_int_equal(count_matches(svc, &p), 1);

    /* The takedown switch: on keeps a ratio above 0, off sets 0, on again after 0 sets 1.0. */
    v.enabled = 1;
    assert_int_equal(td_bank_update(svc, "PARTIAL", TD_BANK_SET_ENABLED, &v, &got, &err), TD_OK);
    assert_true(got.enabled_ratio == 1.0 / 3.0);
    v.enabled = 0;
    assert_int_equal(td_bank_update(svc, "PARTIAL", TD_BANK_SET_ENABLED, &v, &got, &err), TD_OK);
    assert_int_equal(got.enabled, 0);
    assert_true(got.enabled_ratio == 0.0);
    assert_int_equal(count_matches(svc, &p), 0);
    v.enabled = 1;
    assert_int_equal(td_bank_update(svc, "PARTIAL", TD_BANK_SET_ENABLED, &v, &got, &err), TD_OK);
    assert_int_equal(got.enabled, 1);
    assert_true(got.enabled_ratio == 1.0);
    /* Both: the ratio wins (applied after the switch). */
    v.enabled = 0;
    v.enabled_ratio = 0.75;
    assert_int_equal(td_bank_update(svc, "PARTIAL", TD_BANK_SET_ENABLED | TD_BANK_SET_ENABLED_RATIO,
                                    &v, &got, &err),
                     TD_OK);
    assert_int_equal(got.enabled, 1);
    assert_true(got.enabled_ratio == 0.75);

    /* A bank created disabled has ratio 0 whatever its ratio said. */
    td_bank_init(&b);
    strcpy(b.name, "OFF");
    b.enabled = 0;
    b.enabled_ratio = 0.5;
    assert_int_equal(td_bank_create(svc, &b, &got, &err), TD_OK);
    assert_int_equal(got.enabled, 0);
    assert_true(got.enabled_ratio == 0.0);

    /* Read back from the store after a restart, and in the list. */
    v.enabled_ratio = 0.1234567890123456;
    assert_int_equal(td_bank_update(svc, "PARTIAL", TD_BANK_SET_ENABLED_RATIO, &v, NULL, &err),
                     TD_OK);
    td_service_close(svc);
    svc = open_svc(dir, 0);
    assert_int_equal(td_bank_get(svc, "PARTIAL", &got, &err), TD_OK);
    assert_true(got.enabled_ratio == 0.1234567890123456);
    assert_int_equal(count_matches(svc, &p), 1);
    td_bank *list;
    size_t n;
    assert_int_equal(td_bank_list(svc, &list, &n, &err), TD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "OFF");
    assert_true(list[0].enabled_ratio == 0.0);
    assert_true(list[1].enabled_ratio == 0.1234567890123456);
    td_free(list);
    td_service_close(svc);
}

/* HMA bank content: one content, several signals sharing its id; disable_until_ts against the
 * service's clock (0 never, 1 always, a time: from then on), on the check path; a note and
 * metadata kept; an update of a signal added otherwise; delete removes every signal; a signal
 * type at ratio 0 does not match; the counts per type. */
static void test_bank_content(void **state)
{
    (void)state;
    uint64_t seed = 31;
    td_service *svc = open_svc(fresh_dir(), 1);
    td_error err;
    make_bank(svc, "HMA", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    td_pdq p = random_pdq(&seed);
    char pdq_hex[65];
    td_pdq_to_hex(&p, pdq_hex);
    const char *md5 = "0123456789abcdef0123456789abcdef";
    td_signal_input ins[2];
    td_signal_input_init(&ins[0]);
    ins[0].value = pdq_hex;
    td_signal_input_init(&ins[1]);
    ins[1].type = TD_SIGNAL_MD5;
    ins[1].value = md5;
    td_bank_content_input in = {NULL, "{\"content_id\":\"x1\"}", "a note", 0};
    int64_t id = 0;
    td_signal out[2];
    assert_int_equal(td_bank_content_add_as(svc, NULL, "HMA", ins, 2, &in, &id, out, &err), TD_OK);
    assert_int_equal(id, out[0].id); /* the first signal's id */
    td_bank_content c;
    assert_int_equal(td_bank_content_get(svc, "HMA", id, &c, &err), TD_OK);
    assert_int_equal(c.n_signals, 2);
    assert_int_equal(c.disable_until_ts, TD_CONTENT_ENABLED);
    assert_string_equal(c.note, "a note");
    assert_string_equal(c.metadata, "{\"content_id\":\"x1\"}");
    assert_null(c.original_media_uri);
    td_bank_content_clear(&c);
    td_check_result res;
    assert_int_equal(check_pdq(svc, &p, &res), TD_VERDICT_REVIEW);
    assert_int_equal(res.matches[0].content_id, id);
    td_check_result_clear(&res);
    /* Adding the same hashes again: nothing new, the same content. */
    int64_t again = 0;
    assert_int_equal(td_bank_content_add_as(svc, NULL, "HMA", ins, 2, NULL, &again, NULL, &err),
                     TD_OK);
    assert_int_equal(again, id);

    /* Disabled until now + 60 s: no match until the clock gets there. */
    int64_t now_s = fake_clock_get() / 1000;
    assert_int_equal(td_bank_content_update_as(svc, NULL, "HMA", id, TD_CONTENT_SET_DISABLE_UNTIL,
                                               now_s + 60, NULL, &c, &err),
                     TD_OK);
    assert_int_equal(c.disable_until_ts, now_s + 60);
    assert_string_equal(c.note, "a note"); /* unchanged */
    td_bank_content_clear(&c);
    assert_int_equal(count_matches(svc, &p), 0);
    td_hashes h;
    td_hashes_init(&h);
    memcpy(h.md5, md5, 33);
    assert_int_equal(td_check_hashes(svc, &h, NULL, &res, &err), TD_OK);
    assert_int_equal(res.match_count, 0);
    td_check_result_clear(&res);
    fake_clock_advance(59 * 1000);
    assert_int_equal(count_matches(svc, &p), 0);
    fake_clock_advance(1000);
    assert_int_equal(count_matches(svc, &p), 1);
    /* 0: never; 1: again. Out of range: refused. */
    assert_int_equal(td_bank_content_update_as(svc, NULL, "HMA", id, TD_CONTENT_SET_DISABLE_UNTIL,
                                               0, NULL, NULL, &err),
                     TD_OK);
    assert_int_equal(count_matches(svc, &p), 0);
    assert_int_equal(td_bank_content_update_as(svc, NULL, "HMA", id, TD_CONTENT_SET_DISABLE_UNTIL,
                                               1, NULL, NULL, &err),
                     TD_OK);
    assert_int_equal(count_matches(svc, &p), 1);
    now_s = fake_clock_get() / 1000;
    assert_int_equal(td_bank_content_update_as(svc, NULL, "HMA", id, TD_CONTENT_SET_DISABLE_UNTIL,
                                               now_s + TD_CONTENT_DISABLE_MAX_S + 1, NULL, NULL,
                                               &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_bank_content_update_as(svc, NULL, "HMA", id, TD_CONTENT_SET_DISABLE_UNTIL,
                                               -1, NULL, NULL, &err),
                     TD_ERR_INVALID);
    /* The note: 255 characters pass (2-byte ones), 256 do not, "" clears it. */
    char note[600];
    for (int i = 0; i < 255; i++)
        memcpy(note + 2 * i, "\xc3\xa9", 2);
    note[510] = 0;
    assert_int_equal(
        td_bank_content_update_as(svc, NULL, "HMA", id, TD_CONTENT_SET_NOTE, 0, note, NULL, &err),
        TD_OK);
    memcpy(note + 510, "x", 2);
    assert_int_equal(
        td_bank_content_update_as(svc, NULL, "HMA", id, TD_CONTENT_SET_NOTE, 0, note, NULL, &err),
        TD_ERR_INVALID);
    assert_int_equal(
        td_bank_content_update_as(svc, NULL, "HMA", id, TD_CONTENT_SET_NOTE, 0, "", &c, &err),
        TD_OK);
    assert_null(c.note);
    td_bank_content_clear(&c);

    /* A signal added otherwise is a content of its own; updating it gives it a row. */
    td_pdq q = random_pdq(&seed);
    int64_t sid = add_pdq(svc, "HMA", &q, NULL);
    assert_int_equal(td_bank_content_get(svc, "HMA", sid, &c, &err), TD_OK);
    assert_int_equal(c.n_signals, 1);
    assert_int_equal(c.disable_until_ts, TD_CONTENT_ENABLED);
    td_bank_content_clear(&c);
    assert_int_equal(td_bank_content_update_as(svc, NULL, "HMA", sid, TD_CONTENT_SET_DISABLE_UNTIL,
                                               0, NULL, NULL, &err),
                     TD_OK);
    assert_int_equal(count_matches(svc, &q), 0);
    /* Its only signal deleted by takedown's route: the content is gone with it. */
    assert_int_equal(td_signal_delete(svc, "HMA", sid, &err), TD_OK);
    assert_int_equal(td_bank_content_get(svc, "HMA", sid, &c, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_bank_content_get(svc, "HMA", 999999, &c, &err), TD_ERR_NOT_FOUND);
    make_bank(svc, "OTHER", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    assert_int_equal(td_bank_content_get(svc, "OTHER", id, &c, &err), TD_ERR_NOT_FOUND);

    /* Signal type ratios: pdq at 0 does not match; the counts per type. */
    assert_int_equal(td_signal_type_ratio_set_as(svc, NULL, TD_SIGNAL_PDQ, 0.0, &err), TD_OK);
    assert_int_equal(count_matches(svc, &p), 0);
    double ratio = -1;
    assert_int_equal(td_signal_type_ratio_get(svc, TD_SIGNAL_PDQ, &ratio, &err), TD_OK);
    assert_true(ratio == 0.0);
    assert_int_equal(td_signal_type_ratio_set_as(svc, NULL, TD_SIGNAL_PDQ, 0.5, &err), TD_OK);
    assert_int_equal(count_matches(svc, &p), 1);
    assert_int_equal(td_signal_type_ratio_set_as(svc, NULL, TD_SIGNAL_PDQ, 1.5, &err),
                     TD_ERR_INVALID);
    td_signal_type_stats ts;
    assert_int_equal(td_signal_type_stats_get(svc, TD_SIGNAL_PDQ, &ts, &err), TD_OK);
    assert_int_equal(ts.stored, 1);
    assert_int_equal(ts.indexed, 1);
    assert_int_equal(td_signal_type_stats_get(svc, TD_SIGNAL_MD5, &ts, &err), TD_OK);
    assert_int_equal(ts.stored, 1);

    /* Delete: every signal of the content goes; again: nothing. */
    int deleted = -1;
    assert_int_equal(td_bank_content_delete_as(svc, NULL, "HMA", id, &deleted, &err), TD_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(count_matches(svc, &p), 0);
    assert_int_equal(td_signal_get(svc, "HMA", out[1].id, &out[0], &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_bank_content_delete_as(svc, NULL, "HMA", id, &deleted, &err), TD_OK);
    assert_int_equal(deleted, 0);
    td_service_close(svc);
}

static void test_signals_and_check(void **state)
{
    (void)state;
    uint64_t seed = 11;
    td_service *svc = open_svc(fresh_dir(), 0);
    td_error err;
    td_check_result res;
    make_bank(svc, "BLOCKED", TD_ACTION_BLOCK, TD_BANK_NORMAL, 31);
    make_bank(svc, "STRICT", TD_ACTION_REVIEW, TD_BANK_NORMAL, 10);
    td_pdq a = random_pdq(&seed), b = random_pdq(&seed);
    int64_t ida = add_pdq(svc, "BLOCKED", &a, "behaviour:glorification");
    int64_t idb = add_pdq(svc, "STRICT", &b, NULL);
    /* Distance 20: inside BLOCKED's threshold, outside STRICT's. */
    td_pdq a20 = flip(a, 20), b20 = flip(b, 20);
    assert_int_equal(check_pdq(svc, &a20, &res), TD_VERDICT_BLOCK);
    assert_int_equal(res.match_count, 1);
    assert_int_equal(res.matches[0].signal_id, ida);
    assert_int_equal(res.matches[0].distance, 20);
    assert_string_equal(res.matches[0].bank, "BLOCKED");
    assert_string_equal(res.matches[0].labels.v[0], "behaviour:glorification");
    td_check_result_clear(&res);
    assert_int_equal(check_pdq(svc, &b20, &res), TD_VERDICT_ALLOW);
    assert_int_equal(res.match_count, 0);
    td_check_result_clear(&res);
    td_pdq b5 = flip(b, 5);
    assert_int_equal(check_pdq(svc, &b5, &res), TD_VERDICT_REVIEW);
    td_check_result_clear(&res);
    /* Threshold raised: b20 matches now. */
    td_bank v;
    v.threshold = 31;
    assert_int_equal(td_bank_update(svc, "STRICT", TD_BANK_SET_THRESHOLD, &v, NULL, &err), TD_OK);
    assert_int_equal(count_matches(svc, &b20), 1);
    /* Disable, enable, delete a signal: effective at once. */
    assert_int_equal(td_signal_set_enabled(svc, "BLOCKED", ida, 0, NULL, &err), TD_OK);
    assert_int_equal(count_matches(svc, &a), 0);
    assert_int_equal(td_signal_set_enabled(svc, "BLOCKED", ida, 1, NULL, &err), TD_OK);
    assert_int_equal(count_matches(svc, &a), 1);
    assert_int_equal(td_signal_set_enabled(svc, "STRICT", ida, 0, NULL, &err), TD_ERR_NOT_FOUND);
    /* A disabled bank does not match. */
    v.enabled = 0;
    assert_int_equal(td_bank_update(svc, "STRICT", TD_BANK_SET_ENABLED, &v, NULL, &err), TD_OK);
    assert_int_equal(count_matches(svc, &b), 0);
    assert_int_equal(td_signal_delete(svc, "BLOCKED", ida, &err), TD_OK);
    assert_int_equal(count_matches(svc, &a), 0);
    assert_int_equal(td_signal_get(svc, NULL, ida, NULL == NULL ? &(td_signal){0} : NULL, &err),
                     TD_ERR_NOT_FOUND);
    /* Duplicates, malformed values, md5 and sha256. */
    td_signal_input in;
    td_signal s;
    char hex[65];
    td_signal_input_init(&in);
    td_pdq_to_hex(&b, hex);
    in.value = hex;
    assert_int_equal(td_signal_add(svc, "STRICT", &in, &s, &err), TD_ERR_CONFLICT);
    assert_int_equal(s.id, idb);
    in.value = "12345";
    assert_int_equal(td_signal_add(svc, "STRICT", &in, &s, &err), TD_ERR_INVALID);
    in.type = TD_SIGNAL_MD5;
    in.value = "D41D8CD98F00B204E9800998ECF8427E";
    assert_int_equal(td_signal_add(svc, "BLOCKED", &in, &s, &err), TD_OK);
    assert_string_equal(s.value, "d41d8cd98f00b204e9800998ecf8427e");
    assert_int_equal(td_signal_add(svc, "NO_SUCH", &in, &s, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(
        td_lookup_signal(svc, "video_md5", "d41d8cd98f00b204e9800998ecf8427e", &res, &err), TD_OK);
    assert_int_equal(res.match_count, 1);
    assert_int_equal(res.verdict, TD_VERDICT_BLOCK);
    td_check_result_clear(&res);
    /* Paging. */
    for (int i = 0; i < 5; i++) {
        td_pdq p = random_pdq(&seed);
        add_pdq(svc, "STRICT", &p, NULL);
    }
    td_signal *page;
    size_t n;
    assert_int_equal(td_signal_list(svc, "STRICT", 0, 4, &page, &n, &err), TD_OK);
    assert_int_equal(n, 4);
    int64_t last = page[3].id;
    assert_int_equal(page[0].id, idb);
    assert_string_equal(page[0].source, "manual");
    assert_true(page[0].added_ms > 0);
    td_free(page);
    assert_int_equal(td_signal_list(svc, "STRICT", last, 4, &page, &n, &err), TD_OK);
    assert_int_equal(n, 2);
    td_free(page);
    td_service_close(svc);
}

static void test_allow_bank(void **state)
{
    (void)state;
    uint64_t seed = 12;
    td_service *svc = open_svc(fresh_dir(), 0);
    td_check_result res;
    make_bank(svc, "TERROR", TD_ACTION_BLOCK, TD_BANK_NORMAL, 31);
    make_bank(svc, "NEWS", TD_ACTION_LOG, TD_BANK_ALLOW, 31);
    td_pdq a = random_pdq(&seed);
    add_pdq(svc, "TERROR", &a, NULL);
    assert_int_equal(check_pdq(svc, &a, &res), TD_VERDICT_BLOCK);
    td_check_result_clear(&res);
    td_pdq a3 = flip(a, 3);
    add_pdq(svc, "NEWS", &a3, NULL);
    assert_int_equal(check_pdq(svc, &a, &res), TD_VERDICT_ALLOW);
    assert_int_equal(res.match_count, 2);
    int suppressed = 0, allow = 0;
    for (size_t i = 0; i < res.match_count; i++) {
        if (res.matches[i].kind == TD_BANK_ALLOW)
            allow++;
        else
            suppressed += res.matches[i].suppressed;
    }
    assert_int_equal(allow, 1);
    assert_int_equal(suppressed, 1);
    td_check_result_clear(&res);
    td_service_close(svc);
}

static void test_dihedral_and_quality(void **state)
{
    (void)state;
    td_service *svc = open_svc(fresh_dir(), 0);
    td_error err;
    td_check_result res;
    td_signal_input in;
    td_signal sigs[3];
    size_t n, len;
    make_bank(svc, "BRIDGES", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    uint8_t *img = read_all(conf_path(DIH "bridge-1-original.jpg"), &len);
    td_signal_input_init(&in);
    assert_int_equal(td_signal_add_media(svc, "BRIDGES", img, len, &in, sigs, &n, &err), TD_OK);
    assert_int_equal(n, 3);
    assert_int_equal(sigs[0].type, TD_SIGNAL_PDQ);
    assert_true(sigs[0].quality >= 50);
    assert_string_equal(sigs[0].source, "upload");
    free(img);
    img = read_all(conf_path(DIH "bridge-2-rotate-90.jpg"), &len);
    assert_int_equal(td_check_media(svc, img, len, NULL, &res, &err), TD_OK);
    assert_int_equal(res.verdict, TD_VERDICT_REVIEW);
    assert_true(res.match_count >= 1);
    assert_int_equal(res.matches[0].signal_id, sigs[0].id);
    assert_int_not_equal(res.matches[0].variant, TD_DIH_ORIGINAL);
    td_check_result_clear(&res);
    /* Without the variants, the rotated image does not match. */
    td_check_options o;
    td_check_options_init(&o);
    o.dihedral = 0;
    assert_int_equal(td_check_media(svc, img, len, &o, &res, &err), TD_OK);
    assert_int_equal(res.match_count, 0);
    td_check_result_clear(&res);
    free(img);
    /* Quality 3: reported, not matched, even though its own hash is in a bank. */
    img = read_all(conf_path("threatexchange/pdq/data/reg-test-input/labelme-subset/q0003.jpg"),
                   &len);
    assert_int_equal(td_check_media(svc, img, len, NULL, &res, &err), TD_OK);
    assert_true(res.low_quality);
    assert_true(res.hashes.quality < 50);
    td_pdq low = res.hashes.pdq[0];
    td_check_result_clear(&res);
    add_pdq(svc, "BRIDGES", &low, NULL);
    assert_int_equal(td_check_media(svc, img, len, NULL, &res, &err), TD_OK);
    assert_true(res.low_quality);
    assert_int_equal(res.match_count, 0);
    td_check_result_clear(&res);
    free(img);
    td_service_close(svc);
}

static int collect(void *ctx, const char *data, size_t len)
{
    char **buf = ctx;
    size_t old = *buf ? strlen(*buf) : 0;
    *buf = realloc(*buf, old + len + 1);
    memcpy(*buf + old, data, len);
    (*buf)[old + len] = '\0';
    return 0;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Asserts that two lists hold the same lines, in any order (an import stores a list's signals
 * in value order; export writes them in id order). Both strings are modified. */
static void assert_same_lines(char *a, char *b)
{
    char *la[256], *lb[256];
    size_t na = 0, nb = 0;
    for (char *t = strtok(a, "\n"); t && na < 256; t = strtok(NULL, "\n"))
        la[na++] = t;
    for (char *t = strtok(b, "\n"); t && nb < 256; t = strtok(NULL, "\n"))
        lb[nb++] = t;
    assert_int_equal(na, nb);
    qsort(la, na, sizeof *la, line_cmp);
    qsort(lb, nb, sizeof *lb, line_cmp);
    for (size_t i = 0; i < na; i++)
        assert_string_equal(la[i], lb[i]);
}

static void test_import_export(void **state)
{
    (void)state;
    td_service *svc = open_svc(fresh_dir(), 0);
    td_error err;
    td_import_result res;
    td_import_options o;
    make_bank(svc, "LIST", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    const char *lines =
        "# a comment\n"
        "pdq f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22\n"
        "pdq 0000000000000000000000000000000000000000000000000000000000000001\r\n"
        "video_md5 D41D8CD98F00B204E9800998ECF8427E\n"
        "pdq nothex\n"
        "frobnicate 1234\n"
        "url https://example.com/x\n"
        "\n"
        "pdq f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22\n"
        "video_sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    td_import_options_init(&o);
    assert_int_equal(td_import_buffer(svc, "LIST", lines, strlen(lines), &o, &res, &err), TD_OK);
    assert_int_equal(res.added, 4);
    assert_int_equal(res.duplicates, 1);
    assert_int_equal(res.errors, 2);
    assert_int_equal(res.unsupported, 1);
    assert_int_equal(res.error_count, 2);
    assert_int_equal(res.error_list[0].line, 5);
    assert_int_equal(res.error_list[1].line, 6);
    td_import_result_clear(&res);
    /* Atomic import: one bad line, nothing kept. */
    o.atomic = 1;
    const char *bad =
        "pdq 1111111111111111111111111111111111111111111111111111111111111111\npdq x\n";
    assert_int_equal(td_import_buffer(svc, "LIST", bad, strlen(bad), &o, &res, &err),
                     TD_ERR_INVALID);
    td_import_result_clear(&res);
    /* Streamed in tiny chunks, CSV with quoting, tags, a negative class and an over-long line. */
    const char *csv =
        "signal_type,signal_str,collab,category,tags\n"
        "pdq,2222222222222222222222222222222222222222222222222222222222222222,\"GIFCT, shared\","
        "POSITIVE_CLASS,behaviour:instruction type:video\n"
        "pdq,3333333333333333333333333333333333333333333333333333333333333333,,NEGATIVE_CLASS,\n"
        "pdq,4444,x,POSITIVE_CLASS,\n"
        "pdq,5555555555555555555555555555555555555555555555555555555555555555,x,MAYBE,\n"
        "\"pdq,6666666666666666666666666666666666666666666666666666666666666666\n";
    td_import *imp;
    td_import_options_init(&o);
    o.source = "feed";
    assert_int_equal(td_import_begin(svc, "LIST", &o, &imp, &err), TD_OK);
    for (size_t i = 0; i < strlen(csv); i += 7)
        assert_int_equal(
            td_import_feed(imp, csv + i, strlen(csv) - i < 7 ? strlen(csv) - i : 7, &err), TD_OK);
    assert_int_equal(td_import_finish(imp, &res, &err), TD_OK);
    assert_int_equal(res.added, 2);
    assert_int_equal(res.disabled, 1);
    assert_int_equal(res.errors, 3);
    td_import_result_clear(&res);
    td_signal *page;
    size_t n;
    assert_int_equal(td_signal_list(svc, "LIST", 0, 100, &page, &n, &err), TD_OK);
    assert_int_equal(n, 6);
    assert_string_equal(page[4].source, "GIFCT, shared");
    assert_int_equal(page[4].labels.count, 2);
    assert_int_equal(page[5].enabled, 0);
    assert_string_equal(page[5].source, "feed");
    td_free(page);
    /* Limits. */
    td_import_options_init(&o);
    o.max_line = 100;
    char longline[300];
    memset(longline, 'a', sizeof longline);
    assert_int_equal(td_import_buffer(svc, "LIST", longline, sizeof longline, &o, &res, &err),
                     TD_ERR_LIMIT);
    td_import_result_clear(&res);
    /* Export both formats and import them into a fresh bank: same signals. */
    char *te = NULL, *csv_out = NULL;
    assert_int_equal(td_export(svc, "LIST", TD_LIST_LINES, 0, collect, &te, &err), TD_OK);
    assert_int_equal(td_export(svc, "LIST", TD_LIST_CSV, 1, collect, &csv_out, &err), TD_OK);
    assert_non_null(strstr(te, "video_md5 d41d8cd98f00b204e9800998ecf8427e\n"));
    assert_null(strstr(te, "3333")); /* disabled: not exported by default */
    assert_non_null(strstr(csv_out, "\"GIFCT, shared\",POSITIVE_CLASS,behaviour:instruction "
                                    "type:video\n"));
    make_bank(svc, "COPY_TE", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    make_bank(svc, "COPY_CSV", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    td_import_options_init(&o);
    assert_int_equal(td_import_buffer(svc, "COPY_TE", te, strlen(te), &o, &res, &err), TD_OK);
    assert_int_equal(res.added, 5);
    assert_int_equal(res.errors, 0);
    td_import_result_clear(&res);
    assert_int_equal(td_import_buffer(svc, "COPY_CSV", csv_out, strlen(csv_out), &o, &res, &err),
                     TD_OK);
    assert_int_equal(res.added, 6);
    assert_int_equal(res.disabled, 1);
    td_import_result_clear(&res);
    char *again = NULL;
    assert_int_equal(td_export(svc, "COPY_CSV", TD_LIST_CSV, 1, collect, &again, &err), TD_OK);
    assert_same_lines(again, csv_out);
    free(te);
    free(csv_out);
    free(again);
    td_service_close(svc);
}

/* A bulk import (50k PDQ lines plus md5/sha256 and duplicates), streamed in chunks: counts,
 * export identical to the input, imported hashes matched here and on a second node that follows
 * the change log (raw-byte entries), and a bank deletion followed there (hex entries). */
static void test_bulk_import(void **state)
{
    (void)state;
    enum { N = 50000 };
    uint64_t seed = 19;
    const char *dir = fresh_dir();
    td_service *svc = open_svc(dir, 0);
    td_service *other = open_svc(dir, 0);
    td_error err;
    td_import_result res;
    td_import *imp;
    make_bank(svc, "BULK", TD_ACTION_BLOCK, TD_BANK_NORMAL, 31);
    size_t cap = (size_t)N * 70 + 4096, len = 0;
    char *list = malloc(cap);
    assert_non_null(list);
    td_pdq first = random_pdq(&seed), last = first;
    for (int i = 0; i < N; i++) {
        char hex[65];
        td_pdq p = i ? random_pdq(&seed) : first;
        td_pdq_to_hex(&p, hex);
        len += (size_t)snprintf(list + len, cap - len, "pdq %s\n", hex);
        last = p;
    }
    len += (size_t)snprintf(list + len, cap - len,
                            "video_md5 0123456789abcdef0123456789abcdef\n"
                            "video_sha256 "
                            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    size_t unique_len = len;
    char hex0[65];
    td_pdq_to_hex(&first, hex0);
    len += (size_t)snprintf(list + len, cap - len, "pdq %s\n", hex0); /* a duplicate */
    assert_int_equal(td_import_begin(svc, "BULK", NULL, &imp, &err), TD_OK);
    for (size_t off = 0; off < len; off += 65536)
        assert_int_equal(
            td_import_feed(imp, list + off, len - off < 65536 ? len - off : 65536, &err), TD_OK);
    assert_int_equal(td_import_finish(imp, &res, &err), TD_OK);
    assert_int_equal(res.added, N + 2);
    assert_int_equal(res.duplicates, 1);
    assert_int_equal(res.errors, 0);
    td_import_result_clear(&res);
    /* Export: the same lines (the duplicate aside), in value order: the signals' ids follow
     * the values (types in order pdq, md5, sha256), not the lines. */
    char *out = NULL;
    assert_int_equal(td_export(svc, "BULK", TD_LIST_LINES, 0, collect, &out, &err), TD_OK);
    assert_int_equal(strlen(out), unique_len);
    {
        char **lines = malloc((N + 2) * sizeof *lines);
        size_t n_lines = 0;
        assert_non_null(lines);
        for (char *t = strtok(list, "\n"); t && n_lines < N + 2; t = strtok(NULL, "\n"))
            lines[n_lines++] = t;
        qsort(lines, N, sizeof *lines, line_cmp); /* the pdq lines; md5 and sha256 follow */
        size_t off = 0;
        for (size_t i = 0; i < n_lines; i++) {
            size_t l = strlen(lines[i]);
            assert_memory_equal(out + off, lines[i], l);
            assert_int_equal(out[off + l], '\n');
            off += l + 1;
        }
        assert_int_equal(off, unique_len);
        free(lines);
    }
    free(out);
    /* Matched here and, after following the log, on the second node. */
    assert_int_equal(count_matches(svc, &first), 1);
    assert_int_equal(count_matches(svc, &last), 1);
    assert_int_equal(count_matches(other, &last), 0);
    uint64_t applied = 0;
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(count_matches(other, &first), 1);
    assert_int_equal(count_matches(other, &last), 1);
    td_service_stats st;
    assert_int_equal(td_service_get_stats(other, &st, &err), TD_OK);
    assert_int_equal(st.pdq_indexed, N);
    assert_int_equal(st.md5_indexed, 1);
    assert_int_equal(st.sha256_indexed, 1);
    /* Deleting the bank empties the second node's indexes too. */
    assert_int_equal(td_bank_delete(svc, "BULK", &err), TD_OK);
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(count_matches(other, &last), 0);
    assert_int_equal(td_service_get_stats(other, &st, &err), TD_OK);
    assert_int_equal(st.pdq_indexed, 0);
    assert_int_equal(st.md5_indexed, 0);
    assert_int_equal(st.sha256_indexed, 0);
    free(list);
    td_service_close(other);
    td_service_close(svc);
}

/* The id of the signal with this hex value in bank (0 if none). */
static int64_t signal_id_of(td_service *svc, const char *bank, const char *hex)
{
    td_signal *page;
    size_t n;
    td_error err;
    int64_t id = 0;
    assert_int_equal(td_signal_list(svc, bank, 0, 100, &page, &n, &err), TD_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(page[i].value, hex) == 0)
            id = page[i].id;
    td_free(page);
    return id;
}

static void assert_indexed(td_service *svc, uint64_t pdq, uint64_t md5)
{
    td_service_stats st;
    td_error err;
    assert_int_equal(td_service_get_stats(svc, &st, &err), TD_OK);
    assert_int_equal(st.pdq_indexed, pdq);
    assert_int_equal(st.md5_indexed, md5);
}

/* An import logs one ADD_RANGE entry for its signals (none per signal) unless it has
 * NEGATIVE_CLASS lines. A second node that follows only after some of the range changed (one
 * disabled, one deleted) ends with exactly the same indexes as the importing node, without
 * double entries after a re-enable; duplicates inside one chunk and against the bank are
 * recognised; a reopened node agrees. */
static void test_import_log(void **state)
{
    (void)state;
    uint64_t seed = 23;
    const char *dir = fresh_dir();
    td_service *svc = open_svc(dir, 0);
    td_service *other = open_svc(dir, 0);
    td_error err;
    td_import_result res;
    td_signal sig;
    td_signal_input in;
    td_pdq p[6];
    char hex[6][65], list[2048];
    uint64_t applied;
    make_bank(svc, "R", TD_ACTION_BLOCK, TD_BANK_NORMAL, 31);
    for (int i = 0; i < 6; i++) {
        p[i] = random_pdq(&seed);
        td_pdq_to_hex(&p[i], hex[i]);
    }
    td_signal_input_init(&in);
    in.value = hex[0];
    assert_int_equal(td_signal_add(svc, "R", &in, &sig, &err), TD_OK);
    snprintf(list, sizeof list,
             "pdq %s\npdq %s\npdq %s\npdq %s\nvideo_md5 0123456789abcdef0123456789abcdef\n"
             "pdq %s\n",
             hex[1], hex[0], hex[2], hex[3], hex[2]);
    assert_int_equal(td_import_buffer(svc, "R", list, strlen(list), NULL, &res, &err), TD_OK);
    assert_int_equal(res.added, 4);
    assert_int_equal(res.duplicates, 2);
    td_import_result_clear(&res);
    for (int i = 0; i < 4; i++)
        assert_int_equal(count_matches(svc, &p[i]), 1);
    assert_indexed(svc, 4, 1);
    /* Before the second node follows: p2 disabled, p3 deleted. */
    int64_t id2 = signal_id_of(svc, "R", hex[2]), id3 = signal_id_of(svc, "R", hex[3]);
    assert_true(id2 > 0 && id3 > 0);
    assert_int_equal(td_signal_set_enabled(svc, "R", id2, 0, NULL, &err), TD_OK);
    assert_int_equal(td_signal_delete(svc, "R", id3, &err), TD_OK);
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(count_matches(other, &p[1]), 1);
    assert_int_equal(count_matches(other, &p[2]), 0);
    assert_int_equal(count_matches(other, &p[3]), 0);
    assert_indexed(other, 2, 1);
    assert_indexed(svc, 2, 1);
    /* Re-enabled: one entry on both nodes, not two. */
    assert_int_equal(td_signal_set_enabled(svc, "R", id2, 1, NULL, &err), TD_OK);
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(count_matches(other, &p[2]), 1);
    assert_indexed(other, 3, 1);
    assert_indexed(svc, 3, 1);
    /* With a NEGATIVE_CLASS line: one entry per indexable signal; enabling the negative one
     * later adds it once. */
    snprintf(list, sizeof list,
             "signal_type,signal_str,collab,category,tags\n"
             "pdq,%s,,NEGATIVE_CLASS,\npdq,%s,,POSITIVE_CLASS,\n",
             hex[4], hex[5]);
    assert_int_equal(td_import_buffer(svc, "R", list, strlen(list), NULL, &res, &err), TD_OK);
    assert_int_equal(res.added, 2);
    assert_int_equal(res.disabled, 1);
    td_import_result_clear(&res);
    assert_int_equal(count_matches(svc, &p[4]), 0);
    assert_int_equal(count_matches(svc, &p[5]), 1);
    int64_t id4 = signal_id_of(svc, "R", hex[4]);
    assert_int_equal(td_signal_set_enabled(svc, "R", id4, 1, NULL, &err), TD_OK);
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(count_matches(other, &p[4]), 1);
    assert_int_equal(count_matches(other, &p[5]), 1);
    assert_indexed(other, 5, 1);
    assert_indexed(svc, 5, 1);
    td_service_close(other);
    td_service_close(svc);
    /* Reopened: the same state from the signals table. */
    svc = open_svc(dir, 0);
    assert_indexed(svc, 5, 1);
    td_service_close(svc);
}

static void test_content_cases(void **state)
{
    (void)state;
    uint64_t seed = 13;
    td_service *svc = open_svc(fresh_dir(), 1);
    td_error err;
    td_content c;
    td_content_input in;
    td_hashes h;
    make_bank(svc, "REVIEW_ME", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    td_pdq low = random_pdq(&seed), high = random_pdq(&seed);
    add_pdq(svc, "REVIEW_ME", &low, "behaviour:glorification");
    add_pdq(svc, "REVIEW_ME", &high, "behaviour:imminent_threat");
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    h.n_pdq = 1;
    in.hashes = &h;
    in.uploader = "user-1";
    in.url = "https://platform.example/p/1";
    in.metadata_json = "{\"lang\": \"en\"}";
    h.pdq[0] = low;
    in.content_id = "c-low";
    if (td_content_submit(svc, &in, &c, &err))
        fail_msg("submit: %s", err.message);
    assert_int_equal(c.verdict, TD_VERDICT_REVIEW);
    assert_true(c.has_case);
    assert_int_equal(c.kase.state, TD_CASE_OPEN);
    assert_string_equal(c.metadata_json, "{\"lang\":\"en\"}");
    td_content_clear(&c);
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_ERR_CONFLICT);
    in.metadata_json = "[1]";
    in.content_id = "c-bad";
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_ERR_INVALID);
    in.metadata_json = NULL;
    fake_clock_advance(1000);
    h.pdq[0] = high;
    in.content_id = "c-high";
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_OK);
    /* The queue: the imminent threat first although it came later. */
    td_case *cases;
    size_t n;
    assert_int_equal(td_case_list(svc, NULL, &cases, &n, &err), TD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(cases[0].content_id, "c-high");
    assert_true(cases[0].priority > cases[1].priority);
    int64_t case_id = cases[0].id;
    td_free(cases);
    td_principal alice = {.id = 101, .role = TD_ROLE_MODERATOR, .name = "alice"},
                 bob = {.id = 102, .role = TD_ROLE_MODERATOR, .name = "bob"};
    td_case k;
    assert_int_equal(td_case_claim(svc, case_id, &alice, &k, &err), TD_OK);
    assert_int_equal(k.state, TD_CASE_CLAIMED);
    assert_int_equal(td_case_claim(svc, case_id, &alice, &k, &err), TD_OK);
    assert_int_equal(td_case_claim(svc, case_id, &bob, &k, &err), TD_ERR_CONFLICT);
    td_decision d;
    assert_int_equal(td_case_decide(svc, case_id, &bob, TD_DECISION_REMOVE, "no", &d, &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(td_case_decide(svc, case_id, &alice, TD_DECISION_REMOVE, "", &d, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_case_decide(svc, case_id, &alice, TD_DECISION_ESCALATE, "unsure", &d, &err),
                     TD_OK);
    assert_int_equal(td_case_get(svc, case_id, &k, &err), TD_OK);
    assert_int_equal(k.state, TD_CASE_ESCALATED);
    assert_int_equal(td_case_claim(svc, case_id, &bob, &k, &err), TD_OK);
    assert_int_equal(
        td_case_decide(svc, case_id, &bob, TD_DECISION_REMOVE, "threat to life", &d, &err), TD_OK);
    assert_int_equal(td_case_claim(svc, case_id, &alice, &k, &err), TD_ERR_CONFLICT);
    assert_int_equal(td_content_get(svc, "c-high", &c, &err), TD_OK);
    assert_int_equal(c.kase.state, TD_CASE_CLOSED);
    assert_int_equal(c.kase.outcome, TD_DECISION_REMOVE);
    assert_int_equal(c.decision_count, 2);
    assert_string_equal(c.decisions[0].principal_name, "alice");
    assert_int_equal(c.decisions[1].kind, TD_DECISION_REMOVE);
    assert_string_equal(c.decisions[1].reason, "threat to life");
    assert_int_equal(c.decisions[1].decided_ms, fake_clock_get());
    assert_int_equal(c.match_count, 1);
    assert_string_equal(c.url, "https://platform.example/p/1");
    td_content_clear(&c);
    td_case_filter f = {1u << TD_CASE_CLOSED, 0, 0, 0, NULL};
    assert_int_equal(td_case_list(svc, &f, &cases, &n, &err), TD_OK);
    assert_int_equal(n, 1);
    td_free(cases);
    assert_int_equal(td_content_get(svc, "nope", &c, &err), TD_ERR_NOT_FOUND);
    td_service_close(svc);
}

/* Content sources, cases a person asked for, and parts whose matches join the item's. The
 * expectations come from the inputs: the bridge's PDQ signal was added from the original file,
 * the part is the rotated file (a dihedral variant), the document part matches only by its
 * SHA-256 computed here with OpenSSL. */
static void test_content_sources_and_parts(void **state)
{
    (void)state;
    uint64_t seed = 15;
    td_service *svc = open_svc(fresh_dir(), 1);
    td_error err;
    td_content c;
    td_content_input in;
    td_hashes h;
    td_webhook w;
    make_bank(svc, "REVIEW_IMG", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    make_bank(svc, "BLOCK_DOC", TD_ACTION_BLOCK, TD_BANK_NORMAL, 31);
    assert_int_equal(td_webhook_create(svc, "http://127.0.0.1:9/hook", "0123456789abcdef-parts",
                                       TD_EVENT_ALL, &w, &err),
                     TD_OK);
    size_t len;
    uint8_t *img = read_all(conf_path(DIH "bridge-1-original.jpg"), &len);
    td_signal_input si;
    td_signal sigs[3];
    size_t ns = 0;
    td_signal_input_init(&si);
    assert_int_equal(td_labels_parse(&si.labels, "behaviour:glorification", 23, &err), TD_OK);
    assert_int_equal(td_signal_add_media(svc, "REVIEW_IMG", img, len, &si, sigs, &ns, &err), TD_OK);
    free(img);
    static const char doc[] = "%PDF-1.4 not an image, a document a bank holds by its digest";
    unsigned char digest[32];
    unsigned int dl = 0;
    char sha[65];
    assert_int_equal(EVP_Digest(doc, sizeof doc - 1, digest, &dl, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", digest[i]);
    td_signal_input_init(&si);
    si.type = TD_SIGNAL_SHA256;
    si.value = sha;
    td_signal doc_sig;
    assert_int_equal(td_signal_add(svc, "BLOCK_DOC", &si, &doc_sig, &err), TD_OK);

    /* Defaults: an upload, no case without a review match. */
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    h.n_pdq = 1;
    h.pdq[0] = random_pdq(&seed);
    in.hashes = &h;
    in.content_id = "plain";
    assert_int_equal(td_content_submit(svc, &in, &c, &err), TD_OK);
    assert_string_equal(c.source, "upload");
    assert_false(c.has_case);
    td_content_clear(&c);

    /* A person flagged it: a case without any match, priority 0, opened by the source. */
    in.content_id = "flagged";
    in.source = "e2ee_report";
    in.open_case = 1;
    h.pdq[0] = random_pdq(&seed);
    assert_int_equal(td_content_submit(svc, &in, &c, &err), TD_OK);
    assert_string_equal(c.source, "e2ee_report");
    assert_int_equal(c.verdict, TD_VERDICT_ALLOW);
    assert_true(c.has_case);
    assert_int_equal(c.kase.state, TD_CASE_OPEN);
    assert_int_equal(c.kase.priority, 0);
    assert_string_equal(c.kase.opened_by, "e2ee_report");
    td_content_clear(&c);

    /* Refusals, nothing stored. */
    static const char *const bad_sources[] = {"", "E2EE", "with space", "a-b",
                                              "0123456789abcdef0123456789abcdef0"};
    for (size_t i = 0; i < sizeof bad_sources / sizeof bad_sources[0]; i++) {
        in.content_id = "bad-source";
        in.source = bad_sources[i];
        assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_ERR_INVALID);
    }
    in.source = "e2ee_report";
    td_content_part parts[TD_CONTENT_PARTS_MAX + 1];
    memset(parts, 0, sizeof parts);
    for (size_t i = 0; i <= TD_CONTENT_PARTS_MAX; i++)
        parts[i].hashes = &h;
    in.parts = parts;
    in.n_parts = TD_CONTENT_PARTS_MAX + 1;
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_ERR_LIMIT);
    in.parts = NULL;
    in.n_parts = 1;
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_ERR_INVALID);
    parts[0].hashes = NULL;
    in.parts = parts;
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_ERR_INVALID);
    assert_int_equal(td_content_get(svc, "bad-source", &c, &err), TD_ERR_NOT_FOUND);

    /* A message: its own hashes match nothing, its image part the review bank (rotated), its
     * document part the block bank by SHA-256: one content, both matches, verdict block, the
     * remove event, and a case whose priority is the labelled match's. */
    uint8_t *rot = read_all(conf_path(DIH "bridge-2-rotate-90.jpg"), &len);
    memset(parts, 0, sizeof parts);
    parts[0].media = rot;
    parts[0].media_len = len;
    parts[1].media = (const uint8_t *)doc;
    parts[1].media_len = sizeof doc - 1;
    in.parts = parts;
    in.n_parts = 2;
    in.content_id = "message";
    h.pdq[0] = random_pdq(&seed);
    assert_int_equal(td_content_submit(svc, &in, &c, &err), TD_OK);
    assert_int_equal(c.verdict, TD_VERDICT_BLOCK);
    assert_int_equal(c.match_count, 2);
    int seen_img = 0, seen_doc = 0;
    for (size_t i = 0; i < c.match_count; i++) {
        seen_img |= c.matches[i].type == TD_SIGNAL_PDQ && c.matches[i].signal_id == sigs[0].id &&
                    c.matches[i].variant != TD_DIH_ORIGINAL;
        seen_doc |= c.matches[i].type == TD_SIGNAL_SHA256 && c.matches[i].signal_id == doc_sig.id;
    }
    assert_true(seen_img && seen_doc);
    assert_true(c.has_case);
    /* the glorification label's severity, from the labels themselves */
    td_labels glor;
    memset(&glor, 0, sizeof glor);
    assert_int_equal(td_labels_add(&glor, "behaviour:glorification", &err), TD_OK);
    assert_true(td_labels_severity(&glor) > 0);
    assert_int_equal(c.kase.priority, td_labels_severity(&glor) * 100 + TD_CONFIDENCE_DEFAULT);
    assert_string_equal(c.kase.opened_by, "REVIEW_IMG");
    /* The item keeps its own hashes, not its parts'. */
    assert_string_equal(c.hashes.sha256, "");
    assert_string_equal(c.source, "e2ee_report");
    td_content_clear(&c);
    td_delivery *dl_list = NULL;
    size_t nd = 0;
    int removes = 0, opened = 0;
    assert_int_equal(td_delivery_list(svc, w.id, 100, &dl_list, &nd, &err), TD_OK);
    for (size_t i = 0; i < nd; i++) {
        removes += strcmp(dl_list[i].event, "remove") == 0;
        opened += strcmp(dl_list[i].event, "case.opened") == 0;
    }
    td_free(dl_list);
    assert_int_equal(removes, 1); /* the message's; "flagged" and "plain" matched nothing */
    assert_int_equal(opened, 2);  /* "flagged" and "message" */

    /* The same message again is a taken id, whatever its parts. */
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_ERR_CONFLICT);
    free(rot);
    td_service_close(svc);
}

static void test_recheck(void **state)
{
    (void)state;
    uint64_t seed = 14;
    td_service *svc = open_svc(fresh_dir(), 1);
    td_error err;
    td_content c;
    td_content_input in;
    td_hashes h;
    make_bank(svc, "LATE", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    td_pdq old = random_pdq(&seed), recent = random_pdq(&seed);
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    h.n_pdq = 1;
    in.hashes = &h;
    h.pdq[0] = old;
    in.content_id = "old";
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_OK);
    fake_clock_advance(25LL * 3600 * 1000);
    h.pdq[0] = recent;
    in.content_id = "recent";
    assert_int_equal(td_content_submit(svc, &in, &c, &err), TD_OK);
    assert_int_equal(c.verdict, TD_VERDICT_ALLOW);
    assert_false(c.has_case);
    td_content_clear(&c);
    fake_clock_advance(3600 * 1000);
    td_pdq r = flip(recent, 4), o = flip(old, 4);
    add_pdq(svc, "LATE", &r, NULL);
    add_pdq(svc, "LATE", &o, NULL);
    assert_int_equal(td_content_get(svc, "recent", &c, &err), TD_OK);
    assert_int_equal(c.verdict, TD_VERDICT_REVIEW);
    assert_int_equal(c.match_count, 1);
    assert_int_equal(c.matches[0].distance, 4);
    assert_true(c.has_case);
    td_content_clear(&c);
    assert_int_equal(td_content_get(svc, "old", &c, &err), TD_OK);
    assert_int_equal(c.match_count, 0); /* outside the 24 h window */
    td_content_clear(&c);
    td_service_close(svc);
}

static void test_keys(void **state)
{
    (void)state;
    td_service *svc = open_svc(fresh_dir(), 0);
    td_error err;
    char key[TD_KEY_TEXT_MAX], admin[TD_KEY_TEXT_MAX];
    int created;
    td_principal p;
    td_key_info info;
    assert_int_equal(td_key_ensure_admin(svc, admin, &created, &err), TD_OK);
    assert_int_equal(created, 1);
    assert_int_equal(strlen(admin), TD_KEY_TEXT_LEN);
    assert_int_equal(td_key_ensure_admin(svc, key, &created, &err), TD_OK);
    assert_int_equal(created, 0);
    assert_string_equal(key, "");
    assert_int_equal(td_key_verify(svc, admin, &p, &err), TD_OK);
    assert_int_equal(p.role, TD_ROLE_ADMIN);
    assert_int_equal(td_key_create(svc, TD_ROLE_MODERATOR, "mod-1", key, &info, &err), TD_OK);
    assert_int_equal(td_key_verify(svc, key, &p, &err), TD_OK);
    assert_int_equal(p.role, TD_ROLE_MODERATOR);
    assert_string_equal(p.name, "mod-1");
    assert_int_equal(p.id, info.id);
    char wrong[TD_KEY_TEXT_MAX];
    memcpy(wrong, key, sizeof wrong);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    assert_int_equal(td_key_verify(svc, wrong, &p, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_key_verify(svc, "short", &p, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_key_revoke(svc, info.id, &err), TD_OK);
    assert_int_equal(td_key_verify(svc, key, &p, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_key_revoke(svc, info.id, &err), TD_ERR_NOT_FOUND);
    td_role r;
    assert_int_equal(td_role_parse("auditor", &r), TD_OK);
    assert_int_equal(r, TD_ROLE_AUDITOR);
    assert_int_equal(td_role_parse("root", &r), TD_ERR_INVALID);
    td_key_info *list;
    size_t n;
    assert_int_equal(td_key_list(svc, &list, &n, &err), TD_OK);
    assert_int_equal(n, 2);
    assert_true(list[1].revoked_ms > 0);
    assert_memory_equal(list[1].prefix, key, 12);
    td_free(list);
    td_service_close(svc);
}

/* ---- a small HTTP receiver: answers 500 to the first `fail` requests, then 200 ---- */

typedef struct receiver {
    int fd, port, fail, count;
    char sig[8][200], idem[8][100], body[8][4096];
    pthread_t th;
} receiver;

static void header(const char *req, const char *name, char *out, size_t cap)
{
    const char *p = strcasestr(req, name);
    out[0] = '\0';
    if (!p)
        return;
    p += strlen(name);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    snprintf(out, cap, "%.*s", (int)n, p);
}

static void *receive(void *arg)
{
    receiver *r = arg;
    for (;;) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char req[8192];
        size_t got = 0;
        char *end = NULL;
        while (got < sizeof req - 1) {
            ssize_t k = read(c, req + got, sizeof req - 1 - got);
            if (k <= 0)
                break;
            got += (size_t)k;
            req[got] = '\0';
            if ((end = strstr(req, "\r\n\r\n"))) {
                char cl[32];
                header(req, "Content-Length:", cl, sizeof cl);
                size_t want = (size_t)(end + 4 - req) + (size_t)strtoul(cl, NULL, 10);
                if (got >= want)
                    break;
            }
        }
        int i = r->count < 8 ? r->count : 7;
        header(req, "X-Takedown-Signature:", r->sig[i], sizeof r->sig[i]);
        header(req, "Idempotency-Key:", r->idem[i], sizeof r->idem[i]);
        snprintf(r->body[i], sizeof r->body[i], "%s", end ? end + 4 : "");
        const char *resp =
            r->count < r->fail
                ? "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        r->count++;
        ssize_t w = write(c, resp, strlen(resp));
        (void)w;
        close(c);
    }
}

static void receiver_start(receiver *r, int fail)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(r, 0, sizeof *r);
    r->fail = fail;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->fd, 8), 0);
    getsockname(r->fd, (struct sockaddr *)&a, &len);
    r->port = ntohs(a.sin_port);
    pthread_create(&r->th, NULL, receive, r);
}

static void receiver_stop(receiver *r)
{
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->th, NULL);
}

static void test_webhooks(void **state)
{
    (void)state;
    uint64_t seed = 15;
    const char *secret = "0123456789abcdef-secret";
    receiver r;
    td_service_options o;
    td_service *svc;
    td_error err;
    td_webhook w;
    receiver_start(&r, 1);
    td_service_options_default(&o);
    o.follow_interval_ms = 0;
    o.webhook_allow_private = 1;
    o.webhook_backoff_base_ms = 50;
    o.webhook_backoff_max_ms = 200;
    o.webhook_timeout_ms = 2000;
    assert_int_equal(td_service_open(fresh_dir(), &o, &svc, &err), TD_OK);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
    assert_int_equal(td_webhook_create(svc, "ftp://x/", secret, TD_EVENT_REMOVE, &w, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_webhook_create(svc, url, "short", TD_EVENT_REMOVE, &w, &err),
                     TD_ERR_INVALID);
    unsigned events;
    assert_int_equal(td_event_parse("remove,restore", &events, &err), TD_OK);
    assert_int_equal(events, TD_EVENT_REMOVE | TD_EVENT_RESTORE);
    assert_int_equal(td_event_parse("remove,bogus", &events, &err), TD_ERR_INVALID);
    assert_int_equal(td_webhook_create(svc, url, secret, TD_EVENT_REMOVE, &w, &err), TD_OK);
    make_bank(svc, "BLOCK", TD_ACTION_BLOCK, TD_BANK_NORMAL, 31);
    td_pdq a = random_pdq(&seed);
    add_pdq(svc, "BLOCK", &a, NULL);
    td_content_input in;
    td_hashes h;
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    h.n_pdq = 1;
    h.pdq[0] = a;
    in.hashes = &h;
    in.content_id = "upload-77";
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_OK);
    td_delivery *d = NULL;
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(td_delivery_list(svc, w.id, 10, &d, &n, &err), TD_OK);
        if (n == 1 && d[0].state == TD_DELIVERY_DELIVERED)
            break;
        td_free(d);
        d = NULL;
        usleep(50000);
    }
    assert_non_null(d);
    assert_int_equal(d[0].state, TD_DELIVERY_DELIVERED);
    assert_int_equal(d[0].attempts, 2);
    assert_int_equal(d[0].last_status, 200);
    assert_string_equal(d[0].event, "remove");
    assert_int_equal(r.count, 2);
    assert_string_equal(r.idem[0], r.idem[1]);
    assert_string_equal(r.idem[0], d[0].idempotency_key);
    assert_string_equal(r.body[0], r.body[1]);
    assert_non_null(strstr(r.body[1], "\"upload-77\""));
    /* The signature, recomputed independently. */
    unsigned char mac[32];
    unsigned mac_len = 0;
    char expect[80] = "sha256=";
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)r.body[1],
         strlen(r.body[1]), mac, &mac_len);
    for (unsigned i = 0; i < mac_len; i++)
        snprintf(expect + 7 + 2 * i, 3, "%02x", mac[i]);
    assert_string_equal(r.sig[1], expect);
    td_free(d);
    td_service_stats st;
    assert_int_equal(td_service_get_stats(svc, &st, &err), TD_OK);
    assert_int_equal(st.webhook_failures, 1);
    assert_int_equal(st.queue_depth, 0);
    assert_int_equal(st.pdq_indexed, 1);
    td_service_close(svc);
    receiver_stop(&r);
}

/* Owners: content records the platform key that submitted it; a platform principal reads and
 * names only its own content (others answer as unknown ids); webhooks of a platform key get only
 * that key's content events. */
static size_t deliveries_of(td_service *svc, int64_t webhook)
{
    td_delivery *d = NULL;
    size_t n = 0;
    td_error err;
    assert_int_equal(td_delivery_list(svc, webhook, 100, &d, &n, &err), TD_OK);
    td_free(d);
    return n;
}

static void test_content_owners(void **state)
{
    (void)state;
    uint64_t seed = 21;
    td_service *svc = open_svc(fresh_dir(), 0);
    td_error err, err2;
    char key[TD_KEY_TEXT_MAX];
    td_key_info ka, kb, km, kr;
    assert_int_equal(td_key_create(svc, TD_ROLE_PLATFORM, "plat-a", key, &ka, &err), TD_OK);
    assert_int_equal(td_key_create(svc, TD_ROLE_PLATFORM, "plat-b", key, &kb, &err), TD_OK);
    assert_int_equal(td_key_create(svc, TD_ROLE_MODERATOR, "mod", key, &km, &err), TD_OK);
    assert_int_equal(td_key_create(svc, TD_ROLE_PLATFORM, "gone", key, &kr, &err), TD_OK);
    assert_int_equal(td_key_revoke(svc, kr.id, &err), TD_OK);
    td_principal pa = {.id = ka.id, .role = TD_ROLE_PLATFORM, .name = "plat-a"},
                 pb = {.id = kb.id, .role = TD_ROLE_PLATFORM, .name = "plat-b"},
                 pm = {.id = km.id, .role = TD_ROLE_MODERATOR, .name = "mod"};
    assert_int_equal(td_principal_platform(&pa), ka.id);
    assert_int_equal(td_principal_platform(&pm), 0);
    assert_int_equal(td_principal_platform(NULL), 0);

    /* Webhooks: the operator's, A's and B's; the owner must be a valid platform key. */
    const char *url = "http://127.0.0.1:9/hook", *secret = "0123456789abcdef-owners";
    td_webhook w_all, w_a, w_b, w;
    assert_int_equal(td_webhook_create_for(svc, url, secret, TD_EVENT_ALL, km.id, &w, &err),
                     TD_ERR_INVALID);
    /* A revoked key still names its platform (other keys of it may be valid). */
    assert_int_equal(td_webhook_create_for(svc, url, secret, TD_EVENT_ALL, kr.id, &w, &err), TD_OK);
    assert_int_equal(td_webhook_delete(svc, w.id, &err), TD_OK);
    assert_int_equal(td_webhook_create_for(svc, url, secret, TD_EVENT_ALL, 999999, &w, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_webhook_create_for(svc, url, secret, TD_EVENT_ALL, -1, &w, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_webhook_create(svc, url, secret, TD_EVENT_ALL, &w_all, &err), TD_OK);
    assert_int_equal(td_webhook_create_for(svc, url, secret, TD_EVENT_ALL, ka.id, &w_a, &err),
                     TD_OK);
    assert_int_equal(td_webhook_create_for(svc, url, secret, TD_EVENT_ALL, kb.id, &w_b, &err),
                     TD_OK);
    assert_int_equal(w_all.platform_key, 0);
    assert_int_equal(w_a.platform_key, ka.id);
    td_webhook *list = NULL;
    size_t nl = 0;
    assert_int_equal(td_webhook_list(svc, &list, &nl, &err), TD_OK);
    assert_int_equal(nl, 3);
    assert_int_equal(list[2].platform_key, kb.id);
    td_free(list);

    /* Content of A, B and the moderator (no owner), each opening a case. */
    make_bank(svc, "REVIEW", TD_ACTION_REVIEW, TD_BANK_NORMAL, 31);
    td_pdq p = random_pdq(&seed);
    add_pdq(svc, "REVIEW", &p, NULL);
    td_content_input in;
    td_hashes h;
    td_content c;
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    h.n_pdq = 1;
    h.pdq[0] = p;
    in.hashes = &h;
    in.content_id = "a1";
    in.uploader = "alice";
    in.platform_key = td_principal_platform(&pa);
    assert_int_equal(td_content_submit(svc, &in, &c, &err), TD_OK);
    assert_int_equal(c.platform_key, ka.id);
    assert_true(c.has_case);
    int64_t case_a = c.kase.id;
    td_content_clear(&c);
    in.content_id = "b1";
    in.uploader = "bob";
    in.platform_key = td_principal_platform(&pb);
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_OK);
    in.content_id = "m1";
    in.platform_key = td_principal_platform(&pm);
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_OK);
    /* B cannot take A's id; the answer is the one A gets for a repeat, and A's record stays. */
    in.content_id = "a1";
    in.uploader = "mallory";
    in.platform_key = kb.id;
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_ERR_CONFLICT);
    in.platform_key = ka.id;
    assert_int_equal(td_content_submit(svc, &in, NULL, &err2), TD_ERR_CONFLICT);
    assert_string_equal(err.message, err2.message);

    /* Reads: B does not see A's content, with the message of an unknown id. */
    assert_int_equal(td_content_get_as(svc, &pb, "a1", &c, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_content_get_as(svc, &pb, "zz", &c, &err2), TD_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no content 'a1'");
    assert_string_equal(err2.message, "no content 'zz'");
    assert_int_equal(td_content_get_as(svc, &pa, "m1", &c, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_content_get_as(svc, &pa, "a1", &c, &err), TD_OK);
    assert_string_equal(c.uploader, "alice");
    assert_int_equal(c.platform_key, ka.id);
    td_content_clear(&c);
    assert_int_equal(td_content_get_as(svc, &pm, "b1", &c, &err), TD_OK);
    assert_int_equal(c.platform_key, kb.id);
    td_content_clear(&c);
    assert_int_equal(td_content_get_as(svc, NULL, "m1", &c, &err), TD_OK);
    assert_int_equal(c.platform_key, 0);
    td_content_clear(&c);
    assert_int_equal(td_content_visible(svc, &pb, "a1", &err), TD_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no content 'a1'");
    assert_int_equal(td_content_visible(svc, &pb, "b1", &err), TD_OK);
    assert_int_equal(td_content_visible(svc, &pm, "a1", &err), TD_OK);
    assert_int_equal(td_content_visible(svc, &pa, "zz", &err), TD_ERR_NOT_FOUND);
    int64_t owner = -1;
    assert_int_equal(td_content_owner(svc, "b1", &owner, &err), TD_OK);
    assert_int_equal(owner, kb.id);
    assert_int_equal(td_content_owner(svc, "m1", &owner, &err), TD_OK);
    assert_int_equal(owner, 0);
    assert_int_equal(td_content_owner(svc, "zz", &owner, &err), TD_ERR_NOT_FOUND);

    /* A second key of platform A (rotation): it acts for A, also once A's first key is revoked. */
    td_key_info ka2, ka3;
    char key_a2[TD_KEY_TEXT_MAX];
    assert_int_equal(td_key_create_for(svc, TD_ROLE_MODERATOR, "x", ka.id, key, &kr, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_key_create_for(svc, TD_ROLE_PLATFORM, "x", km.id, key, &kr, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_key_create_for(svc, TD_ROLE_PLATFORM, "x", 999999, key, &kr, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_key_create_for(svc, TD_ROLE_PLATFORM, "plat-a2", ka.id, key_a2, &ka2, &err),
                     TD_OK);
    assert_int_equal(ka2.platform_key, ka.id);
    td_principal pa2;
    assert_int_equal(td_key_verify(svc, key_a2, &pa2, &err), TD_OK);
    assert_int_equal(pa2.id, ka2.id);
    assert_int_equal(td_principal_platform(&pa2), ka.id);
    assert_int_equal(td_key_revoke(svc, ka.id, &err), TD_OK);
    assert_int_equal(td_key_create_for(svc, TD_ROLE_PLATFORM, "plat-a3", ka2.id, key, &ka3, &err),
                     TD_OK);
    assert_int_equal(ka3.platform_key, ka.id);
    assert_int_equal(td_content_get_as(svc, &pa2, "a1", &c, &err), TD_OK);
    td_content_clear(&c);
    assert_int_equal(td_content_visible(svc, &pa2, "b1", &err), TD_ERR_NOT_FOUND);
    in.content_id = "a2";
    in.platform_key = td_principal_platform(&pa2);
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_OK);
    assert_int_equal(td_content_owner(svc, "a2", &owner, &err), TD_OK);
    assert_int_equal(owner, ka.id);
    /* A webhook named by the second key belongs to platform A. */
    assert_int_equal(td_webhook_create_for(svc, url, secret, TD_EVENT_ALL, ka2.id, &w, &err),
                     TD_OK);
    assert_int_equal(w.platform_key, ka.id);
    assert_int_equal(td_webhook_delete(svc, w.id, &err), TD_OK);
    td_key_info *keys = NULL;
    size_t nk = 0;
    assert_int_equal(td_key_list(svc, &keys, &nk, &err), TD_OK);
    for (size_t i = 0; i < nk; i++)
        if (keys[i].id == ka2.id || keys[i].id == ka3.id)
            assert_int_equal(keys[i].platform_key, ka.id);
        else
            assert_int_equal(keys[i].platform_key, 0);
    td_free(keys);

    /* Events: match and case.opened of all three to the operator's webhook, of A's and B's
     * content to their own webhooks only. */
    assert_int_equal(deliveries_of(svc, w_all.id), 8);
    assert_int_equal(deliveries_of(svc, w_a.id), 4); /* a1 and a2 */
    assert_int_equal(deliveries_of(svc, w_b.id), 2);
    /* A decision on A's content: case.decided and remove, not to B. */
    assert_int_equal(td_case_decide(svc, case_a, &pm, TD_DECISION_REMOVE, "propaganda", NULL, &err),
                     TD_OK);
    assert_int_equal(deliveries_of(svc, w_all.id), 10);
    assert_int_equal(deliveries_of(svc, w_a.id), 6);
    assert_int_equal(deliveries_of(svc, w_b.id), 2);
    td_service_close(svc);
}

static void test_private_refused(void **state)
{
    (void)state;
    receiver r;
    td_service *svc;
    td_error err;
    td_webhook w;
    uint64_t seed = 16;
    receiver_start(&r, 0);
    svc = open_svc(fresh_dir(), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
    assert_int_equal(td_webhook_create(svc, url, "0123456789abcdefXYZ", TD_EVENT_ALL, &w, &err),
                     TD_OK);
    make_bank(svc, "BLOCK", TD_ACTION_BLOCK, TD_BANK_NORMAL, 31);
    td_pdq a = random_pdq(&seed);
    add_pdq(svc, "BLOCK", &a, NULL);
    td_content_input in;
    td_hashes h;
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    h.n_pdq = 1;
    h.pdq[0] = a;
    in.hashes = &h;
    in.content_id = "x";
    assert_int_equal(td_content_submit(svc, &in, NULL, &err), TD_OK);
    size_t attempted = 0, n;
    assert_int_equal(td_webhook_run_due(svc, &attempted, &err), TD_OK);
    assert_int_equal(attempted, 2); /* match + remove */
    td_delivery *d;
    assert_int_equal(td_delivery_list(svc, 0, 10, &d, &n, &err), TD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(d[0].state, TD_DELIVERY_PENDING);
    assert_non_null(strstr(d[0].last_error, "private"));
    td_free(d);
    assert_int_equal(r.count, 0);
    td_service_close(svc);
    receiver_stop(&r);
}

static void test_restart_and_follow(void **state)
{
    (void)state;
    uint64_t seed = 17;
    const char *dir = fresh_dir();
    td_error err;
    td_service *svc = open_svc(dir, 0);
    make_bank(svc, "KEEP", TD_ACTION_BLOCK, TD_BANK_NORMAL, 31);
    td_pdq a = random_pdq(&seed), b = random_pdq(&seed);
    add_pdq(svc, "KEEP", &a, NULL);
    int64_t idb = add_pdq(svc, "KEEP", &b, NULL);
    assert_int_equal(td_signal_set_enabled(svc, "KEEP", idb, 0, NULL, &err), TD_OK);
    td_service_close(svc);
    svc = open_svc(dir, 0);
    assert_int_equal(count_matches(svc, &a), 1);
    assert_int_equal(count_matches(svc, &b), 0);
    /* A second node on the same database follows the change log. */
    td_service *other = open_svc(dir, 0);
    td_pdq c = random_pdq(&seed);
    add_pdq(svc, "KEEP", &c, NULL);
    assert_int_equal(count_matches(other, &c), 0);
    uint64_t applied = 0;
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(applied, 1);
    assert_int_equal(count_matches(other, &c), 1);
    td_bank v;
    v.enabled = 0;
    assert_int_equal(td_bank_update(svc, "KEEP", TD_BANK_SET_ENABLED, &v, NULL, &err), TD_OK);
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(count_matches(other, &c), 0);
    td_service_close(other);
    td_service_close(svc);
}

typedef struct checker {
    td_service *svc;
    td_pdq stable;
    atomic_int *stop;
    atomic_int checks; /* read by the writer, which starts once every checker has checked */
    int misses;
} checker;

static void *check_loop(void *arg)
{
    checker *k = arg;
    while (!atomic_load(k->stop)) {
        td_hashes h;
        td_check_result res;
        td_hashes_init(&h);
        h.n_pdq = 1;
        h.pdq[0] = k->stable;
        if (td_check_hashes(k->svc, &h, NULL, &res, NULL) != TD_OK || res.match_count != 1)
            k->misses++;
        td_check_result_clear(&res);
        atomic_fetch_add(&k->checks, 1);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    uint64_t seed = 18;
    td_service_options o;
    td_service *svc;
    td_error err;
    td_service_options_default(&o);
    o.webhook_worker = 0;
    o.follow_interval_ms = 50; /* the follower thread runs too */
    assert_int_equal(td_service_open(fresh_dir(), &o, &svc, &err), TD_OK);
    make_bank(svc, "BUSY", TD_ACTION_BLOCK, TD_BANK_NORMAL, 31);
    td_pdq stable = random_pdq(&seed);
    add_pdq(svc, "BUSY", &stable, NULL);
    atomic_int stop = 0;
    checker k[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        k[i].svc = svc;
        k[i].stable = stable;
        k[i].stop = &stop;
        k[i].misses = 0;
        atomic_init(&k[i].checks, 0);
        pthread_create(&th[i], NULL, check_loop, &k[i]);
    }
    /* The writes begin once every checker runs (on a loaded machine a thread can start late). */
    for (int i = 0; i < 3; i++)
        while (atomic_load(&k[i].checks) == 0)
            sched_yield();
    for (int i = 0; i < 40; i++) {
        td_pdq p = random_pdq(&seed);
        int64_t id = add_pdq(svc, "BUSY", &p, NULL);
        assert_int_equal(count_matches(svc, &p), 1);
        if (i % 2) {
            assert_int_equal(td_signal_set_enabled(svc, "BUSY", id, 0, NULL, &err), TD_OK);
            assert_int_equal(count_matches(svc, &p), 0);
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_true(atomic_load(&k[i].checks) > 0);
        assert_int_equal(k[i].misses, 0);
    }
    td_service_stats st;
    assert_int_equal(td_service_get_stats(svc, &st, &err), TD_OK);
    assert_int_equal(st.pdq_indexed, 21);
    td_service_close(svc);
}

int main(void)
{
    fake_clock_set(1700000000000LL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_banks),
        cmocka_unit_test(test_bank_enabled_ratio),
        cmocka_unit_test(test_bank_content),
        cmocka_unit_test(test_signals_and_check),
        cmocka_unit_test(test_allow_bank),
        cmocka_unit_test(test_dihedral_and_quality),
        cmocka_unit_test(test_import_export),
        cmocka_unit_test(test_bulk_import),
        cmocka_unit_test(test_import_log),
        cmocka_unit_test(test_content_cases),
        cmocka_unit_test(test_content_sources_and_parts),
        cmocka_unit_test(test_recheck),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_webhooks),
        cmocka_unit_test(test_private_refused),
        cmocka_unit_test(test_content_owners),
        cmocka_unit_test(test_restart_and_follow),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
