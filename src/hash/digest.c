/* MD5 and SHA-256 of byte buffers, via OpenSSL libcrypto's EVP interface. */
#include <openssl/evp.h>

#include "core/hex.h"
#include "takedown/hash.h"

static td_status digest_hex(const EVP_MD *md, const uint8_t *data, size_t len, char *out,
                            size_t hex_len)
{
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int raw_len = 0;
    if (!EVP_Digest(data, len, raw, &raw_len, md, NULL) || (size_t)raw_len * 2 != hex_len)
        return TD_ERR_INTERNAL;
    td__hex_encode(raw, raw_len, out);
    return TD_OK;
}

td_status td_md5_hex(const uint8_t *data, size_t len, char out[TD_MD5_HEX_LEN + 1])
{
    return digest_hex(EVP_md5(), data, len, out, TD_MD5_HEX_LEN);
}

td_status td_sha256_hex(const uint8_t *data, size_t len, char out[TD_SHA256_HEX_LEN + 1])
{
    return digest_hex(EVP_sha256(), data, len, out, TD_SHA256_HEX_LEN);
}
