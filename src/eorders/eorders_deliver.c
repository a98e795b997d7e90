/* Delivering an evidence order: the approved data leaves the operator as one package
 * (evidence_package.h), encrypted to the recipient authority's X25519 key (section L) and signed
 * with the operator's delivery key.
 *
 * Order of steps, and why:
 *  1. everything that can refuse is checked first (state approved, the clock allows
 *     transmission, a category left to deliver, k custodians' shares held for the release
 *     request), so a refusal leaves nothing behind;
 *  2. the evidence store releases the order's items (td_evidence_release: its own audit entry
 *     before any plaintext exists); each record is streamed into the package as it is opened,
 *     checked against the digests recorded at sealing, and its plaintext wiped after;
 *  3. the delivery's audit entry ("eorder.delivery": the order, the categories, the records and
 *     their digests) is committed, and its inclusion proof against a signed checkpoint of the log
 *     goes into the manifest with the order's id and categories, so the authority can prove from
 *     the package alone that the delivery is on the operator's log;
 *  4. the manifest is signed and the package renamed into place; only then is the order
 *     delivered ("eorder.delivered" with the manifest's digest) and the outcome message queued.
 * A failure after step 2 leaves no package (the writer removes its temporary file), records
 * "eorder.delivery_failed" when step 3 was reached, and makes a new release request (a release
 * is used once), which custodians approve again before the next attempt.
 *
 * The signing key is the handle's delivery key (eorders_delivery.key), never the audit log's:
 * the two signatures must never be confusable. Its public half is
 * td_eorders_delivery_public_key, and the package names it as "eorders-delivery:<hex>". */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "eorders/eorders_int.h"
#include "takedown/evidence_package.h"

/* Records in the delivery's audit entry one by one up to this many (each ~200 bytes of the
 * entry's 64 KiB); beyond, the entry holds their count and the digest of their list, and the
 * manifest lists them all. */
#define AUDIT_RECORDS_LISTED 200

typedef struct rec_row {
    int64_t id, item;
    unsigned category;
    int64_t bytes;
    char sha256[65], fields_sha256[65];
    int written;
} rec_row;

static void rec_item(td_stmt *q, void *item)
{
    rec_row *r = item;
    r->id = td_stmt_column_int64(q, 0);
    r->item = td_stmt_column_int64(q, 1);
    r->category = (unsigned)td_stmt_column_int64(q, 2);
    r->bytes = td_stmt_column_int64(q, 3);
    td__copy_trunc(r->sha256, sizeof r->sha256, td_stmt_column_text(q, 4));
    td__copy_trunc(r->fields_sha256, sizeof r->fields_sha256, td_stmt_column_text(q, 5));
}

static int by_item(const void *a, const void *b)
{
    int64_t x = ((const rec_row *)a)->item, y = ((const rec_row *)b)->item;
    return x < y ? -1 : x > y;
}

typedef struct deliver_ctx {
    td_package_writer *w;
    rec_row *recs;
    size_t n;
    unsigned cats; /* categories delivered */
    size_t written;
    td_status st;
    td_error *err;
} deliver_ctx;

static void hex_sha256(const void *data, size_t len, char out[65])
{
    static const uint8_t none[1];
    uint8_t d[32];
    crypto_hash_sha256(d, len ? data : none, len);
    td__hex_encode(d, sizeof d, out);
}

/* The content type the platform gave with the record (in its sealed metadata), or NULL. */
static char *content_type_of(const char *related)
{
    json_t *m = json_loads(related, 0, NULL);
    const char *ct = json_string_value(json_object_get(m, "content_type"));
    char *out = ct && *ct ? td__strdup(ct) : NULL;
    json_decref(m);
    return out;
}

