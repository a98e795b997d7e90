/* HTTP handlers of the evidence store: thin translations between JSON and
 * include/takedown/evidence.h.
 *
 * What each role sees: admins and auditors read metadata (cases, retention, holds, item labels
 * and sizes), never content; an admin extends retention, sets holds and files release requests
 * (who asks, on what legal basis, for what purpose, which items); a custodian approves a
 * request by submitting its share with its own key (the key's name is the custodian's name);
 * an admin then releases, and the decrypted items are in that one answer only. The library logs
 * every step (evidence.request, evidence.approve, evidence.release) before any plaintext
 * exists. The share a custodian submits is wiped from the request's memory once checked. */
#include <sodium.h>
#include <string.h>

#include "core/alloc.h"
#include "server/handlers_evidence.h"
#include "server/handlers_orders.h"

static td_evidence *evidence_or_503(td__req *r)
{
    td_orders *o = td__req_orders(r);
    td_evidence *ev = o ? td_orders_evidence(o) : NULL;
    if (!ev)
        td__reply_error(r, 503, "unavailable", "evidence is not enabled on this server");
    return ev;
}

static json_t *case_json(const char *ref, const td_evidence_case_info *c)
{
    return json_pack("{s:s, s:o, s:o, s:I, s:b, s:o, s:I}", "case", ref, "created_at",
                     td__time_json(c->created_ms), "retain_until",
                     td__time_json(c->retain_until_ms), "retain_until_ms",
                     (json_int_t)c->retain_until_ms, "hold", c->hold, "purged_at",
                     td__time_json(c->purged_ms), "item_count", (json_int_t)c->items);
}

/* A required string member: replies 400 and returns NULL when absent or empty. */
static const char *required_string(td__req *r, json_t *b, const char *name)
{
    const char *v = NULL;
    if (!td__get_string(r, b, name, &v))
        return NULL;
    if (!v || !*v) {
        td__reply_error(r, 400, "missing_field", "'%s' is required", name);
        return NULL;
    }
    return v;
}

/* ---- cases (metadata) ---- */

void td__h_evidence_cases_list(td__req *r)
{
    td_evidence *ev = evidence_or_503(r);
    int64_t limit, offset;
    if (!ev || !td__query_int(r, "limit", 1, 1000, 100, &limit) ||
        !td__query_int(r, "offset", 0, INT32_MAX, 0, &offset))
        return;
    td_evidence_status es;
    td_evidence_custodian *cust = NULL;
    td_evidence_case_summary *list = NULL;
    size_t n_cust = 0, n = 0;
    td_error err;
    td_status st;
    if ((st = td_evidence_get_status(ev, &es, &err)) ||
        (st = td_evidence_custodians(ev, &cust, &n_cust, &err)) ||
        (st = td_evidence_case_list(ev, (size_t)limit, (size_t)offset, &list, &n, &err))) {
        td_free(cust);
        td__reply_status(r, st, &err);
        return;
    }
    json_t *names = json_array(), *cases = json_array();
    for (size_t i = 0; names && i < n_cust; i++)
        json_array_append_new(names, json_string(cust[i].name));
    for (size_t i = 0; cases && i < n; i++)
        json_array_append_new(cases, case_json(list[i].case_ref, &list[i].info));
    td_free(cust);
    td_free(list);
    json_t *master =
        es.has_master ? json_pack("{s:b, s:i, s:i, s:o, s:o}", "exists", 1, "threshold", (int)es.k,
                                  "custodians", (int)es.n, "names", names ? names : json_array(),
                                  "created_at", td__time_json(es.master_created_ms))
                      : json_pack("{s:b}", "exists", 0);
    if (!es.has_master)
        json_decref(names);
    td__reply_json(r, 200,
                   json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o}", "master", master, "counts",
                             "cases", (json_int_t)es.cases, "cases_held", (json_int_t)es.cases_held,
                             "cases_purged", (json_int_t)es.cases_purged, "items",
                             (json_int_t)es.items, "requests_open", (json_int_t)es.requests_open,
                             "cases", cases));
}

