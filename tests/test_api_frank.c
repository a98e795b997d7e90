/* Message franking and verified E2EE reports over HTTP (docs/e2ee.md), against the real
 * `takedown serve` (a child process on a loopback port, fresh data directory).
 *
 * The test plays the clients: the sending client's salt, tag and attachment envelopes are built
 * with frank.h and cross-checked with a second computation (the franked bytes encoded here from
 * the format, the tag with OpenSSL's HMAC, the key commitment and blob digest with libsodium,
 * the attachment decrypted with OpenSSL's EVP); the recipient's check of a frank's signature is
 * written here from the format with libsodium alone, with the public key of GET /v1/frank/keys.
 *
 *   test_frank_single_and_batch   one message, 1000 in a batch (each proof verified), 1001 refused
 *   test_frank_refusals           content members, unknown members, bad hex, ids, times
 *   test_frank_roles              who may frank, rotate and read keys
 *   test_report_flow              a report: content, case, second reporter, replay, scoping
 *   test_report_refusals          flipped bits, unknown key, attachments that do not open
 *   test_attachment_key_conflict  one ciphertext that opens under two keys, reported twice
 *   test_report_limits            malformed bodies, 64 MiB + 1 refused, the server still serves
 *   test_block_bank               a block bank: verdict block and a remove webhook event
 *   test_review_copy              reads audited, 404 after the case closes
 *   test_removal_sealed           a removal: the remove event, the report sealed as evidence
 *   test_key_rotation             an admin rotates; a message of the old key still verifies
 *   test_metrics                  the counters of /metrics
 *   test_doc_examples             every command of docs/e2ee.md replayed, answers compared */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/api_client.h"
#include "support/doc_replay.h"
#include "support/salamander.h"
#include "support/support.h"
#include "takedown/frank.h"

#define HOOK_SECRET "frank-test-secret-0123456789"
#define T_ACCEPTED ((int64_t)1717200000000LL)
#define MAX_ATTS 4

enum { ADMIN, PLATFORM, PLATFORM_B, MODERATOR, AUDITOR, N_KEYS };
static const char *const key_roles[N_KEYS] = {"admin", "platform", "platform", "moderator",
                                              "auditor"};

static struct {
    api_server srv;
    char dir[4096];
    char keys[N_KEYS][128];
    char names[N_KEYS][32];
    struct MHD_Daemon *hooks;
    unsigned hook_port;
    unsigned serial; /* makes messages unique */
} S;

/* ---- the clients' side ---- */

typedef struct att {
    uint8_t key[TD_FRANK_ATTACH_KEY_LEN];
    uint8_t *blob;
    size_t blob_len;
    uint8_t *plain;
    size_t plain_len;
} att;

typedef struct msg {
    char text[2048];
    char sender[300], conv[300];
    int64_t accepted_ms;
    uint8_t salt[TD_FRANK_SALT_LEN], tag[TD_FRANK_TAG_LEN];
    att atts[MAX_ATTS];
    size_t n_atts;
    /* The proof delivered with it. */
    long long key_id;
    uint8_t frank[TD_FRANK_LEN], sig[TD_FRANK_SIG_LEN];
} msg;

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

/* The key commitment from its definition: SHA-256("takedown-attachment-key-v1" || key). */
static void my_key_commitment(const uint8_t key[32], uint8_t out[32])
{
    static const char dom[] = "takedown-attachment-key-v1";
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)dom, sizeof dom - 1);
    crypto_hash_sha256_update(&st, key, 32);
    crypto_hash_sha256_final(&st, out);
}

/* The franked bytes from the format: "tdfm1" || u32be(text_len) || text || u32be(n) ||
 * n x (SHA-256(blob) || key commitment). */
static uint8_t *my_encode(const msg *m, size_t *len)
{
    size_t tl = strlen(m->text);
    *len = 5 + 4 + tl + 4 + m->n_atts * 64;
    uint8_t *p = malloc(*len), *o = p;
    assert_non_null(p);
    memcpy(o, "tdfm1", 5), o += 5;
    put_u32(o, (uint32_t)tl), o += 4;
    memcpy(o, m->text, tl), o += tl;
    put_u32(o, (uint32_t)m->n_atts), o += 4;
    for (size_t i = 0; i < m->n_atts; i++, o += 64) {
        crypto_hash_sha256(o, m->atts[i].blob, m->atts[i].blob_len);
        my_key_commitment(m->atts[i].key, o + 32);
    }
    return p;
}

/* AES-256-GCM with OpenSSL, independent of the library: nonce || ciphertext || tag. */
static uint8_t *gcm_seal(const uint8_t key[32], const uint8_t *plain, size_t len, size_t *out_len)
{
    uint8_t *b = malloc(len + 28);
    int n = 0, f = 0;
    assert_non_null(b);
    randombytes_buf(b, 12);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, b), 1);
    assert_int_equal(EVP_EncryptUpdate(c, b + 12, &n, plain, (int)len), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, b + 12 + n, &f), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, b + 12 + len), 1);
    EVP_CIPHER_CTX_free(c);
    *out_len = len + 28;
    return b;
}

/* 1 when blob opens under key to plain (OpenSSL). */
static int gcm_opens_to(const uint8_t key[32], const uint8_t *blob, size_t blob_len,
                        const uint8_t *plain, size_t len)
{
    if (blob_len != len + 28)
        return 0;
    uint8_t *out = malloc(len + 1);
    int n = 0, f = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, blob) &&
             EVP_DecryptUpdate(c, out, &n, blob + 12, (int)len) &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(blob + 12 + len)) &&
             EVP_DecryptFinal_ex(c, out + n, &f) > 0;
    EVP_CIPHER_CTX_free(c);
    ok = ok && memcmp(out, plain, len) == 0;
    free(out);
    return ok;
}

static void msg_init(msg *m, const char *text, const char *sender, const char *conv)
{
    memset(m, 0, sizeof *m);
    snprintf(m->text, sizeof m->text, "%s", text);
    snprintf(m->sender, sizeof m->sender, "%s", sender);
    snprintf(m->conv, sizeof m->conv, "%s", conv);
    m->accepted_ms = T_ACCEPTED + S.serial++;
    randombytes_buf(m->salt, sizeof m->salt);
}

/* An attachment sealed by the library (and checked to open with OpenSSL). */
static void msg_attach(msg *m, const void *plain, size_t len)
{
    att *a = &m->atts[m->n_atts++];
    td_error err;
    randombytes_buf(a->key, sizeof a->key);
    a->plain = malloc(len ? len : 1);
    memcpy(a->plain, plain, len);
    a->plain_len = len;
    uint8_t *blob;
    size_t blob_len;
    assert_int_equal(td_frank_attachment_seal(a->key, plain, len, &blob, &blob_len, &err), TD_OK);
    a->blob = malloc(blob_len);
    memcpy(a->blob, blob, blob_len);
    a->blob_len = blob_len;
    td_free(blob);
    assert_true(gcm_opens_to(a->key, a->blob, a->blob_len, plain, len));
}

/* An attachment whose blob is sealed under another key than the one the message commits to:
 * what a sender who wants a report to fail would deliver. */
static void msg_attach_wrong(msg *m, const void *plain, size_t len)
{
    att *a = &m->atts[m->n_atts++];
    uint8_t other[32];
    randombytes_buf(a->key, sizeof a->key);
    randombytes_buf(other, sizeof other);
    a->plain = malloc(len ? len : 1);
    memcpy(a->plain, plain, len);
    a->plain_len = len;
    a->blob = gcm_seal(other, plain, len, &a->blob_len);
    assert_false(gcm_opens_to(a->key, a->blob, a->blob_len, plain, len));
}

/* An attachment with a given blob and key (the blob is copied). */
static void msg_attach_blob(msg *m, const uint8_t key[32], const uint8_t *blob, size_t len)
{
    att *a = &m->atts[m->n_atts++];
    memcpy(a->key, key, 32);
    a->blob = malloc(len);
    memcpy(a->blob, blob, len);
    a->blob_len = len;
    a->plain = NULL;
    a->plain_len = 0;
}

static void msg_free(msg *m)
{
    for (size_t i = 0; i < m->n_atts; i++) {
        free(m->atts[i].blob);
        free(m->atts[i].plain);
    }
    m->n_atts = 0;
}

/* The sending client: the franked bytes (the library's against the format's) and the tag (the
 * library's against OpenSSL's HMAC). */
