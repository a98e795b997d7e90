/* The Hamming index against a brute-force oracle (random and clustered data, radii 0..63, entries
 * at exactly r and r + 1), batches, updates under concurrent queries, snapshots (round trip,
 * corruption, truncation), hash lists and the exact-match maps. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "index/segment.h"
#include "support/support.h"
#include "takedown/index.h"

/* ---- helpers ---- */

static int dist(const td_pdq *a, const td_pdq *b)
{
    int d = 0;
    for (int i = 0; i < 16; i++)
        d += __builtin_popcount((unsigned)(a->w[i] ^ b->w[i]));
    return d;
}

static void rand_hash(uint64_t *st, td_pdq *h)
{
    for (int i = 0; i < 16; i += 4) {
        uint64_t v = test_rand(st);
        for (int j = 0; j < 4; j++)
            h->w[i + j] = (uint16_t)(v >> (16 * j));
    }
}

/* Flips exactly k distinct bits of h. */
static void flip_bits(uint64_t *st, td_pdq *h, int k)
{
    uint8_t used[256] = {0};
    while (k > 0) {
        unsigned b = (unsigned)(test_rand(st) % 256);
        if (used[b])
            continue;
        used[b] = 1;
        h->w[b >> 4] ^= (uint16_t)(1u << (b & 15));
        k--;
    }
}

typedef struct pair {
    uint64_t id;
    int d;
    int variant;
} pair;

static int cmp_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->variant != y->variant)
        return x->variant - y->variant;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->d - y->d;
}

typedef struct oracle {
    td_pdq *h;
    uint64_t *id;
    int *live;
    size_t n, cap;
} oracle;

static void oracle_add(oracle *o, const td_pdq *h, uint64_t id)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 1024;
        o->h = realloc(o->h, o->cap * sizeof *o->h);
        o->id = realloc(o->id, o->cap * sizeof *o->id);
        o->live = realloc(o->live, o->cap * sizeof *o->live);
        assert_non_null(o->h);
        assert_non_null(o->id);
        assert_non_null(o->live);
    }
    o->h[o->n] = *h;
    o->id[o->n] = id;
    o->live[o->n++] = 1;
}

static size_t oracle_remove(oracle *o, const td_pdq *h, uint64_t id)
{
    size_t k = 0;
    for (size_t i = 0; i < o->n; i++)
        if (o->live[i] && o->id[i] == id && memcmp(&o->h[i], h, sizeof *h) == 0) {
            o->live[i] = 0;
            k++;
        }
    return k;
}

static void oracle_free(oracle *o)
{
    free(o->h);
    free(o->id);
    free(o->live);
}

/* Checks one query (or batch) against brute force. */
static void check_batch(td_index *idx, const oracle *o, const td_pdq *qs, size_t nq, int r)
{
    td_index_results res;
    td_error err;
    td_index_results_init(&res, 0);
    assert_int_equal(td_index_query_batch(idx, qs, nq, r, &res, &err), TD_OK);
    size_t want_n = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 0; i < o->n; i++)
            want_n += o->live[i] && dist(&o->h[i], &qs[q]) <= r;
    pair *got = calloc(res.count + 1, sizeof *got), *want = calloc(want_n + 1, sizeof *want);
    size_t k = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 0; i < o->n; i++) {
            int d = dist(&o->h[i], &qs[q]);
            if (o->live[i] && d <= r)
                want[k++] = (pair){o->id[i], d, (int)q};
        }
    for (size_t i = 0; i < res.count; i++)
        got[i] = (pair){res.items[i].id, res.items[i].distance, res.items[i].variant};
    qsort(got, res.count, sizeof *got, cmp_pair);
    qsort(want, want_n, sizeof *want, cmp_pair);
    if (res.count != want_n)
        fail_msg("radius %d: %zu matches, brute force finds %zu", r, res.count, want_n);
    for (size_t i = 0; i < want_n; i++)
        if (cmp_pair(&got[i], &want[i]) != 0)
            fail_msg("radius %d: match %zu differs (id %llu d %d vs id %llu d %d)", r, i,
                     (unsigned long long)got[i].id, got[i].d, (unsigned long long)want[i].id,
                     want[i].d);
    free(got);
    free(want);
    td_index_results_clear(&res);
}

/* A query near entry j: distance exactly d from it (or a random hash if the oracle is empty). */
static void near_query(uint64_t *st, const oracle *o, int d, td_pdq *q)
{
    if (o->n == 0) {
        rand_hash(st, q);
        return;
    }
    *q = o->h[test_rand(st) % o->n];
    flip_bits(st, q, d);
}

