/* The audit log covers every state change (docs/audit.md, "Entry kinds"): each action of the
 * service, its orders and evidence components is performed once and its entry (action, actor,
 * object) is looked up in the one log the service owns; neither an API key's text nor a
 * webhook's secret appears in it; `takedown audit verify` then finds the log intact. A second
 * test recomputes the transparency report's figures from an export of the log
 * (`takedown audit export`) and compares them with td_report_transparency, including the
 * Merkle root the report quotes.
 *
 *   test_every_change_is_an_entry   keys, webhooks, banks, signals, import, cases, notice
 *                                   templates, evidence release, E2EE franking keys and
 *                                   reports (received, reporter added, read), review copies
 *                                   of media (kept, read, deleted, preserved); actors; CLI
 *                                   verify
 *   test_report_from_export         orders, referrals, complaints, decisions: figures recomputed
 *                                   from the exported entries
 *   test_http_actor                 over HTTP (`takedown serve`): the calling key is the actor */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "support/api_client.h"
#include "support/store_url.h"
#include "support/fake_clock.h"
#include "support/support.h"
#include "takedown/audit.h"
#include "takedown/casework.h"
#include "takedown/evidence.h"
#include "takedown/orders.h"
#include "takedown/reports.h"
#include "takedown/review_media.h"

#define MIN ((int64_t)60000)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define T0 ((int64_t)1717200000000LL) /* 2024-06-01T00:00:00Z */

typedef struct fixture {
    char dir[4096];
    td_service *svc;
    td_orders *orders;
} fixture;

static void check(td_status st, const td_error *err)
{
    if (st)
        fail_msg("%s: %s", td_strerror(st), err->message);
}

/* sqlite_only: the store `takedown serve` wrote in the directory, whatever the test store. */
static void open_on(fixture *f, int sqlite_only)
{
    td_service_options so;
    td_error err;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.clock.now_ms = fake_clock;
    so.store_url = sqlite_only ? NULL : td_test_store_url(f->dir);
    so.review_qa_share = 1.0; /* every remove and keep decision opens a QA review */
    check(td_service_open(f->dir, &so, &f->svc, &err), &err);
    check(td_orders_open(f->svc, NULL, &f->orders, &err), &err);
}

static void open_all(fixture *f) { open_on(f, 0); }

static void close_all(fixture *f)
{
    td_orders_close(f->orders);
    td_service_close(f->svc);
    f->orders = NULL;
    f->svc = NULL;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_true(sodium_init() >= 0);
    fake_clock_set(T0 - DAY);
    snprintf(f->dir, sizeof f->dir, "%s", temp_path("audit-coverage-XXXXXX"));
    assert_non_null(mkdtemp(f->dir));
    open_all(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close_all(f);
    free(f);
    return 0;
}

/* The details of the newest entry with this action, actor and object (NULL when none); the
 * entry's seq in *seq. */
static json_t *find_entry(fixture *f, const char *action, const char *actor, const char *object,
                          uint64_t *seq)
{
    td_audit *log = td_service_audit(f->svc);
    uint64_t size;
    td_error err;
    check(td_audit_size(log, &size, &err), &err);
    for (uint64_t i = size; i-- > 0;) {
        td_audit_entry e;
        check(td_audit_get(log, i, &e, &err), &err);
        int hit = strcmp(e.action, action) == 0 && strcmp(e.actor, actor) == 0 &&
                  strcmp(e.object, object) == 0;
        json_t *d = hit ? json_loads(e.details, 0, NULL) : NULL;
        td_audit_entry_clear(&e);
        if (hit) {
            assert_non_null(d);
            if (seq)
                *seq = i;
            return d;
        }
    }
    return NULL;
}

/* Asserts the entry exists, that it names the actor's principal id, and returns its details. */
static json_t *expect_entry(fixture *f, const char *action, const td_principal *who,
                            const char *object)
{
    json_t *d = find_entry(f, action, who ? who->name : "system", object, NULL);
    if (!d)
        fail_msg("no audit entry %s by %s on %s", action, who ? who->name : "system", object);
    assert_int_equal(json_integer_value(json_object_get(d, "actor_id")), who ? who->id : 0);
    return d;
}

static void expect_entry_done(fixture *f, const char *action, const td_principal *who,
                              const char *object)
{
    json_decref(expect_entry(f, action, who, object));
}

/* Non-zero when text occurs in any entry of the log. */
static int log_contains(fixture *f, const char *text)
{
    td_audit *log = td_service_audit(f->svc);
    uint64_t size;
    td_error err;
    int found = 0;
    check(td_audit_size(log, &size, &err), &err);
    for (uint64_t i = 0; i < size && !found; i++) {
        char *canon;
        size_t len;
        check(td_audit_get_canonical(log, i, &canon, &len, &err), &err);
        found = strstr(canon, text) != NULL;
        td_free(canon);
    }
    return found;
}

static void principal_of(fixture *f, const char *key, td_principal *who)
{
    td_error err;
    check(td_key_verify(f->svc, key, who, &err), &err);
}

static const char *obj(const char *kind, int64_t id)
{
    static char buf[8][64];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, 64, "%s:%lld", kind, (long long)id);
    return b;
}

static void submit(fixture *f, const char *id, const char *md5)
{
    td_content_input in;
    td_hashes h;
    td_error err;
    memset(&in, 0, sizeof in);
    td_hashes_init(&h);
    snprintf(h.md5, sizeof h.md5, "%s", md5);
    in.content_id = id;
    in.url = "https://video.example/x";
    in.uploader = "user-42";
    in.hashes = &h;
    check(td_content_submit(f->svc, &in, NULL, &err), &err);
}

static int collect_item(void *ctx, int64_t item_id, const char *label, const char *related,
                        const uint8_t *content, size_t len)
{
    (void)label;
    (void)related;
    (void)content;
    (void)len;
    *(int64_t *)ctx = item_id;
    return 0;
}

/* What only the reported message holds: none of it may reach the log. */
#define E2EE_TEXT "an e2ee message whose text stays out of the log"
#define E2EE_SENDER "sender-out-of-log"
#define E2EE_CONV "conversation-out-of-log"
#define E2EE_REPORTER "reporter-out-of-log"

