/* Image decoding: JPEG, PNG, WebP, GIF (first frame) and BMP to 8-bit grey or RGB.
 *
 * The conversion follows what python-threatexchange gets from PIL's Image.convert("RGB"):
 * alpha is dropped without compositing, palettes are expanded, CMYK is converted, 16-bit samples
 * keep their high byte (16-bit grey is clipped to 255), EXIF orientation is not applied.
 * The format is recognised from the content, never from the file name. */
#ifndef TAKEDOWN_MEDIA_H
#define TAKEDOWN_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_DEFAULT_MAX_FILE_BYTES ((uint64_t)64 << 20) /* 64 MiB */
#define TD_DEFAULT_MAX_PIXELS ((uint64_t)100000000)    /* 100 megapixels */

typedef enum td_image_format {
    TD_FORMAT_UNKNOWN = 0,
    TD_FORMAT_JPEG,
    TD_FORMAT_PNG,
    TD_FORMAT_WEBP,
    TD_FORMAT_GIF,
    TD_FORMAT_BMP
} td_image_format;

/* A decoded image: rows of width * channels bytes, tightly packed, top row first. */
typedef struct td_image {
    uint32_t width;
    uint32_t height;
    uint32_t channels; /* 1 (grey) or 3 (RGB) */
    uint8_t *pixels;
    /* Size of the picture before any reduced-scale decoding (see min_side); equal to
     * width x height for a full-size decode. */
    uint32_t full_width;
    uint32_t full_height;
} td_image;

typedef struct td_decode_options {
    uint64_t max_file_bytes; /* inputs larger than this are refused */
    uint64_t max_pixels;     /* width * height above this is refused before any large allocation */
    /* If non-zero, a JPEG whose sides stay at least min_side when divided by 8 is decoded at
     * 1/8 scale: each pixel is the mean of an 8x8 block, computed from the DC coefficients
     * alone (so a progressive file is read only up to its DC scans). full_width and full_height
     * of the result give the original size. 0 always decodes at full resolution. */
    uint32_t min_side;
    /* If non-zero, a YCbCr JPEG may be returned as its luma (Y) channel only, grey. Approximate:
     * for fast hashing, never for the exact hash. */
    int luma_only;
} td_decode_options;

/* Fills opts with the defaults: 64 MiB, 100 megapixels, full resolution. */
void td_decode_options_default(td_decode_options *opts);

/* Recognises the format from the first bytes of data. */
td_image_format td_image_sniff(const uint8_t *data, size_t len);

/* "jpeg", "png", "webp", "gif", "bmp" or "unknown". */
const char *td_image_format_name(td_image_format format);

/* Decodes an image held in memory. On failure *out is left empty and err says what was wrong
 * (the message does not name a file: callers that know one prefix it). */
__attribute__((warn_unused_result)) td_status td_image_decode(const uint8_t *data, size_t len,
                                                              const td_decode_options *opts,
                                                              td_image *out, td_error *err);

/* Reads a whole file, refusing files larger than max_bytes. *data is freed with td_free. */
__attribute__((warn_unused_result)) td_status
td_file_read(const char *path, uint64_t max_bytes, uint8_t **data, size_t *len, td_error *err);

/* Releases the pixels; accepts NULL and an empty image. */
void td_image_clear(td_image *img);

#ifdef __cplusplus
}
#endif

#endif
