/* The evidence delivery package (include/takedown/evidence_package.h, docs/evidence-package.md).
 *
 * Expectations are independent of the code under test: record contents are generated from a
 * seed and hashed here with libsodium (the library hashes with OpenSSL); a second reader and a
 * second writer, written from docs/evidence-package.md with libsodium calls only, decrypt what
 * the library wrote and write what the library must read (and the hostile packages the library's
 * writer refuses to make: path traversal names, manifests that disagree with the records, broken
 * grammar). Tampering is done byte by byte over a small package: every byte flipped, every
 * truncation, appended bytes, swapped, dropped and repeated messages, a manifest re-signed with
 * another key. The command line (keygen, open) runs as a user would run it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence/package_int.h"
#include "support/support.h"
#include "takedown/evidence_package.h"

/* ---- keys and data ---- */

static uint8_t rcpt_pk[32], rcpt_sk[32], other_pk[32], other_sk[32];
static uint8_t sign_pk[32], sign_sk[64], evil_pk[32], evil_sk[64];

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    crypto_box_keypair(rcpt_pk, rcpt_sk);
    crypto_box_keypair(other_pk, other_sk);
    crypto_sign_keypair(sign_pk, sign_sk);
    crypto_sign_keypair(evil_pk, evil_sk);
    return 0;
}

/* Byte i of the record generated from seed: any offset can be produced alone. */
static uint8_t gen_byte(uint64_t seed, uint64_t i)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ULL + (i >> 3) + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (uint8_t)(z >> (8 * (i & 7)));
}

static void gen(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = gen_byte(seed, off + i);
}

/* SHA-256 (libsodium) of the generated record, in hex. */
static void gen_sha(uint64_t seed, uint64_t size, char hex[65])
{
    crypto_hash_sha256_state st;
    uint8_t buf[8192], h[32];
    crypto_hash_sha256_init(&st);
    for (uint64_t off = 0; off < size; off += sizeof buf) {
        size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
        gen(seed, off, buf, n);
        crypto_hash_sha256_update(&st, buf, n);
    }
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, 32);
}

static void sha_hex(const void *p, size_t n, char hex[65])
{
    uint8_t h[32];
    crypto_hash_sha256(h, p, n);
    sodium_bin2hex(hex, 65, h, 32);
}

/* ---- packages written by the library ---- */

typedef struct spec {
    const char *name, *category, *content_type, *meta;
    uint64_t size, seed;
} spec;

/* Writes the records of specs in pieces of pseudo-random sizes (1 byte to 200000, so that
 * writes start and end anywhere against the chunks). */
static void write_pkg(const char *path, const spec *specs, size_t n, size_t chunk,
                      const uint8_t *signer, const char *extra, char manifest_sha[65])
{
    td_package_options o = {{NULL, NULL}, chunk};
    td_package_writer *w = NULL;
    td_error err;
    uint64_t rnd = 0x1234567;
    static uint8_t buf[200000];
    if (td_package_create(path, rcpt_pk, signer ? signer : sign_sk, "operator-test", &o, &w, &err))
        fail_msg("create: %s", err.message);
    for (size_t r = 0; r < n; r++) {
        if (td_package_record_begin(w, specs[r].name, specs[r].category, specs[r].content_type,
                                    specs[r].meta, &err))
            fail_msg("begin %s: %s", specs[r].name, err.message);
        uint64_t off = 0;
        while (off < specs[r].size) {
            size_t k = (size_t)(test_rand(&rnd) % sizeof buf) + 1;
            if (k > specs[r].size - off)
                k = (size_t)(specs[r].size - off);
            gen(specs[r].seed, off, buf, k);
            if (td_package_record_write(w, buf, k, &err))
                fail_msg("write: %s", err.message);
            off += k;
        }
        char sha[65], want[65];
        if (td_package_record_end(w, sha, &err))
            fail_msg("end: %s", err.message);
        gen_sha(specs[r].seed, specs[r].size, want);
        assert_string_equal(sha, want);
    }
    if (td_package_finish(w, extra, manifest_sha, &err))
        fail_msg("finish: %s", err.message);
}

static uint8_t *slurp(const char *path, size_t *len) { return read_all(path, len); }

/* Writes the file over in place and then sets its length: the tests that write one file
 * thousands of times (a byte flipped, a cut moved) would otherwise free and allocate its blocks
 * each time, which on a file system mounted with discard costs milliseconds per write. */
static void spit(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fd, p + done, n - done, (off_t)done);
        assert_true(w > 0);
        done += (size_t)w;
    }
    assert_int_equal(ftruncate(fd, (off_t)n), 0);
    assert_int_equal(close(fd), 0);
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Entries of a directory, . and .. aside (-1 if it does not exist). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Opens path verify-only and returns the problem; st receives the status. */
static td_package_problem open_problem(const char *path, const uint8_t *signer,
                                       td_package_report *rep, td_status *st)
{
    td_error err;
    *st = td_package_open(path, rcpt_sk, signer, NULL, rep, &err);
    if (*st == TD_OK)
        assert_int_equal(rep->problem, TD_PACKAGE_VERIFIED);
    else
        assert_true(strlen(err.message) > 0);
    return rep->problem;
}

/* ---- the second reader and writer, from docs/evidence-package.md alone ---- */

#define H_LEN 136
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define CONTEXT "takedown evidence package manifest v1"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct frame {
    uint8_t kind;
    size_t off, len; /* of the whole frame */
} frame;

/* The frames of a well-formed file. */
static size_t walk(const uint8_t *f, size_t len, frame *out, size_t cap)
{
    size_t n = 0;
    for (size_t off = H_LEN; off + 5 <= len && n < cap; n++) {
        size_t clen = be32(f + off + 1);
        out[n] = (frame){f[off], off, 5 + clen};
        off += 5 + clen;
    }
    return n;
}

typedef struct ref_rec {
    char name[129];
    uint64_t size;
    char sha[65];
} ref_rec;

/* Decrypts a package as docs/evidence-package.md says; 0 when every check passes. */
static int ref_open(const uint8_t *f, size_t len, ref_rec *recs, size_t *n_recs, char **manifest)
{
    static const uint8_t magic[8] = {0x54, 0x44, 0x45, 0x56, 0x50, 0x4B, 0x47, 0x00};
    crypto_secretstream_xchacha20poly1305_state ss;
    crypto_hash_sha256_state hs;
    uint8_t key[32];
    if (len < H_LEN || memcmp(f, magic, 8) || f[8] || f[9] != 1 || f[10] || f[11])
        return -1;
    if (crypto_box_seal_open(key, f + 32, 80, rcpt_pk, rcpt_sk))
        return -2;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&ss, f + 112, key))
        return -3;
    size_t off = H_LEN, n = 0;
    int in = 0;
    uint64_t size = 0;
    for (int msg = 0;; msg++) {
        if (off + 5 > len)
            return -4;
        uint8_t kind = f[off], tag, ad[H_LEN + 1];
        size_t clen = be32(f + off + 1), ad_len = 0;
        if (clen < ABYTES || off + 5 + clen > len)
            return -5;
        if (msg == 0) {
            memcpy(ad, f, H_LEN);
            ad_len = H_LEN;
        }
        ad[ad_len++] = kind;
        uint8_t *p = malloc(clen);
        unsigned long long plen;
        assert_non_null(p);
        if (crypto_secretstream_xchacha20poly1305_pull(&ss, p, &plen, &tag, f + off + 5, clen, ad,
                                                       ad_len)) {
            free(p);
            return -6;
        }
        off += 5 + clen;
        if (kind == 'R') {
            size_t nl = (size_t)p[4] << 8 | p[5];
            memcpy(recs[n].name, p + 6, nl);
            recs[n].name[nl] = '\0';
            crypto_hash_sha256_init(&hs);
            in = 1;
            size = 0;
        } else if (kind == 'D') {
            crypto_hash_sha256_update(&hs, p, plen);
            size += plen;
        } else if (kind == 'E') {
            uint8_t h[32];
            crypto_hash_sha256_final(&hs, h);
            if (!in || memcmp(h, p + 8, 32) || be32(p + 4) != (uint32_t)size)
                return -7;
            recs[n].size = size;
            sodium_bin2hex(recs[n].sha, 65, h, 32);
            n++;
            in = 0;
        } else if (kind == 'M') {
            uint32_t m = be32(p);
            if (tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL || off != len ||
                plen != 4 + m + 64)
                return -8;
            uint8_t *signed_msg = malloc(sizeof CONTEXT + m);
            assert_non_null(signed_msg);
            memcpy(signed_msg, CONTEXT, sizeof CONTEXT); /* with its zero byte */
            memcpy(signed_msg + sizeof CONTEXT, p + 4, m);
            int bad =
                crypto_sign_verify_detached(p + 4 + m, signed_msg, sizeof CONTEXT + m, sign_pk);
            free(signed_msg);
            if (bad)
                return -9;
            *manifest = malloc(m + 1);
            memcpy(*manifest, p + 4, m);
            (*manifest)[m] = '\0';
            *n_recs = n;
            free(p);
            return 0;
        }
        free(p);
    }
}

