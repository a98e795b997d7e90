/* The Merkle-tree arithmetic of RFC 9162 §2.1 that needs no store: leaf and node hashes, the
 * frontier of an append-only tree, and the two proof verifiers an auditor runs offline.
 *
 * The verifiers follow the RFC's iterative algorithms (§2.1.3.2 and §2.1.4.2) literally, because
 * auditors compare them against other CT implementations; the generators (log.c) follow the
 * recursive definitions, so the two sides are written differently and the tests check that they
 * agree. */
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "audit/audit_int.h"
#include "core/error.h"

/* SHA-256 of a one-byte prefix followed by two byte strings. OpenSSL does the work; if it cannot
 * allocate its context, libsodium's SHA-256 (the same function) does, so hashing never fails. */
static void sha256_prefixed(uint8_t prefix, const void *a, size_t alen, const void *b, size_t blen,
                            uint8_t out[TD_AUDIT_HASH_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int outlen = 0;
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, &prefix, 1) &&
        EVP_DigestUpdate(ctx, a, alen) && (blen == 0 || EVP_DigestUpdate(ctx, b, blen)) &&
        EVP_DigestFinal_ex(ctx, out, &outlen) && outlen == TD_AUDIT_HASH_LEN) {
        EVP_MD_CTX_free(ctx);
        return;
    }
    EVP_MD_CTX_free(ctx);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, a, alen);
    if (blen)
        crypto_hash_sha256_update(&st, b, blen);
    crypto_hash_sha256_final(&st, out);
}

void td_audit_leaf_hash(const void *entry, size_t len, uint8_t out[TD_AUDIT_HASH_LEN])
{
    sha256_prefixed(0x00, len ? entry : "", len, NULL, 0, out);
}

void td_audit_node_hash(const uint8_t left[TD_AUDIT_HASH_LEN],
                        const uint8_t right[TD_AUDIT_HASH_LEN], uint8_t out[TD_AUDIT_HASH_LEN])
{
    sha256_prefixed(0x01, left, TD_AUDIT_HASH_LEN, right, TD_AUDIT_HASH_LEN, out);
}

/* ---- frontier ---- */

void td__frontier_init(td__frontier *f) { memset(f, 0, sizeof *f); }

int td__frontier_push(td__frontier *f, const uint8_t leaf[TD_AUDIT_HASH_LEN], td__frontier_fn fn,
                      void *ctx)
{
    memcpy(f->hash[f->n], leaf, TD_AUDIT_HASH_LEN);
    f->level[f->n] = 0;
    f->n++;
    f->size++;
    /* Two neighbours of equal height form their parent: binary carry over the leaf count. */
    while (f->n >= 2 && f->level[f->n - 1] == f->level[f->n - 2]) {
        uint8_t parent[TD_AUDIT_HASH_LEN];
        td_audit_node_hash(f->hash[f->n - 2], f->hash[f->n - 1], parent);
        f->n--;
        f->level[f->n - 1]++;
        memcpy(f->hash[f->n - 1], parent, TD_AUDIT_HASH_LEN);
        int level = f->level[f->n - 1];
        if (fn) {
            int rc = fn(ctx, level, (f->size >> level) - 1, parent);
            if (rc)
                return rc;
        }
    }
    return 0;
}

void td__frontier_root(const td__frontier *f, uint8_t root[TD_AUDIT_HASH_LEN])
{
    if (f->n == 0) {
        /* MTH({}) = SHA-256() */
        crypto_hash_sha256(root, (const unsigned char *)"", 0);
        return;
    }
    /* MTH(D[n]) = HASH(0x01 || MTH(first perfect subtree) || MTH(rest)): fold from the right. */
    uint8_t r[TD_AUDIT_HASH_LEN];
    memcpy(r, f->hash[f->n - 1], TD_AUDIT_HASH_LEN);
    for (int i = f->n - 2; i >= 0; i--)
        td_audit_node_hash(f->hash[i], r, r);
    memcpy(root, r, TD_AUDIT_HASH_LEN);
}

/* ---- verifiers ---- */

