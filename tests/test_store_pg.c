/* The store contract on a real PostgreSQL server (TD_TEST_STORE_URL; make test starts one with
 * scripts/pg-test.sh): types, NULLs, blobs with zero bytes, conflicts, transactions and rollback,
 * migrations, the statement cache, readers beside the writer, the writer lock that keeps the
 * change log commit-ordered across nodes, and two service nodes sharing one database. Each test
 * works in a schema of its own. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/store_url.h"
#include "support/support.h"
#include "takedown/casework.h"
#include "takedown/hash.h"
#include "takedown/store.h"

static void check(td_status st, const td_error *err)
{
    if (st)
        fail_msg("%s: %s", td_strerror(st), err->message);
}

/* A fresh schema (through a fresh data-directory name) and its URL, copied. */
static char *fresh_url(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", temp_path("pg-XXXXXX"));
    assert_non_null(mkdtemp(dir));
    const char *url = td_test_store_url(dir);
    assert_non_null(url);
    char *copy = strdup(url);
    assert_non_null(copy);
    return copy;
}

static td_store *open_store(const char *url, unsigned readers)
{
    td_store_options o;
    td_store *s = NULL;
    td_error err;
    td_store_options_default(&o);
    o.readers = readers;
    check(td_store_open(url, &o, &s, &err), &err);
    assert_string_equal(td_store_backend(s), "postgresql");
    return s;
}

static void exec_ok(td_store_conn *c, const char *sql)
{
    td_error err;
    check(td_store_exec(c, sql, &err), &err);
}

