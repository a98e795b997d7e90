/* The ThreatExchange client (Meta Graph API; GIFCT members share hashes through it).
 *
 * Fetch: GET {base}/{group}/threat_updates/?access_token=&fields=&limit=[&start_time=][&types=]
 * [&after=], the privacy group's delta feed, ordered by update time and cursor-paged
 * (paging.cursors.after, paging.next). Each record becomes one item: should_delete retracts,
 * status MALICIOUS (or none) adds, NON_MALICIOUS is a negative opinion, any other status
 * (UNKNOWN, SUSPICIOUS) retracts (the group no longer calls it malicious); tags become labels.
 *
 * The checkpoint is "since=S;max=M;at=T" with ";after=C" while a run has pages left:
 * - S is the start_time of the run (every page of a run repeats the query that made its cursor);
 * - M is the highest last_updated seen, the start_time of the next run once a run ends (a record
 *   updated in that very second may come again, and applying it again changes nothing);
 * - T is the Unix time of the last fetch: ThreatExchange keeps deletion records 90 days, so a
 *   checkpoint older than 85 days cannot be resumed without missing deletions and asks for a
 *   full resync (page->resync);
 * - C is the paging cursor of the next page.
 * A checkpoint of plain digits is taken as a start time (set by hand). "" starts from the
 * beginning.
 *
 * react: POST {base}/{descriptor_id} with access_token and reactions=<REACTION> (the Graph API's
 * reacting form); upload: POST {base}/threat_descriptors with access_token, indicator, type,
 * description, share_level, status=MALICIOUS, privacy_type=HAS_PRIVACY_GROUP,
 * privacy_members={group}, tags. The token travels in the POST body, in the query of a GET. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "exchange/client_parse.h"

#define TE_CURSOR_MAX 160
#define TE_STALE_S (85LL * 86400)
#define TE_TIME_MAX 32503680000LL /* year 3000: a later "Unix time" is not one */
#define TE_PAGE_DEFAULT 500
#define TE_TOKEN_MAX 512
#define TE_URL_MAX 8192
#define TE_FIELDS                                                                                  \
    "id,indicator,type,creation_time,last_updated,should_delete,tags,status,"                      \
    "applications_with_opinions"

typedef struct te_cp {
    int64_t since, max, at;
    char after[TE_CURSOR_MAX + 1];
} te_cp;

/* ---- the checkpoint ---- */

static int read_int(const char **p, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n >= 15)
            return -1;
        v = v * 10 + (s[n] - '0');
        n++;
    }
    if (n == 0)
        return -1;
    *p = s + n;
    *out = v;
    return 0;
}

static int cursor_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '=' || c == '+' || c == '/' || c == '.' || c == '%' || c == '~';
}

static int cursor_valid(const char *s, size_t n)
{
    if (n == 0 || n > TE_CURSOR_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!cursor_char((unsigned char)s[i]))
            return 0;
    return 1;
}

static int cp_parse(const char *s, te_cp *cp)
{
    memset(cp, 0, sizeof *cp);
    if (!*s)
        return 0;
    if (*s >= '0' && *s <= '9') { /* a start time given by hand */
        if (read_int(&s, &cp->since) || *s)
            return -1;
        cp->max = cp->since;
        return 0;
    }
    if (strncmp(s, "since=", 6) != 0)
        return -1;
    s += 6;
    if (read_int(&s, &cp->since) || strncmp(s, ";max=", 5) != 0)
        return -1;
    s += 5;
    if (read_int(&s, &cp->max) || strncmp(s, ";at=", 4) != 0)
        return -1;
    s += 4;
    if (read_int(&s, &cp->at))
        return -1;
    if (!*s)
        return 0;
    if (strncmp(s, ";after=", 7) != 0)
        return -1;
    s += 7;
    size_t n = strlen(s);
    if (!cursor_valid(s, n))
        return -1;
    memcpy(cp->after, s, n + 1);
    return 0;
}

static void cp_write(const te_cp *cp, char out[TD__XCHECKPOINT_MAX + 1])
{
    int n = snprintf(out, TD__XCHECKPOINT_MAX + 1, "since=%lld;max=%lld;at=%lld",
                     (long long)cp->since, (long long)cp->max, (long long)cp->at);
    if (cp->after[0] && n > 0 && (size_t)n < TD__XCHECKPOINT_MAX)
        snprintf(out + n, TD__XCHECKPOINT_MAX + 1 - (size_t)n, ";after=%s", cp->after);
}