static int on_item(void *arg, int64_t item, const char *label, const char *related,
                   const uint8_t *content, size_t len)
{
    deliver_ctx *x = arg;
    rec_row key = {.item = item}, *r = bsearch(&key, x->recs, x->n, sizeof *r, by_item);
    char sha[TD_PACKAGE_SHA256_HEX_LEN + 1], name[64];
    (void)label;
    if (!r || !(r->category & x->cats))
        return 0; /* not a record of this delivery (blocked or refused category) */
    related = related ? related : "";
    hex_sha256(related, strlen(related), sha);
    if (strcmp(sha, r->fields_sha256) != 0 || (int64_t)len != r->bytes) {
        x->st = td__error_set(x->err, TD_ERR_CORRUPT,
                              "record %lld: the evidence store returned other data than was"
                              " sealed",
                              (long long)r->id);
        return 1;
    }
    if (strlen(related) > TD_PACKAGE_META_MAX) {
        x->st = td__error_set(x->err, TD_ERR_LIMIT, "record %lld: metadata over %d bytes",
                              (long long)r->id, TD_PACKAGE_META_MAX);
        return 1;
    }
    char *ct = content_type_of(related);
    snprintf(name, sizeof name, "r%lld-%s", (long long)r->id, td_eorder_category_name(r->category));
    if ((x->st = td_package_record_begin(x->w, name, td_eorder_category_name(r->category), ct,
                                         related, x->err)) == TD_OK &&
        (x->st = td_package_record_write(x->w, content, len, x->err)) == TD_OK)
        x->st = td_package_record_end(x->w, sha, x->err);
    td__free(ct);
    if (x->st)
        return 1;
    if (strcmp(sha, r->sha256) != 0) {
        x->st = td__error_set(x->err, TD_ERR_CORRUPT,
                              "record %lld: its content does not match the digest recorded at"
                              " sealing",
                              (long long)r->id);
        return 1;
    }
    r->written = 1;
    x->written++;
    return 0;
}

/* ---- the transactions ---- */

typedef struct entry_args {
    const char *actor;
    const td_eorder *o;
    const rec_row *recs;
    size_t n;
    unsigned cats;
    const char *list_sha256;
    uint64_t seq;
} entry_args;

static td_status entry_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    entry_args *a = ctx;
    char rk[2 * TD_EORDER_X25519_KEY_LEN + 1];
    size_t delivered = 0;
    json_t *list = json_array();
    for (size_t i = 0; list && i < a->n; i++) {
        if (!a->recs[i].written)
            continue;
        delivered++;
        if (delivered <= AUDIT_RECORDS_LISTED)
            json_array_append_new(
                list, json_pack("{s:I, s:I, s:s, s:I, s:s}", "record", (json_int_t)a->recs[i].id,
                                "item", (json_int_t)a->recs[i].item, "category",
                                td_eorder_category_name(a->recs[i].category), "bytes",
                                (json_int_t)a->recs[i].bytes, "sha256", a->recs[i].sha256));
    }
    td__hex_encode(a->o->doc.recipient_key, TD_EORDER_X25519_KEY_LEN, rk);
    json_t *d = json_pack("{s:s, s:o, s:I, s:s, s:s}", "order", a->o->id_text, "categories",
                          td__eorder_categories_json(a->cats), "records", (json_int_t)delivered,
                          "records_sha256", a->list_sha256, "recipient_key", rk);
    if (d && delivered <= AUDIT_RECORDS_LISTED)
        json_object_set_new(d, "record_list", list);
    else
        json_decref(list);
    return td__eorders_audit(eo, c, a->actor, "eorder.delivery", a->o->id, d, &a->seq, err);
}

typedef struct done_args {
    const char *actor;
    const td_eorder *o;
    unsigned cats;
    size_t records;
    uint64_t seq;
    const char *manifest_sha256;
    int64_t now;
} done_args;

