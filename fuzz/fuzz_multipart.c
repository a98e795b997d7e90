/* libFuzzer harness for multipart/form-data bodies (HMA's uploads, src/server/multipart.c). The
 * input's first line is the Content-Type header, the rest the body. A parse either fails with a
 * reason or yields at most TD__MPART_MAX parts whose contents lie inside the body, in order and
 * without overlap, with bounded NUL-terminated names. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 512 ? size : 512);
    if (!nl)
        return -1;
    size_t hlen = (size_t)(nl - data);
    char header[513];
    memcpy(header, data, hlen);
    header[hlen] = '\0';
    char bd[71];
    if (!td__multipart_boundary(header, bd))
        return 0;
    if (strlen(bd) < 1 || strlen(bd) > 70)
        abort();
    /* the body in its own allocation, so that a read past its end is caught */
    size_t blen = size - hlen - 1;
    uint8_t *body = malloc(blen ? blen : 1);
    if (!body)
        return 0;
    memcpy(body, nl + 1, blen);
    td__mpart parts[TD__MPART_MAX];
    size_t n = 0;
    char why[TD__MPART_WHY_MAX];
    int rc = td__multipart_parse(bd, body, blen, parts, &n, why);
    if (rc != 0 && (rc != -1 || why[0] == '\0'))
        abort();
    if (rc == 0) {
        if (n > TD__MPART_MAX)
            abort();
        const uint8_t *prev = body;
        for (size_t i = 0; i < n; i++) {
            if (parts[i].data < prev || parts[i].data + parts[i].len > body + blen)
                abort();
            if (strnlen(parts[i].name, sizeof parts[i].name) > TD__MPART_NAME_MAX ||
                strnlen(parts[i].filename, sizeof parts[i].filename) > TD__MPART_NAME_MAX)
                abort();
            prev = parts[i].data + parts[i].len;
        }
    }
    free(body);
    return 0;
}
