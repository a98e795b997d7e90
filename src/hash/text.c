/* raw_text: normalisation with libunistring (case mapping, NFKD, combining classes, general
 * categories), the 5% Levenshtein rule, and the pigeonhole candidate index (see text.h for why it
 * is exact). Texts are handled as arrays of code points, the unit Python's len() and
 * Levenshtein.distance count in. */
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "core/alloc.h"
#include "core/error.h"
#include "takedown/text.h"

#define MAX_PIECE 16
#define HASH_BASE UINT64_C(0x100000001b3)

/* ---- normalisation ---- */

static td_status normalize_u32(const char *utf8, size_t len, uint32_t **out, size_t *out_len,
                               td_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (len > TD_TEXT_MAX_BYTES)
        return td__error_set(err, TD_ERR_LIMIT, "text of %zu bytes, over the limit of %zu", len,
                             TD_TEXT_MAX_BYTES);
    if (u8_check((const uint8_t *)utf8, len) != NULL)
        return td__error_set(err, TD_ERR_INVALID, "text is not valid UTF-8");
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
        if (uc_is_general_category(c, UC_CATEGORY_L) || uc_is_general_category(c, UC_CATEGORY_N))
            cp[o++] = c;
    }
    *out = cp;
    *out_len = o;
    return TD_OK;
}

td_status td_text_normalize(const char *utf8, size_t len, char **out, size_t *out_len,
                            td_error *err)
{
    uint32_t *cp;
    size_t n;
    *out = NULL;
    *out_len = 0;
    td_status s = normalize_u32(utf8, len, &cp, &n, err);
    if (s != TD_OK)
        return s;
    char *r = td__mallocarray(n * 4 + 1, 1);
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

/* ---- the rule ---- */

/* len(a) - len(a) * 95 / 100 in Python's arithmetic (int * int, true division, int - float). */
static double max_distance(size_t n)
{
    return (double)n - (double)(n * (100 - TD_TEXT_DEFAULT_PERCENT)) / 100.0;
}

size_t td_text_levenshtein_bounded(const uint32_t *a, size_t n, const uint32_t *b, size_t m,
                                   size_t max)
{
    while (n > 0 && m > 0 && a[0] == b[0])
        a++, b++, n--, m--;
    while (n > 0 && m > 0 && a[n - 1] == b[m - 1])
        n--, m--;
    size_t diff = n > m ? n - m : m - n;
    if (diff > max)
        return max + 1;
    if (n == 0 || m == 0)
        return diff;
    /* Diagonal transitions (Ukkonen): fr[d] = furthest row i on diagonal d = j - i reachable
     * with e edits; e grows until diagonal m - n reaches row n. */
    const int64_t none = INT64_MIN / 4;
    size_t width = 2 * max + 3;
    int64_t *prev = td__mallocarray(width, sizeof *prev);
    int64_t *cur = td__mallocarray(width, sizeof *cur);
    size_t result = max + 1;
    if (!prev || !cur)
        goto done; /* out of memory: report "no match" conservatively */
    for (size_t i = 0; i < width; i++)
        prev[i] = cur[i] = none;
    int64_t off = (int64_t)max + 1, N = (int64_t)n, M = (int64_t)m, target = M - N;
    for (int64_t e = 0; e <= (int64_t)max; e++) {
        int64_t lo = -e > -N ? -e : -N, hi = e < M ? e : M;
        for (int64_t d = lo; d <= hi; d++) {
            int64_t i;
            if (e == 0) {
                i = 0;
            } else {
                i = prev[d + off] + 1;
                if (prev[d + 1 + off] + 1 > i)
                    i = prev[d + 1 + off] + 1;
                if (prev[d - 1 + off] > i)
                    i = prev[d - 1 + off];
                if (i < 0) {
                    cur[d + off] = none;
                    continue;
                }
            }
            if (i > N)
                i = N;
            if (i + d > M)
                i = M - d;
            while (i < N && i + d < M && a[i] == b[i + d])
                i++;
            cur[d + off] = i;
        }
        if (target >= lo && target <= hi && cur[target + off] >= N) {
            result = (size_t)e;
            break;
        }
        int64_t *t = prev;
        prev = cur;
        cur = t;
    }
done:
    td__free(prev);
    td__free(cur);
    return result;
}

static int rule(const uint32_t *a, size_t n, const uint32_t *b, size_t m, size_t *distance)
{
    double md = max_distance(n);
    size_t diff = n > m ? n - m : m - n;
    if ((double)diff > md) {
        *distance = diff;
        return 0;
    }
    size_t k = (size_t)md;
    *distance = td_text_levenshtein_bounded(a, n, b, m, k);
    return (double)*distance <= md;
}

td_status td_text_raw_match(const char *signal, size_t signal_len, const char *haystack,
                            size_t haystack_len, int *match, size_t *distance, td_error *err)
{
    uint32_t *a, *b;
    size_t n, m;
    *match = 0;
    *distance = 0;
    td_status s = normalize_u32(signal, signal_len, &a, &n, err);
    if (s != TD_OK)
        return s;
    s = normalize_u32(haystack, haystack_len, &b, &m, err);
    if (s != TD_OK) {
        td__free(a);
        return s;
    }
    *match = rule(a, n, b, m, distance);
    td__free(a);
    td__free(b);
    return TD_OK;
}

/* ---- candidate index ---- */

struct doc {
    uint64_t id;
    uint32_t *text;
    size_t len;
};

struct entry {
    uint32_t doc;
    uint32_t pos;
    uint32_t next; /* entry index + 1, 0 ends the chain */
};

struct td_text_index {
    struct doc *docs;
    size_t n_docs, cap_docs;
    struct entry *entries;
    size_t n_entries, cap_entries;
    uint64_t *keys; /* open addressing, 0 = empty */
    uint32_t *heads;
    size_t slots, used;
    size_t len_min[MAX_PIECE + 1], len_max[MAX_PIECE + 1]; /* per piece length L */
};

td_status td_text_index_new(td_text_index **out, td_error *err)
{
    *out = td__calloc(1, sizeof **out);
    if (!*out)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    for (int l = 0; l <= MAX_PIECE; l++)
        (*out)->len_min[l] = SIZE_MAX;
    return TD_OK;
}

void td_text_index_free(td_text_index *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_docs; i++)
        td__free(x->docs[i].text);
    td__free(x->docs);
    td__free(x->entries);
    td__free(x->keys);
    td__free(x->heads);
    td__free(x);
}

