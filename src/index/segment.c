/* Immutable multi-index segments (see segment.h for why the search is exact).
 *
 * Layout: for every chunk c, off[c] has one bucket per possible key (2^w words + 1) and pos[c]
 * lists entry numbers grouped by key; a counting sort builds both in two passes. A query walks
 * the keys within t bits of its own chunk key in blocks, prefetching bucket offsets, then the
 * bucket contents, and lets the kernel verify candidates with the hashes prefetched ahead: the
 * cost at ten million entries is cache misses, and these stages keep several in flight. An
 * entry close to the query sits in the buckets of several chunks; it is reported only from the
 * first chunk where it is within t, which the full hash at hand lets us decide without a set. */
#include "segment.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "takedown/hash_types.h"

#define KEY_BLOCK 32
#define CAND_MAX 1024
#define SCAN_BLOCK 1024

static inline uint32_t chunk_key(const uint64_t *h, unsigned start, unsigned width)
{
    unsigned wi = start >> 6, s = start & 63;
    uint64_t v = h[wi] >> s;
    if (s + width > 64)
        v |= h[wi + 1] << (64 - s);
    return (uint32_t)v & ((1u << width) - 1);
}

void td__pdq_to_words(const void *pdq, uint64_t *words)
{
    const td_pdq *p = pdq;
    for (int j = 0; j < 4; j++)
        words[j] = (uint64_t)p->w[4 * j] | (uint64_t)p->w[4 * j + 1] << 16 |
                   (uint64_t)p->w[4 * j + 2] << 32 | (uint64_t)p->w[4 * j + 3] << 48;
}

/* sum_{i <= t} C(w, i) for a possibly fractional average width. */
static double ball_size(double w, unsigned t)
{
    double sum = 0, term = 1;
    for (unsigned i = 0; i <= t; i++) {
        sum += term;
        term = term * (w - i) / (i + 1);
        if (term <= 0)
            break;
    }
    return sum;
}

/* Relative costs in units of one cache miss: a linear scan streams 32 bytes per entry. */
#define LINEAR_COST_PER_ENTRY 0.2

static double mih_cost(size_t n, unsigned m, unsigned r)
{
    double w = 256.0 / m;
    double table_bytes = 4.0 * m * ldexp(1.0, (int)ceil(w));
    double probe_cost = table_bytes > 16e6 ? 1.0 : 0.3;
    double probes = m * ball_size(w, r / m);
    double cands = probes * (double)n / exp2(w);
    return probes * probe_cost + cands;
}

unsigned td__seg_choose_chunks(size_t n)
{
    double best = (double)n * LINEAR_COST_PER_ENTRY;
    unsigned best_m = 0;
    double table_cap = (double)n * 48 > 4e6 ? (double)n * 48 : 4e6;
    if (n < TD__LINEAR_BELOW)
        return 0;
    for (unsigned m = 11; m <= TD__MAX_CHUNKS; m++) {
        uint8_t start[TD__MAX_CHUNKS], width[TD__MAX_CHUNKS];
        td__seg_layout(m, start, width);
        if (4.0 * (double)td__seg_table_words(0, m, width) > table_cap)
            continue;
        double cost = mih_cost(n, m, 31);
        if (cost < best) {
            best = cost;
            best_m = m;
        }
    }
    return best_m;
}

void td__seg_layout(unsigned m, uint8_t *start, uint8_t *width)
{
    unsigned at = 0;
    for (unsigned c = 0; c < m; c++) {
        width[c] = (uint8_t)(256 / m + (c < 256 % m ? 1 : 0));
        start[c] = (uint8_t)at;
        at += width[c];
    }
}

