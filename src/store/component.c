/* Per-component schema migrations. td_store_migrate keeps one version number for the whole
 * database (the service schema), so a second list of migrations would collide with it; the audit
 * log, the evidence store and the orders module instead record (component, version) pairs in a
 * table of their own and can evolve independently. Each migration runs in one transaction with its
 * record. */
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "takedown/store.h"

td_status td_store_migrate_component(td_store *store, const char *component,
                                     const td_store_migration *list, size_t n, td_error *err)
{
    td_store_conn *c;
    td_stmt *q;
    int row;
    td_status st = td_store_acquire(store, 1, &c, err);
    if (st)
        return st;
    st = td_store_exec(c,
                       "CREATE TABLE IF NOT EXISTS component_migrations ("
                       " component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
                       " applied_ms BIGINT NOT NULL, PRIMARY KEY (component, version))",
                       err);
    if (st)
        goto out;
    int current = 0;
    if ((st = td_store_prepare(c,
                               "SELECT COALESCE(MAX(version), 0) FROM component_migrations"
                               " WHERE component = $1",
                               &q, err)) ||
        (st = td_stmt_bind_text(q, 1, component, (size_t)-1, err)) ||
        (st = td_stmt_step(q, &row, err)))
        goto out;
    current = row ? (int)td_stmt_column_int64(q, 0) : 0;
    td_stmt_reset(q);
    int newest = 0;
    for (size_t i = 0; i < n; i++)
        newest = list[i].version > newest ? list[i].version : newest;
    if (current > newest) {
        st = td__error_set(err, TD_ERR_UNSUPPORTED,
                           "%s schema version %d is newer than this build (%d)", component, current,
                           newest);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const td_store_migration *m = &list[i];
        if (m->version <= current)
            continue;
        const char *sql = m->sql;
        if (strcmp(td_store_backend(store), "postgresql") == 0 && m->sql_postgres)
            sql = m->sql_postgres;
        if ((st = td_store_begin(c, err)) || (st = td_store_exec(c, sql, err)) ||
            (st = td_store_prepare(c,
                                   "INSERT INTO component_migrations"
                                   " (component, version, name, applied_ms)"
                                   " VALUES ($1, $2, $3, $4)",
                                   &q, err)) ||
            (st = td_stmt_bind_text(q, 1, component, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 2, m->version, err)) ||
            (st = td_stmt_bind_text(q, 3, m->name, (size_t)-1, err)) ||
            (st = td_stmt_bind_int64(q, 4, td__wall_ms(), err)) ||
            (st = td_stmt_run(q, NULL, err)) || (st = td_store_commit(c, err))) {
            td_store_rollback(c);
            td__error_prefix(err, "%s migration %d (%s): ", component, m->version, m->name);
            goto out;
        }
        current = m->version;
    }
out:
    td_store_release(store, c);
    return st;
}
