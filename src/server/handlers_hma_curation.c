/* HMA's curation routes (/c/...), in HMA 1.1.7's parameters, shapes and status codes
 * (docs/hma.md, "Curation"): banks, bank content (casework/bank_content.c), signal types and
 * content types. Where HMA would ignore what it does not know (pydantic drops extra members,
 * Flask unread query parameters and form fields), these refuse it with a 400 naming it. HMA's
 * validation errors (a member of the wrong type, a required one missing) are 422 as
 * flask-openapi3 answers them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "server/fetch.h"
#include "server/handlers_hma.h"
#include "server/multipart.h"
#include "server/serialize.h"
#include "server/server_int.h"
#include "takedown/video.h"

/* ---- what the routes share ---- */

static const char *const no_query[] = {NULL};

static json_t *hma_bank(const td_bank *b)
{
    return json_pack("{s:s,s:f}", "name", b->name, "matching_enabled_ratio", b->enabled_ratio);
}

/* The bank of a /c/bank/<bank_name>/... route, or a 404 as HMA words it. */
static int bank_of(td__req *r, td_bank *b)
{
    td_error err;
    td_status st = td_bank_get(r->svc, r->params[0], b, &err);
    if (st == TD_ERR_NOT_FOUND) {
        char safe[TD_NAME_MAX + 8];
        td__safe_text(safe, sizeof safe, r->params[0], strlen(r->params[0]));
        td__reply_error(r, 404, "not_found", "bank '%s' not found", safe);
        return 0;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return 0;
    }
    return 1;
}

/* pydantic's lax bool: true/false, 0/1, and the strings it takes. */
static int pyd_bool(json_t *v, int *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = (int)json_integer_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
        static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
        const char *s = json_string_value(v);
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            if (strcasecmp(s, yes[i]) == 0)
                return *out = 1, 1;
            if (strcasecmp(s, no[i]) == 0)
                return *out = 0, 1;
        }
    }
    return 0;
}

/* A float as pydantic (lax) and Python's float() take it: a number or a numeric string. */
static int pyd_float(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        while (*end == ' ')
            end++;
        if (end != s && !*end && errno == 0 && isfinite(d)) {
            *out = d;
            return 1;
        }
    }
    return 0;
}

/* HMA's bank name rule, [A-Z_][A-Z0-9_]*, within takedown's length. */
static int bank_name_ok(td__req *r, const char *name)
{
    if (td_bank_name_valid(name))
        return 1;
    if (strlen(name) > TD_NAME_MAX)
        td__reply_error(r, 400, "invalid_name", "Bank names must be at most %d characters",
                        TD_NAME_MAX);
    else
        td__reply_error(r, 400, "invalid_name", "Bank names must be UPPER_WITH_UNDERSCORE");
    return 0;
}

/* name, enabled_ratio, enabled of a bank request; 0 after a reply. */
typedef struct bank_req {
    const char *name;
    int has_ratio, has_enabled, enabled;
    double ratio;
} bank_req;

static int parse_bank_req(td__req *r, json_t *obj, int name_required, bank_req *b)
{
    static const char *const members[] = {"name", "enabled_ratio", "enabled", NULL};
    memset(b, 0, sizeof *b);
    if (!td__only_members(r, obj, members))
        return 0;
    json_t *v = json_object_get(obj, "name");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
            td__reply_error(r, 422, "invalid_type", "'name': Input should be a valid string");
            return 0;
        }
        b->name = json_string_value(v);
    } else if (name_required) {
        td__reply_error(r, 422, "missing_field", "'name': Field required");
        return 0;
    }
    v = json_object_get(obj, "enabled_ratio");
    if (v && !json_is_null(v)) {
        if (!pyd_float(v, &b->ratio)) {
            td__reply_error(r, 422, "invalid_type",
                            "'enabled_ratio': Input should be a valid number");
            return 0;
        }
        if (!(b->ratio >= 0.0 && b->ratio <= 1.0)) {
            td__reply_error(r, 400, "invalid_value", "enabled_ratio must be 0.0..1.0");
            return 0;
        }
        b->has_ratio = 1;
    }
    v = json_object_get(obj, "enabled");
    if (v && !json_is_null(v)) {
        if (!pyd_bool(v, &b->enabled)) {
            td__reply_error(r, 422, "invalid_type", "'enabled': Input should be a valid boolean");
            return 0;
        }
        b->has_enabled = 1;
    }
    return 1;
}

