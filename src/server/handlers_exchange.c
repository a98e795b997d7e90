/* HTTP handlers of the hash exchanges (docs/exchanges.md, exchange.h): create, read, change,
 * delete, pull now, and a peer's push. Credentials and push secrets go in and never come out:
 * an exchange's JSON says only whether it has them. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

static td_exchanges *exchanges_or_503(td__req *r)
{
    td_exchanges *ex = td__req_exchanges(r);
    if (!ex)
        td__reply_error(r, 503, "unavailable", "hash exchanges are not available (see the log)");
    return ex;
}

/* The handle and the exchange id of the path ({id}); NULL when it answered (503, 400, 404). */
static td_exchanges *exchange_target(td__req *r, int64_t *id)
{
    td_exchanges *ex = exchanges_or_503(r);
    *id = ex ? td__param_id(r, 0) : -1;
    return *id < 0 ? NULL : ex;
}

static json_t *labels_json(const td_labels *l)
{
    json_t *a = json_array();
    for (int i = 0; a && i < l->count; i++)
        json_array_append_new(a, json_string(l->v[i]));
    return a;
}

static json_t *types_json(unsigned types)
{
    json_t *a = json_array();
    for (int t = 1; a && t <= TD_SIGNAL_TYPE_MAX; t++)
        if (types & (1u << t))
            json_array_append_new(a, json_string(td_signal_type_name((td_signal_type)t)));
    return a;
}

static json_t *exchange_json(const td_exchange *e)
{
    json_t *j = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:b, s:b, s:b, s:b}", "id",
        (json_int_t)e->id, "name", e->name, "type", td_exchange_type_name(e->type), "url", e->url,
        "group", e->group, "bank", e->bank, "allow_bank", e->allow_bank, "interval_ms",
        (json_int_t)e->interval_ms, "tags", labels_json(&e->tags), "signal_types",
        types_json(e->types), "reactions", e->reactions, "enabled", e->enabled, "has_credentials",
        e->has_credentials, "has_push_secret", e->has_push_secret);
    json_t *s = json_pack(
        "{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I, "
        "s:s}",
        "checkpoint", e->checkpoint, "resyncing", e->resyncing, "created_ms",
        (json_int_t)e->created_ms, "updated_ms", (json_int_t)e->updated_ms, "last_fetch_ms",
        (json_int_t)e->last_fetch_ms, "last_success_ms", (json_int_t)e->last_success_ms,
        "next_fetch_ms", (json_int_t)e->next_fetch_ms, "pages", (json_int_t)e->pages, "items",
        (json_int_t)e->items, "added", (json_int_t)e->added, "updated", (json_int_t)e->updated,
        "removed", (json_int_t)e->removed, "negative", (json_int_t)e->negative, "skipped",
        (json_int_t)e->skipped, "consecutive_failures", e->consecutive_failures, "failures",
        (json_int_t)e->failures, "reactions_sent", (json_int_t)e->reactions_sent, "last_error",
        e->last_error);
    if (j && s)
        json_object_set_new(s, "reactions_pending", json_integer((json_int_t)e->reactions_pending));
    if (j)
        json_object_set_new(j, "state", s ? s : json_null());
    else
        json_decref(s);
    return j;
}

static int bad(td__req *r, const char *field, const char *message)
{
    json_t *j = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", "invalid_value", "field", field,
                          "message", message);
    td__reply_json(r, 400, j);
    return 0;
}

static int copy_field(td__req *r, json_t *obj, const char *name, char *dst, size_t cap,
                      int *present)
{
    const char *v = NULL;
    *present = 0;
    if (!td__get_string(r, obj, name, &v))
        return 0;
    if (!v)
        return 1;
    if (strlen(v) >= cap)
        return bad(r, name, "too long");
    memcpy(dst, v, strlen(v) + 1);
    *present = 1;
    return 1;
}

/* A list of label strings (tags) or signal type names (signal_types). */
static int parse_tags(td__req *r, json_t *obj, td_labels *out, int *present)
{
    json_t *a = json_object_get(obj, "tags");
    size_t i;
    json_t *v;
    *present = a != NULL;
    memset(out, 0, sizeof *out);
    if (!a)
        return 1;
    if (!json_is_array(a))
        return bad(r, "tags", "'tags' must be an array of labels");
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || td_labels_add(out, json_string_value(v), NULL) != TD_OK)
            return bad(r, "tags",
                       "each tag is a label: 1..64 bytes of [A-Za-z0-9_.:/-], 16 at most");
    }
    return 1;
}

