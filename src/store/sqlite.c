/* The SQLite backend of the store: WAL journal (readers never block the writer), a busy timeout,
 * foreign keys on, `$n` parameters resolved to SQLite's indexes once at prepare time.
 *
 * A full disk: SQLITE_FULL, or an I/O error whose errno is ENOSPC or EDQUOT, is TD_ERR_NOSPACE.
 * Opening a WAL database needs a few pages for its -shm index (SQLite recreates it when the last
 * connection closes), so on a full disk even reading fails; connect_read_only then opens the file
 * with readonly_shm, where SQLite keeps the index in memory and reads the WAL itself, writing
 * nothing (store.c decides when). */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/error.h"
#include "core/hex.h"
#include "store/store_int.h"

static td_status fail(sqlite3 *db, int rc, td_error *err, const char *what)
{
    int ext = db ? sqlite3_extended_errcode(db) : rc;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    td_status code = TD_ERR_IO;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        code = (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY ||
                ext == SQLITE_CONSTRAINT_FOREIGNKEY)
                   ? TD_ERR_CONFLICT
                   : TD_ERR_INVALID;
        break;
    case SQLITE_NOMEM: code = TD_ERR_NOMEM; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = TD_ERR_CORRUPT; break;
    case SQLITE_TOOBIG: code = TD_ERR_LIMIT; break;
    case SQLITE_FULL: code = TD_ERR_NOSPACE; break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        if (db && (sqlite3_system_errno(db) == ENOSPC || sqlite3_system_errno(db) == EDQUOT))
            code = TD_ERR_NOSPACE;
        break;
    case SQLITE_ERROR:
    case SQLITE_MISUSE:
    case SQLITE_RANGE: code = TD_ERR_INTERNAL; break;
    default: break;
    }
    return td__error_set(err, code, "sqlite: %s: %s", what, msg);
}

static td_status sq_exec(void *db, const char *sql, td_error *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? TD_OK : fail(db, rc, err, "exec");
}

/* unhex(text): the bytes of a hex string (either case), NULL for NULL, an odd length or a
 * non-hex digit. SQLite has it built in from 3.41 only (PostgreSQL: decode(x, 'hex')); callers
 * use it to turn hex values into raw bytes inside one INSERT ... SELECT. */
static void sq_unhex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *s = sqlite3_value_text(argv[0]);
    int n = sqlite3_value_bytes(argv[0]);
    unsigned char small[64], *out = small;
    if (!s || n % 2)
        return; /* NULL */
    if (n / 2 > (int)sizeof small && !(out = sqlite3_malloc(n / 2))) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (td__hex_decode((const char *)s, (size_t)n, out) != 0) {
        if (out != small)
            sqlite3_free(out);
        return; /* NULL */
    }
    sqlite3_result_blob(ctx, out, n / 2, out == small ? SQLITE_TRANSIENT : sqlite3_free);
}

/* What every connection gets once open: extended codes, the busy timeout, the pragmas and the
 * unhex function. Closes db on failure. */
static td_status sq_setup(sqlite3 *db, const td_store_options *opts, const char *pragmas,
                          void **out, td_error *err)
{
    int rc;
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(
        db, (int)(opts->busy_timeout_ms > 0x7fffffff ? 0x7fffffff : opts->busy_timeout_ms));
    td_status st = sq_exec(db, pragmas, err);
    if (st == TD_OK && (rc = sqlite3_create_function_v2(
                            db, "unhex", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                            NULL, sq_unhex, NULL, NULL, NULL)) != SQLITE_OK)
        st = fail(db, rc, err, "unhex");
    if (st != TD_OK) {
        sqlite3_close(db);
        return st;
    }
    *out = db;
    return TD_OK;
}

