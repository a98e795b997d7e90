/* multipart/form-data (RFC 7578 over RFC 2046's multipart syntax). The body is complete and
 * bounded by the route's body cap before this runs; the parser only walks it: delimiters are
 * "\r\n--boundary" (the first one may start the body), each part is header lines up to an
 * empty line, then content up to the next delimiter; "--" after a delimiter ends the body.
 * Only Content-Disposition is read (form-data, name, filename); other part headers are
 * allowed and skipped, as every form library sends a Content-Type per file. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/multipart.h"

int td__multipart_boundary(const char *ct, char out[71])
{
    static const char media[] = "multipart/form-data";
    if (!ct || strncasecmp(ct, media, sizeof media - 1) != 0)
        return 0;
    const char *p = ct + sizeof media - 1;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ';')
            return 0;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *key = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t klen = (size_t)(p - key);
        while (klen && (key[klen - 1] == ' ' || key[klen - 1] == '\t'))
            klen--;
        if (*p != '=')
            return 0;
        p++;
        char val[71];
        size_t n = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (n >= 70)
                    return 0;
                val[n++] = *p;
            }
            if (*p != '"')
                return 0;
            p++;
        } else {
            for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++) {
                if (n >= 70)
                    return 0;
                val[n++] = *p;
            }
        }
        val[n] = '\0';
        if (klen == 8 && strncasecmp(key, "boundary", 8) == 0) {
            if (n == 0 || val[n - 1] == ' ')
                return 0;
            memcpy(out, val, n + 1);
            return 1;
        }
    }
    return 0;
}

static int fail(char why[TD__MPART_WHY_MAX], const char *msg)
{
    snprintf(why, TD__MPART_WHY_MAX, "%s", msg);
    return -1;
}

/* The next "\r\n--" + boundary at or after from; len when there is none. */
static size_t find_delim(const uint8_t *b, size_t len, size_t from, const char *bd, size_t bdlen)
{
    size_t need = 4 + bdlen;
    for (size_t i = from; i + need <= len; i++) {
        const uint8_t *p = memchr(b + i, '\r', len - i - need + 1);
        if (!p)
            return len;
        i = (size_t)(p - b);
        if (p[1] == '\n' && p[2] == '-' && p[3] == '-' && memcmp(p + 4, bd, bdlen) == 0)
            return i;
    }
    return len;
}

/* A parameter value of Content-Disposition: a quoted string (backslash escapes) or a token,
 * copied into out (cap bytes with the NUL). Returns the bytes consumed, 0 when malformed. */
static size_t param_value(const char *p, const char *end, char *out, size_t cap, int *too_long)
{
    const char *s = p;
    size_t n = 0;
    *too_long = 0;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end)
                p++;
            if (n + 1 >= cap)
                *too_long = 1;
            else
                out[n++] = *p;
        }
        if (p >= end)
            return 0;
        p++;
    } else {
        for (; p < end && *p != ';' && *p != ' ' && *p != '\t'; p++) {
            if (n + 1 >= cap)
                *too_long = 1;
            else
                out[n++] = *p;
        }
    }
    out[n] = '\0';
    return (size_t)(p - s);
}

/* Content-Disposition: form-data; name="..."; filename="..." (value between v and end). */
static int disposition(const char *v, const char *end, td__mpart *part, int *named,
                       char why[TD__MPART_WHY_MAX])
{
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if ((size_t)(end - v) < 9 || strncasecmp(v, "form-data", 9) != 0)
        return fail(why, "a part's Content-Disposition is not form-data");
    v += 9;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        if (v == end)
            break;
        if (*v != ';')
            return fail(why, "a part's Content-Disposition is malformed");
        v++;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        const char *key = v;
        while (v < end && *v != '=' && *v != ';')
            v++;
        size_t klen = (size_t)(v - key);
        while (klen && (key[klen - 1] == ' ' || key[klen - 1] == '\t'))
            klen--;
        if (v == end || *v != '=')
            return fail(why, "a part's Content-Disposition parameter has no value");
        v++;
        char val[TD__MPART_NAME_MAX + 1];
        int too_long = 0;
        size_t used = param_value(v, end, val, sizeof val, &too_long);
        if (!used)
            return fail(why, "a part's Content-Disposition has an unterminated quoted value");
        v += used;
        if (klen == 4 && strncasecmp(key, "name", 4) == 0) {
            if (too_long)
                return fail(why, "a part's name is longer than 128 bytes");
            memcpy(part->name, val, strlen(val) + 1);
            *named = 1;
        } else if ((klen == 8 && strncasecmp(key, "filename", 8) == 0) ||
                   (klen == 9 && strncasecmp(key, "filename*", 9) == 0)) {
            /* the file's own name is informative only: a long one is cut, not refused */
            memcpy(part->filename, val, strlen(val) + 1);
            part->is_file = 1;
        }
    }
    return 0;
}

