/* The pieces the e-Evidence XML reader and writer share (eorders_xml_int.h): dictionaries, times,
 * UUIDs, base64, starting libxml2 once and keeping it quiet. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <sodium.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/timefmt.h"
#include "eorders/eorders_xml_int.h"

/* ---- dictionaries ---- */

const td__eev_word td__eev_priorities[] = {
    {"TenDaysASAP", "ten_days_asap"},
    {"TenDaysSubjectToEA", "ten_days_enforcing"},
    {"EightHours", "eight_hours"},
    {NULL, NULL},
};

/* TS 104 144 has one role for judges, courts and investigating judges; the JSON contract names
 * two, and both count as judicial for the data category rule, so the one role reads as
 * judge_or_court and either name writes it. */
const td__eev_word td__eev_roles[] = {
    {"PublicProsecutor", "public_prosecutor"},
    {"JudgeCourtOrInvestigatingJudge", "judge_or_court"},
    {"JudgeCourtOrInvestigatingJudge", "investigating_judge"},
    {"OtherCompetentAuthority", "other_competent_authority"},
    {NULL, NULL},
};

const td__eev_word td__eev_categories[] = {
    {"SubscriberData", "subscriber"},
    {"UserIdentifyingData", "identification"},
    {"TrafficData", "traffic"},
    {"StoredContentData", "content"},
    {NULL, NULL},
};

/* ETSI TS 103 280 target formats (FormatOwner ETSI). takedown's other identifier types travel
 * with FormatOwner "takedown" and the JSON name as FormatName. */
const td__eev_word td__eev_formats[] = {
    {"IPv4Address", "ipv4"},
    {"IPv6Address", "ipv6"},
    {"IPv4CIDR", "ipv4_range"},
    {"IPv6CIDR", "ipv6_range"},
    {"EmailAddress", "email"},
    {"InternationalE164", "phone"},
    {NULL, NULL},
};

/* Annex III / TS 104 144 Form3Information reason codes. */
const td__eev_word td__eev_reasons[] = {
    {"Incomplete", "incomplete"},
    {"ManifestErrors", "manifest_errors"},
    {"InsufficientInformation", "insufficient_information"},
    {"DataNotHeld", "data_not_held"},
    {"DeFactoImpossibility", "de_facto_impossibility"},
    {"InvalidIssuingAuthority", "invalid_issuing_authority"},
    {"OffenceNotCovered", "offence_not_covered"},
    {"ServiceNotCovered", "service_not_covered"},
    {"ImmunitiesOrPrivileges", "immunities_or_privileges"},
    {"ConflictOfLaw", "conflict_of_law"},
    {NULL, NULL},
};

const td__eev_word td__eev_task_status[] = {
    {"Preserved", "preserved"},
    {"Invalid", "invalid"},
    {NULL, NULL},
};

const char *const td__eev_category_names[4] = {"subscriber", "identification", "traffic",
                                               "content"};
const char *const td__eev_ground_names[4] = {"immunities_or_privileges", "fundamental_rights",
                                             "ne_bis_in_idem", "dual_criminality"};

const char *td__eev_json_of(const td__eev_word *t, const char *xml)
{
    for (; t->xml; t++)
        if (strcmp(t->xml, xml) == 0)
            return t->json;
    return NULL;
}

const char *td__eev_xml_of(const td__eev_word *t, const char *json)
{
    for (; t->xml; t++)
        if (strcmp(t->json, json) == 0)
            return t->xml;
    return NULL;
}

void td__eev_list(const td__eev_word *t, int json_side, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (const td__eev_word *w = t; w->xml; w++) {
        const char *word = json_side ? w->json : w->xml;
        /* A repeated XML spelling (the judicial role) is listed once. */
        int seen = 0;
        for (const td__eev_word *v = t; v < w; v++)
            seen |= strcmp(json_side ? v->json : v->xml, word) == 0;
        if (seen)
            continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", word);
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
}

int td__eev_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n && names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

/* ---- times ---- */

int64_t td__eev_time_parse(const char *text, size_t len) { return td__time_parse(text, len, 1); }

void td__eev_time_format(int64_t ms, char out[32]) { td__time_format(ms, TD__TIME_SHORT, out, 32); }

void td__eev_time_format_micro(int64_t ms, char out[40])
{
    td__time_format(ms, TD__TIME_MICROS, out, 40);
}

/* ---- identifiers ---- */

static int hexdigit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int td__eev_uuid_valid(const char *s, size_t n)
{
    if (n != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !hexdigit(s[i]))
            return 0;
    }
    return 1;
}

void td__eev_uuid_lower(const char *s, char out[37])
{
    for (size_t i = 0; i < 36; i++)
        out[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
    out[36] = '\0';
}

void td__eev_uuid_new(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

int td__eev_country_valid(const char *s, size_t n)
{
    return n == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

int td__eev_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int td__eev_uri_ok(const char *s)
{
    if (!s || strlen(s) > TD__EEV_MAX_URI)
        return 0;
    size_t k = 0;
    while ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
           (k > 0 && ((s[k] >= '0' && s[k] <= '9') || s[k] == '+' || s[k] == '-' || s[k] == '.')))
        k++;
    if (k == 0 || s[k] != ':' || !s[k + 1])
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

/* ---- base64 and digests ---- */

td_status td__eev_base64_decode(const char *b64, size_t n, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    unsigned char *bin = td__malloc(n / 4 * 3 + 3);
    if (!bin)
        return TD_ERR_NOMEM;
    size_t got = 0;
    const char *stop = NULL;
    if (sodium_base642bin(bin, n / 4 * 3 + 3, b64, n, " \t\r\n", &got, &stop,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        stop != b64 + n) {
        td__free(bin);
        return TD_ERR_INVALID;
    }
    *out = bin;
    *out_len = got;
    return TD_OK;
}

char *td__eev_base64_encode(const unsigned char *data, size_t n)
{
    if (n > ((size_t)-1 - 8) / 4 * 3)
        return NULL;
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *text = td__malloc(cap);
    if (text)
        sodium_bin2base64(text, cap, data, n, sodium_base64_VARIANT_ORIGINAL);
    return text;
}

void td__eev_sha256_hex(const unsigned char *data, size_t n, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, n);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* ---- libxml2 ---- */

static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

/* xmlInitParser is not safe to race on in libxml2 2.9: once per process, before any parse. */
static void start(void)
{
    xmlInitParser();
    sodium_ok = sodium_init() >= 0;
}

td_status td__eev_init(td_error *err)
{
    pthread_once(&start_once, start);
    if (!sodium_ok)
        return td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to start");
    return TD_OK;
}

static void silent_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void silent_structured(void *ctx, xmlErrorPtr error)
{
    (void)ctx;
    (void)error;
}

void td__eev_quiet_begin(td__eev_quiet *q)
{
    q->generic = xmlGenericError;
    q->generic_ctx = xmlGenericErrorContext;
    q->structured = xmlStructuredError;
    q->structured_ctx = xmlStructuredErrorContext;
    xmlSetGenericErrorFunc(NULL, silent_generic);
    xmlSetStructuredErrorFunc(NULL, silent_structured);
}

void td__eev_quiet_end(const td__eev_quiet *q)
{
    xmlSetGenericErrorFunc(q->generic_ctx, q->generic);
    xmlSetStructuredErrorFunc(q->structured_ctx, q->structured);
}
