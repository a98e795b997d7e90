/* libFuzzer harness: index snapshots come from disk and may be truncated or corrupt. Loading must
 * fail with a status or give an index whose queries stay in bounds. Random bytes rarely get past
 * the header checksum, so for half the inputs the harness also writes a real snapshot of hashes
 * taken from the input and loads it with one bit flipped. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "takedown/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_load(const uint8_t *data, size_t size)
{
    td_index *idx;
    td_error err;
    if (td_index_load_memory(&idx, data, size, NULL, &err) != TD_OK)
        return;
    td_index_results res;
    td_pdq q;
    memset(&q, 0, sizeof q);
    td_index_results_init(&res, 1000);
    for (int r = 0; r <= 63; r += 21) {
        res.count = 0;
        (void)!td_index_query(idx, &q, r, &res, &err);
    }
    td_index_results_clear(&res);
    td_index_free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_load(data, size);
    /* A real snapshot mutated by the fuzzer: build one from the input's first bytes as hashes. */
    if (size >= 1 && (data[0] & 1)) {
        td_pdq hashes[64];
        size_t n = (size - 1) / sizeof(td_pdq);
        td_index *idx;
        if (n == 0 || n > 64)
            return 0;
        memcpy(hashes, data + 1, n * sizeof *hashes);
        if (td_index_build(&idx, hashes, NULL, n, NULL, NULL) != TD_OK)
            return 0;
        char path[] = "/tmp/fuzz_snapshot_XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0) {
            close(fd);
            if (td_index_save(idx, path, NULL) == TD_OK) {
                FILE *f = fopen(path, "rb");
                uint8_t buf[1 << 16];
                size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
                if (f)
                    fclose(f);
                if (len > 0) {
                    buf[(data[0] >> 1) % len] ^= (uint8_t)(1u << (data[0] % 8));
                    try_load(buf, len);
                }
            }
            unlink(path);
        }
        td_index_free(idx);
    }
    return 0;
}
