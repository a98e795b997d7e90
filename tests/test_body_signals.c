/* Video, text and URL signals in the service, on a real SQLite store: vPDQ signals from the
 * reference's hash files and from video uploads, checked with videos and with supplied frames
 * (results compared with the brute-force vPDQ rule); raw_text signals against edited documents
 * (compared with the rule applied directly); url, url_md5, domain and prefix rules; disable,
 * delete, restart and a second node following the change log; malformed bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"
#include "support/store_url.h"
#include "takedown/casework.h"
#include "takedown/text.h"
#include "takedown/url.h"

#define VPDQ_HASHES "threatexchange/vpdq/sample-hashes/"
#define VIDEOS "threatexchange/tmk/sample-videos/"

static const char *fresh_dir(void) { return test_fresh_dir("body-XXXXXX"); }

static td_service *open_svc(const char *dir) { return test_open_service(dir); }

static void make_bank(td_service *svc, const char *name, td_action action)
{
    td_bank b;
    td_error err;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "%s", name);
    b.action = action;
    if (td_bank_create(svc, &b, NULL, &err))
        fail_msg("bank %s: %s", name, err.message);
}

static int64_t add_body(td_service *svc, const char *bank, td_signal_type type, const char *body,
                        size_t len)
{
    td_signal_input in;
    td_signal out;
    td_error err;
    td_signal_input_init(&in);
    in.type = type;
    in.value = body;
    in.body_len = len;
    if (td_signal_add(svc, bank, &in, &out, &err))
        fail_msg("add %s: %s", td_signal_type_name(type), err.message);
    assert_int_equal(out.type, type);
    assert_true(out.indexed);
    assert_int_equal(strlen(out.value), 64);
    return out.id;
}

static void load_vpdq(const char *name, td_vpdq *out, char **text, size_t *len)
{
    td_error err;
    *text = (char *)read_all(conf_path(name), len);
    memset(out, 0, sizeof *out);
    if (td_vpdq_parse(*text, *len, 0, out, &err))
        fail_msg("%s: %s", name, err.message);
}

/* The match of signal sid in res, or NULL. */
static const td_match *find(const td_check_result *res, int64_t sid)
{
    for (size_t i = 0; i < res->match_count; i++)
        if (res->matches[i].signal_id == sid)
            return &res->matches[i];
    return NULL;
}

static void check_frames(td_service *svc, const td_vpdq *frames, td_check_result *res)
{
    td_hashes h;
    td_error err;
    td_hashes_init(&h);
    h.vpdq = frames;
    if (td_check_hashes(svc, &h, NULL, res, &err))
        fail_msg("check: %s", err.message);
    assert_int_equal(res->vpdq_frames, frames->count);
}

/* Every reference hash file as a signal; each as a query: the service's matches equal the
 * brute-force rule over all of them, with the same percentages. */
