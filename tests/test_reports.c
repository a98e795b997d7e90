/* Verified reports from end-to-end encrypted messaging on a real store (SQLite, or PostgreSQL as
 * test_reports_pg) in a temporary directory with an injected clock.
 *
 * The sending client is written here from the contract alone, with OpenSSL: the attachments
 * (AES-256-GCM under a fresh key, nonce || ciphertext || tag), their key commitments
 * (SHA-256("takedown-attachment-key-v1" || key)), the franked envelope ("tdfm1", lengths, text,
 * references) and the tag (HMAC-SHA256 keyed by the salt); the frank comes from the service at
 * delivery (td_reports_frank_batch) and is checked here against the published public key with the
 * signed bytes rebuilt by hand. The expected matches come from the inputs: the text bank holds
 * the message's own text, the URL bank a link the text contains, the PDQ bank the reference
 * hash of the original bridge picture (../shared/conformance) while the attachment is the picture
 * rotated by 90 degrees. Refusals store nothing: every table and the audit log are counted before
 * and after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "casework/service_int.h"
#include "support/fake_clock.h"
#include "support/salamander.h"
#include "support/store_url.h"
#include "support/support.h"
#include "takedown/evidence_package.h"
#include "takedown/reports.h"

#define MIN ((int64_t)60000)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define T0 ((int64_t)1796169600000) /* 2026-12-02T00:00:00Z */

#define DIH "threatexchange/pdq/data/reg-test-input/dih/"
/* The reference PDQ of bridge-1-original.jpg (threatexchange/expected/cpp_fullres_pdq.csv). */
#define BRIDGE_PDQ "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"

static void check(td_status st, const td_error *err)
{
    if (st)
        fail_msg("%s: %s", td_strerror(st), err->message);
}

/* ---- the sending client, by hand ---- */

typedef struct client_att {
    uint8_t key[32];
    uint8_t *blob;
    size_t blob_len;
    uint8_t *plain;
    size_t plain_len;
} client_att;

typedef struct client_msg {
    char text[2048];
    size_t text_len;
    char sender[300], conversation[300];
    int64_t accepted_ms;
    uint8_t salt[16];
    client_att atts[4];
    size_t n_atts;
    uint8_t tag[32];
    td_frank_proof proof;
    td_report_attachment in_atts[4];
} client_msg;

static void sha256(const void *a, size_t an, const void *b, size_t bn, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    assert_non_null(c);
    assert_int_equal(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(c, a, an), 1);
    if (bn)
        assert_int_equal(EVP_DigestUpdate(c, b, bn), 1);
    assert_int_equal(EVP_DigestFinal_ex(c, out, &n), 1);
    EVP_MD_CTX_free(c);
}

static void hand_commit(const uint8_t key[32], uint8_t out[32])
{
    static const char domain[] = "takedown-attachment-key-v1";
    sha256(domain, sizeof domain - 1, key, 32, out);
}

