/* Parsing the evidence order document (sections A-L, docs/evidence-orders.md) and the event
 * document from untrusted JSON, with no store, no clock and no signature: the part the fuzzer
 * drives (fuzz/fuzz_eorder.c).
 *
 * Why strict, as for removal orders: an order is a legal instrument; a member we do not know may
 * carry a meaning we would silently ignore, so unknown members are refused, and every error
 * names the section and the member ("E.identifiers[0].type") so that an authority can correct
 * its certificate without a phone call. Limits are fixed (evidence_orders.h) and checked before
 * copying; jansson refuses duplicate keys and NUL bytes in strings for us. The stored document
 * is read back through the same parser, so one function decides what an order says. */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/utf8.h"
#include "eorders/eorders_int.h"

/* The parser's state: where to say what was wrong. */
typedef struct pctx {
    td_eorder_rejection *why;
    td_error *err;
} pctx;

static td_status reject(pctx *p, td_eorder_problem problem, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static td_status reject(pctx *p, td_eorder_problem problem, const char *field, const char *fmt, ...)
{
    char msg[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return td__eorder_refuse(p->why, problem, field,
                             problem == TD_EORDER_TOO_LARGE ? TD_ERR_LIMIT : TD_ERR_INVALID, p->err,
                             "%s", msg);
}

/* path = prefix + key, truncated to fit a rejection's field. */
static void join(char *out, size_t cap, const char *prefix, const char *key)
{
    snprintf(out, cap, "%s%.48s", prefix, key);
}

enum { ONE_LINE = 0, MULTI_LINE = 1 };

/* Valid UTF-8 without control characters (line breaks and tabs allowed when multi) nor
 * invisible formatting characters (a bidirectional override would show a reader other text). */
static int clean_text(const char *s, size_t n, int multi)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = td__utf8_next(u + i, n - i, &cp);
        if (k == 0)
            return 0;
        if (multi && (cp == '\n' || cp == '\r' || cp == '\t')) {
            i += k;
            continue;
        }
        if (td__unicode_is_control(cp) || td__unicode_is_invisible(cp))
            return 0;
        i += k;
    }
    return 1;
}

/* Refuses members of obj not in names (NULL-terminated). */
static td_status only_known(pctx *p, json_t *obj, const char *const *names, const char *prefix)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int known = 0;
        for (const char *const *n = names; *n && !known; n++)
            known = strcmp(key, *n) == 0;
        if (!known) {
            char path[96];
            join(path, sizeof path, prefix, *key ? key : "\"\"");
            return reject(p, TD_EORDER_UNKNOWN_FIELD, path, "unknown member");
        }
    }
    return TD_OK;
}

/* The object member key of obj (*out NULL when absent and not required). */
static td_status get_object(pctx *p, json_t *obj, const char *key, const char *prefix, int required,
                            json_t **out)
{
    char path[96];
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    join(path, sizeof path, prefix, key);
    if (!v)
        return required ? reject(p, TD_EORDER_MISSING_FIELD, path, "required") : TD_OK;
    if (!json_is_object(v))
        return reject(p, TD_EORDER_INVALID_FIELD, path, "expected an object");
    *out = v;
    return TD_OK;
}

static td_status get_text(pctx *p, json_t *obj, const char *key, const char *prefix, char *dst,
                          size_t cap, int required, int multi)
{
    char path[96];
    json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    join(path, sizeof path, prefix, key);
    if (!v)
        return required ? reject(p, TD_EORDER_MISSING_FIELD, path, "required") : TD_OK;
    if (!json_is_string(v))
        return reject(p, TD_EORDER_INVALID_FIELD, path, "expected a string");
    size_t n = json_string_length(v);
    if (n == 0)
        return reject(p, required ? TD_EORDER_MISSING_FIELD : TD_EORDER_INVALID_FIELD, path,
                      "empty");
    if (n >= cap)
        return reject(p, TD_EORDER_INVALID_FIELD, path, "longer than %zu bytes", cap - 1);
    if (!clean_text(json_string_value(v), n, multi))
        return reject(p, TD_EORDER_INVALID_FIELD, path,
                      "not UTF-8, or control or invisible characters");
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    return TD_OK;
}

