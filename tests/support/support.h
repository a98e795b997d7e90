/* Helpers shared by the test programs. */
#ifndef TD_TEST_SUPPORT_H
#define TD_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Path under the shared conformance folder (static buffer rotation of 8 entries). */
const char *conf_path(const char *relative);

/* Reads a whole file into a malloc'ed buffer; aborts the test on failure. */
uint8_t *read_all(const char *path, size_t *len);

/* Writes bytes to a fresh file under the test temporary folder and returns its path
 * (static buffer rotation of 8 entries). */
const char *write_temp(const char *name, const void *data, size_t len);

/* Path of name under the test temporary folder, without creating anything (same rotation). */
const char *temp_path(const char *name);

/* A new empty folder under the test temporary folder, named from prefix ("x-XXXXXX"); the path
 * is valid until the next call. */
const char *test_fresh_dir(const char *prefix);

struct td_service;
/* Opens a service on dir as the service tests do (no webhook worker, no follower thread; the store
 * of td_test_store_url: SQLite, or PostgreSQL for the *_pg entries); fails the test otherwise. */
struct td_service *test_open_service(const char *dir);

/* Runs a shell command, captures stdout (up to cap bytes, NUL-terminated) and returns the exit
 * status (or -1). */
int run_capture(const char *cmd, char *out, size_t cap);

/* Deterministic pseudo-random numbers for tests (xorshift64*). */
uint64_t test_rand(uint64_t *state);

#endif
