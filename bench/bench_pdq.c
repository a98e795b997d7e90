/* PDQ speed on a folder of photos, single core, in one run:
 *   decode     libjpeg-turbo alone (jpeg_read_scanlines to RGB), the floor any hasher pays;
 *   exact      takedown decode + full-resolution PDQ (bit-exact);
 *   reference  decode + the reference's filter order (row passes, then strided column passes),
 *              the same arithmetic as the reference C++ implementation;
 *   fast       takedown --fast: JPEG decoded at reduced scale + PDQ, and its distance to exact.
 * Usage: bench_pdq [--verbose] [--min-side N] [--limit N] [--repeat N] DIR...   (JPEG files of at
 * least 1 megapixel) */
#include <dirent.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h> /* after stdio.h, which it needs */

#include "hash/pdq_int.h"
#include "takedown/takedown.h"

#include "support/bench.h"
#include "support/pdq_oracle.h"

struct photo {
    char md5[TD_MD5_HEX_LEN + 1];
    char *path;
    uint8_t *data;
    size_t len;
    uint32_t width, height;
};

static struct photo *photos;
static size_t n_photos, cap_photos, limit = 1000;

static void add_file(const char *path)
{
    td_error err;
    uint8_t *data;
    size_t len;
    if (n_photos >= limit || td_file_read(path, (uint64_t)64 << 20, &data, &len, &err) != TD_OK)
        return;
    td_image img;
    td_decode_options opts;
    td_decode_options_default(&opts);
    if (td_image_sniff(data, len) != TD_FORMAT_JPEG ||
        td_image_decode(data, len, &opts, &img, &err) != TD_OK) {
        td_free(data);
        return;
    }
    /* Wallpaper packages ship the same picture under several names: keep one copy. */
    char md5[TD_MD5_HEX_LEN + 1];
    int duplicate = td_md5_hex(data, len, md5) != TD_OK;
    for (size_t i = 0; i < n_photos && !duplicate; i++)
        duplicate = strcmp(photos[i].md5, md5) == 0;
    uint64_t pixels = (uint64_t)img.width * img.height;
    if (pixels >= 1000000 && !duplicate) {
        if (n_photos == cap_photos) {
            cap_photos = cap_photos ? 2 * cap_photos : 64;
            photos = realloc(photos, cap_photos * sizeof *photos);
        }
        photos[n_photos] = (struct photo){"", strdup(path), data, len, img.width, img.height};
        memcpy(photos[n_photos++].md5, md5, sizeof md5);
    } else {
        td_free(data);
    }
    td_image_clear(&img);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    if (!d) {
        add_file(dir);
        return;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        sprintf(names[n++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
            add_dir(names[i]);
        else if (S_ISREG(st.st_mode))
            add_file(names[i]);
        free(names[i]);
    }
    free(names);
}

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
};

static void jerr_exit(j_common_ptr cinfo) { longjmp(((struct jerr *)cinfo->err)->jump, 1); }

/* The decode-only peer: plain libjpeg-turbo, full size, RGB. */
static uint8_t *decode_only(const struct photo *p)
{
    struct jpeg_decompress_struct cinfo;
    struct jerr jerr;
    uint8_t *pixels = NULL;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jerr_exit;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, p->data, (unsigned long)p->len);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * 3;
    pixels = malloc(stride * cinfo.output_height);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return pixels;
}

/* Decode + PDQ with the reference's filter order (the oracle of the tests). */
static int reference_hash(const struct photo *p, td_pdq *hash)
{
    td_image img;
    td_decode_options opts;
    td_decode_options_default(&opts);
    if (td_image_decode(p->data, p->len, &opts, &img, NULL) != TD_OK)
        return -1;
    size_t cells = (size_t)img.width * img.height;
    float *luma = malloc(cells * sizeof(float)), small[64 * 64], dct[256];
    td__pdq_luma(img.pixels, img.channels, cells, luma);
    oracle_downsample(luma, (int)img.height, (int)img.width, small);
    td__pdq_dct16(small, dct);
    td__pdq_bits(dct, hash);
    free(luma);
    td_image_clear(&img);
    return 0;
}

static int hash_photo(const struct photo *p, uint32_t min_side, td_pdq *hash, int *quality,
                      td_image *size)
{
    td_image img;
    td_decode_options opts;
    td_decode_options_default(&opts);
    opts.min_side = min_side;
    opts.luma_only = min_side != 0;
    if (td_image_decode(p->data, p->len, &opts, &img, NULL) != TD_OK)
        return -1;
    td_status st = td_pdq_hash_image(&img, 0, hash, quality, NULL);
    if (size)
        *size = img;
    td_image_clear(&img);
    return st == TD_OK ? 0 : -1;
}

