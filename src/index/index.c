/* td_index: segments, the append buffer, updates, queries and merges (see index_int.h for the
 * concurrency scheme and segment.h for why a query is exact).
 *
 * Adds go to an append buffer that queries scan linearly; when it holds FREEZE_AT entries it is
 * frozen into a small segment at the start of the next batch (when all of it is published).
 * Segments are merged like a binary counter (the newest two when the newer is at least half the
 * older), small merges inline, large ones outside the writer lock: they are built from the state
 * at sequence S_b and, when swapped in, take over the removal marks set since. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "index_int.h"

#define DELTA_INITIAL 1024
#define FREEZE_AT 4096
#define INLINE_MERGE_MAX ((size_t)1 << 17)
#define SOFT_MAX_SEGS 16
#define SCAN_BLOCK 1024
#define BULK_MIN ((size_t)1 << 16) /* adds in one batch that make a segment of their own */

void td_index_options_default(td_index_options *opts) { memset(opts, 0, sizeof *opts); }

void td_index_results_init(td_index_results *res, size_t max)
{
    memset(res, 0, sizeof *res);
    res->max = max ? max : TD_INDEX_DEFAULT_MAX_RESULTS;
}

void td_index_results_clear(td_index_results *res)
{
    if (!res)
        return;
    td__free(res->items);
    res->items = NULL;
    res->count = res->capacity = 0;
}

static int results_push(td_index_results *res, uint64_t id, unsigned dist, unsigned variant)
{
    if (res->count == res->capacity) {
        size_t cap = res->capacity ? res->capacity * 2 : 64;
        if (cap > res->max)
            cap = res->max;
        if (cap <= res->count)
            return -1;
        td_index_match *items = td__realloc(res->items, cap * sizeof *items);
        if (!items)
            return -2;
        res->items = items;
        res->capacity = cap;
    }
    td_index_match *m = &res->items[res->count++];
    m->id = id;
    m->distance = (uint16_t)dist;
    m->variant = (uint8_t)variant;
    return 0;
}

/* ---- append buffers ---- */

