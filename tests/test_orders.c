/* Removal orders end to end on a real store in a temporary directory with an injected clock (no
 * sleeping): signed intake (good, tampered, wrong key, unsigned, unknown authority, missing and
 * invalid fields, replay), the receipt committed before the reply, deadline, escalations, breach,
 * Annex III pause and clarification, execution through the webhook queue, confirmation and the
 * Annex II feedback, preservation with its retention, user notices, cross-border review and
 * reinstatement, referrals, complaints, the transparency report against a hand-counted scenario,
 * and the audit log verifying after all of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "support/fake_clock.h"
#include "support/support.h"
#include "support/store_url.h"
#include "takedown/orders.h"
#include "takedown/store.h"

#define MIN ((int64_t)60000)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define T0 ((int64_t)1717200000000LL) /* 2024-06-01T00:00:00Z */

typedef struct fixture {
    char dir[4096];
    td_service *svc;
    td_orders *orders;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t ru_pk[crypto_sign_PUBLICKEYBYTES], ru_sk[crypto_sign_SECRETKEYBYTES];
    int64_t authority_id, unit_id;
    char shares[3][TD_SHARE_TEXT_LEN + 1]; /* the custodians' (legal, privacy, auditor) */
} fixture;

static void check(td_status st, const td_error *err)
{
    if (st)
        fail_msg("%s: %s", td_strerror(st), err->message);
}

static void open_all(fixture *f)
{
    td_service_options so;
    td_error err;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.webhook_allow_private = 1;
    so.clock.now_ms = fake_clock;
    so.store_url = td_test_store_url(f->dir);
    check(td_service_open(f->dir, &so, &f->svc, &err), &err);
    check(td_orders_open(f->svc, NULL, &f->orders, &err), &err);
}

static void close_all(fixture *f)
{
    td_orders_close(f->orders);
    td_service_close(f->svc);
    f->orders = NULL;
    f->svc = NULL;
}

static int setup_common(void **state, int with_master)
{
    fixture *f = calloc(1, sizeof *f);
    td_error err;
    td_webhook hook;
    assert_non_null(f);
    assert_true(sodium_init() >= 0);
    fake_clock_set(T0 - 2 * DAY);
    snprintf(f->dir, sizeof f->dir, "%s", temp_path("orders-XXXXXX"));
    assert_non_null(mkdtemp(f->dir));
    open_all(f);
    /* A receiver nobody listens to: deliveries stay queued for inspection. */
    check(td_webhook_create(f->svc, "http://127.0.0.1:9/hook", "0123456789abcdef0123",
                            TD_EVENT_REMOVE | TD_EVENT_RESTORE, &hook, &err),
          &err);
    const char *names[] = {"legal", "privacy", "auditor"};
    td_share shares[3];
    if (with_master) {
        check(td_evidence_init_master(td_orders_evidence(f->orders), "admin", 2, 3, names, shares,
                                      &err),
              &err);
        for (int i = 0; i < 3; i++)
            td_share_format(&shares[i], f->shares[i]);
        sodium_memzero(shares, sizeof shares);
    }

    char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], b64[64];
    td_authority a;
    crypto_sign_keypair(f->pk, f->sk);
    sodium_bin2hex(hex, sizeof hex, f->pk, sizeof f->pk);
    td_authority_input in = {TD_AUTHORITY_COMPETENT, "BKA", "DE", "ops@bka.example", hex, 0};
    check(td_authority_register(f->orders, "admin", &in, &a, &err), &err);
    f->authority_id = a.id;
    assert_int_equal(a.announced_ms, T0 - 2 * DAY);
    assert_memory_equal(a.public_key, f->pk, 32);

    crypto_sign_keypair(f->ru_pk, f->ru_sk);
    sodium_bin2base64(b64, sizeof b64, f->ru_pk, sizeof f->ru_pk, sodium_base64_VARIANT_ORIGINAL);
    td_authority_input ru = {TD_AUTHORITY_REFERRAL_UNIT, "EU IRU", "EU",
                             "iru@europol.example",      b64,      0};
    check(td_authority_register(f->orders, "admin", &ru, &a, &err), &err);
    f->unit_id = a.id;
    fake_clock_set(T0);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_common(state, 1); }
static int setup_no_master(void **state) { return setup_common(state, 0); }

static int teardown(void **state)
{
    fixture *f = *state;
    close_all(f);
    free(f);
    return 0;
}

static void add_content(fixture *f, const char *id, const char *url, const char *md5)
{
    td_content_input in;
    td_hashes h;
    td_error err;
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    snprintf(h.md5, sizeof h.md5, "%s", md5);
    in.content_id = id;
    in.url = url;
    in.uploader = "user-42";
    in.hashes = &h;
    in.metadata_json = "{\"ip\":\"192.0.2.7\"}";
    check(td_content_submit(f->svc, &in, NULL, &err), &err);
}

typedef struct order_opts {
    const char *type, *authority, *reference, *content;
    int cross_border, emergency, dni_days;
    const char *drop; /* a member to leave out */
} order_opts;

/* The "language" member of the next documents when not NULL (tests of notice templates). */
static const char *order_language;

static char *order_json(const order_opts *o)
{
    static char buf[8192];
    char dni[64], lang[64] = "";
    if (order_language)
        snprintf(lang, sizeof lang, ",\"language\":\"%s\"", order_language);
    if (o->dni_days)
        snprintf(dni, sizeof dni, "true,\"do_not_inform_days\":%d", o->dni_days);
    else
        snprintf(dni, sizeof dni, "false");
    int n = snprintf(buf, sizeof buf,
                     "{\"type\":\"%s\",\"issuing_member_state\":\"DE\","
                     "\"addressee\":\"Example Platform Ltd\",\"reference\":\"%s\","
                     "\"issued_at\":\"2024-06-01T09:59:00Z\",\"content\":%s,"
                     "\"reason\":{\"category\":\"a\",\"statement\":\"Incitement to commit a"
                     " terrorist offence\"},\"do_not_inform\":%s,\"cross_border\":%s,"
                     "\"emergency\":%s,\"issuing_authority\":{\"name\":\"%s\","
                     "\"contact\":\"ops@bka.example\"},\"follow_up_contact\":\"desk@example\"%s%s}",
                     o->type ? o->type : "removal_order", o->reference, o->content, dni,
                     o->cross_border ? "true" : "false", o->emergency ? "true" : "false",
                     o->authority ? o->authority : "BKA",
                     o->drop && strcmp(o->drop, "redress") == 0
                         ? ""
                         : ",\"redress\":\"Verwaltungsgericht Wiesbaden\"",
                     lang);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    return buf;
}

static void sign(const char *body, size_t len, const uint8_t *sk, char *header, size_t cap)
{
    uint8_t sig[crypto_sign_BYTES];
    char b64[128];
    crypto_sign_detached(sig, NULL, (const uint8_t *)body, len, sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    snprintf(header, cap, "ed25519=%s", b64);
}

static td_status receive(fixture *f, td_order_kind kind, const order_opts *o, const uint8_t *sk,
                         td_order_receipt *r, td_order_rejection *why, td_error *err)
{
    char header[160];
    const char *body = order_json(o);
    sign(body, strlen(body), sk ? sk : f->sk, header, sizeof header);
    return td_order_receive(f->orders, kind, (const uint8_t *)body, strlen(body), header, 0, r, why,
                            err);
}

static int64_t must_receive(fixture *f, const order_opts *o, td_order_receipt *r)
{
    td_error err;
    td_order_rejection why;
    check(receive(f, TD_ORDER_REMOVAL, o, NULL, r, &why, &err), &err);
    return r->id;
}

/* The events queued for the webhook, oldest first, as "event content_id cause" lines. */
static void deliveries(fixture *f, char *out, size_t cap)
{
    char path[4200];
    td_store *s;
    td_store_conn *c;
    td_stmt *q;
    td_error err;
    int row;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/takedown.db", f->dir);
    const char *url = td_test_store_url(f->dir);
    check(td_store_open(url ? url : path, NULL, &s, &err), &err);
    check(td_store_acquire(s, 0, &c, &err), &err);
    check(td_store_prepare(c, "SELECT event, body FROM deliveries ORDER BY id", &q, &err), &err);
    out[0] = '\0';
    while (td_stmt_step(q, &row, &err) == TD_OK && row) {
        json_t *b = json_loads(td_stmt_column_text(q, 1), 0, NULL);
        assert_non_null(b);
        int w = snprintf(out + n, cap - n, "%s %s %s\n", td_stmt_column_text(q, 0),
                         json_string_value(json_object_get(b, "content_id")),
                         json_string_value(json_object_get(b, "cause")));
        json_decref(b);
        assert_true(w > 0 && (size_t)w < cap - n);
        n += (size_t)w;
    }
    td_store_release(s, c);
    td_store_close(s);
}

/* Number of audit entries with this action. */
static int audit_count(fixture *f, const char *action)
{
    td_audit *log = td_orders_audit(f->orders);
    uint64_t size;
    td_error err;
    int n = 0;
    check(td_audit_size(log, &size, &err), &err);
    for (uint64_t i = 0; i < size; i++) {
        td_audit_entry e;
        check(td_audit_get(log, i, &e, &err), &err);
        n += strcmp(e.action, action) == 0;
        td_audit_entry_clear(&e);
    }
    return n;
}

static void log_verifies(fixture *f)
{
    td_audit_report rep;
    td_error err;
    check(td_audit_verify_log(td_orders_audit(f->orders), &rep, &err), &err);
    if (!rep.ok)
        fail_msg("audit log: %s", rep.problem);
}

/* ---- parsing ---- */

static void test_parse(void **state)
{
    (void)state;
    td_order_doc *d = malloc(sizeof *d);
    td_order_rejection why;
    td_error err;
    order_opts o = {NULL,
                    NULL,
                    "R-1",
                    "[{\"url\":\"hxxps://Example.com/a/../v?utm_source=x\"},"
                    "{\"content_id\":\"c9\"}]",
                    0,
                    0,
                    14,
                    NULL};
    const char *body = order_json(&o);
    check(td_order_parse(body, strlen(body), d, &why, &err), &err);
    assert_int_equal(d->kind, TD_ORDER_REMOVAL);
    assert_string_equal(d->reference, "R-1");
    assert_int_equal(d->n_targets, 2);
    assert_string_equal(d->targets[0].canonical_url, "https://example.com/v");
    assert_string_equal(d->targets[1].content_id, "c9");
    assert_int_equal(d->category, 'a');
    assert_int_equal(d->do_not_inform_days, 14);
    assert_int_equal(d->issued_ms, T0 + 9 * HOUR + 59 * MIN);

    o.drop = "redress";
    body = order_json(&o);
    assert_int_equal(td_order_parse(body, strlen(body), d, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_MISSING_FIELD);
    assert_string_equal(why.field, "redress");

    static const struct {
        const char *text, *field;
        td_order_problem problem;
    } bad[] = {
        {"[1,2]", "body", TD_ORDER_MALFORMED},
        {"{\"type\":\"removal_order\",\"type\":\"referral\"}", "body", TD_ORDER_MALFORMED},
        {"{\"type\":\"x\"}", "type", TD_ORDER_INVALID_FIELD},
        {"{\"type\":\"referral\",\"extra\":1}", "extra", TD_ORDER_INVALID_FIELD},
        {"{\"type\":\"referral\"}", "issuing_authority", TD_ORDER_MISSING_FIELD},
        {"{\"type\":\"referral\",\"issuing_authority\":{\"name\":\"X\"},\"reference\":\"r\","
         "\"issued_at\":\"2024-02-30T00:00:00Z\"}",
         "issued_at", TD_ORDER_INVALID_FIELD},
        {"{\"type\":\"referral\",\"issuing_authority\":{\"name\":\"X\"},\"reference\":\"r\","
         "\"issued_at\":\"2024-02-29T00:00:00Z\",\"content\":[]}",
         "content", TD_ORDER_MISSING_FIELD},
        {"{\"type\":\"referral\",\"issuing_authority\":{\"name\":\"X\"},\"reference\":\"r\","
         "\"issued_at\":\"2024-02-29T00:00:00Z\",\"content\":[{}]}",
         "content[0]", TD_ORDER_MISSING_FIELD},
        {"{\"type\":\"referral\",\"issuing_authority\":{\"name\":\"X\"},\"reference\":\"r\","
         "\"issued_at\":\"2024-02-29T00:00:00Z\",\"content\":[{\"content_id\":\"a\"}],"
         "\"reason\":{\"category\":\"f\",\"statement\":\"s\"}}",
         "reason.category", TD_ORDER_INVALID_FIELD},
        {"{\"type\":\"referral\",\"issuing_authority\":{\"name\":\"X\"},\"reference\":\"a\\nb\"}",
         "reference", TD_ORDER_INVALID_FIELD},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(td_order_parse(bad[i].text, strlen(bad[i].text), d, &why, &err),
                             TD_OK);
        if (why.problem != bad[i].problem || strcmp(why.field, bad[i].field) != 0)
            fail_msg("case %zu: %s %s (%s)", i, td_order_problem_name(why.problem), why.field,
                     err.message);
    }
    char *big = malloc(TD_ORDER_MAX_BODY + 2);
    memset(big, ' ', TD_ORDER_MAX_BODY + 1);
    big[TD_ORDER_MAX_BODY + 1] = '\0';
    assert_int_equal(td_order_parse(big, TD_ORDER_MAX_BODY + 1, d, &why, &err), TD_ERR_LIMIT);
    assert_int_equal(why.problem, TD_ORDER_TOO_LARGE);
    free(big);
    free(d);

    char t[32];
    td_order_time_format(T0 + 1234, t);
    assert_string_equal(t, "2024-06-01T00:00:01.234Z");
    assert_int_equal(td_order_time_parse(t, strlen(t)), T0 + 1234);
    assert_int_equal(td_order_time_parse("2024-06-01T00:00:00+02:00", 25), -1);
}

/* ---- signatures and intake ---- */

/* Target URLs that could mislead whoever acts on them are refused, naming the target. */
static void test_parse_target_urls(void **state)
{
    (void)state;
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"\xc3\xbf\xc3\xbe", "not an absolute URL"},
        {"//no-scheme.example/x", "not an absolute URL"},
        {"video.example/watch/1", "not an absolute URL"},
        {"javascript:alert(1)", "not an absolute URL"},
        {"ftp://video.example/x", "not an http or https URL"},
        {"https://video.example/\xe2\x80\xae"
         "4pm.exe",
         "invisible formatting character"},
        {"https://video.example/\xe2\x81\xa6x", "invisible formatting character"},
        {"https://vi\xe2\x80\x8b"
         "deo.example/",
         "invisible formatting character"},
        {"\xef\xbb\xbfhttps://video.example/", "invisible formatting character"},
        {"https://video.example/\xc2\x85", "control character"},
        {"https://video example/", "a space"},
        {"https://video.example/\xc2\xa0", "a space"},
        {"https://video.example:99999/", NULL},
        {"https://:80/x", NULL},
        {"https:///x", NULL},
    };
    td_order_doc *d = malloc(sizeof *d);
    td_order_rejection why;
    td_error err;
    char content[4300];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(content, sizeof content, "[{\"content_id\":\"c1\"},{\"url\":\"%s\"}]", bad[i].url);
        order_opts o = {NULL, NULL, "U-1", content, 0, 0, 0, NULL};
        const char *body = order_json(&o);
        assert_int_equal(td_order_parse(body, strlen(body), d, &why, &err), TD_ERR_INVALID);
        assert_int_equal(why.problem, TD_ORDER_INVALID_FIELD);
        assert_string_equal(why.field, "content[1].url");
        if (bad[i].why && !strstr(err.message, bad[i].why))
            fail_msg("%zu: %s", i, err.message);
    }
    /* Over the length limit. */
    char long_url[TD_CASE_URL_MAX + 16];
    memcpy(long_url, "https://video.example/", 22);
    memset(long_url + 22, 'a', sizeof long_url - 23);
    long_url[sizeof long_url - 1] = '\0';
    snprintf(content, sizeof content, "[{\"url\":\"%s\"}]", long_url);
    order_opts lo = {NULL, NULL, "U-2", content, 0, 0, 0, NULL};
    const char *body = order_json(&lo);
    assert_int_equal(td_order_parse(body, strlen(body), d, &why, &err), TD_ERR_INVALID);
    assert_string_equal(why.field, "content[0].url");
    /* Explicit schemes, defanged forms, ports, IPv6 and international names pass. */
    static const char *const good[] = {"https://video.example/watch/1",
                                       "HTTP://Video.Example/a",
                                       "hxxps://video[.]example/x",
                                       "https[:]//video.example/y",
                                       "http://video.example:8080/z",
                                       "http://[2001:db8::1]/v",
                                       "https://b\xc3\xbc"
                                       "cher.example/\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(content, sizeof content, "[{\"url\":\"%s\"}]", good[i]);
        order_opts o = {NULL, NULL, "U-3", content, 0, 0, 0, NULL};
        body = order_json(&o);
        if (td_order_parse(body, strlen(body), d, &why, &err) != TD_OK)
            fail_msg("%s: %s", good[i], err.message);
        assert_true(strncmp(d->targets[0].canonical_url, "http", 4) == 0);
    }
    free(d);
}

