/* A growable byte buffer with a hard cap chosen by its user (curl's dynbuf is the model): text
 * or bytes appended, the allocation doubling as it grows, never holding more than the cap. The
 * contents are NUL-terminated once anything was added, so text can be read in place. */
#ifndef TD_CORE_BUF_H
#define TD_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "takedown/status.h"

typedef struct td__buf {
    char *p;      /* the contents (NULL until the first byte), NUL-terminated */
    size_t len;   /* bytes held, without the NUL */
    size_t alloc; /* bytes allocated */
    size_t max;   /* len never exceeds this */
} td__buf;

/* An empty buffer that will hold at most max bytes (the NUL not counted). */
void td__buf_init(td__buf *b, size_t max) __attribute__((nonnull));
/* Frees the contents; the buffer is empty again (same cap) and may be reused. */
void td__buf_free(td__buf *b) __attribute__((nonnull));
/* Empties the buffer, keeping its memory. */
void td__buf_reset(td__buf *b) __attribute__((nonnull));

/* Appends n bytes. TD_ERR_LIMIT if the contents would exceed the cap, TD_ERR_NOMEM if memory is
 * short; on failure the buffer is unchanged. */
__attribute__((nonnull(1), warn_unused_result)) td_status td__buf_add(td__buf *b, const void *data,
                                                                      size_t n);
__attribute__((nonnull, warn_unused_result)) td_status td__buf_addstr(td__buf *b, const char *s);
/* Appends formatted text; the same failures as td__buf_add (TD_ERR_INTERNAL for a bad format). */
__attribute__((nonnull(1, 2), warn_unused_result, format(printf, 2, 3))) td_status
td__buf_printf(td__buf *b, const char *fmt, ...);
__attribute__((nonnull(1, 2), warn_unused_result, format(printf, 2, 0))) td_status
td__buf_vprintf(td__buf *b, const char *fmt, va_list ap);

/* Hands the contents to the caller (free with td__free; NULL if nothing was added), their length
 * into *len if len is not NULL; the buffer is empty again. */
__attribute__((nonnull(1), warn_unused_result)) char *td__buf_take(td__buf *b, size_t *len);

#endif