/* ---- types ---- */

static const struct {
    const char *te;
    td_signal_type type;
} te_types[] = {
    {"HASH_PDQ", TD_SIGNAL_PDQ},
    {"HASH_MD5", TD_SIGNAL_MD5},
    {"HASH_VIDEO_MD5", TD_SIGNAL_MD5},
    {"HASH_SHA256", TD_SIGNAL_SHA256},
    {"HASH_VIDEO_SHA256", TD_SIGNAL_SHA256},
    {"URI", TD_SIGNAL_URL},
    {"RAW_URI", TD_SIGNAL_URL},
    {"TEXT_STRING", TD_SIGNAL_TEXT},
};

static int te_type(const char *s, size_t n, td_signal_type *out)
{
    for (size_t i = 0; i < sizeof te_types / sizeof te_types[0]; i++)
        if (strlen(te_types[i].te) == n && memcmp(te_types[i].te, s, n) == 0) {
            *out = te_types[i].type;
            return 0;
        }
    return -1;
}

/* The type an upload is sent as (the first name of each type above). */
static const char *te_upload_type(td_signal_type t)
{
    switch (t) {
    case TD_SIGNAL_PDQ: return "HASH_PDQ";
    case TD_SIGNAL_MD5: return "HASH_MD5";
    case TD_SIGNAL_SHA256: return "HASH_SHA256";
    case TD_SIGNAL_URL: return "URI";
    case TD_SIGNAL_TEXT: return "TEXT_STRING";
    default: return NULL;
    }
}

/* ---- the page ---- */

static td_status bad(td_error *err, size_t i, const char *member, const char *what)
{
    if (member)
        return td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange page: data[%zu].%s %s", i, member,
                             what);
    return td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange page: data[%zu] %s", i, what);
}

static int id_text(const char *s, size_t n, char out[TD__XID_MAX + 1]);

/* A Graph API id: a string of digits, or a non-negative integer. */
static int te_id(const json_t *j, char out[TD__XID_MAX + 1])
{
    if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);
        if (v < 0)
            return -1;
        snprintf(out, TD__XID_MAX + 1, "%lld", (long long)v);
        return 0;
    }
    if (!json_is_string(j))
        return -1;
    return id_text(json_string_value(j), json_string_length(j), out);
}

