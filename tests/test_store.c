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
#include "core/error.h"
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

typedef struct tx_arg {
    const char *name;
    td_status result; /* what the body returns after its insert */
    int saw_tx;
    int64_t count;
} tx_arg;

static td_status insert_body(td_store_conn *c, void *ctx, td_error *err)
{
    tx_arg *a = ctx;
    td_stmt *q;
    td_status st;
    a->saw_tx = td_store_in_transaction(c);
    if ((st = td_store_prepare(c, "INSERT INTO t (name, n) VALUES ($1, 1)", &q, err)) ||
        (st = td_stmt_bind_text(q, 1, a->name, (size_t)-1, err)) ||
        (st = td_stmt_run(q, NULL, err)))
        return st;
    return a->result == TD_OK ? TD_OK : td__error_set(err, a->result, "body failed");
}

static td_status count_body(td_store_conn *c, void *ctx, td_error *err)
{
    tx_arg *a = ctx;
    td_stmt *q;
    int row;
    td_status st;
    a->saw_tx = td_store_in_transaction(c);
    if ((st = td_store_prepare(c, "SELECT COUNT(*) FROM t", &q, err)) ||
        (st = td_stmt_step(q, &row, err)))
        return st;
    a->count = td_stmt_column_int64(q, 0);
    return TD_OK;
}

/* Nothing left held: the writer can be taken at once and has no transaction open. */
static void assert_writer_free(td_store *s)
{
    td_store_conn *c;
    td_error err;
    assert_int_equal(td_store_acquire(s, 1, &c, &err), TD_OK);
    assert_int_equal(td_store_in_transaction(c), 0);
    td_store_release(s, c);
}

/* td_store_write commits what the body did on TD_OK and rolls it back on an error (the body's
 * status comes back, and a conflict inside is the conflict's); td_store_read runs in a read
 * transaction. */
static void test_transaction_helper(void **state)
{
    (void)state;
    td_store *s = open_store(fresh_db());
    td_error err;
    tx_arg a = {"one", TD_OK, 0, 0};
    assert_int_equal(td_store_write(s, insert_body, &a, &err), TD_OK);
    assert_int_equal(a.saw_tx, 1);
    assert_writer_free(s);
    tx_arg b = {"two", TD_ERR_INVALID, 0, 0};
    assert_int_equal(td_store_write(s, insert_body, &b, &err), TD_ERR_INVALID);
    assert_string_equal(err.message, "body failed");
    assert_writer_free(s);
    tx_arg dup = {"one", TD_OK, 0, 0};
    assert_int_equal(td_store_write(s, insert_body, &dup, &err), TD_ERR_CONFLICT);
    assert_writer_free(s);
    tx_arg r = {NULL, TD_OK, 0, 0};
    assert_int_equal(td_store_read(s, count_body, &r, &err), TD_OK);
    assert_int_equal(r.saw_tx, 1);
    assert_int_equal(r.count, 1); /* "one" only: "two" was rolled back */
    td_store_close(s);
}

static void name_item(td_stmt *q, void *item)
{
    snprintf(item, 16, "%s", td_stmt_column_text(q, 0));
}

/* td_store_read_rows stops at the caller's cap with TD_ERR_LIMIT instead of growing on. */
static void test_read_rows_cap(void **state)
{
    (void)state;
    td_store *s = open_store(fresh_db());
    td_store_conn *c;
    td_error err;
    assert_int_equal(td_store_acquire(s, 1, &c, &err), TD_OK);
    for (int i = 0; i < 40; i++) {
        char sql[80];
        snprintf(sql, sizeof sql, "INSERT INTO t (name, n) VALUES ('r%02d', %d)", i, i);
        assert_int_equal(td_store_exec(c, sql, &err), TD_OK);
    }
    td_store_release(s, c);
    char(*names)[16] = NULL;
    size_t n = 0;
    const int64_t min = 0;
    const char *sql = "SELECT name FROM t WHERE n >= $1 ORDER BY n";
    assert_int_equal(td_store_read_rows(s, sql, &min, 1, 40, sizeof *names, name_item,
                                        (void **)&names, &n, &err),
                     TD_OK);
    assert_int_equal(n, 40);
    assert_string_equal(names[39], "r39");
    td_free(names);
    assert_int_equal(td_store_read_rows(s, sql, &min, 1, 39, sizeof *names, name_item,
                                        (void **)&names, &n, &err),
                     TD_ERR_LIMIT);
    assert_null(names);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.message, "more than 39 rows"));
    assert_int_equal(
        td_store_read_rows(s, sql, &min, 1, 0, sizeof *names, name_item, (void **)&names, &n, &err),
        TD_ERR_LIMIT);
    assert_null(names);
    /* an empty result under a cap of 0 is fine */
    const int64_t none = 100;
    assert_int_equal(td_store_read_rows(s, sql, &none, 1, 0, sizeof *names, name_item,
                                        (void **)&names, &n, &err),
                     TD_OK);
    assert_int_equal(n, 0);
    td_free(names);
    td_store_close(s);
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
        cmocka_unit_test(test_migrate_and_params),    cmocka_unit_test(test_transaction_helper),
        cmocka_unit_test(test_read_rows_cap),         cmocka_unit_test(test_concurrent_readers),
        cmocka_unit_test(test_background_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
