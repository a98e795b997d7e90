/* Video, text and URL signals over HTTP against the real `takedown serve`: signals added as a
 * reference vPDQ hash file, as frame objects, as a video upload, as text and as URLs and rules;
 * POST /v1/check with video bytes, text/plain and JSON (vpdq, text, urls); POST /v1/content
 * with a video; the body route; malformed values answered with 4xx and the server still
 * serving. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/api_client.h"
#include "support/support.h"
#include "takedown/video_hash.h"

#define VPDQ_HASHES "threatexchange/vpdq/sample-hashes/"
#define VIDEOS "threatexchange/tmk/sample-videos/"

static struct {
    api_server srv;
    char dir[4096];
    char admin[128];
} S;

static int setup(void **state)
{
    (void)state;
    snprintf(S.dir, sizeof S.dir, "%s", temp_path("apibody-XXXXXX"));
    assert_non_null(mkdtemp(S.dir));
    static const char *const flags[] = {"--http-threads", "2", NULL};
    api_server_start(&S.srv, S.dir, flags);
    snprintf(S.admin, sizeof S.admin, "%s", S.srv.admin);
    assert_true(S.admin[0] != '\0');
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.admin,
                         "{\"name\":\"VIDEO\",\"action\":\"block\"}"));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.admin,
                         "{\"name\":\"WORDS\",\"action\":\"review\"}"));
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.admin,
                         "{\"name\":\"LINKS\",\"action\":\"block\"}"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    api_server_stop(&S.srv);
    return 0;
}

/* Adds {"type": type, "value": <value JSON>} to bank; returns the signal object. */
static json_t *add_signal(const char *bank, const char *type, json_t *value, long expect)
{
    char path[256];
    json_t *body = json_pack("{s:s,s:o}", "type", type, "value", value);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    snprintf(path, sizeof path, "/v1/banks/%s/signals", bank);
    json_t *out = api_call(&S.srv, expect, "POST", path, S.admin, text);
    free(text);
    return out;
}

/* The matches of a check answer, as signal ids in a JSON array. */
static int matched(json_t *check, json_int_t sid, json_t **match)
{
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(check, "matches"), i, m)
    {
        if (json_integer_value(json_object_get(m, "signal_id")) == sid) {
            if (match)
                *match = m;
            return 1;
        }
    }
    return 0;
}

static json_t *check_json(json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *out = api_call(&S.srv, 200, "POST", "/v1/check", S.admin, text);
    free(text);
    return out;
}

static json_t *check_bytes(const char *ctype, const void *data, long len)
{
    api_request rq = {.method = "POST",
                      .path = "/v1/check",
                      .key = S.admin,
                      .ctype = ctype,
                      .body = data,
                      .len = len};
    return api_call_req(&S.srv, 200, &rq);
}