static void reply_case(td__req *r, td_evidence *ev, const char *ref, unsigned status)
{
    td_evidence_case_info info;
    td_evidence_item_info *items = NULL;
    size_t n = 0;
    td_error err;
    td_status st;
    if ((st = td_evidence_case(ev, ref, &info, &err)) ||
        (st = td_evidence_item_list(ev, ref, &items, &n, &err))) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *j = case_json(ref, &info), *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:I, s:o, s:o, s:b}", "id", (json_int_t)items[i].id, "label",
                         items[i].label, "bytes", (json_int_t)items[i].bytes, "sealed_at",
                         td__time_json(items[i].sealed_ms), "removal_at",
                         td__time_json(items[i].removal_ms), "destroyed", items[i].destroyed));
    td_free(items);
    if (j)
        json_object_set_new(j, "items", a ? a : json_array());
    else
        json_decref(a);
    td__reply_json(r, status, j);
}

void td__h_evidence_case_get(td__req *r)
{
    td_evidence *ev = evidence_or_503(r);
    if (ev)
        reply_case(r, ev, r->params[0], 200);
}

void td__h_evidence_case_extend(td__req *r)
{
    static const char *const members[] = {"until", "reason", NULL};
    td_evidence *ev = evidence_or_503(r);
    json_t *b;
    if (!ev || !(b = td__body_fields(r, members)))
        return;
    const char *until = required_string(r, b, "until"), *reason = NULL;
    int64_t until_ms = -1;
    if (until && (reason = required_string(r, b, "reason"))) {
        if ((until_ms = td_order_time_parse(until, strlen(until))) <= 0) {
            td__reply_error(r, 400, "invalid_value", "'until': expected YYYY-MM-DDTHH:MM:SSZ");
        } else {
            td_error err;
            td_status st =
                td_evidence_extend(ev, r->who.name, r->params[0], until_ms, reason, &err);
            if (st)
                td__reply_status(r, st, &err);
            else
                reply_case(r, ev, r->params[0], 200);
        }
    }
    json_decref(b);
}

void td__h_evidence_case_hold(td__req *r)
{
    static const char *const members[] = {"hold", "reason", NULL};
    td_evidence *ev = evidence_or_503(r);
    json_t *b;
    int on = 1;
    if (!ev || !(b = td__body_fields(r, members)))
        return;
    const char *reason;
    if (td__get_bool(r, b, "hold", &on) && (reason = required_string(r, b, "reason"))) {
        td_error err;
        td_status st = td_evidence_hold(ev, r->who.name, r->params[0], on, reason, &err);
        if (st)
            td__reply_status(r, st, &err);
        else
            reply_case(r, ev, r->params[0], 200);
    }
    json_decref(b);
}

/* ---- releases ---- */

static json_t *request_json(const td_evidence_request_info *q)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:i, s:i}", "id",
                     (json_int_t)q->id, "requester", q->requester, "legal_basis", q->legal_basis,
                     "purpose", q->purpose, "case", q->case_ref, "state",
                     q->released ? "released" : "open", "created_at", td__time_json(q->created_ms),
                     "released_at", td__time_json(q->released_ms), "approvals", (int)q->approvals,
                     "shares_held", (int)q->held, "needed", (int)q->need);
}

/* ?state=pending|approved|released|all (default pending), limit (1..200, default 50), offset:
 * release requests newest first with their approvals of k. Custodians read it too: what awaits
 * their share (metadata only, as for auditors). */
