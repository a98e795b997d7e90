/* Authentication: `Authorization: Bearer <key>`, verified by the service (which stores only the
 * keys' SHA-256). A small direct-mapped cache keyed by the SHA-256 of the presented key keeps
 * verified principals for TD__AUTH_CACHE_SECONDS: the cache never holds a key's text, and a
 * wrong key is never cached, so guessing costs a store lookup every time. */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "server/auth.h"

#define CACHE_SLOTS 64

typedef struct slot {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    td_principal who;
    double expires;
    int used;
} slot;

struct td__auth_cache {
    pthread_mutex_t lock;
    slot slots[CACHE_SLOTS];
};

td__auth_cache *td__auth_cache_new(void)
{
    td__auth_cache *c = td__calloc(1, sizeof *c);
    if (c)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void td__auth_cache_free(td__auth_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    OPENSSL_cleanse(c->slots, sizeof c->slots);
    td__free(c);
}

void td__auth_cache_clear(td__auth_cache *c)
{
    pthread_mutex_lock(&c->lock);
    memset(c->slots, 0, sizeof c->slots);
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
    default: return 0;
    }
}

static int cache_get(td__auth_cache *c, const unsigned char *digest, td_principal *out)
{
    int hit = 0;
    slot *s = &c->slots[digest[0] % CACHE_SLOTS];
    pthread_mutex_lock(&c->lock);
    if (s->used && s->expires > td__srv_now() &&
        CRYPTO_memcmp(s->digest, digest, sizeof s->digest) == 0) {
        *out = s->who;
        hit = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void cache_put(td__auth_cache *c, const unsigned char *digest, const td_principal *who)
{
    slot *s = &c->slots[digest[0] % CACHE_SLOTS];
    pthread_mutex_lock(&c->lock);
    memcpy(s->digest, digest, sizeof s->digest);
    s->who = *who;
    s->expires = td__srv_now() + TD__AUTH_CACHE_SECONDS;
    s->used = 1;
    pthread_mutex_unlock(&c->lock);
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
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, len, digest);
    td_principal who;
    if (!cache_get(r->srv->auth, digest, &who)) {
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
        cache_put(r->srv->auth, digest, &who);
    }
    r->who = who;
    r->role_bit = td__role_bit(who.role);
    return 1;
}
