/* Bearer-key authentication with a short-lived cache, so that the upload path's checks do not
 * each cost a database read. */
#ifndef TD_SERVER_AUTH_H
#define TD_SERVER_AUTH_H

#include "server/server_int.h"

/* How long a verified key is trusted without asking the store again. A revocation on this node
 * clears the cache at once; one made on another node takes effect within this time. */
#define TD__AUTH_CACHE_SECONDS 2.0

typedef struct td__auth_cache td__auth_cache;

td__auth_cache *td__auth_cache_new(void);
void td__auth_cache_free(td__auth_cache *c);
/* Forgets every cached key (after a revocation). */
void td__auth_cache_clear(td__auth_cache *c);

/* Verifies the Authorization header value; fills r->who and r->role_bit, or replies 401 and
 * returns 0. */
int td__authenticate(td__req *r, const char *header);

/* The role bit of a library role (0 for roles no route admits yet). */
unsigned td__role_bit(td_role role);

#endif