/* A string member that must be one of names[first..count); *out the index (0 when absent). */
static td_status get_enum(pctx *p, json_t *obj, const char *key, const char *prefix,
                          const char *const *names, size_t first, size_t count, int required,
                          int *out)
{
    char path[96];
    json_t *v = json_object_get(obj, key);
    *out = 0;
    join(path, sizeof path, prefix, key);
    if (!v)
        return required ? reject(p, TD_EORDER_MISSING_FIELD, path, "required") : TD_OK;
    if (json_is_string(v))
        for (size_t i = first; i < count; i++)
            if (strcmp(json_string_value(v), names[i]) == 0) {
                *out = (int)i;
                return TD_OK;
            }
    char list[512] = "";
    size_t used = 0;
    for (size_t i = first; i < count && used < sizeof list; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s", i > first ? ", " : "", names[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    return reject(p, TD_EORDER_INVALID_FIELD, path, "expected one of %s", list);
}

static td_status get_time(pctx *p, json_t *obj, const char *key, const char *prefix, int required,
                          int64_t *out)
{
    char path[96];
    json_t *v = json_object_get(obj, key);
    *out = 0;
    join(path, sizeof path, prefix, key);
    if (!v)
        return required ? reject(p, TD_EORDER_MISSING_FIELD, path, "required") : TD_OK;
    int64_t t =
        json_is_string(v) ? td_order_time_parse(json_string_value(v), json_string_length(v)) : -1;
    if (t <= 0)
        return reject(p, TD_EORDER_INVALID_FIELD, path, "expected YYYY-MM-DDTHH:MM:SS[.fff]Z");
    *out = t;
    return TD_OK;
}

static td_status get_bool(pctx *p, json_t *obj, const char *key, const char *prefix, int *out)
{
    char path[96];
    json_t *v = json_object_get(obj, key);
    *out = 0;
    join(path, sizeof path, prefix, key);
    if (!v)
        return TD_OK;
    if (!json_is_boolean(v))
        return reject(p, TD_EORDER_INVALID_FIELD, path, "expected true or false");
    *out = json_is_true(v);
    return TD_OK;
}

static td_status get_int(pctx *p, json_t *obj, const char *key, const char *prefix, int64_t min,
                         int64_t max, int64_t *out, int *present)
{
    char path[96];
    json_t *v = json_object_get(obj, key);
    *present = v != NULL;
    join(path, sizeof path, prefix, key);
    if (!v)
        return TD_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return reject(p, TD_EORDER_INVALID_FIELD, path, "expected an integer %lld..%lld",
                      (long long)min, (long long)max);
    *out = json_integer_value(v);
    return TD_OK;
}

/* Two capital letters (ISO 3166 alpha-2; "EL" for Greece). */
static td_status get_state(pctx *p, json_t *obj, const char *key, const char *prefix, char out[3],
                           int required)
{
    char path[96];
    td_status st = get_text(p, obj, key, prefix, out, 3, required, ONE_LINE);
    if (st || !out[0])
        return st;
    join(path, sizeof path, prefix, key);
    if (strlen(out) != 2 || out[0] < 'A' || out[0] > 'Z' || out[1] < 'A' || out[1] > 'Z')
        return reject(p, TD_EORDER_INVALID_FIELD, path, "expected two capital letters");
    return TD_OK;
}

static const char *const framework_names[] = {NULL, "eu_epoc", "eu_epoc_pr", "uk_opo",
                                              "us_cloud_act"};
static const char *const authority_type_names[] = {NULL, "public_prosecutor", "judge_or_court",
                                                   "investigating_judge",
                                                   "other_competent_authority"};
static const char *const deadline_names[] = {NULL, "ten_days_asap", "ten_days_enforcing",
                                             "eight_hours"};
static const char *const emergency_names[] = {NULL, "life", "physical_integrity",
                                              "critical_infrastructure"};
static const char *const establishment_names[] = {NULL, "designated_establishment",
                                                  "legal_representative"};
static const char *const identifier_names[] = {
    NULL,    "ipv4",    "ipv6",         "ipv4_range",  "ipv6_range", "email",
    "phone", "user_id", "account_name", "content_url", "content_id"};
static const char *const user_info_names[] = {NULL, "informed", "delayed", "restricted",
                                              "not_informed"};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static int is_eu(td_eorder_framework f)
{
    return f == TD_EORDER_EU_EPOC || f == TD_EORDER_EU_EPOC_PR;
}

/* ---- sections ---- */

static td_status parse_party(pctx *p, json_t *obj, const char *prefix, td_eorder_party *out)
{
    static const char *const names[] = {"name", "type", "file_number", NULL};
    int type;
    td_status st;
    if ((st = only_known(p, obj, names, prefix)) ||
        (st = get_text(p, obj, "name", prefix, out->name, sizeof out->name, 1, ONE_LINE)) ||
        (st = get_enum(p, obj, "type", prefix, authority_type_names, 1, N(authority_type_names), 1,
                       &type)) ||
        (st = get_text(p, obj, "file_number", prefix, out->file_number, sizeof out->file_number, 1,
                       ONE_LINE)))
        return st;
    out->type = (td_eorder_authority_type)type;
    out->present = 1;
    return TD_OK;
}

static td_status parse_a(pctx *p, json_t *a, td_eorder_doc *d)
{
    static const char *const names[] = {
        "issuing_state", "issuing_authority", "validating_authority",
        "issued_at",     "served_at",         NULL};
    json_t *o;
    td_status st;
    if ((st = only_known(p, a, names, "A.")) ||
        (st = get_state(p, a, "issuing_state", "A.", d->issuing_state, 1)))
        return st;
    if (is_eu(d->framework) && !td__eu_member_state(d->issuing_state))
        return reject(p, TD_EORDER_INVALID_FIELD, "A.issuing_state",
                      "%s orders come from an EU Member State",
                      td_eorder_framework_name(d->framework));
    if (d->framework == TD_EORDER_UK_OPO && strcmp(d->issuing_state, "GB") != 0)
        return reject(p, TD_EORDER_INVALID_FIELD, "A.issuing_state", "uk_opo: expected GB");
    if (d->framework == TD_EORDER_US_CLOUD_ACT && strcmp(d->issuing_state, "US") != 0)
        return reject(p, TD_EORDER_INVALID_FIELD, "A.issuing_state", "us_cloud_act: expected US");
    if ((st = get_object(p, a, "issuing_authority", "A.", 1, &o)) ||
        (st = parse_party(p, o, "A.issuing_authority.", &d->issuing_authority)) ||
        (st = get_object(p, a, "validating_authority", "A.", 0, &o)) ||
        (o && (st = parse_party(p, o, "A.validating_authority.", &d->validating_authority))))
        return st;
    if (d->issuing_authority.type == TD_EORDER_OTHER_COMPETENT && !d->validating_authority.present)
        return reject(p, TD_EORDER_MISSING_FIELD, "A.validating_authority",
                      "required when the issuer is an other_competent_authority");
    if ((st = get_time(p, a, "issued_at", "A.", 1, &d->issued_ms)) ||
        (st = get_time(p, a, "served_at", "A.", 0, &d->served_ms)))
        return st;
    if (d->served_ms && d->framework != TD_EORDER_UK_OPO)
        return reject(p, TD_EORDER_INVALID_FIELD, "A.served_at", "only for uk_opo");
    if (d->served_ms && d->served_ms < d->issued_ms)
        return reject(p, TD_EORDER_INVALID_FIELD, "A.served_at", "before issued_at");
    return TD_OK;
}

static td_status parse_b(pctx *p, json_t *b, td_eorder_doc *d)
{
    static const char *const names[] = {"addressee", "establishment", "member_state", NULL};
    int est;
    td_status st;
    if ((st = only_known(p, b, names, "B.")) ||
        (st = get_text(p, b, "addressee", "B.", d->addressee, sizeof d->addressee, 1, ONE_LINE)) ||
        (st = get_enum(p, b, "establishment", "B.", establishment_names, 1, N(establishment_names),
                       1, &est)) ||
        (st = get_state(p, b, "member_state", "B.", d->addressee_state, 0)))
        return st;
    d->establishment = (td_eorder_establishment)est;
    return TD_OK;
}

static td_status parse_c(pctx *p, json_t *c, td_eorder_doc *d)
{
    static const char *const names[] = {"deadline", "compliance_period_days",
                                        "compliance_period_hours", "emergency_reason", NULL};
    int v, has_days = 0, has_hours = 0;
    int64_t days = 0, hours = 0;
    td_status st;
    if (!c) {
        if (d->framework == TD_EORDER_EU_EPOC_PR)
            return TD_OK;
        return reject(p, TD_EORDER_MISSING_FIELD, "C",
                      d->framework == TD_EORDER_EU_EPOC ? "required: the deadline"
                                                        : "required: the compliance period");
    }
    if ((st = only_known(p, c, names, "C.")) ||
        (st = get_enum(p, c, "deadline", "C.", deadline_names, 1, N(deadline_names),
                       d->framework == TD_EORDER_EU_EPOC, &v)))
        return st;
    d->deadline = (td_eorder_deadline)v;
    if (d->deadline && d->framework != TD_EORDER_EU_EPOC)
        return reject(p, TD_EORDER_INVALID_FIELD, "C.deadline", "only for eu_epoc");
    if ((st = get_int(p, c, "compliance_period_days", "C.", 1, 365, &days, &has_days)) ||
        (st = get_int(p, c, "compliance_period_hours", "C.", 1, 8760, &hours, &has_hours)))
        return st;
    int own = d->framework == TD_EORDER_UK_OPO || d->framework == TD_EORDER_US_CLOUD_ACT;
    if ((has_days || has_hours) && !own)
        return reject(p, TD_EORDER_INVALID_FIELD,
                      has_days ? "C.compliance_period_days" : "C.compliance_period_hours",
                      "only for uk_opo and us_cloud_act");
    if (has_days && has_hours)
        return reject(p, TD_EORDER_INVALID_FIELD, "C.compliance_period_hours",
                      "give the period in days or in hours, not both");
    if (own && !has_days && !has_hours)
        return reject(p, TD_EORDER_MISSING_FIELD, "C.compliance_period_days",
                      "required (or compliance_period_hours)");
    d->compliance_period_ms = has_days ? days * TD__EO_DAY : hours * TD__EO_HOUR;
    if ((st = get_enum(p, c, "emergency_reason", "C.", emergency_names, 1, N(emergency_names),
                       d->deadline == TD_EORDER_EIGHT_HOURS, &v)))
        return st;
    d->emergency_reason = (td_eorder_emergency)v;
    if (d->emergency_reason && d->deadline != TD_EORDER_EIGHT_HOURS)
        return reject(p, TD_EORDER_INVALID_FIELD, "C.emergency_reason", "only with eight_hours");
    return TD_OK;
}

static td_status parse_d(pctx *p, json_t *dsec, td_eorder_doc *d)
{
    static const char *const names[] = {"earlier_order", NULL};
    static const char *const eo_names[] = {"framework", "reference", "id", NULL};
    json_t *e;
    int f;
    td_status st;
    if ((st = only_known(p, dsec, names, "D.")) ||
        (st = get_object(p, dsec, "earlier_order", "D.", 0, &e)) || !e)
        return st;
    if ((st = only_known(p, e, eo_names, "D.earlier_order.")) ||
        (st = get_enum(p, e, "framework", "D.earlier_order.", framework_names, 1, 3, 1, &f)) ||
        (st = get_text(p, e, "reference", "D.earlier_order.", d->earlier_reference,
                       sizeof d->earlier_reference, 1, ONE_LINE)) ||
        (st = get_text(p, e, "id", "D.earlier_order.", d->earlier_id, sizeof d->earlier_id, 0,
                       ONE_LINE)))
        return st;
    d->earlier_framework = (td_eorder_framework)f;
    d->has_earlier = 1;
    return TD_OK;
}

/* ipv4 / ipv6 addresses, and ranges as address/prefix. */
static int valid_address(const char *v, int family, int range)
{
    char buf[INET6_ADDRSTRLEN + 8];
    uint8_t raw[16];
    const char *slash = strchr(v, '/');
    size_t n = slash ? (size_t)(slash - v) : strlen(v);
    if (n >= INET6_ADDRSTRLEN || (slash != NULL) != range)
        return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    if (inet_pton(family, buf, raw) != 1)
        return 0;
    if (range) {
        const char *q = slash + 1;
        int bits = 0, digits = 0, max = family == AF_INET ? 32 : 128;
        while (*q >= '0' && *q <= '9' && digits < 3) {
            bits = bits * 10 + (*q++ - '0');
            digits++;
        }
        if (!digits || *q || bits > max)
            return 0;
    }
    return 1;
}

static const char *identifier_problem(td_eorder_identifier_type t, const char *v)
{
    switch (t) {
    case TD_EORDER_ID_IPV4: return valid_address(v, AF_INET, 0) ? NULL : "not an IPv4 address";
    case TD_EORDER_ID_IPV6: return valid_address(v, AF_INET6, 0) ? NULL : "not an IPv6 address";
    case TD_EORDER_ID_IPV4_RANGE:
        return valid_address(v, AF_INET, 1) ? NULL : "not an IPv4 range (address/prefix)";
    case TD_EORDER_ID_IPV6_RANGE:
        return valid_address(v, AF_INET6, 1) ? NULL : "not an IPv6 range (address/prefix)";
    case TD_EORDER_ID_EMAIL: {
        const char *at = strchr(v, '@');
        return at && at != v && at[1] && !strchr(at + 1, '@') && !strchr(v, ' ')
                   ? NULL
                   : "not an e-mail address";
    }
    case TD_EORDER_ID_PHONE:
        return strspn(v, "+0123456789 -()") == strlen(v) && strpbrk(v, "0123456789")
                   ? NULL
                   : "not a phone number (digits, +, spaces, -, parentheses)";
    case TD_EORDER_ID_CONTENT_URL:
        return (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) && !strchr(v, ' ')
                   ? NULL
                   : "not an http or https URL";
    case TD_EORDER_ID_USER_ID:
    case TD_EORDER_ID_ACCOUNT_NAME:
    case TD_EORDER_ID_CONTENT_ID: return NULL;
    }
    return "unknown type";
}

static int is_address(td_eorder_identifier_type t)
{
    return t >= TD_EORDER_ID_IPV4 && t <= TD_EORDER_ID_IPV6_RANGE;
}

static td_status parse_e(pctx *p, json_t *e, td_eorder_doc *d)
{
    static const char *const names[] = {"identifiers", "time_range", NULL};
    static const char *const id_names[] = {"type", "value", "port", "at", NULL};
    static const char *const tr_names[] = {"from", "to", NULL};
    char prefix[64], path[96];
    json_t *arr = json_object_get(e, "identifiers"), *tr;
    td_status st;
    if ((st = only_known(p, e, names, "E.")))
        return st;
    if (!arr)
        return reject(p, TD_EORDER_MISSING_FIELD, "E.identifiers", "required");
    if (!json_is_array(arr))
        return reject(p, TD_EORDER_INVALID_FIELD, "E.identifiers", "expected an array");
    if (json_array_size(arr) == 0)
        return reject(p, TD_EORDER_MISSING_FIELD, "E.identifiers", "at least one identifier");
    if (json_array_size(arr) > TD_EORDER_MAX_IDENTIFIERS)
        return reject(p, TD_EORDER_TOO_LARGE, "E.identifiers", "more than %d identifiers",
                      TD_EORDER_MAX_IDENTIFIERS);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *item = json_array_get(arr, i);
        td_eorder_identifier *id = &d->identifiers[i];
        int type, has_port;
        int64_t port = -1;
        snprintf(prefix, sizeof prefix, "E.identifiers[%zu]", i);
        if (!json_is_object(item))
            return reject(p, TD_EORDER_INVALID_FIELD, prefix, "expected an object");
        snprintf(prefix, sizeof prefix, "E.identifiers[%zu].", i);
        if ((st = only_known(p, item, id_names, prefix)) ||
            (st = get_enum(p, item, "type", prefix, identifier_names, 1, N(identifier_names), 1,
                           &type)) ||
            (st = get_text(p, item, "value", prefix, id->value, sizeof id->value, 1, ONE_LINE)) ||
            (st = get_int(p, item, "port", prefix, 0, 65535, &port, &has_port)) ||
            (st = get_time(p, item, "at", prefix, 0, &id->at_ms)))
            return st;
        id->type = (td_eorder_identifier_type)type;
        id->port = has_port ? (int)port : -1;
        const char *why = identifier_problem(id->type, id->value);
        if (why) {
            join(path, sizeof path, prefix, "value");
            return reject(p, TD_EORDER_INVALID_FIELD, path, "%s", why);
        }
        if (has_port && !is_address(id->type)) {
            join(path, sizeof path, prefix, "port");
            return reject(p, TD_EORDER_INVALID_FIELD, path, "only with an IP address");
        }
        if (is_address(id->type) && !id->at_ms) {
            join(path, sizeof path, prefix, "at");
            return reject(p, TD_EORDER_MISSING_FIELD, path,
                          "required with an IP address (addresses are shared over time)");
        }
        d->n_identifiers = i + 1;
    }
    if ((st = get_object(p, e, "time_range", "E.", 1, &tr)) ||
        (st = only_known(p, tr, tr_names, "E.time_range.")) ||
        (st = get_time(p, tr, "from", "E.time_range.", 1, &d->from_ms)) ||
        (st = get_time(p, tr, "to", "E.time_range.", 1, &d->to_ms)))
        return st;
    if (d->from_ms > d->to_ms)
        return reject(p, TD_EORDER_INVALID_FIELD, "E.time_range.to", "before from");
    return TD_OK;
}

