/* The report body of POST /v1/reports (the HTTP contract in reports.h's users, docs/e2ee.md) read
 * into a td_report_input, with no store and no key: what fuzz/fuzz_report.c drives.
 *
 * Untrusted input, so: the size is checked before jansson reads it, every member is looked for by
 * name and any other refused (unknown_field naming it), every string and array has its limit,
 * hex and base64 are decoded into exact sizes, and a refusal names the member
 * ("messages[1].attachments[0].key"). The decoded attachment bytes replace their base64 text in
 * memory as soon as they are read, so a large body is not held three times. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "reports/reports_int.h"

struct td_report_parsed {
    json_t *root; /* the texts of the input point into it */
    td_report_message *messages;
    td_report_attachment *attachments; /* every message's, one after the other */
    uint8_t **blobs;                   /* decoded, one per attachment */
    size_t n_blobs;
};

td_status td__report_refuse(td_report_rejection *rej, const char *problem, const char *field,
                            td_status code, td_error *err, const char *fmt, ...)
{
    char msg[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (rej) {
        snprintf(rej->problem, sizeof rej->problem, "%s", problem);
        snprintf(rej->field, sizeof rej->field, "%s", field);
    }
    return td__error_set(err, code, "%s%s%s", field, *field ? ": " : "", msg);
}

void td_report_input_free(td_report_parsed *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->blobs && i < p->n_blobs; i++)
        td__free(p->blobs[i]);
    td__free(p->blobs);
    td__free(p->attachments);
    td__free(p->messages);
    json_decref(p->root);
    td__free(p);
}

/* Refuses members of o not in names (NULL-terminated). */
static td_status only(json_t *o, const char *const *names, const char *where,
                      td_report_rejection *rej, td_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        int known = 0;
        for (const char *const *n = names; *n && !known; n++)
            known = strcmp(key, *n) == 0;
        if (!known) {
            char field[96];
            snprintf(field, sizeof field, "%.40s%s%.20s", where, *where ? "." : "", key);
            return td__report_refuse(rej, "unknown_field", field, TD_ERR_INVALID, err,
                                     "not a member of a report");
        }
    }
    return TD_OK;
}

static void field_name(char *out, size_t cap, const char *where, const char *member)
{
    snprintf(out, cap, "%.40s%s%.20s", where, *where ? "." : "", member);
}

/* A string member: required or not, 1..max bytes (0 allowed when min is 0), no control byte when
 * plain. *s is NULL when absent. */
static td_status get_string(json_t *o, const char *member, const char *where, int required,
                            size_t min, size_t max, int plain, const char **s, size_t *len,
                            td_report_rejection *rej, td_error *err)
{
    char field[96];
    json_t *v = json_object_get(o, member);
    field_name(field, sizeof field, where, member);
    *s = NULL;
    *len = 0;
    if (!v)
        return required
                   ? td__report_refuse(rej, "missing_field", field, TD_ERR_INVALID, err, "required")
                   : TD_OK;
    if (!json_is_string(v))
        return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err,
                                 "expected a string");
    size_t n = json_string_length(v);
    const char *t = json_string_value(v);
    if (n > max)
        return td__report_refuse(rej, "too_large", field, TD_ERR_LIMIT, err,
                                 "longer than %zu bytes", max);
    if (n < min)
        return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err, "empty");
    for (size_t i = 0; plain && i < n; i++)
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
            return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err,
                                     "has a control character");
    *s = t;
    *len = n;
    return TD_OK;
}

/* Exactly n bytes of hex. */
static td_status get_hex(json_t *o, const char *member, const char *where, uint8_t *out, size_t n,
                         td_report_rejection *rej, td_error *err)
{
    const char *s;
    size_t len;
    char field[96];
    td_status st = get_string(o, member, where, 1, 0, TD_REPORT_BODY_MAX, 0, &s, &len, rej, err);
    if (st)
        return st;
    field_name(field, sizeof field, where, member);
    if (len != 2 * n || td__hex_decode_exact(s, len, out, n) != 0)
        return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err,
                                 "expected %zu hex digits", 2 * n);
    return TD_OK;
}