static void test_vpdq_reference_hashes(void **state)
{
    (void)state;
    static const char *const names[] = {
        "chair-19-sd-bar",      "chair-20-sd-bar",       "chair-22-sd-grey-bar",
        "chair-orig-22-sd-bar", "doorknob-hd-no-bar",    "pattern-hd-no-bar",
        "pattern-sd-grey-bar",  "pattern-longer-no-bar", "chair-22-with-small-logo-bar",
    };
    enum { N = sizeof names / sizeof names[0] };
    td_vpdq v[N];
    int64_t ids[N];
    char *text;
    size_t len;
    td_error err;
    td_service *svc = open_svc(fresh_dir());
    make_bank(svc, "VIDEO", TD_ACTION_BLOCK);
    for (int i = 0; i < N; i++) {
        char path[256];
        snprintf(path, sizeof path, VPDQ_HASHES "%s.txt", names[i]);
        load_vpdq(path, &v[i], &text, &len);
        ids[i] = add_body(svc, "VIDEO", TD_SIGNAL_VPDQ, text, len);
        td_signal sig;
        assert_int_equal(td_signal_get(svc, "VIDEO", ids[i], &sig, &err), TD_OK);
        char want[64];
        snprintf(want, sizeof want, "%zu frames", v[i].count);
        assert_string_equal(sig.display, want);
        /* the body is the hash file written back: it parses to the same frames */
        char *body;
        size_t blen;
        td_vpdq back = {0};
        assert_int_equal(td_signal_get_body(svc, "VIDEO", ids[i], &body, &blen, &err), TD_OK);
        assert_int_equal(td_vpdq_parse(body, blen, 0, &back, &err), TD_OK);
        assert_int_equal(back.count, v[i].count);
        for (size_t f = 0; f < back.count; f++) {
            assert_int_equal(td_pdq_distance(&back.frames[f].hash, &v[i].frames[f].hash), 0);
            assert_int_equal(back.frames[f].frame, v[i].frames[f].frame);
        }
        td_vpdq_clear(&back);
        td_free(body);
        free(text);
    }
    /* the same file again is a duplicate */
    {
        td_signal_input in;
        td_signal out;
        td_vpdq again;
        td_signal_input_init(&in);
        in.type = TD_SIGNAL_VPDQ;
        load_vpdq(VPDQ_HASHES "chair-19-sd-bar.txt", &again, &text, &len);
        in.value = text;
        in.body_len = len;
        assert_int_equal(td_signal_add(svc, "VIDEO", &in, &out, &err), TD_ERR_CONFLICT);
        assert_int_equal(out.id, ids[0]);
        td_vpdq_clear(&again);
        free(text);
    }
    td_vpdq_match_options o;
    td_vpdq_match_options_default(&o);
    size_t matched_pairs = 0, unmatched_pairs = 0;
    for (int q = 0; q < N; q++) {
        td_check_result res;
        check_frames(svc, &v[q], &res);
        for (int s = 0; s < N; s++) {
            td_vpdq_match_result want;
            assert_int_equal(td_vpdq_match(&v[q], &v[s], &o, &want, &err), TD_OK);
            const td_match *m = find(&res, ids[s]);
            if (!want.match) {
                assert_null(m);
                unmatched_pairs++;
                continue;
            }
            matched_pairs++;
            assert_non_null(m);
            assert_int_equal(m->type, TD_SIGNAL_VPDQ);
            assert_true(m->query_percent == want.query_percent);
            assert_true(m->compared_percent == want.compared_percent);
        }
        assert_int_equal(res.verdict, find(&res, ids[q]) ? TD_VERDICT_BLOCK : TD_VERDICT_ALLOW);
        td_check_result_clear(&res);
    }
    /* the set has both outcomes (chair variants match each other, not the pattern videos) */
    assert_true(matched_pairs > N);
    assert_true(unmatched_pairs > 0);
    for (int i = 0; i < N; i++)
        td_vpdq_clear(&v[i]);
    td_service_close(svc);
}

/* Video bytes: a signal from an upload (vPDQ, MD5, SHA-256), a check of another encoding of the
 * same scene, disable / enable / delete, restart, and a second node. */