/* The second writer: a buffer, the stream, the header. */
typedef struct rw {
    uint8_t *buf;
    size_t len, cap;
    crypto_secretstream_xchacha20poly1305_state ss;
    uint8_t header[H_LEN];
    int msgs;
    char id_hex[33];
} rw;

static void rw_put(rw *w, const void *p, size_t n)
{
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2;
        w->buf = realloc(w->buf, w->cap);
        assert_non_null(w->buf);
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void rw_start(rw *w, uint32_t chunk)
{
    uint8_t key[32];
    memset(w, 0, sizeof *w);
    memcpy(w->header, "TDEVPKG", 8);
    w->header[9] = 1;
    w->header[12] = (uint8_t)(chunk >> 24);
    w->header[13] = (uint8_t)(chunk >> 16);
    w->header[14] = (uint8_t)(chunk >> 8);
    w->header[15] = (uint8_t)chunk;
    randombytes_buf(w->header + 16, 16);
    sodium_bin2hex(w->id_hex, sizeof w->id_hex, w->header + 16, 16);
    crypto_secretstream_xchacha20poly1305_keygen(key);
    assert_int_equal(crypto_box_seal(w->header + 32, key, 32, rcpt_pk), 0);
    crypto_secretstream_xchacha20poly1305_init_push(&w->ss, w->header + 112, key);
    rw_put(w, w->header, H_LEN);
}

static void rw_msg(rw *w, uint8_t kind, uint8_t tag, const uint8_t *p, size_t n)
{
    uint8_t ad[H_LEN + 1], fh[5];
    size_t ad_len = 0;
    if (w->msgs++ == 0) {
        memcpy(ad, w->header, H_LEN);
        ad_len = H_LEN;
    }
    ad[ad_len++] = kind;
    uint8_t *c = malloc(n + ABYTES);
    assert_non_null(c);
    crypto_secretstream_xchacha20poly1305_push(&w->ss, c, NULL, p, n, ad, ad_len, tag);
    fh[0] = kind;
    fh[1] = (uint8_t)((n + ABYTES) >> 24);
    fh[2] = (uint8_t)((n + ABYTES) >> 16);
    fh[3] = (uint8_t)((n + ABYTES) >> 8);
    fh[4] = (uint8_t)(n + ABYTES);
    rw_put(w, fh, 5);
    rw_put(w, c, n + ABYTES);
    free(c);
}

static void rw_record(rw *w, uint32_t index, const char *name, size_t name_len)
{
    uint8_t p[1024];
    size_t off = 0;
    p[off++] = (uint8_t)(index >> 24);
    p[off++] = (uint8_t)(index >> 16);
    p[off++] = (uint8_t)(index >> 8);
    p[off++] = (uint8_t)index;
    const char *parts[3] = {name, "content", "text/plain"};
    size_t lens[3] = {name_len, 7, 10};
    for (int i = 0; i < 3; i++) {
        p[off++] = (uint8_t)(lens[i] >> 8);
        p[off++] = (uint8_t)lens[i];
        memcpy(p + off, parts[i], lens[i]);
        off += lens[i];
    }
    rw_msg(w, 'R', 0, p, off);
}

static void rw_end(rw *w, const uint8_t *data, size_t n)
{
    uint8_t p[40] = {0};
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    crypto_hash_sha256(p + 8, data, n);
    rw_msg(w, 'E', 0, p, sizeof p);
}

/* A whole record: R, D (if any), E. */
static void rw_whole(rw *w, uint32_t index, const char *name, const char *data)
{
    rw_record(w, index, name, strlen(name));
    if (*data)
        rw_msg(w, 'D', 0, (const uint8_t *)data, strlen(data));
    rw_end(w, (const uint8_t *)data, strlen(data));
}

/* The manifest message of manifest text, signed by sk, with tag. */
static void rw_manifest(rw *w, const char *manifest, const uint8_t *sk, uint8_t tag)
{
    size_t m = strlen(manifest);
    uint8_t *p = malloc(4 + m + 64), *signed_msg = malloc(sizeof CONTEXT + m);
    assert_true(p && signed_msg);
    p[0] = (uint8_t)(m >> 24);
    p[1] = (uint8_t)(m >> 16);
    p[2] = (uint8_t)(m >> 8);
    p[3] = (uint8_t)m;
    memcpy(p + 4, manifest, m);
    memcpy(signed_msg, CONTEXT, sizeof CONTEXT);
    memcpy(signed_msg + sizeof CONTEXT, manifest, m);
    crypto_sign_detached(p + 4 + m, NULL, signed_msg, sizeof CONTEXT + m, sk);
    rw_msg(w, 'M', tag, p, 4 + m + 64);
    free(p);
    free(signed_msg);
}

/* A manifest entry for record data named name. */
static void entry(char *out, size_t cap, const char *name, const char *data)
{
    char sha[65];
    sha_hex(data, strlen(data), sha);
    snprintf(out, cap,
             "{\"name\":\"%s\",\"category\":\"content\",\"content_type\":\"text/plain\","
             "\"size\":%zu,\"sha256\":\"%s\",\"meta\":null}",
             name, strlen(data), sha);
}

/* A whole manifest around the entries (a JSON array's inside). */
static char *manifest_of(const rw *w, const char *entries)
{
    static char text[1 << 16];
    char rcpt[65];
    sodium_bin2hex(rcpt, sizeof rcpt, rcpt_pk, 32);
    snprintf(text, sizeof text,
             "{\"format\":\"takedown-evidence-package\",\"version\":1,\"package_id\":\"%s\","
             "\"created\":\"2026-12-01T09:00:00.000Z\",\"signer_key_id\":\"k\","
             "\"recipient\":\"%s\",\"records\":[%s],\"extra\":{}}",
             w->id_hex, rcpt, entries);
    return text;
}

static td_package_problem rw_open(rw *w, const char *out_dir, td_package_report *rep)
{
    const char *path = temp_path("pkg-rw.tdpkg");
    td_error err;
    spit(path, w->buf, w->len);
    td_status st = td_package_open(path, rcpt_sk, sign_pk, out_dir, rep, &err);
    if (st == TD_OK)
        assert_int_equal(rep->problem, TD_PACKAGE_VERIFIED);
    free(w->buf);
    w->buf = NULL;
    return rep->problem;
}

/* ---- round trips ---- */

/* The hasher (package_hash.c) against libsodium's SHA-256 over the same bytes: jobs of every
 * size around its piece and batch sizes, more jobs than its queue holds, buffers rewritten as
 * soon as their job is said to be done (a hash that still read them would differ), and several
 * digests in a row. Run under ThreadSanitizer too (make tsan). */
static void test_hasher(void **state)
{
    (void)state;
    enum { BUFS = TD__PKG_HASH_JOBS + 3, MAX = 3 * 1024 * 1024 + 5 };
    static const size_t sizes[] = {
        1, 7, 65536, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 1024 * 1024, MAX, 3, 100000};
    uint8_t *bufs[BUFS];
    uint64_t job[BUFS] = {0};
    for (int b = 0; b < BUFS; b++)
        assert_non_null(bufs[b] = malloc(MAX));
    td__pkg_hasher h;
    td_error err;
    assert_int_equal(td__pkg_hasher_init(&h, &err), TD_OK);
    uint64_t seed = 1, off = 0;
    for (int round = 0; round < 3; round++) {
        crypto_hash_sha256_state want;
        crypto_hash_sha256_init(&want);
        assert_int_equal(td__pkg_hasher_reset(&h), 0);
        assert_int_equal(td__pkg_hasher_post(&h, bufs[0], 0), h.posted); /* nothing queued */
        for (int k = 0; k < 40; k++) {
            int b = k % BUFS;
            size_t n = sizes[(size_t)(k + round) % (sizeof sizes / sizeof *sizes)];
            td__pkg_hasher_wait_done(&h, job[b]); /* then b may be rewritten */
            gen(seed, off, bufs[b], n);
            off += n;
            crypto_hash_sha256_update(&want, bufs[b], n);
            job[b] = td__pkg_hasher_post(&h, bufs[b], n);
        }
        uint8_t got[32], expect[32];
        assert_int_equal(td__pkg_hasher_final(&h, got), 0);
        crypto_hash_sha256_final(&want, expect);
        assert_memory_equal(got, expect, 32);
        /* The first round crossed the bytes after which the second thread starts (its first
         * jobs hashed on this thread, the rest on both): every later round is threaded. */
        assert_true(h.threaded);
        /* Every buffer is free now: scribbling over them changes nothing. */
        for (int b = 0; b < BUFS; b++)
            memset(bufs[b], 0xa5, MAX);
        seed++;
    }
    td__pkg_hasher_free(&h);
    td__pkg_hasher_free(&h); /* twice: a freed hasher is accepted */
    for (int b = 0; b < BUFS; b++)
        free(bufs[b]);
}

static void test_round_trip(void **state)
{
    (void)state;
    const spec specs[] = {
        {"subscriber.json", "subscriber", "application/json", "{\"fields\":[\"name\"]}", 1234, 1},
        {"empty.bin", "traffic", NULL, NULL, 0, 2},
        {"video-1.mp4", "content", "video/mp4", "{\"content_id\":\"c-1\",\"n\":1}",
         3 * 1024 * 1024 + 12345, 3},
        {"two-chunks.bin", "content", "application/octet-stream", NULL, 2 * 65536, 4},
        /* More batches than the reader has buffers: each is reused while the hash runs. */
        {"long.bin", "content", "application/octet-stream", NULL, 9 * 1024 * 1024 + 777, 6},
        {"one.txt", "identification", "text/plain", "{}", 1, 5},
    };
    const size_t n = sizeof specs / sizeof *specs;
    const char *path = temp_path("pkg-round.tdpkg");
    char tmp[4200], msha[65];
    unlink(path);
    write_pkg(path, specs, n, 0, NULL, "{\"order\":\"eo-12\",\"categories\":[\"content\"]}", msha);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_false(exists(tmp));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* The second reader. */
    size_t len = 0, n_recs = 0;
    uint8_t *file = slurp(path, &len);
    ref_rec recs[8];
    char *manifest = NULL;
    assert_int_equal(ref_open(file, len, recs, &n_recs, &manifest), 0);
    assert_int_equal(n_recs, n);
    for (size_t i = 0; i < n; i++) {
        char want[65];
        gen_sha(specs[i].seed, specs[i].size, want);
        assert_string_equal(recs[i].name, specs[i].name);
        assert_int_equal(recs[i].size, specs[i].size);
        assert_string_equal(recs[i].sha, want);
    }
    char got_msha[65];
    sha_hex(manifest, strlen(manifest), got_msha);
    assert_string_equal(got_msha, msha);
    json_t *m = json_loads(manifest, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "format")),
                        "takedown-evidence-package");
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(m, "signer_key_id")), "operator-test");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "extra"), "order")),
                        "eo-12");
    json_t *r2 = json_array_get(json_object_get(m, "records"), 2);
    assert_string_equal(json_string_value(json_object_get(r2, "content_type")), "video/mp4");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r2, "meta"), "content_id")), "c-1");
    assert_true(
        json_is_null(json_object_get(json_array_get(json_object_get(m, "records"), 1), "meta")));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(m, "records"), 1), "content_type")),
                        "application/octet-stream");
    json_decref(m);

    /* The library's reader, into a directory. */
    const char *dir = test_fresh_dir("pkg-out-XXXXXX");
    char out[4200];
    snprintf(out, sizeof out, "%s", dir);
    td_package_report rep;
    td_error err;
    if (td_package_open(path, rcpt_sk, sign_pk, out, &rep, &err))
        fail_msg("open: %s", err.message);
    assert_int_equal(rep.problem, TD_PACKAGE_VERIFIED);
    assert_int_equal(rep.signature_checked, 1);
    assert_int_equal(rep.message, -1);
    assert_int_equal(rep.record, -1);
    assert_int_equal(rep.n_records, n);
    assert_string_equal(rep.manifest_sha256, msha);
    assert_string_equal(rep.manifest, manifest);
    assert_string_equal(rep.signer_key_id, "operator-test");
    assert_int_equal(strlen(rep.created), TD_PACKAGE_CREATED_LEN);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        char want[65], fpath[4400];
        gen_sha(specs[i].seed, specs[i].size, want);
        assert_string_equal(rep.records[i].name, specs[i].name);
        assert_string_equal(rep.records[i].category, specs[i].category);
        assert_int_equal(rep.records[i].size, specs[i].size);
        assert_string_equal(rep.records[i].sha256, want);
        total += specs[i].size;
        snprintf(fpath, sizeof fpath, "%s/records/%s", out, specs[i].name);
        size_t flen = 0;
        uint8_t *content = slurp(fpath, &flen);
        char got[65];
        sha_hex(content, flen, got);
        assert_int_equal(flen, specs[i].size);
        assert_string_equal(got, want);
        free(content);
    }
    assert_int_equal(rep.total_bytes, total);
    /* manifest.json is the signed bytes; manifest.sig verifies over the context and them. */
    char mpath[4400], spath[4400], rdir[4400];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", out);
    snprintf(spath, sizeof spath, "%s/manifest.sig", out);
    snprintf(rdir, sizeof rdir, "%s/records", out);
    size_t mlen = 0, slen = 0;
    uint8_t *mtext = slurp(mpath, &mlen), *stext = slurp(spath, &slen);
    assert_int_equal(mlen, strlen(manifest));
    assert_memory_equal(mtext, manifest, mlen);
    uint8_t sig[64];
    assert_int_equal(slen, 129);
    assert_int_equal(sodium_hex2bin(sig, 64, (char *)stext, 128, NULL, NULL, NULL), 0);
    uint8_t *signed_msg = malloc(sizeof CONTEXT + mlen);
    memcpy(signed_msg, CONTEXT, sizeof CONTEXT);
    memcpy(signed_msg + sizeof CONTEXT, mtext, mlen);
    assert_int_equal(crypto_sign_verify_detached(sig, signed_msg, sizeof CONTEXT + mlen, sign_pk),
                     0);
    assert_int_equal(count_entries(rdir), (int)n); /* no .partial- file left */
    free(signed_msg);
    free(mtext);
    free(stext);
    td_package_report_clear(&rep);

    /* Opening again into the same directory: every output exists, refused, nothing touched. */
    assert_int_equal(td_package_open(path, rcpt_sk, sign_pk, out, &rep, &err), TD_ERR_CONFLICT);
    assert_int_equal(rep.problem, TD_PACKAGE_IO_FAILED);
    assert_int_equal(count_entries(rdir), (int)n);
    td_package_report_clear(&rep);

    /* Without a signer key: intact, origin not checked. */
    assert_int_equal(td_package_open(path, rcpt_sk, NULL, NULL, &rep, &err), TD_OK);
    assert_int_equal(rep.signature_checked, 0);
    td_package_report_clear(&rep);
    free(manifest);
    free(file);
}

