/* Workload generation for bench_index (see workload.h). Real PDQ hashes are balanced and their
 * bits are correlated, which shifts how full the multi-index buckets are; the realistic workload
 * measures that instead of assuming uniform bits. Hashing millions of crops takes minutes, so
 * the result is cached on disk. */
#include "workload.h"

#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/bench.h"
#include "takedown/media.h"

#define MAX_SIDE 640

static double unit(uint64_t *s) { return (bench_rand(s) >> 11) * (1.0 / 9007199254740992.0); }

static void rand_hash(uint64_t *s, td_pdq *h)
{
    for (int i = 0; i < 16; i += 4) {
        uint64_t v = bench_rand(s);
        for (int j = 0; j < 4; j++)
            h->w[i + j] = (uint16_t)(v >> (16 * j));
    }
}

static void flip(uint64_t *s, td_pdq *h, int k)
{
    uint8_t used[256] = {0};
    while (k > 0) {
        unsigned b = (unsigned)(bench_rand(s) % 256);
        if (used[b])
            continue;
        used[b] = 1;
        h->w[b >> 4] ^= (uint16_t)(1u << (b & 15));
        k--;
    }
}

static int alloc_workload(workload *w, size_t n, size_t nq)
{
    memset(w, 0, sizeof *w);
    w->db = malloc((n ? n : 1) * sizeof *w->db);
    w->qv = malloc((nq ? nq : 1) * sizeof *w->qv);
    w->n = n;
    w->nq = nq;
    return w->db && w->qv ? 0 : -1;
}

void workload_free(workload *w)
{
    free(w->db);
    free(w->qv);
    memset(w, 0, sizeof *w);
}

int workload_clustered(workload *w, size_t n, size_t nq, uint64_t seed)
{
    uint64_t s = seed * 2654435761u + 1;
    if (alloc_workload(w, n, nq) != 0)
        return -1;
    w->name = "clustered";
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && unit(&s) < 0.2) {
            w->db[i] = w->db[bench_rand(&s) % i];
            flip(&s, &w->db[i], 5 + (int)(bench_rand(&s) % 21));
        } else {
            rand_hash(&s, &w->db[i]);
        }
    }
    for (size_t i = 0; i < nq; i++) {
        if (i % 2 == 0 && n) {
            w->qv[i][0] = w->db[bench_rand(&s) % n];
            flip(&s, &w->qv[i][0], (int)(bench_rand(&s) % 31));
        } else {
            rand_hash(&s, &w->qv[i][0]);
        }
        for (int v = 1; v < TD_DIH_COUNT; v++)
            rand_hash(&s, &w->qv[i][v]);
    }
    return 0;
}

/* ---- realistic ---- */

typedef struct photo {
    td_image img;
    int held_out; /* photo kept for unrelated queries */
} photo;

/* Plasma ships each wallpaper at several sizes: split by wallpaper, not by file, so that a held
 * out photo never has a copy among the entries. */
static int held_out_path(const char *path)
{
    const char *cut = strstr(path, "/contents/");
    size_t len = cut ? (size_t)(cut - path) : strlen(path);
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)path[i]) * 1099511628211ULL;
    return h % 5 == 4;
}

typedef struct photos {
    photo *p;
    size_t n;
} photos;

static int has_image_ext(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                   !strcasecmp(dot, ".png") || !strcasecmp(dot, ".webp"));
}

/* Box-filter downscale so that crops are cheap to hash. */
static int shrink(td_image *img)
{
    uint32_t side = img->width > img->height ? img->width : img->height;
    uint32_t f = (side + MAX_SIDE - 1) / MAX_SIDE;
    if (f <= 1)
        return 0;
    uint32_t w = img->width / f, h = img->height / f, ch = img->channels;
    uint8_t *px = malloc((size_t)w * h * ch);
    if (!px)
        return -1;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < ch; c++) {
                unsigned sum = 0;
                for (uint32_t dy = 0; dy < f; dy++)
                    for (uint32_t dx = 0; dx < f; dx++)
                        sum +=
                            img->pixels[((size_t)(y * f + dy) * img->width + x * f + dx) * ch + c];
                px[((size_t)y * w + x) * ch + c] = (uint8_t)(sum / (f * f));
            }
    free(img->pixels);
    img->pixels = px;
    img->width = w;
    img->height = h;
    return 0;
}

