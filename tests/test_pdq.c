/* PDQ, step by step: each stage against an independent expectation. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash/pdq_int.h"
#include "support/pdq_oracle.h"
#include "support/support.h"
#include "takedown/takedown.h"

static float *random_luma(int rows, int cols, uint64_t seed)
{
    float *l = malloc((size_t)rows * cols * sizeof(float));
    for (size_t i = 0; i < (size_t)rows * cols; i++)
        l[i] = (float)(test_rand(&seed) % 256) * 0.997f;
    return l;
}

/* The box filter's output at i is the mean of the samples in [i - (w - half), i + half - 1]
 * that exist, half = (w + 2) / 2: checked in double against the running float sum. */
static void test_box1d_window(void **state)
{
    (void)state;
    uint64_t seed = 7;
    for (int n = 1; n < 300; n += 7) {
        for (int w = 1; w <= n && w < 40; w += 3) {
            float *in = random_luma(1, n, seed++), *out = malloc(n * sizeof(float));
            td__pdq_box1d(in, out, n, 1, w);
            int half = (w + 2) / 2;
            for (int i = 0; i < n; i++) {
                int lo = i - (w - half), hi = i + half - 1;
                lo = lo < 0 ? 0 : lo;
                hi = hi > n - 1 ? n - 1 : hi;
                double s = 0;
                for (int k = lo; k <= hi; k++)
                    s += in[k];
                double mean = s / (hi - lo + 1);
                if (fabs(mean - out[i]) > 1e-3)
                    fail_msg("n=%d w=%d i=%d: %f vs %f", n, w, i, out[i], mean);
            }
            free(in);
            free(out);
        }
    }
}

static void test_window_and_decimation(void **state)
{
    (void)state;
    assert_int_equal(td__pdq_window(5), 1);
    assert_int_equal(td__pdq_window(128), 1);
    assert_int_equal(td__pdq_window(129), 2);
    assert_int_equal(td__pdq_window(3000), 24);
    for (int side = 1; side < 5000; side += 13)
        for (int i = 0; i < 64; i++) /* floor((2i + 1) side / 128), in integers */
            assert_int_equal(td__pdq_sample_index(i, side), ((2 * i + 1) * side) / 128);
}

/* The vectorised filter must be bit-identical to the reference's order of operations, for both
 * kernels, on sizes around every boundary (lanes of 16, 64 samples, windows). */
static void check_filter(const td__pdq_kernels *kernels, const char *name)
{
    static const int sizes[][2] = {{5, 5},     {5, 300},  {300, 5},   {17, 33},   {63, 65},
                                   {64, 65},   {65, 64},  {127, 129}, {128, 128}, {200, 311},
                                   {256, 255}, {513, 97}, {1000, 37}, {33, 1500}, {720, 1280},
                                   {2100, 70}, {3001, 9}, {17, 4001}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int rows = sizes[s][0], cols = sizes[s][1];
        float *luma = random_luma(rows, cols, 100 + s);
        float expected[64 * 64], got[64 * 64];
        oracle_downsample(luma, rows, cols, expected);
        assert_int_equal(td__pdq_downsample(kernels, luma, rows, cols, got), TD_OK);
        for (int k = 0; k < 64 * 64; k++)
            if (memcmp(&expected[k], &got[k], sizeof(float)) != 0)
                fail_msg("%s %dx%d cell %d: %.9g vs %.9g", name, rows, cols, k, got[k],
                         expected[k]);
        free(luma);
    }
}

static void test_filter_generic_exact(void **state)
{
    (void)state;
    check_filter(&td__pdq_kernels_generic, "generic");
}

static void test_filter_avx2_exact(void **state)
{
    (void)state;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2"))
        skip();
    check_filter(&td__pdq_kernels_avx2, "avx2");
}

/* The AVX2 luma kernel gives the same floats as the portable one, at every row length. */
static void test_luma_kernels_agree(void **state)
{
    (void)state;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2"))
        skip();
    uint64_t seed = 77;
    for (size_t n = 1; n < 300; n++) {
        for (uint32_t channels = 1; channels <= 3; channels += 2) {
            uint8_t *px = malloc(n * channels);
            float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
            for (size_t i = 0; i < n * channels; i++)
                px[i] = (uint8_t)test_rand(&seed);
            td__pdq_kernels_generic.luma_row(px, channels, n, a);
            td__pdq_kernels_avx2.luma_row(px, channels, n, b);
            assert_memory_equal(a, b, n * sizeof(float));
            free(px);
            free(a);
            free(b);
        }
    }
}