td_status td_audit_verify_inclusion(const td_audit_proof *proof,
                                    const uint8_t leaf_hash[TD_AUDIT_HASH_LEN],
                                    const uint8_t root[TD_AUDIT_HASH_LEN], td_error *err)
{
    if (proof->index >= proof->size)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "inclusion proof: leaf %llu is outside a tree of %llu",
                             (unsigned long long)proof->index, (unsigned long long)proof->size);
    if (proof->n_path > TD_AUDIT_MAX_PATH)
        return td__error_set(err, TD_ERR_CORRUPT, "inclusion proof: path too long");
    uint64_t fn = proof->index, sn = proof->size - 1;
    uint8_t r[TD_AUDIT_HASH_LEN];
    memcpy(r, leaf_hash, TD_AUDIT_HASH_LEN);
    for (size_t i = 0; i < proof->n_path; i++) {
        const uint8_t *p = proof->path[i];
        if (sn == 0)
            return td__error_set(err, TD_ERR_CORRUPT, "inclusion proof: path too long");
        if ((fn & 1) || fn == sn) {
            td_audit_node_hash(p, r, r);
            if (!(fn & 1))
                while (fn && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            td_audit_node_hash(r, p, r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return td__error_set(err, TD_ERR_CORRUPT, "inclusion proof: path too short");
    if (sodium_memcmp(r, root, TD_AUDIT_HASH_LEN) != 0)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "inclusion proof: the path does not lead to the root");
    return TD_OK;
}

td_status td_audit_verify_consistency(const td_audit_proof *proof,
                                      const uint8_t first_root[TD_AUDIT_HASH_LEN],
                                      const uint8_t root[TD_AUDIT_HASH_LEN], td_error *err)
{
    uint64_t first = proof->index, second = proof->size;
    if (first > second)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "consistency proof: first size %llu exceeds second size %llu",
                             (unsigned long long)first, (unsigned long long)second);
    if (proof->n_path > TD_AUDIT_MAX_PATH)
        return td__error_set(err, TD_ERR_CORRUPT, "consistency proof: path too long");
    if (first == second) {
        if (proof->n_path != 0 || sodium_memcmp(first_root, root, TD_AUDIT_HASH_LEN) != 0)
            return td__error_set(err, TD_ERR_CORRUPT,
                                 "consistency proof: equal sizes need equal roots, no path");
        return TD_OK;
    }
    if (first == 0) {
        /* Every tree extends the empty one; the proof is empty. */
        uint8_t empty[TD_AUDIT_HASH_LEN];
        crypto_hash_sha256(empty, (const unsigned char *)"", 0);
        if (proof->n_path != 0 || sodium_memcmp(first_root, empty, TD_AUDIT_HASH_LEN) != 0)
            return td__error_set(err, TD_ERR_CORRUPT,
                                 "consistency proof: bad proof from the empty tree");
        return TD_OK;
    }
    if (proof->n_path == 0)
        return td__error_set(err, TD_ERR_CORRUPT, "consistency proof: empty path");
    /* RFC 9162 §2.1.4.2, with "prepend first_hash" done by starting one step earlier. */
    size_t i = 0;
    uint8_t fr[TD_AUDIT_HASH_LEN], sr[TD_AUDIT_HASH_LEN];
    const uint8_t *start;
    if ((first & (first - 1)) == 0) {
        start = first_root;
    } else {
        start = proof->path[0];
        i = 1;
    }
    uint64_t fn = first - 1, sn = second - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    memcpy(fr, start, TD_AUDIT_HASH_LEN);
    memcpy(sr, start, TD_AUDIT_HASH_LEN);
    for (; i < proof->n_path; i++) {
        const uint8_t *c = proof->path[i];
        if (sn == 0)
            return td__error_set(err, TD_ERR_CORRUPT, "consistency proof: path too long");
        if ((fn & 1) || fn == sn) {
            td_audit_node_hash(c, fr, fr);
            td_audit_node_hash(c, sr, sr);
            if (!(fn & 1))
                while (fn && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            td_audit_node_hash(sr, c, sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return td__error_set(err, TD_ERR_CORRUPT, "consistency proof: path too short");
    if (sodium_memcmp(fr, first_root, TD_AUDIT_HASH_LEN) != 0)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "consistency proof: does not lead to the first root");
    if (sodium_memcmp(sr, root, TD_AUDIT_HASH_LEN) != 0)
        return td__error_set(err, TD_ERR_CORRUPT,
                             "consistency proof: does not lead to the second root");
    return TD_OK;
}

/* ---- checkpoints ---- */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* A fixed, versioned binary message: a signature over a checkpoint of this log can never be
 * mistaken for a signature over anything else the key might sign. */
void td__checkpoint_message(const td_audit_checkpoint *cp, uint8_t msg[TD__CHECKPOINT_MSG_LEN])
{
    static const char domain[28] = "takedown audit checkpoint 1\n";
    memcpy(msg, domain, 28);
    put_be64(msg + 28, cp->size);
    put_be64(msg + 36, (uint64_t)cp->time_ms);
    memcpy(msg + 44, cp->root, TD_AUDIT_HASH_LEN);
}

td_status td_audit_checkpoint_verify(const td_audit_checkpoint *cp,
                                     const uint8_t pub[TD_AUDIT_PUBKEY_LEN], td_error *err)
{
    uint8_t msg[TD__CHECKPOINT_MSG_LEN];
    td_status st = td__sodium_ready(err);
    if (st)
        return st;
    td__checkpoint_message(cp, msg);
    if (crypto_sign_verify_detached(cp->signature, msg, sizeof msg, pub) != 0)
        return td__error_set(err, TD_ERR_CORRUPT, "checkpoint of size %llu: bad signature",
                             (unsigned long long)cp->size);
    return TD_OK;
}

/* ---- small helpers ---- */

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void sodium_start(void) { sodium_ok = sodium_init() >= 0; }

td_status td__sodium_ready(td_error *err)
{
    pthread_once(&sodium_once, sodium_start);
    return sodium_ok ? TD_OK : td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to start");
}
