/* The bounded edit distance (the raw_text rule's Levenshtein distance, in code points of 1, 2
 * or 4 bytes) and the rule itself.
 *
 * After stripping the common prefix and suffix, a search bounded by `bound` finds the distance
 * if it is <= bound. Both searches below keep only states that may lie on an alignment of cost
 * <= bound: the cost so far plus a lower bound L of the cost to the end, L = the larger of the
 * diagonal gap to the end and the q-gram bound of text_grams.c (td__text_hint), which for a
 * near-duplicate comes close to the true remaining cost. The states of an optimal alignment all
 * pass, so the result is exact. The bound itself comes from a cheap first pass confined to a
 * narrow band (the cost of a real alignment, usually the distance itself):
 *   - long texts with at most a thousand distinct code points: bit-parallel blocks of 64 rows
 *     (text_blocks.c), about (text length) x (band) / 64 word steps;
 *   - otherwise: diagonal transitions (Ukkonen, Landau-Vishkin), extending matches 8 bytes at a
 *     time, at most about bound^2 / 2 states. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/text_int.h"

#define SMALL_BOUND 64     /* bounds up to which plain diagonal transitions are cheapest */
#define FIRST_BAND 32      /* diagonal transitions' first pass: diagonals around the target */
#define FIRST_PASS_MIN 256 /* bounds above which that first pass pays */
#define BLOCK_REACH 1      /* the bit-parallel first pass: blocks around the cheapest one */
#define RESYNC 64          /* the chain of anchors looks this far off its diagonal */
#define LONG_GAP 1024      /* gaps between anchors aligned exactly up to this length */

double td__text_max_distance(size_t n)
{
    return (double)n - (double)(n * (100 - TD_TEXT_DEFAULT_PERCENT)) / 100.0;
}

int td__text_scratch_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    void *grown = td__mallocarray(need, size);
    if (!grown)
        return -1;
    td__free(*p);
    *p = grown;
    *cap = need;
    return 0;
}

