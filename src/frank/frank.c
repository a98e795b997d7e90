/* Message franking (include/takedown/frank.h, docs/franking.md): the sender's tag, the canonical
 * context, the server's frank and its Ed25519 signature, and the verification of a report.
 *
 * Verification recomputes everything from what the reporter sends: nothing is stored per
 * message. Its checks run in a fixed order so that the failure says which part is wrong: the
 * context's shape, the key (known, not destroyed), the frank (which covers the message through
 * the tag, the salt and the context; compared in constant time), and last the signature. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"
#include "frank/frank_int.h"

/* ---- HMAC-SHA256 and libsodium's start ---- */

/* OpenSSL 3 looks an algorithm up by name on every fetch: the HMAC implementation is fetched
 * once for the process and shared (EVP_MAC objects are reference-counted and thread-safe). */
static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void) { hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL); }

td_status td__frank_hmac(const uint8_t *key, size_t key_len, const uint8_t *const *parts,
                         const size_t *lens, size_t n, uint8_t out[32])
{
    static const uint8_t none[1];
    char digest[] = "SHA256";
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                            OSSL_PARAM_construct_end()};
    td_status st = TD_ERR_INTERNAL;
    size_t out_len = 0;
    pthread_once(&hmac_once, hmac_fetch);
    EVP_MAC_CTX *ctx = hmac_alg ? EVP_MAC_CTX_new(hmac_alg) : NULL;
    if (!ctx) {
        memset(out, 0, 32);
        return hmac_alg ? TD_ERR_NOMEM : TD_ERR_INTERNAL;
    }
    if (EVP_MAC_init(ctx, key_len ? key : none, key_len, params)) {
        int ok = 1;
        for (size_t i = 0; ok && i < n; i++)
            ok = lens[i] == 0 || EVP_MAC_update(ctx, parts[i], lens[i]);
        if (ok && EVP_MAC_final(ctx, out, &out_len, 32) && out_len == 32)
            st = TD_OK;
    }
    EVP_MAC_CTX_free(ctx); /* cleanses the keyed state */
    if (st != TD_OK)
        OPENSSL_cleanse(out, 32);
    return st;
}

static int sodium_ok;
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_start(void) { sodium_ok = sodium_init() >= 0; }

td_status td__frank_sodium(td_error *err)
{
    pthread_once(&sodium_once, sodium_start);
    return sodium_ok ? TD_OK : td__error_set(err, TD_ERR_INTERNAL, "libsodium does not initialise");
}

/* ---- sender side ---- */

/* A void function cannot report OpenSSL failing (out of memory): the tag is then all zeros,
 * which no frank made from a real tag matches, so the failure can only refuse, never forge. */
void td_frank_tag(const uint8_t salt[TD_FRANK_SALT_LEN], const uint8_t *msg, size_t len,
                  uint8_t tag[TD_FRANK_TAG_LEN])
{
    const uint8_t *parts[1] = {msg};
    if (td__frank_hmac(salt, TD_FRANK_SALT_LEN, parts, &len, 1, tag) != TD_OK)
        memset(tag, 0, TD_FRANK_TAG_LEN);
}

