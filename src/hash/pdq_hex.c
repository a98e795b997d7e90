/* PDQ hash text form, distance and variant names. */
#include <string.h>

#include "takedown/hash.h"

static const char *const dihedral_names[TD_DIH_COUNT] = {
    "original", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1"};

const char *td_dihedral_name(td_dihedral variant)
{
    return (unsigned)variant < TD_DIH_COUNT ? dihedral_names[variant] : "unknown";
}

void td_pdq_to_hex(const td_pdq *hash, char out[TD_PDQ_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    /* Word 15 first; within a word, the most significant nibble first. */
    for (int w = 15, o = 0; w >= 0; w--)
        for (int shift = 12; shift >= 0; shift -= 4)
            out[o++] = digits[(hash->w[w] >> shift) & 15];
    out[TD_PDQ_HEX_LEN] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

td_status td_pdq_from_hex(const char *hex, size_t len, td_pdq *out)
{
    td_pdq h;
    if (!hex || len != TD_PDQ_HEX_LEN)
        return TD_ERR_INVALID;
    for (int w = 15, i = 0; w >= 0; w--) {
        unsigned word = 0;
        for (int n = 0; n < 4; n++) {
            int v = hex_value(hex[i++]);
            if (v < 0)
                return TD_ERR_INVALID;
            word = (word << 4) | (unsigned)v;
        }
        h.w[w] = (uint16_t)word;
    }
    *out = h;
    return TD_OK;
}

int td_pdq_distance(const td_pdq *a, const td_pdq *b)
{
    uint64_t x[4], y[4];
    int d = 0;
    memcpy(x, a->w, sizeof x);
    memcpy(y, b->w, sizeof y);
    for (int i = 0; i < 4; i++)
        d += __builtin_popcountll(x[i] ^ y[i]);
    return d;
}