void td__text_scratch_free(td__text_scratch *s)
{
    td__free(s->fr);
    td__free(s->hint);
    td__free(s->diag);
    td__free(s->vsym);
    td__free(s->hsym);
    td__free(s->peq);
    td__free(s->blocks);
    memset(s, 0, sizeof *s);
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Index of the first differing byte of two 8-byte loads whose XOR is x (non-zero). */
static unsigned first_byte(uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (unsigned)__builtin_ctzll(x) / 8;
#else
    return (unsigned)__builtin_clzll(x) / 8;
#endif
}

/* Number of equal code points at the start of a and b, at most stop; 1 << shift bytes each. */
static size_t common_run(const uint8_t *a, const uint8_t *b, size_t stop, unsigned shift)
{
    size_t bytes = stop << shift, k = 0;
    while (k + 8 <= bytes) {
        uint64_t x = load64(a + k) ^ load64(b + k);
        if (x)
            return (k + first_byte(x)) >> shift;
        k += 8;
    }
    while (k < bytes && a[k] == b[k])
        k++;
    return k >> shift;
}

/* Number of equal code points at the ends of a (n) and b (m). */
static size_t common_tail(const uint8_t *a, size_t n, const uint8_t *b, size_t m, unsigned shift)
{
    size_t stop = (n < m ? n : m) << shift, k = 0;
    const uint8_t *ea = a + (n << shift), *eb = b + (m << shift);
    while (k + 8 <= stop && load64(ea - k - 8) == load64(eb - k - 8))
        k += 8;
    while (k < stop && ea[-(ptrdiff_t)k - 1] == eb[-(ptrdiff_t)k - 1])
        k++;
    return k >> shift;
}

/* Diagonal transitions on a (n) and b (m) without a common prefix or suffix: fr[d] = furthest
 * row i on diagonal d = j - i reachable with e edits; e grows until diagonal m - n reaches row
 * n. Returns the distance if <= max, else max + 1. A state (e, d) is kept only if e plus a lower
 * bound of the remaining cost is <= max: |d - target| (each diagonal step costs an edit) and,
 * with hint, hint[first block at or after row i] (non-increasing in i, so the furthest row of
 * a kept state of an optimal path passes too). band further limits |d - target| (SIZE_MAX: no
 * limit), which makes the result an upper bound of the distance instead. prev and cur hold
 * 2 * max + 3 entries. */
static size_t diagonal_distance(const uint8_t *a, size_t n, const uint8_t *b, size_t m,
                                unsigned shift, size_t max, size_t band, const uint32_t *hint,
                                int64_t *prev, int64_t *cur)
{
    const int64_t none = INT64_MIN / 4;
    size_t width = 2 * max + 3, blocks = n / QGRAM;
    for (size_t i = 0; i < width; i++)
        prev[i] = cur[i] = none;
    int64_t off = (int64_t)max + 1, N = (int64_t)n, M = (int64_t)m, target = M - N;
    int64_t bw = band < max ? (int64_t)band : (int64_t)max;
    int64_t live_lo = 0, live_hi = 0; /* diagonals alive at the previous level */
    for (int64_t e = 0; e <= (int64_t)max; e++) {
        int64_t reach = (int64_t)max - e < bw ? (int64_t)max - e : bw;
        int64_t lo = -e > -N ? -e : -N, hi = e < M ? e : M;
        if (lo < target - reach)
            lo = target - reach;
        if (hi > target + reach)
            hi = target + reach;
        if (lo < live_lo - 1)
            lo = live_lo - 1;
        if (hi > live_hi + 1)
            hi = live_hi + 1;
        if (lo > hi)
            break;
        /* diagonals that just left the range must not feed the next level stale values */
        if (lo - 1 >= -off)
            cur[lo - 1 + off] = none;
        if (hi + 1 + off < (int64_t)width)
            cur[hi + 1 + off] = none;
        int64_t new_lo = INT64_MAX, new_hi = INT64_MIN;
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
            int64_t stop = N - i < M - i - d ? N - i : M - i - d;
            i += (int64_t)common_run(a + ((size_t)i << shift), b + ((size_t)(i + d) << shift),
                                     (size_t)stop, shift);
            if (hint) {
                size_t q = ((size_t)i + QGRAM - 1) / QGRAM;
                if (e + (int64_t)hint[q < blocks ? q : blocks] > (int64_t)max) {
                    cur[d + off] = none;
                    continue;
                }
            }
            cur[d + off] = i;
            if (d < new_lo)
                new_lo = d;
            new_hi = d;
        }
        if (new_lo > new_hi)
            break;
        if (target >= lo && target <= hi && cur[target + off] >= N)
            return (size_t)e;
        int64_t *t = prev;
        prev = cur;
        cur = t;
        live_lo = new_lo;
        live_hi = new_hi;
    }
    return max + 1;
}

/* Is a[p..p + QGRAM) equal to b[x..x + QGRAM), with eb <= x <= last? */
static int matches(const uint8_t *a, size_t p, const uint8_t *b, int64_t x, size_t eb, int64_t last,
                   unsigned shift)
{
    return x >= (int64_t)eb && x <= last &&
           common_run(a + (p << shift), b + ((size_t)x << shift), QGRAM, shift) == QGRAM;
}

/* An upper bound of ed(a, b), usually the distance itself for near-duplicates: a greedy chain of
 * a's blocks found in b (at the current diagonal, else at the nearest occurrence within
 * RESYNC diagonals that the next block confirms), the gaps between them aligned exactly. The
 * cost of a real alignment, or bound + 1 once it exceeds bound. g: b's q-grams, positions
 * counted from gpre before b's start. fr: 2 * (2 * bound + 3) entries. */
