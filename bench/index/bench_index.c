/* bench_index: takedown's exact Hamming index against a brute-force scan and FAISS
 * (IndexBinaryFlat, IndexBinaryMultiHash(256,16,16) with nflip = r / 16) on the same entries and
 * queries. Prints build time, memory, queries/s for single queries and for 8-variant batches (one
 * image), on one thread and on --threads threads, and recall against brute force.
 *
 *   bench_index [--n 1000000] [--queries 10000] [--radius 31] [--threads 2]
 *               [--workload clustered|realistic|all] [--truth 200] [--budget 4] [--no-faiss]
 *               [--cache DIR] [--seed 1] [--snapshot PATH]
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/kernels.h"
#include "peer.h"
#include "support/bench.h"
#include "takedown/index.h"
#include "workload.h"

typedef struct config {
    size_t n, nq, truth;
    int radius, threads, faiss, realistic, clustered;
    double budget;
    const char *cache, *snapshot;
    uint64_t seed;
} config;

/* VmRSS and VmHWM in MiB. */
static void memory(double *rss, double *hwm)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    *rss = *hwm = 0;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            *rss = kb / 1024.0;
        else if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            *hwm = kb / 1024.0;
    }
    fclose(f);
}

static double rss_now(void)
{
    double rss, hwm;
    memory(&rss, &hwm);
    return rss;
}

/* ---- ground truth ---- */

typedef struct truth {
    size_t *lims; /* g + 1 */
    uint32_t *ids;
} truth;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Brute force over all entries for one query; appends matching entry numbers. */
static size_t brute_one(const td__kernels *k, const workload *w, const td_pdq *q, int r,
                        uint32_t **out, size_t *cap, size_t used)
{
    enum { BLOCK = 65536 };
    static uint32_t idx[BLOCK];
    static uint16_t dist[BLOCK];
    uint64_t qw[4];
    memcpy(qw, q, 32);
    const uint64_t *h = (const uint64_t *)w->db;
    for (size_t base = 0; base < w->n; base += BLOCK) {
        size_t len = w->n - base < BLOCK ? w->n - base : BLOCK;
        size_t nh = k->scan(h + 4 * base, len, qw, (unsigned)r, idx, dist);
        if (used + nh > *cap) {
            *cap = (used + nh) * 2;
            *out = realloc(*out, *cap * sizeof **out);
        }
        for (size_t j = 0; j < nh; j++)
            (*out)[used++] = (uint32_t)(base + idx[j]);
    }
    return used;
}

/* Measured brute force: ground truth for the first g queries, and its speed. */
static void brute_force(const config *cf, const workload *w, size_t g, truth *t, double *qps)
{
    const td__kernels *k = td__index_kernels();
    size_t cap = 1024, used = 0;
    t->lims = malloc((g + 1) * sizeof *t->lims);
    t->ids = malloc(cap * sizeof *t->ids);
    double t0 = bench_now();
    for (size_t i = 0; i < g; i++) {
        t->lims[i] = used;
        used = brute_one(k, w, &w->qv[i][0], cf->radius, &t->ids, &cap, used);
        qsort(t->ids + t->lims[i], used - t->lims[i], sizeof *t->ids, cmp_u32);
    }
    t->lims[g] = used;
    *qps = g / (bench_now() - t0);
}

/* Counts the pairs of the truth for query i found in got (sorted ids). */
static size_t found_pairs(const truth *t, size_t i, uint64_t *got, size_t n, size_t *extra)
{
    size_t a = t->lims[i], b = t->lims[i + 1], hit = 0, j = 0;
    qsort(got, n, sizeof *got, cmp_u64);
    for (size_t x = a; x < b; x++) {
        while (j < n && got[j] < t->ids[x])
            j++;
        if (j < n && got[j] == t->ids[x])
            hit++;
    }
    *extra += n > hit ? n - hit : 0;
    return hit;
}

/* ---- parallel query runner ---- */

typedef struct runner {
    td_index *idx;
    const workload *w;
    size_t lo, hi;
    int radius, batch;
    size_t matches;
} runner;

static void *run_queries(void *arg)
{
    runner *r = arg;
    td_index_results res;
    td_index_results_init(&res, 0);
    for (size_t i = r->lo; i < r->hi; i++) {
        res.count = 0;
        td_status st = r->batch
                           ? td_index_query_dihedral(r->idx, r->w->qv[i], r->radius, &res, NULL)
                           : td_index_query(r->idx, &r->w->qv[i][0], r->radius, &res, NULL);
        if (st != TD_OK) {
            fprintf(stderr, "bench_index: query failed: %s\n", td_strerror(st));
            exit(1);
        }
        r->matches += res.count;
    }
    td_index_results_clear(&res);
    return NULL;
}

