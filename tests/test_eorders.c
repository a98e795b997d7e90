/* Evidence orders end to end on a real store (SQLite, or PostgreSQL with TD_TEST_STORE_URL) in a
 * temporary directory with an injected clock (no sleeping): signed intake and every refusal of
 * the document (table-driven, one row per member), the rules (judge for traffic and content,
 * lapsed UK orders, authority kinds), every clock branch (table-driven), escalation marks and
 * breaches, each event, the platform's data (refusals all or nothing, sealing, digests on the
 * log), approvals by distinct legal officers, cannot comply with its pause and restart,
 * correspondence, the outbox, audited reads, metrics and the report, and the audit log verifying
 * after all of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "casework/service_int.h"
#include "support/fake_clock.h"
#include "support/store_url.h"
#include "support/support.h"
#include "takedown/evidence_orders.h"
#include "takedown/evidence_package.h"
#include "takedown/store.h"

#define MIN ((int64_t)60000)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static int64_t T0; /* 2026-12-02T00:00:00Z, set in main */

enum { A_STA, A_GARDA, A_UK, A_US, A_BKA, A_N };
static const char *const auth_names[A_N] = {"StA Berlin", "Garda IE", "Crown Court Southwark",
                                            "US DOJ", "BKA"};
static const td_authority_kind auth_kinds[A_N] = {
    TD_AUTHORITY_EVIDENCE, TD_AUTHORITY_EVIDENCE, TD_AUTHORITY_THIRD_COUNTRY,
    TD_AUTHORITY_THIRD_COUNTRY, TD_AUTHORITY_COMPETENT};
static const char *const auth_states[A_N] = {"DE", "IE", "GB", "US", "DE"};

typedef struct fixture {
    char dir[4096];
    td_service *svc;
    td_orders *orders;
    td_eorders *eo;
    uint8_t pk[A_N][crypto_sign_PUBLICKEYBYTES], sk[A_N][crypto_sign_SECRETKEYBYTES];
    int64_t auth_id[A_N];
    char shares[3][TD_SHARE_TEXT_LEN + 1];
    int serial; /* file numbers of the documents made */
} fixture;

static void check(td_status st, const td_error *err)
{
    if (st)
        fail_msg("%s: %s", td_strerror(st), err->message);
}

static void open_all(fixture *f, const td_eorders_options *eopts)
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
    td_eorders_options o;
    if (eopts)
        o = *eopts;
    else
        td_eorders_options_default(&o);
    o.orders = f->orders;
    check(td_eorders_open(f->svc, &o, &f->eo, &err), &err);
}

static void close_all(fixture *f)
{
    td_eorders_close(f->eo);
    td_orders_close(f->orders);
    td_service_close(f->svc);
    f->eo = NULL;
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
    fake_clock_set(T0 - DAY);
    snprintf(f->dir, sizeof f->dir, "%s", temp_path("eorders-XXXXXX"));
    assert_non_null(mkdtemp(f->dir));
    open_all(f, NULL);
    check(td_webhook_create(f->svc, "http://127.0.0.1:9/hook", "0123456789abcdef0123",
                            TD_EVENT_EVIDENCE_COLLECT, &hook, &err),
          &err);
    if (with_master) {
        const char *names[] = {"legal", "privacy", "auditor"};
        td_share shares[3];
        check(
            td_evidence_init_master(td_eorders_evidence(f->eo), "admin", 2, 3, names, shares, &err),
            &err);
        for (int i = 0; i < 3; i++)
            td_share_format(&shares[i], f->shares[i]);
        sodium_memzero(shares, sizeof shares);
    }
    for (int i = 0; i < A_N; i++) {
        char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
        td_authority a;
        crypto_sign_keypair(f->pk[i], f->sk[i]);
        sodium_bin2hex(hex, sizeof hex, f->pk[i], sizeof f->pk[i]);
        td_authority_input in = {auth_kinds[i],  auth_names[i], auth_states[i],
                                 "desk@example", hex,           0};
        check(td_authority_register(f->orders, "admin", &in, &a, &err), &err);
        f->auth_id[i] = a.id;
    }
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

/* ---- documents ---- */

static const char base_doc[] =
    "{\"framework\": \"eu_epoc\","
    " \"A\": {\"issuing_state\": \"DE\","
    "        \"issuing_authority\": {\"name\": \"StA Berlin\", \"type\": \"public_prosecutor\","
    "                                \"file_number\": \"StA-0\"},"
    "        \"validating_authority\": {\"name\": \"AG Tiergarten\", \"type\": \"judge_or_court\","
    "                                   \"file_number\": \"AG-352\"},"
    "        \"issued_at\": \"2026-12-01T09:00:00Z\"},"
    " \"B\": {\"addressee\": \"Example Platform Ltd\", \"establishment\":"
    "        \"designated_establishment\", \"member_state\": \"IE\"},"
    " \"C\": {\"deadline\": \"ten_days_asap\"},"
    " \"E\": {\"identifiers\": [{\"type\": \"user_id\", \"value\": \"u-1234\"},"
    "                           {\"type\": \"ipv4\", \"value\": \"203.0.113.7\", \"port\": 51234,"
    "                            \"at\": \"2026-11-20T10:00:00Z\"}],"
    "        \"time_range\": {\"from\": \"2026-11-01T00:00:00Z\","
    "                         \"to\": \"2026-11-30T23:59:59Z\"}},"
    " \"F\": {\"data_categories\": [\"subscriber\", \"traffic\", \"content\"],"
    "        \"subscriber\": [\"name\", \"contact\"]},"
    " \"G\": {\"offence\": \"Participation in a terrorist group\","
    "        \"legal_classification\": \"129a StGB\", \"max_penalty_years\": 10,"
    "        \"listed_terrorism\": true, \"summary\": \"The account distributes propaganda.\"},"
    " \"H\": {\"user_information\": \"restricted\"},"
    " \"I\": {\"contact\": {\"name\": \"OStA Example\", \"email\": \"desk@sta.example\"}},"
    " \"K\": {\"contact\": {\"name\": \"Execution desk\", \"email\": \"exec@sta.example\","
    "                       \"phone\": \"+49 30 99\"}},"
    " \"L\": {\"recipient\": \"StA Berlin\", \"member_state\": \"DE\", \"x25519_public_key\":"
    "        \"0101010101010101010101010101010101010101010101010101010101010101\"},"
    " \"language\": \"de\"}";

/* Sets (value: JSON text) or removes (value NULL) the member at path ("A.issuing_authority.type",
 * "E.identifiers[0].type") of doc. */
static void set_path(json_t *doc, const char *path, const char *value)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = doc;
    char *p = buf;
    for (;;) {
        char *dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        char *br = strchr(p, '[');
        size_t idx = 0;
        if (br) {
            *br = '\0';
            idx = (size_t)strtoul(br + 1, NULL, 10);
        }
        if (!dot && !br) {
            if (value) {
                json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
                assert_non_null(v);
                json_object_set_new(cur, p, v);
            } else {
                json_object_del(cur, p);
            }
            return;
        }
        json_t *next = json_object_get(cur, p);
        if (!next && !br && value) {
            next = json_object();
            json_object_set_new(cur, p, next);
        }
        if (br) {
            if (!dot) {
                if (value) {
                    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
                    assert_non_null(v);
                    json_array_set_new(next, idx, v);
                } else {
                    json_array_remove(next, idx);
                }
                return;
            }
            next = json_array_get(next, idx);
        }
        assert_non_null(next);
        cur = next;
        p = dot + 1;
    }
}

/* A document: the base with a fresh file number, then pairs of (path, value) until NULL. */
static char *make_doc(fixture *f, ...)
{
    json_t *doc = json_loads(base_doc, 0, NULL);
    char fn[64];
    va_list ap;
    assert_non_null(doc);
    snprintf(fn, sizeof fn, "\"StA-%d\"", ++f->serial);
    set_path(doc, "A.issuing_authority.file_number", fn);
    va_start(ap, f);
    for (;;) {
        const char *path = va_arg(ap, const char *);
        if (!path)
            break;
        set_path(doc, path, va_arg(ap, const char *));
    }
    va_end(ap);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(text);
    return text;
}

