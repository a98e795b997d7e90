/* The audit log against an independent oracle: a Merkle tree computed here by the RFC 9162
 * recursion over leaf hashes from libsodium's SHA-256 (the library uses OpenSSL's), with proofs
 * built the same recursive way. Checks every (index, size) up to 70 leaves, every consistency
 * pair up to 40, random pairs in a larger log, published CT test vectors, tampering (entry,
 * leaf, node, checkpoint signature, truncation), persistence, the key file, proof documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/audit_int.h"
#include "core/hex.h"
#include "support/fake_clock.h"
#include "support/support.h"
#include "takedown/audit.h"
#include "takedown/store.h"

/* ---- the oracle ---- */

typedef uint8_t hash32[32];

static void o_leaf(const void *d, size_t n, uint8_t out[32])
{
    crypto_hash_sha256_state s;
    uint8_t z = 0;
    crypto_hash_sha256_init(&s);
    crypto_hash_sha256_update(&s, &z, 1);
    crypto_hash_sha256_update(&s, d, n);
    crypto_hash_sha256_final(&s, out);
}

static void o_node(const uint8_t *l, const uint8_t *r, uint8_t out[32])
{
    uint8_t buf[65];
    buf[0] = 1;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    crypto_hash_sha256(out, buf, 65);
}

static size_t o_k(size_t n)
{
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

static void o_mth(const hash32 *leaves, size_t n, uint8_t out[32])
{
    if (n == 0) {
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    size_t k = o_k(n);
    uint8_t l[32], r[32];
    o_mth(leaves, k, l);
    o_mth(leaves + k, n - k, r);
    o_node(l, r, out);
}

static void o_path(const hash32 *leaves, size_t m, size_t n, hash32 *out, size_t *len)
{
    if (n <= 1)
        return;
    size_t k = o_k(n);
    if (m < k) {
        o_path(leaves, m, k, out, len);
        o_mth(leaves + k, n - k, out[(*len)++]);
    } else {
        o_path(leaves + k, m - k, n - k, out, len);
        o_mth(leaves, k, out[(*len)++]);
    }
}

static void o_sub(const hash32 *leaves, size_t m, size_t n, int b, hash32 *out, size_t *len)
{
    if (m == n) {
        if (!b)
            o_mth(leaves, m, out[(*len)++]);
        return;
    }
    size_t k = o_k(n);
    if (m <= k) {
        o_sub(leaves, m, k, b, out, len);
        o_mth(leaves + k, n - k, out[(*len)++]);
    } else {
        o_sub(leaves + k, m - k, n - k, 0, out, len);
        o_mth(leaves, k, out[(*len)++]);
    }
}

/* ---- fixtures ---- */

typedef struct fixture {
    char dir[512];
    td_store *store;
    td_audit *log;
    hash32 *leaves;
    size_t n;
} fixture;

static void fx_open(fixture *fx, const td_audit_options *opts)
{
    char db[1200];
    td_error err;
    snprintf(db, sizeof db, "%s/takedown.db", fx->dir);
    assert_int_equal(td_store_open(db, NULL, &fx->store, &err), TD_OK);
    td_audit_options o;
    td_audit_options_default(&o);
    if (opts)
        o = *opts;
    o.clock.now_ms = fake_clock;
    td_status st = td_audit_open(fx->store, fx->dir, &o, &fx->log, &err);
    if (st)
        fail_msg("td_audit_open: %s", err.message);
}

static void fx_close(fixture *fx)
{
    td_audit_close(fx->log);
    td_store_close(fx->store);
    fx->log = NULL;
    fx->store = NULL;
}

static void fx_init(fixture *fx, const char *name, const td_audit_options *opts)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "%s", temp_path(name));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", fx->dir, fx->dir);
    assert_int_equal(system(cmd), 0);
    fx_open(fx, opts);
}

static void fx_free(fixture *fx)
{
    fx_close(fx);
    free(fx->leaves);
}

