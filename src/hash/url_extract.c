/* The URLs a text mentions (a reported message, docs/text_url.md): found by their look, kept when
 * the canonicaliser takes them, each once.
 *
 * What counts as a URL, from a word boundary (the byte before is not a letter, digit or one of
 * "._-@/:%+~"):
 *  - a web scheme, also defanged: http, https, hxxp, hxxps, h**p, h**ps (any case), then "://",
 *    "[://]" or "[:]//";
 *  - "www." (any case);
 *  - a bare host with a path: dot-separated labels of letters, digits and '-', the last of 2 to
 *    63 letters, directly followed by '/' ("t.me/channel").
 * It ends at a space or control byte, at '<', '>', '"' or '`'; trailing ".,;:!?'*" and closing
 * brackets without their opening one in the URL are not part of it ("(see x.org/a)."). Bare
 * host names without a path ("example.com") are not taken: in running text they are as often
 * file names or abbreviations as links.
 *
 * One pass, each byte looked at a bounded number of times; a candidate longer than TD_URL_MAX is
 * skipped, never copied. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "takedown/url.h"

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* Bytes that glue a position to the word before it: no URL starts after one. */
static int word_glue(unsigned char c)
{
    return is_alnum(c) || (c && strchr("._-@/:%+~", c) != NULL);
}

static int ends_url(unsigned char c)
{
    return c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '`';
}

/* Length of a web scheme and its separator at s[0..n), or 0. */
static size_t scheme_at(const char *s, size_t n)
{
    static const char *const schemes[] = {"https", "http", "hxxps", "hxxp", "h**ps", "h**p"};
    static const char *const seps[] = {"://", "[://]", "[:]//"};
    for (size_t k = 0; k < sizeof schemes / sizeof schemes[0]; k++) {
        size_t sl = strlen(schemes[k]), i = 0;
        if (sl > n)
            continue;
        while (i < sl && lower((unsigned char)s[i]) == schemes[k][i])
            i++;
        if (i < sl)
            continue;
        for (size_t j = 0; j < sizeof seps / sizeof seps[0]; j++) {
            size_t pl = strlen(seps[j]);
            if (sl + pl <= n && memcmp(s + sl, seps[j], pl) == 0)
                return sl + pl;
        }
    }
    return 0;
}

/* Length of "host/" at s[0..n) for a bare host with a path (the '/' included), or 0. */
static size_t bare_host_at(const char *s, size_t n)
{
    size_t i = 0, label = 0, labels = 0;
    int alpha_label = 1;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (is_alnum(c) || c == '-') {
            alpha_label &= is_alpha(c);
            label++;
        } else if (c == '.' && label > 0) {
            labels++;
            label = 0;
            alpha_label = 1;
        } else {
            break;
        }
        i++;
        if (i > TD_URL_HOST_MAX)
            return 0;
    }
    if (i < n && s[i] == '/' && labels >= 1 && label >= 2 && label <= 63 && alpha_label)
        return i + 1;
    return 0;
}

/* The end of the URL that starts at s[0] and whose first `fixed` bytes are its start; over
 * TD_URL_MAX when it is longer than a URL may be (the caller skips it). */
static size_t url_end(const char *s, size_t n, size_t fixed)
{
    static const char opening[] = "([{", closing[] = ")]}";
    size_t e = 0, opens[3] = {0}, closes[3] = {0};
    while (e < n && e <= TD_URL_MAX && (e < fixed || !ends_url((unsigned char)s[e]))) {
        for (int k = 0; k < 3; k++) {
            opens[k] += s[e] == opening[k];
            closes[k] += s[e] == closing[k];
        }
        e++;
    }
    if (e > TD_URL_MAX)
        return e;
    /* trailing punctuation, and closing brackets the URL does not open */
    while (e > fixed) {
        char c = s[e - 1];
        const char *close = c ? strchr(closing, c) : NULL;
        if (c && strchr(".,;:!?'*", c)) {
            e--;
        } else if (close && closes[close - closing] > opens[close - closing]) {
            closes[close - closing]--;
            e--;
        } else {
            break;
        }
    }
    return e;
}

void td_url_list_free(char **urls, size_t count)
{
    for (size_t i = 0; urls && i < count; i++)
        td__free(urls[i]);
    td__free(urls);
}

td_status td_url_extract(const char *text, size_t len, size_t max, char ***urls, size_t *count,
                         td_error *err)
{
    char **list = NULL;
    size_t n = 0;
    td_status st = TD_OK;
    *urls = NULL;
    *count = 0;
    if (max == 0 || max > TD_URL_EXTRACT_MAX)
        max = TD_URL_EXTRACT_MAX;
    if (!text && len)
        return td__error_set(err, TD_ERR_INVALID, "no text");
    list = td__calloc(max, sizeof *list);
    if (!list)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    size_t i = 0;
    while (i < len && n < max) {
        if (i > 0 && word_glue((unsigned char)text[i - 1])) {
            i++;
            continue;
        }
        const char *s = text + i;
        size_t rest = len - i, fixed = scheme_at(s, rest);
        if (!fixed && rest >= 4 && lower((unsigned char)s[0]) == 'w' &&
            lower((unsigned char)s[1]) == 'w' && lower((unsigned char)s[2]) == 'w' && s[3] == '.')
            fixed = 4;
        if (!fixed)
            fixed = bare_host_at(s, rest);
        if (!fixed) {
            i++;
            continue;
        }
        size_t e = url_end(s, rest, fixed);
        i += e > fixed ? e : fixed;
        if (e <= fixed || e > TD_URL_MAX)
            continue; /* nothing after the start, or too long: skipped, never copied */
        char *canon = NULL;
        td_error ignored;
        st = td_url_canonicalize(s, e, &canon, &ignored);
        if (st == TD_ERR_NOMEM)
            break;
        st = TD_OK;
        if (!canon)
            continue; /* not a URL after all */
        int seen = 0;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(list[k], canon) == 0;
        if (seen)
            td__free(canon);
        else
            list[n++] = canon;
    }
    if (st) {
        td_url_list_free(list, n);
        return td__error_set(err, st, "out of memory");
    }
    if (n == 0) {
        td__free(list);
        list = NULL;
    }
    *urls = list;
    *count = n;
    return TD_OK;
}