/* nonce || AES-256-GCM(key, nonce, plain) || tag, no associated data. */
static void hand_seal(const uint8_t key[32], const uint8_t *plain, size_t len, uint8_t **blob,
                      size_t *blob_len)
{
    uint8_t *b = malloc(12 + len + 16);
    int n = 0, fin = 0;
    assert_non_null(b);
    randombytes_buf(b, 12);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_non_null(c);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, b), 1);
    if (len)
        assert_int_equal(EVP_EncryptUpdate(c, b + 12, &n, plain, (int)len), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, b + 12 + n, &fin), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, b + 12 + len), 1);
    EVP_CIPHER_CTX_free(c);
    *blob = b;
    *blob_len = 12 + len + 16;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* "tdfm1" || u32be(text_len) || text || u32be(n) || n x (SHA-256(blob) || commitment), from
 * the text, blobs and keys given (refs may override the blobs' own, for the record check). */
static uint8_t *hand_envelope(const char *text, size_t text_len, const uint8_t (*refs)[64],
                              size_t n, size_t *len)
{
    uint8_t *e = malloc(5 + 4 + text_len + 4 + 64 * n);
    assert_non_null(e);
    memcpy(e, "tdfm1", 5);
    put32(e + 5, (uint32_t)text_len);
    memcpy(e + 9, text, text_len);
    put32(e + 9 + text_len, (uint32_t)n);
    if (n)
        memcpy(e + 13 + text_len, refs, 64 * n);
    *len = 13 + text_len + 64 * n;
    return e;
}

static void msg_refs(const client_msg *m, uint8_t (*refs)[64])
{
    for (size_t j = 0; j < m->n_atts; j++) {
        sha256(m->atts[j].blob, m->atts[j].blob_len, NULL, 0, refs[j]);
        hand_commit(m->atts[j].key, refs[j] + 32);
    }
}

static void hand_tag(const uint8_t salt[16], const uint8_t *env, size_t len, uint8_t tag[32])
{
    unsigned int n = 0;
    assert_non_null(HMAC(EVP_sha256(), salt, 16, env, len, tag, &n));
    assert_int_equal(n, 32);
}

/* u32be(sender) || sender || u32be(conversation) || conversation || u64be(time). */
static size_t hand_context(const client_msg *m, uint8_t *out)
{
    size_t sl = strlen(m->sender), cl = strlen(m->conversation), o = 0;
    put32(out, (uint32_t)sl);
    memcpy(out + 4, m->sender, sl);
    o = 4 + sl;
    put32(out + o, (uint32_t)cl);
    memcpy(out + o + 4, m->conversation, cl);
    o += 4 + cl;
    for (int i = 0; i < 8; i++)
        out[o + (size_t)i] = (uint8_t)((uint64_t)m->accepted_ms >> (56 - 8 * i));
    return o + 8;
}

/* The service's signature checked with its public key over bytes rebuilt here. */
static int hand_signature_ok(const client_msg *m, const uint8_t tag[32], const uint8_t pub[32])
{
    uint8_t buf[17 + 4 + 32 + 32 + 600];
    size_t o = 0;
    memcpy(buf, "takedown-frank-v1", 17);
    o = 17;
    put32(buf + o, m->proof.key_id);
    o += 4;
    memcpy(buf + o, m->proof.frank, 32);
    o += 32;
    memcpy(buf + o, tag, 32);
    o += 32;
    o += hand_context(m, buf + o);
    return crypto_sign_verify_detached(m->proof.signature, buf, o, pub) == 0;
}

static void msg_init(client_msg *m, const char *text, const char *sender, const char *conv,
                     int64_t t)
{
    memset(m, 0, sizeof *m);
    snprintf(m->text, sizeof m->text, "%s", text);
    m->text_len = strlen(m->text);
    snprintf(m->sender, sizeof m->sender, "%s", sender);
    snprintf(m->conversation, sizeof m->conversation, "%s", conv);
    m->accepted_ms = t;
    randombytes_buf(m->salt, sizeof m->salt);
}

static void msg_attach(client_msg *m, const uint8_t *plain, size_t len)
{
    client_att *a = &m->atts[m->n_atts++];
    randombytes_buf(a->key, sizeof a->key);
    a->plain = malloc(len ? len : 1);
    assert_non_null(a->plain);
    memcpy(a->plain, plain, len);
    a->plain_len = len;
    hand_seal(a->key, plain, len, &a->blob, &a->blob_len);
}

static void msg_free(client_msg *m)
{
    for (size_t j = 0; j < m->n_atts; j++) {
        free(m->atts[j].blob);
        free(m->atts[j].plain);
    }
    m->n_atts = 0;
}

static td_frank_context msg_ctx(const client_msg *m)
{
    td_frank_context c = {m->sender, strlen(m->sender), m->conversation, strlen(m->conversation),
                          m->accepted_ms};
    return c;
}

/* The client computes its tag; the service franks it at delivery. */
static void deliver(td_reports *rep, client_msg *m)
{
    uint8_t refs[4][64];
    size_t len;
    td_error err;
    msg_refs(m, refs);
    uint8_t *env = hand_envelope(m->text, m->text_len, (const uint8_t(*)[64])refs, m->n_atts, &len);
    hand_tag(m->salt, env, len, m->tag);
    free(env);
    td_frank_request req;
    memcpy(req.tag, m->tag, 32);
    req.ctx = msg_ctx(m);
    check(td_reports_frank_batch(rep, &req, 1, &m->proof, &err), &err);
}

static td_report_message as_input(client_msg *m)
{
    td_report_message r;
    memset(&r, 0, sizeof r);
    r.text = m->text;
    r.text_len = m->text_len;
    for (size_t j = 0; j < m->n_atts; j++) {
        m->in_atts[j].blob = m->atts[j].blob;
        m->in_atts[j].blob_len = m->atts[j].blob_len;
        memcpy(m->in_atts[j].key, m->atts[j].key, 32);
    }
    r.attachments = m->in_atts;
    r.n_attachments = m->n_atts;
    memcpy(r.salt, m->salt, 16);
    r.ctx = msg_ctx(m);
    r.proof = m->proof;
    return r;
}

/* ---- the fixture ---- */

typedef struct fixture {
    char dir[4096];
    td_service *svc;
    td_evidence *ev;
    td_reports *rep;
    td_reports_options ro;
    char shares[3][TD_SHARE_TEXT_LEN + 1];
    int64_t webhook;
    int64_t plat_a, plat_b; /* platform keys */
} fixture;

static void open_all(fixture *f)
{
    td_service_options so;
    td_evidence_options eo;
    td_error err;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.clock.now_ms = fake_clock;
    so.store_url = td_test_store_url(f->dir);
    check(td_service_open(f->dir, &so, &f->svc, &err), &err);
    td_evidence_options_default(&eo);
    eo.clock.now_ms = fake_clock;
    check(td_evidence_open(f->svc->store, td_service_audit(f->svc), f->dir, &eo, &f->ev, &err),
          &err);
    f->ro.evidence = f->ev;
    check(td_reports_open(f->svc, &f->ro, &f->rep, &err), &err);
}

static void close_all(fixture *f)
{
    td_reports_close(f->rep);
    td_evidence_close(f->ev);
    td_service_close(f->svc);
    f->rep = NULL;
    f->ev = NULL;
    f->svc = NULL;
}

static void init_master(fixture *f)
{
    const char *names[] = {"legal", "privacy", "auditor"};
    td_share shares[3];
    td_error err;
    check(td_evidence_init_master(f->ev, "admin", 2, 3, names, shares, &err), &err);
    for (int i = 0; i < 3; i++)
        td_share_format(&shares[i], f->shares[i]);
    sodium_memzero(shares, sizeof shares);
}

static int setup_common(void **state, int master)
{
    fixture *f = calloc(1, sizeof *f);
    td_error err;
    assert_non_null(f);
    assert_true(sodium_init() >= 0);
    fake_clock_set(T0);
    snprintf(f->dir, sizeof f->dir, "%s", temp_path("reports-XXXXXX"));
    assert_non_null(mkdtemp(f->dir));
    td_reports_options_default(&f->ro);
    open_all(f);
    if (master)
        init_master(f);
    td_webhook w;
    check(td_webhook_create(f->svc, "http://127.0.0.1:9/hook", "0123456789abcdef-reports",
                            TD_EVENT_ALL, &w, &err),
          &err);
    f->webhook = w.id;
    char key[TD_KEY_TEXT_MAX];
    td_key_info ka, kb;
    check(td_key_create(f->svc, TD_ROLE_PLATFORM, "messenger-a", key, &ka, &err), &err);
    check(td_key_create(f->svc, TD_ROLE_PLATFORM, "messenger-b", key, &kb, &err), &err);
    f->plat_a = ka.id;
    f->plat_b = kb.id;
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

/* ---- reading the store ---- */

static int64_t count(fixture *f, const char *sql)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    td_error err;
    check(td_store_acquire(f->svc->store, 0, &c, &err), &err);
    check(td_store_prepare(c, sql, &q, &err), &err);
    check(td_stmt_step(q, &row, &err), &err);
    assert_true(row);
    int64_t v = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    td_store_release(f->svc->store, c);
    return v;
}

typedef struct snapshot {
    int64_t reports, reporters, copies, registry, items, content, cases, deliveries;
    uint64_t audit;
} snapshot;

static snapshot snap(fixture *f)
{
    snapshot s;
    td_error err;
    s.reports = count(f, "SELECT COUNT(*) FROM reports");
    s.reporters = count(f, "SELECT COUNT(*) FROM report_reporters");
    s.copies = count(f, "SELECT COUNT(*) FROM report_copies");
    s.registry = count(f, "SELECT COUNT(*) FROM report_attachments");
    s.items = count(f, "SELECT COUNT(*) FROM report_items");
    s.content = count(f, "SELECT COUNT(*) FROM content");
    s.cases = count(f, "SELECT COUNT(*) FROM cases");
    s.deliveries = count(f, "SELECT COUNT(*) FROM deliveries");
    check(td_audit_size(td_service_audit(f->svc), &s.audit, &err), &err);
    return s;
}

static void assert_same(const snapshot *a, const snapshot *b)
{
    assert_int_equal(a->reports, b->reports);
    assert_int_equal(a->reporters, b->reporters);
    assert_int_equal(a->copies, b->copies);
    assert_int_equal(a->registry, b->registry);
    assert_int_equal(a->items, b->items);
    assert_int_equal(a->content, b->content);
    assert_int_equal(a->cases, b->cases);
    assert_int_equal(a->deliveries, b->deliveries);
    assert_int_equal(a->audit, b->audit);
}

/* Entries of the audit log with this action (and object, when given). */
static int audit_count(fixture *f, const char *action, const char *object)
{
    uint64_t size = 0;
    td_error err;
    int n = 0;
    td_audit *log = td_service_audit(f->svc);
    check(td_audit_size(log, &size, &err), &err);
    for (uint64_t i = 0; i < size; i++) {
        td_audit_entry e;
        check(td_audit_get(log, i, &e, &err), &err);
        if (strcmp(e.action, action) == 0 && (!object || strcmp(e.object, object) == 0))
            n++;
        td_audit_entry_clear(&e);
    }
    return n;
}

static int deliveries_of(fixture *f, const char *event)
{
    td_delivery *d = NULL;
    size_t n = 0;
    int k = 0;
    td_error err;
    check(td_delivery_list(f->svc, f->webhook, 1000, &d, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        k += strcmp(d[i].event, event) == 0;
    td_free(d);
    return k;
}

static void make_bank(fixture *f, const char *name, td_action action, const char *labels)
{
    td_bank b;
    td_error err;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "%s", name);
    b.action = action;
    if (labels)
        check(td_labels_parse(&b.labels, labels, strlen(labels), &err), &err);
    check(td_bank_create(f->svc, &b, NULL, &err), &err);
}

static int64_t add_signal(fixture *f, const char *bank, td_signal_type type, const char *value)
{
    td_signal_input in;
    td_signal out;
    td_error err;
    td_signal_input_init(&in);
    in.type = type;
    in.value = value;
    check(td_signal_add(f->svc, bank, &in, &out, &err), &err);
    return out.id;
}

static td_status submit(fixture *f, client_msg **msgs, size_t n, const char *reporter,
                        const char *reason, int64_t platform, td_report *out,
                        td_report_rejection *rej, td_error *err)
{
    td_report_message in_msgs[TD_REPORT_MESSAGES_MAX + 1];
    assert_true(n <= TD_REPORT_MESSAGES_MAX + 1);
    for (size_t i = 0; i < n; i++)
        in_msgs[i] = as_input(msgs[i]);
    td_report_input in = {reporter, reason, in_msgs, n, platform};
    return td_report_submit(f->rep, &in, out, rej, err);
}

static void submit_ok(fixture *f, client_msg *m, const char *reporter, td_report *out)
{
    td_report_rejection rej;
    td_error err;
    client_msg *one[1] = {m};
    check(submit(f, one, 1, reporter, "terrorist propaganda", f->plat_a, out, &rej, &err), &err);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static const td_principal moderator = {.id = 900, .role = TD_ROLE_MODERATOR, .name = "mod"};

static void decide(fixture *f, int64_t case_id, td_decision_kind kind)
{
    td_error err;
    td_decision d;
    check(td_case_decide(f->svc, case_id, &moderator, kind, "reviewed", &d, &err), &err);
}

/* ---- tests ---- */

static const char propaganda[] =
    "Brothers, the day has come: join the convoy at dawn and bring what was promised to you, "
    "the lists of targets are ready and the hour of the strike is near.";

/* A valid report: content with source, verified sender and time, a case from the text bank. */
static void test_valid_report(void **state)
{
    fixture *f = *state;
    td_error err;
    make_bank(f, "TEXTS", TD_ACTION_REVIEW, "behaviour:glorification");
    int64_t text_sig = add_signal(f, "TEXTS", TD_SIGNAL_TEXT, propaganda);
    client_msg m;
    msg_init(&m, propaganda, "acct:alice", "conv:42", T0 - HOUR);
    deliver(f->rep, &m);

    /* the service's frank carries its signature over what the client sees */
    td_frank_key *keys = NULL;
    size_t nk = 0;
    check(td_reports_keys(f->rep, &keys, &nk, &err), &err);
    assert_int_equal(nk, 1);
    assert_int_equal(keys[0].id, m.proof.key_id);
    assert_true(hand_signature_ok(&m, m.tag, keys[0].sign_public));
    td_free(keys);

    snapshot before = snap(f);
    td_report r;
    submit_ok(f, &m, "acct:bob", &r);
    char want_id[64], fh[33];
    hex(m.proof.frank, 16, fh);
    snprintf(want_id, sizeof want_id, "e2ee-%s", fh);
    assert_string_equal(r.content_id, want_id);
    assert_true(r.id > 0);
    assert_true(r.case_id > 0);
    assert_int_equal(r.verdict, TD_VERDICT_REVIEW);
    assert_int_equal(r.reporters, 1);
    assert_false(r.duplicate);
    assert_int_equal(r.received_ms, T0);
    assert_int_equal(r.key_id, m.proof.key_id);
    assert_string_equal(r.sender, "acct:alice");
    assert_string_equal(r.conversation, "conv:42");
    assert_int_equal(r.accepted_ms, T0 - HOUR);
    assert_int_equal(r.n_attachments, 0);
    assert_true(r.review_copy);
    assert_int_equal(r.evidence_item, 0);

    td_content c;
    check(td_content_get(f->svc, r.content_id, &c, &err), &err);
    assert_string_equal(c.source, "e2ee_report");
    assert_string_equal(c.uploader, "acct:alice");
    assert_int_equal(c.time_ms, T0 - HOUR);
    assert_int_equal(c.platform_key, f->plat_a);
    assert_int_equal(c.match_count, 1);
    assert_int_equal(c.matches[0].signal_id, text_sig);
    assert_int_equal(c.matches[0].type, TD_SIGNAL_TEXT);
    assert_true(c.has_case);
    assert_int_equal(c.kase.id, r.case_id);
    assert_int_equal(c.kase.state, TD_CASE_OPEN);
    assert_string_equal(c.kase.opened_by, "TEXTS");
    td_labels l;
    memset(&l, 0, sizeof l);
    check(td_labels_add(&l, "behaviour:glorification", &err), &err);
    assert_int_equal(c.kase.priority, td_labels_severity(&l) * 100 + TD_CONFIDENCE_DEFAULT);
    td_content_clear(&c);

    snapshot after = snap(f);
    assert_int_equal(after.reports, before.reports + 1);
    assert_int_equal(after.reporters, before.reporters + 1);
    assert_int_equal(after.copies, before.copies + 1);
    assert_int_equal(after.content, before.content + 1);
    char object[48];
    snprintf(object, sizeof object, "report:%lld", (long long)r.id);
    assert_int_equal(audit_count(f, "report.received", object), 1);
    assert_int_equal(audit_count(f, "frank.key_created", NULL), 1);

    /* the review copy, audited; what the log holds names no account */
    uint8_t *data = NULL;
    size_t len = 0;
    check(td_report_read(f->rep, r.id, -1, "mod", &data, &len, &err), &err);
    assert_int_equal(len, strlen(propaganda));
    assert_memory_equal(data, propaganda, len);
    td_free(data);
    assert_int_equal(td_report_read(f->rep, r.id, 0, "mod", &data, &len, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_report_read(f->rep, r.id, -1, "", &data, &len, &err), TD_ERR_INVALID);
    assert_int_equal(audit_count(f, "report.read", object), 1);
    uint64_t size = 0;
    td_audit *log = td_service_audit(f->svc);
    check(td_audit_size(log, &size, &err), &err);
    for (uint64_t i = 0; i < size; i++) {
        td_audit_entry e;
        check(td_audit_get(log, i, &e, &err), &err);
        if (strncmp(e.action, "report.", 7) == 0) {
            assert_null(strstr(e.details, "alice"));
            assert_null(strstr(e.details, "bob"));
            assert_null(strstr(e.details, "conv:42"));
            assert_null(strstr(e.details, "convoy"));
        }
        td_audit_entry_clear(&e);
    }

    /* a platform reads the reports it relayed only */
    td_principal pa = {.id = f->plat_a, .role = TD_ROLE_PLATFORM, .name = "messenger-a"},
                 pb = {.id = f->plat_b, .role = TD_ROLE_PLATFORM, .name = "messenger-b"};
    td_report got;
    check(td_report_get_as(f->rep, &pa, r.id, &got, &err), &err);
    assert_int_equal(got.id, r.id);
    assert_int_equal(td_report_get_as(f->rep, &pb, r.id, &got, &err), TD_ERR_NOT_FOUND);
    check(td_report_get_as(f->rep, &moderator, r.id, &got, &err), &err);
    assert_int_equal(td_report_get(f->rep, r.id + 100, &got, &err), TD_ERR_NOT_FOUND);

    td_reports_stats st;
    td_reports_get_stats(f->rep, &st);
    assert_int_equal(st.franked, 1);
    assert_int_equal(st.verified, 1);
}

/* Links in the text and an image attachment: the URL bank and the PDQ bank match; a block bank
 * gives the platform a remove event for the message. */
static void test_links_images_block(void **state)
{
    fixture *f = *state;
    td_error err;
    make_bank(f, "LINKS", TD_ACTION_REVIEW, NULL);
    make_bank(f, "PICTURES", TD_ACTION_REVIEW, "behaviour:recruitment");
    make_bank(f, "BLOCKED_DOCS", TD_ACTION_BLOCK, NULL);
    int64_t url_sig = add_signal(f, "LINKS", TD_SIGNAL_URL, "https://files.example.org/manual");
    int64_t pdq_sig = add_signal(f, "PICTURES", TD_SIGNAL_PDQ, BRIDGE_PDQ);

    size_t img_len;
    uint8_t *img = read_all(conf_path(DIH "bridge-2-rotate-90.jpg"), &img_len);
    client_msg m;
    msg_init(&m, "new manual at hxxps://files[.]example[.]org/manual?utm_source=tg, share it",
             "acct:carol", "conv:7", T0 - 2 * HOUR);
    msg_attach(&m, img, img_len);
    free(img);
    deliver(f->rep, &m);
    td_report r;
    submit_ok(f, &m, "acct:dan", &r);
    assert_int_equal(r.verdict, TD_VERDICT_REVIEW);
    assert_int_equal(r.n_attachments, 1);
    td_content c;
    check(td_content_get(f->svc, r.content_id, &c, &err), &err);
    assert_int_equal(c.match_count, 2);
    int seen_url = 0, seen_pdq = 0;
    for (size_t i = 0; i < c.match_count; i++) {
        seen_url |= c.matches[i].signal_id == url_sig;
        seen_pdq |= c.matches[i].signal_id == pdq_sig && c.matches[i].type == TD_SIGNAL_PDQ &&
                    c.matches[i].variant != TD_DIH_ORIGINAL;
    }
    assert_true(seen_url && seen_pdq);
    assert_true(c.has_case);
    assert_string_equal(c.kase.opened_by, "PICTURES");
    td_content_clear(&c);
    uint8_t *data = NULL;
    size_t len = 0;
    check(td_report_read(f->rep, r.id, 0, "mod", &data, &len, &err), &err);
    assert_int_equal(len, m.atts[0].plain_len);
    assert_memory_equal(data, m.atts[0].plain, len);
    td_free(data);
    msg_free(&m);
    assert_int_equal(deliveries_of(f, "remove"), 0);

    /* A document in a block bank, by its SHA-256 (computed here): remove event and a case. */
    static const char doc[] = "%PDF-1.7 operations manual, chapter 3";
    uint8_t d[32];
    char dh[65];
    sha256(doc, sizeof doc - 1, NULL, 0, d);
    hex(d, 32, dh);
    add_signal(f, "BLOCKED_DOCS", TD_SIGNAL_SHA256, dh);
    msg_init(&m, "", "acct:carol", "conv:7", T0 - HOUR);
    msg_attach(&m, (const uint8_t *)doc, sizeof doc - 1);
    deliver(f->rep, &m);
    submit_ok(f, &m, "acct:dan", &r);
    msg_free(&m);
    assert_int_equal(r.verdict, TD_VERDICT_BLOCK);
    assert_true(r.case_id > 0);
    assert_int_equal(deliveries_of(f, "remove"), 1);
    check(td_content_get(f->svc, r.content_id, &c, &err), &err);
    assert_int_equal(c.kase.state, TD_CASE_OPEN);
    assert_int_equal(c.kase.id, r.case_id);
    td_content_clear(&c);

    /* no match at all: still a case (a person reported it), priority 0 */
    msg_init(&m, "see you tomorrow", "acct:carol", "conv:7", T0 - HOUR);
    deliver(f->rep, &m);
    submit_ok(f, &m, "acct:dan", &r);
    assert_int_equal(r.verdict, TD_VERDICT_ALLOW);
    td_case k;
    check(td_case_get(f->svc, r.case_id, &k, &err), &err);
    assert_int_equal(k.priority, 0);
    assert_string_equal(k.opened_by, "e2ee_report");
}

/* One flipped bit in each part of a report: refused with its reason, nothing stored, counted. */
static void test_flipped_bits(void **state)
{
    fixture *f = *state;
    td_error err;
    client_msg m;
    msg_init(&m, "a message that was really sent", "acct:erin", "conv:9", T0 - 5 * MIN);
    deliver(f->rep, &m);
    const client_msg orig = m;
    snapshot before = snap(f);
    struct {
        const char *what;
        td_frank_failure why;
    } cases[] = {{"text", TD_FRANK_MISMATCH},           {"salt", TD_FRANK_MISMATCH},
                 {"sender", TD_FRANK_MISMATCH},         {"conversation", TD_FRANK_MISMATCH},
                 {"time", TD_FRANK_MISMATCH},           {"frank", TD_FRANK_MISMATCH},
                 {"signature", TD_FRANK_BAD_SIGNATURE}, {"key", TD_FRANK_KEY_UNKNOWN}};
    td_reports_stats s0, s1;
    td_reports_get_stats(f->rep, &s0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m = orig;
        const char *w = cases[i].what;
        if (!strcmp(w, "text"))
            m.text[3] ^= 0x01;
        else if (!strcmp(w, "salt"))
            m.salt[15] ^= 0x80;
        else if (!strcmp(w, "sender"))
            m.sender[5] ^= 0x02;
        else if (!strcmp(w, "conversation"))
            m.conversation[0] ^= 0x04;
        else if (!strcmp(w, "time"))
            m.accepted_ms ^= 1;
        else if (!strcmp(w, "frank"))
            m.proof.frank[31] ^= 0x01;
        else if (!strcmp(w, "signature"))
            m.proof.signature[0] ^= 0x01;
        else
            m.proof.key_id ^= 0x10;
        td_report out;
        td_report_rejection rej;
        client_msg *one[1] = {&m};
        assert_int_equal(submit(f, one, 1, "acct:fred", NULL, f->plat_a, &out, &rej, &err),
                         TD_ERR_INVALID);
        assert_string_equal(rej.problem, "frank_invalid");
        assert_string_equal(rej.field, "messages[0]");
        if (rej.why != cases[i].why)
            fail_msg("%s: %s, expected %s", w, td_frank_failure_name(rej.why),
                     td_frank_failure_name(cases[i].why));
        snapshot now = snap(f);
        assert_same(&before, &now);
    }
    td_reports_get_stats(f->rep, &s1);
    assert_int_equal(s1.invalid[TD_FRANK_MISMATCH] - s0.invalid[TD_FRANK_MISMATCH], 6);
    assert_int_equal(s1.invalid[TD_FRANK_BAD_SIGNATURE] - s0.invalid[TD_FRANK_BAD_SIGNATURE], 1);
    assert_int_equal(s1.invalid[TD_FRANK_KEY_UNKNOWN] - s0.invalid[TD_FRANK_KEY_UNKNOWN], 1);

    /* A second message of the report bad: the first is not stored either. */
    client_msg good;
    msg_init(&good, "first message", "acct:erin", "conv:9", T0 - 6 * MIN);
    deliver(f->rep, &good);
    m = orig;
    m.text[0] ^= 0x20;
    client_msg *two[2] = {&good, &m};
    td_report outs[2];
    td_report_rejection rej;
    assert_int_equal(submit(f, two, 2, "acct:fred", NULL, f->plat_a, outs, &rej, &err),
                     TD_ERR_INVALID);
    assert_string_equal(rej.field, "messages[1]");
    snapshot now = snap(f);
    assert_same(&before, &now);

    /* An attachment the sender franked that does not decrypt under its key: attachment_invalid. */
    msg_init(&m, "look", "acct:erin", "conv:9", T0 - MIN);
    msg_attach(&m, (const uint8_t *)"holiday.jpg", 11);
    m.atts[0].blob[20] ^= 0x01; /* the ciphertext changed before franking: GCM refuses it */
    deliver(f->rep, &m);
    client_msg *one[1] = {&m};
    assert_int_equal(submit(f, one, 1, "acct:fred", NULL, f->plat_a, outs, &rej, &err),
                     TD_ERR_INVALID);
    assert_string_equal(rej.problem, "attachment_invalid");
    assert_string_equal(rej.field, "messages[0].attachments[0]");
    msg_free(&m);
    now = snap(f);
    assert_same(&before, &now);
    td_reports_get_stats(f->rep, &s1);
    assert_int_equal(s1.invalid[0] - s0.invalid[0], 1);

    /* The same report unchanged goes through. */
    m = orig;
    td_report r;
    submit_ok(f, &m, "acct:fred", &r);
}

/* Rotation keeps old franks verifying within retention; the tick after retention destroys the
 * key: its secrets are gone from the table and its franks refused as key_destroyed. */
static void test_key_lifecycle(void **state)
{
    fixture *f = *state;
    td_error err;
    td_frank_key *keys = NULL;
    size_t nk = 0;
    client_msg old_msg, new_msg;
    /* rotation by hand only: the clock moves by months here */
    close_all(f);
    f->ro.rotate_ms = 0;
    open_all(f);
    msg_init(&old_msg, "sent under the first key", "acct:gina", "conv:1", T0 - MIN);
    deliver(f->rep, &old_msg);
    assert_int_equal(old_msg.proof.key_id, 1);

    fake_clock_advance(DAY);
    td_frank_key made;
    check(td_reports_rotate_key(f->rep, "admin", &made, &err), &err);
    assert_int_equal(made.id, 2);
    assert_int_equal(made.retired_ms, 0);
    int64_t rotated_at = fake_clock_get();
    msg_init(&new_msg, "sent under the second key", "acct:gina", "conv:1", rotated_at);
    deliver(f->rep, &new_msg);
    assert_int_equal(new_msg.proof.key_id, 2);
    check(td_reports_keys(f->rep, &keys, &nk, &err), &err);
    assert_int_equal(nk, 2);
    assert_int_equal(keys[0].retired_ms, rotated_at);
    assert_int_equal(keys[0].destroy_ms, rotated_at + f->ro.retention_ms);
    assert_false(keys[0].destroyed);
    assert_true(hand_signature_ok(&new_msg, new_msg.tag, keys[1].sign_public));
    td_free(keys);
    assert_int_equal(audit_count(f, "frank.key_rotated", "frank-key:2"), 1);

    /* within retention: the retired key verifies */
    fake_clock_advance(f->ro.retention_ms - DAY);
    check(td_reports_tick(f->rep, &err), &err);
    td_report r;
    submit_ok(f, &old_msg, "acct:hal", &r);
    assert_int_equal(r.key_id, 1);

    /* past it, before any tick: refused already */
    fake_clock_set(rotated_at + f->ro.retention_ms);
    td_report_rejection rej;
    client_msg replay = old_msg; /* the same message, reported again after the retention */
    client_msg *one[1] = {&replay};
    td_report out;
    assert_int_equal(submit(f, one, 1, "acct:ivan", NULL, f->plat_a, &out, &rej, &err),
                     TD_ERR_INVALID);
    assert_int_equal(rej.why, TD_FRANK_KEY_DESTROYED);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM frank_keys WHERE hmac_key IS NOT NULL"), 2);

    /* the tick destroys it: secrets gone from the table, audited */
    check(td_reports_tick(f->rep, &err), &err);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM frank_keys WHERE key_id = 1 AND"
                              " hmac_key IS NULL AND sign_secret IS NULL AND destroyed = 1"),
                     1);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM frank_keys WHERE key_id = 2 AND"
                              " hmac_key IS NOT NULL AND destroyed = 0"),
                     1);
    assert_int_equal(audit_count(f, "frank.key_destroyed", "frank-key:1"), 1);
    check(td_reports_keys(f->rep, &keys, &nk, &err), &err);
    assert_int_equal(nk, 2);
    assert_true(keys[0].destroyed);
    static const uint8_t zero[TD_FRANK_HMAC_KEY_LEN];
    assert_memory_equal(keys[0].hmac_key, zero, sizeof zero);
    td_free(keys);
    snapshot before = snap(f);
    assert_int_equal(submit(f, one, 1, "acct:ivan", NULL, f->plat_a, &out, &rej, &err),
                     TD_ERR_INVALID);
    assert_int_equal(rej.why, TD_FRANK_KEY_DESTROYED);
    snapshot now = snap(f);
    assert_same(&before, &now);
    /* a second tick changes nothing; the second key still verifies */
    check(td_reports_tick(f->rep, &err), &err);
    assert_int_equal(audit_count(f, "frank.key_destroyed", NULL), 1);
    submit_ok(f, &new_msg, "acct:ivan", &r);
    assert_int_equal(r.key_id, 2);

    /* A reopened handle loads the keys as stored: key 1 stays destroyed. */
    close_all(f);
    open_all(f);
    check(td_reports_keys(f->rep, &keys, &nk, &err), &err);
    assert_int_equal(nk, 2);
    assert_true(keys[0].destroyed);
    assert_false(keys[1].destroyed);
    td_free(keys);
}

