/* "Invisible salamanders" for the tests: one AES-256-GCM blob that authenticates under two
 * different keys and decrypts to two different plaintexts. GCM's tag is linear in each
 * ciphertext block over GF(2^128), so with every block but one fixed, the last block is the
 * solution of one linear equation that makes the two keys' tags equal (Dodis, Grubbs,
 * Ristenpart and Woodage, "Fast message franking: from invisible salamanders to encryptment",
 * CRYPTO 2018). The AES block function is OpenSSL's; the field arithmetic is written here. */
#ifndef TD_TEST_SALAMANDER_H
#define TD_TEST_SALAMANDER_H

#include <stddef.h>
#include <stdint.h>

/* Builds blob = nonce (12) || ciphertext || tag (16), the attachment blob of frank.h (no
 * associated data), that opens under k1 and under k2. The ciphertext is ceil(len1 / 16) blocks
 * that decrypt under k1 to plain1 (the last block zero-padded), then ceil(len2 / 16) blocks that
 * decrypt under k2 to plain2 (likewise), then one block solved so that both tags are equal: under
 * k1 the plaintext starts with plain1, under k2 it holds plain2 at offset 16 * ceil(len1 / 16),
 * and everything else is noise. plain1 / plain2 may be NULL with a length of 0. *blob is
 * malloc'ed (free it); 12 + 16 * (blocks + 1) + 16 bytes. Returns 0, or -1 when k1 equals k2
 * or OpenSSL fails. */
int td_test_salamander(const uint8_t k1[32], const uint8_t k2[32], const uint8_t nonce[12],
                       const uint8_t *plain1, size_t len1, const uint8_t *plain2, size_t len2,
                       uint8_t **blob, size_t *blob_len);

/* GF(2^128) with GCM's bit order (NIST SP 800-38D, section 6.3): the product, and the inverse
 * (x^(2^128 - 2); the inverse of 0 is 0). The unit is 0x80 followed by 15 zero bytes. */
void td_test_gf128_mul(const uint8_t x[16], const uint8_t y[16], uint8_t out[16]);
void td_test_gf128_inv(const uint8_t x[16], uint8_t out[16]);

#endif
