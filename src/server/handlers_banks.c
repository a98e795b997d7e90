/* Banks and their signals: CRUD, media uploads hashed by the server, streaming list import and
 * list export. Each handler validates the request's shape (types, ranges) and leaves the
 * meaning (name syntax, hash syntax, existence) to the library, whose status becomes the HTTP
 * status through td__reply_status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "server/serialize.h"
#include "server/server_int.h"

#define EXPORT_MAX ((size_t)2 << 30)
#define THRESHOLD_MAX 63

void td__h_banks_list(td__req *r)
{
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
        json_array_append_new(a, td__json_bank(&banks[i]));
    td_free(banks);
    td__reply_json(r, 200, json_pack("{s:o}", "banks", a));
}

/* Reads the settable fields of a bank from obj into b; fields receives TD_BANK_SET_* bits. */
static int parse_bank(td__req *r, json_t *obj, td_bank *b, unsigned *fields)
{
    const char *name = NULL, *action = NULL, *kind = NULL;
    int64_t threshold = -1;
    int enabled = -1, labels_present = 0;
    *fields = 0;
    if (!td__get_string(r, obj, "name", &name) || !td__get_string(r, obj, "action", &action) ||
        !td__get_string(r, obj, "kind", &kind) ||
        !td__get_int(r, obj, "threshold", 0, THRESHOLD_MAX, &threshold) ||
        !td__get_bool(r, obj, "enabled", &enabled) ||
        !td__parse_labels(r, obj, "labels", &b->labels, &labels_present))
        return 0;
    if (name) {
        if (strlen(name) > TD_NAME_MAX || !td_bank_name_valid(name)) {
            td__reply_error(r, 400, "invalid_name",
                            "bank names are 1..%d characters of [A-Z_][A-Z0-9_]*", TD_NAME_MAX);
            return 0;
        }
        memcpy(b->name, name, strlen(name) + 1);
        *fields |= TD_BANK_SET_NAME;
    }
    if (action) {
        if (td_action_parse(action, &b->action) != TD_OK) {
            td__reply_error(r, 400, "invalid_value", "'action' must be block, review or log");
            return 0;
        }
        *fields |= TD_BANK_SET_ACTION;
    }
    if (kind) {
        if (td_bank_kind_parse(kind, &b->kind) != TD_OK) {
            td__reply_error(r, 400, "invalid_value", "'kind' must be normal or allow");
            return 0;
        }
        *fields |= TD_BANK_SET_KIND;
    }
    if (threshold >= 0) {
        b->threshold = (int)threshold;
        *fields |= TD_BANK_SET_THRESHOLD;
    }
    if (enabled >= 0) {
        b->enabled = enabled;
        *fields |= TD_BANK_SET_ENABLED;
    }
    if (labels_present)
        *fields |= TD_BANK_SET_LABELS;
    return 1;
}

static const char *const bank_members[] = {"name",    "action", "kind", "threshold",
                                           "enabled", "labels", NULL};

void td__h_banks_create(td__req *r)
{
    json_t *obj = td__body_fields(r, bank_members);
    if (!obj)
        return;
    td_bank b, out;
    unsigned fields;
    td_bank_init(&b);
    int ok = parse_bank(r, obj, &b, &fields);
    json_decref(obj);
    if (!ok)
        return;
    if (!(fields & TD_BANK_SET_NAME)) {
        td__reply_error(r, 400, "missing_field", "'name' is required");
        return;
    }
    td_error err;
    td_status st = td_bank_create_as(r->svc, &r->who, &b, &out, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 201, td__json_bank(&out));
}

void td__h_bank_get(td__req *r)
{
    td_bank b;
    td_error err;
    td_status st = td_bank_get(r->svc, r->params[0], &b, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, td__json_bank(&b));
}

void td__h_bank_update(td__req *r)
{
    json_t *obj = td__body_fields(r, bank_members);
    if (!obj)
        return;
    td_bank b, out;
    unsigned fields;
    td_bank_init(&b);
    int ok = parse_bank(r, obj, &b, &fields);
    json_decref(obj);
    if (!ok)
        return;
    td_error err;
    td_status st = td_bank_update_as(r->svc, &r->who, r->params[0], fields, &b, &out, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, td__json_bank(&out));
}

