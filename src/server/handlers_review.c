/* The review workflow's routes (docs/casework.md, docs/api.md): who am I (GET /v1/me), the
 * queues with their counts, the reasons a decision may name, QA reviews, the other content of an
 * uploader and the earlier decisions on a signal. GET /v1/cases?queue= and the reason_code of a
 * decision are handlers_cases.c's. */
#include <stdio.h>
#include <string.h>

#include "core/timefmt.h"
#include "server/handlers_orders.h"
#include "server/serialize.h"
#include "server/server_int.h"

static json_t *time_or_null(int64_t ms)
{
    char at[32];
    if (!ms || !td__time_format(ms, TD__TIME_MILLIS, at, sizeof at))
        return json_null();
    return json_string(at);
}

void td__h_me(td__req *r)
{
    json_t *o = json_pack("{s:I, s:s, s:s}", "key_id", (json_int_t)r->who.id, "name", r->who.name,
                          "role", td_role_name(r->who.role));
    if (!o) {
        td__reply_json(r, 503, NULL);
        return;
    }
    /* An authority key's authority (orders.h), when the orders are on and the key is linked. */
    int64_t authority = 0;
    td_orders *orders = r->who.role == TD_ROLE_AUTHORITY ? td__req_orders(r) : NULL;
    if (orders && td_authority_for_key(orders, r->who.id, &authority, NULL) != TD_OK)
        authority = 0;
    json_object_set_new(o, "authority", authority ? json_integer(authority) : json_null());
    int64_t platform = td_principal_platform(&r->who);
    json_object_set_new(o, "platform", platform ? json_integer(platform) : json_null());
    td__reply_json(r, 200, o);
}

static json_t *json_queue(const td_queue *q, int64_t now)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s?, s:I, s:I, s:I}", "id", q->id, "kind",
                  td_queue_kind_name(q->kind), "value", q->value, "open", (json_int_t)q->open,
                  "claimed", (json_int_t)q->claimed, "escalated", (json_int_t)q->escalated);
    if (!o)
        return NULL;
    json_object_set_new(o, "oldest_at", time_or_null(q->oldest_ms));
    json_object_set_new(o, "oldest_ms", q->oldest_ms ? json_integer(q->oldest_ms) : json_null());
    json_object_set_new(o, "oldest_age_s",
                        q->oldest_ms
                            ? json_integer(now > q->oldest_ms ? (now - q->oldest_ms) / 1000 : 0)
                            : json_null());
    return o;
}

void td__h_queues(td__req *r)
{
    td_queue *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_queue_list(r->svc, &list, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    int64_t now = td_clock_now(NULL);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_queue(&list[i], now));
    td_free(list);
    td__reply_json(r, 200, json_pack("{s:o}", "queues", a));
}

void td__h_review_reasons(td__req *r)
{
    size_t n = 0;
    const td_review_reason *list = td_review_reasons(r->svc, &n);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "code", list[i].code, "label", list[i].label));
    td__reply_json(r, 200, json_pack("{s:o}", "reasons", a));
}

/* ---- QA ---- */

static json_t *json_review(const td_decision *d)
{
    json_t *o =
        json_pack("{s:s, s:s?, s:s, s:{s:I, s:s}, s:I}", "decision", td_decision_name(d->kind),
                  "reason_code", d->reason_code[0] ? d->reason_code : NULL, "reason", d->reason,
                  "by", "id", (json_int_t)d->principal_id, "name", d->principal_name, "decided_ms",
                  (json_int_t)d->decided_ms);
    if (o)
        json_object_set_new(o, "at", time_or_null(d->decided_ms));
    return o;
}

static json_t *json_qa(const td_qa *a)
{
    json_t *o = json_pack("{s:I, s:I, s:s, s:o, s:s, s:I}", "id", (json_int_t)a->id, "case_id",
                          (json_int_t)a->case_id, "content_id", a->content_id, "first",
                          json_review(&a->first), "state", td_qa_state_name(a->state), "created_ms",
                          (json_int_t)a->created_ms);
    if (!o)
        return NULL;
    json_object_set_new(o, "first_decision_id", json_integer(a->first.id));
    json_object_set_new(o, "second", a->has_second ? json_review(&a->second) : json_null());
    json_object_set_new(o, "created_at", time_or_null(a->created_ms));
    return o;
}

void td__h_qa_list(td__req *r)
{
    unsigned states = 0;
    const char *s = td__query(r, "state");
    if (s) {
        td_qa_state qs;
        if (td_qa_state_parse(s, &qs) != TD_OK) {
            td__reply_error(r, 400, "invalid_query",
                            "'state' must be pending, agreed or disagreed");
            return;
        }
        states = 1u << qs;
    }
    int64_t limit, offset;
    if (!td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit) ||
        !td__query_int(r, "offset", 0, INT32_MAX, 0, &offset))
        return;
    td_qa *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_qa_list(r->svc, states, (size_t)limit, (size_t)offset, &list, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_qa(&list[i]));
    td_free(list);
    td__reply_json(r, 200, json_pack("{s:o}", "qa", a));
}