/* An array of distinct names parsed by parse (a bit each) into *mask. */
static td_status name_set(pctx *p, json_t *arr, const char *path, unsigned (*parse)(const char *),
                          size_t max, unsigned *mask)
{
    char item[96];
    *mask = 0;
    if (!json_is_array(arr))
        return reject(p, TD_EORDER_INVALID_FIELD, path, "expected an array");
    if (json_array_size(arr) == 0)
        return reject(p, TD_EORDER_MISSING_FIELD, path, "at least one name");
    if (json_array_size(arr) > max)
        return reject(p, TD_EORDER_INVALID_FIELD, path, "more than %zu names", max);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        unsigned bit = json_is_string(v) ? parse(json_string_value(v)) : 0;
        snprintf(item, sizeof item, "%.64s[%zu]", path, i);
        if (!bit)
            return reject(p, TD_EORDER_INVALID_FIELD, item, "unknown name");
        if (*mask & bit)
            return reject(p, TD_EORDER_INVALID_FIELD, item, "named twice");
        *mask |= bit;
    }
    return TD_OK;
}

static td_status parse_f(pctx *p, json_t *f, td_eorder_doc *d)
{
    static const char *const names[] = {"data_categories", "subscriber", NULL};
    json_t *cats = json_object_get(f, "data_categories"), *sub = json_object_get(f, "subscriber");
    td_status st;
    if ((st = only_known(p, f, names, "F.")))
        return st;
    if (!cats)
        return reject(p, TD_EORDER_MISSING_FIELD, "F.data_categories", "required");
    if ((st = name_set(p, cats, "F.data_categories", td_eorder_category_parse, 4, &d->categories)))
        return st;
    if (sub && !(d->categories & TD_EORDER_CAT_SUBSCRIBER))
        return reject(p, TD_EORDER_INVALID_FIELD, "F.subscriber", "only with subscriber data");
    if (sub)
        return name_set(p, sub, "F.subscriber", td_eorder_subscriber_parse, 7, &d->subscriber);
    d->subscriber = d->categories & TD_EORDER_CAT_SUBSCRIBER ? TD_EORDER_SUB_ALL : 0;
    return TD_OK;
}

