/* A client for the HTTP API tests: see api_client.h. */
#include "api_client.h"
#include "support.h"

#include "takedown/orders.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- clocks ---- */

double api_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t api_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void api_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the server process ---- */

void api_server_start(api_server *srv, const char *dir, const char *const *flags)
{
    const char *argv[48];
    int argc = 0;
    argv[argc++] = TD_CLI_PATH;
    argv[argc++] = "serve";
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--data";
    argv[argc++] = dir;
    for (int i = 0; flags && flags[i]; i++) {
        assert_true(argc < 47);
        argv[argc++] = flags[i];
    }
    argv[argc] = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(TD_CLI_PATH, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    srv->pid = pid;
    srv->out_fd = fds[0];
    srv->admin[0] = '\0';
    srv->hma[0] = '\0';
    /* The raw pipe byte by byte: a FILE buffer would hide lines from poll(). */
    char line[512];
    size_t n = 0;
    double deadline = api_now_s() + 30;
    while (api_now_s() < deadline) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        char c;
        if (read(fds[0], &c, 1) != 1)
            fail_msg("the server exited before listening");
        if (c != '\n') {
            if (n + 1 < sizeof line)
                line[n++] = c;
            continue;
        }
        line[n] = '\0';
        n = 0;
        const char *k = "takedown: admin key (shown once): ", *l = "takedown: listening on ";
        if (strncmp(line, k, strlen(k)) == 0)
            snprintf(srv->admin, sizeof srv->admin, "%.*s", (int)(sizeof srv->admin - 1),
                     line + strlen(k));
        const char *h = "takedown: HMA API listening on ";
        if (strncmp(line, h, strlen(h)) == 0)
            snprintf(srv->hma, sizeof srv->hma, "%.*s", (int)strcspn(line + strlen(h), " "),
                     line + strlen(h));
        if (strncmp(line, l, strlen(l)) == 0) {
            snprintf(srv->base, sizeof srv->base, "%.100s", line + strlen(l));
            return;
        }
    }
    fail_msg("the server did not print its address within 30 s");
}

void api_server_stop(api_server *srv)
{
    assert_int_equal(kill(srv->pid, SIGTERM), 0);
    int status = -1;
    double deadline = api_now_s() + 20;
    while (api_now_s() < deadline) {
        if (waitpid(srv->pid, &status, WNOHANG) == srv->pid)
            break;
        api_sleep_ms(20);
    }
    srv->pid = 0;
    close(srv->out_fd);
    srv->out_fd = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- HTTP ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    api_resp *r = ctx;
    size_t len = size * n;
    char *nb = realloc(r->body, r->len + len + 1);
    assert_non_null(nb);
    memcpy(nb + r->len, p, len);
    r->body = nb;
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

typedef struct chunked_src {
    const char *data;
    size_t len, pos;
} chunked_src;

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
    chunked_src *src = ctx;
    size_t len = size * n;
    if (len > src->len - src->pos)
        len = src->len - src->pos;
    if (len > 4096)
        len = 4096;
    memcpy(buf, src->data + src->pos, len);
    src->pos += len;
    return len;
}

long api_send(const api_server *srv, const api_request *rq, api_resp *out)
{
    char url[4096], auth[256], ct[160];
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    chunked_src src;
    assert_non_null(c);
    memset(out, 0, sizeof *out);
    snprintf(url, sizeof url, "%s%s", srv->base, rq->path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (rq->key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", rq->key);
        h = curl_slist_append(h, auth);
    }
    if (rq->extra)
        h = curl_slist_append(h, rq->extra);
    if (rq->ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", rq->ctype);
        h = curl_slist_append(h, ct);
    }
    if (rq->body) {
        size_t n = rq->len < 0 ? strlen(rq->body) : (size_t)rq->len;
        if (rq->chunked) {
            src = (chunked_src){rq->body, n, 0};
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &src);
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
            h = curl_slist_append(h, "Transfer-Encoding: chunked");
        } else {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
        }
    }
    /* Small bodies go at once; large ones wait for 100-continue, as real clients do, so that
     * an early 413 is read rather than lost in a reset while the body is still being sent. */
    if (!rq->body || rq->len < (1 << 20))
        h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        char *t = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &t);
        if (t)
            snprintf(out->ctype, sizeof out->ctype, "%s", t);
    } else {
        out->status = -(long)rc;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return out->status;
}

