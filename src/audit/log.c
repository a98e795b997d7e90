/* The audit log in the store: entries, the perfect-subtree hashes of the Merkle tree, and signed
 * checkpoints (tables audit_entries, audit_nodes, audit_checkpoints).
 *
 * Why store perfect subtrees: every node of an append-only RFC 9162 tree that will never change
 * is the root of a perfect (power-of-two, aligned) subtree. Appending leaf i completes at most
 * log2(i) of them, each from its left sibling (already stored) and the new right one, so an
 * append costs O(log n) reads and writes; any root or proof needs O(log^2 n) node reads, since
 * every subtree the RFC's recursion visits decomposes into aligned perfect ones. Leaves
 * (level 0) are kept beside their entries. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"
#include "audit/key.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "takedown/config.h"

struct td_audit {
    td_store *store;
    td_audit_options opts;
    uint8_t *sk; /* sodium_malloc'd, read-only between uses */
    uint8_t pk[TD_AUDIT_PUBKEY_LEN];
};

static const char schema_v1[] =
    "CREATE TABLE audit_entries ("
    " seq INTEGER PRIMARY KEY, time_ms BIGINT NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, object TEXT NOT NULL, details TEXT NOT NULL, leaf BLOB NOT NULL);"
    "CREATE INDEX audit_entries_object ON audit_entries (object);"
    "CREATE TABLE audit_nodes ("
    " level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BLOB NOT NULL,"
    " PRIMARY KEY (level, idx));"
    "CREATE TABLE audit_checkpoints ("
    " id INTEGER PRIMARY KEY, size BIGINT NOT NULL, time_ms BIGINT NOT NULL,"
    " root BLOB NOT NULL, signature BLOB NOT NULL);"
    "CREATE INDEX audit_checkpoints_size ON audit_checkpoints (size);";

static const td_store_migration migrations[] = {
    {1, "audit log", schema_v1, NULL},
};

void td_audit_options_default(td_audit_options *o)
{
    memset(o, 0, sizeof *o);
    o->checkpoint_entries = 1000;
    o->checkpoint_interval_ms = 60000;
}

td_status td_audit_options_from_config(td_audit_options *o, const td_config *cfg, td_error *err)
{
    int64_t v;
    td_status st;
    td_audit_options_default(o);
    if ((st = td_config_int(cfg, "audit_checkpoint_entries", &v, err)))
        return st;
    o->checkpoint_entries = v;
    if ((st = td_config_int(cfg, "audit_checkpoint_interval_ms", &v, err)))
        return st;
    o->checkpoint_interval_ms = v;
    return TD_OK;
}

static int64_t now_ms(const td_audit *log) { return td_clock_now(&log->opts.clock); }

td_status td_audit_open(td_store *store, const char *key_dir, const td_audit_options *opts,
                        td_audit **out, td_error *err)
{
    *out = NULL;
    td_status st = td__sodium_ready(err);
    if (st)
        return st;
    if (!store || !key_dir || !*key_dir)
        return td__error_set(err, TD_ERR_INVALID, "audit: store and key directory needed");
    td_audit *log = td__calloc(1, sizeof *log);
    if (!log)
        return td__error_set(err, TD_ERR_NOMEM, "audit: out of memory");
    log->store = store;
    if (opts)
        log->opts = *opts;
    else
        td_audit_options_default(&log->opts);
    log->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!log->sk) {
        td__free(log);
        return td__error_set(err, TD_ERR_NOMEM, "audit: out of memory");
    }
    if ((st = td__audit_key_load(key_dir, log->sk, log->pk, err)) ||
        (st = td_store_migrate_component(store, "audit", migrations,
                                         sizeof migrations / sizeof migrations[0], err))) {
        td_audit_close(log);
        return st;
    }
    sodium_mprotect_noaccess(log->sk);
    *out = log;
    return TD_OK;
}

void td_audit_close(td_audit *log)
{
    if (!log)
        return;
    sodium_free(log->sk); /* wipes */
    td__free(log);
}

void td_audit_public_key(const td_audit *log, uint8_t pub[TD_AUDIT_PUBKEY_LEN])
{
    memcpy(pub, log->pk, TD_AUDIT_PUBKEY_LEN);
}

void td_audit_entry_clear(td_audit_entry *e)
{
    if (!e)
        return;
    td__free(e->actor);
    td__free(e->action);
    td__free(e->object);
    td__free(e->details);
    memset(e, 0, sizeof *e);
}

/* ---- reading the tree ---- */

static td_status count_entries(td_store_conn *c, uint64_t *size, td_error *err)
{
    td_stmt *q;
    int row;
    td_status st =
        td_store_prepare(c, "SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries", &q, err);
    if (st || (st = td_stmt_step(q, &row, err)))
        return st;
    *size = row ? (uint64_t)td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    return TD_OK;
}

