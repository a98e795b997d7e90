/* HTTP handlers of evidence orders (docs/evidence-orders.md): signed intake from authorities (JSON,
 * or ETSI TS 103 120 XML on /eevidence/...), the platform's preserved data, legal officers'
 * approvals, Annex III answers, the encrypted delivery package and the reads, each audited with
 * its purpose. Authorities reach only their own orders' events and packages; everything else is
 * for roles legal and admin (the confidentiality of DOMAIN.md §4). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "server/handlers_eorders.h"
#include "server/handlers_orders.h"
#include "takedown/eevidence_xml.h"

#define SIGNATURE_HEADER "Takedown-Signature"
#define PURPOSE_MAX TD_EORDER_TEXT_MAX
#define PACKAGE_DIR "eorders/packages"

static td_eorders *eorders_or_503(td__req *r)
{
    td_eorders *e = td__req_eorders(r);
    if (!e)
        td__reply_error(r, 503, "unavailable", "evidence orders are not available (see the log)");
    return e;
}

/* ---- JSON helpers ---- */

static json_t *categories_json(unsigned mask)
{
    json_t *a = json_array();
    for (unsigned bit = 1; a && bit & TD_EORDER_CAT_ALL; bit <<= 1)
        if (mask & bit)
            json_array_append_new(a, json_string(td_eorder_category_name(bit)));
    return a;
}

static json_t *subscriber_json(unsigned mask)
{
    json_t *a = json_array();
    for (unsigned bit = 1; a && bit & TD_EORDER_SUB_ALL; bit <<= 1)
        if (mask & bit)
            json_array_append_new(a, json_string(td_eorder_subscriber_name(bit)));
    return a;
}

/* A JSON array of category names to a mask; replies 400 and returns 0 when malformed. */
static int parse_categories(td__req *r, json_t *arr, const char *member, unsigned *out)
{
    *out = 0;
    if (!arr)
        return 1;
    if (!json_is_array(arr)) {
        td__reply_error(r, 400, "invalid_field", "'%s' must be an array of category names", member);
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        unsigned bit = json_is_string(v) ? td_eorder_category_parse(json_string_value(v)) : 0;
        if (!bit) {
            td__reply_error(r, 400, "invalid_field",
                            "'%s[%zu]' must be one of subscriber, identification, traffic, "
                            "content",
                            member, i);
            return 0;
        }
        *out |= bit;
    }
    return 1;
}

static json_t *party_json(const td_eorder_party *p)
{
    if (!p->present)
        return json_null();
    return json_pack("{s:s, s:s, s:s}", "name", p->name, "type",
                     td_eorder_authority_type_name(p->type), "file_number", p->file_number);
}

static json_t *contact_json(const td_eorder_contact *c)
{
    if (!c->present)
        return json_null();
    return json_pack("{s:s, s:s, s:s}", "name", c->name, "email", c->email, "phone", c->phone);
}

static json_t *deadlines_json(const td_eorder_deadlines *d)
{
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o}", "clock_start", td__time_json(d->clock_start_ms),
        "collect", td__time_json(d->collect_ms), "due", td__time_json(d->due_ms), "transmit_from",
        td__time_json(d->transmit_from_ms), "preserve_until", td__time_json(d->preserve_until_ms),
        "grounds_until", td__time_json(d->grounds_until_ms));
}

static json_t *identifiers_json(const td_eorder_doc *d)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < d->n_identifiers; i++) {
        const td_eorder_identifier *id = &d->identifiers[i];
        json_t *o = json_pack("{s:s, s:s}", "type", td_eorder_identifier_type_name(id->type),
                              "value", id->value);
        if (o && id->port >= 0)
            json_object_set_new(o, "port", json_integer(id->port));
        if (o && id->at_ms)
            json_object_set_new(o, "at", td__time_json(id->at_ms));
        json_array_append_new(a, o);
    }
    return a;
}

static const char *grounds_name(td_eorder_grounds g)
{
    switch (g) {
    case TD_EORDER_GROUNDS_NONE: return "none";
    case TD_EORDER_GROUNDS_PARTIAL: return "partial";
    case TD_EORDER_GROUNDS_FULL: return "full";
    default: return NULL;
    }
}