/* The signature covers the raw bytes and is checked before the document is parsed: a signed body
 * changed in any way is a bad signature, whatever it now looks like; only a genuine body can be
 * malformed. */
static void test_signature_before_parse(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order_rejection why;
    td_error err;
    char header[160];
    order_opts o = {NULL, NULL, "SIGP-1", "[{\"content_id\":\"nowhere\"}]", 0, 0, 0, NULL};
    char *doc = strdup(order_json(&o));
    size_t len = strlen(doc);
    char *body = malloc(len + 2);
    sign(doc, len, f->sk, header, sizeof header);
    /* Byte appended, flipped (first, middle, last), cut short. */
    struct {
        size_t len;
        long flip;
        int append;
    } changes[] = {{len + 1, -1, 'x'},
                   {len + 1, -1, '}'},
                   {len, 0, 0},
                   {len, (long)len / 2, 0},
                   {len, (long)len - 1, 0},
                   {len - 1, -1, 0},
                   {len / 2, -1, 0},
                   {1, -1, 0},
                   {0, -1, 0}};
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        memcpy(body, doc, len);
        if (changes[i].append)
            body[len] = (char)changes[i].append;
        if (changes[i].flip >= 0)
            body[changes[i].flip] ^= 0x01;
        for (int linked = 0; linked < 2; linked++) {
            memset(&why, 0, sizeof why);
            td_status st = td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)body,
                                            changes[i].len, header, 0, &r, &why, &err);
            if (st != TD_ERR_INVALID || why.problem != TD_ORDER_BAD_SIGNATURE)
                fail_msg("change %zu: %s (%s)", i, td_order_problem_name(why.problem), err.message);
            assert_string_equal(why.field, "signature");
        }
    }
    /* Genuine bytes that are not a document: malformed. */
    memcpy(body, doc, len);
    body[len] = '}';
    sign(body, len + 1, f->sk, header, sizeof header);
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)body, len + 1, header,
                                      0, &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_MALFORMED);
    sign(doc, len / 2, f->sk, header, sizeof header);
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)doc, len / 2, header,
                                      0, &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_MALFORMED);
    /* Signed by the referral unit: its key is found too, and the document then speaks. */
    sign(doc, len / 2, f->ru_sk, header, sizeof header);
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)doc, len / 2, header,
                                      0, &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_MALFORMED);
    /* A genuine object without the authority's name: the field is named. */
    static const char noname[] = "{\"type\":\"removal_order\"}";
    sign(noname, strlen(noname), f->sk, header, sizeof header);
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (const uint8_t *)noname,
                                      strlen(noname), header, 0, &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_MISSING_FIELD);
    /* The same object, forged: a bad signature, not a missing field. */
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (const uint8_t *)"{}", 2, header,
                                      0, &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_BAD_SIGNATURE);
    /* The unchanged body is received. */
    sign(doc, len, f->sk, header, sizeof header);
    check(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)doc, len, header, 0, &r, &why,
                           &err),
          &err);
    free(body);
    free(doc);
}

static void test_signatures(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order_rejection why;
    td_error err;
    char header[160];
    order_opts o = {NULL, NULL, "SIG-1", "[{\"content_id\":\"nowhere\"}]", 0, 0, 0, NULL};

    /* Unsigned. */
    char *body = strdup(order_json(&o));
    size_t len = strlen(body);
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)body, len, NULL, 0,
                                      &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_UNSIGNED);
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)body, len,
                                      "ed25519=!!!", 0, &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_BAD_SIGNATURE);

    /* Wrong key. */
    sign(body, len, f->ru_sk, header, sizeof header);
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)body, len, header, 0,
                                      &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_BAD_SIGNATURE);

    /* Tampered body: signed, then one byte of the reference changed. */
    sign(body, len, f->sk, header, sizeof header);
    char *p = strstr(body, "SIG-1");
    p[4] = '2';
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)body, len, header, 0,
                                      &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_BAD_SIGNATURE);
    /* Whitespace added at the end: still not the signed bytes. */
    p[4] = '1';
    char *padded = malloc(len + 2);
    memcpy(padded, body, len);
    padded[len] = ' ';
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)padded, len + 1,
                                      header, 0, &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_BAD_SIGNATURE);
    free(padded);

    /* Unknown authority. */
    o.authority = "Nobody";
    assert_int_equal(receive(f, TD_ORDER_REMOVAL, &o, NULL, &r, &why, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(why.problem, TD_ORDER_UNKNOWN_AUTHORITY);
    o.authority = NULL;

    /* Signed but incomplete. */
    o.drop = "redress";
    assert_int_equal(receive(f, TD_ORDER_REMOVAL, &o, NULL, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_MISSING_FIELD);
    assert_string_equal(why.field, "redress");
    o.drop = NULL;

    /* A removal order sent as a referral, and a referral unit issuing a removal order. */
    assert_int_equal(receive(f, TD_ORDER_REFERRAL, &o, NULL, &r, &why, &err), TD_ERR_INVALID);
    assert_string_equal(why.field, "type");
    o.authority = "EU IRU";
    assert_int_equal(receive(f, TD_ORDER_REMOVAL, &o, f->ru_sk, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_WRONG_AUTHORITY);
    o.authority = NULL;

    /* An API key linked to the authority; another key is refused. */
    char key[TD_KEY_TEXT_MAX];
    td_key_info k1, k2;
    check(td_key_create(f->svc, TD_ROLE_AUTHORITY, "bka-key", key, &k1, &err), &err);
    check(td_key_create(f->svc, TD_ROLE_AUTHORITY, "other", key, &k2, &err), &err);
    check(td_authority_link_key(f->orders, "admin", f->authority_id, k1.id, &err), &err);
    assert_int_equal(td_authority_link_key(f->orders, "admin", f->unit_id, k1.id, &err),
                     TD_ERR_CONFLICT);
    int64_t linked;
    check(td_authority_for_key(f->orders, k1.id, &linked, &err), &err);
    assert_int_equal(linked, f->authority_id);
    assert_int_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)body, len, header,
                                      k2.id, &r, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_ORDER_WRONG_AUTHORITY);

    /* Good: nothing of the refusals was stored. */
    check(td_order_receive(f->orders, TD_ORDER_REMOVAL, (uint8_t *)body, len, header, k1.id, &r,
                           &why, &err),
          &err);
    assert_int_equal(why.problem, TD_ORDER_ACCEPTED);
    assert_int_equal(r.id, 1);
    assert_int_equal(audit_count(f, "order.received"), 1);
    free(body);
}

static void test_receipt_duplicate_deadline(void **state)
{
    fixture *f = *state;
    td_order_receipt r, r2;
    td_order *ord = malloc(sizeof *ord);
    td_error err;
    order_opts o = {NULL, NULL, "DUP-1", "[{\"url\":\"https://example.com/x\"}]", 0, 0, 0, NULL};
    int64_t id = must_receive(f, &o, &r);
    assert_int_equal(r.received_ms, T0);
    assert_int_equal(r.deadline_ms, T0 + HOUR);
    assert_false(r.duplicate);
    assert_false(r.first_contact_early); /* announced two days before */
    assert_false(r.executed);            /* nothing at that URL */

    /* Committed: a fresh process (service and orders reopened) sees the exact receipt. */
    close_all(f);
    open_all(f);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->received_ms, T0);
    assert_int_equal(ord->deadline_ms, T0 + HOUR);
    assert_int_equal(ord->state, TD_ORDER_RECEIVED);
    assert_string_equal(ord->doc.reference, "DUP-1");
    assert_string_equal(ord->authority, "BKA");

    /* Replay later: the stored order, not a new one, and not a new clock. */
    fake_clock_advance(5 * MIN);
    must_receive(f, &o, &r2);
    assert_true(r2.duplicate);
    assert_int_equal(r2.id, id);
    assert_int_equal(r2.received_ms, T0);
    assert_int_equal(r2.deadline_ms, T0 + HOUR);
    assert_int_equal(audit_count(f, "order.received"), 1);
    free(ord);
}

static void test_first_contact(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_authority a;
    td_error err;
    char hex[65];
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    td_authority_input in = {0, "DGSI", "FR", "dgsi@example", hex, 0};
    check(td_authority_register(f->orders, "admin", &in, &a, &err), &err);
    fake_clock_advance(2 * HOUR);
    order_opts o = {NULL, "DGSI", "FR-1", "[{\"content_id\":\"zz\"}]", 0, 0, 0, NULL};
    td_order_rejection why;
    check(receive(f, TD_ORDER_REMOVAL, &o, sk, &r, &why, &err), &err);
    assert_true(r.first_contact_early);
    /* Only the first order is concerned. */
    o.reference = "FR-2";
    check(receive(f, TD_ORDER_REMOVAL, &o, sk, &r, &why, &err), &err);
    assert_false(r.first_contact_early);

    /* An emergency is not flagged. */
    in.name = "CNCT";
    crypto_sign_keypair(pk, sk);
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    in.public_key = hex;
    check(td_authority_register(f->orders, "admin", &in, &a, &err), &err);
    o.authority = "CNCT";
    o.emergency = 1;
    check(receive(f, TD_ORDER_REMOVAL, &o, sk, &r, &why, &err), &err);
    assert_false(r.first_contact_early);
}

/* ---- execution, confirmation, feedback, preservation, notices ---- */