void td__h_evidence_releases_list(td__req *r)
{
    static const char *const states[] = {"all", "pending", "approved", "released"};
    td_evidence *ev = evidence_or_503(r);
    int64_t limit, offset;
    if (!ev || !td__query_int(r, "limit", 1, TD_EVIDENCE_REQUESTS_MAX, 50, &limit) ||
        !td__query_int(r, "offset", 0, INT32_MAX, 0, &offset))
        return;
    const char *state = td__query(r, "state");
    int filter = state ? -1 : TD_EVIDENCE_REQUESTS_PENDING;
    for (int i = 0; state && i < 4; i++)
        if (strcmp(state, states[i]) == 0)
            filter = i;
    if (filter < 0) {
        td__reply_error(r, 400, "invalid_query",
                        "'state' must be pending, approved, released or all");
        return;
    }
    td_evidence_request_info *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_evidence_request_list(ev, (td_evidence_request_filter)filter, (size_t)limit,
                                            (size_t)offset, &list, &n, &err);
    if (st) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        json_t *o = request_json(&list[i]);
        /* The filter's state: an open request with k approvals recorded is "approved". */
        if (o && !list[i].released)
            json_object_set_new(o, "state",
                                json_string(list[i].need && list[i].approvals >= list[i].need
                                                ? "approved"
                                                : "pending"));
        json_array_append_new(arr, o);
    }
    td_free(list);
    if (!arr) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    td__reply_json(r, 200,
                   json_pack("{s:o, s:I, s:I}", "releases", arr, "limit", (json_int_t)limit,
                             "offset", (json_int_t)offset));
}

void td__h_evidence_release_request(td__req *r)
{
    static const char *const members[] = {"requester", "legal_basis", "purpose",
                                          "case",      "items",       NULL};
    td_evidence *ev = evidence_or_503(r);
    json_t *b;
    if (!ev || !(b = td__body_fields(r, members)))
        return;
    const char *requester, *basis = NULL, *purpose = NULL, *ref = NULL;
    int64_t *ids = NULL;
    size_t n_ids = 0;
    if (!(requester = required_string(r, b, "requester")) ||
        !(basis = required_string(r, b, "legal_basis")) ||
        !(purpose = required_string(r, b, "purpose")) || !(ref = required_string(r, b, "case")))
        goto out;
    json_t *items = json_object_get(b, "items");
    if (items && !json_is_null(items)) {
        if (!json_is_array(items) || json_array_size(items) > 1000) {
            td__reply_error(r, 400, "invalid_type", "'items' must be an array of item ids");
            goto out;
        }
        n_ids = json_array_size(items);
        ids = td__arena_alloc(&r->arena, (n_ids ? n_ids : 1) * sizeof *ids);
        if (!ids) {
            td__reply_error(r, 503, "out_of_memory", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n_ids; i++) {
            json_t *v = json_array_get(items, i);
            if (!json_is_integer(v) || json_integer_value(v) <= 0) {
                td__reply_error(r, 400, "invalid_type", "'items' must be an array of item ids");
                goto out;
            }
            ids[i] = json_integer_value(v);
        }
    }
    int64_t id = 0;
    td_error err;
    td_status st = td_evidence_request(ev, requester, basis, purpose, ref, ids, n_ids, &id, &err);
    td_evidence_request_info *info = st ? NULL : td__arena_alloc(&r->arena, sizeof *info);
    if (!st && !info) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        goto out;
    }
    if (!st)
        st = td_evidence_request_get(ev, id, info, &err);
    if (st)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 201, request_json(info));
out:
    json_decref(b);
}