static void expect_e2ee_entries(fixture *f, td_reports *rep, const td_principal *admin,
                                const td_principal *mod)
{
    td_error err;
    td_frank_key *keys = NULL;
    size_t n_keys = 0;
    check(td_reports_keys(rep, &keys, &n_keys, &err), &err);
    assert_int_equal(n_keys, 1);
    char object[48];
    snprintf(object, sizeof object, "frank-key:%u", keys[0].id);
    json_t *d = find_entry(f, "frank.key_created", "system", object, NULL);
    assert_non_null(d);
    json_decref(d);
    td_free(keys);
    td_frank_key made;
    check(td_reports_rotate_key(rep, admin->name, &made, &err), &err);
    snprintf(object, sizeof object, "frank-key:%u", made.id);
    d = find_entry(f, "frank.key_rotated", admin->name, object, NULL);
    assert_non_null(d);
    json_decref(d);

    /* A message franked at delivery (nothing logged), then reported by two reporters. */
    uint8_t salt[TD_FRANK_SALT_LEN], *enc = NULL;
    size_t len = 0;
    randombytes_buf(salt, sizeof salt);
    check(td_frank_message_encode(E2EE_TEXT, strlen(E2EE_TEXT), NULL, 0, &enc, &len, &err), &err);
    td_frank_request req;
    td_frank_tag(salt, enc, len, req.tag);
    td_free(enc);
    req.ctx =
        (td_frank_context){E2EE_SENDER, strlen(E2EE_SENDER), E2EE_CONV, strlen(E2EE_CONV), T0};
    uint64_t before, after;
    check(td_audit_size(td_service_audit(f->svc), &before, &err), &err);
    td_report_message m;
    memset(&m, 0, sizeof m);
    check(td_reports_frank_batch(rep, &req, 1, &m.proof, &err), &err);
    check(td_audit_size(td_service_audit(f->svc), &after, &err), &err);
    assert_int_equal(after, before);
    m.text = E2EE_TEXT;
    m.text_len = strlen(E2EE_TEXT);
    memcpy(m.salt, salt, sizeof salt);
    m.ctx = req.ctx;
    td_report_input in = {E2EE_REPORTER, NULL, &m, 1, 0};
    td_report out;
    td_report_rejection rej;
    check(td_report_submit(rep, &in, &out, &rej, &err), &err);
    snprintf(object, sizeof object, "report:%lld", (long long)out.id);
    d = find_entry(f, "report.received", "system", object, NULL);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "content_id")), out.content_id);
    json_decref(d);
    in.reporter = E2EE_REPORTER "-2";
    check(td_report_submit(rep, &in, &out, &rej, &err), &err);
    assert_int_equal(out.reporters, 2);
    d = find_entry(f, "report.reporter_added", "system", object, NULL);
    assert_non_null(d);
    json_decref(d);
    /* A replay is no change: no entry. */
    check(td_audit_size(td_service_audit(f->svc), &before, &err), &err);
    check(td_report_submit(rep, &in, &out, &rej, &err), &err);
    check(td_audit_size(td_service_audit(f->svc), &after, &err), &err);
    assert_int_equal(after, before);
    /* The review copy, read by a moderator. */
    uint8_t *text = NULL;
    size_t text_len = 0;
    check(td_report_read(rep, out.id, -1, mod->name, &text, &text_len, &err), &err);
    assert_int_equal(text_len, strlen(E2EE_TEXT));
    td_free(text);
    d = find_entry(f, "report.read", mod->name, object, NULL);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "part")), "text");
    json_decref(d);
    static const char *const secret[] = {E2EE_TEXT, E2EE_SENDER, E2EE_CONV, E2EE_REPORTER};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        if (log_contains(f, secret[i]))
            fail_msg("the audit log holds '%s'", secret[i]);
}

/* A content with a case opened on request, its review copy kept; returns the case. */
static int64_t media_content(fixture *f, td_review_media *rm, const char *id, const uint8_t *bytes,
                             size_t len)
{
    td_content_input in;
    td_content out;
    td_error err;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    td_hashes h;
    td_hashes_init(&h);
    snprintf(h.md5, sizeof h.md5, "%s", "00000000000000000000000000000bbb");
    in.content_id = id;
    in.hashes = &h;
    in.open_case = 1;
    check(td_content_submit(f->svc, &in, &out, &err), &err);
    assert_true(out.has_case);
    int64_t case_id = out.kase.id;
    td_content_clear(&out);
    td_review_media_part part = {bytes, len};
    size_t kept = 0;
    check(td_review_media_keep(rm, id, &part, 1, &kept, &err), &err);
    assert_int_equal(kept, 1);
    return case_id;
}

#define MEDIA_BYTES "review copy bytes that stay out of the log"

static void expect_review_media_entries(fixture *f, td_evidence *ev, const td_principal *mod)
{
    td_review_media_options mo;
    td_review_media *rm;
    td_error err;
    td_review_media_options_default(&mo);
    mo.grace_ms = 0;
    mo.evidence = ev;
    check(td_review_media_open(f->svc, &mo, &rm, &err), &err);
    const uint8_t *bytes = (const uint8_t *)MEDIA_BYTES;
    size_t len = strlen(MEDIA_BYTES);
    int64_t kept_case = media_content(f, rm, "media-1", bytes, len);
    int64_t removed_case = media_content(f, rm, "media-2", bytes, len);
    json_t *d = find_entry(f, "content.media_kept", "system", "content:media-1", NULL);
    assert_non_null(d);
    json_decref(d);
    td_review_media_info info;
    uint8_t *data = NULL;
    size_t dlen = 0;
    check(td_review_media_read(rm, mod, "media-1", 0, &info, &data, &dlen, &err), &err);
    assert_int_equal(dlen, len);
    td_review_media_free(data, dlen);
    d = expect_entry(f, "content.media_read", mod, "content:media-1");
    assert_int_equal(json_integer_value(json_object_get(d, "bytes")), (json_int_t)len);
    json_decref(d);
    check(td_case_decide(f->svc, kept_case, mod, TD_DECISION_KEEP, "fine", NULL, &err), &err);
    check(td_case_decide(f->svc, removed_case, mod, TD_DECISION_REMOVE, "terror", NULL, &err),
          &err);
    check(td_review_media_tick(rm, &err), &err);
    d = find_entry(f, "content.media_deleted", "system", "content:media-1", NULL);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "outcome")), "keep");
    json_decref(d);
    d = find_entry(f, "content.media_preserved", "system", "content:media-2", NULL);
    assert_non_null(d);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 1);
    json_decref(d);
    assert_false(log_contains(f, MEDIA_BYTES));
    td_review_media_close(rm);
}

