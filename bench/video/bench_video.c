/* bench_video: three figures for issue 6.
 *   video  FILE...          x real time of decode-only and of vPDQ hashing at 1 frame/s (one
 *                           core, one decoder thread), and their ratio (goal >= 0.8)
 *   lookup VIDEOS FRAMES Q [THREADS]
 *                           vPDQ index of VIDEOS synthetic videos of FRAMES hashes; Q queries of
 *                           FRAMES frames (10 minutes at 1 frame/s = 600): build time, query
 *                           time with THREADS threads (0: all cores) and with one, equality of
 *                           the two and with brute force on a sample
 *   text   DOCS QUERYBYTES Q [SHORT_MIN SHORT_MAX BRUTE]
 *                           raw_text index of DOCS documents (short ones of SHORT_MIN..SHORT_MAX
 *                           bytes, Q long ones of QUERYBYTES); Q queries of QUERYBYTES bytes: build
 *                           time, candidate-stage and verification time, recall of the candidate
 *                           stage against brute force (BRUTE 0 skips brute force)
 * Defaults give the sizes: lookup 10000 600 5, text 100000 102400 20 200 4200 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/bench.h"
#include "takedown/takedown.h"
#include "takedown/text.h"
#include "takedown/video_hash.h"

static int bench_video(int argc, char **argv)
{
    double total_decode = 0, total_hash = 0, total_seconds = 0;
    for (int i = 0; i < argc; i++) {
        uint8_t *data;
        size_t len;
        td_error err;
        if (td_file_read(argv[i], (uint64_t)1 << 32, &data, &len, &err) != TD_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], err.message);
            return 1;
        }
        /* decode only: every frame decoded and counted, nothing converted */
        double t0 = bench_now();
        td_video *v;
        uint64_t frames = 0;
        td_video_info info;
        if (td_video_open_memory(data, len, NULL, &v, &err) != TD_OK ||
            (td_video_get_info(v, &info), td_video_decode(v, NULL, &frames, &err)) != TD_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], err.message);
            return 1;
        }
        td_video_free(v);
        double t1 = bench_now();
        td_video_hash_options o;
        td_video_hash_options_default(&o);
        td_video_hashes h;
        if (td_video_hash_bytes(argv[i], data, len, &o, &h, &err) != TD_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        double t2 = bench_now();
        double seconds = (double)frames / info.fps;
        printf("%-40s %5llu frames %4ux%-4u decode %6.1fx  vpdq@1fps %6.1fx  ratio %.2f\n",
               strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i],
               (unsigned long long)frames, info.width, info.height, seconds / (t1 - t0),
               seconds / (t2 - t1), (t1 - t0) / (t2 - t1));
        total_decode += t1 - t0;
        total_hash += t2 - t1;
        total_seconds += seconds;
        td_video_hashes_clear(&h);
        td_free(data);
    }
    printf("TOTAL %.1f s of video: decode-only %.1fx real time, vPDQ at 1 frame/s %.1fx, "
           "ratio %.2f (goal >= 0.8)\n",
           total_seconds, total_seconds / total_decode, total_seconds / total_hash,
           total_decode / total_hash);
    return 0;
}

static void random_video(td_vpdq *v, uint64_t *seed, const td_pdq *base, size_t frames)
{
    td_error err;
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < frames; i++) {
        td_vpdq_frame f = {.quality = 100, .frame = (uint32_t)i};
        if (base) {
            f.hash = base[i];
            for (int k = 0; k < 8; k++)
                bench_flip_bit(seed, &f.hash);
        } else {
            bench_random_pdq(seed, &f.hash);
        }
        if (td_vpdq_append(v, &f, &err) != TD_OK)
            exit(1);
    }
}

static int same_matches(const td_vpdq_index_match *a, size_t na, const td_vpdq_index_match *b,
                        size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].id != b[i].id || a[i].query_percent != b[i].query_percent ||
            a[i].compared_percent != b[i].compared_percent)
            return 0;
    return 1;
}

