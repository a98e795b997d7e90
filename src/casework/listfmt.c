/* Hash lists: signal type names, value normalisation and the line/CSV parser. Untrusted input:
 * every line is bounded (max_line), the number of lines too (max_lines), and a malformed line is
 * reported with its number, never fatal. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "casework/listfmt.h"
#include "core/alloc.h"
#include "core/error.h"

const char *td_signal_type_name(td_signal_type t)
{
    switch (t) {
    case TD_SIGNAL_PDQ: return "pdq";
    case TD_SIGNAL_MD5: return "md5";
    case TD_SIGNAL_SHA256: return "sha256";
    case TD_SIGNAL_VPDQ: return "vpdq";
    case TD_SIGNAL_TEXT: return "raw_text";
    case TD_SIGNAL_URL: return "url";
    case TD_SIGNAL_URL_MD5: return "url_md5";
    case TD_SIGNAL_URL_DOMAIN: return "url_domain";
    case TD_SIGNAL_URL_PREFIX: return "url_prefix";
    }
    return "?";
}

const char *td_signal_type_te_name(td_signal_type t)
{
    switch (t) {
    case TD_SIGNAL_PDQ: return "pdq";
    case TD_SIGNAL_MD5: return "video_md5";
    case TD_SIGNAL_SHA256: return "video_sha256";
    default: return td_signal_type_name(t);
    }
}

static const struct {
    const char *name;
    td_signal_type type;
} type_names[] = {
    {"pdq", TD_SIGNAL_PDQ},
    {"md5", TD_SIGNAL_MD5},
    {"video_md5", TD_SIGNAL_MD5},
    {"photo_md5", TD_SIGNAL_MD5},
    {"sha256", TD_SIGNAL_SHA256},
    {"video_sha256", TD_SIGNAL_SHA256},
    {"photo_sha256", TD_SIGNAL_SHA256},
    {"vpdq", TD_SIGNAL_VPDQ},
    {"raw_text", TD_SIGNAL_TEXT},
    {"text", TD_SIGNAL_TEXT},
    {"url", TD_SIGNAL_URL},
    {"url_md5", TD_SIGNAL_URL_MD5},
    {"url_domain", TD_SIGNAL_URL_DOMAIN},
    {"url_prefix", TD_SIGNAL_URL_PREFIX},
};

/* Types a hash list may hold that its import does not take (the list importer takes hash
 * values; bodies are added one by one through td_signal_add): valid lines, not errors. */
static const char *const other_types[] = {"url",        "url_md5",        "raw_text",    "vpdq",
                                          "text",       "video_tmk_pdqf", "trend_query", "tmk",
                                          "url_domain", "url_prefix"};

int td_signal_type_has_body(td_signal_type t)
{
    return t == TD_SIGNAL_VPDQ || t == TD_SIGNAL_TEXT || t == TD_SIGNAL_URL ||
           t == TD_SIGNAL_URL_DOMAIN || t == TD_SIGNAL_URL_PREFIX;
}

td_status td_signal_type_parse(const char *name, size_t len, td_signal_type *out)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strlen(type_names[i].name) == len && strncasecmp(type_names[i].name, name, len) == 0) {
            *out = type_names[i].type;
            return TD_OK;
        }
    return TD_ERR_INVALID;
}

/* The types a list import takes: hash values (of images, files and URLs). */
static int list_type(td_signal_type t)
{
    return t == TD_SIGNAL_PDQ || t == TD_SIGNAL_MD5 || t == TD_SIGNAL_SHA256 ||
           t == TD_SIGNAL_URL_MD5;
}

static int other_type(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof other_types / sizeof other_types[0]; i++)
        if (strlen(other_types[i]) == len && strncasecmp(other_types[i], name, len) == 0)
            return 1;
    return 0;
}

