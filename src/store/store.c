/* The store's connection pool, statement cache and migrations (see include/takedown/store.h).
 * Engine specifics live in the backend files; this file is the same for every engine.
 *
 * Read-only mode. When the writer cannot connect for lack of space (SQLite on a full disk), the
 * store opens every connection read-only instead, the writer's slot included: reads and read-only
 * transactions work, and a write fails with TD_ERR_NOSPACE. td_store_try_writable (the
 * service's follower calls it, and acquiring the writer tries it when no connection is in use)
 * reopens the connections for writing once the backend sees room. All of them at once, with none
 * in use: in one process, SQLite shares a file's -shm index between connections, and a read-only
 * one would keep a new writer from using it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/wait.h"
#include "store/store_int.h"

void td_store_options_default(td_store_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->readers = 4;
    opts->busy_timeout_ms = 5000;
    opts->create = 1;
}

static void conn_close(td_store_conn *c)
{
    if (!c->db)
        return;
    for (size_t i = 0; i < c->n_cache; i++) {
        c->store->be->finalize(c->cache[i]->engine);
        td__free(c->cache[i]->sql);
        td__free(c->cache[i]);
    }
    td__free(c->cache);
    c->cache = NULL;
    c->n_cache = c->cap_cache = 0;
    c->store->be->disconnect(c->db);
    c->db = NULL;
}

/* Connects c as the store's mode says (read-only, or the writer / a reader). */
static td_status conn_open(td_store *s, td_store_conn *c, td_error *err)
{
    c->read_only = s->read_only;
    if (s->read_only)
        return s->be->connect_read_only(s->location, &s->opts, &c->db, err);
    td_status st = s->be->connect(s->location, &s->opts, c->write, &c->db, err);
    if (st == TD_OK && c->write && s->be->watch_wal)
        s->be->watch_wal(c->db, s);
    return st;
}

void td__store_wal_grew(td_store *s, int pages)
{
    if (pages < TD__WAL_CHECKPOINT_PAGES)
        return;
    pthread_mutex_lock(&s->ckpt_lock);
    s->ckpt_pending = 1;
    pthread_cond_signal(&s->ckpt_wake);
    pthread_mutex_unlock(&s->ckpt_lock);
}

int64_t td__store_checkpoints(td_store *s) { return atomic_load(&s->checkpoints); }

/* The checkpointer: copies the log into the database when a commit has left it long, on its own
 * connection (connected at the first wake-up, again after a failure such as a full disk), so the
 * commit that crossed the threshold returns at once. A checkpoint that fails is retried at the
 * next wake-up; the log keeps every committed transaction meanwhile. */
static void *checkpointer_main(void *arg)
{
    td_store *s = arg;
    void *db = NULL;
    pthread_mutex_lock(&s->ckpt_lock);
    for (;;) {
        while (!s->ckpt_stop && !s->ckpt_pending)
            pthread_cond_wait(&s->ckpt_wake, &s->ckpt_lock);
        if (s->ckpt_stop)
            break;
        s->ckpt_pending = 0;
        pthread_mutex_unlock(&s->ckpt_lock);
        td_error err;
        td_error_clear(&err);
        if (!db && s->be->connect(s->location, &s->opts, 1, &db, &err) != TD_OK)
            db = NULL;
        if (db && s->be->checkpoint(db, &err) == TD_OK)
            atomic_fetch_add(&s->checkpoints, 1);
        else if (db) {
            s->be->disconnect(db);
            db = NULL;
        }
        pthread_mutex_lock(&s->ckpt_lock);
    }
    pthread_mutex_unlock(&s->ckpt_lock);
    if (db)
        s->be->disconnect(db);
    return NULL;
}

/* Writes refused in read-only mode (a read-only connection says "readonly database") and a full
 * disk while writable (remembered until a commit succeeds) are both TD_ERR_NOSPACE. */
static td_status write_status(td_store_conn *c, td_status st, td_error *err)
{
    if (st == TD_ERR_IO && c->read_only && c->write)
        return td__error_set(err, TD_ERR_NOSPACE,
                             "store: read-only: the disk was full when the service started;"
                             " writes resume when space is freed");
    if (st == TD_ERR_NOSPACE && c->write)
        atomic_store(&c->store->space_short, 1);
    return st;
}

