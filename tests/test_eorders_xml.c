/* The e-Evidence transport (include/takedown/eevidence_xml.h) against hand-written ETSI TS 103 120
 * messages (tests/data/eevidence/, one per endpoint) and hostile XML:
 *
 * - each endpoint's sample gives the expected JSON, member by member, with values written in this
 *   file (not taken from an earlier run): production.xml gives exactly the JSON example of
 *   docs/evidence-orders.md (read from the markdown at test time) but for the example's two
 *   placeholders, plus ext_id, documents (the signed PDF's SHA-256, computed here with libsodium
 *   from the bytes the sample encodes) and tasks;
 * - variants of the samples: every deadline priority, flags, the other grounds, other
 *   correspondence types, and what does not fit an endpoint;
 * - malformed and hostile XML: entity declarations, billion laughs, external and parameter
 *   entities, deep nesting, huge attributes and texts, too many objects and elements, truncation
 *   at every length, wrong namespace and root, missing required elements, bad encodings: each
 *   TD_ERR_INVALID or TD_ERR_LIMIT with a message naming the problem, no JSON, nothing on stderr;
 * - the outgoing messages built from JSON and read back (escaping, every member), and the
 *   builder's refusals;
 * - parsing from several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "support/support.h"
#include "takedown/eevidence_xml.h"

#define EPOC_ID "5f0c2a8e-3b1d-4c7a-9e2f-6a1b0c9d8e7f"
#define EPOCPR_ID "a3d9e6b2-7c41-4f08-b5e3-2d1c0b9a8f76"

/* The documents the samples carry, base64-encoded in their doc:Contents. */
static const char FORM1[] =
    "%PDF-1.7\n% takedown test fixture: EPOC (Annex I, Form 1), signed by StA Berlin\n%%EOF\n";
static const char FORM2[] =
    "%PDF-1.7\n% takedown test fixture: EPOC-PR (Annex II, Form 2), signed by PNAT Paris\n%%EOF\n";
static const char FORM5[] =
    "%PDF-1.7\n% takedown test fixture: Form 5 (Annex V), subsequent production\n%%EOF\n";
static const char FORM6[] =
    "%PDF-1.7\n% takedown test fixture: Form 6 (Annex VI), extension of preservation\n%%EOF\n";
static const char GFR[] =
    "%PDF-1.7\n% takedown test fixture: decision of the enforcing authority (IE)\n%%EOF\n";

/* ---- helpers ---- */

static char *sample(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/eevidence/%s", TD_SOURCE_DIR, name);
    char *text = (char *)read_all(path, len);
    text[*len] = '\0';
    return text;
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, n);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* stderr goes to a scratch file during each library call; it must stay empty. */
static FILE *err_sink;

static int quiet_begin(void)
{
    if (!err_sink)
        err_sink = tmpfile();
    assert_non_null(err_sink);
    assert_int_equal(ftruncate(fileno(err_sink), 0), 0);
    rewind(err_sink);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(err_sink), 2) >= 0);
    return saved;
}

static void quiet_end(int saved)
{
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    long size = lseek(fileno(err_sink), 0, SEEK_END);
    if (size != 0) {
        char text[512] = "";
        lseek(fileno(err_sink), 0, SEEK_SET);
        ssize_t n = read(fileno(err_sink), text, sizeof text - 1);
        text[n > 0 ? n : 0] = '\0';
        fail_msg("the library wrote %ld bytes to stderr: %s", size, text);
    }
}

static td_status parse(td_eevidence_endpoint ep, const char *xml, size_t len, char **json,
                       td_eevidence_header *h, td_error *err)
{
    int saved = quiet_begin();
    td_status st = td_eevidence_parse(ep, xml, len, json, h, err);
    quiet_end(saved);
    return st;
}

static json_t *parse_ok(td_eevidence_endpoint ep, const char *xml, size_t len,
                        td_eevidence_header *h)
{
    char *json = NULL;
    td_error err;
    td_status st = parse(ep, xml, len, &json, h, &err);
    if (st != TD_OK)
        fail_msg("%s: %s (%s)", td_eevidence_endpoint_name(ep), td_strerror(st), err.message);
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        fail_msg("not JSON: %s: %s", jerr.text, json);
    td_free(json);
    return j;
}

static json_t *parse_sample(td_eevidence_endpoint ep, const char *name, td_eevidence_header *h)
{
    size_t len;
    char *xml = sample(name, &len);
    json_t *j = parse_ok(ep, xml, len, h);
    free(xml);
    return j;
}

/* The parse must fail with want and a message containing needle. */
static void refused(td_eevidence_endpoint ep, const char *xml, size_t len, td_status want,
                    const char *needle)
{
    char *json = (char *)1;
    td_error err;
    td_status st = parse(ep, xml, len, &json, NULL, &err);
    if (st != want || !strstr(err.message, needle))
        fail_msg("expected %s with '%s', got %s: '%s'", td_strerror(want), needle, td_strerror(st),
                 err.message);
    assert_null(json);
    assert_int_equal(err.code, want);
}

static void refused_text(td_eevidence_endpoint ep, const char *xml, td_status want,
                         const char *needle)
{
    refused(ep, xml, strlen(xml), want, needle);
}

/* s with the first occurrence of from replaced by to (which must occur). */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (!at)
        fail_msg("'%s' not in the sample", from);
    size_t a = (size_t)(at - s), f = strlen(from), t = strlen(to), n = strlen(s);
    char *out = malloc(n - f + t + 1);
    assert_non_null(out);
    memcpy(out, s, a);
    memcpy(out + a, to, t);
    memcpy(out + a + t, at + f, n - a - f + 1);
    return out;
}

/* A variant of a sample: replace() applied to the file's text. */
static char *variant(const char *name, const char *from, const char *to)
{
    size_t len;
    char *xml = sample(name, &len);
    char *v = replace(xml, from, to);
    free(xml);
    return v;
}

/* The value at a path like "E.identifiers[1].port" (NULL if absent). */
static json_t *at(json_t *j, const char *path)
{
    char key[128];
    const char *p = path;
    while (j && *p) {
        size_t n = strcspn(p, ".[");
        if (n) {
            assert_true(n < sizeof key);
            memcpy(key, p, n);
            key[n] = '\0';
            j = json_object_get(j, key);
            p += n;
        }
        if (*p == '[') {
            char *end;
            long i = strtol(p + 1, &end, 10);
            j = json_array_get(j, (size_t)i);
            p = end + 1;
        }
        if (*p == '.')
            p++;
    }
    return j;
}

static void str_is(json_t *j, const char *path, const char *want)
{
    const char *got = json_string_value(at(j, path));
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s: '%s', expected '%s'", path, got ? got : "(absent)", want);
}

static void int_is(json_t *j, const char *path, long long want)
{
    json_t *v = at(j, path);
    if (!json_is_integer(v) || json_integer_value(v) != want)
        fail_msg("%s: not the integer %lld", path, want);
}

static void absent(json_t *j, const char *path)
{
    if (at(j, path))
        fail_msg("%s: present, expected absent", path);
}

static size_t members(json_t *j, const char *path)
{
    json_t *v = path ? at(j, path) : j;
    return json_is_object(v) ? json_object_size(v) : json_array_size(v);
}

/* ---- the endpoints' samples ---- */

static void test_endpoint_names(void **state)
{
    (void)state;
    static const char *const names[] = {"production",
                                        "preservation",
                                        "subsequentproduction",
                                        "preservationextension",
                                        "endpreservation",
                                        "newdeadline",
                                        "withdraw",
                                        "groundsforrefusal",
                                        "correspondence",
                                        "datapreserved",
                                        "outcome",
                                        "nonexecution"};
    for (int i = 0; i < TD_EEV_ENDPOINT_COUNT; i++) {
        assert_string_equal(td_eevidence_endpoint_name((td_eevidence_endpoint)i), names[i]);
        assert_int_equal(td_eevidence_endpoint_from_name(names[i], strlen(names[i])), i);
    }
    assert_int_equal(td_eevidence_endpoint_from_name("production", 4), -1);
    assert_int_equal(td_eevidence_endpoint_from_name("outcomes", 8), -1);
    assert_null(td_eevidence_endpoint_name(TD_EEV_ENDPOINT_COUNT));
    assert_string_equal(td_eevidence_message_name(TD_EEV_MSG_DATA_PRESERVED), "datapreserved");
    assert_string_equal(td_eevidence_message_name(TD_EEV_MSG_NON_EXECUTION), "nonexecution");
    assert_null(td_eevidence_message_name(TD_EEV_MSG_COUNT));
}

