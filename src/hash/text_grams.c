/* The q-grams of a query (every window of QGRAM code points, by a 32-bit key, with positions),
 * and the two things they prove about a known text a compared with the query b:
 *   - the count filter: too few of a's blocks occur in b within reach for the rule to match;
 *   - a lower bound of the cost of aligning any suffix of a, which prunes the exact search.
 * Both rest on one fact: an edit touches at most one of a's disjoint blocks of QGRAM code
 * points, and a block no edit touches lies in b, on the diagonal (b position - a position) the
 * alignment takes there. Keys that collide only make blocks look present, which weakens the
 * bounds but never breaks them.
 *
 * The table is one array of key << 32 | position, sorted, with an index by the key's top bits:
 * a lookup reads one short run, and the positions of a key come in order. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/text_internal.h"

#define HASH_BASE UINT64_C(0x100000001b3)
#define OCC_CAP 32 /* a block occurring more often within reach counts as everywhere */
#define FAR (INT32_MAX / 4)
#define AHEAD 8 /* lookups prefetched ahead */

struct td__text_grams {
    uint64_t *v;    /* key << 32 | position, ascending */
    uint32_t *run;  /* v[run[t] .. run[t + 1]) hold the keys with top bits t */
    unsigned shift; /* 32 - the number of top bits */
    size_t n;       /* entries */
    size_t m;       /* the query's length */
};

static uint32_t code_point(td__text_view v, size_t i)
{
    switch (v.width) {
    case 1:
        return ((const uint8_t *)v.s)[i];
    case 2:
        return ((const uint16_t *)v.s)[i];
    default:
        return ((const uint32_t *)v.s)[i];
    }
}

/* The key of the QGRAM code points at v[p]: a function of the code points alone, whatever the
 * width (eight code points below 0x100 are packed into 64 bits, which for 1-byte text is one
 * load). */
static uint32_t gram_key(td__text_view v, size_t p)
{
    uint64_t x = 0;
    if (v.width == 1) {
        const uint8_t *s = (const uint8_t *)v.s + p;
        for (int i = 0; i < QGRAM; i++)
            x |= (uint64_t)s[i] << (8 * i); /* one load on little-endian machines */
    } else {
        uint32_t top = 0;
        for (size_t i = 0; i < QGRAM; i++) {
            uint32_t c = code_point(v, p + i);
            top |= c;
            x |= (uint64_t)(c & 0xff) << (8 * i);
        }
        if (top >= 0x100) {
            x = 0;
            for (size_t i = 0; i < QGRAM; i++)
                x = x * HASH_BASE + code_point(v, p + i) + 1;
            x = ~x;
        }
    }
    x ^= x >> 31;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 29;
    x *= UINT64_C(0x94d049bb133111eb);
    return (uint32_t)(x >> 32);
}

td_status td__text_grams_new(td__text_grams **out, td__text_view b, td_error *err)
{
    *out = NULL;
    if (b.n > UINT32_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "text too long for the q-gram table");
    size_t n = b.n >= QGRAM ? b.n - QGRAM + 1 : 0;
    unsigned bits = 4;
    while (bits < 20 && ((size_t)1 << (bits + 2)) < n)
        bits++; /* about four entries per run */
    size_t runs = (size_t)1 << bits;
    td__text_grams *g = td__calloc(1, sizeof *g);
    uint64_t *tmp = td__mallocarray(n ? n : 1, sizeof *tmp);
    uint32_t *at = td__mallocarray(runs, sizeof *at);
    if (g) {
        g->v = td__mallocarray(n ? n : 1, sizeof *g->v);
        g->run = td__calloc(runs + 1, sizeof *g->run);
    }
    if (!g || !tmp || !at || !g->v || !g->run) {
        td__free(tmp);
        td__free(at);
        td__text_grams_free(g);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory for the q-gram table");
    }
    g->shift = 32 - bits;
    g->n = n;
    g->m = b.n;
    /* counting sort by the top bits, then each short run sorted in place */
    for (size_t p = 0; p < n; p++) {
        uint32_t key = gram_key(b, p);
        tmp[p] = (uint64_t)key << 32 | p;
        g->run[(key >> g->shift) + 1]++;
    }
    for (size_t t = 0; t < runs; t++) {
        g->run[t + 1] += g->run[t];
        at[t] = g->run[t];
    }
    for (size_t p = 0; p < n; p++)
        g->v[at[tmp[p] >> 32 >> g->shift]++] = tmp[p];
    td__free(tmp);
    td__free(at);
    for (size_t t = 0; t < runs; t++) {
        uint64_t *r = g->v + g->run[t];
        size_t len = g->run[t + 1] - g->run[t];
        /* positions arrive in order, so a run of one key is already sorted */
        for (size_t i = 1; i < len; i++) {
            uint64_t x = r[i];
            size_t j = i;
            for (; j > 0 && r[j - 1] > x; j--)
                r[j] = r[j - 1];
            r[j] = x;
        }
    }
    *out = g;
    return TD_OK;
}