void td__advise_huge(void *p, size_t bytes)
{
    /* Queries touch these arrays at random: with 4 KiB pages nearly every access also misses the
     * TLB. Transparent huge pages, where the system offers them on request, cut that cost. */
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

size_t td__seg_table_words(size_t n, unsigned m, const uint8_t *width)
{
    size_t words = 0;
    for (unsigned c = 0; c < m; c++)
        words += ((size_t)1 << width[c]) + 1 + n;
    return words;
}

static size_t chunk_offset(size_t n, const uint8_t *width, unsigned c)
{
    return td__seg_table_words(n, c, width);
}

void td__seg_attach_tables(td__seg *seg, const uint32_t *tables)
{
    for (unsigned c = 0; c < seg->m; c++) {
        const uint32_t *t = tables + chunk_offset(seg->n, seg->width, c);
        seg->off[c] = t;
        seg->pos[c] = t + ((size_t)1 << seg->width[c]) + 1;
    }
}

static void fill_chunk(const uint64_t *h, size_t n, unsigned start, unsigned width, uint32_t *off,
                       uint32_t *pos)
{
    size_t buckets = (size_t)1 << width;
    memset(off, 0, (buckets + 1) * sizeof *off);
    for (size_t i = 0; i < n; i++)
        off[chunk_key(h + 4 * i, start, width) + 1]++;
    for (size_t k = 0; k < buckets; k++)
        off[k + 1] += off[k];
    /* Placing with off[k] as cursor leaves off[k] = start of bucket k + 1; shift back. */
    for (size_t i = 0; i < n; i++)
        pos[off[chunk_key(h + 4 * i, start, width)]++] = (uint32_t)i;
    memmove(off + 1, off, buckets * sizeof *off);
    off[0] = 0;
}

struct fill_job {
    const uint64_t *h;
    size_t n;
    unsigned m;
    const uint8_t *start, *width;
    uint32_t *tables;
    atomic_uint next;
};

static void *fill_worker(void *arg)
{
    struct fill_job *job = arg;
    for (;;) {
        unsigned c = atomic_fetch_add(&job->next, 1);
        if (c >= job->m)
            return NULL;
        uint32_t *t = job->tables + chunk_offset(job->n, job->width, c);
        fill_chunk(job->h, job->n, job->start[c], job->width[c], t,
                   t + ((size_t)1 << job->width[c]) + 1);
    }
}

void td__seg_fill_tables(const uint64_t *h, size_t n, unsigned m, const uint8_t *start,
                         const uint8_t *width, uint32_t *tables)
{
    /* Chunks are independent: large builds use the cores (a snapshot load skips all this). */
    struct fill_job job = {h, n, m, start, width, tables, 0};
    pthread_t th[3];
    int started = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int want = n >= 100000 ? (int)(cpus > 4 ? 4 : cpus) - 1 : 0;
    for (int i = 0; i < want; i++)
        if (pthread_create(&th[started], NULL, fill_worker, &job) == 0)
            started++;
    fill_worker(&job);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

int td__seg_build(uint64_t *h, uint64_t *ids, size_t n, unsigned chunks, td__seg **out)
{
    td__seg *seg = td__calloc(1, sizeof *seg);
    *out = NULL;
    if (!seg)
        goto fail;
    seg->n = n;
    seg->h = seg->own_h = h;
    seg->ids = seg->own_ids = ids;
    seg->removed = td__calloc(n ? n : 1, sizeof *seg->removed);
    if (!seg->removed) {
        td__free(seg);
        goto fail;
    }
    atomic_init(&seg->refs, 1);
    if (chunks && n >= TD__LINEAR_BELOW)
        seg->m = chunks < 11 ? 11 : chunks > TD__MAX_CHUNKS ? TD__MAX_CHUNKS : chunks;
    else
        seg->m = td__seg_choose_chunks(n);
    if (seg->m) {
        td__seg_layout(seg->m, seg->start, seg->width);
        size_t words = td__seg_table_words(n, seg->m, seg->width);
        seg->own_tables = td__aligned_array(words, 4);
        if (!seg->own_tables) {
            seg->own_h = NULL;
            seg->own_ids = NULL;
            td__seg_unref(seg);
            goto fail;
        }
        td__advise_huge(seg->own_tables, words * 4);
        td__seg_fill_tables(h, n, seg->m, seg->start, seg->width, seg->own_tables);
        td__seg_attach_tables(seg, seg->own_tables);
    }
    *out = seg;
    return 0;
fail:
    td__free(h);
    td__free(ids);
    return -1;
}

void td__seg_ref(td__seg *seg) { atomic_fetch_add_explicit(&seg->refs, 1, memory_order_relaxed); }

void td__seg_unref(td__seg *seg)
{
    if (!seg || atomic_fetch_sub_explicit(&seg->refs, 1, memory_order_acq_rel) != 1)
        return;
    td__free(seg->own_h);
    td__free(seg->own_ids);
    td__free(seg->own_tables);
    td__free((void *)seg->removed);
    if (seg->map)
        munmap(seg->map, seg->map_len);
    td__free(seg);
}

size_t td__seg_bytes(const td__seg *seg)
{
    return seg->n * (32 + 8 + 8) + td__seg_table_words(seg->n, seg->m, seg->width) * 4;
}

/* ---- queries ---- */

/* Enumerates the flip masks of weight 0..t over w bits (Gosper's next-combination step). */
typedef struct masks_it {
    unsigned w, t, k;
    uint64_t x;
    int done;
} masks_it;

static void masks_init(masks_it *it, unsigned w, unsigned t)
{
    it->w = w;
    it->t = t < w ? t : w;
    it->k = 0;
    it->x = 0;
    it->done = 0;
}

static size_t masks_next(masks_it *it, uint32_t *out, size_t cap)
{
    const uint64_t lim = (uint64_t)1 << it->w;
    size_t n = 0;
    while (n < cap && !it->done) {
        out[n++] = (uint32_t)it->x;
        if (it->x == 0) {
            if (it->k >= it->t)
                it->done = 1;
            else
                it->k = 1, it->x = 1;
            continue;
        }
        uint64_t low = it->x & (~it->x + 1), ripple = it->x + low;
        uint64_t next = (((ripple ^ it->x) >> 2) / low) | ripple;
        if (next < lim) {
            it->x = next;
        } else if (it->k >= it->t) {
            it->done = 1;
        } else {
            it->k++;
            it->x = ((uint64_t)1 << it->k) - 1;
        }
    }
    return n;
}

struct qstate {
    const td__seg *seg;
    const uint64_t *q;
    unsigned r;
    int tc[TD__MAX_CHUNKS]; /* flips probed in chunk c; -1 skips it */
    uint64_t seq;
    const td__kernels *k;
    td__hit_fn hit;
    void *ctx;
    uint32_t qkey[TD__MAX_CHUNKS];
    uint32_t cand[CAND_MAX];
    uint32_t hidx[CAND_MAX];
    uint16_t hdist[CAND_MAX];
    size_t ncand;
};

static int flush(struct qstate *s, unsigned c)
{
    const td__seg *seg = s->seg;
    size_t nh = s->k->verify(seg->h, s->cand, s->ncand, s->q, s->r, s->hidx, s->hdist);
    s->ncand = 0;
    for (size_t j = 0; j < nh; j++) {
        const uint64_t *e = seg->h + 4 * (size_t)s->hidx[j];
        unsigned c2 = 0;
        for (; c2 < c; c2++)
            if (__builtin_popcount(chunk_key(e, seg->start[c2], seg->width[c2]) ^ s->qkey[c2]) <=
                s->tc[c2])
                break;
        if (c2 < c)
            continue; /* reported from chunk c2 */
        uint64_t rm = atomic_load_explicit(&seg->removed[s->hidx[j]], memory_order_relaxed);
        if (!td__visible(rm, s->seq))
            continue;
        if (s->hit(s->ctx, seg, s->hidx[j], s->hdist[j]))
            return 1;
    }
    return 0;
}

int td__index_force_mih;

static int prefer_linear(const td__seg *seg, unsigned r)
{
    if (seg->m == 0)
        return 1;
    if (td__index_force_mih)
        return 0;
    return (double)seg->n * LINEAR_COST_PER_ENTRY < mih_cost(seg->n, seg->m, r);
}

static int query_linear(const td__seg *seg, const uint64_t *q, unsigned r, uint64_t seq,
                        const td__kernels *k, td__hit_fn hit, void *ctx)
{
    uint32_t idx[SCAN_BLOCK];
    uint16_t dist[SCAN_BLOCK];
    for (size_t base = 0; base < seg->n; base += SCAN_BLOCK) {
        size_t len = seg->n - base < SCAN_BLOCK ? seg->n - base : SCAN_BLOCK;
        size_t nh = k->scan(seg->h + 4 * base, len, q, r, idx, dist);
        for (size_t j = 0; j < nh; j++) {
            uint32_t p = (uint32_t)(base + idx[j]);
            if (!td__visible(atomic_load_explicit(&seg->removed[p], memory_order_relaxed), seq))
                continue;
            if (hit(ctx, seg, p, dist[j]))
                return 1;
        }
    }
    return 0;
}

int td__seg_query(const td__seg *seg, const uint64_t *q, unsigned r, uint64_t seq,
                  const td__kernels *k, td__hit_fn hit, void *ctx)
{
    if (seg->n == 0)
        return 0;
    if (prefer_linear(seg, r))
        return query_linear(seg, q, r, seq, k, hit, ctx);

    struct qstate s;
    s.seg = seg;
    s.q = q;
    s.r = r;
    /* Generalised pigeonhole: if every chunk differed in more than tc[c] bits, the distance would
     * be at least sum(tc[c] + 1); any thresholds with that sum above r are exact. m * (t + 1)
     * overshoots r + 1 by `slack`, so that many chunks (the widest, which cost the most probes)
     * can do with one flip less; at r = 0 all chunks but one are skipped. */
    unsigned t = r / seg->m, slack = seg->m * (t + 1) - (r + 1);
    for (unsigned c = 0; c < seg->m; c++)
        s.tc[c] = (int)t - (c < slack ? 1 : 0);
    s.seq = seq;
    s.k = k;
    s.hit = hit;
    s.ctx = ctx;
    s.ncand = 0;
    for (unsigned c = 0; c < seg->m; c++)
        s.qkey[c] = chunk_key(q, seg->start[c], seg->width[c]);

    for (unsigned c = 0; c < seg->m; c++) {
        const uint32_t *off = seg->off[c], *pos = seg->pos[c];
        uint32_t keys[KEY_BLOCK], lo[KEY_BLOCK], hi[KEY_BLOCK];
        masks_it it;
        size_t nk;
        if (s.tc[c] < 0)
            continue;
        masks_init(&it, seg->width[c], (unsigned)s.tc[c]);
        while ((nk = masks_next(&it, keys, KEY_BLOCK)) > 0) {
            for (size_t i = 0; i < nk; i++) {
                keys[i] ^= s.qkey[c];
                __builtin_prefetch(off + keys[i]);
            }
            for (size_t i = 0; i < nk; i++) {
                lo[i] = off[keys[i]];
                hi[i] = off[keys[i] + 1];
                if (lo[i] < hi[i])
                    __builtin_prefetch(pos + lo[i]);
            }
            for (size_t i = 0; i < nk; i++) {
                for (uint32_t p = lo[i]; p < hi[i];) {
                    size_t room = CAND_MAX - s.ncand;
                    size_t take = hi[i] - p < room ? hi[i] - p : room;
                    memcpy(s.cand + s.ncand, pos + p, take * sizeof *pos);
                    s.ncand += take;
                    p += (uint32_t)take;
                    if (s.ncand == CAND_MAX && flush(&s, c))
                        return 1;
                }
            }
        }
        if (s.ncand && flush(&s, c))
            return 1;
    }
    return 0;
}
