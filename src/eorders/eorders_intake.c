/* Intake of evidence orders: signature, authority, the document, the rules, the deadlines, and
 * the receipt committed before anything is acknowledged.
 *
 * Order of checks, as for removal orders (orders_intake.c) and for the same reasons: size first;
 * then the signature's presence and shape; then only the issuing authority's name is read, to
 * find its key; then the Ed25519 signature over the exact bytes; only a genuine document is
 * parsed in full. A transport that authenticated the sender itself (the ETSI XML intake over
 * e-CODEX) skips the signature, never the authority's registration.
 *
 * The rules that do not make a document malformed are decided here, with the receipt time:
 *  - a uk_opo served more than three calendar months after it was made has lapsed: refused, and
 *    only the refusal is recorded (an audit entry with the body's digest);
 *  - a production order for traffic or content data without a judge as issuer or validator is
 *    recorded and answered at once as not executed (Annex III, invalid_issuing_authority), and
 *    nothing is collected;
 *  - every other order is preserved at receipt: the "evidence.collect" webhook asks the platform
 *    for the data in the same transaction as the order's row. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "eorders/eorders_int.h"

/* The authority named name (*found) and the one caller_key_id is linked to (*linked, 0: none). */
static td_status lookup(td_eorders *eo, const char *name, int64_t caller_key_id, td_authority *auth,
                        int *found, int64_t *linked, td_error *err)
{
    td_store_conn *c;
    td_status st = td_store_acquire(eo->svc->store, 0, &c, err);
    *found = 0;
    *linked = 0;
    if (st)
        return st;
    if (name)
        st = td__authority_by_name(c, name, auth, found, err);
    if (st == TD_OK && caller_key_id > 0) {
        td_stmt *q;
        int row = 0;
        if ((st = td_store_prepare(c,
                                   "SELECT authority_id FROM order_authority_keys"
                                   " WHERE key_id = $1",
                                   &q, err)) == TD_OK &&
            (st = td_stmt_bind_int64(q, 1, caller_key_id, err)) == TD_OK &&
            (st = td_stmt_step(q, &row, err)) == TD_OK) {
            *linked = row ? td_stmt_column_int64(q, 0) : 0;
            td_stmt_reset(q);
        }
    }
    td_store_release(eo->svc->store, c);
    return st;
}

/* Three calendar months after t (the day clamped to the month's last: 30 Nov + 3 months is
 * 28 or 29 Feb). */
static int64_t plus_three_months(int64_t t)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char text[32];
    td_order_time_format(t, text); /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    int y = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
    int m = (text[5] - '0') * 10 + (text[6] - '0');
    int d = (text[8] - '0') * 10 + (text[9] - '0');
    m += 3;
    if (m > 12) {
        m -= 12;
        y++;
    }
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int last = mdays[m - 1] + (m == 2 && leap);
    if (d > last)
        d = last;
    char out[64];
    snprintf(out, sizeof out, "%04d-%02d-%02d%.21s", y % 10000, m, d, text + 10);
    int64_t r = td_order_time_parse(out, strlen(out));
    return r > 0 ? r : t + TD__EO_OPO_LAPSE;
}

void td__eorder_deadlines(const td_eorders *eo, const td_eorder_doc *d, int64_t received,
                          int64_t start, td_eorder_deadlines *out)
{
    memset(out, 0, sizeof *out);
    out->clock_start_ms = start;
    switch (d->framework) {
    case TD_EORDER_EU_EPOC:
        switch (d->deadline) {
        case TD_EORDER_TEN_DAYS_ENFORCING:
            /* Transmitted at the end of 10 days, unless the enforcing state confirms earlier that
             * it raises no grounds; due within the transmit window after that. */
            out->transmit_from_ms = start + TD__EO_TEN_DAYS;
            out->due_ms = out->transmit_from_ms + eo->opts.transmit_window_ms;
            break;
        case TD_EORDER_EIGHT_HOURS:
            out->transmit_from_ms = start;
            out->due_ms = start + 8 * TD__EO_HOUR;
            out->grounds_until_ms = received + TD__EO_GROUNDS_WINDOW;
            break;
        case TD_EORDER_TEN_DAYS_ASAP:
        case TD_EORDER_DEADLINE_NONE:
            out->transmit_from_ms = start;
            out->due_ms = start + TD__EO_TEN_DAYS;
            break;
        }
        break;
    case TD_EORDER_EU_EPOC_PR: out->preserve_until_ms = start + TD__EO_PRESERVE; break;
    case TD_EORDER_UK_OPO:
    case TD_EORDER_US_CLOUD_ACT:
        out->transmit_from_ms = start;
        out->due_ms = start + d->compliance_period_ms;
        break;
    }
    /* The platform answers within collect_ms, and within half of a production period. */
    int64_t collect = eo->opts.collect_ms;
    if (out->due_ms && (out->due_ms - start) / 2 < collect)
        collect = (out->due_ms - start) / 2;
    out->collect_ms = start + collect;
}

