/* One decoding pass computes everything takedown derives from a video: MD5 and SHA-256 of the
 * bytes, vPDQ (PDQ of every frameMod-th frame, converted at native size with the area filter, as
 * vpdq/cpp does) and TMK+PDQF (64x64 bicubic pictures resampled to 15 fps, as the ffmpeg command
 * of tmk/cpp produces them: each output instant k/15 s takes the input frame nearest to it). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/vpdq_int.h"
#include "takedown/video_hash.h"

enum { OUT_VPDQ = 0, OUT_TMK = 1 };

struct run {
    const td_video_hash_options *opts;
    td_video_hashes *out;
    td__tmk_builder *tmk;
    double fps;
    int64_t frame_mod;
    float fps_f;
    uint64_t next_tmk;   /* output frames emitted so far (ffmpeg's sync_opts) */
    double tmk_duration; /* an input frame's duration in output frames */
    unsigned tmk_copies;
};

void td_video_hash_options_default(td_video_hash_options *opts)
{
    td_video_limits_default(&opts->limits);
    opts->seconds_per_hash = TD_VPDQ_DEFAULT_SECONDS_PER_HASH;
    opts->vpdq = 1;
    opts->tmk = 0;
}

void td_video_hashes_clear(td_video_hashes *h)
{
    if (!h)
        return;
    td_vpdq_clear(&h->vpdq);
    td__free(h->tmk);
    memset(h, 0, sizeof *h);
}

/* How many 15 fps output frames the input frame at `time` becomes, the way the ffmpeg 4 command
 * of tmk/cpp decides it (-r 15 with constant-frame-rate sync): the frame's position and duration in
 * output frames give a drift; a frame is dropped only when the output is more than 1.1 frames
 * ahead, and repeated when it falls more than 1.1 frames behind. Frames copied before the current
 * one (a gap) repeat the previous picture. This reproduces the frame counts of the sample .tmk
 * files (e.g. 564 frames at 30 fps give 284: frames 0, 1, 2, 3, then every other one). */
static void tmk_resample(struct run *r, double time, unsigned *previous, unsigned *current)
{
    double sync_ipts = time * TD_TMK_FPS;
    double delta0 = sync_ipts - (double)r->next_tmk;
    double delta = delta0 + r->tmk_duration;
    long nb = 1, nb0 = 0;
    if (delta0 < 0 && delta > 0)
        delta0 = 0; /* a late frame still counts once (delta is unchanged, as in ffmpeg) */
    if (delta < -1.1) {
        nb = 0;
    } else if (delta > 1.1) {
        nb = lrint(delta);
        if (nb > 100000)
            nb = 100000;
        if (delta0 > 1.1)
            nb0 = lrint(delta0 - 0.6);
    }
    if (nb0 > nb)
        nb0 = nb;
    r->next_tmk += (uint64_t)nb;
    *previous = (unsigned)nb0;
    *current = (unsigned)(nb - nb0);
}

static unsigned want(void *ctx, uint64_t number, double time)
{
    struct run *r = ctx;
    unsigned bits = 0;
    if (r->opts->vpdq && (int64_t)(number % (uint64_t)r->frame_mod) == 0)
        bits |= 1u << OUT_VPDQ;
    r->tmk_copies = 0;
    if (r->tmk) {
        unsigned previous;
        tmk_resample(r, time, &previous, &r->tmk_copies);
        td__tmk_builder_repeat_last(r->tmk, previous);
        if (r->tmk_copies)
            bits |= 1u << OUT_TMK;
    }
    return bits;
}

static td_status on_frame(void *ctx, const td_video_frame *frame, td_error *err)
{
    struct run *r = ctx;
    td_status s;
    if (frame->images[OUT_VPDQ]) {
        td_vpdq_frame f = {0};
        s = td_pdq_hash_image(frame->images[OUT_VPDQ], 0, &f.hash, &f.quality, err);
        if (s != TD_OK)
            return s;
        f.frame = (uint32_t)frame->number;
        f.timestamp = (double)((float)frame->number / r->fps_f);
        s = td_vpdq_append(&r->out->vpdq, &f, err);
        if (s != TD_OK)
            return s;
    }
    if (frame->images[OUT_TMK]) {
        s = td__tmk_builder_add(r->tmk, frame->images[OUT_TMK], r->tmk_copies, err);
        if (s != TD_OK)
            return s;
    }
    return TD_OK;
}

td_status td_video_hash_bytes(const char *name, const uint8_t *data, size_t len,
                              const td_video_hash_options *opts, td_video_hashes *out,
                              td_error *err)
{
    td_video_hash_options defaults;
    if (!opts) {
        td_video_hash_options_default(&defaults);
        opts = &defaults;
    }
    memset(out, 0, sizeof *out);
    if (!(opts->seconds_per_hash >= 0 && opts->seconds_per_hash <= 86400))
        return td__error_set(err, TD_ERR_INVALID, "seconds per hash must be in 0..86400");
    td_status s = td_md5_hex(data, len, out->md5);
    if (s == TD_OK)
        s = td_sha256_hex(data, len, out->sha256);
    if (s != TD_OK)
        return td__error_set(err, s, "%s: digest failed", name);

    td_video *video = NULL;
    s = td_video_open_memory(data, len, &opts->limits, &video, err);
    if (s != TD_OK) {
        td__error_prefix(err, "%s: ", name);
        return s;
    }
    td_video_get_info(video, &out->info);

    struct run r = {.opts = opts, .out = out, .fps = out->info.fps};
    r.fps_f = (float)r.fps;
    double mod = opts->seconds_per_hash * r.fps;
    r.frame_mod = mod >= 1.0 && mod < 1e12 ? (int64_t)mod : 1;
    if (opts->tmk) {
        /* ffmpeg 4's duration: the rounded frame duration if it rounds to a positive number of
         * output frames, else the exact one capped at one output frame. */
        double d = TD_TMK_FPS / r.fps;
        r.tmk_duration = lrint(d) > 0 ? (double)lrint(d) : (d < 1.0 ? d : 1.0);
        s = td__tmk_builder_new(&r.tmk, err);
    }

    td_video_sink sink = {.n_outputs = 2, .want = want, .frame = on_frame, .ctx = &r};
    sink.outputs[OUT_VPDQ] = (td_video_output){0, 0, TD_VIDEO_SCALE_AREA};
    sink.outputs[OUT_TMK] = (td_video_output){64, 64, TD_VIDEO_SCALE_BICUBIC};
    if (s == TD_OK)
        s = td_video_decode(video, &sink, &out->frames, err);
    td_video_free(video);
    if (s == TD_OK && r.tmk) {
        out->tmk = td__tmk_builder_finish(r.tmk);
        r.tmk = NULL;
    }
    td__tmk_builder_free(r.tmk);
    if (s != TD_OK) {
        td__error_prefix(err, "%s: ", name);
        td_video_hashes_clear(out);
    }
    return s;
}

td_status td_video_hash_file(const char *path, const td_video_hash_options *opts,
                             td_video_hashes *out, td_error *err)
{
    td_video_limits limits;
    td_video_limits_default(&limits);
    uint8_t *data;
    size_t len;
    memset(out, 0, sizeof *out);
    td_status s = td_file_read(path, opts ? opts->limits.max_file_bytes : limits.max_file_bytes,
                               &data, &len, err);
    if (s != TD_OK) {
        td__error_prefix(err, "%s: ", path);
        return s;
    }
    s = td_video_hash_bytes(path, data, len, opts, out, err);
    td_free(data);
    return s;
}
