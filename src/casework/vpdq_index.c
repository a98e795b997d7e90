/* vPDQ lookup at scale: every good, unique frame hash of every indexed video lives in one
 * td_index under id (video slot << 24 | frame position). A query's unique good frames are looked
 * up in batches; each hit marks (video, query frame) and (video, indexed frame); sorting the marks
 * and counting distinct pairs per video gives exactly the counts brute force would find, so the
 * two-percentage rule is applied with the same result (td__vpdq_decide is shared). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/vpdq_int.h"
#include "takedown/index.h"
#include "takedown/video_hash.h"

#define FRAME_BITS 24
#define FRAME_MASK ((UINT64_C(1) << FRAME_BITS) - 1)
#define MAX_SLOTS (UINT64_C(1) << (64 - FRAME_BITS))
#define MAX_THREADS 16

struct video {
    uint64_t id;
    uint32_t frames; /* unique good frames */
    int removed;     /* td_vpdq_index_remove: its frames stay in the index but never count */
};

struct td_vpdq_index {
    td_index *index;
    struct video *videos;
    size_t count, capacity; /* video slots, removed ones included */
    size_t live;            /* videos not removed */
    size_t frames;
    int min_quality;
    unsigned threads; /* 0: the online cores, at most MAX_THREADS */
};

td_status td_vpdq_index_new(td_vpdq_index **out, td_error *err)
{
    *out = NULL;
    td_vpdq_index *x = td__calloc(1, sizeof *x);
    if (!x)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    td_index_options o;
    td_index_options_default(&o);
    td_status s = td_index_new(&x->index, &o, err);
    if (s != TD_OK) {
        td__free(x);
        return s;
    }
    x->min_quality = TD_PDQ_MIN_QUALITY;
    *out = x;
    return TD_OK;
}

void td_vpdq_index_free(td_vpdq_index *x)
{
    if (!x)
        return;
    td_index_free(x->index);
    td__free(x->videos);
    td__free(x);
}

size_t td_vpdq_index_videos(const td_vpdq_index *x) { return x->live; }

void td_vpdq_index_set_threads(td_vpdq_index *x, unsigned threads)
{
    x->threads = threads > MAX_THREADS ? MAX_THREADS : threads;
}

size_t td_vpdq_index_frames(const td_vpdq_index *x) { return x->frames; }