static void test_video(void **state)
{
    (void)state;
    size_t len;
    char *file = (char *)read_all(conf_path(VPDQ_HASHES "chair-22-sd-grey-bar.txt"), &len);
    json_t *sig = add_signal("VIDEO", "vpdq", json_stringn(file, len), 201);
    json_int_t from_file = api_jint(sig, "id");
    assert_string_equal(api_jstr(sig, "type"), "vpdq");
    td_vpdq ref = {0};
    td_error err;
    assert_int_equal(td_vpdq_parse(file, len, 0, &ref, &err), TD_OK);
    assert_int_equal(json_integer_value(json_object_get(sig, "body_bytes")) > 0, 1);
    json_decref(sig);

    /* the body route gives the hash file back */
    char path[256];
    api_resp r;
    snprintf(path, sizeof path, "/v1/banks/VIDEO/signals/%lld/body", (long long)from_file);
    assert_int_equal(api_http(&S.srv, "GET", path, S.admin, NULL, &r), 200);
    assert_non_null(strstr(r.ctype, "text/plain"));
    td_vpdq back = {0};
    assert_int_equal(td_vpdq_parse(r.body, r.len, 0, &back, &err), TD_OK);
    assert_int_equal(back.count, ref.count);
    td_vpdq_clear(&back);
    api_resp_free(&r);

    /* a video upload of another encoding: matched to the file's signal, as the rule says */
    size_t vlen;
    uint8_t *video = read_all(conf_path(VIDEOS "chair-22-with-small-logo-bar.mp4"), &vlen);
    td_video_hash_options vo;
    td_video_hashes vh;
    td_video_hash_options_default(&vo);
    assert_int_equal(td_video_hash_bytes("logo", video, vlen, &vo, &vh, &err), TD_OK);
    td_vpdq_match_options o;
    td_vpdq_match_result want;
    td_vpdq_match_options_default(&o);
    assert_int_equal(td_vpdq_match(&vh.vpdq, &ref, &o, &want, &err), TD_OK);
    assert_true(want.match);
    json_t *res = check_bytes("video/mp4", video, (long)vlen), *m = NULL;
    assert_string_equal(api_jstr(res, "verdict"), "block");
    assert_string_equal(api_jstr(res, "media"), "video");
    assert_int_equal(api_jint(res, "vpdq_frames"), vh.vpdq.count);
    assert_true(matched(res, from_file, &m));
    assert_true(json_real_value(json_object_get(m, "query_percent")) == want.query_percent);
    assert_true(json_real_value(json_object_get(m, "compared_percent")) == want.compared_percent);
    json_decref(res);

    /* supplied frames (what `takedown hash --json` prints) instead of bytes */
    json_t *frames = json_array();
    for (size_t i = 0; i < vh.vpdq.count; i++) {
        char hex[TD_PDQ_HEX_LEN + 1];
        td_pdq_to_hex(&vh.vpdq.frames[i].hash, hex);
        json_array_append_new(frames,
                              json_pack("{s:i,s:i,s:s,s:f}", "frame", (int)vh.vpdq.frames[i].frame,
                                        "quality", vh.vpdq.frames[i].quality, "pdq", hex,
                                        "timestamp", vh.vpdq.frames[i].timestamp));
    }
    res = check_json(json_pack("{s:O}", "vpdq", frames));
    assert_true(matched(res, from_file, NULL));
    json_decref(res);

    /* a signal from frame objects; a video upload as a signal */
    sig = add_signal("VIDEO", "vpdq", json_incref(frames), 201);
    json_int_t from_frames = api_jint(sig, "id");
    json_decref(sig);
    size_t plen;
    uint8_t *pattern = read_all(conf_path(VIDEOS "pattern-sd-grey-bar.mp4"), &plen);
    api_request rq = {.method = "POST",
                      .path = "/v1/banks/VIDEO/signals",
                      .key = S.admin,
                      .ctype = "video/mp4",
                      .body = pattern,
                      .len = (long)plen};
    json_t *added = api_call_req(&S.srv, 201, &rq);
    json_t *list = json_object_get(added, "signals");
    assert_int_equal(json_array_size(list), 3);
    assert_string_equal(api_jstr(json_array_get(list, 0), "type"), "vpdq");
    json_int_t pattern_sig = api_jint(json_array_get(list, 0), "id");
    json_decref(added);

    /* content intake with a video: stored, verdict from the check */
    rq = (api_request){.method = "POST",
                       .path = "/v1/content?content_id=vid-1",
                       .key = S.admin,
                       .ctype = "video/mp4",
                       .body = pattern,
                       .len = (long)plen};
    json_t *content = api_call_req(&S.srv, 201, &rq);
    assert_string_equal(api_jstr(content, "verdict"), "block");
    assert_true(matched(content, pattern_sig, NULL));
    assert_false(matched(content, from_file, NULL));
    json_decref(content);

    /* disabled over HTTP: the check no longer matches it */
    snprintf(path, sizeof path, "/v1/banks/VIDEO/signals/%lld", (long long)from_frames);
    json_decref(api_call(&S.srv, 200, "PATCH", path, S.admin, "{\"enabled\":false}"));
    snprintf(path, sizeof path, "/v1/banks/VIDEO/signals/%lld", (long long)from_file);
    json_decref(api_call(&S.srv, 200, "PATCH", path, S.admin, "{\"enabled\":false}"));
    res = check_bytes("video/mp4", video, (long)vlen);
    assert_false(matched(res, from_file, NULL));
    assert_false(matched(res, from_frames, NULL));
    assert_string_equal(api_jstr(res, "verdict"), "allow");
    json_decref(res);

    /* malformed: a corrupt video is a 422 and the server goes on serving */
    uint8_t *cut = malloc(4096);
    memcpy(cut, video, 4096);
    memset(cut + 64, 0xEE, 4096 - 64);
    api_expect_error_body(&S.srv, 422, NULL, "POST", "/v1/check", S.admin, "video/mp4", cut, 4096);
    free(cut);
    api_expect_error(&S.srv, 400, "invalid_hash", "POST", "/v1/check", S.admin,
                     "{\"vpdq\":\"0,100,zz,0.0\\n\"}");
    api_expect_error(&S.srv, 400, "invalid_hash", "POST", "/v1/check", S.admin,
                     "{\"vpdq\":[{\"frame\":0,\"quality\":100}]}");
    api_expect_error(&S.srv, 400, NULL, "POST", "/v1/banks/VIDEO/signals", S.admin,
                     "{\"type\":\"vpdq\",\"value\":\"not a hash file\"}");
    json_decref(api_call(&S.srv, 200, "GET", "/healthz", NULL, NULL));

    json_decref(frames);
    td_video_hashes_clear(&vh);
    td_vpdq_clear(&ref);
    free(pattern);
    free(video);
    free(file);
}