static size_t anchored_upper(const uint8_t *a, size_t n, const uint8_t *b, size_t m, unsigned shift,
                             const td__text_grams *g, size_t gpre, size_t bound, int64_t *fr,
                             size_t *anchors)
{
    td__text_view av = {a, n, 1u << shift};
    size_t cost = 0, ea = 0, eb = 0, blocks = n / QGRAM;
    *anchors = 0;
    int64_t d = 0, last = (int64_t)m - QGRAM;
    for (size_t q = 0; q <= blocks; q++) {
        size_t p = q * QGRAM;
        int64_t x = (int64_t)p + d;
        if (q < blocks) {
            int here = matches(a, p, b, x, eb, last, shift);
            /* a block that differs while the next one matches: an edit, stay on the diagonal;
             * both differ: perhaps a shift, look for the block nearby */
            if (!here &&
                (q + 1 == blocks || !matches(a, p + QGRAM, b, x + QGRAM, eb, last, shift))) {
                int64_t lo = x - RESYNC > (int64_t)eb ? x - RESYNC : (int64_t)eb;
                int64_t hi = x + RESYNC < last ? x + RESYNC : last;
                int64_t y = td__text_grams_near(g, av, p, lo + (int64_t)gpre, hi + (int64_t)gpre,
                                                x + (int64_t)gpre);
                y -= y >= 0 ? (int64_t)gpre : 0;
                here = y >= 0 && matches(a, p, b, y, eb, last, shift) &&
                       (q + 1 == blocks || matches(a, p + QGRAM, b, y + QGRAM, eb, last, shift));
                if (here) {
                    x = y;
                    d = y - (int64_t)p;
                }
            }
            if (!here)
                continue;
            ++*anchors;
        } else { /* the end closes the last gap */
            p = n;
            x = (int64_t)m;
        }
        size_t la = p - ea, lb = (size_t)x - eb, gap = la > lb ? la : lb;
        /* a long gap (the chain lost its way, or unrelated texts): replacing it all is an
         * alignment too, and costs nothing to find */
        if (la && lb && gap <= LONG_GAP) {
            size_t room = bound - cost < gap ? bound - cost : gap;
            gap = diagonal_distance(a + (ea << shift), la, b + (eb << shift), lb, shift, room,
                                    SIZE_MAX, NULL, fr, fr + 2 * room + 3);
        }
        cost += gap;
        if (cost > bound)
            return bound + 1;
        ea = p + QGRAM;
        eb = (size_t)x + QGRAM;
    }
    return cost;
}

