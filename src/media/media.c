/* Format recognition, dispatch to the per-format decoders, and bounded file reading.
 *
 * The format is taken from the magic bytes only: upload names and extensions lie. Limits are
 * checked before memory is committed: the file size against max_file_bytes before reading, the
 * pixel count against max_pixels by each decoder right after its header. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "media/decode.h"

/* No real picture is wider or taller than this; larger values come from broken headers. */
#define MAX_SIDE ((uint64_t)1 << 30)

void td_decode_options_default(td_decode_options *opts)
{
    if (!opts)
        return;
    opts->max_file_bytes = TD_DEFAULT_MAX_FILE_BYTES;
    opts->max_pixels = TD_DEFAULT_MAX_PIXELS;
    opts->min_side = 0;
    opts->luma_only = 0;
}

td_image_format td_image_sniff(const uint8_t *data, size_t len)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    if (!data)
        return TD_FORMAT_UNKNOWN;
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return TD_FORMAT_JPEG;
    if (len >= 8 && memcmp(data, png_magic, 8) == 0)
        return TD_FORMAT_PNG;
    if (len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return TD_FORMAT_WEBP;
    if (len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0))
        return TD_FORMAT_GIF;
    if (len >= 2 && data[0] == 'B' && data[1] == 'M')
        return TD_FORMAT_BMP;
    return TD_FORMAT_UNKNOWN;
}

const char *td_image_format_name(td_image_format format)
{
    switch (format) {
    case TD_FORMAT_JPEG: return "jpeg";
    case TD_FORMAT_PNG: return "png";
    case TD_FORMAT_WEBP: return "webp";
    case TD_FORMAT_GIF: return "gif";
    case TD_FORMAT_BMP: return "bmp";
    case TD_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

td_status td__image_check_size(uint64_t width, uint64_t height, const td_decode_options *opts,
                               const char *what, td_error *err)
{
    if (width == 0 || height == 0)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "%s has zero width or height (%" PRIu64 "x%" PRIu64 ")", what, width,
                             height);
    if (width > MAX_SIDE || height > MAX_SIDE)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "%s is %" PRIu64 "x%" PRIu64 ", sides over %" PRIu64
                             " are not plausible",
                             what, width, height, MAX_SIDE);
    uint64_t pixels = width * height; /* both <= 2^30: cannot overflow */
    if (pixels > opts->max_pixels)
        return td__error_set(err, TD_ERR_LIMIT,
                             "%s is %" PRIu64 "x%" PRIu64 " (%" PRIu64 " pixels), limit is %" PRIu64
                             " (max_pixels)",
                             what, width, height, pixels, opts->max_pixels);
    return TD_OK;
}

td_status td__image_alloc(td_image *img, uint32_t width, uint32_t height, uint32_t channels,
                          td_error *err)
{
    size_t row, total;
    if (__builtin_mul_overflow((size_t)width, (size_t)channels, &row) ||
        __builtin_mul_overflow(row, (size_t)height, &total))
        return td__error_set(err, TD_ERR_LIMIT,
                             "image of %" PRIu32 "x%" PRIu32 " does not fit in memory", width,
                             height);
    uint8_t *pixels = td__malloc(total);
    if (!pixels)
        return td__error_set(err, TD_ERR_NOMEM,
                             "cannot allocate %zu bytes for a %" PRIu32 "x%" PRIu32 " image", total,
                             width, height);
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->pixels = pixels;
    img->full_width = width;
    img->full_height = height;
    return TD_OK;
}

void td_image_clear(td_image *img)
{
    if (!img)
        return;
    td__free(img->pixels);
    memset(img, 0, sizeof *img);
}

td_status td_image_decode(const uint8_t *data, size_t len, const td_decode_options *opts,
                          td_image *out, td_error *err)
{
    td_decode_options defaults;
    td_status st;
    if (!out)
        return td__error_set(err, TD_ERR_INVALID, "no output image given");
    memset(out, 0, sizeof *out);
    if (!data && len)
        return td__error_set(err, TD_ERR_INVALID, "no input data given");
    if (!opts) {
        td_decode_options_default(&defaults);
        opts = &defaults;
    }
    if ((uint64_t)len > opts->max_file_bytes)
        return td__error_set(err, TD_ERR_LIMIT,
                             "input is %zu bytes, limit is %" PRIu64 " (max_file_bytes)", len,
                             opts->max_file_bytes);
    if (len == 0)
        return td__error_set(err, TD_ERR_CORRUPT, "input is empty (0 bytes)");

    td_image_format format = td_image_sniff(data, len);
    switch (format) {
    case TD_FORMAT_JPEG: st = td__decode_jpeg(data, len, opts, out, err); break;
    case TD_FORMAT_PNG: st = td__decode_png(data, len, opts, out, err); break;
    case TD_FORMAT_WEBP: st = td__decode_webp(data, len, opts, out, err); break;
    case TD_FORMAT_GIF: st = td__decode_gif(data, len, opts, out, err); break;
    case TD_FORMAT_BMP: st = td__decode_bmp(data, len, opts, out, err); break;
    default: {
        char hex[4 * 3 + 1] = "";
        size_t n = len < 4 ? len : 4, used = 0;
        for (size_t i = 0; i < n; i++)
            used += (size_t)snprintf(hex + used, sizeof hex - used, i ? " %02x" : "%02x", data[i]);
        return td__error_set(err, TD_ERR_UNSUPPORTED, "unrecognised image format (first bytes %s)",
                             hex);
    }
    }
    if (st != TD_OK) {
        td_image_clear(out);
        return st;
    }
    if (err)
        td_error_clear(err);
    return TD_OK;
}

