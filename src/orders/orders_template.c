/* User notice templates: checking an operator's template text and rendering it, with no store
 * (the fuzzer drives td_notice_template_check and td__notice_render, fuzz/fuzz_notice_template.c).
 *
 * Why a check that bounds the rendered size: a notice is rendered inside the transaction that
 * confirms an order or releases a withheld notice, where a failure would hold up the legal
 * record. Every placeholder has a longest value (the limit of the field it comes from), so a
 * template is refused when its text with every placeholder at its longest would not fit in
 * TD_NOTICE_TEXT_MAX; rendering a checked template then cannot run out of room. The syntax is
 * deliberately tiny ({{name}}, nothing else): no conditionals, no escapes, nothing to evaluate. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "orders/orders_template_int.h"

#define NAME_MAX_LEN 48 /* a placeholder name as written, known or not */

static const char *const field_names[TD__NF_COUNT] = {
    [TD__NF_REASON] = "reason",
    [TD__NF_CATEGORY] = "category",
    [TD__NF_CATEGORY_TEXT] = "category_text",
    [TD__NF_REFERENCE] = "reference",
    [TD__NF_AUTHORITY] = "authority",
    [TD__NF_MEMBER_STATE] = "member_state",
    [TD__NF_ISSUED_AT] = "issued_at",
    [TD__NF_REDRESS] = "redress",
    [TD__NF_COMPLAINT_URL] = "complaint_url",
    [TD__NF_COMPLAINT_DAYS] = "complaint_days",
    [TD__NF_CONTENT_ID] = "content_id",
    [TD__NF_URL] = "url",
    [TD__NF_MEASURE] = "measure",
    [TD__NF_TIME_OF_MEASURE] = "time_of_measure",
};

/* The longest value of each placeholder: the limit of the field it comes from. */
static const size_t field_max[TD__NF_COUNT] = {
    [TD__NF_REASON] = TD_ORDER_STATEMENT_MAX,
    [TD__NF_CATEGORY] = 1,
    [TD__NF_CATEGORY_TEXT] = 160,
    [TD__NF_REFERENCE] = TD_ORDER_REF_MAX,
    [TD__NF_AUTHORITY] = TD_NAME_MAX,
    [TD__NF_MEMBER_STATE] = 2,
    [TD__NF_ISSUED_AT] = 31,
    [TD__NF_REDRESS] = TD_ORDER_REDRESS_MAX,
    [TD__NF_COMPLAINT_URL] = TD_CASE_URL_MAX,
    [TD__NF_COMPLAINT_DAYS] = 20,
    [TD__NF_CONTENT_ID] = TD_CONTENT_ID_MAX,
    [TD__NF_URL] = TD_CASE_URL_MAX,
    [TD__NF_MEASURE] = 15,
    [TD__NF_TIME_OF_MEASURE] = 31,
};

const char *const *td_notice_placeholders(size_t *count)
{
    *count = TD__NF_COUNT;
    return field_names;
}

const char *td_notice_builtin_text(void)
{
    return "The uploader may complain to the platform against the removal; the complaint is "
           "answered with reasons, and the content reinstated if the removal was unjustified.";
}

const char *td__category_text(char category)
{
    switch (category) {
    case 'a': return "incites the commission of terrorist offences";
    case 'b': return "solicits the commission of, or contribution to, terrorist offences";
    case 'c': return "solicits participation in the activities of a terrorist group";
    case 'd':
        return "instructs on making or using weapons or hazardous substances, or on other "
               "methods or techniques, for terrorist offences";
    case 'e': return "threatens to commit a terrorist offence";
    }
    return "";
}