void td__text_grams_free(td__text_grams *g)
{
    if (!g)
        return;
    td__free(g->v);
    td__free(g->run);
    td__free(g);
}

static void prefetch(const td__text_grams *g, uint32_t key)
{
    __builtin_prefetch(g->v + g->run[key >> g->shift]);
}

/* The index of the first entry >= key << 32 | pos (pos >= 0); the entry is of key only if
 * (v[i] >> 32) == key and i < n. */
static size_t lower(const td__text_grams *g, uint32_t key, int64_t pos)
{
    uint64_t x = (uint64_t)key << 32 | (uint64_t)pos;
    size_t lo = g->run[key >> g->shift], hi = g->run[(key >> g->shift) + 1];
    while (hi - lo > 8) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    while (lo < hi && g->v[lo] < x)
        lo++;
    return lo;
}

/* Does the q-gram of key occur in the query at a position in [lo, hi] (0 <= lo)? */
static int occurs(const td__text_grams *g, uint32_t key, int64_t lo, int64_t hi)
{
    size_t i = lower(g, key, lo);
    return i < g->n && (uint32_t)(g->v[i] >> 32) == key && (int64_t)(uint32_t)g->v[i] <= hi;
}

static int64_t floor_half(int64_t x) { return x >= 0 ? x / 2 : -((-x + 1) / 2); }

/* The diagonals (column - row) a path of cost <= k from diagonal 0 to diagonal t can use:
 * reaching d costs at least |d| + |d - t|. */
static void reachable(int64_t t, int64_t k, int64_t *lo, int64_t *hi)
{
    *lo = -floor_half(k - t);
    *hi = floor_half(t + k);
}

/* The count filter: if ed(a, b) <= k, at most k of a's n / QGRAM blocks are touched and each
 * other one occurs in b within the diagonals a path of cost <= k can use; fewer than
 * n / QGRAM - k such blocks prove a mismatch. */
int td__text_grams_pass(const td__text_grams *g, td__text_view a, size_t k)
{
    size_t blocks = a.n / QGRAM;
    if (blocks <= k)
        return 1; /* the bound says nothing */
    int64_t dlo, dhi, last = (int64_t)g->m - QGRAM;
    reachable((int64_t)g->m - (int64_t)a.n, (int64_t)k, &dlo, &dhi);
    uint32_t keys[AHEAD];
    for (size_t q = 0; q < AHEAD && q < blocks; q++) {
        keys[q] = gram_key(a, q * QGRAM);
        prefetch(g, keys[q]);
    }
    size_t misses = 0;
    for (size_t q = 0; q < blocks; q++) {
        uint32_t key = keys[q % AHEAD];
        if (q + AHEAD < blocks) {
            keys[q % AHEAD] = gram_key(a, (q + AHEAD) * QGRAM);
            prefetch(g, keys[q % AHEAD]);
        }
        int64_t at = (int64_t)(q * QGRAM), lo = at + dlo, hi = at + dhi;
        if (lo < 0)
            lo = 0;
        if (hi > last)
            hi = last;
        misses += lo > hi || !occurs(g, key, lo, hi);
        if (misses > k)
            return 0;
    }
    return 1;
}

/* hint[q] = a lower bound of the cost of aligning a[QGRAM * q..] with any suffix of b, for
 * alignments of total cost <= bound. a and b are the texts after a common prefix of `pre` code
 * points (b's positions in g count from before it); m is b's length.
 *
 * Blocks q = 0..Q-1 of a. A path leaves some blocks untouched; each lies in b on the path's
 * diagonal there, so it is one of the block's occurrences within the reachable diagonals.
 * Between two untouched blocks q1 < q2 on diagonals d1, d2 the path pays at least
 * max(q2 - q1 - 1, |d2 - d1|): one edit inside each block between them and one per diagonal
 * step. So the cost from block q on is at least that of the cheapest chain of occurrences under
 * these costs (with |d2 - d1| relaxed to 1 when d1 != d2, which keeps it a lower bound): a
 * chance occurrence on another diagonal costs as much as an edit, while the occurrences of a
 * near-duplicate line up on one diagonal. best(q, d), the bound from block q untouched on
 * diagonal d, is computed backwards with running minima:
 *   best(q, d) = min(max(Q - q - 1, |target - d|),                     nothing untouched after
 *                    min over q' > q of q' - q - 1 + best(q', d),       the same diagonal
 *                    1 + G(q + 1), min over q' > q + 1 of q' - q - 1 + G(q'))   another one
 * with G(q) = min over d of best(q, d), and hint[q] = min(Q - q, min over q' >= q of
 * q' - q + G(q')), the start's diagonal left free. A block with more than OCC_CAP occurrences
 * within reach counts as occurring on every diagonal. */
