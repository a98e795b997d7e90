/* The k-of-n release: a request names a case and items with its legal basis, each custodian
 * approves it with a share (checked against the share's commitment and held in guarded memory,
 * never stored), and the release rebuilds the master key from k shares, logs itself, closes the
 * request and only then decrypts the items for the caller.
 *
 * The items named may also lie in other cases than the request's when they were linked to it
 * (td_evidence_link, an audited act: a preserved report an evidence order names, sealed once in
 * the report's own case); any other item of another case is refused as before. The master key
 * opens every case's key, so one approval by the custodians releases them all: the release opens
 * the cases one after the other and gives each item with its own case's binding. A linked case
 * must not be purged. */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "evidence/evidence_int.h"
#include "evidence/sealed.h"

#define MAX_REQUEST_ITEMS 1000

/* ---- shares held for open requests (under ev->lock) ---- */

static void pending_drop(td_evidence *ev, size_t i)
{
    sodium_free(ev->pend[i].shares); /* wipes */
    ev->pend[i] = ev->pend[--ev->n_pend];
}

static td__evidence_pending *pending_find(td_evidence *ev, int64_t request_id)
{
    for (size_t i = 0; i < ev->n_pend; i++)
        if (ev->pend[i].request_id == request_id)
            return &ev->pend[i];
    return NULL;
}

unsigned td__evidence_shares_held(td_evidence *ev, int64_t request_id)
{
    pthread_mutex_lock(&ev->lock);
    td__evidence_pending *p = pending_find(ev, request_id);
    unsigned held = p ? p->count : 0;
    pthread_mutex_unlock(&ev->lock);
    return held;
}

void td__evidence_shares_wipe(td_evidence *ev)
{
    while (ev->n_pend)
        pending_drop(ev, 0);
}

/* ---- release requests ---- */

typedef struct request_args {
    const char *requester, *legal_basis, *purpose, *case_ref;
    const int64_t *items;
    size_t n_items;
    int64_t id;
} request_args;

/* The case of item id (*found 0: no such item). */
static td_status item_case(td_store_conn *c, int64_t id, char case_ref[TD__EVIDENCE_MAX_REF + 1],
                           int *found, td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    *found = 0;
    case_ref[0] = '\0';
    if ((st = td_store_prepare(c, "SELECT case_ref FROM evidence_items WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        snprintf(case_ref, TD__EVIDENCE_MAX_REF + 1, "%s", td_stmt_column_text(q, 0));
        *found = 1;
    }
    td_stmt_reset(q);
    return TD_OK;
}

/* Whether item id of another case was linked to case_ref (td_evidence_link). */
static td_status item_linked(td_store_conn *c, const char *case_ref, int64_t id, int *linked,
                             td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td_store_prepare(
             c, "SELECT 1 FROM evidence_links WHERE case_ref = $1 AND item_id = $2", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, case_ref, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    td_stmt_reset(q);
    *linked = row;
    return TD_OK;
}

typedef struct link_args {
    const char *actor, *case_ref;
    int64_t item;
    int linked;
} link_args;

static td_status link_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    link_args *a = arg;
    char item_ref[TD__EVIDENCE_MAX_REF + 1];
    int found = 0;
    td_evidence_case_info info;
    td_stmt *q;
    int64_t changed = 0;
    td_status st;
    a->linked = 0;
    if ((st = item_case(c, a->item, item_ref, &found, err)))
        return st;
    if (!found)
        return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: no item %lld", (long long)a->item);
    if (strcmp(item_ref, a->case_ref) == 0)
        return TD_OK; /* its own case releases it anyway */
    if ((st = td__evidence_case_info(c, item_ref, &info, err)))
        return st;
    if (info.purged_ms)
        return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: case %s of item %lld was purged",
                             item_ref, (long long)a->item);
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_links (case_ref, item_id, linked_ms)"
                               " VALUES ($1, $2, $3) ON CONFLICT (case_ref, item_id) DO NOTHING",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->item, err)) ||
        (st = td_stmt_bind_int64(q, 3, td__evidence_now(ev), err)) ||
        (st = td_stmt_run(q, &changed, err)))
        return st;
    if (!changed)
        return TD_OK;
    a->linked = 1;
    char *details = td__evidence_dump(
        json_pack("{s:I,s:s}", "item", (json_int_t)a->item, "from_case", item_ref));
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, "evidence.link", a->case_ref, details, NULL, err);
    td__free(details);
    return st;
}

