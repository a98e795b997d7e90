/* HTTP handlers of incident mode (docs/incidents.md, incidents.h): open, list, read with live
 * figures, close, and the after-action report as JSON or Markdown. The library checks and
 * records; this file parses the body (unknown members refused, naming them), maps refusals to
 * HTTP and writes the JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "server/handlers_incidents.h"
#include "server/serialize.h"

static td_incidents *incidents_or_503(td__req *r)
{
    td_incidents *inc = td__req_incidents(r);
    if (!inc)
        td__reply_error(r, 503, "unavailable", "incidents are not available (see the log)");
    return inc;
}

/* {"error": {"code", "message", "field"}}. */
static void reply_field(td__req *r, unsigned status, const char *code, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reply_field(td__req *r, unsigned status, const char *code, const char *field,
                        const char *fmt, ...)
{
    char msg[TD_ERROR_MESSAGE_MAX], safe[TD__ERROR_TEXT_MAX], safe_field[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    td__safe_text(safe, sizeof safe, msg, strnlen(msg, sizeof msg));
    td__safe_text(safe_field, sizeof safe_field, field, strlen(field));
    json_t *j = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "message", safe, "field",
                          safe_field);
    if (!j) {
        td__reply_error(r, status, code, "%s", safe);
        return;
    }
    td__reply_json(r, status, j);
}

/* Replies 400 unknown_field (prefix + member) and returns 0 when obj has a member not in names. */
static int only_members(td__req *r, json_t *obj, const char *prefix, const char *const *names,
                        size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int known = 0;
        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(key, names[i]) == 0;
        if (!known) {
            char field[160];
            snprintf(field, sizeof field, "%s%.64s", prefix, key);
            reply_field(r, 400, "unknown_field", field, "this member is not part of the request");
            return 0;
        }
        (void)v;
    }
    return 1;
}

/* A string member: missing (required) or not a string is 400 naming it. */
static int member_string(td__req *r, json_t *obj, const char *name, int required, const char **out)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v) {
        if (required)
            reply_field(r, 400, "missing_field", name, "'%s' is required", name);
        return !required;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        reply_field(r, 400, "invalid_field", name, "'%s' must be a string without NUL", name);
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

static int parse_filter(td__req *r, json_t *filter, td_incident_filter *out)
{
    static const char *const members[] = {"labels", "banks"};
    char field[64];
    td_error err;
    if (!json_is_object(filter)) {
        reply_field(r, 400, "invalid_field", "filter",
                    "'filter' must be an object: {\"labels\": [...], \"banks\": [...]}");
        return 0;
    }
    if (!only_members(r, filter, "filter.", members, 2))
        return 0;
    json_t *labels = json_object_get(filter, "labels"), *banks = json_object_get(filter, "banks");
    if ((labels && !json_is_array(labels)) || json_array_size(labels) > TD_LABELS_MAX) {
        reply_field(r, 400, "invalid_field", "filter.labels", "an array of at most %d labels",
                    TD_LABELS_MAX);
        return 0;
    }
    if ((banks && !json_is_array(banks)) || json_array_size(banks) > TD_INCIDENT_BANKS_MAX) {
        reply_field(r, 400, "invalid_field", "filter.banks", "an array of at most %d bank names",
                    TD_INCIDENT_BANKS_MAX);
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(labels, i, v)
    {
        snprintf(field, sizeof field, "filter.labels[%zu]", i);
        if (!json_is_string(v) ||
            td_labels_add(&out->labels, json_string_value(v), &err) != TD_OK) {
            reply_field(r, 400, "invalid_field", field,
                        "a label is 1..%d bytes of [A-Za-z0-9_.:/-]", TD_LABEL_MAX);
            return 0;
        }
    }
    json_array_foreach(banks, i, v)
    {
        snprintf(field, sizeof field, "filter.banks[%zu]", i);
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > TD_NAME_MAX) {
            reply_field(r, 400, "invalid_field", field, "a bank name");
            return 0;
        }
        snprintf(out->banks[out->n_banks++], sizeof out->banks[0], "%s", json_string_value(v));
    }
    if (!out->labels.count && !out->n_banks) {
        reply_field(r, 400, "invalid_field", "filter",
                    "at least one label or bank: an empty filter would take every match");
        return 0;
    }
    return 1;
}

static json_t *incident_json(const td_incident *in)
{
    json_t *banks = json_array();
    for (int i = 0; i < in->filter.n_banks; i++)
        json_array_append_new(banks, json_string(in->filter.banks[i]));
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:{s:o, s:o}, s:s, s:s, s:I, s:I, s:s}", "id",
                  (json_int_t)in->id, "name", in->name, "level", td_incident_level_name(in->level),
                  "filter", "labels", td__json_labels(&in->filter.labels), "banks", banks,
                  "enforcement", td_action_name(in->enforcement), "state",
                  in->open ? "open" : "closed", "start_ms", (json_int_t)in->start_ms, "opened_ms",
                  (json_int_t)in->opened_ms, "opened_by", in->opened_by);
    if (o && !in->open) {
        json_object_set_new(o, "closed_ms", json_integer(in->closed_ms));
        json_object_set_new(o, "closed_by", json_string(in->closed_by));
    }
    return o;
}