static void test_types_nulls_blobs(void **state)
{
    (void)state;
    char *url = fresh_url();
    td_store *s = open_store(url, 2);
    td_store_conn *c;
    td_stmt *q;
    td_error err;
    int row;
    int64_t changes = 0;
    check(td_store_acquire(s, 1, &c, &err), &err);
    /* SQLite spellings, translated: INTEGER PRIMARY KEY, INTEGER, BLOB. */
    exec_ok(c, "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, big BIGINT, s TEXT,"
               " b BLOB, flag INTEGER)");
    const unsigned char bytes[] = {0, 1, 0, 255, 0, '\\', 'x', 0};
    check(td_store_prepare(c,
                           "INSERT INTO t (i, big, s, b, flag) VALUES ($1, $2, $3, $4, $5)"
                           " RETURNING id",
                           &q, &err),
          &err);
    check(td_stmt_bind_int64(q, 1, INT64_MIN, &err), &err);
    check(td_stmt_bind_int64(q, 2, INT64_MAX, &err), &err);
    check(td_stmt_bind_text(q, 3, "h\xc3\xa9llo 'quoted' \\ end", (size_t)-1, &err), &err);
    check(td_stmt_bind_blob(q, 4, bytes, sizeof bytes, &err), &err);
    check(td_stmt_bind_int64(q, 5, 1, &err), &err);
    check(td_stmt_step(q, &row, &err), &err);
    assert_int_equal(row, 1);
    int64_t id1 = td_stmt_column_int64(q, 0);
    assert_true(id1 >= 1);
    td_stmt_reset(q);
    /* NULLs everywhere; an empty blob is not NULL. */
    check(td_store_prepare(c,
                           "INSERT INTO t (i, big, s, b, flag) VALUES ($1, $2, $3, $4, $5)"
                           " RETURNING id",
                           &q, &err),
          &err);
    check(td_stmt_bind_null(q, 1, &err), &err);
    check(td_stmt_bind_null(q, 2, &err), &err);
    check(td_stmt_bind_text(q, 3, NULL, 0, &err), &err);
    check(td_stmt_bind_blob(q, 4, "", 0, &err), &err);
    check(td_stmt_bind_int64(q, 5, 0, &err), &err);
    check(td_stmt_step(q, &row, &err), &err);
    int64_t id2 = td_stmt_column_int64(q, 0);
    assert_true(id2 > id1);
    td_stmt_reset(q);

    check(td_store_prepare(c, "SELECT i, big, s, b, flag = 1, i IS NULL FROM t WHERE id = $1", &q,
                           &err),
          &err);
    check(td_stmt_bind_int64(q, 1, id1, &err), &err);
    check(td_stmt_step(q, &row, &err), &err);
    assert_int_equal(row, 1);
    assert_true(td_stmt_column_int64(q, 0) == INT64_MIN);
    assert_true(td_stmt_column_int64(q, 1) == INT64_MAX);
    assert_string_equal(td_stmt_column_text(q, 2), "h\xc3\xa9llo 'quoted' \\ end");
    assert_int_equal(td_stmt_column_bytes(q, 3), sizeof bytes);
    assert_memory_equal(td_stmt_column_blob(q, 3), bytes, sizeof bytes);
    assert_int_equal(td_stmt_column_int64(q, 4), 1); /* a boolean reads as 1 / 0 */
    assert_int_equal(td_stmt_column_int64(q, 5), 0);
    assert_false(td_stmt_column_is_null(q, 0));
    check(td_stmt_step(q, &row, &err), &err);
    assert_int_equal(row, 0);

    check(td_store_prepare(c, "SELECT i, big, s, b, flag = 1, i IS NULL FROM t WHERE id = $1", &q,
                           &err),
          &err);
    check(td_stmt_bind_int64(q, 1, id2, &err), &err);
    check(td_stmt_step(q, &row, &err), &err);
    assert_int_equal(row, 1);
    assert_true(td_stmt_column_is_null(q, 0));
    assert_int_equal(td_stmt_column_int64(q, 0), 0);
    assert_true(td_stmt_column_is_null(q, 2));
    assert_non_null(td_stmt_column_text(q, 2)); /* never NULL */
    assert_string_equal(td_stmt_column_text(q, 2), "");
    assert_false(td_stmt_column_is_null(q, 3));
    assert_int_equal(td_stmt_column_bytes(q, 3), 0);
    assert_int_equal(td_stmt_column_int64(q, 4), 0);
    assert_int_equal(td_stmt_column_int64(q, 5), 1);
    td_stmt_reset(q);

    /* Aggregates (COUNT is bigint, SUM numeric) read as integers; changes are counted. */
    check(td_store_prepare(c, "UPDATE t SET flag = flag + 1", &q, &err), &err);
    check(td_stmt_run(q, &changes, &err), &err);
    assert_int_equal(changes, 2);
    check(td_store_prepare(c, "SELECT COUNT(*), SUM(flag), COALESCE(MAX(id), 0) FROM t", &q, &err),
          &err);
    check(td_stmt_step(q, &row, &err), &err);
    assert_int_equal(td_stmt_column_int64(q, 0), 2);
    assert_int_equal(td_stmt_column_int64(q, 1), 3);
    assert_true(td_stmt_column_int64(q, 2) == id2);
    td_stmt_reset(q);
    /* Text into a BYTEA parameter goes as bytes (a backslash is no escape). */
    check(td_store_prepare(c, "SELECT b FROM t WHERE b = $1", &q, &err), &err);
    check(td_stmt_bind_text(q, 1, "a\\b", (size_t)-1, &err), &err);
    check(td_stmt_step(q, &row, &err), &err);
    assert_int_equal(row, 0);
    td_store_release(s, c);
    td_store_close(s);
    free(url);
}

