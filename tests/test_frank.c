/* Message franking (include/takedown/frank.h, docs/franking.md) against independent
 * computations:
 *  - the module's HMAC-SHA256 (OpenSSL) and libsodium's, each checked against RFC 4231's test
 *    cases 1 to 7 first; libsodium's is then the second computation of every tag and frank;
 *  - the known-answer file tests/data/frank_kat.json: tags and franks recomputed by the library
 *    and by libsodium's HMAC, contexts, signed bytes and envelopes built here byte by byte,
 *    public keys derived and signatures verified with libsodium directly, attachment blobs
 *    decrypted with libsodium's AES-256-GCM (OpenSSL here when the CPU lacks AES-NI) and hashed
 *    with OpenSSL (the library hashes them with libsodium);
 *  - one flipped bit in every field of a report refused with the failure that field must give;
 *  - the key ring: rotation, retention, destruction, limits, and threads franking and verifying
 *    while another rotates (run under ThreadSanitizer: Makefile TSAN_TESTS);
 *  - the envelope's decoder on every truncation of valid encodings;
 *  - attachments, and an AES-256-GCM blob built here to open under two keys
 *    (tests/support/salamander.c, checked with OpenSSL): only the committed key opens it.
 *
 * `test_frank --write-kat FILE` writes the known-answer file from its fixed inputs (how
 * tests/data/frank_kat.json was made); the test never trusts it without recomputing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frank/frank_int.h"
#include "support/salamander.h"
#include "support/support.h"
#include "takedown/frank.h"

#define KAT_PATH TD_SOURCE_DIR "/tests/data/frank_kat.json"
#define MIB ((size_t)1 << 20)

/* ---- independent helpers ---- */

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
    size_t bin_len = 0;
    if (!hex || strlen(hex) != 2 * n ||
        sodium_hex2bin(out, n, hex, strlen(hex), NULL, &bin_len, NULL) != 0 || bin_len != n)
        fail_msg("not %zu bytes of hex: %s", n, hex ? hex : "(null)");
}

/* Hex of any length into a malloc'ed buffer. */
static uint8_t *hex_alloc(const char *hex, size_t *n)
{
    size_t len = strlen(hex);
    assert_int_equal(len % 2, 0);
    uint8_t *out = malloc(len / 2 + 1);
    assert_non_null(out);
    hex_to(hex, out, len / 2);
    *n = len / 2;
    return out;
}

static void assert_hex(const uint8_t *got, const char *want_hex, size_t n, const char *what)
{
    char got_hex[2 * 4096 + 1];
    assert_true(n <= 4096);
    sodium_bin2hex(got_hex, sizeof got_hex, got, n);
    if (!want_hex || strcmp(got_hex, want_hex) != 0)
        fail_msg("%s: got %s, want %s", what, got_hex, want_hex ? want_hex : "(null)");
}

/* libsodium's HMAC-SHA256 over the concatenation of two parts: the second computation. */
static void sodium_hmac(const uint8_t *key, size_t key_len, const uint8_t *a, size_t a_len,
                        const uint8_t *b, size_t b_len, uint8_t out[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, a, a_len);
    crypto_auth_hmacsha256_update(&st, b, b_len);
    crypto_auth_hmacsha256_final(&st, out);
}

/* OpenSSL's SHA-256 of two parts (the library hashes attachments with libsodium). */
static void openssl_sha256(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                           uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    assert_non_null(c);
    assert_true(EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, a, a_len) &&
                EVP_DigestUpdate(c, b, b_len) && EVP_DigestFinal_ex(c, out, &n) && n == 32);
    EVP_MD_CTX_free(c);
}

/* The key commitment by its definition: SHA-256("takedown-attachment-key-v1" || key). */
static void hand_commitment(const uint8_t key[32], uint8_t out[32])
{
    openssl_sha256((const uint8_t *)"takedown-attachment-key-v1", 26, key, 32, out);
}

/* AES-256-GCM decryption of a blob (nonce || ciphertext || tag) outside the library: libsodium
 * where the CPU has AES-NI, else OpenSSL written here. 0 and *plain (malloc'ed) on success. */
static int independent_open(const uint8_t key[32], const uint8_t *blob, size_t blob_len,
                            uint8_t **plain, size_t *plain_len)
{
    *plain = NULL;
    *plain_len = 0;
    if (blob_len < 28)
        return -1;
    size_t len = blob_len - 28;
    uint8_t *out = malloc(len + 1);
    assert_non_null(out);
    int ok;
    if (crypto_aead_aes256gcm_is_available()) {
        unsigned long long got = 0;
        ok = crypto_aead_aes256gcm_decrypt(out, &got, NULL, blob + 12, blob_len - 12, NULL, 0, blob,
                                           key) == 0 &&
             got == len;
    } else {
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0, fin = 0;
        uint8_t tag[16];
        memcpy(tag, blob + 12 + len, 16);
        ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, blob) &&
             EVP_DecryptUpdate(c, out, &n, blob + 12, (int)len) && (size_t)n == len &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) &&
             EVP_DecryptFinal_ex(c, out + len, &fin) > 0;
        EVP_CIPHER_CTX_free(c);
    }
    if (!ok) {
        free(out);
        return -1;
    }
    *plain = out;
    *plain_len = len;
    return 0;
}

/* OpenSSL's AES-256-GCM decryption (to check the salamander blob with GCM as OpenSSL does it). */
static int openssl_open(const uint8_t key[32], const uint8_t *blob, size_t blob_len, uint8_t *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    uint8_t tag[16];
    size_t len = blob_len - 28;
    memcpy(tag, blob + 12 + len, 16);
    int ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, blob) &&
             EVP_DecryptUpdate(c, out, &n, blob + 12, (int)len) && (size_t)n == len &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) &&
             EVP_DecryptFinal_ex(c, out + len, &fin) > 0;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* The context encoding written from its definition. */
static size_t hand_context(const char *s, size_t sl, const char *c, size_t cl, int64_t t,
                           uint8_t *out)
{
    size_t o = 0;
    put32(out + o, (uint32_t)sl);
    o += 4;
    memcpy(out + o, s, sl);
    o += sl;
    put32(out + o, (uint32_t)cl);
    o += 4;
    memcpy(out + o, c, cl);
    o += cl;
    for (int i = 0; i < 8; i++)
        out[o + (size_t)i] = (uint8_t)((uint64_t)t >> (56 - 8 * i));
    return o + 8;
}

/* The signed bytes written from their definition. */
static size_t hand_signed(uint32_t key_id, const uint8_t frank[32], const uint8_t tag[32],
                          const uint8_t *context, size_t context_len, uint8_t *out)
{
    memcpy(out, "takedown-frank-v1", 17);
    put32(out + 17, key_id);
    memcpy(out + 21, frank, 32);
    memcpy(out + 53, tag, 32);
    memcpy(out + 85, context, context_len);
    return 85 + context_len;
}

/* The tdfm1 envelope written from its definition. */
static uint8_t *hand_envelope(const char *text, size_t text_len, const uint8_t (*refs)[64],
                              size_t n, size_t *len)
{
    *len = 5 + 4 + text_len + 4 + 64 * n;
    uint8_t *p = malloc(*len), *o = p;
    assert_non_null(p);
    memcpy(o, "tdfm1", 5);
    put32(o + 5, (uint32_t)text_len);
    if (text_len)
        memcpy(o + 9, text, text_len);
    o += 9 + text_len;
    put32(o, (uint32_t)n);
    o += 4;
    for (size_t i = 0; i < n; i++, o += 64)
        memcpy(o, refs[i], 64);
    return p;
}

/* The 1 MiB rule of the known-answer file: byte i is i mod 251. */
static uint8_t *rule_bytes(size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i % 251);
    return p;
}

static void fill(uint8_t *b, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(test_rand(&s) >> 56);
}

/* ---- RFC 4231 ---- */

typedef struct rfc_case {
    const char *key, *data, *mac; /* hex; mac may be truncated (case 5: 128 bits) */
} rfc_case;

/* RFC 4231, section 4, test cases 1 to 7 (HMAC-SHA-256). */
static const rfc_case rfc4231[] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
     "dddddddddddd",
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819",
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
     "cdcdcdcdcdcd",
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "546573742057697468205472756e636174696f6e",
     "a3b6167473100ee06e0c796c2955552b"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368"
     "204b6579204669727374",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a"
     "65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865"
     "206b6579206e6565647320746f20626520686173686564206265666f7265206265696e672075736564206279"
     "2074686520484d414320616c676f726974686d2e",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

static void test_rfc4231(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc4231 / sizeof rfc4231[0]; i++) {
        size_t key_len, data_len, mac_len;
        uint8_t *key = hex_alloc(rfc4231[i].key, &key_len);
        uint8_t *data = hex_alloc(rfc4231[i].data, &data_len);
        uint8_t *mac = hex_alloc(rfc4231[i].mac, &mac_len);
        uint8_t lib[32], sod[32];
        /* The library's HMAC, in one part and split in two. */
        const uint8_t *parts[2] = {data, data + data_len / 2};
        size_t lens[2] = {data_len / 2, data_len - data_len / 2};
        assert_int_equal(td__frank_hmac(key, key_len, parts, &data_len, 1, lib), TD_OK);
        if (memcmp(lib, mac, mac_len) != 0)
            fail_msg("RFC 4231 case %zu: the library's HMAC differs", i + 1);
        assert_int_equal(td__frank_hmac(key, key_len, parts, lens, 2, lib), TD_OK);
        if (memcmp(lib, mac, mac_len) != 0)
            fail_msg("RFC 4231 case %zu: the library's HMAC in two parts differs", i + 1);
        sodium_hmac(key, key_len, data, data_len / 2, data + data_len / 2, data_len - data_len / 2,
                    sod);
        if (memcmp(sod, mac, mac_len) != 0)
            fail_msg("RFC 4231 case %zu: libsodium's HMAC differs", i + 1);
        free(key);
        free(data);
        free(mac);
    }
}

