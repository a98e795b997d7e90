/* The audit log's export and its offline verification (td_audit_export,
 * td_audit_export_check_*, `takedown audit export` / `audit verify --export`): an export of a
 * log with several checkpoints verifies with the public key alone, and every kind of tampering
 * with the file is reported: an edited entry (with or without its leaf hash recomputed), a
 * removed, reordered or duplicated entry, a forged checkpoint, a cut-short file, another log's
 * key, a line that is not JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "support/fake_clock.h"
#include "support/support.h"
#include "takedown/audit.h"
#include "takedown/store.h"

#define N_ENTRIES 350
#define MAX_LINES 512

/* An export held as lines. */
typedef struct lines {
    char *line[MAX_LINES];
    size_t n;
} lines;

static int collect(void *ctx, const char *line, size_t len)
{
    lines *l = ctx;
    assert_true(l->n < MAX_LINES);
    l->line[l->n] = malloc(len + 1);
    assert_non_null(l->line[l->n]);
    memcpy(l->line[l->n], line, len);
    l->line[l->n][len] = '\0';
    l->n++;
    return 0;
}

static void lines_copy(lines *dst, const lines *src)
{
    dst->n = src->n;
    for (size_t i = 0; i < src->n; i++) {
        dst->line[i] = strdup(src->line[i]);
        assert_non_null(dst->line[i]);
    }
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->line[i]);
    l->n = 0;
}

static void lines_drop(lines *l, size_t i)
{
    free(l->line[i]);
    memmove(&l->line[i], &l->line[i + 1], (l->n - i - 1) * sizeof l->line[0]);
    l->n--;
}

/* The index of the entry line of seq. */
static size_t entry_line(const lines *l, unsigned seq)
{
    char want[64];
    snprintf(want, sizeof want, "{\"type\":\"entry\",\"seq\":%u,", seq);
    for (size_t i = 0; i < l->n; i++)
        if (strncmp(l->line[i], want, strlen(want)) == 0)
            return i;
    fail_msg("no entry line for seq %u", seq);
    return 0;
}

/* Replaces member name of line i with a string value; with rehash, recomputes the leaf hash as
 * a careful forger would. */
static void edit_entry(lines *l, size_t i, const char *name, const char *value, int rehash)
{
    json_t *o = json_loads(l->line[i], 0, NULL);
    assert_non_null(o);
    json_object_set_new(o, name, json_string(value));
    if (rehash) {
        char *text;
        size_t len;
        uint8_t leaf[TD_AUDIT_HASH_LEN];
        char hex[2 * TD_AUDIT_HASH_LEN + 1];
        assert_int_equal(td_audit_entry_canonical(
                             (uint64_t)json_integer_value(json_object_get(o, "seq")),
                             json_integer_value(json_object_get(o, "time_ms")),
                             json_string_value(json_object_get(o, "actor")),
                             json_string_value(json_object_get(o, "action")),
                             json_string_value(json_object_get(o, "object")),
                             json_string_value(json_object_get(o, "details")), &text, &len, NULL),
                         TD_OK);
        td_audit_leaf_hash(text, len, leaf);
        td_free(text);
        sodium_bin2hex(hex, sizeof hex, leaf, sizeof leaf);
        json_object_set_new(o, "leaf_hash", json_string(hex));
    }
    free(l->line[i]);
    l->line[i] = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
}

static td_audit_report check(const lines *l, const uint8_t pub[TD_AUDIT_PUBKEY_LEN])
{
    td_audit_export_check *x;
    td_audit_report rep;
    assert_int_equal(td_audit_export_check_new(pub, &x, NULL), TD_OK);
    for (size_t i = 0; i < l->n; i++)
        assert_int_equal(td_audit_export_check_line(x, l->line[i], strlen(l->line[i]), NULL),
                         TD_OK);
    td_audit_export_check_finish(x, &rep);
    td_audit_export_check_free(x);
    return rep;
}

static void expect_problem(const lines *l, const uint8_t *pub, int64_t seq, const char *text)
{
    td_audit_report rep = check(l, pub);
    if (rep.ok)
        fail_msg("tampering not detected (expected: %s)", text);
    if (!strstr(rep.problem, text))
        fail_msg("problem '%s', expected one mentioning '%s'", rep.problem, text);
    if (seq != -2 && rep.first_bad_seq != seq)
        fail_msg("first_bad_seq %lld, expected %lld (%s)", (long long)rep.first_bad_seq,
                 (long long)seq, rep.problem);
}

