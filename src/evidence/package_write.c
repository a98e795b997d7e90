/* Writing a delivery package (format: docs/evidence-package.md, constants: package_int.h).
 *
 * The writer holds one batch of plaintext (1 MiB), one frame of ciphertext and, per record, its
 * name and meta: never a record's bytes, so memory does not grow with record sizes. A write of a
 * batch or more is sealed straight from the caller's memory; smaller ones fill the batch first.
 * Each batch is hashed (SHA-256) on the hasher's thread while this one seals it chunk by chunk
 * (package_hash.c), and the hasher is idle again before the batch is reused or the caller gets
 * its buffer back.
 *
 * Failures are of two kinds. A refused argument (a bad name, meta that is not a JSON object, a
 * call out of order) changes nothing and the caller may go on. A failed write, allocation or
 * crypto call breaks the stream half-way: the writer remembers it, every later call repeats it,
 * and only td_package_abort (or td_package_finish, which then aborts) is left. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
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

struct td_package_writer {
    char *path, *tmp;
    int fd;
    td_status broken; /* the first failure that broke the stream; TD_OK while usable */
    td_error broken_err;
    stream_state *ss; /* guarded memory */
    uint8_t *sign_sk; /* guarded memory, TD_PACKAGE_SIGN_SK_LEN */
    char key_id[TD_PACKAGE_KEY_ID_MAX + 1];
    uint8_t recipient_pk[TD_PACKAGE_X25519_KEY_LEN];
    uint8_t header[TD__PKG_HEADER_LEN];
    char created[TD_PACKAGE_CREATED_LEN + 1];
    uint64_t messages; /* sealed so far: message 0 takes the header as additional data */
    size_t chunk;
    size_t batch;   /* td__pkg_batch(chunk) */
    uint8_t *plain; /* the batch being filled (wiped when freed) */
    size_t fill;
    uint8_t *frame; /* frame header and ciphertext of any message but the manifest */
    size_t frame_cap;
    td__pkg_hasher hash;
    int in_record; /* records[n_records] is open */
    uint64_t rec_size;
    td_package_record *records;
    json_t **metas; /* per record: its meta object, or NULL */
    size_t n_records, cap_records;
    td__pkg_names names;
    size_t manifest_estimate; /* bytes the records will take in the manifest */
};

static td_status io_status(int e)
{
    return e == ENOSPC || e == EDQUOT ? TD_ERR_NOSPACE : TD_ERR_IO;
}

/* Remembers a failure that broke the stream and returns it. */
static td_status breaks(td_package_writer *w, td_status st, td_error *err)
{
    if (!w->broken) {
        w->broken = st;
        if (err)
            w->broken_err = *err;
        else
            td__error_set(&w->broken_err, st, "package: %s: write failed", w->path);
    }
    return st;
}

static td_status check_usable(const td_package_writer *w, td_error *err)
{
    if (!w)
        return td__error_set(err, TD_ERR_INVALID, "package: no writer");
    if (w->broken) {
        if (err)
            *err = w->broken_err;
        return w->broken;
    }
    return TD_OK;
}

/* Seals len bytes of plaintext as one message of kind, tagged tag, and writes its frame. out is
 * the frame buffer (frame header, then room for len + ABYTES). */
static td_status seal(td_package_writer *w, uint8_t kind, uint8_t tag, const uint8_t *plain,
                      size_t len, uint8_t *out, td_error *err)
{
    uint8_t ad[TD__PKG_HEADER_LEN + 1];
    size_t ad_len = 0;
    if (w->messages == 0) {
        memcpy(ad, w->header, TD__PKG_HEADER_LEN);
        ad_len = TD__PKG_HEADER_LEN;
    }
    ad[ad_len++] = kind;
    out[0] = kind;
    td__pkg_put32(out + 1, (uint32_t)(len + TD__PKG_ABYTES));
    if (crypto_secretstream_xchacha20poly1305_push(w->ss, out + TD__PKG_FRAME_LEN, NULL, plain, len,
                                                   ad, ad_len, tag) != 0)
        return breaks(w, td__error_set(err, TD_ERR_INTERNAL, "package: encryption failed"), err);
    if (td__pkg_write_all(w->fd, out, TD__PKG_FRAME_LEN + len + TD__PKG_ABYTES) != 0) {
        int e = errno;
        return breaks(
            w, td__error_set(err, io_status(e), "package: writing %s: %s", w->tmp, strerror(e)),
            err);
    }
    w->messages++;
    return TD_OK;
}