td_status td_signal_value_normalize(td_signal_type type, const char *value, size_t len,
                                    char out[65], td_error *err)
{
    size_t want = type == TD_SIGNAL_MD5 || type == TD_SIGNAL_URL_MD5 ? 32 : 64;
    if (td_signal_type_has_body(type))
        return td__error_set(err, TD_ERR_INVALID, "a %s signal's value is its body, not a hash",
                             td_signal_type_name(type));
    if (type != TD_SIGNAL_PDQ && type != TD_SIGNAL_MD5 && type != TD_SIGNAL_SHA256 &&
        type != TD_SIGNAL_URL_MD5)
        return td__error_set(err, TD_ERR_INVALID, "unknown signal type");
    if (!value || len != want)
        return td__error_set(err, TD_ERR_INVALID, "%s value must be %zu hex digits, not %zu",
                             td_signal_type_name(type), want, value ? len : 0);
    /* Table-driven (a bulk import normalises millions of values): the lower-case digit, or 0. */
    static const char digit[256] = {
        ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5',
        ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9', ['a'] = 'a', ['b'] = 'b',
        ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['A'] = 'a', ['B'] = 'b',
        ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
    };
    for (size_t i = 0; i < len; i++) {
        char c = digit[(unsigned char)value[i]];
        if (!c)
            return td__error_set(err, TD_ERR_INVALID, "%s value has a non-hex character at %zu",
                                 td_signal_type_name(type), i + 1);
        out[i] = c;
    }
    out[len] = '\0';
    return TD_OK;
}

static const char *const format_names[] = {"auto", "te", "csv"};
const char *td_list_format_name(td_list_format f)
{
    return (unsigned)f < 3 ? format_names[f] : "?";
}

td_status td_list_format_parse(const char *name, td_list_format *out)
{
    for (int i = 0; i < 3; i++)
        if (name && strcasecmp(name, format_names[i]) == 0) {
            *out = (td_list_format)i;
            return TD_OK;
        }
    if (name && (strcasecmp(name, "lines") == 0 || strcasecmp(name, "txt") == 0)) {
        *out = TD_LIST_LINES;
        return TD_OK;
    }
    return TD_ERR_INVALID;
}

void td__list_line_error(td_import_result *res, size_t max_errors, uint64_t line,
                         const char *message)
{
    res->errors++;
    if (res->error_count >= max_errors)
        return;
    size_t cap = res->error_count; /* the list grows one by one; max_errors bounds it */
    td_import_line_error *grown = td__realloc(res->error_list, (cap + 1) * sizeof *res->error_list);
    if (!grown)
        return;
    res->error_list = grown;
    grown[cap].line = line;
    size_t n = strnlen(message, sizeof grown[cap].message - 1);
    memcpy(grown[cap].message, message, n);
    grown[cap].message[n] = '\0';
    res->error_count++;
}

td_status td__list_init(td__list_parser *p, td_list_format format, size_t max_line,
                        uint64_t max_lines, size_t max_errors,
                        int (*fn)(void *ctx, const td_list_entry *entry), void *ctx,
                        td_import_result *res, td_error *err)
{
    memset(p, 0, sizeof *p);
    if (max_line < 16 || max_line > ((size_t)1 << 24))
        return td__error_set(err, TD_ERR_INVALID, "list: max_line must be 16..16M");
    p->format = format;
    p->max_line = max_line;
    p->max_lines = max_lines;
    p->max_errors = max_errors;
    p->fn = fn;
    p->ctx = ctx;
    p->res = res;
    p->buf = td__malloc(max_line);
    if (!p->buf)
        return td__error_set(err, TD_ERR_NOMEM, "list: out of memory");
    return TD_OK;
}

void td__list_free(td__list_parser *p)
{
    td__free(p->buf);
    p->buf = NULL;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Splits one CSV line into at most 5 fields (RFC 4180 quoting within the line). Field text is
 * unquoted into scratch. Returns the field count, -1 for a malformed line. */
static int csv_split(const char *s, size_t n, char *scratch, const char *f[5], size_t fl[5],
                     const char **why)
{
    int count = 0;
    size_t i = 0, w = 0;
    for (;;) {
        if (count == 5) {
            *why = "more than 5 fields";
            return -1;
        }
        f[count] = scratch + w;
        size_t start = w;
        if (i < n && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= n) {
                    *why = "unterminated quoted field";
                    return -1;
                }
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        scratch[w++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                scratch[w++] = s[i++];
            }
            if (i < n && s[i] != ',') {
                *why = "text after a closing quote";
                return -1;
            }
        } else {
            while (i < n && s[i] != ',') {
                if (s[i] == '"') {
                    *why = "quote inside an unquoted field";
                    return -1;
                }
                scratch[w++] = s[i++];
            }
        }
        fl[count] = w - start;
        /* Trim spaces around unquoted content. */
        while (fl[count] && is_space(f[count][fl[count] - 1]))
            fl[count]--;
        while (fl[count] && is_space(f[count][0])) {
            f[count]++;
            fl[count]--;
        }
        count++;
        if (i >= n)
            return count;
        i++; /* the comma */
    }
}