static struct {
    char dir[1024];
    lines exp;
    uint8_t pub[TD_AUDIT_PUBKEY_LEN];
} G;

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    snprintf(G.dir, sizeof G.dir, "%s", temp_path("audit-export"));
    char cmd[2200], db[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", G.dir, G.dir);
    if (system(cmd) != 0)
        return -1;
    snprintf(db, sizeof db, "%s/takedown.db", G.dir);
    td_store *store;
    td_audit *log;
    td_audit_options o;
    td_audit_options_default(&o);
    o.clock.now_ms = fake_clock;
    o.checkpoint_entries = 100;
    o.checkpoint_interval_ms = 0;
    if (td_store_open(db, NULL, &store, NULL) != TD_OK ||
        td_audit_open(store, G.dir, &o, &log, NULL) != TD_OK)
        return -1;
    for (int i = 0; i < N_ENTRIES; i++) {
        char object[64], details[128];
        snprintf(object, sizeof object, "order:%d", i / 3);
        snprintf(details, sizeof details,
                 "{\"n\":%d,\"text\":\"quote \\\" tab \\t \xc3\xa9t\xc3\xa9\"}", i);
        if (td_audit_append(log, i % 2 ? "moderator-1" : "system", "order.escalated", object,
                            details, NULL, NULL) != TD_OK)
            return -1;
    }
    td_audit_public_key(log, G.pub);
    uint64_t entries = 0, checkpoints = 0;
    if (td_audit_export(log, collect, &G.exp, &entries, &checkpoints, NULL) != TD_OK)
        return -1;
    td_audit_close(log);
    td_store_close(store);
    /* 100, 200, 300 signed by the appends, 350 by the export. */
    return entries == N_ENTRIES && checkpoints == 4 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lines_free(&G.exp);
    return 0;
}

static void test_export_verifies(void **state)
{
    (void)state;
    td_audit_report rep = check(&G.exp, G.pub);
    if (!rep.ok)
        fail_msg("%s", rep.problem);
    assert_int_equal(rep.entries, N_ENTRIES);
    assert_int_equal(rep.checkpoints, 4);
    assert_int_equal(rep.uncovered, 0);
    assert_int_equal(G.exp.n, 1 + N_ENTRIES + 4);
    assert_non_null(strstr(G.exp.line[0], "\"type\":\"header\""));
    assert_non_null(strstr(G.exp.line[G.exp.n - 1], "\"type\":\"checkpoint\""));
    /* A trailing carriage return (a file passed through Windows) is tolerated. */
    lines l;
    lines_copy(&l, &G.exp);
    size_t i = entry_line(&l, 5);
    char *crlf = malloc(strlen(l.line[i]) + 2);
    assert_non_null(crlf);
    snprintf(crlf, strlen(l.line[i]) + 2, "%s\r", l.line[i]);
    free(l.line[i]);
    l.line[i] = crlf;
    assert_true(check(&l, G.pub).ok);
    lines_free(&l);
}