static td_status sq_connect(const char *location, const td_store_options *opts, int write,
                            void **out, td_error *err)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE;
    if (write && opts->create)
        flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(location, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        td_status st = fail(db, rc, err, location);
        sqlite3_close(db);
        return st;
    }
    /* The writer gets a large page cache: a bulk import in one transaction otherwise spills
     * pages to the WAL and reads them back, which made a million-row import I/O bound. A new
     * database gets 16 KiB pages (page_size only takes effect before the file's first write,
     * so it comes before journal_mode): a quarter of the pages to allocate, link and write for
     * a bulk import, measured about 20% less CPU for 2M signals than 4 KiB pages. The log file
     * is cut back to 64 MiB once checkpointed, rather than keeping the size of the largest
     * transaction. */
    char sql[300];
    snprintf(sql, sizeof sql,
             "%sPRAGMA foreign_keys=ON; PRAGMA synchronous=%s; PRAGMA cache_size=%d;"
             " PRAGMA temp_store=MEMORY;%s",
             write ? "PRAGMA page_size=16384; " : "", opts->synchronous_full ? "FULL" : "NORMAL",
             write ? -262144 : -16384,
             write ? " PRAGMA journal_mode=WAL; PRAGMA journal_size_limit=67108864;" : "");
    return sq_setup(db, opts, sql, out, err);
}

/* The URI of a file path (percent-escapes all but unreserved characters and '/'). */
static int file_uri(const char *path, const char *query, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (cap < sizeof "file:")
        return 0;
    memcpy(out, "file:", 5);
    o = 5;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("/-._~", *p);
        if (o + 4 >= cap)
            return 0;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    int n = snprintf(out + o, cap - o, "%s", query);
    return n >= 0 && (size_t)n < cap - o;
}

/* Creates path empty, with mode, when missing; costs an inode, not a block. */
static int touch(const char *path, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static td_status sq_connect_read_only(const char *location, const td_store_options *opts,
                                      void **out, td_error *err)
{
    struct stat sb;
    char side[4096], uri[3 * 4096 + 64];
    if (stat(location, &sb) != 0 || !S_ISREG(sb.st_mode))
        return td__error_set(err, TD_ERR_NOT_FOUND, "sqlite: %s: no database to read", location);
    /* readonly_shm opens the -shm file without creating it, and a read-only connection to a WAL
     * database needs its -wal: both are left empty after a clean stop, so make them. */
    static const char *const suffixes[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        int n = snprintf(side, sizeof side, "%s%s", location, suffixes[i]);
        if (n < 0 || (size_t)n >= sizeof side || !touch(side, sb.st_mode & 0666))
            return td__error_set(err, TD_ERR_IO, "sqlite: cannot create %s%s: %s", location,
                                 suffixes[i], n < 0 ? "path too long" : strerror(errno));
    }
    if (!file_uri(location, "?mode=ro&readonly_shm=1", uri, sizeof uri))
        return td__error_set(err, TD_ERR_LIMIT, "sqlite: path too long: %s", location);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                             NULL);
    if (rc != SQLITE_OK) {
        td_status st = fail(db, rc, err, location);
        sqlite3_close(db);
        return st;
    }
    return sq_setup(db, opts,
                    "PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384;"
                    " PRAGMA temp_store=MEMORY; SELECT COUNT(*) FROM sqlite_master;",
                    out, err);
}

/* Room to reopen for writing: 1 MiB free where the database lives (the -shm index, the first WAL
 * pages). An unknown answer says yes: the attempt decides. */
static int sq_has_room(const char *location)
{
    char dir[4096];
    struct statvfs vs;
    const char *slash = strrchr(location, '/');
    size_t n = 1;
    if (!slash) {
        dir[0] = '.';
    } else {
        n = slash == location ? 1 : (size_t)(slash - location);
        if (n >= sizeof dir)
            return 1;
        memcpy(dir, location, n);
    }
    dir[n] = '\0';
    if (statvfs(dir, &vs) != 0)
        return 1;
    return (uint64_t)vs.f_bavail * vs.f_frsize >= (uint64_t)1 << 20;
}

static void sq_disconnect(void *db) { sqlite3_close(db); }

