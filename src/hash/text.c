/* raw_text: normalisation with libunistring (case mapping, NFKD, combining classes, general
 * categories), the 5% Levenshtein rule, and the pigeonhole candidate index (see text.h for why it
 * is exact). Texts are handled as arrays of code points, the unit Python's len() and
 * Levenshtein.distance count in. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* Diagonal transitions (Ukkonen, Landau-Vishkin) on strings without a common prefix or suffix:
 * fr[d] = furthest row i on diagonal d = j - i reachable with e edits; e grows until diagonal
 * m - n reaches row n. Returns the distance if <= max, else max + 1. A state (e, d) can lie on a
 * path of cost <= max only if e + |d - target| <= max (each diagonal step costs an edit), so
 * other diagonals are skipped; band further limits |d - target| (SIZE_MAX: no limit), which
 * makes the result an upper bound of the distance instead of the distance. */
static size_t diagonal_distance(const uint32_t *a, size_t n, const uint32_t *b, size_t m,
                                size_t max, size_t band)
{
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
    int64_t bw = band < max ? (int64_t)band : (int64_t)max;
    for (int64_t e = 0; e <= (int64_t)max; e++) {
        int64_t reach = (int64_t)max - e < bw ? (int64_t)max - e : bw;
        int64_t lo = -e > -N ? -e : -N, hi = e < M ? e : M;
        if (lo < target - reach)
            lo = target - reach;
        if (hi > target + reach)
            hi = target + reach;
        /* diagonals that just left the range must not feed the next level stale values */
        if (lo - 1 >= -off)
            cur[lo - 1 + off] = none;
        if (hi + 1 + off < (int64_t)width)
            cur[hi + 1 + off] = none;
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
            const uint32_t *pa = a + i, *pb = b + i + d;
            int64_t stop = N - i < M - i - d ? N - i : M - i - d, k = 0;
            while (k < stop && pa[k] == pb[k])
                k++;
            cur[d + off] = i + k;
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
    /* The exact search costs about max^2 / 2 diagonal steps: first an upper bound from a narrow
     * band (cheap: 65 diagonals), then the exact search bounded by it. */
    if (max > 256) {
        size_t upper = diagonal_distance(a, n, b, m, max, 32);
        if (upper <= max)
            max = upper;
    }
    return diagonal_distance(a, n, b, m, max, SIZE_MAX);
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

/* Documents are bucketed by length class (the top four significant bits of the length: classes
 * differ by at most 1/8), so that a query only looks at documents whose length the rule allows. */
#define N_CLASSES 256
/* The q-gram count filter: blocks of QGRAM code points. */
#define QGRAM 8
#define QGRAM_MIN_K 4 /* below, verifying directly is cheaper than counting */

struct doc {
    uint64_t id;
    void *text; /* code points of `width` bytes each */
    uint32_t len;
    uint8_t width;
};

struct entry {
    uint32_t doc;
    uint32_t pos;
    uint32_t next; /* entry index + 1, 0 ends the chain */
};

struct length_class {
    uint32_t *docs;
    size_t n, cap;
    uint64_t code_points;   /* sum of the lengths, for the query's cost estimate */
    unsigned piece_lengths; /* bit l: some document indexes pieces of l code points */
};

struct td_text_index {
    struct doc *docs;
    size_t n_docs, cap_docs;
    struct entry *entries;
    size_t n_entries, cap_entries;
    uint64_t *keys; /* open addressing, 0 = empty */
    uint32_t *heads;
    size_t slots, used;
    struct length_class classes[N_CLASSES];
};

static unsigned length_class(size_t n)
{
    if (n < 16)
        return (unsigned)n;
    unsigned lg = 63u - (unsigned)__builtin_clzll((unsigned long long)n);
    return 16 + (lg - 4) * 8 + (unsigned)((n >> (lg - 3)) & 7);
}

td_status td_text_index_new(td_text_index **out, td_error *err)
{
    *out = td__calloc(1, sizeof **out);
    if (!*out)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    return TD_OK;
}

void td_text_index_free(td_text_index *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_docs; i++)
        td__free(x->docs[i].text);
    for (size_t c = 0; c < N_CLASSES; c++)
        td__free(x->classes[c].docs);
    td__free(x->docs);
    td__free(x->entries);
    td__free(x->keys);
    td__free(x->heads);
    td__free(x);
}

size_t td_text_index_size(const td_text_index *x) { return x->n_docs; }

static uint64_t window_key(uint64_t h, size_t l, unsigned cls)
{
    h ^= ((uint64_t)l << 8 | cls) * UINT64_C(0x9e3779b97f4a7c15);
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

/* Room for `more` entries and keys, before anything is inserted (so that a document is either
 * fully indexed or not at all). */
static td_status reserve(td_text_index *x, size_t more, td_error *err)
{
    while ((x->used + more) * 4 > x->slots * 3) {
        td_status s = grow_table(x, err);
        if (s != TD_OK)
            return s;
    }
    if (x->n_entries + more > x->cap_entries) {
        size_t cap = x->cap_entries ? x->cap_entries : 4096;
        while (cap < x->n_entries + more)
            cap *= 2;
        if (cap > UINT32_MAX - 1)
            return td__error_set(err, TD_ERR_LIMIT, "text index full");
        struct entry *grown = td__realloc(x->entries, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory for the text index");
        x->entries = grown;
        x->cap_entries = cap;
    }
    return TD_OK;
}

static void insert(td_text_index *x, uint64_t key, uint32_t doc, uint32_t pos)
{
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
}

/* Code points stored in 1, 2 or 4 bytes each, whichever holds the largest. */
static td_status pack_text(const uint32_t *cp, size_t n, struct doc *d, td_error *err)
{
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++)
        top |= cp[i];
    d->width = top < 0x100 ? 1 : top < 0x10000 ? 2 : 4;
    d->text = td__mallocarray(n ? n : 1, d->width);
    if (!d->text)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    if (d->width == 1) {
        uint8_t *t = d->text;
        for (size_t i = 0; i < n; i++)
            t[i] = (uint8_t)cp[i];
    } else if (d->width == 2) {
        uint16_t *t = d->text;
        for (size_t i = 0; i < n; i++)
            t[i] = (uint16_t)cp[i];
    } else {
        memcpy(d->text, cp, n * sizeof *cp);
    }
    return TD_OK;
}

static void unpack_text(const struct doc *d, uint32_t *out)
{
    if (d->width == 1) {
        const uint8_t *t = d->text;
        for (size_t i = 0; i < d->len; i++)
            out[i] = t[i];
    } else if (d->width == 2) {
        const uint16_t *t = d->text;
        for (size_t i = 0; i < d->len; i++)
            out[i] = t[i];
    } else {
        memcpy(out, d->text, (size_t)d->len * sizeof *out);
    }
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
    uint32_t *cp;
    size_t n;
    td_status s = normalize_u32(utf8, len, &cp, &n, err);
    if (s != TD_OK)
        return s;
    struct doc d = {.id = id, .len = (uint32_t)n};
    size_t k, step, l;
    layout(n, &k, &step, &l);
    unsigned cls = length_class(n);
    struct length_class *c = &x->classes[cls];
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        uint32_t *grown = td__realloc(c->docs, cap * sizeof *grown);
        if (!grown)
            s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        else
            c->docs = grown, c->cap = cap;
    }
    if (s == TD_OK && l)
        s = reserve(x, k + 1, err);
    if (s == TD_OK)
        s = pack_text(cp, n, &d, err);
    if (s != TD_OK) {
        td__free(cp);
        return s;
    }
    uint32_t di = (uint32_t)x->n_docs;
    for (size_t p = 0; l && p <= k; p++)
        insert(x, window_key(hash_window(cp + p * step, l), l, cls), di, (uint32_t)(p * step));
    td__free(cp);
    if (l)
        c->piece_lengths |= 1u << l;
    c->docs[c->n++] = di;
    c->code_points += n;
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

/* Can a document of n code points match a query of m under the rule's length test alone? */
static int length_ok(size_t n, size_t m)
{
    size_t diff = n > m ? n - m : m - n;
    return (double)diff <= max_distance(n);
}

/* The query's q-grams with their multiplicities, for the count filter: if ed(a, b) <= k, at
 * least floor(n / q) - k of the n / q disjoint q-grams ("blocks") of a are untouched (an edit
 * touches at most one block) and each appears in b, at distinct positions of b. So a document
 * whose blocks find fewer than that among b's q-grams (each q-gram of b used at most once)
 * cannot match. Q-grams are compared by a 32-bit hash: a collision only lets a block find a
 * partner it should not, so the test stays exact. Both sides are sorted hash lists (radix sort)
 * and counted by one merge: sequential memory access instead of a probe per block. */
struct grams {
    uint32_t *b; /* the query's q-gram hashes, sorted */
    size_t nb;
    uint32_t *a, *tmp; /* a document's block hashes, and scratch for sorting */
    size_t cap;
};

static uint32_t gram_hash(const uint32_t *s)
{
    uint64_t h = hash_window(s, QGRAM);
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return (uint32_t)h;
}

/* LSD radix sort, 4 passes of 8 bits; the result ends in v. */
static void radix_sort(uint32_t *v, uint32_t *tmp, size_t n)
{
    size_t count[256];
    for (unsigned shift = 0; shift < 32; shift += 8) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(v[i] >> shift) & 255]++;
        size_t sum = 0;
        for (int c = 0; c < 256; c++) {
            size_t t = count[c];
            count[c] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(v[i] >> shift) & 255]++] = v[i];
        uint32_t *t = v;
        v = tmp;
        tmp = t;
    }
    /* four passes: the sorted data is back in the original v */
}

