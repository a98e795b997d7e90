/* Conformance: takedown's PDQ against the full-resolution reference hashes in
 * ../shared/conformance (cpp_fullres_pdq.csv, and python-threatexchange's own test vectors).
 * The rows of cpp_fullres_pdq.csv for images with alpha were made by compositing onto white,
 * whereas takedown drops alpha as PIL's convert("RGB") does; for these files both give the same
 * hash, so every row is checked. python-threatexchange's LA.png vector (computed through PIL)
 * checks the dropping of alpha itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"
#include "takedown/takedown.h"

static void check_file(const char *relative, const char *expected_hex, int expected_quality)
{
    td_file_hashes h;
    td_error err;
    char hex[65];
    td_status st = td_hash_file(conf_path(relative), NULL, &h, &err);
    if (st != TD_OK)
        fail_msg("%s: %s", relative, err.message);
    td_pdq_to_hex(&h.pdq[0], hex);
    if (strcmp(hex, expected_hex) != 0 ||
        (expected_quality >= 0 && h.quality != expected_quality)) {
        td_pdq want;
        assert_int_equal(td_pdq_from_hex(expected_hex, 64, &want), TD_OK);
        fail_msg("%s:\n  got      %s q=%d\n  expected %s q=%d (distance %d)", relative, hex,
                 h.quality, expected_hex, expected_quality, td_pdq_distance(&h.pdq[0], &want));
    }
}

static void test_cpp_fullres(void **state)
{
    (void)state;
    FILE *f = fopen(conf_path("threatexchange/expected/cpp_fullres_pdq.csv"), "r");
    char line[1024], path[600];
    int rows = 0;
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    assert_string_equal(line, "hash,quality,file\n");
    while (fgets(line, sizeof line, f)) {
        char hex[65], file[512];
        int quality;
        if (sscanf(line, "%64[0-9a-f],%d,%511[^\n]", hex, &quality, file) != 3)
            fail_msg("unparsable row: %s", line);
        snprintf(path, sizeof path, "threatexchange/%s", file);
        check_file(path, hex, quality);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 49);
}

static void test_python_threatexchange_vectors(void **state)
{
    (void)state;
    const char *dir =
        "threatexchange/python-threatexchange/threatexchange/tests/hashing/resources/";
    char path[512];
    snprintf(path, sizeof path, "%sLA.png", dir);
    check_file(path, "accb6d39648035f8125c8ce6ba65007de7b54c67a2d93ef7b8f33b0611306715", 100);
    snprintf(path, sizeof path, "%sI16.png", dir);
    check_file(path, "de2ef0e99ecdfc1d248a0eb055f023d1d61e79c3920cbb55d561c02accab1763", 36);
    snprintf(path, sizeof path, "%srgb.jpeg", dir);
    check_file(path, "fb4eed46cb8a6c78819ca06b756c541f7b07ef6d02c82fccd00f862166272cda", 100);
}

/* Every image of misc-images/modes is hashed (none is refused): the PIL modes it exercises
 * (1, CMYK, F, HSV, I, L, LA, LAB, P, PA, RGB, RGBA, YCbCr) all arrive as files in formats
 * takedown decodes. */
static void test_modes_all_hash(void **state)
{
    (void)state;
    static const char *const files[] = {
        "1.png",    "CMYK.jpg", "F.webp",  "HSV.webp", "I.webp",   "L.png",     "LA.png",
        "LAB.webp", "P.png",    "PA.webp", "RGB.jpg",  "RGBA.png", "YCbCr.jpg", "original.jpg"};
    td_file_hashes original, h;
    td_error err;
    assert_int_equal(td_hash_file(conf_path("threatexchange/pdq/data/misc-images/modes/"
                                            "original.jpg"),
                                  NULL, &original, &err),
                     TD_OK);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "threatexchange/pdq/data/misc-images/modes/%s", files[i]);
        if (td_hash_file(conf_path(rel), NULL, &h, &err) != TD_OK)
            fail_msg("%s: %s", files[i], err.message);
        assert_int_equal(h.quality, 100);
        /* All are the same picture in another mode: the hashes stay close. */
        int d = td_pdq_distance(&h.pdq[0], &original.pdq[0]);
        if (d > 16)
            fail_msg("%s is %d bits from original.jpg", files[i], d);
    }
}

