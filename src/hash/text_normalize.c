/* raw_text normalisation (python-threatexchange's normalize_string): Unicode lower case, NFKD,
 * combining marks removed, the reference's "(.)(\1)+" substitution, letters and digits kept.
 *
 * Most texts are mostly ASCII, where all of this is a table lookup per byte, so bytes below
 * 0x80 take that path and only runs containing other bytes go through libunistring. Cutting
 * the text there is exact: an ASCII character is a starter (canonical ordering never moves a
 * mark across it, and NFKD composes nothing), the only context-dependent lower-case mapping
 * without a language (final sigma) gets the casing context of the whole text through
 * u8_ct_tolower, and the U+0001 rule runs on the joined output. Tests compare the result with
 * the whole-text path on random mixed inputs. */
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/text_int.h"

/* A non-ASCII run ends at the first run of this many ASCII bytes (shorter ones, such as the
 * spaces between words of a Cyrillic text, stay inside it: one library call per run). */
#define ASCII_RUN 16

static td_status check_input(const char *utf8, size_t len, td_error *err)
{
    if (len > TD_TEXT_MAX_BYTES)
        return td__error_set(err, TD_ERR_LIMIT, "text of %zu bytes, over the limit of %zu", len,
                             TD_TEXT_MAX_BYTES);
    if (u8_check((const uint8_t *)utf8, len) != NULL)
        return td__error_set(err, TD_ERR_INVALID, "text is not valid UTF-8");
    return TD_OK;
}

static int is_letter_or_number(ucs4_t c)
{
    return uc_is_general_category(c, UC_CATEGORY_L) || uc_is_general_category(c, UC_CATEGORY_N);
}

td_status td__text_normalize_u32_unicode(const char *utf8, size_t len, uint32_t **out,
                                         size_t *out_len, td_error *err)
{
    *out = NULL;
    *out_len = 0;
    td_status s = check_input(utf8, len, err);
    if (s != TD_OK)
        return s;
    size_t ln = 0;
    /* Locale-independent full lower-casing (final sigma included), then NFKD. */
    uint8_t *lower = u8_tolower((const uint8_t *)utf8, len, NULL, UNINORM_NFKD, NULL, &ln);
    if (!lower && len > 0)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory normalising text");
    uint32_t *cp = td__mallocarray(ln + 1, sizeof *cp);
    if (!cp) {
        free(lower);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < ln;) {
        ucs4_t c;
        int k = u8_mbtouc(&c, lower + i, ln - i);
        i += (size_t)(k > 0 ? k : 1);
        if (uc_combining_class(c) != 0)
            continue;
        cp[n++] = c;
    }
    free(lower);
    /* The reference's re.sub("(.)(\1)+", ...) with \1 = U+0001: a character followed by U+0001
     * goes (the U+0001 themselves go with the non-alphanumerics below). */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && cp[i + 1] == 1 && cp[i] != '\n')
            continue;
        uint32_t c = cp[i];
        if (is_letter_or_number(c))
            cp[o++] = c;
    }
    *out = cp;
    *out_len = o;
    return TD_OK;
}

/* The output, and whether the last code point seen (after case mapping, NFKD and mark removal)
 * was kept: a U+0001 after it removes it. Letters and digits are kept; '\n', the one character
 * the reference's "." does not match, never is, so the rule needs no exception for it here. */
struct sink {
    uint32_t *v;
    size_t n, cap;
    int last_kept;
};

static void sink_push(struct sink *k, uint32_t c, int keep)
{
    if (c == 1) {
        k->n -= (size_t)k->last_kept;
        k->last_kept = 0;
        return;
    }
    k->v[k->n] = c;
    k->n += (size_t)keep;
    k->last_kept = keep;
}

static int sink_reserve(struct sink *k, size_t more)
{
    if (k->cap - k->n >= more)
        return 0;
    size_t cap = k->cap;
    while (cap - k->n < more) {
        if (cap > SIZE_MAX / 8)
            return -1;
        cap *= 2;
    }
    uint32_t *grown = td__realloc(k->v, cap * sizeof *grown);
    if (!grown)
        return -1;
    k->v = grown;
    k->cap = cap;
    return 0;
}

