/* Hash lists (`takedown match --db`): untrusted text, one hash per line, parsed with a moving
 * cursor under explicit limits on file size, line length and entry count. Blank lines and '#'
 * comments are skipped but still counted, so that reported line numbers are the file's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "takedown/index.h"

#define READ_BLOCK 65536

void td_index_hashlist_limits_default(td_index_hashlist_limits *limits)
{
    limits->max_line = 4096;
    limits->max_entries = 100000000;
    limits->max_bytes = (uint64_t)16 << 30;
}

void td_index_hashlist_clear(td_index_hashlist *list)
{
    if (!list)
        return;
    td__free(list->hashes);
    td__free(list->lines);
    memset(list, 0, sizeof *list);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* The PDQ text form: 64 digits, most significant word first (w[15] .. w[0]). */
static int parse_hex64(const char *p, td_pdq *out)
{
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        for (int j = 0; j < 4; j++) {
            int d = td__hex_digit((unsigned char)p[4 * i + j]);
            if (d < 0)
                return -1;
            v = v << 4 | (unsigned)d;
        }
        out->w[15 - i] = (uint16_t)v;
    }
    return 0;
}

static td_status push(td_index_hashlist *list, const td_pdq *h, uint64_t line,
                      const td_index_hashlist_limits *lim, td_error *err)
{
    if (list->count >= lim->max_entries)
        return td__error_set(err, TD_ERR_LIMIT, "line %llu: more than %zu hashes",
                             (unsigned long long)line, lim->max_entries);
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? list->capacity * 2 : 1024;
        if (cap > lim->max_entries)
            cap = lim->max_entries;
        td_pdq *hs = td__realloc(list->hashes, cap * sizeof *hs);
        if (!hs)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory for %zu hashes", cap);
        list->hashes = hs;
        uint64_t *ls = td__realloc(list->lines, cap * sizeof *ls);
        if (!ls)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory for %zu hashes", cap);
        list->lines = ls;
        list->capacity = cap;
    }
    list->hashes[list->count] = *h;
    list->lines[list->count++] = line;
    return TD_OK;
}

/* One line without its '\n'. */
static td_status parse_line(const char *p, size_t len, uint64_t line,
                            const td_index_hashlist_limits *lim, td_index_hashlist *list,
                            td_error *err)
{
    const char *end = p + len;
    if (len > lim->max_line)
        return td__error_set(err, TD_ERR_LIMIT, "line %llu is longer than %zu bytes",
                             (unsigned long long)line, lim->max_line);
    while (p < end && is_space(*p))
        p++;
    if (p == end || *p == '#')
        return TD_OK;
    if (end - p > 3 && (p[0] == 'p' || p[0] == 'P') && (p[1] == 'd' || p[1] == 'D') &&
        (p[2] == 'q' || p[2] == 'Q') && is_space(p[3])) {
        p += 3;
        while (p < end && is_space(*p))
            p++;
    }
    td_pdq h;
    if (end - p < TD_PDQ_HEX_LEN || parse_hex64(p, &h) != 0 ||
        (end - p > TD_PDQ_HEX_LEN && td__hex_digit((unsigned char)p[TD_PDQ_HEX_LEN]) >= 0))
        return td__error_set(err, TD_ERR_INVALID, "line %llu: expected 64 hex digits",
                             (unsigned long long)line);
    return push(list, &h, line, lim, err);
}

static const td_index_hashlist_limits *limits_or_default(const td_index_hashlist_limits *lim,
                                                         td_index_hashlist_limits *buf)
{
    if (lim)
        return lim;
    td_index_hashlist_limits_default(buf);
    return buf;
}

td_status td_index_hashlist_parse(const char *data, size_t len,
                                  const td_index_hashlist_limits *limits, td_index_hashlist *out,
                                  td_error *err)
{
    td_index_hashlist_limits buf;
    const td_index_hashlist_limits *lim = limits_or_default(limits, &buf);
    const char *p = data, *end = data + len;
    uint64_t line = 0;
    memset(out, 0, sizeof *out);
    if (len > lim->max_bytes)
        return td__error_set(err, TD_ERR_LIMIT, "hash list of %zu bytes exceeds %llu", len,
                             (unsigned long long)lim->max_bytes);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        td_status st = parse_line(p, (size_t)(stop - p), ++line, lim, out, err);
        if (st != TD_OK) {
            td_index_hashlist_clear(out);
            return st;
        }
        p = nl ? nl + 1 : end;
    }
    return TD_OK;
}

td_status td_index_hashlist_read(const char *path, const td_index_hashlist_limits *limits,
                                 td_index_hashlist *out, td_error *err)
{
    td_index_hashlist_limits buf;
    const td_index_hashlist_limits *lim = limits_or_default(limits, &buf);
    struct stat sb;
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return td__error_set(err, errno == ENOENT ? TD_ERR_NOT_FOUND : TD_ERR_IO,
                             "cannot open %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) &&
        (uint64_t)sb.st_size > lim->max_bytes) {
        fclose(f);
        return td__error_set(err, TD_ERR_LIMIT, "%s: %lld bytes exceed the limit of %llu", path,
                             (long long)sb.st_size, (unsigned long long)lim->max_bytes);
    }
    /* A line longer than max_line fails, so the carry-over never exceeds max_line + 1 bytes. */
    size_t cap = lim->max_line + 1 + READ_BLOCK;
    char *block = td__malloc(cap);
    if (!block) {
        fclose(f);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    size_t have = 0;
    uint64_t line = 0, total = 0;
    td_status st = TD_OK;
    for (;;) {
        size_t got = fread(block + have, 1, READ_BLOCK, f);
        total += got;
        if (total > lim->max_bytes) {
            st = td__error_set(err, TD_ERR_LIMIT, "%s exceeds %llu bytes", path,
                               (unsigned long long)lim->max_bytes);
            break;
        }
        have += got;
        int eof = got == 0;
        if (eof && ferror(f)) {
            st = td__error_set(err, TD_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        char *p = block, *end = block + have;
        while (st == TD_OK) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl && !(eof && p < end))
                break;
            char *stop = nl ? nl : end;
            st = parse_line(p, (size_t)(stop - p), ++line, lim, out, err);
            p = nl ? nl + 1 : end;
        }
        if (st != TD_OK || eof)
            break;
        have = (size_t)(end - p);
        if (have > lim->max_line) {
            st = td__error_set(err, TD_ERR_LIMIT, "line %llu is longer than %zu bytes",
                               (unsigned long long)line + 1, lim->max_line);
            break;
        }
        memmove(block, p, have);
    }
    td__free(block);
    fclose(f);
    if (st != TD_OK) {
        td_index_hashlist_clear(out);
        td__error_prefix(err, "%s: ", path);
    }
    return st;
}