/* ---- banks ---- */

void td__h_hma_banks_list(td__req *r)
{
    if (!td__only_query(r, no_query))
        return;
    td_bank *banks = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_bank_list(r->svc, &banks, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, hma_bank(&banks[i]));
    td_free(banks);
    td__reply_json(r, 200, a);
}

void td__h_hma_banks_create(td__req *r)
{
    if (!td__only_query(r, no_query))
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    bank_req q;
    if (!parse_bank_req(r, obj, 1, &q) || !bank_name_ok(r, q.name)) {
        json_decref(obj);
        return;
    }
    td_bank b, out;
    td_bank_init(&b);
    memcpy(b.name, q.name, strlen(q.name) + 1);
    /* enabled_ratio, else enabled (1.0 or 0.0), else 1.0. */
    b.enabled_ratio = q.has_ratio ? q.ratio : q.has_enabled ? (q.enabled ? 1.0 : 0.0) : 1.0;
    b.enabled = b.enabled_ratio > 0;
    json_decref(obj);
    td_error err;
    td_status st = td_bank_create_as(r->svc, &r->who, &b, &out, &err);
    if (st == TD_ERR_CONFLICT) {
        td__reply_error(r, 403, "exists", "Bank already exists");
        return;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 201, hma_bank(&out));
}

void td__h_hma_bank_get(td__req *r)
{
    td_bank b;
    if (!td__only_query(r, no_query) || !bank_of(r, &b))
        return;
    td__reply_json(r, 200, hma_bank(&b));
}

void td__h_hma_bank_update(td__req *r)
{
    if (!td__only_query(r, no_query))
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    bank_req q;
    td_bank cur;
    if (!parse_bank_req(r, obj, 0, &q) || !bank_of(r, &cur) ||
        (q.name && !bank_name_ok(r, q.name))) {
        json_decref(obj);
        return;
    }
    td_bank b, out;
    unsigned fields = 0;
    td_bank_init(&b);
    if (q.name) {
        memcpy(b.name, q.name, strlen(q.name) + 1);
        fields |= TD_BANK_SET_NAME;
    }
    /* As HMA: enabled sets the ratio to 1 or 0, then enabled_ratio (when given) wins. */
    if (q.has_enabled) {
        b.enabled_ratio = q.enabled ? 1.0 : 0.0;
        fields |= TD_BANK_SET_ENABLED_RATIO;
    }
    if (q.has_ratio) {
        b.enabled_ratio = q.ratio;
        fields |= TD_BANK_SET_ENABLED_RATIO;
    }
    json_decref(obj);
    td_error err;
    td_status st = td_bank_update_as(r->svc, &r->who, r->params[0], fields, &b, &out, &err);
    if (st == TD_ERR_CONFLICT) {
        td__reply_error(r, 403, "exists", "Bank name already exists");
        return;
    }
    if (st == TD_ERR_NOT_FOUND) {
        td__reply_error(r, 404, "not_found", "Bank not found");
        return;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, hma_bank(&out));
}

/* HMA answers {"message": "Done"} whether or not the bank existed. */
void td__h_hma_bank_delete(td__req *r)
{
    if (!td__only_query(r, no_query))
        return;
    td_error err;
    td_status st = td_bank_delete_as(r->svc, &r->who, r->params[0], &err);
    if (st != TD_OK && st != TD_ERR_NOT_FOUND) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, json_pack("{s:s}", "message", "Done"));
}

/* ---- bank content ---- */

/* A signal's string as HMA shows it: the hash, or a body signal's body (a URL, a text, a vPDQ
 * hash file) rather than the digest takedown keys it by. NULL after a reply. */
static json_t *signal_string(td__req *r, const td_signal *s)
{
    if (!td_signal_type_has_body(s->type))
        return json_string(s->value);
    char *body = NULL;
    size_t len = 0;
    td_error err;
    td_status st = td_signal_get_body(r->svc, s->bank, s->id, &body, &len, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return NULL;
    }
    json_t *v = json_stringn(body, len);
    td_free(body);
    return v ? v : json_string(s->display);
}