/* ---- the known-answer file: its fixed inputs and its writer ---- */

typedef struct kat_att {
    const char *name;
    size_t len; /* plaintext: i mod 251 from a start of seed */
    uint64_t seed;
} kat_att;

static const kat_att kat_atts[] = {
    {"empty file", 0, 1},
    {"short file", 40, 2},
    {"multi-block file", 1000, 3},
};

typedef struct kat_in {
    const char *name;
    const char *text; /* the message's bytes, or the envelope's text */
    size_t rule_len;  /* else: this many bytes of the i mod 251 rule */
    int use_rule;
    int envelope; /* the message is the tdfm1 envelope of text and atts */
    int atts[3];  /* indexes into kat_atts, -1 ends */
    const char *sender, *conversation;
    int64_t accepted_ms;
    uint32_t key_id;
} kat_in;

#define T2026 INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */

static char long_sender[257], long_conversation[257];

static const kat_in kat_ins[] = {
    {"empty message", "", 0, 0, 0, {-1}, "alice", "room-1", T2026, 1},
    {"one byte", "a", 0, 0, 0, {-1}, "alice", "room-1", T2026 + 1, 1},
    {"text", "Meet me at the station at noon.", 0, 0, 0, {-1}, "bob", "room-1", T2026 + 60000, 1},
    {"one HMAC block (64 bytes)", NULL, 64, 1, 0, {-1}, "alice", "dm:alice:bob", T2026 + 2, 2},
    {"one HMAC block plus one (65 bytes)",
     NULL,
     65,
     1,
     0,
     {-1},
     "alice",
     "dm:alice:bob",
     T2026 + 3,
     2},
    {"1 MiB message", NULL, 1 << 20, 1, 0, {-1}, "carol", "channel/news", T2026 + 4, 3},
    {"UTF-8 text and ids",
     "\xc2\xbfQu\xc3\xa9 tal? \xf0\x9f\x91\x8b",
     0,
     0,
     0,
     {-1},
     "Jos\xc3\xa9 M\xc3\xbcller",
     "\xe4\xbc\x9a\xe8\xa9\xb1-7 \xf0\x9f\x99\x82",
     T2026 + 5,
     3},
    {"longest ids, time 0, largest key id",
     "x",
     0,
     0,
     0,
     {-1},
     long_sender,
     long_conversation,
     0,
     UINT32_MAX},
    {"largest time", "late", 0, 0, 0, {-1}, "alice", "room-1", INT64_MAX, 4},
    {"envelope, text only", "see you there", 0, 0, 1, {-1}, "bob", "room-2", T2026 + 6, 4},
    {"envelope, two attachments", "two files", 0, 0, 1, {0, 1, -1}, "bob", "room-2", T2026 + 7, 4},
    {"envelope, one attachment, no text", "", 0, 0, 1, {2, -1}, "carol", "room-3", T2026 + 8, 5},
};

#define N_KAT (sizeof kat_ins / sizeof kat_ins[0])

static void init_long_ids(void)
{
    /* 256 bytes each: 128 two-byte characters, and 256 ASCII letters. */
    for (int i = 0; i < 128; i++) {
        long_sender[2 * i] = (char)0xc3;
        long_sender[2 * i + 1] = (char)0xa9;
    }
    memset(long_conversation, 'c', 256);
}

/* The server key of an id in the file: its HMAC key and Ed25519 seed from the id. */
static void kat_key_material(uint32_t id, uint8_t hmac_key[32], uint8_t seed[32])
{
    fill(hmac_key, 32, 100 + (uint64_t)id);
    fill(seed, 32, 200 + (uint64_t)id);
}

static void kat_att_material(size_t i, uint8_t key[32], uint8_t nonce[12], uint8_t **plain)
{
    fill(key, 32, 300 + i);
    fill(nonce, 12, 400 + i);
    *plain = malloc(kat_atts[i].len + 1);
    assert_non_null(*plain);
    for (size_t k = 0; k < kat_atts[i].len; k++)
        (*plain)[k] = (uint8_t)((k + kat_atts[i].seed) % 251);
}

static json_t *jhex(const uint8_t *b, size_t n)
{
    char *hex = malloc(2 * n + 1);
    assert_non_null(hex);
    sodium_bin2hex(hex, 2 * n + 1, b, n);
    json_t *s = json_string(hex);
    free(hex);
    return s;
}

/* What the library makes of vector i: its message bytes (malloc'ed). */
static uint8_t *kat_message(const kat_in *in, td_frank_attachment_ref *refs, size_t *n_refs,
                            size_t *len)
{
    *n_refs = 0;
    if (in->use_rule) {
        *len = in->rule_len;
        return rule_bytes(in->rule_len);
    }
    if (!in->envelope) {
        *len = strlen(in->text);
        uint8_t *m = malloc(*len + 1);
        assert_non_null(m);
        memcpy(m, in->text, *len);
        return m;
    }
    for (size_t k = 0; k < 3 && in->atts[k] >= 0; k++) {
        uint8_t key[32], nonce[12], *plain, *blob;
        size_t blob_len;
        size_t a = (size_t)in->atts[k];
        kat_att_material(a, key, nonce, &plain);
        assert_int_equal(td__frank_attachment_seal_nonce(key, nonce, plain, kat_atts[a].len, &blob,
                                                         &blob_len, NULL),
                         TD_OK);
        crypto_hash_sha256(refs[k].blob_sha256, blob, blob_len);
        td_frank_key_commitment(key, refs[k].key_commitment);
        td_free(blob);
        free(plain);
        (*n_refs)++;
    }
    uint8_t *enc;
    assert_int_equal(
        td_frank_message_encode(in->text, strlen(in->text), refs, *n_refs, &enc, len, NULL), TD_OK);
    uint8_t *m = malloc(*len + 1);
    assert_non_null(m);
    memcpy(m, enc, *len);
    td_free(enc);
    return m;
}

static int write_kat(const char *path)
{
    init_long_ids();
    json_t *root = json_object(), *vectors = json_array(), *atts = json_array();
    json_object_set_new(root, "format", json_string("takedown-frank-kat-1"));
    json_object_set_new(
        root, "about",
        json_string("Known answers of takedown's message franking (docs/franking.md). Hex is "
                    "lowercase; ids are UTF-8 strings; a message is 'message' (hex), or "
                    "'message_rule' \"i mod 251\" with 'message_len' bytes (byte i is i mod "
                    "251). An 'envelope' vector's message is the tdfm1 encoding of its text and "
                    "of the references of the named attachments."));
    for (size_t a = 0; a < sizeof kat_atts / sizeof kat_atts[0]; a++) {
        uint8_t key[32], nonce[12], *plain, *blob, sha[32], commit[32];
        size_t blob_len;
        kat_att_material(a, key, nonce, &plain);
        if (td__frank_attachment_seal_nonce(key, nonce, plain, kat_atts[a].len, &blob, &blob_len,
                                            NULL) != TD_OK)
            return 1;
        crypto_hash_sha256(sha, blob, blob_len);
        td_frank_key_commitment(key, commit);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(kat_atts[a].name));
        json_object_set_new(o, "key", jhex(key, 32));
        json_object_set_new(o, "nonce", jhex(nonce, 12));
        json_object_set_new(o, "plaintext", jhex(plain, kat_atts[a].len));
        json_object_set_new(o, "blob", jhex(blob, blob_len));
        json_object_set_new(o, "blob_sha256", jhex(sha, 32));
        json_object_set_new(o, "key_commitment", jhex(commit, 32));
        json_array_append_new(atts, o);
        td_free(blob);
        free(plain);
    }
    for (size_t i = 0; i < N_KAT; i++) {
        const kat_in *in = &kat_ins[i];
        td_frank_attachment_ref refs[3];
        size_t n_refs, len, context_len, signed_len;
        uint8_t salt[16], tag[32], hmac_key[32], seed[32], context[TD_FRANK_CONTEXT_MAX];
        uint8_t signed_msg[TD_FRANK_SIGNED_MAX];
        uint8_t *msg = kat_message(in, refs, &n_refs, &len);
        fill(salt, 16, 1000 + i);
        td_frank_tag(salt, msg, len, tag);
        td_frank_context ctx = {in->sender, strlen(in->sender), in->conversation,
                                strlen(in->conversation), in->accepted_ms};
        td_frank_key key;
        td_frank_proof proof;
        kat_key_material(in->key_id, hmac_key, seed);
        if (td__frank_key_from_seed(in->key_id, hmac_key, seed, T2026, &key, NULL) != TD_OK ||
            td_frank_context_encode(&ctx, context, &context_len, NULL) != TD_OK ||
            td_frank_issue(&key, tag, &ctx, &proof, NULL) != TD_OK ||
            td_frank_signed_encode(in->key_id, proof.frank, tag, &ctx, signed_msg, &signed_len,
                                   NULL) != TD_OK)
            return 1;
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(in->name));
        json_object_set_new(o, "salt", jhex(salt, 16));
        if (in->use_rule) {
            uint8_t sha[32];
            crypto_hash_sha256(sha, msg, len);
            json_object_set_new(o, "message_rule", json_string("i mod 251"));
            json_object_set_new(o, "message_len", json_integer((json_int_t)len));
            json_object_set_new(o, "message_sha256", jhex(sha, 32));
        } else {
            json_object_set_new(o, "message", jhex(msg, len));
        }
        if (in->envelope) {
            json_t *e = json_object(), *names = json_array();
            json_object_set_new(e, "text", json_string(in->text));
            for (size_t k = 0; k < n_refs; k++)
                json_array_append_new(names, json_string(kat_atts[in->atts[k]].name));
            json_object_set_new(e, "attachments", names);
            json_object_set_new(o, "envelope", e);
        }
        json_object_set_new(o, "tag", jhex(tag, 32));
        json_object_set_new(o, "sender", json_string(in->sender));
        json_object_set_new(o, "conversation", json_string(in->conversation));
        json_object_set_new(o, "accepted_ms", json_integer(in->accepted_ms));
        json_object_set_new(o, "context", jhex(context, context_len));
        json_object_set_new(o, "key_id", json_integer(in->key_id));
        json_object_set_new(o, "hmac_key", jhex(hmac_key, 32));
        json_object_set_new(o, "sign_seed", jhex(seed, 32));
        json_object_set_new(o, "public_key", jhex(key.sign_public, 32));
        json_object_set_new(o, "frank", jhex(proof.frank, 32));
        json_object_set_new(o, "signed", jhex(signed_msg, signed_len));
        json_object_set_new(o, "signature", jhex(proof.signature, 64));
        json_array_append_new(vectors, o);
        td_frank_key_wipe(&key);
        free(msg);
    }
    json_object_set_new(root, "vectors", vectors);
    json_object_set_new(root, "attachments", atts);
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : 1;
    json_decref(root);
    return rc;
}