static void test_video_media(void **state)
{
    (void)state;
    const char *dir = fresh_dir();
    td_service *svc = open_svc(dir), *other;
    td_error err;
    size_t lena, lenb;
    uint8_t *va = read_all(conf_path(VIDEOS "chair-22-sd-grey-bar.mp4"), &lena);
    uint8_t *vb = read_all(conf_path(VIDEOS "chair-22-with-small-logo-bar.mp4"), &lenb);
    make_bank(svc, "VIDEO", TD_ACTION_REVIEW);
    td_signal_input in;
    td_signal sigs[3];
    size_t n;
    td_signal_input_init(&in);
    assert_int_equal(td_signal_add_media(svc, "VIDEO", va, lena, &in, sigs, &n, &err), TD_OK);
    assert_int_equal(n, 3);
    assert_int_equal(sigs[0].type, TD_SIGNAL_VPDQ);
    assert_int_equal(sigs[1].type, TD_SIGNAL_MD5);
    assert_int_equal(sigs[2].type, TD_SIGNAL_SHA256);
    int64_t vid = sigs[0].id;

    /* the expected MD5 of the sample (conformance list) */
    char *md5s =
        (char *)read_all(conf_path("threatexchange/expected/md5_sample_videos.txt"), &(size_t){0});
    assert_non_null(strstr(md5s, sigs[1].value));
    free(md5s);

    /* the signal's frames equal the service's own hashing of the file at 1 frame/s */
    td_video_hash_options vo;
    td_video_hashes ha, hb;
    td_video_hash_options_default(&vo);
    assert_int_equal(td_video_hash_bytes("grey", va, lena, &vo, &ha, &err), TD_OK);
    assert_int_equal(td_video_hash_bytes("logo", vb, lenb, &vo, &hb, &err), TD_OK);
    char want[64];
    snprintf(want, sizeof want, "%zu frames", ha.vpdq.count);
    assert_string_equal(sigs[0].display, want);

    td_vpdq_match_options o;
    td_vpdq_match_options_default(&o);
    td_vpdq_match_result brute;
    assert_int_equal(td_vpdq_match(&hb.vpdq, &ha.vpdq, &o, &brute, &err), TD_OK);
    assert_true(brute.match); /* two encodings of the same scene */

    td_check_result res;
    assert_int_equal(td_check_media(svc, vb, lenb, NULL, &res, &err), TD_OK);
    assert_string_equal(res.media, "video");
    assert_int_equal(res.vpdq_frames, hb.vpdq.count);
    assert_string_equal(res.hashes.md5, hb.md5);
    const td_match *m = find(&res, vid);
    assert_non_null(m);
    assert_true(m->query_percent == brute.query_percent);
    assert_true(m->compared_percent == brute.compared_percent);
    assert_int_equal(res.verdict, TD_VERDICT_REVIEW);
    assert_null(find(&res, sigs[1].id)); /* other bytes: no digest match */
    td_check_result_clear(&res);

    /* the same file: vPDQ 100% and both digests */
    assert_int_equal(td_check_media(svc, va, lena, NULL, &res, &err), TD_OK);
    assert_int_equal(res.match_count, 3);
    m = find(&res, vid);
    assert_non_null(m);
    assert_true(m->query_percent == 100.0);
    td_check_result_clear(&res);

    /* disabled: no vPDQ match; enabled again: back */
    assert_int_equal(td_signal_set_enabled(svc, "VIDEO", vid, 0, NULL, &err), TD_OK);
    assert_int_equal(td_check_media(svc, vb, lenb, NULL, &res, &err), TD_OK);
    assert_int_equal(res.match_count, 0);
    td_check_result_clear(&res);
    assert_int_equal(td_signal_set_enabled(svc, "VIDEO", vid, 1, NULL, &err), TD_OK);
    assert_int_equal(td_check_media(svc, vb, lenb, NULL, &res, &err), TD_OK);
    assert_non_null(find(&res, vid));
    td_check_result_clear(&res);
    td_service_stats stats;
    assert_int_equal(td_service_get_stats(svc, &stats, &err), TD_OK);
    assert_int_equal(stats.vpdq_videos, 1);

    /* a second node on the same store follows the change log */
    other = open_svc(dir);
    assert_int_equal(td_check_hashes(other,
                                     &(td_hashes){.n_pdq = 0, .quality = -1, .vpdq = &hb.vpdq},
                                     NULL, &res, &err),
                     TD_OK);
    assert_non_null(find(&res, vid)); /* loaded at open */
    td_check_result_clear(&res);
    assert_int_equal(td_signal_delete(svc, "VIDEO", vid, &err), TD_OK);
    assert_int_equal(td_service_follow(other, NULL, &err), TD_OK);
    assert_int_equal(
        td_check_hashes(other, &(td_hashes){.quality = -1, .vpdq = &hb.vpdq}, NULL, &res, &err),
        TD_OK);
    assert_null(find(&res, vid));
    td_check_result_clear(&res);
    td_service_close(other);

    /* restart: what is left loads (the digests) and the deleted video stays gone */
    td_service_close(svc);
    svc = open_svc(dir);
    assert_int_equal(td_check_media(svc, va, lena, NULL, &res, &err), TD_OK);
    assert_int_equal(res.match_count, 2);
    assert_null(find(&res, vid));
    td_check_result_clear(&res);

    td_video_hashes_clear(&ha);
    td_video_hashes_clear(&hb);
    free(va);
    free(vb);
    td_service_close(svc);
}

/* A document of about n bytes of words from a fixed vocabulary. */
static char *words(uint64_t *seed, size_t n)
{
    static const char *const vocab[] = {"the",   "call",  "to",      "arms",   "brothers", "attack",
                                        "city",  "night", "banner",  "Ställe", "wählen",   "ÉCOLE",
                                        "march", "video", "release", "martyr", "glory",    "now"};
    char *s = malloc(n + 32);
    size_t len = 0;
    while (len < n) {
        const char *w = vocab[test_rand(seed) % (sizeof vocab / sizeof vocab[0])];
        len += (size_t)sprintf(s + len, "%s%s", len ? " " : "", w);
    }
    return s;
}

