/* Review copies of uploaded media (include/takedown/review_media.h): the schema (component
 * "review_media"), the handle, its options, key and background thread, keeping a copy after an
 * upload, reading it back (audited), and the content type sniffed from the first bytes.
 *
 * Where the bytes go, and why files: an upload is up to the media body limit (64 MiB by
 * default); kept in the store it would grow the database, its write-ahead log, every backup and,
 * on PostgreSQL, every replica, and a deleted copy would linger in all of them. Files under the
 * data directory, one per part, go with one unlink, and whatever copy of a file survives
 * (a backup, a snapshot) is ciphertext whose key the store no longer holds. The store keeps the
 * record (content, part, type, size, SHA-256, state) and the wrapped content key. Nodes of a
 * PostgreSQL deployment share the data directory for this as they do for the evidence store.
 *
 * Order of things when a copy is kept: the files are written and synced first (each through a
 * temporary file renamed into place), then one transaction records them with their wrapped key
 * and an audit entry; a failure in between removes the files, so no record names a file that
 * is not there. A crash between the two leaves files no record names, which nobody can read
 * (their key was never stored). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/key.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/wait.h"
#include "evidence/sealed.h"
#include "review_media/review_media_int.h"

#define DAY_MS ((int64_t)86400000)
#define KEY_FILE "review_media.key"
#define DEFAULT_MAX_BYTES ((int64_t)64 << 20)

/* Tables, component "review_media". One row per content whose copy was kept (its key, its
 * state), one per part (what was uploaded, whether its bytes are kept, and where it was sealed
 * once preserved). */
static const char schema_v1[] =
    "CREATE TABLE review_media ("
    " content_ref BIGINT PRIMARY KEY REFERENCES content(id), content_id TEXT NOT NULL UNIQUE,"
    " case_id BIGINT NOT NULL, state INTEGER NOT NULL, wrapped_key BLOB,"
    " created_ms BIGINT NOT NULL, claim_ms BIGINT NOT NULL DEFAULT 0,"
    " delete_after_ms BIGINT NOT NULL DEFAULT 0, handled_ms BIGINT NOT NULL DEFAULT 0,"
    " evidence_case TEXT NOT NULL DEFAULT '', file_tag TEXT NOT NULL);"
    "CREATE INDEX review_media_state ON review_media (state, case_id);"
    "CREATE TABLE review_media_parts ("
    " content_ref BIGINT NOT NULL REFERENCES review_media(content_ref), part INTEGER NOT NULL,"
    " content_type TEXT NOT NULL, bytes BIGINT NOT NULL, sha256 TEXT NOT NULL,"
    " kept INTEGER NOT NULL, reason TEXT NOT NULL, evidence_item BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (content_ref, part));";

static const td_store_migration migrations[] = {
    {1, "review copies of uploaded media: records, parts, wrapped keys", schema_v1, NULL},
};

/* ---- options ---- */

void td_review_media_options_default(td_review_media_options *o)
{
    memset(o, 0, sizeof *o);
    o->enabled = 1;
    o->grace_ms = 7 * DAY_MS;
}

td_status td_review_media_options_from_config(td_review_media_options *o, const td_config *cfg,
                                              td_error *err)
{
    td_status st;
    int64_t enabled = 1;
    td_review_media_options_default(o);
    if ((st = td_config_int(cfg, "review_media", &enabled, err)) ||
        (st = td_config_int(cfg, "review_media_grace_ms", &o->grace_ms, err)) ||
        (st = td_config_int(cfg, "review_media_max_bytes", &o->max_bytes, err)))
        return st;
    o->enabled = enabled != 0;
    return TD_OK;
}

const char *td_review_media_state_name(td_review_media_state s)
{
    switch (s) {
    case TD_REVIEW_MEDIA_KEPT:
    case TD_REVIEW_MEDIA_SEALING: return "kept";
    case TD_REVIEW_MEDIA_DELETED: return "deleted";
    case TD_REVIEW_MEDIA_PRESERVED: return "preserved";
    default: return "none";
    }
}

/* ---- content types ---- */