/* ---- the known-answer file, recomputed ---- */

static json_t *load_kat(void)
{
    json_error_t jerr;
    json_t *root = json_load_file(KAT_PATH, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        fail_msg("%s: %s (line %d)", KAT_PATH, jerr.text, jerr.line);
    return root;
}

static const char *jstr(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (!s)
        fail_msg("vector without '%s'", name);
    return s;
}

/* An attachment vector: decrypted outside the library, hashed with OpenSSL, committed by hand;
 * the library seals the same blob from the same nonce and opens it. Fills the reference. */
static void check_kat_attachment(json_t *a, uint8_t ref[64])
{
    uint8_t key[32], nonce[12], sha[32], commit[32], *plain, *lib_blob, *opened;
    size_t blob_len, want_len, plain_len, lib_len, opened_len;
    const char *name = jstr(a, "name");
    hex_to(jstr(a, "key"), key, 32);
    hex_to(jstr(a, "nonce"), nonce, 12);
    uint8_t *blob = hex_alloc(jstr(a, "blob"), &blob_len);
    uint8_t *want = hex_alloc(jstr(a, "plaintext"), &want_len);
    assert_int_equal(blob_len, want_len + 28);
    assert_memory_equal(blob, nonce, 12);
    if (independent_open(key, blob, blob_len, &plain, &plain_len) != 0)
        fail_msg("attachment '%s': the blob does not open outside the library", name);
    assert_int_equal(plain_len, want_len);
    if (want_len)
        assert_memory_equal(plain, want, want_len);
    openssl_sha256(blob, blob_len, NULL, 0, sha);
    assert_hex(sha, jstr(a, "blob_sha256"), 32, "blob_sha256");
    hand_commitment(key, commit);
    assert_hex(commit, jstr(a, "key_commitment"), 32, "key_commitment");
    td_frank_key_commitment(key, commit);
    assert_hex(commit, jstr(a, "key_commitment"), 32, "td_frank_key_commitment");
    assert_int_equal(
        td__frank_attachment_seal_nonce(key, nonce, want, want_len, &lib_blob, &lib_len, NULL),
        TD_OK);
    assert_int_equal(lib_len, blob_len);
    assert_memory_equal(lib_blob, blob, blob_len);
    td_frank_attachment_ref r;
    memcpy(r.blob_sha256, sha, 32);
    memcpy(r.key_commitment, commit, 32);
    assert_int_equal(td_frank_attachment_open(&r, key, blob, blob_len, &opened, &opened_len, NULL),
                     TD_OK);
    assert_int_equal(opened_len, want_len);
    if (want_len)
        assert_memory_equal(opened, want, want_len);
    memcpy(ref, sha, 32);
    memcpy(ref + 32, commit, 32);
    td_free(opened);
    td_free(lib_blob);
    free(plain);
    free(want);
    free(blob);
}

static void check_kat_vector(json_t *v, json_t *atts, int *saw_empty, int *saw_mib)
{
    const char *name = jstr(v, "name");
    uint8_t salt[16], tag[32], hmac_key[32], seed[32], pk[32], sk[64], frank[32], sig[64];
    uint8_t context[TD_FRANK_CONTEXT_MAX], lib_context[TD_FRANK_CONTEXT_MAX];
    uint8_t signed_msg[TD_FRANK_SIGNED_MAX], lib_signed[TD_FRANK_SIGNED_MAX];
    size_t len, context_len, lib_context_len, signed_len, lib_signed_len;
    uint8_t *msg;
    print_message("vector '%s'\n", name);

    /* The message: hex, or the rule (its SHA-256 given, checked with OpenSSL). */
    if (json_object_get(v, "message_rule")) {
        assert_string_equal(jstr(v, "message_rule"), "i mod 251");
        len = (size_t)json_integer_value(json_object_get(v, "message_len"));
        msg = rule_bytes(len);
        uint8_t sha[32];
        openssl_sha256(msg, len, NULL, 0, sha);
        assert_hex(sha, jstr(v, "message_sha256"), 32, "message_sha256");
    } else {
        msg = hex_alloc(jstr(v, "message"), &len);
    }
    *saw_empty |= len == 0;
    *saw_mib |= len == MIB;

    /* An envelope: built here from its text and the attachments' references. */
    json_t *env = json_object_get(v, "envelope");
    if (env) {
        uint8_t refs[TD_FRANK_ATTACH_MAX][64];
        td_frank_attachment_ref lib_refs[TD_FRANK_ATTACH_MAX];
        json_t *names = json_object_get(env, "attachments");
        size_t n = json_array_size(names), i, hand_len, lib_len, text_len;
        json_t *nm;
        assert_true(n <= TD_FRANK_ATTACH_MAX);
        json_array_foreach(names, i, nm)
        {
            size_t k;
            json_t *a;
            int found = 0;
            json_array_foreach(atts, k, a)
            {
                if (strcmp(jstr(a, "name"), json_string_value(nm)) == 0) {
                    check_kat_attachment(a, refs[i]);
                    found = 1;
                }
            }
            assert_true(found);
            memcpy(lib_refs[i].blob_sha256, refs[i], 32);
            memcpy(lib_refs[i].key_commitment, refs[i] + 32, 32);
        }
        const char *text = jstr(env, "text");
        uint8_t *hand = hand_envelope(text, strlen(text), (const uint8_t(*)[64])refs, n, &hand_len);
        assert_int_equal(hand_len, len);
        assert_memory_equal(hand, msg, len);
        uint8_t *lib;
        assert_int_equal(
            td_frank_message_encode(text, strlen(text), lib_refs, n, &lib, &lib_len, NULL), TD_OK);
        assert_int_equal(lib_len, len);
        assert_memory_equal(lib, msg, len);
        char *back;
        td_frank_attachment_ref *back_refs;
        size_t back_n;
        assert_int_equal(
            td_frank_message_decode(msg, len, &back, &text_len, &back_refs, &back_n, NULL), TD_OK);
        assert_string_equal(back, text);
        assert_int_equal(back_n, n);
        if (n)
            assert_memory_equal(back_refs, lib_refs, n * sizeof *lib_refs);
        td_free(back);
        td_free(back_refs);
        td_free(lib);
        free(hand);
    }

    /* The tag: libsodium's HMAC and the library's. */
    hex_to(jstr(v, "salt"), salt, 16);
    sodium_hmac(salt, 16, msg, len, NULL, 0, tag);
    assert_hex(tag, jstr(v, "tag"), 32, "tag (libsodium)");
    td_frank_tag(salt, msg, len, tag);
    assert_hex(tag, jstr(v, "tag"), 32, "tag (library)");

    /* The context, byte by byte. */
    const char *sender = jstr(v, "sender"), *conv = jstr(v, "conversation");
    int64_t t = (int64_t)json_integer_value(json_object_get(v, "accepted_ms"));
    context_len = hand_context(sender, strlen(sender), conv, strlen(conv), t, context);
    assert_hex(context, jstr(v, "context"), context_len, "context (by hand)");
    td_frank_context ctx = {sender, strlen(sender), conv, strlen(conv), t};
    assert_int_equal(td_frank_context_encode(&ctx, lib_context, &lib_context_len, NULL), TD_OK);
    assert_int_equal(lib_context_len, context_len);
    assert_memory_equal(lib_context, context, context_len);

    /* The key: libsodium's derivation from the seed, and the library's. */
    json_int_t id = json_integer_value(json_object_get(v, "key_id"));
    assert_true(id >= 1 && id <= UINT32_MAX);
    hex_to(jstr(v, "hmac_key"), hmac_key, 32);
    hex_to(jstr(v, "sign_seed"), seed, 32);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    assert_hex(pk, jstr(v, "public_key"), 32, "public_key (libsodium)");
    td_frank_key key;
    assert_int_equal(td__frank_key_from_seed((uint32_t)id, hmac_key, seed, 0, &key, NULL), TD_OK);
    assert_memory_equal(key.sign_public, pk, 32);
    assert_memory_equal(key.sign_secret, sk, 64);

    /* The frank: libsodium's HMAC over tag || context. */
    sodium_hmac(hmac_key, 32, tag, 32, context, context_len, frank);
    assert_hex(frank, jstr(v, "frank"), 32, "frank (libsodium)");

    /* The signed bytes by hand; the signature verified by libsodium alone. */
    signed_len = hand_signed((uint32_t)id, frank, tag, context, context_len, signed_msg);
    assert_hex(signed_msg, jstr(v, "signed"), signed_len, "signed bytes (by hand)");
    hex_to(jstr(v, "signature"), sig, 64);
    assert_int_equal(crypto_sign_verify_detached(sig, signed_msg, signed_len, pk), 0);
    assert_int_equal(
        td_frank_signed_encode((uint32_t)id, frank, tag, &ctx, lib_signed, &lib_signed_len, NULL),
        TD_OK);
    assert_int_equal(lib_signed_len, signed_len);
    assert_memory_equal(lib_signed, signed_msg, signed_len);

    /* The library's frank and signature (Ed25519 is deterministic), its verification and the
     * public one. */
    td_frank_proof proof;
    td_frank_failure why;
    assert_int_equal(td_frank_issue(&key, tag, &ctx, &proof, NULL), TD_OK);
    assert_int_equal(proof.key_id, (uint32_t)id);
    assert_memory_equal(proof.frank, frank, 32);
    assert_memory_equal(proof.signature, sig, 64);
    assert_int_equal(td_frank_verify(&key, salt, msg, len, &ctx, &proof, &why, NULL), TD_OK);
    assert_int_equal(why, TD_FRANK_OK);
    assert_int_equal(td_frank_verify_signature(pk, tag, &ctx, &proof, NULL), TD_OK);
    td_frank_key_wipe(&key);
    free(msg);
}

static void test_kat(void **state)
{
    (void)state;
    json_t *root = load_kat();
    assert_string_equal(json_string_value(json_object_get(root, "format")), "takedown-frank-kat-1");
    json_t *vectors = json_object_get(root, "vectors"),
           *atts = json_object_get(root, "attachments");
    assert_true(json_array_size(vectors) >= 8);
    assert_true(json_array_size(atts) >= 2);
    int saw_empty = 0, saw_mib = 0, envelopes = 0;
    size_t i;
    json_t *v;
    uint8_t ref[64];
    json_array_foreach(atts, i, v) check_kat_attachment(v, ref);
    json_array_foreach(vectors, i, v)
    {
        check_kat_vector(v, atts, &saw_empty, &saw_mib);
        envelopes += json_object_get(v, "envelope") != NULL;
    }
    assert_true(saw_empty);
    assert_true(saw_mib);
    assert_true(envelopes >= 2);
    json_decref(root);
}

/* The file is what the writer makes from its inputs (nothing edited by hand since). */
static void test_kat_regenerates(void **state)
{
    (void)state;
    const char *path = temp_path("frank_kat_again.json");
    assert_int_equal(write_kat(path), 0);
    size_t a_len, b_len;
    uint8_t *a = read_all(path, &a_len), *b = read_all(KAT_PATH, &b_len);
    /* json_dump_file writes no final newline; the tree's file has one. */
    while (b_len && b[b_len - 1] == '\n')
        b_len--;
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    free(a);
    free(b);
}

/* docs/franking.md publishes the first vector: its values are the file's. */
static void test_kat_in_docs(void **state)
{
    (void)state;
    size_t len;
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/franking.md", TD_SOURCE_DIR);
    char *md = (char *)read_all(path, &len);
    md[len] = '\0';
    json_t *root = load_kat();
    json_t *v = json_array_get(json_object_get(root, "vectors"), 0);
    static const char *const fields[] = {"salt",      "tag",        "context", "hmac_key",
                                         "sign_seed", "public_key", "frank",   "signature"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!strstr(md, jstr(v, fields[i])))
            fail_msg("docs/franking.md does not show the first vector's %s", fields[i]);
    assert_non_null(strstr(md, "tests/data/frank_kat.json"));
    json_decref(root);
    free(md);
}

/* ---- one report, every bit of it ---- */

typedef struct report {
    td_frank_key key;
    uint8_t salt[16];
    uint8_t msg[40];
    char sender[16], conversation[16];
    td_frank_context ctx;
    td_frank_proof proof;
} report;

static void make_report(report *r, uint32_t id)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(td_frank_key_generate(id, T2026, &r->key, NULL), TD_OK);
    randombytes_buf(r->salt, sizeof r->salt);
    memcpy(r->msg, "This is the message that was reported!!", 40);
    snprintf(r->sender, sizeof r->sender, "alice-42");
    snprintf(r->conversation, sizeof r->conversation, "room-7");
    r->ctx = (td_frank_context){r->sender, strlen(r->sender), r->conversation,
                                strlen(r->conversation), T2026 + 123};
    uint8_t tag[32];
    td_frank_tag(r->salt, r->msg, sizeof r->msg, tag);
    assert_int_equal(td_frank_issue(&r->key, tag, &r->ctx, &r->proof, NULL), TD_OK);
}

