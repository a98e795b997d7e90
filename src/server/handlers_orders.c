/* HTTP handlers for authorities, removal orders, referrals, complaints and the transparency
 * report: thin translations between JSON and include/takedown/orders.h.
 *
 * Why intake reads the raw body: the signature covers the exact bytes the authority sent, so the
 * body is handed to td_order_receive untouched (never re-serialised), with the value of the
 * `Takedown-Signature` header and the caller's key id (which must be linked to the issuing
 * authority). Refusals map to distinct statuses: 401 unsigned / bad signature, 403 unknown or
 * wrong authority, 413 too large, 400 not JSON, 422 missing or invalid field (named). The
 * library knows the signature as a field named "signature"; the header's name is known here
 * only, and answers name the header. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "core/hex.h"
#include "server/handlers_eorders.h"
#include "server/handlers_orders.h"

td_orders *td__orders_or_503(td__req *r)
{
    td_orders *o = td__req_orders(r);
    if (!o)
        td__reply_error(r, 503, "unavailable", "orders are not enabled on this server");
    return o;
}

/* An authority reads, and clarifies, only its own orders; another authority's order answers 404
 * as if it did not exist. Other roles pass. */
static int authority_may_access(td__req *r, td_orders *o, int64_t id)
{
    if (r->who.role != TD_ROLE_AUTHORITY)
        return 1;
    int64_t mine = 0;
    td_error err;
    td_status st = td_authority_for_key(o, r->who.id, &mine, &err);
    if (st == TD_ERR_NOT_FOUND) {
        td__reply_error(r, 403, "forbidden", "this key is not linked to an authority");
        return 0;
    }
    td_order *ord = st ? NULL : td__arena_alloc(&r->arena, sizeof *ord);
    if (!st && !ord) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return 0;
    }
    if (!st)
        st = td_order_get(o, id, ord, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return 0;
    }
    if (ord->authority_id != mine) {
        td__reply_error(r, 404, "not_found", "no order %lld", (long long)id);
        return 0;
    }
    return 1;
}

/* A platform key acts on an order (execute, locate, confirm, upload media) only when none of its
 * targets is another platform key's content; otherwise the order does not exist for it (404, the
 * same answer as an unknown id). Targets without an owner (content an admin or moderator
 * submitted, or not received) do not restrict it. */
static int platform_may_access(td__req *r, td_orders *o, int64_t id)
{
    int64_t mine = td_principal_platform(&r->who);
    if (!mine)
        return 1;
    td_order *ord = td__arena_alloc(&r->arena, sizeof *ord);
    td_error err;
    if (!ord) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return 0;
    }
    td_status st = td_order_get(o, id, ord, &err);
    int foreign = 0;
    for (size_t i = 0; st == TD_OK && !foreign && i < ord->doc.n_targets; i++) {
        int64_t owner = 0;
        const char *cid = ord->doc.targets[i].content_id;
        if (!cid[0])
            continue;
        st = td_content_owner(r->svc, cid, &owner, &err);
        if (st == TD_ERR_NOT_FOUND)
            st = TD_OK; /* a target not received here */
        else if (st == TD_OK)
            foreign = owner && owner != mine;
    }
    if (st) {
        td__reply_status(r, st, &err);
        return 0;
    }
    if (foreign) {
        td__reply_error(r, 404, "not_found", "no order %lld", (long long)id);
        return 0;
    }
    return 1;
}

json_t *td__time_json(int64_t ms)
{
    char t[32];
    if (!ms)
        return json_null();
    td_order_time_format(ms, t);
    return json_string(t);
}

static json_t *authority_json(const td_authority *a)
{
    char hex[2 * TD_ED25519_PUBKEY_LEN + 1];
    td__hex_encode(a->public_key, TD_ED25519_PUBKEY_LEN, hex);
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", (json_int_t)a->id, "kind",
                     td_authority_kind_name(a->kind), "name", a->name, "member_state",
                     a->member_state, "contact", a->contact, "public_key", hex, "announced_at",
                     td__time_json(a->announced_ms), "created_at", td__time_json(a->created_ms));
}

/* ---- authorities ---- */

void td__h_authorities_list(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    td_authority *list = NULL;
    size_t n = 0;
    td_error err;
    if (!o)
        return;
    td_status st = td_authority_list(o, &list, &n, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, authority_json(&list[i]));
    td_free(list);
    td__reply_json(r, 200, json_pack("{s:o}", "authorities", a));
}