/* Data: random, with clusters of near duplicates, exact duplicates and the zero hash. */
static void fill_data(uint64_t *st, oracle *o, size_t n, int clustered)
{
    for (size_t i = 0; i < n; i++) {
        td_pdq h;
        if (clustered && o->n && test_rand(st) % 3 == 0) {
            h = o->h[test_rand(st) % o->n];
            flip_bits(st, &h, (int)(test_rand(st) % 26));
        } else if (clustered && i % 97 == 0) {
            memset(&h, 0, sizeof h);
        } else {
            rand_hash(st, &h);
        }
        oracle_add(o, &h, 1000 + i);
        if (clustered && i % 50 == 0)
            oracle_add(o, &h, 5000000 + i); /* duplicate hash, other id */
    }
}

static const int radii[] = {0, 1, 2, 7, 15, 16, 22, 30, 31, 32, 33, 40, 47, 48, 63};

static void run_oracle(uint64_t seed, size_t n, int clustered, unsigned chunks, int force)
{
    uint64_t st = seed;
    oracle o = {0};
    td_index *idx;
    td_error err;
    td_index_options opts;
    fill_data(&st, &o, n, clustered);
    td_index_options_default(&opts);
    opts.chunks = chunks;
    assert_int_equal(td_index_build(&idx, o.h, o.id, o.n, &opts, &err), TD_OK);
    td__index_force_mih = force;
    for (size_t ri = 0; ri < sizeof radii / sizeof radii[0]; ri++) {
        int r = radii[ri];
        for (int t = 0; t < 6; t++) {
            td_pdq q;
            /* entries at exactly r, r + 1, r - 1, and far away */
            int d = t == 0   ? r
                    : t == 1 ? r + 1
                    : t == 2 ? (r ? r - 1 : 0)
                             : (int)(test_rand(&st) % 64);
            if (t == 5)
                rand_hash(&st, &q);
            else
                near_query(&st, &o, d, &q);
            check_batch(idx, &o, &q, 1, r);
        }
    }
    td_pdq zero;
    memset(&zero, 0, sizeof zero);
    check_batch(idx, &o, &zero, 1, 31);
    td__index_force_mih = 0;
    td_index_free(idx);
    oracle_free(&o);
}

static void test_oracle_small(void **state)
{
    (void)state;
    run_oracle(1, 0, 0, 0, 0);
    run_oracle(2, 1, 0, 0, 0);
    run_oracle(3, 1, 1, 0, 0);
    run_oracle(4, 7, 1, 0, 0);
    run_oracle(5, 1500, 1, 0, 0);
}

static void test_oracle_multi_index(void **state)
{
    (void)state;
    /* Chunk counts with 16-bit or smaller chunks keep the tables small enough for a test; force
     * the multi-index even where the cost model would scan, so that t = r / m goes up to 3. */
    static const unsigned chunks[] = {0, 16, 19, 24, 32};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        run_oracle(100 + i, 6000, 0, chunks[i], 1);
        run_oracle(200 + i, 6000, 1, chunks[i], 1);
    }
    run_oracle(300, 20000, 1, 0, 0);
}

static void test_oracle_one_entry(void **state)
{
    (void)state;
    /* A peer returned nothing for a one-entry index: check the multi-index path directly. */
    td_pdq h, q;
    uint64_t st = 42;
    td_index *idx;
    td_index_results res;
    rand_hash(&st, &h);
    q = h;
    flip_bits(&st, &q, 31);
    assert_int_equal(td_index_build(&idx, &h, NULL, 1, NULL, NULL), TD_OK);
    td_index_results_init(&res, 0);
    assert_int_equal(td_index_query(idx, &q, 31, &res, NULL), TD_OK);
    assert_int_equal(res.count, 1);
    assert_int_equal(res.items[0].id, 0);
    assert_int_equal(res.items[0].distance, 31);
    res.count = 0;
    assert_int_equal(td_index_query(idx, &q, 30, &res, NULL), TD_OK);
    assert_int_equal(res.count, 0);
    td_error err;
    assert_int_equal(td_index_query(idx, &q, 64, &res, &err), TD_ERR_INVALID);
    assert_int_equal(td_index_query(idx, &q, -1, &res, &err), TD_ERR_INVALID);
    td_index_results_clear(&res);
    td_index_free(idx);
}

