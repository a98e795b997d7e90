/* Arithmetic in GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b). */
#ifndef TD_EVIDENCE_GF256_H
#define TD_EVIDENCE_GF256_H

#include <stdint.h>

/* Constant time: no table lookups or branches on the operands (they are secret share bytes). */
uint8_t td__gf_mul(uint8_t a, uint8_t b);
/* The multiplicative inverse (a^254); td__gf_inv(0) is 0. Constant time. */
uint8_t td__gf_inv(uint8_t a);

#endif
