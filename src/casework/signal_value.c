/* Signal values as the signals table stores them. From migration 7 SQLite holds the raw bytes
 * (32 for PDQ and SHA-256, 16 for MD5; a body signal's value is its body's SHA-256): a row and
 * its (bank, type, value) index entry about 40% smaller than with 64 hex digits, which is most of
 * what a bulk import of millions writes. PostgreSQL keeps its text column (its driver binds
 * bytes for a text column as lowercase hex). Readers accept both forms: the length tells them
 * apart. The rest of the library, and the API, speak hex. */
#include <string.h>

#include "casework/service_int.h"
#include "core/error.h"
#include "core/hex.h"

void td__pdq_from_raw(const uint8_t raw[32], td_pdq *out)
{
    for (int k = 0; k < 16; k++)
        out->w[15 - k] = (uint16_t)(raw[2 * k] << 8 | raw[2 * k + 1]);
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
