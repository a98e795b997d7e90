/* The upload path (POST /v1/check) and asynchronous intake (POST /v1/content). Both accept either
 * the media bytes themselves (any Content-Type but application/json; hashed by the server: an
 * image or a video), text (text/plain: checked against raw_text signals), or a JSON object with
 * what the platform computed: hashes, a video's vPDQ frames, the content's text and the URLs it
 * contains. A hash that does not parse is a 400 naming the field; media that does not decode is
 * a 422. POST /v1/content also takes a multipart/form-data body whose files are the content's
 * media and its further parts (a post's images).
 *
 * Content whose case goes to review keeps a review copy of the bytes it came with
 * (review_media.h): GET /v1/content/{id} describes it ("media"), GET /v1/content/{id}/media
 * answers its bytes to moderators, each read audited. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/timefmt.h"
#include "server/multipart.h"
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
    td__metrics_matches(r->srv ? r->srv->metrics : NULL, res.matches, res.match_count);
    json_t *o = td__json_check(&res);
    td_check_result_clear(&res);
    td__reply_json(r, 200, o);
}

/* ---- review copies (review_media.h) ---- */

static json_t *time_or_null(int64_t ms)
{
    char t[40];
    if (ms <= 0 || td__time_format(ms, TD__TIME_SHORT, t, sizeof t) == 0)
        return json_null();
    return json_string(t);
}

/* Why nothing is kept for content c (no record): the server's setting, or what it came with. */
static const char *none_reason(td_review_media *rm, const td_review_media_options *o,
                               const td_content *c)
{
    if (!rm)
        return "review copies are not available on this server (see its log)";
    if (!o->enabled)
        return "review copies are off (review_media = 0)";
    if (!c->has_case)
        return "no review case was opened when it was received";
    return "no media bytes were received with it (hashes, text or URLs only)";
}

/* The content's "media" object; failure (may be NULL) says why a copy just attempted was not
 * written; lookup 0: no copy can exist (content just received without one being attempted),
 * the store is not asked. */
static json_t *media_json(td__req *r, const td_content *c, const char *failure, int lookup)
{
    td_review_media *rm = td__req_review_media(r);
    td_review_media_info info;
    td_review_media_options o;
    td_error err;
    memset(&info, 0, sizeof info);
    td_review_media_options_default(&o);
    td_status st = TD_OK;
    if (rm) {
        int64_t on = 1;
        if (td_config_int(r->srv->opts.config, "review_media", &on, NULL) == TD_OK)
            o.enabled = on != 0;
        if (lookup)
            st = td_review_media_get(rm, c->content_id, &info, &err);
    }
    if (st != TD_OK || !info.exists) {
        const char *why = failure ? failure
                          : st    ? "the review copy's record could not be read"
                                  : none_reason(rm, &o, c);
        return json_pack("{s:b, s:n, s:I, s:I, s:s, s:n, s:s, s:[]}", "kept", 0, "content_type",
                         "bytes", (json_int_t)0, "parts", (json_int_t)0, "state", "none",
                         "delete_after", "reason", why, "items");
    }
    const td_review_media_item *main = info.n_items ? &info.items[0] : NULL;
    json_t *items = json_array();
    const char *reason = NULL;
    for (size_t i = 0; i < info.n_items; i++) {
        const td_review_media_item *it = &info.items[i];
        json_array_append_new(items, json_pack("{s:i, s:s, s:I, s:s, s:b, s:s?}", "part", it->part,
                                               "content_type", it->content_type, "bytes",
                                               (json_int_t)it->bytes, "sha256", it->sha256, "kept",
                                               it->kept, "reason", it->kept ? NULL : it->reason));
        if (!it->kept && !reason)
            reason = it->reason;
    }
    int kept = info.state == TD_REVIEW_MEDIA_KEPT || info.state == TD_REVIEW_MEDIA_SEALING;
    if (info.state == TD_REVIEW_MEDIA_DELETED)
        reason = "deleted after its case was closed";
    else if (info.state == TD_REVIEW_MEDIA_PRESERVED)
        reason = "sealed into the evidence store after removal, then deleted here";
    json_t *o2 = json_pack(
        "{s:b, s:s, s:I, s:I, s:s, s:o, s:s?, s:o, s:o, s:o}", "kept", kept, "content_type",
        main ? main->content_type : "application/octet-stream", "bytes",
        (json_int_t)(main ? main->bytes : 0), "parts",
        (json_int_t)(info.n_items ? info.n_items - 1 : 0), "state",
        td_review_media_state_name(info.state), "delete_after", time_or_null(info.delete_after_ms),
        "reason", reason, "kept_at", time_or_null(info.created_ms), "deleted_at",
        info.state == TD_REVIEW_MEDIA_DELETED || info.state == TD_REVIEW_MEDIA_PRESERVED
            ? time_or_null(info.handled_ms)
            : json_null(),
        "items", items);
    if (o2 && info.evidence_case[0])
        json_object_set_new(o2, "evidence_case", json_string(info.evidence_case));
    return o2;
}

/* The content's answer, with its media object. */
static json_t *content_json(td__req *r, const td_content *c, const char *failure, int lookup)
{
    json_t *o = td__json_content(c);
    if (o)
        json_object_set_new(o, "media", media_json(r, c, failure, lookup));
    return o;
}