static td_status read_hash(td_stmt *q, int col, uint8_t out[TD_AUDIT_HASH_LEN], const char *what,
                           td_error *err)
{
    if (td_stmt_column_bytes(q, col) != TD_AUDIT_HASH_LEN)
        return td__error_set(err, TD_ERR_CORRUPT, "audit: stored %s is not a 32-byte hash", what);
    memcpy(out, td_stmt_column_blob(q, col), TD_AUDIT_HASH_LEN);
    return TD_OK;
}

/* The stored hash of the perfect subtree at (level, index). */
static td_status get_node(td_store_conn *c, int level, uint64_t index,
                          uint8_t out[TD_AUDIT_HASH_LEN], td_error *err)
{
    td_stmt *q;
    int row;
    td_status st;
    if (level == 0)
        st = td_store_prepare(c, "SELECT leaf FROM audit_entries WHERE seq = $1", &q, err);
    else
        st = td_store_prepare(c, "SELECT hash FROM audit_nodes WHERE level = $2 AND idx = $1", &q,
                              err);
    if (st || (st = td_stmt_bind_int64(q, 1, (int64_t)index, err)) ||
        (level && (st = td_stmt_bind_int64(q, 2, level, err))) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_CORRUPT, "audit: tree node (%d, %llu) is missing", level,
                             (unsigned long long)index);
    st = read_hash(q, 0, out, "tree node", err);
    td_stmt_reset(q);
    return st;
}

static int ilog2(uint64_t n) { return 63 - __builtin_clzll(n); }

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n) { return (uint64_t)1 << ilog2(n - 1); }

/* MTH(D[start : start + n]) for the ranges the RFC recursion visits (n >= 1). */
static td_status mth(td_store_conn *c, uint64_t start, uint64_t n, uint8_t out[TD_AUDIT_HASH_LEN],
                     td_error *err)
{
    if ((n & (n - 1)) == 0) {
        int level = ilog2(n);
        if (start & (n - 1))
            return td__error_set(err, TD_ERR_INTERNAL, "audit: unaligned subtree");
        return get_node(c, level, start >> level, out, err);
    }
    uint64_t k = split_point(n);
    uint8_t l[TD_AUDIT_HASH_LEN], r[TD_AUDIT_HASH_LEN];
    td_status st = mth(c, start, k, l, err);
    if (st || (st = mth(c, start + k, n - k, r, err)))
        return st;
    td_audit_node_hash(l, r, out);
    return TD_OK;
}

static td_status root_of(td_store_conn *c, uint64_t size, uint8_t out[TD_AUDIT_HASH_LEN],
                         td_error *err)
{
    if (size == 0) {
        crypto_hash_sha256(out, (const unsigned char *)"", 0);
        return TD_OK;
    }
    return mth(c, 0, size, out, err);
}

/* ---- appending ---- */

static td_status sign_checkpoint(td_audit *log, td_audit_checkpoint *cp)
{
    uint8_t msg[TD__CHECKPOINT_MSG_LEN];
    td__checkpoint_message(cp, msg);
    sodium_mprotect_readonly(log->sk);
    crypto_sign_detached(cp->signature, NULL, msg, sizeof msg, log->sk);
    sodium_mprotect_noaccess(log->sk);
    return TD_OK;
}

static td_status store_checkpoint(td_store_conn *c, const td_audit_checkpoint *cp, td_error *err)
{
    td_stmt *q;
    td_status st = td_store_prepare(c,
                                    "INSERT INTO audit_checkpoints (size, time_ms, root, signature)"
                                    " VALUES ($1, $2, $3, $4)",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, (int64_t)cp->size, err)) ||
        (st = td_stmt_bind_int64(q, 2, cp->time_ms, err)) ||
        (st = td_stmt_bind_blob(q, 3, cp->root, TD_AUDIT_HASH_LEN, err)) ||
        (st = td_stmt_bind_blob(q, 4, cp->signature, TD_AUDIT_SIG_LEN, err)))
        return st;
    return td_stmt_run(q, NULL, err);
}

static td_status make_checkpoint(td_audit *log, td_store_conn *c, uint64_t size,
                                 td_audit_checkpoint *cp, td_error *err)
{
    memset(cp, 0, sizeof *cp);
    cp->size = size;
    cp->time_ms = now_ms(log);
    td_status st = root_of(c, size, cp->root, err);
    if (st || (st = sign_checkpoint(log, cp)))
        return st;
    return store_checkpoint(c, cp, err);
}

static td_status read_checkpoint_row(td_stmt *q, td_audit_checkpoint *cp, td_error *err)
{
    memset(cp, 0, sizeof *cp);
    cp->size = (uint64_t)td_stmt_column_int64(q, 0);
    cp->time_ms = td_stmt_column_int64(q, 1);
    td_status st = read_hash(q, 2, cp->root, "checkpoint root", err);
    if (st)
        return st;
    if (td_stmt_column_bytes(q, 3) != TD_AUDIT_SIG_LEN)
        return td__error_set(err, TD_ERR_CORRUPT, "audit: stored checkpoint signature size");
    memcpy(cp->signature, td_stmt_column_blob(q, 3), TD_AUDIT_SIG_LEN);
    return TD_OK;
}

