/* The evidence store: master key and custodians, cases and sealed items, retention and purge,
 * release requests with k-of-n approval. The key hierarchy is described in
 * include/takedown/evidence.h; this file keeps its rules:
 *  - no secret key is ever written anywhere but in sealed form; the master seed exists only while
 *    a release runs (guarded memory, wiped at once);
 *  - shares submitted for a request stay in this process's guarded memory until the release (or
 *    the handle's close), never in the store;
 *  - every state change commits together with its audit entry (td_audit_append_in), and a
 *    release is logged before any plaintext is produced. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "evidence/sealed.h"
#include "takedown/config.h"
#include "takedown/evidence.h"

#define MAX_REF 256
#define MAX_NAME 128
#define MAX_TEXT 4096
#define WRAPPED_LEN (32 + crypto_box_SEALBYTES)
#define MAX_PENDING 256
#define MAX_REQUEST_ITEMS 1000

typedef struct pending {
    int64_t request_id;
    unsigned count;
    td_share *shares; /* sodium_allocarray(TD_SHAMIR_MAX_SHARES) */
} pending;

struct td_evidence {
    td_store *store;
    td_audit *log;
    td_evidence_options opts;
    char *dir; /* DATA_DIR/evidence */
    pthread_mutex_t lock;
    pending pend[MAX_PENDING];
    size_t n_pend;
};

typedef struct master {
    uint8_t set_id[TD_SHARE_SET_ID_LEN];
    unsigned k, n;
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
} master;

static const char schema_v1[] =
    "CREATE TABLE evidence_master ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), set_id BLOB NOT NULL, k INTEGER NOT NULL,"
    " n INTEGER NOT NULL, public_key BLOB NOT NULL, created_ms BIGINT NOT NULL);"
    "CREATE TABLE evidence_custodians ("
    " x INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, commitment BLOB NOT NULL);"
    "CREATE TABLE evidence_cases ("
    " case_ref TEXT PRIMARY KEY, public_key BLOB NOT NULL, wrapped_secret BLOB,"
    " created_ms BIGINT NOT NULL, retain_until_ms BIGINT NOT NULL, hold INTEGER NOT NULL,"
    " purged_ms BIGINT NOT NULL);"
    "CREATE INDEX evidence_cases_due ON evidence_cases (purged_ms, retain_until_ms);"
    "CREATE TABLE evidence_items ("
    " id INTEGER PRIMARY KEY, case_ref TEXT NOT NULL REFERENCES evidence_cases(case_ref),"
    " label TEXT NOT NULL, file TEXT NOT NULL, bytes BIGINT NOT NULL, wrapped_key BLOB,"
    " sealed_ms BIGINT NOT NULL, removal_ms BIGINT NOT NULL);"
    "CREATE INDEX evidence_items_case ON evidence_items (case_ref);"
    "CREATE TABLE evidence_requests ("
    " id INTEGER PRIMARY KEY, requester TEXT NOT NULL, legal_basis TEXT NOT NULL,"
    " purpose TEXT NOT NULL, case_ref TEXT NOT NULL, items TEXT NOT NULL,"
    " state INTEGER NOT NULL, created_ms BIGINT NOT NULL, released_ms BIGINT NOT NULL);"
    "CREATE TABLE evidence_approvals ("
    " request_id INTEGER NOT NULL REFERENCES evidence_requests(id), custodian TEXT NOT NULL,"
    " approved_ms BIGINT NOT NULL, PRIMARY KEY (request_id, custodian));";

static const td_store_migration migrations[] = {
    {1, "evidence store", schema_v1, NULL},
};

enum { REQ_OPEN = 0, REQ_RELEASED = 1 };

void td_evidence_options_default(td_evidence_options *o)
{
    memset(o, 0, sizeof *o);
    o->retention_ms = (int64_t)183 * 86400000;
    o->max_item_bytes = (int64_t)1 << 30;
}

td_status td_evidence_options_from_config(td_evidence_options *o, const td_config *cfg,
                                          td_error *err)
{
    int64_t v;
    td_status st;
    td_evidence_options_default(o);
    if ((st = td_config_int(cfg, "evidence_retention_ms", &v, err)))
        return st;
    o->retention_ms = v;
    if ((st = td_config_int(cfg, "evidence_max_item_bytes", &v, err)))
        return st;
    o->max_item_bytes = v;
    return TD_OK;
}