static void msg_seal(msg *m)
{
    td_frank_attachment_ref refs[MAX_ATTS];
    td_error err;
    for (size_t i = 0; i < m->n_atts; i++) {
        crypto_hash_sha256(refs[i].blob_sha256, m->atts[i].blob, m->atts[i].blob_len);
        td_frank_key_commitment(m->atts[i].key, refs[i].key_commitment);
        uint8_t mine[32];
        my_key_commitment(m->atts[i].key, mine);
        assert_memory_equal(mine, refs[i].key_commitment, 32);
    }
    uint8_t *enc = NULL;
    size_t len = 0, my_len;
    assert_int_equal(
        td_frank_message_encode(m->text, strlen(m->text), refs, m->n_atts, &enc, &len, &err),
        TD_OK);
    uint8_t *mine = my_encode(m, &my_len);
    assert_int_equal(len, my_len);
    assert_memory_equal(enc, mine, len);
    td_frank_tag(m->salt, enc, len, m->tag);
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned hl = 0;
    assert_non_null(HMAC(EVP_sha256(), m->salt, TD_FRANK_SALT_LEN, mine, my_len, h, &hl));
    assert_int_equal(hl, 32);
    assert_memory_equal(h, m->tag, 32);
    td_free(enc);
    free(mine);
}

static void hex(const uint8_t *b, size_t n, char *out) { sodium_bin2hex(out, 2 * n + 1, b, n); }

static void unhex(const char *s, uint8_t *out, size_t n)
{
    assert_non_null(s);
    assert_int_equal(strlen(s), 2 * n);
    size_t got = 0;
    assert_int_equal(sodium_hex2bin(out, n, s, 2 * n, NULL, &got, NULL), 0);
    assert_int_equal(got, n);
}

/* The body the messaging server sends for m at delivery. */
static json_t *frank_item(const msg *m)
{
    char tag[65];
    hex(m->tag, 32, tag);
    return json_pack("{s:s, s:s, s:s, s:I}", "franking_tag", tag, "sender", m->sender,
                     "conversation", m->conv, "accepted_ms", (json_int_t)m->accepted_ms);
}

static char *dumps(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(s);
    json_decref(j);
    return s;
}

/* The published public key of key_id (fails when absent). */
static void public_key(long long key_id, uint8_t pub[32])
{
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/frank/keys", NULL, NULL);
    json_t *keys = json_object_get(j, "keys");
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        if (api_jint(k, "key_id") == key_id) {
            assert_string_equal(api_jstr(k, "algorithm"), "Ed25519");
            unhex(api_jstr(k, "public_key"), pub, 32);
            json_decref(j);
            return;
        }
    }
    fail_msg("key %lld is not published", key_id);
}

/* The recipient's check, from the format with libsodium: Ed25519 over "takedown-frank-v1" ||
 * u32be(key_id) || frank || tag || u32be(len) || sender || u32be(len) || conversation ||
 * u64be(accepted_ms). */
static int proof_verifies(const msg *m, const uint8_t pub[32])
{
    uint8_t b[2048], *o = b;
    size_t sl = strlen(m->sender), cl = strlen(m->conv);
    memcpy(o, "takedown-frank-v1", 17), o += 17;
    put_u32(o, (uint32_t)m->key_id), o += 4;
    memcpy(o, m->frank, 32), o += 32;
    memcpy(o, m->tag, 32), o += 32;
    put_u32(o, (uint32_t)sl), o += 4;
    memcpy(o, m->sender, sl), o += sl;
    put_u32(o, (uint32_t)cl), o += 4;
    memcpy(o, m->conv, cl), o += cl;
    put_u64(o, (uint64_t)m->accepted_ms), o += 8;
    return crypto_sign_verify_detached(m->sig, b, (unsigned long long)(o - b), pub) == 0;
}

static void take_proof(msg *m, json_t *p)
{
    m->key_id = api_jint(p, "key_id");
    assert_true(m->key_id >= 1);
    unhex(api_jstr(p, "frank"), m->frank, 32);
    unhex(api_jstr(p, "signature"), m->sig, 64);
    assert_int_equal(json_object_size(p), 3);
}

/* The messaging server at delivery: one message franked, its proof checked as a recipient
 * would. */
static void deliver(msg *m)
{
    char *body = dumps(frank_item(m));
    json_t *j = api_call(&S.srv, 200, "POST", "/v1/frank", S.keys[PLATFORM], body);
    free(body);
    take_proof(m, j);
    json_decref(j);
    uint8_t pub[32];
    public_key(m->key_id, pub);
    assert_true(proof_verifies(m, pub));
}

static json_t *report_message(const msg *m)
{
    char salt[33], frank[65], sig[129];
    hex(m->salt, 16, salt);
    hex(m->frank, 32, frank);
    hex(m->sig, 64, sig);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "text", m->text, "salt", salt,
                          "sender", m->sender, "conversation", m->conv, "accepted_ms",
                          (json_int_t)m->accepted_ms, "key_id", (json_int_t)m->key_id, "frank",
                          frank, "signature", sig);
    if (m->n_atts) {
        json_t *a = json_array();
        for (size_t i = 0; i < m->n_atts; i++) {
            size_t cap =
                sodium_base64_ENCODED_LEN(m->atts[i].blob_len, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = malloc(cap), key[65];
            sodium_bin2base64(b64, cap, m->atts[i].blob, m->atts[i].blob_len,
                              sodium_base64_VARIANT_ORIGINAL);
            hex(m->atts[i].key, 32, key);
            json_array_append_new(a, json_pack("{s:s, s:s}", "blob", b64, "key", key));
            free(b64);
        }
        json_object_set_new(o, "attachments", a);
    }
    return o;
}

/* The report's JSON for messages m[0..n), by reporter. */
static char *report_body(const msg *m, size_t n, const char *reporter, const char *reason)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, report_message(&m[i]));
    json_t *j = json_pack("{s:s, s:o}", "reporter", reporter, "messages", list);
    if (reason)
        json_object_set_new(j, "reason", json_string(reason));
    return dumps(j);
}

/* A report relayed by platform key `key` that must answer 201; the first answer. */
static json_t *report(int key, const msg *m, size_t n, const char *reporter)
{
    char *body = report_body(m, n, reporter, "test report");
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/reports", S.keys[key], body);
    free(body);
    json_t *list = json_object_get(j, "reports");
    assert_int_equal(json_array_size(list), n);
    json_t *first = json_incref(json_array_get(list, 0));
    json_decref(j);
    return first;
}

/* The content id a verified message gets: "e2ee-" and the first 16 bytes of its frank. */
static void content_id_of(const msg *m, char out[64])
{
    char h[33];
    hex(m->frank, 16, h);
    snprintf(out, 64, "e2ee-%s", h);
}

/* A refused report: status, code, field, and for frank_invalid the reason. */
static void expect_refused(const msg *m, size_t n, long status, const char *code, const char *field,
                           const char *reason)
{
    char *body = report_body(m, n, "mallory", NULL);
    api_resp r;
    api_request rq = {"POST", "/v1/reports", S.keys[PLATFORM], "application/json", body, -1,
                      0,      NULL};
    long st = api_send(&S.srv, &rq, &r);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    if (st != status || !e || strcmp(api_jstr(e, "code"), code) != 0 ||
        (field && (!api_jstr(e, "field") || strcmp(api_jstr(e, "field"), field) != 0)) ||
        (reason && (!api_jstr(e, "reason") || strcmp(api_jstr(e, "reason"), reason) != 0)))
        fail_msg("report: %ld %s (expected %ld %s %s %s)", st, r.body ? r.body : "", status, code,
                 field ? field : "", reason ? reason : "");
    json_decref(j);
    api_resp_free(&r);
    free(body);
}

/* ---- the server's other views ---- */

/* A counter of /metrics (the line `name value`); -1 when absent. */
static double metric(const char *name)
{
    api_resp r;
    assert_int_equal(api_http(&S.srv, "GET", "/metrics", NULL, NULL, &r), 200);
    double v = -1;
    size_t n = strlen(name);
    for (const char *p = r.body; p && *p;) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    api_resp_free(&r);
    return v;
}

/* The audit log's size (entries), from the public checkpoint. */
static long long log_size(void)
{
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/log/checkpoint", NULL, NULL);
    long long n = api_jint(json_object_get(j, "checkpoint"), "size");
    json_decref(j);
    return n;
}

