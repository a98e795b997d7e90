/* An AES-256-GCM blob that opens under two keys (salamander.h).
 *
 * With a 96-bit nonce N, GCM under key K computes H = AES_K(0^128), J0 = N || 0^31 || 1, the
 * keystream AES_K(N || counter) from counter 2, and for ciphertext blocks C_1..C_m (no associated
 * data) the tag
 *     T = AES_K(J0) + C_1 H^(m+1) + C_2 H^m + ... + C_m H^2 + L H,
 * L = 0^64 || bit length of C, with + the XOR of GF(2^128). For two keys the tags differ by
 *     T1 + T2 = S + C_m (H1^2 + H2^2),
 * where S is that difference computed with C_m = 0, so C_m = S / (H1^2 + H2^2) = S / (H1 + H2)^2
 * makes them equal; H1 = H2 only if the keys give the same AES block for zero, which distinct
 * keys do not in practice (the function then fails rather than divide by zero). */
#include "support/salamander.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void td_test_gf128_mul(const uint8_t x[16], const uint8_t y[16], uint8_t out[16])
{
    uint8_t z[16] = {0}, v[16];
    memcpy(v, y, 16);
    for (int i = 0; i < 128; i++) {
        if ((x[i / 8] >> (7 - i % 8)) & 1)
            for (int k = 0; k < 16; k++)
                z[k] ^= v[k];
        int lsb = v[15] & 1;
        for (int k = 15; k > 0; k--)
            v[k] = (uint8_t)((v[k] >> 1) | (v[k - 1] << 7));
        v[0] >>= 1;
        if (lsb)
            v[0] ^= 0xe1; /* R = 11100001 || 0^120 */
    }
    memcpy(out, z, 16);
}

/* x^(2^128 - 2) = x^2 * x^4 * ... * x^(2^127): the multiplicative group has 2^128 - 1
 * elements. */
void td_test_gf128_inv(const uint8_t x[16], uint8_t out[16])
{
    uint8_t r[16] = {0x80}, s[16];
    memcpy(s, x, 16);
    for (int i = 1; i < 128; i++) {
        td_test_gf128_mul(s, s, s);
        td_test_gf128_mul(r, s, r);
    }
    memcpy(out, r, 16);
}

/* One AES-256 block (ECB, no padding). */
static int aes_block(const uint8_t key[32], const uint8_t in[16], uint8_t out[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), NULL, key, NULL) &&
                    EVP_CIPHER_CTX_set_padding(c, 0) && EVP_EncryptUpdate(c, out, &n, in, 16) &&
                    n == 16;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

/* The keystream block of block index j (0-based) of the data: AES_K(N || be32(j + 2)). */
static int keystream(const uint8_t key[32], const uint8_t nonce[12], size_t j, uint8_t out[16])
{
    uint8_t ctr[16];
    uint32_t c = (uint32_t)j + 2;
    memcpy(ctr, nonce, 12);
    ctr[12] = (uint8_t)(c >> 24);
    ctr[13] = (uint8_t)(c >> 16);
    ctr[14] = (uint8_t)(c >> 8);
    ctr[15] = (uint8_t)c;
    return aes_block(key, ctr, out);
}

static void xor16(uint8_t *a, const uint8_t *b)
{
    for (int k = 0; k < 16; k++)
        a[k] ^= b[k];
}

/* GCM's tag of m ciphertext blocks under key (no associated data). */
static int gcm_tag(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *c, size_t m,
                   uint8_t tag[16])
{
    static const uint8_t zero[16];
    uint8_t h[16], j0[16], y[16] = {0}, len_block[16] = {0};
    if (aes_block(key, zero, h) != 0)
        return -1;
    for (size_t j = 0; j < m; j++) { /* Y = (Y + C_j) H */
        xor16(y, c + 16 * j);
        td_test_gf128_mul(y, h, y);
    }
    uint64_t bits = (uint64_t)m * 128;
    for (int k = 0; k < 8; k++)
        len_block[15 - k] = (uint8_t)(bits >> (8 * k));
    xor16(y, len_block);
    td_test_gf128_mul(y, h, y);
    memcpy(j0, nonce, 12);
    j0[12] = j0[13] = j0[14] = 0;
    j0[15] = 1;
    if (aes_block(key, j0, tag) != 0)
        return -1;
    xor16(tag, y);
    return 0;
}

int td_test_salamander(const uint8_t k1[32], const uint8_t k2[32], const uint8_t nonce[12],
                       const uint8_t *plain1, size_t len1, const uint8_t *plain2, size_t len2,
                       uint8_t **blob, size_t *blob_len)
{
    static const uint8_t zero[16];
    size_t b1 = (len1 + 15) / 16, b2 = (len2 + 15) / 16, m = b1 + b2 + 1;
    uint8_t h1[16], h2[16], t1[16], t2[16], d[16], dinv[16], ks[16];
    *blob = NULL;
    *blob_len = 0;
    if (memcmp(k1, k2, 32) == 0)
        return -1;
    uint8_t *out = calloc(1, 12 + 16 * m + 16);
    if (!out)
        return -1;
    uint8_t *c = out + 12;
    memcpy(out, nonce, 12);
    /* The chosen blocks: plain1 under k1, then plain2 under k2; the last block 0 for now. */
    for (size_t j = 0; j < b1 + b2; j++) {
        const uint8_t *src = j < b1 ? plain1 : plain2;
        size_t off = 16 * (j < b1 ? j : j - b1), len = j < b1 ? len1 : len2;
        if (keystream(j < b1 ? k1 : k2, nonce, j, ks) != 0)
            goto fail;
        for (size_t k = 0; k < 16; k++)
            c[16 * j + k] = (uint8_t)((off + k < len ? src[off + k] : 0) ^ ks[k]);
    }
    /* C_m = (T1 + T2 with C_m = 0) / (H1 + H2)^2. */
    if (aes_block(k1, zero, h1) != 0 || aes_block(k2, zero, h2) != 0 ||
        gcm_tag(k1, nonce, c, m, t1) != 0 || gcm_tag(k2, nonce, c, m, t2) != 0)
        goto fail;
    memcpy(d, h1, 16);
    xor16(d, h2);
    if (memcmp(d, zero, 16) == 0)
        goto fail;
    td_test_gf128_mul(d, d, d);
    td_test_gf128_inv(d, dinv);
    xor16(t1, t2);
    td_test_gf128_mul(t1, dinv, c + 16 * (m - 1));
    /* Both tags are now equal: the blob carries k1's. */
    if (gcm_tag(k1, nonce, c, m, t1) != 0 || gcm_tag(k2, nonce, c, m, t2) != 0 ||
        memcmp(t1, t2, 16) != 0)
        goto fail;
    memcpy(c + 16 * m, t1, 16);
    *blob = out;
    *blob_len = 12 + 16 * m + 16;
    return 0;
fail:
    free(out);
    return -1;
}