void td__h_authorities_create(td__req *r)
{
    static const char *const members[] = {
        "name", "kind", "member_state", "contact", "public_key", "announced_at", NULL};
    td_orders *o = td__orders_or_503(r);
    json_t *b;
    if (!o || !(b = td__body_fields(r, members)))
        return;
    td_authority_input in;
    const char *kind = NULL, *announced = NULL;
    memset(&in, 0, sizeof in);
    if (!td__get_string(r, b, "name", &in.name) || !td__get_string(r, b, "kind", &kind) ||
        !td__get_string(r, b, "member_state", &in.member_state) ||
        !td__get_string(r, b, "contact", &in.contact) ||
        !td__get_string(r, b, "public_key", &in.public_key) ||
        !td__get_string(r, b, "announced_at", &announced))
        goto out;
    if (kind && td_authority_kind_parse(kind, &in.kind) != TD_OK) {
        td__reply_error(r, 400, "invalid",
                        "kind: expected competent, referral_unit, evidence or third_country");
        goto out;
    }
    if (announced && (in.announced_ms = td_order_time_parse(announced, strlen(announced))) <= 0) {
        td__reply_error(r, 400, "invalid", "announced_at: expected YYYY-MM-DDTHH:MM:SSZ");
        goto out;
    }
    td_authority a;
    td_error err;
    td_status st = td_authority_register(o, r->who.name, &in, &a, &err);
    if (st)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 201, authority_json(&a));
out:
    json_decref(b);
}

void td__h_authority_get(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    if (!o || (id = td__param_id(r, 0)) < 0)
        return;
    td_authority a;
    td_error err;
    td_status st = td_authority_get(o, id, &a, &err);
    if (st)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200, authority_json(&a));
}

void td__h_authority_link_key(td__req *r)
{
    static const char *const members[] = {"key_id", NULL};
    td_orders *o = td__orders_or_503(r);
    int64_t id, key_id = 0;
    json_t *b;
    if (!o || (id = td__param_id(r, 0)) < 0 || !(b = td__body_fields(r, members)))
        return;
    if (td__get_int(r, b, "key_id", 1, INT64_MAX, &key_id)) {
        td_error err;
        td_status st = td_authority_link_key(o, r->who.name, id, key_id, &err);
        if (st)
            td__reply_status(r, st, &err);
        else
            td__reply_json(r, 201,
                           json_pack("{s:I, s:I}", "authority_id", (json_int_t)id, "key_id",
                                     (json_int_t)key_id));
    }
    json_decref(b);
}

/* ---- intake ---- */

#define SIGNATURE_HEADER "Takedown-Signature"
#define SIGNATURE_FIELD "signature" /* as the library names it */