/* The entry seq of the audit log (its canonical JSON), through the inclusion proof route. */
static json_t *log_entry(long long seq)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/log/proof/inclusion?seq=%lld", seq);
    json_t *j = api_call(&S.srv, 200, "GET", path, S.keys[ADMIN], NULL);
    json_t *e = json_loads(api_jstr(j, "entry"), 0, NULL);
    assert_non_null(e);
    json_decref(j);
    return e;
}

/* The number of entries from seq `from` on with this action, actor (or any when NULL) and an
 * object containing `object` (or any when NULL). */
static int log_count(long long from, const char *action, const char *actor, const char *object)
{
    long long size = log_size();
    int n = 0;
    for (long long s = from; s < size; s++) {
        json_t *e = log_entry(s);
        if (strcmp(api_jstr(e, "action"), action) == 0 &&
            (!actor || strcmp(api_jstr(e, "actor"), actor) == 0) &&
            (!object || strstr(api_jstr(e, "object"), object)))
            n++;
        json_decref(e);
    }
    return n;
}

static long long content_total(void)
{
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/stats", S.keys[ADMIN], NULL);
    long long n = api_jint(j, "content");
    json_decref(j);
    return n;
}

/* ---- the platform's webhook receiver ---- */

#define MAX_HOOKED 256
static struct {
    pthread_mutex_t lock;
    int n;
    char body[MAX_HOOKED][4096];
} W = {PTHREAD_MUTEX_INITIALIZER, 0, {{0}}};

typedef struct hook_req {
    char body[4096];
    size_t len;
} hook_req;

static enum MHD_Result on_hook(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version;
    hook_req *h = *ctx;
    if (!h) {
        *ctx = calloc(1, sizeof *h);
        return *ctx ? MHD_YES : MHD_NO;
    }
    if (*size) {
        size_t room = sizeof h->body - 1 - h->len, n = *size < room ? *size : room;
        memcpy(h->body + h->len, data, n);
        h->len += n;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&W.lock);
    if (W.n < MAX_HOOKED)
        snprintf(W.body[W.n++], sizeof W.body[0], "%s", h->body);
    pthread_mutex_unlock(&W.lock);
    static const char ok[] = "ok";
    struct MHD_Response *answer =
        MHD_create_response_from_buffer(2, (void *)ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 200, answer);
    MHD_destroy_response(answer);
    return ret;
}

static void on_hook_done(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    free(*ctx);
    *ctx = NULL;
}

/* Events received of this kind that name content_id. */
static int hooked(const char *event, const char *content_id)
{
    char e[64], id[128];
    int n = 0;
    snprintf(e, sizeof e, "\"event\":\"%s\"", event);
    snprintf(id, sizeof id, "\"%s\"", content_id);
    pthread_mutex_lock(&W.lock);
    for (int i = 0; i < W.n; i++)
        n += strstr(W.body[i], e) && strstr(W.body[i], id);
    pthread_mutex_unlock(&W.lock);
    return n;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    static const char *const flags[] = {"--webhook-allow-private", "1", "--webhook-backoff-base-ms",
                                        "100", NULL};
    if (api_group_init(S.dir, sizeof S.dir, "api-frank-data") != 0)
        return -1;
    /* The evidence master key, so that removed reports are sealed. */
    char cmd[8400], out[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' evidence init --data '%s' --threshold 2 --custodians alice,bob,carol "
             "2>/dev/null",
             TD_CLI_PATH, S.dir);
    if (run_capture(cmd, out, sizeof out) != 0)
        return -1;
    api_server_start(&S.srv, S.dir, flags);
    snprintf(S.keys[ADMIN], sizeof S.keys[ADMIN], "%s", S.srv.admin);
    snprintf(S.names[ADMIN], sizeof S.names[ADMIN], "admin");
    if (strncmp(S.keys[ADMIN], "tdk_", 4) != 0)
        return -1;
    for (int i = 1; i < N_KEYS; i++) {
        char body[160];
        snprintf(S.names[i], sizeof S.names[i], "%s-%d", key_roles[i], i);
        snprintf(body, sizeof body, "{\"role\": \"%s\", \"name\": \"%s\"}", key_roles[i],
                 S.names[i]);
        json_t *j = api_call(&S.srv, 201, "POST", "/v1/keys", S.keys[ADMIN], body);
        snprintf(S.keys[i], sizeof S.keys[i], "%s", api_jstr(j, "key"));
        json_decref(j);
    }
    /* The admin key's principal name, as the audit log records it. */
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/keys", S.keys[ADMIN], NULL);
    json_t *list = json_object_get(j, "keys");
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(api_jstr(json_array_get(list, i), "role"), "admin") == 0)
            snprintf(S.names[ADMIN], sizeof S.names[ADMIN], "%s",
                     api_jstr(json_array_get(list, i), "name"));
    json_decref(j);
    S.hooks = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_hook, NULL,
                               MHD_OPTION_NOTIFY_COMPLETED, on_hook_done, NULL, MHD_OPTION_END);
    if (!S.hooks)
        return -1;
    S.hook_port = MHD_get_daemon_info(S.hooks, MHD_DAEMON_INFO_BIND_PORT)->port;
    char body[256];
    snprintf(body, sizeof body,
             "{\"url\": \"http://127.0.0.1:%u/hook\", \"secret\": \"" HOOK_SECRET
             "\", \"events\": [\"remove\", \"case.opened\"]}",
             S.hook_port);
    json_decref(api_call(&S.srv, 201, "POST", "/v1/webhooks", S.keys[ADMIN], body));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.srv.pid)
        api_server_stop(&S.srv);
    if (S.hooks)
        MHD_stop_daemon(S.hooks);
    curl_global_cleanup();
    return 0;
}

/* ---- franking ---- */

static void test_frank_single_and_batch(void **state)
{
    (void)state;
    long long log_before = log_size(), content_before = content_total();
    msg m;
    msg_init(&m, "hello", "alice", "room-1");
    msg_seal(&m);
    deliver(&m);
    /* The frank is a function of the tag and the context: the same request gives the same
     * frank, another sender another one. */
    msg again = m, other = m;
    deliver(&again);
    assert_int_equal(again.key_id, m.key_id);
    assert_memory_equal(again.frank, m.frank, 32);
    snprintf(other.sender, sizeof other.sender, "alicf");
    deliver(&other);
    assert_memory_not_equal(other.frank, m.frank, 32);
    /* The proof is bound to its context: another sender's name does not verify under m's. */
    uint8_t pub[32];
    public_key(m.key_id, pub);
    memcpy(other.frank, m.frank, 32);
    memcpy(other.sig, m.sig, 64);
    assert_false(proof_verifies(&other, pub));

    /* A batch of 1000, answered in order: each proof verifies for its own message only. */
    enum { N = 1000 };
    msg *ms = calloc(N, sizeof *ms);
    assert_non_null(ms);
    json_t *list = json_array();
    for (size_t i = 0; i < N; i++) {
        char text[32], sender[32], conv[32];
        snprintf(text, sizeof text, "batch message %zu", i);
        snprintf(sender, sizeof sender, "user-%zu", i % 37);
        snprintf(conv, sizeof conv, "room-%zu", i % 11);
        msg_init(&ms[i], text, sender, conv);
        msg_seal(&ms[i]);
        json_array_append_new(list, frank_item(&ms[i]));
    }
    char *body = dumps(json_pack("{s:o}", "messages", list));
    json_t *j = api_call(&S.srv, 200, "POST", "/v1/frank", S.keys[PLATFORM], body);
    free(body);
    json_t *franks = json_object_get(j, "franks");
    assert_int_equal(json_object_size(j), 1);
    assert_int_equal(json_array_size(franks), N);
    for (size_t i = 0; i < N; i++) {
        take_proof(&ms[i], json_array_get(franks, i));
        if (i == 0 || ms[i].key_id != ms[0].key_id)
            public_key(ms[i].key_id, pub);
        if (!proof_verifies(&ms[i], pub))
            fail_msg("batch item %zu: the signature does not verify", i);
    }
    /* Swapped answers do not verify: the order is the request's. */
    msg swapped = ms[1];
    memcpy(swapped.frank, ms[0].frank, 32);
    memcpy(swapped.sig, ms[0].sig, 64);
    assert_false(proof_verifies(&swapped, pub));
    json_decref(j);

    /* 1001 is refused, and so is an empty batch. */
    list = json_array();
    for (size_t i = 0; i <= N; i++)
        json_array_append_new(list, frank_item(&ms[i % N]));
    body = dumps(json_pack("{s:o}", "messages", list));
    api_expect_error_ex(&S.srv, 413, "too_large", "messages", "POST", "/v1/frank", S.keys[PLATFORM],
                        body, strlen(body), NULL);
    free(body);
    api_expect_error_ex(&S.srv, 400, "invalid_field", "messages", "POST", "/v1/frank",
                        S.keys[PLATFORM], "{\"messages\": []}", 16, NULL);
    free(ms);

    /* Nothing was stored: no audit entry, no content. */
    assert_int_equal(log_size(), log_before);
    assert_int_equal(content_total(), content_before);
}

