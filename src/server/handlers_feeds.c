/* Signed feeds to other takedown instances (docs/feeds.md, feeds.h): the feed key (public), a
 * bank's signed pages (peer keys, and admins to look), the opinions peers send back and their
 * counts per signal (moderators, auditors). */
#include <jansson.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hex.h"
#include "server/handlers_feeds.h"
#include "server/serialize.h"

static td_feeds *feeds_or_503(td__req *r)
{
    td_feeds *f = td__req_feeds(r);
    if (!f)
        td__reply_error(r, 503, "unavailable", "feeds are not available (see the log)");
    return f;
}

/* GET /v1/feeds/keys (public): the key a subscriber pins. */
void td__h_feed_keys(td__req *r)
{
    td_feeds *f = feeds_or_503(r);
    if (!f)
        return;
    uint8_t pk[32];
    char id[TD_FEED_KEY_ID_LEN + 1], hex[65];
    td_feeds_public_key(f, pk, id);
    td__hex_encode(pk, 32, hex);
    td__reply_json(r, 200,
                   json_pack("{s:[{s:s, s:s, s:s}]}", "keys", "key_id", id, "algorithm", "ed25519",
                             "public_key", hex));
}

/* GET /v1/feeds/{bank}?after=&limit= (peer, admin): one signed page. */
void td__h_feed_page(td__req *r)
{
    td_feeds *f = feeds_or_503(r);
    if (!f)
        return;
    int64_t limit;
    const char *after = td__query(r, "after");
    if (!td__query_int(r, "limit", 1, TD_FEED_PAGE_MAX, TD_FEED_PAGE_DEFAULT, &limit))
        return;
    if (after)
        after = td__query_decode(&r->arena, after);
    td_feed_page page;
    td_error err;
    td_status st = td_feed_read(f, r->params[0], after ? after : "", (size_t)limit, &page, &err);
    if (st == TD_ERR_CONFLICT) {
        td__reply_error(r, 410, "cursor_stale", "%s", err.message);
        return;
    }
    if (st == TD_ERR_INVALID) {
        td__reply_error(r, 400, "invalid_cursor", "%s", err.message);
        return;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    char *text;
    size_t len;
    st = td_feed_page_json(&page, &text, &len, &err);
    td_feed_page_clear(&page);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    td__reply_take(r, 200, "application/json", text, len);
}

/* Replies 400 unknown_field naming the first member of obj not in names (NULL-ended). */
static int only_members(td__req *r, json_t *obj, const char *const *names, const char *where)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int known = 0;
        for (size_t i = 0; names[i] && !known; i++)
            known = strcmp(key, names[i]) == 0;
        if (!known) {
            char safe[128], field[192];
            td__safe_text(safe, sizeof safe, key, strlen(key));
            snprintf(field, sizeof field, "%s%s", where, safe);
            td__reply_json(r, 400,
                           json_pack("{s:{s:s, s:s, s:s}}", "error", "code", "unknown_field",
                                     "field", field, "message",
                                     "this member is not part of the request"));
            return 0;
        }
        (void)v;
    }
    return 1;
}

static const char *const result_names[] = {NULL, "stored", "unchanged", "not_found"};