static td_frank_failure verify_why(const report *r, const uint8_t *salt, const uint8_t *msg,
                                   const td_frank_context *ctx, const td_frank_proof *proof)
{
    td_frank_failure why = TD_FRANK_OK;
    td_error err;
    td_status st = td_frank_verify(&r->key, salt, msg, sizeof r->msg, ctx, proof, &why, &err);
    assert_int_equal(st == TD_OK, why == TD_FRANK_OK);
    if (st != TD_OK)
        assert_int_equal(st, TD_ERR_INVALID);
    return why;
}

/* An id byte of ASCII with one bit flipped: still an id unless it became NUL or left ASCII (a
 * lone byte >= 0x80 between ASCII bytes is never UTF-8). */
static td_frank_failure id_flip_expect(uint8_t flipped)
{
    return flipped == 0 || flipped >= 0x80 ? TD_FRANK_BAD_INPUT : TD_FRANK_MISMATCH;
}

static void test_flipped_bits(void **state)
{
    (void)state;
    report r;
    make_report(&r, 7);
    assert_int_equal(verify_why(&r, r.salt, r.msg, &r.ctx, &r.proof), TD_FRANK_OK);
    for (size_t bit = 0; bit < 8 * sizeof r.msg; bit++) {
        uint8_t msg[40];
        memcpy(msg, r.msg, sizeof msg);
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(verify_why(&r, r.salt, msg, &r.ctx, &r.proof), TD_FRANK_MISMATCH);
    }
    for (size_t bit = 0; bit < 8 * sizeof r.salt; bit++) {
        uint8_t salt[16];
        memcpy(salt, r.salt, sizeof salt);
        salt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(verify_why(&r, salt, r.msg, &r.ctx, &r.proof), TD_FRANK_MISMATCH);
    }
    for (int field = 0; field < 2; field++) {
        const char *orig = field ? r.conversation : r.sender;
        size_t n = strlen(orig);
        for (size_t bit = 0; bit < 8 * n; bit++) {
            char id[16];
            memcpy(id, orig, n + 1);
            id[bit / 8] ^= (char)(1u << (bit % 8));
            td_frank_context ctx = r.ctx;
            if (field)
                ctx.conversation = id;
            else
                ctx.sender = id;
            assert_int_equal(verify_why(&r, r.salt, r.msg, &ctx, &r.proof),
                             id_flip_expect((uint8_t)id[bit / 8]));
        }
    }
    for (int bit = 0; bit < 64; bit++) {
        td_frank_context ctx = r.ctx;
        ctx.accepted_ms = (int64_t)((uint64_t)ctx.accepted_ms ^ ((uint64_t)1 << bit));
        assert_int_equal(verify_why(&r, r.salt, r.msg, &ctx, &r.proof),
                         ctx.accepted_ms < 0 ? TD_FRANK_BAD_INPUT : TD_FRANK_MISMATCH);
    }
    for (size_t bit = 0; bit < 8 * TD_FRANK_LEN; bit++) {
        td_frank_proof p = r.proof;
        p.frank[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(verify_why(&r, r.salt, r.msg, &r.ctx, &p), TD_FRANK_MISMATCH);
    }
    for (size_t bit = 0; bit < 8 * TD_FRANK_SIG_LEN; bit++) {
        td_frank_proof p = r.proof;
        p.signature[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(verify_why(&r, r.salt, r.msg, &r.ctx, &p), TD_FRANK_BAD_SIGNATURE);
    }
    for (int bit = 0; bit < 32; bit++) {
        td_frank_proof p = r.proof;
        p.key_id ^= 1u << bit;
        assert_int_equal(verify_why(&r, r.salt, r.msg, &r.ctx, &p), TD_FRANK_KEY_UNKNOWN);
    }
    /* A frank that is right under another key of the same id: the signature tells. */
    td_frank_key other = r.key;
    uint8_t sk2[64];
    assert_int_equal(crypto_sign_keypair(other.sign_public, sk2), 0);
    td_frank_failure why;
    assert_int_equal(
        td_frank_verify(&other, r.salt, r.msg, sizeof r.msg, &r.ctx, &r.proof, &why, NULL),
        TD_ERR_INVALID);
    assert_int_equal(why, TD_FRANK_BAD_SIGNATURE);

    /* Public verification: the signature covers key id, frank, tag and context. */
    uint8_t tag[32];
    td_frank_tag(r.salt, r.msg, sizeof r.msg, tag);
    assert_int_equal(td_frank_verify_signature(r.key.sign_public, tag, &r.ctx, &r.proof, NULL),
                     TD_OK);
    for (size_t bit = 0; bit < 256; bit += 7) {
        uint8_t t2[32];
        td_frank_proof p = r.proof;
        memcpy(t2, tag, 32);
        t2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(td_frank_verify_signature(r.key.sign_public, t2, &r.ctx, &r.proof, NULL),
                         TD_ERR_INVALID);
        p.frank[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(td_frank_verify_signature(r.key.sign_public, tag, &r.ctx, &p, NULL),
                         TD_ERR_INVALID);
    }
    td_frank_proof p = r.proof;
    p.key_id = 8;
    assert_int_equal(td_frank_verify_signature(r.key.sign_public, tag, &r.ctx, &p, NULL),
                     TD_ERR_INVALID);
    td_frank_context c2 = r.ctx;
    c2.accepted_ms++;
    assert_int_equal(td_frank_verify_signature(r.key.sign_public, tag, &c2, &r.proof, NULL),
                     TD_ERR_INVALID);
    assert_int_equal(td_frank_verify_signature(other.sign_public, tag, &r.ctx, &r.proof, NULL),
                     TD_ERR_INVALID);
    td_frank_key_wipe(&r.key);
    sodium_memzero(sk2, sizeof sk2);
}

static void test_names_and_arguments(void **state)
{
    (void)state;
    static const char *const names[] = {"ok",       "bad_input",    "key_unknown", "key_destroyed",
                                        "mismatch", "bad_signature"};
    for (int i = 0; i <= TD_FRANK_BAD_SIGNATURE; i++)
        assert_string_equal(td_frank_failure_name((td_frank_failure)i), names[i]);
    report r;
    make_report(&r, 3);
    td_frank_failure why = TD_FRANK_OK;
    td_frank_proof out;
    uint8_t tag[32] = {0};
    assert_int_equal(td_frank_verify(&r.key, NULL, r.msg, 1, &r.ctx, &r.proof, &why, NULL),
                     TD_ERR_INVALID);
    assert_int_equal(why, TD_FRANK_BAD_INPUT);
    assert_int_equal(td_frank_verify(&r.key, r.salt, NULL, 1, &r.ctx, &r.proof, &why, NULL),
                     TD_ERR_INVALID);
    assert_int_equal(
        td_frank_verify(NULL, r.salt, r.msg, sizeof r.msg, &r.ctx, &r.proof, &why, NULL),
        TD_ERR_INVALID);
    assert_int_equal(why, TD_FRANK_KEY_UNKNOWN);
    assert_int_equal(td_frank_issue(NULL, tag, &r.ctx, &out, NULL), TD_ERR_INVALID);
    assert_int_equal(td_frank_key_generate(0, 0, &r.key, NULL), TD_ERR_INVALID);
    /* The empty message, with and without a pointer. */
    td_frank_key k;
    td_frank_proof p;
    uint8_t t1[32], t2[32];
    assert_int_equal(td_frank_key_generate(9, 0, &k, NULL), TD_OK);
    td_frank_tag(r.salt, NULL, 0, t1);
    td_frank_tag(r.salt, (const uint8_t *)"", 0, t2);
    assert_memory_equal(t1, t2, 32);
    assert_int_equal(td_frank_issue(&k, t1, &r.ctx, &p, NULL), TD_OK);
    assert_int_equal(td_frank_verify(&k, r.salt, NULL, 0, &r.ctx, &p, &why, NULL), TD_OK);
    td_frank_key_wipe(&k);
    td_frank_key_wipe(&r.key);
}

/* ---- the context's limits ---- */

static void expect_ctx_refused(const char *s, size_t sl, const char *c, size_t cl, int64_t t,
                               const char *field)
{
    uint8_t out[TD_FRANK_CONTEXT_MAX];
    size_t len = 99;
    td_error err;
    td_frank_context ctx = {s, sl, c, cl, t};
    assert_int_equal(td_frank_context_encode(&ctx, out, &len, &err), TD_ERR_INVALID);
    assert_int_equal(len, 0);
    if (strncmp(err.message, field, strlen(field)) != 0)
        fail_msg("refusal '%s' does not name %s", err.message, field);
    /* Franking and verifying refuse it the same way. */
    td_frank_key k;
    td_frank_proof p;
    td_frank_failure why;
    uint8_t tag[32] = {1}, salt[16] = {2};
    assert_int_equal(td_frank_key_generate(1, 0, &k, NULL), TD_OK);
    assert_int_equal(td_frank_issue(&k, tag, &ctx, &p, &err), TD_ERR_INVALID);
    p.key_id = 1;
    assert_int_equal(td_frank_verify(&k, salt, tag, 32, &ctx, &p, &why, &err), TD_ERR_INVALID);
    assert_int_equal(why, TD_FRANK_BAD_INPUT);
    assert_int_equal(strncmp(err.message, field, strlen(field)), 0);
    td_frank_key_wipe(&k);
}

static void test_context_limits(void **state)
{
    (void)state;
    char id256[257], id257[258];
    memset(id256, 'a', 256);
    memset(id257, 'b', 257);
    uint8_t out[TD_FRANK_CONTEXT_MAX], hand[TD_FRANK_CONTEXT_MAX];
    size_t len;
    /* The longest ids and the extreme times are fine, and equal to the definition. */
    td_frank_context ok = {id256, 256, id256, 256, 0};
    assert_int_equal(td_frank_context_encode(&ok, out, &len, NULL), TD_OK);
    assert_int_equal(len, TD_FRANK_CONTEXT_MAX);
    assert_int_equal(hand_context(id256, 256, id256, 256, 0, hand), len);
    assert_memory_equal(out, hand, len);
    ok.accepted_ms = INT64_MAX;
    assert_int_equal(td_frank_context_encode(&ok, out, &len, NULL), TD_OK);
    hand_context(id256, 256, id256, 256, INT64_MAX, hand);
    assert_memory_equal(out, hand, len);

    expect_ctx_refused("", 0, "room", 4, 1, "sender");
    expect_ctx_refused(NULL, 3, "room", 4, 1, "sender");
    expect_ctx_refused("alice", 5, "", 0, 1, "conversation");
    expect_ctx_refused(id257, 257, "room", 4, 1, "sender");
    expect_ctx_refused("alice", 5, id257, 257, 1, "conversation");
    expect_ctx_refused("al\0ce", 5, "room", 4, 1, "sender");
    expect_ctx_refused("alice", 5, "ro\0m", 4, 1, "conversation");
    static const char *const bad_utf8[] = {
        "\xff",
        "\xc0\x80",         /* overlong NUL */
        "\xed\xa0\x80",     /* a surrogate */
        "\xe2\x82",         /* truncated */
        "\xf4\x90\x80\x80", /* over U+10FFFF */
        "\x80",             /* stray continuation */
        "ok\xc3",           /* truncated at the end */
    };
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        expect_ctx_refused(bad_utf8[i], strlen(bad_utf8[i]), "room", 4, 1, "sender");
        expect_ctx_refused("alice", 5, bad_utf8[i], strlen(bad_utf8[i]), 1, "conversation");
    }
    expect_ctx_refused("alice", 5, "room", 4, -1, "accepted_ms");
    expect_ctx_refused("alice", 5, "room", 4, INT64_MIN, "accepted_ms");
    assert_int_equal(td_frank_context_encode(NULL, out, &len, NULL), TD_ERR_INVALID);
}

/* ---- the key ring ---- */

static td_frank_failure ring_verify(td_frank_keyring *ring, const report *r,
                                    const td_frank_proof *p)
{
    td_frank_failure why = TD_FRANK_OK;
    td_status st =
        td_frank_keyring_verify(ring, r->salt, r->msg, sizeof r->msg, &r->ctx, p, &why, NULL);
    assert_int_equal(st == TD_OK, why == TD_FRANK_OK);
    return why;
}

static void test_keyring_lifecycle(void **state)
{
    (void)state;
    td_frank_keyring *ring;
    td_frank_key k1, k2, got;
    td_frank_proof p1, p2;
    report r;
    uint8_t tag[32];
    td_error err;
    make_report(&r, 50); /* only its message, salt and context are used */
    td_frank_tag(r.salt, r.msg, sizeof r.msg, tag);
    assert_int_equal(td_frank_keyring_new(&ring, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_get(ring, 0, &got, NULL), TD_ERR_NOT_FOUND);
    assert_int_equal(td_frank_keyring_issue(ring, tag, &r.ctx, &p1, NULL), TD_ERR_NOT_FOUND);

    /* Key 1 current. */
    assert_int_equal(td_frank_key_generate(1, 1000, &k1, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_put(ring, &k1, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_get(ring, 0, &got, NULL), TD_OK);
    assert_int_equal(got.id, 1);
    assert_memory_equal(got.hmac_key, k1.hmac_key, 32);
    assert_memory_equal(got.sign_secret, k1.sign_secret, 64);
    assert_memory_equal(got.sign_public, k1.sign_public, 32);
    assert_int_equal(got.created_ms, 1000);
    assert_int_equal(got.retired_ms, 0);
    td_frank_key_wipe(&got);
    assert_int_equal(td_frank_keyring_issue(ring, tag, &r.ctx, &p1, NULL), TD_OK);
    assert_int_equal(p1.key_id, 1);
    assert_int_equal(ring_verify(ring, &r, &p1), TD_FRANK_OK);

    /* Rotation: the new key first (so that there is always a current key), then the old one
     * retired with its destroy time. */
    assert_int_equal(td_frank_key_generate(2, 2000, &k2, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_put(ring, &k2, NULL), TD_OK);
    k1.retired_ms = 2000;
    k1.destroy_ms = 2000 + 90 * 86400000LL;
    assert_int_equal(td_frank_keyring_put(ring, &k1, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_get(ring, 0, &got, NULL), TD_OK);
    assert_int_equal(got.id, 2);
    td_frank_key_wipe(&got);
    assert_int_equal(td_frank_keyring_issue(ring, tag, &r.ctx, &p2, NULL), TD_OK);
    assert_int_equal(p2.key_id, 2);
    /* The retired key still verifies what it franked; it franks nothing new. */
    assert_int_equal(ring_verify(ring, &r, &p1), TD_FRANK_OK);
    assert_int_equal(ring_verify(ring, &r, &p2), TD_FRANK_OK);
    td_frank_proof p3;
    assert_int_equal(td_frank_issue(&k1, tag, &r.ctx, &p3, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "retired"));

    /* An unknown id. */
    td_frank_proof p9 = p1;
    p9.key_id = 99;
    assert_int_equal(ring_verify(ring, &r, &p9), TD_FRANK_KEY_UNKNOWN);
    assert_int_equal(td_frank_keyring_get(ring, 99, &got, NULL), TD_ERR_NOT_FOUND);

    /* The end of retention: key 1 destroyed. Its franks no longer verify, its secrets are gone
     * from the ring, its public part stays listed. */
    td_frank_key_wipe(&k1);
    assert_int_equal(td_frank_keyring_put(ring, &k1, NULL), TD_OK);
    assert_int_equal(ring_verify(ring, &r, &p1), TD_FRANK_KEY_DESTROYED);
    assert_int_equal(ring_verify(ring, &r, &p2), TD_FRANK_OK);
    assert_int_equal(td_frank_issue(&k1, tag, &r.ctx, &p3, NULL), TD_ERR_INVALID);
    static const uint8_t zero[64];
    assert_int_equal(td_frank_keyring_get(ring, 1, &got, NULL), TD_OK);
    assert_true(got.destroyed);
    assert_memory_equal(got.hmac_key, zero, 32);
    assert_memory_equal(got.sign_secret, zero, 64);
    assert_memory_equal(got.sign_public, k1.sign_public, 32);
    /* It never comes back: its id put again with secrets is refused, and changes nothing. */
    td_frank_key revived;
    assert_int_equal(td_frank_key_generate(1, 1000, &revived, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_put(ring, &revived, &err), TD_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "destroyed"));
    assert_int_equal(ring_verify(ring, &r, &p1), TD_FRANK_KEY_DESTROYED);
    td_frank_key_wipe(&revived);

    /* A destroyed key put with its secrets still in it is wiped by the ring all the same. */
    td_frank_key k3;
    assert_int_equal(td_frank_key_generate(3, 500, &k3, NULL), TD_OK);
    k3.destroyed = 1;
    assert_int_equal(td_frank_keyring_put(ring, &k3, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_get(ring, 3, &got, NULL), TD_OK);
    assert_memory_equal(got.hmac_key, zero, 32);
    assert_memory_equal(got.sign_secret, zero, 64);

    /* The list: oldest first (key 3 was created before key 1), public parts only. */
    td_frank_key *list;
    size_t n;
    assert_int_equal(td_frank_keyring_list(ring, &list, &n, NULL), TD_OK);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].id, 3);
    assert_int_equal(list[1].id, 1);
    assert_int_equal(list[2].id, 2);
    assert_int_equal(list[1].retired_ms, 2000);
    assert_int_equal(list[1].destroy_ms, 2000 + 90 * 86400000LL);
    assert_true(list[1].destroyed);
    assert_false(list[2].destroyed);
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(list[i].hmac_key, zero, 32);
        assert_memory_equal(list[i].sign_secret, zero, 64);
    }
    assert_memory_equal(list[2].sign_public, k2.sign_public, 32);
    td_free(list);

    /* The current key is the newest that is neither retired nor destroyed: retiring key 2 with
     * no successor leaves none. */
    k2.retired_ms = 3000;
    assert_int_equal(td_frank_keyring_put(ring, &k2, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_get(ring, 0, &got, NULL), TD_ERR_NOT_FOUND);
    assert_int_equal(ring_verify(ring, &r, &p2), TD_FRANK_OK);
    /* An older key that was never retired becomes current again if it is the only one. */
    td_frank_key k4;
    assert_int_equal(td_frank_key_generate(4, 100, &k4, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_put(ring, &k4, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_get(ring, 0, &got, NULL), TD_OK);
    assert_int_equal(got.id, 4);
    td_frank_key_wipe(&got);
    td_frank_key k0 = k4;
    k0.id = 0;
    assert_int_equal(td_frank_keyring_put(ring, &k0, NULL), TD_ERR_INVALID);

    td_frank_key_wipe(&k2);
    td_frank_key_wipe(&k3);
    td_frank_key_wipe(&k4);
    td_frank_key_wipe(&r.key);
    td_frank_keyring_free(ring);
    td_frank_keyring_free(NULL);
}

static void test_keyring_limit(void **state)
{
    (void)state;
    td_frank_keyring *ring;
    td_frank_key k;
    td_error err;
    assert_int_equal(td_frank_keyring_new(&ring, NULL), TD_OK);
    assert_int_equal(td_frank_key_generate(1, 0, &k, NULL), TD_OK);
    for (uint32_t id = 1; id <= TD_FRANK_KEYS_MAX; id++) {
        k.id = id;
        k.created_ms = id;
        assert_int_equal(td_frank_keyring_put(ring, &k, NULL), TD_OK);
    }
    k.id = TD_FRANK_KEYS_MAX + 1;
    assert_int_equal(td_frank_keyring_put(ring, &k, &err), TD_ERR_LIMIT);
    assert_non_null(strstr(err.message, "4096"));
    /* Replacing a key is not adding one. */
    k.id = 17;
    k.created_ms = 17;
    k.retired_ms = 5;
    assert_int_equal(td_frank_keyring_put(ring, &k, NULL), TD_OK);
    td_frank_key *list;
    size_t n;
    assert_int_equal(td_frank_keyring_list(ring, &list, &n, NULL), TD_OK);
    assert_int_equal(n, TD_FRANK_KEYS_MAX);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(list[i].id, i + 1);
    assert_int_equal(list[16].retired_ms, 5);
    td_free(list);
    td_frank_key cur;
    assert_int_equal(td_frank_keyring_get(ring, 0, &cur, NULL), TD_OK);
    assert_int_equal(cur.id, TD_FRANK_KEYS_MAX);
    td_frank_key_wipe(&cur);
    td_frank_key_wipe(&k);
    td_frank_keyring_free(ring);
}

/* Threads frank and verify through the ring while another rotates and destroys keys. */
#define WORKERS 4
#define ROUNDS 150
#define ROTATIONS 40

typedef struct shared {
    td_frank_keyring *ring;
    int stop; /* read and written with __atomic builtins */
    int failures;
    int verified;
} shared;

static void *worker(void *arg)
{
    shared *s = arg;
    uint8_t salt[16], msg[32], tag[32];
    td_frank_context ctx = {"alice", 5, "room", 4, T2026};
    for (int i = 0; i < ROUNDS; i++) {
        td_frank_proof p;
        td_frank_failure why;
        randombytes_buf(salt, sizeof salt);
        randombytes_buf(msg, sizeof msg);
        td_frank_tag(salt, msg, sizeof msg, tag);
        if (td_frank_keyring_issue(s->ring, tag, &ctx, &p, NULL) != TD_OK) {
            __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
            continue;
        }
        td_status st =
            td_frank_keyring_verify(s->ring, salt, msg, sizeof msg, &ctx, &p, &why, NULL);
        /* The key may have been destroyed in between: anything else is a failure. */
        if (st == TD_OK)
            __atomic_add_fetch(&s->verified, 1, __ATOMIC_RELAXED);
        else if (why != TD_FRANK_KEY_DESTROYED)
            __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
        td_frank_key *list;
        size_t n;
        if (i % 16 == 0 && td_frank_keyring_list(s->ring, &list, &n, NULL) == TD_OK)
            td_free(list);
    }
    return NULL;
}

static void *rotator(void *arg)
{
    shared *s = arg;
    for (uint32_t id = 2; id <= ROTATIONS + 1; id++) {
        td_frank_key next, old;
        if (td_frank_key_generate(id, (int64_t)id * 1000, &next, NULL) != TD_OK ||
            td_frank_keyring_put(s->ring, &next, NULL) != TD_OK ||
            td_frank_keyring_get(s->ring, id - 1, &old, NULL) != TD_OK) {
            __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
            break;
        }
        old.retired_ms = (int64_t)id * 1000;
        if (td_frank_keyring_put(s->ring, &old, NULL) != TD_OK)
            __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
        td_frank_key_wipe(&old);
        td_frank_key_wipe(&next);
        if (id > 3 && td_frank_keyring_get(s->ring, id - 3, &old, NULL) == TD_OK) {
            td_frank_key_wipe(&old); /* the end of its retention */
            if (td_frank_keyring_put(s->ring, &old, NULL) != TD_OK)
                __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static void test_keyring_threads(void **state)
{
    (void)state;
    shared s = {0};
    td_frank_key k;
    pthread_t w[WORKERS], rot;
    assert_int_equal(td_frank_keyring_new(&s.ring, NULL), TD_OK);
    assert_int_equal(td_frank_key_generate(1, 1000, &k, NULL), TD_OK);
    assert_int_equal(td_frank_keyring_put(s.ring, &k, NULL), TD_OK);
    td_frank_key_wipe(&k);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&w[i], NULL, worker, &s), 0);
    assert_int_equal(pthread_create(&rot, NULL, rotator, &s), 0);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i], NULL);
    pthread_join(rot, NULL);
    assert_int_equal(s.failures, 0);
    assert_true(s.verified > 0);
    /* At the end: the last key is current, the three before it retired, the rest destroyed. */
    td_frank_key *list;
    size_t n;
    assert_int_equal(td_frank_keyring_list(s.ring, &list, &n, NULL), TD_OK);
    assert_int_equal(n, ROTATIONS + 1);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(list[i].id, i + 1);
        assert_int_equal(list[i].destroyed, i + 3 < n);
        assert_int_equal(list[i].retired_ms != 0, i + 1 < n);
    }
    td_free(list);
    td_frank_keyring_free(s.ring);
}

/* ---- the envelope ---- */

static void roundtrip(const char *text, size_t text_len, size_t n)
{
    uint8_t refs[TD_FRANK_ATTACH_MAX][64];
    td_frank_attachment_ref lib_refs[TD_FRANK_ATTACH_MAX];
    memset(lib_refs, 0, sizeof lib_refs);
    for (size_t i = 0; i < n; i++) {
        randombytes_buf(refs[i], 64);
        memcpy(lib_refs[i].blob_sha256, refs[i], 32);
        memcpy(lib_refs[i].key_commitment, refs[i] + 32, 32);
    }
    uint8_t *enc, *hand;
    size_t len, hand_len;
    assert_int_equal(td_frank_message_encode(text, text_len, lib_refs, n, &enc, &len, NULL), TD_OK);
    hand = hand_envelope(text, text_len, (const uint8_t(*)[64])refs, n, &hand_len);
    assert_int_equal(len, hand_len);
    assert_memory_equal(enc, hand, len);
    char *back;
    size_t back_len, back_n;
    td_frank_attachment_ref *back_refs;
    assert_int_equal(td_frank_message_decode(enc, len, &back, &back_len, &back_refs, &back_n, NULL),
                     TD_OK);
    assert_int_equal(back_len, text_len);
    if (text_len)
        assert_memory_equal(back, text, text_len);
    assert_int_equal(back[text_len], '\0');
    assert_int_equal(back_n, n);
    if (n)
        assert_memory_equal(back_refs, lib_refs, n * sizeof *lib_refs);
    td_free(back);
    td_free(back_refs);
    /* Every truncation is refused, leaving nothing; so is one byte more. */
    for (size_t cut = 0; cut < len; cut++) {
        td_error err;
        td_status st =
            td_frank_message_decode(enc, cut, &back, &back_len, &back_refs, &back_n, &err);
        if (st == TD_OK)
            fail_msg("a truncation to %zu of %zu bytes decoded", cut, len);
        assert_null(back);
        assert_null(back_refs);
        assert_int_equal(back_n, 0);
    }
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, enc, len);
    longer[len] = 0;
    assert_int_equal(
        td_frank_message_decode(longer, len + 1, &back, &back_len, &back_refs, &back_n, NULL),
        TD_ERR_INVALID);
    free(longer);
    free(hand);
    td_free(enc);
}

static void test_message_envelope(void **state)
{
    (void)state;
    roundtrip("", 0, 0);
    roundtrip(NULL, 0, 1);
    roundtrip("hello", 5, 0);
    roundtrip("\xc2\xbfQu\xc3\xa9?", 8, 3);
    roundtrip("with a NUL\0inside", 17, 2);
    roundtrip("x", 1, TD_FRANK_ATTACH_MAX);

    /* The largest text, with the most attachments. */
    char *big = malloc(TD_FRANK_TEXT_MAX + 1);
    assert_non_null(big);
    memset(big, 'z', TD_FRANK_TEXT_MAX + 1);
    uint8_t *enc;
    size_t len;
    td_frank_attachment_ref refs[TD_FRANK_ATTACH_MAX + 1];
    memset(refs, 7, sizeof refs);
    assert_int_equal(td_frank_message_encode(big, TD_FRANK_TEXT_MAX, refs, TD_FRANK_ATTACH_MAX,
                                             &enc, &len, NULL),
                     TD_OK);
    assert_int_equal(len, 13 + TD_FRANK_TEXT_MAX + 64 * TD_FRANK_ATTACH_MAX);
    char *back;
    size_t back_len, back_n;
    td_frank_attachment_ref *back_refs;
    assert_int_equal(td_frank_message_decode(enc, len, &back, &back_len, &back_refs, &back_n, NULL),
                     TD_OK);
    assert_int_equal(back_len, TD_FRANK_TEXT_MAX);
    td_free(back);
    td_free(back_refs);
    td_free(enc);

    /* Encoding refusals. */
    td_error err;
    assert_int_equal(td_frank_message_encode(big, TD_FRANK_TEXT_MAX + 1, NULL, 0, &enc, &len, &err),
                     TD_ERR_LIMIT);
    assert_null(enc);
    assert_int_equal(
        td_frank_message_encode("x", 1, refs, TD_FRANK_ATTACH_MAX + 1, &enc, &len, &err),
        TD_ERR_LIMIT);
    assert_int_equal(td_frank_message_encode("\xff", 1, NULL, 0, &enc, &len, &err), TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "UTF-8"));
    assert_int_equal(td_frank_message_encode(NULL, 3, NULL, 0, &enc, &len, &err), TD_ERR_INVALID);
    assert_int_equal(td_frank_message_encode("x", 1, NULL, 2, &enc, &len, &err), TD_ERR_INVALID);
    free(big);

    /* Decoding refusals, each encoding written here. */
    uint8_t m[64];
    memcpy(m, "tdfm1", 5);
    put32(m + 5, 2);
    memcpy(m + 9, "hi", 2);
    put32(m + 11, 0);
    assert_int_equal(td_frank_message_decode(m, 15, &back, &back_len, &back_refs, &back_n, NULL),
                     TD_OK);
    assert_string_equal(back, "hi");
    td_free(back);
    m[4] = '2'; /* another version */
    assert_int_equal(td_frank_message_decode(m, 15, &back, &back_len, &back_refs, &back_n, &err),
                     TD_ERR_INVALID);
    m[4] = '1';
    m[9] = 0xc3; /* "\xc3i" is not UTF-8 */
    assert_int_equal(td_frank_message_decode(m, 15, &back, &back_len, &back_refs, &back_n, &err),
                     TD_ERR_INVALID);
    assert_non_null(strstr(err.message, "UTF-8"));
    m[9] = 'h';
    put32(m + 11, TD_FRANK_ATTACH_MAX + 1); /* too many attachments */
    assert_int_equal(td_frank_message_decode(m, 15, &back, &back_len, &back_refs, &back_n, &err),
                     TD_ERR_LIMIT);
    put32(m + 11, 1); /* one attachment announced, none there */
    assert_int_equal(td_frank_message_decode(m, 15, &back, &back_len, &back_refs, &back_n, &err),
                     TD_ERR_INVALID);
    put32(m + 5, (uint32_t)TD_FRANK_TEXT_MAX + 1); /* a text over the limit */
    assert_int_equal(td_frank_message_decode(m, 15, &back, &back_len, &back_refs, &back_n, &err),
                     TD_ERR_LIMIT);
    put32(m + 5, UINT32_MAX); /* a length past the end */
    assert_int_equal(td_frank_message_decode(m, 15, &back, &back_len, &back_refs, &back_n, &err),
                     TD_ERR_LIMIT);
    put32(m + 5, 3);
    assert_int_equal(td_frank_message_decode(m, 15, &back, &back_len, &back_refs, &back_n, &err),
                     TD_ERR_INVALID);
    assert_int_equal(td_frank_message_decode(NULL, 0, &back, &back_len, &back_refs, &back_n, &err),
                     TD_ERR_INVALID);
}

/* ---- attachments ---- */

static void expect_open_refused(const td_frank_attachment_ref *ref, const uint8_t key[32],
                                const uint8_t *blob, size_t blob_len, const char *why)
{
    uint8_t *plain = (uint8_t *)"x";
    size_t plain_len = 1;
    td_error err;
    assert_int_equal(td_frank_attachment_open(ref, key, blob, blob_len, &plain, &plain_len, &err),
                     TD_ERR_INVALID);
    assert_null(plain);
    assert_int_equal(plain_len, 0);
    if (strncmp(err.message, why, strlen(why)) != 0)
        fail_msg("refusal '%s' does not say '%s'", err.message, why);
}

static void make_ref(const uint8_t *blob, size_t blob_len, const uint8_t key[32],
                     td_frank_attachment_ref *ref)
{
    openssl_sha256(blob, blob_len, NULL, 0, ref->blob_sha256);
    hand_commitment(key, ref->key_commitment);
}

static void test_attachments(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 15, 16, 17, 1000, MIB};
    uint8_t key[32], other[32];
    randombytes_buf(key, sizeof key);
    randombytes_buf(other, sizeof other);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t len = sizes[s];
        uint8_t *plain = malloc(len + 1), *blob, *blob2, *opened, *ind;
        size_t blob_len, blob2_len, opened_len, ind_len;
        assert_non_null(plain);
        randombytes_buf(plain, len);
        assert_int_equal(td_frank_attachment_seal(key, plain, len, &blob, &blob_len, NULL), TD_OK);
        assert_int_equal(blob_len, len + 28);
        /* A fresh nonce each time. */
        assert_int_equal(td_frank_attachment_seal(key, plain, len, &blob2, &blob2_len, NULL),
                         TD_OK);
        assert_memory_not_equal(blob, blob2, 12);
        /* Opened outside the library. */
        assert_int_equal(independent_open(key, blob, blob_len, &ind, &ind_len), 0);
        assert_int_equal(ind_len, len);
        if (len)
            assert_memory_equal(ind, plain, len);
        free(ind);
        td_frank_attachment_ref ref;
        make_ref(blob, blob_len, key, &ref);
        assert_int_equal(
            td_frank_attachment_open(&ref, key, blob, blob_len, &opened, &opened_len, NULL), TD_OK);
        assert_int_equal(opened_len, len);
        if (len)
            assert_memory_equal(opened, plain, len);
        td_free(opened);
        if (len <= 1000) {
            /* The wrong key: refused on its commitment, before any decryption. */
            expect_open_refused(&ref, other, blob, blob_len, "attachment key commitment");
            /* The wrong key committed to: the blob is right, the key commits, but it does not
             * authenticate. */
            td_frank_attachment_ref wrong;
            make_ref(blob, blob_len, other, &wrong);
            expect_open_refused(&wrong, other, blob, blob_len, "attachment authentication");
            /* A commitment with a bit flipped. */
            td_frank_attachment_ref flipped = ref;
            flipped.key_commitment[s] ^= 1;
            expect_open_refused(&flipped, key, blob, blob_len, "attachment key commitment");
            /* Each bit of the blob flipped: its hash no longer matches; and with the hash
             * updated, the authentication fails. */
            for (size_t bit = 0; bit<8 * blob_len; bit += blob_len> 64 ? 37 : 1) {
                blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                expect_open_refused(&ref, key, blob, blob_len, "attachment hash");
                td_frank_attachment_ref again;
                make_ref(blob, blob_len, key, &again);
                expect_open_refused(&again, key, blob, blob_len, "attachment authentication");
                blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            /* A blob shorter than a nonce and a tag. */
            if (blob_len == 28) {
                td_frank_attachment_ref shorter;
                make_ref(blob, 27, key, &shorter);
                expect_open_refused(&shorter, key, blob, 27, "attachment authentication");
            }
        }
        td_free(blob);
        td_free(blob2);
        free(plain);
    }
    /* The commitment is SHA-256 of the domain and the key (OpenSSL computes it here). */
    uint8_t c1[32], c2[32];
    td_frank_key_commitment(key, c1);
    hand_commitment(key, c2);
    assert_memory_equal(c1, c2, 32);
}

/* ---- invisible salamanders ---- */

static void test_gf128(void **state)
{
    (void)state;
    static const uint8_t one[16] = {0x80};
    uint64_t seed = 5;
    for (int i = 0; i < 20; i++) {
        uint8_t x[16], y[16], z[16], inv[16], a[16], b[16], c[16];
        for (int k = 0; k < 16; k++) {
            x[k] = (uint8_t)test_rand(&seed);
            y[k] = (uint8_t)test_rand(&seed);
            z[k] = (uint8_t)test_rand(&seed);
        }
        td_test_gf128_inv(x, inv);
        td_test_gf128_mul(x, inv, a);
        assert_memory_equal(a, one, 16);
        td_test_gf128_mul(x, one, a);
        assert_memory_equal(a, x, 16);
        td_test_gf128_mul(x, y, a);
        td_test_gf128_mul(y, x, b);
        assert_memory_equal(a, b, 16);
        /* x (y + z) = x y + x z */
        for (int k = 0; k < 16; k++)
            c[k] = y[k] ^ z[k];
        td_test_gf128_mul(x, c, a);
        td_test_gf128_mul(x, z, c);
        td_test_gf128_mul(x, y, b);
        for (int k = 0; k < 16; k++)
            b[k] ^= c[k];
        assert_memory_equal(a, b, 16);
    }
}

static void test_invisible_salamander(void **state)
{
    (void)state;
    static const char sent[] = "the picture the sender really sent";
    static const char framed[] = "a file the sender never sent";
    uint8_t k1[32], k2[32], nonce[12], *blob;
    size_t blob_len;
    randombytes_buf(k1, sizeof k1);
    randombytes_buf(k2, sizeof k2);
    randombytes_buf(nonce, sizeof nonce);
    assert_int_equal(td_test_salamander(k1, k2, nonce, (const uint8_t *)sent, sizeof sent,
                                        (const uint8_t *)framed, sizeof framed, &blob, &blob_len),
                     0);
    size_t off2 = 16 * ((sizeof sent + 15) / 16), len = blob_len - 28;
    assert_int_equal(blob_len, 12 + off2 + 16 * ((sizeof framed + 15) / 16) + 16 + 16);

    /* OpenSSL's GCM opens it under both keys, to two different plaintexts. */
    uint8_t *p1 = malloc(len), *p2 = malloc(len);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_int_equal(openssl_open(k1, blob, blob_len, p1), 0);
    assert_int_equal(openssl_open(k2, blob, blob_len, p2), 0);
    assert_memory_equal(p1, sent, sizeof sent);
    assert_memory_equal(p2 + off2, framed, sizeof framed);
    assert_memory_not_equal(p1, p2, len);
    uint8_t k3[32];
    randombytes_buf(k3, sizeof k3);
    assert_int_equal(openssl_open(k3, blob, blob_len, p1), -1); /* not any key */

    /* The sender committed to k1: only k1 opens it through the library. */
    td_frank_attachment_ref ref1, ref2;
    make_ref(blob, blob_len, k1, &ref1);
    make_ref(blob, blob_len, k2, &ref2);
    uint8_t *opened;
    size_t opened_len;
    assert_int_equal(
        td_frank_attachment_open(&ref1, k1, blob, blob_len, &opened, &opened_len, NULL), TD_OK);
    assert_memory_equal(opened, sent, sizeof sent);
    td_free(opened);
    expect_open_refused(&ref1, k2, blob, blob_len, "attachment key commitment");
    /* Without the commitment in the franked message, k2 would open it: this is what it stops. */
    assert_int_equal(
        td_frank_attachment_open(&ref2, k2, blob, blob_len, &opened, &opened_len, NULL), TD_OK);
    assert_memory_equal(opened + off2, framed, sizeof framed);
    td_free(opened);

    /* The franked message commits to k1. A reporter holding the same blob cannot report it with
     * k2: with the franked envelope the attachment does not open under k2, and an envelope that
     * commits to k2 instead is not the franked message. */
    td_frank_key key;
    td_frank_proof proof;
    td_frank_failure why;
    uint8_t salt[16], tag[32], *m1, *m2;
    size_t m1_len, m2_len;
    td_frank_context ctx = {"mallory", 7, "room-9", 6, T2026};
    randombytes_buf(salt, sizeof salt);
    assert_int_equal(td_frank_key_generate(1, 0, &key, NULL), TD_OK);
    assert_int_equal(td_frank_message_encode("look", 4, &ref1, 1, &m1, &m1_len, NULL), TD_OK);
    td_frank_tag(salt, m1, m1_len, tag);
    assert_int_equal(td_frank_issue(&key, tag, &ctx, &proof, NULL), TD_OK);
    assert_int_equal(td_frank_verify(&key, salt, m1, m1_len, &ctx, &proof, &why, NULL), TD_OK);
    expect_open_refused(&ref1, k2, blob, blob_len, "attachment key commitment");
    assert_int_equal(td_frank_message_encode("look", 4, &ref2, 1, &m2, &m2_len, NULL), TD_OK);
    assert_int_equal(td_frank_verify(&key, salt, m2, m2_len, &ctx, &proof, &why, NULL),
                     TD_ERR_INVALID);
    assert_int_equal(why, TD_FRANK_MISMATCH);
    td_free(m1);
    td_free(m2);
    td_frank_key_wipe(&key);
    free(p1);
    free(p2);
    free(blob);
    /* Equal keys are refused by the builder (there is nothing to solve). */
    assert_int_equal(td_test_salamander(k1, k1, nonce, NULL, 0, NULL, 0, &blob, &blob_len), -1);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc == 3 && strcmp(argv[1], "--write-kat") == 0)
        return write_kat(argv[2]);
    init_long_ids();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231),
        cmocka_unit_test(test_kat),
        cmocka_unit_test(test_kat_regenerates),
        cmocka_unit_test(test_kat_in_docs),
        cmocka_unit_test(test_flipped_bits),
        cmocka_unit_test(test_names_and_arguments),
        cmocka_unit_test(test_context_limits),
        cmocka_unit_test(test_keyring_lifecycle),
        cmocka_unit_test(test_keyring_limit),
        cmocka_unit_test(test_keyring_threads),
        cmocka_unit_test(test_message_envelope),
        cmocka_unit_test(test_attachments),
        cmocka_unit_test(test_gf128),
        cmocka_unit_test(test_invisible_salamander),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
