/* Events from the issuing side (and grounds for refusal from the enforcing state), the same for
 * the JSON route and the XML transport: subsequent production (Annex V), preservation extended
 * (Annex VI) or ended, a new deadline, withdrawal, grounds, clarification and correction,
 * correspondence.
 *
 * Each event is one transaction: the order's row changes, the event's body is kept
 * (eorder_events, which the authority's correspondence needs) and its audit entry
 * ("eorder.<action>", with the body's digest, never its text) is appended. What cannot happen in
 * a transaction (the evidence let go at the end of a preservation or a withdrawal) follows the
 * commit and is retried by nothing: a case left held only waits for the next end. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "eorders/eorders_int.h"

typedef struct event_args {
    td_eorders *eo;
    const char *actor, *order, *json;
    size_t len;
    int64_t authority_id;
    const td_eorder_event_doc *ev;
    td_eorder_rejection *why;
    td_eorder *o;      /* scratch: the order before */
    td_eorder_doc *nd; /* scratch: a corrected document */
    int64_t id;
    int release; /* let the evidence go after the commit */
    int collect; /* a collection was asked: wake the webhook worker */
} event_args;

static td_status conflict(event_args *a, td_error *err, const char *what)
{
    return td__eorder_refuse(a->why, TD_EORDER_CONFLICT, "action", TD_ERR_CONFLICT, err,
                             "%s: not possible for %s order %s in state %s",
                             td_eorder_action_name(a->ev->action),
                             td_eorder_framework_name(a->o->doc.framework), a->o->id_text, what);
}

/* The sender may send this event: the issuing authority, or for grounds the enforcing state's. */
static td_status check_sender(event_args *a, td_store_conn *c, td_error *err)
{
    char state[3];
    td_authority_kind kind;
    td_status st;
    if (a->authority_id <= 0)
        return TD_OK;
    if (a->ev->action != TD_EORDER_GROUNDS) {
        if (a->authority_id != a->o->authority_id)
            return td__eorder_refuse(a->why, TD_EORDER_WRONG_AUTHORITY, "order", TD_ERR_INVALID,
                                     err, "the order was issued by another authority");
        return TD_OK;
    }
    if ((st = td__eorder_authority_state(c, a->authority_id, state, &kind, err)))
        return st;
    const td_eorder_doc *d = &a->o->doc;
    int ok = (kind == TD_AUTHORITY_COMPETENT || kind == TD_AUTHORITY_EVIDENCE) &&
             (d->addressee_state[0] ? strcmp(state, d->addressee_state) == 0
                                    : strcmp(state, d->issuing_state) != 0);
    return ok ? TD_OK
              : td__eorder_refuse(a->why, TD_EORDER_WRONG_AUTHORITY, "order", TD_ERR_INVALID, err,
                                  "grounds for refusal come from the enforcing state's authority");
}

