/* Signals that are bodies rather than hashes: a video's vPDQ frames, a raw_text document, a URL
 * and the two URL rules. The body is stored whole (signal_bodies) and signals.value holds its
 * SHA-256, so a bank holds one signal per canonical body. The follower puts each into its
 * structure: the vPDQ index (frame hashes in a Hamming index, the vPDQ rule applied with exact
 * counts), the raw_text index (exact candidate filter and the 5% edit rule), the URL maps (the
 * SHA-256 of a canonical URL; url_md5) and the domain / prefix rules. */
#include <stdio.h>
#include <string.h>

#include "casework/service_int.h"
#include "core/alloc.h"
#include "core/error.h"
#include "takedown/media.h"

td_index_map *td__map_for(td_service *svc, td_signal_type type)
{
    switch (type) {
    case TD_SIGNAL_MD5: return svc->md5;
    case TD_SIGNAL_SHA256: return svc->sha256;
    case TD_SIGNAL_URL: return svc->url;
    case TD_SIGNAL_URL_MD5: return svc->url_md5;
    default: return NULL;
    }
}

int td__body_indexed(td_signal_type type)
{
    return type == TD_SIGNAL_VPDQ || type == TD_SIGNAL_TEXT || type == TD_SIGNAL_URL_DOMAIN ||
           type == TD_SIGNAL_URL_PREFIX;
}

static td_status copy_out(const char *s, size_t n, char **out, size_t *out_len, td_error *err)
{
    char *c = td__malloc(n + 1);
    if (!c)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    memcpy(c, s, n);
    c[n] = '\0';
    *out = c;
    *out_len = n;
    return TD_OK;
}

/* The host of a canonical URL ("scheme://host[:port]/..."), without its port. */
static td_status canonical_host(const char *canon, char **out, size_t *out_len, td_error *err)
{
    const char *h = strstr(canon, "://");
    h = h ? h + 3 : canon;
    size_t n = strcspn(h, "/?#");
    if (h[0] == '[') {
        const char *close = memchr(h, ']', n);
        n = close ? (size_t)(close - h) + 1 : n;
    } else {
        const char *colon = memchr(h, ':', n);
        n = colon ? (size_t)(colon - h) : n;
    }
    if (n == 0)
        return td__error_set(err, TD_ERR_INVALID, "the URL has no host");
    return copy_out(h, n, out, out_len, err);
}

td_status td_signal_body_normalize(td_signal_type type, const char *body, size_t len, char **out,
                                   size_t *out_len, td_error *err)
{
    td_status st;
    *out = NULL;
    *out_len = 0;
    if (!td_signal_type_has_body(type))
        return td__error_set(err, TD_ERR_INVALID, "a %s signal's value is a hash, not a body",
                             td_signal_type_name(type));
    if (len > TD_SIGNAL_BODY_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "a %s signal is at most %zu bytes",
                             td_signal_type_name(type), TD_SIGNAL_BODY_MAX);
    if (len == 0)
        return td__error_set(err, TD_ERR_INVALID, "the %s signal is empty",
                             td_signal_type_name(type));
    if (type == TD_SIGNAL_VPDQ) {
        td_vpdq v = {0};
        if ((st = td_vpdq_parse(body, len, 0, &v, err)))
            return td__error_prefix(err, "vpdq: "), st;
        if (v.count == 0)
            st = td__error_set(err, TD_ERR_INVALID, "vpdq: no frames");
        else
            st = td_vpdq_to_text(&v, out, out_len, err);
        td_vpdq_clear(&v);
        return st;
    }
    if (type == TD_SIGNAL_TEXT) {
        char *norm;
        size_t nl;
        if ((st = td_text_normalize(body, len, &norm, &nl, err)))
            return td__error_prefix(err, "raw_text: "), st;
        td__free(norm);
        if (nl == 0)
            return td__error_set(err, TD_ERR_INVALID,
                                 "raw_text: no letters or digits left after normalisation");
        return copy_out(body, len, out, out_len, err);
    }
    char *canon;
    if ((st = td_url_canonicalize(body, len, &canon, err)))
        return td__error_prefix(err, "%s: ", td_signal_type_name(type)), st;
    if (type == TD_SIGNAL_URL_DOMAIN) {
        st = canonical_host(canon, out, out_len, err);
        /* the host alone must read back as the same host (not, say, "hxxp..." refanged) */
        char *again = NULL;
        if (st == TD_OK &&
            (td_url_canonicalize(*out, *out_len, &again, err) != TD_OK ||
             strncmp(again, "http://", 7) != 0 || strncmp(again + 7, *out, *out_len) != 0 ||
             (again[7 + *out_len] != '\0' && again[7 + *out_len] != '/'))) {
            td__free(*out);
            *out = NULL;
            *out_len = 0;
            st = td__error_set(err, TD_ERR_INVALID, "url_domain: not a host name");
        }
        td__free(again);
    } else {
        /* url keeps the query; a prefix rule covers paths, so its query is dropped */
        size_t n = type == TD_SIGNAL_URL_PREFIX ? strcspn(canon, "?#") : strlen(canon);
        st = copy_out(canon, n, out, out_len, err);
    }
    td__free(canon);
    return st;
}