static int64_t now_ms(const td_evidence *ev)
{
    if (ev->opts.now_ms)
        return ev->opts.now_ms(ev->opts.clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Compact JSON of o (stolen) in library memory, or NULL. */
static char *dump(json_t *o)
{
    char *s = NULL;
    size_t n = o ? json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER) : 0;
    if (n && (s = td__malloc(n + 1))) {
        if (json_dumpb(o, s, n, JSON_COMPACT | JSON_PRESERVE_ORDER) == n) {
            s[n] = '\0';
        } else {
            td__free(s);
            s = NULL;
        }
    }
    json_decref(o);
    return s;
}

static td_status check_text(const char *what, const char *s, size_t max, td_error *err)
{
    if (!s || !*s)
        return td__error_set(err, TD_ERR_INVALID, "evidence: %s is empty", what);
    if (strlen(s) > max)
        return td__error_set(err, TD_ERR_LIMIT, "evidence: %s longer than %zu bytes", what, max);
    return TD_OK;
}

/* ---- open / close ---- */

td_status td_evidence_open(td_store *store, td_audit *log, const char *data_dir,
                           const td_evidence_options *opts, td_evidence **out, td_error *err)
{
    *out = NULL;
    td_status st = td__sodium_ready(err);
    if (st)
        return st;
    if (!store || !log || !data_dir || !*data_dir)
        return td__error_set(err, TD_ERR_INVALID, "evidence: store, log and directory needed");
    td_evidence *ev = td__calloc(1, sizeof *ev);
    size_t n = strlen(data_dir) + sizeof "/evidence";
    if (!ev || !(ev->dir = td__malloc(n))) {
        td__free(ev);
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    }
    snprintf(ev->dir, n, "%s/evidence", data_dir);
    ev->store = store;
    ev->log = log;
    if (opts)
        ev->opts = *opts;
    else
        td_evidence_options_default(&ev->opts);
    pthread_mutex_init(&ev->lock, NULL);
    if (mkdir(ev->dir, 0700) != 0 && errno != EEXIST) {
        st = td__error_set(err, TD_ERR_IO, "evidence: cannot create %s: %s", ev->dir,
                           strerror(errno));
    } else {
        st = td__component_migrate(store, "evidence", migrations,
                                   sizeof migrations / sizeof migrations[0], err);
    }
    if (st) {
        td_evidence_close(ev);
        return st;
    }
    *out = ev;
    return TD_OK;
}

static void pending_drop(td_evidence *ev, size_t i)
{
    sodium_free(ev->pend[i].shares); /* wipes */
    ev->pend[i] = ev->pend[--ev->n_pend];
}

void td_evidence_close(td_evidence *ev)
{
    if (!ev)
        return;
    while (ev->n_pend)
        pending_drop(ev, 0);
    pthread_mutex_destroy(&ev->lock);
    td__free(ev->dir);
    td__free(ev);
}

/* ---- small store helpers ---- */

static td_status load_master(td_store_conn *c, master *m, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(
        c, "SELECT set_id, k, n, public_key FROM evidence_master WHERE id = 1", &q, err);
    if (st || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND,
                             "evidence: no master key yet (create it with its custodians first)");
    if (td_stmt_column_bytes(q, 0) != TD_SHARE_SET_ID_LEN ||
        td_stmt_column_bytes(q, 3) != crypto_box_PUBLICKEYBYTES) {
        td_stmt_reset(q);
        return td__error_set(err, TD_ERR_CORRUPT, "evidence: master key row is malformed");
    }
    memcpy(m->set_id, td_stmt_column_blob(q, 0), TD_SHARE_SET_ID_LEN);
    m->k = (unsigned)td_stmt_column_int64(q, 1);
    m->n = (unsigned)td_stmt_column_int64(q, 2);
    memcpy(m->pk, td_stmt_column_blob(q, 3), crypto_box_PUBLICKEYBYTES);
    td_stmt_reset(q);
    return TD_OK;
}

/* Runs body(ev, conn, arg) in a write transaction on the writer connection. */
typedef td_status (*tx_fn)(td_evidence *ev, td_store_conn *c, void *arg, td_error *err);

static td_status in_tx(td_evidence *ev, tx_fn body, void *arg, td_error *err)
{
    td_store_conn *c;
    td_status st = td_store_acquire(ev->store, 1, &c, err);
    if (st)
        return st;
    if ((st = td_store_begin(c, err)) || (st = body(ev, c, arg, err)) ||
        (st = td_store_commit(c, err)))
        td_store_rollback(c);
    td_store_release(ev->store, c);
    return st;
}

/* ---- master key ---- */

typedef struct init_args {
    const char *actor;
    unsigned k, n;
    const char *const *names;
    const td_share *shares;
    const uint8_t *pk;
} init_args;

static td_status init_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    init_args *a = arg;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c, "SELECT 1 FROM evidence_master", &q, err);
    if (st || (st = td_stmt_step(q, &row, err)))
        return st;
    td_stmt_reset(q);
    if (row)
        return td__error_set(err, TD_ERR_CONFLICT, "evidence: the master key exists already");
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_master (id, set_id, k, n, public_key,"
                               " created_ms) VALUES (1, $1, $2, $3, $4, $5)",
                               &q, err)) ||
        (st = td_stmt_bind_blob(q, 1, a->shares[0].set_id, TD_SHARE_SET_ID_LEN, err)) ||
        (st = td_stmt_bind_int64(q, 2, a->k, err)) || (st = td_stmt_bind_int64(q, 3, a->n, err)) ||
        (st = td_stmt_bind_blob(q, 4, a->pk, crypto_box_PUBLICKEYBYTES, err)) ||
        (st = td_stmt_bind_int64(q, 5, now_ms(ev), err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    json_t *names = json_array();
    for (unsigned i = 0; i < a->n; i++) {
        uint8_t com[32];
        td_share_commitment(&a->shares[i], com);
        if ((st = td_store_prepare(c,
                                   "INSERT INTO evidence_custodians (x, name, commitment)"
                                   " VALUES ($1, $2, $3)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->shares[i].x, err)) ||
            (st = td_stmt_bind_text(q, 2, a->names[i], (size_t)-1, err)) ||
            (st = td_stmt_bind_blob(q, 3, com, sizeof com, err)) ||
            (st = td_stmt_run(q, NULL, err))) {
            json_decref(names);
            return st == TD_ERR_CONFLICT
                       ? td__error_set(err, TD_ERR_INVALID, "evidence: custodian names repeat")
                       : st;
        }
        json_array_append_new(names, json_string(a->names[i]));
    }
    char *details =
        dump(json_pack("{s:i,s:i,s:o}", "k", (int)a->k, "n", (int)a->n, "custodians", names));
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, "evidence.master.create", "master", details, NULL,
                            err);
    td__free(details);
    return st;
}

td_status td_evidence_init_master(td_evidence *ev, const char *actor, unsigned k, unsigned n,
                                  const char *const *names, td_share *shares, td_error *err)
{
    td_status st;
    if (k < 2 || k > n || n > TD_SHAMIR_MAX_SHARES)
        return td__error_set(err, TD_ERR_INVALID,
                             "evidence: need 2 <= k <= n <= 255 custodians (k %u, n %u)", k, n);
    for (unsigned i = 0; i < n; i++)
        if ((st = check_text("custodian name", names[i], MAX_NAME, err)))
            return st;
    uint8_t *seed = sodium_malloc(crypto_box_SEEDBYTES);
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    uint8_t pk[crypto_box_PUBLICKEYBYTES], set_id[TD_SHARE_SET_ID_LEN];
    if (!seed || !sk) {
        sodium_free(seed);
        sodium_free(sk);
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    }
    randombytes_buf(seed, crypto_box_SEEDBYTES);
    randombytes_buf(set_id, sizeof set_id);
    crypto_box_seed_keypair(pk, sk, seed);
    sodium_free(sk);
    st = td_shamir_split(seed, k, n, set_id, shares, err);
    sodium_free(seed);
    if (st)
        return st;
    init_args a = {actor, k, n, names, shares, pk};
    if ((st = in_tx(ev, init_body, &a, err)))
        sodium_memzero(shares, n * sizeof *shares);
    return st;
}

/* ---- sealing ---- */

static void item_path(const td_evidence *ev, int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%lld.seal", ev->dir, (long long)id);
}

static void item_bind(const char *case_ref, int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "takedown evidence\ncase=%s\nitem=%lld", case_ref, (long long)id);
}

typedef struct seal_args {
    const char *actor, *case_ref, *label, *related;
    const uint8_t *content;
    size_t len;
    int64_t removal_ms;
    int64_t item_id;
    char path[4096];
    int wrote;
} seal_args;

/* The case's public key, creating the case (and its key pair) when new. */
static td_status case_for_seal(td_evidence *ev, td_store_conn *c, const seal_args *a,
                               uint8_t pk[crypto_box_PUBLICKEYBYTES], int64_t *retain,
                               td_error *err)
{
    td_stmt *q;
    int row;
    int64_t until = a->removal_ms + ev->opts.retention_ms;
    td_status st = td_store_prepare(c,
                                    "SELECT public_key, retain_until_ms, purged_ms"
                                    " FROM evidence_cases WHERE case_ref = $1",
                                    &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        int64_t old = td_stmt_column_int64(q, 1), purged = td_stmt_column_int64(q, 2);
        if (td_stmt_column_bytes(q, 0) != crypto_box_PUBLICKEYBYTES)
            return td__error_set(err, TD_ERR_CORRUPT, "evidence: case key row is malformed");
        memcpy(pk, td_stmt_column_blob(q, 0), crypto_box_PUBLICKEYBYTES);
        td_stmt_reset(q);
        if (purged)
            return td__error_set(err, TD_ERR_CONFLICT,
                                 "evidence: case %s was purged; open a new case", a->case_ref);
        *retain = old > until ? old : until;
        if ((st = td_store_prepare(c,
                                   "UPDATE evidence_cases SET retain_until_ms = $2"
                                   " WHERE case_ref = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, *retain, err)))
            return st;
        return td_stmt_run(q, NULL, err);
    }
    master m;
    uint8_t wrapped[WRAPPED_LEN];
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!sk)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    if ((st = load_master(c, &m, err))) {
        sodium_free(sk);
        return st;
    }
    crypto_box_keypair(pk, sk);
    int bad = crypto_box_seal(wrapped, sk, crypto_box_SECRETKEYBYTES, m.pk) != 0;
    sodium_free(sk);
    if (bad)
        return td__error_set(err, TD_ERR_INTERNAL, "evidence: sealing the case key failed");
    *retain = until;
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_cases (case_ref, public_key, wrapped_secret,"
                               " created_ms, retain_until_ms, hold, purged_ms)"
                               " VALUES ($1, $2, $3, $4, $5, 0, 0)",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_bind_blob(q, 2, pk, crypto_box_PUBLICKEYBYTES, err)) ||
        (st = td_stmt_bind_blob(q, 3, wrapped, sizeof wrapped, err)) ||
        (st = td_stmt_bind_int64(q, 4, now_ms(ev), err)) ||
        (st = td_stmt_bind_int64(q, 5, until, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

static td_status seal_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    seal_args *a = arg;
    uint8_t case_pk[crypto_box_PUBLICKEYBYTES], wrapped[WRAPPED_LEN], digest[32];
    char hex[65], bind[MAX_REF + 64];
    int64_t retain = 0, t = now_ms(ev);
    td_stmt *q;
    int row;
    td_status st = case_for_seal(ev, c, a, case_pk, &retain, err);
    if (st)
        return st;
    uint8_t *key = sodium_malloc(TD__ITEM_KEY_LEN);
    if (!key)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    crypto_secretstream_xchacha20poly1305_keygen(key);
    if (crypto_box_seal(wrapped, key, TD__ITEM_KEY_LEN, case_pk) != 0) {
        sodium_free(key);
        return td__error_set(err, TD_ERR_INTERNAL, "evidence: sealing the item key failed");
    }
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_items (case_ref, label, file, bytes,"
                               " wrapped_key, sealed_ms, removal_ms)"
                               " VALUES ($1, $2, '', $3, $4, $5, $6) RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 2, a->label, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, (int64_t)a->len, err)) ||
        (st = td_stmt_bind_blob(q, 4, wrapped, sizeof wrapped, err)) ||
        (st = td_stmt_bind_int64(q, 5, t, err)) ||
        (st = td_stmt_bind_int64(q, 6, a->removal_ms, err)) || (st = td_stmt_step(q, &row, err))) {
        sodium_free(key);
        return st;
    }
    a->item_id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    crypto_hash_sha256(digest, a->content ? a->content : (const uint8_t *)"", a->len);
    td__hex(digest, 32, hex);
    char *meta =
        dump(json_pack("{s:s,s:I,s:s,s:I,s:I,s:I,s:s,s:s}", "case", a->case_ref, "item",
                       (json_int_t)a->item_id, "label", a->label, "sealed_ms", (json_int_t)t,
                       "removal_ms", (json_int_t)a->removal_ms, "content_bytes", (json_int_t)a->len,
                       "content_sha256", hex, "related", a->related ? a->related : ""));
    if (!meta) {
        sodium_free(key);
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    }
    item_path(ev, a->item_id, a->path, sizeof a->path);
    item_bind(a->case_ref, a->item_id, bind, sizeof bind);
    st = td__sealed_write(a->path, key, bind, meta, strlen(meta), a->content, a->len, err);
    sodium_memzero(meta, strlen(meta));
    td__free(meta);
    sodium_free(key);
    if (st)
        return st;
    a->wrote = 1;
    const char *file = strrchr(a->path, '/') + 1;
    if ((st = td_store_prepare(c, "UPDATE evidence_items SET file = $2 WHERE id = $1", &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->item_id, err)) ||
        (st = td_stmt_bind_text(q, 2, file, (size_t)-1, err)) || (st = td_stmt_run(q, NULL, err)))
        return st;
    char *details =
        dump(json_pack("{s:I,s:s,s:I,s:s,s:I,s:I}", "item", (json_int_t)a->item_id, "label",
                       a->label, "bytes", (json_int_t)a->len, "sha256", hex, "removal_ms",
                       (json_int_t)a->removal_ms, "retain_until_ms", (json_int_t)retain));
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, "evidence.seal", a->case_ref, details, NULL, err);
    td__free(details);
    return st;
}

td_status td_evidence_seal(td_evidence *ev, const char *actor, const char *case_ref,
                           const char *label, const uint8_t *content, size_t len,
                           const char *related_json, int64_t removal_ms, int64_t *item_id,
                           td_error *err)
{
    td_status st;
    if ((st = check_text("case reference", case_ref, MAX_REF, err)) ||
        (st = check_text("label", label, MAX_REF, err)) ||
        (st = check_text("actor", actor, MAX_REF, err)))
        return st;
    if ((uint64_t)len > (uint64_t)ev->opts.max_item_bytes)
        return td__error_set(err, TD_ERR_LIMIT, "evidence: item of %zu bytes over the limit %lld",
                             len, (long long)ev->opts.max_item_bytes);
    if (len && !content)
        return td__error_set(err, TD_ERR_INVALID, "evidence: no content");
    seal_args a = {actor, case_ref, label, related_json, content, len, removal_ms, 0, "", 0};
    st = in_tx(ev, seal_body, &a, err);
    if (st && a.wrote)
        unlink(a.path); /* the rows rolled back: the file names nothing */
    if (st)
        td__error_prefix(err, "sealing into case %s: ", case_ref);
    else if (item_id)
        *item_id = a.item_id;
    return st;
}

/* ---- cases: info, extension, hold, purge ---- */

static td_status case_info(td_store_conn *c, const char *ref, td_evidence_case_info *out,
                           td_error *err)
{
    td_stmt *q;
    int row;
    memset(out, 0, sizeof *out);
    td_status st = td_store_prepare(c,
                                    "SELECT created_ms, retain_until_ms, hold, purged_ms,"
                                    " (SELECT COUNT(*) FROM evidence_items WHERE case_ref = $1)"
                                    " FROM evidence_cases WHERE case_ref = $1",
                                    &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, ref, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: no case %s", ref);
    out->created_ms = td_stmt_column_int64(q, 0);
    out->retain_until_ms = td_stmt_column_int64(q, 1);
    out->hold = (int)td_stmt_column_int64(q, 2);
    out->purged_ms = td_stmt_column_int64(q, 3);
    out->items = td_stmt_column_int64(q, 4);
    td_stmt_reset(q);
    return TD_OK;
}

td_status td_evidence_case(td_evidence *ev, const char *case_ref, td_evidence_case_info *out,
                           td_error *err)
{
    td_store_conn *c;
    memset(out, 0, sizeof *out);
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st)
        return st;
    st = case_info(c, case_ref, out, err);
    td_store_release(ev->store, c);
    return st;
}

typedef struct change_args {
    const char *actor, *case_ref, *reason;
    int64_t until_ms; /* extend */
    int hold;         /* -1: extend; 0/1: hold */
} change_args;

static td_status change_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    change_args *a = arg;
    td_evidence_case_info info = {0};
    td_stmt *q;
    td_status st = case_info(c, a->case_ref, &info, err);
    if (st)
        return st;
    if (info.purged_ms)
        return td__error_set(err, TD_ERR_CONFLICT, "evidence: case %s was purged", a->case_ref);
    char *details;
    const char *action;
    if (a->hold < 0) {
        int64_t until = a->until_ms > info.retain_until_ms ? a->until_ms : info.retain_until_ms;
        if ((st = td_store_prepare(c,
                                   "UPDATE evidence_cases SET retain_until_ms = $2"
                                   " WHERE case_ref = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, until, err)) || (st = td_stmt_run(q, NULL, err)))
            return st;
        action = "evidence.extend";
        details = dump(json_pack("{s:I,s:I,s:s}", "requested_until_ms", (json_int_t)a->until_ms,
                                 "retain_until_ms", (json_int_t)until, "reason", a->reason));
    } else {
        if ((st = td_store_prepare(c, "UPDATE evidence_cases SET hold = $2 WHERE case_ref = $1", &q,
                                   err)) ||
            (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, a->hold ? 1 : 0, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            return st;
        action = a->hold ? "evidence.hold" : "evidence.release_hold";
        details = dump(json_pack("{s:s}", "reason", a->reason));
    }
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, action, a->case_ref, details, NULL, err);
    td__free(details);
    return st;
}

static td_status change(td_evidence *ev, change_args *a, td_error *err)
{
    td_status st;
    if ((st = check_text("case reference", a->case_ref, MAX_REF, err)) ||
        (st = check_text("actor", a->actor, MAX_REF, err)) ||
        (st = check_text("reason", a->reason, MAX_TEXT, err)))
        return st;
    return in_tx(ev, change_body, a, err);
}

td_status td_evidence_extend(td_evidence *ev, const char *actor, const char *case_ref,
                             int64_t until_ms, const char *reason, td_error *err)
{
    change_args a = {actor, case_ref, reason, until_ms, -1};
    return change(ev, &a, err);
}

td_status td_evidence_hold(td_evidence *ev, const char *actor, const char *case_ref, int on,
                           const char *reason, td_error *err)
{
    change_args a = {actor, case_ref, reason, 0, on ? 1 : 0};
    return change(ev, &a, err);
}

#define PURGE_BATCH 64

typedef struct purge_args {
    const char *actor;
    int64_t now;
    size_t n_cases;
    char cases[PURGE_BATCH][MAX_REF + 1];
} purge_args;

static td_status purge_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    purge_args *a = arg;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c,
                                    "SELECT case_ref FROM evidence_cases WHERE purged_ms = 0"
                                    " AND hold = 0 AND retain_until_ms <= $1"
                                    " ORDER BY retain_until_ms LIMIT 64",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, a->now, err)))
        return st;
    a->n_cases = 0;
    while (a->n_cases < PURGE_BATCH) {
        if ((st = td_stmt_step(q, &row, err)))
            return st;
        if (!row)
            break;
        snprintf(a->cases[a->n_cases++], MAX_REF + 1, "%s", td_stmt_column_text(q, 0));
    }
    td_stmt_reset(q);
    for (size_t i = 0; i < a->n_cases; i++) {
        const char *ref = a->cases[i];
        int64_t items = 0;
        /* Overwrite, then drop: with secure_delete the old bytes do not linger in free space. */
        /* The zeros are bound ($2): zeroblob() is SQLite's alone. */
        static const unsigned char zeros[80];
        static const char *const sql[] = {
            "UPDATE evidence_cases SET wrapped_secret = $2 WHERE case_ref = $1",
            "UPDATE evidence_items SET wrapped_key = $2 WHERE case_ref = $1",
            "UPDATE evidence_items SET wrapped_key = NULL WHERE case_ref = $1",
        };
        for (size_t s = 0; s < sizeof sql / sizeof sql[0]; s++)
            if ((st = td_store_prepare(c, sql[s], &q, err)) ||
                (st = td_stmt_bind_text(q, 1, ref, (size_t)-1, err)) ||
                (s < 2 && (st = td_stmt_bind_blob(q, 2, zeros, sizeof zeros, err))) ||
                (st = td_stmt_run(q, s == 2 ? &items : NULL, err)))
                return st;
        if ((st = td_store_prepare(c,
                                   "UPDATE evidence_cases SET wrapped_secret = NULL,"
                                   " purged_ms = $2 WHERE case_ref = $1",
                                   &q, err)) ||
            (st = td_stmt_bind_text(q, 1, ref, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, a->now, err)) || (st = td_stmt_run(q, NULL, err)))
            return st;
        char *details = dump(json_pack("{s:I,s:s}", "items", (json_int_t)items, "reason",
                                       "retention ended: case key destroyed"));
        if (!details)
            return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
        st = td_audit_append_in(ev->log, c, a->actor, "evidence.purge", ref, details, NULL, err);
        td__free(details);
        if (st)
            return st;
    }
    return TD_OK;
}

/* Removes the files of a purged case (their keys are gone already). */
static td_status unlink_items(td_evidence *ev, const char *ref, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c, "SELECT id FROM evidence_items WHERE case_ref = $1", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, ref, (size_t)-1, err)))
        goto out;
    for (;;) {
        if ((st = td_stmt_step(q, &row, err)) || !row)
            break;
        char path[4096];
        item_path(ev, td_stmt_column_int64(q, 0), path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT) {
            st = td__error_set(err, TD_ERR_IO, "evidence: cannot delete %s: %s", path,
                               strerror(errno));
            break;
        }
    }
out:
    td_store_release(ev->store, c);
    return st;
}

