/* Ingest rate of the ThreatExchange client on a large feed, beside its floor.
 *
 * The ThreatExchange stand-in of the tests (tests/support/fake_exchange.c) serves a generated
 * /threat_updates feed of N records (default 1,000,000) in pages of P (default 1,000) on
 * 127.0.0.1, rendered before anything is timed. Then, one after the other on the same pages:
 *
 *   client   td__xclient_threatexchange.fetch from "" until the last page (HTTP, JSON, records
 *            checked and mapped, values copied into pages): what an exchange worker spends;
 *   peer     the same requests through the same HTTP client and jansson's json_loadb of each
 *            body, nothing else (the floor of any JSON client of this feed);
 *   parse    the bodies already in memory: td__te_parse_page against json_loadb alone (no
 *            network), one core.
 *
 * Each is run R times (default 3), the rounds interleaved, and the round of least CPU time is
 * printed: wall-clock and CPU seconds (the process's over HTTP, the stand-in's thread included;
 * the calling thread's in memory), records/s, MB/s of page bytes, and the client's time over
 * the peer's.
 *
 *   bench_exchange_ingest [-n RECORDS] [-p PAGE] [-r ROUNDS]
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "exchange/client.h"
#include "exchange/client_parse.h"
#include "support/bench.h"
#include "support/fake_exchange.h"

#define GROUP "303636684709969"
#define TOKEN "1234567890123|abcDEF_ghi-JKLmnopqrstu"

typedef struct pages {
    char **body;
    size_t *len, n, bytes;
} pages;

typedef struct result {
    double s;   /* wall-clock seconds */
    double cpu; /* CPU seconds: of the process over HTTP (the stand-in's thread included), of
                   the calling thread in memory */
    size_t items, skipped, bytes, pages;
} result;