static json_t *order_json(const td_eorder *o)
{
    const td_eorder_doc *d = &o->doc;
    char key_hex[2 * TD_EORDER_X25519_KEY_LEN + 1];
    td__hex_encode(d->recipient_key, sizeof d->recipient_key, key_hex);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:o}", "id", o->id_text, "ext_id", d->ext_id,
                  "framework", td_eorder_framework_name(d->framework), "state",
                  td_eorder_state_name(o->state), "authority_id", (json_int_t)o->authority_id,
                  "reference", d->issuing_authority.file_number, "issuing_state", d->issuing_state,
                  "received_at", td__time_json(o->received_ms));
    if (!j)
        return NULL;
    json_object_set_new(j, "issuing_authority", party_json(&d->issuing_authority));
    json_object_set_new(j, "validating_authority", party_json(&d->validating_authority));
    json_object_set_new(j, "addressee", json_string(d->addressee));
    json_object_set_new(j, "deadline_class",
                        d->deadline ? json_string(td_eorder_deadline_name(d->deadline))
                                    : json_null());
    json_object_set_new(j, "identifiers", identifiers_json(d));
    json_object_set_new(
        j, "time_range",
        json_pack("{s:o, s:o}", "from", td__time_json(d->from_ms), "to", td__time_json(d->to_ms)));
    json_object_set_new(j, "categories", categories_json(d->categories));
    json_object_set_new(j, "subscriber", subscriber_json(d->subscriber));
    json_object_set_new(j, "offence", json_string(d->offence));
    json_object_set_new(j, "legal_classification", json_string(d->legal_classification));
    json_object_set_new(j, "execution_contact", contact_json(&d->execution_contact));
    json_object_set_new(j, "recipient",
                        json_pack("{s:s, s:s, s:s}", "name", d->recipient, "member_state",
                                  d->recipient_state, "x25519_public_key", key_hex));
    json_object_set_new(j, "deadlines", deadlines_json(&o->deadlines));
    json_object_set_new(j, "escalation", json_integer(o->escalation));
    json_object_set_new(j, "breached_at", td__time_json(o->breached_ms));
    json_object_set_new(j, "reason",
                        o->reason ? json_string(td_eorder_reason_name(o->reason)) : json_null());
    json_object_set_new(j, "explanation", json_string(o->explanation));
    json_object_set_new(j, "refused", categories_json(o->refused));
    const char *g = grounds_name(o->grounds);
    json_object_set_new(j, "grounds", g ? json_string(g) : json_null());
    json_object_set_new(j, "ground",
                        o->ground ? json_string(td_eorder_reason_name(o->ground)) : json_null());
    json_object_set_new(j, "grounds_blocked", categories_json(o->grounds_blocked));
    json_object_set_new(j, "restricted", json_boolean(o->restricted));
    json_object_set_new(j, "preserved", categories_json(o->preserved));
    json_object_set_new(j, "records", json_integer(o->records));
    json_object_set_new(j, "approvals", json_integer(o->approvals));
    json_object_set_new(j, "approvals_needed", json_integer(o->approvals_needed));
    json_object_set_new(j, "release_request",
                        o->release_request ? json_integer(o->release_request) : json_null());
    json_object_set_new(j, "approved_at", td__time_json(o->approved_ms));
    json_object_set_new(j, "delivered_at", td__time_json(o->delivered_ms));
    json_object_set_new(j, "ended_at", td__time_json(o->ended_ms));
    json_object_set_new(j, "withdrawn_at", td__time_json(o->withdrawn_ms));
    json_object_set_new(j, "not_executed_at", td__time_json(o->not_executed_ms));
    json_object_set_new(j, "paused_at", td__time_json(o->paused_ms));
    json_object_set_new(j, "extended", json_boolean(o->extended));
    json_object_set_new(j, "production_pending", json_boolean(o->production_pending));
    if (o->linked_order) {
        char linked[TD_EORDER_ID_TEXT_MAX + 1];
        td_eorder_id_format(o->linked_order, linked);
        json_object_set_new(j, "linked_order", json_string(linked));
    } else {
        json_object_set_new(j, "linked_order", json_null());
    }
    json_object_set_new(j, "body_sha256", json_string(o->body_sha256));
    return j;
}

static json_t *summary_json(const td_eorder_summary *s)
{
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:o, s:o, s:i, s:i}", "id", s->id_text,
        "ext_id", s->ext_id, "framework", td_eorder_framework_name(s->framework), "issuing_state",
        s->issuing_state, "reference", s->reference, "state", td_eorder_state_name(s->state),
        "received_at", td__time_json(s->received_ms), "deadlines", deadlines_json(&s->deadlines),
        "escalation", s->escalation, "breached_at", td__time_json(s->breached_ms), "categories",
        categories_json(s->categories), "approvals", (int)s->approvals, "approvals_needed",
        (int)s->approvals_needed);
    if (!j)
        return NULL;
    json_object_set_new(j, "deadline_class",
                        s->deadline ? json_string(td_eorder_deadline_name(s->deadline))
                                    : json_null());
    /* The holds, so that a list shows why an order waits without a read of each. */
    json_object_set_new(j, "grounds_blocked", categories_json(s->grounds_blocked));
    json_object_set_new(j, "restricted", json_boolean(s->restricted));
    json_object_set_new(j, "production_pending", json_boolean(s->production_pending));
    json_object_set_new(j, "paused_at", td__time_json(s->paused_ms));
    return j;
}

/* ---- refusals ---- */

