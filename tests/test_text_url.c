/* Text and URL signals: normalisation against values from python-threatexchange's
 * normalize_string (computed with CPython) and its ASCII fast path against the whole-text
 * Unicode path, the bounded Levenshtein (every search method) against a plain dynamic
 * programme, the text index against brute force (also after removals and from several threads
 * at once), URL canonical forms, url_md5 and rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash/text_int.h"
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

static int by_id(const void *x, const void *y)
{
    const td_text_match *a = x, *b = y;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->distance < b->distance ? -1 : a->distance > b->distance;
}

static int same_matches(td_text_match *got, size_t n_got, td_text_match *want, size_t n_want)
{
    if (n_got != n_want)
        return 0;
    if (n_got == 0)
        return 1; /* both may be NULL */
    qsort(got, n_got, sizeof *got, by_id);
    qsort(want, n_want, sizeof *want, by_id);
    for (size_t i = 0; i < n_got; i++)
        if (got[i].id != want[i].id || got[i].distance != want[i].distance)
            return 0;
    return 1;
}

/* The index's answer to query against brute force (same ids and distances); returns the number
 * of matches. st (may be NULL) receives the query's statistics. */
static size_t check_against_brute(td_text_index *idx, const char *query, td_text_query_stats *st)
{
    td_text_match *got, *want;
    size_t n_got, n_want;
    td_error err;
    assert_int_equal(td_text_index_query(idx, query, strlen(query), &got, &n_got, st, &err), TD_OK);
    assert_int_equal(td_text_index_query_brute(idx, query, strlen(query), &want, &n_want, &err),
                     TD_OK);
    assert_true(same_matches(got, n_got, want, n_want));
    td_free(got);
    td_free(want);
    return n_want;
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
        total_matches += check_against_brute(idx, query, NULL);
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
        td_text_query_stats st;
        size_t n_want = check_against_brute(idx, query, &st);
        assert_true(st.verified <= st.candidates);
        matches += n_want;
        filtered += st.candidates - st.verified;
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

/* ---- removal and concurrent queries ---- */

/* Same ids and distances, in any order. */

/* Documents of every length class under shared ids (three per id), short ones found through the
 * piece table and long ones directly; ids removed and re-added in rounds. After each round:
 * the index against brute force, no removed id returned, and every document still there found
 * by its own text at distance 0. */
static void test_text_index_remove(void **state)
{
    (void)state;
    enum { DOCS = 450, IDS = 150 };
    uint64_t seed = 99;
    td_text_index *idx;
    td_error err;
    assert_int_equal(td_text_index_new(&idx, &err), TD_OK);
    char **docs = calloc(DOCS, sizeof *docs);
    int *live = calloc(IDS, sizeof *live); /* documents present under each id */
    for (int i = 0; i < DOCS; i++) {
        size_t len = i % 30 == 0 ? 3000 + test_rand(&seed) % 3000 : 1 + test_rand(&seed) % 700;
        docs[i] = random_doc(&seed, len);
        if (i % 7 == 3) { /* a near-duplicate of another document */
            free(docs[i]);
            docs[i] = strdup(docs[i - 3]);
            mutate(docs[i], &seed, 3);
        }
        assert_int_equal(
            td_text_index_add(idx, (uint64_t)(i % IDS), docs[i], strlen(docs[i]), &err), TD_OK);
        live[i % IDS]++;
    }
    assert_int_equal(td_text_index_size(idx), DOCS);
    assert_int_equal(td_text_index_remove(idx, 1000000), 0); /* never added */
    size_t present = DOCS;
    for (int round = 0; round < 6; round++) {
        /* remove some ids, re-add documents under some removed ones */
        for (int r = 0; r < 25; r++) {
            uint64_t id = test_rand(&seed) % IDS;
            assert_int_equal(td_text_index_remove(idx, id), live[id]);
            present -= (size_t)live[id];
            live[id] = 0;
            assert_int_equal(td_text_index_remove(idx, id), 0);
        }
        for (int r = 0; r < 10; r++) {
            int i = (int)(test_rand(&seed) % DOCS);
            uint64_t id = (uint64_t)(i % IDS);
            if (live[id])
                continue;
            for (int j = i % IDS; j < DOCS; j += IDS) { /* the id's documents come back */
                assert_int_equal(td_text_index_add(idx, id, docs[j], strlen(docs[j]), &err), TD_OK);
                live[id]++;
                present++;
            }
        }
        assert_int_equal(td_text_index_size(idx), present);
        for (int q = 0; q < 40; q++) {
            int i = (int)(test_rand(&seed) % DOCS);
            char *query = strdup(docs[i]);
            int exact = q % 2;
            if (!exact)
                mutate(query, &seed, (unsigned)(test_rand(&seed) % 6));
            td_text_match *got, *want;
            size_t n_got, n_want;
            assert_int_equal(
                td_text_index_query(idx, query, strlen(query), &got, &n_got, NULL, &err), TD_OK);
            assert_int_equal(
                td_text_index_query_brute(idx, query, strlen(query), &want, &n_want, &err), TD_OK);
            int own = 0;
            for (size_t j = 0; j < n_got; j++) {
                assert_true(live[got[j].id] > 0); /* never a removed id */
                own |= got[j].id == (uint64_t)(i % IDS) && got[j].distance == 0;
            }
            if (exact)
                assert_int_equal(own, live[i % IDS] > 0);
            assert_true(same_matches(got, n_got, want, n_want));
            td_free(got);
            td_free(want);
            free(query);
        }
    }
    /* everything out, then the index works again from empty */
    for (uint64_t id = 0; id < IDS; id++)
        assert_int_equal(td_text_index_remove(idx, id), live[id]);
    assert_int_equal(td_text_index_size(idx), 0);
    td_text_match *got;
    size_t n_got;
    assert_int_equal(td_text_index_query(idx, docs[0], strlen(docs[0]), &got, &n_got, NULL, &err),
                     TD_OK);
    assert_int_equal(n_got, 0);
    td_free(got);
    assert_int_equal(td_text_index_add(idx, 7, docs[5], strlen(docs[5]), &err), TD_OK);
    assert_int_equal(td_text_index_query(idx, docs[5], strlen(docs[5]), &got, &n_got, NULL, &err),
                     TD_OK);
    assert_int_equal(n_got, 1);
    assert_int_equal(got[0].id, 7);
    assert_int_equal(got[0].distance, 0);
    td_free(got);
    for (int i = 0; i < DOCS; i++)
        free(docs[i]);
    free(docs);
    free(live);
    td_text_index_free(idx);
}

struct query_job {
    const td_text_index *idx;
    char **queries;
    td_text_match **want;
    size_t *n_want;
    int n, failures;
};

static void *run_queries(void *arg)
{
    struct query_job *job = arg;
    for (int round = 0; round < 3; round++)
        for (int q = 0; q < job->n; q++) {
            td_text_match *got;
            size_t n_got;
            td_error err;
            int i = (q + round * 7) % job->n;
            if (td_text_index_query(job->idx, job->queries[i], strlen(job->queries[i]), &got,
                                    &n_got, NULL, &err) != TD_OK) {
                job->failures++;
                continue;
            }
            td_text_match *want = malloc((job->n_want[i] + 1) * sizeof *want);
            if (job->n_want[i])
                memcpy(want, job->want[i], job->n_want[i] * sizeof *want);
            if (!same_matches(got, n_got, want, job->n_want[i]))
                job->failures++;
            free(want);
            td_free(got);
        }
    return NULL;
}

/* Four threads query one index at once (short queries through the piece table, long ones
 * through the q-gram filter and the bit-parallel search): every answer equals the one brute
 * force gave beforehand. */
static void test_text_index_threads(void **state)
{
    (void)state;
    enum { DOCS = 300, QUERIES = 40, THREADS = 4 };
    uint64_t seed = 5150;
    td_text_index *idx;
    td_error err;
    assert_int_equal(td_text_index_new(&idx, &err), TD_OK);
    char **docs = calloc(DOCS, sizeof *docs);
    for (int i = 0; i < DOCS; i++) {
        size_t len = i % 10 == 0 ? 4000 + test_rand(&seed) % 4000 : 1 + test_rand(&seed) % 600;
        docs[i] = random_doc(&seed, len);
        if (i % 10 == 5) {
            free(docs[i]);
            docs[i] = strdup(docs[i - 5]);
            mutate(docs[i], &seed, 2);
        }
        assert_int_equal(td_text_index_add(idx, (uint64_t)i, docs[i], strlen(docs[i]), &err),
                         TD_OK);
    }
    char *queries[QUERIES];
    td_text_match *want[QUERIES];
    size_t n_want[QUERIES], total = 0;
    for (int q = 0; q < QUERIES; q++) {
        queries[q] = strdup(docs[q % 2 ? test_rand(&seed) % DOCS : test_rand(&seed) % 30 * 10]);
        mutate(queries[q], &seed, (unsigned)(test_rand(&seed) % 5));
        assert_int_equal(td_text_index_query_brute(idx, queries[q], strlen(queries[q]), &want[q],
                                                   &n_want[q], &err),
                         TD_OK);
        total += n_want[q];
    }
    assert_true(total > QUERIES / 2);
    struct query_job jobs[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (struct query_job){idx, queries, want, n_want, QUERIES, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, run_queries, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(jobs[t].failures, 0);
    }
    for (int q = 0; q < QUERIES; q++) {
        td_free(want[q]);
        free(queries[q]);
    }
    for (int i = 0; i < DOCS; i++)
        free(docs[i]);
    free(docs);
    td_text_index_free(idx);
}

/* ---- the ASCII fast path ---- */

static void check_same_normalisation(const char *s, size_t len)
{
    uint32_t *fast = NULL, *slow = NULL;
    size_t nf = 0, ns = 0;
    td_error err;
    td_status a = td__text_normalize_u32(s, len, &fast, &nf, &err);
    td_status b = td__text_normalize_u32_unicode(s, len, &slow, &ns, &err);
    assert_int_equal(a, b);
    assert_int_equal(nf, ns);
    if (nf)
        assert_memory_equal(fast, slow, nf * sizeof *fast);
    td_free(fast);
    td_free(slow);
}

/* Random mixes of ASCII and the characters where normalisation is subtle (context-dependent
 * sigma, case-ignorable ASCII, marks after ASCII letters, U+0001, expansions, NFKD giving an
 * upper-case ASCII letter), with ASCII runs long enough for the fast path to cut the text. */
static void test_normalize_fast_path(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "a",
        "Z",
        "q",
        "7",
        " ",
        "  ",
        "\n",
        "\x01",
        "'",
        ".",
        ":",
        "^",
        "`",
        "-",
        "_",
        "!",
        "\t",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "the quick brown fox",
        "''''''''''''''''''''",
        "\xce\xa3",         /* Σ */
        "\xcf\x83",         /* σ */
        "\xcf\x82",         /* ς */
        "\xcc\x81",         /* combining acute */
        "\xcc\x88",         /* combining diaeresis */
        "\xef\xac\x81",     /* ﬁ */
        "\xc2\xb2",         /* ² */
        "\xe2\x91\xa0",     /* ① */
        "\xc4\xb0",         /* İ */
        "\xe1\xba\x9e",     /* ẞ */
        "\xe2\x84\xaa",     /* Kelvin sign */
        "\xea\xb0\x80",     /* 가 */
        "\xe4\xb8\xad",     /* 中 */
        "\xf0\x9f\x98\x80", /* emoji */
        "\xef\xb7\xba",     /* U+FDFA, 18 code points in NFKD */
        "\xce\x86",         /* Ά */
        "\xd0\x94",         /* Д */
        "\xd8\xa8\xd9\x8e", /* Arabic letter and mark */
        "\xe2\x80\x8d",     /* zero-width joiner */
        "\xc2\xad",         /* soft hyphen */
        "\xc2\xa0",         /* no-break space */
        "\xcd\x85",         /* U+0345 */
        "\xc7\x85",         /* ǅ */
        "\xf0\x9d\x90\x80", /* U+1D400: NFKD gives 'A', after lower-casing */
        "\xef\xbc\xa1",     /* fullwidth A */
        "\xe2\x92\xb6",     /* circled A */
        "\xc3\x89",
        "e\xcc\x81",
        "x\x01\xcc\x81",
        "\xce\xa3\x01"};
    uint64_t seed = 21;
    char buf[2048];
    for (int t = 0; t < 4000; t++) {
        size_t len = 0, parts = test_rand(&seed) % 48;
        for (size_t i = 0; i < parts; i++) {
            const char *p = pieces[test_rand(&seed) % (sizeof pieces / sizeof pieces[0])];
            size_t l = strlen(p);
            if (len + l > sizeof buf)
                break;
            memcpy(buf + len, p, l);
            len += l;
        }
        check_same_normalisation(buf, len);
    }
    /* final sigma decided across long ASCII runs, which the fast path handles ('.' is
     * case-ignorable for both libunistring and CPython; the apostrophe only for CPython) */
    check_norm("A..............................\xce\xa3 b", "a\xcf\x82"
                                                            "b"); /* aςb */
    check_norm("\xce\xa3..............................A", "\xcf\x83"
                                                          "a"); /* σa */
    check_norm("\xf0\x9d\x90\x80 x", "Ax"); /* upper case kept: NFKD comes after lower case */
    check_norm("0123456789012345678901234567890\x01\xc3\xa9", "012345678901234567890123456789e");
    check_same_normalisation("\xff", 1);
    check_same_normalisation("abc\xc3", 4);
}

/* ---- the bounded distance, every method, against the plain dynamic programme ---- */

static void *pack_width(const uint32_t *s, size_t n, unsigned width)
{
    uint8_t *out = malloc(n * width + 1);
    for (size_t i = 0; i < n; i++) {
        if (width == 1) {
            out[i] = (uint8_t)s[i];
        } else if (width == 2) {
            uint16_t c = (uint16_t)s[i];
            memcpy(out + 2 * i, &c, 2);
        } else {
            memcpy(out + 4 * i, &s[i], 4);
        }
    }
    return out;
}

/* b: a with about rate per thousand edits (substitutions, insertions, deletions), sometimes
 * with a long insertion or two blocks swapped, or an unrelated text. */
static size_t mutate_cp(uint64_t *seed, const uint32_t *a, size_t n, uint32_t *b, size_t cap,
                        unsigned rate, uint32_t alphabet, uint32_t base)
{
    size_t m = 0;
    unsigned kind = (unsigned)(test_rand(seed) % 8);
    if (kind == 0) { /* unrelated */
        size_t len = n + test_rand(seed) % 40;
        for (; m < len && m < cap; m++)
            b[m] = base + (uint32_t)(test_rand(seed) % alphabet);
        return m;
    }
    size_t insert_at = kind == 1 ? test_rand(seed) % (n + 1) : SIZE_MAX;
    for (size_t i = 0; i <= n && m < cap; i++) {
        if (i == insert_at)
            for (size_t j = test_rand(seed) % 300; j > 0 && m < cap; j--)
                b[m++] = base + (uint32_t)(test_rand(seed) % alphabet);
        if (i == n)
            break;
        unsigned r = (unsigned)(test_rand(seed) % 1000);
        if (r < rate / 3)
            continue; /* deletion */
        if (r < 2 * rate / 3 && m < cap)
            b[m++] = base + (uint32_t)(test_rand(seed) % alphabet); /* insertion */
        if (m < cap)
            b[m++] = r < rate ? base + (uint32_t)(test_rand(seed) % alphabet) : a[i];
    }
    if (kind == 2 && m > 400) { /* two blocks swapped */
        size_t len = 20 + test_rand(seed) % 60, x = test_rand(seed) % (m / 2 - len);
        size_t y = m / 2 + test_rand(seed) % (m / 2 - len);
        for (size_t i = 0; i < len; i++) {
            uint32_t t = b[x + i];
            b[x + i] = b[y + i];
            b[y + i] = t;
        }
    }
    return m;
}

static void check_distance(const uint32_t *a, size_t n, const uint32_t *b, size_t m, size_t max,
                           size_t exact, unsigned width)
{
    void *pa = pack_width(a, n, width), *pb = pack_width(b, m, width);
    td__text_view av = {pa, n, width}, bv = {pb, m, width};
    td__text_scratch sc = {0};
    td__text_grams *g = NULL;
    td_error err;
    size_t d1, d2;
    /* without and with the caller's q-gram table of b */
    assert_int_equal(td__text_distance(av, bv, max, NULL, &sc, &d1, &err), TD_OK);
    assert_int_equal(td__text_grams_new(&g, bv, &err), TD_OK);
    assert_int_equal(td__text_distance(av, bv, max, g, &sc, &d2, &err), TD_OK);
    size_t want = exact <= max ? exact : max + 1;
    if (d1 != want || d2 != want)
        fprintf(stderr, "n=%zu m=%zu width=%u max=%zu: exact %zu, got %zu and %zu\n", n, m, width,
                max, exact, d1, d2);
    assert_int_equal(d1, want);
    assert_int_equal(d2, want);
    td__text_grams_free(g);
    td__text_scratch_free(&sc);
    free(pa);
    free(pb);
}

/* Lengths up to 2,400 code points, alphabets from 2 symbols (chance q-gram matches everywhere)
 * to 3,000 (too many for the bit-parallel table), bounds at the distance, just below, above
 * and far from it, code points in 1, 2 and 4 bytes: the diagonal transitions, the bit-parallel
 * passes, the anchors and the lower bound must all give the exact answer. */
static void test_distance_methods(void **state)
{
    (void)state;
    enum { CAP = 3000 };
    static const uint32_t alphabets[] = {2, 4, 26, 300, 3000};
    uint32_t *a = malloc(CAP * sizeof *a), *b = malloc(CAP * sizeof *b);
    uint64_t seed = 1234;
    for (int t = 0; t < 300; t++) {
        uint32_t alphabet = alphabets[test_rand(&seed) % 5];
        uint32_t base = alphabet == 3000 ? 0x4e00 : test_rand(&seed) % 2 ? 'a' : 0x10400;
        size_t n = t % 4 == 0 ? test_rand(&seed) % 200 : 300 + test_rand(&seed) % 2100;
        for (size_t i = 0; i < n; i++)
            a[i] = base + (uint32_t)(test_rand(&seed) % alphabet);
        unsigned rate = (unsigned)(test_rand(&seed) % 80);
        size_t m = mutate_cp(&seed, a, n, b, CAP, rate, alphabet, base);
        size_t exact = dp_distance(a, n, b, m);
        size_t max, choice = test_rand(&seed) % 5;
        if (choice == 0)
            max = exact;
        else if (choice == 1)
            max = exact ? exact - 1 : 0;
        else if (choice == 2)
            max = exact + 1 + test_rand(&seed) % 50;
        else if (choice == 3)
            max = (size_t)td__text_max_distance(n);
        else
            max = test_rand(&seed) % (exact * 2 + 2);
        uint32_t top = base + alphabet - 1;
        for (unsigned width = top < 0x100 ? 1 : top < 0x10000 ? 2 : 4; width <= 4; width *= 2)
            check_distance(a, n, b, m, max, exact, width);
    }
    free(a);
    free(b);
}

/* Periodic texts (every q-gram recurs all along: the lower bound's "occurs everywhere" case,
 * anchors that can lock on the wrong period) and bursts of edits with loose bounds for the
 * bit-parallel search alone (no lower bound: its band grows, then shrinks at the burst). */
static void test_distance_repetitive(void **state)
{
    (void)state;
    enum { CAP = 3000 };
    uint32_t *a = malloc(CAP * sizeof *a), *b = malloc(CAP * sizeof *b);
    uint64_t seed = 77;
    for (int t = 0; t < 120; t++) {
        size_t period = 1 + test_rand(&seed) % 5, n = 500 + test_rand(&seed) % 2000;
        for (size_t i = 0; i < n; i++)
            a[i] = 'a' + (uint32_t)(i % period);
        unsigned rate = (unsigned)(test_rand(&seed) % 60);
        size_t m = mutate_cp(&seed, a, n, b, CAP, rate, 3, 'a');
        size_t exact = dp_distance(a, n, b, m);
        size_t max = t % 2 ? (size_t)td__text_max_distance(n) : exact + test_rand(&seed) % 300;
        check_distance(a, n, b, m, max, exact, 1);
    }
    for (int t = 0; t < 60; t++) {
        size_t n = 600 + test_rand(&seed) % 1800, m = 0;
        for (size_t i = 0; i < n; i++)
            a[i] = 'a' + (uint32_t)(test_rand(&seed) % 20);
        size_t from = test_rand(&seed) % n, len = 20 + test_rand(&seed) % 200;
        for (size_t i = 0; i < n; i++) /* a burst of substitutions and insertions */
            if (i >= from && i < from + len && test_rand(&seed) % 2)
                b[m++] = 'a' + (uint32_t)(test_rand(&seed) % 20);
            else
                b[m++] = a[i];
        size_t exact = dp_distance(a, n, b, m), bound = exact + 50 + test_rand(&seed) % 400;
        td__text_scratch sc = {0};
        uint8_t *pa = pack_width(a, n, 1), *pb = pack_width(b, m, 1);
        assert_int_equal(td__text_blocks_prepare(&sc, pb, m, pa, n, 0), 0);
        assert_int_equal(td__text_blocks_exact(&sc, m, n, bound, NULL, 0), exact);
        assert_int_equal(td__text_blocks_exact(&sc, m, n, exact, NULL, 0), exact);
        if (exact)
            assert_int_equal(td__text_blocks_exact(&sc, m, n, exact - 1, NULL, 0), exact);
        assert_true(td__text_blocks_band(&sc, m, n, 1) >= exact);
        td__text_scratch_free(&sc);
        free(pa);
        free(pb);
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

/* URLs found in running text: the expected list is written by hand as the URLs a reader sees
 * (each canonical form spelled out), then a generated text where every planted URL must be found
 * exactly once and nothing else. */
static void test_url_extract(void **state)
{
    (void)state;
    td_error err;
    char **urls = NULL;
    size_t n = 0;
    static const char text[] =
        "Join us: https://T.me/Example_Channel. Mirror "
        "(hxxps://files[.]example[.]org/a/b?utm_source=x)"
        " and www.Example.com/path, t.me/other/ plus http://en.wikipedia.org/wiki/Foo_(bar)!"
        " Not these: e.g. example.com, mail@host.example/x, file.txt, 3.14/2, https:// ,"
        " xhttp://glued.example/x. Again: https://t.me/example_channel";
    static const char *const want[] = {"https://t.me/Example_Channel",
                                       "https://files.example.org/a/b",
                                       "http://www.example.com/path",
                                       "http://t.me/other",
                                       "http://en.wikipedia.org/wiki/Foo_(bar)",
                                       "https://t.me/example_channel"};
    assert_int_equal(td_url_extract(text, sizeof text - 1, 0, &urls, &n, &err), TD_OK);
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(urls[i], want[i]);
    td_url_list_free(urls, n);

    /* the cap, and nothing found */
    assert_int_equal(td_url_extract(text, sizeof text - 1, 2, &urls, &n, &err), TD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(urls[1], want[1]);
    td_url_list_free(urls, n);
    assert_int_equal(td_url_extract("no links here.", 14, 0, &urls, &n, &err), TD_OK);
    assert_int_equal(n, 0);
    assert_null(urls);
    assert_int_equal(td_url_extract(NULL, 0, 0, &urls, &n, &err), TD_OK);
    assert_int_equal(n, 0);

    /* Generated: words, punctuation and planted URLs (distinct paths); every planted URL is
     * found once, in order, as its own canonical form, and nothing else. */
    uint64_t seed = 77;
    static const char *const words[] = {"the", "a.b", "x", "3.5", "(", ")", ",", "word.", "..."};
    char buf[65536];
    char planted[200][64];
    size_t np = 0, o = 0;
    while (o + 200 < sizeof buf && np < 200) {
        if (test_rand(&seed) % 4 == 0) {
            int kind = (int)(test_rand(&seed) % 3);
            snprintf(planted[np], sizeof planted[np], "%sexample%zu.org/p/%zu",
                     kind == 0   ? "https://"
                     : kind == 1 ? "www."
                                 : "",
                     np, np);
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s ", planted[np],
                                  test_rand(&seed) % 2 ? "." : "");
            np++;
        } else {
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s ",
                                  words[test_rand(&seed) % (sizeof words / sizeof words[0])]);
        }
    }
    assert_int_equal(td_url_extract(buf, o, 0, &urls, &n, &err), TD_OK);
    assert_int_equal(n, np < TD_URL_EXTRACT_MAX ? np : TD_URL_EXTRACT_MAX);
    for (size_t i = 0; i < n; i++) {
        char *canon = NULL;
        assert_int_equal(td_url_canonicalize(planted[i], strlen(planted[i]), &canon, &err), TD_OK);
        assert_string_equal(urls[i], canon);
        td_free(canon);
    }
    td_url_list_free(urls, n);

    /* A megabyte of one token, and of closing brackets: bounded work, nothing kept. */
    size_t big = (size_t)1 << 20;
    char *long_text = malloc(big);
    assert_non_null(long_text);
    memcpy(long_text, "https://", 8);
    memset(long_text + 8, 'a', big - 8);
    assert_int_equal(td_url_extract(long_text, big, 0, &urls, &n, &err), TD_OK);
    assert_int_equal(n, 0);
    memcpy(long_text, "https://x.org/", 14);
    memset(long_text + 14, ')', 4000);
    memset(long_text + 4014, ' ', big - 4014);
    assert_int_equal(td_url_extract(long_text, big, 0, &urls, &n, &err), TD_OK);
    assert_int_equal(n, 1);
    assert_string_equal(urls[0], "https://x.org/"); /* the root keeps its slash */
    td_url_list_free(urls, n);
    free(long_text);
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
    /* removal by id: that rule only, whichever of its keys; the others still cover their URLs */
    assert_int_equal(td_url_rules_count(r), 4);
    assert_int_equal(td_url_rules_add(r, TD_URL_RULE_DOMAIN, "files.example", 3, &err),
                     TD_OK); /* 2nd key */
    assert_int_equal(td_url_rules_remove(r, 3), 2);
    assert_int_equal(td_url_rules_remove(r, 3), 0);
    assert_int_equal(td_url_rules_count(r), 3);
    assert_int_equal(td_url_rules_match(r, u, strlen(u), ids, 8, &n, &err), TD_OK);
    assert_int_equal(n, 0);
    u = "http://www.ported.example:9090/z";
    assert_int_equal(td_url_rules_match(r, u, strlen(u), ids, 8, &n, &err), TD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 4);
    td_url_rules_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),           cmocka_unit_test(test_normalize_fast_path),
        cmocka_unit_test(test_levenshtein),         cmocka_unit_test(test_distance_methods),
        cmocka_unit_test(test_distance_repetitive), cmocka_unit_test(test_raw_rule),
        cmocka_unit_test(test_text_index),          cmocka_unit_test(test_text_index_long),
        cmocka_unit_test(test_text_index_remove),   cmocka_unit_test(test_text_index_threads),
        cmocka_unit_test(test_url_canonical),       cmocka_unit_test(test_url_md5),
        cmocka_unit_test(test_url_rules),           cmocka_unit_test(test_url_extract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