/* A franking body with one member changed: obj is the valid item, member set to value (JSON
 * text), or removed when value is NULL; batch puts the item at index 2 of three. */
static char *mutated(const msg *m, const char *member, const char *value, int batch)
{
    json_t *item = frank_item(m);
    if (value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        assert_non_null(v);
        json_object_set_new(item, member, v);
    } else {
        json_object_del(item, member);
    }
    if (!batch)
        return dumps(item);
    json_t *list = json_array();
    json_array_append_new(list, frank_item(m));
    json_array_append_new(list, frank_item(m));
    json_array_append_new(list, item);
    return dumps(json_pack("{s:o}", "messages", list));
}

/* A JSON string of n copies of unit (JSON text) into out. */
static void json_id(char *out, const char *unit, int n)
{
    size_t o = 0, k = strlen(unit);
    out[o++] = '"';
    for (int i = 0; i < n; i++, o += k)
        memcpy(out + o, unit, k);
    out[o++] = '"';
    out[o] = '\0';
}

static void expect_frank_error(const msg *m, const char *member, const char *value, int batch,
                               long status, const char *code, const char *field)
{
    char *body = mutated(m, member, value, batch), want[96];
    snprintf(want, sizeof want, "%s%s", batch ? "messages[2]." : "", field);
    api_expect_error_ex(&S.srv, status, code, want, "POST", "/v1/frank", S.keys[PLATFORM], body,
                        strlen(body), NULL);
    free(body);
}

static void test_frank_refusals(void **state)
{
    (void)state;
    msg m;
    msg_init(&m, "refusals", "alice", "room-2");
    msg_seal(&m);
    double franked = metric("takedown_frank_total");
    static const char *const content[] = {"message",   "text", "content",
                                          "plaintext", "body", "attachments"};
    for (int batch = 0; batch < 2; batch++) {
        for (size_t i = 0; i < sizeof content / sizeof content[0]; i++)
            expect_frank_error(&m, content[i], "\"the message itself\"", batch, 400,
                               "plaintext_refused", content[i]);
        /* Whatever its type, and even when empty. */
        expect_frank_error(&m, "attachments", "[]", batch, 400, "plaintext_refused", "attachments");
        expect_frank_error(&m, "body", "{\"a\": 1}", batch, 400, "plaintext_refused", "body");
        expect_frank_error(&m, "ciphertext", "\"ab\"", batch, 400, "unknown_field", "ciphertext");
        expect_frank_error(&m, "franking_tag", NULL, batch, 400, "missing_field", "franking_tag");
        expect_frank_error(&m, "franking_tag", "\"zz\"", batch, 400, "invalid_field",
                           "franking_tag");
        expect_frank_error(&m, "franking_tag",
                           "\"5b4cdd6fa1820fc96a6b11c57815a9cb1384d1c333355c2563f05638e73caa8\"",
                           batch, 400, "invalid_field", "franking_tag");
        expect_frank_error(&m, "franking_tag",
                           "\"5b4cdd6fa1820fc96a6b11c57815a9cb1384d1c333355c2563f05638e73caa8g\"",
                           batch, 400, "invalid_field", "franking_tag");
        expect_frank_error(&m, "franking_tag",
                           "\"5b4cdd6fa1820fc96a6b11c57815a9cb1384d1c333355c2563f05638e73caa8300\"",
                           batch, 400, "invalid_field", "franking_tag");
        expect_frank_error(&m, "franking_tag", "32", batch, 400, "invalid_field", "franking_tag");
        expect_frank_error(&m, "sender", "\"\"", batch, 400, "invalid_field", "sender");
        expect_frank_error(&m, "sender", "7", batch, 400, "invalid_field", "sender");
        expect_frank_error(&m, "sender", NULL, batch, 400, "missing_field", "sender");
        /* A NUL inside a string: the JSON reader refuses the body. */
        char *nul = mutated(&m, "sender", "\"a\\u0000b\"", batch);
        api_expect_error_ex(&S.srv, 400, "invalid_json", NULL, "POST", "/v1/frank",
                            S.keys[PLATFORM], nul, strlen(nul), NULL);
        free(nul);
        expect_frank_error(&m, "conversation", NULL, batch, 400, "missing_field", "conversation");
        expect_frank_error(&m, "accepted_ms", "-1", batch, 400, "invalid_field", "accepted_ms");
        expect_frank_error(&m, "accepted_ms", "1.5", batch, 400, "invalid_field", "accepted_ms");
        expect_frank_error(&m, "accepted_ms", "\"1717200000000\"", batch, 400, "invalid_field",
                           "accepted_ms");
        expect_frank_error(&m, "accepted_ms", NULL, batch, 400, "missing_field", "accepted_ms");
        /* Ids of 256 bytes are taken, 257 are not (bytes, not characters: "é" is two). */
        char id[1024];
        json_id(id, "x", 256);
        char *ok = mutated(&m, "conversation", id, batch);
        json_decref(api_call(&S.srv, 200, "POST", "/v1/frank", S.keys[PLATFORM], ok));
        free(ok);
        json_id(id, "x", 257);
        expect_frank_error(&m, "conversation", id, batch, 400, "invalid_field", "conversation");
        json_id(id, "\\u00e9", 128);
        ok = mutated(&m, "sender", id, batch);
        json_decref(api_call(&S.srv, 200, "POST", "/v1/frank", S.keys[PLATFORM], ok));
        free(ok);
        id[strlen(id) - 1] = '\0';
        strcat(id, "x\"");
        expect_frank_error(&m, "sender", id, batch, 400, "invalid_field", "sender");
    }
    /* A batch body takes only "messages", and never content beside it. */
    char *body = mutated(&m, "sender", "\"a\"", 1);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    json_object_set_new(j, "text", json_string("beside the batch"));
    body = dumps(j);
    api_expect_error_ex(&S.srv, 400, "plaintext_refused", "text", "POST", "/v1/frank",
                        S.keys[PLATFORM], body, strlen(body), NULL);
    free(body);
    api_expect_error_ex(&S.srv, 400, "unknown_field", "note", "POST", "/v1/frank", S.keys[PLATFORM],
                        "{\"messages\": [], \"note\": 1}", 27, NULL);
    api_expect_error_ex(&S.srv, 400, "invalid_field", "messages[0]", "POST", "/v1/frank",
                        S.keys[PLATFORM], "{\"messages\": [7]}", 17, NULL);
    api_expect_error_ex(&S.srv, 400, "invalid_field", "messages", "POST", "/v1/frank",
                        S.keys[PLATFORM], "{\"messages\": {}}", 16, NULL);
    api_expect_error(&S.srv, 400, "invalid_json", "POST", "/v1/frank", S.keys[PLATFORM],
                     "{\"franking_tag\": ");
    api_expect_error(&S.srv, 400, "invalid_json", "POST", "/v1/frank", S.keys[PLATFORM], "[]");
    /* Only the accepted requests franked: 2 single messages, then 2 batches of 3. */
    assert_true(metric("takedown_frank_total") == franked + 8);
}

static void test_frank_roles(void **state)
{
    (void)state;
    msg m;
    msg_init(&m, "roles", "alice", "room-3");
    msg_seal(&m);
    char *body = dumps(frank_item(&m));
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/frank", S.keys[MODERATOR], body);
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/frank", S.keys[AUDITOR], body);
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/frank", S.keys[ADMIN], body);
    api_expect_error(&S.srv, 401, "unauthenticated", "POST", "/v1/frank", NULL, body);
    api_expect_error(&S.srv, 401, "unauthenticated", "POST", "/v1/frank", "tdk_0000", body);
    free(body);
    /* The keys need no key at all; rotation is the admin's. */
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/frank/keys", NULL, NULL);
    assert_true(json_array_size(json_object_get(j, "keys")) >= 1);
    json_decref(j);
    for (int k = PLATFORM; k < N_KEYS; k++)
        api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/frank/keys/rotate", S.keys[k],
                         NULL);
    api_expect_error(&S.srv, 401, "unauthenticated", "POST", "/v1/frank/keys/rotate", NULL, NULL);
    /* Reports are relayed by the messaging server only. */
    msg_free(&m);
}

