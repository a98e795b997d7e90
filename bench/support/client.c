/* The benchmarks' HTTP client (client.h). */
#include "support/client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    bench_client *c = ctx;
    size_t len = size * n;
    if (c->len + len + 1 > c->cap)
        return 0; /* the transfer fails: no answer a benchmark reads is that large */
    memcpy(c->resp + c->len, data, len);
    c->len += len;
    c->resp[c->len] = '\0';
    return len;
}

void bench_client_init(bench_client *c, const char *name, const char *base_url, size_t cap)
{
    c->curl = curl_easy_init();
    c->base_url = base_url;
    c->name = name;
    c->resp = malloc(cap);
    c->len = 0;
    c->cap = cap;
    if (!c->curl || !c->resp) {
        fprintf(stderr, "%s: cannot set up the HTTP client\n", name);
        exit(1);
    }
    c->resp[0] = '\0';
}

void bench_client_free(bench_client *c)
{
    curl_easy_cleanup(c->curl);
    free(c->resp);
    c->curl = NULL;
    c->resp = NULL;
}

long bench_client_call(bench_client *c, const char *method, const char *path, const char *key,
                       const char *body, size_t len, const char *extra_header)
{
    char url[512], auth[200];
    struct curl_slist *h = NULL;
    snprintf(url, sizeof url, "%s%s", c->base_url, path);
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    if (body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (extra_header)
        h = curl_slist_append(h, extra_header);
    h = curl_slist_append(h, "Expect:");
    CURL *e = c->curl;
    c->len = 0;
    c->resp[0] = '\0';
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    long status = 0;
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return status;
}

json_t *bench_client_must(bench_client *c, long expect, const char *method, const char *path,
                          const char *key, const char *body)
{
    long st = bench_client_call(c, method, path, key, body, body ? strlen(body) : 0, NULL);
    json_t *j = json_loads(c->resp, 0, NULL);
    if (st != expect || !j) {
        fprintf(stderr, "%s: %s %s: %ld (expected %ld): %.300s\n", c->name, method, path, st,
                expect, c->resp);
        exit(1);
    }
    return j;
}
