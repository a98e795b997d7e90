/* Attachments: blob = nonce (12) || AES-256-GCM ciphertext || tag (16), OpenSSL's EVP.
 *
 * AES-GCM is not key-committing: a blob can be built that authenticates under two keys and
 * opens to two different files ("invisible salamanders"; test_frank builds one). A reporter who
 * could choose the key at report time could then show a file the sender never sent. So the
 * franked message commits to the blob's SHA-256 and to SHA-256(domain || key), and opening
 * checks both commitments before it decrypts: only the key the sender committed to is accepted.
 * The SHA-256s come from libsodium (they cannot fail, so the commitment needs no status). */
#include <limits.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "frank/frank_int.h"

#define OVERHEAD (TD_FRANK_ATTACH_NONCE_LEN + TD_FRANK_ATTACH_TAG_LEN)
#define CHUNK ((size_t)1 << 30) /* EVP takes int lengths */

void td_frank_key_commitment(const uint8_t key[TD_FRANK_ATTACH_KEY_LEN], uint8_t out[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)TD__FRANK_COMMIT_DOMAIN,
                              TD__FRANK_COMMIT_DOMAIN_LEN);
    crypto_hash_sha256_update(&st, key, TD_FRANK_ATTACH_KEY_LEN);
    crypto_hash_sha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/* Encrypts or decrypts len bytes from in to out in chunks EVP's int lengths can hold. */
static int gcm_update(EVP_CIPHER_CTX *c, int enc, const uint8_t *in, size_t len, uint8_t *out)
{
    for (size_t done = 0; done < len;) {
        size_t n = len - done < CHUNK ? len - done : CHUNK;
        int outl = 0;
        int ok = enc ? EVP_EncryptUpdate(c, out + done, &outl, in + done, (int)n)
                     : EVP_DecryptUpdate(c, out + done, &outl, in + done, (int)n);
        if (!ok || (size_t)outl != n)
            return 0;
        done += n;
    }
    return 1;
}

td_status td__frank_attachment_seal_nonce(const uint8_t key[TD_FRANK_ATTACH_KEY_LEN],
                                          const uint8_t nonce[TD_FRANK_ATTACH_NONCE_LEN],
                                          const uint8_t *plain, size_t len, uint8_t **blob,
                                          size_t *blob_len, td_error *err)
{
    if (blob)
        *blob = NULL;
    if (blob_len)
        *blob_len = 0;
    if (!key || !nonce || (!plain && len) || !blob || !blob_len)
        return td__error_set(err, TD_ERR_INVALID, "attachment: missing argument");
    if (len > SIZE_MAX - OVERHEAD)
        return td__error_set(err, TD_ERR_LIMIT, "attachment: too large");
    uint8_t *out = td__malloc(len + OVERHEAD);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!out || !c) {
        td__free(out);
        EVP_CIPHER_CTX_free(c);
        return td__error_set(err, TD_ERR_NOMEM, "attachment: out of memory");
    }
    memcpy(out, nonce, TD_FRANK_ATTACH_NONCE_LEN);
    int outl = 0;
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, TD_FRANK_ATTACH_NONCE_LEN, NULL) &&
             EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) &&
             gcm_update(c, 1, plain, len, out + TD_FRANK_ATTACH_NONCE_LEN) &&
             EVP_EncryptFinal_ex(c, out + TD_FRANK_ATTACH_NONCE_LEN + len, &outl) && outl == 0 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TD_FRANK_ATTACH_TAG_LEN,
                                 out + TD_FRANK_ATTACH_NONCE_LEN + len);
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        td__free(out);
        return td__error_set(err, TD_ERR_INTERNAL, "attachment: AES-256-GCM failed (OpenSSL)");
    }
    *blob = out;
    *blob_len = len + OVERHEAD;
    return TD_OK;
}

td_status td_frank_attachment_seal(const uint8_t key[TD_FRANK_ATTACH_KEY_LEN], const uint8_t *plain,
                                   size_t len, uint8_t **blob, size_t *blob_len, td_error *err)
{
    uint8_t nonce[TD_FRANK_ATTACH_NONCE_LEN];
    td_status st = td__frank_sodium(err);
    if (st != TD_OK)
        return st;
    randombytes_buf(nonce, sizeof nonce);
    return td__frank_attachment_seal_nonce(key, nonce, plain, len, blob, blob_len, err);
}

td_status td_frank_attachment_open(const td_frank_attachment_ref *ref,
                                   const uint8_t key[TD_FRANK_ATTACH_KEY_LEN], const uint8_t *blob,
                                   size_t blob_len, uint8_t **plain, size_t *plain_len,
                                   td_error *err)
{
    uint8_t digest[32], commitment[32];
    if (plain)
        *plain = NULL;
    if (plain_len)
        *plain_len = 0;
    if (!ref || !key || (!blob && blob_len) || !plain || !plain_len)
        return td__error_set(err, TD_ERR_INVALID, "attachment: missing argument");
    td_status st = td__frank_sodium(err);
    if (st != TD_OK)
        return st;
    /* The commitments first: a blob or key the message does not name is never decrypted. */
    crypto_hash_sha256(digest, blob ? blob : digest, blob_len);
    if (sodium_memcmp(digest, ref->blob_sha256, 32) != 0)
        return td__error_set(err, TD_ERR_INVALID,
                             "attachment hash: the blob's SHA-256 is not the one the message "
                             "commits to");
    td_frank_key_commitment(key, commitment);
    if (sodium_memcmp(commitment, ref->key_commitment, 32) != 0)
        return td__error_set(err, TD_ERR_INVALID,
                             "attachment key commitment: the key is not the one the message "
                             "commits to");
    if (blob_len < OVERHEAD)
        return td__error_set(err, TD_ERR_INVALID,
                             "attachment authentication: %zu bytes, shorter than a nonce and a "
                             "tag",
                             blob_len);
    size_t len = blob_len - OVERHEAD;
    const uint8_t *nonce = blob, *ct = blob + TD_FRANK_ATTACH_NONCE_LEN, *tag = ct + len;
    uint8_t *out = td__malloc(len ? len : 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!out || !c) {
        td__free(out);
        EVP_CIPHER_CTX_free(c);
        return td__error_set(err, TD_ERR_NOMEM, "attachment: out of memory");
    }
    uint8_t tag_copy[TD_FRANK_ATTACH_TAG_LEN];
    memcpy(tag_copy, tag, sizeof tag_copy); /* EVP's ctrl takes a non-const pointer */
    int outl = 0;
    int ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, TD_FRANK_ATTACH_NONCE_LEN, NULL) &&
             EVP_DecryptInit_ex(c, NULL, NULL, key, nonce);
    if (!ok) {
        EVP_CIPHER_CTX_free(c);
        td__free(out);
        return td__error_set(err, TD_ERR_INTERNAL, "attachment: AES-256-GCM failed (OpenSSL)");
    }
    ok = gcm_update(c, 0, ct, len, out) &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TD_FRANK_ATTACH_TAG_LEN, tag_copy) &&
         EVP_DecryptFinal_ex(c, out + len, &outl) > 0 && outl == 0;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        sodium_memzero(out, len ? len : 1);
        td__free(out);
        return td__error_set(err, TD_ERR_INVALID,
                             "attachment authentication: the blob does not decrypt and "
                             "authenticate under the key");
    }
    *plain = out;
    *plain_len = len;
    return TD_OK;
}
