/* GF(256) for Shamir sharing. Why no log/exp tables: table lookups indexed by secret bytes leak
 * through the cache; shift-and-add with masks costs a few nanoseconds per byte, and the secrets
 * are 32 bytes long. */
#include "evidence/gf256.h"

uint8_t td__gf_mul(uint8_t a, uint8_t b)
{
    unsigned x = a, y = b, r = 0;
    for (int i = 0; i < 8; i++) {
        r ^= x & (0u - (y & 1u));                  /* add x when the low bit of y is set */
        x = (x << 1) ^ (0x11bu & (0u - (x >> 7))); /* x *= X, reduced when it overflows */
        y >>= 1;
    }
    return (uint8_t)r;
}

uint8_t td__gf_inv(uint8_t a)
{
    /* a^254 = a^-1 (the group has 255 elements): a fixed chain of squarings and products. */
    uint8_t a2 = td__gf_mul(a, a);
    uint8_t a3 = td__gf_mul(a2, a);     /* a^3 */
    uint8_t a6 = td__gf_mul(a3, a3);    /* a^6 */
    uint8_t a12 = td__gf_mul(a6, a6);   /* a^12 */
    uint8_t a15 = td__gf_mul(a12, a3);  /* a^15 */
    uint8_t a30 = td__gf_mul(a15, a15); /* a^30 */
    uint8_t a60 = td__gf_mul(a30, a30); /* a^60 */
    uint8_t a63 = td__gf_mul(a60, a3);  /* a^63 */
    uint8_t a126 = td__gf_mul(a63, a63);
    uint8_t a127 = td__gf_mul(a126, a);
    return td__gf_mul(a127, a127); /* a^254 */
}
