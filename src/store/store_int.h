/* Inside the store: the backend operations a database engine provides. store.c owns the
 * connection pool, the statement cache and migrations; a backend (sqlite.c, postgres.c)
 * only talks to its engine. */
#ifndef TD_STORE_INT_H
#define TD_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "takedown/store.h"

#define TD__STMT_MAX_PARAMS 99

typedef struct td__store_backend {
    const char *name;
    td_status (*connect)(const char *location, const td_store_options *opts, int write, void **db,
                         td_error *err);
    void (*disconnect)(void *db);
    td_status (*exec)(void *db, const char *sql, td_error *err);
    /* Compiles sql; param_map[n] receives the engine's index of $n (0 when unused). */
    td_status (*prepare)(void *db, const char *sql, void **stmt, int *param_map, int max_param,
                         td_error *err);
    void (*finalize)(void *stmt);
    void (*reset)(void *stmt);
    td_status (*bind_int64)(void *db, void *stmt, int index, int64_t v, td_error *err);
    td_status (*bind_text)(void *db, void *stmt, int index, const char *s, size_t len,
                           td_error *err);
    td_status (*bind_blob)(void *db, void *stmt, int index, const void *p, size_t len,
                           td_error *err);
    td_status (*bind_null)(void *db, void *stmt, int index, td_error *err);
    td_status (*step)(void *db, void *stmt, int *row, td_error *err);
    int64_t (*changes)(void *db);
    int64_t (*col_int64)(void *stmt, int col);
    const char *(*col_text)(void *stmt, int col);
    const void *(*col_blob)(void *stmt, int col);
    size_t (*col_bytes)(void *stmt, int col);
    int (*col_is_null)(void *stmt, int col);
    /* What td_store_begin runs on a reader and on the writer connection. */
    const char *begin_read;
    const char *begin_write;
    /* Read-only mode, for an engine whose files may sit on a full disk (NULL otherwise): a
     * connection that reads without writing a byte, and whether there seems to be room again. */
    td_status (*connect_read_only)(const char *location, const td_store_options *opts, void **db,
                                   td_error *err);
    int (*has_room)(const char *location);
    /* An engine whose commits leave a write-ahead log to copy into the database (NULL
     * otherwise): watch_wal makes the writer connection db call td__store_wal_grew after each
     * commit, and checkpoint copies what it can without waiting for readers or the writer. */
    void (*watch_wal)(void *db, td_store *store);
    td_status (*checkpoint)(void *db, td_error *err);
} td__store_backend;

/* The key of the transaction-level advisory lock every PostgreSQL writer transaction takes
 * first: writers are serialised across all the nodes sharing the database, as SQLite's single
 * writer is, so that the change log's seq values are handed out in commit order (see
 * docs/store.md). The bytes spell "takedown". */
#define TD__PG_WRITER_LOCK "8386102064361469806"

extern const td__store_backend td__sqlite_backend;
extern const td__store_backend td__postgres_backend;

struct td_stmt {
    td_store_conn *conn;
    char *sql;
    const char *key; /* the caller's pointer at the last lookup (usually a string literal) */
    uint64_t hash;
    void *engine;
    int param_map[TD__STMT_MAX_PARAMS + 1];
};

struct td_store_conn {
    td_store *store;
    void *db; /* NULL: connected when next handed out */
    int write;
    int read_only; /* connected read-only (the store's read-only mode) */
    int in_tx;
    int busy; /* handed out */
    /* Statements by SQL text; never evicted (the library has a bounded set of statements). */
    td_stmt **cache;
    size_t n_cache, cap_cache;
};

struct td_store {
    const td__store_backend *be;
    td_store_options opts;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    td_store_conn writer;
    td_store_conn *readers;
    unsigned n_readers;
    unsigned next_reader;
    /* Read-only mode (see store.c): every connection reads only, until space returns. Under
     * lock; the atomic copies are for lock-free questions. */
    char *location;
    int read_only;
    int draining; /* connections are being reopened: acquire waits */
    atomic_int read_only_pub;
    atomic_int space_short; /* the writer's last write failed for lack of space */
    /* The checkpointer (engines with watch_wal): a thread with its own connection, woken when
     * the log has grown past TD__WAL_CHECKPOINT_PAGES, so that no commit copies it inline. */
    pthread_t ckpt_thread;
    int ckpt_started;
    pthread_mutex_t ckpt_lock;
    pthread_cond_t ckpt_wake;
    int ckpt_pending, ckpt_stop;
    atomic_llong checkpoints; /* completed, for tests and figures */
};

/* Pages in the write-ahead log past which the checkpointer is woken (SQLite's own default for
 * its inline checkpoint). */
#define TD__WAL_CHECKPOINT_PAGES 1000

/* Called by the backend after a commit of the writer: the log now holds pages pages. */
void td__store_wal_grew(td_store *s, int pages);

/* Checkpoints the checkpointer has completed since the store opened. */
int64_t td__store_checkpoints(td_store *s);

#endif