static int is_sqlite(const td_evidence *ev)
{
    return strcmp(td_store_backend(ev->store), "sqlite") == 0;
}

td_status td_evidence_purge(td_evidence *ev, const char *actor, int64_t *purged, td_error *err)
{
    purge_args *a = td__calloc(1, sizeof *a);
    int64_t total = 0;
    td_status st = TD_OK;
    if (!a)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    a->actor = actor;
    a->now = now_ms(ev);
    do {
        if ((st = in_tx(ev, purge_body, a, err)))
            break;
        for (size_t i = 0; i < a->n_cases && st == TD_OK; i++)
            st = unlink_items(ev, a->cases[i], err);
        total += (int64_t)a->n_cases;
    } while (st == TD_OK && a->n_cases == PURGE_BATCH);
    if (total && is_sqlite(ev)) {
        /* Push the overwritten pages out of the WAL into the database file. */
        td_store_conn *c;
        if (td_store_acquire(ev->store, 1, &c, NULL) == TD_OK) {
            if (td_store_exec(c, "PRAGMA wal_checkpoint(TRUNCATE)", NULL) != TD_OK) {
                /* Readers hold the WAL; the next checkpoint will do it. */
            }
            td_store_release(ev->store, c);
        }
    }
    td__free(a);
    if (purged)
        *purged = total;
    return st;
}