static void delta_unref(td__delta *d)
{
    if (!d || atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
        return;
    td__free(d->h);
    td__free(d->ids);
    td__free(d->added);
    td__free((void *)d->removed);
    td__free(d);
}

static td__delta *delta_new(size_t cap)
{
    td__delta *d = td__calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cap = cap;
    atomic_init(&d->count, 0);
    atomic_init(&d->refs, 1);
    d->h = td__aligned_array(cap, 32);
    d->ids = td__mallocarray(cap, sizeof *d->ids);
    d->added = td__mallocarray(cap, sizeof *d->added);
    d->removed = td__calloc(cap, sizeof *d->removed);
    if (!d->h || !d->ids || !d->added || !d->removed) {
        delta_unref(d);
        return NULL;
    }
    return d;
}

/* ---- views ---- */

static void view_free(td__view *v)
{
    for (size_t i = 0; i < v->nseg; i++)
        td__seg_unref(v->seg[i]);
    delta_unref(v->delta);
    td__free(v);
}

/* A new view sharing v's segments and delta (each gets one more reference). */
static td__view *view_clone(const td__view *v)
{
    td__view *nv = td__malloc(sizeof *nv);
    if (!nv)
        return NULL;
    /* Field by field: v->refs belongs to view_lock. */
    nv->nseg = v->nseg;
    memcpy(nv->seg, v->seg, sizeof nv->seg);
    nv->delta = v->delta;
    nv->refs = 1;
    for (size_t i = 0; i < nv->nseg; i++)
        td__seg_ref(nv->seg[i]);
    atomic_fetch_add(&nv->delta->refs, 1);
    return nv;
}

td__view *td__view_acquire(td_index *idx, uint64_t *seq)
{
    pthread_mutex_lock(&idx->view_lock);
    td__view *v = idx->cur;
    v->refs++;
    *seq = idx->seq;
    pthread_mutex_unlock(&idx->view_lock);
    return v;
}

void td__view_release(td_index *idx, td__view *v)
{
    pthread_mutex_lock(&idx->view_lock);
    long left = --v->refs;
    pthread_mutex_unlock(&idx->view_lock);
    if (left == 0)
        view_free(v); /* outside the lock: unmapping a big segment takes a while */
}

/* Writer only: makes nv (if any) current and seq the published sequence. */
static void publish(td_index *idx, td__view *nv, uint64_t seq)
{
    td__view *old = NULL;
    pthread_mutex_lock(&idx->view_lock);
    if (nv) {
        old = idx->cur;
        idx->cur = nv;
    }
    idx->seq = seq;
    pthread_mutex_unlock(&idx->view_lock);
    if (old)
        td__view_release(idx, old);
}

/* ---- building segments from visible entries ---- */

typedef struct source {
    const td__seg *seg;     /* or NULL for the delta */
    const td__delta *delta; /* with dcount entries */
    size_t dcount;
} source;

static size_t source_len(const source *s) { return s->seg ? s->seg->n : s->dcount; }

static int source_keeps(const source *s, size_t i, uint64_t seq)
{
    if (s->seg)
        return td__visible(atomic_load(&s->seg->removed[i]), seq);
    return s->delta->added[i] <= seq && td__visible(atomic_load(&s->delta->removed[i]), seq);
}

/* Builds one segment from the entries of the sources visible at seq, in source order. */
static td_status build_from_sources(const source *src, size_t nsrc, uint64_t seq, unsigned chunks,
                                    td__seg **out, td_error *err)
{
    size_t total = 0, n = 0;
    for (size_t s = 0; s < nsrc; s++)
        total += source_len(&src[s]);
    uint64_t *h = td__aligned_array(total ? total : 1, 32);
    uint64_t *ids = td__mallocarray(total ? total : 1, sizeof *ids);
    if (h)
        td__advise_huge(h, total * 32);
    if (!h || !ids) {
        td__free(h);
        td__free(ids);
        return td__error_set(err, TD_ERR_NOMEM, "index: no memory to merge %zu entries", total);
    }
    for (size_t s = 0; s < nsrc; s++) {
        const uint64_t *sh = src[s].seg ? src[s].seg->h : src[s].delta->h;
        const uint64_t *sid = src[s].seg ? src[s].seg->ids : src[s].delta->ids;
        for (size_t i = 0; i < source_len(&src[s]); i++) {
            if (!source_keeps(&src[s], i, seq))
                continue;
            memcpy(h + 4 * n, sh + 4 * i, 32);
            ids[n++] = sid[i];
        }
    }
    if (td__seg_build(h, ids, n, chunks, out) != 0)
        return td__error_set(err, TD_ERR_NOMEM, "index: no memory for a segment of %zu", n);
    return TD_OK;
}

/* Copies removal marks set after seq from the sources into the merged segment. */
static void carry_removals(const source *src, size_t nsrc, uint64_t seq, td__seg *merged)
{
    size_t j = 0;
    for (size_t s = 0; s < nsrc; s++) {
        for (size_t i = 0; i < source_len(&src[s]); i++) {
            if (!source_keeps(&src[s], i, seq))
                continue;
            uint64_t rm = src[s].seg ? atomic_load(&src[s].seg->removed[i])
                                     : atomic_load(&src[s].delta->removed[i]);
            atomic_store(&merged->removed[j++], rm);
        }
    }
}

td_status td__view_flatten(td__view *v, uint64_t seq, td__seg **out, td_error *err)
{
    source src[TD__MAX_SEGS + 1];
    size_t nsrc = 0, dcount = atomic_load_explicit(&v->delta->count, memory_order_acquire);
    int only_one = v->nseg == 1;
    for (size_t i = 0; i < v->nseg; i++)
        src[nsrc++] = (source){v->seg[i], NULL, 0};
    src[nsrc++] = (source){NULL, v->delta, dcount};
    for (size_t i = 0; i < dcount && only_one; i++)
        if (source_keeps(&src[nsrc - 1], i, seq))
            only_one = 0;
    for (size_t i = 0; only_one && i < v->seg[0]->n; i++)
        if (!source_keeps(&src[0], i, seq))
            only_one = 0;
    if (only_one) {
        td__seg_ref(v->seg[0]);
        *out = v->seg[0];
        return TD_OK;
    }
    return build_from_sources(src, nsrc, seq, 0, out, err);
}

/* ---- construction ---- */

static td_status index_alloc(const td_index_options *opts, td_index **out, td_error *err)
{
    td_index *idx = td__calloc(1, sizeof *idx);
    *out = NULL;
    if (!idx)
        return td__error_set(err, TD_ERR_NOMEM, "index: out of memory");
    if (opts)
        idx->opts = *opts;
    else
        td_index_options_default(&idx->opts);
    idx->k = td__index_kernels();
    pthread_mutex_init(&idx->write_lock, NULL);
    pthread_mutex_init(&idx->view_lock, NULL);
    pthread_mutex_init(&idx->bg_lock, NULL);
    pthread_cond_init(&idx->bg_cond, NULL);
    idx->seq = 1;
    idx->cur = td__calloc(1, sizeof *idx->cur);
    if (idx->cur)
        idx->cur->delta = delta_new(DELTA_INITIAL);
    if (!idx->cur || !idx->cur->delta) {
        td_index_free(idx);
        return td__error_set(err, TD_ERR_NOMEM, "index: out of memory");
    }
    idx->cur->refs = 1;
    *out = idx;
    return TD_OK;
}

static void *bg_main(void *arg);

static td_status index_start(td_index *idx, td_error *err)
{
    if (!idx->opts.background_merge)
        return TD_OK;
    if (pthread_create(&idx->bg_thread, NULL, bg_main, idx) != 0)
        return td__error_set(err, TD_ERR_INTERNAL, "index: cannot start the merge thread");
    idx->bg_started = 1;
    return TD_OK;
}

td_status td_index_new(td_index **out, const td_index_options *opts, td_error *err)
{
    td_status st = index_alloc(opts, out, err);
    if (st == TD_OK && (st = index_start(*out, err)) != TD_OK) {
        td_index_free(*out);
        *out = NULL;
    }
    return st;
}

td_status td__index_from_seg(td__seg *seg, const td_index_options *opts, td_index **out,
                             td_error *err)
{
    td_status st = index_alloc(opts, out, err);
    if (st != TD_OK) {
        td__seg_unref(seg);
        return st;
    }
    (*out)->cur->seg[0] = seg;
    (*out)->cur->nseg = 1;
    (*out)->live = seg->n;
    if ((st = index_start(*out, err)) != TD_OK) {
        td_index_free(*out);
        *out = NULL;
    }
    return st;
}

td_status td_index_build(td_index **out, const td_pdq *hashes, const uint64_t *ids, size_t n,
                         const td_index_options *opts, td_error *err)
{
    *out = NULL;
    if (n > TD_INDEX_MAX_ENTRIES)
        return td__error_set(err, TD_ERR_LIMIT, "index: %zu entries exceed the limit of %zu", n,
                             TD_INDEX_MAX_ENTRIES);
    if (n && !hashes)
        return td__error_set(err, TD_ERR_INVALID, "index: no hashes given");
    uint64_t *h = td__aligned_array(n ? n : 1, 32);
    uint64_t *id = td__mallocarray(n ? n : 1, sizeof *id);
    if (h)
        td__advise_huge(h, n * 32);
    if (!h || !id) {
        td__free(h);
        td__free(id);
        return td__error_set(err, TD_ERR_NOMEM, "index: no memory for %zu entries", n);
    }
    for (size_t i = 0; i < n; i++) {
        td__pdq_to_words(&hashes[i], h + 4 * i);
        id[i] = ids ? ids[i] : i;
    }
    td__seg *seg;
    if (td__seg_build(h, id, n, opts ? opts->chunks : 0, &seg) != 0)
        return td__error_set(err, TD_ERR_NOMEM, "index: no memory for the tables of %zu", n);
    return td__index_from_seg(seg, opts, out, err);
}

void td_index_free(td_index *idx)
{
    if (!idx)
        return;
    if (idx->bg_started) {
        pthread_mutex_lock(&idx->bg_lock);
        idx->bg_stop = 1;
        pthread_cond_signal(&idx->bg_cond);
        pthread_mutex_unlock(&idx->bg_lock);
        pthread_join(idx->bg_thread, NULL);
    }
    if (idx->cur)
        view_free(idx->cur);
    pthread_mutex_destroy(&idx->write_lock);
    pthread_mutex_destroy(&idx->view_lock);
    pthread_mutex_destroy(&idx->bg_lock);
    pthread_cond_destroy(&idx->bg_cond);
    td__free(idx);
}

/* ---- queries ---- */

typedef struct sink {
    td_index_results *res;
    unsigned variant;
    int failed; /* -1 limit, -2 memory */
} sink;

static int on_hit(void *ctx, const td__seg *seg, uint32_t pos, unsigned dist)
{
    sink *s = ctx;
    int rc = results_push(s->res, seg->ids[pos], dist, s->variant);
    if (rc)
        s->failed = rc;
    return rc;
}

static int query_delta(const td__delta *d, const uint64_t *q, unsigned r, uint64_t seq,
                       const td__kernels *k, sink *s)
{
    uint32_t idx[SCAN_BLOCK];
    uint16_t dist[SCAN_BLOCK];
    size_t count = atomic_load_explicit(&d->count, memory_order_acquire);
    for (size_t base = 0; base < count; base += SCAN_BLOCK) {
        size_t len = count - base < SCAN_BLOCK ? count - base : SCAN_BLOCK;
        size_t nh = k->scan(d->h + 4 * base, len, q, r, idx, dist);
        for (size_t j = 0; j < nh; j++) {
            size_t p = base + idx[j];
            if (d->added[p] > seq ||
                !td__visible(atomic_load_explicit(&d->removed[p], memory_order_relaxed), seq))
                continue;
            int rc = results_push(s->res, d->ids[p], dist[j], s->variant);
            if (rc) {
                s->failed = rc;
                return rc;
            }
        }
    }
    return 0;
}

static td_status sink_status(const sink *s, td_error *err)
{
    if (s->failed == -1)
        return td__error_set(err, TD_ERR_LIMIT, "index: more than %zu matches", s->res->max);
    return td__error_set(err, TD_ERR_NOMEM, "index: out of memory for the matches");
}

td_status td_index_query_batch(td_index *idx, const td_pdq *queries, size_t nq, int radius,
                               td_index_results *res, td_error *err)
{
    if (radius < 0 || radius > TD_INDEX_MAX_RADIUS)
        return td__error_set(err, TD_ERR_INVALID, "index: radius %d is outside 0..%d", radius,
                             TD_INDEX_MAX_RADIUS);
    if (nq == 0 || nq > TD_INDEX_MAX_BATCH)
        return td__error_set(err, TD_ERR_INVALID, "index: %zu queries in a batch (1..%d)", nq,
                             TD_INDEX_MAX_BATCH);
    uint64_t seq;
    td__view *v = td__view_acquire(idx, &seq);
    sink s = {res, 0, 0};
    int stop = 0;
    for (size_t qi = 0; qi < nq && !stop; qi++) {
        uint64_t q[4];
        td__pdq_to_words(&queries[qi], q);
        s.variant = (unsigned)qi;
        for (size_t i = 0; i < v->nseg && !stop; i++)
            stop = td__seg_query(v->seg[i], q, (unsigned)radius, seq, idx->k, on_hit, &s);
        if (!stop)
            stop = query_delta(v->delta, q, (unsigned)radius, seq, idx->k, &s);
    }
    td__view_release(idx, v);
    return stop ? sink_status(&s, err) : TD_OK;
}

td_status td_index_query(td_index *idx, const td_pdq *query, int radius, td_index_results *res,
                         td_error *err)
{
    return td_index_query_batch(idx, query, 1, radius, res, err);
}

td_status td_index_query_dihedral(td_index *idx, const td_pdq variants[TD_DIH_COUNT], int radius,
                                  td_index_results *res, td_error *err)
{
    return td_index_query_batch(idx, variants, TD_DIH_COUNT, radius, res, err);
}

/* ---- updates ---- */

/* Writer only. Freezes a full append buffer into a segment and runs small merges; everything in
 * the buffer is published, so the frozen entries need no sequence any more. */
static td_status freeze(td_index *idx, td_error *err)
{
    td__view *v = idx->cur;
    size_t dcount = atomic_load(&v->delta->count);
    if (dcount < FREEZE_AT || v->nseg >= TD__MAX_SEGS)
        return TD_OK;
    source src = {NULL, v->delta, dcount};
    td__seg *seg;
    td_status st = build_from_sources(&src, 1, idx->seq, 0, &seg, err);
    if (st != TD_OK)
        return st;
    td__view *nv = view_clone(v);
    td__delta *nd = delta_new(DELTA_INITIAL);
    if (!nv || !nd) {
        if (nv)
            view_free(nv);
        delta_unref(nd);
        td__seg_unref(seg);
        return td__error_set(err, TD_ERR_NOMEM, "index: out of memory");
    }
    delta_unref(nv->delta);
    nv->delta = nd;
    nv->seg[nv->nseg++] = seg;
    /* Small merges of the newest segments, never touching one a large merge is reading. */
    while (nv->nseg >= 2 && (!idx->merging || nv->nseg - 2 > idx->merge_hi)) {
        td__seg *a = nv->seg[nv->nseg - 2], *b = nv->seg[nv->nseg - 1];
        if (b->n * 2 < a->n || a->n + b->n > INLINE_MERGE_MAX)
            break;
        source two[2] = {{a, NULL, 0}, {b, NULL, 0}};
        td__seg *merged;
        if (build_from_sources(two, 2, idx->seq, 0, &merged, NULL) != TD_OK)
            break; /* not fatal: the segments stay as they are */
        td__seg_unref(a);
        td__seg_unref(b);
        nv->nseg -= 2;
        nv->seg[nv->nseg++] = merged;
    }
    publish(idx, nv, idx->seq);
    return TD_OK;
}

/* Writer only: room for one more entry in the append buffer. */
static td_status delta_reserve(td_index *idx, td_error *err)
{
    td__delta *d = idx->cur->delta;
    size_t count = atomic_load(&d->count);
    if (count < d->cap)
        return TD_OK;
    td__delta *nd = delta_new(d->cap * 2);
    td__view *nv = nd ? view_clone(idx->cur) : NULL;
    if (!nv) {
        delta_unref(nd);
        return td__error_set(err, TD_ERR_NOMEM, "index: out of memory for added entries");
    }
    memcpy(nd->h, d->h, count * 32);
    memcpy(nd->ids, d->ids, count * sizeof *d->ids);
    memcpy(nd->added, d->added, count * sizeof *d->added);
    for (size_t i = 0; i < count; i++)
        atomic_init(&nd->removed[i], atomic_load(&d->removed[i]));
    atomic_store(&nd->count, count);
    delta_unref(nv->delta);
    nv->delta = nd;
    publish(idx, nv, idx->seq);
    return TD_OK;
}

typedef struct remover {
    uint64_t id;
    uint64_t seq;
    size_t removed;
} remover;

static int on_remove_hit(void *ctx, const td__seg *seg, uint32_t pos, unsigned dist)
{
    remover *rm = ctx;
    (void)dist;
    if (seg->ids[pos] == rm->id) {
        atomic_store_explicit(&seg->removed[pos], rm->seq, memory_order_relaxed);
        rm->removed++;
    }
    return 0;
}

static size_t remove_entries(td_index *idx, const uint64_t *q, uint64_t id, uint64_t seq)
{
    td__view *v = idx->cur;
    remover rm = {id, seq, 0};
    for (size_t i = 0; i < v->nseg; i++)
        td__seg_query(v->seg[i], q, 0, seq, idx->k, on_remove_hit, &rm);
    td__delta *d = v->delta;
    size_t count = atomic_load(&d->count);
    for (size_t i = 0; i < count; i++) {
        if (d->ids[i] != id || memcmp(d->h + 4 * i, q, 32) != 0)
            continue;
        if (d->added[i] <= seq && td__visible(atomic_load(&d->removed[i]), seq)) {
            atomic_store_explicit(&d->removed[i], seq, memory_order_relaxed);
            rm.removed++;
        }
    }
    return rm.removed;
}

static int large_merge_due(const td__view *v)
{
    if (v->nseg < 2)
        return 0;
    const td__seg *a = v->seg[v->nseg - 2], *b = v->seg[v->nseg - 1];
    return b->n * 2 >= a->n || v->nseg > SOFT_MAX_SEGS;
}

/* Writer only. A large batch of adds becomes one segment of its own, built once, instead of
 * going through the append buffer: queries would scan the buffer linearly until the next batch
 * froze it, and a buffer of millions grows by copying. Non-zero if it was not done (too many
 * segments, or no memory: the caller then takes the ordinary path). */
/* The segment of n additions; NULL without memory. */
static td__seg *build_segment(const td_index_op *ops, size_t n)
{
    uint64_t *h = td__aligned_array(n, 32);
    uint64_t *ids = td__mallocarray(n, sizeof *ids);
    if (h)
        td__advise_huge(h, n * 32);
    if (!h || !ids) {
        td__free(h);
        td__free(ids);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        td__pdq_to_words(&ops[i].hash, h + 4 * i);
        ids[i] = ops[i].id;
    }
    td__seg *seg;
    return td__seg_build(h, ids, n, 0, &seg) == 0 ? seg : NULL;
}

static int add_segment(td_index *idx, const td_index_op *ops, size_t n, uint64_t seq)
{
    if (idx->cur->nseg >= TD__MAX_SEGS)
        return -1;
    td__seg *seg = build_segment(ops, n);
    if (!seg)
        return -1;
    td__view *nv = view_clone(idx->cur);
    if (!nv) {
        td__seg_unref(seg);
        return -1;
    }
    nv->seg[nv->nseg++] = seg;
    publish(idx, nv, seq);
    return 0;
}

static td_status after_batch(td_index *idx, td_status st, td_error *err);

td_status td_index_update(td_index *idx, const td_index_op *ops, size_t n, size_t *removed_count,
                          td_error *err)
{
    td_status st = TD_OK;
    size_t removed = 0, added = 0, applied = 0;
    if (removed_count)
        *removed_count = 0;
    if (n && !ops)
        return td__error_set(err, TD_ERR_INVALID, "index: no operations given");
    pthread_mutex_lock(&idx->write_lock);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind != TD_INDEX_ADD && ops[i].kind != TD_INDEX_REMOVE) {
            pthread_mutex_unlock(&idx->write_lock);
            return td__error_set(err, TD_ERR_INVALID, "index: operation %zu has kind %d", i,
                                 (int)ops[i].kind);
        }
        added += ops[i].kind == TD_INDEX_ADD;
    }
    if (added > TD_INDEX_MAX_ENTRIES - idx->live) {
        pthread_mutex_unlock(&idx->write_lock);
        return td__error_set(err, TD_ERR_LIMIT, "index: more than %zu entries",
                             TD_INDEX_MAX_ENTRIES);
    }
    if ((st = freeze(idx, err)) != TD_OK) {
        pthread_mutex_unlock(&idx->write_lock);
        return st;
    }
    uint64_t seq = idx->seq + 1;
    if (added == n && n >= BULK_MIN && add_segment(idx, ops, n, seq) == 0)
        applied = n;
    for (size_t i = applied; i < n && st == TD_OK; i++) {
        uint64_t q[4];
        td__pdq_to_words(&ops[i].hash, q);
        if (ops[i].kind == TD_INDEX_REMOVE) {
            removed += remove_entries(idx, q, ops[i].id, seq);
            continue;
        }
        if ((st = delta_reserve(idx, err)) != TD_OK)
            break;
        td__delta *d = idx->cur->delta;
        size_t at = atomic_load(&d->count);
        memcpy(d->h + 4 * at, q, 32);
        d->ids[at] = ops[i].id;
        d->added[at] = seq;
        atomic_store_explicit(&d->removed[at], 0, memory_order_relaxed);
        atomic_store_explicit(&d->count, at + 1, memory_order_release);
        applied++;
    }
    /* On failure the batch is still published as far as it went: entries already marked carry
     * this sequence, and leaving them unpublished would let the next batch publish them. */
    publish(idx, NULL, seq);
    idx->live = idx->live + applied - removed;
    if (removed_count)
        *removed_count = removed;
    return after_batch(idx, st, err);
}

