/* Bulk import at scale: a 200k-line list (with duplicates inside it and against the bank)
 * imported in one streamed import, then checked against a brute-force expectation on a sample
 * (near and far queries), on the importing node, on a second node that follows the change log,
 * and after a restart; an atomic import with a bad line in the middle leaves nothing; a second
 * large list overlapping the bank finds its duplicates against the stored signals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/store_url.h"
#include "support/support.h"
#include "takedown/casework.h"

enum { N = 200000, THRESHOLD = 31, SAMPLE = 40 };

static const char *fresh_dir(void) { return test_fresh_dir("ib-XXXXXX"); }

static td_service *open_svc(const char *dir) { return test_open_service(dir); }

static td_pdq random_pdq(uint64_t *seed)
{
    td_pdq p;
    for (int i = 0; i < 16; i++)
        p.w[i] = (uint16_t)test_rand(seed);
    return p;
}

static int distance(const td_pdq *a, const td_pdq *b)
{
    uint64_t x[4], y[4];
    int d = 0;
    memcpy(x, a->w, sizeof x);
    memcpy(y, b->w, sizeof y);
    for (int i = 0; i < 4; i++)
        d += __builtin_popcountll(x[i] ^ y[i]);
    return d;
}

/* The signals the bank should match: hashes and whether each is enabled. */
typedef struct expected {
    td_pdq *h;
    int *enabled;
    size_t n;
} expected;

static size_t brute_force(const expected *e, const td_pdq *q)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n; i++)
        n += e->enabled[i] && distance(&e->h[i], q) <= THRESHOLD;
    return n;
}

static size_t count_matches(td_service *svc, const td_pdq *p)
{
    td_hashes h;
    td_check_result res;
    td_error err;
    td_hashes_init(&h);
    h.pdq[0] = *p;
    h.n_pdq = 1;
    if (td_check_hashes(svc, &h, NULL, &res, &err))
        fail_msg("check: %s", err.message);
    size_t n = res.match_count;
    td_check_result_clear(&res);
    return n;
}

static td_pdq flip(td_pdq p, uint64_t *seed, int bits)
{
    for (int k = 0; k < bits; k++) {
        unsigned b = (unsigned)(test_rand(seed) % 256);
        p.w[b >> 4] ^= (uint16_t)(1u << (b & 15));
    }
    return p;
}

/* Every sampled query (an expected hash moved by up to 20 bits, and a random one) gets as many
 * matches as brute force finds. */
static void check_sample(td_service *svc, const expected *e, uint64_t seed)
{
    for (int s = 0; s < SAMPLE; s++) {
        size_t i = (size_t)(test_rand(&seed) % e->n);
        td_pdq near = flip(e->h[i], &seed, (int)(test_rand(&seed) % 21));
        td_pdq far = random_pdq(&seed);
        assert_int_equal(count_matches(svc, &near), brute_force(e, &near));
        assert_int_equal(count_matches(svc, &far), brute_force(e, &far));
    }
}

static uint64_t bank_count(td_service *svc, const char *name)
{
    td_bank b;
    td_error err;
    assert_int_equal(td_bank_get(svc, name, &b, &err), TD_OK);
    return (uint64_t)b.signal_count;
}

static uint64_t pdq_indexed(td_service *svc)
{
    td_service_stats st;
    td_error err;
    assert_int_equal(td_service_get_stats(svc, &st, &err), TD_OK);
    return st.pdq_indexed;
}

static td_status import_stream(td_service *svc, const char *bank, const char *list, size_t len,
                               int atomic, td_import_result *res)
{
    td_import_options o;
    td_import *imp;
    td_error err;
    td_import_options_init(&o);
    o.atomic = atomic;
    o.max_lines = 2 * N;
    td_status st = td_import_begin(svc, bank, &o, &imp, &err);
    assert_int_equal(st, TD_OK);
    for (size_t off = 0; off < len && st == TD_OK; off += 65536)
        st = td_import_feed(imp, list + off, len - off < 65536 ? len - off : 65536, &err);
    if (st) {
        td_import_abort(imp);
        memset(res, 0, sizeof *res);
        return st;
    }
    return td_import_finish(imp, res, &err);
}

static void append_pdq(char *list, size_t cap, size_t *len, const td_pdq *p)
{
    char hex[65];
    td_pdq_to_hex(p, hex);
    *len += (size_t)snprintf(list + *len, cap - *len, "pdq %s\n", hex);
}