/* The dihedral variants of the original bridge image are close to the full-resolution hashes
 * of the pixel-rotated files (the pixel rotation is not exactly the DCT-domain one, since the
 * filter is not symmetric at the edges). */
static void test_dihedral_matches_rotated_files(void **state)
{
    (void)state;
    static const char *const files[] = {"bridge-1-original.jpg",    "bridge-2-rotate-90.jpg",
                                        "bridge-3-rotate-180.jpg",  "bridge-4-rotate-270.jpg",
                                        "bridge-5-flipx.jpg",       "bridge-6-flipy.jpg",
                                        "bridge-7-flip-plus-1.jpg", "bridge-8-flip-minus-1.jpg"};
    td_hash_options opts;
    td_file_hashes base, rotated;
    td_error err;
    char rel[256];
    td_hash_options_default(&opts);
    opts.dihedral = 1;
    snprintf(rel, sizeof rel, "threatexchange/pdq/data/reg-test-input/dih/%s", files[0]);
    assert_int_equal(td_hash_file(conf_path(rel), &opts, &base, &err), TD_OK);
    assert_int_equal(base.n_pdq, 8);
    for (int v = 0; v < TD_DIH_COUNT; v++) {
        snprintf(rel, sizeof rel, "threatexchange/pdq/data/reg-test-input/dih/%s", files[v]);
        assert_int_equal(td_hash_file(conf_path(rel), NULL, &rotated, &err), TD_OK);
        for (int w = 0; w < TD_DIH_COUNT; w++) {
            int d = td_pdq_distance(&base.pdq[w], &rotated.pdq[0]);
            if (w == v && d > TD_PDQ_MATCH_DISTANCE)
                fail_msg("%s: variant %s is %d bits away", files[v],
                         td_dihedral_name((td_dihedral)w), d);
            if (w != v && d <= TD_PDQ_MATCH_DISTANCE)
                fail_msg("%s: wrong variant %s matches (%d bits)", files[v],
                         td_dihedral_name((td_dihedral)w), d);
        }
    }
}

/* Fast mode (JPEGs decoded at reduced scale, luma only) stays within 10 bits of the exact hash
 * on the conformance photos of quality >= 80, the reference's criterion for alternative
 * implementations; on the 12-megapixel EXIF photos it uses 1/8-scale decoding. */
static void test_fast_mode_close_to_exact(void **state)
{
    (void)state;
    static const char *const files[] = {
        "pdq/data/reg-test-input/exif-rotn/exif-rotn-1.jpg",
        "pdq/data/reg-test-input/exif-rotn/exif-rotn-6.jpg",
        "pdq/data/reg-test-input/dih/bridge-1-original.jpg",
        "pdq/data/reg-test-input/dih/bridge-4-rotate-270.jpg",
        "pdq/data/bridge-mods/aaa-orig.jpg",
        "pdq/data/reg-test-input/labelme-subset/q0122.jpg",
        "pdq/data/misc-images/modes/CMYK.jpg",
        "pdq/data/reg-test-input/pen-and-coaster.png",
    };
    td_hash_options fast;
    td_hash_options_default(&fast);
    fast.fast = 1;
    int reduced = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[256];
        td_file_hashes exact, approx;
        td_error err;
        snprintf(rel, sizeof rel, "threatexchange/%s", files[i]);
        assert_int_equal(td_hash_file(conf_path(rel), NULL, &exact, &err), TD_OK);
        assert_int_equal(td_hash_file(conf_path(rel), &fast, &approx, &err), TD_OK);
        int d = td_pdq_distance(&exact.pdq[0], &approx.pdq[0]);
        if (exact.quality >= 80 && d > 10)
            fail_msg("%s: fast hash is %d bits from the exact one", files[i], d);
        /* The digests are of the file bytes, whatever the decoding. */
        assert_string_equal(exact.sha256, approx.sha256);
        reduced += exact.width >= 1024;
    }
    assert_true(reduced >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpp_fullres),
        cmocka_unit_test(test_python_threatexchange_vectors),
        cmocka_unit_test(test_modes_all_hash),
        cmocka_unit_test(test_dihedral_matches_rotated_files),
        cmocka_unit_test(test_fast_mode_close_to_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
