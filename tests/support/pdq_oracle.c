/* See pdq_oracle.h. */
#include "support/pdq_oracle.h"

#include <stdlib.h>
#include <string.h>

#include "hash/pdq_int.h"

void oracle_downsample(const float *luma, int rows, int cols, float out[64 * 64])
{
    size_t n = (size_t)rows * (size_t)cols;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    memcpy(a, luma, n * sizeof(float));
    int wr = td__pdq_window(cols), wc = td__pdq_window(rows);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < rows; i++)
            td__pdq_box1d(a + (size_t)i * cols, b + (size_t)i * cols, cols, 1, wr);
        for (int j = 0; j < cols; j++)
            td__pdq_box1d(b + j, a + j, rows, cols, wc);
    }
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 64; j++)
            out[i * 64 + j] = a[(size_t)td__pdq_sample_index(i, rows) * cols +
                                (size_t)td__pdq_sample_index(j, cols)];
    free(a);
    free(b);
}