static void test_execute_confirm(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order *ord = malloc(sizeof *ord);
    td_error err;
    char q[4096];
    add_content(f, "vid-1", "https://video.example/watch/1", "00000000000000000000000000000001");
    add_content(f, "vid-2", "https://video.example/watch/2", "00000000000000000000000000000002");
    fake_clock_advance(10 * 1000);
    /* One target by content id, one by a non-canonical spelling of the stored URL. */
    order_opts o = {NULL,
                    NULL,
                    "EXE-1",
                    "[{\"content_id\":\"vid-1\"},"
                    "{\"url\":\"HTTPS://Video.Example/watch/2?utm_source=share#t=1\"}]",
                    0,
                    0,
                    0,
                    NULL};
    int64_t id = must_receive(f, &o, &r);
    int64_t received = r.received_ms;
    assert_true(r.executed);
    deliveries(f, q, sizeof q);
    char want[256];
    snprintf(want, sizeof want, "remove vid-1 order:%lld\nremove vid-2 order:%lld\n", (long long)id,
             (long long)id);
    assert_string_equal(q, want);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->state, TD_ORDER_EXECUTED);
    assert_true(ord->doc.targets[1].located);
    assert_string_equal(ord->doc.targets[1].content_id, "vid-2");
    /* Executing again fires nothing new. */
    size_t fired = 9;
    check(td_order_execute(f->orders, id, "mod", &fired, &err), &err);
    assert_int_equal(fired, 0);

    /* The platform removes 40 s after receipt and tells us 5 s later. */
    fake_clock_advance(45 * 1000);
    assert_int_equal(td_order_confirm(f->orders, id, received - 1, "removed", "platform", &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_order_confirm(f->orders, id, received + 40000, "deleted", "platform", &err),
                     TD_ERR_INVALID);
    check(td_order_confirm(f->orders, id, received + 40000, "removed", "platform", &err), &err);
    check(td_order_confirm(f->orders, id, received + 41000, "removed", "platform", &err), &err);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->state, TD_ORDER_CONFIRMED);
    assert_int_equal(ord->confirmed_ms, received + 40000);
    assert_string_equal(ord->measure, "removed");
    assert_int_equal(ord->breached_ms, 0);
    assert_true(ord->preserved);
    assert_true(ord->doc.targets[0].removed && ord->doc.targets[1].removed);
    assert_true(ord->doc.targets[0].evidence_item > 0);

    /* Preservation: case order-<id>, retained until removal + 183 days. */
    char ref[32];
    td_evidence_case_info info;
    snprintf(ref, sizeof ref, "order-%lld", (long long)id);
    check(td_evidence_case(td_orders_evidence(f->orders), ref, &info, &err), &err);
    assert_int_equal(info.items, 2);
    assert_int_equal(info.retain_until_ms, received + 40000 + 183 * DAY);

    /* Annex II. */
    char *fb;
    check(td_order_feedback(f->orders, id, 1, "BKA", &fb, &err), &err);
    json_t *j = json_loads(fb, 0, NULL);
    assert_non_null(j);
    char t[32];
    td_order_time_format(received, t);
    assert_string_equal(json_string_value(json_object_get(j, "time_of_receipt")), t);
    td_order_time_format(received + 40000, t);
    assert_string_equal(json_string_value(json_object_get(j, "time_of_measure")), t);
    assert_string_equal(json_string_value(json_object_get(j, "measure")), "removed");
    assert_true(json_is_true(json_object_get(j, "within_deadline")));
    json_decref(j);
    td_free(fb);
    check(td_order_feedback(f->orders, id, 1, "BKA", &fb, &err), &err);
    td_free(fb);
    assert_int_equal(audit_count(f, "order.feedback_sent"), 1);

    /* User notices: no do-not-inform period, released at once. */
    td_user_notice *n;
    size_t nn;
    check(td_notice_list(f->orders, id, &n, &nn, &err), &err);
    assert_int_equal(nn, 2);
    assert_int_equal(n[0].hold_until_ms, 0);
    assert_true(n[0].released_ms > 0);
    td_free(n);

    assert_int_equal(audit_count(f, "order.executed"), 1);
    assert_int_equal(audit_count(f, "order.confirmed"), 1);
    assert_int_equal(audit_count(f, "evidence.seal") + audit_count(f, "evidence.sealed") > 0, 1);
    log_verifies(f);
    free(ord);
}

static void test_notice_withheld(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_orders_tick_result t;
    td_user_notice *n;
    size_t nn;
    td_error err;
    add_content(f, "dni-1", "https://video.example/dni", "00000000000000000000000000000003");
    order_opts o = {NULL, NULL, "DNI-1", "[{\"content_id\":\"dni-1\"}]", 0, 0, 7, NULL};
    int64_t id = must_receive(f, &o, &r);
    check(td_order_confirm(f->orders, id, T0 + MIN, "disabled", "platform", &err), &err);
    check(td_notice_list(f->orders, id, &n, &nn, &err), &err);
    assert_int_equal(nn, 1);
    assert_int_equal(n[0].hold_until_ms, T0 + 7 * DAY);
    assert_int_equal(n[0].released_ms, 0);
    td_free(n);
    fake_clock_set(T0 + 7 * DAY - 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.notices_released, 0);
    fake_clock_set(T0 + 7 * DAY);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.notices_released, 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.notices_released, 0);
    check(td_notice_list(f->orders, id, &n, &nn, &err), &err);
    assert_int_equal(n[0].released_ms, T0 + 7 * DAY);
    td_free(n);
}

/* ---- notices, feedback and referral answers as webhooks ---- */

#define NOTICE_EVENTS (TD_EVENT_NOTICE | TD_EVENT_ORDER_FEEDBACK | TD_EVENT_REFERRAL_ANSWER)

/* A second receiver for the order events (the fixture's one takes remove and restore only). */
static int64_t notice_hook(fixture *f)
{
    td_webhook hook;
    td_error err;
    check(td_webhook_create(f->svc, "http://127.0.0.1:9/notices", "notices-secret-0123456789",
                            NOTICE_EVENTS, &hook, &err),
          &err);
    return hook.id;
}

/* The deliveries of `event`, oldest first, as an array of {webhook_id, idem, body}. */
static json_t *event_deliveries(fixture *f, const char *event)
{
    char path[4200];
    td_store *s;
    td_store_conn *c;
    td_stmt *q;
    td_error err;
    int row;
    json_t *out = json_array();
    snprintf(path, sizeof path, "%s/takedown.db", f->dir);
    const char *url = td_test_store_url(f->dir);
    check(td_store_open(url ? url : path, NULL, &s, &err), &err);
    check(td_store_acquire(s, 0, &c, &err), &err);
    check(td_store_prepare(c,
                           "SELECT webhook_id, idem, body FROM deliveries WHERE event = $1"
                           " ORDER BY id",
                           &q, &err),
          &err);
    check(td_stmt_bind_text(q, 1, event, (size_t)-1, &err), &err);
    while (td_stmt_step(q, &row, &err) == TD_OK && row) {
        json_t *b = json_loads(td_stmt_column_text(q, 2), 0, NULL);
        assert_non_null(b);
        json_array_append_new(out, json_pack("{s:I, s:s, s:o}", "webhook_id",
                                             (json_int_t)td_stmt_column_int64(q, 0), "idem",
                                             td_stmt_column_text(q, 1), "body", b));
    }
    td_store_release(s, c);
    td_store_close(s);
    return out;
}

static const char *jget(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static json_int_t iget(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* SHA-256 hex of "<event>:<subject>": the idempotency key webhooks.c derives. */
static void idem_of(const char *event, const char *subject, char out[65])
{
    char text[512];
    uint8_t md[crypto_hash_sha256_BYTES];
    snprintf(text, sizeof text, "%s:%s", event, subject);
    crypto_hash_sha256(md, (const uint8_t *)text, strlen(text));
    sodium_bin2hex(out, 65, md, sizeof md);
}

static void test_event_names(void **state)
{
    (void)state;
    unsigned mask;
    td_error err;
    check(td_event_parse("notice, order_feedback,referral_answer", &mask, &err), &err);
    assert_int_equal(mask, NOTICE_EVENTS);
    check(td_event_parse("*", &mask, &err), &err);
    assert_int_equal(mask, TD_EVENT_ALL);
    assert_true((mask & NOTICE_EVENTS) == NOTICE_EVENTS);
    assert_string_equal(td_event_name(TD_EVENT_NOTICE), "notice");
    assert_string_equal(td_event_name(TD_EVENT_ORDER_FEEDBACK), "order_feedback");
    assert_string_equal(td_event_name(TD_EVENT_REFERRAL_ANSWER), "referral_answer");
    assert_string_equal(td_event_name(TD_EVENT_MATCH), "match");
    assert_int_equal(td_event_parse("notices", &mask, &err), TD_ERR_INVALID);
}

/* No do-not-inform period: the confirmation enqueues one notice per removed item, to the
 * receivers that asked for notices only, with the reasons, the order and redress. */
static void test_notice_webhook(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_orders_tick_result t;
    td_error err;
    int64_t hook = notice_hook(f);
    add_content(f, "ntc-1", "https://video.example/ntc", "00000000000000000000000000000011");
    order_opts o = {NULL, NULL, "NTC-1", "[{\"content_id\":\"ntc-1\"}]", 0, 0, 0, NULL};
    int64_t id = must_receive(f, &o, &r);
    json_t *d = event_deliveries(f, "notice");
    assert_int_equal(json_array_size(d), 0); /* nothing before the removal is confirmed */
    json_decref(d);
    fake_clock_advance(30 * 1000);
    check(td_order_confirm(f->orders, id, T0 + 20 * 1000, "removed", "platform", &err), &err);
    check(td_order_confirm(f->orders, id, T0 + 21 * 1000, "removed", "platform", &err), &err);
    fake_clock_set(T0 + 60 * DAY);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.notices_released, 0);

    d = event_deliveries(f, "notice");
    assert_int_equal(json_array_size(d), 1);
    json_t *e = json_array_get(d, 0);
    json_t *b = json_object_get(e, "body");
    assert_int_equal(iget(e, "webhook_id", NULL), hook);
    char subject[96], idem[65], cause[48];
    snprintf(cause, sizeof cause, "order:%lld", (long long)id);
    snprintf(subject, sizeof subject, "order:%lld:ntc-1", (long long)id);
    idem_of("notice", subject, idem);
    assert_string_equal(jget(e, "idem", NULL), idem);
    assert_string_equal(jget(b, "id", NULL), idem);
    assert_string_equal(jget(b, "event", NULL), "notice");
    assert_string_equal(jget(b, "content_id", NULL), "ntc-1");
    assert_string_equal(jget(b, "url", NULL), "https://video.example/ntc");
    assert_string_equal(jget(b, "uploader", NULL), "user-42");
    assert_string_equal(jget(b, "cause", NULL), cause);
    assert_string_equal(jget(b, "measure", NULL), "removed");
    assert_int_equal(iget(b, "measure_ms", NULL), T0 + 20 * 1000);
    assert_string_equal(jget(b, "time_of_measure", NULL), "2024-06-01T00:00:20.000Z");
    assert_int_equal(iget(b, "withheld_until_ms", NULL), 0);
    assert_int_equal(iget(b, "released_ms", NULL), T0 + 30 * 1000);
    assert_true(iget(b, "notice_id", NULL) > 0);
    assert_string_equal(jget(b, "reasons", "category"), "a");
    assert_string_equal(jget(b, "reasons", "statement"),
                        "Incitement to commit a terrorist offence");
    assert_true(strlen(jget(b, "reasons", "category_text")) > 10);
    assert_int_equal(iget(b, "order", "id"), id);
    assert_string_equal(jget(b, "order", "reference"), "NTC-1");
    assert_string_equal(jget(b, "order", "issuing_authority"), "BKA");
    assert_string_equal(jget(b, "order", "issuing_member_state"), "DE");
    assert_string_equal(jget(b, "order", "issued_at"), "2024-06-01T09:59:00.000Z");
    assert_string_equal(jget(b, "redress", "judicial"), "Verwaltungsgericht Wiesbaden");
    assert_true(strlen(jget(b, "redress", "complaint")) > 10);
    assert_int_equal(iget(b, "redress", "complaint_answer_days"), 14);
    json_decref(d);

    /* The delivery log shows it with the same key; the remove-only receiver got none. */
    td_delivery *list;
    size_t n, notices = 0;
    check(td_delivery_list(f->svc, 0, 100, &list, &n, &err), &err);
    for (size_t i = 0; i < n; i++) {
        assert_true(strcmp(list[i].event, "notice") != 0 || list[i].webhook_id == hook);
        if (strcmp(list[i].event, "notice") == 0) {
            assert_string_equal(list[i].idempotency_key, idem);
            assert_int_equal(list[i].state, TD_DELIVERY_PENDING);
            notices++;
        }
    }
    td_free(list);
    assert_int_equal(notices, 1);
    /* Nor did order_feedback or referral_answer fire yet. */
    d = event_deliveries(f, "order_feedback");
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);

    /* The Annex II answer recorded as sent: one order_feedback, however often it is read. */
    char *fb;
    check(td_order_feedback(f->orders, id, 0, "BKA", &fb, &err), &err);
    td_free(fb);
    d = event_deliveries(f, "order_feedback");
    assert_int_equal(json_array_size(d), 0); /* reading without recording sends nothing */
    json_decref(d);
    check(td_order_feedback(f->orders, id, 1, "BKA", &fb, &err), &err);
    td_free(fb);
    check(td_order_feedback(f->orders, id, 1, "BKA", &fb, &err), &err);
    td_free(fb);
    d = event_deliveries(f, "order_feedback");
    assert_int_equal(json_array_size(d), 1);
    e = json_array_get(d, 0);
    b = json_object_get(e, "body");
    idem_of("order_feedback", cause, idem);
    assert_string_equal(jget(e, "idem", NULL), idem);
    assert_int_equal(iget(e, "webhook_id", NULL), hook);
    assert_int_equal(iget(b, "order_id", NULL), id);
    assert_string_equal(jget(b, "type", NULL), "removal_order");
    assert_string_equal(jget(b, "reference", NULL), "NTC-1");
    assert_string_equal(jget(b, "measure", NULL), "removed");
    assert_string_equal(jget(b, "time_of_measure", NULL), "2024-06-01T00:00:20.000Z");
    assert_true(json_is_true(json_object_get(b, "within_deadline")));
    assert_string_equal(jget(b, "authority_contact", NULL), "ops@bka.example");
    assert_string_equal(jget(b, "follow_up_contact", NULL), "desk@example");
    assert_string_equal(jget(b, "cause", NULL), cause);
    json_decref(d);
    log_verifies(f);
}

/* A six-week do-not-inform period: nothing is pushed until the tick passes its end, then
 * exactly one notice. */