void td__h_bank_delete(td__req *r)
{
    td_error err;
    td_status st = td_bank_delete_as(r->svc, &r->who, r->params[0], &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_text(r, 204, "application/json", "", 0);
}

void td__h_signals_list(td__req *r)
{
    int64_t after, limit;
    if (!td__query_int(r, "after", 0, INT64_MAX, 0, &after) ||
        !td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit))
        return;
    td_signal *sigs = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_signal_list(r->svc, r->params[0], after, (size_t)limit, &sigs, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, td__json_signal(&sigs[i]));
    json_t *next = n == (size_t)limit ? json_integer(sigs[n - 1].id) : json_null();
    td_free(sigs);
    td__reply_json(r, 200, json_pack("{s:o,s:o}", "signals", a, "next_after", next));
}

/* Labels given as a query argument ("a,b c") for media uploads. */
static int query_labels(td__req *r, td_labels *labels)
{
    const char *q = td__query(r, "labels");
    td_error err;
    if (q && td_labels_parse(labels, q, strlen(q), &err) != TD_OK) {
        td__reply_error(r, 400, "invalid_label", "%s", err.message);
        return 0;
    }
    return 1;
}

static void add_media_signal(td__req *r)
{
    td_signal_input in;
    td_signal_input_init(&in);
    int64_t confidence;
    if (!query_labels(r, &in.labels) || !td__query_int(r, "confidence", 0, 100, -1, &confidence))
        return;
    in.confidence = (int)confidence;
    in.source = td__query(r, "source");
    if (in.source && strlen(in.source) > TD_SOURCE_MAX) {
        td__reply_error(r, 400, "invalid_value", "'source' is longer than %d bytes", TD_SOURCE_MAX);
        return;
    }
    if (!in.source)
        in.source = "upload";
    if (r->body_len == 0) {
        td__reply_error(r, 400, "empty_body", "the body must be media bytes or a JSON object");
        return;
    }
    td_signal out[3];
    size_t n = 0;
    td_error err;
    td_status st = td_signal_add_media_as(r->svc, &r->who, r->params[0], r->body, r->body_len, &in,
                                          out, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, td__json_signal(&out[i]));
    td__reply_json(r, 201, json_pack("{s:o}", "signals", a));
}

/* "value": a string (a hash, or a body: text, URL, vPDQ hash file), or for vpdq an array of
 * frame objects {"frame", "quality", "pdq", "timestamp"}, turned into a hash file in *frames. */
static int signal_value(td__req *r, json_t *obj, const char **value, size_t *len, char **frames)
{
    json_t *v = json_object_get(obj, "value");
    td_error err;
    *value = NULL;
    *len = 0;
    *frames = NULL;
    if (!v || json_is_null(v))
        return 1;
    if (json_is_string(v)) {
        *value = json_string_value(v);
        *len = json_string_length(v);
        return 1;
    }
    if (!json_is_array(v)) {
        td__reply_error(r, 400, "invalid_type",
                        "'value' must be a string (or, for vpdq, an array of frames)");
        return 0;
    }
    td_vpdq vp = {0};
    if (!td__parse_vpdq(r, v, "value", &vp)) {
        td_vpdq_clear(&vp);
        return 0;
    }
    td_status st = td_vpdq_to_text(&vp, frames, len, &err);
    td_vpdq_clear(&vp);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return 0;
    }
    *value = *frames;
    return 1;
}

