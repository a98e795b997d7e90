/* multipart/form-data request bodies (RFC 7578), as HMA's upload routes take them (POST /h/hash,
 * POST /m/lookup). A pure parser over a complete body: parts are views into it, names are
 * copied and bounded, the number of parts is capped. */
#ifndef TD_SERVER_MULTIPART_H
#define TD_SERVER_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define TD__MPART_NAME_MAX 128 /* bytes of a field name or a file name */
#define TD__MPART_MAX 16       /* parts in one body */
#define TD__MPART_WHY_MAX 160

typedef struct td__mpart {
    char name[TD__MPART_NAME_MAX + 1];
    char filename[TD__MPART_NAME_MAX + 1];
    int is_file; /* Content-Disposition has a filename (or filename*) parameter */
    const uint8_t *data;
    size_t len;
} td__mpart;

/* The boundary of a Content-Type "multipart/form-data; boundary=..." into out (1..70 bytes);
 * 0 when content_type is not that or has no valid boundary. */
int td__multipart_boundary(const char *content_type, char out[71]);

/* Parses body (len bytes) delimited by boundary into parts[0..*n). Returns 0, or -1 with why
 * (NUL-terminated) saying what is malformed or over a limit. */
int td__multipart_parse(const char *boundary, const uint8_t *body, size_t len,
                        td__mpart parts[TD__MPART_MAX], size_t *n, char why[TD__MPART_WHY_MAX]);

#endif
