/* Image decoding: the conformance pictures in every mode, synthetic BMP/GIF/PNG/WebP files built
 * here byte by byte with pixels we choose (the independent expectation), limits, truncation and
 * content sniffing. Sizes and channel counts of the shared files are literals taken from `file`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "support/support.h"
#include "takedown/media.h"

#define MODES "threatexchange/pdq/data/misc-images/modes/"
#define RES "threatexchange/python-threatexchange/threatexchange/tests/hashing/resources/"

/* ---- growable byte buffer for building files ---- */

struct buf {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void put8(struct buf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}
static void put16(struct buf *b, unsigned v)
{
    put8(b, v & 0xff);
    put8(b, (v >> 8) & 0xff);
}
static void put32(struct buf *b, uint32_t v)
{
    put16(b, v & 0xffff);
    put16(b, v >> 16);
}
static void put32be(struct buf *b, uint32_t v)
{
    put8(b, v >> 24);
    put8(b, (v >> 16) & 0xff);
    put8(b, (v >> 8) & 0xff);
    put8(b, v & 0xff);
}

/* ---- decoding helpers ---- */

static td_status decode_buf(const uint8_t *data, size_t len, td_image *img, td_error *err)
{
    td_decode_options o;
    td_decode_options_default(&o);
    return td_image_decode(data, len, &o, img, err);
}

static void decode_file(const char *path, td_image *img)
{
    uint8_t *data;
    size_t len;
    td_error err;
    assert_int_equal(td_file_read(path, TD_DEFAULT_MAX_FILE_BYTES, &data, &len, &err), TD_OK);
    td_status st = decode_buf(data, len, img, &err);
    if (st != TD_OK)
        fail_msg("%s: %s", path, err.message);
    td_free(data);
}

static void expect_pixels(const td_image *img, uint32_t w, uint32_t h, uint32_t ch,
                          const uint8_t *want)
{
    assert_int_equal(img->width, w);
    assert_int_equal(img->height, h);
    assert_int_equal(img->channels, ch);
    for (size_t i = 0; i < (size_t)w * h * ch; i++)
        if (img->pixels[i] != want[i])
            fail_msg("byte %zu (pixel %zu) is %u, expected %u", i, i / ch, img->pixels[i], want[i]);
}

static void expect_error(const uint8_t *data, size_t len, td_status want, const char *needle)
{
    td_image img = {0};
    td_error err;
    td_status st = decode_buf(data, len, &img, &err);
    if (st != want)
        fail_msg("status %d (%s), expected %d", st, st ? err.message : "ok", want);
    assert_null(img.pixels);
    assert_int_equal(err.code, want);
    assert_true(strlen(err.message) > 0);
    if (needle && !strstr(err.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

/* Mean absolute difference of the RGB views of two images of the same size. */
static double mean_diff(const td_image *a, const td_image *b)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    size_t n = (size_t)a->width * a->height;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            int x = a->pixels[i * a->channels + (a->channels == 3 ? c : 0)];
            int y = b->pixels[i * b->channels + (b->channels == 3 ? c : 0)];
            sum += abs(x - y);
        }
    return sum / (double)(n * 3);
}

/* ---- sniffing and names ---- */

static void test_sniff(void **state)
{
    (void)state;
    static const uint8_t jpg[] = {0xff, 0xd8, 0xff, 0xe0};
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    assert_int_equal(td_image_sniff(jpg, sizeof jpg), TD_FORMAT_JPEG);
    assert_int_equal(td_image_sniff(png, sizeof png), TD_FORMAT_PNG);
    assert_int_equal(td_image_sniff(png, 7), TD_FORMAT_UNKNOWN);
    assert_int_equal(td_image_sniff((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16), TD_FORMAT_WEBP);
    assert_int_equal(td_image_sniff((const uint8_t *)"RIFF\0\0\0\0WAVEfmt ", 16),
                     TD_FORMAT_UNKNOWN);
    assert_int_equal(td_image_sniff((const uint8_t *)"GIF89a", 6), TD_FORMAT_GIF);
    assert_int_equal(td_image_sniff((const uint8_t *)"GIF87a", 6), TD_FORMAT_GIF);
    assert_int_equal(td_image_sniff((const uint8_t *)"BM", 2), TD_FORMAT_BMP);
    assert_int_equal(td_image_sniff(NULL, 0), TD_FORMAT_UNKNOWN);
    assert_string_equal(td_image_format_name(TD_FORMAT_JPEG), "jpeg");
    assert_string_equal(td_image_format_name(TD_FORMAT_PNG), "png");
    assert_string_equal(td_image_format_name(TD_FORMAT_WEBP), "webp");
    assert_string_equal(td_image_format_name(TD_FORMAT_GIF), "gif");
    assert_string_equal(td_image_format_name(TD_FORMAT_BMP), "bmp");
    assert_string_equal(td_image_format_name(TD_FORMAT_UNKNOWN), "unknown");
    assert_string_equal(td_image_format_name((td_image_format)99), "unknown");
    td_decode_options o;
    td_decode_options_default(&o);
    assert_true(o.max_file_bytes == 64u << 20);
    assert_true(o.max_pixels == 100000000u);
    assert_int_equal(o.min_side, 0);
    td_image_clear(NULL);
    td_image empty = {0};
    td_image_clear(&empty);
}

static void test_unknown_and_empty(void **state)
{
    (void)state;
    expect_error((const uint8_t *)"<html>", 6, TD_ERR_UNSUPPORTED,
                 "unrecognised image format (first bytes 3c 68 74 6d)");
    expect_error((const uint8_t *)"", 0, TD_ERR_CORRUPT, "empty");
    uint8_t *data;
    size_t len;
    td_error err;
    const char *path = write_temp("media_empty.png", "", 0);
    assert_int_equal(td_file_read(path, 1000, &data, &len, &err), TD_OK);
    assert_int_equal(len, 0);
    td_image img;
    assert_int_equal(decode_buf(data, len, &img, &err), TD_ERR_CORRUPT);
    td_free(data);
    assert_int_equal(td_file_read("/nonexistent/x.jpg", 1000, &data, &len, &err), TD_ERR_NOT_FOUND);
    assert_int_equal(td_file_read("/tmp", 1000, &data, &len, &err), TD_ERR_INVALID);
}

/* ---- the shared conformance pictures ---- */

struct mode_case {
    const char *path;
    td_image_format format;
    uint32_t width, height, channels;
};

static void test_conformance_modes(void **state)
{
    (void)state;
    static const struct mode_case cases[] = {
        {MODES "1.png", TD_FORMAT_PNG, 1600, 1004, 1},
        {MODES "CMYK.jpg", TD_FORMAT_JPEG, 1600, 1004, 3},
        {MODES "F.webp", TD_FORMAT_WEBP, 1600, 1004, 3},
        {MODES "HSV.webp", TD_FORMAT_WEBP, 1600, 1004, 3},
        {MODES "I.webp", TD_FORMAT_WEBP, 1600, 1004, 3},
        {MODES "L.png", TD_FORMAT_PNG, 1600, 1004, 1},
        {MODES "LA.png", TD_FORMAT_PNG, 1600, 1004, 1},
        {MODES "LAB.webp", TD_FORMAT_WEBP, 1600, 1004, 3},
        {MODES "P.png", TD_FORMAT_PNG, 1600, 1004, 3},
        {MODES "PA.webp", TD_FORMAT_WEBP, 1600, 1004, 3},
        {MODES "RGB.jpg", TD_FORMAT_JPEG, 1600, 1004, 3},
        {MODES "RGBA.png", TD_FORMAT_PNG, 1600, 1004, 3},
        {MODES "YCbCr.jpg", TD_FORMAT_JPEG, 1600, 1004, 3},
        {MODES "original.jpg", TD_FORMAT_JPEG, 1600, 1004, 3},
        {"threatexchange/pdq/data/misc-images/c.png", TD_FORMAT_PNG, 1432, 812, 3},
        {"threatexchange/pdq/data/misc-images/small.jpg", TD_FORMAT_JPEG, 224, 399, 3},
        {"threatexchange/pdq/data/misc-images/wee.jpg", TD_FORMAT_JPEG, 34, 42, 3},
        {RES "I16.png", TD_FORMAT_PNG, 256, 256, 1},
        {RES "LA.png", TD_FORMAT_PNG, 256, 256, 1},
        {RES "letterboxed_sample-b.jpg", TD_FORMAT_JPEG, 2000, 1404, 3},
        {RES "rgb.jpeg", TD_FORMAT_JPEG, 256, 256, 3},
        {RES "sample-b.jpg", TD_FORMAT_JPEG, 1600, 1004, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *data = read_all(conf_path(cases[i].path), &len);
        assert_int_equal(td_image_sniff(data, len), cases[i].format);
        td_image img;
        td_error err;
        if (decode_buf(data, len, &img, &err) != TD_OK)
            fail_msg("%s: %s", cases[i].path, err.message);
        assert_int_equal(img.width, cases[i].width);
        assert_int_equal(img.height, cases[i].height);
        assert_int_equal(img.channels, cases[i].channels);
        td_image_clear(&img);
        free(data);
    }
}

/* Files of the modes folder hold one picture: a conversion error shows as a large difference
 * (inverted CMYK would differ by ~128, a wrong channel order by tens). */
static void test_same_picture(void **state)
{
    (void)state;
    td_image rgb, other;
    decode_file(conf_path(MODES "RGB.jpg"), &rgb);
    static const struct {
        const char *name;
        double max;
    } close[] = {{"original.jpg", 4}, {"CMYK.jpg", 4}, {"YCbCr.jpg", 4},
                 {"RGBA.png", 4},     {"HSV.webp", 6}, {"LAB.webp", 6}};
    for (size_t i = 0; i < sizeof close / sizeof close[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, MODES "%s", close[i].name);
        decode_file(conf_path(rel), &other);
        double d = mean_diff(&rgb, &other);
        if (d > close[i].max)
            fail_msg("%s differs from RGB.jpg by %.2f on average", close[i].name, d);
        td_image_clear(&other);
    }
    /* Grey files agree with each other: LA.png is L.png plus an alpha that must be dropped. */
    td_image l, la;
    decode_file(conf_path(MODES "L.png"), &l);
    decode_file(conf_path(MODES "LA.png"), &la);
    assert_true(mean_diff(&l, &la) < 0.01);
    td_image_clear(&la);
    /* RGBA.png is original.jpg decoded and stored losslessly with an alpha channel. */
    decode_file(conf_path(MODES "original.jpg"), &other);
    decode_file(conf_path(MODES "RGBA.png"), &la);
    assert_true(mean_diff(&other, &la) < 0.01);
    /* 1-bit grey expands to 0 or 255, nothing else. */
    td_image one;
    decode_file(conf_path(MODES "1.png"), &one);
    size_t zeros = 0;
    for (size_t i = 0; i < (size_t)one.width * one.height; i++) {
        assert_true(one.pixels[i] == 0 || one.pixels[i] == 255);
        zeros += one.pixels[i] == 0;
    }
    assert_true(zeros > 0 && zeros < (size_t)one.width * one.height);
    td_image_clear(&one);
    td_image_clear(&other);
    td_image_clear(&la);
    td_image_clear(&l);
    td_image_clear(&rgb);
}

/* I16.png: 16-bit grey, which PIL clips to 255 (not scaled down). Read its samples with libpng
 * directly, untransformed, and compare. */
static void test_i16_clipping(void **state)
{
    (void)state;
    FILE *f = fopen(conf_path(RES "I16.png"), "rb");
    assert_non_null(f);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_read_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    assert_int_equal(png_get_bit_depth(png, info), 16);
    png_bytepp rows = png_get_rows(png, info);
    td_image img;
    decode_file(conf_path(RES "I16.png"), &img);
    size_t clipped = 0, small = 0;
    for (uint32_t y = 0; y < img.height; y++)
        for (uint32_t x = 0; x < img.width; x++) {
            unsigned v = (unsigned)rows[y][2 * x] << 8 | rows[y][2 * x + 1];
            unsigned want = v > 255 ? 255 : v;
            assert_int_equal(img.pixels[(size_t)y * img.width + x], want);
            clipped += v > 255;
            small += v <= 255;
        }
    assert_true(clipped > 0);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    td_image_clear(&img);
    (void)small;
}

/* ---- PNG written here with libpng ---- */

struct png_out {
    struct buf b;
};
static void png_write_cb(png_structp png, png_bytep data, size_t n)
{
    put(&((struct png_out *)png_get_io_ptr(png))->b, data, n);
}
static void png_flush_cb(png_structp png) { (void)png; }

/* rows: height rows of packed samples as libpng expects them (16-bit big-endian). */
static struct buf make_png(uint32_t w, uint32_t h, int depth, int color, int interlace,
                           const uint8_t *rows, size_t rowbytes, const png_color *pal, int npal,
                           const uint8_t *trns, int ntrns)
{
    struct png_out out = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_int_equal(setjmp(png_jmpbuf(png)), 0);
    png_set_write_fn(png, &out, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(png, info, pal, npal);
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    png_bytep ptrs[64];
    for (uint32_t y = 0; y < h; y++)
        ptrs[y] = (png_bytep)rows + y * rowbytes;
    png_write_image(png, ptrs);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return out.b;
}

static void test_png_synthetic(void **state)
{
    (void)state;
    td_image img;
    td_error err;
    /* 16-bit grey: clipped, not scaled. */
    static const uint8_t g16[] = {0x00, 0x00, 0x00, 0x64, 0x00, 0xff,
                                  0x01, 0x00, 0x03, 0xe8, 0xff, 0xff};
    struct buf b = make_png(6, 1, 16, PNG_COLOR_TYPE_GRAY, 0, g16, 12, NULL, 0, NULL, 0);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 6, 1, 1, (const uint8_t[]){0, 100, 255, 255, 255, 255});
    td_image_clear(&img);
    free(b.p);
    /* 16-bit RGBA: high bytes kept, alpha dropped. */
    static const uint8_t rgba16[] = {0x12, 0x34, 0xab, 0xcd, 0xff, 0x00, 0x00, 0x01,
                                     0x80, 0x80, 0x00, 0xff, 0x7f, 0xff, 0x00, 0x00};
    b = make_png(2, 1, 16, PNG_COLOR_TYPE_RGB_ALPHA, 0, rgba16, 16, NULL, 0, NULL, 0);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 2, 1, 3, (const uint8_t[]){0x12, 0xab, 0xff, 0x80, 0x00, 0x7f});
    td_image_clear(&img);
    free(b.p);
    /* 2-bit grey expands the libpng way: v * 85. */
    static const uint8_t g2[] = {0x1b}; /* 0 1 2 3 */
    b = make_png(4, 1, 2, PNG_COLOR_TYPE_GRAY, 0, g2, 1, NULL, 0, NULL, 0);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 4, 1, 1, (const uint8_t[]){0, 85, 170, 255});
    td_image_clear(&img);
    free(b.p);
    /* 4-bit palette with tRNS: colours only. */
    static const png_color pal[3] = {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}};
    static const uint8_t trns[3] = {0, 128, 255};
    static const uint8_t p4[] = {0x21, 0x00}; /* 2 1 0 */
    b = make_png(3, 1, 4, PNG_COLOR_TYPE_PALETTE, 0, p4, 2, pal, 3, trns, 3);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 3, 1, 3, (const uint8_t[]){70, 80, 90, 40, 50, 60, 10, 20, 30});
    td_image_clear(&img);
    free(b.p);
    /* Interlaced 8-bit grey+alpha 9x9: every pixel at its place, alpha dropped. */
    uint8_t ga[9 * 18], want[81];
    for (int i = 0; i < 81; i++) {
        ga[2 * i] = (uint8_t)(i * 3);
        ga[2 * i + 1] = (uint8_t)(255 - i);
        want[i] = (uint8_t)(i * 3);
    }
    b = make_png(9, 9, 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_ADAM7, ga, 18, NULL, 0, NULL, 0);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 9, 9, 1, want);
    td_image_clear(&img);
    /* Truncated: cut in half. */
    expect_error(b.p, b.n / 2, TD_ERR_CORRUPT, "PNG");
    free(b.p);
}

