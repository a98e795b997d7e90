/* Approximate PDQ from an image decoded at reduced scale (fast mode).
 *
 * PDQ's downsampling is linear and separable: along each axis, two box filters of window
 * w = (n + 127) / 128 (edges averaging only the samples present), then one sample at each of 64
 * positions. So each of the 64x64 outputs is a weighted sum of the full-size pixels with weights
 * Wr[i][row] * Wc[j][col], and those 1-D weights are computed here exactly from the reference's
 * window rules. A JPEG decoded at 1/s scale gives (close to) the mean of each s x s block; giving
 * each block the sum of its pixels' weights approximates the full-size result, and is exact
 * wherever the picture is flat within a block. This stays accurate only while the filter spans
 * several blocks, which is why fast mode keeps the reduced image at TD_PDQ_FAST_MIN_SIDE or more.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/pdq_int.h"

/* Per-axis weights: for each of the 64 outputs, the weight of each reduced sample, non-zero in
 * [lo, hi). */
struct axis {
    int m;
    double *w; /* 64 x m */
    int lo[64], hi[64];
};

static int scale_of(uint32_t full, uint32_t reduced)
{
    for (int s = 1; s <= 8; s *= 2)
        if ((full + (uint32_t)s - 1) / (uint32_t)s == reduced)
            return s;
    return 0;
}

static td_status axis_init(struct axis *a, int n, int m, int s)
{
    const int window = td__pdq_window(n), half = (window + 2) / 2;
    a->m = m;
    a->w = td__calloc((size_t)m * 64, sizeof(double));
    if (!a->w)
        return TD_ERR_NOMEM;
    for (int j = 0; j < 64; j++) {
        double *wj = a->w + (size_t)j * (size_t)m;
        const int p = td__pdq_sample_index(j, n);
        /* out[p] = mean over r in win(p) of (mean over q in win(r) of x[q]). */
        int r0 = p - (window - half), r1 = p + half - 1;
        r0 = r0 < 0 ? 0 : r0;
        r1 = r1 > n - 1 ? n - 1 : r1;
        const double outer = 1.0 / (r1 - r0 + 1);
        for (int r = r0; r <= r1; r++) {
            int q0 = r - (window - half), q1 = r + half - 1;
            q0 = q0 < 0 ? 0 : q0;
            q1 = q1 > n - 1 ? n - 1 : q1;
            const double inner = outer / (q1 - q0 + 1);
            for (int q = q0; q <= q1; q++)
                wj[q / s] += inner;
        }
        int lo = 0, hi = m;
        while (lo < m && wj[lo] == 0.0)
            lo++;
        while (hi > lo && wj[hi - 1] == 0.0)
            hi--;
        a->lo[j] = lo;
        a->hi[j] = hi;
    }
    return TD_OK;
}

td_status td__pdq_reduced_downsample(const td_image *img, float out[64 * 64])
{
    const int rows = (int)img->height, cols = (int)img->width;
    const int sr = scale_of(img->full_height, img->height);
    const int sc = scale_of(img->full_width, img->width);
    if (!sr || !sc)
        return TD_ERR_INVALID;
    struct axis ar = {0}, ac = {0};
    float *luma = td__mallocarray((size_t)cols, sizeof(float));
    double *t = td__calloc((size_t)rows * 64, sizeof(double)); /* rows x 64: columns contracted */
    td_status st = TD_ERR_NOMEM;
    if (!luma || !t || axis_init(&ar, (int)img->full_height, rows, sr) != TD_OK ||
        axis_init(&ac, (int)img->full_width, cols, sc) != TD_OK)
        goto done;

    const size_t stride = (size_t)cols * img->channels;
    for (int r = 0; r < rows; r++) {
        td__pdq_luma(img->pixels + (size_t)r * stride, img->channels, (size_t)cols, luma);
        for (int j = 0; j < 64; j++) {
            const double *wj = ac.w + (size_t)j * (size_t)cols;
            double sum = 0.0;
            for (int c = ac.lo[j]; c < ac.hi[j]; c++)
                sum += wj[c] * luma[c];
            t[(size_t)r * 64 + (size_t)j] = sum;
        }
    }
    for (int i = 0; i < 64; i++) {
        const double *wi = ar.w + (size_t)i * (size_t)rows;
        for (int j = 0; j < 64; j++) {
            double sum = 0.0;
            for (int r = ar.lo[i]; r < ar.hi[i]; r++)
                sum += wi[r] * t[(size_t)r * 64 + (size_t)j];
            out[i * 64 + j] = (float)sum;
        }
    }
    st = TD_OK;
done:
    td__free(ar.w);
    td__free(ac.w);
    td__free(luma);
    td__free(t);
    return st;
}
