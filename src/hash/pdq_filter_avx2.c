/* AVX2 kernels of the PDQ filter (see td__pdq_kernels in pdq_int.h and the portable
 * pdq_filter_generic.c for the plain statement of what each computes). Chosen at run time.
 *
 * The row filter moves a strip of 16 rows into a column-major tile with 8x8 register
 * transposes, runs the 16 running sums in two ymm registers, and transposes back. Every sum
 * sees the reference's operations in the reference's order: add the entering sample, subtract
 * the leaving one, divide by the count. The build disables contraction, so no FMA appears. */
#include <immintrin.h>
#include <string.h>

#include "hash/pdq_int.h"

#define LANES TD__PDQ_LANES

static inline void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* tile[c * 16 + k] = in[k][c] for the 16 rows of a full strip. */
static void load_tile(const float *in, int cols, float *tile)
{
    const size_t stride = (size_t)cols;
    int c = 0;
    for (; c + 8 <= cols; c += 8) {
        for (int g = 0; g < 2; g++) {
            __m256 r[8];
            for (int k = 0; k < 8; k++)
                r[k] = _mm256_loadu_ps(in + (size_t)(g * 8 + k) * stride + (size_t)c);
            transpose8(r);
            for (int j = 0; j < 8; j++)
                _mm256_store_ps(tile + (size_t)(c + j) * LANES + (size_t)g * 8, r[j]);
        }
    }
    for (; c < cols; c++)
        for (int k = 0; k < LANES; k++)
            tile[(size_t)c * LANES + (size_t)k] = in[(size_t)k * stride + (size_t)c];
}

/* out[k][c] = tile[c * 16 + k] for the first n_rows rows and width positions. */
static void store_tile(const float *tile, int n_rows, int width, float *out)
{
    const size_t stride = (size_t)width;
    int c = 0;
    if (n_rows == LANES) {
        for (; c + 8 <= width; c += 8) {
            for (int g = 0; g < 2; g++) {
                __m256 r[8];
                for (int j = 0; j < 8; j++)
                    r[j] = _mm256_load_ps(tile + (size_t)(c + j) * LANES + (size_t)g * 8);
                transpose8(r);
                for (int k = 0; k < 8; k++)
                    _mm256_storeu_ps(out + (size_t)(g * 8 + k) * stride + (size_t)c, r[k]);
            }
        }
    }
    for (; c < width; c++)
        for (int k = 0; k < n_rows; k++)
            out[(size_t)k * stride + (size_t)c] = tile[(size_t)c * LANES + (size_t)k];
}

#define EMIT(pos)                                                                                  \
    do {                                                                                           \
        __m256 d_ = _mm256_set1_ps((float)count);                                                  \
        __m256 lo_ = _mm256_div_ps(lo, d_), hi_ = _mm256_div_ps(hi, d_);                           \
        _mm256_store_ps(out + (size_t)(pos)*LANES, lo_);                                           \
        _mm256_store_ps(out + (size_t)(pos)*LANES + 8, hi_);                                       \
    } while (0)

#define LOAD(pos, lo_v, hi_v)                                                                      \
    __m256 lo_v = _mm256_load_ps(tile + (size_t)(pos)*LANES);                                      \
    __m256 hi_v = _mm256_load_ps(tile + (size_t)(pos)*LANES + 8)

/* The reference's box filter along the tile, every position emitted. */
static void box_tile_full(const float *tile, int n, int window, float *out)
{
    const int half = (window + 2) / 2;
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int count = 0, ri = 0, li = 0, oi = 0;
    for (int i = 0; i < half - 1; i++, ri++, count++) {
        LOAD(ri, a, b);
        lo = _mm256_add_ps(lo, a);
        hi = _mm256_add_ps(hi, b);
    }
    for (int i = 0; i < window - half + 1; i++, ri++, oi++) {
        LOAD(ri, a, b);
        lo = _mm256_add_ps(lo, a);
        hi = _mm256_add_ps(hi, b);
        count++;
        EMIT(oi);
    }
    const __m256 d = _mm256_set1_ps((float)count);
    for (int i = 0; i < n - window; i++, ri++, li++, oi++) {
        LOAD(ri, a, b);
        LOAD(li, x, y);
        lo = _mm256_sub_ps(_mm256_add_ps(lo, a), x);
        hi = _mm256_sub_ps(_mm256_add_ps(hi, b), y);
        _mm256_store_ps(out + (size_t)oi * LANES, _mm256_div_ps(lo, d));
        _mm256_store_ps(out + (size_t)oi * LANES + 8, _mm256_div_ps(hi, d));
    }
    for (int i = 0; i < half - 1; i++, li++, oi++) {
        LOAD(li, x, y);
        lo = _mm256_sub_ps(lo, x);
        hi = _mm256_sub_ps(hi, y);
        count--;
        EMIT(oi);
    }
}

