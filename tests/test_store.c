/* The store interface on its SQLite backend: migrations, $n parameters, conflicts, transactions,
 * the statement cache and concurrent readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/support.h"
#include "store/store_int.h"
#include "takedown/store.h"

static char *fresh_db(void)
{
    static char path[4200];
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s", temp_path("store-XXXXXX"));
    assert_non_null(mkdtemp(tmpl));
    snprintf(path, sizeof path, "%s/t.db", tmpl);
    return path;
}

static const td_store_migration migs[] = {
    {1, "t", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n BIGINT)", NULL},
    {2, "u", "CREATE TABLE u (id INTEGER PRIMARY KEY, t_id INTEGER NOT NULL REFERENCES t(id))",
     NULL},
};

static td_store *open_store(const char *path)
{
    td_store *s = NULL;
    td_error err;
    int version = 0;
    assert_int_equal(td_store_open(path, NULL, &s, &err), TD_OK);
    assert_int_equal(td_store_migrate(s, migs, 2, &version, &err), TD_OK);
    assert_int_equal(version, 2);
    return s;
}

static void test_migrate_and_params(void **state)
{
    (void)state;
    const char *path = fresh_db();
    td_store *s = open_store(path);
    td_store_conn *c;
    td_stmt *q;
    td_error err;
    int row;
    assert_string_equal(td_store_backend(s), "sqlite");
    assert_int_equal(td_store_acquire(s, 1, &c, &err), TD_OK);
    /* $2 before $1 in the text: the numbers, not the order, decide. */
    assert_int_equal(
        td_store_prepare(c, "INSERT INTO t (n, name) VALUES ($2, $1) RETURNING id", &q, &err),
        TD_OK);
    assert_int_equal(td_stmt_bind_text(q, 1, "alpha", (size_t)-1, &err), TD_OK);
    assert_int_equal(td_stmt_bind_int64(q, 2, 42, &err), TD_OK);
    assert_int_equal(td_stmt_bind_int64(q, 3, 1, &err), TD_ERR_INTERNAL);
    assert_int_equal(td_stmt_step(q, &row, &err), TD_OK);
    assert_int_equal(row, 1);
    assert_int_equal(td_stmt_column_int64(q, 0), 1);
    td_stmt_reset(q);
    /* Same SQL again: the cached statement, and a unique violation is a conflict. */
    td_stmt *again;
    assert_int_equal(
        td_store_prepare(c, "INSERT INTO t (n, name) VALUES ($2, $1) RETURNING id", &again, &err),
        TD_OK);
    assert_ptr_equal(again, q);
    assert_int_equal(td_stmt_bind_text(q, 1, "alpha", (size_t)-1, &err), TD_OK);
    assert_int_equal(td_stmt_bind_int64(q, 2, 7, &err), TD_OK);
    assert_int_equal(td_stmt_step(q, &row, &err), TD_ERR_CONFLICT);
    /* Foreign keys are on. */
    assert_int_equal(td_store_prepare(c, "INSERT INTO u (t_id) VALUES ($1)", &q, &err), TD_OK);
    assert_int_equal(td_stmt_bind_int64(q, 1, 99, &err), TD_OK);
    assert_int_equal(td_stmt_run(q, NULL, &err), TD_ERR_CONFLICT);
    /* A rolled-back transaction leaves nothing. */
    assert_int_equal(td_store_begin(c, &err), TD_OK);
    assert_int_equal(td_store_exec(c, "INSERT INTO t (name, n) VALUES ('beta', 1)", &err), TD_OK);
    td_store_rollback(c);
    assert_int_equal(td_store_prepare(c, "SELECT COUNT(*) FROM t", &q, &err), TD_OK);
    assert_int_equal(td_stmt_step(q, &row, &err), TD_OK);
    assert_int_equal(td_stmt_column_int64(q, 0), 1);
    td_store_release(s, c);
    /* SQL errors are reported, not fatal. */
    assert_int_equal(td_store_acquire(s, 0, &c, &err), TD_OK);
    assert_int_not_equal(td_store_prepare(c, "SELEC nonsense", &q, &err), TD_OK);
    assert_non_null(strstr(err.message, "sqlite"));
    td_store_release(s, c);
    td_store_close(s);
    /* Re-opening applies nothing new; a newer database is refused by an older build. */
    s = open_store(path);
    int version = 0;
    assert_int_equal(td_store_migrate(s, migs, 1, &version, &err), TD_ERR_UNSUPPORTED);
    td_store_close(s);
    assert_int_equal(td_store_open("postgresql://x.invalid/y", NULL, &s, &err), TD_ERR_IO);
}

