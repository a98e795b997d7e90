/* The upload path (POST /v1/check) and asynchronous intake (POST /v1/content). Both accept either
 * the media bytes themselves (any Content-Type but application/json; hashed by the server: an
 * image or a video), text (text/plain: checked against raw_text signals), or a JSON object with
 * what the platform computed: hashes, a video's vPDQ frames, the content's text and the URLs it
 * contains. A hash that does not parse is a 400 naming the field; media that does not decode is
 * a 422. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/serialize.h"
#include "server/server_int.h"
#include "takedown/text.h"
#include "takedown/url.h"

/* Reads one hex hash member into out (normalised); 0 and a 400 when malformed. */
static int parse_digest(td__req *r, json_t *obj, const char *name, td_signal_type type, char *out)
{
    const char *v = NULL;
    if (!td__get_string(r, obj, name, &v))
        return 0;
    if (!v)
        return 1;
    char norm[65];
    td_error err;
    if (td_signal_value_normalize(type, v, strlen(v), norm, &err) != TD_OK) {
        td__reply_error(r, 400, "invalid_hash", "'%s': %s", name, err.message);
        return 0;
    }
    memcpy(out, norm, strlen(norm) + 1);
    return 1;
}

static int parse_pdq(td__req *r, json_t *v, td_pdq *out)
{
    const char *s = json_string_value(v);
    if (!s || td_pdq_from_hex(s, json_string_length(v), out) != TD_OK) {
        td__reply_error(r, 400, "invalid_hash", "'pdq' must be 64 hex digits");
        return 0;
    }
    return 1;
}

/* What a JSON check borrows into td_hashes: the vPDQ frames and the URL pointers (strings stay
 * in the JSON object, which must outlive the check). */
typedef struct body_inputs {
    td_vpdq vpdq;
    const char *urls[TD_CHECK_URLS_MAX];
} body_inputs;

/* "text" and "urls" into h (borrowed from obj). */
static int parse_text_urls(td__req *r, json_t *obj, td_hashes *h, body_inputs *b)
{
    json_t *text = json_object_get(obj, "text"), *urls = json_object_get(obj, "urls");
    if (text && !json_is_null(text)) {
        if (!json_is_string(text)) {
            td__reply_error(r, 400, "invalid_type", "'text' must be a string");
            return 0;
        }
        if (json_string_length(text) > TD_TEXT_MAX_BYTES) {
            td__reply_error(r, 413, "too_large", "'text' is longer than %zu bytes",
                            TD_TEXT_MAX_BYTES);
            return 0;
        }
        h->text = json_string_value(text);
        h->text_len = json_string_length(text);
    }
    if (urls && !json_is_null(urls)) {
        if (!json_is_array(urls) || json_array_size(urls) > TD_CHECK_URLS_MAX) {
            td__reply_error(r, 400, "invalid_type", "'urls' must be an array of at most %d strings",
                            TD_CHECK_URLS_MAX);
            return 0;
        }
        for (size_t i = 0; i < json_array_size(urls); i++) {
            json_t *u = json_array_get(urls, i);
            if (!json_is_string(u) || json_string_length(u) == 0 ||
                json_string_length(u) > TD_URL_MAX) {
                td__reply_error(r, 400, "invalid_url", "'urls'[%zu] must be a URL of 1..%d bytes",
                                i, TD_URL_MAX);
                return 0;
            }
            b->urls[i] = json_string_value(u);
        }
        h->urls = b->urls;
        h->n_urls = json_array_size(urls);
    }
    return 1;
}

/* {"pdq": "<hex>" | ["<hex>" x1 or x8], "md5", "sha256", "quality", "vpdq", "text", "urls"}
 * into h; b holds what h borrows. */
static int parse_hashes(td__req *r, json_t *obj, td_hashes *h, body_inputs *b)
{
    td_hashes_init(h);
    json_t *pdq = json_object_get(obj, "pdq");
    if (pdq && json_is_string(pdq)) {
        if (!parse_pdq(r, pdq, &h->pdq[0]))
            return 0;
        h->n_pdq = 1;
    } else if (pdq && json_is_array(pdq)) {
        size_t n = json_array_size(pdq);
        if (n != 1 && n != TD_DIH_COUNT) {
            td__reply_error(r, 400, "invalid_hash",
                            "'pdq' must be one hash or the %d dihedral "
                            "variants in order",
                            TD_DIH_COUNT);
            return 0;
        }
        for (size_t i = 0; i < n; i++)
            if (!parse_pdq(r, json_array_get(pdq, i), &h->pdq[i]))
                return 0;
        h->n_pdq = (int)n;
    } else if (pdq && !json_is_null(pdq)) {
        td__reply_error(r, 400, "invalid_type", "'pdq' must be a string or an array of strings");
        return 0;
    }
    int64_t quality = -1;
    if (!td__get_int(r, obj, "quality", 0, 100, &quality) ||
        !parse_digest(r, obj, "md5", TD_SIGNAL_MD5, h->md5) ||
        !parse_digest(r, obj, "sha256", TD_SIGNAL_SHA256, h->sha256))
        return 0;
    h->quality = (int)quality;
    json_t *vpdq = json_object_get(obj, "vpdq");
    if (vpdq && !json_is_null(vpdq)) {
        if (!td__parse_vpdq(r, vpdq, "vpdq", &b->vpdq))
            return 0;
        h->vpdq = &b->vpdq;
    }
    if (!parse_text_urls(r, obj, h, b))
        return 0;
    if (h->n_pdq == 0 && !h->md5[0] && !h->sha256[0] && !h->vpdq && !h->text && !h->n_urls) {
        td__reply_error(r, 400, "missing_field",
                        "give at least one of 'pdq', 'md5', 'sha256', 'vpdq', 'text', 'urls'");
        return 0;
    }
    return 1;
}

