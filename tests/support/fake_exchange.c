/* The ThreatExchange and TCAP stand-in of fake_exchange.h: one libmicrohttpd daemon on
 * 127.0.0.1, answering from datasets held in memory, one request at a time (its polling thread),
 * every request recorded. Pages are rendered with jansson, except the generated feed's, which
 * are written once with snprintf before the feed is served. */
#include "support/fake_exchange.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_BODY_MAX (1 << 20)
#define FX_FAULTS 16
#define FX_REQUESTS_MAX 4096

typedef struct te_rec {
    char *id, *indicator, *type, *status;
    char *tags[5];
    int64_t last_updated;
    int should_delete, tags_graph, time_as_string;
} te_rec;

typedef struct tcap_rec {
    char *hash_digest, *algorithm, *ideology, *file_type;
    int deleted;
    double updated_on;
    long long id;
} tcap_rec;

struct fake_exchange {
    struct MHD_Daemon *d;
    unsigned port;
    char base[64];
    pthread_mutex_t mu;
    /* ThreatExchange */
    char te_group[80], te_token[600];
    te_rec *te;
    size_t te_n, te_page;
    int te_next_only;
    char **gen_pages; /* the generated feed, page by page (NULL: the dataset above) */
    size_t *gen_lens, gen_count, gen_page;
    uint64_t next_upload_id;
    /* TCAP */
    char tcap_user[256], tcap_pass[256];
    tcap_rec *tcap;
    size_t tcap_n, tcap_page;
    int tokens_valid_from; /* tokens numbered below this are expired */
    int tokens_issued, logins, refuse_tokens;
    /* faults and requests */
    int faults[FX_FAULTS], fault_retry[FX_FAULTS];
    size_t fault_n;
    fx_request *reqs;
    size_t req_n;
};

typedef struct conn_ctx {
    char *body;
    size_t len;
    int too_large;
} conn_ctx;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* ---- datasets ---- */

static void te_free(fake_exchange *fx)
{
    for (size_t i = 0; i < fx->te_n; i++) {
        te_rec *r = &fx->te[i];
        free(r->id), free(r->indicator), free(r->type), free(r->status);
        for (int k = 0; k < 5; k++)
            free(r->tags[k]);
    }
    free(fx->te);
    fx->te = NULL;
    fx->te_n = 0;
    for (size_t i = 0; i < fx->gen_count; i++)
        free(fx->gen_pages[i]);
    free(fx->gen_pages);
    free(fx->gen_lens);
    fx->gen_pages = NULL;
    fx->gen_lens = NULL;
    fx->gen_count = 0;
}

void fx_te_set(fake_exchange *fx, const char *group, const char *token, const fx_te_record *recs,
               size_t n, size_t max_page)
{
    pthread_mutex_lock(&fx->mu);
    te_free(fx);
    snprintf(fx->te_group, sizeof fx->te_group, "%s", group);
    snprintf(fx->te_token, sizeof fx->te_token, "%s", token);
    fx->te = calloc(n ? n : 1, sizeof *fx->te);
    for (size_t i = 0; i < n; i++) {
        te_rec *r = &fx->te[i];
        r->id = dup_or_null(recs[i].id);
        r->indicator = dup_or_null(recs[i].indicator);
        r->type = dup_or_null(recs[i].type);
        r->status = dup_or_null(recs[i].status);
        for (int k = 0; k < 4 && recs[i].tags[k]; k++)
            r->tags[k] = strdup(recs[i].tags[k]);
        r->last_updated = recs[i].last_updated;
        r->should_delete = recs[i].should_delete;
        r->tags_graph = recs[i].tags_graph;
        r->time_as_string = recs[i].time_as_string;
    }
    fx->te_n = n;
    fx->te_page = max_page ? max_page : 500;
    pthread_mutex_unlock(&fx->mu);
}