static void test_png_renamed_jpg(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = read_all(conf_path(RES "LA.png"), &len);
    const char *path = write_temp("media_really_png.jpg", data, len);
    free(data);
    uint8_t *back;
    td_error err;
    assert_int_equal(td_file_read(path, TD_DEFAULT_MAX_FILE_BYTES, &back, &len, &err), TD_OK);
    assert_int_equal(td_image_sniff(back, len), TD_FORMAT_PNG);
    td_image img;
    assert_int_equal(decode_buf(back, len, &img, &err), TD_OK);
    assert_int_equal(img.width, 256);
    assert_int_equal(img.channels, 1);
    td_image_clear(&img);
    td_free(back);
}

/* ---- BMP built byte by byte ---- */

/* File header + 40-byte info header; the palette or masks follow, then the pixels at offset. */
static void bmp_headers(struct buf *b, int32_t w, int32_t h, unsigned bpp, uint32_t compression,
                        uint32_t colors, uint32_t extra)
{
    uint32_t offset = 14 + 40 + extra;
    put(b, "BM", 2);
    put32(b, 0); /* file size: not trusted */
    put32(b, 0);
    put32(b, offset);
    put32(b, 40);
    put32(b, (uint32_t)w);
    put32(b, (uint32_t)h);
    put16(b, 1);
    put16(b, bpp);
    put32(b, compression);
    put32(b, 0);
    put32(b, 2835);
    put32(b, 2835);
    put32(b, colors);
    put32(b, 0);
}