static void test_dihedral_batch(void **state)
{
    (void)state;
    uint64_t st = 7;
    oracle o = {0};
    td_index *idx;
    fill_data(&st, &o, 5000, 1);
    assert_int_equal(td_index_build(&idx, o.h, o.id, o.n, NULL, NULL), TD_OK);
    for (int rep = 0; rep < 5; rep++) {
        td_pdq v[TD_DIH_COUNT];
        for (int i = 0; i < TD_DIH_COUNT; i++)
            near_query(&st, &o, (int)(test_rand(&st) % 40), &v[i]);
        check_batch(idx, &o, v, TD_DIH_COUNT, 31);
        td_index_results res;
        td_index_results_init(&res, 0);
        assert_int_equal(td_index_query_dihedral(idx, v, 31, &res, NULL), TD_OK);
        for (size_t i = 0; i < res.count; i++)
            assert_true(res.items[i].variant < TD_DIH_COUNT);
        td_index_results_clear(&res);
    }
    td_index_results res;
    td_error err;
    td_index_results_init(&res, 0);
    assert_int_equal(td_index_query_batch(idx, o.h, 0, 31, &res, &err), TD_ERR_INVALID);
    /* The result cap is a clear error, not a silent truncation. */
    td_index_results_clear(&res);
    td_index_results_init(&res, 2);
    td_pdq zero;
    memset(&zero, 0, sizeof zero);
    assert_int_equal(td_index_query(idx, &zero, 63, &res, &err), TD_ERR_LIMIT);
    td_index_results_clear(&res);
    td_index_free(idx);
    oracle_free(&o);
}

static void test_updates(void **state)
{
    (void)state;
    uint64_t st = 11;
    oracle o = {0};
    td_index *idx;
    td_error err;
    fill_data(&st, &o, 3000, 1);
    assert_int_equal(td_index_build(&idx, o.h, o.id, o.n, NULL, &err), TD_OK);
    uint64_t next_id = 9000000;
    /* Enough adds to freeze the append buffer several times and trigger merges. */
    for (int round = 0; round < 30; round++) {
        td_index_op ops[600];
        size_t nops = 0;
        for (int i = 0; i < 600; i++) {
            if (test_rand(&st) % 4 == 0 && o.n) {
                size_t j = test_rand(&st) % o.n;
                ops[nops++] = (td_index_op){TD_INDEX_REMOVE, o.h[j], o.id[j]};
            } else {
                td_pdq h;
                near_query(&st, &o, (int)(test_rand(&st) % 20), &h);
                ops[nops++] = (td_index_op){TD_INDEX_ADD, h, next_id++};
            }
        }
        size_t removed = 0, want_removed = 0;
        assert_int_equal(td_index_update(idx, ops, nops, &removed, &err), TD_OK);
        for (size_t i = 0; i < nops; i++) {
            if (ops[i].kind == TD_INDEX_ADD)
                oracle_add(&o, &ops[i].hash, ops[i].id);
            else
                want_removed += oracle_remove(&o, &ops[i].hash, ops[i].id);
        }
        assert_int_equal(removed, want_removed);
        if (round % 10 == 9)
            assert_int_equal(td_index_maintain(idx, &err), TD_OK);
        for (int t = 0; t < 4; t++) {
            td_pdq q;
            near_query(&st, &o, (int)(test_rand(&st) % 35), &q);
            check_batch(idx, &o, &q, 1, 31);
        }
    }
    td_index_stats stats;
    td_index_get_stats(idx, &stats);
    size_t live = 0;
    for (size_t i = 0; i < o.n; i++)
        live += o.live[i];
    assert_int_equal(stats.live, live);
    /* Removing what is not there removes nothing. */
    td_pdq h;
    rand_hash(&st, &h);
    size_t removed = 7;
    assert_int_equal(td_index_remove(idx, &h, 1, &removed, &err), TD_OK);
    assert_int_equal(removed, 0);
    td_index_free(idx);
    oracle_free(&o);
}

