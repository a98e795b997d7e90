/* The PDQ filter as a stream of rows (see td__pdq_stream in pdq_int.h).
 *
 * The reference filters the whole image four times: rows, columns, rows, columns, then keeps
 * 64x64 samples. Here the four passes run as a pipeline:
 *   1. every TD__PDQ_LANES pushed rows are row-filtered into a ring of recent rows ("A");
 *   2. the first column filter advances one step per available A row, all columns at once, and
 *      emits rows of "C" into a strip;
 *   3. each full strip of C is row-filtered again, keeping only the 64 sampled columns ("B",
 *      rows x 64, the only per-image buffer that grows with the image);
 *   4. at the end the second column filter runs over those 64 columns and keeps the 64 sampled
 *      rows.
 * Each running sum sees the same float operations in the same order as in the reference. */
#include <string.h>

#include "core/alloc.h"
#include "hash/pdq_int.h"

struct td__pdq_stream {
    const td__pdq_kernels *k;
    int rows, cols;
    int row_window, col_window;
    int col_sample[64], row_sample[64];

    float *strip; /* TD__PDQ_LANES pushed luma rows */
    int strip_rows;
    int pushed; /* rows pushed so far */

    float *ring; /* rows of A; row r at slot r % ring_rows */
    int ring_rows;
    int produced; /* rows of A produced */

    float *col_sum; /* the first column filter: running sums, and its next step */
    int step, count;

    float *c_strip; /* rows of C awaiting the second row filter */
    int c_rows, c_first;

    float *b; /* rows x 64 */
    void *scratch;
};

td_status td__pdq_stream_new(const td__pdq_kernels *kernels, int rows, int cols,
                             td__pdq_stream **out)
{
    td__pdq_stream *s = td__calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return TD_ERR_NOMEM;
    s->k = kernels ? kernels : td__pdq_kernels_best();
    s->rows = rows;
    s->cols = cols;
    s->row_window = td__pdq_window(cols);
    s->col_window = td__pdq_window(rows);
    for (int j = 0; j < 64; j++) {
        s->col_sample[j] = td__pdq_sample_index(j, cols);
        s->row_sample[j] = td__pdq_sample_index(j, rows);
    }
    /* The first column filter reads rows i and i - window; rows arrive TD__PDQ_LANES at once. */
    s->ring_rows = s->col_window + TD__PDQ_LANES + 1;
    size_t c = (size_t)cols, wide = cols > 64 ? c : 64;
    s->strip = td__aligned_array(c, TD__PDQ_LANES * sizeof(float));
    s->ring = td__aligned_array(c * (size_t)s->ring_rows, sizeof(float));
    s->col_sum = td__aligned_array(c, sizeof(float));
    s->c_strip = td__aligned_array(c, TD__PDQ_LANES * sizeof(float));
    s->b = td__aligned_array((size_t)rows, 64 * sizeof(float));
    s->scratch = td__aligned_array(c + wide, TD__PDQ_LANES * sizeof(float));
    if (!s->strip || !s->ring || !s->col_sum || !s->c_strip || !s->b || !s->scratch) {
        td__pdq_stream_free(s);
        return TD_ERR_NOMEM;
    }
    memset(s->col_sum, 0, c * sizeof(float));
    *out = s;
    return TD_OK;
}

void td__pdq_stream_free(td__pdq_stream *s)
{
    if (!s)
        return;
    td__free(s->strip);
    td__free(s->ring);
    td__free(s->col_sum);
    td__free(s->c_strip);
    td__free(s->b);
    td__free(s->scratch);
    td__free(s);
}

static float *ring_row(td__pdq_stream *s, int r)
{
    return s->ring + (size_t)(r % s->ring_rows) * (size_t)s->cols;
}

/* Second row filter over the strip of C rows, into B. */
static void flush_c_strip(td__pdq_stream *s)
{
    if (s->c_rows == 0)
        return;
    s->k->box_rows(s->c_strip, s->c_rows, s->cols, s->row_window, s->col_sample,
                   s->b + (size_t)s->c_first * 64, s->scratch);
    s->c_first += s->c_rows;
    s->c_rows = 0;
}

/* Advances the first column filter as far as the rows of A produced so far allow. Step i adds
 * row i (while i < rows) and subtracts row i - window (once i >= window); it emits C row
 * i - (half - 1) once the window has grown past its silent phase. */
