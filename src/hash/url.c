/* URL canonicalisation and url_md5 (the domain/path-prefix rules that use this parser are in
 * src/casework/url_rules.c).
 *
 * The parser is a single pass over a bounded copy of the input (TD_URL_MAX bytes); every output
 * piece is written into a buffer sized for the worst case (each byte percent-encoded), so no
 * step can overflow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "hash/url_int.h"

/* Query parameters that only track the click, never select the content. */
static const char *const tracking_params[] = {
    "fbclid",  "gclid",   "dclid", "gbraid", "wbraid", "msclkid",    "mc_cid",      "mc_eid",
    "igshid",  "igsh",    "yclid", "twclid", "ttclid", "_hsenc",     "_hsmi",       "mkt_tok",
    "ref_src", "ref_url", "spm",   "_ga",    "_gl",    "oly_enc_id", "oly_anon_id", "vero_id"};

static int is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Bytes allowed as they are in a path or query besides unreserved ones. */
static int is_sub_delim(unsigned char c, int in_query)
{
    return strchr("!$&'()*+,;=:@/", c) != NULL || (in_query && c == '?');
}

/* Writes s[0..n) with percent-encoding normalised; returns the output length. out has room for
 * 3 * n bytes. */
static size_t normalise_escapes(const char *s, size_t n, int in_query, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && td__hex_digit((unsigned char)s[i + 1]) >= 0 &&
            td__hex_digit((unsigned char)s[i + 2]) >= 0) {
            unsigned char v = (unsigned char)(td__hex_digit((unsigned char)s[i + 1]) * 16 +
                                              td__hex_digit((unsigned char)s[i + 2]));
            i += 2;
            if (is_unreserved(v)) {
                out[o++] = (char)v;
                continue;
            }
            c = v;
        } else if (is_unreserved(c) || is_sub_delim(c, in_query)) {
            out[o++] = (char)c;
            continue;
        }
        out[o++] = '%';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    return o;
}

/* Restores defanged forms into out (same size or smaller); returns the length. */
/* Has the path (or query, fragment) begun in out[0..o)? It begins at the first '/', '?', '#' or
 * '\\' after "scheme://" (or after a leading "//", or from the start without either). */
static int path_began(const char *out, size_t o)
{
    size_t from = 0;
    const char *sep = memmem(out, o, "://", 3);
    if (sep)
        from = (size_t)(sep - out) + 3;
    else if (o >= 2 && out[0] == '/' && out[1] == '/')
        from = 2;
    for (size_t k = from; k < o; k++)
        if (out[k] == '/' || out[k] == '?' || out[k] == '#' || out[k] == '\\')
            return 1;
    return 0;
}

/* Restores defanged forms. "(.)" and "(dot)" only count before the path: parentheses are legal
 * in paths and queries (and kept there by the canonical form, which must stay a fixed point). */
static size_t refang(const char *s, size_t n, char *out)
{
    static const struct {
        const char *from, *to;
    } subs[] = {{"[://]", "://"}, {"[:]", ":"},   {"[.]", "."}, {"(.)", "."}, {"{.}", "."},
                {"[dot]", "."},   {"(dot)", "."}, {"[/]", "/"}, {"[h]", "h"}};
    size_t o = 0, i = 0;
    int in_path = 0;
    /* hxxp, hxxps, h**p at the start */
    if (n >= 4 && lower(s[0]) == 'h' &&
        ((lower(s[1]) == 'x' && lower(s[2]) == 'x') || (s[1] == '*' && s[2] == '*')) &&
        lower(s[3]) == 'p') {
        memcpy(out, "http", 4);
        o = 4;
        i = 4;
    }
    while (i < n) {
        int done = 0;
        for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
            size_t len = strlen(subs[k].from);
            if (n - i >= len && strncasecmp(s + i, subs[k].from, len) == 0) {
                if (subs[k].from[0] == '(' && (in_path || (in_path = path_began(out, o))))
                    continue;
                size_t tl = strlen(subs[k].to);
                memcpy(out + o, subs[k].to, tl);
                o += tl;
                i += len;
                done = 1;
                break;
            }
        }
        if (!done)
            out[o++] = s[i++];
    }
    return o;
}