static td_status done_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    done_args *a = ctx;
    td_stmt *q;
    td_status st;
    int64_t v[2] = {TD_EORDER_DELIVERED, a->now};
    if ((st = td__eorder_update(c, a->o->id, "state = $2, delivered_ms = $3", v, 2, err)) ||
        (st = td_store_prepare(c,
                               "UPDATE eorder_records SET delivered_ms = $2 WHERE order_id = $1"
                               " AND (category & $3) <> 0",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->o->id, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->now, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->cats, err)) || (st = td_stmt_run(q, NULL, err)) ||
        (st = td__eorder_production_done(c, a->o, err)))
        return st;
    if ((st = td__eorder_message(eo, c, a->o, TD_EORDER_MSG_OUTCOME,
                                 json_pack("{s:o, s:I, s:s, s:I, s:o}", "categories",
                                           td__eorder_categories_json(a->cats), "records",
                                           (json_int_t)a->records, "manifest_sha256",
                                           a->manifest_sha256, "audit_seq", (json_int_t)a->seq,
                                           "delivered_at", td__eorder_time_json(a->now)),
                                 err)))
        return st;
    return td__eorders_audit(eo, c, a->actor, "eorder.delivered", a->o->id,
                             json_pack("{s:s, s:I, s:o}", "manifest_sha256", a->manifest_sha256,
                                       "delivery_seq", (json_int_t)a->seq, "categories",
                                       td__eorder_categories_json(a->cats)),
                             NULL, err);
}

typedef struct failed_args {
    const char *actor, *why;
    int64_t id;
    uint64_t seq;
} failed_args;

static td_status failed_body(td_eorders *eo, td_store_conn *c, void *ctx, td_error *err)
{
    failed_args *a = ctx;
    return td__eorders_audit(
        eo, c, a->actor, "eorder.delivery_failed", a->id,
        json_pack("{s:I, s:s}", "delivery_seq", (json_int_t)a->seq, "error", a->why), NULL, err);
}

/* The inclusion proof of entry seq in the tree of seq + 1 entries, with its signed checkpoint
 * and the entry itself, as the audit log's proof document (audit.h), parsed into JSON. */
static td_status inclusion_json(td_eorders *eo, uint64_t seq, json_t **out, td_error *err)
{
    td_audit_doc doc;
    char *text = NULL;
    size_t len = 0;
    td_status st;
    memset(&doc, 0, sizeof doc);
    doc.type = TD_AUDIT_DOC_INCLUSION;
    *out = NULL;
    if ((st = td_audit_checkpoint_for_size(eo->log, seq + 1, &doc.checkpoint, err)) == TD_OK &&
        (st = td_audit_prove_inclusion(eo->log, seq, seq + 1, &doc.proof, err)) == TD_OK &&
        (st = td_audit_get_canonical(eo->log, seq, &doc.entry, &doc.entry_len, err)) == TD_OK) {
        td_audit_leaf_hash(doc.entry, doc.entry_len, doc.leaf_hash);
        st = td_audit_doc_format(&doc, &text, &len, err);
    }
    td_audit_doc_clear(&doc);
    if (st)
        return st;
    *out = json_loadb(text, len, 0, NULL);
    td_free(text);
    return *out ? TD_OK : td__error_set(err, TD_ERR_INTERNAL, "proof document is not JSON");
}

/* ---- the call ---- */

static td_status load(td_eorders *eo, const char *order, td_eorder *o, td_error *err)
{
    td_store_conn *c;
    int64_t id = 0;
    td_status st = td_store_acquire(eo->svc->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td__eorder_resolve(c, order, &id, err)) == TD_OK)
        st = td__eorder_load(c, id, o, err);
    td_store_release(eo->svc->store, c);
    return st;
}

