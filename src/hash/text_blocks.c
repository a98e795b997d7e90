/* The bounded edit distance of long texts by Myers' bit-parallel algorithm (Hyyrö's block form,
 * as in Edlib): the vertical text (the query) is cut into blocks of 64 rows, each column of the
 * dynamic programme advances every live block with a handful of word operations.
 *
 * Which blocks live (exactness): a cell (i, j) matters only if D[i][j] + L(i, j) <= bound, where
 * L is a lower bound of the cost from (i, j) to the end: the larger of the diagonal gap and
 * hint[j] (the horizontal text's blocks that occur nowhere within reach, see text_distance.c).
 * Every cell of an optimal path matters, and the blocks kept are:
 *   - a block while it may hold a cell that matters (a lower bound of D + L over its rows, from
 *     its top and bottom values: a column changes by at most 1 per row);
 *   - the block below the last one as soon as the last one's bottom cell matters (a path can
 *     enter it from there, vertically or diagonally), and for as long as that holds.
 * Values of cells next to the live blocks are taken from real paths (a horizontal path along
 * the row above the first block, a vertical one down a new block), so every computed value is
 * the cost of a real alignment, and the values along an optimal path are exact by induction:
 * the result is the distance whenever it is <= bound. */
#include <string.h>
size_t td__dbg_blockops;

#include "core/alloc.h"
#include "hash/text_internal.h"

#define WORD 64
#define MAX_SYMBOLS 1024              /* distinct code points of the vertical text */
#define MAX_PEQ_BYTES ((size_t)8 << 20) /* the match table */
#define PRUNE_EVERY 4                   /* columns between two looks for blocks to drop */

struct td__text_block {
    uint64_t p, m; /* vertical deltas +1 / -1 of the rows of the block in the current column */
    int64_t s;     /* the value of the block's bottom row */
};

/* A horizontal delta (-1, 0, +1) as two bits, so that the chain from block to block stays
 * short: the next block needs neg early and pos only at the end. */
struct delta {
    uint64_t pos, neg;
};

/* Advances one block by one column: eq = rows matching the column's character, h = the
 * horizontal delta just above the block, replaced by the one just below it. */
static inline void advance(struct td__text_block *k, uint64_t eq, struct delta *h)
{
    uint64_t p = k->p, m = k->m;
    uint64_t xv = eq | m;
    eq |= h->neg;
    uint64_t xh = (((eq & p) + p) ^ p) | eq;
    uint64_t ph = m | ~(xh | p);
    uint64_t mh = p & xh;
    uint64_t hpos = h->pos, hneg = h->neg;
    h->pos = ph >> 63;
    h->neg = mh >> 63;
    ph = ph << 1 | hpos;
    mh = mh << 1 | hneg;
    k->p = mh | ~(xv | ph);
    k->m = ph & xv;
    k->s += (int64_t)h->pos - (int64_t)h->neg;
}

static int64_t popcount(uint64_t x) /* without a libgcc call on baseline x86-64 */
{
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (int64_t)((x * UINT64_C(0x0101010101010101)) >> 56);
}

static uint32_t cp_at(const uint8_t *s, size_t i, unsigned shift)
{
    switch (shift) {
    case 0:
        return s[i];
    case 1: {
        uint16_t c;
        memcpy(&c, s + 2 * i, 2);
        return c;
    }
    default: {
        uint32_t c;
        memcpy(&c, s + 4 * i, 4);
        return c;
    }
    }
}

/* Symbols 1..n for the code points of the vertical text (0: absent from it). */
struct symbols {
    uint32_t key[2 * MAX_SYMBOLS];
    uint16_t val[2 * MAX_SYMBOLS]; /* 0: empty slot */
    uint16_t byte[256];
    size_t n;
};

static size_t sym_slot(const struct symbols *y, uint32_t c)
{
    size_t j = (size_t)((c * 0x9e3779b1u) >> 21) & (2 * MAX_SYMBOLS - 1);
    while (y->val[j] && y->key[j] != c)
        j = (j + 1) & (2 * MAX_SYMBOLS - 1);
    return j;
}