/* ---- release requests ---- */

typedef struct request_args {
    const char *requester, *legal_basis, *purpose, *case_ref;
    const int64_t *items;
    size_t n_items;
    int64_t id;
} request_args;

static td_status request_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    request_args *a = arg;
    td_evidence_case_info info = {0};
    td_stmt *q;
    int row;
    td_status st = case_info(c, a->case_ref, &info, err);
    if (st)
        return st;
    if (info.purged_ms)
        return td__error_set(err, TD_ERR_NOT_FOUND,
                             "evidence: case %s was purged; nothing can be released", a->case_ref);
    json_t *items = json_array();
    char list[MAX_REQUEST_ITEMS * 21 + 1];
    size_t off = 0;
    list[0] = '\0';
    for (size_t i = 0; i < a->n_items; i++) {
        if ((st = td_store_prepare(
                 c, "SELECT 1 FROM evidence_items WHERE id = $1 AND case_ref = $2", &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, a->items[i], err)) ||
            (st = td_stmt_bind_text(q, 2, a->case_ref, (size_t)-1, err)) ||
            (st = td_stmt_step(q, &row, err))) {
            json_decref(items);
            return st;
        }
        td_stmt_reset(q);
        if (!row) {
            json_decref(items);
            return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: case %s has no item %lld",
                                 a->case_ref, (long long)a->items[i]);
        }
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%lld", i ? "," : "",
                                (long long)a->items[i]);
        json_array_append_new(items, json_integer(a->items[i]));
    }
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_requests (requester, legal_basis, purpose,"
                               " case_ref, items, state, created_ms, released_ms)"
                               " VALUES ($1, $2, $3, $4, $5, 0, $6, 0) RETURNING id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->requester, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 2, a->legal_basis, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 3, a->purpose, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 4, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 5, list, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 6, now_ms(ev), err)) || (st = td_stmt_step(q, &row, err))) {
        json_decref(items);
        return st;
    }
    a->id = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    char *details = dump(json_pack("{s:I,s:s,s:s,s:o}", "request", (json_int_t)a->id, "legal_basis",
                                   a->legal_basis, "purpose", a->purpose, "items", items));
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->requester, "evidence.request", a->case_ref, details,
                            NULL, err);
    td__free(details);
    return st;
}