/* The header lines of a part, from h to hend (the empty line excluded). */
static int part_headers(const char *h, const char *hend, td__mpart *part,
                        char why[TD__MPART_WHY_MAX])
{
    int named = 0, seen = 0;
    while (h < hend) {
        const char *eol = h;
        while (eol + 1 < hend && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        if (eol + 1 >= hend)
            eol = hend;
        const char *colon = memchr(h, ':', (size_t)(eol - h));
        if (!colon)
            return fail(why, "a part's header line has no colon");
        size_t nlen = (size_t)(colon - h);
        if (nlen == 19 && strncasecmp(h, "Content-Disposition", 19) == 0) {
            if (seen++)
                return fail(why, "a part has two Content-Disposition headers");
            if (disposition(colon + 1, eol, part, &named, why))
                return -1;
        }
        h = eol + 2;
    }
    if (!seen || !named)
        return fail(why, "a part has no Content-Disposition with a name");
    return 0;
}

int td__multipart_parse(const char *bd, const uint8_t *b, size_t len,
                        td__mpart parts[TD__MPART_MAX], size_t *n, char why[TD__MPART_WHY_MAX])
{
    size_t bdlen = strlen(bd);
    *n = 0;
    why[0] = '\0';
    if (bdlen == 0 || bdlen > 70)
        return fail(why, "the boundary must be 1 to 70 bytes");
    /* The first delimiter: at the very start, or after a preamble. */
    size_t pos;
    if (len >= 2 + bdlen && b[0] == '-' && b[1] == '-' && memcmp(b + 2, bd, bdlen) == 0)
        pos = 2 + bdlen;
    else {
        pos = find_delim(b, len, 0, bd, bdlen);
        if (pos == len)
            return fail(why, "the body has no multipart boundary");
        pos += 4 + bdlen;
    }
    for (;;) {
        /* After a delimiter: "--" ends the body; otherwise optional padding, then CRLF. */
        if (pos + 2 <= len && b[pos] == '-' && b[pos + 1] == '-')
            return 0;
        while (pos < len && (b[pos] == ' ' || b[pos] == '\t'))
            pos++;
        if (pos + 2 > len || b[pos] != '\r' || b[pos + 1] != '\n')
            return fail(why, "a multipart boundary is not followed by a line end");
        pos += 2;
        if (*n == TD__MPART_MAX)
            return fail(why, "more than 16 parts");
        /* Headers end at the first empty line. */
        size_t hend = pos;
        int found = 0;
        for (; hend + 1 < len; hend++) {
            if (b[hend] == '\r' && b[hend + 1] == '\n' &&
                (hend == pos || (hend + 3 < len && b[hend + 2] == '\r' && b[hend + 3] == '\n'))) {
                found = 1;
                break;
            }
        }
        if (!found)
            return fail(why, "a part's headers do not end");
        td__mpart *part = &parts[*n];
        memset(part, 0, sizeof *part);
        if (hend == pos) /* no header at all */
            return fail(why, "a part has no Content-Disposition with a name");
        for (size_t i = pos; i < hend; i++)
            if (b[i] == 0)
                return fail(why, "a part's headers hold a NUL byte");
        if (part_headers((const char *)b + pos, (const char *)b + hend, part, why))
            return -1;
        size_t content = hend + 4;
        size_t next = find_delim(b, len, content, bd, bdlen);
        if (next == len)
            return fail(why, "the body ends inside a part (no closing boundary)");
        part->data = b + content;
        part->len = next - content;
        (*n)++;
        pos = next + 4 + bdlen;
    }
}
