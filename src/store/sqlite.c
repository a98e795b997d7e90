/* The SQLite backend of the store: WAL journal (readers never block the writer), a busy timeout,
 * foreign keys on, `$n` parameters resolved to SQLite's indexes once at prepare time. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
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
    for (int i = 0; i < n; i += 2) {
        int d[2];
        for (int k = 0; k < 2; k++) {
            unsigned c = s[i + k];
            d[k] = c >= '0' && c <= '9'   ? (int)(c - '0')
                   : c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (int)(c - 'A' + 10)
                                          : -1;
        }
        if (d[0] < 0 || d[1] < 0) {
            if (out != small)
                sqlite3_free(out);
            return; /* NULL */
        }
        out[i / 2] = (unsigned char)(d[0] << 4 | d[1]);
    }
    sqlite3_result_blob(ctx, out, n / 2, out == small ? SQLITE_TRANSIENT : sqlite3_free);
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
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, (int)(opts->busy_timeout_ms > 0x7fffffff ? 0x7fffffff
                                                                      : opts->busy_timeout_ms));
    /* The writer gets a large page cache: a bulk import in one transaction otherwise spills
     * pages to the WAL and reads them back, which made a million-row import I/O bound. */
    char sql[200];
    snprintf(sql, sizeof sql,
             "PRAGMA foreign_keys=ON; PRAGMA synchronous=%s; PRAGMA cache_size=%d;"
             " PRAGMA temp_store=MEMORY;%s",
             opts->synchronous_full ? "FULL" : "NORMAL", write ? -262144 : -16384,
             write ? " PRAGMA journal_mode=WAL;" : "");
    td_status st = sq_exec(db, sql, err);
    if (st == TD_OK &&
        (rc = sqlite3_create_function_v2(db, "unhex", 1,
                                         SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                         NULL, sq_unhex, NULL, NULL, NULL)) != SQLITE_OK)
        st = fail(db, rc, err, "unhex");
    if (st != TD_OK) {
        sqlite3_close(db);
        return st;
    }
    *out = db;
    return TD_OK;
}

static void sq_disconnect(void *db) { sqlite3_close(db); }

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

static td_status sq_bind_text(void *db, void *stmt, int i, const char *s, size_t len,
                              td_error *err)
{
    int rc = sqlite3_bind_text64(stmt, i, s, len, SQLITE_TRANSIENT, SQLITE_UTF8);
    return rc == SQLITE_OK ? TD_OK : fail(db, rc, err, "bind");
}

static td_status sq_bind_blob(void *db, void *stmt, int i, const void *p, size_t len,
                              td_error *err)
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
    "sqlite",      sq_connect,    sq_disconnect, sq_exec,      sq_prepare,   sq_finalize,
    sq_reset,      sq_bind_int64, sq_bind_text,  sq_bind_blob, sq_bind_null, sq_step,
    sq_changes,    sq_col_int64,  sq_col_text,   sq_col_blob,  sq_col_bytes, sq_col_is_null,
    /* BEGIN IMMEDIATE takes the write lock at once: no failure half-way on a lock upgrade. */
    "BEGIN",       "BEGIN IMMEDIATE",
};
