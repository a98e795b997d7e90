/* `takedown match` and `takedown index` end to end on the PDQ conformance hash lists (needles
 * against haystack), checked against a brute force computed here, independently of the library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/support.h"

#define OUT_CAP (4 << 20)
#define MAX_HASHES 2000

typedef struct list {
    char hex[MAX_HASHES][65];
    uint16_t w[MAX_HASHES][16];
    int line[MAX_HASHES];
    int n;
} list;

static int nibble(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

static void load(const char *path, list *l)
{
    size_t len;
    char *text = (char *)read_all(path, &len);
    int line = 0;
    l->n = 0;
    for (char *p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        line++;
        if (nl - p >= 64 || (!nl && text + len - p >= 64)) {
            assert_true(l->n < MAX_HASHES);
            memcpy(l->hex[l->n], p, 64);
            l->hex[l->n][64] = '\0';
            for (int i = 0; i < 16; i++) {
                unsigned v = 0;
                for (int j = 0; j < 4; j++)
                    v = v << 4 | (unsigned)nibble(p[4 * i + j]);
                l->w[l->n][15 - i] = (uint16_t)v;
            }
            l->line[l->n++] = line;
        }
        p = nl ? nl + 1 : text + len;
    }
    free(text);
}

static int dist(const uint16_t *a, const uint16_t *b)
{
    int d = 0;
    for (int i = 0; i < 16; i++)
        d += __builtin_popcount((unsigned)(a[i] ^ b[i]));
    return d;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted lines of text (modified in place). */
static size_t split_sorted(char *text, char ***out)
{
    size_t n = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n")) {
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = p;
    }
    qsort(lines, n, sizeof *lines, cmp_str);
    *out = lines;
    return n;
}

/* The expected text output for radius r, sorted. */
static char *expected(const list *hay, const list *needles, int r)
{
    size_t cap = 1 << 20, used = 0;
    char *buf = malloc(cap);
    buf[0] = '\0';
    for (int q = 0; q < needles->n; q++)
        for (int i = 0; i < hay->n; i++) {
            int d = dist(needles->w[q], hay->w[i]);
            if (d > r)
                continue;
            if (used + 100 > cap)
                buf = realloc(buf, cap *= 2);
            used += (size_t)sprintf(buf + used, "%s %d %d\n", needles->hex[q], hay->line[i], d);
        }
    return buf;
}

static void compare_output(char *got, char *want)
{
    char **g, **w;
    size_t ng = split_sorted(got, &g), nw = split_sorted(want, &w);
    if (ng != nw)
        fail_msg("%zu output lines, brute force expects %zu", ng, nw);
    for (size_t i = 0; i < ng; i++)
        assert_string_equal(g[i], w[i]);
    free(g);
    free(w);
}

static const char *hay_path(void)
{
    return conf_path("threatexchange/pdq/data/reg-test-input/haystack.txt");
}

static const char *needles_path(void)
{
    return conf_path("threatexchange/pdq/data/reg-test-input/needles.txt");
}

static void test_match_db(void **state)
{
    (void)state;
    static list hay, needles;
    char cmd[8192];
    char *out = malloc(OUT_CAP);
    load(hay_path(), &hay);
    load(needles_path(), &needles);
    assert_int_equal(hay.n, 1350);
    assert_int_equal(needles.n, 100);
    static const int radii[] = {0, 10, 31, 32, 63};
    for (size_t i = 0; i < sizeof radii / sizeof radii[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s match --db %s --queries %s --radius %d", TD_CLI_PATH,
                 hay_path(), needles_path(), radii[i]);
        int rc = run_capture(cmd, out, OUT_CAP);
        char *want = expected(&hay, &needles, radii[i]);
        assert_int_equal(rc, want[0] ? 0 : 1);
        compare_output(out, want);
        free(want);
    }
    /* A snapshot answers the same. */
    char snap[4096];
    snprintf(snap, sizeof snap, "%s", write_temp("hay.snap", "", 0));
    snprintf(cmd, sizeof cmd, "%s index build --db %s -o %s", TD_CLI_PATH, hay_path(), snap);
    assert_int_equal(run_capture(cmd, out, OUT_CAP), 0);
    snprintf(cmd, sizeof cmd, "%s match --index %s --queries %s", TD_CLI_PATH, snap,
             needles_path());
    assert_int_equal(run_capture(cmd, out, OUT_CAP), 0);
    char *want = expected(&hay, &needles, 31);
    compare_output(out, want);
    free(want);
    /* Hashes on the command line, default radius. */
    snprintf(cmd, sizeof cmd, "%s match --db %s %s %s", TD_CLI_PATH, hay_path(), needles.hex[0],
             needles.hex[1]);
    assert_int_equal(run_capture(cmd, out, OUT_CAP), 0);
    list two = {0};
    memcpy(&two.hex[0], needles.hex[0], 65);
    memcpy(&two.hex[1], needles.hex[1], 65);
    memcpy(&two.w[0], needles.w[0], 32);
    memcpy(&two.w[1], needles.w[1], 32);
    two.n = 2;
    want = expected(&hay, &two, 31);
    compare_output(out, want);
    free(want);
    free(out);
}

