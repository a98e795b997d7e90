/* vPDQ hash lists: the reference hash-file format and the brute-force two-percentage rule.
 * Frames are filtered by quality first and de-duplicated second, as python-threatexchange's
 * prepare_vpdq_feature does (the order matters when one hash appears with two qualities). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/vpdq_int.h"
#include "takedown/video_hash.h"

#define DEFAULT_MAX_FRAMES ((size_t)10000000)

void td_vpdq_clear(td_vpdq *v)
{
    if (!v)
        return;
    td__free(v->frames);
    memset(v, 0, sizeof *v);
}

td_status td_vpdq_append(td_vpdq *v, const td_vpdq_frame *f, td_error *err)
{
    if (v->count == v->capacity) {
        size_t cap = v->capacity ? v->capacity * 2 : 64;
        td_vpdq_frame *grown = td__realloc(v->frames, cap * sizeof *grown);
        if (!grown || cap < v->capacity)
            return td__error_set(err, TD_ERR_NOMEM, "out of memory for %zu frame hashes", cap);
        v->frames = grown;
        v->capacity = cap;
    }
    v->frames[v->count++] = *f;
    return TD_OK;
}

int td_vpdq_format_line(const td_vpdq_frame *f, char out[TD_VPDQ_LINE_MAX])
{
    char hex[TD_PDQ_HEX_LEN + 1];
    td_pdq_to_hex(&f->hash, hex);
    return snprintf(out, TD_VPDQ_LINE_MAX, "%u,%d,%s,%.3f", f->frame, f->quality, hex,
                    f->timestamp);
}

td_status td_vpdq_to_text(const td_vpdq *v, char **text, size_t *len, td_error *err)
{
    *text = NULL;
    *len = 0;
    char *buf = td__mallocarray(v->count + 1, TD_VPDQ_LINE_MAX);
    if (!buf)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < v->count; i++) {
        n += (size_t)td_vpdq_format_line(&v->frames[i], buf + n);
        buf[n++] = '\n';
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return TD_OK;
}

/* Parses an unsigned decimal field of at most max into *value; advances *p past it. */
static int parse_uint(const char **p, const char *end, unsigned long long max,
                      unsigned long long *value)
{
    const char *s = *p;
    unsigned long long v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long long)(*s - '0');
        if (v > max)
            return -1;
        s++;
    }
    *p = s;
    *value = v;
    return 0;
}

static td_status parse_line(const char *s, const char *end, td_vpdq_frame *f)
{
    unsigned long long frame, quality;
    if (parse_uint(&s, end, UINT32_MAX, &frame) || s >= end || *s++ != ',')
        return TD_ERR_INVALID;
    if (parse_uint(&s, end, 100, &quality) || s >= end || *s++ != ',')
        return TD_ERR_INVALID;
    if (end - s < TD_PDQ_HEX_LEN + 2 || s[TD_PDQ_HEX_LEN] != ',' ||
        td_pdq_from_hex(s, TD_PDQ_HEX_LEN, &f->hash) != TD_OK)
        return TD_ERR_INVALID;
    s += TD_PDQ_HEX_LEN + 1;
    char num[40];
    size_t n = (size_t)(end - s);
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    if (n == 0 || n >= sizeof num)
        return TD_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return TD_ERR_INVALID;
    memcpy(num, s, n);
    num[n] = '\0';
    char *stop;
    f->timestamp = strtod(num, &stop);
    if (*stop != '\0')
        return TD_ERR_INVALID;
    f->frame = (uint32_t)frame;
    f->quality = (int)quality;
    return TD_OK;
}

