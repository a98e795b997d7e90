/* Parsing a removal order or referral (Annex I fields) from untrusted JSON, with no store and no
 * signature: the part a fuzzer drives (fuzz/fuzz_order.c).
 *
 * Why strict: an order is a legal instrument. A member we do not know may carry a meaning we
 * would silently ignore, so unknown members are refused; every error names the field, so an
 * authority can correct its order without a phone call. Limits are fixed (orders.h) and checked
 * before copying; jansson refuses duplicate keys and NUL bytes in strings for us. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "core/timefmt.h"
#include "core/utf8.h"
#include "orders/orders_int.h"
#include "takedown/url.h"

const char *td_order_problem_name(td_order_problem p)
{
    switch (p) {
    case TD_ORDER_ACCEPTED: return "accepted";
    case TD_ORDER_TOO_LARGE: return "too_large";
    case TD_ORDER_UNSIGNED: return "unsigned";
    case TD_ORDER_BAD_SIGNATURE: return "bad_signature";
    case TD_ORDER_UNKNOWN_AUTHORITY: return "unknown_authority";
    case TD_ORDER_WRONG_AUTHORITY: return "wrong_authority";
    case TD_ORDER_MALFORMED: return "malformed";
    case TD_ORDER_MISSING_FIELD: return "missing_field";
    case TD_ORDER_INVALID_FIELD: return "invalid_field";
    }
    return "unknown";
}

/* ---- times ---- */

int64_t td_order_time_parse(const char *text, size_t len)
{
    return text && len <= 40 ? td__time_parse(text, len, 0) : -1;
}

void td_order_time_format(int64_t ms, char out[32])
{
    td__time_format(ms, TD__TIME_MILLIS, out, 32);
}

/* ---- the document ---- */

static td_status reject(td_order_rejection *why, td_order_problem problem, const char *field,
                        td_error *err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static td_status reject(td_order_rejection *why, td_order_problem problem, const char *field,
                        td_error *err, const char *fmt, ...)
{
    char msg[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (why) {
        why->problem = problem;
        snprintf(why->field, sizeof why->field, "%s", field);
    }
    return td__error_set(err, problem == TD_ORDER_TOO_LARGE ? TD_ERR_LIMIT : TD_ERR_INVALID,
                         "%s: %s", field, msg);
}

enum { ONE_LINE = 0, MULTI_LINE = 1 };

/* Control characters are refused (tab and line breaks too, unless multi-line). */
static int clean_text(const char *s, size_t n, int multi)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0x7f || (ch < 0x20 && !(multi && (ch == '\n' || ch == '\r' || ch == '\t'))))
            return 0;
    }
    return 1;
}

/* Copies string member key of obj (path names it in errors) into dst[cap]. Absent: an error when
 * required, else dst is "". */
static td_status get_text(json_t *obj, const char *key, const char *path, char *dst, size_t cap,
                          int required, int multi, td_order_rejection *why, td_error *err)
{
    json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (!v)
        return required ? reject(why, TD_ORDER_MISSING_FIELD, path, err, "required") : TD_OK;
    if (!json_is_string(v))
        return reject(why, TD_ORDER_INVALID_FIELD, path, err, "expected a string");
    size_t n = json_string_length(v);
    if (n == 0)
        return required ? reject(why, TD_ORDER_MISSING_FIELD, path, err, "empty") : TD_OK;
    if (n >= cap)
        return reject(why, TD_ORDER_INVALID_FIELD, path, err, "longer than %zu bytes", cap - 1);
    if (!clean_text(json_string_value(v), n, multi))
        return reject(why, TD_ORDER_INVALID_FIELD, path, err, "control characters");
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    return TD_OK;
}

static td_status get_bool(json_t *obj, const char *key, int *out, int required,
                          td_order_rejection *why, td_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (!v)
        return required ? reject(why, TD_ORDER_MISSING_FIELD, key, err, "required") : TD_OK;
    if (!json_is_boolean(v))
        return reject(why, TD_ORDER_INVALID_FIELD, key, err, "expected true or false");
    *out = json_is_true(v);
    return TD_OK;
}

/* Refuses members of obj not in names (NULL-terminated). */
static td_status only_known(json_t *obj, const char *const *names, const char *prefix,
                            td_order_rejection *why, td_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int known = 0;
        for (const char *const *n = names; *n && !known; n++)
            known = strcmp(key, *n) == 0;
        if (!known) {
            char path[64];
            snprintf(path, sizeof path, "%s%.40s", prefix, *key ? key : "\"\"");
            return reject(why, TD_ORDER_INVALID_FIELD, path, err, "unknown member");
        }
    }
    return TD_OK;
}