/* {"pdq": "<hex>", ...} of signals; NULL after a reply. */
static json_t *signals_object(td__req *r, const td_signal *s, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        json_t *v = signal_string(r, &s[i]);
        if (!v) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, td_signal_type_te_name(s[i].type), v);
    }
    return o;
}

/* HMA's BankedContentMetadata as it answers it: every field, null when absent. */
static json_t *metadata_object(const char *stored)
{
    json_t *m = stored ? json_loads(stored, 0, NULL) : NULL;
    if (!json_is_object(m)) {
        json_decref(m);
        return NULL;
    }
    json_t *o = json_object();
    static const char *const keys[] = {"content_id", "content_uri", "json"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(m, keys[i]);
        json_object_set(o, keys[i], v ? v : json_null());
    }
    json_object_set_new(o, "collab", json_null());
    json_decref(m);
    return o;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* Reads metadata (a JSON value) as HMA validates it: an object of content_id and content_uri
 * (strings), json (an object) and collab (dropped, as HMA drops it). *out: the text to store, or
 * NULL when nothing is left. 0 after a reply. */
static int parse_metadata(td__req *r, json_t *m, char **out)
{
    *out = NULL;
    if (!m || json_is_null(m))
        return 1;
    if (!json_is_object(m)) {
        td__reply_error(r, 400, "invalid_metadata", "metadata should be a json object");
        return 0;
    }
    static const char *const members[] = {"content_id", "content_uri", "json", "collab", NULL};
    const char *key;
    json_t *v;
    json_t *keep = json_object();
    json_object_foreach(m, key, v)
    {
        int known = 0;
        for (size_t i = 0; members[i] && !known; i++)
            known = strcmp(key, members[i]) == 0;
        char safe[128];
        td__safe_text(safe, sizeof safe, key, strlen(key));
        if (!known) {
            td__reply_error(r, 400, "invalid_metadata",
                            "Invalid metadata: '%s': Extra inputs are not permitted", safe);
            json_decref(keep);
            return 0;
        }
        if (strcmp(key, "collab") == 0 || json_is_null(v))
            continue;
        int ok = strcmp(key, "json") == 0 ? json_is_object(v) : json_is_string(v);
        if (!ok) {
            td__reply_error(r, 400, "invalid_metadata",
                            "Invalid metadata: '%s': Input should be %s", safe,
                            strcmp(key, "json") == 0 ? "a valid dictionary" : "a valid string");
            json_decref(keep);
            return 0;
        }
        json_object_set(keep, key, v);
    }
    if (json_object_size(keep))
        *out = json_dumps(keep, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(keep);
    if (*out && strlen(*out) > TD_CONTENT_METADATA_MAX) {
        td__reply_error(r, 413, "too_large", "metadata over %d bytes", TD_CONTENT_METADATA_MAX);
        free(*out);
        *out = NULL;
        return 0;
    }
    return 1;
}

/* HMA's note: empty or null is none; otherwise a string of at most 255 characters. */
static int parse_note(td__req *r, json_t *v, const char **out)
{
    *out = NULL;
    if (!v || json_is_null(v) || json_is_false(v) ||
        (json_is_string(v) && json_string_length(v) == 0) ||
        (json_is_integer(v) && json_integer_value(v) == 0))
        return 1;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        td__reply_error(r, 400, "invalid_note", "note should be a string");
        return 0;
    }
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)json_string_value(v); *p; p++)
        chars += (*p & 0xC0) != 0x80;
    if (chars > TD_CONTENT_NOTE_MAX) {
        td__reply_error(r, 400, "invalid_note", "note must be at most %d characters",
                        TD_CONTENT_NOTE_MAX);
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

/* An added content's answer: {"id": N, "signals": {...}}. */
static void reply_added(td__req *r, int64_t id, const td_signal *s, size_t n)
{
    json_t *sigs = signals_object(r, s, n);
    if (sigs)
        td__reply_json(r, 200, json_pack("{s:I,s:o}", "id", (json_int_t)id, "signals", sigs));
}

static void reply_content_error(td__req *r, td_status st, const td_error *err)
{
    if (st == TD_ERR_INVALID || st == TD_ERR_UNSUPPORTED)
        td__reply_error(r, 400, "invalid", "%s", err->message);
    else if (st == TD_ERR_LIMIT)
        td__reply_error(r, 413, "too_large", "%s", err->message);
    else
        td__reply_status(r, st, err);
}

/* POST /c/bank/<bank>/signal: {"pdq": "<hex>", ..., "note": "..."}, one content. */
void td__h_hma_signal_add(td__req *r)
{
    td_bank bank;
    if (!td__only_query(r, no_query) || !bank_of(r, &bank))
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    td_signal_input ins[TD_SIGNAL_TYPE_MAX];
    size_t n = 0;
    const char *note = NULL, *key;
    json_t *v;
    if (!parse_note(r, json_object_get(obj, "note"), &note))
        goto done;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "note") == 0)
            continue;
        char safe[128];
        td__safe_text(safe, sizeof safe, key, strlen(key));
        td_signal_type t;
        if (td_signal_type_parse(key, strlen(key), &t) != TD_OK) {
            td__reply_error(r, 400, "invalid_signal", "No such signal type %s", safe);
            goto done;
        }
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
            td__reply_error(r, 400, "invalid_signal", "Invalid %s signal: not a string", safe);
            goto done;
        }
        if (n >= TD_SIGNAL_TYPE_MAX) {
            td__reply_error(r, 400, "invalid_signal", "at most %d signals", TD_SIGNAL_TYPE_MAX);
            goto done;
        }
        td_signal_input_init(&ins[n]);
        ins[n].type = t;
        ins[n].value = json_string_value(v);
        ins[n].body_len = json_string_length(v);
        ins[n].source = "hma";
        n++;
    }
    if (n == 0) {
        td__reply_error(r, 400, "missing_field", "No signals given");
        goto done;
    }
    td_bank_content_input in = {NULL, NULL, note, 0};
    td_signal out[TD_SIGNAL_TYPE_MAX];
    int64_t id = 0;
    td_error err;
    td_status st = td_bank_content_add_as(r->svc, &r->who, bank.name, ins, n, &in, &id, out, &err);
    if (st != TD_OK)
        reply_content_error(r, st, &err);
    else
        reply_added(r, id, out, n);