/* Seals n bytes of the open record (a batch, or the record's last bytes) as data messages of a
 * chunk each, hashed meanwhile on the hasher's thread. */
static td_status seal_batch(td_package_writer *w, const uint8_t *p, size_t n, td_error *err)
{
    td_status st = TD_OK;
    td__pkg_hasher_post(&w->hash, p, n);
    for (size_t off = 0; off < n && st == TD_OK; off += w->chunk)
        st = seal(w, TD__PKG_KIND_DATA, 0, p + off, n - off < w->chunk ? n - off : w->chunk,
                  w->frame, err);
    td__pkg_hasher_wait(&w->hash); /* p is the caller's again */
    return st;
}

static void writer_free(td_package_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    sodium_free(w->ss);
    sodium_free(w->sign_sk);
    td__pkg_hasher_free(&w->hash); /* first: its thread may be reading plain */
    if (w->plain)
        sodium_memzero(w->plain, w->batch);
    td__free(w->plain);
    td__free(w->frame);
    for (size_t i = 0; w->metas && i <= w->n_records && i < w->cap_records; i++)
        json_decref(w->metas[i]);
    td__free(w->metas);
    td__free(w->records);
    td__pkg_names_free(&w->names);
    td__free(w->path);
    td__free(w->tmp);
    td__free(w);
}

void td_package_abort(td_package_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        unlink(w->tmp);
    }
    writer_free(w);
}

static td_status sync_parent(const char *path, td_error *err)
{
    char *copy = td__strdup(path);
    if (!copy)
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    td_status st = TD_OK;
    if (fd < 0 || fsync(fd) != 0)
        st = td__error_set(err, TD_ERR_IO, "package: syncing the directory of %s: %s", path,
                           strerror(errno));
    if (fd >= 0)
        close(fd);
    td__free(copy);
    return st;
}

/* The fixed header, and the stream state keyed by a fresh key sealed to the recipient. */
static td_status start_stream(td_package_writer *w, td_error *err)
{
    uint8_t *key = sodium_malloc(TD__PKG_KEY_LEN);
    if (!key)
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    uint8_t *h = w->header;
    memcpy(h, TD__PKG_MAGIC, TD__PKG_MAGIC_LEN); /* the string's zero byte included */
    td__pkg_put16(h + TD__PKG_OFF_VERSION, TD__PKG_VERSION);
    td__pkg_put16(h + TD__PKG_OFF_FLAGS, 0);
    td__pkg_put32(h + TD__PKG_OFF_CHUNK, (uint32_t)w->chunk);
    randombytes_buf(h + TD__PKG_OFF_ID, TD__PKG_ID_LEN);
    crypto_secretstream_xchacha20poly1305_keygen(key);
    td_status st = TD_OK;
    if (crypto_box_seal(h + TD__PKG_OFF_SEALED, key, TD__PKG_KEY_LEN, w->recipient_pk) != 0)
        st = td__error_set(err, TD_ERR_INVALID, "package: the recipient key is not usable");
    else if (crypto_secretstream_xchacha20poly1305_init_push(w->ss, h + TD__PKG_OFF_STREAM, key) !=
             0)
        st = td__error_set(err, TD_ERR_INTERNAL, "package: stream initialisation failed");
    sodium_free(key); /* wipes */
    return st;
}