static unsigned problem_status(td_eorder_problem p)
{
    switch (p) {
    case TD_EORDER_TOO_LARGE: return 413;
    case TD_EORDER_UNSIGNED:
    case TD_EORDER_BAD_SIGNATURE: return 401;
    case TD_EORDER_UNKNOWN_AUTHORITY:
    case TD_EORDER_WRONG_AUTHORITY: return 403;
    case TD_EORDER_MALFORMED: return 400;
    case TD_EORDER_CONFLICT: return 409;
    case TD_EORDER_UNKNOWN_ORDER: return 404;
    default: return 422;
    }
}

/* Answers a refusal: why's code and field when it has one, else the status's usual answer. */
static void reply_refusal(td__req *r, td_status st, const td_eorder_rejection *why,
                          const td_error *err)
{
    if (why->problem == TD_EORDER_ACCEPTED) {
        td__reply_status(r, st, err);
        return;
    }
    char msg[TD__ERROR_TEXT_MAX], field[sizeof why->field];
    td__safe_text(msg, sizeof msg, err->message, strnlen(err->message, sizeof err->message));
    td__safe_text(field, sizeof field, why->field, strnlen(why->field, sizeof why->field));
    if (strcmp(field, "signature") == 0)
        snprintf(field, sizeof field, "%s", SIGNATURE_HEADER);
    json_t *j = json_pack("{s:{s:s, s:s, s:s}}", "error", "code",
                          td_eorder_problem_name(why->problem), "field", field, "message", msg);
    td__reply_json(r, problem_status(why->problem), j);
}

/* The issuing authority reads its own order's messages and package without a purpose: one it
 * sends would be ignored, so it is refused. */
static const char *const purpose_param[] = {"purpose", NULL};

/* The purpose a read states (?purpose=...): required. Replies 400 and returns NULL without. */
static const char *read_purpose(td__req *r)
{
    const char *p = td__query(r, "purpose");
    if (!p || !*p) {
        td__reply_error(r, 400, "missing_purpose",
                        "reads of evidence orders are audited: say why in ?purpose=");
        return NULL;
    }
    p = td__query_decode(&r->arena, p);
    if (!p || strlen(p) > PURPOSE_MAX) {
        td__reply_error(r, 400, "invalid_query", "'purpose' is at most %d bytes", PURPOSE_MAX);
        return NULL;
    }
    return p;
}

static const char *actor_of(td__req *r)
{
    char *a = td__arena_alloc(&r->arena, TD_NAME_MAX + 32);
    if (a)
        snprintf(a, TD_NAME_MAX + 32, "%s:%s", td_role_name(r->who.role), r->who.name);
    return a ? a : "unknown";
}

/* The authority linked to the caller's key (authorities only), or 0 after answering 403. */
static int64_t caller_authority(td__req *r)
{
    td_orders *o = td__orders_or_503(r);
    if (!o)
        return 0;
    int64_t id = 0;
    td_error err;
    if (td_authority_for_key(o, r->who.id, &id, &err) != TD_OK || id <= 0) {
        td__reply_error(r, 403, "wrong_authority",
                        "this key is not linked to a registered authority");
        return 0;
    }
    return id;
}

static void reply_order(td__req *r, td_eorders *e, const char *order, const char *purpose,
                        unsigned status)
{
    td_eorder o;
    td_error err;
    td_status st = td_eorder_get(e, actor_of(r), purpose, order, &o, &err);
    if (st)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, status, order_json(&o));
}

/* ---- intake ---- */

static json_t *receipt_json(const td_eorder_receipt *rc)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:o, s:b, s:o, s:s}", "id", rc->id_text, "framework",
                  td_eorder_framework_name(rc->framework), "state", td_eorder_state_name(rc->state),
                  "received_at", td__time_json(rc->received_ms), "duplicate", rc->duplicate,
                  "deadlines", deadlines_json(&rc->deadlines), "body_sha256", rc->body_sha256);
    if (j)
        json_object_set_new(
            j, "reason", rc->reason ? json_string(td_eorder_reason_name(rc->reason)) : json_null());
    return j;
}

void td__h_eorders_receive(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    td_eorder_intake in = {
        .body = r->body,
        .len = r->body_len,
        .signature = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, SIGNATURE_HEADER),
        .caller_key_id = r->who.id,
    };
    td_eorder_receipt rc;
    td_eorder_rejection why;
    td_error err;
    td_status st = td_eorder_receive(e, &in, &rc, &why, &err);
    if (st) {
        reply_refusal(r, st, &why, &err);
        return;
    }
    td__reply_json(r, rc.duplicate ? 200 : 201, receipt_json(&rc));
}

/* ---- reads ---- */

void td__h_eorders_list(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    const char *purpose = e ? read_purpose(r) : NULL;
    int64_t open = 0, limit = 0;
    if (!purpose || !td__query_int(r, "open", 0, 1, 0, &open) ||
        !td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit))
        return;
    td_eorder_summary *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st =
        td_eorder_list(e, actor_of(r), purpose, (int)open, (size_t)limit, &list, &n, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, summary_json(&list[i]));
    td_free(list);
    td__reply_json(r, 200, json_pack("{s:o}", "orders", a));
}