void td__h_signals_add(td__req *r)
{
    if (!td__body_is_json(r)) {
        add_media_signal(r);
        return;
    }
    static const char *const members[] = {"type",    "value",  "source", "confidence",
                                          "quality", "labels", NULL};
    static const char *const media_only[] = {"labels", "confidence", "source", NULL};
    if (!td__refuse_query(r, media_only, "with a JSON body: give it in the body"))
        return;
    json_t *obj = td__body_fields(r, members);
    if (!obj)
        return;
    td_signal_input in;
    td_signal_input_init(&in);
    const char *type = NULL, *value = NULL, *source = NULL;
    char *frames = NULL; /* a vPDQ value given as frame objects, as a hash file */
    size_t value_len = 0;
    int64_t confidence = -1, quality = -1;
    if (!td__get_string(r, obj, "type", &type) ||
        !signal_value(r, obj, &value, &value_len, &frames) ||
        !td__get_string(r, obj, "source", &source) ||
        !td__get_int(r, obj, "confidence", 0, 100, &confidence) ||
        !td__get_int(r, obj, "quality", 0, 100, &quality) ||
        !td__parse_labels(r, obj, "labels", &in.labels, NULL)) {
        json_decref(obj);
        return;
    }
    if (!type || !value) {
        json_decref(obj);
        td__reply_error(r, 400, "missing_field", "'type' and 'value' are required");
        return;
    }
    if (td_signal_type_parse(type, strlen(type), &in.type) != TD_OK) {
        td__reply_error(r, 400, "invalid_type",
                        "unknown signal type '%.64s' (pdq, md5, sha256, vpdq, raw_text, url, "
                        "url_md5, url_domain, url_prefix)",
                        type);
        td_free(frames);
        json_decref(obj);
        return;
    }
    if (frames && in.type != TD_SIGNAL_VPDQ) {
        td__reply_error(r, 400, "invalid_type", "only a vpdq value may be an array of frames");
        td_free(frames);
        json_decref(obj);
        return;
    }
    if (source && strlen(source) > TD_SOURCE_MAX) {
        json_decref(obj);
        td__reply_error(r, 400, "invalid_value", "'source' is longer than %d bytes", TD_SOURCE_MAX);
        return;
    }
    in.value = value;
    in.body_len = value_len;
    in.source = source;
    in.confidence = (int)confidence;
    in.quality = (int)quality;
    td_signal out;
    td_error err;
    td_status st = td_signal_add_as(r->svc, &r->who, r->params[0], &in, &out, &err);
    td_free(frames);
    json_decref(obj);
    if (st == TD_ERR_CONFLICT) {
        td__reply_json(r, 409,
                       json_pack("{s:{s:s,s:s,s:I}}", "error", "code", "conflict", "message",
                                 err.message, "existing_id", (json_int_t)out.id));
        return;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 201, td__json_signal(&out));
}

void td__h_signal_update(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    if (id < 0)
        return;
    static const char *const members[] = {"enabled", "labels", NULL};
    json_t *obj = td__body_fields(r, members);
    if (!obj)
        return;
    int enabled = -1, labels_present = 0;
    td_labels labels;
    memset(&labels, 0, sizeof labels);
    if (!td__get_bool(r, obj, "enabled", &enabled) ||
        !td__parse_labels(r, obj, "labels", &labels, &labels_present)) {
        json_decref(obj);
        return;
    }
    json_decref(obj);
    td_signal out;
    td_error err;
    td_status st = TD_OK;
    if (enabled >= 0)
        st = td_signal_set_enabled_as(r->svc, &r->who, r->params[0], id, enabled, &out, &err);
    if (st == TD_OK && labels_present)
        st = td_signal_set_labels_as(r->svc, &r->who, r->params[0], id, &labels, &out, &err);
    if (st == TD_OK && enabled < 0 && !labels_present)
        st = td_signal_get(r->svc, r->params[0], id, &out, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, td__json_signal(&out));
}