static void test_text(void **state)
{
    (void)state;
    const char *doc =
        "Brothers, the hour has come. Take the banner of the caliphate to every city of the "
        "unbelievers and strike them where they sleep; record it and send it to the media office "
        "so that the whole world sees the glory of this release.";
    json_t *sig = add_signal("WORDS", "raw_text", json_string(doc), 201);
    json_int_t id = api_jint(sig, "id");
    assert_string_equal(api_jstr(sig, "type"), "raw_text");
    assert_int_equal(json_integer_value(json_object_get(sig, "body_bytes")), strlen(doc));
    json_decref(sig);
    json_decref(add_signal("WORDS", "raw_text", json_string(doc), 409));

    /* the same text reformatted (case, punctuation, accents) and lightly edited */
    const char *edited =
        "BROTHERS!!! The hour has come... take the banner of the caliphate to every city of the "
        "unbelievers & strike them where they sleep - record it, send it to the média office "
        "so that the whole world sees the glory of this reléase";
    json_t *res = check_bytes("text/plain; charset=utf-8", edited, -1), *m = NULL;
    assert_string_equal(api_jstr(res, "verdict"), "review");
    assert_true(matched(res, id, &m));
    assert_string_equal(api_jstr(m, "type"), "raw_text");
    assert_int_equal(api_jint(res, "text_bytes"), strlen(edited));
    json_decref(res);
    res = check_json(json_pack("{s:s}", "text", edited));
    assert_true(matched(res, id, NULL));
    json_decref(res);
    /* content intake of a post's text */
    api_request rq = {.method = "POST",
                      .path = "/v1/content?content_id=post-7",
                      .key = S.admin,
                      .ctype = "text/plain",
                      .body = edited,
                      .len = -1};
    json_t *content = api_call_req(&S.srv, 201, &rq);
    assert_string_equal(api_jstr(content, "verdict"), "review");
    assert_true(matched(content, id, NULL));
    json_decref(content);
    /* a different text */
    res = check_bytes("text/plain", "The weather in the city is fine and the market is open.", -1);
    assert_false(matched(res, id, NULL));
    assert_string_equal(api_jstr(res, "verdict"), "allow");
    json_decref(res);
    api_expect_error(&S.srv, 400, NULL, "POST", "/v1/banks/WORDS/signals", S.admin,
                     "{\"type\":\"raw_text\",\"value\":\"?!.,;\"}");
    api_expect_error(&S.srv, 400, "invalid_type", "POST", "/v1/check", S.admin, "{\"text\":42}");
}

