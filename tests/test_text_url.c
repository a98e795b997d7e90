/* Text and URL signals: normalisation against values from python-threatexchange's
 * normalize_string (computed with CPython), the bounded Levenshtein against a plain dynamic
 * programme, the text index against brute force, URL canonical forms, url_md5 and rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"
#include "takedown/text.h"
#include "takedown/url.h"

static void check_norm(const char *in, const char *expected)
{
    char *out;
    size_t len;
    td_error err;
    assert_int_equal(td_text_normalize(in, strlen(in), &out, &len, &err), TD_OK);
    assert_string_equal(out, expected);
    assert_int_equal(len, strlen(expected));
    td_free(out);
}

static void test_normalize(void **state)
{
    (void)state;
    check_norm("CrAzY cAsE!", "crazycase");
    check_norm("\xc3\xa3\xc3\xb3\xc3\xab", "aoe"); /* ãóë */
    check_norm("\xef\xac\x81ne Stra\xc3\x9f"
               "e",
               "finestra\xc3\x9f"
               "e"); /* ﬁne Straße */
    check_norm("\xce\xa3\xce\x91\xce\xa3 \xce\xa3.",
               "\xcf\x83\xce\xb1\xcf\x82\xcf\x83"); /* σας σ */
    check_norm("ab\x01"
               "c",
               "ac");                            /* the reference's (.)(\1)+ with \1 = U+0001 */
    check_norm("x\xc2\xb2_\xe2\x91\xa0", "x21"); /* x²_① */
    check_norm("", "");
    char *out;
    size_t len;
    td_error err;
    assert_int_equal(td_text_normalize("\xff\xfe", 2, &out, &len, &err), TD_ERR_INVALID);
}

static size_t dp_distance(const uint32_t *a, size_t n, const uint32_t *b, size_t m)
{
    size_t *row = malloc((m + 1) * sizeof *row);
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[m];
    free(row);
    return d;
}

static void test_levenshtein(void **state)
{
    (void)state;
    uint64_t seed = 3;
    uint32_t a[80], b[80];
    for (int t = 0; t < 3000; t++) {
        size_t n = test_rand(&seed) % 60, m;
        for (size_t i = 0; i < n; i++)
            a[i] = (uint32_t)(test_rand(&seed) % 4);
        /* b: a with a few edits, or random */
        if (t % 3) {
            m = 0;
            for (size_t i = 0; i < n && m < 78; i++) {
                unsigned r = (unsigned)(test_rand(&seed) % 12);
                if (r == 0)
                    continue;
                if (r == 1)
                    b[m++] = (uint32_t)(test_rand(&seed) % 4);
                b[m++] = r == 2 ? (uint32_t)(test_rand(&seed) % 4) : a[i];
            }
        } else {
            m = test_rand(&seed) % 60;
            for (size_t i = 0; i < m; i++)
                b[i] = (uint32_t)(test_rand(&seed) % 4);
        }
        size_t exact = dp_distance(a, n, b, m);
        size_t max = test_rand(&seed) % 12;
        size_t got = td_text_levenshtein_bounded(a, n, b, m, max);
        if (exact <= max)
            assert_int_equal(got, exact);
        else
            assert_int_equal(got, max + 1);
    }
}

static void test_raw_rule(void **state)
{
    (void)state;
    /* 100 letters: 5 edits match, 6 do not (5% of 100 = 5) */
    char a[101], b[101];
    for (int i = 0; i < 100; i++)
        a[i] = (char)('a' + i % 26);
    a[100] = '\0';
    memcpy(b, a, sizeof b);
    for (int i = 0; i < 5; i++)
        b[i * 10] = '0';
    int match;
    size_t d;
    td_error err;
    assert_int_equal(td_text_raw_match(a, 100, b, 100, &match, &d, &err), TD_OK);
    assert_true(match);
    assert_int_equal(d, 5);
    b[77] = '0';
    assert_int_equal(td_text_raw_match(a, 100, b, 100, &match, &d, &err), TD_OK);
    assert_false(match);
    /* punctuation and case do not count */
    assert_int_equal(td_text_raw_match("Hello, World!", 13, "hello world", 11, &match, &d, &err),
                     TD_OK);
    assert_true(match);
    assert_int_equal(d, 0);
}

static char *random_doc(uint64_t *seed, size_t len)
{
    static const char *const words[] = {
        "the",      "attack", "video", "we",   "will",    "strike",
        "brothers", "call",   "join",  "now",  "message", "lorem",
        "ipsum",    "dolor",  "sit",   "amet", "x",       "\xc3\xa9t\xc3\xa9"};
    char *s = malloc(len + 16);
    size_t n = 0;
    while (n < len) {
        const char *w = words[test_rand(seed) % (sizeof words / sizeof words[0])];
        size_t wl = strlen(w);
        memcpy(s + n, w, wl);
        n += wl;
        s[n++] = ' ';
    }
    s[n] = '\0';
    return s;
}