static td_status parse_g(pctx *p, json_t *g, td_eorder_doc *d)
{
    static const char *const names[] = {"offence",           "legal_classification",
                                        "max_penalty_years", "listed_terrorism",
                                        "summary",           NULL};
    int64_t years = -1;
    int has_years;
    td_status st;
    if ((st = only_known(p, g, names, "G.")) ||
        (st = get_text(p, g, "offence", "G.", d->offence, sizeof d->offence, 1, ONE_LINE)) ||
        (st = get_text(p, g, "legal_classification", "G.", d->legal_classification,
                       sizeof d->legal_classification, 1, ONE_LINE)) ||
        (st = get_int(p, g, "max_penalty_years", "G.", 0, 100, &years, &has_years)) ||
        (st = get_bool(p, g, "listed_terrorism", "G.", &d->listed_terrorism)) ||
        (st = get_text(p, g, "summary", "G.", d->summary, sizeof d->summary, 1, MULTI_LINE)))
        return st;
    d->max_penalty_years = has_years ? (int)years : -1;
    /* Art. 5(4): traffic and content data only for offences punishable by at least 3 years, or
     * listed ones (terrorism). Preservation orders may be issued for any offence (Art. 6(3)). */
    if (d->framework == TD_EORDER_EU_EPOC &&
        (d->categories & (TD_EORDER_CAT_TRAFFIC | TD_EORDER_CAT_CONTENT)) &&
        d->max_penalty_years < 3 && !d->listed_terrorism)
        return reject(p, TD_EORDER_INVALID_FIELD, "G.max_penalty_years",
                      "traffic and content data need an offence punishable by at least 3 years"
                      " or listed_terrorism: true");
    return TD_OK;
}

