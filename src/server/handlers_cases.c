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
    /* The page's queues in a few queries (td_cases_queues), not one per case. */
    int64_t *ids = n ? td__arena_alloc(&r->arena, n * sizeof *ids) : NULL;
    td_queue *qs = NULL;
    size_t nq = 0;
    for (size_t i = 0; ids && i < n; i++)
        ids[i] = cases[i].id;
    if (n && !ids)
        st = TD_ERR_NOMEM;
    else
        st = td_cases_queues(r->svc, ids, n, &qs, &nq, &err);
    if (st != TD_OK) {
        td_free(cases);
        td__reply_status(r, st, st == TD_ERR_NOMEM && !ids ? NULL : &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = td__json_case(&cases[i]), *names = json_array();
        /* qs is sorted by case id: its first queue of this case by bisection. */
        size_t lo = 0, hi = nq;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (qs[mid].case_id < cases[i].id)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; names && k < nq && qs[k].case_id == cases[i].id; k++)
            json_array_append_new(names, json_string(qs[k].id));
        if (o)
            json_object_set_new(o, "queues", names ? names : json_array());
        else
            json_decref(names);
        json_array_append_new(a, o);
    }
    td_free(qs);
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
    int64_t id = td__param_id(r, 0);
    if (id < 0)
        return;
    td__decision_body body;
    if (!td__read_decision(r, 1, &body))
        return;
    td_decision d;
    td_error err;
    td_status st = td_case_decide_coded(r->svc, id, &r->who, body.kind, body.reason_code,
                                        body.reason, &d, &err);
    json_decref(body.body);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 201, td__json_decision(&d));
}
