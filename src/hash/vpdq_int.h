/* Pieces shared by the vPDQ matcher, the vPDQ index and the TMK accumulator. */
#ifndef TD_HASH_VPDQ_INT_H
#define TD_HASH_VPDQ_INT_H

#include <stddef.h>

#include "takedown/video_hash.h"

/* The good (quality >= min_quality) frame hashes of v, sorted and de-duplicated; *out freed with
 * td__free. */
td_status td__vpdq_unique(const td_vpdq *v, int min_quality, td_pdq **out, size_t *count,
                          td_error *err);

/* The two percentages and the decision, shared by brute force and the index so both agree. */
int td__vpdq_decide(const td_vpdq_match_options *o, size_t q_matched, size_t q_total,
                    size_t c_matched, size_t c_total, double *q_percent, double *c_percent);

/* TMK+PDQF accumulated frame by frame (frames already resampled to 15 fps, 64x64 RGB). */
typedef struct td__tmk_builder td__tmk_builder;

td_status td__tmk_builder_new(td__tmk_builder **out, td_error *err);
/* Adds `copies` consecutive resampled frames that share this picture. */
td_status td__tmk_builder_add(td__tmk_builder *b, const td_image *rgb64, unsigned copies,
                              td_error *err);
/* Adds `copies` more of the last picture (end-of-stream padding); no-op before any frame. */
void td__tmk_builder_repeat_last(td__tmk_builder *b, unsigned copies);
/* Finishes and hands over the signature (freed with td_free); the builder is freed. */
td_tmk *td__tmk_builder_finish(td__tmk_builder *b);
void td__tmk_builder_free(td__tmk_builder *b);

#endif