/* Removes "." and ".." segments in place (RFC 3986 5.2.4 on an absolute path). */
static size_t remove_dot_segments(char *p, size_t n)
{
    size_t o = 0, i = 0;
    while (i < n) {
        /* i points at '/' */
        size_t j = i + 1;
        while (j < n && p[j] != '/')
            j++;
        size_t seg = j - i - 1;
        if (seg == 1 && p[i + 1] == '.') {
            if (j == n)
                p[o++] = '/';
        } else if (seg == 2 && p[i + 1] == '.' && p[i + 2] == '.') {
            while (o > 0 && p[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            if (j == n)
                p[o++] = '/';
        } else {
            memmove(p + o, p + i, j - i);
            o += j - i;
        }
        i = j;
    }
    return o;
}

static int is_tracking(const char *name, size_t n)
{
    if (n >= 4 && strncasecmp(name, "utm_", 4) == 0)
        return 1;
    for (size_t k = 0; k < sizeof tracking_params / sizeof tracking_params[0]; k++)
        if (strlen(tracking_params[k]) == n && strncasecmp(name, tracking_params[k], n) == 0)
            return 1;
    return 0;
}

static td_status parse(const char *url, size_t len, struct url_parts *u, char *work, td_error *err)
{
    if (len > TD_URL_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "URL of %zu bytes, over the limit of %d", len,
                             TD_URL_MAX);
    while (len > 0 && (unsigned char)*url <= ' ')
        url++, len--;
    while (len > 0 && (unsigned char)url[len - 1] <= ' ')
        len--;
    if (len == 0)
        return td__error_set(err, TD_ERR_INVALID, "empty URL");
    for (size_t i = 0; i < len; i++)
        if (url[i] == '\0')
            return td__error_set(err, TD_ERR_INVALID, "URL contains a NUL byte");
    char *s = work; /* refanged copy, len + 1 bytes */
    size_t n = refang(url, len, s);
    /* Refanging can uncover another defanged form ("((.))" gives "(.)"): repeat until nothing
     * changes, so that the canonical form is a fixed point. Every substitution shortens the text
     * (hxxp only at the start), and refang may work in place since it never writes ahead of
     * where it reads. */
    for (size_t prev = 0; prev != n;) {
        prev = n;
        n = refang(s, n, s);
    }
    s[n] = '\0';

    /* scheme */
    size_t i = 0;
    const char *colon = strstr(s, "://");
    int has_scheme = 0;
    if (colon && colon > s && ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) {
        has_scheme = 1;
        for (const char *c = s; c < colon; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '+' || *c == '-' || *c == '.'))
                has_scheme = 0;
    }
    if (has_scheme) {
        size_t sl = (size_t)(colon - s);
        if (sl >= sizeof u->scheme)
            return td__error_set(err, TD_ERR_INVALID, "URL scheme too long");
        for (size_t k = 0; k < sl; k++)
            u->scheme[k] = lower(s[k]);
        u->scheme[sl] = '\0';
        i = sl + 3;
    } else {
        memcpy(u->scheme, "http", 5);
        if (n >= 2 && s[0] == '/' && s[1] == '/')
            i = 2;
    }

    /* authority */
    size_t a = i;
    while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#' && s[i] != '\\')
        i++;
    const char *auth = s + a;
    size_t alen = i - a;
    const char *at = memrchr(auth, '@', alen);
    if (at) {
        alen -= (size_t)(at + 1 - auth);
        auth = at + 1;
    }
    size_t hlen = alen;
    const char *port = NULL;
    size_t plen = 0;
    if (alen > 0 && auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close)
            return td__error_set(err, TD_ERR_INVALID, "unterminated IPv6 address in URL");
        hlen = (size_t)(close - auth) + 1;
        size_t colons = 0;
        for (size_t k = 1; k + 1 < hlen; k++) {
            unsigned char c = (unsigned char)auth[k];
            colons += c == ':';
            if (!(c == ':' || c == '.' || td__hex_digit(c) >= 0))
                return td__error_set(err, TD_ERR_INVALID, "bad IPv6 address in URL");
        }
        if (colons < 2)
            return td__error_set(err, TD_ERR_INVALID, "bad IPv6 address in URL");
        if (hlen < alen && auth[hlen] == ':') {
            port = auth + hlen + 1;
            plen = alen - hlen - 1;
        } else if (hlen < alen) {
            return td__error_set(err, TD_ERR_INVALID, "unexpected text after the IPv6 address");
        }
    } else {
        const char *c = memchr(auth, ':', alen);
        if (c) {
            hlen = (size_t)(c - auth);
            port = c + 1;
            plen = alen - hlen - 1;
        }
    }
    while (hlen > 0 && auth[hlen - 1] == '.')
        hlen--;
    if (hlen == 0)
        return td__error_set(err, TD_ERR_INVALID, "URL has no host");
    if (hlen > TD_URL_HOST_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "URL host longer than %d bytes", TD_URL_HOST_MAX);
    for (size_t k = 0; k < hlen; k++) {
        unsigned char c = (unsigned char)auth[k];
        if (c <= ' ' || strchr("<>\"{}|\\^`%", c))
            return td__error_set(err, TD_ERR_INVALID, "URL host contains '%c'", c > ' ' ? c : '?');
        u->host[k] = lower((char)c);
    }
    u->host[hlen] = '\0';
    unsigned long portnum = 0;
    for (size_t k = 0; k < plen; k++) {
        if (port[k] < '0' || port[k] > '9' || portnum > 65535)
            return td__error_set(err, TD_ERR_INVALID, "bad port in URL");
        portnum = portnum * 10 + (unsigned long)(port[k] - '0');
    }
    if (portnum > 65535)
        return td__error_set(err, TD_ERR_INVALID, "bad port in URL");
    if (plen > 0) {
        static const struct {
            const char *scheme;
            unsigned long port;
        } defaults[] = {{"http", 80}, {"https", 443}, {"ftp", 21}, {"ws", 80}, {"wss", 443}};
        int is_default = 0;
        for (size_t k = 0; k < sizeof defaults / sizeof defaults[0]; k++)
            if (strcmp(u->scheme, defaults[k].scheme) == 0 && portnum == defaults[k].port)
                is_default = 1;
        if (!is_default) {
            size_t hl = strlen(u->host);
            snprintf(u->host + hl, sizeof u->host - hl, ":%lu", portnum);
            if (strlen(u->host) + 0 > TD_URL_HOST_MAX + 2)
                return td__error_set(err, TD_ERR_LIMIT, "URL host too long");
        }
    }

    /* path */
    size_t p0 = i;
    while (i < n && s[i] != '?' && s[i] != '#')
        i++;
    char *path = u->path;
    size_t pl = 0;
    path[pl++] = '/';
    for (size_t k = p0; k < i; k++)
        if (s[k] == '\\')
            s[k] = '/';
    if (i > p0)
        pl = normalise_escapes(s + p0, i - p0, 0, path);
    if (path[0] != '/') {
        memmove(path + 1, path, pl);
        path[0] = '/';
        pl++;
    }
    pl = remove_dot_segments(path, pl);
    if (pl == 0)
        path[pl++] = '/';
    while (pl > 1 && path[pl - 1] == '/')
        pl--;
    path[pl] = '\0';

    /* query, without tracking parameters */
    size_t ql = 0;
    if (i < n && s[i] == '?') {
        size_t q0 = ++i;
        while (i < n && s[i] != '#')
            i++;
        size_t k = q0;
        while (k < i) {
            size_t e = k;
            while (e < i && s[e] != '&')
                e++;
            size_t name = k;
            while (name < e && s[name] != '=')
                name++;
            char decoded[64];
            size_t dn =
                name - k < sizeof decoded / 3 ? normalise_escapes(s + k, name - k, 1, decoded) : 0;
            int drop = e == k || (dn > 0 && is_tracking(decoded, dn));
            if (!drop) {
                if (ql > 0)
                    u->query[ql++] = '&';
                ql += normalise_escapes(s + k, e - k, 1, u->query + ql);
            }
            k = e + 1;
        }
    }
    u->query[ql] = '\0';
    return TD_OK;
}