static void test_text_signals(void **state)
{
    (void)state;
    td_service *svc = open_svc(fresh_dir());
    td_error err;
    uint64_t seed = 7;
    make_bank(svc, "TEXT", TD_ACTION_BLOCK);
    char *docs[4];
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        docs[i] = words(&seed, 600 + 400 * (size_t)i);
        ids[i] = add_body(svc, "TEXT", TD_SIGNAL_TEXT, docs[i], 0);
    }
    td_signal sig;
    assert_int_equal(td_signal_get(svc, "TEXT", ids[0], &sig, &err), TD_OK);
    assert_int_equal(sig.body_len, strlen(docs[0]));
    assert_memory_equal(sig.display, docs[0], strlen(sig.display));

    /* queries: each document with k edits (replacing letters), for several k; what the service
     * matches equals the rule applied to every signal directly */
    size_t matched = 0, checked = 0;
    for (int d = 0; d < 4; d++) {
        for (size_t k = 0; k <= 120; k += 20) {
            char *q = strdup(docs[d]);
            size_t ql = strlen(q);
            for (size_t e = 0; e < k; e++) {
                size_t at = test_rand(&seed) % ql;
                if ((unsigned char)q[at] < 0x80)
                    q[at] = (char)('a' + test_rand(&seed) % 26);
            }
            td_hashes h;
            td_check_result res;
            td_hashes_init(&h);
            h.text = q;
            h.text_len = ql;
            assert_int_equal(td_check_hashes(svc, &h, NULL, &res, &err), TD_OK);
            assert_int_equal(res.text_bytes, ql);
            for (int s = 0; s < 4; s++) {
                int want;
                size_t dist;
                assert_int_equal(
                    td_text_raw_match(docs[s], strlen(docs[s]), q, ql, &want, &dist, &err), TD_OK);
                const td_match *m = find(&res, ids[s]);
                assert_int_equal(m != NULL, want);
                if (m) {
                    assert_int_equal(m->type, TD_SIGNAL_TEXT);
                    assert_int_equal((size_t)m->distance, dist);
                    matched++;
                }
                checked++;
            }
            td_check_result_clear(&res);
            free(q);
        }
    }
    assert_true(matched >= 4);           /* at least the unedited documents */
    assert_true(matched < checked - 12); /* and the rule refused many */

    /* lookup by value (HMA style), then disabled */
    td_check_result res;
    assert_int_equal(td_lookup_signal(svc, "raw_text", docs[1], &res, &err), TD_OK);
    assert_non_null(find(&res, ids[1]));
    td_check_result_clear(&res);
    assert_int_equal(td_signal_set_enabled(svc, "TEXT", ids[1], 0, NULL, &err), TD_OK);
    assert_int_equal(td_lookup_signal(svc, "raw_text", docs[1], &res, &err), TD_OK);
    assert_null(find(&res, ids[1]));
    td_check_result_clear(&res);

    /* bodies that are not documents */
    td_signal_input in;
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_TEXT;
    in.value = "!!! ... ???";
    assert_int_equal(td_signal_add(svc, "TEXT", &in, NULL, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "no letters"));
    in.value = "\xff\xfe broken";
    assert_int_equal(td_signal_add(svc, "TEXT", &in, NULL, &err), TD_ERR_INVALID);
    for (int i = 0; i < 4; i++)
        free(docs[i]);
    td_service_close(svc);
}

static int64_t add_url(td_service *svc, td_signal_type type, const char *value)
{
    if (type == TD_SIGNAL_URL_MD5) {
        td_signal_input in;
        td_signal out;
        td_error err;
        td_signal_input_init(&in);
        in.type = type;
        in.value = value;
        if (td_signal_add(svc, "LINKS", &in, &out, &err))
            fail_msg("add url_md5: %s", err.message);
        return out.id;
    }
    return add_body(svc, "LINKS", type, value, 0);
}

/* Signal ids matched by the URL list (sorted as matched; the caller compares sets). */
static size_t check_urls(td_service *svc, const char *const *urls, size_t n, int64_t *ids)
{
    td_hashes h;
    td_check_result res;
    td_error err;
    td_hashes_init(&h);
    h.urls = urls;
    h.n_urls = n;
    if (td_check_hashes(svc, &h, NULL, &res, &err))
        fail_msg("check urls: %s", err.message);
    size_t k = res.match_count;
    for (size_t i = 0; i < k; i++)
        ids[i] = res.matches[i].signal_id;
    td_check_result_clear(&res);
    return k;
}