static td_status grams_build(struct grams *g, const uint32_t *b, size_t m, td_error *err)
{
    g->nb = m >= QGRAM ? m - QGRAM + 1 : 0;
    g->b = td__mallocarray(g->nb ? g->nb : 1, sizeof *g->b);
    uint32_t *tmp = td__mallocarray(g->nb ? g->nb : 1, sizeof *tmp);
    if (!g->b || !tmp) {
        td__free(tmp);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->nb; i++)
        g->b[i] = gram_hash(b + i);
    radix_sort(g->b, tmp, g->nb);
    td__free(tmp);
    return TD_OK;
}

static void grams_free(struct grams *g)
{
    td__free(g->b);
    td__free(g->a);
    td__free(g->tmp);
}

/* 0 when the count filter proves that a (n code points, threshold k) cannot match; -1 when out
 * of memory. */
static int grams_pass(struct grams *g, const uint32_t *a, size_t n, size_t k)
{
    size_t blocks = n / QGRAM;
    if (blocks <= k)
        return 1; /* the bound says nothing */
    size_t need = blocks - k;
    if (blocks > g->cap) {
        td__free(g->a);
        td__free(g->tmp);
        g->a = td__mallocarray(blocks, sizeof *g->a);
        g->tmp = td__mallocarray(blocks, sizeof *g->tmp);
        g->cap = g->a && g->tmp ? blocks : 0;
        if (!g->cap)
            return -1;
    }
    for (size_t i = 0; i < blocks; i++)
        g->a[i] = gram_hash(a + i * QGRAM);
    radix_sort(g->a, g->tmp, blocks);
    /* sum over hashes of min(count in a, count in b) */
    size_t hits = 0, i = 0, j = 0;
    while (i < blocks && j < g->nb) {
        if (g->a[i] < g->b[j]) {
            i++;
        } else if (g->a[i] > g->b[j]) {
            j++;
        } else {
            hits++;
            i++;
            j++;
        }
    }
    return hits >= need;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct candidates {
    uint32_t *v;
    size_t n, cap;
};

static int push_candidate(struct candidates *c, uint32_t doc)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        uint32_t *grown = td__realloc(c->v, cap * sizeof *grown);
        if (!grown)
            return -1;
        c->v = grown;
        c->cap = cap;
    }
    c->v[c->n++] = doc;
    return 0;
}

