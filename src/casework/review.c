/* The review workflow around cases (docs/casework.md): the reasons a decision may name, QA (a
 * sampled share of remove and keep decisions reviewed again by a second moderator, which records
 * agreement or disagreement and never changes the case), the other content of an uploader, and
 * the earlier decisions on content that matched a signal. The queues are queues.c's. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"

/* ---- reasons ---- */

/* The TCO Regulation's categories of terrorist content (Regulation (EU) 2021/784, Art. 2(7)),
 * and the two a moderator needs besides. */
static const char default_reasons[] =
    "incitement=Incites the commission of terrorist offences;"
    "solicitation=Solicits a person or group to commit or contribute to terrorist offences;"
    "participation=Solicits participation in the activities of a terrorist group;"
    "instruction=Instructs on the making or use of explosives, weapons or other methods for"
    " terrorist purposes;"
    "threat=Threatens to commit a terrorist offence;"
    "not_terrorist_content=Not terrorist content;"
    "other=Other";

static void trim(const char **s, size_t *n)
{
    while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

td_status td_review_reasons_parse(const char *text, td_review_reason **out, size_t *count,
                                  td_error *err)
{
    *out = NULL;
    *count = 0;
    if (!text)
        return td__error_set(err, TD_ERR_INVALID, "no reasons");
    td_review_reason *list = td__calloc(TD_REVIEW_REASONS_MAX, sizeof *list);
    if (!list)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    size_t n = 0, item = 0;
    td_status st = TD_OK;
    for (const char *p = text;; item++) {
        size_t len = strcspn(p, ";");
        const char *it = p;
        size_t il = len;
        trim(&it, &il);
        const char *eq = il ? memchr(it, '=', il) : NULL;
        if (!eq) {
            st = td__error_set(err, TD_ERR_INVALID, "reason %zu: expected code=Label", item + 1);
            break;
        }
        const char *code = it, *label = eq + 1;
        size_t cl = (size_t)(eq - it), ll = il - cl - 1;
        trim(&code, &cl);
        trim(&label, &ll);
        if (cl == 0 || cl > TD_REASON_CODE_MAX ||
            strspn(code, "abcdefghijklmnopqrstuvwxyz"
                         "0123456789_") < cl) {
            st = td__error_set(err, TD_ERR_INVALID,
                               "reason %zu: the code must be 1..%d of a-z, 0-9 and _", item + 1,
                               TD_REASON_CODE_MAX);
            break;
        }
        size_t chars = 0, i = 0;
        int bad = 0;
        while (i < ll && !bad) {
            uint32_t cp;
            size_t k = td__utf8_next((const unsigned char *)label + i, ll - i, &cp);
            bad = k == 0 || td__unicode_is_control(cp);
            i += k ? k : 1;
            chars++;
        }
        if (bad || chars == 0 || chars > TD_REASON_LABEL_MAX) {
            st = td__error_set(err, TD_ERR_INVALID,
                               "reason %zu: the label must be 1..%d characters of UTF-8 text",
                               item + 1, TD_REASON_LABEL_MAX);
            break;
        }
        for (size_t j = 0; j < n && st == TD_OK; j++)
            if (strlen(list[j].code) == cl && memcmp(list[j].code, code, cl) == 0)
                st = td__error_set(err, TD_ERR_INVALID, "reason %zu: code '%.*s' given twice",
                                   item + 1, (int)cl, code);
        if (st)
            break;
        if (n >= TD_REVIEW_REASONS_MAX) {
            st = td__error_set(err, TD_ERR_LIMIT, "more than %d reasons", TD_REVIEW_REASONS_MAX);
            break;
        }
        memcpy(list[n].code, code, cl);
        memcpy(list[n].label, label, ll);
        n++;
        if (!p[len])
            break;
        p += len + 1;
    }
    if (st) {
        td__free(list);
        return st;
    }
    *out = list;
    *count = n;
    return TD_OK;
}

td_status td__reasons_load(td_service *svc, td_error *err)
{
    const char *text = svc->opts.review_reasons && *svc->opts.review_reasons
                           ? svc->opts.review_reasons
                           : default_reasons;
    svc->opts.review_reasons = NULL; /* the caller's string: not kept */
    td_status st = td_review_reasons_parse(text, &svc->reasons, &svc->n_reasons, err);
    if (st)
        td__error_prefix(err, "review_reasons: ");
    return st;
}

const td_review_reason *td_review_reasons(td_service *svc, size_t *count)
{
    *count = svc->n_reasons;
    return svc->reasons;
}

int td__reason_known(td_service *svc, const char *code)
{
    for (size_t i = 0; i < svc->n_reasons; i++)
        if (strcmp(svc->reasons[i].code, code) == 0)
            return 1;
    return 0;
}

/* ---- QA ---- */

static const char *const qa_names[] = {NULL, "pending", "agreed", "disagreed"};

const char *td_qa_state_name(td_qa_state state)
{
    return state >= TD_QA_PENDING && state <= TD_QA_DISAGREED ? qa_names[state] : "unknown";
}

td_status td_qa_state_parse(const char *name, td_qa_state *out)
{
    for (int i = TD_QA_PENDING; name && i <= TD_QA_DISAGREED; i++)
        if (strcmp(name, qa_names[i]) == 0) {
            *out = (td_qa_state)i;
            return TD_OK;
        }
    return TD_ERR_INVALID;
}

/* Whether this decision is sampled: exactly never at 0 and always at 1; otherwise a uniform
 * 32-bit draw below share * 2^32. */
static int qa_draw(double share)
{
    if (share <= 0.0)
        return 0;
    if (share >= 1.0)
        return 1;
    return (double)randombytes_random() < share * 4294967296.0;
}

td_status td__qa_maybe_open(td_service *svc, td_store_conn *c, const td_principal *who,
                            int64_t case_id, int64_t did, const char *content_id, td_error *err)
{
    td_stmt *q;
    int row;
    if (!qa_draw(svc->opts.review_qa_share))
        return TD_OK;
    td_status st = td_store_prepare(c,
                                    "INSERT INTO qa_reviews (decision_id, case_id, state,"
                                    " created_ms) VALUES ($1, $2, $3, $4) RETURNING id",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, did, err)) ||
        (st = td_stmt_bind_int64(q, 2, case_id, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD_QA_PENDING, err)) ||
        (st = td_stmt_bind_int64(q, 4, td__now(svc), err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    int64_t id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    /* The service samples: the actor is "system"; who decided is in the details. */
    return td__audit_id(svc, c, NULL, "qa.open", "qa", id,
                        json_pack("{s:I, s:I, s:s, s:I, s:s}", "case_id", (json_int_t)case_id,
                                  "decision_id", (json_int_t)did, "content_id", content_id,
                                  "first_by_id", (json_int_t)who->id, "first_by", who->name),
                        err);
}

#define QA_COLUMNS                                                                                 \
    "r.id, r.case_id, c.content_id, r.state, r.created_ms, d.id, d.kind, d.reason,"                \
    " d.principal_id, d.principal_name, d.decided_ms, d.reason_code, r.second_kind,"               \
    " r.second_reason_code, r.second_reason, r.second_by, r.second_by_name, r.second_ms"
#define QA_FROM                                                                                    \
    " FROM qa_reviews r JOIN decisions d ON d.id = r.decision_id"                                  \
    " JOIN cases k ON k.id = r.case_id JOIN content c ON c.id = k.content_ref"

static void qa_row(td_stmt *q, td_qa *a)
{
    memset(a, 0, sizeof *a);
    a->id = td_stmt_column_int64(q, 0);
    a->case_id = td_stmt_column_int64(q, 1);
    td__copy_trunc(a->content_id, sizeof a->content_id, td_stmt_column_text(q, 2));
    a->state = (td_qa_state)td_stmt_column_int64(q, 3);
    a->created_ms = td_stmt_column_int64(q, 4);
    a->first.id = td_stmt_column_int64(q, 5);
    a->first.case_id = a->case_id;
    a->first.kind = (td_decision_kind)td_stmt_column_int64(q, 6);
    td__copy_trunc(a->first.reason, sizeof a->first.reason, td_stmt_column_text(q, 7));
    a->first.principal_id = td_stmt_column_int64(q, 8);
    td__copy_trunc(a->first.principal_name, sizeof a->first.principal_name,
                   td_stmt_column_text(q, 9));
    a->first.decided_ms = td_stmt_column_int64(q, 10);
    td__copy_trunc(a->first.reason_code, sizeof a->first.reason_code, td_stmt_column_text(q, 11));
    a->second.kind = (td_decision_kind)td_stmt_column_int64(q, 12);
    a->has_second = a->second.kind != 0;
    if (!a->has_second)
        return;
    a->second.id = a->id;
    a->second.case_id = a->case_id;
    td__copy_trunc(a->second.reason_code, sizeof a->second.reason_code, td_stmt_column_text(q, 13));
    td__copy_trunc(a->second.reason, sizeof a->second.reason, td_stmt_column_text(q, 14));
    a->second.principal_id = td_stmt_column_int64(q, 15);
    td__copy_trunc(a->second.principal_name, sizeof a->second.principal_name,
                   td_stmt_column_text(q, 16));
    a->second.decided_ms = td_stmt_column_int64(q, 17);
}

static td_status qa_load(td_store_conn *c, int64_t id, td_qa *out, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c, "SELECT " QA_COLUMNS QA_FROM " WHERE r.id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        qa_row(q, out);
    td_stmt_reset(q);
    return row ? TD_OK : td__error_set(err, TD_ERR_NOT_FOUND, "no QA review %lld", (long long)id);
}

typedef struct qa_list_ctx {
    unsigned states;
    size_t limit, offset;
    td_qa *list;
    size_t n;
} qa_list_ctx;

static td_status qa_list_body(td_store_conn *c, void *ctx, td_error *err)
{
    qa_list_ctx *l = ctx;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c,
                                    "SELECT " QA_COLUMNS QA_FROM
                                    " WHERE (($1 / (1 << CAST(r.state AS INT))) % 2) = 1"
                                    " ORDER BY r.id DESC LIMIT $2 OFFSET $3",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, l->states, err)) ||
        (st = td_stmt_bind_int64(q, 2, (int64_t)l->limit, err)) ||
        (st = td_stmt_bind_int64(q, 3, (int64_t)l->offset, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && l->n < l->limit)
        qa_row(q, &l->list[l->n++]);
    td_stmt_reset(q);
    return st;
}

td_status td_qa_list(td_service *svc, unsigned states, size_t limit, size_t offset, td_qa **out,
                     size_t *count, td_error *err)
{
    *out = NULL;
    *count = 0;
    if (!limit)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d QA reviews per page", TD_PAGE_MAX);
    qa_list_ctx l = {
        states ? states : (1u << TD_QA_PENDING) | (1u << TD_QA_AGREED) | (1u << TD_QA_DISAGREED),
        limit, offset, td__mallocarray(limit, sizeof(td_qa)), 0};
    if (!l.list)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st = td_store_read(svc->store, qa_list_body, &l, err);
    if (st) {
        td__free(l.list);
        return st;
    }
    *out = l.list;
    *count = l.n;
    return TD_OK;
}

typedef struct qa_get_ctx {
    int64_t id;
    td_qa *out;
} qa_get_ctx;

static td_status qa_get_body(td_store_conn *c, void *ctx, td_error *err)
{
    qa_get_ctx *g = ctx;
    return qa_load(c, g->id, g->out, err);
}

td_status td_qa_get(td_service *svc, int64_t id, td_qa *out, td_error *err)
{
    qa_get_ctx g = {id, out};
    return td_store_read(svc->store, qa_get_body, &g, err);
}

typedef struct qa_decide_ctx {
    td_service *svc;
    int64_t id;
    const td_principal *who;
    td_decision_kind kind;
    const char *code, *reason;
    int same;
    td_qa *out;
} qa_decide_ctx;

static td_status qa_decide_body(td_store_conn *c, void *ctx, td_error *err)
{
    qa_decide_ctx *d = ctx;
    td_qa a;
    td_stmt *q;
    td_status st = qa_load(c, d->id, &a, err);
    if (st)
        return st;
    if (a.first.principal_id == d->who->id) {
        d->same = 1;
        return td__error_set(err, TD_ERR_CONFLICT,
                             "QA review %lld: %s made the first decision; a second reviewer"
                             " must review it",
                             (long long)d->id, d->who->name);
    }
    if (a.state != TD_QA_PENDING)
        return td__error_set(err, TD_ERR_CONFLICT, "QA review %lld was already reviewed (%s)",
                             (long long)d->id, td_qa_state_name(a.state));
    td_qa_state state = d->kind == a.first.kind ? TD_QA_AGREED : TD_QA_DISAGREED;
    int64_t now = td__now(d->svc);
    if ((st = td_store_prepare(c,
                               "UPDATE qa_reviews SET state = $1, second_kind = $2,"
                               " second_reason_code = $3, second_reason = $4, second_by = $5,"
                               " second_by_name = $6, second_ms = $7 WHERE id = $8 AND state = $9",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, state, err)) ||
        (st = td_stmt_bind_int64(q, 2, d->kind, err)) ||
        (st = td_stmt_bind_text(q, 3, d->code, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 4, d->reason, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, d->who->id, err)) ||
        (st = td_stmt_bind_text(q, 6, d->who->name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 7, now, err)) || (st = td_stmt_bind_int64(q, 8, d->id, err)) ||
        (st = td_stmt_bind_int64(q, 9, TD_QA_PENDING, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    json_t *details =
        json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "case_id", (json_int_t)a.case_id,
                  "decision_id", (json_int_t)a.first.id, "content_id", a.content_id,
                  "first_decision", td_decision_name(a.first.kind), "decision",
                  td_decision_name(d->kind), "reason", d->reason, "state", td_qa_state_name(state));
    if (details && *d->code)
        json_object_set_new(details, "reason_code", json_string(d->code));
    if ((st = td__audit_id(d->svc, c, d->who, "qa.decide", "qa", d->id, details, err)))
        return st;
    return d->out ? qa_load(c, d->id, d->out, err) : TD_OK;
}

td_status td_qa_decide(td_service *svc, int64_t id, const td_principal *who, td_decision_kind kind,
                       const char *reason_code, const char *reason, int *same_reviewer, td_qa *out,
                       td_error *err)
{
    size_t rlen = reason ? strnlen(reason, TD_REASON_MAX + 1) : 0;
    const char *code = reason_code ? reason_code : "";
    if (same_reviewer)
        *same_reviewer = 0;
    if (kind != TD_DECISION_REMOVE && kind != TD_DECISION_KEEP)
        return td__error_set(err, TD_ERR_INVALID, "a QA decision is remove or keep");
    if (*code && !td__reason_known(svc, code))
        return td__error_set(err, TD_ERR_INVALID,
                             "reason_code: not one of the review reasons (GET"
                             " /v1/settings/review-reasons)");
    if (rlen == 0)
        return td__error_set(err, TD_ERR_INVALID, "a decision needs a reason");
    if (rlen > TD_REASON_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "reason longer than %d bytes", TD_REASON_MAX);
    qa_decide_ctx d = {svc, id, who, kind, code, reason, 0, out};
    td_status st = td_store_write(svc->store, qa_decide_body, &d, err);
    if (same_reviewer)
        *same_reviewer = d.same;
    return st;
}

/* ---- an uploader's content ---- */

typedef struct uploader_ctx {
    const char *uploader;
    int64_t platform;
    size_t limit, offset;
    td_content_brief *list;
    size_t n;
} uploader_ctx;

static td_status uploader_body(td_store_conn *c, void *ctx, td_error *err)
{
    uploader_ctx *u = ctx;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(
        c,
        "SELECT c.content_id, c.received_ms, c.source, c.url,"
        " (SELECT COUNT(*) FROM matches m WHERE m.content_ref = c.id),"
        " k.id, k.state, k.outcome FROM content c"
        " LEFT JOIN cases k ON k.id = (SELECT MAX(x.id) FROM cases x WHERE x.content_ref = c.id)"
        " WHERE c.uploader = $1 AND ($2 = 0 OR c.platform_key = $2)"
        " ORDER BY c.received_ms DESC, c.id DESC LIMIT $3 OFFSET $4",
        &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, u->uploader, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, u->platform, err)) ||
        (st = td_stmt_bind_int64(q, 3, (int64_t)u->limit, err)) ||
        (st = td_stmt_bind_int64(q, 4, (int64_t)u->offset, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && u->n < u->limit) {
        td_content_brief *b = &u->list[u->n++];
        memset(b, 0, sizeof *b);
        td__copy_trunc(b->content_id, sizeof b->content_id, td_stmt_column_text(q, 0));
        b->received_ms = td_stmt_column_int64(q, 1);
        td__copy_trunc(b->source, sizeof b->source, td_stmt_column_text(q, 2));
        td__copy_trunc(b->url, sizeof b->url, td_stmt_column_text(q, 3));
        b->matches = td_stmt_column_int64(q, 4);
        b->case_id = td_stmt_column_int64(q, 5); /* NULL reads as 0 */
        b->case_state = (td_case_state)td_stmt_column_int64(q, 6);
        b->decision = (td_decision_kind)td_stmt_column_int64(q, 7);
    }
    td_stmt_reset(q);
    return st;
}

td_status td_content_by_uploader(td_service *svc, const td_principal *who, const char *uploader,
                                 size_t limit, size_t offset, td_content_brief **out, size_t *count,
                                 td_error *err)
{
    *out = NULL;
    *count = 0;
    size_t n = uploader ? strnlen(uploader, TD_UPLOADER_MAX + 1) : 0;
    if (n == 0)
        return td__error_set(err, TD_ERR_INVALID, "uploader: required");
    if (n > TD_UPLOADER_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "uploader: longer than %d bytes", TD_UPLOADER_MAX);
    if (!limit)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d content items per page", TD_PAGE_MAX);
    uploader_ctx u = {uploader,
                      td_principal_platform(who),
                      limit,
                      offset,
                      td__mallocarray(limit, sizeof(td_content_brief)),
                      0};
    if (!u.list)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_status st = td_store_read(svc->store, uploader_body, &u, err);
    if (st) {
        td__free(u.list);
        return st;
    }
    *out = u.list;
    *count = u.n;
    return TD_OK;
}

/* ---- decisions on a signal ---- */

typedef struct history_ctx {
    int64_t signal_id;
    size_t limit;
    td_decision_ref *list;
    size_t n;
} history_ctx;

static td_status history_body(td_store_conn *c, void *ctx, td_error *err)
{
    history_ctx *h = ctx;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(
        c,
        "SELECT d.id, d.case_id, d.kind, d.reason, d.principal_id, d.principal_name,"
        " d.decided_ms, d.reason_code, c.content_id FROM decisions d"
        " JOIN cases k ON k.id = d.case_id JOIN content c ON c.id = k.content_ref"
        " WHERE k.content_ref IN (SELECT m.content_ref FROM matches m WHERE m.signal_id = $1)"
        " ORDER BY d.decided_ms DESC, d.id DESC LIMIT $2",
        &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, h->signal_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, (int64_t)h->limit, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && h->n < h->limit) {
        td_decision_ref *r = &h->list[h->n++];
        td_decision *d = &r->decision;
        memset(r, 0, sizeof *r);
        d->id = td_stmt_column_int64(q, 0);
        d->case_id = td_stmt_column_int64(q, 1);
        d->kind = (td_decision_kind)td_stmt_column_int64(q, 2);
        td__copy_trunc(d->reason, sizeof d->reason, td_stmt_column_text(q, 3));
        d->principal_id = td_stmt_column_int64(q, 4);
        td__copy_trunc(d->principal_name, sizeof d->principal_name, td_stmt_column_text(q, 5));
        d->decided_ms = td_stmt_column_int64(q, 6);
        td__copy_trunc(d->reason_code, sizeof d->reason_code, td_stmt_column_text(q, 7));
        td__copy_trunc(r->content_id, sizeof r->content_id, td_stmt_column_text(q, 8));
    }
    td_stmt_reset(q);
    return st;
}

td_status td_signal_decisions(td_service *svc, const char *bank, int64_t signal_id, size_t limit,
                              td_decision_ref **out, size_t *count, td_error *err)
{
    td_signal sig;
    *out = NULL;
    *count = 0;
    if (!limit)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d decisions per page", TD_PAGE_MAX);
    td_status st = td_signal_get(svc, bank, signal_id, &sig, err);
    if (st)
        return st;
    history_ctx h = {signal_id, limit, td__mallocarray(limit, sizeof(td_decision_ref)), 0};
    if (!h.list)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if ((st = td_store_read(svc->store, history_body, &h, err))) {
        td__free(h.list);
        return st;
    }
    *out = h.list;
    *count = h.n;
    return TD_OK;
}