/* Applies about `percent` % random edits to letters of s (ASCII letters only). */
static void mutate(char *s, uint64_t *seed, unsigned percent)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'a' && s[i] <= 'z' && test_rand(seed) % 100 < percent)
            s[i] = (char)('a' + test_rand(seed) % 26);
}

static void test_text_index(void **state)
{
    (void)state;
    enum { DOCS = 1500 };
    uint64_t seed = 11;
    td_text_index *idx;
    td_error err;
    assert_int_equal(td_text_index_new(&idx, &err), TD_OK);
    char **docs = calloc(DOCS, sizeof *docs);
    for (int i = 0; i < DOCS; i++) {
        size_t len = 1 + test_rand(&seed) % (i % 10 == 0 ? 30 : 600);
        docs[i] = random_doc(&seed, len);
        if (i % 50 == 1 && i > 1) { /* near-duplicates of another document */
            free(docs[i]);
            docs[i] = strdup(docs[i - 1]);
            mutate(docs[i], &seed, 2);
        }
        assert_int_equal(td_text_index_add(idx, (uint64_t)i, docs[i], strlen(docs[i]), &err),
                         TD_OK);
    }
    assert_int_equal(td_text_index_add(idx, 99999, "", 0, &err), TD_OK);
    size_t total_matches = 0;
    for (int q = 0; q < 300; q++) {
        char *query = strdup(docs[test_rand(&seed) % DOCS]);
        mutate(query, &seed, (unsigned)(test_rand(&seed) % 9));
        td_text_match *got, *want;
        size_t n_got, n_want;
        td_text_query_stats st;
        assert_int_equal(td_text_index_query(idx, query, strlen(query), &got, &n_got, &st, &err),
                         TD_OK);
        assert_int_equal(td_text_index_query_brute(idx, query, strlen(query), &want, &n_want, &err),
                         TD_OK);
        assert_int_equal(n_got, n_want);
        for (size_t i = 0; i < n_want; i++) {
            int found = 0;
            for (size_t j = 0; j < n_got; j++)
                if (got[j].id == want[i].id && got[j].distance == want[i].distance)
                    found = 1;
            assert_true(found);
        }
        total_matches += n_want;
        td_free(got);
        td_free(want);
        free(query);
    }
    assert_true(total_matches > 100);
    td_text_match *got;
    size_t n_got;
    assert_int_equal(td_text_index_query(idx, "!!", 2, &got, &n_got, NULL, &err), TD_OK);
    assert_int_equal(n_got, 1); /* only the empty document */
    assert_int_equal(got[0].id, 99999);
    td_free(got);
    for (int i = 0; i < DOCS; i++)
        free(docs[i]);
    free(docs);
    td_text_index_free(idx);
}

/* Long documents (both first stages: compatible lengths directly for long queries, the piece
 * table for short ones), the q-gram count filter, code points stored in 1, 2 and 4 bytes, and
 * the bounded distance on long strings with large thresholds; all against brute force. */
