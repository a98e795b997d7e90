/* Video: decoding limits and errors, vPDQ and TMK+PDQF against the reference's sample hashes,
 * the hash-file format, the matching rule, and the vPDQ index against brute force.
 *
 * The conformance test hashes every frame of a subset of the sample videos by default (a few
 * seconds; it also runs under ASan); TD_VIDEO_FULL=1 runs all fourteen. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/support.h"
#include "takedown/index.h"
#include "takedown/video_hash.h"

static const char *const all_videos[] = {"chair-19-sd-bar",
                                         "chair-20-sd-bar",
                                         "chair-22-sd-grey-bar",
                                         "chair-22-sd-sepia-bar",
                                         "chair-22-with-large-logo-bar",
                                         "chair-22-with-small-logo-bar",
                                         "chair-orig-22-sd-bar",
                                         "doorknob-hd-no-bar",
                                         "pattern-hd-no-bar",
                                         "pattern-longer-no-bar",
                                         "pattern-sd-grey-bar",
                                         "pattern-sd-with-large-logo-bar",
                                         "pattern-sd-with-small-logo-bar",
                                         "test-padded-dimensions"};
static const char *const quick_videos[] = {"chair-19-sd-bar", "doorknob-hd-no-bar",
                                           "pattern-sd-grey-bar", "test-padded-dimensions"};

static const char *video_path(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "threatexchange/tmk/sample-videos/%s.mp4", name);
    return conf_path(rel);
}

static void expected_md5(const char *name, char out[33])
{
    size_t len;
    char *text = (char *)read_all(conf_path("threatexchange/expected/md5_sample_videos.txt"), &len);
    text[len] = '\0';
    char needle[300];
    snprintf(needle, sizeof needle, "tmk/sample-videos/%s.mp4", name);
    char *at = strstr(text, needle);
    assert_non_null(at);
    char *line = at;
    while (line > text && line[-1] != '\n')
        line--;
    memcpy(out, line, 32);
    out[32] = '\0';
    free(text);
}

static void check_video(const char *name)
{
    td_video_hash_options o;
    td_video_hash_options_default(&o);
    o.seconds_per_hash = 0;
    char rel[256];
    snprintf(rel, sizeof rel, "threatexchange/tmk/sample-hashes/%s.tmk", name);
    const char *tmk_path = conf_path(rel);
    struct stat sb;
    o.tmk = stat(tmk_path, &sb) == 0;

    td_video_hashes h;
    td_error err;
    td_status s = td_video_hash_file(video_path(name), &o, &h, &err);
    if (s != TD_OK)
        fail_msg("%s: %s", name, err.message);

    char md5[33];
    expected_md5(name, md5);
    assert_string_equal(h.md5, md5);

    /* vPDQ: same frames and timestamps, per-frame distance below 31 where both are good */
    snprintf(rel, sizeof rel, "threatexchange/vpdq/sample-hashes/%s.txt", name);
    size_t len;
    char *text = (char *)read_all(conf_path(rel), &len);
    td_vpdq ref;
    assert_int_equal(td_vpdq_parse(text, len, 0, &ref, &err), TD_OK);
    assert_int_equal(h.vpdq.count, ref.count);
    assert_int_equal(h.frames, ref.count);
    size_t compared = 0;
    for (size_t i = 0; i < ref.count; i++) {
        const td_vpdq_frame *a = &h.vpdq.frames[i], *b = &ref.frames[i];
        char ta[32], tb[32];
        assert_int_equal(a->frame, b->frame);
        snprintf(ta, sizeof ta, "%.3f", a->timestamp);
        snprintf(tb, sizeof tb, "%.3f", b->timestamp);
        assert_string_equal(ta, tb);
        if (a->quality >= TD_PDQ_MIN_QUALITY && b->quality >= TD_PDQ_MIN_QUALITY) {
            int d = td_pdq_distance(&a->hash, &b->hash);
            if (d >= 31)
                fail_msg("%s frame %u: distance %d", name, a->frame, d);
            compared++;
        }
    }
    assert_true(compared > 0);
    /* the whole video matches its reference hash under the vPDQ rule, both ways */
    td_vpdq_match_result r;
    assert_int_equal(td_vpdq_match(&h.vpdq, &ref, NULL, &r, &err), TD_OK);
    assert_true(r.match);
    assert_true(r.query_percent >= 99.0);

    if (o.tmk) {
        td_tmk *expected;
        assert_int_equal(td_tmk_load(tmk_path, &expected, &err), TD_OK);
        float l1 = td_tmk_level1(h.tmk, expected), l2 = td_tmk_level2(h.tmk, expected);
        if (l1 < 0.99f || l2 < 0.99f)
            fail_msg("%s: TMK level 1 %f, level 2 %f", name, l1, l2);
        assert_int_equal(h.tmk->frame_count, expected->frame_count);
        td_free(expected);
    }
    td_vpdq_clear(&ref);
    free(text);
    td_video_hashes_clear(&h);
}