td_status td_vpdq_parse(const char *text, size_t len, size_t max_frames, td_vpdq *out,
                        td_error *err)
{
    memset(out, 0, sizeof *out);
    if (max_frames == 0)
        max_frames = DEFAULT_MAX_FRAMES;
    const char *p = text, *end = text + len;
    size_t line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        line++;
        if (stop > p && !(stop - p == 1 && *p == '\r')) {
            td_vpdq_frame f;
            if (out->count >= max_frames) {
                td_vpdq_clear(out);
                return td__error_set(err, TD_ERR_LIMIT, "more than %zu frame hashes", max_frames);
            }
            if (parse_line(p, stop, &f) != TD_OK) {
                td_vpdq_clear(out);
                return td__error_set(err, TD_ERR_INVALID,
                                     "line %zu: expected frameNumber,quality,pdqhex,timestamp",
                                     line);
            }
            td_status s = td_vpdq_append(out, &f, err);
            if (s != TD_OK) {
                td_vpdq_clear(out);
                return s;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return TD_OK;
}

void td_vpdq_match_options_default(td_vpdq_match_options *opts)
{
    opts->distance = TD_PDQ_MATCH_DISTANCE;
    opts->min_quality = TD_PDQ_MIN_QUALITY;
    opts->query_percent = TD_VPDQ_DEFAULT_QUERY_PERCENT;
    opts->compared_percent = TD_VPDQ_DEFAULT_COMPARED_PERCENT;
}

static int compare_pdq(const void *a, const void *b) { return memcmp(a, b, sizeof(td_pdq)); }

td_status td__vpdq_unique(const td_vpdq *v, int min_quality, td_pdq **out, size_t *count,
                          td_error *err)
{
    *out = NULL;
    *count = 0;
    td_pdq *h = td__mallocarray(v->count ? v->count : 1, sizeof *h);
    if (!h)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < v->count; i++)
        if (v->frames[i].quality >= min_quality)
            h[n++] = v->frames[i].hash;
    qsort(h, n, sizeof *h, compare_pdq);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || memcmp(&h[u - 1], &h[i], sizeof *h) != 0)
            h[u++] = h[i];
    *out = h;
    *count = u;
    return TD_OK;
}

int td__vpdq_decide(const td_vpdq_match_options *o, size_t q_matched, size_t q_total,
                    size_t c_matched, size_t c_total, double *q_percent, double *c_percent)
{
    *q_percent = q_total ? (double)q_matched * 100.0 / (double)q_total : 0.0;
    *c_percent = c_total ? (double)c_matched * 100.0 / (double)c_total : 0.0;
    return q_matched > 0 && c_matched > 0 && *q_percent >= o->query_percent &&
           *c_percent >= o->compared_percent;
}

td_status td_vpdq_match(const td_vpdq *query, const td_vpdq *compared,
                        const td_vpdq_match_options *opts, td_vpdq_match_result *result,
                        td_error *err)
{
    td_vpdq_match_options defaults;
    if (!opts) {
        td_vpdq_match_options_default(&defaults);
        opts = &defaults;
    }
    memset(result, 0, sizeof *result);
    td_pdq *q = NULL, *c = NULL;
    size_t nq, nc;
    td_status s = td__vpdq_unique(query, opts->min_quality, &q, &nq, err);
    if (s == TD_OK)
        s = td__vpdq_unique(compared, opts->min_quality, &c, &nc, err);
    if (s != TD_OK) {
        td__free(q);
        return s;
    }
    unsigned char *c_hit = td__calloc(nc ? nc : 1, 1);
    if (!c_hit) {
        td__free(q);
        td__free(c);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    size_t q_matched = 0, c_matched = 0;
    for (size_t i = 0; i < nq; i++) {
        int hit = 0;
        for (size_t j = 0; j < nc; j++) {
            if (td_pdq_distance(&q[i], &c[j]) <= opts->distance) {
                hit = 1;
                if (!c_hit[j]) {
                    c_hit[j] = 1;
                    c_matched++;
                }
            }
        }
        q_matched += (size_t)hit;
    }
    result->match = td__vpdq_decide(opts, q_matched, nq, c_matched, nc, &result->query_percent,
                                    &result->compared_percent);
    td__free(c_hit);
    td__free(q);
    td__free(c);
    return TD_OK;
}
