/* Index snapshots: one segment, tables included, so that loading is a read plus checks.
 *
 * Loading reads the file into memory (see td__snapshot_open for why not mmap).
 *
 * File layout (little-endian): a 128-byte header, then the hashes (32 bytes each), the ids
 * (8 bytes each) and the multi-index tables (uint32 words, chunk after chunk: offsets then
 * positions). The header carries a version, the entry count, the chunk widths, the exact file
 * size, a checksum of everything after it and a checksum of itself. Loading refuses anything that
 * does not add up, then checks that every offset and position stays inside the segment, so that a
 * crafted file that passes the checksum can at worst hide matches, never crash a query. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "index_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "snapshots are written in host order, which must be little-endian"
#endif

#define HEADER_SIZE 128
#define VERSION 1
static const char MAGIC[8] = {'T', 'D', 'P', 'D', 'Q', 'I', 'X', '\n'};

/* ---- checksum: four independent multiply-xorshift lanes over 32-byte blocks ---- */

#define K1 0xd6e8feb86659fd93ULL
#define K2 0xa0761d6478bd642fULL
#define K3 0x8ebc6af09c88c6e3ULL

typedef struct csum {
    uint64_t lane[4];
    uint8_t buf[32];
    size_t buflen;
    uint64_t total;
} csum;

static void csum_init(csum *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 4; i++)
        c->lane[i] = K2 * (uint64_t)(i + 1);
}

static inline uint64_t round64(uint64_t acc, uint64_t v)
{
    acc ^= v;
    acc *= K1;
    return acc ^ (acc >> 29);
}

static void csum_block(csum *c, const uint8_t *p)
{
    for (int i = 0; i < 4; i++) {
        uint64_t v;
        memcpy(&v, p + 8 * i, 8);
        c->lane[i] = round64(c->lane[i], v);
    }
}

static void csum_update(csum *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    c->total += len;
    if (c->buflen) {
        size_t take = 32 - c->buflen < len ? 32 - c->buflen : len;
        memcpy(c->buf + c->buflen, p, take);
        c->buflen += take;
        p += take;
        len -= take;
        if (c->buflen < 32)
            return;
        csum_block(c, c->buf);
        c->buflen = 0;
    }
    for (; len >= 32; p += 32, len -= 32)
        csum_block(c, p);
    memcpy(c->buf, p, len);
    c->buflen = len;
}

static uint64_t csum_final(csum *c)
{
    uint64_t h = c->total * K3;
    if (c->buflen) {
        memset(c->buf + c->buflen, 0, 32 - c->buflen);
        csum_block(c, c->buf);
    }
    for (int i = 0; i < 4; i++) {
        h = round64(h, c->lane[i]);
        h ^= h >> 32;
    }
    return h;
}

static uint64_t checksum(const void *data, size_t len)
{
    csum c;
    csum_init(&c);
    csum_update(&c, data, len);
    return csum_final(&c);
}

/* ---- header ---- */

typedef struct header {
    uint64_t n;
    uint32_t m;
    uint8_t width[TD__MAX_CHUNKS];
    uint64_t file_size;
    uint64_t payload_sum;
} header;

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void header_encode(const header *h, uint8_t *out)
{
    memset(out, 0, HEADER_SIZE);
    memcpy(out, MAGIC, 8);
    put32(out + 8, VERSION);
    put32(out + 12, HEADER_SIZE);
    put64(out + 16, h->n);
    put32(out + 24, h->m);
    memcpy(out + 32, h->width, TD__MAX_CHUNKS);
    put64(out + 64, h->file_size);
    put64(out + 72, h->payload_sum);
    put64(out + 120, checksum(out, 120));
}

/* Expected file size for n entries and the given layout, or 0 on overflow. */
static uint64_t expected_size(uint64_t n, unsigned m, const uint8_t *width)
{
    uint64_t words = 0, size;
    for (unsigned c = 0; c < m; c++)
        words += ((uint64_t)1 << width[c]) + 1 + n;
    if (__builtin_mul_overflow(words, 4, &size) || __builtin_add_overflow(size, 40 * n, &size) ||
        __builtin_add_overflow(size, HEADER_SIZE, &size))
        return 0;
    return size;
}

