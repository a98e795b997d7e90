/* libFuzzer harness for signal bodies as a bank receives them (td_signal_body_normalize): the
 * first byte picks the type (vpdq, raw_text, url, url_domain, url_prefix), the rest is the body.
 * A body that is accepted must be a fixed point: normalising its canonical form gives it back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "takedown/casework.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const td_signal_type types[] = {TD_SIGNAL_VPDQ, TD_SIGNAL_TEXT, TD_SIGNAL_URL,
                                       TD_SIGNAL_URL_DOMAIN, TD_SIGNAL_URL_PREFIX};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256 * 1024)
        return -1;
    td_signal_type type = types[data[0] % (sizeof types / sizeof types[0])];
    const char *body = (const char *)data + 1;
    char *canon = NULL, *again = NULL;
    size_t canon_len = 0, again_len = 0;
    td_error err;
    if (td_signal_body_normalize(type, body, size - 1, &canon, &canon_len, &err) != TD_OK) {
        if (err.message[0] == '\0')
            abort(); /* every refusal says why */
        return 0;
    }
    if (td_signal_body_normalize(type, canon, canon_len, &again, &again_len, &err) != TD_OK ||
        again_len != canon_len || memcmp(canon, again, canon_len) != 0)
        abort();
    td_free(canon);
    td_free(again);
    return 0;
}