static void test_production(void **state)
{
    (void)state;
    td_eevidence_header h;
    json_t *j = parse_sample(TD_EEV_PRODUCTION, "production.xml", &h);
    assert_string_equal(h.sender.country, "DE");
    assert_string_equal(h.sender.unique_id, "DE-STA-BERLIN");
    assert_string_equal(h.receiver.country, "IE");
    assert_string_equal(h.receiver.unique_id, "IE-EXAMPLE-PLATFORM");
    assert_string_equal(h.transaction_id, "2b7e1c44-6f0a-4d8e-9c3b-5a1f0e2d3c4b");
    assert_string_equal(h.timestamp, "2026-12-01T09:05:00.000000Z");
    assert_int_equal(h.timestamp_ms, 1796115900000LL); /* date -u -d 2026-12-01T09:05:00Z +%s */
    assert_string_equal(h.etsi_version, "V1.22.1");
    assert_string_equal(h.profile_owner, "EU");
    assert_string_equal(h.profile_version, "v1.3.1");

    str_is(j, "framework", "eu_epoc");
    str_is(j, "ext_id", EPOC_ID);
    str_is(j, "A.issuing_state", "DE");
    str_is(j, "A.issuing_authority.name", "Staatsanwaltschaft Berlin");
    str_is(j, "A.issuing_authority.type", "public_prosecutor");
    str_is(j, "A.issuing_authority.file_number", "StA-2026-1234");
    str_is(j, "A.validating_authority.name", "Amtsgericht Tiergarten");
    str_is(j, "A.validating_authority.type", "judge_or_court");
    str_is(j, "A.validating_authority.file_number", "AG-352-Gs-77/26");
    str_is(j, "A.issued_at", "2026-12-01T09:00:00Z");
    str_is(j, "B.addressee", "Example Platform Ltd");
    str_is(j, "B.establishment", "designated_establishment");
    str_is(j, "B.member_state", "IE");
    str_is(j, "C.deadline", "ten_days_asap");
    absent(j, "C.emergency_reason");
    str_is(j, "D.earlier_order.framework", "eu_epoc_pr");
    str_is(j, "D.earlier_order.reference", "StA-2026-1200");
    assert_int_equal(members(j, "E.identifiers"), 2);
    str_is(j, "E.identifiers[0].type", "user_id");
    str_is(j, "E.identifiers[0].value", "u-1234");
    absent(j, "E.identifiers[0].port");
    absent(j, "E.identifiers[0].at");
    str_is(j, "E.identifiers[1].type", "ipv4");
    str_is(j, "E.identifiers[1].value", "203.0.113.7");
    int_is(j, "E.identifiers[1].port", 51234);
    str_is(j, "E.identifiers[1].at", "2026-11-20T10:00:00Z");
    str_is(j, "E.time_range.from", "2026-11-01T00:00:00Z");
    str_is(j, "E.time_range.to", "2026-11-30T23:59:59Z");
    static const char *const cats[] = {"subscriber", "identification", "traffic", "content"};
    assert_int_equal(members(j, "F.data_categories"), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_array_get(at(j, "F.data_categories"), i)),
                            cats[i]);
    assert_int_equal(members(j, "F.subscriber"), 7);
    str_is(j, "F.subscriber[0]", "name");
    str_is(j, "F.subscriber[6]", "service_type");
    str_is(j, "G.offence", "Participation in a terrorist group");
    str_is(j, "G.legal_classification", "\xc2\xa7 129a StGB");
    int_is(j, "G.max_penalty_years", 10);
    assert_true(json_is_true(at(j, "G.listed_terrorism")));
    str_is(j, "G.summary", "The account distributes propaganda of a listed group.");
    str_is(j, "H.user_information", "restricted");
    absent(j, "H.until"); /* the contract: until only with delayed */
    str_is(j, "I.contact.name", "OStA Example");
    str_is(j, "I.contact.email", "desk@sta.example");
    str_is(j, "I.contact.phone", "+49 30 1234");
    str_is(j, "J.contact.name", "Richterin Example");
    str_is(j, "J.contact.email", "ag@gericht.example");
    absent(j, "J.contact.phone");
    str_is(j, "K.contact.name", "Execution desk");
    str_is(j, "K.contact.email", "exec@sta.example");
    str_is(j, "K.contact.phone", "+49 30 99");
    str_is(j, "L.recipient", "Staatsanwaltschaft Berlin");
    str_is(j, "L.member_state", "DE");
    str_is(j, "L.x25519_public_key",
           "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f");
    assert_true(json_is_false(at(j, "enforcing_state_notified")));
    str_is(j, "language", "de");

    /* The signed Form 1: its digest and size, not its bytes. */
    char hex[65];
    sha256_hex(FORM1, strlen(FORM1), hex);
    assert_int_equal(members(j, "documents"), 1);
    str_is(j, "documents[0].type", "Form1");
    str_is(j, "documents[0].object_id", "c1f2e3d4-b5a6-4978-8a9b-0c1d2e3f4a5b");
    str_is(j, "documents[0].content_type", "application/pdf");
    int_is(j, "documents[0].size", (long long)strlen(FORM1));
    str_is(j, "documents[0].sha256", hex);
    absent(j, "documents[0].contents");

    /* One task per identifier and category, in the message's order. */
    assert_int_equal(members(j, "tasks"), 8);
    for (int i = 0; i < 8; i++) {
        char path[32], id[40];
        snprintf(path, sizeof path, "tasks[%d].id", i);
        snprintf(id, sizeof id, "0d6c1e2f-%04d-4%03d-8000-00000000%02d%02d", i / 4 + 1, i % 4 + 1,
                 i / 4 + 1, i % 4 + 1);
        str_is(j, path, id);
        snprintf(path, sizeof path, "tasks[%d].identifier", i);
        int_is(j, path, i / 4);
        snprintf(path, sizeof path, "tasks[%d].category", i);
        str_is(j, path, cats[i % 4]);
    }
    json_decref(j);
}

/* production.xml is the contract's example: the same members and values, but for the example's
 * placeholders (the recipient's key, our own id of the earlier order, which an authority sending
 * XML does not know) and the transport's own members. */
static void test_production_is_the_contract_example(void **state)
{
    (void)state;
    size_t len;
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/evidence-orders.md", TD_SOURCE_DIR);
    char *md = (char *)read_all(path, &len);
    md[len] = '\0';
    char *start = strstr(md, "```json\n");
    assert_non_null(start);
    start += 8;
    char *end = strstr(start, "\n```");
    assert_non_null(end);
    *end = '\0';
    json_error_t jerr;
    json_t *example = json_loads(start, 0, &jerr);
    if (!example)
        fail_msg("the example of docs/evidence-orders.md is not JSON: %s", jerr.text);
    free(md);
    json_t *j = parse_sample(TD_EEV_PRODUCTION, "production.xml", NULL);

    assert_true(json_object_del(json_object_get(example, "L"), "x25519_public_key") == 0);
    assert_true(json_object_del(at(example, "D.earlier_order"), "id") == 0);
    assert_true(json_object_del(json_object_get(j, "L"), "x25519_public_key") == 0);
    for (const char *own[] = {"ext_id", "documents", "tasks", NULL}, **k = own; *k; k++)
        assert_true(json_object_del(j, *k) == 0);
    const char *key;
    json_t *v;
    json_object_foreach(example, key, v)
    {
        if (!json_equal(v, json_object_get(j, key))) {
            char *a = json_dumps(v, JSON_COMPACT), *b = json_dumps(json_object_get(j, key), 0);
            fail_msg("member %s: the example has %s, production.xml gives %s", key, a,
                     b ? b : "nothing");
        }
    }
    assert_int_equal(json_object_size(j), json_object_size(example));
    json_decref(example);
    json_decref(j);
}

static void test_preservation(void **state)
{
    (void)state;
    td_eevidence_header h;
    json_t *j = parse_sample(TD_EEV_PRESERVATION, "preservation.xml", &h);
    assert_string_equal(h.sender.unique_id, "FR-PNAT-PARIS");
    str_is(j, "framework", "eu_epoc_pr");
    str_is(j, "ext_id", EPOCPR_ID);
    str_is(j, "A.issuing_state", "FR");
    str_is(j, "A.issuing_authority.type", "judge_or_court");
    str_is(j, "A.issuing_authority.name", "Juge d'instruction, Tribunal judiciaire de Paris");
    absent(j, "A.validating_authority");
    absent(j, "J");
    str_is(j, "A.issued_at", "2026-11-28T14:00:00Z");
    str_is(j, "B.establishment", "legal_representative");
    absent(j, "C"); /* an EPOC-PR has no deadline class */
    absent(j, "D");
    absent(j, "enforcing_state_notified");
    str_is(j, "E.identifiers[0].type", "email");
    str_is(j, "E.identifiers[0].value", "user@example.org");
    str_is(j, "E.identifiers[1].type", "content_url");
    str_is(j, "E.identifiers[1].value", "https://platform.example/v/8812");
    /* Offsets are converted to UTC: 2026-10-01T00:00:00+02:00, 2026-11-28T00:00:00+01:00. */
    str_is(j, "E.time_range.from", "2026-09-30T22:00:00Z");
    str_is(j, "E.time_range.to", "2026-11-27T23:00:00Z");
    assert_int_equal(members(j, "F.data_categories"), 3);
    str_is(j, "F.data_categories[0]", "subscriber");
    str_is(j, "F.data_categories[1]", "traffic");
    str_is(j, "F.data_categories[2]", "content");
    absent(j, "F.subscriber");
    str_is(j, "G.legal_classification", "Article 421-2-5 du Code p\xc3\xa9nal");
    int_is(j, "G.max_penalty_years", 7);
    str_is(j, "G.summary",
           "Videos calling for attacks were posted from the account & shared in a channel.");
    str_is(j, "H.user_information", "not_informed");
    absent(j, "H.until");
    str_is(j, "I.contact.phone", "+33 1 44 32 00 00");
    absent(j, "K.contact.phone");
    str_is(j, "L.x25519_public_key", "n1BmL2mqkD0hdYlqWbB4M8yQw7n5oGgq5t0fZ3eJm0k=");
    str_is(j, "language", "fr");
    char hex[65];
    sha256_hex(FORM2, strlen(FORM2), hex);
    str_is(j, "documents[0].type", "Form2");
    str_is(j, "documents[0].sha256", hex);
    int_is(j, "documents[0].size", (long long)strlen(FORM2));
    assert_int_equal(members(j, "tasks"), 6);
    int_is(j, "tasks[5].identifier", 1);
    str_is(j, "tasks[5].category", "content");
    json_decref(j);
}