/* ---- reports ---- */

static void test_report_flow(void **state)
{
    (void)state;
    msg m;
    msg_init(&m, "Join us at the rally, bring what we talked about.", "alice", "room-4");
    static const char photo[] = "not really a photo, but bytes all the same";
    msg_attach(&m, photo, sizeof photo - 1);
    msg_seal(&m);
    deliver(&m);
    char content_id[64];
    content_id_of(&m, content_id);
    double verified = metric("takedown_reports_verified_total");
    long long log_before = log_size();

    json_t *r1 = report(PLATFORM, &m, 1, "bob");
    long long report_id = api_jint(r1, "report_id");
    assert_true(report_id >= 1);
    assert_string_equal(api_jstr(r1, "content_id"), content_id);
    assert_int_equal(api_jint(r1, "reporters"), 1);
    assert_true(json_is_false(json_object_get(r1, "duplicate")));
    assert_string_equal(api_jstr(r1, "verdict"), "allow");
    long long case_id = api_jint(r1, "case_id");
    assert_true(case_id >= 1);
    json_decref(r1);
    assert_true(metric("takedown_reports_verified_total") == verified + 1);
    char object[48];
    snprintf(object, sizeof object, "report:%lld", report_id);
    assert_int_equal(log_count(log_before, "report.received", "system", object), 1);

    /* The content: the verified sender and time, source e2ee_report; its case in the queue. */
    char path[160];
    snprintf(path, sizeof path, "/v1/content/%s", content_id);
    json_t *c = api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL);
    assert_string_equal(api_jstr(c, "source"), "e2ee_report");
    assert_string_equal(api_jstr(c, "uploader"), "alice");
    assert_int_equal(api_jint(c, "time_ms"), m.accepted_ms);
    assert_int_equal(api_jint(json_object_get(c, "case"), "id"), case_id);
    json_decref(c);
    json_t *q = api_call(&S.srv, 200, "GET", "/v1/cases", S.keys[MODERATOR], NULL);
    int found = 0;
    json_t *cases = json_object_get(q, "cases");
    for (size_t i = 0; i < json_array_size(cases); i++)
        if (api_jint(json_array_get(cases, i), "id") == case_id) {
            found = 1;
            assert_string_equal(api_jstr(json_array_get(cases, i), "content_id"), content_id);
        }
    assert_true(found);
    json_decref(q);

    /* The same message from a second reporter: the same report, two reporters. */
    long long log_second = log_size();
    json_t *r2 = report(PLATFORM, &m, 1, "carol");
    assert_int_equal(api_jint(r2, "report_id"), report_id);
    assert_string_equal(api_jstr(r2, "content_id"), content_id);
    assert_int_equal(api_jint(r2, "reporters"), 2);
    assert_true(json_is_true(json_object_get(r2, "duplicate")));
    json_decref(r2);
    assert_int_equal(log_count(log_second, "report.reporter_added", "system", object), 1);
    assert_int_equal(log_count(log_second, "report.received", NULL, NULL), 0);
    /* Replayed by a reporter already counted: nothing changes. */
    long long log_mid = log_size();
    json_t *r3 = report(PLATFORM, &m, 1, "bob");
    assert_int_equal(api_jint(r3, "report_id"), report_id);
    assert_int_equal(api_jint(r3, "reporters"), 2);
    assert_true(json_is_true(json_object_get(r3, "duplicate")));
    json_decref(r3);
    assert_int_equal(log_size(), log_mid);

    /* The record, never the content. */
    snprintf(path, sizeof path, "/v1/reports/%lld", report_id);
    json_t *t = api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL);
    assert_int_equal(api_jint(t, "report_id"), report_id);
    assert_string_equal(api_jstr(t, "content_id"), content_id);
    assert_int_equal(api_jint(t, "case_id"), case_id);
    assert_int_equal(api_jint(t, "reporters"), 2);
    assert_int_equal(api_jint(t, "key_id"), m.key_id);
    assert_string_equal(api_jstr(t, "sender"), "alice");
    assert_string_equal(api_jstr(t, "conversation"), "room-4");
    assert_int_equal(api_jint(t, "accepted_ms"), m.accepted_ms);
    assert_int_equal(api_jint(t, "attachments"), 1);
    assert_true(json_is_true(json_object_get(t, "review_copy")));
    assert_true(json_is_null(json_object_get(t, "evidence_item")));
    char *text = json_dumps(t, 0);
    assert_null(strstr(text, "rally"));
    free(text);
    json_decref(t);
    /* The platform that relayed it reads it; another platform gets what an unknown report
     * gets. */
    json_decref(api_call(&S.srv, 200, "GET", path, S.keys[PLATFORM], NULL));
    api_resp a, b;
    assert_int_equal(api_http(&S.srv, "GET", path, S.keys[PLATFORM_B], NULL, &a), 404);
    assert_int_equal(api_http(&S.srv, "GET", "/v1/reports/999999", S.keys[PLATFORM_B], NULL, &b),
                     404);
    json_t *ja = json_loads(a.body, 0, NULL), *jb = json_loads(b.body, 0, NULL);
    char want[64];
    snprintf(want, sizeof want, "no report %lld", report_id);
    assert_string_equal(api_jstr(json_object_get(ja, "error"), "message"), want);
    assert_string_equal(api_jstr(json_object_get(jb, "error"), "message"), "no report 999999");
    json_decref(ja);
    json_decref(jb);
    api_resp_free(&a);
    api_resp_free(&b);
    api_expect_error(&S.srv, 403, "forbidden", "GET", path, S.keys[AUDITOR], NULL);
    /* The routes beside /v1/reports/{id} are still theirs. */
    json_decref(
        api_call(&S.srv, 200, "GET",
                 "/v1/reports/transparency?from=2024-01-01T00:00:00Z&to=2030-01-01T00:00:00Z",
                 S.keys[MODERATOR], NULL));
    json_decref(
        api_call(&S.srv, 200, "GET",
                 "/v1/reports/evidence-orders?from=2024-01-01T00:00:00Z&to=2030-01-01T00:00:00Z",
                 S.keys[MODERATOR], NULL));
    api_expect_error(&S.srv, 400, "invalid_id", "GET", "/v1/reports/abc", S.keys[MODERATOR], NULL);

    /* Two messages in one report: one answer each, in order. */
    msg two[2];
    msg_init(&two[0], "first of two", "dave", "room-5");
    msg_init(&two[1], "second of two", "erin", "room-5");
    for (int i = 0; i < 2; i++) {
        msg_seal(&two[i]);
        deliver(&two[i]);
    }
    char *body = report_body(two, 2, "frank", NULL);
    json_t *j = api_call(&S.srv, 201, "POST", "/v1/reports", S.keys[PLATFORM_B], body);
    free(body);
    json_t *list = json_object_get(j, "reports");
    assert_int_equal(json_array_size(list), 2);
    for (int i = 0; i < 2; i++) {
        content_id_of(&two[i], want);
        assert_string_equal(api_jstr(json_array_get(list, i), "content_id"), want);
    }
    json_decref(j);
    /* Relayed by B: B's content. */
    snprintf(path, sizeof path, "/v1/content/%s", want);
    json_decref(api_call(&S.srv, 200, "GET", path, S.keys[PLATFORM_B], NULL));
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[PLATFORM], NULL);
    msg_free(&m);
}