static td_status get_int(json_t *o, const char *member, const char *where, int64_t min, int64_t max,
                         int64_t *out, td_report_rejection *rej, td_error *err)
{
    char field[96];
    json_t *v = json_object_get(o, member);
    field_name(field, sizeof field, where, member);
    if (!v)
        return td__report_refuse(rej, "missing_field", field, TD_ERR_INVALID, err, "required");
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err,
                                 "expected an integer from %lld to %lld", (long long)min,
                                 (long long)max);
    *out = json_integer_value(v);
    return TD_OK;
}

static td_status get_attachment(td_report_parsed *p, json_t *a, const char *where,
                                td_report_attachment *out, td_report_rejection *rej, td_error *err)
{
    static const char *const names[] = {"blob", "key", NULL};
    char field[96];
    td_status st;
    const char *b64;
    size_t b64_len;
    if (!json_is_object(a))
        return td__report_refuse(rej, "invalid_field", where, TD_ERR_INVALID, err,
                                 "expected an object");
    if ((st = only(a, names, where, rej, err)) ||
        (st = get_hex(a, "key", where, out->key, TD_FRANK_ATTACH_KEY_LEN, rej, err)) ||
        (st = get_string(a, "blob", where, 1, 1, TD_REPORT_BODY_MAX, 0, &b64, &b64_len, rej, err)))
        return st;
    field_name(field, sizeof field, where, "blob");
    size_t cap = b64_len / 4 * 3 + 3, n = 0;
    uint8_t *bytes = td__malloc(cap);
    if (!bytes)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if (sodium_base642bin(bytes, cap, b64, b64_len, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        td__free(bytes);
        return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err,
                                 "expected base64 (RFC 4648, with padding)");
    }
    if (n < TD_FRANK_ATTACH_NONCE_LEN + TD_FRANK_ATTACH_TAG_LEN) {
        td__free(bytes);
        return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err,
                                 "shorter than a nonce and a tag (%d bytes)",
                                 TD_FRANK_ATTACH_NONCE_LEN + TD_FRANK_ATTACH_TAG_LEN);
    }
    p->blobs[p->n_blobs++] = bytes;
    out->blob = bytes;
    out->blob_len = n;
    json_object_del(a, "blob"); /* its text is no longer needed */
    return TD_OK;
}

static td_status get_message(td_report_parsed *p, json_t *m, size_t i, td_report_message *out,
                             td_report_rejection *rej, td_error *err)
{
    static const char *const names[] = {"text",         "attachments", "salt",   "sender",
                                        "conversation", "accepted_ms", "key_id", "frank",
                                        "signature",    NULL};
    char where[32];
    td_status st;
    int64_t v;
    snprintf(where, sizeof where, "messages[%zu]", i);
    if (!json_is_object(m))
        return td__report_refuse(rej, "invalid_field", where, TD_ERR_INVALID, err,
                                 "expected an object");
    if ((st = only(m, names, where, rej, err)) ||
        (st = get_string(m, "text", where, 1, 0, TD_FRANK_TEXT_MAX, 0, &out->text, &out->text_len,
                         rej, err)) ||
        (st = get_hex(m, "salt", where, out->salt, TD_FRANK_SALT_LEN, rej, err)) ||
        (st = get_string(m, "sender", where, 1, 1, TD_FRANK_ID_MAX, 0, &out->ctx.sender,
                         &out->ctx.sender_len, rej, err)) ||
        (st = get_string(m, "conversation", where, 1, 1, TD_FRANK_ID_MAX, 0, &out->ctx.conversation,
                         &out->ctx.conversation_len, rej, err)) ||
        (st = get_int(m, "accepted_ms", where, 0, INT64_MAX, &out->ctx.accepted_ms, rej, err)) ||
        (st = get_int(m, "key_id", where, 1, UINT32_MAX, &v, rej, err)) ||
        (st = get_hex(m, "frank", where, out->proof.frank, TD_FRANK_LEN, rej, err)) ||
        (st = get_hex(m, "signature", where, out->proof.signature, TD_FRANK_SIG_LEN, rej, err)))
        return st;
    out->proof.key_id = (uint32_t)v;
    json_t *atts = json_object_get(m, "attachments");
    if (!atts)
        return TD_OK;
    char field[96];
    field_name(field, sizeof field, where, "attachments");
    if (!json_is_array(atts))
        return td__report_refuse(rej, "invalid_field", field, TD_ERR_INVALID, err,
                                 "expected an array");
    if (json_array_size(atts) > TD_FRANK_ATTACH_MAX)
        return td__report_refuse(rej, "too_large", field, TD_ERR_LIMIT, err,
                                 "more than %d attachments", TD_FRANK_ATTACH_MAX);
    out->attachments = p->attachments + p->n_blobs;
    for (size_t j = 0; j < json_array_size(atts); j++) {
        char aw[64];
        snprintf(aw, sizeof aw, "%.40s[%zu]", field, j);
        if ((st = get_attachment(p, json_array_get(atts, j), aw,
                                 (td_report_attachment *)&out->attachments[j], rej, err)))
            return st;
        out->n_attachments = j + 1;
    }
    return TD_OK;
}

