/* A direct transcription of the reference's filter order (row box filter over every row, then
 * column box filter over every column, twice, then decimation), used as the oracle for the
 * library's vectorised filter. Deliberately simple and slow. */
#ifndef TD_TEST_PDQ_ORACLE_H
#define TD_TEST_PDQ_ORACLE_H

void oracle_downsample(const float *luma, int rows, int cols, float out[64 * 64]);

#endif