td_status td__url_parse_alloc(const char *url, size_t len, struct url_parts *u, char **work,
                              td_error *err)
{
    memset(u, 0, sizeof *u);
    *work = NULL;
    if (len > TD_URL_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "URL of %zu bytes, over the limit of %d", len,
                             TD_URL_MAX);
    /* refanged copy + path + query, each at most 3 bytes per input byte */
    char *buf = td__malloc(len + 2 + 2 * (3 * len + 4));
    if (!buf)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    u->path = buf + len + 2;
    u->query = u->path + 3 * len + 4;
    *work = buf;
    td_status s = parse(url, len, u, buf, err);
    if (s != TD_OK) {
        td__free(buf);
        *work = NULL;
    }
    return s;
}

td_status td_url_canonicalize(const char *url, size_t len, char **out, td_error *err)
{
    struct url_parts u;
    char *work;
    *out = NULL;
    td_status s = td__url_parse_alloc(url, len, &u, &work, err);
    if (s != TD_OK)
        return s;
    size_t cap = strlen(u.scheme) + strlen(u.host) + strlen(u.path) + strlen(u.query) + 8;
    char *r = td__malloc(cap);
    if (!r) {
        td__free(work);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    snprintf(r, cap, "%s://%s%s%s%s", u.scheme, u.host, u.path, u.query[0] ? "?" : "", u.query);
    td__free(work);
    *out = r;
    return TD_OK;
}

td_status td_url_md5(const char *url, size_t len, char out[TD_MD5_HEX_LEN + 1], td_error *err)
{
    if (len > TD_URL_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "URL of %zu bytes, over the limit of %d", len,
                             TD_URL_MAX);
    size_t n = 0;
    uint8_t *low = u8_tolower((const uint8_t *)url, len, NULL, NULL, NULL, &n);
    if (!low)
        return td__error_set(err, TD_ERR_INVALID, "URL is not valid UTF-8");
    char *s = (char *)low;
    /* urlparse's scheme: a letter, then letters, digits, '+', '-', '.', up to the first ':'. */
    char pattern[40] = "://";
    const char *c = memchr(s, ':', n);
    if (c && c > s && *s >= 'a' && *s <= 'z' && (size_t)(c - s) < sizeof pattern - 4) {
        int ok = 1;
        for (const char *p = s; p < c; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
                  *p == '.'))
                ok = 0;
        if (ok) {
            memcpy(pattern, s, (size_t)(c - s));
            memcpy(pattern + (c - s), "://", 4);
        }
    }
    /* geturl() drops an empty fragment and an empty query. */
    size_t frag = n, query = n;
    const char *hash = memchr(s, '#', n);
    if (hash)
        frag = (size_t)(hash - s);
    const char *q = memchr(s, '?', frag);
    if (q)
        query = (size_t)(q - s);
    size_t m = 0;
    char *t = td__malloc(n + 1);
    if (!t) {
        free(low);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    size_t path_end = query < frag ? query : frag;
    memcpy(t, s, path_end);
    m = path_end;
    if (query < frag && frag - query > 1) {
        memcpy(t + m, s + query, frag - query);
        m += frag - query;
    }
    if (frag < n && n - frag > 1) {
        memcpy(t + m, s + frag, n - frag);
        m += n - frag;
    }
    free(low);
    /* remove the first occurrence of the scheme pattern */
    size_t pl = strlen(pattern);
    for (size_t i = 0; i + pl <= m; i++) {
        if (memcmp(t + i, pattern, pl) == 0) {
            memmove(t + i, t + i + pl, m - i - pl);
            m -= pl;
            break;
        }
    }
    td_status s2 = td_md5_hex((const uint8_t *)t, m, out);
    td__free(t);
    if (s2 != TD_OK)
        return td__error_set(err, s2, "md5 failed");
    return TD_OK;
}
