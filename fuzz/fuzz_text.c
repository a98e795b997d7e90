/* libFuzzer harness for raw_text: normalisation, the rule, the bounded Levenshtein distance
 * (checked against a plain dynamic program) and the candidate index (checked against brute
 * force). The input is split at '\n' into a query (first line) and up to 8 known documents. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "takedown/hash.h"
#include "takedown/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DOCS 8
#define MAX_DP 96

static size_t plain_levenshtein(const uint32_t *a, size_t n, const uint32_t *b, size_t m)
{
    size_t row[MAX_DP + 1];
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

/* Code points from bytes over a small alphabet (so that strings share a lot), lengths <= MAX_DP. */
static void check_levenshtein(const uint8_t *data, size_t size)
{
    if (size < 3)
        return;
    uint32_t a[MAX_DP], b[MAX_DP];
    size_t max = data[0] % 40, split = data[1] % (size - 1);
    const uint8_t *p = data + 2;
    size_t rest = size - 2;
    if (split > rest)
        split = rest;
    size_t n = split < MAX_DP ? split : MAX_DP, m = rest - split < MAX_DP ? rest - split : MAX_DP;
    for (size_t i = 0; i < n; i++)
        a[i] = p[i] % 4 + (p[i] >= 0xf0 ? 0x10000u : 0u);
    for (size_t i = 0; i < m; i++)
        b[i] = p[split + i] % 4 + (p[split + i] >= 0xf0 ? 0x10000u : 0u);
    size_t want = plain_levenshtein(a, n, b, m);
    size_t got = td_text_levenshtein_bounded(a, n, b, m, max);
    if (want <= max ? got != want : got != max + 1)
        __builtin_trap();
}

static int by_id(const void *x, const void *y)
{
    const td_text_match *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void check_index(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *line[MAX_DOCS + 1];
    size_t len[MAX_DOCS + 1], lines = 0, start = 0;
    for (size_t i = 0; i <= size && lines <= MAX_DOCS; i++) {
        if (i == size || data[i] == '\n') {
            line[lines] = s + start;
            len[lines] = i - start;
            lines++;
            start = i + 1;
        }
    }
    td_error err;
    if (lines >= 2) {
        int match;
        size_t distance;
        (void)td_text_raw_match(line[1], len[1], line[0], len[0], &match, &distance, &err);
    }
    td_text_index *idx;
    if (td_text_index_new(&idx, &err) != TD_OK)
        return;
    for (size_t i = 1; i < lines; i++)
        (void)td_text_index_add(idx, i, line[i], len[i], &err);
    td_text_match *m = NULL, *b = NULL;
    size_t n = 0, nb = 0;
    td_text_query_stats st;
    td_status s1 = td_text_index_query(idx, line[0], len[0], &m, &n, &st, &err);
    td_status s2 = td_text_index_query_brute(idx, line[0], len[0], &b, &nb, &err);
    if (s1 != s2)
        __builtin_trap();
    if (s1 == TD_OK) {
        if (n != nb)
            __builtin_trap();
        if (n > 1)
            qsort(m, n, sizeof *m, by_id);
        if (nb > 1)
            qsort(b, nb, sizeof *b, by_id);
        for (size_t i = 0; i < n; i++)
            if (m[i].id != b[i].id || m[i].distance != b[i].distance)
                __builtin_trap();
    }
    td_free(m);
    td_free(b);
    td_text_index_free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return -1;
    char *norm;
    size_t norm_len;
    td_error err;
    if (td_text_normalize((const char *)data, size, &norm, &norm_len, &err) == TD_OK) {
        /* No NUL inside (the input's NULs are not letters), nothing past the length. */
        if (strlen(norm) != norm_len)
            __builtin_trap();
        td_free(norm);
    }
    check_levenshtein(data, size);
    check_index(data, size);
    return 0;
}