static void test_text_index_long(void **state)
{
    (void)state;
    /* ASCII words, a Greek one and one of two U+20000-plane letters */
    static const char *const words[] = {"alpha",
                                        "beta",
                                        "gamma",
                                        "delta",
                                        "omega",
                                        "\xce\xbb\xcf\x8c\xce\xb3\xce\xbf\xcf\x82",
                                        "\xf0\xa0\x80\x80\xf0\xa0\x80\x81",
                                        "kappa",
                                        "sigma"};
    enum { DOCS = 400 };
    uint64_t seed = 77;
    td_text_index *idx;
    td_error err;
    assert_int_equal(td_text_index_new(&idx, &err), TD_OK);
    char **docs = calloc(DOCS, sizeof *docs);
    for (int i = 0; i < DOCS; i++) {
        size_t len = i % 8 == 0 ? 10000 + test_rand(&seed) % 2000 : 50 + test_rand(&seed) % 3000;
        /* a third ASCII only, a third with Greek, a third with supplementary-plane letters */
        size_t vocab = i % 3 == 0 ? 5 : i % 3 == 1 ? 6 : 7;
        char *d = malloc(len + 16);
        size_t n = 0;
        while (n < len) {
            const char *w = words[test_rand(&seed) % vocab];
            memcpy(d + n, w, strlen(w));
            n += strlen(w);
            d[n++] = ' ';
        }
        d[n] = '\0';
        if (i % 8 == 4) { /* a near-duplicate of the previous long document */
            free(d);
            d = strdup(docs[i - 4]);
            mutate(d, &seed, 3);
        }
        docs[i] = d;
        assert_int_equal(td_text_index_add(idx, (uint64_t)i, d, strlen(d), &err), TD_OK);
    }
    size_t matches = 0, filtered = 0;
    for (int q = 0; q < 60; q++) {
        char *query = strdup(docs[q % 2 ? test_rand(&seed) % DOCS : test_rand(&seed) % 50 * 8]);
        mutate(query, &seed, (unsigned)(test_rand(&seed) % 8));
        td_text_match *got, *want;
        size_t n_got, n_want;
        td_text_query_stats st;
        assert_int_equal(td_text_index_query(idx, query, strlen(query), &got, &n_got, &st, &err),
                         TD_OK);
        assert_int_equal(td_text_index_query_brute(idx, query, strlen(query), &want, &n_want, &err),
                         TD_OK);
        assert_int_equal(n_got, n_want);
        for (size_t i = 0; i < n_want; i++) {
            int found = 0;
            for (size_t j = 0; j < n_got; j++)
                if (got[j].id == want[i].id && got[j].distance == want[i].distance)
                    found = 1;
            assert_true(found);
        }
        assert_true(st.verified <= st.candidates);
        matches += n_want;
        filtered += st.candidates - st.verified;
        td_free(got);
        td_free(want);
        free(query);
    }
    assert_true(matches > 20);
    assert_true(filtered > 0); /* the q-gram filter rejected some candidates */
    for (int i = 0; i < DOCS; i++)
        free(docs[i]);
    free(docs);
    td_text_index_free(idx);

    /* the bounded distance on 300..1500 code points with thresholds up to 300 */
    enum { LONG = 1600 };
    uint32_t *a = malloc(LONG * sizeof *a), *b = malloc(LONG * sizeof *b);
    for (int t = 0; t < 40; t++) {
        size_t n = 300 + test_rand(&seed) % 1200, m = 0;
        for (size_t i = 0; i < n; i++)
            a[i] = (uint32_t)(test_rand(&seed) % 3);
        for (size_t i = 0; i < n && m < LONG - 2; i++) {
            unsigned r = (unsigned)(test_rand(&seed) % 40);
            if (r == 0)
                continue;
            if (r == 1)
                b[m++] = (uint32_t)(test_rand(&seed) % 3);
            b[m++] = r == 2 ? (uint32_t)(test_rand(&seed) % 3) : a[i];
        }
        size_t exact = dp_distance(a, n, b, m), max = test_rand(&seed) % 300;
        size_t got = td_text_levenshtein_bounded(a, n, b, m, max);
        assert_int_equal(got, exact <= max ? exact : max + 1);
    }
    free(a);
    free(b);
}

static void check_url(const char *in, const char *expected)
{
    char *out;
    td_error err;
    td_status s = td_url_canonicalize(in, strlen(in), &out, &err);
    if (s != TD_OK)
        fail_msg("%s: %s", in, err.message);
    assert_string_equal(out, expected);
    td_free(out);
}

static void test_url_canonical(void **state)
{
    (void)state;
    check_url("HTTP://Example.COM:80/a/b/", "http://example.com/a/b");
    check_url("https://example.com:443", "https://example.com/");
    check_url("https://example.com:8443/", "https://example.com:8443/");
    check_url("example.com/x?utm_source=tw&id=5&fbclid=abc&gclid=1", "http://example.com/x?id=5");
    check_url("hxxps://bad[.]example[.]org/path", "https://bad.example.org/path");
    check_url("[h]ttp://evil(.)com/", "http://evil.com/");
    check_url("hXXp://a.b/c%7e%2fd%zz", "http://a.b/c~%2Fd%25zz");
    check_url("http://a.b/./x/../y/", "http://a.b/y");
    check_url("http://user:pw@host.example/p#frag", "http://host.example/p");
    check_url("  http://a.b/with space  ", "http://a.b/with%20space");
    check_url("http://a.b/caf\xc3\xa9", "http://a.b/caf%C3%A9");
    check_url("http://a.b/?utm_medium=x", "http://a.b/");
    check_url("http://a.b./p", "http://a.b/p");
    check_url("hxxp://evil(.)com/wiki/Foo_(.)_(dot)", "http://evil.com/wiki/Foo_(.)_(dot)");
    check_url("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x");
    char *out;
    td_error err;
    assert_int_equal(td_url_canonicalize("http:///x", 9, &out, &err), TD_ERR_INVALID);
    /* found by fuzz/fuzz_url.c: text after an IPv6 literal, or a literal that is not one */
    assert_int_equal(td_url_canonicalize("[[[dot]]1t[],t", 14, &out, &err), TD_ERR_INVALID);
    assert_int_equal(td_url_canonicalize("http://[::1]x/", 14, &out, &err), TD_ERR_INVALID);
    assert_int_equal(td_url_canonicalize("http://[zz]/", 12, &out, &err), TD_ERR_INVALID);
    /* the canonical form is a fixed point */
    const char *fixed[] = {"HTTPS://Ex.com:8080/a(.)b/%7e?x=(dot)&utm_id=1", "http://[::1]/",
                           "h**p://a[.]b/[.]/(.)",
                           /* found by fuzz/fuzz_url.c: refanging uncovers another defanged dot */
                           "((.))or[.]g/%\\pHTTe?oM114&b", "hxxp://a((dot)).b((.))c/"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        char *again;
        assert_int_equal(td_url_canonicalize(fixed[i], strlen(fixed[i]), &out, &err), TD_OK);
        assert_int_equal(td_url_canonicalize(out, strlen(out), &again, &err), TD_OK);
        assert_string_equal(out, again);
        td_free(out);
        td_free(again);
    }
    assert_int_equal(td_url_canonicalize("http://a.b:99999/", 17, &out, &err), TD_ERR_INVALID);
    assert_int_equal(td_url_canonicalize("", 0, &out, &err), TD_ERR_INVALID);
    char *big = malloc(TD_URL_MAX + 10);
    memset(big, 'a', TD_URL_MAX + 9);
    big[TD_URL_MAX + 9] = '\0';
    assert_int_equal(td_url_canonicalize(big, strlen(big), &out, &err), TD_ERR_LIMIT);
    free(big);
}