void fx_te_next_only(fake_exchange *fx, int on)
{
    pthread_mutex_lock(&fx->mu);
    fx->te_next_only = on;
    pthread_mutex_unlock(&fx->mu);
}

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fx_te_generated(size_t i, fx_te_record *out, char id[24], char ind[72])
{
    static const char *const types[] = {"HASH_PDQ",    "HASH_PDQ", "HASH_PDQ", "HASH_PDQ",
                                        "HASH_PDQ",    "HASH_PDQ", "HASH_MD5", "HASH_VIDEO_MD5",
                                        "HASH_SHA256", "HASH_TMK"};
    memset(out, 0, sizeof *out);
    uint64_t h = mix64(i);
    snprintf(id, 24, "%" PRIu64, (uint64_t)1000000000000ULL + i);
    const char *type = types[h % 10];
    size_t hexlen = strcmp(type, "HASH_MD5") == 0 || strcmp(type, "HASH_VIDEO_MD5") == 0 ? 32 : 64;
    for (size_t k = 0; k < hexlen; k += 16)
        snprintf(ind + k, 17, "%016" PRIx64, mix64(h + k));
    ind[hexlen] = '\0';
    out->id = id;
    out->indicator = ind;
    out->type = type;
    out->last_updated = 1600000000 + (int64_t)(i / 8);
    out->should_delete = (h >> 20) % 50 == 0;
    out->status = (h >> 32) % 97 == 0 ? "NON_MALICIOUS" : "MALICIOUS";
    out->tags[0] = "media_type_photo";
    out->tags[1] = (h >> 40) % 3 == 0 ? "gifct:terrorism" : "violent extremism";
}

static int render_generated(char *p, size_t cap, const fx_te_record *r)
{
    return snprintf(p, cap,
                    "{\"id\":\"%s\",\"indicator\":\"%s\",\"type\":\"%s\",\"creation_time\":%" PRId64
                    ",\"last_updated\":%" PRId64 ",\"should_delete\":%s,\"tags\":[\"%s\",\"%s\"],"
                    "\"status\":\"%s\",\"applications_with_opinions\":[\"1234567890\"]}",
                    r->id, r->indicator, r->type, r->last_updated - 86400, r->last_updated,
                    r->should_delete ? "true" : "false", r->tags[0], r->tags[1], r->status);
}

void fx_te_generate(fake_exchange *fx, const char *group, const char *token, size_t n,
                    size_t page_size)
{
    fx_te_set(fx, group, token, NULL, 0, page_size);
    pthread_mutex_lock(&fx->mu);
    size_t pages = n ? (n + page_size - 1) / page_size : 1;
    fx->gen_pages = calloc(pages, sizeof *fx->gen_pages);
    fx->gen_lens = calloc(pages, sizeof *fx->gen_lens);
    fx->gen_count = pages;
    fx->gen_page = page_size;
    for (size_t pg = 0; pg < pages; pg++) {
        size_t cap = 512 + page_size * 512, len = 0;
        char *p = malloc(cap);
        len += (size_t)snprintf(p + len, cap - len, "{\"data\":[");
        for (size_t i = pg * page_size; i < n && i < (pg + 1) * page_size; i++) {
            fx_te_record r;
            char id[24], ind[72];
            fx_te_generated(i, &r, id, ind);
            if (i > pg * page_size)
                p[len++] = ',';
            len += (size_t)render_generated(p + len, cap - len, &r);
        }
        size_t end = (pg + 1) * page_size;
        if (end < n)
            len += (size_t)snprintf(p + len, cap - len,
                                    "],\"paging\":{\"cursors\":{\"before\":\"QVFI%zu==\","
                                    "\"after\":\"QVFI%zu==\"},\"next\":\"%s/%s/threat_updates/"
                                    "?access_token=x&limit=%zu&after=QVFI%zu%%3D%%3D\"}}",
                                    pg * page_size, end, fx->base, group, page_size, end);
        else
            len += (size_t)snprintf(p + len, cap - len,
                                    "],\"paging\":{\"cursors\":{\"before\":\"QVFI%zu==\","
                                    "\"after\":\"QVFI%zu==\"}}}",
                                    pg * page_size, n);
        fx->gen_pages[pg] = p;
        fx->gen_lens[pg] = len;
    }
    pthread_mutex_unlock(&fx->mu);
}

