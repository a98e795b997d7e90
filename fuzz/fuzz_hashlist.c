/* libFuzzer harness: hash lists (`takedown match --db`, `--queries`) are untrusted text. Any input
 * must parse or fail with a status; every parsed hash must come from a line that exists. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "takedown/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_index_hashlist list;
    td_index_hashlist_limits lim;
    td_error err;
    td_index_hashlist_limits_default(&lim);
    lim.max_line = 256;
    lim.max_entries = 1000;
    td_status st = td_index_hashlist_parse((const char *)data, size, &lim, &list, &err);
    if (st == TD_OK) {
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        for (size_t i = 0; i < list.count; i++)
            if (list.lines[i] == 0 || list.lines[i] > lines ||
                (i && list.lines[i] <= list.lines[i - 1]))
                abort();
        /* What parsed can be indexed and searched. */
        td_index *idx;
        if (list.count &&
            td_index_build(&idx, list.hashes, list.lines, list.count, NULL, &err) == TD_OK) {
            td_index_results res;
            td_index_results_init(&res, 0);
            if (td_index_query(idx, &list.hashes[0], 31, &res, &err) != TD_OK || res.count == 0)
                abort();
            td_index_results_clear(&res);
            td_index_free(idx);
        }
    }
    td_index_hashlist_clear(&list);
    return 0;
}