td_status td_evidence_request(td_evidence *ev, const char *requester, const char *legal_basis,
                              const char *purpose, const char *case_ref, const int64_t *item_ids,
                              size_t n_items, int64_t *request_id, td_error *err)
{
    td_status st;
    if ((st = check_text("requester", requester, MAX_REF, err)) ||
        (st = check_text("legal basis", legal_basis, MAX_TEXT, err)) ||
        (st = check_text("purpose", purpose, MAX_TEXT, err)) ||
        (st = check_text("case reference", case_ref, MAX_REF, err)))
        return st;
    if (n_items > MAX_REQUEST_ITEMS)
        return td__error_set(err, TD_ERR_LIMIT, "evidence: more than %d items in one request",
                             MAX_REQUEST_ITEMS);
    request_args a = {requester, legal_basis, purpose, case_ref, item_ids, n_items, 0};
    st = in_tx(ev, request_body, &a, err);
    if (st == TD_OK && request_id)
        *request_id = a.id;
    return st;
}

/* ---- approvals ---- */

typedef struct approve_args {
    int64_t request_id;
    const char *custodian;
    const td_share *share;
    master m;
} approve_args;

static td_status request_state(td_store_conn *c, int64_t id, int *state, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st =
        td_store_prepare(c, "SELECT state FROM evidence_requests WHERE id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: no release request %lld",
                             (long long)id);
    *state = (int)td_stmt_column_int64(q, 0);
    td_stmt_reset(q);
    return TD_OK;
}

