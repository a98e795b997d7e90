/* The review media module (include/takedown/review_media.h) on a service, an evidence store and
 * a settable clock, without HTTP:
 *   test_sniff              content types from the first bytes: conformance images by their
 *                           extension, containers built from their specifications' headers
 *   test_keep_read          a copy kept for content with an open case reads back byte-identical
 *                           (SHA-256 of the file), audited with the reader; the file on disk
 *                           holds no window of the plaintext; a changed byte or another data
 *                           directory's key does not open; content without a case, a copy
 *                           switched off and a part over the size limit keep nothing
 *   test_keep_then_deleted  decided keep: readable during the grace, its delete_after the
 *                           decision + grace; deleted by the tick once it passed (wrapped key
 *                           gone from the store, file removed, audit entry)
 *   test_remove_preserved   decided remove: waits for the evidence master key, then is sealed
 *                           into the evidence store; released with k of n shares, the items are
 *                           the parts' bytes */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "casework/service_int.h"
#include "support/fake_clock.h"
#include "support/store_url.h"
#include "support/support.h"
#include "takedown/review_media.h"

#define HOUR ((int64_t)3600000)
#define T0 ((int64_t)1780000000000LL)
#define IMG_JPG "threatexchange/pdq/data/reg-test-input/labelme-subset/q0003.jpg"
#define IMG_PNG "threatexchange/pdq/data/misc-images/modes/1.png" /* 183 KiB: chunks */
#define IMG_WEBP "threatexchange/pdq/data/misc-images/modes/F.webp"
#define VIDEO_MP4 "threatexchange/tmk/sample-videos/test-padded-dimensions.mp4"

static const td_principal moderator = {.id = 41, .role = TD_ROLE_MODERATOR, .name = "mod-a"};

typedef struct fixture {
    char dir[4096];
    td_service *svc;
    td_evidence *ev;
    td_review_media *rm;
    td_review_media_options ro;
    char shares[3][TD_SHARE_TEXT_LEN + 1];
} fixture;

static void check(td_status st, const td_error *err)
{
    if (st)
        fail_msg("%s: %s", td_strerror(st), err->message);
}

static void open_all(fixture *f)
{
    td_service_options so;
    td_evidence_options eo;
    td_error err;
    td_service_options_default(&so);
    so.webhook_worker = 0;
    so.follow_interval_ms = 0;
    so.clock.now_ms = fake_clock;
    so.store_url = td_test_store_url(f->dir);
    check(td_service_open(f->dir, &so, &f->svc, &err), &err);
    td_evidence_options_default(&eo);
    eo.clock.now_ms = fake_clock;
    check(td_evidence_open(f->svc->store, td_service_audit(f->svc), f->dir, &eo, &f->ev, &err),
          &err);
    f->ro.evidence = f->ev;
    check(td_review_media_open(f->svc, &f->ro, &f->rm, &err), &err);
}