const char *td_template_problem_name(td_template_problem p)
{
    switch (p) {
    case TD_TEMPLATE_OK: return "accepted";
    case TD_TEMPLATE_TOO_LARGE: return "too_large";
    case TD_TEMPLATE_UNKNOWN_PLACEHOLDER: return "unknown_placeholder";
    case TD_TEMPLATE_MALFORMED: return "invalid_template";
    case TD_TEMPLATE_BAD_LANGUAGE: return "invalid_language";
    case TD_TEMPLATE_BAD_URL: return "invalid_url";
    }
    return "unknown";
}

int td_notice_language_normalize(const char *lang, char out[TD_NOTICE_LANG_MAX + 1])
{
    size_t n = lang ? strnlen(lang, TD_NOTICE_LANG_MAX + 1) : 0;
    if (n < 2 || n > TD_NOTICE_LANG_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = lang[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c < 'a' || c > 'z')
            return 0;
        out[i] = c;
    }
    out[n] = '\0';
    return n <= TD_ORDER_LANG_MAX || strcmp(out, "default") == 0;
}

/* ---- scanning ---- */

/* Bytes of the UTF-8 sequence at p (n available), 0 when it is not well-formed (overlong forms,
 * surrogates and code points over U+10FFFF are not). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t k;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        k = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < k || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return k;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* At p (p[0] == p[1] == '{'): "{{ name }}" with optional spaces. Returns the placeholder's
 * length and its name, or 0 when malformed. */
static size_t placeholder_at(const char *p, const char *end, const char **name, size_t *name_len)
{
    const char *s = p + 2;
    while (s < end && *s == ' ')
        s++;
    const char *n = s;
    while (s < end && (size_t)(s - n) <= NAME_MAX_LEN && name_char(*s))
        s++;
    size_t nl = (size_t)(s - n);
    if (nl == 0 || nl > NAME_MAX_LEN)
        return 0;
    while (s < end && *s == ' ')
        s++;
    if (end - s < 2 || s[0] != '}' || s[1] != '}')
        return 0;
    *name = n;
    *name_len = nl;
    return (size_t)(s + 2 - p);
}

static int field_of(const char *name, size_t n)
{
    for (int f = 0; f < TD__NF_COUNT; f++)
        if (strlen(field_names[f]) == n && memcmp(field_names[f], name, n) == 0)
            return f;
    return -1;
}