static td_status header_decode(const uint8_t *p, size_t len, header *h, td_error *err)
{
    if (len < HEADER_SIZE)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "snapshot truncated: %zu bytes, shorter than its %d-byte header", len,
                             HEADER_SIZE);
    if (memcmp(p, MAGIC, 8) != 0)
        return td__error_set(err, TD_ERR_CORRUPT, "not a takedown index snapshot (bad magic)");
    if (get32(p + 8) != VERSION)
        return td__error_set(err, TD_ERR_UNSUPPORTED,
                             "snapshot format version %u is not supported (this build reads %d)",
                             get32(p + 8), VERSION);
    if (get32(p + 12) != HEADER_SIZE || get64(p + 120) != checksum(p, 120))
        return td__error_set(err, TD_ERR_CORRUPT, "snapshot header is corrupt (checksum)");
    h->n = get64(p + 16);
    h->m = get32(p + 24);
    memcpy(h->width, p + 32, TD__MAX_CHUNKS);
    h->file_size = get64(p + 64);
    h->payload_sum = get64(p + 72);
    if (h->n > TD_INDEX_MAX_ENTRIES)
        return td__error_set(err, TD_ERR_LIMIT, "snapshot holds %llu entries, limit is %zu",
                             (unsigned long long)h->n, TD_INDEX_MAX_ENTRIES);
    uint8_t start[TD__MAX_CHUNKS], width[TD__MAX_CHUNKS];
    memset(width, 0, sizeof width);
    if (h->m != 0 && (h->m < 11 || h->m > TD__MAX_CHUNKS))
        return td__error_set(err, TD_ERR_CORRUPT, "snapshot has %u chunks (11..%d allowed)", h->m,
                             TD__MAX_CHUNKS);
    td__seg_layout(h->m, start, width);
    if (memcmp(width, h->width, TD__MAX_CHUNKS) != 0)
        return td__error_set(err, TD_ERR_CORRUPT, "snapshot chunk layout is not the standard one");
    uint64_t want = expected_size(h->n, h->m, h->width);
    if (want == 0 || want != h->file_size)
        return td__error_set(err, TD_ERR_CORRUPT, "snapshot header sizes are inconsistent");
    if (len < want)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "snapshot truncated: %zu bytes of the %llu its header announces", len,
                             (unsigned long long)want);
    if (len > want)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "snapshot has %zu bytes, %llu more than its header announces", len,
                             (unsigned long long)(len - want));
    return TD_OK;
}

/* ---- writing ---- */