static void receive(td__req *r, td_order_kind kind)
{
    static const unsigned codes[] = {
        [TD_ORDER_TOO_LARGE] = 413,       [TD_ORDER_UNSIGNED] = 401,
        [TD_ORDER_BAD_SIGNATURE] = 401,   [TD_ORDER_UNKNOWN_AUTHORITY] = 403,
        [TD_ORDER_WRONG_AUTHORITY] = 403, [TD_ORDER_MALFORMED] = 400,
        [TD_ORDER_MISSING_FIELD] = 422,   [TD_ORDER_INVALID_FIELD] = 422,
    };
    td_orders *o = td__orders_or_503(r);
    if (!o)
        return;
    if (r->who.role != TD_ROLE_AUTHORITY) {
        td__reply_error(r, 403, "forbidden", "orders are sent with an authority's key");
        return;
    }
    const char *sig = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, SIGNATURE_HEADER);
    td_order_receipt rc;
    td_order_rejection why;
    td_error err;
    td_status st = td_order_receive(o, kind, r->body, r->body_len, sig, r->who.id, &rc, &why, &err);
    if (st) {
        if (why.problem == TD_ORDER_ACCEPTED) {
            td__reply_status(r, st, &err);
            return;
        }
        /* The message may quote the document (a target URL): made safe to echo. */
        char msg[TD__ERROR_TEXT_MAX], field[sizeof why.field];
        td__safe_text(msg, sizeof msg, err.message, strnlen(err.message, sizeof err.message));
        td__safe_text(field, sizeof field, why.field, strnlen(why.field, sizeof why.field));
        if (strcmp(field, SIGNATURE_FIELD) == 0) {
            /* The signature came in the header: say so ("signature: ..." names the field). */
            const char *prefix = SIGNATURE_FIELD ": ";
            const size_t n = strlen(prefix);
            char said[sizeof SIGNATURE_HEADER + 2 + sizeof msg];
            snprintf(said, sizeof said, "%s: %s", SIGNATURE_HEADER,
                     strncmp(msg, prefix, n) == 0 ? msg + n : msg);
            memcpy(msg, said, sizeof msg - 1);
            msg[sizeof msg - 1] = '\0';
            snprintf(field, sizeof field, "%s", SIGNATURE_HEADER);
        }
        json_t *j = json_pack("{s:{s:s, s:s, s:s}}", "error", "code",
                              td_order_problem_name(why.problem), "field", field, "message", msg);
        if (j)
            td__reply_json(r, codes[why.problem], j);
        else
            td__reply_error(r, codes[why.problem], td_order_problem_name(why.problem), "%s", msg);
        return;
    }
    json_t *j = json_pack("{s:I, s:s, s:o, s:I, s:b, s:b, s:b}", "id", (json_int_t)rc.id, "type",
                          kind == TD_ORDER_REMOVAL ? "removal_order" : "referral", "received_at",
                          td__time_json(rc.received_ms), "received_ms", (json_int_t)rc.received_ms,
                          "duplicate", rc.duplicate, "first_contact_early", rc.first_contact_early,
                          "executed", rc.executed);
    if (j && kind == TD_ORDER_REMOVAL) {
        json_object_set_new(j, "deadline", td__time_json(rc.deadline_ms));
        json_object_set_new(j, "deadline_ms", json_integer(rc.deadline_ms));
    }
    td__reply_json(r, rc.duplicate ? 200 : 201, j);
}

void td__h_orders_receive(td__req *r) { receive(r, TD_ORDER_REMOVAL); }
void td__h_referrals_receive(td__req *r) { receive(r, TD_ORDER_REFERRAL); }

/* ---- orders ---- */

static const char *review_name(td_review_state s)
{
    switch (s) {
    case TD_REVIEW_OPEN: return "open";
    case TD_REVIEW_CONFIRMED: return "order_upheld";
    case TD_REVIEW_REINSTATE: return "reinstate";
    default: return "none";
    }
}

static json_t *order_json(const td_order *ord)
{
    const td_order_doc *d = &ord->doc;
    char cat[2] = {d->category, 0};
    json_t *targets = json_array();
    for (size_t i = 0; targets && i < d->n_targets; i++) {
        const td_order_target *t = &d->targets[i];
        json_array_append_new(
            targets, json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:o}", "url", t->url, "content_id",
                               t->content_id, "located", t->located, "removed", t->removed,
                               "evidence_item", (json_int_t)t->evidence_item, "media_item",
                               (json_int_t)t->media_item, "media_sha256",
                               t->media_sha256[0] ? json_string(t->media_sha256) : json_null()));
    }
    json_t *j = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:b, s:i, s:b, s:b, s:s, s:o, s:o, s:o, s:i,"
        " s:b, s:o, s:o, s:s, s:o, s:s, s:o}",
        "id", (json_int_t)ord->id, "type",
        d->kind == TD_ORDER_REMOVAL ? "removal_order" : "referral", "issuing_authority",
        ord->authority, "reference", d->reference, "issuing_member_state", d->member_state,
        "issued_at", td__time_json(d->issued_ms), "reason_category", cat, "statement_of_reasons",
        d->statement, "do_not_inform", d->do_not_inform, "do_not_inform_days",
        d->do_not_inform_days, "cross_border", d->cross_border, "emergency", d->emergency, "state",
        td_order_state_name(ord->state), "received_at", td__time_json(ord->received_ms), "deadline",
        td__time_json(ord->deadline_ms), "breached_at", td__time_json(ord->breached_ms),
        "escalation", ord->escalation, "first_contact_early", ord->first_contact_early,
        "executed_at", td__time_json(ord->executed_ms), "measure_at",
        td__time_json(ord->confirmed_ms), "measure", ord->measure, "cannot_comply",
        ord->ground ? json_pack("{s:s, s:s}", "ground", td_cannot_comply_name(ord->ground),
                                "explanation", ord->explanation)
                    : json_null(),
        "review", review_name(ord->review), "content", targets);
    if (j) {
        json_object_set_new(j, "preserved", json_boolean(ord->preserved));
        json_object_set_new(j, "language", d->language[0] ? json_string(d->language) : json_null());
    }
    return j;
}