/* What must hold before anything is released; *cats: the categories to deliver. */
static td_status precheck(td_eorders *eo, const char *actor, td_eorder *o, int64_t now,
                          unsigned *cats, td_error *err)
{
    char when[32];
    td_status st;
    if (o->doc.framework == TD_EORDER_EU_EPOC_PR)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "%s is a preservation order: nothing is delivered", o->id_text);
    if (o->state != TD_EORDER_APPROVED)
        return td__error_set(err, TD_ERR_CONFLICT, "%s is %s: only an approved order is delivered",
                             o->id_text, td_eorder_state_name(o->state));
    if (o->deadlines.transmit_from_ms && now < o->deadlines.transmit_from_ms) {
        td_order_time_format(o->deadlines.transmit_from_ms, when);
        return td__error_set(err, TD_ERR_CONFLICT,
                             "%s: transmission is not allowed before %s (the enforcing state"
                             " has not confirmed that it raises no grounds)",
                             o->id_text, when);
    }
    *cats = o->preserved & o->doc.categories & ~o->refused & ~o->grounds_blocked;
    if (!*cats)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "%s: no category left to deliver (refused, blocked by grounds or"
                             " not preserved)",
                             o->id_text);
    if (!o->release_request) {
        /* Approved while the request could not be made (e.g. a failed earlier attempt). */
        if ((st = td__eorder_make_request(eo, actor, o, &o->release_request, err)))
            return st;
    }
    td_evidence_request_info ri;
    if ((st = td_evidence_request_get(eo->evidence, o->release_request, &ri, err)))
        return st;
    if (ri.released)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "%s: release request %lld was used; a new one is needed", o->id_text,
                             (long long)o->release_request);
    if (ri.held < ri.need)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "%s: release request %lld needs %u custodians' approvals, %u held",
                             o->id_text, (long long)o->release_request, ri.need, ri.held);
    return TD_OK;
}

/* The records of o, sorted by evidence item, and the SHA-256 of their delivered list ("<record>
 * <category> <sha256>\n" per record in record order). */
static td_status read_records(td_eorders *eo, const td_eorder *o, rec_row **recs, size_t *n,
                              td_error *err)
{
    int64_t binds[1] = {o->id};
    td_status st = td_store_read_rows(eo->svc->store,
                                      "SELECT id, evidence_item, category, bytes, sha256,"
                                      " fields_sha256 FROM eorder_records WHERE order_id = $1"
                                      " ORDER BY id",
                                      binds, 1, TD_EORDER_ORDER_RECORDS_MAX, sizeof **recs,
                                      rec_item, (void **)recs, n, err);
    if (st == TD_OK && *n)
        qsort(*recs, *n, sizeof **recs, by_item);
    return st;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const rec_row *)a)->id, y = ((const rec_row *)b)->id;
    return x < y ? -1 : x > y;
}

static void list_digest(rec_row *recs, size_t n, char out[65])
{
    crypto_hash_sha256_state s;
    uint8_t d[32];
    char line[128];
    qsort(recs, n, sizeof *recs, by_id);
    crypto_hash_sha256_init(&s);
    for (size_t i = 0; i < n; i++) {
        if (!recs[i].written)
            continue;
        int k = snprintf(line, sizeof line, "%lld %s %s\n", (long long)recs[i].id,
                         td_eorder_category_name(recs[i].category), recs[i].sha256);
        crypto_hash_sha256_update(&s, (const uint8_t *)line, (size_t)(k > 0 ? k : 0));
    }
    crypto_hash_sha256_final(&s, d);
    td__hex_encode(d, sizeof d, out);
}

