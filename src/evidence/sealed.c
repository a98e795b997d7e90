/* Sealed item files. Why a stream rather than one AEAD message: items can be videos of hundreds
 * of megabytes, and libsodium's secretstream authenticates chunk order and the end of the
 * stream, so a truncated, reordered or spliced file fails as surely as a flipped bit.
 *
 * Layout (integers big-endian):
 *   "TDSEAL01" | u64 content length | u32 metadata length | secretstream header (24 bytes)
 *   frame*: u32 ciphertext length | ciphertext
 * Frame 0 is the metadata, with the fixed header and the caller's binding string (case and item)
 * as additional data; then the content in 64 KiB chunks, the last one tagged FINAL (one empty
 * FINAL frame for empty content). The reader knows every frame's exact length from the
 * authenticated header and accepts nothing else. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "evidence/sealed.h"

#define MAGIC "TDSEAL01"
#define HEAD_LEN (8 + 8 + 4 + crypto_secretstream_xchacha20poly1305_HEADERBYTES)
#define FIXED_LEN (8 + 8 + 4)
#define CHUNK ((size_t)64 * 1024)
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define MAX_META ((size_t)1 << 20)

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

/* Additional data of frame 0: the fixed header fields and the binding string. */
static uint8_t *make_ad(const uint8_t *fixed, const char *bind, size_t *len)
{
    size_t n = strlen(bind);
    uint8_t *ad = td__malloc(FIXED_LEN + n);
    if (ad) {
        memcpy(ad, fixed, FIXED_LEN);
        memcpy(ad + FIXED_LEN, bind, n);
        *len = FIXED_LEN + n;
    }
    return ad;
}

static int write_frame(FILE *f, const uint8_t *c, size_t clen)
{
    uint8_t l[4];
    put32(l, (uint32_t)clen);
    return fwrite(l, 1, 4, f) == 4 && fwrite(c, 1, clen, f) == clen ? 0 : -1;
}

static td_status sync_dir(const char *path, td_error *err)
{
    char *copy = td__strdup(path);
    if (!copy)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    td_status st = TD_OK;
    if (fd < 0 || fsync(fd) != 0)
        st = td__error_set(err, TD_ERR_IO, "evidence: syncing the directory of %s: %s", path,
                           strerror(errno));
    if (fd >= 0)
        close(fd);
    td__free(copy);
    return st;
}