static int parse_types(td__req *r, json_t *obj, unsigned *out, int *present)
{
    json_t *a = json_object_get(obj, "signal_types");
    size_t i;
    json_t *v;
    *present = a != NULL;
    *out = 0;
    if (!a)
        return 1;
    if (!json_is_array(a))
        return bad(r, "signal_types", "'signal_types' must be an array of signal type names");
    json_array_foreach(a, i, v)
    {
        td_signal_type t;
        const char *s = json_string_value(v);
        if (!s || td_signal_type_parse(s, strlen(s), &t) != TD_OK)
            return bad(r, "signal_types", "unknown signal type");
        *out |= 1u << t;
    }
    return 1;
}

/* The credentials object as text (jansson's; free()), or NULL when absent. */
static int parse_credentials(td__req *r, json_t *obj, char **out, int *present)
{
    json_t *c = json_object_get(obj, "credentials");
    *out = NULL;
    *present = c != NULL;
    if (!c)
        return 1;
    if (json_is_null(c))
        return 1;
    if (!json_is_object(c))
        return bad(r, "credentials", "'credentials' must be an object");
    *out = json_dumps(c, JSON_COMPACT);
    if (!*out) {
        td__reply_error(r, 500, "internal", "out of memory");
        return 0;
    }
    return 1;
}

static const char *const members[] = {
    "name", "type",         "url",       "group",   "bank",        "allow_bank",  "interval_ms",
    "tags", "signal_types", "reactions", "enabled", "credentials", "push_secret", NULL};

/* Reads the settable members into e; *fields receives TD_EXCHANGE_SET_* of those present. */
static int parse_exchange(td__req *r, json_t *obj, td_exchange *e, unsigned *fields, char **cred,
                          const char **push)
{
    int p = 0;
    int64_t interval = -1;
    int reactions = -1, enabled = -1;
    *fields = 0;
    *cred = NULL;
    *push = NULL;
    if (!td__only_members(r, obj, members))
        return 0;
    if (!copy_field(r, obj, "url", e->url, sizeof e->url, &p))
        return 0;
    *fields |= p ? TD_EXCHANGE_SET_URL : 0;
    if (!copy_field(r, obj, "group", e->group, sizeof e->group, &p))
        return 0;
    *fields |= p ? TD_EXCHANGE_SET_GROUP : 0;
    if (!copy_field(r, obj, "allow_bank", e->allow_bank, sizeof e->allow_bank, &p))
        return 0;
    *fields |= p ? TD_EXCHANGE_SET_ALLOW_BANK : 0;
    if (!td__get_int(r, obj, "interval_ms", 1, 30LL * 86400000, &interval) ||
        !td__get_bool(r, obj, "reactions", &reactions) ||
        !td__get_bool(r, obj, "enabled", &enabled) || !td__get_string(r, obj, "push_secret", push))
        return 0;
    if (interval >= 0) {
        e->interval_ms = interval;
        *fields |= TD_EXCHANGE_SET_INTERVAL;
    }
    if (reactions >= 0) {
        e->reactions = reactions;
        *fields |= TD_EXCHANGE_SET_REACTIONS;
    }
    if (enabled >= 0) {
        e->enabled = enabled;
        *fields |= TD_EXCHANGE_SET_ENABLED;
    }
    if (json_object_get(obj, "push_secret"))
        *fields |= TD_EXCHANGE_SET_PUSH_SECRET;
    if (!parse_tags(r, obj, &e->tags, &p))
        return 0;
    *fields |= p ? TD_EXCHANGE_SET_TAGS : 0;
    if (!parse_types(r, obj, &e->types, &p))
        return 0;
    *fields |= p ? TD_EXCHANGE_SET_TYPES : 0;
    if (!parse_credentials(r, obj, cred, &p))
        return 0;
    *fields |= p ? TD_EXCHANGE_SET_CREDENTIALS : 0;
    return 1;
}

