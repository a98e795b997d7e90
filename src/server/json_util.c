/* Request parsing and response writing shared by every handler: one error shape
 * ({"error": {"code", "message"}}), one mapping from library status to HTTP status, typed
 * accessors that answer 400 on a wrong type, and the per-request arena. Bad input must always end
 * as a 4xx here, never as a 500 or a crash. */
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/utf8.h"
#include "server/server_int.h"

/* ---- arena ---- */

struct td__arena_block {
    td__arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define ARENA_BLOCK 4096

void *td__arena_alloc(td__arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    td__arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        if (cap > SIZE_MAX - sizeof *b)
            return NULL;
        b = td__malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *td__arena_strndup(td__arena *a, const char *s, size_t n)
{
    char *p = td__arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void td__arena_free(td__arena *a)
{
    td__arena_block *b = a->head;
    while (b) {
        td__arena_block *next = b->next;
        td__free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---- responses ---- */

static void set_response(td__req *r, unsigned status, const char *type, char *data, size_t len,
                         int is_static)
{
    if (r->resp && !r->resp_static)
        td__free(r->resp);
    if (r->resp_fd >= 0) {
        close(r->resp_fd);
        r->resp_fd = -1;
    }
    r->status = status;
    r->resp_type = type;
    r->resp = data;
    r->resp_len = len;
    r->resp_static = is_static;
    r->handled = 1;
}

static void reply_oom(td__req *r)
{
    static const char oom[] = "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of "
                              "memory\"}}";
    set_response(r, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", (char *)oom, sizeof oom - 1,
                 1);
}

/* The usual answer fits here; a larger one is dumped a second time at its exact size. */
#define JSON_FIRST_GUESS 1024

/* The significant digits (15..17) that write every real in j so that it reads back exactly. */
static int real_digits(const json_t *j, int depth)
{
    int need = 15;
    if (depth >= 64) /* not walked further: the digits that always read back */
        return 17;
    if (json_is_real(j)) {
        double v = json_real_value(j);
        char text[40];
        for (; need < 17; need++) {
            snprintf(text, sizeof text, "%.*g", need, v);
            if (strtod(text, NULL) == v)
                break;
        }
    } else if (json_is_object(j)) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            int d = real_digits(v, depth + 1);
            need = d > need ? d : need;
        }
    } else if (json_is_array(j)) {
        size_t i;
        const json_t *v;
        json_array_foreach(j, i, v)
        {
            int d = real_digits(v, depth + 1);
            need = d > need ? d : need;
        }
    }
    return need;
}

void td__reply_json(td__req *r, unsigned status, json_t *obj)
{
    /* Reals with the fewest significant digits (15 to 17) that give every real of the answer
     * back exactly: a ratio of 0.3 reads 0.3, as Python (HMA) and JavaScript print it, not
     * jansson's default 0.29999999999999999. */
    const size_t flags =
        JSON_COMPACT | JSON_ENSURE_ASCII | (obj ? JSON_REAL_PRECISION(real_digits(obj, 0)) : 0);
    if (!obj) {
        reply_oom(r);
        return;
    }
    /* Dumped straight into a buffer of our allocator (json_dumps would allocate through jansson
     * and need a copy): room for the text and the final newline. */
    size_t cap = JSON_FIRST_GUESS;
    char *text = td__malloc(cap);
    size_t n = text ? json_dumpb(obj, text, cap - 1, flags) : 0;
    if (text && n > cap - 1) {
        cap = n + 1;
        char *bigger = td__realloc(text, cap);
        if (!bigger) {
            td__free(text);
            text = NULL;
        } else {
            text = bigger;
            n = json_dumpb(obj, text, cap - 1, flags);
        }
    }
    json_decref(obj);
    if (!text || n == 0 || n > cap - 1) {
        td__free(text);
        reply_oom(r);
        return;
    }
    text[n] = '\n';
    set_response(r, status, "application/json", text, n + 1, 0);
}

/* Writes s[0..n) into out[cap] (cap >= 8) as text that is safe to show and to put in JSON:
 * well-formed UTF-8 stays, a control character or a byte that is not part of well-formed UTF-8
 * becomes "\xNN", an invisible formatting character (a bidirectional override, a zero-width
 * space) becomes "<U+NNNN>"; what does not fit ends in "...". Returns the length written. */
size_t td__safe_text(char *out, size_t cap, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, room = cap - 4; /* keeps space for "..." and the NUL */
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = td__utf8_next(p + i, n - i, &cp);
        char esc[16];
        const char *src;
        size_t len;
        if (k == 0 || td__unicode_is_control(cp)) {
            if (k == 0 || cp < 0x80) {
                snprintf(esc, sizeof esc, "\\x%02X", p[i]);
                k = 1;
            } else {
                snprintf(esc, sizeof esc, "<U+%04X>", (unsigned)cp);
            }
            src = esc;
            len = strlen(esc);
        } else if (td__unicode_is_invisible(cp)) {
            snprintf(esc, sizeof esc, "<U+%04X>", (unsigned)cp);
            src = esc;
            len = strlen(esc);
        } else {
            src = s + i;
            len = k;
        }
        if (len > room - o) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, src, len);
        o += len;
        i += k;
    }
    out[o] = '\0';
    return o;
}

/* The answer when even the error could not be built (memory short inside jansson): the status
 * and code stand, with a fixed message. */
static void reply_error_fallback(td__req *r, unsigned status, const char *code)
{
    char body[160];
    size_t k = strspn(code, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (code[k] != '\0' || k == 0 || k > 64)
        code = "error";
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"code\":\"%s\",\"message\":\"the error could not be "
                     "described\"}}\n",
                     code);
    char *copy = n > 0 && (size_t)n < sizeof body ? td__malloc((size_t)n) : NULL;
    if (!copy) {
        reply_oom(r);
        return;
    }
    memcpy(copy, body, (size_t)n);
    set_response(r, status, "application/json", copy, (size_t)n, 0);
}

void td__reply_error(td__req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[TD_ERROR_MESSAGE_MAX + 64], safe[TD__ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    /* Messages quote request bytes (a path, a method, a parameter): never echo them raw. */
    size_t len = td__safe_text(safe, sizeof safe - 3, msg, strnlen(msg, sizeof msg));
    if (n >= (int)sizeof msg && (len < 3 || memcmp(safe + len - 3, "...", 3) != 0))
        memcpy(safe + len, "...", 4); /* cut by the format buffer: say so */
    json_t *obj = r->hma || (r->route && (r->route->flags & TD__F_HMA))
                      ? json_pack("{s:s}", "message", safe)
                      : json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", safe);
    if (!obj) {
        reply_error_fallback(r, status, code);
        return;
    }
    td__reply_json(r, status, obj);
    if (r->status == MHD_HTTP_SERVICE_UNAVAILABLE && status != MHD_HTTP_SERVICE_UNAVAILABLE &&
        r->resp_static)
        reply_error_fallback(r, status, code);
}

void td__reply_status(td__req *r, td_status st, const td_error *err)
{
    const char *msg = err && err->message[0] ? err->message : td_strerror(st);
    switch (st) {
    case TD_OK: td__reply_error(r, 500, "internal", "no error"); return;
    case TD_ERR_INVALID: td__reply_error(r, 400, "invalid", "%s", msg); return;
    case TD_ERR_LIMIT: td__reply_error(r, 413, "limit", "%s", msg); return;
    case TD_ERR_CORRUPT:
    case TD_ERR_UNSUPPORTED: td__reply_error(r, 422, "undecodable", "%s", msg); return;
    case TD_ERR_NOT_FOUND: td__reply_error(r, 404, "not_found", "%s", msg); return;
    case TD_ERR_CONFLICT: td__reply_error(r, 409, "conflict", "%s", msg); return;
    case TD_ERR_NOMEM: td__reply_error(r, 503, "out_of_memory", "%s", msg); return;
    case TD_ERR_NOSPACE: td__reply_error(r, 507, "insufficient_storage", "%s", msg); return;
    default: td__reply_error(r, 500, "internal", "%s", msg); return;
    }
}

void td__reply_text(td__req *r, unsigned status, const char *type, const char *text, size_t len)
{
    char *copy = td__malloc(len ? len : 1);
    if (!copy) {
        reply_oom(r);
        return;
    }
    memcpy(copy, text, len);
    set_response(r, status, type, copy, len, 0);
}

void td__reply_take(td__req *r, unsigned status, const char *type, char *data, size_t len)
{
    set_response(r, status, type, data, len, 0);
}

void td__reply_fd(td__req *r, unsigned status, const char *type, int fd, uint64_t len)
{
    set_response(r, status, type, NULL, 0, 0);
    r->resp_fd = fd;
    r->resp_fd_len = len;
}

/* ---- request helpers ---- */

/* Media types a client sends media bytes with. */
static int is_media_type(const char *ct, size_t n)
{
    static const char *const prefixes[] = {"image/", "video/", "application/octet-stream"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t k = strlen(prefixes[i]);
        if (n >= k && strncasecmp(ct, prefixes[i], k) == 0)
            return 1;
    }
    return 0;
}

int td__body_is_json(const td__req *r)
{
    const char *ct = r->content_type;
    if (ct && *ct) {
        size_t n = strcspn(ct, ";");
        while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
            n--;
        static const char json_type[] = "application/json";
        if (n == sizeof json_type - 1 && strncasecmp(ct, json_type, n) == 0)
            return 1;
        if (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0)
            return 1;
        if (is_media_type(ct, n))
            return 0;
    }
    /* No type, or a generic one (curl -d sends a form type): a body starting with '{' is JSON
     * (no supported media format starts with it). */
    for (size_t i = 0; i < r->body_len; i++) {
        unsigned char c = r->body[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        return c == '{' || c == '[';
    }
    return 0;
}

json_t *td__body_object(td__req *r)
{
    json_error_t jerr;
    if (r->body_len == 0) {
        td__reply_error(r, 400, "invalid_json", "a JSON object body is required");
        return NULL;
    }
    json_t *obj = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        td__reply_error(r, 400, "invalid_json", "malformed JSON at line %d column %d: %s",
                        jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        td__reply_error(r, 400, "invalid_json", "the body must be a JSON object");
        return NULL;
    }
    return obj;
}

const char *td__query_problem(const char *v)
{
    /* The server's unescaper decoded every escape but "%2F", "%25" and "%00" (see server.c), so
     * any other '%' left is an escape that was malformed in the request. */
    for (const char *p = v; *p; p++) {
        if (*p != '%')
            continue;
        if (p[1] == '0' && p[2] == '0')
            return "a NUL byte (%00)";
        if (p[1] != '2' || (p[2] != 'F' && p[2] != 'f' && p[2] != '5'))
            return "a malformed percent-escape";
        p += 2;
    }
    const unsigned char *u = (const unsigned char *)v;
    size_t n = strlen(v);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = td__utf8_next(u + i, n - i, &cp);
        if (k == 0)
            return "bytes that are not UTF-8";
        if (td__unicode_is_control(cp))
            return "a control character";
        i += k;
    }
    return NULL;
}

int td__check_query_arg(td__req *r, const char *key, const char *value)
{
    const char *why = td__query_problem(key);
    if (why) {
        td__reply_error(r, 400, "invalid_query", "a query parameter name holds %s: '%s'", why, key);
        return 0;
    }
    if (value && (why = td__query_problem(value))) {
        td__reply_error(r, 400, "invalid_query", "query parameter '%s' holds %s", key, why);
        return 0;
    }
    return 1;
}

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    return td__check_query_arg(cls, key, value) ? MHD_YES : MHD_NO;
}

/* A header value a handler reads: printable ASCII, spaces and tabs. */
static int header_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p >= 0x7f)
            return 0;
    return 1;
}

