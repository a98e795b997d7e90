/* Bearer-key authentication with a short-lived cache, so that the upload path's checks do not
 * each cost a database read. */
#ifndef TD_SERVER_AUTH_H
#define TD_SERVER_AUTH_H

#include <stdint.h>

#include "server/server_int.h"

/* How long a verified key is trusted without asking the store again. A revocation through this
 * server's API takes effect at once (td__auth_cache_clear); one made elsewhere (the CLI next to a
 * running server, another node) takes effect within this time. */
#define TD__AUTH_CACHE_SECONDS 2.0

typedef struct td__auth_cache td__auth_cache;

td__auth_cache *td__auth_cache_new(void);
void td__auth_cache_free(td__auth_cache *c);
/* Forgets every cached key and refuses what lookups that began before it would store, so that a
 * key verified just before a revocation is not cached after it. Called after the revocation is
 * committed. */
void td__auth_cache_clear(td__auth_cache *c);

/* The cache itself (also used by the tests): a lookup of the presented key text at time now
 * (seconds, td__srv_now's clock). A hit fills *who and returns 1; a miss returns 0 and sets *gen,
 * the value td__auth_cache_put needs to store what the store then verified. */
int td__auth_cache_get(td__auth_cache *c, const char *key, size_t len, double now,
                       td_principal *who, uint64_t *gen);
/* Stores a verified principal unless the cache was cleared since the lookup that gave gen. */
void td__auth_cache_put(td__auth_cache *c, const char *key, size_t len, double now,
                        const td_principal *who, uint64_t gen);

/* Verifies the Authorization header value; fills r->who and r->role_bit, or replies 401 and
 * returns 0. */
int td__authenticate(td__req *r, const char *header);

/* The role bit of a library role (0 for roles no route admits yet). */
unsigned td__role_bit(td_role role);

#endif