/* Same sums, emitting only the sampled positions: out[j] for sample[j] == position. */
static void box_tile_sampled(const float *tile, int n, int window, const int *sample, float *out)
{
    const int half = (window + 2) / 2;
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int count = 0, ri = 0, li = 0, oi = 0, next = 0;
    for (int i = 0; i < half - 1; i++, ri++, count++) {
        LOAD(ri, a, b);
        lo = _mm256_add_ps(lo, a);
        hi = _mm256_add_ps(hi, b);
    }
    for (int i = 0; i < n; i++, oi++) {
        if (i < window - half + 1) {
            LOAD(ri, a, b);
            lo = _mm256_add_ps(lo, a);
            hi = _mm256_add_ps(hi, b);
            ri++;
            count++;
        } else if (i < n - half + 1) {
            LOAD(ri, a, b);
            LOAD(li, x, y);
            lo = _mm256_sub_ps(_mm256_add_ps(lo, a), x);
            hi = _mm256_sub_ps(_mm256_add_ps(hi, b), y);
            ri++;
            li++;
        } else {
            LOAD(li, x, y);
            lo = _mm256_sub_ps(lo, x);
            hi = _mm256_sub_ps(hi, y);
            li++;
            count--;
        }
        while (next < 64 && sample[next] == oi) {
            EMIT(next);
            next++;
        }
    }
}

static void box_rows(const float *in, int n_rows, int cols, int window, const int *sample,
                     float *out, void *scratch)
{
    if (n_rows < LANES) {
        /* The last, partial strip of an image: the portable kernel handles the padding. */
        td__pdq_kernels_generic.box_rows(in, n_rows, cols, window, sample, out, scratch);
        return;
    }
    float *tile = scratch;
    float *tile_out = tile + (size_t)cols * LANES;
    load_tile(in, cols, tile);
    if (sample) {
        box_tile_sampled(tile, cols, window, sample, tile_out);
        store_tile(tile_out, n_rows, 64, out);
    } else {
        box_tile_full(tile, cols, window, tile_out);
        store_tile(tile_out, n_rows, cols, out);
    }
}

static void column_step(float *restrict sum, const float *restrict enter,
                        const float *restrict leave, float *restrict out, float count, int width)
{
    const __m256 d = _mm256_set1_ps(count);
    int c = 0;
    for (; c + 8 <= width; c += 8) {
        __m256 s = _mm256_loadu_ps(sum + c);
        if (enter)
            s = _mm256_add_ps(s, _mm256_loadu_ps(enter + c));
        if (leave)
            s = _mm256_sub_ps(s, _mm256_loadu_ps(leave + c));
        _mm256_storeu_ps(sum + c, s);
        if (out)
            _mm256_storeu_ps(out + c, _mm256_div_ps(s, d));
    }
    for (; c < width; c++) {
        if (enter)
            sum[c] += enter[c];
        if (leave)
            sum[c] -= leave[c];
        if (out)
            out[c] = sum[c] / count;
    }
}

/* Y = 0.299f R + 0.587f G + 0.114f B, 8 pixels at a time: each 128-bit half of a ymm holds
 * 4 RGB pixels (12 of its 16 bytes), spread to 32-bit lanes by a byte shuffle. */
static void luma_row(const uint8_t *px, uint32_t channels, size_t n, float *out)
{
    size_t i = 0;
    if (channels == 3) {
        const __m256i shuf_r =
            _mm256_setr_epi8(0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1, 0, -1, -1,
                             -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1);
        const __m256i one = _mm256_set1_epi8(1);
        const __m256i shuf_g = _mm256_add_epi8(
            shuf_r, _mm256_and_si256(one, _mm256_cmpgt_epi8(shuf_r, _mm256_set1_epi8(-1))));
        const __m256i shuf_b = _mm256_add_epi8(
            shuf_g, _mm256_and_si256(one, _mm256_cmpgt_epi8(shuf_g, _mm256_set1_epi8(-1))));
        const __m256 kr = _mm256_set1_ps(0.299f), kg = _mm256_set1_ps(0.587f),
                     kb = _mm256_set1_ps(0.114f);
        /* The second half reads 16 bytes from pixel i + 4: stop while that stays in the row. */
        for (; i + 8 <= n && (i + 4) * 3 + 16 <= n * 3; i += 8) {
            __m128i a = _mm_loadu_si128((const __m128i *)(px + i * 3));
            __m128i b = _mm_loadu_si128((const __m128i *)(px + (i + 4) * 3));
            __m256i v = _mm256_set_m128i(b, a);
            __m256 r = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, shuf_r));
            __m256 g = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, shuf_g));
            __m256 bl = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, shuf_b));
            __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(kr, r), _mm256_mul_ps(kg, g)),
                                     _mm256_mul_ps(kb, bl));
            _mm256_storeu_ps(out + i, y);
        }
    } else {
        for (; i + 8 <= n; i += 8) {
            __m128i a = _mm_loadl_epi64((const __m128i *)(px + i));
            _mm256_storeu_ps(out + i, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(a)));
        }
    }
    if (i < n)
        td__pdq_luma(px + i * channels, channels, n - i, out + i);
}

const td__pdq_kernels td__pdq_kernels_avx2 = {box_rows, column_step, luma_row};