static int has(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

struct sink {
    char text[4096];
    size_t len;
};

static int collect(void *ctx, const char *data, size_t len)
{
    struct sink *s = ctx;
    if (s->len + len >= sizeof s->text)
        return 1;
    memcpy(s->text + s->len, data, len);
    s->len += len;
    s->text[s->len] = '\0';
    return 0;
}

static void test_url_signals(void **state)
{
    (void)state;
    td_service *svc = open_svc(fresh_dir());
    td_error err;
    make_bank(svc, "LINKS", TD_ACTION_BLOCK);
    int64_t exact =
        add_url(svc, TD_SIGNAL_URL, "HTTPS://Example.COM:443/a/../release?id=7&utm_source=tw#top");
    td_signal sig;
    assert_int_equal(td_signal_get(svc, "LINKS", exact, &sig, &err), TD_OK);
    assert_string_equal(sig.display, "https://example.com/release?id=7");
    char md5[TD_MD5_HEX_LEN + 1];
    const char *canon_md5_of = "https://files.example/x/leak.zip";
    assert_int_equal(td_url_md5(canon_md5_of, strlen(canon_md5_of), md5, &err), TD_OK);
    int64_t hashed = add_url(svc, TD_SIGNAL_URL_MD5, md5);
    int64_t domain = add_url(svc, TD_SIGNAL_URL_DOMAIN, "Propaganda.Example");
    int64_t prefix = add_url(svc, TD_SIGNAL_URL_PREFIX, "https://share.example/folder/f1/?x=1");
    assert_int_equal(td_signal_get(svc, "LINKS", domain, &sig, &err), TD_OK);
    assert_string_equal(sig.display, "propaganda.example");
    assert_int_equal(td_signal_get(svc, "LINKS", prefix, &sig, &err), TD_OK);
    assert_string_equal(sig.display, "https://share.example/folder/f1");

    int64_t ids[16];
    size_t n;
    const char *u1[] = {"https://example.com/release?utm_medium=x&id=7"};
    n = check_urls(svc, u1, 1, ids);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], exact);
    const char *u2[] = {"https://example.com/release?id=8", "https://example.com/release"};
    assert_int_equal(check_urls(svc, u2, 2, ids), 0);
    const char *u3[] = {"HTTPS://FILES.example/x/./leak.zip"};
    n = check_urls(svc, u3, 1, ids);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], hashed);
    const char *u4[] = {"hxxp://cdn.propaganda[.]example/v/1", "http://propaganda.example.org/",
                        "http://notpropaganda.example/"};
    n = check_urls(svc, u4, 3, ids);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], domain);
    const char *u5[] = {"http://share.example/folder/f1/doc.pdf", "http://share.example/folder/f10",
                        "http://share.example/folder"};
    n = check_urls(svc, u5, 3, ids);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], prefix);
    /* several URLs of one post: every signal they hit, and which URL hit it */
    const char *u6[] = {"http://x.example/", "https://example.com/release?id=7",
                        "http://a.b.propaganda.example/"};
    td_hashes h;
    td_check_result res;
    td_hashes_init(&h);
    h.urls = u6;
    h.n_urls = 3;
    assert_int_equal(td_check_hashes(svc, &h, NULL, &res, &err), TD_OK);
    assert_int_equal(res.match_count, 2);
    assert_int_equal(find(&res, exact)->url_index, 1);
    assert_int_equal(find(&res, domain)->url_index, 2);
    assert_int_equal(find(&res, domain)->type, TD_SIGNAL_URL_DOMAIN);
    td_check_result_clear(&res);

    /* url_md5 in a hash list: imported (the url and raw_text lines are not list entries, counted
     * as unsupported), matched, exported; the body signals stay out of the export */
    char list[512], md5b[TD_MD5_HEX_LEN + 1];
    const char *listed = "https://leaks.example/drop/1";
    assert_int_equal(td_url_md5(listed, strlen(listed), md5b, &err), TD_OK);
    snprintf(list, sizeof list, "url_md5 %s\nurl https://x.example/\nraw_text some words\n", md5b);
    td_import_result ir;
    memset(&ir, 0, sizeof ir);
    assert_int_equal(td_import_buffer(svc, "LINKS", list, strlen(list), NULL, &ir, &err), TD_OK);
    assert_int_equal(ir.added, 1);
    assert_int_equal(ir.unsupported, 2);
    assert_int_equal(ir.errors, 0);
    td_import_result_clear(&ir);
    const char *u7[] = {"HTTPS://leaks.example/drop/1?utm_campaign=z"};
    assert_int_equal(check_urls(svc, u7, 1, ids), 1);
    struct sink out = {{0}, 0};
    assert_int_equal(td_export(svc, "LINKS", TD_LIST_LINES, 1, collect, &out, &err), TD_OK);
    char want_line[64];
    snprintf(want_line, sizeof want_line, "url_md5 %s\n", md5b);
    assert_non_null(strstr(out.text, want_line));
    assert_non_null(strstr(out.text, md5));
    assert_null(strstr(out.text, "url_domain"));
    assert_null(strstr(out.text, "url_prefix"));
    assert_null(strstr(out.text, "url "));

    /* deleting the domain rule and disabling the prefix rule */
    assert_int_equal(td_signal_delete(svc, "LINKS", domain, &err), TD_OK);
    assert_int_equal(td_signal_set_enabled(svc, "LINKS", prefix, 0, NULL, &err), TD_OK);
    assert_int_equal(check_urls(svc, u4, 3, ids), 0);
    assert_int_equal(check_urls(svc, u5, 3, ids), 0);
    assert_int_equal(td_signal_set_enabled(svc, "LINKS", prefix, 1, NULL, &err), TD_OK);
    n = check_urls(svc, u5, 3, ids);
    assert_true(n == 1 && has(ids, n, prefix));

    /* malformed */
    td_signal_input in;
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_URL;
    in.value = "http://";
    assert_int_equal(td_signal_add(svc, "LINKS", &in, NULL, &err), TD_ERR_INVALID);
    /* a "host" that reads back as another one (the defanged scheme form) */
    in.type = TD_SIGNAL_URL_DOMAIN;
    in.value = "@hxxp\xff\xff/259648fb7d6 \xc3s://linow"; /* found by fuzz_signal_body */
    assert_int_equal(td_signal_add(svc, "LINKS", &in, NULL, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "not a host name"));
    const char *bad[] = {"http://"};
    h.urls = bad;
    h.n_urls = 1;
    assert_int_equal(td_check_hashes(svc, &h, NULL, &res, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "url 1"));
    td_check_result_clear(&res);
    td_service_close(svc);
}