const char *td_review_media_sniff(const uint8_t *d, size_t n)
{
    if (!d)
        return "application/octet-stream";
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        return "image/jpeg";
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return "image/gif";
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "AVI ", 4) == 0)
        return "video/x-msvideo";
    if (n >= 14 && d[0] == 'B' && d[1] == 'M')
        return "image/bmp";
    if (n >= 12 && memcmp(d + 4, "ftyp", 4) == 0)
        return memcmp(d + 8, "qt  ", 4) == 0 ? "video/quicktime" : "video/mp4";
    if (n >= 4 && memcmp(d, "\x1a\x45\xdf\xa3", 4) == 0) {
        /* EBML: the DocType element (0x42 0x82) says webm or matroska, early in the header */
        size_t lim = n < 64 ? n : 64;
        for (size_t i = 4; i + 7 <= lim; i++)
            if (d[i] == 0x42 && d[i + 1] == 0x82 && memcmp(d + i + 3, "webm", 4) == 0)
                return "video/webm";
        return "video/x-matroska";
    }
    if (n >= 4 && memcmp(d, "OggS", 4) == 0)
        return "video/ogg";
    if (n >= 5 && memcmp(d, "%PDF-", 5) == 0)
        return "application/pdf";
    return "application/octet-stream";
}

/* ---- shared helpers ---- */

void td__rm_file(const td_review_media *rm, int64_t ref, const char *tag, int part, char *out,
                 size_t cap)
{
    snprintf(out, cap, "%s/%lld-%s-%d.seal", rm->dir, (long long)ref, tag, part);
}

void td__rm_bind(int64_t ref, int part, char *out, size_t cap)
{
    snprintf(out, cap, "takedown review media\ncontent=%lld\npart=%d", (long long)ref, part);
}

static void key_ad(int64_t ref, char *out, size_t cap)
{
    snprintf(out, cap, "takedown review media key\ncontent=%lld", (long long)ref);
}

static void wrap_key(const td_review_media *rm, int64_t ref, const uint8_t *key,
                     uint8_t out[TD__RM_WRAPPED_LEN])
{
    char ad[96];
    unsigned long long clen = 0;
    key_ad(ref, ad, sizeof ad);
    randombytes_buf(out, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 24, &clen, key, TD__RM_KEY_LEN,
                                               (const uint8_t *)ad, strlen(ad), NULL, out, rm->key);
}

td_status td__rm_unwrap(const td_review_media *rm, int64_t ref, const uint8_t *wrapped,
                        size_t wrapped_len, uint8_t *key, td_error *err)
{
    char ad[96];
    unsigned long long plen = 0;
    key_ad(ref, ad, sizeof ad);
    if (wrapped_len != TD__RM_WRAPPED_LEN ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(key, &plen, NULL, wrapped + 24,
                                                   TD__RM_WRAPPED_LEN - 24, (const uint8_t *)ad,
                                                   strlen(ad), wrapped, rm->key) != 0 ||
        plen != TD__RM_KEY_LEN)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "review media: the key of content %lld does not open with this data "
                             "directory's review_media.key",
                             (long long)ref);
    return TD_OK;
}

td_status td__rm_open_file(const td_review_media *rm, int64_t ref, const char *tag, int part,
                           const uint8_t *key, uint8_t **data, size_t *len, td_error *err)
{
    char path[4200], bind[96];
    char *meta = NULL;
    size_t meta_len = 0;
    td__rm_file(rm, ref, tag, part, path, sizeof path);
    td__rm_bind(ref, part, bind, sizeof bind);
    td_status st =
        td__sealed_read(path, key, bind, (uint64_t)1 << 40, &meta, &meta_len, data, len, err);
    sodium_free(meta);
    return st;
}

td_status td__rm_audit(td_review_media *rm, td_store_conn *c, const td_principal *who,
                       const char *action, const char *content_id, json_t *details, td_error *err)
{
    char object[TD_CONTENT_ID_MAX + 16];
    snprintf(object, sizeof object, "content:%s", content_id);
    return td__audit(rm->svc, c, who, action, object, details, err);
}

td_status td__rm_shred(td_review_media *rm, td_store_conn *c, int on, td_error *err)
{
    if (strcmp(td_store_backend(rm->svc->store), "sqlite") != 0)
        return TD_OK;
    return td_store_exec(c, on ? "PRAGMA secure_delete = ON" : "PRAGMA secure_delete = OFF", err);
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    static const uint8_t none[1];
    uint8_t d[32];
    crypto_hash_sha256(d, len ? data : none, len);
    td__hex_encode(d, sizeof d, out);
}

/* ---- the background thread ---- */