/* ---- the context ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

td_status td__frank_id_check(const char *id, size_t len, const char *field, td_error *err)
{
    if (!id || len == 0)
        return td__error_set(err, TD_ERR_INVALID, "%s: empty", field);
    if (len > TD_FRANK_ID_MAX)
        return td__error_set(err, TD_ERR_INVALID, "%s: %zu bytes, over the limit of %d", field, len,
                             TD_FRANK_ID_MAX);
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = td__utf8_next((const unsigned char *)id + i, len - i, &cp);
        if (n == 0)
            return td__error_set(err, TD_ERR_INVALID, "%s: invalid UTF-8 at byte %zu", field, i);
        if (cp == 0)
            return td__error_set(err, TD_ERR_INVALID, "%s: NUL byte at byte %zu", field, i);
        i += n;
    }
    return TD_OK;
}

td_status td_frank_context_encode(const td_frank_context *ctx, uint8_t out[TD_FRANK_CONTEXT_MAX],
                                  size_t *len, td_error *err)
{
    if (len)
        *len = 0;
    if (!ctx || !out || !len)
        return td__error_set(err, TD_ERR_INVALID, "context: missing");
    td_status st = td__frank_id_check(ctx->sender, ctx->sender_len, "sender", err);
    if (st == TD_OK)
        st = td__frank_id_check(ctx->conversation, ctx->conversation_len, "conversation", err);
    if (st != TD_OK)
        return st;
    if (ctx->accepted_ms < 0)
        return td__error_set(err, TD_ERR_INVALID, "accepted_ms: %lld is before 1970",
                             (long long)ctx->accepted_ms);
    size_t o = 0;
    put_u32(out, (uint32_t)ctx->sender_len);
    memcpy(out + 4, ctx->sender, ctx->sender_len);
    o = 4 + ctx->sender_len;
    put_u32(out + o, (uint32_t)ctx->conversation_len);
    memcpy(out + o + 4, ctx->conversation, ctx->conversation_len);
    o += 4 + ctx->conversation_len;
    put_u64(out + o, (uint64_t)ctx->accepted_ms);
    *len = o + 8;
    return TD_OK;
}

/* ---- the frank and its signature ---- */

/* The signed bytes around an encoded context. */
static size_t signed_bytes(uint32_t key_id, const uint8_t frank[TD_FRANK_LEN],
                           const uint8_t tag[TD_FRANK_TAG_LEN], const uint8_t *context,
                           size_t context_len, uint8_t out[TD_FRANK_SIGNED_MAX])
{
    memcpy(out, TD__FRANK_SIGN_DOMAIN, TD__FRANK_SIGN_DOMAIN_LEN);
    size_t o = TD__FRANK_SIGN_DOMAIN_LEN;
    put_u32(out + o, key_id);
    o += 4;
    memcpy(out + o, frank, TD_FRANK_LEN);
    o += TD_FRANK_LEN;
    memcpy(out + o, tag, TD_FRANK_TAG_LEN);
    o += TD_FRANK_TAG_LEN;
    memcpy(out + o, context, context_len);
    return o + context_len;
}

td_status td_frank_signed_encode(uint32_t key_id, const uint8_t frank[TD_FRANK_LEN],
                                 const uint8_t tag[TD_FRANK_TAG_LEN], const td_frank_context *ctx,
                                 uint8_t out[TD_FRANK_SIGNED_MAX], size_t *len, td_error *err)
{
    uint8_t context[TD_FRANK_CONTEXT_MAX];
    size_t context_len = 0;
    if (len)
        *len = 0;
    if (!frank || !tag || !out || !len)
        return td__error_set(err, TD_ERR_INVALID, "signed bytes: missing argument");
    if (key_id == 0)
        return td__error_set(err, TD_ERR_INVALID, "key_id: 0 is never a key");
    td_status st = td_frank_context_encode(ctx, context, &context_len, err);
    if (st != TD_OK)
        return st;
    *len = signed_bytes(key_id, frank, tag, context, context_len, out);
    return TD_OK;
}

/* frank = HMAC-SHA256(hmac_key, tag || context). */
static td_status compute_frank(const td_frank_key *key, const uint8_t tag[TD_FRANK_TAG_LEN],
                               const uint8_t *context, size_t context_len,
                               uint8_t frank[TD_FRANK_LEN], td_error *err)
{
    const uint8_t *parts[2] = {tag, context};
    const size_t lens[2] = {TD_FRANK_TAG_LEN, context_len};
    td_status st = td__frank_hmac(key->hmac_key, TD_FRANK_HMAC_KEY_LEN, parts, lens, 2, frank);
    return st == TD_OK ? TD_OK : td__error_set(err, st, "HMAC-SHA256 failed (OpenSSL)");
}