static int id_text(const char *s, size_t n, char out[TD__XID_MAX + 1])
{
    if (n == 0 || n > TD__XID_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    memcpy(out, s, n + 1);
    return 0;
}

/* A Unix time in seconds: an integer, or a string of digits. */
static int te_time(const json_t *j, int64_t *out)
{
    int64_t v;
    if (json_is_integer(j)) {
        v = json_integer_value(j);
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (json_string_length(j) > 15 || read_int(&s, &v) || *s)
            return -1;
    } else {
        return -1;
    }
    if (v < 0 || v > TE_TIME_MAX)
        return -1;
    *out = v;
    return 0;
}

/* tags: null, an array of strings, or the Graph API's {"data": [{"id", "text"}]} form. Each
 * string is checked; those that make a label are added. */
static td_status te_tags(const json_t *j, size_t i, td_labels *labels, td_error *err)
{
    if (!j || json_is_null(j))
        return TD_OK;
    const json_t *arr = j;
    int objects = 0;
    if (json_is_object(j)) {
        arr = json_object_get(j, "data");
        objects = 1;
    }
    if (!json_is_array(arr))
        return bad(err, i, "tags", "is not a list of tags");
    size_t k;
    const json_t *t;
    json_array_foreach(arr, k, t)
    {
        const json_t *s = objects ? json_object_get(t, "text") : t;
        if (!json_is_string(s) || json_string_length(s) > TD__XSTRING_MAX)
            return bad(err, i, "tags", "has a tag that is not a string");
        td__xlabel_add(labels, "", json_string_value(s), json_string_length(s), 0);
    }
    return TD_OK;
}

static td_status te_record(const json_t *rec, size_t i, td__xconn *x, td__xpage *page, int64_t *max,
                           td_error *err)
{
    if (!json_is_object(rec))
        return bad(err, i, NULL, "is not an object");
    td__xitem it;
    td_labels labels;
    memset(&it, 0, sizeof it);
    labels.count = 0;
    if (te_id(json_object_get(rec, "id"), it.external_id))
        return bad(err, i, "id", "is not an id (1..64 digits)");
    const json_t *ind = json_object_get(rec, "indicator");
    if (!json_is_string(ind))
        return bad(err, i, "indicator", "is not a string");
    const json_t *type = json_object_get(rec, "type");
    if (!json_is_string(type) || json_string_length(type) > 64)
        return bad(err, i, "type", "is not a type name");
    int64_t updated;
    if (te_time(json_object_get(rec, "last_updated"), &updated))
        return bad(err, i, "last_updated", "is not a Unix time");
    const json_t *del = json_object_get(rec, "should_delete");
    if (del && !json_is_boolean(del) && !json_is_null(del))
        return bad(err, i, "should_delete", "is not a boolean");
    const json_t *status = json_object_get(rec, "status");
    if (status && !json_is_null(status) &&
        (!json_is_string(status) || json_string_length(status) > 64))
        return bad(err, i, "status", "is not a status name");
    td_status st = te_tags(json_object_get(rec, "tags"), i, &labels, err);
    if (st)
        return st;
    if (updated > *max)
        *max = updated;

    /* The record parses; now what it means here. */
    if (te_type(json_string_value(type), json_string_length(type), &it.type)) {
        page->skipped++;
        return TD_OK;
    }
    it.updated_ms = updated * 1000;
    it.remove = json_is_true(del);
    const char *s = json_is_string(status) ? json_string_value(status) : NULL;
    if (!it.remove && s) {
        if (strcmp(s, "NON_MALICIOUS") == 0)
            it.negative = 1;
        else if (strcmp(s, "MALICIOUS") != 0)
            it.remove = 1;
    }
    const char *v = json_string_value(ind);
    size_t vlen = json_string_length(ind);
    char norm[65];
    if (td_signal_type_has_body(it.type)) {
        if (vlen == 0 || vlen > TD__XVALUE_MAX) {
            page->skipped++;
            return TD_OK;
        }
    } else {
        if (td_signal_value_normalize(it.type, v, vlen, norm, NULL) != TD_OK) {
            page->skipped++; /* not a hash of its type: nothing to match */
            return TD_OK;
        }
        v = norm; /* same length, lower case */
    }
    if (!td__xfilter_takes(x, &it, &labels)) {
        page->skipped++;
        return TD_OK;
    }
    return td__xpage_add(page, &it, &labels, v, vlen, x->max_items, err);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The cursor of the next page: paging.cursors.after, else the after= argument of paging.next. */
static int te_next_cursor(const json_t *paging, const char *next, char out[TE_CURSOR_MAX + 1])
{
    const json_t *after = json_object_get(json_object_get(paging, "cursors"), "after");
    if (json_is_string(after)) {
        if (!cursor_valid(json_string_value(after), json_string_length(after)))
            return -1;
        memcpy(out, json_string_value(after), json_string_length(after) + 1);
        return 0;
    }
    const char *q = strchr(next, '?');
    while (q) {
        q++;
        if (strncmp(q, "after=", 6) == 0) {
            q += 6;
            size_t n = strcspn(q, "&#"), o = 0;
            for (size_t i = 0; i < n; i++) { /* percent-decoded: it is escaped again when sent */
                if (o >= TE_CURSOR_MAX)
                    return -1;
                int hi = i + 2 < n && q[i] == '%' ? hexval(q[i + 1]) : -1;
                int lo = hi >= 0 ? hexval(q[i + 2]) : -1;
                if (lo >= 0) {
                    out[o++] = (char)(hi * 16 + lo);
                    i += 2;
                } else {
                    out[o++] = q[i];
                }
            }
            out[o] = '\0';
            return cursor_valid(out, o) ? 0 : -1;
        }
        q = strchr(q, '&');
    }
    return -1;
}

static td_status te_page_from_json(const json_t *root, td__xconn *x, const te_cp *in,
                                   td__xpage *page, td_error *err)
{
    if (!json_is_object(root))
        return td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange page: not a JSON object");
    const json_t *data = json_object_get(root, "data");
    if (!json_is_array(data))
        return td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange page: no 'data' list");
    const json_t *paging = json_object_get(root, "paging");
    if (paging && !json_is_object(paging) && !json_is_null(paging))
        return td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange page: 'paging' is not an object");
    const json_t *next = json_object_get(paging, "next");
    if (next && !json_is_string(next) && !json_is_null(next))
        return td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange page: paging.next is not a URL");
    te_cp out = *in;
    out.after[0] = '\0';
    size_t i;
    const json_t *rec;
    json_array_foreach(data, i, rec)
    {
        td_status st = te_record(rec, i, x, page, &out.max, err);
        if (st)
            return st;
    }
    if (x->now_ms > 0)
        out.at = x->now_ms / 1000;
    if (json_is_string(next) && json_string_length(next) > 0) {
        if (json_string_length(next) > TE_URL_MAX ||
            te_next_cursor(paging, json_string_value(next), out.after))
            return td__error_set(err, TD_ERR_CORRUPT,
                                 "ThreatExchange page: paging.next without a usable cursor");
        if (in->after[0] && strcmp(in->after, out.after) == 0)
            return td__error_set(err, TD_ERR_CORRUPT,
                                 "ThreatExchange page: the cursor does not move");
        page->more = 1;
    } else {
        out.since = out.max; /* the run is over: the next starts where it ended */
    }
    cp_write(&out, page->checkpoint);
    return TD_OK;
}

td_status td__te_parse_page(const char *body, size_t len, td__xconn *x, td__xpage *page,
                            td_error *err)
{
    te_cp in;
    if (cp_parse(page->checkpoint, &in)) {
        td__error_set(err, TD_ERR_INVALID, "the checkpoint is not one this client writes");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_INVALID);
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange page: not JSON (line %d: %.80s)",
                      jerr.line, jerr.text);
        return td__xpage_refuse(x, page, TD_ERR_CORRUPT);
    }
    td_status st = te_page_from_json(root, x, &in, page, err);
    json_decref(root);
    if (st)
        return td__xpage_refuse(x, page, st);
    return td__xoutcome(x, TD__XFETCH_OK, TD_OK);
}