/* Pipes and character devices have no size to check in advance: read them in doubling chunks
 * up to max_bytes + 1, so that an over-long stream is refused without holding more than that. */
static td_status read_stream(int fd, uint64_t max_bytes, uint8_t **data, size_t *len, td_error *err)
{
    size_t cap = 64 * 1024, used = 0;
    size_t hard_cap = max_bytes >= SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)max_bytes + 1;
    uint8_t *buf = td__malloc(cap);
    if (!buf)
        return td__error_set(err, TD_ERR_NOMEM, "cannot allocate a read buffer");
    for (;;) {
        if (used == cap) {
            if (cap >= hard_cap)
                break;
            size_t next = cap > hard_cap / 2 ? hard_cap : cap * 2;
            uint8_t *grown = td__realloc(buf, next);
            if (!grown) {
                td__free(buf);
                return td__error_set(err, TD_ERR_NOMEM, "cannot grow the read buffer to %zu bytes",
                                     next);
            }
            buf = grown;
            cap = next;
        }
        ssize_t n = read(fd, buf + used, (cap < hard_cap ? cap : hard_cap) - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            td__free(buf);
            return td__error_set(err, TD_ERR_IO, "read failed: %s", strerror(e));
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used >= hard_cap)
            break;
    }
    if ((uint64_t)used > max_bytes) {
        td__free(buf);
        return td__error_set(err, TD_ERR_LIMIT,
                             "input is over %" PRIu64 " bytes, limit is %" PRIu64
                             " (max_file_bytes)",
                             max_bytes, max_bytes);
    }
    *data = buf;
    *len = used;
    return TD_OK;
}

static td_status read_regular(int fd, uint64_t size, uint8_t **data, size_t *len, td_error *err)
{
    if (size > SIZE_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "file is %" PRIu64 " bytes, too large for memory",
                             size);
    uint8_t *buf = td__malloc((size_t)size);
    size_t used = 0;
    if (!buf)
        return td__error_set(err, TD_ERR_NOMEM, "cannot allocate %" PRIu64 " bytes", size);
    while (used < (size_t)size) {
        ssize_t n = read(fd, buf + used, (size_t)size - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            td__free(buf);
            return td__error_set(err, TD_ERR_IO, "read failed: %s", strerror(e));
        }
        if (n == 0)
            break; /* the file shrank while we read it: keep what is there */
        used += (size_t)n;
    }
    *data = buf;
    *len = used;
    return TD_OK;
}

td_status td_file_read(const char *path, uint64_t max_bytes, uint8_t **data, size_t *len,
                       td_error *err)
{
    struct stat st;
    td_status status;
    if (!path || !data || !len)
        return td__error_set(err, TD_ERR_INVALID, "no path or output given");
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return td__error_set(err, e == ENOENT || e == ENOTDIR ? TD_ERR_NOT_FOUND : TD_ERR_IO,
                             "cannot open: %s", strerror(e));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return td__error_set(err, TD_ERR_IO, "cannot stat: %s", strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return td__error_set(err, TD_ERR_INVALID, "is a directory, not a file");
    }
    if (S_ISREG(st.st_mode)) {
        uint64_t size = st.st_size < 0 ? 0 : (uint64_t)st.st_size;
        if (size > max_bytes) {
            close(fd);
            return td__error_set(err, TD_ERR_LIMIT,
                                 "file is %" PRIu64 " bytes, limit is %" PRIu64 " (max_file_bytes)",
                                 size, max_bytes);
        }
        status = read_regular(fd, size, data, len, err);
    } else {
        status = read_stream(fd, max_bytes, data, len, err);
    }
    close(fd);
    return status;
}