void td__h_eorder_get(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    const char *purpose = e ? read_purpose(r) : NULL;
    if (purpose)
        reply_order(r, e, r->params[0], purpose, 200);
}

void td__h_eorder_records(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    const char *purpose = e ? read_purpose(r) : NULL;
    if (!purpose)
        return;
    td_eorder_record_info *recs = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_eorder_records(e, actor_of(r), purpose, r->params[0], &recs, &n, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const td_eorder_record_info *x = &recs[i];
        json_array_append_new(
            a,
            json_pack("{s:I, s:I, s:s, s:s, s:o, s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)x->id,
                      "evidence_item", (json_int_t)x->evidence_item, "category",
                      td_eorder_category_name(x->category), "identifier", x->identifier, "at",
                      td__time_json(x->at_ms), "bytes", (json_int_t)x->bytes, "sha256", x->sha256,
                      "fields_sha256", x->fields_sha256, "sealed_at", td__time_json(x->sealed_ms),
                      "delivered_at", td__time_json(x->delivered_ms)));
    }
    td_free(recs);
    td__reply_json(r, 200, json_pack("{s:o}", "records", a));
}

void td__h_eorder_messages(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    int authority = r->who.role == TD_ROLE_AUTHORITY;
    if (authority && !td__refuse_query(r, purpose_param, "from the issuing authority"))
        return;
    const char *purpose =
        authority ? "the issuing authority fetches its messages" : read_purpose(r);
    if (!purpose)
        return;
    /* The read is audited like the order's (the messages quote it). */
    td_eorder o;
    td_error err;
    td_status st = td_eorder_get(e, actor_of(r), purpose, r->params[0], &o, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    if (authority) {
        int64_t mine = caller_authority(r);
        if (!mine)
            return;
        if (mine != o.authority_id) {
            td__reply_error(r, 404, "not_found", "no such evidence order");
            return;
        }
    }
    td_eorder_message *msgs = NULL;
    size_t n = 0;
    /* Orders that did not come through the e-Evidence transport are answered by pull: what their
     * authority reads is sent (then listed as such). */
    for (int pass = 0; pass < 2; pass++) {
        td_free(msgs);
        msgs = NULL;
        if ((st = td_eorder_outbox_list(e, o.id_text, 0, TD_PAGE_MAX, &msgs, &n, &err))) {
            td__reply_status(r, st, &err);
            return;
        }
        if (!authority || o.doc.ext_id[0])
            break;
        for (size_t i = 0; pass == 0 && i < n; i++)
            if (msgs[i].state == TD_EORDER_MSG_PENDING &&
                (st = td_eorder_outbox_sent(e, actor_of(r), msgs[i].id, &err))) {
                td_free(msgs);
                td__reply_status(r, st, &err);
                return;
            }
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const td_eorder_message *m = &msgs[i];
        json_t *body = json_loads(m->json, 0, NULL);
        json_array_append_new(
            a,
            json_pack("{s:I, s:s, s:s, s:o, s:i, s:s, s:o, s:o, s:o}", "id", (json_int_t)m->id,
                      "kind", td_eorder_message_kind_name(m->kind), "state",
                      td_eorder_message_state_name(m->state), "message", body ? body : json_null(),
                      "attempts", m->attempts, "last_error", m->last_error, "created_at",
                      td__time_json(m->created_ms), "next_attempt_at",
                      td__time_json(m->next_attempt_ms), "sent_at", td__time_json(m->sent_ms)));
    }
    td_free(msgs);
    td__reply_json(r, 200, json_pack("{s:o}", "messages", a));
}

/* ---- events from the authority ---- */

void td__h_eorder_event(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    int64_t authority = caller_authority(r);
    if (!authority)
        return;
    td_eorder o;
    td_eorder_rejection why;
    td_error err;
    td_status st = td_eorder_event(e, actor_of(r), r->params[0], (const char *)r->body, r->body_len,
                                   authority, &o, &why, &err);
    if (st) {
        reply_refusal(r, st, &why, &err);
        return;
    }
    td__reply_json(r, 200, order_json(&o));
}

/* ---- the platform's data ---- */

/* One record of PUT .../data; members decoded into rec (content in the arena). Replies 400 and
 * returns 0 when malformed. */
static int parse_record(td__req *r, json_t *v, size_t i, td_eorder_record *rec)
{
    static const char *const members[] = {"category",       "identifier",   "at", "fields",
                                          "content_base64", "content_type", NULL};
    char where[48];
    snprintf(where, sizeof where, "records[%zu]", i);
    if (!json_is_object(v)) {
        td__reply_error(r, 400, "invalid_field", "'%s' must be an object", where);
        return 0;
    }
    if (!td__only_members(r, v, members))
        return 0;
    json_t *cat = json_object_get(v, "category");
    rec->category = json_is_string(cat) ? td_eorder_category_parse(json_string_value(cat)) : 0;
    if (!rec->category) {
        td__reply_error(r, 422, "invalid_field",
                        "'%s.category' must be subscriber, identification, traffic or content",
                        where);
        return 0;
    }
    json_t *id = json_object_get(v, "identifier");
    if (id && !json_is_string(id)) {
        td__reply_error(r, 400, "invalid_field", "'%s.identifier' must be a string", where);
        return 0;
    }
    rec->identifier = id ? json_string_value(id) : NULL;
    json_t *at = json_object_get(v, "at");
    if (at) {
        const char *t = json_is_string(at) ? json_string_value(at) : NULL;
        rec->at_ms = t ? td_order_time_parse(t, strlen(t)) : -1;
        if (rec->at_ms <= 0) {
            td__reply_error(r, 400, "invalid_field",
                            "'%s.at' must be a time YYYY-MM-DDTHH:MM:SS[.fff]Z", where);
            return 0;
        }
    }
    json_t *fields = json_object_get(v, "fields");
    if (fields) {
        if (!json_is_object(fields)) {
            td__reply_error(r, 400, "invalid_field", "'%s.fields' must be an object", where);
            return 0;
        }
        char *text = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
        rec->fields_json = text ? td__arena_strndup(&r->arena, text, strlen(text)) : NULL;
        free(text);
        if (!rec->fields_json) {
            td__reply_error(r, 503, "out_of_memory", "out of memory");
            return 0;
        }
    }
    json_t *ct = json_object_get(v, "content_type");
    if (ct && !json_is_string(ct)) {
        td__reply_error(r, 400, "invalid_field", "'%s.content_type' must be a string", where);
        return 0;
    }
    rec->content_type = ct ? json_string_value(ct) : NULL;
    json_t *c = json_object_get(v, "content_base64");
    if (c) {
        if (!json_is_string(c)) {
            td__reply_error(r, 400, "invalid_field", "'%s.content_base64' must be a string", where);
            return 0;
        }
        size_t blen = json_string_length(c), cap = blen / 4 * 3 + 3, n = 0;
        uint8_t *bytes = td__arena_alloc(&r->arena, cap ? cap : 1);
        if (!bytes) {
            td__reply_error(r, 503, "out_of_memory", "out of memory");
            return 0;
        }
        if (sodium_base642bin(bytes, cap, json_string_value(c), blen, "\n\r ", &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            td__reply_error(r, 400, "invalid_field", "'%s.content_base64' is not base64", where);
            return 0;
        }
        rec->content = bytes;
        rec->content_len = n;
    }
    return 1;
}

void td__h_eorder_data(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    json_t *b = td__body_object(r);
    if (!b)
        return;
    static const char *const members[] = {"records", NULL};
    json_t *recs = json_object_get(b, "records");
    if (!td__only_members(r, b, members))
        goto out;
    if (!json_is_array(recs) || json_array_size(recs) == 0) {
        td__reply_error(r, 400, "invalid_field", "'records' must be a non-empty array");
        goto out;
    }
    if (json_array_size(recs) > TD_EORDER_PUT_MAX_RECORDS) {
        td__reply_error(r, 413, "too_large", "at most %d records per call",
                        TD_EORDER_PUT_MAX_RECORDS);
        goto out;
    }
    size_t n = json_array_size(recs);
    td_eorder_record *list = td__arena_alloc(&r->arena, n * sizeof *list);
    if (!list) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        goto out;
    }
    memset(list, 0, n * sizeof *list);
    for (size_t i = 0; i < n; i++)
        if (!parse_record(r, json_array_get(recs, i), i, &list[i]))
            goto out;
    td_eorder_put_result res;
    td_eorder_rejection why;
    td_error err;
    td_status st = td_eorder_put_data(e, actor_of(r), r->params[0], list, n, &res, &why, &err);
    if (st)
        reply_refusal(r, st, &why, &err);
    else
        td__reply_json(r, 200,
                       json_pack("{s:I, s:o, s:s}", "sealed", (json_int_t)res.sealed, "preserved",
                                 categories_json(res.preserved), "state",
                                 td_eorder_state_name(res.state)));
out:
    json_decref(b);
}

/* ---- answers ---- */

void td__h_eorder_approve(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    json_t *b = r->body_len ? td__body_object(r) : json_object();
    if (!b)
        return;
    static const char *const members[] = {"note", NULL};
    const char *note = NULL;
    if (td__only_members(r, b, members) && td__get_string(r, b, "note", &note)) {
        td_eorder_approval a;
        td_error err;
        td_status st = td_eorder_approve(e, &r->who, r->params[0], note, &a, &err);
        if (st)
            td__reply_status(r, st, &err);
        else
            td__reply_json(
                r, 200,
                json_pack("{s:i, s:i, s:b, s:o}", "approvals", (int)a.approvals, "needed",
                          (int)a.needed, "complete", a.complete, "release_request",
                          a.release_request ? json_integer(a.release_request) : json_null()));
    }
    json_decref(b);
}

void td__h_eorder_cannot_comply(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    json_t *b = td__body_object(r);
    if (!b)
        return;
    static const char *const members[] = {"reason", "categories", "explanation", "conflict_of_law",
                                          NULL};
    static const char *const col_members[] = {
        "third_country", "provisions", "nature_of_obligation", "why_applies", "link_to_country",
        "consequences",  NULL};
    td_eorder_cc_input in = {0};
    const char *reason = NULL;
    json_t *col = json_object_get(b, "conflict_of_law");
    if (!td__only_members(r, b, members) || !td__get_string(r, b, "reason", &reason) ||
        !td__get_string(r, b, "explanation", &in.explanation) ||
        !parse_categories(r, json_object_get(b, "categories"), "categories", &in.categories))
        goto out;
    if (!reason || td_eorder_reason_parse(reason, &in.reason) != TD_OK) {
        td__reply_error(r, 422, "invalid_field",
                        "'reason' must be an Annex III reason (incomplete, manifest_errors, "
                        "insufficient_information, data_not_held, de_facto_impossibility, "
                        "invalid_issuing_authority, offence_not_covered, service_not_covered, "
                        "immunities_or_privileges, conflict_of_law)");
        goto out;
    }
    if (col) {
        if (!json_is_object(col)) {
            td__reply_error(r, 400, "invalid_field", "'conflict_of_law' must be an object");
            goto out;
        }
        if (!td__only_members(r, col, col_members) ||
            !td__get_string(r, col, "third_country", &in.third_country) ||
            !td__get_string(r, col, "provisions", &in.provisions) ||
            !td__get_string(r, col, "nature_of_obligation", &in.nature_of_obligation) ||
            !td__get_string(r, col, "why_applies", &in.why_applies) ||
            !td__get_string(r, col, "link_to_country", &in.link_to_country) ||
            !td__get_string(r, col, "consequences", &in.consequences))
            goto out;
    }
    td_eorder o;
    td_error err;
    td_status st = td_eorder_cannot_comply(e, actor_of(r), r->params[0], &in, &o, &err);
    if (st)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200, order_json(&o));
out:
    json_decref(b);
}