/* Queries (or 8-variant images) per second over all queries with nthreads threads. */
static double measure(td_index *idx, const workload *w, int radius, int batch, int nthreads)
{
    pthread_t th[64];
    runner rs[64];
    if (nthreads > 64)
        nthreads = 64;
    double t0 = bench_now();
    for (int t = 0; t < nthreads; t++) {
        rs[t] =
            (runner){idx, w, w->nq * t / nthreads, w->nq * (t + 1) / nthreads, radius, batch, 0};
        pthread_create(&th[t], NULL, run_queries, &rs[t]);
    }
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    return w->nq / (bench_now() - t0);
}

typedef struct row {
    const char *engine;
    double build_s, mem_mib, q1, qt, img1, imgt, recall;
    size_t checked, extra;
    char note[160];
} row;

static void print_row(const row *r, int threads)
{
    char b[32], m[32], q1[32], qt[32], i1[32], it[32], rc[48];
    (void)threads;
#define FMT(buf, v, fmt)                                                                           \
    (v) < 0 ? snprintf(buf, sizeof buf, "-") : snprintf(buf, sizeof buf, fmt, v)
    FMT(b, r->build_s, "%.2f");
    FMT(m, r->mem_mib, "%.0f");
    FMT(q1, r->q1, "%.0f");
    FMT(qt, r->qt, "%.0f");
    FMT(i1, r->img1, "%.0f");
    FMT(it, r->imgt, "%.0f");
#undef FMT
    if (r->recall < 0)
        snprintf(rc, sizeof rc, "(truth)");
    else
        snprintf(rc, sizeof rc, "%.4f/%zuq", r->recall, r->checked);
    printf("%-12s %8s %8s %10s %10s %10s %10s %14s  %s\n", r->engine, b, m, q1, qt, i1, it, rc,
           r->note);
    fflush(stdout);
}

static void bench_takedown(const config *cf, const workload *w, const truth *t, size_t g, row *r)
{
    td_index *idx;
    td_error err;
    memset(r, 0, sizeof *r);
    r->engine = "takedown";
    double m0 = rss_now(), t0 = bench_now();
    if (td_index_build(&idx, w->db, NULL, w->n, NULL, &err) != TD_OK) {
        fprintf(stderr, "bench_index: build failed: %s\n", err.message);
        exit(1);
    }
    r->build_s = bench_now() - t0;
    r->mem_mib = rss_now() - m0;
    td_index_stats st;
    td_index_get_stats(idx, &st);

    /* Recall against brute force. */
    td_index_results res;
    td_index_results_init(&res, 0);
    size_t want = 0, hit = 0;
    uint64_t *got = NULL;
    for (size_t i = 0; i < g; i++) {
        res.count = 0;
        if (td_index_query(idx, &w->qv[i][0], cf->radius, &res, NULL) != TD_OK)
            exit(1);
        got = realloc(got, (res.count + 1) * sizeof *got);
        for (size_t j = 0; j < res.count; j++)
            got[j] = res.items[j].id;
        hit += found_pairs(t, i, got, res.count, &r->extra);
        want += t->lims[i + 1] - t->lims[i];
    }
    free(got);
    td_index_results_clear(&res);
    r->recall = want ? (double)hit / want : 1.0;
    r->checked = g;

    r->q1 = measure(idx, w, cf->radius, 0, 1);
    r->qt = measure(idx, w, cf->radius, 0, cf->threads);
    r->img1 = measure(idx, w, cf->radius, 1, 1);
    r->imgt = measure(idx, w, cf->radius, 1, cf->threads);

    /* Snapshot save and load. */
    double ts = bench_now();
    int saved = td_index_save(idx, cf->snapshot, &err) == TD_OK;
    double save_s = bench_now() - ts;
    td_index_free(idx);
    double load_s = -1, loaded_imgt = -1;
    if (saved) {
        double m1 = rss_now();
        ts = bench_now();
        td_index *back;
        if (td_index_load(&back, cf->snapshot, NULL, &err) == TD_OK) {
            load_s = bench_now() - ts;
            (void)m1;
            loaded_imgt = measure(back, w, cf->radius, 1, cf->threads);
            td_index_free(back);
        } else {
            fprintf(stderr, "bench_index: load failed: %s\n", err.message);
        }
        unlink(cf->snapshot);
    } else {
        fprintf(stderr, "bench_index: save failed: %s\n", err.message);
    }
    snprintf(r->note, sizeof r->note,
             "m=%u chunks, %.0f MiB index; snapshot save %.2fs, load %.2fs, then %.0f img/s_Nt",
             st.chunks, st.bytes / 1048576.0, save_s, load_s, loaded_imgt);
}

