/* Replays the curl commands a documentation page shows (```sh blocks) against a running
 * `takedown serve`, each compared with the answer the page shows after it (a ```json block: the
 * same members, recursively; an error: the same code, field and reason; a ```text block: the same
 * bytes). Every docs page with commands has a test that calls this. */
#ifndef TD_TEST_DOC_REPLAY_H
#define TD_TEST_DOC_REPLAY_H

#include <jansson.h>

#include "support/api_client.h"
#include "support/doc_shell.h"

typedef struct doc_replay {
    const api_server *srv;
    const char *page;        /* "docs/e2ee.md", read from TD_SOURCE_DIR */
    const char *host;        /* the host the page's URLs name ("http://127.0.0.1:8080") */
    doc_shell_lookup lookup; /* the page's variables ($ADMIN_KEY ...) */
    void *ctx;               /* passed to lookup and after */
    /* Called after each command with its answer (parsed, may be NULL; and its exact bytes), so
     * that later commands can use what it gave. */
    void (*after)(void *ctx, const char *method, const char *url, long status, json_t *answer,
                  const char *raw, size_t raw_len);
    int null_is_number; /* a null the page shows also stands for a number (a time not known in
                           advance) */
    int other_hosts;    /* commands on another host (a second instance the page sets up) are
                           left to another test (counted in *skipped) instead of failing */
} doc_replay;

/* Replays every command of the page in order; fails the running test on the first that does not
 * answer as shown. Returns the number of commands replayed; *skipped (may be NULL) receives the
 * number left for another host. */
int doc_replay_page(const doc_replay *d, int *skipped);

#endif