static void test_filter_64x64_is_identity(void **state)
{
    (void)state;
    float *luma = random_luma(64, 64, 3), out[64 * 64];
    assert_int_equal(td__pdq_downsample(NULL, luma, 64, 64, out), TD_OK);
    assert_memory_equal(out, luma, sizeof out);
    free(luma);
}

/* DCT against a double-precision evaluation of the definition. */
static void test_dct(void **state)
{
    (void)state;
    float *a = random_luma(64, 64, 11), b[256];
    td__pdq_dct16(a, b);
    for (int u = 0; u < 16; u++) {
        for (int v = 0; v < 16; v++) {
            double s = 0;
            for (int x = 0; x < 64; x++)
                for (int y = 0; y < 64; y++)
                    s += cos(M_PI / 128 * (u + 1) * (2 * x + 1)) * a[x * 64 + y] *
                         cos(M_PI / 128 * (v + 1) * (2 * y + 1));
            s *= 2.0 / 64.0;
            if (fabs(s - b[u * 16 + v]) > 1e-3 * (1 + fabs(s)))
                fail_msg("B[%d][%d] = %f, expected %f", u, v, b[u * 16 + v], s);
        }
    }
    /* A constant image has no energy outside DC, which PDQ does not keep. */
    for (int k = 0; k < 64 * 64; k++)
        a[k] = 117.0f;
    td__pdq_dct16(a, b);
    for (int k = 0; k < 256; k++)
        assert_true(fabsf(b[k]) < 1e-2f);
    free(a);
}

static void test_median(void **state)
{
    (void)state;
    uint64_t seed = 5;
    for (int round = 0; round < 200; round++) {
        float v[256];
        for (int k = 0; k < 256; k++)
            v[k] = (float)(test_rand(&seed) % (round < 100 ? 1000 : 7)); /* with many ties */
        float m = td__pdq_median(v);
        int below = 0, at_or_below = 0;
        for (int k = 0; k < 256; k++) {
            below += v[k] < m;
            at_or_below += v[k] <= m;
        }
        /* m is the 128th smallest: fewer than 128 values are below it, at least 128 are not above.
         */
        assert_true(below <= 127);
        assert_true(at_or_below >= 128);
    }
}

static void test_bits_and_hex(void **state)
{
    (void)state;
    float dct[256];
    td_pdq h, back;
    char hex[65];
    /* Values 0..255: the median is 127, so bits 128..255 are set: words 8..15 all ones. */
    for (int k = 0; k < 256; k++)
        dct[k] = (float)k;
    td__pdq_bits(dct, &h);
    td_pdq_to_hex(&h, hex);
    assert_string_equal(hex, "ffffffffffffffffffffffffffffffff"
                             "00000000000000000000000000000000");
    memset(&h, 0, sizeof h);
    h.w[0] = 1; /* bit 0 is the last hex digit's lowest bit */
    h.w[15] = 0x8000;
    td_pdq_to_hex(&h, hex);
    assert_string_equal(hex, "8000000000000000000000000000000000000000000000000000000000000001");
    assert_int_equal(td_pdq_from_hex(hex, 64, &back), TD_OK);
    assert_memory_equal(&back, &h, sizeof h);
    assert_int_equal(
        td_pdq_from_hex("80000000000000000000000000000000000000000000000000000000000000"
                        "0G",
                        64, &back),
        TD_ERR_INVALID);
    assert_int_equal(td_pdq_from_hex(hex, 63, &back), TD_ERR_INVALID);
    assert_int_equal(
        td_pdq_from_hex("F8F8F0CEE0F4A84F06370A22038F63F0B36E2ED596621E1D33E6B39C4E9C9B22", 64,
                        &back),
        TD_OK);
    td_pdq_to_hex(&back, hex);
    assert_string_equal(hex, "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22");
}