static void test_bmp_synthetic(void **state)
{
    (void)state;
    td_image img;
    td_error err;
    /* 24-bit, bottom-up, 3x2, rows padded to 12 bytes. */
    struct buf b = {0};
    bmp_headers(&b, 3, 2, 24, 0, 0, 0);
    static const uint8_t rows24[] = {
        /* bottom row: BGR */ 1, 2,  3,  4,  5,  6,  7,  8,  9,  0, 0, 0,
        /* top row */ 10,        11, 12, 13, 14, 15, 16, 17, 18, 0, 0, 0};
    put(&b, rows24, sizeof rows24);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 3, 2, 3,
                  (const uint8_t[]){12, 11, 10, 15, 14, 13, 18, 17, 16, 3, 2, 1, 6, 5, 4, 9, 8, 7});
    td_image_clear(&img);
    expect_error(b.p, b.n / 2, TD_ERR_CORRUPT, "BMP");
    free(b.p);

    /* 8-bit palette, top-down (negative height), 2x2, 3 colours used. */
    b = (struct buf){0};
    bmp_headers(&b, 2, -2, 8, 0, 3, 12);
    static const uint8_t pal[] = {0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0}; /* red, green, blue */
    put(&b, pal, sizeof pal);
    static const uint8_t idx8[] = {0, 1, 0, 0, 2, 2, 0, 0};
    put(&b, idx8, sizeof idx8);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 2, 2, 3, (const uint8_t[]){255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255});
    td_image_clear(&img);
    free(b.p);

    /* 1-bit, 10x1: bits MSB first. */
    b = (struct buf){0};
    bmp_headers(&b, 10, 1, 1, 0, 2, 8);
    static const uint8_t pal1[] = {0, 0, 0, 0, 200, 100, 50, 0};
    put(&b, pal1, sizeof pal1);
    static const uint8_t bits[] = {0xa5, 0x80, 0, 0}; /* 1010 0101 10 */
    put(&b, bits, sizeof bits);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    uint8_t want1[30];
    static const int on[10] = {1, 0, 1, 0, 0, 1, 0, 1, 1, 0};
    for (int i = 0; i < 10; i++) {
        want1[3 * i] = on[i] ? 50 : 0;
        want1[3 * i + 1] = on[i] ? 100 : 0;
        want1[3 * i + 2] = on[i] ? 200 : 0;
    }
    expect_pixels(&img, 10, 1, 3, want1);
    td_image_clear(&img);
    free(b.p);

    /* 16-bit 555 (BI_RGB) and 565 (BI_BITFIELDS), scaled as v * 255 / max, truncated. */
    b = (struct buf){0};
    bmp_headers(&b, 2, 1, 16, 0, 0, 0);
    put16(&b, 0x7fff);
    put16(&b, (10u << 10) | (20u << 5) | 30u);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 2, 1, 3,
                  (const uint8_t[]){255, 255, 255, 10 * 255 / 31, 20 * 255 / 31, 30 * 255 / 31});
    td_image_clear(&img);
    free(b.p);
    b = (struct buf){0};
    bmp_headers(&b, 1, 1, 16, 3, 0, 12);
    put32(&b, 0xf800);
    put32(&b, 0x07e0);
    put32(&b, 0x001f);
    put16(&b, (3u << 11) | (40u << 5) | 7u);
    put16(&b, 0);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 1, 1, 3, (const uint8_t[]){3 * 255 / 31, 40 * 255 / 63, 7 * 255 / 31});
    td_image_clear(&img);
    free(b.p);

    /* 32-bit BI_BITFIELDS with alpha in the top byte: alpha dropped. */
    b = (struct buf){0};
    bmp_headers(&b, 2, 1, 32, 3, 0, 12);
    put32(&b, 0x00ff0000);
    put32(&b, 0x0000ff00);
    put32(&b, 0x000000ff);
    put32(&b, 0x80102030);
    put32(&b, 0x00405060);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 2, 1, 3, (const uint8_t[]){0x10, 0x20, 0x30, 0x40, 0x50, 0x60});
    td_image_clear(&img);
    free(b.p);

    /* RLE8, 4x2 bottom-up: a run, an absolute run, end of line, end of bitmap. */
    b = (struct buf){0};
    bmp_headers(&b, 4, 2, 8, 1, 2, 8);
    static const uint8_t palr[] = {9, 9, 9, 0, 1, 2, 3, 0};
    put(&b, palr, sizeof palr);
    static const uint8_t rle[] = {4, 1, 0, 0,       /* bottom row: 4 x index 1 */
                                  0, 3, 1, 0, 1, 0, /* top: absolute 1 0 1 (padded) */
                                  0, 1};
    put(&b, rle, sizeof rle);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 4, 2, 3,
                  (const uint8_t[]){3, 2, 1, 9, 9, 9, 3, 2, 1, 9, 9, 9, /* last: index 0 */
                                    3, 2, 1, 3, 2, 1, 3, 2, 1, 3, 2, 1});
    td_image_clear(&img);
    free(b.p);

    /* Old OS/2 core header: 12 bytes, 3-byte palette entries, 4-bit. */
    b = (struct buf){0};
    put(&b, "BM", 2);
    put32(&b, 0);
    put32(&b, 0);
    put32(&b, 14 + 12 + 16 * 3);
    put32(&b, 12);
    put16(&b, 3);
    put16(&b, 1);
    put16(&b, 1);
    put16(&b, 4);
    for (int i = 0; i < 16; i++) {
        put8(&b, i); /* B */
        put8(&b, i * 2);
        put8(&b, i * 3); /* R */
    }
    static const uint8_t nib[] = {0x5a, 0xf0, 0, 0};
    put(&b, nib, sizeof nib);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 3, 1, 3, (const uint8_t[]){15, 10, 5, 30, 20, 10, 45, 30, 15});
    td_image_clear(&img);
    free(b.p);

    /* Unsupported compression (BI_JPEG) says so. */
    b = (struct buf){0};
    bmp_headers(&b, 1, 1, 24, 4, 0, 0);
    put32(&b, 0);
    expect_error(b.p, b.n, TD_ERR_UNSUPPORTED, "compression");
    free(b.p);
}

