/* libFuzzer harness: what a reporter sends to the franking code. The first byte picks:
 *  - 0: a franked message envelope (td_frank_message_decode): what decodes encodes back to the
 *    same bytes, and a refusal leaves nothing behind;
 *  - 1: a key (32 bytes) and an attachment blob, opened against a reference to another blob
 *    (refused on the hash) and against one made from them (decryption reached with garbage:
 *    refused as unauthenticated, unless the input is a blob sealed under that key, which must
 *    then open and stop opening with one bit flipped);
 *  - 2: a context (two ids split at the second byte) and a report against a fixed key: encoding
 *    succeeds exactly when both ids are 1..256 bytes of UTF-8 without NUL, and verification of
 *    a garbage proof never succeeds. */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "takedown/frank.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size)
{
    char *text = NULL;
    size_t text_len = 0, n = 0, len = 0;
    td_frank_attachment_ref *refs = NULL;
    uint8_t *again = NULL;
    if (td_frank_message_decode(data, size, &text, &text_len, &refs, &n, NULL) != TD_OK) {
        if (text || refs || n || text_len)
            abort();
        return;
    }
    if (n > TD_FRANK_ATTACH_MAX || text_len > TD_FRANK_TEXT_MAX || text[text_len] != '\0')
        abort();
    if (td_frank_message_encode(text, text_len, refs, n, &again, &len, NULL) != TD_OK ||
        len != size || memcmp(again, data, size) != 0)
        abort();
    td_free(again);
    td_free(text);
    td_free(refs);
}

static void open_blob(const uint8_t *data, size_t size)
{
    if (size < TD_FRANK_ATTACH_KEY_LEN)
        return;
    const uint8_t *key = data;
    size_t blob_len = size - TD_FRANK_ATTACH_KEY_LEN;
    uint8_t *blob = malloc(blob_len + 1), *plain = NULL, *again = NULL;
    size_t plain_len = 0, again_len = 0;
    td_frank_attachment_ref ref;
    td_error err;
    if (!blob)
        return;
    memcpy(blob, data + TD_FRANK_ATTACH_KEY_LEN, blob_len);
    td_frank_key_commitment(key, ref.key_commitment);
    /* A reference naming another blob: refused on the hash, before any decryption. */
    memset(ref.blob_sha256, 0, sizeof ref.blob_sha256);
    if (td_frank_attachment_open(&ref, key, blob, blob_len, &plain, &plain_len, &err) == TD_OK ||
        plain || plain_len || strncmp(err.message, "attachment hash", 15) != 0)
        abort();
    /* The right reference: decryption is reached. Garbage is refused as unauthenticated; a
     * blob that opens (a seed sealed under its key) opens to its length less 28, and with any
     * bit flipped (and the reference following it) no longer does. */
    crypto_hash_sha256(ref.blob_sha256, blob, blob_len);
    td_status st = td_frank_attachment_open(&ref, key, blob, blob_len, &plain, &plain_len, &err);
    if (st != TD_OK) {
        if (plain || strncmp(err.message, "attachment authentication", 25) != 0)
            abort();
    } else {
        if (plain_len != blob_len - 28)
            abort();
        size_t bit = (size_t)data[0] % (8 * blob_len);
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        crypto_hash_sha256(ref.blob_sha256, blob, blob_len);
        if (td_frank_attachment_open(&ref, key, blob, blob_len, &again, &again_len, &err) == TD_OK)
            abort();
    }
    td_free(plain);
    free(blob);
}

static int valid_id(const uint8_t *s, size_t n)
{
    if (n == 0 || n > TD_FRANK_ID_MAX)
        return 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = td__utf8_next(s + i, n - i, &cp);
        if (k == 0 || cp == 0)
            return 0;
        i += k;
    }
    return 1;
}

static void context(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t split = data[0] <= size - 1 ? data[0] : size - 1;
    const uint8_t *a = data + 1, *b = data + 1 + split;
    size_t a_len = split, b_len = size - 1 - split;
    td_frank_context ctx = {(const char *)a, a_len, (const char *)b, b_len, (int64_t)size - 8};
    uint8_t out[TD_FRANK_CONTEXT_MAX];
    size_t len = 0;
    int want = valid_id(a, a_len) && valid_id(b, b_len) && ctx.accepted_ms >= 0;
    td_status st = td_frank_context_encode(&ctx, out, &len, NULL);
    if ((st == TD_OK) != want || (want && len != 16 + a_len + b_len))
        abort();
    static const td_frank_key key = {.id = 1}; /* all-zero secrets: any garbage is refused */
    td_frank_proof proof;
    td_frank_failure why;
    memset(&proof, 0xa5, sizeof proof);
    proof.key_id = 1;
    uint8_t salt[TD_FRANK_SALT_LEN] = {0};
    st = td_frank_verify(&key, salt, data, size, &ctx, &proof, &why, NULL);
    if (st != TD_ERR_INVALID || why != (want ? TD_FRANK_MISMATCH : TD_FRANK_BAD_INPUT))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: decode(data + 1, size - 1); break;
    case 1: open_blob(data + 1, size - 1); break;
    default: context(data + 1, size - 1); break;
    }
    return 0;
}