/* With the writer lock held, after a batch was published: releases the lock and starts the
 * large merge the batch made due (in the background thread if there is one). */
static td_status after_batch(td_index *idx, td_status st, td_error *err)
{
    int merge_due = large_merge_due(idx->cur) && !idx->merging;
    int merge_now = merge_due && !idx->bg_started && idx->cur->nseg > SOFT_MAX_SEGS;
    pthread_mutex_unlock(&idx->write_lock);
    if (merge_due && st == TD_OK) {
        if (idx->bg_started) {
            pthread_mutex_lock(&idx->bg_lock);
            idx->bg_wake = 1;
            pthread_cond_signal(&idx->bg_cond);
            pthread_mutex_unlock(&idx->bg_lock);
        } else if (merge_now) {
            st = td_index_maintain(idx, err);
        }
    }
    return st;
}

struct td_index_prebuilt {
    td__seg *seg;
    size_t n;
};

td_status td_index_prebuild(const td_index_op *ops, size_t n, td_index_prebuilt **out,
                            td_error *err)
{
    *out = NULL;
    if (!n || !ops)
        return td__error_set(err, TD_ERR_INVALID, "index: no additions to build");
    if (n > TD_INDEX_MAX_ENTRIES)
        return td__error_set(err, TD_ERR_LIMIT, "index: more than %zu entries",
                             TD_INDEX_MAX_ENTRIES);
    for (size_t i = 0; i < n; i++)
        if (ops[i].kind != TD_INDEX_ADD)
            return td__error_set(err, TD_ERR_INVALID, "index: operation %zu is not an addition", i);
    td_index_prebuilt *b = td__calloc(1, sizeof *b);
    if (!b || !(b->seg = build_segment(ops, n))) {
        td__free(b);
        return td__error_set(err, TD_ERR_NOMEM, "index: out of memory building %zu entries", n);
    }
    b->n = n;
    *out = b;
    return TD_OK;
}