td_status td__text_hint(const td__text_grams *g, size_t pre, td__text_view a, size_t m,
                        size_t bound, td__text_scratch *sc, td_error *err)
{
    size_t blocks = a.n / QGRAM;
    int64_t dlo, dhi, last = (int64_t)m - QGRAM, target = (int64_t)m - (int64_t)a.n;
    reachable(target, (int64_t)bound, &dlo, &dhi);
    size_t span = (size_t)(dhi - dlo + 1);
    if (td__text_scratch_grow((void **)&sc->hint, &sc->hint_cap, blocks + 1, sizeof *sc->hint) ||
        td__text_scratch_grow((void **)&sc->diag, &sc->diag_cap, span, sizeof *sc->diag))
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    int32_t *same = sc->diag; /* per diagonal d: min over q' seen of q' - 1 + best(q', d) */
    for (size_t i = 0; i < span; i++)
        same[i] = FAR;
    int64_t Q = (int64_t)blocks;
    int64_t any = FAR;      /* the same, for blocks counted on every diagonal */
    int64_t same_min = FAR; /* the smallest of same[] and any */
    int64_t g_next = FAR;   /* G(q + 1) */
    int64_t far_next = FAR; /* min over q' >= q + 2 of q' - 1 + G(q') */
    int64_t first = FAR;    /* min over q' >= q of q' + G(q') */
    uint32_t keys[AHEAD];
    for (size_t i = 0; i < AHEAD && i < blocks; i++) {
        keys[i] = gram_key(a, (blocks - 1 - i) * QGRAM);
        prefetch(g, keys[i]);
    }
    sc->hint[blocks] = 0;
    for (int64_t q = Q - 1, i = 0; q >= 0; q--, i++) {
        uint32_t key = keys[i % AHEAD];
        if (q >= AHEAD) {
            keys[i % AHEAD] = gram_key(a, (size_t)(q - AHEAD) * QGRAM);
            prefetch(g, keys[i % AHEAD]);
        }
        int64_t at = q * QGRAM, lo = at + dlo, hi = at + dhi;
        if (lo < 0)
            lo = 0;
        if (hi > last)
            hi = last;
        /* after block q untouched: through another diagonal */
        int64_t other = 1 + g_next < far_next - q ? 1 + g_next : far_next - q;
        int64_t gq = FAR;
        size_t from = 0, to = 0;
        if (lo <= hi) {
            from = to = lower(g, key, lo + (int64_t)pre);
            while (to < g->n && (uint32_t)(g->v[to] >> 32) == key &&
                   (int64_t)(uint32_t)g->v[to] <= hi + (int64_t)pre && to - from <= OCC_CAP)
                to++;
        }
        if (to - from > OCC_CAP) {
            int64_t best = Q - q - 1;
            if (same_min - q < best)
                best = same_min - q;
            if (other < best)
                best = other;
            gq = best;
            if (q - 1 + best < any)
                any = q - 1 + best;
            if (any < same_min)
                same_min = any;
        } else {
            for (size_t j = from; j < to; j++) {
                int64_t d = (int64_t)(uint32_t)g->v[j] - (int64_t)pre - at, end = target - d;
                int64_t best = end < 0 ? -end : end;
                if (Q - q - 1 > best)
                    best = Q - q - 1;
                int32_t *sd = &same[d - dlo];
                int64_t via = (*sd < any ? *sd : any) - q;
                if (via < best)
                    best = via;
                if (other < best)
                    best = other;
                if (best < gq)
                    gq = best;
                if (q - 1 + best < *sd) {
                    *sd = (int32_t)(q - 1 + best);
                    if (*sd < same_min)
                        same_min = *sd;
                }
            }
        }
        if (q + g_next < far_next)
            far_next = q + g_next; /* q' = q + 1 joins for block q - 1 */
        g_next = gq;
        if (q + gq < first)
            first = q + gq;
        sc->hint[q] = (uint32_t)(first - q < Q - q ? first - q : Q - q);
    }
    return TD_OK;
}
