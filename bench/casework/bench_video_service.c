/* bench_video_service: video signals through the service (td_service, SQLite store), the path
 * of POST /v1/check with a video: N indexed videos of F frame hashes added as vpdq signals, the
 * service reopened (the bodies read back from the store into the vPDQ index), then Q checks of
 * F-frame videos (a re-encode of an indexed video: every frame a few bits away). Its peer, in the
 * same run: the vPDQ rule by brute force (td_vpdq_match against every indexed video) on the
 * first BRUTE queries, whose answers must be the same.
 *
 *   bench_video_service [-n VIDEOS] [-f FRAMES] [-q QUERIES] [-b BRUTE] [-d DIR]
 *
 * Defaults: 2000 videos of 600 frames (10 minutes at 1 frame/s), 5 queries, 1 brute-force. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/bench.h"
#include "takedown/casework.h"

/* F frames: random scenes held for a few frames each (as sampled video is), or, with base, each
 * frame of base with 8 bits flipped. */
static void make_video(td_vpdq *v, uint64_t *seed, const td_vpdq *base, size_t frames)
{
    td_error err;
    td_pdq scene;
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < frames; i++) {
        td_vpdq_frame f = {.quality = 100, .frame = (uint32_t)i, .timestamp = (double)i};
        if (base) {
            f.hash = base->frames[i].hash;
            for (int k = 0; k < 8; k++)
                bench_flip_bit(seed, &f.hash);
        } else {
            if (i % 4 == 0)
                bench_random_pdq(seed, &scene);
            f.hash = scene;
            bench_flip_bit(seed, &f.hash);
        }
        if (td_vpdq_append(v, &f, &err) != TD_OK)
            exit(1);
    }
}

static td_service *open_service(const char *dir)
{
    td_service_options o;
    td_service *svc;
    td_error err;
    td_service_options_default(&o);
    o.webhook_worker = 0;
    o.follow_interval_ms = 0;
    o.recheck_window_ms = 0;
    if (td_service_open(dir, &o, &svc, &err) != TD_OK) {
        fprintf(stderr, "open %s: %s\n", dir, err.message);
        exit(1);
    }
    return svc;
}

