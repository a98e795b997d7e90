/* Allocation wrappers: every allocation of the library goes through these, so that size
 * arithmetic is overflow-checked in one place and out-of-memory is reported, never fatal. */
#ifndef TD_CORE_ALLOC_H
#define TD_CORE_ALLOC_H

#include <stddef.h>

__attribute__((malloc, warn_unused_result)) void *td__malloc(size_t size);
__attribute__((malloc, warn_unused_result)) void *td__calloc(size_t count, size_t size);
/* count * size bytes, or NULL if the product overflows or memory is short. */
__attribute__((malloc, warn_unused_result)) void *td__mallocarray(size_t count, size_t size);
__attribute__((warn_unused_result)) void *td__realloc(void *p, size_t size);
/* 64-byte aligned count * size bytes (for SIMD kernels); free with td__free. */
__attribute__((malloc, warn_unused_result)) void *td__aligned_array(size_t count, size_t size);
__attribute__((warn_unused_result)) char *td__strdup(const char *s);
void td__free(void *p);

#endif
