/* Intake of signed orders and referrals, and reading stored orders back.
 *
 * Order of checks, and why: size first (cheap, and bounds everything after); then the
 * signature's presence and shape; then only the issuing authority's name is read from the body, to
 * find its key; then the Ed25519 signature over the exact body bytes; only a genuine document is
 * parsed in full. The name is read from the leading JSON object with whatever follows it ignored,
 * and when no name can be read at all (a truncated or garbled body) the key is the one of the
 * authority the caller's API key is linked to, else each registered authority's in turn: so a
 * signed body with a byte appended, flipped or cut off answers "bad signature", never
 * "malformed". An unsigned or forged body thus never gets its fields examined (nor reflected in
 * error messages beyond the authority's name), and the receipt time is taken and committed in
 * the same transaction as the order and its audit entry, before anything is acknowledged. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "orders/orders_int.h"

const char *td_order_state_name(td_order_state s)
{
    switch (s) {
    case TD_ORDER_RECEIVED: return "received";
    case TD_ORDER_EXECUTED: return "executed";
    case TD_ORDER_CONFIRMED: return "confirmed";
    case TD_ORDER_PAUSED: return "paused";
    case TD_ORDER_REINSTATED: return "reinstated";
    case TD_ORDER_DECIDED: return "decided";
    }
    return "unknown";
}

static td_status refuse(td_order_rejection *why, td_order_problem problem, const char *field,
                        td_status code, td_error *err, const char *msg)
{
    if (why) {
        why->problem = problem;
        snprintf(why->field, sizeof why->field, "%s", field);
    }
    return td__error_set(err, code, "%s", msg);
}

int td_authority_signature_parse(const char *h, uint8_t sig[crypto_sign_BYTES])
{
    size_t got = 0, n;
    if (!h)
        return -1;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncmp(h, "ed25519=", 8) != 0)
        return -1;
    h += 8;
    n = strnlen(h, 200);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= 200)
        return -1;
    if (sodium_base642bin(sig, crypto_sign_BYTES, h, n, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != crypto_sign_BYTES)
        return -1;
    return 0;
}

td_status td_authority_verify(td_orders *orders, int64_t id, const uint8_t *body, size_t len,
                              const char *header, td_error *err)
{
    td_authority a;
    uint8_t sig[crypto_sign_BYTES];
    td_status st = td_authority_get(orders, id, &a, err);
    if (st)
        return st;
    if (!header || !*header)
        return td__error_set(err, TD_ERR_INVALID, "signature: missing");
    if (td_authority_signature_parse(header, sig))
        return td__error_set(err, TD_ERR_INVALID, "signature: not 'ed25519=<base64 of 64 bytes>'");
    if (crypto_sign_verify_detached(sig, body, len, a.public_key) != 0)
        return td__error_set(err, TD_ERR_INVALID, "signature: does not verify with %s's key",
                             a.name);
    return TD_OK;
}

int td__authority_name_peek(const uint8_t *body, size_t len, const char *section,
                            char out[TD_NAME_MAX + 1])
{
    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &jerr);
    json_t *holder = section ? json_object_get(root, section) : root;
    json_t *name = json_object_get(json_object_get(holder, "issuing_authority"), "name");
    int rc = -1;
    if (json_is_string(name) && json_string_length(name) > 0 &&
        json_string_length(name) <= TD_NAME_MAX) {
        memcpy(out, json_string_value(name), json_string_length(name) + 1);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

int td__authority_signed(const uint8_t sig[crypto_sign_BYTES], const uint8_t *body, size_t len,
                         const td_authority *a)
{
    static const uint8_t none[1];
    return crypto_sign_verify_detached(sig, len ? body : none, len, a->public_key) == 0;
}

td_status td__authority_find_signer(td_orders *o, const uint8_t sig[crypto_sign_BYTES],
                                    const uint8_t *body, size_t len, int64_t linked,
                                    td_authority *out, int *found, td_error *err)
{
    td_status st;
    *found = 0;
    if (linked > 0) {
        if ((st = td_authority_get(o, linked, out, err)) != TD_OK)
            return st == TD_ERR_NOT_FOUND ? TD_OK : st;
        *found = td__authority_signed(sig, body, len, out);
        return TD_OK;
    }
    td_authority *all = NULL;
    size_t n = 0;
    if ((st = td_authority_list(o, &all, &n, err)) != TD_OK)
        return st;
    for (size_t i = 0; i < n && !*found; i++) {
        if (td__authority_signed(sig, body, len, &all[i])) {
            *out = all[i];
            *found = 1;
        }
    }
    td_free(all);
    return TD_OK;
}

typedef struct recv_args {
    const td_authority *auth;
    const td_order_doc *doc;
    const uint8_t *body;
    size_t len;
    const uint8_t *sig;
    td_order_receipt *out;
} recv_args;

static td_status recv_body(td_orders *o, td_store_conn *c, void *ctx, td_error *err)
{
    recv_args *a = ctx;
    const td_order_doc *d = a->doc;
    td_order_receipt *r = a->out;
    td_stmt *q;
    int row = 0;
    td_status st;
    /* A duplicate (same authority and reference) is the order already stored. */
    if ((st = td_store_prepare(c,
                               "SELECT id, received_ms, deadline_ms, first_contact_early,"
                               " executed_ms FROM orders"
                               " WHERE authority_id = $1 AND kind = $2 AND reference = $3",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->auth->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, d->kind, err)) ||
        (st = td_stmt_bind_text(q, 3, d->reference, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        r->id = td_stmt_column_int64(q, 0);
        r->received_ms = td_stmt_column_int64(q, 1);
        r->deadline_ms = td_stmt_column_int64(q, 2);
        r->first_contact_early = (int)td_stmt_column_int64(q, 3);
        r->executed = td_stmt_column_int64(q, 4) != 0;
        r->duplicate = 1;
        td_stmt_reset(q);
        return TD_OK;
    }
    td_stmt_reset(q);

    int64_t now = td__now(o->svc);
    int order = d->kind == TD_ORDER_REMOVAL;
    /* First contact: the authority's first order, too soon after it announced itself. */
    int64_t previous = 0;
    if ((st =
             td_store_prepare(c, "SELECT COUNT(*) FROM orders WHERE authority_id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->auth->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    previous = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    int early = order && previous == 0 && !d->emergency &&
                now - a->auth->announced_ms < o->opts.first_contact_ms;
    int64_t deadline = order ? now + o->opts.deadline_ms : 0;
    char cat[2] = {d->category, 0};
    if ((st = td_store_prepare(
             c,
             "INSERT INTO orders (kind, authority_id, reference, body, signature, member_state,"
             " addressee, issued_ms, category, statement, dni, dni_days, cross_border, emergency,"
             " authority_contact, follow_up, redress, first_contact_early, received_ms, state,"
             " clock_start_ms, deadline_ms, language) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
             " $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $19, $21, $22)"
             " RETURNING id",
             &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, d->kind, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->auth->id, err)) ||
        (st = td_stmt_bind_text(q, 3, d->reference, (size_t)-1, err)) ||
        (st = td_stmt_bind_blob(q, 4, a->body, a->len, err)) ||
        (st = td_stmt_bind_blob(q, 5, a->sig, crypto_sign_BYTES, err)) ||
        (st = td_stmt_bind_text(q, 6, d->member_state, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 7, d->addressee, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 8, d->issued_ms, err)) ||
        (st = td_stmt_bind_text(q, 9, cat, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 10, d->statement, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 11, d->do_not_inform, err)) ||
        (st = td_stmt_bind_int64(q, 12, d->do_not_inform_days, err)) ||
        (st = td_stmt_bind_int64(q, 13, d->cross_border, err)) ||
        (st = td_stmt_bind_int64(q, 14, d->emergency, err)) ||
        (st = td_stmt_bind_text(q, 15, d->authority_contact, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 16, d->follow_up, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 17, d->redress, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 18, early, err)) ||
        (st = td_stmt_bind_int64(q, 19, now, err)) ||
        (st = td_stmt_bind_int64(q, 20, order ? TD_ORDER_RECEIVED : TD_ORDER_RECEIVED, err)) ||
        (st = td_stmt_bind_int64(q, 21, deadline, err)) ||
        (st = td_stmt_bind_text(q, 22, d->language, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    r->id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    for (size_t i = 0; i < d->n_targets; i++) {
        const td_order_target *t = &d->targets[i];
        if ((st = td_store_prepare(c,
                                   "INSERT INTO order_targets (order_id, idx, url, canonical_url,"
                                   " content_id) VALUES ($1, $2, $3, $4, $5)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, r->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, (int64_t)i, err)) ||
            (st = td_stmt_bind_text(q, 3, t->url, (size_t)-1, err)) ||
            (st = td_stmt_bind_text(q, 4, t->canonical_url, (size_t)-1, err)) ||
            (st = td_stmt_bind_text(q, 5, t->content_id, (size_t)-1, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            return st;
    }
    r->received_ms = now;
    r->deadline_ms = deadline;
    r->first_contact_early = early;
    r->duplicate = 0;

    uint8_t digest[32];
    char hex[65], obj[48];
    crypto_hash_sha256(digest, a->body, a->len);
    td__hex_encode(digest, sizeof digest, hex);
    snprintf(obj, sizeof obj, "order:%lld", (long long)r->id);
    json_t *det = json_pack("{s:s, s:s, s:I, s:I, s:s, s:b, s:b, s:b, s:I}", "authority",
                            a->auth->name, "reference", d->reference, "received_ms",
                            (json_int_t)now, "deadline_ms", (json_int_t)deadline, "body_sha256",
                            hex, "emergency", d->emergency, "first_contact_early", early,
                            "cross_border", d->cross_border, "targets", (json_int_t)d->n_targets);
    return td__orders_audit(o, c, a->auth->name, order ? "order.received" : "referral.received",
                            obj, det, err);
}

td_status td_order_receive(td_orders *o, td_order_kind kind, const uint8_t *body, size_t len,
                           const char *signature, int64_t caller_key_id, td_order_receipt *out,
                           td_order_rejection *why, td_error *err)
{
    uint8_t sig[crypto_sign_BYTES];
    char name[TD_NAME_MAX + 1];
    td_authority auth;
    td_order_rejection local;
    td_status st;
    int found = 0;
    if (!why)
        why = &local;
    memset(why, 0, sizeof *why);
    memset(out, 0, sizeof *out);
    if (kind != TD_ORDER_REMOVAL && kind != TD_ORDER_REFERRAL)
        return td__error_set(err, TD_ERR_INVALID, "unknown order kind");
    if (len > TD_ORDER_MAX_BODY)
        return refuse(why, TD_ORDER_TOO_LARGE, "body", TD_ERR_LIMIT, err,
                      "body: over the limit of 65536 bytes");
    if (!signature || !*signature)
        return refuse(why, TD_ORDER_UNSIGNED, "signature", TD_ERR_INVALID, err,
                      "signature: the order is not signed");
    if (td_authority_signature_parse(signature, sig))
        return refuse(why, TD_ORDER_BAD_SIGNATURE, "signature", TD_ERR_INVALID, err,
                      "signature: expected ed25519=<base64 of 64 bytes>");
    int named = body && len && td__authority_name_peek(body, len, NULL, name) == 0;

    td_store_conn *c;
    if ((st = td_store_acquire(o->svc->store, 0, &c, err)))
        return st;
    if (named)
        st = td__authority_by_name(c, name, &auth, &found, err);
    int64_t linked = 0;
    int key_linked = 0;
    if (st == TD_OK && caller_key_id > 0) {
        td_stmt *q;
        int row = 0;
        if ((st = td_store_prepare(c,
                                   "SELECT authority_id FROM order_authority_keys"
                                   " WHERE key_id = $1",
                                   &q, err)) == TD_OK &&
            (st = td_stmt_bind_int64(q, 1, caller_key_id, err)) == TD_OK &&
            (st = td_stmt_step(q, &row, err)) == TD_OK) {
            key_linked = row;
            linked = row ? td_stmt_column_int64(q, 0) : 0;
            td_stmt_reset(q);
        }
    }
    td_store_release(o->svc->store, c);
    if (st)
        return st;
    if (named && !found) {
        if (why) {
            why->problem = TD_ORDER_UNKNOWN_AUTHORITY;
            snprintf(why->field, sizeof why->field, "issuing_authority.name");
        }
        return td__error_set(err, TD_ERR_NOT_FOUND,
                             "issuing_authority.name: no authority named \"%s\" is registered",
                             name);
    }
    if (named) {
        if (!td__authority_signed(sig, body, len, &auth))
            return refuse(why, TD_ORDER_BAD_SIGNATURE, "signature", TD_ERR_INVALID, err,
                          "signature: the signature does not verify with the"
                          " authority's key");
    } else {
        /* Nothing names the signer: the body is not a document, or not the one signed. */
        if ((st = td__authority_find_signer(o, sig, body, len, key_linked ? linked : 0, &auth,
                                            &found, err)))
            return st;
        if (!found)
            return refuse(why, TD_ORDER_BAD_SIGNATURE, "signature", TD_ERR_INVALID, err,
                          key_linked ? "signature: the signature does not verify with"
                                       " the key's authority's key"
                                     : "signature: the signature does not verify with"
                                       " any registered authority's key");
    }
    if (caller_key_id > 0 && (!key_linked || linked != auth.id))
        return refuse(why, TD_ORDER_WRONG_AUTHORITY, "issuing_authority.name", TD_ERR_INVALID, err,
                      "issuing_authority.name: the API key does not belong to it");
    if (!body || len == 0)
        return refuse(why, TD_ORDER_MALFORMED, "body", TD_ERR_INVALID, err, "body: empty");

    td_order_doc *doc = td__malloc(sizeof *doc);
    if (!doc)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if ((st = td_order_parse((const char *)body, len, doc, why, err)))
        goto out;
    if (strcmp(doc->authority_name, auth.name) != 0) {
        st = refuse(why, TD_ORDER_WRONG_AUTHORITY, "issuing_authority.name", TD_ERR_INVALID, err,
                    "issuing_authority.name: signed with another authority's key");
        goto out;
    }
    if (doc->kind != kind) {
        st = refuse(why, TD_ORDER_INVALID_FIELD, "type", TD_ERR_INVALID, err,
                    kind == TD_ORDER_REMOVAL ? "type: expected \"removal_order\""
                                             : "type: expected \"referral\"");
        goto out;
    }
    /* Removal orders come from competent authorities only, referrals from referral units only;
     * evidence and third-country authorities send evidence orders (evidence_orders.h). */
    if (kind == TD_ORDER_REMOVAL ? auth.kind != TD_AUTHORITY_COMPETENT
                                 : auth.kind != TD_AUTHORITY_REFERRAL_UNIT) {
        st = refuse(why, TD_ORDER_WRONG_AUTHORITY, "issuing_authority.name", TD_ERR_INVALID, err,
                    kind == TD_ORDER_REMOVAL
                        ? "issuing_authority.name: only a competent authority issues removal"
                          " orders"
                        : "issuing_authority.name: only a referral unit sends referrals");
        goto out;
    }
    recv_args a = {&auth, doc, body, len, sig, out};
    if ((st = td__orders_tx(o, recv_body, &a, err)))
        goto out;
    out->kind = kind;
    if (!out->duplicate && kind == TD_ORDER_REMOVAL && o->opts.auto_execute) {
        size_t fired = 0;
        /* Failing to locate the content leaves the order to moderators: not an intake error. */
        if (td_order_execute(o, out->id, "system", &fired, NULL) == TD_OK)
            out->executed = 1;
    }
out:
    td__free(doc);
    return st;
}

/* ---- reading back ---- */

#define ORDER_COLUMNS                                                                              \
    "o.id, o.kind, o.authority_id, a.name, o.reference, o.member_state, o.addressee,"              \
    " o.issued_ms, o.category, o.statement, o.dni, o.dni_days, o.cross_border, o.emergency,"       \
    " o.authority_contact, o.follow_up, o.redress, o.first_contact_early, o.received_ms,"          \
    " o.state, o.clock_start_ms, o.deadline_ms, o.escalation, o.executed_ms, o.confirmed_ms,"      \
    " o.measure, o.breached_ms, o.paused_ms, o.ground, o.explanation, o.clarified_ms,"             \
    " o.feedback_ms, o.review, o.review_opened_ms, o.review_due_ms, o.review_decided_ms,"          \
    " o.reinstated_ms, o.referral_remove, o.decision_reason, o.decided_ms, o.language"

td_status td__order_load(td_store_conn *c, int64_t id, td_order *out, td_error *err)
{
    td_stmt *q;
    int row = 0, col = 0;
    td_status st;
    memset(out, 0, sizeof *out);
    if ((st = td_store_prepare(c,
                               "SELECT " ORDER_COLUMNS " FROM orders o JOIN order_authorities a"
                               " ON a.id = o.authority_id WHERE o.id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_NOT_FOUND, "no order %lld", (long long)id);
    }
#define I64() td_stmt_column_int64(q, col++)
#define TXT(dst) td__copy_trunc(dst, sizeof dst, td_stmt_column_text(q, col++))
    td_order_doc *d = &out->doc;
    out->id = I64();
    d->kind = (td_order_kind)I64();
    out->authority_id = I64();
    TXT(out->authority);
    memcpy(d->authority_name, out->authority, sizeof out->authority);
    TXT(d->reference);
    TXT(d->member_state);
    TXT(d->addressee);
    d->issued_ms = I64();
    d->category = td_stmt_column_text(q, col++)[0];
    TXT(d->statement);
    d->do_not_inform = (int)I64();
    d->do_not_inform_days = (int)I64();
    d->cross_border = (int)I64();
    d->emergency = (int)I64();
    TXT(d->authority_contact);
    TXT(d->follow_up);
    TXT(d->redress);
    out->first_contact_early = (int)I64();
    out->received_ms = I64();
    out->state = (td_order_state)I64();
    out->clock_start_ms = I64();
    out->deadline_ms = I64();
    out->escalation = (int)I64();
    out->executed_ms = I64();
    out->confirmed_ms = I64();
    TXT(out->measure);
    out->breached_ms = I64();
    out->paused_ms = I64();
    out->ground = (td_cannot_comply)I64();
    TXT(out->explanation);
    out->clarified_ms = I64();
    out->feedback_ms = I64();
    out->review = (td_review_state)I64();
    out->review_opened_ms = I64();
    out->review_due_ms = I64();
    out->review_decided_ms = I64();
    out->reinstated_ms = I64();
    out->referral_remove = (int)I64();
    TXT(out->decision_reason);
    out->decided_ms = I64();
    TXT(d->language);
#undef I64
#undef TXT
    td_stmt_reset(q);
    if ((st = td_store_prepare(c,
                               "SELECT url, canonical_url, content_id, located, removed,"
                               " evidence_item, media_item, media_sha256 FROM order_targets"
                               " WHERE order_id = $1 ORDER BY idx",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)))
        return st;
    int removed = 0, sealed = 0;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row &&
           d->n_targets < TD_ORDER_MAX_TARGETS) {
        td_order_target *t = &d->targets[d->n_targets++];
        td__copy_trunc(t->url, sizeof t->url, td_stmt_column_text(q, 0));
        td__copy_trunc(t->canonical_url, sizeof t->canonical_url, td_stmt_column_text(q, 1));
        td__copy_trunc(t->content_id, sizeof t->content_id, td_stmt_column_text(q, 2));
        t->located = (int)td_stmt_column_int64(q, 3);
        t->removed = (int)td_stmt_column_int64(q, 4);
        t->evidence_item = td_stmt_column_int64(q, 5);
        t->media_item = td_stmt_column_int64(q, 6);
        td__copy_trunc(t->media_sha256, sizeof t->media_sha256, td_stmt_column_text(q, 7));
        removed += t->removed;
        sealed += t->removed && t->evidence_item;
    }
    td_stmt_reset(q);
    out->preserved = removed > 0 && removed == sealed;
    return st;
}

td_status td_order_get(td_orders *o, int64_t id, td_order *out, td_error *err)
{
    td_store_conn *c;
    td_status st = td_store_acquire(o->svc->store, 0, &c, err);
    if (st)
        return st;
    st = td__order_load(c, id, out, err);
    td_store_release(o->svc->store, c);
    return st;
}

static void summary_item(td_stmt *q, void *item)
{
    td_order_summary *s = item;
    s->id = td_stmt_column_int64(q, 0);
    s->kind = (td_order_kind)td_stmt_column_int64(q, 1);
    td__copy_trunc(s->authority, sizeof s->authority, td_stmt_column_text(q, 2));
    td__copy_trunc(s->reference, sizeof s->reference, td_stmt_column_text(q, 3));
    s->state = (td_order_state)td_stmt_column_int64(q, 4);
    s->received_ms = td_stmt_column_int64(q, 5);
    s->deadline_ms = td_stmt_column_int64(q, 6);
    s->escalation = (int)td_stmt_column_int64(q, 7);
    s->emergency = (int)td_stmt_column_int64(q, 8);
    s->breached_ms = td_stmt_column_int64(q, 9);
}

td_status td_order_list(td_orders *o, int open_only, size_t limit, td_order_summary **out,
                        size_t *count, td_error *err)
{
    *out = NULL;
    *count = 0;
    if (limit == 0)
        limit = 100;
    if (limit > TD_PAGE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "limit over %d", TD_PAGE_MAX);
    /* The queue: the most escalated first, then the nearest deadline; emergencies break ties. */
    const char *sql =
        open_only
            ? "SELECT o.id, o.kind, a.name, o.reference, o.state, o.received_ms, o.deadline_ms,"
              " o.escalation, o.emergency, o.breached_ms FROM orders o JOIN order_authorities a"
              " ON a.id = o.authority_id WHERE o.state IN ($2, $3, $4)"
              " ORDER BY o.escalation DESC, CASE WHEN o.deadline_ms = 0 THEN 1 ELSE 0 END,"
              " o.deadline_ms, o.emergency DESC, o.id LIMIT $1"
            : "SELECT o.id, o.kind, a.name, o.reference, o.state, o.received_ms, o.deadline_ms,"
              " o.escalation, o.emergency, o.breached_ms FROM orders o JOIN order_authorities a"
              " ON a.id = o.authority_id ORDER BY o.id DESC LIMIT $1";
    const int64_t binds[4] = {(int64_t)limit, TD_ORDER_RECEIVED, TD_ORDER_EXECUTED,
                              TD_ORDER_PAUSED};
    return td_store_read_rows(o->svc->store, sql, binds, open_only ? 4 : 1, limit, sizeof **out,
                              summary_item, (void **)out, count, err);
}