/* ---- requests ---- */

/* Printable ASCII of a source's text, at most 160 bytes (it lands in errors and reports). */
static void safe_text(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap && n < 160; s++)
        out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[n] = '\0';
}

static const char *te_token(const td__xconn *x, td_error *err)
{
    const json_t *t = json_object_get(x->credentials, "token");
    if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > TE_TOKEN_MAX ||
        strlen(json_string_value(t)) != json_string_length(t)) {
        td__error_set(err, TD_ERR_INVALID, "the credentials have no 'token' (appid|secret)");
        return NULL;
    }
    return json_string_value(t);
}

static int group_valid(const char *g)
{
    size_t n = g ? strlen(g) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((g[i] >= '0' && g[i] <= '9') || (g[i] >= 'a' && g[i] <= 'z') ||
              (g[i] >= 'A' && g[i] <= 'Z') || g[i] == '_' || g[i] == '-'))
            return 0;
    return 1;
}

/* What a non-2xx answer (or a 2xx carrying {"error"}) means. Graph API errors: OAuthException
 * and code 190 (bad token), 10 and 200..299 (permission) are credentials refused; 4, 17, 32,
 * 613 (rate limits) and 1, 2 (temporary) are retried, as are 429 and 5xx whatever the body. */
static td_status te_answer_error(td__xconn *x, long status, const json_t *root, td_error *err)
{
    const json_t *e = json_object_get(root, "error");
    char msg[200] = "";
    long long code = 0;
    int oauth = 0;
    if (json_is_object(e)) {
        safe_text(msg, sizeof msg, json_string_value(json_object_get(e, "message")));
        const json_t *c = json_object_get(e, "code");
        code = json_is_integer(c) ? (long long)json_integer_value(c) : 0;
        const json_t *type = json_object_get(e, "type");
        oauth = json_is_string(type) && strcmp(json_string_value(type), "OAuthException") == 0;
    }
    td__xfetch kind;
    if (status == 429 || status >= 500 || code == 1 || code == 2 || code == 4 || code == 17 ||
        code == 32 || code == 613)
        kind = TD__XFETCH_RETRY;
    else if (status == 401 || status == 403 || code == 190 || code == 10 ||
             (code >= 200 && code < 300) || (oauth && code != 100))
        kind = TD__XFETCH_AUTH;
    else if (status >= 200 && status < 300)
        kind = TD__XFETCH_RETRY; /* an error in a 2xx: the service's own trouble */
    else
        kind = TD__XFETCH_FAILED;
    td_status code_st = kind == TD__XFETCH_AUTH ? TD_ERR_INVALID : TD_ERR_IO;
    if (msg[0] || code)
        td__error_set(err, code_st, "ThreatExchange answered %ld (error %lld: %s)", status, code,
                      msg);
    else
        td__error_set(err, code_st, "ThreatExchange answered %ld", status);
    return td__xoutcome(x, kind, kind == TD__XFETCH_AUTH ? TD_ERR_INVALID : TD_ERR_IO);
}