static int sq_wal_hook(void *arg, sqlite3 *db, const char *schema, int pages)
{
    (void)db;
    (void)schema;
    td__store_wal_grew(arg, pages);
    return SQLITE_OK;
}

/* Replaces SQLite's inline checkpoint (which makes the commit that crosses the threshold copy the
 * whole log: seconds after a bulk import) by the store's checkpointer. */
static void sq_watch_wal(void *db, td_store *store) { sqlite3_wal_hook(db, sq_wal_hook, store); }

static td_status sq_checkpoint(void *db, td_error *err)
{
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? TD_OK : fail(db, rc, err, "checkpoint");
}

static td_status sq_prepare(void *db, const char *sql, void **out, int *map, int max_param,
                            td_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK)
        return fail(db, rc, err, "prepare");
    for (int i = 0; i <= max_param; i++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", i);
        map[i] = i ? sqlite3_bind_parameter_index(stmt, name) : 0;
    }
    *out = stmt;
    return TD_OK;
}

static void sq_finalize(void *stmt) { sqlite3_finalize(stmt); }

static void sq_reset(void *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static td_status sq_bind_int64(void *db, void *stmt, int i, int64_t v, td_error *err)
{
    int rc = sqlite3_bind_int64(stmt, i, v);
    return rc == SQLITE_OK ? TD_OK : fail(db, rc, err, "bind");
}

static td_status sq_bind_text(void *db, void *stmt, int i, const char *s, size_t len, td_error *err)
{
    int rc = sqlite3_bind_text64(stmt, i, s, len, SQLITE_TRANSIENT, SQLITE_UTF8);
    return rc == SQLITE_OK ? TD_OK : fail(db, rc, err, "bind");
}

static td_status sq_bind_blob(void *db, void *stmt, int i, const void *p, size_t len, td_error *err)
{
    int rc = sqlite3_bind_blob64(stmt, i, p, len, SQLITE_TRANSIENT);
    return rc == SQLITE_OK ? TD_OK : fail(db, rc, err, "bind");
}

static td_status sq_bind_null(void *db, void *stmt, int i, td_error *err)
{
    int rc = sqlite3_bind_null(stmt, i);
    return rc == SQLITE_OK ? TD_OK : fail(db, rc, err, "bind");
}

static td_status sq_step(void *db, void *stmt, int *row, td_error *err)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *row = 1;
        return TD_OK;
    }
    if (rc == SQLITE_DONE) {
        *row = 0;
        return TD_OK;
    }
    *row = 0;
    td_status st = fail(db, rc, err, "step");
    sqlite3_reset(stmt);
    return st;
}

static int64_t sq_changes(void *db) { return sqlite3_changes64(db); }
static int64_t sq_col_int64(void *stmt, int col) { return sqlite3_column_int64(stmt, col); }

static const char *sq_col_text(void *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    return t ? (const char *)t : "";
}

static const void *sq_col_blob(void *stmt, int col) { return sqlite3_column_blob(stmt, col); }
static size_t sq_col_bytes(void *stmt, int col) { return (size_t)sqlite3_column_bytes(stmt, col); }

static int sq_col_is_null(void *stmt, int col)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL;
}

const td__store_backend td__sqlite_backend = {
    "sqlite",
    sq_connect,
    sq_disconnect,
    sq_exec,
    sq_prepare,
    sq_finalize,
    sq_reset,
    sq_bind_int64,
    sq_bind_text,
    sq_bind_blob,
    sq_bind_null,
    sq_step,
    sq_changes,
    sq_col_int64,
    sq_col_text,
    sq_col_blob,
    sq_col_bytes,
    sq_col_is_null,
    /* BEGIN IMMEDIATE takes the write lock at once: no failure half-way on a lock upgrade. */
    "BEGIN",
    "BEGIN IMMEDIATE",
    sq_connect_read_only,
    sq_has_room,
    sq_watch_wal,
    sq_checkpoint,
};
