/* libFuzzer harness for the user notice template checker (td_notice_template_check) and its
 * renderer: any input gives an answer without a crash; a refusal names its problem; an accepted
 * template renders, with every placeholder at (beyond) its longest value, within
 * TD_NOTICE_TEXT_MAX bytes and without an error, and with no values to its text minus the
 * placeholders. The language normaliser gets the first bytes too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orders/orders_template_int.h"
#include "core/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char big[TD_NOTICE_TEXT_MAX + 2]; /* a value longer than any field allows */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_template_rejection why;
    td_error err;
    char lang[TD_NOTICE_LANG_MAX + 1], prefix[16];
    size_t n = size < sizeof prefix - 1 ? size : sizeof prefix - 1;
    memcpy(prefix, data, n);
    prefix[n] = '\0';
    if (td_notice_language_normalize(prefix, lang) && (strlen(lang) < 2 || strlen(lang) > 7))
        abort();

    td_status st = td_notice_template_check((const char *)data, size, &why, &err);
    if (st != TD_OK) {
        if (why.problem == TD_TEMPLATE_OK || err.message[0] == '\0')
            abort();
        return 0;
    }
    if (why.problem != TD_TEMPLATE_OK)
        abort();
    if (!big[0]) {
        /* Multi-byte characters, so that cutting has to find a character boundary. */
        for (size_t i = 0; i + 2 < sizeof big - 1; i += 2) {
            big[i] = (char)0xc3;
            big[i + 1] = (char)0xa9;
        }
    }
    td__notice_values full, none;
    memset(&none, 0, sizeof none);
    for (int f = 0; f < TD__NF_COUNT; f++)
        full.v[f] = big;
    char *out = NULL;
    size_t len = 0;
    if (td__notice_render((const char *)data, size, &full, &out, &len, &err) != TD_OK)
        abort();
    if (len > TD_NOTICE_TEXT_MAX || strlen(out) != len)
        abort();
    td__free(out);
    if (td__notice_render((const char *)data, size, &none, &out, &len, &err) != TD_OK)
        abort();
    if (len > size)
        abort();
    td__free(out);
    return 0;
}