size_t td_text_index_size(const td_text_index *x) { return x->n_docs; }

static uint64_t window_key(uint64_t h, size_t l)
{
    h ^= (uint64_t)l * UINT64_C(0x9e3779b97f4a7c15);
    h ^= h >> 31;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 29;
    return h | 1;
}

static uint64_t hash_window(const uint32_t *s, size_t l)
{
    uint64_t h = 0;
    for (size_t i = 0; i < l; i++)
        h = h * HASH_BASE + s[i] + 1;
    return h;
}

/* The piece layout of a text of n code points: k + 1 pieces of `step`, indexed by their first
 * `l` code points (a power of two, at most MAX_PIECE). */
static void layout(size_t n, size_t *k, size_t *step, size_t *l)
{
    *k = (size_t)max_distance(n);
    *step = n / (*k + 1);
    size_t p = 1;
    while (p * 2 <= *step && p * 2 <= MAX_PIECE)
        p *= 2;
    *l = *step ? p : 0;
}

static td_status grow_table(td_text_index *x, td_error *err)
{
    size_t slots = x->slots ? x->slots * 2 : 1024;
    uint64_t *keys = td__calloc(slots, sizeof *keys);
    uint32_t *heads = td__calloc(slots, sizeof *heads);
    if (!keys || !heads) {
        td__free(keys);
        td__free(heads);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory for the text index");
    }
    for (size_t i = 0; i < x->slots; i++) {
        if (!x->keys[i])
            continue;
        size_t j = (size_t)(x->keys[i] >> 7) & (slots - 1);
        while (keys[j])
            j = (j + 1) & (slots - 1);
        keys[j] = x->keys[i];
        heads[j] = x->heads[i];
    }
    td__free(x->keys);
    td__free(x->heads);
    x->keys = keys;
    x->heads = heads;
    x->slots = slots;
    return TD_OK;
}

