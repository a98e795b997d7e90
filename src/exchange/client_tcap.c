/* The client of Tech Against Terrorism's TCAP hash list.
 *
 * Login: POST {base}/token-auth/tcap/ with the form username, password, resend=False; the answer
 * {"token": ...} is kept in x->token and sent as "Authorization: Bearer". The routes are those
 * python-threatexchange's TCAP client uses; credentials may name others ("login_path",
 * "list_path", relative to the base URL) since TCAP publishes no versioned reference of them.
 *
 * Fetch: GET {base}/api/hash-list/v2/all?order=asc&after=<checkpoint>, answer {count, next,
 * previous, checkpoint, results}; each result {hash_digest, algorithm, ideology, file_type,
 * deleted, updated_on, created_on, id} becomes one item: deleted retracts, algorithm gives the
 * type (MD5, SHA256, PDQ; another is skipped), ideology and file_type become the labels
 * "ideology:<value>" and "file_type:<value>" (lower case). The checkpoint is the answer's own,
 * "<unix_ts>,<id>" (the time may have a fraction); a non-null next means another page at once.
 *
 * A token is kept between fetches; a 401 on a kept token means it expired: exactly one new
 * login, then the request once more; a 401 after that (or on a token just issued) is
 * TD__XFETCH_AUTH. */
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "exchange/client_parse.h"

#define TCAP_LOGIN_PATH "token-auth/tcap/"
#define TCAP_LIST_PATH "api/hash-list/v2/all"
#define TCAP_CHECKPOINT_MAX 64
#define TCAP_CRED_MAX 1024
#define TCAP_URL_MAX 4096
#define TCAP_TIME_MAX 32503680000.0 /* year 3000 */

/* ---- the page ---- */

/* "<digits>[.<digits>],<digits>", at most TCAP_CHECKPOINT_MAX bytes. */
static int checkpoint_valid(const char *s, size_t n)
{
    if (n == 0 || n > TCAP_CHECKPOINT_MAX)
        return 0;
    size_t i = 0, d = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, d++;
    if (d == 0)
        return 0;
    if (i < n && s[i] == '.') {
        i++;
        d = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, d++;
        if (d == 0)
            return 0;
    }
    if (i >= n || s[i] != ',')
        return 0;
    i++;
    d = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, d++;
    return d > 0 && i == n;
}

static td_status bad(td_error *err, size_t i, const char *member, const char *what)
{
    if (member)
        return td__error_set(err, TD_ERR_CORRUPT, "TCAP page: results[%zu].%s %s", i, member, what);
    return td__error_set(err, TD_ERR_CORRUPT, "TCAP page: results[%zu] %s", i, what);
}

static int tcap_type(const char *s, td_signal_type *out)
{
    if (strcasecmp(s, "MD5") == 0)
        *out = TD_SIGNAL_MD5;
    else if (strcasecmp(s, "SHA256") == 0 || strcasecmp(s, "SHA-256") == 0)
        *out = TD_SIGNAL_SHA256;
    else if (strcasecmp(s, "PDQ") == 0)
        *out = TD_SIGNAL_PDQ;
    else
        return -1;
    return 0;
}

static int opt_string(const json_t *j)
{
    return !j || json_is_null(j) || (json_is_string(j) && json_string_length(j) <= TD__XSTRING_MAX);
}