static td_status link_check(const char *actor, const char *case_ref, td_error *err)
{
    td_status st = td__evidence_check_text("actor", actor, TD__EVIDENCE_MAX_REF, err);
    return st ? st : td__evidence_check_text("case reference", case_ref, TD__EVIDENCE_MAX_REF, err);
}

td_status td_evidence_link(td_evidence *ev, const char *actor, const char *case_ref,
                           int64_t item_id, td_error *err)
{
    td_status st = link_check(actor, case_ref, err);
    link_args a = {actor, case_ref, item_id, 0};
    return st ? st : td__evidence_tx(ev, link_body, &a, err);
}

td_status td_evidence_link_in(td_evidence *ev, td_store_conn *conn, const char *actor,
                              const char *case_ref, int64_t item_id, int *linked, td_error *err)
{
    td_status st = link_check(actor, case_ref, err);
    link_args a = {actor, case_ref, item_id, 0};
    if (st == TD_OK)
        st = link_body(ev, conn, &a, err);
    if (linked)
        *linked = a.linked;
    return st;
}

static td_status request_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    request_args *a = arg;
    td_evidence_case_info info = {0};
    td_stmt *q;
    int row;
    td_status st = td__evidence_case_info(c, a->case_ref, &info, err);
    /* A request of linked items only may name a case that holds nothing yet. */
    int own_case = st == TD_OK;
    if (st == TD_ERR_NOT_FOUND && a->n_items > 0)
        st = TD_OK;
    if (st)
        return st;
    if (own_case && info.purged_ms)
        return td__error_set(err, TD_ERR_NOT_FOUND,
                             "evidence: case %s was purged; nothing can be released", a->case_ref);
    json_t *items = json_array(), *linked = json_array();
    char list[MAX_REQUEST_ITEMS * 21 + 1];
    size_t off = 0;
    list[0] = '\0';
    for (size_t i = 0; i < a->n_items; i++) {
        char item_ref[TD__EVIDENCE_MAX_REF + 1];
        int found = 0;
        if ((st = item_case(c, a->items[i], item_ref, &found, err))) {
            json_decref(items);
            json_decref(linked);
            return st;
        }
        if (!found) {
            json_decref(items);
            json_decref(linked);
            return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: case %s has no item %lld",
                                 a->case_ref, (long long)a->items[i]);
        }
        if (strcmp(item_ref, a->case_ref) != 0) {
            td_evidence_case_info other;
            int is_linked = 0;
            if ((st = item_linked(c, a->case_ref, a->items[i], &is_linked, err)) == TD_OK &&
                !is_linked)
                st = td__error_set(err, TD_ERR_NOT_FOUND, "evidence: case %s has no item %lld",
                                   a->case_ref, (long long)a->items[i]);
            if (st == TD_OK && (st = td__evidence_case_info(c, item_ref, &other, err)) == TD_OK &&
                other.purged_ms)
                st = td__error_set(err, TD_ERR_NOT_FOUND,
                                   "evidence: case %s of item %lld was purged; nothing of it"
                                   " can be released",
                                   item_ref, (long long)a->items[i]);
            if (st) {
                json_decref(items);
                json_decref(linked);
                return st;
            }
            json_array_append_new(
                linked, json_pack("{s:I, s:s}", "item", (json_int_t)a->items[i], "case", item_ref));
        }
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%lld", i ? "," : "",
                                (long long)a->items[i]);
        json_array_append_new(items, json_integer(a->items[i]));
    }
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_requests (requester, legal_basis, purpose,"
                               " case_ref, items, state, created_ms, released_ms)"
                               " VALUES ($1, $2, $3, $4, $5, $7, $6, 0) RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 7, TD__EVIDENCE_REQ_OPEN, err)) ||
        (st = td_stmt_bind_text(q, 1, a->requester, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 2, a->legal_basis, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 3, a->purpose, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 4, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 5, list, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 6, td__evidence_now(ev), err)) ||
        (st = td_stmt_step(q, &row, err))) {
        json_decref(items);
        json_decref(linked);
        return st;
    }
    a->id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    json_t *d = json_pack("{s:I,s:s,s:s,s:o}", "request", (json_int_t)a->id, "legal_basis",
                          a->legal_basis, "purpose", a->purpose, "items", items);
    if (d && json_array_size(linked))
        json_object_set(d, "linked", linked);
    json_decref(linked);
    char *details = td__evidence_dump(d);
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->requester, "evidence.request", a->case_ref, details,
                            NULL, err);
    td__free(details);
    return st;
}

