/* JPEG decoding with libjpeg-turbo, set up the way Pillow does it so that hashes match
 * python-threatexchange: ISLOW DCT, fancy upsampling, grey stays grey, YCbCr/RGB to RGB, and
 * four-component (CMYK/YCCK) images read as Adobe-inverted CMYK then converted with Pillow's
 * cmyk2rgb arithmetic.
 *
 * libjpeg reports fatal errors through error_exit, which must not return: we longjmp back with
 * the formatted message. A truncated file is only a warning to libjpeg (it pads with grey); we
 * turn it into TD_ERR_CORRUPT so that a cut-off upload is reported instead of hashed. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "media/decode.h"

/* Progressive files can carry thousands of tiny scans, each costing a pass over the image. */
#define MAX_SCANS 1000

struct jpeg_ctx {
    struct jpeg_error_mgr pub; /* first member: libjpeg hands us a pointer to it */
    jmp_buf escape;
    td_status code;
    char message[JMSG_LENGTH_MAX];
    int scanlines_done;
    struct jpeg_progress_mgr progress;
    uint8_t *row; /* CMYK scratch row, freed by the caller of run_decoder */
};

static td_status code_for(int msg_code)
{
    switch (msg_code) {
    case JERR_OUT_OF_MEMORY: return TD_ERR_NOMEM;
    case JERR_BAD_PRECISION:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_SOF_UNSUPPORTED:
    case JERR_NOTIMPL: return TD_ERR_UNSUPPORTED;
    default: return TD_ERR_CORRUPT;
    }
}

static void on_error_exit(j_common_ptr cinfo)
{
    struct jpeg_ctx *ctx = (struct jpeg_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, ctx->message);
    ctx->code = code_for(cinfo->err->msg_code);
    longjmp(ctx->escape, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level)
{
    struct jpeg_ctx *ctx = (struct jpeg_ctx *)cinfo->err;
    if (level >= 0)
        return; /* trace messages */
    cinfo->err->num_warnings++;
    /* Other warnings (extraneous bytes, bad restart markers) are tolerated, as Pillow does. */
    if (cinfo->err->msg_code == JWRN_JPEG_EOF && !ctx->scanlines_done) {
        cinfo->err->format_message(cinfo, ctx->message);
        ctx->code = TD_ERR_CORRUPT;
        longjmp(ctx->escape, 1);
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; /* the library never prints */ }

static void on_progress(j_common_ptr cinfo)
{
    struct jpeg_ctx *ctx = (struct jpeg_ctx *)cinfo->err;
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > MAX_SCANS) {
        snprintf(ctx->message, sizeof ctx->message, "more than %d progressive scans", MAX_SCANS);
        ctx->code = TD_ERR_CORRUPT;
        longjmp(ctx->escape, 1);
    }
}

/* Pillow's MULDIV255: a * b / 255 rounded, without a division. */
static inline int muldiv255(int a, int b)
{
    int tmp = a * b + 128;
    return ((tmp >> 8) + tmp) >> 8;
}

static inline uint8_t clip8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* libjpeg hands out CMYK as stored; Pillow reads it as "CMYK;I" (Adobe's inverted storage,
 * assumed for every CMYK JPEG) and then applies cmyk2rgb: out = nk - c * nk / 255, nk = 255 - k. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, size_t width)
{
    for (size_t x = 0; x < width; x++, in += 4, out += 3) {
        int c = 255 - in[0], m = 255 - in[1], y = 255 - in[2], k = 255 - in[3];
        int nk = 255 - k;
        out[0] = clip8(nk - muldiv255(c, nk));
        out[1] = clip8(nk - muldiv255(m, nk));
        out[2] = clip8(nk - muldiv255(y, nk));
    }
}

/* 1/8 scale (each output pixel the mean of an 8x8 block, from the DC coefficient alone) when
 * both reduced sides stay at least min_side; otherwise full size. The intermediate scales of
 * libjpeg (1/2, 1/4) are not offered: their pixels are not block means, which fast hashing
 * relies on. */
static unsigned int pick_scale(uint32_t width, uint32_t height, uint32_t min_side)
{
    if (min_side == 0)
        return 1;
    return (width + 7) / 8 >= min_side && (height + 7) / 8 >= min_side ? 8 : 1;
}

/* Everything between setjmp and the end lives in ctx, cinfo or out: no local is modified
 * after setjmp, so nothing needs to be volatile. */
