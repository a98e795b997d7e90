/* libFuzzer harness: hash lists imported into banks (python-threatexchange lines and CSV) come
 * from peers and users. Any input must parse or fail with a status; every entry handed to the
 * caller must be a well-formed signal from a line that exists. The first byte picks the format. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "takedown/casework.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
    uint64_t lines;
    uint64_t last;
} seen;

static int on_entry(void *ctx, const td_list_entry *e)
{
    seen *s = ctx;
    /* The hash types a list carries: url_md5 too (a 32-digit digest of a URL). */
    size_t want = e->type == TD_SIGNAL_MD5 || e->type == TD_SIGNAL_URL_MD5 ? 32 : 64;
    if (e->type != TD_SIGNAL_PDQ && e->type != TD_SIGNAL_MD5 && e->type != TD_SIGNAL_SHA256 &&
        e->type != TD_SIGNAL_URL_MD5)
        abort();
    if (strlen(e->value) != want || strspn(e->value, "0123456789abcdef") != want)
        abort();
    if (e->line == 0 || e->line > s->lines || e->line <= s->last)
        abort();
    if (e->collab_len > TD_SOURCE_MAX || e->tags.count > TD_LABELS_MAX)
        abort();
    s->last = e->line;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_import_result res;
    td_error err;
    seen s = {1, 0};
    if (size == 0)
        return 0;
    td_list_format format = (td_list_format)(data[0] % 3);
    data++;
    size--;
    for (size_t i = 0; i < size; i++)
        s.lines += data[i] == '\n';
    td_status st = td_list_parse(data, size, format, 512, 10000, 8, on_entry, &s, &res, &err);
    if (st == TD_OK && (res.error_count > 8 || res.error_count > res.errors || res.lines > s.lines))
        abort();
    td_import_result_clear(&res);
    return 0;
}
