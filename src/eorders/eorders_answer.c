/* The operator's answers to an evidence order: the legal officers' approvals of a delivery,
 * "cannot comply" (Annex III) for the whole order or some categories, and correspondence.
 *
 * Why approvals by distinct legal officers and then custodians: the data leaves the operator.
 * Legal officers (role legal) decide that the order is lawful and the data is what it asks for
 * (two of them when content data is asked, by default); opening the sealed data still needs k of
 * n custodians (evidence.h), so no single person, and no single role, releases anything. The
 * release request is made when the last approval needed arrives. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "eorders/eorders_int.h"

/* ---- approvals ---- */

typedef struct approve_args {
    const td_principal *who;
    const char *order, *note;
    int64_t id;
    td_eorder *o;
    td_eorder_approval *out;
} approve_args;

static td_status approve_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    approve_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td__eorder_resolve(c, a->order, &a->id, err)) ||
        (st = td__eorder_load(c, a->id, a->o, err)))
        return st;
    if (a->o->doc.framework == TD_EORDER_EU_EPOC_PR)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "%s is a preservation order: nothing is delivered", a->o->id_text);
    if (a->o->state != TD_EORDER_PRESERVED)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "%s is %s: a delivery is approved once the data is preserved",
                             a->o->id_text, td_eorder_state_name(a->o->state));
    int64_t now = td__now(eo->svc);
    if ((st = td_store_prepare(c,
                               "INSERT INTO eorder_approvals (order_id, officer, key_id, note,"
                               " approved_ms) VALUES ($1, $2, $3, $4, $5)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_text(q, 2, a->who->name, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->who->id, err)) ||
        (st = td_stmt_bind_text(q, 4, a->note ? a->note : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, now, err)) || (st = td_stmt_run(q, NULL, err)))
        return st == TD_ERR_CONFLICT ? td__error_set(err, TD_ERR_CONFLICT, "%s approved %s already",
                                                     a->who->name, a->o->id_text)
                                     : st;
    if ((st = td_store_prepare(c, "SELECT COUNT(*) FROM eorder_approvals WHERE order_id = $1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    unsigned have = row ? (unsigned)td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    a->out->approvals = have;
    a->out->needed = a->o->approvals_needed;
    a->out->complete = have >= a->o->approvals_needed;
    if (a->out->complete) {
        int64_t v[2] = {TD_EORDER_APPROVED, now};
        if ((st = td__eorder_update(c, a->id, "state = $2, approved_ms = $3", v, 2, err)))
            return st;
    }
    return td__eorders_audit(
        eo, c, a->who->name, "eorder.approved", a->id,
        json_pack("{s:s, s:I, s:I, s:I, s:b}", "officer", a->who->name, "key_id",
                  (json_int_t)a->who->id, "approvals", (json_int_t)have, "needed",
                  (json_int_t)a->o->approvals_needed, "complete", a->out->complete),
        NULL, err);
}

typedef struct request_args {
    int64_t id, request;
} request_args;

static td_status set_request_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    request_args *a = ctx;
    (void)eo;
    return td__eorder_update(c, a->id, "release_request = $2", &a->request, 1, err);
}

td_status td__eorder_make_request(td_eorders *eo, const char *actor, const td_eorder *o,
                                  int64_t *request, td_error *err)
{
    char case_ref[64], basis[TD_EORDER_FILE_NUMBER_MAX + 96], purpose[128];
    int64_t *items = NULL;
    size_t n = 0;
    td_status st;
    td_store_conn *c;
    *request = 0;
    if ((st = td_store_acquire(eo->svc->store, 0, &c, err)))
        return st;
    td_stmt *q;
    int row = 0;
    items = td__calloc((size_t)(o->records > 0 ? o->records : 1), sizeof *items);
    if (!items) {
        td_store_release(eo->svc->store, c);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    if ((st = td_store_prepare(c,
                               "SELECT evidence_item, category FROM eorder_records"
                               " WHERE order_id = $1 ORDER BY id",
                               &q, err)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, o->id, err)) == TD_OK) {
        while ((st = td_stmt_step(q, &row, err)) == TD_OK && row && n < (size_t)o->records)
            if (!((unsigned)td_stmt_column_int64(q, 1) & o->refused))
                items[n++] = td_stmt_column_int64(q, 0);
        td_stmt_reset(q);
    }
    td_store_release(eo->svc->store, c);
    if (st == TD_OK && n == 0)
        st = td__error_set(err, TD_ERR_CONFLICT, "%s: no record to deliver", o->id_text);
    if (st == TD_OK) {
        td__eorder_case_ref(case_ref, sizeof case_ref, o->id);
        snprintf(basis, sizeof basis, "%s %s of %s (%s)",
                 td_eorder_framework_name(o->doc.framework), o->doc.issuing_authority.file_number,
                 o->doc.issuing_state, o->id_text);
        snprintf(purpose, sizeof purpose, "delivery of evidence order %s to the issuing authority",
                 o->id_text);
        st = td_evidence_request(eo->evidence, actor, basis, purpose, case_ref, items, n, request,
                                 err);
    }
    td__free(items);
    if (st == TD_OK) {
        request_args ra = {o->id, *request};
        st = td__eorders_tx(eo, set_request_body, &ra, err);
    }
    return st;
}

td_status td_eorder_approve(td_eorders *eo, const td_principal *who, const char *order,
                            const char *note, td_eorder_approval *out, td_error *err)
{
    td_eorder_approval local;
    td_status st;
    if (!out)
        out = &local;
    memset(out, 0, sizeof *out);
    if (!who || who->role != TD_ROLE_LEGAL)
        return td__error_set(err, TD_ERR_INVALID, "only a legal officer (role legal) approves");
    if ((st = td__eorders_text(who->name, TD_NAME_MAX, "officer name", 1, err)) ||
        (st = td__eorders_text(note, TD_EORDER_TEXT_MAX, "note", 0, err)))
        return st;
    approve_args a = {who, order, note, 0, td__malloc(sizeof(td_eorder)), out};
    if (!a.o)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    st = td__eorders_tx(eo, approve_body, &a, err);
    if (st == TD_OK && out->complete)
        st = td__eorder_make_request(eo, who->name, a.o, &out->release_request, err);
    td__free(a.o);
    return st;
}

/* ---- cannot comply (Annex III) ---- */

typedef struct cc_args {
    const char *actor, *order;
    const td_eorder_cc_input *in;
    int64_t id;
    td_eorder *o;
} cc_args;

static json_t *cc_details(const td_eorder_cc_input *in, unsigned categories, int whole)
{
    json_t *d = json_pack("{s:s, s:o, s:b, s:s}", "reason", td_eorder_reason_name(in->reason),
                          "categories", td__eorder_categories_json(categories), "whole_order",
                          whole, "explanation", in->explanation);
    if (d && in->reason == TD_EORDER_R_CONFLICT_OF_LAW)
        json_object_set_new(d, "conflict_of_law",
                            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "third_country",
                                      in->third_country, "provisions", in->provisions,
                                      "nature_of_obligation", in->nature_of_obligation,
                                      "why_applies", in->why_applies, "link_to_country",
                                      in->link_to_country, "consequences", in->consequences));
    return d;
}

static td_status cc_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    cc_args *a = ctx;
    td_eorder *o = a->o;
    td_status st;
    if ((st = td__eorder_resolve(c, a->order, &a->id, err)) ||
        (st = td__eorder_load(c, a->id, o, err)))
        return st;
    if (o->state != TD_EORDER_COLLECTING && o->state != TD_EORDER_PRESERVED &&
        o->state != TD_EORDER_APPROVED)
        return td__error_set(err, TD_ERR_CONFLICT, "%s is %s: nothing to answer", o->id_text,
                             td_eorder_state_name(o->state));
    if (a->in->categories & ~o->doc.categories)
        return td__error_set(err, TD_ERR_INVALID,
                             "categories: the order does not ask for all of these");
    unsigned scope = o->doc.categories & ~o->refused;
    unsigned cats = a->in->categories ? a->in->categories & scope : scope;
    int whole = (cats & scope) == scope;
    if (!cats)
        return td__error_set(err, TD_ERR_CONFLICT, "categories: answered cannot comply already");
    int64_t now = td__now(eo->svc);
    if (whole) {
        /* The clock pauses: no deadline while the authority clarifies; a clarification restarts
         * the full period (eorders_events.c). A preservation keeps its data meanwhile. */
        int64_t v[6] = {TD_EORDER_PAUSED, o->state, now, a->in->reason, 0, 0};
        if ((st = td__eorder_update(c, a->id,
                                    "state = $2, paused_from = $3, paused_ms = $4, reason = $5,"
                                    " due_ms = $6, collect_ms = $7, transmit_from_ms = $6",
                                    v, 6, err)))
            return st;
        td_stmt *q;
        if ((st = td_store_prepare(c, "UPDATE eorders SET explanation = $2 WHERE id = $1", &q,
                                   err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = td_stmt_bind_text(q, 2, a->in->explanation, (size_t)-1, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            return st;
    } else {
        int64_t v[1] = {(int64_t)(o->refused | cats)};
        if ((st = td__eorder_update(c, a->id, "refused = $2", v, 1, err)))
            return st;
    }
    if ((st = td__eorder_message(eo, c, o, TD_EORDER_MSG_NON_EXECUTION,
                                 cc_details(a->in, cats, whole), err)))
        return st;
    return td__eorders_audit(eo, c, a->actor, "eorder.cannot_comply", a->id,
                             json_pack("{s:s, s:o, s:b}", "reason",
                                       td_eorder_reason_name(a->in->reason), "categories",
                                       td__eorder_categories_json(cats), "whole_order", whole),
                             NULL, err);
}

td_status td_eorder_cannot_comply(td_eorders *eo, const char *actor, const char *order,
                                  const td_eorder_cc_input *in, td_eorder *out, td_error *err)
{
    td_status st;
    if (!in || in->reason < TD_EORDER_R_INCOMPLETE || in->reason > TD_EORDER_R_CONFLICT_OF_LAW)
        return td__error_set(err, TD_ERR_INVALID, "reason: expected an Annex III reason");
    if (in->categories & ~(unsigned)TD_EORDER_CAT_ALL)
        return td__error_set(err, TD_ERR_INVALID, "categories: unknown category bits");
    if ((st = td__eorders_text(in->explanation, TD_EORDER_TEXT_MAX, "explanation", 1, err)))
        return st;
    const char *const col[6] = {in->third_country, in->provisions,      in->nature_of_obligation,
                                in->why_applies,   in->link_to_country, in->consequences};
    static const char *const col_names[6] = {"third_country",        "provisions",
                                             "nature_of_obligation", "why_applies",
                                             "link_to_country",      "consequences"};
    int conflict = in->reason == TD_EORDER_R_CONFLICT_OF_LAW;
    for (int i = 0; i < 6; i++) {
        if (!conflict && col[i])
            return td__error_set(err, TD_ERR_INVALID, "%s: only with conflict_of_law",
                                 col_names[i]);
        if (conflict &&
            (st = td__eorders_text(col[i], TD_EORDER_SHORT_TEXT_MAX, col_names[i], 1, err)))
            return st;
    }
    cc_args a = {actor, order, in, 0, td__malloc(sizeof(td_eorder))};
    if (!a.o)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    st = td__eorders_tx(eo, cc_body, &a, err);
    if (st == TD_OK && out) {
        td_store_conn *c;
        if ((st = td_store_acquire(eo->svc->store, 0, &c, err)) == TD_OK) {
            st = td__eorder_load(c, a.id, out, err);
            td_store_release(eo->svc->store, c);
        }
    }
    td__free(a.o);
    return st;
}

/* ---- correspondence ---- */

typedef struct corr_args {
    const char *actor, *order, *text;
    td_eorder_correspondence_kind kind;
    td_eorder *o;
} corr_args;

static const char *corr_name(td_eorder_correspondence_kind k)
{
    switch (k) {
    case TD_EORDER_REQUEST_ADDITIONAL_INFORMATION: return "request_additional_information";
    case TD_EORDER_PROVIDE_ADDITIONAL_INFORMATION: return "provide_additional_information";
    case TD_EORDER_CORRESPONDENCE_OTHER: return "other";
    }
    return "unknown";
}

static td_status corr_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    corr_args *a = ctx;
    int64_t id = 0;
    uint8_t digest[32];
    char hex[65];
    td_status st;
    if ((st = td__eorder_resolve(c, a->order, &id, err)) ||
        (st = td__eorder_load(c, id, a->o, err)))
        return st;
    if (a->o->state == TD_EORDER_WITHDRAWN)
        return td__error_set(err, TD_ERR_CONFLICT, "%s was withdrawn", a->o->id_text);
    crypto_hash_sha256(digest, (const uint8_t *)a->text, strlen(a->text));
    td__hex_encode(digest, sizeof digest, hex);
    if ((st = td__eorder_message(
             eo, c, a->o, TD_EORDER_MSG_CORRESPONDENCE,
             json_pack("{s:s, s:s}", "kind", corr_name(a->kind), "text", a->text), err)))
        return st;
    return td__eorders_audit(
        eo, c, a->actor, "eorder.correspondence_sent", id,
        json_pack("{s:s, s:s}", "kind", corr_name(a->kind), "text_sha256", hex), NULL, err);
}

td_status td_eorder_correspond(td_eorders *eo, const char *actor, const char *order,
                               td_eorder_correspondence_kind kind, const char *text, td_error *err)
{
    td_status st;
    if (kind < TD_EORDER_REQUEST_ADDITIONAL_INFORMATION || kind > TD_EORDER_CORRESPONDENCE_OTHER)
        return td__error_set(err, TD_ERR_INVALID, "kind: unknown correspondence kind");
    if ((st = td__eorders_text(text, TD_EORDER_TEXT_MAX, "text", 1, err)))
        return st;
    corr_args a = {actor, order, text, kind, td__malloc(sizeof(td_eorder))};
    if (!a.o)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    st = td__eorders_tx(eo, corr_body, &a, err);
    td__free(a.o);
    return st;
}
