/* The capped growable buffer (see buf.h). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

#define FIRST_ALLOC 256

void td__buf_init(td__buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->alloc = 0;
    b->max = max < (size_t)-1 ? max : (size_t)-1 - 1; /* room for the NUL */
}

void td__buf_free(td__buf *b)
{
    td__free(b->p);
    b->p = NULL;
    b->len = b->alloc = 0;
}

void td__buf_reset(td__buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* Room for need more bytes and the NUL: doubling, never beyond the cap plus the NUL. */
static td_status reserve(td__buf *b, size_t need)
{
    if (need > b->max - b->len)
        return TD_ERR_LIMIT;
    size_t want = b->len + need + 1;
    if (want <= b->alloc)
        return TD_OK;
    size_t a = b->alloc ? b->alloc : FIRST_ALLOC;
    while (a < want)
        a = a > ((size_t)-1) / 2 ? want : a * 2;
    if (a > b->max + 1)
        a = b->max + 1;
    char *p = td__realloc(b->p, a);
    if (!p)
        return TD_ERR_NOMEM;
    b->p = p;
    b->alloc = a;
    return TD_OK;
}

td_status td__buf_add(td__buf *b, const void *data, size_t n)
{
    td_status st = reserve(b, n);
    if (st != TD_OK)
        return st;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return TD_OK;
}

td_status td__buf_addstr(td__buf *b, const char *s) { return td__buf_add(b, s, strlen(s)); }

td_status td__buf_vprintf(td__buf *b, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    /* First into the room there is; a second pass when the text did not fit. */
    size_t room = b->alloc > b->len ? b->alloc - b->len : 0;
    int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, aq);
    va_end(aq);
    if (n < 0)
        return TD_ERR_INTERNAL;
    if ((size_t)n >= room) {
        td_status st = reserve(b, (size_t)n);
        if (st != TD_OK) {
            if (b->p)
                b->p[b->len] = '\0';
            return st;
        }
        va_copy(aq, ap);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, aq);
        va_end(aq);
    }
    b->len += (size_t)n;
    return TD_OK;
}

td_status td__buf_printf(td__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    td_status st = td__buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

char *td__buf_take(td__buf *b, size_t *len)
{
    char *p = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->alloc = 0;
    return p;
}