/* Automatic rotation by the tick, and the background thread doing it. */
static void test_rotation_by_tick(void **state)
{
    fixture *f = *state;
    td_error err;
    td_frank_key *keys = NULL;
    size_t nk = 0;
    close_all(f);
    f->ro.rotate_ms = 7 * DAY;
    f->ro.retention_ms = 14 * DAY;
    open_all(f);
    check(td_reports_tick(f->rep, &err), &err);
    check(td_reports_keys(f->rep, &keys, &nk, &err), &err);
    assert_int_equal(nk, 1);
    td_free(keys);
    fake_clock_advance(7 * DAY);
    check(td_reports_tick(f->rep, &err), &err);
    check(td_reports_tick(f->rep, &err), &err); /* once only */
    check(td_reports_keys(f->rep, &keys, &nk, &err), &err);
    assert_int_equal(nk, 2);
    assert_int_equal(keys[0].destroy_ms, fake_clock_get() + 14 * DAY);
    td_free(keys);
    /* the thread: rotation and destruction without the caller ticking */
    close_all(f);
    f->ro.tick_ms = 20;
    open_all(f);
    /* key 1 retired at +7 days to be destroyed at +21, key 2 due at +14: at +22 the thread
     * rotates (key 3) and destroys key 1 */
    fake_clock_advance(15 * DAY);
    for (int i = 0; i < 500; i++) {
        if (count(f, "SELECT COUNT(*) FROM frank_keys WHERE destroyed = 1") == 1 &&
            count(f, "SELECT COUNT(*) FROM frank_keys") == 3)
            break;
        usleep(10000);
    }
    assert_int_equal(count(f, "SELECT COUNT(*) FROM frank_keys WHERE destroyed = 1 AND"
                              " key_id = 1"),
                     1);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM frank_keys"), 3);
    td_reports_stats st;
    td_reports_get_stats(f->rep, &st);
    assert_true(st.ticks > 0);
    close_all(f);
    f->ro.tick_ms = 0;
    open_all(f);
}