void td__h_exchanges_create(td__req *r)
{
    td_exchanges *ex = exchanges_or_503(r);
    if (!ex)
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    td_exchange e, out;
    td_exchange_init(&e);
    unsigned fields;
    char *cred = NULL;
    const char *push = NULL, *name = NULL, *type = NULL, *bank = NULL;
    int p;
    if (!parse_exchange(r, obj, &e, &fields, &cred, &push) ||
        !td__get_string(r, obj, "name", &name) || !td__get_string(r, obj, "type", &type) ||
        !td__get_string(r, obj, "bank", &bank))
        goto done;
    if (!name || !type || !bank || !(fields & TD_EXCHANGE_SET_URL)) {
        td__reply_error(r, 400, "missing_field", "'name', 'type', 'url' and 'bank' are required");
        goto done;
    }
    if (td_exchange_type_parse(type, &e.type) != TD_OK) {
        bad(r, "type", "'type' must be threatexchange, tcap, takedown or url_list");
        goto done;
    }
    if (!copy_field(r, obj, "name", e.name, sizeof e.name, &p) ||
        !copy_field(r, obj, "bank", e.bank, sizeof e.bank, &p))
        goto done;
    td_error err;
    td_status st = td_exchange_create_as(ex, &r->who, &e, cred, push, &out, &err);
    if (st != TD_OK)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 201, exchange_json(&out));
done:
    free(cred); /* jansson's */
    json_decref(obj);
}

void td__h_exchanges_list(td__req *r)
{
    td_exchanges *ex = exchanges_or_503(r);
    if (!ex)
        return;
    td_exchange *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_exchange_list(ex, &list, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, exchange_json(&list[i]));
    td_free(list);
    td__reply_json(r, 200, json_pack("{s:o}", "exchanges", a));
}

void td__h_exchange_get(td__req *r)
{
    int64_t id;
    td_exchanges *ex = exchange_target(r, &id);
    if (!ex)
        return;
    td_exchange e;
    td_error err;
    td_status st = td_exchange_get(ex, id, &e, &err);
    if (st != TD_OK)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200, exchange_json(&e));
}

void td__h_exchange_update(td__req *r)
{
    int64_t id;
    td_exchanges *ex = exchange_target(r, &id);
    if (!ex)
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    td_exchange e, out;
    td_exchange_init(&e);
    unsigned fields;
    char *cred = NULL;
    const char *push = NULL;
    if (!parse_exchange(r, obj, &e, &fields, &cred, &push))
        goto done;
    static const char *const fixed[] = {"name", "type", "bank"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_get(obj, fixed[i])) {
            bad(r, fixed[i], "an exchange's name, type and bank are set when it is created");
            goto done;
        }
    if (!fields) {
        td__reply_error(r, 400, "missing_field", "nothing to change");
        goto done;
    }
    td_error err;
    td_status st = td_exchange_update_as(ex, &r->who, id, fields, &e, cred, push, &out, &err);
    if (st != TD_OK)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200, exchange_json(&out));
done:
    free(cred); /* jansson's */
    json_decref(obj);
}

void td__h_exchange_delete(td__req *r)
{
    int64_t id;
    td_exchanges *ex = exchange_target(r, &id);
    if (!ex)
        return;
    td_error err;
    td_status st = td_exchange_delete_as(ex, &r->who, id, &err);
    if (st != TD_OK)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1));
}

void td__h_exchange_run(td__req *r)
{
    int64_t id, max_pages = 0;
    td_exchanges *ex = exchange_target(r, &id);
    if (!ex || !td__query_int(r, "max_pages", 0, 1000000, 0, &max_pages))
        return;
    td_exchange_run run;
    td_exchange e;
    td_error err;
    td_status st = td_exchange_run_now(ex, id, (size_t)max_pages, &run, &err);
    if (st == TD_OK)
        st = td_exchange_get(ex, id, &e, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *j =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:o}", "pages",
                  (json_int_t)run.pages, "items", (json_int_t)run.items, "added",
                  (json_int_t)run.added, "updated", (json_int_t)run.updated, "removed",
                  (json_int_t)run.removed, "negative", (json_int_t)run.negative, "skipped",
                  (json_int_t)run.skipped, "refused", (json_int_t)run.refused, "done", run.done,
                  "failed", run.failed, "retry", run.retry, "exchange", exchange_json(&e));
    td__reply_json(r, 200, j);
}

