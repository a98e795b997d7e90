/* Meta's HMA ("Hasher-Matcher-Actioner") routes, so that an HMA client switches to takedown by
 * changing its base URL. Shapes follow HMA: banks carry matching_enabled_ratio, signals are
 * keyed by python-threatexchange type names ("pdq", "video_md5"), lookup answers are keyed by
 * bank name with string distances. An HMA "bank content" is one takedown signal here. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "server/fetch.h"
#include "server/serialize.h"
#include "server/server_int.h"

void td__h_hma_status(td__req *r)
{
    td_service *svc = atomic_load(&r->srv->svc);
    if (svc && atomic_load(&r->srv->ready) && td_service_ready(svc)) {
        static const char ok[] = "I-AM-ALIVE";
        td__reply_text(r, 200, "text/plain", ok, sizeof ok - 1);
        return;
    }
    static const char no[] = "INDEX-NOT-LOADED";
    td__reply_text(r, 503, "text/plain", no, sizeof no - 1);
}

/* GET /h/hash?url=: fetches the media (server/fetch.c: opt-in, allow list, no private
 * addresses, no redirects, time and size limits) and answers its hashes keyed by HMA signal type
 * names: {"pdq": hex, "pdq_quality": n, "md5": hex, "sha256": hex}. */
void td__h_hma_hash(td__req *r)
{
    const char *url = td__query(r, "url");
    if (!url || !*url) {
        td__reply_error(r, 400, "missing_query", "'url' is required");
        return;
    }
    const td_server_options *o = &r->srv->opts;
    td__fetch_policy policy = {o->fetch_enabled,       o->fetch_allow,
                               o->fetch_allow_private, o->fetch_connect_timeout_ms,
                               o->fetch_timeout_ms,    o->max_media_bytes};
    uint8_t *data = NULL;
    size_t len = 0;
    long upstream = 0;
    td_error err;
    switch (td__fetch(&policy, url, &data, &len, &upstream, &err)) {
    case TD__FETCH_OK: break;
    case TD__FETCH_BAD_URL: td__reply_error(r, 400, "invalid_url", "%s", err.message); return;
    case TD__FETCH_DISABLED: td__reply_error(r, 403, "fetch_disabled", "%s", err.message); return;
    case TD__FETCH_NOT_ALLOWED:
        td__reply_error(r, 403, "host_not_allowed", "%s", err.message);
        return;
    case TD__FETCH_PRIVATE: td__reply_error(r, 403, "private_address", "%s", err.message); return;
    case TD__FETCH_TIMEOUT: td__reply_error(r, 504, "upstream_timeout", "%s", err.message); return;
    case TD__FETCH_TOO_LARGE: td__reply_error(r, 413, "too_large", "%s", err.message); return;
    case TD__FETCH_UPSTREAM: td__reply_error(r, 502, "upstream_error", "%s", err.message); return;
    default: td__reply_status(r, TD_ERR_NOMEM, &err); return;
    }
    td_hash_options hopts;
    td_hash_options_default(&hopts);
    td_file_hashes h;
    td_status st = td_hash_bytes("fetched media", data, len, &hopts, &h, &err);
    td__free(data);
    if (st == TD_ERR_NOMEM || st == TD_ERR_INTERNAL) {
        td__reply_status(r, st, &err);
        return;
    }
    if (st == TD_ERR_LIMIT) {
        td__reply_error(r, 413, "too_large", "%s", err.message);
        return;
    }
    if (st != TD_OK) { /* not an image, or a broken one */
        td__reply_error(r, 422, "undecodable", "%s", err.message);
        return;
    }
    char pdq[TD_PDQ_HEX_LEN + 1];
    td_pdq_to_hex(&h.pdq[0], pdq);
    td__reply_json(r, 200,
                   json_pack("{s:s,s:i,s:s,s:s}", "pdq", pdq, "pdq_quality", h.quality, "md5",
                             h.md5, "sha256", h.sha256));
}

static int lookup(td__req *r, td_check_result *res)
{
    const char *type = td__query(r, "signal_type"), *signal = td__query(r, "signal");
    if (!type || !signal) {
        td__reply_error(r, 400, "missing_query", "'signal_type' and 'signal' are required");
        return 0;
    }
    td_error err;
    memset(res, 0, sizeof *res);
    td_status st = td_lookup_signal(r->svc, type, signal, res, &err);
    if (st != TD_OK) {
        td_check_result_clear(res);
        if (st == TD_ERR_INVALID || st == TD_ERR_UNSUPPORTED || st == TD_ERR_NOT_FOUND)
            td__reply_error(r, 400, "invalid_signal", "%s", err.message);
        else
            td__reply_status(r, st, &err);
        return 0;
    }
    return 1;
}

static json_t *distance_string(int d)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", d);
    return json_string(buf);
}