/* The symbol of c, a new one if add; -1 when there are too many. */
static int symbol(struct symbols *y, uint32_t c, int add)
{
    if (c < 256 && y->byte[c])
        return y->byte[c];
    size_t j = sym_slot(y, c);
    if (y->val[j])
        return y->val[j];
    if (!add)
        return 0;
    if (y->n >= MAX_SYMBOLS - 1)
        return -1;
    y->key[j] = c;
    y->val[j] = (uint16_t)++y->n;
    if (c < 256)
        y->byte[c] = (uint16_t)y->n;
    return (int)y->n;
}

int td__text_blocks_prepare(td__text_scratch *sc, const uint8_t *v, size_t rows, const uint8_t *h,
                            size_t cols, unsigned shift)
{
    struct symbols *y = td__calloc(1, sizeof *y);
    if (!y)
        return -1;
    int r = 0;
    size_t nblk = (rows + WORD - 1) / WORD;
    if (td__text_scratch_grow((void **)&sc->vsym, &sc->vsym_cap, rows ? rows : 1, sizeof *sc->vsym) ||
        td__text_scratch_grow((void **)&sc->hsym, &sc->hsym_cap, cols ? cols : 1, sizeof *sc->hsym) ||
        td__text_scratch_grow((void **)&sc->blocks, &sc->blocks_cap, nblk ? nblk : 1, sizeof *sc->blocks)) {
        r = -1;
        goto done;
    }
    for (size_t i = 0; i < rows && r == 0; i++) {
        int s = symbol(y, cp_at(v, i, shift), 1);
        if (s < 0)
            r = 1;
        else
            sc->vsym[i] = (uint16_t)s;
    }
    if (r)
        goto done;
    size_t words = (y->n + 1) * nblk;
    if (words > MAX_PEQ_BYTES / sizeof(uint64_t)) {
        r = 1;
        goto done;
    }
    if (td__text_scratch_grow((void **)&sc->peq, &sc->peq_cap, words, sizeof *sc->peq)) {
        r = -1;
        goto done;
    }
    memset(sc->peq, 0, words * sizeof *sc->peq);
    for (size_t i = 0; i < rows; i++)
        sc->peq[sc->vsym[i] * nblk + i / WORD] |= UINT64_C(1) << (i % WORD);
    for (size_t j = 0; j < cols; j++)
        sc->hsym[j] = (uint16_t)symbol(y, cp_at(h, j, shift), 0);
done:
    td__free(y);
    return r;
}

/* The value of row `rows` (the last real row) in the last block. */
static int64_t last_row(const struct td__text_block *k, size_t rows, size_t nblk)
{
    size_t r = rows - (nblk - 1) * WORD; /* real rows in the last block, 1..64 */
    int64_t d = k->s;
    if (r < WORD) {
        uint64_t pad = ~UINT64_C(0) << r;
        d -= popcount(k->p & pad) - popcount(k->m & pad);
    }
    return d;
}

/* Starts block b below block b - 1 in column j (its values in column j - 1: a vertical path
 * down from the bottom of b - 1) and advances it with h, the horizontal delta below b - 1. */
static void start_block(struct td__text_block *k, size_t b, uint64_t eq, struct delta *h)
{
    k[b].p = ~UINT64_C(0);
    k[b].m = 0;
    k[b].s = k[b - 1].s - ((int64_t)h->pos - (int64_t)h->neg) + WORD; /* column j - 1 */
    advance(&k[b], eq, h);
}

size_t td__text_blocks_band(td__text_scratch *sc, size_t rows, size_t cols, size_t reach)
{
    size_t nblk = (rows + WORD - 1) / WORD;
    struct td__text_block *k = sc->blocks;
    const uint64_t *peq = sc->peq;
    /* live in column j: the blocks within reach of the one with the smallest bottom value (the
     * alignment runs near it), and in the last column every block down to the corner */
    size_t fb = 0, lb = reach < nblk - 1 ? reach : nblk - 1;
    for (size_t b = 0; b <= lb; b++)
        k[b] = (struct td__text_block){~UINT64_C(0), 0, (int64_t)((b + 1) * WORD)};
    for (size_t j = 1; j <= cols; j++) {
        const uint64_t *eq = peq + (size_t)sc->hsym[j - 1] * nblk;
        struct delta h = {1, 0};
        size_t best = fb;
        int64_t least = INT64_MAX;
        for (size_t b = fb; b <= lb; b++) {
            advance(&k[b], eq[b], &h);
            int less = k[b].s < least; /* branch-free: the winner is unpredictable */
            best = less ? b : best;
            least = less ? k[b].s : least;
        }
        size_t hi = j == cols || best + reach >= nblk ? nblk - 1 : best + reach;
        while (lb < hi) {
            lb++;
            start_block(k, lb, eq[lb], &h);
        }
        if (lb > hi)
            lb = hi;
        if (best > fb + reach)
            fb = best - reach;
    }
    return (size_t)last_row(&k[nblk - 1], rows, nblk);
}