unsigned td__eorder_approvals_needed(const td_eorders *eo, const td_eorder_doc *d)
{
    return d->categories & TD_EORDER_CAT_CONTENT ? eo->opts.approvals_content
                                                 : eo->opts.approvals_other;
}

td_status td__eorder_collect(td_eorders *eo, td_store_conn *c, int64_t id, const td_eorder_doc *d,
                             int64_t answer_by, td_error *err)
{
    char idt[TD_EORDER_ID_TEXT_MAX + 1];
    td_eorder_id_format(id, idt);
    json_t *p = json_object(), *ids = json_array(), *subs = json_array();
    if (!p || !ids || !subs) {
        json_decref(p);
        json_decref(ids);
        json_decref(subs);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < d->n_identifiers; i++) {
        const td_eorder_identifier *x = &d->identifiers[i];
        json_t *o = json_pack("{s:s, s:s}", "type", td_eorder_identifier_type_name(x->type),
                              "value", x->value);
        if (o && x->port >= 0)
            json_object_set_new(o, "port", json_integer(x->port));
        if (o && x->at_ms)
            json_object_set_new(o, "at", td__eorder_time_json(x->at_ms));
        json_array_append_new(ids, o);
    }
    for (unsigned bit = 1; bit < TD_EORDER_SUB_ALL; bit <<= 1)
        if (d->subscriber & bit)
            json_array_append_new(subs, json_string(td_eorder_subscriber_name(bit)));
    json_object_set_new(p, "order", json_string(idt));
    if (d->ext_id[0])
        json_object_set_new(p, "ext_id", json_string(d->ext_id));
    json_object_set_new(p, "framework", json_string(td_eorder_framework_name(d->framework)));
    json_object_set_new(p, "identifiers", ids);
    json_object_set_new(p, "categories", td__eorder_categories_json(d->categories));
    json_object_set_new(p, "subscriber", subs);
    json_object_set_new(p, "time_range",
                        json_pack("{s:o, s:o}", "from", td__eorder_time_json(d->from_ms), "to",
                                  td__eorder_time_json(d->to_ms)));
    json_object_set_new(p, "answer_by", td__eorder_time_json(answer_by));
    /* The subject makes the idempotency key: each asking is its own event (a correction asks
     * again, possibly with the same answer time), so a random part tells them apart. */
    char subject[96];
    snprintf(subject, sizeof subject, "%s:%lld:%08x%08x", idt, (long long)answer_by,
             (unsigned)randombytes_random(), (unsigned)randombytes_random());
    td_status st = td__event_enqueue(eo->svc, c, TD_EVENT_EVIDENCE_COLLECT, subject, p, err);
    json_decref(p);
    return st;
}

/* ---- the receipt ---- */

typedef struct recv_args {
    const td_authority *auth;
    const td_eorder_doc *doc;
    const td_eorder_intake *in;
    const uint8_t *sig; /* NULL: transport */
    const char *actor;
    char sha[65];
    td_eorder_receipt *out;
    td_eorder_rejection *why;
} recv_args;