td_status td_package_create(const char *path, const uint8_t recipient_pk[TD_PACKAGE_X25519_KEY_LEN],
                            const uint8_t signer_sk[TD_PACKAGE_SIGN_SK_LEN],
                            const char *signer_key_id, const td_package_options *opts,
                            td_package_writer **out, td_error *err)
{
    td_status st;
    struct stat sb;
    if (out)
        *out = NULL;
    if (!path || !*path || !recipient_pk || !signer_sk || !signer_key_id || !out)
        return td__error_set(err, TD_ERR_INVALID, "package: path, keys and key id are required");
    if (!td__pkg_text_ok(signer_key_id, strlen(signer_key_id), TD_PACKAGE_KEY_ID_MAX))
        return td__error_set(err, TD_ERR_INVALID,
                             "package: the signer key id must be 1 to %d printable ASCII bytes",
                             TD_PACKAGE_KEY_ID_MAX);
    size_t chunk = opts && opts->chunk_size ? opts->chunk_size : TD_PACKAGE_CHUNK_DEFAULT;
    if (chunk < TD_PACKAGE_CHUNK_MIN || chunk > TD_PACKAGE_CHUNK_MAX)
        return td__error_set(err, TD_ERR_INVALID, "package: chunk size %zu outside %zu..%zu", chunk,
                             TD_PACKAGE_CHUNK_MIN, TD_PACKAGE_CHUNK_MAX);
    if ((st = td__pkg_sodium(err)))
        return st;
    if (lstat(path, &sb) == 0)
        return td__error_set(err, TD_ERR_CONFLICT, "package: %s exists already", path);

    td_package_writer *w = td__calloc(1, sizeof *w);
    if (!w)
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    w->fd = -1;
    w->chunk = chunk;
    w->batch = td__pkg_batch(chunk);
    w->frame_cap = TD__PKG_FRAME_LEN + TD__PKG_ABYTES +
                   (chunk > TD__PKG_RECORD_MAX ? chunk : TD__PKG_RECORD_MAX);
    size_t tmp_len = strlen(path) + 5;
    w->path = td__strdup(path);
    w->tmp = td__malloc(tmp_len);
    w->ss = sodium_malloc(sizeof *w->ss);
    w->sign_sk = sodium_malloc(TD_PACKAGE_SIGN_SK_LEN);
    w->plain = td__malloc(w->batch);
    w->frame = td__malloc(w->frame_cap);
    if (!w->path || !w->tmp || !w->ss || !w->sign_sk || !w->plain || !w->frame ||
        td__pkg_names_init(&w->names, err) != TD_OK ||
        td__pkg_hasher_init(&w->hash, err) != TD_OK) {
        writer_free(w);
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    }
    snprintf(w->tmp, tmp_len, "%s.tmp", path);
    memcpy(w->sign_sk, signer_sk, TD_PACKAGE_SIGN_SK_LEN);
    memcpy(w->recipient_pk, recipient_pk, TD_PACKAGE_X25519_KEY_LEN);
    snprintf(w->key_id, sizeof w->key_id, "%s", signer_key_id);
    td_clock clock = opts ? opts->clock : (td_clock){NULL, NULL};
    td__pkg_format_time(td_clock_now(&clock), w->created);
    if ((st = start_stream(w, err))) {
        writer_free(w);
        return st;
    }
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        int e = errno;
        st = e == EEXIST ? td__error_set(err, TD_ERR_CONFLICT,
                                         "package: %s exists (another writer, or left by a "
                                         "crash: remove it)",
                                         w->tmp)
                         : td__error_set(err, io_status(e), "package: cannot create %s: %s", w->tmp,
                                         strerror(e));
        writer_free(w);
        return st;
    }
    if (td__pkg_write_all(w->fd, w->header, TD__PKG_HEADER_LEN) != 0) {
        int e = errno;
        st = td__error_set(err, io_status(e), "package: writing %s: %s", w->tmp, strerror(e));
        td_package_abort(w);
        return st;
    }
    *out = w;
    return TD_OK;
}