static td_status tcap_record(const json_t *rec, size_t i, td__xconn *x, td__xpage *page,
                             td_error *err)
{
    if (!json_is_object(rec))
        return bad(err, i, NULL, "is not an object");
    td__xitem it;
    td_labels labels;
    memset(&it, 0, sizeof it);
    labels.count = 0;
    const json_t *id = json_object_get(rec, "id");
    if (json_is_integer(id) && json_integer_value(id) >= 0)
        snprintf(it.external_id, sizeof it.external_id, "%lld", (long long)json_integer_value(id));
    else if (json_is_string(id) && json_string_length(id) > 0 &&
             json_string_length(id) <= TD__XID_MAX &&
             strspn(json_string_value(id), "0123456789") == json_string_length(id))
        memcpy(it.external_id, json_string_value(id), json_string_length(id) + 1);
    else
        return bad(err, i, "id", "is not an id");
    const json_t *digest = json_object_get(rec, "hash_digest");
    if (!json_is_string(digest))
        return bad(err, i, "hash_digest", "is not a string");
    const json_t *algo = json_object_get(rec, "algorithm");
    if (!json_is_string(algo) || json_string_length(algo) > 64)
        return bad(err, i, "algorithm", "is not an algorithm name");
    const json_t *ideology = json_object_get(rec, "ideology");
    if (!opt_string(ideology))
        return bad(err, i, "ideology", "is not a string");
    const json_t *file_type = json_object_get(rec, "file_type");
    if (!opt_string(file_type))
        return bad(err, i, "file_type", "is not a string");
    const json_t *deleted = json_object_get(rec, "deleted");
    if (deleted && !json_is_boolean(deleted) && !json_is_null(deleted))
        return bad(err, i, "deleted", "is not a boolean");
    const json_t *updated = json_object_get(rec, "updated_on");
    if (updated && !json_is_null(updated)) {
        double t = json_number_value(updated);
        if (!json_is_number(updated) || !isfinite(t) || t < 0 || t > TCAP_TIME_MAX)
            return bad(err, i, "updated_on", "is not a Unix time");
        it.updated_ms = (int64_t)llround(t * 1000.0);
    }

    if (tcap_type(json_string_value(algo), &it.type)) {
        page->skipped++;
        return TD_OK;
    }
    it.remove = json_is_true(deleted);
    char norm[65];
    if (td_signal_value_normalize(it.type, json_string_value(digest), json_string_length(digest),
                                  norm, NULL) != TD_OK) {
        page->skipped++;
        return TD_OK;
    }
    if (json_is_string(ideology))
        td__xlabel_add(&labels, "ideology:", json_string_value(ideology),
                       json_string_length(ideology), 1);
    if (json_is_string(file_type))
        td__xlabel_add(&labels, "file_type:", json_string_value(file_type),
                       json_string_length(file_type), 1);
    if (!td__xfilter_takes(x, &it, &labels)) {
        page->skipped++;
        return TD_OK;
    }
    return td__xpage_add(page, &it, &labels, norm, strlen(norm), x->max_items, err);
}

static td_status tcap_page_from_json(const json_t *root, td__xconn *x, td__xpage *page,
                                     td_error *err)
{
    char in[TD__XCHECKPOINT_MAX + 1];
    memcpy(in, page->checkpoint, sizeof in);
    if (!json_is_object(root))
        return td__error_set(err, TD_ERR_CORRUPT, "TCAP page: not a JSON object");
    const json_t *results = json_object_get(root, "results");
    if (!json_is_array(results))
        return td__error_set(err, TD_ERR_CORRUPT, "TCAP page: no 'results' list");
    const json_t *next = json_object_get(root, "next");
    if (next && !json_is_null(next) && !json_is_string(next))
        return td__error_set(err, TD_ERR_CORRUPT, "TCAP page: 'next' is not a URL or null");
    const json_t *cp = json_object_get(root, "checkpoint");
    if (cp && !json_is_null(cp) &&
        (!json_is_string(cp) || !checkpoint_valid(json_string_value(cp), json_string_length(cp))))
        return td__error_set(err, TD_ERR_CORRUPT,
                             "TCAP page: 'checkpoint' is not \"<unix_ts>,<id>\"");
    size_t i;
    const json_t *rec;
    json_array_foreach(results, i, rec)
    {
        td_status st = tcap_record(rec, i, x, page, err);
        if (st)
            return st;
    }
    if (json_is_string(cp)) {
        memcpy(page->checkpoint, json_string_value(cp), json_string_length(cp) + 1);
    } else if (json_array_size(results) > 0) {
        return td__error_set(err, TD_ERR_CORRUPT, "TCAP page: results but no 'checkpoint'");
    }
    if (json_is_string(next)) {
        if (strcmp(in, page->checkpoint) == 0)
            return td__error_set(err, TD_ERR_CORRUPT,
                                 "TCAP page: 'next' but the checkpoint does not move");
        page->more = 1;
    }
    return TD_OK;
}

