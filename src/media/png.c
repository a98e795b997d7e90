/* PNG decoding with libpng, converted the way Pillow's convert("RGB") does: grey of 1/2/4 bits
 * scaled to 8 bits, palettes expanded (tRNS ignored), 16-bit samples keep their high byte except
 * 16-bit grey without alpha, which Pillow clips to 255 ("I;16" to RGB), alpha dropped without
 * compositing, gAMA and ICC ignored. Grey and grey+alpha give 1 channel, the rest 3.
 *
 * libpng reports errors by longjmp to png_jmpbuf; its allocations go through our wrappers and
 * ancillary chunks are capped, so that a hostile file cannot make it grow without bound. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

#include "core/alloc.h"
#include "core/error.h"
#include "media/decode.h"

#define CHUNK_MALLOC_MAX ((png_alloc_size_t)8 << 20)
#define CHUNK_CACHE_MAX 1000

struct png_ctx {
    const uint8_t *data;
    size_t len;
    size_t pos;
    char message[256];
    uint8_t *scratch; /* decoded rows before channel reduction */
};

static void on_read(png_structp png, png_bytep buf, size_t n)
{
    struct png_ctx *ctx = png_get_io_ptr(png);
    if (n > ctx->len - ctx->pos)
        png_error(png, "unexpected end of PNG data");
    memcpy(buf, ctx->data + ctx->pos, n);
    ctx->pos += n;
}

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->message, sizeof ctx->message, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* warnings (bad ancillary CRC, unknown chunks) do not stop Pillow either */
    (void)msg;
}

static png_voidp on_malloc(png_structp png, png_alloc_size_t size)
{
    (void)png;
    return td__malloc(size);
}

static void on_free(png_structp png, png_voidp p)
{
    (void)png;
    td__free(p);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One decoded row (in_ch samples of depth bits) to the output row (out_ch 8-bit samples). */
static void reduce_row(const uint8_t *in, uint8_t *out, size_t width, int in_ch, int depth,
                       uint32_t out_ch)
{
    if (depth == 16) { /* only grey without alpha gets here */
        for (size_t x = 0; x < width; x++) {
            unsigned v = (unsigned)in[2 * x] << 8 | in[2 * x + 1];
            out[x] = (uint8_t)(v > 255 ? 255 : v);
        }
        return;
    }
    for (size_t x = 0; x < width; x++)
        for (uint32_t c = 0; c < out_ch; c++)
            out[x * out_ch + c] = in[x * (size_t)in_ch + c];
}

static td_status run_decoder(png_structp png, png_infop info, struct png_ctx *ctx,
                             const td_decode_options *opts, td_image *out, td_error *err)
{
    if (setjmp(png_jmpbuf(png))) {
        if (strcasestr(ctx->message, "out of memory"))
            return td__error_set(err, TD_ERR_NOMEM, "PNG decoder: %s", ctx->message);
        return td__error_set(err, TD_ERR_CORRUPT, "corrupt PNG: %s", ctx->message);
    }

    png_set_read_fn(png, ctx, on_read);
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu); /* our own check below gives the message */
    png_set_chunk_malloc_max(png, CHUNK_MALLOC_MAX);
    png_set_chunk_cache_max(png, CHUNK_CACHE_MAX);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    td_status st = td__image_check_size(width, height, opts, "PNG image", err);
    if (st != TD_OK)
        return st;

    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    uint32_t out_ch = (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    int grey16 = color_type == PNG_COLOR_TYPE_GRAY && bit_depth == 16;

    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16 && !grey16)
        png_set_strip_16(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int in_ch = png_get_channels(png, info);
    int depth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    size_t min_row;
    if (depth != (grey16 ? 16 : 8) || in_ch < (int)out_ch || in_ch > 4 ||
        __builtin_mul_overflow((size_t)width, (size_t)in_ch * (size_t)(depth / 8), &min_row) ||
        rowbytes < min_row)
        return td__error_set(err, TD_ERR_INTERNAL,
                             "PNG transform gave %d channels of %d bits, %zu bytes per row", in_ch,
                             depth, rowbytes);

    st = td__image_alloc(out, width, height, out_ch, err);
    if (st != TD_OK)
        return st;
    size_t stride = (size_t)width * out_ch;
    if (passes > 1) {
        /* Interlaced rows arrive pass by pass: the whole decoded image must be held. */
        ctx->scratch = td__mallocarray(rowbytes, height);
        if (!ctx->scratch)
            return td__error_set(err, TD_ERR_NOMEM,
                                 "cannot allocate %zu x %" PRIu32 " bytes for an interlaced PNG",
                                 rowbytes, (uint32_t)height);
        for (int pass = 0; pass < passes; pass++)
            for (png_uint_32 y = 0; y < height; y++)
                png_read_row(png, ctx->scratch + (size_t)y * rowbytes, NULL);
        for (png_uint_32 y = 0; y < height; y++)
            reduce_row(ctx->scratch + (size_t)y * rowbytes, out->pixels + (size_t)y * stride, width,
                       in_ch, depth, out_ch);
    } else {
        ctx->scratch = td__malloc(rowbytes);
        if (!ctx->scratch)
            return td__error_set(err, TD_ERR_NOMEM, "cannot allocate a PNG row");
        for (png_uint_32 y = 0; y < height; y++) {
            png_read_row(png, ctx->scratch, NULL);
            reduce_row(ctx->scratch, out->pixels + (size_t)y * stride, width, in_ch, depth, out_ch);
        }
    }
    /* The trailing chunks (IEND, text) are not read: the pixels are all we need. */
    return TD_OK;
}

td_status td__decode_png(const uint8_t *data, size_t len, const td_decode_options *opts,
                         td_image *out, td_error *err)
{
    struct png_ctx ctx = {.data = data, .len = len};
    /* IHDR must come first: refuse oversized images before libpng allocates anything for them. */
    if (len >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        td_status st =
            td__image_check_size(be32(data + 16), be32(data + 20), opts, "PNG image", err);
        if (st != TD_OK)
            return st;
    }
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning,
                                               NULL, on_malloc, on_free);
    if (!png)
        return td__error_set(err, TD_ERR_NOMEM, "cannot create a PNG decoder");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return td__error_set(err, TD_ERR_NOMEM, "cannot create a PNG decoder");
    }
    td_status st = run_decoder(png, info, &ctx, opts, out, err);
    png_destroy_read_struct(&png, &info, NULL);
    td__free(ctx.scratch);
    if (st != TD_OK)
        td_image_clear(out);
    return st;
}