static td_status parse_h(pctx *p, json_t *h, td_eorder_doc *d)
{
    static const char *const names[] = {"user_information", "until", NULL};
    int v;
    td_status st;
    if ((st = only_known(p, h, names, "H.")) ||
        (st = get_enum(p, h, "user_information", "H.", user_info_names, 1, N(user_info_names), 1,
                       &v)))
        return st;
    d->user_information = (td_eorder_user_information)v;
    if ((st = get_time(p, h, "until", "H.", d->user_information == TD_EORDER_USER_DELAYED,
                       &d->user_information_until_ms)))
        return st;
    if (d->user_information_until_ms && d->user_information != TD_EORDER_USER_DELAYED)
        return reject(p, TD_EORDER_INVALID_FIELD, "H.until", "only with delayed");
    return TD_OK;
}

/* Sections I, J and K: {"contact": {name, email, phone}}; K's contact is required and needs a
 * name and a way to reach it. */
static td_status parse_contact_section(pctx *p, json_t *sec, const char *letter, int required,
                                       td_eorder_contact *out)
{
    static const char *const names[] = {"contact", NULL};
    static const char *const c_names[] = {"name", "email", "phone", NULL};
    char prefix[16], cprefix[32];
    json_t *c;
    td_status st;
    snprintf(prefix, sizeof prefix, "%s.", letter);
    snprintf(cprefix, sizeof cprefix, "%s.contact.", letter);
    if ((st = only_known(p, sec, names, prefix)) ||
        (st = get_object(p, sec, "contact", prefix, required, &c)) || !c)
        return st;
    if ((st = only_known(p, c, c_names, cprefix)) ||
        (st = get_text(p, c, "name", cprefix, out->name, sizeof out->name, required, ONE_LINE)) ||
        (st = get_text(p, c, "email", cprefix, out->email, sizeof out->email, 0, ONE_LINE)) ||
        (st = get_text(p, c, "phone", cprefix, out->phone, sizeof out->phone, 0, ONE_LINE)))
        return st;
    if (!out->name[0] && !out->email[0] && !out->phone[0])
        return reject(p, TD_EORDER_MISSING_FIELD, cprefix, "a name, email or phone");
    if (required && !out->email[0] && !out->phone[0]) {
        char path[48];
        snprintf(path, sizeof path, "%semail", cprefix);
        return reject(p, TD_EORDER_MISSING_FIELD, path, "required (or phone)");
    }
    out->present = 1;
    return TD_OK;
}