void td__h_hma_lookup(td__req *r)
{
    td_check_result res;
    if (!lookup(r, &res))
        return;
    json_t *o = json_object();
    for (size_t i = 0; o && i < res.match_count; i++) {
        const td_match *m = &res.matches[i];
        json_t *list = json_object_get(o, m->bank);
        if (!list) {
            list = json_array();
            json_object_set_new(o, m->bank, list);
        }
        json_array_append_new(list,
                              json_pack("{s:I,s:o}", "bank_content_id", (json_int_t)m->signal_id,
                                        "distance", distance_string(m->distance)));
    }
    td_check_result_clear(&res);
    td__reply_json(r, 200, o);
}

void td__h_hma_raw_lookup(td__req *r)
{
    const char *inc = td__query(r, "include_distance");
    int with_distance = inc && (strcmp(inc, "true") == 0 || strcmp(inc, "1") == 0);
    td_check_result res;
    if (!lookup(r, &res))
        return;
    json_t *a = json_array();
    for (size_t i = 0; a && i < res.match_count; i++) {
        const td_match *m = &res.matches[i];
        if (with_distance)
            json_array_append_new(a, json_pack("{s:I,s:o}", "bank_content_id",
                                               (json_int_t)m->signal_id, "distance",
                                               distance_string(m->distance)));
        else
            json_array_append_new(a, json_integer(m->signal_id));
    }
    td_check_result_clear(&res);
    td__reply_json(r, 200, json_pack("{s:o}", "matches", a));
}

/* {"pdq": [h1, h2], "video_md5": [a, b], ...} -> {"pdq": {"match": bool, "distance": n}}. */
void td__h_hma_compare(td__req *r)
{
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    json_t *out = json_object();
    const char *key;
    json_t *pair;
    json_object_foreach(obj, key, pair)
    {
        td_signal_type type;
        if (td_signal_type_parse(key, strlen(key), &type) != TD_OK) {
            td__reply_error(r, 400, "invalid_signal", "unknown signal type '%.64s'", key);
            goto fail;
        }
        if (!json_is_array(pair) || json_array_size(pair) != 2 ||
            !json_is_string(json_array_get(pair, 0)) || !json_is_string(json_array_get(pair, 1))) {
            td__reply_error(r, 400, "invalid_type", "'%.64s' must be an array of two hashes", key);
            goto fail;
        }
        char a[65], b[65];
        td_error err;
        const char *sa = json_string_value(json_array_get(pair, 0));
        const char *sb = json_string_value(json_array_get(pair, 1));
        if (td_signal_value_normalize(type, sa, strlen(sa), a, &err) != TD_OK ||
            td_signal_value_normalize(type, sb, strlen(sb), b, &err) != TD_OK) {
            td__reply_error(r, 400, "invalid_hash", "'%.64s': %s", key, err.message);
            goto fail;
        }
        int distance = 0, match;
        if (type == TD_SIGNAL_PDQ) {
            td_pdq pa, pb;
            if (td_pdq_from_hex(a, strlen(a), &pa) != TD_OK ||
                td_pdq_from_hex(b, strlen(b), &pb) != TD_OK) {
                td__reply_error(r, 400, "invalid_hash", "'%.64s' must be 64 hex digits", key);
                goto fail;
            }
            distance = td_pdq_distance(&pa, &pb);
            match = distance <= TD_PDQ_MATCH_DISTANCE;
        } else {
            match = strcmp(a, b) == 0;
            distance = match ? 0 : 1;
        }
        json_object_set_new(out, key, json_pack("{s:b,s:i}", "match", match, "distance", distance));
    }
    json_decref(obj);
    td__reply_json(r, 200, out);
    return;
fail:
    json_decref(obj);
    json_decref(out);
}

static json_t *hma_bank(const td_bank *b)
{
    return json_pack("{s:s,s:f}", "name", b->name, "matching_enabled_ratio",
                     b->enabled ? 1.0 : 0.0);
}

void td__h_hma_banks_list(td__req *r)
{
    td_bank *banks = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_bank_list(r->svc, &banks, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, hma_bank(&banks[i]));
    td_free(banks);
    td__reply_json(r, 200, a);
}

/* "enabled_ratio" / "matching_enabled_ratio" (a number; > 0 enables) or "enabled" (bool). */
static int parse_hma_enabled(td__req *r, json_t *obj, int *enabled)
{
    json_t *v = json_object_get(obj, "matching_enabled_ratio");
    if (!v)
        v = json_object_get(obj, "enabled_ratio");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v)) {
            td__reply_error(r, 400, "invalid_type", "'matching_enabled_ratio' must be a number");
            return 0;
        }
        *enabled = json_number_value(v) > 0;
        return 1;
    }
    return td__get_bool(r, obj, "enabled", enabled);
}

void td__h_hma_banks_create(td__req *r)
{
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    const char *name = NULL;
    int enabled = 1;
    if (!td__get_string(r, obj, "name", &name) || !parse_hma_enabled(r, obj, &enabled)) {
        json_decref(obj);
        return;
    }
    td_bank b, out;
    td_bank_init(&b);
    if (!name || strlen(name) > TD_NAME_MAX || !td_bank_name_valid(name)) {
        json_decref(obj);
        td__reply_error(r, 400, "invalid_name", "bank names are [A-Z_][A-Z0-9_]*");
        return;
    }
    memcpy(b.name, name, strlen(name) + 1);
    b.enabled = enabled;
    json_decref(obj);
    td_error err;
    td_status st = td_bank_create_as(r->svc, &r->who, &b, &out, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 201, hma_bank(&out));
}