td_status td__sealed_write(const char *path, const uint8_t key[TD__ITEM_KEY_LEN], const char *bind,
                           const char *meta, size_t meta_len, const uint8_t *content, size_t len,
                           td_error *err)
{
    crypto_secretstream_xchacha20poly1305_state ss;
    uint8_t head[HEAD_LEN];
    size_t ad_len = 0, tmp_len = strlen(path) + 5;
    td_status st = TD_OK;
    if (meta_len > MAX_META)
        return td__error_set(err, TD_ERR_LIMIT, "evidence: related data over %zu bytes", MAX_META);
    memcpy(head, MAGIC, 8);
    put64(head + 8, len);
    put32(head + 16, (uint32_t)meta_len);
    crypto_secretstream_xchacha20poly1305_init_push(&ss, head + FIXED_LEN, key);
    uint8_t *ad = make_ad(head, bind, &ad_len);
    uint8_t *buf = td__malloc((meta_len > CHUNK ? meta_len : CHUNK) + ABYTES);
    char *tmp = td__malloc(tmp_len);
    if (!ad || !buf || !tmp) {
        st = td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
        goto out;
    }
    snprintf(tmp, tmp_len, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        st = td__error_set(err, TD_ERR_IO, "evidence: cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    int bad = fwrite(head, 1, HEAD_LEN, f) != HEAD_LEN;
    crypto_secretstream_xchacha20poly1305_push(&ss, buf, NULL, (const uint8_t *)meta, meta_len, ad,
                                               ad_len, 0);
    bad = bad || write_frame(f, buf, meta_len + ABYTES);
    size_t off = 0;
    do {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        uint8_t tag = off + n == len ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
        crypto_secretstream_xchacha20poly1305_push(&ss, buf, NULL, n ? content + off : NULL, n,
                                                   NULL, 0, tag);
        bad = bad || write_frame(f, buf, n + ABYTES);
        off += n;
    } while (off < len && !bad);
    bad = bad || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (fclose(f) != 0 || bad) {
        st = td__error_set(err, TD_ERR_IO, "evidence: writing %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        st = td__error_set(err, TD_ERR_IO, "evidence: renaming to %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    st = sync_dir(path, err);
out:
    sodium_memzero(&ss, sizeof ss);
    td__free(ad);
    td__free(buf);
    td__free(tmp);
    return st;
}

static td_status read_exact(FILE *f, uint8_t *p, size_t n, const char *path, td_error *err)
{
    if (fread(p, 1, n, f) != n)
        return td__error_set(err, TD_ERR_CORRUPT, "evidence: %s is truncated", path);
    return TD_OK;
}

/* Reads one frame of exactly plain_len plaintext bytes into out, expecting tag want_tag. */
static td_status pull_frame(FILE *f, crypto_secretstream_xchacha20poly1305_state *ss, uint8_t *buf,
                            uint8_t *out, size_t plain_len, const uint8_t *ad, size_t ad_len,
                            uint8_t want_tag, const char *path, size_t index, td_error *err)
{
    uint8_t l[4], tag;
    td_status st = read_exact(f, l, 4, path, err);
    if (st)
        return st;
    if (get32(l) != plain_len + ABYTES)
        return td__error_set(err, TD_ERR_CORRUPT, "evidence: %s: frame %zu has a wrong length",
                             path, index);
    if ((st = read_exact(f, buf, plain_len + ABYTES, path, err)))
        return st;
    if (crypto_secretstream_xchacha20poly1305_pull(ss, out, NULL, &tag, buf, plain_len + ABYTES, ad,
                                                   ad_len) != 0)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "evidence: %s: authentication failed at frame %zu (altered or "
                             "wrong key)",
                             path, index);
    if (tag != want_tag)
        return td__error_set(err, TD_ERR_CORRUPT, "evidence: %s: stream ends at frame %zu", path,
                             index);
    return TD_OK;
}

td_status td__sealed_read(const char *path, const uint8_t key[TD__ITEM_KEY_LEN], const char *bind,
                          uint64_t max_bytes, char **meta, size_t *meta_len, uint8_t **content,
                          size_t *len, td_error *err)
{
    crypto_secretstream_xchacha20poly1305_state ss;
    uint8_t head[HEAD_LEN];
    uint8_t *ad = NULL, *buf = NULL, *data = NULL;
    char *m = NULL;
    size_t ad_len = 0, mlen = 0;
    uint64_t clen = 0;
    td_status st;
    *meta = NULL;
    *content = NULL;
    *meta_len = *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return td__error_set(err, errno == ENOENT ? TD_ERR_NOT_FOUND : TD_ERR_IO,
                             "evidence: %s: %s", path, strerror(errno));
    if ((st = read_exact(f, head, HEAD_LEN, path, err)))
        goto out;
    clen = get64(head + 8);
    mlen = get32(head + 16);
    if (memcmp(head, MAGIC, 8) != 0 || mlen > MAX_META) {
        st = td__error_set(err, TD_ERR_CORRUPT, "evidence: %s is not a sealed item", path);
        goto out;
    }
    if (clen > max_bytes || clen > SIZE_MAX - CHUNK) {
        st = td__error_set(err, TD_ERR_LIMIT, "evidence: %s: item of %llu bytes over the limit",
                           path, (unsigned long long)clen);
        goto out;
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(&ss, head + FIXED_LEN, key) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "evidence: %s: bad stream header", path);
        goto out;
    }
    ad = make_ad(head, bind, &ad_len);
    buf = td__malloc((mlen > CHUNK ? mlen : CHUNK) + ABYTES);
    m = sodium_malloc(mlen + 1);
    data = clen ? sodium_malloc((size_t)clen) : NULL;
    if (!ad || !buf || !m || (clen && !data)) {
        st = td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
        goto out;
    }
    if ((st = pull_frame(f, &ss, buf, (uint8_t *)m, mlen, ad, ad_len, 0, path, 0, err)))
        goto out;
    m[mlen] = '\0';
    size_t off = 0, frame = 1;
    do {
        size_t n = clen - off < CHUNK ? (size_t)clen - off : CHUNK;
        uint8_t tag = off + n == clen ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
        if ((st = pull_frame(f, &ss, buf, data ? data + off : buf, n, NULL, 0, tag, path, frame++,
                             err)))
            goto out;
        off += n;
    } while (off < clen);
    if (fgetc(f) != EOF) {
        st = td__error_set(err, TD_ERR_CORRUPT, "evidence: %s: data after the end", path);
        goto out;
    }
    *meta = m;
    *meta_len = mlen;
    *content = data;
    *len = (size_t)clen;
    m = NULL;
    data = NULL;
out:
    fclose(f);
    sodium_memzero(&ss, sizeof ss);
    sodium_free(m);
    sodium_free(data);
    if (buf)
        sodium_memzero(buf, (mlen > CHUNK ? mlen : CHUNK) + ABYTES);
    td__free(buf);
    td__free(ad);
    return st;
}