static void test_conflicts_and_errors(void **state)
{
    (void)state;
    char *url = fresh_url();
    td_store *s = open_store(url, 1);
    td_store_conn *c;
    td_stmt *q;
    td_error err;
    int64_t changes = -1;
    check(td_store_acquire(s, 1, &c, &err), &err);
    exec_ok(c, "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
               "CREATE TABLE k (id INTEGER PRIMARY KEY, p_id INTEGER NOT NULL REFERENCES p(id))");
    exec_ok(c, "INSERT INTO p (name) VALUES ('a')");
    check(td_store_prepare(c, "INSERT INTO p (name) VALUES ($1)", &q, &err), &err);
    check(td_stmt_bind_text(q, 1, "a", (size_t)-1, &err), &err);
    assert_int_equal(td_stmt_run(q, NULL, &err), TD_ERR_CONFLICT);
    check(td_store_prepare(c, "INSERT INTO k (p_id) VALUES ($1)", &q, &err), &err);
    check(td_stmt_bind_int64(q, 1, 999, &err), &err);
    assert_int_equal(td_stmt_run(q, NULL, &err), TD_ERR_CONFLICT);
    /* ON CONFLICT DO NOTHING: no error, no change. */
    check(td_store_prepare(c, "INSERT INTO p (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", &q,
                           &err),
          &err);
    check(td_stmt_bind_text(q, 1, "a", (size_t)-1, &err), &err);
    check(td_stmt_run(q, &changes, &err), &err);
    assert_int_equal(changes, 0);
    /* SQL errors are statuses; the connection stays usable. */
    assert_int_equal(td_store_prepare(c, "SELEC nothing", &q, &err), TD_ERR_INTERNAL);
    assert_int_equal(td_store_exec(c, "SELECT * FROM no_such_table", &err), TD_ERR_INTERNAL);
    check(td_store_prepare(c, "SELECT $2, $1", &q, &err), &err); /* types unknown: text */
    assert_int_equal(td_stmt_bind_int64(q, 3, 1, &err), TD_ERR_INTERNAL);
    /* A failed prepare inside a transaction does not abort it. */
    check(td_store_begin(c, &err), &err);
    exec_ok(c, "INSERT INTO p (name) VALUES ('in-tx')");
    assert_int_equal(td_store_prepare(c, "SELECT * FROM nothing_here", &q, &err), TD_ERR_INTERNAL);
    check(td_store_commit(c, &err), &err);
    td_store_release(s, c);
    td_store_close(s);

    /* Connection failures name the host, never the password. */
    td_store *bad = NULL;
    assert_int_equal(
        td_store_open("postgresql://someone:pw-s3cret@127.0.0.1:1/db?connect_timeout=2", NULL, &bad,
                      &err),
        TD_ERR_IO);
    assert_null(bad);
    assert_non_null(strstr(err.message, "127.0.0.1"));
    assert_null(strstr(err.message, "pw-s3cret"));
    free(url);
}

static int64_t count_rows(td_store *s, const char *sql)
{
    td_store_conn *c;
    td_stmt *q;
    td_error err;
    int row;
    check(td_store_acquire(s, 0, &c, &err), &err);
    check(td_store_prepare(c, sql, &q, &err), &err);
    check(td_stmt_step(q, &row, &err), &err);
    int64_t n = td_stmt_column_int64(q, 0);
    td_store_release(s, c);
    return n;
}

static void test_transactions(void **state)
{
    (void)state;
    char *url = fresh_url();
    td_store *s = open_store(url, 2);
    td_store_conn *c;
    td_error err;
    check(td_store_acquire(s, 1, &c, &err), &err);
    exec_ok(c, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)");
    check(td_store_begin(c, &err), &err);
    assert_true(td_store_in_transaction(c));
    exec_ok(c, "INSERT INTO t (v) VALUES ('rolled back')");
    td_store_rollback(c);
    assert_false(td_store_in_transaction(c));
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM t"), 0);
    /* Uncommitted rows are not seen by readers; committed ones are. */
    check(td_store_begin(c, &err), &err);
    exec_ok(c, "INSERT INTO t (v) VALUES ('kept')");
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM t"), 0);
    check(td_store_commit(c, &err), &err);
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM t"), 1);
    /* A failed statement aborts the transaction on PostgreSQL: the caller rolls back, and the
     * connection is usable again. */
    check(td_store_begin(c, &err), &err);
    assert_int_equal(td_store_exec(c, "INSERT INTO t (v) VALUES ('kept')", &err), TD_ERR_CONFLICT);
    td_store_rollback(c);
    /* Releasing with a transaction open rolls it back. */
    check(td_store_begin(c, &err), &err);
    exec_ok(c, "INSERT INTO t (v) VALUES ('left open')");
    td_store_release(s, c);
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM t"), 1);
    check(td_store_acquire(s, 1, &c, &err), &err);
    assert_false(td_store_in_transaction(c));
    check(td_store_commit(c, &err) == TD_OK ? TD_ERR_INTERNAL : TD_OK, &err);
    td_store_release(s, c);
    td_store_close(s);
    free(url);
}