static void test_notice_webhook_withheld(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_orders_tick_result t;
    td_error err;
    int64_t hook = notice_hook(f);
    add_content(f, "ntc-2", "https://video.example/ntc2", "00000000000000000000000000000012");
    order_opts o = {NULL, NULL, "NTC-2", "[{\"url\":\"https://video.example/ntc2\"}]",
                    0,    0,    42,      NULL};
    int64_t id = must_receive(f, &o, &r);
    check(td_order_confirm(f->orders, id, T0 + MIN, "disabled", "platform", &err), &err);
    int64_t end = T0 + 42 * DAY;
    json_t *d = event_deliveries(f, "notice");
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
    fake_clock_set(T0 + 41 * DAY);
    check(td_orders_tick(f->orders, &t, &err), &err);
    fake_clock_set(end - 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.notices_released, 0);
    d = event_deliveries(f, "notice");
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);

    fake_clock_set(end + 5 * 1000); /* a late tick */
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.notices_released, 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.notices_released, 0);
    d = event_deliveries(f, "notice");
    assert_int_equal(json_array_size(d), 1);
    json_t *e = json_array_get(d, 0);
    json_t *b = json_object_get(e, "body");
    char subject[96], idem[65];
    snprintf(subject, sizeof subject, "order:%lld:ntc-2", (long long)id);
    idem_of("notice", subject, idem);
    assert_string_equal(jget(e, "idem", NULL), idem);
    assert_int_equal(iget(e, "webhook_id", NULL), hook);
    assert_string_equal(jget(b, "content_id", NULL), "ntc-2");
    assert_string_equal(jget(b, "url", NULL), "https://video.example/ntc2");
    assert_string_equal(jget(b, "measure", NULL), "disabled");
    assert_int_equal(iget(b, "withheld_until_ms", NULL), end);
    assert_int_equal(iget(b, "released_ms", NULL), end + 5 * 1000);
    assert_string_equal(jget(b, "order", "reference"), "NTC-2");
    assert_string_equal(jget(b, "redress", "judicial"), "Verwaltungsgericht Wiesbaden");
    json_decref(d);

    /* Every delivery: the remove action (fixture's receiver), then the notice (only to the
     * receiver that asked for notices). */
    char q[1024], want[128];
    deliveries(f, q, sizeof q);
    snprintf(want, sizeof want, "remove ntc-2 order:%lld\nnotice ntc-2 order:%lld\n", (long long)id,
             (long long)id);
    assert_string_equal(q, want);
    td_delivery *list;
    size_t n;
    check(td_delivery_list(f->svc, 0, 100, &list, &n, &err), &err);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(list[i].webhook_id == hook, strcmp(list[i].event, "notice") == 0);
    td_free(list);
    log_verifies(f);
}

/* A referral decided: its answer goes out as referral_answer (kept or removed). */
static void test_referral_answer_webhook(void **state)
{
    fixture *f = *state;
    td_order_receipt r, r2;
    td_order_rejection why;
    td_error err;
    int64_t hook = notice_hook(f);
    add_content(f, "ref-a", "https://video.example/ref-a", "00000000000000000000000000000013");
    order_opts o = {"referral", "EU IRU", "IRU-90", "[{\"content_id\":\"ref-a\"}]", 0, 0, 0, NULL};
    check(receive(f, TD_ORDER_REFERRAL, &o, f->ru_sk, &r, &why, &err), &err);
    order_opts o2 = {"referral", "EU IRU", "IRU-91", "[{\"content_id\":\"ref-a\"}]", 0, 0, 0, NULL};
    check(receive(f, TD_ORDER_REFERRAL, &o2, f->ru_sk, &r2, &why, &err), &err);
    json_t *d = event_deliveries(f, "referral_answer");
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
    fake_clock_advance(HOUR);
    check(td_referral_decide(f->orders, r.id, 1, "Violates our terms", "mod", &err), &err);
    fake_clock_advance(MIN);
    check(td_referral_decide(f->orders, r2.id, 0, "News reporting", "mod", &err), &err);
    d = event_deliveries(f, "referral_answer");
    assert_int_equal(json_array_size(d), 2);
    json_t *e = json_array_get(d, 0), *b = json_object_get(e, "body");
    char cause[48], idem[65];
    snprintf(cause, sizeof cause, "referral:%lld", (long long)r.id);
    idem_of("referral_answer", cause, idem);
    assert_string_equal(jget(e, "idem", NULL), idem);
    assert_int_equal(iget(e, "webhook_id", NULL), hook);
    assert_string_equal(jget(b, "cause", NULL), cause);
    assert_int_equal(iget(b, "order_id", NULL), r.id);
    assert_string_equal(jget(b, "type", NULL), "referral");
    assert_string_equal(jget(b, "reference", NULL), "IRU-90");
    assert_string_equal(jget(b, "issuing_authority", NULL), "EU IRU");
    assert_string_equal(jget(b, "decision", NULL), "removed");
    assert_string_equal(jget(b, "decision_reason", NULL), "Violates our terms");
    assert_string_equal(jget(b, "time_of_decision", NULL), "2024-06-01T01:00:00.000Z");
    assert_string_equal(jget(b, "authority_contact", NULL), "ops@bka.example");
    b = json_object_get(json_array_get(d, 1), "body");
    assert_string_equal(jget(b, "reference", NULL), "IRU-91");
    assert_string_equal(jget(b, "decision", NULL), "kept");
    json_decref(d);
    /* Recording the feedback of a referral sends no order_feedback: the answer went out. */
    char *fb;
    check(td_order_feedback(f->orders, r.id, 1, "EU IRU", &fb, &err), &err);
    td_free(fb);
    d = event_deliveries(f, "order_feedback");
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
    /* No notices for referrals (the platform's own measure under its terms). */
    d = event_deliveries(f, "notice");
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
}

/* ---- clocks ---- */

static void test_escalation_breach(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_orders_tick_result t;
    td_order_summary *list;
    size_t n;
    td_error err;
    order_opts o = {NULL, NULL, "CLK-1", "[{\"url\":\"https://unknown.example/a\"}]",
                    0,    0,    0,       NULL};
    int64_t id = must_receive(f, &o, &r);
    fake_clock_set(T0 + 15 * MIN - 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.escalations, 0);
    /* A second, newer order: the escalated one must come first in the queue. */
    o.reference = "CLK-2";
    int64_t id2 = must_receive(f, &o, &r);
    fake_clock_set(T0 + 15 * MIN);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.escalations, 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.escalations, 0);
    check(td_order_list(f->orders, 1, 0, &list, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, id);
    assert_int_equal(list[0].escalation, 1);
    assert_int_equal(list[1].id, id2);
    td_free(list);
    /* A late tick raises both remaining marks, each on the log. */
    fake_clock_set(T0 + 46 * MIN);
    check(td_orders_tick(f->orders, &t, &err), &err);
    /* Marks 2 and 3 of the first, 1 and 2 of the second (received 15 min - 1 ms later). */
    assert_int_equal(t.escalations, 4);
    assert_int_equal(t.breaches, 0);
    fake_clock_set(T0 + HOUR - 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.breaches, 0);
    assert_int_equal(t.escalations, 1); /* the second's last mark */
    fake_clock_set(T0 + HOUR);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.breaches, 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.breaches, 0);
    td_order *ord = malloc(sizeof *ord);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->escalation, 3);
    assert_int_equal(ord->breached_ms, T0 + HOUR);
    free(ord);
    assert_int_equal(audit_count(f, "order.escalated"), 6);
    assert_int_equal(audit_count(f, "order.breached"), 1);
    log_verifies(f);
}

static void test_cannot_comply_clarify(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_orders_tick_result t;
    td_order *ord = malloc(sizeof *ord);
    td_error err;
    order_opts o = {NULL, NULL, "CC-1", "[{\"url\":\"https://unknown.example/b\"}]", 0, 0, 0, NULL};
    int64_t id = must_receive(f, &o, &r);
    fake_clock_set(T0 + 20 * MIN);
    assert_int_equal(td_order_cannot_comply(f->orders, id, TD_CC_MISSING_INFO, "", "mod", &err),
                     TD_ERR_INVALID);
    check(td_order_cannot_comply(f->orders, id, TD_CC_MISSING_INFO,
                                 "The URL does not exist on our service", "mod", &err),
          &err);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->state, TD_ORDER_PAUSED);
    assert_int_equal(ord->deadline_ms, 0);
    /* Paused: hours pass, no escalation, no breach. */
    fake_clock_set(T0 + 5 * HOUR);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.breaches + t.escalations, 0);
    /* Annex III goes out with the feedback. */
    char *fb;
    check(td_order_feedback(f->orders, id, 0, NULL, &fb, &err), &err);
    assert_non_null(strstr(fb, "\"ground\":\"missing_information\""));
    td_free(fb);
    /* The clarification restarts the full hour from now. */
    check(td_order_clarify(f->orders, id, "Correct URL: https://video.example/c", "BKA", &err),
          &err);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->state, TD_ORDER_RECEIVED);
    assert_int_equal(ord->clock_start_ms, T0 + 5 * HOUR);
    assert_int_equal(ord->deadline_ms, T0 + 6 * HOUR);
    assert_int_equal(ord->escalation, 0);
    assert_int_equal(td_order_clarify(f->orders, id, "again", "BKA", &err), TD_ERR_CONFLICT);
    fake_clock_set(T0 + 6 * HOUR - 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.breaches, 0);
    assert_int_equal(t.escalations, 3);
    fake_clock_set(T0 + 6 * HOUR);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.breaches, 1);
    /* A moderator locates the content; confirmed late, the breach stays. */
    add_content(f, "vid-c", "https://video.example/c", "00000000000000000000000000000004");
    check(td_order_locate(f->orders, id, 0, "vid-c", "mod", &err), &err);
    check(td_order_execute(f->orders, id, "mod", NULL, &err), &err);
    check(td_order_confirm(f->orders, id, T0 + 6 * HOUR + MIN, "removed", "platform", &err), &err);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->breached_ms, T0 + 6 * HOUR);
    assert_int_equal(audit_count(f, "order.cannot_comply"), 1);
    assert_int_equal(audit_count(f, "order.clarified"), 1);
    free(ord);
}

/* ---- cross-border review ---- */

static void test_review_reinstate(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order *ord = malloc(sizeof *ord);
    td_error err;
    char q[4096];
    add_content(f, "xb-1", "https://video.example/xb", "00000000000000000000000000000005");
    order_opts o = {NULL, NULL, "XB-1", "[{\"content_id\":\"xb-1\"}]", 1, 0, 0, NULL};
    int64_t id = must_receive(f, &o, &r);
    check(td_order_confirm(f->orders, id, T0 + MIN, "removed", "platform", &err), &err);
    o.reference = "XB-2";
    o.cross_border = 0;
    int64_t plain = must_receive(f, &o, &r);
    assert_int_equal(td_order_review_open(f->orders, plain, "why", "legal", &err), TD_ERR_INVALID);
    fake_clock_set(T0 + 47 * HOUR);
    check(
        td_order_review_open(f->orders, id, "Content provider challenges the order", "legal", &err),
        &err);
    char ref[32];
    td_evidence_case_info info;
    snprintf(ref, sizeof ref, "order-%lld", (long long)id);
    check(td_evidence_case(td_orders_evidence(f->orders), ref, &info, &err), &err);
    assert_true(info.hold);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->review, TD_REVIEW_OPEN);
    assert_int_equal(ord->review_due_ms, T0 + 47 * HOUR + 72 * HOUR);
    fake_clock_set(T0 + 100 * HOUR);
    check(td_order_review_decide(f->orders, id, 1, "The order infringes the Regulation", "legal",
                                 &err),
          &err);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->state, TD_ORDER_REINSTATED);
    assert_int_equal(ord->reinstated_ms, T0 + 100 * HOUR);
    deliveries(f, q, sizeof q);
    char want[128];
    snprintf(want, sizeof want, "restore xb-1 reinstate-order:%lld\n", (long long)id);
    assert_non_null(strstr(q, want));
    check(td_evidence_case(td_orders_evidence(f->orders), ref, &info, &err), &err);
    assert_false(info.hold);
    assert_int_equal(audit_count(f, "order.reinstated"), 1);

    /* Too late to ask. */
    o.reference = "XB-3";
    o.cross_border = 1;
    int64_t late = must_receive(f, &o, &r);
    fake_clock_set(T0 + 100 * HOUR + 48 * HOUR + 1);
    assert_int_equal(td_order_review_open(f->orders, late, "why", "legal", &err), TD_ERR_CONFLICT);
    free(ord);
}

/* ---- referrals ---- */

static void test_referral(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order_rejection why;
    td_orders_tick_result t;
    td_error err;
    char q[4096];
    add_content(f, "ref-1", "https://video.example/ref", "00000000000000000000000000000006");
    order_opts o = {"referral", "EU IRU", "IRU-77", "[{\"url\":\"https://video.example/ref\"}]",
                    0,          0,        0,        NULL};
    check(receive(f, TD_ORDER_REFERRAL, &o, f->ru_sk, &r, &why, &err), &err);
    assert_int_equal(r.kind, TD_ORDER_REFERRAL);
    assert_int_equal(r.deadline_ms, 0);
    assert_false(r.executed);
    /* No legal clock. */
    fake_clock_set(T0 + 10 * HOUR);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.escalations + t.breaches, 0);
    assert_int_equal(td_order_confirm(f->orders, r.id, T0 + HOUR, "removed", "p", &err),
                     TD_ERR_INVALID);
    check(td_referral_decide(f->orders, r.id, 1, "Violates our terms on violent extremism", "mod",
                             &err),
          &err);
    assert_int_equal(td_referral_decide(f->orders, r.id, 0, "again", "mod", &err), TD_ERR_CONFLICT);
    deliveries(f, q, sizeof q);
    char want[128];
    snprintf(want, sizeof want, "remove ref-1 referral:%lld\n", (long long)r.id);
    assert_string_equal(q, want);
    char *fb;
    check(td_order_feedback(f->orders, r.id, 1, "EU IRU", &fb, &err), &err);
    json_t *j = json_loads(fb, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "removed");
    assert_string_equal(json_string_value(json_object_get(j, "decision_reason")),
                        "Violates our terms on violent extremism");
    json_decref(j);
    td_free(fb);
    assert_int_equal(audit_count(f, "referral.decided"), 1);
}

