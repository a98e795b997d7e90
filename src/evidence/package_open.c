/* Opening a delivery package (format: docs/evidence-package.md, constants: package_int.h).
 *
 * The file is untrusted: every length is checked against the format's limits before anything is
 * allocated or read, and nothing read from it is believed before it authenticates. Data messages
 * are decrypted into one of TD__PKG_READ_BATCHES batch buffers (1 MiB each); a full batch is
 * queued for the hasher's thread (package_hash.c) and written to its output file while the next
 * ones are decrypted into the other buffers, so that the hash may fall a few batches behind when
 * its thread waits for a core. Memory is bounded by the batches and the manifest limit, never by
 * record sizes.
 *
 * The order of the checks is the order of the file: header, sealed key, each message (framing,
 * authentication, its place in the grammar RECORD DATA* END ... MANIFEST), the end of the file,
 * then the signature, then the manifest against what was read. The first problem stops the
 * opening and is reported with its place (message, file offset, record, offset in the record).
 *
 * Output: records are decrypted into records/.partial-<index> and get their names only after the
 * manifest verified; any failure removes every file this call created. Record names are checked
 * against the name rule (package_format.c) before they are used as file names, and all files are
 * created relative to the output directory's descriptor, exclusively, never following links. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "evidence/package_int.h"

typedef crypto_secretstream_xchacha20poly1305_state stream_state;

/* What happened to a record's output files, for the final renames and the cleanup. */
enum { OUT_NONE = 0, OUT_PARTIAL = 1, OUT_FINAL = 2 };

typedef struct opener {
    int fd;
    const char *name; /* the package, as messages call it */
    uint64_t file_size;
    int size_known;
    uint64_t pos; /* offset of the next byte to read (taken from the input buffer or the file) */
    /* The input buffer: the file is read in large pieces (one read(2) per TD__PKG_IN_READ bytes
     * or so rather than two per message) and messages are decrypted where they lie; bytes
     * [in_off, in_len) are read and not taken yet. */
    uint8_t *in;
    size_t in_off, in_len;
    td_package_report *rep;
    td_error *err;
    uint8_t header[TD__PKG_HEADER_LEN];
    uint8_t pk[TD_PACKAGE_X25519_KEY_LEN];
    stream_state *ss; /* guarded memory */
    size_t chunk;
    uint8_t *pbuf; /* plaintext of record headers and ends */
    int64_t msg;   /* index of the message being read */
    uint64_t msg_off;
    /* records read */
    td_package_record *recs;
    uint8_t *out_state;
    size_t n_recs, cap_recs;
    td__pkg_names names;
    int in_record;
    uint64_t rec_size;
    td__pkg_hasher hash;
    /* data batches (allocated at the first data): bufs[cur] is being filled; bufs[i] is free
     * again once the hasher's job buf_job[i] is done */
    uint8_t *bufs[TD__PKG_READ_BATCHES];
    uint64_t buf_job[TD__PKG_READ_BATCHES];
    size_t batch, fill;
    size_t used; /* the most of a batch ever filled: what to wipe */
    int cur;
    /* the manifest message's plaintext */
    uint8_t *mplain;
    size_t mlen;
    /* output (dir_fd < 0: verify only) */
    const char *out_dir;
    int dir_fd, rec_fd, part_fd;
    int made_out_dir, made_rec_dir, made_manifest, made_sig;
} opener;