td_status td_evidence_request(td_evidence *ev, const char *requester, const char *legal_basis,
                              const char *purpose, const char *case_ref, const int64_t *item_ids,
                              size_t n_items, int64_t *request_id, td_error *err)
{
    td_status st;
    if ((st = td__evidence_check_text("requester", requester, TD__EVIDENCE_MAX_REF, err)) ||
        (st = td__evidence_check_text("legal basis", legal_basis, TD__EVIDENCE_MAX_TEXT, err)) ||
        (st = td__evidence_check_text("purpose", purpose, TD__EVIDENCE_MAX_TEXT, err)) ||
        (st = td__evidence_check_text("case reference", case_ref, TD__EVIDENCE_MAX_REF, err)))
        return st;
    if (n_items > MAX_REQUEST_ITEMS)
        return td__error_set(err, TD_ERR_LIMIT, "evidence: more than %d items in one request",
                             MAX_REQUEST_ITEMS);
    request_args a = {requester, legal_basis, purpose, case_ref, item_ids, n_items, 0};
    st = td__evidence_tx(ev, request_body, &a, err);
    if (st == TD_OK && request_id)
        *request_id = a.id;
    return st;
}

/* ---- approvals ---- */

typedef struct approve_args {
    int64_t request_id;
    const char *custodian;
    const td_share *share;
    td__evidence_master m;
} approve_args;

static td_status request_state(td_store_conn *c, int64_t id, int *state, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st =
        td_store_prepare(c, "SELECT state FROM evidence_requests WHERE id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: no release request %lld",
                             (long long)id);
    *state = (int)td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return TD_OK;
}