static void *duty_main(void *arg)
{
    td_review_media *rm = arg;
    pthread_mutex_lock(&rm->duty_lock);
    while (!td__wait_interval(&rm->duty_wake, &rm->duty_lock, &rm->duty_stop,
                              (unsigned)rm->opts.tick_ms)) {
        pthread_mutex_unlock(&rm->duty_lock);
        td_error err;
        /* A failing tick (busy store, no evidence master key) is counted and redone at the next
         * one: every duty is a catch-up over stored state. */
        td_status st = td_review_media_tick(rm, &err);
        (void)st;
        pthread_mutex_lock(&rm->duty_lock);
    }
    pthread_mutex_unlock(&rm->duty_lock);
    return NULL;
}

static void duties_stop(td_review_media *rm)
{
    if (!rm->duty_started)
        return;
    pthread_mutex_lock(&rm->duty_lock);
    rm->duty_stop = 1;
    pthread_cond_broadcast(&rm->duty_wake);
    pthread_mutex_unlock(&rm->duty_lock);
    pthread_join(rm->duty, NULL);
    rm->duty_started = 0;
}

/* ---- the handle ---- */

static td_status load_key(td_review_media *rm, td_error *err)
{
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    rm->key = sodium_malloc(TD__RM_KEY_LEN);
    if (!sk || !rm->key) {
        sodium_free(sk);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    uint8_t pk[32];
    td_status st = td__key_file_load(rm->opts.key_dir ? rm->opts.key_dir : rm->svc->dir, KEY_FILE,
                                     sk, pk, err);
    if (st == TD_OK) {
        static const uint8_t context[] = "takedown review media keys v1";
        /* The key file's seed (the first half of the expanded key) keys a hash of a fixed
         * context: the wrapping key never equals a key used for anything else. */
        crypto_generichash(rm->key, TD__RM_KEY_LEN, context, sizeof context - 1, sk,
                           crypto_sign_SEEDBYTES);
    }
    sodium_free(sk);
    return st;
}

td_status td_review_media_open(td_service *svc, const td_review_media_options *opts,
                               td_review_media **out, td_error *err)
{
    td_status st;
    *out = NULL;
    if (!svc)
        return td__error_set(err, TD_ERR_INVALID, "review media: no service");
    td_review_media *rm = td__calloc(1, sizeof *rm);
    if (!rm)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    rm->svc = svc;
    pthread_mutex_init(&rm->tick_lock, NULL);
    pthread_mutex_init(&rm->duty_lock, NULL);
    td__cond_init_monotonic(&rm->duty_wake);
    if (opts)
        rm->opts = *opts;
    else
        td_review_media_options_default(&rm->opts);
    td_review_media_options *o = &rm->opts;
    if (o->max_bytes == 0)
        o->max_bytes = DEFAULT_MAX_BYTES;
    if (o->grace_ms < 0 || o->max_bytes < 1 || o->max_bytes > ((int64_t)1 << 40) ||
        o->tick_ms < 0 || o->tick_ms > 3600000) {
        st = td__error_set(err, TD_ERR_INVALID,
                           "review media: grace, size limit or tick out of range");
        goto fail;
    }
    if (sodium_init() < 0) {
        st = td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to start");
        goto fail;
    }
    size_t dlen = strlen(svc->dir) + sizeof "/review_media";
    rm->dir = td__malloc(dlen);
    if (!rm->dir) {
        st = td__error_set(err, TD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    snprintf(rm->dir, dlen, "%s/review_media", svc->dir);
    if (mkdir(rm->dir, 0700) != 0 && errno != EEXIST) {
        st = td__error_set(err, TD_ERR_IO, "review media: cannot create %s: %s", rm->dir,
                           strerror(errno));
        goto fail;
    }
    if ((st = load_key(rm, err)) ||
        (st = td_store_migrate_component(svc->store, "review_media", migrations,
                                         sizeof migrations / sizeof migrations[0], err)))
        goto fail;
    if (o->tick_ms > 0) {
        if (pthread_create(&rm->duty, NULL, duty_main, rm) != 0) {
            st = td__error_set(err, TD_ERR_INTERNAL, "review media: cannot start the duty thread");
            goto fail;
        }
        rm->duty_started = 1;
    }
    *out = rm;
    return TD_OK;
fail:
    td_review_media_close(rm);
    return st;
}

void td_review_media_close(td_review_media *rm)
{
    if (!rm)
        return;
    duties_stop(rm);
    sodium_free(rm->key);
    td__free(rm->dir);
    pthread_cond_destroy(&rm->duty_wake);
    pthread_mutex_destroy(&rm->duty_lock);
    pthread_mutex_destroy(&rm->tick_lock);
    td__free(rm);
}

td_status td_review_media_tick(td_review_media *rm, td_error *err)
{
    atomic_fetch_add(&rm->ticks, 1);
    td_status st = td__rm_tick(rm, err);
    if (st)
        atomic_fetch_add(&rm->tick_failures, 1);
    return st;
}

void td_review_media_get_stats(td_review_media *rm, td_review_media_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!rm)
        return;
    out->kept = atomic_load(&rm->kept);
    out->read = atomic_load(&rm->read);
    out->deleted = atomic_load(&rm->deleted);
    out->preserved = atomic_load(&rm->preserved);
    out->ticks = atomic_load(&rm->ticks);
    out->tick_failures = atomic_load(&rm->tick_failures);
}

void td_review_media_free(uint8_t *data, size_t len)
{
    (void)len; /* sodium_free wipes the whole allocation */
    sodium_free(data);
}

/* ---- keeping a copy ---- */

/* The content's row and its latest case. */
typedef struct target_args {
    const char *content_id;
    int64_t ref, case_id, case_state;
    int found, has_copy;
} target_args;

static td_status target_body(td_store_conn *c, void *ctx, td_error *err)
{
    target_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td_store_prepare(c,
                               "SELECT c.id, k.id, k.state FROM content c LEFT JOIN cases k ON"
                               " k.content_ref = c.id WHERE c.content_id = $1"
                               " ORDER BY k.id DESC LIMIT 1",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->content_id, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        a->found = 1;
        a->ref = td_stmt_column_int64(q, 0);
        a->case_id = td_stmt_column_is_null(q, 1) ? 0 : td_stmt_column_int64(q, 1);
        a->case_state = td_stmt_column_int64(q, 2);
    }
    td_stmt_reset(q);
    if (!a->found)
        return TD_OK;
    if ((st = td_store_prepare(c, "SELECT 1 FROM review_media WHERE content_ref = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->ref, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    a->has_copy = row;
    td_stmt_reset(q);
    return TD_OK;
}

typedef struct keep_args {
    td_review_media *rm;
    const char *content_id;
    int64_t ref, case_id;
    const uint8_t *wrapped;
    const char *tag;
    const td_review_media_item *items;
    size_t n;
    int duplicate;
} keep_args;

static td_status keep_body(td_store_conn *c, void *ctx, td_error *err)
{
    keep_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    int64_t now = td__now(a->rm->svc);
    size_t kept = 0;
    for (size_t i = 0; i < a->n; i++)
        kept += a->items[i].kept != 0;
    if ((st = td_store_prepare(c, "SELECT 1 FROM review_media WHERE content_ref = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->ref, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    td_stmt_reset(q);
    if (row) {
        a->duplicate = 1; /* kept by another request first */
        return TD_OK;
    }
    if ((st = td_store_prepare(c,
                               "INSERT INTO review_media (content_ref, content_id, case_id, state,"
                               " wrapped_key, created_ms, file_tag) VALUES ($1, $2, $3, $4, $5,"
                               " $6, $7)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->ref, err)) ||
        (st = td_stmt_bind_text(q, 2, a->content_id, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, a->case_id, err)) ||
        (st = td_stmt_bind_int64(q, 4, kept ? TD_REVIEW_MEDIA_KEPT : TD_REVIEW_MEDIA_NONE, err)))
        return st;
    st = kept ? td_stmt_bind_blob(q, 5, a->wrapped, TD__RM_WRAPPED_LEN, err)
              : td_stmt_bind_null(q, 5, err);
    if (st || (st = td_stmt_bind_int64(q, 6, now, err)) ||
        (st = td_stmt_bind_text(q, 7, a->tag, (size_t)-1, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    json_t *parts = json_array();
    for (size_t i = 0; i < a->n; i++) {
        const td_review_media_item *it = &a->items[i];
        if ((st = td_store_prepare(c,
                                   "INSERT INTO review_media_parts (content_ref, part,"
                                   " content_type, bytes, sha256, kept, reason) VALUES ($1, $2,"
                                   " $3, $4, $5, $6, $7)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->ref, err)) ||
            (st = td_stmt_bind_int64(q, 2, it->part, err)) ||
            (st = td_stmt_bind_text(q, 3, it->content_type, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 4, it->bytes, err)) ||
            (st = td_stmt_bind_text(q, 5, it->sha256, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 6, it->kept, err)) ||
            (st = td_stmt_bind_text(q, 7, it->reason, (size_t)-1, err)) ||
            (st = td_stmt_run(q, NULL, err))) {
            json_decref(parts);
            return st;
        }
        json_array_append_new(parts, json_pack("{s:i, s:s, s:I, s:s, s:b}", "part", it->part,
                                               "content_type", it->content_type, "bytes",
                                               (json_int_t)it->bytes, "sha256", it->sha256, "kept",
                                               it->kept));
    }
    return td__rm_audit(a->rm, c, NULL, "content.media_kept", a->content_id,
                        json_pack("{s:s, s:I, s:o}", "content_id", a->content_id, "case",
                                  (json_int_t)a->case_id, "parts", parts),
                        err);
}

static void remove_files(const td_review_media *rm, int64_t ref, const char *tag,
                         const td_review_media_item *items, size_t n)
{
    char path[4200];
    for (size_t i = 0; i < n; i++)
        if (items[i].kept) {
            td__rm_file(rm, ref, tag, items[i].part, path, sizeof path);
            unlink(path);
        }
}

td_status td_review_media_keep(td_review_media *rm, const char *content_id,
                               const td_review_media_part *parts, size_t n, size_t *kept,
                               td_error *err)
{
    td_status st;
    if (kept)
        *kept = 0;
    if (!rm || !content_id || !*content_id || (n && !parts))
        return td__error_set(err, TD_ERR_INVALID, "review media: no content");
    if (n > TD_REVIEW_MEDIA_PARTS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "review media: more than %d parts",
                             TD_REVIEW_MEDIA_PARTS_MAX);
    if (!rm->opts.enabled || n == 0)
        return TD_OK;
    target_args t = {content_id, 0, 0, 0, 0, 0};
    if ((st = td_store_read(rm->svc->store, target_body, &t, err)))
        return st;
    if (!t.found)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no content '%s'", content_id);
    if (!t.case_id || t.case_state == TD_CASE_CLOSED || t.has_copy)
        return TD_OK;
    td_review_media_item *items = td__calloc(n, sizeof *items);
    uint8_t *key = sodium_malloc(TD__RM_KEY_LEN);
    if (!items || !key) {
        td__free(items);
        sodium_free(key);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    randombytes_buf(key, TD__RM_KEY_LEN);
    /* The files' names carry a random tag of this copy, so that a copy never writes over
     * another's files, even one a concurrent request for the same content is writing. */
    uint8_t tag_bytes[8];
    char tag[17];
    randombytes_buf(tag_bytes, sizeof tag_bytes);
    td__hex_encode(tag_bytes, sizeof tag_bytes, tag);
    size_t n_kept = 0;
    st = TD_OK;
    for (size_t i = 0; i < n; i++) {
        td_review_media_item *it = &items[i];
        it->part = (int)i;
        td__copy_trunc(it->content_type, sizeof it->content_type,
                       td_review_media_sniff(parts[i].data, parts[i].len));
        it->bytes = (int64_t)parts[i].len;
        sha256_hex(parts[i].data, parts[i].len, it->sha256);
        if ((int64_t)parts[i].len > rm->opts.max_bytes) {
            snprintf(it->reason, sizeof it->reason,
                     "%zu bytes: larger than review_media_max_bytes (%lld)", parts[i].len,
                     (long long)rm->opts.max_bytes);
            continue;
        }
        char path[4200], bind[96];
        td__rm_file(rm, t.ref, tag, it->part, path, sizeof path);
        td__rm_bind(t.ref, it->part, bind, sizeof bind);
        static const char meta[] = "{}";
        if ((st = td__sealed_write(path, key, bind, meta, sizeof meta - 1, parts[i].data,
                                   parts[i].len, err)))
            break;
        it->kept = 1;
        n_kept++;
    }
    if (st == TD_OK) {
        uint8_t wrapped[TD__RM_WRAPPED_LEN];
        wrap_key(rm, t.ref, key, wrapped);
        keep_args a = {rm, content_id, t.ref, t.case_id, wrapped, tag, items, n, 0};
        st = td_store_write(rm->svc->store, keep_body, &a, err);
        if (st == TD_OK && a.duplicate) {
            /* another request recorded its copy first: that one stands, ours goes */
            remove_files(rm, t.ref, tag, items, n);
            n_kept = 0;
        }
    }
    if (st)
        remove_files(rm, t.ref, tag, items, n);
    else if (n_kept)
        atomic_fetch_add(&rm->kept, 1);
    if (kept && st == TD_OK)
        *kept = n_kept;
    sodium_free(key);
    td__free(items);
    return st;
}

/* ---- reading ---- */

typedef struct load_args {
    td_review_media *rm;
    const char *content_id;
    td_review_media_info *info;
    int64_t ref;
    uint8_t wrapped[TD__RM_WRAPPED_LEN];
    size_t wrapped_len;
    char tag[17];
} load_args;

static td_status load_body(td_store_conn *c, void *ctx, td_error *err)
{
    load_args *a = ctx;
    td_review_media_info *in = a->info;
    td_stmt *q;
    int row = 0;
    td_status st;
    memset(in, 0, sizeof *in);
    a->wrapped_len = 0;
    if ((st = td_store_prepare(c,
                               "SELECT m.content_ref, m.case_id, m.state, m.wrapped_key,"
                               " m.created_ms, m.delete_after_ms, m.handled_ms, m.evidence_case,"
                               " k.state, k.outcome, k.closed_ms, m.file_tag FROM review_media m"
                               " LEFT JOIN cases k ON k.id = m.case_id WHERE m.content_id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->content_id, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row) {
        td_stmt_reset(q);
        return TD_OK;
    }
    in->exists = 1;
    a->ref = td_stmt_column_int64(q, 0);
    in->case_id = td_stmt_column_int64(q, 1);
    in->state = (td_review_media_state)td_stmt_column_int64(q, 2);
    if (td_stmt_column_bytes(q, 3) == TD__RM_WRAPPED_LEN) {
        memcpy(a->wrapped, td_stmt_column_blob(q, 3), TD__RM_WRAPPED_LEN);
        a->wrapped_len = TD__RM_WRAPPED_LEN;
    }
    in->created_ms = td_stmt_column_int64(q, 4);
    in->delete_after_ms = td_stmt_column_int64(q, 5);
    in->handled_ms = td_stmt_column_int64(q, 6);
    td__copy_trunc(in->evidence_case, sizeof in->evidence_case, td_stmt_column_text(q, 7));
    int64_t case_state = td_stmt_column_int64(q, 8), outcome = td_stmt_column_int64(q, 9),
            closed_ms = td_stmt_column_int64(q, 10);
    td__copy_trunc(a->tag, sizeof a->tag, td_stmt_column_text(q, 11));
    td_stmt_reset(q);
    /* A copy still held whose case is closed: deleted at closed + grace, unless removal seals it
     * into the evidence store first. */
    if ((in->state == TD_REVIEW_MEDIA_KEPT || in->state == TD_REVIEW_MEDIA_SEALING) &&
        case_state == TD_CASE_CLOSED && !(outcome == TD_DECISION_REMOVE && a->rm->opts.evidence))
        in->delete_after_ms = closed_ms + a->rm->opts.grace_ms;
    if ((st = td_store_prepare(c,
                               "SELECT part, content_type, bytes, sha256, kept, reason,"
                               " evidence_item FROM review_media_parts WHERE content_ref = $1"
                               " ORDER BY part",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->ref, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row &&
           in->n_items < TD_REVIEW_MEDIA_PARTS_MAX) {
        td_review_media_item *it = &in->items[in->n_items++];
        it->part = (int)td_stmt_column_int64(q, 0);
        td__copy_trunc(it->content_type, sizeof it->content_type, td_stmt_column_text(q, 1));
        it->bytes = td_stmt_column_int64(q, 2);
        td__copy_trunc(it->sha256, sizeof it->sha256, td_stmt_column_text(q, 3));
        it->kept = (int)td_stmt_column_int64(q, 4);
        td__copy_trunc(it->reason, sizeof it->reason, td_stmt_column_text(q, 5));
        it->evidence_item = td_stmt_column_int64(q, 6);
    }
    td_stmt_reset(q);
    return st;
}

td_status td_review_media_get(td_review_media *rm, const char *content_id,
                              td_review_media_info *info, td_error *err)
{
    load_args a;
    memset(&a, 0, sizeof a);
    a.rm = rm;
    a.content_id = content_id;
    a.info = info;
    memset(info, 0, sizeof *info);
    if (!rm || !content_id)
        return td__error_set(err, TD_ERR_INVALID, "review media: no content");
    td_status st = td_store_read(rm->svc->store, load_body, &a, err);
    sodium_memzero(a.wrapped, sizeof a.wrapped);
    return st;
}

typedef struct read_audit_args {
    td_review_media *rm;
    const td_principal *who;
    const char *content_id;
    int64_t ref;
    const td_review_media_item *item;
    int still_kept;
} read_audit_args;

static td_status read_audit_body(td_store_conn *c, void *ctx, td_error *err)
{
    read_audit_args *a = ctx;
    td_stmt *q;
    int row = 0;
    td_status st;
    if ((st = td_store_prepare(c, "SELECT state FROM review_media WHERE content_ref = $1", &q,
                               err)) ||
        (st = td_stmt_bind_int64(q, 1, a->ref, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    int64_t state = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    a->still_kept = state == TD_REVIEW_MEDIA_KEPT || state == TD_REVIEW_MEDIA_SEALING;
    if (!a->still_kept)
        return TD_OK; /* deleted while it was being read: nothing handed out, nothing to log */
    return td__rm_audit(a->rm, c, a->who, "content.media_read", a->content_id,
                        json_pack("{s:s, s:i, s:I, s:s}", "content_id", a->content_id, "part",
                                  a->item->part, "bytes", (json_int_t)a->item->bytes, "sha256",
                                  a->item->sha256),
                        err);
}

td_status td_review_media_read(td_review_media *rm, const td_principal *who, const char *content_id,
                               int part, td_review_media_info *info, uint8_t **data, size_t *len,
                               td_error *err)
{
    *data = NULL;
    *len = 0;
    load_args a;
    memset(&a, 0, sizeof a);
    a.rm = rm;
    a.content_id = content_id;
    a.info = info;
    memset(info, 0, sizeof *info);
    if (!rm || !content_id)
        return td__error_set(err, TD_ERR_INVALID, "review media: no content");
    td_status st = td_store_read(rm->svc->store, load_body, &a, err);
    if (st)
        return st;
    if (!info->exists)
        return td__error_set(err, TD_ERR_NOT_FOUND, "no review copy of content '%s' is kept",
                             content_id);
    const td_review_media_item *it = NULL;
    for (size_t i = 0; i < info->n_items; i++)
        if (info->items[i].part == part)
            it = &info->items[i];
    if (!it)
        return td__error_set(err, TD_ERR_NOT_FOUND, "content '%s' has no part %d", content_id,
                             part);
    if (info->state == TD_REVIEW_MEDIA_DELETED || info->state == TD_REVIEW_MEDIA_PRESERVED)
        return TD_OK;
    if (!it->kept)
        return td__error_set(err, TD_ERR_NOT_FOUND, "part %d of content '%s' was not kept: %s",
                             part, content_id, it->reason);
    uint8_t *key = sodium_malloc(TD__RM_KEY_LEN);
    if (!key)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    st = td__rm_unwrap(rm, a.ref, a.wrapped, a.wrapped_len, key, err);
    sodium_memzero(a.wrapped, sizeof a.wrapped);
    if (st == TD_OK)
        st = td__rm_open_file(rm, a.ref, a.tag, part, key, data, len, err);
    sodium_free(key);
    if (st == TD_OK && (int64_t)*len != it->bytes)
        st = td__error_set(err, TD_ERR_CORRUPT,
                           "review media: part %d of '%s' has %zu bytes, not %lld", part,
                           content_id, *len, (long long)it->bytes);
    if (st == TD_OK) {
        read_audit_args ra = {rm, who, content_id, a.ref, it, 0};
        st = td_store_write(rm->svc->store, read_audit_body, &ra, err);
        if (st == TD_OK && !ra.still_kept) {
            /* deleted or preserved meanwhile: answer as a deleted copy */
            td_status again = td_store_read(rm->svc->store, load_body, &a, err);
            sodium_memzero(a.wrapped, sizeof a.wrapped);
            sodium_free(*data);
            *data = NULL;
            *len = 0;
            return again;
        }
    }
    if (st) {
        sodium_free(*data);
        *data = NULL;
        *len = 0;
        return st;
    }
    atomic_fetch_add(&rm->read, 1);
    return TD_OK;
}