/* The same message from two reporters is one report with two; the same reporter again changes
 * nothing. */
static void test_reporters_and_replay(void **state)
{
    fixture *f = *state;
    td_error err;
    client_msg m;
    msg_init(&m, "reported twice", "acct:jo", "conv:3", T0 - MIN);
    deliver(f->rep, &m);
    td_report r1, r2, r3;
    submit_ok(f, &m, "acct:kim", &r1);
    snapshot s1 = snap(f);
    client_msg *one[1] = {&m};
    td_report_rejection rej;
    check(submit(f, one, 1, "acct:lee", "also this", f->plat_b, &r2, &rej, &err), &err);
    assert_int_equal(r2.id, r1.id);
    assert_int_equal(r2.reporters, 2);
    assert_true(r2.duplicate);
    assert_string_equal(r2.content_id, r1.content_id);
    snapshot s2 = snap(f);
    assert_int_equal(s2.reports, s1.reports);
    assert_int_equal(s2.content, s1.content);
    assert_int_equal(s2.cases, s1.cases);
    assert_int_equal(s2.reporters, s1.reporters + 1);
    assert_int_equal(s2.audit, s1.audit + 1);
    char object[48];
    snprintf(object, sizeof object, "report:%lld", (long long)r1.id);
    assert_int_equal(audit_count(f, "report.reporter_added", object), 1);
    /* the other platform now reads it too */
    td_principal pb = {.id = f->plat_b, .role = TD_ROLE_PLATFORM, .name = "messenger-b"};
    check(td_report_get_as(f->rep, &pb, r1.id, &r3, &err), &err);

    /* a replay: unchanged */
    check(submit(f, one, 1, "acct:lee", "again", f->plat_b, &r3, &rej, &err), &err);
    assert_int_equal(r3.id, r1.id);
    assert_int_equal(r3.reporters, 2);
    assert_true(r3.duplicate);
    snapshot s3 = snap(f);
    assert_same(&s2, &s3);

    /* the same message twice in one report: one report */
    client_msg n;
    msg_init(&n, "said twice", "acct:jo", "conv:3", T0 - MIN);
    deliver(f->rep, &n);
    client_msg *two[2] = {&n, &n};
    td_report outs[2];
    check(submit(f, two, 2, "acct:kim", NULL, f->plat_a, outs, &rej, &err), &err);
    assert_int_equal(outs[0].id, outs[1].id);
    assert_int_equal(outs[0].reporters, 1);
    snapshot s4 = snap(f);
    assert_int_equal(s4.reports, s3.reports + 1);
}

/* One ciphertext, two keys (an invisible salamander built in tests/support/salamander.c): the
 * second report is refused and stores nothing. */