void td_index_prebuilt_free(td_index_prebuilt *b)
{
    if (!b)
        return;
    if (b->seg)
        td__seg_unref(b->seg);
    td__free(b);
}

td_status td_index_add_prebuilt(td_index *idx, td_index_prebuilt *b, td_error *err)
{
    td_status st;
    pthread_mutex_lock(&idx->write_lock);
    if (b->n > TD_INDEX_MAX_ENTRIES - idx->live) {
        pthread_mutex_unlock(&idx->write_lock);
        td_index_prebuilt_free(b);
        return td__error_set(err, TD_ERR_LIMIT, "index: more than %zu entries",
                             TD_INDEX_MAX_ENTRIES);
    }
    if ((st = freeze(idx, err)) != TD_OK) {
        pthread_mutex_unlock(&idx->write_lock);
        td_index_prebuilt_free(b);
        return st;
    }
    td__view *nv = idx->cur->nseg < TD__MAX_SEGS ? view_clone(idx->cur) : NULL;
    if (!nv) {
        int full = idx->cur->nseg >= TD__MAX_SEGS;
        pthread_mutex_unlock(&idx->write_lock);
        td_index_prebuilt_free(b);
        return full ? td__error_set(err, TD_ERR_LIMIT, "index: no room for another segment now")
                    : td__error_set(err, TD_ERR_NOMEM, "index: out of memory");
    }
    nv->seg[nv->nseg++] = b->seg;
    b->seg = NULL;
    publish(idx, nv, idx->seq + 1);
    idx->live += b->n;
    td_index_prebuilt_free(b);
    return after_batch(idx, TD_OK, err);
}