static void test_migrations(void **state)
{
    (void)state;
    char *url = fresh_url();
    td_store *s = open_store(url, 1);
    td_error err;
    int version = 0;
    const td_store_migration list[] = {
        {1, "first", "CREATE TABLE m (id INTEGER PRIMARY KEY, b BLOB NOT NULL)", NULL},
        /* The PostgreSQL variant wins when it is set. */
        {2, "second", "CREATE TABLE only_sqlite (x INTEGER)",
         "CREATE TABLE only_pg (x BIGINT, CHECK (x >= 0))"},
    };
    check(td_store_migrate(s, list, 1, &version, &err), &err);
    assert_int_equal(version, 1);
    check(td_store_migrate(s, list, 2, &version, &err), &err);
    assert_int_equal(version, 2);
    check(td_store_migrate(s, list, 2, &version, &err), &err); /* nothing to do */
    assert_int_equal(version, 2);
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM only_pg"), 0);
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM schema_migrations"), 2);
    /* A database newer than the build is refused. */
    assert_int_equal(td_store_migrate(s, list, 1, &version, &err), TD_ERR_UNSUPPORTED);
    /* A failing migration leaves nothing behind. */
    const td_store_migration broken[] = {
        {1, "first", "", NULL},
        {2, "second", "", NULL},
        {3, "broken", "CREATE TABLE half (x INTEGER); SELECT * FROM missing", NULL},
    };
    assert_int_equal(td_store_migrate(s, broken, 3, &version, &err), TD_ERR_INTERNAL);
    assert_non_null(strstr(err.message, "migration 3"));
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM schema_migrations"), 2);
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'half'"), 0);
    td_store_close(s);
    free(url);
}

static void test_statement_cache(void **state)
{
    (void)state;
    char *url = fresh_url();
    td_store *s = open_store(url, 1);
    td_store_conn *c;
    td_stmt *a, *b;
    td_error err;
    int row;
    check(td_store_acquire(s, 1, &c, &err), &err);
    exec_ok(c, "CREATE TABLE t (x BIGINT, y TEXT)");
    check(td_store_prepare(c, "INSERT INTO t (y, x) VALUES ($2, $1)", &a, &err), &err);
    char copy[] = "INSERT INTO t (y, x) VALUES ($2, $1)";
    check(td_store_prepare(c, copy, &b, &err), &err);
    assert_ptr_equal(a, b); /* the same text, another pointer: the same statement */
    for (int i = 0; i < 100; i++) {
        char y[16];
        snprintf(y, sizeof y, "v%d", i);
        check(td_store_prepare(c, "INSERT INTO t (y, x) VALUES ($2, $1)", &a, &err), &err);
        assert_ptr_equal(a, b);
        check(td_stmt_bind_text(a, 2, y, (size_t)-1, &err), &err);
        check(td_stmt_bind_int64(a, 1, i, &err), &err);
        check(td_stmt_run(a, NULL, &err), &err);
    }
    /* Bindings are cleared between uses: an unbound parameter is NULL. */
    check(td_store_prepare(c, "INSERT INTO t (y, x) VALUES ($2, $1)", &a, &err), &err);
    check(td_stmt_bind_int64(a, 1, 1000, &err), &err);
    check(td_stmt_run(a, NULL, &err), &err);
    check(td_store_prepare(c, "SELECT COUNT(*), SUM(x), COUNT(y) FROM t", &a, &err), &err);
    check(td_stmt_step(a, &row, &err), &err);
    assert_int_equal(td_stmt_column_int64(a, 0), 101);
    assert_int_equal(td_stmt_column_int64(a, 1), 4950 + 1000);
    assert_int_equal(td_stmt_column_int64(a, 2), 100);
    /* Rows stay readable across statements on the same connection (results are fetched). */
    check(td_store_prepare(c, "SELECT x FROM t WHERE y IS NOT NULL ORDER BY x", &a, &err), &err);
    check(td_store_prepare(c, "SELECT y FROM t WHERE x = $1", &b, &err), &err);
    int64_t n = 0;
    while (td_stmt_step(a, &row, &err) == TD_OK && row) {
        check(td_store_prepare(c, "SELECT y FROM t WHERE x = $1", &b, &err), &err);
        check(td_stmt_bind_int64(b, 1, td_stmt_column_int64(a, 0), &err), &err);
        check(td_stmt_step(b, &row, &err), &err);
        char want[32];
        snprintf(want, sizeof want, "v%lld", (long long)n++);
        assert_string_equal(td_stmt_column_text(b, 0), want);
    }
    assert_int_equal(n, 100);
    td_store_release(s, c);
    td_store_close(s);
    free(url);
}