static void test_every_change_is_an_entry(void **state)
{
    fixture *f = *state;
    td_error err;
    char key[TD_KEY_TEXT_MAX], admin_key[TD_KEY_TEXT_MAX];
    td_key_info info;
    td_principal admin, mod;
    int created;

    /* One log: the orders (and through them the evidence store) use the service's. */
    assert_non_null(td_service_audit(f->svc));
    assert_ptr_equal(td_orders_audit(f->orders), td_service_audit(f->svc));

    /* Keys: the first admin key is the system's doing; later keys are the admin's. */
    check(td_key_ensure_admin(f->svc, admin_key, &created, &err), &err);
    assert_true(created);
    principal_of(f, admin_key, &admin);
    expect_entry_done(f, "key.create", NULL, obj("key", admin.id));
    check(td_key_create_as(f->svc, &admin, TD_ROLE_MODERATOR, "ana", 0, key, &info, &err), &err);
    principal_of(f, key, &mod);
    json_t *d = expect_entry(f, "key.create", &admin, obj("key", info.id));
    assert_string_equal(json_string_value(json_object_get(d, "role")), "moderator");
    assert_string_equal(json_string_value(json_object_get(d, "name")), "ana");
    json_decref(d);
    assert_false(log_contains(f, key + 4));
    assert_false(log_contains(f, admin_key + 4));
    char spare[TD_KEY_TEXT_MAX];
    check(td_key_create_as(f->svc, &admin, TD_ROLE_AUDITOR, "spare", 0, spare, &info, &err), &err);
    check(td_key_revoke_as(f->svc, &admin, info.id, &err), &err);
    expect_entry_done(f, "key.revoke", &admin, obj("key", info.id));
    assert_false(log_contains(f, spare + 4));
    /* A failed change leaves no entry. */
    assert_int_equal(td_key_revoke_as(f->svc, &admin, info.id, &err), TD_ERR_NOT_FOUND);

    /* Webhooks: the URL is recorded, the secret never. */
    td_webhook w;
    const char *secret = "s3cr3t-0123456789-abcdef";
    check(td_webhook_create_as(f->svc, &admin, "http://127.0.0.1:9/hook", secret, TD_EVENT_REMOVE,
                               0, &w, &err),
          &err);
    d = expect_entry(f, "webhook.create", &admin, obj("webhook", w.id));
    assert_string_equal(json_string_value(json_object_get(d, "url")), "http://127.0.0.1:9/hook");
    json_decref(d);
    check(td_webhook_delete_as(f->svc, &admin, w.id, &err), &err);
    expect_entry_done(f, "webhook.delete", &admin, obj("webhook", w.id));
    assert_false(log_contains(f, secret));

    /* Banks. */
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "AUDITED");
    b.action = TD_ACTION_REVIEW;
    check(td_bank_create_as(f->svc, &admin, &b, NULL, &err), &err);
    d = expect_entry(f, "bank.create", &admin, "bank:AUDITED");
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "bank"), "action")),
                        "review");
    json_decref(d);
    b.threshold = 12;
    check(td_bank_update_as(f->svc, &admin, "AUDITED", TD_BANK_SET_THRESHOLD, &b, NULL, &err),
          &err);
    d = expect_entry(f, "bank.update", &admin, "bank:AUDITED");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "before"), "threshold")),
                     31);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "after"), "threshold")),
                     12);
    json_decref(d);

    /* Signals: add, disable, enable, relabel, delete. */
    td_signal_input si;
    td_signal s;
    td_signal_input_init(&si);
    si.type = TD_SIGNAL_MD5;
    si.value = "0123456789abcdef0123456789abcdef";
    check(td_signal_add_as(f->svc, &mod, "AUDITED", &si, &s, &err), &err);
    d = expect_entry(f, "signal.add", &mod, obj("signal", s.id));
    assert_string_equal(json_string_value(json_object_get(d, "bank")), "AUDITED");
    assert_string_equal(json_string_value(json_object_get(d, "value")), si.value);
    json_decref(d);
    check(td_signal_set_enabled_as(f->svc, &mod, "AUDITED", s.id, 0, NULL, &err), &err);
    expect_entry_done(f, "signal.disable", &mod, obj("signal", s.id));
    check(td_signal_set_enabled_as(f->svc, &mod, "AUDITED", s.id, 1, NULL, &err), &err);
    expect_entry_done(f, "signal.enable", &mod, obj("signal", s.id));
    td_labels labels;
    check(td_labels_parse(&labels, "violence", 8, &err), &err);
    check(td_signal_set_labels_as(f->svc, &mod, "AUDITED", s.id, &labels, NULL, &err), &err);
    expect_entry_done(f, "signal.labels", &mod, obj("signal", s.id));
    check(td_signal_delete_as(f->svc, &mod, "AUDITED", s.id, &err), &err);
    expect_entry_done(f, "signal.delete", &mod, obj("signal", s.id));

    /* HMA bank content: added as one content (its signals'), changed, deleted; a signal
     * type's matching ratio. */
    td_signal_input parts[2];
    td_signal_input_init(&parts[0]);
    td_signal_input_init(&parts[1]);
    parts[0].type = TD_SIGNAL_MD5;
    parts[0].value = "00112233445566778899aabbccddeeff";
    parts[1].type = TD_SIGNAL_SHA256;
    parts[1].value = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    td_bank_content_input cin = {NULL, NULL, "audited note", 0};
    td_signal added[2];
    int64_t content_id = 0;
    check(td_bank_content_add_as(f->svc, &mod, "AUDITED", parts, 2, &cin, &content_id, added, &err),
          &err);
    d = expect_entry(f, "bank_content.add", &mod, obj("bank_content", content_id));
    assert_string_equal(json_string_value(json_object_get(d, "bank")), "AUDITED");
    assert_int_equal(json_array_size(json_object_get(d, "signals")), 2); /* their ids */
    json_decref(d);
    check(td_bank_content_update_as(f->svc, &mod, "AUDITED", content_id, TD_CONTENT_SET_NOTE, 0,
                                    "changed", NULL, &err),
          &err);
    d = expect_entry(f, "bank_content.update", &mod, obj("bank_content", content_id));
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "after"), "note")),
                        "changed");
    json_decref(d);
    int deleted = 0;
    check(td_bank_content_delete_as(f->svc, &mod, "AUDITED", content_id, &deleted, &err), &err);
    assert_int_equal(deleted, 1);
    d = expect_entry(f, "bank_content.delete", &mod, obj("bank_content", content_id));
    assert_int_equal(json_integer_value(json_object_get(d, "signals_deleted")), 2);
    json_decref(d);
    check(td_signal_type_ratio_set_as(f->svc, &admin, TD_SIGNAL_MD5, 0.5, &err), &err);
    d = expect_entry(f, "signal_type.update", &admin, "signal_type:video_md5");
    assert_true(json_real_value(json_object_get(d, "after")) == 0.5);
    json_decref(d);
    check(td_signal_type_ratio_set_as(f->svc, &admin, TD_SIGNAL_MD5, 1.0, &err), &err);
    expect_entry_done(f, "signal_type.update", &admin, "signal_type:video_md5");

    /* An import: one entry with its counts and the list's SHA-256. */
    static const char list[] = "md5 00000000000000000000000000000aaa\n"
                               "md5 00000000000000000000000000000bbb\n"
                               "md5 00000000000000000000000000000aaa\n"
                               "# a comment\n";
    td_import *imp;
    td_import_result res;
    uint64_t before, after;
    check(td_audit_size(td_service_audit(f->svc), &before, &err), &err);
    check(td_import_begin_as(f->svc, &admin, "AUDITED", NULL, &imp, &err), &err);
    check(td_import_feed(imp, list, 40, &err), &err);
    check(td_import_feed(imp, list + 40, sizeof list - 1 - 40, &err), &err);
    check(td_import_finish(imp, &res, &err), &err);
    td_import_result_clear(&res);
    check(td_audit_size(td_service_audit(f->svc), &after, &err), &err);
    assert_int_equal(after, before + 1);
    uint8_t md[32];
    char hex[65];
    crypto_hash_sha256(md, (const uint8_t *)list, sizeof list - 1);
    sodium_bin2hex(hex, sizeof hex, md, sizeof md);
    d = expect_entry(f, "bank.import", &admin, "bank:AUDITED");
    assert_int_equal(json_integer_value(json_object_get(d, "added")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "duplicates")), 1);
    assert_int_equal(json_integer_value(json_object_get(d, "lines")), 4);
    assert_string_equal(json_string_value(json_object_get(d, "sha256")), hex);
    json_decref(d);

    /* A case: claimed, released, claimed again and decided with a reason. */
    submit(f, "item-1", "00000000000000000000000000000aaa");
    td_content ct;
    check(td_content_get(f->svc, "item-1", &ct, &err), &err);
    assert_true(ct.has_case);
    int64_t case_id = ct.kase.id;
    td_content_clear(&ct);
    check(td_case_claim(f->svc, case_id, &mod, NULL, &err), &err);
    expect_entry_done(f, "case.claim", &mod, obj("case", case_id));
    check(td_case_release(f->svc, case_id, &admin, 1, NULL, &err), &err);
    d = expect_entry(f, "case.release", &admin, obj("case", case_id));
    assert_true(json_is_true(json_object_get(d, "forced")));
    json_decref(d);
    check(td_case_claim(f->svc, case_id, &mod, NULL, &err), &err);
    check(td_case_decide(f->svc, case_id, &mod, TD_DECISION_REMOVE, "Glorification of an attack",
                         NULL, &err),
          &err);
    d = expect_entry(f, "case.decide", &mod, obj("case", case_id));
    assert_string_equal(json_string_value(json_object_get(d, "decision")), "remove");
    assert_string_equal(json_string_value(json_object_get(d, "reason")),
                        "Glorification of an attack");
    assert_string_equal(json_string_value(json_object_get(d, "content_id")), "item-1");
    json_decref(d);
    /* QA: the decision opened a review (the service's entry); a second reviewer disagrees. */
    td_qa *qas = NULL;
    size_t nqa = 0;
    int64_t qa_id = 0;
    int same = 0;
    check(td_qa_list(f->svc, 0, 0, 0, &qas, &nqa, &err), &err);
    for (size_t i = 0; i < nqa; i++)
        if (qas[i].case_id == case_id)
            qa_id = qas[i].id;
    td_free(qas);
    assert_true(qa_id > 0);
    d = expect_entry(f, "qa.open", NULL, obj("qa", qa_id));
    assert_int_equal(json_integer_value(json_object_get(d, "case_id")), case_id);
    assert_string_equal(json_string_value(json_object_get(d, "first_by")), mod.name);
    json_decref(d);
    check(td_qa_decide(f->svc, qa_id, &admin, TD_DECISION_KEEP, "not_terrorist_content", "Satire",
                       &same, NULL, &err),
          &err);
    d = expect_entry(f, "qa.decide", &admin, obj("qa", qa_id));
    assert_string_equal(json_string_value(json_object_get(d, "state")), "disagreed");
    assert_string_equal(json_string_value(json_object_get(d, "reason_code")),
                        "not_terrorist_content");
    json_decref(d);

    /* Settings: the notice templates. */
    td_template_rejection why;
    check(td_notice_template_set(f->orders, admin.name, "en", "Removed: {{reason}}", NULL, &why,
                                 &err),
          &err);
    d = find_entry(f, "notice.template_set", admin.name, "notice-template:en", NULL);
    assert_non_null(d);
    json_decref(d);

    /* Sealed evidence: the release is on the log, naming the items it decrypts, before any
     * plaintext exists. */
    td_evidence *ev = td_orders_evidence(f->orders);
    const char *names[] = {"legal", "privacy", "auditor"};
    td_share shares[3];
    char share_text[3][TD_SHARE_TEXT_LEN + 1];
    check(td_evidence_init_master(ev, admin.name, 2, 3, names, shares, &err), &err);
    for (int i = 0; i < 3; i++)
        td_share_format(&shares[i], share_text[i]);
    sodium_memzero(shares, sizeof shares);
    int64_t item;
    check(td_evidence_seal(ev, admin.name, "case-77", "upload", (const uint8_t *)"bytes", 5, NULL,
                           T0, &item, &err),
          &err);
    int64_t req;
    check(td_evidence_request(ev, "prosecutor", "order 12/2024", "trial", "case-77", NULL, 0, &req,
                              &err),
          &err);
    check(td_evidence_approve(ev, req, "legal", share_text[0], NULL, NULL, &err), &err);
    check(td_evidence_approve(ev, req, "privacy", share_text[1], NULL, NULL, &err), &err);
    int64_t released = 0;
    check(td_evidence_release(ev, req, "legal", collect_item, &released, &err), &err);
    assert_int_equal(released, item);
    d = find_entry(f, "evidence.release", "legal", "case-77", NULL);
    assert_non_null(d);
    json_t *ids = json_object_get(d, "item_ids");
    assert_int_equal(json_array_size(ids), 1);
    assert_int_equal(json_integer_value(json_array_get(ids, 0)), item);
    json_decref(d);

    /* E2EE reports (reports.h): the first franking key is the system's, a rotation the
     * admin's; a report received and a reporter added are entries of the system (the reporter
     * is no principal), each read of the review copy names its reader. None of them holds the
     * message, the accounts or the conversation. */
    td_reports_options ro;
    td_reports *rep;
    td_reports_options_default(&ro);
    check(td_reports_open(f->svc, &ro, &rep, &err), &err);
    expect_e2ee_entries(f, rep, &admin, &mod);
    td_reports_close(rep);

    /* Review copies of media (review_media.h): kept and deleted or preserved by the system,
     * each read naming its reader; no bytes in the log. */
    expect_review_media_entries(f, ev, &mod);

    /* Deleting the bank takes its signals with it: one entry. */
    check(td_bank_delete_as(f->svc, &admin, "AUDITED", &err), &err);
    d = expect_entry(f, "bank.delete", &admin, "bank:AUDITED");
    assert_int_equal(json_integer_value(json_object_get(d, "signals_deleted")), 2);
    json_decref(d);

    /* The calls without a principal are the system's. */
    snprintf(b.name, sizeof b.name, "BY_SYSTEM");
    check(td_bank_create(f->svc, &b, NULL, &err), &err);
    expect_entry_done(f, "bank.create", NULL, "bank:BY_SYSTEM");

    /* The auditor's check, on the data directory. */
    uint64_t size;
    check(td_audit_size(td_service_audit(f->svc), &size, &err), &err);
    close_all(f);
    char cmd[4400], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' audit verify --data '%s' 2>/dev/null", TD_CLI_PATH, f->dir);
    if (!td_test_store_url(f->dir)) {
        assert_int_equal(run_capture(cmd, out, sizeof out), 0);
        json_t *j = json_loads(out, 0, NULL);
        assert_non_null(j);
        assert_true(json_is_true(json_object_get(j, "ok")));
        assert_int_equal(json_integer_value(json_object_get(j, "entries")), (json_int_t)size);
        json_decref(j);
    }
    open_all(f);
}