void td__h_exchange_push(td__req *r)
{
    int64_t id;
    td_exchanges *ex = exchange_target(r, &id);
    if (!ex)
        return;
    const char *sig = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Takedown-Signature");
    td_error err;
    td_status st = td_exchange_push(ex, id, sig, r->body, r->body_len, &err);
    /* Unknown exchange, no push secret, wrong signature: one answer, so that a stranger learns
     * nothing about which exchanges exist. */
    if (st == TD_ERR_INVALID || st == TD_ERR_UNSUPPORTED || st == TD_ERR_NOT_FOUND) {
        td__reply_error(r, 401, "bad_signature",
                        "the push does not verify: no such exchange taking pushes, or its "
                        "X-Takedown-Signature does not match the body");
        return;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    /* A takedown webhook's other headers say which notice this was: echoed (made safe), so that
     * the publisher's delivery log shows what the push was taken for. */
    json_t *j = json_pack("{s:I, s:b}", "id", (json_int_t)id, "pull", 1);
    static const char *const about[][2] = {{"X-Takedown-Event", "event"},
                                           {"X-Takedown-Delivery", "delivery"}};
    for (size_t i = 0; j && i < sizeof about / sizeof about[0]; i++) {
        const char *v = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, about[i][0]);
        char safe[128];
        if (v) {
            td__safe_text(safe, sizeof safe, v, strlen(v));
            json_object_set_new(j, about[i][1], json_string(safe));
        }
    }
    td__reply_json(r, 202, j);
}

/* ---- sharing the platform's own signals, four eyes ---- */

static json_t *upload_json(const td_exchange_upload *u)
{
    return json_pack(
        "{s:I, s:I, s:I, s:s, s:s, s:{s:I, s:s, s:I}, s:o, s:s, s:s}", "id", (json_int_t)u->id,
        "exchange_id", (json_int_t)u->exchange_id, "signal_id", (json_int_t)u->signal_id, "state",
        td_exchange_upload_state_name(u->state), "description", u->description, "requested",
        "key_id", (json_int_t)u->requested_by, "name", u->requested_by_name, "at_ms",
        (json_int_t)u->requested_ms, "decided",
        u->decided_by ? json_pack("{s:I, s:s, s:I}", "key_id", (json_int_t)u->decided_by, "name",
                                  u->decided_by_name, "at_ms", (json_int_t)u->decided_ms)
                      : json_null(),
        "external_id", u->external_id, "last_error", u->last_error);
}

void td__h_exchange_uploads_list(td__req *r)
{
    int64_t id;
    td_exchanges *ex = exchange_target(r, &id);
    if (!ex)
        return;
    td_exchange e;
    td_exchange_upload *list = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_exchange_get(ex, id, &e, &err);
    if (st == TD_OK)
        st = td_exchange_upload_list(ex, id, &list, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, upload_json(&list[i]));
    td_free(list);
    td__reply_json(r, 200, json_pack("{s:o}", "uploads", a));
}

void td__h_exchange_upload_request(td__req *r)
{
    static const char *const names[] = {"signal_id", "description", NULL};
    int64_t id;
    td_exchanges *ex = exchange_target(r, &id);
    if (!ex)
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    int64_t signal_id = -1;
    const char *description = NULL;
    if (!td__only_members(r, obj, names) ||
        !td__get_int(r, obj, "signal_id", 1, INT64_MAX, &signal_id) ||
        !td__get_string(r, obj, "description", &description)) {
        json_decref(obj);
        return;
    }
    if (signal_id < 0) {
        json_decref(obj);
        td__reply_error(r, 400, "missing_field", "'signal_id' is required");
        return;
    }
    td_exchange_upload u;
    td_error err;
    td_status st = td_exchange_upload_request_as(ex, &r->who, id, signal_id, description, &u, &err);
    json_decref(obj);
    if (st == TD_ERR_UNSUPPORTED)
        td__reply_error(r, 409, "unsupported", "%s", err.message);
    else if (st != TD_OK)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 201, upload_json(&u));
}

static void decide(td__req *r, int approve)
{
    int64_t id;
    td_exchanges *ex = exchange_target(r, &id);
    int64_t uid = ex ? td__param_id(r, 1) : -1;
    if (uid < 0)
        return;
    td_exchange_upload u;
    td_error err;
    td_status st = td_exchange_upload_decide_as(ex, &r->who, id, uid, approve, &u, &err);
    if (st != TD_OK)
        td__reply_status(r, st, &err);
    else
        td__reply_json(r, 200, upload_json(&u));
}

void td__h_exchange_upload_approve(td__req *r) { decide(r, 1); }
void td__h_exchange_upload_reject(td__req *r) { decide(r, 0); }