static void sign(const char *body, const uint8_t *sk, char *header, size_t cap)
{
    uint8_t sig[crypto_sign_BYTES];
    char b64[128];
    crypto_sign_detached(sig, NULL, (const uint8_t *)body, strlen(body), sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    snprintf(header, cap, "ed25519=%s", b64);
}

static td_status receive_as(fixture *f, const char *body, int signer, td_eorder_receipt *r,
                            td_eorder_rejection *why, td_error *err)
{
    char header[160];
    sign(body, f->sk[signer], header, sizeof header);
    td_eorder_intake in = {(const uint8_t *)body, strlen(body), header, NULL, NULL, 0, NULL};
    return td_eorder_receive(f->eo, &in, r, why, err);
}

/* Receives body (freed) signed by signer; the receipt must be a new order. */
static int64_t must_receive(fixture *f, char *body, int signer, td_eorder_receipt *r)
{
    td_eorder_receipt local;
    td_eorder_rejection why;
    td_error err;
    if (!r)
        r = &local;
    td_status st = receive_as(f, body, signer, r, &why, &err);
    if (st)
        fail_msg("%s: %s (%s %s)", td_strerror(st), err.message,
                 td_eorder_problem_name(why.problem), why.field);
    free(body);
    assert_false(r->duplicate);
    return r->id;
}

static void get(fixture *f, int64_t id, td_eorder *o)
{
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_error err;
    td_eorder_id_format(id, idt);
    check(td_eorder_get(f->eo, "legal-1", "test", idt, o, &err), &err);
}

static td_status event(fixture *f, int64_t id, const char *json, td_eorder_rejection *why,
                       td_error *err)
{
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    return td_eorder_event(f->eo, "authority:StA Berlin", idt, json, strlen(json), 0, NULL, why,
                           err);
}

static void must_event(fixture *f, int64_t id, const char *json)
{
    td_eorder_rejection why;
    td_error err;
    td_status st = event(f, id, json, &why, &err);
    if (st)
        fail_msg("%s: %s: %s", json, td_strerror(st), err.message);
}

static int audit_count(fixture *f, const char *action)
{
    td_audit *log = td_eorders_audit(f->eo);
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
    check(td_audit_verify_log(td_eorders_audit(f->eo), &rep, &err), &err);
}

/* Messages of the outbox of order id (all states) of kind, counted. */
static int messages(fixture *f, int64_t id, td_eorder_message_kind kind,
                    td_eorder_message_state state)
{
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_message *m = NULL;
    size_t n = 0;
    td_error err;
    int count = 0;
    td_eorder_id_format(id, idt);
    check(td_eorder_outbox_list(f->eo, idt, 0, 0, &m, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        count += m[i].kind == kind && m[i].state == state;
    td_free(m);
    return count;
}

/* "evidence.collect" deliveries queued. */
static int collects(fixture *f)
{
    td_delivery *d = NULL;
    size_t n = 0;
    td_error err;
    int count = 0;
    check(td_delivery_list(f->svc, 0, 1000, &d, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        count += strcmp(d[i].event, "evidence.collect") == 0;
    td_free(d);
    return count;
}

/* ---- parsing: the document, member by member ---- */

typedef struct bad_case {
    const char *path, *value; /* value NULL: removed */
    td_eorder_problem problem;
    const char *field;
} bad_case;

static const bad_case bad_cases[] = {
    {"framework", NULL, TD_EORDER_MISSING_FIELD, "framework"},
    {"framework", "\"eu_epoc_x\"", TD_EORDER_INVALID_FIELD, "framework"},
    {"extra", "1", TD_EORDER_UNKNOWN_FIELD, "extra"},
    {"A", NULL, TD_EORDER_MISSING_FIELD, "A"},
    {"A", "[]", TD_EORDER_INVALID_FIELD, "A"},
    {"A.issuing_state", NULL, TD_EORDER_MISSING_FIELD, "A.issuing_state"},
    {"A.issuing_state", "\"de\"", TD_EORDER_INVALID_FIELD, "A.issuing_state"},
    {"A.issuing_state", "\"US\"", TD_EORDER_INVALID_FIELD, "A.issuing_state"},
    {"A.issuing_authority", NULL, TD_EORDER_MISSING_FIELD, "A.issuing_authority"},
    {"A.issuing_authority.type", "\"police\"", TD_EORDER_INVALID_FIELD, "A.issuing_authority.type"},
    {"A.issuing_authority.file_number", NULL, TD_EORDER_MISSING_FIELD,
     "A.issuing_authority.file_number"},
    {"A.issuing_authority.name", "\"\"", TD_EORDER_MISSING_FIELD, "A.issuing_authority.name"},
    {"A.issuing_authority.seal", "true", TD_EORDER_UNKNOWN_FIELD, "A.issuing_authority.seal"},
    {"A.validating_authority.type", "3", TD_EORDER_INVALID_FIELD, "A.validating_authority.type"},
    {"A.issued_at", "\"2026-12-01 09:00\"", TD_EORDER_INVALID_FIELD, "A.issued_at"},
    {"A.issued_at", NULL, TD_EORDER_MISSING_FIELD, "A.issued_at"},
    {"A.served_at", "\"2026-12-01T10:00:00Z\"", TD_EORDER_INVALID_FIELD, "A.served_at"},
    {"B.addressee", NULL, TD_EORDER_MISSING_FIELD, "B.addressee"},
    {"B.establishment", "\"branch\"", TD_EORDER_INVALID_FIELD, "B.establishment"},
    {"B.member_state", "\"IRL\"", TD_EORDER_INVALID_FIELD, "B.member_state"},
    {"C", NULL, TD_EORDER_MISSING_FIELD, "C"},
    {"C.deadline", NULL, TD_EORDER_MISSING_FIELD, "C.deadline"},
    {"C.deadline", "\"tomorrow\"", TD_EORDER_INVALID_FIELD, "C.deadline"},
    {"C.deadline", "\"eight_hours\"", TD_EORDER_MISSING_FIELD, "C.emergency_reason"},
    {"C.emergency_reason", "\"life\"", TD_EORDER_INVALID_FIELD, "C.emergency_reason"},
    {"C.compliance_period_days", "10", TD_EORDER_INVALID_FIELD, "C.compliance_period_days"},
    {"C.deadline", "\"ten_days_enforcing\"", TD_EORDER_INVALID_FIELD, "C.deadline"},
    {"D.earlier_order", "{\"framework\": \"uk_opo\", \"reference\": \"x\"}",
     TD_EORDER_INVALID_FIELD, "D.earlier_order.framework"},
    {"D.earlier_order", "{\"framework\": \"eu_epoc_pr\"}", TD_EORDER_MISSING_FIELD,
     "D.earlier_order.reference"},
    {"D.later", "{}", TD_EORDER_UNKNOWN_FIELD, "D.later"},
    {"E.identifiers", "[]", TD_EORDER_MISSING_FIELD, "E.identifiers"},
    {"E.identifiers", NULL, TD_EORDER_MISSING_FIELD, "E.identifiers"},
    {"E.identifiers[0].type", "\"imei\"", TD_EORDER_INVALID_FIELD, "E.identifiers[0].type"},
    {"E.identifiers[0].type", NULL, TD_EORDER_MISSING_FIELD, "E.identifiers[0].type"},
    {"E.identifiers[0].value", "\"\"", TD_EORDER_MISSING_FIELD, "E.identifiers[0].value"},
    {"E.identifiers[0].port", "80", TD_EORDER_INVALID_FIELD, "E.identifiers[0].port"},
    {"E.identifiers[1].value", "\"203.0.113.300\"", TD_EORDER_INVALID_FIELD,
     "E.identifiers[1].value"},
    {"E.identifiers[1].port", "70000", TD_EORDER_INVALID_FIELD, "E.identifiers[1].port"},
    {"E.identifiers[1].at", NULL, TD_EORDER_MISSING_FIELD, "E.identifiers[1].at"},
    {"E.identifiers[1]",
     "{\"type\": \"ipv6_range\", \"value\": \"2001:db8::/129\", \"at\":"
     " \"2026-11-20T10:00:00Z\"}",
     TD_EORDER_INVALID_FIELD, "E.identifiers[1].value"},
    {"E.identifiers[1]", "{\"type\": \"email\", \"value\": \"nobody\"}", TD_EORDER_INVALID_FIELD,
     "E.identifiers[1].value"},
    {"E.identifiers[1]", "{\"type\": \"content_url\", \"value\": \"ftp://x\"}",
     TD_EORDER_INVALID_FIELD, "E.identifiers[1].value"},
    {"E.identifiers[1]", "{\"type\": \"phone\", \"value\": \"call me\"}", TD_EORDER_INVALID_FIELD,
     "E.identifiers[1].value"},
    {"E.identifiers[0].value", "\"u\\u202e1\"", TD_EORDER_INVALID_FIELD, "E.identifiers[0].value"},
    {"E.time_range", NULL, TD_EORDER_MISSING_FIELD, "E.time_range"},
    {"E.time_range.to", "\"2026-10-01T00:00:00Z\"", TD_EORDER_INVALID_FIELD, "E.time_range.to"},
    {"F.data_categories", "[]", TD_EORDER_MISSING_FIELD, "F.data_categories"},
    {"F.data_categories", "[\"location\"]", TD_EORDER_INVALID_FIELD, "F.data_categories[0]"},
    {"F.data_categories", "[\"content\", \"content\"]", TD_EORDER_INVALID_FIELD,
     "F.data_categories[1]"},
    {"F.data_categories", "[\"traffic\"]", TD_EORDER_INVALID_FIELD, "F.subscriber"},
    {"F.subscriber", "[\"shoe_size\"]", TD_EORDER_INVALID_FIELD, "F.subscriber[0]"},
    {"G.offence", NULL, TD_EORDER_MISSING_FIELD, "G.offence"},
    {"G.summary", "\"bell\\u0007\"", TD_EORDER_INVALID_FIELD, "G.summary"},
    {"G.max_penalty_years", "\"ten\"", TD_EORDER_INVALID_FIELD, "G.max_penalty_years"},
    {"G",
     "{\"offence\": \"o\", \"legal_classification\": \"l\", \"summary\": \"s\","
     " \"max_penalty_years\": 2, \"listed_terrorism\": false}",
     TD_EORDER_INVALID_FIELD, "G.max_penalty_years"},
    {"H.user_information", "\"maybe\"", TD_EORDER_INVALID_FIELD, "H.user_information"},
    {"H.user_information", "\"delayed\"", TD_EORDER_MISSING_FIELD, "H.until"},
    {"H.until", "\"2027-06-01T00:00:00Z\"", TD_EORDER_INVALID_FIELD, "H.until"},
    {"I.contact", "{}", TD_EORDER_MISSING_FIELD, "I.contact."},
    {"K", NULL, TD_EORDER_MISSING_FIELD, "K"},
    {"K.contact", "{\"name\": \"desk\"}", TD_EORDER_MISSING_FIELD, "K.contact.email"},
    {"L.x25519_public_key", "\"short\"", TD_EORDER_INVALID_FIELD, "L.x25519_public_key"},
    {"L.recipient", NULL, TD_EORDER_MISSING_FIELD, "L.recipient"},
    {"enforcing_state_notified", "\"yes\"", TD_EORDER_INVALID_FIELD, "enforcing_state_notified"},
    {"ext_id", "\"a b\"", TD_EORDER_INVALID_FIELD, "ext_id"},
    {"ext_id", "\"eo-5\"", TD_EORDER_INVALID_FIELD, "ext_id"},
    {"language", "\"d\"", TD_EORDER_INVALID_FIELD, "language"},
};

static void test_parse_fields(void **state)
{
    fixture *f = *state;
    td_eorder_doc *doc = malloc(sizeof *doc);
    assert_non_null(doc);
    /* The base document parses. */
    td_eorder_rejection why;
    td_error err;
    char *body = make_doc(f, NULL);
    check(td_eorder_parse(body, strlen(body), doc, &why, &err), &err);
    assert_int_equal(doc->framework, TD_EORDER_EU_EPOC);
    assert_int_equal(doc->categories,
                     TD_EORDER_CAT_SUBSCRIBER | TD_EORDER_CAT_TRAFFIC | TD_EORDER_CAT_CONTENT);
    assert_int_equal(doc->subscriber, TD_EORDER_SUB_NAME | TD_EORDER_SUB_CONTACT);
    assert_int_equal(doc->n_identifiers, 2);
    assert_int_equal(doc->identifiers[1].port, 51234);
    assert_int_equal(doc->identifiers[0].port, -1);
    assert_int_equal(doc->recipient_key[0], 1);
    assert_true(td_eorder_doc_executable(doc));
    free(body);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        body = make_doc(f, c->path, c->value, NULL);
        memset(&why, 0, sizeof why);
        td_status st = td_eorder_parse(body, strlen(body), doc, &why, &err);
        if (st == TD_OK || why.problem != c->problem || strcmp(why.field, c->field) != 0)
            fail_msg("case %zu (%s = %s): got %s, %s \"%s\" (%s); expected %s \"%s\"", i, c->path,
                     c->value ? c->value : "(removed)", td_strerror(st),
                     td_eorder_problem_name(why.problem), why.field, err.message,
                     td_eorder_problem_name(c->problem), c->field);
        free(body);
    }
    /* Not JSON, not an object, too large. */
    assert_int_equal(td_eorder_parse("{", 1, doc, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_MALFORMED);
    assert_int_equal(td_eorder_parse("[]", 2, doc, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_MALFORMED);
    assert_int_equal(td_eorder_parse("{}", TD_EORDER_MAX_BODY + 1, doc, &why, &err), TD_ERR_LIMIT);
    assert_int_equal(why.problem, TD_EORDER_TOO_LARGE);
    /* Frameworks other than eu_epoc: their own C. */
    body = make_doc(f, "framework", "\"uk_opo\"", "A.issuing_state", "\"GB\"", "C",
                    "{\"compliance_period_days\": 7}", NULL);
    check(td_eorder_parse(body, strlen(body), doc, &why, &err), &err);
    assert_int_equal(doc->compliance_period_ms, 7 * DAY);
    free(body);
    body = make_doc(f, "framework", "\"us_cloud_act\"", "A.issuing_state", "\"US\"", "C",
                    "{\"compliance_period_hours\": 48}", NULL);
    check(td_eorder_parse(body, strlen(body), doc, &why, &err), &err);
    assert_int_equal(doc->compliance_period_ms, 48 * HOUR);
    free(body);
    body = make_doc(f, "framework", "\"uk_opo\"", "A.issuing_state", "\"GB\"", "C", "{}", NULL);
    assert_int_equal(td_eorder_parse(body, strlen(body), doc, &why, &err), TD_ERR_INVALID);
    assert_string_equal(why.field, "C.compliance_period_days");
    free(body);
    body = make_doc(f, "framework", "\"eu_epoc_pr\"", "C", NULL, NULL);
    check(td_eorder_parse(body, strlen(body), doc, &why, &err), &err);
    free(body);
    /* A preservation order by a prosecutor alone for content: allowed (executable). */
    body =
        make_doc(f, "framework", "\"eu_epoc_pr\"", "C", NULL, "A.validating_authority", NULL, NULL);
    check(td_eorder_parse(body, strlen(body), doc, &why, &err), &err);
    assert_true(td_eorder_doc_executable(doc));
    free(body);
    /* A production order by a prosecutor alone: parses, not executable. */
    body = make_doc(f, "A.validating_authority", NULL, NULL);
    check(td_eorder_parse(body, strlen(body), doc, &why, &err), &err);
    assert_false(td_eorder_doc_executable(doc));
    free(body);
    /* Subscriber only: a prosecutor suffices. */
    body =
        make_doc(f, "A.validating_authority", NULL, "F.data_categories", "[\"subscriber\"]", NULL);
    check(td_eorder_parse(body, strlen(body), doc, &why, &err), &err);
    assert_true(td_eorder_doc_executable(doc));
    assert_int_equal(doc->subscriber, TD_EORDER_SUB_NAME | TD_EORDER_SUB_CONTACT);
    free(body);
    free(doc);
}

typedef struct event_case {
    const char *json;
    td_eorder_problem problem;
    const char *field;
} event_case;

static void test_parse_events(void **state)
{
    (void)state;
    static const event_case bad[] = {
        {"{}", TD_EORDER_MISSING_FIELD, "action"},
        {"{\"action\": \"ignore\"}", TD_EORDER_INVALID_FIELD, "action"},
        {"{\"action\": \"withdraw\", \"deadline\": \"2027-01-01T00:00:00Z\"}",
         TD_EORDER_UNKNOWN_FIELD, "deadline"},
        {"{\"action\": \"new_deadline\"}", TD_EORDER_MISSING_FIELD, "deadline"},
        {"{\"action\": \"new_deadline\", \"deadline\": \"soon\"}", TD_EORDER_INVALID_FIELD,
         "deadline"},
        {"{\"action\": \"grounds\"}", TD_EORDER_MISSING_FIELD, "kind"},
        {"{\"action\": \"grounds\", \"kind\": \"some\"}", TD_EORDER_INVALID_FIELD, "kind"},
        {"{\"action\": \"grounds\", \"kind\": \"partial\", \"ground\": \"ne_bis_in_idem\"}",
         TD_EORDER_MISSING_FIELD, "categories"},
        {"{\"action\": \"grounds\", \"kind\": \"full\"}", TD_EORDER_MISSING_FIELD, "ground"},
        {"{\"action\": \"grounds\", \"kind\": \"full\", \"ground\": \"taste\"}",
         TD_EORDER_INVALID_FIELD, "ground"},
        {"{\"action\": \"grounds\", \"kind\": \"none\", \"ground\": \"ne_bis_in_idem\"}",
         TD_EORDER_INVALID_FIELD, "ground"},
        {"{\"action\": \"grounds\", \"kind\": \"full\", \"ground\": \"ne_bis_in_idem\","
         " \"categories\": [\"content\"]}",
         TD_EORDER_INVALID_FIELD, "categories"},
        {"{\"action\": \"grounds\", \"kind\": \"partial\", \"ground\": \"ne_bis_in_idem\","
         " \"categories\": [\"video\"]}",
         TD_EORDER_INVALID_FIELD, "categories[0]"},
        {"{\"action\": \"correspondence\", \"kind\": \"other\"}", TD_EORDER_MISSING_FIELD, "text"},
        {"{\"action\": \"correspondence\", \"kind\": \"gossip\", \"text\": \"x\"}",
         TD_EORDER_INVALID_FIELD, "kind"},
        {"{\"action\": \"correction\", \"sections\": []}", TD_EORDER_INVALID_FIELD, "sections"},
        {"{\"action\": \"correction\", \"sections\": {}}", TD_EORDER_INVALID_FIELD, "sections"},
        {"{\"action\": \"extend_preservation\", \"days\": 30}", TD_EORDER_UNKNOWN_FIELD, "days"},
        {"[1]", TD_EORDER_MALFORMED, "event"},
    };
    td_eorder_event_doc ev;
    td_eorder_rejection why;
    td_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        td_status st = td_eorder_event_parse(bad[i].json, strlen(bad[i].json), &ev, &why, &err);
        if (st == TD_OK || why.problem != bad[i].problem || strcmp(why.field, bad[i].field) != 0)
            fail_msg("event %zu %s: got %s %s \"%s\"", i, bad[i].json, td_strerror(st),
                     td_eorder_problem_name(why.problem), why.field);
    }
    const char *ok = "{\"action\": \"grounds\", \"kind\": \"partial\", \"categories\":"
                     " [\"content\"], \"ground\": \"fundamental_rights\", \"text\": \"why\"}";
    check(td_eorder_event_parse(ok, strlen(ok), &ev, &why, &err), &err);
    assert_int_equal(ev.action, TD_EORDER_GROUNDS);
    assert_int_equal(ev.grounds, TD_EORDER_GROUNDS_PARTIAL);
    assert_int_equal(ev.grounds_categories, TD_EORDER_CAT_CONTENT);
    assert_int_equal(ev.ground, TD_EORDER_R_GROUND_FUNDAMENTAL_RIGHTS);
    assert_string_equal(td_eorder_reason_name(ev.ground), "fundamental_rights");
    td_eorder_event_doc_clear(&ev);
    ok = "{\"action\": \"correction\", \"sections\": {\"G\": {\"offence\": \"x\"}}}";
    check(td_eorder_event_parse(ok, strlen(ok), &ev, &why, &err), &err);
    assert_non_null(ev.sections);
    td_eorder_event_doc_clear(&ev);
    assert_null(ev.sections);
}

static void test_names(void **state)
{
    (void)state;
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(42, idt);
    assert_string_equal(idt, "eo-42");
    assert_int_equal(td_eorder_id_parse("eo-42"), 42);
    assert_int_equal(td_eorder_id_parse("eo-042"), 0);
    assert_int_equal(td_eorder_id_parse("eo-"), 0);
    assert_int_equal(td_eorder_id_parse("eo-99999999999999999999"), 0);
    assert_int_equal(td_eorder_id_parse("42"), 0);
    td_eorder_id_format(INT64_MAX, idt);
    assert_int_equal(td_eorder_id_parse(idt), INT64_MAX);
    assert_string_equal(td_eorder_state_name(TD_EORDER_NOT_EXECUTED), "not_executed");
    assert_string_equal(td_eorder_state_name((td_eorder_state)99), "unknown");
    assert_string_equal(td_eorder_problem_name(TD_EORDER_LAPSED), "lapsed");
    assert_string_equal(td_eorder_category_name(TD_EORDER_CAT_TRAFFIC), "traffic");
    assert_int_equal(td_eorder_category_parse("content"), TD_EORDER_CAT_CONTENT);
    assert_int_equal(td_eorder_subscriber_parse("service_type"), TD_EORDER_SUB_SERVICE_TYPE);
    td_eorder_reason r;
    assert_int_equal(td_eorder_reason_parse("conflict_of_law", &r), TD_OK);
    assert_int_equal(r, TD_EORDER_R_CONFLICT_OF_LAW);
    assert_int_equal(td_eorder_reason_parse("fundamental_rights", &r), TD_ERR_INVALID);
    td_eorder_framework fw;
    assert_int_equal(td_eorder_framework_parse("uk_opo", &fw), TD_OK);
    assert_int_equal(fw, TD_EORDER_UK_OPO);
    assert_string_equal(td_event_name(TD_EVENT_EVIDENCE_COLLECT), "evidence.collect");
    td_role role;
    assert_int_equal(td_role_parse("legal", &role), TD_OK);
    assert_int_equal(role, TD_ROLE_LEGAL);
    assert_string_equal(td_role_name(TD_ROLE_LEGAL), "legal");
    td_authority_kind k;
    assert_int_equal(td_authority_kind_parse("third_country", &k), TD_OK);
    assert_int_equal(k, TD_AUTHORITY_THIRD_COUNTRY);
    assert_string_equal(td_authority_kind_name(TD_AUTHORITY_EVIDENCE), "evidence");
}

/* ---- intake ---- */

static void test_intake(void **state)
{
    fixture *f = *state;
    td_eorder_receipt r;
    td_eorder_rejection why;
    td_error err;
    uint64_t size0 = 0, size1 = 0;
    char *body = make_doc(f, "ext_id", "\"6f1c2f3a-0000-4000-8000-000000000001\"", NULL);
    int64_t id = must_receive(f, body, A_STA, &r);
    assert_int_equal(r.state, TD_EORDER_COLLECTING);
    assert_int_equal(r.received_ms, T0);
    assert_int_equal(r.deadlines.due_ms, T0 + 10 * DAY);
    assert_int_equal(r.deadlines.collect_ms, T0 + DAY);
    assert_string_equal(r.id_text + 3, r.id_text + 3);
    assert_int_equal(td_eorder_id_parse(r.id_text), id);
    assert_int_equal(strlen(r.body_sha256), 64);
    assert_int_equal(audit_count(f, "eorder.received"), 1);
    assert_int_equal(collects(f), 1);
    /* The same order again (same ext_id): the stored receipt, nothing new. */
    body = make_doc(f, "ext_id", "\"6f1c2f3a-0000-4000-8000-000000000001\"", NULL);
    check(receive_as(f, body, A_STA, &r, &why, &err), &err);
    free(body);
    assert_true(r.duplicate);
    assert_int_equal(r.id, id);
    assert_int_equal(audit_count(f, "eorder.received"), 1);
    /* Found by ext_id. */
    td_eorder *o = malloc(sizeof *o);
    assert_non_null(o);
    check(td_eorder_get(f->eo, "legal-1", "check", "6f1c2f3a-0000-4000-8000-000000000001", o, &err),
          &err);
    assert_int_equal(o->id, id);
    assert_string_equal(o->doc.ext_id, "6f1c2f3a-0000-4000-8000-000000000001");
    assert_int_equal(o->approvals_needed, 2); /* content data */
    free(o);
    /* The same file number again: duplicate. */
    f->serial = 0;
    body = make_doc(f, NULL);
    check(receive_as(f, body, A_STA, &r, &why, &err), &err);
    free(body);
    assert_true(r.duplicate);
    /* Unsigned, a bad signature, a tampered body, another authority's key, an unknown one. */
    body = make_doc(f, NULL);
    td_eorder_intake in = {(const uint8_t *)body, strlen(body), NULL, NULL, NULL, 0, NULL};
    assert_int_equal(td_eorder_receive(f->eo, &in, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_UNSIGNED);
    in.signature = "ed25519=AAAA";
    assert_int_equal(td_eorder_receive(f->eo, &in, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_BAD_SIGNATURE);
    assert_int_equal(receive_as(f, body, A_GARDA, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_BAD_SIGNATURE);
    char header[160];
    sign(body, f->sk[A_STA], header, sizeof header);
    body[strlen(body) - 2] ^= 1;
    in.signature = header;
    assert_int_equal(td_eorder_receive(f->eo, &in, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_BAD_SIGNATURE);
    free(body);
    body = make_doc(f, "A.issuing_authority.name", "\"Nobody\"", NULL);
    assert_int_equal(receive_as(f, body, A_STA, &r, &why, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(why.problem, TD_EORDER_UNKNOWN_AUTHORITY);
    assert_string_equal(why.field, "A.issuing_authority.name");
    free(body);
    /* Too large. */
    in.len = TD_EORDER_MAX_BODY + 1;
    assert_int_equal(td_eorder_receive(f->eo, &in, &r, &why, &err), TD_ERR_LIMIT);
    assert_int_equal(why.problem, TD_EORDER_TOO_LARGE);
    /* A signed document with an invalid member: 422 naming it, nothing recorded. */
    check(td_audit_size(td_eorders_audit(f->eo), &size0, &err), &err);
    body = make_doc(f, "E.identifiers[0].type", "\"imei\"", NULL);
    assert_int_equal(receive_as(f, body, A_STA, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_INVALID_FIELD);
    assert_string_equal(why.field, "E.identifiers[0].type");
    free(body);
    check(td_audit_size(td_eorders_audit(f->eo), &size1, &err), &err);
    assert_int_equal(size0, size1);
    /* Authority kinds: a removal-order authority (competent) may issue EU evidence orders; a
     * third-country authority may not; an evidence authority sends no removal orders. */
    body = make_doc(f, "A.issuing_authority.name", "\"BKA\"", NULL);
    must_receive(f, body, A_BKA, NULL);
    body = make_doc(f, "A.issuing_authority.name", "\"US DOJ\"", NULL);
    assert_int_equal(receive_as(f, body, A_US, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_WRONG_AUTHORITY);
    free(body);
    body = make_doc(f, "A.issuing_authority.name", "\"Garda IE\"", NULL); /* IE, not DE */
    assert_int_equal(receive_as(f, body, A_GARDA, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_WRONG_AUTHORITY);
    free(body);
    const char *removal = "{\"type\":\"removal_order\"}";
    sign(removal, f->sk[A_STA], header, sizeof header);
    td_order_receipt orr;
    td_order_rejection owhy;
    /* (an unnamed body: the signer is looked up, found, then refused by kind or document) */
    assert_int_not_equal(td_order_receive(f->orders, TD_ORDER_REMOVAL, (const uint8_t *)removal,
                                          strlen(removal), header, 0, &orr, &owhy, &err),
                         TD_OK);
    /* The API key must belong to the issuing authority. */
    char key[TD_KEY_TEXT_MAX];
    td_key_info ki;
    check(td_key_create(f->svc, TD_ROLE_AUTHORITY, "garda", key, &ki, &err), &err);
    check(td_authority_link_key(f->orders, "admin", f->auth_id[A_GARDA], ki.id, &err), &err);
    body = make_doc(f, NULL);
    sign(body, f->sk[A_STA], header, sizeof header);
    td_eorder_intake kin = {(const uint8_t *)body, strlen(body), header, NULL, NULL, ki.id, NULL};
    assert_int_equal(td_eorder_receive(f->eo, &kin, &r, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_WRONG_AUTHORITY);
    /* A transport that authenticated the sender: no signature. */
    kin.signature = NULL;
    kin.transport = "etsi_xml";
    kin.caller_key_id = 0;
    check(td_eorder_receive(f->eo, &kin, &r, &why, &err), &err);
    assert_int_equal(r.state, TD_EORDER_COLLECTING);
    free(body);
    log_verifies(f);
}

/* The rules: no judge for traffic or content, lapsed UK orders. */
static void test_rules(void **state)
{
    fixture *f = *state;
    td_eorder_receipt r;
    td_eorder_rejection why;
    td_error err;
    int before = collects(f);
    char *body = make_doc(f, "A.validating_authority", NULL, NULL);
    int64_t id = must_receive(f, body, A_STA, &r);
    assert_int_equal(r.state, TD_EORDER_NOT_EXECUTED);
    assert_int_equal(r.reason, TD_EORDER_R_INVALID_ISSUING_AUTHORITY);
    assert_int_equal(r.deadlines.due_ms, 0);
    assert_int_equal(collects(f), before); /* nothing collected */
    assert_int_equal(messages(f, id, TD_EORDER_MSG_NON_EXECUTION, TD_EORDER_MSG_PENDING), 1);
    /* No data for it. */
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    td_eorder_record rec = {TD_EORDER_CAT_SUBSCRIBER, NULL, 0, NULL, NULL, 0, NULL};
    assert_int_equal(td_eorder_put_data(f->eo, "platform", idt, &rec, 1, NULL, &why, &err),
                     TD_ERR_CONFLICT);
    /* A prosecutor and an investigating judge: fine. */
    body = make_doc(f, "A.validating_authority.type", "\"investigating_judge\"", NULL);
    must_receive(f, body, A_STA, &r);
    assert_int_equal(r.state, TD_EORDER_COLLECTING);
    /* A correction naming a judge makes the refused order executable. */
    must_event(f, id,
               "{\"action\": \"correction\", \"sections\": {\"A\": {\"issuing_state\": \"DE\","
               " \"issuing_authority\": {\"name\": \"StA Berlin\", \"type\":"
               " \"public_prosecutor\", \"file_number\": \"StA-fixed\"},"
               " \"validating_authority\": {\"name\": \"AG\", \"type\": \"judge_or_court\","
               " \"file_number\": \"AG-9\"}, \"issued_at\": \"2026-12-01T09:00:00Z\"}}}");
    td_eorder *o = malloc(sizeof *o);
    get(f, id, o);
    assert_int_equal(o->state, TD_EORDER_COLLECTING);
    assert_int_equal(o->deadlines.due_ms, T0 + 10 * DAY);
    assert_string_equal(o->doc.issuing_authority.file_number, "StA-fixed");
    free(o);

    /* uk_opo: served within three months: accepted; later: lapsed, only the refusal logged. */
    static const struct {
        const char *issued, *served;
        int lapsed;
    } opo[] = {
        {"2026-09-02T00:00:00Z", "2026-12-02T00:00:00Z", 0}, /* exactly three months */
        {"2026-09-01T23:59:59Z", "2026-12-02T00:00:00Z", 1},
        {"2026-08-31T12:00:00Z", "2026-11-30T12:00:00Z", 0}, /* 31 Aug + 3 months = 30 Nov */
        {"2026-08-31T12:00:00Z", "2026-11-30T12:00:01Z", 1},
        {"2026-11-30T00:00:00Z", NULL, 0}, /* served: receipt */
        {"2026-08-01T00:00:00Z", NULL, 1},
    };
    for (size_t i = 0; i < sizeof opo / sizeof opo[0]; i++) {
        char issued[64], served[64];
        snprintf(issued, sizeof issued, "\"%s\"", opo[i].issued);
        snprintf(served, sizeof served, "\"%s\"", opo[i].served ? opo[i].served : "");
        int refused = audit_count(f, "eorder.refused");
        body = make_doc(f, "framework", "\"uk_opo\"", "A.issuing_state", "\"GB\"",
                        "A.issuing_authority.name", "\"Crown Court Southwark\"",
                        "A.issuing_authority.type", "\"judge_or_court\"", "A.issued_at", issued,
                        "A.served_at", opo[i].served ? served : NULL, "C",
                        "{\"compliance_period_days\": 7}", "B.member_state", "\"GB\"", NULL);
        td_status st = receive_as(f, body, A_UK, &r, &why, &err);
        free(body);
        if (opo[i].lapsed) {
            assert_int_equal(st, TD_ERR_INVALID);
            assert_int_equal(why.problem, TD_EORDER_LAPSED);
            assert_int_equal(audit_count(f, "eorder.refused"), refused + 1);
        } else {
            check(st, &err);
            assert_int_equal(r.deadlines.due_ms, T0 + 7 * DAY);
        }
    }
    log_verifies(f);
}

/* ---- clocks ---- */

typedef struct clock_case {
    const char *name;
    const char *framework, *state, *issuer, *c_section, *enforcing;
    int64_t due, transmit_from, preserve_until, grounds_until, collect;
} clock_case;

static void test_clock_table(void **state)
{
    fixture *f = *state;
    static const clock_case cases[] = {
        {"ten_days_asap", "\"eu_epoc\"", "\"DE\"", "\"StA Berlin\"",
         "{\"deadline\": \"ten_days_asap\"}", NULL, 10 * DAY, 0, 0, 0, DAY},
        {"ten_days_enforcing", "\"eu_epoc\"", "\"DE\"", "\"StA Berlin\"",
         "{\"deadline\": \"ten_days_enforcing\"}", "true", 11 * DAY, 10 * DAY, 0, 0, DAY},
        {"eight_hours", "\"eu_epoc\"", "\"DE\"", "\"StA Berlin\"",
         "{\"deadline\": \"eight_hours\", \"emergency_reason\": \"life\"}", NULL, 8 * HOUR, 0, 0,
         96 * HOUR, 4 * HOUR},
        {"eu_epoc_pr", "\"eu_epoc_pr\"", "\"DE\"", "\"StA Berlin\"", NULL, NULL, 0, -1, 60 * DAY, 0,
         DAY},
        {"uk_opo", "\"uk_opo\"", "\"GB\"", "\"Crown Court Southwark\"",
         "{\"compliance_period_days\": 7}", NULL, 7 * DAY, 0, 0, 0, DAY},
        {"us_cloud_act", "\"us_cloud_act\"", "\"US\"", "\"US DOJ\"",
         "{\"compliance_period_hours\": 36}", NULL, 36 * HOUR, 0, 0, 0, 18 * HOUR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const clock_case *c = &cases[i];
        td_eorder_receipt r;
        int signer = c->issuer[1] == 'C' ? A_UK : c->issuer[1] == 'U' ? A_US : A_STA;
        char *body = make_doc(f, "framework", c->framework, "A.issuing_state", c->state,
                              "A.issuing_authority.name", c->issuer, "A.validating_authority.type",
                              "\"judge_or_court\"", "C", c->c_section, "enforcing_state_notified",
                              c->enforcing, NULL);
        must_receive(f, body, signer, &r);
        const td_eorder_deadlines *d = &r.deadlines;
        if (d->due_ms != (c->due ? T0 + c->due : 0) ||
            d->transmit_from_ms != (c->transmit_from >= 0 ? T0 + c->transmit_from : 0) ||
            d->preserve_until_ms != (c->preserve_until ? T0 + c->preserve_until : 0) ||
            d->grounds_until_ms != (c->grounds_until ? T0 + c->grounds_until : 0) ||
            d->collect_ms != T0 + c->collect)
            fail_msg("%s: due %+lld transmit %+lld preserve %+lld grounds %+lld collect %+lld",
                     c->name, (long long)(d->due_ms - T0), (long long)(d->transmit_from_ms - T0),
                     (long long)(d->preserve_until_ms - T0), (long long)(d->grounds_until_ms - T0),
                     (long long)(d->collect_ms - T0));
    }
}

/* Marks at 50, 75, 90 % of each period; the breach at the deadline; each once. */
static void test_escalation_breach(void **state)
{
    fixture *f = *state;
    td_eorders_tick_result t;
    td_error err;
    char *body =
        make_doc(f, "C", "{\"deadline\": \"eight_hours\", \"emergency_reason\": \"life\"}", NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    static const struct {
        int64_t at;
        size_t escalations, breaches;
        int level;
    } steps[] = {
        {4 * HOUR - 1, 0, 0, 0},
        {4 * HOUR, 1, 0, 1},
        {4 * HOUR + MIN, 0, 0, 1},
        {6 * HOUR, 1, 0, 2},
        {7 * HOUR + 12 * MIN, 1, 0, 3},
        {8 * HOUR - 1, 0, 0, 3},
        {8 * HOUR, 0, 1, 3},
        {9 * HOUR, 0, 0, 3},
    };
    td_eorder *o = malloc(sizeof *o);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        fake_clock_set(T0 + steps[i].at);
        check(td_eorders_tick(f->eo, &t, &err), &err);
        if (t.escalations != steps[i].escalations || t.breaches != steps[i].breaches)
            fail_msg("step %zu: %zu escalations %zu breaches", i, t.escalations, t.breaches);
        get(f, id, o);
        assert_int_equal(o->escalation, steps[i].level);
    }
    assert_int_equal(o->breached_ms, T0 + 8 * HOUR);
    assert_int_equal(audit_count(f, "eorder.escalated"), 3);
    assert_int_equal(audit_count(f, "eorder.breached"), 1);
    td_eorders_metrics m;
    check(td_eorders_metrics_get(f->eo, &m, &err), &err);
    assert_int_equal(m.breaches, 1);
    assert_int_equal(m.escalation_marks, 3);
    assert_int_equal(m.open_escalated, 1);
    assert_int_equal(m.by_state[TD_EORDER_COLLECTING], 1);
    assert_int_equal(m.open, 1);
    /* A new deadline replaces the old: marks start again, measured on the new period. */
    char dl[96], t1[32];
    td_order_time_format(T0 + 17 * HOUR, t1);
    snprintf(dl, sizeof dl, "{\"action\": \"new_deadline\", \"deadline\": \"%s\"}", t1);
    must_event(f, id, dl);
    get(f, id, o);
    assert_int_equal(o->deadlines.due_ms, T0 + 17 * HOUR);
    assert_int_equal(o->escalation, 0);
    fake_clock_set(T0 + 9 * HOUR); /* 9/17 = 53 %: the first mark again */
    check(td_eorders_tick(f->eo, &t, &err), &err);
    assert_int_equal(t.escalations, 1);
    /* A past deadline is refused. */
    td_eorder_rejection why;
    td_order_time_format(T0, t1);
    snprintf(dl, sizeof dl, "{\"action\": \"new_deadline\", \"deadline\": \"%s\"}", t1);
    assert_int_equal(event(f, id, dl, &why, &err), TD_ERR_INVALID);
    assert_string_equal(why.field, "deadline");
    free(o);
    log_verifies(f);
}

/* Preservation: 60 days, +30 once, held while a linked production is pending, ended early. */
static void test_preservation(void **state)
{
    fixture *f = *state;
    td_eorders_tick_result t;
    td_eorder_rejection why;
    td_error err;
    td_eorder_receipt r;
    td_eorder *o = malloc(sizeof *o);
    char *body = make_doc(f, "framework", "\"eu_epoc_pr\"", "C", NULL, NULL);
    int64_t pr = must_receive(f, body, A_STA, &r);
    char pr_ref[64];
    snprintf(pr_ref, sizeof pr_ref, "\"StA-%d\"", f->serial);
    /* Events a preservation order does not take. */
    assert_int_equal(event(f, pr, "{\"action\": \"grounds\", \"kind\": \"none\"}", &why, &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(why.problem, TD_EORDER_CONFLICT);
    must_event(f, pr, "{\"action\": \"extend_preservation\"}");
    get(f, pr, o);
    assert_int_equal(o->deadlines.preserve_until_ms, T0 + 90 * DAY);
    assert_true(o->extended);
    assert_int_equal(event(f, pr, "{\"action\": \"extend_preservation\"}", &why, &err),
                     TD_ERR_CONFLICT);
    /* The production order names it (D.earlier_order by reference): linked, holds it. */
    char earlier[160];
    snprintf(earlier, sizeof earlier, "{\"framework\": \"eu_epoc_pr\", \"reference\": %s}", pr_ref);
    body = make_doc(f, "D.earlier_order", earlier, NULL);
    int64_t epoc = must_receive(f, body, A_STA, NULL);
    get(f, epoc, o);
    assert_int_equal(o->linked_order, pr);
    fake_clock_set(T0 + 91 * DAY);
    check(td_eorders_tick(f->eo, &t, &err), &err);
    assert_int_equal(t.expired, 0);
    get(f, pr, o);
    assert_int_equal(o->state, TD_EORDER_COLLECTING);
    /* The production is withdrawn: the preservation expires at the next tick. */
    must_event(f, epoc, "{\"action\": \"withdraw\"}");
    check(td_eorders_tick(f->eo, &t, &err), &err);
    assert_int_equal(t.expired, 1);
    assert_int_equal(t.released, 1);
    get(f, pr, o);
    assert_int_equal(o->state, TD_EORDER_EXPIRED);
    assert_int_equal(o->ended_ms, T0 + 91 * DAY);
    assert_int_equal(event(f, pr, "{\"action\": \"end_preservation\"}", &why, &err),
                     TD_ERR_CONFLICT);

    /* Subsequent production announced (Annex V) without the order itself: held until ended. */
    fake_clock_set(T0);
    body = make_doc(f, "framework", "\"eu_epoc_pr\"", "C", NULL, NULL);
    int64_t pr2 = must_receive(f, body, A_STA, NULL);
    must_event(f, pr2, "{\"action\": \"subsequent_production\", \"reference\": \"StA-later\"}");
    fake_clock_set(T0 + 61 * DAY);
    check(td_eorders_tick(f->eo, &t, &err), &err);
    assert_int_equal(t.expired, 0);
    get(f, pr2, o);
    assert_true(o->production_pending);
    must_event(f, pr2, "{\"action\": \"end_preservation\"}");
    get(f, pr2, o);
    assert_int_equal(o->state, TD_EORDER_ENDED);
    assert_int_equal(o->ended_ms, T0 + 61 * DAY);

    /* A plain preservation expires at 60 days; a new deadline replaces its end. */
    fake_clock_set(T0);
    body = make_doc(f, "framework", "\"eu_epoc_pr\"", "C", NULL, NULL);
    int64_t pr3 = must_receive(f, body, A_STA, NULL);
    body = make_doc(f, "framework", "\"eu_epoc_pr\"", "C", NULL, NULL);
    int64_t pr4 = must_receive(f, body, A_STA, NULL);
    char dl[96], t1[32];
    td_order_time_format(T0 + 70 * DAY, t1);
    snprintf(dl, sizeof dl, "{\"action\": \"new_deadline\", \"deadline\": \"%s\"}", t1);
    must_event(f, pr4, dl);
    fake_clock_set(T0 + 60 * DAY - 1);
    check(td_eorders_tick(f->eo, &t, &err), &err);
    assert_int_equal(t.expired, 0);
    fake_clock_set(T0 + 60 * DAY);
    check(td_eorders_tick(f->eo, &t, &err), &err);
    assert_int_equal(t.expired, 1);
    get(f, pr3, o);
    assert_int_equal(o->state, TD_EORDER_EXPIRED);
    get(f, pr4, o);
    assert_int_equal(o->state, TD_EORDER_COLLECTING);
    fake_clock_set(T0 + 70 * DAY);
    check(td_eorders_tick(f->eo, &t, &err), &err);
    assert_int_equal(t.expired, 1);
    /* A production order does not take preservation events. */
    fake_clock_set(T0);
    body = make_doc(f, NULL);
    int64_t p = must_receive(f, body, A_STA, NULL);
    assert_int_equal(event(f, p, "{\"action\": \"extend_preservation\"}", &why, &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(event(f, p, "{\"action\": \"end_preservation\"}", &why, &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(event(f, p, "{\"action\": \"subsequent_production\"}", &why, &err),
                     TD_ERR_CONFLICT);
    free(o);
    log_verifies(f);
}

/* Grounds for refusal: none opens transmission early; partial blocks categories; full refuses;
 * after an emergency delivery within 96 h the data is restricted and the recipient told. */
static void test_grounds(void **state)
{
    fixture *f = *state;
    td_eorder_rejection why;
    td_error err;
    td_eorder *o = malloc(sizeof *o);
    char *body = make_doc(f, "C", "{\"deadline\": \"ten_days_enforcing\"}",
                          "enforcing_state_notified", "true", NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    get(f, id, o);
    assert_int_equal(o->deadlines.transmit_from_ms, T0 + 10 * DAY);
    fake_clock_set(T0 + 2 * DAY);
    /* Only the enforcing state's authority (B.member_state IE) raises grounds. */
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    const char *none = "{\"action\": \"grounds\", \"kind\": \"none\"}";
    assert_int_equal(
        td_eorder_event(f->eo, "x", idt, none, strlen(none), f->auth_id[A_STA], NULL, &why, &err),
        TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_WRONG_AUTHORITY);
    check(td_eorder_event(f->eo, "authority:Garda IE", idt, none, strlen(none), f->auth_id[A_GARDA],
                          o, &why, &err),
          &err);
    assert_int_equal(o->grounds, TD_EORDER_GROUNDS_NONE);
    assert_int_equal(o->deadlines.transmit_from_ms, T0 + 2 * DAY);
    assert_int_equal(event(f, id, none, &why, &err), TD_ERR_CONFLICT); /* answered already */
    /* Other events by another authority than the issuer: refused. */
    assert_int_equal(td_eorder_event(f->eo, "x", idt, "{\"action\": \"withdraw\"}", 22,
                                     f->auth_id[A_GARDA], NULL, &why, &err),
                     TD_ERR_INVALID);

    fake_clock_set(T0);
    body = make_doc(f, "C", "{\"deadline\": \"ten_days_enforcing\"}", "enforcing_state_notified",
                    "true", NULL);
    id = must_receive(f, body, A_STA, NULL);
    must_event(f, id,
               "{\"action\": \"grounds\", \"kind\": \"partial\", \"categories\": [\"content\"],"
               " \"ground\": \"fundamental_rights\"}");
    get(f, id, o);
    assert_int_equal(o->grounds_blocked, TD_EORDER_CAT_CONTENT);
    assert_int_equal(o->state, TD_EORDER_COLLECTING);
    assert_int_equal(o->deadlines.transmit_from_ms, T0 + 10 * DAY);

    body = make_doc(f, NULL);
    id = must_receive(f, body, A_STA, NULL);
    must_event(f, id,
               "{\"action\": \"grounds\", \"kind\": \"full\", \"ground\": \"ne_bis_in_idem\"}");
    get(f, id, o);
    assert_int_equal(o->state, TD_EORDER_NOT_EXECUTED);
    assert_int_equal(o->reason, TD_EORDER_R_GROUND_NE_BIS_IN_IDEM);

    /* Partial grounds covering every category left: refused as well. */
    body = make_doc(f, "F.data_categories", "[\"content\"]", "F.subscriber", NULL, NULL);
    id = must_receive(f, body, A_STA, NULL);
    must_event(f, id,
               "{\"action\": \"grounds\", \"kind\": \"partial\", \"categories\": [\"content\"],"
               " \"ground\": \"dual_criminality\"}");
    get(f, id, o);
    assert_int_equal(o->state, TD_EORDER_NOT_EXECUTED);

    /* An emergency order delivered: grounds within 96 h restrict, later ones are recorded. */
    static const struct {
        int64_t after;
        int restricted;
    } late[] = {{95 * HOUR, 1}, {97 * HOUR, 0}};
    for (size_t i = 0; i < 2; i++) {
        fake_clock_set(T0);
        body = make_doc(f, "C",
                        "{\"deadline\": \"eight_hours\", \"emergency_reason\":"
                        " \"physical_integrity\"}",
                        NULL);
        id = must_receive(f, body, A_STA, NULL);
        /* Delivered (as td_eorder_deliver leaves it; the package is tested elsewhere). */
        td_store_conn *c;
        check(td_store_acquire(f->svc->store, 1, &c, &err), &err);
        char sql[128];
        snprintf(sql, sizeof sql,
                 "UPDATE eorders SET state = %d, delivered_ms = %lld WHERE id = %lld",
                 TD_EORDER_DELIVERED, (long long)(T0 + HOUR), (long long)id);
        check(td_store_exec(c, sql, &err), &err);
        td_store_release(f->svc->store, c);
        fake_clock_set(T0 + late[i].after);
        must_event(f, id,
                   "{\"action\": \"grounds\", \"kind\": \"full\", \"ground\":"
                   " \"immunities_or_privileges\"}");
        get(f, id, o);
        assert_int_equal(o->state, TD_EORDER_DELIVERED);
        assert_int_equal(o->restricted, late[i].restricted);
        assert_int_equal(messages(f, id, TD_EORDER_MSG_CORRESPONDENCE, TD_EORDER_MSG_PENDING),
                         late[i].restricted);
    }
    td_eorders_metrics m;
    check(td_eorders_metrics_get(f->eo, &m, &err), &err);
    assert_int_equal(m.restricted, 1);
    /* Grounds concern production orders only. */
    fake_clock_set(T0);
    body = make_doc(f, "framework", "\"uk_opo\"", "A.issuing_state", "\"GB\"",
                    "A.issuing_authority.name", "\"Crown Court Southwark\"", "C",
                    "{\"compliance_period_days\": 7}", NULL);
    id = must_receive(f, body, A_UK, NULL);
    td_eorder_id_format(id, idt);
    assert_int_equal(td_eorder_event(f->eo, "x", idt, none, strlen(none), 0, NULL, &why, &err),
                     TD_ERR_CONFLICT);
    free(o);
    log_verifies(f);
}

/* Withdrawal cancels every task: state, pending messages, later events. */
static void test_withdraw(void **state)
{
    fixture *f = *state;
    td_eorder_rejection why;
    td_error err;
    td_eorder *o = malloc(sizeof *o);
    char *body = make_doc(f, NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    check(td_eorder_correspond(f->eo, "legal-1", idt, TD_EORDER_REQUEST_ADDITIONAL_INFORMATION,
                               "Which account exactly?", &err),
          &err);
    assert_int_equal(messages(f, id, TD_EORDER_MSG_CORRESPONDENCE, TD_EORDER_MSG_PENDING), 1);
    must_event(f, id, "{\"action\": \"withdraw\", \"text\": \"no longer needed\"}");
    get(f, id, o);
    assert_int_equal(o->state, TD_EORDER_WITHDRAWN);
    assert_int_equal(o->withdrawn_ms, T0);
    assert_int_equal(messages(f, id, TD_EORDER_MSG_CORRESPONDENCE, TD_EORDER_MSG_CANCELLED), 1);
    assert_int_equal(event(f, id, "{\"action\": \"withdraw\"}", &why, &err), TD_ERR_CONFLICT);
    td_eorder_record rec = {TD_EORDER_CAT_SUBSCRIBER, NULL, 0, NULL, NULL, 0, NULL};
    assert_int_equal(td_eorder_put_data(f->eo, "platform", idt, &rec, 1, NULL, &why, &err),
                     TD_ERR_CONFLICT);
    assert_int_equal(
        td_eorder_correspond(f->eo, "legal-1", idt, TD_EORDER_CORRESPONDENCE_OTHER, "x", &err),
        TD_ERR_CONFLICT);
    /* Unknown orders. */
    assert_int_equal(td_eorder_event(f->eo, "x", "eo-999", "{\"action\": \"withdraw\"}", 22, 0,
                                     NULL, &why, &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(why.problem, TD_EORDER_UNKNOWN_ORDER);
    assert_int_equal(td_eorder_get(f->eo, "x", "p", "no-such-uuid", o, &err), TD_ERR_NOT_FOUND);
    free(o);
}

/* ---- the platform's data ---- */

static const uint8_t content_bytes[] = "video bytes";

typedef struct put_case {
    td_eorder_record rec;
    const char *field;
    td_eorder_problem problem;
} put_case;

static void test_put_data(void **state)
{
    fixture *f = *state;
    td_eorder_rejection why;
    td_error err;
    td_eorder_put_result pr;
    td_eorder *o = malloc(sizeof *o);
    char *body = make_doc(f, NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    int64_t in_range = T0 - 10 * DAY; /* 2026-11-22 */
    const td_eorder_record good = {
        TD_EORDER_CAT_CONTENT,    "u-1234",   in_range, "{\"post\": 7}", content_bytes,
        sizeof content_bytes - 1, "video/mp4"};
    const put_case bad[] = {
        {{TD_EORDER_CAT_IDENTIFICATION, NULL, in_range, NULL, NULL, 0, NULL},
         "records[1].category",
         TD_EORDER_INVALID_FIELD},
        {{TD_EORDER_CAT_CONTENT | TD_EORDER_CAT_TRAFFIC, NULL, in_range, NULL, NULL, 0, NULL},
         "records[1].category",
         TD_EORDER_INVALID_FIELD},
        {{TD_EORDER_CAT_TRAFFIC, "u-9999", in_range, NULL, NULL, 0, NULL},
         "records[1].identifier",
         TD_EORDER_INVALID_FIELD},
        {{TD_EORDER_CAT_TRAFFIC, NULL, T0 - 40 * DAY, NULL, NULL, 0, NULL},
         "records[1].at",
         TD_EORDER_INVALID_FIELD},
        {{TD_EORDER_CAT_TRAFFIC, NULL, T0, NULL, NULL, 0, NULL},
         "records[1].at",
         TD_EORDER_INVALID_FIELD},
        {{TD_EORDER_CAT_TRAFFIC, NULL, 0, NULL, NULL, 0, NULL},
         "records[1].at",
         TD_EORDER_MISSING_FIELD},
        {{TD_EORDER_CAT_SUBSCRIBER, NULL, 0, "{\"billing\": \"x\"}", NULL, 0, NULL},
         "records[1].fields.billing",
         TD_EORDER_INVALID_FIELD},
        {{TD_EORDER_CAT_SUBSCRIBER, NULL, 0, "{\"shoe\": 44}", NULL, 0, NULL},
         "records[1].fields.shoe",
         TD_EORDER_INVALID_FIELD},
        {{TD_EORDER_CAT_TRAFFIC, NULL, in_range, "[1]", NULL, 0, NULL},
         "records[1].fields",
         TD_EORDER_INVALID_FIELD},
        {{TD_EORDER_CAT_TRAFFIC, NULL, in_range, NULL, NULL, 5, NULL},
         "records[1].content",
         TD_EORDER_INVALID_FIELD},
        {{TD_EORDER_CAT_TRAFFIC, NULL, in_range, NULL, NULL, 0, "text/\x01"},
         "records[1].content_type",
         TD_EORDER_INVALID_FIELD},
    };
    uint64_t size0, size1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        td_eorder_record recs[2] = {good, bad[i].rec};
        check(td_audit_size(td_eorders_audit(f->eo), &size0, &err), &err);
        td_status st = td_eorder_put_data(f->eo, "platform", idt, recs, 2, &pr, &why, &err);
        if (st == TD_OK || why.problem != bad[i].problem || strcmp(why.field, bad[i].field) != 0)
            fail_msg("put case %zu: %s %s \"%s\" (%s)", i, td_strerror(st),
                     td_eorder_problem_name(why.problem), why.field, err.message);
        check(td_audit_size(td_eorders_audit(f->eo), &size1, &err), &err);
        assert_int_equal(size0, size1); /* all or nothing: not even the good record */
    }
    get(f, id, o);
    assert_int_equal(o->records, 0);
    assert_int_equal(o->state, TD_EORDER_COLLECTING);
    char case_ref[64];
    snprintf(case_ref, sizeof case_ref, "eorder-%lld", (long long)id);
    td_evidence_case_info ci;
    assert_int_equal(td_evidence_case(td_eorders_evidence(f->eo), case_ref, &ci, &err),
                     TD_ERR_NOT_FOUND);
    /* No record; too many. */
    assert_int_equal(td_eorder_put_data(f->eo, "platform", idt, NULL, 0, &pr, &why, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_eorder_put_data(f->eo, "platform", idt, &good,
                                        TD_EORDER_PUT_MAX_RECORDS + 1, &pr, &why, &err),
                     TD_ERR_LIMIT);
    assert_int_equal(td_eorder_put_data(f->eo, "platform", "eo-999", &good, 1, &pr, &why, &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(why.problem, TD_EORDER_UNKNOWN_ORDER);
    /* A good put: sealed, digests on the log, preserved, data_preserved queued once. */
    const td_eorder_record recs[3] = {
        good,
        {TD_EORDER_CAT_SUBSCRIBER, NULL, 0, "{\"name\": \"A. User\", \"contact\": \"a@x\"}", NULL,
         0, NULL},
        {TD_EORDER_CAT_TRAFFIC, "203.0.113.7", T0 - 12 * DAY, "{\"login\": true}", NULL, 0, NULL},
    };
    check(td_eorder_put_data(f->eo, "platform", idt, recs, 3, &pr, &why, &err), &err);
    assert_int_equal(pr.sealed, 3);
    assert_int_equal(pr.state, TD_EORDER_PRESERVED);
    assert_int_equal(pr.preserved,
                     TD_EORDER_CAT_CONTENT | TD_EORDER_CAT_SUBSCRIBER | TD_EORDER_CAT_TRAFFIC);
    get(f, id, o);
    assert_int_equal(o->records, 3);
    assert_int_equal(o->state, TD_EORDER_PRESERVED);
    assert_int_equal(messages(f, id, TD_EORDER_MSG_DATA_PRESERVED, TD_EORDER_MSG_PENDING), 1);
    assert_int_equal(audit_count(f, "eorder.data_preserved"), 1);
    check(td_evidence_case(td_eorders_evidence(f->eo), case_ref, &ci, &err), &err);
    assert_int_equal(ci.items, 3);
    assert_true(ci.hold);
    td_eorder_record_info *ri = NULL;
    size_t n = 0;
    check(td_eorder_records(f->eo, "legal-1", "review", idt, &ri, &n, &err), &err);
    assert_int_equal(n, 3);
    char hex[65];
    uint8_t digest[32];
    crypto_hash_sha256(digest, content_bytes, sizeof content_bytes - 1);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    assert_string_equal(ri[0].sha256, hex);
    assert_int_equal(ri[0].bytes, sizeof content_bytes - 1);
    assert_string_equal(ri[0].identifier, "u-1234");
    assert_int_equal(ri[1].at_ms, 0);
    assert_int_equal(ri[2].category, TD_EORDER_CAT_TRAFFIC);
    td_free(ri);
    /* A second put adds; no second data_preserved message. */
    check(td_eorder_put_data(f->eo, "platform", idt, &recs[2], 1, &pr, &why, &err), &err);
    get(f, id, o);
    assert_int_equal(o->records, 4);
    assert_int_equal(messages(f, id, TD_EORDER_MSG_DATA_PRESERVED, TD_EORDER_MSG_PENDING), 1);
    /* The order withdrawn: its case may be purged. */
    must_event(f, id, "{\"action\": \"withdraw\"}");
    check(td_evidence_case(td_eorders_evidence(f->eo), case_ref, &ci, &err), &err);
    assert_false(ci.hold);
    assert_true(ci.retain_until_ms <= T0);
    int64_t purged = 0;
    check(td_evidence_purge(td_eorders_evidence(f->eo), "system", &purged, &err), &err);
    assert_int_equal(purged, 1);
    /* UK orders: no data_preserved message (EU transport only). */
    body = make_doc(f, "framework", "\"uk_opo\"", "A.issuing_state", "\"GB\"",
                    "A.issuing_authority.name", "\"Crown Court Southwark\"", "C",
                    "{\"compliance_period_days\": 7}", NULL);
    id = must_receive(f, body, A_UK, NULL);
    td_eorder_id_format(id, idt);
    check(td_eorder_put_data(f->eo, "platform", idt, &good, 1, &pr, &why, &err), &err);
    assert_int_equal(messages(f, id, TD_EORDER_MSG_DATA_PRESERVED, TD_EORDER_MSG_PENDING), 0);
    free(o);
    log_verifies(f);
}

static void test_put_no_master(void **state)
{
    fixture *f = *state;
    td_eorder_rejection why;
    td_error err;
    char *body = make_doc(f, NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    td_eorder_record rec = {TD_EORDER_CAT_SUBSCRIBER, NULL, 0, NULL, NULL, 0, NULL};
    assert_int_equal(td_eorder_put_data(f->eo, "platform", idt, &rec, 1, NULL, &why, &err),
                     TD_ERR_CONFLICT);
}

/* The items of case_ref by id, and that each has its sealed file and no temporary file is left
 * in the evidence folder. Returns the count; ids (cap entries) receives them. */
static size_t case_items(fixture *f, const char *case_ref, int64_t *ids, size_t cap)
{
    td_evidence_item_info *items = NULL;
    size_t n = 0;
    td_error err;
    char path[4200];
    check(td_evidence_item_list(td_eorders_evidence(f->eo), case_ref, &items, &n, &err), &err);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        ids[i] = items[i].id;
        snprintf(path, sizeof path, "%s/evidence/%lld.seal", f->dir, (long long)items[i].id);
        assert_int_equal(access(path, F_OK), 0);
    }
    td_free(items);
    char cmd[4400], out[64];
    snprintf(cmd, sizeof cmd, "find '%s/evidence' -name '*.tmp' | wc -l", f->dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    assert_int_equal(atoi(out), 0);
    return n;
}

/* A put whose sealing fails after some of its records leaves nothing of itself: the items it
 * sealed are discarded (rows, files, an evidence.discard entry), the order is as before, and the
 * same put succeeds once the cause is gone. Two causes: an I/O error on the third item's file (a
 * directory where its file goes), and a record over the evidence store's item limit, which only
 * sealing checks. */
static void test_put_fails_halfway(void **state)
{
    fixture *f = *state;
    td_eorder_rejection why;
    td_eorder_put_result pr;
    td_error err;
    td_eorder *o = malloc(sizeof *o);
    char *body = make_doc(f, NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    char idt[TD_EORDER_ID_TEXT_MAX + 1], case_ref[64], path[4200];
    td_eorder_id_format(id, idt);
    snprintf(case_ref, sizeof case_ref, "eorder-%lld", (long long)id);
    int64_t in_range = T0 - 10 * DAY;
    const td_eorder_record recs[3] = {
        {TD_EORDER_CAT_CONTENT, "u-1234", in_range, NULL, (const uint8_t *)"one", 3, "text/plain"},
        {TD_EORDER_CAT_TRAFFIC, "203.0.113.7", in_range, "{\"login\": true}", NULL, 0, NULL},
        {TD_EORDER_CAT_CONTENT, "u-1234", in_range, NULL, (const uint8_t *)"three!!!!", 9,
         "text/plain"},
    };
    /* One record first: the case exists, with item `first`. */
    check(td_eorder_put_data(f->eo, "platform", idt, recs, 1, &pr, &why, &err), &err);
    int64_t ids[8], first;
    assert_int_equal(case_items(f, case_ref, ids, 8), 1);
    first = ids[0];
    int seals0 = audit_count(f, "evidence.seal"),
        preserved0 = audit_count(f, "eorder.data_preserved");

    /* 1. The third item's file cannot be written: the next items are first + 1, + 2, + 3. */
    snprintf(path, sizeof path, "%s/evidence/%lld.seal", f->dir, (long long)(first + 3));
    assert_int_equal(mkdir(path, 0700), 0);
    td_status st = td_eorder_put_data(f->eo, "platform", idt, recs, 3, &pr, &why, &err);
    assert_int_equal(st, TD_ERR_IO);
    assert_non_null(strstr(err.message, "evidence"));
    assert_int_equal(audit_count(f, "evidence.seal"), seals0 + 2); /* two were sealed... */
    assert_int_equal(audit_count(f, "evidence.discard"), 1);       /* ...and discarded */
    assert_int_equal(case_items(f, case_ref, ids, 8), 1);
    assert_int_equal(ids[0], first);
    for (int k = 1; k <= 2; k++) {
        snprintf(path, sizeof path, "%s/evidence/%lld.seal", f->dir, (long long)(first + k));
        assert_int_not_equal(access(path, F_OK), 0);
    }
    get(f, id, o);
    assert_int_equal(o->records, 1);
    assert_int_equal(o->state, TD_EORDER_PRESERVED);
    assert_int_equal(audit_count(f, "eorder.data_preserved"), preserved0);
    /* The cause gone, the same put goes through. */
    snprintf(path, sizeof path, "%s/evidence/%lld.seal", f->dir, (long long)(first + 3));
    assert_int_equal(rmdir(path), 0);
    check(td_eorder_put_data(f->eo, "platform", idt, recs, 3, &pr, &why, &err), &err);
    assert_int_equal(pr.sealed, 3);
    assert_int_equal(case_items(f, case_ref, ids, 8), 4);
    td_eorder_record_info *ri = NULL;
    size_t n = 0;
    check(td_eorder_records(f->eo, "legal-1", "test", idt, &ri, &n, &err), &err);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ri[i].evidence_item, ids[i]); /* every item is a record's */
    td_free(ri);

    /* 2. An evidence store taking items of at most 8 bytes: the third record (9) fails at its
     * seal, after two were sealed. */
    td_evidence_options evo;
    td_evidence *small = NULL;
    td_evidence_options_default(&evo);
    evo.clock.now_ms = fake_clock;
    evo.max_item_bytes = 8;
    check(td_evidence_open(f->svc->store, td_eorders_audit(f->eo), f->dir, &evo, &small, &err),
          &err);
    td_eorders_close(f->eo);
    td_eorders_options eopts;
    td_eorders_options_default(&eopts);
    eopts.orders = f->orders;
    eopts.evidence = small;
    check(td_eorders_open(f->svc, &eopts, &f->eo, &err), &err);
    st = td_eorder_put_data(f->eo, "platform", idt, recs, 3, &pr, &why, &err);
    assert_int_equal(st, TD_ERR_LIMIT);
    assert_int_equal(audit_count(f, "evidence.discard"), 2);
    int64_t again[8];
    assert_int_equal(case_items(f, case_ref, again, 8), 4);
    assert_memory_equal(again, ids, 4 * sizeof ids[0]);
    get(f, id, o);
    assert_int_equal(o->records, 4);
    /* Within the limit, it goes through. */
    check(td_eorder_put_data(f->eo, "platform", idt, recs, 2, &pr, &why, &err), &err);
    assert_int_equal(case_items(f, case_ref, again, 8), 6);
    get(f, id, o);
    assert_int_equal(o->records, 6);
    td_eorders_close(f->eo);
    td_evidence_close(small);
    f->eo = NULL;
    td_eorders_options_default(&eopts);
    eopts.orders = f->orders;
    check(td_eorders_open(f->svc, &eopts, &f->eo, &err), &err);
    free(o);
    log_verifies(f);
}

/* ---- answers ---- */

static void put_one(fixture *f, const char *idt, unsigned category)
{
    td_eorder_rejection why;
    td_error err;
    td_eorder_record rec = {
        category, NULL,          category == TD_EORDER_CAT_SUBSCRIBER ? 0 : T0 - 5 * DAY,
        NULL,     content_bytes, sizeof content_bytes - 1,
        NULL};
    td_status st = td_eorder_put_data(f->eo, "platform", idt, &rec, 1, NULL, &why, &err);
    if (st)
        fail_msg("put: %s (%s)", err.message, why.field);
}

static void test_approvals(void **state)
{
    fixture *f = *state;
    td_eorder_approval ap;
    td_error err;
    td_principal alice = {1, TD_ROLE_LEGAL, "alice", 0}, bob = {2, TD_ROLE_LEGAL, "bob", 0},
                 mod = {3, TD_ROLE_MODERATOR, "mallory", 0};
    char *body = make_doc(f, NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    /* Nothing preserved yet: nothing to approve. */
    assert_int_equal(td_eorder_approve(f->eo, &alice, idt, NULL, &ap, &err), TD_ERR_CONFLICT);
    put_one(f, idt, TD_EORDER_CAT_CONTENT);
    assert_int_equal(td_eorder_approve(f->eo, &mod, idt, NULL, &ap, &err), TD_ERR_INVALID);
    check(td_eorder_approve(f->eo, &alice, idt, "lawful", &ap, &err), &err);
    assert_int_equal(ap.approvals, 1);
    assert_int_equal(ap.needed, 2);
    assert_false(ap.complete);
    assert_int_equal(td_eorder_approve(f->eo, &alice, idt, NULL, &ap, &err), TD_ERR_CONFLICT);
    check(td_eorder_approve(f->eo, &bob, idt, NULL, &ap, &err), &err);
    assert_true(ap.complete);
    assert_true(ap.release_request > 0);
    td_eorder *o = malloc(sizeof *o);
    get(f, id, o);
    assert_int_equal(o->state, TD_EORDER_APPROVED);
    assert_int_equal(o->approvals, 2);
    assert_int_equal(o->release_request, ap.release_request);
    td_evidence_request_info ri;
    check(td_evidence_request_get(td_eorders_evidence(f->eo), ap.release_request, &ri, &err), &err);
    assert_int_equal(ri.need, 2);
    /* Approved: no more data. */
    td_eorder_rejection why;
    td_eorder_record rec = {TD_EORDER_CAT_SUBSCRIBER, NULL, 0, NULL, NULL, 0, NULL};
    assert_int_equal(td_eorder_put_data(f->eo, "platform", idt, &rec, 1, NULL, &why, &err),
                     TD_ERR_CONFLICT);
    /* Subscriber data only: one approval. */
    body = make_doc(f, "F.data_categories", "[\"subscriber\"]", NULL);
    id = must_receive(f, body, A_STA, NULL);
    td_eorder_id_format(id, idt);
    put_one(f, idt, TD_EORDER_CAT_SUBSCRIBER);
    check(td_eorder_approve(f->eo, &alice, idt, NULL, &ap, &err), &err);
    assert_true(ap.complete);
    assert_int_equal(ap.needed, 1);
    /* A preservation order is never approved for delivery. */
    body = make_doc(f, "framework", "\"eu_epoc_pr\"", "C", NULL, NULL);
    id = must_receive(f, body, A_STA, NULL);
    td_eorder_id_format(id, idt);
    put_one(f, idt, TD_EORDER_CAT_SUBSCRIBER);
    assert_int_equal(td_eorder_approve(f->eo, &alice, idt, NULL, &ap, &err), TD_ERR_CONFLICT);
    assert_int_equal(audit_count(f, "eorder.approved"), 3);
    free(o);
    log_verifies(f);
}

/* Options from the configuration: approvals and marks. */
static void test_options(void **state)
{
    (void)state;
    td_eorders_options o;
    td_error err;
    td_config *cfg = NULL;
    check(td_config_new(&cfg, &err), &err);
    check(td_config_set(cfg, "eorder_approvals_content", "3", &err), &err);
    check(td_config_set(cfg, "eorder_escalation_pct", "25, 50,80", &err), &err);
    check(td_eorders_options_from_config(&o, cfg, &err), &err);
    assert_int_equal(o.approvals_content, 3);
    assert_int_equal(o.approvals_other, 1);
    assert_int_equal(o.n_marks, 3);
    assert_int_equal(o.marks_pct[0], 25);
    assert_int_equal(o.marks_pct[2], 80);
    check(td_config_set(cfg, "eorder_escalation_pct", "50,40", &err), &err);
    assert_int_equal(td_eorders_options_from_config(&o, cfg, &err), TD_ERR_INVALID);
    check(td_config_set(cfg, "eorder_escalation_pct", "100", &err), &err);
    assert_int_equal(td_eorders_options_from_config(&o, cfg, &err), TD_ERR_INVALID);
    td_config_free(cfg);
    check(td_eorders_options_from_config(&o, NULL, &err), &err);
    assert_int_equal(o.approvals_content, 2);
    assert_int_equal(o.n_marks, 3);
}

typedef struct cc_case {
    td_eorder_reason reason;
    unsigned categories;
    int conflict_fields; /* 0 none, 1 all, 2 all but one */
    td_status expect;
} cc_case;

static void test_cannot_comply(void **state)
{
    fixture *f = *state;
    td_error err;
    td_eorder *o = malloc(sizeof *o);
    char *body = make_doc(f, NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    static const cc_case bad[] = {
        {TD_EORDER_R_NONE, 0, 0, TD_ERR_INVALID},
        {TD_EORDER_R_GROUND_FUNDAMENTAL_RIGHTS, 0, 0, TD_ERR_INVALID},
        {TD_EORDER_R_CONFLICT_OF_LAW, 0, 0, TD_ERR_INVALID},
        {TD_EORDER_R_CONFLICT_OF_LAW, 0, 2, TD_ERR_INVALID},
        {TD_EORDER_R_DATA_NOT_HELD, 0, 1, TD_ERR_INVALID},
        {TD_EORDER_R_DATA_NOT_HELD, TD_EORDER_CAT_IDENTIFICATION, 0, TD_ERR_INVALID},
        {TD_EORDER_R_DATA_NOT_HELD, 1u << 7, 0, TD_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        td_eorder_cc_input in = {
            bad[i].reason, bad[i].categories, "explained", NULL, NULL, NULL, NULL, NULL, NULL};
        if (bad[i].conflict_fields) {
            in.third_country = "Atlantis";
            in.provisions = "s. 1";
            in.nature_of_obligation = "secrecy";
            in.why_applies = "servers there";
            in.link_to_country = "establishment";
            in.consequences = bad[i].conflict_fields == 1 ? "fines" : NULL;
        }
        if (td_eorder_cannot_comply(f->eo, "legal-1", idt, &in, NULL, &err) != bad[i].expect)
            fail_msg("cc case %zu accepted", i);
    }
    /* No explanation. */
    td_eorder_cc_input in = {
        TD_EORDER_R_DATA_NOT_HELD, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(td_eorder_cannot_comply(f->eo, "legal-1", idt, &in, NULL, &err),
                     TD_ERR_INVALID);
    /* Partial: traffic data not held; the rest goes ahead, the clock runs. */
    in.explanation = "no traffic logs are kept";
    in.categories = TD_EORDER_CAT_TRAFFIC;
    check(td_eorder_cannot_comply(f->eo, "legal-1", idt, &in, o, &err), &err);
    assert_int_equal(o->state, TD_EORDER_COLLECTING);
    assert_int_equal(o->refused, TD_EORDER_CAT_TRAFFIC);
    assert_int_equal(o->deadlines.due_ms, T0 + 10 * DAY);
    assert_int_equal(messages(f, id, TD_EORDER_MSG_NON_EXECUTION, TD_EORDER_MSG_PENDING), 1);
    td_eorder_rejection why;
    td_eorder_record rec = {TD_EORDER_CAT_TRAFFIC, NULL, T0 - 5 * DAY, NULL, NULL, 0, NULL};
    assert_int_equal(td_eorder_put_data(f->eo, "platform", idt, &rec, 1, NULL, &why, &err),
                     TD_ERR_INVALID);
    assert_string_equal(why.field, "records[0].category");
    assert_int_equal(td_eorder_cannot_comply(f->eo, "legal-1", idt, &in, NULL, &err),
                     TD_ERR_CONFLICT); /* answered already */
    /* Whole order, conflict of law: paused, deadlines suspended. */
    fake_clock_set(T0 + 2 * DAY);
    td_eorder_cc_input col = {TD_EORDER_R_CONFLICT_OF_LAW,
                              0,
                              "third-country secrecy law",
                              "Atlantis",
                              "s. 12 Secrecy Act",
                              "prohibits disclosure",
                              "the data is stored there",
                              "the operator's subsidiary",
                              "criminal fines"};
    check(td_eorder_cannot_comply(f->eo, "legal-1", idt, &col, o, &err), &err);
    assert_int_equal(o->state, TD_EORDER_PAUSED);
    assert_int_equal(o->paused_from, TD_EORDER_COLLECTING);
    assert_int_equal(o->reason, TD_EORDER_R_CONFLICT_OF_LAW);
    assert_int_equal(o->deadlines.due_ms, 0);
    assert_int_equal(messages(f, id, TD_EORDER_MSG_NON_EXECUTION, TD_EORDER_MSG_PENDING), 2);
    td_eorder_message *m = NULL;
    size_t n = 0;
    check(td_eorder_outbox_list(f->eo, idt, 0, 0, &m, &n, &err), &err);
    assert_non_null(strstr(m[n - 1].json, "\"third_country\":\"Atlantis\""));
    assert_non_null(strstr(m[n - 1].json, "\"kind\":\"non_execution\""));
    td_free(m);
    /* Paused: no breach however late; no second answer. */
    fake_clock_set(T0 + 30 * DAY);
    td_eorders_tick_result t;
    check(td_eorders_tick(f->eo, &t, &err), &err);
    assert_int_equal(t.breaches, 0);
    assert_int_equal(td_eorder_cannot_comply(f->eo, "legal-1", idt, &col, NULL, &err),
                     TD_ERR_CONFLICT);
    /* The clarification restarts the full period from now, and asks the platform again. */
    int before = collects(f);
    must_event(f, id, "{\"action\": \"clarification\", \"text\": \"only the EU servers\"}");
    get(f, id, o);
    assert_int_equal(o->state, TD_EORDER_COLLECTING);
    assert_int_equal(o->deadlines.clock_start_ms, T0 + 30 * DAY);
    assert_int_equal(o->deadlines.due_ms, T0 + 40 * DAY);
    assert_int_equal(o->escalation, 0);
    assert_int_equal(collects(f), before + 1);
    /* A clarification of an order that runs changes nothing but is recorded. */
    must_event(f, id, "{\"action\": \"clarification\", \"text\": \"thanks\"}");
    get(f, id, o);
    assert_int_equal(o->deadlines.due_ms, T0 + 40 * DAY);
    assert_int_equal(audit_count(f, "eorder.clarification"), 2);
    /* A correction that changes the scope: approvals start again, the platform is asked. */
    put_one(f, idt, TD_EORDER_CAT_CONTENT);
    td_principal alice = {1, TD_ROLE_LEGAL, "alice", 0};
    td_eorder_approval ap;
    check(td_eorder_approve(f->eo, &alice, idt, NULL, &ap, &err), &err);
    before = collects(f);
    must_event(f, id,
               "{\"action\": \"correction\", \"sections\": {\"E\": {\"identifiers\": [{\"type\":"
               " \"user_id\", \"value\": \"u-5678\"}], \"time_range\": {\"from\":"
               " \"2026-11-01T00:00:00Z\", \"to\": \"2026-11-30T23:59:59Z\"}}}}");
    get(f, id, o);
    assert_int_equal(o->approvals, 0);
    assert_string_equal(o->doc.identifiers[0].value, "u-5678");
    assert_int_equal(o->doc.n_identifiers, 1);
    assert_int_equal(collects(f), before + 1);
    /* A corrected deadline class applies from the same clock start. */
    must_event(f, id,
               "{\"action\": \"correction\", \"sections\": {\"C\": {\"deadline\":"
               " \"eight_hours\", \"emergency_reason\": \"critical_infrastructure\"}}}");
    get(f, id, o);
    assert_int_equal(o->doc.deadline, TD_EORDER_EIGHT_HOURS);
    assert_int_equal(o->deadlines.clock_start_ms, T0 + 30 * DAY);
    assert_int_equal(o->deadlines.due_ms, T0 + 30 * DAY + 8 * HOUR);
    assert_int_equal(o->deadlines.grounds_until_ms, T0 + 96 * HOUR);
    /* A correction that would make the order invalid, or change the framework: refused. */
    td_error e2;
    assert_int_equal(
        event(f, id,
              "{\"action\": \"correction\", \"sections\": {\"F\": {\"data_categories\":"
              " [\"satellite\"]}}}",
              &why, &e2),
        TD_ERR_INVALID);
    assert_string_equal(why.field, "sections.F.data_categories[0]");
    assert_int_equal(
        event(f, id, "{\"action\": \"correction\", \"sections\": {\"Z\": {}}}", &why, &e2),
        TD_ERR_INVALID);
    assert_int_equal(why.problem, TD_EORDER_UNKNOWN_FIELD);
    free(o);
    log_verifies(f);
}

/* ---- outbox ---- */

static void test_outbox(void **state)
{
    fixture *f = *state;
    td_error err;
    char *body = make_doc(f, "ext_id", "\"uuid-outbox\"", NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    check(td_eorder_correspond(f->eo, "legal-1", idt, TD_EORDER_REQUEST_ADDITIONAL_INFORMATION,
                               "Please name the account.", &err),
          &err);
    assert_int_equal(
        td_eorder_correspond(f->eo, "legal-1", idt, (td_eorder_correspondence_kind)9, "x", &err),
        TD_ERR_INVALID);
    assert_int_equal(
        td_eorder_correspond(f->eo, "legal-1", idt, TD_EORDER_CORRESPONDENCE_OTHER, "", &err),
        TD_ERR_INVALID);
    td_eorder_message *m = NULL;
    size_t n = 0;
    check(td_eorder_outbox_list(f->eo, NULL, 1, 0, &m, &n, &err), &err);
    assert_int_equal(n, 1);
    int64_t mid = m[0].id;
    json_t *j = json_loads(m[0].json, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "correspondence");
    assert_string_equal(json_string_value(json_object_get(j, "order")), idt);
    assert_string_equal(json_string_value(json_object_get(j, "ext_id")), "uuid-outbox");
    assert_string_equal(json_string_value(json_object_get(j, "issuing_state")), "DE");
    assert_string_equal(json_string_value(json_object_get(j, "framework")), "eu_epoc");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "details"), "kind")),
                        "request_additional_information");
    json_decref(j);
    td_free(m);
    /* This order came without transport data: a transport's sender does not take it. */
    check(td_eorder_outbox_list(f->eo, NULL, 2, 0, &m, &n, &err), &err);
    assert_int_equal(n, 0);
    td_free(m);
    /* A failed attempt: not due until its retry time. */
    check(td_eorder_outbox_failed(f->eo, mid, "connection refused", T0 + 10 * MIN, &err), &err);
    check(td_eorder_outbox_list(f->eo, NULL, 1, 0, &m, &n, &err), &err);
    assert_int_equal(n, 0);
    td_free(m);
    td_eorders_metrics met;
    check(td_eorders_metrics_get(f->eo, &met, &err), &err);
    assert_int_equal(met.outbox_pending, 1);
    assert_int_equal(met.outbox_retrying, 1);
    fake_clock_set(T0 + 10 * MIN);
    check(td_eorder_outbox_list(f->eo, NULL, 1, 0, &m, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].attempts, 1);
    assert_string_equal(m[0].last_error, "connection refused");
    td_free(m);
    check(td_eorder_outbox_sent(f->eo, "server", mid, &err), &err);
    assert_int_equal(td_eorder_outbox_sent(f->eo, "server", mid, &err), TD_ERR_CONFLICT);
    assert_int_equal(td_eorder_outbox_failed(f->eo, mid, "x", 0, &err), TD_ERR_CONFLICT);
    assert_int_equal(td_eorder_outbox_sent(f->eo, "server", 9999, &err), TD_ERR_NOT_FOUND);
    check(td_eorder_outbox_list(f->eo, idt, 0, 0, &m, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].state, TD_EORDER_MSG_SENT);
    assert_int_equal(m[0].sent_ms, T0 + 10 * MIN);
    td_free(m);
    assert_int_equal(audit_count(f, "eorder.message_sent"), 1);
    /* Correspondence from the authority is recorded, not answered by the library. */
    must_event(f, id,
               "{\"action\": \"correspondence\", \"kind\": \"provide_additional_information\","
               " \"text\": \"Account u-1234 only.\"}");
    assert_int_equal(audit_count(f, "eorder.correspondence"), 1);
}

/* ---- reads, metrics, report ---- */

static void test_reads_report(void **state)
{
    fixture *f = *state;
    td_error err;
    td_eorder_summary *s = NULL;
    size_t n = 0;
    char *body = make_doc(f, NULL);
    int64_t a = must_receive(f, body, A_STA, NULL);
    body =
        make_doc(f, "C", "{\"deadline\": \"eight_hours\", \"emergency_reason\": \"life\"}", NULL);
    int64_t b = must_receive(f, body, A_STA, NULL);
    body = make_doc(f, "A.validating_authority", NULL, NULL);
    must_receive(f, body, A_STA, NULL); /* not executed */
    body = make_doc(f, "framework", "\"eu_epoc_pr\"", "C", NULL, NULL);
    must_receive(f, body, A_STA, NULL);
    int reads = audit_count(f, "eorder.read");
    /* Every read is audited; a purpose is required. */
    assert_int_equal(td_eorder_list(f->eo, "legal-1", "", 1, 0, &s, &n, &err), TD_ERR_INVALID);
    check(td_eorder_list(f->eo, "legal-1", "daily review", 1, 0, &s, &n, &err), &err);
    assert_int_equal(n, 3);
    assert_int_equal(s[0].id, b); /* 8 hours first */
    assert_int_equal(s[1].id, a);
    assert_int_equal(s[2].framework, TD_EORDER_EU_EPOC_PR);
    td_free(s);
    check(td_eorder_list(f->eo, "legal-1", "all", 0, 2, &s, &n, &err), &err);
    assert_int_equal(n, 2); /* newest first, at most 2 */
    assert_true(s[0].id > s[1].id);
    td_free(s);
    td_eorder *o = malloc(sizeof *o);
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(a, idt);
    assert_int_equal(td_eorder_get(f->eo, "legal-1", NULL, idt, o, &err), TD_ERR_INVALID);
    check(td_eorder_get(f->eo, "legal-1", "case 12", idt, o, &err), &err);
    assert_int_equal(audit_count(f, "eorder.read"), reads + 3);
    free(o);
    /* The report. */
    fake_clock_set(T0 + HOUR);
    td_eorder_id_format(b, idt);
    put_one(f, idt, TD_EORDER_CAT_CONTENT);
    td_store_conn *c;
    char sql[160];
    check(td_store_acquire(f->svc->store, 1, &c, &err), &err);
    snprintf(sql, sizeof sql, "UPDATE eorders SET state = %d, delivered_ms = %lld WHERE id = %lld",
             TD_EORDER_DELIVERED, (long long)(T0 + 3 * HOUR), (long long)b);
    check(td_store_exec(c, sql, &err), &err);
    td_store_release(f->svc->store, c);
    char *json = NULL;
    assert_int_equal(td_eorders_report(f->eo, T0, T0, &json, &err), TD_ERR_INVALID);
    check(td_eorders_report(f->eo, T0 - DAY, T0 + DAY, &json, &err), &err);
    json_t *r = json_loads(json, 0, NULL);
    td_free(json);
    assert_non_null(r);
    json_t *e = json_object_get(r, "evidence_orders");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "received"), "eu_epoc")),
                     3);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(e, "received"), "eu_epoc_pr")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "received"), "total")),
                     4);
    assert_int_equal(json_integer_value(json_object_get(e, "delivered")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "not_executed"),
                                                        "invalid_issuing_authority")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(e, "median_receipt_to_delivery_ms")),
                     3 * HOUR);
    assert_true(json_integer_value(json_object_get(json_object_get(r, "audit_log"), "size")) > 0);
    json_decref(r);
    td_eorders_metrics m;
    check(td_eorders_metrics_get(f->eo, &m, &err), &err);
    assert_int_equal(m.by_state[TD_EORDER_DELIVERED], 1);
    assert_int_equal(m.by_state[TD_EORDER_NOT_EXECUTED], 1);
    assert_int_equal(m.by_state[TD_EORDER_COLLECTING], 2);
    assert_int_equal(m.open, 2);
    log_verifies(f);
}

/* ---- delivery ---- */

static void custodians_approve(fixture *f, int64_t request)
{
    td_error err;
    check(td_evidence_approve(td_eorders_evidence(f->eo), request, "legal", f->shares[0], NULL,
                              NULL, &err),
          &err);
    check(td_evidence_approve(td_eorders_evidence(f->eo), request, "auditor", f->shares[2], NULL,
                              NULL, &err),
          &err);
}

/* The package opens with the recipient's key, is signed by the delivery key, and its manifest
 * carries the order and the inclusion proof of the delivery's audit entry. */
static void check_package(fixture *f, const char *path, const uint8_t *sk, int64_t id,
                          size_t records, const char *category_absent)
{
    td_package_report rep;
    td_error err;
    uint8_t sign_pk[TD_EORDER_SIGN_PUBKEY_LEN], log_pk[TD_AUDIT_PUBKEY_LEN];
    char out_dir[4200], idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    snprintf(out_dir, sizeof out_dir, "%s/opened-%lld", f->dir, (long long)id);
    td_eorders_delivery_public_key(f->eo, sign_pk);
    memset(&rep, 0, sizeof rep);
    check(td_package_open(path, sk, sign_pk, out_dir, &rep, &err), &err);
    assert_int_equal(rep.problem, TD_PACKAGE_VERIFIED);
    assert_true(rep.signature_checked);
    assert_int_equal(rep.n_records, records);
    for (size_t i = 0; i < rep.n_records; i++)
        if (category_absent)
            assert_string_not_equal(rep.records[i].category, category_absent);
    json_t *m = json_loads(rep.manifest, 0, NULL);
    assert_non_null(m);
    json_t *extra = json_object_get(m, "extra");
    assert_string_equal(json_string_value(json_object_get(extra, "order")), idt);
    assert_int_equal(json_integer_value(json_object_get(extra, "records")), (json_int_t)records);
    json_t *audit = json_object_get(extra, "audit");
    char *doc_text = json_dumps(json_object_get(audit, "inclusion"), JSON_COMPACT);
    assert_non_null(doc_text);
    td_audit_doc doc;
    check(td_audit_doc_parse(doc_text, strlen(doc_text), &doc, &err), &err);
    td_audit_public_key(td_eorders_audit(f->eo), log_pk);
    check(td_audit_doc_verify(&doc, log_pk, &err), &err);
    assert_int_equal(doc.proof.index, json_integer_value(json_object_get(audit, "seq")));
    assert_non_null(strstr(doc.entry, "eorder.delivery"));
    assert_non_null(strstr(doc.entry, idt));
    td_audit_doc_clear(&doc);
    free(doc_text);
    json_decref(m);
    td_package_report_clear(&rep);
}

static void test_deliver(void **state)
{
    fixture *f = *state;
    td_error err;
    td_eorder_approval ap;
    td_eorder_delivery dv;
    td_eorder_rejection why;
    uint8_t rpk[TD_PACKAGE_X25519_KEY_LEN], rsk[TD_PACKAGE_X25519_KEY_LEN];
    char key_json[80], path[4200], idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_principal alice = {1, TD_ROLE_LEGAL, "alice", 0}, bob = {2, TD_ROLE_LEGAL, "bob", 0};
    td_eorder *o = malloc(sizeof *o);
    check(td_package_keygen(rpk, rsk, &err), &err);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, rpk, sizeof rpk);
    snprintf(key_json, sizeof key_json, "\"%s\"", hex);

    /* 1. Ten days, as soon as possible: approved, custodians, delivered. */
    char *body = make_doc(f, "L.x25519_public_key", key_json, "ext_id", "\"uuid-deliver\"", NULL);
    int64_t id = must_receive(f, body, A_STA, NULL);
    td_eorder_id_format(id, idt);
    snprintf(path, sizeof path, "%s/package-%lld.tdp", f->dir, (long long)id);
    const td_eorder_record recs[3] = {
        {TD_EORDER_CAT_CONTENT, "u-1234", T0 - 10 * DAY, "{\"post\": 7}", content_bytes,
         sizeof content_bytes - 1, "video/mp4"},
        {TD_EORDER_CAT_SUBSCRIBER, NULL, 0, "{\"name\": \"A. User\"}", NULL, 0, NULL},
        {TD_EORDER_CAT_TRAFFIC, "203.0.113.7", T0 - 12 * DAY, "{\"login\": true}",
         (const uint8_t *)"log line", 8, "text/plain"},
    };
    check(td_eorder_put_data(f->eo, "platform", idt, recs, 3, NULL, &why, &err), &err);
    assert_int_equal(td_eorder_deliver(f->eo, "legal-1", idt, path, &dv, &err), TD_ERR_CONFLICT);
    check(td_eorder_approve(f->eo, &alice, idt, NULL, &ap, &err), &err);
    check(td_eorder_approve(f->eo, &bob, idt, NULL, &ap, &err), &err);
    assert_true(ap.complete);
    /* Custodians have not approved the release: nothing happens. */
    assert_int_equal(td_eorder_deliver(f->eo, "legal-1", idt, path, &dv, &err), TD_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "custodians"));
    assert_int_equal(access(path, F_OK), -1);
    custodians_approve(f, ap.release_request);
    fake_clock_set(T0 + 2 * HOUR);
    check(td_eorder_deliver(f->eo, "legal-1", idt, path, &dv, &err), &err);
    assert_int_equal(dv.records, 3);
    assert_int_equal(dv.categories,
                     TD_EORDER_CAT_CONTENT | TD_EORDER_CAT_SUBSCRIBER | TD_EORDER_CAT_TRAFFIC);
    assert_int_equal(dv.delivered_ms, T0 + 2 * HOUR);
    check_package(f, path, rsk, id, 3, NULL);
    get(f, id, o);
    assert_int_equal(o->state, TD_EORDER_DELIVERED);
    assert_int_equal(o->delivered_ms, T0 + 2 * HOUR);
    assert_int_equal(messages(f, id, TD_EORDER_MSG_OUTCOME, TD_EORDER_MSG_PENDING), 1);
    assert_int_equal(audit_count(f, "eorder.delivery"), 1);
    assert_int_equal(audit_count(f, "eorder.delivered"), 1);
    td_eorder_record_info *ri = NULL;
    size_t n = 0;
    check(td_eorder_records(f->eo, "legal-1", "delivery check", idt, &ri, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ri[i].delivered_ms, T0 + 2 * HOUR);
    td_free(ri);
    char case_ref[64];
    snprintf(case_ref, sizeof case_ref, "eorder-%lld", (long long)id);
    td_evidence_case_info ci;
    check(td_evidence_case(td_eorders_evidence(f->eo), case_ref, &ci, &err), &err);
    assert_false(ci.hold);
    assert_true(ci.retain_until_ms > T0 + 100 * DAY); /* the usual retention runs */
    /* Delivered once. */
    snprintf(path, sizeof path, "%s/again.tdp", f->dir);
    assert_int_equal(td_eorder_deliver(f->eo, "legal-1", idt, path, &dv, &err), TD_ERR_CONFLICT);
    char *json = NULL;
    check(td_eorders_report(f->eo, T0, T0 + DAY, &json, &err), &err);
    assert_non_null(strstr(json, "\"median_receipt_to_delivery_ms\": 7200000"));
    td_free(json);

    /* 2. At the end of 10 days, content blocked by partial grounds: not before day 10, then
     * without the content. The package path taken: refused before anything is released. */
    fake_clock_set(T0);
    body = make_doc(f, "L.x25519_public_key", key_json, "C",
                    "{\"deadline\":"
                    " \"ten_days_enforcing\"}",
                    "enforcing_state_notified", "true", NULL);
    id = must_receive(f, body, A_STA, NULL);
    td_eorder_id_format(id, idt);
    check(td_eorder_put_data(f->eo, "platform", idt, recs, 3, NULL, &why, &err), &err);
    check(td_eorder_approve(f->eo, &alice, idt, NULL, &ap, &err), &err);
    check(td_eorder_approve(f->eo, &bob, idt, NULL, &ap, &err), &err);
    custodians_approve(f, ap.release_request);
    snprintf(path, sizeof path, "%s/package-%lld.tdp", f->dir, (long long)id);
    fake_clock_set(T0 + 5 * DAY);
    assert_int_equal(td_eorder_deliver(f->eo, "legal-1", idt, path, &dv, &err), TD_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "not allowed before"));
    must_event(f, id,
               "{\"action\": \"grounds\", \"kind\": \"partial\", \"categories\": [\"content\"],"
               " \"ground\": \"fundamental_rights\"}");
    fake_clock_set(T0 + 10 * DAY);
    FILE *taken = fopen(path, "w");
    assert_non_null(taken);
    fclose(taken);
    assert_int_equal(td_eorder_deliver(f->eo, "legal-1", idt, path, &dv, &err), TD_ERR_CONFLICT);
    unlink(path);
    check(td_eorder_deliver(f->eo, "legal-1", idt, path, &dv, &err), &err);
    assert_int_equal(dv.records, 2);
    assert_int_equal(dv.categories, TD_EORDER_CAT_SUBSCRIBER | TD_EORDER_CAT_TRAFFIC);
    check_package(f, path, rsk, id, 2, "content");
    get(f, id, o);
    assert_int_equal(o->state, TD_EORDER_DELIVERED);
    assert_int_equal(o->breached_ms, 0);

    /* 3. An emergency order: delivered at once once approved (one officer: subscriber data). */
    fake_clock_set(T0);
    body = make_doc(f, "L.x25519_public_key", key_json, "C",
                    "{\"deadline\": \"eight_hours\", \"emergency_reason\": \"life\"}",
                    "F.data_categories", "[\"subscriber\"]", NULL);
    id = must_receive(f, body, A_STA, NULL);
    td_eorder_id_format(id, idt);
    check(td_eorder_put_data(f->eo, "platform", idt, &recs[1], 1, NULL, &why, &err), &err);
    check(td_eorder_approve(f->eo, &alice, idt, NULL, &ap, &err), &err);
    assert_true(ap.complete);
    custodians_approve(f, ap.release_request);
    snprintf(path, sizeof path, "%s/package-%lld.tdp", f->dir, (long long)id);
    fake_clock_set(T0 + HOUR);
    check(td_eorder_deliver(f->eo, "legal-1", idt, path, &dv, &err), &err);
    check_package(f, path, rsk, id, 1, NULL);
    /* Grounds within 96 hours: the delivered data is restricted, the recipient told. */
    fake_clock_set(T0 + 20 * HOUR);
    must_event(f, id,
               "{\"action\": \"grounds\", \"kind\": \"full\", \"ground\": \"dual_criminality\"}");
    get(f, id, o);
    assert_true(o->restricted);
    assert_int_equal(messages(f, id, TD_EORDER_MSG_CORRESPONDENCE, TD_EORDER_MSG_PENDING), 1);
    sodium_memzero(rsk, sizeof rsk);
    free(o);
    log_verifies(f);
}

/* The handle's thread ticks on its own; a bad option is refused. */
static void test_clock_thread(void **state)
{
    fixture *f = *state;
    td_error err;
    td_eorders_close(f->eo);
    f->eo = NULL;
    td_eorders_options o;
    td_eorders_options_default(&o);
    o.orders = f->orders;
    o.marks_pct[1] = 10; /* not increasing */
    assert_int_equal(td_eorders_open(f->svc, &o, &f->eo, &err), TD_ERR_INVALID);
    td_eorders_options_default(&o);
    o.orders = f->orders;
    o.clock = 1;
    o.clock_interval_ms = 5;
    check(td_eorders_open(f->svc, &o, &f->eo, &err), &err);
    td_eorders_clock_stats cs;
    for (int i = 0; i < 400; i++) {
        td_eorders_clock_get_stats(f->eo, &cs);
        if (cs.ticks >= 2)
            break;
        usleep(5000);
    }
    assert_true(cs.running);
    assert_true(cs.ticks >= 2);
    assert_int_equal(cs.tick_failures, 0);
    /* The delivery key is the same after a reopen, and not the audit log's. */
    uint8_t pk1[32], pk2[32], audit_pk[32];
    td_eorders_delivery_public_key(f->eo, pk1);
    td_eorders_close(f->eo);
    f->eo = NULL;
    td_eorders_options_default(&o);
    o.orders = f->orders;
    check(td_eorders_open(f->svc, &o, &f->eo, &err), &err);
    td_eorders_delivery_public_key(f->eo, pk2);
    assert_memory_equal(pk1, pk2, 32);
    td_audit_public_key(td_eorders_audit(f->eo), audit_pk);
    assert_memory_not_equal(pk1, audit_pk, 32);
}

int main(void)
{
    T0 = td_order_time_parse("2026-12-02T00:00:00Z", 20);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_fields, setup, teardown),
        cmocka_unit_test(test_parse_events),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_options),
        cmocka_unit_test_setup_teardown(test_intake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalation_breach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preservation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdraw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_no_master, setup_no_master, teardown),
        cmocka_unit_test_setup_teardown(test_put_fails_halfway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approvals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_comply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_thread, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