/* ---- the transparency report from an export ---- */

typedef struct order_opts {
    const char *type, *authority, *reference, *content;
    int cross_border, emergency;
} order_opts;

static void receive(fixture *f, td_order_kind kind, const order_opts *o, const uint8_t *sk,
                    td_order_receipt *r)
{
    char body[4096], header[160], b64[128];
    uint8_t sig[crypto_sign_BYTES];
    td_order_rejection why;
    td_error err;
    int n = snprintf(body, sizeof body,
                     "{\"type\":\"%s\",\"issuing_member_state\":\"DE\","
                     "\"addressee\":\"Example Platform Ltd\",\"reference\":\"%s\","
                     "\"issued_at\":\"2024-06-01T09:59:00Z\",\"content\":%s,"
                     "\"reason\":{\"category\":\"a\",\"statement\":\"Incitement to commit a"
                     " terrorist offence\"},\"do_not_inform\":false,\"cross_border\":%s,"
                     "\"emergency\":%s,\"issuing_authority\":{\"name\":\"%s\","
                     "\"contact\":\"ops@bka.example\"},\"follow_up_contact\":\"desk@example\","
                     "\"redress\":\"Verwaltungsgericht Wiesbaden\"}",
                     o->type ? o->type : "removal_order", o->reference, o->content,
                     o->cross_border ? "true" : "false", o->emergency ? "true" : "false",
                     o->authority ? o->authority : "BKA");
    assert_true(n > 0 && (size_t)n < sizeof body);
    crypto_sign_detached(sig, NULL, (const uint8_t *)body, (size_t)n, sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    snprintf(header, sizeof header, "ed25519=%s", b64);
    check(td_order_receive(f->orders, kind, (const uint8_t *)body, (size_t)n, header, 0, r, &why,
                           &err),
          &err);
}

/* An export's entries (details parsed into "d") and leaf hashes. */
typedef struct exported {
    json_t *entries;                    /* array of entry objects, details parsed */
    uint8_t (*leaf)[TD_AUDIT_HASH_LEN]; /* every entry's leaf hash, by seq */
    size_t n;
} exported;

static void load_export(const char *path, exported *x)
{
    size_t len;
    char *text = (char *)read_all(path, &len);
    assert_non_null(text);
    text[len] = '\0'; /* read_all leaves room for it */
    x->entries = json_array();
    x->n = 0;
    size_t cap = 64;
    x->leaf = malloc(cap * sizeof *x->leaf);
    assert_non_null(x->leaf);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        if (strcmp(json_string_value(json_object_get(j, "type")), "entry") != 0) {
            json_decref(j);
            continue;
        }
        assert_int_equal(json_integer_value(json_object_get(j, "seq")), (json_int_t)x->n);
        if (x->n == cap) {
            cap *= 2;
            x->leaf = realloc(x->leaf, cap * sizeof *x->leaf);
            assert_non_null(x->leaf);
        }
        const char *lh = json_string_value(json_object_get(j, "leaf_hash"));
        assert_int_equal(
            sodium_hex2bin(x->leaf[x->n], TD_AUDIT_HASH_LEN, lh, strlen(lh), NULL, NULL, NULL), 0);
        x->n++;
        json_t *d = json_loads(json_string_value(json_object_get(j, "details")), 0, NULL);
        json_object_set_new(j, "d", d ? d : json_object());
        json_array_append_new(x->entries, j);
    }
    free(text);
}

