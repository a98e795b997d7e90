/* Hex encoding and decoding (see hex.h). */
#include "core/hex.h"

static const char digits[] = "0123456789abcdef";

/* Digit values plus one, so that the zero of every other entry means "not a digit". */
static const signed char values[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

void td__hex_encode(const uint8_t *raw, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[2 * n] = '\0';
}

int td__hex_decode(const char *hex, size_t n, uint8_t *out)
{
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = values[(unsigned char)hex[i]], lo = values[(unsigned char)hex[i + 1]];
        if (!hi || !lo)
            return -1;
        out[i / 2] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return 0;
}

int td__hex_decode_exact(const char *hex, size_t len, uint8_t *out, size_t n)
{
    if (!hex || len / 2 != n || len % 2)
        return -1;
    return td__hex_decode(hex, len, out);
}

int td__hex_digit(int c) { return c >= 0 && c < 256 ? values[c] - 1 : -1; }