static td_status approve_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    approve_args *a = arg;
    td_stmt *q;
    int row, state = -1;
    td_status st;
    if ((st = td__evidence_load_master(c, &a->m, err)) ||
        (st = request_state(c, a->request_id, &state, err)))
        return st;
    if (state != TD__EVIDENCE_REQ_OPEN)
        return td__error_set(err, TD_ERR_CONFLICT, "evidence: request %lld is closed",
                             (long long)a->request_id);
    if ((st = td_store_prepare(c, "SELECT x, commitment FROM evidence_custodians WHERE name = $1",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->custodian, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: no custodian named %s",
                             a->custodian);
    int64_t x = td_stmt_column_int64(q, 0);
    uint8_t want[32], got[32];
    int com_ok = td_stmt_column_bytes(q, 1) == 32;
    if (com_ok)
        memcpy(want, td_stmt_column_blob(q, 1), 32);
    td_stmt_reset(q);
    if (memcmp(a->share->set_id, a->m.set_id, TD_SHARE_SET_ID_LEN) != 0 || a->share->k != a->m.k)
        return td__error_set(err, TD_ERR_INVALID,
                             "evidence: the share belongs to another master key");
    if (a->share->x != x)
        return td__error_set(err, TD_ERR_INVALID, "evidence: this is not %s's share", a->custodian);
    td_share_commitment(a->share, got);
    if (!com_ok || sodium_memcmp(want, got, 32) != 0)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "evidence: %s's share does not match its commitment", a->custodian);
    int64_t changes = 0;
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_approvals (request_id, custodian,"
                               " approved_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->request_id, err)) ||
        (st = td_stmt_bind_text(q, 2, a->custodian, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, td__evidence_now(ev), err)) ||
        (st = td_stmt_run(q, &changes, err)))
        return st;
    char *details = td__evidence_dump(
        json_pack("{s:I,s:b}", "request", (json_int_t)a->request_id, "resubmitted", changes == 0));
    char object[48];
    snprintf(object, sizeof object, "request/%lld", (long long)a->request_id);
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->custodian, "evidence.approve", object, details, NULL,
                            err);
    td__free(details);
    return st;
}

td_status td_evidence_approve(td_evidence *ev, int64_t request_id, const char *custodian,
                              const char *share_text, unsigned *have, unsigned *need, td_error *err)
{
    td_status st;
    if ((st = td__evidence_check_text("custodian", custodian, TD__EVIDENCE_MAX_NAME, err)))
        return st;
    if (!share_text)
        return td__error_set(err, TD_ERR_INVALID, "evidence: no share");
    td_share *share = sodium_malloc(sizeof *share);
    if (!share)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    approve_args a = {request_id, custodian, share, {{0}, 0, 0, {0}}};
    if ((st = td_share_parse(share_text, strlen(share_text), share, err)) ||
        (st = td__evidence_tx(ev, approve_body, &a, err))) {
        sodium_free(share);
        return st;
    }
    pthread_mutex_lock(&ev->lock);
    td__evidence_pending *p = pending_find(ev, request_id);
    if (!p && ev->n_pend < TD__EVIDENCE_MAX_PENDING) {
        td_share *arr = sodium_allocarray(TD_SHAMIR_MAX_SHARES, sizeof *arr);
        if (arr) {
            p = &ev->pend[ev->n_pend++];
            p->request_id = request_id;
            p->count = 0;
            p->shares = arr;
        }
    }
    if (!p) {
        pthread_mutex_unlock(&ev->lock);
        sodium_free(share);
        return td__error_set(err, TD_ERR_LIMIT,
                             "evidence: too many requests awaiting release in this process");
    }
    int dup = 0;
    for (unsigned i = 0; i < p->count; i++)
        dup |= p->shares[i].x == share->x;
    if (!dup && p->count < TD_SHAMIR_MAX_SHARES)
        p->shares[p->count++] = *share;
    if (have)
        *have = p->count;
    if (need)
        *need = a.m.k;
    pthread_mutex_unlock(&ev->lock);
    sodium_free(share);
    return TD_OK;
}

/* ---- release ---- */

typedef struct release_args {
    int64_t request_id;
    const char *actor;
    char case_ref[TD__EVIDENCE_MAX_REF + 1];
    char items[MAX_REQUEST_ITEMS * 21 + 1];
    char legal_basis[TD__EVIDENCE_MAX_TEXT + 1];
} release_args;

/* The ids of the items a release will decrypt (those the request lists, which may lie in linked
 * cases; every item of its case when it lists none), for its audit entry: the log says which
 * sealed items were read, not only that some were. */