long api_http_ex(const api_server *srv, const char *method, const char *path, const char *key,
                 const char *ctype, const void *body, long len, int chunked, api_resp *out)
{
    api_request rq = {method, path, key, ctype, body, len, chunked, NULL};
    return api_send(srv, &rq, out);
}

long api_http(const api_server *srv, const char *method, const char *path, const char *key,
              const char *json, api_resp *out)
{
    return api_http_ex(srv, method, path, key, json ? "application/json" : NULL, json, -1, 0, out);
}

void api_resp_free(api_resp *r)
{
    free(r->body);
    r->body = NULL;
}

json_t *api_parse_or_fail(const char *method, const char *path, const api_resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, &e);
    if (!j)
        fail_msg("%s %s: not JSON: %s", method, path, r->body ? r->body : "");
    return j;
}

json_t *api_call_req(const api_server *srv, long expect, const api_request *rq)
{
    api_resp r;
    long st = api_send(srv, rq, &r);
    if (st != expect)
        fail_msg("%s %s: status %ld, expected %ld; body: %s", rq->method, rq->path, st, expect,
                 r.body ? r.body : "");
    json_t *j = r.len ? api_parse_or_fail(rq->method, rq->path, &r) : NULL;
    api_resp_free(&r);
    return j;
}

json_t *api_call_ex(const api_server *srv, long expect, const char *method, const char *path,
                    const char *key, const char *body, size_t len, const char *extra)
{
    api_request rq = {method, path,      key, body ? "application/json" : NULL,
                      body,   (long)len, 0,   extra};
    return api_call_req(srv, expect, &rq);
}

json_t *api_call(const api_server *srv, long expect, const char *method, const char *path,
                 const char *key, const char *json)
{
    return api_call_ex(srv, expect, method, path, key, json, json ? strlen(json) : 0, NULL);
}