td_status td_store_open(const char *location, const td_store_options *opts, td_store **out,
                        td_error *err)
{
    td_store_options def;
    td_status st;
    *out = NULL;
    if (!location || !*location)
        return td__error_set(err, TD_ERR_INVALID, "store: empty location");
    const td__store_backend *be = &td__sqlite_backend;
    if (strncmp(location, "postgresql://", 13) == 0 || strncmp(location, "postgres://", 11) == 0)
        be = &td__postgres_backend;
    if (!opts) {
        td_store_options_default(&def);
        opts = &def;
    }
    if (opts->readers < 1 || opts->readers > TD_STORE_MAX_READERS)
        return td__error_set(err, TD_ERR_INVALID, "store: readers must be 1..%d",
                             TD_STORE_MAX_READERS);
    td_store *s = td__calloc(1, sizeof *s);
    if (!s)
        return td__error_set(err, TD_ERR_NOMEM, "store: out of memory");
    s->be = be;
    s->opts = *opts;
    pthread_mutex_init(&s->lock, NULL);
    td__cond_init_monotonic(&s->freed);
    pthread_mutex_init(&s->ckpt_lock, NULL);
    pthread_cond_init(&s->ckpt_wake, NULL);
    s->writer.store = s;
    s->writer.write = 1;
    if (!(s->location = td__strdup(location))) {
        st = td__error_set(err, TD_ERR_NOMEM, "store: out of memory");
        goto fail;
    }
    /* The writer connects first: SQLite's creates the file and switches it to WAL. */
    st = conn_open(s, &s->writer, err);
    if (st == TD_ERR_NOSPACE && s->be->connect_read_only) {
        td_error ro_err;
        td_error_clear(&ro_err);
        s->read_only = 1;
        if (conn_open(s, &s->writer, &ro_err) != TD_OK) {
            td__error_prefix(err, "read-only fallback failed (%s); ", ro_err.message);
            goto fail;
        }
        atomic_store(&s->read_only_pub, 1);
        st = TD_OK;
    }
    if (st != TD_OK)
        goto fail;
    s->readers = td__calloc(opts->readers, sizeof *s->readers);
    if (!s->readers) {
        st = td__error_set(err, TD_ERR_NOMEM, "store: out of memory");
        goto fail;
    }
    s->n_readers = opts->readers;
    for (unsigned i = 0; i < s->n_readers; i++) {
        s->readers[i].store = s;
        st = conn_open(s, &s->readers[i], err);
        if (st != TD_OK)
            goto fail;
    }
    if (s->be->checkpoint) {
        if (pthread_create(&s->ckpt_thread, NULL, checkpointer_main, s) != 0) {
            st = td__error_set(err, TD_ERR_INTERNAL, "store: cannot start the checkpointer");
            goto fail;
        }
        s->ckpt_started = 1;
    }
    *out = s;
    return TD_OK;
fail:
    td_store_close(s);
    return st;
}

void td_store_close(td_store *s)
{
    if (!s)
        return;
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->ckpt_lock);
        s->ckpt_stop = 1;
        pthread_cond_signal(&s->ckpt_wake);
        pthread_mutex_unlock(&s->ckpt_lock);
        pthread_join(s->ckpt_thread, NULL);
    }
    for (unsigned i = 0; s->readers && i < s->n_readers; i++)
        conn_close(&s->readers[i]);
    td__free(s->readers);
    conn_close(&s->writer);
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->ckpt_wake);
    pthread_mutex_destroy(&s->ckpt_lock);
    td__free(s->location);
    td__free(s);
}

td_store_write_state td_store_get_write_state(td_store *s)
{
    if (atomic_load(&s->read_only_pub))
        return TD_STORE_READ_ONLY;
    return atomic_load(&s->space_short) ? TD_STORE_SPACE_SHORT : TD_STORE_WRITABLE;
}

static int any_busy(const td_store *s)
{
    if (s->writer.busy)
        return 1;
    for (unsigned i = 0; i < s->n_readers; i++)
        if (s->readers[i].busy)
            return 1;
    return 0;
}