td_status td__tcap_parse_page(const char *body, size_t len, td__xconn *x, td__xpage *page,
                              td_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        td__error_set(err, TD_ERR_CORRUPT, "TCAP page: not JSON (line %d: %.80s)", jerr.line,
                      jerr.text);
        return td__xpage_refuse(x, page, TD_ERR_CORRUPT);
    }
    td_status st = tcap_page_from_json(root, x, page, err);
    json_decref(root);
    if (st)
        return td__xpage_refuse(x, page, st);
    return td__xoutcome(x, TD__XFETCH_OK, TD_OK);
}

/* ---- requests ---- */

static int path_valid(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 128 || strstr(p, ".."))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '_' || p[i] == '-' || p[i] == '.' ||
              p[i] == '/'))
            return 0;
    return 1;
}

/* The route of one call: the credentials' override or the default, without a leading '/'. */
static const char *route(const td__xconn *x, const char *member, const char *dflt)
{
    const char *p = json_string_value(json_object_get(x->credentials, member));
    if (!p)
        return dflt;
    while (*p == '/')
        p++;
    return path_valid(p) ? p : NULL;
}

static td_status url_for(td__buf *url, const td__xconn *x, const char *member, const char *dflt,
                         td_error *err)
{
    const char *r = route(x, member, dflt);
    if (!r)
        return td__error_set(err, TD_ERR_INVALID, "the credentials' '%s' is not a path", member);
    td_status st = td__xurl_base(url, x, err);
    if (!st && (td__buf_add(url, "/", 1) || td__buf_addstr(url, r)))
        st = td__error_set(err, TD_ERR_LIMIT, "the request URL is too long");
    return st;
}

static td_status send_req(td__xconn *x, const char *method, const char *url,
                          const char *const *headers, const td__buf *body, td__http_response *resp,
                          td_error *err)
{
    td__http_options o = x->http;
    o.keep_body = 1;
    o.error_body = 1;
    o.max_redirects = 0;
    td__http_request req = {method, url, headers, body ? body->p : NULL, body ? body->len : 0};
    td__http_result r = td__http_send(&o, &req, resp, err);
    x->last_status = resp->status;
    x->retry_after_ms = resp->retry_after_ms;
    if (r != TD__HTTP_OK) {
        td__error_prefix(err, "TCAP: ");
        return td__xhttp_failure(x, r, err);
    }
    return TD_OK;
}

static const char *cred(const td__xconn *x, const char *name)
{
    const json_t *j = json_object_get(x->credentials, name);
    if (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) > TCAP_CRED_MAX ||
        strlen(json_string_value(j)) != json_string_length(j))
        return NULL;
    return json_string_value(j);
}

static td_status status_failure(td__xconn *x, const char *what, long status, td_error *err)
{
    if (status == 429 || status >= 500) {
        td__error_set(err, TD_ERR_IO, "TCAP %s: answered %ld, later", what, status);
        return td__xoutcome(x, TD__XFETCH_RETRY, TD_ERR_IO);
    }
    if (status == 401 || status == 403 || (status == 400 && strcmp(what, "login") == 0)) {
        td__error_set(err, TD_ERR_INVALID, "TCAP %s: credentials refused (%ld)", what, status);
        return td__xoutcome(x, TD__XFETCH_AUTH, TD_ERR_INVALID);
    }
    td__error_set(err, TD_ERR_IO, "TCAP %s: answered %ld", what, status);
    return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_IO);
}

static td_status form_add(td__buf *b, const char *name, const char *value)
{
    if ((b->len && td__buf_add(b, "&", 1)) || td__buf_addstr(b, name) || td__buf_add(b, "=", 1))
        return TD_ERR_LIMIT;
    return td__xurl_escape(b, value, strlen(value));
}