static void test_attachment_key_conflict(void **state)
{
    fixture *f = *state;
    td_error err;
    uint8_t k1[32], k2[32], nonce[12];
    static const char benign[] = "cat picture", harmful[] = "attack plan";
    randombytes_buf(k1, sizeof k1);
    randombytes_buf(k2, sizeof k2);
    randombytes_buf(nonce, sizeof nonce);
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    assert_int_equal(td_test_salamander(k1, k2, nonce, (const uint8_t *)benign, sizeof benign - 1,
                                        (const uint8_t *)harmful, sizeof harmful - 1, &blob,
                                        &blob_len),
                     0);
    client_msg a, b;
    msg_init(&a, "photo", "acct:max", "conv:5", T0 - 2 * MIN);
    msg_init(&b, "photo", "acct:max", "conv:6", T0 - MIN);
    a.n_atts = b.n_atts = 1;
    memcpy(a.atts[0].key, k1, 32);
    memcpy(b.atts[0].key, k2, 32);
    a.atts[0].blob = malloc(blob_len);
    b.atts[0].blob = malloc(blob_len);
    assert_non_null(a.atts[0].blob);
    assert_non_null(b.atts[0].blob);
    memcpy(a.atts[0].blob, blob, blob_len);
    memcpy(b.atts[0].blob, blob, blob_len);
    a.atts[0].blob_len = b.atts[0].blob_len = blob_len;
    free(blob);
    deliver(f->rep, &a);
    deliver(f->rep, &b);
    td_report r;
    submit_ok(f, &a, "acct:ned", &r);
    uint8_t *data = NULL;
    size_t len = 0;
    check(td_report_read(f->rep, r.id, 0, "mod", &data, &len, &err), &err);
    assert_true(len >= sizeof benign - 1);
    assert_memory_equal(data, benign, sizeof benign - 1);
    td_free(data);
    snapshot before = snap(f);
    td_reports_stats s0, s1;
    td_reports_get_stats(f->rep, &s0);
    client_msg *one[1] = {&b};
    td_report_rejection rej;
    assert_int_equal(submit(f, one, 1, "acct:ned", NULL, f->plat_a, &r, &rej, &err),
                     TD_ERR_CONFLICT);
    assert_string_equal(rej.problem, "attachment_key_conflict");
    assert_string_equal(rej.field, "messages[0].attachments[0]");
    snapshot after = snap(f);
    assert_same(&before, &after);
    td_reports_get_stats(f->rep, &s1);
    assert_int_equal(s1.invalid[0] - s0.invalid[0], 1);
    /* both in one report: refused as well */
    client_msg c = b;
    c.conversation[0] = 'x';
    deliver(f->rep, &c);
    client_msg a2 = a;
    a2.conversation[0] = 'y';
    deliver(f->rep, &a2);
    client_msg *two[2] = {&a2, &c};
    td_report outs[2];
    assert_int_equal(submit(f, two, 2, "acct:ned", NULL, f->plat_a, outs, &rej, &err),
                     TD_ERR_CONFLICT);
    assert_string_equal(rej.field, "messages[1].attachments[0]");
    after = snap(f);
    assert_same(&before, &after);
    msg_free(&a);
    msg_free(&b);
}

typedef struct released {
    int n;
    char label[4][256];
    char *related[4];
    uint8_t *content[4];
    size_t len[4];
} released;

static int on_release(void *ctx, int64_t item, const char *label, const char *related,
                      const uint8_t *content, size_t len)
{
    released *r = ctx;
    (void)item;
    if (r->n >= 4)
        return 1;
    snprintf(r->label[r->n], sizeof r->label[r->n], "%s", label);
    r->related[r->n] = strdup(related);
    r->content[r->n] = malloc(len + 1);
    memcpy(r->content[r->n], content, len);
    r->content[r->n][len] = 0;
    r->len[r->n] = len;
    r->n++;
    return 0;
}

static void hex_decode(const char *h, uint8_t *out, size_t n)
{
    assert_non_null(h);
    assert_int_equal(strlen(h), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* Removal: the report is sealed (record and attachment) with the retention of removed content,
 * the review copy is deleted; the record released by two custodians verifies offline with the
 * published key. Keep: the review copy is deleted, nothing sealed. */
static void test_removal_and_keep(void **state)
{
    fixture *f = *state;
    td_error err;
    make_bank(f, "TEXTS", TD_ACTION_REVIEW, NULL);
    add_signal(f, "TEXTS", TD_SIGNAL_TEXT, propaganda);
    client_msg m;
    msg_init(&m, propaganda, "acct:olga", "conv:11", T0 - HOUR);
    static const char leaflet[] = "leaflet: meet at the square at noon";
    msg_attach(&m, (const uint8_t *)leaflet, sizeof leaflet - 1);
    deliver(f->rep, &m);
    td_report r, again;
    submit_ok(f, &m, "acct:pia", &r);
    client_msg *one[1] = {&m};
    td_report_rejection rej;
    check(submit(f, one, 1, "acct:quinn", "second reporter", f->plat_b, &again, &rej, &err), &err);

    /* an open case: the tick leaves the report alone */
    check(td_reports_tick(f->rep, &err), &err);
    check(td_report_get(f->rep, r.id, &again, &err), &err);
    assert_true(again.review_copy);

    fake_clock_advance(10 * MIN);
    int64_t decided = fake_clock_get();
    decide(f, r.case_id, TD_DECISION_REMOVE);
    /* closed: the copy is no longer served, even before the tick */
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(td_report_read(f->rep, r.id, -1, "mod", &data, &len, &err), TD_ERR_NOT_FOUND);
    fake_clock_advance(MIN);
    check(td_reports_tick(f->rep, &err), &err);
    check(td_report_get(f->rep, r.id, &again, &err), &err);
    assert_false(again.review_copy);
    assert_true(again.evidence_item > 0);
    char q[160], ref[48];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM report_copies WHERE report_id = %lld",
             (long long)r.id);
    assert_int_equal(count(f, q), 0);
    snprintf(ref, sizeof ref, "report-%lld", (long long)r.id);
    td_evidence_item_info *items = NULL;
    size_t ni = 0;
    check(td_evidence_item_list(f->ev, ref, &items, &ni, &err), &err);
    assert_int_equal(ni, 2);
    char want[80];
    snprintf(want, sizeof want, "%s:record", ref);
    assert_string_equal(items[0].label, want);
    assert_int_equal(items[0].id, again.evidence_item);
    assert_int_equal(items[0].removal_ms, decided);
    snprintf(want, sizeof want, "%s:attachment:0", ref);
    assert_string_equal(items[1].label, want);
    assert_int_equal(items[1].bytes, (int64_t)sizeof leaflet - 1);
    td_free(items);
    td_evidence_case_info ci;
    check(td_evidence_case(f->ev, ref, &ci, &err), &err);
    td_evidence_options eo;
    td_evidence_options_default(&eo);
    assert_int_equal(ci.retain_until_ms, decided + eo.retention_ms);
    char object[48];
    snprintf(object, sizeof object, "report:%lld", (long long)r.id);
    assert_int_equal(audit_count(f, "report.preserved", object), 1);
    assert_int_equal(audit_count(f, "report.copy_deleted", object), 1);
    assert_int_equal(audit_count(f, "evidence.seal", ref), 2);
    /* idempotent */
    check(td_reports_tick(f->rep, &err), &err);
    check(td_evidence_item_list(f->ev, ref, &items, &ni, &err), &err);
    assert_int_equal(ni, 2);
    td_free(items);
    assert_int_equal(audit_count(f, "report.preserved", object), 1);

    /* released by two custodians: the record is the report, and verifies offline */
    int64_t req = 0;
    unsigned have = 0, need = 0;
    check(td_evidence_request(f->ev, "legal", "court order 1", "prosecution", ref, NULL, 0, &req,
                              &err),
          &err);
    check(td_evidence_approve(f->ev, req, "legal", f->shares[0], &have, &need, &err), &err);
    check(td_evidence_approve(f->ev, req, "privacy", f->shares[1], &have, &need, &err), &err);
    released rel = {0};
    check(td_evidence_release(f->ev, req, "legal", on_release, &rel, &err), &err);
    assert_int_equal(rel.n, 2);
    assert_int_equal(rel.len[1], sizeof leaflet - 1);
    assert_memory_equal(rel.content[1], leaflet, sizeof leaflet - 1);
    json_error_t jerr;
    json_t *rec = json_loads((const char *)rel.content[0], 0, &jerr);
    assert_non_null(rec);
    assert_string_equal(json_string_value(json_object_get(rec, "text")), propaganda);
    assert_string_equal(json_string_value(json_object_get(rec, "sender")), "acct:olga");
    assert_string_equal(json_string_value(json_object_get(rec, "conversation")), "conv:11");
    assert_int_equal(json_integer_value(json_object_get(rec, "accepted_ms")), T0 - HOUR);
    assert_int_equal(json_integer_value(json_object_get(rec, "key_id")), m.proof.key_id);
    json_t *reps = json_object_get(rec, "reporters");
    assert_int_equal(json_array_size(reps), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reps, 0), "reporter")),
                        "acct:pia");
    assert_string_equal(json_string_value(json_object_get(json_array_get(reps, 0), "reason")),
                        "terrorist propaganda");
    assert_string_equal(json_string_value(json_object_get(json_array_get(reps, 1), "reason")),
                        "second reporter");
    /* offline: envelope from the record's text and references, tag, signature with its key */
    client_msg v;
    memset(&v, 0, sizeof v);
    snprintf(v.sender, sizeof v.sender, "%s", json_string_value(json_object_get(rec, "sender")));
    snprintf(v.conversation, sizeof v.conversation, "%s",
             json_string_value(json_object_get(rec, "conversation")));
    v.accepted_ms = json_integer_value(json_object_get(rec, "accepted_ms"));
    v.proof.key_id = (uint32_t)json_integer_value(json_object_get(rec, "key_id"));
    uint8_t salt[16], pub[32], refs[1][64], tag[32];
    hex_decode(json_string_value(json_object_get(rec, "salt")), salt, 16);
    hex_decode(json_string_value(json_object_get(rec, "frank")), v.proof.frank, 32);
    hex_decode(json_string_value(json_object_get(rec, "signature")), v.proof.signature, 64);
    hex_decode(json_string_value(json_object_get(rec, "public_key")), pub, 32);
    json_t *att = json_array_get(json_object_get(rec, "attachments"), 0);
    hex_decode(json_string_value(json_object_get(att, "blob_sha256")), refs[0], 32);
    hex_decode(json_string_value(json_object_get(att, "key_commitment")), refs[0] + 32, 32);
    uint8_t expect_ref[1][64];
    msg_refs(&m, expect_ref);
    assert_memory_equal(refs[0], expect_ref[0], 64);
    const char *text = json_string_value(json_object_get(rec, "text"));
    size_t env_len;
    uint8_t *env = hand_envelope(text, strlen(text), (const uint8_t(*)[64])refs, 1, &env_len);
    hand_tag(salt, env, env_len, tag);
    free(env);
    assert_memory_equal(tag, m.tag, 32);
    assert_true(hand_signature_ok(&v, tag, pub));
    json_decref(rec);
    for (int i = 0; i < rel.n; i++) {
        free(rel.related[i]);
        free(rel.content[i]);
    }
    msg_free(&m);

    /* keep: the copy goes, nothing is sealed */
    client_msg k;
    msg_init(&k, "harmless after all", "acct:olga", "conv:11", T0 - HOUR);
    deliver(f->rep, &k);
    td_report rk;
    submit_ok(f, &k, "acct:pia", &rk);
    decide(f, rk.case_id, TD_DECISION_KEEP);
    check(td_reports_tick(f->rep, &err), &err);
    check(td_report_get(f->rep, rk.id, &again, &err), &err);
    assert_false(again.review_copy);
    assert_int_equal(again.evidence_item, 0);
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM report_copies WHERE report_id = %lld",
             (long long)rk.id);
    assert_int_equal(count(f, q), 0);
    snprintf(ref, sizeof ref, "report-%lld", (long long)rk.id);
    assert_int_equal(td_evidence_case(f->ev, ref, &ci, &err), TD_ERR_NOT_FOUND);
    snprintf(object, sizeof object, "report:%lld", (long long)rk.id);
    assert_int_equal(audit_count(f, "report.copy_deleted", object), 1);
    assert_int_equal(audit_count(f, "report.preserved", object), 0);
}