static td_status parse_l(pctx *p, json_t *l, td_eorder_doc *d)
{
    static const char *const names[] = {"recipient", "member_state", "x25519_public_key", NULL};
    char key[128];
    size_t got = 0, len;
    td_status st;
    if ((st = only_known(p, l, names, "L.")) ||
        (st = get_text(p, l, "recipient", "L.", d->recipient, sizeof d->recipient, 1, ONE_LINE)) ||
        (st = get_state(p, l, "member_state", "L.", d->recipient_state, 0)) ||
        (st = get_text(p, l, "x25519_public_key", "L.", key, sizeof key, 1, ONE_LINE)))
        return st;
    len = strlen(key);
    if (len == 2 * TD_EORDER_X25519_KEY_LEN &&
        td__hex_decode_exact(key, len, d->recipient_key, TD_EORDER_X25519_KEY_LEN) == 0)
        return TD_OK;
    if (len < 64 &&
        sodium_base642bin(d->recipient_key, TD_EORDER_X25519_KEY_LEN, key, len, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) == 0 &&
        got == TD_EORDER_X25519_KEY_LEN)
        return TD_OK;
    return reject(p, TD_EORDER_INVALID_FIELD, "L.x25519_public_key",
                  "expected 32 bytes as 64 hex digits or base64");
}

/* ext_id: the transport's object identifier (a UUID), printable ASCII without spaces. */
static td_status parse_ext_id(pctx *p, json_t *root, td_eorder_doc *d)
{
    td_status st = get_text(p, root, "ext_id", "", d->ext_id, sizeof d->ext_id, 0, ONE_LINE);
    if (st || !d->ext_id[0])
        return st;
    for (const char *c = d->ext_id; *c; c++)
        if (*c <= ' ' || *c > '~')
            return reject(p, TD_EORDER_INVALID_FIELD, "ext_id", "printable ASCII without spaces");
    if (td_eorder_id_parse(d->ext_id))
        return reject(p, TD_EORDER_INVALID_FIELD, "ext_id", "must not look like our ids (eo-N)");
    return TD_OK;
}

static td_status parse_language(pctx *p, json_t *root, td_eorder_doc *d)
{
    td_status st = get_text(p, root, "language", "", d->language, sizeof d->language, 0, ONE_LINE);
    if (st || !d->language[0])
        return st;
    size_t n = strlen(d->language);
    for (size_t i = 0; i < n; i++) {
        char c = d->language[i];
        if (c >= 'A' && c <= 'Z')
            d->language[i] = (char)(c - 'A' + 'a');
        else if (c < 'a' || c > 'z')
            n = 0;
    }
    if (n < 2)
        return reject(p, TD_EORDER_INVALID_FIELD, "language", "expected an ISO 639 code");
    return TD_OK;
}