static int load_photos(photos *ph)
{
    static const char *const patterns[] = {"/usr/share/wallpapers/*/contents/images/*",
                                           "/usr/share/wallpapers/*/contents/images_dark/*",
                                           "/usr/share/backgrounds/*", "/usr/share/lomiri*/*/*",
                                           "/usr/share/lomiri*/*/*/*"};
    glob_t g;
    int flags = 0;
    memset(&g, 0, sizeof g);
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        glob(patterns[i], flags, NULL, &g);
        flags = GLOB_APPEND;
    }
    ph->p = calloc(g.gl_pathc + 1, sizeof *ph->p);
    ph->n = 0;
    for (size_t i = 0; ph->p && i < g.gl_pathc; i++) {
        uint8_t *data;
        size_t len;
        td_decode_options opts;
        td_image img;
        if (!has_image_ext(g.gl_pathv[i]) || (i > 0 && !strcmp(g.gl_pathv[i], g.gl_pathv[i - 1])))
            continue;
        if (td_file_read(g.gl_pathv[i], TD_DEFAULT_MAX_FILE_BYTES, &data, &len, NULL) != TD_OK)
            continue;
        td_decode_options_default(&opts);
        opts.min_side = 2 * MAX_SIDE; /* JPEG DCT scaling: cheaper decode, same content */
        td_status st = td_image_decode(data, len, &opts, &img, NULL);
        td_free(data);
        if (st != TD_OK)
            continue;
        if (img.width < 64 || img.height < 64 || shrink(&img) != 0) {
            td_image_clear(&img);
            continue;
        }
        ph->p[ph->n].held_out = held_out_path(g.gl_pathv[i]);
        ph->p[ph->n++].img = img;
    }
    globfree(&g);
    size_t held = 0;
    for (size_t i = 0; i < ph->n; i++)
        held += ph->p[i].held_out;
    return held > 0 && held < ph->n ? 0 : -1;
}

/* Hash of a random crop (25-100% of each side) of photo p, scaled so that its long side is 48 to
 * 160 pixels; 0 if its PDQ quality is at least 50. */
static int crop_hash(const td_image *src, uint64_t *s, int dihedral, td_pdq *out)
{
    uint32_t cw = (uint32_t)(src->width * (0.25 + 0.75 * unit(s)));
    uint32_t chh = (uint32_t)(src->height * (0.25 + 0.75 * unit(s)));
    if (cw < 16 || chh < 16)
        return -1;
    uint32_t x0 = (uint32_t)(bench_rand(s) % (src->width - cw + 1));
    uint32_t y0 = (uint32_t)(bench_rand(s) % (src->height - chh + 1));
    double target = 48 + 112 * unit(s);
    double scale = target / (cw > chh ? cw : chh);
    uint32_t ow = (uint32_t)(cw * scale), oh = (uint32_t)(chh * scale);
    if (ow < 16 || oh < 16)
        return -1;
    uint8_t px[160 * 160 * 3];
    uint32_t ch = src->channels;
    for (uint32_t y = 0; y < oh; y++)
        for (uint32_t x = 0; x < ow; x++) {
            size_t sx = x0 + (size_t)((x + 0.5) / scale), sy = y0 + (size_t)((y + 0.5) / scale);
            if (sx >= src->width)
                sx = src->width - 1;
            if (sy >= src->height)
                sy = src->height - 1;
            memcpy(px + ((size_t)y * ow + x) * ch, src->pixels + (sy * src->width + sx) * ch, ch);
        }
    td_image img;
    memset(&img, 0, sizeof img);
    img.width = ow;
    img.height = oh;
    img.channels = ch;
    img.pixels = px;
    int quality;
    if (td_pdq_hash_image(&img, dihedral, out, &quality, NULL) != TD_OK || quality < 50)
        return -1;
    return 0;
}

