/* The streaming parser of hash lists (python-threatexchange lines and CSV), shared by the
 * import and the fuzz harness. Lines may arrive split across chunks of any size. */
#ifndef TD_CASEWORK_LISTFMT_H
#define TD_CASEWORK_LISTFMT_H

#include "takedown/casework.h"

typedef struct td__list_parser {
    td_list_format format; /* AUTO until the first non-blank line decides */
    size_t max_line;
    uint64_t max_lines;
    size_t max_errors;
    int (*fn)(void *ctx, const td_list_entry *entry); /* non-zero stops the parse */
    void *ctx;
    td_import_result *res;
    char *buf; /* a line split across chunks, up to max_line bytes */
    size_t len;
    int seen_content;
    int failed;
} td__list_parser;

td_status td__list_init(td__list_parser *p, td_list_format format, size_t max_line,
                        uint64_t max_lines, size_t max_errors,
                        int (*fn)(void *ctx, const td_list_entry *entry), void *ctx,
                        td_import_result *res, td_error *err);
/* TD_ERR_LIMIT (line or line count), TD_ERR_IO (fn stopped the parse). */
td_status td__list_feed(td__list_parser *p, const char *data, size_t len, td_error *err);
/* Parses a last line without its newline. */
td_status td__list_end(td__list_parser *p, td_error *err);
void td__list_free(td__list_parser *p);
/* Records a per-line error in res (message truncated to fit). */
void td__list_line_error(td_import_result *res, size_t max_errors, uint64_t line,
                         const char *message);

#endif