/* Why a target URL, as sent, is refused, or NULL. A target names one item for an operator to take
 * down, so it must read as what it is: an explicit scheme (defanged forms such as "hxxps://" or
 * "https[:]//" are fine, "//host" and bare words are not: no scheme is guessed), and no spaces,
 * controls or invisible formatting characters (a bidirectional override would show an operator
 * another address than the one acted on). */
static const char *url_text_problem(const char *url, size_t n)
{
    const unsigned char *u = (const unsigned char *)url;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = td__utf8_next(u + i, n - i, &cp);
        if (k == 0)
            return "not UTF-8";
        if (td__unicode_is_control(cp))
            return "a control character";
        if (td__unicode_is_invisible(cp))
            return "an invisible formatting character (bidirectional control, zero-width)";
        if (cp == ' ' || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
            cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
            return "a space (percent-encode it)";
        i += k;
    }
    size_t k = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ[]");
    int colon = strncmp(url + k, "://", 3) == 0 ||
                (k > 1 && url[k - 1] == '[' && strncmp(url + k, ":]//", 4) == 0);
    if (k == 0 || k > 10 || !colon)
        return "not an absolute URL (http:// or https://)";
    return NULL;
}

/* Why a canonical target URL is refused, or NULL: http or https, with a well-formed host. */
static const char *url_canonical_problem(const char *canon)
{
    size_t skip;
    if (strncmp(canon, "http://", 7) == 0)
        skip = 7;
    else if (strncmp(canon, "https://", 8) == 0)
        skip = 8;
    else
        return "not an http or https URL";
    const char *auth = canon + skip;
    size_t alen = strcspn(auth, "/?#");
    const char *host = auth, *hend = auth + alen;
    const char *at = memchr(host, '@', alen);
    if (at)
        host = at + 1;
    if (host < hend && *host == '[') {
        const char *close = memchr(host, ']', (size_t)(hend - host));
        if (!close || close == host + 1)
            return "a malformed IPv6 host";
        hend = close + 1;
    } else {
        const char *colon = memchr(host, ':', (size_t)(hend - host));
        if (colon)
            hend = colon;
        int label = 0;
        for (const unsigned char *p = (const unsigned char *)host; p < (const unsigned char *)hend;
             p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p >= 0x80)
                label = 1;
            else if (*p != '-' && *p != '.' && *p != '_' && *p != '%')
                return "a malformed host";
        }
        if (!label)
            return "no host";
    }
    if (hend < auth + alen) {
        size_t plen = (size_t)(auth + alen - hend - 1);
        long v = 0;
        if (*hend != ':' || plen > 5 || strspn(hend + 1, "0123456789") < plen)
            return "a malformed port";
        for (size_t i = 0; i < plen; i++)
            v = v * 10 + (hend[1 + i] - '0');
        if (v > 65535)
            return "a malformed port";
    }
    return NULL;
}

static td_status parse_targets(json_t *arr, td_order_doc *out, td_order_rejection *why,
                               td_error *err)
{
    static const char *const names[] = {"url", "content_id", NULL};
    char path[64];
    td_status st;
    if (!arr)
        return reject(why, TD_ORDER_MISSING_FIELD, "content", err, "required");
    if (!json_is_array(arr))
        return reject(why, TD_ORDER_INVALID_FIELD, "content", err, "expected an array");
    size_t n = json_array_size(arr);
    if (n == 0)
        return reject(why, TD_ORDER_MISSING_FIELD, "content", err, "no URL or content id");
    if (n > TD_ORDER_MAX_TARGETS)
        return reject(why, TD_ORDER_INVALID_FIELD, "content", err, "more than %d items",
                      TD_ORDER_MAX_TARGETS);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(arr, i);
        td_order_target *t = &out->targets[i];
        snprintf(path, sizeof path, "content[%zu]", i);
        if (!json_is_object(item))
            return reject(why, TD_ORDER_INVALID_FIELD, path, err, "expected an object");
        snprintf(path, sizeof path, "content[%zu].", i);
        if ((st = only_known(item, names, path, why, err)))
            return st;
        snprintf(path, sizeof path, "content[%zu].url", i);
        if ((st = get_text(item, "url", path, t->url, sizeof t->url, 0, ONE_LINE, why, err)))
            return st;
        if (t->url[0]) {
            const char *bad = url_text_problem(t->url, strlen(t->url));
            if (bad)
                return reject(why, TD_ORDER_INVALID_FIELD, path, err, "%s", bad);
            char *canon = NULL;
            if (td_url_canonicalize(t->url, strlen(t->url), &canon, NULL) != TD_OK ||
                strlen(canon) >= sizeof t->canonical_url) {
                td_free(canon);
                return reject(why, TD_ORDER_INVALID_FIELD, path, err, "not a usable URL");
            }
            if ((bad = url_canonical_problem(canon))) {
                td_free(canon);
                return reject(why, TD_ORDER_INVALID_FIELD, path, err, "%s", bad);
            }
            memcpy(t->canonical_url, canon, strlen(canon) + 1);
            td_free(canon);
        }
        snprintf(path, sizeof path, "content[%zu].content_id", i);
        if ((st = get_text(item, "content_id", path, t->content_id, sizeof t->content_id, 0,
                           ONE_LINE, why, err)))
            return st;
        if (!t->url[0] && !t->content_id[0]) {
            snprintf(path, sizeof path, "content[%zu]", i);
            return reject(why, TD_ORDER_MISSING_FIELD, path, err, "needs a url or a content_id");
        }
    }
    out->n_targets = n;
    return TD_OK;
}