static int write_line(void *ctx, const char *line, size_t len)
{
    return fwrite(line, 1, len, ctx) != len || fputc('\n', ctx) == EOF;
}

/* RFC 9162 §2.1.1: the root of leaves [lo, hi). */
static void mth(const exported *x, size_t lo, size_t hi, uint8_t out[TD_AUDIT_HASH_LEN])
{
    if (hi - lo == 1) {
        memcpy(out, x->leaf[lo], TD_AUDIT_HASH_LEN);
        return;
    }
    size_t k = 1;
    while (k * 2 < hi - lo)
        k *= 2;
    uint8_t l[TD_AUDIT_HASH_LEN], r[TD_AUDIT_HASH_LEN];
    mth(x, lo, lo + k, l);
    mth(x, lo + k, hi, r);
    td_audit_node_hash(l, r, out);
}

static const char *s_of(json_t *e, const char *k)
{
    return json_string_value(json_object_get(e, k));
}
static json_int_t i_of(json_t *e, const char *k)
{
    return json_integer_value(json_object_get(e, k));
}
static json_int_t di(json_t *e, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(e, "d"), k));
}
static int db(json_t *e, const char *k)
{
    return json_is_true(json_object_get(json_object_get(e, "d"), k));
}
static const char *ds(json_t *e, const char *k)
{
    const char *v = json_string_value(json_object_get(json_object_get(e, "d"), k));
    return v ? v : "";
}