/* ---- complaints ---- */

static void test_complaint(void **state)
{
    fixture *f = *state;
    td_complaint c;
    td_orders_tick_result t;
    td_error err;
    char q[4096];
    add_content(f, "cmp-1", "https://video.example/cmp", "00000000000000000000000000000007");
    assert_int_equal(td_complaint_file(f->orders, "nope", "mine", "user", &c, &err),
                     TD_ERR_NOT_FOUND);
    check(td_complaint_file(f->orders, "cmp-1", "This was a news report", "user-42", &c, &err),
          &err);
    assert_int_equal(c.state, TD_COMPLAINT_OPEN);
    assert_int_equal(c.received_ms, T0);
    assert_int_equal(c.due_ms, T0 + 14 * DAY);
    assert_int_equal(c.order_id, 0);
    fake_clock_set(T0 + 14 * DAY - 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.complaints_overdue, 0);
    fake_clock_set(T0 + 14 * DAY);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.complaints_overdue, 1);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.complaints_overdue, 0);
    assert_int_equal(td_complaint_decide(f->orders, c.id, 1, "", "mod", &c, &err), TD_ERR_INVALID);
    check(td_complaint_decide(f->orders, c.id, 1, "Journalistic context", "mod", &c, &err), &err);
    assert_int_equal(c.state, TD_COMPLAINT_UPHELD);
    assert_int_equal(c.reinstated_ms, T0 + 14 * DAY);
    assert_int_equal(td_complaint_decide(f->orders, c.id, 0, "x", "mod", &c, &err),
                     TD_ERR_CONFLICT);
    deliveries(f, q, sizeof q);
    char want[128];
    snprintf(want, sizeof want, "restore cmp-1 complaint:%lld\n", (long long)c.id);
    assert_string_equal(q, want);
    assert_int_equal(audit_count(f, "complaint.overdue"), 1);
    assert_int_equal(audit_count(f, "content.reinstated"), 1);
}

/* ---- the transparency report ---- */

static const char *api_like_str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    if (!v)
        fail_msg("report: no string '%s'", k);
    return v;
}

static json_int_t at(json_t *root, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(root, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    if (!json_is_integer(v))
        fail_msg("report: no integer at %s.%s.%s", a, b ? b : "", c ? c : "");
    return json_integer_value(v);
}

static void test_report(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order_rejection why;
    td_orders_tick_result t;
    td_complaint c;
    td_error err;
    td_bank bank;
    td_signal_input si;
    td_signal sig;

    /* Before the period: order Z (pending, breached before the period starts). */
    fake_clock_set(T0 - DAY);
    order_opts oz = {NULL, NULL, "Z", "[{\"content_id\":\"none\"}]", 0, 0, 0, NULL};
    must_receive(f, &oz, &r);
    fake_clock_set(T0);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.breaches, 1);

    /* Own measures: one upload blocked by a hash, one moderator removal. */
    td_bank_init(&bank);
    snprintf(bank.name, sizeof bank.name, "TCO_BLOCK");
    bank.action = TD_ACTION_BLOCK;
    check(td_bank_create(f->svc, &bank, NULL, &err), &err);
    snprintf(bank.name, sizeof bank.name, "TCO_REVIEW");
    bank.action = TD_ACTION_REVIEW;
    check(td_bank_create(f->svc, &bank, NULL, &err), &err);
    td_signal_input_init(&si);
    si.type = TD_SIGNAL_MD5;
    si.value = "b10cb10cb10cb10cb10cb10cb10cb10c";
    check(td_signal_add(f->svc, "TCO_BLOCK", &si, &sig, &err), &err);
    si.value = "5eed5eed5eed5eed5eed5eed5eed5eed";
    check(td_signal_add(f->svc, "TCO_REVIEW", &si, &sig, &err), &err);
    add_content(f, "blk", "https://video.example/blk", "b10cb10cb10cb10cb10cb10cb10cb10c");
    add_content(f, "rev", "https://video.example/rev", "5eed5eed5eed5eed5eed5eed5eed5eed");
    td_content ct;
    check(td_content_get(f->svc, "rev", &ct, &err), &err);
    assert_true(ct.has_case);
    int64_t case_id = ct.kase.id;
    td_content_clear(&ct);
    td_principal mod = {.id = 1, .role = TD_ROLE_MODERATOR, .name = "mod"};
    td_decision dec;
    check(td_case_decide(f->svc, case_id, &mod, TD_DECISION_REMOVE, "Glorification", &dec, &err),
          &err);

    add_content(f, "a1", "https://video.example/a1", "000000000000000000000000000000a1");
    add_content(f, "b1", "https://video.example/b1", "000000000000000000000000000000b1");
    add_content(f, "b2", "https://video.example/b2", "000000000000000000000000000000b2");
    add_content(f, "r1", "https://video.example/r1", "000000000000000000000000000000c1");
    add_content(f, "r2", "https://video.example/r2", "000000000000000000000000000000c2");

    /* A: removed in 2 minutes. B: two items, cross-border, removed late, then annulled on review.
     * C: cannot comply (manifest error). D: never located, breached. */
    order_opts o = {NULL, NULL, "A", "[{\"content_id\":\"a1\"}]", 0, 0, 0, NULL};
    int64_t a = must_receive(f, &o, &r);
    check(td_order_confirm(f->orders, a, T0 + 2 * MIN, "removed", "platform", &err), &err);
    o = (order_opts){NULL, NULL, "B", "[{\"content_id\":\"b1\"},{\"content_id\":\"b2\"}]",
                     1,    0,    0,   NULL};
    int64_t b = must_receive(f, &o, &r);
    o = (order_opts){NULL, NULL, "C", "[{\"content_id\":\"none\"}]", 0, 0, 0, NULL};
    int64_t cc = must_receive(f, &o, &r);
    check(td_order_cannot_comply(f->orders, cc, TD_CC_MANIFEST_ERROR, "Lawful news item", "mod",
                                 &err),
          &err);
    o = (order_opts){NULL, NULL, "D", "[{\"url\":\"https://elsewhere.example/d\"}]", 0, 0, 0, NULL};
    must_receive(f, &o, &r);
    fake_clock_set(T0 + 70 * MIN);
    check(td_order_confirm(f->orders, b, T0 + 65 * MIN, "removed", "platform", &err), &err);
    check(td_orders_tick(f->orders, &t, &err), &err);
    assert_int_equal(t.breaches, 1); /* D; B's breach was recorded by its confirmation */
    check(td_order_review_open(f->orders, b, "challenged by the content provider", "legal", &err),
          &err);
    fake_clock_set(T0 + 2 * DAY);
    check(td_order_review_decide(f->orders, b, 1, "annulled", "legal", &err), &err);

    /* Referrals: one removed, one kept. */
    o = (order_opts){"referral", "EU IRU", "R1", "[{\"content_id\":\"r1\"}]", 0, 0, 0, NULL};
    check(receive(f, TD_ORDER_REFERRAL, &o, f->ru_sk, &r, &why, &err), &err);
    check(td_referral_decide(f->orders, r.id, 1, "terms 4.2", "mod", &err), &err);
    o.reference = "R2";
    o.content = "[{\"content_id\":\"r2\"}]";
    check(receive(f, TD_ORDER_REFERRAL, &o, f->ru_sk, &r, &why, &err), &err);
    check(td_referral_decide(f->orders, r.id, 0, "within our terms", "mod", &err), &err);

    /* Complaints: against A's removal (upheld), against the blocked upload (rejected, late),
     * one still open. */
    check(td_complaint_file(f->orders, "a1", "satire", "user", &c, &err), &err);
    assert_int_equal(c.order_id, a);
    check(td_complaint_decide(f->orders, c.id, 1, "satire", "mod", &c, &err), &err);
    check(td_complaint_file(f->orders, "blk", "mine", "user", &c, &err), &err);
    fake_clock_set(T0 + 20 * DAY);
    check(td_complaint_decide(f->orders, c.id, 0, "matches known content", "mod", &c, &err), &err);
    check(td_complaint_file(f->orders, "rev", "why", "user", &c, &err), &err);

    /* Outside the period: something after it. */
    fake_clock_set(T0 + 31 * DAY);
    o = (order_opts){NULL, NULL, "LATE", "[{\"content_id\":\"none\"}]", 0, 0, 0, NULL};
    must_receive(f, &o, &r);

    char *text;
    check(td_report_transparency(f->orders, T0, T0 + 30 * DAY, &text, &err), &err);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_int_equal(at(j, "orders", "received", NULL), 4);
    assert_int_equal(at(j, "orders", "executed_within_deadline", NULL), 1);
    assert_int_equal(at(j, "orders", "executed_late", NULL), 1);
    assert_int_equal(at(j, "orders", "not_executed", "manifest_error"), 1);
    assert_int_equal(at(j, "orders", "not_executed", "force_majeure"), 0);
    assert_int_equal(at(j, "orders", "not_executed", "pending"), 1);
    assert_int_equal(at(j, "orders", "not_executed", "total"), 2);
    assert_int_equal(at(j, "orders", "breaches", NULL), 2);
    assert_int_equal(at(j, "orders", "cross_border", NULL), 1);
    assert_int_equal(at(j, "orders", "receipt_to_measure_ms", "max"), 65 * MIN);
    assert_int_equal(at(j, "orders", "receipt_to_measure_ms", "average"), (2 * MIN + 65 * MIN) / 2);
    assert_int_equal(at(j, "items_removed", "after_orders", NULL), 3);
    assert_int_equal(at(j, "items_removed", "after_own_measures", "review_decisions"), 1);
    assert_int_equal(at(j, "items_removed", "after_own_measures", "upload_blocks"), 1);
    assert_int_equal(at(j, "items_removed", "after_own_measures", "referrals"), 1);
    assert_int_equal(at(j, "items_removed", "after_own_measures", "total"), 3);
    assert_int_equal(at(j, "referrals", "received", NULL), 2);
    assert_int_equal(at(j, "referrals", "removed", NULL), 1);
    assert_int_equal(at(j, "referrals", "kept", NULL), 1);
    assert_int_equal(at(j, "complaints", "received", NULL), 3);
    assert_int_equal(at(j, "complaints", "upheld", NULL), 1);
    assert_int_equal(at(j, "complaints", "rejected", NULL), 1);
    assert_int_equal(at(j, "complaints", "answered_late", NULL), 1);
    assert_int_equal(at(j, "complaints", "open_at_end", NULL), 1);
    assert_int_equal(at(j, "complaints", "against_orders", NULL), 1);
    assert_int_equal(at(j, "proceedings", "review_requested", NULL), 1);
    assert_int_equal(at(j, "proceedings", "order_annulled", NULL), 1);
    assert_int_equal(at(j, "reinstatements", "after_proceedings", NULL), 2);
    assert_int_equal(at(j, "reinstatements", "after_complaints", NULL), 1);
    assert_int_equal(at(j, "anti_reupload", "blocked_uploads", NULL), 1);
    uint64_t size;
    check(td_audit_size(td_orders_audit(f->orders), &size, &err), &err);
    assert_int_equal(at(j, "audit_log", "size", NULL), (json_int_t)size);
    json_decref(j);
    td_free(text);
    assert_int_equal(td_report_transparency(f->orders, T0, T0, &text, &err), TD_ERR_INVALID);
    log_verifies(f);
}

/* The figures behind the console's charts, against the test's own times: removal orders and
 * referrals received over four weeks (weeks found here from the day of the week of each time),
 * removed after chosen delays (the buckets, median and 95th percentile counted here by sorting
 * them), matches of uploads per bank, and decisions per outcome. */