/* ---- GIF built byte by byte ---- */

/* LZW with 3-bit codes (minimum code size 2): a clear code before every pair of pixels keeps
 * the table from growing, so the code width never changes. */
static void gif_pixels(struct buf *b, const uint8_t *idx, size_t n)
{
    struct buf codes = {0};
    uint32_t acc = 0;
    int nbits = 0;
    size_t ncodes = 0;
    uint16_t list[4096];
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0)
            list[ncodes++] = 4; /* clear */
        list[ncodes++] = idx[i];
    }
    list[ncodes++] = 5; /* end of information */
    for (size_t i = 0; i < ncodes; i++) {
        acc |= (uint32_t)list[i] << nbits;
        nbits += 3;
        while (nbits >= 8) {
            put8(&codes, acc & 0xff);
            acc >>= 8;
            nbits -= 8;
        }
    }
    if (nbits)
        put8(&codes, acc & 0xff);
    put8(b, 2); /* minimum code size */
    for (size_t off = 0; off < codes.n; off += 255) {
        size_t chunk = codes.n - off < 255 ? codes.n - off : 255;
        put8(b, (unsigned)chunk);
        put(b, codes.p + off, chunk);
    }
    put8(b, 0);
    free(codes.p);
}

static const uint8_t gif_pal[4][3] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};

