/* Video decoding through FFmpeg's libraries, with the library's own I/O and explicit limits.
 *
 * FFmpeg reads only through the AVIOContext made here (memory buffer or pread on a descriptor);
 * io_open is replaced by a function that refuses, so no demuxer (HLS, concat, ...) can open other
 * files or URLs. Frame numbering follows the vPDQ reference: the n-th frame the decoder outputs is
 * frame n - 1. Conversion to RGB24 happens only for the outputs a caller asks for. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/alloc.h"
#include "core/error.h"
#include "takedown/video.h"

#define IO_BUFFER_SIZE 65536

struct td_video {
    /* input */
    const uint8_t *data; /* memory input, or NULL */
    int fd;              /* file input, or -1 */
    uint64_t size;
    uint64_t pos;
    td_video_limits limits;
    /* FFmpeg state */
    AVIOContext *io;
    AVFormatContext *fmt;
    AVCodecContext *codec;
    int stream;
    double fps;
    td_video_info info;
    int decoded;
    /* per-output conversion */
    struct SwsContext *sws[TD_VIDEO_MAX_OUTPUTS];
    td_image images[TD_VIDEO_MAX_OUTPUTS];
    size_t image_bytes[TD_VIDEO_MAX_OUTPUTS];
};

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void silence_ffmpeg(void) { av_log_set_level(AV_LOG_QUIET); }

void td_video_limits_default(td_video_limits *limits)
{
    limits->max_file_bytes = (uint64_t)1 << 30;
    limits->max_duration = 4 * 3600.0;
    limits->max_width = 8192;
    limits->max_height = 8192;
    limits->max_pixels = (uint64_t)8192 * 4320;
    limits->max_frames = 1000000;
    limits->max_streams = 64;
    limits->probe_bytes = 5000000;
    limits->threads = 1;
}

static const char *av_message(int code, char *buf, size_t cap)
{
    if (av_strerror(code, buf, cap) < 0)
        snprintf(buf, cap, "error %d", code);
    return buf;
}

static td_status av_fail(td_error *err, int code, const char *what)
{
    char msg[AV_ERROR_MAX_STRING_SIZE + 64];
    if (code == AVERROR(ENOMEM))
        return td__error_set(err, TD_ERR_NOMEM, "%s: out of memory", what);
    return td__error_set(err, TD_ERR_CORRUPT, "%s: %s", what, av_message(code, msg, sizeof msg));
}

/* ---- I/O callbacks ---- */

static int read_packet(void *opaque, uint8_t *buf, int buf_size)
{
    td_video *v = opaque;
    if (v->pos >= v->size || buf_size <= 0)
        return AVERROR_EOF;
    uint64_t left = v->size - v->pos;
    size_t n = left < (uint64_t)buf_size ? (size_t)left : (size_t)buf_size;
    if (v->data) {
        memcpy(buf, v->data + v->pos, n);
    } else {
        ssize_t got;
        do {
            got = pread(v->fd, buf, n, (off_t)v->pos);
        } while (got < 0 && errno == EINTR);
        if (got < 0)
            return AVERROR(EIO);
        if (got == 0)
            return AVERROR_EOF;
        n = (size_t)got;
    }
    v->pos += n;
    return (int)n;
}

static int64_t seek_packet(void *opaque, int64_t offset, int whence)
{
    td_video *v = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)v->size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)v->pos; break;
    case SEEK_END: base = (int64_t)v->size; break;
    default: return AVERROR(EINVAL);
    }
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
        return AVERROR(EINVAL);
    v->pos = (uint64_t)(base + offset);
    return base + offset;
}

/* Demuxers that reference other resources (playlists, concat lists) must not reach them. */
static int refuse_open(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                       AVDictionary **options)
{
    (void)s, (void)pb, (void)url, (void)flags, (void)options;
    return AVERROR(EPERM);
}

/* ---- opening ---- */

static td_status check_size(td_video *v, uint32_t w, uint32_t h, const char *what, td_error *err)
{
    const td_video_limits *l = &v->limits;
    if (w == 0 || h == 0)
        return td__error_set(err, TD_ERR_CORRUPT, "%s has no picture size", what);
    if (w > l->max_width || h > l->max_height)
        return td__error_set(err, TD_ERR_LIMIT, "%s is %ux%u, over the resolution limit %ux%u",
                             what, w, h, l->max_width, l->max_height);
    if ((uint64_t)w * h > l->max_pixels)
        return td__error_set(err, TD_ERR_LIMIT, "%s is %ux%u, over the limit of %llu pixels", what,
                             w, h, (unsigned long long)l->max_pixels);
    return TD_OK;
}

