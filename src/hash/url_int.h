/* The URL parser of url.c, shared with the URL rules (src/casework/url_rules.c). */
#ifndef TD_HASH_URL_INT_H
#define TD_HASH_URL_INT_H

#include <stddef.h>

#include "takedown/url.h"

struct url_parts {
    char scheme[32];
    char host[TD_URL_HOST_MAX + 3];
    char *path;  /* "/..." without trailing slash unless root */
    char *query; /* without '?', may be empty */
};

/* Parses url (at most TD_URL_MAX bytes) into u, whose path and query point into *work (freed
 * with td__free; NULL on failure). The host is lower-cased and keeps a non-default port. */
td_status td__url_parse_alloc(const char *url, size_t len, struct url_parts *u, char **work,
                              td_error *err);

#endif