static void test_empty_then_add(void **state)
{
    (void)state;
    td_index *idx;
    td_error err;
    td_index_results res;
    td_pdq h;
    uint64_t st = 5;
    rand_hash(&st, &h);
    assert_int_equal(td_index_new(&idx, NULL, &err), TD_OK);
    td_index_results_init(&res, 0);
    assert_int_equal(td_index_query(idx, &h, 31, &res, &err), TD_OK);
    assert_int_equal(res.count, 0);
    assert_int_equal(td_index_add(idx, &h, 77, &err), TD_OK);
    assert_int_equal(td_index_query(idx, &h, 0, &res, &err), TD_OK);
    assert_int_equal(res.count, 1);
    assert_int_equal(res.items[0].id, 77);
    size_t removed;
    assert_int_equal(td_index_remove(idx, &h, 77, &removed, &err), TD_OK);
    assert_int_equal(removed, 1);
    res.count = 0;
    assert_int_equal(td_index_query(idx, &h, 63, &res, &err), TD_OK);
    assert_int_equal(res.count, 0);
    td_index_results_clear(&res);
    td_index_free(idx);
}

/* A batch of 65536 adds or more becomes a segment of its own: after a few single adds (append
 * buffer), one clustered batch of 70k, then removals in both and more adds, every query agrees
 * with brute force. */
static void test_large_batch(void **state)
{
    (void)state;
    td_index *idx;
    td_error err;
    oracle o = {0};
    uint64_t st = 77;
    enum { BIG = 70000 };
    assert_int_equal(td_index_new(&idx, NULL, &err), TD_OK);
    for (int i = 0; i < 10; i++) {
        td_pdq h;
        rand_hash(&st, &h);
        oracle_add(&o, &h, 10 + (uint64_t)i);
        assert_int_equal(td_index_add(idx, &h, 10 + (uint64_t)i, &err), TD_OK);
    }
    size_t first = o.n;
    fill_data(&st, &o, BIG, 1);
    size_t n_ops = o.n - first;
    td_index_op *ops = calloc(n_ops, sizeof *ops);
    assert_non_null(ops);
    for (size_t i = 0; i < n_ops; i++)
        ops[i] = (td_index_op){TD_INDEX_ADD, o.h[first + i], o.id[first + i]};
    assert_int_equal(td_index_update(idx, ops, n_ops, NULL, &err), TD_OK);
    td_index_stats stats;
    td_index_get_stats(idx, &stats);
    assert_int_equal(stats.live, o.n);
    assert_true(stats.delta <= 10); /* the batch is not in the append buffer */
    assert_true(stats.segments >= 1);
    for (size_t i = 0; i < 200; i++) {
        size_t j = (size_t)(test_rand(&st) % o.n);
        size_t removed;
        assert_int_equal(td_index_remove(idx, &o.h[j], o.id[j], &removed, &err), TD_OK);
        assert_int_equal(removed, oracle_remove(&o, &o.h[j], o.id[j]));
    }
    for (int i = 0; i < 5; i++) {
        td_pdq h;
        rand_hash(&st, &h);
        oracle_add(&o, &h, 9000000 + (uint64_t)i);
        assert_int_equal(td_index_add(idx, &h, 9000000 + (uint64_t)i, &err), TD_OK);
    }
    for (size_t r = 0; r < sizeof radii / sizeof radii[0]; r += 3) {
        td_pdq q[8];
        for (int k = 0; k < 8; k++)
            near_query(&st, &o, (int)(test_rand(&st) % 40), &q[k]);
        check_batch(idx, &o, q, 8, radii[r]);
    }
    free(ops);
    oracle_free(&o);
    td_index_free(idx);
}

/* A batch built ahead (td_index_prebuild) and published later answers as the oracle does;
 * entries added meanwhile stay; removals reach it; a batch with a removal is refused; one built
 * and never published is freed. */