/* The second writer's package, read by the library. */
static void test_reads_independent_writer(void **state)
{
    (void)state;
    rw w;
    char entries[2048], e1[512], e2[512];
    rw_start(&w, 1024);
    rw_whole(&w, 0, "a.txt", "hello");
    rw_whole(&w, 1, "b.txt", "");
    entry(e1, sizeof e1, "a.txt", "hello");
    entry(e2, sizeof e2, "b.txt", "");
    snprintf(entries, sizeof entries, "%s,%s", e1, e2);
    rw_manifest(&w, manifest_of(&w, entries), sign_sk, 3);
    td_package_report rep;
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_VERIFIED);
    assert_int_equal(rep.n_records, 2);
    assert_int_equal(rep.records[0].size, 5);
    assert_string_equal(rep.created, "2026-12-01T09:00:00.000Z");
    td_package_report_clear(&rep);

    /* No record at all. */
    rw_start(&w, 65536);
    rw_manifest(&w, manifest_of(&w, ""), sign_sk, 3);
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_VERIFIED);
    assert_int_equal(rep.n_records, 0);
    td_package_report_clear(&rep);
}

/* Chunk sizes: the smallest, records crossing many boundaries, odd writes. */
static void test_chunk_sizes(void **state)
{
    (void)state;
    const spec specs[] = {{"x.bin", "content", NULL, NULL, 100000, 7},
                          {"y.bin", "content", NULL, NULL, 1023, 8},
                          {"z.bin", "content", NULL, NULL, 1024, 9}};
    const size_t chunks[] = {1024, 1000 + 24, 65536, 1024 * 1024};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        const char *path = temp_path("pkg-chunks.tdpkg");
        unlink(path);
        write_pkg(path, specs, 3, chunks[c], NULL, NULL, NULL);
        size_t len = 0, n_recs = 0;
        uint8_t *file = slurp(path, &len);
        ref_rec recs[4];
        char *manifest = NULL;
        assert_int_equal(ref_open(file, len, recs, &n_recs, &manifest), 0);
        assert_int_equal(n_recs, 3);
        /* Data messages are full chunks but a record's last. */
        frame fr[512];
        size_t nf = walk(file, len, fr, 512);
        for (size_t i = 0; i + 1 < nf; i++)
            if (fr[i].kind == 'D' && fr[i + 1].kind == 'D')
                assert_int_equal(fr[i].len, 5 + chunks[c] + ABYTES);
        td_package_report rep;
        td_status st;
        assert_int_equal(open_problem(path, sign_pk, &rep, &st), TD_PACKAGE_VERIFIED);
        td_package_report_clear(&rep);
        free(file);
        free(manifest);
    }
    td_package_writer *w = NULL;
    td_package_options o = {{NULL, NULL}, 512};
    td_error err;
    assert_int_equal(
        td_package_create(temp_path("pkg-bad-chunk"), rcpt_pk, sign_sk, "k", &o, &w, &err),
        TD_ERR_INVALID);
    assert_null(w);
}