static void content_reply_parts(td__req *r, td_content_input *in, const td_review_media_part *media,
                                size_t n_media)
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
    td__metrics_matches(r->srv ? r->srv->metrics : NULL, out.matches, out.match_count);
    /* The content is recorded: a copy that cannot be written leaves it as it is (a retry would
     * be a conflict); the answer says nothing was kept, the operator's log says why (the
     * message may name the data directory's paths, which are not the caller's business). */
    const char *failure = NULL;
    td_review_media *rm = td__req_review_media(r);
    int attempted = rm && n_media && out.has_case && out.kase.state != TD_CASE_CLOSED;
    if (attempted) {
        td_error kerr;
        size_t kept = 0;
        if (td_review_media_keep(rm, out.content_id, media, n_media, &kept, &kerr) != TD_OK) {
            failure = "the review copy could not be written (see the server's log)";
            if (r->srv->opts.log) {
                char line[TD_ERROR_MESSAGE_MAX + 64];
                snprintf(line, sizeof line, "review copy of a content not kept: %s", kerr.message);
                r->srv->opts.log(r->srv->opts.log_ctx, line);
            }
        }
    }
    json_t *o = content_json(r, &out, failure, attempted);
    td_content_clear(&out);
    td__reply_json(r, 201, o);
}

static void content_reply(td__req *r, td_content_input *in)
{
    td_review_media_part main = {in->media, in->media_len};
    content_reply_parts(r, in, &main, in->media ? 1 : 0);
}

/* A multipart/form-data body: every part a file; the first the content's media, the others its
 * further parts (as a message's attachments: checked, their matches joining the content's). */
static void content_form(td__req *r, td_content_input *in)
{
    char boundary[71], why[TD__MPART_WHY_MAX];
    td__mpart parts[TD__MPART_MAX];
    size_t n = 0;
    if (!td__multipart_boundary(r->content_type, boundary)) {
        td__reply_error(r, 400, "invalid_form", "multipart/form-data without a boundary");
        return;
    }
    if (td__multipart_parse(boundary, r->body, r->body_len, parts, &n, why) != 0) {
        td__reply_error(r, 400, "invalid_form", "malformed multipart/form-data body: %s", why);
        return;
    }
    if (n == 0) {
        td__reply_error(r, 400, "empty_body", "the form holds no file");
        return;
    }
    td_review_media_part media[TD__MPART_MAX];
    td_content_part more[TD__MPART_MAX];
    for (size_t i = 0; i < n; i++) {
        char safe[64];
        td__safe_text(safe, sizeof safe, parts[i].name, strlen(parts[i].name));
        if (!parts[i].is_file) {
            td__reply_error(r, 400, "unknown_field",
                            "'%s': a form field; give content_id, uploader, url and time_ms in "
                            "the query, files in the form (nothing was done)",
                            safe);
            return;
        }
        if (parts[i].len == 0) {
            td__reply_error(r, 400, "empty_body", "'%s': an empty file", safe);
            return;
        }
        media[i] = (td_review_media_part){parts[i].data, parts[i].len};
        if (i > 0)
            more[i - 1] = (td_content_part){parts[i].data, parts[i].len, NULL};
    }
    in->media = parts[0].data;
    in->media_len = parts[0].len;
    in->parts = more;
    in->n_parts = n - 1;
    content_reply_parts(r, in, media, n);
}

static int body_is_form(const td__req *r)
{
    return r->content_type && strncasecmp(r->content_type, "multipart/form-data", 19) == 0;
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
        if (body_is_form(r)) {
            content_form(r, &in);
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
    json_t *o = content_json(r, &c, NULL, 1);
    td_content_clear(&c);
    td__reply_json(r, 200, o);
}

/* GET /v1/content/{id}/media[?part=N]: the review copy's bytes as uploaded, for moderators and
 * admins (the route's roles), each read audited before the bytes go out. */
void td__h_content_media(td__req *r)
{
    td_review_media *rm = td__req_review_media(r);
    td_error err;
    int64_t part;
    if (!td__query_int(r, "part", 0, TD_REVIEW_MEDIA_PARTS_MAX - 1, 0, &part))
        return;
    td_status st = td_content_visible(r->svc, &r->who, r->params[0], &err);
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    if (!rm) {
        td__reply_error(r, 503, "unavailable",
                        "review copies are not available on this server (see its log)");
        return;
    }
    td_review_media_info info;
    uint8_t *data = NULL;
    size_t len = 0;
    st = td_review_media_read(rm, &r->who, r->params[0], (int)part, &info, &data, &len, &err);
    if (st == TD_ERR_NOT_FOUND) {
        char safe[TD__ERROR_TEXT_MAX];
        td__safe_text(safe, sizeof safe, err.message, strlen(err.message));
        td__reply_error(r, 404, "no_media", "%s", safe);
        return;
    }
    if (st != TD_OK) {
        td__reply_status(r, st, &err);
        return;
    }
    if (!data && info.state != TD_REVIEW_MEDIA_KEPT && info.state != TD_REVIEW_MEDIA_SEALING) {
        char at[40] = "";
        td__time_format(info.handled_ms, TD__TIME_SHORT, at, sizeof at);
        if (info.state == TD_REVIEW_MEDIA_PRESERVED)
            td__reply_error(r, 410, "media_deleted",
                            "the review copy was sealed into the evidence store (case %s) after "
                            "removal and deleted here at %s",
                            info.evidence_case, at);
        else
            td__reply_error(r, 410, "media_deleted",
                            "the review copy was deleted at %s, after its case was closed", at);
        return;
    }
    char *body = len ? td__malloc(len) : td__malloc(1);
    const char *type = NULL;
    for (size_t i = 0; i < info.n_items; i++)
        if (info.items[i].part == (int)part)
            type = td__arena_strndup(&r->arena, info.items[i].content_type,
                                     strlen(info.items[i].content_type));
    if (!body || !type) {
        td__free(body);
        td_review_media_free(data, len);
        td__reply_error(r, 503, "out_of_memory", "out of memory");
        return;
    }
    if (len)
        memcpy(body, data, len);
    td_review_media_free(data, len);
    td__reply_take(r, 200, type, body, len);
}