static json_t *time_or_null(int64_t ms) { return ms ? json_integer(ms) : json_null(); }

static json_t *counts_json(const td_incident_count *k, size_t n, const char *key)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:I}", key, k[i].name, "signals", (json_int_t)k[i].signals));
    return a;
}

static json_t *figures_json(const td_incident_figures *f)
{
    json_t *hours = json_array();
    for (size_t i = 0; hours && i < f->n_hours; i++)
        json_array_append_new(hours, json_pack("{s:I, s:I, s:I}", "hour_ms",
                                               (json_int_t)f->hours[i].hour_ms, "matches",
                                               (json_int_t)f->hours[i].matches, "blocks",
                                               (json_int_t)f->hours[i].blocks));
    json_t *o = json_object();
    json_object_set_new(o, "signals", json_integer(f->signals));
    json_object_set_new(o, "matches", json_integer(f->matches));
    json_object_set_new(o, "blocks", json_integer(f->blocks));
    json_object_set_new(o, "reviews", json_integer(f->reviews));
    json_object_set_new(o, "first_signal_ms", time_or_null(f->first_signal_ms));
    json_object_set_new(o, "first_match_ms", time_or_null(f->first_match_ms));
    json_object_set_new(o, "first_block_ms", time_or_null(f->first_block_ms));
    json_object_set_new(o, "first_hash_to_block_ms",
                        f->first_hash_to_block_ms >= 0 ? json_integer(f->first_hash_to_block_ms)
                                                       : json_null());
    json_object_set_new(o, "matches_per_hour", hours);
    json_object_set_new(o, "sources", counts_json(f->sources, f->n_sources, "source"));
    json_object_set_new(o, "banks", counts_json(f->banks, f->n_banks, "bank"));
    json_object_set_new(o, "types", counts_json(f->types, f->n_types, "type"));
    return o;
}

/* The member a library refusal names: its message starts "member: ..." ("filter.banks[0]: no
 * bank named 'X'"); "" when it does not. */
static void refused_field(const td_error *err, char *out, size_t cap)
{
    size_t n = strcspn(err->message, ": ");
    out[0] = '\0';
    if (err->message[n] == ':' && n > 0 && n < cap)
        snprintf(out, cap, "%.*s", (int)n, err->message);
}

