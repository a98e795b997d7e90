/* The franked bytes of a message with attachments ("tdfm1", docs/franking.md): its text and one
 * reference per attachment (the blob's SHA-256 and the commitment to its key). The decoder reads
 * a reported message, so it trusts no length: each is checked against the limits and against
 * what is left before anything is allocated, and the encoding must end exactly where the last
 * reference does (one message has one encoding). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "frank/frank_int.h"

#define REF_LEN 64 /* blob_sha256 || key_commitment */

static td_status text_check(const char *text, size_t len, td_error *err)
{
    if (len > TD_FRANK_TEXT_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "text: %zu bytes, over the limit of %zu", len,
                             TD_FRANK_TEXT_MAX);
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = td__utf8_next((const unsigned char *)text + i, len - i, &cp);
        if (n == 0)
            return td__error_set(err, TD_ERR_INVALID, "text: invalid UTF-8 at byte %zu", i);
        i += n;
    }
    return TD_OK;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

td_status td_frank_message_encode(const char *text, size_t text_len,
                                  const td_frank_attachment_ref *refs, size_t n, uint8_t **out,
                                  size_t *len, td_error *err)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!out || !len || (!text && text_len) || (!refs && n))
        return td__error_set(err, TD_ERR_INVALID, "message: missing argument");
    if (n > TD_FRANK_ATTACH_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "attachments: %zu, over the limit of %d", n,
                             TD_FRANK_ATTACH_MAX);
    td_status st = text_check(text, text_len, err);
    if (st != TD_OK)
        return st;
    size_t total = TD__FRANK_MSG_MAGIC_LEN + 4 + text_len + 4 + n * REF_LEN;
    uint8_t *p = td__malloc(total);
    if (!p)
        return td__error_set(err, TD_ERR_NOMEM, "message: out of memory");
    memcpy(p, TD__FRANK_MSG_MAGIC, TD__FRANK_MSG_MAGIC_LEN);
    size_t o = TD__FRANK_MSG_MAGIC_LEN;
    put_u32(p + o, (uint32_t)text_len);
    o += 4;
    if (text_len)
        memcpy(p + o, text, text_len);
    o += text_len;
    put_u32(p + o, (uint32_t)n);
    o += 4;
    for (size_t i = 0; i < n; i++, o += REF_LEN) {
        memcpy(p + o, refs[i].blob_sha256, 32);
        memcpy(p + o + 32, refs[i].key_commitment, 32);
    }
    *out = p;
    *len = total;
    return TD_OK;
}

td_status td_frank_message_decode(const uint8_t *msg, size_t len, char **text, size_t *text_len,
                                  td_frank_attachment_ref **refs, size_t *n, td_error *err)
{
    if (text)
        *text = NULL;
    if (text_len)
        *text_len = 0;
    if (refs)
        *refs = NULL;
    if (n)
        *n = 0;
    if (!text || !text_len || !refs || !n || (!msg && len))
        return td__error_set(err, TD_ERR_INVALID, "message: missing argument");
    if (len < TD__FRANK_MSG_MAGIC_LEN + 4 ||
        memcmp(msg, TD__FRANK_MSG_MAGIC, TD__FRANK_MSG_MAGIC_LEN) != 0)
        return td__error_set(err, TD_ERR_INVALID, "message: not a tdfm1 message");
    size_t o = TD__FRANK_MSG_MAGIC_LEN;
    uint32_t tl = get_u32(msg + o);
    o += 4;
    if (tl > TD_FRANK_TEXT_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "text: %u bytes, over the limit of %zu", tl,
                             TD_FRANK_TEXT_MAX);
    if (len - o < (size_t)tl + 4)
        return td__error_set(err, TD_ERR_INVALID, "message: truncated in the text");
    td_status st = text_check((const char *)msg + o, tl, err);
    if (st != TD_OK)
        return st;
    const uint8_t *t = msg + o;
    o += tl;
    uint32_t count = get_u32(msg + o);
    o += 4;
    if (count > TD_FRANK_ATTACH_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "attachments: %u, over the limit of %d", count,
                             TD_FRANK_ATTACH_MAX);
    if (len - o != (size_t)count * REF_LEN)
        return td__error_set(err, TD_ERR_INVALID,
                             "message: %zu bytes after the count, %u attachments take %zu", len - o,
                             count, (size_t)count * REF_LEN);
    char *tx = td__malloc((size_t)tl + 1);
    td_frank_attachment_ref *r = count ? td__mallocarray(count, sizeof *r) : NULL;
    if (!tx || (count && !r)) {
        td__free(tx);
        td__free(r);
        return td__error_set(err, TD_ERR_NOMEM, "message: out of memory");
    }
    if (tl)
        memcpy(tx, t, tl);
    tx[tl] = '\0';
    for (uint32_t i = 0; i < count; i++, o += REF_LEN) {
        memcpy(r[i].blob_sha256, msg + o, 32);
        memcpy(r[i].key_commitment, msg + o + 32, 32);
    }
    *text = tx;
    *text_len = tl;
    *refs = r;
    *n = count;
    return TD_OK;
}
