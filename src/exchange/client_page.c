/* What every exchange client shares: the page it fills (items added with their value copied,
 * under the exchange's item cap), a source's tags made valid labels, the exchange's filters,
 * URL building, the page's digest, and HTTP outcomes made fetch outcomes. */
#include <openssl/evp.h>
#include <string.h>

#include "core/alloc.h"
#include "casework/service_int.h"
#include "core/error.h"
#include "exchange/client_parse.h"

/* The item cap when the exchange sets none. */
#define XPAGE_ITEMS_DEFAULT 100000

#define XBLOCK_SIZE ((size_t)256 << 10)

void td__xpage_clear(td__xpage *p)
{
    if (!p)
        return;
    for (td__xblock *b = p->blocks, *next; b; b = next) {
        next = b->next;
        td__free(b);
    }
    td__free(p->items);
    memset(p, 0, sizeof *p);
}

/* n bytes of the page's memory, or NULL. */
static char *xpage_alloc(td__xpage *p, size_t n)
{
    td__xblock *b = p->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > XBLOCK_SIZE ? n : XBLOCK_SIZE;
        b = td__malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = p->blocks;
        b->used = 0;
        b->cap = cap;
        p->blocks = b;
    }
    char *at = b->data + b->used;
    b->used += n;
    return at;
}

td_status td__xpage_add(td__xpage *p, const td__xitem *item, const td_labels *labels,
                        const char *value, size_t value_len, size_t max_items, td_error *err)
{
    size_t cap = max_items ? max_items : XPAGE_ITEMS_DEFAULT;
    if (p->n >= cap)
        return td__error_set(err, TD_ERR_LIMIT, "more than %zu items in one page", cap);
    if (value_len > TD__XVALUE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "a value longer than %zu bytes",
                             (size_t)TD__XVALUE_MAX);
    if (p->n == p->cap) {
        size_t want = p->cap ? p->cap * 2 : 64;
        if (want > cap)
            want = cap;
        td__xitem *grown = td__realloc(p->items, want * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        p->items = grown;
        p->cap = want;
    }
    size_t labels_len = 0;
    for (int i = 0; labels && i < labels->count; i++)
        labels_len += strlen(labels->v[i]) + 1;
    char *copy = xpage_alloc(p, value_len + 1 + labels_len + 1);
    if (!copy)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if (value_len)
        memcpy(copy, value, value_len);
    copy[value_len] = '\0';
    char *joined = copy + value_len + 1;
    joined[0] = '\0';
    if (labels)
        td__labels_join(labels, joined, labels_len + 1);
    td__xitem *it = &p->items[p->n++];
    *it = *item;
    it->value = copy;
    it->value_len = value_len;
    it->labels = joined;
    return TD_OK;
}

static int label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '/' || c == '-';
}

int td__xlabel_add(td_labels *labels, const char *prefix, const char *tag, size_t len, int lower)
{
    char out[TD_LABEL_MAX + 1];
    size_t plen = strlen(prefix), n = 0;
    if (plen > TD_LABEL_MAX)
        return 0;
    memcpy(out, prefix, plen);
    n = plen;
    int pending = 0; /* a run of bytes outside the label alphabet, written as one '_' */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)tag[i];
        if (!label_char(c)) {
            pending = 1;
            continue;
        }
        if (pending && n > plen) {
            if (n >= TD_LABEL_MAX)
                return 0;
            out[n++] = '_';
        }
        pending = 0;
        if (n >= TD_LABEL_MAX)
            return 0;
        out[n++] = (char)(lower && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    if (n == plen)
        return 0;
    out[n] = '\0';
    return td_labels_add(labels, out, NULL) == TD_OK;
}

int td__xfilter_takes(const td__xconn *x, const td__xitem *item, const td_labels *labels)
{
    if (item->remove || item->negative)
        return 1;
    if (x->types && !(x->types & (1u << item->type)))
        return 0;
    if (x->tags.count == 0)
        return 1;
    for (int i = 0; i < labels->count; i++)
        for (int j = 0; j < x->tags.count; j++)
            if (strcmp(labels->v[i], x->tags.v[j]) == 0)
                return 1;
    return 0;
}

td_status td__xurl_escape(td__buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        td_status st;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            st = td__buf_add(b, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            st = td__buf_add(b, e, 3);
        }
        if (st)
            return st;
    }
    return TD_OK;
}

td_status td__xurl_base(td__buf *b, const td__xconn *x, td_error *err)
{
    if (!x->base_url)
        return td__error_set(err, TD_ERR_INVALID, "the exchange has no base URL");
    td_status st = td__http_url_check("base URL", x->base_url, 2048, NULL, 0, err);
    if (st)
        return st;
    size_t n = strlen(x->base_url);
    while (n && x->base_url[n - 1] == '/')
        n--;
    if (td__buf_add(b, x->base_url, n))
        return td__error_set(err, TD_ERR_LIMIT, "the request URL is too long");
    return TD_OK;
}

void td__xpage_digest(td__xpage *page, const void *body, size_t len)
{
    unsigned int mdlen = 0;
    if (EVP_Digest(body ? body : "", len, page->sha256, &mdlen, EVP_sha256(), NULL) != 1)
        memset(page->sha256, 0, sizeof page->sha256);
    page->bytes = len;
}

td_status td__xoutcome(td__xconn *x, td__xfetch outcome, td_status code)
{
    x->outcome = outcome;
    return outcome == TD__XFETCH_OK ? TD_OK : code;
}

td_status td__xhttp_failure(td__xconn *x, td__http_result result, td_error *err)
{
    switch (result) {
    case TD__HTTP_TIMEOUT:
    case TD__HTTP_FAILED: return td__xoutcome(x, TD__XFETCH_RETRY, TD_ERR_IO);
    case TD__HTTP_TOO_LARGE: return td__xoutcome(x, TD__XFETCH_MALFORMED, TD_ERR_LIMIT);
    case TD__HTTP_NOMEM: return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_NOMEM);
    case TD__HTTP_REFUSED:
    case TD__HTTP_BAD_URL:
    case TD__HTTP_OK:
    default:
        if (result == TD__HTTP_OK)
            td__error_set(err, TD_ERR_INTERNAL, "not a failure");
        return td__xoutcome(x, TD__XFETCH_FAILED, TD_ERR_INVALID);
    }
}

void td__xpage_drop_items(td__xpage *page)
{
    uint8_t sha[32];
    char checkpoint[TD__XCHECKPOINT_MAX + 1];
    size_t bytes = page->bytes;
    memcpy(sha, page->sha256, sizeof sha);
    memcpy(checkpoint, page->checkpoint, sizeof checkpoint);
    td__xpage_clear(page);
    memcpy(page->sha256, sha, sizeof sha);
    memcpy(page->checkpoint, checkpoint, sizeof checkpoint);
    page->bytes = bytes;
}

td_status td__xpage_refuse(td__xconn *x, td__xpage *page, td_status st)
{
    td__xpage_drop_items(page);
    return td__xoutcome(x, st == TD_ERR_NOMEM ? TD__XFETCH_FAILED : TD__XFETCH_MALFORMED, st);
}