td_status td_index_add(td_index *idx, const td_pdq *hash, uint64_t id, td_error *err)
{
    td_index_op op = {TD_INDEX_ADD, *hash, id};
    return td_index_update(idx, &op, 1, NULL, err);
}

td_status td_index_remove(td_index *idx, const td_pdq *hash, uint64_t id, size_t *removed_count,
                          td_error *err)
{
    td_index_op op = {TD_INDEX_REMOVE, *hash, id};
    return td_index_update(idx, &op, 1, removed_count, err);
}

/* ---- large merges ---- */

td_status td_index_maintain(td_index *idx, td_error *err)
{
    for (;;) {
        pthread_mutex_lock(&idx->write_lock);
        td__view *v = idx->cur;
        if (idx->merging || !large_merge_due(v)) {
            pthread_mutex_unlock(&idx->write_lock);
            return TD_OK;
        }
        /* The newest run that a binary counter would carry into: extend left while the run is
         * at least half the next older segment (or, with too many segments, take them all). */
        size_t lo = v->nseg - 1, run = v->seg[lo]->n;
        while (lo > 0 && (run * 2 >= v->seg[lo - 1]->n || v->nseg > SOFT_MAX_SEGS)) {
            lo--;
            run += v->seg[lo]->n;
        }
        size_t hi = v->nseg - 1, nsrc = hi - lo + 1;
        source src[TD__MAX_SEGS];
        for (size_t i = 0; i < nsrc; i++) {
            td__seg_ref(v->seg[lo + i]);
            src[i] = (source){v->seg[lo + i], NULL, 0};
        }
        uint64_t seq_b = idx->seq;
        idx->merging = 1;
        idx->merge_hi = hi;
        pthread_mutex_unlock(&idx->write_lock);

        td__seg *merged;
        td_status st = build_from_sources(src, nsrc, seq_b, idx->opts.chunks, &merged, err);

        pthread_mutex_lock(&idx->write_lock);
        if (st == TD_OK) {
            td__view *nv = view_clone(idx->cur);
            if (!nv) {
                td__seg_unref(merged);
                st = td__error_set(err, TD_ERR_NOMEM, "index: out of memory");
            } else {
                carry_removals(src, nsrc, seq_b, merged);
                /* Segments lo..hi are where they were: only newer ones were appended. */
                for (size_t i = lo; i <= hi; i++)
                    td__seg_unref(nv->seg[i]);
                nv->seg[lo] = merged;
                memmove(&nv->seg[lo + 1], &nv->seg[hi + 1],
                        (nv->nseg - hi - 1) * sizeof nv->seg[0]);
                nv->nseg -= nsrc - 1;
                publish(idx, nv, idx->seq);
            }
        }
        idx->merging = 0;
        pthread_mutex_unlock(&idx->write_lock);
        for (size_t i = 0; i < nsrc; i++)
            td__seg_unref((td__seg *)src[i].seg);
        if (st != TD_OK)
            return st;
    }
}

