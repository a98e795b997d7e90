/* PDQ, full-resolution flavour: luma, Jarosz filter, 64x64 decimation, 16x16 DCT, median
 * threshold, and the 8 dihedral variants computed in the DCT domain. Each step reproduces the
 * reference's float operations in the same order (see ALGORITHMS.md); the build disables
 * floating-point contraction so that no fused multiply-add changes a rounding. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/pdq_int.h"

void td__pdq_luma(const uint8_t *pixels, uint32_t channels, size_t count, float *luma)
{
    if (channels == 1) {
        for (size_t i = 0; i < count; i++)
            luma[i] = (float)pixels[i];
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = pixels + 3 * i;
        luma[i] = 0.299f * (float)p[0] + 0.587f * (float)p[1] + 0.114f * (float)p[2];
    }
}

int td__pdq_window(int side) { return (side + 127) / 128; }

int td__pdq_sample_index(int i, int side) { return (int)(((i + 0.5) * side) / 64); }

void td__pdq_box1d(const float *in, float *out, int n, int stride, int window)
{
    int half = (window + 2) / 2;
    int ri = 0, li = 0, oi = 0, count = 0;
    float sum = 0.0f;
    for (int i = 0; i < half - 1; i++) {
        sum += in[ri];
        count++;
        ri += stride;
    }
    for (int i = 0; i < window - half + 1; i++) {
        sum += in[ri];
        count++;
        out[oi] = sum / (float)count;
        ri += stride;
        oi += stride;
    }
    for (int i = 0; i < n - window; i++) {
        sum += in[ri];
        sum -= in[li];
        out[oi] = sum / (float)count;
        li += stride;
        ri += stride;
        oi += stride;
    }
    for (int i = 0; i < half - 1; i++) {
        sum -= in[li];
        count--;
        out[oi] = sum / (float)count;
        li += stride;
        oi += stride;
    }
}

int td__pdq_quality(const float in[64 * 64])
{
    int gradient_sum = 0;
    for (int i = 0; i < 63; i++) {
        for (int j = 0; j < 64; j++) {
            float u = in[i * 64 + j], v = in[(i + 1) * 64 + j];
            int d = (int)(((u - v) * 100) / 255);
            gradient_sum += abs(d);
        }
    }
    for (int i = 0; i < 64; i++) {
        for (int j = 0; j < 63; j++) {
            float u = in[i * 64 + j], v = in[i * 64 + j + 1];
            int d = (int)(((u - v) * 100) / 255);
            gradient_sum += abs(d);
        }
    }
    int quality = gradient_sum / 90;
    return quality > 100 ? 100 : quality;
}

/* D[i][j] = sqrt(2/64) * cos(pi / 128 * (i + 1) * (2j + 1)): the scale factor is a float, the
 * product is formed in double and rounded to float, as in the reference. */
static float dct_matrix[16 * 64];

static void dct_matrix_init(void)
{
    const double pi = 3.14159265358979323846;
    const float scale = (float)sqrt(2.0 / 64.0);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++)
            dct_matrix[i * 64 + j] =
                (float)((double)scale * cos((pi / 2.0 / 64.0) * (i + 1) * (2 * j + 1)));
}

void td__pdq_dct16(const float in[64 * 64], float out[16 * 16])
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    float t[16 * 64];
    pthread_once(&once, dct_matrix_init);
    /* T = D A: for each row of D, accumulate over k in order; vectorised across j. */
    for (int i = 0; i < 16; i++) {
        float acc[64] = {0};
        const float *d = dct_matrix + i * 64;
        for (int k = 0; k < 64; k++) {
            const float dk = d[k];
            const float *a = in + k * 64;
            for (int j = 0; j < 64; j++)
                acc[j] += dk * a[j];
        }
        memcpy(t + i * 64, acc, sizeof acc);
    }
    /* B = T D^T */
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 16; j++) {
            const float *ti = t + i * 64, *dj = dct_matrix + j * 64;
            float sum = 0.0f;
            for (int k = 0; k < 64; k++)
                sum += ti[k] * dj[k];
            out[i * 16 + j] = sum;
        }
    }
}

static int float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