static double cpu_process(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + (double)r.ru_stime.tv_sec +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static double cpu_thread(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void conn_init(td__xconn *x, const fake_exchange *fx, size_t page)
{
    memset(x, 0, sizeof *x);
    x->base_url = fx_base_url(fx);
    x->group = GROUP;
    x->credentials = json_pack("{s:s}", "token", TOKEN);
    x->http.allow_private = 1;
    x->http.max_bytes = 64u << 20;
    x->http.timeout_ms = 60000;
    x->max_items = page;
    x->page_size = page;
    x->now_ms = 1700000000000LL;
}

static int run_client(const fake_exchange *fx, size_t page, result *r)
{
    td__xconn x;
    conn_init(&x, fx, page);
    td__xpage p;
    memset(&p, 0, sizeof p);
    memset(r, 0, sizeof *r);
    char cp[TD__XCHECKPOINT_MAX + 1] = "";
    td_error err;
    double c0 = cpu_process(), t0 = bench_now();
    do {
        if (td__xclient_threatexchange.fetch(&x, cp, &p, &err) != TD_OK) {
            fprintf(stderr, "bench_exchange_ingest: fetch: %s\n", err.message);
            json_decref(x.credentials);
            return -1;
        }
        r->items += p.n;
        r->skipped += p.skipped;
        r->bytes += p.bytes;
        r->pages++;
        snprintf(cp, sizeof cp, "%s", p.checkpoint);
    } while (p.more);
    r->s = bench_now() - t0;
    r->cpu = cpu_process() - c0;
    td__xpage_clear(&p);
    json_decref(x.credentials);
    return 0;
}

/* The peer: the same URLs (the cursor read from each page), td__http_send, json_loadb. Keeps the
 * bodies when keep is not NULL. */
static int run_peer(const fake_exchange *fx, size_t page, result *r, pages *keep)
{
    memset(r, 0, sizeof *r);
    td__http_options o = {
        .allow_private = 1, .keep_body = 1, .max_bytes = 64u << 20, .timeout_ms = 60000};
    char cursor[256] = "";
    double c0 = cpu_process(), t0 = bench_now();
    for (;;) {
        char url[1024];
        snprintf(url, sizeof url,
                 "%s/%s/threat_updates/?access_token=1234567890123%%7CabcDEF_ghi-JKLmnopqrstu"
                 "&fields=id%%2Cindicator%%2Ctype%%2Ccreation_time%%2Clast_updated%%2Cshould_delete"
                 "%%2Ctags%%2Cstatus%%2Capplications_with_opinions&limit=%zu%s%s",
                 fx_base_url(fx), GROUP, page, cursor[0] ? "&after=" : "", cursor);
        td__http_request req = {"GET", url, NULL, NULL, 0};
        td__http_response resp;
        td_error err;
        if (td__http_send(&o, &req, &resp, &err) != TD__HTTP_OK || resp.status != 200) {
            fprintf(stderr, "bench_exchange_ingest: peer GET: %ld %s\n", resp.status, err.message);
            td__http_response_free(&resp);
            return -1;
        }
        json_error_t jerr;
        json_t *root = json_loadb((const char *)resp.body, resp.len, 0, &jerr);
        if (!root) {
            td__http_response_free(&resp);
            return -1;
        }
        r->items += json_array_size(json_object_get(root, "data"));
        r->bytes += resp.len;
        r->pages++;
        json_t *paging = json_object_get(root, "paging");
        const char *after =
            json_string_value(json_object_get(json_object_get(paging, "cursors"), "after"));
        int more = json_object_get(paging, "next") != NULL;
        /* "QVFI123==" escaped by hand: the only characters it has outside [A-Za-z0-9] are '='. */
        cursor[0] = '\0';
        for (size_t i = 0; more && after && after[i] && strlen(cursor) + 4 < sizeof cursor; i++) {
            size_t n = strlen(cursor);
            if (after[i] == '=')
                snprintf(cursor + n, sizeof cursor - n, "%%3D");
            else
                snprintf(cursor + n, sizeof cursor - n, "%c", after[i]);
        }
        json_decref(root);
        if (keep) {
            keep->body = realloc(keep->body, (keep->n + 1) * sizeof *keep->body);
            keep->len = realloc(keep->len, (keep->n + 1) * sizeof *keep->len);
            keep->body[keep->n] = (char *)resp.body;
            keep->len[keep->n] = resp.len;
            keep->bytes += resp.len;
            keep->n++;
            resp.body = NULL;
        }
        td__http_response_free(&resp);
        if (!more)
            break;
    }
    r->s = bench_now() - t0;
    r->cpu = cpu_process() - c0;
    return 0;
}

static int parse_client(const pages *pg, size_t page, result *r)
{
    td__xconn x;
    memset(&x, 0, sizeof x);
    x.max_items = page;
    x.now_ms = 1700000000000LL;
    memset(r, 0, sizeof *r);
    td__xpage p;
    memset(&p, 0, sizeof p);
    double c0 = cpu_thread(), t0 = bench_now();
    for (size_t i = 0; i < pg->n; i++) {
        char cp[TD__XCHECKPOINT_MAX + 1];
        memcpy(cp, p.checkpoint, sizeof cp);
        td__xpage_clear(&p);
        memcpy(p.checkpoint, cp, sizeof cp);
        td_error err;
        if (td__te_parse_page(pg->body[i], pg->len[i], &x, &p, &err) != TD_OK) {
            fprintf(stderr, "bench_exchange_ingest: parse: %s\n", err.message);
            return -1;
        }
        r->items += p.n;
        r->skipped += p.skipped;
        r->bytes += pg->len[i];
        r->pages++;
    }
    td__xpage_clear(&p);
    r->s = bench_now() - t0;
    r->cpu = cpu_thread() - c0;
    return 0;
}

static int parse_peer(const pages *pg, result *r)
{
    memset(r, 0, sizeof *r);
    double c0 = cpu_thread(), t0 = bench_now();
    for (size_t i = 0; i < pg->n; i++) {
        json_error_t jerr;
        json_t *root = json_loadb(pg->body[i], pg->len[i], 0, &jerr);
        if (!root)
            return -1;
        r->items += json_array_size(json_object_get(root, "data"));
        r->bytes += pg->len[i];
        r->pages++;
        json_decref(root);
    }
    r->s = bench_now() - t0;
    r->cpu = cpu_thread() - c0;
    return 0;
}

/* The best of the rounds by CPU time (less disturbed than wall time on a shared machine). */
static void keep_best(result *best, const result *r)
{
    if (best->s == 0 || r->cpu < best->cpu)
        *best = *r;
}

static void print(const char *name, const result *r, size_t records)
{
    printf("  %-34s wall %7.3f s %9.0f rec/s %6.1f MB/s | cpu %7.3f s %9.0f rec/s  (%zu pages, "
           "%zu items, %zu skipped)\n",
           name, r->s, (double)records / r->s, (double)r->bytes / r->s / 1e6, r->cpu,
           (double)records / r->cpu, r->pages, r->items, r->skipped);
}

int main(int argc, char **argv)
{
    size_t n = 1000000, page = 1000;
    int rounds = 3, c;
    while ((c = getopt(argc, argv, "n:p:r:")) != -1) {
        if (c == 'n')
            n = strtoull(optarg, NULL, 10);
        else if (c == 'p')
            page = strtoull(optarg, NULL, 10);
        else if (c == 'r')
            rounds = atoi(optarg);
        else {
            fprintf(stderr, "usage: %s [-n RECORDS] [-p PAGE] [-r ROUNDS]\n", argv[0]);
            return 2;
        }
    }
    if (n == 0 || page == 0 || rounds < 1)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_exchange *fx = fx_start();
    if (!fx)
        return 1;
    double t0 = bench_now();
    fx_te_generate(fx, GROUP, TOKEN, n, page);
    printf("ThreatExchange-shaped feed: %zu records in pages of %zu, rendered in %.2f s\n", n, page,
           bench_now() - t0);

    pages pg = {0};
    result client = {0}, peer = {0}, pclient = {0}, ppeer = {0}, r;
    for (int i = 0; i < rounds; i++) {
        if (run_client(fx, page, &r))
            return 1;
        keep_best(&client, &r);
        if (run_peer(fx, page, &r, i == 0 ? &pg : NULL))
            return 1;
        keep_best(&peer, &r);
    }
    for (int i = 0; i < rounds; i++) {
        if (parse_client(&pg, page, &r))
            return 1;
        keep_best(&pclient, &r);
        if (parse_peer(&pg, &r))
            return 1;
        keep_best(&ppeer, &r);
    }
    printf("over HTTP on 127.0.0.1 (best of %d):\n", rounds);
    print("client (fetch, parse, map, copy)", &client, n);
    print("peer (same GETs + json_loadb)", &peer, n);
    printf("  client / peer: wall %.2f, cpu %.2f\n", client.s / peer.s, client.cpu / peer.cpu);
    printf("in memory, one core (best of %d, %.1f MB of pages):\n", rounds, (double)pg.bytes / 1e6);
    print("td__te_parse_page", &pclient, n);
    print("json_loadb alone", &ppeer, n);
    printf("  td__te_parse_page / json_loadb: wall %.2f, cpu %.2f\n", pclient.s / ppeer.s,
           pclient.cpu / ppeer.cpu);
    for (size_t i = 0; i < pg.n; i++)
        td__free(pg.body[i]);
    free(pg.body);
    free(pg.len);
    fx_stop(fx);
    curl_global_cleanup();
    return 0;
}
