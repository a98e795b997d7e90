/* The q-grams of a query b (every window of QGRAM code points, by a 32-bit key) and what they
 * prove about a known text a:
 *   - the sketch, a quick filter: too few of a's blocks occur in b within reach for the rule to
 *     match;
 *   - the hint: a lower bound of the cost of aligning any suffix of a, which prunes the exact
 *     search (text_distance.c, text_blocks.c);
 *   - anchors for an upper bound (td__text_grams_near).
 * All rest on one fact: an edit touches at most one of a's disjoint blocks of QGRAM code points,
 * and a block no edit touches lies in b, on the diagonal (b position - a position) the
 * alignment takes there. Keys that collide only make blocks look present, which weakens the
 * bounds but never breaks them.
 *
 * The table is one array of key << 32 | position grouped by the key's top bits (a counting
 * sort, so positions stay in order within a group), with the groups' starts: a lookup reads
 * one short run. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/text_int.h"

#define HASH_BASE UINT64_C(0x100000001b3)
#define OCC_CAP 32   /* a block occurring more often within reach counts as everywhere */
#define SCAN_CAP 256 /* entries of a run looked at for one block at most */
#define FAR (INT32_MAX / 4)
#define AHEAD 8 /* lookups prefetched ahead */

struct td__text_grams {
    uint64_t *v;    /* key << 32 | position, grouped by the key's top bits, by position within */
    uint32_t *run;  /* v[run[t] .. run[t + 1]) hold the keys with top bits t */
    unsigned shift; /* 32 - the number of top bits */
    size_t n;       /* entries */
    size_t m;       /* the query's length */
};

static uint32_t code_point(td__text_view v, size_t i)
{
    switch (v.width) {
    case 1: return ((const uint8_t *)v.s)[i];
    case 2: return ((const uint16_t *)v.s)[i];
    default: return ((const uint32_t *)v.s)[i];
    }
}

static uint32_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 29;
    x *= UINT64_C(0x94d049bb133111eb);
    return (uint32_t)(x >> 32);
}