static td_status record_event(event_args *a, td_store_conn *c, int64_t now, json_t *details,
                              td_error *err)
{
    uint8_t digest[32];
    char hex[65], action[64];
    td_stmt *q;
    td_status st;
    crypto_hash_sha256(digest, (const uint8_t *)a->json, a->len);
    td__hex_encode(digest, sizeof digest, hex);
    if ((st = td_store_prepare(c,
                               "INSERT INTO eorder_events (order_id, action, body, actor,"
                               " received_ms) VALUES ($1, $2, $3, $4, $5)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->ev->action, err)) ||
        (st = td_stmt_bind_text(q, 3, a->json, a->len, err)) ||
        (st = td_stmt_bind_text(q, 4, a->actor ? a->actor : "system", (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 5, now, err)) || (st = td_stmt_run(q, NULL, err))) {
        json_decref(details);
        return st;
    }
    if (!details)
        details = json_object();
    json_object_set_new(details, "event_sha256", json_string(hex));
    json_object_set_new(details, "state_before", json_string(td_eorder_state_name(a->o->state)));
    snprintf(action, sizeof action, "eorder.%s", td_eorder_action_name(a->ev->action));
    return td__eorders_audit(a->eo, c, a->actor, action, a->id, details, NULL, err);
}

/* ---- the actions ---- */

static int is_pr(const td_eorder *o) { return o->doc.framework == TD_EORDER_EU_EPOC_PR; }

static td_status subsequent_production(event_args *a, td_store_conn *c, int64_t now,
                                       json_t **details, td_error *err)
{
    const td_eorder_event_doc *ev = a->ev;
    int64_t one = 1, epoc = td_eorder_id_parse(ev->id);
    td_status st;
    (void)now;
    if (!is_pr(a->o) || !td__eorder_state_open(a->o->state))
        return conflict(a, err, td_eorder_state_name(a->o->state));
    if ((st = td__eorder_update(c, a->id, "production_pending = $2", &one, 1, err)))
        return st;
    /* The production order, when we have it already, is linked (the preservation is then held
     * while it is open, and released when it is done). */
    td_stmt *q;
    if (epoc || ev->reference[0]) {
        if ((st = td_store_prepare(c,
                                   epoc ? "UPDATE eorders SET linked_order = $1 WHERE id = $2"
                                          " AND framework = $3 AND linked_order = 0"
                                        : "UPDATE eorders SET linked_order = $1 WHERE"
                                          " reference = $2 AND framework = $3 AND"
                                          " linked_order = 0",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = epoc ? td_stmt_bind_int64(q, 2, epoc, err)
                       : td_stmt_bind_text(q, 2, ev->reference, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 3, TD_EORDER_EU_EPOC, err)))
            return st;
        int64_t linked = 0;
        if ((st = td_stmt_run(q, &linked, err)))
            return st;
        *details = json_pack("{s:b}", "linked", linked > 0);
    }
    return TD_OK;
}

static td_status extend_preservation(event_args *a, td_store_conn *c, json_t **details,
                                     td_error *err)
{
    if (!is_pr(a->o) || !td__eorder_state_open(a->o->state) || a->o->state == TD_EORDER_PAUSED)
        return conflict(a, err, td_eorder_state_name(a->o->state));
    if (a->o->extended)
        return conflict(a, err, "extended once already");
    int64_t v[2] = {a->o->deadlines.preserve_until_ms + TD__EO_EXTENSION, 1};
    *details = json_pack("{s:o}", "preserve_until", td__eorder_time_json(v[0]));
    return td__eorder_update(c, a->id, "preserve_until_ms = $2, extended = $3", v, 2, err);
}

static td_status end_preservation(event_args *a, td_store_conn *c, int64_t now, td_error *err)
{
    if (!is_pr(a->o) || !td__eorder_state_open(a->o->state))
        return conflict(a, err, td_eorder_state_name(a->o->state));
    int64_t v[2] = {TD_EORDER_ENDED, now};
    a->release = 1;
    return td__eorder_update(c, a->id, "state = $2, ended_ms = $3, production_pending = 0", v, 2,
                             err);
}

static td_status new_deadline(event_args *a, td_store_conn *c, int64_t now, json_t **details,
                              td_error *err)
{
    int64_t t = a->ev->deadline_ms;
    if (!td__eorder_state_open(a->o->state) || a->o->state == TD_EORDER_PAUSED)
        return conflict(a, err, td_eorder_state_name(a->o->state));
    if (t <= now)
        return td__eorder_refuse(a->why, TD_EORDER_INVALID_FIELD, "deadline", TD_ERR_INVALID, err,
                                 "not in the future");
    *details = json_pack("{s:o, s:o}", "deadline", td__eorder_time_json(t), "previous",
                         td__eorder_time_json(is_pr(a->o) ? a->o->deadlines.preserve_until_ms
                                                          : a->o->deadlines.due_ms));
    /* The new deadline replaces the old: its escalation marks start again. */
    if (is_pr(a->o))
        return td__eorder_update(c, a->id, "preserve_until_ms = $2", &t, 1, err);
    int64_t v[2] = {t, 0};
    return td__eorder_update(c, a->id, "due_ms = $2, escalation = $3", v, 2, err);
}

static td_status withdraw(event_args *a, td_store_conn *c, int64_t now, json_t **details,
                          td_error *err)
{
    int64_t cancelled = 0;
    td_status st;
    if (!td__eorder_state_open(a->o->state))
        return conflict(a, err, td_eorder_state_name(a->o->state));
    int64_t v[2] = {TD_EORDER_WITHDRAWN, now};
    if ((st = td__eorder_update(c, a->id, "state = $2, withdrawn_ms = $3, production_pending = 0",
                                v, 2, err)) ||
        (st = td__eorder_messages_cancel(c, a->id, &cancelled, err)) ||
        (st = td__eorder_production_done(c, a->o, err)))
        return st;
    a->release = 1;
    *details = json_pack("{s:I}", "messages_cancelled", (json_int_t)cancelled);
    return TD_OK;
}

static td_status grounds(event_args *a, td_store_conn *c, int64_t now, json_t **details,
                         td_error *err)
{
    const td_eorder_event_doc *ev = a->ev;
    td_eorder *o = a->o;
    td_status st;
    if (o->doc.framework != TD_EORDER_EU_EPOC)
        return conflict(a, err, "(grounds concern production orders to an enforcing state)");
    if (!td__eorder_state_open(o->state) && o->state != TD_EORDER_DELIVERED)
        return conflict(a, err, td_eorder_state_name(o->state));
    if (o->grounds != TD_EORDER_GROUNDS_NOT_RAISED)
        return conflict(a, err, "(grounds were answered already)");
    unsigned blocked = ev->grounds == TD_EORDER_GROUNDS_FULL      ? (unsigned)TD_EORDER_CAT_ALL
                       : ev->grounds == TD_EORDER_GROUNDS_PARTIAL ? ev->grounds_categories
                                                                  : 0u;
    int delivered = o->state == TD_EORDER_DELIVERED;
    int restrict_data = 0;
    *details = json_pack("{s:s, s:o}", "kind",
                         ev->grounds == TD_EORDER_GROUNDS_NONE      ? "none"
                         : ev->grounds == TD_EORDER_GROUNDS_PARTIAL ? "partial"
                                                                    : "full",
                         "categories", td__eorder_categories_json(blocked));
    if (ev->ground)
        json_object_set_new(*details, "ground", json_string(td_eorder_reason_name(ev->ground)));
    int64_t v[4] = {ev->grounds, ev->ground, blocked, now};
    if ((st = td__eorder_update(c, a->id,
                                "grounds = $2, ground = $3, grounds_blocked = $4, grounds_ms = $5",
                                v, 4, err)))
        return st;
    if (ev->grounds == TD_EORDER_GROUNDS_NONE) {
        /* No grounds: transmission is allowed from now on (ten_days_enforcing). */
        if (!delivered && o->deadlines.transmit_from_ms > now)
            return td__eorder_update(c, a->id, "transmit_from_ms = $2", &now, 1, err);
        return TD_OK;
    }
    if (delivered) {
        /* Data already sent in an emergency: grounds within 96 hours of receipt restrict its
         * use, and the recipient is told (Art. 10(4)); later ones are recorded only. */
        restrict_data = o->deadlines.grounds_until_ms && now <= o->deadlines.grounds_until_ms;
        json_object_set_new(*details, "restricted", json_boolean(restrict_data));
        if (!restrict_data)
            return TD_OK;
        int64_t one = 1;
        if ((st = td__eorder_update(c, a->id, "restricted = $2", &one, 1, err)))
            return st;
        return td__eorder_message(
            a->eo, c, o, TD_EORDER_MSG_CORRESPONDENCE,
            json_pack("{s:s, s:s, s:o, s:s}", "kind", "data_restricted", "ground",
                      td_eorder_reason_name(ev->ground), "categories",
                      td__eorder_categories_json(blocked & o->doc.categories), "text",
                      "grounds for refusal were raised: the data delivered must be deleted or"
                      " its use restricted"),
            err);
    }
    /* Before delivery: the categories named are blocked; all of them blocked, the order is not
     * executed (the enforcing state refused it). */
    unsigned remaining = o->doc.categories & ~o->refused & ~blocked;
    if (remaining)
        return TD_OK;
    int64_t w[3] = {TD_EORDER_NOT_EXECUTED, now, ev->ground};
    if ((st = td__eorder_update(c, a->id, "state = $2, not_executed_ms = $3, reason = $4", w, 3,
                                err)) ||
        (st = td__eorder_production_done(c, o, err)))
        return st;
    a->release = 1;
    return TD_OK;
}

/* Clarification or correction: sections replaced (the document validated again), and a paused
 * order (or one refused for its issuing authority, now corrected) restarts with its full
 * period from now. */
static td_status clarify(td_eorders *eo, event_args *a, td_store_conn *c, int64_t now,
                         json_t **details, td_error *err)
{
    td_eorder *o = a->o;
    const td_eorder_doc *d = &o->doc;
    td_status st;
    int invalid_authority =
        o->state == TD_EORDER_NOT_EXECUTED && o->reason == TD_EORDER_R_INVALID_ISSUING_AUTHORITY;
    if (!td__eorder_state_open(o->state) && !invalid_authority)
        return conflict(a, err, td_eorder_state_name(o->state));
    int scope_changed = 0;
    if (a->ev->sections) {
        char *merged = NULL;
        td_stmt *q;
        int row = 0;
        if ((st = td_store_prepare(c, "SELECT doc FROM eorders WHERE id = $1", &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
            return st;
        char *old = row ? td__strdup(td_stmt_column_text(q, 0)) : NULL;
        td_stmt_reset(q);
        if (!old)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        st = td__eorder_merge_sections(old, a->ev->sections, &merged, a->why, err);
        td__free(old);
        if (st)
            return st;
        st = td_eorder_parse(merged, strlen(merged), a->nd, a->why, err);
        if (st) {
            free(merged); /* jansson's */
            if (a->why && a->why->field[0]) {
                char field[96];
                snprintf(field, sizeof field, "sections.%.80s", a->why->field);
                memcpy(a->why->field, field, sizeof a->why->field);
            }
            return st;
        }
        if (a->nd->framework != d->framework || strcmp(a->nd->ext_id, d->ext_id) != 0 ||
            strcmp(a->nd->issuing_authority.name, d->issuing_authority.name) != 0) {
            free(merged);
            return td__eorder_refuse(a->why, TD_EORDER_INVALID_FIELD,
                                     "sections.A.issuing_authority.name", TD_ERR_INVALID, err,
                                     "a correction cannot change the framework or the issuing"
                                     " authority");
        }
        if (!td_eorder_doc_executable(a->nd)) {
            free(merged);
            return td__eorder_refuse(a->why, TD_EORDER_INVALID_FIELD, "sections.A", TD_ERR_INVALID,
                                     err,
                                     "traffic or content data need a judge, court or"
                                     " investigating judge as issuer or validator");
        }
        scope_changed = memcmp(a->nd->identifiers, d->identifiers, sizeof d->identifiers) != 0 ||
                        a->nd->n_identifiers != d->n_identifiers ||
                        a->nd->categories != d->categories || a->nd->subscriber != d->subscriber ||
                        a->nd->from_ms != d->from_ms || a->nd->to_ms != d->to_ms;
        if ((st = td_store_prepare(c,
                                   "UPDATE eorders SET doc = $2, categories = $3,"
                                   " deadline_class = $4, approvals_needed = $5 WHERE id = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = td_stmt_bind_text(q, 2, merged, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 3, a->nd->categories, err)) ||
            (st = td_stmt_bind_int64(q, 4, a->nd->deadline, err)) ||
            (st = td_stmt_bind_int64(q, 5, td__eorder_approvals_needed(eo, a->nd), err)) ||
            (st = td_stmt_run(q, NULL, err))) {
            free(merged);
            return st;
        }
        free(merged);
        /* What was approved is not what is now asked: approvals start again. */
        if (scope_changed) {
            if ((st = td_store_prepare(c, "DELETE FROM eorder_approvals WHERE order_id = $1", &q,
                                       err)) ||
                (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_run(q, NULL, err)))
                return st;
            int64_t z[1] = {0};
            if ((st = td__eorder_update(c, a->id, "release_request = $2, approved_ms = $2", z, 1,
                                        err)))
                return st;
        }
        d = a->nd;
    }
    td_eorder_state back = o->state;
    int restart = o->state == TD_EORDER_PAUSED || invalid_authority;
    if (restart)
        back =
            o->state == TD_EORDER_PAUSED && o->paused_from ? o->paused_from : TD_EORDER_COLLECTING;
    if (scope_changed && back == TD_EORDER_APPROVED)
        back = TD_EORDER_PRESERVED;
    *details = json_pack("{s:b, s:b, s:s}", "restarted", restart, "sections_changed",
                         a->ev->sections != NULL, "state", td_eorder_state_name(back));
    /* A corrected deadline class or compliance period applies from the same start. */
    int deadline_changed = d != &o->doc && (d->deadline != o->doc.deadline ||
                                            d->compliance_period_ms != o->doc.compliance_period_ms);
    if (!restart && !scope_changed && !deadline_changed)
        return TD_OK; /* recorded (and the document corrected, when sections came) */
    /* Restarted: the full period again from now; corrected: the same start, new rules;
     * otherwise (only the scope changed) the deadlines stay, a new deadline included. */
    td_eorder_deadlines dl = o->deadlines;
    if (restart || deadline_changed)
        td__eorder_deadlines(eo, d, o->received_ms, restart ? now : o->deadlines.clock_start_ms,
                             &dl);
    if (scope_changed && !restart) {
        /* Asked again now: the answer is due from now, within half of what is left. */
        int64_t collect = eo->opts.collect_ms;
        if (dl.due_ms > now && (dl.due_ms - now) / 2 < collect)
            collect = (dl.due_ms - now) / 2;
        dl.collect_ms = now + collect;
    }
    int64_t v[11] = {back,
                     dl.clock_start_ms,
                     dl.collect_ms,
                     dl.due_ms,
                     dl.transmit_from_ms,
                     dl.preserve_until_ms,
                     dl.grounds_until_ms,
                     restart ? 0 : o->escalation,
                     restart ? TD_EORDER_R_NONE : o->reason,
                     0,
                     0};
    if (o->doc.framework == TD_EORDER_EU_EPOC_PR && !restart)
        v[5] = o->deadlines.preserve_until_ms; /* an extension or a new deadline stays */
    if ((st = td__eorder_update(c, a->id,
                                "state = $2, clock_start_ms = $3, collect_ms = $4, due_ms = $5,"
                                " transmit_from_ms = $6, preserve_until_ms = $7,"
                                " grounds_until_ms = $8, escalation = $9, reason = $10,"
                                " paused_from = $11, not_executed_ms = $12",
                                v, 11, err)))
        return st;
    if (restart)
        json_object_set_new(*details, "due", td__eorder_time_json(dl.due_ms));
    /* Ask the platform again when the order restarts or its scope changed. */
    if ((restart || scope_changed) &&
        (back == TD_EORDER_COLLECTING || back == TD_EORDER_PRESERVED)) {
        a->collect = 1;
        return td__eorder_collect(eo, c, a->id, d, dl.collect_ms, err);
    }
    return TD_OK;
}

static td_status event_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    event_args *a = ctx;
    json_t *details = NULL;
    td_status st;
    if ((st = td__eorder_resolve(c, a->order, &a->id, err))) {
        td__eorder_refuse(a->why, TD_EORDER_UNKNOWN_ORDER, "order", TD_ERR_NOT_FOUND, NULL, "%s",
                          "no such order");
        return st;
    }
    if ((st = td__eorder_load(c, a->id, a->o, err)) || (st = check_sender(a, c, err)))
        return st;
    int64_t now = td__now(eo->svc);
    switch (a->ev->action) {
    case TD_EORDER_SUBSEQUENT_PRODUCTION:
        st = subsequent_production(a, c, now, &details, err);
        break;
    case TD_EORDER_EXTEND_PRESERVATION: st = extend_preservation(a, c, &details, err); break;
    case TD_EORDER_END_PRESERVATION: st = end_preservation(a, c, now, err); break;
    case TD_EORDER_NEW_DEADLINE: st = new_deadline(a, c, now, &details, err); break;
    case TD_EORDER_WITHDRAW: st = withdraw(a, c, now, &details, err); break;
    case TD_EORDER_GROUNDS: st = grounds(a, c, now, &details, err); break;
    case TD_EORDER_CLARIFICATION:
    case TD_EORDER_CORRECTION: st = clarify(eo, a, c, now, &details, err); break;
    case TD_EORDER_CORRESPONDENCE:
        details = json_pack("{s:s}", "kind",
                            a->ev->correspondence == TD_EORDER_REQUEST_ADDITIONAL_INFORMATION
                                ? "request_additional_information"
                            : a->ev->correspondence == TD_EORDER_PROVIDE_ADDITIONAL_INFORMATION
                                ? "provide_additional_information"
                                : "other");
        break;
    }
    if (st) {
        json_decref(details);
        return st;
    }
    return record_event(a, c, now, details, err);
}

td_status td_eorder_event(td_eorders *eo, const char *actor, const char *order, const char *json,
                          size_t len, int64_t authority_id, td_eorder *out,
                          td_eorder_rejection *why, td_error *err)
{
    td_eorder_event_doc ev;
    td_eorder_rejection local;
    td_status st;
    if (!why)
        why = &local;
    memset(why, 0, sizeof *why);
    if ((st = td_eorder_event_parse(json, len, &ev, why, err)))
        return st;
    event_args a = {eo, actor, order, json, len, authority_id, &ev, why, NULL, NULL, 0, 0, 0};
    a.o = td__malloc(sizeof *a.o);
    a.nd = td__malloc(sizeof *a.nd);
    if (!a.o || !a.nd) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = td__eorders_tx(eo, event_body, &a, err)))
        goto out;
    if (a.collect)
        td_webhook_kick(eo->svc);
    if (a.release) {
        td_error ignored;
        /* The order ended: its evidence may go at the next purge (a failure leaves it held,
         * which only keeps it longer). */
        td__eo_ignore(td__eorder_release_evidence(eo, a.id, 0, &ignored));
    }
    if (out) {
        td_store_conn *c;
        if ((st = td_store_acquire(eo->svc->store, 0, &c, err)) == TD_OK) {
            st = td__eorder_load(c, a.id, out, err);
            td_store_release(eo->svc->store, c);
        }
    }
out:
    td_eorder_event_doc_clear(&ev);
    td__free(a.o);
    td__free(a.nd);
    return st;
}