static void test_events(void **state)
{
    (void)state;
    char hex[65];
    json_t *j = parse_sample(TD_EEV_SUBSEQUENT_PRODUCTION, "subsequentproduction.xml", NULL);
    str_is(j, "action", "subsequent_production");
    str_is(j, "order", EPOCPR_ID);
    str_is(j, "reference", "PNAT-2027-0007-PROD");
    sha256_hex(FORM5, strlen(FORM5), hex);
    str_is(j, "documents[0].type", "Form5");
    str_is(j, "documents[0].sha256", hex);
    json_decref(j);

    j = parse_sample(TD_EEV_PRESERVATION_EXTENSION, "preservationextension.xml", NULL);
    str_is(j, "action", "extend_preservation");
    str_is(j, "order", EPOCPR_ID);
    sha256_hex(FORM6, strlen(FORM6), hex);
    str_is(j, "documents[0].type", "Form6");
    str_is(j, "documents[0].sha256", hex);
    assert_int_equal(members(j, NULL), 3);
    json_decref(j);

    j = parse_sample(TD_EEV_END_PRESERVATION, "endpreservation.xml", NULL);
    str_is(j, "action", "end_preservation");
    str_is(j, "order", EPOCPR_ID);
    assert_int_equal(members(j, NULL), 2);
    json_decref(j);

    /* 2026-12-15T12:00:00+01:00 */
    j = parse_sample(TD_EEV_NEW_DEADLINE, "newdeadline.xml", NULL);
    str_is(j, "action", "new_deadline");
    str_is(j, "order", EPOC_ID);
    str_is(j, "deadline", "2026-12-15T11:00:00Z");
    json_decref(j);

    j = parse_sample(TD_EEV_WITHDRAW, "withdraw.xml", NULL);
    str_is(j, "action", "withdraw");
    str_is(j, "order", EPOC_ID);
    assert_int_equal(members(j, NULL), 2);
    json_decref(j);

    td_eevidence_header h;
    j = parse_sample(TD_EEV_GROUNDS_FOR_REFUSAL, "groundsforrefusal.xml", &h);
    assert_string_equal(h.sender.unique_id, "IE-DOJ-EA");
    str_is(j, "action", "grounds");
    str_is(j, "order", EPOC_ID);
    str_is(j, "kind", "partial");
    assert_int_equal(members(j, "categories"), 2);
    str_is(j, "categories[0]", "traffic");
    str_is(j, "categories[1]", "content");
    str_is(j, "ground", "fundamental_rights");
    sha256_hex(GFR, strlen(GFR), hex);
    str_is(j, "documents[0].sha256", hex);
    json_decref(j);

    j = parse_sample(TD_EEV_CORRESPONDENCE, "correspondence.xml", NULL);
    str_is(j, "action", "correspondence");
    str_is(j, "order", EPOC_ID);
    str_is(j, "kind", "request_additional_information");
    str_is(j, "text",
           "Please confirm whether the IPv4 address was observed in UTC or in local "
           "time.\nThank you.");
    absent(j, "document_type");
    json_decref(j);
}

/* ---- variants of the samples ---- */

static void test_deadlines_and_flags(void **state)
{
    (void)state;
    static const char *const prio[][2] = {{"TenDaysSubjectToEA", "ten_days_enforcing"},
                                          {"EightHours", "eight_hours"}};
    for (int i = 0; i < 2; i++) {
        char search[64], with[64];
        snprintf(with, sizeof with, "<common:Value>%s</common:Value>", prio[i][0]);
        snprintf(search, sizeof search, "<common:Value>TenDaysASAP</common:Value>");
        char *xml = variant("production.xml", search, with);
        json_t *j = parse_ok(TD_EEV_PRODUCTION, xml, strlen(xml), NULL);
        str_is(j, "C.deadline", prio[i][1]);
        json_decref(j);
        free(xml);
    }
    /* The enforcing state notified (a standard flag) and an emergency reason (ours). */
    char *xml = variant("production.xml", "<auth:AuthorisationCSPID>",
                        "<auth:AuthorisationFlags><auth:AuthorisationFlag><common:Owner>ETSI"
                        "</common:Owner><common:Name>EPOCAuthorisationFlag</common:Name>"
                        "<common:Value>EnforcingAuthorityNotified</common:Value>"
                        "</auth:AuthorisationFlag></auth:AuthorisationFlags>"
                        "<auth:AuthorisationCSPID>");
    char *xml2 = replace(xml, "<eev:EarlierOrder>",
                         "<eev:EmergencyReason>life</eev:EmergencyReason><eev:EarlierOrder>");
    json_t *j = parse_ok(TD_EEV_PRODUCTION, xml2, strlen(xml2), NULL);
    assert_true(json_is_true(at(j, "enforcing_state_notified")));
    str_is(j, "C.emergency_reason", "life");
    json_decref(j);
    free(xml);
    free(xml2);

    /* Unknown priority, a priority on an EPOC-PR, a missing one on an EPOC. */
    xml = variant("production.xml", "TenDaysASAP", "Urgent");
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID,
                 "auth:AuthorisationPriority 'Urgent' is not one of TenDaysASAP");
    free(xml);
    xml = variant("preservation.xml", "<auth:AuthorisationCSPID>",
                  "<auth:AuthorisationPriority><common:Value>EightHours</common:Value>"
                  "</auth:AuthorisationPriority><auth:AuthorisationCSPID>");
    refused_text(TD_EEV_PRESERVATION, xml, TD_ERR_INVALID, "belongs to an EPOC, not an EPOC-PR");
    free(xml);
    xml = variant("production.xml", "<common:Value>TenDaysASAP</common:Value>", "");
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID, "auth:AuthorisationPriority/common:Value");
    free(xml);
}

static void test_wrong_endpoint(void **state)
{
    (void)state;
    size_t len;
    char *xml = sample("production.xml", &len);
    refused(TD_EEV_PRESERVATION, xml, len, TD_ERR_INVALID,
            "auth:AuthorisationLegalType is 'EPOC' but endpoint preservation expects EPOCPR");
    refused(TD_EEV_WITHDRAW, xml, len, TD_ERR_INVALID,
            "CREATE of an AuthorisationObject: a new order goes to production or preservation");
    free(xml);
    xml = sample("withdraw.xml", &len);
    refused(TD_EEV_PRODUCTION, xml, len, TD_ERR_INVALID, "UPDATE where CREATE is expected");
    refused(TD_EEV_END_PRESERVATION, xml, len, TD_ERR_INVALID, "is a withdrawal");
    refused(TD_EEV_NEW_DEADLINE, xml, len, TD_ERR_INVALID, "eev:NewDeadline is missing");
    refused(TD_EEV_GROUNDS_FOR_REFUSAL, xml, len, TD_ERR_INVALID,
            "no grounds for refusal document");
    free(xml);
    xml = sample("endpreservation.xml", &len);
    refused(TD_EEV_WITHDRAW, xml, len, TD_ERR_INVALID,
            "auth:AuthorisationDesiredStatus is '(missing)'; a withdrawal is Cancelled");
    free(xml);
    xml = sample("preservationextension.xml", &len);
    refused(TD_EEV_SUBSEQUENT_PRODUCTION, xml, len, TD_ERR_INVALID,
            "doc:DocumentType 'Form6' is not expected on endpoint subsequentproduction");
    refused(TD_EEV_CORRESPONDENCE, xml, len, TD_ERR_INVALID,
            "doc:DocumentType 'Form6' is not expected on endpoint correspondence");
    free(xml);
    xml = sample("correspondence.xml", &len);
    refused(TD_EEV_DATA_PRESERVED, xml, len, TD_ERR_INVALID,
            "doc:DocumentObject 8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e): not expected on endpoint "
            "datapreserved");
    free(xml);
    /* A Form 5 without the production order's reference. */
    xml = variant("subsequentproduction.xml",
                  "<doc:DocumentReference>PNAT-2027-0007-PROD</doc:DocumentReference>", "");
    refused_text(TD_EEV_SUBSEQUENT_PRODUCTION, xml, TD_ERR_INVALID, "doc:DocumentReference");
    free(xml);
    /* A document naming no order. */
    xml = variant("preservationextension.xml", "<AssociatedObject>" EPOCPR_ID "</AssociatedObject>",
                  "");
    refused_text(TD_EEV_PRESERVATION_EXTENSION, xml, TD_ERR_INVALID,
                 "AssociatedObjects is missing: it names the order's AuthorisationObject");
    free(xml);
    /* An LDTask of another order. */
    xml = variant(
        "production.xml",
        "<AssociatedObject>" EPOC_ID "</AssociatedObject>\n              </AssociatedObjects>\n"
        "              <task:Reference>DE-StA-2026-1234-1-1",
        "<AssociatedObject>" EPOCPR_ID "</AssociatedObject>\n              </AssociatedObjects>\n"
        "              <task:Reference>DE-StA-2026-1234-1-1");
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID,
                 "AssociatedObjects does not name the AuthorisationObject " EPOC_ID);
    free(xml);
}

