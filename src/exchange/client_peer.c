/* The subscriber of another takedown instance's signed feed (docs/feeds.md): exchange type
 * "takedown", group = the publisher's bank, credentials {"api_key": a peer key made on the
 * publisher, "public_key": the publisher's feed key in hex, optionally "key_id"}.
 *
 * A page is verified against the pinned key before any of its changes is read: a page whose
 * bytes, bank, cursor range or signer differ from what was asked is refused whole
 * (TD__XFETCH_MALFORMED naming what failed), so that nothing from an altered or replayed page is
 * kept. The publisher's "stale cursor" answer (410) asks the framework for a full resync. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "exchange/feed_int.h"

#define URL_MAX 2048
#define DEFAULT_PAGE_BYTES ((uint64_t)64 << 20)

/* ---- the page parser (also the fuzz harness's entry) ---- */

static td_status bad(td_error *err, size_t i, const char *what)
{
    return td__error_set(err, TD_ERR_INVALID, "change %zu: %s", i, what);
}

static int wanted(unsigned types, const td_labels *tags, td_signal_type type,
                  const td_labels *labels)
{
    if (types && !(types & (1u << type)))
        return 0;
    if (!tags || tags->count == 0)
        return 1;
    for (int i = 0; i < tags->count; i++)
        for (int j = 0; j < labels->count; j++)
            if (strcmp(tags->v[i], labels->v[j]) == 0)
                return 1;
    return 0;
}

td_status td__feed_changes_parse(const char *changes, size_t len, unsigned types,
                                 const td_labels *tags, size_t max_items, td__xpage *page,
                                 td_error *err)
{
    json_error_t je;
    td_status st = TD_OK;
    if (!max_items || max_items > TD_FEED_PAGE_MAX)
        max_items = TD_FEED_PAGE_MAX;
    json_t *a = json_loadb(changes, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_array(a)) {
        json_decref(a);
        return td__error_set(err, TD_ERR_INVALID, "changes: not a JSON array");
    }
    if (json_array_size(a) > max_items) {
        json_decref(a);
        return td__error_set(err, TD_ERR_LIMIT, "changes: more than %zu", max_items);
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *c = json_array_get(a, i), *v;
        td__xitem it;
        td_labels tags_of;
        const char *op, *type, *value;
        memset(&it, 0, sizeof it);
        tags_of.count = 0;
        if (!json_is_object(c)) {
            st = bad(err, i, "not an object");
            break;
        }
        op = json_string_value(json_object_get(c, "op"));
        type = json_string_value(json_object_get(c, "type"));
        v = json_object_get(c, "value");
        value = json_string_value(v);
        json_t *id = json_object_get(c, "id");
        if (!op || (strcmp(op, "add") != 0 && strcmp(op, "remove") != 0)) {
            st = bad(err, i, "'op' must be \"add\" or \"remove\"");
            break;
        }
        it.remove = op[0] == 'r';
        if (!json_is_integer(id) || json_integer_value(id) <= 0) {
            st = bad(err, i, "'id' must be a positive integer");
            break;
        }
        snprintf(it.external_id, sizeof it.external_id, "%lld", (long long)json_integer_value(id));
        if (!type || td_signal_type_parse(type, strlen(type), &it.type) != TD_OK) {
            st = bad(err, i, "'type' is not a signal type");
            break;
        }
        if (!value || json_string_length(v) > TD_SIGNAL_BODY_MAX) {
            st = bad(err, i, "'value' must be a string (a hash, or a body up to its cap)");
            break;
        }
        json_t *labels = json_object_get(c, "labels");
        if (labels && !json_is_array(labels)) {
            st = bad(err, i, "'labels' must be an array");
            break;
        }
        for (size_t j = 0; j < json_array_size(labels); j++) {
            const char *l = json_string_value(json_array_get(labels, j));
            td_error ignored;
            /* Invalid labels are dropped. */
            if (l && tags_of.count < TD_LABELS_MAX && td_labels_add(&tags_of, l, &ignored))
                continue;
        }
        if (!it.remove && !wanted(types, tags, it.type, &tags_of)) {
            page->skipped++;
            continue;
        }
        /* A removal of a body signal carries the body's SHA-256, not the body (it is deleted
         * with the signal): the framework retracts by that digest, the signal's stored value. */
        it.digest = it.remove && td_signal_type_has_body(it.type);
        if ((st = td__xpage_add(page, &it, &tags_of, value, json_string_length(v), max_items, err)))
            break;
    }
    json_decref(a);
    if (st) {
        uint64_t skipped = page->skipped;
        td__xpage_clear(page);
        page->skipped = skipped;
    }
    return st;
}

