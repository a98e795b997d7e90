/* A 1M-record ThreatExchange feed ingested into a bank, end to end, beside the store's fastest
 * way in.
 *
 * The tests' ThreatExchange stand-in (tests/support/fake_exchange.c) serves a generated
 * /threat_updates feed of N records (default 1,000,000) in pages of P (default 1,000) on
 * 127.0.0.1. Then, each on a fresh data directory (SQLite, the default store):
 *
 *   exchange  td_exchange_run_now of a threatexchange exchange from "" to the last page: HTTP,
 *             parse, map, then each page applied to the bank with its checkpoint and audit entry
 *             in one transaction, the indexes following: what a worker does for a new exchange;
 *   peer      td_import_buffer of the same records' additions as one list file ("<type> <value>"
 *             lines): the bulk import, the fastest path into a bank, with no network, no paging,
 *             no retractions and one transaction.
 *
 * Prints wall-clock seconds, records/s, and the exchange's time over the peer's. The issue's
 * goal: >= 100,000 records/s for the exchange.
 *
 *   bench_exchange_apply [-n RECORDS] [-p PAGE]
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "support/bench.h"
#include "support/fake_exchange.h"
#include "takedown/exchange.h"

#define GROUP "303636684709969"
#define TOKEN "1234567890123|abcDEF_ghi-JKLmnopqrstu"

/* CPU seconds of the process (every thread: the stand-in's, the fetch thread's, the store's). */
static double cpu_now(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + (double)r.ru_stime.tv_sec +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static td_service *open_fresh(const char *tag)
{
    char tmpl[256];
    const char *base = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/bench-xapply-%s-XXXXXX", base ? base : "/tmp", tag);
    char *dir = mkdtemp(tmpl);
    td_service_options o;
    td_service *svc = NULL;
    td_error err;
    td_service_options_default(&o);
    o.webhook_worker = 0;
    if (!dir || td_service_open(dir, &o, &svc, &err) != TD_OK) {
        fprintf(stderr, "open: %s\n", dir ? err.message : "mkdtemp");
        return NULL;
    }
    td_bank b;
    td_bank_init(&b);
    snprintf(b.name, sizeof b.name, "GIFCT");
    if (td_bank_create(svc, &b, NULL, &err) != TD_OK) {
        fprintf(stderr, "bank: %s\n", err.message);
        td_service_close(svc);
        return NULL;
    }
    return svc;
}

static int run_exchange(fake_exchange *fx, double *s, double *cpu, td_exchange_run *run)
{
    td_service *svc = open_fresh("exchange");
    td_exchanges *ex = NULL;
    td_exchanges_options o;
    td_error err;
    if (!svc)
        return 1;
    td_exchanges_options_default(&o);
    o.worker = 0;
    o.allow_private = 1;
    if (td_exchanges_open(svc, &o, &ex, &err) != TD_OK) {
        fprintf(stderr, "exchanges: %s\n", err.message);
        return 1;
    }
    td_exchange e, out;
    td_exchange_init(&e);
    snprintf(e.name, sizeof e.name, "gifct");
    e.type = TD_EXCHANGE_THREATEXCHANGE;
    snprintf(e.url, sizeof e.url, "%s", fx_base_url(fx));
    snprintf(e.group, sizeof e.group, GROUP);
    snprintf(e.bank, sizeof e.bank, "GIFCT");
    if (td_exchange_create_as(ex, NULL, &e, "{\"token\": \"" TOKEN "\"}", NULL, &out, &err)) {
        fprintf(stderr, "create: %s\n", err.message);
        return 1;
    }
    double t0 = bench_now(), c0 = cpu_now();
    td_status st = td_exchange_run_now(ex, out.id, 0, run, &err);
    *s = bench_now() - t0;
    *cpu = cpu_now() - c0;
    if (st != TD_OK || run->failed || !run->done) {
        td_exchange_get(ex, out.id, &e, NULL) == TD_OK ? fprintf(stderr, "pull: %s\n", e.last_error)
                                                       : fprintf(stderr, "pull: %s\n", err.message);
        return 1;
    }
    td_exchanges_close(ex);
    td_service_close(svc);
    return 0;
}

/* The records' additions as a list file, in the order the feed gives them (a later deletion of
 * the same value is not subtracted: the peer does strictly less work). */
static char *list_of(size_t n, size_t *len, size_t *lines)
{
    size_t cap = n * 80 + 1, o = 0;
    char *buf = malloc(cap);
    *lines = 0;
    for (size_t i = 0; buf && i < n; i++) {
        fx_te_record r;
        char id[24], ind[72];
        fx_te_generated(i, &r, id, ind);
        const char *t = strcmp(r.type, "HASH_PDQ") == 0 ? "pdq"
                        : strcmp(r.type, "HASH_MD5") == 0 || !strcmp(r.type, "HASH_VIDEO_MD5")
                            ? "md5"
                        : strcmp(r.type, "HASH_SHA256") == 0 ? "sha256"
                                                             : NULL;
        if (!t || r.should_delete || strcmp(r.status, "MALICIOUS") != 0)
            continue;
        o += (size_t)snprintf(buf + o, cap - o, "%s %s\n", t, r.indicator);
        (*lines)++;
    }
    *len = o;
    return buf;
}

static int run_peer(size_t n, double *s, double *cpu, size_t *lines, uint64_t *added)
{
    size_t len;
    char *list = list_of(n, &len, lines);
    td_service *svc = open_fresh("peer");
    td_import_options io;
    td_import_result res;
    td_error err;
    if (!list || !svc)
        return 1;
    td_import_options_init(&io);
    io.max_lines = n + 1;
    memset(&res, 0, sizeof res);
    double t0 = bench_now(), c0 = cpu_now();
    td_status st = td_import_buffer(svc, "GIFCT", list, len, &io, &res, &err);
    *s = bench_now() - t0;
    *cpu = cpu_now() - c0;
    *added = res.added;
    td_import_result_clear(&res);
    free(list);
    td_service_close(svc);
    if (st != TD_OK) {
        fprintf(stderr, "import: %s\n", err.message);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 1000000, page = 1000;
    int c;
    while ((c = getopt(argc, argv, "n:p:")) != -1) {
        if (c == 'n')
            n = strtoull(optarg, NULL, 10);
        else if (c == 'p')
            page = strtoull(optarg, NULL, 10);
        else {
            fprintf(stderr, "usage: %s [-n RECORDS] [-p PAGE]\n", argv[0]);
            return 2;
        }
    }
    if (n == 0 || page == 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_exchange *fx = fx_start();
    if (!fx)
        return 1;
    fx_te_generate(fx, GROUP, TOKEN, n, page);
    double xs = 0, ps = 0, xc = 0, pc = 0;
    td_exchange_run run;
    size_t lines = 0;
    uint64_t added = 0;
    if (run_exchange(fx, &xs, &xc, &run) || run_peer(n, &ps, &pc, &lines, &added))
        return 1;
    printf("ThreatExchange-shaped feed of %zu records in pages of %zu, into a fresh SQLite bank:\n",
           n, page);
    printf(
        "  exchange pull (HTTP, parse, apply)  %7.2f s %9.0f records/s  (%llu pages, %llu added, "
        "%llu removed, %llu negative, %llu skipped)\n",
        xs, (double)n / xs, (unsigned long long)run.pages, (unsigned long long)run.added,
        (unsigned long long)run.removed, (unsigned long long)run.negative,
        (unsigned long long)run.skipped);
    printf(
        "  peer: bulk import of the additions  %7.2f s %9.0f lines/s    (%zu lines, %llu added)\n",
        ps, (double)lines / ps, lines, (unsigned long long)added);
    printf("  CPU (every thread): exchange %.2f s (%.0f records per CPU second), peer %.2f s\n", xc,
           (double)n / xc, pc);
    printf("  exchange / peer time: %.2f\n", xs / ps);
    fx_stop(fx);
    curl_global_cleanup();
    return 0;
}