static size_t find_slot(const td_text_index *x, uint64_t key)
{
    size_t j = (size_t)(key >> 7) & (x->slots - 1);
    while (x->keys[j] && x->keys[j] != key)
        j = (j + 1) & (x->slots - 1);
    return j;
}

static td_status insert(td_text_index *x, uint64_t key, uint32_t doc, uint32_t pos, td_error *err)
{
    if ((x->used + 1) * 4 > x->slots * 3) {
        td_status s = grow_table(x, err);
        if (s != TD_OK)
            return s;
    }
    if (x->n_entries == x->cap_entries) {
        size_t cap = x->cap_entries ? x->cap_entries * 2 : 4096;
        if (cap > UINT32_MAX - 1)
            return td__error_set(err, TD_ERR_LIMIT, "text index full");
        struct entry *grown = td__realloc(x->entries, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory for the text index");
        x->entries = grown;
        x->cap_entries = cap;
    }
    size_t j = find_slot(x, key);
    if (!x->keys[j]) {
        x->keys[j] = key;
        x->used++;
    }
    struct entry *e = &x->entries[x->n_entries];
    e->doc = doc;
    e->pos = pos;
    e->next = x->heads[j];
    x->heads[j] = (uint32_t)(++x->n_entries);
    return TD_OK;
}

td_status td_text_index_add(td_text_index *x, uint64_t id, const char *utf8, size_t len,
                            td_error *err)
{
    if (x->n_docs >= UINT32_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "text index full");
    if (x->n_docs == x->cap_docs) {
        size_t cap = x->cap_docs ? x->cap_docs * 2 : 256;
        struct doc *grown = td__realloc(x->docs, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        x->docs = grown;
        x->cap_docs = cap;
    }
    struct doc d = {.id = id};
    td_status s = normalize_u32(utf8, len, &d.text, &d.len, err);
    if (s != TD_OK)
        return s;
    uint32_t di = (uint32_t)x->n_docs;
    size_t k, step, l;
    layout(d.len, &k, &step, &l);
    for (size_t p = 0; l && p <= k && s == TD_OK; p++) {
        size_t pos = p * step;
        s = insert(x, window_key(hash_window(d.text + pos, l), l), di, (uint32_t)pos, err);
    }
    if (s != TD_OK) {
        /* entries already inserted point at di: keep the document so they stay valid */
        x->docs[x->n_docs++] = d;
        return s;
    }
    if (l) {
        if (d.len < x->len_min[l])
            x->len_min[l] = d.len;
        if (d.len > x->len_max[l])
            x->len_max[l] = d.len;
    }
    x->docs[x->n_docs++] = d;
    return TD_OK;
}

struct found {
    td_text_match *v;
    size_t n, cap;
};

static td_status add_found(struct found *f, uint64_t id, size_t distance, td_error *err)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        td_text_match *grown = td__realloc(f->v, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        f->v = grown;
        f->cap = cap;
    }
    f->v[f->n].id = id;
    f->v[f->n].distance = distance;
    f->n++;
    return TD_OK;
}

td_status td_text_index_query(td_text_index *x, const char *utf8, size_t len,
                              td_text_match **matches, size_t *count, td_text_query_stats *stats,
                              td_error *err)
{
    uint32_t *b;
    size_t m;
    *matches = NULL;
    *count = 0;
    if (stats)
        memset(stats, 0, sizeof *stats);
    td_status s = normalize_u32(utf8, len, &b, &m, err);
    if (s != TD_OK)
        return s;
    uint8_t *seen = td__calloc(x->n_docs / 8 + 1, 1);
    uint32_t *cand = NULL;
    size_t n_cand = 0, cap_cand = 0;
    struct found f = {0};
    if (!seen) {
        td__free(b);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    /* Documents whose pieces are empty (fewer code points than pieces) are checked directly:
     * only the empty text has none, and it matches only an empty query. */
    if (m == 0) {
        for (size_t i = 0; i < x->n_docs && s == TD_OK; i++)
            if (x->docs[i].len == 0)
                s = add_found(&f, x->docs[i].id, 0, err);
    }
    for (size_t l = 1; l <= MAX_PIECE && m > 0 && s == TD_OK; l *= 2) {
        if (x->len_min[l] == SIZE_MAX || l > m)
            continue;
        /* n can only match if |n - m| <= 5% of n: n in about [m / 1.05, m / 0.95]. */
        if ((double)x->len_max[l] < (double)m / 1.06 || (double)x->len_min[l] > (double)m / 0.94)
            continue;
        uint64_t pw = 1;
        for (size_t i = 0; i < l; i++)
            pw *= HASH_BASE;
        uint64_t h = hash_window(b, l);
        for (size_t p = 0; p + l <= m && s == TD_OK; p++) {
            if (p > 0)
                h = h * HASH_BASE + b[p + l - 1] + 1 - pw * (b[p - 1] + 1);
            uint64_t key = window_key(h, l);
            size_t slot = find_slot(x, key);
            for (uint32_t e = x->heads[slot]; x->keys[slot] && e; e = x->entries[e - 1].next) {
                const struct entry *en = &x->entries[e - 1];
                if (seen[en->doc >> 3] & (1u << (en->doc & 7)))
                    continue;
                size_t n = x->docs[en->doc].len;
                double md = max_distance(n);
                size_t diff = n > m ? n - m : m - n;
                size_t shift = p > en->pos ? p - en->pos : en->pos - p;
                if ((double)diff > md || (double)shift > md)
                    continue;
                seen[en->doc >> 3] |= (uint8_t)(1u << (en->doc & 7));
                if (n_cand == cap_cand) {
                    size_t cap = cap_cand ? cap_cand * 2 : 64;
                    uint32_t *grown = td__realloc(cand, cap * sizeof *grown);
                    if (!grown) {
                        s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
                        break;
                    }
                    cand = grown;
                    cap_cand = cap;
                }
                cand[n_cand++] = en->doc;
            }
        }
    }
    for (size_t i = 0; i < n_cand && s == TD_OK; i++) {
        const struct doc *d = &x->docs[cand[i]];
        size_t distance;
        if (rule(d->text, d->len, b, m, &distance))
            s = add_found(&f, d->id, distance, err);
    }
    if (stats)
        stats->candidates = n_cand;
    td__free(cand);
    td__free(seen);
    td__free(b);
    if (s != TD_OK) {
        td__free(f.v);
        return s;
    }
    *matches = f.v;
    *count = f.n;
    return TD_OK;
}

td_status td_text_index_query_brute(td_text_index *x, const char *utf8, size_t len,
                                    td_text_match **matches, size_t *count, td_error *err)
{
    uint32_t *b;
    size_t m;
    *matches = NULL;
    *count = 0;
    td_status s = normalize_u32(utf8, len, &b, &m, err);
    if (s != TD_OK)
        return s;
    struct found f = {0};
    for (size_t i = 0; i < x->n_docs && s == TD_OK; i++) {
        size_t distance;
        if (rule(x->docs[i].text, x->docs[i].len, b, m, &distance))
            s = add_found(&f, x->docs[i].id, distance, err);
    }
    td__free(b);
    if (s != TD_OK) {
        td__free(f.v);
        return s;
    }
    *matches = f.v;
    *count = f.n;
    return TD_OK;
}
