/* The store: one small SQL interface the rest of the library talks to, with an embedded SQLite
 * backend (the default) and a PostgreSQL (libpq) backend for several nodes sharing one database.
 *
 * Why an interface of its own rather than sqlite3_* calls everywhere: the service must run on
 * SQLite for a single node and on PostgreSQL for several nodes sharing state. Callers therefore
 * write portable SQL with `$1`, `$2`... parameters (SQLite accepts them as named parameters;
 * libpq uses them natively), ask for `RETURNING id` instead of last-insert-rowid, and use
 * `ON CONFLICT ... DO NOTHING` for idempotent inserts.
 *
 * Threads: a td_store is a pool of connections. One writer connection is handed out at a time
 * (writers are serialised, as SQLite requires); several reader connections serve concurrent
 * reads (SQLite WAL lets readers proceed while a writer commits). A connection is used by one
 * thread at a time, between td_store_acquire and td_store_release. Prepared statements are cached
 * per connection, keyed by their SQL text, so calling td_store_prepare with the same SQL again
 * costs a hash lookup. */
#ifndef TAKEDOWN_STORE_H
#define TAKEDOWN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct td_store td_store;
typedef struct td_store_conn td_store_conn;
typedef struct td_stmt td_stmt;

#define TD_STORE_MAX_READERS 64

typedef struct td_store_options {
    unsigned readers;        /* reader connections, 1..TD_STORE_MAX_READERS (default 4) */
    int64_t busy_timeout_ms; /* how long a connection waits for a lock (default 5000) */
    int create;              /* create the database if missing (default 1) */
    int synchronous_full;    /* fsync on every commit (default 0: WAL + NORMAL, durable except on
                                power loss of the last transactions; 1: FULL) */
} td_store_options;

void td_store_options_default(td_store_options *opts);

/* Opens a store. location is a file path (SQLite) or a "postgresql://" / "postgres://" URL
 * (a libpq connection URI: PostgreSQL). The SQLite backend turns on WAL, foreign keys and the
 * busy timeout on every connection; the PostgreSQL backend sets lock_timeout to the busy
 * timeout. Every connection (the writer and the readers) is opened here. */
__attribute__((warn_unused_result)) td_status
td_store_open(const char *location, const td_store_options *opts, td_store **out, td_error *err);

/* Closes every connection; accepts NULL. No connection may be acquired. */
void td_store_close(td_store *store);

/* "sqlite" or "postgresql". */
const char *td_store_backend(const td_store *store);

/* Takes the writer connection (write non-zero; blocks while another thread holds it) or a reader
 * connection (write zero). Release it with td_store_release, on the same thread or another. */
__attribute__((warn_unused_result)) td_status td_store_acquire(td_store *store, int write,
                                                               td_store_conn **out, td_error *err);
/* Returns a connection to the pool, rolling back a transaction left open; accepts NULL. */
void td_store_release(td_store *store, td_store_conn *conn);

/* Transactions. A writer's td_store_begin takes the database write lock at once (SQLite
 * BEGIN IMMEDIATE; PostgreSQL: a transaction-level advisory lock shared by every node) so that a
 * transaction never fails half-way on a lock upgrade and writers commit one after the other. A
 * reader's transaction reads one snapshot (PostgreSQL: REPEATABLE READ). */
__attribute__((warn_unused_result)) td_status td_store_begin(td_store_conn *conn, td_error *err);
__attribute__((warn_unused_result)) td_status td_store_commit(td_store_conn *conn, td_error *err);
/* Rolls back if a transaction is open; never fails. */
void td_store_rollback(td_store_conn *conn);
int td_store_in_transaction(const td_store_conn *conn);

/* One transaction around fn: td_store_write acquires the writer, td_store_read a reader; both
 * begin, run fn(conn, ctx, err), commit when it returns TD_OK and roll back otherwise, then
 * release the connection. The status is fn's, or the acquire's, begin's or commit's (a write on
 * a read-only store fails with TD_ERR_NOSPACE as any write does). fn must not commit, roll back
 * or release the connection itself. */
typedef td_status (*td_store_tx_fn)(td_store_conn *conn, void *ctx, td_error *err);
__attribute__((warn_unused_result, nonnull(1, 2))) td_status
td_store_write(td_store *store, td_store_tx_fn fn, void *ctx, td_error *err);
__attribute__((warn_unused_result, nonnull(1, 2))) td_status
td_store_read(td_store *store, td_store_tx_fn fn, void *ctx, td_error *err);

/* Runs SQL without parameters (may hold several statements). */
__attribute__((warn_unused_result)) td_status td_store_exec(td_store_conn *conn, const char *sql,
                                                            td_error *err);

/* Returns the connection's cached prepared statement for sql, reset and with its bindings
 * cleared. The statement belongs to the connection: do not free it; it stays valid until the
 * connection is released. Parameters are written $1..$99. */
__attribute__((warn_unused_result)) td_status td_store_prepare(td_store_conn *conn, const char *sql,
                                                               td_stmt **out, td_error *err);