static void test_conformance(void **state)
{
    (void)state;
    const char *full = getenv("TD_VIDEO_FULL");
    if (full && strcmp(full, "1") == 0) {
        for (size_t i = 0; i < sizeof all_videos / sizeof all_videos[0]; i++)
            check_video(all_videos[i]);
    } else {
        for (size_t i = 0; i < sizeof quick_videos / sizeof quick_videos[0]; i++)
            check_video(quick_videos[i]);
    }
}

static void test_sampling(void **state)
{
    (void)state;
    td_video_hash_options o;
    td_video_hash_options_default(&o); /* 1 s: every 30th frame at 30 fps */
    td_video_hashes h;
    td_error err;
    assert_int_equal(td_video_hash_file(video_path("chair-19-sd-bar"), &o, &h, &err), TD_OK);
    assert_int_equal(h.frames, 564);
    assert_int_equal(h.vpdq.count, 19); /* frames 0, 30, ..., 540 */
    for (size_t i = 0; i < h.vpdq.count; i++)
        assert_int_equal(h.vpdq.frames[i].frame, i * 30);
    assert_null(h.tmk);
    td_video_hashes_clear(&h);
}

static void test_hash_file_format(void **state)
{
    (void)state;
    size_t len;
    char *text =
        (char *)read_all(conf_path("threatexchange/vpdq/sample-hashes/chair-19-sd-bar.txt"), &len);
    td_vpdq v;
    td_error err;
    assert_int_equal(td_vpdq_parse(text, len, 0, &v, &err), TD_OK);
    assert_int_equal(v.count, 564);
    char *out;
    size_t out_len;
    assert_int_equal(td_vpdq_to_text(&v, &out, &out_len, &err), TD_OK);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, text, len);
    td_free(out);
    td_vpdq_clear(&v);
    free(text);

    static const char *const bad[] = {
        "1,100,abc,0.000\n", "x,1,0,0\n",
        "0,101,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.0\n",
        "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(td_vpdq_parse(bad[i], strlen(bad[i]), 0, &v, &err), TD_ERR_INVALID);
        assert_non_null(strstr(err.message, "line 1"));
    }
    const char two[] =
        "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\n"
        "1,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.033\n";
    assert_int_equal(td_vpdq_parse(two, sizeof two - 1, 1, &v, &err), TD_ERR_LIMIT);
}

static void assert_video_equal(const td_video_hashes *a, const td_video_hashes *b)
{
    assert_string_equal(a->md5, b->md5);
    assert_string_equal(a->sha256, b->sha256);
    assert_int_equal(a->vpdq.count, b->vpdq.count);
    for (size_t i = 0; i < a->vpdq.count; i++) {
        assert_memory_equal(&a->vpdq.frames[i].hash, &b->vpdq.frames[i].hash, sizeof(td_pdq));
        assert_int_equal(a->vpdq.frames[i].quality, b->vpdq.frames[i].quality);
    }
}

/* td_hash_media / td_hash_media_file send an image and a video to their hashers: the same
 * hashes as the direct calls, bytes or file alike. */
