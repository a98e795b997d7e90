/* The key ring: every server key the caller has (current, retired within retention, destroyed),
 * oldest first, in libsodium's guarded memory (locked, wiped when freed). Franking and
 * verification take the read lock and run on the key in place, so the secrets never leave the
 * ring for them; putting a key (creation, rotation, destruction) takes the write lock, preferred
 * over readers so that a steady stream of verifications cannot hold a rotation back. A destroyed
 * key stays destroyed: putting its id again with secrets is refused. */
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "frank/frank_int.h"

struct td_frank_keyring {
    pthread_rwlock_t lock;
    td_frank_key *keys; /* sodium_allocarray(cap), sorted by (created_ms, id) */
    size_t n, cap;
};

td_status td_frank_keyring_new(td_frank_keyring **out, td_error *err)
{
    pthread_rwlockattr_t attr;
    if (!out)
        return td__error_set(err, TD_ERR_INVALID, "keyring: missing output");
    *out = NULL;
    td_status st = td__frank_sodium(err);
    if (st != TD_OK)
        return st;
    td_frank_keyring *ring = td__calloc(1, sizeof *ring);
    if (!ring)
        return td__error_set(err, TD_ERR_NOMEM, "keyring: out of memory");
    if (pthread_rwlockattr_init(&attr) != 0) {
        td__free(ring);
        return td__error_set(err, TD_ERR_INTERNAL, "keyring: no lock attributes");
    }
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&ring->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        td__free(ring);
        return td__error_set(err, TD_ERR_INTERNAL, "keyring: no lock");
    }
    *out = ring;
    return TD_OK;
}

void td_frank_keyring_free(td_frank_keyring *ring)
{
    if (!ring)
        return;
    if (ring->keys)
        sodium_free(ring->keys); /* zeroes the memory before releasing it */
    pthread_rwlock_destroy(&ring->lock);
    td__free(ring);
}

static int older(const td_frank_key *a, const td_frank_key *b)
{
    return a->created_ms < b->created_ms || (a->created_ms == b->created_ms && a->id < b->id);
}

static td_frank_key *find(td_frank_keyring *ring, uint32_t id)
{
    for (size_t i = 0; i < ring->n; i++)
        if (ring->keys[i].id == id)
            return &ring->keys[i];
    return NULL;
}

/* The newest key neither retired nor destroyed, NULL if none. */
static td_frank_key *current(td_frank_keyring *ring)
{
    for (size_t i = ring->n; i-- > 0;)
        if (!ring->keys[i].retired_ms && !ring->keys[i].destroyed)
            return &ring->keys[i];
    return NULL;
}

/* Room for one more key: guarded memory cannot be reallocated, so a bigger array is made, the
 * keys copied and the old array freed (which wipes it). */
static td_status grow(td_frank_keyring *ring, td_error *err)
{
    if (ring->n < ring->cap)
        return TD_OK;
    size_t cap = ring->cap ? ring->cap * 2 : 8;
    if (cap > TD_FRANK_KEYS_MAX)
        cap = TD_FRANK_KEYS_MAX;
    td_frank_key *keys = sodium_allocarray(cap, sizeof *keys);
    if (!keys)
        return td__error_set(err, TD_ERR_NOMEM, "keyring: out of memory");
    if (ring->n)
        memcpy(keys, ring->keys, ring->n * sizeof *keys);
    if (ring->keys)
        sodium_free(ring->keys);
    ring->keys = keys;
    ring->cap = cap;
    return TD_OK;
}

td_status td_frank_keyring_put(td_frank_keyring *ring, const td_frank_key *key, td_error *err)
{
    if (!ring || !key)
        return td__error_set(err, TD_ERR_INVALID, "keyring: missing argument");
    if (key->id == 0)
        return td__error_set(err, TD_ERR_INVALID, "key: id 0 is never a key");
    td_status st = TD_OK;
    pthread_rwlock_wrlock(&ring->lock);
    td_frank_key *old = find(ring, key->id);
    if (old && old->destroyed && !key->destroyed) {
        /* Crypto-shredding holds only if a destroyed key never comes back. */
        st = td__error_set(err, TD_ERR_CONFLICT, "key %u: destroyed; it cannot be put back",
                           key->id);
    } else if (old) { /* replaced: taken out, put back at its place in the order */
        size_t i = (size_t)(old - ring->keys);
        sodium_memzero(old, sizeof *old);
        memmove(old, old + 1, (ring->n - i - 1) * sizeof *old);
        ring->n--;
        sodium_memzero(&ring->keys[ring->n], sizeof *old);
    } else if (ring->n == TD_FRANK_KEYS_MAX) {
        st = td__error_set(err, TD_ERR_LIMIT, "keyring: more than %d keys", TD_FRANK_KEYS_MAX);
    } else {
        st = grow(ring, err);
    }
    if (st == TD_OK) {
        size_t at = ring->n;
        while (at > 0 && older(key, &ring->keys[at - 1]))
            at--;
        memmove(&ring->keys[at + 1], &ring->keys[at], (ring->n - at) * sizeof *key);
        ring->keys[at] = *key;
        if (key->destroyed) /* a destroyed key keeps no secret, whatever the caller passed */
            td_frank_key_wipe(&ring->keys[at]);
        ring->n++;
    }
    pthread_rwlock_unlock(&ring->lock);
    return st;
}

