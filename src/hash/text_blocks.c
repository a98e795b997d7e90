/* The bounded edit distance of long texts by Myers' bit-parallel algorithm (Hyyrö's block form,
 * as in Edlib): the vertical text (the query) is cut into blocks of 64 rows, each column of the
 * dynamic programme advances every live block with a handful of word operations.
 *
 * Which blocks live (exactness): a cell (i, j) matters only if D[i][j] + L(i, j) <= bound, where
 * L is a lower bound of the cost from (i, j) to the end: the larger of the diagonal gap and
 * hint[j] (the q-gram bound of the horizontal text's rest, text_grams.c). Every cell of an
 * optimal path matters. A path only moves down, so:
 *   - the first block is dropped once it holds no cell that matters (a lower bound of D + L over
 *     its rows, from its top and bottom values: a column changes by at most 1 per row);
 *   - the block below the last one is added as soon as the last one's bottom cell matters (a
 *     path can enter it from there, vertically or diagonally).
 * Values of cells next to the live blocks are taken from real paths (a horizontal path along
 * the row above the first block, a vertical one down a new block), so every computed value is
 * the cost of a real alignment, and the values along an optimal path are exact by induction:
 * the result is the distance whenever it is <= bound. */
#include <string.h>

#include "core/alloc.h"
#include "hash/text_int.h"

#define WORD 64
#define MAX_SYMBOLS 1024                /* distinct code points of the vertical text */
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

/* Advances one block's vertical deltas by one column: eq = rows matching the column's
 * character, h = the horizontal delta just above the block; returns the one just below it
 * (by value, so that it stays in registers). */
static inline struct delta step(struct td__text_block *k, uint64_t eq, struct delta h)
{
    uint64_t p = k->p, m = k->m;
    uint64_t xv = eq | m;
    eq |= h.neg;
    uint64_t xh = (((eq & p) + p) ^ p) | eq;
    uint64_t ph = m | ~(xh | p);
    uint64_t mh = p & xh;
    struct delta out = {ph >> 63, mh >> 63};
    ph = ph << 1 | h.pos;
    mh = mh << 1 | h.neg;
    k->p = mh | ~(xv | ph);
    k->m = ph & xv;
    return out;
}