typedef struct reader_arg {
    td_store *s;
    int ok;
} reader_arg;

/* A commit that leaves more than TD__WAL_CHECKPOINT_PAGES in the log wakes the checkpointer:
 * the rows reach the database file while the store stays open (closing would checkpoint too),
 * and read back whole. A new database has 16 KiB pages. */
static void test_background_checkpoint(void **state)
{
    (void)state;
    const char *path = fresh_db();
    td_store *s = open_store(path);
    td_store_conn *c;
    td_stmt *q;
    td_error err;
    int row;
    static unsigned char blob[16384];
    const int n = 3 * TD__WAL_CHECKPOINT_PAGES / 2;
    assert_int_equal(td_store_acquire(s, 0, &c, &err), TD_OK);
    assert_int_equal(td_store_prepare(c, "PRAGMA page_size", &q, &err), TD_OK);
    assert_int_equal(td_stmt_step(q, &row, &err), TD_OK);
    assert_int_equal(td_stmt_column_int64(q, 0), 16384);
    td_stmt_reset(q);
    td_store_release(s, c);

    int64_t before = td__store_checkpoints(s);
    assert_int_equal(td_store_acquire(s, 1, &c, &err), TD_OK);
    assert_int_equal(td_store_begin(c, &err), TD_OK);
    assert_int_equal(td_store_exec(c, "CREATE TABLE b (i INTEGER PRIMARY KEY, x BLOB)", &err),
                     TD_OK);
    for (int i = 0; i < n; i++) {
        memset(blob, i & 0xff, sizeof blob);
        assert_int_equal(td_store_prepare(c, "INSERT INTO b (x) VALUES ($1)", &q, &err), TD_OK);
        assert_int_equal(td_stmt_bind_blob(q, 1, blob, sizeof blob, &err), TD_OK);
        assert_int_equal(td_stmt_run(q, NULL, &err), TD_OK);
    }
    assert_int_equal(td_store_commit(c, &err), TD_OK);
    td_store_release(s, c);

    struct stat sb;
    int copied = 0;
    for (int waited = 0; waited < 30000 && !copied; waited += 10) {
        copied = td__store_checkpoints(s) > before && stat(path, &sb) == 0 &&
                 sb.st_size >= (off_t)n * (off_t)sizeof blob;
        if (!copied)
            usleep(10000);
    }
    assert_true(copied);

    assert_int_equal(td_store_acquire(s, 0, &c, &err), TD_OK);
    assert_int_equal(td_store_prepare(c, "SELECT COUNT(*), SUM(LENGTH(x)) FROM b", &q, &err),
                     TD_OK);
    assert_int_equal(td_stmt_step(q, &row, &err), TD_OK);
    assert_int_equal(td_stmt_column_int64(q, 0), n);
    assert_int_equal(td_stmt_column_int64(q, 1), (int64_t)n * (int64_t)sizeof blob);
    td_stmt_reset(q);
    td_store_release(s, c);
    td_store_close(s);
}

static void *reader(void *p)
{
    reader_arg *a = p;
    td_error err;
    for (int i = 0; i < 200; i++) {
        td_store_conn *c;
        td_stmt *q;
        int row;
        if (td_store_acquire(a->s, 0, &c, &err) != TD_OK)
            return NULL;
        if (td_store_prepare(c, "SELECT COUNT(*) FROM t", &q, &err) == TD_OK &&
            td_stmt_step(q, &row, &err) == TD_OK && row)
            a->ok++;
        td_store_release(a->s, c);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    td_store *s = open_store(fresh_db());
    pthread_t th[6];
    reader_arg args[6];
    td_error err;
    for (int i = 0; i < 6; i++) {
        args[i].s = s;
        args[i].ok = 0;
        pthread_create(&th[i], NULL, reader, &args[i]);
    }
    for (int i = 0; i < 100; i++) {
        td_store_conn *c;
        td_stmt *q;
        char name[32];
        snprintf(name, sizeof name, "n%d", i);
        assert_int_equal(td_store_acquire(s, 1, &c, &err), TD_OK);
        assert_int_equal(td_store_begin(c, &err), TD_OK);
        assert_int_equal(td_store_prepare(c, "INSERT INTO t (name) VALUES ($1)", &q, &err), TD_OK);
        assert_int_equal(td_stmt_bind_text(q, 1, name, (size_t)-1, &err), TD_OK);
        assert_int_equal(td_stmt_run(q, NULL, &err), TD_OK);
        assert_int_equal(td_store_commit(c, &err), TD_OK);
        td_store_release(s, c);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 200);
    }
    td_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_and_params),
        cmocka_unit_test(test_concurrent_readers),
        cmocka_unit_test(test_background_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