/* The smallest |gap| over the rows of block b in column j, where gap(i, j) = i - zero. */
static int64_t gap_in_block(size_t b, int64_t zero)
{
    int64_t top = (int64_t)(b * WORD) + 1, bottom = (int64_t)(b * WORD) + WORD;
    return zero < top ? top - zero : zero > bottom ? zero - bottom : 0;
}

/* A lower bound of D + L over the rows of block b (column j: zero = the row of gap 0, h = the
 * hint). The values run from the top row's to the bottom row's in 63 steps of at most 1. */
static int64_t block_bound(const struct td__text_block *k, size_t b, int64_t zero, int64_t h)
{
    int64_t top = k[b].s - (popcount(k[b].p & ~UINT64_C(1)) - popcount(k[b].m & ~UINT64_C(1)));
    int64_t low = (top + k[b].s - (WORD - 1)) >> 1;
    int64_t g = gap_in_block(b, zero);
    return low + (g > h ? g : h);
}

/* Does the bottom cell of block b matter in column j? */
static int bottom_matters(const struct td__text_block *k, size_t b, int64_t zero, int64_t h,
                          int64_t bound)
{
    int64_t row = (int64_t)((b + 1) * WORD), g = row > zero ? row - zero : zero - row;
    return k[b].s + (g > h ? g : h) <= bound;
}

/* hint[q]: a lower bound of the cost of the horizontal text from column 8 * q on; column j
 * needs the first block that starts at or after it. */
static int64_t hint_at(const uint32_t *hint, size_t len, size_t j)
{
    if (!hint)
        return 0;
    size_t q = (j + 7) / 8;
    return hint[q < len ? q : len - 1];
}

size_t td__text_blocks_exact(td__text_scratch *sc, size_t rows, size_t cols, size_t bound,
                             const uint32_t *hint, size_t hint_len)
{
    size_t nblk = (rows + WORD - 1) / WORD;
    struct td__text_block *k = sc->blocks;
    const uint64_t *peq = sc->peq;
    int64_t B = (int64_t)bound, R = (int64_t)rows, C = (int64_t)cols;
    size_t fb = 0, lb = 0;
    k[0] = (struct td__text_block){~UINT64_C(0), 0, WORD};
    int64_t h = hint_at(hint, hint_len, 0), zero = R - C;
    while (lb + 1 < nblk && bottom_matters(k, lb, zero, h, B)) {
        lb++;
        k[lb] = (struct td__text_block){~UINT64_C(0), 0, (int64_t)((lb + 1) * WORD)};
    }
    for (size_t j = 1; j <= cols; j++) {
        const uint64_t *eq = peq + (size_t)sc->hsym[j - 1] * nblk;
        struct delta d = {1, 0};
        td__dbg_blockops += lb - fb + 1;
        for (size_t b = fb; b <= lb; b++)
            advance(&k[b], eq[b], &d);
        h = hint_at(hint, hint_len, j);
        zero = R - C + (int64_t)j;
        while (lb + 1 < nblk && bottom_matters(k, lb, zero, h, B)) {
            lb++;
            start_block(k, lb, eq[lb], &d);
        }
        if (j % PRUNE_EVERY && j != cols)
            continue; /* keeping more blocks alive is always safe */
        while (lb > fb && !bottom_matters(k, lb - 1, zero, h, B) &&
               block_bound(k, lb, zero, h) > B)
            lb--;
        while (fb <= lb && block_bound(k, fb, zero, h) > B)
            fb++;
        if (fb > lb)
            return bound + 1;
    }
    if (lb != nblk - 1)
        return bound + 1;
    int64_t d = last_row(&k[nblk - 1], rows, nblk);
    return d <= B ? (size_t)d : bound + 1;
}