static void test_wrong_key(void **state)
{
    (void)state;
    const spec specs[] = {{"a.bin", "content", NULL, NULL, 5000, 1}};
    const char *path = temp_path("pkg-wrongkey.tdpkg");
    unlink(path);
    write_pkg(path, specs, 1, 0, NULL, NULL, NULL);
    char out[4200];
    snprintf(out, sizeof out, "%s/never", test_fresh_dir("pkg-wk-XXXXXX"));
    td_package_report rep;
    td_error err;
    assert_int_equal(td_package_open(path, other_sk, sign_pk, out, &rep, &err), TD_ERR_CORRUPT);
    assert_int_equal(rep.problem, TD_PACKAGE_WRONG_KEY);
    assert_non_null(strstr(err.message, "another recipient"));
    assert_false(exists(out)); /* created, then removed */
    td_package_report_clear(&rep);
    assert_string_equal(td_package_problem_name(TD_PACKAGE_WRONG_KEY), "wrong_key");
}

/* ---- tampering, byte by byte ---- */

/* A small package with several records and chunks: 1 KiB chunks. */
static uint8_t *small_package(const char *path, size_t *len)
{
    const spec specs[] = {{"a.txt", "content", "text/plain", "{\"k\":1}", 3000, 11},
                          {"empty", "traffic", NULL, NULL, 0, 12},
                          {"b.bin", "subscriber", NULL, NULL, 1024, 13}};
    unlink(path);
    write_pkg(path, specs, 3, 1024, NULL, "{\"order\":\"eo-1\"}", NULL);
    return slurp(path, len);
}

/* The record and the offset in it of each frame, as the reader should report them. */
static void frame_places(const frame *fr, size_t nf, int64_t *rec, uint64_t *rec_off)
{
    int64_t r = -1;
    uint64_t off = 0;
    int in = 0;
    for (size_t i = 0; i < nf; i++) {
        if (fr[i].kind == 'R') {
            r++;
            off = 0;
            in = 0; /* a record header is not inside its record yet */
        }
        rec[i] = in ? r : -1;
        rec_off[i] = off;
        if (fr[i].kind == 'R')
            in = 1;
        if (fr[i].kind == 'D')
            off += fr[i].len - 5 - ABYTES;
        if (fr[i].kind == 'E')
            in = 0;
    }
}

static void test_flip_every_byte(void **state)
{
    (void)state;
    const char *path = temp_path("pkg-flip-src.tdpkg"), *bad = temp_path("pkg-flip.tdpkg");
    size_t len = 0;
    uint8_t *orig = small_package(path, &len);
    frame fr[64];
    int64_t rec[64];
    uint64_t rec_off[64];
    size_t nf = walk(orig, len, fr, 64);
    assert_int_equal(fr[nf - 1].off + fr[nf - 1].len, len);
    assert_int_equal(fr[nf - 1].kind, 'M');
    frame_places(fr, nf, rec, rec_off);
    uint8_t *copy = malloc(len);
    int counts[TD_PACKAGE_IO_FAILED + 1] = {0};
    for (size_t at = 0; at < len; at++) {
        memcpy(copy, orig, len);
        copy[at] ^= 0x01;
        spit(bad, copy, len);
        td_package_report rep;
        td_status st;
        td_package_problem p = open_problem(bad, sign_pk, &rep, &st);
        counts[p]++;
        if (at < 8) {
            assert_int_equal(p, TD_PACKAGE_NOT_PACKAGE);
        } else if (at < 12) {
            assert_int_equal(p, TD_PACKAGE_UNSUPPORTED);
            assert_int_equal(st, TD_ERR_UNSUPPORTED);
        } else if (at < 16) {
            assert_true(p == TD_PACKAGE_UNSUPPORTED || p == TD_PACKAGE_ALTERED);
        } else if (at < 32 || at >= 112) {
            if (at < H_LEN) { /* package id, stream header: message 0 fails */
                assert_int_equal(p, TD_PACKAGE_ALTERED);
                assert_int_equal(rep.message, 0);
            }
        } else if (at < 112) {
            assert_int_equal(p, TD_PACKAGE_WRONG_KEY);
        }
        if (at >= H_LEN) {
            size_t i = 0;
            while (!(at >= fr[i].off && at < fr[i].off + fr[i].len))
                i++;
            assert_int_equal(rep.message, (int64_t)i);
            assert_int_equal(rep.file_offset, fr[i].off);
            if (at == fr[i].off) { /* kind */
                assert_int_equal(p, TD_PACKAGE_ALTERED);
            } else if (at < fr[i].off + 5) { /* length */
                if (p != TD_PACKAGE_ALTERED && p != TD_PACKAGE_TRUNCATED && p != TD_PACKAGE_LIMIT)
                    fail_msg("offset %zu (length of message %zu): %s", at, i,
                             td_package_problem_name(p));
            } else { /* ciphertext */
                assert_int_equal(p, TD_PACKAGE_ALTERED);
                assert_int_equal(st, TD_ERR_CORRUPT);
                if (rep.record != rec[i])
                    fail_msg("offset %zu (message %zu '%c'): record %lld, expected %lld", at, i,
                             fr[i].kind, (long long)rep.record, (long long)rec[i]);
                if (rec[i] >= 0)
                    assert_int_equal(rep.record_offset, rec_off[i]);
            }
        }
        assert_int_not_equal(st, TD_OK);
        td_package_report_clear(&rep);
    }
    /* Every region was reached. */
    assert_true(counts[TD_PACKAGE_NOT_PACKAGE] == 8 && counts[TD_PACKAGE_WRONG_KEY] == 80);
    assert_true(counts[TD_PACKAGE_ALTERED] > 1000);
    free(copy);
    free(orig);
}