float td__pdq_median(const float values[16 * 16])
{
    float sorted[256];
    memcpy(sorted, values, sizeof sorted);
    qsort(sorted, 256, sizeof(float), float_cmp);
    return sorted[127];
}

void td__pdq_bits(const float dct[16 * 16], td_pdq *hash)
{
    float median = td__pdq_median(dct);
    memset(hash, 0, sizeof *hash);
    for (int k = 0; k < 256; k++)
        if (dct[k] > median)
            hash->w[k >> 4] |= (uint16_t)(1u << (k & 15));
}

void td__pdq_dihedral(const float dct[16 * 16], td_dihedral variant, float out[16 * 16])
{
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 16; j++) {
            float a = dct[i * 16 + j];
            switch (variant) {
            case TD_DIH_ORIGINAL: out[i * 16 + j] = a; break;
            case TD_DIH_ROT90: out[j * 16 + i] = (j & 1) ? a : -a; break;
            case TD_DIH_ROT180: out[i * 16 + j] = ((i + j) & 1) ? -a : a; break;
            case TD_DIH_ROT270: out[j * 16 + i] = (i & 1) ? a : -a; break;
            case TD_DIH_FLIPX: out[i * 16 + j] = (i & 1) ? a : -a; break;
            case TD_DIH_FLIPY: out[i * 16 + j] = (j & 1) ? a : -a; break;
            case TD_DIH_FLIP_PLUS1: out[j * 16 + i] = a; break;
            case TD_DIH_FLIP_MINUS1: out[j * 16 + i] = ((i + j) & 1) ? -a : a; break;
            case TD_DIH_COUNT: break;
            }
        }
    }
}

td_status td_pdq_hash_image(const td_image *img, int dihedral, td_pdq *hashes, int *quality,
                            td_error *err)
{
    int variants = dihedral ? TD_DIH_COUNT : 1;
    if (!img || !hashes || !quality || !img->pixels || (img->channels != 1 && img->channels != 3))
        return td__error_set(err, TD_ERR_INVALID, "pdq: invalid image");
    if (img->width > (uint32_t)INT32_MAX / 4 || img->height > (uint32_t)INT32_MAX / 4)
        return td__error_set(err, TD_ERR_LIMIT, "pdq: image side too large (%ux%u)", img->width,
                             img->height);
    int rows = (int)img->height, cols = (int)img->width;
    int reduced = (img->full_width || img->full_height) &&
                  (img->full_width != img->width || img->full_height != img->height);
    if (rows < TD__PDQ_MIN_SIDE || cols < TD__PDQ_MIN_SIDE) {
        memset(hashes, 0, (size_t)variants * sizeof *hashes);
        *quality = 0;
        return TD_OK;
    }

    float small[64 * 64];
    const size_t stride = (size_t)cols * img->channels;
    if (reduced) {
        if (td__pdq_reduced_downsample(img, small) != TD_OK)
            return td__error_set(err, TD_ERR_INVALID,
                                 "pdq: %ux%u is not a 1/2, 1/4 or 1/8 reduction of %ux%u",
                                 img->width, img->height, img->full_width, img->full_height);
    } else if (rows == 64 && cols == 64) {
        /* The reference skips the filter for inputs that are already 64x64. */
        for (int r = 0; r < 64; r++)
            td__pdq_luma(img->pixels + (size_t)r * stride, img->channels, 64, small + r * 64);
    } else {
        td__pdq_stream *stream;
        if (td__pdq_stream_new(NULL, rows, cols, &stream) != TD_OK)
            return td__error_set(err, TD_ERR_NOMEM, "pdq: out of memory for a %ux%u image",
                                 img->width, img->height);
        for (int r = 0; r < rows; r++)
            td__pdq_stream_push_pixels(stream, img->pixels + (size_t)r * stride, img->channels);
        td__pdq_stream_finish(stream, small);
        td__pdq_stream_free(stream);
    }

    float dct[16 * 16], variant[16 * 16];
    *quality = td__pdq_quality(small);
    td__pdq_dct16(small, dct);
    td__pdq_bits(dct, &hashes[0]);
    for (int v = 1; v < variants; v++) {
        td__pdq_dihedral(dct, (td_dihedral)v, variant);
        td__pdq_bits(variant, &hashes[v]);
    }
    return TD_OK;
}