static void test_malformed_bodies(void **state)
{
    (void)state;
    td_service *svc = open_svc(fresh_dir());
    td_error err;
    make_bank(svc, "VIDEO", TD_ACTION_BLOCK);
    td_signal_input in;
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_VPDQ;
    in.value = "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\n"
               "1,100,nothex,0.033\n";
    assert_int_equal(td_signal_add(svc, "VIDEO", &in, NULL, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "line 2"));
    in.value = "\n\n";
    assert_int_equal(td_signal_add(svc, "VIDEO", &in, NULL, &err), TD_ERR_INVALID);
    in.value = "";
    assert_int_equal(td_signal_add(svc, "VIDEO", &in, NULL, &err), TD_ERR_INVALID);
    /* over the body limit */
    size_t big = TD_SIGNAL_BODY_MAX + 1;
    char *huge = malloc(big);
    memset(huge, 'a', big);
    in.type = TD_SIGNAL_TEXT;
    in.value = huge;
    in.body_len = big;
    assert_int_equal(td_signal_add(svc, "VIDEO", &in, NULL, &err), TD_ERR_LIMIT);
    free(huge);
    /* a hash type given a body, a body type given a hash-only API */
    char norm[65];
    assert_int_equal(td_signal_value_normalize(TD_SIGNAL_TEXT, "abc", 3, norm, &err),
                     TD_ERR_INVALID);
    /* not a video nor an image */
    td_check_result res;
    static const uint8_t junk[] = "RIFF\x10\x00\x00\x00"
                                  "AVI LIST garbage garbage garbage";
    assert_int_not_equal(td_check_media(svc, junk, sizeof junk, NULL, &res, &err), TD_OK);
    td_check_result_clear(&res);
    td_service_close(svc);
}

/* Checks of text, URLs and frames on 3 threads while signals of each kind are added, disabled
 * and deleted: every check answers, and afterwards the service matches exactly what is left. */