static void test_report_refusals(void **state)
{
    (void)state;
    msg m;
    msg_init(&m, "An authentic message, to be tampered with.", "alice", "room-6");
    static const char file[] = "attachment bytes";
    msg_attach(&m, file, sizeof file - 1);
    msg_seal(&m);
    deliver(&m);
    char content_id[64], path[128];
    content_id_of(&m, content_id);
    snprintf(path, sizeof path, "/v1/content/%s", content_id);
    long long content_before = content_total(), log_before = log_size();
    double mismatch = metric("takedown_reports_refused_total{reason=\"mismatch\"}"),
           unknown = metric("takedown_reports_refused_total{reason=\"key_unknown\"}"),
           bad_sig = metric("takedown_reports_refused_total{reason=\"bad_signature\"}");

    /* One bit anywhere the frank covers: the text, the salt, the context, the frank itself. */
    msg x = m;
    x.text[3] ^= 1;
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "mismatch");
    x = m;
    x.salt[15] ^= 0x80;
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "mismatch");
    x = m;
    x.accepted_ms++;
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "mismatch");
    x = m;
    snprintf(x.sender, sizeof x.sender, "bob");
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "mismatch");
    x = m;
    snprintf(x.conv, sizeof x.conv, "room-7");
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "mismatch");
    x = m;
    x.frank[31] ^= 1;
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "mismatch");
    /* The frank is right but the signature is not the key's. */
    x = m;
    x.sig[5] ^= 4;
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "bad_signature");
    x = m;
    x.key_id = 4000;
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "key_unknown");
    /* The reporter swaps the attachment's key (or its bytes): the message's commitment no longer
     * matches. */
    x = m;
    x.atts[0].key[0] ^= 1;
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "mismatch");
    x = m;
    uint8_t *blob = malloc(m.atts[0].blob_len);
    memcpy(blob, m.atts[0].blob, m.atts[0].blob_len);
    blob[20] ^= 1;
    x.atts[0].blob = blob;
    expect_refused(&x, 1, 422, "frank_invalid", "messages[0]", "mismatch");
    free(blob);
    /* A good message next to a bad one: the whole report is refused, nothing stored. */
    msg pair[2];
    pair[0] = m;
    pair[1] = m;
    pair[1].text[0] ^= 1;
    expect_refused(pair, 2, 422, "frank_invalid", "messages[1]", "mismatch");

    /* A sender whose attachment does not open under the key its message commits to. */
    msg w;
    msg_init(&w, "look at this", "alice", "room-6");
    msg_attach(&w, file, sizeof file - 1);
    msg_attach_wrong(&w, file, sizeof file - 1);
    msg_seal(&w);
    deliver(&w);
    expect_refused(&w, 1, 422, "attachment_invalid", "messages[0].attachments[1]", NULL);

    /* None of it is stored: no content, no audit entry; only the counters moved. */
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[MODERATOR], NULL);
    assert_int_equal(content_total(), content_before);
    assert_int_equal(log_size(), log_before);
    /* 9 mismatches: six bits of what the frank covers, the attachment's key and bytes, the pair. */
    double now_mismatch = metric("takedown_reports_refused_total{reason=\"mismatch\"}");
    if (now_mismatch != mismatch + 9)
        fail_msg("mismatch refusals counted: %.0f, expected %.0f", now_mismatch - mismatch, 9.0);
    assert_true(metric("takedown_reports_refused_total{reason=\"key_unknown\"}") == unknown + 1);
    assert_true(metric("takedown_reports_refused_total{reason=\"bad_signature\"}") == bad_sig + 1);
    /* The authentic message is still reportable. */
    json_decref(report(PLATFORM, &m, 1, "bob"));
    json_decref(api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL));
    msg_free(&m);
    msg_free(&w);
}

/* One ciphertext that opens under two keys to two files (an "invisible salamander"): two
 * messages franked with it, each committing to one of the keys. The first report is accepted;
 * the second, whose attachment verifies under its own key, is refused because that ciphertext
 * was reported with the other key: otherwise a sender could show moderators one file and the
 * banks another, or a reporter pick the file. */
static void test_attachment_key_conflict(void **state)
{
    (void)state;
    static const char harmless[] = "a holiday photo", other[] = "the propaganda video";
    uint8_t k1[32], k2[32], nonce[12], *blob = NULL;
    size_t blob_len = 0;
    randombytes_buf(k1, sizeof k1);
    randombytes_buf(k2, sizeof k2);
    randombytes_buf(nonce, sizeof nonce);
    assert_int_equal(td_test_salamander(k1, k2, nonce, (const uint8_t *)harmless,
                                        sizeof harmless - 1, (const uint8_t *)other,
                                        sizeof other - 1, &blob, &blob_len),
                     0);
    /* Both keys open it: authentication alone cannot tell. */
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    td_frank_attachment_ref ref;
    td_error err;
    for (int k = 0; k < 2; k++) {
        crypto_hash_sha256(ref.blob_sha256, blob, blob_len);
        td_frank_key_commitment(k ? k2 : k1, ref.key_commitment);
        assert_int_equal(
            td_frank_attachment_open(&ref, k ? k2 : k1, blob, blob_len, &plain, &plain_len, &err),
            TD_OK);
        td_free(plain);
    }
    msg a, b;
    msg_init(&a, "see attached", "alice", "room-13");
    msg_attach_blob(&a, k1, blob, blob_len);
    msg_seal(&a);
    deliver(&a);
    msg_init(&b, "see attached", "alice", "room-14");
    msg_attach_blob(&b, k2, blob, blob_len);
    msg_seal(&b);
    deliver(&b);
    json_decref(report(PLATFORM, &a, 1, "bob"));
    long long log_before = log_size(), content_before = content_total();
    expect_refused(&b, 1, 409, "attachment_key_conflict", "messages[0].attachments[0]", NULL);
    assert_int_equal(log_size(), log_before);
    assert_int_equal(content_total(), content_before);
    /* The first report stands, and a second reporter of it still counts. */
    json_t *r = report(PLATFORM, &a, 1, "carol");
    assert_int_equal(api_jint(r, "reporters"), 2);
    json_decref(r);
    msg_free(&a);
    msg_free(&b);
    free(blob);
}

static void test_report_limits(void **state)
{
    (void)state;
    const char *P = S.keys[PLATFORM];
    static const struct {
        const char *body, *code, *field;
    } bad[] = {
        {"{\"reporter\": ", "malformed", ""},
        {"[1, 2]", "malformed", ""},
        {"{\"reporter\": \"bob\"}", "missing_field", "messages"},
        {"{\"reporter\": \"bob\", \"messages\": []}", "invalid_field", "messages"},
        {"{\"reporter\": \"bob\", \"messages\": [], \"extra\": 1}", "unknown_field", "extra"},
        {"{\"messages\": [{\"text\": \"x\"}]}", "missing_field", "reporter"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        api_expect_error_ex(&S.srv, 400, bad[i].code, bad[i].field, "POST", "/v1/reports", P,
                            bad[i].body, strlen(bad[i].body), NULL);
    api_expect_error(&S.srv, 403, "forbidden", "POST", "/v1/reports", S.keys[MODERATOR],
                     "{\"reporter\": \"bob\", \"messages\": []}");
    /* Eleven messages: over the limit of ten. */
    msg m;
    msg_init(&m, "eleven", "alice", "room-8");
    msg_seal(&m);
    deliver(&m);
    msg eleven[11];
    for (int i = 0; i < 11; i++)
        eleven[i] = m;
    char *body = report_body(eleven, 11, "bob", NULL);
    api_resp r;
    api_request rq = {"POST", "/v1/reports", P, "application/json", body, -1, 0, NULL};
    api_expect_error_req(&S.srv, 413, "too_large", "messages", &rq);
    free(body);
    long st;

    /* A body of 64 MiB + 1 byte: refused from its Content-Length, and the server keeps
     * serving. */
    size_t big = ((size_t)64 << 20) + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    huge[0] = '{', huge[big - 1] = '}';
    api_request hr = {"POST", "/v1/reports", P, "application/json", huge, (long)big, 0, NULL};
    api_expect_error_req(&S.srv, 413, "body_too_large", NULL, &hr);
    /* Chunked, without a length: cut off at the limit. */
    hr.chunked = 1;
    st = api_send(&S.srv, &hr, &r);
    if (st != 413 && st > 0)
        fail_msg("a chunked body over 64 MiB: %ld", st);
    api_resp_free(&r);
    free(huge);
    json_decref(api_call(&S.srv, 200, "GET", "/healthz", NULL, NULL));
    deliver(&m);
    json_decref(report(PLATFORM, &m, 1, "bob"));
}

static void test_block_bank(void **state)
{
    (void)state;
    static const char text[] = "This is the propaganda text the block bank holds, word for word.";
    json_decref(api_call(&S.srv, 201, "POST", "/v1/banks", S.keys[MODERATOR],
                         "{\"name\": \"E2EE_BLOCK\", \"action\": \"block\"}"));
    char body[256];
    snprintf(body, sizeof body, "{\"type\": \"raw_text\", \"value\": \"%s\"}", text);
    json_decref(
        api_call(&S.srv, 201, "POST", "/v1/banks/E2EE_BLOCK/signals", S.keys[MODERATOR], body));
    msg m;
    msg_init(&m, text, "mallet", "room-9");
    msg_seal(&m);
    deliver(&m);
    char content_id[64];
    content_id_of(&m, content_id);
    json_t *r = report(PLATFORM, &m, 1, "bob");
    assert_string_equal(api_jstr(r, "verdict"), "block");
    json_decref(r);
    /* The platform hears it at once: a remove event for that content id. */
    double until = api_now_s() + 20;
    while (!hooked("remove", content_id)) {
        if (api_now_s() > until)
            fail_msg("no remove event for %s", content_id);
        api_sleep_ms(50);
    }
    assert_int_equal(hooked("remove", content_id), 1);
    char path[128];
    snprintf(path, sizeof path, "/v1/content/%s", content_id);
    json_t *c = api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL);
    assert_string_equal(api_jstr(c, "verdict"), "block");
    assert_string_equal(api_jstr(json_array_get(json_object_get(c, "matches"), 0), "bank"),
                        "E2EE_BLOCK");
    json_decref(c);
}

/* Whether the list at path (GET /v1/reports...) holds report id, and where (-1: absent). */
static int list_position(const char *path, long long id)
{
    json_t *l = api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL);
    json_t *arr = json_object_get(l, "reports");
    assert_true(json_is_array(arr));
    int at = -1;
    long long prev = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        long long rid = api_jint(json_array_get(arr, i), "report_id");
        if (i)
            assert_true(rid < prev); /* newest first */
        prev = rid;
        if (rid == id)
            at = (int)i;
    }
    json_decref(l);
    return at;
}