/* ---- readers beside the writer ---- */

typedef struct reader_arg {
    td_store *s;
    volatile int *stop;
    int failures;
    int reads;
} reader_arg;

static void *reader_main(void *p)
{
    reader_arg *a = p;
    int64_t last = 0;
    while (!*a->stop) {
        td_store_conn *c;
        td_stmt *q;
        td_error err;
        int row;
        if (td_store_acquire(a->s, 0, &c, &err) || td_store_begin(c, &err) ||
            td_store_prepare(c, "SELECT COUNT(*), COALESCE(SUM(v), 0) FROM t", &q, &err) ||
            td_stmt_step(q, &row, &err) || !row) {
            a->failures++;
            td_store_release(a->s, c);
            continue;
        }
        int64_t n = td_stmt_column_int64(q, 0), sum = td_stmt_column_int64(q, 1);
        /* Each transaction adds 10 rows of v = 1: a snapshot never sees half of one. */
        if (n % 10 != 0 || sum != n || n < last)
            a->failures++;
        last = n;
        td_store_rollback(c);
        td_store_release(a->s, c);
        a->reads++;
    }
    return NULL;
}

static void test_readers_and_writer(void **state)
{
    (void)state;
    char *url = fresh_url();
    td_store *s = open_store(url, 4);
    td_store_conn *c;
    td_error err;
    check(td_store_acquire(s, 1, &c, &err), &err);
    exec_ok(c, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)");
    td_store_release(s, c);
    volatile int stop = 0;
    reader_arg args[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (reader_arg){s, &stop, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
    }
    for (int t = 0; t < 100; t++) {
        td_stmt *q;
        check(td_store_acquire(s, 1, &c, &err), &err);
        check(td_store_begin(c, &err), &err);
        for (int k = 0; k < 10; k++) {
            check(td_store_prepare(c, "INSERT INTO t (v) VALUES ($1)", &q, &err), &err);
            check(td_stmt_bind_int64(q, 1, 1, &err), &err);
            check(td_stmt_run(q, NULL, &err), &err);
        }
        check(td_store_commit(c, &err), &err);
        td_store_release(s, c);
    }
    stop = 1;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
        assert_true(args[i].reads > 0);
    }
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM t"), 1000);
    td_store_close(s);
    free(url);
}

/* ---- the writer lock: a log written by several nodes stays commit-ordered ---- */

enum { NODES = 3, TX_PER_NODE = 150 };

typedef struct node_arg {
    const char *url;
    int node;
    int failures;
} node_arg;