static void test_export_tampered(void **state)
{
    (void)state;
    lines l;
    /* An edited field: its leaf hash no longer matches. */
    lines_copy(&l, &G.exp);
    edit_entry(&l, entry_line(&l, 123), "details", "{\"n\":123,\"text\":\"nothing\"}", 0);
    expect_problem(&l, G.pub, 123, "entry 123 does not match its leaf hash");
    lines_free(&l);
    /* Edited with its leaf hash recomputed: the next signed root differs. */
    lines_copy(&l, &G.exp);
    edit_entry(&l, entry_line(&l, 123), "actor", "someone-else", 1);
    expect_problem(&l, G.pub, 199, "signed root differs");
    lines_free(&l);
    /* The same after the last append-time checkpoint: the export's own checkpoint. */
    lines_copy(&l, &G.exp);
    edit_entry(&l, entry_line(&l, 340), "action", "order.confirmed", 1);
    expect_problem(&l, G.pub, N_ENTRIES - 1, "signed root differs");
    lines_free(&l);
    /* A removed entry, two swapped, one duplicated. */
    lines_copy(&l, &G.exp);
    lines_drop(&l, entry_line(&l, 50));
    expect_problem(&l, G.pub, 50, "entry 51 where entry 50 was due");
    lines_free(&l);
    lines_copy(&l, &G.exp);
    size_t a = entry_line(&l, 10), b = entry_line(&l, 11);
    char *t = l.line[a];
    l.line[a] = l.line[b];
    l.line[b] = t;
    expect_problem(&l, G.pub, 10, "was due");
    lines_free(&l);
    lines_copy(&l, &G.exp);
    size_t i11 = entry_line(&l, 11);
    free(l.line[i11 + 1]); /* entry 12 becomes a second entry 11 */
    l.line[i11 + 1] = strdup(l.line[i11]);
    expect_problem(&l, G.pub, 12, "was due");
    lines_free(&l);
    /* A forged checkpoint: one signature byte. */
    lines_copy(&l, &G.exp);
    size_t cp = entry_line(&l, 99) + 1;
    char *sig = strstr(l.line[cp], "\"signature\":\"");
    assert_non_null(sig);
    sig += strlen("\"signature\":\"") + 5;
    *sig = *sig == '0' ? '1' : '0';
    expect_problem(&l, G.pub, -1, "bad signature");
    lines_free(&l);
    /* A checkpoint moved out of place. */
    lines_copy(&l, &G.exp);
    t = l.line[cp];
    l.line[cp] = l.line[cp + 1];
    l.line[cp + 1] = t;
    expect_problem(&l, G.pub, -1, "out of place");
    lines_free(&l);
    /* Cut short: the last checkpoint, then also the entries after 300. */
    lines_copy(&l, &G.exp);
    lines_drop(&l, l.n - 1);
    expect_problem(&l, G.pub, 300, "not covered by a signed checkpoint");
    while (!strstr(l.line[l.n - 1], "\"type\":\"checkpoint\""))
        lines_drop(&l, l.n - 1);
    expect_problem(&l, G.pub, 300, "where the header says 350");
    lines_free(&l);
    /* Another log's key; a line that is not JSON; no header. */
    uint8_t other[TD_AUDIT_PUBKEY_LEN];
    memcpy(other, G.pub, sizeof other);
    other[0] ^= 1;
    expect_problem(&G.exp, other, -1, "another public key");
    lines_copy(&l, &G.exp);
    free(l.line[7]);
    l.line[7] = strdup("{\"type\":\"entry\",");
    expect_problem(&l, G.pub, -1, "line 8: not a JSON object");
    lines_drop(&l, 0);
    expect_problem(&l, G.pub, -1, "does not start with its header");
    lines_free(&l);
}

/* The CLI, end to end: export to a file, verify it offline, tamper with one line. */
static void test_cli_export_verify(void **state)
{
    (void)state;
    char cmd[4096], out[8192], pub[2 * TD_AUDIT_PUBKEY_LEN + 1], file[1200];
    sodium_bin2hex(pub, sizeof pub, G.pub, sizeof G.pub);
    snprintf(file, sizeof file, "%s/export.jsonl", G.dir);
    snprintf(cmd, sizeof cmd, "'%s' audit export --data '%s' -o '%s' 2>/dev/null", TD_CLI_PATH,
             G.dir, file);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "'%s' audit verify --export '%s' --pubkey %s", TD_CLI_PATH, file,
             pub);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(j, "entries")), N_ENTRIES);
    json_decref(j);

    /* One entry's object changed in the file. */
    size_t len;
    char *text = (char *)read_all(file, &len);
    char *at = strstr(text, "\"seq\":7,");
    assert_non_null(at);
    at = strstr(at, "\"object\":\"order:2\"");
    assert_non_null(at);
    at[strlen("\"object\":\"order:")] = '9';
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(text);
    snprintf(cmd, sizeof cmd, "'%s' audit verify --export '%s' --pubkey %s 2>/dev/null",
             TD_CLI_PATH, file, pub);
    assert_int_equal(run_capture(cmd, out, sizeof out), 1);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(j, "first_bad_seq")), 7);
    json_decref(j);
    /* Usage errors: 2. */
    snprintf(cmd, sizeof cmd, "'%s' audit verify --export '%s' 2>/dev/null", TD_CLI_PATH, file);
    assert_int_equal(run_capture(cmd, out, sizeof out), 2);
}

int main(void)
{
    fake_clock_set(1700000000000);
    fake_clock_step(7); /* every entry a little later than the one before */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_verifies),
        cmocka_unit_test(test_export_tampered),
        cmocka_unit_test(test_cli_export_verify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