int api_hma_path(const char *path)
{
    static const char *const prefixes[] = {"/c/", "/h/", "/m/", "/status"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

void api_expect_error_req(const api_server *srv, long expect, const char *code, const char *field,
                          const api_request *rq)
{
    json_t *j = api_call_req(srv, expect, rq);
    if (!j)
        fail_msg("%s %s: the error body is empty", rq->method, rq->path);
    if (api_hma_path(rq->path)) { /* HMA's shape: {"message": ...}, no code */
        if (!json_is_string(json_object_get(j, "message")) || json_object_size(j) != 1)
            fail_msg("%s %s: not HMA's error shape", rq->method, rq->path);
        json_decref(j);
        return;
    }
    json_t *err = json_object_get(j, "error");
    assert_true(json_is_object(err));
    assert_true(json_is_string(json_object_get(err, "message")));
    const char *got = json_string_value(json_object_get(err, "code"));
    if (code && (!got || strcmp(got, code) != 0))
        fail_msg("%s %s: error code %s, expected %s", rq->method, rq->path, got ? got : "(none)",
                 code);
    const char *f = json_string_value(json_object_get(err, "field"));
    if (field && (!f || strcmp(f, field) != 0))
        fail_msg("%s %s: error field %s, expected %s", rq->method, rq->path, f ? f : "(none)",
                 field);
    json_decref(j);
}

void api_expect_error_ex(const api_server *srv, long expect, const char *code, const char *field,
                         const char *method, const char *path, const char *key, const char *body,
                         size_t len, const char *extra)
{
    api_request rq = {method, path,      key, body ? "application/json" : NULL,
                      body,   (long)len, 0,   extra};
    api_expect_error_req(srv, expect, code, field, &rq);
}

void api_expect_error(const api_server *srv, long expect, const char *code, const char *method,
                      const char *path, const char *key, const char *json)
{
    api_expect_error_ex(srv, expect, code, NULL, method, path, key, json, json ? strlen(json) : 0,
                        NULL);
}

void api_expect_error_body(const api_server *srv, long expect, const char *code, const char *method,
                           const char *path, const char *key, const char *ctype, const void *body,
                           long len)
{
    api_request rq = {method, path, key, ctype, body, len, 0, NULL};
    api_expect_error_req(srv, expect, code, NULL, &rq);
}

/* ---- JSON members ---- */

const char *api_jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

json_int_t api_jint(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* ---- signed documents ---- */

/* The Takedown-Signature header line for body signed with sk. */
void api_sign_header(const unsigned char *sk, const char *body, size_t len, char *out, size_t cap)
{
    unsigned char sig[crypto_sign_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    crypto_sign_detached(sig, NULL, (const unsigned char *)body, len, sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "Takedown-Signature: ed25519=%s", b64);
}

/* A removal order of `authority` with one target (content id and URL, either may be NULL);
 * omit names a member left out. */
void api_order_doc(char *out, size_t cap, const char *authority, const char *reference,
                   const char *content_id, const char *url, const char *omit)
{
    char issued[32], target[512];
    td_order_time_format(api_wall_ms() - 60000, issued);
    if (content_id && url)
        snprintf(target, sizeof target, "{\"content_id\": \"%s\", \"url\": \"%s\"}", content_id,
                 url);
    else if (content_id)
        snprintf(target, sizeof target, "{\"content_id\": \"%s\"}", content_id);
    else
        snprintf(target, sizeof target, "{\"url\": \"%s\"}", url);
    size_t n = 0;
    struct {
        const char *name;
        char value[640];
    } m[12];
    int k = 0;
#define MEMBER(nm, ...)                                                                            \
    do {                                                                                           \
        m[k].name = nm;                                                                            \
        snprintf(m[k].value, sizeof m[k].value, __VA_ARGS__);                                      \
        k++;                                                                                       \
    } while (0)
    MEMBER("type", "\"removal_order\"");
    MEMBER("issuing_member_state", "\"DE\"");
    MEMBER("addressee", "\"Example Platform Ltd\"");
    MEMBER("reference", "\"%s\"", reference);
    MEMBER("issued_at", "\"%s\"", issued);
    MEMBER("content", "[%s]", target);
    MEMBER("reason", "{\"category\": \"a\", \"statement\": \"Incitement to commit a terrorist "
                     "offence\"}");
    MEMBER("do_not_inform", "false");
    MEMBER("cross_border", "false");
    MEMBER("issuing_authority", "{\"name\": \"%s\", \"contact\": \"ops@authority.example\"}",
           authority);
    MEMBER("follow_up_contact", "\"desk@authority.example\"");
    MEMBER("redress", "\"Verwaltungsgericht Wiesbaden\"");
#undef MEMBER
    n += (size_t)snprintf(out + n, cap - n, "{");
    int first = 1;
    for (int i = 0; i < k; i++) {
        if (omit && strcmp(omit, m[i].name) == 0)
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%s\"%s\": %s", first ? "" : ", ", m[i].name,
                              m[i].value);
        first = 0;
    }
    snprintf(out + n, cap - n, "}");
}

int api_group_init(char *dir, size_t cap, const char *name)
{
    char cmd[8400];
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    snprintf(dir, cap, "%s", temp_path(name));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

long long api_register_authority(const api_server *srv, const char *admin, const char *name,
                                 const char *announced_at, long long key_id, unsigned char *pk,
                                 unsigned char *sk)
{
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], announced[96] = "", body[1024], path[96];
    crypto_sign_keypair(pk, sk);
    sodium_bin2hex(hex, sizeof hex, pk, crypto_sign_PUBLICKEYBYTES);
    if (announced_at)
        snprintf(announced, sizeof announced, ", \"announced_at\": \"%s\"", announced_at);
    snprintf(body, sizeof body,
             "{\"name\": \"%s\", \"kind\": \"competent\", \"member_state\": \"DE\", "
             "\"contact\": \"ops@authority.example\", \"public_key\": \"%s\"%s}",
             name, hex, announced);
    json_t *j = api_call(srv, 201, "POST", "/v1/authorities", admin, body);
    long long id = (long long)api_jint(j, "id");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/authorities/%lld/keys", id);
    snprintf(body, sizeof body, "{\"key_id\": %lld}", key_id);
    json_decref(api_call(srv, 201, "POST", path, admin, body));
    return id;
}
