/* A messaging server that franks what it delivers, with libtakedown's public API only
 * (takedown/frank.h; docs/franking.md walks through it).
 *
 *   1. the server makes its franking key and keeps it in a key ring (a real server persists the
 *      key and publishes its public half: GET /v1/frank/keys);
 *   2. a client sends a message: inside the end-to-end encryption it puts a random salt and the
 *      franking tag, HMAC-SHA256(salt, message); the server sees only the tag;
 *   3. at delivery the server franks the tag with the sender, the conversation and the time it
 *      accepted the message, and hands the frank and its signature to the recipient;
 *   4. the recipient checks the signature with the published key;
 *   5. the recipient reports the message: the server verifies it (and refuses a forged one);
 *   6. the key is rotated, then destroyed at the end of its retention: the old report no longer
 *      verifies.
 *
 * Built and run by the project's build as the ctest entry example_frank_server; outside the
 * tree see examples/README.md. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <takedown/frank.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(const char *what, const td_error *err)
{
    fprintf(stderr, "frank_server: %s: %s\n", what, err ? err->message : "");
    return 1;
}

int main(void)
{
    td_error err;
    td_frank_keyring *ring = NULL;
    td_frank_key key;
    int rc = 1;

    /* 1. The server's key, id 1, in its key ring. */
    if (td_frank_keyring_new(&ring, &err) != TD_OK)
        return fail("key ring", &err);
    if (td_frank_key_generate(1, now_ms(), &key, &err) != TD_OK ||
        td_frank_keyring_put(ring, &key, &err) != TD_OK) {
        fail("key", &err);
        goto out;
    }
    uint8_t published[TD_FRANK_PUBKEY_LEN]; /* what GET /v1/frank/keys would return */
    memcpy(published, key.sign_public, sizeof published);
    td_frank_key_wipe(&key); /* the ring keeps its own copy */

    /* 2. The client: a fresh salt and the tag of the exact message bytes. */
    const char *message = "Meet me at the station at noon.";
    uint8_t salt[TD_FRANK_SALT_LEN], tag[TD_FRANK_TAG_LEN];
    if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt) {
        fail("getrandom", NULL);
        goto out;
    }
    td_frank_tag(salt, (const uint8_t *)message, strlen(message), tag);

    /* 3. Delivery: the server franks the tag in its context. Nothing is stored. */
    td_frank_context ctx = {"alice", 5, "room-1", 6, now_ms()};
    td_frank_proof proof;
    if (td_frank_keyring_issue(ring, tag, &ctx, &proof, &err) != TD_OK) {
        fail("frank", &err);
        goto out;
    }
    printf("franked with key %u\n", proof.key_id);

    /* 4. The recipient recomputes the tag from what it decrypted and checks the signature. */
    uint8_t check[TD_FRANK_TAG_LEN];
    td_frank_tag(salt, (const uint8_t *)message, strlen(message), check);
    if (memcmp(check, tag, sizeof tag) != 0 ||
        td_frank_verify_signature(published, check, &ctx, &proof, &err) != TD_OK) {
        fail("recipient's check", &err);
        goto out;
    }
    printf("recipient: signature valid\n");

    /* 5. A report: the plaintext, the salt, the context and the proof come back. */
    td_frank_failure why;
    if (td_frank_keyring_verify(ring, salt, (const uint8_t *)message, strlen(message), &ctx, &proof,
                                &why, &err) != TD_OK) {
        fail("report", &err);
        goto out;
    }
    printf("report: %s\n", td_frank_failure_name(why));
    const char *forged = "Meet me at the station at one.";
    if (td_frank_keyring_verify(ring, salt, (const uint8_t *)forged, strlen(forged), &ctx, &proof,
                                &why, &err) != TD_ERR_INVALID) {
        fail("a forged report was accepted", NULL);
        goto out;
    }
    printf("forged report: %s (%s)\n", td_frank_failure_name(why), err.message);

    /* 6. Rotation: a new current key first, then the old one retired; it still verifies. */
    td_frank_key next, old;
    int64_t t = now_ms();
    if (td_frank_key_generate(2, t, &next, &err) != TD_OK ||
        td_frank_keyring_put(ring, &next, &err) != TD_OK ||
        td_frank_keyring_get(ring, 1, &old, &err) != TD_OK) {
        fail("rotation", &err);
        goto out;
    }
    td_frank_key_wipe(&next);
    old.retired_ms = t;
    old.destroy_ms = t + 90LL * 24 * 3600 * 1000; /* 90 days of retention */
    if (td_frank_keyring_put(ring, &old, &err) != TD_OK ||
        td_frank_keyring_verify(ring, salt, (const uint8_t *)message, strlen(message), &ctx, &proof,
                                &why, &err) != TD_OK) {
        fail("report after rotation", &err);
        goto out;
    }
    printf("after rotation: %s\n", td_frank_failure_name(why));
    /* At destroy_ms the secrets go: what key 1 franked no longer verifies. */
    td_frank_key_wipe(&old);
    if (td_frank_keyring_put(ring, &old, &err) != TD_OK) {
        fail("destruction", &err);
        goto out;
    }
    if (td_frank_keyring_verify(ring, salt, (const uint8_t *)message, strlen(message), &ctx, &proof,
                                &why, &err) != TD_ERR_INVALID ||
        why != TD_FRANK_KEY_DESTROYED) {
        fail("a destroyed key still verified", NULL);
        goto out;
    }
    printf("after destruction: %s\n", td_frank_failure_name(why));
    rc = 0;
out:
    td_frank_keyring_free(ring);
    return rc;
}