static td_status open_streams(td_video *v, td_error *err)
{
    const td_video_limits *l = &v->limits;
    uint8_t *buffer = av_malloc(IO_BUFFER_SIZE);
    if (!buffer)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    v->io = avio_alloc_context(buffer, IO_BUFFER_SIZE, 0, v, read_packet, NULL, seek_packet);
    if (!v->io) {
        av_free(buffer);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    v->fmt = avformat_alloc_context();
    if (!v->fmt)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    v->fmt->pb = v->io;
    v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    v->fmt->io_open = refuse_open;
    v->fmt->probesize = l->probe_bytes > 32 ? l->probe_bytes : 32;
    v->fmt->max_streams = (int)(l->max_streams ? l->max_streams : 1);

    int rc = avformat_open_input(&v->fmt, NULL, NULL, NULL);
    if (rc < 0) {
        v->fmt = NULL; /* freed by avformat_open_input on failure */
        return av_fail(err, rc, "not a readable video container");
    }
    rc = avformat_find_stream_info(v->fmt, NULL);
    if (rc < 0)
        return av_fail(err, rc, "cannot read the stream information");
    if (v->fmt->nb_streams > l->max_streams)
        return td__error_set(err, TD_ERR_LIMIT, "%u streams, over the limit of %u",
                             v->fmt->nb_streams, l->max_streams);

    v->stream = -1;
    for (unsigned i = 0; i < v->fmt->nb_streams; i++) {
        const AVStream *st = v->fmt->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
            v->stream = (int)i;
            break;
        }
    }
    if (v->stream < 0)
        return td__error_set(err, TD_ERR_UNSUPPORTED, "no video stream");
    AVStream *st = v->fmt->streams[v->stream];
    const AVCodecParameters *par = st->codecpar;
    td_status s = check_size(v, (uint32_t)(par->width > 0 ? par->width : 0),
                             (uint32_t)(par->height > 0 ? par->height : 0), "the video", err);
    if (s != TD_OK)
        return s;

    AVRational rate = st->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0)
        rate = st->r_frame_rate;
    if (rate.num <= 0 || rate.den <= 0)
        return td__error_set(err, TD_ERR_CORRUPT, "the video has no frame rate");
    v->fps = (double)rate.num / (double)rate.den;

    double duration = 0;
    if (v->fmt->duration > 0)
        duration = (double)v->fmt->duration / AV_TIME_BASE;
    else if (st->duration > 0)
        duration = (double)st->duration * av_q2d(st->time_base);
    if (duration > l->max_duration)
        return td__error_set(err, TD_ERR_LIMIT, "the video lasts %.0f s, over the limit of %.0f s",
                             duration, l->max_duration);
    if (st->nb_frames > 0 && (uint64_t)st->nb_frames > l->max_frames)
        return td__error_set(err, TD_ERR_LIMIT, "the video has %lld frames, over the limit of %llu",
                             (long long)st->nb_frames, (unsigned long long)l->max_frames);

    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec)
        return td__error_set(err, TD_ERR_UNSUPPORTED, "no decoder for codec '%s'",
                             avcodec_get_name(par->codec_id));
    v->codec = avcodec_alloc_context3(codec);
    if (!v->codec)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    rc = avcodec_parameters_to_context(v->codec, par);
    if (rc < 0)
        return av_fail(err, rc, "bad codec parameters");
    v->codec->thread_count = l->threads;
    if (l->threads != 1)
        v->codec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    v->codec->max_pixels = (int64_t)l->max_pixels;
    v->codec->pkt_timebase = st->time_base;
    rc = avcodec_open2(v->codec, codec, NULL);
    if (rc < 0)
        return av_fail(err, rc, "cannot open the decoder");

    v->info.width = (uint32_t)par->width;
    v->info.height = (uint32_t)par->height;
    v->info.fps = v->fps;
    v->info.duration = duration;
    snprintf(v->info.codec, sizeof v->info.codec, "%s", codec->name);
    snprintf(v->info.container, sizeof v->info.container, "%s",
             v->fmt->iformat ? v->fmt->iformat->name : "unknown");
    return TD_OK;
}

static td_status open_common(td_video *v, const td_video_limits *limits, td_video **out,
                             td_error *err)
{
    pthread_once(&log_once, silence_ffmpeg);
    if (limits)
        v->limits = *limits;
    else
        td_video_limits_default(&v->limits);
    if (v->size > v->limits.max_file_bytes) {
        td_status s = td__error_set(err, TD_ERR_LIMIT, "%llu bytes, over the limit of %llu",
                                    (unsigned long long)v->size,
                                    (unsigned long long)v->limits.max_file_bytes);
        td_video_free(v);
        return s;
    }
    if (v->size == 0) {
        td_video_free(v);
        return td__error_set(err, TD_ERR_CORRUPT, "empty input");
    }
    td_status s = open_streams(v, err);
    if (s != TD_OK) {
        td_video_free(v);
        return s;
    }
    *out = v;
    return TD_OK;
}