static void tcap_free(fake_exchange *fx)
{
    for (size_t i = 0; i < fx->tcap_n; i++) {
        tcap_rec *r = &fx->tcap[i];
        free(r->hash_digest), free(r->algorithm), free(r->ideology), free(r->file_type);
    }
    free(fx->tcap);
    fx->tcap = NULL;
    fx->tcap_n = 0;
}

void fx_tcap_set(fake_exchange *fx, const char *username, const char *password,
                 const fx_tcap_record *recs, size_t n, size_t page_size)
{
    pthread_mutex_lock(&fx->mu);
    tcap_free(fx);
    snprintf(fx->tcap_user, sizeof fx->tcap_user, "%s", username);
    snprintf(fx->tcap_pass, sizeof fx->tcap_pass, "%s", password);
    fx->tcap = calloc(n ? n : 1, sizeof *fx->tcap);
    for (size_t i = 0; i < n; i++) {
        tcap_rec *r = &fx->tcap[i];
        r->hash_digest = dup_or_null(recs[i].hash_digest);
        r->algorithm = dup_or_null(recs[i].algorithm);
        r->ideology = dup_or_null(recs[i].ideology);
        r->file_type = dup_or_null(recs[i].file_type);
        r->deleted = recs[i].deleted;
        r->updated_on = recs[i].updated_on;
        r->id = recs[i].id;
    }
    fx->tcap_n = n;
    fx->tcap_page = page_size ? page_size : 1000;
    pthread_mutex_unlock(&fx->mu);
}

void fx_tcap_expire_tokens(fake_exchange *fx)
{
    pthread_mutex_lock(&fx->mu);
    fx->tokens_valid_from = fx->tokens_issued + 1;
    pthread_mutex_unlock(&fx->mu);
}

void fx_tcap_refuse_tokens(fake_exchange *fx, int on)
{
    pthread_mutex_lock(&fx->mu);
    fx->refuse_tokens = on;
    pthread_mutex_unlock(&fx->mu);
}

int fx_tcap_logins(const fake_exchange *fx)
{
    pthread_mutex_lock((pthread_mutex_t *)&fx->mu);
    int n = fx->logins;
    pthread_mutex_unlock((pthread_mutex_t *)&fx->mu);
    return n;
}

void fx_inject(fake_exchange *fx, fx_fault fault, int retry_after_s)
{
    pthread_mutex_lock(&fx->mu);
    if (fx->fault_n < FX_FAULTS) {
        fx->faults[fx->fault_n] = fault;
        fx->fault_retry[fx->fault_n] = retry_after_s;
        fx->fault_n++;
    }
    pthread_mutex_unlock(&fx->mu);
}

static int take_fault(fake_exchange *fx, int *retry_after)
{
    if (fx->fault_n == 0)
        return 0;
    int f = fx->faults[0];
    *retry_after = fx->fault_retry[0];
    memmove(fx->faults, fx->faults + 1, (fx->fault_n - 1) * sizeof fx->faults[0]);
    memmove(fx->fault_retry, fx->fault_retry + 1, (fx->fault_n - 1) * sizeof fx->fault_retry[0]);
    fx->fault_n--;
    return f;
}

/* ---- requests ---- */

size_t fx_request_count(fake_exchange *fx)
{
    pthread_mutex_lock(&fx->mu);
    size_t n = fx->req_n;
    pthread_mutex_unlock(&fx->mu);
    return n;
}

int fx_request_get(fake_exchange *fx, size_t i, fx_request *out)
{
    pthread_mutex_lock(&fx->mu);
    int ok = i < fx->req_n;
    if (ok)
        *out = fx->reqs[i];
    pthread_mutex_unlock(&fx->mu);
    return ok;
}