/* Sends one request; on TD_OK *resp holds a 2xx answer's body and *root its JSON (NULL when it
 * is not JSON, for the caller to judge). Anything else sets x->outcome and err. */
static td_status te_send(td__xconn *x, const char *method, const char *url, const td__buf *body,
                         td__http_response *resp, json_t **root, td_error *err)
{
    *root = NULL;
    td__http_options o = x->http;
    o.keep_body = 1;
    o.error_body = 1;
    o.max_redirects = 0;
    td__http_request req = {method, url, NULL, body ? body->p : NULL, body ? body->len : 0};
    td__http_result r = td__http_send(&o, &req, resp, err);
    x->last_status = resp->status;
    x->retry_after_ms = resp->retry_after_ms;
    if (r != TD__HTTP_OK) {
        td__error_prefix(err, "ThreatExchange: ");
        return td__xhttp_failure(x, r, err);
    }
    json_error_t jerr;
    *root = json_loadb((const char *)resp->body, resp->len, JSON_REJECT_DUPLICATES, &jerr);
    int ok = resp->status >= 200 && resp->status < 300;
    if (!ok || json_is_object(json_object_get(*root, "error"))) {
        td_status st = te_answer_error(x, resp->status, *root, err);
        json_decref(*root);
        *root = NULL;
        return st;
    }
    return TD_OK;
}

static td_status te_fetch(td__xconn *x, const char *checkpoint, td__xpage *page, td_error *err)
{
    te_cp cp;
    int bad_cp =
        !checkpoint || strlen(checkpoint) > TD__XCHECKPOINT_MAX || cp_parse(checkpoint, &cp);
    td__xpage_clear(page); /* after reading checkpoint, which may be the page's own */
    x->outcome = TD__XFETCH_OK;
    x->last_status = 0;
    x->retry_after_ms = 0;
    if (bad_cp) {
        td__error_set(err, TD_ERR_INVALID, "the checkpoint is not one this client writes");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_INVALID);
    }
    if (cp.at > 0 && x->now_ms > 0 && x->now_ms / 1000 - cp.at > TE_STALE_S) {
        /* Deletion records older than 90 days are gone: start again from nothing. */
        page->resync = 1;
        page->more = 1;
        return td__xoutcome(x, TD__XFETCH_OK, TD_OK);
    }
    const char *token = te_token(x, err);
    if (!token)
        return td__xoutcome(x, TD__XFETCH_AUTH, TD_ERR_INVALID);
    if (!group_valid(x->group)) {
        td__error_set(err, TD_ERR_INVALID, "the privacy group id is missing or not an id");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_INVALID);
    }
    size_t limit = x->page_size ? x->page_size : TE_PAGE_DEFAULT;
    if (x->max_items && limit > x->max_items)
        limit = x->max_items;
    td__buf url;
    td__buf_init(&url, TE_URL_MAX);
    td_status st = td__xurl_base(&url, x, err);
    if (st) {
        td__buf_free(&url);
        return td__xoutcome(x, TD__XFETCH_FAILED, st);
    }
    int bad_url = td__buf_printf(&url, "/%s/threat_updates/?access_token=", x->group) ||
                  td__xurl_escape(&url, token, strlen(token)) ||
                  td__buf_printf(&url, "&fields=%s&limit=%zu", TE_FIELDS, limit);
    if (!bad_url && cp.since > 0)
        bad_url = td__buf_printf(&url, "&start_time=%lld", (long long)cp.since) != TD_OK;
    if (!bad_url && x->types) {
        int first = 1;
        for (size_t i = 0; i < sizeof te_types / sizeof te_types[0] && !bad_url; i++)
            if (x->types & (1u << te_types[i].type)) {
                bad_url = td__buf_addstr(&url, first ? "&types=" : "%2C") ||
                          td__buf_addstr(&url, te_types[i].te);
                first = 0;
            }
    }
    if (!bad_url && cp.after[0])
        bad_url =
            td__buf_addstr(&url, "&after=") || td__xurl_escape(&url, cp.after, strlen(cp.after));
    if (bad_url) {
        td__buf_free(&url);
        td__error_set(err, TD_ERR_LIMIT, "the request URL is too long");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_LIMIT);
    }
    td__http_response resp;
    json_t *root;
    st = te_send(x, "GET", url.p, NULL, &resp, &root, err);
    td__buf_free(&url);
    if (st) {
        if (resp.body)
            td__xpage_digest(page, resp.body, resp.len);
        td__http_response_free(&resp);
        return st;
    }
    td__xpage_digest(page, resp.body, resp.len);
    if (!root) {
        td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange page: not JSON");
        td__http_response_free(&resp);
        return td__xpage_refuse(x, page, TD_ERR_CORRUPT);
    }
    st = te_page_from_json(root, x, &cp, page, err);
    json_decref(root);
    td__http_response_free(&resp);
    if (st)
        return td__xpage_refuse(x, page, st);
    return td__xoutcome(x, TD__XFETCH_OK, TD_OK);
}