static void *node_main(void *p)
{
    node_arg *a = p;
    td_store *s = open_store(a->url, 1);
    for (int t = 0; t < TX_PER_NODE; t++) {
        td_store_conn *c;
        td_stmt *q;
        td_error err;
        if (td_store_acquire(s, 1, &c, &err) || td_store_begin(c, &err) ||
            td_store_prepare(c, "INSERT INTO log (node, n) VALUES ($1, $2)", &q, &err) ||
            td_stmt_bind_int64(q, 1, a->node, &err) || td_stmt_bind_int64(q, 2, t, &err) ||
            td_stmt_run(q, NULL, &err)) {
            a->failures++;
            td_store_release(s, c);
            continue;
        }
        if (t % 7 == 0)
            usleep(200); /* hold the lock a little: others queue behind it */
        if (td_store_commit(c, &err))
            a->failures++;
        td_store_release(s, c);
    }
    td_store_close(s);
    return NULL;
}

static void test_log_commit_order(void **state)
{
    (void)state;
    char *url = fresh_url();
    td_store *s = open_store(url, 1);
    td_store_conn *c;
    td_error err;
    check(td_store_acquire(s, 1, &c, &err), &err);
    exec_ok(c, "CREATE TABLE log (seq INTEGER PRIMARY KEY, node INTEGER NOT NULL,"
               " n INTEGER NOT NULL)");
    td_store_release(s, c);
    node_arg args[NODES];
    pthread_t th[NODES];
    for (int i = 0; i < NODES; i++) {
        args[i] = (node_arg){url, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, node_main, &args[i]), 0);
    }
    /* A follower: reads seq > last, as td_service_follow does. With seq commit-ordered, every
     * entry is seen exactly once, and the entries seen come in seq order. */
    int64_t last = 0, seen = 0, total = (int64_t)NODES * TX_PER_NODE;
    for (int spins = 0; seen < total && spins < 200000; spins++) {
        td_stmt *q;
        int row;
        check(td_store_acquire(s, 0, &c, &err), &err);
        check(td_store_prepare(c, "SELECT seq FROM log WHERE seq > $1 ORDER BY seq", &q, &err),
              &err);
        check(td_stmt_bind_int64(q, 1, last, &err), &err);
        while (td_stmt_step(q, &row, &err) == TD_OK && row) {
            last = td_stmt_column_int64(q, 0);
            seen++;
        }
        td_store_release(s, c);
    }
    for (int i = 0; i < NODES; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM log"), total);
    assert_int_equal(seen, total); /* no entry skipped */
    td_store_close(s);
    free(url);
}

/* ---- two service nodes on one database ---- */

static td_service *open_node(const char *dir, const char *url)
{
    td_service_options o;
    td_service *svc = NULL;
    td_error err;
    td_service_options_default(&o);
    o.webhook_worker = 0;
    o.follow_interval_ms = 0;
    o.store_url = url;
    check(td_service_open(dir, &o, &svc, &err), &err);
    return svc;
}

static td_pdq pdq_of(uint64_t seed)
{
    td_pdq p;
    for (int i = 0; i < 16; i++)
        p.w[i] = (uint16_t)test_rand(&seed);
    return p;
}

static void add_pdq(td_service *svc, const td_pdq *p)
{
    td_signal_input in;
    td_signal out;
    td_error err;
    char hex[65];
    td_signal_input_init(&in);
    td_pdq_to_hex(p, hex);
    in.value = hex;
    check(td_signal_add(svc, "SHARED", &in, &out, &err), &err);
}

static size_t matches(td_service *svc, const td_pdq *p)
{
    td_hashes h;
    td_check_result res;
    td_error err;
    td_hashes_init(&h);
    h.pdq[0] = *p;
    h.n_pdq = 1;
    check(td_check_hashes(svc, &h, NULL, &res, &err), &err);
    size_t n = res.match_count;
    td_check_result_clear(&res);
    return n;
}

