/* Video decoding with FFmpeg's libraries (libavformat, libavcodec, libswscale).
 *
 * A td_video reads a container from memory or from a file through the library's own I/O layer:
 * FFmpeg never opens a path or a URL itself, so a hostile playlist or concat file cannot make it
 * read other files or the network. Limits (file size, stream count, duration, resolution, frame
 * count, probe size) are checked as early as the information is known: the container header first,
 * then every decoded frame. The library's FFmpeg log output is silenced (the library never prints).
 *
 * Frames are numbered 0, 1, 2, ... in the order the decoder outputs them, as the vPDQ reference
 * does. A caller asks, frame by frame, for up to TD_VIDEO_MAX_OUTPUTS converted RGB24 pictures
 * (native size or a fixed size, area or bicubic filter); frames nobody asks for are counted but
 * never converted. */
#ifndef TAKEDOWN_VIDEO_H
#define TAKEDOWN_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "media.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_VIDEO_MAX_OUTPUTS 2

typedef struct td_video_limits {
    uint64_t max_file_bytes; /* default 1 GiB */
    double max_duration;     /* seconds, default 4 hours */
    uint32_t max_width;      /* default 8192 */
    uint32_t max_height;     /* default 8192 */
    uint64_t max_pixels;     /* width * height per frame, default 8192 * 4320 */
    uint64_t max_frames;     /* decoded frames, default 1,000,000 */
    uint32_t max_streams;    /* streams in the container, default 64 */
    int64_t probe_bytes;     /* bytes read to find the streams, default 5,000,000 */
    int threads;             /* decoder threads: 1 (default) single core, 0 automatic */
} td_video_limits;

void td_video_limits_default(td_video_limits *limits);

typedef struct td_video td_video;

typedef struct td_video_info {
    uint32_t width, height; /* coded size from the container */
    double fps;             /* avg_frame_rate, else r_frame_rate */
    double duration;        /* seconds, 0 if unknown */
    char codec[32];         /* decoder name, e.g. "h264" */
    char container[32];     /* demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" (truncated) */
} td_video_info;

/* Opens a video held in memory. data must stay valid until td_video_free. */
__attribute__((warn_unused_result)) td_status td_video_open_memory(const uint8_t *data, size_t len,
                                                                   const td_video_limits *limits,
                                                                   td_video **out, td_error *err);

/* Opens a video file (read through the library's I/O layer, size checked first). */
__attribute__((warn_unused_result)) td_status
td_video_open_file(const char *path, const td_video_limits *limits, td_video **out, td_error *err);

/* Accepts NULL. */
void td_video_free(td_video *video);

void td_video_get_info(const td_video *video, td_video_info *info);

/* Does data look like a container FFmpeg can probe (and not like an image takedown decodes)?
 * Cheap: used to route files to the video path. */
int td_video_sniff(const uint8_t *data, size_t len);

typedef enum td_video_scaler {
    TD_VIDEO_SCALE_AREA = 0, /* SWS_AREA: what vPDQ uses */
    TD_VIDEO_SCALE_BICUBIC   /* SWS_BICUBIC: what the ffmpeg program uses by default (TMK) */
} td_video_scaler;

typedef struct td_video_output {
    uint32_t width, height; /* 0, 0: the frame's own size */
    td_video_scaler scaler;
} td_video_output;

typedef struct td_video_frame {
    uint64_t number; /* 0-based, decoder output order */
    double time;     /* seconds since the first frame, from the frame's timestamp when known, else
                        number / fps */
    /* RGB24 pictures for the outputs the caller asked for, NULL for the others. Valid only during
     * the callback. */
    const td_image *images[TD_VIDEO_MAX_OUTPUTS];
} td_video_frame;

typedef struct td_video_sink {
    td_video_output outputs[TD_VIDEO_MAX_OUTPUTS];
    size_t n_outputs;
    /* Bit i set: frame `number` at `time` seconds needs outputs[i]. NULL: no output wanted. */
    unsigned (*want)(void *ctx, uint64_t number, double time);
    /* Called for every frame (images may all be NULL); a non-TD_OK status stops decoding and is
     * returned by td_video_decode. May be NULL. */
    td_status (*frame)(void *ctx, const td_video_frame *frame, td_error *err);
    void *ctx;
} td_video_sink;

/* Decodes the first video stream to its end. *frames (may be NULL) receives the frame count,
 * also on failure. A stream that cannot be decoded fails with TD_ERR_CORRUPT and the decoder's
 * reason; a limit exceeded fails with TD_ERR_LIMIT naming the limit. Call once per td_video. */
__attribute__((warn_unused_result)) td_status
td_video_decode(td_video *video, const td_video_sink *sink, uint64_t *frames, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