void fx_requests_clear(fake_exchange *fx)
{
    pthread_mutex_lock(&fx->mu);
    fx->req_n = 0;
    pthread_mutex_unlock(&fx->mu);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

const char *fx_arg(const char *list, const char *name, int form, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (size_t i = nl + 1; i < len && o + 1 < cap; i++) {
                if (form && p[i] == '+') {
                    out[o++] = ' ';
                } else if (form && p[i] == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 &&
                           hexval(p[i + 2]) >= 0) {
                    out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
                    i += 2;
                } else {
                    out[o++] = p[i];
                }
            }
            out[o] = '\0';
            return out;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

typedef struct query_acc {
    char *q;
    size_t cap;
} query_acc;

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    (void)kind;
    query_acc *a = cls;
    size_t n = strlen(a->q);
    snprintf(a->q + n, a->cap - n, "%s%s=%s", n ? "&" : "", key, value ? value : "");
    return MHD_YES;
}

static void record(fake_exchange *fx, struct MHD_Connection *conn, const char *method,
                   const char *url, const conn_ctx *c)
{
    if (fx->req_n >= FX_REQUESTS_MAX)
        return;
    if (!fx->reqs)
        fx->reqs = calloc(FX_REQUESTS_MAX, sizeof *fx->reqs);
    fx_request *r = &fx->reqs[fx->req_n++];
    memset(r, 0, sizeof *r);
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", url);
    query_acc a = {r->query, sizeof r->query};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_arg, &a);
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    snprintf(r->authorization, sizeof r->authorization, "%s", h ? h : "");
    h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    snprintf(r->content_type, sizeof r->content_type, "%s", h ? h : "");
    size_t n = c->len < sizeof r->body - 1 ? c->len : sizeof r->body - 1;
    if (n)
        memcpy(r->body, c->body, n);
    r->body[n] = '\0';
    r->body_len = c->len;
}

/* ---- answers ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                             int owned, int retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after > 0) {
        char v[32];
        snprintf(v, sizeof v, "%d", retry_after);
        MHD_add_response_header(r, "Retry-After", v);
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json_retry(struct MHD_Connection *conn, unsigned status, json_t *j,
                                        int retry_after)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return reply(conn, status, s, strlen(s), 1, retry_after);
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, json_t *j)
{
    return reply_json_retry(conn, status, j, 0);
}

static enum MHD_Result te_error(struct MHD_Connection *conn, unsigned status, const char *type,
                                int code, const char *message)
{
    return reply_json(conn, status,
                      json_pack("{s:{s:s,s:s,s:i,s:s}}", "error", "message", message, "type", type,
                                "code", code, "fbtrace_id", "AbCdEf123"));
}

/* A fault for a feed request, answered here; 0 when there is none. */
static int fault_answer(fake_exchange *fx, struct MHD_Connection *conn, enum MHD_Result *ret)
{
    int retry = 0;
    int f = take_fault(fx, &retry);
    static const char cut[] = "{\"data\":[{\"id\":\"1\",\"indicator\":\"ab";
    static const char shape[] = "{\"data\":{\"id\":\"1\"},\"results\":{\"id\":1}}";
    static const char busy[] = "upstream busy";
    switch (f) {
    case FX_FAULT_429:
        *ret = reply_json_retry(conn, 429,
                                json_pack("{s:{s:s,s:i}}", "error", "message",
                                          "Calls to this api have exceeded the rate limit.", "code",
                                          613),
                                retry);
        return 1;
    case FX_FAULT_503: *ret = reply(conn, 503, (char *)busy, sizeof busy - 1, 0, 0); return 1;
    case FX_FAULT_MALFORMED: *ret = reply(conn, 200, (char *)cut, sizeof cut - 1, 0, 0); return 1;
    case FX_FAULT_WRONG_SHAPE:
        *ret = reply(conn, 200, (char *)shape, sizeof shape - 1, 0, 0);
        return 1;
    case FX_FAULT_TE_RATE:
        *ret = te_error(conn, 400, "OAuthException", 4, "Application request limit reached");
        return 1;
    case FX_FAULT_TE_OAUTH:
        *ret = te_error(conn, 400, "OAuthException", 190, "Error validating access token");
        return 1;
    default: return 0;
    }
}