static void test_prebuilt_batch(void **state)
{
    (void)state;
    td_index *idx;
    td_index_prebuilt *built;
    td_error err;
    oracle o = {0};
    uint64_t st = 78;
    enum { BIG = 70000 };
    assert_int_equal(td_index_new(&idx, NULL, &err), TD_OK);
    fill_data(&st, &o, BIG, 1);
    td_index_op *ops = calloc(o.n, sizeof *ops);
    assert_non_null(ops);
    for (size_t i = 0; i < o.n; i++)
        ops[i] = (td_index_op){TD_INDEX_ADD, o.h[i], o.id[i]};
    assert_int_equal(td_index_prebuild(ops, o.n, &built, &err), TD_OK);
    for (int i = 0; i < 5; i++) { /* while it waits: ordinary additions */
        td_pdq h;
        rand_hash(&st, &h);
        oracle_add(&o, &h, 8000000 + (uint64_t)i);
        assert_int_equal(td_index_add(idx, &h, 8000000 + (uint64_t)i, &err), TD_OK);
    }
    td_index_stats stats;
    td_index_get_stats(idx, &stats);
    assert_int_equal(stats.live, 5);
    assert_int_equal(td_index_add_prebuilt(idx, built, &err), TD_OK);
    td_index_get_stats(idx, &stats);
    assert_int_equal(stats.live, o.n);
    assert_true(stats.segments >= 1);
    for (size_t i = 0; i < 100; i++) {
        size_t j = (size_t)(test_rand(&st) % o.n);
        size_t removed;
        assert_int_equal(td_index_remove(idx, &o.h[j], o.id[j], &removed, &err), TD_OK);
        assert_int_equal(removed, oracle_remove(&o, &o.h[j], o.id[j]));
    }
    for (size_t r = 0; r < sizeof radii / sizeof radii[0]; r += 3) {
        td_pdq q[8];
        for (int k = 0; k < 8; k++)
            near_query(&st, &o, (int)(test_rand(&st) % 40), &q[k]);
        check_batch(idx, &o, q, 8, radii[r]);
    }
    ops[3].kind = TD_INDEX_REMOVE;
    assert_int_equal(td_index_prebuild(ops, 100, &built, &err), TD_ERR_INVALID);
    assert_null(built);
    assert_int_equal(td_index_prebuild(ops, 0, &built, &err), TD_ERR_INVALID);
    assert_int_equal(td_index_prebuild(ops + 4, 1000, &built, &err), TD_OK);
    td_index_prebuilt_free(built);
    td_index_prebuilt_free(NULL);
    free(ops);
    oracle_free(&o);
    td_index_free(idx);
}

/* ---- concurrency: batches are seen whole ---- */

#define PAIRS 3000

typedef struct shared {
    td_index *idx;
    td_pdq hashes[PAIRS];
    int stop; /* __atomic */
    int violations;
    long queries;
} shared;

/* The writer adds and removes each hash under two ids in one batch; a reader that ever sees one
 * id without the other has seen half a batch. */
static void *reader(void *arg)
{
    shared *s = arg;
    td_index_results res;
    uint64_t st = (uint64_t)(uintptr_t)&res;
    td_index_results_init(&res, 0);
    while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
        size_t k = test_rand(&st) % PAIRS;
        res.count = 0;
        if (td_index_query(s->idx, &s->hashes[k], 0, &res, NULL) != TD_OK) {
            __atomic_add_fetch(&s->violations, 1, __ATOMIC_RELAXED);
            break;
        }
        uint64_t mask = 0;
        for (size_t i = 0; i < res.count; i++)
            if (res.items[i].id / 2 == k)
                mask |= 1u << (res.items[i].id & 1);
        if (mask == 1 || mask == 2)
            __atomic_add_fetch(&s->violations, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&s->queries, 1, __ATOMIC_RELAXED);
    }
    td_index_results_clear(&res);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    static shared s;
    uint64_t st = 99;
    td_error err;
    td_index_options opts;
    td_index_options_default(&opts);
    opts.background_merge = 1;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < PAIRS; i++)
        rand_hash(&st, &s.hashes[i]);
    assert_int_equal(td_index_new(&s.idx, &opts, &err), TD_OK);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &s), 0);
    /* The writes begin once the readers query (on a loaded machine a thread can start late). */
    while (__atomic_load_n(&s.queries, __ATOMIC_RELAXED) == 0)
        sched_yield();
    int present[PAIRS] = {0};
    for (int round = 0; round < 12000; round++) {
        size_t k = test_rand(&st) % PAIRS;
        td_index_op ops[2] = {
            {present[k] ? TD_INDEX_REMOVE : TD_INDEX_ADD, s.hashes[k], 2 * k},
            {present[k] ? TD_INDEX_REMOVE : TD_INDEX_ADD, s.hashes[k], 2 * k + 1}};
        size_t removed;
        assert_int_equal(td_index_update(s.idx, ops, 2, &removed, &err), TD_OK);
        assert_int_equal(removed, present[k] ? 2 : 0);
        present[k] = !present[k];
    }
    __atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(s.violations, 0);
    assert_true(s.queries > 0);
    /* The final state matches what the writer did. */
    td_index_results res;
    td_index_results_init(&res, 0);
    for (int k = 0; k < PAIRS; k++) {
        res.count = 0;
        assert_int_equal(td_index_query(s.idx, &s.hashes[k], 0, &res, NULL), TD_OK);
        size_t mine = 0;
        for (size_t i = 0; i < res.count; i++)
            mine += res.items[i].id / 2 == (uint64_t)k;
        assert_int_equal(mine, present[k] ? 2 : 0);
    }
    td_index_results_clear(&res);
    td_index_free(s.idx);
}