/* FAISS peer: runs single queries until the budget is spent (they are slow), then batches. */
static void bench_peer(const config *cf, const workload *w, const truth *t, size_t g,
                       peer_kind kind, row *r)
{
    memset(r, 0, sizeof *r);
    r->engine = peer_name(kind);
    r->q1 = r->qt = r->img1 = r->imgt = r->build_s = r->mem_mib = -1;
    double m0 = rss_now(), t0 = bench_now();
    peer *p = peer_new(kind, cf->radius / 16);
    if (!p) {
        snprintf(r->note, sizeof r->note, "not available");
        r->recall = -1;
        return;
    }
    if (peer_add(p, (const uint8_t *)w->db, w->n) != 0) {
        snprintf(r->note, sizeof r->note, "add failed");
        peer_free(p);
        return;
    }
    r->build_s = bench_now() - t0;
    r->mem_mib = rss_now() - m0;

    size_t lims[TD_DIH_COUNT + 1];
    int64_t *ids;
    size_t want = 0, hit = 0, done = 0;
    peer_threads(1);
    t0 = bench_now();
    for (size_t i = 0; i < g && (done < 3 || bench_now() - t0 < cf->budget); i++, done++) {
        if (peer_range(p, (const uint8_t *)&w->qv[i][0], 1, cf->radius, lims, &ids) != 0)
            break;
        uint64_t *got = (uint64_t *)ids; /* non-negative labels */
        hit += found_pairs(t, i, got, lims[1], &r->extra);
        want += t->lims[i + 1] - t->lims[i];
        free(ids);
    }
    r->q1 = done / (bench_now() - t0);
    r->recall = want ? (double)hit / want : 1.0;
    r->checked = done;

    /* 8-variant batches: one range_search of 8 queries per image. */
    size_t imgs = 0;
    t0 = bench_now();
    for (size_t i = 0; i < w->nq && (imgs < 2 || bench_now() - t0 < cf->budget); i++, imgs++) {
        if (peer_range(p, (const uint8_t *)w->qv[i], TD_DIH_COUNT, cf->radius, lims, &ids) != 0)
            break;
        free(ids);
    }
    r->img1 = imgs / (bench_now() - t0);

    /* Many queries at once, parallelised by FAISS over --threads (its OpenMP). */
    peer_threads(cf->threads);
    size_t chunk = (size_t)(r->q1 * cf->threads * cf->budget / 2) + 1;
    if (chunk > w->nq)
        chunk = w->nq;
    td_pdq *qs = malloc(chunk * sizeof *qs);
    size_t *l2 = malloc((chunk + 1) * sizeof *l2);
    for (size_t i = 0; i < chunk; i++)
        qs[i] = w->qv[i][0];
    t0 = bench_now();
    if (peer_range(p, (const uint8_t *)qs, chunk, cf->radius, l2, &ids) == 0) {
        r->qt = chunk / (bench_now() - t0);
        free(ids);
    }
    size_t ichunk = chunk / TD_DIH_COUNT + 1;
    if (ichunk > w->nq)
        ichunk = w->nq;
    t0 = bench_now();
    free(l2);
    l2 = malloc((ichunk * TD_DIH_COUNT + 1) * sizeof *l2);
    if (peer_range(p, (const uint8_t *)w->qv, ichunk * TD_DIH_COUNT, cf->radius, l2, &ids) == 0) {
        r->imgt = ichunk / (bench_now() - t0);
        free(ids);
    }
    free(l2);
    free(qs);
    peer_free(p);
    snprintf(r->note, sizeof r->note, "%s%d-thread columns: one batch of %zu queries",
             kind == PEER_MULTIHASH ? "nflip=r/16, " : "", cf->threads, chunk);
}

