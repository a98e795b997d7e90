/* Hex text of bytes: the one encoder and decoder of the library. Table-driven, since the bulk
 * paths (imports, the change-log follower, signal values) convert millions of values. */
#ifndef TD_CORE_HEX_H
#define TD_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of n bytes into out (2n + 1 bytes with the NUL). */
void td__hex_encode(const uint8_t *raw, size_t n, char *out) __attribute__((nonnull));

/* Decodes n hex digits (either case) into n / 2 bytes; -1 on an odd n or a bad digit (out may
 * then be partly written). */
__attribute__((warn_unused_result)) int td__hex_decode(const char *hex, size_t n, uint8_t *out);

/* Exactly 2 * n hex digits (len of them, either case) into the n bytes of a fixed-size value;
 * -1 for any other length or a bad digit. */
__attribute__((warn_unused_result)) int td__hex_decode_exact(const char *hex, size_t len,
                                                             uint8_t *out, size_t n);

/* The value of one hex digit (either case), -1 for any other character. */
int td__hex_digit(int c);

#endif