done:
    json_decref(obj);
}

/* ---- multipart/form-data (RFC 7578), as HMA's upload takes it (server/multipart.h) ---- */

/* Parses the body into parts; replies 400 and returns 0 when it is not well-formed. */
static int parse_form(td__req *r, td__mpart *parts, size_t *n)
{
    char boundary[71], why[TD__MPART_WHY_MAX];
    *n = 0;
    if (!td__multipart_boundary(r->content_type, boundary)) {
        td__reply_error(r, 400, "invalid_form", "multipart/form-data without a boundary");
        return 0;
    }
    if (td__multipart_parse(boundary, r->body, r->body_len, parts, n, why) != 0) {
        td__reply_error(r, 400, "invalid_form", "malformed multipart/form-data body: %s", why);
        return 0;
    }
    return 1;
}

static int is_multipart(const td__req *r)
{
    return r->content_type && strncasecmp(r->content_type, "multipart/form-data", 19) == 0;
}

/* HMA's choice of signal types for media: types= (comma-separated names, each one takedown
 * computes for this media and enabled), else every enabled one. *skip: the types not to store
 * (bits 1u << type). 0 after a reply. */
static int hashed_types(td__req *r, int video, unsigned *skip)
{
    const td_signal_type computed[3] = {video ? TD_SIGNAL_VPDQ : TD_SIGNAL_PDQ, TD_SIGNAL_MD5,
                                        TD_SIGNAL_SHA256};
    unsigned all = 0, enabled = 0, chosen = 0;
    for (int i = 0; i < 3; i++) {
        double ratio = 1.0;
        td_error err;
        all |= 1u << computed[i];
        if (td_signal_type_ratio_get(r->svc, computed[i], &ratio, &err) == TD_OK && ratio > 0)
            enabled |= 1u << computed[i];
    }
    const char *types = td__query(r, "types");
    if (!types) {
        if (!enabled) {
            td__reply_error(r, 400, "no_signal_type",
                            "every signal type of this content type is disabled");
            return 0;
        }
        *skip = all & ~enabled;
        return 1;
    }
    for (const char *p = types; *p;) {
        size_t k = strcspn(p, ",");
        const char *a = p, *b = p + k;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        p += k + (p[k] == ',');
        if (a == b)
            continue;
        td_signal_type t;
        if (td_signal_type_parse(a, (size_t)(b - a), &t) != TD_OK || !(enabled & (1u << t))) {
            char safe[80];
            td__safe_text(safe, sizeof safe, a, (size_t)(b - a));
            td__reply_error(r, 400, "invalid_signal_type",
                            "signal type '%s' doesn't exist or is disabled", safe);
            return 0;
        }
        chosen |= 1u << t;
    }
    if (!chosen) {
        td__reply_error(r, 400, "invalid_signal_type", "empty signal type selection");
        return 0;
    }
    *skip = all & ~chosen;
    return 1;
}