/* A text/plain body: the content's text. */
static int body_is_text(const td__req *r)
{
    const char *ct = r->content_type;
    return ct && strncasecmp(ct, "text/plain", 10) == 0 && (ct[10] == '\0' || ct[10] == ';');
}

/* The members of a hashes object (parse_hashes). */
#define HASH_MEMBERS "pdq", "md5", "sha256", "quality", "vpdq", "text", "urls"
static const char *const hash_members[] = {HASH_MEMBERS, NULL};

/* The hashes object of a check's JSON body: obj["hashes"] when present (then the hashes may not
 * also be at the top level), else obj itself. Every member is one the check reads. */
static json_t *hashes_object(td__req *r, json_t *obj)
{
    static const char *const flat[] = {HASH_MEMBERS, "dihedral", "max_matches", "min_quality",
                                       NULL};
    static const char *const nested[] = {"hashes", "dihedral", "max_matches", "min_quality", NULL};
    json_t *h = json_object_get(obj, "hashes");
    if (!h)
        return td__only_members(r, obj, flat) ? obj : NULL;
    if (!json_is_object(h)) {
        td__reply_error(r, 400, "invalid_type", "'hashes' must be an object");
        return NULL;
    }
    if (!td__only_members(r, obj, nested) || !td__only_members_at(r, h, "hashes", hash_members))
        return NULL;
    return h;
}

void td__h_check(td__req *r)
{
    td_check_options opts;
    td_check_options_init(&opts);
    td_check_result res;
    td_error err;
    td_status st;
    memset(&res, 0, sizeof res);
    static const char *const media_query[] = {"dihedral", "max_matches", NULL};
    if (td__body_is_json(r)) {
        if (!td__refuse_query(r, media_query, "with a JSON body: give it in the body"))
            return;
        json_t *obj = td__body_object(r);
        if (!obj)
            return;
        json_t *hobj = hashes_object(r, obj);
        int dihedral = opts.dihedral;
        int64_t max_matches = (int64_t)opts.max_matches, min_quality = opts.min_quality;
        td_hashes h;
        body_inputs b;
        memset(&b, 0, sizeof b);
        if (!hobj || !parse_hashes(r, hobj, &h, &b) ||
            !td__get_bool(r, obj, "dihedral", &dihedral) ||
            !td__get_int(r, obj, "max_matches", 1, TD_PAGE_MAX, &max_matches) ||
            !td__get_int(r, obj, "min_quality", 0, 100, &min_quality)) {
            td_vpdq_clear(&b.vpdq);
            json_decref(obj);
            return;
        }
        opts.dihedral = dihedral;
        opts.max_matches = (size_t)max_matches;
        opts.min_quality = (int)min_quality;
        st = td_check_hashes(r->svc, &h, &opts, &res, &err);
        td_vpdq_clear(&b.vpdq);
        json_decref(obj);
    } else if (body_is_text(r)) {
        static const char *const text_only[] = {"dihedral", NULL};
        int64_t max_matches;
        if (!td__refuse_query(r, text_only, "with a text body (it applies to images)") ||
            !td__query_int(r, "max_matches", 1, TD_PAGE_MAX, (int64_t)opts.max_matches,
                           &max_matches))
            return;
        opts.max_matches = (size_t)max_matches;
        td_hashes h;
        td_hashes_init(&h);
        h.text = (const char *)r->body;
        h.text_len = r->body_len;
        st = td_check_hashes(r->svc, &h, &opts, &res, &err);
    } else {
        int64_t dihedral, max_matches;
        if (!td__query_int(r, "dihedral", 0, 1, opts.dihedral, &dihedral) ||
            !td__query_int(r, "max_matches", 1, TD_PAGE_MAX, (int64_t)opts.max_matches,
                           &max_matches))
            return;
        if (r->body_len == 0) {
            td__reply_error(r, 400, "empty_body",
                            "the body must be media bytes or a JSON "
                            "object with hashes");
            return;
        }
        opts.dihedral = (int)dihedral;
        opts.max_matches = (size_t)max_matches;
        st = td_check_media(r->svc, r->body, r->body_len, &opts, &res, &err);
    }
    if (st != TD_OK) {
        td_check_result_clear(&res);
        td__reply_status(r, st, &err);
        return;
    }
    json_t *o = td__json_check(&res);
    td_check_result_clear(&res);
    td__reply_json(r, 200, o);
}

