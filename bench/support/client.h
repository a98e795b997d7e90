/* A small blocking HTTP client for the benchmarks that drive the real `takedown serve`: one curl
 * handle kept alive per thread, JSON bodies, the bearer key, the answer kept in a buffer of a
 * fixed capacity (a larger answer fails the transfer). */
#ifndef TD_BENCH_CLIENT_H
#define TD_BENCH_CLIENT_H

#include <jansson.h>
#include <stddef.h>

typedef struct bench_client {
    void *curl;           /* CURL * */
    const char *base_url; /* "http://127.0.0.1:PORT", borrowed */
    const char *name;     /* the program's name, for the messages of bench_client_must */
    char *resp;           /* the last answer, NUL-terminated */
    size_t len, cap;
} bench_client;

/* Exits with a message when curl cannot be initialised (a benchmark cannot go on). */
void bench_client_init(bench_client *c, const char *name, const char *base_url, size_t cap);
void bench_client_free(bench_client *c);

/* One request: the status (0 when the transfer failed), the answer in c->resp. body (len bytes)
 * goes as application/json; extra_header (may be NULL) is one more "Name: value" header. */
long bench_client_call(bench_client *c, const char *method, const char *path, const char *key,
                       const char *body, size_t len, const char *extra_header);

/* A set-up call that must answer expect with JSON: the parsed answer (decref it), or the program
 * exits saying what it got. */
json_t *bench_client_must(bench_client *c, long expect, const char *method, const char *path,
                          const char *key, const char *body);

#endif