/* ---- snapshots ---- */

static void test_snapshot(void **state)
{
    (void)state;
    uint64_t st = 21;
    oracle o = {0};
    td_index *idx, *back;
    td_error err;
    fill_data(&st, &o, 8000, 1);
    assert_int_equal(td_index_build(&idx, o.h, o.id, o.n, NULL, &err), TD_OK);
    /* Some updates, so that the save has to flatten. */
    for (int i = 0; i < 50; i++) {
        size_t j = test_rand(&st) % o.n;
        size_t removed;
        assert_int_equal(td_index_remove(idx, &o.h[j], o.id[j], &removed, &err), TD_OK);
        oracle_remove(&o, &o.h[j], o.id[j]);
        td_pdq h;
        rand_hash(&st, &h);
        assert_int_equal(td_index_add(idx, &h, 777000 + (uint64_t)i, &err), TD_OK);
        oracle_add(&o, &h, 777000 + (uint64_t)i);
    }
    const char *path = write_temp("index.snap", "", 0);
    assert_int_equal(td_index_save(idx, path, &err), TD_OK);
    assert_int_equal(td_index_load(&back, path, NULL, &err), TD_OK);
    for (int t = 0; t < 20; t++) {
        td_pdq q;
        near_query(&st, &o, (int)(test_rand(&st) % 40), &q);
        check_batch(back, &o, &q, 1, 31);
    }
    /* A loaded index takes updates too. */
    td_pdq h;
    rand_hash(&st, &h);
    assert_int_equal(td_index_add(back, &h, 1, &err), TD_OK);
    oracle_add(&o, &h, 1);
    check_batch(back, &o, &h, 1, 10);
    td_index_free(back);

    size_t len;
    uint8_t *data = read_all(path, &len);
    /* Round trip through memory. */
    assert_int_equal(td_index_load_memory(&back, data, len, NULL, &err), TD_OK);
    td_index_free(back);
    /* Every truncation fails cleanly, and says so. */
    static const size_t cuts[] = {0, 1, 64, 127, 128, 129, 1000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        assert_int_equal(td_index_load_memory(&back, data, cuts[i], NULL, &err), TD_ERR_CORRUPT);
        assert_null(back);
    }
    assert_int_equal(td_index_load_memory(&back, data, len - 1, NULL, &err), TD_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "truncated"));
    const char *cut = write_temp("cut.snap", data, len / 2);
    assert_int_equal(td_index_load(&back, cut, NULL, &err), TD_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "truncated"));
    assert_non_null(strstr(err.message, "cut.snap"));
    /* Flipped bytes anywhere: header or payload. */
    static const size_t flips[] = {0, 9, 20, 40, 70, 130, 5000};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        uint8_t *bad = malloc(len);
        memcpy(bad, data, len);
        bad[flips[i]] ^= 0x10;
        td_status s = td_index_load_memory(&back, bad, len, NULL, &err);
        assert_true(s == TD_ERR_CORRUPT || s == TD_ERR_UNSUPPORTED);
        free(bad);
    }
    uint8_t *bad = malloc(len);
    memcpy(bad, data, len);
    bad[len - 3] ^= 1;
    assert_int_equal(td_index_load_memory(&back, bad, len, NULL, &err), TD_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "checksum"));
    /* Trailing garbage. */
    uint8_t *longer = malloc(len + 8);
    memcpy(longer, data, len);
    memset(longer + len, 0, 8);
    assert_int_equal(td_index_load_memory(&back, longer, len + 8, NULL, &err), TD_ERR_CORRUPT);
    free(longer);
    free(bad);
    free(data);
    assert_int_equal(td_index_load(&back, "/nonexistent/x.snap", NULL, &err), TD_ERR_NOT_FOUND);

    /* Empty index round trip. */
    td_index *empty;
    assert_int_equal(td_index_new(&empty, NULL, &err), TD_OK);
    assert_int_equal(td_index_save(empty, path, &err), TD_OK);
    td_index_free(empty);
    assert_int_equal(td_index_load(&back, path, NULL, &err), TD_OK);
    td_index_stats stats;
    td_index_get_stats(back, &stats);
    assert_int_equal(stats.live, 0);
    td_index_free(back);
    td_index_free(idx);
    oracle_free(&o);
}