static void test_grounds_and_correspondence_kinds(void **state)
{
    (void)state;
    /* No grounds: no categories, no ground. */
    char *a = variant("groundsforrefusal.xml", "PartialGroundsForRefusal", "NoGroundsForRefusal");
    char *b = replace(a, "<eev:Grounds>", "<eev:Unused>");
    char *xml = replace(b, "</eev:Grounds>", "</eev:Unused>");
    refused_text(TD_EEV_GROUNDS_FOR_REFUSAL, xml, TD_ERR_INVALID, "eev:Unused is not expected");
    free(b);
    free(xml);
    refused_text(TD_EEV_GROUNDS_FOR_REFUSAL, a, TD_ERR_INVALID,
                 "NoGroundsForRefusal names no category and no ground");
    size_t s = strlen(a);
    char *start = strstr(a, "  <eev:Grounds>"), *end = strstr(a, "</eev:Grounds>\n");
    assert_non_null(start);
    memmove(start, end + 15, (size_t)(a + s - (end + 15)) + 1);
    json_t *j = parse_ok(TD_EEV_GROUNDS_FOR_REFUSAL, a, strlen(a), NULL);
    str_is(j, "kind", "none");
    assert_int_equal(members(j, "categories"), 0);
    absent(j, "ground");
    json_decref(j);
    free(a);

    /* Full grounds without categories refuse all four. */
    a = variant("groundsforrefusal.xml", "PartialGroundsForRefusal", "FullGroundsForRefusal");
    b = replace(a, "<eev:Category>traffic</eev:Category>", "");
    xml = replace(b, "<eev:Category>content</eev:Category>", "");
    j = parse_ok(TD_EEV_GROUNDS_FOR_REFUSAL, xml, strlen(xml), NULL);
    str_is(j, "kind", "full");
    assert_int_equal(members(j, "categories"), 4);
    str_is(j, "ground", "fundamental_rights");
    json_decref(j);
    free(b);
    free(xml);
    /* Partial without categories, a ground or category we do not know. */
    b = variant("groundsforrefusal.xml", "<eev:Category>traffic</eev:Category>", "");
    xml = replace(b, "<eev:Category>content</eev:Category>", "");
    refused_text(TD_EEV_GROUNDS_FOR_REFUSAL, xml, TD_ERR_INVALID,
                 "PartialGroundsForRefusal names no eev:Grounds/eev:Category");
    free(b);
    free(xml);
    free(a);
    xml = variant("groundsforrefusal.xml", "fundamental_rights", "politics");
    refused_text(TD_EEV_GROUNDS_FOR_REFUSAL, xml, TD_ERR_INVALID,
                 "eev:Grounds/eev:Ground 'politics' is not one of");
    free(xml);
    xml = variant("groundsforrefusal.xml", ">traffic<", ">metadata<");
    refused_text(TD_EEV_GROUNDS_FOR_REFUSAL, xml, TD_ERR_INVALID,
                 "eev:Grounds/eev:Category 'metadata'");
    free(xml);

    /* The other correspondence types. */
    xml = variant("correspondence.xml", "RequestAdditionalInformation",
                  "ProvideAdditionalInformation");
    j = parse_ok(TD_EEV_CORRESPONDENCE, xml, strlen(xml), NULL);
    str_is(j, "kind", "provide_additional_information");
    json_decref(j);
    free(xml);
    xml = variant("correspondence.xml", "RequestAdditionalInformation", "ProceedingToCourt");
    j = parse_ok(TD_EEV_CORRESPONDENCE, xml, strlen(xml), NULL);
    str_is(j, "kind", "other");
    str_is(j, "document_type", "ProceedingToCourt");
    json_decref(j);
    free(xml);
    /* A body that is not text: an attachment, the text empty. */
    xml = variant("correspondence.xml", "text/plain; charset=utf-8", "application/pdf");
    j = parse_ok(TD_EEV_CORRESPONDENCE, xml, strlen(xml), NULL);
    str_is(j, "text", "");
    str_is(j, "documents[0].content_type", "application/pdf");
    json_decref(j);
    free(xml);
    /* A text/plain body that is not UTF-8 (base64 of 0xff 0xfe). */
    a = variant("correspondence.xml", "<doc:Contents>", "<doc:Contents>//4=<!--");
    xml = replace(a, "</doc:Contents>", "--></doc:Contents>");
    refused_text(TD_EEV_CORRESPONDENCE, xml, TD_ERR_INVALID, "is not UTF-8 text");
    free(a);
    free(xml);
}

/* ---- hostile and malformed XML ---- */

#define HEAD                                                                                       \
    "<HI1Message xmlns=\"http://uri.etsi.org/03120/common/2019/10/Core\">"                         \
    "<Header><SenderIdentifier><CountryCode>DE</CountryCode><UniqueIdentifier>x"                   \
    "</UniqueIdentifier></SenderIdentifier><ReceiverIdentifier><CountryCode>IE</CountryCode>"      \
    "<UniqueIdentifier>y</UniqueIdentifier></ReceiverIdentifier><TransactionIdentifier>"           \
    "2b7e1c44-6f0a-4d8e-9c3b-5a1f0e2d3c4b</TransactionIdentifier><Timestamp>"                      \
    "2026-12-01T09:05:00Z</Timestamp><Version><ETSIVersion>V1.22.1</ETSIVersion></Version>"        \
    "</Header>"

static void test_entities_refused(void **state)
{
    (void)state;
    refused_text(TD_EEV_PRODUCTION,
                 "<?xml version=\"1.0\"?><!DOCTYPE HI1Message [<!ENTITY x \"y\">]>"
                 "<HI1Message>&x;</HI1Message>",
                 TD_ERR_INVALID, "a DOCTYPE (<!DOCTYPE HI1Message>) is refused");
    /* Billion laughs: refused at its DOCTYPE, before any expansion. */
    refused_text(
        TD_EEV_PRODUCTION,
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
        " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
        " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
        " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
        " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
        " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
        " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
        "]>\n<lolz>&lol9;</lolz>",
        TD_ERR_INVALID, "DOCTYPE");
    /* An external entity naming a local file, and one naming a URL. */
    refused_text(TD_EEV_PRODUCTION,
                 "<?xml version=\"1.0\"?><!DOCTYPE HI1Message [<!ENTITY xxe SYSTEM "
                 "\"file:///etc/passwd\">]><HI1Message>&xxe;</HI1Message>",
                 TD_ERR_INVALID, "DOCTYPE");
    refused_text(TD_EEV_PRODUCTION,
                 "<?xml version=\"1.0\"?><!DOCTYPE HI1Message SYSTEM "
                 "\"http://127.0.0.1:1/evil.dtd\"><HI1Message/>",
                 TD_ERR_INVALID, "DOCTYPE");
    refused_text(TD_EEV_PRODUCTION,
                 "<!DOCTYPE x [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><x/>",
                 TD_ERR_INVALID, "DOCTYPE");
    /* Without a DOCTYPE an entity reference names nothing. */
    refused_text(TD_EEV_PRODUCTION, HEAD "<Payload>&xxe;</Payload></HI1Message>", TD_ERR_INVALID,
                 "Entity 'xxe' not defined");
    /* An XInclude is an element like any other: never followed, and not ours. */
    refused_text(TD_EEV_PRODUCTION,
                 HEAD "<Payload><xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
                      "href=\"file:///etc/passwd\" parse=\"text\"/></Payload></HI1Message>",
                 TD_ERR_INVALID, "Payload/RequestPayload is missing");
    /* The character references of XML are fine: &#38; is '&'. */
    char *xml = variant("production.xml", "Execution desk", "Execution &#38; desk &lt;1&gt;");
    json_t *j = parse_ok(TD_EEV_PRODUCTION, xml, strlen(xml), NULL);
    str_is(j, "K.contact.name", "Execution & desk <1>");
    json_decref(j);
    free(xml);
}

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 7 + 64);
    assert_non_null(s);
    size_t n = 0;
    for (int i = 0; i < depth; i++)
        n += (size_t)sprintf(s + n, "<a>");
    for (int i = 0; i < depth; i++)
        n += (size_t)sprintf(s + n, "</a>");
    return s;
}