static void gif_screen(struct buf *b, unsigned w, unsigned h, unsigned bg)
{
    put(b, "GIF89a", 6);
    put16(b, w);
    put16(b, h);
    put8(b, 0x80 | 0x01); /* global colour table of 4 entries */
    put8(b, bg);
    put8(b, 0);
    put(b, gif_pal, sizeof gif_pal);
}

static void gif_frame(struct buf *b, unsigned x, unsigned y, unsigned w, unsigned h, int interlace,
                      const uint8_t *idx)
{
    put8(b, 0x2c);
    put16(b, x);
    put16(b, y);
    put16(b, w);
    put16(b, h);
    put8(b, interlace ? 0x40 : 0);
    gif_pixels(b, idx, (size_t)w * h);
}

static void expand(const uint8_t *idx, size_t n, const uint8_t pal[][3], uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        memcpy(out + 3 * i, pal[idx[i]], 3);
}

static void test_gif_synthetic(void **state)
{
    (void)state;
    td_image img;
    td_error err;
    uint8_t want[3 * 64];
    /* 4x3, whole screen, then a second frame that must be ignored. */
    static const uint8_t idx[12] = {0, 1, 2, 3, 3, 2, 1, 0, 1, 1, 2, 2};
    static const uint8_t other[12] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    struct buf b = {0};
    gif_screen(&b, 4, 3, 0);
    gif_frame(&b, 0, 0, 4, 3, 0, idx);
    static const uint8_t gce[] = {0x21, 0xf9, 4, 0, 10, 0, 0, 0};
    put(&b, gce, sizeof gce);
    gif_frame(&b, 0, 0, 4, 3, 0, other);
    put8(&b, 0x3b);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expand(idx, 12, gif_pal, want);
    expect_pixels(&img, 4, 3, 3, want);
    td_image_clear(&img);
    expect_error(b.p, 40, TD_ERR_CORRUPT, "GIF");
    free(b.p);

    /* Interlaced 2x10: stored rows are 0 8 | 4 | 2 6 | 1 3 5 7 9. */
    uint8_t rows[20], stored[20];
    for (int y = 0; y < 10; y++)
        rows[2 * y] = rows[2 * y + 1] = (uint8_t)(y % 4);
    static const int order[10] = {0, 8, 4, 2, 6, 1, 3, 5, 7, 9};
    for (int i = 0; i < 10; i++)
        memcpy(stored + 2 * i, rows + 2 * order[i], 2);
    b = (struct buf){0};
    gif_screen(&b, 2, 10, 0);
    gif_frame(&b, 0, 0, 2, 10, 1, stored);
    put8(&b, 0x3b);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expand(rows, 20, gif_pal, want);
    expect_pixels(&img, 2, 10, 3, want);
    td_image_clear(&img);
    free(b.p);

    /* A 2x1 frame at (1,1) on a 3x3 screen: uncovered pixels hold index 0 (Pillow's frame 0). */
    static const uint8_t small[2] = {2, 3};
    b = (struct buf){0};
    gif_screen(&b, 3, 3, 1);
    gif_frame(&b, 1, 1, 2, 1, 0, small);
    put8(&b, 0x3b);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    static const uint8_t canvas[9] = {0, 0, 0, 0, 2, 3, 0, 0, 0};
    expand(canvas, 9, gif_pal, want);
    expect_pixels(&img, 3, 3, 3, want);
    td_image_clear(&img);
    free(b.p);

    /* Same with a transparent index (1) in a graphic control extension: the canvas takes it. */
    b = (struct buf){0};
    gif_screen(&b, 3, 3, 0);
    static const uint8_t gce_t[] = {0x21, 0xf9, 4, 0x01, 0, 0, 1, 0};
    put(&b, gce_t, sizeof gce_t);
    gif_frame(&b, 1, 1, 2, 1, 0, small);
    put8(&b, 0x3b);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    static const uint8_t canvas_t[9] = {1, 1, 1, 1, 2, 3, 1, 1, 1};
    expand(canvas_t, 9, gif_pal, want);
    expect_pixels(&img, 3, 3, 3, want);
    td_image_clear(&img);
    free(b.p);

    /* A local colour table wins over the global one. */
    static const uint8_t local[4][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}};
    b = (struct buf){0};
    gif_screen(&b, 2, 1, 0);
    put8(&b, 0x2c);
    put16(&b, 0);
    put16(&b, 0);
    put16(&b, 2);
    put16(&b, 1);
    put8(&b, 0x80 | 0x01);
    put(&b, local, sizeof local);
    static const uint8_t two[2] = {3, 1};
    gif_pixels(&b, two, 2);
    put8(&b, 0x3b);
    assert_int_equal(decode_buf(b.p, b.n, &img, &err), TD_OK);
    expect_pixels(&img, 2, 1, 3, (const uint8_t[]){10, 11, 12, 4, 5, 6});
    td_image_clear(&img);
    free(b.p);

    /* No image at all. */
    b = (struct buf){0};
    gif_screen(&b, 2, 1, 0);
    put8(&b, 0x3b);
    expect_error(b.p, b.n, TD_ERR_CORRUPT, "no image");
    free(b.p);
}

