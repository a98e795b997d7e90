/* Allocation wrappers (see alloc.h). */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "takedown/status.h"

void *td__malloc(size_t size) { return malloc(size ? size : 1); }

void *td__calloc(size_t count, size_t size) { return calloc(count ? count : 1, size ? size : 1); }

void *td__mallocarray(size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes))
        return NULL;
    return td__malloc(bytes);
}

void *td__realloc(void *p, size_t size) { return realloc(p, size ? size : 1); }

void *td__aligned_array(size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes) || bytes > SIZE_MAX - 64)
        return NULL;
    bytes = (bytes + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes ? bytes : 64);
}

char *td__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = td__malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

void td__free(void *p) { free(p); }

void td_free(void *p) { free(p); }
