/* The platform's data for an evidence order: checked against the order, sealed under the
 * order's own evidence case key, recorded with their digests, and let go when the order ends.
 *
 * All or nothing: every record of a put is checked before anything is sealed, so a record the
 * order does not ask for (another category, a time outside the range, an identifier it does not
 * name, a subscriber field not requested) refuses the whole put and stores nothing. Sealing
 * commits per item (td_evidence_seal: the file synced with its row), and the put's records are
 * written in one transaction after the last seal; sealing them all inside that transaction would
 * hold the store's writer for the whole put (up to 64 MiB written and synced). So when a seal or
 * that transaction fails, the items this put sealed are discarded (td_evidence_discard: rows,
 * keys and files, with an "evidence.discard" entry) before the call returns its error. Should
 * the discard fail too (a full disk refuses its transaction), they stay as they were before:
 * items of the case no record names, never delivered, destroyed with the case.
 *
 * Lifetime of the evidence: the case is put on hold at its first item (kept whatever its
 * retention says while the order needs it); when the order ends (preservation ended or expired,
 * withdrawn, not executed) the hold is lifted and the retention set to now, so the next purge
 * destroys the case key; after a delivery the hold is lifted and the usual retention runs.
 *
 * Data takedown holds itself (a removed E2EE report, sealed in a case of its own) is not put but
 * linked (td_eorder_link): the provider's items are checked like a put's records, linked to the
 * order's case (td_evidence_link, in the same transaction as the records), and their own case is
 * held while an order that links it runs. When the order ends that hold is lifted unless another
 * open order links the case; its retention stays its own (the report's removal), never "now". */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "eorders/eorders_int.h"

/* Records per audit entry: each takes about 200 bytes of the entry's 64 KiB. */
#define AUDIT_RECORDS_PER_ENTRY 200

typedef struct sealed_rec {
    int64_t item;
    unsigned category;
    int64_t at_ms, bytes;
    char sha256[65], fields_sha256[65];
} sealed_rec;

static td_status refuse_rec(td_eorder_rejection *why, td_error *err, size_t i, const char *member,
                            td_eorder_problem problem, const char *msg)
{
    char field[96];
    snprintf(field, sizeof field, "records[%zu].%.60s", i, member);
    return td__eorder_refuse(why, problem, field,
                             problem == TD_EORDER_TOO_LARGE ? TD_ERR_LIMIT : TD_ERR_INVALID, err,
                             "%s", msg);
}

static int one_bit(unsigned v) { return v && !(v & (v - 1)); }