td_status td_video_open_memory(const uint8_t *data, size_t len, const td_video_limits *limits,
                               td_video **out, td_error *err)
{
    *out = NULL;
    td_video *v = td__calloc(1, sizeof *v);
    if (!v)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    v->data = data;
    v->fd = -1;
    v->size = len;
    v->stream = -1;
    return open_common(v, limits, out, err);
}

td_status td_video_open_file(const char *path, const td_video_limits *limits, td_video **out,
                             td_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return td__error_set(err, errno == ENOENT ? TD_ERR_NOT_FOUND : TD_ERR_IO,
                             "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return td__error_set(err, TD_ERR_IO, "%s: not a regular file", path);
    }
    td_video *v = td__calloc(1, sizeof *v);
    if (!v) {
        close(fd);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    v->fd = fd;
    v->size = (uint64_t)sb.st_size;
    v->stream = -1;
    td_status s = open_common(v, limits, out, err);
    if (s != TD_OK)
        td__error_prefix(err, "%s: ", path);
    return s;
}

void td_video_free(td_video *v)
{
    if (!v)
        return;
    for (int i = 0; i < TD_VIDEO_MAX_OUTPUTS; i++) {
        sws_freeContext(v->sws[i]);
        td__free(v->images[i].pixels);
    }
    avcodec_free_context(&v->codec);
    if (v->fmt)
        avformat_close_input(&v->fmt);
    if (v->io) {
        av_freep(&v->io->buffer);
        avio_context_free(&v->io);
    }
    if (v->fd >= 0)
        close(v->fd);
    td__free(v);
}

void td_video_get_info(const td_video *v, td_video_info *info) { *info = v->info; }

int td_video_sniff(const uint8_t *d, size_t n)
{
    if (n >= 12 && memcmp(d + 4, "ftyp", 4) == 0)
        return 1; /* MP4, MOV, 3GP */
    if (n >= 4 && memcmp(d, "\x1a\x45\xdf\xa3", 4) == 0)
        return 1; /* Matroska, WebM */
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "AVI ", 4) == 0)
        return 1;
    if (n >= 3 && memcmp(d, "FLV", 3) == 0)
        return 1;
    if (n >= 4 && memcmp(d, "\x00\x00\x01\xba", 4) == 0)
        return 1; /* MPEG program stream */
    if (n >= 189 && d[0] == 0x47 && d[188] == 0x47)
        return 1; /* MPEG transport stream */
    if (n >= 16 && memcmp(d, "\x30\x26\xb2\x75\x8e\x66\xcf\x11", 8) == 0)
        return 1; /* ASF, WMV */
    if (n >= 4 && memcmp(d, "OggS", 4) == 0)
        return 1;
    if (n >= 12 && (memcmp(d + 4, "moov", 4) == 0 || memcmp(d + 4, "mdat", 4) == 0 ||
                    memcmp(d + 4, "wide", 4) == 0 || memcmp(d + 4, "free", 4) == 0))
        return 1; /* QuickTime without ftyp */
    return 0;
}

/* ---- decoding ---- */