td_status td_frank_issue(const td_frank_key *key, const uint8_t tag[TD_FRANK_TAG_LEN],
                         const td_frank_context *ctx, td_frank_proof *out, td_error *err)
{
    uint8_t context[TD_FRANK_CONTEXT_MAX], signed_msg[TD_FRANK_SIGNED_MAX];
    size_t context_len = 0;
    if (out)
        memset(out, 0, sizeof *out);
    if (!key || !tag || !out)
        return td__error_set(err, TD_ERR_INVALID, "issue: missing argument");
    if (key->id == 0)
        return td__error_set(err, TD_ERR_INVALID, "key: id 0 is never a key");
    if (key->destroyed)
        return td__error_set(err, TD_ERR_INVALID, "key %u: destroyed", key->id);
    if (key->retired_ms)
        return td__error_set(err, TD_ERR_INVALID, "key %u: retired (it only verifies)", key->id);
    td_status st = td__frank_sodium(err);
    if (st == TD_OK)
        st = td_frank_context_encode(ctx, context, &context_len, err);
    if (st == TD_OK)
        st = compute_frank(key, tag, context, context_len, out->frank, err);
    if (st != TD_OK)
        return st;
    size_t n = signed_bytes(key->id, out->frank, tag, context, context_len, signed_msg);
    if (crypto_sign_detached(out->signature, NULL, signed_msg, n, key->sign_secret) != 0) {
        memset(out, 0, sizeof *out);
        return td__error_set(err, TD_ERR_INTERNAL, "Ed25519 signing failed");
    }
    out->key_id = key->id;
    return TD_OK;
}

const char *td_frank_failure_name(td_frank_failure why)
{
    switch (why) {
    case TD_FRANK_OK: return "ok";
    case TD_FRANK_BAD_INPUT: return "bad_input";
    case TD_FRANK_KEY_UNKNOWN: return "key_unknown";
    case TD_FRANK_KEY_DESTROYED: return "key_destroyed";
    case TD_FRANK_MISMATCH: return "mismatch";
    case TD_FRANK_BAD_SIGNATURE: return "bad_signature";
    }
    return "unknown";
}

static td_status refuse(td_frank_failure *why, td_frank_failure what)
{
    if (why)
        *why = what;
    return TD_ERR_INVALID;
}

/* A status other than TD_ERR_INVALID (OpenSSL or libsodium failing) is no verdict: *why is then
 * TD_FRANK_BAD_INPUT, never TD_FRANK_OK. */
td_status td_frank_verify(const td_frank_key *key, const uint8_t salt[TD_FRANK_SALT_LEN],
                          const uint8_t *msg, size_t len, const td_frank_context *ctx,
                          const td_frank_proof *proof, td_frank_failure *why, td_error *err)
{
    uint8_t context[TD_FRANK_CONTEXT_MAX], signed_msg[TD_FRANK_SIGNED_MAX];
    uint8_t tag[TD_FRANK_TAG_LEN], frank[TD_FRANK_LEN];
    size_t context_len = 0;
    if (why)
        *why = TD_FRANK_BAD_INPUT;
    if (!salt || !proof || (!msg && len))
        return td__error_set(err, TD_ERR_INVALID, "verify: missing argument");
    td_status st = td_frank_context_encode(ctx, context, &context_len, err);
    if (st != TD_OK)
        return st;
    if (!key || key->id != proof->key_id || proof->key_id == 0) {
        td__error_set(err, TD_ERR_INVALID, "key %u: unknown", proof->key_id);
        return refuse(why, TD_FRANK_KEY_UNKNOWN);
    }
    if (key->destroyed) {
        td__error_set(err, TD_ERR_INVALID,
                      "key %u: destroyed at the end of its retention; its franks no longer "
                      "verify",
                      key->id);
        return refuse(why, TD_FRANK_KEY_DESTROYED);
    }
    if ((st = td__frank_sodium(err)) != TD_OK)
        return st;
    const uint8_t *parts[1] = {msg};
    if ((st = td__frank_hmac(salt, TD_FRANK_SALT_LEN, parts, &len, 1, tag)) != TD_OK)
        return td__error_set(err, st, "HMAC-SHA256 failed (OpenSSL)");
    if ((st = compute_frank(key, tag, context, context_len, frank, err)) != TD_OK)
        return st;
    if (sodium_memcmp(frank, proof->frank, TD_FRANK_LEN) != 0) {
        td__error_set(err, TD_ERR_INVALID,
                      "frank: does not match the message, salt and context (key %u)", key->id);
        return refuse(why, TD_FRANK_MISMATCH);
    }
    size_t n = signed_bytes(key->id, frank, tag, context, context_len, signed_msg);
    if (crypto_sign_verify_detached(proof->signature, signed_msg, n, key->sign_public) != 0) {
        td__error_set(err, TD_ERR_INVALID, "signature: not key %u's signature of this frank",
                      key->id);
        return refuse(why, TD_FRANK_BAD_SIGNATURE);
    }
    if (why)
        *why = TD_FRANK_OK;
    return TD_OK;
}

