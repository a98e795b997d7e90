/* Shamir's secret sharing of a 32-byte secret, byte by byte: byte i of the secret is the
 * constant term of a random polynomial of degree k - 1 over GF(256), and share x holds its value
 * at x. Any k shares fix the polynomial (Lagrange interpolation at 0); fewer reveal nothing.
 *
 * A share alone cannot tell whether it is right, so its text carries a checksum (typos, bit rot)
 * and the evidence store keeps a commitment to each share (a custodian submitting another's or a
 * forged share). */
#include <sodium.h>
#include <string.h>

#include "core/error.h"
#include "core/hex.h"
#include "evidence/gf256.h"
#include "takedown/evidence.h"

#define SHARE_BIN_LEN (1 + TD_SHARE_SET_ID_LEN + 1 + 1 + TD_SHAMIR_SECRET_LEN)
#define SHARE_PREFIX "tdss1-"

td_status td_shamir_split(const uint8_t secret[TD_SHAMIR_SECRET_LEN], unsigned k, unsigned n,
                          const uint8_t set_id[TD_SHARE_SET_ID_LEN], td_share *shares,
                          td_error *err)
{
    if (sodium_init() < 0) /* idempotent and safe from any thread */
        return td__error_set(err, TD_ERR_INTERNAL, "libsodium failed to start");
    if (k < 2 || k > n || n > TD_SHAMIR_MAX_SHARES)
        return td__error_set(err, TD_ERR_INVALID, "shamir: need 2 <= k <= n <= 255 (k %u, n %u)", k,
                             n);
    uint8_t *coef = sodium_malloc(TD_SHAMIR_MAX_SHARES);
    if (!coef)
        return td__error_set(err, TD_ERR_NOMEM, "shamir: out of memory");
    for (unsigned j = 0; j < n; j++) {
        memcpy(shares[j].set_id, set_id, TD_SHARE_SET_ID_LEN);
        shares[j].k = (uint8_t)k;
        shares[j].x = (uint8_t)(j + 1);
    }
    for (size_t b = 0; b < TD_SHAMIR_SECRET_LEN; b++) {
        coef[0] = secret[b];
        randombytes_buf(coef + 1, k - 1);
        for (unsigned j = 0; j < n; j++) {
            /* Horner: (((c[k-1] x + c[k-2]) x + ...) x + c[0] */
            uint8_t x = (uint8_t)(j + 1), y = 0;
            for (unsigned i = k; i-- > 0;)
                y = (uint8_t)(td__gf_mul(y, x) ^ coef[i]);
            shares[j].y[b] = y;
        }
    }
    sodium_free(coef);
    return TD_OK;
}

td_status td_shamir_combine(const td_share *shares, size_t count,
                            uint8_t secret[TD_SHAMIR_SECRET_LEN], td_error *err)
{
    if (count == 0)
        return td__error_set(err, TD_ERR_INVALID, "shamir: no shares");
    unsigned k = shares[0].k;
    if (k < 2)
        return td__error_set(err, TD_ERR_INVALID, "shamir: share with threshold %u", k);
    if (count < k)
        return td__error_set(err, TD_ERR_INVALID, "shamir: %zu shares, %u needed", count, k);
    for (size_t i = 0; i < k; i++) {
        if (shares[i].k != k ||
            memcmp(shares[i].set_id, shares[0].set_id, TD_SHARE_SET_ID_LEN) != 0)
            return td__error_set(err, TD_ERR_INVALID, "shamir: shares from different splits");
        if (shares[i].x == 0)
            return td__error_set(err, TD_ERR_INVALID, "shamir: share with x = 0");
        for (size_t j = 0; j < i; j++)
            if (shares[j].x == shares[i].x)
                return td__error_set(err, TD_ERR_INVALID, "shamir: share %u given twice",
                                     shares[i].x);
    }
    /* Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i); the x are public. */
    uint8_t l[TD_SHAMIR_MAX_SHARES];
    for (size_t i = 0; i < k; i++) {
        uint8_t num = 1, den = 1;
        for (size_t j = 0; j < k; j++) {
            if (j == i)
                continue;
            num = td__gf_mul(num, shares[j].x);
            den = td__gf_mul(den, (uint8_t)(shares[j].x ^ shares[i].x));
        }
        l[i] = td__gf_mul(num, td__gf_inv(den));
    }
    for (size_t b = 0; b < TD_SHAMIR_SECRET_LEN; b++) {
        uint8_t s = 0;
        for (size_t i = 0; i < k; i++)
            s ^= td__gf_mul(l[i], shares[i].y[b]);
        secret[b] = s;
    }
    return TD_OK;
}