void td__h_signal_body(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    if (id < 0)
        return;
    char *body;
    size_t len;
    td_error err;
    td_status st = td_signal_get_body(r->svc, r->params[0], id, &body, &len, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_take(r, 200, "text/plain; charset=utf-8", body, len);
}

void td__h_signal_delete(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    if (id < 0)
        return;
    td_error err;
    td_status st = td_signal_delete_as(r->svc, &r->who, r->params[0], id, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_text(r, 204, "application/json", "", 0);
}

/* ---- import and export ---- */

td_status td__import_start(td__req *r)
{
    td_import_options opts;
    td_import_options_init(&opts);
    const char *format = td__query(r, "format");
    const char *labels = td__query(r, "labels");
    const char *atomic = td__query(r, "atomic");
    const char *confidence = td__query(r, "confidence");
    td_error *err = &r->stream_err;
    if (format && td_list_format_parse(format, &opts.format) != TD_OK) {
        snprintf(err->message, sizeof err->message, "'format' must be auto, te or csv");
        return err->code = TD_ERR_INVALID;
    }
    if (labels && td_labels_parse(&opts.labels, labels, strlen(labels), err) != TD_OK)
        return err->code;
    if (confidence) {
        char *end = NULL;
        long v = strtol(confidence, &end, 10);
        if (end == confidence || *end || v < 0 || v > 100) {
            snprintf(err->message, sizeof err->message, "'confidence' must be within 0..100");
            return err->code = TD_ERR_INVALID;
        }
        opts.confidence = (int)v;
    }
    /* Any other value would have been read as "no": refused instead. */
    if (atomic && strcmp(atomic, "1") != 0 && strcmp(atomic, "true") != 0 &&
        strcmp(atomic, "0") != 0 && strcmp(atomic, "false") != 0) {
        snprintf(err->message, sizeof err->message, "'atomic' must be 1, true, 0 or false");
        return err->code = TD_ERR_INVALID;
    }
    opts.atomic = atomic && (strcmp(atomic, "1") == 0 || strcmp(atomic, "true") == 0);
    opts.source = td__query(r, "source");
    if (opts.source && strlen(opts.source) > TD_SOURCE_MAX) {
        snprintf(err->message, sizeof err->message, "'source' is longer than %d bytes",
                 TD_SOURCE_MAX);
        return err->code = TD_ERR_INVALID;
    }
    return td_import_begin_as(r->svc, &r->who, r->params[0], &opts, &r->imp, err);
}

void td__h_bank_import(td__req *r)
{
    if (r->stream_st == TD_OK && !r->imp)
        r->stream_st = td__import_start(r); /* an empty body */
    if (r->stream_st != TD_OK) {
        td__reply_status(r, r->stream_st, &r->stream_err);
        return;
    }
    td_import_result res;
    td_error err;
    td_import *imp = r->imp;
    r->imp = NULL;
    memset(&res, 0, sizeof res);
    td_status st = td_import_finish(imp, &res, &err);
    if (st != TD_OK) {
        td_import_result_clear(&res);
        td__reply_status(r, st, &err);
        return;
    }
    json_t *errors = json_array();
    for (size_t i = 0; errors && i < res.error_count; i++)
        json_array_append_new(errors,
                              json_pack("{s:I,s:s}", "line", (json_int_t)res.error_list[i].line,
                                        "message", res.error_list[i].message));
    json_t *o =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "lines", (json_int_t)res.lines, "added",
                  (json_int_t)res.added, "duplicates", (json_int_t)res.duplicates, "disabled",
                  (json_int_t)res.disabled, "unsupported", (json_int_t)res.unsupported, "errors",
                  (json_int_t)res.errors, "error_list", errors);
    td_import_result_clear(&res);
    td__reply_json(r, 200, o);
}

/* Appends to the export's text, at most EXPORT_MAX bytes. */
static int export_write(void *ctx, const char *data, size_t len)
{
    return td__buf_add(ctx, data, len) != TD_OK;
}

void td__h_bank_export(td__req *r)
{
    td_list_format format = TD_LIST_LINES;
    const char *f = td__query(r, "format");
    int64_t include_disabled;
    if (f && (td_list_format_parse(f, &format) != TD_OK || format == TD_LIST_AUTO)) {
        td__reply_error(r, 400, "invalid_query", "'format' must be te or csv");
        return;
    }
    if (!td__query_int(r, "include_disabled", 0, 1, 0, &include_disabled))
        return;
    td__buf b;
    td_error err;
    td__buf_init(&b, EXPORT_MAX);
    td_status st =
        td_export(r->svc, r->params[0], format, (int)include_disabled, export_write, &b, &err);
    if (st != TD_OK) {
        td__buf_free(&b);
        td__reply_status(r, st, &err);
        return;
    }
    const char *type = format == TD_LIST_CSV ? "text/csv" : "text/plain";
    if (!b.p)
        td__reply_text(r, 200, type, "", 0);
    else
        td__reply_take(r, 200, type, b.p, b.len);
}