/* Under s->lock with no connection in use: closes them all and connects the writer for writing.
 * On success the readers connect (for reading) when next handed out; on failure every connection
 * stays read-only, also connected when next handed out. */
static td_status reopen_locked(td_store *s, td_error *err)
{
    conn_close(&s->writer);
    for (unsigned i = 0; i < s->n_readers; i++)
        conn_close(&s->readers[i]);
    s->read_only = 0;
    td_status st = conn_open(s, &s->writer, err);
    if (st != TD_OK) {
        s->read_only = 1;
        if (st != TD_ERR_NOSPACE)
            td__error_prefix(err, "store: still read-only: ");
        return TD_ERR_NOSPACE;
    }
    atomic_store(&s->read_only_pub, 0);
    atomic_store(&s->space_short, 0);
    return TD_OK;
}

td_status td_store_try_writable(td_store *s, int64_t wait_ms, td_error *err)
{
    td_status st = TD_OK;
    pthread_mutex_lock(&s->lock);
    if (!s->read_only)
        goto out;
    st = td__error_set(err, TD_ERR_NOSPACE, "store: read-only: no room on the disk yet");
    if (s->draining || (s->be->has_room && !s->be->has_room(s->location)))
        goto out;
    s->draining = 1;
    struct timespec until;
    td__deadline_after(&until, wait_ms);
    while (any_busy(s))
        if (pthread_cond_timedwait(&s->freed, &s->lock, &until) == ETIMEDOUT)
            break;
    if (any_busy(s))
        st = td__error_set(err, TD_ERR_NOSPACE,
                           "store: read-only: connections in use, reopening later");
    else
        st = reopen_locked(s, err);
    s->draining = 0;
    pthread_cond_broadcast(&s->freed);
out:
    pthread_mutex_unlock(&s->lock);
    return st;
}

const char *td_store_backend(const td_store *store) { return store->be->name; }