static json_int_t at(json_t *root, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(root, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void test_report_from_export(void **state)
{
    fixture *f = *state;
    td_error err;
    td_order_receipt r;
    td_complaint c;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t ru_pk[crypto_sign_PUBLICKEYBYTES], ru_sk[crypto_sign_SECRETKEYBYTES];
    char hexpk[2 * crypto_sign_PUBLICKEYBYTES + 1], b64[64];
    td_authority a;

    crypto_sign_keypair(pk, sk);
    sodium_bin2hex(hexpk, sizeof hexpk, pk, sizeof pk);
    td_authority_input in = {TD_AUTHORITY_COMPETENT, "BKA", "DE", "ops@bka.example", hexpk, 0};
    check(td_authority_register(f->orders, "admin", &in, &a, &err), &err);
    crypto_sign_keypair(ru_pk, ru_sk);
    sodium_bin2base64(b64, sizeof b64, ru_pk, sizeof ru_pk, sodium_base64_VARIANT_ORIGINAL);
    td_authority_input ru = {TD_AUTHORITY_REFERRAL_UNIT, "EU IRU", "EU",
                             "iru@europol.example",      b64,      0};
    check(td_authority_register(f->orders, "admin", &ru, &a, &err), &err);
    fake_clock_set(T0);

    /* A review bank, a case decided remove by a moderator. */
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "REVIEW");
    check(td_bank_create(f->svc, &b, NULL, &err), &err);
    td_signal_input si;
    td_signal_input_init(&si);
    si.type = TD_SIGNAL_MD5;
    si.value = "5eed5eed5eed5eed5eed5eed5eed5eed";
    check(td_signal_add(f->svc, "REVIEW", &si, NULL, &err), &err);
    submit(f, "rev", "5eed5eed5eed5eed5eed5eed5eed5eed");
    td_content ct;
    check(td_content_get(f->svc, "rev", &ct, &err), &err);
    assert_true(ct.has_case);
    int64_t case_id = ct.kase.id;
    td_content_clear(&ct);
    td_principal mod = {.id = 5, .role = TD_ROLE_MODERATOR, .name = "mod"};
    check(td_case_decide(f->svc, case_id, &mod, TD_DECISION_REMOVE, "Glorification", NULL, &err),
          &err);
    submit(f, "a1", "000000000000000000000000000000a1");
    submit(f, "b1", "000000000000000000000000000000b1");
    submit(f, "r1", "000000000000000000000000000000c1");
    submit(f, "r2", "000000000000000000000000000000c2");

    /* A: removed in 2 minutes. B: cross-border and emergency, removed after its deadline. */
    order_opts o = {NULL, NULL, "A", "[{\"content_id\":\"a1\"}]", 0, 0};
    receive(f, TD_ORDER_REMOVAL, &o, sk, &r);
    int64_t order_a = r.id;
    check(td_order_confirm(f->orders, order_a, T0 + 2 * MIN, "removed", "platform", &err), &err);
    o = (order_opts){NULL, NULL, "B", "[{\"content_id\":\"b1\"}]", 1, 1};
    receive(f, TD_ORDER_REMOVAL, &o, sk, &r);
    int64_t order_b = r.id;
    fake_clock_set(T0 + 70 * MIN);
    check(td_order_confirm(f->orders, order_b, T0 + 65 * MIN, "removed", "platform", &err), &err);
    /* Referrals: one removed, one kept. */
    o = (order_opts){"referral", "EU IRU", "R1", "[{\"content_id\":\"r1\"}]", 0, 0};
    receive(f, TD_ORDER_REFERRAL, &o, ru_sk, &r);
    check(td_referral_decide(f->orders, r.id, 1, "terms 4.2", "mod", &err), &err);
    o = (order_opts){"referral", "EU IRU", "R2", "[{\"content_id\":\"r2\"}]", 0, 0};
    receive(f, TD_ORDER_REFERRAL, &o, ru_sk, &r);
    check(td_referral_decide(f->orders, r.id, 0, "within our terms", "mod", &err), &err);
    /* Complaints: against A's removal (upheld), against the review removal (rejected late), one
     * still open. */
    check(td_complaint_file(f->orders, "a1", "satire", "user", &c, &err), &err);
    check(td_complaint_decide(f->orders, c.id, 1, "satire", "mod", &c, &err), &err);
    check(td_complaint_file(f->orders, "rev", "mine", "user", &c, &err), &err);
    fake_clock_set(T0 + 20 * DAY);
    check(td_complaint_decide(f->orders, c.id, 0, "matches known content", "mod", &c, &err), &err);
    check(td_complaint_file(f->orders, "b1", "why", "user", &c, &err), &err);
    /* After the period. */
    fake_clock_set(T0 + 31 * DAY);
    o = (order_opts){NULL, NULL, "LATE", "[{\"content_id\":\"none\"}]", 0, 0};
    receive(f, TD_ORDER_REMOVAL, &o, sk, &r);

    const int64_t from = T0, to = T0 + 30 * DAY;
    char *text;
    check(td_report_transparency(f->orders, from, to, &text, &err), &err);
    json_t *rep = json_loads(text, 0, NULL);
    assert_non_null(rep);
    td_free(text);

    /* The export, by the auditor's tool from the data directory (on PostgreSQL, where the CLI
     * would not find DATA_DIR/takedown.db, by the library). */
    char file[4200], cmd[8600], out[256];
    snprintf(file, sizeof file, "%s/export.jsonl", f->dir);
    if (td_test_store_url(f->dir)) {
        FILE *fp = fopen(file, "w");
        assert_non_null(fp);
        check(td_audit_export(td_service_audit(f->svc), write_line, fp, NULL, NULL, &err), &err);
        assert_int_equal(fclose(fp), 0);
    } else {
        close_all(f);
        snprintf(cmd, sizeof cmd, "'%s' audit export --data '%s' -o '%s' 2>/dev/null", TD_CLI_PATH,
                 f->dir, file);
        assert_int_equal(run_capture(cmd, out, sizeof out), 0);
        open_all(f);
    }
    exported x;
    load_export(file, &x);

    /* Recomputed from the entries alone. */
    json_int_t received = 0, emergency = 0, cross = 0, early = 0, in_time = 0, late = 0;
    json_int_t breaches = 0, sum = 0, max = 0, confirmed = 0, decisions = 0;
    json_int_t ref_received = 0, ref_removed = 0, ref_kept = 0;
    json_int_t c_received = 0, c_upheld = 0, c_rejected = 0, c_late = 0, c_orders = 0;
    json_int_t reinstated = 0, c_open = 0;
    size_t i;
    json_t *e;
    json_array_foreach(x.entries, i, e)
    {
        const char *act = s_of(e, "action");
        json_int_t t = i_of(e, "time_ms");
        int in_period = t >= from && t < to;
        if (strcmp(act, "order.received") == 0 && di(e, "received_ms") >= from &&
            di(e, "received_ms") < to) {
            received++;
            emergency += db(e, "emergency");
            cross += db(e, "cross_border");
            early += db(e, "first_contact_early");
        } else if (strcmp(act, "referral.received") == 0 && di(e, "received_ms") >= from &&
                   di(e, "received_ms") < to) {
            ref_received++;
        } else if (strcmp(act, "order.confirmed") == 0 && di(e, "measure_ms") >= from &&
                   di(e, "measure_ms") < to) {
            int was_late = di(e, "measure_ms") > di(e, "deadline_ms");
            late += was_late;
            in_time += !was_late;
            json_int_t d = di(e, "receipt_to_measure_ms");
            sum += d;
            max = d > max ? d : max;
            confirmed++;
        } else if (strcmp(act, "order.breached") == 0 && di(e, "deadline_ms") >= from &&
                   di(e, "deadline_ms") < to) {
            breaches++;
        } else if (strcmp(act, "case.decide") == 0 && in_period &&
                   strcmp(ds(e, "decision"), "remove") == 0) {
            decisions++;
        } else if (strcmp(act, "referral.decided") == 0 && in_period) {
            ref_removed += strcmp(ds(e, "decision"), "remove") == 0;
            ref_kept += strcmp(ds(e, "decision"), "keep") == 0;
        } else if (strcmp(act, "complaint.received") == 0 && t < to) {
            if (in_period) {
                c_received++;
                c_orders += di(e, "order_id") != 0;
            }
            /* open at the end: no decision before the end */
            int decided = 0;
            size_t k;
            json_t *g;
            json_array_foreach(x.entries, k, g)
            {
                if (strcmp(s_of(g, "action"), "complaint.decided") == 0 &&
                    strcmp(s_of(g, "object"), s_of(e, "object")) == 0 && i_of(g, "time_ms") < to)
                    decided = 1;
            }
            c_open += !decided;
        } else if (strcmp(act, "complaint.decided") == 0 && in_period) {
            c_upheld += strcmp(ds(e, "outcome"), "upheld") == 0;
            c_rejected += strcmp(ds(e, "outcome"), "rejected") == 0;
            c_late += !db(e, "within_deadline");
        } else if (strcmp(act, "content.reinstated") == 0 && in_period) {
            reinstated++;
        }
    }
    assert_int_equal(received, 2);
    assert_int_equal(at(rep, "orders", "received", NULL), received);
    assert_int_equal(at(rep, "orders", "emergency", NULL), emergency);
    assert_int_equal(at(rep, "orders", "cross_border", NULL), cross);
    assert_int_equal(at(rep, "orders", "first_contact_early", NULL), early);
    assert_int_equal(at(rep, "orders", "executed_within_deadline", NULL), in_time);
    assert_int_equal(at(rep, "orders", "executed_late", NULL), late);
    assert_int_equal(late, 1);
    assert_int_equal(at(rep, "orders", "breaches", NULL), breaches);
    assert_int_equal(at(rep, "orders", "receipt_to_measure_ms", "max"), max);
    assert_int_equal(at(rep, "orders", "receipt_to_measure_ms", "average"),
                     confirmed ? sum / confirmed : 0);
    assert_int_equal(at(rep, "items_removed", "after_own_measures", "review_decisions"), decisions);
    assert_int_equal(decisions, 1);
    assert_int_equal(at(rep, "items_removed", "after_own_measures", "referrals"), ref_removed);
    assert_int_equal(at(rep, "referrals", "received", NULL), ref_received);
    assert_int_equal(at(rep, "referrals", "removed", NULL), ref_removed);
    assert_int_equal(at(rep, "referrals", "kept", NULL), ref_kept);
    assert_int_equal(at(rep, "complaints", "received", NULL), c_received);
    assert_int_equal(c_received, 3);
    assert_int_equal(at(rep, "complaints", "upheld", NULL), c_upheld);
    assert_int_equal(at(rep, "complaints", "rejected", NULL), c_rejected);
    assert_int_equal(at(rep, "complaints", "answered_late", NULL), c_late);
    assert_int_equal(at(rep, "complaints", "against_orders", NULL), c_orders);
    assert_int_equal(at(rep, "complaints", "open_at_end", NULL), c_open);
    assert_int_equal(at(rep, "reinstatements", "after_complaints", NULL), reinstated);

    /* The log position the report quotes is a prefix of the export: same root. */
    json_int_t size = at(rep, "audit_log", "size", NULL);
    assert_true(size > 0 && (size_t)size <= x.n);
    uint8_t root[TD_AUDIT_HASH_LEN];
    char root_hex[2 * TD_AUDIT_HASH_LEN + 1];
    mth(&x, 0, (size_t)size, root);
    sodium_bin2hex(root_hex, sizeof root_hex, root, sizeof root);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rep, "audit_log"), "root")), root_hex);
    json_decref(rep);
    json_decref(x.entries);
    free(x.leaf);
}