static void test_truncate_everywhere(void **state)
{
    (void)state;
    const char *path = temp_path("pkg-trunc-src.tdpkg"), *bad = temp_path("pkg-trunc.tdpkg");
    size_t len = 0;
    uint8_t *orig = small_package(path, &len);
    for (size_t cut = 0; cut < len; cut++) {
        spit(bad, orig, cut);
        td_package_report rep;
        td_status st;
        td_package_problem p = open_problem(bad, sign_pk, &rep, &st);
        assert_int_equal(st, TD_ERR_CORRUPT);
        assert_int_equal(p, cut < 8 ? TD_PACKAGE_NOT_PACKAGE : TD_PACKAGE_TRUNCATED);
        td_package_report_clear(&rep);
    }
    /* With an output directory: nothing left behind, at a few cuts. */
    const size_t cuts[] = {H_LEN, H_LEN + 3, len / 2, len - 70, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char out[4200];
        snprintf(out, sizeof out, "%s", test_fresh_dir("pkg-tr-XXXXXX"));
        spit(bad, orig, cuts[i]);
        td_package_report rep;
        td_error err;
        assert_int_equal(td_package_open(bad, rcpt_sk, sign_pk, out, &rep, &err), TD_ERR_CORRUPT);
        assert_int_equal(rep.problem, TD_PACKAGE_TRUNCATED);
        assert_int_equal(count_entries(out), 0);
        td_package_report_clear(&rep);
    }
    free(orig);
}

static void test_append(void **state)
{
    (void)state;
    const char *path = temp_path("pkg-app-src.tdpkg"), *bad = temp_path("pkg-app.tdpkg");
    size_t len = 0;
    uint8_t *orig = small_package(path, &len);
    frame fr[64];
    size_t nf = walk(orig, len, fr, 64);
    const size_t adds[] = {1, 5, 100, fr[1].len};
    for (size_t i = 0; i < sizeof adds / sizeof *adds; i++) {
        uint8_t *copy = malloc(len + adds[i]);
        memcpy(copy, orig, len);
        if (i == 3) /* a copy of a genuine message */
            memcpy(copy + len, orig + fr[1].off, fr[1].len);
        else
            memset(copy + len, 0xAB, adds[i]);
        spit(bad, copy, len + adds[i]);
        td_package_report rep;
        td_status st;
        assert_int_equal(open_problem(bad, sign_pk, &rep, &st), TD_PACKAGE_TRAILING_DATA);
        assert_int_equal(rep.file_offset, len);
        td_package_report_clear(&rep);
        free(copy);
    }
    (void)nf;
    free(orig);
}

/* Rebuilds the file from its frames in the order given. */
static size_t reorder(const uint8_t *orig, const frame *fr, const size_t *order, size_t n,
                      uint8_t *out)
{
    size_t len = H_LEN;
    memcpy(out, orig, H_LEN);
    for (size_t i = 0; i < n; i++) {
        memcpy(out + len, orig + fr[order[i]].off, fr[order[i]].len);
        len += fr[order[i]].len;
    }
    return len;
}