td_status td_store_acquire(td_store *s, int write, td_store_conn **out, td_error *err)
{
    pthread_mutex_lock(&s->lock);
    /* A write in read-only mode: reopen for writing first if nothing is in use and there seems to
     * be room (a refusal is the write's own failure, later). */
    if (write && s->read_only && !s->draining && !any_busy(s) &&
        (!s->be->has_room || s->be->has_room(s->location)))
        (void)reopen_locked(s, NULL);
    for (;;) {
        if (s->draining) {
            pthread_cond_wait(&s->freed, &s->lock);
            continue;
        }
        if (write) {
            if (!s->writer.busy) {
                s->writer.busy = 1;
                *out = &s->writer;
                break;
            }
        } else {
            td_store_conn *found = NULL;
            for (unsigned i = 0; i < s->n_readers && !found; i++) {
                td_store_conn *c = &s->readers[(s->next_reader + i) % s->n_readers];
                if (!c->busy)
                    found = c;
            }
            if (found) {
                found->busy = 1;
                s->next_reader = (s->next_reader + 1) % s->n_readers;
                *out = found;
                break;
            }
        }
        pthread_cond_wait(&s->freed, &s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    if ((*out)->db)
        return TD_OK;
    /* Closed by a change of mode: connect now, outside the lock (the connection is ours). */
    td_status st = conn_open(s, *out, err);
    if (st != TD_OK) {
        td_store_release(s, *out);
        *out = NULL;
    }
    return st;
}

void td_store_release(td_store *s, td_store_conn *conn)
{
    if (!conn)
        return;
    if (conn->in_tx)
        td_store_rollback(conn);
    for (size_t i = 0; i < conn->n_cache; i++)
        s->be->reset(conn->cache[i]->engine);
    pthread_mutex_lock(&s->lock);
    conn->busy = 0;
    pthread_cond_broadcast(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

td_status td_store_begin(td_store_conn *conn, td_error *err)
{
    if (conn->in_tx)
        return td__error_set(err, TD_ERR_INTERNAL, "store: transaction already open");
    const td__store_backend *be = conn->store->be;
    td_status st = be->exec(conn->db, conn->write ? be->begin_write : be->begin_read, err);
    if (st == TD_OK)
        conn->in_tx = 1;
    else /* PostgreSQL: BEGIN went through, then the writer lock timed out */
        (void)be->exec(conn->db, "ROLLBACK", NULL);
    return write_status(conn, st, err);
}

td_status td_store_commit(td_store_conn *conn, td_error *err)
{
    if (!conn->in_tx)
        return td__error_set(err, TD_ERR_INTERNAL, "store: no transaction to commit");
    /* Statements still stepping would make COMMIT fail in SQLite: reset them first. */
    for (size_t i = 0; i < conn->n_cache; i++)
        conn->store->be->reset(conn->cache[i]->engine);
    td_status st = conn->store->be->exec(conn->db, "COMMIT", err);
    if (st != TD_OK) {
        td_store_rollback(conn);
        return write_status(conn, st, err);
    }
    conn->in_tx = 0;
    if (conn->write && !conn->read_only)
        atomic_store(&conn->store->space_short, 0);
    return TD_OK;
}

void td_store_rollback(td_store_conn *conn)
{
    if (!conn->in_tx)
        return;
    for (size_t i = 0; i < conn->n_cache; i++)
        conn->store->be->reset(conn->cache[i]->engine);
    (void)conn->store->be->exec(conn->db, "ROLLBACK", NULL);
    conn->in_tx = 0;
}

int td_store_in_transaction(const td_store_conn *conn) { return conn->in_tx; }

/* The one place that pairs acquire, begin, commit or rollback and release. A commit that fails
 * has already rolled back (td_store_commit); an error from fn rolls back here. Releasing would
 * roll back too, but saying it keeps the order plain: nothing stays open once this returns. */
static td_status run_tx(td_store *s, int write, td_store_tx_fn fn, void *ctx, td_error *err)
{
    td_store_conn *c;
    td_status st = td_store_acquire(s, write, &c, err);
    if (st)
        return st;
    if ((st = td_store_begin(c, err)) == TD_OK) {
        st = fn(c, ctx, err);
        if (st == TD_OK)
            st = td_store_commit(c, err);
        else
            td_store_rollback(c);
    }
    td_store_release(s, c);
    return st;
}

td_status td_store_write(td_store *store, td_store_tx_fn fn, void *ctx, td_error *err)
{
    return run_tx(store, 1, fn, ctx, err);
}

td_status td_store_read(td_store *store, td_store_tx_fn fn, void *ctx, td_error *err)
{
    return run_tx(store, 0, fn, ctx, err);
}

td_status td_store_exec(td_store_conn *conn, const char *sql, td_error *err)
{
    return write_status(conn, conn->store->be->exec(conn->db, sql, err), err);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

td_status td_store_prepare(td_store_conn *conn, const char *sql, td_stmt **out, td_error *err)
{
    const td__store_backend *be = conn->store->be;
    /* Fast path: callers pass string literals, so the pointer usually finds the statement without
     * hashing the text (a bulk import prepares a few statements per line). The text is still
     * compared: a pointer may be reused for other SQL. */
    for (size_t i = 0; i < conn->n_cache; i++) {
        td_stmt *s = conn->cache[i];
        if (s->key == sql && strcmp(s->sql, sql) == 0) {
            be->reset(s->engine);
            *out = s;
            return TD_OK;
        }
    }
    uint64_t h = fnv1a(sql);
    for (size_t i = 0; i < conn->n_cache; i++) {
        td_stmt *s = conn->cache[i];
        if (s->hash == h && strcmp(s->sql, sql) == 0) {
            be->reset(s->engine);
            s->key = sql;
            *out = s;
            return TD_OK;
        }
    }
    if (conn->n_cache == conn->cap_cache) {
        size_t cap = conn->cap_cache ? conn->cap_cache * 2 : 32;
        td_stmt **grown = td__realloc(conn->cache, cap * sizeof *grown);
        if (!grown)
            return td__error_set(err, TD_ERR_NOMEM, "store: out of memory");
        conn->cache = grown;
        conn->cap_cache = cap;
    }
    td_stmt *s = td__calloc(1, sizeof *s);
    if (!s || !(s->sql = td__strdup(sql))) {
        td__free(s);
        return td__error_set(err, TD_ERR_NOMEM, "store: out of memory");
    }
    s->conn = conn;
    s->hash = h;
    s->key = sql;
    td_status st = be->prepare(conn->db, sql, &s->engine, s->param_map, TD__STMT_MAX_PARAMS, err);
    if (st != TD_OK) {
        td__free(s->sql);
        td__free(s);
        return st;
    }
    conn->cache[conn->n_cache++] = s;
    *out = s;
    return TD_OK;
}

static td_status param(td_stmt *s, int index, int *engine_index, td_error *err)
{
    if (index < 1 || index > TD__STMT_MAX_PARAMS || !s->param_map[index])
        return td__error_set(err, TD_ERR_INTERNAL, "store: statement has no parameter $%d", index);
    *engine_index = s->param_map[index];
    return TD_OK;
}

td_status td_stmt_bind_int64(td_stmt *s, int index, int64_t v, td_error *err)
{
    int i = 0;
    td_status st = param(s, index, &i, err);
    return st ? st : s->conn->store->be->bind_int64(s->conn->db, s->engine, i, v, err);
}

td_status td_stmt_bind_text(td_stmt *s, int index, const char *text, size_t len, td_error *err)
{
    int i = 0;
    td_status st = param(s, index, &i, err);
    if (st)
        return st;
    if (!text)
        return s->conn->store->be->bind_null(s->conn->db, s->engine, i, err);
    if (len == (size_t)-1)
        len = strlen(text);
    return s->conn->store->be->bind_text(s->conn->db, s->engine, i, text, len, err);
}

td_status td_stmt_bind_blob(td_stmt *s, int index, const void *data, size_t len, td_error *err)
{
    int i = 0;
    td_status st = param(s, index, &i, err);
    return st ? st : s->conn->store->be->bind_blob(s->conn->db, s->engine, i, data, len, err);
}

td_status td_stmt_bind_null(td_stmt *s, int index, td_error *err)
{
    int i = 0;
    td_status st = param(s, index, &i, err);
    return st ? st : s->conn->store->be->bind_null(s->conn->db, s->engine, i, err);
}

td_status td_stmt_step(td_stmt *s, int *row, td_error *err)
{
    return write_status(s->conn, s->conn->store->be->step(s->conn->db, s->engine, row, err), err);
}

td_status td_stmt_run(td_stmt *s, int64_t *changes, td_error *err)
{
    int row = 1;
    td_status st;
    while (row)
        if ((st = td_stmt_step(s, &row, err)) != TD_OK)
            return st;
    if (changes)
        *changes = s->conn->store->be->changes(s->conn->db);
    s->conn->store->be->reset(s->engine);
    return TD_OK;
}

void td_stmt_reset(td_stmt *s) { s->conn->store->be->reset(s->engine); }

int64_t td_stmt_column_int64(td_stmt *s, int col)
{
    return s->conn->store->be->col_int64(s->engine, col);
}
const char *td_stmt_column_text(td_stmt *s, int col)
{
    return s->conn->store->be->col_text(s->engine, col);
}
const void *td_stmt_column_blob(td_stmt *s, int col)
{
    return s->conn->store->be->col_blob(s->engine, col);
}
size_t td_stmt_column_bytes(td_stmt *s, int col)
{
    return s->conn->store->be->col_bytes(s->engine, col);
}
int td_stmt_column_is_null(td_stmt *s, int col)
{
    return s->conn->store->be->col_is_null(s->engine, col);
}

/* The migrations of list newer than the recorded version: for the service schema (component
 * NULL, table schema_migrations) or for one component (table component_migrations, keyed by its
 * name), each in one transaction with its record. */
static td_status migrate(td_store *store, const char *component, const td_store_migration *list,
                         size_t n, int *version, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row, current = 0;
    td_status st = td_store_acquire(store, 1, &c, err);
    if (st)
        return st;
    st = td_store_exec(c,
                       component ? "CREATE TABLE IF NOT EXISTS component_migrations ("
                                   " component TEXT NOT NULL, version INTEGER NOT NULL,"
                                   " name TEXT NOT NULL, applied_ms BIGINT NOT NULL,"
                                   " PRIMARY KEY (component, version))"
                                 : "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER"
                                   " PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
                       err);
    if (st)
        goto out;
    if ((st =
             td_store_prepare(c,
                              component ? "SELECT COALESCE(MAX(version), 0) FROM"
                                          " component_migrations WHERE component = $1"
                                        : "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                              &q, err)) ||
        (component && (st = td_stmt_bind_text(q, 1, component, (size_t)-1, err))) ||
        (st = td_stmt_step(q, &row, err)))
        goto out;
    current = row ? (int)td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    int newest = 0;
    for (size_t i = 0; i < n; i++)
        newest = list[i].version > newest ? list[i].version : newest;
    if (current > newest) {
        st = component ? td__error_set(err, TD_ERR_UNSUPPORTED,
                                       "%s schema version %d is newer than this build (%d)",
                                       component, current, newest)
                       : td__error_set(err, TD_ERR_UNSUPPORTED,
                                       "store: database schema version %d is newer than this"
                                       " build (%d)",
                                       current, newest);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const td_store_migration *m = &list[i];
        if (m->version <= current)
            continue;
        const char *sql = m->sql;
        if (strcmp(store->be->name, "postgresql") == 0 && m->sql_postgres)
            sql = m->sql_postgres;
        if ((st = td_store_begin(c, err)) || (st = td_store_exec(c, sql, err)) ||
            (st = td_store_prepare(c,
                                   component ? "INSERT INTO component_migrations (version, name,"
                                               " applied_ms, component) VALUES ($1, $2, $3, $4)"
                                             : "INSERT INTO schema_migrations (version, name,"
                                               " applied_ms) VALUES ($1, $2, $3)",
                                   &q, err)) ||
            (st = td_stmt_bind_int64(q, 1, m->version, err)) ||
            (st = td_stmt_bind_text(q, 2, m->name, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 3, td__wall_ms(), err)) ||
            (component && (st = td_stmt_bind_text(q, 4, component, (size_t)-1, err))) ||
            (st = td_stmt_run(q, NULL, err)) || (st = td_store_commit(c, err))) {
            td_store_rollback(c);
            td__error_prefix(err,
                             "%s migration %d (%s): ", component ? component : "store:", m->version,
                             m->name);
            goto out;
        }
        current = m->version;
    }
    if (version)
        *version = current;
out:
    td_store_release(store, c);
    return st;
}

td_status td_store_migrate(td_store *store, const td_store_migration *list, size_t n, int *version,
                           td_error *err)
{
    return migrate(store, NULL, list, n, version, err);
}

td_status td_store_migrate_component(td_store *store, const char *component,
                                     const td_store_migration *list, size_t n, td_error *err)
{
    return migrate(store, component, list, n, NULL, err);
}

td_status td_store_read_rows(td_store *store, const char *sql, const int64_t *binds, int n_binds,
                             size_t max_rows, size_t size, void (*row)(td_stmt *q, void *item),
                             void **out, size_t *count, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int more;
    size_t cap = 0;
    *out = NULL;
    *count = 0;
    td_status st = td_store_acquire(store, 0, &c, err);
    if (st)
        return st;
    st = td_store_prepare(c, sql, &q, err);
    for (int i = 0; st == TD_OK && i < n_binds; i++)
        st = td_stmt_bind_int64(q, i + 1, binds[i], err);
    if (st == TD_OK) {
        while ((st = td_stmt_step(q, &more, err)) == TD_OK && more) {
            if (*count == max_rows) {
                st = td__error_set(err, TD_ERR_LIMIT, "store: more than %zu rows", max_rows);
                break;
            }
            if (*count == cap) {
                size_t grown = cap ? cap * 2 : 16, bytes;
                if (grown > max_rows)
                    grown = max_rows;
                void *p =
                    __builtin_mul_overflow(grown, size, &bytes) ? NULL : td__realloc(*out, bytes);
                if (!p) {
                    st = td__error_set(err, TD_ERR_NOMEM, "out of memory reading rows");
                    break;
                }
                *out = p;
                cap = grown;
            }
            void *item = (char *)*out + *count * size;
            memset(item, 0, size);
            row(q, item);
            (*count)++;
        }
        td_stmt_reset(q);
    }
    td_store_release(store, c);
    if (st) {
        td__free(*out);
        *out = NULL;
        *count = 0;
    }
    return st;
}