static void test_review_copy(void **state)
{
    (void)state;
    msg m;
    msg_init(&m, "The text moderators read, and only they.", "alice", "room-10");
    static const char file[] = "a file attached to the message, decrypted for review";
    msg_attach(&m, file, sizeof file - 1);
    msg_seal(&m);
    deliver(&m);
    json_t *r = report(PLATFORM, &m, 1, "bob");
    long long id = api_jint(r, "report_id"), case_id = api_jint(r, "case_id");
    json_decref(r);
    /* The moderators' list: the newest report first while its copy is held. */
    assert_int_equal(list_position("/v1/reports?open=1", id), 0);
    assert_int_equal(list_position("/v1/reports", id), 0);
    assert_int_equal(list_position("/v1/reports?open=1&offset=1", id), -1);
    api_expect_error(&S.srv, 403, "forbidden", "GET", "/v1/reports", S.keys[PLATFORM], NULL);
    api_expect_error(&S.srv, 400, NULL, "GET", "/v1/reports?limit=1001", S.keys[MODERATOR], NULL);
    api_expect_error(&S.srv, 400, NULL, "GET", "/v1/reports?open=2", S.keys[MODERATOR], NULL);
    char text_path[96], att_path[96], path[96];
    snprintf(text_path, sizeof text_path, "/v1/reports/%lld/text", id);
    snprintf(att_path, sizeof att_path, "/v1/reports/%lld/attachments/0", id);

    long long before = log_size();
    api_resp a;
    assert_int_equal(api_http(&S.srv, "GET", text_path, S.keys[MODERATOR], NULL, &a), 200);
    assert_string_equal(a.ctype, "text/plain; charset=utf-8");
    assert_int_equal(a.len, strlen(m.text));
    assert_memory_equal(a.body, m.text, a.len);
    api_resp_free(&a);
    assert_int_equal(api_http(&S.srv, "GET", att_path, S.keys[ADMIN], NULL, &a), 200);
    assert_string_equal(a.ctype, "application/octet-stream");
    assert_int_equal(a.len, sizeof file - 1);
    assert_memory_equal(a.body, file, a.len);
    api_resp_free(&a);
    /* Each read is an entry naming the reader. */
    assert_int_equal(log_count(before, "report.read", S.names[MODERATOR], NULL), 1);
    assert_int_equal(log_count(before, "report.read", S.names[ADMIN], NULL), 1);
    /* Platforms and auditors do not read it; indexes past the message's are 404. */
    for (int k = PLATFORM; k < N_KEYS; k++)
        if (k != MODERATOR)
            api_expect_error(&S.srv, 403, "forbidden", "GET", text_path, S.keys[k], NULL);
    snprintf(path, sizeof path, "/v1/reports/%lld/attachments/1", id);
    api_expect_error(&S.srv, 404, NULL, "GET", path, S.keys[MODERATOR], NULL);
    snprintf(path, sizeof path, "/v1/reports/%lld/attachments/16", id);
    api_expect_error(&S.srv, 404, NULL, "GET", path, S.keys[MODERATOR], NULL);
    snprintf(path, sizeof path, "/v1/reports/%lld/attachments/x", id);
    api_expect_error(&S.srv, 400, "invalid_id", "GET", path, S.keys[MODERATOR], NULL);
    api_expect_error(&S.srv, 404, NULL, "GET", "/v1/reports/999999/text", S.keys[MODERATOR], NULL);

    /* The moderator keeps it: the case closes and the review copy is gone. */
    snprintf(path, sizeof path, "/v1/cases/%lld/decision", case_id);
    json_decref(api_call(&S.srv, 201, "POST", path, S.keys[MODERATOR],
                         "{\"decision\": \"keep\", \"reason\": \"not terrorist content\"}"));
    api_expect_error(&S.srv, 404, "not_found", "GET", text_path, S.keys[MODERATOR], NULL);
    api_expect_error(&S.srv, 404, "not_found", "GET", att_path, S.keys[MODERATOR], NULL);
    /* Off the open list at once, still in the whole list. */
    assert_int_equal(list_position("/v1/reports?open=1", id), -1);
    assert_true(list_position("/v1/reports", id) >= 0);
    /* The copy itself is deleted by the reports thread (every 2 s on the server), with an
     * entry. */
    snprintf(path, sizeof path, "/v1/reports/%lld", id);
    double until = api_now_s() + 40;
    for (;;) {
        json_t *t = api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL);
        int held = json_is_true(json_object_get(t, "review_copy"));
        json_decref(t);
        if (!held)
            break;
        if (api_now_s() > until)
            fail_msg("report %lld: the review copy is still held 40 s after the decision", id);
        api_sleep_ms(200);
    }
    char object[48];
    snprintf(object, sizeof object, "report:%lld", id);
    assert_int_equal(log_count(before, "report.copy_deleted", "system", object), 1);
    msg_free(&m);
}

/* A moderator removes a reported message: the platform gets the remove event, the report is
 * sealed as evidence (record and attachment) by the reports thread, its review copy deleted. */
static void test_removal_sealed(void **state)
{
    (void)state;
    msg m;
    msg_init(&m, "A message a moderator will remove.", "alice", "room-15");
    static const char file[] = "the attachment sealed with it";
    msg_attach(&m, file, sizeof file - 1);
    msg_seal(&m);
    deliver(&m);
    char content_id[64], path[128];
    content_id_of(&m, content_id);
    json_t *r = report(PLATFORM, &m, 1, "bob");
    long long id = api_jint(r, "report_id"), case_id = api_jint(r, "case_id");
    json_decref(r);
    long long before = log_size();
    snprintf(path, sizeof path, "/v1/cases/%lld/decision", case_id);
    json_decref(api_call(&S.srv, 201, "POST", path, S.keys[MODERATOR],
                         "{\"decision\": \"remove\", \"reason\": \"terrorist content\"}"));
    double until = api_now_s() + 40;
    while (!hooked("remove", content_id)) {
        if (api_now_s() > until)
            fail_msg("no remove event for %s", content_id);
        api_sleep_ms(50);
    }
    snprintf(path, sizeof path, "/v1/reports/%lld", id);
    json_t *t = NULL;
    for (;;) {
        t = api_call(&S.srv, 200, "GET", path, S.keys[MODERATOR], NULL);
        if (json_is_integer(json_object_get(t, "evidence_item")) &&
            json_is_false(json_object_get(t, "review_copy")))
            break;
        json_decref(t);
        if (api_now_s() > until)
            fail_msg("report %lld is not sealed 40 s after its removal", id);
        api_sleep_ms(200);
    }
    assert_true(api_jint(t, "evidence_item") >= 1);
    json_decref(t);
    char object[48];
    snprintf(object, sizeof object, "report:%lld", id);
    assert_int_equal(log_count(before, "report.preserved", "system", object), 1);
    /* The evidence case holds the record and the attachment (metadata only here). */
    snprintf(path, sizeof path, "/v1/evidence/cases/report-%lld", id);
    json_t *c = api_call(&S.srv, 200, "GET", path, S.keys[ADMIN], NULL);
    assert_int_equal(json_array_size(json_object_get(c, "items")), 2);
    json_decref(c);
    snprintf(path, sizeof path, "/v1/reports/%lld/text", id);
    api_expect_error(&S.srv, 404, "not_found", "GET", path, S.keys[MODERATOR], NULL);
    msg_free(&m);
}