/* ---- hash lists ---- */

static void test_hashlist(void **state)
{
    (void)state;
    const char *text =
        "f162eb9daab170c0567fe3632d9a5548c5612982dd5e374a7424ebbc8a835c95\n"
        "\n"
        "# a comment\n"
        "pdq B062EB9D2AB170C0567FCB672D9A5548C5612982DD5E374A7424EBBC8B135CB5 extra stuff\r\n"
        "  0000000000000000000000000000000000000000000000000000000000000001,100";
    td_index_hashlist list;
    td_error err;
    assert_int_equal(td_index_hashlist_parse(text, strlen(text), NULL, &list, &err), TD_OK);
    assert_int_equal(list.count, 3);
    assert_int_equal(list.lines[0], 1);
    assert_int_equal(list.lines[1], 4);
    assert_int_equal(list.lines[2], 5);
    assert_int_equal(list.hashes[0].w[15], 0xf162);
    assert_int_equal(list.hashes[0].w[0], 0x5c95);
    assert_int_equal(list.hashes[2].w[0], 1);
    td_index_hashlist_clear(&list);

    const char *bad = "f162eb9daab170c0567fe3632d9a5548c5612982dd5e374a7424ebbc8a835c95\nxyz\n";
    assert_int_equal(td_index_hashlist_parse(bad, strlen(bad), NULL, &list, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "line 2"));
    const char *longer = "f162eb9daab170c0567fe3632d9a5548c5612982dd5e374a7424ebbc8a835c95a\n";
    assert_int_equal(td_index_hashlist_parse(longer, strlen(longer), NULL, &list, &err),
                     TD_ERR_INVALID);
    const char *shorter = "f162eb9daab170c0567fe3632d9a5548c5612982dd5e374a7424ebbc8a835c9\n";
    assert_int_equal(td_index_hashlist_parse(shorter, strlen(shorter), NULL, &list, &err),
                     TD_ERR_INVALID);

    td_index_hashlist_limits lim;
    td_index_hashlist_limits_default(&lim);
    lim.max_entries = 1;
    assert_int_equal(td_index_hashlist_parse(text, strlen(text), &lim, &list, &err), TD_ERR_LIMIT);
    td_index_hashlist_limits_default(&lim);
    lim.max_line = 70;
    assert_int_equal(td_index_hashlist_parse(text, strlen(text), &lim, &list, &err), TD_ERR_LIMIT);
    assert_non_null(strstr(err.message, "line 4"));

    /* The streaming reader agrees with the parser, across block boundaries. */
    size_t len;
    uint8_t *hay = read_all(conf_path("threatexchange/pdq/data/reg-test-input/haystack.txt"), &len);
    td_index_hashlist a, b;
    assert_int_equal(td_index_hashlist_parse((const char *)hay, len, NULL, &a, &err), TD_OK);
    assert_int_equal(
        td_index_hashlist_read(conf_path("threatexchange/pdq/data/reg-test-input/haystack.txt"),
                               NULL, &b, &err),
        TD_OK);
    assert_int_equal(a.count, 1350);
    assert_int_equal(b.count, a.count);
    assert_memory_equal(a.hashes, b.hashes, a.count * sizeof *a.hashes);
    assert_memory_equal(a.lines, b.lines, a.count * sizeof *a.lines);
    td_index_hashlist_clear(&a);
    td_index_hashlist_clear(&b);
    free(hay);
    lim.max_line = 4096;
    lim.max_bytes = 100;
    assert_int_equal(
        td_index_hashlist_read(conf_path("threatexchange/pdq/data/reg-test-input/haystack.txt"),
                               &lim, &b, &err),
        TD_ERR_LIMIT);
    assert_int_equal(td_index_hashlist_read("/nonexistent", NULL, &b, &err), TD_ERR_NOT_FOUND);
}

/* ---- exact maps ---- */