struct checker {
    td_service *svc;
    const char *text;
    const td_vpdq *frames;
    _Atomic int *stop;
    int failures;
    _Atomic int checks;
};

static void *check_loop(void *arg)
{
    struct checker *k = arg;
    const char *urls[] = {"https://media.example/v/1", "http://sub.rules.example/x"};
    while (!atomic_load(k->stop)) {
        td_hashes h;
        td_check_result res;
        td_error err;
        td_hashes_init(&h);
        h.text = k->text;
        h.text_len = strlen(k->text);
        h.urls = urls;
        h.n_urls = 2;
        h.vpdq = k->frames;
        if (td_check_hashes(k->svc, &h, NULL, &res, &err) != TD_OK)
            k->failures++;
        td_check_result_clear(&res);
        atomic_fetch_add(&k->checks, 1);
    }
    return NULL;
}

static void test_concurrent_checks(void **state)
{
    (void)state;
    td_service *svc = open_svc(fresh_dir());
    td_error err;
    uint64_t seed = 11;
    make_bank(svc, "MIXED", TD_ACTION_BLOCK);
    char *doc = words(&seed, 800);
    td_vpdq frames;
    char *file;
    size_t len;
    load_vpdq(VPDQ_HASHES "pattern-sd-grey-bar.txt", &frames, &file, &len);
    _Atomic int stop = 0;
    struct checker k[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        k[t] = (struct checker){svc, doc, &frames, &stop, 0, 0};
        assert_int_equal(pthread_create(&th[t], NULL, check_loop, &k[t]), 0);
    }
    /* The changes start once every checker runs, so that they overlap checks even when a
     * loaded machine is slow to schedule the threads. */
    for (int t = 0; t < 3; t++)
        while (atomic_load(&k[t].checks) == 0)
            sched_yield();
    int64_t text_id = 0, url_id = 0, rule_id = 0, video_id = 0;
    for (int round = 0; round < 6; round++) {
        text_id = add_body(svc, "MIXED", TD_SIGNAL_TEXT, doc, 0);
        url_id = add_body(svc, "MIXED", TD_SIGNAL_URL, "https://media.example/v/1", 0);
        rule_id = add_body(svc, "MIXED", TD_SIGNAL_URL_DOMAIN, "rules.example", 0);
        video_id = add_body(svc, "MIXED", TD_SIGNAL_VPDQ, file, len);
        assert_int_equal(td_signal_set_enabled(svc, "MIXED", text_id, 0, NULL, &err), TD_OK);
        assert_int_equal(td_signal_set_enabled(svc, "MIXED", text_id, 1, NULL, &err), TD_OK);
        if (round < 5) {
            assert_int_equal(td_signal_delete(svc, "MIXED", text_id, &err), TD_OK);
            assert_int_equal(td_signal_delete(svc, "MIXED", url_id, &err), TD_OK);
            assert_int_equal(td_signal_delete(svc, "MIXED", rule_id, &err), TD_OK);
            assert_int_equal(td_signal_delete(svc, "MIXED", video_id, &err), TD_OK);
        }
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < 3; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(k[t].failures, 0);
        assert_true(atomic_load(&k[t].checks) > 0);
    }
    /* what is left: the last round's four signals, each matched once */
    struct checker last = {svc, doc, &frames, &stop, 0, 0};
    const char *urls[] = {"https://media.example/v/1", "http://sub.rules.example/x"};
    td_hashes h;
    td_check_result res;
    td_hashes_init(&h);
    h.text = last.text;
    h.text_len = strlen(doc);
    h.urls = urls;
    h.n_urls = 2;
    h.vpdq = &frames;
    assert_int_equal(td_check_hashes(svc, &h, NULL, &res, &err), TD_OK);
    assert_int_equal(res.match_count, 4);
    assert_non_null(find(&res, text_id));
    assert_non_null(find(&res, url_id));
    assert_non_null(find(&res, rule_id));
    assert_non_null(find(&res, video_id));
    td_check_result_clear(&res);
    td_vpdq_clear(&frames);
    free(file);
    free(doc);
    td_service_close(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vpdq_reference_hashes), cmocka_unit_test(test_video_media),
        cmocka_unit_test(test_text_signals),          cmocka_unit_test(test_url_signals),
        cmocka_unit_test(test_malformed_bodies),      cmocka_unit_test(test_concurrent_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
