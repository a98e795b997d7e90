/* Video signals: vPDQ (a PDQ hash per sampled frame), TMK+PDQF (a fixed-size temporal signature),
 * the vPDQ matching rule, and a lookup structure that applies that rule to thousands of indexed
 * videos at once through the Hamming index.
 *
 * The behaviours reproduce facebook/ThreatExchange's vpdq/ and tmk/ (see ../shared/ALGORITHMS.md
 * and docs/video.md): frameMod sampling, "frameNumber,quality,pdqhex,timestamp" files, the
 * two-percentage rule, .tmk files of 263,344 bytes, level-1 and level-2 scores. */
#ifndef TAKEDOWN_VIDEO_HASH_H
#define TAKEDOWN_VIDEO_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "status.h"
#include "video.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- vPDQ ---- */

#define TD_VPDQ_DEFAULT_SECONDS_PER_HASH 1.0
#define TD_VPDQ_LINE_MAX 128 /* one hash-file line, NUL included */
#define TD_VPDQ_DEFAULT_QUERY_PERCENT 80.0
#define TD_VPDQ_DEFAULT_COMPARED_PERCENT 0.0

typedef struct td_vpdq_frame {
    td_pdq hash;
    int quality;
    uint32_t frame;   /* frame number, from 0 */
    double timestamp; /* seconds: (float)frame / (float)fps, as the reference computes it */
} td_vpdq_frame;

typedef struct td_vpdq {
    td_vpdq_frame *frames;
    size_t count;
    size_t capacity;
} td_vpdq;

void td_vpdq_clear(td_vpdq *v);

/* Appends one frame (grows the list). */
__attribute__((warn_unused_result)) td_status td_vpdq_append(td_vpdq *v, const td_vpdq_frame *f,
                                                             td_error *err);

/* "frameNumber,quality,pdqhex,timestamp" with the timestamp as %.3f; returns the length. */
int td_vpdq_format_line(const td_vpdq_frame *f, char out[TD_VPDQ_LINE_MAX]);

/* The whole hash file, one line per frame, each ending in '\n'. *text is freed with td_free. */
__attribute__((warn_unused_result)) td_status td_vpdq_to_text(const td_vpdq *v, char **text,
                                                              size_t *len, td_error *err);

/* Parses a hash file (blank lines skipped; at most max_frames lines, 0: 10 million). Errors give
 * the line number. */
__attribute__((warn_unused_result)) td_status
td_vpdq_parse(const char *text, size_t len, size_t max_frames, td_vpdq *out, td_error *err);

typedef struct td_vpdq_match_options {
    int distance;            /* frame match: Hamming distance <= distance (default 31) */
    int min_quality;         /* frames below are dropped (default 50) */
    double query_percent;    /* P_q (default 80) */
    double compared_percent; /* P_c (default 0) */
} td_vpdq_match_options;

void td_vpdq_match_options_default(td_vpdq_match_options *opts);

typedef struct td_vpdq_match_result {
    double query_percent;    /* % of the query's unique good frames matching some compared frame */
    double compared_percent; /* % of the compared video's unique good frames matching the query */
    int match;               /* both thresholds met (>=) and at least one frame on each side */
} td_vpdq_match_result;

/* Brute force: every unique good frame against every other. */
__attribute__((warn_unused_result)) td_status
td_vpdq_match(const td_vpdq *query, const td_vpdq *compared, const td_vpdq_match_options *opts,
              td_vpdq_match_result *result, td_error *err);

/* ---- TMK+PDQF ---- */

#define TD_TMK_FPS 15
#define TD_TMK_PERIODS 4
#define TD_TMK_COEFFS 32
#define TD_TMK_DIM 256
#define TD_TMK_FILE_BYTES 263344
#define TD_TMK_DEFAULT_LEVEL1 0.7f
#define TD_TMK_DEFAULT_LEVEL2 0.7f

typedef struct td_tmk {
    int32_t fps;         /* 15 */
    int32_t frame_count; /* frames after resampling to 15 fps */
    int32_t periods[TD_TMK_PERIODS];
    float coeffs[TD_TMK_COEFFS];
    float average[TD_TMK_DIM];
    float cos[TD_TMK_PERIODS][TD_TMK_COEFFS][TD_TMK_DIM];
    float sin[TD_TMK_PERIODS][TD_TMK_COEFFS][TD_TMK_DIM];
} td_tmk;

/* Reads a .tmk file's bytes (exactly TD_TMK_FILE_BYTES, PDQF, P=4, m=32, d=256). *out is freed
 * with td_free. */
__attribute__((warn_unused_result)) td_status td_tmk_read(const uint8_t *data, size_t len,
                                                          td_tmk **out, td_error *err);
__attribute__((warn_unused_result)) td_status td_tmk_load(const char *path, td_tmk **out,
                                                          td_error *err);
/* Writes TD_TMK_FILE_BYTES bytes, little-endian. */
void td_tmk_write(const td_tmk *tmk, uint8_t out[TD_TMK_FILE_BYTES]);
/* Writes a file (temporary name, then rename). */
__attribute__((warn_unused_result)) td_status td_tmk_save(const td_tmk *tmk, const char *path,
                                                          td_error *err);

/* Cosine similarity of the average features. */
float td_tmk_level1(const td_tmk *a, const td_tmk *b);
/* Best time-offset kernel score over the periods, normalised to 0..1 (about). */
float td_tmk_level2(const td_tmk *a, const td_tmk *b);