static void share_bin(const td_share *s, uint8_t out[SHARE_BIN_LEN])
{
    out[0] = 1; /* version */
    memcpy(out + 1, s->set_id, TD_SHARE_SET_ID_LEN);
    out[1 + TD_SHARE_SET_ID_LEN] = s->k;
    out[2 + TD_SHARE_SET_ID_LEN] = s->x;
    memcpy(out + 3 + TD_SHARE_SET_ID_LEN, s->y, TD_SHAMIR_SECRET_LEN);
}

static void checksum(const uint8_t bin[SHARE_BIN_LEN], uint8_t out[4])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)"takedown share checksum", 23);
    crypto_hash_sha256_update(&st, bin, SHARE_BIN_LEN);
    crypto_hash_sha256_final(&st, h);
    memcpy(out, h, 4);
}

void td_share_format(const td_share *s, char out[TD_SHARE_TEXT_LEN + 1])
{
    uint8_t bin[SHARE_BIN_LEN], sum[4];
    share_bin(s, bin);
    checksum(bin, sum);
    memcpy(out, SHARE_PREFIX, 6);
    td__hex_encode(bin, SHARE_BIN_LEN, out + 6);
    td__hex_encode(sum, 4, out + 6 + 2 * SHARE_BIN_LEN);
    sodium_memzero(bin, sizeof bin);
}

td_status td_share_parse(const char *text, size_t len, td_share *out, td_error *err)
{
    uint8_t bin[SHARE_BIN_LEN], sum[4], want[4];
    memset(out, 0, sizeof *out);
    while (len && (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')) {
        text++;
        len--;
    }
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n' ||
                   text[len - 1] == '\r'))
        len--;
    if (len != TD_SHARE_TEXT_LEN || memcmp(text, SHARE_PREFIX, 6) != 0)
        return td__error_set(err, TD_ERR_INVALID,
                             "share: expected '" SHARE_PREFIX "' and %d more characters",
                             TD_SHARE_TEXT_LEN - 6);
    if (td__hex_decode_exact(text + 6, 2 * SHARE_BIN_LEN, bin, SHARE_BIN_LEN) ||
        td__hex_decode_exact(text + 6 + 2 * SHARE_BIN_LEN, 8, sum, 4))
        return td__error_set(err, TD_ERR_INVALID, "share: not hexadecimal");
    checksum(bin, want);
    if (sodium_memcmp(sum, want, 4) != 0) {
        sodium_memzero(bin, sizeof bin);
        return td__error_set(err, TD_ERR_CORRUPT, "share: checksum mismatch (mistyped?)");
    }
    if (bin[0] != 1 || bin[1 + TD_SHARE_SET_ID_LEN] < 2 || bin[2 + TD_SHARE_SET_ID_LEN] == 0) {
        sodium_memzero(bin, sizeof bin);
        return td__error_set(err, TD_ERR_UNSUPPORTED, "share: unknown version or bad fields");
    }
    memcpy(out->set_id, bin + 1, TD_SHARE_SET_ID_LEN);
    out->k = bin[1 + TD_SHARE_SET_ID_LEN];
    out->x = bin[2 + TD_SHARE_SET_ID_LEN];
    memcpy(out->y, bin + 3 + TD_SHARE_SET_ID_LEN, TD_SHAMIR_SECRET_LEN);
    sodium_memzero(bin, sizeof bin);
    return TD_OK;
}

void td_share_commitment(const td_share *s, uint8_t out[32])
{
    uint8_t bin[SHARE_BIN_LEN];
    crypto_hash_sha256_state st;
    share_bin(s, bin);
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)"takedown share commitment", 25);
    crypto_hash_sha256_update(&st, bin, SHARE_BIN_LEN);
    crypto_hash_sha256_final(&st, out);
    sodium_memzero(bin, sizeof bin);
}