/* POST /v1/feeds/{bank}/opinions (peer): {"opinions": [{"signal_id", "opinion"}]}. */
void td__h_feed_opinions_add(td__req *r)
{
    static const char *const top[] = {"opinions", NULL};
    static const char *const item[] = {"signal_id", "opinion", NULL};
    td_feeds *f = feeds_or_503(r);
    if (!f)
        return;
    json_t *b = td__body_object(r);
    if (!b)
        return;
    json_t *a = json_object_get(b, "opinions");
    td_feed_opinion_input *in = NULL;
    td_feed_opinion_result *res = NULL;
    if (!only_members(r, b, top, ""))
        goto out;
    if (!json_is_array(a) || json_array_size(a) == 0) {
        td__reply_error(r, 400, "invalid", "'opinions' must be a non-empty array");
        goto out;
    }
    if (json_array_size(a) > TD_FEED_OPINIONS_MAX) {
        td__reply_error(r, 413, "limit", "at most %d opinions at a time", TD_FEED_OPINIONS_MAX);
        goto out;
    }
    size_t n = json_array_size(a);
    in = td__arena_alloc(&r->arena, n * sizeof *in);
    res = td__arena_alloc(&r->arena, n * sizeof *res);
    if (!in || !res) {
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i), *id = json_object_get(o, "signal_id");
        char where[48];
        snprintf(where, sizeof where, "opinions[%zu].", i);
        if (!json_is_object(o)) {
            td__reply_error(r, 400, "invalid", "opinions[%zu] must be an object", i);
            goto out;
        }
        if (!only_members(r, o, item, where))
            goto out;
        if (!json_is_integer(id) || json_integer_value(id) <= 0) {
            td__reply_error(r, 400, "invalid", "opinions[%zu].signal_id must be a positive integer",
                            i);
            goto out;
        }
        in[i].signal_id = json_integer_value(id);
        if (td_feed_opinion_parse(json_string_value(json_object_get(o, "opinion")),
                                  &in[i].opinion) != TD_OK) {
            td__reply_error(r, 400, "invalid",
                            "opinions[%zu].opinion must be \"seen\", \"true_positive\" or "
                            "\"false_positive\"",
                            i);
            goto out;
        }
    }
    td_error err;
    td_status st = td_feed_opinions_add(f, &r->who, r->params[0], in, n, res, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        goto out;
    }
    json_t *results = json_array();
    for (size_t i = 0; results && i < n; i++)
        json_array_append_new(results,
                              json_pack("{s:I, s:s, s:s}", "signal_id", (json_int_t)in[i].signal_id,
                                        "opinion", td_feed_opinion_name(in[i].opinion), "result",
                                        result_names[res[i]]));
    td__reply_json(r, 200, results ? json_pack("{s:o}", "results", results) : NULL);
out:
    json_decref(b);
}

json_t *td__json_opinion_counts(const td_feed_opinion_counts *c)
{
    json_t *o = json_object();
    for (int k = 1; o && k <= TD_FEED_OPINION_KINDS; k++)
        json_object_set_new(o, td_feed_opinion_name((td_feed_opinion)k),
                            json_integer((json_int_t)c->count[k]));
    return o;
}

/* GET /v1/feeds/{bank}/opinions?after=&limit= (admin, moderator, auditor). */
void td__h_feed_opinions_list(td__req *r)
{
    td_feeds *f = feeds_or_503(r);
    if (!f)
        return;
    int64_t after, limit;
    if (!td__query_int(r, "after", 0, INT64_MAX, 0, &after) ||
        !td__query_int(r, "limit", 1, TD_PAGE_MAX, 100, &limit))
        return;
    td_feed_opinion_counts *c = NULL;
    size_t n = 0;
    td_error err;
    td_status st = td_feed_opinions_list(f, r->params[0], after, (size_t)limit, &c, &n, &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:I, s:o, s:I}", "signal_id", (json_int_t)c[i].signal_id, "opinions",
                         td__json_opinion_counts(&c[i]), "last_ms", (json_int_t)c[i].last_ms));
    td_free(c);
    td__reply_json(r, 200,
                   a ? json_pack("{s:o, s:b}", "signals", a, "more", n == (size_t)limit) : NULL);
}

/* GET /v1/banks/{name}/signals/{id} (admin, moderator, auditor): one signal, with the opinions
 * peers sent on it. */
void td__h_signal_get(td__req *r)
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
    json_t *j = td__json_signal(&s);
    td_feed_opinion_counts c;
    td_feeds *f = td__req_feeds(r);
    if (j && f && td_feed_opinions_of(f, id, &c, &err) == TD_OK)
        json_object_set_new(j, "opinions", td__json_opinion_counts(&c));
    td__reply_json(r, 200, j);
}