/* Appends entry number i and records its leaf hash in the oracle. */
static void fx_append(fixture *fx)
{
    char actor[32], object[32], details[64];
    uint64_t seq;
    td_error err;
    size_t i = fx->n;
    snprintf(actor, sizeof actor, "user%zu", i % 7);
    snprintf(object, sizeof object, "case/%zu", i / 3);
    snprintf(details, sizeof details, "{\"n\":%zu,\"q\":\"a\\\"b\"}", i);
    fake_clock_advance(1000);
    td_status st = td_audit_append(fx->log, actor, "order.receive", object, details, &seq, &err);
    if (st)
        fail_msg("append: %s", err.message);
    assert_int_equal(seq, i);
    /* The oracle's leaf comes from an independently written canonical form. */
    char canon[256];
    int len = snprintf(canon, sizeof canon,
                       "{\"seq\":%zu,\"time_ms\":%lld,\"actor\":\"%s\",\"action\":"
                       "\"order.receive\",\"object\":\"%s\",\"details\":\"{\\\"n\\\":%zu,"
                       "\\\"q\\\":\\\"a\\\\\\\"b\\\"}\"}",
                       i, (long long)fake_clock_get(), actor, object, i);
    fx->leaves = realloc(fx->leaves, (fx->n + 1) * sizeof *fx->leaves);
    assert_non_null(fx->leaves);
    o_leaf(canon, (size_t)len, fx->leaves[fx->n]);
    fx->n++;
    char *text;
    size_t tlen;
    assert_int_equal(td_audit_get_canonical(fx->log, seq, &text, &tlen, NULL), TD_OK);
    assert_int_equal(tlen, (size_t)len);
    assert_memory_equal(text, canon, tlen);
    td_free(text);
}

static void exec_sql(fixture *fx, const char *sql)
{
    td_store_conn *c;
    td_error err;
    assert_int_equal(td_store_acquire(fx->store, 1, &c, NULL), TD_OK);
    td_status st = td_store_exec(c, sql, &err);
    td_store_release(fx->store, c);
    if (st)
        fail_msg("%s: %s", sql, err.message);
}

static void expect_verify(fixture *fx, int ok, int64_t bad_seq)
{
    td_audit_report rep;
    td_error err;
    assert_int_equal(td_audit_verify_log(fx->log, &rep, &err), TD_OK);
    if (rep.ok != ok)
        fail_msg("verify: ok %d, expected %d (%s)", rep.ok, ok, rep.problem);
    if (!ok && bad_seq >= -1)
        assert_int_equal(rep.first_bad_seq, bad_seq);
}

/* ---- tests ---- */

/* Published CT test vectors (certificate-transparency-go merkle tests): 8 leaves, roots of
 * every prefix. */
static void test_known_vectors(void **state)
{
    (void)state;
    static const char *const leaves[] = {"",
                                         "00",
                                         "10",
                                         "2021",
                                         "3031",
                                         "40414243",
                                         "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f"};
    static const char *const roots[] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
    td__frontier f;
    hash32 hs[8];
    td__frontier_init(&f);
    uint8_t root[32], want[32];
    td__frontier_root(&f, root);
    assert_int_equal(
        td__hex_decode_exact("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64,
                             want, 32),
        0);
    assert_memory_equal(root, want, 32);
    for (int i = 0; i < 8; i++) {
        uint8_t bytes[16];
        size_t n = strlen(leaves[i]) / 2;
        assert_int_equal(td__hex_decode_exact(leaves[i], 2 * n, bytes, n), 0);
        td_audit_leaf_hash(bytes, n, hs[i]);
        uint8_t o[32];
        o_leaf(bytes, n, o);
        assert_memory_equal(o, hs[i], 32);
        td__frontier_push(&f, hs[i], NULL, NULL);
        td__frontier_root(&f, root);
        assert_int_equal(td__hex_decode_exact(roots[i], 64, want, 32), 0);
        assert_memory_equal(root, want, 32);
        o_mth(hs, (size_t)i + 1, root);
        assert_memory_equal(root, want, 32);
    }
    /* Every inclusion and consistency proof of this tree verifies with the library. */
    for (size_t n = 1; n <= 8; n++) {
        uint8_t r[32];
        o_mth(hs, n, r);
        for (size_t m = 0; m < n; m++) {
            td_audit_proof p = {.index = m, .size = n};
            o_path(hs, m, n, p.path, &p.n_path);
            assert_int_equal(td_audit_verify_inclusion(&p, hs[m], r, NULL), TD_OK);
            assert_int_not_equal(td_audit_verify_inclusion(&p, hs[(m + 1) % 8], r, NULL), TD_OK);
        }
        for (size_t m = 0; m <= n; m++) {
            uint8_t r1[32];
            td_audit_proof p = {.index = m, .size = n};
            o_mth(hs, m, r1);
            if (m > 0 && m < n)
                o_sub(hs, m, n, 1, p.path, &p.n_path);
            assert_int_equal(td_audit_verify_consistency(&p, r1, r, NULL), TD_OK);
        }
    }
}