void td__body_display(td_signal_type type, const char *body, size_t len,
                      char display[TD_SIGNAL_DISPLAY_MAX + 1])
{
    if (type == TD_SIGNAL_VPDQ) {
        size_t lines = 0;
        for (size_t i = 0; i < len; i++)
            lines += body[i] == '\n';
        snprintf(display, TD_SIGNAL_DISPLAY_MAX + 1, "%zu frames", lines);
        return;
    }
    size_t n = len < TD_SIGNAL_DISPLAY_MAX ? len : TD_SIGNAL_DISPLAY_MAX;
    /* never cut a UTF-8 sequence: back up to the start of the last one when truncating */
    if (n < len)
        while (n > 0 && ((unsigned char)body[n] & 0xC0) == 0x80)
            n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)body[i];
        display[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    display[n] = '\0';
}

td_status td__body_read(td_store_conn *c, int64_t id, char **body, size_t *len, td_error *err)
{
    td_stmt *q;
    int row;
    *body = NULL;
    *len = 0;
    td_status st =
        td_store_prepare(c, "SELECT body FROM signal_bodies WHERE signal_id = $1", &q, err);
    if (st || (st = td_stmt_bind_int64(q, 1, id, err)) || (st = td_stmt_step(q, &row, err)))
        return st;
    if (row) {
        const void *b = td_stmt_column_blob(q, 0);
        size_t n = td_stmt_column_bytes(q, 0);
        st = copy_out(b ? b : "", n, body, len, err);
    }
    td_stmt_reset(q);
    return st;
}

td_status td__body_index_add(td_service *svc, uint64_t id, td_signal_type type, const char *body,
                             size_t len, td_error *err)
{
    td_status st = TD_OK;
    td_error ignored;
    if (type == TD_SIGNAL_VPDQ) {
        td_vpdq v = {0};
        if (td_vpdq_parse(body, len, 0, &v, &ignored) != TD_OK)
            return TD_OK;
        pthread_rwlock_wrlock(&svc->body_lock);
        st = td_vpdq_index_add(svc->vpdq, id, &v, err);
        pthread_rwlock_unlock(&svc->body_lock);
        td_vpdq_clear(&v);
    } else if (type == TD_SIGNAL_TEXT) {
        pthread_rwlock_wrlock(&svc->body_lock);
        st = td_text_index_add(svc->text, id, body, len, &ignored);
        pthread_rwlock_unlock(&svc->body_lock);
        /* only a text that no longer normalises fails here: skipped like a bad vPDQ file */
        if (st == TD_ERR_INVALID || st == TD_ERR_LIMIT)
            st = TD_OK;
        else if (st)
            st = td__error_set(err, st, "%s", ignored.message);
    } else if (type == TD_SIGNAL_URL_DOMAIN || type == TD_SIGNAL_URL_PREFIX) {
        pthread_rwlock_wrlock(&svc->body_lock);
        st = td_url_rules_add(
            svc->rules, type == TD_SIGNAL_URL_DOMAIN ? TD_URL_RULE_DOMAIN : TD_URL_RULE_PREFIX,
            body, id, &ignored);
        pthread_rwlock_unlock(&svc->body_lock);
        if (st == TD_ERR_INVALID || st == TD_ERR_LIMIT)
            st = TD_OK;
        else if (st)
            st = td__error_set(err, st, "%s", ignored.message);
    }
    return st;
}