void td__h_hma_bank_get(td__req *r)
{
    td_bank b;
    td_error err;
    td_status st = td_bank_get(r->svc, r->params[0], &b, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, hma_bank(&b));
}

void td__h_hma_bank_update(td__req *r)
{
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    const char *name = NULL;
    int enabled = -1;
    if (!td__get_string(r, obj, "name", &name) || !parse_hma_enabled(r, obj, &enabled)) {
        json_decref(obj);
        return;
    }
    td_bank b, out;
    unsigned fields = 0;
    td_bank_init(&b);
    if (name) {
        if (strlen(name) > TD_NAME_MAX || !td_bank_name_valid(name)) {
            json_decref(obj);
            td__reply_error(r, 400, "invalid_name", "bank names are [A-Z_][A-Z0-9_]*");
            return;
        }
        memcpy(b.name, name, strlen(name) + 1);
        fields |= TD_BANK_SET_NAME;
    }
    if (enabled >= 0) {
        b.enabled = enabled;
        fields |= TD_BANK_SET_ENABLED;
    }
    json_decref(obj);
    td_error err;
    td_status st = td_bank_update_as(r->svc, &r->who, r->params[0], fields, &b, &out, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, hma_bank(&out));
}

void td__h_hma_bank_delete(td__req *r)
{
    td_error err;
    td_status st = td_bank_delete_as(r->svc, &r->who, r->params[0], &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, json_object());
}

/* What HMA shows as a signal's string: the hash, or for a body signal (a URL, a rule, a text,
 * a video's frames) its readable form rather than the digest takedown keys it by. */
static const char *hma_value(const td_signal *s)
{
    return td_signal_type_has_body(s->type) ? s->display : s->value;
}

static json_t *hma_content(const td_signal *s)
{
    return json_pack("{s:I,s:s,s:b,s:{s:s}}", "id", (json_int_t)s->id, "bank", s->bank, "enabled",
                     s->enabled, "signals", td_signal_type_te_name(s->type), hma_value(s));
}

/* {"pdq": "<hex>"} (or another signal type) -> {"id": 1, "signals": {"pdq": "<hex>"}}. */
void td__h_hma_signal_add(td__req *r)
{
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    const char *key;
    json_t *v;
    json_t *signals = json_object();
    int64_t first_id = 0;
    json_object_foreach(obj, key, v)
    {
        td_signal_input in;
        td_signal_input_init(&in);
        if (td_signal_type_parse(key, strlen(key), &in.type) != TD_OK) {
            td__reply_error(r, 400, "invalid_signal", "unknown signal type '%.64s'", key);
            goto fail;
        }
        if (!json_is_string(v)) {
            td__reply_error(r, 400, "invalid_type", "'%.64s' must be a string", key);
            goto fail;
        }
        in.value = json_string_value(v);
        in.source = "hma";
        td_signal out;
        td_error err;
        td_status st = td_signal_add_as(r->svc, &r->who, r->params[0], &in, &out, &err);
        if (st == TD_ERR_CONFLICT) {
            st = td_signal_get(r->svc, r->params[0], out.id, &out, &err);
        }
        if (st != TD_OK) {
            td__reply_status(r, st, &err);
            goto fail;
        }
        if (!first_id)
            first_id = out.id;
        json_object_set_new(signals, key, json_string(hma_value(&out)));
    }
    if (!first_id) {
        td__reply_error(r, 400, "missing_field", "give a signal, e.g. {\"pdq\": \"<hex>\"}");
        goto fail;
    }
    json_decref(obj);
    td__reply_json(r, 200, json_pack("{s:I,s:o}", "id", (json_int_t)first_id, "signals", signals));
    return;
fail:
    json_decref(obj);
    json_decref(signals);
}

void td__h_hma_content_get(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    if (id < 0)
        return;
    td_signal s;
    td_error err;
    td_status st = td_signal_get(r->svc, r->params[0], id, &s, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, hma_content(&s));
}

void td__h_hma_content_update(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    if (id < 0)
        return;
    json_t *obj = td__body_object(r);
    if (!obj)
        return;
    int enabled = -1;
    json_t *ratio = json_object_get(obj, "enable_ratio");
    if (ratio && json_is_number(ratio))
        enabled = json_number_value(ratio) > 0;
    else if (!td__get_bool(r, obj, "enabled", &enabled)) {
        json_decref(obj);
        return;
    }
    json_decref(obj);
    td_signal s;
    td_error err;
    td_status st = enabled >= 0 ? td_signal_set_enabled_as(r->svc, &r->who, r->params[0], id,
                                                           enabled, &s, &err)
                                : td_signal_get(r->svc, r->params[0], id, &s, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, hma_content(&s));
}

void td__h_hma_content_delete(td__req *r)
{
    int64_t id = td__param_id(r, 1);
    if (id < 0)
        return;
    td_error err;
    td_status st = td_signal_delete_as(r->svc, &r->who, r->params[0], id, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 200, json_object());
}
