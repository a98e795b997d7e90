/* UTF-8 decoding and the code points that must not reach a reader unescaped: control characters
 * and the invisible formatting characters (bidirectional overrides and isolates, zero-width
 * characters, the byte order mark) that can make displayed text differ from what it is. Shared by
 * the parsers of untrusted text (orders) and the server's error writer. */
#ifndef TD_CORE_UTF8_H
#define TD_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of the well-formed UTF-8 sequence at s (n available), its code point in *cp; 0 when it is
 * not well-formed (stray continuation, truncated, overlong, surrogate, over U+10FFFF). */
size_t td__utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

/* C0 controls, DEL and the C1 controls. */
int td__unicode_is_control(uint32_t cp);

/* Bidirectional embeddings, overrides and isolates, zero-width and other invisible formatting
 * characters (U+061C, U+180E, U+200B..U+200F, U+202A..U+202E, U+2060..U+2069, U+FEFF,
 * U+FFF9..U+FFFB). */
int td__unicode_is_invisible(uint32_t cp);

#endif