/* Over HTTP the entries name the key that called, not "system". */
static void test_http_actor(void **state)
{
    (void)state;
    char dir[4096];
    api_server srv;
    assert_int_equal(api_group_init(dir, sizeof dir, "audit-coverage-http"), 0);
    api_server_start(&srv, dir, NULL);
    assert_true(strncmp(srv.admin, "tdk_", 4) == 0);
    json_t *j = api_call(&srv, 201, "POST", "/v1/keys", srv.admin,
                         "{\"role\": \"moderator\", \"name\": \"http-mod\"}");
    char mod_key[128];
    snprintf(mod_key, sizeof mod_key, "%s", json_string_value(json_object_get(j, "key")));
    json_int_t mod_id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    json_decref(api_call(&srv, 201, "POST", "/v1/banks", mod_key, "{\"name\": \"HTTP_BANK\"}"));
    j = api_call(&srv, 201, "POST", "/v1/banks/HTTP_BANK/signals", mod_key,
                 "{\"type\": \"md5\", \"value\": \"0123456789abcdef0123456789abcdef\"}");
    json_int_t sid = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    /* E2EE: the admin rotates the franking key; a message franked and reported through a
     * platform key; the moderator reads its review copy. */
    j = api_call(&srv, 201, "POST", "/v1/frank/keys/rotate", srv.admin, NULL);
    json_int_t frank_key = json_integer_value(json_object_get(j, "key_id"));
    json_decref(j);
    j = api_call(&srv, 201, "POST", "/v1/keys", srv.admin,
                 "{\"role\": \"platform\", \"name\": \"http-messaging\"}");
    char plat_key[128], body[1024], path[96];
    snprintf(plat_key, sizeof plat_key, "%s", json_string_value(json_object_get(j, "key")));
    json_decref(j);
    uint8_t salt[TD_FRANK_SALT_LEN], tag[TD_FRANK_TAG_LEN], *enc = NULL;
    size_t len = 0;
    char salt_hex[33], tag_hex[65];
    td_error err;
    randombytes_buf(salt, sizeof salt);
    check(td_frank_message_encode("reported over http", 18, NULL, 0, &enc, &len, &err), &err);
    td_frank_tag(salt, enc, len, tag);
    td_free(enc);
    sodium_bin2hex(salt_hex, sizeof salt_hex, salt, sizeof salt);
    sodium_bin2hex(tag_hex, sizeof tag_hex, tag, sizeof tag);
    snprintf(body, sizeof body,
             "{\"franking_tag\": \"%s\", \"sender\": \"s\", \"conversation\": \"c\", "
             "\"accepted_ms\": 1717200000000}",
             tag_hex);
    j = api_call(&srv, 200, "POST", "/v1/frank", plat_key, body);
    snprintf(body, sizeof body,
             "{\"reporter\": \"r\", \"messages\": [{\"text\": \"reported over http\", "
             "\"salt\": \"%s\", \"sender\": \"s\", \"conversation\": \"c\", \"accepted_ms\": "
             "1717200000000, \"key_id\": %lld, \"frank\": \"%s\", \"signature\": \"%s\"}]}",
             salt_hex, (long long)json_integer_value(json_object_get(j, "key_id")),
             json_string_value(json_object_get(j, "frank")),
             json_string_value(json_object_get(j, "signature")));
    json_decref(j);
    j = api_call(&srv, 201, "POST", "/v1/reports", plat_key, body);
    json_int_t report_id = json_integer_value(
        json_object_get(json_array_get(json_object_get(j, "reports"), 0), "report_id"));
    json_decref(j);
    api_resp rr;
    snprintf(path, sizeof path, "/v1/reports/%lld/text", (long long)report_id);
    assert_int_equal(api_http(&srv, "GET", path, mod_key, NULL, &rr), 200);
    api_resp_free(&rr);
    api_server_stop(&srv);

    fixture f;
    memset(&f, 0, sizeof f);
    snprintf(f.dir, sizeof f.dir, "%s", dir);
    open_on(&f, 1);
    td_principal mod = {.id = mod_id, .role = TD_ROLE_MODERATOR, .name = "http-mod"};
    td_principal admin;
    check(td_key_verify(f.svc, srv.admin, &admin, &err), &err);
    json_t *d = expect_entry(&f, "key.create", &admin, obj("key", mod_id));
    assert_string_equal(json_string_value(json_object_get(d, "actor_role")), "admin");
    json_decref(d);
    expect_entry_done(&f, "bank.create", &mod, "bank:HTTP_BANK");
    expect_entry_done(&f, "signal.add", &mod, obj("signal", sid));
    char object[48];
    snprintf(object, sizeof object, "frank-key:%lld", (long long)frank_key);
    d = find_entry(&f, "frank.key_rotated", admin.name, object, NULL);
    assert_non_null(d);
    json_decref(d);
    d = find_entry(&f, "report.read", "http-mod", obj("report", report_id), NULL);
    assert_non_null(d);
    json_decref(d);
    assert_false(log_contains(&f, mod_key + 4));
    close_all(&f);
}

int main(void)
{
    /* A clock that moves only when told: an entry's time is then the time its record holds. */
    fake_clock_set(T0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_change_is_an_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_from_export, setup, teardown),
        cmocka_unit_test(test_http_actor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