typedef struct gen_job {
    const photos *ph;
    workload *w;
    size_t lo, hi; /* db entries */
    size_t qlo, qhi;
    uint64_t seed;
} gen_job;

static const td_image *pick(const photos *ph, uint64_t *s, int held_out)
{
    for (;;) {
        size_t i = bench_rand(s) % ph->n;
        if (ph->p[i].held_out == held_out)
            return &ph->p[i].img;
    }
}

static void *gen_worker(void *arg)
{
    gen_job *j = arg;
    uint64_t s = j->seed;
    for (size_t i = j->lo; i < j->hi; i++)
        while (crop_hash(pick(j->ph, &s, 0), &s, 0, &j->w->db[i]) != 0)
            ;
    for (size_t i = j->qlo; i < j->qhi; i++) {
        td_pdq v[TD_DIH_COUNT];
        while (crop_hash(pick(j->ph, &s, 1), &s, 1, v) != 0)
            ;
        memcpy(j->w->qv[i], v, sizeof v);
    }
    return NULL;
}

static int cache_io(const char *path, workload *w, int write)
{
    FILE *f = fopen(path, write ? "wb" : "rb");
    if (!f)
        return -1;
    size_t a = write ? fwrite(w->db, sizeof *w->db, w->n, f) : fread(w->db, sizeof *w->db, w->n, f);
    size_t b =
        write ? fwrite(w->qv, sizeof *w->qv, w->nq, f) : fread(w->qv, sizeof *w->qv, w->nq, f);
    int rc = a == w->n && b == w->nq ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int workload_realistic(workload *w, size_t n, size_t nq, uint64_t seed, const char *cache_dir,
                       int threads)
{
    char path[4096] = "";
    if (alloc_workload(w, n, nq) != 0)
        return -1;
    w->name = "realistic";
    if (cache_dir) {
        mkdir(cache_dir, 0755);
        snprintf(path, sizeof path, "%s/realistic-%zu-%zu-%llu.bin", cache_dir, n, nq,
                 (unsigned long long)seed);
    }
    photos ph = {0};
    if (load_photos(&ph) != 0) {
        fprintf(stderr, "bench_index: too few photos found (install %s)\n",
                "plasma-workspace-wallpapers lomiri-wallpapers");
        free(ph.p);
        return -1;
    }
    w->photos = ph.n;
    if (!path[0] || cache_io(path, w, 0) != 0) {
        fprintf(stderr, "bench_index: hashing %zu crops of %zu photos (cached in %s)...\n", n + nq,
                ph.n, path[0] ? path : "nowhere");
        if (threads < 1)
            threads = 1;
        if (threads > 16)
            threads = 16;
        pthread_t th[16];
        gen_job jobs[16];
        for (int t = 0; t < threads; t++) {
            jobs[t] = (gen_job){&ph,
                                w,
                                n * t / threads,
                                n * (t + 1) / threads,
                                nq * t / threads,
                                nq * (t + 1) / threads,
                                seed * 0x9E3779B97F4A7C15ULL + (uint64_t)t + 1};
            pthread_create(&th[t], NULL, gen_worker, &jobs[t]);
        }
        for (int t = 0; t < threads; t++)
            pthread_join(th[t], NULL);
        /* Half the queries: an entry with 0-30 bits flipped (variants 1..7 stay unrelated). */
        uint64_t s = seed + 77;
        for (size_t i = 0; i < nq; i += 2) {
            w->qv[i][0] = w->db[bench_rand(&s) % n];
            flip(&s, &w->qv[i][0], (int)(bench_rand(&s) % 31));
        }
        if (path[0] && cache_io(path, w, 1) != 0)
            fprintf(stderr, "bench_index: cannot write the cache %s\n", path);
    }
    for (size_t i = 0; i < ph.n; i++)
        td_image_clear(&ph.p[i].img);
    free(ph.p);
    return 0;
}