static void test_media_dispatch(void **state)
{
    (void)state;
    td_error err;
    td_media_hash_options mo;
    td_media_hash_options_default(&mo);
    mo.image.dihedral = 1;
    mo.video.seconds_per_hash = 1.0;

    const char *image =
        conf_path("threatexchange/pdq/data/reg-test-input/exif-rotn/exif-rotn-1.jpg");
    size_t len;
    uint8_t *bytes = read_all(image, &len);
    td_file_hashes direct;
    td_media_hashes mh;
    assert_int_equal(td_media_sniff(bytes, len), TD_MEDIA_IMAGE);
    assert_int_equal(td_hash_bytes("image", bytes, len, &mo.image, &direct, &err), TD_OK);
    assert_int_equal(td_hash_media("image", bytes, len, &mo, &mh, &err), TD_OK);
    assert_int_equal(mh.kind, TD_MEDIA_IMAGE);
    assert_int_equal(mh.image.n_pdq, 8);
    assert_memory_equal(&mh.image, &direct, sizeof direct);
    td_media_hashes_clear(&mh);
    assert_int_equal(td_hash_media_file(image, &mo, &mh, &err), TD_OK);
    assert_int_equal(mh.kind, TD_MEDIA_IMAGE);
    assert_memory_equal(&mh.image, &direct, sizeof direct);
    td_media_hashes_clear(&mh);
    free(bytes);

    const char *video = video_path("chair-19-sd-bar");
    bytes = read_all(video, &len);
    td_video_hashes vdirect;
    assert_int_equal(td_media_sniff(bytes, len), TD_MEDIA_VIDEO);
    assert_int_equal(td_video_hash_bytes("video", bytes, len, &mo.video, &vdirect, &err), TD_OK);
    assert_true(vdirect.vpdq.count > 0);
    assert_int_equal(td_hash_media("video", bytes, len, &mo, &mh, &err), TD_OK);
    assert_int_equal(mh.kind, TD_MEDIA_VIDEO);
    assert_video_equal(&mh.video, &vdirect);
    td_media_hashes_clear(&mh);
    assert_int_equal(td_hash_media_file(video, &mo, &mh, &err), TD_OK);
    assert_int_equal(mh.kind, TD_MEDIA_VIDEO);
    assert_video_equal(&mh.video, &vdirect);
    td_media_hashes_clear(&mh);
    td_video_hashes_clear(&vdirect);
    free(bytes);

    /* Neither: the image path names the problem; a missing file too. */
    static const uint8_t junk[] = "not media at all";
    assert_int_equal(td_media_sniff(junk, sizeof junk), TD_MEDIA_IMAGE);
    assert_int_not_equal(td_hash_media("junk", junk, sizeof junk, NULL, &mh, &err), TD_OK);
    assert_int_not_equal(td_hash_media_file("/nonexistent/x.jpg", NULL, &mh, &err), TD_OK);
    assert_non_null(strstr(err.message, "/nonexistent/x.jpg"));
}

static void test_tmk_file(void **state)
{
    (void)state;
    size_t len;
    const char *path = conf_path("threatexchange/tmk/sample-hashes/chair-19-sd-bar.tmk");
    uint8_t *bytes = read_all(path, &len);
    assert_int_equal(len, TD_TMK_FILE_BYTES);
    td_tmk *t;
    td_error err;
    assert_int_equal(td_tmk_read(bytes, len, &t, &err), TD_OK);
    assert_int_equal(t->fps, 15);
    assert_int_equal(t->frame_count, 284);
    assert_int_equal(t->periods[3], 14653);
    uint8_t *again = malloc(TD_TMK_FILE_BYTES);
    td_tmk_write(t, again);
    assert_memory_equal(again, bytes, TD_TMK_FILE_BYTES); /* byte for byte */
    assert_true(fabsf(td_tmk_level1(t, t) - 1.0f) < 1e-4f);
    assert_true(fabsf(td_tmk_level2(t, t) - 1.0f) < 1e-3f);

    /* a different video scores lower */
    td_tmk *other;
    assert_int_equal(
        td_tmk_load(conf_path("threatexchange/tmk/sample-hashes/pattern-hd-no-bar.tmk"), &other,
                    &err),
        TD_OK);
    assert_true(td_tmk_level1(t, other) < 0.7f);
    td_free(other);

    const char *saved = temp_path("roundtrip.tmk");
    assert_int_equal(td_tmk_save(t, saved, &err), TD_OK);
    size_t saved_len;
    uint8_t *saved_bytes = read_all(saved, &saved_len);
    assert_int_equal(saved_len, len);
    assert_memory_equal(saved_bytes, bytes, len);
    free(saved_bytes);

    /* truncated, wrong magic, NaN */
    td_tmk *bad;
    assert_int_equal(td_tmk_read(bytes, len - 1, &bad, &err), TD_ERR_CORRUPT);
    bytes[0] = 'X';
    assert_int_equal(td_tmk_read(bytes, len, &bad, &err), TD_ERR_CORRUPT);
    bytes[0] = 'T';
    memset(bytes + 200, 0xff, 4);
    assert_int_equal(td_tmk_read(bytes, len, &bad, &err), TD_ERR_CORRUPT);
    td_free(t);
    free(again);
    free(bytes);
}