static void run_workload(const config *cf, workload *w)
{
    size_t near = (w->nq + 1) / 2;
    size_t g = cf->truth < w->nq ? cf->truth : w->nq;
    truth t;
    row r;
    double qps, rss, hwm;

    printf("\n== workload %s: %zu entries%s, %zu queries (%zu near an entry), radius %d, "
           "%d threads, kernel %s\n",
           w->name, w->n, w->photos ? " (PDQ of photo crops)" : "", w->nq, near, cf->radius,
           cf->threads, td_index_kernel_name());
    if (w->photos)
        printf("   photos: %zu\n", w->photos);
    printf("%-12s %8s %8s %10s %10s %10s %10s %14s  %s\n", "engine", "build_s", "mem_MiB", "q/s_1t",
           "q/s_Nt", "img/s_1t", "img/s_Nt", "recall", "note");
    brute_force(cf, w, g, &t, &qps);
    memset(&r, 0, sizeof r);
    r.engine = "brute-force";
    r.build_s = r.mem_mib = -1;
    r.q1 = qps;
    r.qt = qps * cf->threads;
    r.img1 = qps / TD_DIH_COUNT;
    r.imgt = qps * cf->threads / TD_DIH_COUNT;
    r.recall = -1;
    snprintf(r.note, sizeof r.note, "%zu queries measured; N-thread and img/s columns derived", g);
    size_t pairs = t.lims[g];
    print_row(&r, cf->threads);

    row td;
    bench_takedown(cf, w, &t, g, &td);
    print_row(&td, cf->threads);
    if (cf->faiss) {
        row mh, fl;
        bench_peer(cf, w, &t, g, PEER_MULTIHASH, &mh);
        print_row(&mh, cf->threads);
        bench_peer(cf, w, &t, g, PEER_FLAT, &fl);
        print_row(&fl, cf->threads);
        if (mh.imgt > 0)
            printf("takedown / faiss-mih: %.1fx (single queries, 1 thread), %.1fx (images, %d "
                   "threads)\n",
                   td.q1 / mh.q1, td.imgt / mh.imgt, cf->threads);
    }
    memory(&rss, &hwm);
    printf("truth: %zu pairs within %d over %zu queries; extra results (must be 0): takedown %zu\n",
           pairs, cf->radius, g, td.extra);
    printf("process VmRSS %.0f MiB, VmHWM %.0f MiB (includes the workload arrays: %.0f MiB)\n", rss,
           hwm, (w->n * 32.0 + w->nq * 256.0) / 1048576.0);
    free(t.lims);
    free(t.ids);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"n", required_argument, NULL, 'n'},
                                             {"queries", required_argument, NULL, 'q'},
                                             {"radius", required_argument, NULL, 'r'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"workload", required_argument, NULL, 'w'},
                                             {"truth", required_argument, NULL, 'g'},
                                             {"budget", required_argument, NULL, 'b'},
                                             {"no-faiss", no_argument, NULL, 'F'},
                                             {"cache", required_argument, NULL, 'c'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"snapshot", required_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    config cf = {
        1000000, 10000, 200, 31, 2, 1, 1, 1, 4.0, "/tmp/td-bench-cache", "/tmp/td-bench-index.snap",
        1};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': cf.n = strtoull(optarg, NULL, 10); break;
        case 'q': cf.nq = strtoull(optarg, NULL, 10); break;
        case 'r': cf.radius = atoi(optarg); break;
        case 't': cf.threads = atoi(optarg); break;
        case 'g': cf.truth = strtoull(optarg, NULL, 10); break;
        case 'b': cf.budget = atof(optarg); break;
        case 'F': cf.faiss = 0; break;
        case 'c': cf.cache = optarg; break;
        case 's': cf.seed = strtoull(optarg, NULL, 10); break;
        case 'S': cf.snapshot = optarg; break;
        case 'w':
            cf.clustered = !strcmp(optarg, "clustered") || !strcmp(optarg, "all");
            cf.realistic = !strcmp(optarg, "realistic") || !strcmp(optarg, "all");
            break;
        default:
            fprintf(stderr, "usage: see the comment at the top of bench/index/bench_index.c\n");
            return 2;
        }
    }
    if (cf.n == 0 || cf.nq == 0 || cf.radius < 0 || cf.radius > 63 || cf.threads < 1 ||
        (!cf.clustered && !cf.realistic)) {
        fprintf(stderr, "bench_index: bad arguments\n");
        return 2;
    }
    printf("bench_index: n=%zu queries=%zu radius=%d threads=%d cpus=%ld\n", cf.n, cf.nq, cf.radius,
           cf.threads, sysconf(_SC_NPROCESSORS_ONLN));
    workload w;
    if (cf.clustered) {
        if (workload_clustered(&w, cf.n, cf.nq, cf.seed) != 0)
            return 1;
        run_workload(&cf, &w);
        workload_free(&w);
    }
    if (cf.realistic) {
        if (workload_realistic(&w, cf.n, cf.nq, cf.seed, cf.cache, cf.threads) != 0)
            return 1;
        run_workload(&cf, &w);
        workload_free(&w);
    }
    return 0;
}