static void test_exact_map(void **state)
{
    (void)state;
    td_index_map *map;
    td_error err;
    uint64_t ids[8];
    size_t count;
    int removed;
    assert_int_equal(td_index_map_new(&map, &err), TD_OK);
    assert_int_equal(td_index_map_add_hex(map, "d41d8cd98f00b204e9800998ecf8427e", 1, &err), TD_OK);
    assert_int_equal(td_index_map_add_hex(map, "D41D8CD98F00B204E9800998ECF8427E", 2, &err), TD_OK);
    assert_int_equal(td_index_map_add_hex(map, "d41d8cd98f00b204e9800998ecf8427e", 1, &err), TD_OK);
    assert_int_equal(
        td_index_map_find_hex(map, "d41d8cd98f00b204e9800998ecf8427e", ids, 8, &count, &err),
        TD_OK);
    assert_int_equal(count, 2);
    assert_int_equal(td_index_map_add_hex(map, "xyz", 1, &err), TD_ERR_INVALID);
    assert_int_equal(
        td_index_map_remove_hex(map, "d41d8cd98f00b204e9800998ecf8427e", 1, &removed, &err), TD_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(
        td_index_map_find_hex(map, "d41d8cd98f00b204e9800998ecf8427e", ids, 8, &count, &err),
        TD_OK);
    assert_int_equal(count, 1);
    assert_int_equal(ids[0], 2);

    /* Many keys of all lengths (inline and heap), removals in random order, against an oracle. */
    enum { N = 20000 };
    static char keys[N][80];
    static int live[N];
    uint64_t st = 3;
    for (int i = 0; i < N; i++) {
        int len = (int)(test_rand(&st) % 70);
        snprintf(keys[i], sizeof keys[i], "%d:%.*s", i % 5000, len,
                 "https://example.org/some/long/path/that/goes/on/and/on/and/on/forever/xx");
        assert_int_equal(td_index_map_add(map, keys[i], strlen(keys[i]), (uint64_t)i, &err), TD_OK);
        live[i] = 1;
    }
    for (int i = 0; i < N; i += 3) {
        assert_int_equal(
            td_index_map_remove(map, keys[i], strlen(keys[i]), (uint64_t)i, &removed, &err), TD_OK);
        assert_int_equal(removed, live[i]);
        live[i] = 0;
    }
    for (int i = 0; i < N; i++) {
        uint64_t found[64];
        assert_int_equal(td_index_map_find(map, keys[i], strlen(keys[i]), found, 64, &count, &err),
                         TD_OK);
        int seen = 0;
        for (size_t j = 0; j < count && j < 64; j++)
            seen |= found[j] == (uint64_t)i;
        assert_int_equal(seen, live[i]);
    }
    assert_int_equal(td_index_map_add(map, NULL, TD_INDEX_MAP_MAX_KEY + 1, 1, &err),
                     TD_ERR_INVALID);
    static uint8_t huge[TD_INDEX_MAP_MAX_KEY + 1];
    assert_int_equal(td_index_map_add(map, huge, sizeof huge, 1, &err), TD_ERR_LIMIT);
    assert_int_equal(td_index_map_add(map, "", 0, 5, &err), TD_OK);
    assert_int_equal(td_index_map_find(map, "", 0, ids, 8, &count, &err), TD_OK);
    assert_int_equal(count, 1);
    td_index_map_free(map);
}

static void test_kernels_agree(void **state)
{
    (void)state;
    uint64_t st = 8;
    enum { N = 3000 };
    uint64_t *h = aligned_alloc(64, N * 32);
    uint32_t ia[N], ib[N];
    uint16_t da[N], db[N];
    for (size_t i = 0; i < 4 * N; i++)
        h[i] = test_rand(&st) & test_rand(&st);
    uint64_t q[4] = {0, 0, 0, 0};
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("popcnt")) {
        free(h);
        skip();
    }
    for (unsigned r = 0; r <= 80; r += 5) {
        size_t na = td__kernels_portable.scan(h, N, q, r, ia, da);
        size_t nb = td__kernels_avx2.scan(h, N, q, r, ib, db);
        assert_int_equal(na, nb);
        assert_memory_equal(ia, ib, na * sizeof *ia);
        assert_memory_equal(da, db, na * sizeof *da);
    }
    free(h);
    assert_non_null(td_index_kernel_name());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_small),     cmocka_unit_test(test_oracle_multi_index),
        cmocka_unit_test(test_oracle_one_entry), cmocka_unit_test(test_dihedral_batch),
        cmocka_unit_test(test_updates),          cmocka_unit_test(test_empty_then_add),
        cmocka_unit_test(test_concurrent),       cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_hashlist),         cmocka_unit_test(test_exact_map),
        cmocka_unit_test(test_kernels_agree),    cmocka_unit_test(test_large_batch),
        cmocka_unit_test(test_prebuilt_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