void td__body_index_remove(td_service *svc, uint64_t id, td_signal_type type)
{
    pthread_rwlock_wrlock(&svc->body_lock);
    if (type == TD_SIGNAL_VPDQ)
        (void)td_vpdq_index_remove(svc->vpdq, id);
    else if (type == TD_SIGNAL_TEXT)
        td_text_index_remove(svc->text, id);
    else if (type == TD_SIGNAL_URL_DOMAIN || type == TD_SIGNAL_URL_PREFIX)
        (void)td_url_rules_remove(svc->rules, id);
    pthread_rwlock_unlock(&svc->body_lock);
}

void td__media_hashes_clear(td__media_hashes *m)
{
    td_vpdq_clear(&m->vpdq);
    memset(m, 0, sizeof *m);
}

td_status td__hash_media(td_service *svc, const uint8_t *data, size_t len, td__media_hashes *out,
                         td_error *err)
{
    td_media_hash_options mo = {svc->opts.hash, svc->opts.video};
    td_media_hashes mh;
    memset(out, 0, sizeof *out);
    td_hashes_init(&out->h);
    mo.video.vpdq = 1;
    mo.video.tmk = 0;
    td_status st = td_hash_media("media", data, len, &mo, &mh, err);
    if (st)
        return st;
    if (mh.kind == TD_MEDIA_VIDEO) {
        td_video_hashes *vh = &mh.video;
        memcpy(out->h.md5, vh->md5, sizeof out->h.md5);
        memcpy(out->h.sha256, vh->sha256, sizeof out->h.sha256);
        out->vpdq = vh->vpdq; /* moved out */
        memset(&vh->vpdq, 0, sizeof vh->vpdq);
        td_media_hashes_clear(&mh);
        out->h.vpdq = &out->vpdq;
        out->kind = "video";
        return TD_OK;
    }
    const td_file_hashes *fh = &mh.image;
    out->h.n_pdq = fh->n_pdq;
    memcpy(out->h.pdq, fh->pdq, sizeof out->h.pdq);
    out->h.quality = fh->quality;
    memcpy(out->h.md5, fh->md5, sizeof out->h.md5);
    memcpy(out->h.sha256, fh->sha256, sizeof out->h.sha256);
    out->kind = "image";
    return TD_OK;
}

static td_status push(td__cand **cands, size_t *n, size_t *cap, td__cand c, td_error *err)
{
    td_status st = td__grow((void **)cands, cap, *n + 1, sizeof **cands, err);
    if (st == TD_OK)
        (*cands)[(*n)++] = c;
    return st;
}

#define MAX_URL_HITS 256

