/* BMP decoding: no system library reads BMP, so this is our own parser, written for hostile
 * input. A cursor with bounds checks reads the headers (the OS/2 core header of 12 bytes and the
 * Windows info header of 40 bytes and its V2-V5 extensions); pixels are read straight from the
 * buffer after checking that every row is present.
 *
 * Supported like Pillow: 1/2/4/8-bit palettes (always expanded to RGB), 16 bits (555 by default,
 * or BI_BITFIELDS masks), 24 bits, 32 bits (BGRX or BI_BITFIELDS), bottom-up and top-down rows,
 * RLE8 and RLE4. Alpha is dropped. Mask samples are scaled to 8 bits as Pillow's unpackers do:
 * v * 255 / max, truncated. */
#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "media/decode.h"

enum { BI_RGB = 0, BI_RLE8 = 1, BI_RLE4 = 2, BI_BITFIELDS = 3, BI_ALPHABITFIELDS = 6 };

struct cursor {
    const uint8_t *data;
    size_t len;
    size_t pos;
};

static int need(const struct cursor *c, size_t n)
{
    return c->pos <= c->len && n <= c->len - c->pos;
}

static uint32_t get_u32(struct cursor *c)
{
    const uint8_t *p = c->data + c->pos;
    c->pos += 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_u16(struct cursor *c)
{
    const uint8_t *p = c->data + c->pos;
    c->pos += 2;
    return (uint16_t)(p[0] | p[1] << 8);
}

/* A channel mask as shift and maximum; masks must be contiguous runs of bits. */
struct channel {
    uint32_t mask;
    unsigned shift;
    uint32_t max;
};

static int make_channel(uint32_t mask, struct channel *ch)
{
    ch->mask = mask;
    ch->shift = 0;
    ch->max = 0;
    if (mask == 0)
        return 1;
    while (!((mask >> ch->shift) & 1))
        ch->shift++;
    ch->max = mask >> ch->shift;
    return (ch->max & (ch->max + 1)) == 0; /* contiguous: max is 2^k - 1 */
}

static inline uint8_t channel_value(const struct channel *ch, uint32_t pixel)
{
    if (ch->max == 0)
        return 0;
    return (uint8_t)((uint64_t)((pixel & ch->mask) >> ch->shift) * 255 / ch->max);
}

struct bmp_info {
    int64_t width, height; /* height > 0: bottom-up */
    unsigned bpp;
    uint32_t compression;
    uint32_t colors_used;
    uint32_t masks[3];
    int have_masks;
    size_t palette_pos;
    unsigned palette_entry; /* 3 bytes (core header) or 4 */
    uint32_t pixel_offset;
};

static td_status read_headers(struct cursor *c, struct bmp_info *bi, td_error *err)
{
    if (!need(c, 18))
        return td__error_set(err, TD_ERR_CORRUPT,
                             "corrupt BMP: file is %zu bytes, too short "
                             "for the headers",
                             c->len);
    c->pos = 10;
    bi->pixel_offset = get_u32(c);
    uint32_t header_size = get_u32(c);
    if (header_size == 12) {
        if (!need(c, 8))
            return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: truncated core header");
        bi->width = get_u16(c);
        bi->height = get_u16(c);
        c->pos += 2; /* planes */
        bi->bpp = get_u16(c);
        bi->compression = BI_RGB;
        bi->palette_entry = 3;
        bi->palette_pos = 14 + 12;
        return TD_OK;
    }
    if (header_size < 40 || header_size > 4096)
        return td__error_set(err, TD_ERR_UNSUPPORTED,
                             "unsupported BMP: header of %" PRIu32 " bytes", header_size);
    if (!need(c, header_size - 4))
        return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: truncated info header");
    bi->width = (int32_t)get_u32(c);
    bi->height = (int32_t)get_u32(c);
    c->pos += 2; /* planes */
    bi->bpp = get_u16(c);
    bi->compression = get_u32(c);
    c->pos += 12; /* image size, resolution */
    bi->colors_used = get_u32(c);
    c->pos += 4; /* important colours */
    bi->palette_entry = 4;
    bi->palette_pos = 14 + (size_t)header_size;
    if (bi->compression == BI_BITFIELDS || bi->compression == BI_ALPHABITFIELDS) {
        /* Masks sit inside V2+ headers, or right after a plain 40-byte header. */
        if (header_size < 52) {
            size_t extra = bi->compression == BI_ALPHABITFIELDS ? 16 : 12;
            if (!need(c, extra))
                return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: truncated colour masks");
            bi->palette_pos += extra;
        }
        for (int i = 0; i < 3; i++)
            bi->masks[i] = get_u32(c);
        bi->have_masks = 1;
    }
    return TD_OK;
}

static td_status decode_rle(const uint8_t *p, size_t n, const struct bmp_info *bi, uint32_t w,
                            uint32_t h, uint8_t *idx, td_error *err)
{
    /* Rows are bottom-up; skipped pixels keep index 0, as in Pillow. */
    size_t pos = 0;
    uint32_t x = 0, y = 0;
    int four = bi->compression == BI_RLE4;
    while (y < h) {
        if (n - pos < 2)
            return td__error_set(err, TD_ERR_CORRUPT,
                                 "corrupt BMP: RLE data ends at row %" PRIu32 " of %" PRIu32, y, h);
        uint8_t count = p[pos], value = p[pos + 1];
        pos += 2;
        uint8_t *row = idx + (size_t)(h - 1 - y) * w;
        if (count > 0) { /* a run */
            for (unsigned i = 0; i < count && x < w; i++, x++)
                row[x] = four ? (i & 1 ? value & 0x0f : value >> 4) : value;
            continue;
        }
        if (value == 0) { /* end of line */
            x = 0;
            y++;
        } else if (value == 1) { /* end of bitmap */
            break;
        } else if (value == 2) { /* delta */
            if (n - pos < 2)
                return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: truncated RLE delta");
            x += p[pos];
            y += p[pos + 1];
            pos += 2;
        } else { /* absolute run of value pixels, padded to 16 bits */
            size_t bytes = four ? ((size_t)value + 1) / 2 : value;
            size_t padded = (bytes + 1) & ~(size_t)1;
            if (n - pos < padded)
                return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: truncated RLE run");
            for (unsigned i = 0; i < value && x < w; i++, x++)
                row[x] = four ? (i & 1 ? p[pos + i / 2] & 0x0f : p[pos + i / 2] >> 4) : p[pos + i];
            pos += padded;
        }
    }
    return TD_OK;
}

td_status td__decode_bmp(const uint8_t *data, size_t len, const td_decode_options *opts,
                         td_image *out, td_error *err)
{
    struct cursor c = {.data = data, .len = len};
    struct bmp_info bi;
    memset(&bi, 0, sizeof bi);
    td_status st = read_headers(&c, &bi, err);
    if (st != TD_OK)
        return st;

    int top_down = bi.height < 0;
    int64_t abs_h = top_down ? -bi.height : bi.height;
    if (bi.width < 0)
        return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: negative width %" PRId64, bi.width);
    st = td__image_check_size((uint64_t)bi.width, (uint64_t)abs_h, opts, "BMP image", err);
    if (st != TD_OK)
        return st;
    uint32_t w = (uint32_t)bi.width, h = (uint32_t)abs_h;

    int rle = bi.compression == BI_RLE8 || bi.compression == BI_RLE4;
    switch (bi.compression) {
    case BI_RGB: break;
    case BI_RLE8:
        if (bi.bpp != 8 || top_down)
            return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: RLE8 with %u bits%s", bi.bpp,
                                 top_down ? ", top-down" : "");
        break;
    case BI_RLE4:
        if (bi.bpp != 4 || top_down)
            return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: RLE4 with %u bits%s", bi.bpp,
                                 top_down ? ", top-down" : "");
        break;
    case BI_BITFIELDS:
    case BI_ALPHABITFIELDS:
        if (bi.bpp != 16 && bi.bpp != 32)
            return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: bit fields with %u bits",
                                 bi.bpp);
        break;
    default:
        return td__error_set(err, TD_ERR_UNSUPPORTED, "unsupported BMP compression %" PRIu32,
                             bi.compression);
    }

    struct channel chan[3];
    if (bi.bpp == 16 || bi.bpp == 32) {
        static const uint32_t rgb555[3] = {0x7c00, 0x03e0, 0x001f};
        static const uint32_t rgb888[3] = {0xff0000, 0x00ff00, 0x0000ff};
        const uint32_t *m = bi.have_masks ? bi.masks : bi.bpp == 16 ? rgb555 : rgb888;
        for (int i = 0; i < 3; i++)
            if (!make_channel(m[i], &chan[i]))
                return td__error_set(err, TD_ERR_UNSUPPORTED,
                                     "unsupported BMP: non-contiguous colour mask %08" PRIx32,
                                     m[i]);
    } else if (bi.bpp != 1 && bi.bpp != 2 && bi.bpp != 4 && bi.bpp != 8 && bi.bpp != 24) {
        return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: %u bits per pixel", bi.bpp);
    }

    uint8_t palette[256][3];
    memset(palette, 0, sizeof palette);
    if (bi.bpp <= 8) {
        uint32_t count = bi.colors_used ? bi.colors_used : 1u << bi.bpp;
        if (count > 256)
            return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: palette of %" PRIu32 " colours",
                                 count);
        struct cursor pc = {.data = data, .len = len, .pos = bi.palette_pos};
        if (!need(&pc, (size_t)count * bi.palette_entry))
            return td__error_set(err, TD_ERR_CORRUPT, "corrupt BMP: truncated palette");
        for (uint32_t i = 0; i < count; i++) {
            const uint8_t *e = data + pc.pos + (size_t)i * bi.palette_entry;
            palette[i][0] = e[2];
            palette[i][1] = e[1];
            palette[i][2] = e[0];
        }
    }

    if (bi.pixel_offset >= len)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "corrupt BMP: pixel data offset %" PRIu32
                             " is past the end of the %zu-byte file",
                             bi.pixel_offset, len);
    const uint8_t *pix = data + bi.pixel_offset;
    size_t avail = len - bi.pixel_offset;
    uint8_t *indices = NULL;
    size_t stride = 0;
    if (rle) {
        indices = td__calloc((size_t)w, (size_t)h);
        if (!indices)
            return td__error_set(err, TD_ERR_NOMEM,
                                 "cannot allocate %" PRIu32 "x%" PRIu32 " BMP indices", w, h);
        st = decode_rle(pix, avail, &bi, w, h, indices, err);
        if (st != TD_OK) {
            td__free(indices);
            return st;
        }
    } else {
        uint64_t row_bits = (uint64_t)w * bi.bpp; /* w <= 2^30, bpp <= 32 */
        stride = (size_t)(((row_bits + 31) / 32) * 4);
        size_t needed;
        if (__builtin_mul_overflow(stride, (size_t)h, &needed) || needed > avail)
            return td__error_set(err, TD_ERR_CORRUPT,
                                 "corrupt BMP: pixel data is %zu bytes, "
                                 "%" PRIu32 " rows of %zu bytes need more",
                                 avail, h, stride);
    }

    st = td__image_alloc(out, w, h, 3, err);
    if (st != TD_OK) {
        td__free(indices);
        return st;
    }
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *dst = out->pixels + (size_t)y * w * 3;
        if (rle) {
            const uint8_t *row = indices + (size_t)y * w;
            for (uint32_t x = 0; x < w; x++)
                memcpy(dst + 3 * (size_t)x, palette[row[x]], 3);
            continue;
        }
        const uint8_t *src = pix + (size_t)(top_down ? y : h - 1 - y) * stride;
        switch (bi.bpp) {
        case 1:
        case 2:
        case 4:
        case 8: {
            unsigned per_byte = 8 / bi.bpp, bmask = (1u << bi.bpp) - 1;
            for (uint32_t x = 0; x < w; x++) {
                unsigned shift = 8 - bi.bpp * (x % per_byte + 1);
                memcpy(dst + 3 * (size_t)x, palette[(src[x / per_byte] >> shift) & bmask], 3);
            }
            break;
        }
        case 16:
        case 32:
            for (uint32_t x = 0; x < w; x++) {
                const uint8_t *p = src + (size_t)x * (bi.bpp / 8);
                uint32_t v = bi.bpp == 16 ? (uint32_t)(p[0] | p[1] << 8)
                                          : (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                                                (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
                for (int i = 0; i < 3; i++)
                    dst[3 * (size_t)x + i] = channel_value(&chan[i], v);
            }
            break;
        case 24:
            for (uint32_t x = 0; x < w; x++) {
                dst[3 * (size_t)x] = src[3 * (size_t)x + 2];
                dst[3 * (size_t)x + 1] = src[3 * (size_t)x + 1];
                dst[3 * (size_t)x + 2] = src[3 * (size_t)x];
            }
            break;
        default: break;
        }
    }
    td__free(indices);
    return TD_OK;
}