static int by_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int main(int argc, char **argv)
{
    int repeat = 1, first = 1, verbose = 0;
    uint32_t min_side = TD_PDQ_FAST_MIN_SIDE;
    while (first < argc && strncmp(argv[first], "--", 2) == 0) {
        if (strcmp(argv[first], "--verbose") == 0) {
            verbose = 1;
            first++;
            continue;
        }
        if (strcmp(argv[first], "--min-side") == 0 && first + 1 < argc)
            min_side = (uint32_t)strtoul(argv[first + 1], NULL, 10);
        else if (strcmp(argv[first], "--limit") == 0 && first + 1 < argc)
            limit = strtoul(argv[first + 1], NULL, 10);
        else if (strcmp(argv[first], "--repeat") == 0 && first + 1 < argc)
            repeat = atoi(argv[first + 1]);
        else {
            fprintf(
                stderr,
                "usage: bench_pdq [--verbose] [--min-side N] [--limit N] [--repeat N] DIR...\n");
            return 2;
        }
        first += 2;
    }
    if (first >= argc) {
        fprintf(stderr,
                "usage: bench_pdq [--verbose] [--min-side N] [--limit N] [--repeat N] DIR...\n");
        return 2;
    }
    for (int i = first; i < argc; i++)
        add_dir(argv[i]);
    if (n_photos == 0) {
        fprintf(stderr, "bench_pdq: no JPEG photo of at least 1 megapixel found\n");
        return 1;
    }
    double mpix = 0;
    for (size_t i = 0; i < n_photos; i++)
        mpix += (double)photos[i].width * photos[i].height / 1e6;
    printf("photos: %zu JPEGs, %.1f megapixels in all (%.1f MP on average), single core, "
           "%d round(s)\n\n",
           n_photos, mpix, mpix / (double)n_photos, repeat);

    td_pdq *exact = calloc(n_photos, sizeof *exact), *fast = calloc(n_photos, sizeof *fast);
    int *quality = calloc(n_photos, sizeof *quality);
    double t_decode = 0, t_exact = 0, t_fast = 0, t_ref = 0;
    int mismatches = 0;
    for (int r = 0; r < repeat; r++) {
        /* Interleave the contenders per photo so that machine noise hits them alike. */
        for (size_t i = 0; i < n_photos; i++) {
            double t0 = bench_now();
            free(decode_only(&photos[i]));
            double t1 = bench_now();
            hash_photo(&photos[i], 0, &exact[i], &quality[i], NULL);
            double t2 = bench_now();
            int q;
            hash_photo(&photos[i], min_side, &fast[i], &q, NULL);
            double t3 = bench_now();
            t_decode += t1 - t0;
            t_exact += t2 - t1;
            t_fast += t3 - t2;
            if (verbose && r == 0)
                printf(
                    "%5ux%-5u decode %7.1f ms  exact %7.1f ms  fast %7.1f ms  q=%3d  d=%3d  %s\n",
                    photos[i].width, photos[i].height, 1e3 * (t1 - t0), 1e3 * (t2 - t1),
                    1e3 * (t3 - t2), quality[i], td_pdq_distance(&exact[i], &fast[i]),
                    photos[i].path);
        }
    }
    /* The reference order once (it is slow), to confirm bit-exactness and show its cost. */
    size_t n_ref = n_photos < 12 ? n_photos : 12;
    for (size_t i = 0; i < n_ref; i++) {
        td_pdq ref;
        double t0 = bench_now();
        reference_hash(&photos[i], &ref);
        t_ref += bench_now() - t0;
        mismatches += td_pdq_distance(&ref, &exact[i]) != 0;
    }
    double n = (double)n_photos * repeat;
    printf("%-34s %10s %12s %10s\n", "", "images/s", "ms/image", "MP/s");
    printf("%-34s %10.2f %12.1f %10.1f\n", "decode only (libjpeg-turbo)", n / t_decode,
           1e3 * t_decode / n, mpix * repeat / t_decode);
    printf("%-34s %10.2f %12.1f %10.1f\n", "exact PDQ (decode + hash)", n / t_exact,
           1e3 * t_exact / n, mpix * repeat / t_exact);
    printf("%-34s %10.2f %12.1f %10.1f\n", "fast PDQ (scaled decode + hash)", n / t_fast,
           1e3 * t_fast / n, mpix * repeat / t_fast);
    printf("%-34s %10.2f %12.1f %10s  (first %zu photos)\n", "reference filter order",
           (double)n_ref / t_ref, 1e3 * t_ref / (double)n_ref, "-", n_ref);
    printf("\nexact time / decode-only time: %.2fx   (goal <= 1.5x)\n", t_exact / t_decode);
    printf("exact speed / fast speed:      1 : %.2f (goal >= 4)\n", t_exact / t_fast);
    printf("reference-order hashes identical to takedown's: %zu of %zu\n", n_ref - mismatches,
           n_ref);

    int *dist = calloc(n_photos, sizeof *dist), m = 0, all_max = 0;
    for (size_t i = 0; i < n_photos; i++) {
        int d = td_pdq_distance(&exact[i], &fast[i]);
        all_max = d > all_max ? d : all_max;
        if (quality[i] >= 80)
            dist[m++] = d;
    }
    qsort(dist, (size_t)m, sizeof *dist, by_int);
    if (m > 0)
        printf("fast vs exact distance, %d photos with quality >= 80: median %d, p99 %d, max %d "
               "(goal <= 10); max over all photos %d\n",
               m, dist[m / 2], dist[(m * 99) / 100 < m ? (m * 99) / 100 : m - 1], dist[m - 1],
               all_max);
    free(dist);
    free(exact);
    free(fast);
    free(quality);
    return 0;
}
