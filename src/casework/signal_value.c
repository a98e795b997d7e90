/* Signal values as the signals table stores them. From migration 7 SQLite holds the raw bytes
 * (32 for PDQ and SHA-256, 16 for MD5; a body signal's value is its body's SHA-256): a row and
 * its (bank, type, value) index entry about 40% smaller than with 64 hex digits, which is most of
 * what a bulk import of millions writes. PostgreSQL keeps its text column (its driver binds
 * bytes for a text column as lowercase hex). Readers accept both forms: the length tells them
 * apart. The rest of the library, and the API, speak hex. */
#include <string.h>

#include "casework/service_int.h"
#include "core/error.h"

void td__pdq_from_raw(const uint8_t raw[32], td_pdq *out)
{
    for (int k = 0; k < 16; k++)
        out->w[15 - k] = (uint16_t)(raw[2 * k] << 8 | raw[2 * k + 1]);
}

int td__hex_decode(const char *hex, size_t n, uint8_t *out)
{
    /* Table-driven: the bulk paths decode millions of values. */
    static const signed char v[256] = {
        ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
        ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
        ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
        ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    };
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = v[(unsigned char)hex[i]], lo = v[(unsigned char)hex[i + 1]];
        if (!hi || !lo)
            return -1;
        out[i / 2] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return 0;
}

size_t td__signal_raw_len(td_signal_type type)
{
    switch (type) {
    case TD_SIGNAL_PDQ: return 32;
    case TD_SIGNAL_MD5: return 16;
    case TD_SIGNAL_SHA256: return 32;
    case TD_SIGNAL_URL: return 32; /* the SHA-256 of the canonical URL */
    case TD_SIGNAL_URL_MD5: return 16;
    default: return 0;
    }
}

size_t td__signal_value_len(td_signal_type type)
{
    size_t n = td__signal_raw_len(type);
    return n ? n : 32;
}

int td__value_column(td_stmt *q, int col, td_signal_type type, uint8_t raw[32])
{
    size_t want = td__signal_value_len(type), n = td_stmt_column_bytes(q, col);
    const void *p = td_stmt_column_blob(q, col);
    if (!p)
        return -1;
    if (n == want) {
        memcpy(raw, p, want);
        return 0;
    }
    return n == 2 * want ? td__hex_decode(p, n, raw) : -1;
}

void td__hex_encode(const uint8_t *raw, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[2 * n] = '\0';
}

int td__value_column_hex(td_stmt *q, int col, td_signal_type type, char out[65])
{
    uint8_t raw[32];
    out[0] = '\0';
    if (td__value_column(q, col, type, raw) != 0)
        return -1;
    td__hex_encode(raw, td__signal_value_len(type), out);
    return 0;
}

td_status td__value_bind(td_stmt *q, int index, td_signal_type type, const char *hex, td_error *err)
{
    uint8_t raw[32];
    size_t n = td__signal_value_len(type);
    if (!hex || strnlen(hex, 2 * n + 1) != 2 * n || td__hex_decode(hex, 2 * n, raw) != 0)
        return td__error_set(err, TD_ERR_INVALID, "a %s value is %zu hex digits",
                             td_signal_type_name(type), 2 * n);
    return td_stmt_bind_blob(q, index, raw, n, err);
}