static void test_corrupt_and_limits(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = read_all(video_path("chair-19-sd-bar"), &len);
    td_video_hash_options o;
    td_video_hash_options_default(&o);
    td_video_hashes h;
    td_error err;

    /* empty, garbage, a truncated file, a damaged header */
    assert_int_not_equal(td_video_hash_bytes("empty", data, 0, &o, &h, &err), TD_OK);
    uint8_t garbage[4096];
    uint64_t seed = 7;
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)test_rand(&seed);
    assert_int_not_equal(td_video_hash_bytes("garbage", garbage, sizeof garbage, &o, &h, &err),
                         TD_OK);
    assert_int_not_equal(td_video_hash_bytes("truncated", data, 100000, &o, &h, &err), TD_OK);
    assert_non_null(strstr(err.message, "truncated"));
    for (size_t cut = 1000; cut < len; cut += len / 7) {
        td_status s = td_video_hash_bytes("cut", data, cut, &o, &h, &err);
        if (s == TD_OK)
            td_video_hashes_clear(&h); /* a cut that keeps whole frames may still decode */
    }
    uint8_t *damaged = malloc(len);
    memcpy(damaged, data, len);
    for (size_t i = 64; i < 4096; i += 3)
        damaged[i] ^= 0x5a;
    td_status s = td_video_hash_bytes("damaged", damaged, len, &o, &h, &err);
    if (s == TD_OK)
        td_video_hashes_clear(&h);
    free(damaged);

    /* limits, each named in the error */
    td_video_hash_options lim = o;
    lim.limits.max_frames = 10;
    assert_int_equal(td_video_hash_bytes("v", data, len, &lim, &h, &err), TD_ERR_LIMIT);
    assert_non_null(strstr(err.message, "limit of 10"));
    lim = o;
    lim.limits.max_width = 100;
    assert_int_equal(td_video_hash_bytes("v", data, len, &lim, &h, &err), TD_ERR_LIMIT);
    assert_non_null(strstr(err.message, "resolution"));
    lim = o;
    lim.limits.max_duration = 5;
    assert_int_equal(td_video_hash_bytes("v", data, len, &lim, &h, &err), TD_ERR_LIMIT);
    lim = o;
    lim.limits.max_file_bytes = 1000;
    assert_int_equal(td_video_hash_bytes("v", data, len, &lim, &h, &err), TD_ERR_LIMIT);
    assert_int_equal(td_video_hash_file("/nonexistent.mp4", &o, &h, &err), TD_ERR_NOT_FOUND);

    assert_true(td_video_sniff(data, len));
    assert_false(td_video_sniff(garbage, sizeof garbage));
    free(data);
}

/* Synthetic videos: hashes near a few "scenes", some low quality, some duplicates. */
static void make_video(td_vpdq *v, uint64_t *seed, const td_pdq *scenes, size_t n_scenes,
                       size_t frames)
{
    td_error err;
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < frames; i++) {
        td_vpdq_frame f = {0};
        f.hash = scenes[test_rand(seed) % n_scenes];
        int flips = (int)(test_rand(seed) % 40);
        for (int k = 0; k < flips; k++) {
            unsigned bit = (unsigned)(test_rand(seed) % 256);
            f.hash.w[bit >> 4] ^= (uint16_t)(1u << (bit & 15));
        }
        f.quality = test_rand(seed) % 10 == 0 ? 30 : 100;
        f.frame = (uint32_t)i;
        assert_int_equal(td_vpdq_append(v, &f, &err), TD_OK);
        if (test_rand(seed) % 8 == 0) {
            f.frame = (uint32_t)++i;
            assert_int_equal(td_vpdq_append(v, &f, &err), TD_OK);
        }
    }
}