static int field_is(const char *f, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(f, word, n) == 0;
}

/* One complete line (no newline). Returns non-zero when the parse must stop. */
static int parse_line(td__list_parser *p, const char *s, size_t n, uint64_t line_no)
{
    td_list_entry e;
    td_error err;
    char msg[160];
    while (n && is_space(s[n - 1]))
        n--;
    while (n && is_space(s[0])) {
        s++;
        n--;
    }
    if (n == 0 || s[0] == '#')
        return 0;
    int first = !p->seen_content;
    p->seen_content = 1;
    if (first && n >= 12 && strncasecmp(s, "signal_type,", 12) == 0) {
        if (p->format == TD_LIST_AUTO)
            p->format = TD_LIST_CSV;
        if (p->format == TD_LIST_CSV)
            return 0; /* the header */
    }
    if (p->format == TD_LIST_AUTO)
        p->format = TD_LIST_LINES;
    /* Not the whole entry: its tags alone are a kilobyte, and only their count is read unset. */
    e.line = line_no;
    e.type = TD_SIGNAL_PDQ;
    e.collab_len = 0;
    e.negative = 0;
    e.tags.count = 0;
    e.collab = "";
    const char *type_s, *value_s;
    size_t type_n, value_n;
    if (p->format == TD_LIST_CSV) {
        const char *f[5];
        size_t fl[5];
        const char *why = NULL;
        /* Unquoting never lengthens a field: the line buffer size is enough scratch. */
        char scratch_small[512];
        char *scratch = n <= sizeof scratch_small ? scratch_small : td__malloc(n);
        if (!scratch) {
            td__list_line_error(p->res, p->max_errors, line_no, "out of memory");
            return 0;
        }
        int nf = csv_split(s, n, scratch, f, fl, &why);
        int stop = 0;
        if (nf < 0) {
            snprintf(msg, sizeof msg, "malformed CSV: %s", why);
            td__list_line_error(p->res, p->max_errors, line_no, msg);
        } else if (nf < 2) {
            td__list_line_error(p->res, p->max_errors, line_no,
                                "CSV line needs at least signal_type,signal_str");
        } else {
            td_signal_type t;
            int ok = 1;
            if (td_signal_type_parse(f[0], fl[0], &t) != TD_OK || !list_type(t)) {
                ok = 0;
                if (other_type(f[0], fl[0]))
                    p->res->unsupported++;
                else {
                    snprintf(msg, sizeof msg, "unknown signal type '%.*s'",
                             (int)(fl[0] > 40 ? 40 : fl[0]), f[0]);
                    td__list_line_error(p->res, p->max_errors, line_no, msg);
                }
            }
            if (ok && td_signal_value_normalize(t, f[1], fl[1], e.value, &err) != TD_OK) {
                ok = 0;
                td__list_line_error(p->res, p->max_errors, line_no, err.message);
            }
            if (ok && nf > 2 && fl[2] > TD_SOURCE_MAX) {
                ok = 0;
                td__list_line_error(p->res, p->max_errors, line_no, "collab name too long");
            }
            if (ok && nf > 3 && fl[3] && !field_is(f[3], fl[3], "POSITIVE_CLASS") &&
                !field_is(f[3], fl[3], "NEGATIVE_CLASS") &&
                !field_is(f[3], fl[3], "INVESTIGATION_SEED")) {
                ok = 0;
                td__list_line_error(p->res, p->max_errors, line_no,
                                    "category must be POSITIVE_CLASS, NEGATIVE_CLASS or "
                                    "INVESTIGATION_SEED");
            }
            if (ok && nf > 4 && td_labels_parse(&e.tags, f[4], fl[4], &err) != TD_OK) {
                ok = 0;
                snprintf(msg, sizeof msg, "tags: %.140s", err.message);
                td__list_line_error(p->res, p->max_errors, line_no, msg);
            }
            if (ok) {
                e.type = t;
                if (nf > 2) {
                    e.collab = f[2];
                    e.collab_len = fl[2];
                }
                e.negative = nf > 3 && field_is(f[3], fl[3], "NEGATIVE_CLASS");
                stop = p->fn(p->ctx, &e);
            }
        }
        if (scratch != scratch_small)
            td__free(scratch);
        return stop;
    }
    /* "<signal_type> <signal>", split at the first space. */
    size_t sp = 0;
    while (sp < n && s[sp] != ' ' && s[sp] != '\t')
        sp++;
    type_s = s;
    type_n = sp;
    value_s = s + sp;
    value_n = n - sp;
    while (value_n && is_space(value_s[0])) {
        value_s++;
        value_n--;
    }
    if (value_n == 0) {
        td__list_line_error(p->res, p->max_errors, line_no, "expected '<signal_type> <signal>'");
        return 0;
    }
    if (td_signal_type_parse(type_s, type_n, &e.type) != TD_OK || !list_type(e.type)) {
        if (other_type(type_s, type_n)) {
            p->res->unsupported++;
        } else {
            snprintf(msg, sizeof msg, "unknown signal type '%.*s'",
                     (int)(type_n > 40 ? 40 : type_n), type_s);
            td__list_line_error(p->res, p->max_errors, line_no, msg);
        }
        return 0;
    }
    if (td_signal_value_normalize(e.type, value_s, value_n, e.value, &err) != TD_OK) {
        td__list_line_error(p->res, p->max_errors, line_no, err.message);
        return 0;
    }
    return p->fn(p->ctx, &e);
}