static void test_import_bulk(void **state)
{
    (void)state;
    uint64_t seed = 41;
    const char *dir = fresh_dir();
    td_service *svc = open_svc(dir);
    td_service *other = open_svc(dir);
    td_error err;
    td_import_result res;
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "BULK");
    b.action = TD_ACTION_BLOCK;
    b.threshold = THRESHOLD;
    assert_int_equal(td_bank_create(svc, &b, NULL, &err), TD_OK);

    /* The list: N distinct hashes, the first 1000 of them once more at the end, and two that the
     * bank holds already (one of them disabled: it stays so). */
    expected e = {malloc((N + 2) * sizeof(td_pdq)), malloc((N + 2) * sizeof(int)), 0};
    assert_non_null(e.h);
    assert_non_null(e.enabled);
    td_signal_input in;
    td_signal sig;
    char hex[2][65];
    for (int k = 0; k < 2; k++) {
        e.h[e.n] = random_pdq(&seed);
        td_pdq_to_hex(&e.h[e.n], hex[k]);
        td_signal_input_init(&in);
        in.value = hex[k];
        assert_int_equal(td_signal_add(svc, "BULK", &in, &sig, &err), TD_OK);
        e.enabled[e.n++] = k == 0;
        if (k == 1)
            assert_int_equal(td_signal_set_enabled(svc, "BULK", sig.id, 0, NULL, &err), TD_OK);
    }
    size_t cap = (size_t)(N + 2000) * 70, len = 0;
    char *list = malloc(cap);
    assert_non_null(list);
    for (int i = 0; i < N; i++) {
        e.h[e.n] = random_pdq(&seed);
        e.enabled[e.n] = 1;
        append_pdq(list, cap, &len, &e.h[e.n++]);
    }
    for (int i = 0; i < 1000; i++)
        append_pdq(list, cap, &len, &e.h[2 + i]);
    len += (size_t)snprintf(list + len, cap - len, "pdq %s\npdq %s\n", hex[0], hex[1]);
    assert_int_equal(import_stream(svc, "BULK", list, len, 1, &res), TD_OK);
    assert_int_equal(res.added, N);
    assert_int_equal(res.duplicates, 1002);
    assert_int_equal(res.errors, 0);
    td_import_result_clear(&res);
    assert_int_equal(bank_count(svc, "BULK"), N + 2);
    /* Found right after the import returns, here; on the second node once it has followed. */
    assert_int_equal(pdq_indexed(svc), N + 1);
    check_sample(svc, &e, 1);
    assert_int_equal(count_matches(svc, &e.h[1]), 0); /* the disabled one */
    uint64_t applied = 0;
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(pdq_indexed(other), N + 1);
    check_sample(other, &e, 2);

    /* Atomic, a bad line in the middle: nothing is added, here or on the other node. */
    size_t len2 = 0;
    td_pdq fresh[3];
    for (int i = 0; i < N / 4; i++) {
        td_pdq p = random_pdq(&seed);
        if (i < 3)
            fresh[i] = p;
        append_pdq(list, cap, &len2, &p);
        if (i == N / 8)
            len2 += (size_t)snprintf(list + len2, cap - len2, "pdq 12345\n");
    }
    assert_int_equal(import_stream(svc, "BULK", list, len2, 1, &res), TD_ERR_INVALID);
    assert_int_equal(res.added, 0);
    td_import_result_clear(&res);
    assert_int_equal(bank_count(svc, "BULK"), N + 2);
    assert_int_equal(pdq_indexed(svc), N + 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(count_matches(svc, &fresh[i]), 0);
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(pdq_indexed(other), N + 1);

    /* A second large list, half of it in the bank already: the new half is added, in a bank
     * large enough for the duplicates to be found by reading the bank's values. */
    size_t len3 = 0, added3 = 0;
    enum { M = 80000 };
    e.h = realloc(e.h, (N + 2 + M) * sizeof(td_pdq));
    e.enabled = realloc(e.enabled, (N + 2 + M) * sizeof(int));
    assert_non_null(e.h);
    assert_non_null(e.enabled);
    for (int i = 0; i < M; i++) {
        if (i % 2) {
            append_pdq(list, cap, &len3, &e.h[2 + (size_t)i * 2]);
        } else {
            e.h[e.n] = random_pdq(&seed);
            e.enabled[e.n] = 1;
            append_pdq(list, cap, &len3, &e.h[e.n++]);
            added3++;
        }
    }
    assert_int_equal(import_stream(svc, "BULK", list, len3, 0, &res), TD_OK);
    assert_int_equal(res.added, added3);
    assert_int_equal(res.duplicates, M - added3);
    td_import_result_clear(&res);
    assert_int_equal(bank_count(svc, "BULK"), N + 2 + added3);
    assert_int_equal(pdq_indexed(svc), N + 1 + added3);
    check_sample(svc, &e, 3);
    assert_int_equal(td_service_follow(other, &applied, &err), TD_OK);
    assert_int_equal(pdq_indexed(other), N + 1 + added3);
    check_sample(other, &e, 4);

    /* A restart sees them all. */
    td_service_close(other);
    td_service_close(svc);
    svc = open_svc(dir);
    assert_int_equal(bank_count(svc, "BULK"), N + 2 + added3);
    assert_int_equal(pdq_indexed(svc), N + 1 + added3);
    check_sample(svc, &e, 5);
    assert_int_equal(count_matches(svc, &e.h[1]), 0);
    td_service_close(svc);
    free(list);
    free(e.h);
    free(e.enabled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_bulk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