static json_t *te_record_json(const te_rec *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(r->id));
    json_object_set_new(j, "indicator", json_string(r->indicator));
    json_object_set_new(j, "type", json_string(r->type));
    json_object_set_new(j, "creation_time", json_integer(r->last_updated - 3600));
    if (r->time_as_string) {
        char t[32];
        snprintf(t, sizeof t, "%" PRId64, r->last_updated);
        json_object_set_new(j, "last_updated", json_string(t));
    } else {
        json_object_set_new(j, "last_updated", json_integer(r->last_updated));
    }
    json_object_set_new(j, "should_delete", json_boolean(r->should_delete));
    json_t *tags = json_array();
    for (int k = 0; k < 5 && r->tags[k]; k++) {
        if (r->tags_graph)
            json_array_append_new(tags, json_pack("{s:s,s:s}", "id", "556677", "text", r->tags[k]));
        else
            json_array_append_new(tags, json_string(r->tags[k]));
    }
    if (r->tags_graph)
        json_object_set_new(j, "tags", json_pack("{s:o}", "data", tags));
    else
        json_object_set_new(j, "tags", tags);
    if (r->status)
        json_object_set_new(j, "status", json_string(r->status));
    json_object_set_new(j, "applications_with_opinions", json_pack("[s]", "1234567890"));
    return j;
}

static int type_listed(const char *types, const char *type)
{
    size_t n = strlen(type);
    for (const char *p = types; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, type, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* "QVFI<position>==" */
static int cursor_pos(const char *c, size_t *pos)
{
    if (!c)
        return *pos = 0, 1;
    if (strncmp(c, "QVFI", 4) != 0)
        return 0;
    char *end;
    unsigned long long v = strtoull(c + 4, &end, 10);
    if (end == c + 4 || strcmp(end, "==") != 0)
        return 0;
    *pos = (size_t)v;
    return 1;
}

static enum MHD_Result te_feed(fake_exchange *fx, struct MHD_Connection *conn)
{
    const char *token = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "access_token");
    if (!token || strcmp(token, fx->te_token) != 0)
        return te_error(conn, 400, "OAuthException", 190, "Invalid OAuth access token.");
    enum MHD_Result ret;
    if (fault_answer(fx, conn, &ret))
        return ret;
    const char *after = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
    const char *start = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "start_time");
    const char *types = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "types");
    const char *limit_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    size_t pos;
    if (!cursor_pos(after, &pos))
        return te_error(conn, 400, "GraphMethodException", 100, "Invalid cursor");
    if (fx->gen_pages) {
        if (start || types || pos % fx->gen_page != 0 || pos / fx->gen_page >= fx->gen_count)
            return te_error(conn, 400, "GraphMethodException", 100,
                            "the generated feed serves whole pages only");
        size_t pg = pos / fx->gen_page;
        return reply(conn, 200, fx->gen_pages[pg], fx->gen_lens[pg], 0, 0);
    }
    size_t limit = limit_s ? (size_t)strtoull(limit_s, NULL, 10) : 25;
    if (limit == 0 || limit > fx->te_page)
        limit = fx->te_page;
    int64_t since = start ? (int64_t)strtoll(start, NULL, 10) : 0;
    /* The query's records: the dataset filtered by start_time and types, in order. */
    json_t *data = json_array();
    size_t matched = 0, taken = 0;
    for (size_t i = 0; i < fx->te_n; i++) {
        const te_rec *r = &fx->te[i];
        if (r->last_updated < since || (types && !type_listed(types, r->type)))
            continue;
        if (matched >= pos && taken < limit) {
            json_array_append_new(data, te_record_json(r));
            taken++;
        }
        matched++;
    }
    size_t end = pos + taken;
    json_t *paging = json_object();
    char before_c[48], after_c[48];
    snprintf(before_c, sizeof before_c, "QVFI%zu==", pos);
    snprintf(after_c, sizeof after_c, "QVFI%zu==", end);
    if (!fx->te_next_only)
        json_object_set_new(paging, "cursors",
                            json_pack("{s:s,s:s}", "before", before_c, "after", after_c));
    if (end < matched) {
        char next[1024];
        int n = snprintf(next, sizeof next, "%s/%s/threat_updates/?access_token=%s&limit=%zu",
                         fx->base, fx->te_group, "REDACTED", limit);
        if (start)
            n += snprintf(next + n, sizeof next - (size_t)n, "&start_time=%s", start);
        snprintf(next + n, sizeof next - (size_t)n, "&after=QVFI%zu%%3D%%3D", end);
        json_object_set_new(paging, "next", json_string(next));
    }
    return reply_json(conn, 200, json_pack("{s:o,s:o}", "data", data, "paging", paging));
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static enum MHD_Result te_post(fake_exchange *fx, struct MHD_Connection *conn, const char *url,
                               const conn_ctx *c)
{
    char token[600], v[256];
    const char *body = c->body ? c->body : "";
    if (!fx_arg(body, "access_token", 1, token, sizeof token) || strcmp(token, fx->te_token) != 0)
        return te_error(conn, 400, "OAuthException", 190, "Invalid OAuth access token.");
    if (strcmp(url, "/threat_descriptors") == 0 || strcmp(url, "/threat_descriptors/") == 0) {
        static const char *const need[] = {"indicator",      "type",   "description",
                                           "share_level",    "status", "privacy_type",
                                           "privacy_members"};
        for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
            if (!fx_arg(body, need[i], 1, v, sizeof v))
                return te_error(conn, 400, "GraphMethodException", 100, "Missing field");
        char id[32];
        snprintf(id, sizeof id, "%" PRIu64, (uint64_t)9000000000000ULL + fx->next_upload_id++);
        return reply_json(conn, 200, json_pack("{s:b,s:s}", "success", 1, "id", id));
    }
    char id[128];
    snprintf(id, sizeof id, "%s", url + 1);
    size_t n = strlen(id);
    if (n && id[n - 1] == '/')
        id[n - 1] = '\0';
    if (!all_digits(id))
        return te_error(conn, 404, "GraphMethodException", 803, "Unknown path");
    if (!fx_arg(body, "reactions", 1, v, sizeof v))
        return te_error(conn, 400, "GraphMethodException", 100, "Missing reactions");
    return reply_json(conn, 200, json_pack("{s:b}", "success", 1));
}

