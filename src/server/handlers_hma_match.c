/* HMA's hashing and matching routes (/h/..., /m/...), in HMA 1.1.7's shapes. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "server/fetch.h"
#include "server/handlers_hma.h"
#include "server/serialize.h"
#include "server/server_int.h"

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
