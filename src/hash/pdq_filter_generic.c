/* Portable kernels of the PDQ filter (see td__pdq_kernels in pdq_int.h), written with
 * GCC/Clang vector extensions so that any target gets what vector units it has.
 *
 * Bit-exactness: the reference runs, for every row and then every column, a running float sum
 * (add the entering sample, subtract the leaving one, divide by the window count). These kernels
 * keep that exact sequence of float operations per row and per column, and only change which
 * rows or columns advance together:
 *  - column steps advance all columns of a row at once (contiguous, vectorised across columns);
 *  - row filters copy a strip of TD__PDQ_LANES rows into a column-major tile, so that the running
 *    sums of those rows advance together in one vector. */

#include <stddef.h>
#include <string.h>

#include "hash/pdq_int.h"

typedef float vlane __attribute__((vector_size(TD__PDQ_LANES * sizeof(float))));

/* Row filter over a tile (tile[c] holds column c of the strip). With sample NULL every position
 * goes to out[c]; otherwise only the 64 sampled positions, to out[j] for sample[j] == c. */
static void box_tile(const vlane *tile, int n, int window, vlane *out, const int *sample)
{
    const int half = (window + 2) / 2;
    const int grow_silent = half - 1, grow = window - half + 1, full = n - window;
    vlane sum = {0};
    int count = 0, ri = 0, li = 0, oi = 0, next = 0;

    for (int i = 0; i < grow_silent; i++) {
        sum += tile[ri++];
        count++;
    }
    for (int i = 0; i < grow + full + grow_silent; i++, oi++) {
        if (i < grow) {
            sum += tile[ri++];
            count++;
        } else if (i < grow + full) {
            sum += tile[ri++];
            sum -= tile[li++];
        } else {
            sum -= tile[li++];
            count--;
        }
        if (!sample) {
            out[oi] = sum / (float)count;
        } else if (next < 64 && sample[next] == oi) {
            vlane v = sum / (float)count;
            while (next < 64 && sample[next] == oi)
                out[next++] = v;
        }
    }
}

static void box_rows(const float *in, int n_rows, int cols, int window, const int *sample,
                     float *out, void *scratch)
{
    vlane *tile = scratch;
    vlane *tile_out = tile + cols;
    float *t = (float *)tile;
    const int width = sample ? 64 : cols;

    if (n_rows < TD__PDQ_LANES)
        memset(tile, 0, (size_t)cols * sizeof(vlane));
    for (int k = 0; k < n_rows; k++) {
        const float *src = in + (size_t)k * (size_t)cols;
        for (int c = 0; c < cols; c++)
            t[(size_t)c * TD__PDQ_LANES + (size_t)k] = src[c];
    }
    box_tile(tile, cols, window, tile_out, sample);
    const float *o = (const float *)tile_out;
    for (int k = 0; k < n_rows; k++) {
        float *dst = out + (size_t)k * (size_t)width;
        for (int c = 0; c < width; c++)
            dst[c] = o[(size_t)c * TD__PDQ_LANES + (size_t)k];
    }
}

static void column_step(float *restrict sum, const float *restrict enter,
                        const float *restrict leave, float *restrict out, float count, int width)
{
    const size_t w = (size_t)width;
    if (enter && leave) {
        for (size_t c = 0; c < w; c++) {
            sum[c] += enter[c];
            sum[c] -= leave[c];
        }
    } else if (enter) {
        for (size_t c = 0; c < w; c++)
            sum[c] += enter[c];
    } else if (leave) {
        for (size_t c = 0; c < w; c++)
            sum[c] -= leave[c];
    }
    if (out)
        for (size_t c = 0; c < w; c++)
            out[c] = sum[c] / count;
}

const td__pdq_kernels td__pdq_kernels_generic = {box_rows, column_step, td__pdq_luma};