static td_status parse_root(pctx *p, json_t *root, td_eorder_doc *d)
{
    static const char *const names[] = {
        "framework", "A",        "B", "C", "D", "E", "F",
        "G",         "H",        "I", "J", "K", "L", "enforcing_state_notified",
        "ext_id",    "language", NULL};
    json_t *sec[12];
    int f;
    td_status st;
    if ((st = only_known(p, root, names, "")) ||
        (st = get_enum(p, root, "framework", "", framework_names, 1, N(framework_names), 1, &f)))
        return st;
    d->framework = (td_eorder_framework)f;
    static const char letters[] = "ABCDEFGHIJKL";
    /* Required sections: A B E F G H K L; C for all but eu_epoc_pr; D, I, J optional. */
    for (int i = 0; i < 12; i++) {
        char name[2] = {letters[i], 0};
        int required = strchr("ABEFGHKL", letters[i]) != NULL;
        if ((st = get_object(p, root, name, "", required && letters[i] != 'C', &sec[i])))
            return st;
    }
    if ((st = parse_a(p, sec[0], d)) || (st = parse_b(p, sec[1], d)) ||
        (st = parse_c(p, sec[2], d)) || (sec[3] && (st = parse_d(p, sec[3], d))) ||
        (st = parse_e(p, sec[4], d)) || (st = parse_f(p, sec[5], d)) ||
        (st = parse_g(p, sec[6], d)) || (st = parse_h(p, sec[7], d)) ||
        (sec[8] && (st = parse_contact_section(p, sec[8], "I", 0, &d->issuing_contact))) ||
        (sec[9] && (st = parse_contact_section(p, sec[9], "J", 0, &d->validating_contact))) ||
        (st = parse_contact_section(p, sec[10], "K", 1, &d->execution_contact)) ||
        (st = parse_l(p, sec[11], d)) ||
        (st = get_bool(p, root, "enforcing_state_notified", "", &d->enforcing_state_notified)))
        return st;
    if (d->enforcing_state_notified && d->framework != TD_EORDER_EU_EPOC)
        return reject(p, TD_EORDER_INVALID_FIELD, "enforcing_state_notified", "only for eu_epoc");
    if (d->deadline == TD_EORDER_TEN_DAYS_ENFORCING && !d->enforcing_state_notified)
        return reject(p, TD_EORDER_INVALID_FIELD, "C.deadline",
                      "ten_days_enforcing needs enforcing_state_notified: true");
    if ((st = parse_ext_id(p, root, d)) || (st = parse_language(p, root, d)))
        return st;
    return TD_OK;
}

/* Loads a JSON object of at most max bytes; refusals named by what ("body", "event"). */
static td_status load_object(pctx *p, const char *text, size_t len, size_t max, const char *what,
                             json_t **out)
{
    json_error_t jerr;
    *out = NULL;
    if (len > max)
        return reject(p, TD_EORDER_TOO_LARGE, what, "over %zu bytes", max);
    if (!text || len == 0)
        return reject(p, TD_EORDER_MALFORMED, what, "empty");
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return reject(p, TD_EORDER_MALFORMED, what, "not JSON (%.80s)", jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return reject(p, TD_EORDER_MALFORMED, what, "expected a JSON object");
    }
    *out = root;
    return TD_OK;
}

td_status td_eorder_parse(const char *body, size_t len, td_eorder_doc *out,
                          td_eorder_rejection *why, td_error *err)
{
    pctx p = {why, err};
    json_t *root;
    memset(out, 0, sizeof *out);
    out->max_penalty_years = -1;
    if (why) {
        why->problem = TD_EORDER_ACCEPTED;
        why->field[0] = '\0';
    }
    td_status st = load_object(&p, body, len, TD_EORDER_MAX_BODY, "body", &root);
    if (st)
        return st;
    st = parse_root(&p, root, out);
    json_decref(root);
    return st;
}

int td_eorder_doc_executable(const td_eorder_doc *d)
{
    /* Art. 4: production of traffic (beyond identification) and content data needs a judge,
     * court or investigating judge as issuer or validator; preservation orders may come from a
     * prosecutor for every category (Art. 4(3)). A UK or US order is made by a judge; a document
     * naming another issuer for such data fails here too. */
    if (d->framework == TD_EORDER_EU_EPOC_PR ||
        !(d->categories & (TD_EORDER_CAT_TRAFFIC | TD_EORDER_CAT_CONTENT)))
        return 1;
    const td_eorder_party *parties[2] = {&d->issuing_authority, &d->validating_authority};
    for (int i = 0; i < 2; i++)
        if (parties[i]->present && (parties[i]->type == TD_EORDER_JUDGE_OR_COURT ||
                                    parties[i]->type == TD_EORDER_INVESTIGATING_JUDGE))
            return 1;
    return 0;
}

/* ---- corrections ---- */