static void check_inclusion(fixture *fx, size_t m, size_t n)
{
    td_audit_proof p, o = {.index = m, .size = n};
    td_error err;
    uint8_t root[32];
    td_status st = td_audit_prove_inclusion(fx->log, m, n, &p, &err);
    if (st)
        fail_msg("prove %zu/%zu: %s", m, n, err.message);
    o_path(fx->leaves, m, n, o.path, &o.n_path);
    assert_int_equal(p.n_path, o.n_path);
    assert_memory_equal(p.path, o.path, o.n_path * 32);
    o_mth(fx->leaves, n, root);
    st = td_audit_verify_inclusion(&p, fx->leaves[m], root, &err);
    if (st)
        fail_msg("verify %zu/%zu: %s", m, n, err.message);
    /* A flipped bit anywhere, another leaf, another index: refused. */
    if (p.n_path) {
        p.path[m % p.n_path][m % 32] ^= 1;
        assert_int_equal(td_audit_verify_inclusion(&p, fx->leaves[m], root, NULL), TD_ERR_CORRUPT);
        p.path[m % p.n_path][m % 32] ^= 1;
        assert_int_equal(td_audit_verify_inclusion(&p, fx->leaves[(m + 1) % n], root, NULL),
                         TD_ERR_CORRUPT);
        p.index = (m + 1) % n;
        assert_int_equal(td_audit_verify_inclusion(&p, fx->leaves[m], root, NULL), TD_ERR_CORRUPT);
    }
}

static void check_consistency(fixture *fx, size_t m, size_t n)
{
    td_audit_proof p, o = {.index = m, .size = n};
    td_error err;
    uint8_t r1[32], r2[32];
    td_status st = td_audit_prove_consistency(fx->log, m, n, &p, &err);
    if (st)
        fail_msg("consistency %zu/%zu: %s", m, n, err.message);
    if (m > 0 && m < n)
        o_sub(fx->leaves, m, n, 1, o.path, &o.n_path);
    assert_int_equal(p.n_path, o.n_path);
    assert_memory_equal(p.path, o.path, o.n_path * 32);
    o_mth(fx->leaves, m, r1);
    o_mth(fx->leaves, n, r2);
    st = td_audit_verify_consistency(&p, r1, r2, &err);
    if (st)
        fail_msg("verify consistency %zu/%zu: %s", m, n, err.message);
    if (m > 0 && m < n) {
        /* The old root of another size, or a changed path, is refused. */
        uint8_t other[32];
        o_mth(fx->leaves, m - 1, other);
        assert_int_equal(td_audit_verify_consistency(&p, other, r2, NULL), TD_ERR_CORRUPT);
        p.path[0][0] ^= 0x80;
        assert_int_equal(td_audit_verify_consistency(&p, r1, r2, NULL), TD_ERR_CORRUPT);
        p.path[0][0] ^= 0x80;
        p.n_path--;
        assert_int_equal(td_audit_verify_consistency(&p, r1, r2, NULL), TD_ERR_CORRUPT);
    }
}

static void test_proofs_exhaustive(void **state)
{
    (void)state;
    fixture fx;
    fx_init(&fx, "audit_exhaustive", NULL);
    for (size_t n = 1; n <= 70; n++) {
        fx_append(&fx);
        uint8_t root[32], want[32];
        assert_int_equal(td_audit_root(fx.log, n, root, NULL), TD_OK);
        o_mth(fx.leaves, n, want);
        assert_memory_equal(root, want, 32);
        for (size_t m = 0; m < n; m++)
            check_inclusion(&fx, m, n);
    }
    for (size_t n = 0; n <= 40; n++)
        for (size_t m = 0; m <= n; m++)
            check_consistency(&fx, m, n);
    /* Out of range. */
    td_audit_proof p;
    assert_int_equal(td_audit_prove_inclusion(fx.log, 70, 70, &p, NULL), TD_ERR_INVALID);
    assert_int_equal(td_audit_prove_inclusion(fx.log, 0, 71, &p, NULL), TD_ERR_NOT_FOUND);
    assert_int_equal(td_audit_prove_consistency(fx.log, 5, 4, &p, NULL), TD_ERR_INVALID);
    expect_verify(&fx, 1, -1);
    fx_free(&fx);
}