static td_status approve_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    approve_args *a = arg;
    td_stmt *q;
    int row, state = -1;
    td_status st;
    if ((st = load_master(c, &a->m, err)) || (st = request_state(c, a->request_id, &state, err)))
        return st;
    if (state != REQ_OPEN)
        return td__error_set(err, TD_ERR_CONFLICT, "evidence: request %lld is closed",
                             (long long)a->request_id);
    if ((st = td_store_prepare(c, "SELECT x, commitment FROM evidence_custodians WHERE name = $1",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->custodian, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "evidence: no custodian named %s",
                             a->custodian);
    int64_t x = td_stmt_column_int64(q, 0);
    uint8_t want[32], got[32];
    int com_ok = td_stmt_column_bytes(q, 1) == 32;
    if (com_ok)
        memcpy(want, td_stmt_column_blob(q, 1), 32);
    td_stmt_reset(q);
    if (memcmp(a->share->set_id, a->m.set_id, TD_SHARE_SET_ID_LEN) != 0 || a->share->k != a->m.k)
        return td__error_set(err, TD_ERR_INVALID,
                             "evidence: the share belongs to another master key");
    if (a->share->x != x)
        return td__error_set(err, TD_ERR_INVALID, "evidence: this is not %s's share", a->custodian);
    td_share_commitment(a->share, got);
    if (!com_ok || sodium_memcmp(want, got, 32) != 0)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "evidence: %s's share does not match its commitment", a->custodian);
    int64_t changes = 0;
    if ((st = td_store_prepare(c,
                               "INSERT INTO evidence_approvals (request_id, custodian,"
                               " approved_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, a->request_id, err)) ||
        (st = td_stmt_bind_text(q, 2, a->custodian, (size_t)-1, err)) ||
        (st = td_stmt_bind_int64(q, 3, now_ms(ev), err)) || (st = td_stmt_run(q, &changes, err)))
        return st;
    char *details = dump(
        json_pack("{s:I,s:b}", "request", (json_int_t)a->request_id, "resubmitted", changes == 0));
    char object[48];
    snprintf(object, sizeof object, "request/%lld", (long long)a->request_id);
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->custodian, "evidence.approve", object, details, NULL,
                            err);
    td__free(details);
    return st;
}

static pending *pending_find(td_evidence *ev, int64_t request_id)
{
    for (size_t i = 0; i < ev->n_pend; i++)
        if (ev->pend[i].request_id == request_id)
            return &ev->pend[i];
    return NULL;
}

td_status td_evidence_approve(td_evidence *ev, int64_t request_id, const char *custodian,
                              const char *share_text, unsigned *have, unsigned *need, td_error *err)
{
    td_status st;
    if ((st = check_text("custodian", custodian, MAX_NAME, err)))
        return st;
    if (!share_text)
        return td__error_set(err, TD_ERR_INVALID, "evidence: no share");
    td_share *share = sodium_malloc(sizeof *share);
    if (!share)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    approve_args a = {request_id, custodian, share, {{0}, 0, 0, {0}}};
    if ((st = td_share_parse(share_text, strlen(share_text), share, err)) ||
        (st = in_tx(ev, approve_body, &a, err))) {
        sodium_free(share);
        return st;
    }
    pthread_mutex_lock(&ev->lock);
    pending *p = pending_find(ev, request_id);
    if (!p && ev->n_pend < MAX_PENDING) {
        td_share *arr = sodium_allocarray(TD_SHAMIR_MAX_SHARES, sizeof *arr);
        if (arr) {
            p = &ev->pend[ev->n_pend++];
            p->request_id = request_id;
            p->count = 0;
            p->shares = arr;
        }
    }
    if (!p) {
        pthread_mutex_unlock(&ev->lock);
        sodium_free(share);
        return td__error_set(err, TD_ERR_LIMIT,
                             "evidence: too many requests awaiting release in this process");
    }
    int dup = 0;
    for (unsigned i = 0; i < p->count; i++)
        dup |= p->shares[i].x == share->x;
    if (!dup && p->count < TD_SHAMIR_MAX_SHARES)
        p->shares[p->count++] = *share;
    if (have)
        *have = p->count;
    if (need)
        *need = a.m.k;
    pthread_mutex_unlock(&ev->lock);
    sodium_free(share);
    return TD_OK;
}

/* ---- release ---- */

typedef struct release_args {
    int64_t request_id;
    const char *actor;
    char case_ref[MAX_REF + 1];
    char items[MAX_REQUEST_ITEMS * 21 + 1];
    char legal_basis[MAX_TEXT + 1];
} release_args;

static int item_wanted(const char *list, int64_t id);

/* The ids of the items a release will decrypt (those of the case the request names), for its
 * audit entry: the log says which sealed items were read, not only that some were. */
static td_status release_item_ids(td_store_conn *c, const release_args *a, json_t *ids,
                                  td_error *err)
{
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(
        c, "SELECT id FROM evidence_items WHERE case_ref = $1 ORDER BY id", &q, err);
    if (st || (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        int64_t id = td_stmt_column_int64(q, 0);
        if (item_wanted(a->items, id))
            json_array_append_new(ids, json_integer(id));
    }
    return st;
}

static td_status release_body(td_evidence *ev, td_store_conn *c, void *arg, td_error *err)
{
    release_args *a = arg;
    td_stmt *q;
    int row;
    (void)ev;
    td_status st = td_store_prepare(c,
                                    "UPDATE evidence_requests SET state = 1, released_ms = $2"
                                    " WHERE id = $1 AND state = 0"
                                    " RETURNING case_ref, items, legal_basis",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, a->request_id, err)) ||
        (st = td_stmt_bind_int64(q, 2, now_ms(ev), err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_CONFLICT, "evidence: request %lld is not open",
                             (long long)a->request_id);
    snprintf(a->case_ref, sizeof a->case_ref, "%s", td_stmt_column_text(q, 0));
    snprintf(a->items, sizeof a->items, "%s", td_stmt_column_text(q, 1));
    snprintf(a->legal_basis, sizeof a->legal_basis, "%s", td_stmt_column_text(q, 2));
    td_stmt_reset(q);
    json_t *ids = json_array();
    if (!ids)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    if ((st = release_item_ids(c, a, ids, err))) {
        json_decref(ids);
        return st;
    }
    char *details = dump(json_pack("{s:I,s:s,s:o,s:s}", "request", (json_int_t)a->request_id,
                                   "items", a->items[0] ? a->items : "all", "item_ids", ids,
                                   "legal_basis", a->legal_basis));
    if (!details)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    st = td_audit_append_in(ev->log, c, a->actor, "evidence.release", a->case_ref, details, NULL,
                            err);
    td__free(details);
    return st;
}

static int item_wanted(const char *list, int64_t id)
{
    if (!*list)
        return 1;
    for (const char *p = list; *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            return 0;
        if (v == id)
            return 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* Decrypts one item with the case secret key and hands it to fn. */
static td_status deliver(td_evidence *ev, const release_args *a, int64_t id, const uint8_t *wrapped,
                         size_t wrapped_len, const uint8_t *case_pk, const uint8_t *case_sk,
                         td_evidence_release_fn fn, void *ctx, td_error *err)
{
    char path[4096], bind[MAX_REF + 64];
    char *meta = NULL;
    uint8_t *content = NULL, digest[32], want[32];
    size_t meta_len = 0, len = 0;
    td_status st = TD_OK;
    uint8_t *key = sodium_malloc(TD__ITEM_KEY_LEN);
    if (!key)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    if (wrapped_len != WRAPPED_LEN ||
        crypto_box_seal_open(key, wrapped, wrapped_len, case_pk, case_sk) != 0) {
        sodium_free(key);
        return td__error_set(err, TD_ERR_CORRUPT, "evidence: item %lld: its key does not open",
                             (long long)id);
    }
    item_path(ev, id, path, sizeof path);
    item_bind(a->case_ref, id, bind, sizeof bind);
    st = td__sealed_read(path, key, bind, (uint64_t)ev->opts.max_item_bytes, &meta, &meta_len,
                         &content, &len, err);
    sodium_free(key);
    if (st)
        return st;
    json_error_t jerr;
    json_t *m = json_loadb(meta, meta_len, 0, &jerr);
    const char *label = json_string_value(json_object_get(m, "label"));
    const char *related = json_string_value(json_object_get(m, "related"));
    const char *sum = json_string_value(json_object_get(m, "content_sha256"));
    crypto_hash_sha256(digest, content ? content : (const uint8_t *)"", len);
    if (!label || !related || !sum || td__unhex(sum, strlen(sum), want, 32) ||
        sodium_memcmp(digest, want, 32) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "evidence: item %lld: content digest mismatch",
                           (long long)id);
    } else if (fn && fn(ctx, id, label, related, content, len) != 0) {
        st = td__error_set(err, TD_ERR_INTERNAL, "evidence: release stopped by the receiver");
    }
    json_decref(m); /* the metadata copy jansson holds: see docs/evidence.md */
    sodium_free(meta);
    sodium_free(content);
    return st;
}

static td_status release_items(td_evidence *ev, const release_args *a, const uint8_t *master_pk,
                               const uint8_t *master_sk, td_evidence_release_fn fn, void *ctx,
                               td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    uint8_t case_pk[crypto_box_PUBLICKEYBYTES];
    uint8_t *case_sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!case_sk)
        return td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st) {
        sodium_free(case_sk);
        return st;
    }
    if ((st = td_store_prepare(c,
                               "SELECT public_key, wrapped_secret FROM evidence_cases"
                               " WHERE case_ref = $1 AND purged_ms = 0",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        goto out;
    if (!row) {
        st =
            td__error_set(err, TD_ERR_NOT_FOUND, "evidence: case %s is gone (purged)", a->case_ref);
        goto out;
    }
    if (td_stmt_column_bytes(q, 0) != sizeof case_pk || td_stmt_column_bytes(q, 1) != WRAPPED_LEN ||
        crypto_box_seal_open(case_sk, td_stmt_column_blob(q, 1), WRAPPED_LEN, master_pk,
                             master_sk) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT, "evidence: case %s: its key does not open",
                           a->case_ref);
        goto out;
    }
    memcpy(case_pk, td_stmt_column_blob(q, 0), sizeof case_pk);
    td_stmt_reset(q);
    if ((st = td_store_prepare(c,
                               "SELECT id, wrapped_key FROM evidence_items WHERE case_ref = $1"
                               " ORDER BY id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->case_ref, (size_t)-1, err)))
        goto out;
    for (;;) {
        if ((st = td_stmt_step(q, &row, err)) || !row)
            break;
        int64_t id = td_stmt_column_int64(q, 0);
        if (!item_wanted(a->items, id))
            continue;
        if ((st = deliver(ev, a, id, td_stmt_column_blob(q, 1), td_stmt_column_bytes(q, 1), case_pk,
                          case_sk, fn, ctx, err)))
            break;
    }
out:
    td_store_release(ev->store, c);
    sodium_free(case_sk);
    return st;
}

td_status td_evidence_release(td_evidence *ev, int64_t request_id, const char *actor,
                              td_evidence_release_fn fn, void *ctx, td_error *err)
{
    td_status st;
    master m;
    td_store_conn *c;
    td_share *shares = NULL;
    unsigned count = 0;
    if ((st = check_text("actor", actor, MAX_REF, err)))
        return st;
    if ((st = td_store_acquire(ev->store, 0, &c, err)))
        return st;
    st = load_master(c, &m, err);
    td_store_release(ev->store, c);
    if (st)
        return st;
    /* Take the shares held for this request out of the table, so they are wiped whatever
     * happens next. */
    pthread_mutex_lock(&ev->lock);
    pending *p = pending_find(ev, request_id);
    if (p && p->count >= m.k) {
        shares = p->shares;
        count = p->count;
        p->shares = NULL;
        pending_drop(ev, (size_t)(p - ev->pend));
    } else {
        count = p ? p->count : 0;
    }
    pthread_mutex_unlock(&ev->lock);
    if (!shares)
        return td__error_set(err, TD_ERR_CONFLICT,
                             "evidence: request %lld has %u of the %u custodian approvals needed",
                             (long long)request_id, count, m.k);
    uint8_t *seed = sodium_malloc(crypto_box_SEEDBYTES);
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
    release_args *a = td__calloc(1, sizeof *a);
    if (!seed || !sk || !a) {
        st = td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
        goto out;
    }
    a->request_id = request_id;
    a->actor = actor;
    if ((st = td_shamir_combine(shares, count, seed, err)))
        goto out;
    crypto_box_seed_keypair(pk, sk, seed);
    sodium_free(seed);
    seed = NULL;
    if (sodium_memcmp(pk, m.pk, sizeof pk) != 0) {
        st = td__error_set(err, TD_ERR_CORRUPT,
                           "evidence: the shares do not rebuild the master key");
        goto out;
    }
    /* Logged (and the request closed) before any plaintext exists. */
    if ((st = in_tx(ev, release_body, a, err)))
        goto out;
    st = release_items(ev, a, pk, sk, fn, ctx, err);
    if (st) {
        char *details = dump(json_pack("{s:I,s:s}", "request", (json_int_t)request_id, "error",
                                       err ? err->message : td_strerror(st)));
        /* Best effort: the release itself is on the log already. */
        if (details && td_audit_append(ev->log, actor, "evidence.release_failed", a->case_ref,
                                       details, NULL, NULL) != TD_OK)
            td__error_prefix(err, "(not logged) ");
        td__free(details);
    }
out:
    sodium_free(seed);
    sodium_free(sk);
    sodium_free(shares);
    td__free(a);
    return st;
}

/* ---- reading: metadata only ---- */

/* One integer from a query with at most one text parameter (NULL: none). */
static td_status scalar(td_store_conn *c, const char *sql, const char *param, int64_t *out,
                        td_error *err)
{
    td_stmt *q;
    int row = 0;
    td_status st = td_store_prepare(c, sql, &q, err);
    if (st || (param && (st = td_stmt_bind_text(q, 1, param, (size_t)-1, err))) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    *out = row ? td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

td_status td_evidence_get_status(td_evidence *ev, td_evidence_status *out, td_error *err)
{
    td_store_conn *c;
    master m;
    int64_t created = 0;
    memset(out, 0, sizeof *out);
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st)
        return st;
    st = load_master(c, &m, err);
    if (st == TD_OK) {
        out->has_master = 1;
        out->k = m.k;
        out->n = m.n;
        st = scalar(c, "SELECT created_ms FROM evidence_master WHERE id = 1", NULL, &created, err);
        out->master_created_ms = created;
    } else if (st == TD_ERR_NOT_FOUND) {
        st = TD_OK;
    }
    if (st == TD_OK)
        st = scalar(c, "SELECT COUNT(*) FROM evidence_cases WHERE purged_ms = 0", NULL, &out->cases,
                    err);
    if (st == TD_OK)
        st = scalar(c, "SELECT COUNT(*) FROM evidence_cases WHERE purged_ms = 0 AND hold <> 0",
                    NULL, &out->cases_held, err);
    if (st == TD_OK)
        st = scalar(c, "SELECT COUNT(*) FROM evidence_cases WHERE purged_ms <> 0", NULL,
                    &out->cases_purged, err);
    if (st == TD_OK)
        st = scalar(c,
                    "SELECT COUNT(*) FROM evidence_items i JOIN evidence_cases c"
                    " ON c.case_ref = i.case_ref WHERE c.purged_ms = 0",
                    NULL, &out->items, err);
    if (st == TD_OK)
        st = scalar(c, "SELECT COUNT(*) FROM evidence_requests WHERE state = 0", NULL,
                    &out->requests_open, err);
    td_store_release(ev->store, c);
    return st;
}

static void custodian_item(td_stmt *q, void *item)
{
    td_evidence_custodian *k = item;
    k->x = (unsigned)td_stmt_column_int64(q, 0);
    snprintf(k->name, sizeof k->name, "%s", td_stmt_column_text(q, 1));
}

td_status td_evidence_custodians(td_evidence *ev, td_evidence_custodian **out, size_t *count,
                                 td_error *err)
{
    /* at most TD_SHAMIR_MAX_SHARES rows: one per share, written by the key ceremony */
    return td_store_read_rows(ev->store, "SELECT x, name FROM evidence_custodians ORDER BY x", NULL,
                              0, sizeof **out, custodian_item, (void **)out, count, err);
}

static void case_item(td_stmt *q, void *item)
{
    td_evidence_case_summary *s = item;
    snprintf(s->case_ref, sizeof s->case_ref, "%s", td_stmt_column_text(q, 0));
    s->info.created_ms = td_stmt_column_int64(q, 1);
    s->info.retain_until_ms = td_stmt_column_int64(q, 2);
    s->info.hold = (int)td_stmt_column_int64(q, 3);
    s->info.purged_ms = td_stmt_column_int64(q, 4);
    s->info.items = td_stmt_column_int64(q, 5);
}

td_status td_evidence_case_list(td_evidence *ev, size_t limit, size_t offset,
                                td_evidence_case_summary **out, size_t *count, td_error *err)
{
    *out = NULL;
    *count = 0;
    if (limit == 0)
        limit = 100;
    if (limit > 1000 || offset > (size_t)INT64_MAX)
        return td__error_set(err, TD_ERR_INVALID, "evidence: at most 1000 cases per page");
    const int64_t binds[2] = {(int64_t)limit, (int64_t)offset};
    return td_store_read_rows(ev->store,
                              "SELECT case_ref, created_ms, retain_until_ms, hold, purged_ms,"
                              " (SELECT COUNT(*) FROM evidence_items i"
                              "  WHERE i.case_ref = evidence_cases.case_ref)"
                              " FROM evidence_cases ORDER BY created_ms DESC, case_ref"
                              " LIMIT $1 OFFSET $2",
                              binds, 2, sizeof **out, case_item, (void **)out, count, err);
}

td_status td_evidence_item_list(td_evidence *ev, const char *case_ref, td_evidence_item_info **out,
                                size_t *count, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    size_t n = 0, cap = 0;
    td_evidence_item_info *list = NULL;
    td_evidence_case_info info;
    *out = NULL;
    *count = 0;
    td_status st = check_text("case reference", case_ref, MAX_REF, err);
    if (st || (st = td_store_acquire(ev->store, 0, &c, err)))
        return st;
    if ((st = case_info(c, case_ref, &info, err)) ||
        (st = td_store_prepare(c,
                               "SELECT id, label, bytes, sealed_ms, removal_ms,"
                               " wrapped_key IS NULL FROM evidence_items WHERE case_ref = $1"
                               " ORDER BY id",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, case_ref, (size_t)-1, err)))
        goto out;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            td_evidence_item_info *nl = td__mallocarray(ncap, sizeof *nl);
            if (!nl) {
                st = td__error_set(err, TD_ERR_NOMEM, "evidence: out of memory");
                td_stmt_reset(q);
                break;
            }
            if (n)
                memcpy(nl, list, n * sizeof *nl);
            td__free(list);
            list = nl;
            cap = ncap;
        }
        td_evidence_item_info *it = &list[n++];
        it->id = td_stmt_column_int64(q, 0);
        snprintf(it->label, sizeof it->label, "%s", td_stmt_column_text(q, 1));
        it->bytes = td_stmt_column_int64(q, 2);
        it->sealed_ms = td_stmt_column_int64(q, 3);
        it->removal_ms = td_stmt_column_int64(q, 4);
        it->destroyed = (int)td_stmt_column_int64(q, 5);
    }
    if (st == TD_OK)
        td_stmt_reset(q);
out:
    td_store_release(ev->store, c);
    if (st) {
        td__free(list);
        return st;
    }
    *out = list;
    *count = n;
    return TD_OK;
}

td_status td_evidence_request_get(td_evidence *ev, int64_t request_id,
                                  td_evidence_request_info *out, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row = 0;
    master m;
    int64_t approvals = 0;
    memset(out, 0, sizeof *out);
    td_status st = td_store_acquire(ev->store, 0, &c, err);
    if (st)
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT requester, legal_basis, purpose, case_ref, state,"
                               " created_ms, released_ms,"
                               " (SELECT COUNT(*) FROM evidence_approvals a"
                               "  WHERE a.request_id = evidence_requests.id)"
                               " FROM evidence_requests WHERE id = $1",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, request_id, err)) || (st = td_stmt_step(q, &row, err)))
        goto out;
    if (!row) {
        st = td__error_set(err, TD_ERR_NOT_FOUND, "evidence: no release request %lld",
                           (long long)request_id);
        goto out;
    }
    out->id = request_id;
    snprintf(out->requester, sizeof out->requester, "%s", td_stmt_column_text(q, 0));
    snprintf(out->legal_basis, sizeof out->legal_basis, "%s", td_stmt_column_text(q, 1));
    snprintf(out->purpose, sizeof out->purpose, "%s", td_stmt_column_text(q, 2));
    snprintf(out->case_ref, sizeof out->case_ref, "%s", td_stmt_column_text(q, 3));
    out->released = td_stmt_column_int64(q, 4) != REQ_OPEN;
    out->created_ms = td_stmt_column_int64(q, 5);
    out->released_ms = td_stmt_column_int64(q, 6);
    approvals = td_stmt_column_int64(q, 7);
    td_stmt_reset(q);
    out->approvals = approvals > 0 ? (unsigned)approvals : 0;
    st = load_master(c, &m, err);
    if (st == TD_OK)
        out->need = m.k;
    else if (st == TD_ERR_NOT_FOUND)
        st = TD_OK;
out:
    td_store_release(ev->store, c);
    if (st == TD_OK) {
        pthread_mutex_lock(&ev->lock);
        pending *p = pending_find(ev, request_id);
        out->held = p ? p->count : 0;
        pthread_mutex_unlock(&ev->lock);
    }
    return st;
}
