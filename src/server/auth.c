/* Authentication: `Authorization: Bearer <key>`, verified by the service (which stores only the
 * keys' SHA-256). A small direct-mapped cache keeps verified principals for
 * TD__AUTH_CACHE_SECONDS, found by a keyed BLAKE2b digest of the presented key (the digest key is
 * random per process): the cache never holds a key's text nor anything that confirms a guess
 * offline, and a wrong key is never cached, so guessing costs a store lookup every time. The
 * digest is libsodium's: OpenSSL 3's one-shot SHA256() looks its algorithm up on every call,
 * which cost more than the rest of authentication on the upload path.
 *
 * Revocation: a lookup that misses takes the cache's generation before asking the store, and its
 * answer is stored only if no clear happened in between, so a key verified just before a
 * revocation cannot come back into the cache after td__auth_cache_clear. */
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "server/auth.h"

#define CACHE_SLOTS 64
#define DIGEST_BYTES 32

typedef struct slot {
    unsigned char digest[DIGEST_BYTES];
    td_principal who;
    double expires;
    int used;
} slot;

struct td__auth_cache {
    pthread_mutex_t lock;
    uint64_t generation; /* under lock: clears so far */
    unsigned char mac_key[crypto_generichash_KEYBYTES];
    slot slots[CACHE_SLOTS];
};

td__auth_cache *td__auth_cache_new(void)
{
    if (sodium_init() < 0)
        return NULL;
    td__auth_cache *c = td__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    randombytes_buf(c->mac_key, sizeof c->mac_key);
    return c;
}

void td__auth_cache_free(td__auth_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    sodium_memzero(c, sizeof *c);
    td__free(c);
}

void td__auth_cache_clear(td__auth_cache *c)
{
    pthread_mutex_lock(&c->lock);
    c->generation++;
    sodium_memzero(c->slots, sizeof c->slots);
    pthread_mutex_unlock(&c->lock);
}

static void key_digest(const td__auth_cache *c, const char *key, size_t len,
                       unsigned char out[DIGEST_BYTES])
{
    crypto_generichash(out, DIGEST_BYTES, (const unsigned char *)key, len, c->mac_key,
                       sizeof c->mac_key);
}

int td__auth_cache_get(td__auth_cache *c, const char *key, size_t len, double now,
                       td_principal *who, uint64_t *gen)
{
    unsigned char digest[DIGEST_BYTES];
    int hit = 0;
    key_digest(c, key, len, digest);
    slot *s = &c->slots[digest[0] % CACHE_SLOTS];
    pthread_mutex_lock(&c->lock);
    if (s->used && s->expires > now && sodium_memcmp(s->digest, digest, sizeof digest) == 0) {
        *who = s->who;
        hit = 1;
    }
    *gen = c->generation;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void td__auth_cache_put(td__auth_cache *c, const char *key, size_t len, double now,
                        const td_principal *who, uint64_t gen)
{
    unsigned char digest[DIGEST_BYTES];
    key_digest(c, key, len, digest);
    slot *s = &c->slots[digest[0] % CACHE_SLOTS];
    pthread_mutex_lock(&c->lock);
    if (c->generation == gen) {
        memcpy(s->digest, digest, sizeof digest);
        s->who = *who;
        s->expires = now + TD__AUTH_CACHE_SECONDS;
        s->used = 1;
    }
    pthread_mutex_unlock(&c->lock);
}

unsigned td__role_bit(td_role role)
{
    switch (role) {
    case TD_ROLE_ADMIN: return TD__R_ADMIN;
    case TD_ROLE_MODERATOR: return TD__R_MODERATOR;
    case TD_ROLE_PLATFORM: return TD__R_PLATFORM;
    case TD_ROLE_AUDITOR: return TD__R_AUDITOR;
    case TD_ROLE_AUTHORITY: return TD__R_AUTHORITY;
    case TD_ROLE_CUSTODIAN: return TD__R_CUSTODIAN;
    case TD_ROLE_LEGAL: return TD__R_LEGAL;
    case TD_ROLE_PEER: return TD__R_PEER;
    default: return 0;
    }
}

int td__authenticate(td__req *r, const char *header)
{
    static const char bearer[] = "Bearer ";
    if (!header || !*header) {
        td__reply_error(r, 401, "unauthenticated",
                        "an 'Authorization: Bearer <key>' header is "
                        "required");
        return 0;
    }
    if (strncasecmp(header, bearer, sizeof bearer - 1) != 0) {
        td__reply_error(r, 401, "unauthenticated",
                        "the Authorization header must be "
                        "'Bearer <key>'");
        return 0;
    }
    const char *key = header + sizeof bearer - 1;
    while (*key == ' ')
        key++;
    size_t len = strlen(key);
    if (len == 0 || len > TD_KEY_TEXT_LEN * 2) {
        td__reply_error(r, 401, "unauthenticated", "invalid API key");
        return 0;
    }
    td_principal who;
    uint64_t gen;
    if (!td__auth_cache_get(r->srv->auth, key, len, td__srv_now(), &who, &gen)) {
        td_error err;
        td_status st = td_key_verify(r->svc, key, &who, &err);
        if (st == TD_ERR_NOT_FOUND || st == TD_ERR_INVALID) {
            td__reply_error(r, 401, "unauthenticated", "invalid or revoked API key");
            return 0;
        }
        if (st != TD_OK) {
            td__reply_status(r, st, &err);
            return 0;
        }
        td__auth_cache_put(r->srv->auth, key, len, td__srv_now(), &who, gen);
    }
    r->who = who;
    r->role_bit = td__role_bit(who.role);
    return 1;
}