/* Stage 1 by the piece table: every window of b against the pieces of the documents in classes
 * lo..hi; keeps each document with a piece within its threshold of its own position. */
static td_status probe_pieces(const td_text_index *x, const uint32_t *b, size_t m, unsigned lo,
                              unsigned hi, uint8_t *seen, struct candidates *cand, td_error *err)
{
    for (size_t l = 1; l <= MAX_PIECE; l *= 2) {
        unsigned first = N_CLASSES, last = 0;
        for (unsigned c = lo; c <= hi; c++)
            if (x->classes[c].piece_lengths & (1u << l)) {
                if (first == N_CLASSES)
                    first = c;
                last = c;
            }
        if (first == N_CLASSES || l > m)
            continue;
        uint64_t pw = 1;
        for (size_t i = 0; i < l; i++)
            pw *= HASH_BASE;
        uint64_t h = hash_window(b, l);
        for (size_t p = 0; p + l <= m; p++) {
            if (p > 0)
                h = h * HASH_BASE + b[p + l - 1] + 1 - pw * (b[p - 1] + 1);
            for (unsigned c = first; c <= last; c++) {
                if (!(x->classes[c].piece_lengths & (1u << l)))
                    continue;
                size_t slot = find_slot(x, window_key(h, l, c));
                if (!x->keys[slot])
                    continue;
                for (uint32_t e = x->heads[slot]; e; e = x->entries[e - 1].next) {
                    const struct entry *en = &x->entries[e - 1];
                    if (seen[en->doc >> 3] & (1u << (en->doc & 7)))
                        continue;
                    size_t n = x->docs[en->doc].len;
                    size_t shift = p > en->pos ? p - en->pos : en->pos - p;
                    if (!length_ok(n, m) || (double)shift > max_distance(n))
                        continue;
                    seen[en->doc >> 3] |= (uint8_t)(1u << (en->doc & 7));
                    if (push_candidate(cand, en->doc))
                        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
                }
            }
        }
    }
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
    td_text_query_stats st = {0};
    if (stats)
        memset(stats, 0, sizeof *stats);
    uint64_t t0 = now_ns();
    td_status s = normalize_u32(utf8, len, &b, &m, err);
    if (s != TD_OK)
        return s;
    uint64_t t1 = now_ns();
    struct candidates cand = {0};
    struct found f = {0};
    struct grams g = {0};
    uint32_t *a = NULL;
    size_t a_cap = 0;
    int have_grams = 0;

    /* Only the empty text matches the empty query (its threshold is 0). */
    if (m == 0) {
        for (size_t i = 0; i < x->classes[0].n && s == TD_OK; i++)
            s = add_found(&f, x->docs[x->classes[0].docs[i]].id, 0, err);
        goto finish;
    }
    /* Length classes the rule allows: n in [m / 1.05, m / 0.95] (with margin). */
    unsigned lo = length_class((size_t)((double)m / 1.06)),
             hi = length_class((size_t)((double)m / 0.94) + 2);
    if (hi >= N_CLASSES)
        hi = N_CLASSES - 1;
    /* Stage 1, whichever is cheaper: every compatible document directly (long queries, where few
     * documents have a compatible length), or every window of the query against the piece table
     * (random probes into a large table, one per window and length class). */
    uint64_t direct = 0, probes = 0;
    for (unsigned c = lo; c <= hi; c++) {
        direct += x->classes[c].code_points;
        probes += (uint64_t)__builtin_popcount(x->classes[c].piece_lengths) * m;
    }
    if (direct <= 32 * probes) {
        for (unsigned c = lo; c <= hi; c++)
            for (size_t i = 0; i < x->classes[c].n; i++) {
                uint32_t di = x->classes[c].docs[i];
                if (length_ok(x->docs[di].len, m) && push_candidate(&cand, di)) {
                    s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
                    goto finish;
                }
            }
    } else {
        uint8_t *seen = td__calloc(x->n_docs / 8 + 1, 1);
        if (!seen) {
            s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
            goto finish;
        }
        s = probe_pieces(x, b, m, lo, hi, seen, &cand, err);
        td__free(seen);
        if (s != TD_OK)
            goto finish;
    }
    st.candidates = cand.n;
    /* Stage 2: the q-gram count filter; stage 3: the exact rule. */
    uint64_t t2 = now_ns();
    uint64_t verify_ns = 0;
    for (size_t i = 0; i < cand.n && s == TD_OK; i++) {
        const struct doc *d = &x->docs[cand.v[i]];
        if (d->len > a_cap) {
            td__free(a);
            a_cap = d->len;
            a = td__mallocarray(a_cap, sizeof *a);
            if (!a) {
                s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
                break;
            }
        }
        unpack_text(d, a);
        size_t k = (size_t)max_distance(d->len);
        if (k >= QGRAM_MIN_K) {
            if (!have_grams) {
                s = grams_build(&g, b, m, err);
                if (s != TD_OK)
                    break;
                have_grams = 1;
            }
            int pass = grams_pass(&g, a, d->len, k);
            if (pass < 0) {
                s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
                break;
            }
            if (!pass)
                continue;
        }
        st.verified++;
        uint64_t v0 = now_ns();
        size_t distance;
        if (rule(a, d->len, b, m, &distance))
            s = add_found(&f, d->id, distance, err);
        verify_ns += now_ns() - v0;
    }
    uint64_t t3 = now_ns();
    st.normalize_ns = t1 - t0;
    st.candidate_ns = (t2 - t1) + (t3 - t2 - verify_ns);
    st.verify_ns = verify_ns;
finish:
    if (stats && s == TD_OK)
        *stats = st;
    grams_free(&g);
    td__free(a);
    td__free(cand.v);
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
    uint32_t *a = NULL;
    size_t a_cap = 0;
    for (size_t i = 0; i < x->n_docs && s == TD_OK; i++) {
        const struct doc *d = &x->docs[i];
        if (d->len > a_cap || !a) {
            td__free(a);
            a_cap = d->len;
            a = td__mallocarray(a_cap ? a_cap : 1, sizeof *a);
            if (!a) {
                s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
                break;
            }
        }
        unpack_text(d, a);
        size_t distance;
        if (rule(a, d->len, b, m, &distance))
            s = add_found(&f, d->id, distance, err);
    }
    td__free(a);
    td__free(b);
    if (s != TD_OK) {
        td__free(f.v);
        return s;
    }
    *matches = f.v;
    *count = f.n;
    return TD_OK;
}
