/* Cases and the review queue. A case is opened for a content item when a bank says "review";
 * moderators claim cases exclusively (until released or decided) and decide remove, keep or
 * escalate with a reason; every decision is a row with who and when, committed before the call
 * returns, and fires its webhook events in the same transaction. Claims, releases and decisions
 * (with the reason) are audit entries in that transaction too (case.claim, case.release,
 * case.decide). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"

#define CASE_COLUMNS                                                                               \
    "k.id, k.content_ref, c.content_id, k.state, k.priority, k.labels, k.opened_by,"               \
    " k.opened_ms, k.claimed_by, k.claimed_by_name, k.claimed_ms, k.closed_ms, k.outcome"

static void case_row(td_stmt *q, td_case *k)
{
    memset(k, 0, sizeof *k);
    k->id = td_stmt_column_int64(q, 0);
    k->content_ref = td_stmt_column_int64(q, 1);
    td__copy_trunc(k->content_id, sizeof k->content_id, td_stmt_column_text(q, 2));
    k->state = (td_case_state)td_stmt_column_int64(q, 3);
    k->priority = (int)td_stmt_column_int64(q, 4);
    td__labels_load(&k->labels, td_stmt_column_text(q, 5));
    td__copy_trunc(k->opened_by, sizeof k->opened_by, td_stmt_column_text(q, 6));
    k->opened_ms = td_stmt_column_int64(q, 7);
    k->claimed_by = td_stmt_column_int64(q, 8);
    td__copy_trunc(k->claimed_by_name, sizeof k->claimed_by_name, td_stmt_column_text(q, 9));
    k->claimed_ms = td_stmt_column_int64(q, 10);
    k->closed_ms = td_stmt_column_int64(q, 11);
    k->outcome = (td_decision_kind)td_stmt_column_int64(q, 12);
}

td_status td__case_load(td_store_conn *c, const char *where, int64_t arg, td_case *out, int *found,
                        td_error *err)
{
    char sql[512];
    td_stmt *q;
    int row;
    snprintf(sql, sizeof sql,
             "SELECT " CASE_COLUMNS " FROM cases k JOIN content c ON c.id = k.content_ref"
             " WHERE k.%s LIMIT 1",
             where);
    td_status st = td_store_prepare(c, sql, &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, arg, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    *found = row;
    if (row)
        case_row(q, out);
    td_stmt_reset(q);
    return TD_OK;
}

static void decision_row(td_stmt *q, td_decision *d)
{
    memset(d, 0, sizeof *d);
    d->id = td_stmt_column_int64(q, 0);
    d->case_id = td_stmt_column_int64(q, 1);
    d->kind = (td_decision_kind)td_stmt_column_int64(q, 2);
    td__copy_trunc(d->reason, sizeof d->reason, td_stmt_column_text(q, 3));
    d->principal_id = td_stmt_column_int64(q, 4);
    td__copy_trunc(d->principal_name, sizeof d->principal_name, td_stmt_column_text(q, 5));
    d->decided_ms = td_stmt_column_int64(q, 6);
    td__copy_trunc(d->reason_code, sizeof d->reason_code, td_stmt_column_text(q, 7));
}

td_status td__decisions_load(td_store_conn *c, int64_t content_ref, int64_t case_id,
                             td_decision **out, size_t *count, td_error *err)
{
    td_stmt *q;
    int row;
    td_decision *list = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    *count = 0;
    td_status st = td_store_prepare(
        c,
        content_ref ? "SELECT d.id, d.case_id, d.kind, d.reason, d.principal_id,"
                      " d.principal_name, d.decided_ms, d.reason_code FROM decisions d"
                      " JOIN cases k ON k.id = d.case_id WHERE k.content_ref = $1 ORDER BY d.id"
                    : "SELECT d.id, d.case_id, d.kind, d.reason, d.principal_id,"
                      " d.principal_name, d.decided_ms, d.reason_code FROM decisions d"
                      " WHERE d.case_id = $1"
                      " ORDER BY d.id",
        &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, content_ref ? content_ref : case_id, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        if ((st = td__grow((void **)&list, &cap, n + 1, sizeof *list, err)))
            break;
        decision_row(q, &list[n++]);
    }
    td_stmt_reset(q);
    if (st) {
        td__free(list);
        return st;
    }
    *out = list;
    *count = n;
    return TD_OK;
}

td_status td_case_list(td_service *svc, const td_case_filter *f, td_case **out, size_t *count,
                       td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    td_case_filter def = {0, 0, 0, 0, NULL};
    td_case *list = NULL;
    size_t n = 0;
    *out = NULL;
    *count = 0;
    if (!f)
        f = &def;
    size_t limit = f->limit ? f->limit : 100;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d cases per page", TD_PAGE_MAX);
    const char *queue = f->queue && *f->queue && strcmp(f->queue, "all") != 0 ? f->queue : NULL;
    if (queue && !td_queue_id_valid(queue))
        return td__error_set(err, TD_ERR_INVALID,
                             "queue: expected all, bank:NAME, label:LABEL, source:SOURCE or"
                             " incident:ID");
    unsigned states =
        f->states ? f->states
                  : (1u << TD_CASE_OPEN) | (1u << TD_CASE_CLAIMED) | (1u << TD_CASE_ESCALATED);
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    list = td__mallocarray(limit, sizeof *list);
    if (!list) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* States as a bit mask: ($1 >> state) & 1, portable integer arithmetic (PostgreSQL has
     * << for (int, int) and (bigint, int): the state is cast to INT). */
    if ((st = td_store_prepare(c,
                               "SELECT " CASE_COLUMNS " FROM cases k"
                               " JOIN content c ON c.id = k.content_ref"
                               " WHERE (($1 / (1 << CAST(k.state AS INT))) % 2) = 1"
                               " AND ($2 = 0 OR k.claimed_by = $2)"
                               " AND ($5 = '' OR k.id IN (SELECT case_id FROM case_queues"
                               " WHERE queue = $5))"
                               " ORDER BY k.priority DESC, k.opened_ms, k.id LIMIT $3 OFFSET $4",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 5, queue ? queue : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 1, states, err)) ||
        (st = td_stmt_bind_int64(q, 2, f->claimed_by, err)) ||
        (st = td_stmt_bind_int64(q, 3, (int64_t)limit, err)) ||
        (st = td_stmt_bind_int64(q, 4, (int64_t)f->offset, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < limit)
        case_row(q, &list[n++]);
    td_stmt_reset(q);
out:
    td_store_release(svc->store, c);
    if (st) {
        td__free(list);
        return st;
    }
    *out = list;
    *count = n;
    return TD_OK;
}

static td_status get_on(td_store_conn *c, int64_t id, td_case *out, td_error *err)
{
    int found = 0;
    td_status st = td__case_load(c, "id = $1", id, out, &found, err);
    if (st == TD_OK && !found)
        st = td__error_set(err, TD_ERR_NOT_FOUND, "no case %lld", (long long)id);
    return st;
}

td_status td_case_get(td_service *svc, int64_t id, td_case *out, td_error *err)
{
    td_store_conn *c;
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    st = get_on(c, id, out, err);
    td_store_release(svc->store, c);
    return st;
}

static td_status set_claim(td_store_conn *c, int64_t id, td_case_state state, int64_t who,
                           const char *name, int64_t now, td_error *err)
{
    td_stmt *q;
    td_status st = td_store_prepare(c,
                                    "UPDATE cases SET state = $1, claimed_by = $2,"
                                    " claimed_by_name = $3, claimed_ms = $4 WHERE id = $5",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, state, err)) ||
        (st = td_stmt_bind_int64(q, 2, who, err)) ||
        (st = td_stmt_bind_text(q, 3, name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 4, now, err)) || (st = td_stmt_bind_int64(q, 5, id, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

typedef struct claim_args {
    td_service *svc;
    int64_t id;
    const td_principal *who;
    int force;
    td_case *out;
} claim_args;

static td_status claim_body(td_store_conn *c, void *ctx, td_error *err)
{
    claim_args *a = ctx;
    td_case k;
    td_status st;
    if ((st = get_on(c, a->id, &k, err)))
        return st;
    if (k.state == TD_CASE_CLOSED)
        return td__error_set(err, TD_ERR_CONFLICT, "case %lld is closed", (long long)a->id);
    if (k.state == TD_CASE_CLAIMED && k.claimed_by != a->who->id)
        return td__error_set(err, TD_ERR_CONFLICT, "case %lld is claimed by %s", (long long)a->id,
                             k.claimed_by_name);
    if (k.state != TD_CASE_CLAIMED &&
        ((st = set_claim(c, a->id, TD_CASE_CLAIMED, a->who->id, a->who->name, td__now(a->svc),
                         err)) ||
         (st = td__audit_id(a->svc, c, a->who, "case.claim", "case", a->id,
                            json_pack("{s:s}", "content_id", k.content_id), err))))
        return st;
    /* The case as committed: read back in the same transaction. */
    return a->out ? get_on(c, a->id, a->out, err) : TD_OK;
}

td_status td_case_claim(td_service *svc, int64_t id, const td_principal *who, td_case *out,
                        td_error *err)
{
    claim_args a = {svc, id, who, 0, out};
    return td_store_write(svc->store, claim_body, &a, err);
}

static td_status release_body(td_store_conn *c, void *ctx, td_error *err)
{
    claim_args *a = ctx;
    td_case k;
    td_status st;
    if ((st = get_on(c, a->id, &k, err)))
        return st;
    if (k.state != TD_CASE_CLAIMED)
        return td__error_set(err, TD_ERR_CONFLICT, "case %lld is not claimed", (long long)a->id);
    if (k.claimed_by != a->who->id && !a->force)
        return td__error_set(err, TD_ERR_CONFLICT, "case %lld is claimed by %s", (long long)a->id,
                             k.claimed_by_name);
    /* A case that had been escalated goes back to the escalated queue. */
    td_case_state back = TD_CASE_OPEN;
    td_decision *ds = NULL;
    size_t nd = 0;
    if ((st = td__decisions_load(c, 0, a->id, &ds, &nd, err)))
        return st;
    if (nd && ds[nd - 1].kind == TD_DECISION_ESCALATE)
        back = TD_CASE_ESCALATED;
    td__free(ds);
    if ((st = set_claim(c, a->id, back, 0, "", 0, err)) ||
        (st = td__audit_id(a->svc, c, a->who, "case.release", "case", a->id,
                           json_pack("{s:s, s:I, s:s, s:b}", "content_id", k.content_id,
                                     "claimed_by", (json_int_t)k.claimed_by, "claimed_by_name",
                                     k.claimed_by_name, "forced", k.claimed_by != a->who->id),
                           err)))
        return st;
    return a->out ? get_on(c, a->id, a->out, err) : TD_OK;
}

td_status td_case_release(td_service *svc, int64_t id, const td_principal *who, int force,
                          td_case *out, td_error *err)
{
    claim_args a = {svc, id, who, force, out};
    return td_store_write(svc->store, release_body, &a, err);
}

/* What td_case_decide writes, in one transaction: the decision, the case's new state, its
 * events and its audit entry. */
typedef struct decide_tx {
    td_service *svc;
    int64_t id;
    const td_principal *who;
    td_decision_kind kind;
    const char *reason;
    size_t rlen;
    const char *code; /* "" when none */
    int64_t now;
    int64_t did; /* out: the decision's id */
} decide_tx;

static td_status decide_body(td_store_conn *c, void *ctx, td_error *err)
{
    decide_tx *d = ctx;
    td_service *svc = d->svc;
    const td_principal *who = d->who;
    int64_t id = d->id, now = d->now;
    td_decision_kind kind = d->kind;
    td_stmt *q;
    int row;
    td_case k;
    td_status st = get_on(c, id, &k, err);
    if (st)
        return st;
    if (k.state == TD_CASE_CLOSED)
        return td__error_set(err, TD_ERR_CONFLICT, "case %lld is already decided", (long long)id);
    if (k.state == TD_CASE_CLAIMED && k.claimed_by != who->id)
        return td__error_set(err, TD_ERR_CONFLICT, "case %lld is claimed by %s", (long long)id,
                             k.claimed_by_name);
    if ((st = td_store_prepare(c,
                               "INSERT INTO decisions (case_id, kind, reason, principal_id,"
                               " principal_name, decided_ms, reason_code)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 7, d->code, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_bind_int64(q, 2, kind, err)) ||
        (st = td_stmt_bind_text(q, 3, d->reason, d->rlen, err)) ||
        (st = td_stmt_bind_int64(q, 4, who->id, err)) ||
        (st = td_stmt_bind_text(q, 5, who->name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 6, now, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    int64_t did = d->did = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    if (kind == TD_DECISION_ESCALATE) {
        /* Back in the queue, above everything that was not escalated. */
        st = td_store_prepare(c,
                              "UPDATE cases SET state = $3, claimed_by = 0, claimed_by_name = '',"
                              " claimed_ms = 0, priority = priority + 100000, outcome = $1"
                              " WHERE id = $2",
                              &q, err);
        if (st == TD_OK && (st = td_stmt_bind_int64(q, 3, TD_CASE_ESCALATED, err)))
            return st;
    } else {
        st = td_store_prepare(c,
                              "UPDATE cases SET state = $6, claimed_by = $3, claimed_by_name = $4,"
                              " closed_ms = $5, outcome = $1 WHERE id = $2",
                              &q, err);
        if (st == TD_OK && ((st = td_stmt_bind_int64(q, 6, TD_CASE_CLOSED, err)) ||
                            (st = td_stmt_bind_int64(q, 3, who->id, err)) ||
                            (st = td_stmt_bind_text(q, 4, who->name, (size_t)-1, err)) ||
                            (st = td_stmt_bind_int64(q, 5, now, err))))
            return st;
    }
    if (st || (st = td_stmt_bind_int64(q, 1, kind, err)) ||
        (st = td_stmt_bind_int64(q, 2, id, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    /* Events: case.decided always; remove / restore for the platform to act on. */
    char subject[64];
    json_t *payload = json_object(), *content = json_object(), *kase = json_object(),
           *decision = json_object();
    json_object_set_new(content, "id", json_string(k.content_id));
    json_object_set_new(kase, "id", json_integer(id));
    json_object_set_new(decision, "id", json_integer(did));
    json_object_set_new(decision, "decision", json_string(td_decision_name(kind)));
    json_object_set_new(decision, "reason", json_stringn(d->reason, d->rlen));
    json_object_set_new(decision, "reason_code", *d->code ? json_string(d->code) : json_null());
    json_object_set_new(decision, "by", json_string(who->name));
    json_object_set_new(decision, "decided_ms", json_integer(now));
    json_object_set_new(payload, "content", content);
    json_object_set_new(payload, "case", kase);
    json_object_set_new(payload, "decision", decision);
    snprintf(subject, sizeof subject, "decision:%lld", (long long)did);
    int64_t owner = 0;
    st = td__content_ref_owner(c, k.content_ref, &owner, err);
    if (st == TD_OK)
        st = td__event_enqueue_for(svc, c, TD_EVENT_CASE_DECIDED, subject, payload, owner, err);
    if (st == TD_OK && kind != TD_DECISION_ESCALATE)
        st = td__event_enqueue_for(svc, c,
                                   kind == TD_DECISION_REMOVE ? TD_EVENT_REMOVE : TD_EVENT_RESTORE,
                                   subject, payload, owner, err);
    json_decref(payload);
    if (st)
        return st;
    json_t *details =
        json_pack("{s:I, s:s, s:s%, s:s}", "decision_id", (json_int_t)did, "decision",
                  td_decision_name(kind), "reason", d->reason, d->rlen, "content_id", k.content_id);
    if (details && *d->code)
        json_object_set_new(details, "reason_code", json_string(d->code));
    if ((st = td__audit_id(svc, c, who, "case.decide", "case", id, details, err)))
        return st;
    if (kind == TD_DECISION_ESCALATE)
        return TD_OK;
    return td__qa_maybe_open(svc, c, who, id, did, k.content_id, err);
}

td_status td_case_decide(td_service *svc, int64_t id, const td_principal *who,
                         td_decision_kind kind, const char *reason, td_decision *out, td_error *err)
{
    return td_case_decide_coded(svc, id, who, kind, NULL, reason, out, err);
}

td_status td_case_decide_coded(td_service *svc, int64_t id, const td_principal *who,
                               td_decision_kind kind, const char *reason_code, const char *reason,
                               td_decision *out, td_error *err)
{
    size_t rlen = reason ? strnlen(reason, TD_REASON_MAX + 1) : 0;
    const char *code = reason_code ? reason_code : "";
    if (*code && !td__reason_known(svc, code))
        return td__error_set(err, TD_ERR_INVALID,
                             "reason_code: not one of the review reasons (GET"
                             " /v1/settings/review-reasons)");
    if (kind < TD_DECISION_REMOVE || kind > TD_DECISION_ESCALATE)
        return td__error_set(err, TD_ERR_INVALID, "decision must be remove, keep or escalate");
    if (rlen == 0)
        return td__error_set(err, TD_ERR_INVALID, "a decision needs a reason");
    if (rlen > TD_REASON_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "reason longer than %d bytes", TD_REASON_MAX);
    decide_tx d = {svc, id, who, kind, reason, rlen, code, td__now(svc), 0};
    td_status st = td_store_write(svc->store, decide_body, &d, err);
    if (st)
        return st;
    td_webhook_kick(svc);
    if (out) {
        memset(out, 0, sizeof *out);
        out->id = d.did;
        out->case_id = id;
        out->kind = kind;
        memcpy(out->reason, reason, rlen);
        out->reason[rlen] = '\0';
        td__copy_trunc(out->reason_code, sizeof out->reason_code, code);
        out->principal_id = who->id;
        td__copy_trunc(out->principal_name, sizeof out->principal_name, who->name);
        out->decided_ms = d.now;
    }
    return TD_OK;
}

td_status td_case_decisions(td_service *svc, int64_t id, td_decision **out, size_t *count,
                            td_error *err)
{
    td_store_conn *c;
    td_case k;
    td_status st = td_store_acquire(svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = get_on(c, id, &k, err)) == TD_OK)
        st = td__decisions_load(c, 0, id, out, count, err);
    td_store_release(svc->store, c);
    return st;
}