/* POST /c/bank/<bank>/content?url=&content_type=: the media by URL (the server's fetch
 * policy) or uploaded (multipart, one file field named photo or video), with metadata and note
 * as JSON members or form fields. Hashed with every signal type takedown computes for it. */
void td__h_hma_content_add(td__req *r)
{
    static const char *const query[] = {"url", "content_type", "types", NULL};
    td_bank bank;
    if (!td__only_query(r, query) || !bank_of(r, &bank))
        return;
    const char *url = td__query(r, "url"), *ctype = td__query(r, "content_type");
    if (url && !*url)
        url = NULL;
    if (ctype && strcmp(ctype, "photo") != 0 && strcmp(ctype, "video") != 0) {
        char safe[64];
        td__safe_text(safe, sizeof safe, ctype, strlen(ctype));
        td__reply_error(r, 400, "invalid_content_type",
                        "content_type '%s' is not one this route hashes (photo, video)", safe);
        return;
    }
    json_t *meta_j = NULL, *note_j = NULL, *obj = NULL;
    const uint8_t *media = NULL;
    size_t media_len = 0;
    char *metadata = NULL;
    uint8_t *fetched = NULL;
    if (r->body_len && is_multipart(r)) {
        td__mpart parts[TD__MPART_MAX];
        size_t n;
        if (!parse_form(r, parts, &n))
            return;
        for (size_t i = 0; i < n; i++) {
            const td__mpart *f = &parts[i];
            if (strcmp(f->name, "photo") == 0 || strcmp(f->name, "video") == 0) {
                if (media) {
                    td__reply_error(r, 400, "invalid_form", "Only one file allowed per request");
                    goto out;
                }
                media = f->data;
                media_len = f->len;
                if (!ctype)
                    ctype = strcmp(f->name, "photo") == 0 ? "photo" : "video";
                else if (strcmp(ctype, f->name) != 0) {
                    td__reply_error(r, 400, "invalid_form",
                                    "the file field '%s' is not the content_type '%s'", f->name,
                                    ctype);
                    goto out;
                }
            } else if (strcmp(f->name, "metadata") == 0 && !f->is_file) {
                json_decref(meta_j);
                meta_j = json_loadb((const char *)f->data, f->len, JSON_REJECT_DUPLICATES, NULL);
                if (!meta_j) {
                    td__reply_error(r, 400, "invalid_metadata",
                                    "metadata form field must be valid JSON");
                    goto out;
                }
            } else if (strcmp(f->name, "note") == 0 && !f->is_file) {
                json_decref(note_j);
                note_j = json_stringn((const char *)f->data, f->len);
                if (!note_j) {
                    td__reply_error(r, 400, "invalid_note", "note should be a string");
                    goto out;
                }
            } else {
                char safe[80];
                td__safe_text(safe, sizeof safe, f->name, strlen(f->name));
                td__reply_error(r, 400, "unknown_field",
                                "'%s': this form field is not part of the request", safe);
                goto out;
            }
        }
    } else if (r->body_len) {
        static const char *const members[] = {"metadata", "note", NULL};
        if (!(obj = td__body_object(r)) || !td__only_members(r, obj, members))
            goto out;
        meta_j = json_incref(json_object_get(obj, "metadata"));
        note_j = json_incref(json_object_get(obj, "note"));
    }
    const char *note = NULL;
    if (!parse_metadata(r, meta_j, &metadata) || !parse_note(r, note_j, &note))
        goto out;
    if (url && media) {
        td__reply_error(r, 400, "invalid_request", "give either `url` or a file upload, not both");
        goto out;
    }
    if (url) {
        const td_server_options *o = &r->srv->opts;
        td__fetch_policy policy = {o->fetch_enabled,       o->fetch_allow,
                                   o->fetch_allow_private, o->fetch_connect_timeout_ms,
                                   o->fetch_timeout_ms,    o->max_media_bytes};
        long upstream = 0;
        td_error err;
        switch (td__fetch(&policy, url, &fetched, &media_len, &upstream, &err)) {
        case TD__FETCH_OK: break;
        case TD__FETCH_BAD_URL:
            td__reply_error(r, 400, "invalid_url", "Invalid or unsafe URL provided");
            goto out;
        case TD__FETCH_DISABLED:
        case TD__FETCH_NOT_ALLOWED:
        case TD__FETCH_PRIVATE:
            td__reply_error(r, 403, "fetch_refused", "%s", err.message);
            goto out;
        case TD__FETCH_TIMEOUT:
            td__reply_error(r, 504, "upstream_timeout", "%s", err.message);
            goto out;
        case TD__FETCH_TOO_LARGE: td__reply_error(r, 413, "too_large", "%s", err.message); goto out;
        case TD__FETCH_UPSTREAM:
            td__reply_error(r, 502, "upstream_error", "%s", err.message);
            goto out;
        default: td__reply_status(r, TD_ERR_NOMEM, &err); goto out;
        }
        media = fetched;
    }
    if (!media) {
        td__reply_error(r, 400, "missing_media",
                        "Neither `url` nor multipart file upload was received");
        goto out;
    }
    int video = td_video_sniff(media, media_len);
    if (ctype && (strcmp(ctype, "video") == 0) != (video != 0)) {
        td__reply_error(r, 400, "invalid_content_type", "the media is %s, not a %s",
                        video ? "a video" : "not a video", ctype);
        goto out;
    }
    unsigned skip = 0;
    if (!hashed_types(r, video, &skip))
        goto out;
    td_bank_content_input in = {NULL, metadata, note, skip};
    td_signal out_s[3];
    size_t count = 0;
    int64_t id = 0;
    td_error err;
    td_status st = td_bank_content_add_media_as(r->svc, &r->who, bank.name, media, media_len, &in,
                                                &id, out_s, &count, &err);
    if (st == TD_ERR_INVALID || st == TD_ERR_UNSUPPORTED)
        td__reply_error(r, 400, "undecodable", "%s", err.message);
    else if (st != TD_OK)
        reply_content_error(r, st, &err);
    else
        reply_added(r, id, out_s, count);
out:
    td__free(fetched);
    free(metadata);
    json_decref(meta_j);
    json_decref(note_j);
    json_decref(obj);
}

