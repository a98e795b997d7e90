/* Signal values as stored (SQLite): raw bytes of the right length for every type, and a database
 * from before migration 7 (values as hex text) converted on open without a change anyone can see:
 * the same values read back, the same export, the same matches, duplicates still refused (by
 * td_signal_add and by an import). The expectation is the values given, not the code's reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"
#include "takedown/casework.h"

#define PDQ_HEX "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
#define MD5_HEX "d41d8cd98f00b204e9800998ecf8427e"
#define SHA_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define URL_MD5_HEX "0cc175b9c0f1b6a831c399e269772661"

static const struct {
    td_signal_type type;
    const char *value;
    size_t bytes;
} hashes[] = {
    {TD_SIGNAL_PDQ, PDQ_HEX, 32},
    {TD_SIGNAL_MD5, MD5_HEX, 16},
    {TD_SIGNAL_SHA256, SHA_HEX, 32},
    {TD_SIGNAL_URL_MD5, URL_MD5_HEX, 16},
};
enum { N_HASHES = sizeof hashes / sizeof hashes[0] };

typedef struct grow {
    char *s;
    size_t n;
} grow;

static int collect(void *ctx, const char *data, size_t len)
{
    grow *g = ctx;
    char *p = realloc(g->s, g->n + len + 1);
    assert_non_null(p);
    memcpy(p + g->n, data, len);
    g->n += len;
    p[g->n] = '\0';
    g->s = p;
    return 0;
}

static char *export_lines(td_service *svc)
{
    grow g = {NULL, 0};
    td_error err;
    assert_int_equal(td_export(svc, "VALUES", TD_LIST_LINES, 1, collect, &g, &err), TD_OK);
    assert_non_null(g.s);
    return g.s;
}

/* Runs sql on the service's database file directly. */
static void sql_on(const char *dir, const char *sql)
{
    char path[4200];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/takedown.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

static int64_t sql_count(const char *dir, const char *sql)
{
    char path[4200];
    sqlite3 *db;
    sqlite3_stmt *q;
    snprintf(path, sizeof path, "%s/takedown.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static size_t pdq_matches(td_service *svc, const char *hex)
{
    td_hashes h;
    td_check_result res;
    td_error err;
    td_hashes_init(&h);
    assert_int_equal(td_pdq_from_hex(hex, 64, &h.pdq[0]), TD_OK);
    h.n_pdq = 1;
    assert_int_equal(td_check_hashes(svc, &h, NULL, &res, &err), TD_OK);
    size_t n = res.match_count;
    td_check_result_clear(&res);
    return n;
}

static size_t md5_matches(td_service *svc, const char *hex)
{
    td_hashes h;
    td_check_result res;
    td_error err;
    td_hashes_init(&h);
    snprintf(h.md5, sizeof h.md5, "%s", hex);
    assert_int_equal(td_check_hashes(svc, &h, NULL, &res, &err), TD_OK);
    size_t n = res.match_count;
    td_check_result_clear(&res);
    return n;
}

static void test_values_and_migration(void **state)
{
    (void)state;
    const char *tmp = test_fresh_dir("values-XXXXXX");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tmp);
    td_service *svc = test_open_service(dir);
    td_error err;
    td_bank bank;
    td_bank_init(&bank);
    snprintf(bank.name, sizeof bank.name, "VALUES");
    assert_int_equal(td_bank_create(svc, &bank, NULL, &err), TD_OK);
    int64_t ids[N_HASHES + 1];
    for (size_t i = 0; i < N_HASHES; i++) {
        td_signal_input in;
        td_signal out;
        td_signal_input_init(&in);
        in.type = hashes[i].type;
        in.value = hashes[i].value;
        assert_int_equal(td_signal_add(svc, "VALUES", &in, &out, &err), TD_OK);
        ids[i] = out.id;
    }
    td_signal_input in;
    td_signal out;
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_URL;
    in.value = "https://example.org/a/b";
    assert_int_equal(td_signal_add(svc, "VALUES", &in, &out, &err), TD_OK);
    ids[N_HASHES] = out.id;
    char url_value[65];
    snprintf(url_value, sizeof url_value, "%s", out.value);
    assert_int_equal(strlen(url_value), 64);
    char *before = export_lines(svc);
    assert_non_null(strstr(before, "pdq " PDQ_HEX "\n"));
    assert_non_null(strstr(before, "md5 " MD5_HEX "\n"));
    td_service_close(svc);

    /* Stored as bytes of the type's length. */
    assert_int_equal(sql_count(dir, "SELECT COUNT(*) FROM signals WHERE typeof(value) <> 'blob'"),
                     0);
    for (size_t i = 0; i < N_HASHES; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT length(value) FROM signals WHERE id = %lld",
                 (long long)ids[i]);
        assert_int_equal(sql_count(dir, sql), (int64_t)hashes[i].bytes);
    }

    /* As a database from before migration 7 held them (and without what later migrations
     * added: content sources, migration 8; change-log banks, 9; incidents of matches, 10; bank
     * matching ratios, bank content and signal type ratios, 11; reason codes, queues and QA,
     * 12), then opened again. */
    sql_on(dir, "UPDATE signals SET value = lower(hex(value));"
                "DROP TABLE qa_reviews;"
                "DROP TABLE case_queues;"
                "DROP INDEX matches_signal;"
                "DROP INDEX content_uploader;"
                "ALTER TABLE decisions DROP COLUMN reason_code;"
                "ALTER TABLE content DROP COLUMN source;"
                "ALTER TABLE changes DROP COLUMN bank_id;"
                "ALTER TABLE matches DROP COLUMN incident_id;"
                "ALTER TABLE matches DROP COLUMN incident_action;"
                "ALTER TABLE banks DROP COLUMN enabled_ratio;"
                "DROP INDEX signals_bank_content;"
                "ALTER TABLE signals DROP COLUMN bank_content_id;"
                "DROP TABLE bank_content;"
                "DROP TABLE signal_type_ratios;"
                "DELETE FROM schema_migrations WHERE version >= 7;");
    assert_int_equal(sql_count(dir, "SELECT COUNT(*) FROM signals WHERE typeof(value) = 'text'"),
                     N_HASHES + 1);
    svc = test_open_service(dir);
    assert_int_equal(sql_count(dir, "SELECT COUNT(*) FROM signals WHERE typeof(value) <> 'blob'"),
                     0);
    for (size_t i = 0; i < N_HASHES; i++) {
        td_signal s;
        assert_int_equal(td_signal_get(svc, "VALUES", ids[i], &s, &err), TD_OK);
        assert_string_equal(s.value, hashes[i].value);
    }
    assert_int_equal(td_signal_get(svc, "VALUES", ids[N_HASHES], &out, &err), TD_OK);
    assert_string_equal(out.value, url_value);
    char *after = export_lines(svc);
    assert_string_equal(after, before);
    assert_int_equal(pdq_matches(svc, PDQ_HEX), 1);
    assert_int_equal(md5_matches(svc, MD5_HEX), 1);
    assert_int_equal(md5_matches(svc, "00000000000000000000000000000000"), 0);

    /* Duplicates are still found against the converted values. */
    td_signal_input_init(&in);
    in.type = TD_SIGNAL_SHA256;
    in.value = SHA_HEX;
    assert_int_equal(td_signal_add(svc, "VALUES", &in, &out, &err), TD_ERR_CONFLICT);
    assert_int_equal(out.id, ids[2]);
    const char list[] = "pdq " PDQ_HEX "\nmd5 " MD5_HEX "\nmd5 ffffffffffffffffffffffffffffffff\n";
    td_import_options o;
    td_import_result res;
    td_import_options_init(&o);
    assert_int_equal(td_import_buffer(svc, "VALUES", list, sizeof list - 1, &o, &res, &err), TD_OK);
    assert_int_equal(res.added, 1);
    assert_int_equal(res.duplicates, 2);
    td_import_result_clear(&res);
    assert_int_equal(md5_matches(svc, "ffffffffffffffffffffffffffffffff"), 1);
    td_service_close(svc);
    free(before);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_migration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