static void test_proofs_random_large(void **state)
{
    (void)state;
    fixture fx;
    uint64_t rs = 12345;
    fx_init(&fx, "audit_large", NULL);
    for (size_t i = 0; i < 1500; i++)
        fx_append(&fx);
    for (int t = 0; t < 150; t++) {
        size_t n = 1 + (size_t)(test_rand(&rs) % fx.n);
        size_t m = (size_t)(test_rand(&rs) % n);
        check_inclusion(&fx, m, n);
        check_consistency(&fx, m, n);
    }
    td_audit_report rep;
    assert_int_equal(td_audit_verify_log(fx.log, &rep, NULL), TD_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.entries, 1500);
    /* Default options: a checkpoint every 1000 entries or 60 s (entries are 1 s apart). */
    assert_true(rep.checkpoints >= 2);
    fx_free(&fx);
}

static void test_persistence_and_key(void **state)
{
    (void)state;
    fixture fx;
    uint8_t pub1[32], pub2[32], root1[32], root2[32];
    td_audit_checkpoint cp;
    fx_init(&fx, "audit_persist", NULL);
    for (int i = 0; i < 13; i++)
        fx_append(&fx);
    td_audit_public_key(fx.log, pub1);
    assert_int_equal(td_audit_sign_checkpoint(fx.log, &cp, NULL), TD_OK);
    assert_int_equal(cp.size, 13);
    assert_int_equal(td_audit_checkpoint_verify(&cp, pub1, NULL), TD_OK);
    assert_int_equal(td_audit_root(fx.log, 13, root1, NULL), TD_OK);
    fx_close(&fx);

    char key[1200];
    struct stat sb;
    snprintf(key, sizeof key, "%s/audit_log.key", fx.dir);
    assert_int_equal(stat(key, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    fx_open(&fx, NULL);
    td_audit_public_key(fx.log, pub2);
    assert_memory_equal(pub1, pub2, 32);
    assert_int_equal(td_audit_root(fx.log, 13, root2, NULL), TD_OK);
    assert_memory_equal(root1, root2, 32);
    td_audit_checkpoint latest;
    assert_int_equal(td_audit_latest_checkpoint(fx.log, &latest, NULL), TD_OK);
    assert_memory_equal(&latest, &cp, sizeof cp);
    for (int i = 0; i < 20; i++)
        fx_append(&fx);
    for (size_t m = 0; m < fx.n; m += 5)
        check_inclusion(&fx, m, fx.n);
    check_consistency(&fx, 13, fx.n);
    td_audit_entry e;
    assert_int_equal(td_audit_get(fx.log, 14, &e, NULL), TD_OK);
    assert_string_equal(e.action, "order.receive");
    assert_string_equal(e.object, "case/4");
    td_audit_entry_clear(&e);
    assert_int_equal(td_audit_get(fx.log, 999, &e, NULL), TD_ERR_NOT_FOUND);
    expect_verify(&fx, 1, -1);
    fx_close(&fx);

    /* A key file others can read is refused. */
    assert_int_equal(chmod(key, 0644), 0);
    td_audit *log;
    td_error err;
    char db[1200];
    snprintf(db, sizeof db, "%s/takedown.db", fx.dir);
    assert_int_equal(td_store_open(db, NULL, &fx.store, NULL), TD_OK);
    assert_int_equal(td_audit_open(fx.store, fx.dir, NULL, &log, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "0600"));
    td_store_close(fx.store);
    fx.store = NULL;
    assert_int_equal(chmod(key, 0600), 0);
    free(fx.leaves);
}

static void test_tamper(void **state)
{
    (void)state;
    fixture fx;
    td_audit_options o;
    td_audit_options_default(&o);
    o.checkpoint_entries = 8;
    o.checkpoint_interval_ms = 0;
    fx_init(&fx, "audit_tamper", &o);
    for (int i = 0; i < 20; i++)
        fx_append(&fx);
    expect_verify(&fx, 1, -1);
    td_audit_report rep;
    assert_int_equal(td_audit_verify_log(fx.log, &rep, NULL), TD_OK);
    assert_int_equal(rep.checkpoints, 2); /* at 8 and 16 */
    assert_int_equal(rep.uncovered, 4);

    /* An edited entry. */
    exec_sql(&fx, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 5");
    expect_verify(&fx, 0, 5);
    /* Edited consistently with its leaf hash: the tree nodes above it disagree. */
    {
        char *text;
        size_t len;
        uint8_t h[32];
        char hex[65], sql[256];
        td_audit_entry e;
        assert_int_equal(td_audit_get(fx.log, 5, &e, NULL), TD_OK);
        assert_int_equal(td_audit_entry_canonical(5, e.time_ms, e.actor, e.action, e.object,
                                                  e.details, &text, &len, NULL),
                         TD_OK);
        td_audit_entry_clear(&e);
        td_audit_leaf_hash(text, len, h);
        td_free(text);
        td__hex_encode(h, 32, hex);
        snprintf(sql, sizeof sql, "UPDATE audit_entries SET leaf = x'%s' WHERE seq = 5", hex);
        exec_sql(&fx, sql);
        expect_verify(&fx, 0, 4); /* node (1, 2) covers leaves 4 and 5 */
    }
    fx_free(&fx);

    /* Fresh log for the node, signature and truncation cases. */
    fx_init(&fx, "audit_tamper2", &o);
    for (int i = 0; i < 20; i++)
        fx_append(&fx);
    exec_sql(&fx, "UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 1");
    expect_verify(&fx, 0, 4);
    fx_free(&fx);

    fx_init(&fx, "audit_tamper3", &o);
    for (int i = 0; i < 20; i++)
        fx_append(&fx);
    exec_sql(&fx, "UPDATE audit_checkpoints SET signature = zeroblob(64) WHERE size = 16");
    expect_verify(&fx, 0, -1);
    assert_int_equal(td_audit_verify_log(fx.log, &rep, NULL), TD_OK);
    assert_non_null(strstr(rep.problem, "signature"));
    fx_free(&fx);

    fx_init(&fx, "audit_tamper4", &o);
    for (int i = 0; i < 20; i++)
        fx_append(&fx);
    /* Dropping the newest entries (and their nodes) below a signed size is seen. */
    exec_sql(&fx, "DELETE FROM audit_entries WHERE seq >= 12;"
                  "DELETE FROM audit_nodes WHERE ((idx + 1) << level) > 12");
    expect_verify(&fx, 0, 12);
    fx_free(&fx);
}

/* A rewrite that also rebuilds every stored node: only the signed checkpoints catch it. */
typedef struct node_sink {
    fixture *fx;
} node_sink;

static int insert_node(void *ctx, int level, uint64_t index, const uint8_t hash[32])
{
    node_sink *s = ctx;
    char sql[256], hex[65];
    td__hex_encode(hash, 32, hex);
    snprintf(sql, sizeof sql, "INSERT INTO audit_nodes (level, idx, hash) VALUES (%d, %llu, x'%s')",
             level, (unsigned long long)index, hex);
    exec_sql(s->fx, sql);
    return 0;
}

static void test_tamper_rebuilt_tree(void **state)
{
    (void)state;
    fixture fx;
    td_audit_options o;
    td_audit_options_default(&o);
    o.checkpoint_entries = 8;
    o.checkpoint_interval_ms = 0;
    fx_init(&fx, "audit_rebuild", &o);
    for (int i = 0; i < 20; i++)
        fx_append(&fx);
    exec_sql(&fx, "UPDATE audit_entries SET details = 'rewritten' WHERE seq = 3;"
                  "DELETE FROM audit_nodes");
    td__frontier f;
    node_sink sink = {&fx};
    td__frontier_init(&f);
    for (uint64_t i = 0; i < 20; i++) {
        td_audit_entry e;
        char *text, sql[256], hex[65];
        size_t len;
        uint8_t leaf[32];
        assert_int_equal(td_audit_get(fx.log, i, &e, NULL), TD_OK);
        assert_int_equal(td_audit_entry_canonical(i, e.time_ms, e.actor, e.action, e.object,
                                                  e.details, &text, &len, NULL),
                         TD_OK);
        td_audit_entry_clear(&e);
        td_audit_leaf_hash(text, len, leaf);
        td_free(text);
        td__hex_encode(leaf, 32, hex);
        snprintf(sql, sizeof sql, "UPDATE audit_entries SET leaf = x'%s' WHERE seq = %llu", hex,
                 (unsigned long long)i);
        exec_sql(&fx, sql);
        td__frontier_push(&f, leaf, insert_node, &sink);
    }
    td_audit_report rep;
    assert_int_equal(td_audit_verify_log(fx.log, &rep, NULL), TD_OK);
    assert_false(rep.ok);
    assert_int_equal(rep.first_bad_seq, 7); /* the checkpoint of size 8 */
    assert_non_null(strstr(rep.problem, "signed root"));
    /* And a proof from the rewritten log does not verify against the old signed checkpoint. */
    td_audit_checkpoint cp;
    assert_int_equal(td_audit_checkpoint_for_size(fx.log, 8, &cp, NULL), TD_OK);
    td_audit_proof p;
    assert_int_equal(td_audit_prove_inclusion(fx.log, 3, 8, &p, NULL), TD_OK);
    uint8_t leaf[32];
    char *text;
    size_t len;
    assert_int_equal(td_audit_get_canonical(fx.log, 3, &text, &len, NULL), TD_OK);
    td_audit_leaf_hash(text, len, leaf);
    td_free(text);
    assert_int_equal(td_audit_verify_inclusion(&p, leaf, cp.root, NULL), TD_ERR_CORRUPT);
    fx_free(&fx);
}

static void test_checkpoints_auto(void **state)
{
    (void)state;
    fixture fx;
    td_audit_options o;
    td_audit_options_default(&o);
    o.checkpoint_entries = 0;
    o.checkpoint_interval_ms = 5500; /* entries are 1 s apart */
    fx_init(&fx, "audit_cp_time", &o);
    td_audit_checkpoint cp;
    assert_int_equal(td_audit_latest_checkpoint(fx.log, &cp, NULL), TD_ERR_NOT_FOUND);
    fx_append(&fx); /* first entry: no checkpoint yet -> signs at once */
    assert_int_equal(td_audit_latest_checkpoint(fx.log, &cp, NULL), TD_OK);
    assert_int_equal(cp.size, 1);
    for (int i = 0; i < 5; i++)
        fx_append(&fx);
    assert_int_equal(td_audit_latest_checkpoint(fx.log, &cp, NULL), TD_OK);
    assert_int_equal(cp.size, 1);
    fx_append(&fx); /* 6 s after the first */
    assert_int_equal(td_audit_latest_checkpoint(fx.log, &cp, NULL), TD_OK);
    assert_int_equal(cp.size, 7);
    assert_int_equal(cp.time_ms, fake_clock_get());
    uint8_t pub[32], root[32];
    td_audit_public_key(fx.log, pub);
    assert_int_equal(td_audit_checkpoint_verify(&cp, pub, NULL), TD_OK);
    o_mth(fx.leaves, 7, root);
    assert_memory_equal(cp.root, root, 32);
    cp.time_ms++;
    assert_int_equal(td_audit_checkpoint_verify(&cp, pub, NULL), TD_ERR_CORRUPT);
    /* checkpoint_for_size reuses a stored one, or signs a past size on demand. */
    td_audit_checkpoint a, b;
    assert_int_equal(td_audit_checkpoint_for_size(fx.log, 7, &a, NULL), TD_OK);
    assert_int_equal(a.time_ms, fake_clock_get());
    assert_int_equal(td_audit_checkpoint_for_size(fx.log, 3, &b, NULL), TD_OK);
    o_mth(fx.leaves, 3, root);
    assert_memory_equal(b.root, root, 32);
    assert_int_equal(td_audit_checkpoint_for_size(fx.log, 8, &b, NULL), TD_ERR_NOT_FOUND);
    expect_verify(&fx, 1, -1);
    fx_free(&fx);
}

static void test_entry_canonical(void **state)
{
    (void)state;
    char *t;
    size_t n;
    td_error err;
    assert_int_equal(td_audit_entry_canonical(7, -5, "a\"b", "x\\y", "o\n\x01", NULL, &t, &n, &err),
                     TD_OK);
    assert_string_equal(t, "{\"seq\":7,\"time_ms\":-5,\"actor\":\"a\\\"b\",\"action\":\"x\\\\y\","
                           "\"object\":\"o\\n\\u0001\",\"details\":\"\"}");
    assert_int_equal(n, strlen(t));
    td_free(t);
    assert_int_equal(td_audit_entry_canonical(0, 0, "\xc3\xa9t\xc3\xa9", "a", "",
                                              "\xf0\x9f\x98\x80", &t, &n, NULL),
                     TD_OK);
    td_free(t);
    assert_int_equal(td_audit_entry_canonical(0, 0, "\xc3", "a", "o", "", &t, &n, &err),
                     TD_ERR_INVALID);
    assert_null(t);
    assert_int_equal(td_audit_entry_canonical(0, 0, "\xc0\x80", "a", "o", "", &t, &n, NULL),
                     TD_ERR_INVALID);
    assert_int_equal(td_audit_entry_canonical(0, 0, "\xed\xa0\x80", "a", "o", "", &t, &n, NULL),
                     TD_ERR_INVALID);
    assert_int_equal(td_audit_entry_canonical(0, 0, "u", "", "o", "", &t, &n, NULL),
                     TD_ERR_INVALID);
    char *big = malloc(TD_AUDIT_MAX_DETAILS + 2);
    memset(big, 'x', TD_AUDIT_MAX_DETAILS + 1);
    big[TD_AUDIT_MAX_DETAILS + 1] = '\0';
    assert_int_equal(td_audit_entry_canonical(0, 0, "u", "a", "o", big, &t, &n, &err),
                     TD_ERR_LIMIT);
    big[TD_AUDIT_MAX_DETAILS] = '\0';
    assert_int_equal(td_audit_entry_canonical(0, 0, "u", "a", "o", big, &t, &n, &err), TD_OK);
    td_free(t);
    free(big);
}

static void test_documents(void **state)
{
    (void)state;
    fixture fx;
    uint8_t pub[32], other[32], osk[64];
    td_error err;
    fx_init(&fx, "audit_docs", NULL);
    for (int i = 0; i < 11; i++)
        fx_append(&fx);
    td_audit_public_key(fx.log, pub);
    crypto_sign_keypair(other, osk);

    td_audit_doc d = {.type = TD_AUDIT_DOC_INCLUSION}, back;
    assert_int_equal(td_audit_checkpoint_for_size(fx.log, 11, &d.checkpoint, NULL), TD_OK);
    assert_int_equal(td_audit_prove_inclusion(fx.log, 6, 11, &d.proof, NULL), TD_OK);
    assert_int_equal(td_audit_get_canonical(fx.log, 6, &d.entry, &d.entry_len, NULL), TD_OK);
    td_audit_leaf_hash(d.entry, d.entry_len, d.leaf_hash);
    char *text;
    size_t len;
    assert_int_equal(td_audit_doc_format(&d, &text, &len, NULL), TD_OK);
    assert_int_equal(td_audit_doc_parse(text, len, &back, &err), TD_OK);
    assert_int_equal(td_audit_doc_verify(&back, pub, &err), TD_OK);
    assert_int_equal(td_audit_doc_verify(&back, other, NULL), TD_ERR_CORRUPT);
    assert_int_equal(back.entry_len, d.entry_len);
    td_audit_doc_clear(&back);
    /* The entry text altered: its hash no longer matches. */
    char *p = strstr(text, "order.receive");
    assert_non_null(p);
    p[0] = 'O';
    assert_int_equal(td_audit_doc_parse(text, len, &back, NULL), TD_OK);
    assert_int_equal(td_audit_doc_verify(&back, pub, &err), TD_ERR_CORRUPT);
    td_audit_doc_clear(&back);
    td_free(text);
    td_audit_doc_clear(&d);

    /* Consistency document. */
    td_audit_doc c = {.type = TD_AUDIT_DOC_CONSISTENCY};
    assert_int_equal(td_audit_checkpoint_for_size(fx.log, 5, &c.first, NULL), TD_OK);
    assert_int_equal(td_audit_checkpoint_for_size(fx.log, 11, &c.checkpoint, NULL), TD_OK);
    assert_int_equal(td_audit_prove_consistency(fx.log, 5, 11, &c.proof, NULL), TD_OK);
    assert_int_equal(td_audit_doc_format(&c, &text, &len, NULL), TD_OK);
    assert_int_equal(td_audit_doc_parse(text, len, &back, &err), TD_OK);
    assert_int_equal(td_audit_doc_verify(&back, pub, &err), TD_OK);
    td_audit_doc_clear(&back);
    td_free(text);

    /* Malformed documents fail with a status, never a crash. */
    static const char *const bad[] = {
        "",
        "[]",
        "{\"type\":\"inclusion\"}",
        ("{\"type\":\"checkpoint\",\"checkpoint\":{\"size\":1,\"time_ms\":1,\"root\":\"00\","
         "\"signature\":\"00\"}}"),
        "{\"type\":\"checkpoint\",\"checkpoint\":{},\"x\":1}",
        "{\"type\":\"nope\"}",
        "{\"type\":\"consistency\",\"type\":\"consistency\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(td_audit_doc_parse(bad[i], strlen(bad[i]), &back, &err), TD_OK);
        assert_null(back.entry);
    }
    /* A path longer than the limit. */
    char big[8192];
    size_t o = (size_t)snprintf(big, sizeof big, "{\"type\":\"consistency\",\"path\":[");
    for (int i = 0; i <= TD_AUDIT_MAX_PATH; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "%s\"%064d\"", i ? "," : "", 0);
    o += (size_t)snprintf(big + o, sizeof big - o, "]}");
    assert_int_equal(td_audit_doc_parse(big, o, &back, &err), TD_ERR_LIMIT);
    fx_free(&fx);
}

/* The CLI, end to end, when `takedown audit` is registered in this build (it is skipped
 * otherwise): verify, prove + check-proof offline, consistency, a tampered row. */
static void test_cli(void **state)
{
    (void)state;
    char cmd[4096], out[8192], pub[80];
    snprintf(cmd, sizeof cmd, "'%s' help audit >/dev/null 2>&1", TD_CLI_PATH);
    if (system(cmd) != 0) {
        print_message("takedown audit is not registered in src/cli/main.c: skipped\n");
        skip();
    }
    fixture fx;
    fx_init(&fx, "audit_cli", NULL);
    for (int i = 0; i < 30; i++)
        fx_append(&fx);
    fx_close(&fx);
    const char *cli = TD_CLI_PATH;
    snprintf(cmd, sizeof cmd, "'%s' audit verify --data '%s'", cli, fx.dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"ok\":true"));
    snprintf(cmd, sizeof cmd, "'%s' audit pubkey --data '%s'", cli, fx.dir);
    assert_int_equal(run_capture(cmd, pub, sizeof pub), 0);
    pub[64] = '\0';
    snprintf(cmd, sizeof cmd, "'%s' audit prove --data '%s' --seq 17 > '%s/p.json'", cli, fx.dir,
             fx.dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' audit check-proof '%s/p.json' --pubkey %s", cli, fx.dir, pub);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "ok: entry 17"));
    snprintf(cmd, sizeof cmd,
             "'%s' audit consistency --data '%s' --from 9 --to 30 > '%s/c.json' && "
             "'%s' audit check-proof '%s/c.json' --pubkey %s",
             cli, fx.dir, fx.dir, cli, fx.dir, pub);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    /* Another key: refused. */
    pub[0] = pub[0] == '0' ? '1' : '0';
    snprintf(cmd, sizeof cmd, "'%s' audit check-proof '%s/c.json' --pubkey %s 2>/dev/null", cli,
             fx.dir, pub);
    assert_int_equal(run_capture(cmd, out, sizeof out), 1);
    /* A tampered row: verify exits 1. */
    fx_open(&fx, NULL);
    exec_sql(&fx, "UPDATE audit_entries SET object = 'case/x' WHERE seq = 11");
    fx_close(&fx);
    snprintf(cmd, sizeof cmd, "'%s' audit verify --data '%s' 2>/dev/null", cli, fx.dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "\"first_bad_seq\":11"));
    free(fx.leaves);
}

int main(void)
{
    fake_clock_set(1700000000000);
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),       cmocka_unit_test(test_entry_canonical),
        cmocka_unit_test(test_proofs_exhaustive),   cmocka_unit_test(test_proofs_random_large),
        cmocka_unit_test(test_persistence_and_key), cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_tamper_rebuilt_tree), cmocka_unit_test(test_checkpoints_auto),
        cmocka_unit_test(test_documents),           cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