void td__h_eorder_correspond(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    json_t *b = td__body_object(r);
    if (!b)
        return;
    static const char *const members[] = {"kind", "text", NULL};
    const char *kind = NULL, *text = NULL;
    if (td__only_members(r, b, members) && td__get_string(r, b, "kind", &kind) &&
        td__get_string(r, b, "text", &text)) {
        td_eorder_correspondence_kind k = 0;
        if (kind && strcmp(kind, "request_additional_information") == 0)
            k = TD_EORDER_REQUEST_ADDITIONAL_INFORMATION;
        else if (kind && strcmp(kind, "provide_additional_information") == 0)
            k = TD_EORDER_PROVIDE_ADDITIONAL_INFORMATION;
        else if (kind && strcmp(kind, "other") == 0)
            k = TD_EORDER_CORRESPONDENCE_OTHER;
        td_error err;
        if (!k)
            td__reply_error(r, 422, "invalid_field",
                            "'kind' must be request_additional_information, "
                            "provide_additional_information or other");
        else if (td_eorder_correspond(e, actor_of(r), r->params[0], k, text, &err) != TD_OK)
            td__reply_status(r, err.code, &err);
        else
            td__reply_json(r, 202, json_pack("{s:s}", "queued", "correspondence"));
    }
    json_decref(b);
}