/* ---- WebP: a still image and a hand-made animation ---- */

/* One 4x4 animation frame at (0,0), not blended, holding a complete VP8L chunk. */
static void anmf(struct buf *b, const uint8_t *chunk, size_t n)
{
    put(b, "ANMF", 4);
    put32(b, (uint32_t)(16 + n));
    for (int i = 0; i < 4; i++) { /* x/2, y/2, w-1, h-1: 24 bits each */
        put16(b, i < 2 ? 0 : 3);
        put8(b, 0);
    }
    put16(b, 100); /* duration */
    put8(b, 0);
    put8(b, 0x02); /* do not blend */
    put(b, chunk, n);
}

static void test_webp_synthetic(void **state)
{
    (void)state;
    uint8_t rgba[4 * 4 * 4], rgb[4 * 4 * 3];
    for (int i = 0; i < 16; i++) {
        rgba[4 * i] = rgb[3 * i] = (uint8_t)(i * 16);
        rgba[4 * i + 1] = rgb[3 * i + 1] = (uint8_t)(255 - i * 16);
        rgba[4 * i + 2] = rgb[3 * i + 2] = (uint8_t)(i * 7);
        rgba[4 * i + 3] = (uint8_t)(10 + i * 15); /* must not be composited */
    }
    uint8_t *still = NULL;
    size_t n = WebPEncodeLosslessRGBA(rgba, 4, 4, 16, &still);
    assert_true(n > 20);
    td_image img;
    td_error err;
    assert_int_equal(decode_buf(still, n, &img, &err), TD_OK);
    expect_pixels(&img, 4, 4, 3, rgb);
    td_image_clear(&img);

    /* Animation: VP8X (animation flag), ANIM, then one ANMF per frame holding the lossless
     * bitstream; the second frame is different and must not show. */
    size_t payload = n - 12; /* the VP8L chunk of the still file */
    struct buf b = {0};
    put(&b, "RIFF", 4);
    put32(&b, 0); /* patched below */
    put(&b, "WEBPVP8X", 8);
    put32(&b, 10);
    put8(&b, 0x02 | 0x10); /* animation, alpha */
    put8(&b, 0);
    put16(&b, 0);
    put16(&b, 3); /* canvas width - 1, 24 bits */
    put8(&b, 0);
    put16(&b, 3);
    put8(&b, 0);
    put(&b, "ANIM", 4);
    put32(&b, 6);
    put32(&b, 0xffffffff);
    put16(&b, 0);
    anmf(&b, still + 12, payload);
    uint8_t grey[4 * 4 * 4];
    memset(grey, 0x80, sizeof grey);
    uint8_t *second = NULL;
    size_t n2 = WebPEncodeLosslessRGBA(grey, 4, 4, 16, &second);
    assert_true(n2 > 12);
    anmf(&b, second + 12, n2 - 12);
    WebPFree(second);
    uint32_t riff = (uint32_t)(b.n - 8);
    b.p[4] = riff & 0xff;
    b.p[5] = (riff >> 8) & 0xff;
    b.p[6] = (riff >> 16) & 0xff;
    b.p[7] = riff >> 24;
    td_status st = decode_buf(b.p, b.n, &img, &err);
    if (st != TD_OK)
        fail_msg("animated WebP: %s", err.message);
    expect_pixels(&img, 4, 4, 3, rgb);
    td_image_clear(&img);
    free(b.p);

    /* Truncated still WebP (the shared file cut in half). */
    size_t len;
    uint8_t *data = read_all(conf_path(MODES "F.webp"), &len);
    expect_error(data, len / 2, TD_ERR_CORRUPT, "WebP");
    free(data);
    WebPFree(still);
}