/* 422 naming reason_code when it is not one of the reasons; 1 when absent or known. */
static int check_reason_code(td__req *r, const char *code)
{
    if (!code || !*code)
        return 1;
    size_t n = 0;
    const td_review_reason *list = td_review_reasons(r->svc, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].code, code) == 0)
            return 1;
    char safe[64];
    td__safe_text(safe, sizeof safe, code, strlen(code));
    char msg[256];
    snprintf(msg, sizeof msg,
             "'reason_code': '%s' is not one of the review reasons (GET "
             "/v1/settings/review-reasons)",
             safe);
    td__reply_json(r, 422,
                   json_pack("{s:{s:s, s:s, s:s}}", "error", "code", "unknown_reason_code", "field",
                             "reason_code", "message", msg));
    return 0;
}

int td__read_decision(td__req *r, int escalate, td__decision_body *out)
{
    static const char *const members[] = {"decision", "reason_code", "reason", NULL};
    const char *kind = NULL;
    memset(out, 0, sizeof *out);
    json_t *obj = td__body_fields(r, members);
    if (!obj)
        return 0;
    if (!td__get_string(r, obj, "decision", &kind) ||
        !td__get_string(r, obj, "reason", &out->reason) ||
        !td__get_string(r, obj, "reason_code", &out->reason_code))
        goto refused;
    if (!kind || td_decision_parse(kind, &out->kind) != TD_OK ||
        (!escalate && out->kind == TD_DECISION_ESCALATE)) {
        td__reply_error(r, 400, kind ? "invalid_value" : "missing_field",
                        escalate ? "'decision' must be remove, keep or escalate"
                                 : "'decision' must be remove or keep");
        goto refused;
    }
    if (!out->reason || !*out->reason) {
        td__reply_error(r, 400, "missing_field", "'reason' is required");
        goto refused;
    }
    if (!check_reason_code(r, out->reason_code))
        goto refused;
    out->body = obj;
    return 1;
refused:
    json_decref(obj);
    memset(out, 0, sizeof *out);
    return 0;
}

void td__h_qa_decision(td__req *r)
{
    int64_t id = td__param_id(r, 0);
    if (id < 0)
        return;
    td__decision_body d;
    if (!td__read_decision(r, 0, &d))
        return;
    td_qa a;
    td_error err;
    int same = 0;
    td_status st =
        td_qa_decide(r->svc, id, &r->who, d.kind, d.reason_code, d.reason, &same, &a, &err);
    json_decref(d.body);
    if (st == TD_ERR_CONFLICT) {
        td__reply_error(r, 409, same ? "same_reviewer" : "already_reviewed", "%s", err.message);
        return;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, json_qa(&a));
}

/* ---- an uploader's content, a signal's decisions ---- */

void td__h_content_list(td__req *r)
{
    const char *uploader = td__query(r, "uploader");
    int64_t limit, offset;
    if (!uploader || !*uploader) {
        td__reply_error(r, 400, "missing_query", "'uploader' is required");
        return;
    }
    uploader = td__query_decode(&r->arena, uploader);
    if (!uploader) {
        td__reply_status(r, TD_ERR_NOMEM, NULL);
        return;
    }
    if (!td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit) ||
        !td__query_int(r, "offset", 0, INT32_MAX, 0, &offset))
        return;
    td_content_brief *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_content_by_uploader(r->svc, &r->who, uploader, (size_t)limit, (size_t)offset,
                                          &list, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const td_content_brief *b = &list[i];
        json_t *o =
            json_pack("{s:s, s:I, s:s, s:s?, s:I}", "id", b->content_id, "received_ms",
                      (json_int_t)b->received_ms, "source", b->source[0] ? b->source : "upload",
                      "url", b->url[0] ? b->url : NULL, "matches", (json_int_t)b->matches);
        if (!o)
            continue;
        json_object_set_new(o, "received_at", time_or_null(b->received_ms));
        json_object_set_new(o, "case_id", b->case_id ? json_integer(b->case_id) : json_null());
        json_object_set_new(o, "case_state",
                            b->case_id ? json_string(td_case_state_name(b->case_state))
                                       : json_null());
        json_object_set_new(o, "decision",
                            b->decision ? json_string(td_decision_name(b->decision)) : json_null());
        json_array_append_new(a, o);
    }
    td_free(list);
    td__reply_json(r, 200, json_pack("{s:o}", "content", a));
}

void td__h_signal_decisions(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    int64_t limit;
    if (id < 0 || !td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit))
        return;
    td_decision_ref *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_signal_decisions(r->svc, r->params[0], id, (size_t)limit, &list, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = json_review(&list[i].decision);
        if (!o)
            continue;
        json_object_set_new(o, "id", json_integer(list[i].decision.id));
        json_object_set_new(o, "case_id", json_integer(list[i].decision.case_id));
        json_object_set_new(o, "content_id", json_string(list[i].content_id));
        json_array_append_new(a, o);
    }
    td_free(list);
    td__reply_json(r, 200, json_pack("{s:o}", "decisions", a));
}