static void add_content_hashes(fixture *f, const char *id, const char *url, const char *md5,
                               const char *sha256);

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The Monday 00:00 UTC (YYYY-MM-DD) of the week of ms. */
static void monday_of(int64_t ms, char out[16])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int back = (tm.tm_wday + 6) % 7; /* days since Monday */
    t -= (time_t)back * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static void test_report_charts(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order_rejection why;
    td_error err;
    /* Receipt offsets from T0 (a Saturday) and the delay to removal of each removal order. */
    static const int64_t at_ms[] = {1 * HOUR, 2 * HOUR, 3 * DAY,  3 * DAY + HOUR, 4 * DAY,
                                    9 * DAY,  10 * DAY, 11 * DAY, 16 * DAY,       23 * DAY};
    static const int64_t delay_ms[] = {MIN,      5 * MIN - 1000, 5 * MIN,  12 * MIN, 29 * MIN,
                                       44 * MIN, 60 * MIN - 1,   60 * MIN, 90 * MIN, 3 * HOUR};
    enum { N = sizeof at_ms / sizeof at_ms[0] };
    static const int64_t referral_at[] = {2 * DAY, 17 * DAY};
    const int64_t period_end = T0 + 28 * DAY;
    for (int i = 0; i < N; i++) {
        char id[32], url[64], md5[33], content[128], ref[16];
        fake_clock_set(T0 + at_ms[i]);
        snprintf(id, sizeof id, "chart-%d", i);
        snprintf(url, sizeof url, "https://video.example/chart/%d", i);
        snprintf(md5, sizeof md5, "%032x", 0xc4a70 + i);
        add_content(f, id, url, md5);
        snprintf(content, sizeof content, "[{\"content_id\":\"%s\"}]", id);
        snprintf(ref, sizeof ref, "CH-%d", i);
        order_opts o = {NULL, NULL, ref, content, 0, 0, 0, NULL};
        int64_t oid = must_receive(f, &o, &r);
        fake_clock_set(T0 + at_ms[i] + delay_ms[i]);
        check(td_order_confirm(f->orders, oid, T0 + at_ms[i] + delay_ms[i], "removed", "platform",
                               &err),
              &err);
    }
    for (int i = 0; i < 2; i++) {
        char ref[16];
        fake_clock_set(T0 + referral_at[i]);
        snprintf(ref, sizeof ref, "RC-%d", i);
        order_opts o = {"referral", "EU IRU", ref, "[{\"content_id\":\"chart-0\"}]", 0, 0, 0, NULL};
        check(receive(f, TD_ORDER_REFERRAL, &o, f->ru_sk, &r, &why, &err), &err);
    }

    /* Matches: two banks; an upload blocked, three sent to review (decided remove, keep,
     * escalate), one matching both banks (blocked); one upload before the period. */
    td_bank bank;
    td_signal_input si;
    td_signal sig;
    td_bank_init(&bank);
    snprintf(bank.name, sizeof bank.name, "CHART_BLOCK");
    bank.action = TD_ACTION_BLOCK;
    check(td_bank_create(f->svc, &bank, NULL, &err), &err);
    snprintf(bank.name, sizeof bank.name, "CHART_REVIEW");
    bank.action = TD_ACTION_REVIEW;
    check(td_bank_create(f->svc, &bank, NULL, &err), &err);
    td_signal_input_init(&si);
    si.type = TD_SIGNAL_MD5;
    si.value = "b10cb10cb10cb10cb10cb10cb10cb10c";
    check(td_signal_add(f->svc, "CHART_BLOCK", &si, &sig, &err), &err);
    si.value = "5eed5eed5eed5eed5eed5eed5eed5eed";
    check(td_signal_add(f->svc, "CHART_REVIEW", &si, &sig, &err), &err);
    si.type = TD_SIGNAL_SHA256;
    si.value = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
    check(td_signal_add(f->svc, "CHART_BLOCK", &si, &sig, &err), &err);
    fake_clock_set(T0 - DAY);
    add_content(f, "early", "https://video.example/early", "b10cb10cb10cb10cb10cb10cb10cb10c");
    fake_clock_set(T0 + 5 * DAY);
    add_content(f, "blk", "https://video.example/blk", "b10cb10cb10cb10cb10cb10cb10cb10c");
    add_content(f, "rv1", "https://video.example/rv1", "5eed5eed5eed5eed5eed5eed5eed5eed");
    add_content(f, "rv2", "https://video.example/rv2", "5eed5eed5eed5eed5eed5eed5eed5eed");
    add_content(f, "rv3", "https://video.example/rv3", "5eed5eed5eed5eed5eed5eed5eed5eed");
    add_content_hashes(f, "both", "https://video.example/both", "5eed5eed5eed5eed5eed5eed5eed5eed",
                       "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed");
    td_principal mod = {.id = 1, .role = TD_ROLE_MODERATOR, .name = "mod"};
    static const char *const decided[] = {"rv1", "rv2", "rv3"};
    static const td_decision_kind kinds[] = {TD_DECISION_REMOVE, TD_DECISION_KEEP,
                                             TD_DECISION_ESCALATE};
    for (int i = 0; i < 3; i++) {
        td_content ct;
        td_decision dec;
        check(td_content_get(f->svc, decided[i], &ct, &err), &err);
        assert_true(ct.has_case);
        check(td_case_decide(f->svc, ct.kase.id, &mod, kinds[i], "chart", &dec, &err), &err);
        td_content_clear(&ct);
    }
    fake_clock_set(period_end + DAY);

    char *text;
    check(td_report_transparency(f->orders, T0, period_end, &text, &err), &err);
    json_t *j = json_loads(text, 0, NULL);
    td_free(text);
    assert_non_null(j);

    /* Orders per week: every week from the one of T0 to the one of the period's last instant. */
    char first[16], last[16], wk[16];
    monday_of(T0, first);
    monday_of(period_end - 1, last);
    json_t *weeks = json_object_get(j, "orders_per_week"), *w;
    size_t i;
    assert_true(json_array_size(weeks) >= 2);
    assert_string_equal(api_like_str(json_array_get(weeks, 0), "week_start"), first);
    assert_string_equal(
        api_like_str(json_array_get(weeks, json_array_size(weeks) - 1), "week_start"), last);
    json_int_t total_orders = 0, total_referrals = 0;
    json_array_foreach(weeks, i, w)
    {
        const char *start = api_like_str(w, "week_start");
        json_int_t want_o = 0, want_r = 0;
        for (int k = 0; k < N; k++) {
            monday_of(T0 + at_ms[k], wk);
            want_o += strcmp(wk, start) == 0;
        }
        for (int k = 0; k < 2; k++) {
            monday_of(T0 + referral_at[k], wk);
            want_r += strcmp(wk, start) == 0;
        }
        assert_int_equal(json_integer_value(json_object_get(w, "orders")), want_o);
        assert_int_equal(json_integer_value(json_object_get(w, "referrals")), want_r);
        total_orders += want_o;
        total_referrals += want_r;
        if (i > 0) { /* consecutive weeks */
            char prev_next[16];
            const char *prev = api_like_str(json_array_get(weeks, i - 1), "week_start");
            struct tm tm;
            memset(&tm, 0, sizeof tm);
            assert_non_null(strptime(prev, "%Y-%m-%d", &tm));
            time_t t = timegm(&tm) + 7 * 86400;
            gmtime_r(&t, &tm);
            strftime(prev_next, sizeof prev_next, "%Y-%m-%d", &tm);
            assert_string_equal(start, prev_next);
        }
    }
    assert_int_equal(total_orders, N);
    assert_int_equal(total_referrals, 2);
    assert_int_equal(at(j, "orders", "received", NULL), N);

    /* The distribution of the time to removal. */
    static const int64_t bounds_min[] = {0, 5, 10, 15, 30, 45, 60, 120};
    json_t *h = json_object_get(j, "removal_time_histogram");
    json_t *buckets = json_object_get(h, "buckets");
    assert_int_equal(json_array_size(buckets), 8);
    for (size_t b = 0; b < 8; b++) {
        json_int_t want = 0;
        for (int k = 0; k < N; k++)
            want += delay_ms[k] >= bounds_min[b] * MIN &&
                    (b == 7 || delay_ms[k] < bounds_min[b + 1] * MIN);
        json_t *bk = json_array_get(buckets, b);
        assert_int_equal(json_integer_value(json_object_get(bk, "from_minutes")), bounds_min[b]);
        if (b < 7)
            assert_int_equal(json_integer_value(json_object_get(bk, "to_minutes")),
                             bounds_min[b + 1]);
        else
            assert_true(json_is_null(json_object_get(bk, "to_minutes")));
        assert_int_equal(json_integer_value(json_object_get(bk, "orders")), want);
    }
    int64_t sorted[N];
    memcpy(sorted, delay_ms, sizeof sorted);
    qsort(sorted, N, sizeof sorted[0], cmp_i64);
    /* Nearest rank: the smallest value with at least p of the values at or below it. */
    int64_t median = 0, p95 = 0;
    for (int k = N - 1; k >= 0; k--) {
        if (100 * (k + 1) >= 50 * N)
            median = sorted[k];
        if (100 * (k + 1) >= 95 * N)
            p95 = sorted[k];
    }
    assert_int_equal(json_integer_value(json_object_get(h, "orders")), N);
    assert_int_equal(json_integer_value(json_object_get(h, "median_ms")), median);
    assert_int_equal(json_integer_value(json_object_get(h, "p95_ms")), p95);
    assert_int_equal(json_integer_value(json_object_get(h, "median_s")), median / 1000);
    assert_int_equal(json_integer_value(json_object_get(h, "p95_s")), p95 / 1000);

    /* Matches per bank: blk (block), rv1-3 (review), both (review + block, blocked); not
     * "early", before the period. */
    json_t *banks = json_object_get(j, "matches_per_bank");
    assert_int_equal(json_array_size(banks), 2);
    assert_string_equal(api_like_str(json_array_get(banks, 0), "bank"), "CHART_BLOCK");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(banks, 0), "matches")), 2);
    assert_string_equal(api_like_str(json_array_get(banks, 1), "bank"), "CHART_REVIEW");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(banks, 1), "matches")), 4);

    json_t *outcomes = json_object_get(j, "decisions_per_outcome");
    assert_int_equal(json_integer_value(json_object_get(outcomes, "remove")), 1);
    assert_int_equal(json_integer_value(json_object_get(outcomes, "keep")), 1);
    assert_int_equal(json_integer_value(json_object_get(outcomes, "escalate")), 1);
    json_decref(j);

    /* An empty period: zeros, and no median. */
    check(td_report_transparency(f->orders, T0 - 20 * DAY, T0 - 10 * DAY, &text, &err), &err);
    j = json_loads(text, 0, NULL);
    td_free(text);
    h = json_object_get(j, "removal_time_histogram");
    assert_int_equal(json_integer_value(json_object_get(h, "orders")), 0);
    assert_true(json_is_null(json_object_get(h, "median_s")));
    assert_int_equal(json_array_size(json_object_get(j, "matches_per_bank")), 0);
    json_array_foreach(json_object_get(j, "orders_per_week"), i, w)
        assert_int_equal(json_integer_value(json_object_get(w, "orders")), 0);
    json_decref(j);

    /* The log's entries in pages (td_audit_list, GET /v1/log/entries), against td_audit_get. */
    td_audit *log = td_orders_audit(f->orders);
    uint64_t size;
    check(td_audit_size(log, &size, &err), &err);
    td_audit_entry *list;
    size_t n;
    uint64_t next = 0;
    int64_t after = -1;
    for (;;) {
        check(td_audit_list(log, 0, after, -1, NULL, 7, &list, &n, &err), &err);
        for (size_t k = 0; k < n; k++) {
            td_audit_entry e;
            assert_int_equal(list[k].seq, next++);
            check(td_audit_get(log, list[k].seq, &e, &err), &err);
            assert_string_equal(list[k].actor, e.actor);
            assert_string_equal(list[k].action, e.action);
            assert_string_equal(list[k].object, e.object);
            assert_string_equal(list[k].details, e.details);
            assert_int_equal(list[k].time_ms, e.time_ms);
            td_audit_entry_clear(&e);
            td_audit_entry_clear(&list[k]);
        }
        td_free(list);
        if (n < 7)
            break;
        after = (int64_t)next - 1;
    }
    assert_int_equal(next, size);
    /* Newest first: the last three. */
    check(td_audit_list(log, 1, -1, -1, NULL, 3, &list, &n, &err), &err);
    assert_int_equal(n, 3);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(list[k].seq, size - 1 - k);
        td_audit_entry_clear(&list[k]);
    }
    td_free(list);
    /* One action: the removal orders and the referrals received. */
    check(td_audit_list(log, 0, -1, -1, "order.received", 500, &list, &n, &err), &err);
    assert_int_equal(n, N);
    for (size_t k = 0; k < n; k++) {
        assert_string_equal(list[k].action, "order.received");
        td_audit_entry_clear(&list[k]);
    }
    td_free(list);
    check(td_audit_list(log, 1, -1, size, "referral.received", 500, &list, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_true(list[0].seq > list[1].seq);
    for (size_t k = 0; k < n; k++)
        td_audit_entry_clear(&list[k]);
    td_free(list);
    assert_int_equal(td_audit_list(log, 0, -1, -1, NULL, 501, &list, &n, &err), TD_ERR_INVALID);
}

/* ---- the order's language ---- */

static void test_parse_language(void **state)
{
    (void)state;
    td_order_doc *doc = malloc(sizeof *doc);
    td_order_rejection why;
    td_error err;
    order_opts o = {NULL, NULL, "LANG-1", "[{\"content_id\":\"x\"}]", 0, 0, 0, NULL};
    order_language = "DE";
    const char *body = order_json(&o);
    check(td_order_parse(body, strlen(body), doc, &why, &err), &err);
    assert_string_equal(doc->language, "de");
    order_language = "fra";
    body = order_json(&o);
    check(td_order_parse(body, strlen(body), doc, &why, &err), &err);
    assert_string_equal(doc->language, "fra");
    order_language = NULL;
    body = order_json(&o);
    check(td_order_parse(body, strlen(body), doc, &why, &err), &err);
    assert_string_equal(doc->language, "");
    static const char *const bad[] = {"d", "deut", "d1", "de-AT", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        order_language = bad[i];
        body = order_json(&o);
        td_status st = td_order_parse(body, strlen(body), doc, &why, &err);
        if (!bad[i][0]) {
            check(st, &err); /* empty: as if absent */
            continue;
        }
        assert_int_equal(st, TD_ERR_INVALID);
        assert_string_equal(why.field, "language");
        assert_int_equal(why.problem, TD_ORDER_INVALID_FIELD);
    }
    order_language = NULL;
    free(doc);
}

/* ---- user notice templates ---- */

static void expect_template(const char *text, td_status want, td_template_problem problem,
                            const char *names)
{
    td_template_rejection why;
    td_error err;
    td_status st = td_notice_template_check(text, strlen(text), &why, &err);
    if (st != want)
        fail_msg("template '%.60s': %s, expected %s (%s)", text, td_strerror(st), td_strerror(want),
                 err.message);
    assert_int_equal(why.problem, problem);
    if (names)
        assert_string_equal(why.names, names);
}

static void test_template_check(void **state)
{
    (void)state;
    td_template_rejection why;
    td_error err;
    expect_template("Removed: {{reason}} ({{ reference }}, {{authority}})", TD_OK, TD_TEMPLATE_OK,
                    NULL);
    expect_template("no placeholder at all, } and { alone", TD_OK, TD_TEMPLATE_OK, NULL);
    expect_template("Zeilen\n\tund Umlaute \xc3\xa4\xc3\xb6 \xe2\x82\xac \xf0\x9f\x98\x80", TD_OK,
                    TD_TEMPLATE_OK, NULL);
    /* Unknown names are listed, each once, in the order met. */
    expect_template("{{foo}} {{reason}} {{Reason}} {{foo}} {{bar_2}}", TD_ERR_INVALID,
                    TD_TEMPLATE_UNKNOWN_PLACEHOLDER, "foo,Reason,bar_2");
    assert_int_equal(td_notice_template_check("x {{nope}}", 10, &why, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "nope"));
    /* Malformed: where. */
    expect_template("abc {{ reason", TD_ERR_INVALID, TD_TEMPLATE_MALFORMED, NULL);
    assert_int_equal(td_notice_template_check("abc {{ reason", 13, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.offset, 4);
    expect_template("{{}}", TD_ERR_INVALID, TD_TEMPLATE_MALFORMED, NULL);
    expect_template("{{{reason}}}", TD_ERR_INVALID, TD_TEMPLATE_MALFORMED, NULL);
    expect_template("{{a b}}", TD_ERR_INVALID, TD_TEMPLATE_MALFORMED, NULL);
    expect_template("bell \x07", TD_ERR_INVALID, TD_TEMPLATE_MALFORMED, NULL);
    expect_template("overlong \xc0\xaf", TD_ERR_INVALID, TD_TEMPLATE_MALFORMED, NULL);
    expect_template("surrogate \xed\xa0\x80", TD_ERR_INVALID, TD_TEMPLATE_MALFORMED, NULL);
    expect_template("cut \xe2\x82", TD_ERR_INVALID, TD_TEMPLATE_MALFORMED, NULL);
    assert_int_equal(td_notice_template_check("", 0, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_TEMPLATE_MALFORMED);
    assert_int_equal(td_notice_template_check("a\0b", 3, &why, &err), TD_ERR_INVALID);
    /* Limits: the text, the placeholders, the rendered size at worst. */
    char *big = malloc(TD_NOTICE_TEMPLATE_MAX + 2);
    memset(big, 'x', TD_NOTICE_TEMPLATE_MAX + 1);
    big[TD_NOTICE_TEMPLATE_MAX + 1] = '\0';
    expect_template(big, TD_ERR_LIMIT, TD_TEMPLATE_TOO_LARGE, NULL);
    big[TD_NOTICE_TEMPLATE_MAX] = '\0';
    expect_template(big, TD_OK, TD_TEMPLATE_OK, NULL);
    big[0] = '\0';
    for (int i = 0; i < 65; i++)
        strcat(big, "{{category}}");
    expect_template(big, TD_ERR_LIMIT, TD_TEMPLATE_TOO_LARGE, NULL);
    big[0] = '\0';
    for (int i = 0; i < 16; i++)
        strcat(big, "{{reason}}");
    expect_template(big, TD_OK, TD_TEMPLATE_OK, NULL); /* 16 x 4096 = 65536: just fits */
    strcat(big, "!");
    expect_template(big, TD_ERR_LIMIT, TD_TEMPLATE_TOO_LARGE, NULL);
    free(big);

    char lang[TD_NOTICE_LANG_MAX + 1];
    assert_true(td_notice_language_normalize("DE", lang));
    assert_string_equal(lang, "de");
    assert_true(td_notice_language_normalize("Default", lang));
    assert_string_equal(lang, "default");
    assert_false(td_notice_language_normalize("d", lang));
    assert_false(td_notice_language_normalize("deut", lang));
    assert_false(td_notice_language_normalize("de-AT", lang));
    assert_false(td_notice_language_normalize(NULL, lang));
    size_t n;
    const char *const *names = td_notice_placeholders(&n);
    assert_int_equal(n, 14);
    assert_string_equal(names[0], "reason");
    assert_string_equal(td_template_problem_name(TD_TEMPLATE_UNKNOWN_PLACEHOLDER),
                        "unknown_placeholder");
}

/* The body of the last "notice" delivery. */
static json_t *last_notice(fixture *f)
{
    json_t *d = event_deliveries(f, "notice");
    size_t n = json_array_size(d);
    assert_true(n > 0);
    json_t *b = json_incref(json_object_get(json_array_get(d, n - 1), "body"));
    json_decref(d);
    return b;
}

static int64_t confirmed_order(fixture *f, const char *ref, const char *content_id,
                               const char *language)
{
    td_order_receipt r;
    td_error err;
    char content[512];
    snprintf(content, sizeof content, "[{\"content_id\":\"%s\"}]", content_id);
    order_opts o = {NULL, NULL, ref, content, 0, 0, 0, NULL};
    order_language = language;
    int64_t id = must_receive(f, &o, &r);
    order_language = NULL;
    check(td_order_confirm(f->orders, id, td_clock_now(&(td_clock){fake_clock, NULL}), "removed",
                           "platform", &err),
          &err);
    return id;
}

static void test_notice_templates(void **state)
{
    fixture *f = *state;
    td_template_rejection why;
    td_notice_template t, *list;
    size_t n;
    td_error err;
    notice_hook(f);

    /* Refusals name the problem; nothing is stored. */
    assert_int_equal(td_notice_template_set(f->orders, "admin", "deutsch", "x", NULL, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_TEMPLATE_BAD_LANGUAGE);
    assert_int_equal(
        td_notice_template_set(f->orders, "admin", "de", "{{grund}} {{ref}}", NULL, &why, &err),
        TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_TEMPLATE_UNKNOWN_PLACEHOLDER);
    assert_string_equal(why.names, "grund,ref");
    assert_int_equal(td_notice_template_set(f->orders, "admin", "de", "ok", "ftp://x", &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_TEMPLATE_BAD_URL);
    assert_int_equal(
        td_notice_template_set(f->orders, "admin", "de", "ok", "https://a b", &why, &err),
        TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_TEMPLATE_BAD_URL);
    assert_int_equal(td_notice_template_get(f->orders, "de", &t, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_notice_template_delete(f->orders, "admin", "de", &err), TD_ERR_NOT_FOUND);

    /* No template: the built-in text, as before templates existed. */
    add_content(f, "tpl-0", "https://video.example/tpl0", "00000000000000000000000000000020");
    int64_t id0 = confirmed_order(f, "TPL-0", "tpl-0", "de");
    json_t *b = last_notice(f);
    assert_string_equal(jget(b, "redress", "complaint"), td_notice_builtin_text());
    assert_string_equal(jget(b, "redress", "complaint_url"), "");
    assert_string_equal(jget(b, "template", NULL), "builtin");
    assert_string_equal(jget(b, "language", NULL), "de");
    assert_int_equal(iget(b, "order", "id"), id0);
    json_decref(b);

    /* A German and a default template. */
    check(td_notice_template_set(f->orders, "admin", "DE",
                                 "Ihr Inhalt {{url}} wurde am {{time_of_measure}} entfernt "
                                 "(Anordnung {{reference}} von {{authority}}, {{member_state}}). "
                                 "Begr\xc3\xbcndung: {{reason}} [{{category}}]. Rechtsbehelf: "
                                 "{{redress}}. Beschwerde binnen {{complaint_days}} Tagen: "
                                 "{{complaint_url}}",
                                 "https://platform.example/de/beschwerde", &why, &err),
          &err);
    check(td_notice_template_set(f->orders, "admin", "default",
                                 "Removed under order {{reference}} ({{category_text}}). "
                                 "Complain: {{complaint_url}}",
                                 "https://platform.example/appeal", &why, &err),
          &err);
    check(td_notice_template_get(f->orders, "de", &t, &err), &err);
    assert_string_equal(t.language, "de");
    assert_string_equal(t.complaint_url, "https://platform.example/de/beschwerde");
    assert_string_equal(t.updated_by, "admin");
    check(td_notice_template_list(f->orders, &list, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].language, "de");
    assert_string_equal(list[1].language, "default");
    td_free(list);

    /* The order's language picks the template; the values fill it. */
    add_content(f, "tpl-1", "https://video.example/tpl1", "00000000000000000000000000000021");
    fake_clock_set(T0 + 10 * MIN);
    confirmed_order(f, "TPL-1", "tpl-1", "de");
    b = last_notice(f);
    assert_string_equal(jget(b, "template", NULL), "de");
    assert_string_equal(
        jget(b, "redress", "complaint"),
        "Ihr Inhalt https://video.example/tpl1 wurde am 2024-06-01T00:10:00.000Z entfernt "
        "(Anordnung TPL-1 von BKA, DE). Begr\xc3\xbcndung: Incitement to commit a terrorist "
        "offence [a]. Rechtsbehelf: Verwaltungsgericht Wiesbaden. Beschwerde binnen 14 Tagen: "
        "https://platform.example/de/beschwerde");
    assert_string_equal(jget(b, "redress", "complaint_url"),
                        "https://platform.example/de/beschwerde");
    assert_string_equal(jget(b, "redress", "judicial"), "Verwaltungsgericht Wiesbaden");
    json_decref(b);

    /* No language, or one without a template: "default". */
    add_content(f, "tpl-2", "https://video.example/tpl2", "00000000000000000000000000000022");
    confirmed_order(f, "TPL-2", "tpl-2", "fr");
    b = last_notice(f);
    assert_string_equal(jget(b, "template", NULL), "default");
    assert_string_equal(jget(b, "redress", "complaint"),
                        "Removed under order TPL-2 (incites the commission of terrorist "
                        "offences). Complain: https://platform.example/appeal");
    json_decref(b);

    /* Changed without a restart: the next notice speaks the new text. */
    check(td_notice_template_set(f->orders, "admin", "default", "New wording for {{content_id}}.",
                                 NULL, &why, &err),
          &err);
    add_content(f, "tpl-3", "https://video.example/tpl3", "00000000000000000000000000000023");
    confirmed_order(f, "TPL-3", "tpl-3", NULL);
    b = last_notice(f);
    assert_string_equal(jget(b, "template", NULL), "default");
    assert_string_equal(jget(b, "language", NULL), "");
    assert_string_equal(jget(b, "redress", "complaint"), "New wording for tpl-3.");
    assert_string_equal(jget(b, "redress", "complaint_url"), "");
    json_decref(b);

    /* Removed: back to the built-in text. */
    check(td_notice_template_delete(f->orders, "admin", "default", &err), &err);
    add_content(f, "tpl-4", "https://video.example/tpl4", "00000000000000000000000000000024");
    confirmed_order(f, "TPL-4", "tpl-4", NULL);
    b = last_notice(f);
    assert_string_equal(jget(b, "template", NULL), "builtin");
    assert_string_equal(jget(b, "redress", "complaint"), td_notice_builtin_text());
    json_decref(b);

    /* A withheld notice speaks with the template of the day it is released. */
    add_content(f, "tpl-5", "https://video.example/tpl5", "00000000000000000000000000000025");
    td_order_receipt r;
    order_opts o = {NULL, NULL, "TPL-5", "[{\"content_id\":\"tpl-5\"}]", 0, 0, 3, NULL};
    order_language = "de";
    int64_t id5 = must_receive(f, &o, &r);
    order_language = NULL;
    check(td_order_confirm(f->orders, id5, T0 + 11 * MIN, "removed", "platform", &err), &err);
    check(td_notice_template_set(f->orders, "admin", "de", "Neu: {{reference}}", NULL, &why, &err),
          &err);
    td_orders_tick_result tick;
    fake_clock_set(T0 + 10 * MIN + 3 * DAY);
    check(td_orders_tick(f->orders, &tick, &err), &err);
    assert_int_equal(tick.notices_released, 1);
    b = last_notice(f);
    assert_string_equal(jget(b, "redress", "complaint"), "Neu: TPL-5");
    json_decref(b);

    assert_int_equal(audit_count(f, "notice.template_set"), 4);
    assert_int_equal(audit_count(f, "notice.template_deleted"), 1);
    log_verifies(f);
}

/* ---- the removed media as evidence ---- */

static void add_content_hashes(fixture *f, const char *id, const char *url, const char *md5,
                               const char *sha256)
{
    td_content_input in;
    td_hashes h;
    td_error err;
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    if (md5)
        snprintf(h.md5, sizeof h.md5, "%.32s", md5);
    if (sha256)
        snprintf(h.sha256, sizeof h.sha256, "%.64s", sha256);
    in.content_id = id;
    in.url = url;
    in.uploader = "user-7";
    in.hashes = &h;
    check(td_content_submit(f->svc, &in, NULL, &err), &err);
}

static void hex_of(const char *what, const uint8_t *data, size_t len, char out[65])
{
    if (strcmp(what, "md5") == 0)
        assert_int_equal(td_md5_hex(data, len, out), TD_OK);
    else
        assert_int_equal(td_sha256_hex(data, len, out), TD_OK);
}

typedef struct released {
    int n;
    int64_t ids[8];
    char labels[8][300];
    char related[8][2048];
    uint8_t content[8][256];
    size_t len[8];
} released;

static int on_released(void *ctx, int64_t item_id, const char *label, const char *related,
                       const uint8_t *content, size_t len)
{
    released *r = ctx;
    assert_true(r->n < 8);
    r->ids[r->n] = item_id;
    snprintf(r->labels[r->n], sizeof r->labels[0], "%s", label);
    snprintf(r->related[r->n], sizeof r->related[0], "%s", related);
    r->len[r->n] = len < sizeof r->content[0] ? len : sizeof r->content[0];
    memcpy(r->content[r->n], content, r->len[r->n]);
    r->n++;
    return 0;
}

static const uint8_t MEDIA_A[] = "\x89PNG fake media bytes of item A";
static const uint8_t MEDIA_B[] = "GIF89a other bytes of item B";

/* Whether request id is listed under each filter (all, pending, approved, released), with
 * `approvals` of 2 recorded wherever it is listed. */
static void expect_request_in(td_evidence *ev, int64_t id, unsigned approvals, int in[4])
{
    td_error err;
    for (int f = 0; f < 4; f++) {
        td_evidence_request_info *list;
        size_t n;
        check(td_evidence_request_list(ev, (td_evidence_request_filter)f, 200, 0, &list, &n, &err),
              &err);
        in[f] = 0;
        for (size_t i = 0; i < n; i++)
            if (list[i].id == id) {
                in[f] = 1;
                assert_int_equal(list[i].approvals, approvals);
                assert_int_equal(list[i].need, 2);
            }
        td_free(list);
    }
}

static void test_media(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order_media m;
    td_error err;
    char sha_a[65], md5_b[65], sha_b[65], q[4096];
    hex_of("sha256", MEDIA_A, sizeof MEDIA_A - 1, sha_a);
    hex_of("md5", MEDIA_B, sizeof MEDIA_B - 1, md5_b);
    hex_of("sha256", MEDIA_B, sizeof MEDIA_B - 1, sha_b);
    add_content_hashes(f, "med-a", "https://video.example/med-a", NULL, sha_a);
    add_content_hashes(f, "med-b", "https://video.example/med-b", md5_b, NULL);
    add_content_hashes(f, "med-c", "https://video.example/med-c", NULL, NULL);
    order_opts o = {NULL,
                    NULL,
                    "MED-1",
                    "[{\"content_id\":\"med-a\"},{\"url\":\"https://video.example/med-b\"},"
                    "{\"content_id\":\"med-c\"},{\"url\":\"https://nowhere.example/x\"}]",
                    0,
                    0,
                    0,
                    NULL};
    int64_t id = must_receive(f, &o, &r);
    assert_true(r.executed);

    /* The remove webhook says where to upload each target's bytes. */
    deliveries(f, q, sizeof q);
    json_t *d = event_deliveries(f, "remove");
    assert_int_equal(json_array_size(d), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *b = json_object_get(json_array_get(d, i), "body");
        char path[96];
        snprintf(path, sizeof path, "/v1/orders/%lld/targets/%zu/media", (long long)id, i);
        assert_string_equal(jget(b, "media_upload", "path"), path);
        assert_string_equal(jget(b, "media_upload", "method"), "PUT");
        assert_int_equal(iget(b, "media_upload", "target"), (json_int_t)i);
    }
    json_decref(d);

    /* Before the confirmation: checked against the content's SHA-256, sealed. */
    fake_clock_set(T0 + 2 * MIN);
    check(td_order_preserve_media(f->orders, id, 0, MEDIA_A, sizeof MEDIA_A - 1,
                                  "application/octet-stream", "upload-service", &m, &err),
          &err);
    assert_string_equal(m.verified, "sha256");
    assert_string_equal(m.sha256, sha_a);
    assert_string_equal(m.content_id, "med-a");
    assert_false(m.duplicate);
    assert_true(m.evidence_item > 0);
    assert_int_equal(m.preserved_ms, T0 + 2 * MIN);
    int64_t item_a = m.evidence_item;
    /* The same bytes again: nothing new. */
    check(
        td_order_preserve_media(f->orders, id, 0, MEDIA_A, sizeof MEDIA_A - 1, NULL, "x", &m, &err),
        &err);
    assert_true(m.duplicate);
    assert_int_equal(m.evidence_item, item_a);
    /* Other bytes: they are not the content (both hashes named). */
    assert_int_equal(
        td_order_preserve_media(f->orders, id, 0, MEDIA_B, sizeof MEDIA_B - 1, NULL, "x", &m, &err),
        TD_ERR_INVALID);
    assert_true(m.mismatch);
    assert_string_equal(m.expected_sha256, sha_a);
    assert_string_equal(m.sha256, sha_b);
    assert_non_null(strstr(err.message, sha_a));
    assert_non_null(strstr(err.message, sha_b));
    /* Only the MD5 is known: compared with it. */
    assert_int_equal(
        td_order_preserve_media(f->orders, id, 1, MEDIA_A, sizeof MEDIA_A - 1, NULL, "x", &m, &err),
        TD_ERR_INVALID);
    assert_true(m.mismatch);
    assert_string_equal(m.verified, "md5");
    assert_string_equal(m.expected_md5, md5_b);
    check(td_order_preserve_media(f->orders, id, 1, MEDIA_B, sizeof MEDIA_B - 1, "image/gif",
                                  "upload-service", &m, &err),
          &err);
    assert_string_equal(m.verified, "md5");
    /* No hash known: accepted as sent; other bytes later are a conflict. */
    check(td_order_preserve_media(f->orders, id, 2, MEDIA_B, sizeof MEDIA_B - 1, NULL,
                                  "upload-service", &m, &err),
          &err);
    assert_string_equal(m.verified, "none");
    assert_int_equal(
        td_order_preserve_media(f->orders, id, 2, MEDIA_A, sizeof MEDIA_A - 1, NULL, "x", &m, &err),
        TD_ERR_CONFLICT);
    assert_false(m.mismatch);
    /* A target not located, one that does not exist, no bytes, another order. */
    assert_int_equal(td_order_preserve_media(f->orders, id, 3, MEDIA_A, 4, NULL, "x", &m, &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(td_order_preserve_media(f->orders, id, 4, MEDIA_A, 4, NULL, "x", &m, &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(td_order_preserve_media(f->orders, id, 99, MEDIA_A, 4, NULL, "x", &m, &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(td_order_preserve_media(f->orders, id, 0, MEDIA_A, 0, NULL, "x", &m, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_order_preserve_media(f->orders, 9999, 0, MEDIA_A, 4, NULL, "x", &m, &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(
        td_order_preserve_media(f->orders, id, 0, MEDIA_A, 4, "text/\x01", "x", &m, &err),
        TD_ERR_INVALID);
    assert_int_equal(audit_count(f, "order.media_preserved"), 3);

    /* The confirmation seals the content records next to the media: one case, one key. */
    fake_clock_set(T0 + 5 * MIN);
    check(td_order_confirm(f->orders, id, T0 + 4 * MIN, "removed", "platform", &err), &err);
    td_order *ord = malloc(sizeof *ord);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_true(ord->preserved);
    assert_int_equal(ord->doc.targets[0].media_item, item_a);
    assert_string_equal(ord->doc.targets[0].media_sha256, sha_a);
    assert_true(ord->doc.targets[1].media_item > 0);
    assert_int_equal(ord->doc.targets[3].media_item, 0);
    free(ord);
    char ref[32];
    snprintf(ref, sizeof ref, "order-%lld", (long long)id);
    td_evidence *ev = td_orders_evidence(f->orders);
    td_evidence_item_info *items;
    size_t n;
    check(td_evidence_item_list(ev, ref, &items, &n, &err), &err);
    assert_int_equal(n, 6); /* three media, three records */
    assert_string_equal(items[0].label, "media:med-a");
    assert_int_equal(items[0].bytes, (int64_t)(sizeof MEDIA_A - 1));
    int64_t media_file_item = items[0].id;
    td_free(items);
    td_evidence_case_info info;
    check(td_evidence_case(ev, ref, &info, &err), &err);
    assert_int_equal(info.retain_until_ms, T0 + 4 * MIN + 183 * DAY);

    /* k of n custodians release the media bytes themselves. */
    int64_t req;
    int64_t want[1] = {item_a};
    check(td_evidence_request(ev, "BKA", "EPOC-7", "investigation", ref, want, 1, &req, &err),
          &err);
    /* Listed by state as it goes (td_evidence_request_list): pending, approved, released. */
    static const char *const filters[] = {"all", "pending", "approved", "released"};
    int listed_in[4];
    expect_request_in(ev, req, 0, listed_in);
    assert_true(listed_in[0] && listed_in[1] && !listed_in[2] && !listed_in[3]);
    check(td_evidence_approve(ev, req, "legal", f->shares[0], NULL, NULL, &err), &err);
    expect_request_in(ev, req, 1, listed_in);
    assert_true(listed_in[0] && listed_in[1] && !listed_in[2] && !listed_in[3]);
    check(td_evidence_approve(ev, req, "auditor", f->shares[2], NULL, NULL, &err), &err);
    expect_request_in(ev, req, 2, listed_in);
    for (int i = 0; i < 4; i++)
        if (listed_in[i] != (i == 0 || i == 2))
            fail_msg("request %lld listed under %s: %d", (long long)req, filters[i], listed_in[i]);
    td_evidence_request_info *none;
    assert_int_equal(td_evidence_request_list(ev, TD_EVIDENCE_REQUESTS_ALL, 0, 0, &none, &n, &err),
                     TD_ERR_INVALID);
    released rel;
    memset(&rel, 0, sizeof rel);
    check(td_evidence_release(ev, req, "admin", on_released, &rel, &err), &err);
    expect_request_in(ev, req, 2, listed_in);
    assert_true(listed_in[0] && !listed_in[1] && !listed_in[2] && listed_in[3]);
    assert_int_equal(rel.n, 1);
    assert_string_equal(rel.labels[0], "media:med-a");
    assert_int_equal(rel.len[0], sizeof MEDIA_A - 1);
    assert_memory_equal(rel.content[0], MEDIA_A, sizeof MEDIA_A - 1);
    json_t *related = json_loads(rel.related[0], 0, NULL);
    assert_non_null(related);
    assert_string_equal(jget(related, "kind", NULL), "media");
    assert_string_equal(jget(related, "sha256", NULL), sha_a);
    assert_string_equal(jget(related, "verified", NULL), "sha256");
    assert_string_equal(jget(related, "content_type", NULL), "application/octet-stream");
    assert_string_equal(jget(related, "uploaded_by", NULL), "upload-service");
    assert_int_equal(iget(related, "order", "id"), id);
    json_decref(related);

    /* The end of retention destroys the media with the case key. */
    char path[4300];
    snprintf(path, sizeof path, "%s/evidence/%lld.seal", f->dir, (long long)media_file_item);
    assert_int_equal(access(path, F_OK), 0);
    fake_clock_set(T0 + 4 * MIN + 183 * DAY + 1);
    int64_t purged = 0;
    check(td_evidence_purge(ev, "system", &purged, &err), &err);
    assert_int_equal(purged, 1);
    assert_int_not_equal(access(path, F_OK), 0);
    check(td_evidence_item_list(ev, ref, &items, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        assert_true(items[i].destroyed);
    td_free(items);
    assert_int_not_equal(
        td_evidence_request(ev, "BKA", "EPOC-8", "again", ref, NULL, 0, &req, &err), TD_OK);
    /* Nor does the same upload again pretend it is kept. */
    assert_int_equal(
        td_order_preserve_media(f->orders, id, 0, MEDIA_A, sizeof MEDIA_A - 1, NULL, "x", &m, &err),
        TD_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "purged"));
    log_verifies(f);
}

/* Referrals are not preserved; nor is a reinstated order's content. */
static void test_media_refused(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order_rejection why;
    td_order_media m;
    td_error err;
    add_content(f, "mr-1", "https://video.example/mr1", "00000000000000000000000000000031");
    add_content(f, "mr-2", "https://video.example/mr2", "00000000000000000000000000000032");
    order_opts o = {"referral", "EU IRU", "IRU-M", "[{\"content_id\":\"mr-1\"}]", 0, 0, 0, NULL};
    check(receive(f, TD_ORDER_REFERRAL, &o, f->ru_sk, &r, &why, &err), &err);
    check(td_referral_decide(f->orders, r.id, 1, "terms", "mod", &err), &err);
    assert_int_equal(td_order_preserve_media(f->orders, r.id, 0, MEDIA_A, 4, NULL, "x", &m, &err),
                     TD_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "referral"));
    /* The referral's remove event names no upload. */
    json_t *d = event_deliveries(f, "remove");
    assert_int_equal(json_array_size(d), 1);
    assert_null(json_object_get(json_object_get(json_array_get(d, 0), "body"), "media_upload"));
    json_decref(d);

    order_opts x = {NULL, NULL, "XB-M", "[{\"content_id\":\"mr-2\"}]", 1, 0, 0, NULL};
    int64_t id = must_receive(f, &x, &r);
    check(td_order_confirm(f->orders, id, T0 + MIN, "removed", "platform", &err), &err);
    check(td_order_review_open(f->orders, id, "challenged", "legal", &err), &err);
    check(td_order_review_decide(f->orders, id, 1, "infringes", "legal", &err), &err);
    assert_int_equal(td_order_preserve_media(f->orders, id, 0, MEDIA_A, 4, NULL, "x", &m, &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(audit_count(f, "order.media_preserved"), 0);
}

/* No master key yet: nothing can be sealed; the platform is told to come back. */
static void test_media_no_master(void **state)
{
    fixture *f = *state;
    td_order_receipt r;
    td_order_media m;
    td_error err;
    add_content_hashes(f, "nm-1", "https://video.example/nm1", NULL, NULL);
    order_opts o = {NULL, NULL, "NM-1", "[{\"content_id\":\"nm-1\"}]", 0, 0, 0, NULL};
    int64_t id = must_receive(f, &o, &r);
    assert_int_equal(td_order_preserve_media(f->orders, id, 0, MEDIA_A, 4, NULL, "x", &m, &err),
                     TD_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "master key"));
    td_order *ord = malloc(sizeof *ord);
    check(td_order_get(f->orders, id, ord, &err), &err);
    assert_int_equal(ord->doc.targets[0].media_item, 0);
    free(ord);
}

int main(void)
{
    fake_clock_set(T0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_target_urls),
        cmocka_unit_test_setup_teardown(test_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signature_before_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_duplicate_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_contact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_confirm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notice_withheld, setup, teardown),
        cmocka_unit_test(test_event_names),
        cmocka_unit_test_setup_teardown(test_notice_webhook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notice_webhook_withheld, setup, teardown),
        cmocka_unit_test_setup_teardown(test_referral_answer_webhook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalation_breach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_comply_clarify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_review_reinstate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_referral, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complaint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_charts, setup, teardown),
        cmocka_unit_test(test_parse_language),
        cmocka_unit_test(test_template_check),
        cmocka_unit_test_setup_teardown(test_notice_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_no_master, setup_no_master, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