static void test_key_rotation(void **state)
{
    (void)state;
    msg old;
    msg_init(&old, "franked before the rotation", "alice", "room-11");
    msg_seal(&old);
    deliver(&old);
    long long log_before = log_size();
    /* A body (say, a retention the route does not take) is refused, nothing rotated. */
    api_expect_error_body(&S.srv, 400, "unexpected_body", "POST", "/v1/frank/keys/rotate",
                          S.keys[ADMIN], "application/json", "{\"retention_ms\": 1}", -1);
    assert_int_equal(log_count(log_before, "frank.key_rotated", NULL, NULL), 0);
    json_t *k = api_call(&S.srv, 201, "POST", "/v1/frank/keys/rotate", S.keys[ADMIN], NULL);
    long long new_id = api_jint(k, "key_id");
    assert_true(new_id > old.key_id);
    assert_string_equal(api_jstr(k, "state"), "current");
    assert_string_equal(api_jstr(k, "algorithm"), "Ed25519");
    assert_true(json_is_null(json_object_get(k, "retired_ms")));
    json_decref(k);
    assert_int_equal(log_count(log_before, "frank.key_rotated", S.names[ADMIN], NULL), 1);
    /* The list: oldest first, one current key, the old one retired with its destruction
     * time. */
    json_t *j = api_call(&S.srv, 200, "GET", "/v1/frank/keys", NULL, NULL);
    json_t *keys = json_object_get(j, "keys");
    int current = 0;
    long long prev = 0;
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *e = json_array_get(keys, i);
        assert_true(api_jint(e, "key_id") > prev);
        prev = api_jint(e, "key_id");
        current += strcmp(api_jstr(e, "state"), "current") == 0;
        if (api_jint(e, "key_id") == old.key_id) {
            assert_string_equal(api_jstr(e, "state"), "retired");
            assert_true(api_jint(e, "retired_ms") > 0);
            assert_true(api_jint(e, "destroy_ms") > api_jint(e, "retired_ms"));
        }
    }
    assert_int_equal(current, 1);
    assert_int_equal(prev, new_id);
    json_decref(j);
    /* New franks are the new key's; the old key's message still verifies (retention). */
    msg fresh;
    msg_init(&fresh, "franked after the rotation", "alice", "room-11");
    msg_seal(&fresh);
    deliver(&fresh);
    assert_int_equal(fresh.key_id, new_id);
    json_decref(report(PLATFORM, &old, 1, "bob"));
    json_decref(report(PLATFORM, &fresh, 1, "bob"));
    /* A proof under the old key does not pass for the new one. */
    msg forged = old;
    forged.key_id = new_id;
    expect_refused(&forged, 1, 422, "frank_invalid", "messages[0]", NULL);
}

static void test_metrics(void **state)
{
    (void)state;
    double franked = metric("takedown_frank_total"),
           verified = metric("takedown_reports_verified_total");
    assert_true(franked >= 1000);
    assert_true(verified >= 1);
    static const char *const reasons[] = {"attachment", "key_unknown", "key_destroyed", "mismatch",
                                          "bad_signature"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "takedown_reports_refused_total{reason=\"%s\"}", reasons[i]);
        assert_true(metric(name) >= 0);
    }
    msg m;
    msg_init(&m, "counted", "alice", "room-12");
    msg_seal(&m);
    deliver(&m);
    assert_true(metric("takedown_frank_total") == franked + 1);
    json_decref(report(PLATFORM, &m, 1, "bob"));
    assert_true(metric("takedown_reports_verified_total") == verified + 1);
}

/* ---- docs/e2ee.md ---- */

/* The example message of the page, and its tag computed here (OpenSSL's HMAC over the format's
 * bytes): the page must show these values. */
#define DOC_TEXT "Meet at the north gate at noon, bring the banners."
#define DOC_SALT "9f2c1e4b7a0d3f5e8c6b2a1d4e7f0c3b"
#define DOC_HOST "http://127.0.0.1:8080"

static struct {
    char key_id[32], frank[65], signature[129], report_id[32];
} V;

/* What the page's variables stand for: the keys and the values earlier answers gave. */
static const char *doc_variable(const char *p, size_t *skip, void *ctx)
{
    const struct {
        const char *name, *value;
    } vars[] = {
        {"$PLATFORM_KEY", S.keys[PLATFORM]},
        {"$ADMIN_KEY", S.keys[ADMIN]},
        {"$MODERATOR_KEY", S.keys[MODERATOR]},
        {"$KEY_ID", V.key_id},
        {"$FRANK", V.frank},
        {"$SIGNATURE", V.signature},
        {"$REPORT_ID", V.report_id},
    };
    (void)ctx;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        size_t n = doc_shell_match(p, vars[i].name);
        if (n) {
            if (!vars[i].value[0])
                fail_msg("docs/e2ee.md uses %s before an answer gave it", vars[i].name);
            *skip = n;
            return vars[i].value;
        }
    }
    return NULL;
}

/* What later commands use. */
static void doc_after(void *ctx, const char *method, const char *url, long st, json_t *real_j,
                      const char *raw, size_t raw_len)
{
    (void)ctx;
    (void)method;
    (void)raw;
    (void)raw_len;
    if (strcmp(url, "/v1/frank") == 0 && st == 200 && api_jstr(real_j, "frank") && !V.frank[0]) {
        snprintf(V.key_id, sizeof V.key_id, "%lld", (long long)api_jint(real_j, "key_id"));
        snprintf(V.frank, sizeof V.frank, "%s", api_jstr(real_j, "frank"));
        snprintf(V.signature, sizeof V.signature, "%s", api_jstr(real_j, "signature"));
    }
    if (strcmp(url, "/v1/reports") == 0 && st == 201 && !V.report_id[0])
        snprintf(V.report_id, sizeof V.report_id, "%lld",
                 (long long)api_jint(json_array_get(json_object_get(real_j, "reports"), 0),
                                     "report_id"));
}

static void test_doc_examples(void **state)
{
    (void)state;
    /* The page's example tag is the one a client computes. */
    size_t len;
    char *md = (char *)read_all(TD_SOURCE_DIR "/docs/e2ee.md", &len);
    md[len] = '\0';
    msg m;
    memset(&m, 0, sizeof m);
    snprintf(m.text, sizeof m.text, "%s", DOC_TEXT);
    unhex(DOC_SALT, m.salt, 16);
    msg_seal(&m);
    char tag[65];
    hex(m.tag, 32, tag);
    assert_non_null(strstr(md, DOC_TEXT));
    assert_non_null(strstr(md, DOC_SALT));
    if (!strstr(md, tag))
        fail_msg("docs/e2ee.md does not show the example's tag %s", tag);

    doc_replay d = {&S.srv, "docs/e2ee.md", DOC_HOST, doc_variable, NULL, doc_after, 0, 0};
    int replayed = doc_replay_page(&d, NULL);
    free(md);
    print_message("replayed %d commands of docs/e2ee.md\n", replayed);
    assert_true(replayed >= 9);
    /* The example report's message is the page's, verified: its text is the review copy. */
    assert_true(V.report_id[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: the page shows a fresh server (one key, current). */
        cmocka_unit_test(test_doc_examples),
        cmocka_unit_test(test_frank_single_and_batch),
        cmocka_unit_test(test_frank_refusals),
        cmocka_unit_test(test_frank_roles),
        cmocka_unit_test(test_report_flow),
        cmocka_unit_test(test_report_refusals),
        cmocka_unit_test(test_attachment_key_conflict),
        cmocka_unit_test(test_report_limits),
        cmocka_unit_test(test_block_bank),
        cmocka_unit_test(test_review_copy),
        cmocka_unit_test(test_removal_sealed),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