/* meta_json (may be NULL) as an object, and the bytes it will take in the manifest. */
static td_status parse_meta(const char *meta_json, json_t **out, size_t *len, td_error *err)
{
    *out = NULL;
    *len = 4; /* null */
    if (!meta_json)
        return TD_OK;
    size_t n = strlen(meta_json);
    if (n > TD_PACKAGE_META_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "package: record meta over %d bytes",
                             TD_PACKAGE_META_MAX);
    json_error_t jerr;
    json_t *j = json_loadb(meta_json, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return td__error_set(err, TD_ERR_INVALID, "package: record meta is not a JSON object%s%s",
                             j ? "" : ": ", j ? "" : jerr.text);
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        json_decref(j);
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    }
    *len = strlen(text);
    free(text);
    *out = j;
    return TD_OK;
}

/* Room for one more record; nothing written. */
static td_status grow_records(td_package_writer *w, td_error *err)
{
    if (w->n_records < w->cap_records)
        return TD_OK;
    size_t cap = w->cap_records ? w->cap_records * 2 : 16;
    if (cap > TD_PACKAGE_RECORDS_MAX)
        cap = TD_PACKAGE_RECORDS_MAX;
    td_package_record *r = td__realloc(w->records, cap * sizeof *r);
    if (!r)
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    w->records = r;
    json_t **m = td__realloc(w->metas, cap * sizeof *m);
    if (!m)
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    for (size_t i = w->cap_records; i < cap; i++)
        m[i] = NULL;
    w->metas = m;
    w->cap_records = cap;
    return TD_OK;
}

/* Upper bound of a record's entry in the manifest, meta aside: keys, quotes, separators, the
 * size's digits and the hash. */
#define RECORD_ENTRY_FIXED 200

td_status td_package_record_begin(td_package_writer *w, const char *name, const char *category,
                                  const char *content_type, const char *meta_json, td_error *err)
{
    td_status st = check_usable(w, err);
    if (st)
        return st;
    if (!content_type)
        content_type = "application/octet-stream";
    if (w->in_record)
        return td__error_set(err, TD_ERR_INVALID, "package: record '%s' is still open",
                             w->records[w->n_records].name);
    if (!name || !td__pkg_name_ok(name, strlen(name)))
        return td__error_set(err, TD_ERR_INVALID,
                             "package: record name '%.*s' is not 1 to %d of A-Z a-z 0-9 . _ + - "
                             "(no leading '.', no \"..\")",
                             name ? TD_PACKAGE_NAME_MAX : 0, name ? name : "", TD_PACKAGE_NAME_MAX);
    if (!category || !td__pkg_text_ok(category, strlen(category), TD_PACKAGE_CATEGORY_MAX))
        return td__error_set(err, TD_ERR_INVALID,
                             "package: record '%s': category must be 1 to %d printable ASCII "
                             "bytes",
                             name, TD_PACKAGE_CATEGORY_MAX);
    if (!td__pkg_text_ok(content_type, strlen(content_type), TD_PACKAGE_CONTENT_TYPE_MAX))
        return td__error_set(err, TD_ERR_INVALID,
                             "package: record '%s': content type must be 1 to %d printable "
                             "ASCII bytes",
                             name, TD_PACKAGE_CONTENT_TYPE_MAX);
    if (w->n_records >= TD_PACKAGE_RECORDS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "package: more than %d records",
                             TD_PACKAGE_RECORDS_MAX);
    json_t *meta = NULL;
    size_t meta_len = 0;
    if ((st = parse_meta(meta_json, &meta, &meta_len, err))) {
        td__error_prefix(err, "record '%s': ", name);
        return st;
    }
    size_t entry = RECORD_ENTRY_FIXED +
                   2 * (strlen(name) + strlen(category) + strlen(content_type)) + meta_len;
    if (w->manifest_estimate + entry > TD_PACKAGE_MANIFEST_MAX - TD_PACKAGE_EXTRA_MAX - 4096) {
        json_decref(meta);
        return td__error_set(err, TD_ERR_LIMIT,
                             "package: record '%s' would take the manifest over %d bytes", name,
                             TD_PACKAGE_MANIFEST_MAX);
    }
    if ((st = grow_records(w, err))) {
        json_decref(meta);
        return st;
    }
    td_package_record *r = &w->records[w->n_records];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->category, sizeof r->category, "%s", category);
    snprintf(r->content_type, sizeof r->content_type, "%s", content_type);
    if (td__pkg_names_add(&w->names, w->records, (uint32_t)w->n_records)) {
        json_decref(meta);
        return td__error_set(err, TD_ERR_CONFLICT,
                             "package: a record named '%s' (ignoring case) exists already", name);
    }
    /* From here on the record exists: a failure breaks the writer. */
    w->metas[w->n_records] = meta;
    w->manifest_estimate += entry;
    w->in_record = 1;
    w->rec_size = 0;
    w->fill = 0;
    if (td__pkg_hasher_reset(&w->hash) != 0)
        return breaks(w, td__error_set(err, TD_ERR_INTERNAL, "package: SHA-256 failed"), err);
    uint8_t msg[TD__PKG_RECORD_MAX];
    size_t off = 0;
    td__pkg_put32(msg, (uint32_t)w->n_records);
    off = 4;
    const char *parts[3] = {r->name, r->category, r->content_type};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);
        td__pkg_put16(msg + off, (uint16_t)n);
        memcpy(msg + off + 2, parts[i], n);
        off += 2 + n;
    }
    return seal(w, TD__PKG_KIND_RECORD, 0, msg, off, w->frame, err);
}

