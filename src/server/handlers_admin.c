/* Administration: webhooks and their delivery log, API keys, counts. A revoked key must stop
 * working at once on this node, so revocation also clears the authentication cache. */
#include <string.h>

#include "server/auth.h"
#include "server/serialize.h"
#include "server/server_int.h"

/* "events": an array of names or one comma-separated string; absent: every event. */
static int parse_events(td__req *r, json_t *obj, unsigned *mask)
{
    json_t *v = json_object_get(obj, "events");
    td_error err;
    *mask = TD_EVENT_ALL;
    if (!v || json_is_null(v))
        return 1;
    if (json_is_string(v)) {
        if (td_event_parse(json_string_value(v), mask, &err) != TD_OK) {
            td__reply_error(r, 400, "invalid_value", "%s", err.message);
            return 0;
        }
        return 1;
    }
    if (!json_is_array(v)) {
        td__reply_error(r, 400, "invalid_type", "'events' must be an array of event names");
        return 0;
    }
    size_t i;
    json_t *item;
    *mask = 0;
    json_array_foreach(v, i, item)
    {
        unsigned one;
        if (!json_is_string(item)) {
            td__reply_error(r, 400, "invalid_type", "'events' must be an array of event names");
            return 0;
        }
        if (td_event_parse(json_string_value(item), &one, &err) != TD_OK) {
            td__reply_error(r, 400, "invalid_value", "%s", err.message);
            return 0;
        }
        *mask |= one;
    }
    if (!*mask) {
        td__reply_error(r, 400, "invalid_value", "'events' must name at least one event");
        return 0;
    }
    return 1;
}

void td__h_webhooks_list(td__req *r)
{
    td_webhook *w = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_webhook_list(r->svc, &w, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, td__json_webhook(&w[i]));
    td_free(w);
    td__reply_json(r, 200, json_pack("{s:o}", "webhooks", a));
}

void td__h_webhooks_create(td__req *r)
{
    static const char *const members[] = {"url", "secret", "platform_key", "events", NULL};
    json_t *obj = td__body_fields(r, members);
    if (!obj)
        return;
    const char *url = NULL, *secret = NULL;
    unsigned events;
    int64_t platform_key = 0;
    if (!td__get_string(r, obj, "url", &url) || !td__get_string(r, obj, "secret", &secret) ||
        !td__get_int(r, obj, "platform_key", 0, INT64_MAX, &platform_key) ||
        !parse_events(r, obj, &events)) {
        json_decref(obj);
        return;
    }
    if (!url || !secret) {
        json_decref(obj);
        td__reply_error(r, 400, "missing_field", "'url' and 'secret' are required");
        return;
    }
    td_webhook w;
    td_error err;
    td_status st =
        td_webhook_create_as(r->svc, &r->who, url, secret, events, platform_key, &w, &err);
    json_decref(obj);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(r, 201, td__json_webhook(&w));
}

void td__h_webhook_delete(td__req *r)
{
    int64_t id = td__param_id(r, 0);
    if (id < 0)
        return;
    td_error err;
    td_status st = td_webhook_delete_as(r->svc, &r->who, id, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_text(r, 204, "application/json", "", 0);
}

void td__h_webhook_deliveries(td__req *r)
{
    int64_t id = td__param_id(r, 0), limit;
    if (id < 0 || !td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit))
        return;
    td_delivery *d = NULL;
    size_t n = 0;
    td_error err;
    td_webhook *hooks = NULL;
    size_t nh = 0;
    /* An unknown webhook is a 404, not an empty log. */
    td_status st = td_webhook_list(r->svc, &hooks, &nh, &err);
    int found = 0;
    for (size_t i = 0; st == TD_OK && i < nh; i++)
        found |= hooks[i].id == id;
    td_free(hooks);
    if (st == TD_OK && !found) {
        td__reply_error(r, 404, "not_found", "no webhook %lld", (long long)id);
        return;
    }
    if (st == TD_OK)
        st = td_delivery_list(r->svc, id, (size_t)limit, &d, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, td__json_delivery(&d[i]));
    td_free(d);
    td__reply_json(r, 200, json_pack("{s:o}", "deliveries", a));
}

void td__h_keys_list(td__req *r)
{
    td_key_info *k = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_key_list(r->svc, &k, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, td__json_key(&k[i]));
    td_free(k);
    td__reply_json(r, 200, json_pack("{s:o}", "keys", a));
}

void td__h_keys_create(td__req *r)
{
    static const char *const members[] = {"role", "name", "platform_key", NULL};
    json_t *obj = td__body_fields(r, members);
    if (!obj)
        return;
    const char *role = NULL, *name = NULL;
    int64_t platform_key = 0;
    if (!td__get_string(r, obj, "role", &role) || !td__get_string(r, obj, "name", &name) ||
        !td__get_int(r, obj, "platform_key", 0, INT64_MAX, &platform_key)) {
        json_decref(obj);
        return;
    }
    td_role rl;
    if (!role || td_role_parse(role, &rl) != TD_OK || !td__role_bit(rl)) {
        json_decref(obj);
        td__reply_error(
            r, 400, role ? "invalid_value" : "missing_field",
            "'role' must be admin, moderator, platform, auditor, authority, custodian or legal");
        return;
    }
    if (name && strlen(name) > TD_NAME_MAX) {
        json_decref(obj);
        td__reply_error(r, 400, "invalid_value", "'name' is longer than %d bytes", TD_NAME_MAX);
        return;
    }
    char key[TD_KEY_TEXT_MAX];
    td_key_info info;
    td_error err;
    td_status st = td_key_create_as(r->svc, &r->who, rl, name, platform_key, key, &info, &err);
    json_decref(obj);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *o = td__json_key(&info);
    if (o)
        json_object_set_new(o, "key", json_string(key));
    td__reply_json(r, 201, o);
}

void td__h_key_delete(td__req *r)
{
    int64_t id = td__param_id(r, 0);
    if (id < 0)
        return;
    td_error err;
    td_status st = td_key_revoke_as(r->svc, &r->who, id, &err);
    td__auth_cache_clear(r->srv->auth);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_text(r, 204, "application/json", "", 0);
}

void td__h_stats(td__req *r)
{
    td_service_stats s;
    td_error err;
    td_status st = td_service_get_stats(r->svc, &s, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_json(
        r, 200,
        json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:I,s:I,s:I,s:I,s:I,s:I,"
                  "s:I}",
                  "index", "pdq", (json_int_t)s.pdq_indexed, "md5", (json_int_t)s.md5_indexed,
                  "sha256", (json_int_t)s.sha256_indexed, "vpdq_videos", (json_int_t)s.vpdq_videos,
                  "vpdq_frames", (json_int_t)s.vpdq_frames, "raw_text", (json_int_t)s.text_indexed,
                  "url", (json_int_t)s.url_indexed, "url_rules", (json_int_t)s.url_rules,
                  "log_sequence", (json_int_t)s.log_sequence, "banks", (json_int_t)s.banks,
                  "signals", (json_int_t)s.signals, "cases_open", (json_int_t)s.cases_open,
                  "webhook_queue_depth", (json_int_t)s.queue_depth, "webhook_failures",
                  (json_int_t)s.webhook_failures, "webhook_dead", (json_int_t)s.webhook_dead,
                  "content", (json_int_t)s.content));
}