/* POSTs a form to {base}{path}; *root receives the 2xx answer's JSON object. */
static td_status te_post(td__xconn *x, const char *path, const td__buf *form, json_t **root,
                         td_error *err)
{
    td__buf url;
    td__buf_init(&url, TE_URL_MAX);
    td_status st = td__xurl_base(&url, x, err);
    if (!st && td__buf_addstr(&url, path))
        st = td__error_set(err, TD_ERR_LIMIT, "the request URL is too long");
    if (st) {
        td__buf_free(&url);
        return td__xoutcome(x, TD__XFETCH_FAILED, st);
    }
    td__http_response resp;
    st = te_send(x, "POST", url.p, form, &resp, root, err);
    td__buf_free(&url);
    td__http_response_free(&resp);
    if (st)
        return st;
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange answered with no JSON object");
        return td__xoutcome(x, TD__XFETCH_MALFORMED, TD_ERR_CORRUPT);
    }
    return TD_OK;
}

static td_status form_add(td__buf *b, const char *name, const char *value, size_t len)
{
    if ((b->len && td__buf_add(b, "&", 1)) || td__buf_addstr(b, name) || td__buf_add(b, "=", 1))
        return TD_ERR_LIMIT;
    return td__xurl_escape(b, value, len);
}

static td_status te_react(td__xconn *x, const char *external_id, const char *reaction,
                          td_error *err)
{
    static const char *const reactions[] = {"SAW_THIS_TOO", "HELPFUL", "NOT_HELPFUL",
                                            "DISAGREE_WITH_TAGS"};
    x->outcome = TD__XFETCH_OK;
    x->last_status = 0;
    x->retry_after_ms = 0;
    int known = 0;
    for (size_t i = 0; reaction && i < sizeof reactions / sizeof reactions[0]; i++)
        known |= strcmp(reaction, reactions[i]) == 0;
    char id[TD__XID_MAX + 1];
    int bad_id = !external_id || id_text(external_id, strnlen(external_id, TD__XID_MAX + 1), id);
    if (!known || bad_id) {
        td__error_set(err, TD_ERR_INVALID, "%s",
                      !known ? "unknown reaction" : "not a descriptor id");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_INVALID);
    }
    const char *token = te_token(x, err);
    if (!token)
        return td__xoutcome(x, TD__XFETCH_AUTH, TD_ERR_INVALID);
    td__buf form, path;
    td__buf_init(&form, 4096);
    td__buf_init(&path, 128);
    td_status st = TD_OK;
    if (form_add(&form, "access_token", token, strlen(token)) ||
        form_add(&form, "reactions", reaction, strlen(reaction)) ||
        td__buf_printf(&path, "/%s", id))
        st = td__error_set(err, TD_ERR_LIMIT, "the reaction does not fit");
    json_t *root = NULL;
    if (!st)
        st = te_post(x, path.p, &form, &root, err);
    td__buf_free(&form);
    td__buf_free(&path);
    if (st) {
        if (x->outcome == TD__XFETCH_OK)
            x->outcome = TD__XFETCH_FAILED;
        return st;
    }
    const json_t *ok = json_object_get(root, "success");
    int success = json_is_true(ok);
    json_decref(root);
    if (!success) {
        td__error_set(err, TD_ERR_IO, "ThreatExchange did not confirm the reaction");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_IO);
    }
    return td__xoutcome(x, TD__XFETCH_OK, TD_OK);
}