void td__h_orders_list(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t open, limit;
    if (!o || !td__query_int(r, "open", 0, 1, 1, &open) ||
        !td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit))
        return;
    td_order_summary *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_order_list(o, (int)open, (size_t)limit, &list, &n, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const td_order_summary *s = &list[i];
        json_array_append_new(
            a,
            json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:b, s:o}", "id", (json_int_t)s->id,
                      "type", s->kind == TD_ORDER_REMOVAL ? "removal_order" : "referral",
                      "issuing_authority", s->authority, "reference", s->reference, "state",
                      td_order_state_name(s->state), "received_at", td__time_json(s->received_ms),
                      "deadline", td__time_json(s->deadline_ms), "escalation", s->escalation,
                      "emergency", s->emergency, "breached_at", td__time_json(s->breached_ms)));
    }
    td_free(list);
    td__reply_json(r, 200, json_pack("{s:o}", "orders", a));
}

static void reply_order(td__req *r, td_orders *o, int64_t id, unsigned status)
{
    td_order *ord = td__arena_alloc(&r->arena, sizeof *ord);
    td_error err;
    td_status st;
    if (!ord) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    if ((st = td_order_get(o, id, ord, &err)))
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, status, order_json(ord));
}

void td__h_order_get(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    if (o && (id = td__param_id(r, 0)) >= 0 && authority_may_access(r, o, id))
        reply_order(r, o, id, 200);
}

void td__h_order_execute(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    if (!o || (id = td__param_id(r, 0)) < 0 || !platform_may_access(r, o, id) || !td__empty_body(r))
        return;
    td_error err;
    td_status st = td_order_execute(o, id, r->who.name, NULL, &err);
    if (st)
        td__reply_status(r, st, &err);
    else
        reply_order(r, o, id, 200);
}

void td__h_order_locate(td__req *r)
{
    static const char *const members[] = {"target", "content_id", NULL};
    td_orders *o = td__orders_or_503(r);
    int64_t id, target = 0;
    const char *content_id = NULL;
    json_t *b;
    if (!o || (id = td__param_id(r, 0)) < 0 || !platform_may_access(r, o, id) ||
        !(b = td__body_fields(r, members)))
        return;
    if (td__get_int(r, b, "target", 0, TD_ORDER_MAX_TARGETS - 1, &target) &&
        td__get_string(r, b, "content_id", &content_id)) {
        td_error err;
        /* A platform points a target only at its own content. */
        td_status st = content_id && td_principal_platform(&r->who)
                           ? td_content_visible(r->svc, &r->who, content_id, &err)
                           : TD_OK;
        if (st == TD_OK)
            st = td_order_locate(o, id, (size_t)target, content_id, r->who.name, &err);
        if (st)
            td__reply_status(r, st, &err);
        else
            reply_order(r, o, id, 200);
    }
    json_decref(b);
}

void td__h_order_confirm(td__req *r)
{
    static const char *const members[] = {"measure", "time", NULL};
    td_orders *o = td__orders_or_503(r);
    int64_t id, at_ms = 0;
    const char *measure = NULL, *at = NULL;
    json_t *b;
    if (!o || (id = td__param_id(r, 0)) < 0 || !platform_may_access(r, o, id) ||
        !(b = td__body_fields(r, members)))
        return;
    if (td__get_string(r, b, "measure", &measure) && td__get_string(r, b, "time", &at)) {
        /* The platform's own time of the measure is what Annex II reports: required. Whole
         * seconds are fine (the library reads them as that second). */
        if (!measure) {
            td__reply_error(r, 400, "missing_field", "measure: required, removed or disabled");
        } else if (!at) {
            td__reply_error(r, 400, "missing_field", "time: required, YYYY-MM-DDTHH:MM:SS[.fff]Z");
        } else if ((at_ms = td_order_time_parse(at, strlen(at))) < 0) {
            td__reply_error(r, 400, "invalid_value", "time: expected YYYY-MM-DDTHH:MM:SS[.fff]Z");
        } else {
            td_error err;
            /* Sealing follows the confirmation; the library keeps it apart from its clock
             * thread's retry of preservation. */
            td_status st = td_order_confirm(o, id, at_ms, measure, r->who.name, &err);
            if (st == TD_ERR_INVALID) /* the measure, the time's range, a referral */
                td__reply_error(r, 400, "invalid_value", "%s", err.message);
            else if (st)
                td__reply_status(r, st, &err);
            else
                reply_order(r, o, id, 200);
        }
    }
    json_decref(b);
}