td_status td__eorder_merge_sections(const char *doc_json, const char *sections, char **out,
                                    td_eorder_rejection *why, td_error *err)
{
    pctx p = {why, err};
    json_t *doc = NULL, *sec = NULL;
    const char *key;
    json_t *v;
    td_status st;
    *out = NULL;
    if ((st = load_object(&p, doc_json, strlen(doc_json), TD_EORDER_MAX_BODY, "document", &doc)))
        return st;
    if ((st = load_object(&p, sections, strlen(sections), TD_EORDER_MAX_EVENT, "sections", &sec))) {
        json_decref(doc);
        return st;
    }
    json_object_foreach(sec, key, v)
    {
        char path[96];
        join(path, sizeof path, "sections.", key);
        if (strlen(key) != 1 || !strchr("ABCDEFGHIJKL", key[0])) {
            st = reject(&p, TD_EORDER_UNKNOWN_FIELD, path, "not a section (A to L)");
            break;
        }
        if (!json_is_object(v) && !json_is_null(v)) {
            st = reject(&p, TD_EORDER_INVALID_FIELD, path, "expected an object (or null: removed)");
            break;
        }
        if (json_is_null(v))
            json_object_del(doc, key);
        else
            json_object_set(doc, key, v);
    }
    if (st == TD_OK) {
        *out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        if (!*out)
            st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    json_decref(doc);
    json_decref(sec);
    return st;
}

/* ---- events ---- */

static const char *const action_names[] = {NULL,
                                           "subsequent_production",
                                           "extend_preservation",
                                           "end_preservation",
                                           "new_deadline",
                                           "withdraw",
                                           "grounds",
                                           "clarification",
                                           "correction",
                                           "correspondence"};
static const char *const grounds_names[] = {NULL, "none", "partial", "full"};
static const char *const ground_names[] = {"immunities_or_privileges", "fundamental_rights",
                                           "ne_bis_in_idem", "dual_criminality"};
static const char *const correspondence_names[] = {NULL, "request_additional_information",
                                                   "provide_additional_information", "other"};

static td_status parse_event(pctx *p, json_t *root, td_eorder_event_doc *ev)
{
    /* The members each action admits, after "action" and "text". */
    static const char *const members[][5] = {
        {NULL},
        {"action", "text", "reference", "id", NULL},
        {"action", "text", NULL},
        {"action", "text", NULL},
        {"action", "text", "deadline", NULL},
        {"action", "text", NULL},
        {"action", "text", "kind", "categories", "ground"},
        {"action", "text", "sections", NULL},
        {"action", "text", "sections", NULL},
        {"action", "text", "kind", NULL},
    };
    int a, v;
    td_status st;
    if ((st = get_enum(p, root, "action", "", action_names, 1, N(action_names), 1, &a)))
        return st;
    ev->action = (td_eorder_action)a;
    const char *names[6];
    memcpy(names, members[a], sizeof members[a]);
    names[5] = NULL;
    if ((st = only_known(p, root, names, "")) ||
        (st = get_text(p, root, "text", "", ev->text, sizeof ev->text,
                       ev->action == TD_EORDER_CORRESPONDENCE, MULTI_LINE)))
        return st;
    switch (ev->action) {
    case TD_EORDER_SUBSEQUENT_PRODUCTION:
        if ((st = get_text(p, root, "reference", "", ev->reference, sizeof ev->reference, 0,
                           ONE_LINE)) ||
            (st = get_text(p, root, "id", "", ev->id, sizeof ev->id, 0, ONE_LINE)))
            return st;
        break;
    case TD_EORDER_NEW_DEADLINE:
        if ((st = get_time(p, root, "deadline", "", 1, &ev->deadline_ms)))
            return st;
        break;
    case TD_EORDER_GROUNDS: {
        json_t *cats = json_object_get(root, "categories");
        if ((st = get_enum(p, root, "kind", "", grounds_names, 1, N(grounds_names), 1, &v)))
            return st;
        ev->grounds = (td_eorder_grounds)v;
        if (ev->grounds == TD_EORDER_GROUNDS_PARTIAL) {
            if (!cats)
                return reject(p, TD_EORDER_MISSING_FIELD, "categories", "required with partial");
            if ((st = name_set(p, cats, "categories", td_eorder_category_parse, 4,
                               &ev->grounds_categories)))
                return st;
        } else if (cats) {
            return reject(p, TD_EORDER_INVALID_FIELD, "categories", "only with partial");
        }
        if ((st = get_enum(p, root, "ground", "", ground_names, 0, N(ground_names),
                           ev->grounds != TD_EORDER_GROUNDS_NONE, &v)))
            return st;
        if (json_object_get(root, "ground") && ev->grounds == TD_EORDER_GROUNDS_NONE)
            return reject(p, TD_EORDER_INVALID_FIELD, "ground", "not with none");
        if (ev->grounds != TD_EORDER_GROUNDS_NONE)
            ev->ground = (td_eorder_reason)(TD_EORDER_R_GROUND_IMMUNITIES + v);
        break;
    }
    case TD_EORDER_CLARIFICATION:
    case TD_EORDER_CORRECTION: {
        json_t *s = json_object_get(root, "sections");
        if (!s)
            break;
        if (!json_is_object(s))
            return reject(p, TD_EORDER_INVALID_FIELD, "sections", "expected an object");
        if (json_object_size(s) == 0)
            return reject(p, TD_EORDER_INVALID_FIELD, "sections", "empty");
        ev->sections = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
        if (!ev->sections)
            return td__error_set(p->err, TD_ERR_NOMEM, "out of memory");
        break;
    }
    case TD_EORDER_CORRESPONDENCE:
        if ((st = get_enum(p, root, "kind", "", correspondence_names, 1, N(correspondence_names), 1,
                           &v)))
            return st;
        ev->correspondence = (td_eorder_correspondence_kind)v;
        break;
    case TD_EORDER_EXTEND_PRESERVATION:
    case TD_EORDER_END_PRESERVATION:
    case TD_EORDER_WITHDRAW: break;
    }
    return TD_OK;
}

td_status td_eorder_event_parse(const char *json, size_t len, td_eorder_event_doc *out,
                                td_eorder_rejection *why, td_error *err)
{
    pctx p = {why, err};
    json_t *root;
    memset(out, 0, sizeof *out);
    if (why) {
        why->problem = TD_EORDER_ACCEPTED;
        why->field[0] = '\0';
    }
    td_status st = load_object(&p, json, len, TD_EORDER_MAX_EVENT, "event", &root);
    if (st)
        return st;
    st = parse_event(&p, root, out);
    json_decref(root);
    if (st)
        td_eorder_event_doc_clear(out);
    return st;
}

void td_eorder_event_doc_clear(td_eorder_event_doc *doc)
{
    if (!doc)
        return;
    free(doc->sections); /* jansson's */
    doc->sections = NULL;
}
