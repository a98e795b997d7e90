/* WebP decoding with libwebp. Still images are decoded straight to RGB (alpha dropped, not
 * composited, like Pillow's convert("RGB")); animations give their first frame on the full canvas
 * through libwebpdemux's WebPAnimDecoder, the same reconstruction Pillow uses. The canvas size
 * is checked against the limits (WebPGetFeatures) before any pixel memory exists. */
#include <limits.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "core/alloc.h"
#include "core/error.h"
#include "media/decode.h"

static const char *status_text(VP8StatusCode status)
{
    switch (status) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated data";
    }
    return "unknown error";
}

static td_status status_error(VP8StatusCode status, const char *when, td_error *err)
{
    if (status == VP8_STATUS_OUT_OF_MEMORY)
        return td__error_set(err, TD_ERR_NOMEM, "WebP decoder out of memory (%s)", when);
    if (status == VP8_STATUS_UNSUPPORTED_FEATURE)
        return td__error_set(err, TD_ERR_UNSUPPORTED, "unsupported WebP feature (%s)", when);
    return td__error_set(err, TD_ERR_CORRUPT, "corrupt WebP: %s (%s)", status_text(status), when);
}

static td_status decode_animation(const uint8_t *data, size_t len, td_image *out, td_error *err)
{
    WebPAnimDecoderOptions dopts;
    WebPAnimInfo info;
    uint8_t *frame = NULL;
    int timestamp = 0;
    if (!WebPAnimDecoderOptionsInit(&dopts))
        return td__error_set(err, TD_ERR_INTERNAL, "libwebpdemux version mismatch");
    dopts.color_mode = MODE_RGBA;
    dopts.use_threads = 0;
    WebPData wd = {.bytes = data, .size = len};
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &dopts);
    if (!dec)
        return td__error_set(err, TD_ERR_CORRUPT, "corrupt WebP: cannot parse the animation");
    td_status st = TD_OK;
    if (!WebPAnimDecoderGetInfo(dec, &info) || info.frame_count == 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "corrupt WebP: animation without frames");
    } else if (!WebPAnimDecoderGetNext(dec, &frame, &timestamp) || !frame) {
        st = td__error_set(err, TD_ERR_CORRUPT, "corrupt WebP: cannot decode the first frame");
    } else if (info.canvas_width != out->width || info.canvas_height != out->height) {
        st = td__error_set(err, TD_ERR_CORRUPT, "corrupt WebP: canvas is %ux%u, header said %ux%u",
                           info.canvas_width, info.canvas_height, out->width, out->height);
    } else {
        size_t n = (size_t)out->width * out->height;
        for (size_t i = 0; i < n; i++)
            memcpy(out->pixels + 3 * i, frame + 4 * i, 3);
    }
    WebPAnimDecoderDelete(dec);
    return st;
}

td_status td__decode_webp(const uint8_t *data, size_t len, const td_decode_options *opts,
                          td_image *out, td_error *err)
{
    WebPBitstreamFeatures features;
    VP8StatusCode vs = WebPGetFeatures(data, len, &features);
    if (vs != VP8_STATUS_OK)
        return status_error(vs, "reading the header", err);
    if (features.width <= 0 || features.height <= 0)
        return td__error_set(err, TD_ERR_CORRUPT, "corrupt WebP: image is %dx%d", features.width,
                             features.height);
    td_status st = td__image_check_size((uint64_t)features.width, (uint64_t)features.height, opts,
                                        "WebP image", err);
    if (st != TD_OK)
        return st;
    st = td__image_alloc(out, (uint32_t)features.width, (uint32_t)features.height, 3, err);
    if (st != TD_OK)
        return st;
    if (features.has_animation) {
        st = decode_animation(data, len, out, err);
    } else {
        size_t stride = (size_t)out->width * 3;
        size_t size = stride * out->height;
        if (stride > INT_MAX) /* WebP sides stop at 16383: only a broken header gets here */
            st = td__error_set(err, TD_ERR_CORRUPT, "corrupt WebP: width %u", out->width);
        else if (!WebPDecodeRGBInto(data, len, out->pixels, size, (int)stride)) {
            /* WebPDecode gives the precise reason where the shortcut only says "failed". */
            WebPDecoderConfig config;
            if (WebPInitDecoderConfig(&config)) {
                config.output.colorspace = MODE_RGB;
                config.output.is_external_memory = 1;
                config.output.u.RGBA.rgba = out->pixels;
                config.output.u.RGBA.stride = (int)stride;
                config.output.u.RGBA.size = size;
                vs = WebPDecode(data, len, &config);
                WebPFreeDecBuffer(&config.output);
            }
            st = status_error(vs == VP8_STATUS_OK ? VP8_STATUS_BITSTREAM_ERROR : vs,
                              "decoding the image", err);
        }
    }
    if (st != TD_OK)
        td_image_clear(out);
    return st;
}