/* An evidence order naming a removed report (its content id, and its sender's account for a
 * second report removed later) gets the report's sealed items linked into its case, held while
 * it runs, approved, released by the custodians and delivered in its package: the record and
 * the attachment come out of the package as they were reported. */
static void test_evidence_order(void **state)
{
    fixture *f = *state;
    td_error err;
    make_bank(f, "TEXTS", TD_ACTION_REVIEW, NULL);
    add_signal(f, "TEXTS", TD_SIGNAL_TEXT, propaganda);
    client_msg m, later;
    static const char leaflet[] = "the leaflet with the plan";
    msg_init(&m, propaganda, "acct:walt", "conv:21", T0 - DAY);
    msg_attach(&m, (const uint8_t *)leaflet, sizeof leaflet - 1);
    deliver(f->rep, &m);
    msg_init(&later, "a second message, reported later", "acct:walt", "conv:21", T0 - HOUR);
    deliver(f->rep, &later);
    td_report r, r2;
    submit_ok(f, &m, "acct:xena", &r);
    submit_ok(f, &later, "acct:xena", &r2);
    decide(f, r.case_id, TD_DECISION_REMOVE);
    check(td_reports_tick(f->rep, &err), &err);

    /* the evidence orders component, with the reports as its provider */
    td_orders *orders = NULL;
    td_eorders *eo = NULL;
    td_orders_options oo;
    td_orders_options_default(&oo);
    oo.evidence = f->ev;
    check(td_orders_open(f->svc, &oo, &orders, &err), &err);
    td_eorders_options eopts;
    td_eorders_options_default(&eopts);
    eopts.orders = orders;
    eopts.evidence = f->ev;
    check(td_eorders_open(f->svc, &eopts, &eo, &err), &err);
    td_eorders_set_provider(eo, td_reports_eorder_provider, f->rep);
    uint8_t apk[crypto_sign_PUBLICKEYBYTES], ask[crypto_sign_SECRETKEYBYTES];
    char apk_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    crypto_sign_keypair(apk, ask);
    hex(apk, sizeof apk, apk_hex);
    td_authority_input ai = {TD_AUTHORITY_EVIDENCE, "StA Berlin", "DE", "desk@example", apk_hex, 0};
    td_authority auth;
    check(td_authority_register(orders, "admin", &ai, &auth, &err), &err);
    uint8_t rpk[TD_PACKAGE_X25519_KEY_LEN], rsk[TD_PACKAGE_X25519_KEY_LEN];
    char rpk_hex[2 * TD_PACKAGE_X25519_KEY_LEN + 1];
    check(td_package_keygen(rpk, rsk, &err), &err);
    hex(rpk, sizeof rpk, rpk_hex);
    char body[4096];
    snprintf(
        body, sizeof body,
        "{\"framework\": \"eu_epoc\","
        " \"A\": {\"issuing_state\": \"DE\", \"issuing_authority\": {\"name\": \"StA Berlin\","
        " \"type\": \"public_prosecutor\", \"file_number\": \"StA-2026-77\"},"
        " \"validating_authority\": {\"name\": \"AG Tiergarten\", \"type\": \"judge_or_court\","
        " \"file_number\": \"AG-1\"}, \"issued_at\": \"2026-12-01T09:00:00Z\"},"
        " \"B\": {\"addressee\": \"Example Messenger Ltd\", \"establishment\":"
        " \"designated_establishment\", \"member_state\": \"IE\"},"
        " \"C\": {\"deadline\": \"ten_days_asap\"},"
        " \"E\": {\"identifiers\": [{\"type\": \"content_id\", \"value\": \"%s\"},"
        " {\"type\": \"user_id\", \"value\": \"acct:walt\"}],"
        " \"time_range\": {\"from\": \"2026-11-01T00:00:00Z\", \"to\": \"2026-12-31T00:00:00Z\"}},"
        " \"F\": {\"data_categories\": [\"content\"]},"
        " \"G\": {\"offence\": \"Participation in a terrorist group\", \"legal_classification\":"
        " \"129a StGB\", \"max_penalty_years\": 10, \"listed_terrorism\": true, \"summary\":"
        " \"Propaganda in a messenger group.\"},"
        " \"H\": {\"user_information\": \"restricted\"},"
        " \"K\": {\"contact\": {\"name\": \"Desk\", \"email\": \"exec@sta.example\"}},"
        " \"L\": {\"recipient\": \"StA Berlin\", \"member_state\": \"DE\", \"x25519_public_key\":"
        " \"%s\"}}",
        r.content_id, rpk_hex);
    uint8_t sig[crypto_sign_BYTES];
    char b64[128], header[160];
    crypto_sign_detached(sig, NULL, (const uint8_t *)body, strlen(body), ask);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    snprintf(header, sizeof header, "ed25519=%s", b64);
    td_eorder_intake in = {(const uint8_t *)body, strlen(body), header, NULL, NULL, 0, NULL};
    td_eorder_receipt receipt;
    td_eorder_rejection why;
    td_status st = td_eorder_receive(eo, &in, &receipt, &why, &err);
    if (st)
        fail_msg("receive: %s (%s)", err.message, why.field);

    /* linked at receipt: the removed report's record and attachment, answering both
     * identifiers (once each item) */
    td_eorder_record_info *recs = NULL;
    size_t nr = 0;
    char ref[48], ref2[48];
    snprintf(ref, sizeof ref, "report-%lld", (long long)r.id);
    snprintf(ref2, sizeof ref2, "report-%lld", (long long)r2.id);
    check(td_eorder_records(eo, "legal", "check", receipt.id_text, &recs, &nr, &err), &err);
    assert_int_equal(nr, 2);
    for (size_t i = 0; i < nr; i++) {
        assert_string_equal(recs[i].linked_case, ref);
        assert_int_equal(recs[i].category, TD_EORDER_CAT_CONTENT);
        assert_int_equal(recs[i].at_ms, T0 - DAY);
    }
    td_free(recs);
    td_evidence_case_info ci;
    check(td_evidence_case(f->ev, ref, &ci, &err), &err);
    assert_true(ci.hold);
    assert_int_equal(audit_count(f, "evidence.link", NULL), 2);
    assert_int_equal(audit_count(f, "eorder.data_linked", NULL), 1);
    /* the tick asks again: nothing new */
    td_eorders_tick_result tr;
    check(td_eorders_tick(eo, &tr, &err), &err);
    assert_int_equal(tr.linked, 0);

    /* the second report is removed later: the next pass (a minute on) links it too */
    decide(f, r2.case_id, TD_DECISION_REMOVE);
    check(td_reports_tick(f->rep, &err), &err);
    fake_clock_advance(2 * MIN);
    check(td_eorders_tick(eo, &tr, &err), &err);
    assert_int_equal(tr.linked, 1);
    check(td_eorder_records(eo, "legal", "check", receipt.id_text, &recs, &nr, &err), &err);
    assert_int_equal(nr, 3);
    assert_string_equal(recs[2].linked_case, ref2);
    td_free(recs);

    /* two legal officers, two custodians, the package */
    td_principal alice = {1, TD_ROLE_LEGAL, "alice", 0}, bob = {2, TD_ROLE_LEGAL, "bob", 0};
    td_eorder_approval ap;
    check(td_eorder_approve(eo, &alice, receipt.id_text, NULL, &ap, &err), &err);
    check(td_eorder_approve(eo, &bob, receipt.id_text, NULL, &ap, &err), &err);
    assert_true(ap.complete);
    check(td_evidence_approve(f->ev, ap.release_request, "legal", f->shares[0], NULL, NULL, &err),
          &err);
    check(td_evidence_approve(f->ev, ap.release_request, "privacy", f->shares[1], NULL, NULL, &err),
          &err);
    char path[4200], out_dir[4200];
    snprintf(path, sizeof path, "%s/package.tdp", f->dir);
    snprintf(out_dir, sizeof out_dir, "%s/opened", f->dir);
    td_eorder_delivery dv;
    check(td_eorder_deliver(eo, "legal", receipt.id_text, path, &dv, &err), &err);
    assert_int_equal(dv.records, 3);
    td_package_report pr;
    uint8_t sign_pk[TD_EORDER_SIGN_PUBKEY_LEN];
    td_eorders_delivery_public_key(eo, sign_pk);
    memset(&pr, 0, sizeof pr);
    check(td_package_open(path, rsk, sign_pk, out_dir, &pr, &err), &err);
    assert_int_equal(pr.n_records, 3);
    int saw_record = 0, saw_leaflet = 0, saw_later = 0;
    for (size_t i = 0; i < pr.n_records; i++) {
        char file[4400];
        size_t len = 0;
        snprintf(file, sizeof file, "%s/records/%s", out_dir, pr.records[i].name);
        uint8_t *data = read_all(file, &len);
        if (len == sizeof leaflet - 1 && memcmp(data, leaflet, len) == 0) {
            saw_leaflet = 1;
        } else {
            json_t *rec = json_loadb((const char *)data, len, 0, NULL);
            assert_non_null(rec);
            const char *text = json_string_value(json_object_get(rec, "text"));
            saw_record |= text && strcmp(text, propaganda) == 0;
            saw_later |= text && strcmp(text, later.text) == 0;
            json_decref(rec);
        }
        free(data);
    }
    assert_true(saw_record && saw_leaflet && saw_later);
    td_package_report_clear(&pr);
    /* delivered: the reports' cases are no longer held by the order */
    check(td_evidence_case(f->ev, ref, &ci, &err), &err);
    assert_false(ci.hold);
    check(td_evidence_case(f->ev, ref2, &ci, &err), &err);
    assert_false(ci.hold);
    td_eorders_close(eo);
    td_orders_close(orders);
    msg_free(&m);
}