static void test_swap_drop_repeat(void **state)
{
    (void)state;
    const char *path = temp_path("pkg-swap-src.tdpkg"), *bad = temp_path("pkg-swap.tdpkg");
    size_t len = 0;
    uint8_t *orig = small_package(path, &len);
    frame fr[64];
    size_t nf = walk(orig, len, fr, 64);
    /* Frames: R D D D E R E R D E M. */
    assert_int_equal(nf, 11);
    assert_int_equal(fr[1].kind, 'D');
    assert_int_equal(fr[2].kind, 'D');
    uint8_t *copy = malloc(2 * len);
    size_t order[32];
    struct {
        const char *what;
        size_t a, b; /* swap a and b */
        int drop;    /* or drop a */
        int repeat;  /* or repeat a */
        int64_t msg; /* the message the reader must name */
    } cases[] = {
        {"two data chunks of a record", 1, 2, 0, 0, 1},
        {"data chunks of two records", 2, 8, 0, 0, 2},
        {"two records' ends", 4, 9, 0, 0, 4},
        {"two records", 0, 5, 0, 0, 0},
        {"the manifest and an end", 9, 10, 0, 0, 9},
        {"dropped data chunk", 2, 0, 1, 0, 2},
        {"dropped record header", 5, 0, 1, 0, 5},
        {"dropped end", 4, 0, 1, 0, 4},
        {"repeated data chunk", 1, 0, 0, 1, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t n = 0;
        for (size_t i = 0; i < nf; i++) {
            size_t k = i;
            if (!cases[c].drop && !cases[c].repeat && i == cases[c].a)
                k = cases[c].b;
            else if (!cases[c].drop && !cases[c].repeat && i == cases[c].b)
                k = cases[c].a;
            if (cases[c].drop && i == cases[c].a)
                continue;
            order[n++] = k;
            if (cases[c].repeat && i == cases[c].a)
                order[n++] = k;
        }
        size_t blen = reorder(orig, fr, order, n, copy);
        spit(bad, copy, blen);
        td_package_report rep;
        td_status st;
        td_package_problem p = open_problem(bad, sign_pk, &rep, &st);
        if (p != TD_PACKAGE_ALTERED || rep.message != cases[c].msg)
            fail_msg("%s: %s at message %lld", cases[c].what, td_package_problem_name(p),
                     (long long)rep.message);
        td_package_report_clear(&rep);
    }
    /* The manifest dropped: the stream has no end. */
    size_t blen = reorder(orig, fr, (const size_t[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10, copy);
    spit(bad, copy, blen);
    td_package_report rep;
    td_status st;
    assert_int_equal(open_problem(bad, sign_pk, &rep, &st), TD_PACKAGE_TRUNCATED);
    td_package_report_clear(&rep);
    free(copy);
    free(orig);
}

static void test_resigned(void **state)
{
    (void)state;
    /* The same records, signed with another key. */
    const spec specs[] = {{"a.bin", "content", NULL, NULL, 777, 1}};
    const char *path = temp_path("pkg-resign.tdpkg");
    unlink(path);
    write_pkg(path, specs, 1, 0, evil_sk, NULL, NULL);
    td_package_report rep;
    td_status st;
    assert_int_equal(open_problem(path, sign_pk, &rep, &st), TD_PACKAGE_SIGNATURE_INVALID);
    assert_int_equal(st, TD_ERR_CORRUPT);
    td_package_report_clear(&rep);
    assert_int_equal(open_problem(path, evil_pk, &rep, &st), TD_PACKAGE_VERIFIED);
    td_package_report_clear(&rep);

    /* A manifest changed (another hash) and re-signed by someone else. */
    rw w;
    char e1[512];
    rw_start(&w, 1024);
    rw_whole(&w, 0, "a.txt", "hello");
    entry(e1, sizeof e1, "a.txt", "hello");
    rw_manifest(&w, manifest_of(&w, e1), evil_sk, 3);
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_SIGNATURE_INVALID);
    td_package_report_clear(&rep);
}

/* Packages a faithful writer never makes, signed by the right key, so that the reader's later
 * checks are reached. */
static void test_manifest_and_grammar(void **state)
{
    (void)state;
    td_package_report rep;
    char e1[512], e2[512], both[1100];
    static char text[1 << 16];
    entry(e1, sizeof e1, "a.txt", "hello");
    entry(e2, sizeof e2, "b.txt", "bye");
    snprintf(both, sizeof both, "%s,%s", e1, e2);
    rw w;

    /* Record missing from the file. */
    rw_start(&w, 1024);
    rw_whole(&w, 0, "a.txt", "hello");
    rw_manifest(&w, manifest_of(&w, both), sign_sk, 3);
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_RECORD_MISSING);
    td_package_report_clear(&rep);

    /* Record missing from the manifest. */
    rw_start(&w, 1024);
    rw_whole(&w, 0, "a.txt", "hello");
    rw_whole(&w, 1, "b.txt", "bye");
    rw_manifest(&w, manifest_of(&w, e1), sign_sk, 3);
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_RECORD_EXTRA);
    assert_int_equal(rep.record, 1);
    td_package_report_clear(&rep);

    /* Another hash in the manifest. */
    rw_start(&w, 1024);
    rw_whole(&w, 0, "a.txt", "hellO");
    rw_manifest(&w, manifest_of(&w, e1), sign_sk, 3);
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_HASH_MISMATCH);
    assert_int_equal(rep.record, 0);
    td_package_report_clear(&rep);

    /* The end message disagrees with the bytes. */
    rw_start(&w, 1024);
    rw_record(&w, 0, "a.txt", 5);
    rw_msg(&w, 'D', 0, (const uint8_t *)"hello", 5);
    rw_end(&w, (const uint8_t *)"hellO", 5);
    rw_manifest(&w, manifest_of(&w, e1), sign_sk, 3);
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_HASH_MISMATCH);
    assert_int_equal(rep.message, 2);
    td_package_report_clear(&rep);

    /* Records in another order than the manifest's. */
    rw_start(&w, 1024);
    rw_whole(&w, 0, "b.txt", "bye");
    rw_whole(&w, 1, "a.txt", "hello");
    rw_manifest(&w, manifest_of(&w, both), sign_sk, 3);
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_BAD_MANIFEST);
    td_package_report_clear(&rep);

    /* Manifests that are not of the format. */
    const char *bad_manifests[] = {
        "not json", "[]", "{\"format\":\"takedown-evidence-package\"}",
        NULL, /* another package id */
        NULL, /* another recipient */
        NULL, /* a duplicate member */
        NULL, /* an unknown member */
    };
    for (size_t i = 0; i < sizeof bad_manifests / sizeof *bad_manifests; i++) {
        rw_start(&w, 1024);
        rw_whole(&w, 0, "a.txt", "hello");
        const char *m = bad_manifests[i];
        if (!m) {
            snprintf(text, sizeof text, "%s", manifest_of(&w, e1));
            if (i == 3)
                text[strstr(text, "package_id") - text + 13] ^= 1;
            if (i == 4)
                text[strstr(text, "recipient") - text + 12] ^= 1;
            if (i == 5)
                memcpy(strstr(text, "\"created\""), "\"version\"", 9);
            if (i == 6)
                memcpy(strstr(text, "\"extra\":{}"), "\"extrb\":{}", 10);
            m = text;
        }
        rw_manifest(&w, m, sign_sk, 3);
        td_package_problem p = rw_open(&w, NULL, &rep);
        if (p != TD_PACKAGE_BAD_MANIFEST)
            fail_msg("manifest %zu: %s", i, td_package_problem_name(p));
        td_package_report_clear(&rep);
    }

    /* Grammar. */
    struct {
        const char *what;
        int variant;
        td_package_problem want;
    } g[] = {
        {"data outside a record", 0, TD_PACKAGE_MALFORMED},
        {"record inside a record", 1, TD_PACKAGE_MALFORMED},
        {"manifest inside a record", 2, TD_PACKAGE_MALFORMED},
        {"final tag on data", 3, TD_PACKAGE_NO_FINAL},
        {"manifest without final tag", 4, TD_PACKAGE_NO_FINAL},
        {"push tag", 5, TD_PACKAGE_MALFORMED},
        {"empty data message", 6, TD_PACKAGE_MALFORMED},
        {"record index out of order", 7, TD_PACKAGE_MALFORMED},
        {"end outside a record", 8, TD_PACKAGE_MALFORMED},
        {"bad category", 9, TD_PACKAGE_MALFORMED},
        {"message after the manifest", 10, TD_PACKAGE_TRAILING_DATA},
    };
    for (size_t i = 0; i < sizeof g / sizeof *g; i++) {
        rw_start(&w, 1024);
        const uint8_t *hello = (const uint8_t *)"hello";
        switch (g[i].variant) {
        case 0: rw_msg(&w, 'D', 0, hello, 5); break;
        case 1:
            rw_record(&w, 0, "a.txt", 5);
            rw_record(&w, 1, "b.txt", 5);
            break;
        case 2: rw_record(&w, 0, "a.txt", 5); break;
        case 3:
            rw_record(&w, 0, "a.txt", 5);
            rw_msg(&w, 'D', 3, hello, 5);
            break;
        case 5: rw_msg(&w, 'R', 1, (const uint8_t *)"\0\0\0\0\0\1a\0\1c\0\1t", 13); break;
        case 6:
            rw_record(&w, 0, "a.txt", 5);
            rw_msg(&w, 'D', 0, hello, 0);
            break;
        case 7: rw_whole(&w, 1, "a.txt", "hello"); break;
        case 8: rw_end(&w, hello, 5); break;
        case 9: rw_msg(&w, 'R', 0, (const uint8_t *)"\0\0\0\0\0\1a\0\1\x01\0\1t", 13); break;
        default: rw_whole(&w, 0, "a.txt", "hello"); break;
        }
        rw_manifest(&w, manifest_of(&w, e1), sign_sk, g[i].variant == 4 ? 0 : 3);
        if (g[i].variant == 10)
            rw_whole(&w, 1, "b.txt", "bye");
        td_package_problem p = rw_open(&w, NULL, &rep);
        if (p != g[i].want)
            fail_msg("%s: %s", g[i].what, td_package_problem_name(p));
        td_package_report_clear(&rep);
    }
}

/* Names from the package never reach a path unchecked. */
static void test_hostile_names(void **state)
{
    (void)state;
    const char *names[] = {"../escape", "/etc/passwd", "a/b",         "..",        ".",
                           ".hidden",   "a..b",        "x\x01y",      "x\ny",      "",
                           "sp ace",    "back\\slash", "caf\xc3\xa9", ".partial-0"};
    char base[4200];
    snprintf(base, sizeof base, "%s", test_fresh_dir("pkg-hostile-XXXXXX"));
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char out[4400];
        snprintf(out, sizeof out, "%s/out", base);
        rw w;
        rw_start(&w, 1024);
        rw_record(&w, 0, names[i], strlen(names[i]));
        rw_msg(&w, 'D', 0, (const uint8_t *)"pwned", 5);
        rw_end(&w, (const uint8_t *)"pwned", 5);
        rw_manifest(&w, manifest_of(&w, ""), sign_sk, 3);
        td_package_report rep;
        td_package_problem p = rw_open(&w, out, &rep);
        if (p != TD_PACKAGE_UNSAFE_NAME)
            fail_msg("name %zu: %s", i, td_package_problem_name(p));
        assert_int_equal(rep.record, 0);
        td_package_report_clear(&rep);
        assert_false(exists(out));
        assert_int_equal(count_entries(base), 0); /* nothing next to it either */
    }
    /* 129 bytes, and a name taken twice ignoring case. */
    char long_name[130];
    memset(long_name, 'n', 129);
    long_name[129] = '\0';
    rw w;
    rw_start(&w, 1024);
    rw_whole(&w, 0, long_name, "x");
    rw_manifest(&w, manifest_of(&w, ""), sign_sk, 3);
    td_package_report rep;
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_UNSAFE_NAME);
    td_package_report_clear(&rep);
    rw_start(&w, 1024);
    rw_whole(&w, 0, "Report.txt", "x");
    rw_whole(&w, 1, "report.TXT", "y");
    rw_manifest(&w, manifest_of(&w, ""), sign_sk, 3);
    assert_int_equal(rw_open(&w, NULL, &rep), TD_PACKAGE_UNSAFE_NAME);
    assert_int_equal(rep.record, 1);
    td_package_report_clear(&rep);

    /* The output's records directory as a link elsewhere: refused, the target untouched. */
    char out[4400], target[4400], link_path[4500];
    snprintf(out, sizeof out, "%s/linked", base);
    snprintf(target, sizeof target, "%s/target", base);
    snprintf(link_path, sizeof link_path, "%s/records", out);
    assert_int_equal(mkdir(out, 0700), 0);
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(symlink(target, link_path), 0);
    char e1[512];
    entry(e1, sizeof e1, "a.txt", "hello");
    rw_start(&w, 1024);
    rw_whole(&w, 0, "a.txt", "hello");
    rw_manifest(&w, manifest_of(&w, e1), sign_sk, 3);
    assert_int_equal(rw_open(&w, out, &rep), TD_PACKAGE_IO_FAILED);
    assert_int_equal(count_entries(target), 0);
    td_package_report_clear(&rep);
}