static void test_match_rule(void **state)
{
    (void)state;
    td_pdq a = {{0}}, b = {{0}};
    for (int i = 0; i < 16; i++)
        b.w[i] = 0xffff;
    td_vpdq q = {0}, c = {0};
    td_error err;
    td_vpdq_frame f = {.hash = a, .quality = 100};
    assert_int_equal(td_vpdq_append(&q, &f, &err), TD_OK);
    assert_int_equal(td_vpdq_append(&q, &f, &err), TD_OK); /* duplicate: counted once */
    f.hash = b;
    assert_int_equal(td_vpdq_append(&q, &f, &err), TD_OK);
    f.quality = 10; /* dropped */
    f.hash.w[0] = 1;
    assert_int_equal(td_vpdq_append(&q, &f, &err), TD_OK);
    f.hash = a;
    f.hash.w[0] = 0x7fff; /* distance 15 from a */
    f.quality = 90;
    assert_int_equal(td_vpdq_append(&c, &f, &err), TD_OK);
    td_vpdq_match_result r;
    assert_int_equal(td_vpdq_match(&q, &c, NULL, &r, &err), TD_OK);
    assert_true(fabs(r.query_percent - 50.0) < 1e-9);
    assert_true(fabs(r.compared_percent - 100.0) < 1e-9);
    assert_false(r.match); /* 50 < 80 */
    td_vpdq_match_options o;
    td_vpdq_match_options_default(&o);
    o.query_percent = 50;
    assert_int_equal(td_vpdq_match(&q, &c, &o, &r, &err), TD_OK);
    assert_true(r.match);
    o.distance = 14;
    assert_int_equal(td_vpdq_match(&q, &c, &o, &r, &err), TD_OK);
    assert_false(r.match);
    td_vpdq_clear(&q);
    td_vpdq_clear(&c);
}

static int compare_ids(const void *x, const void *y)
{
    uint64_t a = ((const td_vpdq_index_match *)x)->id, b = ((const td_vpdq_index_match *)y)->id;
    return a < b ? -1 : a > b;
}