static td_status latest_checkpoint(td_store_conn *c, td_audit_checkpoint *cp, int *found,
                                   td_error *err)
{
    td_stmt *q;
    td_status st = td_store_prepare(c,
                                    "SELECT size, time_ms, root, signature FROM audit_checkpoints"
                                    " ORDER BY size DESC, id DESC LIMIT 1",
                                    &q, err);
    if (st || (st = td_stmt_step(q, found, err)))
        return st;
    if (*found)
        st = read_checkpoint_row(q, cp, err);
    td_stmt_reset(q);
    return st;
}

static td_status append_locked(td_audit *log, td_store_conn *c, const char *actor,
                               const char *action, const char *object, const char *details,
                               uint64_t *seq_out, td_error *err)
{
    uint64_t seq;
    char *text = NULL;
    size_t len;
    td_stmt *q;
    uint8_t h[TD_AUDIT_HASH_LEN];
    int64_t t = now_ms(log);
    td_status st = count_entries(c, &seq, err);
    if (st ||
        (st = td_audit_entry_canonical(seq, t, actor, action, object, details, &text, &len, err)))
        return st;
    td_audit_leaf_hash(text, len, h);
    td__free(text);
    if ((st = td_store_prepare(c,
                               "INSERT INTO audit_entries"
                               " (seq, time_ms, actor, action, object, details, leaf)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                               &q, err)) ||
        (st = td_stmt_bind_int64(q, 1, (int64_t)seq, err)) ||
        (st = td_stmt_bind_int64(q, 2, t, err)) ||
        (st = td_stmt_bind_text(q, 3, actor, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 4, action, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 5, object, (size_t)-1, err)) ||
        (st = td_stmt_bind_text(q, 6, details ? details : "", (size_t)-1, err)) ||
        (st = td_stmt_bind_blob(q, 7, h, TD_AUDIT_HASH_LEN, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        return st;
    /* Each trailing 1 bit of seq is a left sibling waiting for this leaf's subtree. */
    uint64_t idx = seq;
    for (int level = 0; idx & 1; level++, idx >>= 1) {
        uint8_t left[TD_AUDIT_HASH_LEN];
        if ((st = get_node(c, level, idx - 1, left, err)))
            return st;
        td_audit_node_hash(left, h, h);
        if ((st = td_store_prepare(
                 c, "INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)", &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, level + 1, err)) ||
            (st = td_stmt_bind_int64(q, 2, (int64_t)(idx >> 1), err)) ||
            (st = td_stmt_bind_blob(q, 3, h, TD_AUDIT_HASH_LEN, err)) ||
            (st = td_stmt_run(q, NULL, err)))
            return st;
    }
    /* Automatic checkpoints, signed in the same transaction as the entry that triggers them. */
    if (log->opts.checkpoint_entries > 0 || log->opts.checkpoint_interval_ms > 0) {
        td_audit_checkpoint last, cp;
        int found;
        if ((st = latest_checkpoint(c, &last, &found, err)))
            return st;
        uint64_t since = seq + 1 - (found ? last.size : 0);
        int due =
            (log->opts.checkpoint_entries > 0 && since >= (uint64_t)log->opts.checkpoint_entries) ||
            (log->opts.checkpoint_interval_ms > 0 &&
             (!found || t - last.time_ms >= log->opts.checkpoint_interval_ms));
        if (due && (st = make_checkpoint(log, c, seq + 1, &cp, err)))
            return st;
    }
    if (seq_out)
        *seq_out = seq;
    return TD_OK;
}

td_status td_audit_append_in(td_audit *log, td_store_conn *conn, const char *actor,
                             const char *action, const char *object, const char *details,
                             uint64_t *seq, td_error *err)
{
    if (!td_store_in_transaction(conn))
        return td__error_set(err, TD_ERR_INVALID, "audit: append_in needs an open transaction");
    td_status st = append_locked(log, conn, actor, action, object, details, seq, err);
    if (st)
        td__error_prefix(err, "audit append: ");
    return st;
}

typedef struct append_args {
    td_audit *log;
    const char *actor, *action, *object, *details;
    uint64_t *seq;
} append_args;

static td_status append_body(td_store_conn *c, void *ctx, td_error *err)
{
    append_args *a = ctx;
    return append_locked(a->log, c, a->actor, a->action, a->object, a->details, a->seq, err);
}

td_status td_audit_append(td_audit *log, const char *actor, const char *action, const char *object,
                          const char *details, uint64_t *seq, td_error *err)
{
    append_args a = {log, actor, action, object, details, seq};
    td_status st = td_store_write(log->store, append_body, &a, err);
    if (st)
        td__error_prefix(err, "audit append: ");
    return st;
}

/* ---- reading ---- */

/* Runs fn on a reader connection. */
#define WITH_READER(log, c, err, body)                                                             \
    do {                                                                                           \
        td_status st_ = td_store_acquire((log)->store, 0, &(c), (err));                            \
        if (st_)                                                                                   \
            return st_;                                                                            \
        st_ = (body);                                                                              \
        td_store_release((log)->store, (c));                                                       \
        return st_;                                                                                \
    } while (0)

td_status td_audit_size(td_audit *log, uint64_t *size, td_error *err)
{
    td_store_conn *c;
    WITH_READER(log, c, err, count_entries(c, size, err));
}

static td_status check_size(td_store_conn *c, uint64_t size, td_error *err)
{
    uint64_t n;
    td_status st = count_entries(c, &n, err);
    if (st)
        return st;
    if (size > n)
        return td__error_set(err, TD_ERR_NOT_FOUND, "audit: the log has only %llu entries",
                             (unsigned long long)n);
    return TD_OK;
}

static char *dup_col(td_stmt *q, int col) { return td__strdup(td_stmt_column_text(q, col)); }

static td_status get_entry(td_store_conn *c, uint64_t seq, td_audit_entry *e, td_error *err)
{
    td_stmt *q;
    int row;
    memset(e, 0, sizeof *e);
    td_status st = td_store_prepare(c,
                                    "SELECT time_ms, actor, action, object, details"
                                    " FROM audit_entries WHERE seq = $1",
                                    &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, (int64_t)seq, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    if (!row)
        return td__error_set(err, TD_ERR_NOT_FOUND, "audit: no entry %llu",
                             (unsigned long long)seq);
    e->seq = seq;
    e->time_ms = td_stmt_column_int64(q, 0);
    e->actor = dup_col(q, 1);
    e->action = dup_col(q, 2);
    e->object = dup_col(q, 3);
    e->details = dup_col(q, 4);
    td_stmt_reset(q);
    if (!e->actor || !e->action || !e->object || !e->details) {
        td_audit_entry_clear(e);
        return td__error_set(err, TD_ERR_NOMEM, "audit: out of memory");
    }
    return TD_OK;
}

td_status td_audit_get(td_audit *log, uint64_t seq, td_audit_entry *out, td_error *err)
{
    td_store_conn *c;
    WITH_READER(log, c, err, get_entry(c, seq, out, err));
}

typedef struct list_args {
    int newest;
    int64_t after, before;
    const char *action;
    size_t limit;
    td_audit_entry *list;
    size_t n;
} list_args;

static td_status list_entries(td_store_conn *c, list_args *a, td_error *err)
{
    static const char *const sql[2][2] = {
        {"SELECT seq, time_ms, actor, action, object, details FROM audit_entries"
         " WHERE seq > $1 ORDER BY seq LIMIT $2",
         "SELECT seq, time_ms, actor, action, object, details FROM audit_entries"
         " WHERE seq > $1 AND action = $3 ORDER BY seq LIMIT $2"},
        {"SELECT seq, time_ms, actor, action, object, details FROM audit_entries"
         " WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
         "SELECT seq, time_ms, actor, action, object, details FROM audit_entries"
         " WHERE seq < $1 AND action = $3 ORDER BY seq DESC LIMIT $2"},
    };
    int filtered = a->action && *a->action;
    int64_t bound = a->newest ? (a->before < 0 ? INT64_MAX : a->before) : a->after;
    td_stmt *q;
    int row;
    td_status st = td_store_prepare(c, sql[a->newest ? 1 : 0][filtered], &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, bound, err)) ||
        (st = td_stmt_bind_int64(q, 2, (int64_t)a->limit, err)) ||
        (filtered && (st = td_stmt_bind_text(q, 3, a->action, (size_t)-1, err))))
        return st;
    while ((st = td_stmt_step(q, &row, err)) == TD_OK && row) {
        if (a->n == a->limit) {
            td_stmt_reset(q);
            break;
        }
        td_audit_entry *e = &a->list[a->n];
        e->seq = (uint64_t)td_stmt_column_int64(q, 0);
        e->time_ms = td_stmt_column_int64(q, 1);
        e->actor = dup_col(q, 2);
        e->action = dup_col(q, 3);
        e->object = dup_col(q, 4);
        e->details = dup_col(q, 5);
        a->n++;
        if (!e->actor || !e->action || !e->object || !e->details) {
            td_stmt_reset(q);
            return td__error_set(err, TD_ERR_NOMEM, "audit: out of memory");
        }
    }
    return st;
}

td_status td_audit_list(td_audit *log, int newest, int64_t after, int64_t before,
                        const char *action, size_t limit, td_audit_entry **out, size_t *count,
                        td_error *err)
{
    *out = NULL;
    *count = 0;
    if (limit < 1 || limit > TD_AUDIT_LIST_MAX || after < -1 || before < -1)
        return td__error_set(err, TD_ERR_INVALID, "audit: list limit 1..%d, positions >= -1",
                             TD_AUDIT_LIST_MAX);
    if (action && strlen(action) > TD_AUDIT_MAX_NAME)
        return td__error_set(err, TD_ERR_INVALID, "audit: action longer than %d bytes",
                             TD_AUDIT_MAX_NAME);
    list_args a = {newest, after, before, action, limit, td__calloc(limit, sizeof(td_audit_entry)),
                   0};
    if (!a.list)
        return td__error_set(err, TD_ERR_NOMEM, "audit: out of memory");
    td_store_conn *c;
    td_status st = td_store_acquire(log->store, 0, &c, err);
    if (st == TD_OK) {
        st = list_entries(c, &a, err);
        td_store_release(log->store, c);
    }
    if (st) {
        for (size_t i = 0; i < a.n; i++)
            td_audit_entry_clear(&a.list[i]);
        td__free(a.list);
        return st;
    }
    *out = a.list;
    *count = a.n;
    return TD_OK;
}

td_status td_audit_get_canonical(td_audit *log, uint64_t seq, char **text, size_t *len,
                                 td_error *err)
{
    td_audit_entry e;
    *text = NULL;
    *len = 0;
    td_status st = td_audit_get(log, seq, &e, err);
    if (st)
        return st;
    st = td_audit_entry_canonical(e.seq, e.time_ms, e.actor, e.action, e.object, e.details, text,
                                  len, err);
    td_audit_entry_clear(&e);
    return st;
}

static td_status root_checked(td_store_conn *c, uint64_t size, uint8_t *root, td_error *err)
{
    td_status st = check_size(c, size, err);
    return st ? st : root_of(c, size, root, err);
}

td_status td_audit_root(td_audit *log, uint64_t size, uint8_t root[TD_AUDIT_HASH_LEN],
                        td_error *err)
{
    td_store_conn *c;
    WITH_READER(log, c, err, root_checked(c, size, root, err));
}

/* ---- checkpoints ---- */

static td_status checkpoint_locked(td_audit *log, td_store_conn *c, int64_t want,
                                   td_audit_checkpoint *out, td_error *err)
{
    uint64_t size;
    td_status st = count_entries(c, &size, err);
    if (st)
        return st;
    if (want >= 0) {
        if ((uint64_t)want > size)
            return td__error_set(err, TD_ERR_NOT_FOUND, "audit: the log has only %llu entries",
                                 (unsigned long long)size);
        td_stmt *q;
        int row;
        if ((st = td_store_prepare(c,
                                   "SELECT size, time_ms, root, signature FROM audit_checkpoints"
                                   " WHERE size = $1 ORDER BY id DESC LIMIT 1",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, want, err)) || (st = td_stmt_step(q, &row, err)))
            return st;
        if (row) {
            st = read_checkpoint_row(q, out, err);
            td_stmt_reset(q);
            return st;
        }
        size = (uint64_t)want;
    }
    return make_checkpoint(log, c, size, out, err);
}

typedef struct checkpoint_args {
    td_audit *log;
    int64_t want;
    td_audit_checkpoint *out;
} checkpoint_args;

static td_status checkpoint_body(td_store_conn *c, void *ctx, td_error *err)
{
    checkpoint_args *a = ctx;
    return checkpoint_locked(a->log, c, a->want, a->out, err);
}

static td_status checkpoint_tx(td_audit *log, int64_t want, td_audit_checkpoint *out, td_error *err)
{
    checkpoint_args a = {log, want, out};
    return td_store_write(log->store, checkpoint_body, &a, err);
}

td_status td_audit_sign_checkpoint(td_audit *log, td_audit_checkpoint *out, td_error *err)
{
    return checkpoint_tx(log, -1, out, err);
}

td_status td_audit_checkpoint_for_size(td_audit *log, uint64_t size, td_audit_checkpoint *out,
                                       td_error *err)
{
    if (size > INT64_MAX)
        return td__error_set(err, TD_ERR_INVALID, "audit: size out of range");
    return checkpoint_tx(log, (int64_t)size, out, err);
}

static td_status latest_or_none(td_store_conn *c, td_audit_checkpoint *out, td_error *err)
{
    int found;
    td_status st = latest_checkpoint(c, out, &found, err);
    if (st == TD_OK && !found)
        st = td__error_set(err, TD_ERR_NOT_FOUND, "audit: no checkpoint yet");
    return st;
}

td_status td_audit_latest_checkpoint(td_audit *log, td_audit_checkpoint *out, td_error *err)
{
    td_store_conn *c;
    WITH_READER(log, c, err, latest_or_none(c, out, err));
}

/* ---- proofs (RFC 9162 §2.1.3.1 and §2.1.4.1, as written there: recursive) ---- */

static td_status push_path(td_audit_proof *p, const uint8_t h[TD_AUDIT_HASH_LEN], td_error *err)
{
    if (p->n_path >= TD_AUDIT_MAX_PATH)
        return td__error_set(err, TD_ERR_INTERNAL, "audit: proof path overflow");
    memcpy(p->path[p->n_path++], h, TD_AUDIT_HASH_LEN);
    return TD_OK;
}

/* PATH(m, D[start : start + n]) */
static td_status inclusion_path(td_store_conn *c, uint64_t m, uint64_t start, uint64_t n,
                                td_audit_proof *p, td_error *err)
{
    if (n <= 1)
        return TD_OK;
    uint64_t k = split_point(n);
    uint8_t h[TD_AUDIT_HASH_LEN];
    td_status st;
    if (m < k) {
        if ((st = inclusion_path(c, m, start, k, p, err)) ||
            (st = mth(c, start + k, n - k, h, err)))
            return st;
    } else {
        if ((st = inclusion_path(c, m - k, start + k, n - k, p, err)) ||
            (st = mth(c, start, k, h, err)))
            return st;
    }
    return push_path(p, h, err);
}

/* SUBPROOF(m, D[start : start + n], b) */
static td_status subproof(td_store_conn *c, uint64_t m, uint64_t start, uint64_t n, int b,
                          td_audit_proof *p, td_error *err)
{
    uint8_t h[TD_AUDIT_HASH_LEN];
    td_status st;
    if (m == n) {
        if (b)
            return TD_OK;
        if ((st = mth(c, start, m, h, err)))
            return st;
        return push_path(p, h, err);
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        if ((st = subproof(c, m, start, k, b, p, err)) || (st = mth(c, start + k, n - k, h, err)))
            return st;
    } else {
        if ((st = subproof(c, m - k, start + k, n - k, 0, p, err)) ||
            (st = mth(c, start, k, h, err)))
            return st;
    }
    return push_path(p, h, err);
}

static td_status prove_inclusion(td_store_conn *c, uint64_t index, uint64_t size,
                                 td_audit_proof *out, td_error *err)
{
    td_status st = check_size(c, size, err);
    if (st)
        return st;
    if (index >= size)
        return td__error_set(err, TD_ERR_INVALID, "audit: entry %llu is not in a tree of %llu",
                             (unsigned long long)index, (unsigned long long)size);
    out->index = index;
    out->size = size;
    return inclusion_path(c, index, 0, size, out, err);
}

td_status td_audit_prove_inclusion(td_audit *log, uint64_t index, uint64_t size,
                                   td_audit_proof *out, td_error *err)
{
    td_store_conn *c;
    memset(out, 0, sizeof *out);
    WITH_READER(log, c, err, prove_inclusion(c, index, size, out, err));
}

static td_status prove_consistency(td_store_conn *c, uint64_t first, uint64_t size,
                                   td_audit_proof *out, td_error *err)
{
    td_status st = check_size(c, size, err);
    if (st)
        return st;
    if (first > size)
        return td__error_set(err, TD_ERR_INVALID, "audit: first size %llu exceeds %llu",
                             (unsigned long long)first, (unsigned long long)size);
    out->index = first;
    out->size = size;
    if (first == 0 || first == size)
        return TD_OK;
    return subproof(c, first, 0, size, 1, out, err);
}

td_status td_audit_prove_consistency(td_audit *log, uint64_t first, uint64_t size,
                                     td_audit_proof *out, td_error *err)
{
    td_store_conn *c;
    memset(out, 0, sizeof *out);
    WITH_READER(log, c, err, prove_consistency(c, first, size, out, err));
}

/* ---- verifying the whole log ---- */

typedef struct verify_ctx {
    td_store_conn *c;
    td_error *err;
    td_status st; /* a read failure, as opposed to a finding */
    td_audit_report *rep;
} verify_ctx;

static int problem(td_audit_report *rep, int64_t seq, const char *msg)
{
    rep->ok = 0;
    rep->first_bad_seq = seq;
    snprintf(rep->problem, sizeof rep->problem, "%s", msg);
    return 1;
}

static int check_node(void *arg, int level, uint64_t index, const uint8_t hash[TD_AUDIT_HASH_LEN])
{
    verify_ctx *v = arg;
    uint8_t stored[TD_AUDIT_HASH_LEN];
    td_status st = get_node(v->c, level, index, stored, v->err);
    if (st == TD_ERR_CORRUPT || (st == TD_OK && sodium_memcmp(stored, hash, 32) != 0)) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "stored tree node (level %d, index %llu) differs from the recomputed one", level,
                 (unsigned long long)index);
        return problem(v->rep, (int64_t)(index << level), msg);
    }
    if (st) {
        v->st = st;
        return 1;
    }
    return 0;
}

/* Compares the checkpoints of exactly f->size entries with the frontier; *cp_row tells whether
 * the checkpoint cursor q is on a row. Returns 1 to stop. */
static int check_checkpoints(td_audit *log, verify_ctx *v, td_stmt *q, int *cp_row,
                             const td__frontier *f)
{
    while (*cp_row) {
        td_audit_checkpoint cp;
        td_status st = read_checkpoint_row(q, &cp, v->err);
        if (st == TD_ERR_CORRUPT)
            return problem(v->rep, -1, "a stored checkpoint is malformed");
        if (st) {
            v->st = st;
            return 1;
        }
        if (cp.size != f->size)
            return 0;
        uint8_t root[TD_AUDIT_HASH_LEN];
        char msg[160];
        td__frontier_root(f, root);
        if (td_audit_checkpoint_verify(&cp, log->pk, NULL) != TD_OK) {
            snprintf(msg, sizeof msg, "checkpoint of size %llu: bad signature",
                     (unsigned long long)cp.size);
            return problem(v->rep, -1, msg);
        }
        if (sodium_memcmp(root, cp.root, TD_AUDIT_HASH_LEN) != 0) {
            snprintf(msg, sizeof msg,
                     "checkpoint of size %llu: signed root differs from the entries' root",
                     (unsigned long long)cp.size);
            return problem(v->rep, cp.size ? (int64_t)cp.size - 1 : -1, msg);
        }
        v->rep->checkpoints++;
        v->rep->uncovered = 0;
        if ((st = td_stmt_step(q, cp_row, v->err))) {
            v->st = st;
            return 1;
        }
    }
    return 0;
}

static td_status verify_locked(td_audit *log, td_store_conn *c, td_audit_report *rep, td_error *err)
{
    td_stmt *entries, *cps;
    int row, cp_row;
    td__frontier f;
    verify_ctx v = {c, err, TD_OK, rep};
    td_status st;
    td__frontier_init(&f);
    if ((st = td_store_prepare(c,
                               "SELECT size, time_ms, root, signature FROM audit_checkpoints"
                               " ORDER BY size, id",
                               &cps, err)) ||
        (st = td_stmt_step(cps, &cp_row, err)) ||
        (st = td_store_prepare(c,
                               "SELECT seq, time_ms, actor, action, object, details, leaf"
                               " FROM audit_entries ORDER BY seq",
                               &entries, err)))
        return st;
    if (check_checkpoints(log, &v, cps, &cp_row, &f))
        return v.st;
    for (;;) {
        if ((st = td_stmt_step(entries, &row, err)))
            return st;
        if (!row)
            break;
        uint64_t seq = (uint64_t)td_stmt_column_int64(entries, 0);
        char *text;
        size_t len;
        uint8_t leaf[TD_AUDIT_HASH_LEN];
        if (seq != f.size) {
            problem(rep, (int64_t)f.size, "entries are missing (gap in the sequence numbers)");
            return TD_OK;
        }
        st = td_audit_entry_canonical(
            seq, td_stmt_column_int64(entries, 1), td_stmt_column_text(entries, 2),
            td_stmt_column_text(entries, 3), td_stmt_column_text(entries, 4),
            td_stmt_column_text(entries, 5), &text, &len, err);
        if (st == TD_ERR_NOMEM)
            return st;
        if (st) {
            problem(rep, (int64_t)seq, "a stored entry is malformed");
            return TD_OK;
        }
        td_audit_leaf_hash(text, len, leaf);
        td__free(text);
        if (td_stmt_column_bytes(entries, 6) != TD_AUDIT_HASH_LEN ||
            sodium_memcmp(td_stmt_column_blob(entries, 6), leaf, TD_AUDIT_HASH_LEN) != 0) {
            problem(rep, (int64_t)seq, "entry does not match its stored leaf hash");
            return TD_OK;
        }
        if (td__frontier_push(&f, leaf, check_node, &v))
            return v.st;
        rep->entries++;
        rep->uncovered++;
        if (check_checkpoints(log, &v, cps, &cp_row, &f))
            return v.st;
    }
    if (cp_row) {
        char msg[160];
        snprintf(msg, sizeof msg, "a checkpoint covers more entries than the log holds (%llu)",
                 (unsigned long long)f.size);
        problem(rep, (int64_t)f.size, msg);
    }
    return TD_OK;
}

typedef struct verify_args {
    td_audit *log;
    td_audit_report *rep;
} verify_args;

static td_status verify_body(td_store_conn *c, void *ctx, td_error *err)
{
    verify_args *a = ctx;
    return verify_locked(a->log, c, a->rep, err);
}

td_status td_audit_verify_log(td_audit *log, td_audit_report *rep, td_error *err)
{
    memset(rep, 0, sizeof *rep);
    rep->ok = 1;
    rep->first_bad_seq = -1;
    /* One read transaction: a consistent snapshot while appends go on. */
    verify_args a = {log, rep};
    return td_store_read(log->store, verify_body, &a, err);
}

/* ---- export ---- */

typedef struct export_ctx {
    td_audit_line_fn fn;
    void *ctx;
    uint64_t entries, checkpoints;
    td_error *err;
} export_ctx;

/* Writes obj (stolen) as one compact line. */
static td_status export_line(export_ctx *x, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (!text)
        return td__error_set(x->err, TD_ERR_NOMEM, "audit: out of memory");
    int rc = x->fn(x->ctx, text, strlen(text));
    free(text); /* jansson's */
    return rc ? td__error_set(x->err, TD_ERR_IO, "audit: the export was not written") : TD_OK;
}

static td_status export_checkpoint(export_ctx *x, const td_audit_checkpoint *cp)
{
    char root[2 * TD_AUDIT_HASH_LEN + 1], sig[2 * TD_AUDIT_SIG_LEN + 1];
    td__hex_encode(cp->root, TD_AUDIT_HASH_LEN, root);
    td__hex_encode(cp->signature, TD_AUDIT_SIG_LEN, sig);
    x->checkpoints++;
    return export_line(x, json_pack("{s:s, s:{s:I, s:I, s:s, s:s}}", "type", "checkpoint",
                                    "checkpoint", "size", (json_int_t)cp->size, "time_ms",
                                    (json_int_t)cp->time_ms, "root", root, "signature", sig));
}

/* Emits the stored checkpoints of exactly size entries (cursor q, *row: on a row). */
static td_status export_checkpoints(export_ctx *x, td_stmt *q, int *row, uint64_t size)
{
    td_status st;
    while (*row) {
        td_audit_checkpoint cp;
        if ((st = read_checkpoint_row(q, &cp, x->err)))
            return st;
        if (cp.size > size)
            return TD_OK;
        if (cp.size == size && (st = export_checkpoint(x, &cp)))
            return st;
        if ((st = td_stmt_step(q, row, x->err)))
            return st;
    }
    return TD_OK;
}

static td_status export_locked(td_audit *log, td_store_conn *c, uint64_t size, export_ctx *x)
{
    td_stmt *entries, *cps;
    int row, cp_row;
    char hex[2 * TD_AUDIT_PUBKEY_LEN + 1];
    td_status st;
    td__hex_encode(log->pk, TD_AUDIT_PUBKEY_LEN, hex);
    if ((st = export_line(x,
                          json_pack("{s:s, s:s, s:i, s:s, s:I, s:I}", "type", "header", "format",
                                    "takedown-audit-export", "version", 1, "public_key", hex,
                                    "size", (json_int_t)size, "time_ms", (json_int_t)now_ms(log)))))
        return st;
    if ((st = td_store_prepare(c,
                               "SELECT size, time_ms, root, signature FROM audit_checkpoints"
                               " WHERE size <= $1 ORDER BY size, id",
                               &cps, x->err)) ||
        (st = td_stmt_bind_int64(cps, 1, (int64_t)size, x->err)) ||
        (st = td_stmt_step(cps, &cp_row, x->err)) ||
        (st = export_checkpoints(x, cps, &cp_row, 0)) ||
        (st = td_store_prepare(c,
                               "SELECT seq, time_ms, actor, action, object, details, leaf"
                               " FROM audit_entries WHERE seq < $1 ORDER BY seq",
                               &entries, x->err)) ||
        (st = td_stmt_bind_int64(entries, 1, (int64_t)size, x->err)))
        return st;
    for (;;) {
        if ((st = td_stmt_step(entries, &row, x->err)))
            break;
        if (!row)
            break;
        uint64_t seq = (uint64_t)td_stmt_column_int64(entries, 0);
        char leaf[2 * TD_AUDIT_HASH_LEN + 1] = "";
        if (td_stmt_column_bytes(entries, 6) == TD_AUDIT_HASH_LEN)
            td__hex_encode(td_stmt_column_blob(entries, 6), TD_AUDIT_HASH_LEN, leaf);
        /* Exported as stored: a stored entry already altered shows in the export's check. */
        if ((st = export_line(x, json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "type",
                                           "entry", "seq", (json_int_t)seq, "time_ms",
                                           (json_int_t)td_stmt_column_int64(entries, 1), "actor",
                                           td_stmt_column_text(entries, 2), "action",
                                           td_stmt_column_text(entries, 3), "object",
                                           td_stmt_column_text(entries, 4), "details",
                                           td_stmt_column_text(entries, 5), "leaf_hash", leaf))))
            break;
        x->entries++;
        if ((st = export_checkpoints(x, cps, &cp_row, seq + 1)))
            break;
    }
    td_stmt_reset(entries);
    td_stmt_reset(cps);
    return st;
}

typedef struct export_args {
    td_audit *log;
    uint64_t size;
    export_ctx *x;
} export_args;

static td_status export_body(td_store_conn *c, void *ctx, td_error *err)
{
    export_args *a = ctx;
    (void)err; /* export_locked reports through x->err, the same td_error */
    return export_locked(a->log, c, a->size, a->x);
}

td_status td_audit_export(td_audit *log, td_audit_line_fn fn, void *ctx, uint64_t *entries,
                          uint64_t *checkpoints, td_error *err)
{
    uint64_t size = 0;
    td_audit_checkpoint cp;
    export_ctx x = {fn, ctx, 0, 0, err};
    /* Every exported entry is covered by a signed checkpoint: one of the whole log now. */
    td_status st = td_audit_size(log, &size, err);
    if (st || (st = td_audit_checkpoint_for_size(log, size, &cp, err)))
        return st;
    /* One read transaction: the entries and checkpoints of one moment. */
    export_args a = {log, size, &x};
    st = td_store_read(log->store, export_body, &a, err);
    if (entries)
        *entries = x.entries;
    if (checkpoints)
        *checkpoints = x.checkpoints;
    return st;
}