/* ---- hashing a video file ---- */

typedef struct td_video_hash_options {
    td_video_limits limits;
    double seconds_per_hash; /* vPDQ sampling; 0: every frame; default 1.0 */
    int vpdq;                /* compute vPDQ (default 1) */
    int tmk;                 /* compute TMK+PDQF (default 0) */
} td_video_hash_options;

void td_video_hash_options_default(td_video_hash_options *opts);

typedef struct td_video_hashes {
    char md5[TD_MD5_HEX_LEN + 1];
    char sha256[TD_SHA256_HEX_LEN + 1];
    td_video_info info;
    uint64_t frames; /* decoded frames */
    td_vpdq vpdq;    /* when asked */
    td_tmk *tmk;     /* when asked, else NULL */
} td_video_hashes;

void td_video_hashes_clear(td_video_hashes *h);

/* Digests, then one decoding pass for vPDQ and TMK together. name is for error messages. */
__attribute__((warn_unused_result)) td_status
td_video_hash_bytes(const char *name, const uint8_t *data, size_t len,
                    const td_video_hash_options *opts, td_video_hashes *out, td_error *err);
__attribute__((warn_unused_result)) td_status td_video_hash_file(const char *path,
                                                                 const td_video_hash_options *opts,
                                                                 td_video_hashes *out,
                                                                 td_error *err);

/* ---- image or video: one dispatch for every caller ---- */

typedef enum td_media_kind { TD_MEDIA_IMAGE = 1, TD_MEDIA_VIDEO = 2 } td_media_kind;

/* Image or video, from the first bytes (256 are enough): a format td_image_sniff knows is an
 * image; otherwise what td_video_sniff recognises is a video; anything else is treated as an
 * image (its decoder then names the problem). */
td_media_kind td_media_sniff(const uint8_t *data, size_t len);

typedef struct td_media_hash_options {
    td_hash_options image;
    td_video_hash_options video;
} td_media_hash_options;

void td_media_hash_options_default(td_media_hash_options *opts);

/* kind says which half is filled: image (td_hash_bytes / td_hash_file) or video
 * (td_video_hash_bytes / td_video_hash_file, which owns memory: td_media_hashes_clear). */
typedef struct td_media_hashes {
    td_media_kind kind;
    td_file_hashes image;
    td_video_hashes video;
} td_media_hashes;

/* Frees a video's hashes; accepts NULL. */
void td_media_hashes_clear(td_media_hashes *h);

/* Sniffs data and hashes it with the image or the video hasher (opts NULL: defaults); the
 * results equal those of the direct call. name is for error messages. */
__attribute__((warn_unused_result)) td_status td_hash_media(const char *name, const uint8_t *data,
                                                            size_t len,
                                                            const td_media_hash_options *opts,
                                                            td_media_hashes *out, td_error *err);
/* Same for a file (sniffed from its first bytes, then read by the chosen hasher). */
__attribute__((warn_unused_result)) td_status td_hash_media_file(const char *path,
                                                                 const td_media_hash_options *opts,
                                                                 td_media_hashes *out,
                                                                 td_error *err);

/* ---- vPDQ lookup at scale ---- */

/* Every good, de-duplicated frame hash of every added video sits in one td_index; a query video's
 * frames are looked up in batches, hits are aggregated per video, and the vPDQ rule is applied
 * with exact counts: the result equals td_vpdq_match against each video, for every video with at
 * least one frame within the distance (with P_q = P_c = 0, brute force would also "match" videos
 * sharing no frame at all; those are not returned). */
typedef struct td_vpdq_index td_vpdq_index;

__attribute__((warn_unused_result)) td_status td_vpdq_index_new(td_vpdq_index **out, td_error *err);
void td_vpdq_index_free(td_vpdq_index *idx);

/* Adds a video under a caller id (ids need not be unique: each add is its own video). Frames
 * below min_quality (50) are not indexed; identical frame hashes are stored once. */
__attribute__((warn_unused_result)) td_status
td_vpdq_index_add(td_vpdq_index *idx, uint64_t id, const td_vpdq *video, td_error *err);

/* Removes every video added under id: queries no longer return it. Its frame hashes stay in the
 * Hamming index (they are skipped when hits are counted) until the index is rebuilt. Returns how
 * many videos were removed. Not to be called while a query runs. */
size_t td_vpdq_index_remove(td_vpdq_index *idx, uint64_t id);

/* Threads a query uses: 0 (default) the online cores, at most 16; 1 the calling thread only.
 * A query's unique frames are split into equal shares, looked up concurrently; the result does
 * not depend on the thread count. Not to be called while a query runs. */
void td_vpdq_index_set_threads(td_vpdq_index *idx, unsigned threads);

/* Number of videos and of their frame hashes (removed videos not counted). */
size_t td_vpdq_index_videos(const td_vpdq_index *idx);
size_t td_vpdq_index_frames(const td_vpdq_index *idx);

typedef struct td_vpdq_index_match {
    uint64_t id;
    double query_percent;
    double compared_percent;
} td_vpdq_index_match;

/* Videos matching the query under opts (distance at most TD_INDEX_MAX_RADIUS). *matches is freed
 * with td_free; sorted by query_percent then compared_percent, descending. */
__attribute__((warn_unused_result)) td_status
td_vpdq_index_query(td_vpdq_index *idx, const td_vpdq *query, const td_vpdq_match_options *opts,
                    td_vpdq_index_match **matches, size_t *count, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