td_status td_package_record_write(td_package_writer *w, const void *buf, size_t len, td_error *err)
{
    td_status st = check_usable(w, err);
    if (st)
        return st;
    if (!w->in_record)
        return td__error_set(err, TD_ERR_INVALID, "package: no record is open");
    if (len && !buf)
        return td__error_set(err, TD_ERR_INVALID, "package: no buffer");
    const uint8_t *p = buf;
    while (len) {
        if (w->fill == 0 && len >= w->batch) { /* a whole batch: straight from the caller */
            if ((st = seal_batch(w, p, w->batch, err)))
                return st;
            p += w->batch;
            len -= w->batch;
            w->rec_size += w->batch;
            continue;
        }
        size_t n = w->batch - w->fill < len ? w->batch - w->fill : len;
        memcpy(w->plain + w->fill, p, n);
        w->fill += n;
        p += n;
        len -= n;
        w->rec_size += n;
        if (w->fill == w->batch) {
            w->fill = 0;
            if ((st = seal_batch(w, w->plain, w->batch, err)))
                return st;
        }
    }
    return TD_OK;
}

td_status td_package_record_end(td_package_writer *w,
                                char sha256_hex[TD_PACKAGE_SHA256_HEX_LEN + 1], td_error *err)
{
    td_status st = check_usable(w, err);
    if (st)
        return st;
    if (!w->in_record)
        return td__error_set(err, TD_ERR_INVALID, "package: no record is open");
    if (w->fill) {
        size_t n = w->fill;
        w->fill = 0;
        if ((st = seal_batch(w, w->plain, n, err)))
            return st;
    }
    uint8_t msg[TD__PKG_END_LEN];
    if (td__pkg_hasher_final(&w->hash, msg + 8) != 0)
        return breaks(w, td__error_set(err, TD_ERR_INTERNAL, "package: SHA-256 failed"), err);
    td__pkg_put64(msg, w->rec_size);
    if ((st = seal(w, TD__PKG_KIND_END, 0, msg, sizeof msg, w->frame, err)))
        return st;
    td_package_record *r = &w->records[w->n_records];
    r->size = w->rec_size;
    td__hex_encode(msg + 8, 32, r->sha256);
    if (sha256_hex)
        memcpy(sha256_hex, r->sha256, TD_PACKAGE_SHA256_HEX_LEN + 1);
    w->in_record = 0;
    w->n_records++;
    return TD_OK;
}