typedef struct query_names {
    const char *const *names;
    const char *unknown;
} query_names;

static enum MHD_Result find_unknown_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    (void)value;
    query_names *q = cls;
    for (size_t i = 0; q->names && q->names[i]; i++)
        if (strcmp(q->names[i], key) == 0)
            return MHD_YES;
    q->unknown = key;
    return MHD_NO;
}

const char *td__query_unknown(td__req *r, const char *const *names)
{
    query_names q = {names, NULL};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, find_unknown_arg, &q);
    return q.unknown;
}

int td__check_request(td__req *r)
{
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, r);
    if (r->handled)
        return 0;
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && !header_ok(ct)) {
        td__reply_error(r, 400, "invalid_header",
                        "the Content-Type header holds bytes that are not printable ASCII");
        return 0;
    }
    return 1;
}

const char *td__query_decode(td__arena *a, const char *v)
{
    if (!v || !strchr(v, '%'))
        return v;
    /* The server's unescaper left "%2F" and "%25" encoded (see server.c): decode them now. */
    size_t n = strlen(v);
    char *out = td__arena_alloc(a, n + 1), *w = out;
    if (!out)
        return NULL;
    for (const char *p = v; *p; p++) {
        if (p[0] == '%' && p[1] == '2' && (p[2] == 'F' || p[2] == 'f')) {
            *w++ = '/';
            p += 2;
        } else if (p[0] == '%' && p[1] == '2' && p[2] == '5') {
            *w++ = '%';
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

const char *td__query(td__req *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    /* td__check_request refused the request already when an argument was malformed; this keeps
     * a handler safe even if it runs without that check. */
    if (v && td__query_problem(v))
        return NULL;
    return td__query_decode(&r->arena, v);
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end = NULL;
    if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '-'))
        return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int64_t td__param_id(td__req *r, int index)
{
    int64_t v;
    if (index >= r->n_params || !parse_i64(r->params[index], 1, INT64_MAX, &v)) {
        td__reply_error(r, 400, "invalid_id", "'%s' is not a valid id",
                        index < r->n_params ? r->params[index] : "");
        return -1;
    }
    return v;
}

int td__get_string(td__req *r, json_t *obj, const char *name, const char **out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 1;
    if (!json_is_string(v)) {
        td__reply_error(r, 400, "invalid_type", "'%s' must be a string", name);
        return 0;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        td__reply_error(r, 400, "invalid_value", "'%s' must not contain NUL", name);
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

int td__get_int(td__req *r, json_t *obj, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 1;
    if (!json_is_integer(v)) {
        td__reply_error(r, 400, "invalid_type", "'%s' must be an integer", name);
        return 0;
    }
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        td__reply_error(r, 400, "invalid_value", "'%s' must be within %lld..%lld", name,
                        (long long)lo, (long long)hi);
        return 0;
    }
    *out = x;
    return 1;
}

int td__get_bool(td__req *r, json_t *obj, const char *name, int *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 1;
    if (!json_is_boolean(v)) {
        td__reply_error(r, 400, "invalid_type", "'%s' must be a boolean", name);
        return 0;
    }
    *out = json_is_true(v);
    return 1;
}

int td__query_int(td__req *r, const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out)
{
    const char *s = td__query(r, name);
    if (!s) {
        *out = def;
        return 1;
    }
    if (!parse_i64(s, lo, hi, out)) {
        td__reply_error(r, 400, "invalid_query", "'%s' must be an integer within %lld..%lld", name,
                        (long long)lo, (long long)hi);
        return 0;
    }
    return 1;
}

/* ---- vPDQ frames ---- */

/* One vPDQ frame object {"frame", "quality", "pdq", "timestamp"} (what takedown hash --json
 * prints). */
static int parse_frame(td__req *r, json_t *f, const char *name, size_t i, td_vpdq_frame *out)
{
    json_t *frame = json_object_get(f, "frame"), *quality = json_object_get(f, "quality"),
           *pdq = json_object_get(f, "pdq"), *ts = json_object_get(f, "timestamp");
    if (!json_is_object(f) || !json_is_integer(frame) || !json_is_integer(quality) ||
        !json_is_string(pdq) || !json_is_number(ts) || json_integer_value(frame) < 0 ||
        json_integer_value(frame) > UINT32_MAX || json_integer_value(quality) < 0 ||
        json_integer_value(quality) > 100 || json_number_value(ts) < 0) {
        td__reply_error(r, 400, "invalid_hash",
                        "'%s' frame %zu must be {\"frame\": n, \"quality\": 0..100, \"pdq\": "
                        "hex, \"timestamp\": seconds}",
                        name, i);
        return 0;
    }
    if (td_pdq_from_hex(json_string_value(pdq), json_string_length(pdq), &out->hash) != TD_OK) {
        td__reply_error(r, 400, "invalid_hash", "'%s' frame %zu: 'pdq' must be 64 hex digits", name,
                        i);
        return 0;
    }
    out->frame = (uint32_t)json_integer_value(frame);
    out->quality = (int)json_integer_value(quality);
    out->timestamp = json_number_value(ts);
    return 1;
}

int td__parse_vpdq(td__req *r, json_t *v, const char *name, td_vpdq *out)
{
    td_error err;
    if (json_is_string(v)) {
        if (td_vpdq_parse(json_string_value(v), json_string_length(v), 0, out, &err) != TD_OK) {
            td__reply_error(r, 400, "invalid_hash", "'%s': %s", name, err.message);
            return 0;
        }
        return 1;
    }
    if (!json_is_array(v)) {
        td__reply_error(r, 400, "invalid_type",
                        "'%s' must be a hash file (string) or an array of frames", name);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        td_vpdq_frame f;
        if (!parse_frame(r, json_array_get(v, i), name, i, &f))
            return 0;
        if (td_vpdq_append(out, &f, &err) != TD_OK) {
            td__reply_status(r, TD_ERR_NOMEM, &err);
            return 0;
        }
    }
    return 1;
}

/* A 400 naming what was refused: {"error": {"code", "field", "message"}}, or HMA's
 * {"message"} on an HMA route. The field is request bytes: made safe first. */
static void reply_refused(td__req *r, const char *code, const char *field, const char *message)
{
    char safe[128];
    td__safe_text(safe, sizeof safe, field, strlen(field));
    if (r->route && (r->route->flags & TD__F_HMA)) {
        td__reply_error(r, 400, code, "'%s': %s", safe, message);
        return;
    }
    char msg[TD__ERROR_TEXT_MAX];
    snprintf(msg, sizeof msg, "'%s': %s", safe, message);
    json_t *j =
        json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "field", safe, "message", msg);
    if (!j) {
        td__reply_error(r, 400, code, "%s", msg);
        return;
    }
    td__reply_json(r, 400, j);
}

static int name_in(const char *name, size_t len, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

int td__only_members_at(td__req *r, json_t *obj, const char *where, const char *const *names)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        (void)v;
        if (name_in(key, strlen(key), names))
            continue;
        char path[160];
        if (where && *where)
            snprintf(path, sizeof path, "%s.%s", where, key);
        else
            snprintf(path, sizeof path, "%s", key);
        reply_refused(r, "unknown_field", path,
                      "this member is not part of the request (nothing was done)");
        return 0;
    }
    return 1;
}

/* Replies 400 unknown_field and returns 0 when obj has a member not in names (NULL-ended). */
int td__only_members(td__req *r, json_t *obj, const char *const *names)
{
    return td__only_members_at(r, obj, NULL, names);
}

json_t *td__body_fields(td__req *r, const char *const *names)
{
    json_t *obj = td__body_object(r);
    if (obj && !td__only_members(r, obj, names)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int td__empty_body(td__req *r)
{
    static const char *const none[] = {NULL};
    if (r->body_len == 0)
        return 1;
    json_t *obj = td__body_fields(r, none);
    json_decref(obj);
    return obj != NULL;
}

int td__refuse_query(td__req *r, const char *const *names, const char *why)
{
    for (size_t i = 0; names[i]; i++) {
        if (!MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, names[i]))
            continue;
        char msg[256];
        snprintf(msg, sizeof msg, "not taken %s (nothing was done)", why);
        reply_refused(r, "unknown_query", names[i], msg);
        return 0;
    }
    return 1;
}

/* 1 when name[0..len) is one of the space-separated words of list (case-sensitive, or not). */
static int word_in(const char *list, const char *name, size_t len, int nocase)
{
    for (const char *p = list; p && *p;) {
        p += strspn(p, " ");
        size_t k = strcspn(p, " ");
        if (k == len && k > 0 && (nocase ? strncasecmp(p, name, k) : strncmp(p, name, k)) == 0)
            return 1;
        p += k;
    }
    return 0;
}

typedef struct inputs_check {
    td__req *r;
    const char *seen[TD__MAX_QUERY_ARGS];
    size_t n_seen;
} inputs_check;

static enum MHD_Result check_query_name(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    (void)value;
    inputs_check *c = cls;
    td__req *r = c->r;
    size_t len = strlen(key);
    if (!word_in(r->route->query, key, len, 0)) {
        reply_refused(r, "unknown_query", key,
                      r->route->query ? "this route does not take this query parameter (it takes "
                                        "those docs/openapi.yaml lists; nothing was done)"
                                      : "this route takes no query parameters (nothing was done)");
        return MHD_NO;
    }
    for (size_t i = 0; i < c->n_seen; i++) {
        if (strcmp(c->seen[i], key) == 0) {
            reply_refused(r, "repeated_query", key,
                          "given more than once: this route reads one value (nothing was done)");
            return MHD_NO;
        }
    }
    /* Names come from the route's own list, so there are few of them. */
    if (c->n_seen < TD__MAX_QUERY_ARGS)
        c->seen[c->n_seen++] = key;
    return MHD_YES;
}

/* A data header: Takedown-* or X-Takedown-* (signatures). */
static int data_header(const char *key)
{
    return strncasecmp(key, "Takedown-", 9) == 0 || strncasecmp(key, "X-Takedown-", 11) == 0;
}

static enum MHD_Result check_header_name(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    (void)kind;
    (void)value;
    inputs_check *c = cls;
    td__req *r = c->r;
    if (!data_header(key))
        return MHD_YES;
    if (!word_in(r->route->headers, key, strlen(key), 1)) {
        reply_refused(r, "unknown_header", key,
                      "this route does not read this header (nothing was done)");
        return MHD_NO;
    }
    for (size_t i = 0; i < c->n_seen; i++) {
        if (strcasecmp(c->seen[i], key) == 0) {
            reply_refused(r, "repeated_header", key,
                          "given more than once: this route reads one value (nothing was done)");
            return MHD_NO;
        }
    }
    if (c->n_seen < TD__MAX_QUERY_ARGS)
        c->seen[c->n_seen++] = key;
    return MHD_YES;
}

int td__check_route_inputs(td__req *r)
{
    if (!r->route || (r->route->flags & TD__F_HMA))
        return 1;
    /* No takedown route reads form fields: a form (curl -F) would be taken as media bytes or
     * refused as JSON, its fields unread. Refused before its bytes arrive. */
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && strncasecmp(ct + strspn(ct, " \t"), "multipart/", 10) == 0 &&
        !(r->route->flags & TD__F_FORM)) {
        reply_refused(r, "form_body", "Content-Type",
                      "no takedown route reads form fields: send the media bytes or the JSON "
                      "object as the body, options in the query (nothing was done)");
        return 0;
    }
    inputs_check c = {.r = r};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_query_name, &c);
    if (r->handled)
        return 0;
    c.n_seen = 0;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, check_header_name, &c);
    return !r->handled;
}