static void test_index_equals_brute_force(void **state)
{
    (void)state;
    enum { VIDEOS = 300, SCENES = 400 };
    uint64_t seed = 42;
    td_pdq scenes[SCENES];
    for (int i = 0; i < SCENES; i++)
        for (int w = 0; w < 16; w++)
            scenes[i].w[w] = (uint16_t)test_rand(&seed);
    td_vpdq *videos = calloc(VIDEOS, sizeof *videos);
    td_vpdq_index *idx;
    td_error err;
    assert_int_equal(td_vpdq_index_new(&idx, &err), TD_OK);
    for (int v = 0; v < VIDEOS; v++) {
        /* each video draws from a window of 8 scenes: overlaps give partial matches */
        size_t base = test_rand(&seed) % (SCENES - 8);
        make_video(&videos[v], &seed, scenes + base, 8, 20 + test_rand(&seed) % 60);
        assert_int_equal(td_vpdq_index_add(idx, 1000 + (uint64_t)v, &videos[v], &err), TD_OK);
    }
    assert_int_equal(td_vpdq_index_videos(idx), VIDEOS);

    const double percents[][2] = {{80, 0}, {50, 30}, {10, 0}, {100, 100}};
    int removed[VIDEOS] = {0};
    size_t live_frames = td_vpdq_index_frames(idx);
    for (int qn = 0; qn < 60; qn++) {
        if (qn == 40) {
            /* then every third video removed: never returned, the others unchanged */
            for (int v = 0; v < VIDEOS; v += 3) {
                assert_int_equal(td_vpdq_index_remove(idx, 1000 + (uint64_t)v), 1);
                removed[v] = 1;
            }
            assert_int_equal(td_vpdq_index_remove(idx, 999), 0);
            assert_int_equal(td_vpdq_index_videos(idx), VIDEOS - (VIDEOS + 2) / 3);
            assert_true(td_vpdq_index_frames(idx) < live_frames);
        }
        td_vpdq query;
        size_t base = test_rand(&seed) % (SCENES - 6);
        /* every fourth query long enough to be split across threads (1 to 4 of them) */
        size_t frames = qn % 4 == 0 ? 300 + test_rand(&seed) % 300 : 10 + test_rand(&seed) % 50;
        make_video(&query, &seed, scenes + base, 6, frames);
        td_vpdq_index_set_threads(idx, (unsigned)(qn / 4 % 4) + 1);
        for (size_t p = 0; p < sizeof percents / sizeof percents[0]; p++) {
            td_vpdq_match_options o;
            td_vpdq_match_options_default(&o);
            o.query_percent = percents[p][0];
            o.compared_percent = percents[p][1];
            td_vpdq_index_match *got;
            size_t n_got;
            assert_int_equal(td_vpdq_index_query(idx, &query, &o, &got, &n_got, &err), TD_OK);
            if (n_got > 1)
                qsort(got, n_got, sizeof *got, compare_ids);
            size_t k = 0;
            for (int v = 0; v < VIDEOS; v++) {
                td_vpdq_match_result r;
                assert_int_equal(td_vpdq_match(&query, &videos[v], &o, &r, &err), TD_OK);
                if (!r.match || removed[v])
                    continue;
                assert_true(k < n_got);
                assert_int_equal(got[k].id, 1000 + (uint64_t)v);
                assert_true(got[k].query_percent == r.query_percent);
                assert_true(got[k].compared_percent == r.compared_percent);
                k++;
            }
            assert_int_equal(k, n_got);
            td_free(got);
        }
        td_vpdq_clear(&query);
    }
    for (int v = 0; v < VIDEOS; v++)
        td_vpdq_clear(&videos[v]);
    free(videos);
    td_vpdq_index_free(idx);
}

static void test_cli_video(void **state)
{
    (void)state;
    static char out[1 << 20];
    const char *dir = temp_path("tmk-out");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s hash --json --seconds-per-hash 1 --tmk-dir '%s' '%s'",
             TD_CLI_PATH, dir, video_path("pattern-sd-grey-bar"));
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    assert_non_null(o);
    char md5[33];
    expected_md5("pattern-sd-grey-bar", md5);
    assert_string_equal(json_string_value(json_object_get(o, "md5")), md5);
    json_t *list = json_object_get(o, "vpdq");
    assert_int_equal(json_array_size(list), 7); /* 206 frames, every 30th */
    json_t *second = json_array_get(list, 1);
    assert_int_equal(json_integer_value(json_object_get(second, "frame")), 30);
    assert_true(fabs(json_real_value(json_object_get(second, "timestamp")) - 1.0) < 1e-9);
    assert_int_equal(strlen(json_string_value(json_object_get(second, "pdq"))), 64);
    const char *tmk = json_string_value(json_object_get(o, "tmk"));
    assert_non_null(tmk);
    struct stat sb;
    assert_int_equal(stat(tmk, &sb), 0);
    assert_int_equal(sb.st_size, TD_TMK_FILE_BYTES);
    json_decref(o);

    /* text output: one vpdq line per hashed frame */
    snprintf(cmd, sizeof cmd, "%s hash --seconds-per-hash 0 '%s' | grep -c '^vpdq '", TD_CLI_PATH,
             video_path("doorknob-hd-no-bar"));
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    assert_int_equal(atoi(out), 120);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformance),      cmocka_unit_test(test_sampling),
        cmocka_unit_test(test_hash_file_format), cmocka_unit_test(test_media_dispatch),
        cmocka_unit_test(test_tmk_file),         cmocka_unit_test(test_corrupt_and_limits),
        cmocka_unit_test(test_match_rule),       cmocka_unit_test(test_index_equals_brute_force),
        cmocka_unit_test(test_cli_video),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