void td__h_evidence_release_approve(td__req *r)
{
    static const char *const members[] = {"share", NULL};
    td_evidence *ev = evidence_or_503(r);
    int64_t id;
    json_t *b;
    if (!ev || (id = td__param_id(r, 0)) < 0 || !(b = td__body_fields(r, members))) {
        if (r->body)
            sodium_memzero(r->body, r->body_len);
        return;
    }
    const char *share = required_string(r, b, "share");
    td_evidence_request_info *info = td__arena_alloc(&r->arena, sizeof *info);
    td_error err;
    td_status st;
    unsigned have = 0, need = 0;
    if (!share)
        goto out;
    if (!info) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        goto out;
    }
    /* A mistyped share (bad checksum) is the custodian's typo: 400. A well-formed share that is
     * not this custodian's (another's, a forged one, another master key's) is refused: 403. */
    td_share parsed;
    st = td_share_parse(share, strlen(share), &parsed, &err);
    sodium_memzero(&parsed, sizeof parsed);
    if (st) {
        td__reply_error(r, 400, "invalid_share", "%s", err.message);
        goto out;
    }
    if ((st = td_evidence_request_get(ev, id, info, &err))) {
        td__reply_status(r, st, &err);
        goto out;
    }
    if (info->released) {
        td__reply_error(r, 409, "conflict", "release request %lld was released already",
                        (long long)id);
        goto out;
    }
    st = td_evidence_approve(ev, id, r->who.name, share, &have, &need, &err);
    if (st == TD_ERR_INVALID || st == TD_ERR_CORRUPT)
        td__reply_error(r, 403, "share_refused", "%s", err.message);
    else if (st == TD_ERR_NOT_FOUND)
        td__reply_error(r, 403, "not_a_custodian", "%s", err.message);
    else if (st)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200,
                       json_pack("{s:I, s:s, s:i, s:i, s:b}", "request", (json_int_t)id,
                                 "custodian", r->who.name, "approvals", (int)have, "needed",
                                 (int)need, "ready", have >= need));
out:
    /* The share: out of the parsed document and the body buffer. */
    if (share)
        sodium_memzero((char *)share, strlen(share));
    if (r->body)
        sodium_memzero(r->body, r->body_len);
    json_decref(b);
}

typedef struct release_ctx {
    json_t *items;
    int failed;
} release_ctx;

static int on_item(void *ctx, int64_t item_id, const char *label, const char *related_json,
                   const uint8_t *content, size_t len)
{
    release_ctx *rc = ctx;
    size_t b64_len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = sodium_malloc(b64_len);
    uint8_t digest[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    if (!b64) {
        rc->failed = 1;
        return 1;
    }
    sodium_bin2base64(b64, b64_len, content ? content : (const uint8_t *)"", len,
                      sodium_base64_VARIANT_ORIGINAL);
    crypto_hash_sha256(digest, content ? content : (const uint8_t *)"", len);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    json_t *related = json_loads(related_json, JSON_DECODE_ANY, NULL);
    json_t *item = json_pack("{s:I, s:s, s:o, s:I, s:s, s:s}", "id", (json_int_t)item_id, "label",
                             label, "related", related ? related : json_string(related_json),
                             "bytes", (json_int_t)len, "sha256", hex, "content_base64", b64);
    sodium_free(b64); /* wipes */
    if (!item || json_array_append_new(rc->items, item) != 0) {
        rc->failed = 1;
        return 1;
    }
    return 0;
}

void td__h_evidence_release(td__req *r)
{
    td_evidence *ev = evidence_or_503(r);
    int64_t id;
    if (!ev || (id = td__param_id(r, 0)) < 0 || !td__empty_body(r))
        return;
    td_evidence_request_info *info = td__arena_alloc(&r->arena, sizeof *info);
    td_error err;
    td_status st;
    if (!info) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    if ((st = td_evidence_request_get(ev, id, info, &err))) {
        td__reply_status(r, st, &err);
        return;
    }
    if (info->released) {
        td__reply_error(r, 409, "conflict", "release request %lld was released already",
                        (long long)id);
        return;
    }
    release_ctx rc = {json_array(), 0};
    if (!rc.items) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    st = td_evidence_release(ev, id, r->who.name, on_item, &rc, &err);
    if (st == TD_ERR_CONFLICT) {
        json_decref(rc.items);
        td__reply_json(r, 409,
                       json_pack("{s:{s:s, s:s}, s:i, s:i}", "error", "code", "not_approved",
                                 "message", err.message, "approvals", (int)info->held, "needed",
                                 (int)info->need));
        return;
    }
    if (st) {
        json_decref(rc.items);
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200,
                   json_pack("{s:I, s:s, s:s, s:s, s:s, s:o}", "request", (json_int_t)id, "case",
                             info->case_ref, "requester", info->requester, "legal_basis",
                             info->legal_basis, "purpose", info->purpose, "items", rc.items));
}