static td_status take_line(td__list_parser *p, const char *s, size_t n, td_error *err)
{
    if (p->res->lines >= p->max_lines)
        return td__error_set(err, TD_ERR_LIMIT, "list: more than %llu lines",
                             (unsigned long long)p->max_lines);
    p->res->lines++;
    if (parse_line(p, s, n, p->res->lines)) {
        p->failed = 1;
        return td__error_set(err, TD_ERR_IO, "list: stopped at line %llu",
                             (unsigned long long)p->res->lines);
    }
    return TD_OK;
}

td_status td__list_feed(td__list_parser *p, const char *data, size_t len, td_error *err)
{
    td_status st;
    if (p->failed)
        return td__error_set(err, TD_ERR_INVALID, "list: feed after a failure");
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (p->len + take > p->max_line) {
            p->failed = 1;
            return td__error_set(err, TD_ERR_LIMIT, "list: line %llu is longer than %zu bytes",
                                 (unsigned long long)p->res->lines + 1, p->max_line);
        }
        if (!nl) {
            memcpy(p->buf + p->len, data, take);
            p->len += take;
            return TD_OK;
        }
        if (p->len) {
            memcpy(p->buf + p->len, data, take);
            st = take_line(p, p->buf, p->len + take, err);
            p->len = 0;
        } else {
            st = take_line(p, data, take, err);
        }
        if (st) {
            p->failed = 1;
            return st;
        }
        data += take + 1;
        len -= take + 1;
    }
    return TD_OK;
}

td_status td__list_end(td__list_parser *p, td_error *err)
{
    if (p->failed)
        return td__error_set(err, TD_ERR_INVALID, "list: end after a failure");
    if (!p->len)
        return TD_OK;
    size_t n = p->len;
    p->len = 0;
    return take_line(p, p->buf, n, err);
}

td_status td_list_parse(const void *data, size_t len, td_list_format format, size_t max_line,
                        uint64_t max_lines, size_t max_errors,
                        int (*line_fn)(void *ctx, const td_list_entry *entry), void *ctx,
                        td_import_result *res, td_error *err)
{
    td__list_parser p;
    memset(res, 0, sizeof *res);
    td_status st =
        td__list_init(&p, format, max_line ? max_line : 4096, max_lines ? max_lines : 20000000,
                      max_errors, line_fn, ctx, res, err);
    if (st)
        return st;
    st = td__list_feed(&p, data, len, err);
    if (st == TD_OK)
        st = td__list_end(&p, err);
    td__list_free(&p);
    return st;
}

void td_import_result_clear(td_import_result *res)
{
    if (!res)
        return;
    td__free(res->error_list);
    memset(res, 0, sizeof *res);
}