/* ---- JPEG ---- */

static void test_jpeg_truncated_and_scaled(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = read_all(conf_path(MODES "RGB.jpg"), &len);
    expect_error(data, len / 2, TD_ERR_CORRUPT, "Premature end of JPEG file");
    expect_error(data, 100, TD_ERR_CORRUPT, "JPEG");
    free(data);
    data = read_all(conf_path("threatexchange/pdq/data/misc-images/small.jpg"), &len);
    expect_error(data, len / 2, TD_ERR_CORRUPT, "JPEG"); /* progressive */
    free(data);

    /* min_side: 1/8 scale when both reduced sides stay >= min_side, else full size. */
    data = read_all(conf_path(MODES "original.jpg"), &len); /* 1600x1004 */
    static const struct {
        uint32_t min_side, w, h;
    } cases[] = {
        {0, 1600, 1004}, {64, 200, 126}, {126, 200, 126}, {127, 1600, 1004}, {5000, 1600, 1004}};
    td_image full;
    td_error err;
    assert_int_equal(decode_buf(data, len, &full, &err), TD_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        td_decode_options o;
        td_decode_options_default(&o);
        o.min_side = cases[i].min_side;
        td_image img;
        assert_int_equal(td_image_decode(data, len, &o, &img, &err), TD_OK);
        assert_int_equal(img.width, cases[i].w);
        assert_int_equal(img.height, cases[i].h);
        assert_int_equal(img.channels, 3);
        assert_int_equal(img.full_width, 1600);
        assert_int_equal(img.full_height, 1004);
        /* The reduced image is the full one, averaged: compare one block's mean. */
        uint32_t f = 1600 / img.width;
        double sum = 0;
        for (uint32_t y = 0; y < f; y++)
            for (uint32_t x = 0; x < f; x++)
                sum += full.pixels[((size_t)(500 + y) * 1600 + 800 + x) * 3];
        int pix = img.pixels[((size_t)(500 / f) * img.width + 800 / f) * 3];
        assert_true(abs(pix - (int)(sum / (f * f))) < 24);
        td_image_clear(&img);
    }
    td_image_clear(&full);
    free(data);
}

/* A smooth colour picture encoded with libjpeg, baseline or progressive (4:2:0, quality 90). */
static uint8_t *encode_jpeg(uint32_t w, uint32_t h, int progressive, size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *buf = NULL;
    unsigned long size = 0;
    uint8_t *row = malloc((size_t)w * 3);
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &size);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            row[3 * x] = (uint8_t)((x * 255) / w);
            row[3 * x + 1] = (uint8_t)((y * 255) / h);
            row[3 * x + 2] = (uint8_t)(((x / 64 + y / 64) % 2) * 200);
        }
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    uint8_t *copy = malloc(size);
    memcpy(copy, buf, size);
    free(buf);
    *len = size;
    return copy;
}

/* Fast decoding: 1/8 scale, luma only, and for progressive files only the DC scans. Each pixel
 * must be the mean luma of its 8x8 block of the full decode. */
static void test_jpeg_fast_block_means(void **state)
{
    (void)state;
    for (int progressive = 0; progressive <= 1; progressive++) {
        size_t len;
        uint8_t *data = encode_jpeg(1600, 1200, progressive, &len);
        td_image full, fast;
        td_error err;
        td_decode_options o;
        assert_int_equal(decode_buf(data, len, &full, &err), TD_OK);
        td_decode_options_default(&o);
        o.min_side = 128;
        o.luma_only = 1;
        if (td_image_decode(data, len, &o, &fast, &err) != TD_OK)
            fail_msg("fast decode: %s", err.message);
        assert_int_equal(fast.width, 200);
        assert_int_equal(fast.height, 150);
        assert_int_equal(fast.channels, 1);
        assert_int_equal(fast.full_width, 1600);
        assert_int_equal(fast.full_height, 1200);
        double worst = 0;
        for (uint32_t by = 0; by < 150; by += 7) {
            for (uint32_t bx = 0; bx < 200; bx += 7) {
                double sum = 0;
                for (uint32_t y = 0; y < 8; y++) {
                    for (uint32_t x = 0; x < 8; x++) {
                        const uint8_t *p =
                            full.pixels + (((size_t)(by * 8 + y)) * 1600 + bx * 8 + x) * 3;
                        sum += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
                    }
                }
                double diff = sum / 64 - fast.pixels[(size_t)by * 200 + bx];
                worst = diff < 0 ? (-diff > worst ? -diff : worst) : (diff > worst ? diff : worst);
            }
        }
        if (worst > 6)
            fail_msg("%s: a block mean is off by %.1f grey levels",
                     progressive ? "progressive" : "baseline", worst);
        td_image_clear(&fast);
        /* Too small for 1/8 at this min_side: full size. */
        o.min_side = 151;
        assert_int_equal(td_image_decode(data, len, &o, &fast, &err), TD_OK);
        assert_int_equal(fast.width, 1600);
        td_image_clear(&fast);
        td_image_clear(&full);
        free(data);
    }
}

/* ---- limits ---- */