static void *bg_main(void *arg)
{
    td_index *idx = arg;
    pthread_mutex_lock(&idx->bg_lock);
    while (!idx->bg_stop) {
        if (!idx->bg_wake) {
            pthread_cond_wait(&idx->bg_cond, &idx->bg_lock);
            continue;
        }
        idx->bg_wake = 0;
        pthread_mutex_unlock(&idx->bg_lock);
        td_status st = td_index_maintain(idx, NULL);
        (void)st; /* a failed merge leaves a valid state: the next wake-up retries */
        pthread_mutex_lock(&idx->bg_lock);
    }
    pthread_mutex_unlock(&idx->bg_lock);
    return NULL;
}

void td_index_get_stats(td_index *idx, td_index_stats *stats)
{
    uint64_t seq;
    memset(stats, 0, sizeof *stats);
    pthread_mutex_lock(&idx->write_lock);
    stats->live = idx->live;
    pthread_mutex_unlock(&idx->write_lock);
    td__view *v = td__view_acquire(idx, &seq);
    size_t biggest = 0;
    stats->sequence = seq;
    stats->segments = v->nseg;
    stats->delta = atomic_load(&v->delta->count);
    stats->bytes = v->delta->cap * (32 + 8 + 8 + 8);
    for (size_t i = 0; i < v->nseg; i++) {
        stats->bytes += td__seg_bytes(v->seg[i]);
        if (v->seg[i]->n >= biggest) {
            biggest = v->seg[i]->n;
            stats->chunks = v->seg[i]->m;
        }
    }
    td__view_release(idx, v);
}

td_status td_index_save(td_index *idx, const char *path, td_error *err)
{
    uint64_t seq;
    td__seg *seg;
    td__view *v = td__view_acquire(idx, &seq);
    td_status st = td__view_flatten(v, seq, &seg, err);
    td__view_release(idx, v);
    if (st != TD_OK)
        return st;
    st = td__snapshot_write(seg, path, err);
    td__seg_unref(seg);
    return st;
}

td_status td_index_load(td_index **out, const char *path, const td_index_options *opts,
                        td_error *err)
{
    td__seg *seg;
    *out = NULL;
    td_status st = td__snapshot_open(path, &seg, err);
    if (st != TD_OK)
        return st;
    return td__index_from_seg(seg, opts, out, err);
}

td_status td_index_load_memory(td_index **out, const void *data, size_t len,
                               const td_index_options *opts, td_error *err)
{
    td__seg *seg;
    *out = NULL;
    td_status st = td__snapshot_from_memory(data, len, &seg, err);
    if (st != TD_OK)
        return st;
    return td__index_from_seg(seg, opts, out, err);
}