static void test_url_md5(void **state)
{
    (void)state;
    char md5[33];
    td_error err;
    /* python-threatexchange normalize_url("https://www.facebook.com") == b"www.facebook.com" */
    assert_int_equal(td_url_md5("HtTPs://wWw.faCeBook.cOM", 24, md5, &err), TD_OK);
    assert_string_equal(md5, "660328a7f9004d462085aa67a82065db");
    assert_int_equal(td_url_md5("https://example.com/a?b=1#", 26, md5, &err), TD_OK);
    assert_string_equal(md5, "09cc2167e5c88f7c74d406bf69b37889");
}

static void test_url_rules(void **state)
{
    (void)state;
    td_url_rules *r;
    td_error err;
    uint64_t ids[8];
    size_t n;
    assert_int_equal(td_url_rules_new(&r, &err), TD_OK);
    assert_int_equal(td_url_rules_add(r, TD_URL_RULE_DOMAIN, "propaganda.example", 1, &err), TD_OK);
    assert_int_equal(
        td_url_rules_add(r, TD_URL_RULE_PREFIX, "https://video.example/channel/abc/", 2, &err),
        TD_OK);
    assert_int_equal(td_url_rules_add(r, TD_URL_RULE_PREFIX, "files.example/share/f1", 3, &err),
                     TD_OK);

    const char *u = "http://cdn.PROPAGANDA.example:8080/x.mp4";
    assert_int_equal(td_url_rules_match(r, u, strlen(u), ids, 8, &n, &err), TD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    u = "notpropaganda.example/x";
    assert_int_equal(td_url_rules_match(r, u, strlen(u), ids, 8, &n, &err), TD_OK);
    assert_int_equal(n, 0);
    u = "hxxps://video[.]example/channel/abc/videos?utm_source=x";
    assert_int_equal(td_url_rules_match(r, u, strlen(u), ids, 8, &n, &err), TD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 2);
    u = "https://video.example/channel/abcd";
    assert_int_equal(td_url_rules_match(r, u, strlen(u), ids, 8, &n, &err), TD_OK);
    assert_int_equal(n, 0); /* segment boundary */
    u = "https://video.example/channel/abc";
    assert_int_equal(td_url_rules_match(r, u, strlen(u), ids, 8, &n, &err), TD_OK);
    assert_int_equal(n, 1);
    /* found by fuzz/fuzz_url.c: a domain rule given as a URL with a port still covers it */
    assert_int_equal(
        td_url_rules_add(r, TD_URL_RULE_DOMAIN, "https://ported.example:8080/", 4, &err), TD_OK);
    u = "http://www.ported.example:9090/z";
    assert_int_equal(td_url_rules_match(r, u, strlen(u), ids, 8, &n, &err), TD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 4);
    u = "http://files.example/share/f1/doc.pdf";
    assert_int_equal(td_url_rules_match(r, u, strlen(u), ids, 8, &n, &err), TD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 3);
    td_url_rules_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),       cmocka_unit_test(test_levenshtein),
        cmocka_unit_test(test_raw_rule),        cmocka_unit_test(test_text_index),
        cmocka_unit_test(test_text_index_long), cmocka_unit_test(test_url_canonical),
        cmocka_unit_test(test_url_md5),         cmocka_unit_test(test_url_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
