/* Filling a caller's td_error: the library's only way of saying what went wrong. */
#ifndef TD_CORE_ERROR_H
#define TD_CORE_ERROR_H

#include "takedown/status.h"

/* Sets err (if not NULL) to code and a formatted message; returns code. */
td_status td__error_set(td_error *err, td_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends a formatted prefix to err's message (if err is not NULL). */
void td__error_prefix(td_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