/* The same, keeping the block's bottom value (the first pass needs it). */
static inline struct delta advance(struct td__text_block *k, uint64_t eq, struct delta h)
{
    struct delta out = step(k, eq, h);
    k->s += (int64_t)out.pos - (int64_t)out.neg;
    return out;
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
    case 0: return s[i];
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
    if (td__text_scratch_grow((void **)&sc->vsym, &sc->vsym_cap, rows ? rows : 1,
                              sizeof *sc->vsym) ||
        td__text_scratch_grow((void **)&sc->hsym, &sc->hsym_cap, cols ? cols : 1,
                              sizeof *sc->hsym) ||
        td__text_scratch_grow((void **)&sc->blocks, &sc->blocks_cap, nblk ? nblk : 1,
                              sizeof *sc->blocks)) {
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
        sc->peq[i / WORD * (y->n + 1) + sc->vsym[i]] |= UINT64_C(1) << (i % WORD);
    for (size_t j = 0; j < cols; j++)
        sc->hsym[j] = (uint16_t)symbol(y, cp_at(h, j, shift), 0);
    sc->nsym = y->n + 1;
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
    *h = advance(&k[b], eq, *h);
}

size_t td__text_blocks_band(td__text_scratch *sc, size_t rows, size_t cols, size_t reach)
{
    size_t nblk = (rows + WORD - 1) / WORD;
    struct td__text_block *k = sc->blocks;
    const uint64_t *peq = sc->peq;
    size_t ns = sc->nsym;
    /* live in column j: the blocks within reach of the one with the smallest bottom value (the
     * alignment runs near it), and in the last column every block down to the corner */
    size_t fb = 0, lb = reach < nblk - 1 ? reach : nblk - 1;
    for (size_t b = 0; b <= lb; b++)
        k[b] = (struct td__text_block){~UINT64_C(0), 0, (int64_t)((b + 1) * WORD)};
    for (size_t j = 1; j <= cols; j++) {
        const uint64_t *eq = peq + sc->hsym[j - 1];
        struct delta h = {1, 0};
        size_t best = fb;
        int64_t least = INT64_MAX;
        for (size_t b = fb; b <= lb; b++) {
            h = advance(&k[b], eq[b * ns], h);
            int less = k[b].s < least; /* branch-free: the winner is unpredictable */
            best = less ? b : best;
            least = less ? k[b].s : least;
        }
        size_t hi = j == cols || best + reach >= nblk ? nblk - 1 : best + reach;
        while (lb < hi) {
            lb++;
            start_block(k, lb, eq[lb * ns], &h);
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

/* A lower bound of D + L over the rows of block b, whose bottom row holds `bottom` (column j:
 * zero = the row of gap 0, h = the hint). The values run from the top row's to the bottom
 * row's in 63 steps of at most 1. */
static int64_t block_bound(const struct td__text_block *k, size_t b, int64_t bottom, int64_t zero,
                           int64_t h)
{
    int64_t top = bottom - (popcount(k[b].p & ~UINT64_C(1)) - popcount(k[b].m & ~UINT64_C(1)));
    int64_t low = (top + bottom - (WORD - 1)) >> 1;
    int64_t g = gap_in_block(b, zero);
    return low + (g > h ? g : h);
}

/* Does the bottom cell of block b, of value v, matter in column j? */
static int bottom_matters(size_t b, int64_t v, int64_t zero, int64_t h, int64_t bound)
{
    int64_t row = (int64_t)((b + 1) * WORD), g = row > zero ? row - zero : zero - row;
    return v + (g > h ? g : h) <= bound;
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

/* The exact search's state: live blocks fb..lb, the value of the row just above block fb
 * (`top`: row 0, or a horizontal path along the bottom row of a dropped block) and of the
 * bottom row of block lb (`last`). The other blocks' bottom values are not kept: they follow
 * from these and the vertical deltas, which saves work in the inner loop. */
struct band {
    struct td__text_block *k;
    size_t nblk, ns, fb, lb;
    int64_t top, last;
};

static int64_t delta_of(struct delta d) { return (int64_t)d.pos - (int64_t)d.neg; }

/* Column j's blocks below lb while the bottom of lb matters (d: the horizontal delta below lb,
 * eq: the column's match row). */
static void extend(struct band *z, const uint64_t *eq, struct delta *d, int64_t zero, int64_t h,
                   int64_t bound)
{
    while (z->lb + 1 < z->nblk && bottom_matters(z->lb, z->last, zero, h, bound)) {
        int64_t before = z->last - delta_of(*d); /* the bottom of lb in column j - 1 */
        size_t b = ++z->lb;
        z->k[b].p = ~UINT64_C(0); /* column j - 1: a vertical path down from there */
        z->k[b].m = 0;
        *d = step(&z->k[b], eq[b * z->ns], *d);
        z->last = before + WORD + delta_of(*d);
    }
}

/* Drops the first blocks that hold no cell that matters (column j); 0 if none is left. (Only
 * at the top: below the target diagonal, D + L of a cell never grows from one column to the
 * next, as D grows by at most 1 and the gap shrinks by 1, so the bottom never recedes.) */
static int prune(struct band *z, int64_t zero, int64_t h, int64_t bound)
{
    while (z->fb <= z->lb) {
        const struct td__text_block *t = &z->k[z->fb];
        int64_t bottom = z->top + (popcount(t->p) - popcount(t->m));
        if (block_bound(z->k, z->fb, bottom, zero, h) <= bound)
            break;
        z->fb++;
        z->top = bottom;
    }
    return z->fb <= z->lb;
}

size_t td__text_blocks_exact(td__text_scratch *sc, size_t rows, size_t cols, size_t bound,
                             const uint32_t *hint, size_t hint_len)
{
    struct band z = {.k = sc->blocks, .nblk = (rows + WORD - 1) / WORD, .ns = sc->nsym};
    const uint64_t *peq = sc->peq;
    size_t ns = z.ns;
    int64_t B = (int64_t)bound, base = (int64_t)rows - (int64_t)cols; /* zero = base + j */
    z.k[0] = (struct td__text_block){~UINT64_C(0), 0, 0};
    z.last = WORD;
    while (z.lb + 1 < z.nblk && bottom_matters(z.lb, z.last, base, hint_at(hint, hint_len, 0), B)) {
        z.k[++z.lb] = (struct td__text_block){~UINT64_C(0), 0, 0};
        z.last += WORD;
    }
    /* Two columns at a time, the second one block behind the first: two independent chains of
     * dependent word operations instead of one. */
    for (size_t j = 1; j <= cols; j += 2) {
        const uint64_t *eq1 = peq + sc->hsym[j - 1];
        struct delta d1 = {1, 0}, d2 = {1, 0};
        if (j == cols) { /* the last column alone */
            for (size_t b = z.fb; b <= z.lb; b++)
                d1 = step(&z.k[b], eq1[b * ns], d1);
            z.top++;
            z.last += delta_of(d1);
            int64_t h = hint_at(hint, hint_len, j), zero = base + (int64_t)j;
            extend(&z, eq1, &d1, zero, h, B);
            if (!prune(&z, zero, h, B))
                return bound + 1;
            break;
        }
        const uint64_t *eq2 = peq + sc->hsym[j];
        d1 = step(&z.k[z.fb], eq1[z.fb * ns], d1);
        for (size_t b = z.fb + 1; b <= z.lb; b++) {
            d1 = step(&z.k[b], eq1[b * ns], d1);
            d2 = step(&z.k[b - 1], eq2[(b - 1) * ns], d2);
        }
        /* column j: its own extension, then column j + 1 catches up and extends */
        size_t behind = z.lb;
        z.top++;
        z.last += delta_of(d1);
        extend(&z, eq1, &d1, base + (int64_t)j, hint_at(hint, hint_len, j), B);
        for (size_t b = behind; b <= z.lb; b++)
            d2 = step(&z.k[b], eq2[b * ns], d2);
        z.top++;
        z.last += delta_of(d2);
        int64_t h = hint_at(hint, hint_len, j + 1), zero = base + (int64_t)j + 1;
        extend(&z, eq2, &d2, zero, h, B);
        if (((j + 1) % PRUNE_EVERY == 0 || j + 1 == cols) && !prune(&z, zero, h, B))
            return bound + 1; /* keeping more blocks alive in between is always safe */
    }
    if (z.lb != z.nblk - 1)
        return bound + 1;
    const struct td__text_block *t = &z.k[z.lb];
    size_t r = rows - (z.nblk - 1) * WORD; /* real rows in the last block */
    int64_t d = z.last;
    if (r < WORD) {
        uint64_t pad = ~UINT64_C(0) << r;
        d -= popcount(t->p & pad) - popcount(t->m & pad);
    }
    return d <= B ? (size_t)d : bound + 1;
}
