/* The canonical encoding of an audit entry: the exact bytes a leaf hashes. It must never depend
 * on anything but the six fields, so the rules are fixed: key order seq, time_ms, actor, action,
 * object, details; no whitespace; only ", \ and bytes below 0x20 are escaped (\" \\ \n \r \t, the
 * rest as \u00XX); text must be UTF-8. Changing any of this invalidates every existing log. */
#include <stdio.h>
#include <string.h>

#include "audit/audit_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            min = 0x80;
            c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            min = 0x800;
            c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return 0;
        }
        if (len - i - 1 < n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            c = c << 6 | (s[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

static size_t escaped_len(const char *s)
{
    size_t n = 2;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\' || *p == '\n' || *p == '\r' || *p == '\t')
            n += 2;
        else if (*p < 0x20)
            n += 6;
        else
            n += 1;
    }
    return n;
}

static char *put_escaped(char *o, const char *s)
{
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            *o++ = '\\';
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        default:
            if (*p < 0x20) {
                memcpy(o, "\\u00", 4);
                td__hex_encode(p, 1, o + 4); /* its NUL is overwritten next */
                o += 6;
            } else {
                *o++ = (char)*p;
            }
        }
    }
    *o++ = '"';
    return o;
}

static td_status check_field(const char *name, const char *s, size_t max, td_error *err)
{
    size_t len = strlen(s);
    if (len > max)
        return td__error_set(err, TD_ERR_LIMIT, "audit entry: %s longer than %zu bytes", name, max);
    if (!utf8_valid((const unsigned char *)s, len))
        return td__error_set(err, TD_ERR_INVALID, "audit entry: %s is not UTF-8", name);
    return TD_OK;
}

td_status td_audit_entry_canonical(uint64_t seq, int64_t time_ms, const char *actor,
                                   const char *action, const char *object, const char *details,
                                   char **text, size_t *len, td_error *err)
{
    td_status st;
    *text = NULL;
    *len = 0;
    if (!actor || !action || !object)
        return td__error_set(err, TD_ERR_INVALID, "audit entry: actor, action and object needed");
    if (!details)
        details = "";
    if (!*action)
        return td__error_set(err, TD_ERR_INVALID, "audit entry: empty action");
    if ((st = check_field("actor", actor, TD_AUDIT_MAX_NAME, err)) ||
        (st = check_field("action", action, TD_AUDIT_MAX_NAME, err)) ||
        (st = check_field("object", object, TD_AUDIT_MAX_NAME, err)) ||
        (st = check_field("details", details, TD_AUDIT_MAX_DETAILS, err)))
        return st;
    char head[96];
    int hn = snprintf(head, sizeof head,
                      "{\"seq\":%llu,\"time_ms\":%lld,\"actor\":", (unsigned long long)seq,
                      (long long)time_ms);
    if (hn < 0 || (size_t)hn >= sizeof head)
        return td__error_set(err, TD_ERR_INTERNAL, "audit entry: header overflow");
    size_t total = (size_t)hn + escaped_len(actor) + escaped_len(action) + escaped_len(object) +
                   escaped_len(details) + sizeof ",\"action\":,\"object\":,\"details\":}";
    char *buf = td__malloc(total);
    if (!buf)
        return td__error_set(err, TD_ERR_NOMEM, "audit entry: out of memory");
    char *o = buf;
    memcpy(o, head, (size_t)hn);
    o += hn;
    o = put_escaped(o, actor);
    memcpy(o, ",\"action\":", 10);
    o = put_escaped(o + 10, action);
    memcpy(o, ",\"object\":", 10);
    o = put_escaped(o + 10, object);
    memcpy(o, ",\"details\":", 11);
    o = put_escaped(o + 11, details);
    *o++ = '}';
    *o = '\0';
    *len = (size_t)(o - buf);
    *text = buf;
    return TD_OK;
}