static td_status release_item_ids(td_store_conn *c, const release_args *a, json_t *ids,
                                  td_error *err)
{
    td_stmt *q;
    int row;
    td_status st;
    if (a->items[0]) {
        for (const char *p = a->items; *p;) {
            char *end;
            long long v = strtoll(p, &end, 10);
            if (end == p)
                break;
            json_array_append_new(ids, json_integer(v));
            p = *end == ',' ? end + 1 : end;
        }
        return TD_OK;
    }
    if ((st = td_store_prepare(c, "SELECT id FROM evidence_items WHERE case_ref = $1 ORDER BY id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row)
        json_array_append_new(ids, json_integer(td_stmt_column_int64(q, 0)));
    return st;
}

static td_status release_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    release_args *a = arg;
    td_stmt *q;
    int row;
    (void)ev;
    td_status st = td_store_prepare(c,
                                    "UPDATE evidence_requests SET state = $3, released_ms = $2"
                                    " WHERE id = $1 AND state = $4"
                                    " RETURNING case_ref, items, legal_basis",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, a->request_id, err)) ||
        (st = td_stmt_bind_int64(q, 3, TD__EVIDENCE_REQ_RELEASED, err)) ||
        (st = td_stmt_bind_int64(q, 4, TD__EVIDENCE_REQ_OPEN, err)) ||
        (st = td_stmt_bind_int64(q, 2, td__evidence_now(ev), err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_CONFLICT, "evidence: request %lld is not open",
                             (long long)a->request_id);
    snprintf(a->case_ref, sizeof a->case_ref, "%s", td_stmt_column_text(q, 0));
    snprintf(a->items, sizeof a->items, "%s", td_stmt_column_text(q, 1));
    snprintf(a->legal_basis, sizeof a->legal_basis, "%s", td_stmt_column_text(q, 2));
    td_stmt_reset(q);
    json_t *ids = json_array();
    if (!ids)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    if ((st = release_item_ids(c, a, ids, err))) {
        json_decref(ids);
        return st;
    }
    char *details = td__evidence_dump(
        json_pack("{s:I,s:s,s:o,s:s}", "request", (json_int_t)a->request_id, "items",
                  a->items[0] ? a->items : "all", "item_ids", ids, "legal_basis", a->legal_basis));
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, "evidence.release", a->case_ref, details, NULL,
                            err);
    td__free(details);
    return st;
}

/* An empty list names every item. */
int td__evidence_item_named(const char *list, int64_t id)
{
    if (!*list)
        return 1;
    for (const char *p = list; *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            return 0;
        if (v == id)
            return 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* Decrypts one item with the case secret key and hands it to fn. */
static td_status deliver(td_evidence *ev, const char *case_ref, int64_t id, const uint8_t *wrapped,
                         size_t wrapped_len, const uint8_t *case_pk, const uint8_t *case_sk,
                         td_evidence_release_fn fn, void *ctx, td_error *err)
{
    char path[4096], bind[TD__EVIDENCE_MAX_REF + 64];
    char *meta = NULL;
    uint8_t *content = NULL, digest[32], want[32];
    size_t meta_len = 0, len = 0;
    td_status st = TD_OK;
    uint8_t *key = sodium_malloc(TD__ITEM_KEY_LEN);
    if (!key)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    if (wrapped_len != TD__EVIDENCE_WRAPPED_LEN ||
        crypto_box_seal_open(key, wrapped, wrapped_len, case_pk, case_sk) != 0) {
        sodium_free(key);
        return td__error_set(err, TD_ERR_CORRUPT, "evidence: item %lld: its key does not open",
                             (long long)id);
    }
    td__evidence_item_path(ev, id, path, sizeof path);
    td__evidence_item_bind(case_ref, id, bind, sizeof bind);
    st = td__sealed_read(path, key, bind, (uint64_t)ev->opts.max_item_bytes, &meta, &meta_len,
                         &content, &len, err);
    sodium_free(key);
    if (st)
        return st;
    json_error_t jerr;
    json_t *m = json_loadb(meta, meta_len, 0, &jerr);
    const char *label = json_string_value(json_object_get(m, "label"));
    const char *related = json_string_value(json_object_get(m, "related"));
    const char *sum = json_string_value(json_object_get(m, "content_sha256"));
    crypto_hash_sha256(digest, content ? content : (const uint8_t *)"", len);
    if (!label || !related || !sum || td__hex_decode_exact(sum, strlen(sum), want, 32) ||
        sodium_memcmp(digest, want, 32) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "evidence: item %lld: content digest mismatch",
                           (long long)id);
    } else if (fn && fn(ctx, id, label, related, content, len) != 0) {
        st = td__error_set(err, TD_ERR_INTERNAL, "evidence: release stopped by the receiver");
    }
    json_decref(m); /* the metadata copy jansson holds: see docs/evidence.md */
    sodium_free(meta);
    sodium_free(content);
    return st;
}

/* Opens one case's key with the master key and hands over its items the request wants. */
static td_status release_case(td_evidence *ev, td_store_conn *c, const release_args *a,
                              const char *case_ref, const uint8_t *master_pk,
                              const uint8_t *master_sk, uint8_t *case_sk, td_evidence_release_fn fn,
                              void *ctx, td_error *err)
{
    td_stmt *q;
    int row;
    uint8_t case_pk[crypto_box_PUBLICKEYBYTES];
    td_status st;
    if ((st = td_store_prepare(c,
                               "SELECT public_key, wrapped_secret FROM evidence_cases"
                               " WHERE case_ref = $1 AND purged_ms = 0",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, case_ref, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: case %s is gone (purged)", case_ref);
    if (td_stmt_column_bytes(q, 0) != sizeof case_pk ||
        td_stmt_column_bytes(q, 1) != TD__EVIDENCE_WRAPPED_LEN ||
        crypto_box_seal_open(case_sk, td_stmt_column_blob(q, 1), TD__EVIDENCE_WRAPPED_LEN,
                             master_pk, master_sk) != 0) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_CORRUPT, "evidence: case %s: its key does not open",
                             case_ref);
    }
    memcpy(case_pk, td_stmt_column_blob(q, 0), sizeof case_pk);
    td_stmt_reset(q);
    if ((st = td_store_prepare(c,
                               "SELECT id, wrapped_key FROM evidence_items WHERE case_ref = $1"
                               " ORDER BY id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, case_ref, (size_t)-1, err)))
        return st;
    for (;;) {
        if ((st = td_stmt_step(q, &row, err)) || !row)
            break;
        int64_t id = td_stmt_column_int64(q, 0);
        if (!td__evidence_item_named(a->items, id))
            continue;
        if ((st = deliver(ev, case_ref, id, td_stmt_column_blob(q, 1), td_stmt_column_bytes(q, 1),
                          case_pk, case_sk, fn, ctx, err)))
            break;
    }
    td_stmt_reset(q);
    sodium_memzero(case_sk, crypto_box_SECRETKEYBYTES);
    return st;
}

#define MAX_LINKED_CASES 64

/* The request's case first, then each linked case its items lie in. */
static td_status release_items(td_evidence *ev, const release_args *a, const uint8_t *master_pk,
                               const uint8_t *master_sk, td_evidence_release_fn fn, void *ctx,
                               td_error *err)
{
    td_store_conn *c;
    char(*cases)[TD__EVIDENCE_MAX_REF + 1] = td__calloc(MAX_LINKED_CASES, sizeof *cases);
    size_t n_cases = 0;
    uint8_t *case_sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!case_sk || !cases) {
        if (case_sk)
            sodium_free(case_sk);
        td__free(cases);
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    }
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st) {
        sodium_free(case_sk);
        td__free(cases);
        return st;
    }
    for (const char *p = a->items; st == TD_OK && *p;) {
        char *end, ref[TD__EVIDENCE_MAX_REF + 1];
        int found = 0, seen = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            break;
        p = *end == ',' ? end + 1 : end;
        if ((st = item_case(c, v, ref, &found, err)) || !found || !strcmp(ref, a->case_ref))
            continue;
        for (size_t k = 0; k < n_cases && !seen; k++)
            seen = strcmp(cases[k], ref) == 0;
        if (seen)
            continue;
        if (n_cases == MAX_LINKED_CASES)
            st = td__error_set(err, TD_ERR_LIMIT, "evidence: items of more than %d linked cases",
                               MAX_LINKED_CASES);
        else
            snprintf(cases[n_cases++], TD__EVIDENCE_MAX_REF + 1, "%s", ref);
    }
    /* The request's own case: unless it holds nothing (a request of linked items only). */
    if (st == TD_OK) {
        td_evidence_case_info info;
        td_error ignored;
        if (n_cases == 0 ||
            td__evidence_case_info(c, a->case_ref, &info, &ignored) != TD_ERR_NOT_FOUND)
            st = release_case(ev, c, a, a->case_ref, master_pk, master_sk, case_sk, fn, ctx, err);
    }
    for (size_t k = 0; st == TD_OK && k < n_cases; k++)
        st = release_case(ev, c, a, cases[k], master_pk, master_sk, case_sk, fn, ctx, err);
    td_store_release(ev->store, c);
    sodium_free(case_sk);
    td__free(cases);
    return st;
}

td_status td_evidence_release(td_evidence *ev, int64_t request_id, const char *actor,
                              td_evidence_release_fn fn, void *ctx, td_error *err)
{
    td_status st;
    td__evidence_master m;
    td_store_conn *c;
    td_share *shares = NULL;
    unsigned count = 0;
    if ((st = td__evidence_check_text("actor", actor, TD__EVIDENCE_MAX_REF, err)))
        return st;
    if ((st = td_store_acquire(ev->store, 0, &c, err)))
        return st;
    st = td__evidence_load_master(c, &m, err);
    td_store_release(ev->store, c);
    if (st)
        return st;
    /* Take the shares held for this request out of the table, so they are wiped whatever
     * happens next. */
    pthread_mutex_lock(&ev->lock);
    td__evidence_pending *p = pending_find(ev, request_id);
    if (p && p->count >= m.k) {
        shares = p->shares;
        count = p->count;
        p->shares = NULL;
        pending_drop(ev, (size_t)(p - ev->pend));
    } else {
        count = p ? p->count : 0;
    }
    pthread_mutex_unlock(&ev->lock);
    if (!shares)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "evidence: request %lld has %u of the %u custodian approvals needed",
                             (long long)request_id, count, m.k);
    uint8_t *seed = sodium_malloc(crypto_box_SEEDBYTES);
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
    release_args *a = td__calloc(1, sizeof *a);
    if (!seed || !sk || !a) {
        st = td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
        goto out;
    }
    a->request_id = request_id;
    a->actor = actor;
    if ((st = td_shamir_combine(shares, count, seed, err)))
        goto out;
    crypto_box_seed_keypair(pk, sk, seed);
    sodium_free(seed);
    seed = NULL;
    if (sodium_memcmp(pk, m.pk, sizeof pk) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT,
                           "evidence: the shares do not rebuild the master key");
        goto out;
    }
    /* Logged (and the request closed) before any plaintext exists. */
    if ((st = td__evidence_tx(ev, release_body, a, err)))
        goto out;
    st = release_items(ev, a, pk, sk, fn, ctx, err);
    if (st) {
        char *details = td__evidence_dump(json_pack("{s:I,s:s}", "request", (json_int_t)request_id,
                                                    "error", err ? err->message : td_strerror(st)));
        /* Best effort: the release itself is on the log already. */
        if (details && td_audit_append(ev->log, actor, "evidence.release_failed", a->case_ref,
                                       details, NULL, NULL) != TD_OK)
            td__error_prefix(err, "(not logged) ");
        td__free(details);
    }
out:
    sodium_free(seed);
    sodium_free(sk);
    sodium_free(shares);
    td__free(a);
    return st;
}
