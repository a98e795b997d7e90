/* The store a service test runs on: SQLite in the data directory (the default) or, when
 * TD_TEST_STORE_URL is set (make test sets it for the *_pg ctest entries), PostgreSQL. There each
 * data directory gets a schema of its own, created on its first open: a fresh database per test,
 * and the same one again when a test reopens the directory or opens a second node on it. */
#ifndef TD_TEST_STORE_URL_H
#define TD_TEST_STORE_URL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "takedown/store.h"

/* NULL (SQLite) or the URL for dir, valid until the next call. Fails the test when the server
 * cannot be reached. */
static inline const char *td_test_store_url(const char *dir)
{
    static char url[1024];
    const char *base = getenv("TD_TEST_STORE_URL");
    if (!base || !*base)
        return NULL;
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = dir; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    char schema[32], sql[96];
    snprintf(schema, sizeof schema, "t%016llx", (unsigned long long)h);
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
    td_store_options so;
    td_store_options_default(&so);
    so.readers = 1;
    td_store *s = NULL;
    td_store_conn *c = NULL;
    td_error err;
    if (td_store_open(base, &so, &s, &err) || td_store_acquire(s, 1, &c, &err) ||
        td_store_exec(c, sql, &err)) {
        fprintf(stderr, "TD_TEST_STORE_URL: %s\n", err.message);
        abort();
    }
    td_store_release(s, c);
    td_store_close(s);
    snprintf(url, sizeof url, "%s%coptions=-csearch_path%%3D%s", base,
             strchr(base, '?') ? '&' : '?', schema);
    return url;
}

#endif