/* No master key when the case is decided: the copy waits, nothing is lost, and the first tick
 * after the custodians made the key seals it. */
static void test_removal_waits_for_master(void **state)
{
    fixture *f = *state;
    td_error err;
    client_msg m;
    msg_init(&m, "kept until it can be sealed", "acct:rob", "conv:13", T0 - HOUR);
    deliver(f->rep, &m);
    td_report r;
    submit_ok(f, &m, "acct:sue", &r);
    decide(f, r.case_id, TD_DECISION_REMOVE);
    check(td_reports_tick(f->rep, &err), &err);
    char q[160], ref[48];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM report_copies WHERE report_id = %lld",
             (long long)r.id);
    assert_int_equal(count(f, q), 1);
    snprintf(ref, sizeof ref, "report-%lld", (long long)r.id);
    td_evidence_case_info ci;
    assert_int_equal(td_evidence_case(f->ev, ref, &ci, &err), TD_ERR_NOT_FOUND);
    /* a restart in between loses nothing */
    close_all(f);
    open_all(f);
    init_master(f);
    check(td_reports_tick(f->rep, &err), &err);
    assert_int_equal(count(f, q), 0);
    check(td_evidence_case(f->ev, ref, &ci, &err), &err);
    assert_int_equal(ci.items, 1);
}

/* The body of POST /v1/reports: a valid one parses into what submit takes; every malformed
 * member is refused naming it. */
static char *body_of(client_msg *m, const char *extra_top, const char *extra_msg)
{
    char salt[33], frank[65], sig[129];
    hex(m->salt, 16, salt);
    hex(m->proof.frank, 32, frank);
    hex(m->proof.signature, 64, sig);
    json_t *msg = json_pack("{s:s%, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "text", m->text,
                            m->text_len, "salt", salt, "sender", m->sender, "conversation",
                            m->conversation, "accepted_ms", (json_int_t)m->accepted_ms, "key_id",
                            (json_int_t)m->proof.key_id, "frank", frank, "signature", sig);
    json_t *atts = json_array();
    for (size_t j = 0; j < m->n_atts; j++) {
        char key[65];
        size_t b64_len =
            sodium_base64_ENCODED_LEN(m->atts[j].blob_len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(b64_len);
        sodium_bin2base64(b64, b64_len, m->atts[j].blob, m->atts[j].blob_len,
                          sodium_base64_VARIANT_ORIGINAL);
        hex(m->atts[j].key, 32, key);
        json_array_append_new(atts, json_pack("{s:s, s:s}", "blob", b64, "key", key));
        free(b64);
    }
    if (m->n_atts)
        json_object_set_new(msg, "attachments", atts);
    else
        json_decref(atts);
    if (extra_msg) {
        json_t *x = json_loads(extra_msg, 0, NULL);
        assert_non_null(x);
        json_object_update(msg, x);
        json_decref(x);
    }
    json_t *top =
        json_pack("{s:s, s:s, s:[o]}", "reporter", "acct:tom", "reason", "spam", "messages", msg);
    if (extra_top) {
        json_t *x = json_loads(extra_top, 0, NULL);
        assert_non_null(x);
        json_object_update(top, x);
        json_decref(x);
    }
    char *s = json_dumps(top, JSON_COMPACT);
    json_decref(top);
    return s;
}

static void expect_parse_refused(const char *body, const char *problem, const char *field)
{
    td_report_input in;
    td_report_parsed *owner = NULL;
    td_report_rejection rej;
    td_error err;
    td_status st = td_report_parse(body, strlen(body), &in, &owner, &rej, &err);
    if (st == TD_OK)
        fail_msg("accepted: %s", body);
    assert_null(owner);
    if (strcmp(rej.problem, problem) || strcmp(rej.field, field))
        fail_msg("%s: got %s %s, expected %s %s (%s)", body, rej.problem, rej.field, problem, field,
                 err.message);
    assert_int_equal(st, strcmp(problem, "too_large") ? TD_ERR_INVALID : TD_ERR_LIMIT);
}

static void test_parse(void **state)
{
    fixture *f = *state;
    td_error err;
    client_msg m;
    msg_init(&m, "parsed \"quoted\" \xc3\xa9t\xc3\xa9", "acct:uma", "conv:\n1", T0 - MIN);
    msg_attach(&m, (const uint8_t *)"bytes of a file", 15);
    deliver(f->rep, &m);
    char *body = body_of(&m, NULL, NULL);
    td_report_input in;
    td_report_parsed *owner = NULL;
    td_report_rejection rej;
    check(td_report_parse(body, strlen(body), &in, &owner, &rej, &err), &err);
    assert_string_equal(in.reporter, "acct:tom");
    assert_string_equal(in.reason, "spam");
    assert_int_equal(in.n_messages, 1);
    assert_int_equal(in.messages[0].text_len, m.text_len);
    assert_memory_equal(in.messages[0].text, m.text, m.text_len);
    assert_int_equal(in.messages[0].n_attachments, 1);
    assert_int_equal(in.messages[0].attachments[0].blob_len, m.atts[0].blob_len);
    assert_memory_equal(in.messages[0].attachments[0].blob, m.atts[0].blob, m.atts[0].blob_len);
    assert_memory_equal(in.messages[0].proof.signature, m.proof.signature, 64);
    in.platform_key = f->plat_a;
    td_report r;
    check(td_report_submit(f->rep, &in, &r, &rej, &err), &err);
    assert_string_equal(r.conversation, "conv:\n1");
    td_content c;
    check(td_content_get(f->svc, r.content_id, &c, &err), &err);
    assert_string_equal(c.uploader, "acct:uma");
    td_content_clear(&c);
    td_report_input_free(owner);
    free(body);

    static const struct {
        const char *top, *msg, *problem, *field;
    } bad[] = {
        {"{\"extra\": 1}", NULL, "unknown_field", "extra"},
        {NULL, "{\"plaintext\": \"x\"}", "unknown_field", "messages[0].plaintext"},
        {"{\"reporter\": \"\"}", NULL, "invalid_field", "reporter"},
        {"{\"reporter\": 7}", NULL, "invalid_field", "reporter"},
        {"{\"reporter\": \"a\\u0001b\"}", NULL, "invalid_field", "reporter"},
        {"{\"reason\": [1]}", NULL, "invalid_field", "reason"},
        {"{\"messages\": []}", NULL, "invalid_field", "messages"},
        {"{\"messages\": {}}", NULL, "invalid_field", "messages"},
        {"{\"messages\": [1]}", NULL, "invalid_field", "messages[0]"},
        {NULL, "{\"salt\": \"00\"}", "invalid_field", "messages[0].salt"},
        {NULL, "{\"salt\": \"zz000000000000000000000000000000\"}", "invalid_field",
         "messages[0].salt"},
        {NULL, "{\"frank\": 5}", "invalid_field", "messages[0].frank"},
        {NULL, "{\"signature\": \"ab\"}", "invalid_field", "messages[0].signature"},
        {NULL, "{\"sender\": \"\"}", "invalid_field", "messages[0].sender"},
        {NULL, "{\"accepted_ms\": -1}", "invalid_field", "messages[0].accepted_ms"},
        {NULL, "{\"accepted_ms\": 1.5}", "invalid_field", "messages[0].accepted_ms"},
        {NULL, "{\"key_id\": 0}", "invalid_field", "messages[0].key_id"},
        {NULL, "{\"key_id\": 4294967296}", "invalid_field", "messages[0].key_id"},
        {NULL, "{\"text\": null}", "invalid_field", "messages[0].text"},
        {NULL, "{\"attachments\": {}}", "invalid_field", "messages[0].attachments"},
        {NULL, "{\"attachments\": [{\"blob\": \"AAAA\", \"key\": \"00\"}]}", "invalid_field",
         "messages[0].attachments[0].key"},
        {NULL,
         "{\"attachments\": [{\"blob\": \"not base64!\", \"key\":"
         " \"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
         "invalid_field", "messages[0].attachments[0].blob"},
        {NULL,
         "{\"attachments\": [{\"blob\": \"AAAA\", \"key\":"
         " \"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
         "invalid_field", "messages[0].attachments[0].blob"},
        {NULL,
         "{\"attachments\": [{\"blob\": \"AAAA\", \"key\":"
         " \"0000000000000000000000000000000000000000000000000000000000000000\", \"name\": 1}]}",
         "unknown_field", "messages[0].attachments[0].name"},
    };
    msg_free(&m);
    msg_init(&m, "x", "acct:uma", "conv:1", T0);
    deliver(f->rep, &m);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *b = body_of(&m, bad[i].top, bad[i].msg);
        expect_parse_refused(b, bad[i].problem, bad[i].field);
        free(b);
    }
    /* missing members */
    static const char *const members[] = {"text",        "salt",   "sender", "conversation",
                                          "accepted_ms", "key_id", "frank",  "signature"};
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        char *b = body_of(&m, NULL, NULL);
        json_t *j = json_loads(b, 0, NULL);
        json_object_del(json_array_get(json_object_get(j, "messages"), 0), members[i]);
        free(b);
        b = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        char field[64];
        snprintf(field, sizeof field, "messages[0].%s", members[i]);
        expect_parse_refused(b, "missing_field", field);
        free(b);
    }
    expect_parse_refused("{\"reason\": \"x\", \"messages\": []}", "missing_field", "reporter");
    expect_parse_refused("[]", "malformed", "");
    expect_parse_refused("{\"reporter\": \"a\", \"reporter\": \"b\"}", "malformed", "");
    expect_parse_refused("{\"reporter\": \"a\"", "malformed", "");
    /* limits */
    char *b = body_of(&m, NULL, NULL);
    json_t *j = json_loads(b, 0, NULL);
    free(b);
    json_t *msgs = json_object_get(j, "messages");
    for (int i = 0; i < TD_REPORT_MESSAGES_MAX; i++)
        json_array_append(msgs, json_array_get(msgs, 0));
    b = json_dumps(j, JSON_COMPACT);
    expect_parse_refused(b, "too_large", "messages");
    free(b);
    json_decref(j);
    char reporter[TD_REPORT_REPORTER_MAX + 2 + 20];
    memset(reporter, 'r', sizeof reporter);
    snprintf(reporter, sizeof reporter, "{\"reporter\": \"%0*d\"}", TD_REPORT_REPORTER_MAX + 1, 0);
    b = body_of(&m, reporter, NULL);
    expect_parse_refused(b, "too_large", "reporter");
    free(b);
    td_report_input in2;
    assert_int_equal(
        td_report_parse("{}", (size_t)TD_REPORT_BODY_MAX + 1, &in2, &owner, &rej, &err),
        TD_ERR_LIMIT);
    assert_string_equal(rej.problem, "too_large");
}