/* ---- delivery ---- */

/* DATA/eorders/packages/<order>.tdpkg into out (cap bytes), the folder created (0700). */
static int package_path(td__req *r, const char *order_text, char *out, size_t cap)
{
    const char *data = td_config_string(r->srv->opts.config, "data");
    if (!data || !*data)
        data = ".";
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/eorders", data);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return 0;
    snprintf(dir, sizeof dir, "%s/%s", data, PACKAGE_DIR);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return 0;
    return snprintf(out, cap, "%s/%s.tdpkg", dir, order_text) < (int)cap;
}

void td__h_eorder_deliver(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    if (r->body_len) {
        json_t *b = td__body_object(r);
        static const char *const none[] = {NULL};
        int ok = b && td__only_members(r, b, none);
        json_decref(b);
        if (!ok)
            return;
    }
    td_eorder o;
    td_error err;
    if (td_eorder_get(e, actor_of(r), "delivery", r->params[0], &o, &err) != TD_OK) {
        td__reply_status(r, err.code, &err);
        return;
    }
    char path[4200];
    if (!package_path(r, o.id_text, path, sizeof path)) {
        td__reply_error(r, 500, "internal", "cannot make the package folder");
        return;
    }
    td_eorder_delivery d;
    td_status st = td_eorder_deliver(e, actor_of(r), o.id_text, path, &d, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    char url[96];
    snprintf(url, sizeof url, "/v1/evidence-orders/%s/package", o.id_text);
    td__reply_json(r, 200,
                   json_pack("{s:s, s:I, s:o, s:I, s:o, s:{s:s, s:I, s:s}}", "id", o.id_text,
                             "records", (json_int_t)d.records, "categories",
                             categories_json(d.categories), "audit_seq", (json_int_t)d.audit_seq,
                             "delivered_at", td__time_json(d.delivered_ms), "package", "sha256",
                             d.package_sha256, "bytes", (json_int_t)d.package_bytes, "url", url));
}

void td__h_eorder_package(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    const char *purpose = "package download";
    if (r->who.role == TD_ROLE_AUTHORITY
            ? !td__refuse_query(r, purpose_param, "from the issuing authority")
            : !(purpose = read_purpose(r)))
        return;
    td_eorder o;
    td_error err;
    if (td_eorder_get(e, actor_of(r), purpose, r->params[0], &o, &err) != TD_OK) {
        td__reply_status(r, err.code, &err);
        return;
    }
    if (r->who.role == TD_ROLE_AUTHORITY) {
        int64_t authority = caller_authority(r);
        if (!authority)
            return;
        if (authority != o.authority_id) {
            td__reply_error(r, 404, "not_found", "no such evidence order");
            return;
        }
    }
    char path[4200];
    if (o.state != TD_EORDER_DELIVERED || !package_path(r, o.id_text, path, sizeof path)) {
        td__reply_error(r, 409, "conflict", "the order's data has not been delivered");
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        td__reply_error(r, 410, "gone", "the package file is no longer here");
        return;
    }
    td__reply_fd(r, 200, "application/octet-stream", fd, (uint64_t)sb.st_size);
}

void td__h_eorders_delivery_key(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    uint8_t pk[TD_EORDER_SIGN_PUBKEY_LEN];
    td_eorders_delivery_public_key(e, pk);
    char hex[2 * TD_EORDER_SIGN_PUBKEY_LEN + 1];
    td__hex_encode(pk, sizeof pk, hex);
    td__reply_json(r, 200, json_pack("{s:s, s:s}", "algorithm", "ed25519", "public_key", hex));
}

void td__h_eorders_report(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
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
    td_status st = td_eorders_report(e, f, t, &text, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_text(r, 200, "application/json", text, strlen(text));
    td_free(text);
}

/* ---- the ETSI TS 103 120 transport ---- */

/* The access point's signature over the XML: Ed25519 of the authority linked to the caller's
 * key. Returns 1, or 0 after answering 401 / 403. */
static int check_transport_signature(td__req *r)
{
    int64_t authority = caller_authority(r);
    if (!authority)
        return 0;
    const char *sig = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, SIGNATURE_HEADER);
    td_error err;
    td_status st =
        td_authority_verify(td__req_orders(r), authority, r->body, r->body_len, sig, &err);
    if (st == TD_ERR_INVALID) {
        int unsigned_ = !sig || !*sig;
        json_t *j = json_pack("{s:{s:s, s:s, s:s}}", "error", "code",
                              unsigned_ ? "unsigned" : "bad_signature", "field", SIGNATURE_HEADER,
                              "message",
                              unsigned_ ? "the message must be signed: Takedown-Signature: "
                                          "ed25519=<base64>"
                                        : "the signature does not verify with the access point's "
                                          "key");
        td__reply_json(r, 401, j);
        return 0;
    }
    if (st)
        td__reply_status(r, st, &err);
    return st == TD_OK;
}

/* Audits the message the transport carried, before it is applied (a message received is a fact
 * of its own, whatever becomes of it): the XML's SHA-256, the header, the order it names and the
 * documents (signed PDF forms) by digest. Returns 0 after answering when the log refuses. */
static int audit_transport(td__req *r, td_eorders *e, const char *order, const char *endpoint,
                           const td_eevidence_header *h, json_t *documents)
{
    uint8_t d[32];
    crypto_hash_sha256(d, r->body, r->body_len);
    char hex[65];
    td__hex_encode(d, sizeof d, hex);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "endpoint", endpoint, "xml_sha256", hex,
                  "transaction", h->transaction_id, "sender", h->sender.unique_id, "sender_country",
                  h->sender.country, "documents", documents ? documents : json_null());
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    td_error err;
    td_status st = text ? td_audit_append(td_eorders_audit(e), actor_of(r), "eorder.transport",
                                          order, text, NULL, &err)
                        : td__error_set(&err, TD_ERR_NOMEM, "out of memory");
    free(text);
    if (st)
        td__reply_status(r, st, &err);
    return st == TD_OK;
}