static void test_limits(void **state)
{
    (void)state;
    /* Nesting: one past the limit, and far past it. */
    char *xml = nested(TD_EEV_MAX_DEPTH + 1);
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_LIMIT, "elements nested deeper than 32");
    free(xml);
    xml = nested(100000);
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_LIMIT, "elements nested deeper than 32");
    free(xml);
    xml = nested(TD_EEV_MAX_DEPTH);
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID, "the root element is <a>");
    free(xml);

    /* An attribute value over the limit. */
    size_t big = TD_EEV_MAX_ATTR_LEN + 1;
    char *attr = malloc(big + 1);
    memset(attr, 'x', big);
    attr[big] = '\0';
    char *a = malloc(big + 256);
    snprintf(a, big + 256,
             "<HI1Message xmlns=\"http://uri.etsi.org/03120/common/2019/10/Core\" "
             "id=\"%s\"/>",
             attr);
    refused_text(TD_EEV_PRODUCTION, a, TD_ERR_LIMIT, "attribute id of <HI1Message> is longer");
    free(a);
    free(attr);
    /* Too many attributes. */
    char many[2048] = "<HI1Message";
    for (int i = 0; i <= TD_EEV_MAX_ATTRS; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), " a%d=\"1\"", i);
    strcat(many, "/>");
    refused_text(TD_EEV_PRODUCTION, many, TD_ERR_LIMIT, "more than 16 attributes");

    /* A text over the limit (but doc:Contents may hold a document). */
    size_t tlen = TD_EEV_MAX_TEXT + 1;
    char *t = malloc(tlen + 4096);
    size_t n = (size_t)sprintf(t, HEAD "<Payload>");
    memset(t + n, 'y', tlen);
    strcpy(t + n + tlen, "</Payload></HI1Message>");
    refused_text(TD_EEV_PRODUCTION, t, TD_ERR_LIMIT, "the text of <Payload> is longer than 65536");
    free(t);

    /* Too many elements, then too many objects. */
    size_t cap = (TD_EEV_MAX_NODES + 10) * 8 + 4096;
    char *e = malloc(cap);
    n = (size_t)sprintf(e, HEAD "<Payload>");
    for (int i = 0; i <= TD_EEV_MAX_NODES; i++)
        n += (size_t)sprintf(e + n, "<b/>");
    strcpy(e + n, "</Payload></HI1Message>");
    refused_text(TD_EEV_PRODUCTION, e, TD_ERR_LIMIT, "more than 20000 elements");
    free(e);
    e = malloc(cap);
    n = (size_t)sprintf(e, HEAD "<Payload>");
    for (int i = 0; i <= TD_EEV_MAX_NODES; i++)
        n += (size_t)sprintf(e + n, "<!---->");
    strcpy(e + n, "</Payload></HI1Message>");
    refused_text(TD_EEV_PRODUCTION, e, TD_ERR_LIMIT, "comments and processing instructions");
    free(e);
    static const char action[] =
        "<ActionRequest><ActionIdentifier>1</ActionIdentifier><CREATE><HI1Object "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:doc="
        "\"http://uri.etsi.org/03120/common/2020/09/Document\" xsi:type=\"doc:DocumentObject\">"
        "<ObjectIdentifier>00000000-0000-4000-8000-%012d</ObjectIdentifier><CountryCode>DE"
        "</CountryCode><OwnerIdentifier>x</OwnerIdentifier></HI1Object></CREATE></ActionRequest>";
    size_t ocap = (TD_EEV_MAX_OBJECTS + 2) * sizeof action + 4096;
    char *o = malloc(ocap);
    n = (size_t)sprintf(o, HEAD "<Payload><RequestPayload><ActionRequests>");
    for (int i = 0; i <= TD_EEV_MAX_OBJECTS; i++)
        n += (size_t)snprintf(o + n, ocap - n, action, i);
    strcpy(o + n, "</ActionRequests></RequestPayload></Payload></HI1Message>");
    refused_text(TD_EEV_PRODUCTION, o, TD_ERR_LIMIT, "more than 256 ActionRequests");
    free(o);

    /* The size limit, checked before parsing. */
    char *huge = malloc(TD_EEV_MAX_XML + 2);
    memset(huge, ' ', TD_EEV_MAX_XML + 1);
    refused(TD_EEV_PRODUCTION, huge, TD_EEV_MAX_XML + 1, TD_ERR_LIMIT, "over the limit of");
    free(huge);
}