static enum MHD_Result tcap_login(fake_exchange *fx, struct MHD_Connection *conn, const conn_ctx *c)
{
    char user[256], pass[256];
    const char *body = c->body ? c->body : "";
    fx->logins++;
    if (!fx_arg(body, "username", 1, user, sizeof user) ||
        !fx_arg(body, "password", 1, pass, sizeof pass) || strcmp(user, fx->tcap_user) != 0 ||
        strcmp(pass, fx->tcap_pass) != 0)
        return reply_json(conn, 400,
                          json_pack("{s:[s]}", "non_field_errors",
                                    "Unable to log in with provided credentials."));
    char token[64];
    snprintf(token, sizeof token, "tcap-token-%d", ++fx->tokens_issued);
    return reply_json(conn, 200,
                      json_pack("{s:{s:s},s:s}", "user", "username", user, "token", token));
}

static long long micro(double t) { return llround(t * 1e6); }

static enum MHD_Result tcap_list(fake_exchange *fx, struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    int tok = 0;
    if (auth && strncmp(auth, "Bearer tcap-token-", 18) == 0)
        tok = atoi(auth + 18);
    if (fx->refuse_tokens || tok <= 0 || tok > fx->tokens_issued || tok < fx->tokens_valid_from)
        return reply_json(conn, 401,
                          json_pack("{s:s}", "detail", "Given token not valid for any token type"));
    enum MHD_Result ret;
    if (fault_answer(fx, conn, &ret))
        return ret;
    const char *after = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
    long long after_us = -1, after_id = -1;
    if (after && *after) {
        char *end;
        double ts = strtod(after, &end);
        if (*end != ',')
            return reply_json(conn, 400, json_pack("{s:s}", "error", "bad checkpoint"));
        after_us = micro(ts);
        after_id = strtoll(end + 1, NULL, 10);
    }
    json_t *results = json_array();
    size_t taken = 0, left = 0;
    const tcap_rec *last = NULL;
    for (size_t i = 0; i < fx->tcap_n; i++) {
        const tcap_rec *r = &fx->tcap[i];
        long long us = micro(r->updated_on);
        if (us < after_us || (us == after_us && r->id <= after_id))
            continue;
        if (taken < fx->tcap_page) {
            json_t *j =
                json_pack("{s:s,s:s,s:s?,s:s?,s:b,s:f,s:f,s:I}", "hash_digest", r->hash_digest,
                          "algorithm", r->algorithm, "ideology", r->ideology, "file_type",
                          r->file_type, "deleted", r->deleted, "updated_on", r->updated_on,
                          "created_on", r->updated_on - 100.0, "id", (json_int_t)r->id);
            json_array_append_new(results, j);
            last = r;
            taken++;
        } else {
            left++;
        }
    }
    char cp[64], next[256];
    json_t *jcp = json_null(), *jnext = json_null();
    if (last) {
        snprintf(cp, sizeof cp, "%.6f,%lld", last->updated_on, last->id);
        jcp = json_string(cp);
    }
    if (left) {
        snprintf(next, sizeof next, "%s/api/hash-list/v2/all?limit=%zu&offset=%zu&order=asc",
                 fx->base, fx->tcap_page, taken);
        jnext = json_string(next);
    }
    return reply_json(conn, 200,
                      json_pack("{s:I,s:o,s:n,s:o,s:o}", "count", (json_int_t)fx->tcap_n, "next",
                                jnext, "previous", "checkpoint", jcp, "results", results));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **ctx)
{
    (void)version;
    fake_exchange *fx = cls;
    if (*ctx == NULL) {
        *ctx = calloc(1, sizeof(conn_ctx));
        return MHD_YES;
    }
    conn_ctx *c = *ctx;
    if (*size) {
        if (c->len + *size > FX_BODY_MAX) {
            c->too_large = 1;
        } else {
            char *grown = realloc(c->body, c->len + *size + 1);
            if (grown) {
                c->body = grown;
                memcpy(c->body + c->len, data, *size);
                c->len += *size;
                c->body[c->len] = '\0';
            }
        }
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&fx->mu);
    record(fx, conn, method, url, c);
    enum MHD_Result ret;
    size_t gl = strlen(fx->te_group);
    if (c->too_large) {
        ret = te_error(conn, 413, "GraphMethodException", 1, "Request too large");
    } else if (strcmp(method, "GET") == 0 && gl && strncmp(url + 1, fx->te_group, gl) == 0 &&
               url[0] == '/' &&
               (strcmp(url + 1 + gl, "/threat_updates/") == 0 ||
                strcmp(url + 1 + gl, "/threat_updates") == 0)) {
        ret = te_feed(fx, conn);
    } else if (strcmp(method, "POST") == 0 && strcmp(url, "/token-auth/tcap/") == 0) {
        ret = tcap_login(fx, conn, c);
    } else if (strcmp(method, "GET") == 0 && strcmp(url, "/api/hash-list/v2/all") == 0) {
        ret = tcap_list(fx, conn);
    } else if (strcmp(method, "POST") == 0) {
        ret = te_post(fx, conn, url, c);
    } else {
        ret = te_error(conn, 404, "GraphMethodException", 803, "Unknown path");
    }
    pthread_mutex_unlock(&fx->mu);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **ctx,
                    enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)conn, (void)code;
    conn_ctx *c = *ctx;
    if (c)
        free(c->body);
    free(c);
    *ctx = NULL;
}

fake_exchange *fx_start(void)
{
    fake_exchange *fx = calloc(1, sizeof *fx);
    if (!fx)
        return NULL;
    pthread_mutex_init(&fx->mu, NULL);
    fx->tokens_valid_from = 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fx->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                             on_request, fx, MHD_OPTION_SOCK_ADDR, &a, MHD_OPTION_NOTIFY_COMPLETED,
                             on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!fx->d) {
        free(fx);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(fx->d, MHD_DAEMON_INFO_BIND_PORT);
    fx->port = info ? info->port : 0;
    snprintf(fx->base, sizeof fx->base, "http://127.0.0.1:%u", fx->port);
    return fx;
}

void fx_stop(fake_exchange *fx)
{
    if (!fx)
        return;
    if (fx->d)
        MHD_stop_daemon(fx->d);
    te_free(fx);
    tcap_free(fx);
    free(fx->reqs);
    pthread_mutex_destroy(&fx->mu);
    free(fx);
}

const char *fx_base_url(const fake_exchange *fx) { return fx->base; }
