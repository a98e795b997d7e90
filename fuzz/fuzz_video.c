/* libFuzzer harness for the video path: container probing and decoding from memory through
 * td_video (FFmpeg behind the library's own I/O), then vPDQ and TMK+PDQF hashing of what decodes,
 * and the vPDQ hash-file parser on the same bytes. The limits are tight (256 KB, 64 frames, 10 s,
 * 256x256, 64 KB probe) so that every input runs in milliseconds; FFmpeg itself is not
 * instrumented, the library code around it is. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "takedown/hash.h"
#include "takedown/video.h"
#include "takedown/video_hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void tight_limits(td_video_limits *l)
{
    td_video_limits_default(l);
    l->max_file_bytes = 256 << 10;
    l->max_duration = 10.0;
    l->max_width = 256;
    l->max_height = 256;
    l->max_pixels = 256 * 256;
    l->max_frames = 64;
    l->max_streams = 4;
    l->probe_bytes = 64 << 10;
    l->threads = 1;
}

struct sink_state {
    uint64_t frames;
    unsigned sum;
};

static unsigned want_all(void *ctx, uint64_t number, double time)
{
    (void)ctx, (void)time;
    return number % 3 == 0 ? 3u : (unsigned)(number & 1);
}

/* Touches every converted byte so that a short picture buffer shows up under ASan. */
static td_status on_frame(void *ctx, const td_video_frame *f, td_error *err)
{
    struct sink_state *st = ctx;
    (void)err;
    st->frames++;
    for (int i = 0; i < TD_VIDEO_MAX_OUTPUTS; i++) {
        const td_image *img = f->images[i];
        if (!img)
            continue;
        size_t n = (size_t)img->width * img->height * img->channels;
        for (size_t k = 0; k < n; k++)
            st->sum += img->pixels[k];
    }
    return TD_OK;
}

/* Decoding with two odd outputs (native size and 17x9 bicubic). */
static void decode_raw(const uint8_t *data, size_t size, const td_video_limits *l)
{
    td_video *v;
    td_error err;
    if (td_video_open_memory(data, size, l, &v, &err) != TD_OK)
        return;
    td_video_info info;
    td_video_get_info(v, &info);
    struct sink_state st = {0};
    td_video_sink sink = {.n_outputs = 2, .want = want_all, .frame = on_frame, .ctx = &st};
    sink.outputs[0] = (td_video_output){0, 0, TD_VIDEO_SCALE_AREA};
    sink.outputs[1] = (td_video_output){17, 9, TD_VIDEO_SCALE_BICUBIC};
    uint64_t frames;
    (void)td_video_decode(v, &sink, &frames, &err);
    td_video_free(v);
    volatile unsigned keep = st.sum;
    (void)keep;
}

/* vPDQ (every frame or 1 frame/s) and TMK in one pass; the hash file must round-trip. */
static void hash_video(const uint8_t *data, size_t size, const td_video_limits *l, int mode)
{
    td_video_hash_options o;
    td_video_hash_options_default(&o);
    o.limits = *l;
    o.seconds_per_hash = mode & 1 ? 0.0 : 1.0;
    o.tmk = (mode & 2) != 0;
    td_video_hashes h;
    td_error err;
    if (td_video_hash_bytes("fuzz", data, size, &o, &h, &err) != TD_OK)
        return;
    char *text;
    size_t len;
    if (td_vpdq_to_text(&h.vpdq, &text, &len, &err) == TD_OK) {
        td_vpdq back;
        if (td_vpdq_parse(text, len, 0, &back, &err) == TD_OK) {
            if (back.count != h.vpdq.count)
                __builtin_trap();
            td_vpdq_clear(&back);
        }
        td_free(text);
    }
    if (h.tmk) {
        (void)td_tmk_level1(h.tmk, h.tmk);
        (void)td_tmk_level2(h.tmk, h.tmk);
    }
    td_video_hashes_clear(&h);
}

/* The hash-file parser and the brute-force rule on whatever parses. */
static void parse_hashes(const uint8_t *data, size_t size)
{
    td_vpdq v;
    td_error err;
    if (td_vpdq_parse((const char *)data, size, 200, &v, &err) != TD_OK)
        return;
    td_vpdq_match_result r;
    (void)td_vpdq_match(&v, &v, NULL, &r, &err);
    td_vpdq_clear(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_video_limits l;
    tight_limits(&l);
    (void)td_video_sniff(data, size);
    parse_hashes(data, size);
    if (size == 0)
        return 0;
    /* Pick one decoding path from a byte that containers rarely constrain (the last one). */
    unsigned mode = data[size - 1] % 5;
    if (mode == 4)
        decode_raw(data, size, &l);
    else
        hash_video(data, size, &l, (int)mode);
    return 0;
}