static td_status write_all(FILE *f, const void *data, size_t len, csum *c, const char *path,
                           td_error *err)
{
    if (len && fwrite(data, 1, len, f) != len)
        return td__error_set(err, TD_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    csum_update(c, data, len);
    return TD_OK;
}

td_status td__snapshot_write(const td__seg *seg, const char *path, td_error *err)
{
    size_t plen = strlen(path);
    char *tmp = td__malloc(plen + 5);
    if (!tmp)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        td_status st = td__error_set(err, TD_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        td__free(tmp);
        return st;
    }
    header h;
    memset(&h, 0, sizeof h);
    h.n = seg->n;
    h.m = seg->m;
    memcpy(h.width, seg->width, seg->m);
    h.file_size = expected_size(h.n, h.m, h.width);

    uint8_t hb[HEADER_SIZE];
    csum c;
    csum_init(&c);
    header_encode(&h, hb); /* placeholder: rewritten with the checksum at the end */
    td_status st = fwrite(hb, 1, HEADER_SIZE, f) == HEADER_SIZE
                       ? TD_OK
                       : td__error_set(err, TD_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (st == TD_OK)
        st = write_all(f, seg->h, seg->n * 32, &c, tmp, err);
    if (st == TD_OK)
        st = write_all(f, seg->ids, seg->n * 8, &c, tmp, err);
    for (unsigned ch = 0; ch < seg->m && st == TD_OK; ch++) {
        st = write_all(f, seg->off[ch], (((size_t)1 << seg->width[ch]) + 1) * 4, &c, tmp, err);
        if (st == TD_OK)
            st = write_all(f, seg->pos[ch], seg->n * 4, &c, tmp, err);
    }
    if (st == TD_OK) {
        h.payload_sum = csum_final(&c);
        header_encode(&h, hb);
        if (fseek(f, 0, SEEK_SET) != 0 || fwrite(hb, 1, HEADER_SIZE, f) != HEADER_SIZE ||
            fflush(f) != 0 || fsync(fileno(f)) != 0)
            st = td__error_set(err, TD_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (fclose(f) != 0 && st == TD_OK)
        st = td__error_set(err, TD_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (st == TD_OK && rename(tmp, path) != 0)
        st =
            td__error_set(err, TD_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != TD_OK)
        unlink(tmp);
    td__free(tmp);
    return st;
}

/* ---- reading ---- */

static td_status check_tables(const td__seg *seg, td_error *err)
{
    for (unsigned c = 0; c < seg->m; c++) {
        const uint32_t *off = seg->off[c], *pos = seg->pos[c];
        size_t buckets = (size_t)1 << seg->width[c];
        uint32_t bad = 0;
        if (off[0] != 0 || off[buckets] != seg->n)
            return td__error_set(err, TD_ERR_CORRUPT, "snapshot chunk %u offsets are corrupt", c);
        for (size_t k = 0; k < buckets; k++)
            bad |= off[k] > off[k + 1];
        for (size_t i = 0; i < seg->n; i++)
            bad |= pos[i] >= seg->n;
        if (bad)
            return td__error_set(err, TD_ERR_CORRUPT, "snapshot chunk %u tables are corrupt", c);
    }
    return TD_OK;
}

/* Builds a segment over a verified image of the file at base (len bytes). */
static td_status segment_over(const uint8_t *base, size_t len, td__seg **out, td_error *err)
{
    header h;
    td_status st = header_decode(base, len, &h, err);
    if (st != TD_OK)
        return st;
    if (checksum(base + HEADER_SIZE, len - HEADER_SIZE) != h.payload_sum)
        return td__error_set(err, TD_ERR_CORRUPT, "snapshot is corrupt (checksum mismatch)");
    td__seg *seg = td__calloc(1, sizeof *seg);
    if (!seg)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    seg->n = h.n;
    seg->h = (const uint64_t *)(base + HEADER_SIZE);
    seg->ids = (const uint64_t *)(base + HEADER_SIZE + 32 * h.n);
    seg->m = h.m;
    td__seg_layout(seg->m, seg->start, seg->width);
    td__seg_attach_tables(seg, (const uint32_t *)(base + HEADER_SIZE + 40 * h.n));
    atomic_init(&seg->refs, 1);
    seg->removed = td__calloc(h.n ? h.n : 1, sizeof *seg->removed);
    if (!seg->removed) {
        td__free(seg);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory for %llu entries",
                             (unsigned long long)h.n);
    }
    if ((st = check_tables(seg, err)) != TD_OK) {
        td__free((void *)seg->removed);
        td__free(seg);
        return st;
    }
    *out = seg;
    return TD_OK;
}

td_status td__snapshot_open(const char *path, td__seg **out, td_error *err)
{
    /* Read into anonymous memory rather than mapping the file: queries hit these pages at random,
     * and only anonymous memory gets transparent huge pages (several times fewer TLB misses).
     * It also means a file truncated under a running index cannot fault a query. */
    struct stat sb;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return td__error_set(err, errno == ENOENT ? TD_ERR_NOT_FOUND : TD_ERR_IO,
                             "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return td__error_set(err, TD_ERR_IO, "%s is not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t hb[HEADER_SIZE];
    header h;
    /* header_decode only reads the header bytes when len covers them. */
    ssize_t got = pread(fd, hb, HEADER_SIZE, 0);
    td_status st = got < 0 || (size_t)got < (len < HEADER_SIZE ? len : HEADER_SIZE)
                       ? td__error_set(err, TD_ERR_IO, "cannot read: %s", strerror(errno))
                       : header_decode(hb, len, &h, err);
    if (st != TD_OK) {
        close(fd);
        td__error_prefix(err, "%s: ", path);
        return st;
    }
    uint8_t *buf = td__aligned_array(len, 1);
    if (!buf) {
        close(fd);
        return td__error_set(err, TD_ERR_NOMEM, "%s: no memory for a %zu-byte snapshot", path, len);
    }
    td__advise_huge(buf, len);
    size_t done = 0;
    while (done < len) {
        ssize_t n =
            pread(fd, buf + done, len - done > ((size_t)1 << 30) ? (size_t)1 << 30 : len - done,
                  (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            st = n == 0 ? td__error_set(err, TD_ERR_CORRUPT, "snapshot truncated while reading")
                        : td__error_set(err, TD_ERR_IO, "cannot read: %s", strerror(errno));
            break;
        }
        done += (size_t)n;
    }
    close(fd);
    td__seg *seg = NULL;
    if (st == TD_OK)
        st = segment_over(buf, len, &seg, err);
    if (st != TD_OK) {
        td__free(buf);
        td__error_prefix(err, "%s: ", path);
        return st;
    }
    seg->own_tables = (uint32_t *)buf;
    *out = seg;
    return TD_OK;
}

td_status td__snapshot_from_memory(const void *data, size_t len, td__seg **out, td_error *err)
{
    *out = NULL;
    uint32_t *copy = td__aligned_array(len ? len : 1, 1);
    if (!copy)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory for a %zu-byte snapshot", len);
    memcpy(copy, data, len);
    td__seg *seg;
    td_status st = segment_over((const uint8_t *)copy, len, &seg, err);
    if (st != TD_OK) {
        td__free(copy);
        return st;
    }
    seg->own_tables = copy;
    *out = seg;
    return TD_OK;
}