/* Franking at delivery: batches, and a malformed context fails the batch naming its index. */
static void test_frank_batch(void **state)
{
    fixture *f = *state;
    td_error err;
    td_frank_request req[3];
    td_frank_proof out[3];
    memset(req, 0, sizeof req);
    for (int i = 0; i < 3; i++) {
        randombytes_buf(req[i].tag, 32);
        req[i].ctx.sender = "acct:v";
        req[i].ctx.sender_len = 6;
        req[i].ctx.conversation = "conv";
        req[i].ctx.conversation_len = 4;
        req[i].ctx.accepted_ms = T0 + i;
    }
    check(td_reports_frank_batch(f->rep, req, 3, out, &err), &err);
    td_frank_key *keys = NULL;
    size_t nk = 0;
    check(td_reports_keys(f->rep, &keys, &nk, &err), &err);
    for (int i = 0; i < 3; i++) {
        client_msg v;
        memset(&v, 0, sizeof v);
        snprintf(v.sender, sizeof v.sender, "acct:v");
        snprintf(v.conversation, sizeof v.conversation, "conv");
        v.accepted_ms = T0 + i;
        v.proof = out[i];
        assert_true(hand_signature_ok(&v, req[i].tag, keys[0].sign_public));
    }
    td_free(keys);
    req[1].ctx.sender_len = 0;
    assert_int_equal(td_reports_frank_batch(f->rep, req, 3, out, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "[1].sender"));
    assert_int_equal(td_reports_frank_batch(f->rep, req, 0, out, &err), TD_ERR_INVALID);
    assert_int_equal(td_reports_frank_batch(f->rep, req, TD_FRANK_BATCH_MAX + 1, out, &err),
                     TD_ERR_LIMIT);
    td_reports_stats st;
    td_reports_get_stats(f->rep, &st);
    assert_int_equal(st.franked, 3);
}

/* Two nodes on one store: a key made by one is loaded by the other when a frank names it, a
 * rotation reaches the other's franking at its tick, and a destruction by one is refused by the
 * other at once (the destroy time) and wiped from its memory at its tick. */
static void test_two_nodes(void **state)
{
    fixture *f = *state;
    td_error err;
    close_all(f);
    f->ro.rotate_ms = 0;
    f->ro.retention_ms = DAY;
    open_all(f);
    td_service_options so;
    td_service *svc2 = NULL;
    td_reports *rep2 = NULL;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.clock.now_ms = fake_clock;
    so.store_url = td_test_store_url(f->dir);
    check(td_service_open(f->dir, &so, &svc2, &err), &err);
    td_reports_options ro = f->ro;
    ro.evidence = NULL;
    check(td_reports_open(svc2, &ro, &rep2, &err), &err);
    td_frank_key *keys = NULL;
    size_t nk = 0;
    check(td_reports_keys(rep2, &keys, &nk, &err), &err);
    assert_int_equal(nk, 1); /* the first node's key, not a second one */
    td_free(keys);

    /* node 1 rotates; node 2 still franks with key 1 (it has not loaded the change) */
    td_frank_key made;
    check(td_reports_rotate_key(f->rep, "admin", &made, &err), &err);
    client_msg k1, k2;
    msg_init(&k1, "franked by node 2 with key 1", "acct:ann", "conv:40", T0);
    deliver(rep2, &k1);
    assert_int_equal(k1.proof.key_id, 1);
    /* node 2 verifies a frank of the new key at once: an unknown id loads the keys */
    client_msg m;
    msg_init(&m, "franked by node 1", "acct:ann", "conv:40", T0);
    deliver(f->rep, &m);
    assert_int_equal(m.proof.key_id, made.id);
    td_report_message in_msg = as_input(&m);
    td_report_input in = {"acct:ben", NULL, &in_msg, 1, f->plat_a};
    td_report r;
    td_report_rejection rej;
    check(td_report_submit(rep2, &in, &r, &rej, &err), &err);
    assert_int_equal(r.key_id, made.id);
    /* and franks with it from then on (its tick would have loaded it too) */
    msg_init(&k2, "franked by node 2 after loading", "acct:ann", "conv:40", T0);
    deliver(rep2, &k2);
    assert_int_equal(k2.proof.key_id, made.id);

    /* the retention of key 1 ends and node 1 destroys it: node 2, which has not ticked, refuses
     * its franks at once; its tick wipes its copy */
    fake_clock_advance(DAY);
    check(td_reports_tick(f->rep, &err), &err);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM frank_keys WHERE key_id = 1 AND destroyed = 1"
                              " AND hmac_key IS NULL"),
                     1);
    in_msg = as_input(&k1);
    assert_int_equal(td_report_submit(rep2, &in, &r, &rej, &err), TD_ERR_INVALID);
    assert_int_equal(rej.why, TD_FRANK_KEY_DESTROYED);
    check(td_reports_tick(rep2, &err), &err);
    check(td_reports_keys(rep2, &keys, &nk, &err), &err);
    assert_int_equal(nk, 2);
    assert_true(keys[0].destroyed);
    td_free(keys);
    in_msg = as_input(&k2);
    check(td_report_submit(rep2, &in, &r, &rej, &err), &err);
    assert_int_equal(audit_count(f, "frank.key_destroyed", NULL), 1);
    td_reports_close(rep2);
    td_service_close(svc2);
    msg_free(&m);
}

/* Limits before any verification: attachment size, counts, the reporter. */
static void test_limits(void **state)
{
    fixture *f = *state;
    td_error err;
    close_all(f);
    f->ro.max_attachment_bytes = 1000;
    open_all(f);
    uint8_t big[1001];
    memset(big, 'x', sizeof big);
    client_msg m;
    msg_init(&m, "files", "acct:yves", "conv:30", T0 - MIN);
    msg_attach(&m, big, 1000);
    msg_attach(&m, big, 1001);
    deliver(f->rep, &m);
    snapshot before = snap(f);
    td_report outs[TD_REPORT_MESSAGES_MAX + 1];
    td_report_rejection rej;
    client_msg *one[1] = {&m};
    assert_int_equal(submit(f, one, 1, "acct:zoe", NULL, f->plat_a, outs, &rej, &err),
                     TD_ERR_LIMIT);
    assert_string_equal(rej.problem, "too_large");
    assert_string_equal(rej.field, "messages[0].attachments[1]");
    assert_int_equal(submit(f, one, 1, "", NULL, f->plat_a, outs, &rej, &err), TD_ERR_INVALID);
    assert_string_equal(rej.problem, "missing_field");
    assert_string_equal(rej.field, "reporter");
    assert_int_equal(submit(f, one, 1, "acct:\x01zoe", NULL, f->plat_a, outs, &rej, &err),
                     TD_ERR_INVALID);
    assert_string_equal(rej.field, "reporter");
    client_msg *many[TD_REPORT_MESSAGES_MAX + 1];
    for (int i = 0; i <= TD_REPORT_MESSAGES_MAX; i++)
        many[i] = &m;
    assert_int_equal(
        submit(f, many, TD_REPORT_MESSAGES_MAX + 1, "acct:zoe", NULL, f->plat_a, outs, &rej, &err),
        TD_ERR_LIMIT);
    assert_string_equal(rej.field, "messages");
    snapshot after = snap(f);
    assert_same(&before, &after);
    msg_free(&m);
    /* at the limit: accepted */
    msg_init(&m, "files", "acct:yves", "conv:30", T0 - MIN);
    msg_attach(&m, big, 1000);
    deliver(f->rep, &m);
    td_report r;
    submit_ok(f, &m, "acct:zoe", &r);
    assert_int_equal(r.n_attachments, 1);
    msg_free(&m);
}

/* Options from the configuration table. */
static void test_options(void **state)
{
    (void)state;
    td_config *cfg = NULL;
    td_error err;
    td_reports_options o;
    check(td_config_new(&cfg, &err), &err);
    check(td_reports_options_from_config(&o, cfg, &err), &err);
    assert_int_equal(o.rotate_ms, 30 * DAY);
    assert_int_equal(o.retention_ms, 90 * DAY);
    assert_int_equal(o.max_attachment_bytes, 32 << 20);
    check(td_config_set(cfg, "frank_key_rotate_ms", "3600000", &err), &err);
    check(td_config_set(cfg, "report_max_attachment_bytes", "1M", &err), &err);
    check(td_reports_options_from_config(&o, cfg, &err), &err);
    assert_int_equal(o.rotate_ms, HOUR);
    assert_int_equal(o.max_attachment_bytes, 1 << 20);
    td_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_images_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_by_tick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reporters_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attachment_key_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_and_keep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evidence_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_waits_for_master, setup_no_master, teardown),
        cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frank_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_nodes, setup, teardown),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