/* Lower case of ASCII letters and digits; 0 for every other byte below 0x80. */
static const uint8_t ascii_keep[128] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6',
    ['7'] = '7', ['8'] = '8', ['9'] = '9', ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd',
    ['e'] = 'e', ['f'] = 'f', ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k',
    ['l'] = 'l', ['m'] = 'm', ['n'] = 'n', ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r',
    ['s'] = 's', ['t'] = 't', ['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y',
    ['z'] = 'z', ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
    ['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm',
    ['N'] = 'n', ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't',
    ['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z',
};

/* Bytes [from, to) of s, all below 0x80; returns where a byte >= 0x80 stopped it. */
static size_t ascii_run(struct sink *k, const uint8_t *s, size_t from, size_t to)
{
    uint32_t *v = k->v;
    size_t n = k->n;
    int last = k->last_kept;
    size_t i = from;
    for (; i < to; i++) {
        uint8_t c = s[i];
        if (c >= 0x80)
            break;
        if (c == 1) {
            n -= (size_t)last;
            last = 0;
            continue;
        }
        uint8_t t = ascii_keep[c];
        v[n] = t;
        last = t != 0;
        n += (size_t)last;
    }
    k->n = n;
    k->last_kept = last;
    return i;
}

/* Bytes [from, to) of s (whole characters) through libunistring, with the casing context of
 * the text around them. */
static td_status unicode_run(struct sink *k, const uint8_t *s, size_t len, size_t from, size_t to,
                             td_error *err)
{
    uint8_t buf[1024];
    size_t ln = sizeof buf;
    uint8_t *lower =
        u8_ct_tolower(s + from, to - from, u8_casing_prefix_context(s, from),
                      u8_casing_suffix_context(s + to, len - to), NULL, UNINORM_NFKD, buf, &ln);
    if (!lower)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory normalising text");
    td_status st = TD_OK;
    /* at most one code point per byte of the UTF-8 result */
    if (sink_reserve(k, ln + 1)) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < ln;) {
            ucs4_t c;
            int m = u8_mbtouc(&c, lower + i, ln - i);
            i += (size_t)(m > 0 ? m : 1);
            if (c == 1)
                sink_push(k, 1, 0);
            else if (c < 0x80) /* as it is: NFKD may give 'A' (from U+1D400) after lower case */
                sink_push(k, c, ascii_keep[c] != 0);
            else if (uc_combining_class(c) == 0)
                sink_push(k, c, is_letter_or_number(c));
        }
    }
    if (lower != buf)
        free(lower);
    return st;
}

td_status td__text_normalize_u32(const char *utf8, size_t len, uint32_t **out, size_t *out_len,
                                 td_error *err)
{
    *out = NULL;
    *out_len = 0;
    td_status st = check_input(utf8, len, err);
    if (st != TD_OK)
        return st;
    const uint8_t *s = (const uint8_t *)utf8;
    /* ASCII needs one code point per byte at most; non-ASCII runs reserve what they need */
    struct sink k = {.v = td__mallocarray(len + 1, sizeof(uint32_t)), .cap = len + 1};
    if (!k.v)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < len && st == TD_OK;) {
        i = ascii_run(&k, s, i, len);
        if (i == len)
            break;
        /* a non-ASCII run: up to the next ASCII_RUN ASCII bytes in a row, or the end */
        size_t end = i, ascii = 0;
        while (end < len && ascii < ASCII_RUN)
            ascii = s[end++] < 0x80 ? ascii + 1 : 0;
        if (ascii == ASCII_RUN)
            end -= ASCII_RUN;
        st = unicode_run(&k, s, len, i, end, err);
        i = end;
        /* the ASCII path writes at most one code point per byte: keep room for the rest */
        if (st == TD_OK && sink_reserve(&k, len - i + 1))
            st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    if (st != TD_OK) {
        td__free(k.v);
        return st;
    }
    *out = k.v;
    *out_len = k.n;
    return TD_OK;
}

td_status td_text_normalize(const char *utf8, size_t len, char **out, size_t *out_len,
                            td_error *err)
{
    uint32_t *cp;
    size_t n;
    *out = NULL;
    *out_len = 0;
    td_status s = td__text_normalize_u32(utf8, len, &cp, &n, err);
    if (s != TD_OK)
        return s;
    char *r = td__mallocarray(n * 4 + 1, 1); /* n is far below SIZE_MAX / 4 */
    if (!r) {
        td__free(cp);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int k = u8_uctomb((uint8_t *)r + o, cp[i], 4);
        o += (size_t)(k > 0 ? k : 0);
    }
    r[o] = '\0';
    td__free(cp);
    *out = r;
    *out_len = o;
    return TD_OK;
}