td_status td_vpdq_index_add(td_vpdq_index *x, uint64_t id, const td_vpdq *video, td_error *err)
{
    if (x->count >= MAX_SLOTS)
        return td__error_set(err, TD_ERR_LIMIT, "too many videos in one vPDQ index");
    if (x->count == x->capacity) {
        size_t cap = x->capacity ? x->capacity * 2 : 256;
        struct video *grown = td__realloc(x->videos, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory");
        x->videos = grown;
        x->capacity = cap;
    }
    td_pdq *unique;
    size_t n;
    td_status s = td__vpdq_unique(video, x->min_quality, &unique, &n, err);
    if (s != TD_OK)
        return s;
    if (n > FRAME_MASK) {
        td__free(unique);
        return td__error_set(err, TD_ERR_LIMIT, "a video with more than %llu unique frames",
                             (unsigned long long)FRAME_MASK);
    }
    uint64_t slot = x->count;
    td_index_op *ops = td__mallocarray(n ? n : 1, sizeof *ops);
    if (!ops) {
        td__free(unique);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        ops[i].kind = TD_INDEX_ADD;
        ops[i].hash = unique[i];
        ops[i].id = slot << FRAME_BITS | (uint64_t)i;
    }
    if (n > 0)
        s = td_index_update(x->index, ops, n, NULL, err);
    td__free(ops);
    td__free(unique);
    if (s != TD_OK)
        return s;
    x->videos[x->count].id = id;
    x->videos[x->count].frames = (uint32_t)n;
    x->videos[x->count].removed = 0;
    x->count++;
    x->live++;
    x->frames += n;
    return TD_OK;
}

size_t td_vpdq_index_remove(td_vpdq_index *x, uint64_t id)
{
    size_t n = 0;
    for (size_t i = 0; i < x->count; i++)
        if (x->videos[i].id == id && !x->videos[i].removed) {
            x->videos[i].removed = 1;
            x->frames -= x->videos[i].frames;
            x->live--;
            n++;
        }
    return n;
}

/* A growable array of 64-bit marks with a cap. */
struct marks {
    uint64_t *v;
    size_t n, cap;
};

static int push(struct marks *m, uint64_t value)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        uint64_t *grown = td__realloc(m->v, cap * sizeof *grown);
        if (!grown)
            return -1;
        m->v = grown;
        m->cap = cap;
    }
    m->v[m->n++] = value;
    return 0;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int compare_match(const void *a, const void *b)
{
    const td_vpdq_index_match *x = a, *y = b;
    if (x->query_percent != y->query_percent)
        return x->query_percent > y->query_percent ? -1 : 1;
    if (x->compared_percent != y->compared_percent)
        return x->compared_percent > y->compared_percent ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorts marks and removes duplicates: then each (slot, position) is counted once. */
static void sort_unique(struct marks *m)
{
    qsort(m->v, m->n, sizeof *m->v, compare_u64);
    size_t u = 0;
    for (size_t i = 0; i < m->n; i++)
        if (u == 0 || m->v[u - 1] != m->v[i])
            m->v[u++] = m->v[i];
    m->n = u;
}

/* One thread's share of the query: frames [from, to) looked up in batches; hits become marks. */
struct lookup {
    td_index *index;
    const td_pdq *q;
    size_t from, to;
    int distance;
    struct marks qm, cm;
    td_status status;
    td_error err;
};

static void *lookup_run(void *arg)
{
    struct lookup *w = arg;
    td_index_results res;
    td_index_results_init(&res, 0);
    w->status = TD_OK;
    size_t total = w->to - w->from;
    /* equal batches of at most TD_INDEX_MAX_BATCH */
    size_t batches = (total + TD_INDEX_MAX_BATCH - 1) / TD_INDEX_MAX_BATCH;
    size_t per = batches ? (total + batches - 1) / batches : 0;
    for (size_t off = w->from; off < w->to && w->status == TD_OK; off += per) {
        size_t n = w->to - off < per ? w->to - off : per;
        res.count = 0;
        w->status = td_index_query_batch(w->index, w->q + off, n, w->distance, &res, &w->err);
        for (size_t i = 0; w->status == TD_OK && i < res.count; i++) {
            uint64_t slot = res.items[i].id >> FRAME_BITS;
            uint64_t qi = off + res.items[i].variant;
            if (push(&w->qm, slot << FRAME_BITS | qi) || push(&w->cm, res.items[i].id))
                w->status = td__error_set(&w->err, TD_ERR_NOMEM, "out of memory for query hits");
        }
    }
    td_index_results_clear(&res);
    return NULL;
}

/* Appends src's marks to dst (src is freed). */
static int absorb(struct marks *dst, struct marks *src)
{
    if (dst->n + src->n > dst->cap) {
        uint64_t *grown = td__realloc(dst->v, (dst->n + src->n) * sizeof *grown);
        if (!grown)
            return -1;
        dst->v = grown;
        dst->cap = dst->n + src->n;
    }
    if (src->n)
        memcpy(dst->v + dst->n, src->v, src->n * sizeof *src->v);
    dst->n += src->n;
    td__free(src->v);
    src->v = NULL;
    src->n = src->cap = 0;
    return 0;
}

static unsigned thread_count(const td_vpdq_index *x, size_t frames)
{
    unsigned t = x->threads;
    if (t == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        t = online > 0 ? (unsigned)(online < MAX_THREADS ? online : MAX_THREADS) : 1;
    }
    /* a thread is worth its start-up only with a fair share of frames */
    size_t most = frames / 64 ? frames / 64 : 1;
    return t > most ? (unsigned)most : t;
}

td_status td_vpdq_index_query(td_vpdq_index *x, const td_vpdq *query,
                              const td_vpdq_match_options *opts, td_vpdq_index_match **matches,
                              size_t *count, td_error *err)
{
    td_vpdq_match_options defaults;
    if (!opts) {
        td_vpdq_match_options_default(&defaults);
        opts = &defaults;
    }
    *matches = NULL;
    *count = 0;
    if (opts->distance < 0 || opts->distance > TD_INDEX_MAX_RADIUS)
        return td__error_set(err, TD_ERR_INVALID, "distance %d is outside 0..%d", opts->distance,
                             TD_INDEX_MAX_RADIUS);
    if (opts->min_quality != x->min_quality)
        return td__error_set(err, TD_ERR_INVALID, "the index holds frames of quality >= %d only",
                             x->min_quality);
    td_pdq *q;
    size_t nq;
    td_status s = td__vpdq_unique(query, opts->min_quality, &q, &nq, err);
    if (s != TD_OK)
        return s;
    if (nq > FRAME_MASK) {
        td__free(q);
        return td__error_set(err, TD_ERR_LIMIT, "query has too many frames");
    }
    /* The query's frames split into equal contiguous shares, one per thread (td_index queries
     * run concurrently); the calling thread takes the first share. */
    unsigned nt = thread_count(x, nq);
    struct lookup work[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    memset(work, 0, sizeof work);
    for (unsigned t = 0; t < nt; t++) {
        work[t].index = x->index;
        work[t].q = q;
        work[t].from = nq * t / nt;
        work[t].to = nq * (t + 1) / nt;
        work[t].distance = opts->distance;
    }
    for (unsigned t = 1; t < nt; t++)
        started[t] = pthread_create(&tid[t], NULL, lookup_run, &work[t]) == 0;
    lookup_run(&work[0]);
    for (unsigned t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            lookup_run(&work[t]); /* no thread: do its share here */
    }
    struct marks qm = {0}, cm = {0};
    for (unsigned t = 0; t < nt; t++) {
        if (s == TD_OK && work[t].status != TD_OK) {
            s = work[t].status;
            if (err)
                *err = work[t].err;
        }
        if (s == TD_OK && (absorb(&qm, &work[t].qm) || absorb(&cm, &work[t].cm)))
            s = td__error_set(err, TD_ERR_NOMEM, "out of memory for query hits");
        td__free(work[t].qm.v);
        td__free(work[t].cm.v);
    }
    td__free(q);

    td_vpdq_index_match *out = NULL;
    size_t n_out = 0;
    if (s == TD_OK) {
        sort_unique(&qm);
        sort_unique(&cm);
        /* Both lists are sorted by slot: walk them together, one video at a time. */
        size_t i = 0, j = 0;
        while (i < qm.n && s == TD_OK) {
            uint64_t slot = qm.v[i] >> FRAME_BITS;
            size_t q_matched = 0, c_matched = 0;
            while (i < qm.n && qm.v[i] >> FRAME_BITS == slot)
                i++, q_matched++;
            while (j < cm.n && cm.v[j] >> FRAME_BITS < slot)
                j++;
            while (j < cm.n && cm.v[j] >> FRAME_BITS == slot)
                j++, c_matched++;
            double qp, cp;
            if (x->videos[slot].removed)
                continue;
            if (!td__vpdq_decide(opts, q_matched, nq, c_matched, x->videos[slot].frames, &qp, &cp))
                continue;
            td_vpdq_index_match *grown = td__realloc(out, (n_out + 1) * sizeof *grown);
            if (!grown) {
                s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
                break;
            }
            out = grown;
            out[n_out].id = x->videos[slot].id;
            out[n_out].query_percent = qp;
            out[n_out].compared_percent = cp;
            n_out++;
        }
    }
    td__free(qm.v);
    td__free(cm.v);
    if (s != TD_OK) {
        td__free(out);
        return s;
    }
    if (n_out > 1)
        qsort(out, n_out, sizeof *out, compare_match);
    *matches = out;
    *count = n_out;
    return TD_OK;
}
