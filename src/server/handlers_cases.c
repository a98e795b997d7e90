/* The review queue: list (priority order), one case, claim, release, decide. The caller's
 * principal is who claims and who decides, so every decision is recorded with who and when. */
#include <string.h>

#include "server/serialize.h"
#include "server/server_int.h"

static int parse_states(td__req *r, unsigned *states)
{
    const char *q = td__query(r, "state");
    *states = 0;
    if (!q)
        return 1;
    while (*q) {
        size_t n = strcspn(q, ",");
        char name[32];
        td_case_state st;
        if (n == 0 || n >= sizeof name) {
            td__reply_error(r, 400, "invalid_query",
                            "'state' is a comma-separated list of "
                            "open, claimed, escalated, closed");
            return 0;
        }
        memcpy(name, q, n);
        name[n] = '\0';
        if (strcmp(name, "all") == 0) {
            *states |= (1u << TD_CASE_OPEN) | (1u << TD_CASE_CLAIMED) | (1u << TD_CASE_ESCALATED) |
                       (1u << TD_CASE_CLOSED);
        } else if (td_case_state_parse(name, &st) == TD_OK) {
            *states |= 1u << st;
        } else {
            td__reply_error(r, 400, "invalid_query", "unknown case state '%s'", name);
            return 0;
        }
        q += n;
        if (*q == ',')
            q++;
    }
    return 1;
}

/* o["queues"]: the case's queue ids; 0 after an error answer. */
static int add_queues(td__req *r, json_t *o, int64_t case_id)
{
    td_queue *qs = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_case_queues(r->svc, case_id, &qs, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return 0;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(qs[i].id));
    td_free(qs);
    json_object_set_new(o, "queues", a ? a : json_array());
    return 1;
}

void td__h_cases_list(td__req *r)
{
    td_case_filter f;
    memset(&f, 0, sizeof f);
    int64_t limit, offset, mine;
    if (!parse_states(r, &f.states) || !td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit) ||
        !td__query_int(r, "offset", 0, INT32_MAX, 0, &offset) ||
        !td__query_int(r, "mine", 0, 1, 0, &mine))
        return;
    f.limit = (size_t)limit;
    f.offset = (size_t)offset;
    f.claimed_by = mine ? r->who.id : 0;
    const char *queue = td__query(r, "queue");
    if (queue && !(queue = td__query_decode(&r->arena, queue))) {
        td__reply_status(r, TD_ERR_NOMEM, NULL);
        return;
    }
    if (queue && !td_queue_id_valid(queue)) {
        td__reply_error(r, 400, "invalid_query",
                        "'queue' must be all, bank:NAME, label:LABEL, source:SOURCE or "
                        "incident:ID (GET /v1/queues)");
        return;
    }
    f.queue = queue;
    td_case *cases = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_case_list(r->svc, &f, &cases, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = td__json_case(&cases[i]);
        if (o && !add_queues(r, o, cases[i].id)) {
            json_decref(o);
            json_decref(a);
            td_free(cases);
            return;
        }
        json_array_append_new(a, o);
    }
    td_free(cases);
    td__reply_json(r, 200, json_pack("{s:o}", "cases", a));
}

void td__h_case_get(td__req *r)
{
    int64_t id = td__param_id(r, 0);
    if (id < 0)
        return;
    td_case c;
    td_error err;
    td_status st = td_case_get(r->svc, id, &c, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *o = td__json_case(&c);
    if (o && !add_queues(r, o, id)) {
        json_decref(o);
        return;
    }
    td_decision *d = NULL;
    size_t n = 0;
    st = td_case_decisions(r->svc, id, &d, &n, &err);
    if (st != TD_OK) {
        json_decref(o);
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, td__json_decision(&d[i]));
    td_free(d);
    if (o)
        json_object_set_new(o, "decisions", a);
    else
        json_decref(a);
    td__reply_json(r, 200, o);
}

void td__h_case_claim(td__req *r)
{
    int64_t id = td__param_id(r, 0);
    if (id < 0)
        return;
    td_case c;
    td_error err;
    td_status st = td_case_claim(r->svc, id, &r->who, &c, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, td__json_case(&c));
}

void td__h_case_release(td__req *r)
{
    int64_t id = td__param_id(r, 0);
    if (id < 0)
        return;
    td_case c;
    td_error err;
    td_status st = td_case_release(r->svc, id, &r->who, r->who.role == TD_ROLE_ADMIN, &c, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, td__json_case(&c));
}

void td__h_case_decision(td__req *r)
{
    static const char *const members[] = {"decision", "reason_code", "reason", NULL};
    int64_t id = td__param_id(r, 0);
    if (id < 0)
        return;
    json_t *obj = td__body_fields(r, members);
    if (!obj)
        return;
    const char *kind = NULL, *reason = NULL, *code = NULL;
    if (!td__get_string(r, obj, "decision", &kind) || !td__get_string(r, obj, "reason", &reason) ||
        !td__get_string(r, obj, "reason_code", &code)) {
        json_decref(obj);
        return;
    }
    td_decision_kind k;
    if (!kind || td_decision_parse(kind, &k) != TD_OK) {
        json_decref(obj);
        td__reply_error(r, 400, kind ? "invalid_value" : "missing_field",
                        "'decision' must be remove, keep or escalate");
        return;
    }
    if (!reason || !*reason) {
        json_decref(obj);
        td__reply_error(r, 400, "missing_field", "'reason' is required");
        return;
    }
    if (!td__check_reason_code(r, code)) {
        json_decref(obj);
        return;
    }
    td_decision d;
    td_error err;
    td_status st = td_case_decide_coded(r->svc, id, &r->who, k, code, reason, &d, &err);
    json_decref(obj);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 201, td__json_decision(&d));
}