static td_status run_decoder(struct jpeg_decompress_struct *cinfo, struct jpeg_ctx *ctx,
                             const uint8_t *data, size_t len, const td_decode_options *opts,
                             td_image *out, td_error *err)
{
    if (setjmp(ctx->escape)) {
        if (ctx->code == TD_ERR_NOMEM)
            return td__error_set(err, TD_ERR_NOMEM, "JPEG decoder out of memory: %s", ctx->message);
        return td__error_set(err, ctx->code, "%s JPEG: %s",
                             ctx->code == TD_ERR_UNSUPPORTED ? "unsupported" : "corrupt",
                             ctx->message);
    }
    jpeg_create_decompress(cinfo);
    cinfo->progress = &ctx->progress;
    jpeg_mem_src(cinfo, data, (unsigned long)len);
    jpeg_read_header(cinfo, TRUE);

    td_status st =
        td__image_check_size(cinfo->image_width, cinfo->image_height, opts, "JPEG image", err);
    if (st != TD_OK)
        return st;

    int cmyk = 0;
    uint32_t channels;
    switch (cinfo->num_components) {
    case 1:
        cinfo->out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case 3:
        if (opts->luma_only && cinfo->jpeg_color_space == JCS_YCbCr) {
            /* Fast mode: the Y channel alone, with no chroma decoding or colour conversion. */
            cinfo->out_color_space = JCS_GRAYSCALE;
            channels = 1;
        } else {
            cinfo->out_color_space = JCS_RGB;
            channels = 3;
        }
        break;
    case 4:
        cinfo->out_color_space = JCS_CMYK; /* from YCCK too: libjpeg converts it to CMYK */
        channels = 3;
        cmyk = 1;
        break;
    default:
        return td__error_set(err, TD_ERR_UNSUPPORTED, "unsupported JPEG: %d colour components",
                             cinfo->num_components);
    }
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->do_fancy_upsampling = TRUE;
    cinfo->scale_num = 1;
    cinfo->scale_denom = pick_scale(cinfo->image_width, cinfo->image_height, opts->min_side);

    /* At 1/8 scale each output pixel depends on its block's DC coefficient only. A progressive
     * file sends those first: read scans only until the DC of every needed component is known,
     * and skip the (much larger) AC scans. Encoders commonly send the DC's last bit in a late
     * refinement scan; without it a block mean is off by at most a few grey levels, which the
     * approximate hash of fast mode (the only user of 1/8 scale) tolerates. */
    int dc_only = cinfo->scale_denom == 8 && cinfo->progressive_mode;
    if (dc_only) {
        cinfo->buffered_image = TRUE;
        cinfo->do_block_smoothing = FALSE;
    }

    jpeg_start_decompress(cinfo);
    if (dc_only) {
        int needed = cinfo->out_color_space == JCS_GRAYSCALE ? 1 : cinfo->num_components;
        for (;;) {
            int complete = 1;
            for (int c = 0; c < needed; c++)
                complete &= cinfo->coef_bits[c][0] >= 0 && cinfo->coef_bits[c][0] <= 1;
            if (complete)
                break;
            int r;
            do {
                r = jpeg_consume_input(cinfo);
            } while (r != JPEG_SCAN_COMPLETED && r != JPEG_REACHED_EOI && r != JPEG_SUSPENDED);
            if (r != JPEG_SCAN_COMPLETED)
                break; /* end of data: output what the file holds, as libjpeg would */
        }
        jpeg_start_output(cinfo, cinfo->input_scan_number);
    }
    if (cinfo->output_components != (cmyk ? 4 : (int)channels))
        return td__error_set(err, TD_ERR_INTERNAL, "JPEG decoder gave %d components, expected %u",
                             cinfo->output_components, cmyk ? 4u : channels);
    st = td__image_alloc(out, cinfo->output_width, cinfo->output_height, channels, err);
    if (st != TD_OK)
        return st;
    out->full_width = cinfo->image_width;
    out->full_height = cinfo->image_height;
    size_t stride = (size_t)out->width * channels;
    if (cmyk) {
        ctx->row = td__mallocarray(out->width, 4);
        if (!ctx->row)
            return td__error_set(err, TD_ERR_NOMEM, "cannot allocate a JPEG row");
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *dst = out->pixels + (size_t)cinfo->output_scanline * stride;
        JSAMPROW row = cmyk ? ctx->row : dst;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            return td__error_set(err, TD_ERR_CORRUPT, "corrupt JPEG: decoder stalled");
        if (cmyk)
            cmyk_row_to_rgb(ctx->row, dst, out->width);
    }
    /* All pixels are in: what follows (trailing markers, a missing EOI) does not matter, as for
     * Pillow, so we stop here rather than call jpeg_finish_decompress. */
    ctx->scanlines_done = 1;
    return TD_OK;
}

td_status td__decode_jpeg(const uint8_t *data, size_t len, const td_decode_options *opts,
                          td_image *out, td_error *err)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_ctx ctx;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&ctx, 0, sizeof ctx);
    cinfo.err = jpeg_std_error(&ctx.pub);
    ctx.pub.error_exit = on_error_exit;
    ctx.pub.emit_message = on_emit_message;
    ctx.pub.output_message = on_output_message;
    ctx.progress.progress_monitor = on_progress;
    ctx.code = TD_OK;

    td_status st = run_decoder(&cinfo, &ctx, data, len, opts, out, err);
    jpeg_destroy_decompress(&cinfo);
    td__free(ctx.row);
    if (st != TD_OK)
        td_image_clear(out);
    return st;
}