static const char *share_level(const td__xconn *x)
{
    static const char *const levels[] = {"WHITE", "GREEN", "AMBER", "RED"};
    const char *s = json_string_value(json_object_get(x->credentials, "share_level"));
    for (size_t i = 0; s && i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(s, levels[i]) == 0)
            return levels[i];
    return s ? NULL : "AMBER";
}

static td_status te_upload(td__xconn *x, td_signal_type type, const char *value, size_t value_len,
                           const td_labels *tags, const char *description,
                           char external_id[TD__XID_MAX + 1], td_error *err)
{
    x->outcome = TD__XFETCH_OK;
    x->last_status = 0;
    x->retry_after_ms = 0;
    external_id[0] = '\0';
    const char *te = te_upload_type(type);
    char norm[65];
    if (!te) {
        td__error_set(err, TD_ERR_UNSUPPORTED, "ThreatExchange takes no %s signal",
                      td_signal_type_name(type));
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_UNSUPPORTED);
    }
    if (!value || value_len == 0 || value_len > TD__XVALUE_MAX) {
        td__error_set(err, TD_ERR_INVALID, "no value to share");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_INVALID);
    }
    if (!td_signal_type_has_body(type)) {
        td_status st = td_signal_value_normalize(type, value, value_len, norm, err);
        if (st)
            return td__xoutcome(x, TD__XFETCH_FAILED, st);
        value = norm;
        value_len = strlen(norm);
    }
    const char *level = share_level(x);
    if (!level) {
        td__error_set(err, TD_ERR_INVALID, "share_level must be WHITE, GREEN, AMBER or RED");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_INVALID);
    }
    if (!group_valid(x->group)) {
        td__error_set(err, TD_ERR_INVALID, "the privacy group id is missing or not an id");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_INVALID);
    }
    const char *token = te_token(x, err);
    if (!token)
        return td__xoutcome(x, TD__XFETCH_AUTH, TD_ERR_INVALID);
    if (!description || !*description)
        description = "shared by takedown";
    td__buf form, joined;
    td__buf_init(&form, TD__XVALUE_MAX * 3 + 65536);
    td__buf_init(&joined, TD_LABELS_MAX * (TD_LABEL_MAX + 1));
    td_status st = TD_OK;
    for (int i = 0; tags && i < tags->count && !st; i++)
        if ((i && td__buf_add(&joined, ",", 1)) || td__buf_addstr(&joined, tags->v[i]))
            st = TD_ERR_LIMIT;
    if (!st && (form_add(&form, "access_token", token, strlen(token)) ||
                form_add(&form, "indicator", value, value_len) ||
                form_add(&form, "type", te, strlen(te)) ||
                form_add(&form, "description", description, strnlen(description, 4096)) ||
                form_add(&form, "share_level", level, strlen(level)) ||
                form_add(&form, "status", "MALICIOUS", 9) ||
                form_add(&form, "privacy_type", "HAS_PRIVACY_GROUP", 17) ||
                form_add(&form, "privacy_members", x->group, strlen(x->group)) ||
                (joined.len && form_add(&form, "tags", joined.p, joined.len))))
        st = TD_ERR_LIMIT;
    td__buf_free(&joined);
    if (st) {
        td__buf_free(&form);
        td__error_set(err, TD_ERR_LIMIT, "the upload does not fit");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_LIMIT);
    }
    json_t *root = NULL;
    st = te_post(x, "/threat_descriptors", &form, &root, err);
    td__buf_free(&form);
    if (st) {
        if (x->outcome == TD__XFETCH_OK)
            x->outcome = TD__XFETCH_FAILED;
        return st;
    }
    int bad_id = te_id(json_object_get(root, "id"), external_id);
    json_decref(root);
    if (bad_id) {
        external_id[0] = '\0';
        td__error_set(err, TD_ERR_CORRUPT, "ThreatExchange answered the upload with no id");
        return td__xoutcome(x, TD__XFETCH_MALFORMED, TD_ERR_CORRUPT);
    }
    return td__xoutcome(x, TD__XFETCH_OK, TD_OK);
}

const td__xclient td__xclient_threatexchange = {"threatexchange", te_fetch, te_react, te_upload};