static void test_match_json(void **state)
{
    (void)state;
    char cmd[8192], out[1 << 16];
    snprintf(cmd, sizeof cmd,
             "%s match --db %s --json --radius 0 "
             "98736629670cc19fc9f23862f66cce1f599e32c78e236c78619d202e9e66c157",
             TD_CLI_PATH, hay_path());
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    assert_string_equal(out,
                        "{\"query\":\"98736629670cc19fc9f23862f66cce1f599e32c78e236c78619d20"
                        "2e9e66c157\",\"line\":1001,\"distance\":0,\"variant\":\"original\"}\n");
}

static void test_match_errors(void **state)
{
    (void)state;
    char cmd[8192], out[4096];
#define ZERO "0000000000000000000000000000000000000000000000000000000000000000"
    /* Each follows "--db HAYSTACK". */
    static const char *const bad[] = {
        "--radius 64 " ZERO,
        "--radius x " ZERO,
        "",
        "/nonexistent/image.jpg",
        "--index /nonexistent.snap " ZERO,
        "--queries /nonexistent.txt",
    };
#undef ZERO
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s match --db %s %s 2>/dev/null", TD_CLI_PATH, hay_path(),
                 bad[i]);
        assert_int_equal(run_capture(cmd, out, sizeof out), 2);
    }
    snprintf(cmd, sizeof cmd, "%s index build --db %s 2>/dev/null", TD_CLI_PATH, hay_path());
    assert_int_equal(run_capture(cmd, out, sizeof out), 2);
    /* A malformed list names the line; a corrupt snapshot says what is wrong. */
    const char *db = write_temp("bad.txt", "# ok\nnot a hash\n", 16);
    snprintf(cmd, sizeof cmd,
             "%s match --db %s 0000000000000000000000000000000000000000000000000000000000000000 "
             "2>&1",
             TD_CLI_PATH, db);
    assert_int_equal(run_capture(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "line 2"));
    const char *snap = write_temp("bad.snap", "TDPDQIX\nxxxx", 12);
    snprintf(cmd, sizeof cmd,
             "%s match --index %s 0000000000000000000000000000000000000000000000000000000000000000"
             " 2>&1",
             TD_CLI_PATH, snap);
    assert_int_equal(run_capture(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "truncated"));
}

static void test_match_dihedral_image(void **state)
{
    (void)state;
    char cmd[8192], out[8192];
    /* The original bridge's hash as the list; its rotation matches only with --dihedral. */
    snprintf(cmd, sizeof cmd, "%s hash %s | cut -d' ' -f2", TD_CLI_PATH,
             conf_path("threatexchange/pdq/data/reg-test-input/dih/bridge-1-original.jpg"));
    if (run_capture(cmd, out, sizeof out) != 0 || strlen(out) < 64)
        skip(); /* hashing not available in this build */
    const char *db = write_temp("bridge.txt", out, 65);
    const char *rot =
        conf_path("threatexchange/pdq/data/reg-test-input/dih/bridge-2-rotate-90.jpg");
    snprintf(cmd, sizeof cmd, "%s match --db %s %s", TD_CLI_PATH, db, rot);
    assert_int_equal(run_capture(cmd, out, sizeof out), 1);
    snprintf(cmd, sizeof cmd, "%s match --db %s --dihedral --json %s", TD_CLI_PATH, db, rot);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"line\":1"));
    assert_null(strstr(out, "\"variant\":\"original\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_db),
        cmocka_unit_test(test_match_json),
        cmocka_unit_test(test_match_errors),
        cmocka_unit_test(test_match_dihedral_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