td_status td__feed_page_parse(const char *json, size_t len, const td_feed_expect *expect,
                              unsigned types, const td_labels *tags, size_t max_items,
                              td__xpage *page, td_error *err)
{
    td_feed_page fp;
    td_status st = td_feed_page_verify(json, len, expect, &fp, err);
    if (st)
        return st;
    if ((st = td__feed_changes_parse(fp.changes, fp.changes_len, types, tags, max_items, page,
                                     err)) == TD_OK) {
        if (page->n + page->skipped != fp.count) {
            td__xpage_clear(page);
            st = td__error_set(err, TD_ERR_INVALID, "page: %zu changes, the page says %zu",
                               (size_t)(page->n + page->skipped), fp.count);
        } else {
            snprintf(page->checkpoint, sizeof page->checkpoint, "%s", fp.to);
            page->more = fp.more;
        }
    }
    td_feed_page_clear(&fp);
    return st;
}

/* ---- the client ---- */

/* Percent-encodes s into out (cap bytes); 0 when it does not fit. */
static int escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == ':';
        if (n + (plain ? 1 : 3) >= cap)
            return 0;
        if (plain) {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = '\0';
    return 1;
}

/* The feed URL of x, with suffix after the bank ("" or "/opinions") and a query (may be ""). */
static td_status feed_url(const td__xconn *x, const char *suffix, const char *query, char *url,
                          size_t cap, td_error *err)
{
    char bank[3 * TD_NAME_MAX + 1];
    size_t base = strlen(x->base_url ? x->base_url : "");
    while (base && x->base_url[base - 1] == '/')
        base--;
    if (!x->group || !*x->group || !escape(x->group, bank, sizeof bank))
        return td__error_set(err, TD_ERR_INVALID,
                             "a takedown exchange needs its group: the "
                             "publisher's bank name");
    int w = snprintf(url, cap, "%.*s/v1/feeds/%s%s%s", (int)base, x->base_url ? x->base_url : "",
                     bank, suffix, query);
    if (w < 0 || (size_t)w >= cap)
        return td__error_set(err, TD_ERR_LIMIT, "feed URL too long");
    return td__http_url_check("exchange URL", url, URL_MAX, NULL, 0, err);
}

typedef struct creds {
    const char *api_key;
    uint8_t pk[32];
    const char *key_id;
} creds;

static td_status read_creds(const td__xconn *x, creds *c, td_error *err)
{
    const char *pk = json_string_value(json_object_get(x->credentials, "public_key"));
    c->api_key = json_string_value(json_object_get(x->credentials, "api_key"));
    c->key_id = json_string_value(json_object_get(x->credentials, "key_id"));
    if (!c->api_key || !*c->api_key || strlen(c->api_key) > 512 || strpbrk(c->api_key, "\r\n"))
        return td__error_set(err, TD_ERR_INVALID,
                             "credentials: 'api_key' (a peer key of the "
                             "publisher) is required");
    if (!pk || td__hex_decode_exact(pk, strlen(pk), c->pk, 32) != 0)
        return td__error_set(err, TD_ERR_INVALID,
                             "credentials: 'public_key' must be the "
                             "publisher's feed key, 64 hex digits");
    return TD_OK;
}

static td__xfetch outcome_of(td__http_result hr, long status)
{
    if (hr == TD__HTTP_TIMEOUT || hr == TD__HTTP_FAILED || hr == TD__HTTP_NOMEM)
        return TD__XFETCH_RETRY;
    if (hr == TD__HTTP_TOO_LARGE)
        return TD__XFETCH_MALFORMED;
    if (hr != TD__HTTP_OK)
        return TD__XFETCH_FAILED;
    if (status == 429 || status >= 500)
        return TD__XFETCH_RETRY;
    if (status == 401 || status == 403)
        return TD__XFETCH_AUTH;
    return status >= 200 && status < 300 ? TD__XFETCH_OK : TD__XFETCH_FAILED;
}

