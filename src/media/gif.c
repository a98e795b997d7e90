/* GIF decoding with giflib: the first frame only, as Pillow's Image.open gives it.
 *
 * We read records until the first image instead of DGifSlurp, which would decode every frame of
 * an animation (a cheap way to make us burn CPU and memory). Pillow's rules for frame 0: the
 * canvas is the logical screen, enlarged if the frame reaches past it; the area the frame does not
 * cover holds palette index 0, or the frame's transparent index if it has one (Pillow fills the
 * canvas with it); colours come from the local colour map, else the global one; indices past the
 * end of the map are black; a GIF with no colour map at all is greyscale (mode "L" in Pillow),
 * so it gives one channel whose value is the index. Transparency is otherwise ignored. */
#include <inttypes.h>
#include <string.h>

#include <gif_lib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "media/decode.h"

struct gif_src {
    const uint8_t *data;
    size_t len;
    size_t pos;
};

static int on_read(GifFileType *gif, GifByteType *buf, int n)
{
    struct gif_src *src = gif->UserData;
    if (n <= 0)
        return 0;
    size_t want = (size_t)n, left = src->len - src->pos;
    if (want > left)
        want = left;
    memcpy(buf, src->data + src->pos, want);
    src->pos += want;
    return (int)want;
}

static td_status gif_error(int code, const char *when, td_error *err)
{
    const char *text = GifErrorString(code);
    if (code == D_GIF_ERR_NOT_ENOUGH_MEM)
        return td__error_set(err, TD_ERR_NOMEM, "GIF decoder out of memory (%s)", when);
    return td__error_set(err, TD_ERR_CORRUPT, "corrupt GIF: %s (%s)", text ? text : "unknown error",
                         when);
}

/* Skips the extension blocks (graphic control, comments, application data), remembering the
 * transparent index of the graphic control extension that precedes the first image. */
static int skip_extension(GifFileType *gif, int *transparent)
{
    int code;
    GifByteType *block = NULL;
    if (DGifGetExtension(gif, &code, &block) == GIF_ERROR)
        return GIF_ERROR;
    if (code == GRAPHICS_EXT_FUNC_CODE && block && block[0] >= 4)
        *transparent = (block[1] & 0x01) ? block[4] : -1;
    while (block) {
        if (DGifGetExtensionNext(gif, &block) == GIF_ERROR)
            return GIF_ERROR;
    }
    return GIF_OK;
}

static td_status decode_frame(GifFileType *gif, int transparent, const td_decode_options *opts,
                              td_image *out, td_error *err)
{
    const GifImageDesc *d = &gif->Image;
    if (d->Width <= 0 || d->Height <= 0 || d->Left < 0 || d->Top < 0)
        return td__error_set(err, TD_ERR_CORRUPT, "corrupt GIF: first frame is %dx%d at %d,%d",
                             d->Width, d->Height, d->Left, d->Top);
    uint64_t right = (uint64_t)d->Left + (uint64_t)d->Width;
    uint64_t bottom = (uint64_t)d->Top + (uint64_t)d->Height;
    uint64_t cw = gif->SWidth > 0 ? (uint64_t)gif->SWidth : 0;
    uint64_t ch = gif->SHeight > 0 ? (uint64_t)gif->SHeight : 0;
    if (right > cw)
        cw = right;
    if (bottom > ch)
        ch = bottom;
    td_status st = td__image_check_size(cw, ch, opts, "GIF image", err);
    if (st != TD_OK)
        return st;

    const ColorMapObject *map = d->ColorMap ? d->ColorMap : gif->SColorMap;
    uint32_t channels = map ? 3 : 1;
    uint8_t rgb[256][3];
    memset(rgb, 0, sizeof rgb);
    if (map && map->Colors) {
        int n = map->ColorCount < 256 ? map->ColorCount : 256;
        for (int i = 0; i < n; i++) {
            rgb[i][0] = map->Colors[i].Red;
            rgb[i][1] = map->Colors[i].Green;
            rgb[i][2] = map->Colors[i].Blue;
        }
    }

    uint8_t *indices = td__mallocarray((size_t)cw, (size_t)ch);
    if (!indices)
        return td__error_set(err, TD_ERR_NOMEM,
                             "cannot allocate a %" PRIu64 "x%" PRIu64 " GIF canvas", cw, ch);
    memset(indices, transparent >= 0 ? transparent : 0, (size_t)cw * (size_t)ch);

    /* Interlaced frames store rows in four passes: every 8th from 0, every 8th from 4, every 4th
     * from 2, every 2nd from 1. */
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    int passes = d->Interlace ? 4 : 1;
    for (int p = 0; p < passes; p++) {
        int y0 = d->Interlace ? start[p] : 0, dy = d->Interlace ? step[p] : 1;
        for (int y = y0; y < d->Height; y += dy) {
            uint8_t *row = indices + (size_t)(d->Top + y) * cw + (size_t)d->Left;
            if (DGifGetLine(gif, row, d->Width) == GIF_ERROR) {
                td__free(indices);
                return gif_error(gif->Error, "reading the first frame", err);
            }
        }
    }

    st = td__image_alloc(out, (uint32_t)cw, (uint32_t)ch, channels, err);
    if (st != TD_OK) {
        td__free(indices);
        return st;
    }
    size_t n = (size_t)cw * (size_t)ch;
    if (channels == 1) {
        memcpy(out->pixels, indices, n);
    } else {
        for (size_t i = 0; i < n; i++)
            memcpy(out->pixels + 3 * i, rgb[indices[i]], 3);
    }
    td__free(indices);
    return TD_OK;
}

td_status td__decode_gif(const uint8_t *data, size_t len, const td_decode_options *opts,
                         td_image *out, td_error *err)
{
    struct gif_src src = {.data = data, .len = len};
    int code = 0;
    GifFileType *gif = DGifOpen(&src, on_read, &code);
    if (!gif)
        return gif_error(code, "reading the header", err);

    td_status st = TD_OK;
    int transparent = -1;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) {
            st = gif_error(gif->Error, "reading a record", err);
            break;
        }
        if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) == GIF_ERROR)
                st = gif_error(gif->Error, "reading the first frame's descriptor", err);
            else
                st = decode_frame(gif, transparent, opts, out, err);
            break;
        }
        if (type == EXTENSION_RECORD_TYPE) {
            if (skip_extension(gif, &transparent) == GIF_ERROR) {
                st = gif_error(gif->Error, "reading an extension", err);
                break;
            }
            continue;
        }
        if (type == TERMINATE_RECORD_TYPE) {
            st = td__error_set(err, TD_ERR_CORRUPT, "corrupt GIF: no image before the trailer");
            break;
        }
        st = td__error_set(err, TD_ERR_CORRUPT, "corrupt GIF: unknown record type");
        break;
    }
    DGifCloseFile(gif, &code);
    if (st != TD_OK)
        td_image_clear(out);
    return st;
}