typedef struct adder_arg {
    td_service *svc;
    uint64_t first;
} adder_arg;

enum { ADDS = 120 };

static void *adder_main(void *p)
{
    adder_arg *a = p;
    for (uint64_t i = 0; i < ADDS; i++) {
        td_pdq q = pdq_of(a->first + i);
        add_pdq(a->svc, &q);
    }
    return NULL;
}

static void test_two_nodes(void **state)
{
    (void)state;
    char dir_a[4096], dir_b[4096];
    snprintf(dir_a, sizeof dir_a, "%s", temp_path("node-a-XXXXXX"));
    snprintf(dir_b, sizeof dir_b, "%s", temp_path("node-b-XXXXXX"));
    assert_non_null(mkdtemp(dir_a));
    assert_non_null(mkdtemp(dir_b));
    char *url = strdup(td_test_store_url(dir_a)); /* the database of node A, shared */
    assert_non_null(url);
    td_service *a = open_node(dir_a, url);
    td_service *b = open_node(dir_b, url);
    td_error err;
    td_bank bank;
    td_bank_init(&bank);
    snprintf(bank.name, sizeof bank.name, "SHARED");
    bank.action = TD_ACTION_BLOCK;
    check(td_bank_create(a, &bank, NULL, &err), &err);
    /* A signal added on A is matched on B once B follows the log. */
    td_pdq p = pdq_of(424242);
    add_pdq(a, &p);
    assert_int_equal(matches(a, &p), 1);
    uint64_t applied = 0;
    check(td_service_follow(b, &applied, &err), &err);
    assert_true(applied >= 1);
    assert_int_equal(matches(b, &p), 1);
    /* Concurrent writes from both nodes: after following, each node has every signal, so the
     * log skipped no entry on either. */
    adder_arg args[4] = {{a, 1000}, {b, 2000}, {a, 3000}, {b, 4000}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, adder_main, &args[i]), 0);
    /* Follow while the others write: a follower racing the writers must not skip anything. */
    for (int i = 0; i < 50; i++) {
        check(td_service_follow(a, NULL, &err), &err);
        check(td_service_follow(b, NULL, &err), &err);
        usleep(2000);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    check(td_service_follow(a, NULL, &err), &err);
    check(td_service_follow(b, NULL, &err), &err);
    td_service_stats sa, sb;
    check(td_service_get_stats(a, &sa, &err), &err);
    check(td_service_get_stats(b, &sb, &err), &err);
    assert_int_equal(sa.pdq_indexed, 1 + 4 * ADDS);
    assert_int_equal(sb.pdq_indexed, 1 + 4 * ADDS);
    assert_int_equal(sa.log_sequence, sb.log_sequence);
    for (int i = 0; i < 4; i++)
        for (uint64_t k = 0; k < ADDS; k += 17) {
            td_pdq q = pdq_of(args[i].first + k);
            assert_int_equal(matches(a, &q), 1);
            assert_int_equal(matches(b, &q), 1);
        }
    td_service_close(b);
    td_service_close(a);
    /* A third node starting now loads the same state. */
    td_service *c = open_node(dir_b, url);
    td_service_stats sc;
    check(td_service_get_stats(c, &sc, &err), &err);
    assert_int_equal(sc.pdq_indexed, 1 + 4 * ADDS);
    td_service_close(c);
    free(url);
}

int main(void)
{
    if (!getenv("TD_TEST_STORE_URL") || !*getenv("TD_TEST_STORE_URL")) {
        fprintf(stderr, "test_store_pg: TD_TEST_STORE_URL is not set (make test sets it)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_nulls_blobs), cmocka_unit_test(test_conflicts_and_errors),
        cmocka_unit_test(test_transactions),      cmocka_unit_test(test_migrations),
        cmocka_unit_test(test_statement_cache),   cmocka_unit_test(test_readers_and_writer),
        cmocka_unit_test(test_log_commit_order),  cmocka_unit_test(test_two_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
