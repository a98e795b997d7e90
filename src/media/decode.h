/* Internal interface between the dispatcher (media.c) and the per-format decoders.
 *
 * Every decoder receives the whole input in memory, validated options and an empty output image.
 * It checks the dimensions with td__image_check_size() as soon as its header is read and only
 * then allocates pixel memory with td__image_alloc(); on failure it leaves *out empty. */
#ifndef TD_MEDIA_DECODE_H
#define TD_MEDIA_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "takedown/media.h"

/* Zero or absurd sides give TD_ERR_CORRUPT, width * height above opts->max_pixels TD_ERR_LIMIT.
 * what names the thing measured ("image", "GIF canvas", ...). */
td_status td__image_check_size(uint64_t width, uint64_t height, const td_decode_options *opts,
                               const char *what, td_error *err);

/* Allocates width * height * channels bytes for img (overflow-checked) and fills its fields. */
td_status td__image_alloc(td_image *img, uint32_t width, uint32_t height, uint32_t channels,
                          td_error *err);

td_status td__decode_jpeg(const uint8_t *data, size_t len, const td_decode_options *opts,
                          td_image *out, td_error *err);
td_status td__decode_png(const uint8_t *data, size_t len, const td_decode_options *opts,
                         td_image *out, td_error *err);
td_status td__decode_webp(const uint8_t *data, size_t len, const td_decode_options *opts,
                          td_image *out, td_error *err);
td_status td__decode_gif(const uint8_t *data, size_t len, const td_decode_options *opts,
                         td_image *out, td_error *err);
td_status td__decode_bmp(const uint8_t *data, size_t len, const td_decode_options *opts,
                         td_image *out, td_error *err);

#endif