static td_status refuse(td_template_rejection *why, td_template_problem problem, size_t offset,
                        td_status code, td_error *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static td_status refuse(td_template_rejection *why, td_template_problem problem, size_t offset,
                        td_status code, td_error *err, const char *fmt, ...)
{
    char msg[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (why) {
        why->problem = problem;
        why->offset = offset;
    }
    return td__error_set(err, code, "template: %s", msg);
}

/* Adds name to the comma-separated list (once; names that no longer fit are left out). */
static void list_add(char *list, size_t cap, const char *name, size_t n)
{
    size_t used = strlen(list);
    for (const char *s = list; *s;) {
        size_t k = strcspn(s, ",");
        if (k == n && memcmp(s, name, n) == 0)
            return;
        s += k + (s[k] == ',');
    }
    if (used + (used ? 1 : 0) + n + 1 > cap)
        return;
    if (used)
        list[used++] = ',';
    memcpy(list + used, name, n);
    list[used + n] = '\0';
}

td_status td_notice_template_check(const char *text, size_t len, td_template_rejection *why,
                                   td_error *err)
{
    char unknown[sizeof why->names] = "";
    size_t count = 0, worst = 0;
    if (why)
        memset(why, 0, sizeof *why);
    if (!text || len == 0)
        return refuse(why, TD_TEMPLATE_MALFORMED, 0, TD_ERR_INVALID, err, "the text is empty");
    if (len > TD_NOTICE_TEMPLATE_MAX)
        return refuse(why, TD_TEMPLATE_TOO_LARGE, 0, TD_ERR_LIMIT, err,
                      "%zu bytes, over the limit of %d", len, TD_NOTICE_TEMPLATE_MAX);
    const char *p = text, *end = text + len;
    while (p < end) {
        size_t at = (size_t)(p - text);
        if (end - p >= 2 && p[0] == '{' && p[1] == '{') {
            const char *name = NULL;
            size_t nl = 0, k = placeholder_at(p, end, &name, &nl);
            if (!k)
                return refuse(why, TD_TEMPLATE_MALFORMED, at, TD_ERR_INVALID, err,
                              "'{{' at byte %zu opens no placeholder: write {{name}} with a "
                              "name of letters, digits and '_'",
                              at);
            int f = field_of(name, nl);
            if (f < 0)
                list_add(unknown, sizeof unknown, name, nl);
            else
                worst += field_max[f];
            count++;
            p += k;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        if (c == 0x7f || (c < 0x20 && c != '\n' && c != '\r' && c != '\t'))
            return refuse(why, TD_TEMPLATE_MALFORMED, at, TD_ERR_INVALID, err,
                          "control character 0x%02x at byte %zu", c, at);
        size_t k = utf8_len((const unsigned char *)p, (size_t)(end - p));
        if (!k)
            return refuse(why, TD_TEMPLATE_MALFORMED, at, TD_ERR_INVALID, err,
                          "invalid UTF-8 at byte %zu", at);
        worst += k;
        p += k;
    }
    if (unknown[0]) {
        if (why)
            memcpy(why->names, unknown, sizeof unknown);
        return refuse(why, TD_TEMPLATE_UNKNOWN_PLACEHOLDER, 0, TD_ERR_INVALID, err,
                      "unknown placeholder(s): %s (known: reason, category, category_text, "
                      "reference, authority, member_state, issued_at, redress, complaint_url, "
                      "complaint_days, content_id, url, measure, time_of_measure)",
                      unknown);
    }
    if (count > TD_NOTICE_PLACEHOLDERS_MAX)
        return refuse(why, TD_TEMPLATE_TOO_LARGE, 0, TD_ERR_LIMIT, err,
                      "%zu placeholders, over the limit of %d", count, TD_NOTICE_PLACEHOLDERS_MAX);
    if (worst > TD_NOTICE_TEXT_MAX)
        return refuse(why, TD_TEMPLATE_TOO_LARGE, 0, TD_ERR_LIMIT, err,
                      "with its placeholders at their longest it renders to %zu bytes, over the "
                      "limit of %d",
                      worst, TD_NOTICE_TEXT_MAX);
    return TD_OK;
}

/* ---- rendering ---- */

td_status td__notice_render(const char *text, size_t len, const td__notice_values *values,
                            char **out, size_t *out_len, td_error *err)
{
    *out = NULL;
    *out_len = 0;
    char *buf = td__malloc(TD_NOTICE_TEXT_MAX + 1);
    size_t n = 0;
    if (!buf)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *piece = p, *name = NULL;
        size_t piece_len = 1, nl = 0, k = 0;
        int f = -1;
        if (end - p >= 2 && p[0] == '{' && p[1] == '{' &&
            (k = placeholder_at(p, end, &name, &nl)) && (f = field_of(name, nl)) >= 0) {
            piece = values && values->v[f] ? values->v[f] : "";
            piece_len = strnlen(piece, field_max[f] + 1);
            if (piece_len > field_max[f]) {
                /* Longer than its field allows (never for stored records): cut at a character
                 * boundary. */
                piece_len = field_max[f];
                while (piece_len > 0 && ((unsigned char)piece[piece_len] & 0xc0) == 0x80)
                    piece_len--;
            }
            p += k;
        } else {
            p++;
        }
        if (piece_len > TD_NOTICE_TEXT_MAX - n) {
            td__free(buf);
            return td__error_set(err, TD_ERR_LIMIT, "notice: the text renders over %d bytes",
                                 TD_NOTICE_TEXT_MAX);
        }
        memcpy(buf + n, piece, piece_len);
        n += piece_len;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return TD_OK;
}
