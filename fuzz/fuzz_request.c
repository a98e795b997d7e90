/* libFuzzer harness for what the server does with a request's method, path and query before any
 * handler runs, and for the error writer: the router (td__route_match), the query checks
 * (td__check_query_arg, td__query_decode) and td__reply_error / td__reply_status with arbitrary
 * bytes in their messages. Whatever the bytes, the outcome is a route whose parameters are clean
 * UTF-8, or a 4xx answer whose body is one JSON error object that parses back, is ASCII and quotes
 * no raw byte.
 *
 * Input: "method\npath\nquery\nmessage" (missing parts are empty). The path is used as the server
 * receives it (after libmicrohttpd's unescaping) and once more with every escape decoded the way
 * the server's unescaper does. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/utf8.h"
#include "server/server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PART_MAX 4096

static void req_init(td__req *r)
{
    memset(r, 0, sizeof *r);
    r->route_index = -1;
}

static void req_free(td__req *r)
{
    if (r->resp && !r->resp_static)
        td__free(r->resp);
    td__arena_free(&r->arena);
}

static int clean(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = td__utf8_next(u + i, n - i, &cp);
        if (k == 0 || td__unicode_is_control(cp))
            return 0;
        i += k;
    }
    return 1;
}

/* The answer in r must be a 4xx JSON error: {"error": {"code": "...", "message": "..."}}, ASCII
 * only (the raw bytes of the request cannot appear in it). */
static void expect_error(const td__req *r)
{
    if (!r->handled || r->status < 400 || r->status > 499 || !r->resp || r->resp_len == 0)
        abort();
    for (size_t i = 0; i < r->resp_len; i++) {
        unsigned char c = (unsigned char)r->resp[i];
        if (c >= 0x7f || (c < 0x20 && !(c == '\n' && i == r->resp_len - 1)))
            abort();
    }
    json_error_t jerr;
    json_t *j = json_loadb(r->resp, r->resp_len, 0, &jerr);
    json_t *e = json_object_get(j, "error");
    if (!json_is_object(e) || !json_is_string(json_object_get(e, "code")) ||
        !json_is_string(json_object_get(e, "message")))
        abort();
    json_decref(j);
}

/* The same decoding as the server's unescape callback (server.c): every escape but %2F, %25 and
 * %00, which stay encoded for the router and td__query. */
static void unescape(char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *w = s;
    for (const char *p = s; *p; p++) {
        const char *hi = p[0] == '%' && p[1] ? strchr(hex, p[1] | 0x20) : NULL;
        const char *lo = hi && p[2] ? strchr(hex, p[2] | 0x20) : NULL;
        if (hi && lo && *hi && *lo) {
            int c = (int)((hi - hex) * 16 + (lo - hex));
            if (c == '/' || c == '%' || c == 0) {
                memmove(w, p, 3);
                w += 3;
            } else {
                *w++ = (char)c;
            }
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
}

static void route(const char *method, const char *path)
{
    td__req r;
    req_init(&r);
    r.path = path;
    int idx = td__route_match(&r, method, path);
    if (idx == -2)
        td__reply_error(&r, 405, "method_not_allowed", "%s is not allowed on %s", method, path);
    else if (idx == -3)
        td__reply_bad_path(&r);
    else if (idx < 0)
        td__reply_error(&r, 404, "no_route", "no route for %s %s", method, path);
    if (idx < 0) {
        expect_error(&r);
    } else {
        size_t n;
        const td__route *routes = td__routes(&n);
        if ((size_t)idx >= n || strcmp(routes[idx].method, method) != 0)
            abort();
        for (int i = 0; i < r.n_params; i++) {
            size_t len = strlen(r.params[i]);
            if (len == 0 || len > TD__MAX_PARAM_LEN || !clean(r.params[i], len))
                abort();
            /* A handler may quote a parameter in its answer. */
            td__req e;
            req_init(&e);
            td__reply_error(&e, 404, "not_found", "no bank '%s'", r.params[i]);
            expect_error(&e);
            req_free(&e);
        }
    }
    req_free(&r);
}

static void query(char *q)
{
    for (char *save = NULL, *arg = strtok_r(q, "&", &save); arg; arg = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(arg, '='), *value = NULL;
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        for (char *p = arg; *p; p++)
            if (*p == '+')
                *p = ' ';
        unescape(arg);
        if (value) {
            for (char *p = value; *p; p++)
                if (*p == '+')
                    *p = ' ';
            unescape(value);
        }
        td__req r;
        req_init(&r);
        if (!td__check_query_arg(&r, arg, value)) {
            expect_error(&r);
        } else if (value) {
            const char *v = td__query_decode(&r.arena, value);
            if (!v || !clean(v, strlen(v)))
                abort();
            /* What handlers do with a value: put it in JSON. */
            json_t *j = json_pack("{s:s}", "name", v);
            if (!j)
                abort();
            json_decref(j);
        }
        req_free(&r);
    }
}

static void messages(const char *msg, size_t n)
{
    td__req r;
    req_init(&r);
    td__reply_error(&r, 400, "invalid_value", "'%s' is wrong", msg);
    expect_error(&r);
    req_free(&r);

    td_error err;
    size_t k = n < sizeof err.message - 1 ? n : sizeof err.message - 1;
    memcpy(err.message, msg, k);
    err.message[k] = '\0';
    req_init(&r);
    td__reply_status(&r, TD_ERR_INVALID, &err);
    expect_error(&r);
    req_free(&r);

    char out[64];
    size_t len = td__safe_text(out, sizeof out, msg, n);
    if (len >= sizeof out || strlen(out) != len || !clean(out, len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char part[4][PART_MAX + 1];
    size_t len[4] = {0, 0, 0, 0}, at = 0;
    for (int i = 0; i < 4; i++) {
        while (at < size && data[at] != '\n' && (i == 3 || data[at] != '\0')) {
            if (len[i] < PART_MAX)
                part[i][len[i]++] = (char)data[at];
            at++;
        }
        part[i][len[i]] = '\0';
        while (at < size && data[at] != '\n')
            at++;
        if (at < size && i < 3)
            at++;
    }
    route(part[0], part[1]);
    unescape(part[1]);
    route(part[0], part[1]);
    query(part[2]);
    messages(part[3], len[3]);
    return 0;
}