td_status td_frank_keyring_get(td_frank_keyring *ring, uint32_t id, td_frank_key *out,
                               td_error *err)
{
    if (!ring || !out)
        return td__error_set(err, TD_ERR_INVALID, "keyring: missing argument");
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&ring->lock);
    const td_frank_key *k = id ? find(ring, id) : current(ring);
    if (k)
        *out = *k;
    pthread_rwlock_unlock(&ring->lock);
    if (!k)
        return id ? td__error_set(err, TD_ERR_NOT_FOUND, "key %u: unknown", id)
                  : td__error_set(err, TD_ERR_NOT_FOUND, "keyring: no current key");
    return TD_OK;
}

td_status td_frank_keyring_issue(td_frank_keyring *ring, const uint8_t tag[TD_FRANK_TAG_LEN],
                                 const td_frank_context *ctx, td_frank_proof *out, td_error *err)
{
    if (!ring)
        return td__error_set(err, TD_ERR_INVALID, "keyring: missing argument");
    pthread_rwlock_rdlock(&ring->lock);
    const td_frank_key *k = current(ring);
    td_status st = k ? td_frank_issue(k, tag, ctx, out, err)
                     : td__error_set(err, TD_ERR_NOT_FOUND, "keyring: no current key");
    pthread_rwlock_unlock(&ring->lock);
    if (!k && out)
        memset(out, 0, sizeof *out);
    return st;
}

td_status td_frank_keyring_verify(td_frank_keyring *ring, const uint8_t salt[TD_FRANK_SALT_LEN],
                                  const uint8_t *msg, size_t len, const td_frank_context *ctx,
                                  const td_frank_proof *proof, td_frank_failure *why, td_error *err)
{
    if (why)
        *why = TD_FRANK_BAD_INPUT;
    if (!ring || !proof)
        return td__error_set(err, TD_ERR_INVALID, "keyring: missing argument");
    pthread_rwlock_rdlock(&ring->lock);
    /* No key: td_frank_verify checks the input first, then answers TD_FRANK_KEY_UNKNOWN. */
    td_status st = td_frank_verify(find(ring, proof->key_id), salt, msg, len, ctx, proof, why, err);
    pthread_rwlock_unlock(&ring->lock);
    return st;
}

td_status td_frank_keyring_list(td_frank_keyring *ring, td_frank_key **out, size_t *count,
                                td_error *err)
{
    if (out)
        *out = NULL;
    if (count)
        *count = 0;
    if (!ring || !out || !count)
        return td__error_set(err, TD_ERR_INVALID, "keyring: missing argument");
    td_status st = TD_OK;
    pthread_rwlock_rdlock(&ring->lock);
    if (ring->n) {
        td_frank_key *list = td__mallocarray(ring->n, sizeof *list);
        if (!list) {
            st = td__error_set(err, TD_ERR_NOMEM, "keyring: out of memory");
        } else {
            for (size_t i = 0; i < ring->n; i++) { /* the public fields, never the secrets */
                const td_frank_key *k = &ring->keys[i];
                memset(&list[i], 0, sizeof list[i]);
                list[i].id = k->id;
                memcpy(list[i].sign_public, k->sign_public, sizeof k->sign_public);
                list[i].created_ms = k->created_ms;
                list[i].retired_ms = k->retired_ms;
                list[i].destroy_ms = k->destroy_ms;
                list[i].destroyed = k->destroyed;
            }
            *out = list;
            *count = ring->n;
        }
    }
    pthread_rwlock_unlock(&ring->lock);
    return st;
}