static void test_distance(void **state)
{
    (void)state;
    uint64_t seed = 99;
    for (int round = 0; round < 1000; round++) {
        td_pdq a, b;
        for (int w = 0; w < 16; w++) {
            a.w[w] = (uint16_t)test_rand(&seed);
            b.w[w] = (uint16_t)test_rand(&seed);
        }
        int expected = 0;
        for (int k = 0; k < 256; k++)
            expected += ((a.w[k >> 4] >> (k & 15)) & 1) != ((b.w[k >> 4] >> (k & 15)) & 1);
        assert_int_equal(td_pdq_distance(&a, &b), expected);
        assert_int_equal(td_pdq_distance(&a, &a), 0);
    }
}

static void test_quality(void **state)
{
    (void)state;
    float img[64 * 64];
    for (int k = 0; k < 64 * 64; k++)
        img[k] = 80.0f;
    assert_int_equal(td__pdq_quality(img), 0);
    /* Vertical stripes 0/255: 64 * 63 horizontal steps of |d| = 100, none vertically:
     * 403200 / 90 = 4480, capped at 100. */
    for (int k = 0; k < 64 * 64; k++)
        img[k] = (k % 2) ? 255.0f : 0.0f;
    assert_int_equal(td__pdq_quality(img), 100);
    /* One step of 51 between the left and right halves: d = (int)(51 * 100 / 255) = 20 in each
     * of 64 rows: 1280 / 90 = 14. */
    for (int k = 0; k < 64 * 64; k++)
        img[k] = (k % 64) < 32 ? 0.0f : 51.0f;
    assert_int_equal(td__pdq_quality(img), 14);
}

/* Pixel-domain transforms of a 64x64 image (the filter is skipped at 64x64, so hashing the
 * transformed image must give the DCT-domain variant, up to float rounding near the median). */
static void transform(const float *in, td_dihedral v, float *out)
{
    const int n = 64;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            int si = i, sj = j;
            switch (v) {
            case TD_DIH_ORIGINAL: break;
            case TD_DIH_ROT90:
                si = j;
                sj = n - 1 - i;
                break;
            case TD_DIH_ROT180:
                si = n - 1 - i;
                sj = n - 1 - j;
                break;
            case TD_DIH_ROT270:
                si = n - 1 - j;
                sj = i;
                break;
            case TD_DIH_FLIPX: si = n - 1 - i; break;
            case TD_DIH_FLIPY: sj = n - 1 - j; break;
            case TD_DIH_FLIP_PLUS1:
                si = j;
                sj = i;
                break;
            case TD_DIH_FLIP_MINUS1:
                si = n - 1 - j;
                sj = n - 1 - i;
                break;
            case TD_DIH_COUNT: break;
            }
            out[i * n + j] = in[si * n + sj];
        }
    }
}

static void test_dihedral_rules(void **state)
{
    (void)state;
    uint64_t seed = 1234;
    for (int round = 0; round < 20; round++) {
        td_image img = {.width = 64, .height = 64, .channels = 1, .pixels = malloc(64 * 64)};
        for (int k = 0; k < 64 * 64; k++)
            img.pixels[k] = (uint8_t)(test_rand(&seed) % 256);
        td_pdq variants[TD_DIH_COUNT];
        int quality;
        assert_int_equal(td_pdq_hash_image(&img, 1, variants, &quality, NULL), TD_OK);
        float base[64 * 64], moved[64 * 64];
        for (int k = 0; k < 64 * 64; k++)
            base[k] = img.pixels[k];
        for (int v = 0; v < TD_DIH_COUNT; v++) {
            transform(base, (td_dihedral)v, moved);
            for (int k = 0; k < 64 * 64; k++)
                img.pixels[k] = (uint8_t)moved[k];
            td_pdq direct;
            assert_int_equal(td_pdq_hash_image(&img, 0, &direct, &quality, NULL), TD_OK);
            int d = td_pdq_distance(&direct, &variants[v]);
            if (d > 2)
                fail_msg("variant %s: pixel-domain hash is %d bits from the DCT-domain one",
                         td_dihedral_name((td_dihedral)v), d);
            /* and the variants really differ from the original */
            if (v != TD_DIH_ORIGINAL)
                assert_true(td_pdq_distance(&variants[0], &variants[v]) > 60);
        }
        free(img.pixels);
    }
}