/* HMA's query booleans here: only "true" (any case) is true. */
static int query_true(td__req *r, const char *name, int def)
{
    const char *v = td__query(r, name);
    return v ? strcasecmp(v, "true") == 0 : def;
}

/* The <content_id> of a route: a decimal integer, or 404 as Flask's int converter answers a
 * path it does not match; -1 after a reply. */
static int64_t content_id_param(td__req *r)
{
    const char *s = r->n_params > 1 ? r->params[1] : "";
    int64_t v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n) {
        td__reply_error(r, 404, "not_found", "The requested URL was not found on the server.");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* The content of a /c/bank/<bank>/content/<id> route; 0 after a reply (404 as HMA words it). */
static int content_of(td__req *r, td_bank *bank, td_bank_content *c)
{
    int64_t id = content_id_param(r);
    if (id < 0 || !bank_of(r, bank))
        return 0;
    td_error err;
    td_status st = td_bank_content_get(r->svc, bank->name, id, c, &err);
    if (st == TD_ERR_NOT_FOUND) {
        td__reply_error(r, 404, "not_found", "content '%lld' not found", (long long)id);
        return 0;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return 0;
    }
    return 1;
}

void td__h_hma_content_get(td__req *r)
{
    static const char *const query[] = {"include_signals", "include_metadata", NULL};
    td_bank bank;
    td_bank_content c;
    if (!td__only_query(r, query) || !content_of(r, &bank, &c))
        return;
    json_t *o = json_pack("{s:I,s:I,s:o,s:o}", "id", (json_int_t)c.id, "disable_until_ts",
                          (json_int_t)c.disable_until_ts, "original_media_uri",
                          str_or_null(c.original_media_uri), "bank", hma_bank(&bank));
    if (query_true(r, "include_signals", 0) && c.n_signals) {
        json_t *sigs = signals_object(r, c.signals, c.n_signals);
        if (!sigs) {
            json_decref(o);
            td_bank_content_clear(&c);
            return;
        }
        json_object_set_new(o, "signals", sigs);
    }
    json_t *meta = query_true(r, "include_metadata", 1) ? metadata_object(c.metadata) : NULL;
    if (meta)
        json_object_set_new(o, "metadata", meta);
    if (c.note)
        json_object_set_new(o, "note", json_string(c.note));
    td_bank_content_clear(&c);
    td__reply_json(r, 200, o);
}

/* Python's int() of what HMA's PUT reads: an integer, or a string of one. */
static int py_int(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (*s == ' ')
            s++;
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        while (*end == ' ')
            end++;
        if (end != s && !*end && errno == 0) {
            *out = x;
            return 1;
        }
    }
    return 0;
}