static td_status check_url(td_service *svc, const char *url, int index, td__cand **cands, size_t *n,
                           size_t *cap, td_error *err)
{
    char *canon;
    char hex[TD_SHA256_HEX_LEN + 1], md5[TD_MD5_HEX_LEN + 1];
    uint64_t ids[MAX_URL_HITS];
    size_t count = 0;
    td_status st = td_url_canonicalize(url, strlen(url), &canon, err);
    if (st)
        return td__error_prefix(err, "url %d: ", index + 1), st;
    size_t cl = strlen(canon);
    if (td_sha256_hex((const uint8_t *)canon, cl, hex) != TD_OK)
        st = td__error_set(err, TD_ERR_INTERNAL, "SHA-256 failed");
    else
        st = td_url_md5(canon, cl, md5, err);
    if (st)
        goto out;
    const struct {
        td_index_map *map;
        const char *key;
        td_signal_type type;
    } exact[] = {{svc->url, hex, TD_SIGNAL_URL}, {svc->url_md5, md5, TD_SIGNAL_URL_MD5}};
    for (size_t e = 0; e < 2 && st == TD_OK; e++) {
        if (td_index_map_size(exact[e].map) == 0)
            continue;
        if ((st =
                 td_index_map_find_hex(exact[e].map, exact[e].key, ids, MAX_URL_HITS, &count, err)))
            break;
        for (size_t i = 0; st == TD_OK && i < count && i < MAX_URL_HITS; i++)
            st = push(cands, n, cap, (td__cand){ids[i], 0, 0, exact[e].type, 0, 0, index}, err);
    }
    if (st)
        goto out;
    pthread_rwlock_rdlock(&svc->body_lock);
    if (td_url_rules_count(svc->rules))
        st = td_url_rules_match(svc->rules, canon, cl, ids, MAX_URL_HITS, &count, err);
    else
        count = 0;
    pthread_rwlock_unlock(&svc->body_lock);
    /* the rule's own type is read with its row (td__cand.type only needs to say "not PDQ") */
    for (size_t i = 0; st == TD_OK && i < count && i < MAX_URL_HITS; i++)
        st = push(cands, n, cap, (td__cand){ids[i], 0, 0, TD_SIGNAL_URL_DOMAIN, 0, 0, index}, err);
out:
    td__free(canon);
    return st;
}

td_status td__check_bodies(td_service *svc, const td_hashes *h, td__cand **cands, size_t *n,
                           size_t *cap, td_error *err)
{
    td_status st = TD_OK;
    if (h->vpdq && h->vpdq->count) {
        td_vpdq_index_match *m = NULL;
        size_t k = 0;
        pthread_rwlock_rdlock(&svc->body_lock);
        if (td_vpdq_index_videos(svc->vpdq))
            st = td_vpdq_index_query(svc->vpdq, h->vpdq, &svc->opts.vpdq, &m, &k, err);
        pthread_rwlock_unlock(&svc->body_lock);
        for (size_t i = 0; st == TD_OK && i < k; i++)
            st = push(cands, n, cap,
                      (td__cand){m[i].id, 0, 0, TD_SIGNAL_VPDQ, m[i].query_percent,
                                 m[i].compared_percent, 0},
                      err);
        td__free(m);
        if (st)
            return st;
    }
    if (h->text) {
        td_text_match *m = NULL;
        size_t k = 0;
        pthread_rwlock_rdlock(&svc->body_lock);
        if (td_text_index_size(svc->text))
            st = td_text_index_query(svc->text, h->text, h->text_len, &m, &k, NULL, err);
        pthread_rwlock_unlock(&svc->body_lock);
        for (size_t i = 0; st == TD_OK && i < k; i++)
            st = push(cands, n, cap,
                      (td__cand){m[i].id,
                                 (int)(m[i].distance > 1000000000 ? 1000000000 : m[i].distance), 0,
                                 TD_SIGNAL_TEXT, 0, 0, 0},
                      err);
        td__free(m);
        if (st)
            return st;
    }
    if (h->n_urls > TD_CHECK_URLS_MAX)
        return td__error_set(err, TD_ERR_LIMIT, "at most %d URLs per check", TD_CHECK_URLS_MAX);
    for (size_t u = 0; st == TD_OK && u < h->n_urls; u++)
        st = check_url(svc, h->urls[u], (int)u, cands, n, cap, err);
    return st;
}