static void test_malformed(void **state)
{
    (void)state;
    refused(TD_EEV_PRODUCTION, "", 0, TD_ERR_INVALID, "empty message");
    refused_text(TD_EEV_PRODUCTION, "not xml", TD_ERR_INVALID, "malformed XML at line 1");
    refused_text(TD_EEV_PRODUCTION, "<a><b></a>", TD_ERR_INVALID, "malformed XML");
    refused(TD_EEV_PRODUCTION, "<a>\0</a>", 8, TD_ERR_INVALID, "a NUL byte at 3");
    refused_text(TD_EEV_PRODUCTION, "<a>\xff</a>", TD_ERR_INVALID, "not UTF-8 (byte 3)");
    refused(TD_EEV_PRODUCTION, "\xff\xfe<\0a\0/\0>\0", 10, TD_ERR_INVALID, "not UTF-8");
    /* The declaration cannot change the encoding: the bytes are read as UTF-8. */
    char *xml = variant("production.xml", "encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\"");
    json_t *j = parse_ok(TD_EEV_PRODUCTION, xml, strlen(xml), NULL);
    str_is(j, "G.legal_classification", "\xc2\xa7 129a StGB");
    json_decref(j);
    free(xml);

    /* Truncated at every length: refused, never a crash or a partial document. */
    size_t len;
    char *full = sample("production.xml", &len);
    for (size_t cut = 0; cut < len; cut += cut < 2000 ? 1 : 97) {
        char *json = (char *)1;
        td_error err;
        td_status st = parse(TD_EEV_PRODUCTION, full, cut, &json, NULL, &err);
        if (st != TD_ERR_INVALID)
            fail_msg("cut at %zu: %s (%s)", cut, td_strerror(st), err.message);
        assert_null(json);
        assert_true(err.message[0] != '\0');
    }
    free(full);

    /* Wrong root and namespace. */
    xml = variant("production.xml", "xmlns=\"http://uri.etsi.org/03120/common/2019/10/Core\"",
                  "xmlns=\"http://uri.etsi.org/03120/common/2017/07/Core\"");
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID,
                 "the root element is <HI1Message> in namespace "
                 "'http://uri.etsi.org/03120/common/2017/07/Core'");
    free(xml);
    refused_text(TD_EEV_PRODUCTION, "<HI1Message/>", TD_ERR_INVALID,
                 "the root element is <HI1Message> in namespace ''");
    xml = variant("production.xml",
                  "xmlns:auth=\"http://uri.etsi.org/03120/common/2020/09/Authorisation\"",
                  "xmlns:auth=\"urn:example:auth\"");
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID,
                 "xsi:type 'auth:AuthorisationObject' is not accepted");
    free(xml);
    xml = variant("production.xml", "xsi:type=\"auth:AuthorisationObject\"",
                  "xsi:type=\"nope:AuthorisationObject\"");
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID, "(undeclared prefix)");
    free(xml);
    xml = variant("production.xml", " xsi:type=\"auth:AuthorisationObject\"", "");
    refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID, "HI1Object without xsi:type");
    free(xml);

    /* Missing required elements, each named. */
    static const char *const missing[][2] = {
        {"<TransactionIdentifier>2b7e1c44-6f0a-4d8e-9c3b-5a1f0e2d3c4b</TransactionIdentifier>",
         "Header/TransactionIdentifier is missing"},
        {"<Timestamp>2026-12-01T09:05:00.000000Z</Timestamp>", "Header/Timestamp is missing"},
        {"<ETSIVersion>V1.22.1</ETSIVersion>", "Header/Version/ETSIVersion is missing"},
        {"<CountryCode>DE</CountryCode>\n      <UniqueIdentifier>DE-STA-BERLIN</UniqueIdentifier>",
         "Header/SenderIdentifier/CountryCode is missing"},
        {"<ObjectIdentifier>5f0c2a8e-3b1d-4c7a-9e2f-6a1b0c9d8e7f</ObjectIdentifier>",
         "ObjectIdentifier is missing"},
        {"<OwnerIdentifier>DE-STA-BERLIN</OwnerIdentifier>", "OwnerIdentifier is missing"},
        {"<common:ApprovalTimestamp>2026-12-01T09:00:00Z</common:ApprovalTimestamp>",
         "common:ApprovalTimestamp is missing (A.issued_at)"},
        {"<common:ApproverRole>PublicProsecutor</common:ApproverRole>",
         "common:ApproverRole is missing"},
        {"<task:FormatName>IPv4Address</task:FormatName>", "task:FormatType/task:FormatName is "
                                                           "missing"},
        {"<doc:ContentType>application/pdf</doc:ContentType>",
         "doc:DocumentBody/doc:ContentType is missing"},
        {"<ActionIdentifier>0</ActionIdentifier>", "ActionRequest/ActionIdentifier is missing"},
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        xml = variant("production.xml", missing[i][0], "");
        refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID, missing[i][1]);
        free(xml);
    }
    /* Bad values, each named. */
    static const char *const bad[][3] = {
        {"<TransactionIdentifier>2b7e1c44-6f0a-4d8e-9c3b-5a1f0e2d3c4b",
         "<TransactionIdentifier>2b7e1c44-6f0a-4d8e-9c3b-5a1f0e2d3c4", "is not a UUID"},
        {"<Timestamp>2026-12-01T09:05:00.000000Z", "<Timestamp>2026-12-01 09:05",
         "Header/Timestamp '2026-12-01 09:05' is not a date and time"},
        {"<CountryCode>DE</CountryCode>", "<CountryCode>de</CountryCode>",
         "Header/SenderIdentifier/CountryCode 'de' is not two capital letters"},
        {"<common:ApproverRole>PublicProsecutor", "<common:ApproverRole>Police",
         "common:ApproverRole 'Police' is not one of PublicProsecutor"},
        {">IPv4Address<", ">IPv4Adress<", "ETSI format 'IPv4Adress' is not mapped"},
        {"<common:Value>StoredContentData", "<common:Value>Metadata",
         "task:RequestDetails/task:Type 'Metadata' is not one of"},
        {"<eev:Port>51234", "<eev:Port>70000", "eev:Target/eev:Port '70000' is not an integer"},
        {"<eev:MaxPenaltyYears>10", "<eev:MaxPenaltyYears>ten", "eev:Offence/eev:MaxPenaltyYears"},
        {"<eev:ListedTerrorism>true", "<eev:ListedTerrorism>yes", "is not true or false"},
        {"<eev:Language>de</eev:Language>", "<eev:Langauge>de</eev:Langauge>",
         "unknown element eev:Langauge"},
        {"<RequestPayload>", "<ResponsePayload><RequestPayloadx>", "malformed XML"},
        {"<doc:Contents>", "<doc:Contents>*", "doc:DocumentBody/doc:Contents is not base64"},
        {"<common:Value>Form1</common:Value>", "<common:Value>Form2</common:Value>",
         "doc:DocumentType 'Form2' is not expected on endpoint production"},
        {"<task:StartTime>2026-11-01T00:00:00Z</task:StartTime>", "",
         "task:RequestDetails has one of StartTime and EndTime only"},
        {"<ObjectIdentifier>0d6c1e2f-0001-4002-8000-000000000102",
         "<ObjectIdentifier>0d6c1e2f-0001-4001-8000-000000000101",
         "ObjectIdentifier 0d6c1e2f-0001-4001-8000-000000000101 appears twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xml = variant("production.xml", bad[i][0], bad[i][1]);
        refused_text(TD_EEV_PRODUCTION, xml, TD_ERR_INVALID, bad[i][2]);
        free(xml);
    }
    /* Verbs other than CREATE, UPDATE and DELIVER. */
    refused_text(TD_EEV_PRODUCTION,
                 HEAD "<Payload><RequestPayload><ActionRequests><ActionRequest><ActionIdentifier>0"
                      "</ActionIdentifier><DELETE><Identifier>" EPOC_ID "</Identifier></DELETE>"
                      "</ActionRequest></ActionRequests></RequestPayload></Payload></HI1Message>",
                 TD_ERR_INVALID,
                 "ActionRequest 0: DELETE is not accepted (CREATE, UPDATE or DELIVER)");
    /* A response instead of a request. */
    refused_text(TD_EEV_PRODUCTION, HEAD "<Payload><ResponsePayload/></Payload></HI1Message>",
                 TD_ERR_INVALID, "Payload holds a ResponsePayload; a RequestPayload is expected");
    refused_text(TD_EEV_PRODUCTION,
                 HEAD "<Payload><RequestPayload><ActionRequests/></RequestPayload></Payload>"
                      "</HI1Message>",
                 TD_ERR_INVALID, "ActionRequests holds no ActionRequest");
    /* Without its signed Form 1. */
    size_t cut;
    char *full2 = sample("production.xml", &cut);
    char *last = strstr(full2, "<ActionIdentifier>9</ActionIdentifier>");
    assert_non_null(last);
    char *ar = last;
    while (strncmp(ar, "<ActionRequest>", 15) != 0)
        ar--;
    char *close = strstr(last, "</ActionRequest>") + strlen("</ActionRequest>");
    memmove(ar, close, strlen(close) + 1);
    refused_text(TD_EEV_PRODUCTION, full2, TD_ERR_INVALID,
                 "0 doc:DocumentObject of type Form1 (the signed certificate: one expected)");
    free(full2);
}

/* ---- outgoing messages ---- */

static td_eevidence_header header(void)
{
    td_eevidence_header h;
    memset(&h, 0, sizeof h);
    strcpy(h.sender.country, "IE");
    strcpy(h.sender.unique_id, "IE-EXAMPLE-PLATFORM");
    strcpy(h.receiver.country, "DE");
    strcpy(h.receiver.unique_id, "DE-STA-BERLIN");
    return h;
}

static char *build_ok(td_eevidence_message kind, const char *json, const td_eevidence_header *h,
                      size_t *len)
{
    char *xml = NULL;
    td_error err;
    int saved = quiet_begin();
    td_status st = td_eevidence_build(kind, json, h, &xml, len, &err);
    quiet_end(saved);
    if (st != TD_OK)
        fail_msg("build %s: %s (%s)", td_eevidence_message_name(kind), td_strerror(st),
                 err.message);
    assert_int_equal(strlen(xml), *len);
    assert_true(strncmp(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38) == 0);
    return xml;
}

static void build_refused(td_eevidence_message kind, const char *json, td_status want,
                          const char *needle)
{
    td_eevidence_header h = header();
    char *xml = (char *)1;
    size_t len = 7;
    td_error err;
    int saved = quiet_begin();
    td_status st = td_eevidence_build(kind, json, &h, &xml, &len, &err);
    quiet_end(saved);
    if (st != want || !strstr(err.message, needle))
        fail_msg("expected %s with '%s', got %s: '%s'", td_strerror(want), needle, td_strerror(st),
                 err.message);
    assert_null(xml);
    assert_int_equal(len, 0);
}

/* Builds, reads back on the matching endpoint, and checks every member of the input is there
 * with the same value. */
static json_t *round_trip(td_eevidence_message kind, td_eevidence_endpoint ep, const char *json)
{
    td_eevidence_header h = header();
    strcpy(h.transaction_id, "0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0");
    strcpy(h.timestamp, "2026-12-03T08:00:00.250Z");
    size_t len;
    char *xml = build_ok(kind, json, &h, &len);
    td_eevidence_header back;
    json_t *j = parse_ok(ep, xml, len, &back);
    free(xml);
    assert_string_equal(back.sender.unique_id, "IE-EXAMPLE-PLATFORM");
    assert_string_equal(back.receiver.country, "DE");
    assert_string_equal(back.transaction_id, "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0");
    assert_string_equal(back.timestamp, "2026-12-03T08:00:00.250000Z");
    assert_string_equal(back.etsi_version, TD_EEV_ETSI_VERSION);
    assert_string_equal(back.profile_owner, TD_EEV_PROFILE_OWNER);
    assert_string_equal(back.profile_version, TD_EEV_PROFILE_VERSION);
    json_t *in = json_loads(json, 0, NULL);
    assert_non_null(in);
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v)
    {
        if (strcmp(key, "form") == 0 || strcmp(key, "attachment") == 0 || strcmp(key, "owner") == 0)
            continue;
        if (!json_equal(v, json_object_get(j, key))) {
            char *a = json_dumps(v, 0), *b = json_dumps(json_object_get(j, key), 0);
            fail_msg("%s: sent %s, read back %s", key, a, b ? b : "nothing");
        }
    }
    json_decref(in);
    return j;
}