/* POST /v1/incidents */
void td__h_incidents_create(td__req *r)
{
    static const char *const members[] = {"name", "level", "filter", "enforcement", "start_ms"};
    td_incidents *inc = incidents_or_503(r);
    if (!inc)
        return;
    json_t *body = td__body_object(r);
    if (!body)
        return;
    td_incident_input in;
    const char *level = NULL, *enforcement = NULL;
    memset(&in, 0, sizeof in);
    int ok = only_members(r, body, "", members, sizeof members / sizeof members[0]) &&
             member_string(r, body, "name", 1, &in.name) &&
             member_string(r, body, "level", 1, &level) &&
             member_string(r, body, "enforcement", 0, &enforcement);
    if (ok && td_incident_level_parse(level, &in.level) != TD_OK) {
        reply_field(r, 400, "invalid_field", "level",
                    "'level' is one of cip, content_incident, incident");
        ok = 0;
    }
    in.enforcement = TD_ACTION_BLOCK;
    if (ok && enforcement &&
        (td_action_parse(enforcement, &in.enforcement) != TD_OK ||
         in.enforcement == TD_ACTION_LOG)) {
        reply_field(r, 400, "invalid_field", "enforcement", "'enforcement' is block or review");
        ok = 0;
    }
    if (ok && !json_object_get(body, "filter")) {
        reply_field(r, 400, "missing_field", "filter", "'filter' is required");
        ok = 0;
    }
    ok = ok && parse_filter(r, json_object_get(body, "filter"), &in.filter);
    json_t *start = json_object_get(body, "start_ms");
    if (ok && start && (!json_is_integer(start) || json_integer_value(start) < 0)) {
        reply_field(r, 400, "invalid_field", "start_ms",
                    "'start_ms' is milliseconds since the epoch, not after now");
        ok = 0;
    }
    if (ok && start)
        in.start_ms = json_integer_value(start);
    if (!ok) {
        json_decref(body);
        return;
    }
    td_incident out;
    td_error err;
    td_status st = td_incident_create(inc, &r->who, &in, &out, &err);
    json_decref(body);
    if (st == TD_ERR_INVALID || st == TD_ERR_NOT_FOUND) {
        char field[64];
        refused_field(&err, field, sizeof field);
        reply_field(r, 400, st == TD_ERR_NOT_FOUND ? "unknown_bank" : "invalid_field", field, "%s",
                    err.message);
        return;
    }
    if (st == TD_ERR_LIMIT) {
        td__reply_error(r, 409, "too_many_open", "%s", err.message);
        return;
    }
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 201, incident_json(&out));
}

/* GET /v1/incidents?open=1&limit=&offset= */
void td__h_incidents_list(td__req *r)
{
    td_incidents *inc = incidents_or_503(r);
    int64_t open, limit, offset;
    if (!inc || !td__query_int(r, "open", 0, 1, 0, &open) ||
        !td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit) ||
        !td__query_int(r, "offset", 0, INT32_MAX, 0, &offset))
        return;
    td_incident *items = NULL;
    size_t n = 0;
    td_error err;
    td_status st =
        td_incident_list(inc, (int)open, (size_t)limit, (size_t)offset, &items, &n, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, incident_json(&items[i])))
            break;
    td_free(items);
    td__reply_json(r, 200, json_pack("{s:o}", "incidents", arr ? arr : json_array()));
}

/* GET /v1/incidents/{id}: the incident with its live figures. */
void td__h_incident_get(td__req *r)
{
    td_incidents *inc = incidents_or_503(r);
    int64_t id = inc ? td__param_id(r, 0) : -1;
    if (id < 0)
        return;
    td_incident in;
    td_incident_figures f;
    td_error err;
    td_status st = td_incident_get(inc, id, &in, &err);
    if (st == TD_OK)
        st = td_incident_figures_get(inc, id, &f, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *o = incident_json(&in);
    if (o)
        json_object_set_new(o, "figures", figures_json(&f));
    td_incident_figures_clear(&f);
    td__reply_json(r, 200, o);
}

/* POST /v1/incidents/{id}/close */
void td__h_incident_close(td__req *r)
{
    td_incidents *inc = incidents_or_503(r);
    int64_t id = inc ? td__param_id(r, 0) : -1;
    if (id < 0)
        return;
    td_incident out;
    td_error err;
    td_status st = td_incident_close(inc, id, &r->who, &out, &err);
    if (st == TD_ERR_CONFLICT) {
        td__reply_error(r, 409, "closed", "%s", err.message);
        return;
    }
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, incident_json(&out));
}

/* GET /v1/incidents/{id}/report[?format=markdown|json] */
void td__h_incident_report(td__req *r)
{
    td_incidents *inc = incidents_or_503(r);
    int64_t id = inc ? td__param_id(r, 0) : -1;
    if (id < 0)
        return;
    const char *format = td__query(r, "format");
    int markdown = 0;
    if (format && strcmp(format, "markdown") == 0)
        markdown = 1;
    else if (format && strcmp(format, "json") != 0) {
        reply_field(r, 400, "invalid_query", "format", "'format' is json or markdown");
        return;
    }
    char *text = NULL;
    size_t len = 0;
    td_error err;
    td_status st = td_incident_report(inc, id, markdown, &text, &len, &err);
    if (st == TD_ERR_CONFLICT) {
        td__reply_error(r, 409, "incident_open", "%s", err.message);
        return;
    }
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_take(r, 200, markdown ? "text/markdown; charset=utf-8" : "application/json", text,
                   len);
}
