/* PDQ hash text form, distance and variant names. */
#include <string.h>

#include "core/hex.h"
#include "takedown/hash.h"

static const char *const dihedral_names[TD_DIH_COUNT] = {
    "original", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1"};

const char *td_dihedral_name(td_dihedral variant)
{
    return (unsigned)variant < TD_DIH_COUNT ? dihedral_names[variant] : "unknown";
}

/* The text form is the 32 bytes of words 15 .. 0, each most significant byte first. */
void td_pdq_to_hex(const td_pdq *hash, char out[TD_PDQ_HEX_LEN + 1])
{
    uint8_t raw[32];
    for (int k = 0; k < 16; k++) {
        raw[2 * k] = (uint8_t)(hash->w[15 - k] >> 8);
        raw[2 * k + 1] = (uint8_t)hash->w[15 - k];
    }
    td__hex_encode(raw, sizeof raw, out);
}

td_status td_pdq_from_hex(const char *hex, size_t len, td_pdq *out)
{
    uint8_t raw[32];
    if (!hex || len != TD_PDQ_HEX_LEN || td__hex_decode(hex, len, raw) != 0)
        return TD_ERR_INVALID;
    for (int k = 0; k < 16; k++)
        out->w[15 - k] = (uint16_t)(raw[2 * k] << 8 | raw[2 * k + 1]);
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