/* Binding parameter $index (1-based). text with len (size_t)-1 means NUL-terminated; text NULL
 * binds SQL NULL. A parameter number the statement does not use is an error. */
__attribute__((warn_unused_result)) td_status td_stmt_bind_int64(td_stmt *stmt, int index,
                                                                 int64_t value, td_error *err);
__attribute__((warn_unused_result)) td_status
td_stmt_bind_text(td_stmt *stmt, int index, const char *text, size_t len, td_error *err);
__attribute__((warn_unused_result)) td_status
td_stmt_bind_blob(td_stmt *stmt, int index, const void *data, size_t len, td_error *err);
__attribute__((warn_unused_result)) td_status td_stmt_bind_null(td_stmt *stmt, int index,
                                                                td_error *err);

/* Runs the statement one step: *row is 1 when a row is available, 0 when done. A unique or
 * foreign-key violation fails with TD_ERR_CONFLICT. */
__attribute__((warn_unused_result)) td_status td_stmt_step(td_stmt *stmt, int *row, td_error *err);
/* Steps to completion, discarding rows; *changes (may be NULL) receives the rows changed. */
__attribute__((warn_unused_result)) td_status td_stmt_run(td_stmt *stmt, int64_t *changes,
                                                          td_error *err);
/* Resets the statement for reuse with new bindings (done by td_store_prepare as well). */
void td_stmt_reset(td_stmt *stmt);

/* Columns of the current row, 0-based. Text and blob pointers stay valid until the next step or
 * reset; column_text never returns NULL (SQL NULL reads as ""). */
int64_t td_stmt_column_int64(td_stmt *stmt, int col);
const char *td_stmt_column_text(td_stmt *stmt, int col);
const void *td_stmt_column_blob(td_stmt *stmt, int col);
size_t td_stmt_column_bytes(td_stmt *stmt, int col);
int td_stmt_column_is_null(td_stmt *stmt, int col);

/* Reads every row of sql (binds[0..n_binds) as $1..) on a reader connection into a new array of
 * items of size bytes, each zeroed then filled by row(stmt, item); *out is freed with td_free.
 * More than max_rows rows fail with TD_ERR_LIMIT rather than grow the array without bound: the
 * caller chooses the cap (the page size it asked for, or a limit on what the table can hold).
 * On failure *out is NULL and *count 0. */
__attribute__((warn_unused_result)) td_status
td_store_read_rows(td_store *store, const char *sql, const int64_t *binds, int n_binds,
                   size_t max_rows, size_t size, void (*row)(td_stmt *stmt, void *item), void **out,
                   size_t *count, td_error *err);

/* A versioned schema migration. Versions are applied once, in increasing order, each in its own
 * transaction together with its row in the schema_migrations table. sql_postgres, when set, is
 * used instead of sql by the PostgreSQL backend, for what its mechanical translation of sql
 * (INTEGER PRIMARY KEY -> identity, INTEGER -> BIGINT, BLOB -> BYTEA; docs/store.md) cannot
 * express. */
typedef struct td_store_migration {
    int version;
    const char *name;
    const char *sql;
    const char *sql_postgres;
} td_store_migration;

/* Applies the migrations newer than the database's version; *version (may be NULL) receives the
 * version reached. A database newer than the newest migration fails with TD_ERR_UNSUPPORTED. */
__attribute__((warn_unused_result)) td_status td_store_migrate(td_store *store,
                                                               const td_store_migration *list,
                                                               size_t n, int *version,
                                                               td_error *err);

/* The store's write state: TD_STORE_READ_ONLY, opened read-only because the disk was full
 * (every write fails with TD_ERR_NOSPACE until td_store_try_writable succeeds);
 * TD_STORE_SPACE_SHORT, writable, but the last write failed for lack of space (cleared by the
 * next commit that succeeds). */
typedef enum td_store_write_state {
    TD_STORE_WRITABLE = 0,
    TD_STORE_READ_ONLY = 1,
    TD_STORE_SPACE_SHORT = 2
} td_store_write_state;
td_store_write_state td_store_get_write_state(td_store *store);

/* In read-only mode: if the backend sees room again, reopens every connection for writing.
 * Waits up to wait_ms for connections in use to be released (acquire waits meanwhile), and gives
 * up rather than wait longer: the caller must hold no connection of the store, or pass 0.
 * TD_OK when the store is writable (already or now), TD_ERR_NOSPACE when it stays read-only. */
td_status td_store_try_writable(td_store *store, int64_t wait_ms, td_error *err);

/* Versioned migrations of one component (e.g. "audit", "evidence", "orders"), recorded in the
 * table component_migrations (component, version): unlike td_store_migrate's single version
 * sequence, components migrate independently of the service schema and of each other. Each
 * migration runs in one transaction with its record. */
__attribute__((warn_unused_result)) td_status
td_store_migrate_component(td_store *store, const char *component, const td_store_migration *list,
                           size_t n, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