static td_status tcap_login(td__xconn *x, td_error *err)
{
    x->token[0] = '\0';
    const char *user = cred(x, "username"), *pass = cred(x, "password");
    if (!user || !pass) {
        td__error_set(err, TD_ERR_INVALID, "the credentials need 'username' and 'password'");
        return td__xoutcome(x, TD__XFETCH_AUTH, TD_ERR_INVALID);
    }
    td__buf url, form;
    td__buf_init(&url, TCAP_URL_MAX);
    td__buf_init(&form, 4 * TCAP_CRED_MAX);
    td_status st = url_for(&url, x, "login_path", TCAP_LOGIN_PATH, err);
    if (!st && (form_add(&form, "username", user) || form_add(&form, "password", pass) ||
                form_add(&form, "resend", "False")))
        st = td__error_set(err, TD_ERR_LIMIT, "the credentials are too long");
    if (st) {
        td__buf_free(&url);
        td__buf_free(&form);
        return td__xoutcome(x, TD__XFETCH_FAILED, st);
    }
    td__http_response resp;
    st = send_req(x, "POST", url.p, NULL, &form, &resp, err);
    td__buf_free(&url);
    if (form.p)
        OPENSSL_cleanse(form.p, form.len); /* the password */
    td__buf_free(&form);
    if (st)
        return st;
    if (resp.status < 200 || resp.status >= 300) {
        long status = resp.status;
        td__http_response_free(&resp);
        return status_failure(x, "login", status, err);
    }
    json_t *root = json_loadb((const char *)resp.body, resp.len, 0, NULL);
    td__http_response_free(&resp);
    const json_t *tok = json_object_get(root, "token");
    size_t n = json_is_string(tok) ? json_string_length(tok) : 0;
    int ok = n > 0 && n < sizeof x->token;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_string_value(tok)[i] > 0x20 && json_string_value(tok)[i] < 0x7f;
    if (ok)
        memcpy(x->token, json_string_value(tok), n + 1);
    json_decref(root);
    if (!ok) {
        td__error_set(err, TD_ERR_CORRUPT, "TCAP login: the answer has no usable 'token'");
        return td__xoutcome(x, TD__XFETCH_AUTH, TD_ERR_CORRUPT);
    }
    return TD_OK;
}

static td_status tcap_fetch(td__xconn *x, const char *checkpoint, td__xpage *page, td_error *err)
{
    char in[TCAP_CHECKPOINT_MAX + 1] = "";
    size_t cn = checkpoint ? strnlen(checkpoint, TCAP_CHECKPOINT_MAX + 1) : 0;
    int bad_cp = !checkpoint || (cn && !checkpoint_valid(checkpoint, cn));
    if (!bad_cp)
        memcpy(in, checkpoint, cn + 1);
    checkpoint = in;
    td__xpage_clear(page); /* after reading checkpoint, which may be the page's own */
    x->outcome = TD__XFETCH_OK;
    x->last_status = 0;
    x->retry_after_ms = 0;
    if (bad_cp) {
        td__error_set(err, TD_ERR_INVALID, "the checkpoint is not \"<unix_ts>,<id>\"");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_INVALID);
    }
    td__buf url;
    td__buf_init(&url, TCAP_URL_MAX);
    td_status st = url_for(&url, x, "list_path", TCAP_LIST_PATH, err);
    if (!st && (td__buf_addstr(&url, "?order=asc&after=") || td__xurl_escape(&url, checkpoint, cn)))
        st = td__error_set(err, TD_ERR_LIMIT, "the request URL is too long");
    if (st) {
        td__buf_free(&url);
        return td__xoutcome(x, TD__XFETCH_FAILED, st);
    }
    int fresh = 0; /* the token in use was issued during this call */
    if (!x->token[0]) {
        st = tcap_login(x, err);
        if (st) {
            td__buf_free(&url);
            return st;
        }
        fresh = 1;
    }
    td__http_response resp;
    for (;;) {
        char auth[sizeof x->token + 32];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", x->token);
        const char *headers[] = {auth, "Accept: application/json", NULL};
        st = send_req(x, "GET", url.p, headers, NULL, &resp, err);
        if (st) {
            td__buf_free(&url);
            return st;
        }
        if (resp.status != 401 || fresh)
            break;
        /* The kept token expired: one new login, and the request once more. */
        td__http_response_free(&resp);
        st = tcap_login(x, err);
        if (st) {
            td__buf_free(&url);
            return st;
        }
        fresh = 1;
    }
    td__buf_free(&url);
    td__xpage_digest(page, resp.body, resp.len);
    if (resp.status < 200 || resp.status >= 300) {
        long status = resp.status;
        td__http_response_free(&resp);
        if (status == 401)
            x->token[0] = '\0';
        return status_failure(x, "hash list", status, err);
    }
    memcpy(page->checkpoint, checkpoint, cn + 1);
    st = td__tcap_parse_page((const char *)resp.body, resp.len, x, page, err);
    td__http_response_free(&resp);
    return st;
}

const td__xclient td__xclient_tcap = {"tcap", tcap_fetch, NULL, NULL};