static td_status parse_doc(json_t *root, td_order_doc *out, td_order_rejection *why, td_error *err)
{
    static const char *const names[] = {"type",
                                        "issuing_member_state",
                                        "addressee",
                                        "reference",
                                        "issued_at",
                                        "content",
                                        "reason",
                                        "do_not_inform",
                                        "do_not_inform_days",
                                        "cross_border",
                                        "emergency",
                                        "issuing_authority",
                                        "follow_up_contact",
                                        "redress",
                                        "language",
                                        NULL};
    static const char *const reason_names[] = {"category", "statement", NULL};
    static const char *const auth_names[] = {"name", "contact", NULL};
    char buf[32];
    td_status st;
    if ((st = only_known(root, names, "", why, err)))
        return st;
    if ((st = get_text(root, "type", "type", buf, sizeof buf, 1, ONE_LINE, why, err)))
        return st;
    if (strcmp(buf, "removal_order") == 0)
        out->kind = TD_ORDER_REMOVAL;
    else if (strcmp(buf, "referral") == 0)
        out->kind = TD_ORDER_REFERRAL;
    else
        return reject(why, TD_ORDER_INVALID_FIELD, "type", err,
                      "expected \"removal_order\" or \"referral\"");
    int order = out->kind == TD_ORDER_REMOVAL;

    /* The issuing authority first: intake needs it to find the signing key. */
    json_t *auth = json_object_get(root, "issuing_authority");
    if (!auth)
        return reject(why, TD_ORDER_MISSING_FIELD, "issuing_authority", err, "required");
    if (!json_is_object(auth))
        return reject(why, TD_ORDER_INVALID_FIELD, "issuing_authority", err, "expected an object");
    if ((st = only_known(auth, auth_names, "issuing_authority.", why, err)) ||
        (st = get_text(auth, "name", "issuing_authority.name", out->authority_name,
                       sizeof out->authority_name, 1, ONE_LINE, why, err)) ||
        (st = get_text(auth, "contact", "issuing_authority.contact", out->authority_contact,
                       sizeof out->authority_contact, 0, MULTI_LINE, why, err)))
        return st;

    if ((st = get_text(root, "reference", "reference", out->reference, sizeof out->reference, 1,
                       ONE_LINE, why, err)) ||
        (st = get_text(root, "issuing_member_state", "issuing_member_state", buf, sizeof buf, order,
                       ONE_LINE, why, err)))
        return st;
    if (buf[0]) {
        if (strlen(buf) != 2 || (order && !td__eu_member_state(buf)) || buf[0] < 'A' ||
            buf[0] > 'Z' || buf[1] < 'A' || buf[1] > 'Z')
            return reject(why, TD_ORDER_INVALID_FIELD, "issuing_member_state", err,
                          "not an EU Member State code");
        memcpy(out->member_state, buf, 3);
    }
    if ((st = get_text(root, "addressee", "addressee", out->addressee, sizeof out->addressee, order,
                       MULTI_LINE, why, err)) ||
        (st = get_text(root, "issued_at", "issued_at", buf, sizeof buf, 1, ONE_LINE, why, err)))
        return st;
    if ((out->issued_ms = td_order_time_parse(buf, strlen(buf))) < 0)
        return reject(why, TD_ORDER_INVALID_FIELD, "issued_at", err,
                      "expected YYYY-MM-DDTHH:MM:SSZ (UTC)");
    if ((st = parse_targets(json_object_get(root, "content"), out, why, err)))
        return st;

    json_t *reason = json_object_get(root, "reason");
    if (!reason)
        return reject(why, TD_ORDER_MISSING_FIELD, "reason", err, "required");
    if (!json_is_object(reason))
        return reject(why, TD_ORDER_INVALID_FIELD, "reason", err, "expected an object");
    if ((st = only_known(reason, reason_names, "reason.", why, err)) ||
        (st = get_text(reason, "category", "reason.category", buf, sizeof buf, order, ONE_LINE, why,
                       err)))
        return st;
    if (buf[0]) {
        if (buf[1] || buf[0] < 'a' || buf[0] > 'e')
            return reject(why, TD_ORDER_INVALID_FIELD, "reason.category", err,
                          "expected one of a, b, c, d, e");
        out->category = buf[0];
    }
    if ((st = get_text(reason, "statement", "reason.statement", out->statement,
                       sizeof out->statement, 1, MULTI_LINE, why, err)))
        return st;

    if ((st = get_bool(root, "do_not_inform", &out->do_not_inform, order, why, err)))
        return st;
    json_t *days = json_object_get(root, "do_not_inform_days");
    if (out->do_not_inform && !days)
        return reject(why, TD_ORDER_MISSING_FIELD, "do_not_inform_days", err,
                      "required when do_not_inform is true");
    if (days) {
        if (!json_is_integer(days) || json_integer_value(days) < 1 ||
            json_integer_value(days) > TD_ORDER_MAX_DNI_DAYS)
            return reject(why, TD_ORDER_INVALID_FIELD, "do_not_inform_days", err,
                          "expected an integer 1..%d", TD_ORDER_MAX_DNI_DAYS);
        if (!out->do_not_inform)
            return reject(why, TD_ORDER_INVALID_FIELD, "do_not_inform_days", err,
                          "given while do_not_inform is false");
        out->do_not_inform_days = (int)json_integer_value(days);
    }
    if ((st = get_bool(root, "cross_border", &out->cross_border, order, why, err)) ||
        (st = get_bool(root, "emergency", &out->emergency, 0, why, err)) ||
        (st = get_text(root, "follow_up_contact", "follow_up_contact", out->follow_up,
                       sizeof out->follow_up, order, MULTI_LINE, why, err)) ||
        (st = get_text(root, "redress", "redress", out->redress, sizeof out->redress, order,
                       MULTI_LINE, why, err)))
        return st;
    /* The language the uploader is told in (the notice template): an ISO 639-1 or 639-2 code. */
    if ((st = get_text(root, "language", "language", buf, sizeof buf, 0, ONE_LINE, why, err)))
        return st;
    if (buf[0]) {
        size_t n = strlen(buf);
        if (n < 2 || n > TD_ORDER_LANG_MAX)
            return reject(why, TD_ORDER_INVALID_FIELD, "language", err,
                          "expected an ISO 639 code of 2 or 3 letters");
        for (size_t i = 0; i < n; i++) {
            char ch = buf[i];
            if (ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            if (ch < 'a' || ch > 'z')
                return reject(why, TD_ORDER_INVALID_FIELD, "language", err,
                              "expected an ISO 639 code of 2 or 3 letters");
            out->language[i] = ch;
        }
        out->language[n] = '\0';
    }
    return TD_OK;
}

td_status td_order_parse(const char *body, size_t len, td_order_doc *out, td_order_rejection *why,
                         td_error *err)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    if (why)
        memset(why, 0, sizeof *why);
    if (len > TD_ORDER_MAX_BODY)
        return reject(why, TD_ORDER_TOO_LARGE, "body", err, "%zu bytes, over the limit of %d", len,
                      TD_ORDER_MAX_BODY);
    if (!body || len == 0)
        return reject(why, TD_ORDER_MALFORMED, "body", err, "empty");
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return reject(why, TD_ORDER_MALFORMED, "body", err, "not JSON (line %d: %.200s)", jerr.line,
                      jerr.text);
    td_status st = json_is_object(root)
                       ? parse_doc(root, out, why, err)
                       : reject(why, TD_ORDER_MALFORMED, "body", err, "expected a JSON object");
    json_decref(root);
    if (st) {
        td_order_rejection keep = why ? *why : (td_order_rejection){0};
        memset(out, 0, sizeof *out);
        if (why)
            *why = keep;
    }
    return st;
}
