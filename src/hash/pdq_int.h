/* PDQ stages, exposed inside the library so that each can be tested on its own.
 * Every stage keeps the reference's float order of operations: the hash must be bit-exact. */
#ifndef TD_HASH_PDQ_INT_H
#define TD_HASH_PDQ_INT_H

#include <stdint.h>

#include "takedown/hash.h"

#define TD__PDQ_MIN_SIDE 5 /* images with a smaller side hash to zeros, quality 0 */

/* Luma Y = 0.299f R + 0.587f G + 0.114f B (float, this order); grey pixels are copied. */
void td__pdq_luma(const uint8_t *pixels, uint32_t channels, size_t count, float *luma);

/* Jarosz window for one axis: (side + 127) / 128. */
int td__pdq_window(int side);

/* The reference's 1-D box filter over n samples at the given stride (in and out distinct). */
void td__pdq_box1d(const float *in, float *out, int n, int stride, int window);

/* Row index of the reference decimation: (int)((i + 0.5) * side / 64). */
int td__pdq_sample_index(int i, int side);

/* Rows filtered together by the row kernel (one vector of floats per column). */
#define TD__PDQ_LANES 16

/* The inner loops of the filter, one table per instruction set, chosen once at startup. */
typedef struct td__pdq_kernels {
    /* Row box filter over n_rows <= TD__PDQ_LANES rows of cols samples (row stride cols). With
     * sample NULL, writes every position (out row stride cols); otherwise only the 64 sampled
     * positions, out[j] for sample[j] (out row stride 64). scratch holds
     * (cols + max(cols, 64)) * TD__PDQ_LANES floats, 64-byte aligned. */
    void (*box_rows)(const float *in, int n_rows, int cols, int window, const int *sample,
                     float *out, void *scratch);
    /* One step of the column box filter over width columns: sum += enter (if not NULL), then
     * sum -= leave (if not NULL), then, if out is not NULL, out = sum / count. */
    void (*column_step)(float *sum, const float *enter, const float *leave, float *out, float count,
                        int width);
    /* td__pdq_luma over one row. */
    void (*luma_row)(const uint8_t *pixels, uint32_t channels, size_t count, float *luma);
} td__pdq_kernels;

extern const td__pdq_kernels td__pdq_kernels_generic;
extern const td__pdq_kernels td__pdq_kernels_avx2;

/* The best kernels this CPU runs. */
const td__pdq_kernels *td__pdq_kernels_best(void);

/* Streaming filter: rows of the image are pushed top to bottom, and only a few rows of the
 * window are kept, so memory stays small and hot whatever the image size. The result is
 * decimate(filter(luma)) of the reference, bit for bit. */
typedef struct td__pdq_stream td__pdq_stream;

__attribute__((warn_unused_result)) td_status
td__pdq_stream_new(const td__pdq_kernels *kernels, int rows, int cols, td__pdq_stream **out);
/* Pushes the next image row: cols pixels of 1 (grey) or 3 (RGB) bytes, or cols floats. */
void td__pdq_stream_push_pixels(td__pdq_stream *s, const uint8_t *row, uint32_t channels);
void td__pdq_stream_push_luma(td__pdq_stream *s, const float *row);
/* After the last row: the 64x64 output. */
void td__pdq_stream_finish(td__pdq_stream *s, float out[64 * 64]);
void td__pdq_stream_free(td__pdq_stream *s);

/* Two Jarosz passes then decimation to 64x64 (a 64x64 input is copied as it is, as the
 * reference does), with the given kernels (NULL: the best). */
__attribute__((warn_unused_result)) td_status td__pdq_downsample(const td__pdq_kernels *kernels,
                                                                 const float *luma, int rows,
                                                                 int cols, float out[64 * 64]);

/* The 64x64 downsample of an image decoded at 1/2, 1/4 or 1/8 scale (img->full_width x
 * img->full_height being the original size), approximated from block means; fast mode only. */
__attribute__((warn_unused_result)) td_status td__pdq_reduced_downsample(const td_image *img,
                                                                         float out[64 * 64]);

/* Quality metric of the 64x64 image, 0..100. */
int td__pdq_quality(const float in[64 * 64]);

/* B = D A D^T, the 16x16 DCT coefficients (DC row and column skipped). */
void td__pdq_dct16(const float in[64 * 64], float out[16 * 16]);

/* The 128th smallest of the 256 values. */
float td__pdq_median(const float values[16 * 16]);

/* Bit k = 16 i + j is set when B[i][j] > median(B). */
void td__pdq_bits(const float dct[16 * 16], td_pdq *hash);

/* Coefficients of the given dihedral variant, computed from the original's. */
void td__pdq_dihedral(const float dct[16 * 16], td_dihedral variant, float out[16 * 16]);

#endif