static td_status peer_fetch(td__xconn *x, const char *checkpoint, td__xpage *page, td_error *err)
{
    char url[URL_MAX + 1], query[64 + 3 * TD_FEED_CURSOR_MAX], cur[3 * TD_FEED_CURSOR_MAX + 1],
        auth[600];
    creds c;
    td_status st;
    td__xpage_clear(page);
    x->outcome = TD__XFETCH_FAILED;
    x->last_status = 0;
    x->retry_after_ms = 0;
    if (!checkpoint)
        checkpoint = "";
    if (strlen(checkpoint) > TD_FEED_CURSOR_MAX || !escape(checkpoint, cur, sizeof cur))
        return td__error_set(err, TD_ERR_INVALID, "checkpoint is not a feed cursor");
    size_t limit = x->page_size ? x->page_size : TD_FEED_PAGE_DEFAULT;
    if (x->max_items && limit > x->max_items)
        limit = x->max_items;
    if (limit > TD_FEED_PAGE_MAX)
        limit = TD_FEED_PAGE_MAX;
    snprintf(query, sizeof query, "?after=%s&limit=%zu", cur, limit);
    if ((st = read_creds(x, &c, err)) || (st = feed_url(x, "", query, url, sizeof url, err)))
        return st;
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c.api_key);
    const char *headers[] = {auth, "Accept: application/json", NULL};
    td__http_options o = x->http;
    o.keep_body = 1;
    o.error_body = 1;
    if (!o.max_bytes)
        o.max_bytes = DEFAULT_PAGE_BYTES;
    td__http_request rq = {"GET", url, headers, NULL, 0};
    td__http_response resp;
    td__http_result hr = td__http_send(&o, &rq, &resp, err);
    x->last_status = resp.status;
    x->outcome = outcome_of(hr, resp.status);
    page->bytes = resp.len;
    if (hr == TD__HTTP_OK && resp.status == 410) {
        /* The publisher no longer knows the cursor: start again from the beginning. */
        page->resync = 1;
        x->outcome = TD__XFETCH_OK;
        td__http_response_free(&resp);
        return TD_OK;
    }
    if (x->outcome != TD__XFETCH_OK) {
        st = hr != TD__HTTP_OK
                 ? (err && err->code ? err->code : TD_ERR_IO)
                 : td__error_set(err, TD_ERR_IO, "the publisher answered %ld", resp.status);
        if (hr == TD__HTTP_TOO_LARGE)
            st = td__error_set(err, TD_ERR_LIMIT, "page over %llu bytes",
                               (unsigned long long)o.max_bytes);
        td__http_response_free(&resp);
        return st;
    }
    crypto_hash_sha256(page->sha256, resp.body, resp.len);
    td_feed_expect ex = {x->group, checkpoint, c.pk, c.key_id};
    st = td__feed_page_parse((const char *)resp.body, resp.len, &ex, x->types, &x->tags,
                             x->max_items, page, err);
    if (st) {
        x->outcome = TD__XFETCH_MALFORMED;
        uint8_t sha[32];
        memcpy(sha, page->sha256, 32);
        td__xpage_clear(page);
        memcpy(page->sha256, sha, 32);
    }
    page->bytes = resp.len;
    td__http_response_free(&resp);
    return st;
}

static td_status peer_react(td__xconn *x, const char *external_id, const char *reaction,
                            td_error *err)
{
    const char *opinion;
    char url[URL_MAX + 1], auth[600], *end = NULL;
    creds c;
    td_status st;
    if (!reaction)
        return td__error_set(err, TD_ERR_INVALID, "no reaction");
    if (strcmp(reaction, "SAW_THIS_TOO") == 0)
        opinion = "seen";
    else if (strcmp(reaction, "HELPFUL") == 0)
        opinion = "true_positive";
    else if (strcmp(reaction, "DISAGREE_WITH_TAGS") == 0 || strcmp(reaction, "NOT_HELPFUL") == 0)
        opinion = "false_positive";
    else
        return td__error_set(err, TD_ERR_INVALID, "reaction '%s' has no feed opinion", reaction);
    long long id = external_id ? strtoll(external_id, &end, 10) : 0;
    if (!external_id || !*external_id || *end || id <= 0)
        return td__error_set(err, TD_ERR_INVALID, "external id '%s' is not a publisher's signal id",
                             external_id ? external_id : "");
    if ((st = read_creds(x, &c, err)) || (st = feed_url(x, "/opinions", "", url, sizeof url, err)))
        return st;
    char body[128];
    int blen = snprintf(body, sizeof body,
                        "{\"opinions\":[{\"signal_id\":%lld,\"opinion\":\"%s\"}]}", id, opinion);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c.api_key);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    td__http_options o = x->http;
    o.keep_body = 0;
    o.error_body = 0;
    td__http_request rq = {"POST", url, headers, body, (size_t)blen};
    td__http_response resp;
    td__http_result hr = td__http_send(&o, &rq, &resp, err);
    x->last_status = resp.status;
    x->outcome = outcome_of(hr, resp.status);
    td__http_response_free(&resp);
    if (hr != TD__HTTP_OK)
        return err && err->code ? err->code : TD_ERR_IO;
    if (x->last_status < 200 || x->last_status > 299)
        return td__error_set(err, TD_ERR_IO, "the publisher answered %ld to the opinion",
                             x->last_status);
    return TD_OK;
}

const td__xclient td__xclient_takedown = {"takedown", peer_fetch, peer_react, NULL};