td_status td__text_distance(td__text_view av, td__text_view bv, size_t max, const td__text_grams *g,
                            td__text_scratch *sc, size_t *distance, td_error *err)
{
    unsigned shift = av.width >> 1; /* 1, 2, 4 bytes */
    const uint8_t *a = av.s, *b = bv.s;
    size_t n = av.n, m = bv.n;
    size_t pre = common_run(a, b, n < m ? n : m, shift);
    a += pre << shift, b += pre << shift, n -= pre, m -= pre;
    size_t suf = common_tail(a, n, b, m, shift);
    n -= suf, m -= suf;
    size_t diff = n > m ? n - m : m - n;
    if (diff > max) {
        *distance = max + 1;
        return TD_OK;
    }
    if (n == 0 || m == 0) {
        *distance = diff;
        return TD_OK;
    }
    /* the distance is at most max(n, m): a larger bound changes nothing */
    size_t top = n > m ? n : m;
    size_t bound = max < top ? max : top;
    if (td__text_scratch_grow((void **)&sc->fr, &sc->fr_cap, 2 * (2 * bound + 3), sizeof *sc->fr))
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    int64_t *prev = sc->fr, *cur = sc->fr + 2 * bound + 3;
    if (bound <= SMALL_BOUND || n < 2 * QGRAM || n > UINT32_MAX || m > UINT32_MAX) {
        /* short (at most about 2,000 states), or too long for 32-bit positions: plainly */
        size_t upper = bound + 1;
        if (bound > FIRST_PASS_MIN)
            upper = diagonal_distance(a, n, b, m, shift, bound, FIRST_BAND, NULL, prev, cur);
        if (upper < bound)
            bound = upper;
        size_t d = diagonal_distance(a, n, b, m, shift, bound, SIZE_MAX, NULL, prev, cur);
        *distance = d <= bound ? d : upper <= max ? upper : max + 1;
        return TD_OK;
    }
    td__text_view as = {a, n, av.width}, bs = {b, m, av.width};
    td__text_grams *local = NULL;
    size_t gpre = pre;
    td_status st;
    if (!g) { /* the q-grams of b after the common prefix */
        if ((st = td__text_grams_new(&local, bs, err)) != TD_OK)
            return st;
        g = local;
        gpre = 0;
    }
    /* an upper bound first (the search below costs about its square, or the text's length
     * times it over 64), then the lower bound of the remaining cost for it */
    size_t anchors;
    size_t upper = anchored_upper(a, n, b, m, shift, g, gpre, bound, prev, &anchors);
    if (upper < bound)
        bound = upper;
    st = td__text_hint(g, gpre, as, m, bound, sc, err);
    td__text_grams_free(local);
    if (st != TD_OK)
        return st;
    const uint32_t *hint = sc->hint;
    size_t lower = hint[0] > diff ? hint[0] : diff;
    if (lower > bound) { /* only when no alignment of cost <= max was found */
        *distance = max + 1;
        return TD_OK;
    }
    /* A chain that lost its way gives a poor upper bound, and the search grows with it: then
     * try a band too. */
    int poor = upper > bound || anchors < n / QGRAM / 2;
    size_t d;
    int blocks = 1; /* 0: bit-parallel */
    if (lower < upper) {
        blocks = td__text_blocks_prepare(sc, b, m, a, n, shift);
        if (blocks < 0)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    if (lower == upper) {
        d = upper;
    } else if (blocks == 0) {
        if (poor) {
            size_t band = td__text_blocks_band(sc, m, n, BLOCK_REACH);
            if (band < upper)
                upper = bound = band;
        }
        d = td__text_blocks_exact(sc, m, n, bound, hint, n / QGRAM + 1);
    } else {
        if (poor && bound > FIRST_PASS_MIN) {
            size_t band = diagonal_distance(a, n, b, m, shift, bound, FIRST_BAND, NULL, prev, cur);
            if (band < upper)
                upper = bound = band;
        }
        d = diagonal_distance(a, n, b, m, shift, bound, SIZE_MAX, hint, prev, cur);
    }
    /* when bound == upper, upper is the cost of a real alignment and the search finds one */
    *distance = d <= bound ? d : upper <= max ? upper : max + 1;
    return TD_OK;
}

size_t td_text_levenshtein_bounded(const uint32_t *a, size_t n, const uint32_t *b, size_t m,
                                   size_t max)
{
    td__text_view av = {a, n, 4}, bv = {b, m, 4};
    td__text_scratch sc = {0};
    size_t d;
    td_error err;
    if (td__text_distance(av, bv, max, NULL, &sc, &d, &err) != TD_OK)
        d = max + 1; /* out of memory: "no match", the conservative answer */
    td__text_scratch_free(&sc);
    return d;
}

td_status td__text_rule(td__text_view a, td__text_view b, const td__text_grams *g,
                        td__text_scratch *s, int *match, size_t *distance, td_error *err)
{
    double md = td__text_max_distance(a.n);
    size_t diff = a.n > b.n ? a.n - b.n : b.n - a.n;
    *match = 0;
    if ((double)diff > md) {
        *distance = diff;
        return TD_OK;
    }
    td_status st = td__text_distance(a, b, (size_t)md, g, s, distance, err);
    if (st == TD_OK)
        *match = (double)*distance <= md;
    return st;
}

td_status td_text_raw_match(const char *signal, size_t signal_len, const char *haystack,
                            size_t haystack_len, int *match, size_t *distance, td_error *err)
{
    uint32_t *a, *b;
    size_t n, m;
    *match = 0;
    *distance = 0;
    td_status s = td__text_normalize_u32(signal, signal_len, &a, &n, err);
    if (s != TD_OK)
        return s;
    s = td__text_normalize_u32(haystack, haystack_len, &b, &m, err);
    if (s != TD_OK) {
        td__free(a);
        return s;
    }
    td__text_view av = {a, n, 4}, bv = {b, m, 4};
    td__text_scratch sc = {0};
    s = td__text_rule(av, bv, NULL, &sc, match, distance, err);
    td__text_scratch_free(&sc);
    td__free(a);
    td__free(b);
    return s;
}