/* Information the authority provides (ProvideAdditionalInformation) for an order paused by our
 * Annex III answer is its clarification: the clock restarts (the JSON route says "clarification"
 * itself). */
static void answer_to_request(td__req *r, td_eorders *e, const char *order, json_t *ev)
{
    json_t *action = json_object_get(ev, "action"), *kind = json_object_get(ev, "kind");
    if (!json_is_string(action) || strcmp(json_string_value(action), "correspondence") != 0 ||
        !json_is_string(kind) ||
        strcmp(json_string_value(kind), "provide_additional_information") != 0)
        return;
    td_eorder o;
    td_error err;
    if (td_eorder_get(e, actor_of(r), "e-Evidence transport: is the order waiting for this", order,
                      &o, &err) != TD_OK ||
        o.state != TD_EORDER_PAUSED)
        return;
    json_object_set_new(ev, "action", json_string("clarification"));
    json_object_del(ev, "kind");
}

void td__h_eevidence(td__req *r)
{
    td_eorders *e = eorders_or_503(r);
    if (!e)
        return;
    int ep = td_eevidence_endpoint_from_name(r->params[0], strlen(r->params[0]));
    if (ep < 0 || ep > TD_EEV_CORRESPONDENCE) {
        td__reply_error(r, 404, "not_found",
                        "no such e-Evidence endpoint (production, preservation, "
                        "subsequentproduction, preservationextension, endpreservation, "
                        "newdeadline, withdraw, groundsforrefusal, correspondence)");
        return;
    }
    if (!check_transport_signature(r))
        return;
    char *json = NULL;
    td_eevidence_header h;
    td_error err;
    td_status st = td_eevidence_parse((td_eevidence_endpoint)ep, (const char *)r->body, r->body_len,
                                      &json, &h, &err);
    if (st) {
        char msg[TD__ERROR_TEXT_MAX];
        td__safe_text(msg, sizeof msg, err.message, strnlen(err.message, sizeof err.message));
        td__reply_error(r, st == TD_ERR_LIMIT ? 413 : 400,
                        st == TD_ERR_LIMIT ? "too_large" : "invalid_xml", "%s", msg);
        return;
    }
    json_t *doc = json_loads(json, 0, NULL);
    td_free(json);
    if (!json_is_object(doc)) {
        json_decref(doc);
        td__reply_error(r, 500, "internal", "the transport gave no JSON object");
        return;
    }
    /* What the transport carries beyond the document: audited, not part of the order. */
    json_t *documents = json_incref(json_object_get(doc, "documents"));
    json_t *transport = json_pack("{s:O}", "tasks", json_object_get(doc, "tasks"));
    json_object_del(doc, "documents");
    json_object_del(doc, "tasks");
    td_eorder_rejection why = {0};
    json_t *ext = json_object_get(
        doc, ep == TD_EEV_PRODUCTION || ep == TD_EEV_PRESERVATION ? "ext_id" : "order");
    if (!audit_transport(r, e, json_is_string(ext) ? json_string_value(ext) : "", r->params[0], &h,
                         documents)) {
        json_decref(documents);
        json_decref(transport);
        json_decref(doc);
        return;
    }
    if (ep == TD_EEV_PRODUCTION || ep == TD_EEV_PRESERVATION) {
        char *body = json_dumps(doc, JSON_COMPACT);
        /* What answering needs later: the request's task objects (id and category) and who sent
         * it (the receiver of the answers). */
        json_t *tasks = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(transport, "tasks"), i, t)
        {
            json_array_append_new(tasks, json_pack("{s:O, s:O}", "id", json_object_get(t, "id"),
                                                   "category", json_object_get(t, "category")));
        }
        json_t *tdata = json_pack("{s:o, s:{s:s, s:s}, s:s}", "tasks", tasks, "sender", "country",
                                  h.sender.country, "unique_id", h.sender.unique_id, "transaction",
                                  h.transaction_id);
        char *tdata_text = tdata ? json_dumps(tdata, JSON_COMPACT) : NULL;
        json_decref(tdata);
        td_eorder_intake in = {.body = (const uint8_t *)body,
                               .len = body ? strlen(body) : 0,
                               .transport = "etsi_xml",
                               .transport_data = tdata_text,
                               .actor = actor_of(r)};
        td_eorder_receipt rc;
        st = body && tdata_text ? td_eorder_receive(e, &in, &rc, &why, &err)
                                : td__error_set(&err, TD_ERR_NOMEM, "out of memory");
        free(body);
        free(tdata_text);
        if (st)
            reply_refusal(r, st, &why, &err);
        else
            td__reply_json(r, rc.duplicate ? 200 : 201, receipt_json(&rc));
    } else {
        json_t *order = json_object_get(doc, "order");
        char target[TD_EORDER_EXT_ID_MAX + 1] = "";
        if (json_is_string(order))
            snprintf(target, sizeof target, "%s", json_string_value(order));
        json_object_del(doc, "order");
        answer_to_request(r, e, target, doc);
        char *body = json_dumps(doc, JSON_COMPACT);
        td_eorder o;
        st = body ? td_eorder_event(e, actor_of(r), target, body, strlen(body), 0, &o, &why, &err)
                  : td__error_set(&err, TD_ERR_NOMEM, "out of memory");
        free(body);
        if (st)
            reply_refusal(r, st, &why, &err);
        else
            td__reply_json(r, 200, order_json(&o));
    }
    json_decref(documents);
    json_decref(transport);
    json_decref(doc);
}