static void test_small_images_hash_to_zero(void **state)
{
    (void)state;
    uint8_t px[4 * 100 * 3];
    memset(px, 200, sizeof px);
    td_image img = {.width = 100, .height = 4, .channels = 3, .pixels = px};
    td_pdq h[TD_DIH_COUNT];
    int q = -1;
    memset(h, 0xff, sizeof h);
    assert_int_equal(td_pdq_hash_image(&img, 1, h, &q, NULL), TD_OK);
    assert_int_equal(q, 0);
    td_pdq zero = {{0}};
    for (int v = 0; v < TD_DIH_COUNT; v++)
        assert_memory_equal(&h[v], &zero, sizeof zero);
}

/* Where the picture is flat within each s x s block, the block-weighted downsample of the
 * reduced image equals the full-size filter (up to float rounding): an exact check of the weights
 * derived from the reference's window rules, for sizes that are and are not multiples of s. */
static void test_reduced_downsample_on_flat_blocks(void **state)
{
    (void)state;
    static const int sizes[][3] = {{1024, 768, 8}, {1030, 777, 8}, {900, 1601, 4}, {333, 250, 2}};
    uint64_t seed = 31;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int rows = sizes[k][0], cols = sizes[k][1], s = sizes[k][2];
        int rr = (rows + s - 1) / s, rc = (cols + s - 1) / s;
        td_image small = {.width = (uint32_t)rc,
                          .height = (uint32_t)rr,
                          .channels = 1,
                          .pixels = malloc((size_t)rr * rc),
                          .full_width = (uint32_t)cols,
                          .full_height = (uint32_t)rows};
        for (int i = 0; i < rr * rc; i++)
            small.pixels[i] = (uint8_t)(test_rand(&seed) % 256);
        float *full = malloc((size_t)rows * cols * sizeof(float));
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                full[(size_t)r * cols + c] = small.pixels[(r / s) * rc + c / s];
        float expected[64 * 64], got[64 * 64];
        oracle_downsample(full, rows, cols, expected);
        assert_int_equal(td__pdq_reduced_downsample(&small, got), TD_OK);
        for (int i = 0; i < 64 * 64; i++)
            if (fabsf(got[i] - expected[i]) > 1e-2f)
                fail_msg("%dx%d / %d cell %d: %f vs %f", rows, cols, s, i, got[i], expected[i]);
        free(full);
        free(small.pixels);
    }
    /* Sizes that are no 1/2, 1/4 or 1/8 reduction are refused. */
    uint8_t px[100 * 100] = {0};
    td_image odd = {.width = 100,
                    .height = 100,
                    .channels = 1,
                    .pixels = px,
                    .full_width = 301,
                    .full_height = 300};
    float out[64 * 64];
    assert_int_equal(td__pdq_reduced_downsample(&odd, out), TD_ERR_INVALID);
}

static void test_luma(void **state)
{
    (void)state;
    uint8_t rgb[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    float y[4];
    td__pdq_luma(rgb, 3, 4, y);
    assert_true(y[0] == 0.299f * 255.0f);
    assert_true(y[1] == 0.587f * 255.0f);
    assert_true(y[2] == 0.114f * 255.0f);
    assert_true(fabsf(y[3] - (2.99f + 11.74f + 3.42f)) < 1e-4f);
    uint8_t grey[] = {0, 77, 255};
    td__pdq_luma(grey, 1, 3, y);
    assert_true(y[0] == 0.0f && y[1] == 77.0f && y[2] == 255.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_box1d_window),
        cmocka_unit_test(test_window_and_decimation),
        cmocka_unit_test(test_filter_generic_exact),
        cmocka_unit_test(test_filter_avx2_exact),
        cmocka_unit_test(test_luma_kernels_agree),
        cmocka_unit_test(test_filter_64x64_is_identity),
        cmocka_unit_test(test_dct),
        cmocka_unit_test(test_median),
        cmocka_unit_test(test_bits_and_hex),
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_quality),
        cmocka_unit_test(test_dihedral_rules),
        cmocka_unit_test(test_small_images_hash_to_zero),
        cmocka_unit_test(test_reduced_downsample_on_flat_blocks),
        cmocka_unit_test(test_luma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