const td_package_record *td_package_records(const td_package_writer *w, size_t *count)
{
    size_t n = w ? w->n_records : 0;
    if (count)
        *count = n;
    return n ? w->records : NULL;
}

/* The manifest's JSON, compact, members in a fixed order; extra is stolen. */
static char *build_manifest(td_package_writer *w, json_t *extra)
{
    char id[TD_PACKAGE_ID_HEX_LEN + 1], rcpt[2 * TD_PACKAGE_X25519_KEY_LEN + 1];
    td__hex_encode(w->header + TD__PKG_OFF_ID, TD__PKG_ID_LEN, id);
    td__hex_encode(w->recipient_pk, TD_PACKAGE_X25519_KEY_LEN, rcpt);
    json_t *records = json_array();
    json_t *m = json_object();
    if (!records || !m) {
        json_decref(records);
        json_decref(m);
        json_decref(extra);
        return NULL;
    }
    int bad = 0;
    for (size_t i = 0; i < w->n_records; i++) {
        const td_package_record *r = &w->records[i];
        json_t *meta = w->metas[i] ? json_incref(w->metas[i]) : json_null();
        json_t *o = json_object();
        bad |= !o;
        if (o) {
            bad |= json_object_set_new(o, "name", json_string(r->name));
            bad |= json_object_set_new(o, "category", json_string(r->category));
            bad |= json_object_set_new(o, "content_type", json_string(r->content_type));
            bad |= json_object_set_new(o, "size", json_integer((json_int_t)r->size));
            bad |= json_object_set_new(o, "sha256", json_string(r->sha256));
            bad |= json_object_set_new(o, "meta", meta);
        } else {
            json_decref(meta);
        }
        bad |= json_array_append_new(records, o);
    }
    bad |= json_object_set_new(m, "format", json_string(TD__PKG_FORMAT_NAME));
    bad |= json_object_set_new(m, "version", json_integer(TD__PKG_VERSION));
    bad |= json_object_set_new(m, "package_id", json_string(id));
    bad |= json_object_set_new(m, "created", json_string(w->created));
    bad |= json_object_set_new(m, "signer_key_id", json_string(w->key_id));
    bad |= json_object_set_new(m, "recipient", json_string(rcpt));
    bad |= json_object_set_new(m, "records", records);
    bad |= json_object_set_new(m, "extra", extra);
    char *text = bad ? NULL : json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(m);
    return text;
}

/* The manifest message's plaintext: length, manifest, signature (context string first). */
static uint8_t *manifest_message(td_package_writer *w, const char *manifest, size_t mlen,
                                 size_t *out_len, td_error *err)
{
    uint8_t *signed_msg = td__malloc(TD__PKG_SIGN_CONTEXT_LEN + mlen);
    uint8_t *msg = td__malloc(TD__PKG_MANIFEST_OVERHEAD + mlen);
    if (!signed_msg || !msg) {
        td__free(signed_msg);
        td__free(msg);
        td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
        return NULL;
    }
    memcpy(signed_msg, TD__PKG_SIGN_CONTEXT, TD__PKG_SIGN_CONTEXT_LEN);
    memcpy(signed_msg + TD__PKG_SIGN_CONTEXT_LEN, manifest, mlen);
    td__pkg_put32(msg, (uint32_t)mlen);
    memcpy(msg + 4, manifest, mlen);
    crypto_sign_detached(msg + 4 + mlen, NULL, signed_msg, TD__PKG_SIGN_CONTEXT_LEN + mlen,
                         w->sign_sk);
    td__free(signed_msg);
    *out_len = TD__PKG_MANIFEST_OVERHEAD + mlen;
    return msg;
}