/* Records the first problem, with err's message prefixed by the package's name. */
static td_status fail(opener *op, td_package_problem problem, td_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static td_status fail(opener *op, td_package_problem problem, td_status st, const char *fmt, ...)
{
    char text[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    op->rep->problem = problem;
    return td__error_set(op->err, st, "package %s: %s", op->name, text);
}

static td_status corrupt(opener *op, td_package_problem problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static td_status corrupt(opener *op, td_package_problem problem, const char *fmt, ...)
{
    char text[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return fail(op, problem, TD_ERR_CORRUPT, "%s", text);
}

static td_status out_failed(opener *op, int e, const char *what, const char *file)
{
    td_status st = e == EEXIST                  ? TD_ERR_CONFLICT
                   : e == ENOSPC || e == EDQUOT ? TD_ERR_NOSPACE
                                                : TD_ERR_IO;
    return fail(op, TD_PACKAGE_IO_FAILED, st, "%s %s/%s: %s", what, op->out_dir ? op->out_dir : "",
                file, strerror(e));
}

static td_status nomem(opener *op)
{
    return fail(op, TD_PACKAGE_IO_FAILED, TD_ERR_NOMEM, "out of memory");
}

/* A printable copy of untrusted text for messages: at most 64 bytes, anything but printable
 * ASCII as '?'. */
static const char *shown(const char *s, size_t n, char out[68])
{
    size_t k = n < 64 ? n : 64;
    for (size_t i = 0; i < k; i++)
        out[i] =
            (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f && s[i] != '\'' ? s[i] : '?';
    memcpy(out + k, n > 64 ? "..." : "", n > 64 ? 4 : 1);
    return out;
}

/* Sets the report's place to the message being read (and its record, inside one) and writes it
 * in words into buf. */
static const char *place(opener *op, char *buf, size_t cap)
{
    op->rep->message = op->msg;
    op->rep->file_offset = op->msg_off;
    int n = snprintf(buf, cap, "message %lld at offset %llu", (long long)op->msg,
                     (unsigned long long)op->msg_off);
    if (op->in_record && n > 0 && (size_t)n < cap) {
        op->rep->record = (int64_t)op->n_recs;
        op->rep->record_offset = op->rec_size;
        snprintf(buf + n, cap - (size_t)n, " (record %zu '%s', its bytes from %llu)", op->n_recs,
                 op->recs[op->n_recs].name, (unsigned long long)op->rec_size);
    }
    return buf;
}

#define PLACE_MAX 256

/* A problem of the whole package, not of one message. */
static void no_place(opener *op)
{
    op->rep->message = op->rep->record = -1;
    op->rep->file_offset = op->rep->record_offset = 0;
}

/* ---- output ---- */

static void partial_name(size_t index, char out[32]) { snprintf(out, 32, ".partial-%zu", index); }

static td_status out_open(opener *op)
{
    struct stat sb;
    if (mkdir(op->out_dir, 0700) == 0)
        op->made_out_dir = 1;
    else if (errno != EEXIST)
        return fail(op, TD_PACKAGE_IO_FAILED, TD_ERR_IO, "cannot create %s: %s", op->out_dir,
                    strerror(errno));
    op->dir_fd = open(op->out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (op->dir_fd < 0)
        return fail(op, TD_PACKAGE_IO_FAILED, TD_ERR_IO, "cannot open %s: %s", op->out_dir,
                    strerror(errno));
    /* Fail before decrypting a gigabyte, not after. */
    const char *const fixed[] = {"manifest.json", "manifest.sig"};
    for (size_t i = 0; i < 2; i++)
        if (fstatat(op->dir_fd, fixed[i], &sb, AT_SYMLINK_NOFOLLOW) == 0)
            return out_failed(op, EEXIST, "cannot create", fixed[i]);
    if (mkdirat(op->dir_fd, "records", 0700) == 0)
        op->made_rec_dir = 1;
    else if (errno != EEXIST)
        return out_failed(op, errno, "cannot create", "records");
    op->rec_fd = openat(op->dir_fd, "records", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (op->rec_fd < 0)
        return out_failed(op, errno, "cannot open", "records");
    return TD_OK;
}

/* Removes what this call created: partial and final record files, the manifest files, the
 * directories it made (when they are empty). */
static void out_cleanup(opener *op)
{
    char part[32];
    if (op->part_fd >= 0) {
        close(op->part_fd);
        op->part_fd = -1;
    }
    if (op->rec_fd >= 0) {
        size_t n = op->n_recs + (op->in_record ? 1 : 0);
        for (size_t i = 0; i < n && i < op->cap_recs; i++) {
            if (op->out_state[i] & OUT_PARTIAL) {
                partial_name(i, part);
                unlinkat(op->rec_fd, part, 0);
            }
            if (op->out_state[i] & OUT_FINAL)
                unlinkat(op->rec_fd, op->recs[i].name, 0);
            op->out_state[i] = OUT_NONE;
        }
    }
    if (op->dir_fd >= 0) {
        if (op->made_manifest)
            unlinkat(op->dir_fd, "manifest.json", 0);
        if (op->made_sig)
            unlinkat(op->dir_fd, "manifest.sig", 0);
        if (op->made_rec_dir)
            unlinkat(op->dir_fd, "records", AT_REMOVEDIR);
    }
    if (op->made_out_dir)
        rmdir(op->out_dir);
}

static td_status out_write(opener *op, int fd, const uint8_t *p, size_t n, const char *file)
{
    if (td__pkg_write_all(fd, p, n) != 0)
        return out_failed(op, errno, "writing", file);
    return TD_OK;
}

/* A new file of dir, created exclusively, mode 0600, never through a link. */
static int create_at(int dir, const char *file)
{
    return openat(dir, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

static td_status write_small_file(opener *op, const char *file, const uint8_t *p, size_t n,
                                  int *made)
{
    int fd = create_at(op->dir_fd, file);
    if (fd < 0)
        return out_failed(op, errno, "cannot create", file);
    *made = 1;
    td_status st = out_write(op, fd, p, n, file);
    if (st == TD_OK && fsync(fd) != 0)
        st = out_failed(op, errno, "syncing", file);
    close(fd);
    return st;
}

/* Everything verified: the manifest and its signature, then each record under its name. */
static td_status out_commit(opener *op, const uint8_t *manifest, size_t mlen, const uint8_t *sig)
{
    char hex[2 * TD__PKG_SIG_LEN + 2], part[32];
    td_status st = write_small_file(op, "manifest.json", manifest, mlen, &op->made_manifest);
    if (st)
        return st;
    td__hex_encode(sig, TD__PKG_SIG_LEN, hex);
    hex[2 * TD__PKG_SIG_LEN] = '\n';
    if ((st = write_small_file(op, "manifest.sig", (const uint8_t *)hex, sizeof hex - 1,
                               &op->made_sig)))
        return st;
    /* link + unlink: a rename that never replaces a file created meanwhile. */
    for (size_t i = 0; i < op->n_recs; i++) {
        partial_name(i, part);
        if (linkat(op->rec_fd, part, op->rec_fd, op->recs[i].name, 0) != 0)
            return out_failed(op, errno, "cannot create records", op->recs[i].name);
        op->out_state[i] |= OUT_FINAL;
    }
    for (size_t i = 0; i < op->n_recs; i++) {
        partial_name(i, part);
        unlinkat(op->rec_fd, part, 0);
        op->out_state[i] &= (uint8_t)~OUT_PARTIAL;
    }
    if (fsync(op->rec_fd) != 0 || fsync(op->dir_fd) != 0)
        return out_failed(op, errno, "syncing", "");
    return TD_OK;
}

/* ---- reading the file ---- */

/* Takes the next n <= TD__PKG_IN_MAX bytes of the file: *view points at them in the input
 * buffer, valid until the next read. Returns -1 when the file has fewer (*got of them, all
 * taken; errno 0) or a read fails (errno set). */
static int read_view(opener *op, size_t n, const uint8_t **view, size_t *got)
{
    if (op->in_len - op->in_off < n) {
        /* Keep what is left (less than a message) at the start, then read on. */
        memmove(op->in, op->in + op->in_off, op->in_len - op->in_off);
        op->in_len -= op->in_off;
        op->in_off = 0;
        while (op->in_len < n) {
            ssize_t r = read(op->fd, op->in + op->in_len, TD__PKG_IN_CAP - op->in_len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                if (r == 0)
                    errno = 0;
                *got = op->in_len;
                op->pos += op->in_len;
                op->in_off = op->in_len;
                return -1;
            }
            op->in_len += (size_t)r;
        }
    }
    *view = op->in + op->in_off;
    *got = n;
    op->in_off += n;
    op->pos += n;
    return 0;
}

/* Reads the next n bytes (any number) into p: what the input buffer holds, then the file. A
 * short read is the file's end (-1, errno 0); a failed one -1 with errno. */
static int read_at_pos(opener *op, uint8_t *p, size_t n, size_t *got)
{
    size_t k = op->in_len - op->in_off < n ? op->in_len - op->in_off : n;
    memcpy(p, op->in + op->in_off, k);
    op->in_off += k;
    op->pos += k;
    size_t more = 0;
    int rc = k == n ? 0 : td__pkg_read_full(op->fd, p + k, n - k, &more);
    op->pos += more;
    *got = k + more;
    return rc;
}

static td_status read_header(opener *op, const uint8_t *sk)
{
    size_t got = 0;
    uint8_t *h = op->header;
    if (read_at_pos(op, h, TD__PKG_HEADER_LEN, &got) != 0 && errno)
        return fail(op, TD_PACKAGE_IO_FAILED, TD_ERR_IO, "read: %s", strerror(errno));
    if (got < TD__PKG_MAGIC_LEN || memcmp(h, TD__PKG_MAGIC, TD__PKG_MAGIC_LEN) != 0)
        return corrupt(op, TD_PACKAGE_NOT_PACKAGE,
                       "not an evidence package (no TDEVPKG magic at offset 0)");
    if (got < TD__PKG_HEADER_LEN) {
        op->rep->file_offset = got;
        return corrupt(op, TD_PACKAGE_TRUNCATED,
                       "truncated: the file ends inside its %d-byte header, at offset %zu",
                       TD__PKG_HEADER_LEN, got);
    }
    unsigned version = td__pkg_get16(h + TD__PKG_OFF_VERSION);
    unsigned flags = td__pkg_get16(h + TD__PKG_OFF_FLAGS);
    uint32_t chunk = td__pkg_get32(h + TD__PKG_OFF_CHUNK);
    if (version != TD__PKG_VERSION)
        return fail(op, TD_PACKAGE_UNSUPPORTED, TD_ERR_UNSUPPORTED,
                    "format version %u (this reader knows %d; or the header was altered)", version,
                    TD__PKG_VERSION);
    if (flags != 0)
        return fail(op, TD_PACKAGE_UNSUPPORTED, TD_ERR_UNSUPPORTED,
                    "header flags 0x%04x unknown (or the header was altered)", flags);
    if (chunk < TD_PACKAGE_CHUNK_MIN || chunk > TD_PACKAGE_CHUNK_MAX)
        return fail(op, TD_PACKAGE_UNSUPPORTED, TD_ERR_UNSUPPORTED,
                    "chunk size %u outside %zu..%zu (or the header was altered)", chunk,
                    TD_PACKAGE_CHUNK_MIN, TD_PACKAGE_CHUNK_MAX);
    op->chunk = chunk;
    td__hex_encode(h + TD__PKG_OFF_ID, TD__PKG_ID_LEN, op->rep->package_id);

    uint8_t *key = sodium_malloc(TD__PKG_KEY_LEN);
    if (!key)
        return nomem(op);
    td_status st = TD_OK;
    crypto_scalarmult_base(op->pk, sk);
    if (crypto_box_seal_open(key, h + TD__PKG_OFF_SEALED, TD__PKG_SEALED_LEN, op->pk, sk) != 0) {
        op->rep->file_offset = TD__PKG_OFF_SEALED;
        st = corrupt(op, TD_PACKAGE_WRONG_KEY,
                     "the package key does not open with this secret key (public key %02x%02x"
                     "%02x%02x...): a package for another recipient, or its key block (offset "
                     "%d) was altered",
                     op->pk[0], op->pk[1], op->pk[2], op->pk[3], TD__PKG_OFF_SEALED);
    } else if (crypto_secretstream_xchacha20poly1305_init_pull(op->ss, h + TD__PKG_OFF_STREAM,
                                                               key) != 0) {
        st = corrupt(op, TD_PACKAGE_ALTERED, "the stream header is invalid");
    }
    sodium_free(key); /* wipes */
    return st;
}

/* The largest ciphertext a message of kind may have (0: no such kind). */
static size_t max_cipher(const opener *op, uint8_t kind)
{
    switch (kind) {
    case TD__PKG_KIND_RECORD: return TD__PKG_RECORD_MAX + TD__PKG_ABYTES;
    case TD__PKG_KIND_DATA: return op->chunk + TD__PKG_ABYTES;
    case TD__PKG_KIND_END: return TD__PKG_END_LEN + TD__PKG_ABYTES;
    case TD__PKG_KIND_MANIFEST:
        return (size_t)TD_PACKAGE_MANIFEST_MAX + TD__PKG_MANIFEST_OVERHEAD + TD__PKG_ABYTES;
    default: return 0;
    }
}

/* Hands the batch being filled to the hasher and to the output file, and moves to the next
 * buffer (next_message waits for its earlier job before filling it). */
static td_status flush(opener *op)
{
    if (!op->fill)
        return TD_OK;
    op->buf_job[op->cur] = td__pkg_hasher_post(&op->hash, op->bufs[op->cur], op->fill);
    td_status st = TD_OK;
    if (op->part_fd >= 0)
        st = out_write(op, op->part_fd, op->bufs[op->cur], op->fill, "records/.partial");
    op->cur = (op->cur + 1) % TD__PKG_READ_BATCHES;
    op->fill = 0;
    return st;
}

/* Reads and authenticates the next message: *kind, its plaintext in *plain (the batch being
 * filled for data, op->mplain for the manifest, else op->pbuf), *plen bytes, *tag. */
static td_status next_message(opener *op, uint8_t *kind, uint8_t **plain, size_t *plen,
                              uint8_t *tag)
{
    const uint8_t *frame;
    char at[PLACE_MAX];
    size_t got = 0;
    op->msg_off = op->pos;
    if (read_view(op, TD__PKG_FRAME_LEN, &frame, &got) != 0) {
        if (errno)
            return fail(op, TD_PACKAGE_IO_FAILED, TD_ERR_IO, "read: %s", strerror(errno));
        place(op, at, sizeof at);
        if (got == 0)
            return corrupt(op, TD_PACKAGE_TRUNCATED,
                           "truncated: the file ends at offset %llu, after %lld messages and "
                           "before the final (manifest) message",
                           (unsigned long long)op->msg_off, (long long)op->msg);
        return corrupt(op, TD_PACKAGE_TRUNCATED, "truncated: the file ends inside %s's frame", at);
    }
    *kind = frame[0];
    size_t clen = td__pkg_get32(frame + 1);
    size_t max = max_cipher(op, *kind);
    if (!max) {
        place(op, at, sizeof at);
        return corrupt(op, TD_PACKAGE_ALTERED, "%s: unknown message kind 0x%02x (altered)", at,
                       *kind);
    }
    if (clen < TD__PKG_ABYTES || clen > max) {
        place(op, at, sizeof at);
        if (*kind == TD__PKG_KIND_MANIFEST && clen > max)
            return fail(op, TD_PACKAGE_LIMIT, TD_ERR_LIMIT,
                        "%s: a manifest message of %zu bytes, over the limit of %zu", at, clen,
                        max);
        return corrupt(op, TD_PACKAGE_ALTERED,
                       "%s: a '%c' message of %zu bytes, outside 17..%zu (altered length)", at,
                       *kind, clen, max);
    }
    if (op->size_known && clen > op->file_size - op->pos) {
        place(op, at, sizeof at);
        return corrupt(op, TD_PACKAGE_TRUNCATED,
                       "truncated: %s declares %zu bytes but the file has %llu left (cut short, "
                       "or its length altered)",
                       at, clen, (unsigned long long)(op->file_size - op->pos));
    }
    const uint8_t *cbuf = NULL;
    uint8_t *pbuf = op->pbuf, *mcipher = NULL;
    td_status st = TD_OK;
    if (*kind == TD__PKG_KIND_DATA) {
        if (!op->bufs[0])
            for (int i = 0; i < TD__PKG_READ_BATCHES; i++)
                if (!(op->bufs[i] = td__malloc(op->batch)))
                    return nomem(op);
        if (op->fill + (clen - TD__PKG_ABYTES) > op->batch && (st = flush(op)))
            return st;
        if (op->fill == 0) /* a buffer to fill: its last batch hashed */
            td__pkg_hasher_wait_done(&op->hash, op->buf_job[op->cur]);
        pbuf = op->bufs[op->cur] + op->fill;
        if (op->fill + clen - TD__PKG_ABYTES > op->used)
            op->used = op->fill + clen - TD__PKG_ABYTES;
    }
    if (*kind == TD__PKG_KIND_MANIFEST) {
        /* The only large message, and the last: a buffer of its own, sized from a length already
         * checked against the limit and against the file's size. */
        op->mplain = td__malloc(clen - TD__PKG_ABYTES + 1);
        mcipher = td__malloc(clen);
        if (!op->mplain || !mcipher) {
            td__free(mcipher);
            return nomem(op);
        }
        pbuf = op->mplain;
    }
    if (mcipher ? read_at_pos(op, mcipher, clen, &got) : read_view(op, clen, &cbuf, &got)) {
        place(op, at, sizeof at);
        st = errno ? fail(op, TD_PACKAGE_IO_FAILED, TD_ERR_IO, "read: %s", strerror(errno))
                   : corrupt(op, TD_PACKAGE_TRUNCATED,
                             "truncated: the file ends inside %s (%zu of its %zu bytes)", at, got,
                             clen);
        goto out;
    }
    uint8_t ad[TD__PKG_HEADER_LEN + 1];
    size_t ad_len = 0;
    if (op->msg == 0) {
        memcpy(ad, op->header, TD__PKG_HEADER_LEN);
        ad_len = TD__PKG_HEADER_LEN;
    }
    ad[ad_len++] = *kind;
    unsigned long long plain_len = 0;
    if (mcipher)
        cbuf = mcipher;
    if (crypto_secretstream_xchacha20poly1305_pull(op->ss, pbuf, &plain_len, tag, cbuf, clen, ad,
                                                   ad_len) != 0) {
        place(op, at, sizeof at);
        st = corrupt(op, TD_PACKAGE_ALTERED,
                     "%s: authentication failed: the package was altered (changed bytes, "
                     "reordered, swapped or spliced messages%s)",
                     at, op->msg == 0 ? ", or a changed header" : "");
        goto out;
    }
    *plain = pbuf;
    *plen = (size_t)plain_len;
out:
    td__free(mcipher);
    return st;
}

/* ---- the messages ---- */

static td_status on_record(opener *op, const uint8_t *p, size_t n)
{
    char at[PLACE_MAX], show[68];
    if (op->in_record)
        return corrupt(op, TD_PACKAGE_MALFORMED, "%s: record %zu begins before record %zu ended",
                       place(op, at, sizeof at), op->n_recs + 1, op->n_recs);
    place(op, at, sizeof at);
    op->rep->record = (int64_t)op->n_recs;
    if (n < TD__PKG_RECORD_MIN || td__pkg_get32(p) != op->n_recs)
        return corrupt(op, TD_PACKAGE_MALFORMED, "%s: record header %zu is malformed", at,
                       op->n_recs);
    if (op->n_recs >= TD_PACKAGE_RECORDS_MAX)
        return fail(op, TD_PACKAGE_LIMIT, TD_ERR_LIMIT, "%s: more than %d records", at,
                    TD_PACKAGE_RECORDS_MAX);
    if (op->n_recs == op->cap_recs) {
        size_t cap = op->cap_recs ? op->cap_recs * 2 : 16;
        if (cap > TD_PACKAGE_RECORDS_MAX)
            cap = TD_PACKAGE_RECORDS_MAX;
        td_package_record *r = td__realloc(op->recs, cap * sizeof *r);
        if (!r)
            return nomem(op);
        op->recs = r;
        uint8_t *s = td__realloc(op->out_state, cap);
        if (!s)
            return nomem(op);
        memset(s + op->cap_recs, 0, cap - op->cap_recs);
        op->out_state = s;
        op->cap_recs = cap;
    }
    td_package_record *r = &op->recs[op->n_recs];
    memset(r, 0, sizeof *r);
    char *fields[3] = {r->name, r->category, r->content_type};
    const size_t caps[3] = {TD_PACKAGE_NAME_MAX, TD_PACKAGE_CATEGORY_MAX,
                            TD_PACKAGE_CONTENT_TYPE_MAX};
    const char *what[3] = {"name", "category", "content type"};
    size_t off = 4;
    for (int i = 0; i < 3; i++) {
        if (n - off < 2)
            return corrupt(op, TD_PACKAGE_MALFORMED, "%s: record header %zu is malformed", at,
                           op->n_recs);
        size_t len = td__pkg_get16(p + off);
        off += 2;
        if (len > n - off)
            return corrupt(op, TD_PACKAGE_MALFORMED, "%s: record header %zu is malformed", at,
                           op->n_recs);
        const char *s = (const char *)p + off;
        if (i == 0 && !td__pkg_name_ok(s, len))
            return corrupt(op, TD_PACKAGE_UNSAFE_NAME,
                           "%s: record %zu's name '%s' is refused: only 1 to %d of A-Z a-z 0-9 "
                           ". _ + -, no leading '.', no \"..\" (it could escape the output "
                           "directory)",
                           at, op->n_recs, shown(s, len, show), TD_PACKAGE_NAME_MAX);
        if (i > 0 && !td__pkg_text_ok(s, len, caps[i]))
            return corrupt(op, TD_PACKAGE_MALFORMED,
                           "%s: record %zu's %s '%s' is not 1 to %zu printable ASCII bytes", at,
                           op->n_recs, what[i], shown(s, len, show), caps[i]);
        memcpy(fields[i], s, len);
        off += len;
    }
    if (off != n)
        return corrupt(op, TD_PACKAGE_MALFORMED, "%s: record header %zu is malformed", at,
                       op->n_recs);
    if (td__pkg_names_add(&op->names, op->recs, (uint32_t)op->n_recs))
        return corrupt(op, TD_PACKAGE_UNSAFE_NAME,
                       "%s: record %zu's name '%s' is taken already (names are unique ignoring "
                       "case)",
                       at, op->n_recs, r->name);
    if (td__pkg_hasher_reset(&op->hash) != 0)
        return fail(op, TD_PACKAGE_IO_FAILED, TD_ERR_INTERNAL, "SHA-256 failed");
    op->in_record = 1;
    op->rec_size = 0;
    if (op->rec_fd >= 0) {
        struct stat sb;
        char part[32];
        if (fstatat(op->rec_fd, r->name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
            return out_failed(op, EEXIST, "cannot create records", r->name);
        partial_name(op->n_recs, part);
        op->part_fd = create_at(op->rec_fd, part);
        if (op->part_fd < 0)
            return out_failed(op, errno, "cannot create records", part);
        op->out_state[op->n_recs] = OUT_PARTIAL;
    }
    return TD_OK;
}

static td_status on_data(opener *op, const uint8_t *p, size_t n)
{
    char at[PLACE_MAX];
    if (!op->in_record || n == 0)
        return corrupt(op, TD_PACKAGE_MALFORMED, "%s: %s", place(op, at, sizeof at),
                       n ? "data outside a record" : "an empty data message");
    (void)p; /* decrypted in place, at the end of the batch (next_message) */
    op->fill += n;
    op->rec_size += n;
    return TD_OK;
}

static td_status on_end(opener *op, const uint8_t *p, size_t n)
{
    char at[PLACE_MAX], got_hex[TD_PACKAGE_SHA256_HEX_LEN + 1];
    uint8_t digest[32];
    place(op, at, sizeof at);
    if (!op->in_record || n != TD__PKG_END_LEN)
        return corrupt(op, TD_PACKAGE_MALFORMED, "%s: %s", at,
                       op->in_record ? "a malformed end message" : "an end outside a record");
    td_status st = flush(op);
    if (st)
        return st;
    if (td__pkg_hasher_final(&op->hash, digest) != 0)
        return fail(op, TD_PACKAGE_IO_FAILED, TD_ERR_INTERNAL, "SHA-256 failed");
    td_package_record *r = &op->recs[op->n_recs];
    td__hex_encode(digest, 32, got_hex);
    uint64_t said = td__pkg_get64(p);
    if (said != op->rec_size || sodium_memcmp(digest, p + 8, 32) != 0) {
        char said_hex[TD_PACKAGE_SHA256_HEX_LEN + 1];
        td__hex_encode(p + 8, 32, said_hex);
        return corrupt(op, TD_PACKAGE_HASH_MISMATCH,
                       "%s: record %zu '%s' has %llu bytes of SHA-256 %s, its end message says "
                       "%llu bytes of SHA-256 %s",
                       at, op->n_recs, r->name, (unsigned long long)op->rec_size, got_hex,
                       (unsigned long long)said, said_hex);
    }
    r->size = op->rec_size;
    memcpy(r->sha256, got_hex, sizeof got_hex);
    if (op->part_fd >= 0) {
        int rc = fsync(op->part_fd);
        int e = errno;
        close(op->part_fd);
        op->part_fd = -1;
        if (rc != 0)
            return out_failed(op, e, "syncing records", r->name);
    }
    op->in_record = 0;
    op->n_recs++;
    return TD_OK;
}

/* Reads messages up to the manifest and checks that nothing follows it. */
static td_status read_stream(opener *op)
{
    char at[PLACE_MAX];
    for (op->msg = 0;; op->msg++) {
        uint8_t kind = 0, tag = 0, *plain = NULL;
        size_t n = 0;
        no_place(op); /* the place is set by a failure only: forget the last message's */
        td_status st = next_message(op, &kind, &plain, &n, &tag);
        if (st)
            return st;
        if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL && kind != TD__PKG_KIND_MANIFEST)
            return corrupt(op, TD_PACKAGE_NO_FINAL,
                           "%s: a '%c' message marks the end of the stream (TAG_FINAL), which "
                           "only the manifest may",
                           place(op, at, sizeof at), kind);
        if (tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL && tag != 0)
            return corrupt(op, TD_PACKAGE_MALFORMED, "%s: unexpected stream tag %u",
                           place(op, at, sizeof at), tag);
        switch (kind) {
        case TD__PKG_KIND_RECORD: st = on_record(op, plain, n); break;
        case TD__PKG_KIND_DATA: st = on_data(op, plain, n); break;
        case TD__PKG_KIND_END: st = on_end(op, plain, n); break;
        default: break;
        }
        if (st)
            return st;
        if (kind != TD__PKG_KIND_MANIFEST)
            continue;
        place(op, at, sizeof at);
        if (op->in_record)
            return corrupt(op, TD_PACKAGE_MALFORMED,
                           "%s: the manifest comes before record %zu "
                           "'%s' ended",
                           at, op->n_recs, op->recs[op->n_recs].name);
        if (tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)
            return corrupt(op, TD_PACKAGE_NO_FINAL,
                           "%s: the manifest message is not marked final (TAG_FINAL): the stream "
                           "has no end",
                           at);
        if (n < TD__PKG_MANIFEST_OVERHEAD || td__pkg_get32(plain) != n - TD__PKG_MANIFEST_OVERHEAD)
            return corrupt(op, TD_PACKAGE_MALFORMED, "%s: a malformed manifest message", at);
        op->mlen = n - TD__PKG_MANIFEST_OVERHEAD;
        uint8_t extra;
        size_t got = 0;
        uint64_t end = op->pos;
        if (read_at_pos(op, &extra, 1, &got) == 0 || got) {
            op->rep->message = -1;
            op->rep->record = -1;
            op->rep->file_offset = end;
            if (op->size_known && op->file_size > end)
                return corrupt(op, TD_PACKAGE_TRAILING_DATA,
                               "%llu bytes follow the final message (from offset %llu)",
                               (unsigned long long)(op->file_size - end), (unsigned long long)end);
            return corrupt(op, TD_PACKAGE_TRAILING_DATA,
                           "data follows the final message (from offset %llu)",
                           (unsigned long long)end);
        }
        if (errno)
            return fail(op, TD_PACKAGE_IO_FAILED, TD_ERR_IO, "read: %s", strerror(errno));
        return TD_OK;
    }
}

/* ---- the manifest ---- */

static int keys_exactly(json_t *o, const char *const *keys, size_t n)
{
    if (!json_is_object(o) || json_object_size(o) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(o, keys[i]))
            return 0;
    return 1;
}

static const char *str_member(json_t *o, const char *key, size_t *len)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

static int is_lower_hex(const char *s, size_t n, size_t want)
{
    if (n != want)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static const char *const top_keys[] = {"format",        "version",   "package_id", "created",
                                       "signer_key_id", "recipient", "records",    "extra"};
static const char *const rec_keys[] = {"name", "category", "content_type",
                                       "size", "sha256",   "meta"};

static td_status bad_manifest(opener *op, const char *what)
{
    return corrupt(op, TD_PACKAGE_BAD_MANIFEST, "the manifest %s", what);
}

/* One record of the manifest against what the file held. matched marks the records seen. */
static td_status check_entry(opener *op, json_t *e, size_t j, uint8_t *matched)
{
    char show[68], msg[160];
    size_t nlen = 0, clen = 0, tlen = 0, hlen = 0;
    snprintf(msg, sizeof msg, "record entry %zu is malformed", j);
    if (!keys_exactly(e, rec_keys, sizeof rec_keys / sizeof *rec_keys))
        return bad_manifest(op, msg);
    const char *name = str_member(e, "name", &nlen);
    const char *cat = str_member(e, "category", &clen);
    const char *ct = str_member(e, "content_type", &tlen);
    const char *sha = str_member(e, "sha256", &hlen);
    json_t *size = json_object_get(e, "size"), *meta = json_object_get(e, "meta");
    if (!name || !cat || !ct || !sha || !json_is_integer(size) || json_integer_value(size) < 0 ||
        !(json_is_null(meta) || json_is_object(meta)) ||
        !is_lower_hex(sha, hlen, TD_PACKAGE_SHA256_HEX_LEN))
        return bad_manifest(op, msg);
    long i = td__pkg_name_ok(name, nlen) ? td__pkg_names_find(&op->names, op->recs, name) : -1;
    if (i < 0 || strcmp(op->recs[i].name, name) != 0) {
        op->rep->record = -1;
        return corrupt(op, TD_PACKAGE_RECORD_MISSING,
                       "record '%s' of the manifest (entry %zu) is not in the package",
                       shown(name, nlen, show), j);
    }
    td_package_record *r = &op->recs[i];
    op->rep->record = i;
    if (matched[i])
        return corrupt(op, TD_PACKAGE_BAD_MANIFEST, "the manifest lists record '%s' twice",
                       r->name);
    matched[i] = 1;
    if ((uint64_t)json_integer_value(size) != r->size || strcmp(sha, r->sha256) != 0)
        return corrupt(op, TD_PACKAGE_HASH_MISMATCH,
                       "record %ld '%s': the manifest says %llu bytes of SHA-256 %s, the package "
                       "holds %llu bytes of SHA-256 %s",
                       i, r->name, (unsigned long long)json_integer_value(size), sha,
                       (unsigned long long)r->size, r->sha256);
    if (strcmp(cat, r->category) != 0 || strcmp(ct, r->content_type) != 0)
        return corrupt(op, TD_PACKAGE_BAD_MANIFEST,
                       "record %ld '%s': the manifest gives another category or content type", i,
                       r->name);
    if ((size_t)i != j)
        return corrupt(op, TD_PACKAGE_BAD_MANIFEST,
                       "record %ld '%s' is entry %zu of the manifest: another order", i, r->name,
                       j);
    return TD_OK;
}

static td_status check_manifest(opener *op, const char *text, size_t len)
{
    json_error_t jerr;
    char rcpt[2 * TD_PACKAGE_X25519_KEY_LEN + 1];
    size_t n = 0;
    td_status st = TD_OK;
    uint8_t *matched = NULL;
    no_place(op);
    json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!m)
        return corrupt(op, TD_PACKAGE_BAD_MANIFEST, "the manifest is not JSON: %s (offset %d)",
                       jerr.text, jerr.position);
    const char *s;
    json_t *records = json_object_get(m, "records");
    if (!keys_exactly(m, top_keys, sizeof top_keys / sizeof *top_keys)) {
        st = bad_manifest(op, "does not have exactly the members of version 1");
        goto out;
    }
    if (!(s = str_member(m, "format", &n)) || strcmp(s, TD__PKG_FORMAT_NAME) != 0 ||
        json_integer_value(json_object_get(m, "version")) != TD__PKG_VERSION ||
        !json_is_integer(json_object_get(m, "version"))) {
        st = bad_manifest(op, "is not of format takedown-evidence-package version 1");
        goto out;
    }
    if (!(s = str_member(m, "package_id", &n)) || strcmp(s, op->rep->package_id) != 0) {
        st = bad_manifest(op, "names another package (package_id differs from the header's)");
        goto out;
    }
    td__hex_encode(op->pk, sizeof op->pk, rcpt);
    if (!(s = str_member(m, "recipient", &n)) || strcmp(s, rcpt) != 0) {
        st = bad_manifest(op, "is addressed to another recipient key");
        goto out;
    }
    if (!(s = str_member(m, "created", &n)) || !td__pkg_text_ok(s, n, TD_PACKAGE_CREATED_LEN)) {
        st = bad_manifest(op, "has no valid created time");
        goto out;
    }
    memcpy(op->rep->created, s, n + 1);
    if (!(s = str_member(m, "signer_key_id", &n)) ||
        !td__pkg_text_ok(s, n, TD_PACKAGE_KEY_ID_MAX)) {
        st = bad_manifest(op, "has no valid signer_key_id");
        goto out;
    }
    memcpy(op->rep->signer_key_id, s, n + 1);
    if (!json_is_object(json_object_get(m, "extra")) || !json_is_array(records)) {
        st = bad_manifest(op, "has no records array or no extra object");
        goto out;
    }
    if (json_array_size(records) > TD_PACKAGE_RECORDS_MAX) {
        st = fail(op, TD_PACKAGE_LIMIT, TD_ERR_LIMIT, "the manifest lists more than %d records",
                  TD_PACKAGE_RECORDS_MAX);
        goto out;
    }
    matched = td__calloc(op->n_recs + 1, 1);
    if (!matched) {
        st = nomem(op);
        goto out;
    }
    for (size_t j = 0; j < json_array_size(records) && !st; j++)
        st = check_entry(op, json_array_get(records, j), j, matched);
    for (size_t i = 0; i < op->n_recs && !st; i++)
        if (!matched[i]) {
            op->rep->record = (int64_t)i;
            st = corrupt(op, TD_PACKAGE_RECORD_EXTRA,
                         "record %zu '%s' is in the package but not in the manifest", i,
                         op->recs[i].name);
        }
out:
    td__free(matched);
    json_decref(m);
    return st;
}

/* ---- the whole ---- */

static void opener_free(opener *op)
{
    if (op->part_fd >= 0)
        close(op->part_fd);
    if (op->rec_fd >= 0)
        close(op->rec_fd);
    if (op->dir_fd >= 0)
        close(op->dir_fd);
    td__pkg_hasher_free(&op->hash); /* first: its thread may be reading a batch */
    for (int i = 0; i < TD__PKG_READ_BATCHES; i++) {
        if (op->bufs[i])
            sodium_memzero(op->bufs[i], op->used);
        td__free(op->bufs[i]);
    }
    sodium_free(op->ss);
    if (op->pbuf)
        sodium_memzero(op->pbuf, TD__PKG_RECORD_MAX);
    td__free(op->pbuf);
    td__free(op->in);
    td__free(op->mplain);
    td__free(op->recs);
    td__free(op->out_state);
    td__pkg_names_free(&op->names);
}

static td_status run(opener *op, const uint8_t *sk, const uint8_t *signer_pk)
{
    td_status st = read_header(op, sk);
    if (st)
        return st;
    /* pbuf: record headers and ends (data goes to the batches, the manifest to a buffer of its
     * own). */
    op->pbuf = td__malloc(TD__PKG_RECORD_MAX);
    op->batch = td__pkg_batch(op->chunk);
    if (!op->pbuf)
        return nomem(op);
    if (op->out_dir && (st = out_open(op)))
        return st;
    if ((st = read_stream(op)))
        return st;
    const uint8_t *manifest = op->mplain + 4, *sig = op->mplain + 4 + op->mlen;
    if (signer_pk) {
        uint8_t *signed_msg = td__malloc(TD__PKG_SIGN_CONTEXT_LEN + op->mlen);
        if (!signed_msg)
            return nomem(op);
        memcpy(signed_msg, TD__PKG_SIGN_CONTEXT, TD__PKG_SIGN_CONTEXT_LEN);
        memcpy(signed_msg + TD__PKG_SIGN_CONTEXT_LEN, manifest, op->mlen);
        int ok = crypto_sign_verify_detached(sig, signed_msg, TD__PKG_SIGN_CONTEXT_LEN + op->mlen,
                                             signer_pk) == 0;
        td__free(signed_msg);
        if (!ok) {
            no_place(op);
            return corrupt(op, TD_PACKAGE_SIGNATURE_INVALID,
                           "the manifest's signature does not verify with the expected signer "
                           "key: signed by another key, or the manifest was changed and "
                           "re-encrypted");
        }
        op->rep->signature_checked = 1;
    }
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, manifest, op->mlen);
    td__hex_encode(h, sizeof h, op->rep->manifest_sha256);
    if ((st = check_manifest(op, (const char *)manifest, op->mlen)))
        return st;
    if (op->out_dir && (st = out_commit(op, manifest, op->mlen, sig)))
        return st;
    /* Verified: the report takes the records and the manifest. */
    td_package_report *rep = op->rep;
    for (size_t i = 0; i < op->n_recs; i++)
        rep->total_bytes += op->recs[i].size;
    rep->records = op->recs;
    rep->n_records = op->n_recs;
    op->recs = NULL;
    memmove(op->mplain, manifest, op->mlen);
    op->mplain[op->mlen] = '\0';
    rep->manifest = (char *)op->mplain;
    rep->manifest_len = op->mlen;
    op->mplain = NULL;
    rep->problem = TD_PACKAGE_VERIFIED;
    no_place(op);
    return TD_OK;
}

td_status td__package_open_fd(int fd, const char *name, const uint8_t recipient_sk[32],
                              const uint8_t *expected_signer_pk, const char *out_dir,
                              td_package_report *report, td_error *err)
{
    opener op;
    struct stat sb;
    memset(report, 0, sizeof *report);
    report->message = -1;
    report->record = -1;
    memset(&op, 0, sizeof op);
    op.fd = fd;
    op.name = name;
    op.rep = report;
    op.err = err;
    op.out_dir = out_dir;
    op.dir_fd = op.rec_fd = op.part_fd = -1;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        op.size_known = 1;
        op.file_size = (uint64_t)sb.st_size;
    }
    td_status st = td__pkg_sodium(err);
    if (st)
        return st;
    /* Read once, front to back: a larger read-ahead for a file not in the page cache. */
    if (op.size_known && posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) != 0) {
        /* advice only */
    }
    op.ss = sodium_malloc(sizeof *op.ss);
    op.in = td__malloc(TD__PKG_IN_CAP);
    if (!op.ss || !op.in || td__pkg_names_init(&op.names, err) != TD_OK ||
        td__pkg_hasher_init(&op.hash, err) != TD_OK)
        st = nomem(&op);
    else
        st = run(&op, recipient_sk, expected_signer_pk);
    if (st && report->problem == TD_PACKAGE_VERIFIED)
        report->problem = TD_PACKAGE_IO_FAILED; /* a failure that named no problem */
    if (st) {
        report->package_id[0] = report->created[0] = report->signer_key_id[0] = '\0';
        report->manifest_sha256[0] = '\0';
    }
    if (st)
        out_cleanup(&op);
    opener_free(&op);
    return st;
}

td_status td_package_open(const char *path, const uint8_t recipient_sk[TD_PACKAGE_X25519_KEY_LEN],
                          const uint8_t *expected_signer_pk, const char *out_dir,
                          td_package_report *report, td_error *err)
{
    td_package_report scratch;
    if (!report)
        report = &scratch;
    memset(report, 0, sizeof *report);
    report->message = -1;
    report->record = -1;
    report->problem = TD_PACKAGE_VERIFIED;
    if (!path || !recipient_sk) {
        report->problem = TD_PACKAGE_IO_FAILED;
        return td__error_set(err, TD_ERR_INVALID, "package: a path and a key are required");
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        report->problem = TD_PACKAGE_IO_FAILED;
        return td__error_set(err, e == ENOENT ? TD_ERR_NOT_FOUND : TD_ERR_IO, "package %s: %s",
                             path, strerror(e));
    }
    td_status st =
        td__package_open_fd(fd, path, recipient_sk, expected_signer_pk, out_dir, report, err);
    close(fd);
    if (report == &scratch)
        td_package_report_clear(&scratch);
    return st;
}