static void test_writer_refusals(void **state)
{
    (void)state;
    const char *path = temp_path("pkg-writer.tdpkg");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(path);
    unlink(tmp);
    td_package_writer *w = NULL, *w2 = NULL;
    td_error err;
    assert_int_equal(td_package_create(path, rcpt_pk, sign_sk, "bad\nid", NULL, &w, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_package_create(path, rcpt_pk, sign_sk, "k", NULL, &w, &err), TD_OK);
    assert_true(exists(tmp));
    /* A second writer on the same path: its temporary file is taken. */
    assert_int_equal(td_package_create(path, rcpt_pk, sign_sk, "k", NULL, &w2, &err),
                     TD_ERR_CONFLICT);
    const char *bad_names[] = {"../x", "a/b", ".x", "a..b", "", "x y", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
        assert_int_equal(td_package_record_begin(w, bad_names[i], "content", NULL, NULL, &err),
                         TD_ERR_INVALID);
    assert_int_equal(td_package_record_begin(w, "a", "", NULL, NULL, &err), TD_ERR_INVALID);
    assert_int_equal(td_package_record_begin(w, "a", "c", "bad\x7f", NULL, &err), TD_ERR_INVALID);
    assert_int_equal(td_package_record_begin(w, "a", "c", NULL, "[1]", &err), TD_ERR_INVALID);
    assert_int_equal(td_package_record_begin(w, "a", "c", NULL, "{", &err), TD_ERR_INVALID);
    char *big = malloc(TD_PACKAGE_META_MAX + 100);
    memset(big, ' ', TD_PACKAGE_META_MAX + 99);
    memcpy(big, "{}", 2);
    big[TD_PACKAGE_META_MAX + 99] = '\0';
    assert_int_equal(td_package_record_begin(w, "a", "c", NULL, big, &err), TD_ERR_LIMIT);
    assert_int_equal(td_package_record_write(w, "x", 1, &err), TD_ERR_INVALID);
    assert_int_equal(td_package_record_end(w, NULL, &err), TD_ERR_INVALID);
    /* Still usable: a record, a duplicate name, an open record at finish. */
    assert_int_equal(td_package_record_begin(w, "A.txt", "c", NULL, "{\"x\":1}", &err), TD_OK);
    assert_int_equal(td_package_record_begin(w, "b", "c", NULL, NULL, &err), TD_ERR_INVALID);
    assert_int_equal(td_package_record_write(w, "abc", 3, &err), TD_OK);
    assert_int_equal(td_package_record_write(w, NULL, 0, &err), TD_OK);
    assert_int_equal(td_package_finish(w, NULL, NULL, &err), TD_ERR_INVALID);
    char sha[65], want[65];
    assert_int_equal(td_package_record_end(w, sha, &err), TD_OK);
    sha_hex("abc", 3, want);
    assert_string_equal(sha, want);
    assert_int_equal(td_package_record_begin(w, "a.TXT", "c", NULL, NULL, &err), TD_ERR_CONFLICT);
    size_t n = 0;
    const td_package_record *recs = td_package_records(w, &n);
    assert_int_equal(n, 1);
    assert_string_equal(recs[0].name, "A.txt");
    assert_int_equal(recs[0].size, 3);
    assert_string_equal(recs[0].sha256, want);
    /* Extra: not an object, too large; the writer survives both. */
    assert_int_equal(td_package_finish(w, "[]", NULL, &err), TD_ERR_INVALID);
    char *huge = malloc(TD_PACKAGE_EXTRA_MAX + 10);
    memset(huge, ' ', TD_PACKAGE_EXTRA_MAX + 9);
    memcpy(huge, "{}", 2);
    huge[TD_PACKAGE_EXTRA_MAX + 9] = '\0';
    assert_int_equal(td_package_finish(w, huge, NULL, &err), TD_ERR_LIMIT);
    /* Abort removes the temporary file; nothing at path. */
    td_package_abort(w);
    assert_false(exists(tmp));
    assert_false(exists(path));
    td_package_abort(NULL);
    /* An existing path is never replaced. */
    spit(path, (const uint8_t *)"x", 1);
    assert_int_equal(td_package_create(path, rcpt_pk, sign_sk, "k", NULL, &w, &err),
                     TD_ERR_CONFLICT);
    assert_null(w);
    /* ... nor one that appears while the package is written. */
    unlink(path);
    assert_int_equal(td_package_create(path, rcpt_pk, sign_sk, "k", NULL, &w, &err), TD_OK);
    spit(path, (const uint8_t *)"y", 1);
    assert_int_equal(td_package_finish(w, NULL, NULL, &err), TD_ERR_CONFLICT);
    assert_false(exists(tmp));
    size_t len = 0;
    uint8_t *kept = slurp(path, &len);
    assert_int_equal(len, 1);
    assert_int_equal(kept[0], 'y');
    free(kept);
    unlink(path);
    free(big);
    free(huge);
}

static void test_limits(void **state)
{
    (void)state;
    /* The writer stops at TD_PACKAGE_RECORDS_MAX records. */
    const char *path = temp_path("pkg-many.tdpkg");
    unlink(path);
    td_package_writer *w = NULL;
    td_error err;
    char name[32];
    assert_int_equal(td_package_create(path, rcpt_pk, sign_sk, "k", NULL, &w, &err), TD_OK);
    for (int i = 0; i < TD_PACKAGE_RECORDS_MAX; i++) {
        snprintf(name, sizeof name, "r%d", i);
        if (td_package_record_begin(w, name, "c", NULL, NULL, &err) ||
            td_package_record_end(w, NULL, &err))
            fail_msg("record %d: %s", i, err.message);
    }
    assert_int_equal(td_package_record_begin(w, "one-more", "c", NULL, NULL, &err), TD_ERR_LIMIT);
    assert_int_equal(td_package_finish(w, NULL, NULL, &err), TD_OK);
    td_package_report rep;
    td_status st;
    assert_int_equal(open_problem(path, sign_pk, &rep, &st), TD_PACKAGE_VERIFIED);
    assert_int_equal(rep.n_records, TD_PACKAGE_RECORDS_MAX);
    td_package_report_clear(&rep);

    /* The reader refuses record 10001. */
    rw wr;
    rw_start(&wr, 1024);
    for (uint32_t i = 0; i <= TD_PACKAGE_RECORDS_MAX; i++) {
        snprintf(name, sizeof name, "r%u", i);
        rw_whole(&wr, i, name, "");
    }
    rw_manifest(&wr, manifest_of(&wr, ""), sign_sk, 3);
    assert_int_equal(rw_open(&wr, NULL, &rep), TD_PACKAGE_LIMIT);
    assert_int_equal(rep.message, 2 * TD_PACKAGE_RECORDS_MAX); /* R E per record */
    td_package_report_clear(&rep);

    /* A manifest message declared over the limit, refused before it is read. */
    rw_start(&wr, 1024);
    uint8_t fh[5] = {'M', 0x7f, 0xff, 0xff, 0xff};
    rw_put(&wr, fh, 5);
    assert_int_equal(rw_open(&wr, NULL, &rep), TD_PACKAGE_LIMIT);
    td_package_report_clear(&rep);
    /* A data message longer than the chunk size. */
    rw_start(&wr, 1024);
    rw_record(&wr, 0, "a", 1);
    uint8_t big[2000] = {0};
    rw_msg(&wr, 'D', 0, big, sizeof big);
    assert_int_equal(rw_open(&wr, NULL, &rep), TD_PACKAGE_ALTERED);
    assert_int_equal(rep.message, 1);
    td_package_report_clear(&rep);
    /* A chunk size out of range in the header. */
    rw_start(&wr, 512);
    rw_manifest(&wr, manifest_of(&wr, ""), sign_sk, 3);
    assert_int_equal(rw_open(&wr, NULL, &rep), TD_PACKAGE_UNSUPPORTED);
    td_package_report_clear(&rep);
    /* No such file; an empty one. */
    assert_int_equal(td_package_open(temp_path("pkg-none"), rcpt_sk, NULL, NULL, &rep, &err),
                     TD_ERR_NOT_FOUND);
    assert_int_equal(rep.problem, TD_PACKAGE_IO_FAILED);
    td_package_report_clear(&rep);
    const char *empty = write_temp("pkg-empty", "", 0);
    assert_int_equal(open_problem(empty, NULL, &rep, &st), TD_PACKAGE_NOT_PACKAGE);
    td_package_report_clear(&rep);
}

/* ---- the command line ---- */

static char out_text[1 << 16];

static int cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int cli(const char *fmt, ...)
{
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s", TD_CLI_PATH, args);
    return run_capture(cmd, out_text, sizeof out_text);
}

static void test_cli(void **state)
{
    (void)state;
    char base[4200], key[4300], pkg[4300], outdir[4300], signer_file[4300], err_file[4300];
    snprintf(base, sizeof base, "%s", test_fresh_dir("pkg-cli-XXXXXX"));
    snprintf(key, sizeof key, "%s/authority.key", base);
    snprintf(pkg, sizeof pkg, "%s/delivery.tdpkg", base);
    snprintf(outdir, sizeof outdir, "%s/out", base);
    snprintf(signer_file, sizeof signer_file, "%s/operator.pub", base);
    snprintf(err_file, sizeof err_file, "%s/stderr", base);

    /* keygen: the public key on stdout, the secret in a 0600 file, never overwritten. */
    assert_int_equal(cli("evidence keygen --out '%s' 2>/dev/null", key), 0);
    uint8_t pk[32], sk[32], derived[32];
    out_text[64] = '\0';
    assert_int_equal(sodium_hex2bin(pk, 32, out_text, 64, NULL, NULL, NULL), 0);
    size_t klen = 0;
    uint8_t *ktext = slurp(key, &klen);
    assert_int_equal(klen, 65);
    assert_int_equal(sodium_hex2bin(sk, 32, (char *)ktext, 64, NULL, NULL, NULL), 0);
    free(ktext);
    crypto_scalarmult_base(derived, sk);
    assert_memory_equal(derived, pk, 32);
    struct stat sb;
    assert_int_equal(stat(key, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(cli("evidence keygen --out '%s' 2>/dev/null", key), 1);
    assert_int_equal(cli("evidence keygen 2>/dev/null"), 2);

    /* A package for that key. */
    td_package_writer *w = NULL;
    td_error err;
    assert_int_equal(td_package_create(pkg, pk, sign_sk, "operator-2026", NULL, &w, &err), TD_OK);
    assert_int_equal(
        td_package_record_begin(w, "subscriber.json", "subscriber", "application/json", NULL, &err),
        TD_OK);
    assert_int_equal(td_package_record_write(w, "{\"name\":\"x\"}", 12, &err), TD_OK);
    char sha[65], msha[65];
    assert_int_equal(td_package_record_end(w, sha, &err), TD_OK);
    assert_int_equal(td_package_finish(w, "{\"order\":\"eo-7\"}", msha, &err), TD_OK);
    char signer_hex[65];
    sodium_bin2hex(signer_hex, sizeof signer_hex, sign_pk, 32);

    assert_int_equal(
        cli("evidence open --key '%s' --signer %s '%s' '%s'", key, signer_hex, pkg, outdir), 0);
    assert_non_null(strstr(out_text, "signer    operator-2026 (signature verified"));
    assert_non_null(strstr(out_text, msha));
    assert_non_null(strstr(out_text, sha));
    assert_non_null(strstr(out_text, "subscriber.json  subscriber  application/json  12"));
    assert_non_null(strstr(out_text, "extra     {\"order\":\"eo-7\"}"));
    char rec[4400];
    snprintf(rec, sizeof rec, "%s/records/subscriber.json", outdir);
    size_t rlen = 0;
    uint8_t *rtext = slurp(rec, &rlen);
    assert_int_equal(rlen, 12);
    assert_memory_equal(rtext, "{\"name\":\"x\"}", 12);
    free(rtext);

    /* --signer as a file; no --signer: intact but a warning. */
    spit(signer_file, (const uint8_t *)signer_hex, 64);
    char out2[4400];
    snprintf(out2, sizeof out2, "%s/out2", base);
    assert_int_equal(
        cli("evidence open --key '%s' --signer '%s' '%s' '%s'", key, signer_file, pkg, out2), 0);
    snprintf(out2, sizeof out2, "%s/out3", base);
    assert_int_equal(cli("evidence open --key '%s' '%s' '%s' 2>'%s'", key, pkg, out2, err_file), 0);
    assert_non_null(strstr(out_text, "signature NOT checked"));
    size_t elen = 0;
    char *etext = (char *)slurp(err_file, &elen);
    etext[elen] = '\0';
    assert_non_null(strstr(etext, "WARNING"));
    free(etext);

    /* Another signer key, a tampered package, a wrong key: refused, non-zero, nothing left. */
    char evil_hex[65];
    sodium_bin2hex(evil_hex, sizeof evil_hex, evil_pk, 32);
    snprintf(out2, sizeof out2, "%s/out4", base);
    assert_int_equal(cli("evidence open --key '%s' --signer %s '%s' '%s' 2>'%s'", key, evil_hex,
                         pkg, out2, err_file),
                     1);
    etext = (char *)slurp(err_file, &elen);
    etext[elen] = '\0';
    assert_non_null(strstr(etext, "signature_invalid"));
    free(etext);
    assert_false(exists(out2));
    size_t plen = 0;
    uint8_t *ptext = slurp(pkg, &plen);
    ptext[plen - 30] ^= 0x20; /* inside the manifest message's ciphertext */
    spit(pkg, ptext, plen);
    free(ptext);
    assert_int_equal(cli("evidence open --key '%s' --signer %s '%s' '%s' 2>'%s'", key, signer_hex,
                         pkg, out2, err_file),
                     1);
    etext = (char *)slurp(err_file, &elen);
    etext[elen] = '\0';
    assert_non_null(strstr(etext, "REFUSED (altered)"));
    assert_non_null(strstr(etext, "authentication failed"));
    free(etext);
    assert_false(exists(out2));

    /* Key files: group-readable refused, not hex refused. */
    chmod(key, 0644);
    assert_int_equal(cli("evidence open --key '%s' '%s' '%s' 2>/dev/null", key, pkg, out2), 1);
    chmod(key, 0600);
    assert_int_equal(
        cli("evidence open --key '%s' --signer nothex '%s' '%s' 2>/dev/null", key, pkg, out2), 1);
    assert_int_equal(cli("evidence open --key '%s' '%s' 2>/dev/null", key, pkg), 2);
    assert_int_equal(cli("evidence open '%s' '%s' 2>/dev/null", pkg, out2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hasher),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_reads_independent_writer),
        cmocka_unit_test(test_chunk_sizes),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_truncate_everywhere),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_swap_drop_repeat),
        cmocka_unit_test(test_resigned),
        cmocka_unit_test(test_manifest_and_grammar),
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_writer_refusals),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