/* Seals the manifest, syncs, and moves the file to its name without replacing anything there. */
static td_status write_final(td_package_writer *w, const char *manifest, size_t mlen, td_error *err)
{
    size_t plen = 0;
    uint8_t *plain = manifest_message(w, manifest, mlen, &plen, err);
    if (!plain)
        return TD_ERR_NOMEM;
    uint8_t *frame = td__malloc(TD__PKG_FRAME_LEN + plen + TD__PKG_ABYTES);
    td_status st =
        frame ? seal(w, TD__PKG_KIND_MANIFEST, crypto_secretstream_xchacha20poly1305_TAG_FINAL,
                     plain, plen, frame, err)
              : td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    td__free(plain);
    td__free(frame);
    if (st)
        return st;
    if (fsync(w->fd) != 0) {
        int e = errno;
        return td__error_set(err, io_status(e), "package: syncing %s: %s", w->tmp, strerror(e));
    }
    int rc = close(w->fd);
    w->fd = -1;
    if (rc != 0) {
        int e = errno;
        unlink(w->tmp);
        return td__error_set(err, io_status(e), "package: closing %s: %s", w->tmp, strerror(e));
    }
    /* link + unlink: an atomic rename that refuses to replace a file created meanwhile. */
    if (link(w->tmp, w->path) != 0) {
        int e = errno;
        unlink(w->tmp);
        return td__error_set(err, e == EEXIST ? TD_ERR_CONFLICT : io_status(e),
                             "package: moving to %s: %s", w->path, strerror(e));
    }
    unlink(w->tmp);
    st = sync_parent(w->path, err);
    if (st)
        unlink(w->path);
    return st;
}

td_status td_package_finish(td_package_writer *w, const char *manifest_extra_json,
                            char manifest_sha256[TD_PACKAGE_SHA256_HEX_LEN + 1], td_error *err)
{
    td_status st = check_usable(w, err);
    if (st) {
        td_package_abort(w);
        return st;
    }
    if (w->in_record)
        return td__error_set(err, TD_ERR_INVALID, "package: record '%s' is still open",
                             w->records[w->n_records].name);
    json_t *extra;
    if (manifest_extra_json) {
        size_t n = strlen(manifest_extra_json);
        if (n > TD_PACKAGE_EXTRA_MAX)
            return td__error_set(err, TD_ERR_LIMIT, "package: manifest extra over %d bytes",
                                 TD_PACKAGE_EXTRA_MAX);
        json_error_t jerr;
        extra = json_loadb(manifest_extra_json, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!extra || !json_is_object(extra)) {
            json_decref(extra);
            return td__error_set(err, TD_ERR_INVALID,
                                 "package: manifest extra is not a JSON object%s%s",
                                 extra ? "" : ": ", extra ? "" : jerr.text);
        }
    } else if (!(extra = json_object())) {
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    }
    char *manifest = build_manifest(w, extra);
    if (!manifest)
        return td__error_set(err, TD_ERR_NOMEM, "package: out of memory");
    size_t mlen = strlen(manifest);
    if (mlen > TD_PACKAGE_MANIFEST_MAX) {
        free(manifest);
        return td__error_set(err, TD_ERR_LIMIT, "package: manifest of %zu bytes over %d", mlen,
                             TD_PACKAGE_MANIFEST_MAX);
    }
    /* From here on w is consumed. */
    st = write_final(w, manifest, mlen, err);
    if (st == TD_OK && manifest_sha256) {
        uint8_t h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const uint8_t *)manifest, mlen);
        td__hex_encode(h, sizeof h, manifest_sha256);
    }
    free(manifest);
    td_package_abort(w); /* the temporary file is gone already on success */
    return st;
}