static void advance_columns(td__pdq_stream *s)
{
    const int window = s->col_window, silent = (window + 2) / 2 - 1;
    const int total = s->rows + silent;
    for (; s->step < total; s->step++) {
        const int i = s->step;
        const int adds = i < s->rows, subs = i >= window;
        if (adds && i >= s->produced)
            return;
        if (adds && !subs)
            s->count++;
        else if (!adds && subs)
            s->count--;
        float *dst = NULL;
        if (i >= silent)
            dst = s->c_strip + (size_t)s->c_rows * (size_t)s->cols;
        s->k->column_step(s->col_sum, adds ? ring_row(s, i) : NULL,
                          subs ? ring_row(s, i - window) : NULL, dst, (float)s->count, s->cols);
        if (dst && ++s->c_rows == TD__PDQ_LANES)
            flush_c_strip(s);
    }
}

/* First row filter over the strip of pushed rows, into the ring. */
static void flush_strip(td__pdq_stream *s)
{
    if (s->strip_rows == 0)
        return;
    /* The ring slots of the new rows are consecutive unless they wrap: filter into a temporary
     * position only when they do. */
    int first = s->produced, n = s->strip_rows;
    int slot = first % s->ring_rows;
    if (slot + n <= s->ring_rows) {
        s->k->box_rows(s->strip, n, s->cols, s->row_window, NULL, ring_row(s, first), s->scratch);
    } else {
        int head = s->ring_rows - slot;
        s->k->box_rows(s->strip, head, s->cols, s->row_window, NULL, ring_row(s, first),
                       s->scratch);
        s->k->box_rows(s->strip + (size_t)head * (size_t)s->cols, n - head, s->cols, s->row_window,
                       NULL, ring_row(s, first + head), s->scratch);
    }
    s->produced += n;
    s->strip_rows = 0;
    advance_columns(s);
}

void td__pdq_stream_push_pixels(td__pdq_stream *s, const uint8_t *row, uint32_t channels)
{
    s->k->luma_row(row, channels, (size_t)s->cols,
                   s->strip + (size_t)s->strip_rows * (size_t)s->cols);
    s->pushed++;
    if (++s->strip_rows == TD__PDQ_LANES)
        flush_strip(s);
}

void td__pdq_stream_push_luma(td__pdq_stream *s, const float *row)
{
    memcpy(s->strip + (size_t)s->strip_rows * (size_t)s->cols, row,
           (size_t)s->cols * sizeof(float));
    s->pushed++;
    if (++s->strip_rows == TD__PDQ_LANES)
        flush_strip(s);
}

void td__pdq_stream_finish(td__pdq_stream *s, float out[64 * 64])
{
    flush_strip(s);
    advance_columns(s);
    flush_c_strip(s);

    /* Second column filter over the 64 sampled columns of B, keeping the 64 sampled rows. */
    const int window = s->col_window, silent = (window + 2) / 2 - 1;
    float sum[64] = {0};
    int count = 0, next = 0;
    for (int i = 0; i < s->rows + silent; i++) {
        const int adds = i < s->rows, subs = i >= window;
        if (adds && !subs)
            count++;
        else if (!adds && subs)
            count--;
        s->k->column_step(sum, adds ? s->b + (size_t)i * 64 : NULL,
                          subs ? s->b + (size_t)(i - window) * 64 : NULL, NULL, 0.0f, 64);
        const int oi = i - silent;
        while (oi >= 0 && next < 64 && s->row_sample[next] == oi) {
            for (int j = 0; j < 64; j++)
                out[next * 64 + j] = sum[j] / (float)count;
            next++;
        }
    }
}

const td__pdq_kernels *td__pdq_kernels_best(void)
{
    static const td__pdq_kernels *chosen;
    const td__pdq_kernels *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!k) {
        __builtin_cpu_init();
        k = __builtin_cpu_supports("avx2") ? &td__pdq_kernels_avx2 : &td__pdq_kernels_generic;
        __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    }
    return k;
}

td_status td__pdq_downsample(const td__pdq_kernels *kernels, const float *luma, int rows, int cols,
                             float out[64 * 64])
{
    td__pdq_stream *s;
    if (rows == 64 && cols == 64) {
        /* The reference skips the filter for inputs that are already 64x64. */
        memcpy(out, luma, 64 * 64 * sizeof(float));
        return TD_OK;
    }
    td_status st = td__pdq_stream_new(kernels, rows, cols, &s);
    if (st != TD_OK)
        return st;
    for (int r = 0; r < rows; r++)
        td__pdq_stream_push_luma(s, luma + (size_t)r * (size_t)cols);
    td__pdq_stream_finish(s, out);
    td__pdq_stream_free(s);
    return TD_OK;
}