static void test_build_data_preserved(void **state)
{
    (void)state;
    json_t *j = round_trip(
        TD_EEV_MSG_DATA_PRESERVED, TD_EEV_DATA_PRESERVED,
        "{\"order\": \"" EPOCPR_ID "\", \"tasks\": ["
        "{\"id\": \"9e8d7c6b-0001-4001-9000-000000000101\", \"status\": \"preserved\"},"
        "{\"id\": \"9e8d7c6b-0001-4002-9000-000000000102\", \"status\": \"invalid\"}],"
        "\"details\": \"Preserved <at> 10:00 & \\\"sealed\\\" ]]> \\u00e9\\u2028 \\ud83d\\udd12\","
        "\"preserved_at\": \"2026-12-03T08:00:00Z\"}");
    str_is(j, "action", "data_preserved");
    json_decref(j);
    /* Without a time: the header's. */
    j = round_trip(TD_EEV_MSG_DATA_PRESERVED, TD_EEV_DATA_PRESERVED,
                   "{\"order\": \"" EPOCPR_ID "\", \"tasks\": [{\"id\": "
                   "\"9e8d7c6b-0001-4001-9000-000000000101\", \"status\": \"preserved\"}]}");
    str_is(j, "preserved_at", "2026-12-03T08:00:00.250Z");
    absent(j, "details");
    json_decref(j);
    /* The LDTasks keep their owner: the header's receiver, or the one named. */
    td_eevidence_header h = header();
    size_t len;
    char *xml = build_ok(TD_EEV_MSG_DATA_PRESERVED,
                         "{\"order\": \"" EPOCPR_ID "\", \"owner\": {\"country\": \"FR\", "
                         "\"unique_id\": \"FR-PNAT-PARIS\"}, \"tasks\": [{\"id\": "
                         "\"9e8d7c6b-0001-4001-9000-000000000101\", \"status\": \"preserved\"}]}",
                         &h, &len);
    assert_non_null(strstr(xml, "<OwnerIdentifier>FR-PNAT-PARIS</OwnerIdentifier>"));
    assert_non_null(strstr(xml, "<OwnerIdentifier>IE-EXAMPLE-PLATFORM</OwnerIdentifier>"));
    assert_non_null(strstr(xml, "<common:Value>Preserved</common:Value>"));
    td_free(xml);
}

static void test_build_outcome(void **state)
{
    (void)state;
    json_t *j = round_trip(
        TD_EEV_MSG_OUTCOME, TD_EEV_OUTCOME,
        "{\"order\": \"" EPOC_ID "\", \"delivery_id\": \"pkg-2026-0001\", \"tasks\": ["
        "\"0d6c1e2f-0001-4001-8000-000000000101\", \"0d6c1e2f-0002-4003-8000-000000000203\"],"
        "\"package\": {\"sha256\": "
        "\"0893b14f7ed734f869d804b7a2d9459bd1e987a3c646b7d108bc6650cf7797c5\", \"size\": "
        "9007199254740992, \"manifest_sha256\": "
        "\"67c58ce90ed6dcf46f8991118147d3044a76429a032dbcafc6568c6a58400bb0\", \"uri\": "
        "\"https://platform.example/eevidence/packages/1?a=1&b=<2>\", \"content_type\": "
        "\"application/vnd.takedown.evidence-package\"}}");
    str_is(j, "action", "outcome");
    json_decref(j);
    /* The delivery id defaults to a fresh UUID. */
    j = round_trip(TD_EEV_MSG_OUTCOME, TD_EEV_OUTCOME,
                   "{\"order\": \"" EPOC_ID "\", \"package\": {\"sha256\": "
                   "\"0893b14f7ed734f869d804b7a2d9459bd1e987a3c646b7d108bc6650cf7797c5\", "
                   "\"size\": 0, \"manifest_sha256\": "
                   "\"67c58ce90ed6dcf46f8991118147d3044a76429a032dbcafc6568c6a58400bb0\", "
                   "\"uri\": \"urn:takedown:package:1\"}}");
    const char *id = json_string_value(at(j, "delivery_id"));
    assert_non_null(id);
    assert_int_equal(strlen(id), 36);
    assert_int_equal(members(j, "tasks"), 0);
    json_decref(j);
}

static void test_build_non_execution(void **state)
{
    (void)state;
    json_t *j = round_trip(
        TD_EEV_MSG_NON_EXECUTION, TD_EEV_NON_EXECUTION,
        "{\"order\": \"" EPOC_ID "\", \"reason\": \"conflict_of_law\", \"details\": "
        "\"Disclosure would breach the law of a third country.\", \"tasks\": "
        "[\"0d6c1e2f-0001-4004-8000-000000000104\"], \"conflict_of_law\": {\"law\": "
        "\"Stored Communications Act\", \"provisions\": \"18 U.S.C. \\u00a7 2702(a)\", "
        "\"nature\": \"a prohibition to disclose content\", \"why_applies\": \"the data are "
        "stored in the United States\", \"link\": \"the provider's parent is a US company\", "
        "\"consequences\": \"civil liability\", \"other\": \"none\"}, \"clarification\": "
        "\"Can the order be limited to subscriber data?\", \"form\": {\"name\": \"Form 3\", "
        "\"content_type\": \"application/pdf\", \"contents\": \"JVBERi0xLjcKJSVFT0YK\"}}");
    str_is(j, "action", "non_execution");
    /* The signed Form 3 travels as a document: read back as its digest. */
    char hex[65];
    sha256_hex("%PDF-1.7\n%%EOF\n", 15, hex);
    str_is(j, "documents[0].type", "Form3");
    str_is(j, "documents[0].sha256", hex);
    json_decref(j);
    /* Every reason; without tasks the AuthorisationObject is Invalid. */
    static const char *const reasons[] = {
        "incomplete",          "manifest_errors",        "insufficient_information",
        "data_not_held",       "de_facto_impossibility", "invalid_issuing_authority",
        "offence_not_covered", "service_not_covered",    "immunities_or_privileges"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "{\"order\": \"%s\", \"reason\": \"%s\"}", EPOC_ID, reasons[i]);
        j = round_trip(TD_EEV_MSG_NON_EXECUTION, TD_EEV_NON_EXECUTION, in);
        absent(j, "tasks");
        absent(j, "conflict_of_law");
        json_decref(j);
    }
    td_eevidence_header h = header();
    size_t len;
    char *xml = build_ok(TD_EEV_MSG_NON_EXECUTION,
                         "{\"order\": \"" EPOC_ID "\", \"reason\": \"data_not_held\"}", &h, &len);
    assert_non_null(strstr(xml, "<eev:Reason>DataNotHeld</eev:Reason>"));
    assert_non_null(strstr(xml, "<common:Value>Invalid</common:Value>"));
    assert_non_null(strstr(xml, "xsi:type=\"auth:AuthorisationObject\""));
    td_free(xml);
}

static void test_build_correspondence(void **state)
{
    (void)state;
    json_t *j = round_trip(TD_EEV_MSG_CORRESPONDENCE, TD_EEV_CORRESPONDENCE,
                           "{\"order\": \"" EPOC_ID "\", \"kind\": "
                           "\"provide_additional_information\", \"text\": \"The address was "
                           "observed in UTC.\\n<b>&amp;</b> \\u00fc\", \"attachment\": "
                           "{\"name\": \"log excerpt\", \"content_type\": \"text/csv\", "
                           "\"contents\": \"YSxiCjEsMgo=\"}}");
    assert_int_equal(members(j, "documents"), 2);
    str_is(j, "documents[1].type", "OtherAttachment");
    str_is(j, "documents[1].name", "log excerpt");
    int_is(j, "documents[1].size", 8);
    json_decref(j);
    j = round_trip(TD_EEV_MSG_CORRESPONDENCE, TD_EEV_CORRESPONDENCE,
                   "{\"order\": \"" EPOC_ID "\", \"kind\": \"request_additional_information\", "
                   "\"text\": \"Which account?\"}");
    json_decref(j);
}