/* Checks record i against order o; *fields (new reference) is its parsed fields object. */
static td_status check_record(const td_eorder *o, const td_eorder_record *r, size_t i,
                              json_t **fields, td_eorder_rejection *why, td_error *err)
{
    const td_eorder_doc *d = &o->doc;
    *fields = NULL;
    if (!one_bit(r->category) || !(r->category & TD_EORDER_CAT_ALL))
        return refuse_rec(why, err, i, "category", TD_EORDER_INVALID_FIELD,
                          "expected one data category");
    if (!(r->category & d->categories))
        return refuse_rec(why, err, i, "category", TD_EORDER_INVALID_FIELD,
                          "the order does not ask for this category");
    if (r->category & o->refused)
        return refuse_rec(why, err, i, "category", TD_EORDER_INVALID_FIELD,
                          "this category was answered cannot comply");
    if (r->identifier && *r->identifier) {
        int known = 0;
        for (size_t k = 0; k < d->n_identifiers && !known; k++)
            known = strcmp(r->identifier, d->identifiers[k].value) == 0;
        if (!known)
            return refuse_rec(why, err, i, "identifier", TD_EORDER_INVALID_FIELD,
                              "not one of the order's identifiers (E.identifiers)");
    }
    if (r->at_ms == 0 && r->category != TD_EORDER_CAT_SUBSCRIBER)
        return refuse_rec(why, err, i, "at", TD_EORDER_MISSING_FIELD,
                          "required for all but subscriber data");
    if (r->at_ms && (r->at_ms < d->from_ms || r->at_ms > d->to_ms))
        return refuse_rec(why, err, i, "at", TD_EORDER_INVALID_FIELD,
                          "outside the order's time range (E.time_range)");
    if (r->content_len && !r->content)
        return refuse_rec(why, err, i, "content", TD_EORDER_INVALID_FIELD, "no bytes");
    if (r->content_type && (strlen(r->content_type) > 128 || !*r->content_type))
        return refuse_rec(why, err, i, "content_type", TD_EORDER_INVALID_FIELD,
                          "expected a media type of at most 128 bytes");
    for (const char *p = r->content_type; p && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            return refuse_rec(why, err, i, "content_type", TD_EORDER_INVALID_FIELD,
                              "printable ASCII only");
    if (!r->fields_json) {
        *fields = json_object();
        return *fields ? TD_OK : td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    if (strlen(r->fields_json) > TD_EORDER_FIELDS_MAX)
        return refuse_rec(why, err, i, "fields", TD_EORDER_TOO_LARGE, "over 61440 bytes");
    json_error_t jerr;
    json_t *f = json_loads(r->fields_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(f)) {
        json_decref(f);
        return refuse_rec(why, err, i, "fields", TD_EORDER_INVALID_FIELD, "expected a JSON object");
    }
    if (r->category == TD_EORDER_CAT_SUBSCRIBER) {
        const char *key;
        json_t *v;
        json_object_foreach(f, key, v)
        {
            unsigned sub = td_eorder_subscriber_parse(key);
            if (!sub || !(sub & d->subscriber)) {
                char member[80];
                snprintf(member, sizeof member, "fields.%.50s", key);
                json_decref(f);
                return refuse_rec(why, err, i, member, TD_EORDER_INVALID_FIELD,
                                  sub ? "a subscriber sub-category the order does not ask for"
                                      : "not a subscriber sub-category (F.subscriber)");
            }
        }
    }
    *fields = f;
    return TD_OK;
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    uint8_t digest[32];
    static const uint8_t none[1];
    crypto_hash_sha256(digest, len ? data : none, len);
    td__hex_encode(digest, sizeof digest, out);
}

/* Records of order id sealed into its own case (not linked). */
static td_status own_records(td_store_conn *c, int64_t id, int64_t *n, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    *n = 0;
    if ((st = td_store_prepare(c,
                               "SELECT COUNT(*) FROM eorder_records WHERE order_id = $1"
                               " AND linked_case = ''",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row)
        *n = td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return TD_OK;
}

typedef struct put_args {
    const char *actor;
    int64_t id;
    const td_eorder_record *records;
    sealed_rec *sealed;
    size_t n;
    td_eorder_put_result *out;
    td_eorder_rejection *why;
    td_eorder *o;
    int hold; /* the case must be put on hold (its first items) */
} put_args;

static td_status put_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    put_args *a = ctx;
    td_stmt *q;
    td_status st;
    if ((st = td__eorder_load(c, a->id, a->o, err)))
        return st;
    if (a->o->state != TD_EORDER_COLLECTING && a->o->state != TD_EORDER_PRESERVED)
        return td__eorder_refuse(a->why, TD_EORDER_CONFLICT, "order", TD_ERR_CONFLICT, err,
                                 "order %s is %s: data is no longer taken", a->o->id_text,
                                 td_eorder_state_name(a->o->state));
    if (a->o->records + (int64_t)a->n > TD_EORDER_ORDER_RECORDS_MAX)
        return td__eorder_refuse(a->why, TD_EORDER_TOO_LARGE, "records", TD_ERR_LIMIT, err,
                                 "more than %d records for one order", TD_EORDER_ORDER_RECORDS_MAX);
    int64_t now = td__now(eo->svc);
    unsigned cats = a->o->preserved;
    for (size_t i = 0; i < a->n; i++) {
        const td_eorder_record *r = &a->records[i];
        const sealed_rec *s = &a->sealed[i];
        cats |= s->category;
        if ((st = td_store_prepare(c,
                                   "INSERT INTO eorder_records (order_id, evidence_item, category,"
                                   " identifier, at_ms, bytes, sha256, fields_sha256, sealed_ms)"
                                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, s->item, err)) ||
            (st = td_stmt_bind_int64(q, 3, s->category, err)) ||
            (st = td_stmt_bind_text(q, 4, r->identifier ? r->identifier : "", (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 5, s->at_ms, err)) ||
            (st = td_stmt_bind_int64(q, 6, s->bytes, err)) ||
            (st = td_stmt_bind_text(q, 7, s->sha256, (size_t)-1, err)) ||
            (st = td_stmt_bind_text(q, 8, s->fields_sha256, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 9, now, err)) || (st = td_stmt_run(q, NULL, err)))
            return st;
    }
    int first = a->o->state == TD_EORDER_COLLECTING;
    /* the case is held at its first own items (linked ones lie in other cases) */
    int64_t own = 0;
    if ((st = own_records(c, a->id, &own, err)))
        return st;
    a->hold = own == (int64_t)a->n;
    int64_t v[4] = {TD_EORDER_PRESERVED, cats, (int64_t)a->n, 1};
    if ((st = td__eorder_update(c, a->id,
                                "state = $2, preserved = $3, records = records + $4,"
                                " evidence_held = $5",
                                v, 4, err)))
        return st;
    /* The digests on the log, in entries of at most AUDIT_RECORDS_PER_ENTRY records. */
    size_t parts = (a->n + AUDIT_RECORDS_PER_ENTRY - 1) / AUDIT_RECORDS_PER_ENTRY;
    for (size_t part = 0; part < parts; part++) {
        json_t *recs = json_array();
        for (size_t i = part * AUDIT_RECORDS_PER_ENTRY;
             recs && i < a->n && i < (part + 1) * AUDIT_RECORDS_PER_ENTRY; i++) {
            const sealed_rec *s = &a->sealed[i];
            json_array_append_new(recs, json_pack("{s:I, s:s, s:I, s:s, s:s}", "item",
                                                  (json_int_t)s->item, "category",
                                                  td_eorder_category_name(s->category), "bytes",
                                                  (json_int_t)s->bytes, "sha256", s->sha256,
                                                  "fields_sha256", s->fields_sha256));
        }
        json_t *det =
            json_pack("{s:o, s:I, s:I, s:o}", "records", recs, "part", (json_int_t)(part + 1),
                      "parts", (json_int_t)parts, "categories", td__eorder_categories_json(cats));
        if ((st = td__eorders_audit(eo, c, a->actor, "eorder.data_preserved", a->id, det, NULL,
                                    err)))
            return st;
    }
    a->out->sealed = a->n;
    a->out->preserved = cats;
    a->out->state = TD_EORDER_PRESERVED;
    /* The issuing side hears once that the data is preserved (EU orders: the e-Evidence
     * system's "data preserved" message). */
    if (first &&
        (a->o->doc.framework == TD_EORDER_EU_EPOC || a->o->doc.framework == TD_EORDER_EU_EPOC_PR))
        return td__eorder_message(eo, c, a->o, TD_EORDER_MSG_DATA_PRESERVED,
                                  json_pack("{s:o, s:o}", "categories",
                                            td__eorder_categories_json(cats), "preserved_at",
                                            td__eorder_time_json(now)),
                                  err);
    return TD_OK;
}

/* The items a failed put sealed, discarded. A commit whose outcome was lost (its connection
 * dropped after COMMIT) may have recorded them: then they stay. Returns the discard's status. */
static td_status discard_sealed(td_eorders *eo, const char *actor, const td_eorder *o,
                                const char *case_ref, const sealed_rec *sealed, size_t n,
                                td_status why, td_error *derr)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    td_status st = td_store_acquire(eo->svc->store, 0, &c, derr);
    if (st)
        return st;
    if ((st = td_store_prepare(c, "SELECT 1 FROM eorder_records WHERE evidence_item = $1", &q,
                               derr)) == TD_OK &&
        (st = td_stmt_bind_int64(q, 1, sealed[0].item, derr)) == TD_OK &&
        (st = td_stmt_step(q, &row, derr)) == TD_OK)
        td_stmt_reset(q);
    td_store_release(eo->svc->store, c);
    if (st || row)
        return st;
    int64_t *ids = td__calloc(n, sizeof *ids);
    if (!ids)
        return td__error_set(derr, TD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        ids[i] = sealed[i].item;
    char reason[160];
    snprintf(reason, sizeof reason, "evidence order %s: the put failed (%s) after %zu of its items",
             o->id_text, td_strerror(why), n);
    st = td_evidence_discard(eo->evidence, actor, case_ref, ids, n, reason, derr);
    td__free(ids);
    return st;
}

static td_status load_for(td_eorders *eo, const char *order, td_eorder *o, td_eorder_rejection *why,
                          td_error *err)
{
    td_store_conn *c;
    int64_t id = 0;
    td_status st = td_store_acquire(eo->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td__eorder_resolve(c, order, &id, err)) == TD_OK)
        st = td__eorder_load(c, id, o, err);
    else if (st == TD_ERR_NOT_FOUND && why)
        td__eorder_refuse(why, TD_EORDER_UNKNOWN_ORDER, "order", TD_ERR_NOT_FOUND, NULL, "%s",
                          "no such order");
    td_store_release(eo->svc->store, c);
    return st;
}

td_status td_eorder_put_data(td_eorders *eo, const char *actor, const char *order,
                             const td_eorder_record *records, size_t n_records,
                             td_eorder_put_result *out, td_eorder_rejection *why, td_error *err)
{
    td_eorder_put_result local_out;
    td_eorder_rejection local_why;
    td_status st;
    if (!out)
        out = &local_out;
    if (!why)
        why = &local_why;
    memset(out, 0, sizeof *out);
    memset(why, 0, sizeof *why);
    if (!records || n_records == 0)
        return td__eorder_refuse(why, TD_EORDER_MISSING_FIELD, "records", TD_ERR_INVALID, err,
                                 "no record");
    if (n_records > TD_EORDER_PUT_MAX_RECORDS)
        return td__eorder_refuse(why, TD_EORDER_TOO_LARGE, "records", TD_ERR_LIMIT, err,
                                 "more than %d records in one put", TD_EORDER_PUT_MAX_RECORDS);
    td_eorder *o = td__malloc(sizeof *o);
    sealed_rec *sealed = td__calloc(n_records, sizeof *sealed);
    json_t **fields = td__calloc(n_records, sizeof *fields);
    if (!o || !sealed || !fields) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = load_for(eo, order, o, why, err)))
        goto out;
    if (o->state != TD_EORDER_COLLECTING && o->state != TD_EORDER_PRESERVED) {
        st = td__eorder_refuse(why, TD_EORDER_CONFLICT, "order", TD_ERR_CONFLICT, err,
                               "order %s is %s: data is no longer taken", o->id_text,
                               td_eorder_state_name(o->state));
        goto out;
    }
    /* Everything checked before anything is sealed. */
    for (size_t i = 0; i < n_records; i++)
        if ((st = check_record(o, &records[i], i, &fields[i], why, err)))
            goto out;
    td_evidence_status es;
    if ((st = td_evidence_get_status(eo->evidence, &es, err)))
        goto out;
    if (!es.has_master) {
        st = td__eorder_refuse(why, TD_EORDER_CONFLICT, "order", TD_ERR_CONFLICT, err,
                               "no evidence master key yet (takedown evidence init): nothing"
                               " can be sealed");
        goto out;
    }
    char case_ref[64];
    td__eorder_case_ref(case_ref, sizeof case_ref, o->id);
    pthread_mutex_lock(&eo->data_lock);
    int64_t now = td__now(eo->svc);
    size_t n_sealed = 0;
    for (size_t i = 0; i < n_records && st == TD_OK; i++) {
        const td_eorder_record *r = &records[i];
        char label[96];
        /* The label is read by auditors (evidence item lists): ids and the category only, never
         * the identifier. */
        snprintf(label, sizeof label, "%s:%s:%lld", o->id_text,
                 td_eorder_category_name(r->category), (long long)(o->records + (int64_t)i + 1));
        json_t *meta =
            json_pack("{s:s, s:s, s:s, s:o, s:O, s:s}", "order", o->id_text, "category",
                      td_eorder_category_name(r->category), "identifier",
                      r->identifier ? r->identifier : "", "at", td__eorder_time_json(r->at_ms),
                      "fields", fields[i], "content_type", r->content_type ? r->content_type : "");
        char *related = meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(meta);
        if (!related) {
            st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
            break;
        }
        sealed_rec *s = &sealed[i];
        s->category = r->category;
        s->at_ms = r->at_ms;
        s->bytes = (int64_t)r->content_len;
        sha256_hex(r->content, r->content_len, s->sha256);
        sha256_hex((const uint8_t *)related, strlen(related), s->fields_sha256);
        st = td_evidence_seal(eo->evidence, actor && *actor ? actor : "system", case_ref, label,
                              r->content, r->content_len, related, now, &s->item, err);
        n_sealed += st == TD_OK;
        sodium_memzero(related, strlen(related));
        free(related); /* jansson's */
    }
    if (st == TD_OK) {
        put_args a = {actor, o->id, records, sealed, n_records, out, why, o, 0};
        st = td__eorders_tx(eo, put_body, &a, err);
        if (st == TD_OK && a.hold) {
            td_error ignored;
            /* Kept while the order needs it; a failure here leaves the case to its usual
             * retention (six months), still far beyond any evidence order's clock. */
            td__eo_ignore(td_evidence_hold(eo->evidence, "system", case_ref, 1,
                                           "evidence order: kept while the order runs", &ignored));
            /* An end that came between the commit and the hold finds the flag set and lifts
             * the hold itself, or ended before it and is caught here. */
            td_store_conn *c;
            int ended = 0;
            if (td_store_acquire(eo->svc->store, 0, &c, &ignored) == TD_OK) {
                if (td__eorder_load(c, o->id, o, &ignored) == TD_OK)
                    ended = !td__eorder_state_open(o->state) && o->state != TD_EORDER_DELIVERED;
                td_store_release(eo->svc->store, c);
            }
            if (ended && td_evidence_hold(eo->evidence, "system", case_ref, 0,
                                          "evidence order ended: purgeable", &ignored) == TD_OK)
                td__eo_ignore(td_evidence_retain_until(eo->evidence, "system", case_ref,
                                                       td__now(eo->svc), "evidence order ended",
                                                       &ignored));
        }
    }
    if (st != TD_OK && n_sealed > 0) {
        /* All or nothing for the evidence store too. The caller keeps the first error; a failed
         * discard is added to its message. */
        td_error derr;
        if (discard_sealed(eo, actor && *actor ? actor : "system", o, case_ref, sealed, n_sealed,
                           st, &derr) != TD_OK &&
            err) {
            size_t used = strlen(err->message);
            snprintf(err->message + used, sizeof err->message - used,
                     "; the %zu items it sealed are left unrecorded: %s", n_sealed, derr.message);
        }
    }
    pthread_mutex_unlock(&eo->data_lock);
out:
    for (size_t i = 0; fields && i < n_records; i++)
        json_decref(fields[i]);
    td__free(fields);
    td__free(sealed);
    td__free(o);
    return st;
}

/* ---- letting the evidence go ---- */

typedef struct release_args {
    int64_t id;
    int held;
} release_args;

static td_status unheld_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    release_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    (void)eo;
    if ((st = td_store_prepare(c, "SELECT evidence_held FROM eorders WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    a->held = row ? (int)td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    int64_t zero = 0;
    return a->held ? td__eorder_update(c, a->id, "evidence_held = $2", &zero, 1, err) : TD_OK;
}

typedef struct case_row {
    char ref[TD_EVIDENCE_REF_MAX + 1];
} case_row;

static void case_item(td_stmt *q, void *item)
{
    snprintf(((case_row *)item)->ref, TD_EVIDENCE_REF_MAX + 1, "%s", td_stmt_column_text(q, 0));
}

/* Lifts the holds of the cases order id linked from, unless another open order links them. */
static td_status release_linked(td_eorders *eo, int64_t id, td_error *err)
{
    case_row *cases = NULL;
    size_t n = 0;
    int64_t b1[1] = {id};
    td_status st = td_store_read_rows(eo->svc->store,
                                      "SELECT DISTINCT linked_case FROM eorder_records"
                                      " WHERE order_id = $1 AND linked_case <> ''",
                                      b1, 1, TD_EORDER_ORDER_RECORDS_MAX, sizeof *cases, case_item,
                                      (void **)&cases, &n, err);
    for (size_t i = 0; st == TD_OK && i < n; i++) {
        td_store_conn *c;
        td_stmt *q;
        int row = 0;
        int64_t others = 0;
        if ((st = td_store_acquire(eo->svc->store, 0, &c, err)))
            break;
        if ((st = td_store_prepare(c,
                                   "SELECT COUNT(*) FROM eorder_records r JOIN eorders o"
                                   " ON o.id = r.order_id WHERE r.linked_case = $1"
                                   " AND r.order_id <> $2 AND o.state IN ($3, $4, $5, $6)",
                                   &q, err)) == TD_OK &&
            (st = td_stmt_bind_text(q, 1, cases[i].ref, (size_t)-1, err)) == TD_OK &&
            (st = td_stmt_bind_int64(q, 2, id, err)) == TD_OK &&
            (st = td_stmt_bind_int64(q, 3, TD_EORDER_COLLECTING, err)) == TD_OK &&
            (st = td_stmt_bind_int64(q, 4, TD_EORDER_PRESERVED, err)) == TD_OK &&
            (st = td_stmt_bind_int64(q, 5, TD_EORDER_APPROVED, err)) == TD_OK &&
            (st = td_stmt_bind_int64(q, 6, TD_EORDER_PAUSED, err)) == TD_OK &&
            (st = td_stmt_step(q, &row, err)) == TD_OK && row) {
            others = td_stmt_column_int64(q, 0);
            td_stmt_reset(q);
        }
        td_store_release(eo->svc->store, c);
        if (st == TD_OK && others == 0)
            st = td_evidence_hold(eo->evidence, "system", cases[i].ref, 0,
                                  "no open evidence order links it any longer", err);
    }
    td_free(cases);
    return st;
}

td_status td__eorder_release_evidence(td_eorders *eo, int64_t id, int delivered, td_error *err)
{
    char case_ref[64];
    release_args a = {id, 0};
    td_status st = td__eorders_tx(eo, unheld_body, &a, err);
    if (st == TD_OK)
        st = release_linked(eo, id, err);
    if (st || !a.held)
        return st;
    td__eorder_case_ref(case_ref, sizeof case_ref, id);
    if ((st = td_evidence_hold(
             eo->evidence, "system", case_ref, 0,
             delivered ? "evidence order delivered" : "evidence order ended: purgeable", err)))
        return st;
    if (delivered)
        return TD_OK;
    return td_evidence_retain_until(eo->evidence, "system", case_ref, td__now(eo->svc),
                                    "evidence order ended", err);
}

/* ---- data takedown holds itself: linked ---- */

typedef struct link_args {
    const char *actor;
    int64_t id;
    const td_eorder_linked *items;
    size_t n;
    td_eorder *o;
    size_t linked;
    int *take; /* per item: linked by this call */
} link_args;

/* Whether the order asks for item (the checks of a put's record). */
static int wanted(const td_eorder *o, const td_eorder_linked *it)
{
    const td_eorder_doc *d = &o->doc;
    if (!one_bit(it->category) || !(it->category & d->categories) || (it->category & o->refused))
        return 0;
    if (it->identifier[0]) {
        int known = 0;
        for (size_t k = 0; k < d->n_identifiers && !known; k++)
            known = strcmp(it->identifier, d->identifiers[k].value) == 0;
        if (!known)
            return 0;
    }
    if (it->at_ms == 0 && it->category != TD_EORDER_CAT_SUBSCRIBER)
        return 0;
    if (it->at_ms && (it->at_ms < d->from_ms || it->at_ms > d->to_ms))
        return 0;
    return it->item > 0 && it->case_ref[0] && it->bytes >= 0 && strlen(it->sha256) == 64 &&
           strlen(it->related_sha256) == 64;
}

static td_status link_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    link_args *a = ctx;
    td_stmt *q;
    int row;
    td_status st;
    char case_ref[64];
    a->linked = 0;
    if ((st = td__eorder_load(c, a->id, a->o, err)))
        return st;
    if (a->o->state != TD_EORDER_COLLECTING && a->o->state != TD_EORDER_PRESERVED)
        return TD_OK;
    td__eorder_case_ref(case_ref, sizeof case_ref, a->id);
    int64_t now = td__now(eo->svc);
    unsigned cats = a->o->preserved;
    json_t *recs = json_array();
    if (!recs)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < a->n; i++) {
        const td_eorder_linked *it = &a->items[i];
        a->take[i] = 0;
        if (!wanted(a->o, it))
            continue;
        row = 0;
        if ((st = td_store_prepare(c,
                                   "SELECT 1 FROM eorder_records WHERE order_id = $1"
                                   " AND evidence_item = $2",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, it->item, err)) || (st = td_stmt_step(q, &row, err)))
            goto fail;
        td_stmt_reset(q);
        if (row)
            continue; /* linked before */
        if (a->o->records + (int64_t)a->linked + 1 > TD_EORDER_ORDER_RECORDS_MAX)
            break;
        /* the item must lie in the case it is said to, and that case must still exist */
        td_error ignored;
        st = td_evidence_link_in(eo->evidence, c, a->actor, case_ref, it->item, NULL, &ignored);
        if (st == TD_ERR_NOT_FOUND) {
            st = TD_OK;
            continue; /* its case was purged meanwhile */
        }
        if (st) {
            td__error_set(err, st, "%s", ignored.message);
            goto fail;
        }
        if ((st = td_store_prepare(c,
                                   "INSERT INTO eorder_records (order_id, evidence_item, category,"
                                   " identifier, at_ms, bytes, sha256, fields_sha256, sealed_ms,"
                                   " linked_case) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->id, err)) ||
            (st = td_stmt_bind_int64(q, 2, it->item, err)) ||
            (st = td_stmt_bind_int64(q, 3, it->category, err)) ||
            (st = td_stmt_bind_text(q, 4, it->identifier, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 5, it->at_ms, err)) ||
            (st = td_stmt_bind_int64(q, 6, it->bytes, err)) ||
            (st = td_stmt_bind_text(q, 7, it->sha256, (size_t)-1, err)) ||
            (st = td_stmt_bind_text(q, 8, it->related_sha256, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 9, now, err)) ||
            (st = td_stmt_bind_text(q, 10, it->case_ref, (size_t)-1, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            goto fail;
        cats |= it->category;
        a->take[i] = 1;
        a->linked++;
        /* digests, ids and the case; never the identifier (auditors read the log) */
        json_array_append_new(recs, json_pack("{s:I, s:s, s:s, s:I, s:s, s:s}", "item",
                                              (json_int_t)it->item, "case", it->case_ref,
                                              "category", td_eorder_category_name(it->category),
                                              "bytes", (json_int_t)it->bytes, "sha256", it->sha256,
                                              "fields_sha256", it->related_sha256));
    }
    if (!a->linked) {
        json_decref(recs);
        return TD_OK;
    }
    int first = a->o->state == TD_EORDER_COLLECTING;
    int64_t v[3] = {TD_EORDER_PRESERVED, cats, (int64_t)a->linked};
    if ((st = td__eorder_update(c, a->id, "state = $2, preserved = $3, records = records + $4", v,
                                3, err)))
        goto fail;
    if ((st = td__eorders_audit(eo, c, a->actor, "eorder.data_linked", a->id,
                                json_pack("{s:o, s:o}", "records", recs, "categories",
                                          td__eorder_categories_json(cats)),
                                NULL, err)))
        return st;
    if (first &&
        (a->o->doc.framework == TD_EORDER_EU_EPOC || a->o->doc.framework == TD_EORDER_EU_EPOC_PR))
        return td__eorder_message(eo, c, a->o, TD_EORDER_MSG_DATA_PRESERVED,
                                  json_pack("{s:o, s:o}", "categories",
                                            td__eorder_categories_json(cats), "preserved_at",
                                            td__eorder_time_json(now)),
                                  err);
    return TD_OK;
fail:
    json_decref(recs);
    return st;
}

td_status td__eorder_link(td_eorders *eo, const char *actor, int64_t id, size_t *linked,
                          td_error *err)
{
    td_eorder_linked *items = NULL;
    size_t n = 0;
    td_status st;
    *linked = 0;
    td_eorder_provider_fn provider;
    void *provider_ctx;
    if (!td__eorders_provider(eo, &provider, &provider_ctx))
        return TD_OK;
    td_eorder *o = td__malloc(sizeof *o);
    if (!o)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_store_conn *c;
    if ((st = td_store_acquire(eo->svc->store, 0, &c, err)) == TD_OK) {
        st = td__eorder_load(c, id, o, err);
        td_store_release(eo->svc->store, c);
    }
    if (st || (o->state != TD_EORDER_COLLECTING && o->state != TD_EORDER_PRESERVED)) {
        td__free(o);
        return st;
    }
    if ((st = provider(provider_ctx, o, &items, &n, err)) || n == 0) {
        td_free(items);
        td__free(o);
        return st;
    }
    if (n > TD_EORDER_PUT_MAX_RECORDS)
        n = TD_EORDER_PUT_MAX_RECORDS;
    int *take = td__calloc(n, sizeof *take);
    if (!take) {
        td_free(items);
        td__free(o);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    link_args a = {actor && *actor ? actor : "system", id, items, n, o, 0, take};
    pthread_mutex_lock(&eo->data_lock);
    st = td__eorders_tx(eo, link_body, &a, err);
    pthread_mutex_unlock(&eo->data_lock);
    if (st == TD_OK && a.linked) {
        *linked = a.linked;
        /* Each linked case is held while the order runs. An end that came meanwhile finds the
         * records and lifts the holds itself, or ended before: caught here. */
        char reason[96];
        snprintf(reason, sizeof reason, "evidence order %s links it", o->id_text);
        for (size_t i = 0; i < n; i++)
            if (take[i]) {
                td_error ignored;
                td__eo_ignore(td_evidence_hold(eo->evidence, "system", items[i].case_ref, 1, reason,
                                               &ignored));
            }
        int ended = 0;
        td_error ignored;
        if (td_store_acquire(eo->svc->store, 0, &c, &ignored) == TD_OK) {
            if (td__eorder_load(c, id, o, &ignored) == TD_OK)
                ended = !td__eorder_state_open(o->state) && o->state != TD_EORDER_DELIVERED;
            td_store_release(eo->svc->store, c);
        }
        if (ended)
            td__eo_ignore(release_linked(eo, id, &ignored));
    }
    td__free(take);
    td_free(items);
    td__free(o);
    return st;
}

td_status td_eorder_link(td_eorders *eo, const char *actor, const char *order, size_t *linked,
                         td_error *err)
{
    size_t local;
    td_store_conn *c;
    int64_t id = 0;
    if (!linked)
        linked = &local;
    *linked = 0;
    td_status st = td_store_acquire(eo->svc->store, 0, &c, err);
    if (st)
        return st;
    st = td__eorder_resolve(c, order, &id, err);
    td_store_release(eo->svc->store, c);
    return st ? st : td__eorder_link(eo, actor, id, linked, err);
}

/* ---- reading the records ---- */

static void record_row(td_stmt *q, void *item)
{
    td_eorder_record_info *r = item;
    r->id = td_stmt_column_int64(q, 0);
    r->evidence_item = td_stmt_column_int64(q, 1);
    r->category = (unsigned)td_stmt_column_int64(q, 2);
    td__copy_trunc(r->identifier, sizeof r->identifier, td_stmt_column_text(q, 3));
    r->at_ms = td_stmt_column_int64(q, 4);
    r->bytes = td_stmt_column_int64(q, 5);
    td__copy_trunc(r->sha256, sizeof r->sha256, td_stmt_column_text(q, 6));
    td__copy_trunc(r->fields_sha256, sizeof r->fields_sha256, td_stmt_column_text(q, 7));
    r->sealed_ms = td_stmt_column_int64(q, 8);
    r->delivered_ms = td_stmt_column_int64(q, 9);
    td__copy_trunc(r->linked_case, sizeof r->linked_case, td_stmt_column_text(q, 10));
}

typedef struct read_args {
    const char *actor, *purpose, *order;
    int64_t id;
} read_args;

static td_status read_audit_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    read_args *a = ctx;
    td_status st = td__eorder_resolve(c, a->order, &a->id, err);
    if (st)
        return st;
    return td__eorders_audit(eo, c, a->actor, "eorder.read", a->id,
                             json_pack("{s:s, s:s}", "what", "records", "purpose", a->purpose),
                             NULL, err);
}

td_status td_eorder_records(td_eorders *eo, const char *actor, const char *purpose,
                            const char *order, td_eorder_record_info **out, size_t *count,
                            td_error *err)
{
    td_status st;
    *out = NULL;
    *count = 0;
    if ((st = td__eorders_text(purpose, TD_EORDER_TEXT_MAX, "purpose", 1, err)))
        return st;
    read_args a = {actor, purpose, order, 0};
    if ((st = td__eorders_tx(eo, read_audit_body, &a, err)))
        return st;
    int64_t binds[1] = {a.id};
    return td_store_read_rows(eo->svc->store,
                              "SELECT id, evidence_item, category, identifier, at_ms, bytes,"
                              " sha256, fields_sha256, sealed_ms, delivered_ms, linked_case"
                              " FROM eorder_records WHERE order_id = $1 ORDER BY id",
                              binds, 1, TD_EORDER_ORDER_RECORDS_MAX, sizeof **out, record_row,
                              (void **)out, count, err);
}