static void receipt_from(const td_eorder *o, td_eorder_receipt *r)
{
    r->id = o->id;
    memcpy(r->id_text, o->id_text, sizeof r->id_text);
    r->framework = o->doc.framework;
    r->state = o->state;
    r->reason = o->reason;
    r->received_ms = o->received_ms;
    r->deadlines = o->deadlines;
    memcpy(r->body_sha256, o->body_sha256, sizeof r->body_sha256);
}

/* A stored order with the same authority, framework and file number, or the same ext_id:
 * *id, or 0. The same ext_id from another authority is refused. */
static td_status find_duplicate(recv_args *a, td_store_conn *c, int64_t *id, td_error *err)
{
    const td_eorder_doc *d = a->doc;
    td_stmt *q;
    int row = 0;
    td_status st;
    *id = 0;
    if (d->ext_id[0]) {
        if ((st = td_store_prepare(c, "SELECT id, authority_id FROM eorders WHERE ext_id = $1", &q,
                                   err)) ||
            (st = td_stmt_bind_text(q, 1, d->ext_id, (size_t)-1, err)) ||
            (st = td_stmt_step(q, &row, err)))
            return st;
        int64_t found = row ? td_stmt_column_int64(q, 0) : 0,
                owner = row ? td_stmt_column_int64(q, 1) : 0;
        td_stmt_reset(q);
        if (found && owner != a->auth->id)
            return td__eorder_refuse(a->why, TD_EORDER_CONFLICT, "ext_id", TD_ERR_CONFLICT, err,
                                     "another authority's order has this ext_id");
        if (found) {
            *id = found;
            return TD_OK;
        }
    }
    if ((st = td_store_prepare(c,
                               "SELECT id FROM eorders WHERE authority_id = $1 AND framework = $2"
                               " AND reference = $3",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->auth->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, d->framework, err)) ||
        (st = td_stmt_bind_text(q, 3, d->issuing_authority.file_number, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    *id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

/* The earlier preservation (or production) order D.earlier_order names, among ours: by our id
 * when given, else by framework and reference (the newest). 0 when unknown. */
static td_status find_earlier(td_store_conn *c, const td_eorder_doc *d, int64_t *id, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    int64_t ours = td_eorder_id_parse(d->earlier_id);
    *id = 0;
    if (!d->has_earlier)
        return TD_OK;
    if (ours)
        st =
            td_store_prepare(c, "SELECT id FROM eorders WHERE id = $1 AND framework = $2", &q, err);
    else
        st = td_store_prepare(c,
                              "SELECT id FROM eorders WHERE reference = $1 AND framework = $2"
                              " ORDER BY id DESC LIMIT 1",
                              &q, err);
    if (st ||
        (st = ours ? td_stmt_bind_int64(q, 1, ours, err)
                   : td_stmt_bind_text(q, 1, d->earlier_reference, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, d->earlier_framework, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    *id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

static td_status recv_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    recv_args *a = ctx;
    const td_eorder_doc *d = a->doc;
    td_eorder_receipt *r = a->out;
    int64_t dup = 0, linked = 0;
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = find_duplicate(a, c, &dup, err)))
        return st;
    if (dup) {
        td_eorder *o = td__malloc(sizeof *o);
        if (!o)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        st = td__eorder_load(c, dup, o, err);
        if (st == TD_OK)
            receipt_from(o, r);
        td__free(o);
        r->duplicate = 1;
        return st;
    }
    int64_t now = td__now(eo->svc);
    int executable = td_eorder_doc_executable(d);
    td_eorder_deadlines dl;
    td__eorder_deadlines(eo, d, now, now, &dl);
    if (!executable) {
        memset(&dl, 0, sizeof dl);
        dl.clock_start_ms = now;
    }
    if (d->framework == TD_EORDER_EU_EPOC && (st = find_earlier(c, d, &linked, err)))
        return st;
    td_eorder_state state = executable ? TD_EORDER_COLLECTING : TD_EORDER_NOT_EXECUTED;
    td_eorder_reason reason = executable ? TD_EORDER_R_NONE : TD_EORDER_R_INVALID_ISSUING_AUTHORITY;
    if ((st = td_store_prepare(
             c,
             "INSERT INTO eorders (framework, deadline_class, authority_id, reference, ext_id,"
             " issuing_state, body, signature, transport, body_sha256, doc, categories, state,"
             " received_ms, clock_start_ms, collect_ms, due_ms, transmit_from_ms,"
             " preserve_until_ms, grounds_until_ms, reason, explanation, approvals_needed,"
             " not_executed_ms, linked_order, transport_data) VALUES ($1, $2, $3, $4, $5, $6, $7,"
             " $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,"
             " $24, $25)"
             " RETURNING id",
             &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, d->framework, err)) ||
        (st = td_stmt_bind_int64(q, 2, d->deadline, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->auth->id, err)) ||
        (st = td_stmt_bind_text(q, 4, d->issuing_authority.file_number, (size_t)-1, err)) ||
        (st = d->ext_id[0] ? td_stmt_bind_text(q, 5, d->ext_id, (size_t)-1, err)
                           : td_stmt_bind_null(q, 5, err)) ||
        (st = td_stmt_bind_text(q, 6, d->issuing_state, (size_t)-1, err)) ||
        (st = td_stmt_bind_blob(q, 7, a->in->body, a->in->len, err)) ||
        (st = td_stmt_bind_blob(q, 8, a->sig ? a->sig : (const uint8_t *)"",
                                a->sig ? crypto_sign_BYTES : 0, err)) ||
        (st = td_stmt_bind_text(q, 9, a->in->transport ? a->in->transport : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 10, a->sha, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 11, (const char *)a->in->body, a->in->len, err)) ||
        (st = td_stmt_bind_int64(q, 12, d->categories, err)) ||
        (st = td_stmt_bind_int64(q, 13, state, err)) ||
        (st = td_stmt_bind_int64(q, 14, now, err)) ||
        (st = td_stmt_bind_int64(q, 15, dl.collect_ms, err)) ||
        (st = td_stmt_bind_int64(q, 16, dl.due_ms, err)) ||
        (st = td_stmt_bind_int64(q, 17, dl.transmit_from_ms, err)) ||
        (st = td_stmt_bind_int64(q, 18, dl.preserve_until_ms, err)) ||
        (st = td_stmt_bind_int64(q, 19, dl.grounds_until_ms, err)) ||
        (st = td_stmt_bind_int64(q, 20, reason, err)) ||
        (st = td_stmt_bind_text(
             q, 21,
             executable ? ""
                        : "traffic or content data need a judge, court or investigating judge as"
                          " issuer or validator",
             (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 22, td__eorder_approvals_needed(eo, d), err)) ||
        (st = td_stmt_bind_int64(q, 23, executable ? 0 : now, err)) ||
        (st = td_stmt_bind_int64(q, 24, linked, err)) ||
        (st = a->in->transport_data
                  ? td_stmt_bind_text(q, 25, a->in->transport_data, (size_t)-1, err)
                  : td_stmt_bind_null(q, 25, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st == TD_ERR_CONFLICT
                   ? td__eorder_refuse(a->why, TD_EORDER_CONFLICT, "ext_id", TD_ERR_CONFLICT, err,
                                       "an order with this ext_id exists")
                   : st;
    int64_t id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);

    json_t *det = json_pack(
        "{s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:o}", "framework",
        td_eorder_framework_name(d->framework), "authority_id", (json_int_t)a->auth->id,
        "body_sha256", a->sha, "state", td_eorder_state_name(state), "transport",
        a->in->transport ? a->in->transport : "json", "due", td__eorder_time_json(dl.due_ms),
        "preserve_until", td__eorder_time_json(dl.preserve_until_ms), "categories",
        td__eorder_categories_json(d->categories));
    if (det && linked) {
        char lt[TD_EORDER_ID_TEXT_MAX + 1];
        td_eorder_id_format(linked, lt);
        json_object_set_new(det, "linked_order", json_string(lt));
    }
    if ((st = td__eorders_audit(eo, c, a->actor, "eorder.received", id, det, NULL, err)))
        return st;
    td_eorder *o = td__malloc(sizeof *o);
    if (!o)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if ((st = td__eorder_load(c, id, o, err)) == TD_OK) {
        if (executable)
            st = td__eorder_collect(eo, c, id, d, dl.collect_ms, err);
        else
            st = td__eorder_message(
                eo, c, o, TD_EORDER_MSG_NON_EXECUTION,
                json_pack("{s:s, s:o, s:s}", "reason", "invalid_issuing_authority", "categories",
                          td__eorder_categories_json(d->categories), "explanation", o->explanation),
                err);
        receipt_from(o, r);
    }
    td__free(o);
    return st;
}

/* Records the refusal of a lapsed uk_opo: its audit entry only. */
typedef struct refused_args {
    const char *actor, *sha, *reason;
    int64_t authority_id;
} refused_args;

static td_status refused_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    refused_args *a = ctx;
    return td__eorders_audit(eo, c, a->actor, "eorder.refused", 0,
                             json_pack("{s:s, s:s, s:I}", "reason", a->reason, "body_sha256",
                                       a->sha, "authority_id", (json_int_t)a->authority_id),
                             NULL, err);
}

/* Can auth issue orders of framework f from issuing_state? */
static const char *authority_problem(const td_authority *auth, const td_eorder_doc *d)
{
    switch (d->framework) {
    case TD_EORDER_EU_EPOC:
    case TD_EORDER_EU_EPOC_PR:
        if (auth->kind != TD_AUTHORITY_COMPETENT && auth->kind != TD_AUTHORITY_EVIDENCE)
            return "not an EU issuing authority (kind competent or evidence)";
        break;
    case TD_EORDER_UK_OPO:
    case TD_EORDER_US_CLOUD_ACT:
        if (auth->kind != TD_AUTHORITY_THIRD_COUNTRY)
            return "not a third country's authority (kind third_country)";
        break;
    }
    if (strcmp(auth->member_state, d->issuing_state) != 0)
        return "registered for another state than A.issuing_state";
    return NULL;
}

td_status td_eorder_receive(td_eorders *eo, const td_eorder_intake *in, td_eorder_receipt *out,
                            td_eorder_rejection *why, td_error *err)
{
    uint8_t sig[crypto_sign_BYTES], digest[32];
    char name[TD_NAME_MAX + 1], actor[TD_NAME_MAX + 16];
    td_authority auth;
    td_eorder_rejection local;
    td_status st;
    int found = 0, named = 0;
    int64_t linked = 0;
    if (!why)
        why = &local;
    memset(why, 0, sizeof *why);
    memset(out, 0, sizeof *out);
    if (!in)
        return td__error_set(err, TD_ERR_INVALID, "no intake");
    int transport = in->transport && *in->transport;
    if (in->len > TD_EORDER_MAX_BODY)
        return td__eorder_refuse(why, TD_EORDER_TOO_LARGE, "body", TD_ERR_LIMIT, err,
                                 "over the limit of %d bytes", TD_EORDER_MAX_BODY);
    if (transport && strlen(in->transport) > 32)
        return td__error_set(err, TD_ERR_INVALID, "transport: longer than 32 bytes");
    if (in->transport_data) {
        if (strlen(in->transport_data) > TD_EORDER_TRANSPORT_MAX)
            return td__error_set(err, TD_ERR_LIMIT, "transport data: over %d bytes",
                                 TD_EORDER_TRANSPORT_MAX);
        json_t *tdoc = json_loads(in->transport_data, 0, NULL);
        int ok = json_is_object(tdoc);
        json_decref(tdoc);
        if (!ok)
            return td__error_set(err, TD_ERR_INVALID, "transport data: not a JSON object");
    }
    if (!transport) {
        if (!in->signature || !*in->signature)
            return td__eorder_refuse(why, TD_EORDER_UNSIGNED, "signature", TD_ERR_INVALID, err,
                                     "the order is not signed");
        if (td_authority_signature_parse(in->signature, sig))
            return td__eorder_refuse(why, TD_EORDER_BAD_SIGNATURE, "signature", TD_ERR_INVALID, err,
                                     "expected ed25519=<base64 of 64 bytes>");
    }
    named = in->body && in->len && td__authority_name_peek(in->body, in->len, "A", name) == 0;
    if ((st = lookup(eo, named ? name : NULL, in->caller_key_id, &auth, &found, &linked, err)))
        return st;
    if (named && !found)
        return td__eorder_refuse(why, TD_EORDER_UNKNOWN_AUTHORITY, "A.issuing_authority.name",
                                 TD_ERR_NOT_FOUND, err, "no authority named \"%s\" is registered",
                                 name);
    if (!transport) {
        if (named && !td__authority_signed(sig, in->body, in->len, &auth))
            return td__eorder_refuse(why, TD_EORDER_BAD_SIGNATURE, "signature", TD_ERR_INVALID, err,
                                     "does not verify with the authority's key");
        if (!named) {
            if ((st = td__authority_find_signer(eo->orders, sig, in->body, in->len, linked, &auth,
                                                &found, err)))
                return st;
            if (!found)
                return td__eorder_refuse(why, TD_EORDER_BAD_SIGNATURE, "signature", TD_ERR_INVALID,
                                         err,
                                         "does not verify with any registered authority's key");
        }
    }
    if (found && in->caller_key_id > 0 && linked != auth.id)
        return td__eorder_refuse(why, TD_EORDER_WRONG_AUTHORITY, "A.issuing_authority.name",
                                 TD_ERR_INVALID, err, "the API key does not belong to it");

    td_eorder_doc *doc = td__malloc(sizeof *doc);
    if (!doc)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if ((st = td_eorder_parse((const char *)in->body, in->len, doc, why, err)))
        goto out;
    const char *problem = NULL;
    if (!found || strcmp(doc->issuing_authority.name, auth.name) != 0) {
        st = td__eorder_refuse(why, TD_EORDER_WRONG_AUTHORITY, "A.issuing_authority.name",
                               TD_ERR_INVALID, err, "signed with another authority's key");
        goto out;
    }
    if ((problem = authority_problem(&auth, doc))) {
        st = td__eorder_refuse(why, TD_EORDER_WRONG_AUTHORITY, "A.issuing_authority.name",
                               TD_ERR_INVALID, err, "%s cannot issue %s orders: %s", auth.name,
                               td_eorder_framework_name(doc->framework), problem);
        goto out;
    }
    recv_args a = {&auth, doc, in, transport ? NULL : sig, NULL, "", out, why};
    crypto_hash_sha256(digest, in->body, in->len);
    td__hex_encode(digest, sizeof digest, a.sha);
    snprintf(actor, sizeof actor, "authority:%s", auth.name);
    a.actor = in->actor && *in->actor ? in->actor : actor;
    if (doc->framework == TD_EORDER_UK_OPO) {
        /* Served (or, when the document does not say, received) more than three months after
         * it was made: the order has lapsed (Crime (Overseas Production Orders) Act 2019). */
        int64_t served = doc->served_ms ? doc->served_ms : td__now(eo->svc);
        if (served > plus_three_months(doc->issued_ms)) {
            refused_args ra = {a.actor, a.sha, "lapsed", auth.id};
            if ((st = td__eorders_tx(eo, refused_body, &ra, err)) == TD_OK)
                st = td__eorder_refuse(why, TD_EORDER_LAPSED,
                                       doc->served_ms ? "A.served_at" : "A.issued_at",
                                       TD_ERR_INVALID, err,
                                       "served more than three months after it was made: the"
                                       " order has lapsed");
            goto out;
        }
    }
    st = td__eorders_tx(eo, recv_body, &a, err);
    if (st == TD_OK && !out->duplicate)
        td_webhook_kick(eo->svc);
    if (st == TD_OK && !out->duplicate && out->state == TD_EORDER_COLLECTING) {
        /* What takedown holds itself is linked at once; a failure here only waits for the
         * tick's next pass, the receipt stands. */
        size_t n_linked = 0;
        td_error ignored;
        td__eo_ignore(td__eorder_link(eo, "system", out->id, &n_linked, &ignored));
    }
out:
    td__free(doc);
    return st;
}