static int bench_lookup(size_t videos, size_t frames, size_t queries, unsigned threads)
{
    uint64_t seed = 99;
    td_error err;
    td_vpdq_index *idx;
    td_vpdq *kept = calloc(queries, sizeof *kept);
    if (td_vpdq_index_new(&idx, &err) != TD_OK)
        return 1;
    double t0 = bench_now();
    for (size_t v = 0; v < videos; v++) {
        td_vpdq video;
        random_video(&video, &seed, NULL, frames);
        if (td_vpdq_index_add(idx, v, &video, &err) != TD_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        if (v % (videos / queries ? videos / queries : 1) == 0 && v / (videos / queries) < queries)
            kept[v / (videos / queries)] = video;
        else
            td_vpdq_clear(&video);
    }
    double t1 = bench_now();
    printf("lookup: %zu videos, %zu frame hashes indexed in %.1f s\n", td_vpdq_index_videos(idx),
           td_vpdq_index_frames(idx), t1 - t0);
    double worst = 0, sum = 0, sum1 = 0;
    td_vpdq_index_set_threads(idx, threads);
    for (size_t q = 0; q < queries; q++) {
        /* a re-encode of an indexed video: every frame a few bits away */
        td_vpdq query;
        td_pdq *base = malloc(frames * sizeof *base);
        for (size_t i = 0; i < frames; i++)
            base[i] = kept[q].frames[i].hash;
        random_video(&query, &seed, base, frames);
        free(base);
        td_vpdq_index_match *m;
        size_t n;
        double a = bench_now();
        if (td_vpdq_index_query(idx, &query, NULL, &m, &n, &err) != TD_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        double b = bench_now();
        sum += b - a;
        if (b - a > worst)
            worst = b - a;
        /* the same query on the calling thread only: same answer */
        td_vpdq_index_match *m1;
        size_t n1;
        td_vpdq_index_set_threads(idx, 1);
        double c = bench_now();
        if (td_vpdq_index_query(idx, &query, NULL, &m1, &n1, &err) != TD_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        sum1 += bench_now() - c;
        td_vpdq_index_set_threads(idx, threads);
        if (!same_matches(m, n, m1, n1)) {
            fprintf(stderr, "lookup: query %zu differs between thread counts\n", q);
            return 1;
        }
        td_free(m1);
        td_vpdq_match_result r;
        if (td_vpdq_match(&query, &kept[q], NULL, &r, &err) != TD_OK || !r.match || n != 1 ||
            m[0].query_percent != r.query_percent) {
            fprintf(stderr, "lookup: query %zu disagrees with brute force\n", q);
            return 1;
        }
        td_free(m);
        td_vpdq_clear(&query);
    }
    printf("lookup: %zu queries of %zu frames, threads %u (0: all cores): mean %.1f ms, "
           "worst %.1f ms (goal < 1000 ms); one thread: mean %.1f ms; equal results, each equal "
           "to brute force against its source video\n",
           queries, frames, threads, 1000 * sum / (double)queries, 1000 * worst,
           1000 * sum1 / (double)queries);
    for (size_t q = 0; q < queries; q++)
        td_vpdq_clear(&kept[q]);
    free(kept);
    td_vpdq_index_free(idx);
    return 0;
}

/* Pseudo-words from 40 syllables (2 to 4 each): a vocabulary of about 2.6 million words with a
 * skewed choice, so that documents share common words as real text does. */
static char *words_doc(uint64_t *seed, size_t bytes)
{
    static const char *const syl[] = {"ka", "ri", "to", "ma", "ne", "su", "lo", "bi", "da",  "fe",
                                      "gu", "ho", "ji", "ku", "le", "mo", "na", "pe", "qui", "ra",
                                      "se", "ti", "vo", "wa", "xe", "yu", "za", "an", "el",  "is",
                                      "on", "ur", "st", "tr", "pl", "gr", "ch", "sh", "th",  "ph"};
    char *s = malloc(bytes + 64);
    size_t n = 0;
    while (n < bytes) {
        uint64_t r = bench_rand(seed);
        /* half of the words come from a small common set */
        size_t count = 2 + r % 3, pick = (r >> 8) % 2 ? (r >> 16) % 8 : (r >> 16);
        for (size_t k = 0; k < count; k++, pick /= 40) {
            const char *w = syl[pick % 40];
            size_t l = strlen(w);
            memcpy(s + n, w, l);
            n += l;
        }
        s[n++] = ' ';
    }
    s[n] = '\0';
    return s;
}

/* raw_text: DOCS documents (short posts of SHORT_MIN..SHORT_MAX bytes, and every
 * (DOCS / QUERIES)-th a long document of QUERY_BYTES), then QUERIES queries, each a long document
 * with about 3% of its letters changed. Reports the index build time, the candidate stages (the
 * first stage by lengths or pieces, then the q-gram filter) and the exact verification
 * separately, and the candidate stage's recall against brute force: every document brute force
 * matches must be among the verified candidates (verification is exact, so the recall of the
 * final answer is the recall of the candidate stage). */
static int bench_text(size_t docs, size_t query_bytes, size_t queries, size_t short_min,
                      size_t short_max, int brute)
{
    uint64_t seed = 5;
    td_error err;
    td_text_index *idx;
    if (queries == 0 || docs < queries || short_max < short_min) {
        fprintf(stderr, "text: need DOCS >= QUERIES >= 1 and SHORT_MIN <= SHORT_MAX\n");
        return 2;
    }
    if (td_text_index_new(&idx, &err) != TD_OK)
        return 1;
    double t0 = bench_now(), gen = 0;
    char **kept = calloc(queries, sizeof *kept);
    size_t every = docs / queries, total_bytes = 0;
    for (size_t d = 0; d < docs; d++) {
        size_t bytes = d % every == 0 ? query_bytes
                                      : short_min + bench_rand(&seed) % (short_max - short_min + 1);
        double g0 = bench_now();
        char *text = words_doc(&seed, bytes);
        gen += bench_now() - g0;
        total_bytes += strlen(text);
        if (td_text_index_add(idx, d, text, strlen(text), &err) != TD_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        if (d % every == 0 && d / every < queries)
            kept[d / every] = text;
        else
            free(text);
    }
    double t1 = bench_now();
    printf("text: %zu documents (%.1f MB) indexed in %.1f s (%.1f s without generating them)\n",
           td_text_index_size(idx), (double)total_bytes / 1e6, t1 - t0, t1 - t0 - gen);
    size_t found = 0, expected = 0, candidates = 0, verified = 0, matched = 0;
    double sum = 0, worst = 0, sum_cand = 0, sum_verify = 0, sum_norm = 0, sum_brute = 0;
    for (size_t q = 0; q < queries; q++) {
        /* the known document with about 3% of its letters changed */
        char *query = kept[q];
        for (char *p = query; *p; p++)
            if (*p >= 'a' && *p <= 'z' && bench_rand(&seed) % 100 < 3)
                *p = (char)('a' + bench_rand(&seed) % 26);
        td_text_match *m, *b = NULL;
        size_t n, nb = 0;
        td_text_query_stats st;
        double a = bench_now();
        if (td_text_index_query(idx, query, strlen(query), &m, &n, &st, &err) != TD_OK)
            return 1;
        double e = bench_now();
        if (brute) {
            if (td_text_index_query_brute(idx, query, strlen(query), &b, &nb, &err) != TD_OK)
                return 1;
            sum_brute += bench_now() - e;
            for (size_t i = 0; i < nb; i++)
                for (size_t j = 0; j < n; j++)
                    if (m[j].id == b[i].id) {
                        if (m[j].distance != b[i].distance) {
                            fprintf(stderr, "text: query %zu: distances differ\n", q);
                            return 1;
                        }
                        found++;
                        break;
                    }
            if (n != nb) {
                fprintf(stderr, "text: query %zu: %zu matches, brute force %zu\n", q, n, nb);
                return 1;
            }
            expected += nb;
        }
        matched += n;
        candidates += st.candidates;
        verified += st.verified;
        sum += e - a;
        sum_norm += (double)st.normalize_ns / 1e9;
        sum_cand += (double)st.candidate_ns / 1e9;
        sum_verify += (double)st.verify_ns / 1e9;
        if (e - a > worst)
            worst = e - a;
        td_free(m);
        td_free(b);
        free(query);
    }
    double nq = (double)queries;
    printf("text: %zu queries of %zu bytes: mean %.1f ms (worst %.1f ms) = normalising %.1f ms + "
           "candidate stages %.2f ms + exact verification %.1f ms\n",
           queries, query_bytes, 1000 * sum / nq, 1000 * worst, 1000 * sum_norm / nq,
           1000 * sum_cand / nq, 1000 * sum_verify / nq);
    printf("text: per query %.1f first-stage candidates, %.1f after the q-gram filter, "
           "%.1f matches\n",
           (double)candidates / nq, (double)verified / nq, (double)matched / nq);
    if (brute)
        printf("text: candidate-stage recall vs the exact rule (brute force, %.0f ms per query): "
               "%zu/%zu = %.3f\n",
               1000 * sum_brute / nq, found, expected,
               expected ? (double)found / (double)expected : 1.0);
    free(kept);
    td_text_index_free(idx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "video") == 0)
        return bench_video(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "lookup") == 0)
        return bench_lookup(argc > 2 ? strtoul(argv[2], NULL, 10) : 10000,
                            argc > 3 ? strtoul(argv[3], NULL, 10) : 600,
                            argc > 4 ? strtoul(argv[4], NULL, 10) : 5,
                            argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 0);
    if (argc >= 2 && strcmp(argv[1], "text") == 0)
        return bench_text(
            argc > 2 ? strtoul(argv[2], NULL, 10) : 100000,
            argc > 3 ? strtoul(argv[3], NULL, 10) : 102400,
            argc > 4 ? strtoul(argv[4], NULL, 10) : 20, argc > 5 ? strtoul(argv[5], NULL, 10) : 200,
            argc > 6 ? strtoul(argv[6], NULL, 10) : 4200, argc > 7 ? atoi(argv[7]) : 1);
    fprintf(stderr, "usage: bench_video video FILE... | lookup [VIDEOS FRAMES QUERIES THREADS] | "
                    "text [DOCS QUERY_BYTES QUERIES SHORT_MIN SHORT_MAX BRUTE]\n");
    return 2;
}
