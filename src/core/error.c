/* Status strings and error details. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *td_strerror(td_status status)
{
    switch (status) {
    case TD_OK: return "success";
    case TD_ERR_NOMEM: return "out of memory";
    case TD_ERR_INVALID: return "invalid input";
    case TD_ERR_IO: return "input/output error";
    case TD_ERR_LIMIT: return "limit exceeded";
    case TD_ERR_CORRUPT: return "corrupt or truncated input";
    case TD_ERR_UNSUPPORTED: return "unsupported format";
    case TD_ERR_NOT_FOUND: return "not found";
    case TD_ERR_INTERNAL: return "internal error";
    case TD_ERR_CONFLICT: return "conflict";
    case TD_ERR_NOSPACE: return "no space left on device";
    }
    return "unknown status";
}

void td_error_clear(td_error *err)
{
    if (!err)
        return;
    err->code = TD_OK;
    err->message[0] = '\0';
}

td_status td__error_set(td_error *err, td_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void td__error_prefix(td_error *err, const char *fmt, ...)
{
    char prefix[TD_ERROR_MESSAGE_MAX];
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    /* Shift the message right (truncating its end if needed) and put the prefix in front. */
    size_t plen = (size_t)n < sizeof prefix ? (size_t)n : sizeof prefix - 1;
    size_t mlen = strnlen(err->message, sizeof err->message - 1);
    if (plen + mlen > sizeof err->message - 1)
        mlen = plen < sizeof err->message - 1 ? sizeof err->message - 1 - plen : 0;
    if (plen > sizeof err->message - 1)
        plen = sizeof err->message - 1;
    memmove(err->message + plen, err->message, mlen);
    memcpy(err->message, prefix, plen);
    err->message[plen + mlen] = '\0';
}