/* A target index (0-based) from the path: digits only; past the last target is 404 later. */
static int64_t param_target(td__req *r, int index)
{
    const char *s = index < r->n_params ? r->params[index] : "";
    int64_t v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 6 || strspn(s, "0123456789") != n) {
        td__reply_error(r, 400, "invalid_id", "'%s' is not a target index (0, 1, ...)", s);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* PUT .../targets/{n}/media: the raw bytes of what was removed, sealed as evidence. The body
 * limit is the media limit (max_media_bytes); the library checks the bytes against the located
 * content's hash and serialises uploads. */
void td__h_order_target_media(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t id, target;
    if (!o || (id = td__param_id(r, 0)) < 0 || (target = param_target(r, 1)) < 0 ||
        !platform_may_access(r, o, id))
        return;
    if (!r->body || r->body_len == 0) {
        td__reply_error(r, 400, "empty_body", "the body is the removed media's bytes");
        return;
    }
    td_order_media m;
    td_error err;
    td_status st = td_order_preserve_media(o, id, (size_t)target, r->body, r->body_len,
                                           r->content_type, r->who.name, &m, &err);
    if (st && m.mismatch) {
        int sha = strcmp(m.verified, "sha256") == 0;
        td__reply_json(r, 422,
                       json_pack("{s:{s:s, s:s, s:s, s:s, s:s}}", "error", "code", "hash_mismatch",
                                 "message", err.message, "algorithm", m.verified, "received",
                                 sha ? m.sha256 : m.md5, "expected",
                                 sha ? m.expected_sha256 : m.expected_md5));
        return;
    }
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    char ref[48];
    snprintf(ref, sizeof ref, "order-%lld", (long long)id);
    td__reply_json(r, m.duplicate ? 200 : 201,
                   json_pack("{s:I, s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:b, s:o}", "order_id",
                             (json_int_t)id, "target", (json_int_t)target, "content_id",
                             m.content_id, "evidence_case", ref, "evidence_item",
                             (json_int_t)m.evidence_item, "bytes", (json_int_t)m.bytes, "sha256",
                             m.sha256, "verified", m.verified, "duplicate", m.duplicate,
                             "preserved_at", td__time_json(m.preserved_ms)));
}

void td__h_order_feedback(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    if (!o || (id = td__param_id(r, 0)) < 0 || !authority_may_access(r, o, id))
        return;
    char *text = NULL;
    td_error err;
    /* Fetched by the authority: that is the feedback being sent. */
    int record = r->who.role == TD_ROLE_AUTHORITY;
    td_status st = td_order_feedback(o, id, record, r->who.name, &text, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_text(r, 200, "application/json", text, strlen(text));
    td_free(text);
}

void td__h_order_cannot_comply(td__req *r)
{
    static const char *const members[] = {"ground", "explanation", NULL};
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    const char *ground = NULL, *explanation = NULL;
    json_t *b;
    if (!o || (id = td__param_id(r, 0)) < 0 || !(b = td__body_fields(r, members)))
        return;
    if (td__get_string(r, b, "ground", &ground) &&
        td__get_string(r, b, "explanation", &explanation)) {
        td_cannot_comply g;
        td_error err;
        td_status st;
        if (td_cannot_comply_parse(ground, &g) != TD_OK)
            td__reply_error(r, 400, "invalid",
                            "ground: expected force_majeure, manifest_error or "
                            "missing_information");
        else if ((st = td_order_cannot_comply(o, id, g, explanation, r->who.name, &err)))
            td__reply_status(r, st, &err);
        else
            reply_order(r, o, id, 200);
    }
    json_decref(b);
}

void td__h_order_clarify(td__req *r)
{
    static const char *const members[] = {"text", NULL};
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    const char *text = NULL;
    json_t *b;
    if (!o || (id = td__param_id(r, 0)) < 0 || !authority_may_access(r, o, id) ||
        !(b = td__body_fields(r, members)))
        return;
    if (td__get_string(r, b, "text", &text)) {
        td_error err;
        td_status st = td_order_clarify(o, id, text, r->who.name, &err);
        if (st)
            td__reply_status(r, st, &err);
        else
            reply_order(r, o, id, 200);
    }
    json_decref(b);
}

void td__h_order_review_open(td__req *r)
{
    static const char *const members[] = {"reason", NULL};
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    const char *reason = NULL;
    json_t *b;
    if (!o || (id = td__param_id(r, 0)) < 0 || !(b = td__body_fields(r, members)))
        return;
    if (td__get_string(r, b, "reason", &reason)) {
        td_error err;
        td_status st = td_order_review_open(o, id, reason, r->who.name, &err);
        if (st)
            td__reply_status(r, st, &err);
        else
            reply_order(r, o, id, 200);
    }
    json_decref(b);
}

void td__h_order_review_decide(td__req *r)
{
    static const char *const members[] = {"reinstate", "reason", NULL};
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    int reinstate = 0;
    const char *reason = NULL;
    json_t *b;
    if (!o || (id = td__param_id(r, 0)) < 0 || !(b = td__body_fields(r, members)))
        return;
    if (td__get_bool(r, b, "reinstate", &reinstate) && td__get_string(r, b, "reason", &reason)) {
        td_error err;
        td_status st = td_order_review_decide(o, id, reinstate, reason, r->who.name, &err);
        if (st)
            td__reply_status(r, st, &err);
        else
            reply_order(r, o, id, 200);
    }
    json_decref(b);
}

void td__h_referral_decide(td__req *r)
{
    static const char *const members[] = {"decision", "reason", NULL};
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    const char *decision = NULL, *reason = NULL;
    json_t *b;
    if (!o || (id = td__param_id(r, 0)) < 0 || !(b = td__body_fields(r, members)))
        return;
    if (td__get_string(r, b, "decision", &decision) && td__get_string(r, b, "reason", &reason)) {
        td_error err;
        td_status st;
        if (!decision || (strcmp(decision, "remove") != 0 && strcmp(decision, "keep") != 0))
            td__reply_error(r, 400, "invalid", "decision: expected remove or keep");
        else if ((st = td_referral_decide(o, id, strcmp(decision, "remove") == 0, reason,
                                          r->who.name, &err)))
            td__reply_status(r, st, &err);
        else
            reply_order(r, o, id, 200);
    }
    json_decref(b);
}

/* ---- complaints ---- */

static json_t *complaint_json(const td_complaint *c)
{
    return json_pack("{s:I, s:s, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:s}", "id", (json_int_t)c->id,
                     "content_id", c->content_id, "order_id", (json_int_t)c->order_id, "text",
                     c->text, "state", td_complaint_state_name(c->state), "received_at",
                     td__time_json(c->received_ms), "due", td__time_json(c->due_ms), "decided_at",
                     td__time_json(c->decided_ms), "reinstated_at", td__time_json(c->reinstated_ms),
                     "reasons", c->reasons);
}

void td__h_complaints_file(td__req *r)
{
    static const char *const members[] = {"content_id", "text", NULL};
    td_orders *o = td__orders_or_503(r);
    const char *content_id = NULL, *text = NULL;
    json_t *b;
    if (!o || !(b = td__body_fields(r, members)))
        return;
    if (td__get_string(r, b, "content_id", &content_id) && td__get_string(r, b, "text", &text)) {
        td_complaint c;
        td_error err;
        /* A platform files complaints about its own content only. */
        td_status st = content_id && td_principal_platform(&r->who)
                           ? td_content_visible(r->svc, &r->who, content_id, &err)
                           : TD_OK;
        if (st == TD_OK)
            st = td_complaint_file(o, content_id, text, r->who.name, &c, &err);
        if (st)
            td__reply_status(r, st, &err);
        else
            td__reply_json(r, 201, complaint_json(&c));
    }
    json_decref(b);
}

void td__h_complaint_get(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    if (!o || (id = td__param_id(r, 0)) < 0)
        return;
    td_complaint c;
    td_error err;
    td_status st = td_complaint_get(o, id, &c, &err);
    /* A platform reads the complaints about its own content; others do not exist for it. */
    if (st == TD_OK && td_principal_platform(&r->who) &&
        td_content_visible(r->svc, &r->who, c.content_id, &err) != TD_OK) {
        td__reply_error(r, 404, "not_found", "no complaint %lld", (long long)id);
        return;
    }
    if (st)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200, complaint_json(&c));
}

void td__h_complaint_decide(td__req *r)
{
    static const char *const members[] = {"upheld", "reasons", NULL};
    td_orders *o = td__orders_or_503(r);
    int64_t id;
    int upheld = 0;
    const char *reasons = NULL;
    json_t *b;
    if (!o || (id = td__param_id(r, 0)) < 0 || !(b = td__body_fields(r, members)))
        return;
    if (td__get_bool(r, b, "upheld", &upheld) && td__get_string(r, b, "reasons", &reasons)) {
        td_complaint c;
        td_error err;
        td_status st = td_complaint_decide(o, id, upheld, reasons, r->who.name, &c, &err);
        if (st)
            td__reply_status(r, st, &err);
        else
            td__reply_json(r, 200, complaint_json(&c));
    }
    json_decref(b);
}

/* ---- report ---- */

void td__h_report_transparency(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    if (!o)
        return;
    const char *from = td__query(r, "from"), *to = td__query(r, "to");
    int64_t f = from ? td_order_time_parse(from, strlen(from)) : -1;
    int64_t t = to ? td_order_time_parse(to, strlen(to)) : -1;
    if (f < 0 || t < 0) {
        td__reply_error(r, 400, "invalid_query",
                        "from and to are required, as YYYY-MM-DDTHH:MM:SSZ");
        return;
    }
    char *text = NULL;
    td_error err;
    /* With evidence orders running, the library joins their figures of the same period
     * (docs/evidence-orders.md) as "evidence_orders"; `takedown report transparency` calls the
     * same function. */
    td_eorders *e = td__req_eorders(r);
    td_status st = e ? td_eorders_transparency(e, f, t, &text, &err)
                     : td_report_transparency(o, f, t, &text, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *report = json_loads(text, 0, NULL);
    td_free(text);
    if (!report) {
        td__reply_error(r, 500, "internal", "the report is not JSON");
        return;
    }
    td__reply_json(r, 200, report);
}

/* ---- the audit log ---- */

static void reply_doc(td__req *r, const td_audit_doc *doc)
{
    char *text = NULL;
    size_t len = 0;
    td_error err;
    td_status st = td_audit_doc_format(doc, &text, &len, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_text(r, 200, "application/json", text, len);
    td_free(text);
}

/* Public (DESIGN.md: log checkpoints need no key): a signed checkpoint of the whole log. One is
 * signed when entries were appended since the last one, at most once per log size (a stored
 * checkpoint of that size is returned afterwards), so callers without a key cannot make the
 * server sign more than the log grows. */
void td__h_audit_checkpoint(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    if (!o)
        return;
    td_audit *log = td_orders_audit(o);
    td_audit_doc doc;
    memset(&doc, 0, sizeof doc);
    doc.type = TD_AUDIT_DOC_CHECKPOINT;
    uint64_t size = 0;
    td_error err;
    td_status st = td_audit_size(log, &size, &err);
    if (st == TD_OK)
        st = td_audit_checkpoint_for_size(log, size, &doc.checkpoint, &err);
    if (st)
        td__reply_status(r, st, &err);
    else
        reply_doc(r, &doc);
}

/* ?seq=N[&size=M]: entry N (canonical text), its leaf hash and path in the tree of M entries
 * (default: the whole log), with a signed checkpoint of size M. */
void td__h_audit_inclusion(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t seq, size;
    if (!o || !td__query_int(r, "seq", 0, INT64_MAX - 1, -1, &seq) ||
        !td__query_int(r, "size", 1, INT64_MAX, -1, &size))
        return;
    if (seq < 0) {
        td__reply_error(r, 400, "invalid_query", "'seq' is required");
        return;
    }
    td_audit *log = td_orders_audit(o);
    td_audit_doc doc;
    memset(&doc, 0, sizeof doc);
    doc.type = TD_AUDIT_DOC_INCLUSION;
    td_error err;
    td_status st = TD_OK;
    uint64_t n = (uint64_t)size;
    if (size < 0)
        st = td_audit_size(log, &n, &err);
    if (st == TD_OK && (uint64_t)seq >= n) {
        td__reply_error(r, 404, "not_found", "entry %lld is not in a log of %llu entries",
                        (long long)seq, (unsigned long long)n);
        return;
    }
    if (st == TD_OK)
        st = td_audit_checkpoint_for_size(log, n, &doc.checkpoint, &err);
    if (st == TD_OK)
        st = td_audit_prove_inclusion(log, (uint64_t)seq, n, &doc.proof, &err);
    if (st == TD_OK)
        st = td_audit_get_canonical(log, (uint64_t)seq, &doc.entry, &doc.entry_len, &err);
    if (st == TD_OK) {
        td_audit_leaf_hash(doc.entry, doc.entry_len, doc.leaf_hash);
        reply_doc(r, &doc);
    } else {
        td__reply_status(r, st, &err);
    }
    td_audit_doc_clear(&doc);
}

/* ?after=SEQ (ascending from SEQ + 1; -1: from the first) or else newest first (?before=SEQ:
 * below SEQ), ?limit=N (1..500, default 50), ?action=A (only that action): each entry with its
 * fields and its canonical text (what its leaf hashes, as the inclusion proof gives it). Reads of
 * the log are not audited (as the proofs are not). */
void td__h_audit_entries(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t after, before, limit;
    if (!o || !td__query_int(r, "after", -1, INT64_MAX - 1, -2, &after) ||
        !td__query_int(r, "before", 0, INT64_MAX, -1, &before) ||
        !td__query_int(r, "limit", 1, TD_AUDIT_LIST_MAX, 50, &limit))
        return;
    const char *action = td__query(r, "action");
    if (after != -2 && before >= 0) {
        td__reply_error(r, 400, "invalid_query", "give 'after' or 'before', not both");
        return;
    }
    int newest = after == -2;
    td_audit *log = td_orders_audit(o);
    td_audit_entry *list = NULL;
    size_t n = 0;
    uint64_t size = 0;
    td_error err;
    td_status st = td_audit_size(log, &size, &err);
    if (st == TD_OK)
        st = td_audit_list(log, newest, newest ? -1 : after, before, action, (size_t)limit, &list,
                           &n, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        td_audit_entry *e = &list[i];
        char *text = NULL;
        size_t len = 0;
        if (td_audit_entry_canonical(e->seq, e->time_ms, e->actor, e->action, e->object, e->details,
                                     &text, &len, &err) == TD_OK) {
            json_array_append_new(
                arr, json_pack("{s:I, s:o, s:I, s:s, s:s, s:s, s:s, s:s%}", "seq",
                               (json_int_t)e->seq, "time", td__time_json(e->time_ms), "time_ms",
                               (json_int_t)e->time_ms, "actor", e->actor, "action", e->action,
                               "object", e->object, "details", e->details, "canonical", text, len));
            td_free(text);
        }
    }
    /* A cursor only while entries remain that way: below seq 0 or above the last there are none. */
    int more = n == (size_t)limit && n &&
               (newest ? list[n - 1].seq > 0 : (uint64_t)list[n - 1].seq + 1 < size);
    json_t *next = more ? json_integer((json_int_t)list[n - 1].seq) : json_null();
    for (size_t i = 0; i < n; i++)
        td_audit_entry_clear(&list[i]);
    td_free(list);
    if (!arr) {
        json_decref(next);
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    td__reply_json(r, 200,
                   json_pack("{s:o, s:I, s:s, s:o}", "entries", arr, "size", (json_int_t)size,
                             "order", newest ? "newest_first" : "ascending",
                             newest ? "next_before" : "next_after", next));
}

/* ?from=N&to=M (1 <= N <= M <= the log's size): the tree of N entries is a prefix of the tree
 * of M, with signed checkpoints of both sizes. */
void td__h_audit_consistency(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    int64_t from, to;
    if (!o || !td__query_int(r, "from", 1, INT64_MAX, -1, &from) ||
        !td__query_int(r, "to", 1, INT64_MAX, -1, &to))
        return;
    if (from < 0 || to < 0 || from > to) {
        td__reply_error(r, 400, "invalid_query", "'from' and 'to' are required, 1 <= from <= to");
        return;
    }
    td_audit *log = td_orders_audit(o);
    td_audit_doc doc;
    memset(&doc, 0, sizeof doc);
    doc.type = TD_AUDIT_DOC_CONSISTENCY;
    td_error err;
    td_status st;
    if ((st = td_audit_checkpoint_for_size(log, (uint64_t)from, &doc.first, &err)) ||
        (st = td_audit_checkpoint_for_size(log, (uint64_t)to, &doc.checkpoint, &err)) ||
        (st = td_audit_prove_consistency(log, (uint64_t)from, (uint64_t)to, &doc.proof, &err)))
        td__reply_status(r, st, &err);
    else
        reply_doc(r, &doc);
}