static td_status convert(td_video *v, const td_video_output *o, int i, const AVFrame *f,
                         td_error *err)
{
    uint32_t w = o->width ? o->width : (uint32_t)f->width;
    uint32_t h = o->height ? o->height : (uint32_t)f->height;
    int flags = o->scaler == TD_VIDEO_SCALE_BICUBIC ? SWS_BICUBIC : SWS_AREA;
    v->sws[i] = sws_getCachedContext(v->sws[i], f->width, f->height, (enum AVPixelFormat)f->format,
                                     (int)w, (int)h, AV_PIX_FMT_RGB24, flags, NULL, NULL, NULL);
    if (!v->sws[i])
        return td__error_set(err, TD_ERR_UNSUPPORTED, "cannot convert pixel format '%s' to RGB",
                             av_get_pix_fmt_name((enum AVPixelFormat)f->format));
    /* Rows are packed (td_image); swscale may write a little past a row with SIMD: pad. */
    size_t need = (size_t)w * h * 3 + 64;
    td_image *img = &v->images[i];
    if (v->image_bytes[i] < need) {
        td__free(img->pixels);
        img->pixels = td__malloc(need);
        v->image_bytes[i] = img->pixels ? need : 0;
        if (!img->pixels)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory for a %ux%u frame", w, h);
    }
    img->width = img->full_width = w;
    img->height = img->full_height = h;
    img->channels = 3;
    uint8_t *dst[4] = {img->pixels, NULL, NULL, NULL};
    int stride[4] = {(int)(w * 3), 0, 0, 0};
    int rows = sws_scale(v->sws[i], (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst,
                         stride);
    if (rows <= 0)
        return td__error_set(err, TD_ERR_CORRUPT, "frame conversion failed");
    return TD_OK;
}

struct decode_state {
    td_video *v;
    const td_video_sink *sink;
    uint64_t count;
    int64_t first_pts;
    int have_first;
};

static td_status deliver(struct decode_state *ds, const AVFrame *f, td_error *err)
{
    td_video *v = ds->v;
    const td_video_sink *sink = ds->sink;
    if (ds->count >= v->limits.max_frames)
        return td__error_set(err, TD_ERR_LIMIT, "more than %llu frames",
                             (unsigned long long)v->limits.max_frames);
    td_status s = check_size(v, (uint32_t)f->width, (uint32_t)f->height, "a frame", err);
    if (s != TD_OK)
        return s;

    td_video_frame frame = {0};
    frame.number = ds->count;
    int64_t pts = f->best_effort_timestamp;
    if (pts != AV_NOPTS_VALUE) {
        if (!ds->have_first) {
            ds->first_pts = pts;
            ds->have_first = 1;
        }
        /* in double: hostile timestamps far apart would overflow an int64 subtraction */
        frame.time =
            ((double)pts - (double)ds->first_pts) * av_q2d(v->fmt->streams[v->stream]->time_base);
    } else {
        frame.time = (double)frame.number / v->fps;
    }
    if (frame.time > v->limits.max_duration)
        return td__error_set(err, TD_ERR_LIMIT, "frame %llu is at %.0f s, over the limit of %.0f s",
                             (unsigned long long)frame.number, frame.time, v->limits.max_duration);

    unsigned want = sink && sink->want ? sink->want(sink->ctx, frame.number, frame.time) : 0;
    for (size_t i = 0; sink && i < sink->n_outputs && i < TD_VIDEO_MAX_OUTPUTS; i++) {
        if (!(want & (1u << i)))
            continue;
        s = convert(v, &sink->outputs[i], (int)i, f, err);
        if (s != TD_OK)
            return s;
        frame.images[i] = &v->images[i];
    }
    ds->count++;
    if (sink && sink->frame)
        return sink->frame(sink->ctx, &frame, err);
    return TD_OK;
}

static td_status drain(struct decode_state *ds, AVFrame *f, td_error *err)
{
    for (;;) {
        int rc = avcodec_receive_frame(ds->v->codec, f);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return TD_OK;
        if (rc < 0)
            return av_fail(err, rc, "cannot decode the video");
        td_status s = deliver(ds, f, err);
        av_frame_unref(f);
        if (s != TD_OK)
            return s;
    }
}

td_status td_video_decode(td_video *v, const td_video_sink *sink, uint64_t *frames, td_error *err)
{
    struct decode_state ds = {.v = v, .sink = sink};
    td_status s = TD_OK;
    if (frames)
        *frames = 0;
    if (v->decoded)
        return td__error_set(err, TD_ERR_INVALID, "td_video_decode called twice");
    v->decoded = 1;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    if (!pkt || !f) {
        s = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto done;
    }
    int rc;
    while ((rc = av_read_frame(v->fmt, pkt)) >= 0) {
        if (pkt->stream_index == v->stream) {
            int sent = avcodec_send_packet(v->codec, pkt);
            if (sent < 0 && sent != AVERROR(EAGAIN)) {
                av_packet_unref(pkt);
                s = av_fail(err, sent, "cannot decode the video");
                goto done;
            }
            s = drain(&ds, f, err);
        }
        av_packet_unref(pkt);
        if (s != TD_OK)
            goto done;
    }
    if (rc != AVERROR_EOF) {
        s = av_fail(err, rc, "cannot read the container");
        goto done;
    }
    rc = avcodec_send_packet(v->codec, NULL);
    if (rc < 0 && rc != AVERROR_EOF) {
        s = av_fail(err, rc, "cannot flush the decoder");
        goto done;
    }
    s = drain(&ds, f, err);
    if (s == TD_OK && ds.count == 0)
        s = td__error_set(err, TD_ERR_CORRUPT, "no frame could be decoded");
done:
    if (s != TD_OK && err)
        td__error_prefix(err, "frame %llu: ", (unsigned long long)ds.count);
    av_frame_free(&f);
    av_packet_free(&pkt);
    if (frames)
        *frames = ds.count;
    return s;
}