/* PUT /c/bank/<bank>/content/<id>: {"disable_until_ts": ts, "note": "..."}; answers the content
 * as HMA's jsonify of its BankContentConfig. */
void td__h_hma_content_update(td__req *r)
{
    td_bank bank;
    td_bank_content c;
    if (!td__only_query(r, no_query) || !content_of(r, &bank, &c))
        return;
    int64_t id = c.id;
    td_bank_content_clear(&c);
    static const char *const members[] = {"disable_until_ts", "note", NULL};
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    if (!td__only_members(r, obj, members)) {
        json_decref(obj);
        return;
    }
    unsigned fields = 0;
    int64_t until = 0;
    const char *note = NULL;
    json_t *v = json_object_get(obj, "disable_until_ts");
    if (v) {
        if (!py_int(v, &until)) {
            char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            char safe[64];
            td__safe_text(safe, sizeof safe, text ? text : "", text ? strlen(text) : 0);
            free(text);
            td__reply_error(r, 400, "invalid_value", "Invalid int: '%s'", safe);
            json_decref(obj);
            return;
        }
        fields |= TD_CONTENT_SET_DISABLE_UNTIL;
    }
    if (json_object_get(obj, "note")) {
        if (!parse_note(r, json_object_get(obj, "note"), &note)) {
            json_decref(obj);
            return;
        }
        fields |= TD_CONTENT_SET_NOTE;
    }
    td_error err;
    td_status st =
        td_bank_content_update_as(r->svc, &r->who, bank.name, id, fields, until, note, &c, &err);
    json_decref(obj);
    if (st != TD_OK) {
        reply_content_error(r, st, &err);
        return;
    }
    json_t *meta = c.metadata ? json_loads(c.metadata, 0, NULL) : NULL;
    json_t *o =
        json_pack("{s:I,s:I,s:{},s:o,s:o,s:o,s:o}", "id", (json_int_t)c.id, "disable_until_ts",
                  (json_int_t)c.disable_until_ts, "collab_metadata", "original_media_uri",
                  str_or_null(c.original_media_uri), "bank", hma_bank(&bank), "user_metadata",
                  meta ? meta : json_null(), "note", str_or_null(c.note));
    td_bank_content_clear(&c);
    td__reply_json(r, 200, o);
}

/* {"deleted": 1}, or {"deleted": 0} for a content the bank does not hold (as HMA). */
void td__h_hma_content_delete(td__req *r)
{
    td_bank bank;
    if (!td__only_query(r, no_query))
        return;
    int64_t id = content_id_param(r);
    if (id < 0 || !bank_of(r, &bank))
        return;
    int deleted = 0;
    td_error err;
    td_status st = td_bank_content_delete_as(r->svc, &r->who, bank.name, id, &deleted, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, json_pack("{s:i}", "deleted", deleted));
}

/* ---- signal types and content types ---- */