static void test_build_refused(void **state)
{
    (void)state;
    build_refused(TD_EEV_MSG_DATA_PRESERVED, "[]", TD_ERR_INVALID, "not a JSON object");
    build_refused(TD_EEV_MSG_DATA_PRESERVED, "{\"order\": 1,}", TD_ERR_INVALID,
                  "not a JSON object");
    build_refused(TD_EEV_MSG_DATA_PRESERVED, "{\"order\": \"x\", \"order\": \"y\"}", TD_ERR_INVALID,
                  "duplicate");
    build_refused(TD_EEV_MSG_DATA_PRESERVED,
                  "{\"order\": \"" EPOCPR_ID "\", \"tasks\": [], \"extra\": 1}", TD_ERR_INVALID,
                  "datapreserved: extra: unknown member");
    build_refused(TD_EEV_MSG_DATA_PRESERVED, "{\"order\": \"not-a-uuid\", \"tasks\": []}",
                  TD_ERR_INVALID, "order: not a UUID");
    build_refused(TD_EEV_MSG_DATA_PRESERVED, "{\"order\": \"" EPOCPR_ID "\", \"tasks\": []}",
                  TD_ERR_INVALID, "tasks: an array of one or more");
    build_refused(TD_EEV_MSG_DATA_PRESERVED,
                  "{\"order\": \"" EPOCPR_ID "\", \"tasks\": [{\"id\": \"" EPOC_ID
                  "\", \"status\": \"frozen\"}]}",
                  TD_ERR_INVALID, "tasks[0].status: preserved or invalid expected");
    build_refused(TD_EEV_MSG_DATA_PRESERVED,
                  "{\"order\": \"" EPOCPR_ID "\", \"tasks\": [{\"id\": \"" EPOC_ID
                  "\", \"status\": \"preserved\"}, {\"id\": \"" EPOC_ID
                  "\", \"status\": \"preserved\"}]}",
                  TD_ERR_INVALID, "tasks[1].id: named twice");
    build_refused(TD_EEV_MSG_DATA_PRESERVED,
                  "{\"order\": \"" EPOCPR_ID "\", \"details\": \"bell \\u0007\", \"tasks\": "
                  "[{\"id\": \"" EPOC_ID "\", \"status\": \"preserved\"}]}",
                  TD_ERR_INVALID, "details: a control character XML cannot carry");
    build_refused(TD_EEV_MSG_DATA_PRESERVED,
                  "{\"action\": \"outcome\", \"order\": \"" EPOCPR_ID "\"}", TD_ERR_INVALID,
                  "action: 'outcome' in a datapreserved message");
    build_refused(TD_EEV_MSG_OUTCOME,
                  "{\"order\": \"" EPOC_ID "\", \"package\": {\"sha256\": \"ABC\", \"size\": 1, "
                  "\"manifest_sha256\": \"x\", \"uri\": \"https://a\"}}",
                  TD_ERR_INVALID, "package.sha256: 64 lower-case hex digits expected");
    build_refused(TD_EEV_MSG_OUTCOME,
                  "{\"order\": \"" EPOC_ID "\", \"package\": {\"sha256\": "
                  "\"0893b14f7ed734f869d804b7a2d9459bd1e987a3c646b7d108bc6650cf7797c5\", "
                  "\"size\": -1, \"manifest_sha256\": "
                  "\"0893b14f7ed734f869d804b7a2d9459bd1e987a3c646b7d108bc6650cf7797c5\", \"uri\": "
                  "\"https://a\"}}",
                  TD_ERR_INVALID, "package.size: a non-negative integer expected");
    build_refused(TD_EEV_MSG_OUTCOME,
                  "{\"order\": \"" EPOC_ID "\", \"package\": {\"sha256\": "
                  "\"0893b14f7ed734f869d804b7a2d9459bd1e987a3c646b7d108bc6650cf7797c5\", "
                  "\"size\": 1, \"manifest_sha256\": "
                  "\"0893b14f7ed734f869d804b7a2d9459bd1e987a3c646b7d108bc6650cf7797c5\", \"uri\": "
                  "\"https://a b\"}}",
                  TD_ERR_INVALID, "package.uri: an absolute URI without blanks expected");
    build_refused(TD_EEV_MSG_OUTCOME,
                  "{\"order\": \"" EPOC_ID "\", \"tasks\": [\"" EPOC_ID "\"], \"package\": {}}",
                  TD_ERR_INVALID, "tasks[0]: the order itself");
    build_refused(TD_EEV_MSG_NON_EXECUTION, "{\"order\": \"" EPOC_ID "\", \"reason\": \"bored\"}",
                  TD_ERR_INVALID, "reason: one of incomplete, manifest_errors");
    build_refused(TD_EEV_MSG_NON_EXECUTION,
                  "{\"order\": \"" EPOC_ID "\", \"reason\": \"conflict_of_law\"}", TD_ERR_INVALID,
                  "conflict_of_law: required with the reason conflict_of_law");
    build_refused(TD_EEV_MSG_NON_EXECUTION,
                  "{\"order\": \"" EPOC_ID "\", \"reason\": \"conflict_of_law\", "
                  "\"conflict_of_law\": {\"law\": \"x\"}}",
                  TD_ERR_INVALID, "conflict_of_law.provisions: missing");
    build_refused(TD_EEV_MSG_NON_EXECUTION,
                  "{\"order\": \"" EPOC_ID "\", \"reason\": \"data_not_held\", \"form\": "
                  "{\"content_type\": \"application/pdf\", \"contents\": \"%%%\"}}",
                  TD_ERR_INVALID, "form.contents: not base64");
    build_refused(TD_EEV_MSG_CORRESPONDENCE,
                  "{\"order\": \"" EPOC_ID "\", \"kind\": \"other\", \"text\": \"x\"}",
                  TD_ERR_INVALID, "kind: the operator sends request_additional_information");
    build_refused(TD_EEV_MSG_CORRESPONDENCE,
                  "{\"order\": \"" EPOC_ID "\", \"kind\": \"request_additional_information\"}",
                  TD_ERR_INVALID, "text: missing");
    /* Header checks. */
    td_eevidence_header h = header();
    strcpy(h.sender.country, "ie");
    char *xml = (char *)1;
    size_t len;
    td_error err;
    assert_int_equal(td_eevidence_build(TD_EEV_MSG_CORRESPONDENCE,
                                        "{\"order\": \"" EPOC_ID "\", \"kind\": "
                                        "\"request_additional_information\", \"text\": \"x\"}",
                                        &h, &xml, &len, &err),
                     TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "the sender's country is not two capital letters"));
    assert_null(xml);
    h = header();
    strcpy(h.transaction_id, "123");
    assert_int_equal(td_eevidence_build(TD_EEV_MSG_CORRESPONDENCE,
                                        "{\"order\": \"" EPOC_ID "\", \"kind\": "
                                        "\"request_additional_information\", \"text\": \"x\"}",
                                        &h, &xml, &len, &err),
                     TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "transaction identifier is not a UUID"));
    /* Too large to send. */
    size_t big = TD_EEV_MAX_XML;
    char *in = malloc(big + 256);
    size_t n = (size_t)sprintf(in,
                               "{\"order\": \"%s\", \"reason\": \"data_not_held\", \"form\": "
                               "{\"content_type\": \"application/pdf\", \"contents\": \"",
                               EPOC_ID);
    size_t fill = (big - n - 4) & ~(size_t)3;
    memset(in + n, 'A', fill);
    strcpy(in + n + fill, "\"}}");
    h = header();
    int saved = quiet_begin();
    td_status st = td_eevidence_build(TD_EEV_MSG_NON_EXECUTION, in, &h, &xml, &len, &err);
    quiet_end(saved);
    assert_int_equal(st, TD_ERR_LIMIT);
    assert_non_null(strstr(err.message, "over the limit"));
    free(in);
}

/* ---- threads ---- */

typedef struct thread_arg {
    const char *xml;
    size_t len;
    const char *expect;
    int failures;
} thread_arg;

static void *parse_many(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 40; i++) {
        char *json = NULL;
        td_error err;
        if (td_eevidence_parse(TD_EEV_PRODUCTION, a->xml, a->len, &json, NULL, &err) != TD_OK ||
            strcmp(json, a->expect) != 0)
            a->failures++;
        td_free(json);
        /* A refusal in between: libxml2's error state must not leak across calls. */
        if (td_eevidence_parse(TD_EEV_PRODUCTION, "<a>", 3, &json, NULL, &err) != TD_ERR_INVALID)
            a->failures++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    size_t len;
    char *xml = sample("production.xml", &len);
    char *expect = NULL;
    td_error err;
    assert_int_equal(td_eevidence_parse(TD_EEV_PRODUCTION, xml, len, &expect, NULL, &err), TD_OK);
    pthread_t t[4];
    thread_arg args[4];
    int saved = quiet_begin();
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){xml, len, expect, 0};
        assert_int_equal(pthread_create(&t[i], NULL, parse_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    quiet_end(saved);
    for (int i = 0; i < 4; i++)
        assert_int_equal(args[i].failures, 0);
    td_free(expect);
    free(xml);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_names),
        cmocka_unit_test(test_production),
        cmocka_unit_test(test_production_is_the_contract_example),
        cmocka_unit_test(test_preservation),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_deadlines_and_flags),
        cmocka_unit_test(test_wrong_endpoint),
        cmocka_unit_test(test_grounds_and_correspondence_kinds),
        cmocka_unit_test(test_entities_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_build_data_preserved),
        cmocka_unit_test(test_build_outcome),
        cmocka_unit_test(test_build_non_execution),
        cmocka_unit_test(test_build_correspondence),
        cmocka_unit_test(test_build_refused),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