static void test_urls(void **state)
{
    (void)state;
    json_t *sig =
        add_signal("LINKS", "url", json_string("HTTPS://Media.Example/v/123?utm_source=x"), 201);
    json_int_t exact = api_jint(sig, "id");
    assert_string_equal(api_jstr(sig, "display"), "https://media.example/v/123");
    json_decref(sig);
    sig = add_signal("LINKS", "url_domain", json_string("channel.example"), 201);
    json_int_t domain = api_jint(sig, "id");
    json_decref(sig);
    sig = add_signal("LINKS", "url_prefix", json_string("https://files.example/share/abc"), 201);
    json_int_t prefix = api_jint(sig, "id");
    json_decref(sig);

    json_t *res = check_json(json_pack("{s:[s,s,s,s]}", "urls", "https://media.example/v/123",
                                       "hxxps://live.channel[.]example/now",
                                       "https://files.example/share/abc/part1.zip",
                                       "https://files.example/share/abcd")),
           *m = NULL;
    assert_string_equal(api_jstr(res, "verdict"), "block");
    assert_int_equal(json_array_size(json_object_get(res, "matches")), 3);
    assert_true(matched(res, exact, &m));
    assert_int_equal(api_jint(m, "url_index"), 0);
    assert_true(matched(res, domain, &m));
    assert_string_equal(api_jstr(m, "type"), "url_domain");
    assert_int_equal(api_jint(m, "url_index"), 1);
    assert_true(matched(res, prefix, &m));
    assert_int_equal(api_jint(m, "url_index"), 2);
    json_decref(res);

    /* text, URLs and hashes in one check */
    res = check_json(json_pack("{s:s,s:[s]}", "text", "nothing to see here at all", "urls",
                               "http://unrelated.example/"));
    assert_string_equal(api_jstr(res, "verdict"), "allow");
    json_decref(res);

    /* HMA's signal add: a URL answers with its canonical form, not the digest */
    json_t *hma = api_call(&S.srv, 200, "POST", "/c/bank/LINKS/signal", S.admin,
                           "{\"url\": \"HTTP://Hma.Example:80/a/../b\"}");
    assert_string_equal(api_jstr(json_object_get(hma, "signals"), "url"), "http://hma.example/b");
    json_decref(hma);

    /* HMA-style lookup of a URL: the exact signal, keyed by its bank */
    json_t *found = api_call(
        &S.srv, 200, "GET",
        "/m/lookup?signal_type=url&signal=https%3A%2F%2Fmedia.example%2Fv%2F123", S.admin, NULL);
    json_t *in_bank = json_object_get(found, "LINKS");
    assert_int_equal(json_array_size(in_bank), 1);
    assert_int_equal(api_jint(json_array_get(in_bank, 0), "bank_content_id"), exact);
    json_decref(found);

    api_expect_error(&S.srv, 400, "invalid_url", "POST", "/v1/check", S.admin, "{\"urls\":[\"\"]}");
    api_expect_error(&S.srv, 400, NULL, "POST", "/v1/check", S.admin, "{\"urls\":[\"http://\"]}");
    api_expect_error(&S.srv, 400, NULL, "POST", "/v1/banks/LINKS/signals", S.admin,
                     "{\"type\":\"url\",\"value\":\"http://\"}");
    api_expect_error(&S.srv, 400, "missing_field", "POST", "/v1/check", S.admin, "{}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_video),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_urls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