void td__h_hma_signal_types(td__req *r)
{
    if (!td__only_query(r, no_query))
        return;
    json_t *a = json_array();
    for (int t = TD_SIGNAL_PDQ; a && t <= TD_SIGNAL_TYPE_MAX; t++) {
        double ratio = 1.0;
        td_error err;
        if (td_signal_type_ratio_get(r->svc, (td_signal_type)t, &ratio, &err) != TD_OK)
            continue;
        json_array_append_new(a, json_pack("{s:s,s:f}", "name",
                                           td_signal_type_te_name((td_signal_type)t),
                                           "enabled_ratio", ratio));
    }
    td__reply_json(r, 200, a);
}

/* A signal type by the name /c/signal_type shows (or another name takedown takes). */
static int signal_type_named(const char *name, td_signal_type *t)
{
    return td_signal_type_parse(name, strlen(name), t) == TD_OK;
}

void td__h_hma_signal_type_update(td__req *r)
{
    if (!td__only_query(r, no_query))
        return;
    td_signal_type t;
    if (!signal_type_named(r->params[0], &t)) {
        char safe[80];
        td__safe_text(safe, sizeof safe, r->params[0], strlen(r->params[0]));
        td__reply_error(r, 404, "not_found", "No such signal type '%s'", safe);
        return;
    }
    static const char *const members[] = {"enabled_ratio", NULL};
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    if (!td__only_members(r, obj, members)) {
        json_decref(obj);
        return;
    }
    json_t *v = json_object_get(obj, "enabled_ratio");
    double ratio = 0;
    if (!v || json_is_null(v)) {
        json_decref(obj);
        td__reply_error(r, 400, "missing_field", "enabled_ratio is required");
        return;
    }
    if (!pyd_float(v, &ratio)) {
        json_decref(obj);
        td__reply_error(r, 400, "invalid_value", "Invalid float: 'enabled_ratio'");
        return;
    }
    json_decref(obj);
    td_error err;
    td_status st = td_signal_type_ratio_set_as(r->svc, &r->who, t, ratio, &err);
    if (st != TD_OK) {
        reply_content_error(r, st, &err);
        return;
    }
    td__reply_text(r, 204, "application/json", "", 0);
}

void td__h_hma_signal_type_index(td__req *r)
{
    static const char *const query[] = {"signal_type", NULL};
    if (!td__only_query(r, query))
        return;
    const char *only = td__query(r, "signal_type");
    td_signal_type want = 0;
    if (only && !signal_type_named(only, &want)) {
        char safe[80];
        td__safe_text(safe, sizeof safe, only, strlen(only));
        td__reply_error(r, 400, "invalid_signal_type", "No such signal type '%s'", safe);
        return;
    }
    json_t *o = json_object();
    for (int t = TD_SIGNAL_PDQ; o && t <= TD_SIGNAL_TYPE_MAX; t++) {
        if (only && (td_signal_type)t != want)
            continue;
        td_signal_type_stats s;
        td_error err;
        td_status st = td_signal_type_stats_get(r->svc, (td_signal_type)t, &s, &err);
        if (st != TD_OK) {
            json_decref(o);
            td__reply_status(r, st, &err);
            return;
        }
        /* The indexes follow the store's change log as it commits: never out of date. */
        json_object_set_new(o, td_signal_type_te_name((td_signal_type)t),
                            json_pack("{s:I,s:I,s:b,s:I,s:I}", "db_size", (json_int_t)s.stored,
                                      "index_size", (json_int_t)s.indexed, "index_out_of_date", 0,
                                      "newest_db_item", (json_int_t)(s.newest_ms / 1000),
                                      "index_built_to", (json_int_t)(s.newest_ms / 1000)));
    }
    td__reply_json(r, 200, o);
}

/* The content types takedown matches: photos and videos (hashed), text and URLs (their
 * signals), all enabled; there is nothing to configure (HMA's PUT is unimplemented too). */
void td__h_hma_content_types(td__req *r)
{
    if (!td__only_query(r, no_query))
        return;
    td__reply_json(r, 200,
                   json_pack("[{s:s,s:b},{s:s,s:b},{s:s,s:b},{s:s,s:b}]", "name", "photo",
                             "enabled", 1, "name", "video", "enabled", 1, "name", "text", "enabled",
                             1, "name", "url", "enabled", 1));
}