static void content_reply(td__req *r, td_content_input *in)
{
    td_content out;
    td_error err;
    memset(&out, 0, sizeof out);
    /* A platform key owns what it submits (docs/api.md, "Scoping"). */
    in->platform_key = td_principal_platform(&r->who);
    td_status st = td_content_submit(r->svc, in, &out, &err);
    if (st != TD_OK) {
        td_content_clear(&out);
        td__reply_status(r, st, &err);
        return;
    }
    json_t *o = td__json_content(&out);
    td_content_clear(&out);
    td__reply_json(r, 201, o);
}

void td__h_content_submit(td__req *r)
{
    td_content_input in;
    memset(&in, 0, sizeof in);
    if (!td__body_is_json(r)) {
        int64_t time_ms;
        if (!td__query_int(r, "time_ms", 0, INT64_MAX, 0, &time_ms))
            return;
        in.content_id = td__query(r, "content_id");
        in.uploader = td__query(r, "uploader");
        in.url = td__query(r, "url");
        in.time_ms = time_ms;
        if (!in.content_id || !*in.content_id) {
            td__reply_error(r, 400, "missing_field",
                            "the query argument 'content_id' is "
                            "required with a media body");
            return;
        }
        if (r->body_len == 0) {
            td__reply_error(r, 400, "empty_body",
                            "the body must be media bytes or a JSON "
                            "object");
            return;
        }
        td_hashes text;
        if (body_is_text(r)) {
            /* a post's text: checked against raw_text signals */
            td_hashes_init(&text);
            text.text = (const char *)r->body;
            text.text_len = r->body_len;
            in.hashes = &text;
        } else {
            in.media = r->body;
            in.media_len = r->body_len;
        }
        content_reply(r, &in);
        return;
    }
    static const char *const media_query[] = {"content_id", "uploader", "url", "time_ms", NULL};
    static const char *const members[] = {"content_id", "uploader", "url", "time_ms",
                                          "hashes",     "metadata", NULL};
    if (!td__refuse_query(r, media_query, "with a JSON body: give it in the body"))
        return;
    json_t *obj = td__body_fields(r, members);
    if (!obj)
        return;
    int64_t time_ms = 0;
    td_hashes h;
    body_inputs b;
    char *meta = NULL;
    memset(&b, 0, sizeof b);
    json_t *hobj = json_object_get(obj, "hashes"), *mobj = json_object_get(obj, "metadata");
    if (!td__get_string(r, obj, "content_id", &in.content_id) ||
        !td__get_string(r, obj, "uploader", &in.uploader) ||
        !td__get_string(r, obj, "url", &in.url) ||
        !td__get_int(r, obj, "time_ms", 0, INT64_MAX, &time_ms))
        goto done;
    if (!in.content_id || !*in.content_id) {
        td__reply_error(r, 400, "missing_field", "'content_id' is required");
        goto done;
    }
    if (!hobj || !json_is_object(hobj)) {
        td__reply_error(r, 400, hobj ? "invalid_type" : "missing_field",
                        "'hashes' (an object) is required with a JSON body; send media bytes "
                        "with ?content_id= otherwise");
        goto done;
    }
    if (!td__only_members_at(r, hobj, "hashes", hash_members) || !parse_hashes(r, hobj, &h, &b))
        goto done;
    if (mobj && !json_is_null(mobj)) {
        if (!json_is_object(mobj)) {
            td__reply_error(r, 400, "invalid_type", "'metadata' must be an object");
            goto done;
        }
        meta = json_dumps(mobj, JSON_COMPACT);
        if (!meta) {
            td__reply_error(r, 503, "out_of_memory", "out of memory");
            goto done;
        }
    }
    in.time_ms = time_ms;
    in.hashes = &h;
    in.metadata_json = meta;
    content_reply(r, &in);
done:
    free(meta); /* allocated by jansson */
    td_vpdq_clear(&b.vpdq);
    json_decref(obj);
}

void td__h_content_get(td__req *r)
{
    td_content c;
    td_error err;
    memset(&c, 0, sizeof c);
    td_status st = td_content_get_as(r->svc, &r->who, r->params[0], &c, &err);
    if (st != TD_OK) {
        td_content_clear(&c);
        td__reply_status(r, st, &err);
        return;
    }
    json_t *o = td__json_content(&c);
    td_content_clear(&c);
    td__reply_json(r, 200, o);
}