/* Eight 1-byte code points packed, the first in the low byte. */
static inline uint64_t pack8(const uint8_t *s)
{
    uint64_t x;
    memcpy(&x, s, sizeof x);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

/* The key of the QGRAM code points at v[p]: a function of the code points alone, whatever the
 * width (eight code points below 0x100 are packed into 64 bits as pack8 does). */
static inline uint32_t gram_key(td__text_view v, size_t p)
{
    uint64_t x = 0;
    if (v.width == 1) {
        x = pack8((const uint8_t *)v.s + p);
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
    return mix(x);
}

static uint32_t key_at(td__text_view b, size_t p)
{
    return b.width == 1 ? mix(pack8((const uint8_t *)b.s + p)) : gram_key(b, p);
}

td_status td__text_grams_new(td__text_grams **out, td__text_view b, td_error *err)
{
    *out = NULL;
    if (b.n > UINT32_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "text too long for the q-gram table");
    size_t n = b.n >= QGRAM ? b.n - QGRAM + 1 : 0;
    unsigned bits = 4;
    while (bits < 20 && ((size_t)1 << (bits + 3)) < n)
        bits++; /* about eight entries per run */
    size_t runs = (size_t)1 << bits;
    td__text_grams *g = td__calloc(1, sizeof *g);
    uint32_t *at = td__mallocarray(runs, sizeof *at);
    if (g) {
        g->v = td__mallocarray(n ? n : 1, sizeof *g->v);
        g->run = td__calloc(runs + 1, sizeof *g->run);
    }
    if (!g || !at || !g->v || !g->run) {
        td__free(at);
        td__text_grams_free(g);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory for the q-gram table");
    }
    g->shift = 32 - bits;
    g->n = n;
    g->m = b.n;
    /* a counting sort by the top bits, which keeps positions in order within a run (the keys
     * are computed twice: cheaper than a second array) */
    for (size_t p = 0; p < n; p++)
        g->run[(key_at(b, p) >> g->shift) + 1]++;
    for (size_t t = 0; t < runs; t++) {
        g->run[t + 1] += g->run[t];
        at[t] = g->run[t];
    }
    for (size_t p = 0; p < n; p++) {
        uint32_t key = key_at(b, p);
        g->v[at[key >> g->shift]++] = (uint64_t)key << 32 | p;
    }
    td__free(at);
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

/* The first entry of key's run at a position >= pos, and the run's end. */
static size_t lower(const td__text_grams *g, uint32_t key, int64_t pos, size_t *end)
{
    size_t lo = g->run[key >> g->shift], hi = g->run[(key >> g->shift) + 1];
    *end = hi;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((int64_t)(uint32_t)g->v[mid] < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t key_of(uint64_t e) { return (uint32_t)(e >> 32); }
static int64_t pos_of(uint64_t e) { return (int64_t)(uint32_t)e; }

static int64_t floor_half(int64_t x) { return x >= 0 ? x / 2 : -((-x + 1) / 2); }

/* The diagonals (column - row) a path of cost <= k from diagonal 0 to diagonal t can use:
 * reaching d costs at least |d| + |d - t|. */
static void reachable(int64_t t, int64_t k, int64_t *lo, int64_t *hi)
{
    *lo = -floor_half(k - t);
    *hi = floor_half(t + k);
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
    for (int64_t q = Q - 1, r = 0; q >= 0; q--, r++) {
        uint32_t key = keys[r % AHEAD];
        if (q >= AHEAD) {
            keys[r % AHEAD] = gram_key(a, (size_t)(q - AHEAD) * QGRAM);
            prefetch(g, keys[r % AHEAD]);
        }
        int64_t at = q * QGRAM, lo = at + dlo, hi = at + dhi;
        if (lo < 0)
            lo = 0;
        if (hi > last)
            hi = last;
        /* after block q untouched: through another diagonal */
        int64_t other = 1 + g_next < far_next - q ? 1 + g_next : far_next - q;
        int64_t gq = FAR;
        int64_t same_before = same_min; /* from the blocks after q only */
        size_t found = 0, end, i = lo <= hi ? lower(g, key, lo + (int64_t)pre, &end) : 0;
        size_t scan = i + SCAN_CAP;
        for (; lo <= hi && i < end && pos_of(g->v[i]) <= hi + (int64_t)pre; i++) {
            if (i == scan || found == OCC_CAP) {
                found = SIZE_MAX; /* too many to look at: as if everywhere */
                break;
            }
            if (key_of(g->v[i]) != key)
                continue;
            found++;
            int64_t d = pos_of(g->v[i]) - (int64_t)pre - at, stop = target - d;
            int64_t best = stop < 0 ? -stop : stop;
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
        if (found == SIZE_MAX) { /* the smallest best(q, d) over every d, for every d (the
                                  * entries this block wrote before giving up are valid for
                                  * the blocks before it, but not for itself) */
            int64_t best = Q - q - 1;
            if (same_before - q < best)
                best = same_before - q;
            if (other < best)
                best = other;
            gq = best;
            if (q - 1 + best < any)
                any = q - 1 + best;
            if (any < same_min)
                same_min = any;
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

int64_t td__text_grams_near(const td__text_grams *g, td__text_view a, size_t p, int64_t lo,
                            int64_t hi, int64_t want)
{
    if (lo < 0)
        lo = 0;
    if (want < lo)
        want = lo;
    if (want > hi)
        want = hi;
    if (lo > hi)
        return -1;
    uint32_t key = gram_key(a, p);
    size_t end, first = g->run[key >> g->shift], i = lower(g, key, want, &end);
    int64_t after = -1, before = -1;
    for (size_t j = i; j < end && j < i + SCAN_CAP && pos_of(g->v[j]) <= hi; j++)
        if (key_of(g->v[j]) == key) {
            after = pos_of(g->v[j]);
            break;
        }
    for (size_t j = i; j > first && j + SCAN_CAP > i && pos_of(g->v[j - 1]) >= lo; j--)
        if (key_of(g->v[j - 1]) == key) {
            before = pos_of(g->v[j - 1]);
            break;
        }
    if (before < 0)
        return after;
    if (after < 0)
        return before;
    return want - before <= after - want ? before : after;
}

/* ---- the sketch: a quick first filter ---- */

/* Which q-gram keys occur in each chunk of SKETCH_CHUNK positions of the query, as a bitmap of
 * the keys' low SKETCH_BITS bits: a document's blocks are looked up in the few chunks their
 * window covers, which moves along the query as the document does, so lookups stay in cache.
 * A bit set by another key only makes a block look present. */
#define SKETCH_CHUNK 2048
#define SKETCH_BITS 15
#define SKETCH_WORDS (((size_t)1 << SKETCH_BITS) / 64)

struct td__text_sketch {
    uint64_t *bits; /* chunk c: bits[c * SKETCH_WORDS ..] */
    size_t m;       /* the query's length */
};

td_status td__text_sketch_new(td__text_sketch **out, td__text_view b, td_error *err)
{
    *out = NULL;
    size_t n = b.n >= QGRAM ? b.n - QGRAM + 1 : 0, chunks = n / SKETCH_CHUNK + 1;
    td__text_sketch *s = td__calloc(1, sizeof *s);
    if (s)
        s->bits = td__calloc(chunks * SKETCH_WORDS, sizeof *s->bits);
    if (!s || !s->bits) {
        td__text_sketch_free(s);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory for the q-gram sketch");
    }
    s->m = b.n;
    const uint32_t mask = ((uint32_t)1 << SKETCH_BITS) - 1;
    for (size_t p = 0; p < n; p++) {
        uint32_t bit = key_at(b, p) & mask;
        s->bits[p / SKETCH_CHUNK * SKETCH_WORDS + bit / 64] |= UINT64_C(1) << (bit % 64);
    }
    *out = s;
    return TD_OK;
}

void td__text_sketch_free(td__text_sketch *s)
{
    if (!s)
        return;
    td__free(s->bits);
    td__free(s);
}

int td__text_sketch_pass(const td__text_sketch *s, td__text_view a, size_t k)
{
    size_t blocks = a.n / QGRAM;
    if (blocks <= k)
        return 1;
    int64_t dlo, dhi, last = (int64_t)s->m - QGRAM;
    reachable((int64_t)s->m - (int64_t)a.n, (int64_t)k, &dlo, &dhi);
    const uint32_t mask = ((uint32_t)1 << SKETCH_BITS) - 1;
    size_t misses = 0;
    for (size_t q = 0; q < blocks; q++) {
        int64_t at = (int64_t)(q * QGRAM), lo = at + dlo, hi = at + dhi;
        if (lo < 0)
            lo = 0;
        if (hi > last)
            hi = last;
        int found = 0;
        if (lo <= hi) {
            uint32_t bit = key_at(a, q * QGRAM) & mask;
            for (size_t c = (size_t)lo / SKETCH_CHUNK; c <= (size_t)hi / SKETCH_CHUNK && !found;
                 c++)
                found = (int)(s->bits[c * SKETCH_WORDS + bit / 64] >> (bit % 64) & 1);
        }
        misses += !found;
        if (misses > k)
            return 0;
    }
    return 1;
}