static void close_all(fixture *f)
{
    td_review_media_close(f->rm);
    td_evidence_close(f->ev);
    td_service_close(f->svc);
    f->rm = NULL;
    f->ev = NULL;
    f->svc = NULL;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_true(sodium_init() >= 0);
    fake_clock_set(T0);
    snprintf(f->dir, sizeof f->dir, "%s", temp_path("review-media-XXXXXX"));
    assert_non_null(mkdtemp(f->dir));
    td_review_media_options_default(&f->ro);
    f->ro.grace_ms = HOUR;
    f->ro.max_bytes = 1 << 20;
    open_all(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close_all(f);
    free(f);
    return 0;
}

static void init_master(fixture *f)
{
    const char *names[] = {"legal", "privacy", "auditor"};
    td_share shares[3];
    td_error err;
    check(td_evidence_init_master(f->ev, "admin", 2, 3, names, shares, &err), &err);
    for (int i = 0; i < 3; i++)
        td_share_format(&shares[i], f->shares[i]);
    sodium_memzero(shares, sizeof shares);
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    uint8_t d[32];
    crypto_hash_sha256(d, data, len);
    sodium_bin2hex(out, 65, d, sizeof d);
}

/* Records content_id (media bytes, a case opened when open_case) and returns its case id. */
static int64_t submit(fixture *f, const char *content_id, const uint8_t *media, size_t len,
                      int open_case)
{
    td_content_input in;
    td_content out;
    td_error err;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    in.content_id = content_id;
    td_hashes h;
    if (media) {
        /* the module keeps bytes; the casework only needs something to record */
        td_hashes_init(&h);
        sha256_hex(media, len, h.sha256);
        in.hashes = &h;
    }
    in.open_case = open_case;
    check(td_content_submit(f->svc, &in, &out, &err), &err);
    int64_t id = out.has_case ? out.kase.id : 0;
    td_content_clear(&out);
    return id;
}

static int64_t content_ref(fixture *f, const char *content_id)
{
    td_content c;
    td_error err;
    memset(&c, 0, sizeof c);
    check(td_content_get(f->svc, content_id, &c, &err), &err);
    int64_t id = c.id;
    td_content_clear(&c);
    return id;
}

/* The number of review_media files, and whether one holds needle. */
static int files_hold(fixture *f, const uint8_t *needle, size_t n, int *count)
{
    char cmd[8400], out[16384];
    snprintf(cmd, sizeof cmd, "ls '%s/review_media'", f->dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    int found = 0;
    *count = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char path[8400];
        snprintf(path, sizeof path, "%s/review_media/%s", f->dir, l);
        size_t len;
        uint8_t *d = read_all(path, &len);
        (*count)++;
        if (len >= n && memmem(d, len, needle, n))
            found = 1;
        free(d);
    }
    return found;
}

/* Whether the log holds an entry action by actor on object. */
static int has_entry(fixture *f, const char *action, const char *actor, const char *object)
{
    td_audit *log = td_service_audit(f->svc);
    uint64_t size;
    td_error err;
    check(td_audit_size(log, &size, &err), &err);
    for (uint64_t i = size; i-- > 0;) {
        td_audit_entry e;
        check(td_audit_get(log, i, &e, &err), &err);
        int hit = strcmp(e.action, action) == 0 && strcmp(e.actor, actor) == 0 &&
                  strcmp(e.object, object) == 0;
        td_audit_entry_clear(&e);
        if (hit)
            return 1;
    }
    return 0;
}

/* ---- tests ---- */

static void test_sniff(void **state)
{
    (void)state;
    static const struct {
        const char *file, *type;
    } files[] = {{IMG_JPG, "image/jpeg"},
                 {IMG_PNG, "image/png"},
                 {IMG_WEBP, "image/webp"},
                 {VIDEO_MP4, "video/mp4"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t len;
        uint8_t *d = read_all(conf_path(files[i].file), &len);
        assert_string_equal(td_review_media_sniff(d, len), files[i].type);
        free(d);
    }
    /* Headers as their specifications give them. */
    static const uint8_t gif[] = "GIF89a\x01\x00\x01\x00";
    static const uint8_t mov[] = "\x00\x00\x00\x14"
                                 "ftypqt  \x00\x00\x02\x00";
    /* EBML header: ID 1A45DFA3, size, then DocType (4282) of length 4 */
    static const uint8_t webm[] = "\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm";
    static const uint8_t mkv[] = "\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska";
    static const uint8_t bmp[] = "BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00";
    static const uint8_t html[] = "<html><script>alert(1)</script>";
    assert_string_equal(td_review_media_sniff(gif, sizeof gif - 1), "image/gif");
    assert_string_equal(td_review_media_sniff(mov, sizeof mov - 1), "video/quicktime");
    assert_string_equal(td_review_media_sniff(webm, sizeof webm - 1), "video/webm");
    assert_string_equal(td_review_media_sniff(mkv, sizeof mkv - 1), "video/x-matroska");
    assert_string_equal(td_review_media_sniff(bmp, sizeof bmp - 1), "image/bmp");
    assert_string_equal(td_review_media_sniff(html, sizeof html - 1), "application/octet-stream");
    assert_string_equal(td_review_media_sniff(gif, 3), "application/octet-stream");
    assert_string_equal(td_review_media_sniff(NULL, 0), "application/octet-stream");
}

static void test_keep_read(void **state)
{
    fixture *f = *state;
    td_error err;
    size_t len, plen;
    uint8_t *img = read_all(conf_path(IMG_JPG), &len), *png = read_all(conf_path(IMG_PNG), &plen);
    char want[65], want_png[65];
    sha256_hex(img, len, want);
    sha256_hex(png, plen, want_png);
    submit(f, "c-1", img, len, 1);
    td_review_media_part parts[2] = {{img, len}, {png, plen}};
    size_t kept = 0;
    check(td_review_media_keep(f->rm, "c-1", parts, 2, &kept, &err), &err);
    assert_int_equal(kept, 2);
    /* Kept once: a second call changes nothing. */
    check(td_review_media_keep(f->rm, "c-1", parts, 1, &kept, &err), &err);
    assert_int_equal(kept, 0);
    assert_true(has_entry(f, "content.media_kept", "system", "content:c-1"));

    td_review_media_info info;
    check(td_review_media_get(f->rm, "c-1", &info, &err), &err);
    assert_true(info.exists);
    assert_int_equal(info.state, TD_REVIEW_MEDIA_KEPT);
    assert_int_equal(info.n_items, 2);
    assert_string_equal(info.items[0].content_type, "image/jpeg");
    assert_string_equal(info.items[0].sha256, want);
    assert_string_equal(info.items[1].content_type, "image/png");
    assert_int_equal(info.items[1].bytes, (int64_t)plen);
    assert_int_equal(info.delete_after_ms, 0);

    uint8_t *data = NULL;
    size_t dlen = 0;
    char got[65];
    check(td_review_media_read(f->rm, &moderator, "c-1", 0, &info, &data, &dlen, &err), &err);
    assert_non_null(data);
    sha256_hex(data, dlen, got);
    assert_string_equal(got, want);
    td_review_media_free(data, dlen);
    check(td_review_media_read(f->rm, &moderator, "c-1", 1, &info, &data, &dlen, &err), &err);
    sha256_hex(data, dlen, got);
    assert_string_equal(got, want_png);
    td_review_media_free(data, dlen);
    assert_true(has_entry(f, "content.media_read", "mod-a", "content:c-1"));
    assert_int_equal(td_review_media_read(f->rm, &moderator, "c-1", 2, &info, &data, &dlen, &err),
                     TD_ERR_NOT_FOUND);

    /* At rest: no 32-byte window of either file. */
    int count = 0;
    for (size_t off = 0; off + 32 <= len; off += 97)
        assert_false(files_hold(f, img + off, 32, &count));
    for (size_t off = 0; off + 32 <= plen; off += plen / 7)
        assert_false(files_hold(f, png + off, 32, &count));
    assert_int_equal(count, 2);

    /* A changed byte does not open. */
    char cmd[8400], name[512];
    snprintf(cmd, sizeof cmd, "ls '%s/review_media' | grep -- '-0.seal$'", f->dir);
    assert_int_equal(run_capture(cmd, name, sizeof name), 0);
    name[strcspn(name, "\n")] = '\0';
    char path[8400];
    snprintf(path, sizeof path, "%s/review_media/%s", f->dir, name);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 200, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_int_equal(fseek(fp, 200, SEEK_SET), 0);
    fputc(c ^ 1, fp);
    fclose(fp);
    assert_int_equal(td_review_media_read(f->rm, &moderator, "c-1", 0, &info, &data, &dlen, &err),
                     TD_ERR_CORRUPT);
    assert_null(data);

    /* Another data directory's key: the wrapped key does not open. */
    close_all(f);
    char key[8400];
    snprintf(key, sizeof key, "%s/review_media.key", f->dir);
    assert_int_equal(unlink(key), 0);
    open_all(f);
    assert_int_equal(td_review_media_read(f->rm, &moderator, "c-1", 1, &info, &data, &dlen, &err),
                     TD_ERR_CORRUPT);

    /* No case: nothing kept. A part over the limit: its record only. Switched off: nothing. */
    submit(f, "c-2", img, len, 0);
    check(td_review_media_keep(f->rm, "c-2", parts, 1, &kept, &err), &err);
    assert_int_equal(kept, 0);
    check(td_review_media_get(f->rm, "c-2", &info, &err), &err);
    assert_false(info.exists);
    close_all(f);
    f->ro.max_bytes = (int64_t)len; /* the JPEG fits exactly, the PNG does not */
    open_all(f);
    submit(f, "c-3", img, len, 1);
    check(td_review_media_keep(f->rm, "c-3", parts, 2, &kept, &err), &err);
    assert_int_equal(kept, 1);
    check(td_review_media_get(f->rm, "c-3", &info, &err), &err);
    assert_true(info.items[0].kept);
    assert_false(info.items[1].kept);
    assert_non_null(strstr(info.items[1].reason, "review_media_max_bytes"));
    assert_string_equal(info.items[1].sha256, want_png);
    assert_int_equal(td_review_media_read(f->rm, &moderator, "c-3", 1, &info, &data, &dlen, &err),
                     TD_ERR_NOT_FOUND);
    close_all(f);
    f->ro.enabled = 0;
    open_all(f);
    submit(f, "c-4", img, len, 1);
    check(td_review_media_keep(f->rm, "c-4", parts, 2, &kept, &err), &err);
    assert_int_equal(kept, 0);
    check(td_review_media_get(f->rm, "c-4", &info, &err), &err);
    assert_false(info.exists);
    free(img);
    free(png);
}

static void test_keep_then_deleted(void **state)
{
    fixture *f = *state;
    td_error err;
    size_t len;
    uint8_t *img = read_all(conf_path(IMG_JPG), &len);
    int64_t case_id = submit(f, "k-1", img, len, 1);
    td_review_media_part part = {img, len};
    size_t kept = 0;
    check(td_review_media_keep(f->rm, "k-1", &part, 1, &kept, &err), &err);
    assert_int_equal(kept, 1);
    td_decision d;
    fake_clock_advance(1000);
    int64_t decided = fake_clock_get();
    check(td_case_decide(f->svc, case_id, &moderator, TD_DECISION_KEEP, "fine", &d, &err), &err);

    /* During the grace: readable, scheduled. */
    fake_clock_advance(HOUR - 1);
    check(td_review_media_tick(f->rm, &err), &err);
    td_review_media_info info;
    uint8_t *data = NULL;
    size_t dlen = 0;
    check(td_review_media_read(f->rm, &moderator, "k-1", 0, &info, &data, &dlen, &err), &err);
    assert_non_null(data);
    td_review_media_free(data, dlen);
    assert_int_equal(info.state, TD_REVIEW_MEDIA_KEPT);
    assert_int_equal(info.delete_after_ms, decided + HOUR);

    /* Past it: deleted by the tick. */
    fake_clock_advance(1);
    check(td_review_media_tick(f->rm, &err), &err);
    check(td_review_media_read(f->rm, &moderator, "k-1", 0, &info, &data, &dlen, &err), &err);
    assert_null(data);
    assert_int_equal(info.state, TD_REVIEW_MEDIA_DELETED);
    assert_int_equal(info.handled_ms, decided + HOUR);
    assert_true(has_entry(f, "content.media_deleted", "system", "content:k-1"));
    int count = 0;
    files_hold(f, img, 16, &count);
    assert_int_equal(count, 0);
    /* The wrapped key is gone from the store. */
    int64_t ref = content_ref(f, "k-1");
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM review_media WHERE content_ref = %lld AND wrapped_key IS NULL",
             (long long)ref);
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    check(td_store_acquire(f->svc->store, 0, &c, &err), &err);
    check(td_store_prepare(c, sql, &q, &err), &err);
    check(td_stmt_step(q, &row, &err), &err);
    assert_int_equal(row, 1);
    assert_int_equal(td_stmt_column_int64(q, 0), 1);
    td_stmt_reset(q);
    td_store_release(f->svc->store, c);
    /* Idempotent. */
    check(td_review_media_tick(f->rm, &err), &err);
    free(img);
}

typedef struct released {
    int n;
    char sha[4][65];
    char related[4][512];
} released;

static int on_release(void *ctx, int64_t item, const char *label, const char *related,
                      const uint8_t *content, size_t len)
{
    (void)item;
    (void)label;
    released *r = ctx;
    if (r->n < 4) {
        sha256_hex(content, len, r->sha[r->n]);
        snprintf(r->related[r->n], sizeof r->related[0], "%s", related ? related : "");
        r->n++;
    }
    return 0;
}

static void test_remove_preserved(void **state)
{
    fixture *f = *state;
    td_error err;
    size_t len, plen;
    uint8_t *img = read_all(conf_path(IMG_JPG), &len), *png = read_all(conf_path(IMG_PNG), &plen);
    char want[65], want_png[65];
    sha256_hex(img, len, want);
    sha256_hex(png, plen, want_png);
    int64_t case_id = submit(f, "r-1", img, len, 1);
    td_review_media_part parts[2] = {{img, len}, {png, plen}};
    size_t kept = 0;
    check(td_review_media_keep(f->rm, "r-1", parts, 2, &kept, &err), &err);
    td_decision d;
    check(td_case_decide(f->svc, case_id, &moderator, TD_DECISION_REMOVE, "terror", &d, &err),
          &err);
    /* No master key yet: the copy waits, readable, not scheduled for deletion. */
    fake_clock_advance(2 * HOUR);
    check(td_review_media_tick(f->rm, &err), &err);
    td_review_media_info info;
    check(td_review_media_get(f->rm, "r-1", &info, &err), &err);
    assert_int_equal(info.state, TD_REVIEW_MEDIA_KEPT);
    assert_int_equal(info.delete_after_ms, 0);
    init_master(f);
    check(td_review_media_tick(f->rm, &err), &err);
    check(td_review_media_get(f->rm, "r-1", &info, &err), &err);
    assert_int_equal(info.state, TD_REVIEW_MEDIA_PRESERVED);
    assert_true(info.items[0].evidence_item > 0);
    assert_true(info.items[1].evidence_item > 0);
    char ref[64];
    snprintf(ref, sizeof ref, "review-%lld", (long long)content_ref(f, "r-1"));
    assert_string_equal(info.evidence_case, ref);
    assert_true(has_entry(f, "content.media_preserved", "system", "content:r-1"));
    int count = 0;
    files_hold(f, img, 16, &count);
    assert_int_equal(count, 0);
    uint8_t *data = NULL;
    size_t dlen = 0;
    check(td_review_media_read(f->rm, &moderator, "r-1", 0, &info, &data, &dlen, &err), &err);
    assert_null(data);

    /* Opened with two of three shares: the parts' bytes. */
    int64_t req = 0;
    unsigned have = 0, need = 0;
    check(td_evidence_request(f->ev, "legal", "court order 7", "prosecution", ref, NULL, 0, &req,
                              &err),
          &err);
    check(td_evidence_approve(f->ev, req, "legal", f->shares[0], &have, &need, &err), &err);
    check(td_evidence_approve(f->ev, req, "privacy", f->shares[1], &have, &need, &err), &err);
    released rel;
    memset(&rel, 0, sizeof rel);
    check(td_evidence_release(f->ev, req, "legal", on_release, &rel, &err), &err);
    assert_int_equal(rel.n, 2);
    assert_string_equal(rel.sha[0], want);
    assert_string_equal(rel.sha[1], want_png);
    json_t *r0 = json_loads(rel.related[0], 0, NULL);
    assert_string_equal(json_string_value(json_object_get(r0, "content_id")), "r-1");
    assert_string_equal(json_string_value(json_object_get(r0, "sha256")), want);
    json_decref(r0);
    free(img);
    free(png);
}

int main(void)
{
    fake_clock_set(T0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),
        cmocka_unit_test_setup_teardown(test_keep_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_then_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_preserved, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