td_status td_report_parse(const char *json, size_t len, td_report_input *in,
                          td_report_parsed **owner, td_report_rejection *rej, td_error *err)
{
    static const char *const names[] = {"reporter", "reason", "messages", NULL};
    td_report_rejection local;
    json_error_t jerr;
    td_status st;
    size_t n;
    memset(in, 0, sizeof *in);
    *owner = NULL;
    if (!rej)
        rej = &local;
    memset(rej, 0, sizeof *rej);
    if (len > TD_REPORT_BODY_MAX)
        return td__report_refuse(rej, "too_large", "", TD_ERR_LIMIT, err,
                                 "a report is at most %d bytes", TD_REPORT_BODY_MAX);
    if (!json && len)
        return td__report_refuse(rej, "malformed", "", TD_ERR_INVALID, err, "no body");
    td_report_parsed *p = td__calloc(1, sizeof *p);
    if (!p)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    p->root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(p->root)) {
        st = td__report_refuse(rej, "malformed", "", TD_ERR_INVALID, err,
                               "expected a JSON object%s%.160s", p->root ? "" : ": ",
                               p->root ? "" : jerr.text);
        goto fail;
    }
    size_t rlen;
    if ((st = only(p->root, names, "", rej, err)) ||
        (st = get_string(p->root, "reporter", "", 1, 1, TD_REPORT_REPORTER_MAX, 1, &in->reporter,
                         &rlen, rej, err)) ||
        (st = get_string(p->root, "reason", "", 0, 0, TD_REPORT_REASON_MAX, 0, &in->reason, &rlen,
                         rej, err)))
        goto fail;
    json_t *msgs = json_object_get(p->root, "messages");
    if (!msgs) {
        st = td__report_refuse(rej, "missing_field", "messages", TD_ERR_INVALID, err, "required");
        goto fail;
    }
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        st = td__report_refuse(rej, "invalid_field", "messages", TD_ERR_INVALID, err,
                               "expected an array of 1 to %d messages", TD_REPORT_MESSAGES_MAX);
        goto fail;
    }
    if ((n = json_array_size(msgs)) > TD_REPORT_MESSAGES_MAX) {
        st = td__report_refuse(rej, "too_large", "messages", TD_ERR_LIMIT, err,
                               "more than %d messages", TD_REPORT_MESSAGES_MAX);
        goto fail;
    }
    p->messages = td__calloc(n, sizeof *p->messages);
    p->attachments = td__calloc(n * TD_FRANK_ATTACH_MAX, sizeof *p->attachments);
    p->blobs = td__calloc(n * TD_FRANK_ATTACH_MAX, sizeof *p->blobs);
    if (!p->messages || !p->attachments || !p->blobs) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        if ((st = get_message(p, json_array_get(msgs, i), i, &p->messages[i], rej, err)))
            goto fail;
    in->messages = p->messages;
    in->n_messages = n;
    *owner = p;
    return TD_OK;
fail:
    td_report_input_free(p);
    memset(in, 0, sizeof *in);
    return st;
}