td_status td_frank_verify_signature(const uint8_t pub[TD_FRANK_PUBKEY_LEN],
                                    const uint8_t tag[TD_FRANK_TAG_LEN],
                                    const td_frank_context *ctx, const td_frank_proof *proof,
                                    td_error *err)
{
    uint8_t signed_msg[TD_FRANK_SIGNED_MAX];
    size_t n = 0;
    if (!pub || !tag || !proof)
        return td__error_set(err, TD_ERR_INVALID, "verify: missing argument");
    td_status st =
        td_frank_signed_encode(proof->key_id, proof->frank, tag, ctx, signed_msg, &n, err);
    if (st == TD_OK)
        st = td__frank_sodium(err);
    if (st != TD_OK)
        return st;
    if (crypto_sign_verify_detached(proof->signature, signed_msg, n, pub) != 0)
        return td__error_set(err, TD_ERR_INVALID,
                             "signature: not key %u's signature of this frank, tag and context",
                             proof->key_id);
    return TD_OK;
}

/* ---- keys ---- */

static td_status key_start(uint32_t id, int64_t now_ms, td_frank_key *out, td_error *err)
{
    if (!out)
        return td__error_set(err, TD_ERR_INVALID, "key: missing output");
    memset(out, 0, sizeof *out);
    if (id == 0)
        return td__error_set(err, TD_ERR_INVALID, "key: id 0 is never a key");
    if (now_ms < 0)
        return td__error_set(err, TD_ERR_INVALID, "key: created_ms %lld is before 1970",
                             (long long)now_ms);
    td_status st = td__frank_sodium(err);
    if (st != TD_OK)
        return st;
    out->id = id;
    out->created_ms = now_ms;
    return TD_OK;
}

td_status td_frank_key_generate(uint32_t id, int64_t now_ms, td_frank_key *out, td_error *err)
{
    td_status st = key_start(id, now_ms, out, err);
    if (st != TD_OK)
        return st;
    randombytes_buf(out->hmac_key, sizeof out->hmac_key);
    if (crypto_sign_keypair(out->sign_public, out->sign_secret) != 0) {
        sodium_memzero(out, sizeof *out);
        return td__error_set(err, TD_ERR_INTERNAL, "Ed25519 key generation failed");
    }
    return TD_OK;
}

td_status td__frank_key_from_seed(uint32_t id, const uint8_t hmac_key[TD_FRANK_HMAC_KEY_LEN],
                                  const uint8_t sign_seed[32], int64_t now_ms, td_frank_key *out,
                                  td_error *err)
{
    td_status st = key_start(id, now_ms, out, err);
    if (st != TD_OK)
        return st;
    memcpy(out->hmac_key, hmac_key, TD_FRANK_HMAC_KEY_LEN);
    if (crypto_sign_seed_keypair(out->sign_public, out->sign_secret, sign_seed) != 0) {
        sodium_memzero(out, sizeof *out);
        return td__error_set(err, TD_ERR_INTERNAL, "Ed25519 key derivation failed");
    }
    return TD_OK;
}

void td_frank_key_wipe(td_frank_key *key)
{
    if (!key)
        return;
    sodium_memzero(key->hmac_key, sizeof key->hmac_key);
    sodium_memzero(key->sign_secret, sizeof key->sign_secret);
    key->destroyed = 1;
}