td_status td_eorder_deliver(td_eorders *eo, const char *actor, const char *order,
                            const char *package_path, td_eorder_delivery *out, td_error *err)
{
    td_eorder_delivery local;
    td_status st;
    if (!out)
        out = &local;
    memset(out, 0, sizeof *out);
    if (!package_path || !*package_path)
        return td__error_set(err, TD_ERR_INVALID, "package path: required");
    actor = actor && *actor ? actor : "system";
    td_eorder *o = td__malloc(sizeof *o);
    rec_row *recs = NULL;
    size_t n = 0;
    unsigned cats = 0;
    td_package_writer *w = NULL;
    json_t *extra = NULL;
    int released = 0;
    entry_args ea = {actor, o, NULL, 0, 0, NULL, 0};
    int entry_written = 0;
    if (!o)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&eo->data_lock);
    int64_t now = td__now(eo->svc);
    if ((st = load(eo, order, o, err)) || (st = precheck(eo, actor, o, now, &cats, err)) ||
        (st = read_records(eo, o, &recs, &n, err)))
        goto out;
    char key_id[96], sign_hex[2 * TD_EORDER_SIGN_PUBKEY_LEN + 1];
    td__hex_encode(eo->sign_pk, sizeof eo->sign_pk, sign_hex);
    snprintf(key_id, sizeof key_id, "eorders-delivery:%s", sign_hex);
    td_package_options po = {eo->svc->opts.clock, 0};
    if ((st = td_package_create(package_path, o->doc.recipient_key, eo->sign_sk, key_id, &po, &w,
                                err)))
        goto out;
    /* Each released item goes straight into the package. */
    deliver_ctx x = {w, recs, n, cats, 0, TD_OK, err};
    released = 1;
    st = td_evidence_release(eo->evidence, o->release_request, actor, on_item, &x, err);
    if (st == TD_OK && x.st)
        st = x.st;
    if (st == TD_OK) {
        size_t expected = 0;
        for (size_t i = 0; i < n; i++)
            expected += (recs[i].category & cats) != 0;
        if (x.written != expected)
            st = td__error_set(err, TD_ERR_CORRUPT,
                               "%s: %zu of %zu records came out of the evidence store", o->id_text,
                               x.written, expected);
    }
    if (st)
        goto out;
    char list_sha[65];
    list_digest(recs, n, list_sha);
    ea.recs = recs;
    ea.n = n;
    ea.cats = cats;
    ea.list_sha256 = list_sha;
    if ((st = td__eorders_tx(eo, entry_body, &ea, err)))
        goto out;
    entry_written = 1;
    json_t *proof = NULL;
    uint8_t log_pk[TD_AUDIT_PUBKEY_LEN];
    char log_hex[2 * TD_AUDIT_PUBKEY_LEN + 1];
    td_audit_public_key(eo->log, log_pk);
    td__hex_encode(log_pk, sizeof log_pk, log_hex);
    if ((st = inclusion_json(eo, ea.seq, &proof, err)))
        goto out;
    extra = json_pack(
        "{s:s, s:o, s:s, s:s, s:s, s:o, s:I, s:s, s:{s:I, s:o, s:s}}", "order", o->id_text,
        "ext_id", o->doc.ext_id[0] ? json_string(o->doc.ext_id) : json_null(), "framework",
        td_eorder_framework_name(o->doc.framework), "reference",
        o->doc.issuing_authority.file_number, "issuing_state", o->doc.issuing_state, "categories",
        td__eorder_categories_json(cats), "records", (json_int_t)x.written, "records_sha256",
        list_sha, "audit", "seq", (json_int_t)ea.seq, "inclusion", proof, "public_key", log_hex);
    char *extra_text = extra ? json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!extra_text) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto out;
    }
    char manifest_sha[TD_PACKAGE_SHA256_HEX_LEN + 1];
    st = td_package_finish(w, extra_text, manifest_sha, err);
    free(extra_text); /* jansson's */
    w = NULL;         /* consumed */
    if (st)
        goto out;
    done_args da = {actor, o, cats, x.written, ea.seq, manifest_sha, now};
    if ((st = td__eorders_tx(eo, done_body, &da, err)))
        goto out;
    out->records = x.written;
    out->categories = cats;
    out->audit_seq = ea.seq;
    out->delivered_ms = now;
out:
    td_package_abort(w);
    json_decref(extra);
    if (st && released) {
        td_error ignored;
        /* The release was used: a new request, for custodians to approve before a retry. */
        if (entry_written) {
            failed_args fa = {actor, err ? err->message : "", o->id, ea.seq};
            td__eo_ignore(td__eorders_tx(eo, failed_body, &fa, &ignored));
        }
        td__eo_ignore(td__eorder_make_request(eo, actor, o, &o->release_request, &ignored));
    }
    pthread_mutex_unlock(&eo->data_lock);
    if (st == TD_OK) {
        td_error ignored;
        /* Delivered: the hold is lifted, the usual retention runs from the sealing. */
        td__eo_ignore(td__eorder_release_evidence(eo, o->id, 1, &ignored));
    }
    td__free(recs);
    td__free(o);
    return st;
}