static void test_limits_huge_headers(void **state)
{
    (void)state;
    struct buf b = {0};
    /* JPEG: SOI, SOF0 65500x65500 with 3 components (libjpeg's largest). */
    static const uint8_t jpg[] = {0xff, 0xd8, 0xff, 0xc0, 0,    17, 8, 0xff, 0xdc, 0xff, 0xdc, 3,
                                  1,    0x11, 0,    2,    0x11, 0,  3, 0x11, 0,    0xff, 0xda, 0,
                                  12,   3,    1,    0,    2,    0,  3, 0,    0,    63,   0};
    expect_error(jpg, sizeof jpg, TD_ERR_LIMIT,
                 "image is 65500x65500 (4290250000 pixels), limit is 100000000 (max_pixels)");

    /* PNG: signature and an IHDR of 100000x100000 (CRC not even needed to be refused). */
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    put(&b, sig, 8);
    put32be(&b, 13);
    put(&b, "IHDR", 4);
    put32be(&b, 100000);
    put32be(&b, 100000);
    static const uint8_t ihdr_rest[] = {8, 2, 0, 0, 0, 0, 0, 0, 0};
    put(&b, ihdr_rest, sizeof ihdr_rest);
    expect_error(b.p, b.n, TD_ERR_LIMIT,
                 "image is 100000x100000 (10000000000 pixels), limit is 100000000 (max_pixels)");
    free(b.p);

    /* WebP: a VP8X canvas of 60000x60000, flagged as an animation (libwebp itself refuses
     * canvases of 2^32 pixels or more). */
    b = (struct buf){0};
    put(&b, "RIFF", 4);
    put32(&b, 4 + 18 + 14);
    put(&b, "WEBPVP8X", 8);
    put32(&b, 10);
    put32(&b, 0x02);
    put16(&b, (60000 - 1) & 0xffff);
    put8(&b, (60000 - 1) >> 16);
    put16(&b, (60000 - 1) & 0xffff);
    put8(&b, (60000 - 1) >> 16);
    put(&b, "ANIM", 4);
    put32(&b, 6);
    put32(&b, 0);
    put16(&b, 0);
    expect_error(b.p, b.n, TD_ERR_LIMIT, "image is 60000x60000 (3600000000 pixels)");
    free(b.p);

    /* GIF: 65535x65535 screen and frame (GIF's largest). */
    b = (struct buf){0};
    gif_screen(&b, 65535, 65535, 0);
    put8(&b, 0x2c);
    put16(&b, 0);
    put16(&b, 0);
    put16(&b, 65535);
    put16(&b, 65535);
    put8(&b, 0);
    put8(&b, 2);
    put8(&b, 0);
    put8(&b, 0x3b);
    expect_error(b.p, b.n, TD_ERR_LIMIT, "image is 65535x65535 (4294836225 pixels)");
    free(b.p);

    /* BMP: 100000x100000, 24-bit, no pixel data at all. */
    b = (struct buf){0};
    bmp_headers(&b, 100000, 100000, 24, 0, 0, 0);
    put32(&b, 0);
    expect_error(b.p, b.n, TD_ERR_LIMIT, "image is 100000x100000 (10000000000 pixels)");
    free(b.p);

    /* Zero sides are corrupt, not a limit. */
    b = (struct buf){0};
    bmp_headers(&b, 0, 5, 24, 0, 0, 0);
    put32(&b, 0);
    expect_error(b.p, b.n, TD_ERR_CORRUPT, "zero width or height");
    free(b.p);

    /* A smaller max_pixels refuses a real picture. */
    size_t len;
    uint8_t *data = read_all(conf_path(RES "rgb.jpeg"), &len);
    td_decode_options o;
    td_decode_options_default(&o);
    o.max_pixels = 256 * 255;
    td_image img;
    td_error err;
    assert_int_equal(td_image_decode(data, len, &o, &img, &err), TD_ERR_LIMIT);
    assert_non_null(strstr(err.message, "limit is 65280 (max_pixels)"));
    o.max_pixels = 256 * 256;
    assert_int_equal(td_image_decode(data, len, &o, &img, &err), TD_OK);
    td_image_clear(&img);
    free(data);
}

static void test_limits_file_size(void **state)
{
    (void)state;
    const char *path = conf_path(MODES "RGB.jpg");
    size_t len;
    uint8_t *data = read_all(path, &len);
    uint8_t *got;
    size_t got_len;
    td_error err;
    char want[200];
    snprintf(want, sizeof want, "file is %zu bytes, limit is 1000 (max_file_bytes)", len);
    assert_int_equal(td_file_read(path, 1000, &got, &got_len, &err), TD_ERR_LIMIT);
    assert_string_equal(err.message, want);
    assert_null(got);
    assert_int_equal(td_file_read(path, len, &got, &got_len, &err), TD_OK);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, data, len);
    td_free(got);

    td_decode_options o;
    td_decode_options_default(&o);
    o.max_file_bytes = 1000;
    td_image img;
    assert_int_equal(td_image_decode(data, len, &o, &img, &err), TD_ERR_LIMIT);
    assert_non_null(strstr(err.message, "limit is 1000 (max_file_bytes)"));
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_unknown_and_empty),
        cmocka_unit_test(test_conformance_modes),
        cmocka_unit_test(test_same_picture),
        cmocka_unit_test(test_i16_clipping),
        cmocka_unit_test(test_png_synthetic),
        cmocka_unit_test(test_png_renamed_jpg),
        cmocka_unit_test(test_bmp_synthetic),
        cmocka_unit_test(test_gif_synthetic),
        cmocka_unit_test(test_webp_synthetic),
        cmocka_unit_test(test_jpeg_truncated_and_scaled),
        cmocka_unit_test(test_jpeg_fast_block_means),
        cmocka_unit_test(test_limits_huge_headers),
        cmocka_unit_test(test_limits_file_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