int main(int argc, char **argv)
{
    size_t videos = 2000, frames = 600, queries = 5, brute = 1;
    const char *dir = NULL;
    char tmp[4096];
    int opt;
    while ((opt = getopt(argc, argv, "n:f:q:b:d:")) != -1) {
        switch (opt) {
        case 'n': videos = strtoull(optarg, NULL, 10); break;
        case 'f': frames = strtoull(optarg, NULL, 10); break;
        case 'q': queries = strtoull(optarg, NULL, 10); break;
        case 'b': brute = strtoull(optarg, NULL, 10); break;
        case 'd': dir = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-n VIDEOS] [-f FRAMES] [-q QUERIES] [-b BRUTE] [-d DIR]\n",
                    argv[0]);
            return 2;
        }
    }
    if (videos == 0 || frames == 0 || queries == 0 || queries > videos) {
        fprintf(stderr, "need VIDEOS >= QUERIES >= 1 and FRAMES >= 1\n");
        return 2;
    }
    if (!dir) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/bench-video-service-XXXXXX", t ? t : "/tmp");
        if (!mkdtemp(tmp)) {
            perror("mkdtemp");
            return 1;
        }
        dir = tmp;
    }
    td_error err;
    td_service *svc = open_service(dir);
    td_bank bank;
    td_bank_init(&bank);
    snprintf(bank.name, sizeof bank.name, "VIDEOS");
    if (td_bank_create(svc, &bank, NULL, &err) != TD_OK) {
        fprintf(stderr, "bank: %s\n", err.message);
        return 1;
    }
    /* the signals, and the videos the queries and the brute force need */
    uint64_t seed = 42;
    td_vpdq *all = calloc(videos, sizeof *all);
    int64_t *ids = calloc(videos, sizeof *ids);
    double t0 = bench_now();
    for (size_t v = 0; v < videos; v++) {
        char *text;
        size_t len;
        make_video(&all[v], &seed, NULL, frames);
        td_signal_input in;
        td_signal out;
        td_signal_input_init(&in);
        in.type = TD_SIGNAL_VPDQ;
        if (td_vpdq_to_text(&all[v], &text, &len, &err) != TD_OK)
            return 1;
        in.value = text;
        in.body_len = len;
        if (td_signal_add(svc, "VIDEOS", &in, &out, &err) != TD_OK) {
            fprintf(stderr, "signal %zu: %s\n", v, err.message);
            return 1;
        }
        ids[v] = out.id;
        td_free(text);
    }
    double t1 = bench_now();
    td_service_close(svc);
    double t2 = bench_now();
    svc = open_service(dir);
    double t3 = bench_now();
    td_service_stats stats;
    if (td_service_get_stats(svc, &stats, &err) != TD_OK)
        return 1;
    printf("service: %zu vpdq signals of %zu frames added in %.1f s (%.1f ms each, one "
           "transaction and index update per signal); reopened in %.2f s: %llu videos, %llu "
           "frame hashes in the vPDQ index\n",
           videos, frames, t1 - t0, 1000 * (t1 - t0) / (double)videos, t3 - t2,
           (unsigned long long)stats.vpdq_videos, (unsigned long long)stats.vpdq_frames);

    double sum = 0, worst = 0, brute_sum = 0;
    size_t brute_done = 0;
    td_vpdq_match_options rule;
    td_vpdq_match_options_default(&rule);
    for (size_t q = 0; q < queries; q++) {
        size_t target = q * (videos / queries);
        td_vpdq query;
        make_video(&query, &seed, &all[target], frames);
        td_hashes h;
        td_check_result res;
        td_hashes_init(&h);
        h.vpdq = &query;
        double a = bench_now();
        if (td_check_hashes(svc, &h, NULL, &res, &err) != TD_OK) {
            fprintf(stderr, "check: %s\n", err.message);
            return 1;
        }
        double b = bench_now();
        sum += b - a;
        if (b - a > worst)
            worst = b - a;
        int found = 0;
        for (size_t i = 0; i < res.match_count; i++)
            found |= res.matches[i].signal_id == ids[target];
        if (!found) {
            fprintf(stderr, "check %zu: its source video was not matched\n", q);
            return 1;
        }
        if (brute_done < brute) {
            /* the peer: the rule against every video, one by one */
            size_t n = 0;
            double c = bench_now();
            for (size_t v = 0; v < videos; v++) {
                td_vpdq_match_result r;
                if (td_vpdq_match(&query, &all[v], &rule, &r, &err) != TD_OK)
                    return 1;
                if (!r.match)
                    continue;
                n++;
                int same = 0;
                for (size_t i = 0; i < res.match_count; i++)
                    same |= res.matches[i].signal_id == ids[v] &&
                            res.matches[i].query_percent == r.query_percent &&
                            res.matches[i].compared_percent == r.compared_percent;
                if (!same) {
                    fprintf(stderr, "check %zu: brute force matches video %zu, the service not\n",
                            q, v);
                    return 1;
                }
            }
            brute_sum += bench_now() - c;
            brute_done++;
            if (n != res.match_count) {
                fprintf(stderr, "check %zu: %zu matches, brute force %zu\n", q, res.match_count, n);
                return 1;
            }
        }
        td_check_result_clear(&res);
        td_vpdq_clear(&query);
    }
    printf("service: %zu checks of a %zu-frame video: mean %.1f ms, worst %.1f ms\n", queries,
           frames, 1000 * sum / (double)queries, 1000 * worst);
    if (brute_done)
        printf("brute force (td_vpdq_match against each of the %zu videos): %.1f ms per check, "
               "same matches and percentages; the service is %.0fx faster\n",
               videos, 1000 * brute_sum / (double)brute_done,
               (brute_sum / (double)brute_done) / (sum / (double)queries));
    for (size_t v = 0; v < videos; v++)
        td_vpdq_clear(&all[v]);
    free(all);
    free(ids);
    td_service_close(svc);
    return 0;
}
